/* src/error.c - names and descriptions of error codes, from the lists in error.h and the
   platform's <errno.h> (cmake/errno_names.cmake generates aiotp_errno_names.h). */
#include <string.h>

#include "aiotp/error.h"
#include "aiotp/version.h"
#include "aiotp_errno_names.h"

#ifndef AIOTP__ERRNO_NAMES
/* Used only when the build could not list the platform's names: the POSIX ones. */
#define AIOTP__ERRNO_NAMES(X)                                                          \
    X(EPERM) X(ENOENT) X(EINTR) X(EIO) X(EBADF) X(EAGAIN) X(ENOMEM) X(EACCES)          \
    X(EFAULT) X(EBUSY) X(EEXIST) X(EINVAL) X(ENFILE) X(EMFILE) X(ENOSPC) X(EPIPE)      \
    X(ERANGE) X(ENAMETOOLONG) X(ENOTSOCK) X(EDESTADDRREQ) X(EMSGSIZE) X(EPROTOTYPE)    \
    X(ENOPROTOOPT) X(EPROTONOSUPPORT) X(EOPNOTSUPP) X(EAFNOSUPPORT) X(EADDRINUSE)      \
    X(EADDRNOTAVAIL) X(ENETDOWN) X(ENETUNREACH) X(ECONNABORTED) X(ECONNRESET)          \
    X(ENOBUFS) X(EISCONN) X(ENOTCONN) X(ETIMEDOUT) X(ECONNREFUSED) X(EHOSTUNREACH)     \
    X(EALREADY) X(EINPROGRESS) X(ECANCELED) X(EOVERFLOW) X(ENOTDIR) X(ENXIO)
#endif

/* The name of errno value e (> 0), or NULL. Each value appears once in the list (aliases
   such as EWOULDBLOCK are left out by the generator), which the switch checks. */
static const char *errno_name(int e)
{
    switch (e) {
#define AIOTP__ERRNO_CASE(name)                                                        \
    case (name):                                                                       \
        return #name;
        AIOTP__ERRNO_NAMES(AIOTP__ERRNO_CASE)
#undef AIOTP__ERRNO_CASE
    default:
        break;
    }
#if defined(ENOTSUP) && defined(EOPNOTSUPP) && ENOTSUP != EOPNOTSUPP
    /* "ENOTSUP" is the library code's name (error.h) */
    if (e == ENOTSUP) {
        return "ENOTSUP_OS";
    }
#endif
    return NULL;
}

const char *aiotp_err_name(int err)
{
    const char *name;
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
    name = err < 0 && err > -4000 ? errno_name(-err) : NULL;
    return name != NULL ? name : "E?";
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
