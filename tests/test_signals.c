/* tests/test_signals.c - aiotp_loop_add_signal_handler / remove_signal_handler (the asyncio
   loop methods of those names; spec/rules.md "Signals", SIG-*): the handler runs on the
   loop as an ordinary callback, through the loop's self-pipe. Runs on poll, epoll and the
   sim (th_raise: kill(getpid()) or aiotp_sim_raise). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aiotp/sim.h"
#include "harness.h"
#include "loop_int.h"
#include "wakeup_int.h"

/* A log of handler calls: "h1:10 h2:12 ..." */
static char log_buf[512];
static int calls;
static bool running_inside;

static void logf_(const char *name, int signum)
{
    size_t n = strlen(log_buf);
    snprintf(log_buf + n, sizeof(log_buf) - n, "%s%s:%d", n > 0 ? " " : "", name, signum);
}

static void reset(void)
{
    log_buf[0] = '\0';
    calls = 0;
    running_inside = false;
}

static void h1(aiotp_loop *loop, int signum, void *arg)
{
    (void)arg;
    calls++;
    running_inside = aiotp_loop_is_running(loop);
    logf_("h1", signum);
}

static void h2(aiotp_loop *loop, int signum, void *arg)
{
    (void)loop;
    (void)arg;
    calls++;
    logf_("h2", signum);
}

/* The process's own SIGUSR1/SIGUSR2 handler while the loop has none (real kernel). */
static volatile sig_atomic_t own_hits;
static void own_handler(int sig)
{
    (void)sig;
    own_hits++;
}

static struct sigaction own_prev[2];

static void own_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = own_handler;
    sigemptyset(&sa.sa_mask);
    own_hits = 0;
    (void)sigaction(SIGUSR1, &sa, &own_prev[0]);
    (void)sigaction(SIGUSR2, &sa, &own_prev[1]);
}

static void own_remove(void)
{
    (void)sigaction(SIGUSR1, &own_prev[0], NULL);
    (void)sigaction(SIGUSR2, &own_prev[1], NULL);
}

static bool one_call(void *arg)
{
    (void)arg;
    return calls >= 1;
}

TEST(handler_runs_on_the_loop)
{
    aiotp_loop *loop = th_loop();
    reset();
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR1, h1, NULL), 0);
    th_raise(SIGUSR1);
    CHECK_INT(calls, 0); /* not inside the signal: later, from the loop */
    th_run_until(loop, one_call, NULL, 5);
    CHECK_STR(log_buf, "h1:10");
    CHECK(running_inside);
    th_run_passes(loop, 2);
    CHECK_INT(calls, 1);
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR1), 1);
}

TEST(each_arrival_in_order)
{
    aiotp_loop *loop = th_loop();
    reset();
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR1, h1, NULL), 0);
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR2, h2, NULL), 0);
    th_raise(SIGUSR2);
    th_raise(SIGUSR1);
    th_raise(SIGUSR2);
    th_run_passes(loop, 2);
    CHECK_STR(log_buf, "h2:12 h1:10 h2:12");
}

TEST(add_replaces)
{
    aiotp_loop *loop = th_loop();
    reset();
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR1, h1, NULL), 0);
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR1, h2, NULL), 0);
    th_raise(SIGUSR1);
    th_run_passes(loop, 2);
    CHECK_STR(log_buf, "h2:10");
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR1), 1);
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR1), 0);
}

TEST(bad_arguments)
{
    aiotp_loop *loop = th_loop();
    int fd = th_lowest_free_fd();
    reset();
    CHECK_ERR(aiotp_loop_add_signal_handler(NULL, SIGUSR1, h1, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_signal_handler(loop, SIGUSR1, NULL, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_signal_handler(loop, 0, h1, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_signal_handler(loop, -1, h1, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_signal_handler(loop, 65, h1, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_signal_handler(loop, SIGKILL, h1, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_signal_handler(loop, SIGSTOP, h1, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_remove_signal_handler(NULL, SIGUSR1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_remove_signal_handler(loop, 0), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_remove_signal_handler(loop, 65), AIOTP_EINVAL);
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR1), 0);
    CHECK(loop->sighub == NULL); /* nothing was made: no self-pipe */
    if (!th_sim_mode()) {
        CHECK_INT(th_lowest_free_fd(), fd);
    }
}

TEST(remove_restores_the_disposition)
{
    aiotp_loop *loop = th_loop();
    reset();
    if (!th_sim_mode()) {
        own_install();
    }
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR1, h1, NULL), 0);
    th_raise(SIGUSR1);
    th_run_passes(loop, 2);
    CHECK_INT(calls, 1);
    CHECK_INT(own_hits, 0); /* the library's handler, not the process's own */
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR1), 1);
    if (th_sim_mode()) {
        CHECK_INT(aiotp_sim_raise(th_sim(), SIGUSR1), 0); /* no pipe watches it now */
    } else {
        th_raise(SIGUSR1);
        CHECK_INT(own_hits, 1); /* the previous disposition is back */
        own_remove();
    }
    th_run_passes(loop, 2);
    CHECK_INT(calls, 1);
}

TEST(loop_free_restores_the_disposition)
{
    aiotp_loop *loop = th_loop();
    reset();
    if (!th_sim_mode()) {
        own_install();
    }
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR2, h2, NULL), 0);
    th_loop_free(loop);
    if (th_sim_mode()) {
        CHECK_INT(aiotp_sim_raise(th_sim(), SIGUSR2), 0);
    } else {
        th_raise(SIGUSR2);
        CHECK_INT(own_hits, 1);
        own_remove();
    }
    CHECK_INT(calls, 0);
}

TEST(two_loops_both_hear_it)
{
    aiotp_loop *a = th_loop();
    aiotp_loop *b;
    reset();
    if (th_sim_mode()) {
        /* the sim backend serves one loop: the second loop here is on the sim's table
           through a poll-free path is not possible; use one loop twice instead */
        CHECK_INT(aiotp_loop_add_signal_handler(a, SIGUSR1, h1, NULL), 0);
        CHECK_INT(aiotp_sim_raise(th_sim(), SIGUSR1), 1);
        th_run_passes(a, 2);
        CHECK_STR(log_buf, "h1:10");
        return;
    }
    b = th_loop();
    CHECK_INT(aiotp_loop_add_signal_handler(a, SIGUSR1, h1, NULL), 0);
    CHECK_INT(aiotp_loop_add_signal_handler(b, SIGUSR1, h2, NULL), 0);
    th_raise(SIGUSR1);
    th_run_passes(a, 2);
    th_run_passes(b, 2);
    CHECK_STR(log_buf, "h1:10 h2:10");
    /* removing it from one loop leaves the other's */
    CHECK_INT(aiotp_loop_remove_signal_handler(a, SIGUSR1), 1);
    th_raise(SIGUSR1);
    th_run_passes(a, 2);
    th_run_passes(b, 2);
    CHECK_STR(log_buf, "h1:10 h2:10 h2:10");
}

/* Re-entrancy: a handler removes itself, adds another, stops the loop. */
static void h_self(aiotp_loop *loop, int signum, void *arg)
{
    (void)arg;
    calls++;
    logf_("self", signum);
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, signum), 1);
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR2, h2, NULL), 0);
    aiotp_loop_stop(loop);
}

TEST(handler_reentrancy)
{
    aiotp_loop *loop = th_loop();
    reset();
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR1, h_self, NULL), 0);
    th_raise(SIGUSR1);
    if (th_sim_mode()) {
        /* not handled when it arrives: dropped (on a real kernel its default action would
           end the test, so it is not raised there) */
        CHECK_INT(aiotp_sim_raise(th_sim(), SIGUSR2), 0);
    }
    CHECK_INT(aiotp_loop_run(loop), 0); /* stopped by the handler */
    CHECK_STR(log_buf, "self:10");
    th_raise(SIGUSR2);
    th_run_passes(loop, 2);
    CHECK_STR(log_buf, "self:10 h2:12");
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR2), 1);
}

/* The users' case: stop a running loop on Ctrl-C. */
static void on_int(aiotp_loop *loop, int signum, void *arg)
{
    (void)arg;
    logf_("int", signum);
    aiotp_loop_stop(loop);
}

static void raise_int(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    th_raise(SIGINT);
}

TEST(stop_on_sigint)
{
    aiotp_loop *loop = th_loop();
    reset();
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGINT, on_int, NULL), 0);
    CHECK_INT(aiotp_loop_call_later(loop, 10 * AIOTP_NS_PER_MS, raise_int, NULL, NULL), 0);
    CHECK_INT(aiotp_loop_run(loop), 0);
    CHECK_STR(log_buf, "int:2");
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGINT), 1);
}

TEST(failures_leave_nothing)
{
    int before = th_lowest_free_fd(); /* before the loop (epoll has an fd of its own) */
    int fd;
    aiotp_loop *loop = th_loop();
    reset();
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_loop_add_signal_handler(loop, SIGUSR2, h2, NULL), AIOTP_ENOMEM);
    CHECK(loop->sighub == NULL);
    th_f.alloc_fail_after = 1; /* the hub, not the handler table */
    CHECK_ERR(aiotp_loop_add_signal_handler(loop, SIGUSR2, h2, NULL), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR2), 0);
    th_loop_free(loop);
    loop = th_loop();
    fd = th_lowest_free_fd(); /* the hub makes no fd: the self-pipe is the wake-up's */
    th_f.pipe_errno = EMFILE;
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR1, h1, NULL), 0);
    th_f.pipe_errno = 0;
    if (!th_sim_mode()) {
        CHECK_INT(th_lowest_free_fd(), fd);
    }
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR1), 1);
    th_f.sigwatch_errno = ENOSPC;
    CHECK_ERR(aiotp_loop_add_signal_handler(loop, SIGUSR1, h1, NULL), -ENOSPC);
    th_f.sigwatch_errno = 0;
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR1), 0);
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR2, h2, NULL), 0);
    th_raise(SIGUSR2);
    th_run_passes(loop, 2);
    CHECK_STR(log_buf, "h2:12");
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR2), 1);
    th_loop_free(loop);
    if (!th_sim_mode()) {
        CHECK_INT(th_lowest_free_fd(), before);
    }
}

static void fd_cb(aiotp_loop *loop, int fd, void *arg)
{
    (void)loop;
    (void)fd;
    (void)arg;
}

TEST(self_pipe_is_the_loops)
{
    aiotp_loop *loop = th_loop();
    int rfd;
    int wfd;
    reset();
    CHECK_INT(aiotp_loop_add_signal_handler(loop, SIGUSR1, h1, NULL), 0);
    CHECK(loop->sighub != NULL);
    /* the self-pipe is the wake-up pipe: its two ends are the wake-up's */
    wfd = aiotp__wakeup_wfd(loop);
    for (rfd = 0; rfd < 1024; rfd++) {
        if (rfd != wfd && (size_t)rfd < loop->fds_cap &&
            loop->fds[rfd].owner == (void *)loop->wakeup) {
            break;
        }
    }
    CHECK(rfd < 1024);
    CHECK((size_t)wfd < loop->fds_cap && loop->fds[wfd].owner == (void *)loop->wakeup);
    CHECK_ERR(aiotp_loop_add_reader(loop, rfd, NULL, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_reader(loop, rfd, fd_cb, NULL), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_remove_reader(loop, rfd), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_add_writer(loop, wfd, fd_cb, NULL), AIOTP_EBUSY);
    CHECK_INT(aiotp_loop_remove_signal_handler(loop, SIGUSR1), 1);
}

static const th_case cases[] = {
    T(handler_runs_on_the_loop, "SIG-1"),
    T(each_arrival_in_order, "SIG-1"),
    T(add_replaces, "SIG-2 SIG-4"),
    T(bad_arguments, "SIG-3"),
    T(remove_restores_the_disposition, "SIG-4"),
    T(loop_free_restores_the_disposition, "SIG-5"),
    T(two_loops_both_hear_it, "SIG-6"),
    T(handler_reentrancy, "SIG-1 SIG-4"),
    T(stop_on_sigint, "SIG-1"),
    T(failures_leave_nothing, "SIG-3"),
    T(self_pipe_is_the_loops, "SIG-7"),
};

TH_MAIN_SIM(cases)
