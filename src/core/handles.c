/* src/core/handles.c - see handles.h. Pure: no syscalls, no allocation, no callbacks. */
#include "core/handles.h"

void aiotp__handles_init(aiotp__handles *h)
{
    h->slot = NULL;
    h->used = 0;
    h->nfree = 0;
    h->cap = 0;
    h->retired = 0;
}

void aiotp__handles_rebase(aiotp__handles *h, aiotp__hslot *slot, uint32_t newcap)
{
    h->slot = slot;
    h->cap = newcap;
}

bool aiotp__handles_can_alloc(const aiotp__handles *h)
{
    return h->nfree > 0 || h->used < h->cap;
}

uint32_t aiotp__handles_alloc(aiotp__handles *h, aiotp__hstate st)
{
    uint32_t i;

    if (h->nfree > 0) {
        h->nfree--;
        i = h->slot[h->nfree].fs; /* LIFO: the most recently freed slot, still in cache */
    } else {
        i = h->used;
        h->used++;
        h->slot[i].gen = 1;
    }
    h->slot[i].state = st;
    return i;
}

void aiotp__handles_free(aiotp__handles *h, uint32_t i)
{
    uint32_t gen = h->slot[i].gen + 1u; /* below AIOTP__HANDLE_GEN_MAX while in use: no wrap */
    uint32_t n = h->nfree;

    /*@ assert not_on_stack: \forall integer k; 0 <= k < n ==> h->slot[k].fs != i; */
    h->slot[i].gen = gen;
    h->slot[i].state = AIOTP__HS_FREE;
    if (gen != AIOTP__HANDLE_GEN_MAX && n < h->cap) {
        h->slot[n].fs = i;
        h->nfree = n + 1u;
    } else if (h->retired < UINT32_MAX) {
        /* generation spent: retired, never handed out again (defect 12). (The free stack
           cannot be full: it holds other free slots only. Checked, not proven.) */
        h->retired++;
    }
}

void aiotp__handles_set_state(aiotp__handles *h, uint32_t i, aiotp__hstate st)
{
    h->slot[i].state = st;
}

uint64_t aiotp__handles_handle(const aiotp__handles *h, uint32_t i)
{
    return (uint64_t)h->slot[i].gen * AIOTP__HANDLE_GEN_UNIT + ((uint64_t)i + 1u);
}

uint32_t aiotp__handles_find(const aiotp__handles *h, uint64_t handle)
{
    uint64_t low = handle % AIOTP__HANDLE_GEN_UNIT; /* index + 1 */
    uint32_t gen = (uint32_t)(handle / AIOTP__HANDLE_GEN_UNIT);
    uint32_t i;

    if (low == 0 || low > h->used) {
        return AIOTP__HANDLE_NONE;
    }
    i = (uint32_t)(low - 1u);
    if (h->slot[i].gen != gen || h->slot[i].state == AIOTP__HS_FREE) {
        return AIOTP__HANDLE_NONE;
    }
    return i;
}
