/**
 * @file
 * @brief Connection-oriented loop methods (create_connection, create_server, ...) and
 * servers.
 *
 * Completion model (spec/rules.md, METH-1): every asynchronous loop method takes
 * a completion callback and its argument. The method returns 0 when the operation has
 * started; the callback is then called exactly once, from the loop, with status 0 and
 * the result, or a negative status (-ECONNREFUSED, -ENETUNREACH, #AIOTP_ENONAME, ...)
 * and NULL. If the method returns a negative code (invalid arguments, no memory) the
 * operation did not start and the callback is never called.
 *
 * Cancelling: each method stores the number of its pending operation in the `op` field
 * of its options (when not NULL); aiotp_loop_cancel_op() cancels it, and the completion
 * then runs once with #AIOTP_ECANCELED (loop.h). create_connection also takes a timeout
 * (aiotp_connect_options.timeout): the completion then runs with -ETIMEDOUT.
 *
 * Socket ownership: a socket passed in (opts->sock, connect_accepted_socket) stays the
 * caller's when the method returns an error; once the method has returned 0 it belongs
 * to the library, which closes it if the operation then fails.
 *
 * For connections, the completion runs after the protocol's connection_made, in the
 * same iteration (CPython: create_connection returns after connection_made).
 *
 * **Name resolution never blocks the loop.** A host that is not a numeric address
 * ("localhost", "example.org") is resolved by the loop's resolver in a worker thread;
 * the loop keeps running meanwhile and the operation goes on when the result arrives
 * (RESOLVE-2). Numeric addresses ("127.0.0.1", "::1") are resolved on the loop thread at
 * once. (A loop made with a syscall table of its own and no resolver resolves through
 * that table on the loop thread, as loop.h says.)
 */
#ifndef AIOTP_SERVER_H
#define AIOTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "aiotp/export.h"
#include "aiotp/loop.h"
#include "aiotp/protocol.h"
#include "aiotp/transport.h"

AIOTP_BEGIN_DECLS

/**
 * Completion of a connection method, called once from the loop.
 * @param arg the argument given with the callback.
 * @param status 0, or the error (the transport is then NULL).
 * @param t the connected transport, after its connection_made; valid until its
 *        connection_lost has returned.
 */
typedef void (*aiotp_connect_cb)(void *arg, int status, aiotp_transport *t);
/**
 * Completion of a server method (create_server, wait_closed), called once from the
 * loop.
 * @param arg the argument given with the callback.
 * @param status 0, or the error (the server is then NULL).
 * @param server the server.
 */
typedef void (*aiotp_server_cb)(void *arg, int status, aiotp_server *server);

/**
 * Options of the connection methods; aiotp_connect_options_init() fills the defaults.
 *
 * Versioning: `size` is sizeof(aiotp_connect_options) of the caller's build. Options of
 * the first layout (size #AIOTP_CONNECT_OPTIONS_SIZE_V1, up to `sock`) are still taken:
 * the fields after their end are never read and mean "no TLS". Any other size is refused
 * (#AIOTP_EINVAL).
 *
 * TLS (the optional library aiotp_tls, aiotp/tls.h): with `tls` set the connection is a
 * TLS transport (#AIOTP_TRANSPORT_TLS) over the stream transport of the socket; the
 * factory's protocol gets connection_made once the handshake has completed, and the
 * completion runs after it, or gets the handshake's failure (spec/tls-transport.md). The
 * timeouts are CPython's ssl_handshake_timeout and ssl_shutdown_timeout; 0 means "not
 * given" (CPython's None: 60 s and 30 s).
 */
typedef struct aiotp_connect_options {
    size_t size;        /**< sizeof(aiotp_connect_options), or
                             #AIOTP_CONNECT_OPTIONS_SIZE_V1 */
    int family;         /**< AF_UNSPEC (0), AF_INET or AF_INET6 */
    int sock;           /**< an existing connected stream socket to wrap, or -1 */
    /* ---- since 0.2 (options of size AIOTP_CONNECT_OPTIONS_SIZE_V1 end above) ---- */
    aiotp_time timeout; /**< > 0: the whole operation (resolving, every attempt) must end
                             within this many ns, else the completion gets -ETIMEDOUT
                             (OP-3); 0: no limit (the kernel's own connect timeout) */
    aiotp_op *op;       /**< receives the operation's number for aiotp_loop_cancel_op()
                             when the method returns 0; NULL: not wanted */
    const aiotp_tls_context *tls; /**< a client context (server side for
                                       aiotp_loop_connect_accepted_socket_opts()): the
                                       connection is TLS; NULL: plain (the default) */
    const char *server_hostname;  /**< TLS client: the name sent in SNI and checked against
                                       the certificate; NULL: `host` (required for a
                                       socket or a Unix path); "": neither; never with a
                                       plain connection */
    aiotp_time tls_handshake_timeout; /**< TLS: handshake timeout in ns; 0: 60 s; only with
                                           `tls`; negative: refused */
    aiotp_time tls_shutdown_timeout;  /**< TLS: close_notify exchange timeout in ns; 0: 30 s;
                                           only with `tls`; negative: refused */
} aiotp_connect_options;

/** Size of the first layout of #aiotp_connect_options (up to `sock`), still accepted. */
#define AIOTP_CONNECT_OPTIONS_SIZE_V1 (offsetof(aiotp_connect_options, timeout))

/**
 * Fill the defaults: size, family AF_UNSPEC, sock -1, timeout 0, op NULL, no TLS (tls and
 * server_hostname NULL, TLS timeouts 0).
 * @param opts the options (NULL: nothing happens).
 */
void aiotp_connect_options_init(aiotp_connect_options *opts);

/**
 * Open a TCP connection to host:port (resolved without blocking the loop: see above), or,
 * with opts->sock >= 0 and host NULL, wrap an existing connected socket. Each resolved
 * address is tried in turn, in the resolver's order, until one connects (METH-4); when
 * every one fails the completion gets their error if they all failed with the same one,
 * else #AIOTP_EMULTIPLE (CPython: OSError('Multiple exceptions: ...'); METH-5). factory
 * is called once, when the connection is established; then connection_made, then cb.
 * @param loop the loop.
 * @param factory makes the protocol.
 * @param factory_arg its argument.
 * @param host the host name or numeric address (NULL with opts->sock).
 * @param port 0..65535.
 * @param opts options, or NULL for the defaults.
 * @param cb the completion (required).
 * @param cb_arg its argument.
 * @return 0 (started), #AIOTP_EINVAL (NULL loop, factory or cb; port out of range;
 *         host and sock together, or neither; bad opts size), #AIOTP_ENOMEM, or the
 *         error of checking opts->sock (-EBADF, -ENOTSOCK, #AIOTP_EINVAL when not a
 *         stream socket), #AIOTP_EINVAL also for a negative timeout. Later failures
 *         arrive through cb: -ECONNREFUSED, -ENETUNREACH, #AIOTP_ENONAME,
 *         #AIOTP_EAI_AGAIN, #AIOTP_EMULTIPLE, -ETIMEDOUT, #AIOTP_ECANCELED, a failing
 *         factory's status...
 */
int aiotp_loop_create_connection(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                 void *factory_arg, const char *host, int port,
                                 const aiotp_connect_options *opts, aiotp_connect_cb cb,
                                 void *cb_arg);

/**
 * The same as aiotp_loop_create_connection() for a Unix stream socket at `path` (or
 * opts->sock with path NULL).
 * @param loop the loop.
 * @param factory makes the protocol.
 * @param factory_arg its argument.
 * @param path the socket's path (NULL with opts->sock).
 * @param opts options, or NULL (family is ignored).
 * @param cb the completion (required).
 * @param cb_arg its argument.
 * @return 0 (started), #AIOTP_EINVAL (as create_connection; a path too long for
 *         sockaddr_un), #AIOTP_ENOMEM. Later failures through cb (-ENOENT,
 *         -ECONNREFUSED, ...).
 */
int aiotp_loop_create_unix_connection(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                      void *factory_arg, const char *path,
                                      const aiotp_connect_options *opts,
                                      aiotp_connect_cb cb, void *cb_arg);

/**
 * Wrap a socket returned by accept() (SOCK_STREAM); the server-side transport has no
 * server object.
 * @param loop the loop.
 * @param factory makes the protocol.
 * @param factory_arg its argument.
 * @param sock the accepted socket; the library's once this returns 0.
 * @param cb the completion (required).
 * @param cb_arg its argument.
 * @return 0 (started), #AIOTP_EINVAL (NULL argument, not a stream socket), -EBADF,
 *         -ENOTSOCK, #AIOTP_ENOMEM. (The fd of a live transport is not refused today:
 *         never pass one.)
 */
int aiotp_loop_connect_accepted_socket(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                       void *factory_arg, int sock, aiotp_connect_cb cb,
                                       void *cb_arg);

/**
 * aiotp_loop_connect_accepted_socket() with options: CPython's
 * connect_accepted_socket(..., ssl=, ssl_handshake_timeout=, ssl_shutdown_timeout=).
 * With opts->tls (a server context) the transport is the server side of a TLS
 * connection, handed to cb after the handshake and connection_made.
 * @param loop the loop.
 * @param factory makes the protocol.
 * @param factory_arg its argument.
 * @param sock the accepted socket; the library's once this returns 0.
 * @param opts options, or NULL: only `tls` and the two timeouts are read; `family` must be
 *        AF_UNSPEC, `sock` -1 and `server_hostname` NULL.
 * @param cb the completion (required).
 * @param cb_arg its argument.
 * @return the same as aiotp_loop_connect_accepted_socket(); #AIOTP_EINVAL also for bad
 *         options (size, a field that does not apply, a negative timeout, a timeout
 *         without `tls`, a client context).
 */
int aiotp_loop_connect_accepted_socket_opts(aiotp_loop *loop,
                                            aiotp_protocol_factory_fn factory,
                                            void *factory_arg, int sock,
                                            const aiotp_connect_options *opts,
                                            aiotp_connect_cb cb, void *cb_arg);

/**
 * Options of the server methods; aiotp_server_options_init() fills the defaults.
 * Versioned like #aiotp_connect_options: options of the first layout (size
 * #AIOTP_SERVER_OPTIONS_SIZE_V1) are still taken and mean "no TLS". With `tls` (a server
 * context) every accepted connection is a TLS transport whose protocol gets
 * connection_made after its handshake; a failed handshake calls no protocol callback and
 * is reported to the exception handler in debug mode only (as a failing factory, SRV-4).
 */
typedef struct aiotp_server_options {
    size_t size;        /**< sizeof(aiotp_server_options), or
                             #AIOTP_SERVER_OPTIONS_SIZE_V1 */
    int family;         /**< AF_UNSPEC, AF_INET, AF_INET6 */
    int backlog;        /**< listen() backlog and accepts per wakeup; default 100 */
    bool reuse_address; /**< SO_REUSEADDR; default true (POSIX) */
    bool reuse_port;    /**< SO_REUSEPORT; default false */
    bool start_serving; /**< start accepting at once; default true */
    int sock;           /**< an existing listening socket to use, or -1 */
    /* ---- since 0.2 (options of size AIOTP_SERVER_OPTIONS_SIZE_V1 end above) ---- */
    aiotp_op *op;       /**< receives the operation's number for aiotp_loop_cancel_op()
                             when the method returns 0; NULL: not wanted */
    const aiotp_tls_context *tls;     /**< a server context: TLS connections; NULL: plain */
    aiotp_time tls_handshake_timeout; /**< TLS: handshake timeout in ns; 0: 60 s */
    aiotp_time tls_shutdown_timeout;  /**< TLS: close_notify exchange timeout in ns; 0: 30 s */
} aiotp_server_options;

/** Size of the first layout of #aiotp_server_options (up to `sock`), still accepted. */
#define AIOTP_SERVER_OPTIONS_SIZE_V1 (offsetof(aiotp_server_options, op))

/**
 * Fill the defaults: size, family AF_UNSPEC, backlog 100, reuse_address true,
 * reuse_port false, start_serving true, sock -1, op NULL, no TLS (tls NULL, timeouts 0).
 * @param opts the options (NULL: nothing happens).
 */
void aiotp_server_options_init(aiotp_server_options *opts);

/**
 * Listen on host:port (host NULL: all interfaces; port 0: an ephemeral port) with one
 * listening socket per resolved address (IPV6_V6ONLY on AF_INET6), or on the existing
 * listening socket opts->sock (host NULL). factory is called once per accepted
 * connection; each connection's protocol gets connection_made, there is no per-
 * connection completion.
 * @param loop the loop.
 * @param factory makes each connection's protocol.
 * @param factory_arg its argument.
 * @param host the host name or numeric address; NULL for all interfaces (a name is
 *        resolved without blocking the loop: see above).
 * @param port 0..65535.
 * @param opts options, or NULL for the defaults.
 * @param cb the completion: the server once listening, or the error (-EADDRINUSE...).
 * @param cb_arg its argument.
 * @return 0 (started), #AIOTP_EINVAL (NULL loop, factory or cb; port out of range;
 *         host with opts->sock; bad options), #AIOTP_ENOMEM, or the error of checking
 *         opts->sock.
 */
int aiotp_loop_create_server(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                             void *factory_arg, const char *host, int port,
                             const aiotp_server_options *opts, aiotp_server_cb cb,
                             void *cb_arg);

/**
 * Listen on a Unix socket path; an existing socket file at path is removed first.
 * @param loop the loop.
 * @param factory makes each connection's protocol.
 * @param factory_arg its argument.
 * @param path the socket's path (NULL with opts->sock).
 * @param opts options, or NULL for the defaults.
 * @param cb the completion: the server once listening, or the error.
 * @param cb_arg its argument.
 * @return the same as aiotp_loop_create_server(); #AIOTP_EINVAL also for a path too
 *         long for sockaddr_un.
 */
int aiotp_loop_create_unix_server(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                  void *factory_arg, const char *path,
                                  const aiotp_server_options *opts, aiotp_server_cb cb,
                                  void *cb_arg);

/*
 * Server lifetime (spec/rules.md, SRV-10): the loop owns the server, and keeps it valid
 * without retain() through the documented sequence: close() (also from its own protocol
 * factory), then wait_closed() from any later callback (also from inside a wait_closed
 * completion). The loop lets go after the pass in which the last pending wait_closed
 * completion ran; a server nobody waits for stays (closed, no sockets) until the loop is
 * freed. retain/release keep the object valid beyond that (release() gives back only
 * what retain() took).
 */
/**
 * Stop listening and close the listening sockets; existing connections are not
 * touched (aiotp_server_close_clients() ends them, aiotp_loop_close_all() ends
 * everything).
 * @param s the server.
 * @return 0, #AIOTP_ECLOSED if already closed, #AIOTP_EINVAL (NULL).
 */
int aiotp_server_close(aiotp_server *s);
/**
 * Close every connection this server accepted whose connection_lost has not run
 * (asyncio 3.13's Server.close_clients()): aiotp_transport_close() on each (buffers
 * are flushed first); each protocol then gets its connection_lost from the loop. The
 * server itself keeps listening unless it was closed (CLOSE-4).
 * @param s the server.
 * @return the number of transports closed by this call, #AIOTP_EINVAL (NULL).
 */
int aiotp_server_close_clients(aiotp_server *s);
/**
 * The same with aiotp_transport_abort() (asyncio 3.13's Server.abort_clients()): queued
 * data is dropped.
 * @param s the server.
 * @return the number of transports aborted by this call, #AIOTP_EINVAL (NULL).
 */
int aiotp_server_abort_clients(aiotp_server *s);
/**
 * Whether the server is accepting.
 * @param s the server.
 * @return true while serving; false before start_serving, once closed, and for NULL.
 */
bool aiotp_server_is_serving(const aiotp_server *s);
/**
 * Start accepting (for start_serving = false).
 * @param s the server.
 * @return 0 (also when already serving), #AIOTP_ECLOSED, #AIOTP_EINVAL (NULL), or the
 *         backend's error.
 */
int aiotp_server_start_serving(aiotp_server *s);
/**
 * Call cb(arg, 0, s) once the server is closed and its last connection has been lost
 * (CPython 3.12.1+ semantics; spec/deviations.md), never inside this call. Once it
 * returned 0 the completion needs no more memory and cannot be lost.
 * @param s the server.
 * @param cb the callback (required).
 * @param arg its argument.
 * @return 0, #AIOTP_EINVAL (NULL), #AIOTP_ENOMEM (then cb is never called) or
 *         #AIOTP_ECLOSED (a retained server whose loop was freed: nothing can complete).
 */
int aiotp_server_wait_closed(aiotp_server *s, aiotp_server_cb cb, void *arg);
/**
 * Start serving and run the loop until the server is closed.
 * @param s the server.
 * @return 0, #AIOTP_ECLOSED (already closed) or the loop's error (#AIOTP_ERUNNING
 *         inside a running loop or inside a transport method's callback: LOOP-11).
 */
int aiotp_server_serve_forever(aiotp_server *s);
/**
 * The listening sockets.
 * @param s the server.
 * @param fds receives up to cap fds; may be NULL with cap 0.
 * @param cap room in fds.
 * @return how many there are (may be more than cap; 0 once closed).
 */
size_t aiotp_server_get_sockets(const aiotp_server *s, int *fds, size_t cap);
/**
 * Local address of listening socket i (e.g. to learn the port chosen for port 0).
 * @param s the server.
 * @param i index among the listening sockets.
 * @param addr receives the address.
 * @param len in: room in addr; out: the address length.
 * @return 0, #AIOTP_EINVAL (NULL argument, i out of range) or -errno.
 */
int aiotp_server_get_sockname(const aiotp_server *s, size_t i, struct sockaddr *addr,
                              socklen_t *len);
/**
 * Live connections accepted by this server.
 * @param s the server.
 * @return their number (0 for NULL).
 */
size_t aiotp_server_active_connections(const aiotp_server *s);
/**
 * The loop that owns the server.
 * @param s the server.
 * @return the loop; NULL for NULL and once the loop was freed (a retained server).
 */
aiotp_loop *aiotp_server_get_loop(const aiotp_server *s);
/**
 * Keep the server object valid for queries after it is closed and its last connection
 * is gone, also after aiotp_loop_free() (which then closes it and leaves the memory to
 * the last release: LIFE-1); one aiotp_server_release() per retain.
 * @param s the server (NULL: nothing happens).
 */
void aiotp_server_retain(aiotp_server *s);
/**
 * Drop a reference taken with aiotp_server_retain().
 * @param s the server (NULL, or no reference held: nothing happens).
 */
void aiotp_server_release(aiotp_server *s);

AIOTP_END_DECLS

#endif /* AIOTP_SERVER_H */
