/* tests/test_sim.c - byte-exact watermark and ordering cases on the simulated kernel
   (aiotp/sim.h) with the real transport code: the loop is made with the sim backend and
   the sim syscall table, and the transport wraps a sim socket with
   create_connection(sock=fd). The kernel's socket buffer is the capacity of the sim
   queue a -> b, so the transport's buffer size is exact at every step; the peer is
   played on b. Every case also runs the trace through the conformance oracle
   (aiotp/oracle.h) and checks that no memory or sim fd is left.

   Scenarios: CPython reference §11 [WM] 1, 87, 88, 93 (adapted to a socket) and [ORDER]
   24, 28, 31, 89, 90, plus re-entrant protocol callbacks. Then the sim itself: the
   virtual network (net_*), datagram sockets (dgram_*, rules SIM-DGRAM-* in spec/sim.md),
   and scenarios that the real kernel and the sim must both pass (agree_*). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "compat.h"
#include "aiotp/oracle.h"
#include "aiotp/sim.h"
#include "harness.h"

/* ---- a loop on the sim ------------------------------------------------------------------ */

static th_counter sim_mem = {-1, 0};
static const aiotp_allocator counting = TH_COUNTING_ALLOCATOR(&sim_mem);

/* the trace, one line per event */
static char *tbuf;
static size_t tlen;
static size_t tcap;
static size_t tbase; /* start of what mark() kept */

static void trace_hook(void *arg, const char *line)
{
    size_t n = strlen(line);
    (void)arg;
    if (tlen + n + 2 > tcap) {
        size_t nc = tcap ? tcap * 2 : 8192;
        while (nc < tlen + n + 2) {
            nc *= 2;
        }
        tbuf = realloc(tbuf, nc);
        if (tbuf == NULL) {
            abort();
        }
        tcap = nc;
    }
    memcpy(tbuf + tlen, line, n);
    tlen += n;
    tbuf[tlen++] = '\n';
    tbuf[tlen] = '\0';
    if (getenv("TH_TRACE") != NULL) {
        fprintf(stderr, "  | %s\n", line);
    }
}

typedef struct env {
    aiotp_sim *sim;
    aiotp_loop *loop;
    aiotp_transport *t;
    th_rec *r;
    int a;                /* the transport's socket */
    int b;                /* the peer */
    unsigned char rx[1 << 19];
    size_t rx_len;        /* bytes the peer has read */
    unsigned char tx[1 << 19];
    size_t tx_len;        /* bytes the test asked the transport to write */
    uint64_t base;        /* iteration at mark() */
} env;

static env E; /* one per case */



static bool wrapped;
static bool use_poll; /* the poll backend over the sim's poll entry instead of the sim backend */

static const aiotp_protocol *f_proto;
static void *f_data;

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = f_proto;
    *data = f_data;
    return 0;
}

static void on_done(void *arg, int status, aiotp_transport *t)
{
    env *e = arg;
    wrapped = true;
    CHECK_ERR(status, 0);
    e->t = t;
}

static void run(int n)
{
    int i;
    for (i = 0; i < n; i++) {
        int rc = aiotp_loop_run_once(E.loop);
        if (rc != 0) {
            th_fail(__FILE__, __LINE__, "run_once: %s", aiotp_err_name(rc));
        }
    }
}

/* Open: sim, loop, pair, capacity of a -> b, wrap a. */
static void env_open(const aiotp_protocol *proto, size_t cap)
{
    aiotp_loop_options o;
    aiotp_connect_options co;

    memset(&E, 0, sizeof(E));
    tlen = 0;
    tbase = 0;
    sim_mem.live = 0;
    wrapped = false;
    CHECK_ERR(aiotp_sim_create(&E.sim, &counting), 0);
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.backend = use_poll ? aiotp_backend_poll() : aiotp_backend_sim();
    o.syscalls = aiotp_sim_syscalls(E.sim);
    o.allocator = &counting;
    CHECK_ERR(aiotp_loop_create(&E.loop, &o), 0);
    aiotp_loop_set_trace(E.loop, trace_hook, NULL);
    CHECK_ERR(aiotp_sim_socketpair(E.sim, &E.a, &E.b), 0);
    CHECK_ERR(aiotp_sim_set_capacity(E.sim, E.a, cap), 0);
    E.r = th_rec_new();
    f_proto = proto;
    f_data = E.r;
    aiotp_connect_options_init(&co);
    co.sock = E.a;
    CHECK_ERR(aiotp_loop_create_connection(E.loop, factory, NULL, NULL, 0, &co, on_done, &E),
              0);
    run(2); /* wrap step, then connection_made + completion (STREAM-ORDER-1) */
    CHECK(wrapped);
    CHECK_INT(E.r->made, 1);
    if (E.t != NULL) {
        aiotp_transport_retain(E.t);
    }
}

static void *o_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void o_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    (void)n;
    free(p);
}

/* The whole trace through the conformance oracle: no violation, no parse error. */
static void check_oracle(void)
{
    aiotp_oracle_alloc oa = {o_alloc, o_free, NULL};
    aiotp_oracle_config cfg = {0, AIOTP_ORACLE_REQUIRE_LOST};
    aiotp_oracle *o = NULL;
    const char *p = tbuf != NULL ? tbuf : "";
    size_t lineno = 0;
    int rc = 0;

    CHECK_INT(aiotp_oracle_new(&cfg, &oa, &o), 0);
    if (o == NULL) {
        return;
    }
    (void)aiotp_oracle_set_profile(o, AIOTP_ORACLE_PROFILE_AIOTP); /* the library's own */
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        rc = aiotp_oracle_feed(o, p, len, ++lineno);
        p += len + (nl ? 1 : 0);
    }
    rc = aiotp_oracle_finish(o);
    if (rc != AIOTP_ORACLE_OK || aiotp_oracle_violations(o) != 0) {
        const aiotp_oracle_report *r = aiotp_oracle_first(o);
        th_fail(__FILE__, __LINE__, "oracle: %s at line %zu: %s",
                r != NULL && r->rule != NULL ? r->rule : "(parse/limit)",
                r != NULL ? r->lineno : 0, r != NULL ? r->detail : "?");
    }
    aiotp_oracle_free(o);
}

/* Close the transport if needed, free everything, check for leaks and the trace. */
static void env_close(void)
{
    if (E.t != NULL && E.r->lost == 0) {
        (void)aiotp_transport_abort(E.t);
        run(2);
    }
    CHECK_INT(E.r->lost, 1);
    if (E.t != NULL) {
        aiotp_transport_release(E.t);
        E.t = NULL;
    }
    aiotp_loop_free(E.loop);
    E.loop = NULL;
    CHECK_ERR(aiotp_sim_close(E.sim, E.b), 0);
    CHECK_SIZE(aiotp_sim_open_fds(E.sim), 0);
    aiotp_sim_free(E.sim);
    E.sim = NULL;
    CHECK_INT(sim_mem.live, 0);
    check_oracle();
}

/* ---- the peer and the writer -------------------------------------------------------- */

/* The peer reads up to n bytes; returns what recv returned. */
static ssize_t peer_read(size_t n)
{
    ssize_t k;
    if (n > sizeof(E.rx) - E.rx_len) {
        n = sizeof(E.rx) - E.rx_len;
    }
    k = aiotp_sim_read(E.sim, E.b, E.rx + E.rx_len, n);
    if (k > 0) {
        E.rx_len += (size_t)k;
    }
    return k;
}

/* The kernel accepts exactly n more bytes from the transport. */
static void kernel_room(size_t n)
{
    ssize_t q = aiotp_sim_queued(E.sim, E.a);
    CHECK(q >= 0);
    CHECK_ERR(aiotp_sim_set_capacity(E.sim, E.a, (size_t)q + n), 0);
}

/* write n pattern bytes; returns write()'s result */
static int twrite(size_t n)
{
    size_t i;
    int rc;
    CHECK(E.tx_len + n <= sizeof(E.tx));
    for (i = 0; i < n; i++) {
        E.tx[E.tx_len + i] = (unsigned char)((E.tx_len + i) * 131u + 7u);
    }
    rc = aiotp_transport_write(E.t, E.tx + E.tx_len, n);
    if (rc == 0) {
        E.tx_len += n;
    }
    return rc;
}

/* what the peer read is exactly what write() accepted */
static void check_peer_got_all(int line)
{
    if (E.rx_len != E.tx_len || memcmp(E.rx, E.tx, E.tx_len) != 0) {
        th_fail(__FILE__, line, "peer got %zu bytes, %zu written (or different bytes)",
                E.rx_len, E.tx_len);
    }
}
#define CHECK_PEER_GOT_ALL() check_peer_got_all(__LINE__)

static size_t wsize(void)
{
    return aiotp_transport_get_write_buffer_size(E.t);
}

/* ---- trace views -------------------------------------------------------------------- */

static void mark(void)
{
    tbase = tlen;
    E.base = aiotp_loop_iteration(E.loop);
}

/* The lines of t1 since mark() that start (after "t1 ") with one of the '|'-separated
   prefixes, as "@k text", k = passes since mark(); " total=..." is cut from write
   returns. */
static const char *view(const char *keep)
{
    return th_view(tbuf != NULL ? tbuf + tbase : "", E.base, keep, true);
}

#define FLOW "call write|ret write|call set_write|ret set_write|cb pause|cb resume"
#define LIFE "cb connection_lost|cb eof_received|cb data_received|call close|ret close"

static void set_limits(int64_t high, int64_t low)
{
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(E.t, high, low), 0);
}

static void check_limits(size_t low, size_t high, int line)
{
    size_t l = 1;
    size_t h = 1;
    int rc = aiotp_transport_get_write_buffer_limits(E.t, &l, &h);
    if (rc != 0 || l != low || h != high) {
        th_fail(__FILE__, line, "limits (low, high) = (%zu, %zu), expected (%zu, %zu)", l, h,
                low, high);
    }
}
#define CHECK_LIMITS(low, high) check_limits((low), (high), __LINE__)

/* ---- watermarks ---------------------------------------------------------------------- */

/* A buffer exactly at high does not pause; one more byte pauses inside write(). */
TEST(size_at_high_no_pause)
{
    env_open(&th_streaming, 0);
    set_limits(100, 50);
    mark();
    CHECK_ERR(twrite(100), 0);
    CHECK_SIZE(wsize(), 100);
    CHECK_INT(E.r->pauses, 0);
    CHECK_STR(view(FLOW), "@0 call write n=100\n"
                          "@0 ret write 0 size=100\n");
    env_close();
}

TEST(size_high_plus_one_pauses_inside_write)
{
    env_open(&th_streaming, 0);
    set_limits(100, 50);
    mark();
    CHECK_ERR(twrite(101), 0);
    CHECK_INT(E.r->pauses, 1); /* synchronous */
    CHECK_STR(view(FLOW), "@0 call write n=101\n"
                          "@0 cb pause_writing size=101 high=100\n"
                          "@0 ret write 0 size=101\n");
    CHECK_ERR(twrite(1), 0);
    CHECK_INT(E.r->pauses, 1); /* at most once until a resume */
    kernel_room(101 - 50);     /* 51 bytes go: 51 left, still > low */
    run(1);
    CHECK_SIZE(wsize(), 51);
    CHECK_INT(E.r->resumes, 0);
    kernel_room(1);
    run(1);
    CHECK_SIZE(wsize(), 50);
    CHECK_INT(E.r->resumes, 1); /* size <= low */
    kernel_room(1000);
    run(1);
    while (peer_read(4096) > 0) {
    }
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* high = 0: a write the kernel takes whole does not pause, any queued byte does; resume
   only at an empty buffer. */
TEST(high_zero)
{
    env_open(&th_streaming, 10);
    set_limits(0, AIOTP_LIMIT_NONE);
    CHECK_LIMITS(0, 0);
    CHECK_ERR(twrite(10), 0);
    CHECK_SIZE(wsize(), 0);
    CHECK_INT(E.r->pauses, 0);
    CHECK_ERR(twrite(11), 0); /* the kernel is full: all 11 queued */
    CHECK_SIZE(wsize(), 11);
    CHECK_INT(E.r->pauses, 1);
    CHECK_INT(peer_read(5), 5);
    run(1);
    CHECK_SIZE(wsize(), 6);
    CHECK_INT(E.r->resumes, 0);
    CHECK_INT(peer_read(100), 10);
    run(1);
    CHECK_SIZE(wsize(), 0);
    CHECK_INT(E.r->resumes, 1);
    while (peer_read(100) > 0) {
    }
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* low = 0: resume only when the buffer is empty (FLOW-5), one byte short is not enough. */
TEST(low_zero_resume_only_at_empty)
{
    env_open(&th_streaming, 0);
    set_limits(100, 0);
    CHECK_ERR(twrite(150), 0);
    CHECK_INT(E.r->pauses, 1);
    kernel_room(149);
    run(1);
    CHECK_SIZE(wsize(), 1);
    CHECK_INT(E.r->resumes, 0);
    mark();
    kernel_room(1);
    run(1);
    CHECK_SIZE(wsize(), 0);
    CHECK_INT(E.r->resumes, 1);
    CHECK_STR(view(FLOW), "@1 cb resume_writing size=0 low=0\n");
    while (peer_read(4096) > 0) {
    }
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* Raising the limits while paused does not resume, even when size <= the new low; the
   next drain does. */
TEST(raise_limits_while_paused)
{
    env_open(&th_streaming, 0);
    set_limits(100, 50);
    CHECK_ERR(twrite(150), 0);
    CHECK_INT(E.r->pauses, 1);
    set_limits(1000, 500); /* size 150 <= 500: no resume from the setter */
    CHECK_INT(E.r->resumes, 0);
    run(2); /* no room in the kernel: no drain, no resume */
    CHECK_INT(E.r->resumes, 0);
    kernel_room(1);
    run(1);
    CHECK_SIZE(wsize(), 149);
    CHECK_INT(E.r->resumes, 1);
    CHECK_ERR(twrite(500), 0); /* 649 <= 1000 */
    CHECK_INT(E.r->pauses, 1);
    CHECK_ERR(twrite(352), 0); /* 1001 > 1000 */
    CHECK_INT(E.r->pauses, 2);
    kernel_room(1 << 16);
    run(1);
    CHECK_INT(E.r->resumes, 2);
    while (peer_read(1 << 16) > 0) {
    }
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* Lowering the limits while paused: no second pause; resume waits for size <= new low. */
TEST(lower_limits_while_paused)
{
    env_open(&th_streaming, 0);
    set_limits(100, 50);
    CHECK_ERR(twrite(150), 0);
    CHECK_INT(E.r->pauses, 1);
    set_limits(10, 5);
    CHECK_INT(E.r->pauses, 1);
    kernel_room(100);
    run(1);
    CHECK_SIZE(wsize(), 50); /* 50 <= old low, > new low */
    CHECK_INT(E.r->resumes, 0);
    kernel_room(44);
    run(1);
    CHECK_SIZE(wsize(), 6);
    CHECK_INT(E.r->resumes, 0);
    kernel_room(1);
    run(1);
    CHECK_SIZE(wsize(), 5);
    CHECK_INT(E.r->resumes, 1);
    env_close();
}

/* §11 scenario 1, with the buffer held at 512 bytes by a kernel that takes nothing. */
TEST(wm1_limits_with_fixed_buffer)
{
    env_open(&th_streaming, 0);
    CHECK_ERR(twrite(512), 0);
    CHECK_INT(E.r->pauses, 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(E.t, 0, 1), AIOTP_EINVAL);
    CHECK_LIMITS(16384, 65536);
    set_limits(1024, 128);
    CHECK_INT(E.r->pauses, 0);
    CHECK_LIMITS(128, 1024);
    mark();
    set_limits(256, 128);
    CHECK_INT(E.r->pauses, 1);
    CHECK_LIMITS(128, 256);
    CHECK_STR(view(FLOW), "@0 call set_write_buffer_limits high=256 low=128\n"
                          "@0 cb pause_writing size=512 high=256\n"
                          "@0 ret set_write_buffer_limits 0 size=512 low=128 high=256\n");
    env_close();
}

/* §11 scenario 87: 200 KiB to a peer that does not read, default limits: one pause inside
   that write(); resume exactly when the size reaches 16384 as the peer reads. */
TEST(wm87_200k_default_limits)
{
    int passes = 0;
    env_open(&th_streaming, AIOTP_SIM_DEFAULT_CAPACITY);
    mark();
    CHECK_ERR(twrite(200 * 1024), 0);
    CHECK_SIZE(wsize(), 200 * 1024 - 65536);
    CHECK_INT(E.r->pauses, 1);
    CHECK_STR(view(FLOW), "@0 call write n=204800\n"
                          "@0 cb pause_writing size=139264 high=65536\n"
                          "@0 ret write 0 size=139264\n");
    while (E.r->resumes == 0 && passes < 100) {
        /* 139264 = 8.5 x 16384: a half step first, so that a step lands on 16384 */
        size_t step = passes == 0 ? 8192 : 16384;
        CHECK_INT(peer_read(step), (ssize_t)step);
        run(1);
        passes++;
        if (E.r->resumes == 0) {
            CHECK(wsize() > 16384);
        }
    }
    CHECK_INT(E.r->resumes, 1);
    CHECK_SIZE(wsize(), 16384); /* size <= low, exactly at the threshold */
    CHECK_INT(passes, 8); /* 139264 - 8192 - 7 x 16384 = 16384 */
    while (wsize() > 0 || aiotp_sim_readable(E.sim, E.b) > 0) {
        (void)peer_read(1 << 16);
        run(1);
    }
    CHECK_INT(E.r->pauses, 1);
    CHECK_INT(E.r->resumes, 1);
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* §11 scenario 88: size == high no pause; high lowered to size - 1 pauses inside the
   setter; raising while paused does not resume. */
TEST(wm88_equal_lower_raise)
{
    env_open(&th_streaming, 0);
    set_limits(300, 100);
    CHECK_ERR(twrite(300), 0);
    CHECK_INT(E.r->pauses, 0);
    mark();
    set_limits(299, 100);
    CHECK_INT(E.r->pauses, 1);
    set_limits(100000, 50000);
    CHECK_INT(E.r->resumes, 0);
    CHECK_STR(view(FLOW), "@0 call set_write_buffer_limits high=299 low=100\n"
                          "@0 cb pause_writing size=300 high=299\n"
                          "@0 ret set_write_buffer_limits 0 size=300 low=100 high=299\n"
                          "@0 call set_write_buffer_limits high=100000 low=50000\n"
                          "@0 ret set_write_buffer_limits 0 size=300 low=50000 "
                          "high=100000\n");
    kernel_room(10);
    run(1);
    CHECK_INT(E.r->resumes, 1); /* the next drain does */
    env_close();
}

/* §11 scenario 93 adapted to a socket: with low 0, many partial drains, resume only when
   the buffer is empty. */
TEST(wm93_low_zero_partial_drains)
{
    int i;
    env_open(&th_streaming, 0);
    set_limits(64, 0);
    CHECK_ERR(twrite(100), 0);
    CHECK_INT(E.r->pauses, 1);
    for (i = 0; i < 9; i++) {
        kernel_room(10);
        run(1);
        CHECK_INT(E.r->resumes, 0);
        CHECK_SIZE(wsize(), 100 - 10 * (size_t)(i + 1));
    }
    CHECK_INT(aiotp_sim_send_limit(E.sim, E.a, 3), 0); /* a partial send on the way */
    kernel_room(10);
    run(1);
    CHECK_SIZE(wsize(), 7);
    CHECK_INT(E.r->resumes, 0);
    run(1);
    CHECK_SIZE(wsize(), 0);
    CHECK_INT(E.r->resumes, 1);
    while (peer_read(4096) > 0) {
    }
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* ---- ordering ---------------------------------------------------------------------------- */

/* §11 scenario 24: close() with buffered data; the drain that sends the last byte calls
   connection_lost(0) in the same pass, after which the socket is closed. */
TEST(order24_close_drain_lost_same_pass)
{
    env_open(&th_streaming, 0);
    CHECK_ERR(twrite(1000), 0);
    CHECK_ERR(aiotp_transport_close(E.t), 0);
    run(1);
    CHECK_INT(E.r->lost, 0);
    kernel_room(999);
    run(1);
    CHECK_INT(E.r->lost, 0);
    mark();
    kernel_room(1);
    run(1);
    CHECK_INT(E.r->lost, 1);
    CHECK_INT(E.r->lost_status, 0);
    CHECK_STR(view("cb connection_lost"), "@1 cb connection_lost status=0\n");
    /* a was closed; b is the peer's, the other two the loop's wake-up pipe */
    CHECK_SIZE(aiotp_sim_open_fds(E.sim), 3);
    while (peer_read(4096) > 0) {
    }
    CHECK_INT(peer_read(1), 0); /* EOF after the data */
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* §11 scenario 28: a blocked write then write_eof(): no shutdown until the drain; then
   the peer reads the data and EOF. */
TEST(order28_write_eof_after_drain)
{
    env_open(&th_streaming, 0);
    CHECK_ERR(twrite(100), 0);
    CHECK_ERR(aiotp_transport_write_eof(E.t), 0);
    CHECK_ERR(twrite(1), AIOTP_ESTATE);
    kernel_room(1000);
    CHECK_INT(peer_read(1000), -EAGAIN); /* nothing yet, no EOF */
    run(1);
    CHECK_SIZE(wsize(), 0);
    CHECK_INT(peer_read(1000), 100);
    CHECK_INT(peer_read(1000), 0); /* shutdown(SHUT_WR) after the drain */
    CHECK(!aiotp_transport_is_closing(E.t));
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* §11 scenario 31: close() with buffered data stops reading at once and does not call
   connection_lost after one pass. */
TEST(order31_close_with_buffer)
{
    env_open(&th_streaming, 0);
    CHECK(aiotp_sim_interest(E.sim, E.a) & AIOTP_EV_READ);
    CHECK_ERR(twrite(10), 0);
    CHECK_ERR(aiotp_transport_close(E.t), 0);
    CHECK(!(aiotp_sim_interest(E.sim, E.a) & AIOTP_EV_READ));
    CHECK(aiotp_transport_is_closing(E.t));
    CHECK(!aiotp_transport_is_reading(E.t));
    CHECK_INT(aiotp_sim_write(E.sim, E.b, "late", 4), 4);
    run(1);
    CHECK_INT(E.r->lost, 0);
    CHECK_INT(E.r->chunks, 0);
    CHECK_ERR(aiotp_transport_close(E.t), AIOTP_ECLOSED);
    kernel_room(10);
    run(1);
    CHECK_INT(E.r->lost, 1);
    CHECK_INT(E.r->chunks, 0);
    env_close();
}

/* §11 scenario 89: close() with pending data, then write(): the late data is delivered
   before connection_lost. */
TEST(order89_write_after_close_delivered)
{
    env_open(&th_streaming, 0);
    CHECK_ERR(twrite(10), 0);
    CHECK_ERR(aiotp_transport_close(E.t), 0);
    CHECK_ERR(twrite(5), 0);
    kernel_room(100);
    run(1);
    CHECK_INT(E.r->lost, 1);
    while (peer_read(100) > 0) {
    }
    CHECK_PEER_GOT_ALL();
    CHECK_SIZE(E.rx_len, 15);
    env_close();
}

/* §11 scenario 90: pause reading; data and EOF arrive; resume: one data_received with all
   bytes, eof_received in the next pass, then connection_lost. */
TEST(order90_resume_delivers_data_then_eof)
{
    env_open(&th_streaming, 1000);
    CHECK_ERR(aiotp_transport_pause_reading(E.t), 0);
    CHECK_INT(aiotp_sim_write(E.sim, E.b, "abc", 3), 3);
    run(1);
    CHECK_INT(aiotp_sim_write(E.sim, E.b, "defg", 4), 4);
    CHECK_ERR(aiotp_sim_shutdown(E.sim, E.b, SHUT_WR), 0);
    run(2);
    CHECK_INT(E.r->chunks, 0);
    mark();
    CHECK_ERR(aiotp_transport_resume_reading(E.t), 0);
    run(4);
    CHECK_STR(view("cb "), "@1 cb data_received n=7 total=7 sum=312a6aa6\n" /* crc32("abcdefg") */
                           "@2 cb eof_received\n"
                           "@3 cb connection_lost status=0\n");
    CHECK_INT(E.r->chunks, 1);
    CHECK(E.r->rx_len == 7 && memcmp(E.r->rx, "abcdefg", 7) == 0);
    env_close();
}

/* ---- re-entrant callbacks -------------------------------------------------------------- */

static int hook_close(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_close(t), 0);
    return 0;
}

static int hook_abort(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_abort(t), 0);
    return 0;
}

static int hook_echo(th_rec *r, aiotp_transport *t)
{
    /* write the chunk just received back (same accounting as twrite) */
    size_t n = r->last_chunk;
    const unsigned char *p = r->rx + r->rx_len - n;
    memcpy(E.tx + E.tx_len, p, n);
    CHECK_ERR(aiotp_transport_write(t, p, n), 0);
    E.tx_len += n;
    return 0;
}

static int hook_raise_limits(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 10000, 40), 0);
    return 0;
}

/* close() inside resume_writing with data still buffered: the rest is flushed, then
   connection_lost(0) in the pass of the last send. */
TEST(close_inside_resume_writing)
{
    env_open(&th_streaming, 0);
    E.r->on_resume = hook_close;
    set_limits(100, 50);
    CHECK_ERR(twrite(150), 0);
    kernel_room(100);
    run(1);
    CHECK_INT(E.r->resumes, 1);
    CHECK(aiotp_transport_is_closing(E.t));
    CHECK_INT(E.r->lost, 0);
    CHECK_SIZE(wsize(), 50);
    kernel_room(50);
    run(1);
    CHECK_INT(E.r->lost, 1);
    CHECK_INT(E.r->lost_status, 0);
    while (peer_read(4096) > 0) {
    }
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* close() inside resume_writing when the drain emptied the buffer: connection_lost in the
   next pass, exactly once. */
TEST(close_inside_resume_writing_at_empty)
{
    env_open(&th_streaming, 0);
    E.r->on_resume = hook_close;
    set_limits(100, 0);
    CHECK_ERR(twrite(150), 0);
    mark();
    kernel_room(150);
    run(1);
    CHECK_INT(E.r->resumes, 1);
    CHECK_INT(E.r->lost, 0);
    run(2);
    CHECK_INT(E.r->lost, 1);
    CHECK_STR(view("cb resume|cb connection_lost"), "@1 cb resume_writing size=0 low=0\n"
                                                    "@2 cb connection_lost status=0\n");
    env_close();
}

/* abort() inside pause_writing (inside write): the buffer is dropped, no resume ever,
   connection_lost(0) next pass. */
TEST(abort_inside_pause_writing)
{
    env_open(&th_streaming, 0);
    E.r->on_pause = hook_abort;
    set_limits(100, 50);
    mark();
    CHECK_ERR(twrite(150), 0);
    CHECK_SIZE(wsize(), 0);
    CHECK_ERR(twrite(1), AIOTP_ECLOSED);
    kernel_room(1000);
    run(2);
    CHECK_INT(E.r->lost, 1);
    CHECK_INT(E.r->resumes, 0);
    CHECK_INT(peer_read(1000), 0);
    CHECK_STR(view(FLOW "|call abort|cb connection_lost"),
              "@0 call write n=150\n"
              "@0 cb pause_writing size=150 high=100\n"
              "@0 call abort\n"
              "@0 ret write 0 size=0\n"
              "@0 call write n=1\n"
              "@0 ret write ECLOSED size=0\n"
              "@1 cb connection_lost status=0\n");
    env_close();
}

/* write() inside data_received: an echo; the peer gets the bytes back in order, and
   partial sends/EAGAIN/EINTR on the way do not change them. */
TEST(write_inside_data_received)
{
    int i;
    env_open(&th_streaming, 1000);
    E.r->on_data = hook_echo;
    CHECK_INT(aiotp_sim_write(E.sim, E.b, "hello", 5), 5);
    run(1);
    CHECK_INT(E.r->chunks, 1);
    CHECK_INT(peer_read(100), 5);
    CHECK(memcmp(E.rx, "hello", 5) == 0);
    CHECK_INT(aiotp_sim_send_limit(E.sim, E.a, 2), 0);
    CHECK_INT(aiotp_sim_write(E.sim, E.b, "world", 5), 5);
    run(1);
    CHECK_SIZE(wsize(), 3);
    CHECK_INT(aiotp_sim_send_eagain(E.sim, E.a, 1), 0);
    CHECK_INT(aiotp_sim_eintr_once(E.sim, E.a), 0);
    for (i = 0; i < 4; i++) {
        run(1);
    }
    CHECK_SIZE(wsize(), 0);
    while (peer_read(100) > 0) {
    }
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* set_write_buffer_limits() inside pause_writing: raising the limits there neither
   pauses again nor resumes; the next drain resumes once size <= the new low. */
TEST(set_limits_inside_pause_writing)
{
    env_open(&th_streaming, 0);
    E.r->on_pause = hook_raise_limits;
    set_limits(100, 50);
    CHECK_ERR(twrite(150), 0);
    CHECK_INT(E.r->pauses, 1);
    CHECK_INT(E.r->resumes, 0);
    CHECK_LIMITS(40, 10000);
    CHECK_ERR(twrite(5000), 0);
    CHECK_INT(E.r->pauses, 1);
    kernel_room(5110);
    run(1);
    CHECK_SIZE(wsize(), 40);
    CHECK_INT(E.r->resumes, 1);
    env_close();
}

/* A peer reset: the next recv fails with ECONNRESET, the transport closes silently with
   connection_lost(-ECONNRESET). */
TEST(peer_reset)
{
    env_open(&th_streaming, 0);
    CHECK_ERR(twrite(10), 0);
    CHECK_ERR(aiotp_sim_reset(E.sim, E.a), 0);
    run(2);
    CHECK_INT(E.r->lost, 1);
    CHECK_ERR(E.r->lost_status, -ECONNRESET);
    env_close();
}

/* Virtual time: a pass with nothing ready jumps to the next timer; no real sleeping. */
static void tick(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
}

TEST(virtual_time_jumps_to_timer)
{
    int fired = 0;
    int64_t t0;
    env_open(&th_streaming, 0);
    t0 = aiotp_sim_now(E.sim);
    CHECK_ERR(aiotp_loop_call_later(E.loop, 3600 * AIOTP_NS_PER_SEC, tick, &fired, NULL), 0);
    run(1);
    CHECK_INT(fired, 1);
    CHECK(aiotp_sim_now(E.sim) - t0 >= 3600 * AIOTP_NS_PER_SEC);
    aiotp_sim_wait_eintr(E.sim, 1);
    run(1); /* -EINTR from the wait counts as nothing ready */
    env_close();
}

/* The sim's poll() entry drives the reference poll backend the same way. */
TEST(poll_backend_over_sim)
{
    use_poll = true;
    env_open(&th_streaming, 0);
    use_poll = false;
    set_limits(100, 50);
    CHECK_ERR(twrite(150), 0);
    CHECK_INT(E.r->pauses, 1);
    CHECK_ERR(aiotp_transport_close(E.t), 0);
    kernel_room(100);
    run(1);
    CHECK_INT(E.r->resumes, 1);
    CHECK_INT(E.r->lost, 0);
    kernel_room(50);
    run(1);
    CHECK_INT(E.r->lost, 1);
    while (peer_read(4096) > 0) {
    }
    CHECK_PEER_GOT_ALL();
    env_close();
}

/* ---- the virtual network (socket, bind, listen, connect, accept, options, names) ------- */

static aiotp_sim *N;
static const aiotp_syscalls *S;
#define SYS(call, ...) S->call(S->ctx, __VA_ARGS__)
#define SA(x) ((struct sockaddr *)(void *)&(x))

static void net_open(void)
{
    sim_mem.live = 0;
    CHECK_ERR(aiotp_sim_create(&N, &counting), 0);
    S = aiotp_sim_syscalls(N);
}

/* Everything closed and freed. */
static void net_close(void)
{
    CHECK_SIZE(aiotp_sim_open_fds(N), 0);
    aiotp_sim_free(N);
    N = NULL;
    CHECK_INT(sim_mem.live, 0);
}

static struct sockaddr_in in4(const char *ip, unsigned port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    CHECK_INT(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return a;
}

static struct sockaddr_in6 in6(const char *ip, unsigned port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    CHECK_INT(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    return a;
}

static socklen_t un_addr(struct sockaddr_un *u, const char *path)
{
    memset(u, 0, sizeof(*u));
    u->sun_family = AF_UNIX;
    memcpy(u->sun_path, path, strlen(path) + 1);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

/* "ip:port", "[ip6]:port", "unix:PATH" ("unix:" unnamed) or "family F len L" of an
   address, for comparing. */
static const char *addr_str(const struct sockaddr_storage *ss, socklen_t len)
{
    static char out[4][80];
    static int k;
    char ip[INET6_ADDRSTRLEN];
    char *o = out[k++ % 4];
    if (len == 0) {
        snprintf(o, 80, "none");
    } else if (ss->ss_family == AF_INET && len == (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(o, 80, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6 && len == (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(o, 80, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else if (ss->ss_family == AF_UNIX && len >= (socklen_t)sizeof(sa_family_t)) {
        const struct sockaddr_un *u = (const struct sockaddr_un *)(const void *)ss;
        snprintf(o, 80, "unix:%.*s", (int)(len - offsetof(struct sockaddr_un, sun_path)),
                 len > offsetof(struct sockaddr_un, sun_path) ? u->sun_path : "");
    } else {
        snprintf(o, 80, "family %d len %u", ss->ss_family, (unsigned)len);
    }
    return o;
}

/* "ip:port" of fd's own (peer = false) or peer's address, for comparing. */
static const char *name_of(int fd, bool peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int rc = peer ? SYS(getpeername, fd, SA(ss), &len) : SYS(getsockname, fd, SA(ss), &len);
    return rc != 0 ? aiotp_err_name(rc) : addr_str(&ss, len);
}

static int so_int(int fd, int level, int name)
{
    int v = -12345;
    socklen_t len = sizeof(v);
    int rc = SYS(getsockopt, fd, level, name, &v, &len);
    return rc != 0 ? rc : v;
}

/* A listener of family on ip:port, or a negative errno. */
static int listener(int family, const char *ip, unsigned port, int backlog)
{
    int l = SYS(socket, family, SOCK_STREAM, 0);
    int rc;
    if (family == AF_INET) {
        struct sockaddr_in a = in4(ip, port);
        rc = SYS(bind, l, SA(a), sizeof(a));
    } else {
        struct sockaddr_in6 a = in6(ip, port);
        rc = SYS(bind, l, SA(a), sizeof(a));
    }
    if (rc == 0) {
        rc = SYS(listen, l, backlog);
    }
    if (rc != 0) {
        (void)SYS(close, l);
        return rc;
    }
    return l;
}

static unsigned port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    CHECK_INT(SYS(getsockname, fd, SA(ss), &len), 0);
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
}

/* TCP over IPv4 and IPv6: ephemeral ports in order, a non-blocking connect in progress
   but connected at once (writable, SO_ERROR 0), bytes sent before the accept wait for
   it, both ends see each other's addresses; a wildcard listener is reached through any
   loopback address. */
TEST(net_tcp_connect_accept)
{
    struct sockaddr_in a;
    struct sockaddr_in got;
    struct sockaddr_in6 a6;
    socklen_t len = sizeof(got);
    char buf[16];
    int l;
    int c;
    int s;
    int l2;
    int c2;
    int s2;

    net_open();
    l = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(l, 3);
    CHECK_STR(name_of(l, false), "0.0.0.0:0");
    CHECK_STR(name_of(l, true), "ENOTCONN");
    a = in4("127.0.0.1", 0);
    CHECK_INT(SYS(bind, l, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(bind, l, SA(a), sizeof(a)), -EINVAL);
    CHECK_INT(SYS(listen, l, 4), 0);
    CHECK_STR(name_of(l, false), "127.0.0.1:32768");
    CHECK_INT(so_int(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
    CHECK_INT(aiotp_sim_ready(N, l), 0);
    CHECK_INT(SYS(accept, l, NULL, NULL), -EAGAIN);

    c = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(SYS(set_nonblock, c), 0);
    a = in4("127.0.0.1", 32768);
    CHECK_INT(SYS(connect, c, SA(a), sizeof(a)), -EINPROGRESS);
    CHECK_INT(aiotp_sim_ready(N, c), AIOTP_EV_WRITE);
    CHECK_INT(so_int(c, SOL_SOCKET, SO_ERROR), 0);
    CHECK_INT(SYS(connect, c, SA(a), sizeof(a)), -EISCONN);
    CHECK_INT(aiotp_sim_write(N, c, "early", 5), 5);
    CHECK_INT(aiotp_sim_ready(N, l), AIOTP_EV_READ);
    s = SYS(accept, l, SA(got), &len);
    CHECK_INT(s, 5);
    CHECK_INT(len, sizeof(struct sockaddr_in));
    CHECK_INT(ntohs(got.sin_port), 32769);
    CHECK(got.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK_INT(aiotp_sim_ready(N, l), 0);
    CHECK_STR(name_of(c, false), "127.0.0.1:32769");
    CHECK_STR(name_of(c, true), "127.0.0.1:32768");
    CHECK_STR(name_of(s, false), "127.0.0.1:32768");
    CHECK_STR(name_of(s, true), "127.0.0.1:32769");
    CHECK_INT(aiotp_sim_read(N, s, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "early", 5) == 0);
    CHECK_INT(aiotp_sim_write(N, s, "back", 4), 4);
    CHECK_INT(aiotp_sim_read(N, c, buf, sizeof(buf)), 4);
    CHECK(memcmp(buf, "back", 4) == 0);

    /* a wildcard listener, a blocking connect through 127.0.0.2: 0 */
    l2 = listener(AF_INET, "0.0.0.0", 0, 1);
    CHECK_STR(name_of(l2, false), "0.0.0.0:32770");
    c2 = SYS(socket, AF_INET, SOCK_STREAM, 0);
    a = in4("127.0.0.2", 32770);
    CHECK_INT(SYS(connect, c2, SA(a), sizeof(a)), 0);
    s2 = SYS(accept, l2, NULL, NULL);
    CHECK_STR(name_of(s2, false), "127.0.0.2:32770");
    CHECK_STR(name_of(c2, false), "127.0.0.2:32771");
    CHECK_INT(SYS(close, c2), 0);
    CHECK_INT(SYS(close, s2), 0);
    CHECK_INT(SYS(close, l2), 0);

    /* IPv6: its own port space (32768 again is free there) */
    l2 = listener(AF_INET6, "::1", 0, 1);
    CHECK_STR(name_of(l2, false), "[::1]:32772");
    c2 = SYS(socket, AF_INET6, SOCK_STREAM, 0);
    a6 = in6("::1", 32772);
    CHECK_INT(SYS(connect, c2, SA(a), sizeof(a)), -EAFNOSUPPORT);
    CHECK_INT(SYS(connect, c2, SA(a6), sizeof(a6)), 0);
    s2 = SYS(accept, l2, NULL, NULL);
    CHECK_STR(name_of(c2, true), "[::1]:32772");
    CHECK_STR(name_of(s2, true), name_of(c2, false));
    CHECK_INT(SYS(close, c2), 0);
    CHECK_INT(SYS(close, s2), 0);
    CHECK_INT(SYS(close, l2), 0);
    l2 = listener(AF_INET6, "::", 32768, 1);
    CHECK(l2 >= 0);
    CHECK_INT(SYS(close, l2), 0);

    CHECK_INT(SYS(close, c), 0);
    CHECK_INT(SYS(close, s), 0);
    CHECK_INT(SYS(close, l), 0);
    net_close();
}

/* Failures: refused (blocking: at once; non-blocking TCP: EINPROGRESS, then a hangup
   with SO_ERROR ECONNREFUSED), unreachable and non-local addresses, a missing Unix path,
   a Unix path nobody listens on, calls on unconnected sockets, bad sockets. */
TEST(net_connect_failures)
{
    struct sockaddr_in a = in4("127.0.0.1", 4000);
    struct sockaddr_un u;
    socklen_t ul;
    int c;
    int b;
    char ch;

    net_open();
    CHECK_INT(SYS(socket, AF_UNSPEC, SOCK_STREAM, 0), -EAFNOSUPPORT);
    CHECK_INT(SYS(socket, AF_INET, SOCK_SEQPACKET, 0), -EPROTONOSUPPORT);
    CHECK_INT(SYS(socket, AF_INET, SOCK_DGRAM, IPPROTO_TCP), -EPROTONOSUPPORT);
    c = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(SYS(connect, c, SA(a), sizeof(a)), -ECONNREFUSED);
    CHECK_INT(SYS(recv, c, &ch, 1, 0), -ENOTCONN);
    CHECK_INT(SYS(send, c, "x", 1, 0), -ENOTCONN);
    CHECK_INT(SYS(shutdown, c, SHUT_WR), -ENOTCONN);
    CHECK_INT(aiotp_sim_set_capacity(N, c, 1), -ENOTCONN);
    CHECK_INT(aiotp_sim_set_capacity(N, 99, 1), -EBADF);
    CHECK_INT(SYS(set_nonblock, c), 0);
    CHECK_INT(SYS(connect, c, SA(a), sizeof(a)), -EINPROGRESS);
    CHECK_INT(aiotp_sim_ready(N, c), AIOTP_EV_READ | AIOTP_EV_WRITE);
    CHECK_INT(so_int(c, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
    CHECK_INT(so_int(c, SOL_SOCKET, SO_ERROR), 0); /* read once */
    a = in4("10.1.2.3", 80);
    CHECK_INT(SYS(connect, c, SA(a), sizeof(a)), -ENETUNREACH);
    CHECK_INT(SYS(bind, c, SA(a), sizeof(a)), -EADDRNOTAVAIL);
    CHECK_INT(SYS(bind, c, SA(a), 4), -EINVAL);
    CHECK_INT(SYS(listen, c, 1), 0); /* autobind: wildcard, ephemeral port */
    CHECK_STR(name_of(c, false), "0.0.0.0:32768");
    CHECK_INT(SYS(connect, c, SA(a), sizeof(a)), -EINVAL);
    CHECK_INT(SYS(close, c), 0);
    CHECK_INT(SYS(close, c), -EBADF);

    c = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    ul = un_addr(&u, "/sim/none");
    CHECK_INT(SYS(connect, c, SA(u), ul), -ENOENT);
    CHECK_INT(SYS(listen, c, 1), -EINVAL); /* unbound Unix socket */
    b = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(SYS(bind, b, SA(u), ul), 0);
    CHECK_INT(SYS(connect, c, SA(u), ul), -ECONNREFUSED); /* bound, not listening */
    CHECK_INT(SYS(bind, b, SA(u), (socklen_t)offsetof(struct sockaddr_un, sun_path)),
              -EINVAL);
    CHECK_INT(SYS(close, b), 0);
    CHECK_INT(SYS(close, c), 0);
    net_close();
}

/* bind: ports in use, wildcard overlaps, SO_REUSEADDR / SO_REUSEPORT; Unix paths exist
   until unlinked, and a connect reaches the socket bound to the path now. */
TEST(net_bind_rules)
{
    struct sockaddr_in a;
    struct sockaddr_un u;
    socklen_t ul = un_addr(&u, "/sim/s");
    int one = 1;
    int l;
    int x;
    int y;
    int c;
    int l2;

    net_open();
    l = listener(AF_INET, "127.0.0.1", 5000, 1);
    CHECK(l >= 0);
    CHECK_INT(listener(AF_INET, "127.0.0.1", 5000, 1), -EADDRINUSE);
    CHECK_INT(listener(AF_INET, "0.0.0.0", 5000, 1), -EADDRINUSE);
    l2 = listener(AF_INET, "127.0.0.2", 5000, 1); /* no overlap */
    CHECK(l2 >= 0);
    CHECK_INT(SYS(close, l2), 0);
    /* SO_REUSEPORT on both: two listeners; connect goes to the first */
    x = SYS(socket, AF_INET, SOCK_STREAM, 0);
    y = SYS(socket, AF_INET, SOCK_STREAM, 0);
    a = in4("127.0.0.1", 6000);
#ifdef SO_REUSEPORT
    CHECK_INT(SYS(setsockopt, x, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
    CHECK_INT(SYS(setsockopt, y, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
    CHECK_INT(SYS(bind, x, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(bind, y, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(listen, x, 1), 0);
    CHECK_INT(SYS(listen, y, 1), 0);
    c = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(SYS(connect, c, SA(a), sizeof(a)), 0);
    CHECK_INT(aiotp_sim_ready(N, x), AIOTP_EV_READ);
    CHECK_INT(aiotp_sim_ready(N, y), 0);
    CHECK_INT(SYS(close, c), 0);
#endif
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, y), 0);
    /* SO_REUSEADDR on both: a bound, non-listening port can be bound again */
    x = SYS(socket, AF_INET, SOCK_STREAM, 0);
    y = SYS(socket, AF_INET, SOCK_STREAM, 0);
    a = in4("127.0.0.1", 7000);
    CHECK_INT(SYS(setsockopt, x, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    CHECK_INT(so_int(x, SOL_SOCKET, SO_REUSEADDR), 1);
    CHECK_INT(SYS(bind, x, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(bind, y, SA(a), sizeof(a)), -EADDRINUSE);
    CHECK_INT(SYS(setsockopt, y, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    CHECK_INT(SYS(bind, y, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, y), 0);
    CHECK_INT(SYS(close, l), 0);

    /* Unix: the path outlives the socket until unlinked */
    x = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(SYS(bind, x, SA(u), ul), 0);
    CHECK_INT(SYS(listen, x, 1), 0);
    CHECK_STR(name_of(x, false), "unix:/sim/s");
    y = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(SYS(bind, y, SA(u), ul), -EADDRINUSE);
    CHECK_INT(SYS(unlink_socket, "/sim/s"), 1);
    CHECK_INT(SYS(unlink_socket, "/sim/s"), 0);
    CHECK_INT(SYS(bind, y, SA(u), ul), 0); /* a new socket at the path */
    c = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(SYS(connect, c, SA(u), ul), -ECONNREFUSED); /* y does not listen; x is gone */
    CHECK_INT(aiotp_sim_ready(N, x), 0);
    CHECK_INT(SYS(listen, y, 1), 0);
    CHECK_INT(SYS(connect, c, SA(u), ul), 0);
    CHECK_INT(aiotp_sim_ready(N, y), AIOTP_EV_READ);
    CHECK_STR(name_of(c, true), "unix:/sim/s");
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, y), 0); /* resets c, never accepted */
    CHECK_INT(SYS(close, c), 0);
    CHECK_INT(SYS(unlink_socket, "/sim/s"), 1);
    net_close();
}

/* The backlog: full -> EAGAIN (Unix) / refused (TCP); accepted oldest first; closing a
   listener resets what it never accepted; a client closed before the accept leaves its
   bytes and EOF to the accepted socket. */
TEST(net_backlog)
{
    struct sockaddr_un u;
    socklen_t ul = un_addr(&u, "/sim/b");
    struct sockaddr_in a;
    char buf[8];
    int l;
    int c1;
    int c2;
    int s;

    net_open();
    l = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(SYS(bind, l, SA(u), ul), 0);
    CHECK_INT(SYS(listen, l, 1), 0);
    c1 = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    c2 = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(SYS(connect, c1, SA(u), ul), 0);
    CHECK_INT(SYS(connect, c2, SA(u), ul), -EAGAIN);
    CHECK_INT(aiotp_sim_write(N, c1, "bye", 3), 3);
    CHECK_INT(SYS(close, c1), 0);
    s = SYS(accept, l, NULL, NULL);
    CHECK(s >= 0);
    CHECK_INT(aiotp_sim_read(N, s, buf, sizeof(buf)), 3);
    CHECK_INT(aiotp_sim_read(N, s, buf, sizeof(buf)), 0);
    CHECK_INT(SYS(close, s), 0);
    CHECK_INT(SYS(connect, c2, SA(u), ul), 0);
    CHECK_INT(SYS(close, l), 0); /* c2 never accepted: reset */
    CHECK_INT(aiotp_sim_ready(N, c2), AIOTP_EV_READ | AIOTP_EV_WRITE);
    CHECK_INT(aiotp_sim_read(N, c2, buf, sizeof(buf)), -ECONNRESET);
    CHECK_INT(aiotp_sim_read(N, c2, buf, sizeof(buf)), 0);
    CHECK_INT(SYS(close, c2), 0);
    CHECK_INT(SYS(unlink_socket, "/sim/b"), 1);

    l = listener(AF_INET, "127.0.0.1", 0, 1);
    a = in4("127.0.0.1", port_of(l));
    c1 = SYS(socket, AF_INET, SOCK_STREAM, 0);
    c2 = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(SYS(connect, c1, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(connect, c2, SA(a), sizeof(a)), -ECONNREFUSED);
    CHECK_INT(SYS(close, c1), 0);
    CHECK_INT(SYS(close, c2), 0);
    CHECK_INT(SYS(close, l), 0);
    net_close();
}

/* Options: TCP_NODELAY (not on Unix sockets), SO_SNDBUF/SO_RCVBUF as the capacities of
   the two directions, SO_LINGER {1, 0} resets on close over TCP only, MSG_PEEK. */
TEST(net_socket_options)
{
    struct sockaddr_in a;
    struct linger lg = {1, 0};
    int one = 1;
    int small = 10;
    int sv[2];
    int l;
    int c;
    int s;
    char buf[64];
    static const char data[] = "0123456789abcdefghij";

    net_open();
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], &sv[1]), 0);
    CHECK_STR(name_of(sv[0], false), "unix:");
    CHECK_INT(so_int(sv[0], IPPROTO_TCP, TCP_NODELAY), -EOPNOTSUPP);
    CHECK_INT(SYS(setsockopt, sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)),
              -EOPNOTSUPP);
    CHECK_INT(so_int(sv[0], SOL_SOCKET, SO_SNDBUF), (int)AIOTP_SIM_DEFAULT_CAPACITY);
    CHECK_INT(SYS(setsockopt, sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    CHECK_INT(aiotp_sim_write(N, sv[0], data, 20), 10);
    CHECK_INT(SYS(setsockopt, sv[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    CHECK_INT(so_int(sv[1], SOL_SOCKET, SO_SNDBUF), 10); /* the same direction */
    CHECK_INT(aiotp_sim_write(N, sv[1], data, 20), 10);
    CHECK_INT(SYS(recv, sv[1], buf, sizeof(buf), MSG_PEEK), 10);
    CHECK_INT(SYS(recv, sv[1], buf, 4, 0), 4);
    CHECK(memcmp(buf, "0123", 4) == 0);
    /* linger on a Unix socket: a plain close */
    CHECK_INT(SYS(setsockopt, sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    CHECK_INT(SYS(close, sv[0]), 0);
    CHECK_INT(SYS(recv, sv[1], buf, sizeof(buf), 0), 6);
    CHECK_INT(SYS(recv, sv[1], buf, sizeof(buf), 0), 0);
    CHECK_INT(SYS(close, sv[1]), 0);

    l = listener(AF_INET, "127.0.0.1", 0, 1);
    a = in4("127.0.0.1", port_of(l));
    c = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(SYS(setsockopt, c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    CHECK_INT(SYS(connect, c, SA(a), sizeof(a)), 0);
    s = SYS(accept, l, NULL, NULL);
    CHECK_INT(SYS(close, l), 0);
    CHECK_INT(aiotp_sim_write(N, c, data, 20), 10); /* SO_SNDBUF applied on connect */
    CHECK_INT(so_int(c, IPPROTO_TCP, TCP_NODELAY), 0);
    CHECK_INT(SYS(setsockopt, c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    CHECK_INT(so_int(c, IPPROTO_TCP, TCP_NODELAY), 1);
    CHECK_INT(so_int(s, IPPROTO_TCP, TCP_NODELAY), 0);
    CHECK_INT(so_int(s, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    CHECK_INT(so_int(s, SOL_SOCKET, 12345), -ENOPROTOOPT);
    /* linger {1, 0} over TCP: the close resets the peer, queued bytes are gone */
    CHECK_INT(SYS(setsockopt, c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    CHECK_INT(SYS(close, c), 0);
    CHECK_INT(aiotp_sim_readable(N, s), 0);
    CHECK_INT(SYS(recv, s, buf, sizeof(buf), 0), -ECONNRESET);
    CHECK_INT(SYS(recv, s, buf, sizeof(buf), 0), 0);
    CHECK_INT(SYS(send, s, "x", 1, 0), -EPIPE);
    CHECK_INT(SYS(close, s), 0);
    net_close();
}

/* getaddrinfo: numeric hosts, "localhost", the NULL host, families, services. */
static const char *gai(const char *node, const char *service, int family, int flags)
{
    static char out[256];
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct addrinfo *ai;
    size_t used = 0;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    rc = SYS(getaddrinfo, node, service, &hints, &res);
    if (rc != 0) {
        snprintf(out, sizeof(out), "rc %d", rc);
        return out;
    }
    out[0] = '\0';
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        unsigned port;
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *a =
                (const struct sockaddr_in *)(const void *)ai->ai_addr;
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
            port = ntohs(a->sin_port);
        } else {
            const struct sockaddr_in6 *a =
                (const struct sockaddr_in6 *)(const void *)ai->ai_addr;
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
            port = ntohs(a->sin6_port);
        }
        used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s/%u/%d", used ? " " : "",
                                 ip, port, ai->ai_protocol == IPPROTO_TCP);
    }
    SYS(freeaddrinfo, res);
    return out;
}

TEST(net_getaddrinfo)
{
    net_open();
    CHECK_STR(gai("127.0.0.1", "80", AF_UNSPEC, 0), "127.0.0.1/80/1");
    CHECK_STR(gai("::1", "8080", AF_UNSPEC, 0), "::1/8080/1");
    CHECK_STR(gai("localhost", "1", AF_UNSPEC, 0), "127.0.0.1/1/1 ::1/1/1");
    CHECK_STR(gai("localhost", "1", AF_INET6, 0), "::1/1/1");
    CHECK_STR(gai(NULL, "9", AF_UNSPEC, AI_PASSIVE), "0.0.0.0/9/1 ::/9/1");
    CHECK_STR(gai(NULL, "9", AF_INET, 0), "127.0.0.1/9/1");
    CHECK_STR(gai("10.0.0.7", NULL, AF_INET, 0), "10.0.0.7/0/1");
    {
        char want[32];
        snprintf(want, sizeof(want), "rc %d", EAI_NONAME);
        CHECK_STR(gai("example.com", "80", AF_UNSPEC, 0), want);
        CHECK_STR(gai("localhost", "80", AF_UNSPEC, AI_NUMERICHOST), want);
        CHECK_STR(gai("127.0.0.1", "80", AF_INET6, 0), want);
        CHECK_STR(gai(NULL, NULL, AF_UNSPEC, 0), want);
        snprintf(want, sizeof(want), "rc %d", EAI_SERVICE);
        CHECK_STR(gai("127.0.0.1", "http", AF_UNSPEC, 0), want);
        CHECK_STR(gai("127.0.0.1", "65536", AF_UNSPEC, 0), want);
        snprintf(want, sizeof(want), "rc %d", EAI_FAMILY);
        CHECK_STR(gai("127.0.0.1", "80", AF_UNIX, 0), want);
    }
    net_close();
}

/* The library on the virtual network: create_server + create_connection("localhost"),
   both transports with their TCP addresses and TCP_NODELAY; a refused connection;
   create_unix_server over a stale path + create_unix_connection. */
typedef struct lib_net {
    th_rec *r[4];
    int made;
    int done;
    int status;
    aiotp_transport *t;
    aiotp_server *srv;
} lib_net;

static int lib_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    lib_net *n = arg;
    if (n->made >= 4) {
        return -1;
    }
    *proto = &th_streaming;
    *data = n->r[n->made++];
    return 0;
}

static void lib_conn_done(void *arg, int status, aiotp_transport *t)
{
    lib_net *n = arg;
    n->done++;
    n->status = status;
    n->t = t;
    if (t != NULL) {
        aiotp_transport_retain(t);
    }
}

static void lib_srv_done(void *arg, int status, aiotp_server *s)
{
    lib_net *n = arg;
    n->status = status;
    n->srv = s;
    if (s != NULL) {
        aiotp_server_retain(s);
    }
}

static void lib_run(aiotp_loop *loop, int passes)
{
    int i;
    for (i = 0; i < passes; i++) {
        CHECK_INT(aiotp_loop_run_once(loop), 0);
    }
}

TEST(net_library_tcp_and_unix)
{
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    lib_net n;
    lib_net cl;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const aiotp_extra *x;
    int fd;
    int i;
    char want[64];

    memset(&n, 0, sizeof(n));
    memset(&cl, 0, sizeof(cl));
    for (i = 0; i < 4; i++) {
        n.r[i] = th_rec_new();
        cl.r[i] = th_rec_new();
    }
    net_open();
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.backend = aiotp_backend_sim();
    o.syscalls = S;
    o.allocator = &counting;
    CHECK_ERR(aiotp_loop_create(&loop, &o), 0);

    CHECK_ERR(aiotp_loop_create_server(loop, lib_factory, &n, "127.0.0.1", 0, NULL,
                                       lib_srv_done, &n), 0);
    lib_run(loop, 1);
    CHECK(n.srv != NULL);
    CHECK_ERR(aiotp_server_get_sockname(n.srv, 0, SA(ss), &len), 0);
    CHECK_INT(ss.ss_family, AF_INET);
    CHECK_INT(ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port), 32768);
    CHECK_ERR(aiotp_loop_create_connection(loop, lib_factory, &cl, "localhost", 32768, NULL,
                                           lib_conn_done, &cl), 0);
    for (i = 0; i < 6 && (cl.done == 0 || n.made == 0 || n.r[0]->made == 0); i++) {
        lib_run(loop, 1);
    }
    CHECK_INT(cl.done, 1);
    CHECK_ERR(cl.status, 0);
    CHECK_INT(n.made, 1);
    CHECK_INT(n.r[0]->made, 1);
    if (cl.t != NULL && n.r[0]->t != NULL) {
        x = aiotp_transport_get_extra_info(cl.t, "socket", NULL);
        fd = x != NULL ? x->u.fd : -1;
        CHECK_INT(so_int(fd, IPPROTO_TCP, TCP_NODELAY), 1);
        CHECK_STR(name_of(fd, true), "127.0.0.1:32768");
        snprintf(want, sizeof(want), "%s", name_of(fd, false));
        CHECK_STR(want, "127.0.0.1:32769");
        x = aiotp_transport_get_extra_info(n.r[0]->t, "peername", NULL);
        CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR &&
              x->u.addr.len == (socklen_t)sizeof(struct sockaddr_in) &&
              ntohs(((const struct sockaddr_in *)(const void *)x->u.addr.addr)->sin_port) ==
                  32769);
        CHECK_ERR(aiotp_transport_write(cl.t, "hello", 5), 0);
        lib_run(loop, 1);
        CHECK(n.r[0]->rx_len == 5 && memcmp(n.r[0]->rx, "hello", 5) == 0);
        CHECK_ERR(aiotp_transport_close(cl.t), 0);
        for (i = 0; i < 5 && n.r[0]->lost == 0; i++) {
            lib_run(loop, 1);
        }
        CHECK_INT(cl.r[0]->lost, 1);
        CHECK_INT(n.r[0]->eofs, 1);
        CHECK_INT(n.r[0]->lost, 1);
    }
    if (cl.t != NULL) {
        aiotp_transport_release(cl.t);
        cl.t = NULL;
    }

    /* nobody listens on 32770: the completion gets ECONNREFUSED */
    cl.done = 0;
    CHECK_ERR(aiotp_loop_create_connection(loop, lib_factory, &cl, "127.0.0.1", 32770, NULL,
                                           lib_conn_done, &cl), 0);
    for (i = 0; i < 4 && cl.done == 0; i++) {
        lib_run(loop, 1);
    }
    CHECK_INT(cl.done, 1);
    CHECK_ERR(cl.status, -ECONNREFUSED);
    CHECK(cl.t == NULL);
    CHECK_ERR(aiotp_server_close(n.srv), 0);
    aiotp_server_release(n.srv);
    n.srv = NULL;
    lib_run(loop, 2);

    /* a stale path (bound, closed, never unlinked) is removed by create_unix_server */
    {
        struct sockaddr_un u;
        socklen_t ul = un_addr(&u, "/sim/srv");
        int stale = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
        CHECK_INT(SYS(bind, stale, SA(u), ul), 0);
        CHECK_INT(SYS(close, stale), 0);
    }
    CHECK_ERR(aiotp_loop_create_unix_server(loop, lib_factory, &n, "/sim/srv", NULL,
                                            lib_srv_done, &n), 0);
    lib_run(loop, 1);
    CHECK_ERR(n.status, 0);
    CHECK(n.srv != NULL);
    cl.done = 0;
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, lib_factory, &cl, "/sim/srv", NULL,
                                                lib_conn_done, &cl), 0);
    for (i = 0; i < 6 && (cl.done == 0 || n.made < 2 || n.r[1]->made == 0); i++) {
        lib_run(loop, 1);
    }
    CHECK_ERR(cl.status, 0);
    CHECK_INT(n.made, 2);
    if (cl.t != NULL) {
        x = aiotp_transport_get_extra_info(cl.t, "socket", NULL);
        fd = x != NULL ? x->u.fd : -1;
        CHECK_STR(name_of(fd, true), "unix:/sim/srv");
        CHECK_INT(so_int(fd, IPPROTO_TCP, TCP_NODELAY), -EOPNOTSUPP);
        CHECK_ERR(aiotp_transport_abort(cl.t), 0);
        aiotp_transport_release(cl.t);
        cl.t = NULL;
    }
    if (n.srv != NULL) {
        CHECK_ERR(aiotp_server_close(n.srv), 0);
        aiotp_server_release(n.srv);
    }
    lib_run(loop, 3);
    CHECK_INT(n.r[1]->lost, 1);
    aiotp_loop_free(loop);
    CHECK_INT(SYS(unlink_socket, "/sim/srv"), 1);
    net_close();
}

/* ---- datagram sockets ------------------------------------------------------------------ */

static char big[AIOTP_SIM_UNIX_DGRAM_MAX + 64]; /* payloads up to the largest datagram */
static char big_rx[AIOTP_SIM_UNIX_DGRAM_MAX + 64];

/* A datagram socket of family bound to a loopback address (port 0: ephemeral) or, for
   AF_UNIX, to path; the fd. */
static int dg_bound(int family, const char *where, unsigned port)
{
    int fd = SYS(socket, family, SOCK_DGRAM, 0);
    int rc;
    CHECK(fd >= 0);
    if (family == AF_INET) {
        struct sockaddr_in a = in4(where, port);
        rc = SYS(bind, fd, SA(a), sizeof(a));
    } else if (family == AF_INET6) {
        struct sockaddr_in6 a = in6(where, port);
        rc = SYS(bind, fd, SA(a), sizeof(a));
    } else {
        struct sockaddr_un u;
        socklen_t ul = un_addr(&u, where);
        rc = SYS(bind, fd, SA(u), ul);
    }
    CHECK_INT(rc, 0);
    return fd;
}

/* sendto fd -> 127.0.0.1:port */
static long to4(int fd, const char *data, size_t n, unsigned port)
{
    struct sockaddr_in a = in4("127.0.0.1", port);
    return SYS(sendto, fd, data, n, 0, SA(a), sizeof(a));
}

/* sendto fd -> Unix path */
static long to_path(int fd, const char *data, size_t n, const char *path)
{
    struct sockaddr_un u;
    socklen_t ul = un_addr(&u, path);
    return SYS(sendto, fd, data, n, 0, SA(u), ul);
}

/* The next datagram of fd as "text" (printable payload) plus " from ADDR", or the
   error name. */
static const char *rx_str(int fd, size_t cap)
{
    static char out[2][160];
    static int k;
    char *o = out[k++ % 2];
    char buf[64];
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    long n;
    memset(&ss, 0, sizeof(ss));
    n = SYS(recvfrom, fd, buf, cap < sizeof(buf) ? cap : sizeof(buf), 0, SA(ss), &len);
    if (n < 0) {
        snprintf(o, 160, "%s", aiotp_err_name((int)n));
    } else {
        snprintf(o, 160, "'%.*s' from %s", (int)n, buf, addr_str(&ss, len));
    }
    return o;
}

static int connect4(int fd, const char *ip, unsigned port)
{
    struct sockaddr_in a = in4(ip, port);
    return SYS(connect, fd, SA(a), sizeof(a));
}

static int connect_path(int fd, const char *path)
{
    struct sockaddr_un u;
    socklen_t ul = un_addr(&u, path);
    return SYS(connect, fd, SA(u), ul);
}

static int disconnect(int fd)
{
    struct sockaddr a;
    memset(&a, 0, sizeof(a));
    a.sa_family = AF_UNSPEC;
    return SYS(connect, fd, &a, sizeof(a));
}

static uint64_t dropped(void)
{
    aiotp_sim_stats st;
    aiotp_sim_get_stats(N, &st);
    return st.dgrams_dropped;
}

/* One datagram per receive, whatever the buffer: a short buffer truncates and the rest
   is lost (MSG_TRUNC: the real length; MSG_PEEK: left queued); zero-length datagrams
   are datagrams, and a zero-length receive consumes one; sendmsg/writev gather into one
   datagram. */
TEST(dgram_message_boundaries)
{
    struct sockaddr_in a;
    struct iovec iov[3];
    struct msghdr m;
    aiotp_sim_stats st;
    char buf[16];
    int x;
    int y;

    net_open();
    x = dg_bound(AF_INET, "127.0.0.1", 0);
    y = SYS(socket, AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    a = in4("127.0.0.1", port_of(x));
    CHECK_INT(SYS(recv, x, buf, sizeof(buf), 0), -EAGAIN);
    CHECK_INT(to4(y, "abc", 3, port_of(x)), 3);
    CHECK_INT(to4(y, "", 0, port_of(x)), 0);
    CHECK_INT(to4(y, "defgh", 5, port_of(x)), 5);
    CHECK_INT(aiotp_sim_dgram_count(N, x), 3);
    CHECK_INT(aiotp_sim_readable(N, x), 8);
    CHECK_INT(aiotp_sim_queued(N, y), 0);
    CHECK_STR(rx_str(x, 16), "'abc' from 127.0.0.1:32769"); /* one datagram, not 8 bytes */
    CHECK_STR(rx_str(x, 16), "'' from 127.0.0.1:32769");
    CHECK_INT(SYS(recv, x, buf, 2, MSG_PEEK), 2);
    CHECK_INT(aiotp_sim_dgram_count(N, x), 1);
    CHECK_INT(SYS(recv, x, buf, 2, MSG_TRUNC), 5);
    CHECK(memcmp(buf, "de", 2) == 0);
    CHECK_INT(SYS(recv, x, buf, sizeof(buf), 0), -EAGAIN); /* "fgh" is gone */
    CHECK_INT(aiotp_sim_readable(N, x), 0);
    CHECK_INT(to4(y, "q", 1, port_of(x)), 1);
    CHECK_INT(to4(y, "r", 1, port_of(x)), 1);
    CHECK_INT(SYS(recv, x, buf, 0, 0), 0); /* consumes "q" */
    CHECK_INT(SYS(read, x, buf, sizeof(buf)), 1);
    CHECK_INT(buf[0], 'r');
    iov[0].iov_base = (void *)"ab";
    iov[0].iov_len = 2;
    iov[1].iov_base = NULL;
    iov[1].iov_len = 0;
    iov[2].iov_base = (void *)"cd";
    iov[2].iov_len = 2;
    memset(&m, 0, sizeof(m));
    m.msg_name = &a;
    m.msg_namelen = sizeof(a);
    m.msg_iov = iov;
    m.msg_iovlen = 3;
    CHECK_INT(SYS(sendmsg, y, &m, 0), 4);
    CHECK_STR(rx_str(x, 16), "'abcd' from 127.0.0.1:32769");
    CHECK_INT(SYS(connect, y, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(writev, y, iov, 3), 4);
    CHECK_INT(SYS(write, y, "w", 1), 1);
    CHECK_INT(SYS(send, y, "s", 1, 0), 1);
    CHECK_INT(aiotp_sim_write(N, y, "p", 1), 1);
    CHECK_STR(rx_str(x, 16), "'abcd' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 16), "'w' from 127.0.0.1:32769");
    CHECK_INT(SYS(recv, x, buf, sizeof(buf), 0), 1);
    CHECK_INT(aiotp_sim_read(N, x, buf, sizeof(buf)), 1);
    CHECK_INT(buf[0], 'p');
    aiotp_sim_get_stats(N, &st);
    CHECK_INT(st.dgrams_sent, 10);
    CHECK_INT(st.bytes_moved, 3 + 0 + 5 + 1 + 1 + 4 + 4 + 1 + 1 + 1);
    CHECK_INT(st.dgrams_dropped, 0);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, y), 0);
    net_close();
}

/* socket/bind/getsockname/getpeername: the datagram port space is separate from the
   stream one; ports are ephemeral from 32768 in order (one counter); an unbound sender
   gets the wildcard and an ephemeral port at its first send, and its datagrams come from
   the host's first address; bind rules and SO_REUSEADDR / SO_REUSEPORT as for streams;
   stream-only calls and options are refused; bad addresses and buffers. */
TEST(dgram_addresses_and_ports)
{
    struct sockaddr_in a;
    struct sockaddr_in6 a6;
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    char buf[8];
    int l;
    int x;
    int y;
    int z;
    int w;
    int v6;

    net_open();
    CHECK_INT(SYS(socket, AF_UNIX, SOCK_DGRAM, IPPROTO_UDP), -EPROTONOSUPPORT);
    CHECK_INT(SYS(socket, AF_INET6, SOCK_DGRAM, IPPROTO_TCP), -EPROTONOSUPPORT);
    x = SYS(socket, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK_INT(x, 3);
    CHECK_STR(name_of(x, false), "0.0.0.0:0");
    CHECK_STR(name_of(x, true), "ENOTCONN");
    CHECK_INT(so_int(x, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
    CHECK_INT(so_int(x, SOL_SOCKET, SO_ACCEPTCONN), 0);
    CHECK_INT(so_int(x, SOL_SOCKET, SO_ERROR), 0);
    CHECK_INT(so_int(x, IPPROTO_TCP, TCP_NODELAY), -ENOPROTOOPT);
    CHECK_INT(SYS(setsockopt, x, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), -ENOPROTOOPT);
    CHECK_INT(SYS(listen, x, 1), -EOPNOTSUPP);
    CHECK_INT(SYS(accept, x, NULL, NULL), -EOPNOTSUPP);
    CHECK_INT(SYS(set_nonblock, x), 0);

    /* a TCP listener on 32768 does not take the UDP port */
    l = listener(AF_INET, "127.0.0.1", 0, 1);
    CHECK_STR(name_of(l, false), "127.0.0.1:32768");
    a = in4("127.0.0.1", 32768);
    CHECK_INT(SYS(bind, x, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(bind, x, SA(a), sizeof(a)), -EINVAL);
    y = dg_bound(AF_INET, "127.0.0.1", 0);
    CHECK_STR(name_of(y, false), "127.0.0.1:32769");
    /* an unbound sender: wildcard + ephemeral port, its datagrams from 127.0.0.1 */
    z = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(to4(z, "z", 1, 32768), 1);
    CHECK_STR(name_of(z, false), "0.0.0.0:32770");
    CHECK_STR(rx_str(x, 8), "'z' from 127.0.0.1:32770");
    /* a short address buffer: cut, the full length reported */
    CHECK_INT(to4(z, "z", 1, 32768), 1);
    len = 2;
    memset(&ss, 0, sizeof(ss));
    CHECK_INT(SYS(recvfrom, x, buf, sizeof(buf), 0, SA(ss), &len), 1);
    CHECK_INT(len, sizeof(struct sockaddr_in));
    CHECK_INT(ss.ss_family, AF_INET);
    CHECK_INT(((struct sockaddr_in *)(void *)&ss)->sin_port, 0); /* beyond the 2 bytes */
    CHECK_INT(SYS(recvfrom, x, buf, sizeof(buf), 0, SA(ss), NULL), -EFAULT);
    CHECK_INT(SYS(recvfrom, x, NULL, 1, 0, NULL, NULL), -EFAULT);
    CHECK_INT(SYS(recvfrom, x, NULL, 0, 0, NULL, NULL), -EAGAIN);

    /* bind conflicts among datagram sockets */
    w = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(SYS(bind, w, SA(a), sizeof(a)), -EADDRINUSE);
    a = in4("0.0.0.0", 32768);
    CHECK_INT(SYS(bind, w, SA(a), sizeof(a)), -EADDRINUSE);
    CHECK_INT(SYS(setsockopt, w, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    CHECK_INT(SYS(bind, w, SA(a), sizeof(a)), -EADDRINUSE); /* x did not say so */
    CHECK_INT(SYS(setsockopt, x, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    CHECK_INT(SYS(bind, w, SA(a), sizeof(a)), 0);
    CHECK_STR(name_of(w, false), "0.0.0.0:32768");
    a = in4("10.0.0.1", 0);
    CHECK_INT(SYS(bind, z, SA(a), sizeof(a)), -EINVAL); /* autobound already */
    CHECK_INT(SYS(close, z), 0);
    z = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(SYS(bind, z, SA(a), sizeof(a)), -EADDRNOTAVAIL);

    /* destinations */
    a6 = in6("::1", 32768);
    CHECK_INT(SYS(sendto, z, "x", 1, 0, SA(a6), sizeof(a6)), -EAFNOSUPPORT);
    a = in4("127.0.0.1", 32768);
    CHECK_INT(SYS(sendto, z, "x", 1, 0, SA(a), 8), -EINVAL);
    CHECK_INT(SYS(sendto, z, "x", 1, 0, NULL, 0), -EDESTADDRREQ);
    CHECK_INT(SYS(send, z, "x", 1, 0), -EDESTADDRREQ);
    CHECK_INT(to4(z, "x", 1, 0), -EINVAL); /* port 0 */
    a = in4("10.0.0.1", 9);
    CHECK_INT(SYS(sendto, z, "x", 1, 0, SA(a), sizeof(a)), -ENETUNREACH);
    /* broadcast needs SO_BROADCAST; there is no broadcast network */
    CHECK_INT(so_int(z, SOL_SOCKET, SO_BROADCAST), 0);
    a = in4("255.255.255.255", 9);
    CHECK_INT(SYS(sendto, z, "x", 1, 0, SA(a), sizeof(a)), -EACCES);
    CHECK_INT(SYS(setsockopt, z, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)), 0);
    CHECK_INT(so_int(z, SOL_SOCKET, SO_BROADCAST), 1);
    CHECK_INT(SYS(sendto, z, "x", 1, 0, SA(a), sizeof(a)), -ENETUNREACH);
    CHECK_INT(SYS(setsockopt, z, SOL_SOCKET, SO_BROADCAST, &one, 1), -EINVAL);
    CHECK_STR(name_of(z, false), "0.0.0.0:0"); /* nothing sent: still unbound */

    /* IPv6: its own port space, datagrams from ::1 */
    v6 = dg_bound(AF_INET6, "::1", 32768);
    CHECK_STR(name_of(v6, false), "[::1]:32768");
    CHECK_INT(SYS(close, z), 0);
    z = SYS(socket, AF_INET6, SOCK_DGRAM, 0);
    a6 = in6("::", 32768);
    CHECK_INT(SYS(sendto, z, "6", 1, 0, SA(a6), sizeof(a6)), 1); /* :: means this host */
    CHECK_STR(name_of(z, false), "[::]:32771");
    CHECK_STR(rx_str(v6, 8), "'6' from [::1]:32771");

    CHECK_INT(SYS(close, v6), 0);
    CHECK_INT(SYS(close, w), 0);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, y), 0);
    CHECK_INT(SYS(close, z), 0);
    CHECK_INT(SYS(close, l), 0);
    net_close();
}

/* connect: the default destination and a filter (a connected UDP socket takes datagrams
   from its peer only; among the sockets bound to a port the most specific takes a
   datagram: connected, then an exact address, then the lowest fd); the local address
   becomes the route's source; AF_UNSPEC dissolves the association (an ephemeral port goes
   back, a bound address and port stay). */
TEST(dgram_connect_filter)
{
    int one = 1;
    char buf[8];
    int a;
    int b;
    int c;
    int p1;
    int p2;
    int q1;
    int q2;
    int u;
    unsigned pa;
    unsigned pb;
    unsigned pc;

    net_open();
    a = dg_bound(AF_INET, "127.0.0.1", 0);
    b = dg_bound(AF_INET, "127.0.0.1", 0);
    c = dg_bound(AF_INET, "127.0.0.1", 0);
    pa = port_of(a);
    pb = port_of(b);
    pc = port_of(c);
    CHECK_INT(connect4(a, "127.0.0.1", pb), 0);
    CHECK_STR(name_of(a, true), "127.0.0.1:32769");
    CHECK_INT(to4(c, "no", 2, pa), 2); /* filtered: nobody else takes it, lost */
    CHECK_INT(dropped(), 1);
    CHECK_INT(to4(b, "yes", 3, pa), 3);
    CHECK_STR(rx_str(a, 8), "'yes' from 127.0.0.1:32769");
    CHECK_INT(SYS(recv, a, buf, sizeof(buf), 0), -EAGAIN);
    CHECK_INT(SYS(send, a, "to-b", 4, 0), 4);
    CHECK_STR(rx_str(b, 8), "'to-b' from 127.0.0.1:32768");
    CHECK_INT(to4(a, "c", 1, pc), 1); /* a connected socket may still send elsewhere */
    CHECK_STR(rx_str(c, 8), "'c' from 127.0.0.1:32768");
    CHECK_INT(connect4(a, "127.0.0.1", pc), 0); /* a new peer */
    CHECK_INT(to4(c, "now", 3, pa), 3);
    CHECK_STR(rx_str(a, 8), "'now' from 127.0.0.1:32770");

    /* two sockets on one port: the connected one takes its peer's datagrams */
    p1 = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    p2 = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(SYS(setsockopt, p1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    CHECK_INT(SYS(setsockopt, p2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    {
        struct sockaddr_in sa = in4("127.0.0.1", 5000);
        CHECK_INT(SYS(bind, p1, SA(sa), sizeof(sa)), 0);
        CHECK_INT(SYS(bind, p2, SA(sa), sizeof(sa)), 0);
    }
    CHECK_INT(connect4(p2, "127.0.0.1", pb), 0);
    CHECK_INT(to4(b, "B", 1, 5000), 1);
    CHECK_INT(to4(c, "C", 1, 5000), 1);
    CHECK_STR(rx_str(p2, 8), "'B' from 127.0.0.1:32769");
    CHECK_STR(rx_str(p1, 8), "'C' from 127.0.0.1:32770");
    /* an exact address beats the wildcard, whatever the fd order */
    q1 = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    q2 = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(SYS(setsockopt, q1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    CHECK_INT(SYS(setsockopt, q2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    {
        struct sockaddr_in sa = in4("0.0.0.0", 6000);
        CHECK_INT(SYS(bind, q1, SA(sa), sizeof(sa)), 0);
        sa = in4("127.0.0.1", 6000);
        CHECK_INT(SYS(bind, q2, SA(sa), sizeof(sa)), 0);
        sa = in4("127.0.0.2", 6000);
        CHECK_INT(SYS(sendto, b, "2", 1, 0, SA(sa), sizeof(sa)), 1);
    }
    CHECK_INT(to4(b, "1", 1, 6000), 1);
    CHECK_STR(rx_str(q2, 8), "'1' from 127.0.0.1:32769");
    CHECK_STR(rx_str(q1, 8), "'2' from 127.0.0.1:32769");

    /* an unbound socket: connect binds it to the route's source and an ephemeral port;
       AF_UNSPEC gives the port back */
    u = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(connect4(u, "0.0.0.0", pb), 0);
    CHECK_STR(name_of(u, true), "127.0.0.1:32769");
    CHECK_STR(name_of(u, false), "127.0.0.1:32771");
    CHECK_INT(connect4(u, "127.0.0.5", pb), 0);
    CHECK_STR(name_of(u, true), "127.0.0.5:32769");
    CHECK_INT(disconnect(u), 0);
    CHECK_STR(name_of(u, false), "0.0.0.0:0");
    CHECK_STR(name_of(u, true), "ENOTCONN");
    CHECK_INT(SYS(send, u, "x", 1, 0), -EDESTADDRREQ);
    CHECK_INT(disconnect(u), 0);
    /* a bound address stays, an ephemeral port goes back (bind gave port 0), as Linux;
       the next send takes a new one */
    CHECK_INT(disconnect(a), 0);
    CHECK_STR(name_of(a, false), "127.0.0.1:0");
    CHECK_INT(to4(a, "n", 1, pc), 1);
    CHECK_STR(rx_str(c, 8), "'n' from 127.0.0.1:32772");
    /* a bound port stays; a wildcard bind gets the source address while connected */
    CHECK_INT(SYS(close, u), 0);
    u = dg_bound(AF_INET, "0.0.0.0", 7000);
    CHECK_INT(connect4(u, "127.0.0.1", pb), 0);
    CHECK_STR(name_of(u, false), "127.0.0.1:7000");
    CHECK_INT(disconnect(u), 0);
    CHECK_STR(name_of(u, false), "0.0.0.0:7000");
    /* connect errors */
    CHECK_INT(connect4(u, "10.0.0.1", 9), -ENETUNREACH);
    CHECK_INT(connect4(u, "255.255.255.255", 9), -EACCES);
    {
        struct sockaddr_in6 sa6 = in6("::1", 9);
        CHECK_INT(SYS(connect, u, SA(sa6), sizeof(sa6)), -EAFNOSUPPORT);
    }
    CHECK_INT(SYS(connect, u, NULL, 0), -EFAULT);
    CHECK_STR(name_of(u, true), "ENOTCONN");

    CHECK_INT(SYS(close, a), 0);
    CHECK_INT(SYS(close, b), 0);
    CHECK_INT(SYS(close, c), 0);
    CHECK_INT(SYS(close, p1), 0);
    CHECK_INT(SYS(close, p2), 0);
    CHECK_INT(SYS(close, q1), 0);
    CHECK_INT(SYS(close, q2), 0);
    CHECK_INT(SYS(close, u), 0);
    net_close();
}

/* ICMP: a datagram that no socket takes is lost; a sender connected to that address
   gets ECONNREFUSED once, on its next receive or send (or SO_ERROR), before anything
   queued, and is readable meanwhile (POLLERR); an unconnected sender, or one that sent
   elsewhere than to its peer, gets nothing. */
TEST(dgram_icmp_refused)
{
    struct pollfd pfd;
    char buf[8];
    unsigned dead;
    unsigned other;
    int d;
    int e;
    int f;
    int live;

    net_open();
    d = dg_bound(AF_INET, "127.0.0.1", 0);
    dead = port_of(d);
    CHECK_INT(SYS(close, d), 0);
    d = dg_bound(AF_INET, "127.0.0.1", 0);
    other = port_of(d);
    CHECK_INT(SYS(close, d), 0);
    e = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(connect4(e, "127.0.0.1", dead), 0);
    CHECK_INT(aiotp_sim_ready(N, e), AIOTP_EV_WRITE);
    CHECK_INT(SYS(send, e, "x", 1, 0), 1);
    CHECK_INT(dropped(), 1);
    CHECK_INT(aiotp_sim_ready(N, e), AIOTP_EV_READ | AIOTP_EV_WRITE);
    pfd.fd = e;
    pfd.events = POLLIN;
    CHECK_INT(SYS(poll, &pfd, 1, 0), 1);
    CHECK_INT(pfd.revents, POLLERR);
    CHECK_INT(SYS(recv, e, buf, sizeof(buf), 0), -ECONNREFUSED);
    CHECK_INT(SYS(recv, e, buf, sizeof(buf), 0), -EAGAIN);
    CHECK_INT(aiotp_sim_ready(N, e), AIOTP_EV_WRITE);
    CHECK_INT(SYS(send, e, "x", 1, 0), 1);
    CHECK_INT(SYS(send, e, "y", 1, 0), -ECONNREFUSED); /* reported by the send */
    CHECK_INT(SYS(send, e, "z", 1, 0), 1);
    CHECK_INT(so_int(e, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
    CHECK_INT(so_int(e, SOL_SOCKET, SO_ERROR), 0);
    /* sent elsewhere than to its peer: no error */
    CHECK_INT(to4(e, "o", 1, other), 1);
    CHECK_INT(so_int(e, SOL_SOCKET, SO_ERROR), 0);
    /* the error comes before what is queued */
    CHECK_INT(SYS(send, e, "x", 1, 0), 1);
    live = dg_bound(AF_INET, "127.0.0.1", dead);
    CHECK_INT(to4(live, "data", 4, port_of(e)), 4);
    CHECK_INT(SYS(recv, e, buf, sizeof(buf), 0), -ECONNREFUSED);
    CHECK_INT(SYS(recv, e, buf, sizeof(buf), 0), 4);
    CHECK_INT(SYS(send, e, "x", 1, 0), 1); /* now someone takes it */
    CHECK_STR(rx_str(live, 8), "'x' from 127.0.0.1:32770");
    /* the peer's socket is connected elsewhere: it does not take e's datagram */
    CHECK_INT(connect4(live, "127.0.0.1", other), 0);
    CHECK_INT(SYS(send, e, "x", 1, 0), 1);
    CHECK_INT(SYS(recv, e, buf, sizeof(buf), 0), -ECONNREFUSED);
    /* an unconnected sender learns nothing */
    f = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(to4(f, "x", 1, other), 1);
    CHECK_INT(SYS(recv, f, buf, sizeof(buf), 0), -EAGAIN);
    CHECK_INT(so_int(f, SOL_SOCKET, SO_ERROR), 0);
    CHECK_INT(aiotp_sim_ready(N, f), AIOTP_EV_WRITE);
    CHECK_INT(SYS(close, e), 0);
    CHECK_INT(SYS(close, f), 0);
    CHECK_INT(SYS(close, live), 0);
    net_close();
}

/* Unix datagram sockets: bound paths and unnamed senders (no address: length 0); a
   connected socket takes datagrams from its peer only (others: EPERM); errors at the
   send: ENOENT (no path), ECONNREFUSED (stale path, dead peer: the first send says so and
   dissolves the connection), EPROTOTYPE (a stream socket); re-connecting drops what the
   old peer sent and resets it; shutdown; the socketpair. */
TEST(dgram_unix)
{
    struct sockaddr_un u;
    socklen_t ul;
    char buf[8];
    int x;
    int y;
    int z;
    int w;
    int s;
    int t;
    int sv[2];

    net_open();
    x = dg_bound(AF_UNIX, "/sim/x", 0);
    y = dg_bound(AF_UNIX, "/sim/y", 0);
    z = SYS(socket, AF_UNIX, SOCK_DGRAM, 0);
    CHECK_STR(name_of(x, false), "unix:/sim/x");
    CHECK_STR(name_of(z, false), "unix:");
    CHECK_STR(name_of(z, true), "ENOTCONN");
    CHECK_INT(to_path(z, "hi", 2, "/sim/x"), 2);
    CHECK_STR(rx_str(x, 8), "'hi' from none");
    CHECK_INT(to_path(y, "yo", 2, "/sim/x"), 2);
    CHECK_STR(rx_str(x, 8), "'yo' from unix:/sim/y");
    CHECK_INT(SYS(send, z, "x", 1, 0), -ENOTCONN);
    CHECK_INT(SYS(connect, z, NULL, 0), -EFAULT);
    CHECK_INT(to_path(z, "x", 1, "/sim/none"), -ENOENT);
    CHECK_INT(connect_path(z, "/sim/none"), -ENOENT);
    /* x takes datagrams from y only */
    CHECK_INT(connect_path(x, "/sim/y"), 0);
    CHECK_STR(name_of(x, true), "unix:/sim/y");
    CHECK_INT(to_path(z, "x", 1, "/sim/x"), -EPERM);
    CHECK_INT(connect_path(z, "/sim/x"), -EPERM);
    CHECK_INT(to_path(y, "ok", 2, "/sim/x"), 2);
    CHECK_INT(connect_path(y, "/sim/x"), 0);
    CHECK_INT(SYS(send, y, "ok2", 3, 0), 3);
    CHECK_INT(to_path(y, "me", 2, "/sim/y"), -EPERM); /* y takes from x only now */
    CHECK_INT(SYS(send, x, "back", 4, 0), 4);
    CHECK_STR(rx_str(y, 8), "'back' from unix:/sim/x");
    /* a stream socket at the path */
    s = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    ul = un_addr(&u, "/sim/s");
    CHECK_INT(SYS(bind, s, SA(u), ul), 0);
    CHECK_INT(SYS(listen, s, 1), 0);
    CHECK_INT(to_path(z, "x", 1, "/sim/s"), -EPROTOTYPE);
    CHECK_INT(connect_path(z, "/sim/s"), -EPROTOTYPE);
    t = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(connect_path(t, "/sim/x"), -EPROTOTYPE);
    CHECK_INT(SYS(close, t), 0);
    CHECK_INT(SYS(close, s), 0);
    /* x connects elsewhere: what y sent and x did not read is dropped, y is reset */
    w = dg_bound(AF_UNIX, "/sim/w", 0);
    CHECK_INT(aiotp_sim_dgram_count(N, x), 2);
    CHECK_INT(connect_path(x, "/sim/y"), 0); /* the same peer: nothing happens */
    CHECK_INT(aiotp_sim_dgram_count(N, x), 2);
    CHECK_INT(connect_path(x, "/sim/w"), 0);
    CHECK_INT(aiotp_sim_dgram_count(N, x), 0);
    CHECK_INT(aiotp_sim_ready(N, y), AIOTP_EV_READ | AIOTP_EV_WRITE);
    CHECK_INT(SYS(recv, y, buf, sizeof(buf), 0), -ECONNRESET);
    CHECK_INT(disconnect(x), 0);
    CHECK_INT(disconnect(x), 0);
    CHECK_STR(name_of(x, true), "ENOTCONN");
    /* with nothing queued a re-connect resets nobody */
    CHECK_INT(connect_path(x, "/sim/y"), 0);
    CHECK_INT(connect_path(x, "/sim/w"), 0);
    CHECK_INT(so_int(y, SOL_SOCKET, SO_ERROR), 0);
    CHECK_INT(SYS(close, w), 0);
    /* y's peer x closes: nothing at first, then the first send says so */
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(aiotp_sim_ready(N, y), AIOTP_EV_WRITE);
    CHECK_INT(SYS(recv, y, buf, sizeof(buf), 0), -EAGAIN);
    CHECK_STR(name_of(y, true), "unix:/sim/x");
    CHECK_INT(SYS(send, y, "x", 1, 0), -ECONNREFUSED);
    CHECK_INT(SYS(send, y, "x", 1, 0), -ENOTCONN);
    CHECK_STR(name_of(y, true), "ENOTCONN");
    CHECK_INT(to_path(y, "x", 1, "/sim/x"), -ECONNREFUSED); /* a stale path */
    CHECK_INT(connect_path(y, "/sim/x"), -ECONNREFUSED);
    x = SYS(socket, AF_UNIX, SOCK_DGRAM, 0);
    ul = un_addr(&u, "/sim/x");
    CHECK_INT(SYS(bind, x, SA(u), ul), -EADDRINUSE);
    CHECK_INT(SYS(unlink_socket, "/sim/x"), 1);
    CHECK_INT(SYS(bind, x, SA(u), ul), 0);
    CHECK_INT(to_path(y, "new", 3, "/sim/x"), 3);
    CHECK_STR(rx_str(x, 8), "'new' from unix:/sim/y");
    /* shutdown: a reader that shut its side says EPIPE to senders and reads EOF */
    CHECK_INT(SYS(shutdown, x, 7), -EINVAL);
    CHECK_INT(SYS(shutdown, x, SHUT_RD), 0);
    CHECK_INT(aiotp_sim_ready(N, x), AIOTP_EV_READ | AIOTP_EV_WRITE);
    CHECK_INT(SYS(recv, x, buf, sizeof(buf), 0), 0);
    CHECK_INT(to_path(y, "x", 1, "/sim/x"), -EPIPE);
    CHECK_INT(SYS(shutdown, z, SHUT_WR), 0); /* unconnected: fine for Unix */
    CHECK_INT(to_path(z, "x", 1, "/sim/y"), -EPIPE);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, y), 0);
    CHECK_INT(SYS(close, z), 0);

    /* the socketpair: unnamed both ways */
    CHECK_INT(aiotp_sim_socketpair_dgram(N, NULL, &sv[1]), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_socketpair_dgram(N, &sv[0], NULL), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_socketpair_dgram(NULL, &sv[0], &sv[1]), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_socketpair_dgram(N, &sv[0], &sv[1]), 0);
    CHECK_STR(name_of(sv[0], false), "unix:");
    CHECK_STR(name_of(sv[0], true), "unix:");
    CHECK_INT(so_int(sv[0], SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
    CHECK_INT(so_int(sv[0], IPPROTO_TCP, TCP_NODELAY), -EOPNOTSUPP);
    CHECK_INT(SYS(send, sv[0], "p", 1, 0), 1);
    CHECK_INT(SYS(send, sv[0], "", 0, 0), 0);
    CHECK_STR(rx_str(sv[1], 8), "'p' from none");
    CHECK_STR(rx_str(sv[1], 8), "'' from none");
    CHECK_INT(SYS(close, sv[1]), 0);
    CHECK_INT(aiotp_sim_ready(N, sv[0]), AIOTP_EV_WRITE);
    CHECK_INT(SYS(send, sv[0], "x", 1, 0), -ECONNREFUSED);
    CHECK_INT(SYS(send, sv[0], "x", 1, 0), -ENOTCONN);
    CHECK_INT(SYS(close, sv[0]), 0);
    CHECK_INT(SYS(unlink_socket, "/sim/x"), 1);
    CHECK_INT(SYS(unlink_socket, "/sim/y"), 1);
    CHECK_INT(SYS(unlink_socket, "/sim/w"), 1);
    CHECK_INT(SYS(unlink_socket, "/sim/s"), 1);
    net_close();
}

/* Sizes and queues: EMSGSIZE above 65507 (UDP/IPv4), 65527 (UDP/IPv6), 212960 (Unix);
   a full UDP receive queue loses what arrives, a full Unix one makes the sender wait
   (EAGAIN, and a connected sender is not writable); a Unix socket takes 11 datagrams
   from senders it is not connected to, 256 by default from its peer. */
TEST(dgram_limits_and_queues)
{
    struct iovec iov[2];
    struct msghdr m;
    struct sockaddr_in a;
    int x;
    int y;
    int x6;
    int y6;
    int ux;
    int uz;
    int uw;
    int sv[2];
    int i;

    net_open();
    x = dg_bound(AF_INET, "127.0.0.1", 0);
    y = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(to4(y, big, AIOTP_SIM_UDP4_MAX + 1, port_of(x)), -EMSGSIZE);
    CHECK_INT(to4(y, big, AIOTP_SIM_UDP4_MAX, port_of(x)), (long)AIOTP_SIM_UDP4_MAX);
    CHECK_INT(SYS(recv, x, big_rx, sizeof(big_rx), 0), (long)AIOTP_SIM_UDP4_MAX);
    x6 = dg_bound(AF_INET6, "::1", 0);
    y6 = SYS(socket, AF_INET6, SOCK_DGRAM, 0);
    {
        struct sockaddr_in6 a6 = in6("::1", port_of(x6));
        CHECK_INT(SYS(sendto, y6, big, AIOTP_SIM_UDP6_MAX + 1, 0, SA(a6), sizeof(a6)),
                  -EMSGSIZE);
        CHECK_INT(SYS(sendto, y6, big, AIOTP_SIM_UDP6_MAX, 0, SA(a6), sizeof(a6)),
                  (long)AIOTP_SIM_UDP6_MAX);
    }
    CHECK_INT(SYS(recv, x6, big_rx, sizeof(big_rx), 0), (long)AIOTP_SIM_UDP6_MAX);
    ux = dg_bound(AF_UNIX, "/sim/ux", 0);
    uz = SYS(socket, AF_UNIX, SOCK_DGRAM, 0);
    CHECK_INT(to_path(uz, big, AIOTP_SIM_UNIX_DGRAM_MAX + 1, "/sim/ux"), -EMSGSIZE);
    CHECK_INT(to_path(uz, big, AIOTP_SIM_UNIX_DGRAM_MAX, "/sim/ux"),
              (long)AIOTP_SIM_UNIX_DGRAM_MAX);
    CHECK_INT(SYS(recv, ux, big_rx, sizeof(big_rx), 0), (long)AIOTP_SIM_UNIX_DGRAM_MAX);
    /* gathered parts count together; a part with no memory behind it */
    a = in4("127.0.0.1", port_of(x));
    iov[0].iov_base = big;
    iov[0].iov_len = AIOTP_SIM_UDP4_MAX;
    iov[1].iov_base = big;
    iov[1].iov_len = 1;
    memset(&m, 0, sizeof(m));
    m.msg_name = &a;
    m.msg_namelen = sizeof(a);
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    CHECK_INT(SYS(sendmsg, y, &m, 0), -EMSGSIZE);
    iov[0].iov_len = (size_t)-1;
    CHECK_INT(SYS(sendmsg, y, &m, 0), -EMSGSIZE);
    iov[0].iov_base = NULL;
    iov[0].iov_len = 1;
    CHECK_INT(SYS(sendmsg, y, &m, 0), -EFAULT);
    CHECK_INT(SYS(sendmsg, y, NULL, 0), -EFAULT);

    /* UDP: the default queue takes 256 datagrams, then loses what arrives */
    for (i = 0; i < 257; i++) {
        CHECK_INT(to4(y, "", 0, port_of(x)), 0);
    }
    CHECK_INT(aiotp_sim_dgram_count(N, x), (long)AIOTP_SIM_DGRAM_QUEUE);
    CHECK_INT(dropped(), 1);
    CHECK_INT(aiotp_sim_dgram_set_queue(N, x, 2), 0); /* what is queued stays */
    CHECK_INT(to4(y, "", 0, port_of(x)), 0);
    CHECK_INT(aiotp_sim_dgram_count(N, x), 256);
    CHECK_INT(dropped(), 2);
    CHECK_INT(SYS(close, x), 0);
    x = dg_bound(AF_INET, "127.0.0.1", 0);
    CHECK_INT(aiotp_sim_dgram_set_queue(N, x, 2), 0);
    CHECK_INT(to4(y, "1", 1, port_of(x)), 1);
    CHECK_INT(to4(y, "2", 1, port_of(x)), 1);
    CHECK_INT(to4(y, "3", 1, port_of(x)), 1);
    CHECK_INT(dropped(), 3);
    CHECK_STR(rx_str(x, 8), "'1' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "'2' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "EAGAIN");
    CHECK_INT(aiotp_sim_dgram_set_queue(N, x, 0), 0);
    CHECK_INT(to4(y, "4", 1, port_of(x)), 1);
    CHECK_STR(rx_str(x, 8), "EAGAIN");

    /* Unix: 11 from a sender that is not the receiver's peer, then EAGAIN */
    for (i = 0; i < 11; i++) {
        CHECK_INT(to_path(uz, "m", 1, "/sim/ux"), 1);
    }
    CHECK_INT(to_path(uz, "m", 1, "/sim/ux"), -EAGAIN);
    CHECK_INT(aiotp_sim_ready(N, uz), AIOTP_EV_WRITE); /* unconnected: writable */
    uw = SYS(socket, AF_UNIX, SOCK_DGRAM, 0);
    CHECK_INT(connect_path(uw, "/sim/ux"), 0);
    CHECK_INT(aiotp_sim_ready(N, uw), 0); /* waits for room */
    CHECK_INT(SYS(send, uw, "w", 1, 0), -EAGAIN);
    CHECK_INT(SYS(recv, ux, big_rx, 8, 0), 1);
    CHECK_INT(aiotp_sim_ready(N, uw), AIOTP_EV_WRITE);
    CHECK_INT(SYS(send, uw, "w", 1, 0), 1);
    CHECK_INT(aiotp_sim_ready(N, uw), 0);
    /* its own peer: up to the queue's capacity */
    CHECK_INT(connect_path(ux, "/sim/ux"), 0); /* ux talks to itself: it is its peer */
    CHECK_INT(SYS(send, ux, "s", 1, 0), 1);
    CHECK_INT(aiotp_sim_dgram_count(N, ux), 12);
    CHECK_INT(aiotp_sim_dgram_set_queue(N, ux, 12), 0);
    CHECK_INT(SYS(send, ux, "s", 1, 0), -EAGAIN);
    CHECK_INT(aiotp_sim_ready(N, ux), AIOTP_EV_READ);
    CHECK_INT(aiotp_sim_socketpair_dgram(N, &sv[0], &sv[1]), 0);
    for (i = 0; i < (int)AIOTP_SIM_DGRAM_QUEUE; i++) {
        CHECK_INT(SYS(send, sv[0], "p", 1, 0), 1);
    }
    CHECK_INT(SYS(send, sv[0], "p", 1, 0), -EAGAIN);
    CHECK_INT(aiotp_sim_ready(N, sv[0]), 0);
    CHECK_INT(aiotp_sim_ready(N, sv[1]), AIOTP_EV_READ | AIOTP_EV_WRITE);

    CHECK_INT(SYS(close, sv[0]), 0);
    CHECK_INT(SYS(close, sv[1]), 0);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, y), 0);
    CHECK_INT(SYS(close, x6), 0);
    CHECK_INT(SYS(close, y6), 0);
    CHECK_INT(SYS(close, ux), 0);
    CHECK_INT(SYS(close, uz), 0);
    CHECK_INT(SYS(close, uw), 0);
    net_close();
}

/* Readiness through a loop on the sim backend, and through the poll backend over the
   sim's poll entry: a reader runs when a datagram or an error is pending, a writer
   unless the socket is stalled. */
typedef struct dg_ready {
    int reads;
    int writes;
} dg_ready;

static void dg_on_read(aiotp_loop *loop, int fd, void *arg)
{
    char b[8];
    (void)loop;
    ((dg_ready *)arg)->reads++;
    (void)SYS(recv, fd, b, sizeof(b), 0);
}

static void dg_on_write(aiotp_loop *loop, int fd, void *arg)
{
    (void)loop;
    (void)fd;
    ((dg_ready *)arg)->writes++;
}

static void dgram_readiness_on(const aiotp_backend *backend)
{
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    dg_ready r = {0, 0};
    struct pollfd pfd[2];
    int x;
    int y;

    net_open();
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.backend = backend;
    o.syscalls = S;
    o.allocator = &counting;
    CHECK_ERR(aiotp_loop_create(&loop, &o), 0);
    x = dg_bound(AF_INET, "127.0.0.1", 0);
    y = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(aiotp_loop_add_reader(loop, x, dg_on_read, &r), 0);
    CHECK_INT(aiotp_loop_add_writer(loop, y, dg_on_write, &r), 0);
    CHECK_INT(aiotp_loop_run_once(loop), 0);
    CHECK_INT(r.reads, 0);
    CHECK_INT(r.writes, 1);
    CHECK_INT(aiotp_sim_dgram_stall(N, y, 1), 0);
    CHECK_INT(aiotp_sim_ready(N, y), 0);
    CHECK_INT(to4(y, "x", 1, port_of(x)), -EAGAIN);
    CHECK_INT(aiotp_loop_run_once(loop), 0);
    CHECK_INT(r.writes, 1);
    CHECK_INT(aiotp_sim_dgram_stall(N, y, 0), 0);
    CHECK_INT(to4(y, "x", 1, port_of(x)), 1);
    CHECK_INT(aiotp_loop_run_once(loop), 0);
    CHECK_INT(r.reads, 1);
    CHECK_INT(r.writes, 2);
    CHECK_INT(aiotp_loop_remove_writer(loop, y), 1);
    CHECK_INT(aiotp_sim_dgram_error(N, x, -EHOSTUNREACH), 0);
    CHECK_INT(aiotp_loop_run_once(loop), 0);
    CHECK_INT(r.reads, 2); /* the error woke the reader, its recv took it */
    CHECK_INT(so_int(x, SOL_SOCKET, SO_ERROR), 0);
    CHECK_INT(aiotp_loop_run_once(loop), 0);
    CHECK_INT(r.reads, 2);
    CHECK_INT(aiotp_loop_remove_reader(loop, x), 1);
    /* poll() of the sim: POLLERR whatever was asked, POLLIN/POLLOUT as asked */
    CHECK_INT(aiotp_sim_dgram_error(N, x, -EHOSTUNREACH), 0);
    CHECK_INT(to4(y, "x", 1, port_of(x)), 1);
    pfd[0].fd = x;
    pfd[0].events = 0;
    pfd[1].fd = y;
    pfd[1].events = POLLIN | POLLOUT;
    CHECK_INT(SYS(poll, pfd, 2, 0), 2);
    CHECK_INT(pfd[0].revents, POLLERR);
    CHECK_INT(pfd[1].revents, POLLOUT);
    pfd[0].events = POLLIN | POLLOUT;
    CHECK_INT(SYS(poll, pfd, 1, 0), 1);
    CHECK_INT(pfd[0].revents, POLLIN | POLLOUT | POLLERR);
    aiotp_loop_free(loop);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, y), 0);
    net_close();
}

TEST(dgram_readiness)
{
    dgram_readiness_on(aiotp_backend_sim());
    dgram_readiness_on(aiotp_backend_poll());
}

/* The datagram knobs (loss, duplication, reordering, a held datagram released early or
   lost at close, an asynchronous error, a stall) and the shared ones on a datagram
   socket (EAGAIN k times, EINTR once, injected receive/send/shutdown errors); knobs of
   the other kind refuse. */
TEST(dgram_knobs)
{
    char buf[8];
    int x;
    int y;
    int sv[2];
    unsigned px;

    net_open();
    x = dg_bound(AF_INET, "127.0.0.1", 0);
    y = dg_bound(AF_INET, "127.0.0.1", 0);
    px = port_of(x);
    /* loss */
    CHECK_INT(aiotp_sim_dgram_drop(N, x, 2), 0);
    CHECK_INT(to4(y, "1", 1, px), 1);
    CHECK_INT(to4(y, "2", 1, px), 1);
    CHECK_INT(to4(y, "3", 1, px), 1);
    CHECK_INT(dropped(), 2);
    CHECK_STR(rx_str(x, 8), "'3' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "EAGAIN");
    /* duplication */
    CHECK_INT(aiotp_sim_dgram_duplicate(N, x, 1), 0);
    CHECK_INT(to4(y, "a", 1, px), 1);
    CHECK_INT(to4(y, "b", 1, px), 1);
    CHECK_STR(rx_str(x, 8), "'a' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "'a' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "'b' from 127.0.0.1:32769");
    /* reordering: after the next one, after the next two */
    CHECK_INT(aiotp_sim_dgram_reorder(N, x, 0), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_dgram_reorder(N, x, 1), 0);
    CHECK_INT(to4(y, "1", 1, px), 1);
    CHECK_INT(aiotp_sim_dgram_count(N, x), 0); /* held */
    CHECK_INT(to4(y, "2", 1, px), 1);
    CHECK_INT(to4(y, "3", 1, px), 1);
    CHECK_STR(rx_str(x, 8), "'2' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "'1' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "'3' from 127.0.0.1:32769");
    CHECK_INT(aiotp_sim_dgram_reorder(N, x, 2), 0);
    CHECK_INT(to4(y, "1", 1, px), 1);
    CHECK_INT(to4(y, "2", 1, px), 1);
    CHECK_INT(aiotp_sim_dgram_reorder(N, x, 1), 0); /* held: now after one more */
    CHECK_INT(to4(y, "3", 1, px), 1);
    CHECK_INT(to4(y, "4", 1, px), 1);
    CHECK_STR(rx_str(x, 8), "'2' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "'3' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "'1' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "'4' from 127.0.0.1:32769");
    /* flush: released now; nothing held: 0 (and an armed reorder is disarmed) */
    CHECK_INT(aiotp_sim_dgram_reorder(N, x, 5), 0);
    CHECK_INT(to4(y, "h", 1, px), 1);
    CHECK_INT(aiotp_sim_dgram_flush(N, x), 1);
    CHECK_INT(aiotp_sim_dgram_flush(N, x), 0);
    CHECK_INT(aiotp_sim_dgram_reorder(N, x, 1), 0);
    CHECK_INT(aiotp_sim_dgram_flush(N, x), 0);
    CHECK_INT(to4(y, "n", 1, px), 1);
    CHECK_STR(rx_str(x, 8), "'h' from 127.0.0.1:32769");
    CHECK_STR(rx_str(x, 8), "'n' from 127.0.0.1:32769");
    /* a held datagram released into a full queue is lost */
    CHECK_INT(aiotp_sim_dgram_set_queue(N, x, 1), 0);
    CHECK_INT(aiotp_sim_dgram_reorder(N, x, 1), 0);
    CHECK_INT(to4(y, "A", 1, px), 1);
    CHECK_INT(to4(y, "B", 1, px), 1);
    CHECK_INT(dropped(), 3);
    CHECK_STR(rx_str(x, 8), "'B' from 127.0.0.1:32769");
    CHECK_INT(aiotp_sim_dgram_set_queue(N, x, AIOTP_SIM_DGRAM_QUEUE), 0);
    /* an asynchronous error, on an unconnected socket too */
    CHECK_INT(aiotp_sim_dgram_error(N, x, 5), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_dgram_error(N, x, -EHOSTUNREACH), 0);
    CHECK_INT(aiotp_sim_ready(N, x), AIOTP_EV_READ | AIOTP_EV_WRITE);
    CHECK_INT(to4(x, "e", 1, port_of(y)), -EHOSTUNREACH);
    CHECK_INT(SYS(recv, x, buf, sizeof(buf), 0), -EAGAIN);
    /* the shared knobs */
    CHECK_INT(aiotp_sim_send_eagain(N, y, 2), 0);
    CHECK_INT(to4(y, "1", 1, px), -EAGAIN);
    CHECK_INT(to4(y, "1", 1, px), -EAGAIN);
    CHECK_INT(aiotp_sim_dgram_stall(N, y, 1), 0);
    CHECK_INT(aiotp_sim_send_eagain(N, y, 1), 0);
    CHECK_INT(to4(y, "1", 1, px), -EAGAIN);
    CHECK_INT(aiotp_sim_dgram_stall(N, y, 0), 0);
    CHECK_INT(to4(y, "1", 1, px), -EAGAIN); /* the stall did not use the count */
    CHECK_INT(to4(y, "1", 1, px), 1);
    CHECK_INT(aiotp_sim_eintr_once(N, x), 0);
    CHECK_INT(SYS(recv, x, buf, sizeof(buf), 0), -EINTR);
    CHECK_INT(to4(x, "i", 1, port_of(y)), -EINTR);
    CHECK_INT(SYS(recv, x, buf, sizeof(buf), 0), 1);
    CHECK_INT(aiotp_sim_recv_fail(N, x, -EIO, 1), 0);
    CHECK_INT(aiotp_sim_send_fail(N, x, -ENOBUFS, 1), 0);
    CHECK_INT(aiotp_sim_shutdown_fail(N, x, -EIO, 1), 0);
    CHECK_INT(SYS(recv, x, buf, sizeof(buf), 0), -EIO);
    CHECK_INT(to4(x, "f", 1, port_of(y)), -ENOBUFS);
    CHECK_INT(SYS(shutdown, x, SHUT_RD), -EIO);
    CHECK_INT(SYS(shutdown, x, SHUT_RD), -ENOTCONN); /* Linux: unconnected UDP */
    CHECK_INT(SYS(recv, x, buf, sizeof(buf), 0), 0);    /* ... but shut all the same */
    CHECK_INT(connect4(y, "127.0.0.1", px), 0);
    CHECK_INT(SYS(shutdown, y, SHUT_WR), 0);
    CHECK_INT(SYS(send, y, "x", 1, 0), -EPIPE);
    /* knobs of the other kind */
    CHECK_INT(aiotp_sim_set_capacity(N, x, 1), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_send_limit(N, x, 1), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_reset(N, x), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], &sv[1]), 0);
    CHECK_INT(aiotp_sim_dgram_drop(N, sv[0], 1), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_dgram_duplicate(N, sv[0], 1), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_dgram_reorder(N, sv[0], 1), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_dgram_flush(N, sv[0]), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_dgram_set_queue(N, sv[0], 1), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_dgram_stall(N, sv[0], 1), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_dgram_error(N, sv[0], -EIO), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_dgram_count(N, sv[0]), -EOPNOTSUPP);
    CHECK_INT(aiotp_sim_dgram_count(N, 99), -EBADF);
    CHECK_INT(aiotp_sim_dgram_drop(NULL, x, 1), -EBADF);
    CHECK_INT(aiotp_sim_send_eagain(N, 99, 1), -EBADF);
    CHECK_INT(SYS(close, sv[0]), 0);
    CHECK_INT(SYS(close, sv[1]), 0);
    /* a datagram still held at close is lost */
    CHECK_INT(aiotp_sim_dgram_reorder(N, x, 1), 0);
    CHECK_INT(SYS(close, y), 0);
    y = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(to4(y, "L", 1, px), 1);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(dropped(), 4);
    CHECK_INT(SYS(close, y), 0);
    net_close();
}

/* Out of memory: socket (the fd table, then the socket's state), the socketpair's second
   socket, a send, a duplicate (one copy arrives); nothing leaks, nothing half made. */
TEST(dgram_out_of_memory)
{
    int x;
    int y;
    int sv[2] = {-1, -1};

    net_open();
    sim_mem.fail_after = 0;
    CHECK_INT(SYS(socket, AF_INET, SOCK_DGRAM, 0), -ENOMEM); /* the fd table */
    sim_mem.fail_after = 1;
    CHECK_INT(SYS(socket, AF_INET, SOCK_DGRAM, 0), -ENOMEM); /* its state */
    CHECK_SIZE(aiotp_sim_open_fds(N), 0);
    sim_mem.fail_after = -1;
    x = dg_bound(AF_INET, "127.0.0.1", 0);
    y = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    sim_mem.fail_after = 1;
    CHECK_INT(aiotp_sim_socketpair_dgram(N, &sv[0], &sv[1]), AIOTP_ENOMEM);
    CHECK_INT(sv[0], -1);
    CHECK_SIZE(aiotp_sim_open_fds(N), 2);
    sim_mem.fail_after = 0;
    CHECK_INT(aiotp_sim_socketpair_dgram(N, &sv[0], &sv[1]), AIOTP_ENOMEM);
    CHECK_INT(to4(y, "x", 1, port_of(x)), -ENOMEM);
    CHECK_STR(name_of(y, false), "0.0.0.0:32769"); /* bound all the same, as a kernel */
    sim_mem.fail_after = 1;
    CHECK_INT(aiotp_sim_dgram_duplicate(N, x, 1), 0);
    CHECK_INT(to4(y, "d", 1, port_of(x)), 1);
    sim_mem.fail_after = -1;
    CHECK_INT(aiotp_sim_dgram_count(N, x), 1);
    CHECK_SIZE(aiotp_sim_open_fds(N), 2);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, y), 0);
    net_close();
}

/* sendto/recvfrom on stream sockets: recv with no sender address (length 0), send when
   no address is given; an address is ignored by TCP and refused by a Unix stream. */
TEST(stream_sendto_recvfrom)
{
    struct sockaddr_un u;
    struct sockaddr_storage ss;
    socklen_t ul = un_addr(&u, "/sim/any");
    socklen_t len = sizeof(ss);
    struct sockaddr_in a;
    char buf[8];
    int sv[2];
    int l;
    int c;
    int s;

    net_open();
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], &sv[1]), 0);
    CHECK_INT(SYS(sendto, sv[0], "ab", 2, 0, NULL, 0), 2);
    CHECK_INT(SYS(sendto, sv[0], "ab", 2, 0, SA(u), ul), -EISCONN);
    CHECK_INT(SYS(recvfrom, sv[1], buf, sizeof(buf), 0, SA(ss), &len), 2);
    CHECK_INT(len, 0);
    len = sizeof(ss);
    CHECK_INT(SYS(recvfrom, sv[1], buf, sizeof(buf), 0, SA(ss), &len), -EAGAIN);
    CHECK_INT(len, sizeof(ss));
    CHECK_INT(SYS(recvfrom, sv[1], buf, sizeof(buf), 0, NULL, NULL), -EAGAIN);
    CHECK_INT(SYS(close, sv[0]), 0);
    CHECK_INT(SYS(close, sv[1]), 0);
    c = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(SYS(sendto, c, "x", 1, 0, SA(u), ul), -EOPNOTSUPP);
    CHECK_INT(SYS(sendto, c, "x", 1, 0, NULL, 0), -ENOTCONN);
    CHECK_INT(SYS(close, c), 0);
    l = listener(AF_INET, "127.0.0.1", 0, 1);
    a = in4("127.0.0.1", port_of(l));
    c = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(SYS(sendto, c, "x", 1, 0, SA(a), sizeof(a)), -ENOTCONN);
    CHECK_INT(SYS(connect, c, SA(a), sizeof(a)), 0);
    s = SYS(accept, l, NULL, NULL);
    a = in4("127.0.0.9", 9);
    CHECK_INT(SYS(sendto, c, "tcp", 3, 0, SA(a), sizeof(a)), 3); /* ignored */
    CHECK_INT(SYS(recvfrom, s, buf, sizeof(buf), 0, NULL, &len), 3);
    CHECK(memcmp(buf, "tcp", 3) == 0);
    CHECK_INT(SYS(close, c), 0);
    CHECK_INT(SYS(close, s), 0);
    CHECK_INT(SYS(close, l), 0);
    net_close();
}

/* The ephemeral port range: handed out in order, wrapping; a range in use runs out for
   stream sockets (bind, listen, connect) and for a datagram's autobind (send, connect),
   each kind in its own port space. */
TEST(sim_port_range)
{
    struct sockaddr_in a;
    int x;
    int y;
    int z;
    int l1;
    int l2;
    int c;

    net_open();
    CHECK_INT(aiotp_sim_set_port_range(N, 0, 10), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_set_port_range(N, 11, 10), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_set_port_range(N, 10, 65536), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_set_port_range(NULL, 10, 11), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_set_port_range(N, 40000, 40001), 0);
    x = dg_bound(AF_INET, "127.0.0.1", 0);
    y = dg_bound(AF_INET, "127.0.0.1", 0);
    CHECK_STR(name_of(x, false), "127.0.0.1:40000");
    CHECK_STR(name_of(y, false), "127.0.0.1:40001");
    z = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(to4(z, "x", 1, 40000), -EAGAIN);
    CHECK_INT(connect4(z, "127.0.0.1", 40000), -EAGAIN);
    a = in4("127.0.0.1", 0);
    CHECK_INT(SYS(bind, z, SA(a), sizeof(a)), -EADDRINUSE);
    /* the stream port space is free: both ports once, then none */
    l1 = listener(AF_INET, "127.0.0.1", 0, 1);
    l2 = listener(AF_INET, "127.0.0.1", 0, 1);
    CHECK_STR(name_of(l1, false), "127.0.0.1:40000");
    CHECK_STR(name_of(l2, false), "127.0.0.1:40001");
    CHECK_INT(listener(AF_INET, "127.0.0.1", 0, 1), -EADDRINUSE);
    c = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(SYS(listen, c, 1), -EADDRINUSE);
    CHECK_INT(connect4(c, "127.0.0.1", 40000), -EADDRNOTAVAIL);
    /* a freed port is found again, the search wrapping around */
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(to4(z, "x", 1, 40001), 1);
    CHECK_STR(name_of(z, false), "0.0.0.0:40000");
    CHECK_INT(SYS(close, c), 0);
    CHECK_INT(SYS(close, l1), 0);
    CHECK_INT(SYS(close, l2), 0);
    CHECK_INT(SYS(close, y), 0);
    CHECK_INT(SYS(close, z), 0);
    net_close();
}

/* Corners: equal candidates (the lowest fd takes it), a peer's address differing only in
   its port (filtered; no ICMP error for another address of the same port), a second
   shutdown, a too short address, and who is reset when a Unix socket changes peers with
   datagrams queued (only a live old peer still connected back to it). */
TEST(dgram_corners)
{
    struct sockaddr_in a;
    int one = 1;
    char buf[8];
    int p1;
    int p2;
    int b;
    int b2;
    int e;
    int x;
    int y;
    int w;
    int v;

    net_open();
    p1 = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    p2 = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(SYS(setsockopt, p1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    CHECK_INT(SYS(setsockopt, p2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    a = in4("127.0.0.1", 5000);
    CHECK_INT(SYS(bind, p1, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(bind, p2, SA(a), sizeof(a)), 0);
    b = dg_bound(AF_INET, "127.0.0.1", 0);
    b2 = dg_bound(AF_INET, "127.0.0.1", 0);
    CHECK_INT(to4(b, "1", 1, 5000), 1);
    CHECK_INT(aiotp_sim_dgram_count(N, p1), 1);
    CHECK_INT(aiotp_sim_dgram_count(N, p2), 0);
    /* p2 connected to b: b2 (same address, other port) goes to p1 */
    CHECK_INT(connect4(p2, "127.0.0.1", port_of(b)), 0);
    CHECK_INT(to4(b2, "2", 1, 5000), 1);
    CHECK_INT(aiotp_sim_dgram_count(N, p1), 2);
    CHECK_INT(SYS(close, p1), 0);
    CHECK_INT(to4(b2, "3", 1, 5000), 1); /* nobody takes it now */
    CHECK_INT(aiotp_sim_dgram_count(N, p2), 0);
    CHECK_INT(connect4(p2, "127.0.0.5", port_of(b)), 0); /* another address, b's port */
    CHECK_INT(to4(b, "4", 1, 5000), 1);
    CHECK_INT(aiotp_sim_dgram_count(N, p2), 0);
    /* ICMP only for the connected address itself */
    e = SYS(socket, AF_INET, SOCK_DGRAM, 0);
    CHECK_INT(connect4(e, "127.0.0.1", 5001), 0);
    a = in4("127.0.0.2", 5001);
    CHECK_INT(SYS(sendto, e, "x", 1, 0, SA(a), sizeof(a)), 1);
    CHECK_INT(so_int(e, SOL_SOCKET, SO_ERROR), 0);
    CHECK_INT(SYS(connect, e, SA(a), 1), -EINVAL);
    CHECK_INT(SYS(shutdown, e, SHUT_WR), 0);
    CHECK_INT(SYS(shutdown, e, SHUT_WR), 0);
    CHECK_INT(SYS(shutdown, e, SHUT_RD), 0);
    CHECK_INT(SYS(shutdown, e, SHUT_RDWR), 0);
    CHECK_INT(SYS(recv, e, buf, sizeof(buf), 0), 0);
    CHECK_INT(SYS(close, e), 0);

    /* Unix: x connected to y with y's datagrams queued changes peers */
    x = dg_bound(AF_UNIX, "/sim/x", 0);
    y = dg_bound(AF_UNIX, "/sim/y", 0);
    w = dg_bound(AF_UNIX, "/sim/w", 0);
    v = dg_bound(AF_UNIX, "/sim/v", 0);
    CHECK_INT(connect_path(x, "/sim/y"), 0);
    CHECK_INT(to_path(y, "a", 1, "/sim/x"), 1); /* y is not connected */
    CHECK_INT(connect_path(x, "/sim/w"), 0);
    CHECK_INT(aiotp_sim_dgram_count(N, x), 0);
    CHECK_INT(so_int(y, SOL_SOCKET, SO_ERROR), 0);
    CHECK_INT(connect_path(x, "/sim/y"), 0);
    CHECK_INT(connect_path(y, "/sim/v"), 0); /* y is connected, but not to x */
    CHECK_INT(to_path(y, "b", 1, "/sim/x"), 1);
    CHECK_INT(connect_path(x, "/sim/w"), 0);
    CHECK_INT(aiotp_sim_dgram_count(N, x), 0);
    CHECK_INT(so_int(y, SOL_SOCKET, SO_ERROR), 0);
    CHECK_INT(connect_path(x, "/sim/y"), -EPERM); /* y takes from v only */
    CHECK_INT(disconnect(y), 0);
    CHECK_INT(connect_path(x, "/sim/y"), 0);
    CHECK_INT(to_path(y, "c", 1, "/sim/x"), 1);
    CHECK_INT(SYS(close, y), 0); /* the old peer is gone */
    CHECK_INT(disconnect(x), 0);
    CHECK_INT(aiotp_sim_dgram_count(N, x), 0);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, w), 0);
    CHECK_INT(SYS(close, v), 0);
    CHECK_INT(SYS(close, p2), 0);
    CHECK_INT(SYS(close, b), 0);
    CHECK_INT(SYS(close, b2), 0);
    net_close();
}

/* ---- the rest of the sim's surface ----------------------------------------------------- */

static void *null_alloc(void *ctx, size_t n)
{
    (void)ctx;
    (void)n;
    return NULL;
}

/* Creation and freeing, the fd table running out, calls on fds that are not open or not
   connected, observation with bad arguments, the poll entry for every kind of fd, and
   the backend's refusals. */
TEST(sim_api_corners)
{
    static const aiotp_allocator no_free = {th_counting_alloc, th_counting_realloc, NULL,
                                            &sim_mem};
    static const aiotp_allocator failing = {null_alloc, th_counting_realloc,
                                            th_counting_free, &sim_mem};
    aiotp_sim *other = NULL;
    aiotp_sim_stats st;
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    aiotp_loop *loop2 = NULL;
    aiotp_syscalls fake;
    struct sockaddr_in a = in4("127.0.0.1", 4000);
    struct pollfd pfd[6];
    struct iovec iov;
    char buf[8];
    int fds[AIOTP_SIM_MAX_FDS];
    int n = 0;
    int sv[2];
    int l;
    int c;
    int s;
    int u;

    CHECK_INT(aiotp_sim_create(NULL, NULL), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_create(&other, &no_free), AIOTP_EINVAL);
    CHECK(other == NULL);
    CHECK_INT(aiotp_sim_create(&other, &failing), AIOTP_ENOMEM);
    CHECK_INT(aiotp_sim_create(&other, NULL), 0); /* the default allocator */
    aiotp_sim_free(other);
    aiotp_sim_free(NULL);
    CHECK(aiotp_sim_syscalls(NULL) == NULL);

    /* freeing a sim closes what is still open */
    net_open();
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], &sv[1]), 0);
    CHECK_INT(aiotp_sim_socketpair_dgram(N, &sv[0], &sv[1]), 0);
    l = listener(AF_INET, "127.0.0.1", 0, 1);
    c = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(connect4(c, "127.0.0.1", port_of(l)), 0);
    aiotp_sim_free(N);
    N = NULL;
    CHECK_INT(sim_mem.live, 0);

    /* the fd table: 3 .. AIOTP_SIM_MAX_FDS - 1, then EMFILE for every kind */
    net_open();
    l = listener(AF_INET, "127.0.0.1", 0, 4);
    c = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(connect4(c, "127.0.0.1", port_of(l)), 0);
    for (;;) {
        int fd = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) {
            CHECK_INT(fd, -EMFILE);
            break;
        }
        fds[n++] = fd;
    }
    CHECK_INT(n + 2, AIOTP_SIM_MAX_FDS - 3);
    CHECK_INT(SYS(socket, AF_INET, SOCK_DGRAM, 0), -EMFILE);
    CHECK_INT(SYS(accept, l, NULL, NULL), -EMFILE);
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], &sv[1]), -EMFILE);
    CHECK_INT(aiotp_sim_socketpair_dgram(N, &sv[0], &sv[1]), -EMFILE);
    CHECK_INT(SYS(close, fds[--n]), 0);
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], &sv[1]), -EMFILE); /* room for one */
    CHECK_INT(aiotp_sim_socketpair_dgram(N, &sv[0], &sv[1]), -EMFILE);
    CHECK_SIZE(aiotp_sim_open_fds(N), (size_t)n + 2);
    while (n > 0) {
        CHECK_INT(SYS(close, fds[--n]), 0);
    }
    s = SYS(accept, l, NULL, NULL);
    CHECK(s >= 0);

    /* fds that are not open, or not connected */
    CHECK_INT(SYS(recv, 99, buf, 1, 0), -EBADF);
    CHECK_INT(SYS(send, 99, buf, 1, 0), -EBADF);
    CHECK_INT(SYS(sendto, 99, buf, 1, 0, NULL, 0), -EBADF);
    CHECK_INT(SYS(recvfrom, 99, buf, 1, 0, NULL, NULL), -EBADF);
    CHECK_INT(SYS(getsockname, 99, SA(a), NULL), -EBADF);
    CHECK_INT(SYS(getpeername, 99, SA(a), NULL), -EBADF);
    CHECK_INT(SYS(set_nonblock, 99), -EBADF);
    CHECK_INT(SYS(shutdown, 99, SHUT_RD), -EBADF);
    CHECK_INT(SYS(connect, 99, SA(a), sizeof(a)), -EBADF);
    CHECK_INT(SYS(bind, 99, SA(a), sizeof(a)), -EBADF);
    CHECK_INT(SYS(listen, 99, 1), -EBADF);
    CHECK_INT(SYS(accept, 99, NULL, NULL), -EBADF);
    CHECK_INT(so_int(99, SOL_SOCKET, SO_TYPE), -EBADF);
    CHECK_INT(SYS(setsockopt, 99, SOL_SOCKET, SO_REUSEADDR, buf, sizeof(int)), -EBADF);
    iov.iov_base = buf;
    iov.iov_len = 1;
    CHECK_INT(SYS(writev, c, &iov, -1), -EINVAL);
    CHECK_INT(SYS(getsockname, c, NULL, NULL), -EFAULT);
    CHECK_INT(aiotp_sim_readable(N, 99), -EBADF);
    CHECK_INT(aiotp_sim_queued(N, 99), -EBADF);
    CHECK_INT(aiotp_sim_readable(N, l), -ENOTCONN);
    CHECK_INT(aiotp_sim_queued(N, l), -ENOTCONN);
    CHECK_INT(aiotp_sim_recv_fail(N, l, -EIO, 1), -ENOTCONN);
    CHECK_INT(aiotp_sim_recv_fail(N, c, EIO, 1), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_ready(N, 99), 0);
    CHECK_INT(aiotp_sim_interest(N, 99), 0);
    CHECK_INT(aiotp_sim_write(NULL, c, "x", 1), -EBADF);
    CHECK_INT(aiotp_sim_read(NULL, c, buf, 1), -EBADF);
    CHECK_INT(aiotp_sim_shutdown(NULL, c, SHUT_RD), -EBADF);
    CHECK_INT(aiotp_sim_close(NULL, c), -EBADF);
    CHECK_INT(aiotp_sim_shutdown(N, c, 9), -EINVAL);
    CHECK_INT(aiotp_sim_now(NULL), 0);
    aiotp_sim_advance(NULL, 5);
    aiotp_sim_advance(N, -5);
    CHECK_INT(aiotp_sim_now(N), 0);
    aiotp_sim_wait_eintr(NULL, 1);
    aiotp_sim_get_stats(NULL, &st);
    aiotp_sim_get_stats(N, NULL);
    /* a refused non-blocking connect: the error once, to a receive or a send */
    CHECK_INT(SYS(close, l), 0);
    l = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(SYS(set_nonblock, l), 0);
    CHECK_INT(connect4(l, "127.0.0.1", 4000), -EINPROGRESS);
    CHECK_INT(SYS(recv, l, buf, 1, 0), -ECONNREFUSED);
    CHECK_INT(SYS(recv, l, buf, 1, 0), -ENOTCONN);
    CHECK_INT(connect4(l, "127.0.0.1", 4000), -EINPROGRESS);
    CHECK_INT(SYS(send, l, "x", 1, 0), -ECONNREFUSED);
    CHECK_INT(SYS(send, l, "x", 1, 0), -ENOTCONN);

    /* the poll entry for each kind: skipped, not open, unconnected (with and without an
       error), connected with data, reset; EINTR; nothing ready */
    CHECK_INT(aiotp_sim_write(N, s, "d", 1), 1);
    CHECK_INT(SYS(set_nonblock, c), 0);
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], &sv[1]), 0);
    CHECK_INT(aiotp_sim_reset(N, sv[0]), 0);
    u = SYS(socket, AF_INET, SOCK_STREAM, 0);
    memset(pfd, 0, sizeof(pfd));
    pfd[0].fd = -1;
    pfd[1].fd = 99;
    pfd[2].fd = u;
    pfd[2].events = POLLIN | POLLOUT;
    pfd[3].fd = l;
    pfd[3].events = POLLIN;
    pfd[4].fd = c;
    pfd[4].events = POLLIN | POLLOUT;
    pfd[5].fd = sv[0];
    pfd[5].events = POLLIN;
    CHECK_INT(connect4(l, "127.0.0.1", 4000), -EINPROGRESS);
    CHECK_INT(SYS(poll, pfd, 6, 0), 5);
    CHECK_INT(pfd[0].revents, 0);
    CHECK_INT(pfd[1].revents, POLLNVAL);
    CHECK_INT(pfd[2].revents, POLLHUP | POLLOUT);
    CHECK_INT(pfd[3].revents, POLLHUP | POLLERR);
    CHECK_INT(pfd[4].revents, POLLIN | POLLOUT);
    CHECK_INT(pfd[5].revents, POLLIN | POLLERR);
    aiotp_sim_wait_eintr(N, 1);
    CHECK_INT(SYS(poll, pfd, 1, 0), -EINTR);
    pfd[0].fd = s;
    pfd[0].events = POLLIN;
    CHECK_INT(SYS(poll, pfd, 1, 1000), 0);
    CHECK_INT(aiotp_sim_now(N), 1000 * AIOTP_NS_PER_MS);
    CHECK_INT(SYS(close, u), 0);
    CHECK_INT(SYS(close, sv[0]), 0);
    CHECK_INT(SYS(close, sv[1]), 0);

    /* the backend wants the sim's own table, one loop at a time */
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.backend = aiotp_backend_sim();
    o.allocator = &counting;
    o.syscalls = aiotp_syscalls_posix();
    CHECK_INT(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    fake = *S;
    fake.ctx = NULL;
    o.syscalls = &fake;
    CHECK_INT(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    o.syscalls = S;
    CHECK_INT(aiotp_loop_create(&loop, &o), 0);
    CHECK_INT(aiotp_loop_create(&loop2, &o), AIOTP_EINVAL);
    CHECK_INT(aiotp_loop_add_reader(loop, 99, dg_on_write, NULL), AIOTP_EBADF);
    CHECK_INT(aiotp_loop_add_reader(loop, s, dg_on_write, NULL), 0);
    CHECK_INT(aiotp_sim_interest(N, s), AIOTP_EV_READ);
    CHECK_INT(SYS(close, s), 0);
    CHECK_INT(aiotp_loop_remove_reader(loop, s), 1); /* the backend forgets a closed fd */
    aiotp_loop_free(loop);
    CHECK_INT(SYS(close, c), 0);
    CHECK_INT(SYS(close, l), 0);
    net_close();
}

/* Stream corners: the shared knobs on a connected stream, SHUT_RD, zero-length parts,
   memory running out (the queue, the socketpair, the backlog, a path), options on every
   level, address checks, and names. */
TEST(sim_stream_corners)
{
    struct sockaddr_un u;
    struct sockaddr_in a;
    struct sockaddr_in6 a6;
    struct linger lg = {1, 5};
    struct iovec iov[2];
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char longpath[200];
    char buf[16];
    socklen_t len;
    int one = 1;
    int sv[2];
    int v;
    int l;
    int c;
    int s;
    int x;

    net_open();
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], &sv[1]), 0);
    CHECK_INT(aiotp_sim_socketpair(N, NULL, &sv[1]), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], NULL), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_socketpair(NULL, &sv[0], &sv[1]), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_recv_fail(N, sv[1], -EIO, 1), 0);
    CHECK_INT(aiotp_sim_send_fail(N, sv[0], -ENOBUFS, 1), 0);
    CHECK_INT(aiotp_sim_shutdown_fail(N, sv[0], -EIO, 1), 0);
    CHECK_INT(SYS(send, sv[0], "a", 1, 0), -ENOBUFS);
    CHECK_INT(SYS(recv, sv[1], buf, 1, 0), -EIO);
    CHECK_INT(SYS(shutdown, sv[0], SHUT_WR), -EIO);
    iov[0].iov_base = buf;
    iov[0].iov_len = 0;
    iov[1].iov_base = (void *)"xy";
    iov[1].iov_len = 2;
    CHECK_INT(SYS(writev, sv[0], iov, 2), 2);
    CHECK_INT(SYS(shutdown, sv[1], SHUT_RD), 0); /* what waits is dropped, EOF */
    CHECK_INT(SYS(recv, sv[1], buf, sizeof(buf), 0), 0);
    CHECK_INT(aiotp_sim_readable(N, sv[1]), 0);
    CHECK_INT(SYS(close, sv[0]), 0);
    CHECK_INT(SYS(close, sv[1]), 0);
    /* out of memory: a queue that cannot grow takes nothing; pairs; names */
    CHECK_INT(aiotp_sim_socketpair(N, &sv[0], &sv[1]), 0);
    sim_mem.fail_after = 0;
    CHECK_INT(SYS(send, sv[0], "a", 1, 0), -EAGAIN);
    CHECK_INT(aiotp_sim_socketpair(N, &x, &c), AIOTP_ENOMEM);
    memset(&hints, 0, sizeof(hints));
    CHECK_INT(SYS(getaddrinfo, "127.0.0.1", "1", &hints, &res), EAI_MEMORY);
    sim_mem.fail_after = 1;
    CHECK_INT(SYS(getaddrinfo, "localhost", "1", &hints, &res), EAI_MEMORY);
    CHECK(res == NULL);
    sim_mem.fail_after = -1;
    CHECK_INT(SYS(close, sv[0]), 0);
    CHECK_INT(SYS(close, sv[1]), 0);
    CHECK_INT(SYS(getaddrinfo, "127.0.0.1", "1", &hints, NULL), EAI_FAIL);
    hints.ai_socktype = SOCK_RAW;
    CHECK_INT(SYS(getaddrinfo, "127.0.0.1", "1", &hints, &res), EAI_SOCKTYPE);
    hints.ai_socktype = SOCK_DGRAM;
    CHECK_INT(SYS(getaddrinfo, "127.0.0.1", "", &hints, &res), EAI_SERVICE);
    CHECK_INT(SYS(getaddrinfo, "127.0.0.1", "9999999", &hints, &res), EAI_SERVICE);
    CHECK_INT(SYS(getaddrinfo, "::1", "53", &hints, &res), 0);
    CHECK(res != NULL && res->ai_family == AF_INET6 && res->ai_socktype == SOCK_DGRAM &&
          res->ai_protocol == IPPROTO_UDP && res->ai_next == NULL);
    SYS(freeaddrinfo, res);

    /* options on an unconnected socket, and on every level */
    x = SYS(socket, AF_INET6, SOCK_STREAM, 0);
    len = 1;
    CHECK_INT(SYS(getsockopt, x, SOL_SOCKET, SO_TYPE, &v, &len), -EINVAL);
    CHECK_INT(SYS(getsockopt, x, SOL_SOCKET, SO_TYPE, NULL, &len), -EINVAL);
    CHECK_INT(SYS(getsockopt, x, SOL_SOCKET, SO_TYPE, &v, NULL), -EINVAL);
    CHECK_INT(so_int(x, SOL_SOCKET, SO_SNDBUF), (int)AIOTP_SIM_DEFAULT_CAPACITY);
    v = 100;
    CHECK_INT(SYS(setsockopt, x, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
    CHECK_INT(so_int(x, SOL_SOCKET, SO_RCVBUF), 100);
    CHECK_INT(SYS(setsockopt, x, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
    CHECK_INT(SYS(setsockopt, x, SOL_SOCKET, SO_LINGER, &lg, 2), -EINVAL);
    CHECK_INT(SYS(setsockopt, x, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    {
        struct linger got = {0, 0};
        len = sizeof(int);
        CHECK_INT(SYS(getsockopt, x, SOL_SOCKET, SO_LINGER, &got, &len), -EINVAL);
        len = sizeof(got);
        CHECK_INT(SYS(getsockopt, x, SOL_SOCKET, SO_LINGER, &got, &len), 0);
        CHECK_INT(got.l_onoff, 1);
        CHECK_INT(got.l_linger, 5);
        CHECK_INT(len, sizeof(got));
    }
    CHECK_INT(SYS(setsockopt, x, IPPROTO_TCP, TCP_NODELAY, &one, 1), -EINVAL);
    CHECK_INT(SYS(setsockopt, x, IPPROTO_TCP, TCP_MAXSEG, &one, sizeof(one)), 0);
    CHECK_INT(so_int(x, IPPROTO_TCP, TCP_MAXSEG), -ENOPROTOOPT);
    CHECK_INT(so_int(x, IPPROTO_IPV6, IPV6_V6ONLY), 0);
    CHECK_INT(SYS(setsockopt, x, IPPROTO_IPV6, IPV6_V6ONLY, &one, 1), -EINVAL);
    CHECK_INT(SYS(setsockopt, x, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
    CHECK_INT(so_int(x, IPPROTO_IPV6, IPV6_V6ONLY), 1);
    CHECK_INT(SYS(setsockopt, x, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &one, sizeof(one)), 0);
    CHECK_INT(so_int(x, IPPROTO_IPV6, IPV6_UNICAST_HOPS), -ENOPROTOOPT);
    CHECK_INT(so_int(x, IPPROTO_IP, IP_TTL), -ENOPROTOOPT);
    CHECK_INT(SYS(setsockopt, x, IPPROTO_IP, IP_TTL, &one, sizeof(one)), 0);
    a6 = in6("::1", 1);
    CHECK_INT(SYS(bind, x, SA(a6), 8), -EINVAL);
    CHECK_INT(SYS(close, x), 0);
    x = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(so_int(x, IPPROTO_IPV6, IPV6_V6ONLY), -ENOPROTOOPT);
    CHECK_INT(SYS(setsockopt, x, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), -ENOPROTOOPT);
    CHECK_INT(SYS(close, x), 0);

    /* Unix addresses: too short, no name, no room for the end, longer than the struct */
    x = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    un_addr(&u, "/sim/p");
    CHECK_INT(SYS(bind, x, SA(u), (socklen_t)offsetof(struct sockaddr_un, sun_path)),
              -EINVAL);
    memset(u.sun_path, 'p', sizeof(u.sun_path));
    CHECK_INT(SYS(bind, x, SA(u), sizeof(u)), -EINVAL);
    memset(longpath, 0, sizeof(longpath));
    memcpy(longpath, &u, offsetof(struct sockaddr_un, sun_path));
    memcpy(longpath + offsetof(struct sockaddr_un, sun_path), "/sim/long", 9);
    CHECK_INT(SYS(bind, x, (struct sockaddr *)(void *)longpath, sizeof(longpath)), 0);
    CHECK_STR(name_of(x, false), "unix:/sim/long");
    CHECK_INT(SYS(unlink_socket, NULL), -EFAULT);
    CHECK_INT(SYS(close, x), 0);
    /* a path entry or the path table cannot grow */
    x = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    un_addr(&u, "/sim/m");
    sim_mem.fail_after = 0;
    CHECK_INT(SYS(bind, x, SA(u), sizeof(u)), -ENOMEM);
    CHECK_INT(SYS(close, x), 0);
    sim_mem.fail_after = -1;
    for (v = 0; v < 7; v++) { /* with /sim/long: 8 entries, a full table */
        char p[32];
        snprintf(p, sizeof(p), "/sim/f%d", v);
        x = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
        un_addr(&u, p);
        CHECK_INT(SYS(bind, x, SA(u), sizeof(u)), 0);
        CHECK_INT(SYS(close, x), 0);
    }
    x = SYS(socket, AF_UNIX, SOCK_STREAM, 0);
    un_addr(&u, "/sim/f7");
    sim_mem.fail_after = 0; /* the ninth entry needs a bigger table */
    CHECK_INT(SYS(bind, x, SA(u), sizeof(u)), -ENOMEM);
    sim_mem.fail_after = -1;
    CHECK_INT(SYS(bind, x, SA(u), sizeof(u)), 0);
    CHECK_INT(SYS(close, x), 0);

    /* the network: a port that a connection uses, a bound client, a connect to the
       wildcard, SO_RCVBUF applied on connect, memory for the backlog and the pair, calls
       on the wrong kind of socket */
    l = listener(AF_INET, "0.0.0.0", 0, 8);
    c = SYS(socket, AF_INET, SOCK_STREAM, 0);
    v = 10;
    CHECK_INT(SYS(setsockopt, c, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
    a = in4("0.0.0.0", 9000);
    CHECK_INT(SYS(bind, c, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(bind, c, SA(a), sizeof(a)), -EINVAL);
    CHECK_INT(connect4(c, "0.0.0.0", port_of(l)), 0);
    CHECK_STR(name_of(c, false), "127.0.0.1:9000");
    CHECK_INT(SYS(listen, c, 1), -EINVAL);
    CHECK_INT(SYS(bind, c, SA(a), sizeof(a)), -EINVAL);
    len = 0;
    s = SYS(accept, l, NULL, &len);
    CHECK(s >= 0);
    CHECK_INT(aiotp_sim_write(N, s, big, 20), 10); /* c's SO_RCVBUF */
    x = SYS(socket, AF_INET, SOCK_STREAM, 0);
    a = in4("127.0.0.1", 9000);
    CHECK_INT(SYS(bind, x, SA(a), sizeof(a)), -EADDRINUSE); /* c's connection uses it */
    CHECK_INT(SYS(close, x), 0);
    x = SYS(socket, AF_INET, SOCK_STREAM, 0);
    a = in4("127.0.0.2", 9000);
    CHECK_INT(SYS(bind, x, SA(a), sizeof(a)), 0); /* another address */
    CHECK_INT(SYS(close, x), 0);
    x = SYS(socket, AF_INET, SOCK_STREAM, 0);
    CHECK_INT(SYS(setsockopt, x, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    a = in4("127.0.0.1", 9000);
    CHECK_INT(SYS(bind, x, SA(a), sizeof(a)), 0);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, s), 0);
    CHECK_INT(SYS(listen, l, 2), 0); /* again: the backlog's size changes */
    x = SYS(socket, AF_INET, SOCK_STREAM, 0);
    for (v = 0; v < 4; v++) { /* 2 fit, then refused */
        int y = SYS(socket, AF_INET, SOCK_STREAM, 0);
        CHECK_INT(connect4(y, "127.0.0.1", port_of(l)), v < 2 ? 0 : -ECONNREFUSED);
        CHECK_INT(SYS(close, y), 0);
    }
    CHECK_INT(SYS(listen, l, 8), 0);
    sim_mem.fail_after = 0;
    CHECK_INT(connect4(x, "127.0.0.1", port_of(l)), -ENOMEM); /* the pair */
    sim_mem.fail_after = -1;
    for (v = 0; v < 2; v++) { /* 4 waiting: the backlog's first 4 slots are full */
        int y = SYS(socket, AF_INET, SOCK_STREAM, 0);
        CHECK_INT(connect4(y, "127.0.0.1", port_of(l)), 0);
        CHECK_INT(SYS(close, y), 0);
    }
    sim_mem.fail_after = 0;
    CHECK_INT(connect4(x, "127.0.0.1", port_of(l)), -ENOMEM); /* the backlog */
    sim_mem.fail_after = -1;
    CHECK_INT(connect4(x, "127.0.0.1", port_of(l)), 0);
    CHECK_INT(SYS(close, x), 0);
    CHECK_INT(SYS(close, c), 0);
    CHECK_INT(SYS(close, l), 0);
    for (v = 0; v < 8; v++) {
        char p[32];
        snprintf(p, sizeof(p), "/sim/f%d", v);
        CHECK_INT(SYS(unlink_socket, p), 1);
    }
    CHECK_INT(SYS(unlink_socket, "/sim/long"), 1);
    net_close();
}

/* The POSIX table's error paths: every entry returns the negated errno. */
TEST(syscalls_posix_errors)
{
    const aiotp_syscalls *P = aiotp_syscalls_posix();
    char dir[] = "/tmp/aiotp-posix-XXXXXX";
    char path[64];
    char buf[4];
    struct iovec iov;
    int sv[2];
    int fd;

    CHECK_INT(P->set_nonblock(P->ctx, -1), -EBADF);
    CHECK_INT(P->socket(P->ctx, -1, SOCK_DGRAM, 0), -EAFNOSUPPORT);
    CHECK_INT(P->close(P->ctx, -1), -EBADF);
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_INT(P->write(P->ctx, sv[0], "ab", 2), 2);
    iov.iov_base = (void *)"c";
    iov.iov_len = 1;
    CHECK_INT(P->writev(P->ctx, sv[0], &iov, 1), 1);
    CHECK_INT(P->read(P->ctx, sv[1], buf, sizeof(buf)), 3);
    CHECK_INT(P->read(P->ctx, -1, buf, sizeof(buf)), -EBADF);
    CHECK_INT(P->close(P->ctx, sv[0]), 0);
    CHECK_INT(P->close(P->ctx, sv[1]), 0);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/file", dir);
    CHECK_INT(P->unlink_socket(P->ctx, path), 0); /* absent */
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK_INT(close(fd), 0);
    CHECK_INT(P->unlink_socket(P->ctx, path), 0); /* not a socket: kept */
    snprintf(path, sizeof(path), "%s/file/below", dir);
    CHECK_INT(P->unlink_socket(P->ctx, path), -ENOTDIR);
    snprintf(path, sizeof(path), "%s/file", dir);
    CHECK_INT(unlink(path), 0);
    CHECK_INT(rmdir(dir), 0);
}

/* ---- the real kernel and the sim agree -------------------------------------------------

   One scenario, written once against a syscall table, runs on the POSIX table (the real
   kernel, over loopback and a temporary directory) and on a sim; both transcripts must
   equal the expected text. So the model's message boundaries, zero-length datagrams,
   truncation, connect filter, ICMP errors and Unix errors are the kernel's. */

typedef struct agree {
    const aiotp_syscalls *T;
    bool sim;
    char dir[64];   /* Unix paths: dir/NAME */
    char path[5][108];
    char out[8192];
    size_t len;
} agree;

#define AS(call, ...) g->T->call(g->T->ctx, __VA_ARGS__)

static void say(agree *g, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void say(agree *g, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(g->out + g->len, sizeof(g->out) - g->len - 1, fmt, ap);
    va_end(ap);
    if (n > 0 && g->len + (size_t)n + 1 < sizeof(g->out)) {
        g->len += (size_t)n;
        g->out[g->len++] = '\n';
        g->out[g->len] = '\0';
    }
}

/* a count, or the error's name */
static const char *res(long rc)
{
    static char o[4][32];
    static int k;
    char *s = o[k++ % 4];
    if (rc < 0) {
        snprintf(s, 32, "%s", aiotp_err_name((int)rc));
    } else {
        snprintf(s, 32, "%ld", rc);
    }
    return s;
}

/* Wait (up to 2 s on the kernel; the sim answers at once) for events or an error. */
static int waitfor(agree *g, int fd, short events)
{
    struct pollfd p;
    p.fd = fd;
    p.events = events;
    p.revents = 0;
    (void)AS(poll, &p, 1, 2000);
    return p.revents & (events | POLLERR);
}

/* The loopback address of family with port in *ss; its length. */
static socklen_t lo_addr(int family, unsigned port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)(void *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof(*a);
    }
    {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        return sizeof(*a);
    }
}

static unsigned ss_port(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6
               ? ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port)
               : ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

static bool ss_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
        return memcmp(&a->sin6_addr, &in6addr_loopback, sizeof(a->sin6_addr)) == 0;
    }
    return ((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr ==
           htonl(INADDR_LOOPBACK);
}

/* A datagram socket bound to loopback:port; its address in *ss, *len. */
static int ag_bound(agree *g, int family, unsigned port, struct sockaddr_storage *ss,
                    socklen_t *len)
{
    int fd = AS(socket, family, SOCK_DGRAM, 0);
    socklen_t l = lo_addr(family, port, ss);
    CHECK(fd >= 0);
    CHECK_INT(AS(bind, fd, SA(*ss), l), 0);
    *len = sizeof(*ss);
    CHECK_INT(AS(getsockname, fd, SA(*ss), len), 0);
    return fd;
}

/* Receive one datagram: "n 'text' from X" where X is "b" when the sender's address
   equals *from_b (any other address is printed by port-free form "other"), "none". */
static void ag_rx(agree *g, int fd, size_t cap, const struct sockaddr_storage *b,
                  socklen_t blen)
{
    char buf[32];
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    long n;
    memset(&ss, 0, sizeof(ss));
    n = AS(recvfrom, fd, buf, cap, MSG_DONTWAIT, SA(ss), &len);
    if (n < 0) {
        say(g, "recv %s", res(n));
    } else if (len == 0) {
        say(g, "recv %ld '%.*s' from none", n, (int)(n < 32 ? n : 32), buf);
    } else {
        say(g, "recv %ld '%.*s' from %s", n, (int)(n < 32 ? n : 32), buf,
            b != NULL && len == blen && memcmp(&ss, b, len) == 0 ? "b" : "other");
    }
}

static void ag_udp(agree *g, int family)
{
    const size_t max = family == AF_INET ? AIOTP_SIM_UDP4_MAX : AIOTP_SIM_UDP6_MAX;
    struct sockaddr_storage A;
    struct sockaddr_storage B;
    struct sockaddr_storage D;
    struct sockaddr_storage Dd;
    struct sockaddr_storage X;
    socklen_t al;
    socklen_t bl;
    socklen_t dl;
    socklen_t ddl;
    socklen_t xl;
    struct sockaddr un;
    int one = 1;
    int v;
    socklen_t vl = sizeof(v);
    char buf[16];
    int a;
    int b;
    int c;
    int d;
    int e;
    int f;
    int p1;
    int p2;
    int live;

    a = ag_bound(g, family, 0, &A, &al);
    b = ag_bound(g, family, 0, &B, &bl);
    c = AS(socket, family, SOCK_DGRAM, 0);
    say(g, "-- boundaries");
    say(g, "sendto %s", res(AS(sendto, b, "abc", 3, 0, SA(A), al)));
    say(g, "sendto %s", res(AS(sendto, b, "", 0, 0, SA(A), al)));
    say(g, "sendto %s", res(AS(sendto, b, "defgh", 5, 0, SA(A), al)));
    say(g, "poll %d", waitfor(g, a, POLLIN));
    ag_rx(g, a, 16, &B, bl);
    say(g, "poll %d", waitfor(g, a, POLLIN));
    ag_rx(g, a, 16, &B, bl);
    say(g, "poll %d", waitfor(g, a, POLLIN));
    ag_rx(g, a, 2, &B, bl);
    ag_rx(g, a, 16, &B, bl);
    say(g, "sendto %s", res(AS(sendto, b, "xyz", 3, 0, SA(A), al)));
    say(g, "poll %d", waitfor(g, a, POLLIN));
    say(g, "peek %s", res(AS(recv, a, buf, 1, MSG_PEEK | MSG_DONTWAIT)));
    say(g, "trunc %s", res(AS(recv, a, buf, 1, MSG_TRUNC | MSG_DONTWAIT)));
    say(g, "recv %s", res(AS(recv, a, buf, sizeof(buf), MSG_DONTWAIT)));
    say(g, "sendto %s", res(AS(sendto, b, "q", 1, 0, SA(A), al)));
    say(g, "sendto %s", res(AS(sendto, b, "r", 1, 0, SA(A), al)));
    say(g, "poll %d", waitfor(g, a, POLLIN));
    say(g, "recv0 %s", res(AS(recv, a, buf, 0, MSG_DONTWAIT)));
    say(g, "poll %d", waitfor(g, a, POLLIN));
    ag_rx(g, a, 16, &B, bl);

    say(g, "-- connect filter");
    say(g, "connect %s", res(AS(connect, a, SA(B), bl)));
    xl = sizeof(X);
    say(g, "peer is b %d", AS(getpeername, a, SA(X), &xl) == 0 && xl == bl &&
                               memcmp(&X, &B, bl) == 0);
    say(g, "sendto %s", res(AS(sendto, c, "no", 2, 0, SA(A), al)));
    say(g, "sendto %s", res(AS(sendto, b, "yes", 3, 0, SA(A), al)));
    say(g, "poll %d", waitfor(g, a, POLLIN));
    ag_rx(g, a, 16, &B, bl);
    ag_rx(g, a, 16, &B, bl);
    ag_rx(g, c, 16, NULL, 0);
    CHECK_INT(AS(getsockopt, c, SOL_SOCKET, SO_ERROR, &v, &vl), 0);
    say(g, "c SO_ERROR %d", v);
    /* the connected one of two sockets on a port takes its peer's datagrams */
    p1 = AS(socket, family, SOCK_DGRAM, 0);
    p2 = AS(socket, family, SOCK_DGRAM, 0);
    CHECK_INT(AS(setsockopt, p1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    CHECK_INT(AS(setsockopt, p2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    xl = lo_addr(family, 0, &X);
    CHECK_INT(AS(bind, p1, SA(X), xl), 0);
    xl = sizeof(X);
    CHECK_INT(AS(getsockname, p1, SA(X), &xl), 0);
    say(g, "bind same port %s", res(AS(bind, p2, SA(X), xl)));
    say(g, "connect %s", res(AS(connect, p2, SA(B), bl)));
    say(g, "sendto %s", res(AS(sendto, b, "B", 1, 0, SA(X), xl)));
    say(g, "sendto %s", res(AS(sendto, c, "C", 1, 0, SA(X), xl)));
    say(g, "poll %d", waitfor(g, p2, POLLIN));
    ag_rx(g, p2, 16, &B, bl);
    say(g, "poll %d", waitfor(g, p1, POLLIN));
    ag_rx(g, p1, 16, &B, bl);

    say(g, "-- ICMP");
    d = ag_bound(g, family, 0, &D, &dl);
    CHECK_INT(AS(close, d), 0);
    d = ag_bound(g, family, 0, &Dd, &ddl);
    CHECK_INT(AS(close, d), 0);
    e = AS(socket, family, SOCK_DGRAM, 0);
    say(g, "connect %s", res(AS(connect, e, SA(D), dl)));
    say(g, "send %s", res(AS(send, e, "x", 1, 0)));
    say(g, "poll %d", waitfor(g, e, POLLIN));
    say(g, "recv %s", res(AS(recv, e, buf, sizeof(buf), MSG_DONTWAIT)));
    say(g, "recv %s", res(AS(recv, e, buf, sizeof(buf), MSG_DONTWAIT)));
    say(g, "send %s", res(AS(send, e, "x", 1, 0)));
    say(g, "poll %d", waitfor(g, e, POLLIN));
    say(g, "send %s", res(AS(send, e, "y", 1, 0)));
    say(g, "send %s", res(AS(send, e, "z", 1, 0)));
    say(g, "poll %d", waitfor(g, e, POLLIN));
    vl = sizeof(v);
    CHECK_INT(AS(getsockopt, e, SOL_SOCKET, SO_ERROR, &v, &vl), 0);
    say(g, "SO_ERROR %s", res(-v));
    CHECK_INT(AS(getsockopt, e, SOL_SOCKET, SO_ERROR, &v, &vl), 0);
    say(g, "SO_ERROR %s", res(-v));
    say(g, "send %s", res(AS(send, e, "x", 1, 0)));
    say(g, "poll %d", waitfor(g, e, POLLIN));
    live = ag_bound(g, family, ss_port(&D), &D, &dl);
    xl = sizeof(X);
    CHECK_INT(AS(getsockname, e, SA(X), &xl), 0);
    say(g, "e bound to loopback %d", ss_is_loopback(&X) && ss_port(&X) != 0);
    say(g, "sendto %s", res(AS(sendto, live, "data", 4, 0, SA(X), xl)));
    say(g, "poll %d", waitfor(g, e, POLLIN));
    say(g, "recv %s", res(AS(recv, e, buf, sizeof(buf), MSG_DONTWAIT)));
    say(g, "recv %s", res(AS(recv, e, buf, sizeof(buf), MSG_DONTWAIT)));
    f = AS(socket, family, SOCK_DGRAM, 0);
    say(g, "unconnected sendto %s", res(AS(sendto, f, "x", 1, 0, SA(Dd), ddl)));
    say(g, "poll %d", waitfor(g, f, POLLIN | POLLOUT));
    vl = sizeof(v);
    CHECK_INT(AS(getsockopt, f, SOL_SOCKET, SO_ERROR, &v, &vl), 0);
    say(g, "SO_ERROR %d", v);
    memset(&un, 0, sizeof(un));
    un.sa_family = AF_UNSPEC;
    say(g, "disconnect %s", res(AS(connect, e, &un, sizeof(un))));
    say(g, "send %s", res(AS(send, e, "x", 1, 0)));
    xl = sizeof(X);
    say(g, "getpeername %s", res(AS(getpeername, e, SA(X), &xl)));
    say(g, "disconnect %s", res(AS(connect, a, &un, sizeof(un))));
    xl = sizeof(X);
    CHECK_INT(AS(getsockname, a, SA(X), &xl), 0);
    say(g, "a: loopback %d port %u", ss_is_loopback(&X), ss_port(&X));

    say(g, "-- sizes, addresses");
    say(g, "sendto max+1 %s", res(AS(sendto, b, big, max + 1, 0, SA(A), al)));
    CHECK_INT(AS(close, a), 0);
    a = ag_bound(g, family, 0, &A, &al);
    say(g, "sendto max %s", res(AS(sendto, b, big, max, 0, SA(A), al)));
    say(g, "poll %d", waitfor(g, a, POLLIN));
    say(g, "recv %s", (size_t)AS(recv, a, big_rx, sizeof(big_rx), MSG_DONTWAIT) == max
                          ? "max" : "other");
    xl = lo_addr(family, 0, &X);
    say(g, "sendto port 0 %s", res(AS(sendto, c, "x", 1, 0, SA(X), xl)));
    if (family == AF_INET) {
        struct sockaddr_in bc = in4("255.255.255.255", 9);
        say(g, "broadcast %s", res(AS(sendto, c, "x", 1, 0, SA(bc), sizeof(bc))));
    }
    say(g, "send unconnected %s", res(AS(send, c, "x", 1, 0)));
    xl = sizeof(X);
    CHECK_INT(AS(getsockname, c, SA(X), &xl), 0);
    say(g, "c autobound: wildcard %d port %d", !ss_is_loopback(&X), ss_port(&X) != 0);
    d = AS(socket, family, SOCK_DGRAM, 0);
    say(g, "connect %s", res(AS(connect, d, SA(B), bl)));
    xl = sizeof(X);
    CHECK_INT(AS(getsockname, d, SA(X), &xl), 0);
    say(g, "d: loopback %d port %d", ss_is_loopback(&X), ss_port(&X) != 0);
    vl = sizeof(v);
    CHECK_INT(AS(getsockopt, d, SOL_SOCKET, SO_TYPE, &v, &vl), 0);
    say(g, "SO_TYPE %s", v == SOCK_DGRAM ? "SOCK_DGRAM" : "?");
    say(g, "listen %s", res(AS(listen, d, 1)));

    CHECK_INT(AS(close, a), 0);
    CHECK_INT(AS(close, b), 0);
    CHECK_INT(AS(close, c), 0);
    CHECK_INT(AS(close, d), 0);
    CHECK_INT(AS(close, e), 0);
    CHECK_INT(AS(close, f), 0);
    CHECK_INT(AS(close, p1), 0);
    CHECK_INT(AS(close, p2), 0);
    CHECK_INT(AS(close, live), 0);
}

static const char udp_expected[] =
    "-- boundaries\n"
    "sendto 3\nsendto 0\nsendto 5\n"
    "poll 1\nrecv 3 'abc' from b\n"
    "poll 1\nrecv 0 '' from b\n"
    "poll 1\nrecv 2 'de' from b\nrecv EAGAIN\n"
    "sendto 3\npoll 1\npeek 1\ntrunc 3\nrecv EAGAIN\n"
    "sendto 1\nsendto 1\npoll 1\nrecv0 0\npoll 1\nrecv 1 'r' from b\n"
    "-- connect filter\n"
    "connect 0\npeer is b 1\nsendto 2\nsendto 3\npoll 1\nrecv 3 'yes' from b\n"
    "recv EAGAIN\nrecv EAGAIN\nc SO_ERROR 0\n"
    "bind same port 0\nconnect 0\nsendto 1\nsendto 1\n"
    "poll 1\nrecv 1 'B' from b\npoll 1\nrecv 1 'C' from other\n"
    "-- ICMP\n"
    "connect 0\nsend 1\npoll 8\nrecv ECONNREFUSED\nrecv EAGAIN\n"
    "send 1\npoll 8\nsend ECONNREFUSED\nsend 1\npoll 8\n"
    "SO_ERROR ECONNREFUSED\nSO_ERROR 0\n"
    "send 1\npoll 8\ne bound to loopback 1\nsendto 4\npoll 9\n"
    "recv ECONNREFUSED\nrecv 4\n"
    "unconnected sendto 1\npoll 4\nSO_ERROR 0\n"
    "disconnect 0\nsend EDESTADDRREQ\ngetpeername ENOTCONN\n"
    "disconnect 0\na: loopback 1 port 0\n"
    "-- sizes, addresses\n";

static const char udp4_tail[] =
    "sendto max+1 EMSGSIZE\nsendto max 65507\npoll 1\nrecv max\n"
    "sendto port 0 EINVAL\nbroadcast EACCES\nsend unconnected EDESTADDRREQ\n"
    "c autobound: wildcard 1 port 1\n"
    "connect 0\nd: loopback 1 port 1\nSO_TYPE SOCK_DGRAM\nlisten EOPNOTSUPP\n";

static const char udp6_tail[] =
    "sendto max+1 EMSGSIZE\nsendto max 65527\npoll 1\nrecv max\n"
    "sendto port 0 EINVAL\nsend unconnected EDESTADDRREQ\n"
    "c autobound: wildcard 1 port 1\n"
    "connect 0\nd: loopback 1 port 1\nSO_TYPE SOCK_DGRAM\nlisten EOPNOTSUPP\n";

/* Run scenario on the kernel and on a sim; each transcript must be `expected`. */
static void agree_both(void (*scenario)(agree *g, int arg), int arg, const char *expected)
{
    static agree g;
    int pass;
    for (pass = 0; pass < 2; pass++) {
        memset(&g, 0, sizeof(g));
        g.sim = pass == 1;
        if (g.sim) {
            net_open();
            g.T = S;
            snprintf(g.dir, sizeof(g.dir), "/sim");
        } else {
            g.T = aiotp_syscalls_posix();
            snprintf(g.dir, sizeof(g.dir), "/tmp/aiotp-agree-XXXXXX");
            if (mkdtemp(g.dir) == NULL) {
                th_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
                return;
            }
        }
        scenario(&g, arg);
        if (strcmp(g.out, expected) != 0) {
            th_fail(__FILE__, __LINE__, "%s: the transcript differs:\n--- got\n%s--- "
                    "expected\n%s", g.sim ? "the sim" : "the kernel", g.out, expected);
        }
        if (g.sim) {
            net_close();
        } else {
            (void)rmdir(g.dir);
        }
    }
}

static void agree_udp(agree *g, int family)
{
    ag_udp(g, family);
}

TEST(agree_udp4)
{
    char want[sizeof(udp_expected) + sizeof(udp4_tail)];
    snprintf(want, sizeof(want), "%s%s", udp_expected, udp4_tail);
    agree_both(agree_udp, AF_INET, want);
}

TEST(agree_udp6)
{
    char want[sizeof(udp_expected) + sizeof(udp6_tail)];
    snprintf(want, sizeof(want), "%s%s", udp_expected, udp6_tail);
    agree_both(agree_udp, AF_INET6, want);
}

/* dir/name as an address in *u; the path is kept in g->path[slot] for cleanup. */
static socklen_t ag_path(agree *g, int slot, const char *name, struct sockaddr_un *u)
{
    snprintf(g->path[slot], sizeof(g->path[slot]), "%s/%s", g->dir, name);
    return un_addr(u, g->path[slot]);
}

static int ag_unix_bound(agree *g, int slot, const char *name, int type)
{
    struct sockaddr_un u;
    socklen_t ul = ag_path(g, slot, name, &u);
    int fd = AS(socket, AF_UNIX, type, 0);
    CHECK(fd >= 0);
    CHECK_INT(AS(bind, fd, SA(u), ul), 0);
    return fd;
}

static void agree_unix(agree *g, int unused)
{
    struct sockaddr_un ux;
    struct sockaddr_un uy;
    struct sockaddr_un uw;
    struct sockaddr_un us;
    struct sockaddr_un un;
    struct sockaddr_storage ss;
    struct sockaddr unspec;
    socklen_t xl;
    socklen_t yl;
    socklen_t wl;
    socklen_t sl;
    socklen_t nl;
    socklen_t len;
    char buf[16];
    int x;
    int y;
    int z;
    int w;
    int s;
    int sv[2];
    int i;
    long rc = 0;

    (void)unused;
    x = ag_unix_bound(g, 0, "x", SOCK_DGRAM);
    y = ag_unix_bound(g, 1, "y", SOCK_DGRAM);
    w = ag_unix_bound(g, 2, "w", SOCK_DGRAM);
    s = ag_unix_bound(g, 3, "s", SOCK_STREAM);
    CHECK_INT(AS(listen, s, 1), 0);
    xl = un_addr(&ux, g->path[0]);
    yl = un_addr(&uy, g->path[1]);
    wl = un_addr(&uw, g->path[2]);
    sl = un_addr(&us, g->path[3]);
    nl = ag_path(g, 4, "none", &un); /* never bound */
    z = AS(socket, AF_UNIX, SOCK_DGRAM, 0);
    say(g, "-- addresses, boundaries");
    say(g, "sendto %s", res(AS(sendto, z, "hi", 2, 0, SA(ux), xl)));
    ag_rx(g, x, 16, NULL, 0);
    say(g, "sendto %s", res(AS(sendto, y, "yo", 2, 0, SA(ux), xl)));
    len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    rc = AS(recvfrom, x, buf, sizeof(buf), 0, SA(ss), &len);
    say(g, "recv %s from y %d", res(rc),
        len > offsetof(struct sockaddr_un, sun_path) &&
            strcmp(((struct sockaddr_un *)(void *)&ss)->sun_path, g->path[1]) == 0);
    say(g, "sendto %s", res(AS(sendto, y, "", 0, 0, SA(ux), xl)));
    say(g, "sendto %s", res(AS(sendto, y, "abcdef", 6, 0, SA(ux), xl)));
    say(g, "sendto %s", res(AS(sendto, y, "q", 1, 0, SA(ux), xl)));
    say(g, "sendto %s", res(AS(sendto, y, "r", 1, 0, SA(ux), xl)));
    say(g, "recv %s", res(AS(recv, x, buf, sizeof(buf), MSG_DONTWAIT)));
    say(g, "recv %s", res(AS(recv, x, buf, 3, MSG_DONTWAIT)));
    say(g, "recv0 %s", res(AS(recv, x, buf, 0, MSG_DONTWAIT)));
    rc = AS(recv, x, buf, sizeof(buf), MSG_DONTWAIT);
    say(g, "recv %s '%c'", res(rc), buf[0]);
    say(g, "recv %s", res(AS(recv, x, buf, sizeof(buf), MSG_DONTWAIT)));
    len = sizeof(ss);
    CHECK_INT(AS(getsockname, z, SA(ss), &len), 0);
    say(g, "unnamed getsockname len %u", (unsigned)len);

    say(g, "-- connect, errors");
    say(g, "connect %s", res(AS(connect, x, SA(uy), yl)));
    say(g, "sendto %s", res(AS(sendto, z, "x", 1, 0, SA(ux), xl)));
    say(g, "connect %s", res(AS(connect, z, SA(ux), xl)));
    say(g, "send %s", res(AS(send, z, "x", 1, 0)));
    say(g, "sendto none %s", res(AS(sendto, z, "x", 1, 0, SA(un), nl)));
    say(g, "connect none %s", res(AS(connect, z, SA(un), nl)));
    say(g, "sendto stream %s", res(AS(sendto, z, "x", 1, 0, SA(us), sl)));
    say(g, "connect stream %s", res(AS(connect, z, SA(us), sl)));
    say(g, "connect %s", res(AS(connect, y, SA(ux), xl)));
    say(g, "send %s", res(AS(send, y, "a", 1, 0)));
    say(g, "connect elsewhere %s", res(AS(connect, x, SA(uw), wl)));
    say(g, "recv %s", res(AS(recv, y, buf, sizeof(buf), MSG_DONTWAIT)));
    say(g, "recv %s", res(AS(recv, x, buf, sizeof(buf), MSG_DONTWAIT)));
    memset(&unspec, 0, sizeof(unspec));
    unspec.sa_family = AF_UNSPEC;
    say(g, "disconnect %s", res(AS(connect, x, &unspec, sizeof(unspec))));
    say(g, "close %s", res(AS(close, x)));
    say(g, "poll %d", waitfor(g, y, POLLIN | POLLOUT));
    say(g, "recv %s", res(AS(recv, y, buf, sizeof(buf), MSG_DONTWAIT)));
    say(g, "send %s", res(AS(send, y, "x", 1, 0)));
    say(g, "send %s", res(AS(send, y, "x", 1, 0)));
    len = sizeof(ss);
    say(g, "getpeername %s", res(AS(getpeername, y, SA(ss), &len)));
    say(g, "sendto stale %s", res(AS(sendto, y, "x", 1, 0, SA(ux), xl)));
    say(g, "connect stale %s", res(AS(connect, y, SA(ux), xl)));
    x = AS(socket, AF_UNIX, SOCK_DGRAM, 0);
    say(g, "bind stale %s", res(AS(bind, x, SA(ux), xl)));

    say(g, "-- sizes, queues");
    say(g, "sendto max+1 %s",
        res(AS(sendto, z, big, AIOTP_SIM_UNIX_DGRAM_MAX + 1, 0, SA(uy), yl)));
    say(g, "sendto max %s",
        res(AS(sendto, z, big, AIOTP_SIM_UNIX_DGRAM_MAX, 0, SA(uy), yl)));
    say(g, "recv %s", res(AS(recv, y, big_rx, sizeof(big_rx), MSG_DONTWAIT)));
    for (i = 0; i < 20; i++) {
        rc = AS(sendto, z, "m", 1, MSG_DONTWAIT, SA(uy), yl);
        if (rc < 0) {
            break;
        }
    }
    say(g, "%d sent, then %s", i, res(rc));
    say(g, "shutdown %s", res(AS(shutdown, z, SHUT_RDWR)));

    say(g, "-- socketpair");
    if (g->sim) {
        CHECK_INT(aiotp_sim_socketpair_dgram(N, &sv[0], &sv[1]), 0);
    } else {
        CHECK_INT(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    }
    say(g, "send %s", res(AS(send, sv[0], "p", 1, 0)));
    ag_rx(g, sv[1], 16, NULL, 0);
    len = sizeof(ss);
    CHECK_INT(AS(getsockname, sv[0], SA(ss), &len), 0);
    say(g, "getsockname len %u", (unsigned)len);
    len = sizeof(ss);
    CHECK_INT(AS(getpeername, sv[0], SA(ss), &len), 0);
    say(g, "getpeername len %u", (unsigned)len);
    say(g, "close %s", res(AS(close, sv[1])));
    say(g, "poll %d", waitfor(g, sv[0], POLLIN | POLLOUT));
    say(g, "recv %s", res(AS(recv, sv[0], buf, sizeof(buf), MSG_DONTWAIT)));
    say(g, "send %s", res(AS(send, sv[0], "x", 1, 0)));
    say(g, "send %s", res(AS(send, sv[0], "x", 1, 0)));

    CHECK_INT(AS(close, sv[0]), 0);
    CHECK_INT(AS(close, x), 0);
    CHECK_INT(AS(close, y), 0);
    CHECK_INT(AS(close, z), 0);
    CHECK_INT(AS(close, w), 0);
    CHECK_INT(AS(close, s), 0);
    for (i = 0; i < 4; i++) {
        CHECK_INT(AS(unlink_socket, g->path[i]), 1);
    }
}

TEST(agree_unix_dgram)
{
    agree_both(agree_unix, 0,
               "-- addresses, boundaries\n"
               "sendto 2\nrecv 2 'hi' from none\nsendto 2\nrecv 2 from y 1\n"
               "sendto 0\nsendto 6\nsendto 1\nsendto 1\n"
               "recv 0\nrecv 3\nrecv0 0\nrecv 1 'r'\nrecv EAGAIN\n"
               "unnamed getsockname len 2\n"
               "-- connect, errors\n"
               "connect 0\nsendto EPERM\nconnect EPERM\nsend ENOTCONN\n"
               "sendto none ENOENT\nconnect none ENOENT\n"
               "sendto stream EPROTOTYPE\nconnect stream EPROTOTYPE\n"
               "connect 0\nsend 1\nconnect elsewhere 0\nrecv ECONNRESET\nrecv EAGAIN\n"
               "disconnect 0\nclose 0\npoll 4\nrecv EAGAIN\n"
               "send ECONNREFUSED\nsend ENOTCONN\ngetpeername ENOTCONN\n"
               "sendto stale ECONNREFUSED\nconnect stale ECONNREFUSED\n"
               "bind stale EADDRINUSE\n"
               "-- sizes, queues\n"
               "sendto max+1 EMSGSIZE\nsendto max 212960\nrecv 212960\n"
               "11 sent, then EAGAIN\nshutdown 0\n"
               "-- socketpair\n"
               "send 1\nrecv 1 'p' from none\ngetsockname len 2\ngetpeername len 2\n"
               "close 0\npoll 4\nrecv EAGAIN\nsend ECONNREFUSED\nsend ENOTCONN\n");
}

/* The new syscall entries on the real kernel (negated errno, as every entry), and the
   harness's fault-injecting table: its faults apply to sendto/recvfrom and count them. */
TEST(syscalls_sendto_recvfrom)
{
    const aiotp_syscalls *P = aiotp_syscalls_posix();
    const aiotp_syscalls *F = th_syscalls();
    struct sockaddr_storage A;
    struct sockaddr_storage from;
    socklen_t al = lo_addr(AF_INET, 0, &A);
    socklen_t fl = sizeof(from);
    char buf[8];
    int a = P->socket(P->ctx, AF_INET, SOCK_DGRAM, 0);
    int b = P->socket(P->ctx, AF_INET, SOCK_DGRAM, 0);

    CHECK(a >= 0 && b >= 0);
    CHECK_INT(P->bind(P->ctx, a, SA(A), al), 0);
    al = sizeof(A);
    CHECK_INT(P->getsockname(P->ctx, a, SA(A), &al), 0);
    CHECK_INT(P->sendto(P->ctx, -1, "x", 1, 0, SA(A), al), -EBADF);
    CHECK_INT(P->recvfrom(P->ctx, -1, buf, sizeof(buf), 0, NULL, NULL), -EBADF);
    CHECK_INT(P->recvfrom(P->ctx, a, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -EAGAIN);
    CHECK_INT(P->sendto(P->ctx, b, "x", 1, 0, NULL, 0), -EDESTADDRREQ);
    CHECK_INT(F->sendto(F->ctx, b, "hey", 3, 0, SA(A), al), 3);
    CHECK_INT(th_f.sendto_calls, 1);
    th_f.send_errno = ENOBUFS;
    CHECK_INT(F->sendto(F->ctx, b, "no", 2, 0, SA(A), al), -ENOBUFS);
    th_f.send_errno = 0;
    th_f.send_eagain = true;
    CHECK_INT(F->sendto(F->ctx, b, "no", 2, 0, SA(A), al), -EAGAIN);
    th_f.send_eagain = false;
    th_f.send_max = 1; /* not for datagrams */
    CHECK_INT(F->sendto(F->ctx, b, "ok", 2, 0, SA(A), al), 2);
    th_f.send_max = 0;
    CHECK_INT(th_f.sendto_calls, 4);
    th_f.recv_errno = EIO;
    CHECK_INT(F->recvfrom(F->ctx, a, buf, sizeof(buf), 0, SA(from), &fl), -EIO);
    th_f.recv_errno = 0;
    {
        struct pollfd p = {a, POLLIN, 0};
        CHECK_INT(P->poll(P->ctx, &p, 1, 2000), 1);
    }
    CHECK_INT(F->recvfrom(F->ctx, a, buf, sizeof(buf), 0, SA(from), &fl), 3);
    CHECK(memcmp(buf, "hey", 3) == 0);
    CHECK_INT(fl, sizeof(struct sockaddr_in));
    CHECK_INT(th_f.recvfrom_calls, 2);
    CHECK_INT(F->recvfrom(F->ctx, a, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), 2);
    CHECK_INT(P->close(P->ctx, a), 0);
    CHECK_INT(P->close(P->ctx, b), 0);
}

static const th_case cases[] = {
    T(size_at_high_no_pause, "FLOW-4"),
    T(size_high_plus_one_pauses_inside_write, "FLOW-4 FLOW-5 FLOW-6"),
    T(high_zero, "FLOW-2 FLOW-9 FLOW-5"),
    T(low_zero_resume_only_at_empty, "FLOW-5"),
    T(raise_limits_while_paused, "FLOW-7 FLOW-6"),
    T(lower_limits_while_paused, "FLOW-7 FLOW-4 FLOW-5"),
    T(wm1_limits_with_fixed_buffer, "FLOW-3 FLOW-7 FLOW-1"),
    T(wm87_200k_default_limits, "FLOW-1 FLOW-4 FLOW-5 WRITE-WRITE-1 WRITE-WRITE-3"),
    T(wm88_equal_lower_raise, "FLOW-4 FLOW-7"),
    T(wm93_low_zero_partial_drains, "FLOW-5 WRITE-WRITE-1"),
    T(order24_close_drain_lost_same_pass, "BASE-CLOSE-2 PROTO-BASE-2"),
    T(order28_write_eof_after_drain, "WRITE-EOF-2 WRITE-WRITE-4"),
    T(order31_close_with_buffer, "BASE-CLOSE-1 BASE-CLOSE-2 BASE-CLOSE-4"),
    T(order89_write_after_close_delivered, "WRITE-WRITE-5 BASE-CLOSE-2"),
    T(order90_resume_delivers_data_then_eof, "READ-3 PROTO-STREAM-2 PROTO-STREAM-7"),
    T(close_inside_resume_writing, "BASE-CLOSE-2 FLOW-5"),
    T(close_inside_resume_writing_at_empty, "BASE-CLOSE-3 FLOW-5"),
    T(abort_inside_pause_writing, "WRITE-ABORT-1 WRITE-ABORT-2 WRITE-WRITE-5 FLOW-4"),
    T(write_inside_data_received, "PROTO-STREAM-1 WRITE-WRITE-1 WRITE-WRITE-3"),
    T(set_limits_inside_pause_writing, "FLOW-7 FLOW-6"),
    T(peer_reset, "STREAM-ERR-1"),
    T(virtual_time_jumps_to_timer, "PROTO-BASE-1"),
    T(poll_backend_over_sim, "BASE-CLOSE-2 FLOW-4 FLOW-5"),
    T(net_tcp_connect_accept, "STREAM-TCP-1 SRV-3"),
    T(net_connect_failures, "METH-5"),
    T(net_bind_rules, "SRV-1 SRV-8"),
    T(net_backlog, "SRV-2 SRV-5"),
    T(net_socket_options, "STREAM-TCP-1 STREAM-UNIX-1 STREAM-ERR-1"),
    T(net_getaddrinfo, "METH-4"),
    T(net_library_tcp_and_unix, "METH-4 METH-5 SRV-3 SRV-8 STREAM-TCP-1 STREAM-UNIX-1"),
    T(dgram_message_boundaries, "SIM-DGRAM-1"),
    T(dgram_addresses_and_ports, "SIM-DGRAM-2 SIM-DGRAM-7"),
    T(dgram_connect_filter, "SIM-DGRAM-3"),
    T(dgram_icmp_refused, "SIM-DGRAM-4 SIM-DGRAM-6"),
    T(dgram_unix, "SIM-DGRAM-2 SIM-DGRAM-3 SIM-DGRAM-4"),
    T(dgram_limits_and_queues, "SIM-DGRAM-5 SIM-DGRAM-6"),
    T(dgram_readiness, "SIM-DGRAM-6"),
    T(dgram_knobs, "SIM-DGRAM-8"),
    T(dgram_out_of_memory, "SIM-DGRAM-8"),
    T(stream_sendto_recvfrom, "SIM-SYS-1"),
    T(sim_port_range, "SIM-DGRAM-2"),
    T(dgram_corners, "SIM-DGRAM-3 SIM-DGRAM-4"),
    T(sim_api_corners, "SIM-API-1"),
    T(sim_stream_corners, "SIM-API-1"),
    T(syscalls_posix_errors, "SIM-SYS-1"),
    T(agree_udp4, "SIM-DGRAM-9"),
    T(agree_udp6, "SIM-DGRAM-9"),
    T(agree_unix_dgram, "SIM-DGRAM-9"),
    T(syscalls_sendto_recvfrom, "SIM-SYS-1"),
};

TH_MAIN(cases)
