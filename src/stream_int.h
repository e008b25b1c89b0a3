/*
 * src/stream_int.h - layout of a stream transport (TCP and Unix sockets) and the
 * internal interface used by connect.c and server.c.
 */
#ifndef AIOTP_STREAM_INT_H
#define AIOTP_STREAM_INT_H

#include <sys/socket.h>

#include "core/flow.h"
#include "core/stream_sm.h"
#include "core/wbuf.h"
#include "loop_int.h"

struct aiotp_transport {
    aiotp_loop *loop;
    aiotp_transport *next;       /* loop->transports list */
    aiotp_transport *prev;
    aiotp_transport *grave_next; /* loop->graveyard list */
    unsigned refs;               /* the loop's reference + aiotp_transport_retain() */
    uint32_t id;                 /* "t<id>" in traces */
    int fd;                      /* the socket; -1 once closed */
    int family;                  /* AF_INET, AF_INET6, AF_UNIX */

    aiotp__stream_state st;      /* all lifecycle state (core/stream_sm.h) */
    aiotp__flow flow;            /* watermarks and paused flag (core/flow.h) */
    aiotp__wbuf wb;              /* write buffer accounting (core/wbuf.h) */

    const aiotp_protocol *proto; /* NULL after connection_lost */
    void *pdata;
    aiotp_server *server;        /* accepting server, or NULL */
    int lost_status;             /* status for the scheduled connection_lost */
    bool reader_on;              /* registered for reading with the loop */
    bool writer_on;              /* registered for writing with the loop */
    unsigned promised;           /* ready-queue entries still reserved */
    aiotp_connect_cb done_cb;    /* completion to call after connection_made */
    void *done_arg;
    uint64_t dropped_writes;     /* writes dropped after the connection was lost */

    struct sockaddr_storage peer_addr;
    struct sockaddr_storage sock_addr;
    aiotp_extra x_peer;          /* "peername" */
    aiotp_extra x_sock;          /* "sockname" */
    aiotp_extra x_fd;            /* "socket" */

    uint64_t rx_total;           /* trace: bytes delivered to the protocol */
    uint32_t rx_sum;             /* trace: running FNV-1a of delivered bytes */
    uint64_t tx_total;           /* trace: bytes accepted by write */
    uint32_t tx_sum;             /* trace: running FNV-1a of accepted bytes */
};

/*
 * Create a stream transport for a connected, non-blocking socket. Schedules
 * connection_made (and then done_cb, if not NULL) for the next pass. peer may be NULL
 * (then getpeername is used). On failure nothing is scheduled and fd is NOT closed.
 */
int aiotp__stream_create(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *pdata,
                         aiotp_server *server, const struct sockaddr *peer,
                         socklen_t peer_len, aiotp_connect_cb done_cb, void *done_arg,
                         aiotp_transport **out);

/* server.c: the transport lost its connection. */
void aiotp__server_detach(aiotp_server *s);

/* FNV-1a running checksum used by traces. */
uint32_t aiotp__fnv1a(uint32_t h, const void *data, size_t len);
#define AIOTP__FNV_INIT 2166136261u

#endif /* AIOTP_STREAM_INT_H */
