/*
 * src/tls/tls_int.h - the TLS library's internals (library aiotp_tls, aiotp/tls.h): the
 * context behind aiotp_tls_context and the TLS transport.
 *
 * Layer 5 (spec/architecture.md): a transport kind layered on a stream transport. It is
 * the protocol of the stream transport below (src/stream.c, through the public transport
 * functions and aiotp__stream_create) and a transport to the application above; it
 * reaches libaiotp's loop methods only through the context's method table
 * (src/layer_int.h). Its state changes go through src/core/tls_sm.c.
 */
#ifndef AIOTP_TLS_INT_H
#define AIOTP_TLS_INT_H

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "aiotp/tls.h"
#include "core/flow.h"
#include "core/tls_sm.h"
#include "core/wbuf.h"
#include "layer_int.h"
#include "transport_int.h"

struct aiotp_tls_context {
    const aiotp__layer_ops *ops; /* first: what libaiotp calls (src/layer_int.h) */
    SSL_CTX *ssl_ctx;
    aiotp_tls_side side;
    aiotp_tls_verify verify;
    bool check_hostname;         /* client: check the certificate against server_hostname */
    unsigned refs;               /* the caller's, and one per user (server, request,
                                    transport) */
    bool freed;                  /* the caller dropped its reference */
    unsigned char *alpn;         /* the ALPN list in wire format (length-prefixed names) */
    size_t alpn_len;
};

/* Keep / let go of a context (the layer ops' retain and release). */
void aiotp__tls_ctx_retain(const aiotp_tls_context *ctx);
void aiotp__tls_ctx_release(const aiotp_tls_context *ctx);

typedef struct aiotp__tls {
    aiotp_transport base;        /* the TLS transport (and the loop object header): first */
    const aiotp__layer_services *svc; /* libaiotp's internals (layer_int.h) */
    aiotp_transport *lower;      /* the stream transport below; NULL after its
                                    connection_lost (and before it exists) */
    uint32_t lower_id;           /* its trace id */
    aiotp_tls_context *ctx;      /* retained */
    SSL *ssl;                    /* NULL once freed (connection_lost) */
    BIO *rbio;                   /* encrypted bytes from below, for OpenSSL to read */
    BIO *wbio;                   /* encrypted bytes OpenSSL wrote, for the transport below */

    aiotp__tls_state st;         /* all lifecycle state (core/tls_sm.h) */
    aiotp__flow wflow;           /* the application's write flow control */
    aiotp__flow rflow;           /* read-side limits on rbio's bytes: pause the layer below */
    aiotp__wbuf bl;              /* plaintext queued before the handshake completed (and
                                    what OpenSSL could not take yet) */
    bool lost_final;             /* lost_status is settled: abort() gives 0, whatever the
                                    transport below reports (WRITE-ABORT-4) */
    bool below_paused;           /* the transport below called our pause_writing */
    bool reading_below_paused;   /* we paused the transport below (rflow) */
    bool peer_eof_pending;       /* EOF below while the protocol paused with bytes waiting */
    bool in_lower_eof;           /* inside the eof_received of the transport below: it
                                    closes itself when that returns 0 */
    bool sd_unbounded;           /* the shutdown timer could not be armed: do not wait for
                                    the peer's close_notify */
    bool read_queued;            /* the reserved ready-queue entry holds a scheduled read */
    unsigned promised;           /* ready-queue entries still reserved (0 or 1) */
    unsigned char *rbuf;         /* plaintext for data_received (AIOTP__READ_MAX), lazily */

    aiotp_handle timer;          /* the handshake or shutdown timer, 0 if none */
    aiotp_time hs_timeout;
    aiotp_time sd_timeout;
    aiotp_connect_cb done_cb;    /* the completion, NULL once called (or none) */
    aiotp__op op;                /* the creation's operation, registered again during the
                                    handshake of a connection being created (OP-2) */
    aiotp_op op_number;          /* its number until the handshake starts, 0 if none */
    bool op_cancelled;           /* it was cancelled: the completion comes from the loop */
    void *done_arg;
    int hs_status;               /* why the handshake failed */
    int lost_status;             /* the status connection_lost gets (0 unless set) */
    bool server_side;
    bool debug_report;           /* a server-side failure goes to the handler in debug mode */
    uint64_t dropped_writes;     /* writes dropped once closing (CPython counts them) */

    aiotp_tls_cipher cipher;
    X509 *peer_cert;             /* SSL_get1_peer_certificate, freed with the SSL */
    aiotp_extra x_ctx;           /* "sslcontext" */
    aiotp_extra x_ssl;           /* "ssl_object" */
    aiotp_extra x_cert;          /* "peercert" */
    aiotp_extra x_cipher;        /* "cipher" */
    aiotp_extra x_comp;          /* "compression" */
    aiotp_extra x_alpn;          /* "alpn_protocol" */
    char alpn[256];

    uint64_t rx_total;           /* trace: plaintext delivered to the protocol */
    uint32_t rx_sum;
    uint64_t tx_total;           /* trace: plaintext accepted by write */
    uint32_t tx_sum;
} aiotp__tls;

/* The layer ops' wrap (src/layer_int.h). */
int aiotp__tls_wrap(const aiotp_tls_context *ctx, const aiotp__layer_services *svc,
                    aiotp_loop *loop, int fd,
                    const aiotp_protocol *proto, void *pdata, const struct sockaddr *peer,
                    socklen_t peer_len, const aiotp__layer_params *p, aiotp_connect_cb done_cb,
                    void *done_arg, aiotp_transport **out, const char **why);

/* The TLS transport behind t, or NULL if t is not one. */
aiotp__tls *aiotp__tls_of(const aiotp_transport *t);

/* OpenSSL's error queue: cleared (its entries would otherwise accumulate in the thread). */
void aiotp__tls_clear_errors(void);

#endif /* AIOTP_TLS_INT_H */
