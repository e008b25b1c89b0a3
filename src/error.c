/* src/error.c - names and descriptions of error codes, from the list in error.h and the
   platform's <errno.h> (cmake/errno_names.cmake generates aiotp__errno_name()). */
#include <string.h>

#include "aiotp/error.h"
#include "aiotp/version.h"

/* The platform's name of errno value e (> 0), or NULL: generated from its <errno.h> by
   cmake/errno_names.cmake into the build tree (aiotp_errno_names.c). */
const char *aiotp__errno_name(int e);

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
    name = err < 0 && err > -4000 ? aiotp__errno_name(-err) : NULL;
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
