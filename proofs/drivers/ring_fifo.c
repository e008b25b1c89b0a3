/* proofs/drivers/ring_fifo.c - proof driver for src/core/ring.h (Frama-C only, never
 * linked into the library).
 *
 * The loop's ready queue as the loop uses it: entries written where aiotp__ring_push /
 * aiotp__ring_push_promised say, read where aiotp__ring_pop says, and promised places
 * reserved and released, in any order and any number. Each entry carries its serial
 * number (the order it was queued in); the assertion RING_FIFO says that pop always
 * returns the oldest entry still queued: FIFO (LOOP-3), nothing lost, nothing twice.
 *
 * Stubs: aiotp_proof_any_*() return an arbitrary value and touch no memory: the proof
 * covers every sequence of operations the preconditions allow. Growing the storage
 * (aiotp__ring_rebase after the loop copies the entries oldest first, using
 * aiotp__ring_at) is covered by the contracts of those two functions (`linear`, `at`). */
#include "core/ring.h"

/*@ assigns \nothing; */
extern int aiotp_proof_any_op(void);
/*@ assigns \nothing; ensures \result <= 4; */
extern size_t aiotp_proof_any_small(void);

/*@ // serial[k]: the serial number of the entry stored at index k of the storage; the
    // queued entries are numbered popped, popped + 1, ... from the oldest.
    predicate Fifo{L}(aiotp__ring r, unsigned *serial, integer popped) =
      \forall integer k; 0 <= k < r.len ==> serial[RingIndex(r, k)] == popped + k;
    predicate Setup{L}(aiotp__ring *r, unsigned *serial, integer cap) =
      \valid(r) && RingValid(*r) && r->cap == cap && cap > 0 &&
      \valid(serial + (0 .. cap - 1)) && \separated(r, serial + (0 .. cap - 1));
*/

/* Queue entry number `pushed` (promised or not). */
/*@ requires setup: Setup(r, serial, cap);
    requires fifo: Fifo(*r, serial, popped) && pushed == popped + r->len;
    requires room: r->len + r->promised < r->cap || (promised && r->promised > 0);
    assigns *r, serial[0 .. cap - 1];
    ensures setup: Setup(r, serial, cap);
    ensures fifo: Fifo(*r, serial, popped) && pushed + 1 == popped + r->len;
*/
static void push(aiotp__ring *r, unsigned *serial, size_t cap, unsigned popped,
                 unsigned pushed, int promised)
{
    size_t at = promised && r->promised > 0 ? aiotp__ring_push_promised(r)
                                            : aiotp__ring_push(r);
    serial[at] = pushed;
}

/* Take the oldest entry: it is entry number `popped`. */
/*@ requires setup: Setup(r, serial, cap);
    requires fifo: Fifo(*r, serial, popped);
    requires queued: r->len > 0;
    assigns *r;
    ensures setup: Setup(r, serial, cap);
    ensures RING_FIFO: \result == popped;
    ensures fifo: Fifo(*r, serial, popped + 1) && r->len == \old(r->len) - 1;
*/
static unsigned pop(aiotp__ring *r, unsigned *serial, size_t cap, unsigned popped)
{
    size_t at = aiotp__ring_pop(r);
    return serial[at];
}

/*@ requires setup: Setup(r, serial, cap) && r->len == 0 && r->promised == 0;
    assigns *r, serial[0 .. cap - 1];
*/
void aiotp_proof_ring_fifo(aiotp__ring *r, unsigned *serial, size_t cap, unsigned steps)
{
    unsigned i;
    unsigned pushed = 0; /* entries queued so far */
    unsigned popped = 0; /* entries taken so far */

    /*@ loop invariant setup: Setup(r, serial, cap);
        loop invariant count: pushed == popped + r->len && pushed <= i;
        loop invariant fifo: Fifo(*r, serial, popped);
        loop assigns i, pushed, popped, *r, serial[0 .. cap - 1];
        loop variant steps - i;
    */
    for (i = 0; i < steps; i++) {
        int op = aiotp_proof_any_op();
        if ((op == 0 && r->len + r->promised < r->cap) || (op == 1 && r->promised > 0)) {
            push(r, serial, cap, popped, pushed, op == 1);
            pushed++;
        } else if (op == 2 && r->len > 0) {
            unsigned got = pop(r, serial, cap, popped);
            /*@ assert RING_FIFO: got == popped; */
            popped++;
        } else if (op == 3) {
            size_t n = aiotp_proof_any_small();
            if (aiotp__ring_fits(r, n)) {
                aiotp__ring_reserve(r, n);
            }
        } else if (op == 4) {
            size_t n = aiotp_proof_any_small();
            if (n <= r->promised) {
                aiotp__ring_unreserve(r, n);
            }
        }
    }
}
