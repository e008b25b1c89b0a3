/* tests/test_read_transport.c - ReadTransport: one receive per event, pause_reading,
   resume_reading, is_reading (spec/rules.md, "ReadTransport"; CPython §2.8-2.9,
   scenarios 7-8 and 90 of §11, experiments E05a-E05d). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ------------------------------------------------------------------------- */

static void send_all(int fd, const void *p, size_t n)
{
    CHECK_INT((long)th_peer_send(fd, p, n, 0), (long)n);
}

/* ---- READ-1 ------------------------------------------------------------------------------ */

/* 700 KiB queued while paused arrive, after resume, as 262144 + 262144 + 192512 bytes:
   one recv() per pass, at most 256 KiB each (E05c). */
TEST(one_recv_per_event_256k)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[716800];
    size_t queued = 0;
    size_t i;
    int big = 4 * 1024 * 1024;
    long recvs;
    uint64_t base;
    uint32_t s1;
    uint32_t s2;
    uint32_t s3;
    char want[512];

    for (i = 0; i < sizeof(data); i++) {
        data[i] = (unsigned char)(i * 31u + (i >> 12));
    }
    th_socketpair(sv);
    /* room for 700 KiB in flight (capped by net.core.wmem_max; root may force it) */
    (void)th_peer_setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
#ifdef SO_SNDBUFFORCE
    (void)th_peer_setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
#endif
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    while (queued < sizeof(data)) {
        ssize_t n = th_peer_send(sv[1], data + queued, sizeof(data) - queued, MSG_DONTWAIT);
        if (n <= 0) {
            break;
        }
        queued += (size_t)n;
    }
    if (queued != sizeof(data)) {
        th_fail(__FILE__, __LINE__, "the kernel queued only %zu of %zu bytes (raise "
                "net.core.wmem_max)", queued, sizeof(data));
    }
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 0);
    recvs = th_f.recv_calls;
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    base = th_mark(loop);
    th_run_once(loop);
    CHECK_INT(th_f.recv_calls, recvs + 1);
    CHECK_SIZE(r->rx_len, 262144);
    th_run_once(loop);
    CHECK_INT(th_f.recv_calls, recvs + 2);
    CHECK_SIZE(r->rx_len, 524288);
    th_run_once(loop);
    CHECK_INT(th_f.recv_calls, recvs + 3);
    CHECK_SIZE(r->rx_len, 716800);
    CHECK_INT(r->chunks, 3);
    CHECK(r->rx != NULL && memcmp(r->rx, data, sizeof(data)) == 0);
    s1 = th_sum(TH_SUM_INIT, data, 262144);
    s2 = th_sum(s1, data + 262144, 262144);
    s3 = th_sum(s2, data + 524288, 192512);
    snprintf(want, sizeof(want),
             "@1 cb data_received n=262144 total=262144 sum=%08x\n"
             "@2 cb data_received n=262144 total=524288 sum=%08x\n"
             "@3 cb data_received n=192512 total=716800 sum=%08x\n",
             (unsigned)s1, (unsigned)s2, (unsigned)s3);
    CHECK_STR(th_view(th_trace(), base, "cb ", false), want);
    /* nothing more to read: the next pass makes no recv() (no readiness) */
    th_run_once(loop);
    CHECK_INT(th_f.recv_calls, recvs + 3);
    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* Small writes queued before a pass arrive in one data_received (one recv per event). */
TEST(one_recv_small)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    long recvs;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    recvs = th_f.recv_calls;
    send_all(sv[1], "ab", 2);
    send_all(sv[1], "cde", 3);
    th_run_once(loop);
    CHECK_INT(th_f.recv_calls, recvs + 1);
    CHECK_INT(r->chunks, 1);
    CHECK_SIZE(r->rx_len, 5);
    CHECK(r->rx != NULL && memcmp(r->rx, "abcde", 5) == 0);
    th_run_once(loop);
    CHECK_INT(th_f.recv_calls, recvs + 1);
    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* ---- READ-2 ------------------------------------------------------------------------------ */

/* pause/resume are idempotent; while paused nothing is read (no recv at all);
   is_reading() reflects it; after close() and after connection_lost both are no-ops
   returning 0 and is_reading() stays false (§11 7, E05a, E05b). */
TEST(pause_resume_idempotent)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    long recvs;
    uint64_t base;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(aiotp_transport_is_reading(t), 1);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    recvs = th_f.recv_calls;
    send_all(sv[1], "hello", 5);
    th_run_passes(loop, 3);
    CHECK_INT(th_f.recv_calls, recvs);
    CHECK_INT(r->chunks, 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 1);
    base = th_mark(loop);
    th_run_once(loop);
    CHECK_INT(th_f.recv_calls, recvs + 1);
    CHECK_INT(r->chunks, 1);
    CHECK_SIZE(r->rx_len, 5);

    /* after close(): no-ops, no reading */
    send_all(sv[1], "late", 4);
    CHECK_ERR(aiotp_transport_close(t), 0);
    /* DONE-1: a closing transport answers ECLOSED and changes nothing */
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_resume_reading(t), AIOTP_ECLOSED);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), AIOTP_ECLOSED);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    th_run_once(loop);
    CHECK_INT(r->lost, 1);
    CHECK_INT(r->chunks, 1);
    CHECK_INT(th_f.recv_calls, recvs + 1);
    /* after connection_lost (the harness holds a reference) */
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_resume_reading(t), AIOTP_ECLOSED);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 1);
    {
        char want[256];
        snprintf(want, sizeof(want),
                 "@1 cb data_received n=5 total=5 sum=%08x\n"
                 "@2 cb connection_lost status=0\n",
                 (unsigned)th_sum(TH_SUM_INIT, "hello", 5));
        CHECK_STR(th_view(th_trace(), base, "cb ", false), want);
    }
    th_peer_close(sv[1]);
}

/* ---- READ-3 ------------------------------------------------------------------------------ */

/* Data and EOF that arrived while paused: after resume one data_received with everything,
   eof_received in the next pass, then connection_lost (eof_received false) in the pass
   after (E05a, §11 90). */
TEST(paused_data_then_eof)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    long recvs;
    uint64_t base;
    char want[256];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    send_all(sv[1], "chunk", 5);
    send_all(sv[1], "-chunk", 6);
    send_all(sv[1], "-chunk", 6);
    send_all(sv[1], "!", 1);
    th_peer_shutdown(sv[1], SHUT_WR);
    recvs = th_f.recv_calls;
    th_run_passes(loop, 5);
    CHECK_INT(th_f.recv_calls, recvs);
    CHECK_INT(r->chunks, 0);
    CHECK_INT(r->eofs, 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 1);
    base = th_mark(loop);
    th_run_until(loop, th_is_lost, r, 6);
    CHECK_INT(th_f.recv_calls, recvs + 2);
    CHECK_SIZE(r->rx_len, 18);
    CHECK(r->rx != NULL && memcmp(r->rx, "chunk-chunk-chunk!", 18) == 0);
    snprintf(want, sizeof(want),
             "@1 cb data_received n=18 total=18 sum=%08x\n"
             "@2 cb eof_received\n"
             "@2 ret eof_received 0\n"
             "@3 cb connection_lost status=0\n",
             (unsigned)th_sum(TH_SUM_INIT, "chunk-chunk-chunk!", 18));
    CHECK_STR(th_view(th_trace(), base, "cb |ret eof_received", false), want);
    th_peer_close(sv[1]);
}

/* The same with a BufferedProtocol: get_buffer + buffer_updated(18), then get_buffer and
   eof_received in the next pass. */
TEST(paused_data_then_eof_buffered)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    uint64_t base;
    char want[384];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_buffered, r);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    send_all(sv[1], "chunk-chunk-", 12);
    send_all(sv[1], "chunk!", 6);
    th_peer_shutdown(sv[1], SHUT_WR);
    th_run_passes(loop, 3);
    CHECK_INT(r->get_buffers, 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    base = th_mark(loop);
    th_run_until(loop, th_is_lost, r, 6);
    CHECK_INT(r->get_buffers, 2);
    CHECK_INT(r->chunks, 1);
    CHECK(r->rx != NULL && r->rx_len == 18 && memcmp(r->rx, "chunk-chunk-chunk!", 18) == 0);
    snprintf(want, sizeof(want),
             "@1 cb get_buffer sizehint=-1\n"
             "@1 cb buffer_updated n=18 total=18 sum=%08x\n"
             "@2 cb get_buffer sizehint=-1\n"
             "@2 cb eof_received\n"
             "@2 ret eof_received 0\n"
             "@3 cb connection_lost status=0\n",
             (unsigned)th_sum(TH_SUM_INIT, "chunk-chunk-chunk!", 18));
    CHECK_STR(th_view(th_trace(), base, "cb |ret eof_received", false), want);
    th_peer_close(sv[1]);
}

/* ---- READ-4 ------------------------------------------------------------------------------ */

static int pause_in_made(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_INT(aiotp_transport_is_reading(t), 1);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    return 0;
}

/* pause_reading() inside connection_made: the fd is never read (not even once, although
   data is waiting from the start) until resume_reading() (§2.1, O1, §11 8, E05b). */
TEST(pause_in_connection_made)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    uint64_t base;

    th_socketpair(sv);
    send_all(sv[1], "early-data", 10);
    r->on_made = pause_in_made;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(r->made, 1);
    th_run_passes(loop, 4);
    CHECK_INT(th_f.recv_calls, 0);
    CHECK_INT(r->chunks, 0);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_STR(th_trace_lines("t1 ", true),
              "open unix\n"
              "limits low=16384 high=65536\n"
              "cb connection_made\n"
              "call pause_reading\n"
              "ret pause_reading 0 size=0\n"
              "ret connection_made 0\n");
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    base = th_mark(loop);
    th_run_once(loop);
    CHECK_INT(th_f.recv_calls, 1);
    CHECK_INT(r->chunks, 1);
    CHECK(r->rx != NULL && r->rx_len == 10 && memcmp(r->rx, "early-data", 10) == 0);
    {
        char want[128];
        snprintf(want, sizeof(want), "@1 cb data_received n=10 total=10 sum=%08x\n",
                 (unsigned)th_sum(TH_SUM_INIT, "early-data", 10));
        CHECK_STR(th_view(th_trace(), base, "cb ", false), want);
    }
    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* ---- READ-5 ------------------------------------------------------------------------------ */

/* eof_received returning true: is_reading() is false from then on, is_closing() false;
   pause+resume after EOF do not re-arm reading: no second eof_received (DEV-2, unlike
   CPython's E05d quirk), no further recv(); the transport stays writable. */
TEST(no_second_eof)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    long recvs;
    char got[8];
    char want[256];

    th_socketpair(sv);
    r->eof_ret = 1;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    recvs = th_f.recv_calls;
    send_all(sv[1], "abc", 3);
    th_peer_shutdown(sv[1], SHUT_WR);
    th_run_passes(loop, 3);
    CHECK_INT(r->eofs, 1);
    CHECK_INT(th_f.recv_calls, recvs + 2);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    th_run_passes(loop, 3);
    CHECK_INT(r->eofs, 1);
    CHECK_INT(th_f.recv_calls, recvs + 2);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    /* still writable */
    CHECK_ERR(aiotp_transport_write(t, "reply", 5), 0);
    th_read_exact(sv[1], got, 5);
    CHECK(memcmp(got, "reply", 5) == 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    snprintf(want, sizeof(want),
             "cb connection_made\n"
             "cb data_received n=3 total=3 sum=%08x\n"
             "cb eof_received\n"
             "ret eof_received 1\n"
             "cb connection_lost status=0\n",
             (unsigned)th_sum(TH_SUM_INIT, "abc", 3));
    CHECK_STR(th_callbacks(1), want);
    th_peer_close(sv[1]);
}

/* Paused when the EOF is read? Not possible: a paused transport reads nothing. But a
   pause_reading() inside eof_received (kept open) must not re-arm anything either, and
   is_reading() is false inside eof_received already. */
static int pause_resume_in_eof(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    return 0;
}

TEST(no_rearm_inside_eof)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    long recvs;

    th_socketpair(sv);
    r->eof_ret = 1;
    r->on_eof = pause_resume_in_eof;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    recvs = th_f.recv_calls;
    th_peer_shutdown(sv[1], SHUT_WR);
    th_run_passes(loop, 4);
    CHECK_INT(r->eofs, 1);
    CHECK_INT(th_f.recv_calls, recvs + 1);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_INT(r->lost, 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_STR(th_callbacks(1), "cb connection_made\n"
                               "cb eof_received\n"
                               "ret eof_received 1\n"
                               "cb connection_lost status=0\n");
    th_peer_close(sv[1]);
}

static const th_case cases[] = {
    T(one_recv_per_event_256k, "READ-1 READ-3"),
    T(one_recv_small, "READ-1"),
    T(pause_resume_idempotent, "READ-2 DONE-1"),
    T(paused_data_then_eof, "READ-3 READ-1"),
    T(paused_data_then_eof_buffered, "READ-3"),
    T(pause_in_connection_made, "READ-4"),
    T(no_second_eof, "READ-5"),
    T(no_rearm_inside_eof, "READ-5"),
};
TH_MAIN_SIM(cases)
