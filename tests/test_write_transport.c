/* tests/test_write_transport.c - WriteTransport: write, writelines, write_eof, abort,
   get_write_buffer_size, can_write_eof (spec/rules.md, "WriteTransport"; CPython §2.2-2.6,
   scenarios 17-32 and 87-89 of §11, experiments E03/E04).

   The kernel is scripted through the harness's syscall table: th_f.send_max makes
   send()/sendmsg() take at most N bytes (sendmsg: of the first iovec), th_f.send_eagain
   makes them fail with EAGAIN, th_f.send_errno with an error; th_f.send_calls and
   th_f.sendmsg_calls count the attempts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* What the peer sees without blocking: 0 EOF, -EAGAIN nothing yet, > 0 bytes readable. */
static long peer_peek(int fd)
{
    char c[4096];
    ssize_t n = th_peer_recv(fd, c, sizeof(c), MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    return (long)n;
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    size_t i;
    for (i = 0; i < n; i++) {
        p[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xffu);
    }
}

/* Records what reaches the exception handler. */
typedef struct handler_rec {
    int calls;
    char message[128];
    int status;
    aiotp_transport *transport;
    const aiotp_protocol *protocol;
    void *protocol_data;
} handler_rec;

static void on_exception(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    handler_rec *h = arg;
    (void)loop;
    h->calls++;
    snprintf(h->message, sizeof(h->message), "%s", ctx->message ? ctx->message : "(null)");
    h->status = ctx->status;
    h->transport = ctx->transport;
    h->protocol = ctx->protocol;
    h->protocol_data = ctx->protocol_data;
}

/* ---- write ---------------------------------------------------------------------------- */

/* An empty buffer sends at once; what the kernel does not take is queued; a write behind
   a non-empty buffer makes no system call; the drain sends one chunk per writable event
   and stops watching once empty; the peer gets every byte in order (§11 17, 19, 20, 25). */
TEST(write_partial_then_drain)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    char got[32];
    uint64_t base;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);

    /* the kernel takes everything: no queue, one send */
    CHECK_ERR(aiotp_transport_write(t, "hello", 5), 0);
    CHECK_INT(th_f.send_calls, 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_read_exact(sv[1], got, 5);
    CHECK(memcmp(got, "hello", 5) == 0);

    /* the kernel takes 3 bytes per call */
    th_f.send_max = 3;
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_write(t, "0123456789", 10), 0);
    CHECK_INT(th_f.send_calls, 2);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 7);
    CHECK_INT(peer_peek(sv[1]), 3);
    /* queued behind: no system call at all */
    CHECK_ERR(aiotp_transport_write(t, "abcde", 5), 0);
    CHECK_INT(th_f.send_calls, 2);
    CHECK_INT(th_f.sendmsg_calls, 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 12);

    th_run_once(loop);
    CHECK_INT(th_f.sendmsg_calls, 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 9);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 6);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 3);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(th_f.sendmsg_calls, 4);
    /* drained: the writer is no longer watched */
    th_run_passes(loop, 3);
    CHECK_INT(th_f.sendmsg_calls, 4);
    CHECK_INT(th_f.send_calls, 2);

    CHECK_STR(th_view(th_trace(), base, "call write|ret write", true),
              "@0 call write n=10\n"
              "@0 ret write 0 size=7\n"
              "@0 call write n=5\n"
              "@0 ret write 0 size=12\n");
    th_read_exact(sv[1], got, 15);
    CHECK(memcmp(got, "0123456789abcde", 15) == 0);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN);
    CHECK_INT(r->pauses, 0);
    CHECK_STR(th_callbacks(1), "");

    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost_status, 0);
    th_peer_close(sv[1]);
}

/* write() of 0 bytes makes no system call, with an empty or a non-empty buffer; also
   for writelines() of nothing or of empty pieces (§11 18). */
TEST(write_empty_no_syscall)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    aiotp_buf empties[3] = {{"", 0}, {NULL, 0}, {"x", 0}};
    char got[4];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_write(t, "", 0), 0);
    CHECK_ERR(aiotp_transport_write(t, NULL, 0), 0);
    CHECK_ERR(aiotp_transport_writelines(t, NULL, 0), 0);
    CHECK_ERR(aiotp_transport_writelines(t, empties, 3), 0);
    CHECK_INT(th_f.send_calls, 0);
    CHECK_INT(th_f.sendmsg_calls, 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);

    /* with something queued */
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, "abc", 3), 0);
    CHECK_INT(th_f.send_calls, 1);
    CHECK_ERR(aiotp_transport_write(t, "", 0), 0);
    CHECK_ERR(aiotp_transport_writelines(t, empties, 3), 0);
    CHECK_INT(th_f.send_calls, 1);
    CHECK_INT(th_f.sendmsg_calls, 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 3);
    th_f.send_eagain = false;
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_read_exact(sv[1], got, 3);
    CHECK(memcmp(got, "abc", 3) == 0);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN);

    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* EAGAIN counts as 0 bytes sent: everything is queued and the writer armed; the drain
   keeps the buffer on EAGAIN and sends it on the next writable event (§11 20, 25). */
TEST(write_eagain_queues)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    unsigned char data[100];
    unsigned char got[100];

    fill_pattern(data, sizeof(data), 1);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_INT(th_f.send_calls, 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 100);
    th_run_once(loop);
    CHECK_INT(th_f.sendmsg_calls, 1);
    th_run_once(loop);
    CHECK_INT(th_f.sendmsg_calls, 2);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 100);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN);
    CHECK_INT(aiotp_transport_is_closing(t), 0);

    th_f.send_eagain = false;
    th_run_once(loop);
    CHECK_INT(th_f.sendmsg_calls, 3);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_passes(loop, 2);
    CHECK_INT(th_f.sendmsg_calls, 3);
    th_read_exact(sv[1], got, sizeof(got));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\n");

    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* Many writes of varied sizes, most of them queued behind a non-empty buffer, with the
   kernel taking at most 1000 bytes per call and the peer reading concurrently: the
   peer gets every byte, complete and in order (the ring wraps many times). */
TEST(write_many_in_order)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[200000];
    static unsigned char got[200000];
    size_t off = 0;
    size_t n = 0;
    size_t step = 1;
    int passes = 0;

    fill_pattern(data, sizeof(data), 2);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, INT64_MAX, AIOTP_LIMIT_NONE), 0);
    th_f.send_max = 1000;
    while (off < sizeof(data) && passes < 2000) {
        size_t len = (step * 977u) % 3001u + 1u;
        size_t before = aiotp_transport_get_write_buffer_size(t);
        long calls = th_f.send_calls + th_f.sendmsg_calls;
        if (len > sizeof(data) - off) {
            len = sizeof(data) - off;
        }
        CHECK_ERR(aiotp_transport_write(t, data + off, len), 0);
        if (before > 0) {
            /* queued behind: no system call, the size grows by len */
            CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, calls);
            CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), before + len);
        } else {
            CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, calls + 1);
            CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), len > 1000 ? len - 1000 : 0);
        }
        off += len;
        step++;
        if (step % 3 == 0) {
            th_run_once(loop);
            passes++;
            n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
        }
    }
    while (aiotp_transport_get_write_buffer_size(t) > 0 && passes < 4000) {
        th_run_once(loop);
        passes++;
        n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    }
    n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    CHECK_SIZE(off, sizeof(data));
    CHECK_SIZE(n, sizeof(data));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK_INT(r->pauses, 0);

    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* close() with pending data, then write(): the late data is queued behind and delivered
   before connection_lost (E03a, §11 89); connection_lost comes in the pass of the last
   send. Once connection_lost is scheduled or delivered, write() drops and returns
   AIOTP_ECLOSED (§11 23). */
TEST(write_after_close_pending)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    unsigned char data[100];
    unsigned char got[111];
    uint64_t base;

    fill_pattern(data, sizeof(data), 3);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_ERR(aiotp_transport_write(t, "AFTER-CLOSE", 11), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 111);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    th_run_passes(loop, 3);
    CHECK_INT(r->lost, 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 111);

    th_f.send_eagain = false;
    th_f.send_max = 60;
    base = th_mark(loop);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 51);
    CHECK_INT(r->lost, 0);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(r->lost, 1); /* same pass as the last send */
    CHECK_INT(r->lost_status, 0);
    CHECK_STR(th_view(th_trace(), base, "cb ", true), "@2 cb connection_lost status=0\n");

    th_read_exact(sv[1], got, sizeof(got));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK(memcmp(got + 100, "AFTER-CLOSE", 11) == 0);
    CHECK_INT(peer_peek(sv[1]), 0); /* then EOF: the socket is closed */

    /* after connection_lost: dropped */
    CHECK_ERR(aiotp_transport_write(t, "late", 4), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_write(t, "", 0), 0);
    CHECK_STR(th_callbacks(1), "cb connection_lost status=0\n");
    th_peer_close(sv[1]);
}

/* close() with an empty buffer: connection_lost is scheduled, write() drops the data
   with AIOTP_ECLOSED and makes no system call (§11 23, E03b). */
TEST(write_after_close_empty)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    aiotp_buf b[2] = {{"ab", 2}, {"cd", 2}};

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_write(t, "dropped", 7), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_writelines(t, b, 2), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_write(t, "", 0), 0); /* empty data: silent, as CPython */
    CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_once(loop);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(aiotp_transport_write(t, "dropped", 7), AIOTP_ECLOSED);
    CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, 0);
    CHECK_INT(peer_peek(sv[1]), 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    th_peer_close(sv[1]);
}

/* write() after write_eof() returns AIOTP_ESTATE, even for 0 bytes and for writelines,
   with or without data pending (E04c). */
TEST(write_after_write_eof)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    int sv2[2];
    aiotp_transport *t;
    aiotp_transport *t2;
    th_rec *r2 = th_rec_new();
    aiotp_buf b[1] = {{"ab", 2}};

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_write_eof(t), 0);
    CHECK_ERR(aiotp_transport_write(t, "more", 4), AIOTP_ESTATE);
    CHECK_ERR(aiotp_transport_write(t, "", 0), AIOTP_ESTATE);
    CHECK_ERR(aiotp_transport_write(t, NULL, 0), AIOTP_ESTATE);
    CHECK_ERR(aiotp_transport_writelines(t, b, 1), AIOTP_ESTATE);
    CHECK_ERR(aiotp_transport_writelines(t, NULL, 0), AIOTP_ESTATE);
    CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, 0);
    CHECK_INT(peer_peek(sv[1]), 0);

    /* with data pending (EOF not yet sent) */
    th_socketpair(sv2);
    t2 = th_wrap(loop, sv2[0], &th_streaming, r2);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t2, "queued", 6), 0);
    CHECK_ERR(aiotp_transport_write_eof(t2), 0);
    CHECK_ERR(aiotp_transport_write(t2, "more", 4), AIOTP_ESTATE);
    CHECK_ERR(aiotp_transport_write(t2, "", 0), AIOTP_ESTATE);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t2), 6);
    th_f.send_eagain = false;
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t2), 0);
    CHECK_INT(peer_peek(sv2[1]), 6);

    aiotp_transport_close(t);
    aiotp_transport_close(t2);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 1);
    CHECK_INT(r2->lost, 1);
    th_peer_close(sv[1]);
    th_peer_close(sv2[1]);
}

/* A write that cannot be queued sends nothing and leaves the transport unchanged:
   AIOTP_ENOMEM (allocation fails) and AIOTP_ETOOBIG (size overflow); a write the kernel
   takes whole needs no storage. */
TEST(write_enomem_etoobig)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char big[40000];
    aiotp_buf huge[2];
    char got[8];

    fill_pattern(big, sizeof(big), 4);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);

    /* empty buffer: a write the kernel takes whole needs no storage at all */
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write(t, "xyz", 3), 0);
    th_f.alloc_fail_after = -1;
    CHECK_INT(th_f.send_calls, 1);
    th_read_exact(sv[1], got, 3);
    CHECK(memcmp(got, "xyz", 3) == 0);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN);

    /* empty buffer, the kernel takes nothing, no storage: refused, nothing sent */
    th_f.send_eagain = true;
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write(t, "abc", 3), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    CHECK_INT(th_f.send_calls, 2);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);

    /* some data queued; a write that needs a bigger buffer fails and changes nothing */
    CHECK_ERR(aiotp_transport_write(t, "abc", 3), 0);
    CHECK_INT(th_f.send_calls, 3);
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write(t, big, sizeof(big)), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    CHECK_INT(th_f.send_calls, 3);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 3);
    CHECK_INT(r->pauses, 0);

    /* size overflow: refused before anything is read or sent */
    CHECK_ERR(aiotp_transport_write(t, big, SIZE_MAX), AIOTP_ETOOBIG);
    huge[0].base = big;
    huge[0].len = SIZE_MAX / 2;
    huge[1].base = big;
    huge[1].len = SIZE_MAX / 2;
    CHECK_ERR(aiotp_transport_writelines(t, huge, 2), AIOTP_ETOOBIG);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 3);
    CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, 3);

    /* the transport carries on */
    th_f.send_eagain = false;
    CHECK_ERR(aiotp_transport_write(t, "de", 2), 0);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_read_exact(sv[1], got, 5);
    CHECK(memcmp(got, "abcde", 5) == 0);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN);
    CHECK_STR(th_callbacks(1), "cb connection_made\n");

    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* A send error in write(): write() returns it, connection_lost(error) next pass, the
   exception handler is not called (OS error, §2.6); later writes are dropped. */
TEST(write_send_error)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    handler_rec h;
    int sv[2];
    aiotp_transport *t;

    memset(&h, 0, sizeof(h));
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    aiotp_loop_set_exception_handler(loop, on_exception, &h);
    th_f.send_errno = ECONNRESET;
    CHECK_ERR(aiotp_transport_write(t, "hello", 5), -ECONNRESET);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(r->lost, 0);
    CHECK_ERR(aiotp_transport_write(t, "again", 5), AIOTP_ECLOSED);
    CHECK_INT(th_f.send_calls, 1);
    th_run_once(loop);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -ECONNRESET);
    CHECK_INT(h.calls, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=ECONNRESET\n");
    th_peer_close(sv[1]);
}

/* A send error in the drain: the buffer is dropped, connection_lost(error) in the next
   pass, silently; in debug mode the handler gets "Fatal write error on socket transport"
   (§11 26). */
TEST(drain_send_error)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_rec *r2 = th_rec_new();
    handler_rec h;
    int sv[2];
    int sv2[2];
    aiotp_transport *t;
    aiotp_transport *t2;
    uint64_t base;

    memset(&h, 0, sizeof(h));
    th_socketpair(sv);
    th_socketpair(sv2);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    aiotp_loop_set_exception_handler(loop, on_exception, &h);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, "queued", 6), 0);
    th_f.send_eagain = false;
    th_f.send_errno = EPIPE;
    base = th_mark(loop);
    th_run_once(loop); /* the drain fails */
    CHECK_INT(th_f.sendmsg_calls, 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_INT(r->lost, 0);
    th_run_once(loop);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -EPIPE);
    CHECK_STR(th_view(th_trace(), base, "cb ", true), "@2 cb connection_lost status=EPIPE\n");
    CHECK_INT(h.calls, 0);
    CHECK_INT(th_f.sendmsg_calls, 1);

    /* debug mode: reported to the handler */
    th_f.send_errno = 0;
    aiotp_loop_set_debug(loop, true);
    t2 = th_wrap(loop, sv2[0], &th_streaming, r2);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t2, "queued", 6), 0);
    th_f.send_eagain = false;
    th_f.send_errno = EPIPE;
    th_run_once(loop);
    CHECK_INT(h.calls, 1);
    CHECK_STR(h.message, "Fatal write error on socket transport");
    CHECK_ERR(h.status, -EPIPE);
    CHECK(h.transport == t2);
    CHECK(h.protocol == &th_streaming);
    CHECK(h.protocol_data == r2);
    th_run_once(loop);
    CHECK_INT(r2->lost, 1);
    CHECK_ERR(r2->lost_status, -EPIPE);
    th_peer_close(sv[1]);
    th_peer_close(sv2[1]);
}

/* The peer has gone: writing must not raise SIGPIPE (the harness restored SIG_DFL, so a
   SIGPIPE would kill this process) and gives connection_lost(-EPIPE) over a Unix
   socketpair, -EPIPE or -ECONNRESET over TCP (E06b). */
TEST(sigpipe_unix)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char big[65536];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_peer_close(sv[1]);
    CHECK_ERR(aiotp_transport_write(t, big, sizeof(big)), -EPIPE);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -EPIPE);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=EPIPE\n");
}

TEST(sigpipe_tcp)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char big[65536];
    int i;
    int rc = 0;

    th_tcp_pair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    /* do not read the peer's FIN: the error must come from the write side */
    aiotp_transport_pause_reading(t);
    th_peer_close(sv[1]);
    for (i = 0; i < 50 && r->lost == 0; i++) {
        rc = aiotp_transport_write(t, big, sizeof(big));
        if (rc != 0) {
            break;
        }
        th_run_once(loop);
    }
    CHECK(rc == 0 || rc == -EPIPE || rc == -ECONNRESET);
    th_run_until(loop, th_is_lost, r, 10);
    CHECK_INT(r->lost, 1);
    CHECK(r->lost_status == -EPIPE || r->lost_status == -ECONNRESET);
    CHECK_INT(r->eofs, 0);
    CHECK_INT(r->chunks, 0);
}

/* ---- writelines -------------------------------------------------------------------------- */

/* More than 64 pieces, some empty: one gathered sendmsg of the first 64 non-empty pieces
   (no send() of a joined copy), the rest queued; the peer reads the concatenation in
   order (§11 2). */
TEST(writelines_many_pieces)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[20000];
    static unsigned char got[20000];
    aiotp_buf bufs[200];
    size_t off = 0;
    size_t first64 = 0;
    size_t nonempty = 0;
    size_t i;

    fill_pattern(data, sizeof(data), 5);
    for (i = 0; i < 200; i++) {
        size_t len = (i % 5 == 2) ? 0 : (i * 37u) % 150u + 1u;
        bufs[i].base = data + off;
        bufs[i].len = len;
        if (len > 0 && nonempty < 64) {
            first64 += len;
        }
        if (len > 0) {
            nonempty++;
        }
        off += len;
    }
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_writelines(t, bufs, 200), 0);
    CHECK_INT(th_f.send_calls, 0);
    /* gathered sends of 64 pieces while the kernel takes each whole batch: the kernel
       is offered everything at once, as by one write() (WRITE-LINES-1); the socketpair
       takes it all */
    CHECK_INT(th_f.sendmsg_calls, (long)((nonempty + 63) / 64));
    CHECK(first64 < off);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_passes(loop, 2);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_read_exact(sv[1], got, off);
    CHECK(memcmp(got, data, off) == 0);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN);

    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* Partial sends through writelines: a piece the kernel took partly is queued from the
   right offset; empty pieces are skipped; queued behind a non-empty buffer writelines
   makes no system call. */
TEST(writelines_partial)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    aiotp_buf a[4] = {{"", 0}, {"abc", 3}, {"", 0}, {"defgh", 5}};
    aiotp_buf b[2] = {{"ijklmnop", 8}, {"qr", 2}};
    aiotp_buf c[3] = {{"st", 2}, {"", 0}, {"uv", 2}};
    char got[32];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_max = 5;
    /* sendmsg takes 3 (first iovec "abc"): "defgh" queued whole */
    CHECK_ERR(aiotp_transport_writelines(t, a, 4), 0);
    CHECK_INT(th_f.sendmsg_calls, 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 5);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    /* sendmsg takes 5 of "ijklmnop": "nop" + "qr" queued */
    CHECK_ERR(aiotp_transport_writelines(t, b, 2), 0);
    CHECK_INT(th_f.sendmsg_calls, 3);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 5);
    /* behind a non-empty buffer: no system call */
    CHECK_ERR(aiotp_transport_writelines(t, c, 3), 0);
    CHECK_INT(th_f.sendmsg_calls, 3);
    CHECK_INT(th_f.send_calls, 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 9);
    th_run_passes(loop, 2);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_read_exact(sv[1], got, 22);
    CHECK(memcmp(got, "abcdefghijklmnopqrstuv", 22) == 0);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN);

    /* a bad entry: nothing written */
    {
        aiotp_buf bad[2] = {{"ok", 2}, {NULL, 3}};
        long calls = th_f.send_calls + th_f.sendmsg_calls;
        CHECK_ERR(aiotp_transport_writelines(t, bad, 2), AIOTP_EINVAL);
        CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, calls);
        CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    }

    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* writelines() is one write of the concatenation for flow control: one pause, inside
   the call, at the total size. */
TEST(writelines_one_flow_check)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[1000];
    aiotp_buf bufs[100];
    size_t i;
    uint64_t base;

    fill_pattern(data, sizeof(data), 6);
    for (i = 0; i < 100; i++) {
        bufs[i].base = data + i * 10;
        bufs[i].len = 10;
    }
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 15, 0), 0);
    th_f.send_eagain = true;
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_writelines(t, bufs, 100), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_STR(th_view(th_trace(), base, "call writelines|ret writelines|cb ", true),
              "@0 call writelines count=100 n=1000\n"
              "@0 cb pause_writing size=1000 high=15\n"
              "@0 ret writelines 0 size=1000\n");
    th_f.send_eagain = false;
    aiotp_transport_abort(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* ---- write_eof ------------------------------------------------------------------------- */

/* With an empty buffer write_eof() shuts the write side at once: the peer reads the data
   then EOF without the loop running; is_closing() stays false, reading continues (the
   peer's data still arrives), can_write_eof() is true (§11 27, E04c). */
TEST(write_eof_empty_buffer)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    char got[8];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(aiotp_transport_can_write_eof(t), 1);
    CHECK_ERR(aiotp_transport_write(t, "hi", 2), 0);
    CHECK_ERR(aiotp_transport_write_eof(t), 0);
    th_read_exact(sv[1], got, 2);
    CHECK(memcmp(got, "hi", 2) == 0);
    CHECK_INT(peer_peek(sv[1]), 0); /* EOF, at once */
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 1);
    CHECK_INT(aiotp_transport_can_write_eof(t), 1);

    CHECK_INT((int)th_peer_write(sv[1], "data", 4), 4);
    th_run_once(loop);
    CHECK_INT(r->chunks, 1);
    CHECK_SIZE(r->rx_len, 4);
    CHECK(r->rx != NULL && memcmp(r->rx, "data", 4) == 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);

    /* the peer closes: eof_received (false) closes the transport */
    th_peer_shutdown(sv[1], SHUT_WR);
    th_run_until(loop, th_is_lost, r, 5);
    {
        char want[256];
        snprintf(want, sizeof(want),
                 "cb connection_made\n"
                 "cb data_received n=4 total=4 sum=%08x\n"
                 "cb eof_received\n"
                 "ret eof_received 0\n"
                 "cb connection_lost status=0\n",
                 (unsigned)th_sum(TH_SUM_INIT, "data", 4));
        CHECK_STR(th_callbacks(1), want);
    }
    th_peer_close(sv[1]);
}

/* With buffered data the shutdown waits for the drain: the peer sees EOF only after the
   last byte (§11 28). */
TEST(write_eof_pending)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    unsigned char data[100];
    unsigned char got[100];

    fill_pattern(data, sizeof(data), 7);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_ERR(aiotp_transport_write_eof(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    th_run_once(loop);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN); /* no EOF yet */

    th_f.send_eagain = false;
    th_f.send_max = 40;
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 60);
    th_read_exact(sv[1], got, 40);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 20);
    th_read_exact(sv[1], got + 40, 40);
    CHECK_INT(peer_peek(sv[1]), -EAGAIN);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_read_exact(sv[1], got + 80, 20);
    CHECK_INT(peer_peek(sv[1]), 0); /* EOF right after the last byte */
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 1);
    CHECK_STR(th_callbacks(1), "cb connection_made\n");

    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* write_eof() when already done, closing or closed does nothing and returns 0 (no second
   shutdown: an armed shutdown failure is never seen); the first one reports a shutdown()
   failure to the caller (§11 29, E04d). */
TEST(write_eof_noop)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_rec *r2 = th_rec_new();
    th_rec *r3 = th_rec_new();
    int sv[2];
    int sv2[2];
    int sv3[2];
    aiotp_transport *t;
    aiotp_transport *t2;
    aiotp_transport *t3;

    th_socketpair(sv);
    th_socketpair(sv2);
    th_socketpair(sv3);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    t2 = th_wrap(loop, sv2[0], &th_streaming, r2);
    t3 = th_wrap(loop, sv3[0], &th_streaming, r3);

    /* already done */
    CHECK_ERR(aiotp_transport_write_eof(t), 0);
    th_f.shutdown_errno = EIO;
    CHECK_ERR(aiotp_transport_write_eof(t), 0);
    /* pending: the second call does not shut down early either */
    th_f.shutdown_errno = 0;
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t2, "x", 1), 0);
    CHECK_ERR(aiotp_transport_write_eof(t2), 0);
    CHECK_ERR(aiotp_transport_write_eof(t2), 0);
    th_f.send_eagain = false;
    CHECK_INT(peer_peek(sv2[1]), -EAGAIN);
    th_run_once(loop);
    CHECK_INT(peer_peek(sv2[1]), 1);

    /* closing, then closed: nothing happens, the code says so (DONE-1) */
    th_f.shutdown_errno = EIO;
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_write_eof(t), AIOTP_ECLOSED);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(aiotp_transport_write_eof(t), AIOTP_ECLOSED);

    /* the first write_eof reports a failing shutdown() */
    CHECK_ERR(aiotp_transport_write_eof(t3), -EIO);
    th_f.shutdown_errno = 0;

    aiotp_transport_close(t2);
    aiotp_transport_close(t3);
    th_run_passes(loop, 2);
    CHECK_INT(r2->lost, 1);
    CHECK_INT(r3->lost, 1);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    th_peer_close(sv[1]);
    th_peer_close(sv2[1]);
    th_peer_close(sv3[1]);
}

/* ---- abort ------------------------------------------------------------------------------ */

/* abort() with pending data: the data is dropped (size 0 at once), reading stops,
   connection_lost(0) in the next pass, nothing more is sent (§11 32, E03c). */
TEST(abort_drops_pending)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[1000];
    uint64_t base;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 1000);
    th_f.send_eagain = false;
    CHECK_INT((int)th_peer_write(sv[1], "zzz", 3), 3); /* never delivered */
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_abort(t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_INT(r->lost, 0);
    th_run_once(loop);
    CHECK_INT(r->lost, 1);
    CHECK_INT(r->lost_status, 0);
    th_run_passes(loop, 2);
    CHECK_INT(th_f.sendmsg_calls, 0);
    CHECK_INT(r->chunks, 0);
    CHECK_STR(th_view(th_trace(), base, "cb |call abort|ret abort", true),
              "@0 call abort\n"
              "@0 ret abort 0 size=0\n"
              "@1 cb connection_lost status=0\n");
    /* nothing was sent: the peer sees EOF (or a reset, as "zzz" was never read) */
    {
        long p = peer_peek(sv[1]);
        CHECK(p == 0 || p == -ECONNRESET);
    }
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_peer_close(sv[1]);
}

/* abort() never calls resume_writing: a paused protocol stays paused (F10). */
TEST(abort_no_resume)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[100];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 10, AIOTP_LIMIT_NONE), 0);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_INT(r->pauses, 1);
    th_f.send_eagain = false;
    CHECK_ERR(aiotp_transport_abort(t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_passes(loop, 3);
    CHECK_INT(r->resumes, 0);
    CHECK_INT(r->lost, 1);
    CHECK_STR(th_callbacks(1), "cb connection_made\n"
                               "cb pause_writing size=100 high=10\n"
                               "cb connection_lost status=0\n");
    th_peer_close(sv[1]);
}

/* abort() after close() with pending data still works: the data is dropped, exactly one
   connection_lost (E03d); abort()/close() once connection_lost is scheduled or delivered
   return AIOTP_ECLOSED. */
TEST(close_then_abort)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_rec *r2 = th_rec_new();
    int sv[2];
    int sv2[2];
    aiotp_transport *t;
    aiotp_transport *t2;
    static unsigned char data[500];

    th_socketpair(sv);
    th_socketpair(sv2);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    t2 = th_wrap(loop, sv2[0], &th_streaming, r2);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_write(t, "more", 4), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 504);
    th_run_once(loop);
    CHECK_INT(r->lost, 0);
    th_f.send_eagain = false;
    CHECK_ERR(aiotp_transport_abort(t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_ERR(aiotp_transport_abort(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    th_run_passes(loop, 3);
    CHECK_INT(r->lost, 1);
    CHECK_INT(r->lost_status, 0);
    CHECK_ERR(aiotp_transport_abort(t), AIOTP_ECLOSED);
    CHECK_INT(peer_peek(sv[1]), 0); /* nothing was sent */
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");

    /* close() with an empty buffer schedules connection_lost: abort() is refused */
    CHECK_ERR(aiotp_transport_close(t2), 0);
    CHECK_ERR(aiotp_transport_abort(t2), AIOTP_ECLOSED);
    th_run_passes(loop, 2);
    CHECK_INT(r2->lost, 1);
    CHECK_ERR(aiotp_transport_abort(t2), AIOTP_ECLOSED);
    CHECK_STR(th_callbacks(2), "cb connection_made\ncb connection_lost status=0\n");
    th_peer_close(sv[1]);
    th_peer_close(sv2[1]);
}

/* The kernel took part of a write and the rest cannot be queued (no memory): the
   stream would lose bytes, so the connection fails with AIOTP_ENOMEM. */
TEST(write_partial_then_enomem_fails)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    char got[8];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_max = 4;
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write(t, "abcdefgh", 8), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    th_f.send_max = 0;
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, AIOTP_ENOMEM);
    th_read_exact(sv[1], got, 4);
    CHECK(memcmp(got, "abcd", 4) == 0);
    th_peer_close(sv[1]);
}

/* LOOP-11 for the stream transport: write() called outside the loop pauses the protocol
   at once; run_once() and loop_free() inside that pause_writing do nothing (no pass runs
   inside the method), the loop goes on afterwards. */
static aiotp_loop *nested_loop;
static int nested_rc;

static bool is_resumed(void *rec)
{
    return ((th_rec *)rec)->resumes > 0;
}

static int run_in_pause(th_rec *r, aiotp_transport *t)
{
    (void)r;
    (void)t;
    nested_rc = aiotp_loop_run_once(nested_loop);
    aiotp_loop_free(nested_loop); /* refused too */
    return 0;
}

TEST(no_pass_inside_write)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    unsigned char data[100];
    unsigned char got[100];
    uint64_t it;

    fill_pattern(data, sizeof(data), 3);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 10, AIOTP_LIMIT_NONE), 0);
    nested_loop = loop;
    nested_rc = 0;
    r->on_pause = run_in_pause;
    th_f.send_eagain = true;
    it = aiotp_loop_iteration(loop);
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0); /* queued: pause_writing */
    th_f.send_eagain = false;
    CHECK_INT(r->pauses, 1);
    CHECK_ERR(nested_rc, AIOTP_ERUNNING);
    CHECK(aiotp_loop_iteration(loop) == it); /* no pass ran */
    th_run_until(loop, is_resumed, r, 5);
    th_read_exact(sv[1], got, sizeof(got));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK_STR(th_cbs_no_flow(1), "cb connection_made\n");
    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

static const th_case cases[] = {
    T(write_partial_then_drain, "WRITE-WRITE-1 WRITE-WRITE-3 WRITE-SIZE-1"),
    T(write_empty_no_syscall, "WRITE-WRITE-2"),
    T(write_eagain_queues, "WRITE-WRITE-3 WRITE-SIZE-1"),
    T(write_many_in_order, "WRITE-WRITE-1 WRITE-WRITE-3"),
    T(write_after_close_pending, "WRITE-WRITE-5 BASE-CLOSE-2"),
    T(write_after_close_empty, "WRITE-WRITE-5"),
    T(write_after_write_eof, "WRITE-WRITE-4"),
    T(write_partial_then_enomem_fails, "WRITE-WRITE-6"),
    T(write_enomem_etoobig, "WRITE-WRITE-6"),
    T(write_send_error, "WRITE-WRITE-7"),
    T(drain_send_error, "WRITE-WRITE-7"),
    T(sigpipe_unix, "WRITE-WRITE-9 WRITE-WRITE-7"),
    T(sigpipe_tcp, "WRITE-WRITE-9"),
    T(writelines_many_pieces, "WRITE-LINES-1 WRITE-WRITE-1"),
    T(writelines_partial, "WRITE-LINES-1 WRITE-WRITE-3"),
    T(writelines_one_flow_check, "WRITE-LINES-1 FLOW-4"),
    T(write_eof_empty_buffer, "WRITE-EOF-1 WRITE-CANEOF-1"),
    T(write_eof_pending, "WRITE-EOF-2"),
    T(write_eof_noop, "WRITE-EOF-3 DONE-1"),
    T(abort_drops_pending, "WRITE-ABORT-1 WRITE-SIZE-1"),
    T(abort_no_resume, "WRITE-ABORT-2"),
    T(close_then_abort, "WRITE-ABORT-3"),
    T(no_pass_inside_write, "LOOP-11 FLOW-4"),
};
TH_MAIN_SIM(cases)
