/*
 * src/sim/proc.c - virtual child processes and the process's signals in the simulated
 * kernel (see aiotp/sim.h, "pipes, files, child processes and signals").
 *
 * A child holds the pipe ends it was given as its fds 0..2 and does nothing by itself:
 * the test (aiotp_sim_child_*) or its program (the spawn hook) acts for it. Ending it
 * closes its fds (unless kept), makes it a zombie, makes its pidfds readable and raises
 * SIGCHLD in the process; waitpid reaps it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "aiotp/error.h"
#include "sim_int.h"

#define SIM_SIG_MAX 64

sim_child *aiotp__sim_child(const aiotp_sim *sim, pid_t pid)
{
    size_t i;
    if (sim == NULL) {
        return NULL;
    }
    for (i = 0; i < sim->nchildren; i++) {
        if (sim->children[i].state != CH_FREE && sim->children[i].pid == pid) {
            return &sim->children[i];
        }
    }
    return NULL;
}

/* ---- signals of the process ------------------------------------------------------------ */

int aiotp__sim_sigwatch(void *ctx, int signum, int wfd, int on)
{
    aiotp_sim *sim = ctx;
    int i;
    int slot = -1;
    if (signum <= 0 || signum > SIM_SIG_MAX || signum == SIGKILL || signum == SIGSTOP ||
        wfd < 0) {
        return -EINVAL;
    }
    for (i = 0; i < SIM_WATCH_MAX; i++) {
        if (sim->watch_sig[i] == signum && sim->watch_fd[i] == wfd) {
            slot = i;
        }
    }
    if (!on) {
        if (slot >= 0) {
            sim->watch_sig[slot] = 0;
        }
        return 0;
    }
    if (slot >= 0) {
        return 0;
    }
    for (i = 0; i < SIM_WATCH_MAX; i++) {
        if (sim->watch_sig[i] == 0) {
            sim->watch_sig[i] = signum;
            sim->watch_fd[i] = wfd;
            return 0;
        }
    }
    return -ENOSPC;
}

int aiotp_sim_raise(aiotp_sim *sim, int signum)
{
    int i;
    int n = 0;
    unsigned char b = (unsigned char)signum;
    if (sim == NULL || signum <= 0 || signum > SIM_SIG_MAX) {
        return AIOTP_EINVAL;
    }
    for (i = 0; i < SIM_WATCH_MAX; i++) {
        if (sim->watch_sig[i] == signum) {
            sim_ep *e = aiotp__sim_ep_open(sim, sim->watch_fd[i]);
            if (e != NULL && e->kind == EP_PIPE && e->side == 1) {
                struct iovec v;
                v.iov_base = &b;
                v.iov_len = 1;
                (void)aiotp__sim_pipe_writev(sim, e->pipe, &v, 1); /* full: one is pending */
                n++;
            }
        }
    }
    return n;
}

/* ---- children -------------------------------------------------------------------------- */

static void cfd_close(aiotp_sim *sim, sim_cfd *f)
{
    if (f->kind == CF_PIPE) {
        aiotp__sim_pipe_unref(sim, f->pipe, f->side);
    }
    f->kind = CF_CLOSED;
    f->pipe = NULL;
}

static void child_release(aiotp_sim *sim, sim_child *c)
{
    int i;
    for (i = 0; i < 3; i++) {
        cfd_close(sim, &c->fd[i]);
    }
    aiotp__sim_free(sim, c->argv0);
    aiotp__sim_free(sim, c->cmdline);
    c->argv0 = NULL;
    c->cmdline = NULL;
}

/* The child ends with code (exit status or -signal). */
static void child_end(aiotp_sim *sim, sim_child *c, int code, bool keep)
{
    int i;
    c->state = CH_EXITED;
    c->code = code;
    c->kept = keep;
    if (!keep) {
        for (i = 0; i < 3; i++) {
            cfd_close(sim, &c->fd[i]);
        }
    }
    (void)aiotp_sim_raise(sim, SIGCHLD);
}

static sim_child *child_slot(aiotp_sim *sim)
{
    if (sim->nchildren == sim->children_cap) {
        size_t ncap = sim->children_cap ? sim->children_cap * 2 : 8;
        sim_child *n = sim->alloc.realloc(sim->alloc.ctx, sim->children, ncap * sizeof(*n));
        if (n == NULL) {
            return NULL;
        }
        sim->children = n;
        sim->children_cap = ncap;
    }
    return &sim->children[sim->nchildren++];
}

static char *join_argv(aiotp_sim *sim, char *const *argv)
{
    size_t n = 0;
    size_t i;
    char *s;
    for (i = 0; argv[i] != NULL; i++) {
        n += strlen(argv[i]) + 1;
    }
    s = aiotp__sim_alloc(sim, n + 1);
    if (s == NULL) {
        return NULL;
    }
    s[0] = '\0';
    n = 0;
    for (i = 0; argv[i] != NULL; i++) {
        size_t l = strlen(argv[i]);
        if (i > 0) {
            s[n++] = ' ';
        }
        memcpy(s + n, argv[i], l);
        n += l;
    }
    s[n] = '\0';
    return s;
}

/* The fd a child gets for one of its standard fds. */
static int child_fd(aiotp_sim *sim, sim_cfd *out, int src)
{
    sim_ep *e;
    memset(out, 0, sizeof(*out));
    if (src == AIOTP_SPAWN_DEVNULL || src == AIOTP_SPAWN_INHERIT) {
        out->kind = CF_NULL;
        return 0;
    }
    e = aiotp__sim_ep_open(sim, src);
    if (e == NULL) {
        return -EBADF;
    }
    if (e->kind == EP_PIPE) {
        out->kind = CF_PIPE;
        out->pipe = e->pipe;
        out->side = e->side;
        aiotp__sim_pipe_ref(e->pipe, e->side);
    } else {
        out->kind = CF_NULL; /* a socket or file: not modelled as a child's fd */
    }
    return 0;
}

pid_t aiotp__sim_spawn(void *ctx, const aiotp_spawn_attr *a)
{
    aiotp_sim *sim = ctx;
    aiotp_sim_program_fn prog = NULL;
    void *prog_arg = NULL;
    sim_child *c;
    pid_t pid;
    int rc;
    int i;

    if (a == NULL || a->file == NULL || a->file[0] == '\0' || a->argv == NULL ||
        a->argv[0] == NULL) {
        return -EINVAL;
    }
    for (i = 0; i < 3; i++) {
        if (a->fd[i] < AIOTP_SPAWN_STDOUT || (a->fd[i] == AIOTP_SPAWN_STDOUT && i != 2)) {
            return -EINVAL;
        }
        if (a->fd[i] >= 0 && aiotp__sim_ep_open(sim, a->fd[i]) == NULL) {
            return -EBADF;
        }
    }
    if (sim->spawn_fail != 0) {
        rc = sim->spawn_fail;
        sim->spawn_fail = 0;
        return rc;
    }
    if (sim->next_pid < SIM_FIRST_PID) {
        sim->next_pid = SIM_FIRST_PID;
    }
    pid = sim->next_pid;
    if (sim->spawn_hook != NULL) {
        rc = sim->spawn_hook(sim->spawn_hook_arg, sim, pid, a, &prog, &prog_arg);
        if (rc < 0) {
            return rc;
        }
    }
    c = child_slot(sim);
    if (c == NULL) {
        return -EAGAIN;
    }
    memset(c, 0, sizeof(*c));
    c->argv0 = join_argv(sim, a->argv); /* (argv0: the whole line, cut below) */
    c->cmdline = join_argv(sim, a->argv);
    if (c->argv0 == NULL || c->cmdline == NULL) {
        aiotp__sim_free(sim, c->argv0);
        aiotp__sim_free(sim, c->cmdline);
        return -EAGAIN;
    }
    c->argv0[strlen(a->argv[0])] = '\0';
    for (i = 0; i < 3; i++) {
        if (i == 2 && a->fd[2] == AIOTP_SPAWN_STDOUT) {
            c->fd[2] = c->fd[1];
            if (c->fd[2].kind == CF_PIPE) {
                aiotp__sim_pipe_ref(c->fd[2].pipe, c->fd[2].side);
            }
        } else {
            (void)child_fd(sim, &c->fd[i], a->fd[i]); /* checked above */
        }
    }
    c->pid = pid;
    c->state = CH_RUNNING;
    c->prog = prog;
    c->prog_arg = prog_arg;
    sim->next_pid++;
    return pid;
}

pid_t aiotp__sim_waitpid(void *ctx, pid_t pid, int *code, int nohang)
{
    aiotp_sim *sim = ctx;
    sim_child *c = aiotp__sim_child(sim, pid);
    if (pid <= 0) {
        return -EINVAL; /* one child, never "any" */
    }
    if (c == NULL || c->state == CH_REAPED) {
        return -ECHILD;
    }
    if (c->state == CH_RUNNING) {
        return nohang ? 0 : -EAGAIN; /* the sim never blocks */
    }
    if (code != NULL) {
        *code = c->code;
    }
    c->state = CH_REAPED; /* fds kept at exit stay with the grandchild */
    return pid;
}

static bool ignored_by_default(int sig)
{
    return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

int aiotp__sim_kill(void *ctx, pid_t pid, int sig)
{
    aiotp_sim *sim = ctx;
    sim_child *c = aiotp__sim_child(sim, pid);
    if (sig < 0 || sig > SIM_SIG_MAX) {
        return -EINVAL;
    }
    if (c == NULL || c->state == CH_REAPED) {
        return -ESRCH;
    }
    if (sig == 0 || c->state == CH_EXITED) {
        return 0;
    }
    c->received |= (uint64_t)1 << (sig - 1);
    if (ignored_by_default(sig) ||
        (sig != SIGKILL && (c->ignored & ((uint64_t)1 << (sig - 1))) != 0)) {
        return 0;
    }
    child_end(sim, c, -sig, false);
    return 0;
}

int aiotp__sim_pidfd_open(void *ctx, pid_t pid)
{
    aiotp_sim *sim = ctx;
    sim_child *c = aiotp__sim_child(sim, pid);
    int fd;
    if (sim->no_pidfd) {
        return -ENOSYS;
    }
    if (c == NULL || c->state == CH_REAPED) {
        return -ESRCH;
    }
    fd = aiotp__sim_fd_alloc(sim);
    if (fd < 0) {
        return fd;
    }
    memset(&sim->ep[fd], 0, sizeof(sim->ep[fd]));
    sim->ep[fd].kind = EP_PIDFD;
    sim->ep[fd].family = AF_UNSPEC;
    sim->ep[fd].pid = pid;
    sim->nopen++;
    return fd;
}

void aiotp__sim_run_programs(aiotp_sim *sim)
{
    size_t i;
    if (sim->in_programs) {
        return;
    }
    sim->in_programs = true;
    for (i = 0; i < sim->nchildren; i++) {
        sim_child *c = &sim->children[i];
        bool fds = c->fd[0].kind != CF_CLOSED || c->fd[1].kind != CF_CLOSED ||
                   c->fd[2].kind != CF_CLOSED;
        /* a running child, or the grandchild that holds an exited one's fds */
        if (c->prog != NULL && (c->state == CH_RUNNING || (c->kept && fds))) {
            c->prog(sim, c->pid, c->prog_arg); /* may end it; never spawns */
        }
    }
    sim->in_programs = false;
}

void aiotp__sim_children_free(aiotp_sim *sim)
{
    size_t i;
    for (i = 0; i < sim->nchildren; i++) {
        if (sim->children[i].state != CH_FREE) {
            child_release(sim, &sim->children[i]);
        }
    }
    aiotp__sim_free(sim, sim->children);
    sim->children = NULL;
    sim->nchildren = 0;
    sim->children_cap = 0;
}

/* ---- the test's side ----------------------------------------------------------------- */

void aiotp_sim_set_pidfd(aiotp_sim *sim, int on)
{
    if (sim != NULL) {
        sim->no_pidfd = !on;
    }
}

void aiotp_sim_spawn_fail(aiotp_sim *sim, int err)
{
    if (sim != NULL) {
        sim->spawn_fail = err;
    }
}

void aiotp_sim_set_spawn_hook(aiotp_sim *sim, aiotp_sim_spawn_fn fn, void *arg)
{
    if (sim != NULL) {
        sim->spawn_hook = fn;
        sim->spawn_hook_arg = arg;
    }
}

/* A child that may still act on its fds: running, or exited (even reaped) with its fds
   kept by a grandchild (its fds are closed otherwise). */
static sim_child *acting(const aiotp_sim *sim, pid_t pid)
{
    return aiotp__sim_child(sim, pid);
}

ssize_t aiotp_sim_child_write(aiotp_sim *sim, pid_t pid, int fd, const void *buf, size_t len)
{
    sim_child *c = acting(sim, pid);
    struct iovec v;
    if (c == NULL) {
        return -ESRCH;
    }
    if (fd < 0 || fd > 2 || c->fd[fd].kind == CF_CLOSED ||
        (c->fd[fd].kind == CF_PIPE && c->fd[fd].side != 1)) {
        return -EBADF;
    }
    if (c->fd[fd].kind == CF_NULL) {
        return (ssize_t)len;
    }
    v.iov_base = (void *)(uintptr_t)buf;
    v.iov_len = len;
    return aiotp__sim_pipe_writev(sim, c->fd[fd].pipe, &v, 1);
}

ssize_t aiotp_sim_child_read(aiotp_sim *sim, pid_t pid, int fd, void *buf, size_t len)
{
    sim_child *c = acting(sim, pid);
    if (c == NULL) {
        return -ESRCH;
    }
    if (fd < 0 || fd > 2 || c->fd[fd].kind == CF_CLOSED ||
        (c->fd[fd].kind == CF_PIPE && c->fd[fd].side != 0)) {
        return -EBADF;
    }
    if (c->fd[fd].kind == CF_NULL) {
        return 0;
    }
    return aiotp__sim_pipe_read(c->fd[fd].pipe, buf, len);
}

int aiotp_sim_child_close(aiotp_sim *sim, pid_t pid, int fd)
{
    sim_child *c = acting(sim, pid);
    if (c == NULL) {
        return -ESRCH;
    }
    if (fd < 0 || fd > 2 || c->fd[fd].kind == CF_CLOSED) {
        return -EBADF;
    }
    cfd_close(sim, &c->fd[fd]);
    return 0;
}

int aiotp_sim_child_exit(aiotp_sim *sim, pid_t pid, int code, int flags)
{
    sim_child *c = aiotp__sim_child(sim, pid);
    if (code > 255 || code < -SIM_SIG_MAX) {
        return AIOTP_EINVAL;
    }
    if (c == NULL || c->state != CH_RUNNING) {
        return -ESRCH;
    }
    child_end(sim, c, code, (flags & AIOTP_SIM_KEEP_FDS) != 0);
    return 0;
}

int aiotp_sim_child_ignore(aiotp_sim *sim, pid_t pid, int sig, int on)
{
    sim_child *c = aiotp__sim_child(sim, pid);
    uint64_t bit;
    if (sig <= 0 || sig > SIM_SIG_MAX || sig == SIGKILL) {
        return AIOTP_EINVAL;
    }
    if (c == NULL) {
        return -ESRCH;
    }
    bit = (uint64_t)1 << (sig - 1);
    c->ignored = on ? c->ignored | bit : c->ignored & ~bit;
    return 0;
}

int aiotp_sim_child_got(const aiotp_sim *sim, pid_t pid, int sig)
{
    const sim_child *c = aiotp__sim_child(sim, pid);
    if (c == NULL) {
        return -ESRCH;
    }
    if (sig <= 0 || sig > SIM_SIG_MAX) {
        return 0;
    }
    return (c->received >> (sig - 1)) & 1u ? 1 : 0;
}

int aiotp_sim_child_state(const aiotp_sim *sim, pid_t pid, int *code)
{
    const sim_child *c = aiotp__sim_child(sim, pid);
    if (c == NULL) {
        return -ESRCH;
    }
    if (code != NULL && c->state != CH_RUNNING) {
        *code = c->code;
    }
    return c->state == CH_RUNNING ? 1 : c->state == CH_EXITED ? 2 : 3;
}

const char *aiotp_sim_child_cmdline(const aiotp_sim *sim, pid_t pid)
{
    const sim_child *c = aiotp__sim_child(sim, pid);
    return c != NULL ? c->cmdline : NULL;
}

pid_t aiotp_sim_last_child(const aiotp_sim *sim)
{
    return sim != NULL && sim->next_pid > SIM_FIRST_PID ? sim->next_pid - 1 : 0;
}

size_t aiotp_sim_children(const aiotp_sim *sim)
{
    size_t i;
    size_t n = 0;
    if (sim == NULL) {
        return 0;
    }
    for (i = 0; i < sim->nchildren; i++) {
        if (sim->children[i].state == CH_RUNNING || sim->children[i].state == CH_EXITED) {
            n++;
        }
    }
    return n;
}
