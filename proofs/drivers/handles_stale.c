/* proofs/drivers/handles_stale.c - proof driver for src/core/handles.h (Frama-C only,
 * never linked into the library).
 *
 * PROOF-HANDLES-2 (LOOP-1, defect 12): take the handle of one scheduled callback ("mine"),
 * then do anything the loop can do with the slots, in any order and any number of times:
 * hand out slots, free any live slot (a callback ran or was cancelled), move a timer to
 * READY, ask which slot a handle names. As long as my callback has not run or been
 * cancelled, its handle names its slot; once it has, the handle names nothing, for ever,
 * and no callback scheduled later gets that handle, whatever the number of reuses.
 *
 * Stubs: aiotp_proof_any_*() return an arbitrary value and touch no memory. */
#include "core/handles.h"

/*@ assigns \nothing; */
extern int aiotp_proof_any_op(void);
/*@ assigns \nothing; */
extern uint32_t aiotp_proof_any_index(void);

/*@ // The table at h has my slot `mine`, made with generation `gen` (handle `handle`);
    // `gone` once its callback ran or was cancelled.
    predicate Track(aiotp__handles *h, integer mine, integer gen, integer handle,
                    integer gone) =
      HandlesAt(h) && mine < h->used && handle == HandleOf(mine, gen) &&
      (gone == 0 ==> (h->slot[mine].gen == gen &&
                           h->slot[mine].state != AIOTP__HS_FREE)) &&
      (gone != 0 ==> h->slot[mine].gen > gen);
*/

/* Schedule another callback. */
/*@ requires Track(h, mine, gen, handle, gone);
    requires room: h->nfree > 0 || h->used < h->cap;
    assigns *h, h->slot[0 .. h->cap - 1];
    ensures Track(h, mine, gen, handle, gone);
    ensures same: h->cap == \old(h->cap) && h->slot == \old(h->slot);
    ensures HANDLES_2_not_mine: gone == 0 ==> \result != mine;
    ensures HANDLES_2_new_handle: \result < h->used &&
                                  HandleOf(\result, h->slot[\result].gen) != handle;
*/
static uint32_t schedule(aiotp__handles *h, uint32_t mine, uint32_t gen, uint64_t handle,
                         bool gone)
{
    return aiotp__handles_alloc(h, AIOTP__HS_TIMER);
}

/* Slot k's callback ran or was cancelled. */
/*@ requires Track(h, mine, gen, handle, gone);
    requires live: k < h->used && h->slot[k].state != AIOTP__HS_FREE;
    assigns *h, h->slot[0 .. h->cap - 1];
    ensures Track(h, mine, gen, handle, \result);
    ensures same: h->cap == \old(h->cap) && h->slot == \old(h->slot);
    ensures done: \result != 0 <==> (gone != 0 || k == mine);
*/
static bool finish(aiotp__handles *h, uint32_t mine, uint32_t gen, uint64_t handle,
                   bool gone, uint32_t k)
{
    aiotp__handles_free(h, k);
    return gone || k == mine;
}

/* Slot k's timer is due. */
/*@ requires Track(h, mine, gen, handle, gone);
    requires live: k < h->used && h->slot[k].state != AIOTP__HS_FREE;
    assigns h->slot[0 .. h->cap - 1];
    ensures Track(h, mine, gen, handle, gone);
    ensures same: h->cap == \old(h->cap) && h->slot == \old(h->slot);
*/
static void due(aiotp__handles *h, uint32_t mine, uint32_t gen, uint64_t handle, bool gone,
                uint32_t k)
{
    aiotp__handles_set_state(h, k, AIOTP__HS_READY);
}

/* Which slot does my handle name? */
/*@ requires Track(h, mine, gen, handle, gone);
    assigns \nothing;
    ensures HANDLES_2_stale: gone != 0 ==> \result == AIOTP__HANDLE_NONE;
    ensures HANDLES_2_live: gone == 0 ==> \result == mine;
*/
static uint32_t lookup(aiotp__handles *h, uint32_t mine, uint32_t gen, uint64_t handle,
                       bool gone)
{
    return aiotp__handles_find(h, handle);
}

/*@ requires valid: HandlesAt(h);
    requires arrays: h->slot == slot && h->cap == cap;
    requires room: h->nfree > 0 || h->used < h->cap;
    assigns *h, slot[0 .. cap - 1];
*/
void aiotp_proof_handles_stale(aiotp__handles *h, aiotp__hslot *slot, uint32_t cap,
                               unsigned steps)
{
    uint32_t mine = aiotp__handles_alloc(h, AIOTP__HS_READY);
    uint64_t handle = aiotp__handles_handle(h, mine);
    uint32_t gen = h->slot[mine].gen;
    bool gone = false;
    unsigned i;

    /*@ loop invariant track: Track(h, mine, gen, handle, gone);
        loop invariant same: h->cap == cap && h->slot == slot;
        loop assigns i, gone, *h, slot[0 .. cap - 1];
        loop variant steps - i;
    */
    for (i = 0; i < steps; i++) {
        int op = aiotp_proof_any_op();
        uint32_t k = aiotp_proof_any_index();
        if (op == 0 && aiotp__handles_can_alloc(h)) {
            (void)schedule(h, mine, gen, handle, gone);
        } else if (op == 1 && k < h->used && h->slot[k].state != AIOTP__HS_FREE) {
            gone = finish(h, mine, gen, handle, gone, k);
        } else if (op == 2 && k < h->used && h->slot[k].state != AIOTP__HS_FREE) {
            due(h, mine, gen, handle, gone, k);
        } else if (op == 3) {
            uint32_t found = lookup(h, mine, gen, handle, gone);
            /*@ assert HANDLES_2_stale: gone ==> found == AIOTP__HANDLE_NONE; */
            /*@ assert HANDLES_2_live: !gone ==> found == mine; */
        }
    }
}
