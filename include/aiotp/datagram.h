/**
 * @file
 * @brief Datagram endpoints (UDP and Unix datagram sockets): the loop method
 * create_datagram_endpoint.
 *
 * The transport it makes is an aiotp_transport of kind AIOTP_TRANSPORT_DATAGRAM
 * (aiotp/transport.h: aiotp_transport_sendto, close, abort, the write-buffer limits and
 * pause/resume_reading) and its protocol a table of kind AIOTP_PROTOCOL_DATAGRAM
 * (aiotp/protocol.h: datagram_received, error_received). Completion model, socket
 * ownership and error codes as the other loop methods (aiotp/server.h): the method
 * returns 0 when the operation started, and the completion is called once, from the loop,
 * after the protocol's connection_made, with status 0 and the transport, or with a
 * negative status and NULL. A pending endpoint can be cancelled (opts->op,
 * aiotp_loop_cancel_op()): the completion then gets #AIOTP_ECANCELED.
 */
#ifndef AIOTP_DATAGRAM_H
#define AIOTP_DATAGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include "aiotp/loop.h"
#include "aiotp/protocol.h"
#include "aiotp/server.h"
#include "aiotp/export.h"
#include "aiotp/transport.h"

AIOTP_BEGIN_DECLS

/** Options of create_datagram_endpoint (aiotp_datagram_options_init() sets the defaults). */
typedef struct aiotp_datagram_options {
    size_t size;          /**< sizeof(aiotp_datagram_options), or
                               #AIOTP_DATAGRAM_OPTIONS_SIZE_V1 */
    int family;           /**< AF_UNSPEC (0), AF_INET, AF_INET6 (AF_UNIX: the unix variant) */
    int proto;            /**< protocol number for socket() and name resolution; default 0 */
    int flags;            /**< getaddrinfo() ai_flags for name resolution; default 0 */
    bool reuse_port;      /**< SO_REUSEPORT; default false */
    bool allow_broadcast; /**< SO_BROADCAST; with a remote address the socket is then not
                               connected, the address is only the default destination */
    int sock;             /**< an existing SOCK_DGRAM socket to wrap, or -1 */
    /* ---- since 0.2 (options of size AIOTP_DATAGRAM_OPTIONS_SIZE_V1 end above) ---- */
    aiotp_op *op;         /**< receives the operation's number for aiotp_loop_cancel_op()
                               when the method returns 0; NULL: not wanted */
} aiotp_datagram_options;

/** Size of the first layout of #aiotp_datagram_options (up to `sock`), still accepted. */
#define AIOTP_DATAGRAM_OPTIONS_SIZE_V1 (offsetof(aiotp_datagram_options, op))

/**
 * Set the defaults: family AF_UNSPEC, proto 0, flags 0, reuse_port and allow_broadcast
 * false, sock -1, op NULL.
 * @param opts the options (NULL: nothing happens).
 */
void aiotp_datagram_options_init(aiotp_datagram_options *opts);

/**
 * Make a UDP endpoint (CPython loop.create_datagram_endpoint).
 *
 * local_host / local_port: bind to this address (local_host NULL: no local address;
 * "" : every interface). remote_host / remote_port: connect the socket to this address
 * (remote_host NULL: none), so that sendto() without an address sends there, datagrams
 * from other addresses are not received, and errors reported by the network for that
 * peer (an ICMP port unreachable) reach error_received. Names are resolved the way
 * create_connection resolves them; each (local, remote) pair of the same family is tried
 * in turn and the first that works is used. At least one address, or opts->family, must
 * be given. opts->sock >= 0 wraps an existing SOCK_DGRAM socket instead: then every
 * address and every other option must be left unset.
 *
 * Completion statuses: the error of resolving (#AIOTP_ENONAME, ...) or of
 * socket/bind/connect (-EADDRINUSE, -EADDRNOTAVAIL, ...), #AIOTP_EAI_FAMILY when no
 * local and remote address share a family, #AIOTP_EPROTOKIND / #AIOTP_EINVAL for a
 * factory table that is not a DATAGRAM table (also named in the exception handler), or
 * the factory's own error.
 *
 * @param loop the loop.
 * @param factory called once, when the socket is ready.
 * @param factory_arg its argument.
 * @param local_host the local address (NULL: none; "": every interface).
 * @param local_port its port (0: an ephemeral port).
 * @param remote_host the remote address (NULL: none).
 * @param remote_port its port.
 * @param opts options (NULL: the defaults).
 * @param cb the completion.
 * @param cb_arg its argument.
 * @return 0 (the completion follows), or without calling it: #AIOTP_EINVAL (loop, factory
 *         or cb NULL; a port outside 0..65535; no address and no family; an unknown
 *         family; sock with addresses or options; sock not SOCK_DGRAM), #AIOTP_EBADF or
 *         -ENOTSOCK (sock is not an open socket), #AIOTP_EBUSY (sock belongs to a live
 *         transport or server), #AIOTP_ENOMEM.
 */
int aiotp_loop_create_datagram_endpoint(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                        void *factory_arg, const char *local_host,
                                        int local_port, const char *remote_host,
                                        int remote_port, const aiotp_datagram_options *opts,
                                        aiotp_connect_cb cb, void *cb_arg);

/**
 * The same for an AF_UNIX datagram socket: bind to local_path (a stale socket file at that
 * path is removed first, as create_unix_server does) and connect to remote_path.
 * @param loop the loop.
 * @param factory called once, when the socket is ready.
 * @param factory_arg its argument.
 * @param local_path the path to bind (NULL: unnamed).
 * @param remote_path the path to connect to (NULL: none).
 * @param opts options (NULL: the defaults; family AF_UNSPEC or AF_UNIX).
 * @param cb the completion.
 * @param cb_arg its argument.
 * @return as aiotp_loop_create_datagram_endpoint(); #AIOTP_EINVAL also for an empty or
 *         too long path.
 */
int aiotp_loop_create_unix_datagram_endpoint(aiotp_loop *loop,
                                             aiotp_protocol_factory_fn factory,
                                             void *factory_arg, const char *local_path,
                                             const char *remote_path,
                                             const aiotp_datagram_options *opts,
                                             aiotp_connect_cb cb, void *cb_arg);

AIOTP_END_DECLS

#endif /* AIOTP_DATAGRAM_H */
