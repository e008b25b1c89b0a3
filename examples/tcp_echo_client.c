/*
 * examples/tcp_echo_client.c - the documentation's "TCP Echo Client": connect, send a
 * message, print what comes back, and stop when the server closes the connection.
 *
 *   tcp_echo_client [PORT [MESSAGE]]     (default 8888, "Hello World!")
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/aiotp.h"

typedef struct echo_client {
    const char *message;
    bool lost;     /* the documentation's on_con_lost future */
    int status;
} echo_client;

static int ec_connection_made(aiotp_transport *t, void *data)
{
    echo_client *c = data;
    aiotp_transport_write(t, c->message, strlen(c->message));
    printf("Data sent: '%s'\n", c->message);
    return 0;
}

static int ec_data_received(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    (void)t;
    (void)data;
    printf("Data received: '%.*s'\n", (int)len, (const char *)buf);
    return 0;
}

static int ec_connection_lost(aiotp_transport *t, void *data, int status)
{
    echo_client *c = data;
    (void)t;
    printf("The server closed the connection\n");
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
        fprintf(stderr, "create_connection failed: %s (%s)\n", aiotp_strerror(status),
                aiotp_err_name(status));
        aiotp_loop_stop(loop);
    }
}

int main(int argc, char **argv)
{
    aiotp_loop *loop;
    echo_client client = {"Hello World!", false, 0};
    int port = argc > 1 ? atoi(argv[1]) : 8888;
    int rc;

    if (argc > 2) {
        client.message = argv[2];
    }
    rc = aiotp_loop_create(&loop, NULL);
    if (rc != 0) {
        return 1;
    }
    rc = aiotp_loop_create_connection(loop, echo_client_factory, &client, "127.0.0.1", port,
                                      NULL, on_connected, loop);
    if (rc != 0) {
        fprintf(stderr, "create_connection: %s\n", aiotp_strerror(rc));
        return 1;
    }
    aiotp_loop_run(loop); /* until connection_lost (or a failed connect) stops it */
    aiotp_loop_free(loop);
    fflush(stdout);
    return connect_status == 0 && client.lost && client.status == 0 ? 0 : 1;
}
