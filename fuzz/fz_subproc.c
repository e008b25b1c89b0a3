/*
 * fuzz/fz_subproc.c - the subprocess transport on the simulated kernel: a child started
 * with aiotp_loop_subprocess_exec (the header byte chooses its stdio: pipes, /dev/null,
 * stderr to stdout, and the pidfd or the SIGCHLD watcher), then a schedule of the child's
 * acts (writes to its stdout/stderr, reads of its stdin, closes, exits, deaths by a
 * signal, a grandchild keeping the pipes), the user's calls (close, send_signal,
 * terminate, kill, writes to stdin and its close, the queries, calls from inside every
 * callback) and loop passes. After every record: the oracle (every trace line), the
 * protocol's counts (connection_made once and first, connection_lost once and last,
 * process_exited once, one pipe_connection_lost per pipe) and the queries agree. At the
 * end: close, the loop runs, connection_lost must come, no child left unreaped, no sim fd
 * open, no allocation left.
 *
 * Records (fz_common.h): op % 16 with a and b:
 *   0, 1  the child writes b % 512 + 1 bytes to fd 1 / fd 2
 *   2     the child reads up to b % 4096 bytes of its stdin
 *   3     the child closes its fd a % 3
 *   4     the child exits with status b % 256 (a & 1: a grandchild keeps its fds)
 *   5     the child dies by SIGKILL / SIGTERM (a & 1)
 *   6     close()          7  send_signal(b % 70 - 2)   8  terminate()   9  kill()
 *   10    write b % 65536 + 1 bytes to the stdin pipe   11  close the stdin pipe
 *   12    the queries (get_returncode, get_pipe_transport(a % 5 - 1), is_closing, get_pid)
 *   13    arm a call (a % 4: close, kill, stdin write, stdin close) for the next callback
 *         (b % 5: made, data, pipe_lost, exited, lost)
 *   14, 15  one loop pass
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "fz_common.h"

int fz_subproc_run(const uint8_t *data, size_t size);

enum { CB_MADE, CB_DATA, CB_PIPE_LOST, CB_EXITED, CB_LOST, CB_COUNT };

static struct {
    aiotp_sim *sim;
    aiotp_loop *loop;
    aiotp_transport *t;
    pid_t pid;
    int done;
    int done_status;
    int made;
    int lost;
    int exited;
    int pipe_lost[3];
    int returncode;
    bool armed;
    unsigned arm_cb;
    unsigned arm_act;
    unsigned pipes; /* the pipes the transport was made with (bit fd) */
} S;

/* What the transport writes and the child writes: zero bytes (static storage; their
   values matter to nothing but the trace's sums), never written: filling 64 KiB with 'x'
   at every input was a twentieth of its time. What the child reads from its stdin goes
   to `sink`. */
static unsigned char buf[65536];
static unsigned char sink[4096];

static void do_act(unsigned act)
{
    aiotp_transport *in = aiotp_transport_get_pipe_transport(S.t, 0);
    switch (act) {
    case 0:
        (void)aiotp_transport_close(S.t);
        break;
    case 1:
        (void)aiotp_transport_kill(S.t);
        break;
    case 2:
        if (in != NULL) {
            (void)aiotp_transport_write(in, buf, 100);
        }
        break;
    default:
        if (in != NULL) {
            (void)aiotp_transport_close(in);
        }
        break;
    }
}

static void call_in(unsigned cb)
{
    if (S.armed && S.arm_cb == cb) {
        S.armed = false;
        do_act(S.arm_act);
    }
}

static int made(aiotp_transport *t, void *d)
{
    (void)d;
    FZ_REQUIRE(S.made == 0 && S.lost == 0, "SUBPROC-ORDER-1", "connection_made again");
    S.made++;
    S.t = t;
    call_in(CB_MADE);
    return 0;
}

static int pdata(aiotp_transport *t, void *d, int fd, const void *b, size_t n)
{
    (void)t;
    (void)d;
    (void)b;
    FZ_REQUIRE(S.made == 1 && S.lost == 0, "SUBPROC-ORDER-1", "data outside made..lost");
    FZ_REQUIRE((fd == 1 || fd == 2) && n > 0 && S.pipe_lost[fd] == 0, "SUBPROC-PIPE-1",
               "pipe_data_received fd=%d n=%zu", fd, n);
    call_in(CB_DATA);
    return 0;
}

static int plost(aiotp_transport *t, void *d, int fd, int status)
{
    (void)t;
    (void)d;
    (void)status;
    FZ_REQUIRE(S.made == 1 && S.lost == 0, "SUBPROC-ORDER-1", "pipe lost outside made..lost");
    FZ_REQUIRE(fd >= 0 && fd <= 2 && S.pipe_lost[fd] == 0 && (S.pipes >> fd & 1u),
               "SUBPROC-PIPE-1", "pipe_connection_lost fd=%d", fd);
    S.pipe_lost[fd]++;
    FZ_REQUIRE(aiotp_transport_get_pipe_transport(t, fd) == NULL, "SUBPROC-PIPES-1",
               "the lost pipe %d is still given", fd);
    call_in(CB_PIPE_LOST);
    return 0;
}

static int pexited(aiotp_transport *t, void *d)
{
    (void)d;
    FZ_REQUIRE(S.made == 1 && S.lost == 0 && S.exited == 0, "SUBPROC-EXIT-1",
               "process_exited again or outside made..lost");
    S.exited++;
    FZ_REQUIRE(aiotp_transport_get_returncode(t, &S.returncode) == 1, "SUBPROC-RC-1",
               "no return code inside process_exited");
    call_in(CB_EXITED);
    return 0;
}

static int plost_all(aiotp_transport *t, void *d, int status)
{
    int fd;
    (void)t;
    (void)d;
    FZ_REQUIRE(S.made == 1 && S.lost == 0 && status == 0, "SUBPROC-ORDER-1",
               "connection_lost again, early or with %d", status);
    FZ_REQUIRE(S.exited == 1, "SUBPROC-LOST-1", "connection_lost before process_exited");
    for (fd = 0; fd < 3; fd++) {
        FZ_REQUIRE(S.pipe_lost[fd] == (int)(S.pipes >> fd & 1u), "SUBPROC-LOST-1",
                   "connection_lost with pipe %d open", fd);
    }
    S.lost++;
    call_in(CB_LOST);
    return 0;
}

static const aiotp_protocol proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_SUBPROCESS,
    .connection_made = made,
    .connection_lost = plost_all,
    .pipe_data_received = pdata,
    .pipe_connection_lost = plost,
    .process_exited = pexited,
};

static int factory(void *arg, const aiotp_protocol **p, void **d)
{
    (void)arg;
    *p = &proto;
    *d = NULL;
    return 0;
}

static void done(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    S.done++;
    S.done_status = status;
    FZ_REQUIRE(status != 0 || (t == S.t && S.made == 1), "SUBPROC-MADE-1",
               "completion before connection_made");
    if (t != NULL) {
        aiotp_transport_retain(t);
    }
}

static void on_exception(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)loop;
    (void)ctx;
    (void)arg;
}

static void check_state(void)
{
    int rc = 0;
    if (S.t == NULL) {
        return;
    }
    FZ_REQUIRE(aiotp_transport_get_returncode(S.t, &rc) == (S.exited ? 1 : 0), "SUBPROC-RC-1",
               "get_returncode disagrees with process_exited");
    FZ_REQUIRE(!S.exited || rc == S.returncode, "SUBPROC-RC-1", "return code changed");
    FZ_REQUIRE(aiotp_transport_get_pid(S.t) == S.pid, "SUBPROC-EXTRA-1", "pid");
    FZ_REQUIRE(!S.lost || aiotp_transport_is_closing(S.t), "SUBPROC-CLOSE-1",
               "not closing after connection_lost");
}

static void step(uint8_t op, uint8_t a, uint16_t b)
{
    aiotp_transport *in = S.t != NULL ? aiotp_transport_get_pipe_transport(S.t, 0) : NULL;
    switch (op % 16u) {
    case 0:
    case 1:
        (void)aiotp_sim_child_write(S.sim, S.pid, 1 + op % 16u, buf, b % 512u + 1u);
        break;
    case 2:
        (void)aiotp_sim_child_read(S.sim, S.pid, 0, sink, b % 4096u);
        break;
    case 3:
        (void)aiotp_sim_child_close(S.sim, S.pid, a % 3u);
        break;
    case 4:
        (void)aiotp_sim_child_exit(S.sim, S.pid, b % 256u, (a & 1u) ? AIOTP_SIM_KEEP_FDS : 0);
        break;
    case 5:
        (void)aiotp_sim_child_exit(S.sim, S.pid, (a & 1u) ? -SIGTERM : -SIGKILL, 0);
        break;
    case 6:
    case 7:
    case 8:
    case 9:
        if (S.t != NULL) {
            int rc = op % 16u == 6   ? aiotp_transport_close(S.t)
                     : op % 16u == 7 ? aiotp_transport_send_signal(S.t, (int)(b % 70u) - 2)
                     : op % 16u == 8 ? aiotp_transport_terminate(S.t)
                                     : aiotp_transport_kill(S.t);
            FZ_REQUIRE(!S.lost || rc == AIOTP_ECLOSED || rc == -ESRCH || rc == AIOTP_EINVAL,
                       "SUBPROC-SIGNAL-1", "a call after connection_lost returned %d", rc);
        }
        break;
    case 10:
        if (in != NULL) {
            (void)aiotp_transport_write(in, buf, b % 65536u + 1u);
        }
        break;
    case 11:
        if (in != NULL) {
            (void)aiotp_transport_close(in);
        }
        break;
    case 12:
        if (S.t != NULL) {
            (void)aiotp_transport_get_pipe_transport(S.t, (int)(a % 5u) - 1);
            (void)aiotp_transport_is_closing(S.t);
        }
        break;
    case 13:
        S.armed = true;
        S.arm_act = a % 4u;
        S.arm_cb = b % 5u;
        break;
    default:
        fz_run_pass(S.loop, false);
        break;
    }
}

int fz_subproc_run(const uint8_t *data, size_t size)
{
    static const char *const argv[] = {"/fz/child", NULL};
    aiotp_subprocess_options o;
    uint8_t h = size > 0 ? data[0] : 0;
    size_t nrec;
    int fd;
    int k;

    memset(&S, 0, sizeof(S));
    fz_alloc_reset();
    fz_step = 0;
    fz_oracle_begin(8); /* the subprocess and its three pipes */
    fz_loop_new(&S.sim, &S.loop, on_exception);
    if (h & 0x40u) {
        aiotp_sim_set_pidfd(S.sim, 0); /* the SIGCHLD watcher */
    }
    aiotp_subprocess_options_init(&o);
    for (fd = 0; fd < 3; fd++) {
        if (h >> fd & 1u) {
            o.stdio[fd].kind = AIOTP_STDIO_DEVNULL;
        } else {
            S.pipes |= 1u << fd;
        }
    }
    if ((h & 0x08u) && !(h & 0x02u)) {
        o.stdio[2].kind = AIOTP_STDIO_STDOUT; /* stderr to stdout's pipe */
        S.pipes &= ~4u;
    }
    FZ_REQUIRE(aiotp_loop_subprocess_exec(S.loop, factory, NULL, argv, &o, done, NULL) == 0,
               "HARNESS", "subprocess_exec");
    S.pid = aiotp_sim_last_child(S.sim);
    for (k = 0; k < 4 && S.done == 0; k++) {
        fz_run_pass(S.loop, false);
    }
    FZ_REQUIRE(S.done == 1 && S.done_status == 0, "SUBPROC-MADE-1", "no completion");
    check_state();
    nrec = fz_run_records(size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0, step,
                          check_state);
    /* the end: close (kills a child still running); a grandchild lets the pipes go */
    fz_step = nrec + 1;
    S.armed = false;
    if (S.lost == 0) {
        (void)aiotp_transport_close(S.t);
    }
    for (fd = 0; fd < 3; fd++) {
        (void)aiotp_sim_child_close(S.sim, S.pid, fd);
    }
    for (k = 0; k < 20 && S.lost == 0; k++) {
        fz_run_pass(S.loop, false);
    }
    check_state();
    FZ_REQUIRE(S.lost == 1, "SUBPROC-LOST-1", "no connection_lost after close()");
    FZ_REQUIRE(aiotp_sim_child_state(S.sim, S.pid, NULL) == 3, "CHILD-3",
               "the child is not reaped");
    aiotp_transport_release(S.t);
    aiotp_loop_free(S.loop);
    fz_end(S.sim);
    return 0;
}
