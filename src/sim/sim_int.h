/*
 * src/sim/sim_int.h - the layout of the simulated kernel (aiotp/sim.h) and the contracts
 * between its files. Nothing under src/sim/ calls the operating system.
 *
 * One file per object kind:
 *   core.c     the sim object, the fd table, the syscall table (each entry dispatches on
 *              the kind of the fd), the peer's calls, observation
 *   addr.c     socket addresses: checking a caller's address, copying one out, ports
 *   stream.c   connected stream pairs: byte queues, recv/send, shutdown, close
 *   net.c      the virtual network: Unix path names, ports, bind, listen, connect and
 *              accept of stream sockets
 *   dgram.c    datagram sockets: socket, connect, routing a datagram to its receiver,
 *              receive queues, sendto/recvfrom, readiness, the datagram knobs
 *   names.c    getaddrinfo / freeaddrinfo
 *   opts.c     getsockopt / setsockopt
 *   backend.c  readiness, the poll entry, the backend, virtual time
 *   script.c   the script knobs shared by every socket kind
 *
 * An fd is an index into sim->ep. An endpoint (sim_ep) is free, an unconnected stream
 * socket (EP_SOCK), a listener (EP_LISTEN), one side (0 or 1) of a connected stream pair
 * (EP_CONN), or a datagram socket (EP_DGRAM, its state in a sim_dsock of dgram.c).
 */
#ifndef AIOTP_SIM_INT_H
#define AIOTP_SIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "aiotp/sim.h"

#define SIM_MAGIC 0x53494d31u /* "SIM1": checks that a syscall table's ctx is a sim */
#define SIM_FIRST_FD 3
#define FD_CLOSED (-1)   /* pair side closed */
#define FD_PENDING (-2)  /* pair side still in a listener's backlog (not accepted yet) */
#define SIM_PORT_FIRST 32768u /* default ephemeral ports: SIM_PORT_FIRST .. SIM_PORT_LAST */
#define SIM_PORT_LAST 60999u
#define SIM_SOMAXCONN 4096

typedef struct sim_addr {
    struct sockaddr_storage ss;
    socklen_t len;   /* 0: no address (a datagram from an unnamed Unix socket) */
} sim_addr;

typedef struct sim_queue {
    unsigned char *data; /* data[head .. head+len) are queued */
    size_t head;
    size_t len;
    size_t alloc;        /* bytes allocated at data */
    size_t cap;          /* most bytes the queue accepts */
    bool shut;           /* the writing side did shutdown(SHUT_WR) */
} sim_queue;

typedef struct sim_pair {
    sim_queue q[2];   /* q[s]: written by side s, read by side 1 - s */
    int fd[2];        /* fd of each side, FD_CLOSED once closed, FD_PENDING before accept */
    bool rd_shut[2];  /* side did shutdown(SHUT_RD) */
    int err[2];       /* pending error of each side (SO_ERROR), 0 if none */
    bool broken;      /* reset: both sides see EOF and EPIPE afterwards */
    sim_addr addr[2]; /* local address of each side (the other side's peername) */
} sim_pair;

enum { EP_FREE = 0, EP_SOCK, EP_LISTEN, EP_CONN, EP_DGRAM };

/* An injected error: the next k calls of one kind return err. */
typedef struct sim_fail {
    int err;
    unsigned k;
} sim_fail;

enum { FAIL_SEND, FAIL_RECV, FAIL_SHUTDOWN, FAIL_KINDS };

typedef struct sim_dsock sim_dsock; /* dgram.c */

typedef struct sim_ep {
    int kind;          /* EP_*; EP_FREE: the fd number is free */
    int family;        /* AF_UNIX, AF_INET, AF_INET6 */
    sim_pair *pair;    /* EP_CONN */
    int side;
    sim_dsock *dg;     /* EP_DGRAM */
    bool nonblock;
    unsigned interest; /* AIOTP_EV_* the backend watches */
    /* unconnected, listening and datagram sockets */
    bool bound;
    sim_addr local;    /* bound (or connected-from) address */
    unsigned ino;      /* AF_UNIX, bound: the number of its path entry */
    int sock_err;      /* pending error (SO_ERROR): EP_SOCK a refused connect, EP_DGRAM an
                          ICMP error or a Unix peer's reset */
    bool blackholed;   /* EP_SOCK: a connect nobody answers (aiotp_sim_blackhole) */
    sim_pair **backlog; /* EP_LISTEN: connections not yet accepted, oldest first */
    size_t nbacklog;
    size_t backlog_cap;
    size_t backlog_max;
    /* socket options */
    bool nodelay;
    bool reuseaddr;
    bool reuseport;
    bool v6only;
    bool broadcast;    /* SO_BROADCAST */
    struct linger linger;
    size_t sndbuf;     /* unconnected: SO_SNDBUF/SO_RCVBUF to apply on connect (0: none) */
    size_t rcvbuf;
    /* script knobs */
    size_t send_limit; /* > 0: the next moving send takes at most this */
    unsigned eagain;   /* next sends returning -EAGAIN */
    bool eintr_send;
    bool eintr_recv;
    sim_fail fail[FAIL_KINDS]; /* injected send / recv / shutdown errors */
} sim_ep;

typedef struct sim_path {
    char *path;        /* a bound AF_UNIX path: the "file" exists until unlinked */
    unsigned ino;
} sim_path;

struct aiotp_sim {
    unsigned magic;
    aiotp_allocator alloc;
    aiotp_syscalls sys;
    sim_ep *ep;       /* fd table */
    size_t ep_cap;
    size_t nopen;
    sim_path *paths;  /* AF_UNIX "files" */
    size_t npaths;
    size_t paths_cap;
    unsigned next_ino;
    unsigned port_first; /* ephemeral ports: port_first .. port_last */
    unsigned port_last;
    unsigned next_port; /* next ephemeral port to try */
    unsigned blackhole; /* TCP connects to this port are never answered; 0: none */
    uint64_t next_id;   /* datagram sockets: the id of the last one made (never reused) */
    int64_t now;      /* virtual clock, ns */
    unsigned wait_eintr;
    bool backend_open;
    aiotp_sim_stats stats;
};

/* ---- core.c ------------------------------------------------------------------------- */

void *aiotp__sim_alloc(aiotp_sim *sim, size_t n);
void aiotp__sim_free(aiotp_sim *sim, void *p);
/* Any open endpoint, or NULL. */
sim_ep *aiotp__sim_ep_open(const aiotp_sim *sim, int fd);
/* A connected stream endpoint, or NULL. */
sim_ep *aiotp__sim_ep_conn(const aiotp_sim *sim, int fd);
/* Why fd is not a connected stream endpoint: -EBADF (not open), -EOPNOTSUPP (a datagram
   socket) or -ENOTCONN. */
int aiotp__sim_not_conn(const aiotp_sim *sim, int fd);
/* The lowest free fd number >= SIM_FIRST_FD, or -EMFILE / AIOTP_ENOMEM (the table may
   move: re-take pointers). The number stays free until the caller sets its kind. */
int aiotp__sim_fd_alloc(aiotp_sim *sim);
/* The data path of any socket kind (recv/recvfrom/read; send/sendto/sendmsg/write/
   writev). from/to NULL: no address. */
ssize_t aiotp__sim_recv(aiotp_sim *sim, int fd, void *buf, size_t len, int flags,
                        struct sockaddr *from, socklen_t *fromlen);
ssize_t aiotp__sim_sendv(aiotp_sim *sim, int fd, const struct iovec *iov, size_t n,
                         const struct sockaddr *to, socklen_t tolen);
int aiotp__sim_close(aiotp_sim *sim, int fd);
int aiotp__sim_shutdown(aiotp_sim *sim, int fd, int how);

static inline bool aiotp__sim_is_inet(int family)
{
    return family == AF_INET || family == AF_INET6;
}

/* ---- addr.c ------------------------------------------------------------------------- */

/* The unspecified address of a family (what an unbound socket's getsockname gives). */
void aiotp__sim_addr_unspec(sim_addr *a, int family);
const char *aiotp__sim_unix_path(const sim_addr *a);
unsigned aiotp__sim_addr_port(const sim_addr *a);
void aiotp__sim_addr_set_port(sim_addr *a, unsigned port);
bool aiotp__sim_addr_is_any(const sim_addr *a);
/* The only interfaces of the simulated host: 127.0.0.0/8 and ::1. */
bool aiotp__sim_addr_is_loopback(const sim_addr *a);
void aiotp__sim_addr_set_loopback(sim_addr *a);
bool aiotp__sim_addr_same_ip(const sim_addr *a, const sim_addr *b);
/* A caller's address for a socket of `family`, checked and normalised: -EFAULT (NULL),
   -EINVAL (too short; a Unix path that is empty or too long), -EAFNOSUPPORT. */
int aiotp__sim_addr_in(sim_addr *out, int family, const struct sockaddr *a, socklen_t l);
/* Copy a to (out, *l): at most *l bytes, *l = its length. -EFAULT if out or l is NULL. */
int aiotp__sim_addr_out(const sim_addr *a, struct sockaddr *out, socklen_t *l);
/* The local address of an endpoint. */
void aiotp__sim_ep_local(const sim_ep *e, sim_addr *out);

/* ---- stream.c ----------------------------------------------------------------------- */

/* A new pair, both sides unassigned (the caller sets fd[] and addr[]); NULL: no memory. */
sim_pair *aiotp__sim_pair_new(aiotp_sim *sim);
/* The connection is reset; side `victim` reports -ECONNRESET once. */
void aiotp__sim_pair_reset(sim_pair *p, int victim);
void aiotp__sim_pair_free(aiotp_sim *sim, sim_pair *p);
bool aiotp__sim_peer_closed(const sim_pair *p, int side);
/* recv would report EOF (once the queue is empty) */
bool aiotp__sim_at_eof(const sim_pair *p, int side);
bool aiotp__sim_send_dead(const sim_pair *p, int side);
ssize_t aiotp__sim_stream_recv(sim_ep *e, void *buf, size_t len, int flags);
ssize_t aiotp__sim_stream_sendv(aiotp_sim *sim, sim_ep *e, const struct iovec *iov,
                                size_t n);
int aiotp__sim_stream_shutdown(sim_ep *e, int how);
/* Close a connected or listening endpoint's stream state (not the fd slot itself). */
void aiotp__sim_stream_close(aiotp_sim *sim, sim_ep *e);

/* ---- net.c -------------------------------------------------------------------------- */

sim_path *aiotp__sim_path_find(const aiotp_sim *sim, const char *path);
/* Add a path name; *ino gets its number. 0 or -ENOMEM. */
int aiotp__sim_path_add(aiotp_sim *sim, const char *path, unsigned *ino);
/* A port of this family that no socket of the same kind (stream or datagram: separate
   port spaces) uses, or 0. */
unsigned aiotp__sim_ephemeral_port(aiotp_sim *sim, int family, bool dgram);
/* The syscall entries of the virtual network. */
int aiotp__sim_bind(void *ctx, int fd, const struct sockaddr *a, socklen_t l);
int aiotp__sim_connect(void *ctx, int fd, const struct sockaddr *a, socklen_t l);
int aiotp__sim_listen(void *ctx, int fd, int backlog);
int aiotp__sim_accept(void *ctx, int fd, struct sockaddr *a, socklen_t *l);
int aiotp__sim_unlink_socket(void *ctx, const char *path);

/* ---- dgram.c ------------------------------------------------------------------------ */

/* A new datagram socket: its fd, or -EMFILE / AIOTP_ENOMEM. */
int aiotp__sim_dgram_socket(aiotp_sim *sim, int family, bool nonblock);
/* Free e's datagram state (not the fd slot). */
void aiotp__sim_dgram_close(aiotp_sim *sim, sim_ep *e);
/* bind() succeeded on e: whether it named an address (IP, not the wildcard) and a port,
   which a later disconnect keeps. */
void aiotp__sim_dgram_bound(sim_ep *e, bool ip, bool port);
int aiotp__sim_dgram_connect(aiotp_sim *sim, sim_ep *e, const struct sockaddr *a,
                             socklen_t l);
/* The connected peer's address, or -ENOTCONN. */
int aiotp__sim_dgram_peername(const aiotp_sim *sim, const sim_ep *e, sim_addr *out);
/* The data path (the caller counted the call and checked fd). */
ssize_t aiotp__sim_dgram_recv(aiotp_sim *sim, sim_ep *e, void *buf, size_t len, int flags,
                              struct sockaddr *from, socklen_t *fromlen);
ssize_t aiotp__sim_dgram_sendv(aiotp_sim *sim, sim_ep *e, const struct iovec *iov,
                               size_t n, const struct sockaddr *to, socklen_t tolen);
int aiotp__sim_dgram_shutdown(sim_ep *e, int how);
/* What poll() reports for e: POLLIN, POLLOUT, POLLERR. */
short aiotp__sim_dgram_revents(const aiotp_sim *sim, const sim_ep *e);
/* Payload bytes in e's receive queue. */
size_t aiotp__sim_dgram_bytes(const sim_ep *e);

/* ---- names.c ------------------------------------------------------------------------ */

int aiotp__sim_getaddrinfo(void *ctx, const char *node, const char *service,
                           const struct addrinfo *hints, struct addrinfo **res);
void aiotp__sim_freeaddrinfo(void *ctx, struct addrinfo *res);

/* ---- opts.c ------------------------------------------------------------------------- */

int aiotp__sim_getsockopt(void *ctx, int fd, int level, int name, void *val,
                          socklen_t *len);
int aiotp__sim_setsockopt(void *ctx, int fd, int level, int name, const void *val,
                          socklen_t len);

/* ---- backend.c ---------------------------------------------------------------------- */

/* AIOTP_EV_* readiness of an open endpoint. */
unsigned aiotp__sim_ready_of(const aiotp_sim *sim, const sim_ep *e);
/* A wait found nothing ready: jump the clock by the timeout (count a stall if none). */
void aiotp__sim_advance_idle(aiotp_sim *sim, int timeout_ms);
int aiotp__sim_poll(void *ctx, struct pollfd *fds, nfds_t n, int timeout_ms);
int64_t aiotp__sim_clock_ns(void *ctx);

#endif /* AIOTP_SIM_INT_H */
