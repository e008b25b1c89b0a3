/*
 * bench/spawn_aiotp.c - spawn-and-reap cost through aiotp: N children of a program
 * (default /bin/true), at most C at once, each started with aiotp_loop_subprocess_exec
 * (stdin, stdout, stderr /dev/null) and reaped by the loop's child watcher; a new one is
 * started from the connection_lost of the last. Prints one line:
 *   spawn impl=aiotp children=N concurrency=C wall_us=W cpu_us=U (per child)
 * usage: spawn_aiotp [N [C [program]]]. The hand-written peer is spawn_posix.c.
 */
#include <stdio.h>
#include <stdlib.h>

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

int main(int argc, char **argv)
{
    bench b;
    int conc;
    int i;
    double w0;
    double c0;
    int k;

    b.total = argc > 1 ? atoi(argv[1]) : 1000;
    conc = argc > 2 ? atoi(argv[2]) : 16;
    b.argv[0] = argc > 3 ? argv[3] : "/bin/true";
    b.argv[1] = NULL;
    b.started = b.done = b.failed = 0;
    aiotp_subprocess_options_init(&b.opts);
    for (k = 0; k < 3; k++) {
        b.opts.stdio[k].kind = AIOTP_STDIO_DEVNULL;
    }
    if (b.total <= 0 || conc <= 0 || aiotp_loop_create(&b.loop, NULL) != 0) {
        return 2;
    }
    w0 = bench_now_us();
    c0 = bench_cpu_us();
    for (i = 0; i < conc; i++) {
        start_one(&b);
    }
    (void)aiotp_loop_run(b.loop);
    printf("spawn impl=aiotp children=%d concurrency=%d wall_us=%.1f cpu_us=%.1f\n", b.total,
           conc, (bench_now_us() - w0) / b.total, (bench_cpu_us() - c0) / b.total);
    aiotp_loop_free(b.loop);
    return b.failed == 0 ? 0 : 1;
}
