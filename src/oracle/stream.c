/*
 * src/oracle/stream.c - the rules of stream transports (open tcp, tcp6, unix): Protocol
 * and BufferedProtocol deliveries, write() accounting and the peer pairing of the two
 * ends of a connection (spec/rules.md "Protocols", "WriteTransport"; spec/oracle.md).
 */
#include "oracle_int.h"

#include <string.h>

enum stream_rule {
    R_PROTO_STREAM_1,
    R_PROTO_STREAM_2,
    R_PROTO_STREAM_3,
    R_PROTO_STREAM_4,
    R_PROTO_STREAM_5,
    R_PROTO_BUF_1,
    R_PROTO_BUF_2,
    R_PROTO_BUF_3,
    R_PROTO_BUF_5,
    R_READ_1,
    R_READ_5,
    R_WRITE_WRITE_1,
    R_WRITE_WRITE_2,
    R_WRITE_WRITE_4,
    R_WRITE_WRITE_5,
    R_WRITE_WRITE_6,
    R_WRITE_WRITE_7,
    R_WRITE_EOF_3,
    R_WRITE_EOF_4,
    R_WRITE_CANEOF_1,
    R_WRITE_BORROW_1,
    R_COUNT
};

#define R(id, prof, text) ORC_RULE(id, prof, text, "stream")
static const orc_rule RULES[R_COUNT] = {
    [R_PROTO_STREAM_1] = R("PROTO-STREAM-1", DOC,
                           "data_received and buffer_updated get non-empty data, in order, "
                           "complete (running totals exact; with a peer: the bytes its "
                           "writes accepted, all of them by a clean EOF)"),
    [R_PROTO_STREAM_2] = R("PROTO-STREAM-2", DOC,
                           "connection_made [data_received]* [eof_received]? "
                           "connection_lost"),
    [R_PROTO_STREAM_3] = R("PROTO-STREAM-3", DOC,
                           "no data_received (buffer_updated, eof_received) after "
                           "eof_received, close(), abort() or a fatal error"),
    [R_PROTO_STREAM_4] = R("PROTO-STREAM-4", CPYTHON,
                           "a failing data_received or eof_received goes to the exception "
                           "handler and closes the transport: connection_lost(that status)"),
    [R_PROTO_STREAM_5] = R("PROTO-STREAM-5", DOC, "eof_received is called at most once"),
    [R_PROTO_BUF_1] = R("PROTO-BUF-1", CPYTHON,
                        "each read event calls get_buffer(-1) (the size hint is -1); at EOF "
                        "eof_received follows get_buffer"),
    [R_PROTO_BUF_2] = R("PROTO-BUF-2", CPYTHON,
                        "an empty buffer from get_buffer is fatal with EEMPTYBUF, a failing "
                        "get_buffer or buffer_updated fatal with its status; both go to the "
                        "exception handler"),
    [R_PROTO_BUF_3] = R("PROTO-BUF-3", DOC,
                        "connection_made [get_buffer [buffer_updated]?]* [eof_received]? "
                        "connection_lost; buffer_updated only right after its get_buffer, "
                        "n <= len"),
    [R_PROTO_BUF_5] = R("PROTO-BUF-5", DOC,
                        "the bytes of a read event go to the protocol whose get_buffer() "
                        "returned the buffer: after set_protocol() inside get_buffer() that "
                        "read event delivers nothing"),
    [R_READ_1] = R("READ-1", CPYTHON, "one receive per readiness event, at most 256 KiB"),
    [R_READ_5] = R("READ-5", AIOTP, "is_reading() is false after EOF"),
    [R_WRITE_WRITE_1] = R("WRITE-WRITE-1", DOC,
                          "write() accepts the data whole: the running total grows by n "
                          "exactly when it returns 0"),
    [R_WRITE_WRITE_2] = R("WRITE-WRITE-2", CPYTHON, "write() of 0 bytes does nothing"),
    [R_WRITE_WRITE_4] = R("WRITE-WRITE-4", CPYTHON, "write() after write_eof() returns ESTATE"),
    [R_WRITE_WRITE_5] = R("WRITE-WRITE-5", AIOTP,
                          "write() once connection_lost is scheduled or delivered drops the "
                          "data and returns ECLOSED"),
    [R_WRITE_WRITE_6] = R("WRITE-WRITE-6", AIOTP,
                          "a write that is refused sends nothing and changes nothing"),
    [R_WRITE_WRITE_7] = R("WRITE-WRITE-7", AIOTP,
                          "a send error closes the transport: write() returns it and "
                          "connection_lost(error) follows"),
    [R_WRITE_EOF_4] = R("WRITE-EOF-4", AIOTP,
                        "a write_eof() that returns the shutdown() error has failed the "
                        "transport: connection_lost(that error) follows"),
    [R_WRITE_EOF_3] = R("WRITE-EOF-3", CPYTHON,
                        "write_eof() when already done does nothing and returns 0; when "
                        "closing or closed it does nothing (DONE-1: ECLOSED)"),
    [R_WRITE_CANEOF_1] = R("WRITE-CANEOF-1", CPYTHON, "can_write_eof() is true for stream "
                                                      "sockets"),
    [R_WRITE_BORROW_1] = R("WRITE-BORROW-1", AIOTP,
                           "write_done runs exactly once for each write_borrowed that returned "
                           "0 with n > 0, never inside a method call, and every one before the "
                           "transport's connection_lost"),
};
#undef R

#define RULE(x) (&RULES[R_##x])
#define WANT(rule) aiotp__orc_want(o, (rule))
#define OK(pl) aiotp__orc_is_status((pl)->status, "0")

const orc_rule *const aiotp__orc_rule_write_closed = &RULES[R_WRITE_WRITE_5];
const orc_rule *const aiotp__orc_rule_write_eof_closed = &RULES[R_WRITE_EOF_3];

void aiotp__orc_stream_init(orc *o, orc_t *ts)
{
    orc_stream *s = &ts->u.s;
    s->tx.id = ts->id;
    s->tx.sum = o->empty_sum;
    s->rx_sum = o->empty_sum;
    s->pkind = PK_UNKNOWN;
    s->pending_pkind = PK_UNKNOWN;
}

/* ---- peers ("tA peer tB", version 2 on) ----------------------------------------------

   The receiver's running total never passes what its peer's writes accepted; when it
   equals a total the peer had after one of its last ORC_CHECKPOINTS accepted writes, the
   running sums are equal too; and once the peer closed cleanly (close(), write_eof() or
   eof_received returning 0, no abort, no error) its EOF comes after every byte. */

static const orc_tx *peer_tx(const orc_t *ts, bool *clean, bool *dirty)
{
    if (ts->peer != NULL) {
        *clean = ts->peer->fin_clean;
        *dirty = ts->peer->fin_dirty;
        return &ts->peer->u.s.tx;
    }
    if (ts->peer_gone) {
        *clean = ts->u.s.peer_final.fin_clean;
        *dirty = ts->u.s.peer_final.fin_dirty;
        return &ts->u.s.peer_final;
    }
    return NULL;
}

static int check_peer_data(orc *o, orc_t *ts, const char *what)
{
    const orc_stream *s = &ts->u.s;
    bool clean;
    bool dirty;
    const orc_tx *p = peer_tx(ts, &clean, &dirty);
    unsigned k;
    if (p == NULL) {
        return 0;
    }
    if (s->rx_total > p->total) {
        return aiotp__orc_violate(o, ts, RULE(PROTO_STREAM_1),
                                  "t%lu %s: total=%llu, more than its peer t%lu's writes "
                                  "accepted (%llu)", ts->id, what,
                                  (unsigned long long)s->rx_total, p->id,
                                  (unsigned long long)p->total);
    }
    for (k = 0; k < p->ck_n; k++) {
        if (p->ck_total[k] == s->rx_total && p->ck_sum[k] != s->rx_sum) {
            return aiotp__orc_violate(o, ts, RULE(PROTO_STREAM_1),
                                      "t%lu %s: total=%llu sum=%08lx, but t%lu's first %llu "
                                      "bytes written have sum=%08lx (bytes changed, lost or "
                                      "reordered)", ts->id, what,
                                      (unsigned long long)s->rx_total,
                                      (unsigned long)s->rx_sum, p->id,
                                      (unsigned long long)p->ck_total[k],
                                      (unsigned long)p->ck_sum[k]);
        }
    }
    return 0;
}

static int check_peer_eof(orc *o, orc_t *ts)
{
    const orc_stream *s = &ts->u.s;
    bool clean = false;
    bool dirty = false;
    const orc_tx *p = peer_tx(ts, &clean, &dirty);
    if (p == NULL || !clean || dirty) {
        return 0;
    }
    if (s->rx_total != p->total || s->rx_sum != p->sum) {
        return aiotp__orc_violate(o, ts, RULE(PROTO_STREAM_1),
                                  "t%lu eof_received after %llu bytes (sum=%08lx); its peer "
                                  "t%lu closed cleanly after writing %llu (sum=%08lx)", ts->id,
                                  (unsigned long long)s->rx_total, (unsigned long)s->rx_sum,
                                  p->id, (unsigned long long)p->total, (unsigned long)p->sum);
    }
    return 0;
}

void aiotp__orc_stream_reclaim(orc *o, orc_t *ts)
{
    orc_t *p = ts->peer;
    (void)o;
    if (p != NULL) {
        p->u.s.peer_final = ts->u.s.tx;
        p->u.s.peer_final.fin_clean = ts->fin_clean;
        p->u.s.peer_final.fin_dirty = ts->fin_dirty;
        p->peer = NULL;
        p->peer_gone = true;
        ts->peer = NULL;
    }
}

/* ---- deliveries ------------------------------------------------------------------------- */

/* A read event starts (data_received, get_buffer, eof_received not after get_buffer). */
static int read_start(orc *o, orc_t *ts, int kind, const char *what)
{
    orc_stream *s = &ts->u.s;
    int rc = 0;
    int want = s->pending_pkind != PK_UNKNOWN ? s->pending_pkind : s->pkind;
    if (kind != PK_UNKNOWN) {
        if (want != PK_UNKNOWN && want != kind) {
            rc = aiotp__orc_violate(o, ts,
                                    s->pending_pkind != PK_UNKNOWN ? BASE_RULE(BASE_PROTO_1)
                                    : want == PK_BUFFERED ? RULE(PROTO_BUF_3)
                                                          : RULE(PROTO_STREAM_2),
                                    "t%lu %s on a transport whose protocol is %s", ts->id,
                                    what, want == PK_BUFFERED ? "buffered" : "streaming");
        }
        s->pkind = kind;
        s->pending_pkind = PK_UNKNOWN;
    } else if (want == PK_BUFFERED) {
        rc = aiotp__orc_violate(o, ts, RULE(PROTO_BUF_1),
                                "t%lu eof_received on a buffered protocol without get_buffer "
                                "first", ts->id);
    }
    if (ts->rpaused && !aiotp__orc_closing(ts)) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, BASE_RULE(READ_2),
                                           "t%lu %s while reading is paused", ts->id, what));
    }
    return rc;
}

/* Common to the callbacks that deliver incoming data or EOF. */
static int delivery(orc *o, orc_t *ts, const char *what, bool buffered)
{
    const orc_rule *machine = buffered ? RULE(PROTO_BUF_3) : RULE(PROTO_STREAM_2);
    if (!ts->made) {
        return aiotp__orc_violate(o, ts, machine, "t%lu %s before connection_made", ts->id,
                                  what);
    }
    if (ts->u.s.eof) {
        return aiotp__orc_violate(o, ts, machine, "t%lu %s after eof_received", ts->id, what);
    }
    return aiotp__orc_not_closing(o, ts, what);
}

static int data(orc *o, orc_t *ts, const orc_line *pl, bool after_gb, bool after_switch)
{
    orc_stream *s = &ts->u.s;
    bool buf = pl->name == N_BUFFER_UPDATED;
    const char *what = aiotp__orc_names[pl->name];
    int rc = 0;
    if (after_switch) {
        rc = aiotp__orc_violate(o, ts, RULE(PROTO_BUF_5),
                                "t%lu %s right after a get_buffer inside which set_protocol() "
                                "returned 0: bytes received into the old protocol's buffer "
                                "reach the new protocol", ts->id, what);
    }
    if (buf && !after_gb) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PROTO_BUF_3),
                                           "t%lu buffer_updated not right after a successful "
                                           "get_buffer", ts->id));
    } else {
        if (!buf) {
            rc = ORC_RC(rc, read_start(o, ts, PK_STREAMING, what));
        }
        rc = ORC_RC(rc, delivery(o, ts, what, buf));
        if (pl->n == 0) {
            rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PROTO_STREAM_1), "t%lu %s n=0",
                                               ts->id, what));
        } else if (buf && pl->n > s->gb_len) {
            rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PROTO_BUF_3),
                                               "t%lu buffer_updated n=%llu > len=%llu", ts->id,
                                               (unsigned long long)pl->n,
                                               (unsigned long long)s->gb_len));
        } else if (!buf && pl->n > ORC_READ_MAX) {
            const orc_rule *big = KIND(ts)->r.big_read;
            rc = ORC_RC(rc, aiotp__orc_violate(o, ts, big != NULL ? big : RULE(READ_1),
                                               "t%lu data_received n=%llu > 262144", ts->id,
                                               (unsigned long long)pl->n));
        }
    }
    s->gb_pending = false;
    if (s->rx_total > UINT64_MAX - pl->n || pl->total != s->rx_total + pl->n) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PROTO_STREAM_1),
                                           "t%lu %s total=%llu, %llu + n=%llu expected", ts->id,
                                           what, (unsigned long long)pl->total,
                                           (unsigned long long)s->rx_total,
                                           (unsigned long long)pl->n));
    }
    /* resynchronised to the line whatever was wrong */
    s->rx_total = pl->total;
    s->rx_sum = pl->sum;
    if (rc == 0) {
        rc = check_peer_data(o, ts, what);
    }
    return rc;
}

static int get_buffer(orc *o, orc_t *ts, const orc_line *pl)
{
    int rc = read_start(o, ts, PK_BUFFERED, "get_buffer");
    rc = ORC_RC(rc, delivery(o, ts, "get_buffer", true));
    if (pl->sizehint != -1) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PROTO_BUF_1),
                                           "t%lu get_buffer sizehint=%lld, -1 expected", ts->id,
                                           (long long)pl->sizehint));
    }
    return rc;
}

static int eof_received(orc *o, orc_t *ts, bool after_gb)
{
    orc_stream *s = &ts->u.s;
    int rc = 0;
    int r2;
    if (!after_gb) {
        rc = read_start(o, ts, PK_UNKNOWN, "eof_received");
    }
    if (s->eof) {
        return ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PROTO_STREAM_5),
                                             "t%lu second eof_received", ts->id));
    }
    r2 = delivery(o, ts, "eof_received", false);
    if (ts->made) {
        s->eof = true;
    }
    rc = ORC_RC(rc, r2);
    if (rc == 0) {
        rc = check_peer_eof(o, ts);
    }
    return rc;
}

int aiotp__orc_stream_cb(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_stream *s = &ts->u.s;
    bool adjacent = s->gb_seq + 1 == ts->seq;
    bool after_gb = s->gb_pending && adjacent;
    bool after_switch = s->switched && adjacent && (!o->iter_seen || s->gb_iter == o->iter) &&
                        (pl->name == N_BUFFER_UPDATED || pl->name == N_DATA_RECEIVED);
    int rc;
    s->switched = false;
    if (pl->name != N_BUFFER_UPDATED) {
        s->gb_pending = false;
    }
    if (!aiotp__orc_cb_start(o, ts, pl, &rc)) {
        s->gb_pending = false;
        return rc;
    }
    switch (pl->name) {
    case N_CONNECTION_MADE:
        return ORC_RC(rc, aiotp__orc_made(o, ts, pl));
    case N_CONNECTION_LOST:
        rc = ORC_RC(rc, aiotp__orc_done_owed(o, ts, RULE(WRITE_BORROW_1)));
        return ORC_RC(rc, aiotp__orc_lost(o, ts, pl));
    case N_WRITE_DONE:
        return ORC_RC(rc, aiotp__orc_write_done(o, ts, RULE(WRITE_BORROW_1)));
    case N_PAUSE_WRITING:
        return ORC_RC(rc, aiotp__orc_pause(o, ts, pl));
    case N_RESUME_WRITING:
        return aiotp__orc_resume(o, ts, pl, rc);
    case N_DATA_RECEIVED:
    case N_BUFFER_UPDATED:
        return ORC_RC(rc, data(o, ts, pl, after_gb, after_switch));
    case N_GET_BUFFER:
        return ORC_RC(rc, get_buffer(o, ts, pl));
    default: /* N_EOF_RECEIVED */
        return ORC_RC(rc, eof_received(o, ts, after_gb));
    }
}

int aiotp__orc_stream_cb_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl)
{
    orc_stream *s = &ts->u.s;
    const char *st = pl->status;
    bool ok = OK(pl);
    switch (f->name) {
    case N_DATA_RECEIVED:
    case N_EOF_RECEIVED:
        if (f->name == N_EOF_RECEIVED && ok) {
            if (!aiotp__orc_closing(ts) && !ts->lost) {
                ts->cl = CL_UNKNOWN; /* PROTO-STREAM-7: closes itself (flushing first) */
                ts->cl_by_query = false;
            }
            ts->fin_clean = true;
        } else if (!ok && !aiotp__orc_is_status(st, "1")) {
            aiotp__orc_failed(o, ts, st, RULE(PROTO_STREAM_4), true);
        }
        return 0;
    case N_GET_BUFFER:
        if (!ok) {
            aiotp__orc_failed(o, ts, st, RULE(PROTO_BUF_2), true);
        } else if (pl->len == 0) {
            aiotp__orc_failed(o, ts, "EEMPTYBUF", RULE(PROTO_BUF_2), true);
        } else {
            s->gb_pending = true;
            s->gb_len = pl->len;
        }
        s->gb_seq = ts->seq;
        s->gb_iter = o->iter;
        s->switched = f->switched;
        return 0;
    case N_BUFFER_UPDATED:
        if (!ok) {
            aiotp__orc_failed(o, ts, st, RULE(PROTO_BUF_2), true);
        }
        return 0;
    default:
        return aiotp__orc_base_cb_ret(o, ts, f, pl);
    }
}

/* ---- writes ------------------------------------------------------------------------------- */

void aiotp__orc_stream_call(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    (void)o;
    (void)pl;
    if (ORC_IS_WRITE(f->name)) {
        /* WRITE-WRITE-4/5: admission happens at entry, so a write is judged by the state
           at its call line (an abort inside its own pause_writing comes after it) */
        f->closed_at_call = ts->lost || ts->cl == CL_SCHEDULED;
        f->eof_at_call = ts->u.s.eof_written;
        f->open_at_call = !ts->lost && ts->cl == CL_OPEN;
    }
}

/* Statuses after which write()/writelines() certainly changed nothing. */
static bool write_refused(const char *st)
{
    return aiotp__orc_is_status(st, "EINVAL") || aiotp__orc_is_status(st, "ESTATE") ||
           aiotp__orc_is_status(st, "ECLOSED") || aiotp__orc_is_status(st, "ETOOBIG");
}

static const orc_rule *refused_rule(const char *st)
{
    if (aiotp__orc_is_status(st, "ESTATE")) {
        return RULE(WRITE_WRITE_4);
    }
    if (aiotp__orc_is_status(st, "ECLOSED")) {
        return RULE(WRITE_WRITE_5);
    }
    return RULE(WRITE_WRITE_6);
}

/* Bytes of the write calls of ts still in progress around f (outer frames) that no ret
   has counted yet: a nested ret's total may include them. */
static uint64_t outer_uncounted(const orc *o, const orc_t *ts)
{
    uint64_t extra = 0;
    size_t i;
    for (i = 0; i + 1 < o->depth; i++) {
        const orc_frame *g = &o->stack[i];
        if (g->is_call && !g->pre && ORC_IS_WRITE(g->name) &&
            g->t == ts && g->n <= UINT64_MAX - extra) {
            extra += g->n;
        }
    }
    return extra;
}

/* The running total of a write ret: see spec/oracle.md ("nested writes"). */
static int check_tx_total(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    orc_stream *s = &ts->u.s;
    uint64_t extra = outer_uncounted(o, ts);
    uint64_t own = f->pre ? 0 : f->n;
    uint64_t base[2];
    uint64_t add[2];
    size_t nb = 1;
    size_t na = 1;
    size_t i;
    size_t j;
    size_t k;
    const orc_rule *rule = RULE(WRITE_WRITE_1);
    bool range = false;

    base[0] = s->tx.total;
    base[1] = 0;
    if (extra > 0 && extra <= UINT64_MAX - s->tx.total) {
        base[1] = s->tx.total + extra;
        nb = 2;
    }
    if (OK(pl)) {
        add[0] = own;
        if (f->n == 0) {
            rule = RULE(WRITE_WRITE_2);
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
        rule = RULE(WRITE_WRITE_6);
    }
    for (i = 0; i < nb; i++) {
        for (j = 0; j < na; j++) {
            bool hit = add[j] <= UINT64_MAX - base[i] && pl->total == base[i] + add[j];
            if (range && j == 0) {
                hit = pl->total >= base[i] && pl->total - base[i] <= own;
            }
            if (!hit) {
                continue;
            }
            if (i == 1) {
                for (k = 0; k + 1 < o->depth; k++) {
                    orc_frame *g = &o->stack[k];
                    if (g->is_call && ORC_IS_WRITE(g->name) &&
                        g->t == ts) {
                        g->pre = true;
                    }
                }
            }
            if (pl->total == s->tx.total && s->tx_seen && pl->sum != s->tx.sum) {
                return aiotp__orc_violate(o, ts, rule,
                                          "t%lu %s: total unchanged but sum %08lx -> %08lx",
                                          ts->id, aiotp__orc_names[f->name],
                                          (unsigned long)s->tx.sum, (unsigned long)pl->sum);
            }
            if (pl->total == 0 && pl->sum != o->empty_sum) {
                return aiotp__orc_violate(o, ts, rule, "t%lu %s: total=0 but sum=%08lx",
                                          ts->id, aiotp__orc_names[f->name],
                                          (unsigned long)pl->sum);
            }
            return 0;
        }
    }
    return aiotp__orc_violate(o, ts, rule, "t%lu ret %s %s n=%llu: total=%llu after %llu",
                              ts->id, aiotp__orc_names[f->name], pl->status,
                              (unsigned long long)f->n, (unsigned long long)pl->total,
                              (unsigned long long)s->tx.total);
}

static int write_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    orc_stream *s = &ts->u.s;
    const char *st = pl->status;
    bool ok = OK(pl);
    int rc = 0;
    uint64_t before = s->tx.total;
    uint64_t outer = outer_uncounted(o, ts);
    if (ok && f->n > 0 && !f->pre && f->closed_at_call) {
        rc = aiotp__orc_violate(o, ts, RULE(WRITE_WRITE_5),
                                "t%lu %s n=%llu accepted once connection_lost was %s", ts->id,
                                aiotp__orc_names[f->name], (unsigned long long)f->n,
                                ts->lost ? "delivered" : "scheduled");
    } else if (ok && f->n > 0 && !f->pre && f->eof_at_call) {
        rc = aiotp__orc_violate(o, ts, RULE(WRITE_WRITE_4),
                                "t%lu %s n=%llu accepted after write_eof()", ts->id,
                                aiotp__orc_names[f->name], (unsigned long long)f->n);
    }
    if (pl->has_total) {
        rc = ORC_RC(rc, check_tx_total(o, ts, f, pl));
        if (pl->total != s->tx.total || !s->tx_seen) {
            s->tx.ck_total[s->tx.ck_head] = pl->total;
            s->tx.ck_sum[s->tx.ck_head] = pl->sum;
            s->tx.ck_head = (s->tx.ck_head + 1) % ORC_CHECKPOINTS;
            s->tx.ck_n += s->tx.ck_n < ORC_CHECKPOINTS;
        }
        s->tx.total = pl->total;
        s->tx.sum = pl->sum;
        s->tx_seen = true;
    }
    if (!ok && !write_refused(st) && !aiotp__orc_is_status(st, "ENOMEM") &&
        !aiotp__orc_is_status(st, "E?")) {
        aiotp__orc_fatal(o, ts, st, RULE(WRITE_WRITE_7));
    } else if (aiotp__orc_is_status(st, "ENOMEM") && pl->has_total && rc == 0 &&
               pl->total > before) {
        /* WRITE-WRITE-6: the kernel took part of this write and the rest could not be
           queued: the transport fails with ENOMEM. If the growth may be an outer write's
           bytes counted now, it may or may not have: both are accepted from here on. */
        if (pl->total - before > outer) {
            aiotp__orc_fatal(o, ts, st, RULE(WRITE_WRITE_6));
        } else {
            (void)aiotp__orc_closed_unseen(o, ts, false);
        }
    } else if (aiotp__orc_is_status(st, "ECLOSED") && f->open_at_call) {
        /* ECLOSED from a write on a transport the trace shows open: the kernel failed this
           write with ENOMEM or EINVAL (WRITE-WRITE-10) or an earlier OS error ended the
           transport, neither traced outside debug mode */
        (void)aiotp__orc_closed_unseen(o, ts, false);
    }
    if (rc == 0) {
        rc = aiotp__orc_missed_pause(o, ts, pl->size, BASE_RULE(FLOW_4));
    }
    return rc;
}

int aiotp__orc_stream_call_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    orc_stream *s = &ts->u.s;
    bool ok = OK(pl);
    int rc;
    size_t k;
    if (!aiotp__orc_after_lost(o, ts, f, pl, &rc)) {
        return rc;
    }
    switch (f->name) {
    case N_WRITE:
    case N_WRITELINES:
    case N_WRITE_BORROWED:
        aiotp__orc_borrowed_ret(ts, f, pl);
        return write_ret(o, ts, f, pl);
    case N_WRITE_EOF:
        if (aiotp__orc_closing(ts) || ts->lost) {
            if (ok && WANT(BASE_RULE(DONE_1))) {
                rc = aiotp__orc_violate(o, ts, BASE_RULE(DONE_1),
                                        "t%lu write_eof() when closing returned 0", ts->id);
            } else if (!ok && !aiotp__orc_is_status(pl->status, "ECLOSED")) {
                rc = aiotp__orc_violate(o, ts, RULE(WRITE_EOF_3),
                                        "t%lu write_eof() when closing returned %s", ts->id,
                                        pl->status);
            }
        } else if (aiotp__orc_is_status(pl->status, "ECLOSED") &&
                   (ts->cl == CL_MAYBE || aiotp__orc_closed_unseen(o, ts, true))) {
            rc = 0; /* ended by something the trace does not show (DONE-1) */
        } else if (s->eof_written && !ok) {
            rc = aiotp__orc_violate(o, ts, RULE(WRITE_EOF_3),
                                    "t%lu write_eof() when already done returned %s", ts->id,
                                    pl->status);
        } else if (aiotp__orc_is_status(pl->status, "ECLOSED") && WANT(BASE_RULE(DONE_1))) {
            rc = aiotp__orc_violate(o, ts, BASE_RULE(DONE_1),
                                    "t%lu write_eof() on an open transport returned ECLOSED",
                                    ts->id);
        } else if (!ok && !aiotp__orc_is_status(pl->status, "ECLOSED")) {
            /* the shutdown() error, EINVAL and EOPNOTSUPP included: aiotp's write_eof() on
               a traced stream transport has no other error (a foreign trace's exception,
               outside the aiotp profile, leaves the transport's end open: CL_MAYBE) */
            aiotp__orc_fatal(o, ts, pl->status, RULE(WRITE_EOF_4));
        }
        if (!aiotp__orc_closing(ts) && !ts->lost) {
            s->eof_written = true;
        }
        if (ok) {
            ts->fin_clean = true;
        }
        return rc;
    case N_SET_PROTOCOL:
        rc = aiotp__orc_base_call_ret(o, ts, f, pl);
        if (ok && !ts->lost && (f->pkind == PK_STREAMING || f->pkind == PK_BUFFERED)) {
            s->pending_pkind = f->pkind;
            /* PROTO-BUF-5: the read event of a get_buffer in progress must not reach the
               new protocol */
            for (k = 0; k + 1 < o->depth; k++) {
                orc_frame *g = &o->stack[k];
                if (!g->is_call && g->name == N_GET_BUFFER && g->t == ts) {
                    g->switched = true;
                }
            }
        }
        return rc;
    default:
        return aiotp__orc_base_call_ret(o, ts, f, pl);
    }
}

int aiotp__orc_stream_query(orc *o, orc_t *ts, const orc_line *pl)
{
    if (pl->query == Q_CAN_WRITE_EOF) {
        if (pl->value != 1) {
            return aiotp__orc_violate(o, ts, RULE(WRITE_CANEOF_1),
                                      "t%lu can_write_eof() 0 on a stream transport", ts->id);
        }
        return 0;
    }
    if (pl->query == Q_IS_READING && ts->u.s.eof && !ts->lost && !aiotp__orc_closing(ts)) {
        if (pl->value != 0) {
            return aiotp__orc_violate(o, ts, RULE(READ_5), "t%lu is_reading() 1 after EOF",
                                      ts->id);
        }
        return 0;
    }
    return aiotp__orc_query(o, ts, pl);
}

bool aiotp__orc_stream_valid(const orc *o, const orc_t *ts)
{
    const orc_stream *s = &ts->u.s;
    (void)o;
    if (s->pkind < PK_UNKNOWN || s->pkind > PK_BUFFERED || s->pending_pkind < PK_UNKNOWN ||
        s->pending_pkind > PK_BUFFERED) {
        return false;
    }
    if (s->gb_pending && (s->gb_len == 0 || s->gb_seq > ts->seq || ts->lost)) {
        return false;
    }
    if (s->eof && !ts->made) {
        return false;
    }
    if (s->tx.ck_n > ORC_CHECKPOINTS || s->tx.ck_head >= ORC_CHECKPOINTS ||
        s->peer_final.ck_n > ORC_CHECKPOINTS || s->peer_final.ck_head >= ORC_CHECKPOINTS) {
        return false;
    }
    return ts->peer == NULL || ts->peer->tkind == ts->tkind;
}

/* ---- what the pipe kinds share (pipe.c) --------------------------------------------------- */

int aiotp__orc_stream_write_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    return write_ret(o, ts, f, pl);
}

void aiotp__orc_borrowed_ret(orc_t *ts, const orc_frame *f, const orc_line *pl)
{
    if (f->name == N_WRITE_BORROWED && OK(pl) && f->n > 0) {
        ts->u.s.done_owed++;
    }
}

int aiotp__orc_write_done(orc *o, orc_t *ts, const orc_rule *rule)
{
    if (ts->u.s.done_owed == 0) {
        return aiotp__orc_violate(o, ts, rule, "t%lu write_done with no borrowed write owed one",
                                  ts->id);
    }
    ts->u.s.done_owed--;
    return 0;
}

int aiotp__orc_done_owed(orc *o, orc_t *ts, const orc_rule *rule)
{
    uint64_t owed = ts->u.s.done_owed;
    if (owed == 0) {
        return 0;
    }
    ts->u.s.done_owed = 0;
    return aiotp__orc_violate(o, ts, rule, "t%lu connection_lost with %llu write_done still owed",
                              ts->id, (unsigned long long)owed);
}

const orc_kind aiotp__orc_kind_stream = {
    .name = "stream",
    .rules = RULES,
    .nrules = R_COUNT,
    .cbs = ORC_BIT(N_CONNECTION_MADE) | ORC_BIT(N_CONNECTION_LOST) | ORC_BIT(N_DATA_RECEIVED) |
           ORC_BIT(N_EOF_RECEIVED) | ORC_BIT(N_GET_BUFFER) | ORC_BIT(N_BUFFER_UPDATED) |
           ORC_BIT(N_PAUSE_WRITING) | ORC_BIT(N_RESUME_WRITING) | ORC_BIT(N_WRITE_DONE),
    .calls = ORC_BIT(N_WRITE) | ORC_BIT(N_WRITELINES) | ORC_BIT(N_CLOSE) | ORC_BIT(N_ABORT) |
             ORC_BIT(N_PAUSE_READING) | ORC_BIT(N_RESUME_READING) | ORC_BIT(N_WRITE_EOF) |
             ORC_BIT(N_SET_LIMITS) | ORC_BIT(N_SET_PROTOCOL) | ORC_BIT(N_WRITE_BORROWED),
    .pause_in = ORC_BIT(N_WRITE) | ORC_BIT(N_WRITELINES) | ORC_BIT(N_SET_LIMITS) |
                ORC_BIT(N_WRITE_BORROWED),
    .pkinds = ORC_BIT(PK_STREAMING) | ORC_BIT(PK_BUFFERED),
    .r = {
        .made_late = BASE_RULE(PROTO_BASE_6),
        .lost_twice = BASE_RULE(PROTO_BASE_2),
        .lost_early = &RULES[R_PROTO_STREAM_2],
        .pause = BASE_RULE(FLOW_4),
        .resume = BASE_RULE(FLOW_5),
        .alternate = BASE_RULE(FLOW_6),
        .setter_pause = BASE_RULE(FLOW_7),
        .abort_resume = BASE_RULE(WRITE_ABORT_2),
        .close_twice = BASE_RULE(BASE_CLOSE_4),
        .close_lost = BASE_RULE(BASE_CLOSE_3),
        .close_status = BASE_RULE(PROTO_BASE_2),
        .abort_again = BASE_RULE(WRITE_ABORT_3),
        .abort_size = BASE_RULE(WRITE_ABORT_1),
        .abort_lost = BASE_RULE(WRITE_ABORT_4),
        .abort_status = BASE_RULE(PROTO_BASE_2),
        .drain_lost = BASE_RULE(BASE_CLOSE_2),
        .closed_reading = BASE_RULE(BASE_CLOSE_1),
        .closed_data = &RULES[R_PROTO_STREAM_3],
    },
    .init = aiotp__orc_stream_init,
    .cb = aiotp__orc_stream_cb,
    .cb_ret = aiotp__orc_stream_cb_ret,
    .call = aiotp__orc_stream_call,
    .call_ret = aiotp__orc_stream_call_ret,
    .query = aiotp__orc_stream_query,
    .reclaim = aiotp__orc_stream_reclaim,
    .valid = aiotp__orc_stream_valid,
};
