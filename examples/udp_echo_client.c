/*
 * examples/udp_echo_client.c - the documentation's "UDP Echo Client": sends one datagram
 * to the server, prints the answer and closes.
 *
 *   udp_echo_client [PORT]     (default 9999)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/aiotp.h"

static const char message[] = "Hello World!";

static int ec_connection_made(aiotp_transport *t, void *data)
{
    (void)data;
    printf("Send: %s\n", message);
    aiotp_transport_sendto(t, message, strlen(message), NULL, 0);
    return 0;
}

static int ec_datagram_received(aiotp_transport *t, void *data, const void *buf, size_t len,
                                const struct sockaddr *addr, socklen_t addrlen)
{
    (void)data;
    (void)addr;
    (void)addrlen;
    printf("Received: %.*s\n", (int)len, (const char *)buf);
    printf("Close the socket\n");
    aiotp_transport_close(t);
    return 0;
}

static int ec_error_received(aiotp_transport *t, void *data, int status)
{
    (void)t;
    (void)data;
    printf("Error received: %s\n", aiotp_strerror(status));
    return 0;
}

static int ec_connection_lost(aiotp_transport *t, void *data, int status)
{
    (void)data;
    (void)status;
    printf("Connection closed\n");
    aiotp_loop_stop(aiotp_transport_get_loop(t)); /* on_con_lost */
    return 0;
}

static const aiotp_protocol echo_client_protocol = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_DATAGRAM,
    .connection_made = ec_connection_made,
    .datagram_received = ec_datagram_received,
    .error_received = ec_error_received,
    .connection_lost = ec_connection_lost,
};

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &echo_client_protocol;
    *data = NULL;
    return 0;
}

static void on_endpoint(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    (void)t;
    if (status != 0) {
        fprintf(stderr, "create_datagram_endpoint failed: %s\n", aiotp_strerror(status));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    aiotp_loop *loop;
    int port = argc > 1 ? atoi(argv[1]) : 9999;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = aiotp_loop_create(&loop, NULL);
    if (rc == 0) {
        rc = aiotp_loop_create_datagram_endpoint(loop, factory, NULL, NULL, 0, "127.0.0.1", port,
                                                 NULL, on_endpoint, NULL);
    }
    if (rc != 0) {
        fprintf(stderr, "create_datagram_endpoint: %s\n", aiotp_strerror(rc));
        return 1;
    }
    rc = aiotp_loop_run(loop);
    aiotp_loop_free(loop);
    return rc == 0 ? 0 : 1;
}
