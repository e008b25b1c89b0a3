/*
 * bench/spawn_libuv.c - the libuv peer of spawn_aiotp.c: N children of a program (default
 * /bin/true), at most C at once, each started with uv_spawn (stdio UV_IGNORE: /dev/null)
 * and reaped by libuv (its exit_cb starts the next one). Prints:
 *   spawn impl=libuv children=N concurrency=C wall_us=W cpu_us=U (per child)
 * usage: spawn_libuv [N [C [program]]]. With SPAWN_CWD=DIR in the environment every child
 * starts in DIR (options.cwd) and the line starts with `spawncwd`.
 *
 * spawn_libuv --pipe MB: one `cat` child with stdin and stdout pipes (UV_CREATE_PIPE); the
 * parent writes MB MiB in 64 KiB uv_write()s while libuv's write queue holds under 64 KiB
 * (the next ones from the write callbacks), closes stdin after the last, and counts what
 * comes back (uv_shutdown after the last write).
 *   pipe impl=libuv mb=MB wall_us=W cpu_us=U (per MiB; the parent's CPU only)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench_common.h"

#define CHUNK 65536

static uv_loop_t *loop;
static char *args[2];
static uv_stdio_container_t null_stdio[3];
static int total;
static int started;
static int done;
static int failed;

static void start_one(void);

static void on_close(uv_handle_t *h)
{
    free(h);
}

static void on_exit_(uv_process_t *p, int64_t status, int sig)
{
    if (status != 0 || sig != 0) {
        failed++;
    }
    done++;
    uv_close((uv_handle_t *)p, on_close);
    start_one();
}

static void start_one(void)
{
    uv_process_options_t o;
    uv_process_t *p;
    int rc;
    if (started >= total) {
        return;
    }
    started++;
    p = malloc(sizeof(*p));
    memset(&o, 0, sizeof(o));
    o.file = args[0];
    o.args = args;
    o.exit_cb = on_exit_;
    o.stdio_count = 3;
    o.stdio = null_stdio;
    o.cwd = getenv("SPAWN_CWD"); /* spawn_run.sh's cwd case */
    rc = p != NULL ? uv_spawn(loop, p, &o) : UV_ENOMEM;
    if (rc != 0) {
        fprintf(stderr, "uv_spawn: %s\n", uv_strerror(rc));
        failed++;
        done++;
        if (p != NULL) {
            uv_close((uv_handle_t *)p, on_close);
        }
    }
}

/* ---- pipe throughput ---- */

static char out_chunk[CHUNK];
static char in_buf[CHUNK];
static uv_pipe_t to_child;
static uv_pipe_t from_child;
static long long p_total;
static long long p_sent;
static long long p_got;
static int p_closed_in;

static uv_shutdown_t shut;

static void fill(void);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    if (status != 0) {
        failed++;
    }
    uv_close((uv_handle_t *)req->handle, NULL);
}

static void on_write(uv_write_t *req, int status)
{
    if (status != 0) {
        failed++;
    }
    free(req);
    fill();
}

static void fill(void)
{
    while (p_sent < p_total && uv_stream_get_write_queue_size((uv_stream_t *)&to_child) < CHUNK) {
        uv_write_t *req = malloc(sizeof(*req));
        uv_buf_t b = uv_buf_init(out_chunk, CHUNK);
        if (req == NULL || uv_write(req, (uv_stream_t *)&to_child, &b, 1, on_write) != 0) {
            failed++;
            free(req);
            return;
        }
        p_sent += CHUNK;
    }
    if (p_sent == p_total && !p_closed_in) {
        p_closed_in = 1;
        /* after the queued writes (uv_close would cancel them): EOF for cat */
        if (uv_shutdown(&shut, (uv_stream_t *)&to_child, on_shutdown) != 0) {
            failed++;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    *b = uv_buf_init(in_buf, sizeof(in_buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n > 0) {
        p_got += n;
    } else if (n < 0) {
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void on_pipe_exit(uv_process_t *p, int64_t status, int sig)
{
    if (status != 0 || sig != 0) {
        failed++;
    }
    uv_close((uv_handle_t *)p, NULL);
}

static int pipe_main(int mb)
{
    char *cat[] = {(char *)"cat", NULL};
    uv_stdio_container_t stdio[3];
    uv_process_options_t o;
    uv_process_t proc;
    double w0;
    double c0;
    int rc;

    memset(out_chunk, 'x', sizeof(out_chunk));
    p_total = (long long)mb * 1048576;
    if (mb <= 0) {
        return 2;
    }
    w0 = bench_now_us();
    c0 = bench_cpu_us();
    uv_pipe_init(loop, &to_child, 0);
    uv_pipe_init(loop, &from_child, 0);
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&to_child;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&from_child;
    stdio[2].flags = UV_IGNORE;
    memset(&o, 0, sizeof(o));
    o.file = cat[0];
    o.args = cat;
    o.exit_cb = on_pipe_exit;
    o.stdio_count = 3;
    o.stdio = stdio;
    rc = uv_spawn(loop, &proc, &o);
    if (rc != 0) {
        fprintf(stderr, "uv_spawn: %s\n", uv_strerror(rc));
        return 1;
    }
    uv_read_start((uv_stream_t *)&from_child, on_alloc, on_read);
    fill();
    uv_run(loop, UV_RUN_DEFAULT);
    printf("pipe impl=libuv mb=%d wall_us=%.1f cpu_us=%.1f\n", mb, (bench_now_us() - w0) / mb,
           (bench_cpu_us() - c0) / mb);
    if (p_got != p_total) {
        fprintf(stderr, "pipe: %lld bytes back of %lld\n", p_got, p_total);
    }
    return failed == 0 && p_got == p_total ? 0 : 1;
}

int main(int argc, char **argv)
{
    int conc;
    int i;
    double w0;
    double c0;

    loop = uv_default_loop();
    if (argc > 2 && strcmp(argv[1], "--pipe") == 0) {
        return pipe_main(atoi(argv[2]));
    }
    total = argc > 1 ? atoi(argv[1]) : 1000;
    conc = argc > 2 ? atoi(argv[2]) : 16;
    args[0] = argc > 3 ? argv[3] : (char *)"/bin/true";
    args[1] = NULL;
    for (i = 0; i < 3; i++) {
        null_stdio[i].flags = UV_IGNORE;
    }
    if (total <= 0 || conc <= 0) {
        return 2;
    }
    w0 = bench_now_us();
    c0 = bench_cpu_us();
    for (i = 0; i < conc; i++) {
        start_one();
    }
    uv_run(loop, UV_RUN_DEFAULT);
    printf("%s impl=libuv children=%d concurrency=%d wall_us=%.1f cpu_us=%.1f\n",
           getenv("SPAWN_CWD") != NULL ? "spawncwd" : "spawn", total,
           conc, (bench_now_us() - w0) / total, (bench_cpu_us() - c0) / total);
    (void)uv_loop_close(loop);
    return failed == 0 && done == total ? 0 : 1;
}
