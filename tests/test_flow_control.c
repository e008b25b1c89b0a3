/* tests/test_flow_control.c - write flow control: set_write_buffer_limits,
   get_write_buffer_limits, pause_writing/resume_writing (spec/rules.md, "Flow control";
   CPython §1 F1-F10, scenario 1 and 87-88 of §11, experiments E01/E02).

   The buffer size is made deterministic by scripting the kernel: th_f.send_eagain (the
   kernel takes nothing) and th_f.send_max (at most N bytes per send/sendmsg). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ------------------------------------------------------------------------- */

typedef struct handler_rec {
    int calls;
    char messages[4][64];
    int status[4];
    aiotp_transport *transport[4];
    const aiotp_protocol *protocol[4];
    void *protocol_data[4];
} handler_rec;

static void on_exception(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    handler_rec *h = arg;
    (void)loop;
    if (h->calls < 4) {
        snprintf(h->messages[h->calls], sizeof(h->messages[0]), "%s",
                 ctx->message ? ctx->message : "(null)");
        h->status[h->calls] = ctx->status;
        h->transport[h->calls] = ctx->transport;
        h->protocol[h->calls] = ctx->protocol;
        h->protocol_data[h->calls] = ctx->protocol_data;
    }
    h->calls++;
}

#define FLOW_LINES "call write|ret write|call set_write|ret set_write|cb pause|cb resume"

static void check_limits(aiotp_transport *t, size_t low, size_t high, int line)
{
    size_t l = 12345;
    size_t h = 12345;
    int rc = aiotp_transport_get_write_buffer_limits(t, &l, &h);
    if (rc != 0 || l != low || h != high) {
        th_fail(__FILE__, line, "limits: rc %d, (low, high) = (%zu, %zu), expected (%zu, %zu)",
                rc, l, h, low, high);
    }
}
#define CHECK_LIMITS(t, low, high) check_limits((t), (low), (high), __LINE__)

static void close_and_wait(aiotp_loop *loop, aiotp_transport *t, th_rec *r)
{
    th_f.send_eagain = false;
    th_f.send_max = 0;
    (void)aiotp_transport_abort(t);
    th_run_until(loop, th_is_lost, r, 5);
}

/* ---- limits ---------------------------------------------------------------------------- */

/* Defaults (16384, 65536) as (low, high), also in the trace of a new transport (F1, F4). */
TEST(defaults)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_LIMITS(t, 16384, 65536);
    CHECK(strstr(th_trace(), "t1 limits low=16384 high=65536\n") != NULL);
    close_and_wait(loop, t, r);
    th_peer_close(sv[1]);
}

/* Derivation (F2, E01). */
TEST(derivations)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 1000, AIOTP_LIMIT_NONE), 0);
    CHECK_LIMITS(t, 250, 1000);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, 1000), 0);
    CHECK_LIMITS(t, 1000, 4000);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 0, AIOTP_LIMIT_NONE), 0);
    CHECK_LIMITS(t, 0, 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 7, 7), 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, 0), 0);
    CHECK_LIMITS(t, 0, 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 3, 3), 0);
    CHECK_LIMITS(t, 3, 3);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 1001, AIOTP_LIMIT_NONE), 0);
    CHECK_LIMITS(t, 250, 1001);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, AIOTP_LIMIT_NONE), 0);
    CHECK_LIMITS(t, 16384, 65536);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 0, 0), 0);
    CHECK_LIMITS(t, 0, 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 1, AIOTP_LIMIT_NONE), 0);
    CHECK_LIMITS(t, 0, 1);
    CHECK_INT(r->pauses, 0);
    close_and_wait(loop, t, r);
    th_peer_close(sv[1]);
}

/* Refused limits leave the limits unchanged (F3, E01): the check runs after the
   derivation (low = -1 alone gives high -4). */
TEST(refusals)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    uint64_t base;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 1000, 100), 0);
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 0, 1), AIOTP_EINVAL);
    CHECK_LIMITS(t, 100, 1000);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, -1, AIOTP_LIMIT_NONE), AIOTP_EINVAL);
    CHECK_LIMITS(t, 100, 1000);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, -1), AIOTP_EINVAL);
    CHECK_LIMITS(t, 100, 1000);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 10, 20), AIOTP_EINVAL);
    CHECK_LIMITS(t, 100, 1000);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, -5, -10), AIOTP_EINVAL);
    CHECK_LIMITS(t, 100, 1000);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 10, -1), AIOTP_EINVAL);
    CHECK_LIMITS(t, 100, 1000);
    /* 4 * low would overflow */
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, INT64_MAX / 2),
              AIOTP_EINVAL);
    CHECK_LIMITS(t, 100, 1000);
    CHECK_STR(th_view(th_trace(), base, "call set_write|ret set_write", true),
              "@0 call set_write_buffer_limits high=0 low=1\n"
              "@0 ret set_write_buffer_limits EINVAL size=0 low=100 high=1000\n"
              "@0 call set_write_buffer_limits high=-1 low=NONE\n"
              "@0 ret set_write_buffer_limits EINVAL size=0 low=100 high=1000\n"
              "@0 call set_write_buffer_limits high=NONE low=-1\n"
              "@0 ret set_write_buffer_limits EINVAL size=0 low=100 high=1000\n"
              "@0 call set_write_buffer_limits high=10 low=20\n"
              "@0 ret set_write_buffer_limits EINVAL size=0 low=100 high=1000\n"
              "@0 call set_write_buffer_limits high=-5 low=-10\n"
              "@0 ret set_write_buffer_limits EINVAL size=0 low=100 high=1000\n"
              "@0 call set_write_buffer_limits high=10 low=-1\n"
              "@0 ret set_write_buffer_limits EINVAL size=0 low=100 high=1000\n"
              "@0 call set_write_buffer_limits high=NONE low=4611686018427387903\n"
              "@0 ret set_write_buffer_limits EINVAL size=0 low=100 high=1000\n");
    close_and_wait(loop, t, r);
    th_peer_close(sv[1]);
}

/* §11 scenario 1 with a buffer fixed at 512 bytes: (high 0, low 1) refused; (1024, 128)
   does not pause; (256, 128) pauses inside the setter. */
TEST(scenario1_fixed_buffer)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[512];
    uint64_t base;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 512);
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 0, 1), AIOTP_EINVAL);
    CHECK_LIMITS(t, 16384, 65536);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 1024, 128), 0);
    CHECK_LIMITS(t, 128, 1024);
    CHECK_INT(r->pauses, 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 256, 128), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_LIMITS(t, 128, 256);
    CHECK_STR(th_view(th_trace(), base, FLOW_LINES, true),
              "@0 call set_write_buffer_limits high=0 low=1\n"
              "@0 ret set_write_buffer_limits EINVAL size=512 low=16384 high=65536\n"
              "@0 call set_write_buffer_limits high=1024 low=128\n"
              "@0 ret set_write_buffer_limits 0 size=512 low=128 high=1024\n"
              "@0 call set_write_buffer_limits high=256 low=128\n"
              "@0 cb pause_writing size=512 high=256\n"
              "@0 ret set_write_buffer_limits 0 size=512 low=128 high=256\n");
    close_and_wait(loop, t, r);
    th_peer_close(sv[1]);
}

/* ---- pause ------------------------------------------------------------------------------ */

/* pause_writing exactly when the size goes over high, synchronously inside write(); a size
   equal to high does not pause; at most once until a resume (F5, E02a). */
TEST(pause_strictly_over_high)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[200];
    uint64_t base;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 100, AIOTP_LIMIT_NONE), 0);
    th_f.send_eagain = true;
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_write(t, data, 100), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 100);
    CHECK_INT(r->pauses, 0);
    CHECK_ERR(aiotp_transport_write(t, data, 1), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_ERR(aiotp_transport_write(t, data, 50), 0);
    CHECK_ERR(aiotp_transport_write(t, data, 200), 0);
    CHECK_INT(r->pauses, 1);
    th_run_passes(loop, 2); /* EAGAIN: no drain, no resume */
    CHECK_INT(r->resumes, 0);
    CHECK_STR(th_view(th_trace(), base, FLOW_LINES, true),
              "@0 call write n=100\n"
              "@0 ret write 0 size=100\n"
              "@0 call write n=1\n"
              "@0 cb pause_writing size=101 high=100\n"
              "@0 ret write 0 size=101\n"
              "@0 call write n=50\n"
              "@0 ret write 0 size=151\n"
              "@0 call write n=200\n"
              "@0 ret write 0 size=351\n");
    close_and_wait(loop, t, r);
    CHECK_INT(r->resumes, 0);
    th_peer_close(sv[1]);
}

/* A write of 200 KiB with default limits while the kernel takes 8064 bytes per call:
   one pause inside that write, none for a second write while paused; resume from the
   drain at 12288 <= 16384 (the sizes of E02a); the peer gets everything (§11 87). */
TEST(pause_resume_200k)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[205824];
    static unsigned char got[205824];
    size_t i;
    size_t n = 0;
    int passes = 0;
    uint64_t base;

    for (i = 0; i < sizeof(data); i++) {
        data[i] = (unsigned char)(i * 13u + (i >> 10));
    }
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_max = 8064;
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_write(t, data, 204800), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 196736);
    CHECK_INT(r->pauses, 1);
    CHECK_ERR(aiotp_transport_write(t, data + 204800, 1024), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 197760);
    CHECK_INT(r->pauses, 1);
    while (r->resumes == 0 && passes < 100) {
        th_run_once(loop);
        passes++;
        n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    }
    CHECK_INT(passes, 23); /* 197760 - 23 * 8064 = 12288 */
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 12288);
    while (aiotp_transport_get_write_buffer_size(t) > 0 && passes < 100) {
        th_run_once(loop);
        passes++;
        n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    }
    n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    CHECK_INT(passes, 25);
    CHECK_SIZE(n, sizeof(data));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    CHECK_INT(r->pauses, 1);
    CHECK_INT(r->resumes, 1);
    CHECK_STR(th_view(th_trace(), base, FLOW_LINES, true),
              "@0 call write n=204800\n"
              "@0 cb pause_writing size=196736 high=65536\n"
              "@0 ret write 0 size=196736\n"
              "@0 call write n=1024\n"
              "@0 ret write 0 size=197760\n"
              "@23 cb resume_writing size=12288 low=16384\n");
    close_and_wait(loop, t, r);
    th_peer_close(sv[1]);
}

/* writelines() and set_write_buffer_limits() pause synchronously too. */
TEST(pause_inside_writelines_and_setter)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_rec *r2 = th_rec_new();
    int sv[2];
    int sv2[2];
    aiotp_transport *t;
    aiotp_transport *t2;
    aiotp_buf b[3] = {{"0123456789", 10}, {"", 0}, {"abcdefghij", 10}};
    uint64_t base;

    th_socketpair(sv);
    th_socketpair(sv2);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    t2 = th_wrap(loop, sv2[0], &th_streaming, r2);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 19, AIOTP_LIMIT_NONE), 0);
    th_f.send_eagain = true;
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_writelines(t, b, 3), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_STR(th_view(th_trace(), base, FLOW_LINES "|call writelines|ret writelines", true),
              "@0 call writelines count=3 n=20\n"
              "@0 cb pause_writing size=20 high=19\n"
              "@0 ret writelines 0 size=20\n");

    /* t2: the setter pauses; a second setter call while paused does not pause again */
    CHECK_ERR(aiotp_transport_write(t2, "0123456789", 10), 0);
    CHECK_INT(r2->pauses, 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t2, 9, 0), 0);
    CHECK_INT(r2->pauses, 1);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t2, 5, 0), 0);
    CHECK_INT(r2->pauses, 1);
    CHECK_STR(th_callbacks(2), "cb pause_writing size=10 high=9\n"); /* since th_mark() */
    close_and_wait(loop, t, r);
    close_and_wait(loop, t2, r2);
    th_peer_close(sv[1]);
    th_peer_close(sv2[1]);
}

/* ---- resume ----------------------------------------------------------------------------- */

/* resume_writing from the drain once size <= low (equality resumes), never above it
   (F6). high 1000 -> low 250; 2050 bytes queued, the kernel takes 300 per call. */
TEST(resume_at_low)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[2050];
    static unsigned char got[2050];
    uint64_t base;
    int i;
    static const size_t sizes[] = {1750, 1450, 1150, 850, 550, 250, 0};

    for (i = 0; i < (int)sizeof(data); i++) {
        data[i] = (unsigned char)(i * 7);
    }
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 1000, AIOTP_LIMIT_NONE), 0);
    CHECK_LIMITS(t, 250, 1000);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0);
    CHECK_INT(r->pauses, 1);
    th_f.send_eagain = false;
    th_f.send_max = 300;
    base = th_mark(loop);
    for (i = 0; i < 7; i++) {
        th_run_once(loop);
        CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), sizes[i]);
        CHECK_INT(r->resumes, i >= 5 ? 1 : 0);
    }
    th_run_passes(loop, 2);
    CHECK_INT(r->resumes, 1);
    CHECK_STR(th_view(th_trace(), base, "cb ", true), "@6 cb resume_writing size=250 low=250\n");
    th_read_exact(sv[1], got, sizeof(got));
    CHECK(memcmp(got, data, sizeof(data)) == 0);
    close_and_wait(loop, t, r);
    th_peer_close(sv[1]);
}

/* pause and resume strictly alternate, starting with pause, over several cycles; the
   resume hook writing again may pause again later, never twice in a row (F5, F6). */
static int resume_writes_more(th_rec *r, aiotp_transport *t)
{
    static unsigned char more[40];
    if (r->resumes < 3) {
        return aiotp_transport_write(t, more, sizeof(more)); /* queued: size 20 + 40 */
    }
    return 0;
}

TEST(strict_alternation)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[100];
    static unsigned char sink[4096];
    const char *cbs;
    const char *p;
    char last = 'r';
    int pauses = 0;
    int resumes = 0;
    int passes = 0;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    r->on_resume = resume_writes_more;
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 50, 20), 0);
    th_f.send_max = 10;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0); /* 90 queued: pause */
    while (aiotp_transport_get_write_buffer_size(t) > 0 && passes < 200) {
        th_run_once(loop);
        passes++;
        (void)th_drain_fd(sv[1], sink, sizeof(sink));
    }
    CHECK_INT(r->pauses, 3);
    CHECK_INT(r->resumes, 3);
    cbs = th_callbacks(1);
    for (p = cbs; (p = strstr(p, "cb ")) != NULL; p += 3) {
        if (strncmp(p, "cb pause_writing", 16) == 0) {
            CHECK(last == 'r');
            last = 'p';
            pauses++;
        } else if (strncmp(p, "cb resume_writing", 17) == 0) {
            CHECK(last == 'p');
            last = 'r';
            resumes++;
        }
    }
    CHECK_INT(pauses, 3);
    CHECK_INT(resumes, 3);
    /* the resume hook's write pauses inside resume_writing (size 20 + 40 > 50) */
    CHECK_STR(cbs, "cb connection_made\n"
                   "cb pause_writing size=90 high=50\n"
                   "cb resume_writing size=20 low=20\n"
                   "cb pause_writing size=60 high=50\n"
                   "cb resume_writing size=20 low=20\n"
                   "cb pause_writing size=60 high=50\n"
                   "cb resume_writing size=20 low=20\n");
    close_and_wait(loop, t, r);
    th_peer_close(sv[1]);
}

/* Lowering high below the size pauses inside the setter; size == high does not; raising
   the limits while paused does not resume - the next drain does (F8, E02b, §11 88). */
TEST(setter_pauses_never_resumes)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[500];
    uint64_t base;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, sizeof(data)), 0);
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 500, AIOTP_LIMIT_NONE), 0);
    CHECK_INT(r->pauses, 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 499, AIOTP_LIMIT_NONE), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 1000000000, AIOTP_LIMIT_NONE), 0);
    CHECK_INT(r->resumes, 0);
    th_run_passes(loop, 2); /* the kernel still takes nothing: no drain */
    CHECK_INT(r->resumes, 0);
    th_f.send_eagain = false;
    th_run_once(loop);
    CHECK_INT(r->resumes, 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_STR(th_view(th_trace(), base, FLOW_LINES, true),
              "@0 call set_write_buffer_limits high=500 low=NONE\n"
              "@0 ret set_write_buffer_limits 0 size=500 low=125 high=500\n"
              "@0 call set_write_buffer_limits high=499 low=NONE\n"
              "@0 cb pause_writing size=500 high=499\n"
              "@0 ret set_write_buffer_limits 0 size=500 low=124 high=499\n"
              "@0 call set_write_buffer_limits high=1000000000 low=NONE\n"
              "@0 ret set_write_buffer_limits 0 size=500 low=250000000 high=1000000000\n"
              "@3 cb resume_writing size=0 low=250000000\n");
    close_and_wait(loop, t, r);
    th_peer_close(sv[1]);
}

/* A failing pause_writing / resume_writing goes to the exception handler with its
   status; the paused flag keeps its new value (no second pause while "paused", a pause
   again after the failed resume); the transport carries on (F7, E02d). */
static int fail_flow(th_rec *r, aiotp_transport *t)
{
    (void)r;
    (void)t;
    return -7;
}

TEST(flow_callbacks_fail)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    handler_rec h;
    int sv[2];
    aiotp_transport *t;
    static unsigned char data[300];
    static unsigned char got[600];

    memset(&h, 0, sizeof(h));
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    aiotp_loop_set_exception_handler(loop, on_exception, &h);
    r->on_pause = fail_flow;
    r->on_resume = fail_flow;
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 100, 0), 0);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, 200), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_INT(h.calls, 1);
    CHECK_STR(h.messages[0], "protocol.pause_writing() failed");
    CHECK_INT(h.status[0], -7);
    CHECK(h.transport[0] == t);
    CHECK(h.protocol[0] == &th_streaming);
    CHECK(h.protocol_data[0] == r);
    /* still paused: no second pause */
    CHECK_ERR(aiotp_transport_write(t, data, 100), 0);
    CHECK_INT(r->pauses, 1);
    CHECK_INT(aiotp_transport_is_closing(t), 0);

    th_f.send_eagain = false;
    th_run_once(loop); /* drains everything: resume fails */
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(r->resumes, 1);
    CHECK_INT(h.calls, 2);
    CHECK_STR(h.messages[1], "protocol.resume_writing() failed");
    CHECK_INT(h.status[1], -7);
    CHECK(h.transport[1] == t);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_INT(r->lost, 0);

    /* running again: the next excess pauses again */
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, data, 101), 0);
    CHECK_INT(r->pauses, 2);
    CHECK_INT(h.calls, 3);
    th_f.send_eagain = false;
    th_run_once(loop);
    CHECK_INT(r->resumes, 2);
    CHECK_INT(h.calls, 4);
    th_read_exact(sv[1], got, 401);
    CHECK(memcmp(got, data, 200) == 0);
    CHECK(memcmp(got + 200, data, 100) == 0);
    CHECK(memcmp(got + 300, data, 101) == 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\n"
                               "cb pause_writing size=200 high=100\n"
                               "cb resume_writing size=0 low=0\n"
                               "cb pause_writing size=101 high=100\n"
                               "cb resume_writing size=0 low=0\n");
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost_status, 0);
    th_peer_close(sv[1]);
}

/* high = 0: a write the kernel takes whole does not pause; any queued byte pauses;
   resume only when empty (F9, E02c). */
TEST(high_zero)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    char got[32];
    uint64_t base;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 0, AIOTP_LIMIT_NONE), 0);
    CHECK_LIMITS(t, 0, 0);
    CHECK_ERR(aiotp_transport_write(t, "0123456789", 10), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(r->pauses, 0);
    th_f.send_max = 4;
    base = th_mark(loop);
    CHECK_ERR(aiotp_transport_write(t, "abcdefghij", 10), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 6);
    CHECK_INT(r->pauses, 1);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 2);
    CHECK_INT(r->resumes, 0);
    th_run_once(loop);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(r->resumes, 1);
    CHECK_STR(th_view(th_trace(), base, FLOW_LINES, true),
              "@0 call write n=10\n"
              "@0 cb pause_writing size=6 high=0\n"
              "@0 ret write 0 size=6\n"
              "@2 cb resume_writing size=0 low=0\n");
    /* a single queued byte pauses */
    th_f.send_max = 0;
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, "k", 1), 0);
    CHECK_INT(r->pauses, 2);
    th_f.send_eagain = false;
    th_run_once(loop);
    CHECK_INT(r->resumes, 2);
    th_read_exact(sv[1], got, 21);
    CHECK(memcmp(got, "0123456789abcdefghijk", 21) == 0);
    close_and_wait(loop, t, r);
    th_peer_close(sv[1]);
}

static const th_case cases[] = {
    T(defaults, "FLOW-1"),
    T(derivations, "FLOW-2"),
    T(refusals, "FLOW-3"),
    T(scenario1_fixed_buffer, "FLOW-3 FLOW-4 FLOW-7"),
    T(pause_strictly_over_high, "FLOW-4"),
    T(pause_resume_200k, "FLOW-4 FLOW-5 WRITE-WRITE-1"),
    T(pause_inside_writelines_and_setter, "FLOW-4 FLOW-7 WRITE-LINES-1"),
    T(resume_at_low, "FLOW-5"),
    T(strict_alternation, "FLOW-6 FLOW-4 FLOW-5"),
    T(setter_pauses_never_resumes, "FLOW-7"),
    T(flow_callbacks_fail, "FLOW-8"),
    T(high_zero, "FLOW-9 FLOW-5"),
};
TH_MAIN_SIM(cases)
