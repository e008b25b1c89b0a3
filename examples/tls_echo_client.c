/*
 * examples/tls_echo_client.c - the documentation's "TCP Echo Client" over TLS: connect,
 * send a message, print what comes back, stop when the server closes the connection. The
 * same program as tcp_echo_client.c with a client context in the options (aiotp/tls.h).
 *
 *   tls_echo_client PORT --ca CA.pem [--server-hostname NAME] [--message TEXT] [--line]
 *                   [--alpn P1,P2] [--tls12 | --tls13] [--cert C.pem --key K.pem]
 *                   [--close-on-reply] [--info]
 *
 * The name checked against the server's certificate is "localhost" unless given. --line
 * ends the message with a newline; --close-on-reply closes after the first reply (for a
 * server that does not close, e.g. `openssl s_server -rev`); --info prints "TLS: VERSION
 * ALPN: NAME" once connected. Exit status 0 when the connection ended cleanly; a failed
 * handshake prints "TLS handshake failed: STATUS" and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/aiotp.h"
#include "aiotp/tls.h"

typedef struct echo_client {
    const char *message;
    int line;
    int close_on_reply;
    int info;
    bool lost;
    int status;
} echo_client;

static int ec_connection_made(aiotp_transport *t, void *data)
{
    echo_client *c = data;
    if (c->info) {
        const aiotp_extra *v = aiotp_transport_get_extra_info(t, "cipher", NULL);
        const aiotp_extra *a = aiotp_transport_get_extra_info(t, "alpn_protocol", NULL);
        printf("TLS: %s ALPN: %s\n",
               v != NULL && v->kind == AIOTP_EXTRA_PTR
                   ? ((const aiotp_tls_cipher *)v->u.ptr)->version
                   : "?",
               a != NULL && a->kind == AIOTP_EXTRA_STR ? a->u.str : "none");
    }
    aiotp_transport_write(t, c->message, strlen(c->message));
    if (c->line) {
        aiotp_transport_write(t, "\n", 1);
    }
    printf("Data sent: '%s'\n", c->message);
    return 0;
}

static int ec_data_received(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    echo_client *c = data;
    if (len > 0 && ((const char *)buf)[len - 1] == '\n') {
        len--; /* (a line-oriented server's newline) */
    }
    printf("Data received: '%.*s'\n", (int)len, (const char *)buf);
    if (c->close_on_reply) {
        aiotp_transport_close(t);
    }
    return 0;
}

static int ec_connection_lost(aiotp_transport *t, void *data, int status)
{
    echo_client *c = data;
    printf("The server closed the connection\n");
    if (status != 0) {
        fprintf(stderr, "connection lost: %s\n", aiotp_err_name(status));
    }
    c->lost = true;
    c->status = status;
    aiotp_loop_stop(aiotp_transport_get_loop(t));
    return 0;
}

static const aiotp_protocol echo_client_protocol = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = ec_connection_made,
    .data_received = ec_data_received,
    .connection_lost = ec_connection_lost,
};

static int echo_client_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &echo_client_protocol;
    *data = arg;
    return 0;
}

static int connect_status = 1;

static void on_connected(void *arg, int status, aiotp_transport *t)
{
    aiotp_loop *loop = arg;
    (void)t;
    connect_status = status;
    if (status != 0) {
        /* TLS-HS-3: the protocol is told nothing; the completion says why */
        fprintf(stderr, "TLS handshake failed: %s (%s)\n", aiotp_err_name(status),
                aiotp_strerror(status));
        aiotp_loop_stop(loop);
    }
}

int main(int argc, char **argv)
{
    aiotp_loop *loop;
    aiotp_tls_context *ctx = NULL;
    aiotp_connect_options opts;
    echo_client client = {"Hello World!", 0, 0, 0, false, 0};
    const char *ca = NULL;
    const char *name = "localhost";
    const char *cert = NULL;
    const char *key = NULL;
    char *alpn = NULL;
    aiotp_tls_version version = AIOTP_TLS_VERSION_ANY;
    int port = 8888;
    int i;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc) {
            ca = argv[++i];
        } else if (strcmp(argv[i], "--server-hostname") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "--message") == 0 && i + 1 < argc) {
            client.message = argv[++i];
        } else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc) {
            cert = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key = argv[++i];
        } else if (strcmp(argv[i], "--alpn") == 0 && i + 1 < argc) {
            alpn = argv[++i];
        } else if (strcmp(argv[i], "--line") == 0) {
            client.line = 1;
        } else if (strcmp(argv[i], "--close-on-reply") == 0) {
            client.close_on_reply = 1;
        } else if (strcmp(argv[i], "--info") == 0) {
            client.info = 1;
        } else if (strcmp(argv[i], "--tls12") == 0) {
            version = AIOTP_TLS_VERSION_1_2;
        } else if (strcmp(argv[i], "--tls13") == 0) {
            version = AIOTP_TLS_VERSION_1_3;
        } else {
            port = atoi(argv[i]);
        }
    }
    rc = aiotp_tls_context_new(&ctx, AIOTP_TLS_CLIENT);
    if (rc == 0) {
        rc = ca != NULL ? aiotp_tls_context_load_verify_locations(ctx, ca, NULL)
                        : aiotp_tls_context_load_default_verify_paths(ctx);
    }
    if (rc == 0 && version != AIOTP_TLS_VERSION_ANY) {
        rc = aiotp_tls_context_set_versions(ctx, version, version);
    }
    if (rc == 0 && cert != NULL) {
        rc = aiotp_tls_context_load_cert_chain(ctx, cert, key);
    }
    if (rc == 0 && alpn != NULL) {
        const char *names[8];
        size_t n = 0;
        char *tok = strtok(alpn, ",");
        while (tok != NULL && n < 8) {
            names[n++] = tok;
            tok = strtok(NULL, ",");
        }
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
    aiotp_connect_options_init(&opts);
    opts.tls = ctx;
    opts.server_hostname = name;
    rc = aiotp_loop_create_connection(loop, echo_client_factory, &client, "127.0.0.1", port,
                                      &opts, on_connected, loop);
    aiotp_tls_context_free(ctx); /* the connection keeps it */
    if (rc != 0) {
        fprintf(stderr, "create_connection: %s\n", aiotp_strerror(rc));
        return 1;
    }
    aiotp_loop_run(loop); /* until connection_lost (or a failed handshake) stops it */
    aiotp_loop_free(loop);
    fflush(stdout);
    return connect_status == 0 && client.lost && client.status == 0 ? 0 : 1;
}
