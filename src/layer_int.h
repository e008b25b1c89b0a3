/*
 * src/layer_int.h - the one entry a transport kind layered on a stream transport (TLS:
 * the optional library aiotp_tls, src/tls/) offers the loop methods of libaiotp.
 *
 * Layer 2 (spec/architecture.md). libaiotp does not link the layer's library: the handle
 * the user puts in the options (`aiotp_connect_options.tls`, `aiotp_server_options.tls`)
 * begins with a pointer to the layer's method table, so connect.c and server.c call into
 * aiotp_tls through it without naming OpenSSL or a TLS function. A program that never
 * makes a context never reaches this code.
 */
#ifndef AIOTP_LAYER_INT_H
#define AIOTP_LAYER_INT_H

#include <stdbool.h>
#include <sys/socket.h>

#include "aiotp/server.h"
#include "loop_int.h"

/* What the loop methods tell the layer about one connection. */
typedef struct aiotp__layer_params {
    bool server_side;            /* accepted side (create_server, connect_accepted_socket) */
    const char *server_hostname; /* client: SNI and hostname check; NULL: none */
    aiotp_time handshake_timeout; /* > 0 (the options' 0 already resolved to the default) */
    aiotp_time shutdown_timeout;  /* > 0 */
} aiotp__layer_params;

typedef struct aiotp__layer_ops {
    /* Make the layered transport over the connected non-blocking stream socket fd: the
       stream transport below (its protocol is the layer) and the layered transport above
       it, whose protocol is (proto, pdata). done_cb (NULL: none) is called once, with the
       layered transport after its handshake and connection_made, or with the failure and
       NULL. 0 and *out (may be NULL) the layered transport; or an error, with nothing
       made, nothing scheduled and fd not closed (`why` names a refused table). */
    int (*wrap)(const aiotp_tls_context *ctx, aiotp_loop *loop, int fd,
                const aiotp_protocol *proto, void *pdata, const struct sockaddr *peer,
                socklen_t peer_len, const aiotp__layer_params *p, aiotp_connect_cb done_cb,
                void *done_arg, aiotp_transport **out, const char **why);
    /* May this context serve these parameters (a client context for a client)? 0 or
       AIOTP_EINVAL. */
    int (*check)(const aiotp_tls_context *ctx, const aiotp__layer_params *p);
    /* A pending request or a server keeps the context alive while it needs it. */
    void (*retain)(const aiotp_tls_context *ctx);
    void (*release)(const aiotp_tls_context *ctx);
} aiotp__layer_ops;

/* The method table of a context: its first member. */
#define AIOTP__LAYER_OPS(ctx) (*(const aiotp__layer_ops *const *)(const void *)(ctx))

/* The default timeouts (CPython's constants SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT). */
#define AIOTP__TLS_HANDSHAKE_TIMEOUT (60 * AIOTP_NS_PER_SEC)
#define AIOTP__TLS_SHUTDOWN_TIMEOUT (30 * AIOTP_NS_PER_SEC)

/* Check the TLS fields of connection or server options and resolve the timeouts:
   0, or AIOTP_EINVAL (negative timeout; a timeout or a server_hostname without tls; a
   context that cannot serve this side). server_hostname may be NULL (servers). */
int aiotp__layer_params_init(aiotp__layer_params *p, const aiotp_tls_context *tls,
                             bool server_side, const char *server_hostname,
                             aiotp_time handshake_timeout, aiotp_time shutdown_timeout);

#endif /* AIOTP_LAYER_INT_H */
