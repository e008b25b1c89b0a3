/* tests/test_core_loop.c - the loop's pure core modules run directly: the ready-queue ring
   (core/ring.h), the handle slots (core/handles.h) and the timer heap with the wait
   timeout (core/theap.h). Frama-C proves their contracts (spec/proofs.md); these cases
   check them against independent expectations (a plain array as the FIFO, a sorted copy as
   the heap's order, the timeout worked out by hand) and execute every branch, for the
   coverage gate's 100 % of the core's branches (scripts/coverage.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/handles.h"
#include "core/ring.h"
#include "core/theap.h"
#include "harness.h"

/* ---- ring ------------------------------------------------------------------------------- */

TEST(ring_fifo_wraps_and_grows)
{
    aiotp__ring r;
    int store[128];
    int tmp[128];
    int next = 0;
    int expect = 0;
    size_t i;
    size_t k;

    aiotp__ring_init(&r);
    CHECK(aiotp__ring_is_valid(&r));
    CHECK(r.cap == 0 && r.head == 0 && r.len == 0 && r.promised == 0);
    CHECK(!aiotp__ring_fits(&r, 1));
    CHECK(aiotp__ring_fits(&r, 0));
    /* the first allocation: at least AIOTP__RING_MIN, doubled until the request fits */
    CHECK_SIZE(aiotp__ring_grow_cap(&r, 1), AIOTP__RING_MIN);
    CHECK_SIZE(aiotp__ring_grow_cap(&r, 65), 128);
    CHECK_SIZE(aiotp__ring_grow_cap(&r, AIOTP__RING_MAX / 2 + 1), 0); /* too many */
    {
        aiotp__ring big; /* the fields only: grow_cap reads no storage */
        aiotp__ring_init(&big);
        big.cap = AIOTP__RING_MAX;
        big.len = AIOTP__RING_MAX / 2 + 1;
        CHECK_SIZE(aiotp__ring_grow_cap(&big, 0), 0); /* already more than half full */
        big.len = AIOTP__RING_MAX / 2;
        CHECK_SIZE(aiotp__ring_grow_cap(&big, 1), 0);
    }
    aiotp__ring_rebase(&r, 64);
    CHECK(r.cap == 64 && r.head == 0 && aiotp__ring_is_valid(&r));

    /* 40 in, 30 out, 40 in: the tail wraps past the end of the storage */
    for (k = 0; k < 40; k++) {
        store[aiotp__ring_push(&r)] = next++;
    }
    for (k = 0; k < 30; k++) {
        CHECK_INT(store[aiotp__ring_pop(&r)], expect++);
    }
    for (k = 0; k < 40; k++) {
        CHECK(aiotp__ring_fits(&r, 1));
        store[aiotp__ring_push(&r)] = next++;
    }
    CHECK(r.len == 50 && r.head == 30 && aiotp__ring_is_valid(&r));
    for (k = 0; k < r.len; k++) { /* at(i): the i-th oldest, across the wrap */
        CHECK_INT(store[aiotp__ring_at(&r, k)], expect + (int)k);
    }
    CHECK(aiotp__ring_at(&r, 40) == 6); /* 30 + 40 - 64 */

    /* grow as the loop does: copy oldest first to [0, len), then rebase */
    CHECK(aiotp__ring_fits(&r, 14) && !aiotp__ring_fits(&r, 15));
    CHECK_SIZE(aiotp__ring_grow_cap(&r, 15), 128);
    for (k = 0; k < r.len; k++) {
        tmp[k] = store[aiotp__ring_at(&r, k)];
    }
    memcpy(store, tmp, r.len * sizeof(int));
    aiotp__ring_rebase(&r, 128);
    CHECK(r.cap == 128 && r.head == 0 && r.len == 50 && aiotp__ring_is_valid(&r));

    /* promised entries: reserved room the pushes may use later, never counted twice */
    aiotp__ring_reserve(&r, 70);
    CHECK(r.promised == 70 && aiotp__ring_fits(&r, 8) && !aiotp__ring_fits(&r, 9));
    for (k = 0; k < 60; k++) {
        store[aiotp__ring_push_promised(&r)] = next++;
    }
    aiotp__ring_unreserve(&r, 10);
    CHECK(r.promised == 0 && r.len == 110 && aiotp__ring_is_valid(&r));
    while (r.len > 0) {
        CHECK_INT(store[aiotp__ring_pop(&r)], expect++);
    }
    CHECK_INT(expect, next);
    CHECK(r.head == 110);
    for (i = 0; i < 20; i++) { /* the head wraps to 0 at the end */
        store[aiotp__ring_push(&r)] = next++;
        CHECK_INT(store[aiotp__ring_pop(&r)], expect++);
    }
    CHECK(r.head == 2 && r.len == 0);
}

TEST(ring_is_valid_refuses_broken_shapes)
{
    aiotp__ring r;

    aiotp__ring_init(&r);
    r.head = 1; /* no storage, yet a head */
    CHECK(!aiotp__ring_is_valid(&r));
    r.cap = 8;
    r.head = 8; /* head past the storage */
    CHECK(!aiotp__ring_is_valid(&r));
    r.head = 7;
    r.len = 9; /* more than the storage */
    CHECK(!aiotp__ring_is_valid(&r));
    r.len = 6;
    r.promised = 3; /* queued + promised > cap */
    CHECK(!aiotp__ring_is_valid(&r));
    r.promised = 2;
    CHECK(aiotp__ring_is_valid(&r));
    r.cap = AIOTP__RING_MAX + 1;
    CHECK(!aiotp__ring_is_valid(&r));
}

/* ---- handles ---------------------------------------------------------------------------- */

TEST(handles_generations_and_stale_handles)
{
    aiotp__handles h;
    aiotp__hslot slots[4];
    uint32_t a;
    uint32_t b;
    uint32_t c;
    uint64_t ha;
    uint64_t hb;
    uint64_t hc;

    aiotp__handles_init(&h);
    CHECK(!aiotp__handles_can_alloc(&h));
    aiotp__handles_rebase(&h, slots, 4);
    CHECK(aiotp__handles_can_alloc(&h));
    a = aiotp__handles_alloc(&h, AIOTP__HS_READY);
    b = aiotp__handles_alloc(&h, AIOTP__HS_TIMER);
    CHECK(a == 0 && b == 1 && h.used == 2);
    ha = aiotp__handles_handle(&h, a);
    hb = aiotp__handles_handle(&h, b);
    CHECK(ha == AIOTP__HANDLE_GEN_UNIT + 1 && hb == AIOTP__HANDLE_GEN_UNIT + 2); /* gen 1 */
    CHECK(ha != 0 && hb != 0);
    CHECK(aiotp__handles_find(&h, ha) == a && aiotp__handles_find(&h, hb) == b);
    CHECK(aiotp__handles_find(&h, 0) == AIOTP__HANDLE_NONE);
    CHECK(aiotp__handles_find(&h, AIOTP__HANDLE_GEN_UNIT + 3) == AIOTP__HANDLE_NONE); /* unused */
    CHECK(aiotp__handles_find(&h, 2 * AIOTP__HANDLE_GEN_UNIT + 1) == AIOTP__HANDLE_NONE); /* gen */

    CHECK(!aiotp__handles_ready(&h, b, 1)); /* a timer, not queued yet */
    aiotp__handles_set_state(&h, b, AIOTP__HS_READY);
    CHECK(h.slot[b].state == AIOTP__HS_READY);
    CHECK(aiotp__handles_ready(&h, b, 1));
    CHECK(!aiotp__handles_ready(&h, b, 2)); /* another generation */
    CHECK(!aiotp__handles_ready(&h, 2, 1)); /* never handed out */
    /* freed: the handle is stale at once, and stays so when the slot is reused */
    aiotp__handles_free(&h, a);
    CHECK(aiotp__handles_find(&h, ha) == AIOTP__HANDLE_NONE);
    CHECK(h.nfree == 1 && h.slot[a].gen == 2);
    /* the next generation's handle names no callback while the slot is free */
    CHECK(aiotp__handles_find(&h, 2 * AIOTP__HANDLE_GEN_UNIT + 1) == AIOTP__HANDLE_NONE);
    c = aiotp__handles_alloc(&h, AIOTP__HS_TIMER); /* LIFO: the slot just freed */
    CHECK(c == a && h.nfree == 0 && h.used == 2);
    hc = aiotp__handles_handle(&h, c);
    CHECK(hc == 2 * AIOTP__HANDLE_GEN_UNIT + 1 && hc != ha);
    CHECK(aiotp__handles_find(&h, ha) == AIOTP__HANDLE_NONE);
    CHECK(aiotp__handles_find(&h, hc) == c);
    aiotp__handles_free(&h, b);
    aiotp__handles_free(&h, c);
    CHECK(h.nfree == 2 && aiotp__handles_find(&h, hb) == AIOTP__HANDLE_NONE &&
          aiotp__handles_find(&h, hc) == AIOTP__HANDLE_NONE);
    /* the most recently freed first */
    CHECK(aiotp__handles_alloc(&h, AIOTP__HS_READY) == c);
    CHECK(aiotp__handles_alloc(&h, AIOTP__HS_READY) == b);
    CHECK(aiotp__handles_alloc(&h, AIOTP__HS_READY) == 2);
    CHECK(aiotp__handles_alloc(&h, AIOTP__HS_READY) == 3);
    CHECK(!aiotp__handles_can_alloc(&h));
}

TEST(handles_spent_generation_retires_the_slot)
{
    aiotp__handles h;
    aiotp__hslot slots[2];
    uint32_t a;
    uint64_t last;

    aiotp__handles_init(&h);
    aiotp__handles_rebase(&h, slots, 2);
    a = aiotp__handles_alloc(&h, AIOTP__HS_READY);
    h.slot[a].gen = AIOTP__HANDLE_GEN_MAX - 1; /* the last generation a slot may hand out */
    last = aiotp__handles_handle(&h, a);
    CHECK(aiotp__handles_find(&h, last) == a);
    aiotp__handles_free(&h, a); /* defect 12: retired, never wrapped back to an old handle */
    CHECK(h.slot[a].gen == AIOTP__HANDLE_GEN_MAX && h.slot[a].state == AIOTP__HS_FREE);
    CHECK(h.nfree == 0 && h.retired == 1);
    CHECK(aiotp__handles_find(&h, last) == AIOTP__HANDLE_NONE);
    CHECK(aiotp__handles_alloc(&h, AIOTP__HS_READY) == 1); /* a fresh slot, not a */
    CHECK(!aiotp__handles_can_alloc(&h));
    /* the count of retired slots saturates instead of wrapping */
    h.retired = UINT32_MAX;
    h.slot[1].gen = AIOTP__HANDLE_GEN_MAX - 1;
    aiotp__handles_free(&h, 1);
    CHECK(h.retired == UINT32_MAX && h.nfree == 0);
}

TEST(handles_full_free_stack_retires_instead_of_overrunning)
{
    aiotp__handles h;
    aiotp__hslot slots[2];

    /* A state the invariant excludes (the free stack holds free slots other than the one
       being freed, so it is never full then): the defensive branch retires the slot and
       writes nothing past the array. */
    aiotp__handles_init(&h);
    aiotp__handles_rebase(&h, slots, 2);
    (void)aiotp__handles_alloc(&h, AIOTP__HS_READY);
    (void)aiotp__handles_alloc(&h, AIOTP__HS_READY);
    slots[0].fs = 7;
    slots[1].fs = 9;
    h.nfree = 2;
    aiotp__handles_free(&h, 1);
    CHECK(h.nfree == 2 && h.retired == 1 && slots[0].fs == 7 && slots[1].fs == 9);
    CHECK(h.slot[1].state == AIOTP__HS_FREE && h.slot[1].gen == 2);
}

/* ---- theap ------------------------------------------------------------------------------ */

#define NT 200

static int cmp_timer(const void *x, const void *y)
{
    const aiotp__timer *a = x;
    const aiotp__timer *b = y;
    if (a->when != b->when) {
        return a->when < b->when ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : (a->seq > b->seq ? 1 : 0);
}

static uint32_t rnd_state = 12345u;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) & 0xffffu;
}

TEST(theap_pops_in_time_then_schedule_order)
{
    static aiotp__timer a[NT];
    static aiotp__timer *pos[NT];
    static aiotp__timer ref[NT];
    static bool cancelled[NT];
    aiotp__theap h;
    uint32_t i;
    uint32_t nref = 0;
    uint32_t k;

    aiotp__theap_init(&h);
    CHECK(h.n == 0 && h.a == NULL);
    aiotp__theap_rebase(&h, a, NT, pos, NT);
    for (i = 0; i < NT; i++) {
        aiotp__timer t;
        t.when = (int64_t)(rnd() % 50) - 10; /* many equal times, some negative */
        t.seq = i;
        t.id = (i * 7u) % NT; /* ids not in scheduling order */
        aiotp__theap_push(&h, t);
        CHECK(h.pos[t.id]->id == t.id && h.pos[t.id]->seq == t.seq);
    }
    CHECK(h.n == NT);
    /* cancel every third timer by id: it leaves the heap at once */
    memset(cancelled, 0, sizeof(cancelled));
    for (i = 0; i < NT; i += 3) {
        aiotp__timer got = aiotp__theap_remove(&h, i);
        CHECK(got.id == i);
        cancelled[i] = true;
    }
    CHECK(h.n == NT - (NT + 2) / 3);
    /* the reference: the survivors sorted by (when, seq) */
    rnd_state = 12345u;
    for (i = 0; i < NT; i++) {
        aiotp__timer t;
        t.when = (int64_t)(rnd() % 50) - 10;
        t.seq = i;
        t.id = (i * 7u) % NT;
        if (!cancelled[t.id]) {
            ref[nref++] = t;
        }
    }
    CHECK(nref == h.n);
    qsort(ref, nref, sizeof(ref[0]), cmp_timer);
    for (k = 0; k < nref; k++) {
        aiotp__timer got = aiotp__theap_pop(&h);
        CHECK(got.when == ref[k].when && got.seq == ref[k].seq && got.id == ref[k].id);
    }
    CHECK(h.n == 0);
}

TEST(theap_pop_due_takes_exactly_the_due_timers)
{
    static aiotp__timer a[16];
    static aiotp__timer *pos[16];
    static const int64_t whens[] = {50, 10, 30, 10, 70, 20, 30, 60};
    aiotp__theap h;
    aiotp__timer t;
    uint32_t i;

    aiotp__theap_init(&h);
    CHECK(!aiotp__theap_pop_due(&h, 1000, &t)); /* empty */
    aiotp__theap_rebase(&h, a, 16, pos, 16);
    for (i = 0; i < 8; i++) {
        aiotp__timer e;
        e.when = whens[i];
        e.seq = i;
        e.id = 15 - i;
        aiotp__theap_push(&h, e);
    }
    CHECK(!aiotp__theap_pop_due(&h, 9, &t) && h.n == 8); /* none due yet */
    CHECK(aiotp__theap_pop_due(&h, 30, &t) && t.when == 10 && t.seq == 1);
    CHECK(aiotp__theap_pop_due(&h, 30, &t) && t.when == 10 && t.seq == 3);
    CHECK(aiotp__theap_pop_due(&h, 30, &t) && t.when == 20 && t.seq == 5);
    CHECK(aiotp__theap_pop_due(&h, 30, &t) && t.when == 30 && t.seq == 2);
    CHECK(aiotp__theap_pop_due(&h, 30, &t) && t.when == 30 && t.seq == 6 && t.id == 9);
    CHECK(!aiotp__theap_pop_due(&h, 30, &t) && h.n == 3); /* 50, 60, 70 not due */
    /* remove the entry in the middle of the array, then the last one */
    t = aiotp__theap_remove(&h, 15 - 7); /* when 60 */
    CHECK(t.when == 60 && h.n == 2);
    t = aiotp__theap_remove(&h, 15 - 4); /* when 70 */
    CHECK(t.when == 70 && h.n == 1);
    CHECK(aiotp__theap_pop_due(&h, INT64_MAX, &t) && t.when == 50 && h.n == 0);
}

TEST(theap_remove_sifts_up_and_down)
{
    static aiotp__timer a[8];
    static aiotp__timer *pos[8];
    static const int64_t whens[] = {0, 100, 1, 101, 102, 2, 3};
    aiotp__theap h;
    aiotp__timer t;
    uint32_t i;

    /* heap (by place): 0 | 100 1 | 101 102 2 3. Removing place 3 (101) moves the last
       (3) there, below its parent 100: it must go up. */
    aiotp__theap_init(&h);
    aiotp__theap_rebase(&h, a, 8, pos, 8);
    for (i = 0; i < 7; i++) {
        aiotp__timer e;
        e.when = whens[i];
        e.seq = i;
        e.id = i;
        aiotp__theap_push(&h, e);
    }
    CHECK(h.a[3].when == 101 && h.a[1].when == 100);
    t = aiotp__theap_remove(&h, 3);
    CHECK(t.when == 101 && h.a[1].when == 3 && h.a[3].when == 100);
    for (i = 0; i < 5; i++) {
        static const int64_t order[] = {0, 1, 2, 3, 100};
        t = aiotp__theap_pop(&h);
        CHECK(t.when == order[i]);
    }
    t = aiotp__theap_pop(&h);
    CHECK(t.when == 102 && h.n == 0);
}

TEST(timeout_rounds_up_caps_and_never_overflows)
{
    const int64_t ms = AIOTP__NS_PER_MS;

    CHECK_INT(aiotp__timeout_ms(5, 5), 0);
    CHECK_INT(aiotp__timeout_ms(4, 5), 0);
    CHECK_INT(aiotp__timeout_ms(INT64_MIN, INT64_MAX), 0); /* far in the past: due */
    CHECK_INT(aiotp__timeout_ms(1, 0), 1);                 /* rounded up: never early */
    CHECK_INT(aiotp__timeout_ms(ms, 0), 1);
    CHECK_INT(aiotp__timeout_ms(ms + 1, 0), 2);
    CHECK_INT(aiotp__timeout_ms(AIOTP__TIMEOUT_MAX_NS, 0), AIOTP__TIMEOUT_MAX_MS);
    CHECK_INT(aiotp__timeout_ms(AIOTP__TIMEOUT_MAX_NS + 1, 0), AIOTP__TIMEOUT_MAX_MS);
    CHECK_INT(aiotp__timeout_ms(INT64_MAX, 0), AIOTP__TIMEOUT_MAX_MS);
    /* defect 7: a negative clock and a far timer: no overflow in when - now */
    CHECK_INT(aiotp__timeout_ms(INT64_MAX, -10), AIOTP__TIMEOUT_MAX_MS);
    CHECK_INT(aiotp__timeout_ms(INT64_MAX, INT64_MIN), AIOTP__TIMEOUT_MAX_MS);
    CHECK_INT(aiotp__timeout_ms(-10 + 3 * ms, -10), 3);
    CHECK_INT(aiotp__timeout_ms(-10 + AIOTP__TIMEOUT_MAX_NS, -10), AIOTP__TIMEOUT_MAX_MS);

    /* the wait step: busy never blocks, no timer waits for I/O only */
    CHECK_INT(aiotp__wait_ms(true, true, 10 * ms, 0), 0);
    CHECK_INT(aiotp__wait_ms(true, false, 0, 0), 0);
    CHECK_INT(aiotp__wait_ms(false, false, 0, 0), -1);
    CHECK_INT(aiotp__wait_ms(false, true, 10 * ms, 0), 10);
    CHECK_INT(aiotp__wait_ms(false, true, -5, 0), 0);
}

static const th_case cases[] = {
    T(ring_fifo_wraps_and_grows, "LOOP-3"),
    T(ring_is_valid_refuses_broken_shapes, "LOOP-3"),
    T(handles_generations_and_stale_handles, "LOOP-1"),
    T(handles_spent_generation_retires_the_slot, "LOOP-1"),
    T(handles_full_free_stack_retires_instead_of_overrunning, "LOOP-1"),
    T(theap_pops_in_time_then_schedule_order, "LOOP-5"),
    T(theap_pop_due_takes_exactly_the_due_timers, "LOOP-5"),
    T(theap_remove_sifts_up_and_down, "LOOP-1 LOOP-5"),
    T(timeout_rounds_up_caps_and_never_overflows, "LOOP-2 LOOP-5"),
};

TH_MAIN(cases)
