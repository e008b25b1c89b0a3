/*
 * src/tls/context.c - TLS contexts (aiotp/tls.h): a reference-counted handle over
 * OpenSSL's SSL_CTX with Python's secure defaults, and the layer method table through
 * which libaiotp's loop methods reach the TLS transport (src/layer_int.h).
 *
 * A context lives outside any loop, so its memory comes from malloc (as OpenSSL's own);
 * everything a connection allocates comes from its loop's allocator or OpenSSL. A context
 * is not thread-safe: use it from one thread at a time (its reference count is a plain
 * integer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "tls_int.h"

/* ---- the layer's method table ------------------------------------------------------- */

static int layer_check(const aiotp_tls_context *ctx, const aiotp__layer_params *p)
{
    if (p->server_side != (ctx->side == AIOTP_TLS_SERVER)) {
        return AIOTP_EINVAL; /* TLS-CTX-2: a client context for a client, ... */
    }
    if (!p->server_side && ctx->check_hostname && ctx->verify != AIOTP_TLS_VERIFY_NONE &&
        (p->server_hostname == NULL || p->server_hostname[0] == '\0')) {
        return AIOTP_EINVAL; /* Python: "check_hostname requires server_hostname" */
    }
    return 0;
}

static void layer_retain(const aiotp_tls_context *ctx)
{
    aiotp__tls_ctx_retain(ctx);
}

static void layer_release(const aiotp_tls_context *ctx)
{
    aiotp__tls_ctx_release(ctx);
}

static const aiotp__layer_ops tls_layer_ops = {
    .wrap = aiotp__tls_wrap,
    .check = layer_check,
    .retain = layer_retain,
    .release = layer_release,
};

void aiotp__tls_clear_errors(void)
{
    ERR_clear_error();
}

/* ---- lifetime ---------------------------------------------------------------------- */

static void ctx_destroy(aiotp_tls_context *c)
{
    SSL_CTX_free(c->ssl_ctx);
    free(c->alpn);
    free(c);
}

void aiotp__tls_ctx_retain(const aiotp_tls_context *ctx)
{
    aiotp_tls_context *c = (aiotp_tls_context *)(uintptr_t)ctx;
    c->refs++;
}

void aiotp__tls_ctx_release(const aiotp_tls_context *ctx)
{
    aiotp_tls_context *c = (aiotp_tls_context *)(uintptr_t)ctx;
    if (--c->refs == 0) {
        ctx_destroy(c);
    }
}

/* ALPN, server side: the first protocol of the server's list that the client offers;
   without one in common the handshake goes on without ALPN (Python's behaviour). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    const aiotp_tls_context *c = arg;
    unsigned char *sel = NULL;
    (void)ssl;
    if (c->alpn_len == 0 ||
        SSL_select_next_proto(&sel, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

int aiotp_tls_context_new(aiotp_tls_context **out, aiotp_tls_side side)
{
    aiotp_tls_context *c;
    if (out == NULL || (side != AIOTP_TLS_CLIENT && side != AIOTP_TLS_SERVER)) {
        return AIOTP_EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return AIOTP_ENOMEM;
    }
    c->ops = &tls_layer_ops;
    c->side = side;
    c->refs = 1;
    c->ssl_ctx = SSL_CTX_new(side == AIOTP_TLS_CLIENT ? TLS_client_method() : TLS_server_method());
    if (c->ssl_ctx == NULL) {
        ERR_clear_error();
        free(c);
        return AIOTP_ENOMEM;
    }
    /* TLS-CTX-1: Python's create_default_context(): TLS 1.2 and up, no renegotiation, no
       compression; a client verifies the server and its name */
    (void)SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(c->ssl_ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                        SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (side == AIOTP_TLS_CLIENT) {
        c->verify = AIOTP_TLS_VERIFY_REQUIRED;
        c->check_hostname = true;
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    } else {
        c->verify = AIOTP_TLS_VERIFY_NONE;
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_alpn_select_cb(c->ssl_ctx, alpn_select, c);
    }
    *out = c;
    return 0;
}

void aiotp_tls_context_free(aiotp_tls_context *ctx)
{
    if (ctx != NULL && !ctx->freed) {
        ctx->freed = true; /* the caller's reference, once */
        aiotp__tls_ctx_release(ctx);
    }
}

/* ---- configuration ------------------------------------------------------------------ */

int aiotp_tls_context_load_verify_locations(aiotp_tls_context *ctx, const char *cafile,
                                            const char *capath)
{
    if (ctx == NULL || (cafile == NULL && capath == NULL)) {
        return AIOTP_EINVAL;
    }
    if (SSL_CTX_load_verify_locations(ctx->ssl_ctx, cafile, capath) != 1) {
        ERR_clear_error();
        return AIOTP_ETLS;
    }
    return 0;
}

int aiotp_tls_context_load_default_verify_paths(aiotp_tls_context *ctx)
{
    if (ctx == NULL) {
        return AIOTP_EINVAL;
    }
    if (SSL_CTX_set_default_verify_paths(ctx->ssl_ctx) != 1) {
        ERR_clear_error();
        return AIOTP_ETLS;
    }
    return 0;
}

int aiotp_tls_context_load_cert_chain(aiotp_tls_context *ctx, const char *certfile,
                                      const char *keyfile)
{
    if (ctx == NULL || certfile == NULL) {
        return AIOTP_EINVAL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, certfile) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, keyfile != NULL ? keyfile : certfile,
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
        ERR_clear_error();
        return AIOTP_ETLS;
    }
    return 0;
}

int aiotp_tls_context_set_verify(aiotp_tls_context *ctx, aiotp_tls_verify mode)
{
    int flags;
    if (ctx == NULL) {
        return AIOTP_EINVAL;
    }
    switch (mode) {
    case AIOTP_TLS_VERIFY_NONE:
        flags = SSL_VERIFY_NONE;
        break;
    case AIOTP_TLS_VERIFY_OPTIONAL:
        if (ctx->side != AIOTP_TLS_SERVER) {
            return AIOTP_EINVAL;
        }
        flags = SSL_VERIFY_PEER;
        break;
    case AIOTP_TLS_VERIFY_REQUIRED:
        flags = ctx->side == AIOTP_TLS_SERVER
                    ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                    : SSL_VERIFY_PEER;
        break;
    default:
        return AIOTP_EINVAL;
    }
    ctx->verify = mode;
    if (mode == AIOTP_TLS_VERIFY_NONE) {
        ctx->check_hostname = false;
    }
    SSL_CTX_set_verify(ctx->ssl_ctx, flags, NULL);
    return 0;
}

int aiotp_tls_context_set_check_hostname(aiotp_tls_context *ctx, bool on)
{
    if (ctx == NULL || ctx->side != AIOTP_TLS_CLIENT ||
        (on && ctx->verify != AIOTP_TLS_VERIFY_REQUIRED)) {
        return AIOTP_EINVAL;
    }
    ctx->check_hostname = on;
    return 0;
}

int aiotp_tls_context_set_alpn_protocols(aiotp_tls_context *ctx, const char *const *protos,
                                         size_t n)
{
    size_t i;
    size_t len = 0;
    unsigned char *wire;
    unsigned char *p;
    if (ctx == NULL || (protos == NULL && n > 0)) {
        return AIOTP_EINVAL;
    }
    for (i = 0; i < n; i++) {
        size_t k = protos[i] != NULL ? strlen(protos[i]) : 0;
        if (k == 0 || k > 255 || len > 65535 - 1 - k) {
            return AIOTP_EINVAL; /* TLS-CTX-3 */
        }
        len += 1 + k;
    }
    wire = NULL;
    if (len > 0) {
        wire = malloc(len);
        if (wire == NULL) {
            return AIOTP_ENOMEM;
        }
        for (p = wire, i = 0; i < n; i++) {
            size_t k = strlen(protos[i]);
            *p++ = (unsigned char)k;
            memcpy(p, protos[i], k);
            p += k;
        }
    }
    if (ctx->side == AIOTP_TLS_CLIENT &&
        SSL_CTX_set_alpn_protos(ctx->ssl_ctx, wire, (unsigned)len) != 0) {
        ERR_clear_error();
        free(wire);
        return AIOTP_ENOMEM; /* (OpenSSL copies the list: only memory can fail) */
    }
    free(ctx->alpn);
    ctx->alpn = wire;
    ctx->alpn_len = len;
    return 0;
}

static int version_of(aiotp_tls_version v, int *out)
{
    switch (v) {
    case AIOTP_TLS_VERSION_ANY:
        *out = 0;
        return 0;
    case AIOTP_TLS_VERSION_1_2:
        *out = TLS1_2_VERSION;
        return 0;
    case AIOTP_TLS_VERSION_1_3:
        *out = TLS1_3_VERSION;
        return 0;
    default:
        return AIOTP_EINVAL;
    }
}

int aiotp_tls_context_set_versions(aiotp_tls_context *ctx, aiotp_tls_version min,
                                   aiotp_tls_version max)
{
    int lo;
    int hi;
    if (ctx == NULL || version_of(min, &lo) != 0 || version_of(max, &hi) != 0 ||
        (hi != 0 && lo > hi)) {
        return AIOTP_EINVAL;
    }
    if (lo == 0) {
        lo = TLS1_2_VERSION; /* never below TLS 1.2 (TLS-CTX-1) */
    }
    if (SSL_CTX_set_min_proto_version(ctx->ssl_ctx, lo) != 1 ||
        SSL_CTX_set_max_proto_version(ctx->ssl_ctx, hi) != 1) {
        ERR_clear_error();
        return AIOTP_EINVAL;
    }
    return 0;
}

void *aiotp_tls_context_ssl_ctx(const aiotp_tls_context *ctx)
{
    return ctx != NULL ? ctx->ssl_ctx : NULL;
}
