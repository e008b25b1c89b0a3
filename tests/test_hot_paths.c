/* tests/test_hot_paths.c - the hot paths are not naive (spec/rules.md, "Hot paths").
   Counts only (allocations, system calls); speed is measured by bench/. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checksum.h"
#include "harness.h"
#include "loop_int.h" /* aiotp__trace_vformat */
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

/* The trace checksum takes eight bytes per step (slicing by 8): it equals the bit-by-bit
   CRC-32 (th_sum) for every length 0..300 at every alignment 0..7, chained over two
   pieces split anywhere, and on zlib's check values. */
TEST(crc32_eight_bytes_per_step)
{
    static unsigned char buf[320];
    size_t off;
    size_t len;
    size_t cut;
    size_t i;
    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char)(i * 151u + 7u);
    }
    CHECK_INT((long long)aiotp__crc32(0, "abc", 3), 0x352441c2LL);
    CHECK_INT((long long)aiotp__crc32(0, "123456789", 9), 0xcbf43926LL);
    CHECK_INT((long long)aiotp__crc32(0, NULL, 0), 0);
    for (off = 0; off < 8; off++) {
        for (len = 0; len <= 300; len++) {
            uint32_t want = th_sum(0, buf + off, len);
            CHECK_INT((long long)aiotp__crc32(0, buf + off, len), (long long)want);
            for (cut = 0; cut <= len; cut += 13) {
                uint32_t c = aiotp__crc32(0, buf + off, cut);
                CHECK_INT((long long)aiotp__crc32(c, buf + off + cut, len - cut), (long long)want);
            }
        }
    }
}

/* Formats with aiotp__trace_vformat and with vsnprintf into buffers of cap bytes and
   checks they agree; returns what aiotp__trace_vformat returned. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static bool both_formats(size_t cap, const char *fmt, ...);

static bool both_formats(size_t cap, const char *fmt, ...)
{
    char mine[600];
    char ref[600];
    va_list ap;
    bool ok;
    memset(mine, 'X', sizeof(mine));
    memset(ref, 'X', sizeof(ref));
    va_start(ap, fmt);
    ok = aiotp__trace_vformat(mine, cap, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    (void)vsnprintf(ref, cap, fmt, ap);
    va_end(ap);
    if (ok) {
        CHECK_STR(mine, ref);
    }
    return ok;
}

/* aiotp__trace_vformat alone (formats or arguments vsnprintf must not see), into out. */
static char mine_out[64];
static bool refused(size_t cap, const char *fmt, ...)
{
    va_list ap;
    bool ok;
    va_start(ap, fmt);
    ok = aiotp__trace_vformat(mine_out, cap, fmt, ap);
    va_end(ap);
    return ok;
}

static char hook_line[600];
static void hook(void *arg, const char *line)
{
    (void)arg;
    snprintf(hook_line, sizeof(hook_line), "%s", line);
}

/* Trace lines are formatted without vsnprintf for the conversions they use, exactly as
   vsnprintf formats them, truncation included; any other conversion is refused (the
   caller then uses vsnprintf). */
TEST(trace_lines_formatted_without_vsnprintf)
{
    static const size_t caps[] = {512, 1, 2, 9, 10, 17};
    char longs[700];
    size_t k;
    memset(longs, 'a', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    for (k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        size_t c = caps[k];
        CHECK(both_formats(c, "t%u cb data_received n=%zu total=%llu sum=%08x", 7u, (size_t)3,
                           18446744073709551615ull, 0x312a6a6u));
        CHECK(both_formats(c, "%d %d %d %d", 0, -1, 2147483647, -2147483647 - 1));
        CHECK(both_formats(c, "%zd %zd %zd", (ptrdiff_t)-5, (ptrdiff_t)0, PTRDIFF_MAX));
        CHECK(both_formats(c, "%u %zu %llu %08x %08x", 4294967295u, SIZE_MAX, 0ull, 0u,
                           0xffffffffu));
        CHECK(both_formats(c, "t%u query %s %llu", 1u, "is_closing", 1ull));
        CHECK(both_formats(c, "no conversion at all"));
        CHECK(both_formats(c, "%s", ""));
    }
    CHECK(both_formats(512, "%s|", longs)); /* cut at 511 bytes */
    CHECK(both_formats(600, "%s%s", "", longs + 100));
    /* conversions trace lines do not use: refused, whatever comes before them */
    CHECK(!refused(512, "%x", 1u));
    CHECK(!refused(512, "%ld", 1L));
    CHECK(!refused(512, "abc %5u", 1u));
    CHECK(!refused(512, "%%"));
    CHECK(!refused(512, "%z", 1));
    CHECK(!refused(512, "%l", 1));
    CHECK(!refused(512, "%ll", 1));
    CHECK(!refused(512, "%0", 1));
    CHECK(!refused(512, "%08", 1));
    CHECK(!refused(512, "trailing %"));
    CHECK(!refused(0, "x"));
    {
        const char *volatile none = NULL; /* as glibc's vsnprintf prints it */
        CHECK(refused(64, "[%s]", none));
        CHECK_STR(mine_out, "[(null)]");
    }
    /* aiotp__tracef: the line through the trace hook, formatted here or by vsnprintf */
    {
        aiotp_loop *loop;
        CHECK_INT(aiotp_loop_create(&loop, NULL), 0);
        aiotp_loop_set_trace(loop, hook, NULL);
        aiotp__tracef(loop, "t%u query %s %llu", 3u, "is_reading", 1ull);
        CHECK_STR(hook_line, "t3 query is_reading 1");
        aiotp__tracef(loop, "%x|%ld|%5u", 255u, -3L, 7u); /* not ours: vsnprintf */
        CHECK_STR(hook_line, "ff|-3|    7");
        aiotp_loop_free(loop);
    }
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
    T(crc32_eight_bytes_per_step, ""),
    T(trace_lines_formatted_without_vsnprintf, ""),
};
TH_MAIN_SIM(cases)
