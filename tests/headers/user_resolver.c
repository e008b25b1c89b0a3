/*
 * tests/headers/user_resolver.c - a user's own resolver entries in the syscall table,
 * in strict C99 without feature-test macros (issue 9, defect 15): sys.h must declare
 * struct addrinfo at file scope, or these functions' pointer types do not match the
 * table's and -Werror stops the build. Compiled by the CTest header.c99.user_resolver.
 */
#include "aiotp/sys.h"

static int my_getaddrinfo(void *ctx, const char *node, const char *service,
                          const struct addrinfo *hints, struct addrinfo **res)
{
    (void)ctx;
    (void)node;
    (void)service;
    (void)hints;
    *res = 0;
    return -2; /* EAI_NONAME on glibc */
}

static void my_freeaddrinfo(void *ctx, struct addrinfo *res)
{
    (void)ctx;
    (void)res;
}

int install_resolver(aiotp_syscalls *table);

int install_resolver(aiotp_syscalls *table)
{
    table->getaddrinfo = my_getaddrinfo;
    table->freeaddrinfo = my_freeaddrinfo;
    return table->getaddrinfo == my_getaddrinfo;
}
