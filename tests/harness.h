/*
 * tests/harness.h - the test harness: one binary per test file, one CTest per case.
 *
 *   TEST(name) { ... }                         defines a case
 *   static const th_case cases[] = { T(name, "RULE-1 RULE-2"), ... };
 *   TH_MAIN(cases)
 *
 * `binary NAME` runs one case; `binary --list` prints "NAME\tRULES" lines. CMake reads
 * the T(...) entries to register one CTest per case; tools/check_rules.py reads the rule
 * IDs to check that every rule of spec/rules.md has a test.
 *
 * Checks print both sides and let the case continue; a case fails if any check failed,
 * if it leaked memory or file descriptors, or if it ran over its time (10 s).
 *
 * Every loop made with th_loop() uses a counting allocator (with optional failure
 * injection) and a syscall table that passes through to the kernel unless a fault is
 * armed (th_faults), and records the library's trace (spec/trace-format.md). The backend
 * is poll, or the one named by the environment variable AIOTP_TEST_BACKEND ("poll",
 * "epoll", "sim"): the whole suite runs on poll and epoll.
 *
 * AIOTP_TEST_BACKEND=sim runs the files that end with TH_MAIN_SIM (the stream-transport
 * suite, CTest label "stream") on the deterministic simulated kernel (aiotp/sim.h,
 * spec/sim.md): th_loop() makes the loop with the sim backend and the fault-injecting
 * table over the case's sim (one per case, made on first use, freed after the case; a
 * case has one loop at a time), and the test plays the peer through the th_peer_*
 * helpers below, which are POSIX calls normally and the same calls on the sim in sim
 * mode. In sim mode a case must make a loop on the sim (else it fails), and every sim fd
 * must be closed at its end (transports' by the loops, the test's own by the test), like
 * the real fds. Files with plain TH_MAIN run on poll when AIOTP_TEST_BACKEND=sim, and say
 * so.
 */
#ifndef AIOTP_TEST_HARNESS_H
#define AIOTP_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "aiotp/aiotp.h"

typedef struct th_case {
    const char *name;
    void (*fn)(void);
    const char *rules;
} th_case;

#define TEST(name) static void test_##name(void)
#define T(name, rules) {#name, test_##name, rules}
#define TH_MAIN(cases)                                                                 \
    int main(int argc, char **argv)                                                    \
    {                                                                                  \
        return th_main(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);           \
    }
/* The same for a file of the sim suite: its cases run on the sim when
   AIOTP_TEST_BACKEND=sim (the peer is played only through th_peer_* and th_socketpair,
   th_tcp_pair, ...). */
#define TH_MAIN_SIM(cases)                                                             \
    int main(int argc, char **argv)                                                    \
    {                                                                                  \
        return th_main_sim(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);       \
    }

int th_main(const th_case *cases, size_t n, int argc, char **argv);
int th_main_sim(const th_case *cases, size_t n, int argc, char **argv);

/* ---- checks ------------------------------------------------------------------------- */

void th_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int th_failures(void);

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            th_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                           \
        }                                                                              \
    } while (0)

#define CHECK_INT(a, b)                                                                \
    do {                                                                               \
        long long th_a_ = (long long)(a);                                              \
        long long th_b_ = (long long)(b);                                              \
        if (th_a_ != th_b_) {                                                          \
            th_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, th_a_, th_b_); \
        }                                                                              \
    } while (0)

#define CHECK_SIZE(a, b)                                                               \
    do {                                                                               \
        unsigned long long th_a_ = (unsigned long long)(a);                            \
        unsigned long long th_b_ = (unsigned long long)(b);                            \
        if (th_a_ != th_b_) {                                                          \
            th_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu", #a, #b, th_a_, th_b_); \
        }                                                                              \
    } while (0)

/* error codes, printed by name */
#define CHECK_ERR(a, b)                                                                \
    do {                                                                               \
        int th_a_ = (int)(a);                                                          \
        int th_b_ = (int)(b);                                                          \
        if (th_a_ != th_b_) {                                                          \
            th_fail(__FILE__, __LINE__, "%s == %s: %s (%d) != %s (%d)", #a, #b,        \
                    aiotp_err_name(th_a_), th_a_, aiotp_err_name(th_b_), th_b_);       \
        }                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *th_a_ = (a);                                                       \
        const char *th_b_ = (b);                                                       \
        if (th_a_ == NULL || th_b_ == NULL || strcmp(th_a_, th_b_) != 0) {             \
            th_fail(__FILE__, __LINE__, "%s == %s:\n--- got\n%s\n--- expected\n%s", #a, \
                    #b, th_a_ ? th_a_ : "(null)", th_b_ ? th_b_ : "(null)");           \
        }                                                                              \
    } while (0)

/* ---- loops, traces ---------------------------------------------------------------------- */

/* A loop with the counting allocator, the fault-injecting syscall table and the trace
   recorder. Freed (and checked for leaks) by the harness after the case if the case did
   not free it with th_loop_free(). */
aiotp_loop *th_loop(void);
void th_loop_free(aiotp_loop *loop);
/* The resolver of the loops th_loop() makes from now on in this case (NULL: the loop's
   default, which with the harness's own syscall table resolves on the loop thread). */
void th_set_resolver(const aiotp_resolver *r);

/* The whole recorded trace, one event per line ('\n' after each). */
const char *th_trace(void);
/* The trace lines that start with `prefix` (e.g. "t1 cb "), each with the prefix's first
   word removed when strip_id is true ("cb connection_made\n..."). Static storage,
   overwritten by the next call. */
const char *th_trace_lines(const char *prefix, bool strip_id);
/* The callbacks of transport `id` (1, 2, ...): its "cb" lines plus "ret eof_received"
   lines, without the "tN " prefix: "cb connection_made\ncb connection_lost status=0\n". */
const char *th_callbacks(unsigned id);
/* Forget what was recorded so far. */
void th_trace_clear(void);

/* Run one pass. Fails the case on a loop error. A no-op 50 ms timer bounds the wait, so
   a pass with nothing to do returns (and an "iter" line is still traced). */
void th_run_once(aiotp_loop *loop);
/* Run passes until pred(arg) is true; fail the case after max_passes. */
void th_run_until(aiotp_loop *loop, bool (*pred)(void *), void *arg, int max_passes);
/* Run n passes. */
void th_run_passes(aiotp_loop *loop, int n);

/* ---- sockets ---------------------------------------------------------------------------

   The sockets of a case are real fds, or in sim mode fds of the case's sim: the test
   never mixes them with POSIX calls, it uses the helpers below. */

/* A connected AF_UNIX stream socketpair (blocking; sim: aiotp_sim_socketpair). */
void th_socketpair(int sv[2]);
/* A connected TCP pair over 127.0.0.1 (blocking): sv[0] the client side, sv[1] the
   accepted side (sim: over the sim's virtual network, with real addresses). */
void th_tcp_pair(int sv[2]);
/* Small socket buffers (SO_SNDBUF/SO_RCVBUF 4096), so that the kernel takes little and
   writes queue up (sim: capacities of 4096 bytes in both directions). */
void th_small_buffers(int fd);
/* Read what is available on a blocking/nonblocking fd (up to cap), without blocking. */
size_t th_drain_fd(int fd, void *buf, size_t cap);
/* Read exactly n bytes from a blocking fd (fails the case on EOF/error; sim: the bytes
   must be queued already, the sim never blocks). */
void th_read_exact(int fd, void *buf, size_t n);
/* The lowest free fd number (for fd-leak checks). */
int th_lowest_free_fd(void);

/* The peer side: the POSIX call of the same name, or in sim mode the same call on the
   case's sim (through its syscall table), with the POSIX convention (-1 and errno). A
   call that would block (no MSG_DONTWAIT: recv with nothing queued, send/write that
   cannot take everything, accept with an empty backlog) fails the case in sim mode
   instead of waiting. th_peer_unlink removes a Unix socket path (sim: unlink_socket). */
ssize_t th_peer_write(int fd, const void *buf, size_t n);
ssize_t th_peer_send(int fd, const void *buf, size_t n, int flags);
ssize_t th_peer_recv(int fd, void *buf, size_t n, int flags);
int th_peer_close(int fd);
int th_peer_shutdown(int fd, int how);
int th_peer_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int th_peer_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int th_peer_socket(int domain, int type, int protocol);
int th_peer_bind(int fd, const struct sockaddr *a, socklen_t len);
int th_peer_listen(int fd, int backlog);
int th_peer_accept(int fd, struct sockaddr *a, socklen_t *len);
int th_peer_connect(int fd, const struct sockaddr *a, socklen_t len);
int th_peer_getsockname(int fd, struct sockaddr *a, socklen_t *len);
int th_peer_getpeername(int fd, struct sockaddr *a, socklen_t *len);
int th_peer_unlink(const char *path);
/* Datagrams: one datagram per call, with the destination / the sender's address (see
   the datagram sockets below). In sim mode a sendto that would block (-EAGAIN: a full
   Unix receiver) and a recvfrom with nothing queued fail the case unless flags has
   MSG_DONTWAIT. */
ssize_t th_peer_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
                       socklen_t alen);
ssize_t th_peer_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a,
                         socklen_t *alen);
/* fd is an open descriptor (sim: an open sim fd). */
bool th_fd_is_open(int fd);

/* Datagram sockets for playing the peer (blocking; POSIX calls, or the sim's in sim mode,
   so a datagram case runs unchanged on poll, epoll and the sim). Each fails the case on
   error; close them with th_peer_close.
   th_udp_socket: AF_INET / AF_INET6: a UDP socket bound to an ephemeral port of
   127.0.0.1 / ::1; AF_UNIX: a Unix datagram socket bound to a fresh path (POSIX: in a
   temporary directory of the case; sim: "/sim/th-dgram-N"), removed with its directory
   at the end of the case. Its address (getsockname) goes to *addr and *alen when they
   are not NULL.
   th_unix_dgram_unnamed: a Unix datagram socket that is not bound (its datagrams arrive
   with no sender address: recvfrom's *alen is 0).
   th_dgram_socketpair: two unnamed Unix datagram sockets connected to each other
   (socketpair(AF_UNIX, SOCK_DGRAM); sim: aiotp_sim_socketpair_dgram). */
void th_udp_socket(int family, int *fd, struct sockaddr_storage *addr, socklen_t *alen);
void th_unix_dgram_unnamed(int *fd);
void th_dgram_socketpair(int sv[2]);

/* The current case runs on the sim (the backend of its last th_loop()). */
bool th_sim_mode(void);
/* The case's sim (made on first use; freed by the harness after the case). */
struct aiotp_sim *th_sim(void);
/* The fault-injecting syscall table th_loop() gives its loops (th_f), over POSIX or, in
   sim mode, over the case's sim: a case can call its entries directly. */
const aiotp_syscalls *th_syscalls(void);

/* ---- a recording protocol --------------------------------------------------------------- */

typedef struct th_rec th_rec;
typedef int (*th_hook)(th_rec *r, aiotp_transport *t);

struct th_rec {
    aiotp_transport *t;     /* set by connection_made */
    int made;               /* connection_made count */
    int lost;               /* connection_lost count */
    int lost_status;
    int eofs;               /* eof_received count */
    int pauses;             /* pause_writing count */
    int resumes;            /* resume_writing count */
    int get_buffers;        /* get_buffer count */
    int eof_ret;            /* what eof_received returns (default 0) */
    int made_ret;           /* what connection_made returns */
    int data_ret;           /* what data_received / buffer_updated return */
    int get_buffer_ret;     /* what get_buffer returns */
    size_t buf_size;        /* buffered: size of the buffer get_buffer hands out */
    unsigned char *buf;     /* buffered: the buffer (allocated on first use) */
    unsigned char *rx;      /* every byte received, in order */
    size_t rx_len;
    size_t rx_cap;
    int chunks;             /* data_received / buffer_updated count */
    size_t last_chunk;      /* size of the last chunk received */
    /* optional hooks, called after the counters are updated */
    th_hook on_made;
    th_hook on_data;
    th_hook on_eof;
    th_hook on_pause;
    th_hook on_resume;
    th_hook on_lost;
    void *user;             /* for hooks */
};

extern const aiotp_protocol th_streaming;
extern const aiotp_protocol th_buffered;

/* A new zeroed recorder (buffered: buf_size = 65536 bytes per get_buffer), freed by the
   harness after the case. */
th_rec *th_rec_new(void);

/* Wrap a connected socket fd with create_connection(sock=fd) and the given protocol and
   run until the completion has been called (so connection_made has run). Returns the
   transport (retained: the harness releases it at the end of the case). */
aiotp_transport *th_wrap(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *data);

/* fn runs after each case (one hook: a helper module frees its per-case state there). */
void th_on_case_end(void (*fn)(void));

/* Retain t until the end of the case (the harness releases it with its loop). */
void th_keep(aiotp_transport *t);
/* The same for a server (released before its loop is freed). */
void th_keep_server(aiotp_server *s);

/* Predicates for th_run_until. */
bool th_is_lost(void *rec);   /* r->lost > 0 */

/* ---- shared helpers ------------------------------------------------------------------ */

/* CRC-32 (as zlib.crc32), as in the "sum=" fields of trace format 3: h = TH_SUM_INIT,
   then h = th_sum(h, ...) over each chunk. */
#define TH_SUM_INIT 0u
uint32_t th_sum(uint32_t h, const void *data, size_t len);

/* True when `line` starts with `prefix`. */
bool th_starts(const char *line, const char *prefix);
/* The iteration ("iter N" line) of the nth (0-based) line of th_trace() that starts with
   prefix; 0 if there is none. */
uint64_t th_iter_of(const char *prefix, int nth);
/* The number of lines of th_trace() that start with prefix. */
int th_count_lines(const char *prefix);
/* th_callbacks(id) without the "cb pause_writing"/"cb resume_writing" lines (their sizes
   depend on the kernel's buffers). Static storage, overwritten by the next call. */
const char *th_cbs_no_flow(unsigned id);

/* True when `text` (len bytes, not necessarily terminated) starts with one of the
   '|'-separated prefixes in `keep` ("call write|ret write"). */
bool th_keep_line(const char *text, size_t len, const char *keep);
/* A view of a trace text (th_trace(), or any text in the same format): the lines of
   transport t1 whose text after "t1 " passes th_keep_line(keep), each as "@k text\n" with
   k = (the iteration of the last "iter N" line before it) - base (base: the iteration at
   th_mark(); lines before the first "iter" line count as base). With cut_total, " total=..."
   and the rest of the line are cut from "ret write"/"ret writelines" lines. Static
   storage (64 KiB, longer views are cut at a line), overwritten by the next call. */
const char *th_view(const char *trace, uint64_t base, const char *keep, bool cut_total);
/* Start a fresh view: th_trace_clear(), and return the loop's iteration (the base for
   th_view). */
uint64_t th_mark(aiotp_loop *loop);

/* Make close() of a TCP socket send a RST (SO_LINGER with a zero timeout); checks that
   setsockopt succeeded (sim: the close resets the connection). */
void th_set_rst(int fd);

/* An expected th_callbacks() text, built line by line. */
typedef struct th_expect {
    char s[8192];
    size_t len;
    uint64_t total; /* bytes announced by th_ex_data so far */
    uint32_t sum;   /* their CRC-32 */
} th_expect;

void th_ex_init(th_expect *e);
/* Append one line (a '\n' is added); a line that does not fit is dropped. */
void th_ex_linef(th_expect *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void th_ex_line(th_expect *e, const char *line);
/* "cb <what> n=.. total=.. sum=.." for the next n bytes at p (running total and sum). */
void th_ex_data(th_expect *e, const char *what, const void *p, size_t n);

/* An exception handler that records its last call into a global th_exc: */
typedef struct th_exc_log {
    int n;                       /* calls */
    int status;
    char msg[160];               /* ctx->message, or "(null)" */
    aiotp_transport *t;
    const aiotp_protocol *proto;
    void *pdata;
    uint64_t iter;               /* aiotp_loop_iteration() at the call */
} th_exc_log;

extern th_exc_log th_exc;
void th_exc_record(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg);
/* th_loop() with th_exc zeroed and th_exc_record as the exception handler. */
aiotp_loop *th_exc_loop(void);

/* A counting allocator (malloc/realloc/free) for loops and sims a case makes itself; its
   ctx is a th_counter:
       static th_counter mem = {-1, 0};
       static const aiotp_allocator alloc = TH_COUNTING_ALLOCATOR(&mem);
   (th_loop() has its own, driven by th_f.) */
typedef struct th_counter {
    long fail_after; /* fail allocations after this many more succeed; -1: never */
    size_t live;     /* allocations not yet freed */
} th_counter;

void *th_counting_alloc(void *ctx, size_t n);
void *th_counting_realloc(void *ctx, void *old, size_t n);
void th_counting_free(void *ctx, void *p);
#define TH_COUNTING_ALLOCATOR(counter)                                                 \
    {th_counting_alloc, th_counting_realloc, th_counting_free, (counter)}

/* ---- faults ------------------------------------------------------------------------- */

typedef struct th_faults {
    long alloc_fail_after; /* fail allocations after this many more succeed; -1: never */
    size_t live_allocs;    /* allocations not yet freed */
    size_t total_allocs;   /* allocations and reallocations made so far */
    ssize_t send_max;      /* > 0: send/sendmsg take at most this many bytes (not sendto:
                              a datagram goes whole or not at all) */
    int send_errno;        /* != 0: send/sendmsg/sendto fail with -send_errno */
    bool send_eagain;      /* send/sendmsg/sendto fail with -EAGAIN */
    int recv_errno;        /* != 0: recv/recvfrom fail with -recv_errno */
    int accept_errno;      /* != 0: accept fails with -accept_errno (once) */
    int shutdown_errno;    /* != 0: shutdown fails */
    int getaddrinfo_rc;    /* != 0: getaddrinfo returns this */
    int socket_errno;      /* != 0: socket() fails */
    int connect_errno;     /* != 0: connect() fails */
    /* pipes, signals, children (the entries of 0.3) */
    int pipe_errno;        /* != 0: pipe() fails */
    int spawn_errno;       /* != 0: spawn fails (no child is started) */
    bool no_pidfd;         /* pidfd_open returns -ENOSYS: children are watched through
                              SIGCHLD (the default of every case when the environment has
                              AIOTP_TEST_WATCHER=sigchld) */
    int sigwatch_errno;    /* != 0: sigwatch(on) fails */
    int write_errno;       /* != 0: write/writev (pipes) fail with -write_errno */
    bool write_eagain;     /* write/writev fail with -EAGAIN */
    ssize_t write_max;     /* > 0: write/writev take at most this many bytes */
    int read_errno;        /* != 0: read (pipes, the self-pipe) fails */
    ssize_t read_max;      /* > 0: read (pipes) returns at most this many bytes */
    int kill_errno;        /* != 0: kill fails */
    int fd_type_errno;     /* != 0: fd_type fails */
    long send_calls;       /* counters */
    long sendmsg_calls;
    long recv_calls;
    long sendto_calls;
    long recvfrom_calls;
    long read_calls;
    long spawn_calls;
    long kill_calls;
    long pidfd_calls;
} th_faults;

extern th_faults th_f;

/* A backend over poll that fails on demand (for loops a case makes itself with
   aiotp_loop_create): set() with a non-empty interest set fails with set_err while
   fail_set is true; the next fail_waits waits fail with wait_err. Reset before each
   case. */
typedef struct th_backend_faults {
    bool fail_set;
    int set_err;    /* default AIOTP_ENOMEM */
    int fail_waits;
    int wait_err;   /* default -EBADF */
} th_backend_faults;

extern th_backend_faults th_bf;
const aiotp_backend *th_failing_backend(void);

/* ---- pipes, signals and child processes (tests/proc_helpers.c) ------------------------

   The child program of these tests is tests/th_child (TH_CHILD, its path), which runs the
   script of its arguments (tests/th_script.h); in sim mode the harness runs the same
   script as the program of the virtual child (the sim's spawn hook, installed on every
   case's sim), so a case spawns TH_CHILD with the same argv on every backend. A program
   other than TH_CHILD, in sim mode: a path (or a name on PATH) that does not exist
   spawns with -ENOENT, one that is not executable with -EACCES, as on the real system;
   one that exists starts a child without a program (it runs until killed). A shell
   command (argv "/bin/sh", "-c", CMD) whose first word (after "exec") is TH_CHILD runs
   the script of its other words.

   After each case the harness checks that no child is left: no zombie and no running
   child of the test process (waitid), and on the sim no child that is not reaped. */

#ifndef TH_CHILD
#define TH_CHILD "tests/th_child" /* CMake passes the absolute path */
#endif

/* A pipe (blocking, close-on-exec; sim: aiotp_sim_pipe): fds[0] the read end. */
void th_pipe(int fds[2]);
/* read(2) as the peer (sim: the sim's read; nothing to read fails the case unless
   nonblock is true, then -1/EAGAIN). */
ssize_t th_peer_read(int fd, void *buf, size_t n, bool nonblock);
/* A file that is not a pipe: AIOTP_FD_CHAR (/dev/null) or AIOTP_FD_REGULAR (an empty
   regular file, already unlinked); close it with th_peer_close. */
int th_open_file(int type);
/* The signal arrives in the process (kill(getpid(), sig); sim: aiotp_sim_raise). */
void th_raise(int sig);
/* Start a child with the table th_loop() gives its loops (th_syscalls()->spawn): fd0..2
   as aiotp_spawn_attr.fd. Returns its pid, or the negated errno. */
pid_t th_spawn(const char *const *argv, int fd0, int fd1, int fd2);
/* Reap a child started with th_spawn (blocking; sim: it must have exited). */
int th_reap(pid_t pid);
/* connect_read_pipe (write false) or connect_write_pipe of fd with the table and data, run
   until the completion; the transport is retained until the end of the case (NULL and a
   failed case when the completion reports an error). */
aiotp_transport *th_pipe_transport(aiotp_loop *loop, bool write, int fd,
                                   const aiotp_protocol *proto, void *data);

/* Make a pipe small: the sim's capacity for its write end wfd, or the kernel's smallest
   pipe (one page, F_SETPIPE_SZ on Linux): 4096 bytes. */
void th_small_pipe(int wfd);
/* The pattern bytes th_child's outn writes, from byte `from` on (n bytes into buf). */
void th_pattern(unsigned char *buf, size_t n, uint64_t from);

/* (harness internals) the sim's spawn hook, installed on each case's sim; the check of
   children after a case (sim: that sim's, else the test process's), which also frees the
   virtual children's scripts. */
struct aiotp_sim;
void th__sim_children_setup(struct aiotp_sim *sim);
void th__children_check(struct aiotp_sim *sim);

#endif /* AIOTP_TEST_HARNESS_H */
