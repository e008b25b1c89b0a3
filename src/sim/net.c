/*
 * src/sim/net.c - the virtual network of the simulated kernel: Unix path names, ports,
 * and bind/listen/connect/accept of stream sockets. The network is the fd table itself:
 * connect() finds its listener by scanning it, and AF_UNIX paths live in a small table of
 * "files".
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "aiotp/error.h"
#include "sim_int.h"

sim_path *aiotp__sim_path_find(const aiotp_sim *sim, const char *path)
{
    size_t i;
    for (i = 0; i < sim->npaths; i++) {
        if (strcmp(sim->paths[i].path, path) == 0) {
            return &sim->paths[i];
        }
    }
    return NULL;
}

int aiotp__sim_path_add(aiotp_sim *sim, const char *path, unsigned *ino)
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
    copy = aiotp__sim_alloc(sim, n);
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

int aiotp__sim_unlink_socket(void *ctx, const char *path)
{
    aiotp_sim *sim = ctx;
    sim_path *f;
    if (path == NULL) {
        return -EFAULT;
    }
    f = aiotp__sim_path_find(sim, path);
    if (f == NULL) {
        return 0;
    }
    aiotp__sim_free(sim, f->path);
    *f = sim->paths[sim->npaths - 1];
    sim->npaths--;
    return 1;
}

/* The IP addresses of a and b overlap (equal, or one is the wildcard). */
static bool ip_overlap(const sim_addr *a, const sim_addr *b)
{
    return aiotp__sim_addr_is_any(a) || aiotp__sim_addr_is_any(b) ||
           aiotp__sim_addr_same_ip(a, b);
}

/* Would binding `want` (family and port of e) conflict with another socket of the same
   kind (stream and datagram sockets have port spaces of their own)? */
static bool bind_conflict(const aiotp_sim *sim, const sim_ep *e, const sim_addr *want)
{
    size_t i;
    unsigned port = aiotp__sim_addr_port(want);
    for (i = 0; i < sim->ep_cap; i++) {
        const sim_ep *o = &sim->ep[i];
        sim_addr oa;
        if (o == e || o->kind == EP_FREE || o->family != e->family ||
            (o->kind == EP_DGRAM) != (e->kind == EP_DGRAM)) {
            continue;
        }
        if (o->kind == EP_CONN) {
            oa = o->pair->addr[o->side];
            if (aiotp__sim_addr_port(&oa) == port && ip_overlap(&oa, want) &&
                !e->reuseaddr) {
                return true;
            }
            continue;
        }
        if (!o->bound || aiotp__sim_addr_port(&o->local) != port ||
            !ip_overlap(&o->local, want)) {
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

unsigned aiotp__sim_ephemeral_port(aiotp_sim *sim, int family, bool dgram)
{
    unsigned span = sim->port_last - sim->port_first + 1;
    unsigned k;
    for (k = 0; k < span; k++) {
        unsigned port = sim->next_port;
        size_t i;
        bool used = false;
        sim->next_port = port == sim->port_last ? sim->port_first : port + 1;
        for (i = 0; i < sim->ep_cap && !used; i++) {
            const sim_ep *o = &sim->ep[i];
            if (o->kind == EP_FREE || o->family != family || (o->kind == EP_DGRAM) != dgram) {
                continue;
            }
            if (o->kind == EP_CONN) {
                used = aiotp__sim_addr_port(&o->pair->addr[o->side]) == port;
            } else {
                used = o->bound && aiotp__sim_addr_port(&o->local) == port;
            }
        }
        if (!used) {
            return port;
        }
    }
    return 0;
}

int aiotp_sim_set_port_range(aiotp_sim *sim, unsigned first, unsigned last)
{
    if (sim == NULL || first == 0 || first > last || last > 65535) {
        return AIOTP_EINVAL;
    }
    sim->port_first = first;
    sim->port_last = last;
    sim->next_port = first;
    return 0;
}

/* The listener that a connect to dst reaches: its fd, or -ECONNREFUSED / -ENOENT /
   -EPROTOTYPE (a Unix datagram socket is bound to the path). */
static int find_listener(const aiotp_sim *sim, int family, const sim_addr *dst)
{
    size_t i;
    unsigned ino = 0;
    if (family == AF_UNIX) {
        const sim_path *f = aiotp__sim_path_find(sim, aiotp__sim_unix_path(dst));
        if (f == NULL) {
            return -ENOENT;
        }
        ino = f->ino;
    }
    for (i = 0; i < sim->ep_cap; i++) {
        const sim_ep *o = &sim->ep[i];
        if (family == AF_UNIX && o->kind == EP_DGRAM && o->bound && o->ino == ino) {
            return -EPROTOTYPE;
        }
        if (o->kind != EP_LISTEN || o->family != family) {
            continue;
        }
        if (family == AF_UNIX) {
            if (o->ino == ino) {
                return (int)i;
            }
        } else if (aiotp__sim_addr_port(&o->local) == aiotp__sim_addr_port(dst) &&
                   (aiotp__sim_addr_is_any(&o->local) ||
                    aiotp__sim_addr_same_ip(&o->local, dst))) {
            return (int)i;
        }
    }
    return -ECONNREFUSED;
}

int aiotp__sim_connect(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    sim_ep *lst;
    sim_pair *p;
    sim_addr dst;
    sim_addr local;
    int li;
    int rc;

    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_DGRAM) {
        return aiotp__sim_dgram_connect(sim, e, a, l);
    }
    if (e->kind == EP_CONN) {
        return -EISCONN;
    }
    if (e->kind == EP_LISTEN) {
        return -EINVAL;
    }
    if (e->blackholed) {
        return -EALREADY; /* the connect nobody answers is still under way */
    }
    rc = aiotp__sim_addr_in(&dst, e->family, a, l);
    if (rc != 0) {
        return rc;
    }
    if (aiotp__sim_is_inet(e->family)) {
        if (aiotp__sim_addr_is_any(&dst)) {
            aiotp__sim_addr_set_loopback(&dst); /* the unspecified address reaches this host */
        }
        if (!aiotp__sim_addr_is_loopback(&dst)) {
            return -ENETUNREACH;
        }
    }
    e->sock_err = 0;
    if (aiotp__sim_is_inet(e->family) && sim->blackhole != 0 &&
        aiotp__sim_addr_port(&dst) == sim->blackhole) {
        /* SIM-NET-1: the SYN is dropped: in progress for ever, never ready */
        if (!e->nonblock) {
            return -ETIMEDOUT; /* (the sim never blocks: at once) */
        }
        e->blackholed = true;
        return -EINPROGRESS;
    }
    li = find_listener(sim, e->family, &dst);
    if (li >= 0 && sim->ep[li].nbacklog >= sim->ep[li].backlog_max) {
        if (e->family == AF_UNIX) {
            return -EAGAIN;
        }
        li = -ECONNREFUSED; /* no SYN retransmission here */
    }
    if (li < 0) {
        if (aiotp__sim_is_inet(e->family) && e->nonblock) {
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
        if (aiotp__sim_is_inet(e->family) && aiotp__sim_addr_is_any(&local)) {
            local.ss = dst.ss;
            aiotp__sim_addr_set_port(&local, aiotp__sim_addr_port(&e->local));
        }
    } else if (aiotp__sim_is_inet(e->family)) {
        unsigned port = aiotp__sim_ephemeral_port(sim, e->family, false);
        if (port == 0) {
            return -EADDRNOTAVAIL;
        }
        local = dst;
        aiotp__sim_addr_set_port(&local, port);
    } else {
        aiotp__sim_addr_unspec(&local, AF_UNIX);
    }
    p = aiotp__sim_pair_new(sim);
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
    if (aiotp__sim_is_inet(e->family) && e->nonblock) {
        return -EINPROGRESS; /* already connected: writable, SO_ERROR 0 */
    }
    return 0;
}

int aiotp__sim_accept(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    sim_ep *n;
    sim_pair *p;
    int nfd;

    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind != EP_LISTEN) {
        return e->kind == EP_DGRAM ? -EOPNOTSUPP : -EINVAL;
    }
    if (e->nbacklog == 0) {
        return -EAGAIN; /* the sim never blocks */
    }
    nfd = aiotp__sim_fd_alloc(sim);
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
        (void)aiotp__sim_addr_out(&p->addr[0], a, l);
    }
    return nfd;
}

int aiotp__sim_bind(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    sim_addr want;
    bool port_given;
    int rc;

    if (e == NULL) {
        return -EBADF;
    }
    if ((e->kind != EP_SOCK && e->kind != EP_DGRAM) || e->bound) {
        return -EINVAL;
    }
    rc = aiotp__sim_addr_in(&want, e->family, a, l);
    if (rc != 0) {
        return rc;
    }
    port_given = aiotp__sim_addr_port(&want) != 0;
    if (aiotp__sim_is_inet(e->family)) {
        if (!aiotp__sim_addr_is_any(&want) && !aiotp__sim_addr_is_loopback(&want)) {
            return -EADDRNOTAVAIL;
        }
        if (!port_given) {
            unsigned port = aiotp__sim_ephemeral_port(sim, e->family, e->kind == EP_DGRAM);
            if (port == 0) {
                return -EADDRINUSE;
            }
            aiotp__sim_addr_set_port(&want, port);
        } else if (bind_conflict(sim, e, &want)) {
            return -EADDRINUSE;
        }
    } else {
        if (aiotp__sim_path_find(sim, aiotp__sim_unix_path(&want)) != NULL) {
            return -EADDRINUSE;
        }
        rc = aiotp__sim_path_add(sim, aiotp__sim_unix_path(&want), &e->ino);
        if (rc != 0) {
            return rc;
        }
    }
    if (e->kind == EP_DGRAM) {
        aiotp__sim_dgram_bound(e, aiotp__sim_is_inet(e->family) &&
                                      !aiotp__sim_addr_is_any(&want), port_given);
    }
    e->local = want;
    e->bound = true;
    return 0;
}

int aiotp__sim_listen(void *ctx, int fd, int backlog)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_DGRAM) {
        return -EOPNOTSUPP;
    }
    if (e->kind == EP_CONN) {
        return -EINVAL;
    }
    if (!e->bound) {
        unsigned port;
        if (e->family == AF_UNIX) {
            return -EINVAL; /* autobind (abstract names) is not modelled */
        }
        port = aiotp__sim_ephemeral_port(sim, e->family, false);
        if (port == 0) {
            return -EADDRINUSE;
        }
        aiotp__sim_addr_unspec(&e->local, e->family);
        aiotp__sim_addr_set_port(&e->local, port);
        e->bound = true;
    }
    e->kind = EP_LISTEN;
    e->backlog_max = backlog < 1 ? 1u : backlog > SIM_SOMAXCONN ? (size_t)SIM_SOMAXCONN
                                                                 : (size_t)backlog;
    return 0;
}

int aiotp_sim_blackhole(aiotp_sim *sim, unsigned port)
{
    if (sim == NULL || port > 65535) {
        return AIOTP_EINVAL;
    }
    sim->blackhole = port;
    return 0;
}
