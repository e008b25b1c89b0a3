/*
 * bench_common.h - helpers shared by the C echo servers in bench/.
 *
 * Every echo server takes exactly one of
 *     --tcp PORT     listen on 127.0.0.1:PORT
 *     --unix PATH    listen on the Unix stream socket PATH
 * prints "ready" on stdout once listening and exits 0 on SIGTERM/SIGINT.
 */
#ifndef AIOTP_BENCH_COMMON_H
#define AIOTP_BENCH_COMMON_H

#include <stddef.h>

/* Size of the read buffer used by the C servers (one read() at most). */
#define BENCH_READ_SIZE 65536

/* listen() backlog used by every server (C and Python alike). */
#define BENCH_BACKLOG 1024

struct bench_addr {
    int is_unix;       /* 1: Unix socket at path, 0: TCP on 127.0.0.1:port */
    int port;          /* 1..65535 when !is_unix */
    const char *path;  /* socket path when is_unix */
};

/*
 * Parses argv for --tcp PORT | --unix PATH (and -h/--help).  On a bad
 * argument prints a message and the usage to stderr and exits with status 2.
 */
void bench_parse_args(int argc, char **argv, struct bench_addr *addr);

/*
 * Creates a non-blocking, close-on-exec listening socket for addr (a stale
 * Unix socket file is removed first).  Returns the fd, or -1 after printing
 * an error message.
 */
int bench_listen(const struct bench_addr *addr);

/* Puts fd in non-blocking mode.  Returns 0 or -1 (errno set). */
int bench_set_nonblock(int fd);

/* Sets TCP_NODELAY on a connected TCP socket (errors are ignored). */
void bench_set_nodelay(int fd);

/*
 * Process set-up common to all servers: ignore SIGPIPE and raise the soft
 * RLIMIT_NOFILE to the hard limit (so that 1000+ idle connections fit).
 */
void bench_process_setup(void);

/* Prints "ready" on stdout and flushes it. */
void bench_ready(void);

/* Removes the Unix socket file of addr, if any (ENOENT is not an error). */
void bench_cleanup(const struct bench_addr *addr);

#endif
