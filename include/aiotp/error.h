/**
 * @file
 * @brief Error codes: negated errno values and the library's own codes.
 *
 * Every aiotp function that can fail returns an int: 0 (or a count) on success, a
 * negative code on failure. Operating-system failures are reported as the negated
 * errno value (-ECONNREFUSED, -EPIPE, ...). Failures that have no errno equivalent
 * use the library codes below, which lie in a range no errno value reaches (-4001 and
 * down). Asynchronous failures arrive as the `status` argument of a callback, never
 * through a global. If a call that takes a completion callback fails, that callback is
 * never called.
 *
 * A protocol callback signals failure the same way: it returns a negative code, any
 * errno value or library code (protocol.h says what the transport does then).
 *
 * **Names.** aiotp_err_name() gives every code a short name: a library code its name
 * without the `AIOTP_` prefix ("ECLOSED"), a negated errno value the platform's errno
 * name ("ECONNRESET"; the list is generated from the platform's `<errno.h>` when the
 * library is built, so every errno value a callback may return has its name; aliases
 * print as the name they stand for: EWOULDBLOCK as "EAGAIN"). The traces use these
 * names.
 *
 * **AIOTP_ENOTSUP is not -ENOTSUP.** #AIOTP_ENOTSUP (-4003, named "ENOTSUP") means "this
 * transport kind has no such method": the call changed nothing. The errno value
 * -ENOTSUP (on Linux equal to -EOPNOTSUPP) means the operating system refused an
 * operation, and is named "EOPNOTSUPP" (on a platform where ENOTSUP and EOPNOTSUPP
 * differ, "ENOTSUP_OS"). Their texts differ too.
 *
 * **Already done: one rule for every method.** A call that asks for something already
 * done, or already under way, changes nothing (no callback, no state change) and
 * returns 0 while the object is open, or #AIOTP_ECLOSED once it is closing or closed.
 * So the code says whether the object is still usable, never whether this call was the
 * one that did it:
 * - aiotp_transport_close() a second time: #AIOTP_ECLOSED (the first close made it
 *   closing); aiotp_transport_abort() once connection_lost is scheduled: #AIOTP_ECLOSED;
 * - aiotp_transport_write_eof() twice on an open transport: 0; after close():
 *   #AIOTP_ECLOSED;
 * - aiotp_transport_pause_reading() on a paused open transport: 0; on a closing one:
 *   #AIOTP_ECLOSED (the same for resume_reading, on every transport kind);
 * - aiotp_server_close() twice: #AIOTP_ECLOSED; aiotp_server_start_serving() on a serving
 *   server: 0, on a closed one #AIOTP_ECLOSED;
 * - aiotp_loop_close_all() while an earlier one is under way: 0 (it closes what was
 *   made since).
 *
 * A request that does something new is not "already done": write() after close() with
 * data still queued is accepted (it is sent before connection_lost, as CPython does),
 * abort() after close() drops that data, set_protocol() and set_write_buffer_limits()
 * on a closing transport take effect, and aiotp_server_close_clients() on a closed
 * server closes its remaining connections. Handles are not objects:
 * aiotp_loop_cancel() of a handle that already ran or was cancelled, and
 * aiotp_loop_cancel_op() of an operation that completed or was cancelled, return
 * #AIOTP_ENOENT. (CPython returns None in every one of these cases: the codes are the
 * C API's; rule DONE-1.)
 */
#ifndef AIOTP_ERROR_H
#define AIOTP_ERROR_H

#include <errno.h>
#include "aiotp/export.h"

AIOTP_BEGIN_DECLS

/**
 * The library's own codes: X(NAME, VALUE, "description"). One list, from which the
 * enum #aiotp_errno, aiotp_err_name() and aiotp_strerror() are generated; a program may
 * use it too, e.g. to list every library code.
 *
 * @param X a macro taking (NAME, VALUE, DESCRIPTION); NAME without the `AIOTP_` prefix.
 */
#define AIOTP_LIBRARY_ERRORS(X)                                                        \
    X(ESTATE, -4001, "operation not allowed in the current state")                    \
    X(ECLOSED, -4002, "transport is closing or closed")                               \
    X(ENOTSUP, -4003, "operation not supported by this transport")                    \
    X(ECALLBACK, -4004, "a protocol callback signalled failure")                      \
    X(EEMPTYBUF, -4005, "get_buffer() returned an empty buffer")                      \
    X(ENONAME, -4006, "host name not found")                                          \
    X(EAI_AGAIN, -4007, "temporary failure in name resolution")                       \
    X(EAI_FAIL, -4008, "non-recoverable failure in name resolution")                  \
    X(EAI_FAMILY, -4009, "address family not supported for this name")               \
    X(ETOOBIG, -4010, "data too large")                                               \
    X(ERUNNING, -4011, "the loop is already running")                                 \
    X(EPROTOKIND, -4012, "protocol table kind does not fit this transport")           \
    X(EMULTIPLE, -4013, "every address was tried and they failed with different errors") \
    X(ETLS, -4014, "TLS protocol error (handshake or record layer)")                  \
    X(ETLSCERT, -4015, "TLS certificate verification failed")                         \
    X(ETLSEOF, -4016, "the peer closed the connection without a TLS close_notify")

/** The library's codes, and the errno values it returns most, by name. */
enum aiotp_errno {
    AIOTP_OK = 0, /**< success ("OK") */
#define AIOTP__ERR_ENUM(name, value, text) AIOTP_##name = (value), /**< text */
    AIOTP_LIBRARY_ERRORS(AIOTP__ERR_ENUM)
#undef AIOTP__ERR_ENUM
    /* errno-valued codes used by the library, named for convenience */
    AIOTP_EINVAL = -EINVAL,     /**< invalid argument; nothing was changed */
    AIOTP_ENOMEM = -ENOMEM,     /**< allocation failed; nothing was changed */
    AIOTP_EBADF = -EBADF,       /**< invalid file descriptor */
    AIOTP_EBUSY = -EBUSY,       /**< fd is owned by a transport, server or pending wrap */
    AIOTP_ENOENT = -ENOENT,     /**< no such handle / registration */
    AIOTP_ECANCELED = -ECANCELED /**< operation cancelled (aiotp_loop_cancel_op(),
                                      aiotp_loop_close_all()) */
};

/**
 * Short symbolic name of a code.
 *
 * @param err 0, a negated errno value or a library code.
 * @return a static string: "OK" for 0, the library code's name without `AIOTP_`
 *         ("ESTATE"), the platform's errno name for a negated errno value
 *         ("ECONNREFUSED"; aliases as the name they stand for), "E?" for anything else
 *         (a positive value, a negative value that is neither).
 */
const char *aiotp_err_name(int err);

/**
 * Human-readable description of a code.
 *
 * @param err 0, a negated errno value or a library code.
 * @return a string: "success" for 0, the library code's description, the C library's
 *         strerror() text for a negated errno value (valid until the next call of
 *         strerror() in the program), "unknown error" for anything else.
 */
const char *aiotp_strerror(int err);

AIOTP_END_DECLS

#endif /* AIOTP_ERROR_H */
