/* tests/test_error.c - error names and descriptions (include/aiotp/error.h, ERR-n). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static int is_identifier(const char *s)
{
    if (*s < 'A' || *s > 'Z') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_')) {
            return 0;
        }
    }
    return 1;
}

/* errno values the C library knows (its strerror gives them a text of their own) */
static int known_errno(int e)
{
    return strncmp(strerror(e), "Unknown error", 13) != 0;
}

TEST(every_errno_value_has_a_name)
{
    int e;
    int named = 0;
    for (e = 1; e < 4000; e++) {
        const char *name = aiotp_err_name(-e);
        if (!known_errno(e)) {
            continue;
        }
        named++;
        if (strcmp(name, "E?") == 0 || !is_identifier(name) || name[0] != 'E') {
            th_fail(__FILE__, __LINE__, "errno %d (%s) is named \"%s\"", e, strerror(e), name);
        }
        CHECK_STR(aiotp_strerror(-e), strerror(e));
    }
    printf("%d errno values named\n", named);
    CHECK(named >= 100); /* Linux has 133 */
    CHECK_STR(aiotp_err_name(-EPIPE), "EPIPE");
    CHECK_STR(aiotp_err_name(-ECONNRESET), "ECONNRESET");
    CHECK_STR(aiotp_err_name(-EWOULDBLOCK), "EAGAIN");
    CHECK_STR(aiotp_err_name(-ENOMSG), "ENOMSG");     /* not one the library returns */
    CHECK_STR(aiotp_err_name(-EOPNOTSUPP), "EOPNOTSUPP");
    /* not errno values, not library codes */
    CHECK_STR(aiotp_err_name(0), "OK");
    CHECK_STR(aiotp_err_name(7), "E?");
    CHECK_STR(aiotp_err_name(-5000), "E?");
    CHECK_STR(aiotp_strerror(-5000), "unknown error");
    CHECK_STR(aiotp_strerror(0), "success");
}

TEST(library_codes_apart_from_errno)
{
    int e;
    /* AIOTP_ENOTSUP (a transport kind lacks the method) is not -ENOTSUP (the OS) */
    CHECK(AIOTP_ENOTSUP != -ENOTSUP);
    CHECK_STR(aiotp_err_name(AIOTP_ENOTSUP), "ENOTSUP");
    CHECK(strcmp(aiotp_err_name(-ENOTSUP), "ENOTSUP") != 0);
    CHECK(strcmp(aiotp_err_name(-ENOTSUP), "E?") != 0);
    CHECK(strcmp(aiotp_strerror(AIOTP_ENOTSUP), aiotp_strerror(-ENOTSUP)) != 0);
#define LIB_CODE(name, value, text)                                                    \
    CHECK(value <= -4000);                                                             \
    CHECK_STR(aiotp_err_name(value), #name);                                           \
    CHECK_STR(aiotp_strerror(value), text);                                            \
    for (e = 1; e < 4000; e++) {                                                       \
        if (known_errno(e) && strcmp(aiotp_err_name(-e), #name) == 0) {               \
            th_fail(__FILE__, __LINE__, "errno %d and %s share the name %s", e,      \
                    "AIOTP_" #name, #name);                                            \
        }                                                                              \
    }
    AIOTP_LIBRARY_ERRORS(LIB_CODE)
#undef LIB_CODE
}

static const th_case cases[] = {
    T(every_errno_value_has_a_name, "ERR-1"),
    T(library_codes_apart_from_errno, "ERR-2"),
};
TH_MAIN(cases)
