/* tests/test_tls_transport.c - the TLS transport once the handshake is done: everything a
   stream transport has, with the documentation's exceptions (no half-close: can_write_eof
   false, write_eof refused; eof_received cannot keep the transport open), and CPython
   3.11's SSL transport where the page is silent (spec/tls-transport.md; rules TLS-*,
   and the stream rules the TLS transport shares). Both ends are aiotp transports of one
   loop over a TCP pair: t1/t2 the client (below/TLS), t3/t4 the server. */
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "tls_helpers.h"

static unsigned char pattern[300000];

static void fill_pattern(void)
{
    size_t i;
    for (i = 0; i < sizeof(pattern); i++) {
        pattern[i] = (unsigned char)(i * 7u + (i >> 8));
    }
}

static void pair(aiotp_loop *loop, th_tls_pair *p)
{
    th_tls_pair_make(loop, p, th_tls_client_ctx(), th_tls_server_ctx("server"), "localhost",
                     NULL, NULL);
    CHECK_ERR(p->c.status, 0);
    CHECK_ERR(p->s.status, 0);
}

static size_t expect_n; /* server_has: the bytes the server must have received */
static int eof_calls;   /* eof_writes ran */

static bool server_has(void *arg)
{
    th_tls_pair *p = arg;
    return p->sr->rx_len >= expect_n;
}

/* ---- data ------------------------------------------------------------------------------ */

/* Bytes go both ways complete and in order; the traces' running totals and sums agree
   with the peer's (the oracle checks them through "t4 peer t2"). */
TEST(data_both_ways)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    fill_pattern();
    pair(loop, &p);
    CHECK_ERR(aiotp_transport_write(p.c.t, pattern, sizeof(pattern)), 0);
    expect_n = sizeof(pattern);
    th_run_until(loop, server_has, &p, 100);
    CHECK_SIZE(p.sr->rx_len, sizeof(pattern));
    CHECK(memcmp(p.sr->rx, pattern, sizeof(pattern)) == 0);
    CHECK_ERR(aiotp_transport_write(p.s.t, "pong", 4), 0);
    CHECK_ERR(aiotp_transport_close(p.s.t), 0);
    th_tls_pair_finish(loop, &p, 100);
    CHECK_SIZE(p.cr->rx_len, 4);
    CHECK(memcmp(p.cr->rx, "pong", 4) == 0);
    CHECK_INT(p.cr->lost_status, 0);
    CHECK_INT(p.sr->lost_status, 0);
    /* the client was told the server's close_notify, after the data */
    CHECK_STR(th_tls_cbs(2), "cb connection_made\ncb data_received\ncb eof_received\n"
                             "ret eof_received 0\ncb connection_lost status=0\n");
}

/* write of 0 bytes does nothing; writelines is the write of the concatenation. */
TEST(writelines_and_empty)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    aiotp_buf bufs[3] = {{"abc", 3}, {NULL, 0}, {"defgh", 5}};
    aiotp_buf bad[1] = {{NULL, 2}};
    pair(loop, &p);
    CHECK_ERR(aiotp_transport_write(p.c.t, NULL, 0), 0);
    CHECK_ERR(aiotp_transport_write(p.c.t, NULL, 5), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_writelines(p.c.t, bad, 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_writelines(p.c.t, NULL, 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_writelines(p.c.t, bufs, 3), 0);
    CHECK_ERR(aiotp_transport_writelines(p.c.t, bufs, 0), 0);
    expect_n = 8;
    th_run_until(loop, server_has, &p, 20);
    CHECK_SIZE(p.sr->rx_len, 8);
    CHECK(memcmp(p.sr->rx, "abcdefgh", 8) == 0);
    CHECK_INT(th_count_lines("t2 call writelines count=3 n=8"), 1);
    CHECK_INT(th_count_lines("t2 ret writelines 0 size=0 total=8 sum="), 2);
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 20);
}

/* ---- no half-close --------------------------------------------------------------------- */

static void never_done(aiotp_transport *t, void *arg, int status)
{
    (void)t;
    (void)arg;
    (void)status;
    th_fail(__FILE__, __LINE__, "the done of a refused write_borrowed was called");
}

/* can_write_eof() is false and write_eof() returns ENOTSUP and changes nothing: the
   transport still writes. write_borrowed() is ENOTSUP too. */
TEST(no_half_close)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    pair(loop, &p);
    CHECK(!aiotp_transport_can_write_eof(p.c.t));
    CHECK_ERR(aiotp_transport_write_eof(p.c.t), AIOTP_ENOTSUP);
    CHECK(!aiotp_transport_is_closing(p.c.t));
    CHECK_INT(th_count_lines("t2 query can_write_eof 0"), 1);
    CHECK_INT(th_count_lines("t2 ret write_eof ENOTSUP size=0"), 1);
    /* nor the zero-copy write (DEV-81: the stream below has it, the TLS transport not) */
    CHECK_ERR(aiotp_transport_write_borrowed(p.c.t, "x", 1, never_done, NULL), AIOTP_ENOTSUP);
    CHECK_INT(th_count_lines("t2 ret write_borrowed ENOTSUP size=0"), 1);
    CHECK_ERR(aiotp_transport_write(p.c.t, "still", 5), 0);
    expect_n = 5;
    th_run_until(loop, server_has, &p, 20);
    CHECK_SIZE(p.sr->rx_len, 5);
    CHECK_INT(p.sr->eofs, 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
}

/* The peer's close_notify calls eof_received once; returning true has no effect: the
   transport closes anyway (the documentation's "Some transports, including SSL, don't
   support half-closed connections"), and it was not closing during the call: a write made
   there is still sent. */
static int eof_writes(th_rec *r, aiotp_transport *t)
{
    CHECK(!aiotp_transport_is_closing(t));
    CHECK(!aiotp_transport_is_reading(t)); /* READ-5: no data after EOF */
    CHECK_ERR(aiotp_transport_write(t, "bye", 3), 0);
    (void)r;
    eof_calls++;
    return 0;
}

TEST(eof_received_true_closes)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    pair(loop, &p);
    p.sr->eof_ret = 1;
    p.sr->on_eof = eof_writes;
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    CHECK(aiotp_transport_is_closing(p.c.t));
    th_tls_pair_finish(loop, &p, 50);
    CHECK_INT(eof_calls, 1);
    CHECK_STR(th_tls_cbs(4), "cb connection_made\ncb eof_received\nret eof_received 1\n"
                             "cb connection_lost status=0\n");
    /* the client closed first: it takes nothing more (the reply is read and dropped) */
    CHECK_STR(th_tls_cbs(2), "cb connection_made\ncb connection_lost status=0\n");
    CHECK_INT(th_count_lines("t4 ret write 0 size=0 total=3"), 1);
}

/* A TCP EOF without close_notify is no EOF of the TLS stream (TLS-EOF-3): no
   eof_received, connection_lost(ETLSEOF) after the data that came before it. */
TEST(bare_fin_is_no_eof)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    const aiotp_extra *sock;
    pair(loop, &p);
    CHECK_ERR(aiotp_transport_write(p.s.t, "last", 4), 0);
    th_run_passes(loop, 2);
    sock = aiotp_transport_get_extra_info(p.s.t, "socket", NULL);
    CHECK(sock != NULL && sock->kind == AIOTP_EXTRA_FD);
    CHECK_INT(th_peer_shutdown(sock->u.fd, SHUT_WR), 0); /* under the TLS layer's feet */
    th_run_until(loop, th_is_lost, p.cr, 20);
    CHECK_SIZE(p.cr->rx_len, 4);
    CHECK_INT(p.cr->eofs, 0);
    CHECK_ERR(p.cr->lost_status, AIOTP_ETLSEOF);
    CHECK_STR(th_tls_cbs(2), "cb connection_made\ncb data_received\n"
                             "cb connection_lost status=ETLSEOF\n");
    CHECK_ERR(aiotp_transport_abort(p.s.t), 0);
    th_tls_pair_finish(loop, &p, 20);
}

/* ---- close and abort ---------------------------------------------------------------------- */

/* close() sends everything written before it, then close_notify: the peer gets all the
   bytes, then eof_received; connection_lost(0) on both sides. Writes after close() are
   dropped with ECLOSED (CPython drops them silently), a second close() returns ECLOSED. */
TEST(close_flushes_then_close_notify)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    fill_pattern();
    pair(loop, &p);
    CHECK_ERR(aiotp_transport_write(p.c.t, pattern, sizeof(pattern)), 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_write(p.c.t, "late", 4), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_write(p.c.t, "late", 0), 0);
    CHECK(aiotp_transport_is_closing(p.c.t));
    CHECK(!aiotp_transport_is_reading(p.c.t));
    th_tls_pair_finish(loop, &p, 200);
    CHECK_SIZE(p.sr->rx_len, sizeof(pattern));
    CHECK(memcmp(p.sr->rx, pattern, sizeof(pattern)) == 0);
    CHECK_INT(p.sr->eofs, 1);
    CHECK_INT(p.cr->lost_status, 0);
    CHECK_INT(p.sr->lost_status, 0);
    CHECK_INT(th_count_lines("t2 ret write ECLOSED"), 1);
}

/* abort() drops what is queued, connection_lost(0) in the next pass (WRITE-ABORT-4); the
   peer sees the connection end without close_notify: connection_lost(ETLSEOF). */
TEST(abort_drops)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    uint64_t at;
    pair(loop, &p);
    th_run_passes(loop, 3); /* (the session tickets read: the close sends no RST) */
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    CHECK_ERR(aiotp_transport_abort(p.c.t), AIOTP_ECLOSED);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(p.c.t), 0);
    at = aiotp_loop_iteration(loop);
    th_tls_pair_finish(loop, &p, 20);
    CHECK_INT(th_iter_of("t2 cb connection_lost", 0), at + 1);
    CHECK_INT(p.cr->lost_status, 0);
    CHECK_ERR(p.sr->lost_status, AIOTP_ETLSEOF);
    CHECK_INT(p.sr->eofs, 0);
    /* after connection_lost: ECLOSED, defaults */
    CHECK_ERR(aiotp_transport_write(p.c.t, "x", 1), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_close(p.c.t), AIOTP_ECLOSED);
    CHECK(aiotp_transport_get_protocol(p.c.t, NULL) == NULL);
    CHECK_ERR(aiotp_transport_set_protocol(p.c.t, &th_streaming, NULL), AIOTP_ECLOSED);
}

/* The client's stream transport (t1) fails on its own: the server resets the connection,
   t1's reader gets ECONNRESET (traced: debug mode); t1's connection_lost, and with it the
   TLS transport's, is still to come. close_first: the client's close() before the reset
   (its close_notify sent, the peer's awaited). */
static void lower_fails(aiotp_loop *loop, th_tls_pair *p, bool close_first)
{
    const aiotp_extra *sock;
    int i;
    pair(loop, p);
    th_run_passes(loop, 3); /* (the session tickets read) */
    CHECK_ERR(aiotp_transport_write(p->c.t, "hello", 5), 0);
    th_run_until(loop, server_has, p, 20);
    if (close_first) {
        CHECK_ERR(aiotp_transport_close(p->c.t), 0);
    }
    aiotp_loop_set_debug(loop, true);
    sock = aiotp_transport_get_extra_info(p->s.t, "socket", NULL);
    CHECK(sock != NULL && sock->kind == AIOTP_EXTRA_FD);
    th_set_rst(sock->u.fd); /* the server's close resets the connection */
    CHECK_ERR(aiotp_transport_abort(p->s.t), 0);
    for (i = 0; i < 50 && th_count_lines("t1 exc") == 0; i++) {
        th_run_passes(loop, 1);
    }
    CHECK_INT(th_count_lines("t1 exc status=ECONNRESET"), 1);
    CHECK_INT(th_count_lines("t1 cb connection_lost"), 0);
    CHECK(aiotp_transport_is_closing(p->c.t) == close_first);
}

/* The transport below failed on its own (a reset read by its reader: debug mode traces the
   error) and its connection_lost is still to come: a write() of the TLS transport hands
   its records down, they are refused (ECLOSED), and the write is dropped whole: ECLOSED
   with the trace's total unchanged (WRITE-WRITE-5), never counted as accepted (found by
   fuzz_tls: it returned ECLOSED after counting the bytes). The TLS transport ends with the
   error of the one below, not with ECLOSED. */
TEST(write_after_lower_failed)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    aiotp_buf bufs[2] = {{"abc", 3}, {"de", 2}};
    lower_fails(loop, &p, false);
    CHECK_ERR(aiotp_transport_write(p.c.t, "lost", 4), AIOTP_ECLOSED);
    CHECK_INT(th_count_lines("t1 ret write ECLOSED"), 1); /* the records went down */
    CHECK_INT(th_count_lines("t2 ret write ECLOSED size=0 total=5 "), 1);
    CHECK(aiotp_transport_is_closing(p.c.t));
    CHECK_ERR(aiotp_transport_writelines(p.c.t, bufs, 2), AIOTP_ECLOSED);
    CHECK_INT(th_count_lines("t2 ret writelines ECLOSED size=0 total=5 "), 1);
    th_tls_pair_finish(loop, &p, 20);
    CHECK_ERR(p.cr->lost_status, -ECONNRESET);
    CHECK_STR(th_tls_cbs(2), "cb connection_made\ncb connection_lost status=ECONNRESET\n");
}

/* abort() accepted while the transport below has already failed (its error not yet
   told): connection_lost(0), as for every abort (WRITE-ABORT-4), not the error below
   (found by fuzz_tls: close(), the transport below fails, abort(), then
   connection_lost(EPIPE)). */
TEST(abort_after_lower_failed)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    lower_fails(loop, &p, true);
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 20);
    CHECK_INT(p.cr->lost_status, 0);
    CHECK_STR(th_tls_cbs(2), "cb connection_made\ncb connection_lost status=0\n");
}

/* A peer that never sends its close_notify (its protocol paused reading: the close_notify
   waits unread): after the shutdown timeout the connection is aborted,
   connection_lost(-ETIMEDOUT). The peer, resumed, finds the close_notify and the EOF. */
TEST(shutdown_timeout)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    aiotp_time start;
    th_tls_client_shutdown_timeout = 200 * AIOTP_NS_PER_MS;
    pair(loop, &p);
    th_run_passes(loop, 3);
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), 0);
    start = aiotp_loop_time(loop);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_run_until(loop, th_is_lost, p.cr, 40);
    CHECK(aiotp_loop_time(loop) - start >= 200 * AIOTP_NS_PER_MS);
    CHECK_ERR(p.cr->lost_status, -ETIMEDOUT);
    CHECK_STR(th_tls_cbs(2), "cb connection_made\ncb connection_lost status=ETIMEDOUT\n");
    CHECK_INT(p.sr->lost, 0); /* it waits for its protocol */
    CHECK_ERR(aiotp_transport_resume_reading(p.s.t), 0);
    th_run_until(loop, th_is_lost, p.sr, 40);
    CHECK_INT(p.sr->eofs, 1);
    CHECK_INT(p.sr->chunks, 0);
}

/* ---- reading ------------------------------------------------------------------------------- */

/* pause_reading() is the protocol's: nothing is delivered until resume_reading(), which
   delivers what waited in the next pass (CPython: call_soon). is_reading() follows it. */
TEST(pause_reading_waits)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    uint64_t at;
    pair(loop, &p);
    CHECK(aiotp_transport_is_reading(p.s.t));
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), 0);
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), 0);
    CHECK(!aiotp_transport_is_reading(p.s.t));
    CHECK_ERR(aiotp_transport_write(p.c.t, "hello", 5), 0);
    th_run_passes(loop, 4);
    CHECK_INT(p.sr->chunks, 0);
    CHECK(aiotp_tls_get_read_buffer_size(p.s.t) > 0);
    CHECK_ERR(aiotp_transport_resume_reading(p.s.t), 0);
    CHECK_ERR(aiotp_transport_resume_reading(p.s.t), 0);
    CHECK_INT(p.sr->chunks, 0); /* not inside the call */
    at = aiotp_loop_iteration(loop);
    th_run_once(loop);
    CHECK_INT(p.sr->chunks, 1);
    CHECK_SIZE(p.sr->rx_len, 5);
    CHECK_INT(th_iter_of("t4 cb data_received", 0), at + 1);
    CHECK_SIZE(aiotp_tls_get_read_buffer_size(p.s.t), 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
}

/* DONE-1 on a closing or closed TLS transport: pause_reading() and resume_reading()
   return ECLOSED and change nothing, as on every other kind (found by fuzz_tls: they
   returned 0 and stepped the state machine). Also inside the shutdown, and after
   connection_lost on a retained transport. */
TEST(reading_calls_once_closing)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    pair(loop, &p);
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), 0); /* open: 0 */
    CHECK_ERR(aiotp_transport_resume_reading(p.s.t), 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    CHECK(aiotp_transport_is_closing(p.c.t));
    CHECK_ERR(aiotp_transport_pause_reading(p.c.t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_resume_reading(p.c.t), AIOTP_ECLOSED);
    CHECK_INT(th_count_lines("t2 ret pause_reading ECLOSED"), 1);
    CHECK_INT(th_count_lines("t2 ret resume_reading ECLOSED"), 1);
    th_tls_pair_finish(loop, &p, 50);
    CHECK_INT(p.cr->lost, 1);
    CHECK_ERR(p.cr->lost_status, 0);
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_resume_reading(p.s.t), AIOTP_ECLOSED);
    CHECK(!aiotp_transport_is_reading(p.s.t));
    CHECK_STR(th_tls_cbs(2), "cb connection_made\ncb connection_lost status=0\n");
}

/* A BufferedProtocol over TLS: get_buffer(-1) when there is plaintext, buffer_updated
   with what fits, again until everything is delivered; exact byte counts. */
TEST(buffered_protocol)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    fill_pattern();
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("server"), "localhost",
                     NULL, &th_buffered);
    p.sr->buf_size = 1000;
    CHECK_ERR(p.s.status, 0);
    CHECK_ERR(aiotp_transport_write(p.c.t, pattern, 25000), 0);
    expect_n = 25000;
    th_run_until(loop, server_has, &p, 50);
    CHECK_SIZE(p.sr->rx_len, 25000);
    CHECK(memcmp(p.sr->rx, pattern, 25000) == 0);
    CHECK(p.sr->chunks >= 25);
    CHECK_INT(p.sr->get_buffers, p.sr->chunks);
    CHECK_INT(th_count_lines("t4 cb get_buffer sizehint=-1"), p.sr->get_buffers);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
    CHECK_INT(p.sr->eofs, 1);
}

/* An empty buffer from get_buffer is fatal (EEMPTYBUF), reported to the exception handler;
   a failing data_received likewise with its status (PROTO-BUF-2, PROTO-STREAM-4 over TLS). */
TEST(failing_callbacks_are_fatal)
{
    aiotp_loop *loop = th_exc_loop();
    th_tls_pair p;
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("server"), "localhost",
                     NULL, &th_buffered);
    p.sr->buf_size = 0;
    CHECK_ERR(aiotp_transport_write(p.c.t, "abc", 3), 0);
    th_tls_pair_finish(loop, &p, 30);
    CHECK_ERR(p.sr->lost_status, AIOTP_EEMPTYBUF);
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, AIOTP_EEMPTYBUF);
    CHECK_STR(th_exc.msg, "Fatal error: protocol.get_buffer() call failed.");
    CHECK(th_exc.t == p.s.t);
    CHECK_ERR(p.cr->lost_status, AIOTP_ETLSEOF);

    th_trace_clear();
    th_exc.n = 0;
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("server"), "localhost",
                     NULL, NULL);
    p.sr->data_ret = -EIO;
    CHECK_ERR(aiotp_transport_write(p.c.t, "abc", 3), 0);
    th_tls_pair_finish(loop, &p, 30);
    CHECK_ERR(p.sr->lost_status, -EIO);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, "Fatal error: protocol.data_received() call failed.");
}

/* A failing connection_made is reported; the transport carries on (PROTO-BASE-5). */
TEST(connection_made_fails_carries_on)
{
    aiotp_loop *loop = th_exc_loop();
    th_tls_pair p;
    th_rec *r = th_rec_new();
    aiotp_connect_options o;
    th_tls_side cs;
    int sv[2];

    memset(&cs, 0, sizeof(cs));
    memset(&p, 0, sizeof(p));
    r->made_ret = -EPERM;
    th_tcp_pair(sv);
    aiotp_connect_options_init(&o);
    o.sock = sv[0];
    o.tls = th_tls_client_ctx();
    o.server_hostname = "localhost";
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, NULL, 0, &o, th_tls_done,
                                           &cs),
              0);
    aiotp_connect_options_init(&o);
    o.tls = th_tls_server_ctx("server");
    p.sr = th_rec_new();
    CHECK_ERR(aiotp_loop_connect_accepted_socket_opts(loop, th_tls_rec_factory, p.sr, sv[1], &o,
                                                      th_tls_done, &p.s),
              0);
    th_run_until(loop, th_tls_side_done, &cs, 50);
    th_run_until(loop, th_tls_side_done, &p.s, 50);
    CHECK_ERR(cs.status, 0);
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, -EPERM);
    CHECK_ERR(aiotp_transport_write(p.s.t, "data", 4), 0);
    th_run_passes(loop, 3);
    CHECK_SIZE(r->rx_len, 4);
    CHECK_ERR(aiotp_transport_close(cs.t), 0);
    th_run_until(loop, th_is_lost, r, 50);
    th_run_until(loop, th_is_lost, p.sr, 50);
}

/* set_protocol switches protocol from the next delivery; no connection_made for the new
   one; a table of another kind is refused with EPROTOKIND. */
TEST(set_protocol_switches)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    th_rec *r2 = th_rec_new();
    static const aiotp_protocol dgram = {.size = sizeof(aiotp_protocol),
                                         .kind = AIOTP_PROTOCOL_DATAGRAM};
    pair(loop, &p);
    CHECK_ERR(aiotp_transport_set_protocol(p.s.t, &dgram, NULL), AIOTP_EPROTOKIND);
    CHECK_ERR(aiotp_transport_set_protocol(p.s.t, NULL, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_set_protocol(p.s.t, &th_buffered, r2), 0);
    CHECK(aiotp_transport_get_protocol(p.s.t, NULL) == &th_buffered);
    CHECK_ERR(aiotp_transport_write(p.c.t, "switch", 6), 0);
    th_run_passes(loop, 3);
    CHECK_SIZE(r2->rx_len, 6);
    CHECK_SIZE(p.sr->rx_len, 0);
    CHECK_INT(r2->made, 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_run_until(loop, th_is_lost, r2, 50);
    th_run_until(loop, th_is_lost, p.cr, 50);
    CHECK_INT(p.sr->lost, 0);
}

/* ---- extra info ------------------------------------------------------------------------------ */

TEST(extra_info)
{
    aiotp_loop *loop = th_loop();
    aiotp_tls_context *c = th_tls_client_ctx();
    th_tls_pair p;
    const aiotp_extra *x;
    aiotp_extra dflt;
    memset(&dflt, 0, sizeof(dflt));
    th_tls_pair_make(loop, &p, c, th_tls_server_ctx("server"), "localhost", NULL, NULL);

    x = aiotp_transport_get_extra_info(p.c.t, "sslcontext", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_PTR && x->u.ptr == c);
    x = aiotp_transport_get_extra_info(p.c.t, "ssl_object", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_PTR && x->u.ptr != NULL);
    if (x != NULL && x->kind == AIOTP_EXTRA_PTR) {
        CHECK(SSL_is_server((SSL *)(uintptr_t)x->u.ptr) == 0);
    }
    x = aiotp_transport_get_extra_info(p.c.t, "peercert", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_PTR && x->u.ptr != NULL);
    x = aiotp_transport_get_extra_info(p.s.t, "peercert", NULL); /* no client certificate */
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_NONE);
    x = aiotp_transport_get_extra_info(p.c.t, "compression", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_NONE);
    x = aiotp_transport_get_extra_info(p.c.t, "cipher", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_PTR);
    /* the socket's names are the transport below's */
    x = aiotp_transport_get_extra_info(p.c.t, "peername", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR);
    x = aiotp_transport_get_extra_info(p.c.t, "socket", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_FD && x->u.fd >= 0);
    CHECK(aiotp_transport_get_extra_info(p.c.t, "nonsense", &dflt) == &dflt);
    CHECK(aiotp_transport_get_extra_info(p.c.t, NULL, &dflt) == &dflt);

    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
    /* after connection_lost: the default, but for "sslcontext" */
    CHECK(aiotp_transport_get_extra_info(p.c.t, "ssl_object", &dflt) == &dflt);
    CHECK(aiotp_transport_get_extra_info(p.c.t, "cipher", &dflt) == &dflt);
    CHECK(aiotp_transport_get_extra_info(p.c.t, "peername", &dflt) == &dflt);
    CHECK(aiotp_transport_get_extra_info(p.c.t, "socket", &dflt) == &dflt);
    x = aiotp_transport_get_extra_info(p.c.t, "sslcontext", NULL);
    CHECK(x != NULL && x->u.ptr == c);
}

/* The same exchange on a loop that traces nothing (no trace function): handshake, data
   both ways, pausing, limits, close_notify and connection_lost on both sides. */
TEST(untraced_exchange)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    fill_pattern();
    aiotp_loop_set_trace(loop, NULL, NULL);
    pair(loop, &p);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(p.c.t, 4096, 1024), 0);
    CHECK_ERR(aiotp_transport_write(p.c.t, pattern, sizeof(pattern)), 0);
    CHECK_ERR(aiotp_transport_pause_reading(p.s.t), 0);
    th_run_passes(loop, 3);
    CHECK_SIZE(p.sr->rx_len, 0); /* paused */
    CHECK_ERR(aiotp_transport_resume_reading(p.s.t), 0);
    expect_n = sizeof(pattern);
    th_run_until(loop, server_has, &p, 200);
    CHECK_SIZE(p.sr->rx_len, sizeof(pattern));
    CHECK(memcmp(p.sr->rx, pattern, sizeof(pattern)) == 0);
    CHECK_INT(p.cr->pauses, p.cr->resumes);
    CHECK_ERR(aiotp_transport_write(p.s.t, "pong", 4), 0);
    CHECK_ERR(aiotp_transport_close(p.s.t), 0);
    th_tls_pair_finish(loop, &p, 100);
    CHECK_SIZE(p.cr->rx_len, 4);
    CHECK(memcmp(p.cr->rx, "pong", 4) == 0);
    CHECK_INT(p.cr->eofs, 1);
    CHECK_INT(p.cr->lost_status, 0);
    CHECK_INT(p.sr->lost_status, 0);
}

static const th_case cases[] = {
    T(untraced_exchange, "TLS-DATA-1 TLS-READ-1 TLS-EOF-2 TLS-FLOW-1 TLS-LOST-1"),
    T(data_both_ways, "TLS-DATA-1 PROTO-STREAM-1 TLS-EOF-2 TLS-LOST-1"),
    T(writelines_and_empty, "TLS-DATA-1 WRITE-LINES-1 WRITE-WRITE-2 WRITE-WRITE-8"),
    T(no_half_close, "TLS-EOF-1 TRANSPORT-KIND-2"),
    T(eof_received_true_closes, "TLS-EOF-2 READ-5"),
    T(bare_fin_is_no_eof, "TLS-EOF-3"),
    T(close_flushes_then_close_notify,
      "TLS-CLOSE-1 TLS-CLOSE-2 TLS-CLOSE-3 TLS-WRITE-2 BASE-CLOSE-4"),
    T(abort_drops, "TLS-ABORT-1 WRITE-ABORT-4 TLS-EOF-3 BAD-2 TLS-LOST-1"),
    T(write_after_lower_failed, "WRITE-WRITE-5 TLS-WRITE-2 TLS-LOST-1"),
    T(abort_after_lower_failed, "WRITE-ABORT-4 TLS-ABORT-1"),
    T(shutdown_timeout, "TLS-CLOSE-4 TLS-EOF-3"),
    T(pause_reading_waits, "TLS-READ-1 READ-2 READ-3"),
    T(reading_calls_once_closing, "DONE-1 TLS-READ-1"),
    T(buffered_protocol, "TLS-BUF-1 PROTO-BUF-1"),
    T(failing_callbacks_are_fatal, "TLS-FATAL-1 PROTO-BUF-2 PROTO-STREAM-4"),
    T(connection_made_fails_carries_on, "PROTO-BASE-5"),
    T(set_protocol_switches, "BASE-PROTO-1 PROTO-KIND-2"),
    T(extra_info, "TLS-EXTRA-1 TLS-EXTRA-2"),
};

TH_MAIN(cases)
