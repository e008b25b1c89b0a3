/* tests/test_tls_context.c - TLS contexts (aiotp/tls.h; rules TLS-CTX-*): Python's secure
   defaults, every setter's checks (a clear error, nothing changed), reference counting (a
   context freed while a connection or server uses it lives on). */
#include <string.h>

#include <openssl/ssl.h>

#include "tls_helpers.h"

/* A client context verifies the server (VERIFY_PEER) and its name; a server context asks
   for no client certificate; both start at TLS 1.2. */
TEST(defaults)
{
    aiotp_tls_context *c = NULL;
    aiotp_tls_context *s = NULL;
    SSL_CTX *x;
    CHECK_ERR(aiotp_tls_context_new(&c, AIOTP_TLS_CLIENT), 0);
    CHECK_ERR(aiotp_tls_context_new(&s, AIOTP_TLS_SERVER), 0);
    x = aiotp_tls_context_ssl_ctx(c);
    CHECK(x != NULL);
    CHECK_INT(SSL_CTX_get_verify_mode(x), SSL_VERIFY_PEER);
    CHECK_INT(SSL_CTX_get_min_proto_version(x), TLS1_2_VERSION);
    CHECK((SSL_CTX_get_options(x) & SSL_OP_NO_COMPRESSION) != 0);
    CHECK((SSL_CTX_get_options(x) & SSL_OP_NO_RENEGOTIATION) != 0);
    x = aiotp_tls_context_ssl_ctx(s);
    CHECK_INT(SSL_CTX_get_verify_mode(x), SSL_VERIFY_NONE);
    /* the hostname check is on for a client: refused without verification */
    CHECK_ERR(aiotp_tls_context_set_check_hostname(c, true), 0);
    CHECK_ERR(aiotp_tls_context_set_check_hostname(c, false), 0);
    CHECK_ERR(aiotp_tls_context_set_verify(s, AIOTP_TLS_VERIFY_OPTIONAL), 0);
    CHECK_INT(SSL_CTX_get_verify_mode(x), SSL_VERIFY_PEER);
    CHECK_ERR(aiotp_tls_context_set_verify(s, AIOTP_TLS_VERIFY_REQUIRED), 0);
    CHECK_INT(SSL_CTX_get_verify_mode(x), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
    CHECK_ERR(aiotp_tls_context_set_verify(c, AIOTP_TLS_VERIFY_NONE), 0);
    CHECK_INT(SSL_CTX_get_verify_mode(aiotp_tls_context_ssl_ctx(c)), SSL_VERIFY_NONE);
    CHECK_ERR(aiotp_tls_context_set_check_hostname(c, true), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_load_default_verify_paths(c), 0);
    aiotp_tls_context_free(c);
    aiotp_tls_context_free(s);
}

/* Every function with bad arguments: EINVAL (ETLS for files OpenSSL cannot use), nothing
   changed. */
TEST(bad_input)
{
    aiotp_tls_context *c = NULL;
    aiotp_tls_context *s = NULL;
    static const char *const good[] = {"h2"};
    static const char *const empty[] = {""};
    static const char *const nul[] = {NULL};
    char longname[300];
    const char *const lng[] = {longname};

    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK_ERR(aiotp_tls_context_new(NULL, AIOTP_TLS_CLIENT), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_new(&c, (aiotp_tls_side)7), AIOTP_EINVAL);
    CHECK(c == NULL);
    CHECK_ERR(aiotp_tls_context_new(&c, AIOTP_TLS_CLIENT), 0);
    CHECK_ERR(aiotp_tls_context_new(&s, AIOTP_TLS_SERVER), 0);

    CHECK_ERR(aiotp_tls_context_load_verify_locations(NULL, "x", NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_load_verify_locations(c, NULL, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_load_verify_locations(c, "/nonexistent/ca.pem", NULL),
              AIOTP_ETLS);
    CHECK_ERR(aiotp_tls_context_load_verify_locations(c, th_tls_path("server.key"), NULL),
              AIOTP_ETLS); /* a key is no certificate */
    CHECK_ERR(aiotp_tls_context_load_default_verify_paths(NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_load_cert_chain(NULL, "x", NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_load_cert_chain(s, NULL, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_load_cert_chain(s, "/nonexistent.pem", NULL), AIOTP_ETLS);
    CHECK_ERR(aiotp_tls_context_load_cert_chain(s, th_tls_path("server.pem"),
                                                th_tls_path("client.key")),
              AIOTP_ETLS); /* a key that does not match */
    CHECK_ERR(aiotp_tls_context_load_cert_chain(s, th_tls_path("server.pem"), NULL),
              AIOTP_ETLS); /* no key in the certificate's file */
    CHECK_ERR(aiotp_tls_context_set_verify(NULL, AIOTP_TLS_VERIFY_NONE), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_verify(c, (aiotp_tls_verify)9), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_verify(c, AIOTP_TLS_VERIFY_OPTIONAL), AIOTP_EINVAL);
    CHECK_INT(SSL_CTX_get_verify_mode(aiotp_tls_context_ssl_ctx(c)), SSL_VERIFY_PEER);
    CHECK_ERR(aiotp_tls_context_set_check_hostname(NULL, true), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_check_hostname(s, true), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(NULL, good, 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(c, NULL, 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(c, empty, 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(c, nul, 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(c, lng, 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(c, good, 1), 0);
    CHECK_ERR(aiotp_tls_context_set_alpn_protocols(c, NULL, 0), 0); /* off again */
    CHECK_ERR(aiotp_tls_context_set_versions(NULL, AIOTP_TLS_VERSION_ANY,
                                             AIOTP_TLS_VERSION_ANY),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_versions(c, (aiotp_tls_version)11, AIOTP_TLS_VERSION_ANY),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_versions(c, AIOTP_TLS_VERSION_ANY, (aiotp_tls_version)99),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_tls_context_set_versions(c, AIOTP_TLS_VERSION_1_3, AIOTP_TLS_VERSION_1_2),
              AIOTP_EINVAL);
    CHECK_INT(SSL_CTX_get_min_proto_version(aiotp_tls_context_ssl_ctx(c)), TLS1_2_VERSION);
    CHECK_ERR(aiotp_tls_context_set_versions(c, AIOTP_TLS_VERSION_1_3, AIOTP_TLS_VERSION_ANY),
              0);
    CHECK_INT(SSL_CTX_get_min_proto_version(aiotp_tls_context_ssl_ctx(c)), TLS1_3_VERSION);
    CHECK_ERR(aiotp_tls_context_set_versions(c, AIOTP_TLS_VERSION_ANY, AIOTP_TLS_VERSION_1_2),
              0);
    CHECK_INT(SSL_CTX_get_min_proto_version(aiotp_tls_context_ssl_ctx(c)), TLS1_2_VERSION);
    CHECK_INT(SSL_CTX_get_max_proto_version(aiotp_tls_context_ssl_ctx(c)), TLS1_2_VERSION);
    CHECK(aiotp_tls_context_ssl_ctx(NULL) == NULL);
    aiotp_tls_context_free(NULL);
    aiotp_tls_context_free(c);
    aiotp_tls_context_free(s);
}

/* The caller's reference goes once (a second free is ignored); users keep the context:
   a TLS transport made with a context freed by the caller still works, and the context
   goes with its last user (ASan / valgrind see the frees). */
TEST(references)
{
    aiotp_loop *loop = th_loop();
    aiotp_tls_context *c = NULL;
    aiotp_tls_context *s = NULL;
    th_tls_pair p;
    const aiotp_extra *x;

    CHECK_ERR(aiotp_tls_context_new(&c, AIOTP_TLS_CLIENT), 0);
    CHECK_ERR(aiotp_tls_context_load_verify_locations(c, th_tls_path("ca.pem"), NULL), 0);
    CHECK_ERR(aiotp_tls_context_new(&s, AIOTP_TLS_SERVER), 0);
    CHECK_ERR(aiotp_tls_context_load_cert_chain(s, th_tls_path("server.pem"),
                                                th_tls_path("server.key")),
              0);
    th_tls_pair_make(loop, &p, c, s, "localhost", NULL, NULL);
    aiotp_tls_context_free(c);
    aiotp_tls_context_free(c); /* ignored */
    aiotp_tls_context_free(s);
    CHECK_ERR(p.c.status, 0);
    x = aiotp_transport_get_extra_info(p.c.t, "sslcontext", NULL);
    CHECK(x != NULL && x->u.ptr == c);
    CHECK(aiotp_tls_context_ssl_ctx(c) != NULL); /* alive: the transport holds it */
    CHECK_ERR(aiotp_transport_write(p.c.t, "ok", 2), 0);
    CHECK_ERR(aiotp_transport_close(p.c.t), 0);
    th_tls_pair_finish(loop, &p, 50);
    CHECK_SIZE(p.sr->rx_len, 2);
}

static const th_case cases[] = {
    T(defaults, "TLS-CTX-1"),
    T(bad_input, "TLS-CTX-3 BAD-1"),
    T(references, "TLS-CTX-4"),
};

TH_MAIN(cases)
