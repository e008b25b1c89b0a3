/* tests/test_base_transport.c - BaseTransport: close, is_closing, get_extra_info,
   set_protocol/get_protocol (spec/rules.md, "BaseTransport"). */
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* close() with an empty buffer: reading stops at once, connection_lost next pass. */
TEST(close_empty_buffer)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 1);
    (void)!th_peer_write(sv[1], "late", 4); /* must never be delivered */
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_INT(r->lost, 0);
    th_run_once(loop);
    CHECK_INT(r->lost, 1);
    CHECK_INT(r->lost_status, 0);
    CHECK_INT(r->chunks, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    th_peer_close(sv[1]);
}

/* A second close() has no effect. */
TEST(close_twice)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    th_run_passes(loop, 3);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_INT(r->lost, 1);
    th_peer_close(sv[1]);
}

/* close() with buffered data: flushed first, connection_lost in the pass of the last
   send. */
TEST(close_flushes_first)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char big[300000];
    static unsigned char got[300000];
    size_t n = 0;
    size_t i;

    for (i = 0; i < sizeof(big); i++) {
        big[i] = (unsigned char)(i * 7);
    }
    th_socketpair(sv);
    th_small_buffers(sv[0]);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_write(t, big, sizeof(big)), 0);
    CHECK(aiotp_transport_get_write_buffer_size(t) > 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 0); /* the peer is not reading */
    while (r->lost == 0 && n < sizeof(got)) {
        n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
        th_run_once(loop);
    }
    th_run_until(loop, th_is_lost, r, 100);
    n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    CHECK_SIZE(n, sizeof(big));
    CHECK(memcmp(got, big, sizeof(big)) == 0);
    CHECK_INT(r->lost_status, 0);
    th_peer_close(sv[1]);
}

TEST(extra_info)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    const aiotp_extra *x;
    aiotp_extra dflt;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    dflt.kind = AIOTP_EXTRA_FD;
    dflt.u.fd = 12345;
    th_tcp_pair(sv);
    th_peer_getsockname(sv[1], (struct sockaddr *)&ss, &len);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    x = aiotp_transport_get_extra_info(t, "peername", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR);
    if (x != NULL && x->kind == AIOTP_EXTRA_ADDR) {
        CHECK_INT(x->u.addr.len, len);
        CHECK(memcmp(x->u.addr.addr, &ss, len) == 0);
    }
    x = aiotp_transport_get_extra_info(t, "sockname", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR);
    x = aiotp_transport_get_extra_info(t, "socket", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_FD && x->u.fd == sv[0]);
    CHECK(aiotp_transport_get_extra_info(t, "nonexistent", &dflt) == &dflt);
    CHECK(aiotp_transport_get_extra_info(t, "sslcontext", NULL) == NULL);
    aiotp_transport_close(t);
    th_run_until(loop, th_is_lost, r, 5);
    x = aiotp_transport_get_extra_info(t, "socket", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_FD && x->u.fd == -1);
    th_peer_close(sv[1]);
}

static const th_case cases[] = {
    T(close_empty_buffer, "BASE-CLOSE-1 BASE-CLOSE-3 BASE-CLOSING-1"),
    T(close_twice, "BASE-CLOSE-4"),
    T(close_flushes_first, "BASE-CLOSE-2 WRITE-WRITE-1"),
    T(extra_info, "BASE-EXTRA-1 BASE-EXTRA-2"),
};
TH_MAIN_SIM(cases)
