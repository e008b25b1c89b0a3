/*
 * src/backend/sim.c - the deterministic simulated kernel: a syscall table and a backend
 * over in-memory sockets (see aiotp/sim.h for the model).
 *
 * Layout: an fd table (index = fd number) of endpoints. An endpoint is an unconnected
 * socket, a listening socket (with its backlog of connections not yet accepted) or one
 * side (0 or 1) of a connected pair. A pair holds the two directed queues: q[s] carries
 * the bytes written by side s, read by side 1 - s, and the local address of each side. A
 * pair is freed when both sides are closed. The virtual network is the fd table itself:
 * connect() finds its listener by scanning it, and AF_UNIX paths live in a small table
 * of "files". Nothing here calls the operating system.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include "aiotp/error.h"
#include "aiotp/sim.h"

#define SIM_MAGIC 0x53494d31u /* "SIM1": checks that a syscall table's ctx is a sim */
#define SIM_FIRST_FD 3
#define FD_CLOSED (-1)   /* pair side closed */
#define FD_PENDING (-2)  /* pair side still in a listener's backlog (not accepted yet) */
#define SIM_PORT_FIRST 32768u /* ephemeral ports: SIM_PORT_FIRST .. SIM_PORT_LAST */
#define SIM_PORT_LAST 60999u
#define SIM_SOMAXCONN 4096

typedef struct sim_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} sim_addr;

typedef struct sim_queue {
    unsigned char *data; /* data[head .. head+len) are queued */
    size_t head;
    size_t len;
    size_t alloc;        /* bytes allocated at data */
    size_t cap;          /* most bytes the queue accepts */
    bool shut;           /* the writing side did shutdown(SHUT_WR) */
} sim_queue;

typedef struct sim_pair {
    sim_queue q[2];   /* q[s]: written by side s, read by side 1 - s */
    int fd[2];        /* fd of each side, FD_CLOSED once closed, FD_PENDING before accept */
    bool rd_shut[2];  /* side did shutdown(SHUT_RD) */
    int err[2];       /* pending error of each side (SO_ERROR), 0 if none */
    bool broken;      /* reset: both sides see EOF and EPIPE afterwards */
    sim_addr addr[2]; /* local address of each side (the other side's peername) */
} sim_pair;

enum { EP_FREE = 0, EP_SOCK, EP_LISTEN, EP_CONN };

/* An injected error: the next k calls of one kind return err. */
typedef struct sim_fail {
    int err;
    unsigned k;
} sim_fail;

enum { FAIL_SEND, FAIL_RECV, FAIL_SHUTDOWN, FAIL_KINDS };

typedef struct sim_ep {
    int kind;          /* EP_*; EP_FREE: the fd number is free */
    int family;        /* AF_UNIX, AF_INET, AF_INET6 */
    sim_pair *pair;    /* EP_CONN */
    int side;
    bool nonblock;
    unsigned interest; /* AIOTP_EV_* the backend watches */
    /* unconnected and listening sockets */
    bool bound;
    sim_addr local;    /* bound (or connected-from) address */
    unsigned ino;      /* AF_UNIX, bound: the number of its path entry */
    int sock_err;      /* EP_SOCK: pending error of a refused connect (SO_ERROR) */
    sim_pair **backlog; /* EP_LISTEN: connections not yet accepted, oldest first */
    size_t nbacklog;
    size_t backlog_cap;
    size_t backlog_max;
    /* socket options */
    bool nodelay;
    bool reuseaddr;
    bool reuseport;
    bool v6only;
    struct linger linger;
    size_t sndbuf;     /* unconnected: SO_SNDBUF/SO_RCVBUF to apply on connect (0: none) */
    size_t rcvbuf;
    /* script knobs */
    size_t send_limit; /* > 0: the next moving send takes at most this */
    unsigned eagain;   /* next sends returning -EAGAIN */
    bool eintr_send;
    bool eintr_recv;
    sim_fail fail[FAIL_KINDS]; /* injected send / recv / shutdown errors */
} sim_ep;

typedef struct sim_path {
    char *path;        /* a bound AF_UNIX path: the "file" exists until unlinked */
    unsigned ino;
} sim_path;

/* one result of getaddrinfo: the entry and its address in one block */
typedef struct sim_ai {
    struct addrinfo ai; /* first: a struct addrinfo * is the block */
    struct sockaddr_storage ss;
} sim_ai;

struct aiotp_sim {
    unsigned magic;
    aiotp_allocator alloc;
    aiotp_syscalls sys;
    sim_ep *ep;       /* fd table */
    size_t ep_cap;
    size_t nopen;
    sim_path *paths;  /* AF_UNIX "files" */
    size_t npaths;
    size_t paths_cap;
    unsigned next_ino;
    unsigned next_port; /* next ephemeral port to try */
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

/* Any open endpoint. */
static sim_ep *ep_open(const aiotp_sim *sim, int fd)
{
    if (sim == NULL || fd < 0 || (size_t)fd >= sim->ep_cap || sim->ep[fd].kind == EP_FREE) {
        return NULL;
    }
    return &sim->ep[fd];
}

/* A connected endpoint. */
static sim_ep *ep_get(const aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_open(sim, fd);
    return e != NULL && e->kind == EP_CONN ? e : NULL;
}

/* Why fd is not a connected endpoint: -EBADF (not open) or -ENOTCONN. */
static int not_conn(const aiotp_sim *sim, int fd)
{
    return ep_open(sim, fd) != NULL ? -ENOTCONN : -EBADF;
}

static bool is_inet(int family)
{
    return family == AF_INET || family == AF_INET6;
}

/* Bytes readable by side s: the queue written by the other side. */
static sim_queue *rx_queue(sim_pair *p, int side)
{
    return &p->q[1 - side];
}

static bool peer_closed(const sim_pair *p, int side)
{
    return p->fd[1 - side] == FD_CLOSED;
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
    const sim_queue *tx;

    if (e->kind == EP_LISTEN) {
        return e->nbacklog > 0 ? AIOTP_EV_READ : 0u;
    }
    if (e->kind == EP_SOCK) {
        /* unconnected: a hangup (and maybe an error), for readers and writers */
        return AIOTP_EV_READ | AIOTP_EV_WRITE;
    }
    tx = &p->q[s];
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

static void pair_free(aiotp_sim *sim, sim_pair *p)
{
    s_free(sim, p->q[0].data);
    s_free(sim, p->q[1].data);
    s_free(sim, p);
}

/* A new pair, both sides unassigned (the caller sets fd[] and addr[]). */
static sim_pair *pair_new(aiotp_sim *sim)
{
    sim_pair *p = s_alloc(sim, sizeof(*p));
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
static void pair_reset(sim_pair *p, int victim)
{
    if (!p->broken) {
        p->err[victim] = -ECONNRESET;
        p->broken = true;
        q_drop(&p->q[0]);
        q_drop(&p->q[1]);
    }
}

/* ---- addresses ---------------------------------------------------------------------- */

/* The unspecified address of a family (what an unbound socket's getsockname gives). */
static void addr_unspec(sim_addr *a, int family)
{
    memset(a, 0, sizeof(*a));
    a->ss.ss_family = (sa_family_t)family;
    if (family == AF_INET) {
        a->len = (socklen_t)sizeof(struct sockaddr_in);
    } else if (family == AF_INET6) {
        a->len = (socklen_t)sizeof(struct sockaddr_in6);
    } else {
        a->len = (socklen_t)sizeof(sa_family_t); /* unnamed AF_UNIX */
    }
}

static struct sockaddr_in *a4(sim_addr *a)
{
    return (struct sockaddr_in *)(void *)&a->ss;
}

static struct sockaddr_in6 *a6(sim_addr *a)
{
    return (struct sockaddr_in6 *)(void *)&a->ss;
}

static const struct sockaddr_in *c4(const sim_addr *a)
{
    return (const struct sockaddr_in *)(const void *)&a->ss;
}

static const struct sockaddr_in6 *c6(const sim_addr *a)
{
    return (const struct sockaddr_in6 *)(const void *)&a->ss;
}

static const char *unix_path(const sim_addr *a)
{
    return ((const struct sockaddr_un *)(const void *)&a->ss)->sun_path;
}

static unsigned addr_port(const sim_addr *a)
{
    if (a->ss.ss_family == AF_INET) {
        return ntohs(c4(a)->sin_port);
    }
    if (a->ss.ss_family == AF_INET6) {
        return ntohs(c6(a)->sin6_port);
    }
    return 0;
}

static void addr_set_port(sim_addr *a, unsigned port)
{
    if (a->ss.ss_family == AF_INET) {
        a4(a)->sin_port = htons((uint16_t)port);
    } else if (a->ss.ss_family == AF_INET6) {
        a6(a)->sin6_port = htons((uint16_t)port);
    }
}

static bool addr_is_any(const sim_addr *a)
{
    static const unsigned char zero[16] = {0};
    if (a->ss.ss_family == AF_INET) {
        return c4(a)->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    return memcmp(&c6(a)->sin6_addr, zero, 16) == 0;
}

/* The only interfaces of the simulated host: 127.0.0.0/8 and ::1. */
static bool addr_is_loopback(const sim_addr *a)
{
    if (a->ss.ss_family == AF_INET) {
        return (ntohl(c4(a)->sin_addr.s_addr) >> 24) == 127;
    }
    return memcmp(&c6(a)->sin6_addr, &in6addr_loopback, 16) == 0;
}

static void addr_set_loopback(sim_addr *a)
{
    if (a->ss.ss_family == AF_INET) {
        a4(a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        a6(a)->sin6_addr = in6addr_loopback;
    }
}

static bool addr_same_ip(const sim_addr *a, const sim_addr *b)
{
    if (a->ss.ss_family != b->ss.ss_family) {
        return false;
    }
    if (a->ss.ss_family == AF_INET) {
        return c4(a)->sin_addr.s_addr == c4(b)->sin_addr.s_addr;
    }
    return memcmp(&c6(a)->sin6_addr, &c6(b)->sin6_addr, 16) == 0;
}

/* A caller's address for a socket of `family`, checked and normalised (only the family,
   port and address of an IP address are kept; a Unix path must be a non-empty file
   name: abstract names are not modelled). */
static int addr_in(sim_addr *out, int family, const struct sockaddr *a, socklen_t l)
{
    sa_family_t fam;
    if (a == NULL) {
        return -EFAULT;
    }
    if (l < (socklen_t)sizeof(sa_family_t)) {
        return -EINVAL;
    }
    memcpy(&fam, &a->sa_family, sizeof(fam));
    if ((int)fam != family) {
        return -EAFNOSUPPORT;
    }
    memset(out, 0, sizeof(*out));
    out->ss.ss_family = fam;
    if (family == AF_INET) {
        struct sockaddr_in in;
        if (l < (socklen_t)sizeof(in)) {
            return -EINVAL;
        }
        memcpy(&in, a, sizeof(in));
        a4(out)->sin_port = in.sin_port;
        a4(out)->sin_addr = in.sin_addr;
        out->len = (socklen_t)sizeof(in);
    } else if (family == AF_INET6) {
        struct sockaddr_in6 in6;
        if (l < (socklen_t)sizeof(in6)) {
            return -EINVAL;
        }
        memcpy(&in6, a, sizeof(in6));
        a6(out)->sin6_port = in6.sin6_port;
        a6(out)->sin6_addr = in6.sin6_addr;
        out->len = (socklen_t)sizeof(in6);
    } else {
        struct sockaddr_un un;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t max;
        size_t n = 0;
        memset(&un, 0, sizeof(un));
        if ((size_t)l <= off) {
            return -EINVAL;
        }
        max = (size_t)l - off;
        if (max > sizeof(un.sun_path)) {
            max = sizeof(un.sun_path);
        }
        memcpy(un.sun_path, ((const struct sockaddr_un *)(const void *)a)->sun_path, max);
        while (n < max && un.sun_path[n] != '\0') {
            n++;
        }
        if (n == 0 || n >= sizeof(un.sun_path)) {
            return -EINVAL;
        }
        un.sun_path[n] = '\0';
        un.sun_family = AF_UNIX;
        memcpy(&out->ss, &un, sizeof(un));
        out->len = (socklen_t)(off + n + 1);
    }
    return 0;
}

static int addr_out(const sim_addr *a, struct sockaddr *out, socklen_t *l)
{
    size_t n;
    if (out == NULL || l == NULL) {
        return -EFAULT;
    }
    n = (size_t)*l < (size_t)a->len ? (size_t)*l : (size_t)a->len;
    memcpy(out, &a->ss, n);
    *l = a->len;
    return 0;
}

/* The local address of an endpoint. */
static void ep_local(const sim_ep *e, sim_addr *out)
{
    if (e->kind == EP_CONN) {
        *out = e->pair->addr[e->side];
    } else if (e->bound) {
        *out = e->local;
    } else {
        addr_unspec(out, e->family);
    }
}

/* ---- the virtual network -------------------------------------------------------------- */

static sim_path *path_find(const aiotp_sim *sim, const char *path)
{
    size_t i;
    for (i = 0; i < sim->npaths; i++) {
        if (strcmp(sim->paths[i].path, path) == 0) {
            return &sim->paths[i];
        }
    }
    return NULL;
}

static int path_add(aiotp_sim *sim, const char *path, unsigned *ino)
{
    size_t n = strlen(path) + 1;
    char *copy;
    if (sim->npaths == sim->paths_cap) {
        size_t nc = sim->paths_cap ? sim->paths_cap * 2 : 8;
        sim_path *np = sim->alloc.realloc(sim->alloc.ctx, sim->paths, nc * sizeof(*np));
        if (np == NULL) {
            return -ENOMEM;
        }
        sim->paths = np;
        sim->paths_cap = nc;
    }
    copy = s_alloc(sim, n);
    if (copy == NULL) {
        return -ENOMEM;
    }
    memcpy(copy, path, n);
    sim->paths[sim->npaths].path = copy;
    sim->paths[sim->npaths].ino = ++sim->next_ino;
    *ino = sim->next_ino;
    sim->npaths++;
    return 0;
}

/* The IP addresses of a and b overlap (equal, or one is the wildcard). */
static bool ip_overlap(const sim_addr *a, const sim_addr *b)
{
    return addr_is_any(a) || addr_is_any(b) || addr_same_ip(a, b);
}

/* Would binding `want` (family and port of e) conflict with another socket? */
static bool bind_conflict(const aiotp_sim *sim, const sim_ep *e, const sim_addr *want)
{
    size_t i;
    unsigned port = addr_port(want);
    for (i = 0; i < sim->ep_cap; i++) {
        const sim_ep *o = &sim->ep[i];
        sim_addr oa;
        if (o == e || o->kind == EP_FREE || o->family != e->family) {
            continue;
        }
        if (o->kind == EP_CONN) {
            oa = o->pair->addr[o->side];
            if (addr_port(&oa) == port && ip_overlap(&oa, want) && !e->reuseaddr) {
                return true;
            }
            continue;
        }
        if (!o->bound || addr_port(&o->local) != port || !ip_overlap(&o->local, want)) {
            continue;
        }
        if (e->reuseport && o->reuseport) {
            continue;
        }
        if (e->reuseaddr && o->reuseaddr && o->kind != EP_LISTEN) {
            continue;
        }
        return true;
    }
    return false;
}

/* A port of this family no socket uses, or 0. */
static unsigned ephemeral_port(aiotp_sim *sim, int family)
{
    unsigned span = SIM_PORT_LAST - SIM_PORT_FIRST + 1;
    unsigned k;
    for (k = 0; k < span; k++) {
        unsigned port = sim->next_port;
        size_t i;
        bool used = false;
        sim->next_port = port == SIM_PORT_LAST ? SIM_PORT_FIRST : port + 1;
        for (i = 0; i < sim->ep_cap && !used; i++) {
            const sim_ep *o = &sim->ep[i];
            if (o->kind == EP_FREE || o->family != family) {
                continue;
            }
            if (o->kind == EP_CONN) {
                used = addr_port(&o->pair->addr[o->side]) == port;
            } else {
                used = o->bound && addr_port(&o->local) == port;
            }
        }
        if (!used) {
            return port;
        }
    }
    return 0;
}

/* The listener that a connect to dst reaches: its fd, or -ECONNREFUSED / -ENOENT. */
static int find_listener(const aiotp_sim *sim, int family, const sim_addr *dst)
{
    size_t i;
    unsigned ino = 0;
    if (family == AF_UNIX) {
        const sim_path *f = path_find(sim, unix_path(dst));
        if (f == NULL) {
            return -ENOENT;
        }
        ino = f->ino;
    }
    for (i = 0; i < sim->ep_cap; i++) {
        const sim_ep *o = &sim->ep[i];
        if (o->kind != EP_LISTEN || o->family != family) {
            continue;
        }
        if (family == AF_UNIX) {
            if (o->ino == ino) {
                return (int)i;
            }
        } else if (addr_port(&o->local) == addr_port(dst) &&
                   (addr_is_any(&o->local) || addr_same_ip(&o->local, dst))) {
            return (int)i;
        }
    }
    return -ECONNREFUSED;
}

/* ---- the data path ------------------------------------------------------------------- */

static ssize_t do_recv(aiotp_sim *sim, int fd, void *buf, size_t len, int flags)
{
    sim_ep *e = ep_open(sim, fd);
    sim_pair *p;
    sim_queue *q;
    int err;

    sim->stats.recvs++;
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind != EP_CONN) {
        if (e->sock_err != 0) {
            err = e->sock_err;
            e->sock_err = 0;
            return err;
        }
        return -ENOTCONN;
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
    if (at_eof(p, e->side)) {
        return 0;
    }
    return -EAGAIN;
}

/* Send the concatenation of iov[0..n) (all-or-prefix, as a stream socket). */
static ssize_t do_sendv(aiotp_sim *sim, int fd, const struct iovec *iov, size_t n)
{
    sim_ep *e = ep_open(sim, fd);
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
    if (e->kind != EP_CONN) {
        if (e->sock_err != 0) {
            err = e->sock_err;
            e->sock_err = 0;
            return err;
        }
        return -ENOTCONN;
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
        return not_conn(sim, fd);
    }
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

static int do_close(aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_open(sim, fd);
    size_t i;
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_CONN) {
        sim_pair *p = e->pair;
        int s = e->side;
        /* SO_LINGER with a zero timeout on TCP: the close resets the connection */
        if (is_inet(e->family) && e->linger.l_onoff != 0 && e->linger.l_linger == 0 &&
            p->fd[1 - s] != FD_CLOSED) {
            pair_reset(p, 1 - s);
        }
        p->fd[s] = FD_CLOSED;
        q_drop(rx_queue(p, s)); /* unread bytes are gone */
        if (p->fd[0] == FD_CLOSED && p->fd[1] == FD_CLOSED) {
            pair_free(sim, p);
        }
    } else if (e->kind == EP_LISTEN) {
        /* connections never accepted are reset */
        for (i = 0; i < e->nbacklog; i++) {
            sim_pair *p = e->backlog[i];
            p->fd[1] = FD_CLOSED;
            if (p->fd[0] == FD_CLOSED) {
                pair_free(sim, p);
            } else {
                pair_reset(p, 0);
            }
        }
        s_free(sim, e->backlog);
    }
    memset(e, 0, sizeof(*e));
    sim->nopen--;
    return 0;
}

/* ---- the syscall table ---------------------------------------------------------------- */

static int fd_alloc(aiotp_sim *sim);

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
    if (t != SOCK_STREAM || (pr != 0 && !(is_inet(d) && pr == IPPROTO_TCP))) {
        return -EPROTONOSUPPORT;
    }
    fd = fd_alloc(sim);
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
    return do_close(ctx, fd);
}

static int x_connect(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = ep_open(sim, fd);
    sim_ep *lst;
    sim_pair *p;
    sim_addr dst;
    sim_addr local;
    int li;
    int rc;

    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_CONN) {
        return -EISCONN;
    }
    if (e->kind == EP_LISTEN) {
        return -EINVAL;
    }
    rc = addr_in(&dst, e->family, a, l);
    if (rc != 0) {
        return rc;
    }
    if (is_inet(e->family)) {
        if (addr_is_any(&dst)) {
            addr_set_loopback(&dst); /* the unspecified address reaches this host */
        }
        if (!addr_is_loopback(&dst)) {
            return -ENETUNREACH;
        }
    }
    e->sock_err = 0;
    li = find_listener(sim, e->family, &dst);
    if (li >= 0 && sim->ep[li].nbacklog >= sim->ep[li].backlog_max) {
        if (e->family == AF_UNIX) {
            return -EAGAIN;
        }
        li = -ECONNREFUSED; /* no SYN retransmission here */
    }
    if (li < 0) {
        if (is_inet(e->family) && e->nonblock) {
            e->sock_err = li; /* reported through SO_ERROR, like a real TCP connect */
            return -EINPROGRESS;
        }
        return li;
    }
    lst = &sim->ep[li];
    if (lst->nbacklog == lst->backlog_cap) {
        size_t nc = lst->backlog_cap ? lst->backlog_cap * 2 : 4;
        sim_pair **nb = sim->alloc.realloc(sim->alloc.ctx, lst->backlog, nc * sizeof(*nb));
        if (nb == NULL) {
            return -ENOMEM;
        }
        lst->backlog = nb;
        lst->backlog_cap = nc;
    }
    /* the client's own address: bound, or the connected-to IP with an ephemeral port */
    if (e->bound) {
        local = e->local;
        if (is_inet(e->family) && addr_is_any(&local)) {
            local.ss = dst.ss;
            addr_set_port(&local, addr_port(&e->local));
        }
    } else if (is_inet(e->family)) {
        unsigned port = ephemeral_port(sim, e->family);
        if (port == 0) {
            return -EADDRNOTAVAIL;
        }
        local = dst;
        addr_set_port(&local, port);
    } else {
        addr_unspec(&local, AF_UNIX);
    }
    p = pair_new(sim);
    if (p == NULL) {
        return -ENOMEM;
    }
    p->addr[0] = local;
    p->addr[1] = e->family == AF_UNIX ? lst->local : dst;
    if (e->sndbuf > 0) {
        p->q[0].cap = e->sndbuf;
    }
    if (e->rcvbuf > 0) {
        p->q[1].cap = e->rcvbuf;
    }
    p->fd[0] = fd;
    p->fd[1] = FD_PENDING;
    lst->backlog[lst->nbacklog++] = p;
    e->kind = EP_CONN;
    e->pair = p;
    e->side = 0;
    if (is_inet(e->family) && e->nonblock) {
        return -EINPROGRESS; /* already connected: writable, SO_ERROR 0 */
    }
    return 0;
}

static int x_accept(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = ep_open(sim, fd);
    sim_ep *n;
    sim_pair *p;
    int nfd;

    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind != EP_LISTEN) {
        return -EINVAL;
    }
    if (e->nbacklog == 0) {
        return -EAGAIN; /* the sim never blocks */
    }
    nfd = fd_alloc(sim);
    if (nfd < 0) {
        return nfd;
    }
    e = &sim->ep[fd]; /* the table may have moved */
    p = e->backlog[0];
    e->nbacklog--;
    memmove(e->backlog, e->backlog + 1, e->nbacklog * sizeof(*e->backlog));
    n = &sim->ep[nfd];
    memset(n, 0, sizeof(*n));
    n->kind = EP_CONN;
    n->family = e->family;
    n->pair = p;
    n->side = 1;
    n->nonblock = true;
    p->fd[1] = nfd;
    sim->nopen++;
    if (a != NULL && l != NULL) {
        (void)addr_out(&p->addr[0], a, l);
    }
    return nfd;
}

static int x_bind(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = ep_open(sim, fd);
    sim_addr want;
    int rc;

    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind != EP_SOCK || e->bound) {
        return -EINVAL;
    }
    rc = addr_in(&want, e->family, a, l);
    if (rc != 0) {
        return rc;
    }
    if (is_inet(e->family)) {
        if (!addr_is_any(&want) && !addr_is_loopback(&want)) {
            return -EADDRNOTAVAIL;
        }
        if (addr_port(&want) == 0) {
            unsigned port = ephemeral_port(sim, e->family);
            if (port == 0) {
                return -EADDRINUSE;
            }
            addr_set_port(&want, port);
        } else if (bind_conflict(sim, e, &want)) {
            return -EADDRINUSE;
        }
    } else {
        if (path_find(sim, unix_path(&want)) != NULL) {
            return -EADDRINUSE;
        }
        rc = path_add(sim, unix_path(&want), &e->ino);
        if (rc != 0) {
            return rc;
        }
    }
    e->local = want;
    e->bound = true;
    return 0;
}

static int x_listen(void *ctx, int fd, int backlog)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = ep_open(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_CONN) {
        return -EINVAL;
    }
    if (!e->bound) {
        unsigned port;
        if (e->family == AF_UNIX) {
            return -EINVAL; /* autobind (abstract names) is not modelled */
        }
        port = ephemeral_port(sim, e->family);
        if (port == 0) {
            return -EADDRINUSE;
        }
        addr_unspec(&e->local, e->family);
        addr_set_port(&e->local, port);
        e->bound = true;
    }
    e->kind = EP_LISTEN;
    e->backlog_max = backlog < 1 ? 1u : backlog > SIM_SOMAXCONN ? (size_t)SIM_SOMAXCONN
                                                                 : (size_t)backlog;
    return 0;
}

static int x_shutdown(void *ctx, int fd, int how)
{
    return do_shutdown(ctx, fd, how);
}

static int get_int(const void *val, socklen_t len, int *out)
{
    if (val == NULL || len < (socklen_t)sizeof(int)) {
        return -EINVAL;
    }
    memcpy(out, val, sizeof(*out));
    return 0;
}

static int x_getsockopt(void *ctx, int fd, int level, int name, void *val, socklen_t *len)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = ep_open(sim, fd);
    bool conn;
    size_t cap;
    int v;
    if (e == NULL) {
        return -EBADF;
    }
    if (val == NULL || len == NULL || *len < (socklen_t)sizeof(int)) {
        return -EINVAL;
    }
    conn = e->kind == EP_CONN;
    if (level == SOL_SOCKET) {
        if (name == SO_TYPE) {
            v = SOCK_STREAM;
        } else if (name == SO_ERROR) {
            if (conn) {
                v = -e->pair->err[e->side];
                e->pair->err[e->side] = 0;
            } else {
                v = -e->sock_err;
                e->sock_err = 0;
            }
        } else if (name == SO_ACCEPTCONN) {
            v = e->kind == EP_LISTEN;
        } else if (name == SO_REUSEADDR) {
            v = e->reuseaddr;
#ifdef SO_REUSEPORT
        } else if (name == SO_REUSEPORT) {
            v = e->reuseport;
#endif
        } else if (name == SO_SNDBUF || name == SO_RCVBUF) {
            bool snd = name == SO_SNDBUF;
            if (conn) {
                cap = e->pair->q[snd ? e->side : 1 - e->side].cap;
            } else {
                cap = snd ? e->sndbuf : e->rcvbuf;
                cap = cap > 0 ? cap : AIOTP_SIM_DEFAULT_CAPACITY;
            }
            v = cap > (size_t)INT_MAX ? INT_MAX : (int)cap;
        } else if (name == SO_LINGER) {
            if (*len < (socklen_t)sizeof(struct linger)) {
                return -EINVAL;
            }
            memcpy(val, &e->linger, sizeof(e->linger));
            *len = (socklen_t)sizeof(e->linger);
            return 0;
        } else {
            return -ENOPROTOOPT;
        }
    } else if (level == IPPROTO_TCP) {
        if (!is_inet(e->family)) {
            return -EOPNOTSUPP;
        }
        if (name != TCP_NODELAY) {
            return -ENOPROTOOPT;
        }
        v = e->nodelay;
    } else if (level == IPPROTO_IPV6) {
        if (e->family != AF_INET6 || name != IPV6_V6ONLY) {
            return -ENOPROTOOPT;
        }
        v = e->v6only;
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
    aiotp_sim *sim = ctx;
    sim_ep *e = ep_open(sim, fd);
    int v = 0;
    int rc;
    if (e == NULL) {
        return -EBADF;
    }
    if (level == SOL_SOCKET) {
        if (name == SO_LINGER) {
            if (val == NULL || len < (socklen_t)sizeof(struct linger)) {
                return -EINVAL;
            }
            memcpy(&e->linger, val, sizeof(e->linger));
            return 0;
        }
        if (name == SO_REUSEADDR ||
#ifdef SO_REUSEPORT
            name == SO_REUSEPORT ||
#endif
#ifdef SO_SNDBUFFORCE
            name == SO_SNDBUFFORCE || name == SO_RCVBUFFORCE ||
#endif
            name == SO_SNDBUF || name == SO_RCVBUF) {
            bool snd = name == SO_SNDBUF;
            size_t cap;
            rc = get_int(val, len, &v);
            if (rc != 0) {
                return rc;
            }
            if (name == SO_REUSEADDR) {
                e->reuseaddr = v != 0;
                return 0;
            }
#ifdef SO_REUSEPORT
            if (name == SO_REUSEPORT) {
                e->reuseport = v != 0;
                return 0;
            }
#endif
#ifdef SO_SNDBUFFORCE
            snd = snd || name == SO_SNDBUFFORCE;
#endif
            cap = v < 1 ? 1u : (size_t)v;
            if (e->kind == EP_CONN) {
                e->pair->q[snd ? e->side : 1 - e->side].cap = cap;
            } else if (snd) {
                e->sndbuf = cap;
            } else {
                e->rcvbuf = cap;
            }
            return 0;
        }
        return 0; /* other options: accepted and ignored */
    }
    if (level == IPPROTO_TCP) {
        if (!is_inet(e->family)) {
            return -EOPNOTSUPP;
        }
        if (name == TCP_NODELAY) {
            rc = get_int(val, len, &v);
            if (rc != 0) {
                return rc;
            }
            e->nodelay = v != 0;
        }
        return 0;
    }
    if (level == IPPROTO_IPV6) {
        if (e->family != AF_INET6) {
            return -ENOPROTOOPT;
        }
        if (name == IPV6_V6ONLY) {
            rc = get_int(val, len, &v);
            if (rc != 0) {
                return rc;
            }
            e->v6only = v != 0;
        }
        return 0;
    }
    return 0;
}

static int x_getsockname(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    sim_ep *e = ep_open(ctx, fd);
    sim_addr local;
    if (e == NULL) {
        return -EBADF;
    }
    ep_local(e, &local);
    return addr_out(&local, a, l);
}

static int x_getpeername(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    sim_ep *e = ep_open(ctx, fd);
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind != EP_CONN || peer_closed(e->pair, e->side) || e->pair->broken) {
        return -ENOTCONN;
    }
    return addr_out(&e->pair->addr[1 - e->side], a, l);
}

static int x_set_nonblock(void *ctx, int fd)
{
    sim_ep *e = ep_open(ctx, fd);
    if (e == NULL) {
        return -EBADF;
    }
    e->nonblock = true;
    return 0;
}

static ssize_t x_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
    return do_recv(ctx, fd, buf, len, flags);
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
    return do_recv(ctx, fd, buf, len, 0);
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
        sim_ep *e = ep_open(sim, fds[i].fd);
        unsigned ev;
        fds[i].revents = 0;
        if (fds[i].fd < 0) {
            continue;
        }
        if (e == NULL) {
            fds[i].revents = POLLNVAL;
        } else if (e->kind == EP_SOCK) {
            fds[i].revents = (short)(POLLHUP | (fds[i].events & POLLOUT));
            if (e->sock_err != 0) {
                fds[i].revents |= POLLERR;
            }
        } else {
            ev = ready_of(e);
            if ((ev & AIOTP_EV_READ) && (fds[i].events & POLLIN)) {
                fds[i].revents |= POLLIN;
            }
            if ((ev & AIOTP_EV_WRITE) && (fds[i].events & POLLOUT)) {
                fds[i].revents |= POLLOUT;
            }
            if (e->kind == EP_CONN && e->pair->err[e->side] != 0) {
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

/* Append one result (ip: 4 or 16 bytes in network order, port in host order). */
static int ai_push(aiotp_sim *sim, struct addrinfo ***tail, int family, const void *ip,
                   unsigned port)
{
    sim_ai *n = s_alloc(sim, sizeof(*n));
    if (n == NULL) {
        return EAI_MEMORY;
    }
    memset(n, 0, sizeof(*n));
    n->ai.ai_family = family;
    n->ai.ai_socktype = SOCK_STREAM;
    n->ai.ai_protocol = IPPROTO_TCP;
    n->ai.ai_addr = (struct sockaddr *)(void *)&n->ss;
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)(void *)&n->ss;
        s->sin_family = AF_INET;
        s->sin_port = htons((uint16_t)port);
        memcpy(&s->sin_addr, ip, 4);
        n->ai.ai_addrlen = (socklen_t)sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)(void *)&n->ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons((uint16_t)port);
        memcpy(&s->sin6_addr, ip, 16);
        n->ai.ai_addrlen = (socklen_t)sizeof(*s);
    }
    **tail = &n->ai;
    *tail = &n->ai.ai_next;
    return 0;
}

static void x_freeaddrinfo(void *ctx, struct addrinfo *res)
{
    while (res != NULL) {
        struct addrinfo *next = res->ai_next;
        s_free(ctx, res);
        res = next;
    }
}

static int x_getaddrinfo(void *ctx, const char *node, const char *service,
                         const struct addrinfo *hints, struct addrinfo **res)
{
    aiotp_sim *sim = ctx;
    int family = hints != NULL ? hints->ai_family : AF_UNSPEC;
    int flags = hints != NULL ? hints->ai_flags : 0;
    struct addrinfo *head = NULL;
    struct addrinfo **tail = &head;
    unsigned char v4[4];
    unsigned char v6[16];
    bool want4 = family == AF_UNSPEC || family == AF_INET;
    bool want6 = family == AF_UNSPEC || family == AF_INET6;
    bool have4 = false;
    bool have6 = false;
    unsigned long port = 0;
    int rc = 0;

    if (res == NULL) {
        return EAI_FAIL;
    }
    *res = NULL;
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
        return EAI_FAMILY;
    }
    if (hints != NULL && hints->ai_socktype != 0 && hints->ai_socktype != SOCK_STREAM) {
        return EAI_SOCKTYPE;
    }
    if (node == NULL && service == NULL) {
        return EAI_NONAME;
    }
    if (service != NULL) {
        const char *s = service;
        if (*s == '\0') {
            return EAI_SERVICE;
        }
        for (; *s != '\0'; s++) {
            if (*s < '0' || *s > '9' || port > 65535) {
                return EAI_SERVICE; /* no services database: numeric ports only */
            }
            port = port * 10 + (unsigned long)(*s - '0');
        }
        if (port > 65535) {
            return EAI_SERVICE;
        }
    }
    if (node == NULL) {
        if ((flags & AI_PASSIVE) != 0) {
            uint32_t any = htonl(INADDR_ANY);
            memcpy(v4, &any, 4);
            memcpy(v6, &in6addr_any, 16);
        } else {
            uint32_t lo = htonl(INADDR_LOOPBACK);
            memcpy(v4, &lo, 4);
            memcpy(v6, &in6addr_loopback, 16);
        }
        have4 = have6 = true;
    } else if (inet_pton(AF_INET, node, v4) == 1) {
        have4 = true;
    } else if (inet_pton(AF_INET6, node, v6) == 1) {
        have6 = true;
    } else if (strcmp(node, "localhost") == 0 && (flags & AI_NUMERICHOST) == 0) {
        uint32_t lo = htonl(INADDR_LOOPBACK);
        memcpy(v4, &lo, 4);
        memcpy(v6, &in6addr_loopback, 16);
        have4 = have6 = true;
    } else {
        return EAI_NONAME; /* no resolver: other names do not exist */
    }
    if (have4 && want4) {
        rc = ai_push(sim, &tail, AF_INET, v4, (unsigned)port);
    }
    if (rc == 0 && have6 && want6) {
        rc = ai_push(sim, &tail, AF_INET6, v6, (unsigned)port);
    }
    if (rc != 0) {
        x_freeaddrinfo(sim, head);
        return rc;
    }
    if (head == NULL) {
        return EAI_NONAME; /* a numeric address of the other family */
    }
    *res = head;
    return 0;
}

static int64_t x_clock_ns(void *ctx)
{
    return ((aiotp_sim *)ctx)->now;
}

static int x_unlink_socket(void *ctx, const char *path)
{
    aiotp_sim *sim = ctx;
    sim_path *f;
    if (path == NULL) {
        return -EFAULT;
    }
    f = path_find(sim, path);
    if (f == NULL) {
        return 0;
    }
    s_free(sim, f->path);
    *f = sim->paths[sim->npaths - 1];
    sim->npaths--;
    return 1;
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
    sim->next_port = SIM_PORT_FIRST;
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
        if (sim->ep[i].kind != EP_FREE) {
            (void)do_close(sim, (int)i);
        }
    }
    for (i = 0; i < sim->npaths; i++) {
        s_free(sim, sim->paths[i].path);
    }
    s_free(sim, sim->paths);
    s_free(sim, sim->ep);
    sim->magic = 0;
    sim->alloc.free(sim->alloc.ctx, sim);
}

const aiotp_syscalls *aiotp_sim_syscalls(aiotp_sim *sim)
{
    return sim != NULL ? &sim->sys : NULL;
}

/* The lowest free fd number >= SIM_FIRST_FD (the table may move: re-take pointers). */
static int fd_alloc(aiotp_sim *sim)
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
    p = pair_new(sim);
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    addr_unspec(&p->addr[0], AF_UNIX);
    addr_unspec(&p->addr[1], AF_UNIX);
    fa = fd_alloc(sim);
    if (fa < 0) {
        s_free(sim, p);
        return fa;
    }
    sim->ep[fa].kind = EP_CONN; /* claim it before looking for the second */
    fb = fd_alloc(sim);
    if (fb < 0) {
        sim->ep[fa].kind = EP_FREE;
        s_free(sim, p);
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

/* ---- the peer's calls, knobs, observation -------------------------------------------- */

ssize_t aiotp_sim_write(aiotp_sim *sim, int fd, const void *buf, size_t len)
{
    return sim != NULL ? do_send(sim, fd, buf, len) : -EBADF;
}

ssize_t aiotp_sim_read(aiotp_sim *sim, int fd, void *buf, size_t len)
{
    return sim != NULL ? do_recv(sim, fd, buf, len, 0) : -EBADF;
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
        return not_conn(sim, fd);
    }
    e->pair->q[e->side].cap = cap;
    return 0;
}

int aiotp_sim_send_limit(aiotp_sim *sim, int fd, size_t n)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return not_conn(sim, fd);
    }
    e->send_limit = n;
    return 0;
}

int aiotp_sim_send_eagain(aiotp_sim *sim, int fd, unsigned k)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return not_conn(sim, fd);
    }
    e->eagain = k;
    return 0;
}

int aiotp_sim_eintr_once(aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return not_conn(sim, fd);
    }
    e->eintr_send = true;
    e->eintr_recv = true;
    return 0;
}

static int arm_fail(aiotp_sim *sim, int fd, int kind, int err, unsigned k)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return not_conn(sim, fd);
    }
    if (err >= 0) {
        return AIOTP_EINVAL;
    }
    e->fail[kind].err = err;
    e->fail[kind].k = k;
    return 0;
}

int aiotp_sim_recv_fail(aiotp_sim *sim, int fd, int err, unsigned k)
{
    return arm_fail(sim, fd, FAIL_RECV, err, k);
}

int aiotp_sim_send_fail(aiotp_sim *sim, int fd, int err, unsigned k)
{
    return arm_fail(sim, fd, FAIL_SEND, err, k);
}

int aiotp_sim_shutdown_fail(aiotp_sim *sim, int fd, int err, unsigned k)
{
    return arm_fail(sim, fd, FAIL_SHUTDOWN, err, k);
}

int aiotp_sim_reset(aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return not_conn(sim, fd);
    }
    pair_reset(e->pair, e->side);
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
        return not_conn(sim, fd);
    }
    return (ssize_t)e->pair->q[1 - e->side].len;
}

ssize_t aiotp_sim_queued(const aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_get(sim, fd);
    if (e == NULL) {
        return not_conn(sim, fd);
    }
    return (ssize_t)e->pair->q[e->side].len;
}

unsigned aiotp_sim_ready(const aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_open(sim, fd);
    return e != NULL ? ready_of(e) : 0u;
}

size_t aiotp_sim_open_fds(const aiotp_sim *sim)
{
    return sim != NULL ? sim->nopen : 0;
}

unsigned aiotp_sim_interest(const aiotp_sim *sim, int fd)
{
    sim_ep *e = ep_open(sim, fd);
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
    sim_ep *e = ep_open(state, fd);
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
        if (e->kind == EP_FREE || e->interest == 0) {
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
