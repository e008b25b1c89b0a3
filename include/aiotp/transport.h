/*
 * aiotp/transport.h - transports (BaseTransport, ReadTransport, WriteTransport,
 * Transport, DatagramTransport).
 *
 * One opaque type for every kind of transport, as asyncio's transports share
 * BaseTransport; aiotp_transport_kind() tells the kind. A method that the kind does not
 * have (write() on a datagram transport, sendto() on a stream) returns AIOTP_ENOTSUP and
 * changes nothing; spec/transports.md has the table of which kind has which method.
 *
 * Transports are created by the loop (aiotp/server.h) and owned by it. A transport
 * stays valid until its connection_lost callback has returned; after that the loop
 * frees it at the end of the iteration, unless the user holds a reference taken with
 * aiotp_transport_retain(). While such a reference is held every method stays callable
 * and behaves as documented for a closed transport (spec/stream-transport.md).
 */
#ifndef AIOTP_TRANSPORT_H
#define AIOTP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "aiotp/loop.h"
#include "aiotp/protocol.h"

/* ---- kind ------------------------------------------------------------------------ */

enum aiotp_transport_kinds {
    AIOTP_TRANSPORT_STREAM = 1,  /* TCP or Unix stream socket: Transport */
    AIOTP_TRANSPORT_DATAGRAM = 2 /* UDP or Unix datagram socket: DatagramTransport */
};

/* The kind of t (AIOTP_TRANSPORT_*), 0 for NULL. */
int aiotp_transport_kind(const aiotp_transport *t);

/* ---- extra info ---------------------------------------------------------------- */

typedef enum aiotp_extra_kind {
    AIOTP_EXTRA_NONE = 0, /* the information exists but is unavailable (CPython None) */
    AIOTP_EXTRA_ADDR = 1, /* a socket address */
    AIOTP_EXTRA_FD = 2    /* a file descriptor (-1 once the transport is closed) */
} aiotp_extra_kind;

typedef struct aiotp_extra {
    aiotp_extra_kind kind;
    union {
        struct {
            const struct sockaddr *addr;
            socklen_t len;
        } addr;
        int fd;
    } u;
} aiotp_extra;

/*
 * Return information about the transport: "peername", "sockname" (AIOTP_EXTRA_ADDR, or
 * AIOTP_EXTRA_NONE when the system call failed) and "socket" (AIOTP_EXTRA_FD). Unknown
 * names, or names this transport kind does not provide, return `dflt` (may be NULL).
 * The pointer stays valid as long as the transport.
 */
const aiotp_extra *aiotp_transport_get_extra_info(const aiotp_transport *t,
                                                  const char *name,
                                                  const aiotp_extra *dflt);

/* ---- BaseTransport --------------------------------------------------------------- */

/* Close: stop reading now, flush buffered data, then connection_lost(0). Returns 0, or
   AIOTP_ECLOSED if already closing (no effect). */
int aiotp_transport_close(aiotp_transport *t);
bool aiotp_transport_is_closing(const aiotp_transport *t);
/* Switch protocol; the new one gets no connection_made. Returns 0, AIOTP_EINVAL (bad
   table) or AIOTP_ECLOSED (after connection_lost). */
int aiotp_transport_set_protocol(aiotp_transport *t, const aiotp_protocol *proto,
                                 void *data);
/* Current protocol table (NULL after connection_lost); *data receives its data. */
const aiotp_protocol *aiotp_transport_get_protocol(const aiotp_transport *t, void **data);
aiotp_loop *aiotp_transport_get_loop(const aiotp_transport *t);

/* ---- ReadTransport ----------------------------------------------------------------- */

bool aiotp_transport_is_reading(const aiotp_transport *t);
/* Idempotent; also when closing or closed. Return 0. */
int aiotp_transport_pause_reading(aiotp_transport *t);
int aiotp_transport_resume_reading(aiotp_transport *t);

/* ---- WriteTransport ---------------------------------------------------------------- */

/* Close now: drop buffered data, connection_lost(0) next iteration. Returns 0, or
   AIOTP_ECLOSED if connection_lost is already scheduled or delivered. */
int aiotp_transport_abort(aiotp_transport *t);
bool aiotp_transport_can_write_eof(const aiotp_transport *t);
size_t aiotp_transport_get_write_buffer_size(const aiotp_transport *t);
/* (low, high), in this order, as CPython. */
int aiotp_transport_get_write_buffer_limits(const aiotp_transport *t, size_t *low,
                                            size_t *high);

/* "Not given" for set_write_buffer_limits (Python's None). */
#define AIOTP_LIMIT_NONE INT64_MIN
/*
 * Set the watermarks. AIOTP_LIMIT_NONE for a limit not given. Derivation as CPython:
 * neither given -> high 65536, low 16384; only high -> low = high / 4; only low ->
 * high = 4 * low. Then 0 <= low <= high must hold, else AIOTP_EINVAL and nothing
 * changes. If the buffer is now over high, pause_writing is called before returning.
 */
int aiotp_transport_set_write_buffer_limits(aiotp_transport *t, int64_t high, int64_t low);

/*
 * Write: never blocks; sends at once when the buffer is empty and queues the rest.
 * Returns 0 when the data was accepted (len 0: nothing happens), AIOTP_EINVAL (data NULL
 * with len > 0), AIOTP_ESTATE (after write_eof, even for len 0), AIOTP_ECLOSED (the
 * transport is closed or connection_lost is scheduled: data dropped; also when this
 * call's send failed with an error that would read as one of the codes below, e.g. a
 * kernel ENOMEM or EINVAL: connection_lost(that error) follows, WRITE-WRITE-10),
 * AIOTP_ETOOBIG / AIOTP_ENOMEM (nothing was accepted, the transport is unchanged; except
 * WRITE-WRITE-6: when the kernel had already taken part of the data and the rest cannot
 * be queued, the transport fails with AIOTP_ENOMEM), or the send error that made the
 * transport fail (-EPIPE, -ECONNRESET...; connection_lost(that error) follows).
 */
int aiotp_transport_write(aiotp_transport *t, const void *data, size_t len);

typedef struct aiotp_buf {
    const void *base;
    size_t len;
} aiotp_buf;

/* Write several buffers: the same as one write() of their concatenation, without the
   copy. Same returns as write(); AIOTP_EINVAL if bufs is NULL with n > 0 or any entry
   has base NULL with len > 0 (then nothing is written). */
int aiotp_transport_writelines(aiotp_transport *t, const aiotp_buf *bufs, size_t n);

/* Close the write side after the buffer is flushed. Returns 0 (also when already done
   or closing: no effect; also when shutdown() says ENOTCONN), or the shutdown() error,
   which also fails the transport: connection_lost(that error) follows (WRITE-EOF-4). */
int aiotp_transport_write_eof(aiotp_transport *t);

/* ---- DatagramTransport ---------------------------------------------------------------- */

/*
 * Send one datagram of len bytes to addr (addr NULL: the connected peer). Never blocks:
 * sent at once when nothing is queued, otherwise queued (a copy) behind the datagrams the
 * kernel did not take yet; the write-buffer size counts the queued payload bytes and the
 * write-buffer limits and pause_writing/resume_writing apply to it. Returns 0 when the
 * datagram was accepted (also when the send failed with an OS error: error_received(status)
 * has then been called, inside this call, and the datagram is dropped) or when len is 0
 * (nothing is sent), AIOTP_EINVAL (data NULL with len > 0; addr NULL on an unconnected
 * transport; an addr other than the connected peer; a bad address length or family),
 * AIOTP_ETOOBIG (more than 256 KiB), AIOTP_ECLOSED (closing or closed: dropped),
 * AIOTP_ENOMEM (could not be queued: nothing changed), AIOTP_ENOTSUP (not a datagram
 * transport).
 */
int aiotp_transport_sendto(aiotp_transport *t, const void *data, size_t len,
                           const struct sockaddr *addr, socklen_t addrlen);

/* ---- lifetime ------------------------------------------------------------------------ */

/* Keep the transport object alive after connection_lost (see above). */
void aiotp_transport_retain(aiotp_transport *t);
void aiotp_transport_release(aiotp_transport *t);

#endif /* AIOTP_TRANSPORT_H */
