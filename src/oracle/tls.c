/*
 * src/oracle/tls.c - the rules of TLS transports (open tls, format 3): the application
 * layer is checked with the stream rules (its protocols are Protocol and BufferedProtocol,
 * its writes are counted the same way), plus the TLS ones: connection_made at the end of
 * the handshake, nothing at all for a failed handshake, no half-close, eof_received
 * closes (spec/rules.md "TLS transports", spec/oracle.md).
 *
 * Its callbacks may lie inside the callbacks of the stream transport below it (`tN over
 * tM`): that transport's protocol is the TLS layer, which calls the application from its
 * data_received, resume_writing and connection_lost.
 */
#include "oracle_int.h"

#include <string.h>

enum tls_rule {
    R_TLS_HS_2,
    R_TLS_HS_3,
    R_TLS_EOF_1,
    R_TLS_OVER_1,
    R_TLS_CLOSE_5,
    R_TLS_CLOSE_6,
    R_TLS_BUF_1,
    R_TLS_DATA_2,
    R_COUNT
};

#define R(id, prof, text) ORC_RULE(id, prof, text, "tls")
static const orc_rule RULES[R_COUNT] = {
    [R_TLS_HS_2] = R("TLS-HS-2", CPYTHON,
                     "connection_made of a TLS transport comes right after its 'handshake "
                     "status=0' line, and never for a transport made by start_tls"),
    [R_TLS_HS_3] = R("TLS-HS-3", CPYTHON,
                     "a TLS transport whose handshake failed (or never completed) calls no "
                     "protocol callback: no connection_made, no connection_lost; one "
                     "handshake line at most"),
    [R_TLS_EOF_1] = R("TLS-EOF-1", DOC,
                      "no half-close: can_write_eof() is 0 (and write_eof() returns ENOTSUP)"),
    [R_TLS_OVER_1] = R("TLS-OVER-1", AIOTP,
                       "an over/upgrade line comes right after the TLS transport's limits "
                       "line, once, and names a live stream transport of the same loop"),
    [R_TLS_CLOSE_5] = R("TLS-CLOSE-5", AIOTP,
                        "after close() the peer's close_notify ends the shutdown without "
                        "eof_received (CPython and uvloop call eof_received then: DEV-76)"),
    [R_TLS_CLOSE_6] = R("TLS-CLOSE-6", AIOTP,
                        "close() calls no protocol callback: what arrives while closing is "
                        "discarded (CPython reads what is pending inside close(): DEV-77)"),
    [R_TLS_BUF_1] = R("TLS-BUF-1", AIOTP,
                      "a BufferedProtocol over TLS gets get_buffer(-1) (CPython's layer passes "
                      "the encrypted bytes pending as the size hint)"),
    [R_TLS_DATA_2] = R("TLS-DATA-2", AIOTP,
                       "one data_received of a TLS transport carries at most 256 KiB (CPython "
                       "joins all the plaintext there is: DEV-77)"),
};
#undef R

#define RULE(x) (&RULES[R_##x])
#define OK(pl) aiotp__orc_is_status((pl)->status, "0")

static void tls_init(orc *o, orc_t *ts)
{
    aiotp__orc_stream_init(o, ts);
}

/* The line after 'handshake status=0' must be connection_made (TLS-HS-2). */
static int made_due(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_tls_ext *x = &ts->u.s.tls;
    if (!x->made_due) {
        return 0;
    }
    x->made_due = false;
    if (pl->kind == L_CB && pl->name == N_CONNECTION_MADE) {
        return 0;
    }
    return aiotp__orc_violate(o, ts, RULE(TLS_HS_2),
                              "t%lu: the line after its handshake is not connection_made",
                              ts->id);
}

/* The callbacks CPython's layer may call inside the transport's own close() (it reads what
   is pending as it starts the shutdown): TLS-CLOSE-6 [aiotp]; any other is TRACE-4. */
static int inside_close(orc *o, orc_t *ts, const orc_line *pl)
{
    const orc_frame *f = aiotp__orc_top(o);
    if (f == NULL || !f->is_call || f->t != ts || f->name != N_CLOSE) {
        return 0;
    }
    if (pl->name == N_PAUSE_WRITING) {
        return 0; /* (inside any call that may write: FLOW rules) */
    }
    if (pl->name == N_GET_BUFFER || pl->name == N_BUFFER_UPDATED ||
        pl->name == N_DATA_RECEIVED || pl->name == N_EOF_RECEIVED) {
        return aiotp__orc_violate(o, ts, RULE(TLS_CLOSE_6), "t%lu cb %s inside its close()",
                                  ts->id, aiotp__orc_names[pl->name]);
    }
    return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_4), "t%lu cb %s nested inside its close",
                              ts->id, aiotp__orc_names[pl->name]);
}

static int tls_cb(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_tls_ext *x = &ts->u.s.tls;
    int rc;
    if (pl->name == N_GET_BUFFER && pl->sizehint != -1) {
        /* TLS-BUF-1: CPython's layer passes its pending bytes; the rest as any get_buffer */
        orc_line hint = *pl;
        hint.sizehint = -1;
        rc = aiotp__orc_violate(o, ts, RULE(TLS_BUF_1),
                                "t%lu get_buffer sizehint=%lld, -1 expected", ts->id,
                                (long long)pl->sizehint);
        return ORC_RC(rc, tls_cb(o, ts, &hint));
    }
    rc = made_due(o, ts, pl);
    rc = ORC_RC(rc, inside_close(o, ts, pl));
    if (x->handshake && !x->hs_ok) {
        return ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(TLS_HS_3),
                                             "t%lu cb %s after its handshake failed", ts->id,
                                             aiotp__orc_names[pl->name]));
    }
    if (pl->name == N_CONNECTION_MADE && x->upgrade) {
        /* (its protocol counts as connected: judged here alone, not as a second one) */
        return ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(TLS_HS_2),
                                             "t%lu connection_made of a transport made by "
                                             "start_tls", ts->id));
    }
    if (pl->name == N_CONNECTION_MADE && !x->hs_ok) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(TLS_HS_2),
                                           "t%lu connection_made before its handshake "
                                           "completed", ts->id));
    }
    if (pl->name == N_CONNECTION_LOST && x->lower != 0) {
        /* a connection_lost outside every callback of the stream transport
           below (a recorder of a foreign loop sees that transport until start_tls gave it
           the loop's TLS layer, whose callbacks it cannot wrap): the transport below ended
           with it, unseen */
        size_t k;
        bool inside = false;
        orc_t *t;
        for (k = 0; k < o->depth; k++) {
            inside = inside || (o->stack[k].t->id == x->lower && !o->stack[k].is_call);
        }
        for (t = o->live.head; t != NULL && !inside; t = t->live.next) {
            if (t->id == x->lower && t->segment == o->segment) {
                t->end_above = true;
            }
        }
    }
    if (pl->name == N_CONNECTION_LOST && !ts->made) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(TLS_HS_3),
                                           "t%lu connection_lost without a completed "
                                           "handshake", ts->id));
    }
    if (pl->name == N_EOF_RECEIVED && x->closed_by_call && !ts->u.s.eof && !ts->lost &&
        ts->made) {
        /* TLS-CLOSE-5: the peer's close_notify that completes the shutdown of a close():
           CPython's layer tells the protocol eof_received (once, before connection_lost);
           aiotp does not (DEV-76). Not data after close (BASE-CLOSE-1 is about what the
           socket reads): judged by TLS-CLOSE-5 alone, the rest as any eof_received. */
        int cl = ts->cl;
        bool paused = ts->rpaused;
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(TLS_CLOSE_5),
                                           "t%lu eof_received after close()", ts->id));
        ts->cl = CL_OPEN;
        ts->rpaused = false;
        ts->u.s.gb_pending = true; /* (no get_buffer first: as for a close_notify below) */
        ts->u.s.gb_seq = ts->seq - 1;
        ts->u.s.gb_len = 1;
        rc = ORC_RC(rc, aiotp__orc_stream_cb(o, ts, pl));
        ts->cl = cl;
        ts->rpaused = paused;
        return rc;
    }
    if (pl->name == N_EOF_RECEIVED) {
        /* the TLS layer knows the close_notify without a buffer to receive into: a
           buffered protocol gets eof_received without get_buffer first (PROTO-BUF-1 is the
           socket's; DEV-38) */
        orc_stream *st = &ts->u.s;
        st->gb_pending = true;
        st->gb_seq = ts->seq - 1;
        st->gb_len = 1;
    }
    return ORC_RC(rc, aiotp__orc_stream_cb(o, ts, pl));
}

static int tls_cb_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl)
{
    int rc = aiotp__orc_stream_cb_ret(o, ts, f, pl);
    bool closes = f->name == N_EOF_RECEIVED &&
                  (OK(pl) || aiotp__orc_is_status(pl->status, "1")) && !ts->lost;
    if (closes && !aiotp__orc_closing(ts)) {
        /* TLS-EOF-2: no half-close: the transport closes whatever eof_received returned */
        ts->cl = CL_UNKNOWN;
        ts->cl_by_query = false;
        ts->fin_clean = true;
    }
    if (closes) {
        /* ... and its close_notify may wait in the layer (the transport below paused its
           writing) and count in the write buffer (TLS-FLOW-2), without a line */
        ts->size_slack = ORC_TLS_ALERT_MAX;
    }
    return rc;
}

static void tls_call(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    (void)made_due(o, ts, pl); /* (judged again at the ret: a violation once is enough) */
    aiotp__orc_stream_call(o, ts, f, pl);
}

/* The TLS layer closes without a line of its own when the stream transport below ends
   it (a bare EOF, a record error or a failed write below: the layer closes or aborts the
   transport below, and its own connection_lost comes inside that one's): once the
   transport below is closing or gone, the TLS transport may be closing (DONE-1 then
   allows ECLOSED from pause_reading/resume_reading, as a query learns it). */
static void lower_maybe_closing(orc *o, orc_t *ts)
{
    const orc_tls_ext *x = &ts->u.s.tls;
    const orc_t *t;
    bool gone = true;
    if (x->lower == 0 || ts->lost || ts->cl != CL_OPEN) {
        return;
    }
    for (t = o->live.head; t != NULL; t = t->live.next) {
        if (t->id == x->lower && t->segment == o->segment) {
            gone = t->lost || aiotp__orc_closing(t) || t->cl == CL_MAYBE;
        }
    }
    if (gone) {
        ts->cl = CL_MAYBE;
        ts->size_slack = ORC_TLS_ALERT_MAX; /* (its close_notify, as in tls_cb_ret) */
    }
}

static int tls_call_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    bool ok = OK(pl);
    int rc;
    lower_maybe_closing(o, ts);
    if (f->hs_inside && ok && (f->name == N_CLOSE || f->name == N_ABORT)) {
        return 0; /* TLS-CLOSE-1: it ended the handshake (start_tls, before it completed) */
    }
    if (f->name != N_CLOSE) {
        return aiotp__orc_stream_call_ret(o, ts, f, pl);
    }
    if (!aiotp__orc_after_lost(o, ts, f, pl, &rc)) {
        return rc;
    }
    /* close(): the close_notify exchange decides when connection_lost comes, and with
       which status (0, or ETIMEDOUT when the peer never answers): no deadline */
    if ((aiotp__orc_closing(ts) || ts->lost) && ok) {
        return aiotp__orc_violate(o, ts, BASE_RULE(BASE_CLOSE_4),
                                  "t%lu second close() returned 0", ts->id);
    }
    if (ok) {
        ts->cl = CL_UNKNOWN;
        ts->cl_by_query = false;
        ts->fin_clean = true;
        ts->u.s.tls.closed_by_call = true;
    } else if (!aiotp__orc_closing(ts)) {
        ts->cl = CL_UNKNOWN; /* closed by something the trace does not show */
        ts->fin_dirty = true;
    }
    return 0;
}

static int tls_query(orc *o, orc_t *ts, const orc_line *pl)
{
    int rc = made_due(o, ts, pl);
    if (pl->query == Q_CAN_WRITE_EOF) {
        if (pl->value != 0) {
            rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(TLS_EOF_1),
                                               "t%lu can_write_eof() 1 on a TLS transport",
                                               ts->id));
        }
        return rc;
    }
    return ORC_RC(rc, aiotp__orc_stream_query(o, ts, pl));
}

static int tls_line(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_tls_ext *x = &ts->u.s.tls;
    int rc = 0;
    if (pl->kind == L_OVER) {
        orc_t *low = NULL;
        orc_t *t;
        for (t = o->live.head; t != NULL; t = t->live.next) {
            if (t->id == pl->peer && t->segment == o->segment) {
                low = t;
            }
        }
        if (x->lower != 0 || ts->seq > 4 || ts->made) {
            return aiotp__orc_violate(o, ts, RULE(TLS_OVER_1),
                                      "t%lu: a second or late over/upgrade line", ts->id);
        }
        if (low == NULL || low->tkind != TK_STREAM || low->lost) {
            rc = aiotp__orc_violate(o, ts, RULE(TLS_OVER_1),
                                    "t%lu over t%lu: not a live stream transport of this loop",
                                    ts->id, pl->peer);
        }
        x->lower = pl->peer;
        x->upgrade = pl->upgrade;
        if (pl->upgrade) {
            ts->made = true; /* its protocol was connected on the stream transport */
        }
        return rc;
    }
    /* L_HANDSHAKE */
    rc = made_due(o, ts, pl);
    if (x->handshake) {
        return ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(TLS_HS_3), "t%lu second handshake line",
                                             ts->id));
    }
    x->handshake = true;
    x->hs_ok = OK(pl);
    if (x->hs_ok) {
        x->made_due = !x->upgrade;
    } else {
        /* TLS-HS-3: the transport is over; the protocol is told nothing */
        size_t k;
        for (k = 0; k < o->depth; k++) {
            if (o->stack[k].t == ts && o->stack[k].is_call) {
                o->stack[k].hs_inside = true;
            }
        }
        ts->made = true;
        ts->lost = true;
        ts->cl = CL_UNKNOWN;
        aiotp__orc_unwait(o, ts);
    }
    return rc;
}

/* TRACE-4 for TLS: its callbacks may lie inside a callback of the transport below. */
static bool tls_nest_ok(const orc *o, const orc_t *ts, const orc_frame *f)
{
    (void)o;
    if (f->is_call && f->t == ts && f->name == N_CLOSE) {
        return true; /* judged by inside_close() */
    }
    return !f->is_call && ts->u.s.tls.lower != 0 && f->t->id == ts->u.s.tls.lower &&
           f->t != ts;
}

static bool tls_valid(const orc *o, const orc_t *ts)
{
    const orc_tls_ext *x = &ts->u.s.tls;
    if (x->made_due && (!x->hs_ok || x->upgrade)) {
        return false;
    }
    if (x->hs_ok && !x->handshake) {
        return false;
    }
    return aiotp__orc_stream_valid(o, ts);
}

const orc_kind aiotp__orc_kind_tls = {
    .name = "tls",
    .ends_traced = true, /* an end below shows on the stream transport (lower_maybe_closing) */
    .rules = RULES,
    .nrules = R_COUNT,
    .cbs = ORC_BIT(N_CONNECTION_MADE) | ORC_BIT(N_CONNECTION_LOST) | ORC_BIT(N_DATA_RECEIVED) |
           ORC_BIT(N_EOF_RECEIVED) | ORC_BIT(N_GET_BUFFER) | ORC_BIT(N_BUFFER_UPDATED) |
           ORC_BIT(N_PAUSE_WRITING) | ORC_BIT(N_RESUME_WRITING),
    /* TLS-EOF-1: write_eof is a method the kind lacks: ENOTSUP (TRANSPORT-KIND-2) */
    .calls = ORC_BIT(N_WRITE) | ORC_BIT(N_WRITELINES) | ORC_BIT(N_CLOSE) | ORC_BIT(N_ABORT) |
             ORC_BIT(N_PAUSE_READING) | ORC_BIT(N_RESUME_READING) | ORC_BIT(N_SET_LIMITS) |
             ORC_BIT(N_SET_PROTOCOL),
    .pause_in = ORC_BIT(N_WRITE) | ORC_BIT(N_WRITELINES) | ORC_BIT(N_SET_LIMITS),
    .pkinds = ORC_BIT(PK_STREAMING) | ORC_BIT(PK_BUFFERED),
    .r = {
        .made_late = NULL, /* connection_made comes with the end of the handshake */
        .lost_twice = BASE_RULE(PROTO_BASE_2),
        .lost_early = &RULES[R_TLS_HS_3],
        .pause = BASE_RULE(FLOW_4),
        .resume = BASE_RULE(FLOW_5),
        .alternate = BASE_RULE(FLOW_6),
        .setter_pause = BASE_RULE(FLOW_7),
        .abort_resume = BASE_RULE(WRITE_ABORT_2),
        .close_twice = BASE_RULE(BASE_CLOSE_4),
        .close_lost = NULL,
        .close_status = NULL,
        .abort_again = BASE_RULE(WRITE_ABORT_3),
        .abort_size = BASE_RULE(WRITE_ABORT_1),
        .abort_lost = BASE_RULE(WRITE_ABORT_4),
        .abort_status = BASE_RULE(PROTO_BASE_2),
        .drain_lost = NULL,
        .closed_reading = BASE_RULE(BASE_CLOSE_1),
        .closed_data = BASE_RULE(BASE_CLOSE_1),
        .big_read = &RULES[R_TLS_DATA_2],
    },
    .init = tls_init,
    .cb = tls_cb,
    .cb_ret = tls_cb_ret,
    .call = tls_call,
    .call_ret = tls_call_ret,
    .query = tls_query,
    .reclaim = aiotp__orc_stream_reclaim,
    .valid = tls_valid,
    .line = tls_line,
    .nest_ok = tls_nest_ok,
    .default_low = 131072u,
    .default_high = 524288u,
};
