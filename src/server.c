/*
 * src/server.c - create_server, create_unix_server and the server object
 * (spec/rules.md, "Loop methods and servers", SRV-*).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "req_int.h"
#include "stream_int.h"

/* Delay before accepting again after EMFILE/ENFILE/ENOBUFS/ENOMEM (CPython: 1 s). */
#define ACCEPT_RETRY_DELAY AIOTP_NS_PER_SEC

typedef enum aiotp__srv_state {
    AIOTP__SRV_IDLE = 0, /* listening sockets bound, not accepting (start_serving false) */
    AIOTP__SRV_SERVING,  /* accepting */
    AIOTP__SRV_CLOSED    /* close() called: sockets closed; final */
} aiotp__srv_state;

typedef struct aiotp__waiter {
    aiotp_server_cb cb;
    void *arg;
} aiotp__waiter;

struct aiotp_server {
    aiotp__obj obj;           /* the loop's object header: first */
    aiotp_loop *loop;
    unsigned refs;            /* the loop's + user_refs + internal holds */
    unsigned user_refs;       /* taken with aiotp_server_retain() */
    bool loop_ref;            /* the loop still holds its reference */
    aiotp__srv_state state;
    aiotp_protocol_factory_fn factory;
    void *factory_arg;
    int backlog;
    int *fds;                 /* listening sockets */
    size_t nfds;
    bool *paused;             /* per socket: reader removed after an accept error */
    size_t active;            /* live connections accepted by this server */
    aiotp__waiter *waiters;   /* wait_closed() callbacks, in call order */
    size_t nwaiters;
    size_t waiters_cap;
    size_t reserved;          /* ready-queue entries reserved for waiters (one each) */
    bool notify_queued;       /* a wake-up of the waiters is queued (holds a reference) */
    bool completed;           /* a wait_closed completion has been delivered */
    unsigned held;            /* references to drop after the current pass */
    bool stop_loop_on_close;  /* serve_forever is running */
    const aiotp_tls_context *tls; /* TLS server context (retained), or NULL */
    aiotp__layer_params lp;   /* its parameters */
};

/* ---- lifetime (SRV-10) ----------------------------------------------------------------

   The loop holds a reference from creation until the server is closed, its last
   connection is gone, and a wait_closed completion has been delivered with no other
   waiter left; it is dropped after that pass. So the documented sequence (close(), then
   wait_closed() from any later callback, even from inside a wait_closed completion) is
   safe without retain(); a server nobody waits for stays (closed, without sockets) until
   the loop is freed. Every wait_closed reserves its ready-queue entry when it is called,
   so a completion can never be lost for lack of memory later (in close() or when the
   last connection goes). A queued notification, a pending retry timer, a running
   accept handler and serve_forever each hold a reference. */

static void server_free(aiotp_server *s)
{
    aiotp_loop *loop = s->loop;
    bool survivor = loop->dead; /* LIFE-1: the last release after aiotp_loop_free */
    size_t i;
    aiotp__obj_unlink(&s->obj);
    for (i = 0; i < s->nfds; i++) {
        if (s->fds[i] >= 0) {
            aiotp__fd_forget(loop, s->fds[i]);
            (void)loop->sys->close(loop->sys->ctx, s->fds[i]);
        }
    }
    /* (s->reserved > 0 only at aiotp_loop_free: every waiter keeps the loop's
       reference, and the loop's ready queue goes with it) */
    if (s->tls != NULL) {
        AIOTP__LAYER_OPS(s->tls)->release(s->tls);
    }
    aiotp__free(loop, s->fds);
    aiotp__free(loop, s->paused);
    aiotp__free(loop, s->waiters);
    aiotp__free(loop, s);
    if (survivor) {
        aiotp__loop_survivor_gone(loop);
    }
}

static void unref(aiotp_server *s)
{
    if (--s->refs == 0) {
        server_free(s);
    }
}

/* aiotp_loop_free: close the sockets and free, no callbacks. A server the user retained
   survives (LIFE-1): closed, without sockets, connections or waiters (their completions
   never run), until its last release. */
static void server_teardown(aiotp__obj *o)
{
    aiotp_server *s = (aiotp_server *)(void *)o;
    size_t i;
    if (s->user_refs == 0) {
        server_free(s);
        return;
    }
    for (i = 0; i < s->nfds; i++) {
        aiotp__fd_forget(s->loop, s->fds[i]);
        (void)s->loop->sys->close(s->loop->sys->ctx, s->fds[i]);
    }
    s->nfds = 0;
    s->state = AIOTP__SRV_CLOSED;
    s->active = 0;
    s->nwaiters = 0;
    s->reserved = 0; /* (the loop's ready queue goes with it) */
    s->notify_queued = false;
    s->held = 0;
    s->loop_ref = false;
    s->stop_loop_on_close = false;
    s->refs = s->user_refs;
    aiotp__loop_survivor(s->loop);
}

static bool finished(const aiotp_server *s)
{
    return s->state == AIOTP__SRV_CLOSED && s->active == 0;
}

/* After a pass in which completions ran: the notifications' references go, and the
   loop's too once nobody waits any more. */
static void server_deferred(aiotp__obj *o)
{
    aiotp_server *s = (aiotp_server *)(void *)o;
    unsigned drop = s->held;
    s->held = 0;
    if (s->loop_ref && s->completed && finished(s) && s->nwaiters == 0 && !s->notify_queued) {
        s->loop_ref = false;
        drop++;
    }
    s->refs -= drop;
    if (s->refs == 0) {
        server_free(s);
    }
}

/* aiotp_loop_close_all (CLOSE-1): the server closes; its connections are transports of
   the loop and are closed as such. */
static void server_shut(aiotp__obj *o, bool abort)
{
    (void)abort;
    (void)aiotp_server_close((aiotp_server *)(void *)o); /* (closed already: ECLOSED) */
}

/* Until it is closed, its connections are gone and no wait_closed completion is due. */
static bool server_owes(const aiotp__obj *o)
{
    const aiotp_server *s = (const aiotp_server *)(const void *)o;
    return s->state != AIOTP__SRV_CLOSED || s->active > 0 || s->nwaiters > 0 ||
           s->notify_queued;
}

static const aiotp__obj_ops server_obj_ops = {
    .name = "server",
    .teardown = server_teardown,
    .deferred = server_deferred,
    .shut = server_shut,
    .owes = server_owes,
};

void aiotp_server_retain(aiotp_server *s)
{
    if (s != NULL) {
        s->user_refs++;
        s->refs++;
    }
}

void aiotp_server_release(aiotp_server *s)
{
    /* only references taken with retain() can be given back */
    if (s != NULL && s->user_refs > 0) {
        s->user_refs--;
        unref(s);
    }
}

static void notify_cb(aiotp_loop *loop, void *arg);

/* Queue the waiters' wake-up once the server is closed and idle (SRV-5): through the
   loop, so waiters never run inside close() or connection_lost(). Uses the entry the
   first waiter reserved: cannot fail. */
static void maybe_notify(aiotp_server *s)
{
    if (finished(s) && s->nwaiters > 0 && !s->notify_queued) {
        s->notify_queued = true;
        s->refs++; /* the queued notification's */
        s->reserved--;
        aiotp__push_promised(s->loop, notify_cb, s);
    }
}

/* Run the waiters that were there when the wake-up was queued or before it ran; those
   added by their completions get the next pass. */
static void notify_cb(aiotp_loop *loop, void *arg)
{
    aiotp_server *s = arg;
    size_t n = s->nwaiters;
    size_t i;
    s->notify_queued = false;
    if (n > 1) {
        aiotp__rq_unreserve(loop, n - 1); /* the first one's entry was this call */
        s->reserved -= n - 1;
    }
    for (i = 0; i < n; i++) {
        aiotp__waiter w = s->waiters[0];
        memmove(s->waiters, s->waiters + 1, (s->nwaiters - 1) * sizeof(*s->waiters));
        s->nwaiters--;
        s->completed = true;
        w.cb(w.arg, 0, s);
    }
    maybe_notify(s);
    /* the notification's reference goes after this pass, so the server stays valid for
       the rest of it (also when it was the last one) */
    s->held++;
    aiotp__obj_defer(&s->obj);
}

/* A connection accepted by s was lost (its transport's on_lost hook). */
static void connection_gone(void *arg)
{
    aiotp_server *s = arg;
    s->active--;
    maybe_notify(s);
}

/* ---- accepting --------------------------------------------------------------------------- */

static void server_report(aiotp_server *s, const char *message, int status)
{
    aiotp_exception_context ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.message = message;
    ctx.status = status;
    ctx.server = s;
    aiotp_loop_call_exception_handler(s->loop, &ctx);
}

static void accept_ready(aiotp_loop *loop, int fd, void *arg);

static int index_of(const aiotp_server *s, int fd)
{
    size_t i;
    for (i = 0; i < s->nfds; i++) {
        if (s->fds[i] == fd) {
            return (int)i;
        }
    }
    return -1;
}

/* Stop accepting on socket k and try again after 1 s (SRV-6, SRV-11). The timer holds
   a reference. If no timer can be had, the socket stays watched (the loop's level
   triggering retries at the next pass). */
static void pause_accepting(aiotp_server *s, size_t k);

static void retry_accept(aiotp_loop *loop, void *arg)
{
    aiotp_server *s = arg;
    size_t i;
    bool again = false;
    (void)loop;
    for (i = 0; i < s->nfds; i++) {
        if (s->paused[i] && s->state == AIOTP__SRV_SERVING) {
            int rc = aiotp__set_reader(s->loop, s->fds[i], accept_ready, s);
            if (rc == 0) {
                s->paused[i] = false;
            } else {
                /* SRV-11: never paused for good: report it and try again later */
                server_report(s, "Cannot resume accepting; retrying in 1 s", rc);
                again = true;
            }
        }
    }
    /* (the timer's slot was just freed by the loop, so scheduling the next one reuses it) */
    if (again && aiotp_loop_call_later(s->loop, ACCEPT_RETRY_DELAY, retry_accept, s, NULL) == 0) {
        s->refs++;
    }
    unref(s); /* the timer's reference */
}

static void pause_accepting(aiotp_server *s, size_t k)
{
    bool timer_pending = false;
    size_t i;
    for (i = 0; i < s->nfds; i++) {
        timer_pending = timer_pending || s->paused[i];
    }
    aiotp__clear_reader(s->loop, s->fds[k]);
    s->paused[k] = true;
    if (timer_pending) {
        return; /* one retry timer serves every paused socket */
    }
    if (aiotp_loop_call_later(s->loop, ACCEPT_RETRY_DELAY, retry_accept, s, NULL) == 0) {
        s->refs++;
    } else if (aiotp__set_reader(s->loop, s->fds[k], accept_ready, s) == 0) {
        s->paused[k] = false;
    }
}

static void accept_one(aiotp_server *s, int c, const struct sockaddr *addr, socklen_t alen)
{
    const aiotp_protocol *proto = NULL;
    void *pdata = NULL;
    const char *why = NULL;
    aiotp_transport *t = NULL;
    aiotp_loop *loop = s->loop;
    int rc = s->factory(s->factory_arg, &proto, &pdata); /* SRV-3: one per connection */
    bool bad_table = false;

    if (rc >= 0) {
        if (s->tls != NULL) {
            /* TLS-SRV-1: a TLS transport over the accepted connection; its protocol gets
               connection_made after the handshake */
            rc = AIOTP__LAYER_OPS(s->tls)->wrap(s->tls, &aiotp__layer_svc, loop, c, proto,
                                                pdata, addr, alen, &s->lp, NULL, NULL, &t,
                                                &why);
        } else {
            rc = aiotp__stream_create(loop, c, proto, pdata, addr, alen, NULL, NULL, &t, &why);
        }
        bad_table = rc == AIOTP_EINVAL || rc == AIOTP_EPROTOKIND;
    }
    if (rc < 0) {
        (void)loop->sys->close(loop->sys->ctx, c);
        if (bad_table) {
            /* PROTO-KIND-1: a table the transport cannot use is a programming error:
               always reported, by name */
            aiotp__report_bad_table(loop, "create_server", rc, why, s);
        } else if (loop->debug) {
            /* SRV-4: the connection is closed; reported in debug mode only, as CPython */
            server_report(s, "Error on transport creation for incoming connection", rc);
        }
        return;
    }
    t->on_lost = connection_gone;
    t->on_lost_arg = s;
    s->active++;
}

/* accept() errors that concern one pending connection, not the listening socket: the
   connection is gone, try the next one (Linux accept(2): "treat them like EAGAIN"). */
static bool per_connection_error(int e)
{
    switch (-e) {
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENOPROTOOPT:
    case EOPNOTSUPP:
    case EPERM:
#ifdef EHOSTDOWN
    case EHOSTDOWN:
#endif
#ifdef ENONET
    case ENONET:
#endif
        return true;
    default:
        return false;
    }
}

static void accept_ready(aiotp_loop *loop, int fd, void *arg)
{
    aiotp_server *s = arg;
    const aiotp_syscalls *sys = loop->sys;
    int i;

    s->refs++; /* the factory may close the server, the wait_closed may complete: the
                  server stays valid until this handler returns (SRV-10) */
    /* SRV-2: accept up to backlog connections per wakeup */
    for (i = 0; i < s->backlog && s->state == AIOTP__SRV_SERVING; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int c = sys->accept(sys->ctx, fd, (struct sockaddr *)&ss, &len);
        int k;
        if (c >= 0) {
            accept_one(s, c, (const struct sockaddr *)&ss, len);
            continue;
        }
#if EWOULDBLOCK != EAGAIN
        if (c == -EWOULDBLOCK) {
            break;
        }
#endif
        if (c == -EAGAIN || c == -EINTR) {
            break;
        }
        if (per_connection_error(c)) {
            continue;
        }
        k = index_of(s, fd);
        if (c == -EMFILE || c == -ENFILE || c == -ENOBUFS || c == -ENOMEM) {
            /* SRV-6: report once, stop accepting on this socket, retry after 1 s */
            server_report(s, "socket.accept() out of system resource", c);
        } else {
            /* SRV-11: any other error (the socket is not listening, ...): the same,
               rather than a report at every pass */
            server_report(s, "Error on accept()", c);
        }
        if (k >= 0) {
            pause_accepting(s, (size_t)k);
        }
        break;
    }
    unref(s);
}

static int start_serving(aiotp_server *s)
{
    size_t i;
    int rc;
    if (s->state == AIOTP__SRV_CLOSED) {
        return AIOTP_ECLOSED;
    }
    if (s->state == AIOTP__SRV_SERVING) {
        return 0;
    }
    for (i = 0; i < s->nfds; i++) {
        rc = aiotp__set_reader(s->loop, s->fds[i], accept_ready, s);
        if (rc != 0) {
            while (i-- > 0) {
                aiotp__clear_reader(s->loop, s->fds[i]);
            }
            return rc;
        }
        s->paused[i] = false;
    }
    s->state = AIOTP__SRV_SERVING;
    return 0;
}

/* ---- listening ---------------------------------------------------------------------------- */

static bool server_fd_busy(void *owner)
{
    aiotp_server *s = owner;
    return s->state != AIOTP__SRV_CLOSED;
}

static int add_fd(aiotp_server *s, int fd)
{
    void *p = aiotp__realloc(s->loop, s->fds, (s->nfds + 1) * sizeof(int));
    void *q;
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    s->fds = p;
    q = aiotp__realloc(s->loop, s->paused, (s->nfds + 1) * sizeof(bool));
    if (q == NULL) {
        return AIOTP_ENOMEM;
    }
    s->paused = q;
    s->fds[s->nfds] = fd;
    s->paused[s->nfds] = false;
    s->nfds++;
    return 0;
}

/* Create, configure, bind and listen one socket. Returns the fd or an error. */
static int open_listener(aiotp_loop *loop, int family, int protocol, const struct sockaddr *a,
                         socklen_t alen, const aiotp_server_options *o)
{
    const aiotp_syscalls *sys = loop->sys;
    int one = 1;
    int fd = sys->socket(sys->ctx, family, SOCK_STREAM, protocol);
    int rc;

    if (fd < 0) {
        return fd;
    }
    rc = sys->set_nonblock(sys->ctx, fd);
    if (rc == 0 && family != AF_UNIX && o->reuse_address) {
        rc = sys->setsockopt(sys->ctx, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
#ifdef SO_REUSEPORT
    if (rc == 0 && o->reuse_port) {
        rc = sys->setsockopt(sys->ctx, fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    }
#endif
    if (rc == 0 && family == AF_INET6) {
        rc = sys->setsockopt(sys->ctx, fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (rc == 0) {
        rc = sys->bind(sys->ctx, fd, a, alen);
    }
    if (rc == 0) {
        rc = sys->listen(sys->ctx, fd, o->backlog);
    }
    if (rc == 0) {
        rc = aiotp__fd_reserve(loop, fd);
    }
    if (rc != 0) {
        (void)sys->close(sys->ctx, fd);
        return rc;
    }
    return fd;
}

static aiotp_server *server_new(struct aiotp__req *r)
{
    aiotp_loop *loop = r->loop;
    aiotp_server *s = aiotp__alloc(loop, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->refs = 1;
    s->loop_ref = true;
    s->state = AIOTP__SRV_IDLE;
    s->factory = r->factory;
    s->factory_arg = r->factory_arg;
    s->backlog = r->sopts.backlog;
    if (r->tls != NULL) {
        s->tls = r->tls;
        s->lp = r->lp;
        AIOTP__LAYER_OPS(s->tls)->retain(s->tls);
    }
    aiotp__obj_link(loop, &s->obj, &server_obj_ops);
    return s;
}

static void listen_fail(struct aiotp__req *r, aiotp_server *s, int err)
{
    aiotp_server_cb cb = r->scb;
    void *arg = r->cb_arg;
    if (s != NULL) {
        server_free(s);
    }
    aiotp__req_free(r);
    cb(arg, err, NULL);
}

static bool same_addr(const struct addrinfo *a, const struct addrinfo *b)
{
    return a->ai_family == b->ai_family && a->ai_addrlen == b->ai_addrlen &&
           memcmp(a->ai_addr, b->ai_addr, a->ai_addrlen) == 0;
}

/* Bind and listen on what was resolved (or the socket or path given), then complete. */
static void listen_bind(struct aiotp__req *r)
{
    aiotp_loop *loop = r->loop;
    aiotp_server *s;
    aiotp_server_cb cb;
    void *cbarg;
    int rc = 0;
    size_t i;

    aiotp__req_settle(r); /* OP-2: no user code runs until the completion */
    s = server_new(r);
    if (s == NULL) {
        listen_fail(r, NULL, AIOTP_ENOMEM);
        return;
    }
    if (r->kind == AIOTP__REQ_LISTEN_UNIX) {
        int removed = loop->sys->unlink_socket(loop->sys->ctx, r->un.sun_path); /* SRV-8 */
        rc = removed < 0 ? removed : 0;
        if (rc == 0) {
            rc = open_listener(loop, AF_UNIX, 0, (const struct sockaddr *)&r->un, r->un_len,
                               &r->sopts);
        }
        if (rc >= 0) {
            int fd = rc;
            rc = add_fd(s, fd);
            if (rc != 0) {
                (void)loop->sys->close(loop->sys->ctx, fd);
            }
        }
    } else if (r->fd >= 0) {
        /* METH-1: once the method returned 0 the socket is the library's (the request
           held it); on failure it is closed like any other. SRV-10: listen() as CPython
           does, so a bound socket that is not listening yet works */
        int sock = r->fd;
        r->fd = -1;
        aiotp__fd_forget(loop, sock);
        rc = loop->sys->listen(loop->sys->ctx, sock, r->sopts.backlog);
        if (rc == 0) {
            rc = add_fd(s, sock);
        }
        if (rc != 0) {
            (void)loop->sys->close(loop->sys->ctx, sock);
        }
    } else {
        struct addrinfo *ai;
        for (ai = r->addrs.ai; rc == 0 && ai != NULL; ai = ai->ai_next) {
            struct addrinfo *prev;
            bool dup = false;
            int fd;
            for (prev = r->addrs.ai; prev != ai; prev = prev->ai_next) {
                if (same_addr(prev, ai)) {
                    dup = true; /* SRV-1: each address bound once */
                }
            }
            if (dup) {
                continue;
            }
            fd = open_listener(loop, ai->ai_family, ai->ai_protocol, ai->ai_addr, ai->ai_addrlen,
                               &r->sopts);
            if (fd < 0) {
                rc = fd;
                break;
            }
            rc = add_fd(s, fd);
            if (rc != 0) {
                (void)loop->sys->close(loop->sys->ctx, fd);
            }
        }
    }
    if (rc == 0) {
        for (i = 0; i < s->nfds; i++) {
            aiotp__fd_set_owner(loop, s->fds[i], s, server_fd_busy);
        }
        if (r->sopts.start_serving) {
            rc = start_serving(s);
        }
    }
    if (rc != 0) {
        listen_fail(r, s, rc);
        return;
    }
    cb = r->scb;
    cbarg = r->cb_arg;
    aiotp__req_free(r);
    cb(cbarg, 0, s);
}

/* RESOLVE-2: a worker's answer. */
static void listen_resolved(void *arg, int status, aiotp__addrs *res)
{
    struct aiotp__req *r = arg;
    r->query = NULL;
    if (status != 0) {
        listen_fail(r, NULL, status);
        return;
    }
    r->addrs = *res;
    listen_bind(r);
}

void aiotp__listen_step(aiotp_loop *loop, void *arg)
{
    struct aiotp__req *r = arg;
    r->step = 0;
    if (r->kind == AIOTP__REQ_LISTEN_TCP && r->fd < 0) {
        struct addrinfo hints;
        char port[16];
        int rc;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = r->family;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        snprintf(port, sizeof(port), "%d", r->port);
        /* SRV-1: no host or "" means every interface, as CPython's host='' */
        rc = aiotp__resolve(loop, r->host != NULL && r->host[0] != '\0' ? r->host : NULL,
                            port, &hints, &r->addrs, listen_resolved, r, &r->query);
        if (rc == 1) {
            r->state = AIOTP__REQ_RESOLVING; /* the loop runs on meanwhile */
            return;
        }
        if (rc != 0) {
            listen_fail(r, NULL, rc);
            return;
        }
    }
    listen_bind(r);
}

/* ---- public ---------------------------------------------------------------------------- */

void aiotp_server_options_init(aiotp_server_options *opts)
{
    if (opts != NULL) {
        memset(opts, 0, sizeof(*opts));
        opts->size = sizeof(*opts);
        opts->family = AF_UNSPEC;
        opts->backlog = 100;
        opts->reuse_address = true;
        opts->reuse_port = false;
        opts->start_serving = true;
        opts->sock = -1;
        opts->op = NULL;
    }
}

static int listen_common(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                         void *factory_arg, const aiotp_server_options *opts,
                         aiotp_server_cb cb, struct aiotp__req *tmpl)
{
    if (loop == NULL || factory == NULL || cb == NULL) {
        return AIOTP_EINVAL;
    }
    memset(tmpl, 0, sizeof(*tmpl));
    aiotp_server_options_init(&tmpl->sopts);
    if (opts != NULL) {
        /* SRV-OPTS-1: the first layout or this build's */
        if ((opts->size != sizeof(*opts) && opts->size != AIOTP_SERVER_OPTIONS_SIZE_V1) ||
            opts->backlog < 0 ||
            (opts->family != AF_UNSPEC && opts->family != AF_INET &&
             opts->family != AF_INET6)) {
            return AIOTP_EINVAL;
        }
        /* a first-layout struct is read up to its end; the rest keeps the defaults */
        memcpy(&tmpl->sopts, opts, opts->size);
        tmpl->sopts.size = sizeof(tmpl->sopts);
        if (tmpl->sopts.backlog == 0) {
            tmpl->sopts.backlog = 100;
        }
    }
    {
        int rc = aiotp__layer_params_init(&tmpl->lp, tmpl->sopts.tls, true, NULL,
                                          tmpl->sopts.tls_handshake_timeout,
                                          tmpl->sopts.tls_shutdown_timeout);
        if (rc != 0) {
            return rc;
        }
        tmpl->tls = tmpl->sopts.tls;
    }
    tmpl->factory = factory;
    tmpl->factory_arg = factory_arg;
    tmpl->scb = cb;
    tmpl->fd = -1;
    tmpl->family = tmpl->sopts.family;
    return 0;
}

/* SRV-7: an existing socket must be a listening-capable stream socket, not one this
   loop already uses (METH-8). */
static int check_listen_socket(aiotp_loop *loop, int sock)
{
    int type = 0;
    socklen_t len = sizeof(type);
    int rc = aiotp__req_claim_fd(loop, sock);
    if (rc < 0) {
        return rc;
    }
    rc = loop->sys->getsockopt(loop->sys->ctx, sock, SOL_SOCKET, SO_TYPE, &type, &len);
    if (rc < 0) {
        return rc;
    }
    if (type != SOCK_STREAM) {
        return AIOTP_EINVAL;
    }
    return loop->sys->set_nonblock(loop->sys->ctx, sock);
}

int aiotp_loop_create_server(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                             void *factory_arg, const char *host, int port,
                             const aiotp_server_options *opts, aiotp_server_cb cb,
                             void *cb_arg)
{
    struct aiotp__req tmpl;
    int rc = listen_common(loop, factory, factory_arg, opts, cb, &tmpl);
    if (rc != 0) {
        return rc;
    }
    tmpl.cb_arg = cb_arg;
    tmpl.kind = AIOTP__REQ_LISTEN_TCP;
    if (tmpl.sopts.sock >= 0) {
        if (host != NULL) {
            return AIOTP_EINVAL;
        }
        rc = check_listen_socket(loop, tmpl.sopts.sock);
        if (rc != 0) {
            return rc;
        }
        tmpl.fd = tmpl.sopts.sock;
    } else if (port < 0 || port > 65535) {
        return AIOTP_EINVAL;
    }
    tmpl.port = port;
    return aiotp__req_start(loop, &tmpl, host, aiotp__listen_step, tmpl.sopts.op, 0);
}

int aiotp_loop_create_unix_server(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                  void *factory_arg, const char *path,
                                  const aiotp_server_options *opts, aiotp_server_cb cb,
                                  void *cb_arg)
{
    struct aiotp__req tmpl;
    int rc = listen_common(loop, factory, factory_arg, opts, cb, &tmpl);
    if (rc != 0) {
        return rc;
    }
    tmpl.cb_arg = cb_arg;
    if (tmpl.sopts.sock >= 0) {
        if (path != NULL) {
            return AIOTP_EINVAL;
        }
        rc = check_listen_socket(loop, tmpl.sopts.sock);
        if (rc != 0) {
            return rc;
        }
        tmpl.fd = tmpl.sopts.sock;
        tmpl.kind = AIOTP__REQ_LISTEN_TCP; /* same path: adopt the socket */
    } else {
        rc = aiotp__unix_addr(path, &tmpl.un, &tmpl.un_len);
        if (rc != 0) {
            return rc;
        }
        tmpl.kind = AIOTP__REQ_LISTEN_UNIX;
    }
    return aiotp__req_start(loop, &tmpl, NULL, aiotp__listen_step, tmpl.sopts.op, 0);
}

int aiotp_server_close(aiotp_server *s)
{
    size_t i;
    if (s == NULL) {
        return AIOTP_EINVAL;
    }
    if (s->state == AIOTP__SRV_CLOSED) {
        return AIOTP_ECLOSED;
    }
    /* SRV-5: stop listening, close the sockets, leave connections alone */
    for (i = 0; i < s->nfds; i++) {
        aiotp__fd_forget(s->loop, s->fds[i]);
        (void)s->loop->sys->close(s->loop->sys->ctx, s->fds[i]);
        s->fds[i] = -1;
    }
    s->nfds = 0;
    s->state = AIOTP__SRV_CLOSED;
    if (s->stop_loop_on_close) {
        aiotp_loop_stop(s->loop);
    }
    maybe_notify(s); /* needs no memory (SRV-10) */
    return 0;
}

bool aiotp_server_is_serving(const aiotp_server *s)
{
    return s != NULL && s->state == AIOTP__SRV_SERVING;
}

int aiotp_server_start_serving(aiotp_server *s)
{
    if (s == NULL) {
        return AIOTP_EINVAL;
    }
    return start_serving(s);
}

int aiotp_server_wait_closed(aiotp_server *s, aiotp_server_cb cb, void *arg)
{
    int rc;
    if (s == NULL || cb == NULL) {
        return AIOTP_EINVAL;
    }
    if (s->loop->dead) {
        return AIOTP_ECLOSED; /* LIFE-1: no loop to complete it */
    }
    if (s->nwaiters == s->waiters_cap) {
        size_t ncap = s->waiters_cap ? s->waiters_cap * 2 : 4;
        void *p = aiotp__realloc(s->loop, s->waiters, ncap * sizeof(aiotp__waiter));
        if (p == NULL) {
            return AIOTP_ENOMEM;
        }
        s->waiters = p;
        s->waiters_cap = ncap;
    }
    /* SRV-10: the entry of this completion is reserved now, so nothing later (close(),
       the last connection going) can lose it for lack of memory */
    rc = aiotp__rq_reserve(s->loop, 1);
    if (rc != 0) {
        return rc;
    }
    s->reserved++;
    s->waiters[s->nwaiters].cb = cb;
    s->waiters[s->nwaiters].arg = arg;
    s->nwaiters++;
    maybe_notify(s);
    return 0;
}

int aiotp_server_serve_forever(aiotp_server *s)
{
    int rc;
    if (s == NULL) {
        return AIOTP_EINVAL;
    }
    if (s->loop->running || s->loop->in_methods > 0) {
        return AIOTP_ERUNNING; /* LOOP-7, LOOP-11 */
    }
    rc = start_serving(s);
    if (rc != 0) {
        return rc;
    }
    s->refs++;
    s->stop_loop_on_close = true;
    rc = aiotp_loop_run(s->loop);
    s->stop_loop_on_close = false;
    unref(s);
    return rc;
}

size_t aiotp_server_get_sockets(const aiotp_server *s, int *fds, size_t cap)
{
    size_t i;
    if (s == NULL) {
        return 0;
    }
    for (i = 0; fds != NULL && i < s->nfds && i < cap; i++) {
        fds[i] = s->fds[i];
    }
    return s->nfds;
}

int aiotp_server_get_sockname(const aiotp_server *s, size_t i, struct sockaddr *addr,
                              socklen_t *len)
{
    if (s == NULL || addr == NULL || len == NULL || i >= s->nfds) {
        return AIOTP_EINVAL;
    }
    return s->loop->sys->getsockname(s->loop->sys->ctx, s->fds[i], addr, len);
}

size_t aiotp_server_active_connections(const aiotp_server *s)
{
    return s == NULL ? 0 : s->active;
}

aiotp_loop *aiotp_server_get_loop(const aiotp_server *s)
{
    return s == NULL || s->loop->dead ? NULL : s->loop;
}

/* CLOSE-4: every transport this server accepted whose connection_lost has not run. */
static int each_client(aiotp_server *s, bool abort)
{
    aiotp__obj *o;
    int n = 0;
    if (s == NULL) {
        return AIOTP_EINVAL;
    }
    for (o = s->loop->objs; o != NULL; o = o->next) {
        aiotp_transport *t = aiotp__transport_of_obj(o);
        if (t != NULL && t->on_lost == connection_gone && t->on_lost_arg == s &&
            (abort ? aiotp_transport_abort(t) : aiotp_transport_close(t)) == 0) {
            n++; /* (one already closing answers ECLOSED: not counted) */
        }
    }
    return n;
}

int aiotp_server_close_clients(aiotp_server *s)
{
    return each_client(s, false);
}

int aiotp_server_abort_clients(aiotp_server *s)
{
    return each_client(s, true);
}
