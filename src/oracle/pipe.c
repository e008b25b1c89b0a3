/*
 * src/oracle/pipe.c - the rules of pipe transports (open piperead, pipewrite): a read
 * pipe's Protocol deliveries and end of file, a write pipe's writes and flow control
 * (spec/rules.md "Pipe transports"; spec/pipe-transport.md). Deliveries and writes are
 * accounted as for streams (stream.c's helpers, the same state), the rules every kind
 * shares come from base.c.
 */
#include "oracle_int.h"

#include <string.h>

enum pipe_rule {
    R_MADE_1,
    R_READ_1,
    R_READ_3,
    R_EOF_1,
    R_CB_1,
    R_WRITE_2,
    R_WRITE_3,
    R_WRITE_6,
    R_FLOW_1,
    R_DRAIN_1,
    R_CLOSE_1,
    R_ABORT_1,
    R_LOST_1,
    R_BORROW_1,
    R_COUNT
};

#define R(id, prof, text) ORC_RULE(id, prof, text, "pipe")
static const orc_rule RULES[R_COUNT] = {
    [R_MADE_1] = R("PIPE-MADE-1", CPYTHON,
                   "connection_made comes in the pass after the pipe transport is made; "
                   "reading (a write pipe: watching for the reader to go) starts after it"),
    [R_READ_1] = R("PIPE-READ-1", CPYTHON,
                   "a read pipe calls data_received with non-empty data of at most 256 KiB "
                   "per read, in order (running totals exact)"),
    [R_READ_3] = R("PIPE-READ-3", DOC,
                   "no data_received after close(), after end of file or while reading is "
                   "paused"),
    [R_EOF_1] = R("PIPE-EOF-1", CPYTHON,
                  "at end of file a read pipe closes itself: eof_received, then "
                  "connection_lost(0) in the same pass, whatever eof_received returns"),
    [R_CB_1] = R("PIPE-CB-1", CPYTHON,
                 "a failing data_received or eof_received of a read pipe goes to the "
                 "exception handler; the pipe stays open (after eof_received "
                 "connection_lost(0) still follows)"),
    [R_WRITE_2] = R("PIPE-WRITE-2", CPYTHON,
                    "write() of 0 bytes returns 0 and changes nothing, also once closing"),
    [R_WRITE_3] = R("PIPE-WRITE-3", AIOTP,
                    "write() after close(), write_eof(), abort() or connection_lost returns "
                    "ECLOSED and drops the data"),
    [R_WRITE_6] = R("PIPE-WRITE-6", CPYTHON,
                    "a write pipe's write_eof() is close(): is_closing() turns true, "
                    "connection_lost(0) follows the flush; can_write_eof() is true; a second "
                    "one returns ECLOSED"),
    [R_FLOW_1] = R("PIPE-FLOW-1", CPYTHON,
                   "a write pipe calls pause_writing when its buffer goes over high and "
                   "resume_writing only once the buffer is empty (the low mark has no "
                   "effect)"),
    [R_DRAIN_1] = R("PIPE-DRAIN-1", CPYTHON,
                    "close() or write_eof() with bytes queued: connection_lost(0) comes in "
                    "the pass whose drain writes the last byte"),
    [R_CLOSE_1] = R("PIPE-CLOSE-1", CPYTHON,
                    "close() with nothing queued: connection_lost(0) in the next pass; a "
                    "second close() returns ECLOSED"),
    [R_ABORT_1] = R("PIPE-ABORT-1", CPYTHON,
                    "a write pipe's abort() drops the buffer (size 0), connection_lost(0) "
                    "comes in the next pass, never resume_writing after it"),
    [R_LOST_1] = R("PIPE-LOST-1", DOC,
                   "connection_lost exactly once and last; nothing is called after it"),
    [R_BORROW_1] = R("PIPE-BORROW-1", AIOTP,
                     "write_done runs exactly once for each write_borrowed that returned 0 "
                     "with n > 0, never inside a method call, and every one before the "
                     "transport's connection_lost"),
};
#undef R

#define RULE(x) (&RULES[R_##x])
#define OK(pl) aiotp__orc_is_status((pl)->status, "0")

static void pipe_init(orc *o, orc_t *ts)
{
    aiotp__orc_stream_init(o, ts);
}

/* ---- callbacks ------------------------------------------------------------------------------ */

static int eof_received(orc *o, orc_t *ts)
{
    orc_stream *s = &ts->u.s;
    int rc = 0;
    if (!ts->made) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(PROTO_BASE_3),
                                "t%lu eof_received before connection_made", ts->id);
    } else if (s->eof) {
        rc = aiotp__orc_violate(o, ts, RULE(EOF_1), "t%lu second eof_received", ts->id);
    } else if (!ts->cl_by_query) {
        /* (closing learned from a query only: the end of file made it closing before
           eof_received, PIPE-EOF-1, as CPython's read pipe does) */
        rc = aiotp__orc_not_closing(o, ts, "eof_received");
    }
    s->eof = true;
    if (!ts->lost) {
        /* PIPE-EOF-1: connection_lost(0) follows in this pass, whatever the result */
        ts->cl = CL_SCHEDULED;
        ts->cl_by_query = false;
        memcpy(ts->expect, "0", 2);
        ts->expect_rule = RULE(EOF_1);
        aiotp__orc_wait(o, ts, W_LOST_NOW, RULE(EOF_1));
    }
    return rc;
}

/* PIPE-READ-1, PIPE-READ-3: a read pipe's data. */
static int pipe_data(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_stream *s = &ts->u.s;
    int rc;
    if (!ts->made) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(PROTO_BASE_3),
                                "t%lu data_received before connection_made", ts->id);
    } else if (s->eof) {
        rc = aiotp__orc_violate(o, ts, RULE(READ_3), "t%lu data_received after eof_received",
                                ts->id);
    } else {
        rc = aiotp__orc_not_closing(o, ts, "data_received");
    }
    if (ts->rpaused && !aiotp__orc_closing(ts) && !ts->lost) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(READ_3),
                                           "t%lu data_received while reading is paused",
                                           ts->id));
    }
    if (pl->n == 0 || pl->n > ORC_READ_MAX) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(READ_1),
                                           "t%lu data_received n=%llu (1..262144 expected)",
                                           ts->id, (unsigned long long)pl->n));
    } else if (s->rx_total > UINT64_MAX - pl->n || pl->total != s->rx_total + pl->n) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(READ_1),
                                           "t%lu data_received total=%llu, %llu + n=%llu "
                                           "expected", ts->id, (unsigned long long)pl->total,
                                           (unsigned long long)s->rx_total,
                                           (unsigned long long)pl->n));
    }
    s->rx_total = pl->total; /* resynchronised to the line whatever was wrong */
    s->rx_sum = pl->sum;
    return rc;
}

static int pipe_cb(orc *o, orc_t *ts, const orc_line *pl)
{
    bool rd = ts->tkind == TK_PIPE_READ;
    int rc;
    if (!aiotp__orc_cb_start(o, ts, pl, &rc)) {
        return rc;
    }
    switch (pl->name) {
    case N_CONNECTION_MADE:
        return ORC_RC(rc, aiotp__orc_made(o, ts, pl));
    case N_CONNECTION_LOST:
        rc = ORC_RC(rc, aiotp__orc_done_owed(o, ts, RULE(BORROW_1)));
        return ORC_RC(rc, aiotp__orc_lost(o, ts, pl));
    case N_WRITE_DONE:
        if (rd) {
            break;
        }
        return ORC_RC(rc, aiotp__orc_write_done(o, ts, RULE(BORROW_1)));
    case N_PAUSE_WRITING:
    case N_RESUME_WRITING:
        if (rd) {
            break;
        }
        if (pl->name == N_PAUSE_WRITING) {
            return ORC_RC(rc, aiotp__orc_pause(o, ts, pl));
        }
        if (rc == 0 && pl->size != 0) {
            rc = aiotp__orc_violate(o, ts, RULE(FLOW_1),
                                    "t%lu resume_writing with size=%llu: a pipe resumes only "
                                    "once its buffer is empty", ts->id,
                                    (unsigned long long)pl->size);
        }
        return aiotp__orc_resume(o, ts, pl, rc);
    case N_DATA_RECEIVED:
        if (!rd) {
            break;
        }
        return ORC_RC(rc, pipe_data(o, ts, pl));
    default: /* N_EOF_RECEIVED */
        if (!rd) {
            break;
        }
        return ORC_RC(rc, eof_received(o, ts));
    }
    return ORC_RC(rc, aiotp__orc_violate(o, ts, BASE_RULE(PROTO_KIND_1),
                                         "t%lu (%s) cb %s: not a callback it calls", ts->id,
                                         KIND(ts)->name, aiotp__orc_names[pl->name]));
}

static int pipe_cb_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl)
{
    switch (f->name) {
    case N_DATA_RECEIVED:
    case N_EOF_RECEIVED:
        if (!OK(pl) && !aiotp__orc_is_status(pl->status, "1")) {
            /* PIPE-CB-1: reported, not fatal (eof_received: connection_lost(0) still) */
            aiotp__orc_failed(o, ts, pl->status, RULE(CB_1), false);
        }
        return 0;
    default:
        return aiotp__orc_base_cb_ret(o, ts, f, pl);
    }
}

/* ---- calls ---------------------------------------------------------------------------------- */

static void pipe_call(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    aiotp__orc_stream_call(o, ts, f, pl);
    if (ORC_IS_WRITE(f->name)) {
        /* PIPE-WRITE-3: closing (close, write_eof: flushing) refuses new data too */
        f->closed_at_call = f->closed_at_call || aiotp__orc_closing(ts);
        f->eof_at_call = false;
    }
}

static int write_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    int rc = 0;
    bool ok = OK(pl);
    if (f->n == 0 && !ok && !aiotp__orc_is_status(pl->status, "EINVAL")) {
        rc = aiotp__orc_violate(o, ts, RULE(WRITE_2), "t%lu %s n=0 returned %s", ts->id,
                                aiotp__orc_names[f->name], pl->status);
    } else if (ok && f->n > 0 && !f->pre && f->closed_at_call && !ts->lost &&
               ts->cl != CL_SCHEDULED) {
        rc = aiotp__orc_violate(o, ts, RULE(WRITE_3),
                                "t%lu %s n=%llu accepted while closing", ts->id,
                                aiotp__orc_names[f->name], (unsigned long long)f->n);
    }
    return ORC_RC(rc, aiotp__orc_stream_write_ret(o, ts, f, pl));
}

static int pipe_call_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    int rc;
    if (!aiotp__orc_after_lost(o, ts, f, pl, &rc)) {
        return rc;
    }
    switch (f->name) {
    case N_WRITE:
    case N_WRITELINES:
        return write_ret(o, ts, f, pl);
    case N_WRITE_BORROWED:
        aiotp__orc_borrowed_ret(ts, f, pl); /* PIPE-BORROW-1 */
        return write_ret(o, ts, f, pl);
    case N_WRITE_EOF: {
        /* PIPE-WRITE-6: a write pipe's write_eof() is its close() */
        orc_frame as_close = *f;
        as_close.name = N_CLOSE;
        return aiotp__orc_base_call_ret(o, ts, &as_close, pl);
    }
    default:
        return aiotp__orc_base_call_ret(o, ts, f, pl);
    }
}

static int pipe_query(orc *o, orc_t *ts, const orc_line *pl)
{
    if (pl->query == Q_IS_READING && ts->tkind == TK_PIPE_WRITE) {
        if (pl->value != 0) {
            return aiotp__orc_violate(o, ts, BASE_RULE(TRANSPORT_KIND_2),
                                      "t%lu is_reading() 1 on a write pipe", ts->id);
        }
        return 0; /* a write pipe never reads: says nothing about closing */
    }
    if (pl->query == Q_CAN_WRITE_EOF) {
        if (pl->value != (ts->tkind == TK_PIPE_WRITE ? 1u : 0u)) {
            return aiotp__orc_violate(o, ts, RULE(WRITE_6), "t%lu can_write_eof() %llu on a %s",
                                      ts->id, (unsigned long long)pl->value, KIND(ts)->name);
        }
        return 0;
    }
    return aiotp__orc_query(o, ts, pl);
}

static void pipe_reclaim(orc *o, orc_t *ts)
{
    (void)o;
    (void)ts;
}

static bool pipe_valid(const orc *o, const orc_t *ts)
{
    (void)o;
    return ts->peer == NULL && !ts->paired && ts->u.s.pkind <= PK_BUFFERED &&
           (ts->owner == 0 || (ts->owner_fd >= 0 && ts->owner_fd <= 2));
}

#define PIPE_RULES                                                                         \
    {                                                                                      \
        .made_late = &RULES[R_MADE_1], .lost_twice = &RULES[R_LOST_1],                     \
        .lost_early = &RULES[R_LOST_1], .pause = &RULES[R_FLOW_1],                         \
        .resume = &RULES[R_FLOW_1], .alternate = BASE_RULE(FLOW_6),                        \
        .setter_pause = BASE_RULE(FLOW_7), .abort_resume = &RULES[R_ABORT_1],              \
        .close_twice = &RULES[R_CLOSE_1], .close_lost = &RULES[R_CLOSE_1],                 \
        .close_status = BASE_RULE(PROTO_BASE_2), .abort_again = &RULES[R_ABORT_1],         \
        .abort_size = &RULES[R_ABORT_1], .abort_lost = &RULES[R_ABORT_1],                  \
        .abort_status = BASE_RULE(PROTO_BASE_2), .drain_lost = &RULES[R_DRAIN_1],          \
        .closed_reading = BASE_RULE(BASE_CLOSE_1), .closed_data = &RULES[R_READ_3],        \
    }

/* A read pipe: ReadTransport. The rule table is this kind's (the write pipe's kind names
   the same rules). */
const orc_kind aiotp__orc_kind_pipe_read = {
    .name = "read pipe",
    .rules = RULES,
    .nrules = R_COUNT,
    .cbs = ORC_BIT(N_CONNECTION_MADE) | ORC_BIT(N_CONNECTION_LOST) | ORC_BIT(N_DATA_RECEIVED) |
           ORC_BIT(N_EOF_RECEIVED) | ORC_BIT(N_PAUSE_WRITING) | ORC_BIT(N_RESUME_WRITING),
    .calls = ORC_BIT(N_CLOSE) | ORC_BIT(N_PAUSE_READING) | ORC_BIT(N_RESUME_READING) |
             ORC_BIT(N_SET_PROTOCOL),
    .pause_in = 0,
    .pkinds = ORC_BIT(PK_STREAMING),
    .r = PIPE_RULES,
    .init = pipe_init,
    .cb = pipe_cb,
    .cb_ret = pipe_cb_ret,
    .call = pipe_call,
    .call_ret = pipe_call_ret,
    .query = pipe_query,
    .reclaim = pipe_reclaim,
    .valid = pipe_valid,
    .no_limits = true,
};

/* A write pipe: WriteTransport. */
const orc_kind aiotp__orc_kind_pipe_write = {
    .name = "write pipe",
    .rules = RULES, /* the read pipe's table (not counted twice) */
    .nrules = 0,
    .cbs = ORC_BIT(N_CONNECTION_MADE) | ORC_BIT(N_CONNECTION_LOST) | ORC_BIT(N_DATA_RECEIVED) |
           ORC_BIT(N_EOF_RECEIVED) | ORC_BIT(N_PAUSE_WRITING) | ORC_BIT(N_RESUME_WRITING) |
           ORC_BIT(N_WRITE_DONE),
    .calls = ORC_BIT(N_WRITE) | ORC_BIT(N_WRITELINES) | ORC_BIT(N_CLOSE) | ORC_BIT(N_ABORT) |
             ORC_BIT(N_WRITE_EOF) | ORC_BIT(N_SET_LIMITS) | ORC_BIT(N_SET_PROTOCOL) |
             ORC_BIT(N_WRITE_BORROWED),
    .pause_in = ORC_BIT(N_WRITE) | ORC_BIT(N_WRITELINES) | ORC_BIT(N_SET_LIMITS) |
                ORC_BIT(N_WRITE_BORROWED),
    .pkinds = ORC_BIT(PK_STREAMING) | ORC_BIT(PK_BUFFERED),
    .r = PIPE_RULES,
    .init = pipe_init,
    .cb = pipe_cb,
    .cb_ret = pipe_cb_ret,
    .call = pipe_call,
    .call_ret = pipe_call_ret,
    .query = pipe_query,
    .reclaim = pipe_reclaim,
    .valid = pipe_valid,
    .no_limits = false,
};
