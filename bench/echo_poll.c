/*
 * echo_poll.c - hand-written poll() echo server (POSIX only).
 *
 * One read() of at most 64 KiB per readiness into a buffer shared by all
 * connections, immediately followed by a write() of the same bytes.  If the
 * kernel takes only part of them, the rest is copied into the connection's
 * own output buffer and the connection stops polling for input (POLLOUT
 * only) until that buffer has drained: reading is paused while the output
 * is backed up.  SIGTERM/SIGINT are delivered through a self-pipe.
 */
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    char *out;       /* unsent bytes (allocated on first backlog, BENCH_READ_SIZE) */
    size_t out_off;  /* first unsent byte in out */
    size_t out_len;  /* end of unsent bytes in out; 0 when nothing is pending */
};

/* pfds[0]: signal pipe, pfds[1]: listener, pfds[2..]: connections
 * (conns[i] describes pfds[i]; conns[0] and conns[1] are unused). */
static struct pollfd *pfds;
static struct conn *conns;
static size_t nfds, cap;
static int sig_pipe[2] = {-1, -1};
static char rbuf[BENCH_READ_SIZE];

static int add_fd(int fd, short events)
{
    if (nfds == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        struct pollfd *np = realloc(pfds, ncap * sizeof *np);
        struct conn *nc;
        if (np == NULL)
            return -1;
        pfds = np;
        nc = realloc(conns, ncap * sizeof *nc);
        if (nc == NULL)
            return -1;
        conns = nc;
        cap = ncap;
    }
    pfds[nfds].fd = fd;
    pfds[nfds].events = events;
    pfds[nfds].revents = 0;
    memset(&conns[nfds], 0, sizeof conns[nfds]);
    nfds++;
    return 0;
}

/* Closes connection i; the last entry moves into slot i. */
static void drop(size_t i)
{
    close(pfds[i].fd);
    free(conns[i].out);
    nfds--;
    pfds[i] = pfds[nfds];
    conns[i] = conns[nfds];
}

static void accept_all(int lfd, int is_tcp)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("accept");
            return;
        }
        if (bench_set_nonblock(fd) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
            perror("fcntl");
            close(fd);
            continue;
        }
        if (is_tcp)
            bench_set_nodelay(fd);
        if (add_fd(fd, POLLIN) < 0) {
            fputs("echo_poll: out of memory, dropping connection\n", stderr);
            close(fd);
        }
    }
}

/* Sends from buf; keeps what the kernel did not take in c->out.
 * Returns 0, or -1 if the connection must be closed. */
static int send_or_queue(struct pollfd *p, struct conn *c, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(p->fd, buf + off, len - off, MSG_NOSIGNAL);
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
        memcpy(c->out, buf + off, len - off);
        c->out_off = 0;
        c->out_len = len - off;
        p->events = POLLOUT; /* pause reading until drained */
    }
    return 0;
}

/* Handles the events of connection i.  Returns 0, or -1 to close it. */
static int serve(size_t i)
{
    struct pollfd *p = &pfds[i];
    struct conn *c = &conns[i];

    if (p->revents & (POLLERR | POLLNVAL))
        return -1;
    if (c->out_len > 0) {
        if (!(p->revents & (POLLOUT | POLLHUP)))
            return 0;
        while (c->out_off < c->out_len) {
            ssize_t n = send(p->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
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
        p->events = POLLIN; /* drained: resume reading */
        return 0;
    }
    if (p->revents & (POLLIN | POLLHUP)) {
        ssize_t n = read(p->fd, rbuf, sizeof rbuf);
        if (n == 0)
            return -1;
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
        return send_or_queue(p, c, rbuf, (size_t)n);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_addr addr;
    int lfd, status = 0;
    size_t i;

    bench_parse_args(argc, argv, &addr);
    bench_process_setup();

    if (bench_signal_pipe(sig_pipe) < 0)
        return 1;

    lfd = bench_listen(&addr);
    if (lfd < 0)
        return 1;
    if (add_fd(sig_pipe[0], POLLIN) < 0 || add_fd(lfd, POLLIN) < 0) {
        fputs("echo_poll: out of memory\n", stderr);
        return 1;
    }
    bench_ready();

    for (;;) {
        int n = poll(pfds, (nfds_t)nfds, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            status = 1;
            break;
        }
        if (pfds[0].revents)
            break; /* SIGTERM or SIGINT */
        if (pfds[1].revents)
            accept_all(lfd, !addr.is_unix);
        for (i = 2; i < nfds;) {
            if (pfds[i].revents && serve(i) < 0)
                drop(i); /* slot i now holds an unprocessed entry */
            else
                i++;
        }
    }

    while (nfds > 2)
        drop(nfds - 1);
    close(lfd);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    free(pfds);
    free(conns);
    bench_cleanup(&addr);
    return status;
}
