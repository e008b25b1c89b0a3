/**
 * @file
 * @brief A deterministic simulated kernel (library aiotp_sim): a syscall table and a
 * readiness backend over one in-memory object.
 *
 * A syscall table (aiotp/sys.h) and a readiness backend (aiotp/backend.h) over one
 * in-memory object, for tests and fuzzing. It is a library of its own (`aiotp::sim`,
 * `-laiotp_sim`, pkg-config `aiotp-sim`), not part of libaiotp.
 *
 * @verbatim
 * What it models:
 *   - stream sockets with fake fd numbers (the lowest free number >= 3, as a process
 *     would get them): connected pairs (aiotp_sim_socketpair, or connect/accept on the
 *     virtual network below), unconnected sockets and listening sockets;
 *   - each direction of a connection is a bounded byte queue; its capacity (the sender's
 *     "socket buffer") is per direction and can be changed at any time;
 *   - recv/send/sendmsg/read/write/writev, shutdown, close, getsockname/getpeername,
 *     getsockopt, setsockopt, set_nonblock (see "Socket options" and "Semantics");
 *   - a virtual network on one host (see "The virtual network"): socket, bind, listen,
 *     accept, connect for AF_INET, AF_INET6 and AF_UNIX, getaddrinfo for numeric hosts
 *     and "localhost", unlink_socket for Unix socket paths;
 *   - readiness computed from the queues (see "Readiness" below);
 *   - virtual time: clock_ns returns the simulated clock, which only moves when the
 *     backend's wait() finds nothing ready and has a finite timeout (it then jumps by the
 *     timeout: the loop's next timer), or when the caller advances it;
 *   - a script of one-shot knobs, set by the test or fuzzer between loop passes.
 * There are no real fds, no real time, no threads, no signals (never SIGPIPE): the same
 * calls in the same order give the same results. The sim never blocks: a call that
 * would block on a blocking socket returns -EAGAIN (recv, send, accept) instead.
 *
 * Semantics of one connected endpoint `fd` (its peer is `p`):
 *   recv   pending error (reset)  -> that error, once; then as if the peer had closed
 *          injected recv errors    -> -EINTR / -EAGAIN / any -errno, in order
 *          bytes queued p -> fd    -> up to len of them (MSG_PEEK: left queued; other
 *                                     flags, e.g. MSG_DONTWAIT, are ignored)
 *          p shut its write side, p closed, or fd shut its read side -> 0 (EOF)
 *          otherwise                -> -EAGAIN (the sim never blocks)
 *   send   pending error -> that error, once; injected errors; fd shut its write side or
 *          p closed -> -EPIPE; queue fd -> p full -> -EAGAIN; otherwise
 *          min(len, free space, "next send takes at most N") bytes.
 *   close  frees the number; the peer sees EOF (after the queued bytes) and -EPIPE.
 *          With SO_LINGER {on, 0} on a TCP socket the close resets the connection
 *          instead: the peer's next recv/send/SO_ERROR reports -ECONNRESET (as
 *          aiotp_sim_reset on the peer). Unread bytes do not cause a reset.
 *   getsockname/getpeername: the addresses of the connection (a socketpair's are
 *          unnamed AF_UNIX addresses, family only); getpeername -ENOTCONN once the peer
 *          closed or the connection was reset, or on a socket that is not connected.
 * On a socket that is not connected (unconnected or listening): recv/send return its
 * pending error once (a refused connect), else -ENOTCONN; shutdown -ENOTCONN.
 *
 * The virtual network: every address of the host is 127.0.0.0/8 or ::1 (the wildcard
 * addresses 0.0.0.0 and :: mean "this host"); AF_UNIX paths are names in a table of the
 * sim, not files.
 *   socket   AF_UNIX/AF_INET/AF_INET6 and SOCK_STREAM only (SOCK_NONBLOCK and
 *            SOCK_CLOEXEC accepted; protocol 0 or IPPROTO_TCP), else -EAFNOSUPPORT /
 *            -EPROTONOSUPPORT.
 *   bind     once, on an unconnected socket (else -EINVAL). The address family must be
 *            the socket's (-EAFNOSUPPORT). IP: a non-local address -> -EADDRNOTAVAIL;
 *            port 0 -> an ephemeral port (32768, 32769, ... in order, skipping ports in
 *            use); a port in use -> -EADDRINUSE, where "in use" means an overlapping
 *            address (equal, or either is the wildcard) of the same family bound by a
 *            socket or listener, or used by a connection. SO_REUSEADDR on both lets a
 *            port of a non-listening socket be reused, SO_REUSEADDR alone one that only
 *            connections use; SO_REUSEPORT on both lets any number of sockets bind it.
 *            The IPv4 and IPv6 port spaces are separate (AF_INET6 sockets behave as
 *            IPV6_V6ONLY: no IPv4-mapped addresses). Unix: a non-empty path name
 *            (abstract names are not modelled, -EINVAL); the path exists from bind until
 *            unlink_socket, also after close, and a bind to an existing path fails with
 *            -EADDRINUSE.
 *   listen   makes the socket a listener (an unbound IP socket first gets the wildcard
 *            address and an ephemeral port; an unbound Unix socket -> -EINVAL). Its
 *            backlog holds at most backlog (1 .. 4096) connections not yet accepted.
 *   connect  on an unconnected socket (a connected one -> -EISCONN, a listener ->
 *            -EINVAL). The listener is the first one, in fd order, bound to the
 *            destination (IP: same port, same address or the wildcard; Unix: the path's
 *            current name). A non-local IP destination -> -ENETUNREACH; no path ->
 *            -ENOENT; no listener -> -ECONNREFUSED, except on a non-blocking IP socket,
 *            where connect returns -EINPROGRESS and the socket becomes ready (hangup)
 *            with SO_ERROR ECONNREFUSED, as a real TCP connect. A full backlog: -EAGAIN
 *            (Unix) or as if refused (IP). Otherwise the connection is made at once and
 *            queued on the listener's backlog (the listener turns readable); the client
 *            is connected and may send (the bytes wait for the accept). An unbound
 *            client gets the destination's IP and an ephemeral port (Unix: unnamed).
 *            connect returns 0, or -EINPROGRESS on a non-blocking IP socket (it is
 *            writable at once and SO_ERROR is 0).
 *   accept   the oldest connection of the backlog, as a new non-blocking fd; addr gets
 *            the client's address. An empty backlog -> -EAGAIN; not a listener ->
 *            -EINVAL. The accepted socket has default options. Closing a listener resets
 *            the connections still in its backlog.
 *   getaddrinfo  numeric IPv4/IPv6 hosts, "localhost" (127.0.0.1 then ::1) and a NULL
 *            host (the wildcard addresses with AI_PASSIVE, else loopback), filtered by
 *            hints->ai_family; numeric services only. Results are SOCK_STREAM /
 *            IPPROTO_TCP, allocated with the sim's allocator (free them with the table's
 *            freeaddrinfo). Other names, and a numeric host of another family than
 *            hints asks for -> EAI_NONAME; a non-numeric service -> EAI_SERVICE; a bad
 *            family or socket type -> EAI_FAMILY / EAI_SOCKTYPE.
 *   unlink_socket  removes a Unix path name: 1 if it existed, else 0.
 *
 * Socket options: getsockopt SOL_SOCKET SO_TYPE (SOCK_STREAM), SO_ERROR (the pending
 * error, cleared), SO_ACCEPTCONN, SO_REUSEADDR, SO_REUSEPORT, SO_LINGER, SO_SNDBUF (the
 * capacity of fd -> p), SO_RCVBUF (the capacity of p -> fd); IPPROTO_TCP TCP_NODELAY and
 * IPPROTO_IPV6 IPV6_V6ONLY; anything else -ENOPROTOOPT. setsockopt stores SO_REUSEADDR,
 * SO_REUSEPORT, SO_LINGER, TCP_NODELAY, IPV6_V6ONLY; SO_SNDBUF (SO_SNDBUFFORCE) sets the
 * capacity of fd -> p and SO_RCVBUF (SO_RCVBUFFORCE) the capacity of p -> fd to the value
 * given (at least 1; not doubled; on a socket not yet connected, when it connects); other
 * SOL_SOCKET options (and other levels) are accepted and ignored. IPPROTO_TCP options on
 * a Unix socket -> -EOPNOTSUPP, IPPROTO_IPV6 options on a non-IPv6 socket -> -ENOPROTOOPT.
 * An int option needs len >= sizeof(int), SO_LINGER a struct linger (else -EINVAL). New
 * sockets have all options off and the default capacities.
 *
 * Readiness (for the backend and the poll entry):
 *   READ  bytes queued to fd, EOF (see recv), or a pending error; a listener: a
 *         connection waiting in its backlog
 *   WRITE free space towards p, p closed, fd's write side shut, or a pending error
 *   an unconnected socket is always READ and WRITE (poll: POLLHUP, and POLLERR with a
 *   pending error), as Linux reports a hangup for it
 * Injected errors do not change readiness.
 *
 * Typical use:
 *   aiotp_sim *sim; aiotp_sim_create(&sim, NULL);
 *   aiotp_loop_options o = {sizeof o, aiotp_backend_sim(), aiotp_sim_syscalls(sim), NULL};
 *   aiotp_loop_create(&loop, &o);
 *   int a, b; aiotp_sim_socketpair(sim, &a, &b);    wrap `a`, play the peer on `b`
 *   ... aiotp_loop_run_once(loop); aiotp_sim_read(sim, b, buf, n); ...
 *   aiotp_loop_free(loop); aiotp_sim_close(sim, b); aiotp_sim_free(sim);
 * The peer can also use the virtual network through the table: sys->socket, sys->bind,
 * sys->listen, then aiotp_loop_create_connection(loop, ..., "127.0.0.1", port, ...) and
 * sys->accept for the other end.
 * @endverbatim
 */
#ifndef AIOTP_SIM_H
#define AIOTP_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "aiotp/export.h"
#include "aiotp/backend.h"
#include "aiotp/sys.h"

AIOTP_BEGIN_DECLS

/** A simulated kernel (opaque). */
typedef struct aiotp_sim aiotp_sim;

/** Default capacity of each direction of a new pair, in bytes. */
#define AIOTP_SIM_DEFAULT_CAPACITY ((size_t)65536)
/** Highest fd number the sim hands out + 1. */
#define AIOTP_SIM_MAX_FDS 1024

/**
 * Create a sim.
 * @param out receives the sim.
 * @param alloc its allocator; NULL: aiotp_allocator_default().
 * @return 0, #AIOTP_EINVAL or #AIOTP_ENOMEM.
 */
int aiotp_sim_create(aiotp_sim **out, const aiotp_allocator *alloc);
/**
 * Free the sim and every pair still open. The loop using it must be freed first.
 * @param sim the sim (NULL: nothing happens).
 */
void aiotp_sim_free(aiotp_sim *sim);

/**
 * The syscall table of this sim (ctx = sim).
 * @param sim the sim.
 * @return the table, valid as long as the sim.
 */
const aiotp_syscalls *aiotp_sim_syscalls(aiotp_sim *sim);
/**
 * The simulated backend. It must be used together with a sim's syscall table (it finds
 * the sim through the table's ctx); one loop per sim.
 * @return a static table.
 */
const aiotp_backend *aiotp_backend_sim(void);

/**
 * A connected stream pair (unnamed AF_UNIX addresses). (A TCP pair:
 * socket/bind/listen/connect/accept through the syscall table.)
 * @param sim the sim.
 * @param a receives one end.
 * @param b receives the other.
 * @return 0, #AIOTP_ENOMEM or -EMFILE.
 */
int aiotp_sim_socketpair(aiotp_sim *sim, int *a, int *b);

/* ---- playing the peer (same semantics as the syscall entries; close also closes
   listeners and unconnected sockets) ------------------------------------------------- */

/**
 * send() on fd, as the peer.
 * @param sim the sim.
 * @param fd the peer's fd.
 * @param buf the bytes.
 * @param len their number.
 * @return the bytes queued, or a negated errno (see "Semantics").
 */
ssize_t aiotp_sim_write(aiotp_sim *sim, int fd, const void *buf, size_t len);
/**
 * recv() on fd, as the peer.
 * @param sim the sim.
 * @param fd the peer's fd.
 * @param buf receives the bytes.
 * @param len its room.
 * @return the bytes read, 0 at EOF, or a negated errno (-EAGAIN when nothing is
 *         queued).
 */
ssize_t aiotp_sim_read(aiotp_sim *sim, int fd, void *buf, size_t len);
/**
 * shutdown() on fd, as the peer.
 * @param sim the sim.
 * @param fd the peer's fd.
 * @param how SHUT_RD, SHUT_WR or SHUT_RDWR.
 * @return 0 or a negated errno.
 */
int aiotp_sim_shutdown(aiotp_sim *sim, int fd, int how); /* SHUT_RD/WR/RDWR */
/**
 * close() on fd, as the peer (also closes listeners and unconnected sockets).
 * @param sim the sim.
 * @param fd the fd.
 * @return 0 or -EBADF.
 */
int aiotp_sim_close(aiotp_sim *sim, int fd);

/* ---- script knobs (apply to connected endpoint fd; -EBADF if fd is not open,
   -ENOTCONN if it is not connected) ----------------------------------------------------- */

/**
 * Capacity of the queue fd -> peer (bytes already queued stay, even above it).
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @param cap the capacity in bytes.
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_set_capacity(aiotp_sim *sim, int fd, size_t cap);
/**
 * The next send/sendmsg on fd that would move bytes takes at most n of them.
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @param n the limit (> 0; 0 removes it).
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_send_limit(aiotp_sim *sim, int fd, size_t n);
/**
 * The next k send/sendmsg calls on fd return -EAGAIN.
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @param k how many calls.
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_send_eagain(aiotp_sim *sim, int fd, unsigned k);
/**
 * The next send/sendmsg and the next recv on fd return -EINTR (once each).
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_eintr_once(aiotp_sim *sim, int fd);
/**
 * The next k recv calls on fd return err.
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @param err a negated errno.
 * @param k how many calls.
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_recv_fail(aiotp_sim *sim, int fd, int err, unsigned k);
/**
 * The next k send/sendmsg calls on fd return err.
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @param err a negated errno.
 * @param k how many calls.
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_send_fail(aiotp_sim *sim, int fd, int err, unsigned k);
/**
 * The next k shutdown calls on fd return err.
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @param err a negated errno.
 * @param k how many calls.
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_shutdown_fail(aiotp_sim *sim, int fd, int err, unsigned k);
/**
 * The peer of fd resets the connection: fd's next recv or send (or SO_ERROR) reports
 * -ECONNRESET, the queues are dropped, and afterwards fd behaves as if its peer had
 * closed.
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_reset(aiotp_sim *sim, int fd);
/**
 * The backend's next k waits return -EINTR.
 * @param sim the sim.
 * @param k how many waits.
 */
void aiotp_sim_wait_eintr(aiotp_sim *sim, unsigned k);

/* ---- observation --------------------------------------------------------------------- */

/**
 * Bytes queued towards fd (readable by fd).
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @return the count, or -EBADF / -ENOTCONN.
 */
ssize_t aiotp_sim_readable(const aiotp_sim *sim, int fd);
/**
 * Bytes queued from fd to its peer.
 * @param sim the sim.
 * @param fd a connected endpoint.
 * @return the count, or -EBADF / -ENOTCONN.
 */
ssize_t aiotp_sim_queued(const aiotp_sim *sim, int fd);
/**
 * Readiness of fd now.
 * @param sim the sim.
 * @param fd the fd.
 * @return AIOTP_EV_* bits (0 for an unknown fd).
 */
unsigned aiotp_sim_ready(const aiotp_sim *sim, int fd);
/**
 * Number of open fds (connected, unconnected and listening sockets).
 * @param sim the sim.
 * @return the count.
 */
size_t aiotp_sim_open_fds(const aiotp_sim *sim);
/**
 * Interest set the backend holds for fd.
 * @param sim the sim.
 * @param fd the fd.
 * @return AIOTP_EV_* bits.
 */
unsigned aiotp_sim_interest(const aiotp_sim *sim, int fd);

/**
 * Virtual time.
 * @param sim the sim.
 * @return the simulated clock in nanoseconds (what clock_ns returns).
 */
int64_t aiotp_sim_now(const aiotp_sim *sim);
/**
 * Move virtual time forward.
 * @param sim the sim.
 * @param ns nanoseconds to add.
 */
void aiotp_sim_advance(aiotp_sim *sim, int64_t ns);

/** Counters of a sim (aiotp_sim_get_stats()). */
typedef struct aiotp_sim_stats {
    uint64_t waits;       /**< backend waits */
    uint64_t idle_waits;  /**< waits that found nothing ready */
    uint64_t stalls;      /**< waits with nothing ready and no timeout (would block) */
    uint64_t sends;       /**< send/sendmsg/write/writev calls */
    uint64_t recvs;       /**< recv/read calls */
    uint64_t bytes_moved; /**< bytes accepted by sends */
} aiotp_sim_stats;

/**
 * Read the counters.
 * @param sim the sim.
 * @param out receives them.
 */
void aiotp_sim_get_stats(const aiotp_sim *sim, aiotp_sim_stats *out);

AIOTP_END_DECLS

#endif /* AIOTP_SIM_H */
