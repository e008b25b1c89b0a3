/*
 * aiotp/server.h - connection-oriented loop methods and servers.
 *
 * Completion model (spec/rules.md, METH-1): every asynchronous loop method takes
 * a completion callback and its argument. The method returns 0 when the operation has
 * started; the callback is then called exactly once, from the loop, with status 0 and
 * the result, or a negative status (-ECONNREFUSED, -ENETUNREACH, AIOTP_ENONAME, ...)
 * and NULL. If the method returns a negative code (invalid arguments, no memory) the
 * operation did not start and the callback is never called.
 *
 * Socket ownership: a socket passed in (opts->sock, connect_accepted_socket) stays the
 * caller's when the method returns an error; once the method has returned 0 it belongs
 * to the library, which closes it if the operation then fails.
 *
 * For connections, the completion runs after the protocol's connection_made, in the
 * same iteration (CPython: create_connection returns after connection_made).
 */
#ifndef AIOTP_SERVER_H
#define AIOTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "aiotp/loop.h"
#include "aiotp/protocol.h"
#include "aiotp/transport.h"

typedef void (*aiotp_connect_cb)(void *arg, int status, aiotp_transport *t);
typedef void (*aiotp_server_cb)(void *arg, int status, aiotp_server *server);

typedef struct aiotp_connect_options {
    size_t size;  /* sizeof(aiotp_connect_options) */
    int family;   /* AF_UNSPEC (0), AF_INET or AF_INET6 */
    int sock;     /* an existing connected stream socket to wrap, or -1 */
} aiotp_connect_options;

/* Defaults: family AF_UNSPEC, sock -1. */
void aiotp_connect_options_init(aiotp_connect_options *opts);

/*
 * Open a TCP connection to host:port (resolved with getaddrinfo; each address is tried
 * in turn), or, with opts->sock >= 0 and host NULL, wrap an existing connected socket.
 * factory is called once, when the connection is established.
 */
int aiotp_loop_create_connection(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                 void *factory_arg, const char *host, int port,
                                 const aiotp_connect_options *opts, aiotp_connect_cb cb,
                                 void *cb_arg);

/* The same for a Unix stream socket at `path` (or opts->sock with path NULL). */
int aiotp_loop_create_unix_connection(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                      void *factory_arg, const char *path,
                                      const aiotp_connect_options *opts,
                                      aiotp_connect_cb cb, void *cb_arg);

/* Wrap a socket returned by accept() (SOCK_STREAM); the server-side transport has no
   server object. */
int aiotp_loop_connect_accepted_socket(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                       void *factory_arg, int sock, aiotp_connect_cb cb,
                                       void *cb_arg);

typedef struct aiotp_server_options {
    size_t size;        /* sizeof(aiotp_server_options) */
    int family;         /* AF_UNSPEC, AF_INET, AF_INET6 */
    int backlog;        /* listen() backlog and accepts per wakeup; default 100 */
    bool reuse_address; /* SO_REUSEADDR; default true (POSIX) */
    bool reuse_port;    /* SO_REUSEPORT; default false */
    bool start_serving; /* start accepting at once; default true */
    int sock;           /* an existing listening socket to use, or -1 */
} aiotp_server_options;

void aiotp_server_options_init(aiotp_server_options *opts);

/*
 * Listen on host:port (host NULL: all interfaces; port 0: an ephemeral port) with one
 * listening socket per resolved address (IPV6_V6ONLY on AF_INET6). factory is called
 * once per accepted connection.
 */
int aiotp_loop_create_server(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                             void *factory_arg, const char *host, int port,
                             const aiotp_server_options *opts, aiotp_server_cb cb,
                             void *cb_arg);

/* Listen on a Unix socket path; an existing socket file at path is removed first. */
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
/* Stop listening and close the listening sockets; existing connections are not
   touched. Returns 0, or AIOTP_ECLOSED if already closed. */
int aiotp_server_close(aiotp_server *s);
bool aiotp_server_is_serving(const aiotp_server *s);
/* Start accepting (for start_serving = false). 0, or AIOTP_ECLOSED. */
int aiotp_server_start_serving(aiotp_server *s);
/* Call cb(arg, 0, s) once the server is closed and its last connection has been lost
   (CPython 3.12.1+ semantics; spec/deviations.md), never inside this call. Returns 0 or
   AIOTP_ENOMEM (then cb is never called); once it returned 0 the completion needs no
   more memory and cannot be lost. */
int aiotp_server_wait_closed(aiotp_server *s, aiotp_server_cb cb, void *arg);
/* Start serving and run the loop until the server is closed. Returns 0, AIOTP_ECLOSED
   (already closed) or the loop's error (AIOTP_ERUNNING inside a running loop). */
int aiotp_server_serve_forever(aiotp_server *s);
/* Listening sockets: stores up to cap fds, returns how many there are (0 once
   closed). */
size_t aiotp_server_get_sockets(const aiotp_server *s, int *fds, size_t cap);
/* Local address of listening socket i. 0, AIOTP_EINVAL or -errno. */
int aiotp_server_get_sockname(const aiotp_server *s, size_t i, struct sockaddr *addr,
                              socklen_t *len);
/* Live connections accepted by this server. */
size_t aiotp_server_active_connections(const aiotp_server *s);
aiotp_loop *aiotp_server_get_loop(const aiotp_server *s);
void aiotp_server_retain(aiotp_server *s);
void aiotp_server_release(aiotp_server *s);

#endif /* AIOTP_SERVER_H */
