/*
 * aiotp/sim.h - a deterministic simulated kernel: a syscall table (aiotp/sys.h) and a
 * readiness backend (aiotp/backend.h) over one in-memory object.
 *
 * What it models:
 *   - connected stream socket pairs (aiotp_sim_socketpair), with fake fd numbers
 *     (the lowest free number >= 3, as a process would get them);
 *   - each direction of a pair is a bounded byte queue; its capacity (the sender's
 *     "socket buffer") is per direction and can be changed at any time;
 *   - recv/send/sendmsg/read/write/writev, shutdown, close, getsockname/getpeername
 *     (unnamed AF_UNIX addresses), getsockopt(SO_ERROR, SO_TYPE), setsockopt (accepted
 *     and ignored), set_nonblock;
 *   - readiness computed from the queues (see "Readiness" below);
 *   - virtual time: clock_ns returns the simulated clock, which only moves when the
 *     backend's wait() finds nothing ready and has a finite timeout (it then jumps by the
 *     timeout: the loop's next timer), or when the caller advances it;
 *   - a script of one-shot knobs, set by the test or fuzzer between loop passes.
 * Everything else (socket, connect, accept, bind, listen, name resolution, unlink)
 * returns -ENOSYS (getaddrinfo: EAI_FAIL). There are no real fds, no real time, no
 * threads: the same calls in the same order give the same results.
 *
 * Semantics of one endpoint `fd` (its peer is `p`):
 *   recv   pending error (reset)  -> that error, once; then as if the peer had closed
 *          injected recv errors    -> -EINTR / -EAGAIN / any -errno, in order
 *          bytes queued p -> fd    -> up to len of them
 *          p shut its write side, p closed, or fd shut its read side -> 0 (EOF)
 *          otherwise                -> -EAGAIN (the sim never blocks)
 *   send   pending error -> that error, once; injected errors; fd shut its write side or
 *          p closed -> -EPIPE; queue fd -> p full -> -EAGAIN; otherwise
 *          min(len, free space, "next send takes at most N") bytes.
 *   close  frees the number; the peer sees EOF (after the queued bytes) and -EPIPE.
 *
 * Readiness (for the backend and the poll entry):
 *   READ  bytes queued to fd, EOF (see recv), or a pending error
 *   WRITE free space towards p, p closed, fd's write side shut, or a pending error
 * Injected errors do not change readiness.
 *
 * Typical use:
 *   aiotp_sim *sim; aiotp_sim_create(&sim, NULL);
 *   aiotp_loop_options o = {sizeof o, aiotp_backend_sim(), aiotp_sim_syscalls(sim), NULL};
 *   aiotp_loop_create(&loop, &o);
 *   int a, b; aiotp_sim_socketpair(sim, &a, &b);    wrap `a`, play the peer on `b`
 *   ... aiotp_loop_run_once(loop); aiotp_sim_read(sim, b, buf, n); ...
 *   aiotp_loop_free(loop); aiotp_sim_close(sim, b); aiotp_sim_free(sim);
 */
#ifndef AIOTP_SIM_H
#define AIOTP_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "aiotp/backend.h"
#include "aiotp/sys.h"

typedef struct aiotp_sim aiotp_sim;

/* Default capacity of each direction of a new pair, in bytes. */
#define AIOTP_SIM_DEFAULT_CAPACITY ((size_t)65536)
/* Highest fd number the sim hands out + 1. */
#define AIOTP_SIM_MAX_FDS 1024

/* Create a sim. alloc NULL: aiotp_allocator_default(). Returns 0, AIOTP_EINVAL or
   AIOTP_ENOMEM. */
int aiotp_sim_create(aiotp_sim **out, const aiotp_allocator *alloc);
/* Free the sim and every pair still open. The loop using it must be freed first. */
void aiotp_sim_free(aiotp_sim *sim);

/* The syscall table of this sim (ctx = sim); valid as long as the sim. */
const aiotp_syscalls *aiotp_sim_syscalls(aiotp_sim *sim);
/* The simulated backend. It must be used together with a sim's syscall table (it finds
   the sim through the table's ctx); one loop per sim. */
const aiotp_backend *aiotp_backend_sim(void);

/* A connected stream pair. Returns 0, AIOTP_ENOMEM or -EMFILE. */
int aiotp_sim_socketpair(aiotp_sim *sim, int *a, int *b);

/* ---- playing the peer (same semantics as the syscall entries) -------------------- */

ssize_t aiotp_sim_write(aiotp_sim *sim, int fd, const void *buf, size_t len);
ssize_t aiotp_sim_read(aiotp_sim *sim, int fd, void *buf, size_t len);
int aiotp_sim_shutdown(aiotp_sim *sim, int fd, int how); /* SHUT_RD/WR/RDWR */
int aiotp_sim_close(aiotp_sim *sim, int fd);

/* ---- script knobs (apply to endpoint fd; -EBADF if fd is not open) ------------------ */

/* Capacity of the queue fd -> peer (bytes already queued stay, even above it). */
int aiotp_sim_set_capacity(aiotp_sim *sim, int fd, size_t cap);
/* The next send/sendmsg on fd that would move bytes takes at most n of them (n > 0). */
int aiotp_sim_send_limit(aiotp_sim *sim, int fd, size_t n);
/* The next k send/sendmsg calls on fd return -EAGAIN. */
int aiotp_sim_send_eagain(aiotp_sim *sim, int fd, unsigned k);
/* The next send/sendmsg and the next recv on fd return -EINTR (once each). */
int aiotp_sim_eintr_once(aiotp_sim *sim, int fd);
/* The next k recv calls on fd return err (a negative errno). */
int aiotp_sim_recv_fail(aiotp_sim *sim, int fd, int err, unsigned k);
/* The next k send/sendmsg calls on fd return err (a negative errno). */
int aiotp_sim_send_fail(aiotp_sim *sim, int fd, int err, unsigned k);
/* The next k shutdown calls on fd return err (a negative errno). */
int aiotp_sim_shutdown_fail(aiotp_sim *sim, int fd, int err, unsigned k);
/* The peer of fd resets the connection: fd's next recv or send (or SO_ERROR) reports
   -ECONNRESET, the queues are dropped, and afterwards fd behaves as if its peer had
   closed. */
int aiotp_sim_reset(aiotp_sim *sim, int fd);
/* The backend's next k waits return -EINTR. */
void aiotp_sim_wait_eintr(aiotp_sim *sim, unsigned k);

/* ---- observation --------------------------------------------------------------------- */

/* Bytes queued towards fd (readable by fd), or -EBADF. */
ssize_t aiotp_sim_readable(const aiotp_sim *sim, int fd);
/* Bytes queued from fd to its peer, or -EBADF. */
ssize_t aiotp_sim_queued(const aiotp_sim *sim, int fd);
/* AIOTP_EV_* readiness of fd now (0 for an unknown fd). */
unsigned aiotp_sim_ready(const aiotp_sim *sim, int fd);
/* Number of open fds. */
size_t aiotp_sim_open_fds(const aiotp_sim *sim);
/* Interest set the backend holds for fd. */
unsigned aiotp_sim_interest(const aiotp_sim *sim, int fd);

/* Virtual time. */
int64_t aiotp_sim_now(const aiotp_sim *sim);
void aiotp_sim_advance(aiotp_sim *sim, int64_t ns);

typedef struct aiotp_sim_stats {
    uint64_t waits;       /* backend waits */
    uint64_t idle_waits;  /* waits that found nothing ready */
    uint64_t stalls;      /* waits with nothing ready and no timeout (would block) */
    uint64_t sends;       /* send/sendmsg/write/writev calls */
    uint64_t recvs;       /* recv/read calls */
    uint64_t bytes_moved; /* bytes accepted by sends */
} aiotp_sim_stats;

void aiotp_sim_get_stats(const aiotp_sim *sim, aiotp_sim_stats *out);

#endif /* AIOTP_SIM_H */
