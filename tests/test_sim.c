/* tests/test_sim.c - byte-exact watermark and ordering cases on the simulated kernel
   (aiotp/sim.h) with the real transport code: the loop is made with the sim backend and
   the sim syscall table, and the transport wraps a sim socket with
   create_connection(sock=fd). The kernel's socket buffer is the capacity of the sim
   queue a -> b, so the transport's buffer size is exact at every step; the peer is
   played on b. Every case also runs the trace through the conformance oracle
   (aiotp/oracle.h) and checks that no memory or sim fd is left.

   Scenarios: CPython reference §11 [WM] 1, 87, 88, 93 (adapted to a socket) and [ORDER]
   24, 28, 31, 89, 90, plus re-entrant protocol callbacks. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

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
    CHECK_SIZE(aiotp_sim_open_fds(E.sim), 1); /* a was closed, b is the peer's */
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
    CHECK_STR(view("cb "), "@1 cb data_received n=7 total=7 sum=2a9eb737\n"
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

/* "ip:port" of fd's own (peer = false) or peer's address, for comparing. */
static const char *name_of(int fd, bool peer)
{
    static char out[2][80];
    static int k;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    char *o = out[k++ % 2];
    int rc = peer ? SYS(getpeername, fd, SA(ss), &len) : SYS(getsockname, fd, SA(ss), &len);
    if (rc != 0) {
        snprintf(o, 80, "%s", aiotp_err_name(rc));
    } else if (ss.ss_family == AF_INET && len == (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(o, 80, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6 && len == (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(o, 80, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *u = (const struct sockaddr_un *)(const void *)&ss;
        snprintf(o, 80, "unix:%.*s", (int)(len - offsetof(struct sockaddr_un, sun_path)),
                 len > offsetof(struct sockaddr_un, sun_path) ? u->sun_path : "");
    } else {
        snprintf(o, 80, "family %d len %u", ss.ss_family, (unsigned)len);
    }
    return o;
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
    CHECK_INT(SYS(socket, AF_INET, SOCK_DGRAM, 0), -EPROTONOSUPPORT);
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
};

TH_MAIN(cases)
