/* src/error.c - names and descriptions of error codes, from the lists in error.h. */
#include <string.h>

#include "aiotp/error.h"
#include "aiotp/version.h"

/* errno values the library reports, by name (negated in use). */
#define AIOTP__ERRNO_NAMES(X)                                                          \
    X(EPERM) X(ENOENT) X(EINTR) X(EIO) X(EBADF) X(EAGAIN) X(ENOMEM) X(EACCES)          \
    X(EFAULT) X(EBUSY) X(EEXIST) X(EINVAL) X(ENFILE) X(EMFILE) X(ENOSPC) X(EPIPE)      \
    X(ERANGE) X(ENAMETOOLONG) X(ENOTSOCK) X(EDESTADDRREQ) X(EMSGSIZE) X(EPROTOTYPE)    \
    X(ENOPROTOOPT) X(EPROTONOSUPPORT) X(EOPNOTSUPP) X(EAFNOSUPPORT) X(EADDRINUSE)      \
    X(EADDRNOTAVAIL) X(ENETDOWN) X(ENETUNREACH) X(ECONNABORTED) X(ECONNRESET)          \
    X(ENOBUFS) X(EISCONN) X(ENOTCONN) X(ETIMEDOUT) X(ECONNREFUSED) X(EHOSTUNREACH)     \
    X(EALREADY) X(EINPROGRESS) X(ECANCELED) X(EOVERFLOW) X(ENOTDIR) X(ENXIO)

const char *aiotp_err_name(int err)
{
    if (err == 0) {
        return "OK";
    }
    switch (err) {
#define AIOTP__LIB_NAME(name, value, text)                                             \
    case (value):                                                                      \
        return #name;
        AIOTP_LIBRARY_ERRORS(AIOTP__LIB_NAME)
#undef AIOTP__LIB_NAME
    default:
        break;
    }
#if EWOULDBLOCK != EAGAIN
    if (err == -EWOULDBLOCK) {
        return "EAGAIN";
    }
#endif
#define AIOTP__ERRNO_CASE(name)                                                        \
    if (err == -(name)) {                                                              \
        return #name;                                                                  \
    }
    AIOTP__ERRNO_NAMES(AIOTP__ERRNO_CASE)
#undef AIOTP__ERRNO_CASE
    return "E?";
}

const char *aiotp_strerror(int err)
{
    if (err == 0) {
        return "success";
    }
    switch (err) {
#define AIOTP__LIB_TEXT(name, value, text)                                             \
    case (value):                                                                      \
        return text;
        AIOTP_LIBRARY_ERRORS(AIOTP__LIB_TEXT)
#undef AIOTP__LIB_TEXT
    default:
        break;
    }
    if (err < 0 && err > -4000) {
        return strerror(-err);
    }
    return "unknown error";
}

const char *aiotp_version(void)
{
    return AIOTP_VERSION_STRING;
}
