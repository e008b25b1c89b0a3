/*
 * src/oracle/parse.c - one trace line (spec/trace-format.md) into an orc_line, strictly:
 * fields in the documented order, one space between fields, every number parsed with an
 * overflow check. The line is printable ASCII already (core.c checks the bytes).
 */
#include "oracle_int.h"

#include <stdio.h>
#include <string.h>

/* In enum orc_name order. */
#define ORC_NAMES(X)                                                                      \
    X(connection_made) X(connection_lost) X(data_received) X(eof_received) X(get_buffer)   \
    X(buffer_updated) X(pause_writing) X(resume_writing) X(datagram_received)             \
    X(error_received) X(pipe_data_received) X(pipe_connection_lost) X(process_exited)     \
    X(write_done) X(write) X(writelines) X(close) X(abort) X(pause_reading)               \
    X(resume_reading) X(write_eof) X(set_write_buffer_limits) X(set_protocol) X(sendto)   \
    X(send_signal) X(terminate) X(kill) X(write_borrowed)

#define NAME_STR(n) #n,
#define NAME_LEN(n) sizeof(#n) - 1,
const char *const aiotp__orc_names[N_COUNT] = {ORC_NAMES(NAME_STR)};
static const unsigned char NAME_LENGTH[N_COUNT] = {ORC_NAMES(NAME_LEN)};

const char *const aiotp__orc_queries[Q_COUNT] = {
    "is_closing", "is_reading", "can_write_eof", "get_write_buffer_size",
    "get_write_buffer_limits"};
#define QLEN(s) (sizeof(s) - 1)
static const unsigned char QUERY_LENGTH[Q_COUNT] = {
    QLEN("is_closing"), QLEN("is_reading"), QLEN("can_write_eof"),
    QLEN("get_write_buffer_size"), QLEN("get_write_buffer_limits")};

typedef struct tok {
    const char *p;
    size_t n;
} tok;

typedef struct perr {
    char *msg;
    size_t cap;
} perr;

static bool fail(perr *e, const char *fmt, ...) ORC_PRINTF(2, 3);

static bool fail(perr *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(e->msg, e->cap, fmt, ap);
    va_end(ap);
    return false;
}

/* a[0..n) == b[0..n). A loop rather than memcmp: the fields are a few bytes, and under
   the sanitizers a call to memcmp costs more than the comparison (fuzz/README.md,
   "Throughput"). */
static inline bool bytes_eq(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    return true;
}

static bool tok_eq(const tok *t, const char *s, size_t n)
{
    return t->n == n && bytes_eq(t->p, s, n);
}

/* t is the string literal s (a literal only: "" s "" does not compile otherwise) */
#define tok_is(t, s) tok_eq((t), "" s "", sizeof(s) - 1)

static bool parse_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (n == 0 || n > 20) {
        return false;
    }
    for (i = 0; i < n; i++) {
        unsigned d;
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_i64(const char *p, size_t n, int64_t *out)
{
    uint64_t v;
    bool neg = false;
    if (n > 0 && p[0] == '-') {
        neg = true;
        p++;
        n--;
    }
    if (!parse_u64(p, n, &v)) {
        return false;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1u) {
            return false;
        }
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) {
            return false;
        }
        *out = (int64_t)v;
    }
    return true;
}

static bool parse_hex8(const char *p, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    size_t i;
    if (n != 8) {
        return false;
    }
    for (i = 0; i < n; i++) {
        char c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9') {
            d = (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (uint32_t)(c - 'a' + 10);
        } else {
            return false;
        }
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

/* "tN": the id (at most 32 bits). */
static bool parse_tid(const tok *t, unsigned long *out)
{
    uint64_t v;
    if (t->n < 2 || t->p[0] != 't' || !parse_u64(t->p + 1, t->n - 1, &v) || v > 0xffffffffu) {
        return false;
    }
    *out = (unsigned long)v;
    return true;
}

/* "key=VALUE": the value part, or false when the key (of length k) does not match. */
static bool kv_n(const tok *t, const char *key, size_t k, tok *v)
{
    if (t->n <= k || !bytes_eq(t->p, key, k) || t->p[k] != '=') {
        return false;
    }
    v->p = t->p + k + 1;
    v->n = t->n - k - 1;
    return true;
}

#define kv(t, key, v) kv_n((t), "" key "", sizeof(key) - 1, (v))

static bool kv_u64_n(const tok *t, const char *key, size_t k, uint64_t *out, perr *e)
{
    tok v;
    if (!kv_n(t, key, k, &v)) {
        return fail(e, "expected field %s=", key);
    }
    if (!parse_u64(v.p, v.n, out)) {
        return fail(e, "bad number in field %s= (unsigned decimal expected)", key);
    }
    return true;
}

#define kv_u64(t, key, out, e) kv_u64_n((t), "" key "", sizeof(key) - 1, (out), (e))
#define kv_i64_none(t, key, out, none, e)                                                 \
    kv_i64_none_n((t), "" key "", sizeof(key) - 1, (out), (none), (e))

static bool kv_sum(const tok *t, uint32_t *out, perr *e)
{
    tok v;
    if (!kv(t, "sum", &v)) {
        return fail(e, "expected field sum=");
    }
    if (!parse_hex8(v.p, v.n, out)) {
        return fail(e, "bad sum= (8 lowercase hex digits expected)");
    }
    return true;
}

static bool kv_i64_none_n(const tok *t, const char *key, size_t k, int64_t *out, bool *none,
                           perr *e)
{
    tok v;
    if (!kv_n(t, key, k, &v)) {
        return fail(e, "expected field %s=", key);
    }
    *none = false;
    *out = 0;
    if (tok_is(&v, "NONE")) {
        *none = true;
        return true;
    }
    if (!parse_i64(v.p, v.n, out)) {
        return fail(e, "bad number in field %s= (decimal or NONE expected)", key);
    }
    return true;
}

/* addr=A: "-" (none), or an address: IP:PORT, [IP6]:PORT, unix:PATH (one token with a
   ':'); kept as a hash, compared for equality only. */
static bool kv_addr(const tok *t, orc_line *pl, perr *e)
{
    tok v;
    if (!kv(t, "addr", &v)) {
        return fail(e, "expected field addr=");
    }
    if (tok_is(&v, "-")) {
        pl->addr_none = true;
        pl->addr_hash = 0;
        return true;
    }
    if (memchr(v.p, ':', v.n) == NULL) {
        return fail(e, "bad addr= (IP:PORT, [IP6]:PORT, unix:PATH or - expected)");
    }
    pl->addr_hash = aiotp__orc_fnv(v.p, v.n);
    return true;
}

static bool parse_status(const tok *t, char *out, bool allow_one, perr *e)
{
    size_t i;
    if (tok_is(t, "0") || (allow_one && tok_is(t, "1"))) {
        out[0] = t->p[0];
        out[1] = '\0';
        return true;
    }
    if (t->n < 2 || t->n >= ORC_STATUS_MAX || t->p[0] != 'E') {
        return fail(e, "bad status (0 or an error name such as ECLOSED expected)");
    }
    for (i = 1; i < t->n; i++) {
        char c = t->p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '?')) {
            return fail(e, "bad status (0 or an error name such as ECLOSED expected)");
        }
    }
    memcpy(out, t->p, t->n);
    out[t->n] = '\0';
    return true;
}

static bool kv_status(const tok *t, char *out, perr *e)
{
    tok v;
    if (!kv(t, "status", &v)) {
        return fail(e, "expected field status=");
    }
    return parse_status(&v, out, false, e);
}

static int find_name(const tok *t)
{
    int i;
    for (i = 0; i < N_COUNT; i++) {
        if (t->n == NAME_LENGTH[i] && t->p[0] == aiotp__orc_names[i][0] &&
            bytes_eq(t->p, aiotp__orc_names[i], t->n)) {
            return i;
        }
    }
    return -1;
}

static bool want_tokens(size_t have, size_t want, perr *e)
{
    if (have < want) {
        return fail(e, "missing fields (%zu expected, %zu found)", want, have);
    }
    if (have > want) {
        return fail(e, "unexpected extra fields (%zu expected, %zu found)", want, have);
    }
    return true;
}

/* Format 3 only: datagram names, queries, exception reports. */
static bool need_v3(unsigned version, const char *what, perr *e)
{
    if (version < 3) {
        return fail(e, "%s need format version 3 (the header says %u)", what, version);
    }
    return true;
}

/* fd=F: 0, 1 or 2 */
static bool kv_fd(const tok *t, orc_line *pl, perr *e)
{
    uint64_t v;
    if (!kv_u64(t, "fd", &v, e)) {
        return false;
    }
    if (v > 2) {
        return fail(e, "bad fd= (0, 1 or 2 expected)");
    }
    pl->fd = (int)v;
    return true;
}

static bool parse_cb(orc_line *pl, const tok *tk, size_t nt, unsigned version, perr *e)
{
    tok v;
    switch (pl->name) {
    case N_CONNECTION_MADE:
    case N_EOF_RECEIVED:
        return want_tokens(nt, 3, e);
    case N_CONNECTION_LOST:
        return want_tokens(nt, 4, e) && kv_status(&tk[3], pl->status, e);
    case N_DATA_RECEIVED:
    case N_BUFFER_UPDATED:
        return want_tokens(nt, 6, e) && kv_u64(&tk[3], "n", &pl->n, e) &&
               kv_u64(&tk[4], "total", &pl->total, e) && kv_sum(&tk[5], &pl->sum, e);
    case N_GET_BUFFER:
        if (!want_tokens(nt, 4, e)) {
            return false;
        }
        if (!kv(&tk[3], "sizehint", &v)) {
            return fail(e, "expected field sizehint=");
        }
        if (!parse_i64(v.p, v.n, &pl->sizehint)) {
            return fail(e, "bad number in field sizehint=");
        }
        return true;
    case N_PAUSE_WRITING:
        return want_tokens(nt, 5, e) && kv_u64(&tk[3], "size", &pl->size, e) &&
               kv_u64(&tk[4], "high", &pl->high, e);
    case N_RESUME_WRITING:
        return want_tokens(nt, 5, e) && kv_u64(&tk[3], "size", &pl->size, e) &&
               kv_u64(&tk[4], "low", &pl->low, e);
    case N_DATAGRAM_RECEIVED:
        return need_v3(version, "datagram lines", e) && want_tokens(nt, 6, e) &&
               kv_u64(&tk[3], "n", &pl->n, e) && kv_addr(&tk[4], pl, e) &&
               kv_sum(&tk[5], &pl->sum, e);
    case N_ERROR_RECEIVED:
        return need_v3(version, "datagram lines", e) && want_tokens(nt, 4, e) &&
               kv_status(&tk[3], pl->status, e);
    case N_PIPE_DATA_RECEIVED:
        /* fd=F n=B [total=T] sum=X (the recorder's short form has no total) */
        if (!need_v3(version, "subprocess lines", e)) {
            return false;
        }
        if (nt == 6) {
            return kv_fd(&tk[3], pl, e) && kv_u64(&tk[4], "n", &pl->n, e) &&
                   kv_sum(&tk[5], &pl->sum, e);
        }
        pl->has_total = true;
        return want_tokens(nt, 7, e) && kv_fd(&tk[3], pl, e) && kv_u64(&tk[4], "n", &pl->n, e) &&
               kv_u64(&tk[5], "total", &pl->total, e) && kv_sum(&tk[6], &pl->sum, e);
    case N_PIPE_CONNECTION_LOST:
        return need_v3(version, "subprocess lines", e) && want_tokens(nt, 5, e) &&
               kv_fd(&tk[3], pl, e) && kv_status(&tk[4], pl->status, e);
    case N_PROCESS_EXITED:
        if (!need_v3(version, "subprocess lines", e)) {
            return false;
        }
        if (nt == 3) {
            return true;
        }
        if (!want_tokens(nt, 4, e)) {
            return false;
        }
        if (!kv(&tk[3], "returncode", &v) || !parse_i64(v.p, v.n, &pl->rc)) {
            return fail(e, "bad returncode= (a decimal number expected)");
        }
        pl->has_rc = true;
        return true;
    case N_WRITE_DONE:
        return want_tokens(nt, 4, e) && kv_status(&tk[3], pl->status, e);
    default:
        return fail(e, "'%s' is a transport method, not a callback (use 'call')",
                    aiotp__orc_names[pl->name]);
    }
}

static bool parse_call(orc_line *pl, const tok *tk, size_t nt, unsigned version, perr *e)
{
    tok v;
    switch (pl->name) {
    case N_WRITE:
    case N_WRITE_BORROWED:
        return want_tokens(nt, 4, e) && kv_u64(&tk[3], "n", &pl->n, e);
    case N_WRITELINES:
        return want_tokens(nt, 5, e) && kv_u64(&tk[3], "count", &pl->count, e) &&
               kv_u64(&tk[4], "n", &pl->n, e);
    case N_CLOSE:
    case N_ABORT:
    case N_PAUSE_READING:
    case N_RESUME_READING:
    case N_WRITE_EOF:
        return want_tokens(nt, 3, e);
    case N_SET_LIMITS:
        return want_tokens(nt, 5, e) && kv_i64_none(&tk[3], "high", &pl->h, &pl->h_none, e) &&
               kv_i64_none(&tk[4], "low", &pl->l, &pl->l_none, e);
    case N_SET_PROTOCOL:
        if (!want_tokens(nt, 4, e)) {
            return false;
        }
        if (!kv(&tk[3], "kind", &v)) {
            return fail(e, "expected field kind=");
        }
        if (tok_is(&v, "streaming")) {
            pl->pkind = PK_STREAMING;
        } else if (tok_is(&v, "buffered")) {
            pl->pkind = PK_BUFFERED;
        } else if (version >= 3 && tok_is(&v, "datagram")) {
            pl->pkind = PK_DATAGRAM;
        } else if (version >= 3 && tok_is(&v, "subprocess")) {
            pl->pkind = PK_SUBPROCESS;
        } else {
            return fail(e, "bad kind= (streaming, buffered%s expected)",
                        version >= 3 ? ", datagram or subprocess" : "");
        }
        return true;
    case N_SENDTO:
        return need_v3(version, "datagram lines", e) && want_tokens(nt, 6, e) &&
               kv_u64(&tk[3], "n", &pl->n, e) && kv_addr(&tk[4], pl, e) &&
               kv_sum(&tk[5], &pl->sum, e);
    case N_SEND_SIGNAL:
        return need_v3(version, "subprocess lines", e) && want_tokens(nt, 4, e) &&
               kv_u64(&tk[3], "sig", &pl->sig, e);
    case N_TERMINATE:
    case N_KILL:
        return need_v3(version, "subprocess lines", e) && want_tokens(nt, 3, e);
    default:
        return fail(e, "'%s' is a protocol callback, not a transport method (use 'cb')",
                    aiotp__orc_names[pl->name]);
    }
}

static bool parse_ret(orc_line *pl, const tok *tk, size_t nt, unsigned version, perr *e)
{
    if (nt < 4) {
        return fail(e, "missing fields (a ret needs a status)");
    }
    if (!parse_status(&tk[3], pl->status, pl->name == N_EOF_RECEIVED, e)) {
        return false;
    }
    switch (pl->name) {
    case N_CONNECTION_MADE:
    case N_CONNECTION_LOST:
    case N_DATA_RECEIVED:
    case N_BUFFER_UPDATED:
    case N_PAUSE_WRITING:
    case N_RESUME_WRITING:
    case N_EOF_RECEIVED:
    case N_WRITE_DONE:
        return want_tokens(nt, 4, e);
    case N_DATAGRAM_RECEIVED:
    case N_ERROR_RECEIVED:
        return need_v3(version, "datagram lines", e) && want_tokens(nt, 4, e);
    case N_PIPE_DATA_RECEIVED:
    case N_PIPE_CONNECTION_LOST:
    case N_PROCESS_EXITED:
        return need_v3(version, "subprocess lines", e) && want_tokens(nt, 4, e);
    case N_SEND_SIGNAL:
    case N_TERMINATE:
    case N_KILL:
        return need_v3(version, "subprocess lines", e) && want_tokens(nt, 5, e) &&
               kv_u64(&tk[4], "size", &pl->size, e);
    case N_GET_BUFFER:
        if (aiotp__orc_is_status(pl->status, "0")) {
            return want_tokens(nt, 5, e) && kv_u64(&tk[4], "len", &pl->len, e);
        }
        return want_tokens(nt, 4, e);
    case N_WRITE:
    case N_WRITELINES:
    case N_WRITE_BORROWED:
        if (nt == 5 && version >= 3 && !aiotp__orc_is_status(pl->status, "0")) {
            /* format 3: a refused call of a method the kind lacks (ENOTSUP) */
            return kv_u64(&tk[4], "size", &pl->size, e);
        }
        pl->has_total = true;
        return want_tokens(nt, 7, e) && kv_u64(&tk[4], "size", &pl->size, e) &&
               kv_u64(&tk[5], "total", &pl->total, e) && kv_sum(&tk[6], &pl->sum, e);
    case N_SET_LIMITS:
        return want_tokens(nt, 7, e) && kv_u64(&tk[4], "size", &pl->size, e) &&
               kv_u64(&tk[5], "low", &pl->low, e) && kv_u64(&tk[6], "high", &pl->high, e);
    case N_SENDTO:
        return need_v3(version, "datagram lines", e) && want_tokens(nt, 5, e) &&
               kv_u64(&tk[4], "size", &pl->size, e);
    default: /* close, abort, pause_reading, resume_reading, write_eof, set_protocol */
        return want_tokens(nt, 5, e) && kv_u64(&tk[4], "size", &pl->size, e);
    }
}

static bool parse_query(orc_line *pl, const tok *tk, size_t nt, perr *e)
{
    int q;
    if (nt < 3) {
        return fail(e, "missing query name");
    }
    for (q = 0; q < Q_COUNT; q++) {
        if (tok_eq(&tk[2], aiotp__orc_queries[q], QUERY_LENGTH[q])) {
            break;
        }
    }
    if (q == Q_COUNT) {
        return fail(e, "unknown query (is_closing, is_reading, can_write_eof, "
                       "get_write_buffer_size or get_write_buffer_limits expected)");
    }
    pl->query = q;
    if (q == Q_LIMITS) {
        return want_tokens(nt, 5, e) && kv_u64(&tk[3], "low", &pl->low, e) &&
               kv_u64(&tk[4], "high", &pl->high, e);
    }
    if (!want_tokens(nt, 4, e)) {
        return false;
    }
    if (!parse_u64(tk[3].p, tk[3].n, &pl->value)) {
        return fail(e, "bad query value (unsigned decimal expected)");
    }
    if (q != Q_SIZE && pl->value > 1) {
        return fail(e, "bad query value (0 or 1 expected)");
    }
    return true;
}

/* "status=ST" then the end of the line or one space and a non-empty message. */
static bool parse_exc(orc_line *pl, const char *s, size_t len, perr *e)
{
    const char *sp = memchr(s, ' ', len);
    tok t;
    t.p = s;
    t.n = sp != NULL ? (size_t)(sp - s) : len;
    if (t.n == 0) {
        return fail(e, "empty field (leading, trailing or double space)");
    }
    if (!kv_status(&t, pl->status, e)) {
        return false;
    }
    if (sp != NULL && (size_t)(sp - s) + 1 == len) {
        return fail(e, "empty field (leading, trailing or double space)");
    }
    return true;
}

/* Split on single spaces; false on empty tokens or too many. */
static bool split(const char *s, size_t len, tok *tk, size_t *nt, perr *e)
{
    size_t i = 0;
    size_t n = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != ' ') {
            j++;
        }
        if (j == i) {
            return fail(e, "empty field (leading, trailing or double space)");
        }
        if (n == ORC_MAX_TOK) {
            return fail(e, "too many fields");
        }
        tk[n].p = s + i;
        tk[n].n = j - i;
        n++;
        i = j + 1;
    }
    *nt = n;
    return true;
}

static bool parse_header(orc_line *pl, const tok *tk, size_t nt, perr *e)
{
    tok v;
    pl->kind = L_HEADER;
    if (nt == 2 && tok_is(&tk[1], "1")) {
        pl->version = 1;
        return true;
    }
    if (nt == 2 && tok_is(&tk[1], "2")) {
        pl->version = 2;
        return true;
    }
    if (nt >= 2 && tok_is(&tk[1], "3")) {
        pl->version = 3;
        if (nt != 3 || !kv(&tk[2], "impl", &v) || v.n == 0 || v.n >= ORC_IMPL_MAX) {
            return fail(e, "bad header (\"aiotp-trace 3 impl=NAME\" expected, NAME of 1 to "
                           "%u characters)", ORC_IMPL_MAX - 1);
        }
        memcpy(pl->impl, v.p, v.n);
        pl->impl[v.n] = '\0';
        return true;
    }
    if (nt >= 2 && (tok_is(&tk[1], "1") || tok_is(&tk[1], "2"))) {
        return fail(e, "bad header (\"aiotp-trace %.*s\" has no other field)", (int)tk[1].n,
                    tk[1].p);
    }
    if (nt < 2) {
        return fail(e, "bad header (\"aiotp-trace 3 impl=NAME\", \"aiotp-trace 2\" or "
                       "\"aiotp-trace 1\" expected)");
    }
    return fail(e, "unsupported trace format version (1, 2 or 3 expected)");
}

static bool parse_open(orc_line *pl, const tok *tk, size_t nt, unsigned version, perr *e)
{
    pl->kind = L_OPEN;
    if (!want_tokens(nt, 3, e)) {
        return false;
    }
    if (tok_is(&tk[2], "tcp") || tok_is(&tk[2], "tcp6") || tok_is(&tk[2], "unix")) {
        pl->tkind = TK_STREAM;
        return true;
    }
    if (tok_is(&tk[2], "udp") || tok_is(&tk[2], "udp6") || tok_is(&tk[2], "unixdgram")) {
        pl->tkind = TK_DGRAM;
        return need_v3(version, "datagram transports", e);
    }
    if (tok_is(&tk[2], "tls")) {
        pl->tkind = TK_TLS;
        return need_v3(version, "TLS transports", e);
    }
    if (tok_is(&tk[2], "piperead") || tok_is(&tk[2], "pipewrite")) {
        pl->tkind = tk[2].p[4] == 'r' ? TK_PIPE_READ : TK_PIPE_WRITE;
        return need_v3(version, "pipe transports", e);
    }
    if (tok_is(&tk[2], "subprocess")) {
        pl->tkind = TK_SUBPROC;
        return need_v3(version, "subprocess transports", e);
    }
    return fail(e, "bad transport kind (tcp, tcp6, unix, udp, udp6, unixdgram, tls, "
                   "piperead, pipewrite or subprocess expected)");
}

bool aiotp__orc_parse(const char *s, size_t len, unsigned version, orc_line *pl, char *err,
                      size_t errn)
{
    tok tk[ORC_MAX_TOK];
    size_t nt = 0;
    perr e;
    const char *sp;

    e.msg = err;
    e.cap = errn;
    memset(pl, 0, sizeof(*pl));

    /* exception reports: the message after the status is free text */
    sp = memchr(s, ' ', len);
    if (sp != NULL && len - (size_t)(sp - s) > 4 && bytes_eq(sp, " exc ", 5)) {
        tok t0;
        t0.p = s;
        t0.n = (size_t)(sp - s);
        if (!need_v3(version, "exception reports", &e)) {
            return false;
        }
        if (tok_is(&t0, "loop")) {
            pl->kind = L_LOOP_EXC;
        } else if (parse_tid(&t0, &pl->tid)) {
            pl->kind = L_EXC;
        } else {
            return fail(&e, "unknown line kind (\"tN exc\" or \"loop exc\" expected)");
        }
        return parse_exc(pl, sp + 5, len - (size_t)(sp - s) - 5, &e);
    }
    if (!split(s, len, tk, &nt, &e)) {
        return false;
    }
    if (tok_is(&tk[0], "aiotp-trace")) {
        return parse_header(pl, tk, nt, &e);
    }
    if (tok_is(&tk[0], "iter")) {
        pl->kind = L_ITER;
        if (!want_tokens(nt, 2, &e)) {
            return false;
        }
        if (!parse_u64(tk[1].p, tk[1].n, &pl->iter)) {
            return fail(&e, "bad iteration number");
        }
        return true;
    }
    if (!parse_tid(&tk[0], &pl->tid)) {
        return fail(&e, "unknown line kind (header, \"iter N\" or \"tN ...\" expected)");
    }
    if (nt < 2) {
        return fail(&e, "missing fields after the transport");
    }
    if (tok_is(&tk[1], "open")) {
        return parse_open(pl, tk, nt, version, &e);
    }
    if (tok_is(&tk[1], "peer")) {
        pl->kind = L_PEER;
        if (version < 2) {
            return fail(&e, "peer lines need format version 2 (the header says 1)");
        }
        if (!want_tokens(nt, 3, &e)) {
            return false;
        }
        if (!parse_tid(&tk[2], &pl->peer)) {
            return fail(&e, "bad peer (\"tN peer tM\" expected)");
        }
        return true;
    }
    if (tok_is(&tk[1], "over") || tok_is(&tk[1], "upgrade")) {
        pl->kind = L_OVER;
        pl->upgrade = tok_is(&tk[1], "upgrade");
        if (!need_v3(version, "TLS lines", &e) || !want_tokens(nt, 3, &e)) {
            return false;
        }
        if (!parse_tid(&tk[2], &pl->peer)) {
            return fail(&e, "bad transport (\"tN over tM\" expected)");
        }
        return true;
    }
    if (tok_is(&tk[1], "handshake")) {
        pl->kind = L_HANDSHAKE;
        return need_v3(version, "TLS lines", &e) && want_tokens(nt, 3, &e) &&
               kv_status(&tk[2], pl->status, &e);
    }
    if (tok_is(&tk[1], "pipe")) {
        pl->kind = L_PIPE;
        if (!need_v3(version, "pipe lines", &e) || !want_tokens(nt, 4, &e) ||
            !kv_fd(&tk[2], pl, &e)) {
            return false;
        }
        if (!parse_tid(&tk[3], &pl->peer)) {
            return fail(&e, "bad pipe (\"tS pipe fd=F tP\" expected)");
        }
        return true;
    }
    if (tok_is(&tk[1], "limits")) {
        pl->kind = L_LIMITS;
        return want_tokens(nt, 4, &e) && kv_u64(&tk[2], "low", &pl->low, &e) &&
               kv_u64(&tk[3], "high", &pl->high, &e);
    }
    if (tok_is(&tk[1], "query")) {
        pl->kind = L_QUERY;
        return need_v3(version, "query lines", &e) && parse_query(pl, tk, nt, &e);
    }
    if (tok_is(&tk[1], "cb")) {
        pl->kind = L_CB;
    } else if (tok_is(&tk[1], "call")) {
        pl->kind = L_CALL;
    } else if (tok_is(&tk[1], "ret")) {
        pl->kind = L_RET;
    } else {
        return fail(&e, "unknown event (open, limits, peer, over, upgrade, handshake, pipe, "
                        "cb, call, ret, query or exc expected)");
    }
    if (nt < 3) {
        return fail(&e, "missing callback or method name");
    }
    pl->name = find_name(&tk[2]);
    if (pl->name < 0) {
        return fail(&e, "unknown callback or method name");
    }
    if (pl->kind == L_CB) {
        return parse_cb(pl, tk, nt, version, &e);
    }
    if (pl->kind == L_CALL) {
        return parse_call(pl, tk, nt, version, &e);
    }
    return parse_ret(pl, tk, nt, version, &e);
}

bool aiotp__orc_is_status(const char *st, const char *name)
{
    return st[0] == name[0] && strcmp(st, name) == 0;
}

