/* tests/test_hot_paths.c - the hot paths are not naive (spec/rules.md, "Hot paths").
   Counts only (allocations, system calls); speed is measured by bench/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checksum.h"
#include "harness.h"
#include "stream_int.h"

/* Echo every chunk back. */
static int echo_back(th_rec *r, aiotp_transport *t)
{
    int rc = aiotp_transport_write(t, r->rx + r->rx_len - r->last_chunk, r->last_chunk);
    return rc < 0 ? rc : 0;
}

static void ping(int fd, aiotp_loop *loop, th_rec *r, size_t n)
{
    static unsigned char msg[4096];
    static unsigned char back[4096];
    size_t before = r->rx_len;
    memset(msg, 'p', n);
    CHECK_INT(th_peer_write(fd, msg, n), (long long)n);
    while (r->rx_len < before + n) {
        th_run_once(loop);
    }
    /* the echo was sent (or queued) inside data_received */
    while (aiotp_transport_get_write_buffer_size(r->t) > 0) {
        th_run_once(loop);
    }
    th_read_exact(fd, back, n);
}

/* Ping-pong with writes the kernel takes whole: no allocation after warm-up. */
TEST(no_alloc_per_write_or_read)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    size_t allocs;
    int i;

    r->on_data = echo_back;
    th_socketpair(sv);
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    for (i = 0; i < 10; i++) {
        ping(sv[1], loop, r, 64);
    }
    allocs = th_f.total_allocs;
    for (i = 0; i < 500; i++) {
        ping(sv[1], loop, r, 64);
    }
    CHECK_SIZE(th_f.total_allocs - allocs, 0);
    CHECK_INT(r->chunks, 510);
    th_peer_close(sv[1]);
}

/* Writes that queue (the kernel takes 10 bytes per send): after the ring has grown
   once, queuing and draining allocate nothing. */
TEST(no_alloc_when_queuing)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    size_t allocs;
    int i;

    r->on_data = echo_back;
    th_socketpair(sv);
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_max = 10;
    for (i = 0; i < 5; i++) {
        ping(sv[1], loop, r, 100);
    }
    allocs = th_f.total_allocs;
    for (i = 0; i < 100; i++) {
        ping(sv[1], loop, r, 100);
    }
    CHECK_SIZE(th_f.total_allocs - allocs, 0);
    th_peer_close(sv[1]);
}

/* The drain: one sendmsg per writable event carries everything queued, including data
   that wrapped around the ring (two segments). */
TEST(drain_one_gathered_send)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char a[20000];
    static unsigned char b[20000];
    static unsigned char got[40000];
    long before;
    size_t i;

    for (i = 0; i < sizeof(a); i++) {
        a[i] = (unsigned char)i;
        b[i] = (unsigned char)(i * 3 + 1);
    }
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, a, sizeof(a)), 0); /* ring grows to 32 KiB */
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), sizeof(a));
    th_f.send_eagain = false;
    th_f.send_max = 15000;
    th_run_once(loop); /* drain 15000: head moves to 15000 */
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 5000);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, b, sizeof(b)), 0); /* wraps around the ring */
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 25000);
    th_f.send_eagain = false;
    th_f.send_max = 0;
    before = th_f.sendmsg_calls;
    th_run_once(loop);
    CHECK_INT(th_f.sendmsg_calls - before, 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    i = th_drain_fd(sv[1], got, sizeof(got));
    CHECK_SIZE(i, sizeof(a) + sizeof(b));
    CHECK(memcmp(got, a, sizeof(a)) == 0);
    CHECK(memcmp(got + sizeof(a), b, sizeof(b)) == 0);
    th_peer_close(sv[1]);
}

/* writelines sends its pieces in one gathered call with nothing queued, no copy. */
TEST(writelines_one_gathered_send)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    aiotp_buf bufs[3] = {{"line1", 5}, {"line2", 5}, {"line3", 5}};
    char got[32];
    long before;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    before = th_f.sendmsg_calls;
    CHECK_ERR(aiotp_transport_writelines(t, bufs, 3), 0);
    CHECK_INT(th_f.sendmsg_calls - before, 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_read_exact(sv[1], got, 15);
    CHECK(memcmp(got, "line1line2line3", 15) == 0);
    th_peer_close(sv[1]);
}

/* The same exchange gives the same callback sequence on every backend. */
TEST(same_sequence_on_each_backend)
{
    static const char *names[] = {"poll", "epoll", "sim"};
    const char *saved = getenv("AIOTP_TEST_BACKEND");
    char expect[256];
    size_t k;

    snprintf(expect, sizeof(expect),
             "cb connection_made\n"
             "cb data_received n=3 total=3 sum=%08x\n"
             "cb eof_received\n"
             "ret eof_received 0\n"
             "cb connection_lost status=0\n",
             (unsigned)aiotp__crc32(0, "abc", 3));
    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        aiotp_loop *loop;
        th_rec *r = th_rec_new();
        int sv[2];
        setenv("AIOTP_TEST_BACKEND", names[k], 1);
        loop = th_loop();
        th_trace_clear();
        th_socketpair(sv);
        (void)th_wrap(loop, sv[0], &th_streaming, r);
        CHECK_INT(th_peer_write(sv[1], "abc", 3), 3);
        th_peer_shutdown(sv[1], SHUT_WR);
        th_run_until(loop, th_is_lost, r, 20);
        CHECK_STR(th_callbacks(1), expect);
        th_loop_free(loop);
        th_peer_close(sv[1]);
    }
    if (saved != NULL) {
        setenv("AIOTP_TEST_BACKEND", saved, 1);
    } else {
        unsetenv("AIOTP_TEST_BACKEND");
    }
}

static const th_case cases[] = {
    T(no_alloc_per_write_or_read, "PERF-1"),
    T(no_alloc_when_queuing, "PERF-1"),
    T(drain_one_gathered_send, "PERF-2 WRITE-WRITE-3"),
    T(writelines_one_gathered_send, "PERF-2 WRITE-LINES-1"),
    T(same_sequence_on_each_backend, "PERF-3"),
};
TH_MAIN_SIM(cases)
