/*
 * udp_libuv.c - libuv UDP echo server (uv_udp_*).
 *
 * alloc_cb hands out one 64 KiB static buffer; recv_cb sends every datagram
 * back to its sender at once with uv_udp_try_send().  What the kernel does not
 * take (UV_EAGAIN) is copied into a uv_udp_send() request and receiving stops
 * (uv_udp_recv_stop) until the queued sends have completed, then restarts.
 * libuv's own receive path: up to 32 recvmsg() per readiness event, until
 * EAGAIN (no UV_UDP_RECVMMSG: what a plain libuv program gets).
 * SIGTERM/SIGINT close every handle and the loop ends cleanly.
 */
#include "bench_common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct send_req {
    uv_udp_send_t req;
    uv_buf_t buf;
    char bytes[]; /* buf.len bytes (C99 flexible array member) */
};

static uv_loop_t *loop;
static uv_udp_t sock;
static uv_signal_t sigint_h, sigterm_h;
static char rbuf[BENCH_READ_SIZE];
static unsigned queued; /* uv_udp_send requests in flight */
static int stopping;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags);

static void on_sent(uv_udp_send_t *req, int status)
{
    (void)status; /* a failed echo is dropped, as UDP does */
    free(req->data); /* the send_req */
    if (--queued == 0 && !stopping)
        uv_udp_recv_start(&sock, on_alloc, on_recv); /* drained: resume reading */
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    uv_buf_t b;
    struct send_req *q;
    int r;

    (void)flags;
    if (nread < 0 || addr == NULL)
        return; /* an error, or nothing more to read (nread 0, addr NULL) */
    b = uv_buf_init(buf->base, (unsigned)nread);
    r = uv_udp_try_send(h, &b, 1, addr);
    if (r != UV_EAGAIN)
        return; /* sent, or dropped on another error */
    q = malloc(sizeof *q + (size_t)nread);
    if (q == NULL)
        return;
    memcpy(q->bytes, buf->base, (size_t)nread);
    q->buf = uv_buf_init(q->bytes, (unsigned)nread);
    q->req.data = q;
    if (uv_udp_send(&q->req, h, &q->buf, 1, addr, on_sent) < 0) {
        free(q);
        return;
    }
    if (queued++ == 0)
        uv_udp_recv_stop(h); /* backed up: pause reading */
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    stopping = 1;
    uv_close((uv_handle_t *)&sock, NULL); /* cancels queued sends */
    uv_close((uv_handle_t *)&sigint_h, NULL);
    uv_close((uv_handle_t *)&sigterm_h, NULL);
}

static int fail(const struct bench_addr *a, const char *what, int r)
{
    fprintf(stderr, "udp_libuv: %s udp 127.0.0.1:%d: %s\n", what, a->port, uv_strerror(r));
    return 1;
}

int main(int argc, char **argv)
{
    struct bench_addr addr;
    struct sockaddr_in sin;
    int r;

    bench_parse_args_for(argc, argv, &addr, BENCH_ARGS_UDP);
    bench_process_setup();
    loop = uv_default_loop();

    if ((r = uv_ip4_addr("127.0.0.1", addr.port, &sin)) < 0)
        return fail(&addr, "uv_ip4_addr", r);
    if ((r = uv_udp_init(loop, &sock)) < 0)
        return fail(&addr, "uv_udp_init", r);
    if ((r = uv_udp_bind(&sock, (const struct sockaddr *)&sin, 0)) < 0)
        return fail(&addr, "bind", r);
    if ((r = uv_udp_recv_start(&sock, on_alloc, on_recv)) < 0)
        return fail(&addr, "uv_udp_recv_start", r);

    uv_signal_init(loop, &sigint_h);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    bench_ready();

    uv_run(loop, UV_RUN_DEFAULT); /* returns once every handle is closed */
    r = uv_loop_close(loop);
    if (r < 0)
        fprintf(stderr, "udp_libuv: uv_loop_close: %s\n", uv_strerror(r));
    return r < 0;
}
