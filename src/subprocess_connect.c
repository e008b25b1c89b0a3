/*
 * src/subprocess_connect.c - subprocess_exec and subprocess_shell (spec/rules.md
 * "Subprocess transports and protocols", SUBPROC-START-*; spec/subprocess-transport.md).
 *
 * Layer 4 (spec/architecture.md): loop methods that make subprocess transports. The call
 * checks its arguments, makes the pipes and starts the child through the syscall table's
 * pipe and spawn entries (the child is watched at once, so it is reaped whatever happens
 * next), and leaves a pending request that owns the child and the loop's ends of the pipes
 * until the next pass: there the failure of starting goes to the completion, or the
 * factory gives the protocol and the transport is made (as connect_read_pipe does).
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "req_int.h"
#include "subprocess_int.h"

#include "aiotp/subprocess.h"

typedef struct sp_req {
    aiotp__obj obj; /* the loop's object header: first */
    aiotp_loop *loop;
    const char *who; /* "subprocess_exec" / "subprocess_shell" */
    int err;         /* the child could not be started: the completion's status */
    pid_t pid;
    aiotp__child *child; /* the watch; NULL once reaped */
    int code;            /* its return code, once reaped */
    int pfd[3];          /* the loop's ends of the pipes; -1: none */
    aiotp_protocol_factory_fn factory;
    void *factory_arg;
    aiotp_connect_cb cb;
    void *cb_arg;
} sp_req;

void aiotp_subprocess_options_init(aiotp_subprocess_options *opts)
{
    if (opts != NULL) {
        memset(opts, 0, sizeof(*opts));
        opts->size = sizeof(*opts);
    }
}

static void close_fds(aiotp_loop *loop, int fds[3])
{
    int i;
    for (i = 0; i < 3; i++) {
        if (fds[i] >= 0) {
            (void)loop->sys->close(loop->sys->ctx, fds[i]);
            fds[i] = -1;
        }
    }
}

static void req_free(sp_req *r)
{
    aiotp_loop *loop = r->loop;
    aiotp__obj_unlink(&r->obj);
    close_fds(loop, r->pfd);
    aiotp__free(loop, r);
}

/* aiotp_loop_free: the fds are closed, no callback; the child watcher kills and reaps the
   child (CHILD-3), so the watch is not touched (it may be gone already). */
static void req_teardown(aiotp__obj *o)
{
    req_free((sp_req *)(void *)o);
}

static void req_deferred(aiotp__obj *o)
{
    (void)o; /* never deferred */
}

static const aiotp__obj_ops req_obj_ops = {
    .name = "subprocess request",
    .teardown = req_teardown,
    .deferred = req_deferred,
};

/* The child exited before its transport was made. */
static void req_exit(aiotp_loop *loop, void *arg, int code)
{
    sp_req *r = arg;
    (void)loop;
    r->child = NULL;
    r->code = code;
}

/* The child is not wanted (the factory refused it, no memory): killed if it still runs,
   reaped by its watch without a callback (CHILD-3). */
static void drop_child(sp_req *r)
{
    const aiotp_syscalls *sys = r->loop->sys;
    if (r->child != NULL) {
        (void)sys->kill(sys->ctx, r->pid, SIGKILL);
        aiotp__child_forget(r->child);
        r->child = NULL;
    }
}

/* The next pass: the failure, or the protocol and then the transport (METH-3). */
static void req_step(aiotp_loop *loop, void *arg)
{
    sp_req *r = arg;
    const aiotp_protocol *proto = NULL;
    void *pdata = NULL;
    const char *why = NULL;
    aiotp_connect_cb cb = r->cb;
    void *cb_arg = r->cb_arg;
    int rc = r->err;

    if (rc == 0) {
        rc = r->factory(r->factory_arg, &proto, &pdata);
        if (rc >= 0) {
            rc = aiotp__subproc_create(loop, r->pid, r->child, r->code, r->pfd, proto, pdata,
                                       cb, cb_arg, &why);
            if (rc == AIOTP_EINVAL || rc == AIOTP_EPROTOKIND) {
                /* PROTO-KIND-1: named in the exception handler, status to the completion */
                aiotp__report_bad_table(loop, r->who, rc, why, NULL);
            }
        }
        if (rc < 0) {
            drop_child(r);
        }
    }
    if (rc < 0) {
        req_free(r); /* closes the fds */
        cb(cb_arg, rc, NULL);
        return;
    }
    r->pfd[0] = r->pfd[1] = r->pfd[2] = -1; /* the transport's now */
    req_free(r);
}

/* SUBPROC-START-1: the arguments; nothing is changed when they are refused. */
static int check_options(aiotp_loop *loop, const aiotp_subprocess_options *o)
{
    int i;
    if (o == NULL) {
        return 0;
    }
    if (o->size != sizeof(*o)) {
        return AIOTP_EINVAL;
    }
    for (i = 0; i < 3; i++) {
        switch (o->stdio[i].kind) {
        case AIOTP_STDIO_PIPE:
        case AIOTP_STDIO_DEVNULL:
        case AIOTP_STDIO_INHERIT:
            break;
        case AIOTP_STDIO_FD:
            if (o->stdio[i].fd < 0) {
                return AIOTP_EBADF;
            }
            if (loop->sys->fd_type(loop->sys->ctx, o->stdio[i].fd) < 0) {
                return AIOTP_EBADF; /* a closed fd */
            }
            break;
        case AIOTP_STDIO_STDOUT:
            if (i != 2) {
                return AIOTP_EINVAL;
            }
            break;
        default:
            return AIOTP_EINVAL;
        }
    }
    return 0;
}

/* Make the pipes and start the child: 0, or the error (nothing left: no fd, no child). */
static int start_child(sp_req *r, const char *const *argv, const aiotp_subprocess_options *o)
{
    aiotp_loop *loop = r->loop;
    const aiotp_syscalls *sys = loop->sys;
    aiotp_spawn_attr a;
    int cfd[3] = {-1, -1, -1}; /* the child's ends */
    int i;
    int rc = 0;
    pid_t pid;

    memset(&a, 0, sizeof(a));
    a.file = argv[0];
    a.argv = (char *const *)(uintptr_t)argv;
    a.envp = o != NULL ? o->env : NULL;
    a.cwd = o != NULL ? o->cwd : NULL;
    for (i = 0; i < 3; i++) {
        aiotp_stdio_kind k = o != NULL ? o->stdio[i].kind : AIOTP_STDIO_PIPE;
        if (k == AIOTP_STDIO_PIPE) {
            int p[2];
            rc = sys->pipe(sys->ctx, p); /* close-on-exec (spawn's dup2 clears it) */
            if (rc != 0) {
                break;
            }
            r->pfd[i] = i == 0 ? p[1] : p[0];
            cfd[i] = i == 0 ? p[0] : p[1];
            a.fd[i] = cfd[i];
        } else if (k == AIOTP_STDIO_DEVNULL) {
            a.fd[i] = AIOTP_SPAWN_DEVNULL;
        } else if (k == AIOTP_STDIO_INHERIT) {
            a.fd[i] = AIOTP_SPAWN_INHERIT;
        } else if (k == AIOTP_STDIO_FD) {
            a.fd[i] = o->stdio[i].fd;
        } else {
            a.fd[i] = AIOTP_SPAWN_STDOUT;
        }
    }
    pid = rc == 0 ? sys->spawn(sys->ctx, &a) : rc;
    close_fds(loop, cfd);
    if (pid < 0) {
        close_fds(loop, r->pfd);
        return (int)pid; /* SUBPROC-START-2: a failed exec is its errno */
    }
    r->pid = pid;
    rc = aiotp__child_watch(loop, pid, req_exit, r, &r->child);
    if (rc != 0) {
        int code;
        (void)sys->kill(sys->ctx, pid, SIGKILL); /* not watched: reaped here */
        (void)sys->waitpid(sys->ctx, pid, &code, 0);
        close_fds(loop, r->pfd);
        return rc;
    }
    for (i = 0; i < 3; i++) {
        if (r->pfd[i] >= 0 && rc == 0) {
            rc = sys->set_nonblock(sys->ctx, r->pfd[i]);
        }
    }
    if (rc != 0) {
        drop_child(r);
        close_fds(loop, r->pfd);
    }
    return rc;
}

static int subprocess_start(aiotp_loop *loop, const char *who, aiotp_protocol_factory_fn factory,
                            void *factory_arg, const char *const *argv,
                            const aiotp_subprocess_options *opts, aiotp_connect_cb cb,
                            void *cb_arg)
{
    sp_req *r;
    aiotp_handle h = 0;
    int rc;

    if (loop == NULL || factory == NULL || cb == NULL || argv == NULL || argv[0] == NULL) {
        return AIOTP_EINVAL;
    }
    rc = check_options(loop, opts);
    if (rc != 0) {
        return rc;
    }
    r = aiotp__req_alloc_soon(loop, sizeof(*r), req_step, &h, &rc);
    if (r == NULL) {
        return rc;
    }
    r->loop = loop;
    r->who = who;
    r->pfd[0] = r->pfd[1] = r->pfd[2] = -1;
    r->factory = factory;
    r->factory_arg = factory_arg;
    r->cb = cb;
    r->cb_arg = cb_arg;
    aiotp__obj_link(loop, &r->obj, &req_obj_ops);
    r->err = start_child(r, argv, opts); /* SUBPROC-START-2: its failure to the completion */
    return 0;
}

int aiotp_loop_subprocess_exec(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                               void *factory_arg, const char *const *argv,
                               const aiotp_subprocess_options *opts, aiotp_connect_cb cb,
                               void *cb_arg)
{
    return subprocess_start(loop, "subprocess_exec", factory, factory_arg, argv, opts, cb,
                            cb_arg);
}

int aiotp_loop_subprocess_shell(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                void *factory_arg, const char *cmd,
                                const aiotp_subprocess_options *opts, aiotp_connect_cb cb,
                                void *cb_arg)
{
    const char *argv[4];
    if (cmd == NULL) {
        return AIOTP_EINVAL;
    }
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = cmd;
    argv[3] = NULL;
    return subprocess_start(loop, "subprocess_shell", factory, factory_arg, argv, opts, cb,
                            cb_arg);
}
