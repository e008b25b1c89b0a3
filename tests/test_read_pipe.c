/* tests/test_read_pipe.c - Read-only Transports: connect_read_pipe and the read pipe
   (ReadTransport: pause_reading, resume_reading, is_reading; close; end of file as
   CPython's read pipe has it). spec/rules.md "Pipe transports" (PIPE-*), CPython §5.1,
   §5.2. Runs on poll, epoll and the sim (the peer: th_pipe, th_peer_write/close). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aiotp/sim.h"
#include "harness.h"
#include "loop_int.h"

static aiotp_transport *read_pipe(aiotp_loop *loop, int p[2], th_rec *r)
{
    th_pipe(p);
    return th_pipe_transport(loop, false, p[0], &th_streaming, r);
}

TEST(data_then_end_of_file)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_expect ex;
    int p[2];
    aiotp_transport *t = read_pipe(loop, p, r);
    CHECK_INT(aiotp_transport_kind(t), AIOTP_TRANSPORT_PIPE_READ);
    CHECK_INT(th_peer_write(p[1], "hello", 5), 5);
    th_run_passes(loop, 3);
    CHECK_INT(r->lost, 0); /* data alone does not end it */
    CHECK_SIZE(r->rx_len, 5);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
    th_ex_init(&ex);
    th_ex_line(&ex, "cb connection_made");
    th_ex_data(&ex, "data_received", "hello", 5);
    th_ex_line(&ex, "cb eof_received");
    th_ex_line(&ex, "ret eof_received 0");
    th_ex_line(&ex, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(1), ex.s);
    /* PIPE-EOF-1: eof_received and connection_lost back to back, in one pass */
    CHECK_INT(th_iter_of("t1 cb eof_received", 0), th_iter_of("t1 cb connection_lost", 0));
    CHECK(memcmp(r->rx, "hello", 5) == 0);
}

static int keep_open(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK(aiotp_transport_is_closing(t)); /* closing from the end of file on */
    CHECK(!aiotp_transport_is_reading(t));
    return 0;
}

TEST(eof_received_result_is_ignored)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    r->eof_ret = 1; /* "keep the transport open": a pipe closes anyway */
    r->on_eof = keep_open;
    (void)read_pipe(loop, p, r);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb eof_received\nret eof_received 1\n"
                               "cb connection_lost status=0\n");
}

TEST(pause_and_resume_reading)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    aiotp_transport *t = read_pipe(loop, p, r);
    CHECK(aiotp_transport_is_reading(t));
    CHECK_INT(aiotp_transport_pause_reading(t), 0);
    CHECK_INT(aiotp_transport_pause_reading(t), 0); /* idempotent */
    CHECK(!aiotp_transport_is_reading(t));
    CHECK_INT(th_peer_write(p[1], "abc", 3), 3);
    th_run_passes(loop, 3);
    CHECK_INT(r->chunks, 0); /* nothing while paused */
    CHECK_INT(aiotp_transport_resume_reading(t), 0);
    CHECK_INT(aiotp_transport_resume_reading(t), 0);
    CHECK(aiotp_transport_is_reading(t));
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 1);
    CHECK_SIZE(r->rx_len, 3);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
}

TEST(close_stops_reading)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    aiotp_transport *t = read_pipe(loop, p, r);
    uint64_t it;
    CHECK_INT(th_peer_write(p[1], "unread", 6), 6);
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK(aiotp_transport_is_closing(t));
    CHECK(!aiotp_transport_is_reading(t));
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ECLOSED); /* DONE-1: nothing changes */
    CHECK_ERR(aiotp_transport_resume_reading(t), AIOTP_ECLOSED);
    CHECK(!aiotp_transport_is_reading(t));
    it = aiotp_loop_iteration(loop);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), it + 1); /* the next pass */
    CHECK_INT(r->chunks, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    /* the pipe is closed: the writer sees no reader */
    CHECK(th_peer_write(p[1], "x", 1) < 0);
    CHECK_INT(errno, EPIPE);
    th_peer_close(p[1]);
    /* calls after connection_lost (retained) */
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ECLOSED);
    CHECK(!aiotp_transport_is_reading(t));
}

TEST(write_methods_are_not_there)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_buf b = {"x", 1};
    size_t lo = 0;
    size_t hi = 0;
    int p[2];
    aiotp_transport *t = read_pipe(loop, p, r);
    CHECK_ERR(aiotp_transport_abort(t), AIOTP_ENOTSUP); /* CPython's read pipe has none */
    CHECK_ERR(aiotp_transport_write(t, "x", 1), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_writelines(t, &b, 1), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_write_eof(t), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_sendto(t, "x", 1, NULL, 0), AIOTP_ENOTSUP);
    CHECK(!aiotp_transport_can_write_eof(t));
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(t, &lo, &hi), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 10, 1), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_get_pid(t), AIOTP_ENOTSUP);
    CHECK(!aiotp_transport_is_closing(t));
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
}

TEST(extra_info_pipe)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_extra dflt;
    const aiotp_extra *x;
    int p[2];
    aiotp_transport *t = read_pipe(loop, p, r);
    memset(&dflt, 0, sizeof(dflt));
    x = aiotp_transport_get_extra_info(t, "pipe", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_FD && x->u.fd == p[0]);
    CHECK(aiotp_transport_get_extra_info(t, "socket", &dflt) == &dflt);
    CHECK(aiotp_transport_get_extra_info(t, "peername", &dflt) == &dflt);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
    x = aiotp_transport_get_extra_info(t, "pipe", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_FD && x->u.fd == -1); /* closed */
}

/* PIPE-READ-1: 300 KiB through a 64 KiB pipe: every byte, in order, at most 256 KiB per
   data_received. */
TEST(large_flow_in_order)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char data[300 * 1024];
    size_t sent = 0;
    int p[2];
    int i;
    (void)read_pipe(loop, p, r);
    th_pattern(data, sizeof(data), 0);
    if (!th_sim_mode()) {
        (void)fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    }
    for (i = 0; i < 1000 && sent < sizeof(data); i++) {
        ssize_t n = th_sim_mode()
                        ? aiotp_sim_write(th_sim(), p[1], data + sent, sizeof(data) - sent)
                        : write(p[1], data + sent, sizeof(data) - sent);
        if (n > 0) {
            sent += (size_t)n;
        }
        th_run_once(loop);
    }
    CHECK_SIZE(sent, sizeof(data));
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 50);
    CHECK_SIZE(r->rx_len, sizeof(data));
    CHECK(memcmp(r->rx, data, sizeof(data)) == 0);
    CHECK(r->chunks >= 2); /* a pipe holds 64 KiB: several reads */
    CHECK_INT(th_count_lines("t1 cb eof_received"), 1);
}

static int fail_once(th_rec *r, aiotp_transport *t)
{
    (void)t;
    return r->chunks == 1 ? -EPERM : 0;
}

TEST(failing_data_received_keeps_it_open)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    int p[2];
    r->on_data = fail_once;
    (void)read_pipe(loop, p, r);
    CHECK_INT(th_peer_write(p[1], "one", 3), 3);
    th_run_passes(loop, 2);
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, -EPERM);
    CHECK_STR(th_exc.msg, "Exception in callback protocol.data_received()");
    CHECK_INT(r->lost, 0); /* the pipe stays open (a stream would close) */
    CHECK_INT(th_peer_write(p[1], "two", 3), 3);
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 2);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost_status, 0);
}

TEST(failing_eof_received_still_loses)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    int p[2];
    r->eof_ret = -EIO;
    (void)read_pipe(loop, p, r);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, -EIO);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb eof_received\nret eof_received EIO\n"
                               "cb connection_lost status=0\n");
}

/* PIPE-FATAL-1: a read error ends the pipe with connection_lost(error); reported, except
   EIO (a pty whose other side went away). */
TEST(read_error_is_fatal)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    int p[2];
    (void)read_pipe(loop, p, r);
    CHECK_INT(th_peer_write(p[1], "x", 1), 1);
    th_f.read_errno = EINVAL;
    th_run_until(loop, th_is_lost, r, 5);
    th_f.read_errno = 0;
    CHECK_ERR(r->lost_status, -EINVAL);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, "Fatal read error on pipe transport");
    th_peer_close(p[1]);
}

TEST(read_error_eio_is_silent)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    int p[2];
    (void)read_pipe(loop, p, r);
    CHECK_INT(th_peer_write(p[1], "x", 1), 1);
    th_f.read_errno = EIO;
    th_run_until(loop, th_is_lost, r, 5);
    th_f.read_errno = 0;
    CHECK_ERR(r->lost_status, -EIO);
    CHECK_INT(th_exc.n, 0);
    th_peer_close(p[1]);
}

/* EAGAIN and EINTR from read end the event quietly (CPython ignores BlockingIOError and
   InterruptedError). */
TEST(transient_read_errors_are_ignored)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    (void)read_pipe(loop, p, r);
    CHECK_INT(th_peer_write(p[1], "x", 1), 1);
    th_f.read_errno = EINTR;
    th_run_passes(loop, 2);
    th_f.read_errno = EAGAIN;
    th_run_passes(loop, 2);
    th_f.read_errno = 0;
    CHECK_INT(r->chunks, 0);
    CHECK_INT(r->lost, 0);
    th_run_passes(loop, 1);
    CHECK_INT(r->chunks, 1);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
}

/* Re-entrancy: close inside data_received, pause inside connection_made. */
static int close_in_data(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_INT(aiotp_transport_close(t), 0);
    return 0;
}

TEST(close_inside_data_received)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    r->on_data = close_in_data;
    (void)read_pipe(loop, p, r);
    CHECK_INT(th_peer_write(p[1], "ab", 2), 2);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->chunks, 1);
    CHECK_INT(r->eofs, 0);
    th_peer_close(p[1]);
}

static int pause_in_made(th_rec *r, aiotp_transport *t)
{
    (void)r;
    return aiotp_transport_pause_reading(t);
}

TEST(pause_inside_connection_made)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    aiotp_transport *t;
    r->on_made = pause_in_made;
    t = read_pipe(loop, p, r);
    CHECK_INT(th_peer_write(p[1], "ab", 2), 2);
    th_run_passes(loop, 3);
    CHECK_INT(r->chunks, 0);
    CHECK_INT(aiotp_transport_resume_reading(t), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 1);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
}

TEST(set_protocol_takes_the_next_read)
{
    aiotp_loop *loop = th_loop();
    th_rec *a = th_rec_new();
    th_rec *b = th_rec_new();
    int p[2];
    aiotp_transport *t = read_pipe(loop, p, a);
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_buffered, b), AIOTP_EPROTOKIND);
    CHECK_INT(aiotp_transport_set_protocol(t, &th_streaming, b), 0);
    CHECK_INT(th_peer_write(p[1], "xy", 2), 2);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, b, 5);
    CHECK_INT(a->chunks, 0);
    CHECK_INT(b->chunks, 1);
    CHECK_INT(b->eofs, 1);
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_streaming, a), AIOTP_ECLOSED);
}

/* A socket is a pipe too (CPython accepts S_ISSOCK). */
TEST(socket_as_read_pipe)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    th_socketpair(sv);
    (void)th_pipe_transport(loop, false, sv[0], &th_streaming, r);
    CHECK_INT(th_peer_write(sv[1], "sock", 4), 4);
    th_peer_close(sv[1]);
    th_run_until(loop, th_is_lost, r, 10);
    CHECK_SIZE(r->rx_len, 4);
    CHECK_INT(r->eofs, 1);
}

/* A character device: /dev/null reads end of file at once. */
TEST(char_device_as_read_pipe)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int fd = th_open_file(AIOTP_FD_CHAR);
    const char *be = getenv("AIOTP_TEST_BACKEND");
    (void)th_pipe_transport(loop, false, fd, &th_streaming, r);
    th_run_until(loop, th_is_lost, r, 10);
    if (!th_sim_mode() && be != NULL && strcmp(be, "epoll") == 0) {
        /* epoll refuses /dev/null (EPERM): the transport cannot be watched and ends as a
           fatal error (DEV-65; CPython's add_reader raises in a callback and the
           transport stays open, never reading) */
        CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=EPERM\n");
        CHECK_INT(th_count_lines("t1 exc status=EPERM Fatal error: cannot watch the pipe"), 1);
        return;
    }
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb eof_received\nret eof_received 0\n"
                               "cb connection_lost status=0\n");
}

TEST(loop_free_closes_it)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    (void)read_pipe(loop, p, r);
    th_loop_free(loop);
    CHECK_INT(r->lost, 0); /* no callback at loop free */
    CHECK(th_peer_write(p[1], "x", 1) < 0); /* its fd is closed */
    th_peer_close(p[1]);
}

/* The same life on a loop that traces nothing (no trace function): data, pausing, the end
   of file, close of a second pipe; the callbacks and bytes are the traced run's. */
TEST(untraced_life)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_rec *r2 = th_rec_new();
    int p[2];
    int q[2];
    aiotp_transport *t;
    aiotp_transport *t2;
    aiotp_loop_set_trace(loop, NULL, NULL);
    t = read_pipe(loop, p, r);
    t2 = read_pipe(loop, q, r2);
    CHECK_INT(th_peer_write(p[1], "hello", 5), 5);
    th_run_passes(loop, 3);
    CHECK_INT(r->made, 1);
    CHECK_SIZE(r->rx_len, 5);
    CHECK(memcmp(r->rx, "hello", 5) == 0);
    CHECK_INT(aiotp_transport_pause_reading(t), 0);
    CHECK(!aiotp_transport_is_reading(t));
    CHECK_INT(th_peer_write(p[1], "world", 5), 5);
    th_run_passes(loop, 2);
    CHECK_SIZE(r->rx_len, 5); /* paused: nothing */
    CHECK_INT(aiotp_transport_resume_reading(t), 0);
    th_run_passes(loop, 2);
    CHECK_SIZE(r->rx_len, 10);
    CHECK(memcmp(r->rx, "helloworld", 10) == 0);
    CHECK_INT(aiotp_transport_set_protocol(t, &th_streaming, r), 0);
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->eofs, 1);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, 0);
    CHECK_ERR(aiotp_transport_close(t2), 0);
    CHECK_ERR(aiotp_transport_pause_reading(t2), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_resume_reading(t2), AIOTP_ECLOSED);
    th_run_until(loop, th_is_lost, r2, 5);
    CHECK_INT(r2->lost, 1);
    CHECK_INT(r2->eofs, 0);
    th_peer_close(q[1]);
}

/* PIPE-READ-1 (DEV-75): reads go on while the pipe has data, at most 16 per read event:
   20 short reads (the table's reads take 4 bytes) take two passes, 16 then 4, in order,
   each read its own data_received. */
static bool has_chunk(void *arg)
{
    return ((th_rec *)arg)->chunks > 0;
}

TEST(reads_in_batches)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    unsigned char data[80];
    int p[2];
    (void)read_pipe(loop, p, r);
    th_pattern(data, sizeof(data), 0);
    th_f.read_max = 4;
    CHECK_INT(th_peer_write(p[1], data, sizeof(data)), (ssize_t)sizeof(data));
    th_run_until(loop, has_chunk, r, 5);
    CHECK_INT(r->chunks, 16);
    CHECK_SIZE(r->rx_len, 64);
    th_run_passes(loop, 1);
    CHECK_INT(r->chunks, 20);
    CHECK_SIZE(r->rx_len, sizeof(data));
    CHECK(memcmp(r->rx, data, sizeof(data)) == 0);
    CHECK_INT(th_iter_of("t1 cb data_received", 15), th_iter_of("t1 cb data_received", 0));
    CHECK_INT(th_iter_of("t1 cb data_received", 16), th_iter_of("t1 cb data_received", 0) + 1);
    th_f.read_max = 0;
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost_status, 0);
}

/* A data_received that pauses or closes ends the batch at once (PIPE-READ-3): the rest
   stays in the pipe (paused) or is never delivered (closed). */
static int pause_at_third(th_rec *r, aiotp_transport *t)
{
    return r->chunks == 3 ? aiotp_transport_pause_reading(t) : 0;
}

TEST(pause_inside_data_received_ends_the_batch)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    aiotp_transport *t;
    r->on_data = pause_at_third;
    t = read_pipe(loop, p, r);
    th_f.read_max = 2;
    CHECK_INT(th_peer_write(p[1], "aabbccddee", 10), 10);
    th_run_until(loop, has_chunk, r, 5);
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 3);
    CHECK(!aiotp_transport_is_reading(t));
    CHECK_INT(aiotp_transport_resume_reading(t), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 5);
    CHECK_SIZE(r->rx_len, 10);
    CHECK(memcmp(r->rx, "aabbccddee", 10) == 0);
    th_f.read_max = 0;
    th_peer_close(p[1]);
    th_run_until(loop, th_is_lost, r, 5);
}

TEST(close_inside_data_received_ends_the_batch)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int p[2];
    r->on_data = close_in_data;
    (void)read_pipe(loop, p, r);
    th_f.read_max = 1;
    CHECK_INT(th_peer_write(p[1], "abcd", 4), 4);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->chunks, 1);
    CHECK_SIZE(r->rx_len, 1);
    th_f.read_max = 0;
    th_peer_close(p[1]);
}

static const th_case cases[] = {
    T(untraced_life, "PIPE-READ-1 PIPE-READ-2 PIPE-EOF-1 PIPE-LOST-1"),
    T(data_then_end_of_file, "PIPE-MADE-1 PIPE-READ-1 PIPE-EOF-1"),
    T(eof_received_result_is_ignored, "PIPE-EOF-1"),
    T(pause_and_resume_reading, "PIPE-READ-2"),
    T(close_stops_reading, "PIPE-CLOSE-1 PIPE-READ-3 BAD-2"),
    T(write_methods_are_not_there, "PIPE-KIND-1 TRANSPORT-KIND-2"),
    T(extra_info_pipe, "PIPE-EXTRA-1"),
    T(large_flow_in_order, "PIPE-READ-1"),
    T(failing_data_received_keeps_it_open, "PIPE-CB-1"),
    T(failing_eof_received_still_loses, "PIPE-CB-1 PIPE-EOF-1"),
    T(read_error_is_fatal, "PIPE-FATAL-1"),
    T(read_error_eio_is_silent, "PIPE-FATAL-1"),
    T(transient_read_errors_are_ignored, "PIPE-READ-1"),
    T(close_inside_data_received, "PIPE-READ-3 PIPE-LOST-1"),
    T(pause_inside_connection_made, "PIPE-MADE-1 PIPE-READ-2"),
    T(set_protocol_takes_the_next_read, "PIPE-KIND-1 PROTO-KIND-2"),
    T(socket_as_read_pipe, "PIPE-CONN-1"),
    T(char_device_as_read_pipe, "PIPE-CONN-1 PIPE-EOF-1"),
    T(loop_free_closes_it, "PIPE-LOST-1"),
    T(reads_in_batches, "PIPE-READ-1"),
    T(pause_inside_data_received_ends_the_batch, "PIPE-READ-1 PIPE-READ-3"),
    T(close_inside_data_received_ends_the_batch, "PIPE-READ-1 PIPE-READ-3"),
};

TH_MAIN_SIM(cases)
