/* tests/test_resolver.c - threads and name resolution (spec/rules.md, "Threads, name
   resolution, cancelling, the end of a loop": WAKE-*, RESOLVE-*): the wake-up pipe and
   aiotp_loop_call_soon_threadsafe() from other threads (order, stress), a resolver that
   answers slowly while the loop keeps running timers, numeric hosts on the loop thread,
   aiotp_loop_getaddrinfo(), the worker threads' limit, aiotp_loop_free() waiting for a
   lookup a worker runs. Label "threads": also run under ThreadSanitizer
   (scripts/test.sh, build/gcc-tsan). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aiotp/sim.h"
#include "async_helpers.h"
#include "harness.h"
#include "wakeup_int.h"

/* ---- helpers ------------------------------------------------------------------------- */

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A timer that re-arms itself every 5 ms and counts. */
typedef struct ticker {
    int ticks;
    aiotp_handle h;
} ticker;

static void tick(aiotp_loop *loop, void *arg)
{
    ticker *k = arg;
    k->ticks++;
    (void)aiotp_loop_call_later(loop, 5 * AIOTP_NS_PER_MS, tick, k, &k->h);
}

/* A thread-safe counting allocator, for loops that other threads post to
   (loop.h: the allocator is called from the posting thread). */
static pthread_mutex_t amu = PTHREAD_MUTEX_INITIALIZER;
static long alive;

static void *ts_alloc(void *ctx, size_t n)
{
    void *p = malloc(n);
    (void)ctx;
    pthread_mutex_lock(&amu);
    alive += p != NULL;
    pthread_mutex_unlock(&amu);
    return p;
}

static void *ts_realloc(void *ctx, void *old, size_t n)
{
    void *p = realloc(old, n);
    (void)ctx;
    if (old == NULL && p != NULL) {
        pthread_mutex_lock(&amu);
        alive++;
        pthread_mutex_unlock(&amu);
    }
    return p;
}

static void ts_free(void *ctx, void *p)
{
    (void)ctx;
    if (p != NULL) {
        pthread_mutex_lock(&amu);
        alive--;
        pthread_mutex_unlock(&amu);
    }
    free(p);
}

static const aiotp_allocator ts_allocator = {ts_alloc, ts_realloc, ts_free, NULL};

static aiotp_loop *threaded_loop(void)
{
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.allocator = &ts_allocator;
    CHECK_ERR(aiotp_loop_create(&loop, &o), 0);
    return loop;
}

static long ts_alive(void)
{
    long n;
    pthread_mutex_lock(&amu);
    n = alive;
    pthread_mutex_unlock(&amu);
    return n;
}

/* ---- RESOLVE-2: a name in a worker, the loop runs on --------------------------------- */

/* A name served slowly (the resolver blocks until the test opens its gate): the loop
   keeps running its timers meanwhile, the lookup runs on another thread, and once the
   answer comes the connection is made. */
TEST(slow_name_loop_keeps_running)
{
    aiotp_loop *loop;
    th_rec *r = th_rec_new();
    th_done d;
    ticker k;
    int port;
    int l = th_listen_tcp(8, &port);
    int i;

    th_set_resolver(th_slow_resolver(2));
    loop = th_loop();
    memset(&d, 0, sizeof(d));
    memset(&k, 0, sizeof(k));
    CHECK_ERR(aiotp_loop_create_connection(loop, th_rec_factory, r, "slow.test", port, NULL,
                                           th_on_conn, &d),
              0);
    CHECK_ERR(aiotp_loop_call_later(loop, 5 * AIOTP_NS_PER_MS, tick, &k, &k.h), 0);
    th_run_once(loop); /* the step: the name goes to a worker */
    CHECK(th_slow_wait_entered(1));
    for (i = 0; i < 200 && k.ticks < 10; i++) {
        th_run_once(loop);
    }
    CHECK(k.ticks >= 10); /* ten timers ran while the lookup blocked */
    CHECK_INT(d.calls, 0);
    CHECK_INT(th_slow_calls(), 1);
    CHECK(!th_slow_on_test_thread()); /* not on the loop's thread */
    th_slow_open();
    th_run_until(loop, th_done_yet, &d, 100);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, 0);
    CHECK_INT(r->made, 1);
    CHECK_INT(th_slow_calls(), 1);
    CHECK_INT(th_slow_live_lists(), 0); /* the answer was freed once used */
    (void)aiotp_loop_cancel(loop, k.h);
    if (d.t != NULL) {
        aiotp_transport_close(d.t);
        th_run_until(loop, th_is_lost, r, 20);
    }
    close(l);
}

/* Numeric hosts never reach the resolver: they are resolved on the loop thread in the
   operation's first step (create_connection, create_server, create_datagram_endpoint). */
TEST(numeric_hosts_on_loop_thread)
{
    aiotp_loop *loop;
    th_rec *r = th_rec_new();
    th_done d;
    th_done ds;
    th_done de;
    int cf = 0;
    int port;
    int l = th_listen_tcp(8, &port);

    th_set_resolver(th_slow_resolver(2)); /* its gate stays closed */
    loop = th_loop();
    memset(&d, 0, sizeof(d));
    memset(&ds, 0, sizeof(ds));
    memset(&de, 0, sizeof(de));
    d.loop = loop;
    CHECK_ERR(aiotp_loop_create_connection(loop, th_rec_factory, r, "127.0.0.1", port, NULL,
                                           th_on_conn, &d),
              0);
    CHECK_ERR(aiotp_loop_create_server(loop, th_counting_factory, &cf, NULL, 0, NULL,
                                       th_on_server, &ds),
              0);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_counting_factory, &cf, "127.0.0.1",
                                                  0, NULL, 0, NULL, th_on_conn, &de),
              0);
    th_run_until(loop, th_done_yet, &d, 20);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, 0);
    CHECK_INT(d.iter, 3); /* resolved and connecting in pass 1, made in 3: as ever */
    CHECK_INT(ds.calls, 1);
    CHECK_ERR(ds.status, 0);
    CHECK_INT(de.calls, 1);
    CHECK_ERR(de.status, AIOTP_ECALLBACK); /* the factory refused: resolved all the same */
    CHECK_INT(th_slow_calls(), 0);
    if (ds.s != NULL) {
        CHECK_ERR(aiotp_server_close(ds.s), 0);
    }
    if (d.t != NULL) {
        aiotp_transport_close(d.t);
        th_run_until(loop, th_is_lost, r, 20);
    }
    th_slow_open();
    close(l);
}

/* A name for create_server and create_datagram_endpoint goes to a worker as well. */
TEST(names_for_servers_and_endpoints)
{
    aiotp_loop *loop;
    th_done ds;
    th_done de;
    int cf = 0;

    th_set_resolver(th_slow_resolver(2));
    loop = th_loop();
    memset(&ds, 0, sizeof(ds));
    memset(&de, 0, sizeof(de));
    CHECK_ERR(aiotp_loop_create_server(loop, th_counting_factory, &cf, "slow.test", 0, NULL,
                                       th_on_server, &ds),
              0);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_counting_factory, &cf, "slow.test",
                                                  0, "slow.test", 9, NULL, th_on_conn, &de),
              0);
    th_run_once(loop);
    CHECK(th_slow_wait_entered(2));
    th_run_passes(loop, 3);
    CHECK_INT(ds.calls + de.calls, 0);
    th_slow_open();
    th_run_until(loop, th_done_yet, &ds, 100);
    th_run_until(loop, th_done_yet, &de, 100);
    CHECK_ERR(ds.status, 0);
    CHECK_ERR(de.status, AIOTP_ECALLBACK); /* both names resolved, then the factory */
    CHECK_INT(th_slow_calls(), 3);         /* the endpoint's local and remote names */
    CHECK_INT(th_slow_live_lists(), 0);
    if (ds.s != NULL) {
        CHECK_ERR(aiotp_server_close(ds.s), 0);
    }
    /* the answer an error: the operation fails with it */
    memset(&ds, 0, sizeof(ds));
    memset(&de, 0, sizeof(de));
    CHECK_ERR(aiotp_loop_create_server(loop, th_counting_factory, &cf, "nx.test", 0, NULL,
                                       th_on_server, &ds),
              0);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_counting_factory, &cf, "fast.test",
                                                  0, "again.test", 9, NULL, th_on_conn, &de),
              0);
    th_run_until(loop, th_done_yet, &ds, 100);
    th_run_until(loop, th_done_yet, &de, 100);
    CHECK_ERR(ds.status, AIOTP_ENONAME);
    CHECK_ERR(de.status, AIOTP_EAI_AGAIN);
    CHECK_INT(cf, 1);
}

/* ---- RESOLVE-1: aiotp_loop_getaddrinfo ---------------------------------------------- */

TEST(getaddrinfo_completion)
{
    aiotp_loop *loop;
    struct addrinfo hints;
    th_done g;
    aiotp_op op = 0;

    th_set_resolver(th_slow_resolver(1));
    loop = th_loop();
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    memset(&g, 0, sizeof(g));
    g.loop = loop;
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "127.0.0.1", "80", &hints, th_on_gai, &g, &op), 0);
    CHECK(op != 0);
    CHECK_INT(g.calls, 0); /* never inside the call */
    th_run_once(loop);
    CHECK_INT(g.calls, 1);
    CHECK_ERR(g.status, 0);
    CHECK_INT(g.family, AF_INET);
    CHECK_INT(g.port, 80);
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), AIOTP_ENOENT); /* done */

    /* a name: a worker; hints NULL: any family */
    th_slow_open();
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "443", NULL, th_on_gai, &g, NULL), 0);
    th_run_until(loop, th_done_yet, &g, 100);
    CHECK_ERR(g.status, 0);
    CHECK_INT(g.family, AF_INET);
    CHECK_INT(g.port, 443);
    hints.ai_family = AF_INET6;
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "7", &hints, th_on_gai, &g, NULL), 0);
    th_run_until(loop, th_done_yet, &g, 100);
    CHECK_ERR(g.status, 0);
    CHECK_INT(g.family, AF_INET6);
    CHECK_INT(g.port, 7);
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "nx.test", "80", NULL, th_on_gai, &g, NULL), 0);
    th_run_until(loop, th_done_yet, &g, 100);
    CHECK_ERR(g.status, AIOTP_ENONAME);
    CHECK_INT(g.family, 0);
    /* no host: the loopback address (numeric: no worker) */
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, NULL, "9", NULL, th_on_gai, &g, NULL), 0);
    th_run_until(loop, th_done_yet, &g, 10);
    CHECK_ERR(g.status, 0);
    /* no host and a service that is not a number (AI_NUMERICSERV): the error at once */
    memset(&g, 0, sizeof(g));
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_NUMERICSERV;
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, NULL, "http", &hints, th_on_gai, &g, NULL), 0);
    th_run_once(loop);
    CHECK_INT(g.calls, 1);
    CHECK_ERR(g.status, AIOTP_ENONAME);
    /* with a host, the numeric attempt cannot tell a bad service from a name: the
       resolver answers */
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "127.0.0.1", "http", &hints, th_on_gai, &g, NULL),
              0);
    th_run_until(loop, th_done_yet, &g, 100);
    CHECK_ERR(g.status, AIOTP_ENONAME);
    CHECK_INT(th_slow_calls(), 4);
    CHECK_INT(th_slow_live_lists(), 0);
    /* BAD-1 */
    CHECK_ERR(aiotp_loop_getaddrinfo(NULL, "x", "1", NULL, th_on_gai, &g, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "x", "1", NULL, NULL, &g, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, NULL, NULL, NULL, th_on_gai, &g, NULL),
              AIOTP_EINVAL);
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "x", "1", NULL, th_on_gai, &g, NULL),
              AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
}

/* The default resolver (the POSIX table, no resolver given): the C library's
   getaddrinfo in a worker; "localhost" resolves. */
TEST(default_resolver_threads)
{
    aiotp_loop *loop = threaded_loop();
    th_done g;
    int i;
    if (loop == NULL) {
        return;
    }
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "localhost", "80", NULL, th_on_gai, &g, NULL), 0);
    for (i = 0; i < 100 && g.calls == 0; i++) {
        /* no timer: only the wake-up ends this wait (the harness's alarm would) */
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
    }
    CHECK_INT(g.calls, 1);
    CHECK_ERR(g.status, 0);
    CHECK(g.family == AF_INET || g.family == AF_INET6);
    CHECK_INT(g.port, 80);
    aiotp_loop_free(loop);
    CHECK_INT(ts_alive(), 0);
}

/* ---- RESOLVE-3: on the loop thread, the option, the limit, the end ------------------------- */

TEST(resolver_on_loop_thread)
{
    aiotp_loop *loop;
    th_done g;

    th_set_resolver(th_slow_resolver(0));
    th_slow_open();
    loop = th_loop();
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "80", NULL, th_on_gai, &g, NULL), 0);
    th_run_once(loop);
    CHECK_INT(g.calls, 1); /* answered in the step itself */
    CHECK_ERR(g.status, 0);
    CHECK(th_slow_on_test_thread());
    /* with threads 0 even a numeric host is the resolver's (one call, no shortcut) */
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "127.0.0.1", "80", NULL, th_on_gai, &g, NULL), 0);
    th_run_once(loop);
    CHECK_INT(th_slow_calls(), 2);
}

/* A loop with a syscall table of its own and no resolver resolves through the table, on
   the loop thread, as before (the harness's table: th_f.getaddrinfo_rc applies). */
TEST(own_table_resolves_inline)
{
    aiotp_loop *loop = th_loop();
    th_done g;
    memset(&g, 0, sizeof(g));
    th_f.getaddrinfo_rc = EAI_AGAIN;
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "localhost", "80", NULL, th_on_gai, &g, NULL), 0);
    th_run_once(loop);
    CHECK_INT(g.calls, 1);
    CHECK_ERR(g.status, AIOTP_EAI_AGAIN);
    th_f.getaddrinfo_rc = 0;
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "localhost", "80", NULL, th_on_gai, &g, NULL), 0);
    th_run_once(loop);
    CHECK_INT(g.calls, 1);
    CHECK_ERR(g.status, 0);
}

static int null_gai(void *ctx, const char *node, const char *service,
                    const struct addrinfo *hints, struct addrinfo **res)
{
    (void)ctx;
    (void)node;
    (void)service;
    (void)hints;
    *res = NULL;
    return EAI_FAIL;
}

static void null_free(void *ctx, struct addrinfo *res)
{
    (void)ctx;
    (void)res;
}

/* LOOP-10 for the resolver; the first layout of the loop options is still accepted. */
TEST(resolver_option_checked)
{
    aiotp_resolver bad = {sizeof(aiotp_resolver), NULL, null_gai, null_free, 1};
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    th_done g;
    int fd_before = th_lowest_free_fd();

    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.allocator = &ts_allocator;
    o.resolver = &bad;
    bad.size = 1;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    bad.size = sizeof(bad);
    bad.getaddrinfo = NULL;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    bad.getaddrinfo = null_gai;
    bad.freeaddrinfo = NULL;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    CHECK(loop == NULL);
    CHECK_INT(th_lowest_free_fd(), fd_before);
    bad.freeaddrinfo = null_free;
    CHECK_ERR(aiotp_loop_create(&loop, &o), 0);
    if (loop != NULL) {
        memset(&g, 0, sizeof(g));
        CHECK_ERR(aiotp_loop_getaddrinfo(loop, "a.test", "1", NULL, th_on_gai, &g, NULL), 0);
        while (g.calls == 0) {
            CHECK_ERR(aiotp_loop_run_once(loop), 0);
        }
        CHECK_ERR(g.status, AIOTP_EAI_FAIL);
        aiotp_loop_free(loop);
        loop = NULL;
    }
    o.size = AIOTP_LOOP_OPTIONS_SIZE_V1; /* the resolver field is not read */
    CHECK_ERR(aiotp_loop_create(&loop, &o), 0);
    aiotp_loop_free(loop);
    o.size = AIOTP_LOOP_OPTIONS_SIZE_V1 + 1;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    CHECK_INT(ts_alive(), 0);
}

/* At most `threads` lookups at once; the others wait their turn, none is lost. */
TEST(worker_threads_capped)
{
    aiotp_loop *loop;
    th_done g[5];
    int i;

    th_set_resolver(th_slow_resolver(2));
    loop = th_loop();
    memset(g, 0, sizeof(g));
    for (i = 0; i < 5; i++) {
        CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "80", NULL, th_on_gai, &g[i], NULL),
                  0);
    }
    th_run_once(loop);
    CHECK(th_slow_wait_entered(2));
    sleep_ms(30);
    CHECK_INT(th_slow_calls(), 2); /* the other three wait in the queue */
    th_slow_open();
    for (i = 0; i < 5; i++) {
        th_run_until(loop, th_done_yet, &g[i], 100);
        CHECK_ERR(g[i].status, 0);
    }
    CHECK_INT(th_slow_calls(), 5);
    CHECK_INT(th_slow_max_concurrent(), 2);
    CHECK_INT(th_slow_live_lists(), 0);
}

/* A lookup still queued (every worker busy) is taken back when cancelled: the worker
   never runs it; the others keep their order. */
TEST(cancel_queued_lookups)
{
    aiotp_loop *loop;
    th_done g[4];
    aiotp_op op[4] = {0, 0, 0, 0};
    int i;

    th_set_resolver(th_slow_resolver(1));
    loop = th_loop();
    memset(g, 0, sizeof(g));
    for (i = 0; i < 4; i++) {
        CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "80", NULL, th_on_gai, &g[i],
                                         &op[i]),
                  0);
    }
    th_run_once(loop);
    CHECK(th_slow_wait_entered(1)); /* the first runs; three wait in the queue */
    CHECK_ERR(aiotp_loop_cancel_op(loop, op[2]), 0); /* from the middle */
    CHECK_ERR(aiotp_loop_cancel_op(loop, op[3]), 0); /* the tail */
    th_run_once(loop);
    CHECK_ERR(g[2].status, AIOTP_ECANCELED);
    CHECK_ERR(g[3].status, AIOTP_ECANCELED);
    th_slow_open();
    th_run_until(loop, th_done_yet, &g[0], 100);
    th_run_until(loop, th_done_yet, &g[1], 100);
    CHECK_ERR(g[0].status, 0);
    CHECK_ERR(g[1].status, 0);
    CHECK_INT(th_slow_calls(), 2); /* the cancelled two never ran */
    for (i = 0; i < 4; i++) {
        CHECK_INT(g[i].calls, 1);
    }
    CHECK_INT(th_slow_live_lists(), 0);
}

/* No memory for a lookup's query, the worker pool or its thread table: the operation
   fails with AIOTP_ENOMEM, nothing is left; the next one works. */
TEST(lookup_without_memory)
{
    aiotp_loop *loop;
    th_done g;
    long k;

    th_set_resolver(th_slow_resolver(1));
    th_slow_open();
    loop = th_loop();
    th_run_once(loop); /* (the loop's own arrays made) */
    for (k = 0; k < 3; k++) {
        memset(&g, 0, sizeof(g));
        CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "80", NULL, th_on_gai, &g, NULL),
                  0);
        th_f.alloc_fail_after = k; /* the query, then the pool, then its threads */
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
        th_f.alloc_fail_after = -1;
        CHECK_INT(g.calls, 1);
        CHECK_ERR(g.status, AIOTP_ENOMEM);
    }
    memset(&g, 0, sizeof(g));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "80", NULL, th_on_gai, &g, NULL), 0);
    th_run_until(loop, th_done_yet, &g, 100);
    CHECK_ERR(g.status, 0);
    CHECK_INT(th_slow_calls(), 1);
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    sleep_ms(60);
    th_slow_open();
    return NULL;
}

/* aiotp_loop_free waits for the lookup a worker runs (getaddrinfo cannot be stopped);
   the cancelled lookup's answer and the lookup still queued leak nothing. */
TEST(free_waits_for_running_lookup)
{
    aiotp_loop *loop;
    th_done g1;
    th_done g2;
    aiotp_op op = 0;
    pthread_t th;
    double t0;

    th_set_resolver(th_slow_resolver(1));
    loop = th_loop();
    memset(&g1, 0, sizeof(g1));
    memset(&g2, 0, sizeof(g2));
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "80", NULL, th_on_gai, &g1, &op), 0);
    CHECK_ERR(aiotp_loop_getaddrinfo(loop, "slow.test", "81", NULL, th_on_gai, &g2, NULL), 0);
    th_run_once(loop);
    CHECK(th_slow_wait_entered(1));
    CHECK_ERR(aiotp_loop_cancel_op(loop, op), 0);
    th_run_once(loop);
    CHECK_INT(g1.calls, 1);
    CHECK_ERR(g1.status, AIOTP_ECANCELED);
    CHECK_INT(g2.calls, 0);
    CHECK_INT(pthread_create(&th, NULL, open_gate_later, NULL), 0);
    t0 = now_s();
    th_loop_free(loop);
    CHECK(now_s() - t0 > 0.03); /* it waited for the worker */
    pthread_join(th, NULL);
    CHECK_INT(g2.calls, 0); /* no completion at aiotp_loop_free */
    CHECK_INT(th_slow_calls(), 1);
    CHECK_INT(th_slow_live_lists(), 0);
}

/* ---- WAKE-1, WAKE-2: call_soon_threadsafe and the wake-up ------------------------------- */

typedef struct ts_log {
    pthread_t loop_thread;
    int n;
    int order[2048];
    bool off_thread; /* a callback ran on another thread */
    bool stop_at_end;
    int end;
} ts_log;

typedef struct ts_arg {
    ts_log *log;
    int seq;
} ts_arg;

static void ts_cb(aiotp_loop *loop, void *arg)
{
    ts_arg *a = arg;
    ts_log *log = a->log;
    if (!pthread_equal(pthread_self(), log->loop_thread)) {
        log->off_thread = true;
    }
    if (log->n < (int)(sizeof(log->order) / sizeof(log->order[0]))) {
        log->order[log->n] = a->seq;
    }
    log->n++;
    if (log->stop_at_end && log->n == log->end) {
        aiotp_loop_stop(loop);
    }
}

typedef struct poster {
    aiotp_loop *loop;
    ts_arg *args;
    int n;
    long delay_ms;
    int failures;
} poster;

static void *post_all(void *arg)
{
    poster *p = arg;
    int i;
    if (p->delay_ms > 0) {
        sleep_ms(p->delay_ms);
    }
    for (i = 0; i < p->n; i++) {
        if (aiotp_loop_call_soon_threadsafe(p->loop, ts_cb, &p->args[i]) != 0) {
            p->failures++;
        }
    }
    return NULL;
}

/* From the loop's own thread: never inside the call, in the next pass, in order. From
   another thread while the loop waits with nothing to do: the loop wakes, and the
   callbacks run on the loop's thread in the order of the calls. */
TEST(threadsafe_wakes_in_order)
{
    aiotp_loop *loop = threaded_loop();
    static ts_log log;
    static ts_arg args[1000];
    poster p;
    pthread_t th;
    int i;
    if (loop == NULL) {
        return;
    }
    memset(&log, 0, sizeof(log));
    log.loop_thread = pthread_self();
    for (i = 0; i < 1000; i++) {
        args[i].log = &log;
        args[i].seq = i;
    }
    CHECK_ERR(aiotp_loop_call_soon_threadsafe(loop, ts_cb, &args[0]), 0);
    CHECK_ERR(aiotp_loop_call_soon_threadsafe(loop, ts_cb, &args[1]), 0);
    CHECK_INT(log.n, 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(log.n, 2);
    CHECK_INT(log.order[0], 0);
    CHECK_INT(log.order[1], 1);

    /* the loop waits (no timer, nothing ready): only the wake-up can end the wait */
    log.n = 0;
    log.stop_at_end = true;
    log.end = 1000;
    memset(&p, 0, sizeof(p));
    p.loop = loop;
    p.args = args;
    p.n = 1000;
    p.delay_ms = 30;
    CHECK_INT(pthread_create(&th, NULL, post_all, &p), 0);
    CHECK_ERR(aiotp_loop_run(loop), 0);
    pthread_join(th, NULL);
    CHECK_INT(p.failures, 0);
    CHECK_INT(log.n, 1000);
    for (i = 0; i < 1000; i++) {
        if (log.order[i] != i) {
            th_fail(__FILE__, __LINE__, "callback %d ran as number %d", log.order[i], i);
            break;
        }
    }
    CHECK(!log.off_thread);
    CHECK_ERR(aiotp_loop_call_soon_threadsafe(NULL, ts_cb, &args[0]), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_call_soon_threadsafe(loop, NULL, &args[0]), AIOTP_EINVAL);
    aiotp_loop_free(loop);
    CHECK_INT(ts_alive(), 0);
}

/* Stress: four threads post 5000 callbacks each while the loop runs; every callback runs
   once, on the loop's thread, and each thread's in the order it posted them. */
#define STRESS_THREADS 4
#define STRESS_EACH 5000

typedef struct stress_log {
    pthread_t loop_thread;
    int last[STRESS_THREADS];
    int n;
    bool disorder;
    bool off_thread;
} stress_log;

static stress_log slog;
static ts_arg sargs[STRESS_THREADS][STRESS_EACH];

static void stress_cb(aiotp_loop *loop, void *arg)
{
    ts_arg *a = arg;
    int who = a->seq / STRESS_EACH;
    int seq = a->seq % STRESS_EACH;
    if (!pthread_equal(pthread_self(), slog.loop_thread)) {
        slog.off_thread = true;
    }
    if (seq != slog.last[who] + 1) {
        slog.disorder = true;
    }
    slog.last[who] = seq;
    if (++slog.n == STRESS_THREADS * STRESS_EACH) {
        aiotp_loop_stop(loop);
    }
}

typedef struct stress_poster {
    aiotp_loop *loop;
    int who;
    int failures;
} stress_poster;

static void *stress_post(void *arg)
{
    stress_poster *p = arg;
    int i;
    for (i = 0; i < STRESS_EACH; i++) {
        if (aiotp_loop_call_soon_threadsafe(p->loop, stress_cb, &sargs[p->who][i]) != 0) {
            p->failures++;
        }
    }
    return NULL;
}

TEST(threadsafe_stress)
{
    aiotp_loop *loop = threaded_loop();
    stress_poster p[STRESS_THREADS];
    pthread_t th[STRESS_THREADS];
    int i;
    int j;
    if (loop == NULL) {
        return;
    }
    memset(&slog, 0, sizeof(slog));
    slog.loop_thread = pthread_self();
    for (i = 0; i < STRESS_THREADS; i++) {
        slog.last[i] = -1;
        for (j = 0; j < STRESS_EACH; j++) {
            sargs[i][j].log = NULL;
            sargs[i][j].seq = i * STRESS_EACH + j;
        }
        p[i].loop = loop;
        p[i].who = i;
        p[i].failures = 0;
        CHECK_INT(pthread_create(&th[i], NULL, stress_post, &p[i]), 0);
    }
    CHECK_ERR(aiotp_loop_run(loop), 0);
    for (i = 0; i < STRESS_THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(p[i].failures, 0);
        CHECK_INT(slog.last[i], STRESS_EACH - 1);
    }
    CHECK_INT(slog.n, STRESS_THREADS * STRESS_EACH);
    CHECK(!slog.disorder);
    CHECK(!slog.off_thread);
    aiotp_loop_free(loop);
    CHECK_INT(ts_alive(), 0);
}

static void never_fd(aiotp_loop *loop, int fd, void *arg)
{
    (void)loop;
    (void)fd;
    (void)arg;
    th_fail(__FILE__, __LINE__, "a refused watcher ran");
}

/* The wake-up's two fds are the loop's from aiotp_loop_create on (LOOP-8: no user
   watcher); they are closed by aiotp_loop_free. */
TEST(wakeup_owns_its_fds)
{
    int before = th_lowest_free_fd();
    aiotp_loop *loop = th_loop();
    int found = 0;
    int fd;
    for (fd = before; fd < before + 4; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
            found++;
            CHECK_ERR(aiotp_loop_add_reader(loop, fd, NULL, NULL), AIOTP_EINVAL);
            CHECK_ERR(aiotp_loop_add_reader(loop, fd, never_fd, NULL), AIOTP_EBUSY);
            CHECK_ERR(aiotp_loop_add_writer(loop, fd, never_fd, NULL), AIOTP_EBUSY);
            CHECK_ERR(aiotp_loop_remove_reader(loop, fd), AIOTP_EBUSY);
            CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0); /* SYS-1 */
            CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
        }
    }
    CHECK_INT(found, 2);
    th_loop_free(loop);
    CHECK_INT(th_lowest_free_fd(), before);
}

static int ran;

static void count_cb(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    ran++;
}

/* Callbacks posted and not run when the loop is freed: never run, nothing leaks. */
TEST(threadsafe_dropped_at_free)
{
    aiotp_loop *loop = th_loop();
    ran = 0;
    CHECK_ERR(aiotp_loop_call_soon_threadsafe(loop, count_cb, NULL), 0);
    CHECK_ERR(aiotp_loop_call_soon_threadsafe(loop, count_cb, NULL), 0);
    th_loop_free(loop);
    CHECK_INT(ran, 0);
    /* no memory: refused, nothing queued */
    loop = th_loop();
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_loop_call_soon_threadsafe(loop, count_cb, NULL), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    th_run_passes(loop, 2);
    CHECK_INT(ran, 0);
}

/* The wake-up pipe is the loop's one self-pipe: a process signal handler writes a byte to
   aiotp__wakeup_wfd (one write(2): async-signal-safe); every byte that is not a post's
   reaches the sink, in the order written, before the posted nodes run. */
static aiotp_loop *sig_loop;
static char sink_log[64];

static void on_usr1(int sig)
{
    unsigned char b = (unsigned char)sig;
    (void)!write(aiotp__wakeup_wfd(sig_loop), &b, 1);
}

static void sink_fn(aiotp_loop *loop, void *arg, unsigned char byte)
{
    size_t n = strlen(sink_log);
    (void)loop;
    snprintf(sink_log + n, sizeof(sink_log) - n, "%s%d", (const char *)arg, (int)byte);
}

static void post_logged(aiotp_loop *loop, void *arg)
{
    size_t n = strlen(sink_log);
    (void)loop;
    (void)arg;
    snprintf(sink_log + n, sizeof(sink_log) - n, " post");
}

TEST(wakeup_bytes_reach_the_sink)
{
    aiotp_loop *loop = th_loop();
    struct sigaction sa;
    struct sigaction old;
    int wfd = aiotp__wakeup_wfd(loop);
    unsigned char bytes[3] = {0, 7, AIOTP__WAKE_BYTE};
    char want[16];

    sink_log[0] = '\0';
    /* no sink: the bytes are read and dropped */
    CHECK_INT((int)write(wfd, bytes, 2), 2);
    th_run_once(loop);
    CHECK_STR(sink_log, "");
    aiotp__wakeup_set_sink(loop, sink_fn, " s");
    /* a post's byte is not handed over; the others are, in order, before the posts */
    CHECK_INT(aiotp_loop_call_soon_threadsafe(loop, post_logged, NULL), 0);
    CHECK_INT((int)write(wfd, bytes, 3), 3);
    th_run_once(loop);
    CHECK_STR(sink_log, " s0 s7 post");
    th_run_once(loop);
    CHECK_STR(sink_log, " s0 s7 post"); /* the pipe was read empty */

    sig_loop = loop;
    sink_log[0] = '\0';
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK_INT(sigaction(SIGUSR1, &sa, &old), 0);
    CHECK_INT(raise(SIGUSR1), 0);
    sigaction(SIGUSR1, &old, NULL);
    th_run_once(loop);
    snprintf(want, sizeof(want), " s%d", SIGUSR1);
    CHECK_STR(sink_log, want);
    aiotp__wakeup_set_sink(loop, NULL, NULL);
    sink_log[0] = '\0';
    CHECK_INT((int)write(wfd, bytes + 1, 1), 1);
    th_run_once(loop);
    CHECK_STR(sink_log, "");
}

/* ---- making the wake-up fails (BAD-3, BAD-4) ------------------------------------------- */

static int failing_pipe(void *ctx, int fds[2])
{
    (void)ctx;
    (void)fds;
    return -EMFILE;
}

static int failing_nonblock(void *ctx, int fd)
{
    (void)ctx;
    (void)fd;
    return -EBADF;
}

TEST(loop_create_wakeup_fails)
{
    aiotp_syscalls sys = *aiotp_syscalls_posix();
    static th_counter mem = {-1, 0};
    static const aiotp_allocator alloc = TH_COUNTING_ALLOCATOR(&mem);
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    int before = th_lowest_free_fd();
    long k;

    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.syscalls = &sys;
    o.allocator = &alloc;
    sys.pipe = failing_pipe;
    CHECK_ERR(aiotp_loop_create(&loop, &o), -EMFILE);
    sys.pipe = aiotp_syscalls_posix()->pipe;
    sys.set_nonblock = failing_nonblock;
    CHECK_ERR(aiotp_loop_create(&loop, &o), -EBADF);
    CHECK(loop == NULL);
    CHECK_INT(th_lowest_free_fd(), before);
    sys.set_nonblock = aiotp_syscalls_posix()->set_nonblock;
    /* every allocation of aiotp_loop_create failing in turn: ENOMEM, nothing left */
    for (k = 0; k < 12; k++) {
        int rc;
        mem.fail_after = k;
        rc = aiotp_loop_create(&loop, &o);
        mem.fail_after = -1;
        if (rc == 0) {
            aiotp_loop_free(loop);
            break;
        }
        CHECK_ERR(rc, AIOTP_ENOMEM);
        CHECK_SIZE(mem.live, 0);
        CHECK_INT(th_lowest_free_fd(), before);
    }
    CHECK(k > 2 && k < 12); /* the wake-up's allocation was among them */
    CHECK_SIZE(mem.live, 0);
    CHECK_INT(th_lowest_free_fd(), before);
}

/* ---- on the simulated kernel -------------------------------------------------------------- */

/* SIM-SYS-2, SIM-PIPE-1: the sim's pipe; WAKE-1 on a sim loop (from its own thread). */
TEST(sim_pipe_and_wakeup)
{
    aiotp_sim *sim = NULL;
    const aiotp_syscalls *sys;
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    int fds[2] = {-1, -1};
    char c = 0;

    CHECK_ERR(aiotp_sim_create(&sim, NULL), 0);
    if (sim == NULL) {
        return;
    }
    sys = aiotp_sim_syscalls(sim);
    CHECK_ERR(sys->pipe(sys->ctx, fds), 0);
    CHECK_INT(sys->write(sys->ctx, fds[1], "x", 1), 1);
    CHECK(aiotp_sim_ready(sim, fds[0]) & AIOTP_EV_READ);
    CHECK_INT(sys->read(sys->ctx, fds[0], &c, 1), 1);
    CHECK_INT(c, 'x');
    CHECK_INT(sys->write(sys->ctx, fds[0], "y", 1), -EBADF); /* the read end cannot write */
    CHECK_INT(sys->read(sys->ctx, fds[1], &c, 1), -EBADF);   /* nor the write end read */
    CHECK_INT(sys->close(sys->ctx, fds[1]), 0);
    CHECK_INT(sys->read(sys->ctx, fds[0], &c, 1), 0); /* the writer's close: EOF */
    CHECK_INT(sys->close(sys->ctx, fds[0]), 0);
    CHECK_INT(sys->pipe(sys->ctx, NULL), -EFAULT);

    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.backend = aiotp_backend_sim();
    o.syscalls = sys;
    CHECK_ERR(aiotp_loop_create(&loop, &o), 0);
    CHECK_SIZE(aiotp_sim_open_fds(sim), 2); /* the wake-up */
    ran = 0;
    CHECK_ERR(aiotp_loop_call_soon_threadsafe(loop, count_cb, NULL), 0);
    CHECK_INT(ran, 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(ran, 1);
    aiotp_loop_free(loop);
    CHECK_SIZE(aiotp_sim_open_fds(sim), 0);
    aiotp_sim_free(sim);
}

static const th_case cases[] = {
    T(slow_name_loop_keeps_running, "RESOLVE-2"),
    T(numeric_hosts_on_loop_thread, "RESOLVE-2"),
    T(names_for_servers_and_endpoints, "RESOLVE-2"),
    T(getaddrinfo_completion, "RESOLVE-1 OP-2 BAD-1 BAD-3"),
    T(default_resolver_threads, "RESOLVE-2"),
    T(resolver_on_loop_thread, "RESOLVE-3"),
    T(own_table_resolves_inline, "RESOLVE-3"),
    T(resolver_option_checked, "RESOLVE-3 LOOP-10"),
    T(worker_threads_capped, "RESOLVE-3"),
    T(free_waits_for_running_lookup, "RESOLVE-3 OP-1"),
    T(cancel_queued_lookups, "RESOLVE-3 OP-1"),
    T(lookup_without_memory, "RESOLVE-3 BAD-3"),
    T(threadsafe_wakes_in_order, "WAKE-1 BAD-1"),
    T(threadsafe_stress, "WAKE-1"),
    T(wakeup_owns_its_fds, "WAKE-2 LOOP-8 SYS-1"),
    T(threadsafe_dropped_at_free, "WAKE-2 BAD-3"),
    T(wakeup_bytes_reach_the_sink, "WAKE-2"),
    T(loop_create_wakeup_fails, "WAKE-2 BAD-3 BAD-4"),
    T(sim_pipe_and_wakeup, "SIM-SYS-2 SIM-PIPE-1 WAKE-1"),
};

TH_MAIN(cases)
