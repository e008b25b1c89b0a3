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

/* aiotp_loop_free: close and free, no callback. */
static void req_teardown(aiotp__obj *o)
{
    aiotp__req_free((struct aiotp__req *)(void *)o);
}

static const aiotp__obj_ops req_obj_ops = {
    .name = "request",
    .teardown = req_teardown,
    .deferred = NULL, /* a request never asks (aiotp__obj_defer) */
};

int aiotp__req_start(aiotp_loop *loop, struct aiotp__req *tmpl, const char *host,
                     aiotp_callback_fn step)
{
    struct aiotp__req *r = aiotp__alloc(loop, sizeof(*r));
    int rc;

    if (r == NULL) {
        return AIOTP_ENOMEM;
    }
    *r = *tmpl;
    r->loop = loop;
    r->host = NULL;
    r->ai = NULL;
    r->cur = NULL;
    r->state = AIOTP__REQ_QUEUED;
    r->all_same = true;
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
    rc = aiotp_loop_call_soon(loop, step, r, NULL);
    if (rc != 0) {
        aiotp__free(loop, (void *)(uintptr_t)r->lp.server_hostname);
        aiotp__free(loop, r->host);
        aiotp__free(loop, r);
        return rc;
    }
    if (r->tls != NULL) {
        AIOTP__LAYER_OPS(r->tls)->retain(r->tls);
    }
    aiotp__obj_link(loop, &r->obj, &req_obj_ops);
    if (r->fd >= 0) {
        /* a user socket being wrapped is the request's until the transport (or server)
           takes it: wrapping it again is refused (METH-8); the slot was reserved by
           aiotp__req_claim_fd */
        aiotp__fd_set_owner(loop, r->fd, r, NULL);
    }
    return 0;
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
    if (r->fd >= 0) {
        aiotp__fd_forget(loop, r->fd);
        (void)loop->sys->close(loop->sys->ctx, r->fd);
        r->fd = -1;
    }
    if (r->ai != NULL) {
        loop->sys->freeaddrinfo(loop->sys->ctx, r->ai);
    }
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


int aiotp__gai_error(int rc)
{
    /* rc is getaddrinfo's own code (glibc's EAI_* values are negative) */
    switch (rc) {
    case 0:
        return 0;
    case EAI_BADFLAGS:
    case EAI_SOCKTYPE:
    case EAI_SERVICE:
        return AIOTP_EINVAL;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
        return AIOTP_ENONAME;
    case EAI_AGAIN:
        return AIOTP_EAI_AGAIN;
    case EAI_FAIL:
        return AIOTP_EAI_FAIL;
    case EAI_FAMILY:
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return AIOTP_EAI_FAMILY;
    case EAI_MEMORY:
        return AIOTP_ENOMEM;
    default:
        return AIOTP_EAI_FAIL; /* EAI_SYSTEM and anything unknown */
    }
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
