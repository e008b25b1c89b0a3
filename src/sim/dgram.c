/*
 * src/sim/dgram.c - datagram sockets of the simulated kernel: UDP over AF_INET and
 * AF_INET6, AF_UNIX SOCK_DGRAM (bound paths and unnamed), and their script knobs (see
 * aiotp/sim.h for the model, sim_int.h for the layout).
 *
 * A datagram socket is an EP_DGRAM endpoint with a sim_dsock: its connection (a peer
 * address for UDP; the peer socket's id for Unix, whose address is also kept for
 * getpeername), its receive queue (a list of datagrams, each with its sender's address)
 * and its knobs. A send routes the datagram at once: UDP to the best bound socket of the
 * destination port (a connected socket only takes datagrams from its peer), Unix to the
 * socket bound to the path (or the connected peer). Nothing is ever queued at the sender.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include "aiotp/error.h"
#include "sim_int.h"

/* One datagram in a receive queue. */
typedef struct sim_dgram {
    struct sim_dgram *next;
    size_t len;
    sim_addr from;           /* the sender's address; from.len 0: none (unnamed Unix) */
    unsigned char data[];    /* len bytes */
} sim_dgram;

struct sim_dsock {
    uint64_t id;             /* never reused: names a Unix peer (fd numbers are reused) */
    bool connected;
    sim_addr peer;           /* the connected address (Unix: the peer's, for getpeername) */
    uint64_t peer_id;        /* Unix: the connected socket's id */
    bool ip_locked;          /* IP: bind gave a specific address (a disconnect keeps it) */
    bool port_locked;        /* IP: bind gave a port (a disconnect keeps it) */
    bool wr_shut;            /* shutdown(SHUT_WR): sends fail with -EPIPE */
    bool rd_shut;            /* shutdown(SHUT_RD): receives on an empty queue give 0 */
    bool stalled;            /* script: not writable, sends -EAGAIN */
    sim_dgram *head;         /* receive queue, oldest first */
    sim_dgram *tail;
    size_t count;
    size_t bytes;
    size_t qmax;             /* capacity of the queue, in datagrams */
    unsigned drop;           /* script: the next datagrams sent here are lost */
    unsigned dup;            /* script: ... arrive twice */
    unsigned reorder;        /* script: hold the next one back over this many */
    sim_dgram *held;         /* a datagram held back ... */
    unsigned held_for;       /* ... until this many more have arrived */
};

/* ---- helpers ------------------------------------------------------------------------ */

static sim_ep *dgram_ep(const aiotp_sim *sim, int fd, int *err)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    *err = e == NULL ? -EBADF : e->kind != EP_DGRAM ? -EOPNOTSUPP : 0;
    return *err == 0 ? e : NULL;
}

/* The open datagram socket with this id (a Unix peer), or NULL once it is closed. */
static sim_ep *by_id(const aiotp_sim *sim, uint64_t id)
{
    size_t i;
    for (i = 0; i < sim->ep_cap; i++) {
        if (sim->ep[i].kind == EP_DGRAM && sim->ep[i].dg->id == id) {
            return &sim->ep[i];
        }
    }
    return NULL;
}

static void dgram_free_list(aiotp_sim *sim, sim_dgram *d)
{
    while (d != NULL) {
        sim_dgram *next = d->next;
        aiotp__sim_free(sim, d);
        d = next;
    }
}

static void purge(aiotp_sim *sim, sim_dsock *d)
{
    dgram_free_list(sim, d->head);
    d->head = d->tail = NULL;
    d->count = 0;
    d->bytes = 0;
}

static sim_dgram *dgram_new(aiotp_sim *sim, size_t len)
{
    sim_dgram *g = aiotp__sim_alloc(sim, offsetof(sim_dgram, data) + len);
    if (g != NULL) {
        g->next = NULL;
        g->len = len;
        memset(&g->from, 0, sizeof(g->from));
    }
    return g;
}

static void enqueue(sim_dsock *d, sim_dgram *g)
{
    g->next = NULL;
    if (d->tail != NULL) {
        d->tail->next = g;
    } else {
        d->head = g;
    }
    d->tail = g;
    d->count++;
    d->bytes += g->len;
}

/* The largest payload of a socket of this family. */
static size_t max_payload(int family)
{
    return family == AF_INET ? AIOTP_SIM_UDP4_MAX
           : family == AF_INET6 ? AIOTP_SIM_UDP6_MAX
                                : AIOTP_SIM_UNIX_DGRAM_MAX;
}

/* ---- socket, close ------------------------------------------------------------------ */

int aiotp__sim_dgram_socket(aiotp_sim *sim, int family, bool nonblock)
{
    sim_dsock *d;
    int fd = aiotp__sim_fd_alloc(sim);
    if (fd < 0) {
        return fd;
    }
    d = aiotp__sim_alloc(sim, sizeof(*d));
    if (d == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(d, 0, sizeof(*d));
    d->id = ++sim->next_id;
    d->qmax = AIOTP_SIM_DGRAM_QUEUE;
    memset(&sim->ep[fd], 0, sizeof(sim->ep[fd]));
    sim->ep[fd].kind = EP_DGRAM;
    sim->ep[fd].family = family;
    sim->ep[fd].nonblock = nonblock;
    sim->ep[fd].dg = d;
    aiotp__sim_addr_unspec(&sim->ep[fd].local, family);
    sim->nopen++;
    return fd;
}

void aiotp__sim_dgram_close(aiotp_sim *sim, sim_ep *e)
{
    sim_dsock *d = e->dg;
    purge(sim, d);
    if (d->held != NULL) {
        sim->stats.dgrams_dropped++;
        aiotp__sim_free(sim, d->held);
    }
    aiotp__sim_free(sim, d);
}

int aiotp_sim_socketpair_dgram(aiotp_sim *sim, int *a, int *b)
{
    int fa;
    int fb;
    sim_dsock *da;
    sim_dsock *db;
    if (sim == NULL || a == NULL || b == NULL) {
        return AIOTP_EINVAL;
    }
    fa = aiotp__sim_dgram_socket(sim, AF_UNIX, false);
    if (fa < 0) {
        return fa;
    }
    fb = aiotp__sim_dgram_socket(sim, AF_UNIX, false);
    if (fb < 0) {
        (void)aiotp__sim_close(sim, fa);
        return fb;
    }
    da = sim->ep[fa].dg;
    db = sim->ep[fb].dg;
    da->connected = db->connected = true;
    da->peer_id = db->id;
    db->peer_id = da->id;
    aiotp__sim_addr_unspec(&da->peer, AF_UNIX);
    aiotp__sim_addr_unspec(&db->peer, AF_UNIX);
    *a = fa;
    *b = fb;
    return 0;
}

/* ---- connect ------------------------------------------------------------------------ */

/* Unix: e stops being connected to its peer. As Linux, what it had received (from that
   peer: a connected socket takes nothing else) is dropped, and a live peer still
   connected back to e learns it through a pending -ECONNRESET. */
static void unix_disconnect(aiotp_sim *sim, sim_ep *e)
{
    sim_dsock *d = e->dg;
    if (d->count > 0) {
        sim_ep *old = by_id(sim, d->peer_id);
        purge(sim, d);
        if (old != NULL && old->dg->connected && old->dg->peer_id == d->id) {
            old->sock_err = -ECONNRESET;
        }
    }
    d->connected = false;
}

/* The socket a Unix path names: 0 and *out, or -ENOENT (no such path), -ECONNREFUSED
   (a stale path: nothing bound there now), -EPROTOTYPE (a stream socket). */
static int unix_target(const aiotp_sim *sim, const sim_addr *dst, sim_ep **out)
{
    const sim_path *f = aiotp__sim_path_find(sim, aiotp__sim_unix_path(dst));
    size_t i;
    if (f == NULL) {
        return -ENOENT;
    }
    for (i = 0; i < sim->ep_cap; i++) {
        sim_ep *o = &sim->ep[i];
        if (o->kind != EP_FREE && o->family == AF_UNIX && o->bound && o->ino == f->ino) {
            *out = o;
            return o->kind == EP_DGRAM ? 0 : -EPROTOTYPE;
        }
    }
    return -ECONNREFUSED;
}

/* IP: check and normalise a destination (the wildcard means this host); 0, -EACCES
   (broadcast without SO_BROADCAST) or -ENETUNREACH (not this host). */
static int ip_route(const sim_ep *e, sim_addr *dst)
{
    if (aiotp__sim_addr_is_any(dst)) {
        aiotp__sim_addr_set_loopback(dst);
    }
    if (e->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&dst->ss;
        if (in->sin_addr.s_addr == htonl(INADDR_BROADCAST)) {
            return e->broadcast ? -ENETUNREACH : -EACCES; /* no broadcast network here */
        }
    }
    return aiotp__sim_addr_is_loopback(dst) ? 0 : -ENETUNREACH;
}

/* IP: an unbound socket gets an ephemeral port (its address stays: the wildcard, or
   what a bind gave before a disconnect), as a first send does; 0 or -EAGAIN (no port
   left). */
static int autobind(aiotp_sim *sim, sim_ep *e)
{
    unsigned port;
    if (e->bound) {
        return 0;
    }
    port = aiotp__sim_ephemeral_port(sim, e->family, true);
    if (port == 0) {
        return -EAGAIN;
    }
    aiotp__sim_addr_set_port(&e->local, port);
    e->bound = true;
    return 0;
}

int aiotp__sim_dgram_connect(aiotp_sim *sim, sim_ep *e, const struct sockaddr *a,
                             socklen_t l)
{
    sim_dsock *d = e->dg;
    sim_addr dst;
    sim_ep *t = NULL;
    int rc;

    if (a != NULL && l >= (socklen_t)sizeof(sa_family_t) && a->sa_family == AF_UNSPEC) {
        /* dissolve the association */
        if (e->family == AF_UNIX) {
            if (d->connected) {
                unix_disconnect(sim, e);
            }
            return 0;
        }
        d->connected = false;
        if (!d->ip_locked) {
            unsigned port = aiotp__sim_addr_port(&e->local);
            aiotp__sim_addr_unspec(&e->local, e->family);
            aiotp__sim_addr_set_port(&e->local, port);
        }
        if (!d->port_locked) {
            aiotp__sim_addr_set_port(&e->local, 0); /* an ephemeral port goes back */
            e->bound = false;
        }
        return 0;
    }
    rc = aiotp__sim_addr_in(&dst, e->family, a, l);
    if (rc != 0) {
        return rc;
    }
    if (e->family == AF_UNIX) {
        rc = unix_target(sim, &dst, &t);
        if (rc != 0) {
            return rc;
        }
        if (t->dg->connected && t->dg->peer_id != d->id) {
            return -EPERM; /* it takes datagrams from its own peer only */
        }
        if (d->connected && d->peer_id != t->dg->id) {
            unix_disconnect(sim, e);
        }
        d->peer_id = t->dg->id;
        d->peer = dst;
        d->connected = true;
        return 0;
    }
    rc = ip_route(e, &dst);
    if (rc == 0) {
        rc = autobind(sim, e);
    }
    if (rc != 0) {
        return rc;
    }
    if (aiotp__sim_addr_is_any(&e->local)) {
        /* the source address of the route: the host's first address */
        unsigned port = aiotp__sim_addr_port(&e->local);
        aiotp__sim_addr_set_loopback(&e->local);
        aiotp__sim_addr_set_port(&e->local, port);
    }
    d->peer = dst;
    d->connected = true;
    return 0;
}

void aiotp__sim_dgram_bound(sim_ep *e, bool ip, bool port)
{
    e->dg->ip_locked = ip;
    e->dg->port_locked = port;
}

int aiotp__sim_dgram_peername(const aiotp_sim *sim, const sim_ep *e, sim_addr *out)
{
    (void)sim;
    if (!e->dg->connected) {
        return -ENOTCONN;
    }
    *out = e->dg->peer;
    return 0;
}

/* ---- routing and arrival ------------------------------------------------------------- */

/* UDP: the socket that takes a datagram from src to dst, or NULL. Candidates are bound
   to dst's port and address (or the wildcard), and if connected, to src; the most
   specific wins (connected, then an exact address), then the lowest fd. */
static sim_ep *udp_receiver(const aiotp_sim *sim, int family, const sim_addr *dst,
                            const sim_addr *src)
{
    sim_ep *best = NULL;
    int best_score = -1;
    unsigned port = aiotp__sim_addr_port(dst);
    size_t i;
    for (i = 0; i < sim->ep_cap; i++) {
        sim_ep *o = &sim->ep[i];
        int score = 0;
        if (o->kind != EP_DGRAM || o->family != family || !o->bound ||
            aiotp__sim_addr_port(&o->local) != port) {
            continue;
        }
        if (!aiotp__sim_addr_is_any(&o->local)) {
            if (!aiotp__sim_addr_same_ip(&o->local, dst)) {
                continue;
            }
            score += 1;
        }
        if (o->dg->connected) {
            if (!aiotp__sim_addr_same_ip(&o->dg->peer, src) ||
                aiotp__sim_addr_port(&o->dg->peer) != aiotp__sim_addr_port(src)) {
                continue;
            }
            score += 2;
        }
        if (score > best_score) {
            best = o;
            best_score = score;
        }
    }
    return best;
}

/* Unix: the receiver's queue has no room for a datagram from sender s. */
static bool unix_full(const sim_ep *r, const sim_dsock *s)
{
    const sim_dsock *d = r->dg;
    bool peer = d->connected && d->peer_id == s->id;
    return d->count >= d->qmax || (!peer && d->count >= AIOTP_SIM_UNIX_DGRAM_QLEN);
}

/* Put one datagram into r's queue (a full UDP queue loses it; Unix checked the room
   before sending), then release a held datagram whose turn has come. */
static void deliver_one(aiotp_sim *sim, sim_ep *r, sim_dgram *g)
{
    sim_dsock *d = r->dg;
    if (d->reorder > 0) { /* armed only while nothing is held */
        d->held = g;
        d->held_for = d->reorder;
        d->reorder = 0;
        return;
    }
    if (r->family != AF_UNIX && d->count >= d->qmax) {
        sim->stats.dgrams_dropped++;
        aiotp__sim_free(sim, g);
    } else {
        enqueue(d, g);
    }
    if (d->held != NULL && --d->held_for == 0) {
        g = d->held;
        d->held = NULL;
        deliver_one(sim, r, g);
    }
}

/* A datagram reaches r: the knobs act on the way (drop, duplicate, reorder). */
static void arrive(aiotp_sim *sim, sim_ep *r, sim_dgram *g)
{
    sim_dsock *d = r->dg;
    sim_dgram *copy = NULL;
    if (d->drop > 0) {
        d->drop--;
        sim->stats.dgrams_dropped++;
        aiotp__sim_free(sim, g);
        return;
    }
    if (d->dup > 0) {
        d->dup--;
        copy = dgram_new(sim, g->len);
        if (copy != NULL) {
            memcpy(copy->data, g->data, g->len);
            copy->from = g->from;
        }
    }
    deliver_one(sim, r, g);
    if (copy != NULL) {
        deliver_one(sim, r, copy);
    }
}

/* ---- send ---------------------------------------------------------------------------- */

/* The pending error of a send or receive: an asynchronous error first, then the
   injected ones (EINTR, then an injected error); 0 if none. */
static int take_err(sim_ep *e, bool send)
{
    sim_fail *f = &e->fail[send ? FAIL_SEND : FAIL_RECV];
    bool *eintr = send ? &e->eintr_send : &e->eintr_recv;
    int err = e->sock_err;
    if (err != 0) {
        e->sock_err = 0;
        return err;
    }
    if (*eintr) {
        *eintr = false;
        return -EINTR;
    }
    if (f->k > 0) {
        f->k--;
        return f->err;
    }
    return 0;
}

/* Unix: route g to the path `to` (or the connected peer); 0 or -errno (g not used). */
static int unix_send(aiotp_sim *sim, sim_ep *e, const sim_addr *to, sim_dgram *g)
{
    sim_dsock *d = e->dg;
    sim_ep *r = NULL;
    int rc;
    if (to != NULL) {
        rc = unix_target(sim, to, &r);
        if (rc != 0) {
            return rc;
        }
    } else {
        r = by_id(sim, d->peer_id);
        if (r == NULL) {
            /* the peer is gone: the first send says so and dissolves the connection */
            unix_disconnect(sim, e);
            return -ECONNREFUSED;
        }
    }
    if (r->dg->connected && r->dg->peer_id != d->id) {
        return -EPERM; /* it takes datagrams from its own peer only */
    }
    if (r->dg->rd_shut) {
        return -EPIPE;
    }
    if (unix_full(r, d)) {
        return -EAGAIN; /* the sim never blocks */
    }
    if (e->bound) {
        g->from = e->local;
    }
    arrive(sim, r, g);
    return 0;
}

/* UDP: route g from e to dst; 0 or -errno (g not used). Nothing bound there: the
   datagram is lost, and a sender connected to dst gets -ECONNREFUSED later (an ICMP
   port unreachable), as Linux. */
static int udp_send(aiotp_sim *sim, sim_ep *e, const sim_addr *dst, sim_dgram *g)
{
    sim_dsock *d = e->dg;
    sim_ep *r;
    g->from = e->local;
    if (aiotp__sim_addr_is_any(&g->from)) {
        unsigned port = aiotp__sim_addr_port(&e->local);
        aiotp__sim_addr_set_loopback(&g->from); /* the route's source address */
        aiotp__sim_addr_set_port(&g->from, port);
    }
    r = udp_receiver(sim, e->family, dst, &g->from);
    if (r == NULL) {
        sim->stats.dgrams_dropped++;
        aiotp__sim_free(sim, g);
        if (d->connected && aiotp__sim_addr_same_ip(&d->peer, dst) &&
            aiotp__sim_addr_port(&d->peer) == aiotp__sim_addr_port(dst)) {
            e->sock_err = -ECONNREFUSED;
        }
        return 0;
    }
    arrive(sim, r, g);
    return 0;
}

ssize_t aiotp__sim_dgram_sendv(aiotp_sim *sim, sim_ep *e, const struct iovec *iov,
                               size_t n, const struct sockaddr *to, socklen_t tolen)
{
    sim_dsock *d = e->dg;
    sim_addr dst;
    sim_dgram *g;
    size_t len = 0;
    size_t i;
    int rc;

    rc = take_err(e, true);
    if (rc != 0) {
        return rc;
    }
    if (d->stalled) {
        return -EAGAIN;
    }
    if (e->eagain > 0) {
        e->eagain--;
        return -EAGAIN;
    }
    for (i = 0; i < n; i++) {
        if (iov[i].iov_base == NULL && iov[i].iov_len > 0) {
            return -EFAULT;
        }
        if (iov[i].iov_len > max_payload(e->family) - len) {
            return -EMSGSIZE;
        }
        len += iov[i].iov_len;
    }
    if (to != NULL) {
        rc = aiotp__sim_addr_in(&dst, e->family, to, tolen);
        if (rc != 0) {
            return rc;
        }
        if (e->family != AF_UNIX) {
            if (aiotp__sim_addr_port(&dst) == 0) {
                return -EINVAL;
            }
            rc = ip_route(e, &dst);
            if (rc != 0) {
                return rc;
            }
        }
    } else if (!d->connected) {
        return e->family == AF_UNIX ? -ENOTCONN : -EDESTADDRREQ;
    } else {
        dst = d->peer;
    }
    if (d->wr_shut) {
        return -EPIPE;
    }
    if (e->family != AF_UNIX) {
        rc = autobind(sim, e);
        if (rc != 0) {
            return rc;
        }
    }
    g = dgram_new(sim, len);
    if (g == NULL) {
        return -ENOMEM;
    }
    len = 0;
    for (i = 0; i < n; i++) {
        if (iov[i].iov_len > 0) {
            memcpy(g->data + len, iov[i].iov_base, iov[i].iov_len);
            len += iov[i].iov_len;
        }
    }
    rc = e->family == AF_UNIX ? unix_send(sim, e, to != NULL ? &dst : NULL, g)
                              : udp_send(sim, e, &dst, g);
    if (rc != 0) {
        aiotp__sim_free(sim, g);
        return rc;
    }
    sim->stats.dgrams_sent++;
    sim->stats.bytes_moved += len;
    return (ssize_t)len;
}

/* ---- receive, shutdown, readiness ---------------------------------------------------- */

ssize_t aiotp__sim_dgram_recv(aiotp_sim *sim, sim_ep *e, void *buf, size_t len, int flags,
                              struct sockaddr *from, socklen_t *fromlen)
{
    sim_dsock *d = e->dg;
    sim_dgram *g;
    size_t n;
    int rc;

    if ((buf == NULL && len > 0) || (from != NULL && fromlen == NULL)) {
        return -EFAULT;
    }
    rc = take_err(e, false);
    if (rc != 0) {
        return rc;
    }
    g = d->head;
    if (g == NULL) {
        return d->rd_shut ? 0 : -EAGAIN; /* the sim never blocks */
    }
    n = g->len < len ? g->len : len; /* a short buffer truncates; the rest is lost */
    if (n > 0) {
        memcpy(buf, g->data, n);
    }
    if (from != NULL) {
        if (g->from.len == 0) {
            *fromlen = 0; /* an unnamed sender has no address */
        } else {
            (void)aiotp__sim_addr_out(&g->from, from, fromlen);
        }
    }
    if ((flags & MSG_TRUNC) != 0) {
        n = g->len; /* the datagram's real length */
    }
    if ((flags & MSG_PEEK) == 0) {
        d->head = g->next;
        if (d->head == NULL) {
            d->tail = NULL;
        }
        d->count--;
        d->bytes -= g->len;
        aiotp__sim_free(sim, g);
    }
    return (ssize_t)n;
}

int aiotp__sim_dgram_shutdown(sim_ep *e, int how)
{
    sim_dsock *d = e->dg;
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
        return -EINVAL;
    }
    if (e->fail[FAIL_SHUTDOWN].k > 0) {
        e->fail[FAIL_SHUTDOWN].k--;
        return e->fail[FAIL_SHUTDOWN].err;
    }
    d->wr_shut = d->wr_shut || how != SHUT_RD;
    d->rd_shut = d->rd_shut || how != SHUT_WR;
    /* Linux: an unconnected UDP socket says ENOTCONN, and is shut all the same */
    return e->family != AF_UNIX && !d->connected ? -ENOTCONN : 0;
}

short aiotp__sim_dgram_revents(const aiotp_sim *sim, const sim_ep *e)
{
    const sim_dsock *d = e->dg;
    short re = 0;
    if (d->count > 0 || d->rd_shut) {
        re |= POLLIN;
    }
    if (e->sock_err != 0) {
        re |= POLLERR;
    }
    if (!d->stalled) {
        const sim_ep *r = NULL;
        if (e->family == AF_UNIX && d->connected) {
            r = by_id(sim, d->peer_id);
        }
        if (r == NULL || !unix_full(r, d)) {
            re |= POLLOUT; /* a Unix sender waits for room at its connected peer */
        }
    }
    return re;
}

size_t aiotp__sim_dgram_bytes(const sim_ep *e)
{
    return e->dg->bytes;
}

/* ---- knobs and observation ----------------------------------------------------------- */

int aiotp_sim_dgram_drop(aiotp_sim *sim, int fd, unsigned k)
{
    int err;
    sim_ep *e = dgram_ep(sim, fd, &err);
    if (e != NULL) {
        e->dg->drop = k;
    }
    return err;
}

int aiotp_sim_dgram_duplicate(aiotp_sim *sim, int fd, unsigned k)
{
    int err;
    sim_ep *e = dgram_ep(sim, fd, &err);
    if (e != NULL) {
        e->dg->dup = k;
    }
    return err;
}

int aiotp_sim_dgram_reorder(aiotp_sim *sim, int fd, unsigned k)
{
    int err;
    sim_ep *e = dgram_ep(sim, fd, &err);
    if (e == NULL) {
        return err;
    }
    if (k == 0) {
        return AIOTP_EINVAL;
    }
    if (e->dg->held != NULL) {
        e->dg->held_for = k;
    } else {
        e->dg->reorder = k;
    }
    return 0;
}

int aiotp_sim_dgram_flush(aiotp_sim *sim, int fd)
{
    int err;
    sim_ep *e = dgram_ep(sim, fd, &err);
    sim_dgram *g;
    if (e == NULL) {
        return err;
    }
    e->dg->reorder = 0;
    g = e->dg->held;
    if (g == NULL) {
        return 0;
    }
    e->dg->held = NULL;
    deliver_one(sim, e, g);
    return 1;
}

int aiotp_sim_dgram_set_queue(aiotp_sim *sim, int fd, size_t max)
{
    int err;
    sim_ep *e = dgram_ep(sim, fd, &err);
    if (e != NULL) {
        e->dg->qmax = max;
    }
    return err;
}

int aiotp_sim_dgram_stall(aiotp_sim *sim, int fd, int stalled)
{
    int err;
    sim_ep *e = dgram_ep(sim, fd, &err);
    if (e != NULL) {
        e->dg->stalled = stalled != 0;
    }
    return err;
}

int aiotp_sim_dgram_error(aiotp_sim *sim, int fd, int code)
{
    int err;
    sim_ep *e = dgram_ep(sim, fd, &err);
    if (e == NULL) {
        return err;
    }
    if (code >= 0) {
        return AIOTP_EINVAL;
    }
    e->sock_err = code;
    return 0;
}

ssize_t aiotp_sim_dgram_count(const aiotp_sim *sim, int fd)
{
    int err;
    sim_ep *e = dgram_ep(sim, fd, &err);
    return e != NULL ? (ssize_t)e->dg->count : err;
}
