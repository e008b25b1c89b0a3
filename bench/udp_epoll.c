/*
 * udp_epoll.c - hand-written epoll UDP echo server (Linux).
 *
 * Level-triggered, like echo_epoll.c: one recvfrom() of at most 64 KiB per
 * readiness notification, then sendto() of the same bytes back to the sender
 * at once, so a datagram costs epoll_wait + recvfrom + sendto.  An echo the
 * kernel does not take (EAGAIN) is kept and the interest switches from EPOLLIN
 * to EPOLLOUT until it has gone (bench_common.c).  BENCH_UDP_BATCH=N: up to N
 * recvfrom() per notification (default 1).  SIGTERM/SIGINT arrive through a
 * signalfd.
 */
#define _GNU_SOURCE /* signalfd */
#include "bench_common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

static char rbuf[BENCH_READ_SIZE];
static struct bench_udp_pending pending;

static int set_interest(int ep, int op, int fd, unsigned events)
{
    struct epoll_event ev;
    ev.events = events;
    ev.data.fd = fd;
    return epoll_ctl(ep, op, fd, &ev);
}

int main(int argc, char **argv)
{
    enum { MAX_EVENTS = 8 };
    struct epoll_event evs[MAX_EVENTS];
    struct bench_addr addr;
    sigset_t mask;
    int ep, fd, sfd, batch, status = 0, running = 1;

    bench_parse_args_for(argc, argv, &addr, BENCH_ARGS_UDP);
    bench_process_setup();
    batch = bench_udp_batch();

    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
        perror("sigprocmask");
        return 1;
    }
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        perror("signalfd");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    fd = bench_udp_socket(&addr);
    if (fd < 0)
        return 1;
    if (set_interest(ep, EPOLL_CTL_ADD, fd, EPOLLIN) < 0 ||
        set_interest(ep, EPOLL_CTL_ADD, sfd, EPOLLIN) < 0) {
        perror("epoll_ctl(ADD)");
        return 1;
    }
    bench_ready();

    while (running) {
        int i, n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            status = 1;
            break;
        }
        for (i = 0; i < n; i++) {
            if (evs[i].data.fd == sfd) {
                running = 0;
            } else if (pending.set) {
                if (bench_udp_flush(fd, &pending) == 0 &&
                    set_interest(ep, EPOLL_CTL_MOD, fd, EPOLLIN) < 0) /* resume reading */
                    perror("epoll_ctl(MOD)");
            } else if (bench_udp_echo(fd, rbuf, sizeof rbuf, batch, &pending) &&
                       set_interest(ep, EPOLL_CTL_MOD, fd, EPOLLOUT) < 0) { /* pause reading */
                perror("epoll_ctl(MOD)");
            }
        }
    }

    close(fd);
    close(sfd);
    close(ep);
    return status;
}
