/*
 * aiotp/protocol.h - protocols as const callback tables.
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
 *          failed"; the paused flag keeps its new value; the transport carries on.
 *
 * A NULL entry means the documented default: do nothing and succeed; for eof_received,
 * return 0 ("false": the transport closes itself). get_buffer has no default and is
 * required for AIOTP_PROTOCOL_BUFFERED.
 */
#ifndef AIOTP_PROTOCOL_H
#define AIOTP_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include "aiotp/export.h"
#include "aiotp/loop.h"

AIOTP_BEGIN_DECLS

typedef enum aiotp_protocol_kind {
    AIOTP_PROTOCOL_STREAMING = 1, /* Protocol: data_received(data) */
    AIOTP_PROTOCOL_BUFFERED = 2   /* BufferedProtocol: get_buffer + buffer_updated */
} aiotp_protocol_kind;

/* BaseProtocol */
typedef int (*aiotp_connection_made_fn)(aiotp_transport *t, void *data);
/* status: 0 for a regular close/EOF/abort (CPython's None), else the error */
typedef int (*aiotp_connection_lost_fn)(aiotp_transport *t, void *data, int status);
typedef int (*aiotp_pause_writing_fn)(aiotp_transport *t, void *data);
typedef int (*aiotp_resume_writing_fn)(aiotp_transport *t, void *data);
/* Protocol: `buf` is non-empty (len > 0) and valid only during the call */
typedef int (*aiotp_data_received_fn)(aiotp_transport *t, void *data, const void *buf,
                                      size_t len);
/* Protocol and BufferedProtocol: return > 0 to keep the transport open (half-closed),
   0 to let the transport close itself, < 0 on failure */
typedef int (*aiotp_eof_received_fn)(aiotp_transport *t, void *data);
/* BufferedProtocol: store a writable buffer in *buf / *len. sizehint is the recommended
   minimum size; -1 means any size. A zero-size buffer is an error (AIOTP_EEMPTYBUF). */
typedef int (*aiotp_get_buffer_fn)(aiotp_transport *t, void *data, ptrdiff_t sizehint,
                                   void **buf, size_t *len);
/* BufferedProtocol: nbytes (> 0) bytes were written at the start of the last buffer */
typedef int (*aiotp_buffer_updated_fn)(aiotp_transport *t, void *data, size_t nbytes);

struct aiotp_protocol {
    size_t size;              /* sizeof(aiotp_protocol): versions the table */
    aiotp_protocol_kind kind; /* which receive path the transport uses */
    aiotp_connection_made_fn connection_made;
    aiotp_connection_lost_fn connection_lost;
    aiotp_pause_writing_fn pause_writing;
    aiotp_resume_writing_fn resume_writing;
    aiotp_data_received_fn data_received;   /* STREAMING only */
    aiotp_eof_received_fn eof_received;
    aiotp_get_buffer_fn get_buffer;         /* BUFFERED only, required */
    aiotp_buffer_updated_fn buffer_updated; /* BUFFERED only */
};

/*
 * Protocol factory: called once per connection; stores the table and the
 * per-connection data. Returning a negative value refuses the connection (the socket is
 * closed and the error reported as the operation's status).
 */
typedef int (*aiotp_protocol_factory_fn)(void *factory_arg, const aiotp_protocol **proto,
                                         void **data);

/* Check a table: 0, or AIOTP_EINVAL (NULL, wrong size, unknown kind, BUFFERED without
   get_buffer). */
int aiotp_protocol_validate(const aiotp_protocol *proto);

AIOTP_END_DECLS

#endif /* AIOTP_PROTOCOL_H */
