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
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "aiotp/server.h"
#include "core/flow.h"
#include "core/wbuf.h"
#include "loop_int.h"
#include "ops_int.h"
#include "transport_int.h"

/* What the loop methods tell the layer about one connection. */
typedef struct aiotp__layer_params aiotp__layer_params;
struct aiotp__layer_params {
    bool server_side;            /* accepted side (create_server, connect_accepted_socket) */
    const char *server_hostname; /* client: SNI and hostname check; NULL: none */
    aiotp_time handshake_timeout; /* > 0 (the options' 0 already resolved to the default) */
    aiotp_time shutdown_timeout;  /* > 0 */
    aiotp_op op; /* client: the creation's operation number, 0: none. The layer registers
                    it again (op_register_as) while the handshake runs (OP-2) */
};

/*
 * What libaiotp lends a layered kind. Built as its own shared library, aiotp_tls cannot
 * call libaiotp's internal functions (they are hidden: libaiotp exports its public API
 * only), so it reaches them through this table, one copy of each: the loop's memory,
 * objects, ready queue and trace; the transport base; stream transports; the pure core
 * modules flow and wbuf. libaiotp hands it over with every wrap and through the method
 * table of its stream transports (`aiotp__transport_ops.layer_services`, for start_tls).
 * Defined in src/layer.c.
 */
typedef struct aiotp__layer_services {
    /* the loop */
    void *(*alloc)(aiotp_loop *loop, size_t n);
    void (*free)(aiotp_loop *loop, void *p);
    void (*tracef)(aiotp_loop *loop, const char *fmt, ...);
    void (*obj_unlink)(aiotp__obj *o);
    aiotp__obj *(*obj_find)(aiotp_loop *loop, bool (*fn)(aiotp__obj *o, void *arg), void *arg);
    int (*rq_reserve)(aiotp_loop *loop, size_t n);
    void (*rq_unreserve)(aiotp_loop *loop, size_t n);
    void (*push_promised)(aiotp_loop *loop, aiotp_callback_fn fn, void *arg);
    uint32_t (*crc32)(uint32_t crc, const void *data, size_t len);
    /* the loop's pending operations (ops_int.h) */
    void (*op_register_as)(aiotp_loop *loop, aiotp__op *op, aiotp_op id);
    void (*op_done)(aiotp_loop *loop, aiotp__op *op);
    /* the transport base (transport_int.h) */
    void (*transport_init)(aiotp_transport *t, aiotp_loop *loop,
                           const aiotp__transport_ops *ops, const aiotp__obj_ops *obj_ops,
                           const aiotp_protocol *proto, void *pdata);
    int (*check_protocol)(const aiotp__transport_ops *ops, const aiotp_protocol *proto,
                          const char **why);
    void (*report)(aiotp_transport *t, const char *message, int status);
    void (*hold)(aiotp_transport *t);
    void (*drop)(aiotp_transport *t);
    void (*release_later)(aiotp_transport *t);
    void (*notify_lost)(aiotp_transport *t);
    void (*fmt_addr)(const struct sockaddr *a, socklen_t alen, char *out, size_t size);
    const char *(*status_name)(int status);
    /* stream transports (stream_int.h) */
    int (*stream_create)(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *pdata,
                         const struct sockaddr *peer, socklen_t peer_len,
                         aiotp_transport **out);
    /* 0: t is an open stream transport whose protocol was told connection_made and which
       may still write; AIOTP_EINVAL: not a stream transport; AIOTP_ECLOSED: closing,
       closed, or after write_eof */
    int (*stream_open)(aiotp_transport *t);
    int (*params_init)(struct aiotp__layer_params *p, const aiotp_tls_context *tls,
                       bool server_side, const char *server_hostname,
                       aiotp_time handshake_timeout, aiotp_time shutdown_timeout);
    /* the pure core modules (core/flow.h, core/wbuf.h) */
    void (*flow_init)(aiotp__flow *f);
    bool (*flow_set_limits)(aiotp__flow *f, int64_t high, int64_t low);
    aiotp__flow_action (*flow_check_pause)(aiotp__flow *f, size_t size);
    aiotp__flow_action (*flow_check_resume)(aiotp__flow *f, size_t size);
    void (*wbuf_init)(aiotp__wbuf *b);
    size_t (*wbuf_size)(const aiotp__wbuf *b);
    size_t (*wbuf_space)(const aiotp__wbuf *b);
    void (*wbuf_clear)(aiotp__wbuf *b);
    void (*wbuf_commit)(aiotp__wbuf *b, size_t n);
    void (*wbuf_consume)(aiotp__wbuf *b, size_t n);
    int (*wbuf_data_segments)(const aiotp__wbuf *b, aiotp__wseg seg[2]);
    /* the write queue's memory (transport_int.h) */
    int (*wq_reserve)(aiotp_loop *loop, aiotp__wbuf *b, size_t n);
    void (*wq_append)(aiotp__wbuf *b, const unsigned char *p, size_t n);
} aiotp__layer_services;

/* libaiotp's (src/layer.c). */
extern const aiotp__layer_services aiotp__layer_svc;

typedef struct aiotp__layer_ops {
    /* Make the layered transport over the connected non-blocking stream socket fd: the
       stream transport below (its protocol is the layer) and the layered transport above
       it, whose protocol is (proto, pdata). done_cb (NULL: none) is called once, with the
       layered transport after its handshake and connection_made, or with the failure and
       NULL. 0 and *out (may be NULL) the layered transport; or an error, with nothing
       made, nothing scheduled and fd not closed (`why` names a refused table). */
    int (*wrap)(const aiotp_tls_context *ctx, const aiotp__layer_services *svc,
                aiotp_loop *loop, int fd,
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
