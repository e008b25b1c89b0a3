/* fuzz/fz_common.c - see fz_common.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/flow.h"
#include "fz_asan.h"
#include "fz_common.h"
#include "loop_int.h" /* AIOTP__READ_MAX */

/* ---- violations ------------------------------------------------------------------------ */

size_t fz_step;

void fz_violation(const char *rule, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FUZZ VIOLATION [%s] at record %zu: ", rule, fz_step);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- counting allocator ------------------------------------------------------------------ */

/* Throughput (fuzz/README.md): the loop's receive buffer (AIOTP__READ_MAX, 256 KiB) is the
   one large block of an input; with malloc the sanitizer maps, poisons and unmaps it at
   every input. One static block serves it instead (one loop per input), poisoned under
   ASan while it is not handed out, so a use after free is still caught; nothing carries
   over from one input to the next that the library could see (it never reads the buffer
   before recv() fills it). */
/* (ASan's quarantine: fz_asan.h) */
FZ_ASAN_DEFAULT_OPTIONS()

long fz_live;
long fz_fail_next;
static unsigned char big_block[AIOTP__READ_MAX];
static bool big_used;

static void *c_alloc(void *ctx, size_t n)
{
    void *p;
    (void)ctx;
    if (fz_fail_next > 0) {
        fz_fail_next--;
        return NULL;
    }
    if (n == sizeof(big_block) && !big_used) {
        big_used = true;
        UNPOISON(big_block, sizeof(big_block));
        fz_live++;
        return big_block;
    }
    p = malloc(n);
    if (p != NULL) {
        fz_live++;
    }
    return p;
}

static void *c_realloc(void *ctx, void *old, size_t n)
{
    void *p;
    (void)ctx;
    if (fz_fail_next > 0) {
        fz_fail_next--;
        return NULL;
    }
    p = realloc(old, n);
    if (p != NULL && old == NULL) {
        fz_live++;
    }
    return p;
}

static void c_free(void *ctx, void *p)
{
    (void)ctx;
    if (p == (void *)big_block) {
        fz_live--;
        big_used = false;
        POISON(big_block, sizeof(big_block));
        return;
    }
    if (p != NULL) {
        fz_live--;
        free(p);
    }
}

const aiotp_allocator fz_counting = {c_alloc, c_realloc, c_free, NULL};

void fz_alloc_reset(void)
{
    fz_live = 0;
    fz_fail_next = 0;
}

/* ---- the oracle ----------------------------------------------------------------------------- */

static aiotp_oracle *g_oracle;
static size_t g_lines;
static bool g_print;

/* The oracle's blocks (its state of about 20 KiB, a chunk of transport slots of about
   40 KiB, the hash) come from a static arena reset at every input, as fuzz_trace's:
   through the sanitizer's allocator each was filled, cleared and quarantined at every
   input (a tenth of a datagram input's time). Under ASan the arena is poisoned except
   for the blocks handed out, with a poisoned gap after each, and a freed block is
   poisoned again, so overflows and uses after free are still caught. A block that does
   not fit comes from malloc. */
#define O_ARENA ((size_t)512 << 10)
static union {
    long double ld; /* alignment (C99: no max_align_t) */
    long long ll;
    void *vp;
    unsigned char bytes[O_ARENA];
} o_arena;
static size_t o_used;
static bool o_poisoned;

/* Only the part the last input used can hold unpoisoned bytes (blocks are carved from
   o_used up): poisoning it leaves the whole arena poisoned. */
static void o_arena_reset(void)
{
    fz_arena_reset(o_arena.bytes, O_ARENA, &o_used, &o_poisoned);
}

static bool o_in_arena(const void *p)
{
    const unsigned char *c = p;
    return c >= o_arena.bytes && c < o_arena.bytes + O_ARENA;
}

static void *o_alloc(void *ctx, size_t n)
{
    void *p = fz_arena_take(o_arena.bytes, O_ARENA, &o_used, n);
    (void)ctx;
    return p != NULL ? p : malloc(n);
}

static void o_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (o_in_arena(p)) {
        POISON(p, n);
    } else {
        free(p);
    }
}

void fz_oracle_begin(size_t max_transports)
{
    aiotp_oracle_alloc oa = {o_alloc, o_free, NULL};
    /* an oracle sized for the input's transports, not the default 256 (its block is then
       a few KiB instead of 380 KiB, allocated and cleared at every input) */
    aiotp_oracle_config cfg = {max_transports, AIOTP_ORACLE_REQUIRE_LOST};
    g_lines = 0;
    g_print = getenv("FZ_TRACE") != NULL; /* read once per input */
    o_arena_reset();
    FZ_REQUIRE(aiotp_oracle_new(&cfg, &oa, &g_oracle) == 0, "HARNESS", "oracle_new");
    (void)aiotp_oracle_set_profile(g_oracle, AIOTP_ORACLE_PROFILE_AIOTP); /* the library's */
}

size_t fz_oracle_lines(void)
{
    return g_lines;
}

static void report(const char *when, const char *line)
{
    const aiotp_oracle_report *r = aiotp_oracle_first(g_oracle);
    size_t i;
    if (r != NULL) {
        for (i = 0; i < r->nrecent; i++) {
            fprintf(stderr, "  oracle recent %zu: %s\n", r->recent[i].lineno, r->recent[i].text);
        }
    }
    fz_violation(r != NULL && r->rule != NULL ? r->rule : "ORACLE", "oracle%s: %s (line %zu: %s)",
                 when, r != NULL ? r->detail : "?", g_lines, line);
}

void fz_oracle_trace(void *arg, const char *line)
{
    (void)arg;
    if (g_print) {
        fprintf(stderr, "  | %s\n", line);
    }
    if (g_oracle != NULL && aiotp_oracle_feed_line(g_oracle, line, ++g_lines) != AIOTP_ORACLE_OK) {
        report("", line);
    }
}

void fz_oracle_end(void)
{
    int rc = aiotp_oracle_finish(g_oracle);
    if (rc != AIOTP_ORACLE_OK || aiotp_oracle_violations(g_oracle) != 0) {
        report(" at finish", "-");
    }
    aiotp_oracle_free(g_oracle);
    g_oracle = NULL;
}

/* ---- one input's sim and loop ------------------------------------------------------------ */

void fz_loop_new(aiotp_sim **sim, aiotp_loop **loop, aiotp_exception_fn exc)
{
    aiotp_loop_options o;
    FZ_REQUIRE(aiotp_sim_create(sim, &fz_counting) == 0, "HARNESS", "sim_create");
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.backend = aiotp_backend_sim();
    o.syscalls = aiotp_sim_syscalls(*sim);
    o.allocator = &fz_counting;
    FZ_REQUIRE(aiotp_loop_create(loop, &o) == 0, "HARNESS", "loop_create");
    aiotp_loop_set_exception_handler(*loop, exc, NULL);
    aiotp_loop_set_trace(*loop, fz_oracle_trace, NULL);
}

void fz_run_pass(aiotp_loop *loop, bool alloc_armed)
{
    int rc = aiotp_loop_run_once(loop);
    FZ_REQUIRE(rc == 0 || (alloc_armed && rc == AIOTP_ENOMEM), "LOOP", "run_once: %s",
               aiotp_err_name(rc));
}

void fz_end(aiotp_sim *sim)
{
    FZ_REQUIRE(aiotp_sim_open_fds(sim) == 0, "LEAK", "%zu sim fds left open",
               aiotp_sim_open_fds(sim));
    aiotp_sim_free(sim);
    FZ_REQUIRE(fz_live == 0, "LEAK", "%ld allocations not freed", fz_live);
    fz_oracle_end();
}

/* ---- the records of an input ------------------------------------------------------------ */

size_t fz_run_records(const uint8_t *data, size_t size, void (*step)(uint8_t, uint8_t, uint16_t),
                      void (*check)(void))
{
    size_t nrec = size / FZ_REC;
    size_t i;
    if (nrec > FZ_MAX_OPS) {
        nrec = FZ_MAX_OPS;
    }
    for (i = 0; i < nrec; i++) {
        const uint8_t *r = data + i * FZ_REC;
        fz_step = i + 1;
        step(r[0], r[1], (uint16_t)(r[2] | (r[3] << 8)));
        check();
    }
    return nrec;
}

/* ---- checks both harnesses make after every record ------------------------------------- */

void fz_check_flow(const aiotp__flow *flow, bool paused, size_t size, const char *rule_state,
                   const char *rule_high)
{
    FZ_REQUIRE((flow->state == AIOTP__FLOW_PAUSED) == paused, rule_state,
               "flow state %d, protocol paused %d", (int)flow->state, (int)paused);
    FZ_REQUIRE(paused || size <= flow->high, rule_high, "not paused with size %zu > high %zu",
               size, flow->high);
}

void fz_check_watch(aiotp_sim *sim, int fd, bool reader_on, bool writer_on,
                    const char *rule_writer)
{
    unsigned interest = aiotp_sim_interest(sim, fd);
    FZ_REQUIRE(reader_on == ((interest & AIOTP_EV_READ) != 0), "READ-2",
               "reader_on %d, backend interest %u", (int)reader_on, interest);
    FZ_REQUIRE(writer_on == ((interest & AIOTP_EV_WRITE) != 0), rule_writer,
               "writer_on %d, backend interest %u", (int)writer_on, interest);
}

/* ---- pieces of the call-in alphabet ---------------------------------------------------------- */

void fz_noop_cb(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

static void watcher(aiotp_loop *loop, int fd, void *arg)
{
    (void)loop;
    (void)fd;
    (void)arg;
    fz_violation("LOOP-8", "a user watcher on the transport's fd was called");
}

void fz_wrap_done(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    (void)status;
    (void)t;
    fz_violation("METH-8", "a wrap of the transport's own fd completed");
}

void fz_user_fd_call(aiotp_loop *loop, int fd, unsigned which)
{
    int rc;
    switch (which % 4u) {
    case 0:
        rc = aiotp_loop_add_reader(loop, fd, watcher, NULL);
        break;
    case 1:
        rc = aiotp_loop_add_writer(loop, fd, watcher, NULL);
        break;
    case 2:
        rc = aiotp_loop_remove_reader(loop, fd);
        break;
    default:
        rc = aiotp_loop_remove_writer(loop, fd);
        break;
    }
    FZ_REQUIRE(rc == AIOTP_EBUSY, "LOOP-8", "user watcher call %u on the transport's fd: %s",
               which % 4u, aiotp_err_name(rc));
}
