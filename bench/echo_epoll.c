/*
 * echo_epoll.c - hand-written epoll echo server (Linux).
 *
 * LEVEL-TRIGGERED on purpose: like the poll server and like libuv/libevent,
 * it does one read() of at most 64 KiB per readiness notification and never
 * has to read until EAGAIN, so a ping-pong costs exactly epoll_wait + read +
 * write (edge-triggered would need an extra read() returning EAGAIN).
 *
 * The bytes read (into a buffer shared by all connections) are written back
 * at once.  If the kernel takes only part of them, the rest is copied into
 * the connection's own output buffer and its interest is switched from
 * EPOLLIN to EPOLLOUT: reading is paused until the output has drained, then
 * switched back.  SIGTERM/SIGINT arrive through a signalfd.
 */
#define _GNU_SOURCE /* accept4 */
#include "bench_common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;
    char *out;       /* unsent bytes (allocated on first backlog) */
    size_t out_off;
    size_t out_len;  /* 0 when nothing is pending */
    struct conn *prev, *next; /* all connections, to free them on exit */
};

static struct conn *all;
static char rbuf[BENCH_READ_SIZE];
/* epoll data.ptr tags for the two non-connection fds. */
static char listener_tag, signal_tag;

static int set_interest(int ep, struct conn *c, unsigned events)
{
    struct epoll_event ev;
    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void drop(struct conn *c)
{
    close(c->fd); /* also removes it from the epoll set */
    if (c->prev)
        c->prev->next = c->next;
    else
        all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->out);
    free(c);
}

static void accept_all(int ep, int lfd, int is_tcp)
{
    for (;;) {
        struct epoll_event ev;
        struct conn *c;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("accept4");
            return;
        }
        if (is_tcp)
            bench_set_nodelay(fd);
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            fputs("echo_epoll: out of memory, dropping connection\n", stderr);
            close(fd);
            continue;
        }
        c->fd = fd;
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl(ADD)");
            close(fd);
            free(c);
            continue;
        }
        c->next = all;
        if (all)
            all->prev = c;
        all = c;
    }
}

/* Returns 0, or -1 if the connection must be closed. */
static int serve(int ep, struct conn *c, unsigned events)
{
    if (events & EPOLLERR)
        return -1;
    if (c->out_len > 0) {
        if (!(events & (EPOLLOUT | EPOLLHUP)))
            return 0;
        while (c->out_off < c->out_len) {
            ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return 0;
                return -1;
            }
            c->out_off += (size_t)n;
        }
        c->out_off = c->out_len = 0;
        return set_interest(ep, c, EPOLLIN); /* drained: resume reading */
    }
    if (events & (EPOLLIN | EPOLLHUP)) {
        size_t off = 0, len;
        ssize_t n = read(c->fd, rbuf, sizeof rbuf);
        if (n == 0)
            return -1;
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
        len = (size_t)n;
        while (off < len) {
            n = send(c->fd, rbuf + off, len - off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                return -1;
            }
            off += (size_t)n;
        }
        if (off < len) {
            if (c->out == NULL && (c->out = malloc(BENCH_READ_SIZE)) == NULL)
                return -1;
            memcpy(c->out, rbuf + off, len - off);
            c->out_off = 0;
            c->out_len = len - off;
            return set_interest(ep, c, EPOLLOUT); /* backed up: pause reading */
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum { MAX_EVENTS = 256 };
    struct epoll_event evs[MAX_EVENTS], ev;
    struct bench_addr addr;
    sigset_t mask;
    int ep, lfd, sfd, status = 0, running = 1;

    bench_parse_args(argc, argv, &addr);
    bench_process_setup();

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
    lfd = bench_listen(&addr);
    if (lfd < 0)
        return 1;
    ev.events = EPOLLIN;
    ev.data.ptr = &listener_tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("epoll_ctl(listener)");
        return 1;
    }
    ev.events = EPOLLIN;
    ev.data.ptr = &signal_tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0) {
        perror("epoll_ctl(signalfd)");
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
            void *p = evs[i].data.ptr;
            if (p == &signal_tag) {
                running = 0;
            } else if (p == &listener_tag) {
                accept_all(ep, lfd, !addr.is_unix);
            } else {
                struct conn *c = p;
                if (serve(ep, c, evs[i].events) < 0)
                    drop(c);
            }
        }
    }

    while (all)
        drop(all);
    close(lfd);
    close(sfd);
    close(ep);
    bench_cleanup(&addr);
    return status;
}
