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
 *   - datagram sockets (see "Datagram sockets"): UDP over AF_INET and AF_INET6, AF_UNIX
 *     SOCK_DGRAM (bound paths and unnamed; aiotp_sim_socketpair_dgram), sendto/recvfrom
 *     with message boundaries, connect filtering, ICMP errors, receive queues, and
 *     knobs for loss, duplication, reordering, stalls and errors;
 *   - pipe: a connected AF_UNIX stream pair whose read end cannot send and whose write
 *     end cannot receive (the loop's wake-up uses one); a sim is single-threaded, so
 *     aiotp_loop_call_soon_threadsafe() on a loop over a sim is for the loop's own thread;
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
 *   socket   AF_UNIX/AF_INET/AF_INET6 and SOCK_STREAM (protocol 0 or IPPROTO_TCP) or
 *            SOCK_DGRAM (protocol 0 or IPPROTO_UDP; see "Datagram sockets"), with
 *            SOCK_NONBLOCK and SOCK_CLOEXEC accepted; else -EAFNOSUPPORT /
 *            -EPROTONOSUPPORT.
 *   bind     once, on an unconnected socket (else -EINVAL). The address family must be
 *            the socket's (-EAFNOSUPPORT). IP: a non-local address -> -EADDRNOTAVAIL;
 *            port 0 -> an ephemeral port (32768, 32769, ... in order, skipping ports in
 *            use, wrapping at 60999: aiotp_sim_set_port_range changes the range; none
 *            left -> -EADDRINUSE); a port in use -> -EADDRINUSE, where "in use" means an
 *            overlapping address (equal, or either is the wildcard) of the same family
 *            bound by a socket or listener, or used by a connection (stream and datagram
 *            sockets have port spaces of their own). SO_REUSEADDR on both lets a port of
 *            a non-listening socket be reused, SO_REUSEADDR alone one that only
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
 *            -ENOENT; a Unix datagram socket at the path -> -EPROTOTYPE; no listener ->
 *            -ECONNREFUSED, except on a non-blocking IP socket,
 *            where connect returns -EINPROGRESS and the socket becomes ready (hangup)
 *            with SO_ERROR ECONNREFUSED, as a real TCP connect. A full backlog: -EAGAIN
 *            (Unix) or as if refused (IP). Otherwise the connection is made at once and
 *            queued on the listener's backlog (the listener turns readable); the client
 *            is connected and may send (the bytes wait for the accept). An unbound
 *            client gets the destination's IP and an ephemeral port (Unix: unnamed; no
 *            port left: -EADDRNOTAVAIL).
 *            connect returns 0, or -EINPROGRESS on a non-blocking IP socket (it is
 *            writable at once and SO_ERROR is 0).
 *   accept   the oldest connection of the backlog, as a new non-blocking fd; addr gets
 *            the client's address. An empty backlog -> -EAGAIN; not a listener ->
 *            -EINVAL. The accepted socket has default options. Closing a listener resets
 *            the connections still in its backlog.
 *   getaddrinfo  numeric IPv4/IPv6 hosts, "localhost" (127.0.0.1 then ::1) and a NULL
 *            host (the wildcard addresses with AI_PASSIVE, else loopback), filtered by
 *            hints->ai_family; numeric services only. Results are SOCK_STREAM /
 *            IPPROTO_TCP (hints->ai_socktype SOCK_DGRAM: SOCK_DGRAM / IPPROTO_UDP; 0: the
 *            stream entry only, where Linux gives one per socket type), allocated with
 *            the sim's allocator (free them with the table's freeaddrinfo). Other names,
 *            and a numeric host of another family than hints asks for -> EAI_NONAME; a
 *            non-numeric service -> EAI_SERVICE; a bad family or socket type ->
 *            EAI_FAMILY / EAI_SOCKTYPE.
 *   unlink_socket  removes a Unix path name: 1 if it existed, else 0.
 *
 * Socket options: getsockopt SOL_SOCKET SO_TYPE (SOCK_STREAM or SOCK_DGRAM), SO_BROADCAST,
 * SO_ERROR (the pending error, cleared), SO_ACCEPTCONN, SO_REUSEADDR, SO_REUSEPORT,
 * SO_LINGER, SO_SNDBUF (the capacity of fd -> p), SO_RCVBUF (the capacity of p -> fd);
 * IPPROTO_TCP TCP_NODELAY and IPPROTO_IPV6 IPV6_V6ONLY; anything else -ENOPROTOOPT.
 * setsockopt stores SO_REUSEADDR, SO_REUSEPORT, SO_BROADCAST, SO_LINGER, TCP_NODELAY,
 * IPV6_V6ONLY; SO_SNDBUF (SO_SNDBUFFORCE) sets the capacity of fd -> p and SO_RCVBUF
 * (SO_RCVBUFFORCE) the capacity of p -> fd to the value given (at least 1; not doubled;
 * on a socket not yet connected, when it connects); other
 * SOL_SOCKET options (and other levels) are accepted and ignored. IPPROTO_TCP options on
 * a Unix socket -> -EOPNOTSUPP, on a UDP socket -> -ENOPROTOOPT; IPPROTO_IPV6 options on a
 * non-IPv6 socket -> -ENOPROTOOPT. On a datagram socket SO_SNDBUF/SO_RCVBUF are stored
 * and reported only (its queue is counted in datagrams, see below).
 * An int option needs len >= sizeof(int), SO_LINGER a struct linger (else -EINVAL). New
 * sockets have all options off and the default capacities. SO_REUSEPORT is modelled only where
 * <sys/socket.h> defines it: a strict _POSIX_C_SOURCE build (this project's) does not,
 * and the sim then knows no such option (setsockopt accepts and ignores the number).
 *
 * Datagram sockets (SOCK_DGRAM: UDP over AF_INET / AF_INET6, and AF_UNIX), as Linux does
 * them unless said otherwise. A send routes the datagram at once to its receiver's
 * queue; nothing ever waits at the sender (aiotp_sim_queued is 0).
 *   bind     as above (ports of their own; 0: ephemeral). A UDP socket that sends or
 *            connects unbound gets one: on a send the wildcard address and an ephemeral
 *            port (getsockname 0.0.0.0:P), on a connect the route's source address
 *            (127.0.0.1 or ::1) and an ephemeral port; no port left -> -EAGAIN.
 *   connect  sets the default destination and filters what arrives. UDP: a wildcard
 *            destination means this host; a broadcast address without SO_BROADCAST ->
 *            -EACCES; a non-local address -> -ENETUNREACH; a wildcard local address
 *            becomes the source address. Unix: the socket bound to the path (no path
 *            -ENOENT, nothing bound there now -ECONNREFUSED, a stream socket
 *            -EPROTOTYPE); one connected to another socket -> -EPERM. A family of
 *            AF_UNSPEC dissolves the association (UDP: a bound address and a bound port
 *            stay, a port that was not given to bind goes back, the address becomes the
 *            wildcard unless bind named one). Connecting a Unix socket elsewhere (or
 *            AF_UNSPEC) while datagrams wait in its queue drops them, and a live old
 *            peer still connected back to it gets a pending -ECONNRESET.
 *   send/sendto/sendmsg/write/writev: one datagram (the iovecs gathered). In order:
 *            a pending error (see ICMP below) once, injected errors (EINTR, send_fail,
 *            stall, send_eagain), a payload above AIOTP_SIM_UDP4_MAX /
 *            AIOTP_SIM_UDP6_MAX / AIOTP_SIM_UNIX_DGRAM_MAX -> -EMSGSIZE (a part with no
 *            memory -> -EFAULT), the destination (an address: checked as for connect,
 *            UDP port 0 -> -EINVAL, a connected socket may still send elsewhere; none:
 *            the connected peer, else -EDESTADDRREQ (UDP) / -ENOTCONN (Unix)), the
 *            sender's SHUT_WR -> -EPIPE, then delivery (the sim never blocks: where
 *            Linux waits, -EAGAIN). Returns the payload length. flags are ignored.
 *            UDP: the receiver is the socket bound to the destination's port and address
 *            (or the wildcard) that takes the datagram: a connected one only from its
 *            peer; among several, a connected one, then an exact address, then the
 *            lowest fd. None: the datagram is lost (ICMP below). A full receive queue
 *            loses it. The sender's address is its bound one, the wildcard replaced by
 *            127.0.0.1 / ::1.
 *            Unix: to the path's socket (errors as for connect) or the connected peer (a
 *            closed peer: -ECONNREFUSED once, and the association is dissolved; then
 *            -ENOTCONN); a receiver connected to another socket -> -EPERM; a receiver
 *            that shut its read side -> -EPIPE; a full queue -> -EAGAIN. The sender's
 *            address is its bound path, or none (unnamed).
 *   recv/recvfrom/read: a pending error once, injected errors (EINTR, recv_fail), then
 *            the oldest datagram: up to len bytes of it (a short buffer truncates, the
 *            rest is lost; len 0 consumes one), MSG_PEEK leaves it queued, MSG_TRUNC
 *            returns its real length. The sender's address goes to (addr, *alen) as
 *            getsockname would give it; an unnamed Unix sender has none: *alen = 0.
 *            Nothing queued: -EAGAIN, or 0 after shutdown(SHUT_RD) (Linux: a
 *            non-blocking UDP receive says -EAGAIN there). buf NULL with len > 0, or addr
 *            without alen -> -EFAULT.
 *   ICMP     a UDP datagram that no socket takes is lost; if its sender is connected to
 *            that very address, the sender gets a pending -ECONNREFUSED (port
 *            unreachable): reported once by its next send or receive (before what is
 *            queued) or by SO_ERROR, and the socket is readable meanwhile (poll:
 *            POLLERR). An unconnected sender learns nothing.
 *   queues   a receive queue holds at most AIOTP_SIM_DGRAM_QUEUE datagrams
 *            (aiotp_sim_dgram_set_queue); a Unix socket holds at most
 *            AIOTP_SIM_UNIX_DGRAM_QLEN from senders it is not connected to. (Linux
 *            counts UDP queues in bytes; the sim counts datagrams.)
 *   shutdown how checked (-EINVAL); SHUT_WR: sends fail with -EPIPE; SHUT_RD: see recv
 *            and send. An unconnected UDP socket says -ENOTCONN and is shut all the
 *            same (as Linux); a Unix one says 0.
 *   getpeername the connected address (a Unix peer's, as it was when connecting), else
 *            -ENOTCONN. listen and accept -> -EOPNOTSUPP.
 *   close    frees the queue; a datagram held back by aiotp_sim_dgram_reorder is lost.
 *            The Unix path stays (as for streams).
 *
 * Readiness (for the backend and the poll entry):
 *   READ  bytes queued to fd, EOF (see recv), or a pending error; a listener: a
 *         connection waiting in its backlog; a datagram socket: a datagram queued, a
 *         pending error, or its read side shut
 *   WRITE free space towards p, p closed, fd's write side shut, or a pending error; a
 *         datagram socket: always, or a pending error, except while stalled
 *         (aiotp_sim_dgram_stall) and, for a Unix socket, while its connected peer's
 *         queue has no room for it
 *   an unconnected stream socket is always READ and WRITE (poll: POLLHUP, and POLLERR
 *   with a pending error), as Linux reports a hangup for it; poll of a datagram socket
 *   gives POLLIN, POLLOUT as asked and POLLERR with a pending error
 * Injected errors do not change readiness (a stall does).
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
/** Highest fd number the sim hands out + 1 (16 << k: the fd table doubles up to it). */
#define AIOTP_SIM_MAX_FDS 1024
/** Largest UDP-over-IPv4 datagram payload (larger: -EMSGSIZE): 65535 minus the headers. */
#define AIOTP_SIM_UDP4_MAX ((size_t)65507)
/** Largest UDP-over-IPv6 datagram payload (larger: -EMSGSIZE). */
#define AIOTP_SIM_UDP6_MAX ((size_t)65527)
/** Largest Unix datagram (Linux: the default SO_SNDBUF 212992 minus 32; fixed here). */
#define AIOTP_SIM_UNIX_DGRAM_MAX ((size_t)212960)
/** Default capacity of a datagram socket's receive queue, in datagrams (what Linux's
    default buffers hold of small datagrams); aiotp_sim_dgram_set_queue() changes it. */
#define AIOTP_SIM_DGRAM_QUEUE ((size_t)256)
/** A Unix datagram socket holds at most this many datagrams from senders it is not
    connected to (Linux: net.unix.max_dgram_qlen 10, plus one). */
#define AIOTP_SIM_UNIX_DGRAM_QLEN ((size_t)11)

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
 * @return 0, #AIOTP_EINVAL (a NULL argument), #AIOTP_ENOMEM or -EMFILE.
 */
int aiotp_sim_socketpair(aiotp_sim *sim, int *a, int *b);
/**
 * The datagram sibling of aiotp_sim_socketpair(): two unnamed AF_UNIX SOCK_DGRAM sockets
 * connected to each other (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)).
 * @param sim the sim.
 * @param a receives one end.
 * @param b receives the other.
 * @return 0, #AIOTP_EINVAL (a NULL argument), #AIOTP_ENOMEM or -EMFILE.
 */
int aiotp_sim_socketpair_dgram(aiotp_sim *sim, int *a, int *b);

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

/* ---- script knobs (apply to connected stream endpoint fd, and those marked "any" also
   to a datagram socket; -EBADF if fd is not open, -EOPNOTSUPP for a datagram socket where
   the knob is not marked "any", -ENOTCONN for a stream socket that is not connected) --- */

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
 * Any socket: the next k sends (send/sendmsg/sendto/write/writev) on fd return -EAGAIN.
 * @param sim the sim.
 * @param fd an open socket.
 * @param k how many calls.
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_send_eagain(aiotp_sim *sim, int fd, unsigned k);
/**
 * Any socket: the next send and the next receive on fd return -EINTR (once each).
 * @param sim the sim.
 * @param fd an open socket.
 * @return 0, -EBADF or -ENOTCONN.
 */
int aiotp_sim_eintr_once(aiotp_sim *sim, int fd);
/**
 * Any socket: the next k receives (recv/recvfrom/read) on fd return err.
 * @param sim the sim.
 * @param fd an open socket.
 * @param err a negated errno (else #AIOTP_EINVAL).
 * @param k how many calls.
 * @return 0, #AIOTP_EINVAL, -EBADF or -ENOTCONN.
 */
int aiotp_sim_recv_fail(aiotp_sim *sim, int fd, int err, unsigned k);
/**
 * Any socket: the next k sends on fd return err.
 * @param sim the sim.
 * @param fd an open socket.
 * @param err a negated errno (else #AIOTP_EINVAL).
 * @param k how many calls.
 * @return 0, #AIOTP_EINVAL, -EBADF or -ENOTCONN.
 */
int aiotp_sim_send_fail(aiotp_sim *sim, int fd, int err, unsigned k);
/**
 * Any socket: the next k shutdown calls on fd return err.
 * @param sim the sim.
 * @param fd an open socket.
 * @param err a negated errno (else #AIOTP_EINVAL).
 * @param k how many calls.
 * @return 0, #AIOTP_EINVAL, -EBADF or -ENOTCONN.
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
/**
 * The ephemeral port range (Linux: net.ipv4.ip_local_port_range; default 32768 to
 * 60999), handed out in order from first. A small one runs out: bind, listen and connect
 * then fail with -EADDRINUSE or -EADDRNOTAVAIL, a datagram's autobind with -EAGAIN.
 * @param sim the sim.
 * @param first the first port.
 * @param last the last port.
 * @return 0, or #AIOTP_EINVAL (first 0, first > last, last > 65535).
 */
int aiotp_sim_set_port_range(aiotp_sim *sim, unsigned first, unsigned last);
/**
 * A firewall that drops SYNs: every later TCP connect (AF_INET, AF_INET6) to `port`, on
 * any address, is never answered: a non-blocking connect returns -EINPROGRESS and the
 * socket never becomes readable or writable (a blocking one fails with -ETIMEDOUT); a
 * second connect on it returns -EALREADY; close works as usual (SIM-NET-1). For tests of
 * connect timeouts and cancelling a pending connect.
 * @param sim the sim.
 * @param port the port; 0 turns the knob off (sockets already waiting keep waiting).
 * @return 0, or #AIOTP_EINVAL (sim NULL, port above 65535).
 */
int aiotp_sim_blackhole(aiotp_sim *sim, unsigned port);

/* ---- datagram knobs (fd a datagram socket: -EBADF if fd is not open, -EOPNOTSUPP if it
   is not a datagram socket). "Sent to fd": a datagram that a send routed to fd (it
   passed fd's connect filter); the knobs act in this order, on the way. ------------- */

/**
 * The next k datagrams sent to fd are lost (the sender's call succeeds).
 * @param sim the sim.
 * @param fd a datagram socket.
 * @param k how many datagrams.
 * @return 0, -EBADF or -EOPNOTSUPP.
 */
int aiotp_sim_dgram_drop(aiotp_sim *sim, int fd, unsigned k);
/**
 * The next k datagrams sent to fd arrive twice.
 * @param sim the sim.
 * @param fd a datagram socket.
 * @param k how many datagrams.
 * @return 0, -EBADF or -EOPNOTSUPP.
 */
int aiotp_sim_dgram_duplicate(aiotp_sim *sim, int fd, unsigned k);
/**
 * Reordering: the next datagram sent to fd is held back and arrives right after the k
 * datagrams that follow it (k = 1 swaps it with the next one). One datagram is held at a
 * time: a second call while one is armed or held replaces k. A datagram still held when
 * fd closes is lost.
 * @param sim the sim.
 * @param fd a datagram socket.
 * @param k how many datagrams overtake it (at least 1).
 * @return 0, #AIOTP_EINVAL (k 0), -EBADF or -EOPNOTSUPP.
 */
int aiotp_sim_dgram_reorder(aiotp_sim *sim, int fd, unsigned k);
/**
 * Deliver the held datagram now (and disarm a pending reorder).
 * @param sim the sim.
 * @param fd a datagram socket.
 * @return 1 if one was held, 0 if not, -EBADF or -EOPNOTSUPP.
 */
int aiotp_sim_dgram_flush(aiotp_sim *sim, int fd);
/**
 * Capacity of fd's receive queue, in datagrams. When it is full, a UDP datagram sent to
 * fd is lost (the sender's call succeeds) and a Unix sender gets -EAGAIN. Datagrams
 * already queued stay, even above it.
 * @param sim the sim.
 * @param fd a datagram socket.
 * @param max the capacity (0: nothing fits).
 * @return 0, -EBADF or -EOPNOTSUPP.
 */
int aiotp_sim_dgram_set_queue(aiotp_sim *sim, int fd, size_t max);
/**
 * Stall fd: it is not writable and every send on it returns -EAGAIN (the sender's buffer
 * is full, as far as the loop can tell), until called again with 0.
 * @param sim the sim.
 * @param fd a datagram socket.
 * @param stalled nonzero to stall, 0 to release.
 * @return 0, -EBADF or -EOPNOTSUPP.
 */
int aiotp_sim_dgram_stall(aiotp_sim *sim, int fd, int stalled);
/**
 * An asynchronous error arrives at fd (as an ICMP error would): fd turns readable (poll:
 * POLLERR), and its next receive or send (or SO_ERROR) reports err once. Unlike the ICMP
 * model, also on an unconnected socket.
 * @param sim the sim.
 * @param fd a datagram socket.
 * @param err a negated errno (else #AIOTP_EINVAL).
 * @return 0, #AIOTP_EINVAL, -EBADF or -EOPNOTSUPP.
 */
int aiotp_sim_dgram_error(aiotp_sim *sim, int fd, int err);

/* ---- observation --------------------------------------------------------------------- */

/**
 * Bytes queued towards fd (readable by fd; a datagram socket: the payload bytes in its
 * receive queue).
 * @param sim the sim.
 * @param fd a connected endpoint or a datagram socket.
 * @return the count, or -EBADF / -ENOTCONN.
 */
ssize_t aiotp_sim_readable(const aiotp_sim *sim, int fd);
/**
 * Bytes queued from fd to its peer (a datagram socket: 0, sends never wait in the sim).
 * @param sim the sim.
 * @param fd a connected endpoint or a datagram socket.
 * @return the count, or -EBADF / -ENOTCONN.
 */
ssize_t aiotp_sim_queued(const aiotp_sim *sim, int fd);
/**
 * Datagrams in fd's receive queue (a held one not counted).
 * @param sim the sim.
 * @param fd a datagram socket.
 * @return the count, or -EBADF / -EOPNOTSUPP (not a datagram socket).
 */
ssize_t aiotp_sim_dgram_count(const aiotp_sim *sim, int fd);
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
    uint64_t waits;          /**< backend waits */
    uint64_t idle_waits;     /**< waits that found nothing ready */
    uint64_t stalls;         /**< waits with nothing ready and no timeout (would block) */
    uint64_t sends;          /**< send/sendmsg/sendto/write/writev calls */
    uint64_t recvs;          /**< recv/recvfrom/read calls */
    uint64_t bytes_moved;    /**< bytes accepted by sends (datagram payloads included) */
    uint64_t dgrams_sent;    /**< datagrams accepted by sends */
    uint64_t dgrams_dropped; /**< datagrams lost on the way: no receiver, a full UDP
                                  queue, aiotp_sim_dgram_drop, a held one at close */
} aiotp_sim_stats;

/**
 * Read the counters.
 * @param sim the sim.
 * @param out receives them.
 */
void aiotp_sim_get_stats(const aiotp_sim *sim, aiotp_sim_stats *out);

AIOTP_END_DECLS

#endif /* AIOTP_SIM_H */
