/*
 * src/connect.c - create_connection, create_unix_connection, connect_accepted_socket
 * (spec/rules.md, "Loop methods and servers", METH-*).
 *
 * Names are resolved without blocking the loop (src/resolve.c: a numeric host at once, a
 * name in a worker thread). Connecting is non-blocking: each resolved address is tried
 * in turn until one connects. The operation can be cancelled (aiotp_loop_cancel_op, a
 * timeout) until the socket is handed to its transport (aiotp__req_settle).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "req_int.h"
#include "stream_int.h"

/* ---- completing -------------------------------------------------------------------- */

static void finish_error(struct aiotp__req *r, int err)
{
    aiotp_connect_cb cb = r->ccb;
    void *arg = r->cb_arg;
    aiotp__req_free(r);
    cb(arg, err, NULL);
}

/* The socket is connected: make the protocol and the transport. The transport calls
   the completion after connection_made. */
static void connected(struct aiotp__req *r)
{
    const aiotp_protocol *proto = NULL;
    void *pdata = NULL;
    const char *why = NULL;
    int fd = r->fd;
    int rc;

    /* OP-2: from here on the completion is due with the result; a TLS connection's
       operation goes on in its handshake (the layer registers its number again) */
    r->lp.op = r->tls != NULL ? r->op.id : 0;
    aiotp__req_settle(r);
    aiotp__fd_forget(r->loop, fd);
    rc = r->factory(r->factory_arg, &proto, &pdata); /* METH-3: once per connection */
    if (rc >= 0) {
        if (r->tls != NULL) {
            /* TLS-MAKE-1: the layer makes the stream transport below and the TLS transport;
               the completion follows the handshake */
            rc = AIOTP__LAYER_OPS(r->tls)->wrap(r->tls, &aiotp__layer_svc, r->loop, fd, proto,
                                                pdata, NULL, 0, &r->lp, r->ccb, r->cb_arg,
                                                NULL, &why);
        } else {
            rc = aiotp__stream_create(r->loop, fd, proto, pdata, NULL, 0, r->ccb, r->cb_arg,
                                      NULL, &why);
        }
        if (rc == AIOTP_EINVAL || rc == AIOTP_EPROTOKIND) {
            /* PROTO-KIND-1: named in the exception handler, status to the completion */
            aiotp__report_bad_table(r->loop, "create_connection", rc, why, NULL);
        }
    }
    if (rc < 0) {
        finish_error(r, rc); /* closes fd */
        return;
    }
    r->fd = -1; /* the transport owns it now */
    aiotp__req_free(r);
}

static void record_error(struct aiotp__req *r, int err)
{
    if (r->first_err == 0) {
        r->first_err = err;
    } else if (err != r->first_err) {
        r->all_same = false;
    }
    r->last_err = err;
}

static void close_attempt(struct aiotp__req *r)
{
    if (r->fd >= 0) {
        aiotp__fd_forget(r->loop, r->fd);
        (void)r->loop->sys->close(r->loop->sys->ctx, r->fd);
        r->fd = -1;
    }
}

static void try_next(struct aiotp__req *r);

static void connect_ready(aiotp_loop *loop, int fd, void *arg)
{
    struct aiotp__req *r = arg;
    int err = 0;
    socklen_t len = sizeof(err);
    int rc;

    aiotp__clear_writer(loop, fd);
    rc = loop->sys->getsockopt(loop->sys->ctx, fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (rc < 0) {
        err = -rc;
    }
    if (err != 0) {
        record_error(r, -err);
        close_attempt(r);
        try_next(r);
        return;
    }
    connected(r);
}

/* Start a non-blocking connect on fd to addr: 0 connected, 1 in progress, < 0 error. */
static int start_connect(struct aiotp__req *r, const struct sockaddr *addr, socklen_t len)
{
    const aiotp_syscalls *sys = r->loop->sys;
    int rc = sys->set_nonblock(sys->ctx, r->fd);
    if (rc < 0) {
        return rc;
    }
    rc = aiotp__fd_reserve(r->loop, r->fd);
    if (rc < 0) {
        return rc;
    }
    rc = sys->connect(sys->ctx, r->fd, addr, len);
    if (rc == 0) {
        return 0;
    }
    /* METH-7: only EINPROGRESS (and EINTR: POSIX goes on connecting) mean "in progress";
       EAGAIN (a Unix listener's backlog is full, no ephemeral port) started nothing and
       fails this attempt */
    if (rc == -EINPROGRESS || rc == -EINTR) {
        rc = aiotp__set_writer(r->loop, r->fd, connect_ready, r);
        if (rc < 0) {
            return rc;
        }
        r->state = AIOTP__REQ_CONNECTING;
        return 1;
    }
    return rc;
}

static void try_next(struct aiotp__req *r)
{
    const aiotp_syscalls *sys = r->loop->sys;
    while (r->cur != NULL) {
        struct addrinfo *ai = r->cur;
        int rc;
        r->cur = ai->ai_next;
        rc = sys->socket(sys->ctx, ai->ai_family, SOCK_STREAM, ai->ai_protocol);
        if (rc < 0) {
            record_error(r, rc);
            continue;
        }
        r->fd = rc;
        rc = start_connect(r, ai->ai_addr, ai->ai_addrlen);
        if (rc == 0) {
            connected(r);
            return;
        }
        if (rc == 1) {
            return; /* connect_ready continues */
        }
        record_error(r, rc);
        close_attempt(r);
    }
    /* METH-5: every address failed: their error when they agree, else AIOTP_EMULTIPLE
       (CPython: OSError('Multiple exceptions: ...')); no address at all: ENONAME */
    if (r->first_err == 0) {
        finish_error(r, AIOTP_ENONAME);
    } else {
        finish_error(r, r->all_same ? r->first_err : AIOTP_EMULTIPLE);
    }
}

/* RESOLVE-2: a worker's answer. */
static void tcp_resolved(void *arg, int status, aiotp__addrs *res)
{
    struct aiotp__req *r = arg;
    r->query = NULL;
    if (status != 0) {
        finish_error(r, status);
        return;
    }
    r->addrs = *res;
    r->cur = r->addrs.ai;
    try_next(r); /* (no user code runs before it connects or settles: no cancel) */
}

static void tcp_step(aiotp_loop *loop, void *arg)
{
    struct aiotp__req *r = arg;
    struct addrinfo hints;
    char port[16];
    int rc;

    r->step = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = r->family;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", r->port);
    rc = aiotp__resolve(loop, r->host, port, &hints, &r->addrs, tcp_resolved, r, &r->query);
    if (rc == 1) {
        r->state = AIOTP__REQ_RESOLVING; /* the loop runs on meanwhile */
        return;
    }
    if (rc != 0) {
        finish_error(r, rc);
        return;
    }
    r->cur = r->addrs.ai;
    try_next(r);
}

static void unix_step(aiotp_loop *loop, void *arg)
{
    struct aiotp__req *r = arg;
    int rc;
    r->step = 0;
    rc = loop->sys->socket(loop->sys->ctx, AF_UNIX, SOCK_STREAM, 0);
    if (rc < 0) {
        finish_error(r, rc);
        return;
    }
    r->fd = rc;
    rc = start_connect(r, (const struct sockaddr *)&r->un, r->un_len);
    if (rc == 0) {
        connected(r);
    } else if (rc < 0) {
        finish_error(r, rc);
    }
}

static void wrap_step(aiotp_loop *loop, void *arg)
{
    struct aiotp__req *r = arg;
    (void)loop;
    r->step = 0;
    connected(r);
}

/* ---- public ---------------------------------------------------------------------------- */

void aiotp_connect_options_init(aiotp_connect_options *opts)
{
    if (opts != NULL) {
        memset(opts, 0, sizeof(*opts));
        opts->size = sizeof(*opts);
        opts->family = AF_UNSPEC;
        opts->sock = -1;
        opts->timeout = 0;
        opts->op = NULL;
    }
}

/* METH-6: an existing socket must be a stream socket; made non-blocking. (sock >= 0:
   aiotp__req_claim_fd checked it.) */
static int check_stream_socket(aiotp_loop *loop, int sock)
{
    int type = 0;
    socklen_t len = sizeof(type);
    int rc = loop->sys->getsockopt(loop->sys->ctx, sock, SOL_SOCKET, SO_TYPE, &type, &len);
    if (rc < 0) {
        return rc;
    }
    if (type != SOCK_STREAM) {
        return AIOTP_EINVAL;
    }
    return loop->sys->set_nonblock(loop->sys->ctx, sock);
}

/* The options as this build lays them out: the defaults, then the caller's fields (a
   first-layout struct ends before the TLS fields, which keep their defaults). */
static int read_opts(const aiotp_connect_options *opts, aiotp_connect_options *o)
{
    aiotp_connect_options_init(o);
    if (opts != NULL) {
        if (opts->size != sizeof(*opts) && opts->size != AIOTP_CONNECT_OPTIONS_SIZE_V1) {
            return AIOTP_EINVAL; /* CONN-OPTS-1 */
        }
        memcpy(o, opts, opts->size);
        o->size = sizeof(*o);
    }
    return o->timeout < 0 ? AIOTP_EINVAL : 0; /* OP-3 */
}

/* The TLS parameters of a client connection: the name to check is server_hostname, else
   the host; a socket or a Unix path has no host, so TLS needs server_hostname there
   (CPython: "you have to pass server_hostname when using ssl"). */
static int client_tls(struct aiotp__req *tmpl, const aiotp_connect_options *o,
                      const char *host)
{
    const char *name = o->server_hostname;
    if (o->tls != NULL && name == NULL) {
        if (host == NULL) {
            return AIOTP_EINVAL; /* TLS-MAKE-2 */
        }
        name = host;
    }
    tmpl->tls = o->tls;
    return aiotp__layer_params_init(&tmpl->lp, o->tls, false, o->tls != NULL ? name
                                                                           : o->server_hostname,
                                    o->tls_handshake_timeout, o->tls_shutdown_timeout);
}

static int start_wrap(aiotp_loop *loop, aiotp_protocol_factory_fn factory, void *factory_arg,
                      int sock, const struct aiotp__req *tls, aiotp_connect_cb cb,
                      void *cb_arg, const aiotp_connect_options *o)
{
    struct aiotp__req tmpl;
    int rc = aiotp__req_claim_fd(loop, sock);
    if (rc == 0) {
        rc = check_stream_socket(loop, sock);
    }
    if (rc < 0) {
        return rc;
    }
    memset(&tmpl, 0, sizeof(tmpl));
    tmpl.kind = AIOTP__REQ_WRAP;
    tmpl.factory = factory;
    tmpl.factory_arg = factory_arg;
    tmpl.ccb = cb;
    tmpl.cb_arg = cb_arg;
    tmpl.fd = sock;
    tmpl.tls = tls->tls;
    tmpl.lp = tls->lp;
    return aiotp__req_start(loop, &tmpl, NULL, wrap_step, o->op, o->timeout);
}

int aiotp_loop_create_connection(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                 void *factory_arg, const char *host, int port,
                                 const aiotp_connect_options *opts, aiotp_connect_cb cb,
                                 void *cb_arg)
{
    struct aiotp__req tmpl;
    aiotp_connect_options o;
    int rc;

    if (loop == NULL || factory == NULL || cb == NULL) {
        return AIOTP_EINVAL;
    }
    rc = read_opts(opts, &o);
    if (rc != 0) {
        return rc;
    }
    if (o.family != AF_UNSPEC && o.family != AF_INET && o.family != AF_INET6) {
        return AIOTP_EINVAL;
    }
    memset(&tmpl, 0, sizeof(tmpl));
    if (o.sock >= 0) {
        if (host != NULL) {
            return AIOTP_EINVAL; /* host/port and sock are exclusive */
        }
        rc = client_tls(&tmpl, &o, NULL);
        if (rc != 0) {
            return rc;
        }
        return start_wrap(loop, factory, factory_arg, o.sock, &tmpl, cb, cb_arg, &o);
    }
    if (host == NULL || host[0] == '\0' || port < 0 || port > 65535) {
        return AIOTP_EINVAL;
    }
    rc = client_tls(&tmpl, &o, host);
    if (rc != 0) {
        return rc;
    }
    tmpl.kind = AIOTP__REQ_CONNECT_TCP;
    tmpl.factory = factory;
    tmpl.factory_arg = factory_arg;
    tmpl.ccb = cb;
    tmpl.cb_arg = cb_arg;
    tmpl.port = port;
    tmpl.family = o.family;
    tmpl.fd = -1;
    return aiotp__req_start(loop, &tmpl, host, tcp_step, o.op, o.timeout);
}

int aiotp_loop_create_unix_connection(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                      void *factory_arg, const char *path,
                                      const aiotp_connect_options *opts,
                                      aiotp_connect_cb cb, void *cb_arg)
{
    struct aiotp__req tmpl;
    aiotp_connect_options o;
    int rc;

    if (loop == NULL || factory == NULL || cb == NULL) {
        return AIOTP_EINVAL;
    }
    rc = read_opts(opts, &o);
    if (rc != 0) {
        return rc;
    }
    memset(&tmpl, 0, sizeof(tmpl));
    rc = client_tls(&tmpl, &o, NULL);
    if (rc != 0) {
        return rc;
    }
    if (o.sock >= 0) {
        if (path != NULL) {
            return AIOTP_EINVAL;
        }
        return start_wrap(loop, factory, factory_arg, o.sock, &tmpl, cb, cb_arg, &o);
    }
    rc = aiotp__unix_addr(path, &tmpl.un, &tmpl.un_len);
    if (rc != 0) {
        return rc;
    }
    tmpl.kind = AIOTP__REQ_CONNECT_UNIX;
    tmpl.factory = factory;
    tmpl.factory_arg = factory_arg;
    tmpl.ccb = cb;
    tmpl.cb_arg = cb_arg;
    tmpl.fd = -1;
    return aiotp__req_start(loop, &tmpl, NULL, unix_step, o.op, o.timeout);
}

int aiotp_loop_connect_accepted_socket(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                       void *factory_arg, int sock, aiotp_connect_cb cb,
                                       void *cb_arg)
{
    return aiotp_loop_connect_accepted_socket_opts(loop, factory, factory_arg, sock, NULL, cb,
                                                   cb_arg);
}

int aiotp_loop_connect_accepted_socket_opts(aiotp_loop *loop,
                                            aiotp_protocol_factory_fn factory,
                                            void *factory_arg, int sock,
                                            const aiotp_connect_options *opts,
                                            aiotp_connect_cb cb, void *cb_arg)
{
    struct aiotp__req tmpl;
    aiotp_connect_options o;
    int rc;

    if (loop == NULL || factory == NULL || cb == NULL) {
        return AIOTP_EINVAL;
    }
    rc = read_opts(opts, &o);
    if (rc != 0) {
        return rc;
    }
    if (o.family != AF_UNSPEC || o.sock != -1 || o.server_hostname != NULL) {
        return AIOTP_EINVAL; /* the accepted side has no address family, socket or name */
    }
    memset(&tmpl, 0, sizeof(tmpl));
    tmpl.tls = o.tls;
    rc = aiotp__layer_params_init(&tmpl.lp, o.tls, true, NULL, o.tls_handshake_timeout,
                                  o.tls_shutdown_timeout);
    if (rc != 0) {
        return rc;
    }
    return start_wrap(loop, factory, factory_arg, sock, &tmpl, cb, cb_arg, &o);
}
