/*
 * echo_libuv.c - libuv echo server.
 *
 * alloc_cb hands out one 64 KiB buffer shared by all connections (libuv
 * only calls it when the stream is readable, so idle connections own no
 * buffer).  read_cb writes the bytes back at once with uv_try_write(); what
 * the kernel does not take is copied into a uv_write() request and reading
 * is stopped (uv_read_stop) until that write completes, then restarted.
 * SIGTERM/SIGINT close every handle and the loop ends cleanly.
 */
#include "bench_common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

union stream {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
};

struct write_req {
    uv_write_t req;
    uv_buf_t buf;
    char data[]; /* buf.len bytes (C99 flexible array member) */
};

static uv_loop_t *loop;
static union stream server;
static uv_signal_t sigint_h, sigterm_h;
static char rbuf[BENCH_READ_SIZE];
static int is_tcp;

static void on_client_close(uv_handle_t *h)
{
    free(h); /* the union stream is the whole client */
}

static void close_client(uv_stream_t *s)
{
    if (!uv_is_closing((uv_handle_t *)s))
        uv_close((uv_handle_t *)s, on_client_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status)
{
    uv_stream_t *s = req->handle;
    free(req);
    if (status < 0) {
        close_client(s); /* includes UV_ECANCELED while closing */
        return;
    }
    if (!uv_is_closing((uv_handle_t *)s) && s->write_queue_size == 0
        && uv_read_start(s, on_alloc, on_read) < 0)
        close_client(s); /* drained: resume reading */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    uv_buf_t b;
    size_t done;
    int r;

    if (nread < 0) { /* UV_EOF or an error */
        close_client(s);
        return;
    }
    if (nread == 0)
        return;
    b = uv_buf_init(buf->base, (unsigned int)nread);
    r = uv_try_write(s, &b, 1);
    if (r < 0 && r != UV_EAGAIN) {
        close_client(s);
        return;
    }
    done = r < 0 ? 0 : (size_t)r;
    if (done < (size_t)nread) {
        size_t rest = (size_t)nread - done;
        struct write_req *w = malloc(sizeof *w + rest);
        if (w == NULL) {
            close_client(s);
            return;
        }
        memcpy(w->data, buf->base + done, rest);
        w->buf = uv_buf_init(w->data, (unsigned int)rest);
        if (uv_write(&w->req, s, &w->buf, 1, on_write) < 0) {
            free(w);
            close_client(s);
            return;
        }
        uv_read_stop(s); /* backed up: pause reading until on_write */
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    union stream *c;
    int r;

    if (status < 0) {
        fprintf(stderr, "echo_libuv: connection error: %s\n", uv_strerror(status));
        return;
    }
    c = malloc(sizeof *c);
    if (c == NULL) {
        fputs("echo_libuv: out of memory\n", stderr);
        return;
    }
    r = is_tcp ? uv_tcp_init(loop, &c->tcp) : uv_pipe_init(loop, &c->pipe, 0);
    if (r < 0) {
        free(c);
        return;
    }
    c->handle.data = c; /* marks client handles for close_walk */
    if (uv_accept(srv, &c->stream) < 0) {
        uv_close(&c->handle, on_client_close);
        return;
    }
    if (is_tcp)
        (void)uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start(&c->stream, on_alloc, on_read) < 0)
        uv_close(&c->handle, on_client_close);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->data != NULL ? on_client_close : NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_walk(h->loop, close_walk, NULL);
}

static int fail(const struct bench_addr *a, const char *what, int r)
{
    if (a->is_unix)
        fprintf(stderr, "echo_libuv: %s unix:%s: %s\n", what, a->path, uv_strerror(r));
    else
        fprintf(stderr, "echo_libuv: %s 127.0.0.1:%d: %s\n", what, a->port, uv_strerror(r));
    return 1;
}

int main(int argc, char **argv)
{
    struct bench_addr addr;
    int r;

    bench_parse_args(argc, argv, &addr);
    bench_process_setup();
    is_tcp = !addr.is_unix;
    loop = uv_default_loop();

    if (is_tcp) {
        struct sockaddr_in sin;
        if ((r = uv_ip4_addr("127.0.0.1", addr.port, &sin)) < 0)
            return fail(&addr, "uv_ip4_addr", r);
        if ((r = uv_tcp_init(loop, &server.tcp)) < 0)
            return fail(&addr, "uv_tcp_init", r);
        if ((r = uv_tcp_bind(&server.tcp, (const struct sockaddr *)&sin, 0)) < 0)
            return fail(&addr, "bind", r);
    } else {
        bench_cleanup(&addr); /* stale socket file */
        if ((r = uv_pipe_init(loop, &server.pipe, 0)) < 0)
            return fail(&addr, "uv_pipe_init", r);
        if ((r = uv_pipe_bind(&server.pipe, addr.path)) < 0)
            return fail(&addr, "bind", r);
    }
    server.handle.data = NULL;
    if ((r = uv_listen(&server.stream, BENCH_BACKLOG, on_connection)) < 0)
        return fail(&addr, "listen", r);

    uv_signal_init(loop, &sigint_h);
    uv_signal_init(loop, &sigterm_h);
    sigint_h.data = sigterm_h.data = NULL;
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    bench_ready();

    uv_run(loop, UV_RUN_DEFAULT); /* returns once every handle is closed */
    r = uv_loop_close(loop);
    if (r < 0)
        fprintf(stderr, "echo_libuv: uv_loop_close: %s\n", uv_strerror(r));
    bench_cleanup(&addr);
    return r < 0;
}
