/* tests/test_tls_handshake.c - the TLS handshake (spec/tls-transport.md, rules TLS-HS-*,
   TLS-MAKE-1, TLS-CERT-*, TLS-ALPN-1, TLS-VERSION-1): connection_made at its end, then
   the completion; every failure (an unknown CA, a name that does not match, an expired
   certificate, a missing client certificate, garbage, a version mismatch, the peer's EOF
   or reset, the timeout) reaches only the completion, with a clear status, and the
   protocol is told nothing. Both ends are aiotp transports of one loop over a TCP pair,
   or one end is a raw socket the test plays. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_helpers.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* A TLS client (t2 over t1) on the client end of a TCP pair whose server end (*peer) the
   test plays. */
static void raw_client(aiotp_loop *loop, aiotp_tls_context *c, aiotp_time hs_timeout,
                       th_tls_side *side, th_rec **rec, int *peer)
{
    aiotp_connect_options o;
    int sv[2];
    static const aiotp_protocol *proto = &th_streaming;
    (void)proto;
    th_tcp_pair(sv);
    *peer = sv[1];
    *rec = th_rec_new();
    memset(side, 0, sizeof(*side));
    aiotp_connect_options_init(&o);
    o.sock = sv[0];
    o.tls = c;
    o.server_hostname = "localhost";
    o.tls_handshake_timeout = hs_timeout;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, *rec, NULL, 0, &o,
                                           th_tls_done, side),
              0);
}

/* Both completions came with these statuses; neither protocol was called. */
static void both_failed(const th_tls_pair *p, int cstatus, int sstatus)
{
    CHECK(p->c.done && p->s.done);
    CHECK_ERR(p->c.status, cstatus);
    CHECK_ERR(p->s.status, sstatus);
    CHECK(p->c.t == NULL && p->s.t == NULL);
    CHECK_INT(p->cr->made + p->cr->lost + p->cr->chunks + p->cr->eofs, 0);
    CHECK_INT(p->sr->made + p->sr->lost + p->sr->chunks + p->sr->eofs, 0);
    CHECK_STR(th_callbacks(2), "");
    CHECK_STR(th_callbacks(4), "");
}

/* Run until the transports below are gone (their connection_lost ran). */
static void run_until_below_lost(aiotp_loop *loop)
{
    int i;
    for (i = 0; i < 20 && (th_count_lines("t1 cb connection_lost") == 0 ||
                           th_count_lines("t3 cb connection_lost") == 0);
         i++) {
        th_run_once(loop);
    }
    CHECK_INT(th_count_lines("t1 cb connection_lost"), 1);
    CHECK_INT(th_count_lines("t3 cb connection_lost"), 1);
}

/* ---- success --------------------------------------------------------------------------- */

/* A client and a server: connection_made at the end of each side's handshake, then the
   completion; the transports are TLS transports over stream transports. */
TEST(handshake_completes)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;

    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("server"), "localhost",
                     NULL, NULL);
    CHECK(p.c.done && p.s.done);
    CHECK_ERR(p.c.status, 0);
    CHECK_ERR(p.s.status, 0);
    CHECK_INT(p.c.id, 2);
    CHECK_INT(p.s.id, 4);
    CHECK_INT(aiotp_transport_kind(p.c.t), AIOTP_TRANSPORT_TLS);
    CHECK_INT(aiotp_transport_kind(p.s.t), AIOTP_TRANSPORT_TLS);
    CHECK_INT(p.cr->made, 1);
    CHECK_INT(p.sr->made, 1);
    CHECK_STR(th_tls_cbs(2), "cb connection_made\n");
    CHECK_STR(th_tls_cbs(4), "cb connection_made\n");
    CHECK_INT(th_count_lines("t2 handshake status=0"), 1);
    CHECK_INT(th_count_lines("t4 handshake status=0"), 1);
    CHECK_INT(th_count_lines("t2 over t1"), 1);
    CHECK_INT(th_count_lines("t4 over t3"), 1);
    CHECK_INT(th_count_lines("t4 peer t2"), 1);
    /* the transports below are the layer's: their protocol is not the application's */
    CHECK_STR(th_tls_cbs(1), "cb connection_made\ncb data_received\n");
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
    CHECK_STR(th_tls_cbs(2), "cb connection_made\ncb connection_lost status=0\n");
    CHECK_STR(th_tls_cbs(4),
              "cb connection_made\ncb eof_received\nret eof_received 0\n"
              "cb connection_lost status=0\n");
}

/* connection_made is called inside the handshake's last step, and the completion right
   after it, in the same pass (METH-2 for TLS). */
static int order_made(th_rec *r, aiotp_transport *t)
{
    th_tls_side *s = r->user;
    (void)t;
    CHECK(!s->done); /* the completion comes after */
    return 0;
}

TEST(completion_after_connection_made)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    aiotp_connect_options o;
    th_rec *r = th_rec_new();
    th_tls_side side;
    int sv[2];
    uint64_t made_iter;

    memset(&side, 0, sizeof(side));
    r->on_made = order_made;
    r->user = &side;
    th_tcp_pair(sv);
    aiotp_connect_options_init(&o);
    o.sock = sv[0];
    o.tls = th_tls_client_ctx();
    o.server_hostname = "localhost";
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, NULL, 0, &o, th_tls_done,
                                           &side),
              0);
    memset(&p, 0, sizeof(p));
    aiotp_connect_options_init(&o);
    o.tls = th_tls_server_ctx("server");
    p.sr = th_rec_new();
    CHECK_ERR(aiotp_loop_connect_accepted_socket_opts(loop, th_tls_rec_factory, p.sr, sv[1], &o,
                                                      th_tls_done, &p.s),
              0);
    th_run_until(loop, th_tls_side_done, &side, 50);
    CHECK_ERR(side.status, 0);
    CHECK_INT(r->made, 1);
    made_iter = th_iter_of("t2 cb connection_made", 0);
    CHECK(made_iter > 0);
    CHECK_INT(th_iter_of("t2 handshake status=0", 0), made_iter);
    CHECK_ERR(aiotp_transport_abort(side.t), 0);
    th_run_until(loop, th_is_lost, r, 10);
    th_run_until(loop, th_is_lost, p.sr, 20);
}

/* TLS 1.2 and TLS 1.3 both complete; "cipher" says which was agreed. */
static void versions_case(aiotp_tls_version v, const char *name)
{
    aiotp_loop *loop = th_loop();
    aiotp_tls_context *c = th_tls_client_ctx();
    th_tls_pair p;
    const aiotp_extra *x;
    const aiotp_tls_cipher *ci;

    CHECK_ERR(aiotp_tls_context_set_versions(c, v, v), 0);
    th_tls_pair_make(loop, &p, c, th_tls_server_ctx("server"), "localhost", NULL, NULL);
    CHECK_ERR(p.c.status, 0);
    CHECK_ERR(p.s.status, 0);
    x = aiotp_transport_get_extra_info(p.c.t, "cipher", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_PTR);
    if (x != NULL && x->kind == AIOTP_EXTRA_PTR) {
        ci = x->u.ptr;
        CHECK_STR(ci->version, name);
        CHECK(ci->bits >= 128);
        CHECK(ci->name != NULL && ci->name[0] != '\0');
    }
    x = aiotp_transport_get_extra_info(p.s.t, "cipher", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_PTR &&
          strcmp(((const aiotp_tls_cipher *)x->u.ptr)->version, name) == 0);
    CHECK_ERR(aiotp_transport_close(p.s.t), 0);
    th_tls_pair_finish(loop, &p, 50);
    CHECK_INT(p.cr->lost_status, 0);
    CHECK_INT(p.sr->lost_status, 0);
}

TEST(tls12_completes)
{
    versions_case(AIOTP_TLS_VERSION_1_2, "TLSv1.2");
}

TEST(tls13_completes)
{
    versions_case(AIOTP_TLS_VERSION_1_3, "TLSv1.3");
}

/* ---- certificates ------------------------------------------------------------------------ */

/* A server certificate from a CA the client does not trust: ETLSCERT for the client, which
   tells the server with an alert (ETLS there); neither protocol is called, both transports
   below close. */
TEST(unknown_ca_rejected)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("other"), "localhost",
                     NULL, NULL);
    both_failed(&p, AIOTP_ETLSCERT, AIOTP_ETLS);
    CHECK_INT(th_count_lines("t2 handshake status=ETLSCERT"), 1);
    CHECK_INT(th_count_lines("t4 handshake status=ETLS"), 1);
    run_until_below_lost(loop);
}

/* A certificate for another name: ETLSCERT (the hostname check). */
TEST(hostname_mismatch_rejected)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("wrongname"),
                     "localhost", NULL, NULL);
    both_failed(&p, AIOTP_ETLSCERT, AIOTP_ETLS);
    run_until_below_lost(loop);
}

/* The same certificate checked against the name it carries: accepted. */
TEST(hostname_matches)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("wrongname"),
                     "example.invalid", NULL, NULL);
    CHECK_ERR(p.c.status, 0);
    CHECK_ERR(p.s.status, 0);
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
}

/* An IP address as server_hostname: checked against the certificate's IP SAN, no SNI. */
TEST(ip_address_checked)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("server"), "127.0.0.1",
                     NULL, NULL);
    CHECK_ERR(p.c.status, 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("wrongname"),
                     "127.0.0.1", NULL, NULL);
    CHECK_ERR(p.c.status, AIOTP_ETLSCERT);
}

/* An expired certificate: ETLSCERT. */
TEST(expired_rejected)
{
    aiotp_loop *loop = th_loop();
    th_tls_pair p;
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), th_tls_server_ctx("expired"), "localhost",
                     NULL, NULL);
    both_failed(&p, AIOTP_ETLSCERT, AIOTP_ETLS);
    run_until_below_lost(loop);
}

/* Verification off (CERT_NONE): the unknown CA is accepted. */
TEST(verify_none_accepts)
{
    aiotp_loop *loop = th_loop();
    aiotp_tls_context *c = th_tls_client_ctx();
    th_tls_pair p;
    CHECK_ERR(aiotp_tls_context_set_verify(c, AIOTP_TLS_VERIFY_NONE), 0);
    th_tls_pair_make(loop, &p, c, th_tls_server_ctx("other"), "localhost", NULL, NULL);
    CHECK_ERR(p.c.status, 0);
    CHECK_ERR(p.s.status, 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
}

/* A server that requires a client certificate: a client with one is accepted ("peercert"
   on the server is the client's); one without is refused. Under TLS 1.3 the client's
   handshake completes before the server has checked it: the client's protocol gets
   connection_made and then connection_lost(ETLS) when the server's alert arrives. */
TEST(client_certificate)
{
    aiotp_loop *loop = th_loop();
    aiotp_tls_context *s = th_tls_server_ctx("server");
    aiotp_tls_context *c = th_tls_client_ctx();
    th_tls_pair p;
    const aiotp_extra *x;
    char cn[64];

    CHECK_ERR(aiotp_tls_context_set_verify(s, AIOTP_TLS_VERIFY_REQUIRED), 0);
    CHECK_ERR(aiotp_tls_context_load_verify_locations(s, th_tls_path("ca.pem"), NULL), 0);
    CHECK_ERR(aiotp_tls_context_load_cert_chain(c, th_tls_path("client.pem"),
                                                th_tls_path("client.key")),
              0);
    th_tls_pair_make(loop, &p, c, s, "localhost", NULL, NULL);
    CHECK_ERR(p.c.status, 0);
    CHECK_ERR(p.s.status, 0);
    x = aiotp_transport_get_extra_info(p.s.t, "peercert", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_PTR);
    if (x != NULL && x->kind == AIOTP_EXTRA_PTR) {
        X509_NAME_get_text_by_NID(X509_get_subject_name((X509 *)(uintptr_t)x->u.ptr),
                                  NID_commonName, cn, sizeof(cn));
        CHECK_STR(cn, "aiotp-client");
    }
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);

    th_trace_clear();
    th_tls_pair_make(loop, &p, th_tls_client_ctx(), s, "localhost", NULL, NULL);
    CHECK_ERR(p.c.status, 0);
    CHECK(p.s.status == AIOTP_ETLS || p.s.status == AIOTP_ETLSCERT);
    th_run_until(loop, th_is_lost, p.cr, 20);
    CHECK_STR(th_tls_cbs(p.c.id), "cb connection_made\ncb connection_lost status=ETLS\n");
    CHECK_INT(p.sr->made + p.sr->lost, 0);
}

/* ---- failures the peer causes ---------------------------------------------------------- */

/* A peer that never answers: after the handshake timeout the completion gets ECONNABORTED
   (CPython's ConnectionAbortedError), the connection is aborted. */
TEST(handshake_timeout)
{
    aiotp_loop *loop = th_loop();
    th_tls_side side;
    th_rec *r;
    int peer;
    char buf[64];
    aiotp_time start = aiotp_loop_time(loop);

    raw_client(loop, th_tls_client_ctx(), 200 * AIOTP_NS_PER_MS, &side, &r, &peer);
    th_run_until(loop, th_tls_side_done, &side, 40);
    CHECK_ERR(side.status, -ECONNABORTED);
    CHECK(aiotp_loop_time(loop) - start >= 200 * AIOTP_NS_PER_MS);
    CHECK_INT(th_count_lines("t2 handshake status=ECONNABORTED"), 1);
    th_run_passes(loop, 2);
    CHECK_STR(th_tls_cbs(1), "cb connection_made\ncb connection_lost status=0\n");
    CHECK_STR(th_callbacks(2), "");
    CHECK_INT(r->made + r->lost, 0);
    /* the peer saw the ClientHello, then the abort */
    CHECK(th_drain_fd(peer, buf, sizeof(buf)) > 0);
    th_peer_close(peer);
}

/* A TLS client over a new TCP pair (sv[1] the peer's end), its creation's number in *op. */
static void client_with_op(aiotp_loop *loop, int sv[2], th_tls_side *side, th_rec *r,
                           aiotp_op *op)
{
    aiotp_connect_options o;
    th_tcp_pair(sv);
    memset(side, 0, sizeof(*side));
    aiotp_connect_options_init(&o);
    o.sock = sv[0];
    o.tls = th_tls_client_ctx();
    o.server_hostname = "localhost";
    o.op = op;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_tls_rec_factory, r, NULL, 0, &o,
                                           th_tls_done, side),
              0);
    CHECK(*op != 0);
}

/* OP-1, OP-2: the creation of a TLS connection stays cancellable through its handshake
   (CPython: cancelling create_connection's task closes the connection it was making). The
   peer never answers the ClientHello; aiotp_loop_cancel_op returns 0, runs nothing inside
   the call, a second cancel finds nothing; the completion gets ECANCELED in the next pass,
   the protocol is told nothing, the transport below is aborted. */
TEST(cancel_during_handshake)
{
    aiotp_loop *loop = th_loop();
    th_tls_side side;
    th_rec *r = th_rec_new();
    aiotp_op op = 0;
    int sv[2];
    char buf[4096];

    client_with_op(loop, sv, &side, r, &op);
    th_run_passes(loop, 2); /* connected, the ClientHello goes */
    CHECK(th_drain_fd(sv[1], buf, sizeof(buf)) > 0);
    CHECK(!side.done);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), 0);
    CHECK(!side.done); /* never inside the call */
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), AIOTP_ENOENT);
    th_run_once(loop);
    CHECK(side.done);
    CHECK_ERR(side.status, AIOTP_ECANCELED);
    CHECK(side.t == NULL);
    CHECK_INT(th_count_lines("t2 handshake status=ECANCELED"), 1);
    th_run_passes(loop, 2);
    CHECK_STR(th_tls_cbs(1), "cb connection_made\ncb connection_lost status=0\n");
    CHECK_STR(th_callbacks(2), "");
    CHECK_INT(r->made + r->lost + r->chunks + r->eofs, 0);
    /* aborted: the peer reads a reset or an end, no more handshake bytes */
    CHECK(th_drain_fd(sv[1], buf, sizeof(buf)) <= 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), AIOTP_ENOENT);
    th_peer_close(sv[1]);
}

/* OP-2: in the pass that makes the transports (the socket connected, the handshake not
   started: the stream below has not had its connection_made) the operation is not
   pending: cancelling finds nothing, and the handshake goes on to its end. */
TEST(cancel_before_handshake_starts)
{
    aiotp_loop *loop = th_loop();
    th_tls_side side;
    th_tls_side server;
    th_rec *r = th_rec_new();
    aiotp_connect_options o;
    aiotp_op op = 0;
    int sv[2];

    memset(&server, 0, sizeof(server));
    client_with_op(loop, sv, &side, r, &op);
    th_run_once(loop);
    CHECK_INT(th_count_lines("t2 open tls"), 1);
    CHECK_INT(th_count_lines("t1 cb connection_made"), 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), AIOTP_ENOENT);
    aiotp_connect_options_init(&o);
    o.tls = th_tls_server_ctx("server");
    CHECK_ERR(aiotp_loop_connect_accepted_socket_opts(loop, th_tls_rec_factory, th_rec_new(),
                                                      sv[1], &o, th_tls_done, &server),
              0);
    th_run_until(loop, th_tls_side_done, &side, 50);
    CHECK_ERR(side.status, 0);
    CHECK_INT(r->made, 1);
}

/* OP-2: once the handshake has completed the operation is over: cancelling finds nothing
   and changes nothing. */
TEST(cancel_after_handshake)
{
    aiotp_loop *loop = th_loop();
    aiotp_connect_options o;
    th_tls_side side;
    th_tls_side server;
    th_rec *r = th_rec_new();
    aiotp_op op = 0;
    int sv[2];

    memset(&server, 0, sizeof(server));
    client_with_op(loop, sv, &side, r, &op);
    aiotp_connect_options_init(&o);
    o.tls = th_tls_server_ctx("server");
    CHECK_ERR(aiotp_loop_connect_accepted_socket_opts(loop, th_tls_rec_factory, th_rec_new(),
                                                      sv[1], &o, th_tls_done, &server),
              0);
    th_run_until(loop, th_tls_side_done, &side, 50);
    CHECK_ERR(side.status, 0);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), AIOTP_ENOENT);
    th_run_passes(loop, 2);
    CHECK_INT(r->made, 1);
    CHECK_INT(r->lost, 0);
}

/* The peer closes during the handshake: ETLSEOF (CPython: ConnectionResetError; DEV-37). */
TEST(eof_during_handshake)
{
    aiotp_loop *loop = th_loop();
    th_tls_side side;
    th_rec *r;
    int peer;
    char buf[4096];

    raw_client(loop, th_tls_client_ctx(), 0, &side, &r, &peer);
    th_run_passes(loop, 2); /* the ClientHello goes */
    CHECK(th_drain_fd(peer, buf, sizeof(buf)) > 0);
    th_peer_shutdown(peer, SHUT_WR);
    th_run_until(loop, th_tls_side_done, &side, 10);
    CHECK_ERR(side.status, AIOTP_ETLSEOF);
    CHECK_INT(r->made + r->lost, 0);
    th_run_passes(loop, 2);
    CHECK_INT(th_count_lines("t1 cb connection_lost"), 1);
    th_peer_close(peer);
}

/* The peer resets the connection: the completion gets ECONNRESET. */
TEST(reset_during_handshake)
{
    aiotp_loop *loop = th_loop();
    th_tls_side side;
    th_rec *r;
    int peer;
    char buf[4096];

    raw_client(loop, th_tls_client_ctx(), 0, &side, &r, &peer);
    th_run_passes(loop, 2);
    CHECK(th_drain_fd(peer, buf, sizeof(buf)) > 0);
    th_set_rst(peer);
    th_peer_close(peer);
    th_run_until(loop, th_tls_side_done, &side, 10);
    CHECK_ERR(side.status, -ECONNRESET);
    CHECK_INT(r->made + r->lost, 0);
    th_run_passes(loop, 2);
}

/* Bytes that are no TLS: ETLS. */
TEST(garbage_rejected)
{
    aiotp_loop *loop = th_loop();
    th_tls_side side;
    th_rec *r;
    int peer;
    char buf[4096];
    static const char junk[] = "HTTP/1.1 400 Bad Request\r\n\r\n";

    raw_client(loop, th_tls_client_ctx(), 0, &side, &r, &peer);
    th_run_passes(loop, 2);
    CHECK(th_drain_fd(peer, buf, sizeof(buf)) > 0);
    CHECK_INT(th_peer_write(peer, junk, sizeof(junk) - 1), (ssize_t)(sizeof(junk) - 1));
    th_run_until(loop, th_tls_side_done, &side, 10);
    CHECK_ERR(side.status, AIOTP_ETLS);
    CHECK_INT(r->made + r->lost, 0);
    th_run_passes(loop, 2);
    th_peer_close(peer);
}

/* No protocol version in common: ETLS on both sides. */
TEST(version_mismatch)
{
    aiotp_loop *loop = th_loop();
    aiotp_tls_context *c = th_tls_client_ctx();
    aiotp_tls_context *s = th_tls_server_ctx("server");
    th_tls_pair p;
    CHECK_ERR(aiotp_tls_context_set_versions(c, AIOTP_TLS_VERSION_1_2, AIOTP_TLS_VERSION_1_2),
              0);
    CHECK_ERR(aiotp_tls_context_set_versions(s, AIOTP_TLS_VERSION_1_3, AIOTP_TLS_VERSION_ANY),
              0);
    th_tls_pair_make(loop, &p, c, s, "localhost", NULL, NULL);
    both_failed(&p, AIOTP_ETLS, AIOTP_ETLS);
    run_until_below_lost(loop);
}

/* ---- ALPN ------------------------------------------------------------------------------ */

static const char *alpn_of(aiotp_transport *t)
{
    const aiotp_extra *x = aiotp_transport_get_extra_info(t, "alpn_protocol", NULL);
    if (x == NULL) {
        return "(default)";
    }
    return x->kind == AIOTP_EXTRA_STR ? x->u.str : "(none)";
}

TEST(alpn_negotiated)
{
    aiotp_loop *loop = th_loop();
    aiotp_tls_context *c = th_tls_client_ctx();
    aiotp_tls_context *s = th_tls_server_ctx("server");
    static const char *const cl[] = {"h2", "http/1.1"};
    static const char *const sl[] = {"http/1.1", "h2"};
    static const char *const none[] = {"spdy/3"};
    th_tls_pair p;

    /* no ALPN configured: none agreed */
    th_tls_pair_make(loop, &p, c, s, "localhost", NULL, NULL);
    CHECK_STR(alpn_of(p.c.t), "(none)");
    CHECK_STR(alpn_of(p.s.t), "(none)");
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);

    /* the server's preference wins among what the client offers */
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(c, cl, 2), 0);
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(s, sl, 2), 0);
    th_tls_pair_make(loop, &p, c, s, "localhost", NULL, NULL);
    CHECK_STR(alpn_of(p.c.t), "http/1.1");
    CHECK_STR(alpn_of(p.s.t), "http/1.1");
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);

    /* nothing in common: the handshake goes on without ALPN */
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(s, none, 1), 0);
    th_tls_pair_make(loop, &p, c, s, "localhost", NULL, NULL);
    CHECK_ERR(p.c.status, 0);
    CHECK_STR(alpn_of(p.c.t), "(none)");
    CHECK_STR(alpn_of(p.s.t), "(none)");
    CHECK_ERR(aiotp_transport_abort(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
}

static const th_case cases[] = {
    T(handshake_completes, "TLS-HS-1 TLS-HS-2 TLS-MAKE-1 TLS-OVER-1"),
    T(completion_after_connection_made, "TLS-HS-2 METH-2"),
    T(tls12_completes, "TLS-VERSION-1 TLS-EXTRA-1"),
    T(tls13_completes, "TLS-VERSION-1 TLS-EXTRA-1"),
    T(unknown_ca_rejected, "TLS-CERT-1 TLS-HS-3"),
    T(hostname_mismatch_rejected, "TLS-CERT-2 TLS-HS-3"),
    T(hostname_matches, "TLS-CERT-2"),
    T(ip_address_checked, "TLS-CERT-2"),
    T(expired_rejected, "TLS-CERT-1 TLS-HS-3"),
    T(verify_none_accepts, "TLS-CERT-3"),
    T(client_certificate, "TLS-CERT-4 TLS-EXTRA-1"),
    T(handshake_timeout, "TLS-HS-4 TLS-HS-3"),
    T(cancel_during_handshake, "OP-1 OP-2 TLS-HS-3"),
    T(cancel_before_handshake_starts, "OP-2"),
    T(cancel_after_handshake, "OP-2"),
    T(eof_during_handshake, "TLS-HS-3"),
    T(reset_during_handshake, "TLS-HS-3"),
    T(garbage_rejected, "TLS-HS-3"),
    T(version_mismatch, "TLS-VERSION-1 TLS-HS-3"),
    T(alpn_negotiated, "TLS-ALPN-1"),
};

TH_MAIN(cases)
