/*
 * src/sim/addr.c - socket addresses in the simulated kernel: the host's addresses
 * (127.0.0.0/8 and ::1), checking and normalising a caller's address, copying one out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "sim_int.h"

/* The unspecified address of a family (what an unbound socket's getsockname gives). */
void aiotp__sim_addr_unspec(sim_addr *a, int family)
{
    memset(a, 0, sizeof(*a));
    a->ss.ss_family = (sa_family_t)family;
    if (family == AF_INET) {
        a->len = (socklen_t)sizeof(struct sockaddr_in);
    } else if (family == AF_INET6) {
        a->len = (socklen_t)sizeof(struct sockaddr_in6);
    } else {
        a->len = (socklen_t)sizeof(sa_family_t); /* unnamed AF_UNIX */
    }
}

static struct sockaddr_in *a4(sim_addr *a)
{
    return (struct sockaddr_in *)(void *)&a->ss;
}

static struct sockaddr_in6 *a6(sim_addr *a)
{
    return (struct sockaddr_in6 *)(void *)&a->ss;
}

static const struct sockaddr_in *c4(const sim_addr *a)
{
    return (const struct sockaddr_in *)(const void *)&a->ss;
}

static const struct sockaddr_in6 *c6(const sim_addr *a)
{
    return (const struct sockaddr_in6 *)(const void *)&a->ss;
}

const char *aiotp__sim_unix_path(const sim_addr *a)
{
    return ((const struct sockaddr_un *)(const void *)&a->ss)->sun_path;
}

unsigned aiotp__sim_addr_port(const sim_addr *a)
{
    if (a->ss.ss_family == AF_INET) {
        return ntohs(c4(a)->sin_port);
    }
    if (a->ss.ss_family == AF_INET6) {
        return ntohs(c6(a)->sin6_port);
    }
    return 0;
}

void aiotp__sim_addr_set_port(sim_addr *a, unsigned port)
{
    if (a->ss.ss_family == AF_INET) {
        a4(a)->sin_port = htons((uint16_t)port);
    } else if (a->ss.ss_family == AF_INET6) {
        a6(a)->sin6_port = htons((uint16_t)port);
    }
}

bool aiotp__sim_addr_is_any(const sim_addr *a)
{
    static const unsigned char zero[16] = {0};
    if (a->ss.ss_family == AF_INET) {
        return c4(a)->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    return memcmp(&c6(a)->sin6_addr, zero, 16) == 0;
}

/* The only interfaces of the simulated host: 127.0.0.0/8 and ::1. */
bool aiotp__sim_addr_is_loopback(const sim_addr *a)
{
    if (a->ss.ss_family == AF_INET) {
        return (ntohl(c4(a)->sin_addr.s_addr) >> 24) == 127;
    }
    return memcmp(&c6(a)->sin6_addr, &in6addr_loopback, 16) == 0;
}

void aiotp__sim_addr_set_loopback(sim_addr *a)
{
    if (a->ss.ss_family == AF_INET) {
        a4(a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        a6(a)->sin6_addr = in6addr_loopback;
    }
}

/* (a and b are addresses of one family: every caller compares within a socket's.) */
bool aiotp__sim_addr_same_ip(const sim_addr *a, const sim_addr *b)
{
    if (a->ss.ss_family == AF_INET) {
        return c4(a)->sin_addr.s_addr == c4(b)->sin_addr.s_addr;
    }
    return memcmp(&c6(a)->sin6_addr, &c6(b)->sin6_addr, 16) == 0;
}

/* A caller's address for a socket of `family`, checked and normalised (only the family,
   port and address of an IP address are kept; a Unix path must be a non-empty file
   name: abstract names are not modelled). */
int aiotp__sim_addr_in(sim_addr *out, int family, const struct sockaddr *a, socklen_t l)
{
    sa_family_t fam;
    if (a == NULL) {
        return -EFAULT;
    }
    if (l < (socklen_t)sizeof(sa_family_t)) {
        return -EINVAL;
    }
    memcpy(&fam, &a->sa_family, sizeof(fam));
    if ((int)fam != family) {
        return -EAFNOSUPPORT;
    }
    memset(out, 0, sizeof(*out));
    out->ss.ss_family = fam;
    if (family == AF_INET) {
        struct sockaddr_in in;
        if (l < (socklen_t)sizeof(in)) {
            return -EINVAL;
        }
        memcpy(&in, a, sizeof(in));
        a4(out)->sin_port = in.sin_port;
        a4(out)->sin_addr = in.sin_addr;
        out->len = (socklen_t)sizeof(in);
    } else if (family == AF_INET6) {
        struct sockaddr_in6 in6;
        if (l < (socklen_t)sizeof(in6)) {
            return -EINVAL;
        }
        memcpy(&in6, a, sizeof(in6));
        a6(out)->sin6_port = in6.sin6_port;
        a6(out)->sin6_addr = in6.sin6_addr;
        out->len = (socklen_t)sizeof(in6);
    } else {
        struct sockaddr_un un;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t max;
        size_t n = 0;
        memset(&un, 0, sizeof(un));
        if ((size_t)l <= off) {
            return -EINVAL;
        }
        max = (size_t)l - off;
        if (max > sizeof(un.sun_path)) {
            max = sizeof(un.sun_path);
        }
        memcpy(un.sun_path, ((const struct sockaddr_un *)(const void *)a)->sun_path, max);
        while (n < max && un.sun_path[n] != '\0') {
            n++;
        }
        if (n == 0 || n >= sizeof(un.sun_path)) {
            return -EINVAL;
        }
        un.sun_path[n] = '\0';
        un.sun_family = AF_UNIX;
        memcpy(&out->ss, &un, sizeof(un));
        out->len = (socklen_t)(off + n + 1);
    }
    return 0;
}

int aiotp__sim_addr_out(const sim_addr *a, struct sockaddr *out, socklen_t *l)
{
    size_t n;
    if (out == NULL || l == NULL) {
        return -EFAULT;
    }
    n = (size_t)*l < (size_t)a->len ? (size_t)*l : (size_t)a->len;
    memcpy(out, &a->ss, n);
    *l = a->len;
    return 0;
}

/* The local address of an endpoint. */
void aiotp__sim_ep_local(const sim_ep *e, sim_addr *out)
{
    if (e->kind == EP_CONN) {
        *out = e->pair->addr[e->side];
    } else if (e->bound || e->kind == EP_DGRAM) {
        *out = e->local; /* a datagram socket keeps its address while unbound */
    } else {
        aiotp__sim_addr_unspec(out, e->family);
    }
}
