/*
 * src/backend/sim.c - the deterministic simulated kernel: a syscall table and a backend
 * over in-memory socket pairs (see aiotp/sim.h for the model).
 *
 * Layout: an fd table (index = fd number) of endpoints; each endpoint points to its pair
 * and knows its side (0 or 1). A pair holds the two directed queues: q[s] carries the
 * bytes written by side s, read by side 1 - s. A pair is freed when both sides are
 * closed. Nothing here calls the operating system.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include "aiotp/error.h"
#include "aiotp/sim.h"

#define SIM_MAGIC 0x53494d31u /* "SIM1": checks that a syscall table's ctx is a sim */
#define SIM_FIRST_FD 3

typedef struct sim_queue {
    unsigned char *data; /* data[head .. head+len) are queued */
    size_t head;
    size_t len;
    size_t alloc;        /* bytes allocated at data */
    size_t cap;          /* most bytes the queue accepts */
    bool shut;           /* the writing side did shutdown(SHUT_WR) */
} sim_queue;

typedef struct sim_pair {
    sim_queue q[2];  /* q[s]: written by side s, read by side 1 - s */
    int fd[2];       /* fd of each side, -1 once closed */
    bool rd_shut[2]; /* side did shutdown(SHUT_RD) */
    int err[2];      /* pending error of each side (SO_ERROR), 0 if none */
    bool broken;     /* reset: both sides see EOF and EPIPE afterwards */
} sim_pair;

typedef struct sim_ep {
    sim_pair *pair;    /* NULL: the fd number is free */
    int side;
    bool nonblock;
    unsigned interest; /* AIOTP_EV_* the backend watches */
    size_t send_limit; /* > 0: the next moving send takes at most this */
    unsigned eagain;   /* next sends returning -EAGAIN */
    bool eintr_send;
    bool eintr_recv;
    int send_err;      /* injected send error and how many times */
    unsigned send_err_k;
    int recv_err;
    unsigned recv_err_k;
    int shut_err;
    unsigned shut_err_k;
} sim_ep;

struct aiotp_sim {
    unsigned magic;
    aiotp_allocator alloc;
    aiotp_syscalls sys;
    sim_ep *ep;       /* fd table */
    size_t ep_cap;
    size_t nopen;
    int64_t now;      /* virtual clock, ns */
    unsigned wait_eintr;
    bool backend_open;
    aiotp_sim_stats stats;
};

/* ---- helpers ------------------------------------------------------------------------ */

static void *s_alloc(aiotp_sim *sim, size_t n)
{
    return sim->alloc.alloc(sim->alloc.ctx, n);
}

static void s_free(aiotp_sim *sim, void *p)
{
    if (p != NULL) {
        sim->alloc.free(sim->alloc.ctx, p);
    }
}

static sim_ep *ep_get(const aiotp_sim *sim, int fd)
{
    if (sim == NULL || fd < 0 || (size_t)fd >= sim->ep_cap || sim->ep[fd].pair == NULL) {
        return NULL;
    }
    return &sim->ep[fd];
}

/* Bytes readable by side s: the queue written by the other side. */
static sim_queue *rx_queue(sim_pair *p, int side)
{
    return &p->q[1 - side];
}

static bool peer_closed(const sim_pair *p, int side)
{
    return p->fd[1 - side] < 0;
}

/* recv would report EOF (once the queue is empty) */
static bool at_eof(const sim_pair *p, int side)
{
    return p->broken || p->rd_shut[side] || p->q[1 - side].shut || peer_closed(p, side);
}

static bool send_dead(const sim_pair *p, int side)
{
    return p->broken || p->q[side].shut || peer_closed(p, side);
}

static unsigned ready_of(const sim_ep *e)
{
    const sim_pair *p = e->pair;
    int s = e->side;
    unsigned ev = 0;
    const sim_queue *tx = &p->q[s];

    if (p->err[s] != 0) {
        return AIOTP_EV_READ | AIOTP_EV_WRITE;
    }
    if (p->q[1 - s].len > 0 || at_eof(p, s)) {
        ev |= AIOTP_EV_READ;
    }
    if (send_dead(p, s) || tx->len < tx->cap) {
        ev |= AIOTP_EV_WRITE;
    }
    return ev;
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

static size_t q_pop(sim_queue *q, unsigned char *b, size_t n)
{
    if (n > q->len) {
        n = q->len;
    }
    if (n > 0 && b != NULL) {
        memcpy(b, q->data + q->head, n);
    }
    q->head += n;
    q->len -= n;
    if (q->len == 0) {
        q->head = 0;
    }
    return n;
}

static void q_drop(sim_queue *q)
{
    q->head = 0;
    q->len = 0;
}

/* ---- the data path ------------------------------------------------------------------- */

static ssize_t do_recv(aiotp_sim *sim, int fd, void *buf, size_t len)
{
    sim_ep *e = ep_get(sim, fd);
    sim_pair *p;
    sim_queue *q;
    int err;

    sim->stats.recvs++;
    if (e == NULL) {
        return -EBADF;
    }
    p = e->pair;
    if (p->err[e->side] != 0) {
        err = p->err[e->side];
        p->err[e->side] = 0;
        return err;
    }
    if (e->eintr_recv) {
        e->eintr_recv = false;
        return -EINTR;
    }
    if (e->recv_err_k > 0) {
        e->recv_err_k--;
        return e->recv_err;
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
        return (ssize_t)q_pop(q, buf, len);
    }
    if (at_eof(p, e->side)) {
        return 0;
    }
    return -EAGAIN;
}

/* Send the concatenation of iov[0..n) (all-or-prefix, as a stream socket). */
static ssize_t do_sendv(aiotp_sim *sim, int fd, const struct iovec *iov, size_t n)
{
    sim_ep *e = ep_get(sim, fd);
    sim_pair *p;
    sim_queue *q;
    size_t want = 0;
    size_t room;
    size_t done = 0;
    size_t i;
    int err;

    sim->stats.sends++;
    if (e == NULL) {
        return -EBADF;
    }
    p = e->pair;
    if (p->err[e->side] != 0) {
        err = p->err[e->side];
        p->err[e->side] = 0;
        return err;
    }
    if (e->eintr_send) {
        e->eintr_send = false;
        return -EINTR;
    }
    if (e->send_err_k > 0) {
        e->send_err_k--;
        return e->send_err;
    }
    if (e->eagain > 0) {
        e->eagain--;
        return -EAGAIN;
    }
    for (i = 0; i < n; i++) {
        want += iov[i].iov_len;
    }
    if (send_dead(p, e->side)) {
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
    sim->stats.bytes_moved += done;
    if (done > (size_t)SSIZE_MAX) {
        done = (size_t)SSIZE_MAX;
    }
    return (ssize_t)done;
}

static ssize_t do_send(aiotp_sim *sim, int fd, const void *buf, size_t len)
{
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)buf;
    v.iov_len = len;
    return do_sendv(sim, fd, &v, 1);
}

static int do_shutdown(aiotp_sim *sim, int fd, int how)
{
    sim_ep *e = ep_get(sim, fd);
    sim_pair *p;
    if (e == NULL) {
        return -EBADF;
    }
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
        return -EINVAL;
    }
    if (e->shut_err_k > 0) {
        e->shut_err_k--;
        return e->shut_err;
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

static int do_close(aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
    sim_pair *p;
    if (e == NULL) {
        return -EBADF;
    }
    p = e->pair;
    p->fd[e->side] = -1;
    q_drop(rx_queue(p, e->side)); /* unread bytes are gone */
    memset(e, 0, sizeof(*e));
    sim->nopen--;
    if (p->fd[0] < 0 && p->fd[1] < 0) {
        s_free(sim, p->q[0].data);
        s_free(sim, p->q[1].data);
        s_free(sim, p);
    }
    return 0;
}

/* ---- the syscall table ---------------------------------------------------------------- */

static int x_socket(void *ctx, int d, int t, int pr)
{
    (void)ctx;
    (void)d;
    (void)t;
    (void)pr;
    return -ENOSYS;
}

static int x_close(void *ctx, int fd)
{
    return do_close(ctx, fd);
}

static int x_connect(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    (void)ctx;
    (void)fd;
    (void)a;
    (void)l;
    return -ENOSYS;
}

static int x_accept(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    (void)ctx;
    (void)fd;
    (void)a;
    (void)l;
    return -ENOSYS;
}

static int x_bind(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    (void)ctx;
    (void)fd;
    (void)a;
    (void)l;
    return -ENOSYS;
}

static int x_listen(void *ctx, int fd, int backlog)
{
    (void)ctx;
    (void)fd;
    (void)backlog;
    return -ENOSYS;
}

static int x_shutdown(void *ctx, int fd, int how)
{
    return do_shutdown(ctx, fd, how);
}

static int x_getsockopt(void *ctx, int fd, int level, int name, void *val, socklen_t *len)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = ep_get(sim, fd);
    int v;
    if (e == NULL) {
        return -EBADF;
    }
    if (val == NULL || len == NULL || *len < (socklen_t)sizeof(int)) {
        return -EINVAL;
    }
    if (level != SOL_SOCKET) {
        return -ENOPROTOOPT;
    }
    if (name == SO_TYPE) {
        v = SOCK_STREAM;
    } else if (name == SO_ERROR) {
        v = -e->pair->err[e->side];
        e->pair->err[e->side] = 0;
    } else {
        return -ENOPROTOOPT;
    }
    memcpy(val, &v, sizeof(v));
    *len = (socklen_t)sizeof(v);
    return 0;
}

static int x_setsockopt(void *ctx, int fd, int level, int name, const void *val,
                        socklen_t len)
{
    (void)level;
    (void)name;
    (void)val;
    (void)len;
    return ep_get(ctx, fd) != NULL ? 0 : -EBADF;
}

/* An unnamed AF_UNIX address (what socketpair() gives). */
static int unnamed(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    sa_family_t fam = AF_UNIX;
    if (ep_get(ctx, fd) == NULL) {
        return -EBADF;
    }
    if (a == NULL || l == NULL) {
        return -EFAULT;
    }
    if (*l >= (socklen_t)sizeof(fam)) {
        memcpy(a, &fam, sizeof(fam));
    }
    *l = (socklen_t)sizeof(fam);
    return 0;
}

static int x_getsockname(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    return unnamed(ctx, fd, a, l);
}

static int x_getpeername(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    sim_ep *e = ep_get(ctx, fd);
    if (e != NULL && (peer_closed(e->pair, e->side) || e->pair->broken)) {
        return -ENOTCONN;
    }
    return unnamed(ctx, fd, a, l);
}

static int x_set_nonblock(void *ctx, int fd)
{
    sim_ep *e = ep_get(ctx, fd);
    if (e == NULL) {
        return -EBADF;
    }
    e->nonblock = true;
    return 0;
}

static ssize_t x_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
    (void)flags;
    return do_recv(ctx, fd, buf, len);
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
    return do_sendv(ctx, fd, m->msg_iov, (size_t)m->msg_iovlen);
}

static ssize_t x_read(void *ctx, int fd, void *buf, size_t len)
{
    return do_recv(ctx, fd, buf, len);
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
    return do_sendv(ctx, fd, iov, (size_t)n);
}

static void advance_idle(aiotp_sim *sim, int timeout_ms)
{
    sim->stats.idle_waits++;
    if (timeout_ms > 0) {
        sim->now += (int64_t)timeout_ms * 1000000;
    } else if (timeout_ms < 0) {
        sim->stats.stalls++; /* a real kernel would block forever here */
    }
}

static int x_poll(void *ctx, struct pollfd *fds, nfds_t n, int timeout_ms)
{
    aiotp_sim *sim = ctx;
    nfds_t i;
    int ready = 0;

    sim->stats.waits++;
    if (sim->wait_eintr > 0) {
        sim->wait_eintr--;
        return -EINTR;
    }
    for (i = 0; i < n; i++) {
        sim_ep *e = ep_get(sim, fds[i].fd);
        unsigned ev;
        fds[i].revents = 0;
        if (fds[i].fd < 0) {
            continue;
        }
        if (e == NULL) {
            fds[i].revents = POLLNVAL;
        } else {
            ev = ready_of(e);
            if ((ev & AIOTP_EV_READ) && (fds[i].events & POLLIN)) {
                fds[i].revents |= POLLIN;
            }
            if ((ev & AIOTP_EV_WRITE) && (fds[i].events & POLLOUT)) {
                fds[i].revents |= POLLOUT;
            }
            if (e->pair->err[e->side] != 0) {
                fds[i].revents |= POLLERR;
            }
        }
        if (fds[i].revents != 0) {
            ready++;
        }
    }
    if (ready == 0) {
        advance_idle(sim, timeout_ms);
    }
    return ready;
}

static int x_getaddrinfo(void *ctx, const char *node, const char *service,
                         const struct addrinfo *hints, struct addrinfo **res)
{
    (void)ctx;
    (void)node;
    (void)service;
    (void)hints;
    if (res != NULL) {
        *res = NULL;
    }
    return EAI_FAIL;
}

static void x_freeaddrinfo(void *ctx, struct addrinfo *res)
{
    (void)ctx;
    (void)res;
}

static int64_t x_clock_ns(void *ctx)
{
    return ((aiotp_sim *)ctx)->now;
}

static int x_unlink_socket(void *ctx, const char *path)
{
    (void)ctx;
    (void)path;
    return -ENOSYS;
}

/* ---- creation -------------------------------------------------------------------------- */

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
    sim->sys.size = sizeof(sim->sys);
    sim->sys.ctx = sim;
    sim->sys.socket = x_socket;
    sim->sys.close = x_close;
    sim->sys.connect = x_connect;
    sim->sys.accept = x_accept;
    sim->sys.bind = x_bind;
    sim->sys.listen = x_listen;
    sim->sys.shutdown = x_shutdown;
    sim->sys.getsockopt = x_getsockopt;
    sim->sys.setsockopt = x_setsockopt;
    sim->sys.getsockname = x_getsockname;
    sim->sys.getpeername = x_getpeername;
    sim->sys.set_nonblock = x_set_nonblock;
    sim->sys.recv = x_recv;
    sim->sys.send = x_send;
    sim->sys.sendmsg = x_sendmsg;
    sim->sys.read = x_read;
    sim->sys.write = x_write;
    sim->sys.writev = x_writev;
    sim->sys.poll = x_poll;
    sim->sys.getaddrinfo = x_getaddrinfo;
    sim->sys.freeaddrinfo = x_freeaddrinfo;
    sim->sys.clock_ns = x_clock_ns;
    sim->sys.unlink_socket = x_unlink_socket;
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
        if (sim->ep[i].pair != NULL) {
            (void)do_close(sim, (int)i);
        }
    }
    s_free(sim, sim->ep);
    sim->magic = 0;
    sim->alloc.free(sim->alloc.ctx, sim);
}

const aiotp_syscalls *aiotp_sim_syscalls(aiotp_sim *sim)
{
    return sim != NULL ? &sim->sys : NULL;
}

static int fd_alloc(aiotp_sim *sim)
{
    size_t i;
    for (i = SIM_FIRST_FD; i < sim->ep_cap; i++) {
        if (sim->ep[i].pair == NULL) {
            return (int)i;
        }
    }
    if (sim->ep_cap >= AIOTP_SIM_MAX_FDS) {
        return -EMFILE;
    }
    {
        size_t ncap = sim->ep_cap ? sim->ep_cap * 2 : 16;
        sim_ep *n;
        if (ncap > AIOTP_SIM_MAX_FDS) {
            ncap = AIOTP_SIM_MAX_FDS;
        }
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

int aiotp_sim_socketpair(aiotp_sim *sim, int *a, int *b)
{
    sim_pair *p;
    int fa;
    int fb;
    if (sim == NULL || a == NULL || b == NULL) {
        return AIOTP_EINVAL;
    }
    p = s_alloc(sim, sizeof(*p));
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(p, 0, sizeof(*p));
    p->q[0].cap = AIOTP_SIM_DEFAULT_CAPACITY;
    p->q[1].cap = AIOTP_SIM_DEFAULT_CAPACITY;
    fa = fd_alloc(sim);
    if (fa < 0) {
        s_free(sim, p);
        return fa;
    }
    sim->ep[fa].pair = p; /* claim it before looking for the second */
    fb = fd_alloc(sim);
    if (fb < 0) {
        sim->ep[fa].pair = NULL;
        s_free(sim, p);
        return fb;
    }
    sim->ep[fa].side = 0;
    sim->ep[fb].pair = p;
    sim->ep[fb].side = 1;
    p->fd[0] = fa;
    p->fd[1] = fb;
    sim->nopen += 2;
    *a = fa;
    *b = fb;
    return 0;
}

/* ---- the peer's calls, knobs, observation -------------------------------------------- */

ssize_t aiotp_sim_write(aiotp_sim *sim, int fd, const void *buf, size_t len)
{
    return sim != NULL ? do_send(sim, fd, buf, len) : -EBADF;
}

ssize_t aiotp_sim_read(aiotp_sim *sim, int fd, void *buf, size_t len)
{
    return sim != NULL ? do_recv(sim, fd, buf, len) : -EBADF;
}

int aiotp_sim_shutdown(aiotp_sim *sim, int fd, int how)
{
    return sim != NULL ? do_shutdown(sim, fd, how) : -EBADF;
}

int aiotp_sim_close(aiotp_sim *sim, int fd)
{
    return sim != NULL ? do_close(sim, fd) : -EBADF;
}

int aiotp_sim_set_capacity(aiotp_sim *sim, int fd, size_t cap)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    e->pair->q[e->side].cap = cap;
    return 0;
}

int aiotp_sim_send_limit(aiotp_sim *sim, int fd, size_t n)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    e->send_limit = n;
    return 0;
}

int aiotp_sim_send_eagain(aiotp_sim *sim, int fd, unsigned k)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    e->eagain = k;
    return 0;
}

int aiotp_sim_eintr_once(aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    e->eintr_send = true;
    e->eintr_recv = true;
    return 0;
}

int aiotp_sim_recv_fail(aiotp_sim *sim, int fd, int err, unsigned k)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    if (err >= 0) {
        return AIOTP_EINVAL;
    }
    e->recv_err = err;
    e->recv_err_k = k;
    return 0;
}

int aiotp_sim_send_fail(aiotp_sim *sim, int fd, int err, unsigned k)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    if (err >= 0) {
        return AIOTP_EINVAL;
    }
    e->send_err = err;
    e->send_err_k = k;
    return 0;
}

int aiotp_sim_shutdown_fail(aiotp_sim *sim, int fd, int err, unsigned k)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    if (err >= 0) {
        return AIOTP_EINVAL;
    }
    e->shut_err = err;
    e->shut_err_k = k;
    return 0;
}

int aiotp_sim_reset(aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
    sim_pair *p;
    if (e == NULL) {
        return -EBADF;
    }
    p = e->pair;
    if (!p->broken) {
        p->err[e->side] = -ECONNRESET;
        p->broken = true;
        q_drop(&p->q[0]);
        q_drop(&p->q[1]);
    }
    return 0;
}

void aiotp_sim_wait_eintr(aiotp_sim *sim, unsigned k)
{
    if (sim != NULL) {
        sim->wait_eintr = k;
    }
}

ssize_t aiotp_sim_readable(const aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    return (ssize_t)e->pair->q[1 - e->side].len;
}

ssize_t aiotp_sim_queued(const aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    return (ssize_t)e->pair->q[e->side].len;
}

unsigned aiotp_sim_ready(const aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
    return e != NULL ? ready_of(e) : 0u;
}

size_t aiotp_sim_open_fds(const aiotp_sim *sim)
{
    return sim != NULL ? sim->nopen : 0;
}

unsigned aiotp_sim_interest(const aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
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

/* ---- the backend ------------------------------------------------------------------------ */

static int b_open(void **state, const aiotp_syscalls *sys, const aiotp_allocator *alloc)
{
    aiotp_sim *sim;
    (void)alloc;
    if (sys == NULL || sys->ctx == NULL || sys->clock_ns != x_clock_ns) {
        return AIOTP_EINVAL; /* the sim backend needs the sim's syscall table */
    }
    sim = sys->ctx;
    if (sim->magic != SIM_MAGIC || sim->backend_open) {
        return AIOTP_EINVAL;
    }
    sim->backend_open = true;
    *state = sim;
    return 0;
}

static void b_close(void *state)
{
    aiotp_sim *sim = state;
    size_t i;
    if (sim == NULL) {
        return;
    }
    for (i = 0; i < sim->ep_cap; i++) {
        sim->ep[i].interest = 0;
    }
    sim->backend_open = false;
}

static int b_set(void *state, int fd, unsigned events)
{
    sim_ep *e = ep_get(state, fd);
    if (e == NULL) {
        return events == 0 ? 0 : AIOTP_EBADF;
    }
    e->interest = events & (AIOTP_EV_READ | AIOTP_EV_WRITE);
    return 0;
}

static int b_wait(void *state, int timeout_ms, aiotp_backend_event *out, size_t cap)
{
    aiotp_sim *sim = state;
    size_t i;
    size_t n = 0;

    sim->stats.waits++;
    if (sim->wait_eintr > 0) {
        sim->wait_eintr--;
        return -EINTR;
    }
    for (i = 0; i < sim->ep_cap && n < cap; i++) {
        sim_ep *e = &sim->ep[i];
        unsigned ev;
        if (e->pair == NULL || e->interest == 0) {
            continue;
        }
        ev = ready_of(e) & e->interest;
        if (ev != 0) {
            out[n].fd = (int)i;
            out[n].events = ev;
            n++;
        }
    }
    if (n == 0) {
        advance_idle(sim, timeout_ms);
    }
    return (int)n;
}

static const aiotp_backend sim_backend = {
    .size = sizeof(aiotp_backend),
    .name = "sim",
    .open = b_open,
    .close = b_close,
    .set = b_set,
    .wait = b_wait,
};

const aiotp_backend *aiotp_backend_sim(void)
{
    return &sim_backend;
}
