/*
 * src/signal.c - signal handlers on the loop and the child watcher (signal_int.h).
 * Clause IDs refer to spec/rules.md ("Signals", "Child processes").
 *
 * The hub is a loop-owned object made on first use. It has no pipe of its own: the process
 * handler (the syscall table's sigwatch entry) writes signal numbers to the loop's wake-up
 * pipe (src/wakeup_int.h), the loop's one self-pipe, and the wake-up hands every byte that
 * is not a post's to the hub: a signal number, or 0: "check the children watched through
 * SIGCHLD". User handlers run from there, as ordinary callbacks of the loop (SIG-1).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "signal_int.h"
#include "wakeup_int.h"

#define SIG_MAX 64           /* highest signal number a handler may be set for */
#define CHECK_CHILDREN 0     /* a self-pipe byte that is no signal */

typedef struct sig_handler {
    int signum;
    aiotp_signal_fn fn;
    void *arg;
} sig_handler;

typedef struct aiotp__sighub {
    aiotp__obj obj;          /* the loop's object header: first */
    aiotp_loop *loop;
    int wfd;                 /* the wake-up pipe's write end (the process handler writes here) */
    sig_handler *h;          /* the user's handlers */
    size_t nh;
    size_t caph;
    bool chld_watched;       /* sigwatch(SIGCHLD) for the children without a pidfd */
    aiotp__child *children;  /* watched children */
} aiotp__sighub;

struct aiotp__child {
    aiotp__child *next;
    aiotp__child *prev;
    aiotp__sighub *hub;
    pid_t pid;
    int pidfd;               /* -1: watched through SIGCHLD */
    aiotp__child_fn fn;      /* NULL: forgotten (reaped silently) */
    void *arg;
};

static const aiotp__obj_ops hub_obj_ops;

/* ---- the hub ---------------------------------------------------------------------------- */

static void child_unlink(aiotp__sighub *hub, aiotp__child *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        hub->children = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->next = NULL;
    c->prev = NULL;
}

static void close_fd(aiotp_loop *loop, int fd)
{
    aiotp__fd_forget(loop, fd);
    (void)loop->sys->close(loop->sys->ctx, fd);
}

/* The child was reaped (or someone else did): drop the watch, then tell its owner. */
static void child_done(aiotp__sighub *hub, aiotp__child *c, int code, bool elsewhere)
{
    aiotp_loop *loop = hub->loop;
    aiotp__child_fn fn = c->fn;
    void *arg = c->arg;
    pid_t pid = c->pid;

    if (c->pidfd >= 0) {
        aiotp__clear_reader(loop, c->pidfd);
        close_fd(loop, c->pidfd);
        c->pidfd = -1;
    }
    child_unlink(hub, c);
    aiotp__free(loop, c);
    if (elsewhere) {
        /* CHILD-4: the status is lost; 255, as CPython's watchers say */
        char msg[96];
        aiotp_exception_context ctx;
        snprintf(msg, sizeof(msg), "child process %ld was reaped by someone else: its "
                 "exit status is unknown (255)", (long)pid);
        memset(&ctx, 0, sizeof(ctx));
        ctx.message = msg;
        ctx.status = -ECHILD;
        aiotp_loop_call_exception_handler(loop, &ctx);
    }
    if (fn != NULL) {
        fn(loop, arg, code);
    }
}

/* waitpid(WNOHANG) on one child: true if it is gone (and was handled). */
static bool child_poll(aiotp__sighub *hub, aiotp__child *c)
{
    const aiotp_syscalls *sys = hub->loop->sys;
    int code = 255;
    pid_t r = sys->waitpid(sys->ctx, c->pid, &code, 1);
    if (r == 0) {
        return false; /* still running */
    }
    child_done(hub, c, r > 0 ? code : 255, r < 0);
    return true;
}

/* CHILD-2: SIGCHLD (or the first check): waitpid on each of our own pids, never on any
   other. A callback may start or end watches: the walk starts over after each. */
static void check_children(aiotp__sighub *hub)
{
    aiotp__child *c;
again:
    for (c = hub->children; c != NULL; c = c->next) {
        if (c->pidfd < 0 && child_poll(hub, c)) {
            goto again;
        }
    }
}

static sig_handler *find_handler(aiotp__sighub *hub, int signum)
{
    size_t i;
    for (i = 0; i < hub->nh; i++) {
        if (hub->h[i].signum == signum) {
            return &hub->h[i];
        }
    }
    return NULL;
}

/* SIG-1: a byte of the self-pipe, read by the wake-up: one arrival. */
static void hub_byte(aiotp_loop *loop, void *arg, unsigned char s)
{
    aiotp__sighub *hub = arg;
    sig_handler *h;
    if (s == CHECK_CHILDREN || (s == SIGCHLD && hub->chld_watched)) {
        check_children(hub);
    }
    h = s != CHECK_CHILDREN ? find_handler(hub, s) : NULL;
    if (h != NULL) {
        h->fn(loop, s, h->arg); /* may add or remove handlers: h is dead after */
    }
}

static int hub_get(aiotp_loop *loop, aiotp__sighub **out)
{
    aiotp__sighub *hub = loop->sighub;

    if (hub != NULL) {
        *out = hub;
        return 0;
    }
    hub = aiotp__alloc(loop, sizeof(*hub));
    if (hub == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(hub, 0, sizeof(*hub));
    hub->loop = loop;
    hub->wfd = aiotp__wakeup_wfd(loop);
    aiotp__wakeup_set_sink(loop, hub_byte, hub);
    aiotp__obj_link(loop, &hub->obj, &hub_obj_ops);
    loop->sighub = hub;
    *out = hub;
    return 0;
}

/* aiotp_loop_free: the dispositions come back, every child still watched is killed and
   reaped (CHILD-3: no zombie is left behind), the fds are closed. No callback. */
static void hub_teardown(aiotp__obj *o)
{
    aiotp__sighub *hub = (aiotp__sighub *)(void *)o;
    aiotp_loop *loop = hub->loop;
    const aiotp_syscalls *sys = loop->sys;
    size_t i;

    while (hub->children != NULL) {
        aiotp__child *c = hub->children;
        int code;
        if (sys->waitpid(sys->ctx, c->pid, &code, 1) == 0) {
            (void)sys->kill(sys->ctx, c->pid, SIGKILL);
            (void)sys->waitpid(sys->ctx, c->pid, &code, 0);
        }
        if (c->pidfd >= 0) {
            close_fd(loop, c->pidfd);
        }
        child_unlink(hub, c);
        aiotp__free(loop, c);
    }
    for (i = 0; i < hub->nh; i++) {
        (void)sys->sigwatch(sys->ctx, hub->h[i].signum, hub->wfd, 0);
    }
    if (hub->chld_watched) {
        (void)sys->sigwatch(sys->ctx, SIGCHLD, hub->wfd, 0);
    }
    /* (the wake-up, made before the hub, is torn down after it: its pipe is still open) */
    aiotp__wakeup_set_sink(loop, NULL, NULL);
    aiotp__free(loop, hub->h);
    loop->sighub = NULL;
    aiotp__free(loop, hub);
}

static void hub_deferred(aiotp__obj *o)
{
    (void)o; /* never deferred */
}

static const aiotp__obj_ops hub_obj_ops = {
    .name = "signals",
    .teardown = hub_teardown,
    .deferred = hub_deferred,
};

/* ---- signal handlers ---------------------------------------------------------------------- */

int aiotp_loop_add_signal_handler(aiotp_loop *loop, int signum, aiotp_signal_fn fn, void *arg)
{
    aiotp__sighub *hub;
    sig_handler *h;
    int rc;

    if (loop == NULL || fn == NULL || signum <= 0 || signum > SIG_MAX || signum == SIGKILL ||
        signum == SIGSTOP) {
        return AIOTP_EINVAL; /* SIG-3 */
    }
    rc = hub_get(loop, &hub);
    if (rc != 0) {
        return rc;
    }
    h = find_handler(hub, signum);
    if (h != NULL) {
        h->fn = fn; /* SIG-2: replaces */
        h->arg = arg;
        return 0;
    }
    if (hub->nh == hub->caph) {
        size_t ncap = hub->caph ? hub->caph * 2 : 4;
        sig_handler *n = aiotp__realloc(loop, hub->h, ncap * sizeof(*n));
        if (n == NULL) {
            return AIOTP_ENOMEM;
        }
        hub->h = n;
        hub->caph = ncap;
    }
    rc = loop->sys->sigwatch(loop->sys->ctx, signum, hub->wfd, 1);
    if (rc != 0) {
        return rc;
    }
    h = &hub->h[hub->nh++];
    h->signum = signum;
    h->fn = fn;
    h->arg = arg;
    return 0;
}

int aiotp_loop_remove_signal_handler(aiotp_loop *loop, int signum)
{
    aiotp__sighub *hub;
    sig_handler *h;
    if (loop == NULL || signum <= 0 || signum > SIG_MAX) {
        return AIOTP_EINVAL;
    }
    hub = loop->sighub;
    h = hub != NULL ? find_handler(hub, signum) : NULL;
    if (h == NULL) {
        return 0;
    }
    *h = hub->h[--hub->nh];
    if (!(signum == SIGCHLD && hub->chld_watched)) {
        (void)loop->sys->sigwatch(loop->sys->ctx, signum, hub->wfd, 0); /* SIG-4 */
    }
    return 1;
}

/* ---- the child watcher ---------------------------------------------------------------------- */

static void pidfd_ready(aiotp_loop *loop, int fd, void *arg)
{
    aiotp__child *c = arg;
    (void)loop;
    (void)fd;
    (void)child_poll(c->hub, c); /* readable: it has exited (0 would be spurious: wait on) */
}

int aiotp__child_watch(aiotp_loop *loop, pid_t pid, aiotp__child_fn fn, void *arg,
                       aiotp__child **out)
{
    const aiotp_syscalls *sys = loop->sys;
    aiotp__sighub *hub;
    aiotp__child *c;
    int rc = hub_get(loop, &hub);
    int pfd;

    if (rc != 0) {
        return rc;
    }
    c = aiotp__alloc(loop, sizeof(*c));
    if (c == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(c, 0, sizeof(*c));
    c->hub = hub;
    c->pid = pid;
    c->fn = fn;
    c->arg = arg;
    c->pidfd = -1;
    /* CHILD-1: a pidfd where the kernel has them */
    pfd = sys->pidfd_open(sys->ctx, pid);
    if (pfd >= 0) {
        rc = aiotp__fd_reserve(loop, pfd);
        if (rc == 0) {
            rc = aiotp__set_reader(loop, pfd, pidfd_ready, c);
        }
        if (rc != 0) {
            close_fd(loop, pfd);
            aiotp__free(loop, c);
            return rc;
        }
        aiotp__fd_set_owner(loop, pfd, hub, NULL);
        c->pidfd = pfd;
    } else {
        /* CHILD-2: SIGCHLD and waitpid on this pid; a first check next pass (it may have
           exited before the watch began) */
        unsigned char b = CHECK_CHILDREN;
        if (!hub->chld_watched) {
            rc = sys->sigwatch(sys->ctx, SIGCHLD, hub->wfd, 1);
            if (rc != 0) {
                aiotp__free(loop, c);
                return rc;
            }
            hub->chld_watched = true;
        }
        (void)sys->write(sys->ctx, hub->wfd, &b, 1); /* full: a check is pending anyway */
    }
    c->next = hub->children;
    if (c->next != NULL) {
        c->next->prev = c;
    }
    hub->children = c;
    if (out != NULL) {
        *out = c;
    }
    return 0;
}

void aiotp__child_forget(aiotp__child *c)
{
    c->fn = NULL;
    c->arg = NULL;
}

void aiotp__child_rebind(aiotp__child *c, aiotp__child_fn fn, void *arg)
{
    c->fn = fn;
    c->arg = arg;
}

bool aiotp__child_uses_pidfd(const aiotp__child *c)
{
    return c->pidfd >= 0;
}
