/* examples/example_util.h - small helpers shared by the examples. */
#ifndef AIOTP_EXAMPLE_UTIL_H
#define AIOTP_EXAMPLE_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/un.h>

#include "aiotp/aiotp.h"

/* "('127.0.0.1', 8888)" in the manner of Python's repr of an address tuple. */
static inline void example_format_addr(const aiotp_extra *x, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN];
    const struct sockaddr *sa;
    if (x == NULL || x->kind != AIOTP_EXTRA_ADDR) {
        snprintf(out, n, "None");
        return;
    }
    sa = x->u.addr.addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, n, "('%s', %d)", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, n, "('%s', %d, 0, 0)", host, ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)sa;
        snprintf(out, n, "'%s'", x->u.addr.len > sizeof(sa_family_t) ? un->sun_path : "");
    } else {
        snprintf(out, n, "<family %d>", sa->sa_family);
    }
}

static inline int example_port_of(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    }
    if (sa->sa_family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    }
    return -1;
}

#endif
