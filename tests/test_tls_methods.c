/* tests/test_tls_methods.c - the loop methods with a TLS context (rules TLS-MAKE-*,
   TLS-SRV-*, TLS-START-*, CONN-OPTS-1, SRV-OPTS-1; spec/tls-transport.md): create_connection
   and create_server over real TCP, the Unix variants, connect_accepted_socket_opts, the
   options (versioned by size, every TLS field checked), start_tls on an open stream
   transport (writes before the handshake queued, close during it), a server's failed
   handshakes reported only in debug mode, and allocation failures with nothing leaked. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "layer_int.h"
#include "tls_helpers.h"

/* ---- a TLS server and a client over TCP ------------------------------------------------- */

typedef struct srv_state {
    bool done;
    int status;
    aiotp_server *s;
    th_rec *recs[8];
    int nrecs;
} srv_state;

static void srv_done(void *arg, int status, aiotp_server *s)
{
    srv_state *st = arg;
    st->done = true;
    st->status = status;
    st->s = s;
}

static bool srv_is_done(void *arg)
{
    return ((srv_state *)arg)->done;
}

static int srv_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    srv_state *st = arg;
    th_rec *r = th_rec_new();
    st->recs[st->nrecs++ % 8] = r;
    *proto = &th_streaming;
    *data = r;
    return 0;
}

static int port_of(aiotp_server *s)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    CHECK_ERR(aiotp_server_get_sockname(s, 0, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static bool srv_waited;

static void wait_cb(void *arg, int status, aiotp_server *s)
{
    (void)arg;
    (void)s;
    CHECK_ERR(status, 0);
    srv_waited = true;
}

static bool waited(void *arg)
{
    (void)arg;
    return srv_waited;
}

/* create_server(tls) and create_connection(tls) over real TCP: the server's protocol gets
   connection_made after its handshake, the server counts the connection while it lives,
   and wait_closed completes once it is gone. The context may be freed right after the
   calls that use it. */
TEST(server_and_connection)
{
    aiotp_loop *loop = th_loop();
    aiotp_server_options so;
    aiotp_connect_options co;
    srv_state st;
    th_tls_side side;
    th_rec *cr = th_rec_new();
    aiotp_tls_context *sctx = NULL;
    aiotp_tls_context *cctx = NULL;

    memset(&st, 0, sizeof(st));
    memset(&side, 0, sizeof(side));
    srv_waited = false;
    CHECK_ERR(aiotp_tls_context_new(&sctx, AIOTP_TLS_SERVER), 0);
    CHECK_ERR(aiotp_tls_context_load_cert_chain(sctx, th_tls_path("server-chain.pem"),
                                                th_tls_path("server.key")),
              0);
    CHECK_ERR(aiotp_tls_context_new(&cctx, AIOTP_TLS_CLIENT), 0);
    CHECK_ERR(aiotp_tls_context_load_verify_locations(cctx, th_tls_path("ca.pem"), NULL), 0);
    aiotp_server_options_init(&so);
    so.tls = sctx;
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &st, "127.0.0.1", 0, &so, srv_done,
                                       &st),
              0);
    aiotp_tls_context_free(sctx); /* the server keeps it */
    th_run_until(loop, srv_is_done, &st, 10);
    CHECK_ERR(st.status, 0);
    aiotp_server_retain(st.s); /* still asked after wait_closed completed */
    aiotp_connect_options_init(&co);
    co.tls = cctx;
    co.server_hostname = "localhost";
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, cr, "127.0.0.1",
                                           port_of(st.s), &co, th_tls_done, &side),
              0);
    aiotp_tls_context_free(cctx); /* the request keeps it */
    th_run_until(loop, th_tls_side_done, &side, 50);
    CHECK_ERR(side.status, 0);
    CHECK_INT(cr->made, 1);
    th_run_passes(loop, 3);
    CHECK_INT(st.nrecs, 1);
    CHECK_INT(st.recs[0]->made, 1);
    CHECK_SIZE(aiotp_server_active_connections(st.s), 1);
    CHECK_ERR(aiotp_transport_write(side.t, "hi", 2), 0);
    th_run_passes(loop, 3);
    CHECK_SIZE(st.recs[0]->rx_len, 2);
    CHECK_ERR(aiotp_server_close(st.s), 0);
    CHECK_ERR(aiotp_server_wait_closed(st.s, wait_cb, NULL), 0);
    CHECK_ERR(aiotp_transport_close(side.t), 0);
    th_run_until(loop, waited, NULL, 50);
    CHECK_INT(cr->lost, 1);
    CHECK_INT(st.recs[0]->lost, 1);
    CHECK_SIZE(aiotp_server_active_connections(st.s), 0);
    aiotp_server_release(st.s);
}

/* The Unix variants: create_unix_server(tls) and create_unix_connection(tls) with a
   server_hostname (required: a path is no host name). */
TEST(unix_server_and_connection)
{
    aiotp_loop *loop = th_loop();
    aiotp_server_options so;
    aiotp_connect_options co;
    srv_state st;
    th_tls_side side;
    th_rec *cr = th_rec_new();
    char path[96];

    memset(&st, 0, sizeof(st));
    memset(&side, 0, sizeof(side));
    snprintf(path, sizeof(path), "/tmp/aiotp-tls-%ld.sock", (long)getpid());
    (void)unlink(path);
    aiotp_server_options_init(&so);
    so.tls = th_tls_server_ctx("server");
    CHECK_ERR(aiotp_loop_create_unix_server(loop, srv_factory, &st, path, &so, srv_done, &st),
              0);
    th_run_until(loop, srv_is_done, &st, 10);
    CHECK_ERR(st.status, 0);
    aiotp_connect_options_init(&co);
    co.tls = th_tls_client_ctx();
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, th_tls_rec_factory, cr, path, &co,
                                                th_tls_done, &side),
              AIOTP_EINVAL); /* no server_hostname */
    co.server_hostname = "localhost";
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, th_tls_rec_factory, cr, path, &co,
                                                th_tls_done, &side),
              0);
    th_run_until(loop, th_tls_side_done, &side, 50);
    CHECK_ERR(side.status, 0);
    CHECK_ERR(aiotp_transport_close(side.t), 0);
    th_run_until(loop, th_is_lost, cr, 50);
    CHECK_ERR(aiotp_server_close(st.s), 0);
    th_run_passes(loop, 2);
    (void)unlink(path);
}

/* A server's failed handshake calls no protocol callback and is reported to the exception
   handler in debug mode only (as a failing factory, SRV-4); the server forgets the
   connection. */
TEST(server_handshake_failure_debug_only)
{
    aiotp_loop *loop = th_exc_loop();
    aiotp_server_options so;
    aiotp_connect_options co;
    srv_state st;
    th_tls_side side;
    th_rec *cr = th_rec_new();
    int round;

    memset(&st, 0, sizeof(st));
    aiotp_server_options_init(&so);
    so.tls = th_tls_server_ctx("other"); /* a CA the client does not trust */
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &st, "127.0.0.1", 0, &so, srv_done,
                                       &st),
              0);
    th_run_until(loop, srv_is_done, &st, 10);
    for (round = 0; round < 2; round++) {
        aiotp_loop_set_debug(loop, round == 1);
        th_exc.n = 0;
        memset(&side, 0, sizeof(side));
        aiotp_connect_options_init(&co);
        co.tls = th_tls_client_ctx();
        CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, cr, "127.0.0.1",
                                               port_of(st.s), &co, th_tls_done, &side),
                  0);
        th_run_until(loop, th_tls_side_done, &side, 50);
        CHECK_ERR(side.status, AIOTP_ETLSCERT);
        th_run_passes(loop, 4);
        CHECK_SIZE(aiotp_server_active_connections(st.s), 0);
        CHECK_INT(st.recs[round]->made + st.recs[round]->lost, 0);
        CHECK_INT(th_exc.n, round == 1 ? 1 : 0);
        if (round == 1) {
            CHECK_STR(th_exc.msg, "TLS handshake failed");
            CHECK_ERR(th_exc.status, AIOTP_ETLS);
        }
    }
    CHECK_INT(cr->made + cr->lost, 0);
    CHECK_ERR(aiotp_server_close(st.s), 0);
    th_run_passes(loop, 2);
}

/* ---- options ------------------------------------------------------------------------------ */

/* Options of the first layout (no TLS fields) are still taken; any other size is refused;
   every TLS field is checked; a refused call changes nothing (the socket stays the
   caller's). */
TEST(options_checked)
{
    aiotp_loop *loop = th_loop();
    aiotp_connect_options co;
    aiotp_server_options so;
    th_rec *r = th_rec_new();
    th_tls_side side;
    srv_state st;
    int sv[2];

    memset(&side, 0, sizeof(side));
    memset(&st, 0, sizeof(st));
    th_tcp_pair(sv);
    /* connection options */
    aiotp_connect_options_init(&co);
    CHECK_SIZE(co.size, sizeof(co));
    CHECK(co.tls == NULL && co.server_hostname == NULL && co.tls_handshake_timeout == 0 &&
          co.tls_shutdown_timeout == 0);
    co.size = 7;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, "127.0.0.1", 1, &co,
                                           th_tls_done, &side),
              AIOTP_EINVAL);
    aiotp_connect_options_init(&co);
    co.server_hostname = "localhost"; /* without tls */
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, "127.0.0.1", 1, &co,
                                           th_tls_done, &side),
              AIOTP_EINVAL);
    aiotp_connect_options_init(&co);
    co.tls_handshake_timeout = AIOTP_NS_PER_SEC; /* without tls */
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, "127.0.0.1", 1, &co,
                                           th_tls_done, &side),
              AIOTP_EINVAL);
    aiotp_connect_options_init(&co);
    co.tls = th_tls_client_ctx();
    co.tls_handshake_timeout = -1;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, "127.0.0.1", 1, &co,
                                           th_tls_done, &side),
              AIOTP_EINVAL);
    co.tls_handshake_timeout = 0;
    co.tls_shutdown_timeout = -5;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, "127.0.0.1", 1, &co,
                                           th_tls_done, &side),
              AIOTP_EINVAL);
    co.tls_shutdown_timeout = 0;
    co.tls = th_tls_server_ctx("server"); /* a server context for a client */
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, "127.0.0.1", 1, &co,
                                           th_tls_done, &side),
              AIOTP_EINVAL);
    co.tls = th_tls_client_ctx();
    co.sock = sv[0]; /* a socket has no host: server_hostname needed */
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, NULL, 0, &co, th_tls_done,
                                           &side),
              AIOTP_EINVAL);
    co.server_hostname = ""; /* "" with the hostname check on */
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, NULL, 0, &co, th_tls_done,
                                           &side),
              AIOTP_EINVAL);
    /* accepted sockets: no family, sock or server_hostname; a server context */
    aiotp_connect_options_init(&co);
    co.tls = th_tls_client_ctx();
    CHECK_ERR(aiotp_loop_connect_accepted_socket_opts(loop, th_tls_rec_factory, r, sv[1], &co,
                                                      th_tls_done, &side),
              AIOTP_EINVAL);
    co.tls = th_tls_server_ctx("server");
    co.server_hostname = "x";
    CHECK_ERR(aiotp_loop_connect_accepted_socket_opts(loop, th_tls_rec_factory, r, sv[1], &co,
                                                      th_tls_done, &side),
              AIOTP_EINVAL);
    co.server_hostname = NULL;
    co.family = AF_INET;
    CHECK_ERR(aiotp_loop_connect_accepted_socket_opts(loop, th_tls_rec_factory, r, sv[1], &co,
                                                      th_tls_done, &side),
              AIOTP_EINVAL);
    co.family = AF_UNSPEC;
    co.sock = sv[0];
    CHECK_ERR(aiotp_loop_connect_accepted_socket_opts(loop, th_tls_rec_factory, r, sv[1], &co,
                                                      th_tls_done, &side),
              AIOTP_EINVAL);
    /* server options */
    aiotp_server_options_init(&so);
    CHECK(so.tls == NULL && so.tls_handshake_timeout == 0 && so.tls_shutdown_timeout == 0);
    so.tls = th_tls_client_ctx();
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &st, "127.0.0.1", 0, &so, srv_done,
                                       &st),
              AIOTP_EINVAL);
    so.tls = NULL;
    so.tls_shutdown_timeout = 1;
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &st, "127.0.0.1", 0, &so, srv_done,
                                       &st),
              AIOTP_EINVAL);
    so.tls = th_tls_server_ctx("server");
    so.tls_handshake_timeout = -1;
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &st, "127.0.0.1", 0, &so, srv_done,
                                       &st),
              AIOTP_EINVAL);
    so.size = sizeof(so) + 1;
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &st, "127.0.0.1", 0, &so, srv_done,
                                       &st),
              AIOTP_EINVAL);
    th_run_passes(loop, 1);
    CHECK(!side.done && !st.done);
    /* the sockets are still the caller's */
    CHECK(th_fd_is_open(sv[0]) && th_fd_is_open(sv[1]));
    th_peer_close(sv[0]);
    th_peer_close(sv[1]);
}

/* Options of the first layout: a plain connection and a plain server, the TLS fields
   never read (the struct ends before them). */
TEST(options_first_layout)
{
    aiotp_loop *loop = th_loop();
    /* blocks of exactly the first layout's size (ASan sees any read past them) */
    unsigned char *cbuf = malloc(AIOTP_CONNECT_OPTIONS_SIZE_V1);
    unsigned char *sbuf = malloc(AIOTP_SERVER_OPTIONS_SIZE_V1);
    const aiotp_connect_options *co = (const void *)cbuf;
    const aiotp_server_options *so = (const void *)sbuf;
    aiotp_connect_options full;
    aiotp_server_options sfull;
    srv_state st;
    th_tls_side side;
    th_rec *r = th_rec_new();

    memset(&st, 0, sizeof(st));
    memset(&side, 0, sizeof(side));
    aiotp_connect_options_init(&full);
    aiotp_server_options_init(&sfull);
    full.size = AIOTP_CONNECT_OPTIONS_SIZE_V1;
    sfull.size = AIOTP_SERVER_OPTIONS_SIZE_V1;
    memcpy(cbuf, &full, AIOTP_CONNECT_OPTIONS_SIZE_V1);
    memcpy(sbuf, &sfull, AIOTP_SERVER_OPTIONS_SIZE_V1);
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &st, "127.0.0.1", 0, so, srv_done,
                                       &st),
              0);
    th_run_until(loop, srv_is_done, &st, 10);
    CHECK_ERR(st.status, 0);
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, "127.0.0.1",
                                           port_of(st.s), co, th_tls_done, &side),
              0);
    th_run_until(loop, th_tls_side_done, &side, 20);
    CHECK_ERR(side.status, 0);
    CHECK_INT(aiotp_transport_kind(side.t), AIOTP_TRANSPORT_STREAM);
    CHECK_ERR(aiotp_transport_close(side.t), 0);
    th_run_until(loop, th_is_lost, r, 20);
    CHECK_ERR(aiotp_server_close(st.s), 0);
    th_run_passes(loop, 3);
    free(cbuf);
    free(sbuf);
}

/* A factory returning a table the TLS transport cannot use fails that connection
   (PROTO-KIND-1): the completion gets EPROTOKIND, nothing is made. */
static const aiotp_protocol dgram_table = {.size = sizeof(aiotp_protocol),
                                           .kind = AIOTP_PROTOCOL_DATAGRAM};

static int dgram_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &dgram_table;
    *data = NULL;
    return 0;
}

TEST(bad_table_refused)
{
    aiotp_loop *loop = th_exc_loop();
    aiotp_connect_options co;
    th_tls_side side;
    int sv[2];
    memset(&side, 0, sizeof(side));
    th_tcp_pair(sv);
    aiotp_connect_options_init(&co);
    co.sock = sv[0];
    co.tls = th_tls_client_ctx();
    co.server_hostname = "localhost";
    CHECK_ERR(aiotp_loop_create_connection(loop, dgram_factory, NULL, NULL, 0, &co,
                                           th_tls_done, &side),
              0);
    th_run_until(loop, th_tls_side_done, &side, 5);
    CHECK_ERR(side.status, AIOTP_EPROTOKIND);
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, AIOTP_EPROTOKIND);
    CHECK(!th_fd_is_open(sv[0]));
    th_peer_close(sv[1]);
}

/* ---- start_tls ---------------------------------------------------------------------------- */

typedef struct up_state {
    th_tls_side side;
    aiotp_transport *early; /* the TLS transport from `out` */
} up_state;

/* Two plain stream transports exchange bytes, then both upgrade (one as the server). The
   protocol gets no connection_made from the TLS transport; the completion has it; bytes
   written through `out` before the handshake completed are sent after it; the plain bytes
   stay delivered. */
TEST(start_tls_upgrades)
{
    aiotp_loop *loop = th_loop();
    th_rec *a = th_rec_new();
    th_rec *b = th_rec_new();
    up_state ua;
    up_state ub;
    aiotp_tls_start_options so;
    aiotp_transport *ta;
    aiotp_transport *tb;
    int sv[2];

    memset(&ua, 0, sizeof(ua));
    memset(&ub, 0, sizeof(ub));
    th_tcp_pair(sv);
    ta = th_wrap(loop, sv[0], &th_streaming, a);
    tb = th_wrap(loop, sv[1], &th_streaming, b);
    CHECK_ERR(aiotp_transport_write(ta, "STARTTLS", 8), 0);
    th_run_passes(loop, 2);
    CHECK_SIZE(b->rx_len, 8);
    aiotp_tls_start_options_init(&so);
    so.server_hostname = "localhost";
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, th_tls_client_ctx(), &so,
                                   th_tls_done, &ua.side, &ua.early),
              0);
    CHECK(ua.early != NULL && aiotp_transport_kind(ua.early) == AIOTP_TRANSPORT_TLS);
    CHECK(!ua.side.done);
    /* written before the handshake: queued */
    CHECK_ERR(aiotp_transport_write(ua.early, "early", 5), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(ua.early), 5);
    aiotp_tls_start_options_init(&so);
    so.server_side = true;
    CHECK_ERR(aiotp_loop_start_tls(loop, tb, &th_streaming, b, th_tls_server_ctx("server"),
                                   &so, th_tls_done, &ub.side, NULL),
              0);
    th_run_until(loop, th_tls_side_done, &ua.side, 50);
    th_run_until(loop, th_tls_side_done, &ub.side, 50);
    CHECK_ERR(ua.side.status, 0);
    CHECK_ERR(ub.side.status, 0);
    CHECK(ua.side.t == ua.early);
    CHECK_INT(a->made, 1); /* the plain transport's, not a second one */
    CHECK_INT(b->made, 1);
    th_run_passes(loop, 3);
    CHECK_SIZE(b->rx_len, 13);
    CHECK(memcmp(b->rx, "STARTTLSearly", 13) == 0);
    CHECK_INT(th_count_lines("t3 upgrade t1"), 1);
    CHECK_INT(th_count_lines("t4 upgrade t2"), 1);
    CHECK_INT(th_count_lines("t3 cb connection_made"), 0);
    CHECK_ERR(aiotp_transport_close(ua.side.t), 0);
    th_run_until(loop, th_is_lost, a, 50);
    th_run_until(loop, th_is_lost, b, 50);
    CHECK_INT(a->lost, 1);
    CHECK_INT(b->eofs, 1);
}

/* close() on the TLS transport before its handshake completed aborts it: the completion
   gets ECLOSED, no protocol callback; lowering the limits below what is queued pauses
   inside the setter (FLOW-7), before the handshake too. */
TEST(start_tls_close_during_handshake)
{
    aiotp_loop *loop = th_loop();
    th_rec *a = th_rec_new();
    up_state ua;
    aiotp_tls_start_options so;
    aiotp_transport *ta;
    int sv[2];

    memset(&ua, 0, sizeof(ua));
    th_tcp_pair(sv);
    ta = th_wrap(loop, sv[0], &th_streaming, a);
    aiotp_tls_start_options_init(&so);
    so.server_hostname = "localhost";
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, th_tls_client_ctx(), &so,
                                   th_tls_done, &ua.side, &ua.early),
              0);
    CHECK_ERR(aiotp_transport_write(ua.early, "0123456789", 10), 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(ua.early, 4, AIOTP_LIMIT_NONE), 0);
    CHECK_INT(a->pauses, 1);
    CHECK_ERR(aiotp_transport_close(ua.early), 0);
    CHECK(ua.side.done);
    CHECK_ERR(ua.side.status, AIOTP_ECLOSED);
    CHECK(ua.side.t == NULL);
    CHECK_ERR(aiotp_transport_close(ua.early), AIOTP_ECLOSED);
    th_run_passes(loop, 3);
    CHECK_INT(a->lost, 0); /* the protocol is told nothing more */
    CHECK_INT(th_count_lines("t1 cb connection_lost"), 1);
    th_peer_close(sv[1]);
}

/* Bad input to start_tls: nothing changes. */
TEST(start_tls_bad_input)
{
    aiotp_loop *loop = th_loop();
    th_rec *a = th_rec_new();
    th_tls_side side;
    aiotp_tls_start_options so;
    aiotp_transport *ta;
    th_tls_pair p;
    int sv[2];

    memset(&side, 0, sizeof(side));
    th_socketpair(sv);
    ta = th_wrap(loop, sv[0], &th_streaming, a);
    aiotp_tls_start_options_init(&so);
    so.server_hostname = "localhost";
    CHECK_ERR(aiotp_loop_start_tls(NULL, ta, &th_streaming, a, th_tls_client_ctx(), &so,
                                   th_tls_done, &side, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_start_tls(loop, NULL, &th_streaming, a, th_tls_client_ctx(), &so,
                                   th_tls_done, &side, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, NULL, a, th_tls_client_ctx(), &so, th_tls_done,
                                   &side, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, NULL, &so, th_tls_done, &side,
                                   NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, th_tls_client_ctx(), &so, NULL,
                                   &side, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, th_tls_server_ctx("server"),
                                   &so, th_tls_done, &side, NULL),
              AIOTP_EINVAL); /* a server context for a client */
    so.size = 3;
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, th_tls_client_ctx(), &so,
                                   th_tls_done, &side, NULL),
              AIOTP_EINVAL);
    aiotp_tls_start_options_init(&so);
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, th_tls_client_ctx(), &so,
                                   th_tls_done, &side, NULL),
              AIOTP_EINVAL); /* no server_hostname with the hostname check */
    so.server_side = true;
    so.server_hostname = "x";
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, th_tls_server_ctx("server"),
                                   &so, th_tls_done, &side, NULL),
              AIOTP_EINVAL);
    so.server_hostname = NULL;
    so.tls_handshake_timeout = -1;
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, th_tls_server_ctx("server"),
                                   &so, th_tls_done, &side, NULL),
              AIOTP_EINVAL);
    so.tls_handshake_timeout = 0;
    CHECK_ERR(aiotp_transport_write_eof(ta), 0);
    CHECK_ERR(aiotp_loop_start_tls(loop, ta, &th_streaming, a, th_tls_server_ctx("server"),
                                   &so, th_tls_done, &side, NULL),
              AIOTP_ECLOSED); /* write_eof() was called */
    th_run_passes(loop, 1);
    CHECK(!side.done);
    CHECK(aiotp_transport_get_protocol(ta, NULL) == &th_streaming);
    CHECK_ERR(aiotp_transport_close(ta), 0);
    th_run_until(loop, th_is_lost, a, 10);
    th_peer_close(sv[1]);
    /* not a stream transport: a TLS one */
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("server"), "localhost",
                     NULL, NULL);
    CHECK_ERR(aiotp_loop_start_tls(loop, p.c.t, &th_streaming, p.cr, th_tls_client_ctx(), NULL,
                                   th_tls_done, &side, NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 20);
}

/* ---- allocation failures ------------------------------------------------------------------ */

/* Every allocation of a TLS connection's setup failing in turn (the layer's wrap, as the
   loop methods call it): ENOMEM, nothing made, nothing leaked (the harness counts), the
   socket not closed; then the setup succeeds and the connection works. */
TEST(allocation_failures)
{
    aiotp_loop *loop = th_loop();
    aiotp_tls_context *c = th_tls_client_ctx();
    aiotp__layer_params lp;
    th_tls_side side;
    th_rec *r = th_rec_new();
    aiotp_transport *t = NULL;
    int sv[2];
    long k;
    int rc = AIOTP_ENOMEM;
    int failures = 0;

    memset(&side, 0, sizeof(side));
    th_tcp_pair(sv);
    CHECK_ERR(aiotp__layer_params_init(&lp, c, false, "localhost", 0, 0), 0);
    for (k = 0; k < 50 && rc != 0; k++) {
        th_f.alloc_fail_after = k;
        rc = AIOTP__LAYER_OPS(c)->wrap(c, &aiotp__layer_svc, loop, sv[0], &th_streaming, r,
                                       NULL, 0, &lp, th_tls_done, &side, &t, NULL);
        th_f.alloc_fail_after = -1;
        if (rc != 0) {
            CHECK_ERR(rc, AIOTP_ENOMEM);
            CHECK(th_fd_is_open(sv[0]));
            failures++;
        }
    }
    CHECK_ERR(rc, 0);
    /* at least the TLS object and the stream transport below it; the reserved ready-queue
       entry allocates only when the queue has no room left */
    CHECK(failures >= 2);
    CHECK(t != NULL);
    th_run_passes(loop, 2); /* the ClientHello goes; the peer reads it, answers nothing */
    {
        char buf[4096];
        CHECK(th_drain_fd(sv[1], buf, sizeof(buf)) > 0);
    }
    th_peer_close(sv[1]);
    th_run_until(loop, th_tls_side_done, &side, 10);
    CHECK_ERR(side.status, AIOTP_ETLSEOF);
    CHECK_INT(r->made + r->lost, 0);
    th_run_passes(loop, 2);
}

static const th_case cases[] = {
    T(server_and_connection, "TLS-SRV-1 TLS-MAKE-1 TLS-CTX-4 SRV-5"),
    T(unix_server_and_connection, "TLS-SRV-1 TLS-MAKE-2"),
    T(server_handshake_failure_debug_only, "TLS-SRV-2 TLS-HS-3"),
    T(options_checked, "CONN-OPTS-1 SRV-OPTS-1 TLS-MAKE-2 TLS-CTX-2 TLS-HS-5"),
    T(options_first_layout, "CONN-OPTS-1 SRV-OPTS-1"),
    T(bad_table_refused, "PROTO-KIND-1"),
    T(start_tls_upgrades, "TLS-START-1 TLS-WRITE-1"),
    T(start_tls_close_during_handshake, "TLS-START-2 TLS-CLOSE-1 FLOW-7"),
    T(start_tls_bad_input, "TLS-START-3 BAD-1"),
    T(allocation_failures, "BAD-3"),
};

TH_MAIN(cases)
