/*
 * src/stream_int.h - layout of a stream transport (TCP and Unix sockets) and the
 * internal interface used by the loop methods that create them (connect.c, server.c).
 *
 * Layer 3 (spec/architecture.md): a transport kind, on the transport base.
 */
#ifndef AIOTP_STREAM_INT_H
#define AIOTP_STREAM_INT_H

#include <sys/socket.h>

#include "bq_int.h"
#include "core/flow.h"
#include "core/stream_sm.h"
#include "core/wbuf.h"
#include "transport_int.h"

typedef struct aiotp__stream {
    aiotp_transport base;        /* the transport base (and the loop object header): first */
    int fd;                      /* the socket; -1 once closed */
    int family;                  /* AF_INET, AF_INET6, AF_UNIX */

    aiotp__stream_state st;      /* all lifecycle state (core/stream_sm.h) */
    aiotp__flow flow;            /* watermarks and paused flag (core/flow.h) */
    aiotp__wbuf wb;              /* write buffer accounting (core/wbuf.h) */
    aiotp__bq bq;                /* borrowed writes (src/bq_int.h, DEV-81) */

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
    uint32_t rx_sum;             /* trace: running CRC-32 of delivered bytes */
    uint64_t tx_total;           /* trace: bytes accepted by write */
    uint32_t tx_sum;             /* trace: running CRC-32 of accepted bytes */
} aiotp__stream;

/*
 * Create a stream transport for a connected, non-blocking socket. Schedules
 * connection_made (and then done_cb, if not NULL) for the next pass. peer may be NULL
 * (then getpeername is used). On failure nothing is scheduled and fd is NOT closed.
 * A protocol table that the stream transport does not take is refused (AIOTP_EINVAL,
 * AIOTP_EPROTOKIND) and `why` (may be NULL) says why.
 */
int aiotp__stream_create(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *pdata,
                         const struct sockaddr *peer, socklen_t peer_len,
                         aiotp_connect_cb done_cb, void *done_arg, aiotp_transport **out,
                         const char **why);

/* The stream transport behind t, or NULL if t is not a stream transport. */
aiotp__stream *aiotp__stream_of(aiotp_transport *t);

#endif /* AIOTP_STREAM_INT_H */
