/*
 * src/sim/opts.c - getsockopt / setsockopt of the simulated kernel (the options that
 * change behaviour are listed in aiotp/sim.h).
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "compat.h"
#include "sim_int.h"

static int get_int(const void *val, socklen_t len, int *out)
{
    if (val == NULL || len < (socklen_t)sizeof(int)) {
        return -EINVAL;
    }
    memcpy(out, val, sizeof(*out));
    return 0;
}

int aiotp__sim_getsockopt(void *ctx, int fd, int level, int name, void *val, socklen_t *len)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
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
            v = e->kind == EP_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
        } else if (name == SO_BROADCAST) {
            v = e->broadcast;
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
        if (!aiotp__sim_is_inet(e->family)) {
            return -EOPNOTSUPP;
        }
        if (name != TCP_NODELAY || e->kind == EP_DGRAM) {
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

int aiotp__sim_setsockopt(void *ctx, int fd, int level, int name, const void *val,
                        socklen_t len)
{
    aiotp_sim *sim = ctx;
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
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
        if (name == SO_REUSEADDR || name == SO_BROADCAST ||
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
            if (name == SO_BROADCAST) {
                e->broadcast = v != 0;
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
        if (!aiotp__sim_is_inet(e->family)) {
            return -EOPNOTSUPP;
        }
        if (e->kind == EP_DGRAM) {
            return -ENOPROTOOPT; /* a UDP socket has no TCP options */
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
