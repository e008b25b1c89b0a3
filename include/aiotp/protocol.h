/**
 * @file
 * @brief Protocols as const callback tables (BaseProtocol, Protocol, BufferedProtocol).
 *
 * A protocol instance is a pair (table, data): a `const aiotp_protocol *` shared by all
 * connections of that kind, and a `void *` that belongs to one connection. Every
 * callback receives the transport and that data pointer.
 *
 * Signalling failure (the analogue of raising an exception): every callback returns an
 * int. 0 (or, for eof_received, any value >= 0) means success; a negative value means
 * the callback failed and is used as the error status. What the transport does then is
 * what CPython 3.11 does when the Python method raises (spec/rules.md, PROTO-*):
 *   data_received, eof_received, get_buffer, buffer_updated fail
 *       -> exception handler "Fatal error: protocol.<name>() call failed.", then the
 *          transport is aborted and connection_lost(status) follows;
 *   connection_made, connection_lost fail
 *       -> exception handler only; the transport carries on (connection_lost: the
 *          socket is closed anyway);
 *   pause_writing, resume_writing fail
 *       -> exception handler "protocol.pause_writing() failed" / "...resume_writing()
 *          failed"; the paused flag keeps its new value; the transport carries on;
 *   datagram_received, error_received fail (datagram transports)
 *       -> exception handler "Exception in callback protocol.datagram_received()" /
 *          "...error_received()"; the transport stays open (CPython 3.11 does the same;
 *          the opposite of data_received on a stream).
 *
 * A NULL entry means the documented default: do nothing and succeed; for eof_received,
 * return 0 ("false": the transport closes itself). get_buffer has no default and is
 * required for #AIOTP_PROTOCOL_BUFFERED.
 *
 * **When callbacks run.** connection_made first and once, in the pass after the
 * transport is made; connection_lost last and once, always from the loop (a later pass,
 * or the drain that sent the last byte), never inside a transport method.
 * data_received, eof_received, get_buffer, buffer_updated and resume_writing run from
 * the loop when the socket is ready. pause_writing is the one callback that may run
 * inside a transport method: inside aiotp_transport_write(), writelines() or
 * set_write_buffer_limits() called by the protocol itself or by anyone else. Every
 * callback may call any transport, loop or server function (re-entrancy is allowed);
 * aiotp_loop_free() and aiotp_loop_run() are refused inside them.
 */
#ifndef AIOTP_PROTOCOL_H
#define AIOTP_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "aiotp/export.h"
#include "aiotp/loop.h"

AIOTP_BEGIN_DECLS

/** Which receive path the transport uses with a table. */
typedef enum aiotp_protocol_kind {
    AIOTP_PROTOCOL_STREAMING = 1, /**< Protocol: data_received(data) (stream transports) */
    AIOTP_PROTOCOL_BUFFERED = 2,  /**< BufferedProtocol: get_buffer + buffer_updated (streams) */
    AIOTP_PROTOCOL_DATAGRAM = 3   /**< DatagramProtocol: datagram_received + error_received */
} aiotp_protocol_kind;

/**
 * BaseProtocol.connection_made: the connection is up; called first and once, in the
 * pass after the transport is made, before any data. Pausing or closing in it means
 * the socket is never read until resumed.
 * @param t the transport (valid until connection_lost has returned).
 * @param data the per-connection data.
 * @return 0, or a negative status: reported to the exception handler, the transport
 *         carries on.
 */
typedef int (*aiotp_connection_made_fn)(aiotp_transport *t, void *data);
/**
 * BaseProtocol.connection_lost: the connection is gone; called last and once, from the
 * loop (never inside a transport method). The socket is still open during the call and
 * closed after it; afterwards the transport pointer is valid only if retained. The
 * place to free per-connection data.
 * @param t the transport.
 * @param data the per-connection data.
 * @param status 0 for a regular close/EOF/abort (CPython's None), else the error.
 * @return 0, or a negative status: reported to the exception handler.
 */
typedef int (*aiotp_connection_lost_fn)(aiotp_transport *t, void *data, int status);
/**
 * BaseProtocol.pause_writing: the write buffer went over the high-water mark. May run
 * synchronously inside aiotp_transport_write(), writelines() or
 * set_write_buffer_limits(), i.e. inside the caller's own call. Called at most once
 * until the next resume_writing.
 * @param t the transport.
 * @param data the per-connection data.
 * @return 0, or a negative status: reported to the exception handler; the transport
 *         counts as paused anyway.
 */
typedef int (*aiotp_pause_writing_fn)(aiotp_transport *t, void *data);
/**
 * BaseProtocol.resume_writing: the buffer drained to the low-water mark (with low 0:
 * empty); called from the loop, alternating with pause_writing. Never after abort().
 * @param t the transport.
 * @param data the per-connection data.
 * @return 0, or a negative status: reported to the exception handler.
 */
typedef int (*aiotp_resume_writing_fn)(aiotp_transport *t, void *data);
/**
 * Protocol.data_received: bytes arrived, in order.
 * @param t the transport.
 * @param data the per-connection data.
 * @param buf the bytes; non-empty and valid only during the call.
 * @param len their number (> 0).
 * @return 0, or a negative status: fatal (exception handler, then the transport is
 *         aborted and connection_lost(status) follows).
 */
typedef int (*aiotp_data_received_fn)(aiotp_transport *t, void *data, const void *buf,
                                      size_t len);
/**
 * Protocol and BufferedProtocol.eof_received: the peer closed its write side; called
 * at most once.
 * @param t the transport.
 * @param data the per-connection data.
 * @return > 0 to keep the transport open (half-closed: it can still write), 0 to let
 *         the transport close itself (after flushing what is buffered), < 0 on failure
 *         (fatal, as data_received).
 */
typedef int (*aiotp_eof_received_fn)(aiotp_transport *t, void *data);
/**
 * BufferedProtocol.get_buffer: supply the buffer the next receive goes into.
 * @param t the transport.
 * @param data the per-connection data.
 * @param sizehint the recommended minimum size; -1 means any size.
 * @param buf receives the buffer; it must stay valid until buffer_updated (or the next
 *        callback) returns.
 * @param len receives its size; a zero-size buffer is an error (#AIOTP_EEMPTYBUF).
 * @return 0, or a negative status (fatal, as data_received).
 */
typedef int (*aiotp_get_buffer_fn)(aiotp_transport *t, void *data, ptrdiff_t sizehint,
                                   void **buf, size_t *len);
/**
 * BufferedProtocol.buffer_updated: bytes were received into the last buffer.
 * @param t the transport.
 * @param data the per-connection data.
 * @param nbytes how many (> 0), written at the start of the last buffer.
 * @return 0, or a negative status (fatal, as data_received).
 */
typedef int (*aiotp_buffer_updated_fn)(aiotp_transport *t, void *data, size_t nbytes);
/**
 * DatagramProtocol.datagram_received: one datagram arrived.
 * @param t the transport.
 * @param data the per-connection data.
 * @param buf the datagram, valid only during the call.
 * @param len its length (0 is possible: an empty datagram).
 * @param addr the sender's address, valid only during the call (NULL when the sender has
 *        no address, e.g. an unnamed Unix socket).
 * @param addrlen its length (0 with addr NULL).
 * @return 0, or a negative status: reported to the exception handler; the transport
 *         stays open.
 */
typedef int (*aiotp_datagram_received_fn)(aiotp_transport *t, void *data, const void *buf,
                                          size_t len, const struct sockaddr *addr,
                                          socklen_t addrlen);
/**
 * DatagramProtocol.error_received: a send or a receive failed; the transport stays open.
 * @param t the transport.
 * @param data the per-connection data.
 * @param status the error (e.g. -ECONNREFUSED after an ICMP port unreachable on a
 *        connected socket, -EMSGSIZE for a datagram the kernel refused).
 * @return 0, or a negative status: reported to the exception handler; the transport
 *         stays open.
 */
typedef int (*aiotp_error_received_fn)(aiotp_transport *t, void *data, int status);

/**
 * A protocol: a const table of callbacks, shared by every connection of that kind.
 * Write it with designated initializers; NULL entries take the defaults above.
 */
struct aiotp_protocol {
    size_t size;              /**< sizeof(aiotp_protocol): versions the table */
    aiotp_protocol_kind kind; /**< which receive path the transport uses */
    aiotp_connection_made_fn connection_made; /**< BaseProtocol.connection_made */
    aiotp_connection_lost_fn connection_lost; /**< BaseProtocol.connection_lost */
    aiotp_pause_writing_fn pause_writing;     /**< BaseProtocol.pause_writing */
    aiotp_resume_writing_fn resume_writing;   /**< BaseProtocol.resume_writing */
    aiotp_data_received_fn data_received;   /**< STREAMING only */
    aiotp_eof_received_fn eof_received;     /**< STREAMING and BUFFERED */
    aiotp_get_buffer_fn get_buffer;         /**< BUFFERED only, required */
    aiotp_buffer_updated_fn buffer_updated; /**< BUFFERED only */
    /* ---- since version 0.2 (tables whose size is AIOTP_PROTOCOL_SIZE_V1 end above) ---- */
    aiotp_datagram_received_fn datagram_received; /**< DATAGRAM only (since 0.2) */
    aiotp_error_received_fn error_received;       /**< DATAGRAM only (since 0.2) */
};

/**
 * Size of a table of the first layout (everything up to buffer_updated).
 *
 * Versioning: `size` is sizeof(aiotp_protocol) of the caller's build. A table of the first
 * layout (size == AIOTP_PROTOCOL_SIZE_V1) is still accepted for the STREAMING and
 * BUFFERED kinds: the fields after its end are never read. A DATAGRAM table must have the
 * current size. Any other size is refused (#AIOTP_EINVAL).
 */
#define AIOTP_PROTOCOL_SIZE_V1 (offsetof(aiotp_protocol, datagram_received))

/**
 * Protocol factory: called once per connection; stores the table and the
 * per-connection data. Returning a negative value refuses the connection (the socket is
 * closed and the error reported as the operation's status).
 * @param factory_arg the argument given with the factory.
 * @param proto receives the table.
 * @param data receives the per-connection data.
 * @return 0, or a negative status that refuses the connection.
 */
typedef int (*aiotp_protocol_factory_fn)(void *factory_arg, const aiotp_protocol **proto,
                                         void **data);

/**
 * Check a table on its own. Whether a transport takes a table of that kind is checked
 * where the table is used: a table of the wrong kind is refused with #AIOTP_EPROTOKIND.
 * @param proto the table.
 * @return 0, or #AIOTP_EINVAL (NULL, wrong size, unknown kind, BUFFERED without
 *         get_buffer, DATAGRAM of the first layout).
 */
int aiotp_protocol_validate(const aiotp_protocol *proto);

AIOTP_END_DECLS

#endif /* AIOTP_PROTOCOL_H */
