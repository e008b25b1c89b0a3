/*
 * bench/spawn_aiotp.c - spawn-and-reap cost through aiotp: N children of a program
 * (default /bin/true), at most C at once, each started with aiotp_loop_subprocess_exec
 * (stdin, stdout, stderr /dev/null) and reaped by the loop's child watcher; a new one is
 * started from the connection_lost of the last. Prints one line:
 *   spawn impl=aiotp children=N concurrency=C wall_us=W cpu_us=U (per child)
 * usage: spawn_aiotp [N [C [program]]]. The hand-written peer is spawn_posix.c.
 * AIOTP_BENCH_BACKEND=epoll: the loop's epoll backend (the lines say impl=aiotp_epoll;
 * default poll, as the hand-written loop). With
 * SPAWN_CWD=DIR in the environment every child starts in DIR (the cwd option) and the line
 * starts with `spawncwd`.
 *
 * spawn_aiotp --pipe MB [HIGH]: pipe throughput: one `cat` child with stdin and stdout pipes; the
 * parent writes MB MiB to its stdin in 64 KiB writes (flow control: it stops on
 * pause_writing, goes on at resume_writing), closes it (write_eof) and counts what comes
 * back from its stdout (pipe_data_received). HIGH: the stdin transport's high-water mark
 * (set_write_buffer_limits(HIGH, 0); default: the transport's own, 64 KiB). Prints one line:
 *   pipe impl=aiotp mb=MB wall_us=W cpu_us=U (per MiB; the parent's CPU only)
 * spawn_aiotp --pipe MB [HIGH] --borrowed: the same with aiotp_transport_write_borrowed()
 * (the zero-copy write, DEV-81) of the same static 64 KiB buffer: what the pipe does not
 * take stays in it; every done must come with 0 (impl=aiotp_borrowed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/aiotp.h"
#include "bench_common.h"

typedef struct bench {
    aiotp_loop *loop;
    const char *argv[2];
    aiotp_subprocess_options opts;
    int total;
    int started;
    int done;
    int failed;
} bench;

static void start_one(bench *b);

static const char *impl = "aiotp";

/* A loop on the backend AIOTP_BENCH_BACKEND names (poll, the default, or epoll). */
static int make_loop(aiotp_loop **loop)
{
    const char *be = getenv("AIOTP_BENCH_BACKEND");
    aiotp_loop_options o;
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    if (be != NULL && strcmp(be, "epoll") == 0) {
        o.backend = aiotp_backend_epoll();
        impl = "aiotp_epoll";
    } else if (be != NULL && strcmp(be, "poll") != 0) {
        fprintf(stderr, "spawn_aiotp: AIOTP_BENCH_BACKEND must be poll or epoll\n");
        return -1;
    }
    return aiotp_loop_create(loop, &o);
}

static int lost(aiotp_transport *t, void *data, int status)
{
    bench *b = data;
    int rc = -1;
    (void)status;
    if (aiotp_transport_get_returncode(t, &rc) != 1 || rc != 0) {
        b->failed++;
    }
    b->done++;
    if (b->done == b->total) {
        aiotp_loop_stop(b->loop);
    } else {
        start_one(b);
    }
    return 0;
}

static const aiotp_protocol proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_SUBPROCESS,
    .connection_lost = lost,
};

static int factory(void *arg, const aiotp_protocol **p, void **data)
{
    *p = &proto;
    *data = arg;
    return 0;
}

static void started(void *arg, int status, aiotp_transport *t)
{
    bench *b = arg;
    (void)t;
    if (status != 0) {
        fprintf(stderr, "spawn: %s\n", aiotp_strerror(status));
        b->failed++;
        b->done++;
        if (b->done == b->total) {
            aiotp_loop_stop(b->loop);
        } else {
            start_one(b); /* the next one, as after an exit */
        }
    }
}

static void start_one(bench *b)
{
    if (b->started < b->total) {
        b->started++;
        if (aiotp_loop_subprocess_exec(b->loop, factory, b, b->argv, &b->opts, started, b) !=
            0) {
            b->failed++;
            b->done++;
        }
    }
}

/* ---- pipe throughput ---- */

#define CHUNK 65536
static char chunk[CHUNK];

typedef struct pipe_bench {
    aiotp_loop *loop;
    aiotp_transport *in; /* the child's stdin */
    long long total;
    long long sent;
    long long got;
    int paused;
    int failed;
    long long dones; /* --borrowed: completions with status 0 */
} pipe_bench;

static int pipe_borrowed; /* --borrowed */

static void p_done(aiotp_transport *t, void *arg, int status)
{
    pipe_bench *p = arg;
    (void)t;
    if (status != 0) {
        p->failed = 1;
    } else {
        p->dones++;
    }
}

static void fill(pipe_bench *p)
{
    while (!p->paused && p->sent < p->total) {
        int rc = pipe_borrowed ? aiotp_transport_write_borrowed(p->in, chunk, CHUNK, p_done, p)
                               : aiotp_transport_write(p->in, chunk, CHUNK);
        if (rc != 0) {
            p->failed = 1;
            return;
        }
        p->sent += CHUNK;
    }
    if (p->sent == p->total) {
        p->sent++; /* once */
        if (aiotp_transport_write_eof(p->in) != 0) {
            p->failed = 1;
        }
    }
}

static long pipe_high = -1; /* --pipe MB HIGH */

static int p_made(aiotp_transport *t, void *data)
{
    pipe_bench *p = data;
    p->in = aiotp_transport_get_pipe_transport(t, 0);
    if (p->in == NULL ||
        (pipe_high >= 0 && aiotp_transport_set_write_buffer_limits(p->in, pipe_high, 0) != 0)) {
        p->failed = 1;
        return 0;
    }
    fill(p);
    return 0;
}

static int p_pause(aiotp_transport *t, void *data)
{
    (void)t;
    ((pipe_bench *)data)->paused = 1;
    return 0;
}

static int p_resume(aiotp_transport *t, void *data)
{
    pipe_bench *p = data;
    (void)t;
    p->paused = 0;
    fill(p);
    return 0;
}

static int p_data(aiotp_transport *t, void *data, int fd, const void *buf, size_t len)
{
    (void)t;
    (void)buf;
    if (fd == 1) {
        ((pipe_bench *)data)->got += (long long)len;
    }
    return 0;
}

static int p_lost(aiotp_transport *t, void *data, int status)
{
    pipe_bench *p = data;
    (void)t;
    if (status != 0) {
        p->failed = 1;
    }
    aiotp_loop_stop(p->loop);
    return 0;
}

static const aiotp_protocol pipe_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_SUBPROCESS,
    .connection_made = p_made,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .pipe_data_received = p_data,
};

static int pipe_factory(void *arg, const aiotp_protocol **p, void **data)
{
    *p = &pipe_proto;
    *data = arg;
    return 0;
}

static void pipe_started(void *arg, int status, aiotp_transport *t)
{
    pipe_bench *p = arg;
    (void)t;
    if (status != 0) {
        fprintf(stderr, "spawn: %s\n", aiotp_strerror(status));
        p->failed = 1;
        aiotp_loop_stop(p->loop);
    }
}

static int pipe_main(int mb)
{
    static const char *argv[] = {"cat", NULL};
    aiotp_subprocess_options opts;
    pipe_bench p;
    double w0;
    double c0;
    memset(&p, 0, sizeof(p));
    memset(chunk, 'x', sizeof(chunk));
    p.total = (long long)mb * 1048576;
    aiotp_subprocess_options_init(&opts);
    opts.stdio[2].kind = AIOTP_STDIO_DEVNULL;
    if (mb <= 0 || make_loop(&p.loop) != 0) {
        return 2;
    }
    w0 = bench_now_us();
    c0 = bench_cpu_us();
    if (aiotp_loop_subprocess_exec(p.loop, pipe_factory, &p, argv, &opts, pipe_started, &p) !=
        0) {
        return 1;
    }
    (void)aiotp_loop_run(p.loop);
    if (pipe_borrowed) {
        impl = "aiotp_borrowed";
        if (p.dones != p.total / CHUNK) {
            fprintf(stderr, "pipe: %lld dones of %lld\n", p.dones, p.total / CHUNK);
            p.failed = 1;
        }
    }
    if (pipe_high >= 0) {
        printf("pipe impl=%s_high%ld mb=%d wall_us=%.1f cpu_us=%.1f\n", impl, pipe_high, mb,
               (bench_now_us() - w0) / mb, (bench_cpu_us() - c0) / mb);
    } else {
        printf("pipe impl=%s mb=%d wall_us=%.1f cpu_us=%.1f\n", impl, mb,
               (bench_now_us() - w0) / mb, (bench_cpu_us() - c0) / mb);
    }
    aiotp_loop_free(p.loop);
    if (p.got != p.total) {
        fprintf(stderr, "pipe: %lld bytes back of %lld\n", p.got, p.total);
    }
    return p.failed == 0 && p.got == p.total ? 0 : 1;
}

int main(int argc, char **argv)
{
    bench b;
    int conc;
    int i;
    double w0;
    double c0;
    int k;

    if (argc > 2 && strcmp(argv[1], "--pipe") == 0) {
        pipe_borrowed = strcmp(argv[argc - 1], "--borrowed") == 0;
        pipe_high = argc > 3 + pipe_borrowed ? atol(argv[3]) : -1;
        return pipe_main(atoi(argv[2]));
    }
    b.total = argc > 1 ? atoi(argv[1]) : 1000;
    conc = argc > 2 ? atoi(argv[2]) : 16;
    b.argv[0] = argc > 3 ? argv[3] : "/bin/true";
    b.argv[1] = NULL;
    b.started = b.done = b.failed = 0;
    aiotp_subprocess_options_init(&b.opts);
    b.opts.cwd = getenv("SPAWN_CWD"); /* spawn_run.sh's cwd case */
    for (k = 0; k < 3; k++) {
        b.opts.stdio[k].kind = AIOTP_STDIO_DEVNULL;
    }
    if (b.total <= 0 || conc <= 0 || make_loop(&b.loop) != 0) {
        return 2;
    }
    w0 = bench_now_us();
    c0 = bench_cpu_us();
    for (i = 0; i < conc; i++) {
        start_one(&b);
    }
    (void)aiotp_loop_run(b.loop);
    printf("%s impl=%s children=%d concurrency=%d wall_us=%.1f cpu_us=%.1f\n",
           b.opts.cwd != NULL ? "spawncwd" : "spawn", impl, b.total, conc, (bench_now_us() - w0) / b.total, (bench_cpu_us() - c0) / b.total);
    aiotp_loop_free(b.loop);
    return b.failed == 0 ? 0 : 1;
}
