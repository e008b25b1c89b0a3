/*
 * src/oracle/subprocess.c - the rules of subprocess transports (open subprocess):
 * SubprocessProtocol's state machine connection_made [pipe_data_received |
 * pipe_connection_lost | process_exited]* connection_lost, per-fd order and checksums,
 * the pipes the process names ("tS pipe fd=F tP"), signals and close (spec/rules.md
 * "Subprocess transports and protocols").
 */
#include "oracle_int.h"

#include <string.h>

enum subproc_rule {
    R_MADE_1,
    R_ORDER_1,
    R_PIPE_1,
    R_PIPE_2,
    R_EXIT_1,
    R_LOST_1,
    R_LOST_2,
    R_SIGNAL_1,
    R_CLOSE_1,
    R_COUNT
};

#define R(id, prof, text) ORC_RULE(id, prof, text, "subprocess")
static const orc_rule RULES[R_COUNT] = {
    [R_MADE_1] = R("SUBPROC-MADE-1", AIOTP,
                   "connection_made comes in the pass after the subprocess transport is made "
                   "(its pipes' connection_made before it)"),
    [R_ORDER_1] = R("SUBPROC-ORDER-1", DOC,
                    "connection_made [pipe_data_received | pipe_connection_lost | "
                    "process_exited]* connection_lost: connection_made first and once, "
                    "connection_lost last and once, nothing after it"),
    [R_PIPE_1] = R("SUBPROC-PIPE-1", DOC,
                   "pipe_data_received only for fd 1 or 2 with non-empty data; "
                   "pipe_connection_lost at most once per fd, and nothing for that fd after "
                   "it"),
    [R_PIPE_2] = R("SUBPROC-PIPE-2", AIOTP,
                   "per fd the running totals and sums are exact; for a pipe the process "
                   "names, each pipe_data_received is the data_received of that pipe it lies "
                   "in (same bytes)"),
    [R_EXIT_1] = R("SUBPROC-EXIT-1", DOC, "process_exited is called at most once"),
    [R_LOST_1] = R("SUBPROC-LOST-1", CPYTHON,
                   "connection_lost(0) comes only once process_exited was called and every "
                   "pipe the process names was lost (pipe_connection_lost)"),
    [R_LOST_2] = R("SUBPROC-LOST-2", AIOTP,
                   "connection_lost comes in the pass after the last of process_exited and "
                   "the pipe_connection_lost calls"),
    [R_SIGNAL_1] = R("SUBPROC-SIGNAL-1", CPYTHON,
                     "send_signal, terminate and kill return 0 until connection_lost (after "
                     "the exit: without effect) and ESRCH after it"),
    [R_CLOSE_1] = R("SUBPROC-CLOSE-1", CPYTHON,
                    "close() returns 0 once (ECLOSED after); is_closing() is true from "
                    "close() on, and stays false while the process ends by itself"),
};
#undef R

#define RULE(x) (&RULES[R_##x])
#define OK(pl) aiotp__orc_is_status((pl)->status, "0")

static void subproc_init(orc *o, orc_t *ts)
{
    int i;
    memset(&ts->u.sp, 0, sizeof(ts->u.sp));
    for (i = 0; i < 3; i++) {
        ts->u.sp.rx_sum[i] = o->empty_sum;
    }
}

/* ---- nesting ----------------------------------------------------------------------------- */

bool aiotp__orc_subproc_nested_ok(const orc *o, const orc_t *ts, const orc_line *pl,
                                  const orc_frame *f)
{
    (void)o;
    if (ts->tkind != TK_SUBPROC || f->is_call || f->t->owner != ts->id ||
        f->t->owner_fd != pl->fd) {
        return false;
    }
    return (pl->name == N_PIPE_DATA_RECEIVED && f->name == N_DATA_RECEIVED) ||
           (pl->name == N_PIPE_CONNECTION_LOST && f->name == N_CONNECTION_LOST);
}

/* ---- callbacks ------------------------------------------------------------------------------ */

static int between(orc *o, orc_t *ts, const char *what)
{
    if (!ts->made) {
        return aiotp__orc_violate(o, ts, RULE(ORDER_1), "t%lu %s before connection_made",
                                  ts->id, what);
    }
    return 0;
}

static void mark_last(orc *o, orc_t *ts)
{
    ts->u.sp.last_iter = o->iter;
}

static int pipe_data(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_subproc *sp = &ts->u.sp;
    const orc_frame *f = aiotp__orc_top(o);
    int fd = pl->fd;
    int rc = between(o, ts, "pipe_data_received");
    if (fd == 0 || pl->n == 0) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PIPE_1),
                                           "t%lu pipe_data_received fd=%d n=%llu", ts->id, fd,
                                           (unsigned long long)pl->n));
    } else if (sp->pipe_lost[fd]) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PIPE_1),
                                           "t%lu pipe_data_received fd=%d after its "
                                           "pipe_connection_lost", ts->id, fd));
    }
    if (pl->has_total) {
        if (sp->rx_total[fd] > UINT64_MAX - pl->n || pl->total != sp->rx_total[fd] + pl->n) {
            rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PIPE_2),
                                               "t%lu pipe_data_received fd=%d total=%llu, "
                                               "%llu + n=%llu expected", ts->id, fd,
                                               (unsigned long long)pl->total,
                                               (unsigned long long)sp->rx_total[fd],
                                               (unsigned long long)pl->n));
        }
        sp->rx_total[fd] = pl->total;
        sp->rx_sum[fd] = pl->sum;
    } else {
        sp->rx_total[fd] += pl->n;
    }
    if (sp->pipe[fd] != 0 && f != NULL && !f->is_call && f->name == N_DATA_RECEIVED &&
        f->t->id == sp->pipe[fd] && f->n != pl->n) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PIPE_2),
                                           "t%lu pipe_data_received fd=%d n=%llu inside "
                                           "t%lu data_received n=%llu", ts->id, fd,
                                           (unsigned long long)pl->n, f->t->id,
                                           (unsigned long long)f->n));
    }
    if (sp->pipe[fd] != 0 && pl->has_total && f != NULL && !f->is_call &&
        f->name == N_DATA_RECEIVED && f->t->id == sp->pipe[fd] && f->sum != pl->sum) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PIPE_2),
                                           "t%lu pipe_data_received fd=%d sum=%08lx, its pipe "
                                           "t%lu received sum=%08lx", ts->id, fd,
                                           (unsigned long)pl->sum, f->t->id,
                                           (unsigned long)f->sum));
    }
    sp->data_seen[fd] = true;
    return rc;
}

static int pipe_lost(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_subproc *sp = &ts->u.sp;
    int rc = between(o, ts, "pipe_connection_lost");
    if (sp->pipe_lost[pl->fd]) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PIPE_1),
                                           "t%lu second pipe_connection_lost fd=%d", ts->id,
                                           pl->fd));
    }
    sp->pipe_lost[pl->fd] = true;
    mark_last(o, ts);
    return rc;
}

static int exited(orc *o, orc_t *ts)
{
    orc_subproc *sp = &ts->u.sp;
    int rc = between(o, ts, "process_exited");
    if (sp->exited) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(EXIT_1), "t%lu second process_exited",
                                           ts->id));
    }
    sp->exited = true;
    mark_last(o, ts);
    return rc;
}

static int lost(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_subproc *sp = &ts->u.sp;
    int rc = 0;
    int fd;
    if (ts->made && !sp->exited) {
        rc = aiotp__orc_violate(o, ts, RULE(LOST_1),
                                "t%lu connection_lost before process_exited", ts->id);
    }
    for (fd = 0; fd < 3 && rc == 0; fd++) {
        if (sp->pipe[fd] != 0 && !sp->pipe_lost[fd]) {
            rc = aiotp__orc_violate(o, ts, RULE(LOST_1),
                                    "t%lu connection_lost before pipe_connection_lost fd=%d "
                                    "(its pipe t%lu)", ts->id, fd, sp->pipe[fd]);
        }
    }
    if (rc == 0 && ts->made && o->iter_seen && sp->last_iter + 1 != o->iter) {
        rc = aiotp__orc_violate(o, ts, RULE(LOST_2),
                                "t%lu connection_lost in iter %llu, the last of process_exited "
                                "and pipe_connection_lost in iter %llu", ts->id,
                                (unsigned long long)o->iter,
                                (unsigned long long)sp->last_iter);
    }
    return ORC_RC(rc, aiotp__orc_lost(o, ts, pl));
}

static int subproc_cb(orc *o, orc_t *ts, const orc_line *pl)
{
    int rc;
    if (!aiotp__orc_cb_start(o, ts, pl, &rc)) {
        return rc;
    }
    switch (pl->name) {
    case N_CONNECTION_MADE:
        return ORC_RC(rc, aiotp__orc_made(o, ts, pl));
    case N_CONNECTION_LOST:
        return ORC_RC(rc, lost(o, ts, pl));
    case N_PIPE_DATA_RECEIVED:
        return ORC_RC(rc, pipe_data(o, ts, pl));
    case N_PIPE_CONNECTION_LOST:
        return ORC_RC(rc, pipe_lost(o, ts, pl));
    default: /* N_PROCESS_EXITED */
        return ORC_RC(rc, exited(o, ts));
    }
}

static int subproc_cb_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl)
{
    switch (f->name) {
    case N_PIPE_DATA_RECEIVED:
    case N_PIPE_CONNECTION_LOST:
    case N_PROCESS_EXITED:
        if (!OK(pl)) {
            aiotp__orc_failed(o, ts, pl->status, BASE_RULE(PROTO_BASE_5), false);
        }
        return 0;
    default:
        return aiotp__orc_base_cb_ret(o, ts, f, pl);
    }
}

/* ---- calls ---------------------------------------------------------------------------------- */

static void subproc_call(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    (void)o;
    (void)ts;
    (void)f;
    (void)pl;
}

static int subproc_call_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    orc_subproc *sp = &ts->u.sp;
    bool ok = OK(pl);
    switch (f->name) {
    case N_SEND_SIGNAL:
    case N_TERMINATE:
    case N_KILL:
        if (ts->lost != aiotp__orc_is_status(pl->status, "ESRCH") &&
            !aiotp__orc_is_status(pl->status, "EINVAL")) {
            return aiotp__orc_violate(o, ts, RULE(SIGNAL_1), "t%lu %s returned %s %s "
                                      "connection_lost", ts->id, aiotp__orc_names[f->name],
                                      pl->status, ts->lost ? "after" : "before");
        }
        return 0;
    case N_CLOSE:
        if (ok && (sp->closed || ts->lost)) {
            return aiotp__orc_violate(o, ts, RULE(CLOSE_1), "t%lu second close() returned 0",
                                      ts->id);
        }
        if (ok) {
            sp->closed = true;
            if (!ts->lost) {
                ts->cl = CL_UNKNOWN; /* closing: connection_lost after the exit and pipes */
                ts->cl_by_query = false;
            }
        }
        return 0;
    default: {
        int rc;
        if (!aiotp__orc_after_lost(o, ts, f, pl, &rc)) {
            return rc;
        }
        return aiotp__orc_base_call_ret(o, ts, f, pl);
    }
    }
}

static int subproc_query(orc *o, orc_t *ts, const orc_line *pl)
{
    switch (pl->query) {
    case Q_IS_CLOSING:
        if ((pl->value != 0) != (ts->u.sp.closed || ts->lost)) {
            return aiotp__orc_violate(o, ts, RULE(CLOSE_1), "t%lu is_closing() %llu %s close()",
                                      ts->id, (unsigned long long)pl->value,
                                      ts->u.sp.closed ? "after" : "without");
        }
        return 0;
    case Q_IS_READING:
    case Q_CAN_WRITE_EOF:
    case Q_SIZE:
        if (pl->value != 0) {
            return aiotp__orc_violate(o, ts, BASE_RULE(TRANSPORT_KIND_2),
                                      "t%lu (subprocess) %s %llu", ts->id,
                                      aiotp__orc_queries[pl->query],
                                      (unsigned long long)pl->value);
        }
        return 0;
    default:
        return aiotp__orc_query(o, ts, pl);
    }
}

static void subproc_reclaim(orc *o, orc_t *ts)
{
    (void)o;
    (void)ts;
}

static bool subproc_valid(const orc *o, const orc_t *ts)
{
    (void)o;
    return ts->peer == NULL && !ts->paired && ts->owner == 0;
}

const orc_kind aiotp__orc_kind_subproc = {
    .name = "subprocess",
    .rules = RULES,
    .nrules = R_COUNT,
    .cbs = ORC_BIT(N_CONNECTION_MADE) | ORC_BIT(N_CONNECTION_LOST) |
           ORC_BIT(N_PIPE_DATA_RECEIVED) | ORC_BIT(N_PIPE_CONNECTION_LOST) |
           ORC_BIT(N_PROCESS_EXITED),
    .calls = ORC_BIT(N_CLOSE) | ORC_BIT(N_SEND_SIGNAL) | ORC_BIT(N_TERMINATE) |
             ORC_BIT(N_KILL) | ORC_BIT(N_SET_PROTOCOL),
    .pause_in = 0,
    .pkinds = ORC_BIT(PK_SUBPROCESS),
    .r = {
        .made_late = &RULES[R_MADE_1],
        .lost_twice = &RULES[R_ORDER_1],
        .lost_early = &RULES[R_ORDER_1],
        .pause = BASE_RULE(FLOW_4),
        .resume = BASE_RULE(FLOW_5),
        .alternate = BASE_RULE(FLOW_6),
        .setter_pause = BASE_RULE(FLOW_7),
        .abort_resume = BASE_RULE(WRITE_ABORT_2),
        .close_twice = &RULES[R_CLOSE_1],
        .close_lost = &RULES[R_CLOSE_1],
        .close_status = &RULES[R_ORDER_1],
        .abort_again = BASE_RULE(WRITE_ABORT_3),
        .abort_size = BASE_RULE(WRITE_ABORT_1),
        .abort_lost = BASE_RULE(WRITE_ABORT_4),
        .abort_status = BASE_RULE(PROTO_BASE_2),
        .drain_lost = BASE_RULE(BASE_CLOSE_2),
        .closed_reading = BASE_RULE(BASE_CLOSE_1),
        .closed_data = &RULES[R_ORDER_1],
    },
    .init = subproc_init,
    .cb = subproc_cb,
    .cb_ret = subproc_cb_ret,
    .call = subproc_call,
    .call_ret = subproc_call_ret,
    .query = subproc_query,
    .reclaim = subproc_reclaim,
    .valid = subproc_valid,
    .no_limits = true,
};
