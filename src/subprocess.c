/*
 * src/subprocess.c - the subprocess transport (SubprocessTransport): the I/O shell around
 * core/proc_sm.c. Its pipes are pipe transports (src/pipe.c) whose internal protocols pass
 * their events on, inside their own callbacks (DEV-63): pipe_data_received inside the
 * pipe's data_received, pipe_connection_lost inside its connection_lost. The exit comes
 * from the loop's child watcher (src/signal.c). connection_lost is scheduled when the step
 * function says so (SUBPROC-LOST-1) and runs in the next pass (SUBPROC-LOST-2).
 *
 * Every state change goes through aiotp__proc_step(); this file performs the actions it
 * returns. Rules: SUBPROC-* in spec/rules.md; spec/subprocess-transport.md.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "checksum.h"
#include "subprocess_int.h"

static const aiotp__transport_ops subproc_ops;
static const aiotp__obj_ops subproc_obj_ops;

/* The highest signal number send_signal takes (as add_signal_handler). */
#define SUBPROC_SIG_MAX 64

static aiotp__subproc *as_sp(aiotp_transport *t)
{
    return (aiotp__subproc *)(void *)t;
}

static const aiotp__subproc *as_csp(const aiotp_transport *t)
{
    return (const aiotp__subproc *)(const void *)t;
}

static unsigned step(aiotp__subproc *t, aiotp__proc_event ev, int fd)
{
    return aiotp__proc_step(&t->st, ev, fd);
}

/* ---- tracing ------------------------------------------------------------------------------ */

static unsigned tid(const aiotp__subproc *t)
{
    return (unsigned)t->base.id;
}

static bool tracing(const aiotp__subproc *t)
{
    return aiotp__tracing(t->base.loop);
}

static void tr_cbret(aiotp__subproc *t, const char *what, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s", tid(t), what, aiotp__status_name(rc));
}

/* A protocol callback's failure: reported; the transport carries on (PROTO-BASE-5). */
static void after_cb(aiotp__subproc *t, const char *name, int rc, const char *failure)
{
    if (tracing(t)) {
        tr_cbret(t, name, rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        aiotp__transport_report(&t->base, failure, rc);
    }
}

/* ---- connection_lost -------------------------------------------------------------------- */

static void lost_cb(aiotp_loop *loop, void *arg)
{
    aiotp__subproc *t = arg;
    int rc = 0;
    (void)loop;
    t->promised--;
    if (step(t, AIOTP__PREV_LOST, 0) != AIOTP__PRA_CALL_LOST) {
        return; /* GCOVR_EXCL_LINE: scheduled only in LOST_PENDING (PROOF-PROC-3) */
    }
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u cb connection_lost status=0", tid(t));
    }
    if (t->base.proto->connection_lost != NULL) {
        rc = t->base.proto->connection_lost(&t->base, t->base.pdata, 0);
    }
    after_cb(t, "connection_lost", rc, "Exception in callback protocol.connection_lost()");
    t->base.proto = NULL;
    t->base.pdata = NULL;
    aiotp__transport_notify_lost(&t->base);
    aiotp__transport_release_later(&t->base);
}

static void schedule_lost(aiotp__subproc *t, unsigned act)
{
    if (act & AIOTP__PRA_SCHEDULE_LOST) {
        aiotp__push_promised(t->base.loop, lost_cb, t); /* SUBPROC-LOST-2: next pass */
    }
}

/* ---- the exit ------------------------------------------------------------------------------ */

static void tell_exited(aiotp__subproc *t)
{
    int rc = 0;
    t->rc_known = true; /* SUBPROC-EXIT-1: get_returncode knows it from here on */
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u cb process_exited returncode=%d", tid(t), t->code);
    }
    if (t->base.proto->process_exited != NULL) {
        rc = t->base.proto->process_exited(&t->base, t->base.pdata);
    }
    after_cb(t, "process_exited", rc, "Exception in callback protocol.process_exited()");
}

/* The child watcher reaped the child. */
static void on_exit(aiotp_loop *loop, void *arg, int code)
{
    aiotp__subproc *t = arg;
    unsigned act;
    (void)loop;
    t->child = NULL;
    t->code = code;
    act = step(t, AIOTP__PREV_EXITED, 0);
    if (act & AIOTP__PRA_CALL_EXITED) {
        tell_exited(t);
    }
    schedule_lost(t, act);
}

/* ---- the pipes' protocols ------------------------------------------------------------------- */

static int pipe_data(aiotp_transport *pt, void *data, const void *buf, size_t len)
{
    aiotp__subproc_link *l = data;
    aiotp__subproc *t = l->sp;
    int fd = l->fd;
    int rc = 0;
    (void)pt;
    if (step(t, AIOTP__PREV_PIPE_DATA, fd) != AIOTP__PRA_CALL_DATA) {
        return 0; /* GCOVR_EXCL_LINE: a read pipe reads only after connection_made */
    }
    if (tracing(t)) {
        t->rx_total[fd] += len;
        t->rx_sum[fd] = aiotp__crc32(t->rx_sum[fd], buf, len);
        aiotp__tracef(t->base.loop, "t%u cb pipe_data_received fd=%d n=%zu total=%llu sum=%08x",
                      tid(t), fd, len, (unsigned long long)t->rx_total[fd],
                      (unsigned)t->rx_sum[fd]);
    }
    if (t->base.proto->pipe_data_received != NULL) {
        rc = t->base.proto->pipe_data_received(&t->base, t->base.pdata, fd, buf, len);
    }
    after_cb(t, "pipe_data_received", rc,
             "Exception in callback protocol.pipe_data_received()");
    return 0;
}

static int pipe_eof(aiotp_transport *pt, void *data)
{
    (void)pt;
    (void)data;
    return 0; /* ignored, as for every read pipe (CPython §6.2) */
}

static int pipe_lost(aiotp_transport *pt, void *data, int status)
{
    aiotp__subproc_link *l = data;
    aiotp__subproc *t = l->sp;
    int fd = l->fd;
    unsigned act;
    int rc = 0;
    (void)pt;
    t->pipes[fd] = NULL; /* get_pipe_transport: NULL from now on */
    act = step(t, AIOTP__PREV_PIPE_LOST, fd);
    if (act & AIOTP__PRA_CALL_PIPE_LOST) {
        if (tracing(t)) {
            aiotp__tracef(t->base.loop, "t%u cb pipe_connection_lost fd=%d status=%s", tid(t),
                          fd, aiotp__status_name(status));
        }
        if (t->base.proto->pipe_connection_lost != NULL) {
            rc = t->base.proto->pipe_connection_lost(&t->base, t->base.pdata, fd, status);
        }
        after_cb(t, "pipe_connection_lost", rc,
                 "Exception in callback protocol.pipe_connection_lost()");
    }
    schedule_lost(t, act);
    return 0;
}

/* stdin's flow control is the subprocess protocol's (CPython §6.2); not traced on the
   subprocess: the pipe's own pause_writing / resume_writing lines show it. */
static int pipe_pause(aiotp_transport *pt, void *data)
{
    aiotp__subproc_link *l = data;
    aiotp__subproc *t = l->sp;
    (void)pt;
    if (t->st.ph == AIOTP__PR_PH_CONNECTED && t->base.proto->pause_writing != NULL) {
        return t->base.proto->pause_writing(&t->base, t->base.pdata);
    }
    return 0;
}

static int pipe_resume(aiotp_transport *pt, void *data)
{
    aiotp__subproc_link *l = data;
    aiotp__subproc *t = l->sp;
    (void)pt;
    if (t->st.ph == AIOTP__PR_PH_CONNECTED && t->base.proto->resume_writing != NULL) {
        return t->base.proto->resume_writing(&t->base, t->base.pdata);
    }
    return 0;
}

static const aiotp_protocol read_pipe_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_lost = pipe_lost,
    .data_received = pipe_data,
    .eof_received = pipe_eof,
};

static const aiotp_protocol write_pipe_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_lost = pipe_lost,
    .pause_writing = pipe_pause,
    .resume_writing = pipe_resume,
};

/* ---- connection_made ------------------------------------------------------------------------ */

static void done_cb_run(aiotp_loop *loop, void *arg)
{
    aiotp__subproc *t = arg;
    aiotp_connect_cb cb = t->done_cb;
    (void)loop;
    t->done_cb = NULL;
    t->promised--;
    cb(t->done_arg, 0, &t->base); /* after connection_made, same pass */
}

static void made_cb(aiotp_loop *loop, void *arg)
{
    aiotp__subproc *t = arg;
    unsigned act;
    (void)loop;
    t->promised--;
    act = step(t, AIOTP__PREV_MADE, 0);
    if (act & AIOTP__PRA_CALL_MADE) { /* always: MADE is the first event it can take */
        int rc = 0;
        if (tracing(t)) {
            aiotp__tracef(t->base.loop, "t%u cb connection_made", tid(t));
        }
        if (t->base.proto->connection_made != NULL) {
            rc = t->base.proto->connection_made(&t->base, t->base.pdata);
        }
        after_cb(t, "connection_made", rc, "Exception in callback protocol.connection_made()");
    }
    if (act & AIOTP__PRA_CALL_EXITED) {
        tell_exited(t); /* an exit seen before connection_made: right after it (§6.2) */
    }
    schedule_lost(t, act);
}

/* ---- creation ------------------------------------------------------------------------------ */

int aiotp__subproc_create(aiotp_loop *loop, pid_t pid, aiotp__child *child, int code,
                          const int pfd[3], const aiotp_protocol *proto, void *pdata,
                          aiotp_connect_cb done_cb, void *done_arg, const char **why)
{
    aiotp__subproc *t;
    aiotp__pipe *p[3] = {NULL, NULL, NULL};
    unsigned mask = 0;
    int rc;
    int fd;

    rc = aiotp__transport_check_protocol(&subproc_ops, proto, why);
    for (fd = 0; rc == 0 && fd < 3; fd++) {
        if (pfd[fd] >= 0) {
            rc = aiotp__fd_reserve(loop, pfd[fd]);
            if (rc == 0) {
                rc = aiotp__pipe_alloc(loop, false, &p[fd]);
            }
            mask |= 1u << fd;
        }
    }
    t = NULL;
    if (rc == 0) {
        t = aiotp__alloc(loop, sizeof(*t));
        rc = t == NULL ? AIOTP_ENOMEM : 0;
    }
    if (rc == 0) {
        memset(t, 0, sizeof(*t));
        rc = aiotp__rq_reserve(loop, 3); /* made, done, lost */
        if (rc != 0) {
            aiotp__free(loop, t);
        }
    }
    if (rc != 0) {
        for (fd = 0; fd < 3; fd++) {
            if (p[fd] != NULL) {
                aiotp__pipe_discard(p[fd]);
            }
        }
        return rc;
    }
    /* nothing fails from here on */
    t->promised = 3;
    t->pid = pid;
    t->code = code;
    t->child = child;
    t->done_cb = done_cb;
    t->done_arg = done_arg;
    t->x_pid.kind = AIOTP_EXTRA_PID;
    t->x_pid.u.pid = pid;
    aiotp__proc_init(&t->st, mask);
    aiotp__transport_init(&t->base, loop, &subproc_ops, &subproc_obj_ops, proto, pdata);
    if (tracing(t)) {
        aiotp__tracef(loop, "t%u open subprocess", tid(t));
    }
    for (fd = 0; fd < 3; fd++) {
        if (p[fd] != NULL) {
            t->link[fd].sp = t;
            t->link[fd].fd = fd;
            t->pipes[fd] = p[fd];
            /* stdin's reader going away is watched (a pipe: PIPE-PEER-1) */
            aiotp__pipe_start(p[fd], pfd[fd], fd == 0 ? AIOTP__PP_WRITE : AIOTP__PP_READ,
                              fd == 0, fd == 0 ? &write_pipe_proto : &read_pipe_proto,
                              &t->link[fd], NULL, NULL);
            if (tracing(t)) {
                aiotp__tracef(loop, "t%u pipe fd=%d t%u", tid(t), fd, (unsigned)p[fd]->base.id);
            }
        }
    }
    if (child != NULL) {
        aiotp__child_rebind(child, on_exit, t);
    } else {
        (void)step(t, AIOTP__PREV_EXITED, 0); /* reaped before: told after connection_made */
    }
    /* SUBPROC-MADE-1: the pipes' connection_made, then the subprocess's, next pass */
    aiotp__push_promised(loop, made_cb, t);
    aiotp__push_promised(loop, done_cb_run, t);
    return 0;
}

/* ---- freeing ------------------------------------------------------------------------------- */

static void release_memory(aiotp__subproc *t)
{
    if (t->promised > 0) {
        aiotp__rq_unreserve(t->base.loop, t->promised);
        t->promised = 0;
    }
}

static void subproc_free(aiotp_transport *bt)
{
    aiotp__subproc *t = as_sp(bt);
    aiotp__obj_unlink(&t->base.obj);
    release_memory(t);
    aiotp__free(t->base.loop, t);
}

/* aiotp_loop_free: no callback, touch no other object (the pipes tear themselves down;
   the child watcher kills and reaps the child: CHILD-3). A transport the user retained
   survives as a dead one (LIFE-1). */
static void subproc_teardown(aiotp__obj *o)
{
    aiotp__subproc *t = (aiotp__subproc *)(void *)o;
    int fd;
    release_memory(t);
    for (fd = 0; fd < 3; fd++) {
        t->pipes[fd] = NULL;
    }
    t->child = NULL;
    t->done_cb = NULL;
    t->dead = true;
    if (!aiotp__transport_survive(&t->base)) {
        aiotp__free(t->base.loop, t);
    }
}

static const aiotp__obj_ops subproc_obj_ops = {
    .name = "subprocess",
    .teardown = subproc_teardown,
    .deferred = aiotp__transport_deferred,
    .shut = aiotp__transport_obj_shut,
    .owes = aiotp__transport_obj_owes,
};

/* ---- methods ------------------------------------------------------------------------------- */

static void tr_call(aiotp__subproc *t, const char *name)
{
    aiotp__tracef(t->base.loop, "t%u call %s", tid(t), name);
}

static void tr_ret(aiotp__subproc *t, const char *name, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s size=0", tid(t), name, aiotp__status_name(rc));
}

/* SUBPROC-CLOSE-1: the pipes are closed, a child still running is killed (SIGKILL);
   connection_lost follows once the exit is known and every pipe is gone. */
static int subproc_close(aiotp_transport *bt)
{
    aiotp__subproc *t = as_sp(bt);
    const aiotp_syscalls *sys = t->base.loop->sys;
    unsigned act;
    int rc = 0;
    int fd;
    if (tracing(t)) {
        tr_call(t, "close");
    }
    act = t->dead ? AIOTP__PRA_REFUSED : step(t, AIOTP__PREV_CLOSE, 0);
    if (act == AIOTP__PRA_REFUSED) {
        rc = AIOTP_ECLOSED;
    } else {
        if (act & AIOTP__PRA_CLOSE_PIPES) {
            for (fd = 0; fd < 3; fd++) {
                /* the state, not the public (traced) query */
                if (t->pipes[fd] != NULL && !aiotp__pipe_is_closing(&t->pipes[fd]->st)) {
                    (void)aiotp_transport_close(&t->pipes[fd]->base);
                }
            }
        }
        if (act & AIOTP__PRA_KILL) {
            (void)sys->kill(sys->ctx, t->pid, SIGKILL); /* ESRCH ignored, as CPython */
        }
    }
    if (tracing(t)) {
        tr_ret(t, "close", rc);
    }
    return rc;
}

static bool subproc_is_closing(const aiotp_transport *bt)
{
    const aiotp__subproc *t = as_csp(bt);
    return t->dead || aiotp__proc_is_closing(&t->st);
}

/* SUBPROC-SIGNAL-1 */
static int subproc_send_signal(aiotp_transport *bt, int sig, const char *name)
{
    aiotp__subproc *t = as_sp(bt);
    const aiotp_syscalls *sys = t->base.loop->sys;
    unsigned act;
    int rc = 0;
    if (tracing(t)) {
        if (strcmp(name, "send_signal") == 0) {
            aiotp__tracef(t->base.loop, "t%u call send_signal sig=%d", tid(t), sig < 0 ? 0 : sig);
        } else {
            tr_call(t, name);
        }
    }
    if (sig < 0 || sig > SUBPROC_SIG_MAX) {
        rc = AIOTP_EINVAL;
    } else {
        act = t->dead ? AIOTP__PRA_REFUSED : step(t, AIOTP__PREV_SIGNAL, 0);
        if (act == AIOTP__PRA_REFUSED) {
            rc = -ESRCH; /* after connection_lost: ProcessLookupError */
        } else if (act & AIOTP__PRA_SEND_SIGNAL) {
            rc = sys->kill(sys->ctx, t->pid, sig);
        } /* else exited: nothing (the pid may be reused) */
    }
    if (tracing(t)) {
        tr_ret(t, name, rc);
    }
    return rc;
}

static pid_t subproc_get_pid(const aiotp_transport *bt)
{
    return as_csp(bt)->pid;
}

static aiotp_transport *subproc_get_pipe_transport(const aiotp_transport *bt, int fd)
{
    const aiotp__subproc *t = as_csp(bt);
    if (fd < 0 || fd > 2 || t->pipes[fd] == NULL) {
        return NULL;
    }
    return &t->pipes[fd]->base;
}

static int subproc_get_returncode(const aiotp_transport *bt, int *returncode)
{
    const aiotp__subproc *t = as_csp(bt);
    if (!t->rc_known) {
        return 0; /* asyncio's None */
    }
    *returncode = t->code;
    return 1;
}

static int subproc_set_protocol(aiotp_transport *bt, const aiotp_protocol *proto, void *data)
{
    aiotp__subproc *t = as_sp(bt);
    int rc = aiotp__transport_check_new_protocol(&t->base, proto);
    if (rc == 0 && (t->dead || t->st.ph == AIOTP__PR_PH_LOST)) {
        rc = AIOTP_ECLOSED;
    }
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u call set_protocol kind=subprocess", tid(t));
    }
    if (rc == 0) {
        aiotp__transport_adopt(&t->base, proto, data);
    }
    if (tracing(t)) {
        tr_ret(t, "set_protocol", rc);
    }
    return rc;
}

static const aiotp_extra *subproc_get_extra_info(const aiotp_transport *bt, const char *name,
                                                 const aiotp_extra *dflt)
{
    if (strcmp(name, "subprocess") == 0) {
        return &as_csp(bt)->x_pid;
    }
    return dflt;
}

static const aiotp__transport_ops subproc_ops = {
    .kind = AIOTP_TRANSPORT_SUBPROCESS,
    .name = "subprocess",
    .protocol_kinds = 1u << AIOTP_PROTOCOL_SUBPROCESS,
    .close = subproc_close,
    .is_closing = subproc_is_closing,
    .set_protocol = subproc_set_protocol,
    .get_extra_info = subproc_get_extra_info,
    .get_pid = subproc_get_pid,
    .get_pipe_transport = subproc_get_pipe_transport,
    .get_returncode = subproc_get_returncode,
    .send_signal = subproc_send_signal,
    .free = subproc_free,
};
