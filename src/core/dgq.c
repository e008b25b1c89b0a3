/* src/core/dgq.c - see dgq.h. Pure: no syscalls, no allocation, no callbacks. */
#include "core/dgq.h"

void aiotp__dgq_init(aiotp__dgq *q)
{
    q->cap = 0;
    q->head = 0;
    q->tail = 0;
    q->count = 0;
    q->payload = 0;
}

bool aiotp__dgq_is_valid(const aiotp__dgq *q)
{
    return q->head <= q->tail && q->tail <= q->cap && (q->count == 0) == (q->tail == q->head) &&
           (q->count != 0 || q->head == 0) && q->payload <= q->tail - q->head &&
           q->count <= q->tail - q->head;
}

aiotp__dgq_room aiotp__dgq_room_for(const aiotp__dgq *q, size_t n)
{
    if (n <= q->cap - q->tail) {
        return AIOTP__DGQ_FITS;
    }
    if (n <= q->cap - (q->tail - q->head)) {
        return AIOTP__DGQ_COMPACT;
    }
    return AIOTP__DGQ_GROW;
}

void aiotp__dgq_push(aiotp__dgq *q, size_t rec, size_t plen)
{
    q->tail += rec;
    q->count++;
    q->payload += plen;
}

void aiotp__dgq_pop(aiotp__dgq *q, size_t rec, size_t plen)
{
    q->count--;
    q->payload -= plen;
    if (q->count == 0) {
        q->head = 0;
        q->tail = 0;
    } else {
        q->head += rec;
    }
}

void aiotp__dgq_compact(aiotp__dgq *q)
{
    q->tail -= q->head;
    q->head = 0;
}

void aiotp__dgq_rebase(aiotp__dgq *q, size_t cap)
{
    q->tail -= q->head;
    q->head = 0;
    q->cap = cap;
}

void aiotp__dgq_clear(aiotp__dgq *q)
{
    q->head = 0;
    q->tail = 0;
    q->count = 0;
    q->payload = 0;
}
