/* tests/test_pipe_connect.c - the loop methods connect_read_pipe and connect_write_pipe
   (spec/rules.md PIPE-CONN-*, METH-*): the completion model, what fd they take (a pipe or
   FIFO, a socket, a character device) and what they refuse (bad arguments, a closed fd, a
   regular file, the fd of a live transport), with nothing left behind: no registration, no
   changed fd flag, no callback, no fd, no memory. On poll, epoll and the sim. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "aiotp/sim.h"
#include "harness.h"
#include "loop_int.h"

typedef struct done_log {
    int n;
    int status;
    aiotp_transport *t;
    uint64_t iter;
} done_log;

static done_log done;
static aiotp_loop *cur;

static void on_done(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    done.n++;
    done.status = status;
    done.t = t;
    done.iter = aiotp_loop_iteration(cur);
}

static int factory_ret;
static const aiotp_protocol *factory_proto;
static th_rec *factory_rec;
static int factory_calls;

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    factory_calls++;
    *proto = factory_proto;
    *data = factory_rec;
    return factory_ret;
}

/* The loop's objects: its own services (the wake-up pipe) are there from the start, so
   "nothing left behind" is "no more objects than before the call". */
static size_t nobjs(const aiotp_loop *loop)
{
    size_t n = 0;
    const aiotp__obj *o;
    for (o = loop->objs; o != NULL; o = o->next) {
        n++;
    }
    return n;
}

static size_t base_objs;

static void reset(aiotp_loop *loop)
{
    base_objs = nobjs(loop);
    memset(&done, 0, sizeof(done));
    cur = loop;
    factory_ret = 0;
    factory_proto = &th_streaming;
    factory_rec = th_rec_new();
    factory_calls = 0;
}

static int connect_(aiotp_loop *loop, bool write, int fd)
{
    return write ? aiotp_loop_connect_write_pipe(loop, factory, NULL, fd, on_done, NULL)
                 : aiotp_loop_connect_read_pipe(loop, factory, NULL, fd, on_done, NULL);
}

static bool done_p(void *arg)
{
    (void)arg;
    return done.n > 0;
}

/* METH-1, METH-2, PIPE-MADE-1: the factory in the next pass, connection_made in the one
   after, the completion right after it. */
static void completion_order(bool write)
{
    aiotp_loop *loop = th_loop();
    uint64_t it = aiotp_loop_iteration(loop);
    int p[2];
    reset(loop);
    th_pipe(p);
    CHECK_INT(connect_(loop, write, p[write ? 1 : 0]), 0);
    CHECK_INT(factory_calls, 0); /* never inside the call */
    th_run_until(loop, done_p, NULL, 5);
    CHECK_INT(done.status, 0);
    CHECK(done.t != NULL);
    CHECK_INT(factory_rec->made, 1);
    CHECK_INT(done.iter, it + 2);
    CHECK_INT(th_iter_of("t1 cb connection_made", 0), it + 2);
    if (!th_sim_mode()) {
        int fd = p[write ? 1 : 0];
        CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0); /* made non-blocking */
    }
    CHECK_INT(aiotp_transport_close(done.t), 0);
    th_run_until(loop, th_is_lost, factory_rec, 5);
    th_peer_close(p[write ? 0 : 1]);
}

TEST(read_pipe_completion_order)
{
    completion_order(false);
}

TEST(write_pipe_completion_order)
{
    completion_order(true);
}

static int fd_flags(int fd)
{
    return th_sim_mode() ? 0 : fcntl(fd, F_GETFL);
}

/* PIPE-CONN-1: anything but a pipe/FIFO, socket or character device is refused with
   AIOTP_ENOTPIPE, before anything changes (not even the fd's flags). */
TEST(refuses_what_is_not_a_pipe)
{
    aiotp_loop *loop = th_loop();
    int f = th_open_file(AIOTP_FD_REGULAR);
    int flags = fd_flags(f);
    reset(loop);
    CHECK_ERR(connect_(loop, false, f), AIOTP_ENOTPIPE);
    CHECK_ERR(connect_(loop, true, f), AIOTP_ENOTPIPE);
    CHECK_INT(fd_flags(f), flags);
    CHECK_SIZE(nobjs(loop), base_objs);
    if (!th_sim_mode()) {
        int d = open("/", O_RDONLY | O_CLOEXEC);
        CHECK(d >= 0);
        CHECK_ERR(connect_(loop, false, d), AIOTP_ENOTPIPE);
        close(d);
    }
    th_run_passes(loop, 2);
    CHECK_INT(factory_calls, 0);
    CHECK_INT(done.n, 0);
    th_peer_close(f);
}

TEST(bad_arguments)
{
    aiotp_loop *loop = th_loop();
    int p[2];
    reset(loop);
    th_pipe(p);
    CHECK_ERR(aiotp_loop_connect_read_pipe(NULL, factory, NULL, p[0], on_done, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_connect_read_pipe(loop, NULL, NULL, p[0], on_done, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_connect_read_pipe(loop, factory, NULL, p[0], NULL, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_connect_write_pipe(NULL, factory, NULL, p[1], on_done, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(connect_(loop, false, -1), AIOTP_EBADF);
    CHECK_ERR(connect_(loop, true, -5), AIOTP_EBADF);
    th_peer_close(p[0]);
    CHECK_ERR(connect_(loop, false, p[0]), AIOTP_EBADF); /* closed */
    th_f.fd_type_errno = EIO;
    CHECK_ERR(connect_(loop, true, p[1]), -EIO);
    th_f.fd_type_errno = 0;
    CHECK_SIZE(nobjs(loop), base_objs);
    th_run_passes(loop, 2);
    CHECK_INT(done.n, 0);
    th_peer_close(p[1]);
}

/* PIPE-CONN-2, METH-8: the fd of a live pipe transport (or of a pending connect) is the
   loop's: refused with AIOTP_EBUSY. */
TEST(refuses_the_loops_own_fd)
{
    aiotp_loop *loop = th_loop();
    int p[2];
    reset(loop);
    th_pipe(p);
    CHECK_INT(connect_(loop, false, p[0]), 0);
    CHECK_ERR(connect_(loop, false, p[0]), AIOTP_EBUSY); /* pending */
    CHECK_ERR(aiotp_loop_add_reader(loop, p[0], NULL, NULL), AIOTP_EINVAL);
    th_run_until(loop, done_p, NULL, 5);
    CHECK_ERR(connect_(loop, true, p[0]), AIOTP_EBUSY); /* a live transport's */
    CHECK_INT(aiotp_transport_close(done.t), 0);
    th_run_until(loop, th_is_lost, factory_rec, 5);
    th_peer_close(p[1]);
}

/* METH-3: a refusing factory fails the operation with its status; the fd (the loop's
   since the call) is closed. */
TEST(factory_refuses)
{
    aiotp_loop *loop = th_loop();
    int p[2];
    reset(loop);
    th_pipe(p);
    factory_ret = -EPERM;
    CHECK_INT(connect_(loop, true, p[1]), 0);
    th_run_until(loop, done_p, NULL, 5);
    CHECK_ERR(done.status, -EPERM);
    CHECK(done.t == NULL);
    /* the write end is closed: the reader sees end of file */
    {
        char c;
        CHECK_INT(th_peer_read(p[0], &c, 1, false), 0);
    }
    th_peer_close(p[0]);
}

/* PROTO-KIND-1: a table the pipe cannot use fails the operation (named in the exception
   handler). */
static const aiotp_protocol dgram_table = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_DATAGRAM,
};

TEST(wrong_protocol_kind)
{
    aiotp_loop *loop = th_exc_loop();
    int p[2];
    reset(loop);
    th_pipe(p);
    factory_proto = &dgram_table;
    CHECK_INT(connect_(loop, false, p[0]), 0);
    th_run_until(loop, done_p, NULL, 5);
    CHECK_ERR(done.status, AIOTP_EPROTOKIND);
    CHECK_INT(th_exc.n, 1);
    th_peer_close(p[1]);
    reset(loop);
    factory_proto = &th_buffered; /* a read pipe takes STREAMING only */
    th_pipe(p);
    CHECK_INT(connect_(loop, false, p[0]), 0);
    th_run_until(loop, done_p, NULL, 5);
    CHECK_ERR(done.status, AIOTP_EPROTOKIND);
    th_peer_close(p[1]);
    reset(loop);
    factory_proto = &th_buffered; /* a write pipe takes it (BaseProtocol callbacks only) */
    th_pipe(p);
    CHECK_INT(connect_(loop, true, p[1]), 0);
    th_run_until(loop, done_p, NULL, 5);
    CHECK_INT(done.status, 0);
    CHECK_INT(aiotp_transport_close(done.t), 0);
    th_run_until(loop, th_is_lost, factory_rec, 5);
    th_peer_close(p[0]);
}

/* BAD-3: an allocation failing in the call (AIOTP_ENOMEM, nothing changed) or in the
   pass that makes the transport (the completion's status, the fd closed). */
TEST(allocation_failures)
{
    aiotp_loop *loop = th_loop();
    int p[2];
    long k;
    reset(loop);
    th_pipe(p);
    th_run_passes(loop, 2); /* the loop's own storage is grown */
    /* each allocation of the call failing in turn: AIOTP_ENOMEM and nothing left behind
       (no object, the fd not claimed: the next call may take it), until the call has
       none left to fail */
    for (k = 0; k < 8; k++) {
        int rc;
        th_f.alloc_fail_after = k;
        rc = connect_(loop, false, p[0]);
        th_f.alloc_fail_after = -1;
        if (rc == 0) {
            break;
        }

        CHECK_ERR(rc, AIOTP_ENOMEM);
        CHECK_SIZE(nobjs(loop), base_objs);
        th_run_passes(loop, 1);
        CHECK_INT(done.n, 0);
    }
    /* at least the request itself; its queue entries come from room the loop already has */
    CHECK(k >= 1 && k < 8);
    th_f.alloc_fail_after = 0; /* the transport itself, in the next pass */
    th_run_once(loop);
    th_f.alloc_fail_after = -1;
    CHECK_INT(done.n, 1);
    CHECK_ERR(done.status, AIOTP_ENOMEM);
    CHECK(done.t == NULL);
    CHECK_INT(factory_calls, 1);
    CHECK(th_peer_write(p[1], "x", 1) < 0); /* the read end was closed */
    th_peer_close(p[1]);
}

/* A pending connect when the loop is freed: the fd is closed, no callback. */
TEST(loop_free_with_a_pending_connect)
{
    aiotp_loop *loop = th_loop();
    int p[2];
    reset(loop);
    th_pipe(p);
    CHECK_INT(connect_(loop, false, p[0]), 0);
    th_loop_free(loop);
    CHECK_INT(done.n, 0);
    CHECK_INT(factory_calls, 0);
    CHECK(th_peer_write(p[1], "x", 1) < 0); /* the read end was closed */
    th_peer_close(p[1]);
}

static const th_case cases[] = {
    T(read_pipe_completion_order, "METH-1 METH-2 PIPE-MADE-1"),
    T(write_pipe_completion_order, "METH-1 METH-2 PIPE-MADE-1"),
    T(refuses_what_is_not_a_pipe, "PIPE-CONN-1"),
    T(bad_arguments, "PIPE-CONN-1 BAD-1 BAD-5"),
    T(refuses_the_loops_own_fd, "PIPE-CONN-2 METH-8"),
    T(factory_refuses, "METH-3"),
    T(wrong_protocol_kind, "PROTO-KIND-1"),
    T(allocation_failures, "BAD-3"),
    T(loop_free_with_a_pending_connect, "PIPE-CONN-2"),
};

TH_MAIN_SIM(cases)
