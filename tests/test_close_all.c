/* tests/test_close_all.c - a clean end (spec/rules.md, CLOSE-*, LIFE-*):
   aiotp_loop_close_all (every server closed, every transport closed so that each protocol
   gets its connection_lost, every pending operation cancelled, then `done`), a server's
   close_clients / abort_clients, and aiotp_loop_free with transports and servers the user
   retained (they survive, closed, until their last release; every method defined). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdio.h>

#include "async_helpers.h"
#include "dgram_helpers.h"
#include "harness.h"

/* ---- helpers ---------------------------------------------------------------------------- */

typedef struct done_log {
    int calls;
    uint64_t iter;
    int order; /* its place among the done callbacks */
} done_log;

static int done_seq;

static void on_done(aiotp_loop *loop, void *arg)
{
    done_log *d = arg;
    d->calls++;
    d->iter = aiotp_loop_iteration(loop);
    d->order = ++done_seq;
}

/* The last iteration with a "cb connection_lost" line in the trace. */
static uint64_t last_lost_iter(void)
{
    const char *p = th_trace();
    uint64_t cur = 0;
    uint64_t last = 0;
    while (*p != '\0') {
        const char *e = strchr(p, '\n');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        char line[160];
        unsigned long long v;
        snprintf(line, sizeof(line), "%.*s", (int)len, p);
        if (sscanf(line, "iter %llu", &v) == 1) {
            cur = v;
        } else if (strstr(line, " cb connection_lost") != NULL) {
            last = cur;
        }
        p += len + (e != NULL ? 1 : 0);
    }
    return last;
}

/* A server on 127.0.0.1, its port; its connections get th_rec recorders (srv_recs). */
#define MAX_SRV 8
static th_rec *srv_recs[MAX_SRV];
static int nsrv;

static int srv_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    th_rec *r;
    (void)arg;
    if (nsrv >= MAX_SRV) {
        return AIOTP_ENOMEM;
    }
    r = th_rec_new();
    srv_recs[nsrv++] = r;
    *proto = &th_streaming;
    *data = r;
    return 0;
}

static aiotp_server *start_server(aiotp_loop *loop, int *port)
{
    th_done d;
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    nsrv = 0;
    memset(&d, 0, sizeof(d));
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, NULL, "127.0.0.1", 0, NULL,
                                       th_on_server, &d),
              0);
    th_run_until(loop, th_done_yet, &d, 10);
    CHECK_ERR(d.status, 0);
    if (d.s == NULL) {
        return NULL;
    }
    CHECK_ERR(aiotp_server_get_sockname(d.s, 0, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return d.s;
}

/* A client connection to port, made by the loop (its recorder r). */
static aiotp_transport *connect_to(aiotp_loop *loop, int port, th_rec *r)
{
    th_done d;
    memset(&d, 0, sizeof(d));
    CHECK_ERR(aiotp_loop_create_connection(loop, th_rec_factory, r, "127.0.0.1", port, NULL,
                                           th_on_conn, &d),
              0);
    th_run_until(loop, th_done_yet, &d, 20);
    CHECK_ERR(d.status, 0);
    return d.t;
}

static bool all_lost(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < nsrv; i++) {
        if (srv_recs[i]->lost == 0) {
            return false;
        }
    }
    return true;
}

/* ---- CLOSE-1, CLOSE-2 ------------------------------------------------------------------- */

/* Everything: a server with two connections, a client of its own, a pending connect to
   an address that never answers, a pending name lookup, a datagram endpoint. Nothing is
   called back inside close_all; then each protocol gets one connection_lost, each
   operation its ECANCELED, and `done` comes in the pass after the last of them. */
TEST(close_all_everything)
{
    aiotp_loop *loop;
    aiotp_server *s;
    th_rec *c1 = th_rec_new();
    th_rec *c2 = th_rec_new();
    th_done dp;
    th_done dg;
    th_done de;
    th_drec *dr;
    done_log dl;
    int calls = 0;
    int filler;
    int bport;
    int bl = th_blackhole(&bport, &filler);
    int port = 0;

    th_set_resolver(th_slow_resolver(1));
    loop = th_loop();
    s = start_server(loop, &port);
    if (s == NULL) {
        return;
    }
    (void)connect_to(loop, port, c1);
    (void)connect_to(loop, port, c2);
    th_run_passes(loop, 1); /* the server's side made */
    CHECK_INT(nsrv, 2);
    memset(&dp, 0, sizeof(dp));
    memset(&dg, 0, sizeof(dg));
    memset(&de, 0, sizeof(de));
    memset(&dl, 0, sizeof(dl));
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1",
                                           bport, NULL, th_on_conn, &dp),
              0);
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "80", NULL, th_on_gai, &dg, NULL), 0);
    dr = th_drec_new();
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_dgram_factory, dr, "127.0.0.1", 0,
                                                  NULL, 0, NULL, th_on_conn, &de),
              0);
    th_run_passes(loop, 2);
    CHECK(th_slow_wait_entered(1));
    CHECK_INT(de.calls, 1);
    CHECK_INT(dp.calls + dg.calls, 0);

    done_seq = 0;
    th_trace_clear();
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &dl), 0);
    /* CLOSE-1: nothing inside */
    CHECK_INT(c1->lost + c2->lost + srv_recs[0]->lost + srv_recs[1]->lost + dr->lost, 0);
    CHECK_INT(dp.calls + dg.calls + dl.calls, 0);
    CHECK(!aiotp_server_is_serving(s));
    th_run_until(loop, th_done_yet, &dp, 10);
    th_slow_open();
    th_run_passes(loop, 4);
    CHECK_INT(dl.calls, 1);
    CHECK_INT(c1->lost, 1);
    CHECK_INT(c2->lost, 1);
    CHECK_INT(srv_recs[0]->lost, 1);
    CHECK_INT(srv_recs[1]->lost, 1);
    CHECK_INT(dr->lost, 1);
    CHECK_ERR(c1->lost_status, 0);
    CHECK_INT(dp.calls, 1);
    CHECK_ERR(dp.status, AIOTP_ECANCELED);
    CHECK_INT(dg.calls, 1);
    CHECK_ERR(dg.status, AIOTP_ECANCELED);
    CHECK_INT(calls, 0);
    CHECK(dl.iter == last_lost_iter() + 1); /* CLOSE-2: the pass after the last one */
    th_run_passes(loop, 2);
    CHECK_INT(dl.calls, 1);
    CHECK_INT(th_slow_live_lists(), 0);
    close(filler);
    close(bl);
}

/* aiotp_loop_free with everything pending: a connect, a listen and an endpoint whose
   names a worker resolves, a lookup, a close_all waiting for a connection_lost, a
   call_soon_threadsafe: no completion or callback runs, nothing leaks (the workers'
   answers that arrive meanwhile are dropped with the wake-up). */
TEST(free_with_everything_pending)
{
    aiotp_loop *loop;
    th_rec *r = th_rec_new();
    th_done d[4];
    done_log dl;
    int calls = 0;
    int sv[2];
    int filler;
    int bport;
    int bl = th_blackhole(&bport, &filler);

    th_set_resolver(th_slow_resolver(4));
    loop = th_loop();
    memset(d, 0, sizeof(d));
    memset(&dl, 0, sizeof(dl));
    th_socketpair(sv);
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1",
                                           bport, NULL, th_on_conn, &d[0]),
              0);
    CHECK_ERR(aiotp_loop_create_server(loop, th_counting_factory, &calls, "slow.test", 0, NULL,
                                       th_on_server, &d[1]),
              0);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_counting_factory, &calls,
                                                  "slow.test", 0, NULL, 0, NULL, th_on_conn,
                                                  &d[2]),
              0);
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "1", NULL, th_on_gai, &d[3], NULL), 0);
    th_run_once(loop);
    CHECK(th_slow_wait_entered(3));
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &dl), 0);
    CHECK_ERR(aiotp_loop_call_soon_threadsafe(loop, (aiotp_callback_fn)on_done, &dl), 0);
    th_slow_open(); /* the answers come back to a loop that will not run again */
    th_loop_free(loop);
    CHECK_INT(d[0].calls + d[1].calls + d[2].calls + d[3].calls, 0);
    CHECK_INT(dl.calls, 0);
    CHECK_INT(r->lost, 0);
    CHECK_INT(calls, 0);
    CHECK_INT(th_slow_live_lists(), 0);
    th_peer_close(sv[1]);
    close(filler);
    close(bl);
}

/* close_all cancels a listen and an endpoint while their names resolve. */
TEST(close_all_cancels_resolving)
{
    aiotp_loop *loop;
    th_done d[2];
    done_log dl;
    int calls = 0;

    th_set_resolver(th_slow_resolver(2));
    loop = th_loop();
    memset(d, 0, sizeof(d));
    memset(&dl, 0, sizeof(dl));
    CHECK_ERR(aiotp_loop_create_server(loop, th_counting_factory, &calls, "slow.test", 0, NULL,
                                       th_on_server, &d[0]),
              0);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_counting_factory, &calls,
                                                  "slow.test", 0, NULL, 0, NULL, th_on_conn,
                                                  &d[1]),
              0);
    th_run_once(loop);
    CHECK(th_slow_wait_entered(2));
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &dl), 0);
    th_run_passes(loop, 2);
    CHECK_INT(d[0].calls, 1);
    CHECK_ERR(d[0].status, AIOTP_ECANCELED);
    CHECK_INT(d[1].calls, 1);
    CHECK_ERR(d[1].status, AIOTP_ECANCELED);
    CHECK_INT(dl.calls, 1);
    th_slow_open();
    th_run_passes(loop, 3);
    CHECK_INT(th_slow_live_lists(), 0);
    CHECK_INT(calls, 0);
}

/* A transport with queued data flushes it before its connection_lost (close); with
   abort the data is dropped. */
TEST(close_all_flushes_or_aborts)
{
    static unsigned char big[1 << 18];
    aiotp_loop *loop = th_loop();
    th_rec *r1 = th_rec_new();
    th_rec *r2 = th_rec_new();
    aiotp_transport *t1;
    aiotp_transport *t2;
    done_log dl;
    int sv1[2];
    int sv2[2];
    size_t got = 0;
    size_t n;
    unsigned char buf[65536];
    int i;

    memset(big, 'x', sizeof(big));
    memset(&dl, 0, sizeof(dl));
    th_socketpair(sv1);
    th_small_buffers(sv1[0]);
    t1 = th_wrap(loop, sv1[0], &th_streaming, r1);
    CHECK_ERR(aiotp_transport_write(t1, big, sizeof(big)), 0);
    CHECK(aiotp_transport_get_write_buffer_size(t1) > 0);
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &dl), 0);
    for (i = 0; i < 200 && dl.calls == 0; i++) {
        th_run_once(loop);
        while ((n = th_drain_fd(sv1[1], buf, sizeof(buf))) > 0) {
            got += n;
        }
    }
    CHECK_INT(dl.calls, 1);
    CHECK_INT(r1->lost, 1);
    CHECK_SIZE(got, sizeof(big)); /* every byte before connection_lost */
    th_peer_close(sv1[1]);

    memset(&dl, 0, sizeof(dl));
    th_socketpair(sv2);
    th_small_buffers(sv2[0]);
    t2 = th_wrap(loop, sv2[0], &th_streaming, r2);
    CHECK_ERR(aiotp_transport_write(t2, big, sizeof(big)), 0);
    CHECK_ERR(aiotp_loop_close_all(loop, true, on_done, &dl), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t2), 0); /* dropped */
    th_run_until(loop, th_is_lost, r2, 5);
    th_run_once(loop);
    CHECK_INT(dl.calls, 1);
    CHECK_INT(r2->lost, 1);
    CHECK_INT(r2->resumes, 0);
    th_peer_close(sv2[1]);
}

static aiotp_loop *inner_loop;
static done_log inner_dl;

static void close_from_callback(aiotp_loop *loop, void *arg)
{
    (void)arg;
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &inner_dl), 0);
    CHECK_INT(inner_dl.calls, 0);
}

/* Nothing open: `done` in the next pass (the loop does not wait for ever); also when
   called from a callback; with no `done`, nothing at all. */
TEST(close_all_nothing_open)
{
    aiotp_loop *loop = th_loop();
    done_log dl;
    memset(&dl, 0, sizeof(dl));
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &dl), 0);
    CHECK_INT(dl.calls, 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0); /* does not block */
    CHECK_INT(dl.calls, 1);
    CHECK_INT(dl.iter, 1);
    memset(&inner_dl, 0, sizeof(inner_dl));
    inner_loop = loop;
    CHECK_ERR(aiotp_loop_call_soon(loop, close_from_callback, NULL, NULL), 0);
    th_run_once(loop);
    CHECK_INT(inner_dl.calls, 0);
    th_run_once(loop);
    CHECK_INT(inner_dl.calls, 1);
    CHECK_ERR(aiotp_loop_close_all(loop, true, NULL, NULL), 0);
    th_run_passes(loop, 2);
    CHECK_ERR(aiotp_loop_close_all(NULL, false, on_done, &dl), AIOTP_EINVAL);
    CHECK_INT(dl.calls, 1);
}

/* CLOSE-3: a second call while the first is under way closes what came since and adds
   its done; both run, in the order of the calls. CLOSE-2: without memory for `done`,
   AIOTP_ENOMEM and nothing is closed. */
TEST(close_all_twice_and_no_memory)
{
    aiotp_loop *loop = th_loop();
    th_rec *r1 = th_rec_new();
    th_rec *r2 = th_rec_new();
    aiotp_transport *t1;
    aiotp_transport *t2;
    done_log a;
    done_log b;
    int sv1[2];
    int sv2[2];

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    th_socketpair(sv1);
    th_socketpair(sv2);
    t1 = th_wrap(loop, sv1[0], &th_streaming, r1);
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &a), AIOTP_ENOMEM);
    th_f.alloc_fail_after = 1; /* its waiter list is made; the waiter is not */
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &a), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    CHECK_INT(aiotp_transport_is_closing(t1), 0); /* nothing was closed */
    done_seq = 0;
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &a), 0);
    t2 = th_wrap(loop, sv2[0], &th_streaming, r2); /* made while the first is under way */
    CHECK_INT(a.calls, 0);
    CHECK_INT(aiotp_transport_is_closing(t2), 0);
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &b), 0);
    CHECK_INT(aiotp_transport_is_closing(t2), 1);
    th_run_until(loop, th_is_lost, r2, 5);
    th_run_once(loop);
    CHECK_INT(a.calls, 1);
    CHECK_INT(b.calls, 1);
    CHECK_INT(a.order, 1);
    CHECK_INT(b.order, 2);
    CHECK(a.iter == b.iter);
    CHECK_INT(r1->lost, 1);
    th_peer_close(sv1[1]);
    th_peer_close(sv2[1]);
}

/* CLOSE-2: a server's wait_closed completion counts too: `done` comes after it. */
static done_log wc_log;

static void on_wait_closed(void *arg, int status, aiotp_server *s)
{
    (void)status;
    (void)s;
    on_done(NULL, arg);
}

TEST(close_all_after_wait_closed)
{
    aiotp_loop *loop = th_loop();
    aiotp_server *s;
    done_log dl;
    int port;

    s = start_server(loop, &port);
    if (s == NULL) {
        return;
    }
    memset(&dl, 0, sizeof(dl));
    memset(&wc_log, 0, sizeof(wc_log));
    done_seq = 0;
    CHECK_ERR(aiotp_server_wait_closed(s, on_wait_closed, &wc_log), 0);
    CHECK_ERR(aiotp_loop_close_all(loop, false, on_done, &dl), 0);
    th_run_passes(loop, 3);
    CHECK_INT(wc_log.calls, 1);
    CHECK_INT(dl.calls, 1);
    CHECK_INT(wc_log.order, 1);
    CHECK_INT(dl.order, 2);
}

/* ---- CLOSE-4: a server's clients --------------------------------------------------------- */

TEST(server_close_and_abort_clients)
{
    aiotp_loop *loop = th_loop();
    aiotp_server *s;
    th_rec *c[3];
    int port;
    int i;

    s = start_server(loop, &port);
    if (s == NULL) {
        return;
    }
    for (i = 0; i < 3; i++) {
        c[i] = th_rec_new();
        (void)connect_to(loop, port, c[i]);
    }
    th_run_passes(loop, 2);
    CHECK_INT(nsrv, 3);
    CHECK_SIZE(aiotp_server_active_connections(s), 3);
    CHECK_ERR(aiotp_transport_close(srv_recs[0]->t), 0); /* already closing: not counted */
    CHECK_INT(aiotp_server_close_clients(s), 2);
    CHECK_INT(srv_recs[1]->lost, 0); /* later, from the loop */
    CHECK(aiotp_server_is_serving(s)); /* still listening */
    th_run_until(loop, all_lost, NULL, 10);
    CHECK_SIZE(aiotp_server_active_connections(s), 0);
    CHECK_INT(aiotp_server_close_clients(s), 0);
    for (i = 0; i < 3; i++) {
        th_run_until(loop, th_is_lost, c[i], 10);
    }
    /* abort: queued data dropped; on a closed server the rest go too */
    c[0] = th_rec_new();
    (void)connect_to(loop, port, c[0]);
    th_run_passes(loop, 2);
    CHECK_INT(nsrv, 4);
    CHECK_ERR(aiotp_server_close(s), 0);
    CHECK_INT(aiotp_server_abort_clients(s), 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(srv_recs[3]->t), 0);
    th_run_until(loop, all_lost, NULL, 10);
    th_run_until(loop, th_is_lost, c[0], 10);
    CHECK_ERR(srv_recs[3]->lost_status, 0);
    CHECK_ERR(aiotp_server_close_clients(NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_server_abort_clients(NULL), AIOTP_EINVAL);
}

/* ---- LIFE-1: retained objects outlive aiotp_loop_free -------------------------------------- */

/* A retained stream transport, still open at aiotp_loop_free: its socket is closed (the
   peer sees EOF), no callback runs, and every method answers as after connection_lost
   until the last release frees it (the leak check of the case). */
TEST(free_keeps_retained_transport)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_transport *t;
    const aiotp_extra *x;
    aiotp_buf b = {"abc", 3};
    size_t lo = 0;
    size_t hi = 0;
    int sv[2];
    char c;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_write(t, "hi", 2), 0);
    aiotp_transport_retain(t);
    aiotp_transport_retain(t); /* two references: two releases */
    th_loop_free(loop);
    CHECK_INT(r->lost, 0); /* no callback from aiotp_loop_free */
    CHECK_INT(th_peer_recv(sv[1], &c, 1, 0), 1);
    CHECK_INT(th_peer_recv(sv[1], &c, 1, 0), 1);
    CHECK_INT(th_peer_recv(sv[1], &c, 1, 0), 0); /* EOF: its socket was closed */
    /* every method defined */
    CHECK_INT(aiotp_transport_kind(t), AIOTP_TRANSPORT_STREAM);
    CHECK_ERR(aiotp_transport_write(t, "x", 1), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_writelines(t, &b, 1), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_abort(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_resume_reading(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_write_eof(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_streaming, r), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_sendto(t, "x", 1, NULL, 0), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 100, 10), 0);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(t, &lo, &hi), 0);
    CHECK_SIZE(hi, 100);
    CHECK(aiotp_transport_is_closing(t));
    CHECK(!aiotp_transport_is_reading(t));
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK(aiotp_transport_get_protocol(t, NULL) == NULL);
    CHECK(aiotp_transport_get_loop(t) == NULL);
    x = aiotp_transport_get_extra_info(t, "socket", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_FD && x->u.fd == -1);
    aiotp_transport_release(t);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED); /* still one reference */
    aiotp_transport_release(t); /* the last: the transport and the loop's shell go */
    th_peer_close(sv[1]);
}

/* A retained datagram transport and server, with a transport retained after its
   connection_lost: all survive, each released in turn. */
TEST(free_keeps_retained_server_and_datagram)
{
    aiotp_loop *loop = th_loop();
    aiotp_server *s;
    aiotp_transport *lost_t;
    aiotp_transport *dt;
    th_rec *r = th_rec_new();
    th_drec *dr = th_drec_new();
    th_done de;
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fds[1];
    int port;
    int sv[2];

    memset(&wc_log, 0, sizeof(wc_log));
    s = start_server(loop, &port);
    if (s == NULL) {
        return;
    }
    memset(&de, 0, sizeof(de));
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_dgram_factory, dr, "127.0.0.1", 0,
                                                  NULL, 0, NULL, th_on_conn, &de),
              0);
    th_run_until(loop, th_done_yet, &de, 10);
    dt = de.t;
    th_socketpair(sv);
    lost_t = th_wrap(loop, sv[0], &th_streaming, r);
    aiotp_transport_retain(lost_t);
    CHECK_ERR(aiotp_transport_close(lost_t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    th_run_passes(loop, 2);
    aiotp_server_retain(s);
    aiotp_transport_retain(dt);
    CHECK_ERR(aiotp_server_wait_closed(s, on_wait_closed, &wc_log), 0); /* never completes */
    th_loop_free(loop);
    CHECK_INT(dr->lost, 0);
    /* the server: closed, no sockets, every method defined */
    CHECK(!aiotp_server_is_serving(s));
    CHECK_ERR(aiotp_server_close(s), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_server_start_serving(s), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_server_serve_forever(s), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_server_wait_closed(s, on_wait_closed, &wc_log), AIOTP_ECLOSED);
    CHECK_SIZE(aiotp_server_get_sockets(s, fds, 1), 0);
    CHECK_ERR(aiotp_server_get_sockname(s, 0, (struct sockaddr *)&a, &alen), AIOTP_EINVAL);
    CHECK_SIZE(aiotp_server_active_connections(s), 0);
    CHECK(aiotp_server_get_loop(s) == NULL);
    CHECK_INT(aiotp_server_close_clients(s), 0);
    /* the datagram transport */
    CHECK_INT(aiotp_transport_kind(dt), AIOTP_TRANSPORT_DATAGRAM);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(9);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_ERR(aiotp_transport_sendto(dt, "x", 1, (struct sockaddr *)&a, sizeof(a)),
              AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_pause_reading(dt), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_close(dt), AIOTP_ECLOSED);
    CHECK(aiotp_transport_get_loop(dt) == NULL);
    /* the one lost before: as before */
    CHECK_ERR(aiotp_transport_write(lost_t, "x", 1), AIOTP_ECLOSED);
    aiotp_transport_release(dt);
    aiotp_server_release(s);
    aiotp_transport_release(lost_t); /* the last: the loop's shell goes */
    CHECK_INT(wc_log.calls, 0);
    th_peer_close(sv[1]);
}

static const th_case cases[] = {
    T(close_all_everything, "CLOSE-1 CLOSE-2 OP-1"),
    T(free_with_everything_pending, "LIFE-1 WAKE-2 RESOLVE-3"),
    T(close_all_cancels_resolving, "CLOSE-1 OP-1"),
    T(close_all_flushes_or_aborts, "CLOSE-1 BASE-CLOSE-2 WRITE-ABORT-2"),
    T(close_all_nothing_open, "CLOSE-2 BAD-1"),
    T(close_all_twice_and_no_memory, "CLOSE-3 CLOSE-2 BAD-3"),
    T(close_all_after_wait_closed, "CLOSE-2 SRV-5"),
    T(server_close_and_abort_clients, "CLOSE-4 BAD-1"),
    T(free_keeps_retained_transport, "LIFE-1 BAD-2"),
    T(free_keeps_retained_server_and_datagram, "LIFE-1 BAD-2"),
};

TH_MAIN(cases)
