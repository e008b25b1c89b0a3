/* tests/test_write_pipe.c - Write-only Transports: connect_write_pipe and the write pipe
   (WriteTransport: write, writelines, write_eof, can_write_eof, abort, close, the
   write-buffer limits with pause_writing/resume_writing; noticing that the reader went
   away). spec/rules.md "Pipe transports" (PIPE-*), CPython §5.3. Runs on poll, epoll and
   the sim (the peer: th_pipe, th_peer_read/close). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "aiotp/sim.h"
#include "harness.h"

static aiotp_transport *write_pipe(aiotp_loop *loop, int p[2], th_rec *r)
{
    th_pipe(p);
    return th_pipe_transport(loop, true, p[1], &th_streaming, r);
}

/* Read everything available on the peer's end (sim: what is queued; POSIX: non-blocking). */
static size_t drain(int fd, unsigned char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = th_peer_read(fd, buf + got, cap - got, true);
        if (n <= 0 || got + (size_t)n >= cap) {
            if (n > 0) {
                got += (size_t)n;
            }
            return got;
        }
        got += (size_t)n;
    }
}

TEST(write_at_once)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    unsigned char buf[16];
    int p[2];
    aiotp_transport *t = write_pipe(loop, p, r);
    CHECK_INT(aiotp_transport_kind(t), AIOTP_TRANSPORT_PIPE_WRITE);
    CHECK(aiotp_transport_can_write_eof(t));
    CHECK_INT(aiotp_transport_write(t, "hello", 5), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0); /* the pipe took it all */
    CHECK_INT(aiotp_transport_write(t, "", 0), 0);
    CHECK_SIZE(drain(p[0], buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_INT(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(th_peer_read(p[0], buf, sizeof(buf), false), 0); /* end of file */
    th_peer_close(p[0]);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
}

/* PIPE-FLOW-1: pause_writing inside write() over high; resume_writing only once the queue
   is empty, whatever the low mark; every byte arrives in order. */
TEST(flow_control)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[100000];
    static unsigned char got[100000];
    size_t n = 0;
    int p[2];
    int i;
    aiotp_transport *t;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    th_pattern(data, sizeof(data), 0);
    CHECK_INT(aiotp_transport_set_write_buffer_limits(t, 8192, 4096), 0);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_INT(r->pauses, 1); /* inside write() */
    CHECK(aiotp_transport_get_write_buffer_size(t) > 8192);
    for (i = 0; i < 2000 && n < sizeof(data); i++) {
        /* read a little at a time: the queue passes the low mark long before it empties */
        ssize_t k = th_peer_read(p[0], got + n, 1500 < sizeof(got) - n ? 1500 : sizeof(got) - n,
                                 true);
        if (k > 0) {
            n += (size_t)k;
        }
        if (r->resumes == 0) {
            CHECK(aiotp_transport_get_write_buffer_size(t) > 0 || r->resumes == 0);
        }
        th_run_once(loop);
    }
    CHECK_SIZE(n, sizeof(data));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK_INT(r->resumes, 1);
    CHECK_INT(th_count_lines("t1 cb resume_writing size=0 "), 1); /* only at 0 */
    CHECK_INT(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(p[0]);
}

/* PIPE-WRITE-1: behind queued bytes every write()/writelines() is queued whole (the size
   grows by exactly its length, nothing is offered to the pipe out of turn); the drain sends
   the queue in order, also after the ring's free space wraps around. */
TEST(writes_behind_the_queue_keep_order)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[40000];
    static unsigned char got[40000];
    size_t n = 0;
    size_t s1;
    size_t written = 16000;
    int p[2];
    int i;
    aiotp_buf bufs[3];
    aiotp_transport *t;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    th_pattern(data, sizeof(data), 7);
    CHECK_INT(aiotp_transport_set_write_buffer_limits(t, 1u << 20, 0), 0); /* no pause */
    CHECK_INT(aiotp_transport_write(t, data, 10000), 0);
    s1 = aiotp_transport_get_write_buffer_size(t);
    CHECK(s1 > 0 && s1 < 10000); /* the pipe took a part, the rest is queued */
    CHECK_INT(aiotp_transport_write(t, data + 10000, 3000), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), s1 + 3000);
    for (i = 0; i < 3; i++) {
        bufs[i].base = data + 13000 + 1000 * (size_t)i;
        bufs[i].len = 1000;
    }
    CHECK_INT(aiotp_transport_writelines(t, bufs, 3), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), s1 + 6000);
    for (i = 0; i < 4000 && n < sizeof(data); i++) {
        ssize_t k = th_peer_read(p[0], got + n, 1500 < sizeof(got) - n ? 1500 : sizeof(got) - n,
                                 true);
        if (k > 0) {
            n += (size_t)k;
        }
        /* more bytes while the queue is half sent: its free space wraps around */
        if (n >= 6000 && written < sizeof(data) && aiotp_transport_get_write_buffer_size(t) > 0) {
            size_t before = aiotp_transport_get_write_buffer_size(t);
            size_t len = sizeof(data) - written < 8000 ? sizeof(data) - written : 8000;
            CHECK_INT(aiotp_transport_write(t, data + written, len), 0);
            CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), before + len);
            written += len;
        }
        th_run_once(loop);
        if (written == sizeof(data) && aiotp_transport_get_write_buffer_size(t) == 0 &&
            n == written) {
            break;
        }
    }
    CHECK_SIZE(written, sizeof(data));
    CHECK_SIZE(n, sizeof(data));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK_INT(r->pauses, 0);
    CHECK_INT(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_STR(th_cbs_no_flow(1), "cb connection_made\ncb connection_lost status=0\n");
    th_peer_close(p[0]);
}

static int fail_eio(th_rec *r, aiotp_transport *t)
{
    (void)r;
    (void)t;
    return -EIO;
}

/* PROTO-BASE-5, FLOW-8 on a write pipe: a failing connection_made, pause_writing,
   resume_writing or connection_lost goes to the exception handler (one exc line each,
   with its status); the pipe carries on: the bytes still arrive, the flow callbacks still
   alternate, the fd is still closed after the failing connection_lost. */
TEST(failing_callbacks_are_reported)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[30000];
    static unsigned char got[30000];
    size_t n = 0;
    int p[2];
    int i;
    aiotp_transport *t;
    r->made_ret = -EIO;
    r->on_pause = fail_eio;
    r->on_resume = fail_eio;
    r->on_lost = fail_eio;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    CHECK_INT(th_count_lines("t1 exc status=EIO"), 1); /* connection_made's */
    th_pattern(data, sizeof(data), 3);
    CHECK_INT(aiotp_transport_set_write_buffer_limits(t, 4096, 0), 0);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_INT(th_count_lines("t1 exc status=EIO"), 2);
    for (i = 0; i < 2000 && n < sizeof(data); i++) {
        ssize_t k = th_peer_read(p[0], got + n, sizeof(got) - n, true);
        if (k > 0) {
            n += (size_t)k;
        }
        th_run_once(loop);
    }
    CHECK_SIZE(n, sizeof(data));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK_INT(r->resumes, 1);
    CHECK_INT(th_count_lines("t1 exc status=EIO"), 3);
    CHECK_INT(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost, 1);
    CHECK_INT(th_count_lines("t1 exc status=EIO"), 4);
    CHECK_INT(th_peer_read(p[0], got, sizeof(got), false), 0); /* closed: end of file */
    th_peer_close(p[0]);
}

/* BAD-1 on a write pipe: NULL data with a length, NULL buffers, a size that cannot be
   counted: a clear error and nothing changes (nothing written, queued or called). */
TEST(bad_writes_change_nothing)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    unsigned char buf[8];
    aiotp_buf b[2];
    int p[2];
    aiotp_transport *t = write_pipe(loop, p, r);
    CHECK_ERR(aiotp_transport_write(t, NULL, 5), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write(t, "x", SIZE_MAX), AIOTP_ETOOBIG);
    CHECK_ERR(aiotp_transport_writelines(t, NULL, 2), AIOTP_EINVAL);
    b[0].base = "ab";
    b[0].len = 2;
    b[1].base = NULL;
    b[1].len = 3;
    CHECK_ERR(aiotp_transport_writelines(t, b, 2), AIOTP_EINVAL);
    b[1].base = "x";
    b[1].len = SIZE_MAX / 2;
    CHECK_ERR(aiotp_transport_writelines(t, b, 2), AIOTP_ETOOBIG);
    CHECK_INT(aiotp_transport_writelines(t, b, 0), 0); /* nothing to write */
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK(!aiotp_transport_is_closing(t));
    CHECK_SIZE(drain(p[0], buf, sizeof(buf)), 0);
    b[1].len = 1;
    CHECK_INT(aiotp_transport_writelines(t, b, 2), 0); /* still usable */
    CHECK_SIZE(drain(p[0], buf, sizeof(buf)), 3);
    CHECK(memcmp(buf, "abx", 3) == 0);
    CHECK_INT(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    th_peer_close(p[0]);
}

/* PIPE-WRITE-6: write_eof() is close(): is_closing() at once, connection_lost(0) next
   pass, the reader sees end of file. */
TEST(write_eof_is_close)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    unsigned char buf[8];
    int p[2];
    aiotp_transport *t = write_pipe(loop, p, r);
    uint64_t it;
    CHECK_INT(aiotp_transport_write(t, "bye", 3), 0);
    CHECK_INT(aiotp_transport_write_eof(t), 0);
    CHECK(aiotp_transport_is_closing(t));
    CHECK_ERR(aiotp_transport_write_eof(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_write(t, "x", 1), AIOTP_ECLOSED);
    it = aiotp_loop_iteration(loop);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), it + 1);
    CHECK_SIZE(drain(p[0], buf, sizeof(buf)), 3);
    CHECK_INT(th_peer_read(p[0], buf, sizeof(buf), false), 0);
    th_peer_close(p[0]);
}

/* PIPE-DRAIN-1: close() with bytes queued: flushed, then connection_lost(0) in the pass of
   the last write. */
TEST(close_flushes_first)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[20000];
    static unsigned char got[20000];
    size_t n = 0;
    int p[2];
    int i;
    aiotp_transport *t;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    th_pattern(data, sizeof(data), 7);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK(aiotp_transport_get_write_buffer_size(t) > 0);
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK(aiotp_transport_is_closing(t));
    CHECK_ERR(aiotp_transport_write(t, "x", 1), AIOTP_ECLOSED); /* PIPE-WRITE-3 */
    CHECK_INT(aiotp_transport_write(t, "", 0), 0);              /* PIPE-WRITE-2 */
    for (i = 0; i < 500 && r->lost == 0; i++) {
        ssize_t k = th_peer_read(p[0], got + n, sizeof(got) - n, true);
        if (k > 0) {
            n += (size_t)k;
        }
        th_run_once(loop);
    }
    CHECK_INT(r->lost, 1);
    CHECK_INT(r->lost_status, 0);
    n += drain(p[0], got + n, sizeof(got) - n);
    CHECK_SIZE(n, sizeof(data));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    th_peer_close(p[0]);
}

/* PIPE-ABORT-1: the queue is dropped, no resume_writing, connection_lost(0) next pass. */
TEST(abort_drops_the_queue)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[100000];
    int p[2];
    aiotp_transport *t;
    uint64_t it;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_INT(aiotp_transport_abort(t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK(aiotp_transport_is_closing(t));
    CHECK_ERR(aiotp_transport_abort(t), AIOTP_ECLOSED);
    it = aiotp_loop_iteration(loop);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), it + 1);
    CHECK_INT(r->resumes, 0);
    CHECK_INT(r->lost_status, 0);
    th_peer_close(p[0]);
}

/* PIPE-PEER-1: the reader goes away with nothing queued: connection_lost(0). */
TEST(reader_gone_nothing_queued)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    (void)write_pipe(loop, p, r);
    th_peer_close(p[0]);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
}

/* PIPE-PEER-1: ... with bytes queued: connection_lost(EPIPE), the bytes are lost. */
TEST(reader_gone_with_bytes_queued)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[100000];
    int p[2];
    aiotp_transport *t;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK(aiotp_transport_get_write_buffer_size(t) > 0);
    th_peer_close(p[0]);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, -EPIPE);
    CHECK_INT(r->resumes, 0);
}

/* PIPE-WRITE-4, PIPE-WRITE-5: a write to a pipe whose reader is gone returns -EPIPE (never
   SIGPIPE: the harness keeps its default action) and ends the transport. */
TEST(write_to_a_gone_reader)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    aiotp_transport *t = write_pipe(loop, p, r);
    th_peer_close(p[0]); /* the watch has not run yet */
    CHECK_ERR(aiotp_transport_write(t, "x", 1), -EPIPE);
    CHECK(aiotp_transport_is_closing(t));
    CHECK_ERR(aiotp_transport_write(t, "x", 1), AIOTP_ECLOSED);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, -EPIPE);
    CHECK_INT(th_count_lines("t1 cb connection_lost"), 1);
}

TEST(write_error_in_the_drain)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[100000];
    int p[2];
    aiotp_transport *t;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    (void)drain(p[0], data, sizeof(data)); /* room: the drain writes */
    th_f.write_errno = EIO;
    th_run_until(loop, th_is_lost, r, 5);
    th_f.write_errno = 0;
    CHECK_ERR(r->lost_status, -EIO);
    CHECK_INT(th_exc.n, 0); /* an OS error on a pipe write is silent (CPython) */
    th_peer_close(p[0]);
}

TEST(writelines_gathers)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_buf b[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    unsigned char buf[16];
    int p[2];
    aiotp_transport *t = write_pipe(loop, p, r);
    CHECK_INT(aiotp_transport_writelines(t, b, 3), 0);
    CHECK_INT(aiotp_transport_writelines(t, b, 0), 0);
    CHECK_ERR(aiotp_transport_writelines(t, NULL, 2), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write(t, NULL, 2), AIOTP_EINVAL);
    CHECK_SIZE(drain(p[0], buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "abcde", 5) == 0);
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_writelines(t, b, 3), AIOTP_ECLOSED);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(p[0]);
}

TEST(read_methods_are_not_there)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    aiotp_transport *t = write_pipe(loop, p, r);
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_resume_reading(t), AIOTP_ENOTSUP);
    CHECK(!aiotp_transport_is_reading(t));
    CHECK(aiotp_transport_get_pipe_transport(t, 0) == NULL);
    CHECK_ERR(aiotp_transport_kill(t), AIOTP_ENOTSUP);
    CHECK_INT(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(p[0]);
}

TEST(limits)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[20000];
    size_t lo = 0;
    size_t hi = 0;
    int p[2];
    aiotp_transport *t;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    CHECK_INT(aiotp_transport_get_write_buffer_limits(t, &lo, &hi), 0);
    CHECK_SIZE(lo, 16384);
    CHECK_SIZE(hi, 65536);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 10, 20), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, -1, AIOTP_LIMIT_NONE), AIOTP_EINVAL);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_INT(r->pauses, 0);
    CHECK_INT(aiotp_transport_set_write_buffer_limits(t, 0, AIOTP_LIMIT_NONE), 0);
    CHECK_INT(r->pauses, 1); /* inside the setter (FLOW-7) */
    CHECK_INT(aiotp_transport_abort(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(p[0]);
}

/* A character device is not watched (a write pipe on /dev/null takes everything). */
TEST(char_device_as_write_pipe)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[300000];
    int fd = th_open_file(AIOTP_FD_CHAR);
    aiotp_transport *t = th_pipe_transport(loop, true, fd, &th_streaming, r);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_passes(loop, 3);
    CHECK_INT(r->lost, 0);
    CHECK_INT(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
}

/* A socket as a write pipe: watched; the peer closing (or sending, as CPython) ends it. */
TEST(socket_as_write_pipe)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    unsigned char buf[16];
    int sv[2];
    aiotp_transport *t;
    th_socketpair(sv);
    t = th_pipe_transport(loop, true, sv[0], &th_streaming, r);
    CHECK_INT(aiotp_transport_write(t, "via socket", 10), 0);
    CHECK_INT(th_peer_recv(sv[1], buf, sizeof(buf), 0), 10);
    th_peer_close(sv[1]);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost_status, 0);
}

/* Re-entrancy: write and close inside resume_writing; abort inside pause_writing. */
static int write_close_on_resume(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_INT(aiotp_transport_write(t, "tail", 4), 0);
    return aiotp_transport_close(t);
}

TEST(write_and_close_inside_resume_writing)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[30000];
    static unsigned char got[40000];
    size_t n = 0;
    int p[2];
    int i;
    aiotp_transport *t;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    r->on_resume = write_close_on_resume;
    CHECK_INT(aiotp_transport_set_write_buffer_limits(t, 1000, AIOTP_LIMIT_NONE), 0);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    for (i = 0; i < 500 && r->lost == 0; i++) {
        ssize_t k = th_peer_read(p[0], got + n, sizeof(got) - n, true);
        if (k > 0) {
            n += (size_t)k;
        }
        th_run_once(loop);
    }
    n += drain(p[0], got + n, sizeof(got) - n);
    CHECK_INT(r->resumes, 1);
    CHECK_INT(r->lost, 1);
    CHECK_SIZE(n, sizeof(data) + 4);
    CHECK(memcmp(got + sizeof(data), "tail", 4) == 0);
    th_peer_close(p[0]);
}

static int abort_on_pause(th_rec *r, aiotp_transport *t)
{
    (void)r;
    return aiotp_transport_abort(t);
}

TEST(abort_inside_pause_writing)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[100000];
    int p[2];
    aiotp_transport *t;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    r->on_pause = abort_on_pause;
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->resumes, 0);
    th_peer_close(p[0]);
}

/* No memory to queue the rest: nothing taken -> refused, nothing changed. */
TEST(no_memory_to_queue)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[100000];
    int p[2];
    aiotp_transport *t;
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    th_f.write_eagain = true; /* the pipe takes nothing */
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    th_f.write_eagain = false;
    CHECK(!aiotp_transport_is_closing(t));
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    /* the pipe took a part, the rest cannot be queued: it ends (bytes would be lost) */
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    CHECK(aiotp_transport_is_closing(t));
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, "Fatal error: no memory to queue the rest of a write");
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, AIOTP_ENOMEM);
    th_peer_close(p[0]);
}

/* On a loop that traces nothing (no trace function): writes at once and queued, flow
   control, writelines, a failing-free close that flushes, abort of a second pipe; every
   byte arrives in order. */
TEST(untraced_life)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_rec *r2 = th_rec_new();
    static unsigned char data[60000];
    static unsigned char got[60010];
    aiotp_buf bufs[2] = {{"ab", 2}, {"cdefgh", 6}};
    size_t n = 0;
    int p[2];
    int q[2];
    int i;
    aiotp_transport *t;
    aiotp_transport *t2;
    aiotp_loop_set_trace(loop, NULL, NULL);
    th_pipe(p);
    th_small_pipe(p[1]);
    t = th_pipe_transport(loop, true, p[1], &th_streaming, r);
    t2 = write_pipe(loop, q, r2);
    th_pattern(data, sizeof(data), 3);
    CHECK_INT(aiotp_transport_set_write_buffer_limits(t, 8192, 4096), 0);
    CHECK_INT(aiotp_transport_write(t, "12", 2), 0);
    CHECK_INT(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_INT(aiotp_transport_writelines(t, bufs, 2), 0);
    for (i = 0; i < 2000 && n < sizeof(got) - 2; i++) {
        ssize_t k = th_peer_read(p[0], got + n, sizeof(got) - n, true);
        if (k > 0) {
            n += (size_t)k;
        }
        th_run_once(loop);
    }
    CHECK_SIZE(n, 2 + sizeof(data) + 8);
    CHECK(memcmp(got, "12", 2) == 0 && memcmp(got + 2, data, sizeof(data)) == 0 &&
          memcmp(got + 2 + sizeof(data), "abcdefgh", 8) == 0);
    CHECK_INT(r->resumes, 1);
    CHECK_INT(aiotp_transport_write_eof(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, 0);
    CHECK_INT(aiotp_transport_write(t2, "x", 1), 0);
    CHECK_INT(aiotp_transport_abort(t2), 0);
    th_run_until(loop, th_is_lost, r2, 5);
    CHECK_INT(r2->lost, 1);
    th_peer_close(p[0]);
    th_peer_close(q[0]);
}

static const th_case cases[] = {
    T(untraced_life, "PIPE-WRITE-1 PIPE-FLOW-1 PIPE-WRITE-6 PIPE-ABORT-1"),
    T(write_at_once, "PIPE-WRITE-1 PIPE-WRITE-2 PIPE-CLOSE-1"),
    T(flow_control, "PIPE-FLOW-1 PIPE-WRITE-1"),
    T(writes_behind_the_queue_keep_order, "PIPE-WRITE-1"),
    T(failing_callbacks_are_reported, "PROTO-BASE-5 FLOW-8"),
    T(bad_writes_change_nothing, "BAD-1 PIPE-WRITE-2"),
    T(write_eof_is_close, "PIPE-WRITE-6 PIPE-WRITE-3"),
    T(close_flushes_first, "PIPE-DRAIN-1 PIPE-WRITE-2 PIPE-WRITE-3"),
    T(abort_drops_the_queue, "PIPE-ABORT-1"),
    T(reader_gone_nothing_queued, "PIPE-PEER-1"),
    T(reader_gone_with_bytes_queued, "PIPE-PEER-1"),
    T(write_to_a_gone_reader, "PIPE-WRITE-4 PIPE-WRITE-5"),
    T(write_error_in_the_drain, "PIPE-WRITE-4"),
    T(writelines_gathers, "PIPE-WRITE-1 PIPE-WRITE-3"),
    T(read_methods_are_not_there, "PIPE-KIND-1 TRANSPORT-KIND-2"),
    T(limits, "PIPE-FLOW-1 FLOW-3 FLOW-7"),
    T(char_device_as_write_pipe, "PIPE-CONN-1 PIPE-PEER-1"),
    T(socket_as_write_pipe, "PIPE-CONN-1 PIPE-PEER-1"),
    T(write_and_close_inside_resume_writing, "PIPE-FLOW-1 PIPE-DRAIN-1"),
    T(abort_inside_pause_writing, "PIPE-ABORT-1"),
    T(no_memory_to_queue, "PIPE-WRITE-1 BAD-3"),
};

TH_MAIN_SIM(cases)
