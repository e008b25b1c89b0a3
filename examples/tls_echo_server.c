/*
 * examples/tls_echo_server.c - the documentation's "TCP Echo Server" over TLS: for each
 * connection, print the peer, echo what arrives, then close the connection (close sends
 * close_notify). The same program as tcp_echo_server.c with a server context in the
 * options (aiotp/tls.h).
 *
 *   tls_echo_server PORT --cert CHAIN.pem --key KEY.pem [--count N] [--alpn P1,P2]
 *                   [--tls12 | --tls13] [--client-ca CA.pem] [--info]
 *
 * PORT 0 picks a free port; prints "listening on PORT" once ready; stops after --count N
 * connections. --client-ca requires a client certificate from that CA. --info prints
 * "TLS: VERSION ALPN" after the connection line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/aiotp.h"
#include "aiotp/tls.h"
#include "example_util.h"

static int remaining = -1; /* connections to serve before closing the server */
static aiotp_server *the_server;
static int info;

static void print_tls(aiotp_transport *t)
{
    const aiotp_extra *c = aiotp_transport_get_extra_info(t, "cipher", NULL);
    const aiotp_extra *a = aiotp_transport_get_extra_info(t, "alpn_protocol", NULL);
    printf("TLS: %s ALPN: %s\n",
           c != NULL && c->kind == AIOTP_EXTRA_PTR
               ? ((const aiotp_tls_cipher *)c->u.ptr)->version
               : "?",
           a != NULL && a->kind == AIOTP_EXTRA_STR ? a->u.str : "none");
}

static int es_connection_made(aiotp_transport *t, void *data)
{
    char peer[128];
    (void)data;
    example_format_addr(aiotp_transport_get_extra_info(t, "peername", NULL), peer, sizeof(peer));
    printf("Connection from %s\n", peer);
    if (info) {
        print_tls(t);
    }
    return 0;
}

static int es_data_received(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    (void)data;
    printf("Data received: '%.*s'\n", (int)len, (const char *)buf);
    printf("Send: '%.*s'\n", (int)len, (const char *)buf);
    aiotp_transport_write(t, buf, len);
    printf("Close the client socket\n");
    aiotp_transport_close(t);
    return 0;
}

static int es_connection_lost(aiotp_transport *t, void *data, int status)
{
    (void)t;
    (void)data;
    fflush(stdout);
    if (status != 0) {
        fprintf(stderr, "connection lost: %s (%s)\n", aiotp_strerror(status),
                aiotp_err_name(status));
    }
    if (remaining > 0 && --remaining == 0) {
        aiotp_server_close(the_server);
    }
    return 0;
}

static const aiotp_protocol echo_server_protocol = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = es_connection_made,
    .data_received = es_data_received,
    .connection_lost = es_connection_lost,
};

static int echo_server_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &echo_server_protocol;
    *data = NULL;
    return 0;
}

/* A handshake that fails has no protocol to tell: debug mode reports it here. */
static void on_exception(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)loop;
    (void)arg;
    fprintf(stderr, "%s: %s\n", ctx->message, aiotp_err_name(ctx->status));
    if (remaining > 0 && ctx->server == NULL && --remaining == 0) {
        aiotp_server_close(the_server);
    }
}

static void on_listening(void *arg, int status, aiotp_server *server)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    (void)arg;
    if (status != 0) {
        fprintf(stderr, "create_server failed: %s\n", aiotp_strerror(status));
        exit(1);
    }
    the_server = server;
    aiotp_server_get_sockname(server, 0, (struct sockaddr *)&ss, &len);
    printf("listening on %d\n", example_port_of((struct sockaddr *)&ss));
    fflush(stdout);
}

/* "h2,http/1.1" into a list (at most 8 names; the string is modified). */
static size_t split_alpn(char *s, const char **names)
{
    size_t n = 0;
    char *tok = strtok(s, ",");
    while (tok != NULL && n < 8) {
        names[n++] = tok;
        tok = strtok(NULL, ",");
    }
    return n;
}

int main(int argc, char **argv)
{
    aiotp_loop *loop;
    aiotp_tls_context *ctx = NULL;
    aiotp_server_options opts;
    const char *cert = NULL;
    const char *key = NULL;
    const char *client_ca = NULL;
    char *alpn = NULL;
    aiotp_tls_version version = AIOTP_TLS_VERSION_ANY;
    int port = 8888;
    int i;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            remaining = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc) {
            cert = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key = argv[++i];
        } else if (strcmp(argv[i], "--client-ca") == 0 && i + 1 < argc) {
            client_ca = argv[++i];
        } else if (strcmp(argv[i], "--alpn") == 0 && i + 1 < argc) {
            alpn = argv[++i];
        } else if (strcmp(argv[i], "--tls12") == 0) {
            version = AIOTP_TLS_VERSION_1_2;
        } else if (strcmp(argv[i], "--tls13") == 0) {
            version = AIOTP_TLS_VERSION_1_3;
        } else if (strcmp(argv[i], "--info") == 0) {
            info = 1;
        } else {
            port = atoi(argv[i]);
        }
    }
    if (cert == NULL) {
        fprintf(stderr, "usage: %s PORT --cert CHAIN.pem --key KEY.pem [...]\n", argv[0]);
        return 2;
    }
    rc = aiotp_tls_context_new(&ctx, AIOTP_TLS_SERVER);
    if (rc == 0) {
        rc = aiotp_tls_context_load_cert_chain(ctx, cert, key);
    }
    if (rc == 0 && version != AIOTP_TLS_VERSION_ANY) {
        rc = aiotp_tls_context_set_versions(ctx, version, version);
    }
    if (rc == 0 && client_ca != NULL) {
        rc = aiotp_tls_context_load_verify_locations(ctx, client_ca, NULL);
        if (rc == 0) {
            rc = aiotp_tls_context_set_verify(ctx, AIOTP_TLS_VERIFY_REQUIRED);
        }
    }
    if (rc == 0 && alpn != NULL) {
        const char *names[8];
        size_t n = split_alpn(alpn, names);
        rc = aiotp_tls_context_set_alpn_protocols(ctx, names, n);
    }
    if (rc != 0) {
        fprintf(stderr, "TLS context: %s\n", aiotp_strerror(rc));
        return 1;
    }
    rc = aiotp_loop_create(&loop, NULL);
    if (rc != 0) {
        return 1;
    }
    aiotp_loop_set_debug(loop, true); /* failed handshakes are reported (TLS-SRV-2) */
    aiotp_loop_set_exception_handler(loop, on_exception, NULL);
    aiotp_server_options_init(&opts);
    opts.tls = ctx;
    rc = aiotp_loop_create_server(loop, echo_server_factory, NULL, "127.0.0.1", port, &opts,
                                  on_listening, NULL);
    aiotp_tls_context_free(ctx); /* the server keeps it */
    if (rc != 0) {
        fprintf(stderr, "create_server: %s\n", aiotp_strerror(rc));
        return 1;
    }
    while (the_server == NULL) {
        if (aiotp_loop_run_once(loop) != 0) {
            return 1;
        }
    }
    rc = aiotp_server_serve_forever(the_server);
    aiotp_loop_free(loop);
    return rc == 0 ? 0 : 1;
}
