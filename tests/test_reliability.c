/* tests/test_reliability.c - regression cases for the stream-transport defects of the
   adversarial review (issue 9): each case names the rule it pins. The peer is played
   through th_peer_* only, so the file runs on the simulated kernel too (TH_MAIN_SIM). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"

/* ---- STREAM-ERR-3: the state changes before the report ------------------------------ */

typedef struct rep_log {
    int calls;
    int status;
    bool closing;   /* is_closing() inside the handler */
    int write_rc;   /* write() inside the handler */
    int close_rc;   /* close() inside the handler */
} rep_log;

static rep_log rep;

/* A handler that uses the transport it is told about (defect 2: it used to fail it again,
   recursively, and its close() turned connection_lost(error) into connection_lost(0)). */
static void meddling_handler(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)loop;
    (void)arg;
    rep.calls++;
    rep.status = ctx->status;
    if (ctx->transport != NULL) {
        rep.closing = aiotp_transport_is_closing(ctx->transport);
        rep.write_rc = aiotp_transport_write(ctx->transport, "again", 5);
        rep.close_rc = aiotp_transport_close(ctx->transport);
    }
}

static void fatal_case(bool from_callback)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_transport *t;
    int sv[2];

    memset(&rep, 0, sizeof(rep));
    aiotp_loop_set_exception_handler(loop, meddling_handler, NULL);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    if (from_callback) {
        r->data_ret = AIOTP_ECALLBACK; /* reported in any mode (PROTO-STREAM-4) */
    } else {
        aiotp_loop_set_debug(loop, true); /* OS errors are reported in debug mode */
        th_f.send_errno = EPIPE;
    }
    if (from_callback) {
        CHECK_INT(th_peer_write(sv[1], "hello", 5), 5);
        th_run_once(loop);
    } else {
        CHECK_ERR(aiotp_transport_write(t, "hello", 5), -EPIPE);
    }
    th_f.send_errno = 0;
    CHECK_INT(rep.calls, 1);
    CHECK_INT(rep.closing, 1);
    CHECK_ERR(rep.write_rc, AIOTP_ECLOSED);
    CHECK_ERR(rep.close_rc, AIOTP_ECLOSED);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, from_callback ? AIOTP_ECALLBACK : -EPIPE);
    CHECK_INT(rep.calls, 1);
    th_peer_close(sv[1]);
}

TEST(fatal_os_error_state_before_report)
{
    fatal_case(false);
}

TEST(fatal_callback_state_before_report)
{
    fatal_case(true);
}

/* ---- BASE-PROTO-1: set_protocol inside get_buffer ---------------------------------- */

typedef struct switcher {
    unsigned char buf[64];
    size_t got;                      /* bytes reported by buffer_updated */
    unsigned char rx[256];
    int updated;
    int eofs;
    int data;                        /* data_received calls (when streaming) */
    size_t data_len;
    unsigned char data_rx[256];
    const aiotp_protocol *switch_to; /* set_protocol to this inside the next get_buffer */
    void *switch_data;
} switcher;

static int sw_get_buffer(aiotp_transport *t, void *d, ptrdiff_t hint, void **buf, size_t *len)
{
    switcher *s = d;
    (void)hint;
    if (s->switch_to != NULL) {
        const aiotp_protocol *to = s->switch_to;
        s->switch_to = NULL;
        CHECK_ERR(aiotp_transport_set_protocol(t, to, s->switch_data), 0);
    }
    *buf = s->buf;
    *len = sizeof(s->buf);
    return 0;
}

static int sw_updated(aiotp_transport *t, void *d, size_t n)
{
    switcher *s = d;
    (void)t;
    s->updated++;
    if (s->got + n <= sizeof(s->rx)) {
        memcpy(s->rx + s->got, s->buf, n);
    }
    s->got += n;
    return 0;
}

static int sw_data(aiotp_transport *t, void *d, const void *buf, size_t n)
{
    switcher *s = d;
    (void)t;
    s->data++;
    if (s->data_len + n <= sizeof(s->data_rx)) {
        memcpy(s->data_rx + s->data_len, buf, n);
    }
    s->data_len += n;
    return 0;
}

static int sw_eof(aiotp_transport *t, void *d)
{
    switcher *s = d;
    (void)t;
    s->eofs++;
    return 1; /* keep open */
}

static const aiotp_protocol sw_buffered = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_BUFFERED,
    .get_buffer = sw_get_buffer,
    .buffer_updated = sw_updated,
    .eof_received = sw_eof,
};

static const aiotp_protocol sw_streaming = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .data_received = sw_data,
    .eof_received = sw_eof,
};

/* A switches to B inside get_buffer: nothing is received in that read event (A is never
   called again, B is not told about bytes written into A's buffer); B receives the bytes,
   or the EOF, from the next read event (PROTO-BUF-5). */
static void switch_case(const aiotp_protocol *to, bool eof)
{
    aiotp_loop *loop = th_loop();
    switcher *a = calloc(1, sizeof(*a));
    switcher *b = calloc(1, sizeof(*b));
    aiotp_transport *t;
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &sw_buffered, a);
    a->switch_to = to;
    a->switch_data = b;
    if (eof) {
        CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
        th_run_once(loop);
        CHECK_INT(a->eofs + b->eofs, 0); /* nothing received in A's read event */
        th_run_once(loop);
        CHECK_INT(a->eofs, 0);
        CHECK_INT(b->eofs, 1); /* the EOF goes to B */
        CHECK_INT(a->updated + b->updated + b->data, 0);
    } else {
        CHECK_INT(th_peer_write(sv[1], "first", 5), 5);
        th_run_once(loop);
        CHECK_INT(a->updated, 0); /* A switched: this read event receives nothing */
        CHECK_INT(b->updated + b->data, 0);
        CHECK_INT(th_peer_write(sv[1], "second", 6), 6);
        th_run_once(loop);
        CHECK_INT(a->updated, 0);
        if (to == &sw_streaming) { /* both writes, in order, to B */
            CHECK_INT(b->data, 1);
            CHECK_SIZE(b->data_len, 11);
            CHECK(memcmp(b->data_rx, "firstsecond", 11) == 0);
        } else {
            CHECK_INT(b->updated, 1);
            CHECK_SIZE(b->got, 11);
            CHECK(memcmp(b->rx, "firstsecond", 11) == 0);
        }
    }
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_passes(loop, 2);
    CHECK(aiotp_transport_get_protocol(t, NULL) == NULL);
    th_peer_close(sv[1]);
    th_loop_free(loop);
    free(a);
    free(b);
}

TEST(set_protocol_in_get_buffer_to_streaming)
{
    switch_case(&sw_streaming, false);
}

TEST(set_protocol_in_get_buffer_to_buffered)
{
    switch_case(&sw_buffered, false);
}

TEST(set_protocol_in_get_buffer_at_eof)
{
    switch_case(&sw_streaming, true);
}

/* ---- WRITE-LINES-1: writelines == one write of the concatenation ------------------- */

#define PIECES 300
#define PIECE 200

/* The same bytes and limits through write() on one connection and writelines() of 300
   pieces on another (default socket buffers, which take the 60,000 bytes): the same bytes
   queued, the same pause_writing. Defect 8: only the first 64 pieces (12,800 bytes) used
   to reach the kernel, the rest (47,200 > high) was queued and paused the protocol. */
TEST(writelines_like_one_write)
{
    aiotp_loop *loop = th_loop();
    th_rec *rw = th_rec_new();
    th_rec *rl = th_rec_new();
    static unsigned char data[PIECES * PIECE];
    static unsigned char got[PIECES * PIECE];
    aiotp_buf bufs[PIECES];
    aiotp_transport *tw;
    aiotp_transport *tl;
    int a[2];
    int b[2];
    size_t i;
    size_t n;

    for (i = 0; i < sizeof(data); i++) {
        data[i] = (unsigned char)(i * 7u + 3u);
    }
    for (i = 0; i < PIECES; i++) {
        bufs[i].base = data + i * PIECE;
        bufs[i].len = PIECE;
    }
    th_socketpair(a);
    th_socketpair(b);
    tw = th_wrap(loop, a[0], &th_streaming, rw);
    tl = th_wrap(loop, b[0], &th_streaming, rl);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(tw, 40000, 1000), 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(tl, 40000, 1000), 0);
    CHECK_ERR(aiotp_transport_write(tw, data, sizeof(data)), 0);
    CHECK_ERR(aiotp_transport_writelines(tl, bufs, PIECES), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(tl),
               aiotp_transport_get_write_buffer_size(tw));
    CHECK(aiotp_transport_get_write_buffer_size(tw) < 40000);
    CHECK_INT(rl->pauses, rw->pauses);
    CHECK_INT(rl->pauses, 0);
    /* every byte arrives, in order */
    for (i = 0, n = 0; n < sizeof(got) && i < 1000; i++) {
        static unsigned char sink[PIECES * PIECE];
        n += th_drain_fd(b[1], got + n, sizeof(got) - n);
        (void)th_drain_fd(a[1], sink, sizeof(sink));
        th_run_once(loop);
    }
    CHECK_SIZE(n, sizeof(got));
    for (i = 0; i < sizeof(got); i++) {
        if (got[i] != (unsigned char)(i * 7u + 3u)) {
            th_fail(__FILE__, __LINE__, "byte %zu differs", i);
            break;
        }
    }
    CHECK_ERR(aiotp_transport_close(tw), 0);
    CHECK_ERR(aiotp_transport_close(tl), 0);
    th_run_until(loop, th_is_lost, rw, 10);
    th_run_until(loop, th_is_lost, rl, 10);
    th_peer_close(a[1]);
    th_peer_close(b[1]);
}

/* ---- LOOP-8: the fd is the transport's until connection_lost has run ----------------- */

static void never_fd_cb(aiotp_loop *loop, int fd, void *arg)
{
    (void)loop;
    (void)fd;
    (*(int *)arg)++;
}

static int lost_tries_fd(th_rec *r, aiotp_transport *t)
{
    const aiotp_extra *x = aiotp_transport_get_extra_info(t, "socket", NULL);
    int *calls = r->user;
    CHECK(x != NULL && x->u.fd >= 0);
    if (x != NULL) {
        CHECK_ERR(aiotp_loop_add_writer(aiotp_transport_get_loop(t), x->u.fd, never_fd_cb,
                                        calls),
                  AIOTP_EBUSY);
    }
    return 0;
}

TEST(closing_transport_keeps_its_fd)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char big[200000];
    static unsigned char sink[sizeof(big)];
    aiotp_transport *t;
    int calls = 0;
    size_t got = 0;
    int sv[2];

    th_socketpair(sv);
    th_small_buffers(sv[0]);
    th_small_buffers(sv[1]);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    memset(big, 'z', sizeof(big));
    CHECK_ERR(aiotp_transport_write(t, big, sizeof(big)), 0);
    CHECK(aiotp_transport_get_write_buffer_size(t) > 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    /* defect 10: user code used to be able to take the fd over here, which stopped the
       drain for good */
    CHECK_ERR(aiotp_loop_add_writer(loop, sv[0], never_fd_cb, &calls), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_remove_writer(loop, sv[0]), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_add_reader(loop, sv[0], never_fd_cb, &calls), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_remove_reader(loop, sv[0]), AIOTP_EBUSY);
    r->user = &calls;
    r->on_lost = lost_tries_fd;
    while (r->lost == 0 && got < sizeof(big)) {
        got += th_drain_fd(sv[1], sink + got, sizeof(sink) - got);
        th_run_once(loop);
    }
    th_run_until(loop, th_is_lost, r, 10);
    got += th_drain_fd(sv[1], sink + got, sizeof(sink) - got);
    CHECK_SIZE(got, sizeof(big));
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, 0);
    CHECK_INT(calls, 0);
    th_peer_close(sv[1]);
}

/* ---- WRITE-EOF-4: one behaviour for a failing shutdown -------------------------------- */

TEST(write_eof_enotconn_ignored)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_transport *t;
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.shutdown_errno = ENOTCONN;
    CHECK_ERR(aiotp_transport_write_eof(t), 0);
    th_f.shutdown_errno = 0;
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_ERR(aiotp_transport_write(t, "x", 1), AIOTP_ESTATE);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, 0);
    th_peer_close(sv[1]);
}

TEST(write_eof_deferred_failure_same)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_transport *t;
    char got[16];
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, "data", 4), 0);
    CHECK_ERR(aiotp_transport_write_eof(t), 0); /* deferred: the buffer is not empty */
    th_f.send_eagain = false;
    th_f.shutdown_errno = EIO;
    th_run_until(loop, th_is_lost, r, 10);
    th_f.shutdown_errno = 0;
    CHECK_ERR(r->lost_status, -EIO);
    th_read_exact(sv[1], got, 4);
    CHECK(memcmp(got, "data", 4) == 0);
    th_peer_close(sv[1]);
}

/* ---- WRITE-WRITE-10: a kernel ENOMEM/EINVAL is not "nothing changed" ------------------ */

static void kernel_error_case(int err, bool lines)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_transport *t;
    aiotp_buf b[2] = {{"ab", 2}, {"cd", 2}};
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_errno = err;
    if (lines) {
        CHECK_ERR(aiotp_transport_writelines(t, b, 2), AIOTP_ECLOSED);
    } else {
        CHECK_ERR(aiotp_transport_write(t, "abcd", 4), AIOTP_ECLOSED);
    }
    th_f.send_errno = 0;
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_ERR(aiotp_transport_write(t, "x", 1), AIOTP_ECLOSED);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, -err);
    th_peer_close(sv[1]);
}

TEST(kernel_enomem_write)
{
    kernel_error_case(ENOMEM, false);
}

TEST(kernel_einval_write)
{
    kernel_error_case(EINVAL, false);
}

TEST(kernel_enomem_writelines)
{
    kernel_error_case(ENOMEM, true);
}

TEST(kernel_epipe_write_unchanged)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_transport *t;
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_errno = EPIPE;
    CHECK_ERR(aiotp_transport_write(t, "abcd", 4), -EPIPE); /* WRITE-WRITE-7 */
    th_f.send_errno = 0;
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, -EPIPE);
    th_peer_close(sv[1]);
}

static const th_case cases[] = {
    T(fatal_os_error_state_before_report, "STREAM-ERR-3 WRITE-WRITE-7"),
    T(fatal_callback_state_before_report, "STREAM-ERR-3 PROTO-STREAM-4"),
    T(set_protocol_in_get_buffer_to_streaming, "BASE-PROTO-1 PROTO-BUF-5"),
    T(set_protocol_in_get_buffer_to_buffered, "BASE-PROTO-1 PROTO-BUF-5"),
    T(set_protocol_in_get_buffer_at_eof, "BASE-PROTO-1 PROTO-BUF-5"),
    T(writelines_like_one_write, "WRITE-LINES-1"),
    T(closing_transport_keeps_its_fd, "LOOP-8 BASE-CLOSE-2"),
    T(write_eof_enotconn_ignored, "WRITE-EOF-4"),
    T(write_eof_deferred_failure_same, "WRITE-EOF-4 WRITE-EOF-2"),
    T(kernel_enomem_write, "WRITE-WRITE-10"),
    T(kernel_einval_write, "WRITE-WRITE-10"),
    T(kernel_enomem_writelines, "WRITE-WRITE-10"),
    T(kernel_epipe_write_unchanged, "WRITE-WRITE-10 WRITE-WRITE-7"),
};

TH_MAIN_SIM(cases)
