/*
 * src/core/dgq.h - accounting of the datagram send queue.
 *
 * Pure module: no system calls, no allocation, no callbacks. The datagram transport
 * (src/dgram.c) keeps the datagrams the kernel did not take in one linear block of
 * `cap` bytes, as records laid end to end: [head, tail) holds `count` records whose
 * payloads add up to `payload` bytes (the write-buffer size that flow control sees,
 * DGRAM-FLOW-1: payload bytes only, as CPython 3.11). The transport copies the bytes;
 * this module only moves the offsets, and says whether a new record fits at the tail,
 * fits after moving the queued records to the front, or needs a bigger block. In
 * steady state (the block is big enough) queueing a datagram allocates nothing.
 *
 *   [0 ... head) free, consumed      [head ... tail) queued records      [tail ... cap) free
 *
 * Invariants (DgqValid, checked by aiotp__dgq_is_valid):
 *   head <= tail <= cap
 *   count == 0 <==> tail == head, and then head == 0 (an empty queue starts at 0)
 *   payload <= tail - head, count <= tail - head (every record has a header)
 */
#ifndef AIOTP_CORE_DGQ_H
#define AIOTP_CORE_DGQ_H

#include <stdbool.h>
#include <stddef.h>

typedef struct aiotp__dgq {
    size_t cap;     /* bytes of the block */
    size_t head;    /* offset of the first queued record */
    size_t tail;    /* offset just past the last queued record */
    size_t count;   /* queued records */
    size_t payload; /* payload bytes of the queued records */
} aiotp__dgq;

/* Where a record of n bytes can go. */
typedef enum aiotp__dgq_room {
    AIOTP__DGQ_FITS = 0,    /* at the tail, now */
    AIOTP__DGQ_COMPACT = 1, /* after moving [head, tail) to offset 0 (aiotp__dgq_compact) */
    AIOTP__DGQ_GROW = 2     /* the block must grow to hold tail - head + n bytes */
} aiotp__dgq_room;

#ifdef __FRAMAC__
#include "acsl/dgq.acsl" /* DgqValid */
#endif

/*@ requires valid_ptr: \valid(q);
    assigns *q;
    ensures empty: q->cap == 0 && q->head == 0 && q->tail == 0 && q->count == 0 &&
                   q->payload == 0;
    ensures valid: DgqValid(*q);
*/
void aiotp__dgq_init(aiotp__dgq *q);

/*@ requires valid_ptr: \valid_read(q);
    assigns \nothing;
    ensures is_valid_iff: \result != 0 <==> DgqValid(*q);
*/
bool aiotp__dgq_is_valid(const aiotp__dgq *q);

/*@ requires valid_ptr: \valid_read(q);
    requires valid: DgqValid(*q);
    assigns \nothing;
    behavior fits:
      assumes n <= q->cap - q->tail;
      ensures result: \result == AIOTP__DGQ_FITS;
    behavior compact:
      assumes n > q->cap - q->tail && n <= q->cap - (q->tail - q->head);
      ensures result: \result == AIOTP__DGQ_COMPACT;
    behavior grow:
      assumes n > q->cap - (q->tail - q->head);
      ensures result: \result == AIOTP__DGQ_GROW;
    complete behaviors;
    disjoint behaviors;
*/
aiotp__dgq_room aiotp__dgq_room_for(const aiotp__dgq *q, size_t n);

/* Append a record of rec bytes carrying plen payload bytes (the bytes were copied to
   [tail, tail + rec)). */
/*@ requires valid_ptr: \valid(q);
    requires valid: DgqValid(*q);
    requires has_header: 0 < rec && plen <= rec;
    requires fits: rec <= q->cap - q->tail;
    assigns q->tail, q->count, q->payload;
    ensures valid: DgqValid(*q);
    ensures tail: q->tail == \old(q->tail) + rec;
    ensures count: q->count == \old(q->count) + 1;
    ensures payload: q->payload == \old(q->payload) + plen;
*/
void aiotp__dgq_push(aiotp__dgq *q, size_t rec, size_t plen);

/* Remove the first record (rec bytes, plen payload bytes). When the queue becomes empty
   the offsets go back to 0. */
/*@ requires valid_ptr: \valid(q);
    requires valid: DgqValid(*q);
    requires not_empty: q->count > 0;
    requires record: 0 < rec <= q->tail - q->head && plen <= q->payload && plen <= rec;
    requires rest: q->count > 1 ==> (q->payload - plen <= q->tail - q->head - rec &&
                                      q->count - 1 <= q->tail - q->head - rec);
    requires last: q->count == 1 ==> (rec == q->tail - q->head && plen == q->payload);
    assigns q->head, q->tail, q->count, q->payload;
    ensures valid: DgqValid(*q);
    ensures count: q->count == \old(q->count) - 1;
    ensures payload: q->payload == \old(q->payload) - plen;
    ensures reset: q->count == 0 ==> q->head == 0 && q->tail == 0;
    ensures front: q->count > 0 ==> q->head == \old(q->head) + rec && q->tail == \old(q->tail);
*/
void aiotp__dgq_pop(aiotp__dgq *q, size_t rec, size_t plen);

/* The queued records were moved to offset 0. */
/*@ requires valid_ptr: \valid(q);
    requires valid: DgqValid(*q);
    assigns q->head, q->tail;
    ensures valid: DgqValid(*q);
    ensures moved: q->head == 0 && q->tail == \old(q->tail) - \old(q->head);
*/
void aiotp__dgq_compact(aiotp__dgq *q);

/* The block was replaced by one of cap bytes holding the records at offset 0. */
/*@ requires valid_ptr: \valid(q);
    requires valid: DgqValid(*q);
    requires big_enough: cap >= q->tail - q->head;
    assigns q->cap, q->head, q->tail;
    ensures valid: DgqValid(*q);
    ensures installed: q->cap == cap && q->head == 0 &&
                       q->tail == \old(q->tail) - \old(q->head);
*/
void aiotp__dgq_rebase(aiotp__dgq *q, size_t cap);

/* Drop every record (abort, fatal error); the block is kept. */
/*@ requires valid_ptr: \valid(q);
    assigns q->head, q->tail, q->count, q->payload;
    ensures empty: q->head == 0 && q->tail == 0 && q->count == 0 && q->payload == 0;
    ensures valid: DgqValid(*q);
*/
void aiotp__dgq_clear(aiotp__dgq *q);

#endif /* AIOTP_CORE_DGQ_H */
