/*
 * src/oracle/base.c - the rules every transport kind shares (spec/rules.md: BaseTransport,
 * ReadTransport, WriteTransport's abort and buffer size, flow control, BaseProtocol), as
 * helpers the kind modules call with their own rule choices (orc_kind_rules); and the
 * "gone" kind: a transport reclaimed after its connection_lost that a later line names
 * (only the rules about calls after connection_lost can still be judged).
 */
#include "oracle_int.h"

#include <stdio.h>
#include <string.h>

#define R(id, prof, text) ORC_RULE(id, prof, text, "base")
const orc_rule aiotp__orc_base_rules[RB_COUNT] = {
    [RB_PROTO_BASE_1] = R("PROTO-BASE-1", DOC, "connection_made is called exactly once, first"),
    [RB_PROTO_BASE_2] = R("PROTO-BASE-2", DOC,
                          "connection_lost is called exactly once, last, with 0 for a "
                          "regular close or abort; nothing is called after it"),
    [RB_PROTO_BASE_3] = R("PROTO-BASE-3", DOC,
                          "every other callback happens between connection_made and "
                          "connection_lost"),
    [RB_PROTO_BASE_5] = R("PROTO-BASE-5", CPYTHON,
                          "a failing connection_made or connection_lost goes to the "
                          "exception handler; the transport carries on"),
    [RB_PROTO_BASE_6] = R("PROTO-BASE-6", CPYTHON,
                          "connection_made is called in the pass after the transport is "
                          "made"),
    [RB_BASE_CLOSE_1] = R("BASE-CLOSE-1", DOC,
                          "close() stops reading at once: no data afterwards, is_reading() "
                          "false"),
    [RB_BASE_CLOSE_2] = R("BASE-CLOSE-2", CPYTHON,
                          "close() with buffered data: connection_lost(0) comes in the pass "
                          "whose drain sends the last byte"),
    [RB_BASE_CLOSE_3] = R("BASE-CLOSE-3", CPYTHON,
                          "with an empty buffer, close() schedules connection_lost(0) for "
                          "the next pass"),
    [RB_BASE_CLOSE_4] = R("BASE-CLOSE-4", CPYTHON,
                          "a second close() has no effect and returns ECLOSED"),
    [RB_BASE_CLOSING_1] = R("BASE-CLOSING-1", DOC,
                            "is_closing() is false while open and true from close(), "
                            "abort() or a fatal error on"),
    [RB_BASE_PROTO_1] = R("BASE-PROTO-1", CPYTHON,
                          "after set_protocol the new protocol (streaming or buffered) "
                          "receives from the next read event"),
    [RB_BASE_PROTO_2] = R("BASE-PROTO-2", AIOTP,
                          "set_protocol after connection_lost returns ECLOSED"),
    [RB_TRANSPORT_KIND_2] = R("TRANSPORT-KIND-2", AIOTP,
                              "a method the transport's kind does not have returns ENOTSUP "
                              "and changes nothing (one it has never returns ENOTSUP)"),
    [RB_PROTO_KIND_1] = R("PROTO-KIND-1", AIOTP,
                          "a transport never calls the callbacks of a protocol of another "
                          "kind (a table it cannot use is refused)"),
    [RB_PROTO_KIND_2] = R("PROTO-KIND-2", AIOTP,
                          "set_protocol with a table of another kind is refused "
                          "(EPROTOKIND) and keeps the current protocol"),
    [RB_READ_2] = R("READ-2", DOC,
                    "pause_reading() stops data delivery until resume_reading(); on an open "
                    "transport it returns 0; is_reading() reflects it"),
    [RB_READ_3] = R("READ-3", DOC,
                    "resume_reading() on an open transport returns 0 and delivers what "
                    "arrived while paused"),
    [RB_WRITE_ABORT_1] = R("WRITE-ABORT-1", DOC,
                           "abort() drops buffered data (size 0) and connection_lost(0) "
                           "follows"),
    [RB_WRITE_ABORT_2] = R("WRITE-ABORT-2", CPYTHON, "abort() never calls resume_writing"),
    [RB_WRITE_ABORT_3] = R("WRITE-ABORT-3", CPYTHON,
                           "abort() once connection_lost is scheduled or delivered returns "
                           "ECLOSED"),
    [RB_WRITE_ABORT_4] = R("WRITE-ABORT-4", CPYTHON,
                           "after abort() connection_lost comes in the next pass"),
    [RB_WRITE_SIZE_1] = R("WRITE-SIZE-1", DOC,
                          "get_write_buffer_size() is the number of queued bytes: the size "
                          "last reported, or less after a drain; 0 after abort() and "
                          "connection_lost"),
    [RB_FLOW_1] = R("FLOW-1", CPYTHON, "default limits: high 65536, low 16384"),
    [RB_FLOW_2] = R("FLOW-2", CPYTHON,
                    "only high given: low = high/4; only low: high = 4*low; neither: the "
                    "defaults"),
    [RB_FLOW_3] = R("FLOW-3", DOC,
                    "after every set_write_buffer_limits 0 <= low <= high; a refused call "
                    "leaves the limits unchanged, a valid pair is not refused"),
    [RB_FLOW_4] = R("FLOW-4", DOC,
                    "pause_writing is called when the size goes strictly over high, at most "
                    "once until resume, synchronously inside write/writelines/"
                    "set_write_buffer_limits"),
    [RB_FLOW_5] = R("FLOW-5", DOC,
                    "resume_writing is called from the drain (outside any call) when paused "
                    "and the size is at or below low"),
    [RB_FLOW_6] = R("FLOW-6", DOC,
                    "pause_writing and resume_writing strictly alternate, starting with "
                    "pause"),
    [RB_FLOW_7] = R("FLOW-7", CPYTHON,
                    "lowering high below the size pauses inside the setter; raising the "
                    "limits never resumes by itself"),
    [RB_FLOW_8] = R("FLOW-8", CPYTHON,
                    "a failing pause_writing or resume_writing goes to the exception "
                    "handler; the transport carries on"),
    [RB_FLOW_10] = R("FLOW-10", DOC,
                     "get_write_buffer_limits() returns the limits in force, as (low, "
                     "high)"),
    [RB_BAD_2] = R("BAD-2", AIOTP,
                   "calls after connection_lost are no-ops returning 0, ECLOSED, ESTATE or "
                   "EINVAL, with an empty buffer"),
    [RB_DONE_1] = R("DONE-1", AIOTP,
                    "on a closing or closed transport pause_reading(), resume_reading() "
                    "and write_eof() change nothing and return ECLOSED"),
};
#undef R

/* In a chain of checks, a rule of a higher profile than doc is skipped when it is outside
   the profile, so that the next check still runs (doc rules are always in it). */
#define WANT(rule) aiotp__orc_want(o, (rule))
#define OK(pl) aiotp__orc_is_status((pl)->status, "0")

/* ---- state helpers ------------------------------------------------------------------ */

bool aiotp__orc_closing(const orc_t *ts)
{
    return ts->cl == CL_FLUSHING || ts->cl == CL_SCHEDULED || ts->cl == CL_UNKNOWN;
}

void aiotp__orc_set_size(orc *o, orc_t *ts, uint64_t size)
{
    ts->size = size;
    ts->size_epoch = o->epoch;
    ts->size_slack = 0;
}

/* Closing was only learned from a query, and the trace now shows the transport open: the
   query was wrong (BASE-CLOSING-1); the state goes back to open. */
static int query_was_wrong(orc *o, orc_t *ts, const char *what)
{
    int rc = 0;
    if (ts->cl_by_query) { /* (a learned closing is a closing) */
        rc = aiotp__orc_violate(o, ts, BASE_RULE(BASE_CLOSING_1),
                                "t%lu %s, but a query said it was closing", ts->id, what);
        ts->cl = CL_OPEN;
        ts->cl_by_query = false;
    }
    return rc;
}

int aiotp__orc_not_closing(orc *o, orc_t *ts, const char *what)
{
    int rc = query_was_wrong(o, ts, what);
    if (rc == 0 && aiotp__orc_closing(ts)) {
        rc = aiotp__orc_violate(o, ts, KIND(ts)->r.closed_data,
                                "t%lu %s after close/abort/fatal error", ts->id, what);
    }
    return rc;
}

static void schedule(orc *o, orc_t *ts, const char *status, const orc_rule *status_rule,
                     int wait, const orc_rule *wait_rule)
{
    ts->cl = CL_SCHEDULED;
    ts->cl_by_query = false;
    (void)snprintf(ts->expect, sizeof(ts->expect), "%s", status);
    ts->expect_rule = status_rule;
    aiotp__orc_wait(o, ts, wait, wait_rule);
}

void aiotp__orc_fatal(orc *o, orc_t *ts, const char *status, const orc_rule *rule)
{
    ts->fin_dirty = true;
    if (ts->lost) {
        return;
    }
    if (!WANT(rule)) {
        if (ts->cl == CL_OPEN) {
            ts->cl = CL_MAYBE;
        }
        return;
    }
    if (ts->cl == CL_OPEN || ts->cl == CL_FLUSHING || ts->cl == CL_MAYBE) {
        schedule(o, ts, status, rule, W_NONE, NULL);
    }
}

void aiotp__orc_failed(orc *o, orc_t *ts, const char *status, const orc_rule *rule,
                       bool fatal)
{
    if (fatal) {
        aiotp__orc_fatal(o, ts, status, rule);
    } else if (!WANT(rule) && !ts->lost && ts->cl == CL_OPEN) {
        ts->cl = CL_MAYBE; /* what a failing callback does is outside the profile */
    }
    if (WANT(rule)) {
        aiotp__orc_expect_exc(o, ts, status, rule);
    }
}

/* ---- callbacks ------------------------------------------------------------------------ */

bool aiotp__orc_cb_start(orc *o, orc_t *ts, const orc_line *pl, int *rc)
{
    const orc_frame *f = aiotp__orc_top(o);
    *rc = 0;
    if (ts->lost) {
        *rc = aiotp__orc_violate(o, ts, KIND(ts)->r.lost_twice,
                                 "t%lu cb %s after connection_lost", ts->id,
                                 aiotp__orc_names[pl->name]);
        return false;
    }
    if (pl->name == N_PAUSE_WRITING || f == NULL ||
        (KIND(ts)->nest_ok != NULL && KIND(ts)->nest_ok(o, ts, f))) {
        return true;
    }
    if (pl->name == N_RESUME_WRITING) {
        *rc = aiotp__orc_violate(o, ts,
                                 f->is_call && f->name == N_SET_LIMITS ? KIND(ts)->r.setter_pause
                                                                       : KIND(ts)->r.resume,
                                 "t%lu resume_writing nested inside %s %s of line %zu",
                                 ts->id, f->is_call ? "call" : "cb", aiotp__orc_names[f->name],
                                 f->lineno);
    } else if (!(pl->name == N_ERROR_RECEIVED && f->is_call && f->name == N_SENDTO &&
                 f->t == ts) &&
               !aiotp__orc_subproc_nested_ok(o, ts, pl, f)) {
        *rc = aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_4),
                                 "t%lu cb %s nested inside %s %s of line %zu", ts->id,
                                 aiotp__orc_names[pl->name], f->is_call ? "call" : "cb",
                                 aiotp__orc_names[f->name], f->lineno);
    }
    return true;
}

int aiotp__orc_made(orc *o, orc_t *ts, const orc_line *pl)
{
    int rc = 0;
    (void)pl;
    if (ts->made) {
        return aiotp__orc_violate(o, ts, BASE_RULE(PROTO_BASE_1), "t%lu second connection_made",
                                  ts->id);
    }
    ts->made = true;
    ts->made_iter = o->iter;
    if (ts->wait == W_MADE) {
        if (o->iter != ts->deadline) {
            rc = aiotp__orc_violate(o, ts, ts->wait_rule,
                                    "t%lu connection_made in iter %llu, opened in iter %llu",
                                    ts->id, (unsigned long long)o->iter,
                                    (unsigned long long)ts->wait_iter);
        }
        aiotp__orc_unwait(o, ts);
    }
    return rc;
}

int aiotp__orc_lost(orc *o, orc_t *ts, const orc_line *pl)
{
    int rc = 0;
    if (!ts->made) {
        rc = aiotp__orc_violate(o, ts, KIND(ts)->r.lost_early,
                                "t%lu connection_lost before connection_made", ts->id);
    } else if (ts->expect[0] != '\0' && WANT(ts->expect_rule) &&
               !aiotp__orc_is_status(pl->status, ts->expect)) {
        rc = aiotp__orc_violate(o, ts, ts->expect_rule,
                                "t%lu connection_lost status=%s, %s expected", ts->id,
                                pl->status, ts->expect);
    } else if (ts->wait == W_LOST_NEXT && o->iter != ts->deadline) {
        rc = aiotp__orc_violate(o, ts, ts->wait_rule,
                                "t%lu connection_lost in iter %llu, scheduled in iter %llu",
                                ts->id, (unsigned long long)o->iter,
                                (unsigned long long)ts->wait_iter);
    }
    if (!OK(pl)) {
        ts->fin_dirty = true;
    }
    ts->lost = true;
    aiotp__orc_unwait(o, ts);
    return rc;
}

/* The limits in force inside a setter's pause_writing are the setter's. */
static uint64_t high_in_force(const orc_t *ts, const orc_frame *f)
{
    uint64_t dl;
    uint64_t dh;
    if (f != NULL && f->is_call && f->name == N_SET_LIMITS && f->t == ts &&
        aiotp__orc_derive_limits(f, &dl, &dh)) {
        return dh;
    }
    return ts->high;
}

int aiotp__orc_pause(orc *o, orc_t *ts, const orc_line *pl)
{
    const orc_kind *kd = KIND(ts);
    const orc_frame *f = aiotp__orc_top(o);
    int rc = 0;
    uint64_t want = high_in_force(ts, f);
    if (!ts->made) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(PROTO_BASE_3),
                                "t%lu pause_writing before connection_made", ts->id);
    } else if (f == NULL || !f->is_call || f->t != ts || !(kd->pause_in & ORC_BIT(f->name))) {
        rc = aiotp__orc_violate(o, ts, kd->r.pause,
                                "t%lu pause_writing not directly inside one of its calls that "
                                "can grow the buffer or lower the limits", ts->id);
    } else if (ts->wpaused) {
        rc = aiotp__orc_violate(o, ts, kd->r.alternate,
                                "t%lu pause_writing while already paused", ts->id);
    } else if (pl->size <= pl->high) {
        rc = aiotp__orc_violate(o, ts, kd->r.pause,
                                "t%lu pause_writing with size=%llu <= high=%llu", ts->id,
                                (unsigned long long)pl->size, (unsigned long long)pl->high);
    } else if (pl->high != want) {
        rc = aiotp__orc_violate(o, ts, kd->r.pause,
                                "t%lu pause_writing high=%llu, the limit is %llu", ts->id,
                                (unsigned long long)pl->high, (unsigned long long)want);
    }
    if (f != NULL && f->is_call && f->name == N_SET_LIMITS && f->t == ts) {
        /* the setter succeeded (it paused): its limits are in force from here, so a setter
           nested in this pause_writing is judged against them */
        uint64_t dl;
        uint64_t dh;
        if (aiotp__orc_derive_limits(f, &dl, &dh)) {
            ts->low = dl;
            ts->high = dh;
            ts->limits_known = true;
        }
    }
    ts->wpaused = true;
    aiotp__orc_set_size(o, ts, pl->size);
    return rc;
}

int aiotp__orc_resume(orc *o, orc_t *ts, const orc_line *pl, int nested)
{
    const orc_kind *kd = KIND(ts);
    int rc = nested;
    if (nested == 0) {
        if (!ts->made) {
            rc = aiotp__orc_violate(o, ts, BASE_RULE(PROTO_BASE_3),
                                    "t%lu resume_writing before connection_made", ts->id);
        } else if (ts->aborted && WANT(kd->r.abort_resume)) {
            rc = aiotp__orc_violate(o, ts, kd->r.abort_resume,
                                    "t%lu resume_writing after abort()", ts->id);
        } else if (!ts->wpaused) {
            rc = aiotp__orc_violate(o, ts, kd->r.alternate,
                                    "t%lu resume_writing while not paused", ts->id);
        } else if (pl->size > pl->low) {
            rc = aiotp__orc_violate(o, ts, kd->r.resume,
                                    "t%lu resume_writing with size=%llu > low=%llu", ts->id,
                                    (unsigned long long)pl->size, (unsigned long long)pl->low);
        } else if (pl->low != ts->low) {
            rc = aiotp__orc_violate(o, ts, kd->r.resume,
                                    "t%lu resume_writing low=%llu, the limit is %llu", ts->id,
                                    (unsigned long long)pl->low, (unsigned long long)ts->low);
        }
    }
    ts->wpaused = false;
    aiotp__orc_set_size(o, ts, pl->size);
    return rc;
}

int aiotp__orc_base_cb_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl)
{
    bool ok = OK(pl);
    switch (f->name) {
    case N_CONNECTION_MADE:
    case N_CONNECTION_LOST:
        if (!ok) {
            aiotp__orc_failed(o, ts, pl->status, BASE_RULE(PROTO_BASE_5), false);
        }
        return 0;
    case N_PAUSE_WRITING:
        if (!ok) {
            aiotp__orc_failed(o, ts, pl->status, BASE_RULE(FLOW_8), false);
        }
        return 0;
    default: /* N_RESUME_WRITING */
        if (!ok) {
            aiotp__orc_failed(o, ts, pl->status, BASE_RULE(FLOW_8), false);
        }
        if (ts->cl == CL_FLUSHING && ts->size == 0 && !ts->lost) {
            /* the drain emptied a closing transport's buffer: connection_lost(0) in this
               same pass (writes made inside resume_writing would have shown a size) */
            aiotp__orc_wait(o, ts, W_LOST_NOW, KIND(ts)->r.drain_lost);
        }
        return 0;
    }
}

/* ---- calls ------------------------------------------------------------------------------ */

bool aiotp__orc_after_lost(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl,
                           int *rc)
{
    const char *st = pl->status;
    *rc = 0;
    if (!ts->lost) {
        return true;
    }
    /* BAD-2: ECLOSED or ESTATE (a subprocess's signals: ESRCH); an argument the call refuses whatever the state is refused
       first (EINVAL, ETOOBIG for an oversized datagram, EPROTOKIND for a table of another
       kind: DGRAM-SEND-5, PROTO-KIND-2) */
    if (!OK(pl) && !aiotp__orc_is_status(st, "ECLOSED") && !aiotp__orc_is_status(st, "ESTATE") &&
        !aiotp__orc_is_status(st, "EINVAL") && !aiotp__orc_is_status(st, "ETOOBIG") &&
        !aiotp__orc_is_status(st, "EPROTOKIND") &&
        !(ts->tkind == TK_GONE && aiotp__orc_is_status(st, "ENOTSUP")) &&
        /* SUBPROC-SIGNAL-1: a subprocess's signals answer ESRCH, also once reclaimed */
        !((f->name == N_SEND_SIGNAL || f->name == N_TERMINATE || f->name == N_KILL) &&
          aiotp__orc_is_status(st, "ESRCH"))) {
        *rc = aiotp__orc_violate(o, ts, BASE_RULE(BAD_2),
                                 "t%lu %s after connection_lost returned %s", ts->id,
                                 aiotp__orc_names[f->name], st);
    } else if (pl->size != 0) {
        *rc = aiotp__orc_violate(o, ts, BASE_RULE(BAD_2),
                                 "t%lu %s after connection_lost: size=%llu", ts->id,
                                 aiotp__orc_names[f->name], (unsigned long long)pl->size);
    }
    return *rc == 0;
}

int aiotp__orc_missed_pause(orc *o, orc_t *ts, uint64_t size, const orc_rule *rule)
{
    if (ts->made && !ts->lost && !ts->wpaused && size > ts->high) {
        return aiotp__orc_violate(o, ts, rule,
                                  "t%lu size=%llu > high=%llu but pause_writing was not "
                                  "called", ts->id, (unsigned long long)size,
                                  (unsigned long long)ts->high);
    }
    return 0;
}

/* FLOW-2/FLOW-3: derive the limits as CPython does; false if invalid. */
bool aiotp__orc_derive_limits(const orc_frame *f, uint64_t *low, uint64_t *high)
{
    int64_t h;
    int64_t l;
    if (f->h_none) {
        if (f->l_none) {
            const orc_kind *kd = aiotp__orc_kinds[f->t->tkind];
            h = (int64_t)(kd->default_high != 0 ? kd->default_high : ORC_DEFAULT_HIGH);
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
    if (l < 0 || h < l || (uint64_t)h > (uint64_t)SIZE_MAX) {
        return false;
    }
    *low = (uint64_t)l;
    *high = (uint64_t)h;
    return true;
}

static int close_ret(orc *o, orc_t *ts, const orc_line *pl)
{
    const orc_kind *kd = KIND(ts);
    bool ok = OK(pl);
    int rc = 0;
    if (ok) {
        rc = query_was_wrong(o, ts, "close() returned 0");
    }
    if ((aiotp__orc_closing(ts) || ts->lost) && ok) {
        return ORC_RC(rc, aiotp__orc_violate(o, ts, kd->r.close_twice,
                                             "t%lu second close() returned 0", ts->id));
    }
    if (ok && ts->made && !ts->lost) {
        ts->fin_clean = true;
        if (pl->size == 0) {
            schedule(o, ts, "0", kd->r.close_status, W_LOST_NEXT, kd->r.close_lost);
        } else {
            ts->cl = CL_FLUSHING;
        }
    } else if (!ok && !aiotp__orc_closing(ts) && !ts->lost) {
        ts->cl = CL_UNKNOWN; /* closed by something the trace does not show */
        ts->fin_dirty = true;
    }
    return rc;
}

static int abort_ret(orc *o, orc_t *ts, const orc_line *pl)
{
    const orc_kind *kd = KIND(ts);
    bool ok = OK(pl);
    int rc = 0;
    if ((ts->cl == CL_SCHEDULED || ts->lost) && ok) {
        return aiotp__orc_violate(o, ts, kd->r.abort_again,
                                  "t%lu abort() returned 0 once connection_lost was %s", ts->id,
                                  ts->lost ? "delivered" : "scheduled");
    }
    if (ok && pl->size != 0) {
        rc = aiotp__orc_violate(o, ts, kd->r.abort_size, "t%lu abort() left size=%llu", ts->id,
                                (unsigned long long)pl->size);
    }
    if (ok && ts->made && !ts->lost) {
        schedule(o, ts, "0", kd->r.abort_status, W_LOST_NEXT, kd->r.abort_lost);
        ts->aborted = true;
        ts->fin_dirty = true;
    } else if (!ok && !aiotp__orc_closing(ts) && !ts->lost) {
        ts->cl = CL_UNKNOWN;
        ts->fin_dirty = true;
    }
    return rc;
}

static int limits_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl)
{
    bool ok = OK(pl);
    uint64_t dl = 0;
    uint64_t dh = 0;
    bool valid = aiotp__orc_derive_limits(f, &dl, &dh);
    int rc = 0;
    size_t k;
    if (ok && f->nested_set) {
        /* a setter nested inside this one's pause_writing returned 0 after this one set
           its limits: the last successful set wins (as in CPython) */
        dl = ts->low;
        dh = ts->high;
    }
    if (pl->low > pl->high) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(FLOW_3), "t%lu limits low=%llu > high=%llu",
                                ts->id, (unsigned long long)pl->low,
                                (unsigned long long)pl->high);
    } else if (ok && !valid) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(FLOW_3), "t%lu invalid limits accepted",
                                ts->id);
    } else if (ok && (pl->low != dl || pl->high != dh) && WANT(BASE_RULE(FLOW_2))) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(FLOW_2),
                                "t%lu limits low=%llu high=%llu, low=%llu high=%llu expected",
                                ts->id, (unsigned long long)pl->low,
                                (unsigned long long)pl->high, (unsigned long long)dl,
                                (unsigned long long)dh);
    } else if (!ok && ts->limits_known && (pl->low != ts->low || pl->high != ts->high)) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(FLOW_3),
                                "t%lu refused limits changed them to low=%llu high=%llu",
                                ts->id, (unsigned long long)pl->low,
                                (unsigned long long)pl->high);
    } else if (!ok && valid && aiotp__orc_is_status(pl->status, "EINVAL")) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(FLOW_3),
                                "t%lu valid limits low=%llu high=%llu refused", ts->id,
                                (unsigned long long)dl, (unsigned long long)dh);
    }
    if (ok || !ts->limits_known) {
        /* FLOW-3: a refused call leaves the limits unchanged; the line says what they are */
        ts->low = pl->low;
        ts->high = pl->high;
        ts->limits_known = true;
    }
    if (ok) {
        for (k = 0; k + 1 < o->depth; k++) {
            orc_frame *g = &o->stack[k];
            if (g->is_call && g->name == N_SET_LIMITS && g->t == ts) {
                g->nested_set = true;
            }
        }
        rc = ORC_RC(rc, aiotp__orc_missed_pause(o, ts, pl->size, KIND(ts)->r.setter_pause));
    }
    return rc;
}

bool aiotp__orc_closed_unseen(orc *o, orc_t *ts, bool by_io)
{
    /* by_io: only once a pass began after connection_made (I/O came first in it) */
    if (ts->cl != CL_OPEN || ts->lost || !ts->made || KIND(ts)->ends_traced ||
        (by_io && o->iter <= ts->made_iter)) {
        return false;
    }
    ts->cl = CL_UNKNOWN;
    ts->fin_dirty = true;
    return true;
}

/* READ-2, READ-3 on an open transport; DONE-1 on a closing or closed one (where CPython
   returns None: a 0 breaks only the aiotp profile). */
static int reading_ret(orc *o, orc_t *ts, bool pause, const orc_line *pl)
{
    bool closing = aiotp__orc_closing(ts) || ts->lost;
    const char *name = pause ? "pause_reading" : "resume_reading";
    if (OK(pl)) {
        ts->rpaused = pause;
        if (closing && WANT(BASE_RULE(DONE_1))) {
            return aiotp__orc_violate(o, ts, BASE_RULE(DONE_1), "t%lu %s returned 0 while %s",
                                      ts->id, name, ts->lost ? "closed" : "closing");
        }
        return 0;
    }
    if (aiotp__orc_is_status(pl->status, "ECLOSED") && (closing || ts->cl == CL_MAYBE)) {
        return 0;
    }
    if (aiotp__orc_is_status(pl->status, "ECLOSED") &&
        aiotp__orc_closed_unseen(o, ts, true)) {
        return 0;
    }
    return aiotp__orc_violate(o, ts, pause ? BASE_RULE(READ_2) : BASE_RULE(READ_3),
                              "t%lu %s returned %s", ts->id, name, pl->status);
}

int aiotp__orc_base_call_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    bool ok = OK(pl);
    switch (f->name) {
    case N_CLOSE:
        return close_ret(o, ts, pl);
    case N_ABORT:
        return abort_ret(o, ts, pl);
    case N_PAUSE_READING:
    case N_RESUME_READING:
        return reading_ret(o, ts, f->name == N_PAUSE_READING, pl);
    case N_SET_LIMITS:
        return limits_ret(o, ts, f, pl);
    default: /* N_SET_PROTOCOL */
        if (ok && ts->lost) {
            return aiotp__orc_violate(o, ts, BASE_RULE(BASE_PROTO_2),
                                      "t%lu set_protocol after connection_lost returned 0",
                                      ts->id);
        }
        if (ok && !(KIND(ts)->pkinds & ORC_BIT(f->pkind))) {
            return aiotp__orc_violate(o, ts, BASE_RULE(PROTO_KIND_2),
                                      "t%lu (%s transport) set_protocol of another kind "
                                      "returned 0", ts->id, KIND(ts)->name);
        }
        return 0;
    }
}

/* ---- lines besides cb/call/ret ----------------------------------------------------------- */

int aiotp__orc_limits_line(orc *o, orc_t *ts, const orc_line *pl)
{
    int rc = 0;
    uint64_t dl = KIND(ts)->default_low != 0 ? KIND(ts)->default_low : ORC_DEFAULT_LOW;
    uint64_t dh = KIND(ts)->default_high != 0 ? KIND(ts)->default_high : ORC_DEFAULT_HIGH;
    if (pl->low > pl->high) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(FLOW_3), "t%lu limits low=%llu > high=%llu",
                                ts->id, (unsigned long long)pl->low,
                                (unsigned long long)pl->high);
    } else if (pl->low != dl || pl->high != dh) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(FLOW_1), "t%lu starts with low=%llu high=%llu",
                                ts->id, (unsigned long long)pl->low,
                                (unsigned long long)pl->high);
    }
    ts->low = pl->low;
    ts->high = pl->high;
    ts->limits_known = true;
    return rc;
}

static int query_closing(orc *o, orc_t *ts, bool v)
{
    if (ts->lost || aiotp__orc_closing(ts)) {
        if (!v) {
            return aiotp__orc_violate(o, ts, BASE_RULE(BASE_CLOSING_1),
                                      "t%lu is_closing() 0 but it is %s", ts->id,
                                      ts->lost ? "closed (connection_lost)" : "closing");
        }
        return 0;
    }
    if (ts->cl == CL_MAYBE) {
        ts->cl = v ? CL_UNKNOWN : CL_OPEN;
        return 0;
    }
    if (v) {
        if (aiotp__orc_fresh(o, ts) || !ts->made) {
            return aiotp__orc_violate(o, ts, BASE_RULE(BASE_CLOSING_1),
                                      "t%lu is_closing() 1 but it is open", ts->id);
        }
        /* maybe closed by something invisible (a fatal read error): learned */
        ts->cl = CL_UNKNOWN;
        ts->cl_by_query = true;
    }
    return 0;
}

static int query_reading(orc *o, orc_t *ts, bool v)
{
    const orc_kind *kd = KIND(ts);
    if (ts->lost || aiotp__orc_closing(ts)) {
        if (v) {
            return aiotp__orc_violate(o, ts, kd->r.closed_reading,
                                      "t%lu is_reading() 1 but it is %s", ts->id,
                                      ts->lost ? "closed (connection_lost)" : "closing");
        }
        return 0;
    }
    if (!ts->made) {
        return 0;
    }
    if (ts->rpaused) {
        if (v) {
            return aiotp__orc_violate(o, ts, BASE_RULE(READ_2),
                                      "t%lu is_reading() 1 while reading is paused", ts->id);
        }
        return 0;
    }
    if (ts->cl == CL_MAYBE) {
        ts->cl = v ? CL_OPEN : CL_UNKNOWN;
        return 0;
    }
    if (!v) {
        if (aiotp__orc_fresh(o, ts)) {
            return aiotp__orc_violate(o, ts, BASE_RULE(READ_2),
                                      "t%lu is_reading() 0 but reading is not paused", ts->id);
        }
        ts->cl = CL_UNKNOWN;
        ts->cl_by_query = true;
    }
    return 0;
}

static int query_size(orc *o, orc_t *ts, uint64_t v)
{
    int rc = 0;
    bool exact = o->depth > 0 && ts->size_epoch == o->epoch;
    bool slack = v > ts->size && v - ts->size <= ts->size_slack;
    if ((ts->lost || ts->aborted) && v != 0) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(WRITE_SIZE_1),
                                "t%lu get_write_buffer_size() %llu after %s", ts->id,
                                (unsigned long long)v, ts->lost ? "connection_lost" : "abort()");
    } else if (exact && v != ts->size && !slack) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(WRITE_SIZE_1),
                                "t%lu get_write_buffer_size() %llu, the size is %llu", ts->id,
                                (unsigned long long)v, (unsigned long long)ts->size);
    } else if (!exact && v > ts->size && !slack && ts->tkind != TK_GONE) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(WRITE_SIZE_1),
                                "t%lu get_write_buffer_size() %llu, more than the %llu last "
                                "reported (only a traced call adds to the buffer)", ts->id,
                                (unsigned long long)v, (unsigned long long)ts->size);
    }
    aiotp__orc_set_size(o, ts, v);
    return rc;
}

int aiotp__orc_query(orc *o, orc_t *ts, const orc_line *pl)
{
    int rc = 0;
    switch (pl->query) {
    case Q_IS_CLOSING:
        return query_closing(o, ts, pl->value != 0);
    case Q_IS_READING:
        return query_reading(o, ts, pl->value != 0);
    case Q_SIZE:
        return query_size(o, ts, pl->value);
    case Q_LIMITS:
        if (ts->limits_known && (pl->low != ts->low || pl->high != ts->high)) {
            rc = aiotp__orc_violate(o, ts, BASE_RULE(FLOW_10),
                                    "t%lu get_write_buffer_limits() low=%llu high=%llu, the "
                                    "limits are low=%llu high=%llu", ts->id,
                                    (unsigned long long)pl->low, (unsigned long long)pl->high,
                                    (unsigned long long)ts->low, (unsigned long long)ts->high);
        }
        ts->low = pl->low;
        ts->high = pl->high;
        ts->limits_known = true;
        return rc;
    default: /* Q_CAN_WRITE_EOF: the kind's own */
        return 0;
    }
}

int aiotp__orc_exc(orc *o, orc_t *ts, const orc_line *pl)
{
    if (ts->exc_pending && aiotp__orc_is_status(pl->status, ts->exc_status)) {
        aiotp__orc_exc_done(o, ts);
    }
    return 0;
}

bool aiotp__orc_base_valid(const orc *o, const orc_t *ts)
{
    (void)o;
    /* a closing learned from a query is a closing; frames are counted right */
    return !(ts->cl_by_query && !aiotp__orc_closing(ts)) && ts->nframes >= ts->ncb &&
           ts->nframes <= AIOTP_ORACLE_MAX_DEPTH;
}

/* ---- the gone kind ------------------------------------------------------------------------ */

static void gone_init(orc *o, orc_t *ts)
{
    (void)o;
    ts->made = true;
    ts->lost = true;
    ts->limits_seen = true;
    ts->limits_known = false;
    ts->cl = CL_UNKNOWN;
}

static int gone_cb(orc *o, orc_t *ts, const orc_line *pl)
{
    int rc;
    (void)aiotp__orc_cb_start(o, ts, pl, &rc);
    return rc;
}

static int gone_cb_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl)
{
    (void)o;
    (void)ts;
    (void)f;
    (void)pl;
    return 0;
}

static void gone_call(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    (void)o;
    (void)ts;
    (void)f;
    (void)pl;
}

static int gone_call_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    int rc;
    if (!aiotp__orc_after_lost(o, ts, f, pl, &rc)) {
        return rc;
    }
    switch (f->name) {
    case N_WRITE:
    case N_WRITELINES:
    case N_WRITE_BORROWED:
        if (OK(pl) && f->n > 0) {
            return aiotp__orc_violate(o, ts, aiotp__orc_rule_write_closed,
                                      "t%lu %s n=%llu accepted after connection_lost", ts->id,
                                      aiotp__orc_names[f->name], (unsigned long long)f->n);
        }
        return 0;
    case N_SENDTO:
        if (OK(pl) && f->n > 0) {
            return aiotp__orc_violate(o, ts, aiotp__orc_rule_sendto_closed,
                                      "t%lu sendto n=%llu accepted after connection_lost",
                                      ts->id, (unsigned long long)f->n);
        }
        return 0;
    case N_WRITE_EOF:
        if (OK(pl) && WANT(BASE_RULE(DONE_1))) {
            return aiotp__orc_violate(o, ts, BASE_RULE(DONE_1),
                                      "t%lu write_eof() after connection_lost returned 0",
                                      ts->id);
        }
        if (!OK(pl) && !aiotp__orc_is_status(pl->status, "ENOTSUP") &&
            !aiotp__orc_is_status(pl->status, "ECLOSED")) {
            return aiotp__orc_violate(o, ts, aiotp__orc_rule_write_eof_closed,
                                      "t%lu write_eof() after connection_lost returned %s",
                                      ts->id, pl->status);
        }
        return 0;
    default:
        return aiotp__orc_base_call_ret(o, ts, f, pl);
    }
}

static void gone_reclaim(orc *o, orc_t *ts)
{
    (void)o;
    (void)ts;
}

static bool gone_valid(const orc *o, const orc_t *ts)
{
    (void)o;
    return ts->made && ts->lost && ts->peer == NULL && !ts->paired;
}

#define ALL_CBS (ORC_BIT(N_FIRST_CALL) - 1u)
#define ALL_CALLS ((ORC_BIT(N_COUNT) - 1u) & ~ALL_CBS)

const orc_kind aiotp__orc_kind_gone = {
    .name = "gone",
    .rules = NULL,
    .nrules = 0,
    .cbs = ALL_CBS,
    .calls = ALL_CALLS,
    .pause_in = 0,
    .pkinds = ORC_BIT(PK_STREAMING) | ORC_BIT(PK_BUFFERED) | ORC_BIT(PK_DATAGRAM) |
              ORC_BIT(PK_SUBPROCESS),
    .r = {
        .made_late = BASE_RULE(PROTO_BASE_6),
        .lost_twice = BASE_RULE(PROTO_BASE_2),
        .lost_early = BASE_RULE(PROTO_BASE_2),
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
        .closed_data = BASE_RULE(BASE_CLOSE_1),
    },
    .init = gone_init,
    .cb = gone_cb,
    .cb_ret = gone_cb_ret,
    .call = gone_call,
    .call_ret = gone_call_ret,
    .query = aiotp__orc_query,
    .reclaim = gone_reclaim,
    .valid = gone_valid,
};
