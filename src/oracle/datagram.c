/*
 * src/oracle/datagram.c - the rules of datagram transports (open udp, udp6, unixdgram):
 * DatagramProtocol deliveries, sendto() and the queue of datagrams, and the peer pairing
 * of two connected sockets (spec/rules.md "Datagram transports and protocols").
 */
#include "oracle_int.h"

#include <stdio.h>
#include <string.h>

enum dgram_rule {
    R_MADE_1,
    R_SEND_1,
    R_SEND_2,
    R_SEND_3,
    R_SEND_4,
    R_SEND_5,
    R_DRAIN_1,
    R_FLOW_1,
    R_RECV_1,
    R_RECV_2,
    R_RECV_3,
    R_CB_1,
    R_CLOSE_1,
    R_ABORT_1,
    R_LOST_1,
    R_FATAL_1,
    R_PEER_1,
    R_COUNT
};

#define R(id, prof, text) ORC_RULE(id, prof, text, "datagram")
static const orc_rule RULES[R_COUNT] = {
    [R_MADE_1] = R("DGRAM-MADE-1", CPYTHON,
                   "connection_made comes in the pass after the transport is made; reading "
                   "starts after it"),
    [R_SEND_1] = R("DGRAM-SEND-1", CPYTHON, "sendto() of 0 bytes returns 0 and sends nothing"),
    [R_SEND_2] = R("DGRAM-SEND-2", CPYTHON,
                   "on a connected transport sendto()'s address is none or the peer's, else "
                   "EINVAL and nothing is sent"),
    [R_SEND_3] = R("DGRAM-SEND-3", CPYTHON,
                   "sendto() sends at once when nothing is queued, else queues the datagram; "
                   "an OS error calls error_received inside sendto(), which drops the "
                   "datagram and returns 0"),
    [R_SEND_4] = R("DGRAM-SEND-4", AIOTP,
                   "sendto() after close(), abort() or connection_lost returns ECLOSED and "
                   "sends nothing"),
    [R_SEND_5] = R("DGRAM-SEND-5", AIOTP,
                   "sendto() of a datagram over 256 KiB returns ETOOBIG (without an address "
                   "on an unconnected transport EINVAL); nothing changes"),
    [R_DRAIN_1] = R("DGRAM-DRAIN-1", CPYTHON,
                    "the drain sends queued datagrams in order; when the queue of a closing "
                    "transport empties, connection_lost(0) comes in the same pass"),
    [R_FLOW_1] = R("DGRAM-FLOW-1", DOC,
                   "the buffer size is the sum of queued payload bytes; pause_writing when "
                   "it goes over high after queueing, resume_writing at or below low after a "
                   "drain, strictly alternating"),
    [R_RECV_1] = R("DGRAM-RECV-1", CPYTHON,
                   "one datagram_received per datagram, with the datagram's length (0 "
                   "allowed, at most 256 KiB), data and sender; at most 16 receives per read "
                   "event, so at most 16 per pass (CPython: one, DEV-70)"),
    [R_RECV_2] = R("DGRAM-RECV-2", CPYTHON,
                   "an OS error on receive calls error_received(status) with that error; "
                   "the transport stays open"),
    [R_RECV_3] = R("DGRAM-RECV-3", DOC,
                   "no datagram_received after close() or abort(), or while reading is "
                   "paused"),
    [R_CB_1] = R("DGRAM-CB-1", CPYTHON,
                 "a failing datagram_received or error_received goes to the exception "
                 "handler; the transport stays open"),
    [R_CLOSE_1] = R("DGRAM-CLOSE-1", CPYTHON,
                    "close() stops reading; connection_lost(0) comes in the next pass with an "
                    "empty queue, after the flush otherwise; a second close() returns "
                    "ECLOSED"),
    [R_ABORT_1] = R("DGRAM-ABORT-1", CPYTHON,
                    "abort() drops the queue (size 0), connection_lost(0) comes in the next "
                    "pass, never a resume_writing after it"),
    [R_LOST_1] = R("DGRAM-LOST-1", DOC,
                   "connection_lost exactly once and last, no callback after it; "
                   "error_received never before connection_made"),
    [R_FATAL_1] = R("DGRAM-FATAL-1", CPYTHON,
                    "a fatal error closes the transport with connection_lost(status), never "
                    "error_received"),
    [R_PEER_1] = R("DGRAM-PEER-1", DOC,
                   "with a peer, every datagram received comes from the peer and was sent by "
                   "it (a sendto that returned 0), at most as many times as sent"),
};
#undef R

#define RULE(x) (&RULES[R_##x])
#define OK(pl) aiotp__orc_is_status((pl)->status, "0")

const orc_rule *const aiotp__orc_rule_sendto_closed = &RULES[R_SEND_4];

static void dgram_init(orc *o, orc_t *ts)
{
    (void)o;
    ts->u.d.sent.id = ts->id;
}

/* ---- the datagrams a sender's sendto accepted ---------------------------------------- */

static void sent_add(orc_dgset *s, uint64_t n, uint32_t sum)
{
    orc_sent *free_e = NULL;
    unsigned i;
    for (i = 0; i < s->n; i++) {
        orc_sent *e = &s->e[i];
        if (e->n == n && e->sum == sum) {
            e->count += e->count < UINT32_MAX;
            return;
        }
        if (e->count == 0 && free_e == NULL) {
            free_e = e;
        }
    }
    if (free_e == NULL && s->n < ORC_DGRAM_SENT) {
        free_e = &s->e[s->n++];
    }
    if (free_e == NULL) {
        free_e = &s->e[s->next]; /* forget the oldest: unmatched receives are not judged */
        s->next = (s->next + 1) % ORC_DGRAM_SENT;
        s->evicted = true;
    }
    free_e->n = n;
    free_e->sum = sum;
    free_e->count = 1;
}

static bool sent_take(orc_dgset *s, uint64_t n, uint32_t sum)
{
    unsigned i;
    for (i = 0; i < s->n; i++) {
        orc_sent *e = &s->e[i];
        if (e->n == n && e->sum == sum && e->count > 0) {
            e->count--;
            return true;
        }
    }
    return false;
}

static orc_dgset *peer_sent(orc_t *ts)
{
    if (ts->peer != NULL) {
        return &ts->peer->u.d.sent;
    }
    return ts->peer_gone ? &ts->u.d.peer_final : NULL;
}

static void dgram_reclaim(orc *o, orc_t *ts)
{
    orc_t *p = ts->peer;
    (void)o;
    if (p != NULL) {
        p->u.d.peer_final = ts->u.d.sent;
        p->peer = NULL;
        p->peer_gone = true;
        ts->peer = NULL;
    }
}

/* ---- callbacks ------------------------------------------------------------------------- */

static int datagram_received(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_dgram *d = &ts->u.d;
    orc_dgset *set = peer_sent(ts);
    int rc = 0;
    if (!ts->made) {
        rc = aiotp__orc_violate(o, ts, BASE_RULE(PROTO_BASE_3),
                                "t%lu datagram_received before connection_made", ts->id);
    } else {
        rc = aiotp__orc_not_closing(o, ts, "datagram_received");
    }
    if (ts->rpaused && !aiotp__orc_closing(ts)) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(RECV_3),
                                           "t%lu datagram_received while reading is paused",
                                           ts->id));
    }
    if (pl->n > ORC_READ_MAX) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(RECV_1),
                                           "t%lu datagram_received n=%llu > 262144", ts->id,
                                           (unsigned long long)pl->n));
    } else if (pl->n == 0 && pl->sum != o->empty_sum) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(RECV_1),
                                           "t%lu datagram_received n=0 with sum=%08lx", ts->id,
                                           (unsigned long)pl->sum));
    }
    if (!d->rx_seen || d->rx_iter != o->iter) {
        d->rx_in_iter = 0;
    }
    d->rx_in_iter++;
    if (o->iter_seen && d->rx_in_iter == ORC_DGRAM_RECV_BATCH + 1) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(RECV_1),
                                           "t%lu more than %u datagram_received in iter %llu",
                                           ts->id, ORC_DGRAM_RECV_BATCH,
                                           (unsigned long long)o->iter));
    }
    d->rx_seen = true;
    d->rx_iter = o->iter;
    if (ts->paired && !pl->addr_none) {
        if (!d->peer_addr_known) {
            d->peer_addr = pl->addr_hash; /* a connected socket hears its peer only */
            d->peer_addr_known = true;
        } else if (d->peer_addr != pl->addr_hash) {
            rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PEER_1),
                                               "t%lu datagram_received from another address "
                                               "than its peer's", ts->id));
        }
    }
    if (set != NULL && !sent_take(set, pl->n, pl->sum) && !set->evicted) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(PEER_1),
                                           "t%lu datagram_received n=%llu sum=%08lx: its peer "
                                           "t%lu did not send it (as often)", ts->id,
                                           (unsigned long long)pl->n, (unsigned long)pl->sum,
                                           set->id));
    }
    return rc;
}

static int error_received(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_dgram *d = &ts->u.d;
    orc_frame *f = aiotp__orc_top(o);
    int rc = 0;
    if (!ts->made) {
        rc = aiotp__orc_violate(o, ts, RULE(LOST_1),
                                "t%lu error_received before connection_made", ts->id);
    }
    if (aiotp__orc_is_status(pl->status, "0")) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(RECV_2),
                                           "t%lu error_received with status 0", ts->id));
    }
    if (f != NULL && f->is_call && f->name == N_SENDTO && f->t == ts) {
        f->err_inside = true;
    }
    (void)snprintf(d->err_status, sizeof(d->err_status), "%s", pl->status);
    d->err_iter = o->iter;
    return rc;
}

static int dgram_lost(orc *o, orc_t *ts, const orc_line *pl)
{
    const orc_dgram *d = &ts->u.d;
    int rc = 0;
    /* the error error_received reported closed the transport: a fatal error that was
       reported as error_received, or error_received that did not leave it open */
    if (ts->made && !ts->lost && ts->cl == CL_OPEN && !OK(pl) && d->err_status[0] != '\0' &&
        aiotp__orc_is_status(pl->status, d->err_status) &&
        (d->err_iter == o->iter || d->err_iter + 1 == o->iter)) {
        rc = aiotp__orc_violate(o, ts, RULE(FATAL_1),
                                "t%lu connection_lost(%s) right after error_received(%s) "
                                "without close() or abort()", ts->id, pl->status,
                                d->err_status);
    }
    return ORC_RC(rc, aiotp__orc_lost(o, ts, pl));
}

static int dgram_cb(orc *o, orc_t *ts, const orc_line *pl)
{
    int rc;
    if (!aiotp__orc_cb_start(o, ts, pl, &rc)) {
        return rc;
    }
    switch (pl->name) {
    case N_CONNECTION_MADE:
        return ORC_RC(rc, aiotp__orc_made(o, ts, pl));
    case N_CONNECTION_LOST:
        return ORC_RC(rc, dgram_lost(o, ts, pl));
    case N_PAUSE_WRITING:
        return ORC_RC(rc, aiotp__orc_pause(o, ts, pl));
    case N_RESUME_WRITING:
        return aiotp__orc_resume(o, ts, pl, rc);
    case N_DATAGRAM_RECEIVED:
        return ORC_RC(rc, datagram_received(o, ts, pl));
    default: /* N_ERROR_RECEIVED */
        return ORC_RC(rc, error_received(o, ts, pl));
    }
}

static int dgram_cb_ret(orc *o, orc_t *ts, const orc_frame *f, const orc_line *pl)
{
    switch (f->name) {
    case N_DATAGRAM_RECEIVED:
    case N_ERROR_RECEIVED:
        if (!OK(pl)) {
            aiotp__orc_failed(o, ts, pl->status, RULE(CB_1), false);
        }
        return 0;
    default:
        return aiotp__orc_base_cb_ret(o, ts, f, pl);
    }
}

/* ---- sendto ------------------------------------------------------------------------------ */

static void dgram_call(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    (void)o;
    (void)pl;
    if (f->name == N_SENDTO) {
        f->closed_at_call = ts->lost || (aiotp__orc_closing(ts) && !ts->cl_by_query);
        f->size_before = ts->size;
    }
}

/* A sendto nested in another sendto of the same transport (inside its error_received or
   pause_writing) may queue its datagram: the outer call's bound grows by as much (found by
   fuzz_dgram: a sendto inside error_received inside sendto queued 302 bytes, and the outer
   call, whose own datagram was dropped, was held to its size at the call). */
static void nested_growth(orc *o, const orc_t *ts, const orc_frame *f, uint64_t size)
{
    uint64_t grown = size > f->size_before ? size - f->size_before : 0;
    size_t k;
    for (k = 0; grown > 0 && k + 1 < o->depth; k++) {
        orc_frame *g = &o->stack[k];
        if (g->is_call && g->name == N_SENDTO && g->t == ts && g != f) {
            g->size_before += grown;
        }
    }
}

static int sendto_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    orc_dgram *d = &ts->u.d;
    bool ok = OK(pl);
    bool sent = ok && !f->err_inside && f->n > 0;
    int rc = 0;
    if (f->n == 0) {
        if (!ok && !(f->closed_at_call && aiotp__orc_is_status(pl->status, "ECLOSED"))) {
            rc = aiotp__orc_violate(o, ts, RULE(SEND_1), "t%lu sendto n=0 returned %s", ts->id,
                                    pl->status);
        }
    } else if (ok && f->closed_at_call) {
        rc = aiotp__orc_violate(o, ts, RULE(SEND_4),
                                "t%lu sendto n=%llu accepted after close/abort/connection_lost",
                                ts->id, (unsigned long long)f->n);
    } else if (ok && f->n > ORC_READ_MAX) {
        rc = aiotp__orc_violate(o, ts, RULE(SEND_5),
                                "t%lu sendto n=%llu accepted (over 262144 bytes)", ts->id,
                                (unsigned long long)f->n);
    } else if (ok && ts->paired && !f->addr_none && d->peer_addr_known &&
               f->addr_hash != d->peer_addr) {
        rc = aiotp__orc_violate(o, ts, RULE(SEND_2),
                                "t%lu (connected) sendto to another address than its peer's "
                                "returned 0", ts->id);
    }
    if (f->err_inside && !ok) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(SEND_3),
                                           "t%lu sendto returned %s after calling "
                                           "error_received", ts->id, pl->status));
    }
    if (sent ? pl->size > f->size_before + f->n : pl->size > f->size_before) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, RULE(FLOW_1),
                                           "t%lu sendto n=%llu %s: size=%llu after at most "
                                           "%llu", ts->id, (unsigned long long)f->n,
                                           sent ? "accepted" : "not sent",
                                           (unsigned long long)pl->size,
                                           (unsigned long long)f->size_before));
    }
    if (sent) {
        sent_add(&d->sent, f->n, f->sum);
        if (rc == 0) {
            rc = aiotp__orc_missed_pause(o, ts, pl->size, RULE(FLOW_1));
        }
    }
    nested_growth(o, ts, f, pl->size);
    return rc;
}

static int dgram_call_ret(orc *o, orc_t *ts, orc_frame *f, const orc_line *pl)
{
    int rc;
    if (!aiotp__orc_after_lost(o, ts, f, pl, &rc)) {
        return rc;
    }
    if (f->name == N_SENDTO) {
        return sendto_ret(o, ts, f, pl);
    }
    return aiotp__orc_base_call_ret(o, ts, f, pl);
}

static bool dgram_valid(const orc *o, const orc_t *ts)
{
    const orc_dgram *d = &ts->u.d;
    (void)o;
    if (d->sent.n > ORC_DGRAM_SENT || d->sent.next >= ORC_DGRAM_SENT ||
        d->peer_final.n > ORC_DGRAM_SENT || d->peer_final.next >= ORC_DGRAM_SENT ||
        memchr(d->err_status, '\0', sizeof(d->err_status)) == NULL) {
        return false;
    }
    return ts->peer == NULL || ts->peer->tkind == TK_DGRAM;
}

const orc_kind aiotp__orc_kind_dgram = {
    .name = "datagram",
    .rules = RULES,
    .nrules = R_COUNT,
    .cbs = ORC_BIT(N_CONNECTION_MADE) | ORC_BIT(N_CONNECTION_LOST) |
           ORC_BIT(N_DATAGRAM_RECEIVED) | ORC_BIT(N_ERROR_RECEIVED) | ORC_BIT(N_PAUSE_WRITING) |
           ORC_BIT(N_RESUME_WRITING),
    .calls = ORC_BIT(N_SENDTO) | ORC_BIT(N_CLOSE) | ORC_BIT(N_ABORT) |
             ORC_BIT(N_PAUSE_READING) | ORC_BIT(N_RESUME_READING) | ORC_BIT(N_SET_LIMITS) |
             ORC_BIT(N_SET_PROTOCOL),
    .pause_in = ORC_BIT(N_SENDTO) | ORC_BIT(N_SET_LIMITS),
    .pkinds = ORC_BIT(PK_DATAGRAM),
    .r = {
        .made_late = &RULES[R_MADE_1],
        .lost_twice = &RULES[R_LOST_1],
        .lost_early = &RULES[R_LOST_1],
        .pause = &RULES[R_FLOW_1],
        .resume = &RULES[R_FLOW_1],
        .alternate = &RULES[R_FLOW_1],
        .setter_pause = BASE_RULE(FLOW_7),
        .abort_resume = &RULES[R_ABORT_1],
        .close_twice = &RULES[R_CLOSE_1],
        .close_lost = &RULES[R_CLOSE_1],
        .close_status = BASE_RULE(PROTO_BASE_2),
        .abort_again = &RULES[R_ABORT_1],
        .abort_size = &RULES[R_ABORT_1],
        .abort_lost = &RULES[R_ABORT_1],
        .abort_status = BASE_RULE(PROTO_BASE_2),
        .drain_lost = &RULES[R_DRAIN_1],
        .closed_reading = &RULES[R_CLOSE_1],
        .closed_data = &RULES[R_RECV_3],
    },
    .init = dgram_init,
    .cb = dgram_cb,
    .cb_ret = dgram_cb_ret,
    .call = dgram_call,
    .call_ret = dgram_call_ret,
    .query = aiotp__orc_query,
    .reclaim = dgram_reclaim,
    .valid = dgram_valid,
};
