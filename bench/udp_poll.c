/*
 * udp_poll.c - hand-written poll() UDP echo server (POSIX only).
 *
 * One socket bound to 127.0.0.1:PORT.  Per readiness: one recvfrom() of at
 * most 64 KiB into a static buffer, then sendto() of the same bytes back to
 * the sender at once.  If the kernel does not take the echo (EAGAIN), it is
 * kept (copied) and the socket polls for POLLOUT instead of POLLIN until it
 * has gone: reading pauses while the output is backed up (bench_common.c).
 * BENCH_UDP_BATCH=N: up to N recvfrom() per readiness (stopping at EAGAIN),
 * for the batching experiment in bench/README.md (default 1).
 * SIGTERM/SIGINT are delivered through a self-pipe.
 */
#include "bench_common.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

static int sig_pipe[2] = {-1, -1};
static char rbuf[BENCH_READ_SIZE];
static struct bench_udp_pending pending;

int main(int argc, char **argv)
{
    struct bench_addr addr;
    struct pollfd pfds[2];
    int fd, batch, status = 0;

    bench_parse_args_for(argc, argv, &addr, BENCH_ARGS_UDP);
    bench_process_setup();
    batch = bench_udp_batch();

    if (bench_signal_pipe(sig_pipe) < 0)
        return 1;
    fd = bench_udp_socket(&addr);
    if (fd < 0)
        return 1;
    pfds[0].fd = sig_pipe[0];
    pfds[0].events = POLLIN;
    pfds[1].fd = fd;
    pfds[1].events = POLLIN;
    bench_ready();

    for (;;) {
        int n = poll(pfds, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            status = 1;
            break;
        }
        if (pfds[0].revents)
            break; /* SIGTERM or SIGINT */
        if (pfds[1].revents == 0)
            continue;
        if (pending.set) {
            if (bench_udp_flush(fd, &pending) == 0)
                pfds[1].events = POLLIN; /* sent: resume reading */
        } else if (bench_udp_echo(fd, rbuf, sizeof rbuf, batch, &pending)) {
            pfds[1].events = POLLOUT; /* backed up: pause reading */
        }
    }

    close(fd);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    return status;
}
