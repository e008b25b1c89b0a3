/* tests/test_stream.c - stream transports and ordering: completion after
   connection_made, reading starts after it, resets, TCP (IPv4/IPv6) and Unix sockets,
   is_closing (spec/rules.md, "Stream transports and ordering"; BASE-CLOSING-1). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ----------------------------------------------------------------------- */

static int transport_fd(aiotp_transport *t)
{
    const aiotp_extra *x = aiotp_transport_get_extra_info(t, "socket", NULL);
    return x != NULL && x->kind == AIOTP_EXTRA_FD ? x->u.fd : -1;
}

/* TCP_NODELAY of fd: 0/1, or -errno when the option does not apply. */
static int nodelay(int fd)
{
    int v = -1;
    socklen_t len = sizeof(v);
    if (th_peer_getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) != 0) {
        return -errno;
    }
    return v != 0;
}

/* A protocol factory handing out one recorder; completions recorded with the pass. */
typedef struct conn {
    th_rec *r;
    int factory_calls;
    int done_calls;
    int status;
    aiotp_transport *t;
    uint64_t done_iter;
    int made_at_done; /* r->made when the completion ran */
    uint64_t made_iter;
} conn;

static int conn_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    conn *c = arg;
    c->factory_calls++;
    *proto = &th_streaming;
    *data = c->r;
    return 0;
}

static void conn_done(void *arg, int status, aiotp_transport *t)
{
    conn *c = arg;
    c->done_calls++;
    c->status = status;
    c->t = t;
    c->made_at_done = c->r->made;
    if (t != NULL) {
        c->done_iter = aiotp_loop_iteration(aiotp_transport_get_loop(t));
        aiotp_transport_retain(t); /* released at the end of the case */
    }
}

static bool conn_done_p(void *arg)
{
    return ((conn *)arg)->done_calls > 0;
}

static int made_iter_hook(th_rec *r, aiotp_transport *t)
{
    ((conn *)r->user)->made_iter = aiotp_loop_iteration(aiotp_transport_get_loop(t));
    return 0;
}

static void conn_init(conn *c)
{
    memset(c, 0, sizeof(*c));
    c->r = th_rec_new();
    c->r->on_made = made_iter_hook;
    c->r->user = c;
}

/* The completion came once, after connection_made, in the same pass. */
static void check_completion(const conn *c, int line)
{
    if (c->done_calls != 1 || c->status != 0 || c->t == NULL || c->factory_calls != 1 ||
        c->made_at_done != 1 || c->done_iter == 0 || c->done_iter != c->made_iter) {
        th_fail(__FILE__, line,
                "completion: calls=%d status=%s factory=%d made_at_done=%d done_iter=%llu "
                "made_iter=%llu",
                c->done_calls, aiotp_err_name(c->status), c->factory_calls, c->made_at_done,
                (unsigned long long)c->done_iter, (unsigned long long)c->made_iter);
    }
}

/* ---- STREAM-ORDER-1 ------------------------------------------------------------------ */

/* create_connection(sock=): the completion runs after connection_made, in the same pass
   (O2); the data already queued arrives in the next pass (E11a). */
TEST(completion_after_made_same_pass)
{
    aiotp_loop *loop = th_loop();
    aiotp_connect_options o;
    conn c;
    int sv[2];

    conn_init(&c);
    th_socketpair(sv);
    CHECK_INT(th_peer_write(sv[1], "queued data!", 12), 12);
    aiotp_connect_options_init(&o);
    o.sock = sv[0];
    CHECK_ERR(aiotp_loop_create_connection(loop, conn_factory, &c, NULL, 0, &o, conn_done, &c),
              0);
    CHECK_INT(c.factory_calls, 0); /* nothing happens inside the call */
    th_run_until(loop, conn_done_p, &c, 5);
    check_completion(&c, __LINE__);
    CHECK_INT(c.r->chunks, 0);
    CHECK_INT(c.made_iter, th_iter_of("t1 open", 0) + 1);
    th_run_once(loop);
    CHECK_INT(c.r->chunks, 1);
    CHECK_INT(th_iter_of("t1 cb data_received", 0), c.made_iter + 1);
    CHECK_ERR(aiotp_transport_close(c.t), 0);
    th_run_until(loop, th_is_lost, c.r, 5);
    CHECK_INT(c.done_calls, 1);
    aiotp_transport_release(c.t);
    th_peer_close(sv[1]);
}

/* ---- STREAM-ORDER-2 ------------------------------------------------------------------ */

static int close_in_made(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    return 0;
}

static int abort_in_made(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_abort(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    return 0;
}

static int pause_in_made(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    return 0;
}

static void no_read_after(th_hook hook)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    uint64_t made;

    th_socketpair(sv);
    CHECK_INT(th_peer_write(sv[1], "never read", 10), 10);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    r->on_made = hook;
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    th_run_until(loop, th_is_lost, r, 5);
    th_run_passes(loop, 3);
    made = th_iter_of("t1 cb connection_made", 0);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), made + 1); /* E11c/E11d */
    CHECK_INT(th_f.recv_calls, 0);
    CHECK_INT(r->chunks + r->eofs, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    th_peer_close(sv[1]);
}

TEST(close_in_made_never_reads)
{
    no_read_after(close_in_made);
}

TEST(abort_in_made_never_reads)
{
    no_read_after(abort_in_made);
}

/* pause_reading() in connection_made: the fd is not read until resume_reading(). */
TEST(pause_in_made_reads_after_resume)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;

    th_socketpair(sv);
    CHECK_INT(th_peer_write(sv[1], "held back!", 10), 10);
    r->on_made = pause_in_made;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_run_passes(loop, 4);
    CHECK_INT(th_f.recv_calls, 0);
    CHECK_INT(r->chunks, 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    th_run_once(loop);
    CHECK_INT(r->chunks, 1);
    CHECK(r->rx_len == 10 && memcmp(r->rx, "held back!", 10) == 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* ---- STREAM-ERR-1 -------------------------------------------------------------------- */

static void peer_reset(bool debug)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;

    aiotp_loop_set_debug(loop, debug);
    th_tcp_pair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_set_rst(sv[1]);
    th_peer_close(sv[1]);
    th_run_until(loop, th_is_lost, r, 5);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -ECONNRESET);
    CHECK_INT(r->eofs + r->chunks, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=ECONNRESET\n");
    if (debug) {
        CHECK_INT(th_exc.n, 1);
        CHECK_ERR(th_exc.status, -ECONNRESET);
        CHECK_STR(th_exc.msg, "Fatal read error on socket transport");
        CHECK(th_exc.t == t);
    } else {
        CHECK_INT(th_exc.n, 0); /* E06a: silent */
    }
}

TEST(peer_reset_silent)
{
    peer_reset(false);
}

TEST(peer_reset_reported_in_debug)
{
    peer_reset(true);
}

/* ---- STREAM-ERR-2 -------------------------------------------------------------------- */

/* E11e: close() with pending data, then the peer resets: one connection_lost, with the
   error. */
TEST(close_pending_then_reset)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    static unsigned char big[1000000];

    memset(big, 'z', sizeof(big));
    th_tcp_pair(sv);
    th_small_buffers(sv[0]);
    th_small_buffers(sv[1]);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_write(t, big, sizeof(big)), 0);
    CHECK(aiotp_transport_get_write_buffer_size(t) > 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 0); /* the peer does not read */
    CHECK(aiotp_transport_get_write_buffer_size(t) > 0);
    th_set_rst(sv[1]);
    th_peer_close(sv[1]);
    th_run_until(loop, th_is_lost, r, 10);
    th_run_passes(loop, 4);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -ECONNRESET);
    CHECK_INT(th_count_lines("t1 cb connection_lost"), 1);
    CHECK_STR(th_cbs_no_flow(1), "cb connection_made\ncb connection_lost status=ECONNRESET\n");
    CHECK_INT(r->resumes, 0);
    CHECK_INT(th_exc.n, 0);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_abort(t), AIOTP_ECLOSED);
}

/* ---- STREAM-TCP-1 / STREAM-UNIX-1 ---------------------------------------------------- */

/* The same exchange on any stream transport: ping in, pong out, write_eof (peer sees
   EOF, transport stays open), peer EOF -> eof_received(0) -> connection_lost(0). */
static void exchange(aiotp_loop *loop, aiotp_transport *t, th_rec *r, int peer)
{
    char buf[8];
    unsigned char c;
    CHECK_INT(th_peer_send(peer, "ping", 4, MSG_NOSIGNAL), 4);
    th_run_once(loop);
    CHECK_INT(r->chunks, 1);
    CHECK(r->rx_len == 4 && memcmp(r->rx, "ping", 4) == 0);
    CHECK_ERR(aiotp_transport_write(t, "pong", 4), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_read_exact(peer, buf, 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    CHECK_INT(aiotp_transport_can_write_eof(t), 1);
    CHECK_ERR(aiotp_transport_write_eof(t), 0);
    CHECK_INT(th_peer_recv(peer, &c, 1, 0), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_INT(th_peer_shutdown(peer, SHUT_WR), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->eofs, 1);
    CHECK_INT(r->lost_status, 0);
}

static const char *exchange_cbs(void)
{
    static char s[256];
    snprintf(s, sizeof(s),
             "cb connection_made\ncb data_received n=4 total=4 sum=%08x\ncb eof_received\n"
             "ret eof_received 0\ncb connection_lost status=0\n",
             (unsigned)th_sum(TH_SUM_INIT, "ping", 4));
    return s;
}

/* Connect with create_connection(host, port) to a listener on `addr`, accept the peer,
   run the exchange. Returns the transport's family. */
static int connect_exchange(aiotp_loop *loop, int family, const char *host, unsigned id)
{
    struct sockaddr_storage ss;
    socklen_t len;
    conn c;
    int l;
    int peer;
    int port;
    int fam = -1;
    char prefix[32];
    char want[48];

    memset(&ss, 0, sizeof(ss));
    conn_init(&c);
    l = th_peer_socket(family, SOCK_STREAM, 0);
    CHECK(l >= 0);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_addr = in6addr_loopback;
        len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a4);
    }
    CHECK_INT(th_peer_bind(l, (struct sockaddr *)&ss, len), 0);
    CHECK_INT(th_peer_listen(l, 4), 0);
    len = sizeof(ss);
    CHECK_INT(th_peer_getsockname(l, (struct sockaddr *)&ss, &len), 0);
    port = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                              : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    CHECK_ERR(aiotp_loop_create_connection(loop, conn_factory, &c, host, port, NULL, conn_done,
                                           &c), 0);
    th_run_until(loop, conn_done_p, &c, 20);
    check_completion(&c, __LINE__);
    if (c.t == NULL) {
        th_peer_close(l);
        return -1;
    }
    peer = th_peer_accept(l, NULL, NULL);
    CHECK(peer >= 0);
    th_peer_close(l);
    {
        const aiotp_extra *x = aiotp_transport_get_extra_info(c.t, "sockname", NULL);
        if (x != NULL && x->kind == AIOTP_EXTRA_ADDR) {
            fam = x->u.addr.addr->sa_family;
        }
        x = aiotp_transport_get_extra_info(c.t, "peername", NULL);
        CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR && x->u.addr.len == len &&
              memcmp(x->u.addr.addr, &ss, len) == 0);
    }
    CHECK_INT(nodelay(transport_fd(c.t)), 1);
    CHECK_INT(nodelay(peer), 0); /* not set by default: the check above is not vacuous */
    snprintf(prefix, sizeof(prefix), "t%u open ", id);
    snprintf(want, sizeof(want), "t%u open %s\n", id, family == AF_INET6 ? "tcp6" : "tcp");
    CHECK_STR(th_trace_lines(prefix, false), want);
    if (peer >= 0) {
        exchange(loop, c.t, c.r, peer);
        th_peer_close(peer);
    }
    CHECK_STR(th_callbacks(id), exchange_cbs());
    aiotp_transport_release(c.t);
    return fam;
}

/* TCP over IPv4: TCP_NODELAY set, the exchange works; create_connection(host, port). */
TEST(tcp_ipv4_nodelay)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;

    th_tcp_pair(sv);
    CHECK_INT(nodelay(sv[0]), 0);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(nodelay(transport_fd(t)), 1);
    CHECK_INT(transport_fd(t), sv[0]);
    exchange(loop, t, r, sv[1]);
    CHECK_STR(th_callbacks(1), exchange_cbs());
    th_peer_close(sv[1]);
    CHECK_INT(connect_exchange(loop, AF_INET, "127.0.0.1", 2), AF_INET);
}

/* TCP over IPv6 loopback; if ::1 cannot be used here, say why and check IPv4 instead. */
TEST(tcp_ipv6_loopback)
{
    aiotp_loop *loop = th_loop();
    struct sockaddr_in6 a6;
    int probe = th_peer_socket(AF_INET6, SOCK_STREAM, 0);
    int err = 0;

    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    if (probe < 0) {
        err = errno;
    } else if (th_peer_bind(probe, (struct sockaddr *)&a6, sizeof(a6)) != 0) {
        err = errno;
    }
    if (probe >= 0) {
        th_peer_close(probe);
    }
    if (err != 0) {
        printf("tcp_ipv6_loopback: ::1 unavailable (%s); checking IPv4 only\n", strerror(err));
        CHECK_INT(connect_exchange(loop, AF_INET, "127.0.0.1", 1), AF_INET);
        return;
    }
    CHECK_INT(connect_exchange(loop, AF_INET6, "::1", 1), AF_INET6);
}

/* Unix sockets: the same exchange gives the same callbacks; no TCP_NODELAY. */
TEST(unix_same_as_tcp)
{
    aiotp_loop *loop = th_loop();
    th_rec *r1 = th_rec_new();
    th_rec *r2 = th_rec_new();
    int sv[2];
    int tv[2];
    aiotp_transport *t;
    char dir[] = "/tmp/aiotp-proto-XXXXXX";
    char path[64];
    struct sockaddr_un un;
    conn c;
    int l;
    int peer;
    char cbs1[512];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r1);
    CHECK(nodelay(transport_fd(t)) < 0); /* the option does not exist on AF_UNIX */
    exchange(loop, t, r1, sv[1]);
    th_peer_close(sv[1]);
    snprintf(cbs1, sizeof(cbs1), "%s", th_callbacks(1));
    CHECK_STR(cbs1, exchange_cbs());

    th_tcp_pair(tv);
    t = th_wrap(loop, tv[0], &th_streaming, r2);
    exchange(loop, t, r2, tv[1]);
    th_peer_close(tv[1]);
    CHECK_STR(th_callbacks(2), cbs1);
    CHECK_STR(th_trace_lines("t1 open", false), "t1 open unix\n");
    CHECK_STR(th_trace_lines("t2 open", false), "t2 open tcp\n");

    /* create_unix_connection to a named socket */
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/s", dir);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    CHECK(strlen(path) < sizeof(un.sun_path));
    memcpy(un.sun_path, path, strlen(path) + 1);
    l = th_peer_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(th_peer_bind(l, (struct sockaddr *)&un, sizeof(un)), 0);
    CHECK_INT(th_peer_listen(l, 4), 0);
    conn_init(&c);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, conn_factory, &c, path, NULL, conn_done,
                                                &c), 0);
    th_run_until(loop, conn_done_p, &c, 10);
    check_completion(&c, __LINE__);
    peer = th_peer_accept(l, NULL, NULL);
    CHECK(peer >= 0);
    th_peer_close(l);
    th_peer_unlink(path);
    rmdir(dir);
    if (c.t != NULL && peer >= 0) {
        CHECK(nodelay(transport_fd(c.t)) < 0);
        exchange(loop, c.t, c.r, peer);
        CHECK_STR(th_callbacks(3), cbs1);
        CHECK_STR(th_trace_lines("t3 open", false), "t3 open unix\n");
    }
    if (peer >= 0) {
        th_peer_close(peer);
    }
    if (c.t != NULL) {
        aiotp_transport_release(c.t);
    }
}

/* ---- BASE-CLOSING-1 ------------------------------------------------------------------ */

static int closing_in_eof(th_rec *r, aiotp_transport *t)
{
    *(int *)r->user = aiotp_transport_is_closing(t);
    return 0;
}

TEST(is_closing_states)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r[4];
    int sv[4][2];
    aiotp_transport *t[4];
    int in_eof = -1;
    int i;

    for (i = 0; i < 4; i++) {
        r[i] = th_rec_new();
        th_socketpair(sv[i]);
    }
    r[0]->eof_ret = 1;
    r[0]->on_eof = closing_in_eof;
    r[0]->user = &in_eof;
    r[3]->data_ret = -9;
    for (i = 0; i < 4; i++) {
        t[i] = th_wrap(loop, sv[i][0], &th_streaming, r[i]);
        CHECK_INT(aiotp_transport_is_closing(t[i]), 0);
    }
    /* t1: write_eof, then the peer's EOF kept open: still not closing */
    CHECK_ERR(aiotp_transport_write_eof(t[0]), 0);
    CHECK_INT(aiotp_transport_is_closing(t[0]), 0);
    CHECK_INT(th_peer_shutdown(sv[0][1], SHUT_WR), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r[0]->eofs, 1);
    CHECK_INT(in_eof, 0);
    CHECK_INT(aiotp_transport_is_closing(t[0]), 0);
    CHECK_INT(r[0]->lost, 0);
    /* t2: close; t3: abort; t4: a fatal error */
    CHECK_ERR(aiotp_transport_close(t[1]), 0);
    CHECK_INT(aiotp_transport_is_closing(t[1]), 1);
    CHECK_ERR(aiotp_transport_abort(t[2]), 0);
    CHECK_INT(aiotp_transport_is_closing(t[2]), 1);
    CHECK_INT(th_peer_send(sv[3][1], "x", 1, MSG_NOSIGNAL), 1);
    th_run_once(loop);
    CHECK_INT(r[3]->chunks, 1);
    CHECK_INT(aiotp_transport_is_closing(t[3]), 1);
    CHECK_INT(th_exc.n, 1);
    th_run_passes(loop, 2);
    for (i = 1; i < 4; i++) {
        CHECK_INT(r[i]->lost, 1);
        CHECK_INT(aiotp_transport_is_closing(t[i]), 1); /* also after connection_lost */
    }
    CHECK_INT(aiotp_transport_is_closing(t[0]), 0);
    CHECK_ERR(aiotp_transport_close(t[0]), 0);
    CHECK_INT(aiotp_transport_is_closing(t[0]), 1);
    th_run_until(loop, th_is_lost, r[0], 5);
    CHECK_INT(aiotp_transport_is_closing(t[0]), 1);
    for (i = 0; i < 4; i++) {
        th_peer_close(sv[i][1]);
    }
}

static const th_case cases[] = {
    T(completion_after_made_same_pass, "STREAM-ORDER-1 METH-2 PROTO-BASE-1"),
    T(close_in_made_never_reads, "STREAM-ORDER-2 PROTO-STREAM-3"),
    T(abort_in_made_never_reads, "STREAM-ORDER-2 WRITE-ABORT-1"),
    T(pause_in_made_reads_after_resume, "STREAM-ORDER-2 READ-4"),
    T(peer_reset_silent, "STREAM-ERR-1"),
    T(peer_reset_reported_in_debug, "STREAM-ERR-1"),
    T(close_pending_then_reset, "STREAM-ERR-2 PROTO-BASE-2"),
    T(tcp_ipv4_nodelay, "STREAM-TCP-1 STREAM-ORDER-1 WRITE-EOF-1 METH-4"),
    T(tcp_ipv6_loopback, "STREAM-TCP-1"),
    T(unix_same_as_tcp, "STREAM-UNIX-1 WRITE-EOF-1"),
    T(is_closing_states, "BASE-CLOSING-1"),
};
TH_MAIN_SIM(cases)
