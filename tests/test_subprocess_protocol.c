/* tests/test_subprocess_protocol.c - Subprocess Protocols: connection_made,
   pipe_data_received(fd, data), pipe_connection_lost(fd, status), process_exited,
   connection_lost, in the documented order; stdin's flow control; failing callbacks;
   calls from inside every callback. spec/rules.md "Subprocess transports and protocols"
   (SUBPROC-*), CPython §6.2. Runs on poll, epoll and the sim, with both child watchers;
   every trace goes through the oracle (the harness). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "aiotp/sim.h"
#include "subproc_helpers.h"

TEST(documented_order_with_exact_lines)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "out:hello", "err:oops", "exit:3", NULL};
    th_expect ex;
    const char *cbs;
    th_sp_init(&r);
    (void)th_sp_start(loop, &r, argv, NULL);
    th_sp_wait_lost(loop, &r, 50);
    th_ex_init(&ex);
    th_ex_line(&ex, "cb connection_made");
    th_ex_linef(&ex, "cb pipe_data_received fd=1 n=5 total=5 sum=%08x",
                (unsigned)th_sum(TH_SUM_INIT, "hello", 5));
    th_ex_linef(&ex, "cb pipe_data_received fd=2 n=4 total=4 sum=%08x",
                (unsigned)th_sum(TH_SUM_INIT, "oops", 4));
    cbs = th_callbacks(1);
    /* made and the data first (one chunk each); process_exited may come anywhere after
       connection_made (both orders are CPython's too, §6.2) */
    {
        static char noexit[4096];
        const char *x = strstr(cbs, "cb process_exited returncode=3\n");
        CHECK(x != NULL);
        if (x != NULL && strlen(cbs) < sizeof(noexit)) {
            size_t a = (size_t)(x - cbs);
            memcpy(noexit, cbs, a);
            strcpy(noexit + a, x + strlen("cb process_exited returncode=3\n"));
            CHECK(strncmp(noexit, ex.s, ex.len) == 0);
        }
    }
    CHECK_INT(th_count_lines("t1 cb pipe_connection_lost fd=0 status=0"), 1);
    CHECK_INT(th_count_lines("t1 cb pipe_connection_lost fd=1 status=0"), 1);
    CHECK_INT(th_count_lines("t1 cb pipe_connection_lost fd=2 status=0"), 1);
    CHECK_INT(th_count_lines("t1 cb process_exited returncode=3"), 1);
    /* connection_lost last, in the pass after the last of the others (SUBPROC-LOST-2) */
    CHECK(strcmp(cbs + strlen(cbs) - strlen("cb connection_lost status=0\n"),
                 "cb connection_lost status=0\n") == 0);
    {
        uint64_t last = th_iter_of("t1 cb process_exited", 0);
        int i;
        for (i = 0; i < 3; i++) {
            uint64_t it = th_iter_of("t1 cb pipe_connection_lost", i);
            last = it > last ? it : last;
        }
        CHECK_INT(th_iter_of("t1 cb connection_lost", 0), last + 1);
    }
    /* each pipe_data_received inside its pipe's data_received (DEV-63) */
    CHECK_INT(th_count_lines("t3 cb data_received n=5"), 1);
    CHECK_INT(th_count_lines("t4 cb data_received n=4"), 1);
    if (th_sim_mode()) {
        /* the sim's order is fixed: the whole script runs in the first pass, so the exit
           is known before the data is read (CPython E10b saw this order too) */
        th_ex_init(&ex);
        th_ex_line(&ex, "cb connection_made");
        th_ex_line(&ex, "cb process_exited returncode=3");
        th_ex_linef(&ex, "cb pipe_data_received fd=1 n=5 total=5 sum=%08x",
                    (unsigned)th_sum(TH_SUM_INIT, "hello", 5));
        th_ex_linef(&ex, "cb pipe_data_received fd=2 n=4 total=4 sum=%08x",
                    (unsigned)th_sum(TH_SUM_INIT, "oops", 4));
        th_ex_line(&ex, "cb pipe_connection_lost fd=0 status=0");
        th_ex_line(&ex, "cb pipe_connection_lost fd=1 status=0");
        th_ex_line(&ex, "cb pipe_connection_lost fd=2 status=0");
        th_ex_line(&ex, "cb connection_lost status=0");
        CHECK_STR(cbs, ex.s);
    }
}

/* The exit is seen before connection_made: process_exited right after it, in its pass. */
TEST(exit_before_connection_made)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "exit:4", NULL};
    aiotp_subprocess_options o;
    int i;
    aiotp_subprocess_options_init(&o);
    for (i = 0; i < 3; i++) {
        o.stdio[i].kind = AIOTP_STDIO_DEVNULL;
    }
    th_sp_init(&r);
    CHECK_ERR(th_sp_exec(loop, &r, argv, &o), 0);
    if (th_sim_mode()) {
        CHECK_INT(aiotp_sim_child_exit(th_sim(), aiotp_sim_last_child(th_sim()), 4, 0), 0);
    } else {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        CHECK_INT(waitid(P_ALL, 0, &si, WEXITED | WNOWAIT), 0); /* exited, not reaped */
    }
    th_sp_wait_done(loop, &r);
    th_sp_wait_lost(loop, &r, 20);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb process_exited returncode=4\n"
                               "cb connection_lost status=0\n");
    CHECK_INT(th_iter_of("t1 cb process_exited", 0), th_iter_of("t1 cb connection_made", 0));
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0),
              th_iter_of("t1 cb connection_made", 0) + 1);
    CHECK_INT(r.rc_known_at_exit, 1);
    CHECK_INT(r.rc_at_exit, 4);
}

/* The exit reaped before the transport exists: with the SIGCHLD watcher, a check of the
   children that is already due in the pass of the call (here: the first check of another
   child's watch) reaps a child that exited right after its call, one pass before the
   factory runs; the exit is kept and told right after connection_made. */
typedef struct early {
    th_sp *r;
    aiotp_loop *loop;
} early;

static void exec_and_exit(aiotp_loop *loop, void *arg)
{
    early *e = arg;
    const char *argv[] = {TH_CHILD, "exit:4", NULL};
    aiotp_subprocess_options o;
    int i;
    (void)loop;
    aiotp_subprocess_options_init(&o);
    for (i = 0; i < 3; i++) {
        o.stdio[i].kind = AIOTP_STDIO_DEVNULL;
    }
    CHECK_ERR(th_sp_exec(e->loop, e->r, argv, &o), 0);
    if (th_sim_mode()) {
        CHECK_INT(aiotp_sim_child_exit(th_sim(), aiotp_sim_last_child(th_sim()), 4, 0), 0);
    } else {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        CHECK_INT(waitid(P_ALL, 0, &si, WEXITED | WNOWAIT), 0); /* the other one hangs */
    }
}

TEST(exit_before_the_transport_is_made)
{
    aiotp_loop *loop = th_loop();
    th_sp other;
    th_sp r;
    early e;
    const char *hang[] = {TH_CHILD, "hang", NULL};
    th_f.no_pidfd = true;
    th_sp_init(&other);
    th_sp_init(&r);
    e.r = &r;
    e.loop = loop;
    CHECK_ERR(th_sp_exec(loop, &other, hang, NULL), 0); /* its first check: next pass */
    CHECK_INT(aiotp_loop_call_soon(loop, exec_and_exit, &e, NULL), 0);
    th_sp_wait_done(loop, &r);
    th_sp_wait_lost(loop, &r, 20);
    CHECK_STR(th_callbacks(5), "cb connection_made\ncb process_exited returncode=4\n"
                               "cb connection_lost status=0\n");
    CHECK_INT(r.rc_at_exit, 4);
    th_sp_wait_done(loop, &other);
    CHECK_INT(aiotp_transport_close(other.done_t), 0);
    th_sp_wait_lost(loop, &other, 20);
}

static int count_made(th_sp *r, aiotp_transport *t, int fd)
{
    int rc = 0;
    (void)fd;
    (void)r;
    CHECK_INT(aiotp_transport_get_returncode(t, &rc), 0); /* not before process_exited */
    return 0;
}

TEST(stdin_flow_control_and_byte_count)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "count", "exit:0", NULL};
    static unsigned char big[1 << 20];
    char expect[64];
    aiotp_transport *t;
    aiotp_transport *in;
    size_t i;
    uint32_t sum;
    for (i = 0; i < sizeof(big); i++) {
        big[i] = (unsigned char)(i * 13 + 1);
    }
    sum = th_sum(TH_SUM_INIT, big, sizeof(big));
    th_sp_init(&r);
    r.on_made = count_made;
    t = th_sp_start(loop, &r, argv, NULL);
    in = aiotp_transport_get_pipe_transport(t, 0);
    CHECK_INT(aiotp_transport_write(in, big, sizeof(big)), 0);
    CHECK_INT(r.pauses, 1); /* stdin's pause_writing reaches the SubprocessProtocol */
    CHECK_INT(aiotp_transport_close(in), 0); /* flushed, then end of file */
    th_sp_wait_lost(loop, &r, 2000);
    CHECK_INT(r.resumes, 1);
    snprintf(expect, sizeof(expect), "n=%zu sum=%08x\n", sizeof(big), (unsigned)sum);
    CHECK_SIZE(r.out_len[1], strlen(expect));
    CHECK(memcmp(r.out[1], expect, strlen(expect)) == 0);
    CHECK_INT(r.pipe_lost_status[0], 0);
    CHECK_INT(r.rc_at_exit, 0);
}

TEST(child_exits_with_stdin_data_pending)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "wait", "exit:0", NULL};
    static unsigned char big[1 << 20];
    aiotp_transport *t;
    memset(big, 'a', sizeof(big));
    big[0] = '\n'; /* the child's wait ends at once; the rest stays queued */
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, NULL);
    CHECK_INT(aiotp_transport_write(aiotp_transport_get_pipe_transport(t, 0), big,
                                    sizeof(big)), 0);
    th_sp_wait_lost(loop, &r, 200);
    CHECK_INT(r.pipe_lost[0], 1);
    CHECK_ERR(r.pipe_lost_status[0], -EPIPE); /* data lost (CPython: BrokenPipeError) */
    CHECK_INT(r.rc_at_exit, 0);
}

TEST(failing_callbacks_are_reported)
{
    aiotp_loop *loop = th_exc_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "out:x", "exit:0", NULL};
    th_sp_init(&r);
    r.cb_ret = -EIO;
    (void)th_sp_start(loop, &r, argv, NULL);
    th_sp_wait_lost(loop, &r, 50);
    /* made, data, three pipe losses, exited, lost: each failure reported, nothing ends
       early */
    CHECK_INT(th_exc.n, 7);
    CHECK_ERR(th_exc.status, -EIO);
    CHECK_INT(r.pipe_lost[0] + r.pipe_lost[1] + r.pipe_lost[2], 3);
    CHECK_INT(r.exited, 1);
}

/* ---- calls from inside every callback ---------------------------------------------------- */

static int close_in_made(th_sp *r, aiotp_transport *t, int fd)
{
    (void)fd;
    (void)r;
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK(aiotp_transport_is_closing(t));
    return 0;
}

TEST(close_inside_connection_made)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "hang", NULL};
    th_sp_init(&r);
    r.on_made = close_in_made;
    (void)th_sp_start(loop, &r, argv, NULL);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(r.rc_at_exit, -SIGKILL);
    CHECK_INT(r.pipe_lost[0] + r.pipe_lost[1] + r.pipe_lost[2], 3);
}

static int close_in_data(th_sp *r, aiotp_transport *t, int fd)
{
    (void)r;
    CHECK_INT(fd, 1);
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_INT(aiotp_transport_kill(t), 0); /* still running: sent again */
    return 0;
}

TEST(close_inside_pipe_data_received)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "out:first", "hang", NULL};
    th_sp_init(&r);
    r.on_data = close_in_data;
    (void)th_sp_start(loop, &r, argv, NULL);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(r.chunks[1], 1); /* nothing after close() */
    CHECK_INT(r.rc_at_exit, -SIGKILL);
}

static int calls_in_pipe_lost(th_sp *r, aiotp_transport *t, int fd)
{
    (void)r;
    CHECK(aiotp_transport_get_pipe_transport(t, fd) == NULL); /* gone */
    CHECK(!aiotp_transport_is_closing(t));
    return 0;
}

static int calls_in_exited(th_sp *r, aiotp_transport *t, int fd)
{
    int rc = -1;
    (void)fd;
    (void)r;
    CHECK_INT(aiotp_transport_get_returncode(t, &rc), 1);
    CHECK_INT(rc, 9);
    CHECK_INT(aiotp_transport_send_signal(t, SIGTERM), 0); /* no effect */
    return 0;
}

static int calls_in_lost(th_sp *r, aiotp_transport *t, int fd)
{
    int rc = -1;
    (void)fd;
    (void)r;
    CHECK(aiotp_transport_is_closing(t));
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_kill(t), -ESRCH);
    CHECK_INT(aiotp_transport_get_returncode(t, &rc), 1);
    CHECK_INT(rc, 9);
    CHECK(aiotp_transport_get_pipe_transport(t, 1) == NULL);
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_subprocess, r), AIOTP_ECLOSED);
    return 0;
}

TEST(calls_inside_the_other_callbacks)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "out:x", "exit:9", NULL};
    th_sp_init(&r);
    r.on_pipe_lost = calls_in_pipe_lost;
    r.on_exited = calls_in_exited;
    r.on_lost = calls_in_lost;
    (void)th_sp_start(loop, &r, argv, NULL);
    th_sp_wait_lost(loop, &r, 50);
    CHECK_INT(r.lost, 1);
}

static th_sp second;

static int switch_protocol(th_sp *r, aiotp_transport *t, int fd)
{
    (void)fd;
    (void)r;
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_streaming, NULL), AIOTP_EPROTOKIND);
    CHECK_INT(aiotp_transport_set_protocol(t, &th_subprocess, &second), 0);
    {
        void *d = NULL;
        CHECK(aiotp_transport_get_protocol(t, &d) == &th_subprocess);
        CHECK(d == &second);
    }
    return 0;
}

TEST(set_protocol_takes_the_next_event)
{
    aiotp_loop *loop = th_exc_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "out:x", "exit:2", NULL};
    th_sp_init(&r);
    th_sp_init(&second);
    r.on_made = switch_protocol;
    (void)th_sp_start(loop, &r, argv, NULL);
    th_sp_wait_lost(loop, &second, 50);
    CHECK_INT(r.exited + r.lost + r.chunks[1], 0);
    CHECK_INT(second.chunks[1], 1);
    CHECK_INT(second.exited, 1);
    CHECK_INT(second.rc_at_exit, 2);
    CHECK_INT(th_exc.n, 1); /* the refused table was named */
}

static bool t1_lost(void *arg)
{
    (void)arg;
    return th_count_lines("t1 cb connection_lost") > 0;
}

static const aiotp_protocol empty_table = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_SUBPROCESS,
};

TEST(a_table_without_callbacks)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "out:x", "err:y", "drain", "exit:6", NULL};
    static unsigned char big[256 * 1024];
    aiotp_transport *t;
    aiotp_transport *in;
    int rc = -1;
    memset(big, 'z', sizeof(big));
    th_sp_init(&r);
    r.proto = &empty_table; /* every callback the default: nothing */
    CHECK_ERR(th_sp_exec(loop, &r, argv, NULL), 0);
    th_sp_wait_done(loop, &r);
    t = r.done_t;
    CHECK(t != NULL);
    in = aiotp_transport_get_pipe_transport(t, 0);
    CHECK_INT(aiotp_transport_write(in, big, sizeof(big)), 0); /* pause_writing: none */
    CHECK_INT(aiotp_transport_close(in), 0);
    th_run_until(loop, t1_lost, NULL, 2000);
    CHECK_INT(th_count_lines("t1 cb connection_lost status=0"), 1);
    CHECK_INT(th_count_lines("t1 cb pipe_data_received fd=1 n=1"), 1);
    CHECK_INT(th_count_lines("t1 cb pipe_data_received fd=2 n=1"), 1);
    CHECK_INT(aiotp_transport_get_returncode(t, &rc), 1);
    CHECK_INT(rc, 6);
    CHECK_INT(r.made + r.lost + r.exited, 0); /* the recorder was not the table */
}

static const th_case cases[] = {
    T(documented_order_with_exact_lines,
      "SUBPROC-MADE-1 SUBPROC-ORDER-1 SUBPROC-PIPE-1 SUBPROC-PIPE-2 SUBPROC-LOST-2"),
    T(exit_before_connection_made, "SUBPROC-ORDER-1 SUBPROC-EXIT-1 SUBPROC-LOST-2"),
    T(exit_before_the_transport_is_made, "SUBPROC-ORDER-1 SUBPROC-EXIT-1 CHILD-1 CHILD-2"),
    T(stdin_flow_control_and_byte_count, "SUBPROC-FLOW-1 SUBPROC-RC-1"),
    T(child_exits_with_stdin_data_pending, "SUBPROC-PIPE-3"),
    T(failing_callbacks_are_reported, "SUBPROC-CB-1 PROTO-BASE-5"),
    T(close_inside_connection_made, "SUBPROC-CLOSE-1 SUBPROC-REENTRY-1"),
    T(close_inside_pipe_data_received, "SUBPROC-CLOSE-1 SUBPROC-REENTRY-1"),
    T(calls_inside_the_other_callbacks, "SUBPROC-REENTRY-1 SUBPROC-SIGNAL-1 SUBPROC-PIPES-1"),
    T(set_protocol_takes_the_next_event, "SUBPROC-REENTRY-1 PROTO-KIND-2"),
    T(a_table_without_callbacks, "SUBPROC-ORDER-1 SUBPROC-FLOW-1"),
};

TH_MAIN_SIM(cases)
