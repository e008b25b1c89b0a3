/* tests/test_datagram_protocol.c - the documentation's "Datagram Protocols" section
   (connection_made, datagram_received, error_received, connection_lost, the flow
   callbacks) and CPython 3.11's receive path (spec/cpython-facts.md §4.3): ordering, what
   a failing callback does, errors reported while the transport stays open. Runs on poll,
   epoll and the simulated kernel. */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "dgram_helpers.h"

typedef struct upair {
    aiotp_transport *t;
    int peer;
    struct sockaddr_storage peer_addr;
    socklen_t peer_len;
    struct sockaddr_storage t_addr;
    socklen_t t_len;
} upair;

static void udp_pair(aiotp_loop *loop, th_drec *r, upair *p, bool connected)
{
    th_udp_socket(AF_INET, &p->peer, &p->peer_addr, &p->peer_len);
    p->t = th_udp_endpoint(loop, AF_INET, connected ? (struct sockaddr *)&p->peer_addr : NULL,
                           p->peer_len, r);
    p->t_len = th_sockname(p->t, &p->t_addr);
    CHECK_INT(th_peer_connect(p->peer, (struct sockaddr *)&p->t_addr, p->t_len), 0);
}

static void finish(aiotp_loop *loop, aiotp_transport *t, th_drec *r, int peer)
{
    if (!aiotp_transport_is_closing(t)) {
        CHECK_ERR(aiotp_transport_close(t), 0);
    }
    th_run_until(loop, th_d_is_lost, r, 10);
    CHECK_INT(r->lost, 1);
    if (peer >= 0) {
        th_peer_close(peer);
    }
}

static bool dgrams_at_least_3(void *arg)
{
    return ((th_drec *)arg)->dgrams >= 3;
}

static bool has_error(void *arg)
{
    return ((th_drec *)arg)->errors > 0;
}

/* connection_made first, then one datagram_received per datagram with its bytes and the
   sender's address, in order, up to 16 receives per read event; connection_lost last. */
TEST(made_datagrams_lost)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    upair p;
    uint64_t it;

    udp_pair(loop, r, &p, false);
    CHECK_INT(r->made, 1);
    CHECK_INT(th_peer_send(p.peer, "a", 1, 0), 1);
    CHECK_INT(th_peer_send(p.peer, "bb", 2, 0), 2);
    CHECK_INT(th_peer_send(p.peer, "ccc", 3, 0), 3);
    it = aiotp_loop_iteration(loop);
    th_run_until(loop, dgrams_at_least_3, r, 10);
    CHECK(aiotp_loop_iteration(loop) == it + 1); /* one read event, three receives (DEV-70) */
    CHECK_INT(r->dgrams, 3);
    CHECK_SIZE(r->len[0], 1);
    CHECK_SIZE(r->len[1], 2);
    CHECK_SIZE(r->len[2], 3);
    CHECK(memcmp(r->data[2], "ccc", 3) == 0);
    CHECK_SIZE(r->from_len[0], p.peer_len);
    CHECK(memcmp(&r->from[0], &p.peer_addr, p.peer_len) == 0);
    finish(loop, p.t, r, p.peer);
    CHECK_STR(th_cb_names(1), "cb connection_made\ncb datagram_received\n"
                              "cb datagram_received\ncb datagram_received\n"
                              "cb connection_lost\n");
}

/* DGRAM-RECV-1 (DEV-70): at most 16 receives per read event: 20 queued datagrams take two
   passes, 16 then 4, in order. */
TEST(recv_batch_bounded)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    upair p;
    unsigned char b[2];
    int i;

    udp_pair(loop, r, &p, true);
    for (i = 0; i < 20; i++) {
        b[0] = (unsigned char)i;
        b[1] = 0x5a;
        CHECK_INT(th_peer_send(p.peer, b, (size_t)(1 + i % 2), 0), 1 + i % 2);
    }
    th_run_until(loop, th_d_has_dgram, r, 5);
    CHECK_INT(r->dgrams, 16);
    th_run_passes(loop, 1);
    CHECK_INT(r->dgrams, 20);
    for (i = 0; i < 20; i++) {
        CHECK_SIZE(r->len[i], (size_t)(1 + i % 2));
        CHECK_INT(r->data[i][0], i);
    }
    finish(loop, p.t, r, p.peer);
}

/* pause_reading() inside datagram_received ends the read event's receives at once
   (DGRAM-RECV-3): the rest stay in the socket until resume_reading(). */
static int pause_at_second(th_drec *r, aiotp_transport *t)
{
    if (r->dgrams == 2) {
        CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    }
    return 0;
}

TEST(recv_batch_stops_when_paused)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    upair p;
    int i;

    udp_pair(loop, r, &p, true);
    r->on_dgram = pause_at_second;
    for (i = 0; i < 5; i++) {
        CHECK_INT(th_peer_send(p.peer, "x", 1, 0), 1);
    }
    th_run_until(loop, th_d_has_dgram, r, 5);
    CHECK_INT(r->dgrams, 2);
    th_run_passes(loop, 3);
    CHECK_INT(r->dgrams, 2);
    CHECK_ERR(aiotp_transport_resume_reading(p.t), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r->dgrams, 5);
    finish(loop, p.t, r, p.peer);
}

/* A zero-length datagram is delivered (n=0). */
TEST(empty_datagram_delivered)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    upair p;

    udp_pair(loop, r, &p, true);
    CHECK_INT(th_peer_send(p.peer, "", 0, 0), 0);
    th_run_until(loop, th_d_has_dgram, r, 5);
    CHECK_INT(r->dgrams, 1);
    CHECK_SIZE(r->len[0], 0);
    CHECK(strstr(th_trace(), "t1 cb datagram_received n=0 ") != NULL);
    finish(loop, p.t, r, p.peer);
}

/* A datagram from an unnamed Unix socket arrives with no address. */
TEST(sender_without_address)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    int fd;
    int u;
    struct sockaddr_storage a;
    socklen_t alen;
    aiotp_transport *t;

    th_udp_socket(AF_UNIX, &fd, &a, &alen);
    t = th_dwrap(loop, fd, &th_datagram, r);
    th_unix_dgram_unnamed(&u);
    CHECK_INT(th_peer_sendto(u, "anon", 4, 0, (struct sockaddr *)&a, alen), 4);
    th_run_until(loop, th_d_has_dgram, r, 5);
    CHECK_SIZE(r->len[0], 4);
    CHECK_INT(r->from_len[0], 0);
    CHECK(strstr(th_trace(), "t1 cb datagram_received n=4 addr=- ") != NULL);
    th_peer_close(u);
    finish(loop, t, r, -1);
}

/* An ICMP port unreachable on a connected socket: error_received(ECONNREFUSED) and the
   transport stays open; an unconnected socket gets no error. */
TEST(icmp_unreachable_to_error_received)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    int gone;
    struct sockaddr_storage ga;
    socklen_t glen;
    aiotp_transport *t;

    th_udp_socket(AF_INET, &gone, &ga, &glen);
    th_peer_close(gone); /* nothing listens on that port any more */
    t = th_udp_endpoint(loop, AF_INET, (struct sockaddr *)&ga, glen, r);
    CHECK_ERR(aiotp_transport_sendto(t, "anyone?", 7, NULL, 0), 0);
    th_run_until(loop, has_error, r, 10);
    CHECK_INT(r->errors, 1);
    CHECK_ERR(r->last_error, -ECONNREFUSED);
    CHECK(!aiotp_transport_is_closing(t));
    CHECK(aiotp_transport_is_reading(t));
    CHECK_INT(r->lost, 0);
    finish(loop, t, r, -1);
    CHECK_STR(th_cb_names(1), "cb connection_made\ncb error_received\ncb connection_lost\n");
}

/* A receive error: error_received(status), the transport stays open and reads on. */
TEST(receive_error_keeps_open)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    upair p;

    udp_pair(loop, r, &p, true);
    CHECK_INT(th_peer_send(p.peer, "x", 1, 0), 1);
    th_f.recv_errno = EIO;
    th_run_until(loop, has_error, r, 5);
    CHECK_ERR(r->last_error, -EIO);
    th_f.recv_errno = 0;
    th_run_until(loop, th_d_has_dgram, r, 5);
    CHECK_SIZE(r->len[0], 1);
    CHECK(!aiotp_transport_is_closing(p.t));
    finish(loop, p.t, r, p.peer);
}

/* A failing datagram_received or error_received goes to the exception handler and the
   transport stays open (CPython §4.3: the opposite of the stream transport). */
TEST(failing_callbacks_keep_open)
{
    aiotp_loop *loop = th_exc_loop();
    th_drec *r = th_drec_new();
    upair p;

    udp_pair(loop, r, &p, true);
    r->data_ret = -EPROTO;
    CHECK_INT(th_peer_send(p.peer, "1", 1, 0), 1);
    th_run_until(loop, th_d_has_dgram, r, 5);
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, -EPROTO);
    CHECK_STR(th_exc.msg, "Exception in callback protocol.datagram_received()");
    CHECK(th_exc.t == p.t);
    CHECK(!aiotp_transport_is_closing(p.t));
    r->error_ret = -EPROTO;
    th_f.recv_errno = EIO;
    CHECK_INT(th_peer_send(p.peer, "2", 1, 0), 1);
    th_run_until(loop, has_error, r, 5);
    th_f.recv_errno = 0;
    CHECK_INT(th_exc.n, 2);
    CHECK_STR(th_exc.msg, "Exception in callback protocol.error_received()");
    CHECK(!aiotp_transport_is_closing(p.t));
    th_run_passes(loop, 2);
    CHECK_INT(r->dgrams, 2); /* the second datagram still arrives */
    finish(loop, p.t, r, p.peer);
}

/* close() inside datagram_received: no datagram_received afterwards, although more are
   queued at the socket; connection_lost(0) in the next pass. */
static int close_in_dgram(th_drec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_close(t), 0);
    return 0;
}

TEST(nothing_after_close)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    upair p;

    udp_pair(loop, r, &p, true);
    r->on_dgram = close_in_dgram;
    CHECK_INT(th_peer_send(p.peer, "1", 1, 0), 1);
    CHECK_INT(th_peer_send(p.peer, "2", 1, 0), 1);
    th_run_until(loop, th_d_is_lost, r, 5);
    th_run_passes(loop, 2);
    CHECK_INT(r->dgrams, 1);
    CHECK_INT(r->lost_status, 0);
    th_peer_close(p.peer);
    CHECK_STR(th_cb_names(1), "cb connection_made\ncb datagram_received\ncb connection_lost\n");
}

/* abort() inside error_received: connection_lost exactly once, last; no error_received
   after it although the socket reports more errors. */
static int abort_in_error(th_drec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_abort(t), 0);
    return 0;
}

TEST(lost_once_and_last)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    upair p;

    udp_pair(loop, r, &p, true);
    r->on_error = abort_in_error;
    th_f.send_errno = ECONNREFUSED;
    CHECK_ERR(aiotp_transport_sendto(p.t, "x", 1, NULL, 0), 0);
    CHECK_INT(r->errors, 1);
    CHECK(aiotp_transport_is_closing(p.t));
    CHECK_ERR(aiotp_transport_sendto(p.t, "y", 1, NULL, 0), AIOTP_ECLOSED);
    th_f.send_errno = 0;
    th_f.recv_errno = EIO;
    th_run_until(loop, th_d_is_lost, r, 5);
    th_run_passes(loop, 2);
    th_f.recv_errno = 0;
    CHECK_INT(r->errors, 1);
    CHECK_INT(r->lost, 1);
    th_peer_close(p.peer);
    CHECK_STR(th_cb_names(1), "cb connection_made\ncb error_received\ncb connection_lost\n");
}

/* A failing connection_made or connection_lost is reported; the transport carries on
   (PROTO-BASE-5 holds for every kind). */
TEST(failing_made_and_lost)
{
    aiotp_loop *loop = th_exc_loop();
    th_drec *r = th_drec_new();
    upair p;

    r->made_ret = -EPERM;
    r->lost_ret = -EPERM;
    udp_pair(loop, r, &p, true);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, "Exception in callback protocol.connection_made()");
    CHECK_INT(th_peer_send(p.peer, "still", 5, 0), 5);
    th_run_until(loop, th_d_has_dgram, r, 5);
    finish(loop, p.t, r, p.peer);
    CHECK_INT(th_exc.n, 2);
    CHECK_STR(th_exc.msg, "Exception in callback protocol.connection_lost()");
}

static const th_case cases[] = {
    T(made_datagrams_lost, "DGRAM-MADE-1 DGRAM-RECV-1 DGRAM-LOST-1"),
    T(recv_batch_bounded, "DGRAM-RECV-1"),
    T(recv_batch_stops_when_paused, "DGRAM-RECV-1 DGRAM-RECV-3"),
    T(empty_datagram_delivered, "DGRAM-RECV-1"),
    T(sender_without_address, "DGRAM-RECV-1"),
    T(icmp_unreachable_to_error_received, "DGRAM-RECV-2"),
    T(receive_error_keeps_open, "DGRAM-RECV-2"),
    T(failing_callbacks_keep_open, "DGRAM-CB-1"),
    T(nothing_after_close, "DGRAM-RECV-3 DGRAM-CLOSE-1"),
    T(lost_once_and_last, "DGRAM-LOST-1 DGRAM-SEND-3 DGRAM-SEND-4"),
    T(failing_made_and_lost, "PROTO-BASE-5"),
};

TH_MAIN_SIM(cases)
