/*
 * src/oracle.c - the conformance oracle (include/aiotp/oracle.h, spec/oracle.md).
 *
 * Pure: no system calls, no recursion, memory only from the caller's allocator (one
 * block at aiotp_oracle_new()). Every line is copied into a bounded buffer, split into
 * at most MAX_TOK tokens, every number is parsed with an overflow check.
 */
#include "aiotp/oracle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_TOK 8
#define STATUS_MAX 24
#define FNV_INIT 0x811c9dc5u
/* (total, sum) points kept per sender for the receiver to match (peer pairs) */
#define CHECKPOINTS 16u
#define READ_MAX 262144u /* READ-1: 256 KiB per receive */
#define DEFAULT_HIGH 65536u
#define DEFAULT_LOW 16384u

/* ---- rules ---------------------------------------------------------------------- */

typedef struct rule_def {
    const char *id;
    const char *text;
} rule_def;

static const rule_def RULES[] = {
    {"TRACE-1", "every cb/call line is closed by its matching ret, properly nested; "
                "iter lines only outside any cb/call"},
    {"TRACE-2", "iter numbers increase by exactly 1"},
    {"TRACE-3", "a transport's first line is its one 'open' line, followed at once by its "
                "'limits' line; no line names a transport that was not opened"},
    {"TRACE-4", "protocol callbacks other than pause_writing are called from the loop, "
                "never nested inside another cb or call"},
    {"TRACE-5", "a peer line (version 2) pairs two different opened transports of the "
                "same loop, each at most once"},
    {"PROTO-BASE-1", "connection_made is called exactly once, first, in the pass after "
                     "the transport is made"},
    {"PROTO-BASE-2", "connection_lost is called exactly once, last, with 0 for a regular "
                     "close, EOF or abort; nothing is called after it"},
    {"PROTO-BASE-3", "every other callback happens between connection_made and "
                     "connection_lost"},
    {"PROTO-STREAM-1", "data_received gets non-empty data, in order, complete (running "
                       "totals exact; with a peer: the bytes its writes accepted, all of "
                       "them by a clean EOF)"},
    {"PROTO-STREAM-2", "connection_made [data_received]* [eof_received]? connection_lost"},
    {"PROTO-STREAM-3", "no data_received (buffer_updated, eof_received) after "
                       "eof_received, close(), abort() or a fatal error"},
    {"PROTO-STREAM-4", "a failing data_received or eof_received closes the transport: "
                       "connection_lost(that status)"},
    {"PROTO-STREAM-5", "eof_received is called at most once"},
    {"PROTO-BUF-1", "each read event calls get_buffer(-1), then buffer_updated(n) with "
                    "0 < n <= the buffer's size; at EOF eof_received follows get_buffer"},
    {"PROTO-BUF-2", "an empty buffer from get_buffer is fatal with EEMPTYBUF; a failing "
                    "get_buffer or buffer_updated is fatal with its status"},
    {"PROTO-BUF-3", "connection_made [get_buffer [buffer_updated]?]* [eof_received]? "
                    "connection_lost; buffer_updated only right after its get_buffer, "
                    "n <= len"},
    {"READ-1", "one receive per readiness event, at most 256 KiB"},
    {"READ-2", "pause_reading() stops data_received until resume_reading(); it returns 0"},
    {"READ-3", "resume_reading() returns 0 and delivers what arrived while paused"},
    {"BASE-CLOSE-3", "with an empty buffer, close() schedules connection_lost(0) for the "
                     "next pass"},
    {"BASE-CLOSE-4", "a second close() has no effect and returns ECLOSED"},
    {"BASE-PROTO-1", "after set_protocol the new protocol (streaming or buffered) receives "
                     "from the next read event"},
    {"BASE-PROTO-2", "set_protocol after connection_lost returns ECLOSED"},
    {"WRITE-ABORT-1", "abort() drops buffered data (size 0) and connection_lost(0) comes "
                      "in the next pass"},
    {"WRITE-ABORT-2", "abort() never calls resume_writing"},
    {"WRITE-ABORT-3", "abort() once connection_lost is scheduled or delivered returns "
                      "ECLOSED"},
    {"WRITE-WRITE-1", "write() accepts the data whole: the running total grows by n "
                      "exactly when it returns 0"},
    {"WRITE-WRITE-2", "write() of 0 bytes does nothing"},
    {"WRITE-WRITE-4", "write() after write_eof() returns ESTATE"},
    {"WRITE-WRITE-5", "write() once connection_lost is scheduled or delivered drops the "
                      "data and returns ECLOSED"},
    {"WRITE-WRITE-6", "a write that is refused sends nothing and changes nothing"},
    {"WRITE-WRITE-7", "a send error closes the transport: write() returns it and "
                      "connection_lost(error) follows"},
    {"WRITE-EOF-3", "write_eof() when already done, closing or closed does nothing and "
                    "returns 0"},
    {"FLOW-1", "default limits: high 65536, low 16384"},
    {"FLOW-2", "only high given: low = high/4; only low: high = 4*low; neither: the "
               "defaults"},
    {"FLOW-3", "after every set_write_buffer_limits 0 <= low <= high; a refused call "
               "leaves the limits unchanged, a valid pair is not refused"},
    {"FLOW-4", "pause_writing is called when the size goes strictly over high, at most "
               "once until resume, synchronously inside write/writelines/"
               "set_write_buffer_limits"},
    {"FLOW-5", "resume_writing is called from the drain (outside any call) when paused "
               "and the size is at or below low"},
    {"FLOW-6", "pause_writing and resume_writing strictly alternate, starting with pause"},
    {"FLOW-7", "lowering high below the size pauses inside the setter; raising the limits "
               "never resumes by itself"},
    {"BAD-2", "calls after connection_lost are no-ops returning 0, ECLOSED, ESTATE or "
              "EINVAL, with an empty buffer"},
};

const char *aiotp_oracle_rule_text(const char *rule)
{
    size_t i;
    if (rule == NULL) {
        return NULL;
    }
    for (i = 0; i < sizeof(RULES) / sizeof(RULES[0]); i++) {
        if (strcmp(RULES[i].id, rule) == 0) {
            return RULES[i].text;
        }
    }
    return NULL;
}

/* ---- names ---------------------------------------------------------------------- */

enum name_id {
    N_CONNECTION_MADE = 0,
    N_CONNECTION_LOST,
    N_DATA_RECEIVED,
    N_EOF_RECEIVED,
    N_GET_BUFFER,
    N_BUFFER_UPDATED,
    N_PAUSE_WRITING,
    N_RESUME_WRITING,
    N_FIRST_CALL,
    N_WRITE = N_FIRST_CALL,
    N_WRITELINES,
    N_CLOSE,
    N_ABORT,
    N_PAUSE_READING,
    N_RESUME_READING,
    N_WRITE_EOF,
    N_SET_LIMITS,
    N_SET_PROTOCOL,
    N_COUNT
};

static const char *const NAMES[N_COUNT] = {
    "connection_made", "connection_lost", "data_received",  "eof_received",
    "get_buffer",      "buffer_updated",  "pause_writing",  "resume_writing",
    "write",           "writelines",      "close",          "abort",
    "pause_reading",   "resume_reading",  "write_eof",      "set_write_buffer_limits",
    "set_protocol"};

/* ---- state ---------------------------------------------------------------------- */

enum closing_state {
    CL_OPEN = 0,   /* not closing as far as the trace shows */
    CL_FLUSHING,   /* close() with data buffered: connection_lost after the drain */
    CL_SCHEDULED,  /* connection_lost scheduled (close with empty buffer, abort, fatal) */
    CL_UNKNOWN     /* closing, but whether flushing or scheduled is not visible */
};

enum proto_kind { K_UNKNOWN = 0, K_STREAMING, K_BUFFERED };

typedef struct ring {
    size_t head; /* next slot to write */
    size_t count;
    aiotp_oracle_event ev[AIOTP_ORACLE_RECENT];
} ring;

typedef struct tstate {
    unsigned long id;
    bool limits_seen, made, eof, lost;
    bool wpaused, rpaused, eof_written, aborted, gb_pending, tx_seen;
    int cl;                 /* enum closing_state */
    const char *sched_rule; /* timing rule of the scheduled connection_lost, or NULL */
    uint64_t sched_iter;    /* pass in which it was scheduled (0: unknown) */
    char expect[STATUS_MAX];/* status connection_lost must carry ("" none) */
    const char *expect_rule;
    uint64_t open_iter;
    uint64_t low, high;
    uint64_t rx_total, tx_total;
    uint32_t rx_sum, tx_sum;
    /* peer pairing (version 2 "peer" lines) */
    size_t peer;          /* slot + 1 of the other end, 0: none */
    bool fin_clean;       /* close/write_eof/eof_received-0 returned 0: EOF follows data */
    bool fin_dirty;       /* abort, fatal error, error status: data may be lost */
    unsigned ck_n;        /* checkpoints of (tx_total, tx_sum) after accepted writes */
    unsigned ck_head;
    uint64_t ck_total[CHECKPOINTS];
    uint32_t ck_sum[CHECKPOINTS];
    int kind, pending_kind;
    uint64_t gb_len;
    uint64_t seq;    /* events of this transport so far */
    size_t segment;  /* header count when it was opened */
    uint64_t gb_seq; /* seq of the "ret get_buffer 0" line */
    ring recent;
} tstate;

typedef struct frame {
    size_t slot;
    unsigned char name;
    bool is_call;
    bool pre;      /* write/writelines: a nested ret showed this write already counted */
    bool closed_at_call; /* write/writelines: connection_lost scheduled/delivered at the call */
    bool eof_at_call;    /* write/writelines: write_eof() done at the call */
    bool nested_set;     /* set_write_buffer_limits: a nested setter returned 0 inside it */
    size_t lineno;
    uint64_t n;    /* write/writelines bytes */
    int64_t h, l;  /* set_write_buffer_limits arguments */
    bool h_none, l_none;
    int pkind;     /* set_protocol kind */
} frame;

struct aiotp_oracle {
    aiotp_oracle_alloc alloc;
    size_t bytes;
    unsigned flags;
    size_t max_t;
    size_t nt;
    tstate *t;
    frame stack[AIOTP_ORACLE_MAX_DEPTH];
    size_t depth;
    bool header_seen;
    unsigned version; /* of the last header */
    size_t segment; /* headers seen after the first: a new loop may reuse ids */
    bool stopped; /* parse or limit error: nothing more is looked at */
    int stop_code;
    uint64_t iter;
    bool iter_seen;
    size_t lines;
    size_t last_lineno;
    long last_open_slot; /* the previous line was "tN open" for this slot, else -1 */
    size_t nviol;
    bool have_first;
    aiotp_oracle_report first;
    ring recent;
    char buf[AIOTP_ORACLE_MAX_LINE + 1];
};

/* ---- setup ---------------------------------------------------------------------- */

int aiotp_oracle_new(const aiotp_oracle_config *cfg, const aiotp_oracle_alloc *alloc,
                     aiotp_oracle **out)
{
    size_t max_t = AIOTP_ORACLE_DEFAULT_TRANSPORTS;
    size_t bytes;
    aiotp_oracle *o;
    if (out != NULL) {
        *out = NULL;
    }
    if (alloc == NULL || alloc->alloc == NULL || alloc->free == NULL || out == NULL) {
        return AIOTP_ORACLE_EINVAL;
    }
    if (cfg != NULL && cfg->max_transports != 0) {
        max_t = cfg->max_transports;
    }
    if (max_t > AIOTP_ORACLE_MAX_TRANSPORTS) {
        return AIOTP_ORACLE_EINVAL;
    }
    bytes = sizeof(*o) + max_t * sizeof(tstate);
    o = alloc->alloc(alloc->ctx, bytes);
    if (o == NULL) {
        return AIOTP_ORACLE_ENOMEM;
    }
    memset(o, 0, bytes);
    o->alloc = *alloc;
    o->bytes = bytes;
    o->flags = cfg != NULL ? cfg->flags : 0;
    o->max_t = max_t;
    o->t = (tstate *)(void *)(o + 1);
    o->last_open_slot = -1;
    *out = o;
    return 0;
}

void aiotp_oracle_free(aiotp_oracle *o)
{
    if (o != NULL) {
        aiotp_oracle_alloc a = o->alloc;
        a.free(a.ctx, o, o->bytes);
    }
}

const aiotp_oracle_report *aiotp_oracle_first(const aiotp_oracle *o)
{
    return o != NULL && o->have_first ? &o->first : NULL;
}

size_t aiotp_oracle_violations(const aiotp_oracle *o)
{
    return o != NULL ? o->nviol : 0;
}

size_t aiotp_oracle_lines(const aiotp_oracle *o)
{
    return o != NULL ? o->lines : 0;
}

/* ---- recent events -------------------------------------------------------------- */

static void ring_push(ring *r, const char *line, size_t len, size_t lineno)
{
    aiotp_oracle_event *e = &r->ev[r->head];
    size_t keep = len;
    if (keep > AIOTP_ORACLE_KEEP - 1) {
        keep = AIOTP_ORACLE_KEEP - 4;
        memcpy(e->text, line, keep);
        memcpy(e->text + keep, "...", 4);
    } else {
        memcpy(e->text, line, keep);
        e->text[keep] = '\0';
    }
    e->lineno = lineno;
    r->head = (r->head + 1) % AIOTP_ORACLE_RECENT;
    if (r->count < AIOTP_ORACLE_RECENT) {
        r->count++;
    }
}

static void ring_copy(const ring *r, aiotp_oracle_report *rep)
{
    size_t i;
    size_t start = (r->head + AIOTP_ORACLE_RECENT - r->count) % AIOTP_ORACLE_RECENT;
    rep->nrecent = r->count;
    for (i = 0; i < r->count; i++) {
        rep->recent[i] = r->ev[(start + i) % AIOTP_ORACLE_RECENT];
    }
}

/* ---- reporting ------------------------------------------------------------------ */

#if defined(__GNUC__)
#define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#else
#define PRINTF_LIKE(a, b)
#endif

static int violate(aiotp_oracle *o, const tstate *ts, const char *rule, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

static int violate(aiotp_oracle *o, const tstate *ts, const char *rule, const char *fmt, ...)
{
    va_list ap;
    aiotp_oracle_report *r = &o->first;
    o->nviol++;
    if (o->have_first) {
        return AIOTP_ORACLE_VIOLATION;
    }
    o->have_first = true;
    memset(r, 0, sizeof(*r));
    r->result = AIOTP_ORACLE_VIOLATION;
    r->rule = rule;
    r->rule_text = aiotp_oracle_rule_text(rule);
    if (r->rule_text == NULL) {
        r->rule_text = "(undocumented rule)";
    }
    va_start(ap, fmt);
    (void)vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    r->lineno = o->last_lineno;
    r->tid = ts != NULL ? ts->id : 0;
    ring_copy(ts != NULL ? &ts->recent : &o->recent, r);
    return AIOTP_ORACLE_VIOLATION;
}

static int stop(aiotp_oracle *o, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int stop(aiotp_oracle *o, int code, const char *fmt, ...)
{
    va_list ap;
    o->stopped = true;
    o->stop_code = code;
    if (!o->have_first) {
        aiotp_oracle_report *r = &o->first;
        o->have_first = true;
        memset(r, 0, sizeof(*r));
        r->result = code;
        va_start(ap, fmt);
        (void)vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
        va_end(ap);
        r->lineno = o->last_lineno;
        ring_copy(&o->recent, r);
    }
    return code;
}

/* ---- parsing -------------------------------------------------------------------- */

typedef struct tok {
    const char *p;
    size_t n;
} tok;

enum line_kind { L_HEADER, L_ITER, L_OPEN, L_LIMITS, L_PEER, L_CB, L_CALL, L_RET };

typedef struct pline {
    int kind;
    unsigned long tid;
    unsigned long peer; /* L_PEER: the other transport */
    unsigned version;   /* L_HEADER */
    int name;
    uint64_t iter;
    char status[STATUS_MAX];
    uint64_t n, total, size, low, high, len, count;
    uint32_t sum;
    int64_t sizehint, h, l;
    bool h_none, l_none, has_len;
    int pkind;
} pline;

static bool tok_is(const tok *t, const char *s)
{
    size_t n = strlen(s);
    return t->n == n && memcmp(t->p, s, n) == 0;
}

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

/* "key=VALUE": the value part, or false when the key does not match. */
static bool kv(const tok *t, const char *key, const char **v, size_t *vn)
{
    size_t k = strlen(key);
    if (t->n <= k || memcmp(t->p, key, k) != 0 || t->p[k] != '=') {
        return false;
    }
    *v = t->p + k + 1;
    *vn = t->n - k - 1;
    return true;
}

typedef struct perr {
    char msg[200];
} perr;

static bool fail(perr *e, const char *fmt, ...) PRINTF_LIKE(2, 3);

static bool fail(perr *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return false;
}

static bool kv_u64(const tok *t, const char *key, uint64_t *out, perr *e)
{
    const char *v;
    size_t n;
    if (!kv(t, key, &v, &n)) {
        return fail(e, "expected field %s=", key);
    }
    if (!parse_u64(v, n, out)) {
        return fail(e, "bad number in field %s= (unsigned decimal expected)", key);
    }
    return true;
}

static bool kv_i64_none(const tok *t, const char *key, int64_t *out, bool *none, perr *e)
{
    const char *v;
    size_t n;
    if (!kv(t, key, &v, &n)) {
        return fail(e, "expected field %s=", key);
    }
    *none = false;
    *out = 0;
    if (n == 4 && memcmp(v, "NONE", 4) == 0) {
        *none = true;
        return true;
    }
    if (!parse_i64(v, n, out)) {
        return fail(e, "bad number in field %s= (decimal or NONE expected)", key);
    }
    return true;
}

static bool parse_status(const tok *t, char *out, bool allow_one, perr *e)
{
    size_t i;
    if (tok_is(t, "0") || (allow_one && tok_is(t, "1"))) {
        memcpy(out, t->p, 1);
        out[1] = '\0';
        return true;
    }
    if (t->n < 2 || t->n >= STATUS_MAX || t->p[0] != 'E') {
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

static int find_name(const tok *t)
{
    int i;
    for (i = 0; i < N_COUNT; i++) {
        if (tok_is(t, NAMES[i])) {
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

static bool parse_cb(pline *pl, const tok *tk, size_t nt, perr *e)
{
    const char *v;
    size_t vn;
    switch (pl->name) {
    case N_CONNECTION_MADE:
    case N_EOF_RECEIVED:
        return want_tokens(nt, 3, e);
    case N_CONNECTION_LOST:
        if (!want_tokens(nt, 4, e)) {
            return false;
        }
        if (!kv(&tk[3], "status", &v, &vn)) {
            return fail(e, "expected field status=");
        }
        {
            tok st;
            st.p = v;
            st.n = vn;
            return parse_status(&st, pl->status, false, e);
        }
    case N_DATA_RECEIVED:
    case N_BUFFER_UPDATED:
        if (!want_tokens(nt, 6, e) || !kv_u64(&tk[3], "n", &pl->n, e) ||
            !kv_u64(&tk[4], "total", &pl->total, e)) {
            return false;
        }
        if (!kv(&tk[5], "sum", &v, &vn)) {
            return fail(e, "expected field sum=");
        }
        if (!parse_hex8(v, vn, &pl->sum)) {
            return fail(e, "bad sum= (8 lowercase hex digits expected)");
        }
        return true;
    case N_GET_BUFFER:
        if (!want_tokens(nt, 4, e)) {
            return false;
        }
        if (!kv(&tk[3], "sizehint", &v, &vn)) {
            return fail(e, "expected field sizehint=");
        }
        if (!parse_i64(v, vn, &pl->sizehint)) {
            return fail(e, "bad number in field sizehint=");
        }
        return true;
    case N_PAUSE_WRITING:
        return want_tokens(nt, 5, e) && kv_u64(&tk[3], "size", &pl->size, e) &&
               kv_u64(&tk[4], "high", &pl->high, e);
    case N_RESUME_WRITING:
        return want_tokens(nt, 5, e) && kv_u64(&tk[3], "size", &pl->size, e) &&
               kv_u64(&tk[4], "low", &pl->low, e);
    default:
        return fail(e, "'%s' is a transport method, not a callback (use 'call')",
                    NAMES[pl->name]);
    }
}

static bool parse_call(pline *pl, const tok *tk, size_t nt, perr *e)
{
    const char *v;
    size_t vn;
    switch (pl->name) {
    case N_WRITE:
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
        if (!kv(&tk[3], "kind", &v, &vn)) {
            return fail(e, "expected field kind=");
        }
        if (vn == 9 && memcmp(v, "streaming", 9) == 0) {
            pl->pkind = K_STREAMING;
        } else if (vn == 8 && memcmp(v, "buffered", 8) == 0) {
            pl->pkind = K_BUFFERED;
        } else {
            return fail(e, "bad kind= (streaming or buffered expected)");
        }
        return true;
    default:
        return fail(e, "'%s' is a protocol callback, not a transport method (use 'cb')",
                    NAMES[pl->name]);
    }
}

static bool parse_ret(pline *pl, const tok *tk, size_t nt, perr *e)
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
        return want_tokens(nt, 4, e);
    case N_GET_BUFFER:
        if (strcmp(pl->status, "0") == 0) {
            pl->has_len = true;
            return want_tokens(nt, 5, e) && kv_u64(&tk[4], "len", &pl->len, e);
        }
        return want_tokens(nt, 4, e);
    case N_WRITE:
    case N_WRITELINES:
        if (!want_tokens(nt, 7, e) || !kv_u64(&tk[4], "size", &pl->size, e) ||
            !kv_u64(&tk[5], "total", &pl->total, e)) {
            return false;
        }
        {
            const char *v;
            size_t vn;
            if (!kv(&tk[6], "sum", &v, &vn)) {
                return fail(e, "expected field sum=");
            }
            if (!parse_hex8(v, vn, &pl->sum)) {
                return fail(e, "bad sum= (8 lowercase hex digits expected)");
            }
        }
        return true;
    case N_SET_LIMITS:
        return want_tokens(nt, 7, e) && kv_u64(&tk[4], "size", &pl->size, e) &&
               kv_u64(&tk[5], "low", &pl->low, e) && kv_u64(&tk[6], "high", &pl->high, e);
    default: /* close, abort, pause_reading, resume_reading, write_eof, set_protocol */
        return want_tokens(nt, 5, e) && kv_u64(&tk[4], "size", &pl->size, e);
    }
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
        if (n == MAX_TOK) {
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

static bool parse_line(const char *s, size_t len, pline *pl, perr *e)
{
    tok tk[MAX_TOK];
    size_t nt = 0;
    uint64_t v;

    memset(pl, 0, sizeof(*pl));
    if (!split(s, len, tk, &nt, e)) {
        return false;
    }
    if (tok_is(&tk[0], "aiotp-trace")) {
        if (nt != 2) {
            return fail(e, "bad header (\"aiotp-trace 2\" or \"aiotp-trace 1\" expected)");
        }
        if (tok_is(&tk[1], "1")) {
            pl->version = 1;
        } else if (tok_is(&tk[1], "2")) {
            pl->version = 2;
        } else {
            return fail(e, "unsupported trace format version (1 or 2 expected)");
        }
        pl->kind = L_HEADER;
        return true;
    }
    if (tok_is(&tk[0], "iter")) {
        if (!want_tokens(nt, 2, e)) {
            return false;
        }
        if (!parse_u64(tk[1].p, tk[1].n, &pl->iter)) {
            return fail(e, "bad iteration number");
        }
        pl->kind = L_ITER;
        return true;
    }
    if (tk[0].n < 2 || tk[0].p[0] != 't' || !parse_u64(tk[0].p + 1, tk[0].n - 1, &v) ||
        v > 0xffffffffu) {
        return fail(e, "unknown line kind (header, \"iter N\" or \"tN ...\" expected)");
    }
    pl->tid = (unsigned long)v;
    if (nt < 2) {
        return fail(e, "missing fields after the transport");
    }
    if (tok_is(&tk[1], "open")) {
        if (!want_tokens(nt, 3, e)) {
            return false;
        }
        if (!tok_is(&tk[2], "tcp") && !tok_is(&tk[2], "tcp6") && !tok_is(&tk[2], "unix")) {
            return fail(e, "bad transport family (tcp, tcp6 or unix expected)");
        }
        pl->kind = L_OPEN;
        return true;
    }
    if (tok_is(&tk[1], "peer")) {
        if (!want_tokens(nt, 3, e)) {
            return false;
        }
        if (tk[2].n < 2 || tk[2].p[0] != 't' || !parse_u64(tk[2].p + 1, tk[2].n - 1, &v) ||
            v > 0xffffffffu) {
            return fail(e, "bad peer (\"tN peer tM\" expected)");
        }
        pl->peer = (unsigned long)v;
        pl->kind = L_PEER;
        return true;
    }
    if (tok_is(&tk[1], "limits")) {
        pl->kind = L_LIMITS;
        return want_tokens(nt, 4, e) && kv_u64(&tk[2], "low", &pl->low, e) &&
               kv_u64(&tk[3], "high", &pl->high, e);
    }
    if (tok_is(&tk[1], "cb")) {
        pl->kind = L_CB;
    } else if (tok_is(&tk[1], "call")) {
        pl->kind = L_CALL;
    } else if (tok_is(&tk[1], "ret")) {
        pl->kind = L_RET;
    } else {
        return fail(e, "unknown event (open, limits, cb, call or ret expected)");
    }
    if (nt < 3) {
        return fail(e, "missing callback or method name");
    }
    pl->name = find_name(&tk[2]);
    if (pl->name < 0) {
        return fail(e, "unknown callback or method name");
    }
    if (pl->kind == L_CB) {
        return parse_cb(pl, tk, nt, e);
    }
    if (pl->kind == L_CALL) {
        return parse_call(pl, tk, nt, e);
    }
    return parse_ret(pl, tk, nt, e);
}

/* ---- transports ----------------------------------------------------------------- */

static tstate *find_t(aiotp_oracle *o, unsigned long id)
{
    size_t i;
    for (i = 0; i < o->nt; i++) {
        if (o->t[i].id == id) {
            return &o->t[i];
        }
    }
    return NULL;
}

static bool is_st(const char *status, const char *name)
{
    return strcmp(status, name) == 0;
}

static bool closing(const tstate *ts)
{
    return ts->cl != CL_OPEN;
}

/* The transport closes itself because of a failing callback or send (stream_fatal). */
static void fatal(aiotp_oracle *o, tstate *ts, const char *status, const char *rule)
{
    ts->fin_dirty = true;
    if (ts->cl == CL_OPEN || ts->cl == CL_FLUSHING) {
        ts->cl = CL_SCHEDULED;
        snprintf(ts->expect, sizeof(ts->expect), "%s", status);
        ts->expect_rule = rule;
        ts->sched_rule = NULL;
        ts->sched_iter = o->iter;
    }
}

/* ---- the checks ----------------------------------------------------------------- */

static bool derive_limits(const struct frame *f, uint64_t *low, uint64_t *high);

static int check_iter(aiotp_oracle *o, const pline *pl)
{
    int rc = 0;
    size_t i;
    if (o->depth > 0) {
        rc = violate(o, NULL, "TRACE-1", "iter %llu inside the unfinished %s %s of line %zu",
                     (unsigned long long)pl->iter,
                     o->stack[o->depth - 1].is_call ? "call" : "cb",
                     NAMES[o->stack[o->depth - 1].name], o->stack[o->depth - 1].lineno);
    }
    if (o->iter_seen && (o->iter == UINT64_MAX || pl->iter != o->iter + 1)) {
        rc = violate(o, NULL, "TRACE-2", "iter %llu after iter %llu",
                     (unsigned long long)pl->iter, (unsigned long long)o->iter);
    }
    o->iter = pl->iter;
    o->iter_seen = true;
    for (i = 0; i < o->nt; i++) {
        tstate *ts = &o->t[i];
        if (ts->segment != o->segment) {
            continue; /* another loop's transport */
        }
        if (ts->open_iter != 0 && !ts->made && !ts->lost && pl->iter > ts->open_iter + 1) {
            rc = violate(o, ts, "PROTO-BASE-1",
                         "t%lu opened in iter %llu, no connection_made in iter %llu",
                         ts->id, (unsigned long long)ts->open_iter,
                         (unsigned long long)(ts->open_iter + 1));
            ts->open_iter = 0; /* once */
        }
        if (ts->sched_rule != NULL && ts->sched_iter != 0 && !ts->lost &&
            pl->iter > ts->sched_iter + 1) {
            rc = violate(o, ts, ts->sched_rule,
                         "t%lu: connection_lost scheduled in iter %llu did not come in "
                         "iter %llu",
                         ts->id, (unsigned long long)ts->sched_iter,
                         (unsigned long long)(ts->sched_iter + 1));
            ts->sched_rule = NULL;
        }
    }
    return rc;
}

static int check_open(aiotp_oracle *o, const pline *pl, const char *s, size_t len,
                      size_t lineno)
{
    tstate *ts = find_t(o, pl->tid);
    if (ts != NULL && ts->segment == o->segment) {
        return violate(o, ts, "TRACE-3", "t%lu opened a second time", pl->tid);
    }
    if (ts != NULL) {
        size_t k;
        for (k = 0; k < o->depth; k++) {
            if (&o->t[o->stack[k].slot] == ts) {
                return violate(o, ts, "TRACE-3", "t%lu reopened inside its own cb/call",
                               pl->tid);
            }
        }
        /* a transport of an earlier loop (before a repeated header): replaced */
    } else if (o->nt >= o->max_t) {
        return stop(o, AIOTP_ORACLE_ELIMIT, "more than %zu transports", o->max_t);
    } else {
        ts = &o->t[o->nt++];
    }
    if (ts->peer != 0) {
        o->t[ts->peer - 1].peer = 0; /* the old transport's pairing ends with it */
    }
    memset(ts, 0, sizeof(*ts));
    ts->id = pl->tid;
    ts->low = DEFAULT_LOW;
    ts->high = DEFAULT_HIGH;
    ts->tx_sum = FNV_INIT;
    ts->rx_sum = FNV_INIT;
    ts->open_iter = o->iter_seen ? o->iter : 0;
    ts->segment = o->segment;
    ring_push(&ts->recent, s, len, lineno);
    o->last_open_slot = (long)(ts - o->t);
    return 0;
}

static int check_limits(aiotp_oracle *o, tstate *ts, const pline *pl)
{
    int rc = 0;
    if (ts->limits_seen || o->last_open_slot != (long)(ts - o->t)) {
        rc = violate(o, ts, "TRACE-3", "t%lu limits line not right after its open line",
                     ts->id);
    }
    ts->limits_seen = true;
    if (pl->low > pl->high) {
        rc = violate(o, ts, "FLOW-3", "t%lu limits low=%llu > high=%llu", ts->id,
                     (unsigned long long)pl->low, (unsigned long long)pl->high);
    } else if (pl->low != DEFAULT_LOW || pl->high != DEFAULT_HIGH) {
        rc = violate(o, ts, "FLOW-1", "t%lu starts with low=%llu high=%llu", ts->id,
                     (unsigned long long)pl->low, (unsigned long long)pl->high);
    }
    ts->low = pl->low;
    ts->high = pl->high;
    return rc;
}

/* ---- peers ("tA peer tB", version 2) ----------------------------------------------

   The receiver's running total never passes what its peer's writes accepted; when it
   equals a total the peer had after one of its last CHECKPOINTS accepted writes, the
   running sums are equal too; and once the peer closed cleanly (close(), write_eof() or
   eof_received returning 0, no abort, no error) its EOF comes after every byte. */

static tstate *peer_of(aiotp_oracle *o, const tstate *ts)
{
    return ts->peer != 0 ? &o->t[ts->peer - 1] : NULL;
}

static int check_peer_data(aiotp_oracle *o, tstate *ts, const char *rule, const char *what)
{
    const tstate *p = peer_of(o, ts);
    unsigned k;
    if (p == NULL) {
        return 0;
    }
    if (ts->rx_total > p->tx_total) {
        return violate(o, ts, rule, "t%lu %s: total=%llu, more than its peer t%lu's writes "
                       "accepted (%llu)", ts->id, what, (unsigned long long)ts->rx_total,
                       p->id, (unsigned long long)p->tx_total);
    }
    for (k = 0; k < p->ck_n; k++) {
        if (p->ck_total[k] == ts->rx_total && p->ck_sum[k] != ts->rx_sum) {
            return violate(o, ts, rule, "t%lu %s: total=%llu sum=%08lx, but t%lu's first %llu "
                           "bytes written have sum=%08lx (bytes changed, lost or reordered)",
                           ts->id, what, (unsigned long long)ts->rx_total,
                           (unsigned long)ts->rx_sum, p->id,
                           (unsigned long long)p->ck_total[k], (unsigned long)p->ck_sum[k]);
        }
    }
    return 0;
}

static int check_peer_eof(aiotp_oracle *o, tstate *ts)
{
    const tstate *p = peer_of(o, ts);
    if (p == NULL || !p->fin_clean || p->fin_dirty) {
        return 0;
    }
    if (ts->rx_total != p->tx_total || ts->rx_sum != p->tx_sum) {
        return violate(o, ts, "PROTO-STREAM-1", "t%lu eof_received after %llu bytes (sum=%08lx); "
                       "its peer t%lu closed cleanly after writing %llu (sum=%08lx)", ts->id,
                       (unsigned long long)ts->rx_total, (unsigned long)ts->rx_sum, p->id,
                       (unsigned long long)p->tx_total, (unsigned long)p->tx_sum);
    }
    return 0;
}

static int check_peer_line(aiotp_oracle *o, tstate *ts, const pline *pl)
{
    tstate *p;
    if (o->version < 2) {
        return stop(o, AIOTP_ORACLE_EPARSE, "peer lines need format version 2 (the header "
                    "says 1)");
    }
    p = find_t(o, pl->peer);
    if (p == NULL || p->segment != o->segment || ts->segment != o->segment) {
        return violate(o, ts, "TRACE-5", "t%lu peer t%lu: t%lu was not opened", ts->id,
                       pl->peer, pl->peer);
    }
    if (p == ts) {
        return violate(o, ts, "TRACE-5", "t%lu peer of itself", ts->id);
    }
    if (ts->peer != 0 || p->peer != 0) {
        return violate(o, ts, "TRACE-5", "t%lu peer t%lu: t%lu already has a peer", ts->id,
                       p->id, ts->peer != 0 ? ts->id : p->id);
    }
    ts->peer = (size_t)(p - o->t) + 1;
    p->peer = (size_t)(ts - o->t) + 1;
    return 0;
}

/* A read event starts (data_received, get_buffer, eof_received not after get_buffer). */
static int check_read_start(aiotp_oracle *o, tstate *ts, int kind, const char *what)
{
    int rc = 0;
    int want = ts->pending_kind != K_UNKNOWN ? ts->pending_kind : ts->kind;
    if (kind != K_UNKNOWN) {
        if (want != K_UNKNOWN && want != kind) {
            rc = violate(o, ts, ts->pending_kind != K_UNKNOWN ? "BASE-PROTO-1"
                                : (want == K_BUFFERED ? "PROTO-BUF-3" : "PROTO-STREAM-2"),
                         "t%lu %s on a transport whose protocol is %s", ts->id, what,
                         want == K_BUFFERED ? "buffered" : "streaming");
        }
        ts->kind = kind;
        ts->pending_kind = K_UNKNOWN;
    } else if (want == K_BUFFERED) {
        rc = violate(o, ts, "PROTO-BUF-1",
                     "t%lu eof_received on a buffered protocol without get_buffer first",
                     ts->id);
    }
    if (ts->rpaused && !closing(ts)) {
        rc = violate(o, ts, "READ-2", "t%lu %s while reading is paused", ts->id, what);
    }
    return rc;
}

/* Common to the callbacks that deliver incoming data or EOF. */
static int check_delivery(aiotp_oracle *o, tstate *ts, const char *what, bool buffered)
{
    if (!ts->made) {
        return violate(o, ts, buffered ? "PROTO-BUF-3" : "PROTO-STREAM-2",
                       "t%lu %s before connection_made", ts->id, what);
    }
    if (ts->eof) {
        return violate(o, ts, buffered ? "PROTO-BUF-3" : "PROTO-STREAM-2",
                       "t%lu %s after eof_received", ts->id, what);
    }
    if (closing(ts)) {
        return violate(o, ts, "PROTO-STREAM-3", "t%lu %s after close/abort/fatal error",
                       ts->id, what);
    }
    return 0;
}

static int check_cb(aiotp_oracle *o, tstate *ts, const pline *pl)
{
    int rc = 0;
    const char *what = NAMES[pl->name];
    bool after_gb = ts->gb_pending && ts->gb_seq + 1 == ts->seq;

    if (pl->name != N_BUFFER_UPDATED && pl->name != N_EOF_RECEIVED) {
        ts->gb_pending = false;
    }
    if (ts->lost) {
        ts->gb_pending = false;
        return violate(o, ts, "PROTO-BASE-2", "t%lu cb %s after connection_lost", ts->id,
                       what);
    }
    if (pl->name != N_PAUSE_WRITING && o->depth > 0) {
        const frame *f = &o->stack[o->depth - 1];
        if (pl->name == N_RESUME_WRITING) {
            rc = violate(o, ts, f->is_call && f->name == N_SET_LIMITS ? "FLOW-7" : "FLOW-5",
                         "t%lu resume_writing nested inside %s %s of line %zu", ts->id,
                         f->is_call ? "call" : "cb", NAMES[f->name], f->lineno);
        } else {
            rc = violate(o, ts, "TRACE-4", "t%lu cb %s nested inside %s %s of line %zu",
                         ts->id, what, f->is_call ? "call" : "cb", NAMES[f->name],
                         f->lineno);
        }
    }
    switch (pl->name) {
    case N_CONNECTION_MADE:
        if (ts->made) {
            return violate(o, ts, "PROTO-BASE-1", "t%lu second connection_made", ts->id);
        }
        ts->made = true;
        if (ts->open_iter != 0 && ts->segment == o->segment && o->iter != ts->open_iter + 1) {
            rc = violate(o, ts, "PROTO-BASE-1",
                         "t%lu connection_made in iter %llu, opened in iter %llu", ts->id,
                         (unsigned long long)o->iter, (unsigned long long)ts->open_iter);
        }
        return rc;
    case N_CONNECTION_LOST:
        if (!ts->made) {
            rc = violate(o, ts, "PROTO-STREAM-2", "t%lu connection_lost before "
                         "connection_made", ts->id);
        } else if (ts->expect[0] != '\0' && !is_st(pl->status, ts->expect)) {
            rc = violate(o, ts, ts->expect_rule, "t%lu connection_lost status=%s, %s expected",
                         ts->id, pl->status, ts->expect);
        } else if (ts->sched_rule != NULL && ts->sched_iter != 0 &&
                   ts->segment == o->segment && o->iter != ts->sched_iter + 1) {
            rc = violate(o, ts, ts->sched_rule,
                         "t%lu connection_lost in iter %llu, scheduled in iter %llu", ts->id,
                         (unsigned long long)o->iter, (unsigned long long)ts->sched_iter);
        }
        if (!is_st(pl->status, "0")) {
            ts->fin_dirty = true;
        }
        ts->lost = true;
        ts->gb_pending = false;
        return rc;
    case N_DATA_RECEIVED:
    case N_BUFFER_UPDATED: {
        bool buf = pl->name == N_BUFFER_UPDATED;
        int r2;
        if (buf && !after_gb) {
            ts->gb_pending = false;
            return violate(o, ts, "PROTO-BUF-3",
                           "t%lu buffer_updated not right after a successful get_buffer",
                           ts->id);
        }
        ts->gb_pending = false;
        if (!buf) {
            r2 = check_read_start(o, ts, K_STREAMING, what);
            rc = r2 ? r2 : rc;
        }
        r2 = check_delivery(o, ts, what, buf);
        if (r2) {
            return r2;
        }
        if (pl->n == 0) {
            rc = violate(o, ts, buf ? "PROTO-BUF-1" : "PROTO-STREAM-1", "t%lu %s n=0",
                         ts->id, what);
        } else if (buf && pl->n > ts->gb_len) {
            rc = violate(o, ts, "PROTO-BUF-3", "t%lu buffer_updated n=%llu > len=%llu",
                         ts->id, (unsigned long long)pl->n, (unsigned long long)ts->gb_len);
        } else if (!buf && pl->n > READ_MAX) {
            rc = violate(o, ts, "READ-1", "t%lu data_received n=%llu > 262144", ts->id,
                         (unsigned long long)pl->n);
        }
        if (ts->rx_total > UINT64_MAX - pl->n || pl->total != ts->rx_total + pl->n) {
            rc = violate(o, ts, buf ? "PROTO-BUF-1" : "PROTO-STREAM-1",
                         "t%lu %s total=%llu, %llu + n=%llu expected", ts->id, what,
                         (unsigned long long)pl->total, (unsigned long long)ts->rx_total,
                         (unsigned long long)pl->n);
        }
        ts->rx_total = pl->total;
        ts->rx_sum = pl->sum;
        if (!rc) {
            rc = check_peer_data(o, ts, buf ? "PROTO-BUF-1" : "PROTO-STREAM-1", what);
        }
        return rc;
    }
    case N_GET_BUFFER: {
        int r2 = check_read_start(o, ts, K_BUFFERED, what);
        rc = r2 ? r2 : rc;
        r2 = check_delivery(o, ts, what, true);
        if (r2) {
            return r2;
        }
        if (pl->sizehint != -1) {
            rc = violate(o, ts, "PROTO-BUF-1", "t%lu get_buffer sizehint=%lld, -1 expected",
                         ts->id, (long long)pl->sizehint);
        }
        return rc;
    }
    case N_EOF_RECEIVED: {
        int r2 = 0;
        ts->gb_pending = false;
        if (!after_gb) {
            r2 = check_read_start(o, ts, K_UNKNOWN, what);
        }
        rc = r2 ? r2 : rc;
        if (ts->eof) {
            return violate(o, ts, "PROTO-STREAM-5", "t%lu second eof_received", ts->id);
        }
        r2 = check_delivery(o, ts, what, false);
        if (ts->made) {
            ts->eof = true;
        }
        if (!r2 && !rc) {
            r2 = check_peer_eof(o, ts);
        }
        return r2 ? r2 : rc;
    }
    case N_PAUSE_WRITING: {
        const frame *f = o->depth > 0 ? &o->stack[o->depth - 1] : NULL;
        if (!ts->made) {
            rc = violate(o, ts, "PROTO-BASE-3", "t%lu pause_writing before connection_made",
                         ts->id);
        } else if (f == NULL || !f->is_call || &o->t[f->slot] != ts ||
                   (f->name != N_WRITE && f->name != N_WRITELINES && f->name != N_SET_LIMITS)) {
            rc = violate(o, ts, "FLOW-4",
                         "t%lu pause_writing not directly inside its write/writelines/"
                         "set_write_buffer_limits call", ts->id);
        } else if (ts->wpaused) {
            rc = violate(o, ts, "FLOW-6", "t%lu pause_writing while already paused", ts->id);
        } else if (pl->size <= pl->high) {
            rc = violate(o, ts, "FLOW-4", "t%lu pause_writing with size=%llu <= high=%llu",
                         ts->id, (unsigned long long)pl->size, (unsigned long long)pl->high);
        } else {
            uint64_t want = ts->high;
            uint64_t dl;
            uint64_t dh;
            if (f->name == N_SET_LIMITS && derive_limits(f, &dl, &dh)) {
                want = dh; /* the new limits are in force inside the setter */
            }
            if (pl->high != want) {
                rc = violate(o, ts, "FLOW-4", "t%lu pause_writing high=%llu, the limit is %llu",
                             ts->id, (unsigned long long)pl->high, (unsigned long long)want);
            }
        }
        if (f != NULL && f->is_call && f->name == N_SET_LIMITS && &o->t[f->slot] == ts) {
            /* the setter succeeded (it paused): its limits are in force from here, so a
               setter nested in this pause_writing is judged against them */
            uint64_t dl;
            uint64_t dh;
            if (derive_limits(f, &dl, &dh)) {
                ts->low = dl;
                ts->high = dh;
            }
        }
        ts->wpaused = true;
        return rc;
    }
    case N_RESUME_WRITING:
        if (rc) {
            ts->wpaused = false;
            return rc;
        }
        if (!ts->made) {
            rc = violate(o, ts, "PROTO-BASE-3", "t%lu resume_writing before connection_made",
                         ts->id);
        } else if (ts->aborted) {
            rc = violate(o, ts, "WRITE-ABORT-2", "t%lu resume_writing after abort()", ts->id);
        } else if (!ts->wpaused) {
            rc = violate(o, ts, "FLOW-6", "t%lu resume_writing while not paused", ts->id);
        } else if (pl->size > pl->low) {
            rc = violate(o, ts, "FLOW-5", "t%lu resume_writing with size=%llu > low=%llu",
                         ts->id, (unsigned long long)pl->size, (unsigned long long)pl->low);
        } else if (pl->low != ts->low) {
            rc = violate(o, ts, "FLOW-5", "t%lu resume_writing low=%llu, the limit is %llu",
                         ts->id, (unsigned long long)pl->low, (unsigned long long)ts->low);
        }
        ts->wpaused = false;
        return rc;
    default:
        return rc;
    }
}

/* Statuses after which write()/writelines() certainly changed nothing. */
static bool write_refused(const char *st)
{
    return is_st(st, "EINVAL") || is_st(st, "ESTATE") || is_st(st, "ECLOSED") ||
           is_st(st, "ETOOBIG");
}

static const char *refused_rule(const char *st)
{
    if (is_st(st, "ESTATE")) {
        return "WRITE-WRITE-4";
    }
    if (is_st(st, "ECLOSED")) {
        return "WRITE-WRITE-5";
    }
    return "WRITE-WRITE-6";
}

/* The running total of a write ret: see spec/oracle.md ("nested writes"). */
static int check_tx_total(aiotp_oracle *o, tstate *ts, frame *f, const pline *pl)
{
    uint64_t extra = 0;
    uint64_t own = f->pre ? 0 : f->n;
    uint64_t base[2];
    uint64_t add[2];
    size_t nb = 1;
    size_t na = 1;
    size_t i;
    size_t j;
    const char *rule = "WRITE-WRITE-1";
    bool range = false;

    for (i = 0; i + 1 < o->depth; i++) {
        frame *g = &o->stack[i];
        if (g->is_call && !g->pre && (g->name == N_WRITE || g->name == N_WRITELINES) &&
            &o->t[g->slot] == ts && g->n <= UINT64_MAX - extra) {
            extra += g->n;
        }
    }
    base[0] = ts->tx_total;
    if (extra > 0 && extra <= UINT64_MAX - ts->tx_total) {
        base[1] = ts->tx_total + extra;
        nb = 2;
    }
    if (is_st(pl->status, "0")) {
        add[0] = own;
        if (f->n == 0) {
            rule = "WRITE-WRITE-2";
        }
    } else if (write_refused(pl->status)) {
        add[0] = 0;
        rule = refused_rule(pl->status);
    } else {
        /* ENOMEM or a send error: none, part (what the kernel took before the failure)
           or all of the data may have been counted: any add in [0, own] */
        add[0] = 0;
        add[1] = own;
        na = 2;
        range = true;
        rule = "WRITE-WRITE-6";
    }
    for (i = 0; i < nb; i++) {
        for (j = 0; j < na; j++) {
            bool hit = add[j] <= UINT64_MAX - base[i] && pl->total == base[i] + add[j];
            if (range && j == 0) {
                hit = pl->total >= base[i] && pl->total - base[i] <= own;
            }
            if (hit) {
                if (i == 1) {
                    for (size_t k = 0; k + 1 < o->depth; k++) {
                        frame *g = &o->stack[k];
                        if (g->is_call && (g->name == N_WRITE || g->name == N_WRITELINES) &&
                            &o->t[g->slot] == ts) {
                            g->pre = true;
                        }
                    }
                }
                if (pl->total == ts->tx_total && ts->tx_seen && pl->sum != ts->tx_sum) {
                    return violate(o, ts, rule,
                                   "t%lu %s: total unchanged but sum %08lx -> %08lx", ts->id,
                                   NAMES[f->name], (unsigned long)ts->tx_sum,
                                   (unsigned long)pl->sum);
                }
                if (pl->total == 0 && pl->sum != FNV_INIT) {
                    return violate(o, ts, rule, "t%lu %s: total=0 but sum=%08lx", ts->id,
                                   NAMES[f->name], (unsigned long)pl->sum);
                }
                return 0;
            }
        }
    }
    return violate(o, ts, rule, "t%lu ret %s %s n=%llu: total=%llu after %llu", ts->id,
                   NAMES[f->name], pl->status, (unsigned long long)f->n,
                   (unsigned long long)pl->total, (unsigned long long)ts->tx_total);
}

/* FLOW-4/FLOW-7: after a synchronous growth or limit change, over high means paused. */
static int check_missed_pause(aiotp_oracle *o, tstate *ts, uint64_t size, const char *rule)
{
    if (ts->made && !ts->lost && !ts->wpaused && size > ts->high) {
        return violate(o, ts, rule, "t%lu size=%llu > high=%llu but pause_writing was not "
                       "called", ts->id, (unsigned long long)size,
                       (unsigned long long)ts->high);
    }
    return 0;
}

/* FLOW-2/FLOW-3: derive the limits as flow.c and CPython do; false if invalid. */
static bool derive_limits(const frame *f, uint64_t *low, uint64_t *high)
{
    int64_t h;
    int64_t l;
    if (f->h_none) {
        if (f->l_none) {
            h = (int64_t)DEFAULT_HIGH;
        } else {
            if (f->l > INT64_MAX / 4 || f->l < INT64_MIN / 4) {
                return false;
            }
            h = 4 * f->l;
        }
    } else {
        h = f->h;
    }
    l = f->l_none ? h / 4 : f->l;
    if (l < 0 || h < l) {
        return false;
    }
    if ((uint64_t)h > (uint64_t)SIZE_MAX) {
        return false;
    }
    *low = (uint64_t)l;
    *high = (uint64_t)h;
    return true;
}

static bool has_size(int name)
{
    return name >= N_FIRST_CALL && name < N_COUNT; /* every method's ret has size= */
}

static int check_call_ret(aiotp_oracle *o, tstate *ts, frame *f, const pline *pl)
{
    int rc = 0;
    const char *st = pl->status;
    bool ok = is_st(st, "0");

    if (ts->lost) {
        if (!ok && !is_st(st, "ECLOSED") && !is_st(st, "ESTATE") && !is_st(st, "EINVAL")) {
            rc = violate(o, ts, "BAD-2", "t%lu %s after connection_lost returned %s", ts->id,
                         NAMES[f->name], st);
        } else if (has_size(f->name) && pl->size != 0) {
            rc = violate(o, ts, "BAD-2", "t%lu %s after connection_lost: size=%llu", ts->id,
                         NAMES[f->name], (unsigned long long)pl->size);
        }
        if (rc) {
            return rc;
        }
    }
    switch (f->name) {
    case N_WRITE:
    case N_WRITELINES:
        if (ok && f->n > 0 && !f->pre && f->closed_at_call) {
            rc = violate(o, ts, "WRITE-WRITE-5",
                         "t%lu %s n=%llu accepted once connection_lost was %s", ts->id,
                         NAMES[f->name], (unsigned long long)f->n,
                         ts->lost ? "delivered" : "scheduled");
        } else if (ok && f->n > 0 && !f->pre && f->eof_at_call) {
            rc = violate(o, ts, "WRITE-WRITE-4", "t%lu %s n=%llu accepted after write_eof()",
                         ts->id, NAMES[f->name], (unsigned long long)f->n);
        }
        {
            int r2 = check_tx_total(o, ts, f, pl);
            rc = rc ? rc : r2;
        }
        if (pl->total != ts->tx_total || !ts->tx_seen) {
            ts->ck_total[ts->ck_head] = pl->total;
            ts->ck_sum[ts->ck_head] = pl->sum;
            ts->ck_head = (ts->ck_head + 1) % CHECKPOINTS;
            ts->ck_n += ts->ck_n < CHECKPOINTS;
        }
        ts->tx_total = pl->total;
        ts->tx_sum = pl->sum;
        ts->tx_seen = true;
        if (!ok && !write_refused(st) && !is_st(st, "ENOMEM") && !is_st(st, "E?") &&
            !ts->lost) {
            fatal(o, ts, st, "WRITE-WRITE-7");
        }
        if (!rc) {
            rc = check_missed_pause(o, ts, pl->size, "FLOW-4");
        }
        return rc;
    case N_CLOSE:
        if ((closing(ts) || ts->lost) && ok) {
            return violate(o, ts, "BASE-CLOSE-4", "t%lu second close() returned 0", ts->id);
        }
        if (ok && ts->made) {
            ts->fin_clean = true;
            if (pl->size == 0) {
                ts->cl = CL_SCHEDULED;
                ts->sched_rule = "BASE-CLOSE-3";
                ts->sched_iter = o->iter;
                snprintf(ts->expect, sizeof(ts->expect), "0");
                ts->expect_rule = "PROTO-BASE-2";
            } else {
                ts->cl = CL_FLUSHING;
            }
        } else if (!ok && !closing(ts)) {
            ts->cl = CL_UNKNOWN; /* closed by something the trace does not show */
            ts->fin_dirty = true;
        }
        return rc;
    case N_ABORT:
        if ((ts->cl == CL_SCHEDULED || ts->lost) && ok) {
            return violate(o, ts, "WRITE-ABORT-3",
                           "t%lu abort() returned 0 once connection_lost was %s", ts->id,
                           ts->lost ? "delivered" : "scheduled");
        }
        if (ok && pl->size != 0) {
            return violate(o, ts, "WRITE-ABORT-1", "t%lu abort() left size=%llu", ts->id,
                           (unsigned long long)pl->size);
        }
        if (ok && ts->made) {
            ts->cl = CL_SCHEDULED;
            ts->aborted = true;
            ts->fin_dirty = true;
            ts->sched_rule = "WRITE-ABORT-1";
            ts->sched_iter = o->iter;
            snprintf(ts->expect, sizeof(ts->expect), "0");
            ts->expect_rule = "PROTO-BASE-2";
        } else if (!ok && !closing(ts)) {
            ts->cl = CL_UNKNOWN;
            ts->fin_dirty = true;
        }
        return rc;
    case N_PAUSE_READING:
        if (!ok) {
            return violate(o, ts, "READ-2", "t%lu pause_reading returned %s", ts->id, st);
        }
        ts->rpaused = true;
        return rc;
    case N_RESUME_READING:
        if (!ok) {
            return violate(o, ts, "READ-3", "t%lu resume_reading returned %s", ts->id, st);
        }
        ts->rpaused = false;
        return rc;
    case N_WRITE_EOF:
        if ((closing(ts) || ts->lost || ts->eof_written) && !ok) {
            return violate(o, ts, "WRITE-EOF-3", "t%lu write_eof() when %s returned %s",
                           ts->id, ts->eof_written ? "already done" : "closing", st);
        }
        if (!closing(ts) && !ts->lost) {
            ts->eof_written = true;
        }
        if (ok) {
            ts->fin_clean = true;
        }
        return rc;
    case N_SET_LIMITS: {
        uint64_t dl = 0;
        uint64_t dh = 0;
        bool valid = derive_limits(f, &dl, &dh);
        size_t k;
        if (ok && f->nested_set) {
            /* a setter nested inside this one's pause_writing returned 0 after this one
               set its limits: the last successful set wins (as in CPython) */
            dl = ts->low;
            dh = ts->high;
        }
        if (pl->low > pl->high) {
            rc = violate(o, ts, "FLOW-3", "t%lu limits low=%llu > high=%llu", ts->id,
                         (unsigned long long)pl->low, (unsigned long long)pl->high);
        } else if (ok && !valid) {
            rc = violate(o, ts, "FLOW-3", "t%lu invalid limits accepted", ts->id);
        } else if (ok && (pl->low != dl || pl->high != dh)) {
            rc = violate(o, ts, "FLOW-2", "t%lu limits low=%llu high=%llu, low=%llu "
                         "high=%llu expected", ts->id, (unsigned long long)pl->low,
                         (unsigned long long)pl->high, (unsigned long long)dl,
                         (unsigned long long)dh);
        } else if (!ok && (pl->low != ts->low || pl->high != ts->high)) {
            rc = violate(o, ts, "FLOW-3", "t%lu refused limits changed them to low=%llu "
                         "high=%llu", ts->id, (unsigned long long)pl->low,
                         (unsigned long long)pl->high);
        } else if (!ok && valid && is_st(st, "EINVAL")) {
            rc = violate(o, ts, "FLOW-3", "t%lu valid limits low=%llu high=%llu refused",
                         ts->id, (unsigned long long)dl, (unsigned long long)dh);
        }
        if (ok) {
            /* FLOW-3: a refused call leaves the tracked limits unchanged */
            ts->low = pl->low;
            ts->high = pl->high;
            for (k = 0; k + 1 < o->depth; k++) {
                frame *g = &o->stack[k];
                if (g->is_call && g->name == N_SET_LIMITS && &o->t[g->slot] == ts) {
                    g->nested_set = true;
                }
            }
        }
        if (!rc && ok) {
            rc = check_missed_pause(o, ts, pl->size, "FLOW-7");
        }
        return rc;
    }
    case N_SET_PROTOCOL:
        if (ok && ts->lost) {
            return violate(o, ts, "BASE-PROTO-2", "t%lu set_protocol after connection_lost "
                           "returned 0", ts->id);
        }
        if (ok) {
            ts->pending_kind = f->pkind;
        }
        return rc;
    default:
        return rc;
    }
}

static int check_cb_ret(aiotp_oracle *o, tstate *ts, const frame *f, const pline *pl)
{
    const char *st = pl->status;
    bool ok = is_st(st, "0");
    switch (f->name) {
    case N_DATA_RECEIVED:
    case N_EOF_RECEIVED:
        if (f->name == N_EOF_RECEIVED && is_st(st, "0")) {
            if (!closing(ts)) {
                ts->cl = CL_UNKNOWN; /* PROTO-STREAM-7: closes (flushing first) */
            }
            ts->fin_clean = true;
        } else if (!ok && !is_st(st, "1")) {
            fatal(o, ts, st, "PROTO-STREAM-4");
        }
        break;
    case N_GET_BUFFER:
        if (!ok) {
            fatal(o, ts, st, "PROTO-BUF-2");
        } else if (pl->len == 0) {
            fatal(o, ts, "EEMPTYBUF", "PROTO-BUF-2");
        } else {
            ts->gb_pending = true;
            ts->gb_len = pl->len;
            ts->gb_seq = ts->seq;
        }
        break;
    case N_BUFFER_UPDATED:
        if (!ok) {
            fatal(o, ts, st, "PROTO-BUF-2");
        }
        break;
    default:
        break;
    }
    (void)o;
    return 0;
}

static int check_ret(aiotp_oracle *o, tstate *ts, const pline *pl)
{
    frame f;
    if (o->depth == 0) {
        return violate(o, ts, "TRACE-1", "t%lu ret %s without a cb/call", ts->id,
                       NAMES[pl->name]);
    }
    if (&o->t[o->stack[o->depth - 1].slot] != ts || o->stack[o->depth - 1].name != pl->name) {
        const frame *top = &o->stack[o->depth - 1];
        return violate(o, ts, "TRACE-1", "t%lu ret %s while t%lu %s %s of line %zu is open",
                       ts->id, NAMES[pl->name], o->t[top->slot].id,
                       top->is_call ? "call" : "cb", NAMES[top->name], top->lineno);
    }
    f = o->stack[o->depth - 1];
    if (f.is_call) {
        int rc = check_call_ret(o, ts, &o->stack[o->depth - 1], pl);
        o->depth--;
        return rc;
    }
    o->depth--;
    return check_cb_ret(o, ts, &f, pl);
}

static int push_frame(aiotp_oracle *o, tstate *ts, const pline *pl, size_t lineno)
{
    frame *f;
    if (o->depth >= AIOTP_ORACLE_MAX_DEPTH) {
        return stop(o, AIOTP_ORACLE_ELIMIT, "cb/call nesting deeper than %u",
                    AIOTP_ORACLE_MAX_DEPTH);
    }
    f = &o->stack[o->depth++];
    memset(f, 0, sizeof(*f));
    f->slot = (size_t)(ts - o->t);
    f->name = (unsigned char)pl->name;
    f->is_call = pl->kind == L_CALL;
    f->lineno = lineno;
    f->n = pl->n;
    f->h = pl->h;
    f->l = pl->l;
    f->h_none = pl->h_none;
    f->l_none = pl->l_none;
    f->pkind = pl->pkind;
    if (f->is_call && (f->name == N_WRITE || f->name == N_WRITELINES)) {
        /* WRITE-WRITE-4/5: admission happens at entry, so a write is judged by the state
           at its call line (an abort inside its own pause_writing comes after it) */
        f->closed_at_call = ts->lost || ts->cl == CL_SCHEDULED;
        f->eof_at_call = ts->eof_written;
    }
    return 0;
}

/* ---- feeding -------------------------------------------------------------------- */

int aiotp_oracle_feed(aiotp_oracle *o, const char *line, size_t len, size_t lineno)
{
    pline pl;
    perr e;
    tstate *ts;
    long prev_open;
    int rc = 0;
    size_t i;

    if (o == NULL || line == NULL) {
        return AIOTP_ORACLE_EINVAL;
    }
    o->lines++;
    if (o->stopped) {
        return o->stop_code;
    }
    o->last_lineno = lineno;
    if (len > AIOTP_ORACLE_MAX_LINE) {
        return stop(o, AIOTP_ORACLE_EPARSE, "line longer than %u bytes",
                    AIOTP_ORACLE_MAX_LINE);
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c > 0x7e) {
            return stop(o, AIOTP_ORACLE_EPARSE,
                        "byte 0x%02x at column %zu (printable ASCII expected)", c, i + 1);
        }
    }
    if (len == 0 || line[0] == '#') {
        return 0; /* blank lines and comments (spec/oracle.md) */
    }
    memcpy(o->buf, line, len);
    o->buf[len] = '\0';
    if (!parse_line(o->buf, len, &pl, &e)) {
        return stop(o, AIOTP_ORACLE_EPARSE, "%s", e.msg);
    }
    if (!o->header_seen) {
        if (pl.kind != L_HEADER) {
            return stop(o, AIOTP_ORACLE_EPARSE, "missing header (\"aiotp-trace 2\" first)");
        }
        o->header_seen = true;
        o->version = pl.version;
        ring_push(&o->recent, o->buf, len, lineno);
        return 0;
    }
    ring_push(&o->recent, o->buf, len, lineno);
    prev_open = o->last_open_slot;
    o->last_open_slot = -1;
    switch (pl.kind) {
    case L_HEADER:
        /* the hook was set again, maybe on another loop: iterations restart and
           transport ids may be reused (spec/oracle.md) */
        if (o->depth > 0) {
            return violate(o, NULL, "TRACE-1", "header inside an unfinished cb/call");
        }
        o->segment++;
        o->version = pl.version;
        o->iter_seen = false;
        o->iter = 0;
        return 0;
    case L_ITER:
        return check_iter(o, &pl);
    case L_OPEN:
        return check_open(o, &pl, o->buf, len, lineno);
    default:
        break;
    }
    ts = find_t(o, pl.tid);
    if (ts == NULL) {
        return violate(o, NULL, "TRACE-3", "t%lu was never opened", pl.tid);
    }
    if ((pl.kind == L_CB || pl.kind == L_CALL) && o->depth >= AIOTP_ORACLE_MAX_DEPTH) {
        /* the limit first: a line the oracle cannot track is not judged either, so the
           result and the report agree (found by fuzz_trace) */
        return stop(o, AIOTP_ORACLE_ELIMIT, "cb/call nesting deeper than %u",
                    AIOTP_ORACLE_MAX_DEPTH);
    }
    ts->seq++;
    ring_push(&ts->recent, o->buf, len, lineno);
    if (pl.kind == L_LIMITS) {
        o->last_open_slot = prev_open;
        rc = check_limits(o, ts, &pl);
        o->last_open_slot = -1;
        return rc;
    }
    if (!ts->limits_seen) {
        rc = violate(o, ts, "TRACE-3", "t%lu has no limits line after its open line", ts->id);
        ts->limits_seen = true;
    }
    if (pl.kind == L_PEER) {
        int r2 = check_peer_line(o, ts, &pl);
        return rc ? rc : r2;
    }
    if (pl.kind == L_CB) {
        int r2 = check_cb(o, ts, &pl);
        rc = rc ? rc : r2;
        r2 = push_frame(o, ts, &pl, lineno);
        return r2 < 0 ? r2 : rc;
    }
    if (pl.kind == L_CALL) {
        int r2 = push_frame(o, ts, &pl, lineno);
        return r2 < 0 ? r2 : rc;
    }
    {
        int r2 = check_ret(o, ts, &pl);
        return rc ? rc : r2;
    }
}

int aiotp_oracle_feed_line(aiotp_oracle *o, const char *line, size_t lineno)
{
    const void *nul;
    if (o == NULL || line == NULL) {
        return AIOTP_ORACLE_EINVAL;
    }
    nul = memchr(line, '\0', AIOTP_ORACLE_MAX_LINE + 1u);
    if (nul == NULL) {
        o->lines++;
        if (o->stopped) {
            return o->stop_code;
        }
        o->last_lineno = lineno;
        return stop(o, AIOTP_ORACLE_EPARSE, "line longer than %u bytes",
                    AIOTP_ORACLE_MAX_LINE);
    }
    return aiotp_oracle_feed(o, line, (size_t)((const char *)nul - line), lineno);
}

int aiotp_oracle_finish(aiotp_oracle *o)
{
    int rc = 0;
    size_t i;
    if (o == NULL) {
        return AIOTP_ORACLE_EINVAL;
    }
    if (o->stopped) {
        return o->stop_code;
    }
    if (!o->header_seen) {
        return stop(o, AIOTP_ORACLE_EPARSE, "missing header (empty trace)");
    }
    if (o->depth > 0) {
        const frame *f = &o->stack[o->depth - 1];
        rc = violate(o, &o->t[f->slot], "TRACE-1", "end of trace inside t%lu %s %s of line %zu",
                     o->t[f->slot].id, f->is_call ? "call" : "cb", NAMES[f->name], f->lineno);
    }
    if (o->flags & AIOTP_ORACLE_REQUIRE_LOST) {
        for (i = 0; i < o->nt; i++) {
            if (!o->t[i].lost) {
                int r2 = violate(o, &o->t[i], "PROTO-BASE-2",
                                 "end of trace: t%lu never got connection_lost", o->t[i].id);
                rc = rc ? rc : r2;
            }
        }
    }
    return rc;
}

/* ---- deep validation ------------------------------------------------------------ */

static bool ring_ok(const ring *r)
{
    size_t i;
    if (r->head >= AIOTP_ORACLE_RECENT || r->count > AIOTP_ORACLE_RECENT) {
        return false;
    }
    for (i = 0; i < r->count; i++) {
        size_t k = (r->head + AIOTP_ORACLE_RECENT - 1 - i) % AIOTP_ORACLE_RECENT;
        if (memchr(r->ev[k].text, '\0', AIOTP_ORACLE_KEEP) == NULL) {
            return false;
        }
    }
    return true;
}

bool aiotp_oracle_is_valid(const aiotp_oracle *o)
{
    size_t i;
    size_t j;
    if (o == NULL || o->t != (const tstate *)(const void *)(o + 1) || o->max_t == 0 ||
        o->max_t > AIOTP_ORACLE_MAX_TRANSPORTS || o->nt > o->max_t ||
        o->depth > AIOTP_ORACLE_MAX_DEPTH ||
        o->bytes != sizeof(*o) + o->max_t * sizeof(tstate) || !ring_ok(&o->recent)) {
        return false;
    }
    if (o->last_open_slot < -1 || o->last_open_slot >= (long)o->nt) {
        return false;
    }
    if (o->have_first != (o->nviol > 0 || o->stopped)) {
        return false;
    }
    if (o->stopped && o->stop_code != AIOTP_ORACLE_EPARSE && o->stop_code != AIOTP_ORACLE_ELIMIT) {
        return false;
    }
    if (o->have_first && o->first.nrecent > AIOTP_ORACLE_RECENT) {
        return false;
    }
    if (!o->header_seen && (o->nt > 0 || o->depth > 0 || o->iter != 0)) {
        return false;
    }
    for (i = 0; i < o->nt; i++) {
        const tstate *ts = &o->t[i];
        if (!ring_ok(&ts->recent) || ts->cl < CL_OPEN || ts->cl > CL_UNKNOWN ||
            ts->kind < K_UNKNOWN || ts->kind > K_BUFFERED || ts->pending_kind < K_UNKNOWN ||
            ts->pending_kind > K_BUFFERED ||
            memchr(ts->expect, '\0', sizeof(ts->expect)) == NULL) {
            return false;
        }
        if (ts->gb_pending && (ts->gb_len == 0 || ts->gb_seq > ts->seq || ts->lost)) {
            return false;
        }
        if (ts->expect[0] != '\0' && (ts->expect_rule == NULL || ts->cl != CL_SCHEDULED)) {
            return false;
        }
        if (ts->aborted && ts->cl != CL_SCHEDULED) {
            return false;
        }
        if (ts->eof && !ts->made) {
            return false;
        }
        if (ts->segment > o->segment) {
            return false;
        }
        if (ts->peer != 0 && (ts->peer > o->nt || ts->peer - 1 == i ||
                              o->t[ts->peer - 1].peer != i + 1)) {
            return false; /* pairs are mutual */
        }
        if (ts->ck_n > CHECKPOINTS || ts->ck_head >= CHECKPOINTS) {
            return false;
        }
        for (j = 0; j < i; j++) {
            if (o->t[j].id == ts->id) {
                return false; /* ids are unique */
            }
        }
    }
    for (i = 0; i < o->depth; i++) {
        const frame *f = &o->stack[i];
        if (f->slot >= o->nt || f->name >= N_COUNT ||
            f->is_call != (f->name >= N_FIRST_CALL)) {
            return false;
        }
        if (i > 0 && f->lineno < o->stack[i - 1].lineno) {
            return false;
        }
    }
    return true;
}
