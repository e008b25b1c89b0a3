/*
 * examples/udp_echo_server.c - the documentation's "UDP Echo Server": one protocol
 * instance serves every client; each datagram is printed and sent back to its sender.
 *
 *   udp_echo_server [PORT] [--count N]   (default 9999; 0 picks a free port; prints
 *                                         "listening on PORT" once ready; with --count N
 *                                         it closes after echoing N datagrams)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/aiotp.h"
#include "example_util.h"

static int remaining = -1; /* datagrams to echo before closing */

static int es_datagram_received(aiotp_transport *t, void *data, const void *buf, size_t len,
                                const struct sockaddr *addr, socklen_t addrlen)
{
    char from[128];
    aiotp_extra x;
    (void)data;
    x.kind = addr != NULL ? AIOTP_EXTRA_ADDR : AIOTP_EXTRA_NONE;
    x.u.addr.addr = addr;
    x.u.addr.len = addrlen;
    example_format_addr(&x, from, sizeof(from));
    printf("Received '%.*s' from %s\n", (int)len, (const char *)buf, from);
    printf("Send '%.*s' to %s\n", (int)len, (const char *)buf, from);
    aiotp_transport_sendto(t, buf, len, addr, addrlen);
    if (remaining > 0 && --remaining == 0) {
        aiotp_transport_close(t); /* the echo is flushed first */
    }
    return 0;
}

static int es_connection_lost(aiotp_transport *t, void *data, int status)
{
    (void)data;
    if (status != 0) {
        fprintf(stderr, "connection lost: %s\n", aiotp_strerror(status));
    }
    aiotp_loop_stop(aiotp_transport_get_loop(t));
    return 0;
}

static const aiotp_protocol echo_server_protocol = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_DATAGRAM,
    .datagram_received = es_datagram_received,
    .connection_lost = es_connection_lost,
};

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &echo_server_protocol;
    *data = NULL;
    return 0;
}

static void on_endpoint(void *arg, int status, aiotp_transport *t)
{
    const aiotp_extra *x;
    (void)arg;
    if (status != 0) {
        fprintf(stderr, "create_datagram_endpoint failed: %s\n", aiotp_strerror(status));
        exit(1);
    }
    x = aiotp_transport_get_extra_info(t, "sockname", NULL);
    printf("listening on %d\n", example_port_of(x->u.addr.addr));
}

int main(int argc, char **argv)
{
    aiotp_loop *loop;
    int port = 9999;
    int i;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            remaining = atoi(argv[++i]);
        } else {
            port = atoi(argv[i]);
        }
    }
    printf("Starting UDP server\n");
    rc = aiotp_loop_create(&loop, NULL);
    if (rc == 0) {
        rc = aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", port, NULL,
                                                 0, NULL, on_endpoint, NULL);
    }
    if (rc != 0) {
        fprintf(stderr, "create_datagram_endpoint: %s\n", aiotp_strerror(rc));
        return 1;
    }
    rc = aiotp_loop_run(loop); /* until connection_lost stops it */
    aiotp_loop_free(loop);
    return rc == 0 ? 0 : 1;
}
