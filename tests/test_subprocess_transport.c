/* tests/test_subprocess_transport.c - Subprocess Transports: subprocess_exec /
   subprocess_shell and the SubprocessTransport (get_pid, get_pipe_transport,
   get_returncode, send_signal, terminate, kill, close, is_closing, get_extra_info).
   spec/rules.md "Subprocess transports and protocols" (SUBPROC-*), CPython §6.1, §6.3.
   Runs on poll, epoll and the sim (the child: tests/th_child's script); every case with
   both child watchers (AIOTP_TEST_WATCHER=sigchld). After each case the harness checks
   that no fd, no child (zombie or running) and no allocation is left. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "aiotp/sim.h"
#include "subproc_helpers.h"

/* The order letters (subproc_helpers.h) with the exit removed, and where the exit was. */
static const char *without_exit(const th_sp *r)
{
    static char s[256];
    size_t i;
    size_t k = 0;
    for (i = 0; i < r->norder; i++) {
        if (r->order[i] != 'X') {
            s[k++] = r->order[i];
        }
    }
    s[k] = '\0';
    return s;
}

TEST(exec_output_and_exit_code)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "out:hello", "err:oops", "exit:3", NULL};
    aiotp_transport *t;
    int rc = -1;
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, NULL);
    CHECK(t != NULL);
    CHECK_INT(aiotp_transport_kind(t), AIOTP_TRANSPORT_SUBPROCESS);
    CHECK_INT(r.factory_calls, 1);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_SIZE(r.out_len[1], 5);
    CHECK(memcmp(r.out[1], "hello", 5) == 0);
    CHECK_SIZE(r.out_len[2], 4);
    CHECK(memcmp(r.out[2], "oops", 4) == 0);
    CHECK_INT(r.exited, 1);
    CHECK_INT(r.rc_known_at_exit, 1);
    CHECK_INT(r.rc_at_exit, 3);
    CHECK_INT(aiotp_transport_get_returncode(t, &rc), 1);
    CHECK_INT(rc, 3);
    CHECK_INT(r.pipe_lost[0], 1);
    CHECK_INT(r.pipe_lost[1], 1);
    CHECK_INT(r.pipe_lost[2], 1);
    CHECK_INT(r.pipe_lost_status[0], 0);
    CHECK_INT(r.lost_status, 0);
    CHECK(r.order[0] == 'M');
    CHECK(r.order[r.norder - 1] == 'L');
    CHECK_INT(th_count_lines("t1 cb connection_lost"), 1);
    /* each fd's data before its pipe_connection_lost; the exit anywhere between M and L */
    CHECK(strchr(r.order, '1') < strchr(r.order, 'b'));
    CHECK(strchr(r.order, '2') < strchr(r.order, 'c'));
    CHECK_SIZE(strlen(without_exit(&r)), 7); /* M 1 2 a b c L in some order of a b c */
}

TEST(pid_and_extra_info)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "wait", "exit:0", NULL};
    aiotp_transport *t;
    const aiotp_extra *x;
    aiotp_extra dflt;
    int rc = 77;
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, NULL);
    CHECK(aiotp_transport_get_pid(t) > 0);
    x = aiotp_transport_get_extra_info(t, "subprocess", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_PID);
    CHECK(x != NULL && x->u.pid == aiotp_transport_get_pid(t));
    memset(&dflt, 0, sizeof(dflt));
    CHECK(aiotp_transport_get_extra_info(t, "pipe", &dflt) == &dflt);
    CHECK(aiotp_transport_get_extra_info(t, "socket", NULL) == NULL);
    /* not yet exited: asyncio's None */
    CHECK_INT(aiotp_transport_get_returncode(t, &rc), 0);
    CHECK_INT(rc, 77);
    CHECK_ERR(aiotp_transport_get_returncode(t, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_get_returncode(NULL, &rc), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_get_pid(NULL), AIOTP_EINVAL);
    CHECK(!aiotp_transport_is_closing(t));
    /* the methods a subprocess transport does not have */
    CHECK_ERR(aiotp_transport_write(t, "x", 1), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_abort(t), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_write_eof(t), AIOTP_ENOTSUP);
    CHECK(!aiotp_transport_is_reading(t));
    CHECK(!aiotp_transport_can_write_eof(t));
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    /* end it: a line on stdin */
    CHECK_INT(aiotp_transport_write(aiotp_transport_get_pipe_transport(t, 0), "\n", 1), 0);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(aiotp_transport_get_returncode(t, &rc), 1);
    CHECK_INT(rc, 0);
    CHECK(aiotp_transport_get_pid(t) > 0); /* still given after the exit */
}

TEST(pipe_transports_of_each_fd)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "wait", "exit:0", NULL};
    aiotp_transport *t;
    aiotp_transport *p0;
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, NULL);
    p0 = aiotp_transport_get_pipe_transport(t, 0);
    CHECK(p0 != NULL);
    CHECK_INT(aiotp_transport_kind(p0), AIOTP_TRANSPORT_PIPE_WRITE);
    CHECK_INT(aiotp_transport_kind(aiotp_transport_get_pipe_transport(t, 1)),
              AIOTP_TRANSPORT_PIPE_READ);
    CHECK_INT(aiotp_transport_kind(aiotp_transport_get_pipe_transport(t, 2)),
              AIOTP_TRANSPORT_PIPE_READ);
    CHECK(aiotp_transport_get_pipe_transport(t, 3) == NULL);
    CHECK(aiotp_transport_get_pipe_transport(t, -1) == NULL);
    CHECK(aiotp_transport_get_pipe_transport(NULL, 0) == NULL);
    CHECK(aiotp_transport_get_pipe_transport(p0, 0) == NULL); /* not a subprocess */
    /* closing stdin: the child's wait sees end of file and it exits */
    CHECK_INT(aiotp_transport_close(p0), 0);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(r.pipe_lost[0], 1);
    CHECK_INT(r.rc_at_exit, 0);
    /* a pipe whose connection_lost has run is not given any more */
    CHECK(aiotp_transport_get_pipe_transport(t, 0) == NULL);
    CHECK(aiotp_transport_get_pipe_transport(t, 1) == NULL);
}

TEST(stdio_devnull_and_stderr_to_stdout)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "out:ab", "err:cd", "exit:0", NULL};
    aiotp_subprocess_options o;
    aiotp_transport *t;
    aiotp_subprocess_options_init(&o);
    o.stdio[0].kind = AIOTP_STDIO_DEVNULL;
    o.stdio[2].kind = AIOTP_STDIO_STDOUT;
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, &o);
    CHECK(aiotp_transport_get_pipe_transport(t, 0) == NULL);
    CHECK(aiotp_transport_get_pipe_transport(t, 1) != NULL);
    CHECK(aiotp_transport_get_pipe_transport(t, 2) == NULL);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_SIZE(r.out_len[1], 4);
    CHECK(memcmp(r.out[1], "abcd", 4) == 0); /* stderr went into stdout's pipe */
    CHECK_SIZE(r.out_len[2], 0);
    CHECK_INT(r.pipe_lost[0], 0);
    CHECK_INT(r.pipe_lost[1], 1);
    CHECK_INT(r.pipe_lost[2], 0);
    CHECK_INT(th_count_lines("t1 pipe "), 1);
}

TEST(stdio_given_fd_and_inherit)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "out:xyz", "exit:0", NULL};
    aiotp_subprocess_options o;
    aiotp_transport *t;
    char buf[8];
    int p[2];
    th_pipe(p);
    aiotp_subprocess_options_init(&o);
    o.stdio[0].kind = AIOTP_STDIO_INHERIT;
    o.stdio[1].kind = AIOTP_STDIO_FD;
    o.stdio[1].fd = p[1];
    o.stdio[2].kind = AIOTP_STDIO_DEVNULL;
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, &o);
    CHECK(aiotp_transport_get_pipe_transport(t, 0) == NULL);
    CHECK(aiotp_transport_get_pipe_transport(t, 1) == NULL);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_STR(r.order, "MXL"); /* no pipe: made, exited, lost */
    CHECK_INT(th_peer_read(p[0], buf, sizeof(buf), true), 3);
    CHECK(memcmp(buf, "xyz", 3) == 0);
    CHECK(th_fd_is_open(p[1])); /* still the caller's */
    th_peer_close(p[0]);
    th_peer_close(p[1]);
}

static int kill_it(th_sp *r, aiotp_transport *t, int fd)
{
    (void)fd;
    CHECK_INT(aiotp_transport_kill(t), 0);
    (void)r;
    return 0;
}

static int terminate_it(th_sp *r, aiotp_transport *t, int fd)
{
    (void)fd;
    CHECK_INT(aiotp_transport_terminate(t), 0);
    (void)r;
    return 0;
}

static int usr1_it(th_sp *r, aiotp_transport *t, int fd)
{
    (void)fd;
    CHECK_INT(aiotp_transport_send_signal(t, 0), 0); /* 0 probes */
    CHECK_INT(aiotp_transport_send_signal(t, SIGUSR1), 0);
    (void)r;
    return 0;
}

static void signal_case(th_sp_hook how, int expect)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    th_sp_init(&r);
    r.on_made = how;
    (void)th_sp_start(loop, &r, argv, NULL);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(r.rc_known_at_exit, 1);
    CHECK_INT(r.rc_at_exit, expect); /* minus the signal */
}

TEST(returncode_after_kill)
{
    signal_case(kill_it, -SIGKILL);
}

TEST(returncode_after_terminate)
{
    signal_case(terminate_it, -SIGTERM);
}

TEST(returncode_after_send_signal)
{
    signal_case(usr1_it, -SIGUSR1);
}

static int signals_after_exit(th_sp *r, aiotp_transport *t, int fd)
{
    long kills = th_f.kill_calls;
    (void)fd;
    (void)r;
    /* exited, connection_lost not yet: nothing is sent, 0 is returned (CPython) */
    CHECK_INT(aiotp_transport_send_signal(t, SIGTERM), 0);
    CHECK_INT(aiotp_transport_terminate(t), 0);
    CHECK_INT(aiotp_transport_kill(t), 0);
    CHECK_INT(th_f.kill_calls, kills);
    CHECK(!aiotp_transport_is_closing(t)); /* it ended by itself */
    return 0;
}

TEST(signals_to_an_exited_child)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "exit:0", NULL};
    aiotp_transport *t;
    th_sp_init(&r);
    r.on_exited = signals_after_exit;
    t = th_sp_start(loop, &r, argv, NULL);
    CHECK_ERR(aiotp_transport_send_signal(t, -1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_send_signal(t, 65), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_send_signal(NULL, SIGTERM), AIOTP_EINVAL);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(r.rc_at_exit, 0);
    /* after connection_lost: ProcessLookupError */
    CHECK_ERR(aiotp_transport_send_signal(t, SIGTERM), -ESRCH);
    CHECK_ERR(aiotp_transport_terminate(t), -ESRCH);
    CHECK_ERR(aiotp_transport_kill(t), -ESRCH);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK(aiotp_transport_is_closing(t));
    /* passes later (the oracle has let its state go): the same answers */
    th_run_passes(loop, 2);
    CHECK_ERR(aiotp_transport_kill(t), -ESRCH);
    CHECK_ERR(aiotp_transport_send_signal(t, SIGTERM), -ESRCH);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
}

TEST(close_kills_a_running_child)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    aiotp_transport *t;
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, NULL);
    CHECK(!aiotp_transport_is_closing(t));
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK(aiotp_transport_is_closing(t));
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK(aiotp_transport_is_closing(aiotp_transport_get_pipe_transport(t, 0)));
    CHECK(aiotp_transport_is_closing(aiotp_transport_get_pipe_transport(t, 1)));
    CHECK(aiotp_transport_is_closing(aiotp_transport_get_pipe_transport(t, 2)));
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(r.rc_at_exit, -SIGKILL);
    CHECK_INT(r.pipe_lost[0] + r.pipe_lost[1] + r.pipe_lost[2], 3);
    CHECK_INT(r.pipe_lost_status[0], 0);
    CHECK_INT(r.pipe_lost_status[1], 0);
    CHECK_INT(r.chunks[1] + r.chunks[2], 0);
}

TEST(close_does_not_kill_an_exited_child)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    /* the child exits at once; a grandchild keeps the pipes open until stdin ends */
    const char *argv[] = {TH_CHILD, "grandchild:late", "exit:5", NULL};
    aiotp_transport *t;
    long kills;
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, NULL);
    th_run_until(loop, th_sp_is_exited, &r, 50);
    CHECK_INT(r.rc_at_exit, 5);
    CHECK_INT(r.lost, 0); /* the pipes are still open */
    kills = th_f.kill_calls;
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK_INT(th_f.kill_calls, kills); /* reaped: no signal (its pid may be reused) */
    CHECK(aiotp_transport_is_closing(t));
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(r.pipe_lost[0] + r.pipe_lost[1] + r.pipe_lost[2], 3);
}

TEST(shell_command)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    int rc = -1;
    th_sp_init(&r);
    CHECK_ERR(th_sp_shell(loop, &r, "exec " TH_CHILD " out:x exit:7", NULL), 0);
    th_sp_wait_done(loop, &r);
    CHECK_ERR(r.done_status, 0);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_SIZE(r.out_len[1], 1);
    CHECK_INT(r.out[1][0], 'x');
    CHECK_INT(aiotp_transport_get_returncode(r.t, &rc), 1);
    CHECK_INT(rc, 7);
}

TEST(bad_arguments)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "exit:0", NULL};
    const char *empty[] = {NULL};
    aiotp_subprocess_options o;
    int p[2];
    th_sp_init(&r);
    CHECK_ERR(aiotp_loop_subprocess_exec(NULL, NULL, NULL, argv, NULL, NULL, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(th_sp_exec(loop, &r, NULL, NULL), AIOTP_EINVAL);
    CHECK_ERR(th_sp_exec(loop, &r, empty, NULL), AIOTP_EINVAL);
    CHECK_ERR(th_sp_shell(loop, &r, NULL, NULL), AIOTP_EINVAL);
    aiotp_subprocess_options_init(NULL); /* nothing happens */
    aiotp_subprocess_options_init(&o);
    o.size = 8;
    CHECK_ERR(th_sp_exec(loop, &r, argv, &o), AIOTP_EINVAL);
    aiotp_subprocess_options_init(&o);
    o.stdio[1].kind = (aiotp_stdio_kind)99;
    CHECK_ERR(th_sp_exec(loop, &r, argv, &o), AIOTP_EINVAL);
    aiotp_subprocess_options_init(&o);
    o.stdio[0].kind = AIOTP_STDIO_STDOUT; /* stderr only */
    CHECK_ERR(th_sp_exec(loop, &r, argv, &o), AIOTP_EINVAL);
    aiotp_subprocess_options_init(&o);
    o.stdio[1].kind = AIOTP_STDIO_STDOUT;
    CHECK_ERR(th_sp_exec(loop, &r, argv, &o), AIOTP_EINVAL);
    aiotp_subprocess_options_init(&o);
    o.stdio[0].kind = AIOTP_STDIO_FD;
    o.stdio[0].fd = -1;
    CHECK_ERR(th_sp_exec(loop, &r, argv, &o), AIOTP_EBADF);
    /* a closed fd as stdin */
    th_pipe(p);
    th_peer_close(p[0]);
    th_peer_close(p[1]);
    o.stdio[0].fd = p[0];
    CHECK_ERR(th_sp_exec(loop, &r, argv, &o), AIOTP_EBADF);
    th_run_passes(loop, 2);
    CHECK_INT(r.factory_calls, 0);
    CHECK_INT(r.done, 0);
    CHECK_INT(th_f.spawn_calls, 0); /* nothing was started */
}

/* The start failed: the completion has the status; no factory, no transport. */
static void expect_failed_start(aiotp_loop *loop, th_sp *r, int expect)
{
    th_sp_wait_done(loop, r);
    CHECK_ERR(r->done_status, expect);
    CHECK_INT(r->factory_calls, 0);
    CHECK_INT(r->made, 0);
}

static void failed_start(const char *program, int expect)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {program, "x", NULL};
    th_sp_init(&r);
    CHECK_ERR(th_sp_exec(loop, &r, argv, NULL), 0);
    CHECK_INT(r.done, 0); /* never inside the call */
    expect_failed_start(loop, &r, expect);
    CHECK_INT(th_count_lines("t1 "), 0); /* no transport */
}

TEST(missing_program_is_enoent)
{
    failed_start("/nonexistent/aiotp-no-such-program", -ENOENT);
}

TEST(program_not_executable_is_eacces)
{
    failed_start("/dev/null", -EACCES);
}

TEST(missing_name_on_path_is_enoent)
{
    failed_start("aiotp-no-such-program-on-path", -ENOENT);
}

TEST(missing_working_directory)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "exit:0", NULL};
    aiotp_subprocess_options o;
    aiotp_subprocess_options_init(&o);
    o.cwd = "/nonexistent/aiotp-dir";
    th_sp_init(&r);
    CHECK_ERR(th_sp_exec(loop, &r, argv, &o), 0);
    expect_failed_start(loop, &r, -ENOENT);
}

TEST(working_directory_and_environment)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    char *env[] = {(char *)"AIOTP_T=bar", NULL};
    aiotp_subprocess_options o;
    aiotp_subprocess_options_init(&o);
    o.cwd = "/";
    o.env = env;
    th_sp_init(&r);
    if (th_sim_mode()) {
        /* the sim has no environment or directories of its own: the spawn entry is
           given them (the shell's words run as a script), and the call works */
        CHECK_ERR(th_sp_shell(loop, &r, TH_CHILD " out:bar/ exit:0", &o), 0);
    } else {
        CHECK_ERR(th_sp_shell(loop, &r, "printf %s \"$AIOTP_T\"; pwd", &o), 0);
    }
    th_sp_wait_done(loop, &r);
    CHECK_ERR(r.done_status, 0);
    th_sp_wait_lost(loop, &r, 50);
    CHECK(r.out_len[1] >= 4);
    CHECK(memcmp(r.out[1], "bar/", 4) == 0);
    CHECK_INT(r.rc_at_exit, 0);
}

TEST(start_faults_reach_the_completion)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "exit:0", NULL};
    th_sp_init(&r);
    th_f.pipe_errno = EMFILE;
    CHECK_ERR(th_sp_exec(loop, &r, argv, NULL), 0);
    th_f.pipe_errno = 0;
    expect_failed_start(loop, &r, -EMFILE);
    th_sp_init(&r);
    th_f.spawn_errno = EAGAIN;
    CHECK_ERR(th_sp_exec(loop, &r, argv, NULL), 0);
    th_f.spawn_errno = 0;
    expect_failed_start(loop, &r, -EAGAIN);
}

TEST(factory_refuses_the_child)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    long kills = th_f.kill_calls;
    th_sp_init(&r);
    r.factory_ret = AIOTP_ECANCELED;
    CHECK_ERR(th_sp_exec(loop, &r, argv, NULL), 0);
    th_sp_wait_done(loop, &r);
    CHECK_ERR(r.done_status, AIOTP_ECANCELED);
    CHECK_INT(th_f.kill_calls, kills + 1); /* killed; its watch reaps it */
    th_run_passes(loop, 5);
}

TEST(factory_gives_the_wrong_table)
{
    aiotp_loop *loop = th_exc_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    th_sp_init(&r);
    r.proto = &th_streaming;
    CHECK_ERR(th_sp_exec(loop, &r, argv, NULL), 0);
    th_sp_wait_done(loop, &r);
    CHECK_ERR(r.done_status, AIOTP_EPROTOKIND);
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, AIOTP_EPROTOKIND);
}

TEST(loop_free_kills_and_reaps)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    aiotp_transport *t;
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, NULL);
    CHECK(t != NULL);
    th_loop_free(loop); /* the harness then finds no child left */
    CHECK_INT(r.lost, 0); /* no callback */
    CHECK_INT(r.exited, 0);
}

TEST(loop_free_before_the_next_pass)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    th_sp_init(&r);
    CHECK_ERR(th_sp_exec(loop, &r, argv, NULL), 0);
    th_loop_free(loop);
    CHECK_INT(r.done, 0);
    CHECK_INT(r.factory_calls, 0);
}

TEST(retained_after_loop_free)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    aiotp_transport *t;
    pid_t pid;
    th_sp_init(&r);
    CHECK_ERR(th_sp_exec(loop, &r, argv, NULL), 0);
    th_sp_wait_done(loop, &r);
    t = r.done_t;
    aiotp_transport_retain(t);
    pid = aiotp_transport_get_pid(t);
    th_loop_free(loop);
    CHECK(aiotp_transport_is_closing(t));
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_kill(t), -ESRCH);
    CHECK_INT(aiotp_transport_get_pid(t), pid);
    CHECK(aiotp_transport_get_pipe_transport(t, 0) == NULL);
    aiotp_transport_release(t);
}

TEST(allocation_failures_leave_nothing)
{
    long k;
    int phase;
    for (phase = 0; phase < 2; phase++) {
        int ok = 0;
        /* phase 0: the k-th allocation of the call fails; phase 1: of the next pass (the
           factory, the transport and its pipes) */
        for (k = 0; k < 40 && ok == 0; k++) {
            aiotp_loop *loop = th_loop();
            th_sp r;
            const char *argv[] = {TH_CHILD, "exit:0", NULL};
            int rc;
            th_sp_init(&r);
            th_f.alloc_fail_after = phase == 0 ? k : -1;
            rc = th_sp_exec(loop, &r, argv, NULL);
            th_f.alloc_fail_after = -1;
            if (rc == 0) {
                if (phase == 1) {
                    th_f.alloc_fail_after = k;
                    (void)aiotp_loop_run_once(loop); /* may fail itself: ENOMEM */
                    th_f.alloc_fail_after = -1;
                }
                th_run_until(loop, th_sp_is_done, &r, 20);
                CHECK_INT(r.done, 1);
                if (r.done_status == 0) {
                    th_keep(r.done_t);
                    th_sp_wait_lost(loop, &r, 50);
                    ok = 1;
                } else {
                    CHECK_ERR(r.done_status, AIOTP_ENOMEM);
                    CHECK_INT(r.made, 0);
                }
            } else {
                CHECK_ERR(rc, AIOTP_ENOMEM);
            }
            th_loop_free(loop);
        }
        CHECK_INT(ok, 1);
        CHECK(k > 1); /* some failed */
    }
}

static void all_closed(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
}

static bool is_one(void *arg)
{
    return *(int *)arg == 1;
}

TEST(close_all_ends_the_subprocess)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    int done = 0;
    th_sp_init(&r);
    (void)th_sp_start(loop, &r, argv, NULL);
    CHECK_INT(aiotp_loop_close_all(loop, false, all_closed, &done), 0);
    th_run_until(loop, is_one, &done, 50);
    CHECK_INT(r.lost, 1); /* connection_lost before close_all's done */
    CHECK_INT(r.rc_at_exit, -SIGKILL);
    CHECK_INT(r.pipe_lost[0] + r.pipe_lost[1] + r.pipe_lost[2], 3);
}

TEST(close_after_a_pipe_was_closed)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    aiotp_transport *t;
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, NULL);
    CHECK_INT(aiotp_transport_close(aiotp_transport_get_pipe_transport(t, 0)), 0);
    CHECK_INT(aiotp_transport_close(t), 0); /* stdin is closing already: left alone */
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(r.pipe_lost[0], 1);
    CHECK_INT(th_count_lines("t2 call close"), 1);
    CHECK_INT(r.rc_at_exit, -SIGKILL);
}

TEST(child_watch_fails)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    th_sp_init(&r);
    th_f.no_pidfd = true; /* SIGCHLD, and sigwatch fails: the child cannot be watched */
    th_f.sigwatch_errno = EINVAL;
    CHECK_ERR(th_sp_exec(loop, &r, argv, NULL), 0);
    th_f.sigwatch_errno = 0;
    CHECK_INT(th_f.kill_calls, 1); /* killed and reaped inside the call */
    expect_failed_start(loop, &r, -EINVAL);
}

static const th_case cases[] = {
    T(exec_output_and_exit_code,
      "SUBPROC-ORDER-1 SUBPROC-EXIT-1 SUBPROC-LOST-1 SUBPROC-PIPE-1 SUBPROC-PIPE-2"),
    T(pid_and_extra_info, "SUBPROC-EXTRA-1 SUBPROC-RC-1 TRANSPORT-KIND-2"),
    T(pipe_transports_of_each_fd, "SUBPROC-PIPES-1"),
    T(stdio_devnull_and_stderr_to_stdout, "SUBPROC-START-3 SUBPROC-PIPES-1"),
    T(stdio_given_fd_and_inherit, "SUBPROC-START-3 SUBPROC-LOST-1"),
    T(returncode_after_kill, "SUBPROC-RC-1 SUBPROC-SIGNAL-1"),
    T(returncode_after_terminate, "SUBPROC-RC-1 SUBPROC-SIGNAL-1"),
    T(returncode_after_send_signal, "SUBPROC-RC-1 SUBPROC-SIGNAL-1"),
    T(signals_to_an_exited_child, "SUBPROC-SIGNAL-1 SUBPROC-CLOSE-1 BAD-2"),
    T(close_kills_a_running_child, "SUBPROC-CLOSE-1"),
    T(close_does_not_kill_an_exited_child, "SUBPROC-CLOSE-1 SUBPROC-LOST-1"),
    T(shell_command, "SUBPROC-START-1"),
    T(bad_arguments, "SUBPROC-START-1 BAD-1"),
    T(missing_program_is_enoent, "SUBPROC-START-2"),
    T(program_not_executable_is_eacces, "SUBPROC-START-2"),
    T(missing_name_on_path_is_enoent, "SUBPROC-START-2"),
    T(missing_working_directory, "SUBPROC-START-2"),
    T(working_directory_and_environment, "SUBPROC-START-3"),
    T(start_faults_reach_the_completion, "SUBPROC-START-2"),
    T(factory_refuses_the_child, "SUBPROC-START-4 CHILD-3"),
    T(factory_gives_the_wrong_table, "SUBPROC-START-4 PROTO-KIND-1"),
    T(loop_free_kills_and_reaps, "SUBPROC-FREE-1 CHILD-3"),
    T(loop_free_before_the_next_pass, "SUBPROC-FREE-1 CHILD-3"),
    T(retained_after_loop_free, "SUBPROC-FREE-1 LIFE-1"),
    T(allocation_failures_leave_nothing, "SUBPROC-START-4 BAD-1"),
    T(close_all_ends_the_subprocess, "SUBPROC-CLOSE-1 CLOSE-1"),
    T(close_after_a_pipe_was_closed, "SUBPROC-CLOSE-1 SUBPROC-PIPES-1"),
    T(child_watch_fails, "SUBPROC-START-2 CHILD-3"),
};

TH_MAIN_SIM(cases)
