/*
 * src/endpoint.c - create_datagram_endpoint and create_unix_datagram_endpoint
 * (spec/rules.md, "Datagram endpoints", DGRAM-EP-*).
 *
 * Layer 4 (spec/architecture.md): a loop method that makes datagram transports. The work
 * runs from the loop in the pass after the call (the completion is never called inside
 * the method): resolve the local and the remote address (as create_connection does: a
 * name in a worker thread, src/resolve.c), then try each (local, remote) pair of the same
 * family in turn: socket, options, bind, connect; the first pair that works makes the
 * transport. Until then the operation can be cancelled (aiotp_loop_cancel_op, OP-1).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "compat.h"
#include "dgram_int.h"
#include "ops_int.h"
#include "req_int.h"
#include "resolve_int.h"

typedef enum ep_kind {
    EP_INET = 0, /* host/port addresses, resolved */
    EP_UNIX,     /* paths */
    EP_WRAP      /* an existing socket */
} ep_kind;

typedef enum ep_state {
    EP_QUEUED = 0, /* the step is scheduled */
    EP_RESOLVING,  /* a worker resolves a host (`query`) */
    EP_CANCELLED   /* the cancelled completion is queued */
} ep_state;

/* A pending endpoint: a loop-owned object until its completion has run. */
typedef struct ep_req {
    aiotp__obj obj; /* the loop's object header: first */
    aiotp__op op;   /* the pending operation (aiotp_loop_cancel_op) */
    aiotp_loop *loop;
    ep_kind kind;
    ep_state state;
    aiotp_handle step;   /* EP_QUEUED: the step */
    aiotp__query *query; /* EP_RESOLVING */
    bool reserved;       /* a ready-queue entry is reserved for a cancelled completion */
    int cancel_status;
    aiotp_protocol_factory_fn factory;
    void *factory_arg;
    aiotp_connect_cb cb;
    void *cb_arg;
    aiotp_datagram_options o;
    char *lhost;             /* copies of the arguments (NULL: not given) */
    char *rhost;
    int lport;
    int rport;
    struct sockaddr_un lun;  /* EP_UNIX paths */
    socklen_t lun_len;       /* 0: no local path */
    struct sockaddr_un run;
    socklen_t run_len;       /* 0: no remote path */
    aiotp__addrs lai;        /* resolved addresses */
    aiotp__addrs rai;
    bool lai_done;           /* the local (remote) host is resolved */
    bool rai_done;
    int fd;                  /* the socket being set up (or wrapped), -1 if none */
} ep_req;

static const aiotp__obj_ops ep_obj_ops;

static void ep_free(ep_req *r)
{
    aiotp_loop *loop = r->loop;
    aiotp__obj_unlink(&r->obj);
    aiotp__op_done(loop, &r->op);
    aiotp__cancel_stage(loop, &r->step, &r->query); /* aiotp_loop_free while pending */
    if (r->reserved) {
        aiotp__rq_unreserve(loop, 1);
    }
    if (r->fd >= 0) {
        aiotp__fd_forget(loop, r->fd);
        (void)loop->sys->close(loop->sys->ctx, r->fd);
    }
    aiotp__addrs_free(&r->lai);
    aiotp__addrs_free(&r->rai);
    aiotp__free(loop, r->lhost);
    aiotp__free(loop, r->rhost);
    aiotp__free(loop, r);
}

static void ep_teardown(aiotp__obj *o)
{
    ep_free((ep_req *)(void *)o); /* aiotp_loop_free: no callback */
}

static void ep_deferred(aiotp__obj *o)
{
    (void)o; /* never deferred */
}

/* aiotp_loop_close_all: cancel (CLOSE-1). */
static void ep_shut(aiotp__obj *o, bool abort)
{
    ep_req *r = (ep_req *)(void *)o;
    (void)abort;
    aiotp__op_cancel(r->loop, &r->op, AIOTP_ECANCELED);
}

static bool ep_owes(const aiotp__obj *o)
{
    (void)o;
    return true; /* its completion (the request is freed just before it runs) */
}

static const aiotp__obj_ops ep_obj_ops = {
    .name = "datagram endpoint request",
    .teardown = ep_teardown,
    .deferred = ep_deferred,
    .shut = ep_shut,
    .owes = ep_owes,
};

static void ep_cancelled(aiotp_loop *loop, void *arg)
{
    ep_req *r = arg;
    aiotp_connect_cb cb = r->cb;
    void *cb_arg = r->cb_arg;
    int status = r->cancel_status;
    (void)loop;
    ep_free(r);
    cb(cb_arg, status, NULL);
}

/* OP-1: nothing made survives; the completion comes next pass, from a reserved entry. */
static void ep_cancel(aiotp__op *op, int status)
{
    ep_req *r = (ep_req *)(void *)((char *)op - offsetof(ep_req, op));
    aiotp__cancel_stage(r->loop, &r->step, &r->query);
    r->state = EP_CANCELLED;
    r->cancel_status = status;
    r->reserved = false;
    aiotp__push_promised(r->loop, ep_cancelled, r);
}

static void ep_fail(ep_req *r, int err)
{
    aiotp_connect_cb cb = r->cb;
    void *arg = r->cb_arg;
    ep_free(r);
    cb(arg, err, NULL);
}

/* The socket is ready: make the protocol and the transport (DGRAM-EP-5). */
static void ep_finish(ep_req *r, const struct sockaddr *remote, socklen_t rlen, bool connected)
{
    const aiotp_protocol *proto = NULL;
    void *pdata = NULL;
    const char *why = NULL;
    int rc;

    aiotp__op_done(r->loop, &r->op); /* OP-2: the completion is due with the result */
    aiotp__fd_forget(r->loop, r->fd);
    rc = r->factory(r->factory_arg, &proto, &pdata);
    if (rc >= 0) {
        rc = aiotp__dgram_create(r->loop, r->fd, proto, pdata, remote, rlen, connected, r->cb,
                                 r->cb_arg, NULL, &why);
        if (rc == AIOTP_EINVAL || rc == AIOTP_EPROTOKIND) {
            /* PROTO-KIND-1: named in the exception handler, status to the completion */
            aiotp__report_bad_table(r->loop, "create_datagram_endpoint", rc, why, NULL);
        }
    }
    if (rc < 0) {
        ep_fail(r, rc); /* closes the socket */
        return;
    }
    r->fd = -1; /* the transport owns it now */
    ep_free(r);
}

/* socket, options, bind, connect for one pair (either may be NULL). Returns 0 with r->fd
   set up, or an error with no socket left open. */
static int ep_open(ep_req *r, int family, const struct sockaddr *local, socklen_t llen,
                   const struct sockaddr *remote, socklen_t rlen)
{
    const aiotp_syscalls *sys = r->loop->sys;
    int one = 1;
    int fd = sys->socket(sys->ctx, family, SOCK_DGRAM, r->o.proto);
    int rc;

    if (fd < 0) {
        return fd;
    }
    rc = sys->set_nonblock(sys->ctx, fd);
#ifdef SO_REUSEPORT
    if (rc == 0 && r->o.reuse_port) {
        rc = sys->setsockopt(sys->ctx, fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    }
#else
    if (rc == 0 && r->o.reuse_port) {
        rc = AIOTP_EINVAL; /* DGRAM-EP-3: not available on this system */
    }
#endif
    if (rc == 0 && r->o.allow_broadcast) {
        rc = sys->setsockopt(sys->ctx, fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
    }
    if (rc == 0 && local != NULL) {
        if (family == AF_UNIX) {
            /* DGRAM-EP-4: a stale socket file at the path is removed first */
            const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)local;
            int removed = sys->unlink_socket(sys->ctx, un->sun_path);
            rc = removed < 0 ? removed : 0;
        }
        if (rc == 0) {
            rc = sys->bind(sys->ctx, fd, local, llen);
        }
    }
    if (rc == 0 && remote != NULL && !r->o.allow_broadcast) {
        /* DGRAM-EP-2: a datagram connect() never blocks */
        rc = sys->connect(sys->ctx, fd, remote, rlen);
    }
    if (rc == 0) {
        rc = aiotp__fd_reserve(r->loop, fd);
    }
    if (rc != 0) {
        (void)sys->close(sys->ctx, fd);
        return rc;
    }
    r->fd = fd;
    return 0;
}

static void inet_step(ep_req *r);

/* RESOLVE-2: a worker's answer for the host being resolved. */
static void ep_resolved(void *arg, int status, aiotp__addrs *res)
{
    ep_req *r = arg;
    r->query = NULL;
    if (status != 0) {
        ep_fail(r, status);
        return;
    }
    if (!r->lai_done) {
        r->lai = *res;
        r->lai_done = true;
    } else {
        r->rai = *res;
        r->rai_done = true;
    }
    inet_step(r);
}

/* 0 resolved (out filled), 1 a worker resolves it (ep_resolved follows), or an error. */
static int resolve(ep_req *r, const char *host, int port, bool passive, aiotp__addrs *out)
{
    struct addrinfo hints;
    char svc[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = r->o.family;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = r->o.proto;
    hints.ai_flags = r->o.flags;
    if (passive && host[0] == '\0') {
        hints.ai_flags |= AI_PASSIVE; /* "" : every interface */
        host = NULL;
    }
    snprintf(svc, sizeof(svc), "%d", port);
    return aiotp__resolve(r->loop, host, svc, &hints, out, ep_resolved, r, &r->query);
}

/* Resolve a side not resolved yet: 0 done, 1 waiting for a worker, or an error. */
static int resolve_side(ep_req *r, const char *host, int port, bool passive, aiotp__addrs *out,
                        bool *done)
{
    int rc;
    if (host == NULL || *done) {
        *done = true;
        return 0;
    }
    rc = resolve(r, host, port, passive, out);
    if (rc == 1) {
        r->state = EP_RESOLVING; /* the loop runs on meanwhile */
    } else if (rc == 0) {
        *done = true;
    }
    return rc;
}

static const struct addrinfo *next_of(const struct addrinfo *a)
{
    return a != NULL ? a->ai_next : NULL;
}

static void inet_step(ep_req *r)
{
    const struct addrinfo *l;
    const struct addrinfo *m;
    int rc;
    int first_err = 0;
    bool tried = false;

    rc = resolve_side(r, r->lhost, r->lport, true, &r->lai, &r->lai_done);
    if (rc == 0) {
        rc = resolve_side(r, r->rhost, r->rport, false, &r->rai, &r->rai_done);
    }
    if (rc == 1) {
        return; /* ep_resolved goes on */
    }
    if (rc != 0) {
        ep_fail(r, rc);
        return;
    }
    /* DGRAM-EP-1: each (local, remote) pair of one family, in resolution order; a side
       that was not given is NULL once */
    l = r->lai.ai;
    do {
        m = r->rai.ai;
        do {
            if (l == NULL || m == NULL || l->ai_family == m->ai_family) {
                int family = l != NULL ? l->ai_family : (m != NULL ? m->ai_family : r->o.family);
                tried = true;
                rc = ep_open(r, family, l != NULL ? l->ai_addr : NULL,
                             l != NULL ? l->ai_addrlen : 0, m != NULL ? m->ai_addr : NULL,
                             m != NULL ? m->ai_addrlen : 0);
                if (rc == 0) {
                    ep_finish(r, m != NULL ? m->ai_addr : NULL, m != NULL ? m->ai_addrlen : 0,
                              m != NULL && !r->o.allow_broadcast);
                    return;
                }
                if (first_err == 0) {
                    first_err = rc;
                }
            }
            m = next_of(m);
        } while (m != NULL);
        l = next_of(l);
    } while (l != NULL);
    /* DGRAM-EP-1: no pair worked (or the families never matched) */
    ep_fail(r, tried ? first_err : AIOTP_EAI_FAMILY);
}

static void unix_step(ep_req *r)
{
    int rc = ep_open(r, AF_UNIX, r->lun_len > 0 ? (const struct sockaddr *)&r->lun : NULL,
                     r->lun_len, r->run_len > 0 ? (const struct sockaddr *)&r->run : NULL,
                     r->run_len);
    if (rc != 0) {
        ep_fail(r, rc);
        return;
    }
    ep_finish(r, r->run_len > 0 ? (const struct sockaddr *)&r->run : NULL, r->run_len,
              r->run_len > 0);
}

/* An existing socket: connected if it has a peer (DGRAM-EP-6). */
static void wrap_step(ep_req *r)
{
    const aiotp_syscalls *sys = r->loop->sys;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    int rc = aiotp__fd_reserve(r->loop, r->fd);
    if (rc != 0) {
        ep_fail(r, rc);
        return;
    }
    if (sys->getpeername(sys->ctx, r->fd, (struct sockaddr *)&peer, &plen) == 0 && plen > 0 &&
        plen <= (socklen_t)sizeof(peer)) {
        ep_finish(r, (const struct sockaddr *)&peer, plen, true);
    } else {
        ep_finish(r, NULL, 0, false);
    }
}

static void ep_step(aiotp_loop *loop, void *arg)
{
    ep_req *r = arg;
    (void)loop;
    r->step = 0;
    switch (r->kind) {
    case EP_INET:
        inet_step(r);
        break;
    case EP_UNIX:
        unix_step(r);
        break;
    default:
        wrap_step(r);
        break;
    }
}

/* ---- public ---------------------------------------------------------------------------- */

void aiotp_datagram_options_init(aiotp_datagram_options *opts)
{
    if (opts != NULL) {
        memset(opts, 0, sizeof(*opts));
        opts->size = sizeof(*opts);
        opts->family = AF_UNSPEC;
        opts->sock = -1;
        opts->op = NULL;
    }
}

static char *dup_str(aiotp_loop *loop, const char *s, int *rc)
{
    size_t n;
    char *p;
    if (s == NULL) {
        return NULL;
    }
    n = strlen(s) + 1;
    p = aiotp__alloc(loop, n);
    if (p == NULL) {
        *rc = AIOTP_ENOMEM;
        return NULL;
    }
    memcpy(p, s, n);
    return p;
}

/* Allocate, link and schedule a request copied from tmpl. */
static int ep_start(aiotp_loop *loop, const ep_req *tmpl)
{
    ep_req *r = aiotp__alloc(loop, sizeof(*r));
    int rc = 0;
    if (r == NULL) {
        return AIOTP_ENOMEM;
    }
    *r = *tmpl;
    r->loop = loop;
    r->lhost = dup_str(loop, tmpl->lhost, &rc);
    r->rhost = rc == 0 ? dup_str(loop, tmpl->rhost, &rc) : NULL;
    r->op.cancel = ep_cancel;
    if (rc == 0) {
        /* OP-1: the cancelled completion's entry, so that cancelling needs no memory */
        rc = aiotp__rq_reserve(loop, 1);
        r->reserved = rc == 0;
    }
    if (rc == 0) {
        rc = aiotp_loop_call_soon(loop, ep_step, r, &r->step);
    }
    if (rc != 0) {
        if (r->reserved) {
            aiotp__rq_unreserve(loop, 1);
        }
        aiotp__free(loop, r->lhost);
        aiotp__free(loop, r->rhost);
        aiotp__free(loop, r);
        return rc;
    }
    aiotp__obj_link(loop, &r->obj, &ep_obj_ops);
    aiotp__op_register(loop, &r->op, r->o.op);
    return 0;
}

/* The checks shared by both methods: 0 or AIOTP_EINVAL. */
static int ep_common(aiotp_loop *loop, aiotp_protocol_factory_fn factory, aiotp_connect_cb cb,
                     const aiotp_datagram_options *opts, ep_req *tmpl)
{
    if (loop == NULL || factory == NULL || cb == NULL) {
        return AIOTP_EINVAL;
    }
    memset(tmpl, 0, sizeof(*tmpl));
    aiotp_datagram_options_init(&tmpl->o);
    if (opts != NULL) {
        if (opts->size != sizeof(*opts) && opts->size != AIOTP_DATAGRAM_OPTIONS_SIZE_V1) {
            return AIOTP_EINVAL;
        }
        memcpy(&tmpl->o, opts, opts->size); /* a first-layout struct: up to its end */
        tmpl->o.size = sizeof(tmpl->o);
    }
    tmpl->factory = factory;
    tmpl->cb = cb;
    tmpl->fd = -1;
    tmpl->lport = -1;
    tmpl->rport = -1;
    return 0;
}

/* DGRAM-EP-6: opts->sock must be an open SOCK_DGRAM socket, with nothing else given. */
static int check_wrap(aiotp_loop *loop, const aiotp_datagram_options *o, bool addresses)
{
    int type = 0;
    socklen_t len = sizeof(type);
    int rc;
    if (addresses || o->family != AF_UNSPEC || o->proto != 0 || o->flags != 0 ||
        o->reuse_port || o->allow_broadcast) {
        return AIOTP_EINVAL;
    }
    rc = loop->sys->getsockopt(loop->sys->ctx, o->sock, SOL_SOCKET, SO_TYPE, &type, &len);
    if (rc < 0) {
        return rc;
    }
    if (type != SOCK_DGRAM) {
        return AIOTP_EINVAL;
    }
    if (loop->fds != NULL && (size_t)o->sock < loop->fds_cap &&
        loop->fds[o->sock].owner != NULL) {
        return AIOTP_EBUSY; /* the socket of a live transport or server */
    }
    return loop->sys->set_nonblock(loop->sys->ctx, o->sock);
}

int aiotp_loop_create_datagram_endpoint(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                        void *factory_arg, const char *local_host,
                                        int local_port, const char *remote_host,
                                        int remote_port, const aiotp_datagram_options *opts,
                                        aiotp_connect_cb cb, void *cb_arg)
{
    ep_req tmpl;
    int rc = ep_common(loop, factory, cb, opts, &tmpl);
    if (rc != 0) {
        return rc;
    }
    tmpl.factory_arg = factory_arg;
    tmpl.cb_arg = cb_arg;
    if (tmpl.o.sock >= 0) {
        rc = check_wrap(loop, &tmpl.o, local_host != NULL || remote_host != NULL);
        if (rc != 0) {
            return rc;
        }
        tmpl.kind = EP_WRAP;
        tmpl.fd = tmpl.o.sock;
        return ep_start(loop, &tmpl);
    }
    if (tmpl.o.family != AF_UNSPEC && tmpl.o.family != AF_INET && tmpl.o.family != AF_INET6) {
        return AIOTP_EINVAL; /* DGRAM-EP-1 (AF_UNIX: the unix variant) */
    }
    if ((local_host != NULL && (local_port < 0 || local_port > 65535)) ||
        (remote_host != NULL && (remote_port < 0 || remote_port > 65535))) {
        return AIOTP_EINVAL;
    }
    if (remote_host != NULL && remote_host[0] == '\0') {
        return AIOTP_EINVAL; /* a remote address needs a host */
    }
    if (local_host == NULL && remote_host == NULL && tmpl.o.family == AF_UNSPEC) {
        return AIOTP_EINVAL; /* DGRAM-EP-1: "unexpected address family" */
    }
    tmpl.kind = EP_INET;
    tmpl.lhost = (char *)(uintptr_t)local_host; /* copied by ep_start */
    tmpl.rhost = (char *)(uintptr_t)remote_host;
    tmpl.lport = local_port;
    tmpl.rport = remote_port;
    return ep_start(loop, &tmpl);
}

int aiotp_loop_create_unix_datagram_endpoint(aiotp_loop *loop,
                                             aiotp_protocol_factory_fn factory,
                                             void *factory_arg, const char *local_path,
                                             const char *remote_path,
                                             const aiotp_datagram_options *opts,
                                             aiotp_connect_cb cb, void *cb_arg)
{
    ep_req tmpl;
    int rc = ep_common(loop, factory, cb, opts, &tmpl);
    if (rc != 0) {
        return rc;
    }
    tmpl.factory_arg = factory_arg;
    tmpl.cb_arg = cb_arg;
    if (tmpl.o.sock >= 0) {
        rc = check_wrap(loop, &tmpl.o, local_path != NULL || remote_path != NULL);
        if (rc != 0) {
            return rc;
        }
        tmpl.kind = EP_WRAP;
        tmpl.fd = tmpl.o.sock;
        return ep_start(loop, &tmpl);
    }
    if (tmpl.o.family != AF_UNSPEC && tmpl.o.family != AF_UNIX) {
        return AIOTP_EINVAL;
    }
    tmpl.o.family = AF_UNIX;
    if (local_path != NULL) {
        rc = aiotp__unix_addr(local_path, &tmpl.lun, &tmpl.lun_len);
    }
    if (rc == 0 && remote_path != NULL) {
        rc = aiotp__unix_addr(remote_path, &tmpl.run, &tmpl.run_len);
    }
    if (rc != 0) {
        return rc;
    }
    tmpl.kind = EP_UNIX;
    return ep_start(loop, &tmpl);
}
