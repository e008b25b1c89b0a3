/*
 * src/core/handles.h - the handle slots of the loop's scheduled callbacks (call_soon,
 * call_later, call_at): which slot a handle names, and generations so that a handle that
 * ran or was cancelled never names another callback.
 *
 * Pure module: it owns no memory. The loop keeps the slot array (the free stack lives in
 * it too) and the callbacks beside it (same index); this module hands out slot indices,
 * frees them and answers "does this handle name a live callback, and which?".
 *
 *   handle  = generation << 32 | (index + 1)        (never 0)
 *   a slot's generation starts at 1 and grows by one every time the slot is freed; it
 *   never wraps: a slot whose generation would reach AIOTP__HANDLE_GEN_MAX is retired
 *   (never reused) instead. So a handle matches only the callback it was made for:
 *   after that callback ran or was cancelled, the handle matches nothing, for ever
 *   (PROOF-HANDLES-2, spec/proofs.md).
 *
 * Slot states (aiotp__hstate):
 *
 *   FREE --alloc(READY)--> READY --run or cancel: free--> FREE (generation + 1)
 *   FREE --alloc(TIMER)--> TIMER --due: set_state(READY)--> READY
 *                            +-----cancel: free-----------> FREE (generation + 1)
 */
#ifndef AIOTP_CORE_HANDLES_H
#define AIOTP_CORE_HANDLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AIOTP__HANDLE_GEN_MAX UINT32_MAX        /* a slot reaching it is retired */
#define AIOTP__HANDLES_MAX ((uint32_t)0x7fffffff) /* most slots */
#define AIOTP__HANDLE_NONE UINT32_MAX           /* "no slot" */
#define AIOTP__HANDLE_GEN_UNIT ((uint64_t)1 << 32) /* handle = gen * UNIT + index + 1 */

typedef enum aiotp__hstate {
    AIOTP__HS_FREE = 0, /* not in use (on the free stack, or retired) */
    AIOTP__HS_READY,    /* in the ready queue */
    AIOTP__HS_TIMER,    /* in the timer heap */
    AIOTP__HS_COUNT
} aiotp__hstate;

typedef struct aiotp__hslot {
    uint32_t gen;        /* generation: >= 1; < AIOTP__HANDLE_GEN_MAX while in use */
    uint32_t fs;         /* free stack: slot[k].fs, k < nfree, is the k-th free slot */
    aiotp__hstate state;
} aiotp__hslot;

typedef struct aiotp__handles {
    aiotp__hslot *slot; /* cap entries; [0, used) have been handed out at least once */
    uint32_t used;      /* slots handed out at least once */
    uint32_t nfree;     /* entries on the free stack (slot[0 .. nfree).fs) */
    uint32_t cap;       /* entries of the array */
    uint32_t retired;   /* slots retired because their generation ran out */
} aiotp__handles;

#ifdef __FRAMAC__
#include "acsl/handles.acsl" /* HandlesAt, HandleOf */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-HANDLES-*). */

/*@ requires valid_ptr: \valid(h);
    assigns *h;
    ensures empty: h->slot == \null && h->used == 0 && h->nfree == 0 && h->cap == 0 &&
                   h->retired == 0;
    ensures valid_shape: HandlesShape(h);
    ensures valid_gens: HandlesGens(h);
    ensures valid_stack: HandlesStack(h);
    ensures valid_distinct: HandlesDistinct(h);
*/
void aiotp__handles_init(aiotp__handles *h);

/* The caller moved the array to storage of newcap >= cap entries (contents kept, e.g. by
   realloc: the old storage is gone) and installs it here. */
/*@ requires valid_ptr: \valid(h);
    requires sizes: h->used <= h->cap && h->nfree <= h->cap;
    requires bigger: h->cap <= newcap <= AIOTP__HANDLES_MAX;
    requires storage: \valid(slot + (0 .. newcap - 1));
    requires separated: \separated(h, slot + (0 .. newcap - 1));
    requires contents: GensOf(slot, h->used) && StackOf(slot, h->nfree, h->used) &&
                       DistinctOf(slot, h->nfree);
    assigns h->slot, h->cap;
    ensures valid_shape: HandlesShape(h);
    ensures valid_gens: HandlesGens(h);
    ensures valid_stack: HandlesStack(h);
    ensures valid_distinct: HandlesDistinct(h);
    ensures installed: h->slot == slot && h->cap == newcap;
*/
void aiotp__handles_rebase(aiotp__handles *h, aiotp__hslot *slot, uint32_t newcap);

/* A slot can be handed out without growing the arrays. */
/*@ requires valid_ptr: \valid_read(h);
    requires valid: HandlesAt((aiotp__handles *)h);
    assigns \nothing;
    ensures result: \result != 0 <==> (h->nfree > 0 || h->used < h->cap);
*/
bool aiotp__handles_can_alloc(const aiotp__handles *h);

/* Hand out a free slot in state `st` (READY or TIMER). Its generation is one no handle
   given out before for it had. */
/*@ requires valid: HandlesAt(h);
    requires room: h->nfree > 0 || h->used < h->cap;
    requires live_state: st == AIOTP__HS_READY || st == AIOTP__HS_TIMER;
    assigns h->slot[0 .. h->cap - 1], h->used, h->nfree;
    ensures valid_shape: HandlesShape(h);
    ensures valid_gens: HandlesGens(h);
    ensures valid_stack: HandlesStack(h);
    ensures valid_distinct: HandlesDistinct(h);
    ensures index: \result < h->used && \result < h->cap;
    ensures was_free: \result < \old(h->used) ==> \old(h->slot[\result].state) == AIOTP__HS_FREE;
    ensures fresh: \result >= \old(h->used) ==> h->slot[\result].gen == 1;
    ensures HANDLES_1_alloc: h->slot[\result].state == st;
    ensures gen_kept: \result < \old(h->used) ==> h->slot[\result].gen == \old(h->slot[\result].gen);
    ensures others: \forall integer i; 0 <= i < \old(h->used) && i != \result ==>
                      h->slot[i].gen == \old(h->slot[i].gen) &&
                      h->slot[i].state == \old(h->slot[i].state);
    ensures same: h->slot == \old(h->slot) &&
                  h->cap == \old(h->cap) && h->used >= \old(h->used);
*/
uint32_t aiotp__handles_alloc(aiotp__handles *h, aiotp__hstate st);

/* The callback of slot i ran or was cancelled: free the slot. Its generation grows by
   one (every handle to it goes stale); if that reaches AIOTP__HANDLE_GEN_MAX the slot is
   retired and never handed out again. */
/*@ requires valid: HandlesAt(h);
    requires live: i < h->used && h->slot[i].state != AIOTP__HS_FREE;
    assigns h->slot[0 .. h->cap - 1], h->nfree, h->retired;
    ensures valid_shape: HandlesShape(h);
    ensures valid_gens: HandlesGens(h);
    ensures valid_stack: HandlesStack(h);
    ensures valid_distinct: HandlesDistinct(h);
    ensures HANDLES_2_stale: h->slot[i].state == AIOTP__HS_FREE &&
                             h->slot[i].gen == \old(h->slot[i].gen) + 1;
    ensures others: \forall integer j; 0 <= j < h->used && j != i ==>
                      h->slot[j].gen == \old(h->slot[j].gen) &&
                      h->slot[j].state == \old(h->slot[j].state);
    ensures same: h->slot == \old(h->slot) &&
                  h->cap == \old(h->cap) && h->used == \old(h->used);
*/
void aiotp__handles_free(aiotp__handles *h, uint32_t i);

/* Move a live slot to another live state (a due timer becomes READY). */
/*@ requires valid: HandlesAt(h);
    requires live: i < h->used && h->slot[i].state != AIOTP__HS_FREE;
    requires live_state: st == AIOTP__HS_READY || st == AIOTP__HS_TIMER;
    assigns h->slot[i].state;
    ensures others: \forall integer j; 0 <= j < h->used && j != i ==>
                      h->slot[j].gen == \old(h->slot[j].gen) &&
                      h->slot[j].state == \old(h->slot[j].state);
    ensures gen_kept: h->slot[i].gen == \old(h->slot[i].gen);
    ensures same: h->slot == \old(h->slot) &&
                  h->cap == \old(h->cap) && h->used == \old(h->used);
    ensures valid_shape: HandlesShape(h);
    ensures valid_gens: HandlesGens(h);
    ensures valid_stack: HandlesStack(h);
    ensures valid_distinct: HandlesDistinct(h);
    ensures state: h->slot[i].state == st;
*/
void aiotp__handles_set_state(aiotp__handles *h, uint32_t i, aiotp__hstate st);

/* The handle of live slot i. */
/*@ requires valid_ptr: \valid_read(h);
    requires valid: HandlesAt((aiotp__handles *)h);
    requires live: i < h->used && h->slot[i].state != AIOTP__HS_FREE;
    assigns \nothing;
    ensures HANDLES_1_encode: \result == HandleOf(i, h->slot[i].gen) && \result != 0;
*/
uint64_t aiotp__handles_handle(const aiotp__handles *h, uint32_t i);

/* The live slot a handle names, or AIOTP__HANDLE_NONE: the slot exists, is in use, and has
   the handle's generation. */
/*@ requires valid_ptr: \valid_read(h);
    requires valid: HandlesAt((aiotp__handles *)h);
    assigns \nothing;
    behavior HANDLES_1_found:
      assumes \exists integer i; 0 <= i < h->used && handle == HandleOf(i, h->slot[i].gen) &&
              h->slot[i].state != AIOTP__HS_FREE;
      ensures result: \result < h->used && handle == HandleOf(\result, h->slot[\result].gen) &&
              h->slot[\result].state != AIOTP__HS_FREE;
    behavior HANDLES_1_none:
      assumes !(\exists integer i; 0 <= i < h->used && handle == HandleOf(i, h->slot[i].gen) &&
                h->slot[i].state != AIOTP__HS_FREE);
      ensures result: \result == AIOTP__HANDLE_NONE;
    complete behaviors;
    disjoint behaviors;
*/
uint32_t aiotp__handles_find(const aiotp__handles *h, uint64_t handle);

/* A ready-queue entry (slot i, generation gen) is still the callback it was queued for:
   the slot is READY with that generation. Runs for every queued user callback. */
/*@ requires valid_ptr: \valid_read(h);
    requires valid: HandlesAt((aiotp__handles *)h);
    assigns \nothing;
    ensures HANDLES_1_match: \result != 0 <==> (i < h->used && h->slot[i].gen == gen &&
                                              h->slot[i].state == AIOTP__HS_READY);
*/
static inline bool aiotp__handles_ready(const aiotp__handles *h, uint32_t i, uint32_t gen)
{
    return i < h->used && h->slot[i].gen == gen && h->slot[i].state == AIOTP__HS_READY;
}

#endif /* AIOTP_CORE_HANDLES_H */
