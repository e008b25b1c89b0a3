/*
 * src/core/theap.h - the loop's timer heap: a binary min-heap of timers by (time,
 * scheduling order), with the place of each timer known, so that a cancelled timer leaves
 * the heap at once (no dead entries piling up), and the wait timeout computed from the
 * earliest time without overflow.
 *
 * Pure module: it owns no memory. The loop keeps the arrays: `a` (the heap, cap entries)
 * and `pos` (indexed by timer id, the handle slot: a pointer to the timer's entry in `a`,
 * meaningful only while the timer is in the heap; pointers rather than indices for the
 * proof, proofs/acsl/theap.acsl).
 *
 *   a[0] is the earliest timer: smallest `when`, and among equal times the smallest `seq`
 *   (the loop numbers timers in scheduling order, so equal times run FIFO: LOOP-5)
 *   push, pop (the earliest), remove (any timer, by id): O(log n), exact contents kept
 */
#ifndef AIOTP_CORE_THEAP_H
#define AIOTP_CORE_THEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AIOTP__THEAP_MAX ((uint32_t)0x7fffffff) /* most timers (and ids) */

/* Wait timeouts (milliseconds): a day at most; the loop re-checks after waking. */
#define AIOTP__TIMEOUT_MAX_MS 86400000
#define AIOTP__NS_PER_MS ((int64_t)1000000)
#define AIOTP__TIMEOUT_MAX_NS ((int64_t)AIOTP__TIMEOUT_MAX_MS * AIOTP__NS_PER_MS)

typedef struct aiotp__timer {
    int64_t when; /* due time (ns) */
    uint64_t seq; /* scheduling order: ties between equal times */
    uint32_t id;  /* the timer's handle slot; < nids */
} aiotp__timer;

typedef struct aiotp__theap {
    aiotp__timer *a;    /* cap entries; the heap is a[0 .. n) */
    aiotp__timer **pos; /* nids entries; pos[id] points at timer id's entry, if in the heap */
    uint32_t n;         /* timers in the heap */
    uint32_t cap;       /* entries of a */
    uint32_t nids;      /* entries of pos: ids are < nids */
} aiotp__theap;

#ifdef __FRAMAC__
#include "acsl/theap.acsl" /* HeapAt, In, Entry, KeyLe, ... */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-THEAP-*). */

/*@ requires valid_ptr: \valid(h);
    assigns *h;
    ensures empty: h->a == \null && h->pos == \null && h->n == 0 && h->cap == 0 &&
                   h->nids == 0;
    ensures valid_shape: HeapShape(h);
    ensures valid_order: Ord(h->a, h->n);
    ensures valid_places: PosEx(h->a, h->pos, h->n, h->nids, h->n);
*/
void aiotp__theap_init(aiotp__theap *h);

/* Install storage: a (cap >= n entries) holds the heap's entries (copied by the caller,
   e.g. by realloc), pos has nids >= the old nids entries. Every timer's pos entry is
   rewritten (a may have moved): O(n), at growth only. */
/*@ requires valid_ptr: \valid(h);
    requires fits: h->n <= cap <= AIOTP__THEAP_MAX && h->nids <= nids <= AIOTP__THEAP_MAX;
    requires storage: (cap > 0 ==> \valid(a + (0 .. cap - 1))) &&
                      (nids > 0 ==> \valid(pos + (0 .. nids - 1)));
    requires separated: \separated(h, a + (0 .. cap - 1), pos + (0 .. nids - 1)) &&
                        \separated(a + (0 .. cap - 1), pos + (0 .. nids - 1));
    requires order: Ord(a, h->n);
    requires ids: \forall integer i; 0 <= i < h->n ==> a[i].id < nids;
    requires distinct: \forall integer i, j; 0 <= i < j < h->n ==> a[i].id != a[j].id;
    assigns h->a, h->pos, h->cap, h->nids, pos[0 .. nids - 1];
    ensures valid_shape: HeapShape(h);
    ensures valid_order: Ord(h->a, h->n);
    ensures valid_places: PosEx(h->a, h->pos, h->n, h->nids, h->n);
    ensures installed: h->a == a && h->pos == pos && h->cap == cap && h->nids == nids;
*/
void aiotp__theap_rebase(aiotp__theap *h, aiotp__timer *a, uint32_t cap, aiotp__timer **pos,
                         uint32_t nids);

/* Add timer t (not in the heap yet). */
/*@ requires valid: HeapAt(h);
    requires room: h->n < h->cap;
    requires new_id: t.id < h->nids && NotIn(h->a, h->n, h->n, t.id);
    assigns h->n, h->a[0 .. h->cap - 1], h->pos[0 .. h->nids - 1];
    ensures valid_shape: HeapShape(h);
    ensures valid_order: Ord(h->a, h->n);
    ensures valid_places: PosEx(h->a, h->pos, h->n, h->nids, h->n);
    ensures THEAP_1_count: h->n == \old(h->n) + 1;
    ensures THEAP_1_added: In(h, t.id) && Entry(h, t.id) == t;
    ensures THEAP_1_keep: \forall integer id; \old(In(h, id)) ==>
                            In(h, id) && Entry(h, id) == \old(Entry(h, id));
    ensures THEAP_1_only: \forall integer id; In(h, id) ==> \old(In(h, id)) || id == t.id;
    ensures same: h->a == \old(h->a) && h->pos == \old(h->pos) && h->cap == \old(h->cap) &&
                  h->nids == \old(h->nids);
*/
void aiotp__theap_push(aiotp__theap *h, aiotp__timer t);

/* Take the earliest timer out. */
/*@ requires valid: HeapAt(h);
    requires nonempty: h->n > 0;
    assigns h->n, h->a[0 .. h->cap - 1], h->pos[0 .. h->nids - 1];
    ensures valid_shape: HeapShape(h);
    ensures valid_order: Ord(h->a, h->n);
    ensures valid_places: PosEx(h->a, h->pos, h->n, h->nids, h->n);
    ensures THEAP_2_earliest: \forall integer k; 0 <= k < \old(h->n) ==>
                                KeyLe(\result, \old(h->a[k]));
    ensures THEAP_2_was_in: \result == \old(h->a[0]) && \old(In(h, h->a[0].id));
    ensures THEAP_1_count: h->n == \old(h->n) - 1;
    ensures THEAP_1_removed: !In(h, \result.id);
    ensures THEAP_1_keep: \forall integer id; id != \result.id && \old(In(h, id)) ==>
                            In(h, id) && Entry(h, id) == \old(Entry(h, id));
    ensures THEAP_1_only: \forall integer id; In(h, id) ==> \old(In(h, id)) && id != \result.id;
    ensures same: h->a == \old(h->a) && h->pos == \old(h->pos) && h->cap == \old(h->cap) &&
                  h->nids == \old(h->nids);
*/
aiotp__timer aiotp__theap_pop(aiotp__theap *h);

/* Take timer id (in the heap) out: a cancelled timer. */
/*@ requires valid: HeapAt(h);
    requires present: id < h->nids && \exists integer k; 0 <= k < h->n && h->a[k].id == id;
    assigns h->n, h->a[0 .. h->cap - 1], h->pos[0 .. h->nids - 1];
    ensures valid_shape: HeapShape(h);
    ensures valid_order: Ord(h->a, h->n);
    ensures valid_places: PosEx(h->a, h->pos, h->n, h->nids, h->n);
    ensures THEAP_3_entry: \result == \old(Entry(h, id)) && \result.id == id;
    ensures THEAP_1_count: h->n == \old(h->n) - 1;
    ensures THEAP_1_removed: !In(h, id);
    ensures THEAP_1_keep: \forall integer k; k != id && \old(In(h, k)) ==>
                            In(h, k) && Entry(h, k) == \old(Entry(h, k));
    ensures THEAP_1_only: \forall integer k; In(h, k) ==> \old(In(h, k)) && k != id;
    ensures same: h->a == \old(h->a) && h->pos == \old(h->pos) && h->cap == \old(h->cap) &&
                  h->nids == \old(h->nids);
*/
aiotp__timer aiotp__theap_remove(aiotp__theap *h, uint32_t id);

/* The wait timeout, in ms, for the earliest timer due at `when`, at time `now`: 0 when it
   is due, else the time left rounded up (never early: LOOP-5), at most a day. No
   overflow for any pair of times (defect 7: INT64_MIN in the past). */
/*@ assigns \nothing;
    ensures range: 0 <= \result <= AIOTP__TIMEOUT_MAX_MS;
    behavior due:
      assumes when <= now;
      ensures LOOP_2_due: \result == 0;
    behavior later:
      assumes now < when && when - now <= AIOTP__TIMEOUT_MAX_NS;
      ensures LOOP_5_never_early: \result * AIOTP__NS_PER_MS >= when - now;
      ensures LOOP_5_at_most_1ms_late: (\result - 1) * AIOTP__NS_PER_MS < when - now;
    behavior far:
      assumes now < when && when - now > AIOTP__TIMEOUT_MAX_NS;
      ensures capped: \result == AIOTP__TIMEOUT_MAX_MS;
    complete behaviors;
    disjoint behaviors;
*/
int aiotp__timeout_ms(int64_t when, int64_t now);

/* The wait step's timeout (LOOP-2): 0 when callbacks are ready or the loop is stopping
   (`busy`), -1 (no limit) when there is no timer, else aiotp__timeout_ms(when, now) for
   the earliest timer. `when` and `now` are not looked at when busy or without a timer
   (the loop does not read the clock then). */
/*@ assigns \nothing;
    ensures range: -1 <= \result <= AIOTP__TIMEOUT_MAX_MS;
    behavior busy:
      assumes busy;
      ensures LOOP_2_no_block: \result == 0;
    behavior no_timer:
      assumes !busy && !has_timer;
      ensures LOOP_2_io_only: \result == -1;
    behavior timer:
      assumes !busy && has_timer;
      ensures LOOP_2_until_timer: \result >= 0 &&
              (when <= now ==> \result == 0) &&
              (now < when && when - now <= AIOTP__TIMEOUT_MAX_NS ==>
                 \result * AIOTP__NS_PER_MS >= when - now &&
                 (\result - 1) * AIOTP__NS_PER_MS < when - now) &&
              (now < when && when - now > AIOTP__TIMEOUT_MAX_NS ==> \result == AIOTP__TIMEOUT_MAX_MS);
    complete behaviors;
    disjoint behaviors;
*/
int aiotp__wait_ms(bool busy, bool has_timer, int64_t when, int64_t now);

/* Take the earliest timer out if it is due at `now` (when <= now): true and *out. False
   when none is due: then no timer in the heap is due (LOOP-5: a pass queues every due
   timer, and only those). */
/*@ requires valid: HeapAt(h);
    requires out: \valid(out) && \separated(out, h, h->a + (0 .. h->cap - 1),
                                                h->pos + (0 .. h->nids - 1));
    assigns h->n, h->a[0 .. h->cap - 1], h->pos[0 .. h->nids - 1], *out;
    ensures valid_shape: HeapShape(h);
    ensures valid_order: Ord(h->a, h->n);
    ensures valid_places: PosEx(h->a, h->pos, h->n, h->nids, h->n);
    behavior due:
      assumes h->n > 0 && h->a[0].when <= now;
      ensures result: \result != 0;
      ensures LOOP_5_earliest: \forall integer k; 0 <= k < \old(h->n) ==> KeyLe(*out, \old(h->a[k]));
      ensures LOOP_5_due: out->when <= now && *out == \old(h->a[0]) && \old(In(h, h->a[0].id));
      ensures removed: h->n == \old(h->n) - 1 && !In(h, out->id);
      ensures keep: \forall integer id; id != out->id && \old(In(h, id)) ==>
                      In(h, id) && Entry(h, id) == \old(Entry(h, id));
      ensures only: \forall integer id; In(h, id) ==> \old(In(h, id)) && id != out->id;
    behavior none_due:
      assumes !(h->n > 0 && h->a[0].when <= now);
      ensures result: \result == 0;
      ensures LOOP_5_none_due: \forall integer k; 0 <= k < h->n ==> h->a[k].when > now;
      ensures unchanged: h->n == \old(h->n);
    complete behaviors;
    disjoint behaviors;
*/
bool aiotp__theap_pop_due(aiotp__theap *h, int64_t now, aiotp__timer *out);

#endif /* AIOTP_CORE_THEAP_H */
