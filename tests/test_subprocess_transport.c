/* tests/test_subprocess_transport.c - Subprocess Transports: subprocess_exec /
   subprocess_shell and the SubprocessTransport (get_pid, get_pipe_transport,
   get_returncode, send_signal, terminate, kill, close, is_closing, get_extra_info).
   spec/rules.md "Subprocess transports and protocols" (SUBPROC-*), CPython §6.1, §6.3.
   Runs on poll, epoll and the sim (the child: tests/th_child's script). */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "subproc_helpers.h"

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
    CHECK_INT(r.lost_status, 0);
    CHECK(r.order[0] == 'M');
    CHECK(r.order[r.norder - 1] == 'L');
}

static const th_case cases[] = {
    T(exec_output_and_exit_code, "SUBPROC-ORDER-1 SUBPROC-EXIT-1 SUBPROC-LOST-1"),
};

TH_MAIN_SIM(cases)
