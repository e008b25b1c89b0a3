/* tests/test_cancel.c - cancelling pending operations and the connect timeout
   (spec/rules.md, OP-1..OP-3; METH-5's combined error): at every stage of
   create_connection (before resolving, while a worker resolves, while connecting to an
   address that never answers, right after the kernel connected), create_server,
   create_datagram_endpoint, a wrapped socket, aiotp_loop_getaddrinfo; cancelling after
   the completion and twice; the timeout on the real kernel and on the simulated one
   (virtual time). Label "threads" (the slow resolver's workers). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aiotp/sim.h"
#include "async_helpers.h"
#include "harness.h"

/* The loop's pending operations and their completions: each case checks that a
   cancelled completion comes exactly once, in the pass after the cancel. */
static aiotp_connect_options copts(aiotp_op *op)
{
    aiotp_connect_options o;
    aiotp_connect_options_init(&o);
    o.op = op;
    return o;
}

/* A connect to "slow.test" (the slow resolver, one worker, its gate closed), whose
   listener is on the real kernel; its number in op. */
typedef struct slow_connect {
    aiotp_loop *loop;
    th_rec *r;
    th_done d;
    aiotp_op op;
    int l;
    int port;
} slow_connect;

static void slow_connect_start(slow_connect *c)
{
    aiotp_connect_options o;
    memset(c, 0, sizeof(*c));
    o = copts(&c->op);
    c->r = th_rec_new();
    c->l = th_listen_tcp(8, &c->port);
    th_set_resolver(th_slow_resolver(1));
    c->loop = th_loop();
    c->d.loop = c->loop;
    CHECK_ERR(aiotp_loop_create_connection(c->loop, th_rec_factory, c->r, "slow.test", c->port,
                                           &o, th_on_conn, &c->d),
              0);
    CHECK(c->op != 0);
}

/* OP-1: cancelled with its step still queued (before any resolving). */
TEST(cancel_before_resolving)
{
    slow_connect c;
    slow_connect_start(&c);
    CHECK_ERR(aiotp_loop_cancel_op(c.loop, c.op), 0);
    CHECK_INT(c.d.calls, 0); /* never inside the cancel */
    th_run_once(c.loop);
    CHECK_INT(c.d.calls, 1);
    CHECK_ERR(c.d.status, AIOTP_ECANCELED);
    CHECK(c.d.t == NULL);
    CHECK_INT(c.d.iter, 1);
    th_run_passes(c.loop, 3);
    CHECK_INT(c.d.calls, 1);
    CHECK_INT(c.r->made, 0);
    CHECK_INT(th_slow_calls(), 0); /* the name was never looked up */
    CHECK_ERR(aiotp_loop_cancel_op(c.loop, c.op), AIOTP_ENOENT); /* OP-2: twice */
    close(c.l);
}

/* OP-1: cancelled while a worker resolves the name: the completion comes at once (the
   next pass), the worker's late answer is dropped and freed. */
TEST(cancel_while_resolving)
{
    slow_connect c;
    slow_connect_start(&c);
    th_run_once(c.loop);
    CHECK(th_slow_wait_entered(1));
    CHECK_ERR(aiotp_loop_cancel_op(c.loop, c.op), 0);
    CHECK_INT(c.d.calls, 0);
    th_run_once(c.loop);
    CHECK_INT(c.d.calls, 1);
    CHECK_ERR(c.d.status, AIOTP_ECANCELED);
    th_slow_open(); /* the answer arrives: nobody wants it */
    th_run_passes(c.loop, 5);
    CHECK_INT(c.d.calls, 1);
    CHECK_INT(c.r->made, 0);
    CHECK_INT(th_slow_calls(), 1);
    CHECK_INT(th_slow_live_lists(), 0);
    CHECK_ERR(aiotp_loop_cancel_op(c.loop, c.op), AIOTP_ENOENT);
    close(c.l);
}

/* OP-1: cancelled while connecting to an address that never answers (a full backlog:
   the kernel drops the SYNs): the socket is closed at once, no factory call. */
TEST(cancel_while_connecting)
{
    aiotp_loop *loop = th_loop();
    int calls = 0;
    th_done d;
    aiotp_op op = 0;
    aiotp_connect_options o = copts(&op);
    int filler;
    int port;
    int l = th_blackhole(&port, &filler);
    int fd_before;

    memset(&d, 0, sizeof(d));
    fd_before = th_lowest_free_fd();
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1",
                                           port, &o, th_on_conn, &d),
              0);
    th_run_passes(loop, 4); /* 200 ms: connect() in progress, no answer */
    CHECK_INT(d.calls, 0);
    CHECK(th_lowest_free_fd() != fd_before); /* its socket is open */
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), 0);
    CHECK_INT(th_lowest_free_fd(), fd_before); /* closed now */
    th_run_once(loop);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, AIOTP_ECANCELED);
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 1);
    CHECK_INT(calls, 0);
    close(filler);
    close(l);
}

/* OP-1: the kernel has just connected the socket (the loop has not seen it yet): the
   cancel closes it; the protocol factory is never called, no connection_made; the
   peer sees the connection end. */
TEST(cancel_just_established)
{
    aiotp_loop *loop = th_loop();
    int calls = 0;
    th_done d;
    aiotp_op op = 0;
    aiotp_connect_options o = copts(&op);
    struct pollfd pfd;
    int port;
    int l = th_listen_tcp(8, &port);
    int c;
    char b;

    memset(&d, 0, sizeof(d));
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1",
                                           port, &o, th_on_conn, &d),
              0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0); /* resolved, connect() under way */
    /* the handshake completes in the kernel (loopback); the listener has it */
    pfd.fd = l;
    pfd.events = POLLIN;
    CHECK_INT(poll(&pfd, 1, 2000), 1);
    CHECK_INT(d.calls, 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), 0);
    c = accept(l, NULL, NULL);
    CHECK(c >= 0);
    if (c >= 0) {
        ssize_t n = recv(c, &b, 1, 0); /* EOF: the client end was closed */
        CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
        close(c);
    }
    th_run_once(loop);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, AIOTP_ECANCELED);
    th_run_passes(loop, 2);
    CHECK_INT(calls, 0); /* no factory, no transport, no connection_made */
    CHECK_INT(d.calls, 1);
    CHECK_INT(th_count_lines("t1 open"), 0);
    close(l);
}

/* OP-2: cancelling after the completion, twice, a number never given out, 0. */
TEST(cancel_after_completion)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_done d;
    aiotp_op op = 0;
    aiotp_op op2 = 0;
    aiotp_connect_options o = copts(&op);
    int port;
    int l = th_listen_tcp(8, &port);

    memset(&d, 0, sizeof(d));
    CHECK_ERR(aiotp_loop_create_connection(loop, th_rec_factory, r, "127.0.0.1", port, &o,
                                           th_on_conn, &d),
              0);
    th_run_until(loop, th_done_yet, &d, 20);
    CHECK_ERR(d.status, 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel_op(loop, 0), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op + 1000), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel_op(NULL, op), AIOTP_EINVAL);
    CHECK_INT(r->made, 1);
    /* the numbers are never reused */
    o.op = &op2;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_rec_factory, th_rec_new(), "127.0.0.1",
                                           port, &o, th_on_conn, &d),
              0);
    CHECK(op2 != 0 && op2 != op);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op2), 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op2), AIOTP_ENOENT);
    th_run_once(loop);
    CHECK_INT(d.calls, 2);
    CHECK_ERR(d.status, AIOTP_ECANCELED);
    if (r->t != NULL) {
        aiotp_transport_close(r->t);
        th_run_until(loop, th_is_lost, r, 20);
    }
    close(l);
}

/* OP-3: the timeout on an address that never answers: -ETIMEDOUT, no sooner. */
TEST(connect_timeout)
{
    aiotp_loop *loop = th_loop();
    int calls = 0;
    th_done d;
    aiotp_op op = 0;
    aiotp_connect_options o = copts(&op);
    aiotp_time t0;
    int filler;
    int port;
    int l = th_blackhole(&port, &filler);
    int i;

    memset(&d, 0, sizeof(d));
    o.timeout = 120 * AIOTP_NS_PER_MS;
    t0 = aiotp_loop_time(loop);
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1",
                                           port, &o, th_on_conn, &d),
              0);
    for (i = 0; i < 100 && d.calls == 0; i++) {
        th_run_once(loop);
    }
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, -ETIMEDOUT);
    CHECK(aiotp_loop_time(loop) - t0 >= 120 * AIOTP_NS_PER_MS);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), AIOTP_ENOENT);
    CHECK_INT(calls, 0);
    /* a negative timeout is refused */
    o.timeout = -1;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1",
                                           port, &o, th_on_conn, &d),
              AIOTP_EINVAL);
    close(filler);
    close(l);
}

/* OP-3: a completion that comes first stops the timer: nothing later. A timeout while a
   worker resolves: -ETIMEDOUT too. */
TEST(timeout_after_success_and_while_resolving)
{
    aiotp_loop *loop;
    th_rec *r = th_rec_new();
    th_done d;
    th_done d2;
    aiotp_connect_options o = copts(NULL);
    int port;
    int l = th_listen_tcp(8, &port);

    th_set_resolver(th_slow_resolver(1));
    loop = th_loop();
    memset(&d, 0, sizeof(d));
    memset(&d2, 0, sizeof(d2));
    o.timeout = 100 * AIOTP_NS_PER_MS;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_rec_factory, r, "127.0.0.1", port, &o,
                                           th_on_conn, &d),
              0);
    CHECK_ERR(aiotp_loop_create_connection(loop, th_rec_factory, th_rec_new(), "slow.test",
                                           port, &o, th_on_conn, &d2),
              0);
    th_run_until(loop, th_done_yet, &d, 20);
    CHECK_ERR(d.status, 0);
    th_run_until(loop, th_done_yet, &d2, 20);
    CHECK_ERR(d2.status, -ETIMEDOUT);
    th_run_passes(loop, 4); /* past the first one's timeout too */
    CHECK_INT(d.calls, 1);
    CHECK_INT(d2.calls, 1);
    CHECK_INT(r->made, 1);
    CHECK_INT(r->lost, 0);
    th_slow_open();
    if (d.t != NULL) {
        aiotp_transport_close(d.t);
        th_run_until(loop, th_is_lost, r, 20);
    }
    th_run_passes(loop, 2);
    CHECK_INT(th_slow_live_lists(), 0);
    close(l);
}

/* OP-1 for the other methods: a server, a datagram endpoint (queued and while its name
   resolves), a wrapped socket (closed: it is the library's), aiotp_loop_getaddrinfo. */
TEST(cancel_other_operations)
{
    aiotp_loop *loop;
    aiotp_server_options so;
    aiotp_datagram_options dop;
    aiotp_connect_options o = copts(NULL);
    th_done ds;
    th_done de;
    th_done de2;
    th_done dw;
    th_done dg;
    aiotp_op ops[5] = {0, 0, 0, 0, 0};
    int calls = 0;
    int sv[2];
    int before;

    th_set_resolver(th_slow_resolver(1));
    loop = th_loop();
    memset(&ds, 0, sizeof(ds));
    memset(&de, 0, sizeof(de));
    memset(&de2, 0, sizeof(de2));
    memset(&dw, 0, sizeof(dw));
    memset(&dg, 0, sizeof(dg));
    aiotp_server_options_init(&so);
    aiotp_datagram_options_init(&dop);
    so.op = &ops[0];
    dop.op = &ops[1];
    CHECK_ERR(aiotp_loop_create_server(loop, th_counting_factory, &calls, "127.0.0.1", 0, &so,
                                       th_on_server, &ds),
              0);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_counting_factory, &calls,
                                                  "127.0.0.1", 0, NULL, 0, &dop, th_on_conn,
                                                  &de),
              0);
    dop.op = &ops[2];
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_counting_factory, &calls,
                                                  "slow.test", 0, NULL, 0, &dop, th_on_conn,
                                                  &de2),
              0);
    th_socketpair(sv);
    o.sock = sv[0];
    o.op = &ops[3];
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, NULL, 0, &o,
                                           th_on_conn, &dw),
              0);
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "127.0.0.1", "1", NULL, th_on_gai, &dg, &ops[4]), 0);
    before = th_lowest_free_fd();
    CHECK_ERR(aiotp_loop_cancel_op(loop, ops[0]), 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, ops[1]), 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, ops[3]), 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, ops[4]), 0);
    th_run_once(loop); /* the one endpoint left resolves its name in a worker */
    CHECK_INT(ds.calls + de.calls + dw.calls + dg.calls, 4);
    CHECK_ERR(ds.status, AIOTP_ECANCELED);
    CHECK(ds.s == NULL);
    CHECK_ERR(de.status, AIOTP_ECANCELED);
    CHECK_ERR(dw.status, AIOTP_ECANCELED);
    CHECK_ERR(dg.status, AIOTP_ECANCELED);
    CHECK(th_lowest_free_fd() <= sv[0]); /* the wrapped socket was closed */
    CHECK(before > sv[0]);
    CHECK(th_slow_wait_entered(1));
    CHECK_ERR(aiotp_loop_cancel_op(loop, ops[2]), 0);
    th_run_once(loop);
    CHECK_INT(de2.calls, 1);
    CHECK_ERR(de2.status, AIOTP_ECANCELED);
    th_slow_open();
    th_run_passes(loop, 3);
    CHECK_INT(calls, 0);
    CHECK_INT(ds.calls + de.calls + de2.calls + dw.calls + dg.calls, 5);
    CHECK_INT(th_slow_live_lists(), 0);
    th_peer_close(sv[1]);
}

/* A server's and an endpoint's name cancelled while a worker has it. */
TEST(cancel_listen_while_resolving)
{
    aiotp_loop *loop;
    aiotp_server_options so;
    th_done ds;
    th_done dg;
    aiotp_op op = 0;
    aiotp_op gop = 0;
    int calls = 0;

    th_set_resolver(th_slow_resolver(2));
    loop = th_loop();
    memset(&ds, 0, sizeof(ds));
    memset(&dg, 0, sizeof(dg));
    aiotp_server_options_init(&so);
    so.op = &op;
    CHECK_ERR(aiotp_loop_create_server(loop, th_counting_factory, &calls, "slow.test", 0, &so,
                                       th_on_server, &ds),
              0);
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "1", NULL, th_on_gai, &dg, &gop), 0);
    th_run_once(loop);
    CHECK(th_slow_wait_entered(2));
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, gop), 0);
    th_run_once(loop);
    CHECK_INT(ds.calls, 1);
    CHECK_ERR(ds.status, AIOTP_ECANCELED);
    CHECK_INT(dg.calls, 1);
    CHECK_ERR(dg.status, AIOTP_ECANCELED);
    th_slow_open();
    th_run_passes(loop, 3);
    CHECK_INT(ds.calls + dg.calls, 2);
    CHECK_INT(th_slow_live_lists(), 0);
}

/* OP-2: the first layouts of the options (without op and timeout) still work; the
   structs are read up to their size. */
TEST(first_layout_options)
{
    aiotp_loop *loop = th_loop();
    aiotp_connect_options o;
    aiotp_server_options so;
    aiotp_datagram_options dop;
    th_done d;
    th_done ds;
    th_done de;
    int calls = 0;
    int port;
    int l = th_listen_tcp(8, &port);

    memset(&d, 0, sizeof(d));
    memset(&ds, 0, sizeof(ds));
    memset(&de, 0, sizeof(de));
    aiotp_connect_options_init(&o);
    aiotp_server_options_init(&so);
    aiotp_datagram_options_init(&dop);
    o.size = AIOTP_CONNECT_OPTIONS_SIZE_V1;
    so.size = AIOTP_SERVER_OPTIONS_SIZE_V1;
    dop.size = AIOTP_DATAGRAM_OPTIONS_SIZE_V1;
    o.timeout = -5;                   /* past its end: not read */
    o.op = (aiotp_op *)(uintptr_t)1u; /* not read either */
    so.op = (aiotp_op *)(uintptr_t)1u;
    dop.op = (aiotp_op *)(uintptr_t)1u;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1", port,
                                           &o, th_on_conn, &d),
              0);
    CHECK_ERR(aiotp_loop_create_server(loop, th_counting_factory, &calls, "127.0.0.1", 0, &so,
                                       th_on_server, &ds),
              0);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_counting_factory, &calls,
                                                  "127.0.0.1", 0, NULL, 0, &dop, th_on_conn,
                                                  &de),
              0);
    th_run_until(loop, th_done_yet, &d, 20);
    th_run_until(loop, th_done_yet, &ds, 20);
    th_run_until(loop, th_done_yet, &de, 20);
    CHECK_ERR(d.status, AIOTP_ECALLBACK);
    CHECK_ERR(ds.status, 0);
    CHECK_ERR(de.status, AIOTP_ECALLBACK);
    if (ds.s != NULL) {
        CHECK_ERR(aiotp_server_close(ds.s), 0);
    }
    o.size = AIOTP_CONNECT_OPTIONS_SIZE_V1 + 1;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1", port,
                                           &o, th_on_conn, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, th_counting_factory, &calls, "/x", &o,
                                                th_on_conn, &d),
              AIOTP_EINVAL);
    so.size = 3;
    CHECK_ERR(aiotp_loop_create_server(loop, th_counting_factory, &calls, "127.0.0.1", 0, &so,
                                       th_on_server, &ds),
              AIOTP_EINVAL);
    dop.size = 3;
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_counting_factory, &calls,
                                                  "127.0.0.1", 0, NULL, 0, &dop, th_on_conn,
                                                  &de),
              AIOTP_EINVAL);
    /* no memory for the request, its entry or its timer: refused, nothing left */
    aiotp_connect_options_init(&o);
    o.timeout = AIOTP_NS_PER_SEC;
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1", port,
                                           &o, th_on_conn, &d),
              AIOTP_ENOMEM);
    th_f.alloc_fail_after = 1;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_counting_factory, &calls, "127.0.0.1", port,
                                           &o, th_on_conn, &d),
              AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    close(l);
}

/* ---- on the simulated kernel: the address that never answers, in virtual time -------- */

typedef struct simloop {
    aiotp_sim *sim;
    aiotp_loop *loop;
} simloop;

static void sim_open(simloop *s, const aiotp_resolver *res)
{
    aiotp_loop_options o;
    memset(s, 0, sizeof(*s));
    CHECK_ERR(aiotp_sim_create(&s->sim, NULL), 0);
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.backend = aiotp_backend_sim();
    o.syscalls = aiotp_sim_syscalls(s->sim);
    o.resolver = res;
    CHECK_ERR(aiotp_loop_create(&s->loop, &o), 0);
}

static void sim_close(simloop *s)
{
    aiotp_loop_free(s->loop);
    CHECK_SIZE(aiotp_sim_open_fds(s->sim), 0);
    aiotp_sim_free(s->sim);
}

static void noop(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

/* SIM-NET-1, OP-3: a 30 s timeout on a connect nobody answers, in virtual time; then a
   cancel in the middle of another one. */
TEST(sim_blackhole_timeout_and_cancel)
{
    simloop s;
    int calls = 0;
    th_done d;
    th_done d2;
    aiotp_op op = 0;
    aiotp_connect_options o = copts(&op);
    const aiotp_syscalls *sys;
    int fd;
    int i;

    sim_open(&s, NULL);
    if (s.loop == NULL) {
        return;
    }
    memset(&d, 0, sizeof(d));
    memset(&d2, 0, sizeof(d2));
    CHECK_ERR(aiotp_sim_blackhole(s.sim, 7000), 0);
    o.timeout = 30 * AIOTP_NS_PER_SEC;
    CHECK_ERR(aiotp_loop_create_connection(s.loop, th_counting_factory, &calls, "127.0.0.1",
                                           7000, &o, th_on_conn, &d),
              0);
    for (i = 0; i < 10 && d.calls == 0; i++) {
        CHECK_ERR(aiotp_loop_run_once(s.loop), 0);
    }
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, -ETIMEDOUT);
    CHECK(aiotp_sim_now(s.sim) >= 30 * AIOTP_NS_PER_SEC);
    CHECK(aiotp_sim_now(s.sim) < 31 * AIOTP_NS_PER_SEC);
    CHECK_SIZE(aiotp_sim_open_fds(s.sim), 2); /* only the wake-up: the socket was closed */

    o.timeout = 0;
    CHECK_ERR(aiotp_loop_create_connection(s.loop, th_counting_factory, &calls, "::1", 7000, &o,
                                           th_on_conn, &d2),
              0);
    for (i = 0; i < 3; i++) {
        aiotp_handle h = 0;
        CHECK_ERR(aiotp_loop_call_later(s.loop, 10 * AIOTP_NS_PER_SEC, noop, NULL, &h), 0);
        CHECK_ERR(aiotp_loop_run_once(s.loop), 0);
    }
    CHECK_INT(d2.calls, 0);
    CHECK_SIZE(aiotp_sim_open_fds(s.sim), 3);
    CHECK_ERR(aiotp_loop_cancel_op(s.loop, op), 0);
    CHECK_SIZE(aiotp_sim_open_fds(s.sim), 2);
    CHECK_ERR(aiotp_loop_run_once(s.loop), 0);
    CHECK_INT(d2.calls, 1);
    CHECK_ERR(d2.status, AIOTP_ECANCELED);
    CHECK_INT(calls, 0);

    /* the knob itself: never ready, a second connect -EALREADY, off again */
    sys = aiotp_sim_syscalls(s.sim);
    fd = sys->socket(sys->ctx, AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    {
        struct sockaddr_in a;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons(7000);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK_INT(sys->connect(sys->ctx, fd, (struct sockaddr *)&a, sizeof(a)), -ETIMEDOUT);
        CHECK_INT(sys->set_nonblock(sys->ctx, fd), 0);
        CHECK_INT(sys->connect(sys->ctx, fd, (struct sockaddr *)&a, sizeof(a)), -EINPROGRESS);
        CHECK_INT(aiotp_sim_ready(s.sim, fd), 0);
        CHECK_INT(sys->connect(sys->ctx, fd, (struct sockaddr *)&a, sizeof(a)), -EALREADY);
        {
            struct pollfd p = {fd, POLLIN | POLLOUT, 0};
            CHECK_INT(sys->poll(sys->ctx, &p, 1, 0), 0);
        }
        CHECK_INT(sys->close(sys->ctx, fd), 0);
    }
    CHECK_ERR(aiotp_sim_blackhole(s.sim, 0), 0);
    CHECK_ERR(aiotp_sim_blackhole(s.sim, 70000), AIOTP_EINVAL);
    CHECK_ERR(aiotp_sim_blackhole(NULL, 1), AIOTP_EINVAL);
    sim_close(&s);
}

/* A resolver that answers with two addresses of its own choice (on the loop thread). */
static const char *two_a;
static const char *two_b;

static int two_gai(void *ctx, const char *node, const char *service,
                   const struct addrinfo *hints, struct addrinfo **res)
{
    struct addrinfo h;
    struct addrinfo *a = NULL;
    struct addrinfo *b = NULL;
    int rc;
    (void)ctx;
    (void)node;
    memset(&h, 0, sizeof(h));
    h.ai_family = AF_INET;
    h.ai_socktype = hints->ai_socktype;
    h.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    rc = getaddrinfo(two_a, service, &h, &a);
    if (rc == 0) {
        rc = getaddrinfo(two_b, service, &h, &b);
    }
    if (rc != 0) {
        if (a != NULL) {
            freeaddrinfo(a);
        }
        return rc;
    }
    a->ai_next = b; /* each list has one entry */
    *res = a;
    return 0;
}

static void two_free(void *ctx, struct addrinfo *res)
{
    (void)ctx;
    while (res != NULL) {
        struct addrinfo *next = res->ai_next;
        res->ai_next = NULL;
        freeaddrinfo(res);
        res = next;
    }
}

/* METH-4, METH-5: every address is tried in order; all refused alike: that error; with
   different errors: AIOTP_EMULTIPLE (on the sim: 127.0.0.1 refuses, 10.0.0.1 is
   unreachable). */
TEST(every_address_fails)
{
    static const aiotp_resolver two = {sizeof(aiotp_resolver), NULL, two_gai, two_free, 0};
    simloop s;
    int calls = 0;
    th_done d;

    sim_open(&s, &two);
    if (s.loop == NULL) {
        return;
    }
    memset(&d, 0, sizeof(d));
    two_a = "127.0.0.1";
    two_b = "127.0.0.2";
    CHECK_ERR(aiotp_loop_create_connection(s.loop, th_counting_factory, &calls, "two.test", 9,
                                           NULL, th_on_conn, &d),
              0);
    while (d.calls == 0) {
        CHECK_ERR(aiotp_loop_run_once(s.loop), 0);
    }
    CHECK_ERR(d.status, -ECONNREFUSED);
    memset(&d, 0, sizeof(d));
    two_b = "10.0.0.1";
    CHECK_ERR(aiotp_loop_create_connection(s.loop, th_counting_factory, &calls, "two.test", 9,
                                           NULL, th_on_conn, &d),
              0);
    while (d.calls == 0) {
        CHECK_ERR(aiotp_loop_run_once(s.loop), 0);
    }
    CHECK_ERR(d.status, AIOTP_EMULTIPLE);
    CHECK_STR(aiotp_err_name(AIOTP_EMULTIPLE), "EMULTIPLE");
    CHECK_INT(calls, 0);
    sim_close(&s);
}

static const th_case cases[] = {
    T(cancel_before_resolving, "OP-1 OP-2"),
    T(cancel_while_resolving, "OP-1 OP-2 RESOLVE-2"),
    T(cancel_while_connecting, "OP-1"),
    T(cancel_just_established, "OP-1"),
    T(cancel_after_completion, "OP-2 BAD-1"),
    T(connect_timeout, "OP-3 METH-5"),
    T(timeout_after_success_and_while_resolving, "OP-3"),
    T(cancel_other_operations, "OP-1"),
    T(cancel_listen_while_resolving, "OP-1"),
    T(first_layout_options, "OP-2 BAD-3"),
    T(sim_blackhole_timeout_and_cancel, "OP-1 OP-3 SIM-NET-1"),
    T(every_address_fails, "METH-4 METH-5"),
};

TH_MAIN(cases)
