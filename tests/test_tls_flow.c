/* tests/test_tls_flow.c - flow control on both layers of a TLS transport (rules
   TLS-FLOW-*, TLS-READ-3; spec/tls-transport.md "Flow control"): the application's write
   buffer is the plaintext queued plus the encrypted bytes the transport below has not
   taken (pause_writing strictly over high, as every aiotp transport: DEV-36); when the
   transport below pauses the layer, encrypted bytes wait in the layer; the read side
   pauses the transport below on the encrypted bytes waiting, apart from the protocol's
   own pause_reading. t1/t2 the client (below/TLS), t3/t4 the server. */
#include <string.h>
#include <sys/socket.h>

#include "tls_helpers.h"

static unsigned char chunk[32768];

static void pair(aiotp_loop *loop, th_tls_pair *p)
{
    th_tls_pair_make(loop, p, th_tls_client_ctx(), th_tls_server_ctx("server"), "localhost",
                     NULL, NULL);
    CHECK_ERR(p->c.status, 0);
    CHECK_ERR(p->s.status, 0);
}

static void small_buffers(th_tls_pair *p)
{
    const aiotp_extra *a = aiotp_transport_get_extra_info(p->c.t, "socket", NULL);
    const aiotp_extra *b = aiotp_transport_get_extra_info(p->s.t, "socket", NULL);
    CHECK(a != NULL && b != NULL);
    if (a != NULL && b != NULL) {
        th_small_buffers(a->u.fd);
        th_small_buffers(b->u.fd);
    }
}

/* Write until the client's protocol is paused; returns the bytes written. */
static size_t fill_until_paused(aiotp_loop *loop, th_tls_pair *p)
{
    size_t total = 0;
    int i;
    for (i = 0; i < 400 && p->cr->pauses == 0; i++) {
        CHECK_ERR(aiotp_transport_write(p->c.t, chunk, sizeof(chunk)), 0);
        total += sizeof(chunk);
        if (p->cr->pauses == 0) {
            th_run_once(loop);
        }
    }
    CHECK_INT(p->cr->pauses, 1);
    return total;
}

static size_t expect_total;

static bool server_has_all(void *arg)
{
    th_tls_pair *p = arg;
    return p->sr->rx_len >= expect_total;
}

/* The client closed with `total` bytes written and the server paused reading: the server
   resumes, gets every byte and then close_notify (eof_received); the client was never
   resumed once closing, and both ends close cleanly. */
static void resume_and_finish(aiotp_loop *loop, th_tls_pair *p, size_t total, int passes)
{
    CHECK_ERR(aiotp_transport_resume_reading(p->s.t), 0);
    th_tls_pair_finish(loop, p, passes);
    CHECK_SIZE(p->sr->rx_len, total);
    CHECK_INT(p->sr->eofs, 1);
    CHECK_INT(p->cr->resumes, 0);
    CHECK_INT(p->cr->lost_status, 0);
}

/* The defaults are CPython's: writes 128 KiB / 512 KiB, reads 64 KiB / 256 KiB; neither
   limit given gives them back (not the socket's 16/64 KiB); only high gives low = high/4. */
TEST(default_limits)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    size_t low;
    size_t high;
    pair(loop, &p);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(p.c.t, &low, &high), 0);
    CHECK_SIZE(low, 131072);
    CHECK_SIZE(high, 524288);
    CHECK_ERR(aiotp_tls_get_read_buffer_limits(p.c.t, &low, &high), 0);
    CHECK_SIZE(low, 65536);
    CHECK_SIZE(high, 262144);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, 4000, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(p.c.t, &low, &high), 0);
    CHECK_SIZE(low, 1000);
    CHECK_SIZE(high, 4000);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, AIOTP_LIMIT_NONE,
                                                      AIOTP_LIMIT_NONE),
              0);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(p.c.t, &low, &high), 0);
    CHECK_SIZE(low, 131072);
    CHECK_SIZE(high, 524288);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, 10, 20), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_set_read_buffer_limits(p.c.t, 8192, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_tls_get_read_buffer_limits(p.c.t, &low, &high), 0);
    CHECK_SIZE(low, 2048);
    CHECK_SIZE(high, 8192);
    CHECK_ERR(aiotp_tls_set_read_buffer_limits(p.c.t, AIOTP_LIMIT_NONE, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_tls_get_read_buffer_limits(p.c.t, &low, &high), 0);
    CHECK_SIZE(low, 65536);
    CHECK_SIZE(high, 262144);
    CHECK_ERR(aiotp_tls_set_read_buffer_limits(p.c.t, 10, 20), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_get_read_buffer_limits(p.c.t, &low, &high), 0);
    CHECK_SIZE(high, 262144); /* unchanged */
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 20);
}

/* The read-side API on other transports and with bad arguments. */
TEST(read_limits_bad_input)
{
    aiotp_loop *loop = th_loop();
    int sv[2];
    aiotp_transport *t;
    th_rec *r = th_rec_new();
    size_t low = 1;
    size_t high = 2;
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_tls_set_read_buffer_limits(t, 100, 10), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_tls_get_read_buffer_limits(t, &low, &high), AIOTP_ENOTSUP);
    CHECK_SIZE(aiotp_tls_get_read_buffer_size(t), 0);
    CHECK_ERR(aiotp_tls_set_read_buffer_limits(NULL, 100, 10), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_get_read_buffer_limits(NULL, &low, &high), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_get_read_buffer_limits(t, NULL, &high), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_get_read_buffer_limits(t, &low, NULL), AIOTP_EINVAL);
    CHECK_SIZE(aiotp_tls_get_read_buffer_size(NULL), 0);
    CHECK_SIZE(low, 1);
    CHECK_SIZE(high, 2);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 10);
    th_peer_close(sv[1]);
}

/* Both layers: the server's protocol pauses reading; the encrypted bytes wait in its layer
   until they pass the read high mark, then the layer pauses the transport below it (t3),
   the kernel buffers fill, the client's transport below (t1) pauses the client's layer,
   encrypted bytes wait there, the client's write buffer passes high: pause_writing. On
   resume_reading everything drains: the transport below resumes, resume_writing comes
   (at or below low), and every byte arrives in order. The protocol's pause and the
   layer's pause of the transport below are apart: is_reading() is the protocol's. */
TEST(both_layers)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    size_t total;
    size_t i;
    pair(loop, &p);
    small_buffers(&p);
    for (i = 0; i < sizeof(chunk); i++) {
        chunk[i] = (unsigned char)(i % 251);
    }
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, 65536, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_tls_set_read_buffer_limits(p.s.t, 32768, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), 0);
    total = fill_until_paused(loop, &p);
    CHECK(aiotp_transport_get_write_buffer_size(p.c.t) > 65536);
    /* the layers below: the client's stream paused the client's layer, the server's layer
       paused its stream */
    CHECK_INT(th_count_lines("t1 cb pause_writing"), 1);
    CHECK_INT(th_count_lines("t3 call pause_reading"), 1);
    CHECK_INT(th_count_lines("t3 call resume_reading"), 0);
    CHECK(!aiotp_transport_is_reading(p.s.t));
    CHECK(aiotp_tls_get_read_buffer_size(p.s.t) >= 32768);
    CHECK_INT(p.sr->chunks, 0);
    /* drain */
    CHECK_ERR(aiotp_transport_resume_reading(p.s.t), 0);
    expect_total = total;
    th_run_until(loop, server_has_all, &p, 2000);
    CHECK_SIZE(p.sr->rx_len, total);
    for (i = 0; i < total && i < p.sr->rx_len; i += sizeof(chunk)) {
        if (memcmp(p.sr->rx + i, chunk, sizeof(chunk)) != 0) {
            CHECK(!"bytes changed");
            break;
        }
    }
    th_run_passes(loop, 3);
    CHECK_INT(p.cr->resumes, 1);
    CHECK(th_count_lines("t3 call resume_reading") >= 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(p.c.t), 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 100);
}

/* A paused protocol whose transport is aborted is never resumed (WRITE-ABORT-2). */
TEST(abort_while_paused)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    pair(loop, &p);
    small_buffers(&p);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, 65536, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), 0);
    (void)fill_until_paused(loop, &p);
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(p.c.t), 0);
    th_run_until(loop, th_is_lost, p.cr, 20);
    CHECK_INT(p.cr->resumes, 0);
    CHECK_INT(p.cr->lost_status, 0);
    CHECK_ERR(aiotp_transport_abort(p.s.t), 0);
    th_run_until(loop, th_is_lost, p.sr, 20);
}

/* close() while the client is paused still sends every byte before close_notify; no
   resume_writing once closing (CPython: the shutdown handles flow control itself). */
TEST(close_while_paused_flushes)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    size_t total;
    pair(loop, &p);
    small_buffers(&p);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, 65536, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), 0);
    total = fill_until_paused(loop, &p);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    resume_and_finish(loop, &p, total, 2000);
}

/* FLOW-7 once closing: close() with data still waiting in the layer (the transport below
   paused it), then limits lowered under the size: pause_writing inside the setter, as on
   an open transport (found by fuzz_tls: the setter skipped it once closing). The data
   still all goes before close_notify; no resume_writing once closing. */
TEST(limits_lowered_while_closing)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    size_t total = 0;
    size_t size;
    int i;
    pair(loop, &p);
    small_buffers(&p);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, 64 << 20, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), 0);
    for (i = 0; i < 8; i++) {
        CHECK_ERR(aiotp_transport_write(p.c.t, chunk, sizeof(chunk)), 0);
        total += sizeof(chunk);
    }
    size = aiotp_transport_get_write_buffer_size(p.c.t);
    CHECK(size > 4096); /* (the transport below took what its socket and buffer could, then
                           paused the layer: TLS-FLOW-2) */
    CHECK_INT(p.cr->pauses, 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    CHECK(aiotp_transport_is_closing(p.c.t));
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, 4096, 1024), 0);
    CHECK_INT(p.cr->pauses, 1);
    CHECK_INT(th_count_lines("t2 cb pause_writing"), 1);
    CHECK(th_iter_of("t2 cb pause_writing", 0) == aiotp_loop_iteration(loop));
    /* a second lowering does not pause twice */
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, 2048, 0), 0);
    CHECK_INT(p.cr->pauses, 1);
    resume_and_finish(loop, &p, total, 4000);
}

static const th_case cases[] = {
    T(default_limits, "TLS-FLOW-1 TLS-READ-3 FLOW-2 FLOW-3"),
    T(read_limits_bad_input, "TLS-READ-3 BAD-1"),
    T(both_layers, "TLS-FLOW-1 TLS-FLOW-2 TLS-READ-3 FLOW-4 FLOW-5"),
    T(abort_while_paused, "WRITE-ABORT-2 TLS-ABORT-1"),
    T(close_while_paused_flushes, "TLS-CLOSE-2 TLS-CLOSE-7 TLS-FLOW-2"),
    T(limits_lowered_while_closing, "FLOW-7 TLS-FLOW-1 TLS-FLOW-2 TLS-CLOSE-2"),
};

TH_MAIN(cases)
