/*
 * src/sim/stream.c - connected stream pairs of the simulated kernel: the two directed
 * byte queues, recv/send, shutdown and close of a connected (or listening) endpoint, and
 * aiotp_sim_socketpair (see sim_int.h for the layout, aiotp/sim.h for the model).
 *
 * A pair holds the two directed queues: q[s] carries the bytes written by side s, read by
 * side 1 - s, and the local address of each side. A pair is freed when both sides are
 * closed.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "aiotp/error.h"
#include "sim_int.h"

/* Bytes readable by side s: the queue written by the other side. */
static sim_queue *rx_queue(sim_pair *p, int side)
{
    return &p->q[1 - side];
}

bool aiotp__sim_peer_closed(const sim_pair *p, int side)
{
    return p->fd[1 - side] == FD_CLOSED;
}

/* recv would report EOF (once the queue is empty) */
bool aiotp__sim_at_eof(const sim_pair *p, int side)
{
    return p->broken || p->rd_shut[side] || p->q[1 - side].shut ||
           aiotp__sim_peer_closed(p, side);
}

bool aiotp__sim_send_dead(const sim_pair *p, int side)
{
    return p->broken || p->q[side].shut || aiotp__sim_peer_closed(p, side);
}

/* Append up to n bytes to q (n <= free space). */
static int q_push(aiotp_sim *sim, sim_queue *q, const unsigned char *b, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (q->head + q->len + n > q->alloc) {
        if (q->head > 0) {
            memmove(q->data, q->data + q->head, q->len);
            q->head = 0;
        }
        if (q->len + n > q->alloc) {
            size_t na = q->alloc ? q->alloc : 256;
            unsigned char *nd;
            while (na < q->len + n) {
                na *= 2;
            }
            nd = sim->alloc.realloc(sim->alloc.ctx, q->data, na);
            if (nd == NULL) {
                return AIOTP_ENOMEM;
            }
            q->data = nd;
            q->alloc = na;
        }
    }
    memcpy(q->data + q->head + q->len, b, n);
    q->len += n;
    return 0;
}

static size_t q_pop(sim_queue *q, unsigned char *b, size_t n, bool peek)
{
    if (n > q->len) {
        n = q->len;
    }
    if (n > 0 && b != NULL) {
        memcpy(b, q->data + q->head, n);
    }
    if (!peek) {
        q->head += n;
        q->len -= n;
        if (q->len == 0) {
            q->head = 0;
        }
    }
    return n;
}

static void q_drop(sim_queue *q)
{
    q->head = 0;
    q->len = 0;
}

void aiotp__sim_pair_free(aiotp_sim *sim, sim_pair *p)
{
    aiotp__sim_free(sim, p->q[0].data);
    aiotp__sim_free(sim, p->q[1].data);
    aiotp__sim_free(sim, p);
}

/* A new pair, both sides unassigned (the caller sets fd[] and addr[]). */
sim_pair *aiotp__sim_pair_new(aiotp_sim *sim)
{
    sim_pair *p = aiotp__sim_alloc(sim, sizeof(*p));
    if (p != NULL) {
        memset(p, 0, sizeof(*p));
        p->q[0].cap = AIOTP_SIM_DEFAULT_CAPACITY;
        p->q[1].cap = AIOTP_SIM_DEFAULT_CAPACITY;
        p->fd[0] = FD_CLOSED;
        p->fd[1] = FD_CLOSED;
    }
    return p;
}

/* The connection is reset; side `victim` reports -ECONNRESET once. */
void aiotp__sim_pair_reset(sim_pair *p, int victim)
{
    if (!p->broken) {
        p->err[victim] = -ECONNRESET;
        p->broken = true;
        q_drop(&p->q[0]);
        q_drop(&p->q[1]);
    }
}

/* recv on a connected endpoint (the caller counted the call and checked fd). */
ssize_t aiotp__sim_stream_recv(sim_ep *e, void *buf, size_t len, int flags)
{
    sim_pair *p = e->pair;
    sim_queue *q;
    int err;

    if (p->err[e->side] != 0) {
        err = p->err[e->side];
        p->err[e->side] = 0;
        return err;
    }
    if (e->eintr_recv) {
        e->eintr_recv = false;
        return -EINTR;
    }
    if (e->fail[FAIL_RECV].k > 0) {
        e->fail[FAIL_RECV].k--;
        return e->fail[FAIL_RECV].err;
    }
    if (len == 0) {
        return 0;
    }
    q = rx_queue(p, e->side);
    if (p->rd_shut[e->side]) {
        q_drop(q);
        return 0;
    }
    if (q->len > 0) {
        return (ssize_t)q_pop(q, buf, len, (flags & MSG_PEEK) != 0);
    }
    if (aiotp__sim_at_eof(p, e->side)) {
        return 0;
    }
    return -EAGAIN;
}

/* Send the concatenation of iov[0..n) on a connected endpoint (all-or-prefix, as a
   stream socket; the caller counted the call and checked fd). */
ssize_t aiotp__sim_stream_sendv(aiotp_sim *sim, sim_ep *e, const struct iovec *iov,
                                size_t n)
{
    sim_pair *p = e->pair;
    sim_queue *q;
    size_t want = 0;
    size_t room;
    size_t done = 0;
    size_t i;
    int err;

    if (p->err[e->side] != 0) {
        err = p->err[e->side];
        p->err[e->side] = 0;
        return err;
    }
    if (e->eintr_send) {
        e->eintr_send = false;
        return -EINTR;
    }
    if (e->fail[FAIL_SEND].k > 0) {
        e->fail[FAIL_SEND].k--;
        return e->fail[FAIL_SEND].err;
    }
    if (e->eagain > 0) {
        e->eagain--;
        return -EAGAIN;
    }
    for (i = 0; i < n; i++) {
        want += iov[i].iov_len;
    }
    if (aiotp__sim_send_dead(p, e->side)) {
        return -EPIPE;
    }
    if (want == 0) {
        return 0;
    }
    q = &p->q[e->side];
    room = q->len < q->cap ? q->cap - q->len : 0;
    if (room == 0) {
        return -EAGAIN;
    }
    if (want > room) {
        want = room;
    }
    if (e->send_limit > 0) {
        if (want > e->send_limit) {
            want = e->send_limit;
        }
        e->send_limit = 0;
    }
    for (i = 0; i < n && done < want; i++) {
        size_t k = iov[i].iov_len;
        if (k > want - done) {
            k = want - done;
        }
        if (q_push(sim, q, iov[i].iov_base, k) != 0) {
            break; /* out of memory: report what was taken (maybe EAGAIN) */
        }
        done += k;
    }
    if (done == 0) {
        return -EAGAIN;
    }
    sim->stats.bytes_moved += done; /* done <= the caller's buffers: fits a ssize_t */
    return (ssize_t)done;
}

/* shutdown of a connected endpoint. */
int aiotp__sim_stream_shutdown(sim_ep *e, int how)
{
    sim_pair *p;
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
        return -EINVAL;
    }
    if (e->fail[FAIL_SHUTDOWN].k > 0) {
        e->fail[FAIL_SHUTDOWN].k--;
        return e->fail[FAIL_SHUTDOWN].err;
    }
    p = e->pair;
    if (how == SHUT_WR || how == SHUT_RDWR) {
        p->q[e->side].shut = true;
    }
    if (how == SHUT_RD || how == SHUT_RDWR) {
        p->rd_shut[e->side] = true;
    }
    return 0;
}

void aiotp__sim_stream_close(aiotp_sim *sim, sim_ep *e)
{
    size_t i;
    if (e->kind == EP_CONN) {
        sim_pair *p = e->pair;
        int s = e->side;
        /* SO_LINGER with a zero timeout on TCP: the close resets the connection */
        if (aiotp__sim_is_inet(e->family) && e->linger.l_onoff != 0 &&
            e->linger.l_linger == 0 && p->fd[1 - s] != FD_CLOSED) {
            aiotp__sim_pair_reset(p, 1 - s);
        }
        p->fd[s] = FD_CLOSED;
        q_drop(rx_queue(p, s)); /* unread bytes are gone */
        if (p->fd[0] == FD_CLOSED && p->fd[1] == FD_CLOSED) {
            aiotp__sim_pair_free(sim, p);
        }
    } else if (e->kind == EP_LISTEN) {
        /* connections never accepted are reset */
        for (i = 0; i < e->nbacklog; i++) {
            sim_pair *p = e->backlog[i];
            p->fd[1] = FD_CLOSED;
            if (p->fd[0] == FD_CLOSED) {
                aiotp__sim_pair_free(sim, p);
            } else {
                aiotp__sim_pair_reset(p, 0);
            }
        }
        aiotp__sim_free(sim, e->backlog);
    }
}

int aiotp_sim_socketpair(aiotp_sim *sim, int *a, int *b)
{
    sim_pair *p;
    int fa;
    int fb;
    if (sim == NULL || a == NULL || b == NULL) {
        return AIOTP_EINVAL;
    }
    p = aiotp__sim_pair_new(sim);
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    aiotp__sim_addr_unspec(&p->addr[0], AF_UNIX);
    aiotp__sim_addr_unspec(&p->addr[1], AF_UNIX);
    fa = aiotp__sim_fd_alloc(sim);
    if (fa < 0) {
        aiotp__sim_free(sim, p);
        return fa;
    }
    sim->ep[fa].kind = EP_CONN; /* claim it before looking for the second */
    fb = aiotp__sim_fd_alloc(sim);
    if (fb < 0) {
        sim->ep[fa].kind = EP_FREE;
        aiotp__sim_free(sim, p);
        return fb;
    }
    memset(&sim->ep[fa], 0, sizeof(sim->ep[fa]));
    memset(&sim->ep[fb], 0, sizeof(sim->ep[fb]));
    sim->ep[fa].kind = EP_CONN;
    sim->ep[fa].family = AF_UNIX;
    sim->ep[fa].pair = p;
    sim->ep[fa].side = 0;
    sim->ep[fb].kind = EP_CONN;
    sim->ep[fb].family = AF_UNIX;
    sim->ep[fb].pair = p;
    sim->ep[fb].side = 1;
    p->fd[0] = fa;
    p->fd[1] = fb;
    sim->nopen += 2;
    *a = fa;
    *b = fb;
    return 0;
}
