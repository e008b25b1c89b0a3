/*
 * src/core/ring.h - the ready queue's ring: index arithmetic of a FIFO over a caller-owned
 * array (the loop's ready-queue entries).
 *
 * Pure module: it owns no memory and copies nothing. The loop keeps the entries; this
 * module says where the next one goes (push), which one comes out (pop), and keeps the
 * count of entries promised to objects for their internal callbacks (reserve), so that a
 * promised push can never fail.
 *
 *   queued entries, oldest first: index RingIndex(r, 0 .. len-1) = (head + i) mod cap
 *   push    writes at (head + len) mod cap, then len + 1
 *   pop     reads at head, then head + 1 mod cap, len - 1
 *   len + promised <= cap at all times
 *
 * push and pop run for every ready callback and fd event: they are static inline here
 * (no call, no division: a compare and a subtraction), proven where ring.c includes them.
 */
#ifndef AIOTP_CORE_RING_H
#define AIOTP_CORE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest capacity: entries are addressed with size_t and the loop multiplies by the
   entry size (at most 64 bytes). */
#define AIOTP__RING_MAX (SIZE_MAX / 64)
/* First capacity. */
#define AIOTP__RING_MIN ((size_t)64)

typedef struct aiotp__ring {
    size_t cap;      /* entries of storage (0 before the first allocation) */
    size_t head;     /* index of the oldest queued entry; head < cap, or 0 when cap == 0 */
    size_t len;      /* entries queued */
    size_t promised; /* entries reserved for later aiotp__ring_push_promised() */
} aiotp__ring;

#ifdef __FRAMAC__
#include "acsl/ring.acsl" /* RingValid, RingIndex */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-RING-*). */

/*@ requires valid_ptr: \valid(r);
    assigns *r;
    ensures empty: r->cap == 0 && r->head == 0 && r->len == 0 && r->promised == 0;
    ensures valid: RingValid(*r);
*/
void aiotp__ring_init(aiotp__ring *r);

/*@ requires valid_ptr: \valid_read(r);
    assigns \nothing;
    ensures is_valid_iff: \result != 0 <==> RingValid(*r);
*/
bool aiotp__ring_is_valid(const aiotp__ring *r);

/* True when `extra` more entries fit beside the queued and promised ones. */
/*@ requires valid_ptr: \valid_read(r);
    requires valid: RingValid(*r);
    assigns \nothing;
    ensures fits: \result != 0 <==> r->len + r->promised + extra <= r->cap;
*/
bool aiotp__ring_fits(const aiotp__ring *r, size_t extra);

/* The capacity to grow to so that `extra` more entries fit: AIOTP__RING_MIN doubled until
   it is enough. 0 when that would exceed AIOTP__RING_MAX. */
/*@ requires valid_ptr: \valid_read(r);
    requires valid: RingValid(*r);
    assigns \nothing;
    ensures enough: \result != 0 ==> r->len + r->promised + extra <= \result <= AIOTP__RING_MAX;
    ensures grows: \result != 0 ==> \result >= r->cap && \result >= AIOTP__RING_MIN;
    ensures too_big: \result == 0 ==> r->len + r->promised + extra > AIOTP__RING_MAX / 2;
*/
size_t aiotp__ring_grow_cap(const aiotp__ring *r, size_t extra);

/* Where the i-th queued entry (0 = oldest) is. */
/*@ requires valid_ptr: \valid_read(r);
    requires valid: RingValid(*r);
    requires queued: i < r->len;
    assigns \nothing;
    ensures RING_1_at: \result == RingIndex(*r, i) && \result < r->cap;
*/
size_t aiotp__ring_at(const aiotp__ring *r, size_t i);

/* The caller copied the queued entries, oldest first, to the start of new storage of
   newcap entries (newcap >= len + promised) and installs it here. */
/*@ requires valid_ptr: \valid(r);
    requires valid: RingValid(*r);
    requires fits: r->len + r->promised <= newcap <= AIOTP__RING_MAX && newcap > 0;
    assigns r->cap, r->head;
    ensures valid: RingValid(*r);
    ensures installed: r->cap == newcap && r->head == 0;
    ensures kept: r->len == \old(r->len) && r->promised == \old(r->promised);
    ensures linear: \forall integer i; 0 <= i < r->len ==> RingIndex(*r, i) == i;
*/
void aiotp__ring_rebase(aiotp__ring *r, size_t newcap);

/* Reserve n entries for later promised pushes (they must fit: aiotp__ring_fits). */
/*@ requires valid_ptr: \valid(r);
    requires valid: RingValid(*r);
    requires fits: r->len + r->promised + n <= r->cap;
    assigns r->promised;
    ensures valid: RingValid(*r);
    ensures RING_2_reserved: r->promised == \old(r->promised) + n;
*/
void aiotp__ring_reserve(aiotp__ring *r, size_t n);

/*@ requires valid_ptr: \valid(r);
    requires valid: RingValid(*r);
    requires promised: n <= r->promised;
    assigns r->promised;
    ensures valid: RingValid(*r);
    ensures RING_2_released: r->promised == \old(r->promised) - n;
*/
void aiotp__ring_unreserve(aiotp__ring *r, size_t n);

/* Queue one entry in an unpromised place: returns the index to write it at. */
/*@ requires valid_ptr: \valid(r);
    requires valid: RingValid(*r);
    requires room: r->len + r->promised < r->cap;
    assigns r->len;
    ensures valid: RingValid(*r);
    ensures RING_1_tail: \result == RingIndex(\old(*r), \old(r->len)) && \result < r->cap;
    ensures RING_1_grows: r->len == \old(r->len) + 1;
    ensures RING_1_kept: \forall integer i; 0 <= i < \old(r->len) ==>
                           RingIndex(*r, i) == RingIndex(\old(*r), i);
*/
static inline size_t aiotp__ring_push(aiotp__ring *r)
{
    size_t i = r->head + r->len; /* < 2 cap: no overflow (cap <= AIOTP__RING_MAX) */
    if (i >= r->cap) {
        i -= r->cap;
    }
    r->len++;
    return i;
}

/* Queue one entry in a promised place (cannot fail). */
/*@ requires valid_ptr: \valid(r);
    requires valid: RingValid(*r);
    requires promised: r->promised > 0;
    assigns r->len, r->promised;
    ensures valid: RingValid(*r);
    ensures RING_2_used: r->promised == \old(r->promised) - 1;
    ensures RING_1_tail: \result == RingIndex(\old(*r), \old(r->len)) && \result < r->cap;
    ensures RING_1_grows: r->len == \old(r->len) + 1;
    ensures RING_1_kept: \forall integer i; 0 <= i < \old(r->len) ==>
                           RingIndex(*r, i) == RingIndex(\old(*r), i);
*/
static inline size_t aiotp__ring_push_promised(aiotp__ring *r)
{
    r->promised--;
    return aiotp__ring_push(r);
}

/* Take the oldest entry: returns its index. */
/*@ requires valid_ptr: \valid(r);
    requires valid: RingValid(*r);
    requires queued: r->len > 0;
    assigns r->head, r->len;
    ensures valid: RingValid(*r);
    ensures RING_1_head: \result == RingIndex(\old(*r), 0) && \result < r->cap;
    ensures RING_1_shrinks: r->len == \old(r->len) - 1;
    ensures RING_1_shift: \forall integer i; 0 <= i < r->len ==>
                            RingIndex(*r, i) == RingIndex(\old(*r), i + 1);
*/
static inline size_t aiotp__ring_pop(aiotp__ring *r)
{
    size_t i = r->head;
    r->head = i + 1 == r->cap ? 0 : i + 1;
    r->len--;
    return i;
}

#endif /* AIOTP_CORE_RING_H */
