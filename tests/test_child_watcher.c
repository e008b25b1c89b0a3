/* tests/test_child_watcher.c - the loop's child watcher (src/signal.c; spec/rules.md "Child
   processes", CHILD-*): a pidfd per child where the kernel has them, else SIGCHLD and
   waitpid on the loop's own pids; exit codes, deaths by signal, exits before the watch,
   children of others left alone, the loop's children reaped when it is freed. Each case
   runs with both watchers (the pidfd one, and SIGCHLD through th_f.no_pidfd), on poll,
   epoll and the sim. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aiotp/sim.h"
#include "harness.h"
#include "signal_int.h"

typedef struct exit_rec {
    int n;      /* callbacks */
    int code;
    pid_t pid;
    char log[256];
} exit_rec;

static void on_exit_cb(aiotp_loop *loop, void *arg, int code)
{
    exit_rec *r = arg;
    size_t k = strlen(r->log);
    (void)loop;
    r->n++;
    r->code = code;
    snprintf(r->log + k, sizeof(r->log) - k, "%sexit:%d", k > 0 ? " " : "", code);
}

static bool exited(void *arg)
{
    return ((exit_rec *)arg)->n > 0;
}

static pid_t start(const char *a1, const char *a2)
{
    const char *argv[4] = {TH_CHILD, a1, a2, NULL};
    pid_t pid = th_spawn(argv, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL);
    CHECK(pid > 0);
    return pid;
}

/* Wait for the child to have exited, without reaping it. */
static void until_zombie(pid_t pid)
{
    if (th_sim_mode()) {
        int st = aiotp_sim_child_state(th_sim(), pid, NULL);
        if (st == 1) {
            /* its script has not run yet (programs run at backend waits): end it here */
            CHECK_INT(aiotp_sim_child_exit(th_sim(), pid, 0, 0), 0);
        }
    } else {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        CHECK_INT(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    }
}

/* Does the system (the loop's syscall table) open pidfds? */
static bool have_pidfd(void)
{
    const aiotp_syscalls *s =
        th_sim_mode() ? aiotp_sim_syscalls(th_sim()) : aiotp_syscalls_posix();
    int fd = s->pidfd_open(s->ctx, getpid());
    if (fd >= 0) {
        (void)s->close(s->ctx, fd);
        return true;
    }
    return fd != -ENOSYS;
}

static void exit_code(bool pidfd)
{
    aiotp_loop *loop = th_loop();
    exit_rec r;
    aiotp__child *c = NULL;
    pid_t pid;
    memset(&r, 0, sizeof(r));
    th_f.no_pidfd = !pidfd;
    pid = start("exit:3", NULL);
    CHECK_INT(aiotp__child_watch(loop, pid, on_exit_cb, &r, &c), 0);
    CHECK(c != NULL);
    /* with pidfds allowed they are used where the system has them (not, e.g., under
       valgrind 3.19, which does not know the call: then SIGCHLD, as without) */
    CHECK(aiotp__child_uses_pidfd(c) == (pidfd && have_pidfd()));
    CHECK_INT(r.n, 0); /* never inside the watch */
    th_run_until(loop, exited, &r, 200);
    CHECK_STR(r.log, "exit:3");
}

TEST(pidfd_exit_code)
{
    exit_code(true);
}

TEST(sigchld_exit_code)
{
    exit_code(false);
}

static void killed(bool pidfd)
{
    aiotp_loop *loop = th_loop();
    const aiotp_syscalls *sys = th_syscalls();
    exit_rec r;
    pid_t pid;
    memset(&r, 0, sizeof(r));
    th_f.no_pidfd = !pidfd;
    pid = start("hang", NULL);
    CHECK_INT(aiotp__child_watch(loop, pid, on_exit_cb, &r, NULL), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r.n, 0);
    CHECK_INT(sys->kill(sys->ctx, pid, SIGTERM), 0);
    th_run_until(loop, exited, &r, 200);
    CHECK_STR(r.log, "exit:-15"); /* minus the signal (asyncio's returncode) */
}

TEST(pidfd_killed_by_signal)
{
    killed(true);
}

TEST(sigchld_killed_by_signal)
{
    killed(false);
}

static void exit_before_watch(bool pidfd)
{
    aiotp_loop *loop = th_loop();
    exit_rec r;
    pid_t pid;
    memset(&r, 0, sizeof(r));
    th_f.no_pidfd = !pidfd;
    pid = start("exit:7", NULL);
    until_zombie(pid); /* its SIGCHLD came before anything watched it */
    CHECK_INT(aiotp__child_watch(loop, pid, on_exit_cb, &r, NULL), 0);
    th_run_until(loop, exited, &r, 20);
    if (th_sim_mode()) {
        CHECK_STR(r.log, "exit:0"); /* ended by until_zombie before its script ran */
    } else {
        CHECK_STR(r.log, "exit:7");
    }
}

TEST(pidfd_exit_before_watch)
{
    exit_before_watch(true);
}

TEST(sigchld_exit_before_watch)
{
    exit_before_watch(false);
}

/* CHILD-2: a child the loop does not watch (another library's) is never reaped by it. */
static void others_left_alone(bool pidfd)
{
    aiotp_loop *loop = th_loop();
    exit_rec r;
    pid_t mine;
    pid_t other;
    memset(&r, 0, sizeof(r));
    th_f.no_pidfd = !pidfd;
    other = start("exit:9", NULL);
    mine = start("exit:4", NULL);
    CHECK_INT(aiotp__child_watch(loop, mine, on_exit_cb, &r, NULL), 0);
    th_run_until(loop, exited, &r, 200);
    CHECK_STR(r.log, "exit:4");
    until_zombie(other);
    th_run_passes(loop, 3); /* SIGCHLD of the other one: still not reaped by the loop */
    CHECK_INT(th_reap(other), 9);
}

TEST(pidfd_others_left_alone)
{
    others_left_alone(true);
}

TEST(sigchld_others_left_alone)
{
    others_left_alone(false);
}

#define MANY 16

static void many(bool pidfd)
{
    aiotp_loop *loop = th_loop();
    exit_rec r[MANY];
    int i;
    int done = 0;
    th_f.no_pidfd = !pidfd;
    for (i = 0; i < MANY; i++) {
        char code[16];
        snprintf(code, sizeof(code), "exit:%d", 10 + i);
        memset(&r[i], 0, sizeof(r[i]));
        r[i].pid = start(code, NULL);
        CHECK_INT(aiotp__child_watch(loop, r[i].pid, on_exit_cb, &r[i], NULL), 0);
    }
    for (i = 0; i < 400 && done < MANY; i++) {
        int k;
        th_run_once(loop);
        done = 0;
        for (k = 0; k < MANY; k++) {
            done += r[k].n;
        }
    }
    for (i = 0; i < MANY; i++) {
        CHECK_INT(r[i].n, 1);
        CHECK_INT(r[i].code, 10 + i);
    }
}

TEST(pidfd_many_at_once)
{
    many(true);
}

TEST(sigchld_many_at_once)
{
    many(false);
}

/* CHILD-3: a forgotten watch still reaps its child, without a callback. */
TEST(forget_still_reaps)
{
    aiotp_loop *loop = th_loop();
    exit_rec r;
    aiotp__child *c = NULL;
    pid_t pid;
    memset(&r, 0, sizeof(r));
    pid = start("exit:1", NULL);
    CHECK_INT(aiotp__child_watch(loop, pid, on_exit_cb, &r, &c), 0);
    aiotp__child_forget(c);
    until_zombie(pid);
    th_run_passes(loop, 5);
    CHECK_INT(r.n, 0);
    /* reaped by the loop: the test cannot reap it any more */
    CHECK_INT(th_syscalls()->waitpid(th_syscalls()->ctx, pid, NULL, 1), -ECHILD);
}

/* CHILD-3: freeing the loop kills and reaps the children it still watches. */
static void free_kills(bool pidfd)
{
    aiotp_loop *loop = th_loop();
    exit_rec r;
    pid_t pid;
    memset(&r, 0, sizeof(r));
    th_f.no_pidfd = !pidfd;
    pid = start("hang", NULL);
    CHECK_INT(aiotp__child_watch(loop, pid, on_exit_cb, &r, NULL), 0);
    th_run_passes(loop, 2);
    th_loop_free(loop);
    CHECK_INT(r.n, 0); /* no callback at loop free */
    CHECK_INT(th_syscalls()->waitpid(th_syscalls()->ctx, pid, NULL, 1), -ECHILD);
    if (th_sim_mode()) {
        CHECK_INT(aiotp_sim_child_got(th_sim(), pid, SIGKILL), 1);
    }
}

TEST(pidfd_loop_free_kills_and_reaps)
{
    free_kills(true);
}

TEST(sigchld_loop_free_kills_and_reaps)
{
    free_kills(false);
}

/* CHILD-4: reaped by someone else: 255, and the exception handler hears of it. */
static void reaped_elsewhere(bool pidfd)
{
    aiotp_loop *loop = th_exc_loop();
    exit_rec r;
    pid_t pid;
    memset(&r, 0, sizeof(r));
    th_f.no_pidfd = !pidfd;
    pid = start("exit:6", NULL);
    CHECK_INT(aiotp__child_watch(loop, pid, on_exit_cb, &r, NULL), 0);
    until_zombie(pid);
    (void)th_reap(pid); /* someone else got there first */
    th_run_until(loop, exited, &r, 20);
    CHECK_STR(r.log, "exit:255");
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, -ECHILD);
    CHECK(th_count_lines("loop exc status=ECHILD ") == 1);
}

TEST(pidfd_reaped_elsewhere)
{
    reaped_elsewhere(true);
}

TEST(sigchld_reaped_elsewhere)
{
    reaped_elsewhere(false);
}

/* A user SIGCHLD handler and the SIGCHLD watcher share the signal. */
static int user_chld;
static void on_chld(aiotp_loop *loop, int signum, void *arg)
{
    (void)loop;
    (void)arg;
    CHECK_INT(signum, SIGCHLD);
    user_chld++;
}

TEST(user_sigchld_handler_beside_the_watcher)
{
    aiotp_loop *loop = th_loop();
    exit_rec r;
    pid_t pid;
    memset(&r, 0, sizeof(r));
    user_chld = 0;
    th_f.no_pidfd = true;
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGCHLD, on_chld, NULL), 0);
    pid = start("exit:2", NULL);
    CHECK_INT(aiotp__child_watch(loop, pid, on_exit_cb, &r, NULL), 0);
    th_run_until(loop, exited, &r, 200);
    th_run_passes(loop, 2);
    CHECK_STR(r.log, "exit:2");
    CHECK(user_chld >= 1);
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGCHLD), 1);
    /* the watcher still hears SIGCHLD after the user's handler is gone */
    memset(&r, 0, sizeof(r));
    pid = start("exit:8", NULL);
    CHECK_INT(aiotp__child_watch(loop, pid, on_exit_cb, &r, NULL), 0);
    th_run_until(loop, exited, &r, 200);
    CHECK_STR(r.log, "exit:8");
}

/* Failures: nothing is watched, the caller reaps its child. */
TEST(watch_failures)
{
    aiotp_loop *loop = th_loop();
    exit_rec r;
    pid_t pid;
    memset(&r, 0, sizeof(r));
    pid = start("exit:0", NULL);
    th_f.alloc_fail_after = 0; /* the hub */
    CHECK_ERR(aiotp__child_watch(loop, pid, on_exit_cb, &r, NULL), AIOTP_ENOMEM);
    th_f.alloc_fail_after = 1; /* the hub, then the watch */
    CHECK_ERR(aiotp__child_watch(loop, pid, on_exit_cb, &r, NULL), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    th_f.no_pidfd = true;
    th_f.sigwatch_errno = ENOSPC;
    CHECK_ERR(aiotp__child_watch(loop, pid, on_exit_cb, &r, NULL), -ENOSPC);
    th_f.sigwatch_errno = 0;
    until_zombie(pid);
    CHECK_INT(th_reap(pid), 0);
    CHECK_INT(r.n, 0);
}

static const th_case cases[] = {
    T(pidfd_exit_code, "CHILD-1"),
    T(sigchld_exit_code, "CHILD-2"),
    T(pidfd_killed_by_signal, "CHILD-1"),
    T(sigchld_killed_by_signal, "CHILD-2"),
    T(pidfd_exit_before_watch, "CHILD-1"),
    T(sigchld_exit_before_watch, "CHILD-2"),
    T(pidfd_others_left_alone, "CHILD-1"),
    T(sigchld_others_left_alone, "CHILD-2"),
    T(pidfd_many_at_once, "CHILD-1"),
    T(sigchld_many_at_once, "CHILD-2"),
    T(forget_still_reaps, "CHILD-3"),
    T(pidfd_loop_free_kills_and_reaps, "CHILD-3"),
    T(sigchld_loop_free_kills_and_reaps, "CHILD-3"),
    T(pidfd_reaped_elsewhere, "CHILD-4"),
    T(sigchld_reaped_elsewhere, "CHILD-4"),
    T(user_sigchld_handler_beside_the_watcher, "CHILD-2 SIG-1"),
    T(watch_failures, "CHILD-1"),
};

TH_MAIN_SIM(cases)
