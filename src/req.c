/*
 * src/req.c - pending asynchronous loop operations (src/req_int.h): their life on the
 * loop's object list, the argument helpers the loop methods share, and the report of an
 * unusable protocol table.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "req_int.h"

/* ---- requests ---------------------------------------------------------------------- */

static struct aiotp__req *of_op(aiotp__op *op)
{
    return (struct aiotp__req *)(void *)((char *)op - offsetof(struct aiotp__req, op));
}

/* The cancelled completion (OP-1): its status, no result, from the loop. */
static void req_cancelled(aiotp_loop *loop, void *arg)
{
    struct aiotp__req *r = arg;
    aiotp_connect_cb ccb = r->ccb;
    aiotp_server_cb scb = r->scb;
    void *cb_arg = r->cb_arg;
    int status = r->cancel_status;
    (void)loop;
    aiotp__req_free(r);
    if (ccb != NULL) {
        ccb(cb_arg, status, NULL);
    } else {
        scb(cb_arg, status, NULL);
    }
}

/* OP-1: undo what the current stage started (no user code runs), then queue the
   completion with the entry reserved at the start, so it cannot fail. */
static void req_cancel(aiotp__op *op, int status)
{
    struct aiotp__req *r = of_op(op);
    aiotp_loop *loop = r->loop;
    /* queued or resolving (a wrapped socket stays, to be closed with the request) */
    aiotp__cancel_stage(loop, &r->step, &r->query);
    if (r->state == AIOTP__REQ_CONNECTING) {
        /* the socket (maybe just connected) is closed now */
        aiotp__fd_forget(loop, r->fd);
        (void)loop->sys->close(loop->sys->ctx, r->fd);
        r->fd = -1;
    }
    if (r->timer != 0) {
        (void)aiotp_loop_cancel(loop, r->timer);
        r->timer = 0;
    }
    r->state = AIOTP__REQ_CANCELLED;
    r->cancel_status = status;
    r->reserved = false; /* used now */
    aiotp__push_promised(loop, req_cancelled, r);
}

/* OP-3: the timeout ran out before the operation could complete. */
static void req_timeout(aiotp_loop *loop, void *arg)
{
    struct aiotp__req *r = arg;
    r->timer = 0;
    aiotp__op_cancel(loop, &r->op, -ETIMEDOUT);
}

void aiotp__req_settle(struct aiotp__req *r)
{
    aiotp__op_done(r->loop, &r->op);
    if (r->timer != 0) {
        (void)aiotp_loop_cancel(r->loop, r->timer);
        r->timer = 0;
    }
}

/* aiotp_loop_free: close and free, no callback. */
static void req_teardown(aiotp__obj *o)
{
    aiotp__req_free((struct aiotp__req *)(void *)o);
}

/* aiotp_loop_close_all: cancel (CLOSE-1). */
static void req_shut(aiotp__obj *o, bool abort)
{
    struct aiotp__req *r = (struct aiotp__req *)(void *)o;
    (void)abort;
    aiotp__op_cancel(r->loop, &r->op, AIOTP_ECANCELED);
}

static bool req_owes(const aiotp__obj *o)
{
    (void)o;
    return true; /* its completion: the request is freed just before it runs */
}

static const aiotp__obj_ops req_obj_ops = {
    .name = "request",
    .teardown = req_teardown,
    .deferred = NULL, /* a request never asks (aiotp__obj_defer) */
    .shut = req_shut,
    .owes = req_owes,
};

int aiotp__req_start(aiotp_loop *loop, struct aiotp__req *tmpl, const char *host,
                     aiotp_callback_fn step, aiotp_op *op, aiotp_time timeout)
{
    struct aiotp__req *r = aiotp__alloc(loop, sizeof(*r));
    int rc;

    if (r == NULL) {
        return AIOTP_ENOMEM;
    }
    *r = *tmpl;
    r->loop = loop;
    r->host = NULL;
    r->addrs.ai = NULL;
    r->cur = NULL;
    r->query = NULL;
    r->timer = 0;
    r->reserved = false;
    r->state = AIOTP__REQ_QUEUED;
    r->all_same = true;
    r->op.cancel = req_cancel;
    r->lp.server_hostname = NULL;
    if (host != NULL) {
        size_t n = strlen(host) + 1;
        r->host = aiotp__alloc(loop, n);
        if (r->host == NULL) {
            aiotp__free(loop, r);
            return AIOTP_ENOMEM;
        }
        memcpy(r->host, host, n);
    }
    if (tmpl->lp.server_hostname != NULL) {
        size_t n = strlen(tmpl->lp.server_hostname) + 1;
        char *copy = aiotp__alloc(loop, n);
        if (copy == NULL) {
            aiotp__free(loop, r->host);
            aiotp__free(loop, r);
            return AIOTP_ENOMEM;
        }
        memcpy(copy, tmpl->lp.server_hostname, n);
        r->lp.server_hostname = copy;
    }
    /* OP-1: the cancelled completion's entry, so that cancelling never needs memory */
    rc = aiotp__rq_reserve(loop, 1);
    if (rc == 0) {
        r->reserved = true;
        if (timeout > 0) {
            rc = aiotp_loop_call_later(loop, timeout, req_timeout, r, &r->timer);
        }
    }
    if (rc == 0) {
        rc = aiotp_loop_call_soon(loop, step, r, &r->step);
    }
    if (rc != 0) {
        if (r->timer != 0) {
            (void)aiotp_loop_cancel(loop, r->timer);
        }
        if (r->reserved) {
            aiotp__rq_unreserve(loop, 1);
        }
        aiotp__free(loop, (void *)(uintptr_t)r->lp.server_hostname);
        aiotp__free(loop, r->host);
        aiotp__free(loop, r);
        return rc;
    }
    if (r->tls != NULL) {
        AIOTP__LAYER_OPS(r->tls)->retain(r->tls);
    }
    aiotp__obj_link(loop, &r->obj, &req_obj_ops);
    aiotp__op_register(loop, &r->op, op);
    if (r->fd >= 0) {
        /* a user socket being wrapped is the request's until the transport (or server)
           takes it: wrapping it again is refused (METH-8); the slot was reserved by
           aiotp__req_claim_fd */
        aiotp__fd_set_owner(loop, r->fd, r, NULL);
    }
    return 0;
}

void *aiotp__req_alloc_soon(aiotp_loop *loop, size_t size, aiotp_callback_fn step,
                            aiotp_handle *h, int *rc)
{
    void *r = aiotp__alloc(loop, size);
    if (r == NULL) {
        *rc = AIOTP_ENOMEM;
        return NULL;
    }
    memset(r, 0, size);
    *rc = aiotp_loop_call_soon(loop, step, r, h);
    if (*rc != 0) {
        aiotp__free(loop, r);
        return NULL;
    }
    return r;
}

int aiotp__req_claim_fd(aiotp_loop *loop, int sock)
{
    if (sock < 0) {
        return AIOTP_EBADF;
    }
    if (aiotp__fd_owned(loop, sock)) {
        return AIOTP_EBUSY;
    }
    return aiotp__fd_reserve(loop, sock);
}

void aiotp__req_free(struct aiotp__req *r)
{
    aiotp_loop *loop = r->loop;
    aiotp__obj_unlink(&r->obj);
    aiotp__req_settle(r);
    aiotp__cancel_stage(loop, &r->step, &r->query); /* aiotp_loop_free while pending */
    if (r->reserved) {
        aiotp__rq_unreserve(loop, 1);
    }
    if (r->fd >= 0) {
        aiotp__fd_forget(loop, r->fd);
        (void)loop->sys->close(loop->sys->ctx, r->fd);
        r->fd = -1;
    }
    aiotp__addrs_free(&r->addrs);
    if (r->tls != NULL) {
        AIOTP__LAYER_OPS(r->tls)->release(r->tls);
    }
    aiotp__free(loop, (void *)(uintptr_t)r->lp.server_hostname);
    aiotp__free(loop, r->host);
    aiotp__free(loop, r);
}

int aiotp__layer_params_init(aiotp__layer_params *p, const aiotp_tls_context *tls,
                             bool server_side, const char *server_hostname,
                             aiotp_time handshake_timeout, aiotp_time shutdown_timeout)
{
    memset(p, 0, sizeof(*p));
    if (tls == NULL) {
        /* CPython: "server_hostname is only meaningful with ssl", "ssl_handshake_timeout
           is only meaningful with ssl" (ValueError) */
        return server_hostname != NULL || handshake_timeout != 0 || shutdown_timeout != 0
                   ? AIOTP_EINVAL
                   : 0;
    }
    if (handshake_timeout < 0 || shutdown_timeout < 0) {
        return AIOTP_EINVAL; /* CPython: "... should be a positive number" */
    }
    p->server_side = server_side;
    p->server_hostname = server_hostname;
    p->handshake_timeout = handshake_timeout != 0 ? handshake_timeout
                                                  : AIOTP__TLS_HANDSHAKE_TIMEOUT;
    p->shutdown_timeout = shutdown_timeout != 0 ? shutdown_timeout
                                                : AIOTP__TLS_SHUTDOWN_TIMEOUT;
    return AIOTP__LAYER_OPS(tls)->check(tls, p);
}


int aiotp__unix_addr(const char *path, struct sockaddr_un *un, socklen_t *len)
{
    size_t n;
    if (path == NULL) {
        return AIOTP_EINVAL;
    }
    n = strlen(path);
    if (n == 0 || n >= sizeof(un->sun_path)) {
        return AIOTP_EINVAL;
    }
    memset(un, 0, sizeof(*un));
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

void aiotp__report_bad_table(aiotp_loop *loop, const char *who, int status, const char *why,
                             aiotp_server *server)
{
    char msg[256];
    aiotp_exception_context ctx;
    snprintf(msg, sizeof(msg), "%s: the protocol factory returned an unusable table: %s", who,
             why != NULL ? why : aiotp_strerror(status));
    memset(&ctx, 0, sizeof(ctx));
    ctx.message = msg;
    ctx.status = status;
    ctx.server = server;
    aiotp_loop_call_exception_handler(loop, &ctx);
}
