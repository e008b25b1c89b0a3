/*
 * src/sim/core.c - the simulated kernel object: its allocator, the fd table, the syscall
 * table (whose entries dispatch on the kind of the fd), the peer's calls and observation
 * (see sim_int.h for the layout and the other files, aiotp/sim.h for the model).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "aiotp/error.h"
#include "sim_int.h"

/* ---- helpers ------------------------------------------------------------------------ */

void *aiotp__sim_alloc(aiotp_sim *sim, size_t n)
{
    return sim->alloc.alloc(sim->alloc.ctx, n);
}

void aiotp__sim_free(aiotp_sim *sim, void *p)
{
    if (p != NULL) {
        sim->alloc.free(sim->alloc.ctx, p);
    }
}

/* Any open endpoint. */
sim_ep *aiotp__sim_ep_open(const aiotp_sim *sim, int fd)
{
    if (sim == NULL || fd < 0 || (size_t)fd >= sim->ep_cap || sim->ep[fd].kind == EP_FREE) {
        return NULL;
    }
    return &sim->ep[fd];
}

/* A connected endpoint. */
sim_ep *aiotp__sim_ep_conn(const aiotp_sim *sim, int fd)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    return e != NULL && e->kind == EP_CONN ? e : NULL;
}

/* Why fd is not a connected endpoint: -EBADF, -EOPNOTSUPP (datagram) or -ENOTCONN. */
int aiotp__sim_not_conn(const aiotp_sim *sim, int fd)
{
    const sim_ep *e = aiotp__sim_ep_open(sim, fd);
    return e == NULL ? -EBADF : e->kind == EP_DGRAM ? -EOPNOTSUPP : -ENOTCONN;
}

/* The lowest free fd number >= SIM_FIRST_FD (the table may move: re-take pointers). */
int aiotp__sim_fd_alloc(aiotp_sim *sim)
{
    size_t i;
    for (i = SIM_FIRST_FD; i < sim->ep_cap; i++) {
        if (sim->ep[i].kind == EP_FREE) {
            return (int)i;
        }
    }
    if (sim->ep_cap >= AIOTP_SIM_MAX_FDS) {
        return -EMFILE;
    }
    {
        /* 16, 32, ... AIOTP_SIM_MAX_FDS (16 << k): never beyond it */
        size_t ncap = sim->ep_cap ? sim->ep_cap * 2 : 16;
        sim_ep *n;
        n = sim->alloc.realloc(sim->alloc.ctx, sim->ep, ncap * sizeof(*n));
        if (n == NULL) {
            return AIOTP_ENOMEM;
        }
        memset(n + sim->ep_cap, 0, (ncap - sim->ep_cap) * sizeof(*n));
        i = sim->ep_cap < SIM_FIRST_FD ? SIM_FIRST_FD : sim->ep_cap;
        sim->ep = n;
        sim->ep_cap = ncap;
        return (int)i;
    }
}

/* ---- the data path of every kind ---------------------------------------------------- */

ssize_t aiotp__sim_recv(aiotp_sim *sim, int fd, void *buf, size_t len, int flags,
                        struct sockaddr *from, socklen_t *fromlen)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    ssize_t rc;
    int err;

    sim->stats.recvs++;
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_DGRAM) {
        return aiotp__sim_dgram_recv(sim, e, buf, len, flags, from, fromlen);
    }
    if (e->kind == EP_CONN) {
        rc = aiotp__sim_stream_recv(e, buf, len, flags);
        if (rc >= 0 && from != NULL && fromlen != NULL) {
            *fromlen = 0; /* a stream gives no sender address */
        }
        return rc;
    }
    if (e->sock_err != 0) {
        err = e->sock_err;
        e->sock_err = 0;
        return err;
    }
    return -ENOTCONN;
}

ssize_t aiotp__sim_sendv(aiotp_sim *sim, int fd, const struct iovec *iov, size_t n,
                         const struct sockaddr *to, socklen_t tolen)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    int err;

    sim->stats.sends++;
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_DGRAM) {
        return aiotp__sim_dgram_sendv(sim, e, iov, n, to, tolen);
    }
    if (to != NULL && e->family == AF_UNIX) {
        /* a Unix stream takes no address (TCP ignores one) */
        return e->kind == EP_CONN ? -EISCONN : -EOPNOTSUPP;
    }
    if (e->kind == EP_CONN) {
        return aiotp__sim_stream_sendv(sim, e, iov, n);
    }
    if (e->sock_err != 0) {
        err = e->sock_err;
        e->sock_err = 0;
        return err;
    }
    return -ENOTCONN;
}

static ssize_t do_send(aiotp_sim *sim, int fd, const void *buf, size_t len)
{
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)buf;
    v.iov_len = len;
    return aiotp__sim_sendv(sim, fd, &v, 1, NULL, 0);
}

int aiotp__sim_shutdown(aiotp_sim *sim, int fd, int how)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    if (e != NULL && e->kind == EP_DGRAM) {
        return aiotp__sim_dgram_shutdown(e, how);
    }
    e = aiotp__sim_ep_conn(sim, fd);
    if (e == NULL) {
        return aiotp__sim_not_conn(sim, fd);
    }
    return aiotp__sim_stream_shutdown(e, how);
}

int aiotp__sim_close(aiotp_sim *sim, int fd)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_DGRAM) {
        aiotp__sim_dgram_close(sim, e);
    } else {
        aiotp__sim_stream_close(sim, e);
    }
    memset(e, 0, sizeof(*e));
    sim->nopen--;
    return 0;
}

/* ---- the syscall table ---------------------------------------------------------------- */

static int x_socket(void *ctx, int d, int t, int pr)
{
    aiotp_sim *sim = ctx;
    bool nb = false;
    int fd;
#ifdef SOCK_NONBLOCK
    if ((t & SOCK_NONBLOCK) != 0) {
        nb = true;
        t &= ~SOCK_NONBLOCK;
    }
#endif
#ifdef SOCK_CLOEXEC
    t &= ~SOCK_CLOEXEC;
#endif
    if (d != AF_UNIX && d != AF_INET && d != AF_INET6) {
        return -EAFNOSUPPORT;
    }
    if (t == SOCK_DGRAM) {
        if (pr != 0 && !(aiotp__sim_is_inet(d) && pr == IPPROTO_UDP)) {
            return -EPROTONOSUPPORT;
        }
        return aiotp__sim_dgram_socket(sim, d, nb);
    }
    if (t != SOCK_STREAM || (pr != 0 && !(aiotp__sim_is_inet(d) && pr == IPPROTO_TCP))) {
        return -EPROTONOSUPPORT;
    }
    fd = aiotp__sim_fd_alloc(sim);
    if (fd < 0) {
        return fd;
    }
    memset(&sim->ep[fd], 0, sizeof(sim->ep[fd]));
    sim->ep[fd].kind = EP_SOCK;
    sim->ep[fd].family = d;
    sim->ep[fd].nonblock = nb;
    sim->nopen++;
    return fd;
}

static int x_close(void *ctx, int fd)
{
    return aiotp__sim_close(ctx, fd);
}

static int x_shutdown(void *ctx, int fd, int how)
{
    return aiotp__sim_shutdown(ctx, fd, how);
}

static int x_getsockname(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    sim_ep *e = aiotp__sim_ep_open(ctx, fd);
    sim_addr local;
    if (e == NULL) {
        return -EBADF;
    }
    aiotp__sim_ep_local(e, &local);
    return aiotp__sim_addr_out(&local, a, l);
}

static int x_getpeername(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    sim_ep *e = aiotp__sim_ep_open(ctx, fd);
    sim_addr peer;
    int rc;
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_DGRAM) {
        rc = aiotp__sim_dgram_peername(ctx, e, &peer);
        return rc != 0 ? rc : aiotp__sim_addr_out(&peer, a, l);
    }
    if (e->kind != EP_CONN || aiotp__sim_peer_closed(e->pair, e->side) || e->pair->broken) {
        return -ENOTCONN;
    }
    return aiotp__sim_addr_out(&e->pair->addr[1 - e->side], a, l);
}

static int x_set_nonblock(void *ctx, int fd)
{
    sim_ep *e = aiotp__sim_ep_open(ctx, fd);
    if (e == NULL) {
        return -EBADF;
    }
    e->nonblock = true;
    return 0;
}

static ssize_t x_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
    return aiotp__sim_recv(ctx, fd, buf, len, flags, NULL, NULL);
}

static ssize_t x_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
    (void)flags;
    return do_send(ctx, fd, buf, len);
}

static ssize_t x_sendmsg(void *ctx, int fd, const struct msghdr *m, int flags)
{
    (void)flags;
    if (m == NULL || (m->msg_iov == NULL && m->msg_iovlen > 0)) {
        return -EFAULT;
    }
    return aiotp__sim_sendv(ctx, fd, m->msg_iov, (size_t)m->msg_iovlen,
                            (const struct sockaddr *)m->msg_name, m->msg_namelen);
}

static ssize_t x_read(void *ctx, int fd, void *buf, size_t len)
{
    return aiotp__sim_recv(ctx, fd, buf, len, 0, NULL, NULL);
}

static ssize_t x_write(void *ctx, int fd, const void *buf, size_t len)
{
    return do_send(ctx, fd, buf, len);
}

static ssize_t x_writev(void *ctx, int fd, const struct iovec *iov, int n)
{
    if (n < 0) {
        return -EINVAL;
    }
    return aiotp__sim_sendv(ctx, fd, iov, (size_t)n, NULL, 0);
}

static ssize_t x_sendto(void *ctx, int fd, const void *buf, size_t len, int flags,
                        const struct sockaddr *a, socklen_t l)
{
    struct iovec v;
    (void)flags;
    v.iov_base = (void *)(uintptr_t)buf;
    v.iov_len = len;
    return aiotp__sim_sendv(ctx, fd, &v, 1, a, l);
}

static ssize_t x_recvfrom(void *ctx, int fd, void *buf, size_t len, int flags,
                          struct sockaddr *a, socklen_t *l)
{
    return aiotp__sim_recv(ctx, fd, buf, len, flags, a, l);
}

/* pipe(2): the sim has no pipes of its own; a connected AF_UNIX stream pair with the
   read end's sending side and the write end's receiving side shut does what a pipe does
   for read/write/close and readiness (the write end's close is the reader's EOF). */
static int x_pipe(void *ctx, int fds[2])
{
    aiotp_sim *sim = ctx;
    int rc;
    if (fds == NULL) {
        return -EFAULT;
    }
    rc = aiotp_sim_socketpair(sim, &fds[0], &fds[1]);
    if (rc != 0) {
        return rc;
    }
    (void)aiotp__sim_shutdown(sim, fds[0], SHUT_WR);
    (void)aiotp__sim_shutdown(sim, fds[1], SHUT_RD);
    return 0;
}

/* ---- creation --------------------------------------------------------------------------- */

int aiotp_sim_create(aiotp_sim **out, const aiotp_allocator *alloc)
{
    aiotp_sim *sim;
    if (out == NULL) {
        return AIOTP_EINVAL;
    }
    *out = NULL;
    if (alloc == NULL) {
        alloc = aiotp_allocator_default();
    }
    if (alloc->alloc == NULL || alloc->realloc == NULL || alloc->free == NULL) {
        return AIOTP_EINVAL;
    }
    sim = alloc->alloc(alloc->ctx, sizeof(*sim));
    if (sim == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(sim, 0, sizeof(*sim));
    sim->magic = SIM_MAGIC;
    sim->alloc = *alloc;
    sim->port_first = SIM_PORT_FIRST;
    sim->port_last = SIM_PORT_LAST;
    sim->next_port = SIM_PORT_FIRST;
    sim->sys.size = sizeof(sim->sys);
    sim->sys.ctx = sim;
    sim->sys.socket = x_socket;
    sim->sys.close = x_close;
    sim->sys.connect = aiotp__sim_connect;
    sim->sys.accept = aiotp__sim_accept;
    sim->sys.bind = aiotp__sim_bind;
    sim->sys.listen = aiotp__sim_listen;
    sim->sys.shutdown = x_shutdown;
    sim->sys.getsockopt = aiotp__sim_getsockopt;
    sim->sys.setsockopt = aiotp__sim_setsockopt;
    sim->sys.getsockname = x_getsockname;
    sim->sys.getpeername = x_getpeername;
    sim->sys.set_nonblock = x_set_nonblock;
    sim->sys.recv = x_recv;
    sim->sys.send = x_send;
    sim->sys.sendmsg = x_sendmsg;
    sim->sys.read = x_read;
    sim->sys.write = x_write;
    sim->sys.writev = x_writev;
    sim->sys.poll = aiotp__sim_poll;
    sim->sys.getaddrinfo = aiotp__sim_getaddrinfo;
    sim->sys.freeaddrinfo = aiotp__sim_freeaddrinfo;
    sim->sys.clock_ns = aiotp__sim_clock_ns;
    sim->sys.unlink_socket = aiotp__sim_unlink_socket;
    sim->sys.sendto = x_sendto;
    sim->sys.recvfrom = x_recvfrom;
    sim->sys.pipe = x_pipe;
    *out = sim;
    return 0;
}

void aiotp_sim_free(aiotp_sim *sim)
{
    size_t i;
    if (sim == NULL) {
        return;
    }
    for (i = 0; i < sim->ep_cap; i++) {
        if (sim->ep[i].kind != EP_FREE) {
            (void)aiotp__sim_close(sim, (int)i);
        }
    }
    for (i = 0; i < sim->npaths; i++) {
        aiotp__sim_free(sim, sim->paths[i].path);
    }
    aiotp__sim_free(sim, sim->paths);
    aiotp__sim_free(sim, sim->ep);
    sim->magic = 0;
    sim->alloc.free(sim->alloc.ctx, sim);
}

const aiotp_syscalls *aiotp_sim_syscalls(aiotp_sim *sim)
{
    return sim != NULL ? &sim->sys : NULL;
}

/* ---- the peer's calls, observation ---------------------------------------------------- */

ssize_t aiotp_sim_write(aiotp_sim *sim, int fd, const void *buf, size_t len)
{
    return sim != NULL ? do_send(sim, fd, buf, len) : -EBADF;
}

ssize_t aiotp_sim_read(aiotp_sim *sim, int fd, void *buf, size_t len)
{
    return sim != NULL ? aiotp__sim_recv(sim, fd, buf, len, 0, NULL, NULL) : -EBADF;
}

int aiotp_sim_shutdown(aiotp_sim *sim, int fd, int how)
{
    return sim != NULL ? aiotp__sim_shutdown(sim, fd, how) : -EBADF;
}

int aiotp_sim_close(aiotp_sim *sim, int fd)
{
    return sim != NULL ? aiotp__sim_close(sim, fd) : -EBADF;
}

ssize_t aiotp_sim_readable(const aiotp_sim *sim, int fd)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    if (e != NULL && e->kind == EP_DGRAM) {
        return (ssize_t)aiotp__sim_dgram_bytes(e);
    }
    e = aiotp__sim_ep_conn(sim, fd);
    if (e == NULL) {
        return aiotp__sim_not_conn(sim, fd);
    }
    return (ssize_t)e->pair->q[1 - e->side].len;
}

ssize_t aiotp_sim_queued(const aiotp_sim *sim, int fd)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    if (e != NULL && e->kind == EP_DGRAM) {
        return 0; /* a datagram never waits at its sender */
    }
    e = aiotp__sim_ep_conn(sim, fd);
    if (e == NULL) {
        return aiotp__sim_not_conn(sim, fd);
    }
    return (ssize_t)e->pair->q[e->side].len;
}

unsigned aiotp_sim_ready(const aiotp_sim *sim, int fd)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    return e != NULL ? aiotp__sim_ready_of(sim, e) : 0u;
}

size_t aiotp_sim_open_fds(const aiotp_sim *sim)
{
    return sim != NULL ? sim->nopen : 0;
}

unsigned aiotp_sim_interest(const aiotp_sim *sim, int fd)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    return e != NULL ? e->interest : 0u;
}

int64_t aiotp_sim_now(const aiotp_sim *sim)
{
    return sim != NULL ? sim->now : 0;
}

void aiotp_sim_advance(aiotp_sim *sim, int64_t ns)
{
    if (sim != NULL && ns > 0) {
        sim->now += ns;
    }
}

void aiotp_sim_get_stats(const aiotp_sim *sim, aiotp_sim_stats *out)
{
    if (sim != NULL && out != NULL) {
        *out = sim->stats;
    }
}
