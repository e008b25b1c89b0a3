/*
 * tests/package/consumer_tls/consumer.c - a program written against an installed aiotp's
 * TLS library (aiotp/tls.h, libaiotp_tls): the public headers only, strict C99. It makes
 * contexts, listens with a server context, checks that a context of the wrong side and
 * bad start_tls arguments are refused. (Handshakes need certificates: the installed
 * library's TLS behaviour is the test suite's.) Prints "consumer: ok" and exits 0 when
 * every check passed.
 */
#include <stdio.h>
#include <string.h>

#include "aiotp/aiotp.h"
#include "aiotp/tls.h"

static int failures;

#define EXPECT(cond)                                                                   \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "consumer: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                            \
            failures++;                                                                \
        }                                                                              \
    } while (0)

static void done(void *arg, int status, aiotp_server *s)
{
    int *st = arg;
    (void)s;
    *st = status;
}

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    static const aiotp_protocol p = {.size = sizeof(aiotp_protocol),
                                     .kind = AIOTP_PROTOCOL_STREAMING};
    (void)arg;
    *proto = &p;
    *data = NULL;
    return 0;
}

int main(void)
{
    aiotp_tls_context *c = NULL;
    aiotp_tls_context *s = NULL;
    aiotp_loop *loop = NULL;
    aiotp_server_options so;
    aiotp_connect_options co;
    static const char *const alpn[] = {"h2", "http/1.1"};
    int status = 1;

    EXPECT(aiotp_tls_context_new(&c, AIOTP_TLS_CLIENT) == 0);
    EXPECT(aiotp_tls_context_new(&s, AIOTP_TLS_SERVER) == 0);
    EXPECT(aiotp_tls_context_set_alpn_protocols(c, alpn, 2) == 0);
    EXPECT(aiotp_tls_context_set_versions(c, AIOTP_TLS_VERSION_1_2, AIOTP_TLS_VERSION_1_3) == 0);
    EXPECT(aiotp_tls_context_ssl_ctx(c) != NULL);
    EXPECT(aiotp_tls_context_load_cert_chain(s, "/nonexistent.pem", NULL) == AIOTP_ETLS);
    EXPECT(aiotp_loop_create(&loop, NULL) == 0);
    /* a server context for a client is refused at the call */
    aiotp_connect_options_init(&co);
    co.tls = s;
    EXPECT(aiotp_loop_create_connection(loop, factory, NULL, "127.0.0.1", 1, &co, NULL, NULL) ==
           AIOTP_EINVAL);
    /* a TLS server listens (its handshakes would need a certificate) */
    aiotp_server_options_init(&so);
    so.tls = s;
    EXPECT(aiotp_loop_create_server(loop, factory, NULL, "127.0.0.1", 0, &so, done, &status) ==
           0);
    aiotp_tls_context_free(s);
    EXPECT(aiotp_loop_run_once(loop) == 0);
    EXPECT(status == 0);
    EXPECT(aiotp_tls_get_read_buffer_size(NULL) == 0);
    EXPECT(aiotp_loop_start_tls(loop, NULL, NULL, NULL, c, NULL, NULL, NULL, NULL) ==
           AIOTP_EINVAL);
    aiotp_loop_free(loop);
    aiotp_tls_context_free(c);
    if (failures == 0) {
        printf("consumer: ok\n");
    }
    return failures == 0 ? 0 : 1;
}
