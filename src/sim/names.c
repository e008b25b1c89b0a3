/*
 * src/sim/names.c - getaddrinfo of the simulated kernel: numeric hosts, "localhost" and
 * the NULL host; numeric services only; no resolver.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sim_int.h"

/* one result of getaddrinfo: the entry and its address in one block */
typedef struct sim_ai {
    struct addrinfo ai; /* first: a struct addrinfo * is the block */
    struct sockaddr_storage ss;
} sim_ai;

/* Append one result (ip: 4 or 16 bytes in network order, port in host order; a stream
   (TCP) or datagram (UDP) entry). */
static int ai_push(aiotp_sim *sim, struct addrinfo ***tail, int family, const void *ip,
                   unsigned port, bool dgram)
{
    sim_ai *n = aiotp__sim_alloc(sim, sizeof(*n));
    if (n == NULL) {
        return EAI_MEMORY;
    }
    memset(n, 0, sizeof(*n));
    n->ai.ai_family = family;
    n->ai.ai_socktype = dgram ? SOCK_DGRAM : SOCK_STREAM;
    n->ai.ai_protocol = dgram ? IPPROTO_UDP : IPPROTO_TCP;
    n->ai.ai_addr = (struct sockaddr *)(void *)&n->ss;
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)(void *)&n->ss;
        s->sin_family = AF_INET;
        s->sin_port = htons((uint16_t)port);
        memcpy(&s->sin_addr, ip, 4);
        n->ai.ai_addrlen = (socklen_t)sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)(void *)&n->ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons((uint16_t)port);
        memcpy(&s->sin6_addr, ip, 16);
        n->ai.ai_addrlen = (socklen_t)sizeof(*s);
    }
    **tail = &n->ai;
    *tail = &n->ai.ai_next;
    return 0;
}

void aiotp__sim_freeaddrinfo(void *ctx, struct addrinfo *res)
{
    while (res != NULL) {
        struct addrinfo *next = res->ai_next;
        aiotp__sim_free(ctx, res);
        res = next;
    }
}

int aiotp__sim_getaddrinfo(void *ctx, const char *node, const char *service,
                         const struct addrinfo *hints, struct addrinfo **res)
{
    aiotp_sim *sim = ctx;
    int family = hints != NULL ? hints->ai_family : AF_UNSPEC;
    int flags = hints != NULL ? hints->ai_flags : 0;
    struct addrinfo *head = NULL;
    struct addrinfo **tail = &head;
    unsigned char v4[4];
    unsigned char v6[16];
    bool want4 = family == AF_UNSPEC || family == AF_INET;
    bool want6 = family == AF_UNSPEC || family == AF_INET6;
    bool have4 = false;
    bool have6 = false;
    bool dgram;
    unsigned long port = 0;
    int rc = 0;

    if (res == NULL) {
        return EAI_FAIL;
    }
    *res = NULL;
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
        return EAI_FAMILY;
    }
    if (hints != NULL && hints->ai_socktype != 0 && hints->ai_socktype != SOCK_STREAM &&
        hints->ai_socktype != SOCK_DGRAM) {
        return EAI_SOCKTYPE;
    }
    dgram = hints != NULL && hints->ai_socktype == SOCK_DGRAM;
    if (node == NULL && service == NULL) {
        return EAI_NONAME;
    }
    if (service != NULL) {
        const char *s = service;
        if (*s == '\0') {
            return EAI_SERVICE;
        }
        for (; *s != '\0'; s++) {
            if (*s < '0' || *s > '9' || port > 65535) {
                return EAI_SERVICE; /* no services database: numeric ports only */
            }
            port = port * 10 + (unsigned long)(*s - '0');
        }
        if (port > 65535) {
            return EAI_SERVICE;
        }
    }
    if (node == NULL) {
        if ((flags & AI_PASSIVE) != 0) {
            uint32_t any = htonl(INADDR_ANY);
            memcpy(v4, &any, 4);
            memcpy(v6, &in6addr_any, 16);
        } else {
            uint32_t lo = htonl(INADDR_LOOPBACK);
            memcpy(v4, &lo, 4);
            memcpy(v6, &in6addr_loopback, 16);
        }
        have4 = have6 = true;
    } else if (inet_pton(AF_INET, node, v4) == 1) {
        have4 = true;
    } else if (inet_pton(AF_INET6, node, v6) == 1) {
        have6 = true;
    } else if (strcmp(node, "localhost") == 0 && (flags & AI_NUMERICHOST) == 0) {
        uint32_t lo = htonl(INADDR_LOOPBACK);
        memcpy(v4, &lo, 4);
        memcpy(v6, &in6addr_loopback, 16);
        have4 = have6 = true;
    } else {
        return EAI_NONAME; /* no resolver: other names do not exist */
    }
    if (have4 && want4) {
        rc = ai_push(sim, &tail, AF_INET, v4, (unsigned)port, dgram);
    }
    if (rc == 0 && have6 && want6) {
        rc = ai_push(sim, &tail, AF_INET6, v6, (unsigned)port, dgram);
    }
    if (rc != 0) {
        aiotp__sim_freeaddrinfo(sim, head);
        return rc;
    }
    if (head == NULL) {
        return EAI_NONAME; /* a numeric address of the other family */
    }
    *res = head;
    return 0;
}
