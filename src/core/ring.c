/* src/core/ring.c - see ring.h. Pure: no syscalls, no allocation, no callbacks. (push and
   pop are static inline in ring.h; WP proves them here.) */
#include "core/ring.h"

void aiotp__ring_init(aiotp__ring *r)
{
    r->cap = 0;
    r->head = 0;
    r->len = 0;
    r->promised = 0;
}

bool aiotp__ring_is_valid(const aiotp__ring *r)
{
    if (r->cap > AIOTP__RING_MAX || (r->cap == 0 ? r->head != 0 : r->head >= r->cap)) {
        return false;
    }
    return r->len <= r->cap && r->promised <= r->cap - r->len;
}

bool aiotp__ring_fits(const aiotp__ring *r, size_t extra)
{
    return extra <= r->cap - r->len - r->promised;
}

size_t aiotp__ring_grow_cap(const aiotp__ring *r, size_t extra)
{
    size_t used = r->len + r->promised; /* <= cap <= AIOTP__RING_MAX: no overflow */
    size_t cap = r->cap < AIOTP__RING_MIN ? AIOTP__RING_MIN : r->cap;

    if (used > AIOTP__RING_MAX / 2 || extra > AIOTP__RING_MAX / 2 - used) {
        return 0;
    }
    /*@ loop invariant AIOTP__RING_MIN <= cap <= AIOTP__RING_MAX;
        loop invariant cap >= r->cap;
        loop assigns cap;
        loop variant AIOTP__RING_MAX - cap;
    */
    while (cap < used + extra) {
        cap *= 2; /* cap < used + extra <= AIOTP__RING_MAX / 2 */
    }
    return cap;
}

size_t aiotp__ring_at(const aiotp__ring *r, size_t i)
{
    size_t k = r->head + i;
    if (k >= r->cap) {
        k -= r->cap;
    }
    return k;
}

void aiotp__ring_rebase(aiotp__ring *r, size_t newcap)
{
    r->cap = newcap;
    r->head = 0;
}

void aiotp__ring_reserve(aiotp__ring *r, size_t n)
{
    r->promised += n;
}

void aiotp__ring_unreserve(aiotp__ring *r, size_t n)
{
    r->promised -= n;
}
