/*
 * examples/tcp_echo_server.c - the documentation's "TCP Echo Server": for each
 * connection, print the peer, echo what arrives, then close the connection.
 *
 *   tcp_echo_server [PORT]      (default 8888; 0 picks a free port; prints "listening on
 *                                PORT" once ready; stops after --count N connections)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/aiotp.h"
#include "example_util.h"

typedef struct echo_server_conn {
    aiotp_transport *transport;
} echo_server_conn;

static int remaining = -1; /* connections to serve before closing the server */
static aiotp_server *the_server;

static int es_connection_made(aiotp_transport *t, void *data)
{
    echo_server_conn *c = data;
    char peer[128];
    example_format_addr(aiotp_transport_get_extra_info(t, "peername", NULL), peer, sizeof(peer));
    printf("Connection from %s\n", peer);
    c->transport = t;
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
    free(data);
    fflush(stdout);
    if (status != 0) {
        fprintf(stderr, "connection lost: %s\n", aiotp_strerror(status));
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
    *data = calloc(1, sizeof(echo_server_conn));
    if (*data == NULL) {
        return AIOTP_ENOMEM;
    }
    *proto = &echo_server_protocol;
    return 0;
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

int main(int argc, char **argv)
{
    aiotp_loop *loop;
    int port = 8888;
    int i;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it is printed, also into a pipe */
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            remaining = atoi(argv[++i]);
        } else {
            port = atoi(argv[i]);
        }
    }
    rc = aiotp_loop_create(&loop, NULL);
    if (rc != 0) {
        fprintf(stderr, "loop: %s\n", aiotp_strerror(rc));
        return 1;
    }
    rc = aiotp_loop_create_server(loop, echo_server_factory, NULL, "127.0.0.1", port, NULL,
                                  on_listening, NULL);
    if (rc != 0) {
        fprintf(stderr, "create_server: %s\n", aiotp_strerror(rc));
        return 1;
    }
    /* run until the listening socket exists, then serve until closed */
    while (the_server == NULL) {
        if (aiotp_loop_run_once(loop) != 0) {
            return 1;
        }
    }
    rc = aiotp_server_serve_forever(the_server);
    aiotp_loop_free(loop);
    return rc == 0 ? 0 : 1;
}
