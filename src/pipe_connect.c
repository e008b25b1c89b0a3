/*
 * src/pipe_connect.c - connect_read_pipe and connect_write_pipe (spec/rules.md "Pipe
 * transports", PIPE-CONN-*).
 *
 * Layer 4 (spec/architecture.md): loop methods that make pipe transports. The call checks
 * the fd (open, a pipe/FIFO, socket or character device, not the loop's own) and makes it
 * non-blocking; the protocol factory and the transport come in the next pass, from a
 * pending request that owns the fd until then (as create_connection(sock=) does).
 */

#include "pipe_int.h"
#include "req_int.h"

typedef struct pipe_req {
    aiotp__obj obj; /* the loop's object header: first */
    aiotp_loop *loop;
    aiotp__pp_dir dir;
    bool watch;
    int fd;         /* -1 once the transport owns it */
    aiotp_protocol_factory_fn factory;
    void *factory_arg;
    aiotp_connect_cb cb;
    void *cb_arg;
} pipe_req;

static void req_free(pipe_req *r)
{
    aiotp_loop *loop = r->loop;
    aiotp__obj_unlink(&r->obj);
    if (r->fd >= 0) {
        aiotp__fd_forget(loop, r->fd);
        (void)loop->sys->close(loop->sys->ctx, r->fd); /* the loop's since the call */
    }
    aiotp__free(loop, r);
}

static void req_teardown(aiotp__obj *o)
{
    req_free((pipe_req *)(void *)o); /* aiotp_loop_free: no callback */
}

static void req_deferred(aiotp__obj *o)
{
    (void)o; /* never deferred */
}

static const aiotp__obj_ops req_obj_ops = {
    .name = "pipe request",
    .teardown = req_teardown,
    .deferred = req_deferred,
};

/* The next pass: the protocol, then the transport (METH-3). */
static void req_step(aiotp_loop *loop, void *arg)
{
    pipe_req *r = arg;
    const aiotp_protocol *proto = NULL;
    void *pdata = NULL;
    const char *why = NULL;
    aiotp_connect_cb cb = r->cb;
    void *cb_arg = r->cb_arg;
    int rc;

    aiotp__fd_forget(loop, r->fd);
    rc = r->factory(r->factory_arg, &proto, &pdata);
    if (rc >= 0) {
        rc = aiotp__pipe_create(loop, r->fd, r->dir, r->watch, proto, pdata, cb, cb_arg, NULL,
                                &why);
        if (rc == AIOTP_EINVAL || rc == AIOTP_EPROTOKIND) {
            /* PROTO-KIND-1: named in the exception handler, status to the completion */
            aiotp__report_bad_table(loop, r->dir == AIOTP__PP_READ ? "connect_read_pipe"
                                                                   : "connect_write_pipe",
                                    rc, why, NULL);
        }
    }
    if (rc < 0) {
        req_free(r); /* closes the fd */
        cb(cb_arg, rc, NULL);
        return;
    }
    r->fd = -1; /* the transport's now */
    req_free(r);
}

static int connect_pipe(aiotp_loop *loop, aiotp__pp_dir dir, aiotp_protocol_factory_fn factory,
                        void *factory_arg, int fd, aiotp_connect_cb cb, void *cb_arg)
{
    const aiotp_syscalls *sys;
    pipe_req *r;
    aiotp_handle h = 0;
    int type;
    int rc;

    if (loop == NULL || factory == NULL || cb == NULL) {
        return AIOTP_EINVAL;
    }
    if (fd < 0) {
        return AIOTP_EBADF;
    }
    sys = loop->sys;
    type = sys->fd_type(sys->ctx, fd); /* PIPE-CONN-1: -EBADF for a closed fd */
    if (type < 0) {
        return type;
    }
    if (type != AIOTP_FD_FIFO && type != AIOTP_FD_SOCKET && type != AIOTP_FD_CHAR) {
        return AIOTP_ENOTPIPE;
    }
    rc = aiotp__req_claim_fd(loop, fd); /* PIPE-CONN-2 (METH-8) */
    if (rc != 0) {
        return rc;
    }
    r = aiotp__req_alloc_soon(loop, sizeof(*r), req_step, &h, &rc);
    if (r == NULL) {
        return rc;
    }
    /* the last step that can fail; nothing was changed before it */
    rc = sys->set_nonblock(sys->ctx, fd);
    if (rc != 0) {
        (void)aiotp_loop_cancel(loop, h);
        aiotp__free(loop, r);
        return rc;
    }
    r->loop = loop;
    r->dir = dir;
    r->watch = dir == AIOTP__PP_WRITE && type != AIOTP_FD_CHAR; /* PIPE-PEER-1 */
    r->fd = fd;
    r->factory = factory;
    r->factory_arg = factory_arg;
    r->cb = cb;
    r->cb_arg = cb_arg;
    aiotp__obj_link(loop, &r->obj, &req_obj_ops);
    aiotp__fd_set_owner(loop, fd, r, NULL); /* the request's until the transport takes it */
    return 0;
}

int aiotp_loop_connect_read_pipe(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                 void *factory_arg, int fd, aiotp_connect_cb cb, void *cb_arg)
{
    return connect_pipe(loop, AIOTP__PP_READ, factory, factory_arg, fd, cb, cb_arg);
}

int aiotp_loop_connect_write_pipe(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                  void *factory_arg, int fd, aiotp_connect_cb cb, void *cb_arg)
{
    return connect_pipe(loop, AIOTP__PP_WRITE, factory, factory_arg, fd, cb, cb_arg);
}
