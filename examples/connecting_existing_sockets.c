/*
 * examples/connecting_existing_sockets.c - the documentation's "Connecting Existing
 * Sockets": wait until a socket receives data, using create_connection(sock=...) with a
 * protocol.
 *
 *   rsock, wsock = socket.socketpair()
 *   transport, protocol = await loop.create_connection(lambda: MyProtocol(loop), sock=rsock)
 *   loop.call_soon(wsock.send, 'abc'.encode())
 *   await protocol.on_con_lost            # data_received prints, then closes
 *
 * Prints "Received: abc". Exit status 0 only if exactly that happened: the data arrived,
 * the protocol closed the transport and connection_lost(None) ended the loop.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aiotp/aiotp.h"

typedef struct my_protocol {
    aiotp_transport *transport;
    bool on_con_lost;  /* the documentation's on_con_lost future */
    int lost_status;
    char received[64]; /* what data_received got, for the exit status */
    size_t received_len;
} my_protocol;

static int my_connection_made(aiotp_transport *t, void *data)
{
    my_protocol *p = data;
    p->transport = t;
    return 0;
}

static int my_data_received(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    my_protocol *p = data;
    size_t room = sizeof(p->received) - p->received_len;
    (void)t;
    printf("Received: %.*s\n", (int)len, (const char *)buf);
    memcpy(p->received + p->received_len, buf, len < room ? len : room);
    p->received_len += len < room ? len : room;
    /* We are done: close the transport; connection_lost() will be called automatically. */
    aiotp_transport_close(p->transport);
    return 0;
}

static int my_connection_lost(aiotp_transport *t, void *data, int status)
{
    my_protocol *p = data;
    /* The socket has been closed */
    p->on_con_lost = true;
    p->lost_status = status;
    aiotp_loop_stop(aiotp_transport_get_loop(t));
    return 0;
}

static const aiotp_protocol my_protocol_table = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = my_connection_made,
    .data_received = my_data_received,
    .connection_lost = my_connection_lost,
};

static int my_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &my_protocol_table;
    *data = arg;
    return 0;
}

typedef struct connected {
    aiotp_loop *loop;
    int status;
    aiotp_transport *transport;
} connected;

static void on_connected(void *arg, int status, aiotp_transport *t)
{
    connected *c = arg;
    c->status = status;
    c->transport = t;
    if (status == 0) {
        /* keep the object valid after connection_lost, for the final transport.close() */
        aiotp_transport_retain(t);
    } else {
        fprintf(stderr, "create_connection failed: %s\n", aiotp_strerror(status));
        aiotp_loop_stop(c->loop);
    }
}

/* loop.call_soon(wsock.send, 'abc'.encode()) */
static void send_abc(aiotp_loop *loop, void *arg)
{
    int wsock = *(int *)arg;
    (void)loop;
    if (send(wsock, "abc", 3, 0) != 3) {
        perror("send");
    }
}

int main(void)
{
    aiotp_loop *loop;
    aiotp_connect_options opts;
    my_protocol protocol;
    connected conn = {NULL, 1, NULL};
    int sv[2];
    int rsock;
    int wsock;
    int rc;
    bool ok;

    memset(&protocol, 0, sizeof(protocol));
    rc = aiotp_loop_create(&loop, NULL);
    if (rc != 0) {
        fprintf(stderr, "loop: %s\n", aiotp_strerror(rc));
        return 1;
    }
    conn.loop = loop;
    /* Create a pair of connected sockets */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        aiotp_loop_free(loop);
        return 1;
    }
    rsock = sv[0];
    wsock = sv[1];
    /* Register the socket to wait for data. */
    aiotp_connect_options_init(&opts);
    opts.sock = rsock;
    rc = aiotp_loop_create_connection(loop, my_factory, &protocol, NULL, 0, &opts,
                                      on_connected, &conn);
    if (rc != 0) {
        fprintf(stderr, "create_connection: %s\n", aiotp_strerror(rc));
        close(rsock);
        close(wsock);
        aiotp_loop_free(loop);
        return 1;
    }
    /* Simulate the reception of data from the network. */
    rc = aiotp_loop_call_soon(loop, send_abc, &wsock, NULL);
    if (rc == 0) {
        rc = aiotp_loop_run(loop); /* until connection_lost (the on_con_lost future) */
    }
    /* finally: transport.close(); wsock.close() */
    if (conn.transport != NULL) {
        (void)aiotp_transport_close(conn.transport); /* already closed: no effect */
        aiotp_transport_release(conn.transport);
    }
    close(wsock);
    aiotp_loop_free(loop);
    fflush(stdout);

    ok = rc == 0 && conn.status == 0 && protocol.on_con_lost && protocol.lost_status == 0 &&
         protocol.received_len == 3 && memcmp(protocol.received, "abc", 3) == 0;
    return ok ? 0 : 1;
}
