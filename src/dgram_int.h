/*
 * src/dgram_int.h - layout of a datagram transport (UDP and Unix datagram sockets) and
 * the internal interface of the loop method that creates them (src/endpoint.c).
 *
 * Layer 3 (spec/architecture.md): a transport kind, on the transport base. Its state is
 * core/dgram_sm.h, its send queue's accounting core/dgq.h, its flow control core/flow.h
 * (the module the stream transport uses).
 */
#ifndef AIOTP_DGRAM_INT_H
#define AIOTP_DGRAM_INT_H

#include <sys/socket.h>

#include "core/dgq.h"
#include "core/dgram_sm.h"
#include "core/flow.h"
#include "transport_int.h"

/* Largest datagram sendto() takes (and the receive size): AIOTP__READ_MAX, 256 KiB. */
#define AIOTP__DGRAM_MAX AIOTP__READ_MAX
/* DGRAM-RECV-1 (DEV-70): at most this many receives per read event, stopping at EAGAIN,
   an error, or when the transport no longer delivers (paused, closing, closed). */
#define AIOTP__DGRAM_RECV_BATCH 16

typedef struct aiotp__dgram {
    aiotp_transport base;        /* the transport base (and the loop object header): first */
    int fd;                      /* the socket; -1 once closed */
    int family;                  /* AF_INET, AF_INET6, AF_UNIX */

    aiotp__dgram_state st;       /* all lifecycle state (core/dgram_sm.h) */
    aiotp__flow flow;            /* watermarks and paused flag (core/flow.h) */
    aiotp__dgq q;                /* send-queue accounting (core/dgq.h) */
    unsigned char *qbuf;         /* the queue's block, q.cap bytes (NULL until needed) */

    int lost_status;             /* status for the scheduled connection_lost */
    bool reader_on;              /* registered for reading with the loop */
    bool writer_on;              /* registered for writing with the loop */
    unsigned promised;           /* ready-queue entries still reserved */
    aiotp_connect_cb done_cb;    /* completion to call after connection_made */
    void *done_arg;

    bool connected;              /* connect()ed: send() goes to the peer */
    bool has_fixed;              /* a remote address was given (connected or broadcast) */
    struct sockaddr_storage fixed_addr; /* that address: sendto must use it or none */
    socklen_t fixed_len;
    struct sockaddr_storage peer_addr;
    struct sockaddr_storage sock_addr;
    aiotp_extra x_peer;          /* "peername": the connected peer, NONE if not connected */
    aiotp_extra x_sock;          /* "sockname" */
    aiotp_extra x_fd;            /* "socket" */
    uint64_t dropped_sends;      /* sendto() calls refused after close */
} aiotp__dgram;

/*
 * Create a datagram transport for a non-blocking SOCK_DGRAM socket. `fixed` (may be NULL)
 * is the remote address given to the endpoint; `connected` tells whether the socket was
 * connect()ed to it. Schedules connection_made (then done_cb) for the next pass. On
 * failure nothing is scheduled and fd is NOT closed; a protocol table the datagram
 * transport does not take is refused (AIOTP_EINVAL, AIOTP_EPROTOKIND) and `why` says why.
 */
int aiotp__dgram_create(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *pdata,
                        const struct sockaddr *fixed, socklen_t fixed_len, bool connected,
                        aiotp_connect_cb done_cb, void *done_arg, aiotp_transport **out,
                        const char **why);

/* The datagram transport behind t, or NULL if t is not one. */
aiotp__dgram *aiotp__dgram_of(aiotp_transport *t);

#endif /* AIOTP_DGRAM_INT_H */
