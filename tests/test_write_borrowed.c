/* tests/test_write_borrowed.c - the zero-copy write, aiotp_transport_write_borrowed()
   (DEV-81), of a write pipe (spec/rules.md PIPE-BORROW-1, PIPE-BORROW-2) and of a stream
   transport (WRITE-BORROW-1): order with write()/writelines(), flow control, the
   completion's timing and status on every end (drained, abort, the reader gone, a write
   error, the loop freed), re-entrant calls inside it, refusals, a subprocess's stdin.
   Runs on poll, epoll and the sim. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aiotp/sim.h"
#include "dgram_helpers.h"
#include "harness.h"
#include "subproc_helpers.h"

/* ---- a recorded completion ---------------------------------------------------------------- */

#define MAX_DONES 16

typedef struct bw bw;
typedef void (*bw_then)(aiotp_transport *t, bw *b);

typedef struct done_log {
    int n;                      /* completions so far */
    int who[MAX_DONES];         /* the id of each, in order */
    int status[MAX_DONES];
    aiotp_transport *t[MAX_DONES];
    uint64_t iter[MAX_DONES];   /* the loop pass it ran in */
    aiotp_loop *loop;
} done_log;

struct bw {
    done_log *log;
    int id;
    unsigned char *mem; /* poisoned in done: the transport must not read it any more */
    size_t len;
    bw_then then;       /* a re-entrant call inside done */
    void *user;
};

static void on_done(aiotp_transport *t, void *arg, int status)
{
    bw *b = arg;
    done_log *l = b->log;
    if (l->n < MAX_DONES) {
        l->who[l->n] = b->id;
        l->status[l->n] = status;
        l->t[l->n] = t;
        l->iter[l->n] = l->loop != NULL && t != NULL ? aiotp_loop_iteration(l->loop) : 0;
    }
    l->n++;
    if (b->mem != NULL) {
        memset(b->mem, 0xEE, b->len);
    }
    if (b->then != NULL && t != NULL) {
        b->then(t, b);
    }
}

static void bw_init(bw *b, done_log *l, int id, unsigned char *mem, size_t len)
{
    memset(b, 0, sizeof(*b));
    b->log = l;
    b->id = id;
    b->mem = mem;
    b->len = len;
}

/* One case's write pipe (a small one: 4096 bytes) and what it records. */
typedef struct fx {
    aiotp_loop *loop;
    th_rec *r;
    done_log l;
    int p[2];        /* p[0]: the reader's end */
    aiotp_transport *t;
} fx;

static void fx_init(fx *f)
{
    memset(f, 0, sizeof(*f));
    f->loop = th_loop();
    f->r = th_rec_new();
    f->l.loop = f->loop;
}

/* high: the write-buffer high-water mark (0: the transport's default). */
static aiotp_transport *fx_open(fx *f, int64_t high)
{
    fx_init(f);
    th_pipe(f->p);
    th_small_pipe(f->p[1]);
    f->t = th_pipe_transport(f->loop, true, f->p[1], &th_streaming, f->r);
    if (high > 0) {
        CHECK_INT(aiotp_transport_set_write_buffer_limits(f->t, high, 0), 0);
    }
    return f->t;
}

/* close() (or nothing if `closed`), connection_lost(0), the reader's end closed. */
static void fx_end(fx *f, bool closed)
{
    if (!closed) {
        CHECK_INT(aiotp_transport_close(f->t), 0);
    }
    th_run_until(f->loop, th_is_lost, f->r, 10);
    th_peer_close(f->p[0]);
}

/* Read what is there, at most cap - *n bytes, then one loop pass. */
static void read_and_run(fx *f, unsigned char *got, size_t *n, size_t cap)
{
    if (*n < cap) {
        ssize_t k = th_peer_read(f->p[0], got + *n, cap - *n, true);
        if (k > 0) {
            *n += (size_t)k;
        }
    }
    th_run_once(f->loop);
}

/* Index of the first line of the trace that starts with prefix, or -1. */
static long line_of(const char *prefix)
{
    const char *p = th_trace();
    long i = 0;
    size_t n = strlen(prefix);
    while (*p != '\0') {
        if (strncmp(p, prefix, n) == 0) {
            return i;
        }
        p = strchr(p, '\n');
        if (p == NULL) {
            break;
        }
        p++;
        i++;
    }
    return -1;
}

/* ---- cases ------------------------------------------------------------------------------------ */

/* The kernel takes everything at once: 0, size 0, and done(0) in the next pass (never
   inside the call); len 0 does nothing at all. */
TEST(taken_at_once_done_next_pass)
{
    fx f;
    bw b;
    unsigned char mem[5];
    unsigned char got[16];
    uint64_t it;
    aiotp_transport *t = fx_open(&f, 0);
    memcpy(mem, "hello", 5);
    bw_init(&b, &f.l, 1, mem, sizeof(mem));
    it = aiotp_loop_iteration(f.loop);
    CHECK_INT(aiotp_transport_write_borrowed(t, mem, sizeof(mem), on_done, &b), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(f.l.n, 0); /* not inside the call */
    CHECK_INT(aiotp_transport_write_borrowed(t, mem, 0, on_done, &b), 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, NULL, 0, on_done, &b), 0);
    th_run_once(f.loop);
    CHECK_INT(f.l.n, 1);
    CHECK_INT(f.l.status[0], 0);
    CHECK(f.l.t[0] == t);
    CHECK_INT(f.l.iter[0], it + 1);
    CHECK_SIZE(th_peer_read(f.p[0], got, sizeof(got), true), 5);
    CHECK(memcmp(got, "hello", 5) == 0);
    CHECK_INT(th_count_lines("t1 call write_borrowed n=5"), 1);
    CHECK_INT(th_count_lines("t1 cb write_done status=0"), 1);
    CHECK_INT(th_count_lines("t1 ret write_borrowed 0 size=0 total=5 "), 3); /* 5, 0, 0 */
    fx_end(&f, false);
    th_run_passes(f.loop, 2);
    CHECK_INT(f.l.n, 1); /* once */
}

/* PIPE-BORROW-2: any mix of write(), writelines() and borrowed writes arrives in order;
   the size grows by exactly each call's length while bytes are queued; dones in order,
   each 0, each after the reader took the bytes. */
TEST(mixed_writes_keep_order)
{
    fx f;
    bw b1, b2, b3;
    static unsigned char a[10000], m1[20000], c1[3000], m2[5000], m3[7000];
    static unsigned char want[10000 + 20000 + 6 + 3000 + 5000 + 3000 + 7000];
    static unsigned char got[sizeof(want)];
    aiotp_buf bufs[2] = {{"xyz", 3}, {"uvw", 3}};
    size_t n = 0;
    size_t s;
    size_t w = 0;
    int i;
    aiotp_transport *t = fx_open(&f, 1 << 20); /* no pause */
    th_pattern(a, sizeof(a), 0);
    th_pattern(m1, sizeof(m1), 11);
    th_pattern(c1, sizeof(c1), 23);
    th_pattern(m2, sizeof(m2), 37);
    th_pattern(m3, sizeof(m3), 41);
    memcpy(want + w, a, sizeof(a)), w += sizeof(a);
    memcpy(want + w, m1, sizeof(m1)), w += sizeof(m1);
    memcpy(want + w, "xyzuvw", 6), w += 6;
    memcpy(want + w, c1, sizeof(c1)), w += sizeof(c1);
    memcpy(want + w, m2, sizeof(m2)), w += sizeof(m2);
    memcpy(want + w, c1, sizeof(c1)), w += sizeof(c1);
    memcpy(want + w, m3, sizeof(m3)), w += sizeof(m3);
    CHECK_SIZE(w, sizeof(want));
    bw_init(&b1, &f.l, 1, NULL, 0);
    bw_init(&b2, &f.l, 2, NULL, 0);
    bw_init(&b3, &f.l, 3, NULL, 0);
    CHECK_INT(aiotp_transport_write(t, a, sizeof(a)), 0); /* part queued in the ring */
    s = aiotp_transport_get_write_buffer_size(t);
    CHECK(s > 0 && s < sizeof(a));
    CHECK_INT(aiotp_transport_write_borrowed(t, m1, sizeof(m1), on_done, &b1), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), s + sizeof(m1));
    CHECK_INT(aiotp_transport_writelines(t, bufs, 2), 0);
    CHECK_INT(aiotp_transport_write(t, c1, sizeof(c1)), 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m2, sizeof(m2), on_done, &b2), 0);
    CHECK_INT(aiotp_transport_write(t, c1, sizeof(c1)), 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m3, sizeof(m3), on_done, &b3), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), s + sizeof(want) - sizeof(a));
    CHECK_INT(f.l.n, 0);
    for (i = 0; i < 3000 && (n < sizeof(want) || f.l.n < 3); i++) {
        read_and_run(&f, got, &n, sizeof(got));
    }
    CHECK_SIZE(n, sizeof(want));
    CHECK(memcmp(got, want, sizeof(want)) == 0);
    CHECK_INT(f.l.n, 3);
    CHECK_INT(f.l.who[0], 1);
    CHECK_INT(f.l.who[1], 2);
    CHECK_INT(f.l.who[2], 3);
    CHECK_INT(f.l.status[0] | f.l.status[1] | f.l.status[2], 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    fx_end(&f, false);
    CHECK_INT(f.r->lost_status, 0);
}

/* A borrowed write first (nothing queued: offered at once, the rest stays borrowed), then
   write() behind it; a done that writes more. */
static void write_tail(aiotp_transport *t, bw *b)
{
    CHECK_INT(aiotp_transport_write(t, "TAIL", 4), 0);
    (void)b;
}

TEST(borrowed_first_then_copies)
{
    fx f;
    bw b;
    static unsigned char m[30000];
    static unsigned char got[30000 + 2 + 4];
    size_t n = 0;
    size_t s;
    int i;
    aiotp_transport *t = fx_open(&f, 1 << 20);
    th_pattern(m, sizeof(m), 5);
    bw_init(&b, &f.l, 1, NULL, 0);
    b.then = write_tail;
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b), 0);
    s = aiotp_transport_get_write_buffer_size(t);
    CHECK(s > 0 && s < sizeof(m)); /* the pipe took a part */
    CHECK_INT(aiotp_transport_write(t, "ab", 2), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), s + 2);
    for (i = 0; i < 3000 && n < sizeof(got); i++) {
        read_and_run(&f, got, &n, sizeof(got));
    }
    CHECK_SIZE(n, sizeof(got));
    CHECK(memcmp(got, m, sizeof(m)) == 0);
    CHECK(memcmp(got + sizeof(m), "abTAIL", 6) == 0);
    CHECK_INT(f.l.n, 1);
    CHECK_INT(f.l.status[0], 0);
    fx_end(&f, false);
}

/* Several MiB borrowed through a one-page pipe: done(0) only once the reader has all but
   the pipe's last bytes, and the memory (poisoned in done) is never read after it. */
TEST(large_buffer_done_after_drain)
{
    fx f;
    bw b;
    enum { LEN = 3 << 20 };
    static unsigned char m[LEN];
    static unsigned char got[LEN];
    static unsigned char want[LEN];
    size_t n = 0;
    size_t read_at_done = 0;
    long i;
    aiotp_transport *t = fx_open(&f, 8 << 20);
    th_pattern(m, sizeof(m), 1);
    memcpy(want, m, sizeof(m));
    bw_init(&b, &f.l, 1, m, sizeof(m));
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b), 0);
    CHECK(aiotp_transport_get_write_buffer_size(t) > sizeof(m) - 70000);
    for (i = 0; i < 200000 && n < sizeof(got); i++) {
        read_and_run(&f, got, &n, sizeof(got));
        if (f.l.n == 1 && read_at_done == 0) {
            read_at_done = n;
        }
        if (f.l.n == 0) {
            CHECK(aiotp_transport_get_write_buffer_size(t) > 0);
        }
    }
    CHECK_SIZE(n, sizeof(got));
    CHECK(memcmp(got, want, sizeof(want)) == 0); /* no poisoned byte */
    CHECK_INT(f.l.n, 1);
    CHECK_INT(f.l.status[0], 0);
    CHECK(read_at_done + 65536 >= sizeof(m)); /* done once the pipe held the last bytes */
    CHECK(read_at_done > sizeof(m) / 2);
    fx_end(&f, false);
}

/* PIPE-FLOW-1 with borrowed bytes: pause_writing inside the call over high, resume_writing
   once the queue is empty, after the done. */
TEST(flow_control_with_borrowed_bytes)
{
    fx f;
    bw b1, b2;
    static unsigned char m[100000];
    static unsigned char got[100000 + 4000];
    size_t n = 0;
    int i;
    aiotp_transport *t = fx_open(&f, 0);
    th_pattern(m, sizeof(m), 9);
    CHECK_INT(aiotp_transport_set_write_buffer_limits(t, 8192, 4096), 0);
    bw_init(&b1, &f.l, 1, NULL, 0);
    bw_init(&b2, &f.l, 2, NULL, 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m, 4000, on_done, &b1), 0);
    CHECK_INT(f.r->pauses, 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b2), 0);
    CHECK_INT(f.r->pauses, 1); /* inside the call */
    CHECK(aiotp_transport_get_write_buffer_size(t) > 8192);
    for (i = 0; i < 5000 && n < sizeof(got); i++) {
        /* a little at a time: the queue passes the low mark long before it empties */
        read_and_run(&f, got, &n, 1500 < sizeof(got) - n ? n + 1500 : sizeof(got));
        if (f.r->resumes == 0) {
            CHECK(f.l.n < 2 || aiotp_transport_get_write_buffer_size(t) == 0);
        }
    }
    th_run_passes(f.loop, 2);
    CHECK_SIZE(n, sizeof(got));
    CHECK(memcmp(got, m, 4000) == 0 && memcmp(got + 4000, m, sizeof(m)) == 0);
    CHECK_INT(f.r->resumes, 1);
    CHECK_INT(th_count_lines("t1 cb resume_writing size=0 "), 1);
    CHECK_INT(f.l.n, 2);
    CHECK_INT(f.l.status[0] | f.l.status[1], 0);
    CHECK(line_of("t1 cb write_done") < line_of("t1 cb resume_writing"));
    fx_end(&f, false);
}

/* abort(): the queued borrowed bytes are dropped; each done runs once with ECANCELED, after
   abort() returned, before connection_lost(0). A buffer the kernel had taken: 0. */
TEST(abort_cancels_borrowed_writes)
{
    fx f;
    bw b[3];
    static unsigned char m[100000];
    aiotp_transport *t = fx_open(&f, 0);
    bw_init(&b[0], &f.l, 0, NULL, 0);
    bw_init(&b[1], &f.l, 1, m, sizeof(m));
    bw_init(&b[2], &f.l, 2, NULL, 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, "ok", 2, on_done, &b[0]), 0); /* taken */
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b[1]), 0);
    CHECK_INT(aiotp_transport_write(t, "x", 1), 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, "yz", 2, on_done, &b[2]), 0);
    CHECK_INT(aiotp_transport_abort(t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(f.l.n, 0); /* not inside abort() */
    CHECK_ERR(aiotp_transport_write_borrowed(t, "no", 2, on_done, &b[2]), AIOTP_ECLOSED);
    fx_end(&f, true);
    CHECK_INT(f.l.n, 3);
    CHECK_INT(f.l.who[0], 0);
    CHECK_INT(f.l.status[0], 0);
    CHECK_INT(f.l.who[1], 1);
    CHECK_ERR(f.l.status[1], AIOTP_ECANCELED);
    CHECK_INT(f.l.who[2], 2);
    CHECK_ERR(f.l.status[2], AIOTP_ECANCELED);
    CHECK_INT(f.r->lost_status, 0);
    CHECK(line_of("t1 cb write_done status=ECANCELED") < line_of("t1 cb connection_lost"));
    th_run_passes(f.loop, 2);
    CHECK_INT(f.l.n, 3);
}

/* close() with borrowed bytes queued and the reader goes away: done(-EPIPE) before
   connection_lost(-EPIPE). */
TEST(reader_gone_fails_borrowed_writes)
{
    fx f;
    bw b;
    static unsigned char m[100000];
    aiotp_transport *t = fx_open(&f, 0);
    bw_init(&b, &f.l, 1, m, sizeof(m));
    th_run_passes(f.loop, 1); /* the watch is on */
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b), 0);
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK_INT(f.l.n, 0);
    th_peer_close(f.p[0]);
    th_run_until(f.loop, th_is_lost, f.r, 10);
    CHECK_ERR(f.r->lost_status, -EPIPE);
    CHECK_INT(f.l.n, 1);
    CHECK_ERR(f.l.status[0], -EPIPE);
    CHECK(line_of("t1 cb write_done status=EPIPE") < line_of("t1 cb connection_lost"));
}

/* A write error in the drain: done(error) before connection_lost(error). */
TEST(write_error_fails_borrowed_writes)
{
    fx f;
    bw b;
    static unsigned char m[50000];
    static unsigned char got[50000];
    size_t n = 0;
    int i;
    aiotp_transport *t = fx_open(&f, 1 << 20);
    bw_init(&b, &f.l, 1, NULL, 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b), 0);
    th_f.write_errno = EIO;
    for (i = 0; i < 100 && f.r->lost == 0; i++) {
        read_and_run(&f, got, &n, sizeof(got)); /* the drain's write fails */
    }
    th_f.write_errno = 0;
    CHECK(n < sizeof(m));
    CHECK_ERR(f.r->lost_status, -EIO);
    CHECK_INT(f.l.n, 1);
    CHECK_ERR(f.l.status[0], -EIO);
    fx_end(&f, true);
}

/* The first write fails (nothing queued, the kernel says EPIPE): the call returns the
   error, done is never called, connection_lost(-EPIPE) follows (PIPE-WRITE-4). */
TEST(write_error_at_once_calls_nothing)
{
    fx f;
    bw b;
    aiotp_transport *t = fx_open(&f, 0);
    bw_init(&b, &f.l, 1, NULL, 0);
    th_f.write_errno = EPIPE;
    CHECK_ERR(aiotp_transport_write_borrowed(t, "abc", 3, on_done, &b), -EPIPE);
    th_f.write_errno = 0;
    CHECK(aiotp_transport_is_closing(t));
    CHECK_ERR(aiotp_transport_write_borrowed(t, "abc", 3, on_done, &b), AIOTP_ECLOSED);
    fx_end(&f, true);
    CHECK_ERR(f.r->lost_status, -EPIPE);
    th_run_passes(f.loop, 2);
    CHECK_INT(f.l.n, 0);
    CHECK_INT(th_count_lines("t1 ret write_borrowed EPIPE size=0 total=0 "), 1);
}

/* Freeing the loop with borrowed writes owed: each done once, inside aiotp_loop_free(),
   with t NULL: 0 for the buffer the kernel had taken, ECANCELED for the queued one. */
TEST(loop_free_completes_borrowed_writes)
{
    fx f;
    bw b0, b1;
    static unsigned char m[100000];
    aiotp_transport *t = fx_open(&f, 0);
    bw_init(&b0, &f.l, 0, NULL, 0);
    bw_init(&b1, &f.l, 1, NULL, 0);
    f.l.loop = NULL;
    CHECK_INT(aiotp_transport_write_borrowed(t, "ok", 2, on_done, &b0), 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b1), 0);
    CHECK_INT(f.l.n, 0);
    th_loop_free(f.loop);
    CHECK_INT(f.l.n, 2);
    CHECK_INT(f.l.who[0], 0);
    CHECK_INT(f.l.status[0], 0);
    CHECK(f.l.t[0] == NULL);
    CHECK_INT(f.l.who[1], 1);
    CHECK_ERR(f.l.status[1], AIOTP_ECANCELED);
    CHECK(f.l.t[1] == NULL);
    th_peer_close(f.p[0]);
}

/* Re-entrant calls inside done: write, another borrowed write, close (from the second
   done); every byte in order, connection_lost(0) after the last done. */
static bw *g_next;

static void borrow_again(aiotp_transport *t, bw *b)
{
    CHECK_INT(aiotp_transport_write(t, "-w-", 3), 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, "second", 6, on_done, g_next), 0);
    (void)b;
}

static void close_inside(aiotp_transport *t, bw *b)
{
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_write_borrowed(t, "late", 4, on_done, b), AIOTP_ECLOSED);
}

/* The chain both kinds run: a borrowed write of 100000 pattern bytes (poisoned in its
   done) whose done writes "-w-" and borrows "second", whose done runs `second`; read
   (`rd`: the kind's reader) until both dones ran and every byte came, in order. */
typedef void (*reader_fn)(fx *f, unsigned char *got, size_t *n, size_t cap);

static void reentrant_chain(fx *f, reader_fn rd, int peer, bw_then second)
{
    bw b1, b2;
    static unsigned char m[100000];
    static unsigned char got[100000 + 3 + 6];
    size_t n = 0;
    int i;
    th_pattern(m, sizeof(m), 8);
    bw_init(&b1, &f->l, 1, m, sizeof(m));
    bw_init(&b2, &f->l, 2, NULL, 0);
    b1.then = borrow_again;
    b2.then = second;
    g_next = &b2;
    CHECK_INT(aiotp_transport_write_borrowed(f->t, m, sizeof(m), on_done, &b1), 0);
    for (i = 0; i < 5000 && (f->l.n < 2 || n < sizeof(got)); i++) {
        rd(f, got, &n, sizeof(got));
    }
    n += th_drain_fd(f->p[peer], got + n, sizeof(got) - n);
    CHECK_SIZE(n, sizeof(got));
    th_pattern(m, sizeof(m), 8); /* (poisoned in its done) */
    CHECK(memcmp(got, m, sizeof(m)) == 0 && memcmp(got + sizeof(m), "-w-second", 9) == 0);
    CHECK_INT(f->l.n, 2);
    CHECK_INT(f->l.status[0] | f->l.status[1], 0);
}

TEST(reentrant_calls_inside_done)
{
    fx f;
    (void)fx_open(&f, 1 << 20);
    reentrant_chain(&f, read_and_run, 0, close_inside);
    th_run_until(f.loop, th_is_lost, f.r, 10);
    CHECK_INT(f.r->lost, 1);
    CHECK_INT(f.r->lost_status, 0);
    CHECK(line_of("t1 cb write_done") < line_of("t1 cb connection_lost"));
    fx_end(&f, true);
}

/* abort() inside a done while another borrowed write is queued: that one gets ECANCELED
   (after the first done returned), no resume_writing, connection_lost(0). */
static void abort_inside(aiotp_transport *t, bw *b)
{
    CHECK_INT(aiotp_transport_abort(t), 0);
    CHECK_INT(b->log->n, 1); /* the other done is not called inside abort() */
}

TEST(abort_inside_done)
{
    fx f;
    bw b1, b2;
    static unsigned char m[100000];
    static unsigned char got[100000];
    size_t n = 0;
    int i;
    aiotp_transport *t = fx_open(&f, 8192);
    bw_init(&b1, &f.l, 1, NULL, 0);
    bw_init(&b2, &f.l, 2, NULL, 0);
    b1.then = abort_inside;
    CHECK_INT(aiotp_transport_write_borrowed(t, m, 6000, on_done, &b1), 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b2), 0);
    CHECK_INT(f.r->pauses, 1);
    for (i = 0; i < 3000 && f.r->lost == 0; i++) {
        read_and_run(&f, got, &n, sizeof(got));
    }
    CHECK_INT(f.r->lost, 1);
    CHECK_INT(f.r->lost_status, 0);
    CHECK_INT(f.r->resumes, 0);
    CHECK_INT(f.l.n, 2);
    CHECK_INT(f.l.status[0], 0);
    CHECK_ERR(f.l.status[1], AIOTP_ECANCELED);
    fx_end(&f, true);
}

/* Refused calls change nothing and never call done; kinds without the method: ENOTSUP. */
TEST(refused_calls_change_nothing)
{
    fx f;
    th_rec *rr = th_rec_new();
    th_drec *rd_dg = th_drec_new();
    bw b;
    static unsigned char m[50000];
    int q[2];
    size_t s;
    aiotp_transport *t = fx_open(&f, 0);
    aiotp_transport *rd;
    aiotp_transport *dg;
    bw_init(&b, &f.l, 1, NULL, 0);
    CHECK_ERR(aiotp_transport_write_borrowed(NULL, "x", 1, on_done, &b), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write_borrowed(t, NULL, 1, on_done, &b), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write_borrowed(t, "x", 1, NULL, &b), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write_borrowed(t, "x", 0, NULL, &b), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write_borrowed(t, "x", SIZE_MAX, on_done, &b), AIOTP_ETOOBIG);
    CHECK_INT(aiotp_transport_write(t, m, sizeof(m)), 0);
    s = aiotp_transport_get_write_buffer_size(t);
    CHECK(s > 0);
    /* no memory for the queue entry: refused, nothing changed */
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), s);
    /* a read pipe and a datagram transport do not have it */
    th_pipe(q);
    rd = th_pipe_transport(f.loop, false, q[0], &th_streaming, rr);
    CHECK_ERR(aiotp_transport_write_borrowed(rd, "x", 1, on_done, &b), AIOTP_ENOTSUP);
    dg = th_udp_endpoint(f.loop, AF_INET, NULL, 0, rd_dg);
    CHECK_ERR(aiotp_transport_write_borrowed(dg, "x", 1, on_done, &b), AIOTP_ENOTSUP);
    CHECK_INT(th_count_lines("t3 ret write_borrowed ENOTSUP size=0"), 1);
    CHECK_INT(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_write_borrowed(t, "x", 1, on_done, &b), AIOTP_ECLOSED);
    CHECK_INT(aiotp_transport_write_borrowed(t, "x", 0, on_done, &b), 0); /* PIPE-WRITE-2 */
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), s);
    CHECK_INT(aiotp_transport_abort(t), 0);
    CHECK_INT(aiotp_transport_close(rd), 0);
    CHECK_INT(aiotp_transport_close(dg), 0);
    fx_end(&f, true);
    th_run_until(f.loop, th_d_is_lost, rd_dg, 5);
    th_run_passes(f.loop, 2);
    CHECK_INT(f.l.n, 0);
    th_peer_close(q[1]);
}

/* ---- stream transports (WRITE-BORROW-1) --------------------------------------------------- */

/* A stream transport over a socketpair with small buffers; sv[1] is the peer. */
static aiotp_transport *stream_open(fx *f, int64_t high)
{
    fx_init(f);
    th_socketpair(f->p);
    th_small_buffers(f->p[0]);
    th_small_buffers(f->p[1]);
    f->t = th_wrap(f->loop, f->p[0], &th_streaming, f->r);
    if (high > 0) {
        CHECK_INT(aiotp_transport_set_write_buffer_limits(f->t, high, high / 4), 0);
    }
    return f->t;
}

/* Receive what the peer has (non-blocking), then one pass. */
static void recv_and_run(fx *f, unsigned char *got, size_t *n, size_t cap)
{
    if (*n < cap) {
        ssize_t k = th_peer_recv(f->p[1], got + *n, cap - *n, MSG_DONTWAIT);
        if (k > 0) {
            *n += (size_t)k;
        }
    }
    th_run_once(f->loop);
}

/* Order with write()/writelines(), pause inside the call, resume at the low mark, dones in
   order after the peer took the bytes, write_eof after the drain. */
TEST(stream_order_flow_and_eof)
{
    fx f;
    bw b1, b2;
    static unsigned char m1[200000], m2[5000];
    static unsigned char want[1000 + 200000 + 3 + 5000 + 3];
    static unsigned char got[sizeof(want) + 16];
    aiotp_buf bufs[2] = {{"m", 1}, {"id", 2}};
    size_t n = 0;
    size_t w = 0;
    int i;
    aiotp_transport *t = stream_open(&f, 16384);
    th_pattern(m1, sizeof(m1), 3);
    th_pattern(m2, sizeof(m2), 17);
    memset(want, 'a', 1000), w = 1000;
    memcpy(want + w, m1, sizeof(m1)), w += sizeof(m1);
    memcpy(want + w, "mid", 3), w += 3;
    memcpy(want + w, m2, sizeof(m2)), w += sizeof(m2);
    memcpy(want + w, "end", 3), w += 3;
    bw_init(&b1, &f.l, 1, m1, sizeof(m1));
    bw_init(&b2, &f.l, 2, NULL, 0);
    CHECK_INT(aiotp_transport_write(t, want, 1000), 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m1, sizeof(m1), on_done, &b1), 0);
    CHECK_INT(f.r->pauses, 1); /* inside the call */
    CHECK_INT(aiotp_transport_writelines(t, bufs, 2), 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m2, sizeof(m2), on_done, &b2), 0);
    CHECK_INT(aiotp_transport_write(t, "end", 3), 0);
    CHECK_INT(aiotp_transport_write_eof(t), 0); /* the shutdown waits for the drain */
    CHECK_ERR(aiotp_transport_write_borrowed(t, "x", 1, on_done, &b2), AIOTP_ESTATE);
    CHECK_INT(f.l.n, 0);
    for (i = 0; i < 5000 && n < sizeof(want); i++) {
        recv_and_run(&f, got, &n, sizeof(got));
    }
    th_run_passes(f.loop, 2);
    n += th_drain_fd(f.p[1], got + n, sizeof(got) - n);
    CHECK_SIZE(n, sizeof(want));
    CHECK(memcmp(got, want, sizeof(want)) == 0); /* m1 poisoned after its done: not read */
    CHECK_INT(th_peer_recv(f.p[1], got, sizeof(got), MSG_DONTWAIT), 0); /* EOF */
    CHECK_INT(f.l.n, 2);
    CHECK_INT(f.l.who[0], 1);
    CHECK_INT(f.l.who[1], 2);
    CHECK_INT(f.l.status[0] | f.l.status[1], 0);
    CHECK_INT(f.r->resumes, 1);
    CHECK_INT(aiotp_transport_close(t), 0);
    th_run_until(f.loop, th_is_lost, f.r, 10);
    CHECK_INT(f.r->lost_status, 0);
    th_peer_close(f.p[1]);
}

/* Taken at once: done in the next pass; abort() with borrowed bytes queued: ECANCELED
   before connection_lost(0), not inside abort(). */
TEST(stream_taken_at_once_then_abort)
{
    fx f;
    bw b0, b1;
    static unsigned char m[200000];
    uint64_t it;
    aiotp_transport *t = stream_open(&f, 0);
    bw_init(&b0, &f.l, 0, NULL, 0);
    bw_init(&b1, &f.l, 1, NULL, 0);
    it = aiotp_loop_iteration(f.loop);
    CHECK_INT(aiotp_transport_write_borrowed(t, "ok", 2, on_done, &b0), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_once(f.loop);
    CHECK_INT(f.l.n, 1);
    CHECK_INT(f.l.iter[0], it + 1);
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b1), 0);
    CHECK(aiotp_transport_get_write_buffer_size(t) > 0);
    CHECK_INT(aiotp_transport_abort(t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(f.l.n, 1);
    th_run_until(f.loop, th_is_lost, f.r, 10);
    CHECK_INT(f.l.n, 2);
    CHECK_ERR(f.l.status[1], AIOTP_ECANCELED);
    CHECK_INT(f.r->lost_status, 0);
    CHECK(line_of("t1 cb write_done status=ECANCELED") < line_of("t1 cb connection_lost"));
    th_peer_close(f.p[1]);
}

/* The peer goes away: the send fails in the drain, done(error) before
   connection_lost(error). */
TEST(stream_peer_gone_fails_borrowed_writes)
{
    fx f;
    bw b;
    static unsigned char m[200000];
    int i;
    aiotp_transport *t = stream_open(&f, 1 << 20);
    bw_init(&b, &f.l, 1, NULL, 0);
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b), 0);
    th_peer_close(f.p[1]);
    for (i = 0; i < 20 && f.r->lost == 0; i++) {
        th_run_once(f.loop);
    }
    CHECK_INT(f.r->lost, 1);
    CHECK(f.r->lost_status != 0);
    CHECK_INT(f.l.n, 1);
    CHECK_ERR(f.l.status[0], f.r->lost_status);
}

/* Calls inside a stream's done: write, another borrowed write, write_eof (from the
   second done): every byte in order, then the peer's end of file; a borrowed write after
   write_eof is ESTATE. */
static void stream_eof_inside(aiotp_transport *t, bw *b)
{
    CHECK_INT(aiotp_transport_write_eof(t), 0);
    CHECK_ERR(aiotp_transport_write_borrowed(t, "late", 4, on_done, b), AIOTP_ESTATE);
}

TEST(stream_reentrant_calls_inside_done)
{
    fx f;
    unsigned char c;
    aiotp_transport *t = stream_open(&f, 1 << 20);
    reentrant_chain(&f, recv_and_run, 1, stream_eof_inside);
    th_run_passes(f.loop, 2);
    CHECK_INT(th_peer_recv(f.p[1], &c, 1, MSG_DONTWAIT), 0); /* EOF after every byte */
    CHECK(!aiotp_transport_is_closing(t)); /* half-closed: still reading */
    CHECK_INT(aiotp_transport_close(t), 0);
    th_run_until(f.loop, th_is_lost, f.r, 10);
    CHECK_INT(f.r->lost_status, 0);
    th_peer_close(f.p[1]);
}

/* aiotp_loop_free with a borrowed write queued on a retained stream transport (it
   survives, LIFE-1): done(NULL, ECANCELED) inside the free, once. */
TEST(stream_loop_free_completes_borrowed_writes)
{
    fx f;
    bw b;
    static unsigned char m[200000];
    aiotp_transport *t = stream_open(&f, 0);
    bw_init(&b, &f.l, 1, NULL, 0);
    f.l.loop = NULL;
    CHECK_INT(aiotp_transport_write_borrowed(t, m, sizeof(m), on_done, &b), 0);
    th_loop_free(f.loop);
    CHECK_INT(f.l.n, 1);
    CHECK(f.l.t[0] == NULL);
    CHECK_ERR(f.l.status[0], AIOTP_ECANCELED);
    th_peer_close(f.p[1]);
}

/* A subprocess's stdin: 1 MiB in borrowed chunks of 64 KiB, each chunk the next one's
   done; the child counts and checksums what it read. */
typedef struct feeder {
    bw b;
    done_log l;
    const unsigned char *data;
    size_t len;
    size_t pos;
    aiotp_transport *in;
} feeder;

static void feed(aiotp_transport *t, bw *b);

static void feed_next(feeder *f)
{
    size_t k = f->len - f->pos < 65536 ? f->len - f->pos : 65536;
    if (k == 0) {
        CHECK_INT(aiotp_transport_close(f->in), 0);
        return;
    }
    f->b.then = feed;
    f->b.user = f;
    CHECK_INT(aiotp_transport_write_borrowed(f->in, f->data + f->pos, k, on_done, &f->b), 0);
    f->pos += k;
}

static void feed(aiotp_transport *t, bw *b)
{
    feeder *f = b->user;
    CHECK(t == f->in);
    feed_next(f);
}

TEST(subprocess_stdin_borrowed)
{
    aiotp_loop *loop = th_loop();
    th_sp r;
    const char *argv[] = {TH_CHILD, "count", "exit:0", NULL};
    static unsigned char big[1 << 20];
    static feeder f;
    char expect[64];
    aiotp_transport *t;
    uint32_t sum;
    th_pattern(big, sizeof(big), 4);
    sum = th_sum(TH_SUM_INIT, big, sizeof(big));
    memset(&f, 0, sizeof(f));
    f.b.log = &f.l;
    f.data = big;
    f.len = sizeof(big);
    th_sp_init(&r);
    t = th_sp_start(loop, &r, argv, NULL);
    f.in = aiotp_transport_get_pipe_transport(t, 0);
    feed_next(&f);
    th_sp_wait_lost(loop, &r, 5000);
    CHECK_INT(f.l.n, 16);
    CHECK_SIZE(f.pos, sizeof(big));
    snprintf(expect, sizeof(expect), "n=%zu sum=%08x\n", sizeof(big), (unsigned)sum);
    CHECK_SIZE(r.out_len[1], strlen(expect));
    CHECK(memcmp(r.out[1], expect, strlen(expect)) == 0);
    CHECK_INT(r.pipe_lost_status[0], 0);
    CHECK_INT(r.rc_at_exit, 0);
}

static const th_case cases[] = {
    T(taken_at_once_done_next_pass, "PIPE-BORROW-1 PIPE-BORROW-2"),
    T(mixed_writes_keep_order, "PIPE-BORROW-2 PIPE-WRITE-1"),
    T(borrowed_first_then_copies, "PIPE-BORROW-2"),
    T(large_buffer_done_after_drain, "PIPE-BORROW-1 PIPE-BORROW-2"),
    T(flow_control_with_borrowed_bytes, "PIPE-BORROW-2 PIPE-FLOW-1"),
    T(abort_cancels_borrowed_writes, "PIPE-BORROW-1 PIPE-ABORT-1"),
    T(reader_gone_fails_borrowed_writes, "PIPE-BORROW-1 PIPE-PEER-1"),
    T(write_error_fails_borrowed_writes, "PIPE-BORROW-1 PIPE-WRITE-4"),
    T(write_error_at_once_calls_nothing, "PIPE-BORROW-2 PIPE-WRITE-4"),
    T(loop_free_completes_borrowed_writes, "PIPE-BORROW-2"),
    T(reentrant_calls_inside_done, "PIPE-BORROW-1 PIPE-DRAIN-1"),
    T(abort_inside_done, "PIPE-BORROW-1 PIPE-ABORT-1"),
    T(refused_calls_change_nothing, "PIPE-BORROW-2 TRANSPORT-KIND-2 BAD-1"),
    T(subprocess_stdin_borrowed, "PIPE-BORROW-2"),
    T(stream_order_flow_and_eof, "WRITE-BORROW-1 FLOW-4 FLOW-5 WRITE-EOF-2"),
    T(stream_taken_at_once_then_abort, "WRITE-BORROW-1 WRITE-ABORT-1"),
    T(stream_peer_gone_fails_borrowed_writes, "WRITE-BORROW-1 WRITE-WRITE-7"),
    T(stream_reentrant_calls_inside_done, "WRITE-BORROW-1 WRITE-EOF-2 WRITE-WRITE-4"),
    T(stream_loop_free_completes_borrowed_writes, "WRITE-BORROW-1 LIFE-1"),
};

TH_MAIN_SIM(cases)
