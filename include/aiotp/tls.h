/**
 * @file
 * @brief TLS: contexts over OpenSSL's SSL_CTX, TLS transports, start_tls (the optional
 * library aiotp_tls).
 *
 * The library aiotp_tls (CMake target aiotp::tls, pkg-config aiotp-tls) is built when
 * OpenSSL 3 is found (option AIOTP_TLS); libaiotp itself never links OpenSSL. A TLS
 * connection is made by the usual loop methods with a context in their options
 * (aiotp_connect_options.tls, aiotp_server_options.tls, server.h) or by
 * aiotp_loop_start_tls() on an existing stream transport.
 *
 * **The TLS transport** (#AIOTP_TRANSPORT_TLS) is a transport kind layered on the stream
 * transport of the socket: it is that transport's protocol (encrypted bytes go through
 * OpenSSL memory BIOs; it never touches the socket) and a transport to the application
 * above, with every method of a stream transport and the documented exceptions
 * (spec/tls-transport.md, rules TLS-*):
 * - no half-close: aiotp_transport_can_write_eof() is false and
 *   aiotp_transport_write_eof() returns #AIOTP_ENOTSUP;
 * - the protocol's connection_made runs when the handshake completes, then the
 *   completion; a handshake that fails (certificate, alert, the peer's reset or EOF, the
 *   timeout) calls neither connection_made nor connection_lost: only the completion
 *   learns it (#AIOTP_ETLSCERT, #AIOTP_ETLS, -ECONNRESET, #AIOTP_ETLSEOF, -ECONNABORTED);
 * - close() sends what is queued, then close_notify, and waits for the peer's
 *   close_notify (at most the shutdown timeout) before connection_lost(0); abort() drops
 *   everything; the peer's close_notify calls eof_received once, whose return value has
 *   no effect: the transport closes (the documentation's "Some transports, including SSL,
 *   don't support half-closed connections"); a TCP EOF without close_notify is no EOF of
 *   the TLS stream: connection_lost(#AIOTP_ETLSEOF), no eof_received;
 * - the write buffer is the plaintext queued plus the encrypted bytes not handed to the
 *   transport below (defaults high 512 KiB, low 128 KiB, CPython's); the read side has
 *   its own limits on the encrypted bytes waiting (aiotp_tls_set_read_buffer_limits()),
 *   which pause and resume the transport below, apart from the protocol's
 *   pause_reading();
 * - get_extra_info adds "sslcontext" (#AIOTP_EXTRA_PTR, the aiotp_tls_context),
 *   "ssl_object" (#AIOTP_EXTRA_PTR, OpenSSL's `SSL *`), "peercert" (#AIOTP_EXTRA_PTR, the
 *   peer's `X509 *`, or #AIOTP_EXTRA_NONE), "cipher" (#AIOTP_EXTRA_PTR, an
 *   #aiotp_tls_cipher), "compression" (#AIOTP_EXTRA_NONE: OpenSSL 3 does not compress)
 *   and "alpn_protocol" (#AIOTP_EXTRA_STR, or #AIOTP_EXTRA_NONE when none was agreed);
 *   "peername", "sockname" and "socket" are the transport below's. Every name returns
 *   the default after connection_lost except "sslcontext".
 */
#ifndef AIOTP_TLS_H
#define AIOTP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aiotp/export.h"
#include "aiotp/loop.h"
#include "aiotp/protocol.h"
#include "aiotp/server.h"
#include "aiotp/transport.h"

AIOTP_BEGIN_DECLS

/* ---- contexts ------------------------------------------------------------------------ */

/** The side a context serves (aiotp_tls_context_new()). */
typedef enum aiotp_tls_side {
    AIOTP_TLS_CLIENT = 1, /**< client connections: verifies the server by default */
    AIOTP_TLS_SERVER = 2  /**< server connections: needs a certificate chain and its key */
} aiotp_tls_side;

/** Protocol versions (aiotp_tls_context_set_versions()). */
typedef enum aiotp_tls_version {
    AIOTP_TLS_VERSION_ANY = 0,  /**< no bound (OpenSSL's default: TLS 1.2 and up) */
    AIOTP_TLS_VERSION_1_2 = 12, /**< TLS 1.2 */
    AIOTP_TLS_VERSION_1_3 = 13  /**< TLS 1.3 */
} aiotp_tls_version;

/** Peer verification (aiotp_tls_context_set_verify()), as Python's ssl.VerifyMode. */
typedef enum aiotp_tls_verify {
    AIOTP_TLS_VERIFY_NONE = 0,    /**< CERT_NONE: the peer's certificate is not checked
                                       (a server asks for none) */
    AIOTP_TLS_VERIFY_OPTIONAL = 1, /**< CERT_OPTIONAL (servers): a client certificate is
                                       asked for and checked if sent */
    AIOTP_TLS_VERIFY_REQUIRED = 2  /**< CERT_REQUIRED: the peer must present a certificate
                                       that verifies (the client default) */
} aiotp_tls_verify;

/**
 * Make a context, the analogue of Python's ssl.create_default_context(): a client
 * context verifies the server's certificate (#AIOTP_TLS_VERIFY_REQUIRED) against the CA
 * certificates given with aiotp_tls_context_load_verify_locations() (or the system's,
 * with aiotp_tls_context_load_default_verify_paths()) and checks its name (hostname check
 * on); a server context verifies no client (#AIOTP_TLS_VERIFY_NONE). Both refuse
 * protocols older than TLS 1.2.
 * @param out receives the context (one reference, the caller's).
 * @param side #AIOTP_TLS_CLIENT or #AIOTP_TLS_SERVER.
 * @return 0, #AIOTP_EINVAL (out NULL, an unknown side), #AIOTP_ENOMEM or #AIOTP_ETLS
 *         (OpenSSL refused).
 */
int aiotp_tls_context_new(aiotp_tls_context **out, aiotp_tls_side side);

/**
 * Drop the caller's reference. Servers, pending connections and TLS transports that use
 * the context keep it until they are done with it, so it may be freed right after the
 * call that uses it.
 * @param ctx the context (NULL: nothing happens).
 */
void aiotp_tls_context_free(aiotp_tls_context *ctx);

/**
 * Trust the CA certificates in a PEM file and/or a directory (OpenSSL's c_rehash
 * layout), Python's load_verify_locations(cafile, capath).
 * @param ctx the context.
 * @param cafile a PEM file, or NULL.
 * @param capath a directory, or NULL (not both NULL).
 * @return 0, #AIOTP_EINVAL (NULL context, both NULL), #AIOTP_ETLS (unreadable or not
 *         PEM; nothing was added).
 */
int aiotp_tls_context_load_verify_locations(aiotp_tls_context *ctx, const char *cafile,
                                            const char *capath);

/**
 * Trust the system's CA certificates (Python's load_default_certs()).
 * @param ctx the context.
 * @return 0, #AIOTP_EINVAL (NULL), #AIOTP_ETLS.
 */
int aiotp_tls_context_load_default_verify_paths(aiotp_tls_context *ctx);

/**
 * Use a certificate chain (PEM: the certificate first, then intermediates) and its
 * private key (PEM, unencrypted), Python's load_cert_chain(certfile, keyfile).
 * @param ctx the context.
 * @param certfile the chain.
 * @param keyfile the key, or NULL when it is in certfile.
 * @return 0, #AIOTP_EINVAL (NULL context or certfile), #AIOTP_ETLS (unreadable, not
 *         PEM, or a key that does not match the certificate; the context is unchanged
 *         only as far as OpenSSL allows: use a fresh context after a failure).
 */
int aiotp_tls_context_load_cert_chain(aiotp_tls_context *ctx, const char *certfile,
                                      const char *keyfile);

/**
 * Set how the peer is verified (Python's verify_mode).
 * @param ctx the context.
 * @param mode an #aiotp_tls_verify; #AIOTP_TLS_VERIFY_OPTIONAL only on a server context;
 *        #AIOTP_TLS_VERIFY_NONE on a client context also turns the hostname check off
 *        (Python refuses CERT_NONE while check_hostname is on).
 * @return 0, #AIOTP_EINVAL (NULL, an unknown mode, OPTIONAL on a client).
 */
int aiotp_tls_context_set_verify(aiotp_tls_context *ctx, aiotp_tls_verify mode);

/**
 * Check the server's certificate against the connection's server_hostname (a client
 * context; Python's check_hostname). On by default; turning it on needs verification
 * (#AIOTP_TLS_VERIFY_REQUIRED).
 * @param ctx the context.
 * @param on on or off.
 * @return 0, #AIOTP_EINVAL (NULL, a server context, on without verification).
 */
int aiotp_tls_context_set_check_hostname(aiotp_tls_context *ctx, bool on);

/**
 * The protocols offered (client) or accepted (server) through ALPN, most preferred
 * first (Python's set_alpn_protocols); a server picks the first of its list the client
 * offers, and goes on without ALPN when there is none in common.
 * @param ctx the context.
 * @param protos the protocol names ("h2", "http/1.1"), each 1 to 255 bytes.
 * @param n their number; 0 turns ALPN off.
 * @return 0, #AIOTP_EINVAL (NULL context, protos NULL with n > 0, a bad name),
 *         #AIOTP_ENOMEM.
 */
int aiotp_tls_context_set_alpn_protocols(aiotp_tls_context *ctx, const char *const *protos,
                                         size_t n);

/**
 * Bound the protocol versions (Python's minimum_version, maximum_version).
 * @param ctx the context.
 * @param min the lowest version (#AIOTP_TLS_VERSION_ANY: TLS 1.2).
 * @param max the highest (#AIOTP_TLS_VERSION_ANY: no bound).
 * @return 0, #AIOTP_EINVAL (NULL, an unknown version, min above max).
 */
int aiotp_tls_context_set_versions(aiotp_tls_context *ctx, aiotp_tls_version min,
                                   aiotp_tls_version max);

/**
 * The OpenSSL context underneath, for what this API does not cover (cipher lists, session
 * caches, ...): an `SSL_CTX *`. Changes made there apply to connections made afterwards.
 * @param ctx the context.
 * @return the `SSL_CTX *` (as void *), NULL for NULL.
 */
void *aiotp_tls_context_ssl_ctx(const aiotp_tls_context *ctx);

/* ---- TLS transports ------------------------------------------------------------------- */

/** The negotiated cipher, the value of "cipher" (Python's SSLSocket.cipher() 3-tuple). */
typedef struct aiotp_tls_cipher {
    const char *name;    /**< the cipher suite's name ("TLS_AES_256_GCM_SHA384") */
    const char *version; /**< the protocol version ("TLSv1.3") */
    int bits;            /**< the secret bits */
} aiotp_tls_cipher;

/** Options of aiotp_loop_start_tls(); aiotp_tls_start_options_init() fills the defaults. */
typedef struct aiotp_tls_start_options {
    size_t size;                  /**< sizeof(aiotp_tls_start_options) */
    bool server_side;             /**< be the server of the handshake (default false) */
    const char *server_hostname;  /**< client: SNI and hostname check (NULL: none, which a
                                       client context with the hostname check refuses) */
    aiotp_time tls_handshake_timeout; /**< 0: 60 s; negative: refused */
    aiotp_time tls_shutdown_timeout;  /**< 0: 30 s; negative: refused */
} aiotp_tls_start_options;

/**
 * Fill the defaults: size, client side, no server_hostname, timeouts 0 (60 s, 30 s).
 * @param opts the options (NULL: nothing happens).
 */
void aiotp_tls_start_options_init(aiotp_tls_start_options *opts);

/**
 * loop.start_tls(): upgrade an open stream transport to TLS. The TLS layer becomes the
 * stream transport's protocol (from its next read event; bytes already delivered stay
 * delivered) and a new TLS transport carries (proto, data) above it. The protocol gets
 * no connection_made (it was connected on the stream transport: CPython's
 * call_connection_made=False); cb gets the TLS transport once the handshake completed,
 * or the failure and NULL. The stream transport must not be used by the caller any more
 * (as in CPython); it is closed with the TLS transport.
 * @param loop the loop.
 * @param t an open stream transport (#AIOTP_TRANSPORT_STREAM, not closing, no write_eof).
 * @param proto the protocol of the TLS transport (STREAMING or BUFFERED).
 * @param data its per-connection data.
 * @param ctx the context (client or server, as opts->server_side says).
 * @param opts options, or NULL for the defaults (a client).
 * @param cb the completion (required): called once, from a callback of the stream
 *        transport or the loop, never inside this call.
 * @param cb_arg its argument.
 * @param out receives the TLS transport at once, or NULL: writes made before the
 *        handshake completes are queued and sent after it (TLS-WRITE-1); close() before it
 *        aborts the connection; the pointer is valid until the completion has returned
 *        (failure) or until connection_lost.
 * @return 0 (started), #AIOTP_EINVAL (NULL argument, not a stream transport, a bad table,
 *         bad options, a context for the other side), #AIOTP_ECLOSED (t is closing or
 *         closed, or write_eof() was called), #AIOTP_ENOMEM, #AIOTP_ETLS. On an error
 *         nothing changed.
 */
int aiotp_loop_start_tls(aiotp_loop *loop, aiotp_transport *t, const aiotp_protocol *proto,
                         void *data, const aiotp_tls_context *ctx,
                         const aiotp_tls_start_options *opts, aiotp_connect_cb cb,
                         void *cb_arg, aiotp_transport **out);

/**
 * The read-side limits: the encrypted bytes received and not yet decrypted for the
 * protocol (while it pauses reading, or a record is incomplete). At or above high the
 * stream transport below is paused, at or below low resumed (CPython's
 * set_read_buffer_limits; derivation as set_write_buffer_limits: neither -> 256 KiB /
 * 64 KiB, only high -> low = high / 4, only low -> high = 4 * low).
 * @param t a TLS transport.
 * @param high the high-water mark, or #AIOTP_LIMIT_NONE.
 * @param low the low-water mark, or #AIOTP_LIMIT_NONE.
 * @return 0, #AIOTP_EINVAL (NULL, invalid limits: nothing changes), #AIOTP_ENOTSUP (not a
 *         TLS transport).
 */
int aiotp_tls_set_read_buffer_limits(aiotp_transport *t, int64_t high, int64_t low);

/**
 * The read-side limits, low first (CPython's get_read_buffer_limits).
 * @param t a TLS transport.
 * @param low receives the low-water mark.
 * @param high receives the high-water mark.
 * @return 0, #AIOTP_EINVAL (a NULL argument), #AIOTP_ENOTSUP (not a TLS transport).
 */
int aiotp_tls_get_read_buffer_limits(const aiotp_transport *t, size_t *low, size_t *high);

/**
 * The encrypted bytes received and not yet decrypted (CPython's get_read_buffer_size).
 * @param t a TLS transport.
 * @return the count; 0 for NULL, another kind, and after connection_lost.
 */
size_t aiotp_tls_get_read_buffer_size(const aiotp_transport *t);

AIOTP_END_DECLS

#endif /* AIOTP_TLS_H */
