/*
 * aiotp/error.h - error codes.
 *
 * Every aiotp function that can fail returns an int: 0 (or a count) on success, a
 * negative code on failure. Operating-system failures are reported as the negated
 * errno value (-ECONNREFUSED, -EPIPE, ...). Failures that have no errno equivalent
 * use the library codes below, which lie in a range no errno value reaches.
 * Asynchronous failures arrive as the `status` argument of a callback, never through
 * a global. If a call that takes a completion callback fails, that callback is never
 * called.
 */
#ifndef AIOTP_ERROR_H
#define AIOTP_ERROR_H

#include <errno.h>

/*
 * The library's own codes: X(NAME, VALUE, "description"). One list, from which the
 * enum, aiotp_err_name() and aiotp_strerror() are generated.
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
    X(EPROTOKIND, -4012, "protocol table kind does not fit this transport")

enum aiotp_errno {
    AIOTP_OK = 0,
#define AIOTP__ERR_ENUM(name, value, text) AIOTP_##name = (value),
    AIOTP_LIBRARY_ERRORS(AIOTP__ERR_ENUM)
#undef AIOTP__ERR_ENUM
    /* errno-valued codes used by the library, named for convenience */
    AIOTP_EINVAL = -EINVAL,     /* invalid argument */
    AIOTP_ENOMEM = -ENOMEM,     /* allocation failed; nothing was changed */
    AIOTP_EBADF = -EBADF,       /* invalid file descriptor */
    AIOTP_EBUSY = -EBUSY,       /* fd is owned by a transport, server or pending wrap */
    AIOTP_ENOENT = -ENOENT,     /* no such handle / registration */
    AIOTP_ECANCELED = -ECANCELED /* operation cancelled (loop freed) */
};

/* Short symbolic name of a code: "ECONNREFUSED", "ESTATE", "OK"; "E?" if unknown. */
const char *aiotp_err_name(int err);

/* Human-readable description of a code (library codes and negated errno values). */
const char *aiotp_strerror(int err);

#endif /* AIOTP_ERROR_H */
