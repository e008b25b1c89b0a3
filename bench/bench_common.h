/*
 * bench_common.h - helpers shared by the C echo servers in bench/.
 *
 * Every echo server takes exactly one of
 *     --tcp PORT     listen on 127.0.0.1:PORT
 *     --unix PATH    listen on the Unix stream socket PATH
 *     --udp PORT     UDP servers: receive datagrams on 127.0.0.1:PORT
 * prints "ready" on stdout once listening and exits 0 on SIGTERM/SIGINT.
 */
#ifndef AIOTP_BENCH_COMMON_H
#define AIOTP_BENCH_COMMON_H

#include <stddef.h>
#include <sys/socket.h>

/* Size of the read buffer used by the C servers (one read() at most). */
#define BENCH_READ_SIZE 65536

/* listen() backlog used by every server (C and Python alike). */
#define BENCH_BACKLOG 1024

struct bench_addr {
    int is_unix;       /* 1: Unix socket at path, 0: TCP (or UDP) on 127.0.0.1:port */
    int is_udp;        /* 1: UDP on 127.0.0.1:port (--udp) */
    int port;          /* 1..65535 when !is_unix */
    const char *path;  /* socket path when is_unix */
};

/* What a server takes (bench_parse_args_for). */
#define BENCH_ARGS_STREAM 1u /* --tcp PORT | --unix PATH */
#define BENCH_ARGS_UDP 2u    /* --udp PORT */

/*
 * Parses argv for --tcp PORT | --unix PATH (and -h/--help).  On a bad
 * argument prints a message and the usage to stderr and exits with status 2.
 */
void bench_parse_args(int argc, char **argv, struct bench_addr *addr);

/* The same for a server that takes the kinds of address in `kinds`
   (BENCH_ARGS_STREAM, BENCH_ARGS_UDP or both). */
void bench_parse_args_for(int argc, char **argv, struct bench_addr *addr, unsigned kinds);

/*
 * Creates a non-blocking, close-on-exec listening socket for addr (a stale
 * Unix socket file is removed first).  Returns the fd, or -1 after printing
 * an error message.
 */
int bench_listen(const struct bench_addr *addr);

/*
 * Creates a non-blocking, close-on-exec UDP socket bound to 127.0.0.1:port
 * (addr->is_udp).  Returns the fd, or -1 after printing an error message.
 */
int bench_udp_socket(const struct bench_addr *addr);

/*
 * The hand-written UDP loops' datagram handling (udp_poll.c, udp_epoll.c).
 * A datagram whose echo the kernel did not take (EAGAIN) is kept here, copied,
 * and the loop then waits for the socket to be writable instead of readable:
 * reading pauses while the output is backed up (one datagram at most).
 */
struct bench_udp_pending {
    int set;                      /* a datagram is waiting */
    size_t len;
    socklen_t alen;
    struct sockaddr_storage addr; /* its destination: the sender of the request */
    char data[BENCH_READ_SIZE];
};

/*
 * Receives up to `batch` datagrams from fd (one recvfrom() each, into buf of
 * cap bytes; stops early at EAGAIN) and sends each back to its sender at once
 * with sendto().  Returns 1 when an echo was not taken and is now pending (stop
 * reading, wait for output), else 0.  Other errors drop the datagram.
 */
int bench_udp_echo(int fd, char *buf, size_t cap, int batch, struct bench_udp_pending *p);

/* Sends the pending datagram.  Returns 1 while it is still pending, 0 once it
   went (or was dropped on an error other than EAGAIN). */
int bench_udp_flush(int fd, struct bench_udp_pending *p);

/* BENCH_UDP_BATCH from the environment: receives per readiness event of the
   hand-written UDP loops (1..1024, default 1). */
int bench_udp_batch(void);

/* Puts fd in non-blocking mode.  Returns 0 or -1 (errno set). */
int bench_set_nonblock(int fd);

/* Sets TCP_NODELAY on a connected TCP socket (errors are ignored). */
void bench_set_nodelay(int fd);

/*
 * Process set-up common to all servers: ignore SIGPIPE and raise the soft
 * RLIMIT_NOFILE to the hard limit (so that 1000+ idle connections fit).
 */
void bench_process_setup(void);

/*
 * A self-pipe for SIGTERM and SIGINT: makes fds (both non-blocking and
 * close-on-exec) and installs handlers that write the signal's number to
 * fds[1]; the loop watches fds[0].  Returns 0, or -1 after printing an error.
 */
int bench_signal_pipe(int fds[2]);

/* Prints "ready" on stdout and flushes it. */
void bench_ready(void);

/* Removes the Unix socket file of addr, if any (ENOENT is not an error). */
void bench_cleanup(const struct bench_addr *addr);

/* The monotonic clock, and this process's CPU time (user + system), in microseconds. */
double bench_now_us(void);
double bench_cpu_us(void);

#endif
