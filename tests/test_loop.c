/* tests/test_loop.c - the event loop: ready queue, timers, cancel, stop/run, fd
   watchers, exception handler (spec/rules.md, "Loop", LOOP-1..LOOP-9). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checksum.h"
#include "harness.h"
#include "loop_int.h" /* the handle and timer tables, for the regression tests below */

/* ---- helpers: an order log ------------------------------------------------------- */

static char order[512];

static void log_reset(void)
{
    order[0] = '\0';
}

static void log_add(const char *s)
{
    size_t n = strlen(order);
    size_t k = strlen(s);
    if (n + k < sizeof(order)) {
        memcpy(order + n, s, k + 1);
    }
}

/* call_soon / timer callback: appends its argument (a string) to the log */
static void log_cb(aiotp_loop *loop, void *arg)
{
    (void)loop;
    log_add(arg);
}

/* ---- helpers: a loop with a fake clock and a backend that records the timeout ------ */

static int64_t fake_now;
static int last_timeout;
static long nwaits;
static th_counter fake_mem = {-1, 0};

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static int fb_open(void **st, const aiotp_syscalls *s, const aiotp_allocator *a)
{
    return aiotp_backend_poll()->open(st, s, a);
}

static void fb_close(void *st)
{
    aiotp_backend_poll()->close(st);
}

static int fb_set(void *st, int fd, unsigned ev)
{
    return aiotp_backend_poll()->set(st, fd, ev);
}

/* records the timeout the loop chose, then polls without blocking */
static int fb_wait(void *st, int timeout_ms, aiotp_backend_event *out, size_t cap)
{
    last_timeout = timeout_ms;
    nwaits++;
    return aiotp_backend_poll()->wait(st, 0, out, cap);
}

static const aiotp_backend rec_backend = {sizeof(aiotp_backend), "rec", fb_open, fb_close,
                                          fb_set, fb_wait};

static const aiotp_allocator fake_alloc = TH_COUNTING_ALLOCATOR(&fake_mem);
static aiotp_syscalls fake_sys;

static aiotp_loop *fake_loop(void)
{
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    int rc;

    fake_sys = *aiotp_syscalls_posix();
    fake_sys.clock_ns = fake_clock;
    fake_now = 1000 * AIOTP_NS_PER_SEC;
    last_timeout = -2;
    nwaits = 0;
    fake_mem.live = 0;
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.backend = &rec_backend;
    o.syscalls = &fake_sys;
    o.allocator = &fake_alloc;
    rc = aiotp_loop_create(&loop, &o);
    CHECK_ERR(rc, 0);
    if (rc != 0) {
        exit(1);
    }
    return loop;
}

static void fake_loop_free(aiotp_loop *loop)
{
    aiotp_loop_free(loop);
    CHECK_SIZE(fake_mem.live, 0);
}

/* ---- LOOP-3, LOOP-6: the ready queue ------------------------------------------------- */

TEST(call_soon_fifo)
{
    aiotp_loop *loop = th_loop();
    static const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    aiotp_handle h[8];
    uint64_t it;
    size_t i;

    log_reset();
    for (i = 0; i < 8; i++) {
        h[i] = 0;
        CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)names[i], &h[i]), 0);
        CHECK(h[i] != 0);
        if (i > 0) {
            CHECK(h[i] != h[i - 1]);
        }
    }
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"z", NULL), 0); /* out NULL ok */
    CHECK_STR(order, "");
    it = aiotp_loop_iteration(loop);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(aiotp_loop_iteration(loop), it + 1);
    CHECK_STR(order, "abcdefghz"); /* all in one pass, in FIFO order */
}

/* A callback that schedules more work: the new callbacks wait for the next pass. */
static void chain_a(aiotp_loop *loop, void *arg)
{
    (void)arg;
    log_add("A");
    (void)aiotp_loop_call_soon(loop, log_cb, (void *)"c", NULL);
    (void)aiotp_loop_call_soon(loop, log_cb, (void *)"d", NULL);
}

static void chain_b(aiotp_loop *loop, void *arg)
{
    (void)arg;
    log_add("B");
    (void)aiotp_loop_call_soon(loop, log_cb, (void *)"e", NULL);
}

TEST(queued_in_pass_runs_next_pass)
{
    aiotp_loop *loop = th_loop();
    uint64_t it = aiotp_loop_iteration(loop);

    log_reset();
    CHECK_ERR(aiotp_loop_call_soon(loop, chain_a, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, chain_b, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "AB");
    CHECK_INT(aiotp_loop_iteration(loop), it + 1);
    /* c, d, e are ready: the next pass must not block (LOOP-2) and runs them in order */
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "ABcde");
    CHECK_INT(aiotp_loop_iteration(loop), it + 2);
}

static int resched_count;

static void resched(aiotp_loop *loop, void *arg)
{
    (void)arg;
    resched_count++;
    (void)aiotp_loop_call_soon(loop, resched, NULL, NULL);
}

/* A callback rescheduling itself runs once per pass, never twice in one pass. */
TEST(self_rescheduling_callback)
{
    aiotp_loop *loop = th_loop();
    int i;

    resched_count = 0;
    log_reset();
    CHECK_ERR(aiotp_loop_call_soon(loop, resched, NULL, NULL), 0);
    for (i = 1; i <= 5; i++) {
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
        CHECK_INT(resched_count, i);
    }
}

/* ---- LOOP-2: the wait timeout ------------------------------------------------------------ */

TEST(wait_timeout_choice)
{
    aiotp_loop *loop = fake_loop();
    aiotp_handle far = 0;

    log_reset();
    /* a timer 10 s away and nothing ready: wait up to 10 s */
    CHECK_ERR(aiotp_loop_call_later(loop, 10 * AIOTP_NS_PER_SEC, log_cb, (void *)"T", &far), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 10000);
    CHECK_STR(order, "");
    /* a ready callback: do not block */
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"s", NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 0);
    CHECK_STR(order, "s");
    /* partial milliseconds are rounded up, so the wait never ends early */
    fake_now += 10 * AIOTP_NS_PER_SEC - 1500000; /* 1.5 ms before the timer */
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 2);
    CHECK_STR(order, "s");
    /* a cancelled timer is purged first: no timer left, no limit */
    CHECK_ERR(aiotp_loop_cancel(loop, far), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, -1);
    CHECK_STR(order, "s");
    fake_loop_free(loop);
}

/* stop() before run(): the loop is stopping, so the one pass it runs does not block. */
TEST(stop_before_run_one_pass)
{
    aiotp_loop *loop = fake_loop();
    uint64_t it;

    log_reset();
    CHECK_ERR(aiotp_loop_call_later(loop, 10 * AIOTP_NS_PER_SEC, log_cb, (void *)"T", NULL), 0);
    it = aiotp_loop_iteration(loop);
    aiotp_loop_stop(loop);
    CHECK_ERR(aiotp_loop_run(loop), 0);
    CHECK_INT(aiotp_loop_iteration(loop), it + 1);
    CHECK_INT(last_timeout, 0);
    CHECK_INT(nwaits, 1);
    CHECK_STR(order, "");
    CHECK_INT(aiotp_loop_is_running(loop), 0);
    fake_loop_free(loop);
}

/* ---- LOOP-5: timers ------------------------------------------------------------------------ */

typedef struct tmr {
    const char *name;
    aiotp_time when;
    aiotp_time ran_at;
    int runs;
} tmr;

static void tmr_cb(aiotp_loop *loop, void *arg)
{
    tmr *m = arg;
    m->runs++;
    m->ran_at = aiotp_loop_time(loop);
    log_add(m->name);
}

TEST(timers_time_order_fake_clock)
{
    aiotp_loop *loop = fake_loop();
    aiotp_time base = aiotp_loop_time(loop);
    tmr m[6] = {{"a", 300, 0, 0}, {"b", 100, 0, 0}, {"c", 200, 0, 0},
                {"d", 200, 0, 0}, {"e", 100, 0, 0}, {"f", 250, 0, 0}};
    size_t i;

    log_reset();
    for (i = 0; i < 6; i++) {
        m[i].when = base + m[i].when * AIOTP_NS_PER_MS;
        if (i % 2 == 0) {
            CHECK_ERR(aiotp_loop_call_at(loop, m[i].when, tmr_cb, &m[i], NULL), 0);
        } else {
            CHECK_ERR(aiotp_loop_call_later(loop, m[i].when - base, tmr_cb, &m[i], NULL), 0);
        }
    }
    fake_now = base + 150 * AIOTP_NS_PER_MS;
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "be"); /* equal times: scheduling order */
    fake_now = base + 1000 * AIOTP_NS_PER_MS;
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "becdfa");
    for (i = 0; i < 6; i++) {
        CHECK_INT(m[i].runs, 1);
        CHECK(m[i].ran_at >= m[i].when);
    }
    fake_loop_free(loop);
}

TEST(timer_never_early_fake_clock)
{
    aiotp_loop *loop = fake_loop();
    tmr m = {"t", 0, 0, 0};
    int i;

    log_reset();
    m.when = aiotp_loop_time(loop) + 100 * AIOTP_NS_PER_MS;
    CHECK_ERR(aiotp_loop_call_later(loop, 100 * AIOTP_NS_PER_MS, tmr_cb, &m, NULL), 0);
    /* the backend returns at once although the loop asked to wait 100 ms: the clock has
       not moved, so the timer must not run */
    for (i = 0; i < 3; i++) {
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
        CHECK_INT(last_timeout, 100);
        CHECK_INT(m.runs, 0);
    }
    fake_now = m.when - 1; /* one nanosecond early */
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 1);
    CHECK_INT(m.runs, 0);
    fake_now = m.when;
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(m.runs, 1);
    CHECK_INT(m.ran_at, m.when);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(m.runs, 1); /* once */
    fake_loop_free(loop);
}

static bool all_ran(void *arg)
{
    tmr *m = arg;
    size_t i;
    for (i = 0; i < 4; i++) {
        if (m[i].runs == 0) {
            return false;
        }
    }
    return true;
}

/* The real clock: timers run in time order and never before their time. */
TEST(timers_real_clock)
{
    aiotp_loop *loop = th_loop();
    tmr m[4] = {{"x", 0, 0, 0}, {"y", 0, 0, 0}, {"z", 0, 0, 0}, {"w", 0, 0, 0}};
    aiotp_time now = aiotp_loop_time(loop);
    size_t i;

    log_reset();
    CHECK(now > 0);
    m[0].when = now + 30 * AIOTP_NS_PER_MS;
    m[1].when = now + 5 * AIOTP_NS_PER_MS;
    m[2].when = now + 15 * AIOTP_NS_PER_MS;
    m[3].when = m[2].when; /* same time as z, scheduled later */
    CHECK_ERR(aiotp_loop_call_at(loop, m[0].when, tmr_cb, &m[0], NULL), 0);
    CHECK_ERR(aiotp_loop_call_at(loop, m[1].when, tmr_cb, &m[1], NULL), 0);
    CHECK_ERR(aiotp_loop_call_at(loop, m[2].when, tmr_cb, &m[2], NULL), 0);
    CHECK_ERR(aiotp_loop_call_at(loop, m[3].when, tmr_cb, &m[3], NULL), 0);
    th_run_until(loop, all_ran, m, 100);
    CHECK_STR(order, "yzwx");
    for (i = 0; i < 4; i++) {
        CHECK_INT(m[i].runs, 1);
        CHECK(m[i].ran_at >= m[i].when);
    }
    CHECK(aiotp_loop_time(loop) >= now + 30 * AIOTP_NS_PER_MS);
}

/* A negative delay counts as 0: due at once, after the callbacks already queued. */
TEST(call_later_negative_delay)
{
    aiotp_loop *loop = fake_loop();
    aiotp_time now = aiotp_loop_time(loop);
    tmr m = {"n", 0, 0, 0};

    log_reset();
    CHECK_ERR(aiotp_loop_call_later(loop, -5 * AIOTP_NS_PER_SEC, tmr_cb, &m, NULL), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"s", NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(m.runs, 1);
    CHECK_INT(m.ran_at, now);
    CHECK_STR(order, "sn"); /* ready callbacks first, then due timers (step 5) */
    fake_loop_free(loop);
}

/* ---- LOOP-1: cancel ------------------------------------------------------------------------- */

TEST(cancel_ready_handle)
{
    aiotp_loop *loop = th_loop();
    aiotp_handle a = 0;
    aiotp_handle b = 0;
    aiotp_handle c = 0;

    log_reset();
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"a", &a), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"b", &b), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"c", &c), 0);
    CHECK_ERR(aiotp_loop_cancel(loop, b), 0);
    CHECK_ERR(aiotp_loop_cancel(loop, b), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "ac");
    CHECK_ERR(aiotp_loop_cancel(loop, b), AIOTP_ENOENT);
    /* handles that ran */
    CHECK_ERR(aiotp_loop_cancel(loop, a), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel(loop, c), AIOTP_ENOENT);
    th_run_passes(loop, 2);
    CHECK_STR(order, "ac");
}

TEST(cancel_timer_handle)
{
    aiotp_loop *loop = fake_loop();
    aiotp_handle h1 = 0;
    aiotp_handle h2 = 0;
    tmr m1 = {"1", 0, 0, 0};
    tmr m2 = {"2", 0, 0, 0};

    log_reset();
    CHECK_ERR(aiotp_loop_call_later(loop, 10 * AIOTP_NS_PER_MS, tmr_cb, &m1, &h1), 0);
    CHECK_ERR(aiotp_loop_call_later(loop, 10 * AIOTP_NS_PER_MS, tmr_cb, &m2, &h2), 0);
    CHECK_ERR(aiotp_loop_cancel(loop, h1), 0);
    CHECK_ERR(aiotp_loop_cancel(loop, h1), AIOTP_ENOENT);
    fake_now += AIOTP_NS_PER_SEC;
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(m1.runs, 0);
    CHECK_INT(m2.runs, 1);
    CHECK_ERR(aiotp_loop_cancel(loop, h1), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel(loop, h2), AIOTP_ENOENT); /* ran */
    fake_now += AIOTP_NS_PER_SEC;
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(m1.runs, 0);
    CHECK_INT(m2.runs, 1);
    CHECK_STR(order, "2");
    fake_loop_free(loop);
}

/* Handles that never existed, handle 0, and a stale handle whose slot was reused. */
TEST(cancel_unknown_and_stale_handles)
{
    aiotp_loop *loop = th_loop();
    aiotp_handle old = 0;
    aiotp_handle fresh = 0;

    log_reset();
    CHECK_ERR(aiotp_loop_cancel(loop, 0), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel(loop, (aiotp_handle)1), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel(loop, (aiotp_handle)0xdeadbeef00000005ull), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel(loop, UINT64_MAX), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"o", &old), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"f", &fresh), 0);
    CHECK(fresh != old);
    CHECK_ERR(aiotp_loop_cancel(loop, old), AIOTP_ENOENT); /* must not hit "f" */
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "of");
}

/* Cancelling a handle queued for the same pass, from an earlier callback of that pass. */
static aiotp_handle victim;

static void canceller(aiotp_loop *loop, void *arg)
{
    (void)arg;
    log_add("K");
    CHECK_ERR(aiotp_loop_cancel(loop, victim), 0);
}

TEST(cancel_inside_same_pass)
{
    aiotp_loop *loop = fake_loop();
    aiotp_handle t = 0;

    log_reset();
    CHECK_ERR(aiotp_loop_call_soon(loop, canceller, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"v", &victim), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"w", NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "Kw");
    /* a due timer queued in the same pass as its canceller */
    CHECK_ERR(aiotp_loop_call_later(loop, 0, canceller, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_call_later(loop, 0, log_cb, (void *)"t", &t), 0);
    victim = t;
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "KwK");
    CHECK_ERR(aiotp_loop_cancel(loop, t), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "KwK");
    fake_loop_free(loop);
}

/* ---- LOOP-7: stop and re-entrance ------------------------------------------------------------ */

static bool was_running;

static void stopper(aiotp_loop *loop, void *arg)
{
    (void)arg;
    log_add("S");
    was_running = aiotp_loop_is_running(loop);
    aiotp_loop_stop(loop);
    (void)aiotp_loop_call_soon(loop, log_cb, (void *)"n", NULL); /* next pass */
}

static void stopper2(aiotp_loop *loop, void *arg)
{
    (void)arg;
    log_add("2");
    aiotp_loop_stop(loop);
}

TEST(stop_inside_callback)
{
    aiotp_loop *loop = th_loop();
    uint64_t it = aiotp_loop_iteration(loop);

    log_reset();
    was_running = false;
    CHECK_INT(aiotp_loop_is_running(loop), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, stopper, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"c", NULL), 0);
    CHECK_ERR(aiotp_loop_run(loop), 0);
    /* the rest of the current pass ran, the callback queued in it did not */
    CHECK_STR(order, "Sc");
    CHECK_INT(aiotp_loop_iteration(loop), it + 1);
    CHECK_INT(was_running, 1);
    CHECK_INT(aiotp_loop_is_running(loop), 0);
    /* the stop request is consumed: the next run() runs until the next stop() */
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"x", NULL), 0);
    CHECK_ERR(aiotp_loop_call_later(loop, 2 * AIOTP_NS_PER_MS, stopper2, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run(loop), 0);
    CHECK_STR(order, "Scnx2");
    CHECK(aiotp_loop_iteration(loop) >= it + 2);
}

static int inner_run_rc;
static int inner_once_rc;

static void reenter(aiotp_loop *loop, void *arg)
{
    (void)arg;
    inner_run_rc = aiotp_loop_run(loop);
    inner_once_rc = aiotp_loop_run_once(loop);
    aiotp_loop_free(loop); /* refused while running: nothing happens */
    log_add("R");
}

TEST(run_inside_callback)
{
    aiotp_loop *loop = th_loop();
    uint64_t it = aiotp_loop_iteration(loop);

    log_reset();
    inner_run_rc = 1;
    inner_once_rc = 1;
    CHECK_ERR(aiotp_loop_call_soon(loop, reenter, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"a", NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_ERR(inner_run_rc, AIOTP_ERUNNING);
    CHECK_ERR(inner_once_rc, AIOTP_ERUNNING);
    CHECK_STR(order, "Ra");
    CHECK_INT(aiotp_loop_iteration(loop), it + 1); /* the inner calls ran no pass */
    /* the loop survived the refused free and still works */
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"b", NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "Rab");
}

/* ---- LOOP-8, LOOP-4: fd watchers --------------------------------------------------------------- */

typedef struct fdw {
    const char *name;
    int calls;
    int last_fd;
    bool consume; /* read one byte per call */
    bool remove;  /* remove itself (writer) */
} fdw;

static void fdw_cb(aiotp_loop *loop, int fd, void *arg)
{
    fdw *w = arg;
    char c;
    w->calls++;
    w->last_fd = fd;
    log_add(w->name);
    if (w->consume) {
        (void)!recv(fd, &c, 1, MSG_DONTWAIT);
    }
    if (w->remove) {
        (void)aiotp_loop_remove_writer(loop, fd);
    }
}

TEST(reader_called_when_readable)
{
    aiotp_loop *loop = th_loop();
    int sv[2];
    fdw a = {"a", 0, -1, true, false};
    fdw b = {"b", 0, -1, true, false};

    log_reset();
    th_socketpair(sv);
    CHECK_ERR(aiotp_loop_add_reader(loop, sv[0], fdw_cb, &a), 0);
    th_run_once(loop);
    CHECK_INT(a.calls, 0); /* nothing to read */
    CHECK_INT(write(sv[1], "xy", 2), 2);
    th_run_once(loop);
    CHECK_INT(a.calls, 1);
    CHECK_INT(a.last_fd, sv[0]);
    th_run_once(loop); /* level-triggered: the second byte is still there */
    CHECK_INT(a.calls, 2);
    th_run_once(loop);
    CHECK_INT(a.calls, 2);
    /* a second add_reader replaces the first */
    CHECK_ERR(aiotp_loop_add_reader(loop, sv[0], fdw_cb, &b), 0);
    CHECK_INT(write(sv[1], "z", 1), 1);
    th_run_once(loop);
    CHECK_INT(a.calls, 2);
    CHECK_INT(b.calls, 1);
    CHECK_INT(b.last_fd, sv[0]);
    CHECK_ERR(aiotp_loop_remove_reader(loop, sv[0]), 1);
    CHECK_ERR(aiotp_loop_remove_reader(loop, sv[0]), 0);
    CHECK_ERR(aiotp_loop_remove_writer(loop, sv[0]), 0);
    CHECK_INT(write(sv[1], "q", 1), 1);
    th_run_once(loop);
    CHECK_INT(a.calls, 2);
    CHECK_INT(b.calls, 1);
    CHECK_STR(order, "aab");
    /* an fd the loop has never seen */
    CHECK_ERR(aiotp_loop_remove_reader(loop, 1000), 0);
    CHECK_ERR(aiotp_loop_remove_writer(loop, 1000), 0);
    close(sv[0]);
    close(sv[1]);
}

/* An event already queued for a reader that is replaced before it runs is dropped (the
   old reader does not run; the new one waits for the next poll). */
static fdw *swap_to;
static int swap_fd;

static void swapper(aiotp_loop *loop, void *arg)
{
    (void)arg;
    log_add("S");
    CHECK_ERR(aiotp_loop_add_reader(loop, swap_fd, fdw_cb, swap_to), 0);
}

TEST(reader_replaced_drops_queued_event)
{
    aiotp_loop *loop = th_loop();
    int sv[2];
    fdw a = {"a", 0, -1, true, false};
    fdw b = {"b", 0, -1, true, false};

    log_reset();
    th_socketpair(sv);
    CHECK_INT(write(sv[1], "x", 1), 1);
    CHECK_ERR(aiotp_loop_add_reader(loop, sv[0], fdw_cb, &a), 0);
    swap_to = &b;
    swap_fd = sv[0];
    /* queued before the pass, so it runs before the pass's I/O callbacks */
    CHECK_ERR(aiotp_loop_call_soon(loop, swapper, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "S");
    CHECK_INT(a.calls, 0);
    CHECK_INT(b.calls, 0);
    th_run_once(loop);
    CHECK_STR(order, "Sb");
    CHECK_INT(b.calls, 1);
    CHECK_ERR(aiotp_loop_remove_reader(loop, sv[0]), 1);
    close(sv[0]);
    close(sv[1]);
}

TEST(writer_called_when_writable)
{
    aiotp_loop *loop = th_loop();
    int sv[2];
    fdw w = {"w", 0, -1, false, false};
    fdw w2 = {"W", 0, -1, false, true};

    log_reset();
    th_socketpair(sv);
    CHECK_ERR(aiotp_loop_add_writer(loop, sv[0], fdw_cb, &w), 0);
    th_run_once(loop);
    CHECK_INT(w.calls, 1);
    CHECK_INT(w.last_fd, sv[0]);
    th_run_once(loop);
    CHECK_INT(w.calls, 2); /* still writable */
    CHECK_ERR(aiotp_loop_add_writer(loop, sv[0], fdw_cb, &w2), 0); /* replaces */
    th_run_once(loop);
    CHECK_INT(w.calls, 2);
    CHECK_INT(w2.calls, 1);
    /* w2 removed itself */
    CHECK_ERR(aiotp_loop_remove_writer(loop, sv[0]), 0);
    th_run_once(loop);
    CHECK_INT(w2.calls, 1);
    CHECK_ERR(aiotp_loop_add_writer(loop, sv[0], fdw_cb, &w), 0);
    CHECK_ERR(aiotp_loop_remove_writer(loop, sv[0]), 1);
    CHECK_ERR(aiotp_loop_remove_writer(loop, sv[0]), 0);
    th_run_once(loop);
    CHECK_INT(w.calls, 2);
    CHECK_STR(order, "wwW");
    close(sv[0]);
    close(sv[1]);
}

/* One fd both readable and writable: the reader runs first, whatever the order in which
   the two were registered. */
TEST(reader_before_writer)
{
    aiotp_loop *loop = th_loop();
    int sv[2];
    fdw r = {"r", 0, -1, true, false};
    fdw w = {"w", 0, -1, false, true};

    log_reset();
    th_socketpair(sv);
    CHECK_INT(write(sv[1], "x", 1), 1);
    CHECK_ERR(aiotp_loop_add_writer(loop, sv[0], fdw_cb, &w), 0);
    CHECK_ERR(aiotp_loop_add_reader(loop, sv[0], fdw_cb, &r), 0);
    th_run_once(loop);
    CHECK_STR(order, "rw");
    CHECK_ERR(aiotp_loop_remove_reader(loop, sv[0]), 1);
    close(sv[0]);
    close(sv[1]);
}

/* The fd of a transport is off limits until its connection_lost has run (also while it
   is closing). */
TEST(transport_fd_busy)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    fdw w = {"w", 0, -1, false, false};
    int sv[2];
    aiotp_transport *t;
    char expect[256];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_loop_add_reader(loop, sv[0], fdw_cb, &w), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_add_writer(loop, sv[0], fdw_cb, &w), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_remove_reader(loop, sv[0]), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_remove_writer(loop, sv[0]), AIOTP_EBUSY);
    /* the transport is untouched: it still reads */
    CHECK_INT(write(sv[1], "hello", 5), 5);
    th_run_once(loop);
    CHECK_INT(r->chunks, 1);
    CHECK_SIZE(r->rx_len, 5);
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    /* still the transport's while closing: until its connection_lost has run */
    CHECK_ERR(aiotp_loop_add_reader(loop, sv[0], fdw_cb, &w), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_remove_reader(loop, sv[0]), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_add_writer(loop, sv[0], fdw_cb, &w), AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_remove_writer(loop, sv[0]), AIOTP_EBUSY);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(w.calls, 0);
    CHECK_INT(r->lost, 1);
    snprintf(expect, sizeof(expect),
             "cb connection_made\ncb data_received n=5 total=5 sum=%08x\n"
             "cb connection_lost status=0\n",
             (unsigned)th_sum(TH_SUM_INIT, "hello", 5));
    CHECK_STR(th_callbacks(1), expect);
    close(sv[1]);
}

TEST(negative_fd_and_null_callback)
{
    aiotp_loop *loop = th_loop();
    fdw w = {"w", 0, -1, false, false};
    int sv[2];

    CHECK_ERR(aiotp_loop_add_reader(loop, -1, fdw_cb, &w), AIOTP_EBADF);
    CHECK_ERR(aiotp_loop_add_writer(loop, -1, fdw_cb, &w), AIOTP_EBADF);
    CHECK_ERR(aiotp_loop_add_reader(loop, -7, fdw_cb, &w), AIOTP_EBADF);
    CHECK_ERR(aiotp_loop_remove_reader(loop, -1), AIOTP_EBADF);
    CHECK_ERR(aiotp_loop_remove_writer(loop, -1), AIOTP_EBADF);
    th_socketpair(sv);
    CHECK_ERR(aiotp_loop_add_reader(loop, sv[0], NULL, &w), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_writer(loop, sv[0], NULL, &w), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_remove_reader(loop, sv[0]), 0);
    CHECK_ERR(aiotp_loop_remove_writer(loop, sv[0]), 0);
    th_run_once(loop);
    CHECK_INT(w.calls, 0);
    close(sv[0]);
    close(sv[1]);
}

/* ---- LOOP-9: the exception handler -------------------------------------------------------------- */

typedef struct exc_rec {
    int calls;
    aiotp_loop *loop;
    aiotp_exception_context ctx;
    const aiotp_exception_context *ptr;
    char message[160];
} exc_rec;

static void exc_handler(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    exc_rec *e = arg;
    e->calls++;
    e->loop = loop;
    e->ctx = *ctx;
    e->ptr = ctx;
    snprintf(e->message, sizeof(e->message), "%s", ctx->message ? ctx->message : "(null)");
}

TEST(exception_handler_context)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    exc_rec e;
    int sv[2];
    aiotp_transport *t;
    char expect[256];

    memset(&e, 0, sizeof(e));
    log_reset();
    aiotp_loop_set_exception_handler(loop, exc_handler, &e);
    r->data_ret = -42;
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(write(sv[1], "hello", 5), 5);
    th_run_once(loop);
    /* reported synchronously, inside the read callback, before the transport closes */
    CHECK_INT(e.calls, 1);
    CHECK(e.loop == loop);
    CHECK_STR(e.message, "Fatal error: protocol.data_received() call failed.");
    CHECK_ERR(e.ctx.status, -42);
    CHECK(e.ctx.transport == t);
    CHECK(e.ctx.protocol == &th_streaming);
    CHECK(e.ctx.protocol_data == r);
    CHECK(e.ctx.server == NULL);
    CHECK_INT(r->lost, 0);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    th_run_once(loop);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -42);
    CHECK_INT(e.calls, 1);
    snprintf(expect, sizeof(expect),
             "cb connection_made\ncb data_received n=5 total=5 sum=%08x\n"
             "cb connection_lost status=%s\n",
             (unsigned)th_sum(TH_SUM_INIT, "hello", 5), aiotp_err_name(-42));
    CHECK_STR(th_callbacks(1), expect);
    /* the loop carries on */
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"ok", NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "ok");
    close(sv[1]);
}

TEST(call_exception_handler_direct)
{
    aiotp_loop *loop = th_loop();
    exc_rec e;
    aiotp_exception_context ctx;

    memset(&e, 0, sizeof(e));
    memset(&ctx, 0, sizeof(ctx));
    ctx.message = "custom";
    ctx.status = -EPIPE;
    ctx.protocol_data = &e;
    aiotp_loop_set_exception_handler(loop, exc_handler, &e);
    aiotp_loop_call_exception_handler(loop, &ctx);
    CHECK_INT(e.calls, 1);
    CHECK(e.ptr == &ctx); /* passed through unchanged */
    CHECK_STR(e.message, "custom");
    CHECK_ERR(e.ctx.status, -EPIPE);
    CHECK(e.ctx.transport == NULL);
    CHECK(e.ctx.protocol == NULL);
    CHECK(e.ctx.protocol_data == &e);
    aiotp_loop_call_exception_handler(loop, NULL); /* ignored */
    CHECK_INT(e.calls, 1);
}

/* Runs fn(loop) with stderr redirected to a temporary file; returns what was printed. */
static char captured[4096];

static void capture_stderr_begin(int *saved, FILE **tmp)
{
    fflush(stderr);
    *saved = dup(2);
    *tmp = tmpfile();
    if (*saved < 0 || *tmp == NULL) {
        th_fail(__FILE__, __LINE__, "cannot capture stderr");
        exit(1);
    }
    dup2(fileno(*tmp), 2);
}

static void capture_stderr_end(int saved, FILE *tmp)
{
    size_t n;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    n = fread(captured, 1, sizeof(captured) - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
}

TEST(default_exception_handler_prints)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    exc_rec e;
    aiotp_exception_context ctx;
    int saved;
    FILE *tmp;
    int sv[2];

    memset(&e, 0, sizeof(e));
    memset(&ctx, 0, sizeof(ctx));
    log_reset();
    /* set, then restore the default with NULL */
    aiotp_loop_set_exception_handler(loop, exc_handler, &e);
    aiotp_loop_set_exception_handler(loop, NULL, NULL);
    ctx.message = "something broke";
    ctx.status = -EPIPE;

    capture_stderr_begin(&saved, &tmp);
    aiotp_loop_call_exception_handler(loop, &ctx);
    aiotp_loop_default_exception_handler(loop, NULL); /* ignored, no crash */
    ctx.message = NULL;
    ctx.status = 0;
    aiotp_loop_default_exception_handler(loop, &ctx); /* no message: still no crash */
    capture_stderr_end(saved, tmp);
    CHECK_INT(e.calls, 0);
    CHECK(strstr(captured, "something broke") != NULL);
    CHECK(strstr(captured, "EPIPE") != NULL);

    /* a failing data_received with the default handler: printed, the loop carries on */
    r->data_ret = -42;
    th_socketpair(sv);
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(write(sv[1], "hello", 5), 5);
    capture_stderr_begin(&saved, &tmp);
    th_run_once(loop);
    capture_stderr_end(saved, tmp);
    CHECK(strstr(captured, "Fatal error: protocol.data_received() call failed.") != NULL);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, -42);
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"ok", NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "ok");
    close(sv[1]);
}


/* ---- regressions (issue 9): the loop's corners ---------------------------------------- */

/* Defect 7: a time far in the past (INT64_MIN) is simply due: no overflow computing the
   wait timeout, the pass does not block, the callbacks run in scheduling order. And far in
   the future with a negative clock: the wait is capped at a day, not "due now". */
TEST(call_at_far_past_and_future)
{
    aiotp_loop *loop = fake_loop();
    aiotp_handle h = 0;

    log_reset();
    CHECK_ERR(aiotp_loop_call_at(loop, INT64_MIN, log_cb, (void *)"a", NULL), 0);
    CHECK_ERR(aiotp_loop_call_at(loop, INT64_MIN + 1, log_cb, (void *)"b", NULL), 0);
    CHECK_ERR(aiotp_loop_call_at(loop, INT64_MIN, log_cb, (void *)"c", NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 0);
    CHECK_STR(order, "acb");
    /* a clock below zero and a timer at INT64_MAX: more than a day away */
    fake_now = INT64_MIN / 2;
    CHECK_ERR(aiotp_loop_call_at(loop, INT64_MAX, log_cb, (void *)"z", &h), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 86400000);
    CHECK_STR(order, "acb");
    /* call_later with the largest delay from a negative clock: no overflow either */
    CHECK_ERR(aiotp_loop_cancel(loop, h), 0);
    CHECK_ERR(aiotp_loop_call_later(loop, INT64_MAX, log_cb, (void *)"y", &h), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 86400000);
    CHECK_ERR(aiotp_loop_cancel(loop, h), 0);
    /* 1.5 ms ahead of a negative clock: rounded up to 2 ms */
    CHECK_ERR(aiotp_loop_call_at(loop, fake_now + 1500000, log_cb, (void *)"d", NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 2);
    fake_now += 1500000;
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "acbd");
    fake_loop_free(loop);
}

/* Defect 9: stop() is spent by the pass it makes non-blocking: run_once() after a stop()
   does not block once, and the next run_once() waits again (CPython: the stop flag is
   cleared when run_forever returns). */
static void stop_logged(aiotp_loop *loop, void *arg)
{
    (void)arg;
    log_add("S");
    aiotp_loop_stop(loop);
}

TEST(stop_spent_by_run_once)
{
    aiotp_loop *loop = fake_loop();
    uint64_t it;

    log_reset();
    CHECK_ERR(aiotp_loop_call_later(loop, 10 * AIOTP_NS_PER_SEC, log_cb, (void *)"T", NULL), 0);
    aiotp_loop_stop(loop);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 10000); /* waits again */
    /* stop() inside a callback of a run_once() pass: spent by that pass too */
    CHECK_ERR(aiotp_loop_call_soon(loop, stop_logged, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 0); /* a callback was ready */
    CHECK_STR(order, "S");
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 10000);
    /* and it does not leak into a later run(): run() goes on until stopped again */
    it = aiotp_loop_iteration(loop);
    CHECK_ERR(aiotp_loop_call_soon(loop, stop_logged, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run(loop), 0);
    CHECK_INT(aiotp_loop_iteration(loop), it + 1);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(last_timeout, 10000);
    CHECK_STR(order, "SS");
    fake_loop_free(loop);
}

/* Defect 12: a slot whose generation would wrap is retired, so a stale handle can never
   name a later callback, however many times its slot was reused. The slot's generation is
   pushed to the last one by hand (2^32 reuses take an hour). */
TEST(stale_handle_after_generation_runs_out)
{
    aiotp_loop *loop = fake_loop();
    aiotp_handle first = 0;
    aiotp_handle last = 0;
    aiotp_handle next = 0;
    uint32_t slot;

    log_reset();
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"1", &first), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    slot = (uint32_t)(first & 0xffffffffu) - 1u;
    CHECK_INT(first >> 32, 1); /* generation 1 */
    CHECK_INT(loop->handles.slot[slot].gen, 2);
    loop->handles.slot[slot].gen = AIOTP__HANDLE_GEN_MAX - 1u; /* as after 2^32 - 2 reuses */
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"2", &last), 0);
    CHECK_INT((last & 0xffffffffu) - 1u, slot); /* the same slot (LIFO), its last generation */
    CHECK_INT(last >> 32, AIOTP__HANDLE_GEN_MAX - 1u);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(loop->handles.retired, 1);
    /* the slot is retired: the next callback gets another one, and the first handle
       (generation 1, which a wrapped counter would give again) names nothing */
    CHECK_ERR(aiotp_loop_call_soon(loop, log_cb, (void *)"3", &next), 0);
    CHECK((next & 0xffffffffu) - 1u != slot);
    CHECK_ERR(aiotp_loop_cancel(loop, first), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel(loop, last), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_cancel(loop, ((aiotp_handle)1 << 32) | (slot + 1u)), AIOTP_ENOENT);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "123");
    fake_loop_free(loop);
}

/* Design weakness (issue 9): re-arming an idle timeout a million times keeps one timer in
   the heap and two slots, with no allocation after the first round: a cancelled timer
   leaves the heap at once. */
TEST(rearmed_timeout_keeps_heap_small)
{
    aiotp_loop *loop = fake_loop();
    aiotp_handle h = 0;
    size_t live;
    long i;

    log_reset();
    CHECK_ERR(aiotp_loop_call_later(loop, 10 * AIOTP_NS_PER_SEC, log_cb, (void *)"x", &h), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0); /* the first pass sizes the event array */
    live = fake_mem.live;
    for (i = 0; i < 1000000; i++) {
        CHECK_ERR(aiotp_loop_cancel(loop, h), 0);
        CHECK_ERR(aiotp_loop_call_later(loop, 10 * AIOTP_NS_PER_SEC, log_cb, (void *)"t", &h),
                  0);
        if (i % 1000 == 0) {
            fake_now += AIOTP_NS_PER_MS;
            CHECK_ERR(aiotp_loop_run_once(loop), 0);
        }
    }
    CHECK_INT(loop->timers.n, 1);
    CHECK(loop->handles.used <= 2);
    CHECK_SIZE(fake_mem.live, live);
    CHECK(loop->timers.cap <= 16 && loop->rq.cap <= 64);
    fake_now += 11 * AIOTP_NS_PER_SEC;
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_STR(order, "t"); /* only the last one runs */
    CHECK_INT(loop->timers.n, 0);
    fake_loop_free(loop);
}

/* Many timers, a few distinct times, a third cancelled (some from inside callbacks): the
   others run in time order, equal times in scheduling order, each once. */
typedef struct ord_tmr {
    int64_t when;
    int idx;
    int runs;
    int cancelled;
    aiotp_handle h;
} ord_tmr;

static ord_tmr otm[600];
static int oran[600];
static int noran;

static void ord_cb(aiotp_loop *loop, void *arg)
{
    ord_tmr *m = arg;
    m->runs++;
    oran[noran++] = m->idx;
    /* every 7th one cancels the timer scheduled right after it, if still pending */
    if (m->idx % 7 == 0 && m->idx + 1 < 600 && !otm[m->idx + 1].cancelled &&
        otm[m->idx + 1].runs == 0) {
        if (aiotp_loop_cancel(loop, otm[m->idx + 1].h) == 0) {
            otm[m->idx + 1].cancelled = 1;
        }
    }
}

TEST(timer_heap_order_with_cancels)
{
    aiotp_loop *loop = fake_loop();
    unsigned x = 12345u;
    int i;
    int k;

    noran = 0;
    for (i = 0; i < 600; i++) {
        x = x * 1103515245u + 12345u;
        otm[i].when = fake_now + (int64_t)((x >> 16) % 5) * AIOTP_NS_PER_MS;
        otm[i].idx = i;
        otm[i].runs = 0;
        otm[i].cancelled = 0;
        CHECK_ERR(aiotp_loop_call_at(loop, otm[i].when, ord_cb, &otm[i], &otm[i].h), 0);
    }
    for (i = 0; i < 600; i += 3) {
        CHECK_ERR(aiotp_loop_cancel(loop, otm[i].h), 0);
        otm[i].cancelled = 1;
    }
    for (k = 0; k < 6; k++) {
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
        fake_now += AIOTP_NS_PER_MS;
    }
    for (i = 0; i < 600; i++) {
        CHECK_INT(otm[i].runs, otm[i].cancelled ? 0 : 1);
    }
    for (k = 1; k < noran; k++) {
        const ord_tmr *p = &otm[oran[k - 1]];
        const ord_tmr *q = &otm[oran[k]];
        CHECK(p->when < q->when || (p->when == q->when && p->idx < q->idx));
    }
    CHECK_INT(loop->timers.n, 0);
    fake_loop_free(loop);
}

/* ---- the trace lines' formatter and checksum (the tracing hot path) ---- */


/* The trace checksum takes eight bytes per step (slicing by 8): it equals the bit-by-bit
   CRC-32 (th_sum) for every length 0..300 at every alignment 0..7, chained over two
   pieces split anywhere, and on zlib's check values. */
TEST(crc32_eight_bytes_per_step)
{
    static unsigned char buf[320];
    size_t off;
    size_t len;
    size_t cut;
    size_t i;
    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char)(i * 151u + 7u);
    }
    CHECK_INT((long long)aiotp__crc32(0, "abc", 3), 0x352441c2LL);
    CHECK_INT((long long)aiotp__crc32(0, "123456789", 9), 0xcbf43926LL);
    CHECK_INT((long long)aiotp__crc32(0, NULL, 0), 0);
    for (off = 0; off < 8; off++) {
        for (len = 0; len <= 300; len++) {
            uint32_t want = th_sum(0, buf + off, len);
            CHECK_INT((long long)aiotp__crc32(0, buf + off, len), (long long)want);
            for (cut = 0; cut <= len; cut += 13) {
                uint32_t c = aiotp__crc32(0, buf + off, cut);
                CHECK_INT((long long)aiotp__crc32(c, buf + off + cut, len - cut), (long long)want);
            }
        }
    }
}

/* Formats with aiotp__trace_vformat and with vsnprintf into buffers of cap bytes and
   checks they agree; returns what aiotp__trace_vformat returned. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static bool both_formats(size_t cap, const char *fmt, ...);

static bool both_formats(size_t cap, const char *fmt, ...)
{
    char mine[600];
    char ref[600];
    va_list ap;
    bool ok;
    memset(mine, 'X', sizeof(mine));
    memset(ref, 'X', sizeof(ref));
    va_start(ap, fmt);
    ok = aiotp__trace_vformat(mine, cap, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    (void)vsnprintf(ref, cap, fmt, ap);
    va_end(ap);
    if (ok) {
        CHECK_STR(mine, ref);
    }
    return ok;
}

/* aiotp__trace_vformat alone (formats or arguments vsnprintf must not see), into out. */
static char mine_out[64];
static bool refused(size_t cap, const char *fmt, ...)
{
    va_list ap;
    bool ok;
    va_start(ap, fmt);
    ok = aiotp__trace_vformat(mine_out, cap, fmt, ap);
    va_end(ap);
    return ok;
}

static char hook_line[600];
static void hook(void *arg, const char *line)
{
    (void)arg;
    snprintf(hook_line, sizeof(hook_line), "%s", line);
}

/* Trace lines are formatted without vsnprintf for the conversions they use, exactly as
   vsnprintf formats them, truncation included; any other conversion is refused (the
   caller then uses vsnprintf). */
TEST(trace_lines_formatted_without_vsnprintf)
{
    static const size_t caps[] = {512, 1, 2, 9, 10, 17};
    char longs[700];
    size_t k;
    memset(longs, 'a', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    for (k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        size_t c = caps[k];
        CHECK(both_formats(c, "t%u cb data_received n=%zu total=%llu sum=%08x", 7u, (size_t)3,
                           18446744073709551615ull, 0x312a6a6u));
        CHECK(both_formats(c, "%d %d %d %d", 0, -1, 2147483647, -2147483647 - 1));
        CHECK(both_formats(c, "%zd %zd %zd", (ptrdiff_t)-5, (ptrdiff_t)0, PTRDIFF_MAX));
        CHECK(both_formats(c, "%u %zu %llu %08x %08x", 4294967295u, SIZE_MAX, 0ull, 0u,
                           0xffffffffu));
        CHECK(both_formats(c, "t%u query %s %llu", 1u, "is_closing", 1ull));
        CHECK(both_formats(c, "no conversion at all"));
        CHECK(both_formats(c, "%s", ""));
    }
    CHECK(both_formats(512, "%s|", longs)); /* cut at 511 bytes */
    CHECK(both_formats(600, "%s%s", "", longs + 100));
    /* conversions trace lines do not use: refused, whatever comes before them */
    CHECK(!refused(512, "%x", 1u));
    CHECK(!refused(512, "%ld", 1L));
    CHECK(!refused(512, "abc %5u", 1u));
    CHECK(!refused(512, "%%"));
    CHECK(!refused(512, "%z", 1));
    CHECK(!refused(512, "%l", 1));
    CHECK(!refused(512, "%ll", 1));
    CHECK(!refused(512, "%0", 1));
    CHECK(!refused(512, "%08", 1));
    CHECK(!refused(512, "trailing %"));
    CHECK(!refused(0, "x"));
    {
        const char *volatile none = NULL; /* as glibc's vsnprintf prints it */
        CHECK(refused(64, "[%s]", none));
        CHECK_STR(mine_out, "[(null)]");
    }
    /* aiotp__tracef: the line through the trace hook, formatted here or by vsnprintf */
    {
        aiotp_loop *loop;
        CHECK_INT(aiotp_loop_create(&loop, NULL), 0);
        aiotp_loop_set_trace(loop, hook, NULL);
        aiotp__tracef(loop, "t%u query %s %llu", 3u, "is_reading", 1ull);
        CHECK_STR(hook_line, "t3 query is_reading 1");
        aiotp__tracef(loop, "%x|%ld|%5u", 255u, -3L, 7u); /* not ours: vsnprintf */
        CHECK_STR(hook_line, "ff|-3|    7");
        aiotp_loop_free(loop);
    }
}

static const th_case cases[] = {
    T(crc32_eight_bytes_per_step, ""),
    T(trace_lines_formatted_without_vsnprintf, ""),
    T(call_soon_fifo, "LOOP-3 LOOP-6"),
    T(queued_in_pass_runs_next_pass, "LOOP-6 LOOP-3 LOOP-2"),
    T(self_rescheduling_callback, "LOOP-6"),
    T(wait_timeout_choice, "LOOP-2 LOOP-5 LOOP-1"),
    T(stop_before_run_one_pass, "LOOP-2 LOOP-7"),
    T(timers_time_order_fake_clock, "LOOP-5"),
    T(timer_never_early_fake_clock, "LOOP-5"),
    T(timers_real_clock, "LOOP-5"),
    T(call_later_negative_delay, "LOOP-5"),
    T(cancel_ready_handle, "LOOP-1"),
    T(cancel_timer_handle, "LOOP-1"),
    T(cancel_unknown_and_stale_handles, "LOOP-1"),
    T(cancel_inside_same_pass, "LOOP-1 LOOP-6"),
    T(stop_inside_callback, "LOOP-7"),
    T(run_inside_callback, "LOOP-7"),
    T(reader_called_when_readable, "LOOP-8"),
    T(reader_replaced_drops_queued_event, "LOOP-8"),
    T(writer_called_when_writable, "LOOP-8"),
    T(reader_before_writer, "LOOP-4"),
    T(transport_fd_busy, "LOOP-8"),
    T(negative_fd_and_null_callback, "LOOP-8 BAD-5"),
    T(exception_handler_context, "LOOP-9 PROTO-STREAM-4"),
    T(call_exception_handler_direct, "LOOP-9"),
    T(default_exception_handler_prints, "LOOP-9"),
    T(call_at_far_past_and_future, "LOOP-5 LOOP-2"),
    T(stop_spent_by_run_once, "LOOP-7 LOOP-2"),
    T(stale_handle_after_generation_runs_out, "LOOP-1"),
    T(rearmed_timeout_keeps_heap_small, "LOOP-1 LOOP-5"),
    T(timer_heap_order_with_cancels, "LOOP-5 LOOP-1"),
};
TH_MAIN(cases)
