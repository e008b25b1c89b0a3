/*
 * src/bq_int.h - the queue of borrowed writes (aiotp_transport_write_borrowed, DEV-81),
 * the same for every kind that has them (the write pipe, the stream transport).
 *
 * Layer 2 (spec/architecture.md): beside the transport base. A kind keeps its copied bytes
 * in its ring (core/wbuf.h, unchanged) and, beside it, this FIFO of entries: a *run* of
 * copied bytes (base NULL: the next len bytes of the ring) or a *borrowed* buffer (the
 * caller's memory, its done and arg). While any entry is queued the entries describe the
 * whole byte stream in order and the runs add up to the ring's size; while none is, the
 * ring alone is the queue (the kind's path without borrowed writes, unchanged).
 * spec/pipe-transport.md "Borrowed writes" has the design.
 */
#ifndef AIOTP_BQ_INT_H
#define AIOTP_BQ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "core/wbuf.h"
#include "transport_int.h"

/* One entry. */
typedef struct aiotp__bseg {
    const unsigned char *base;   /* borrowed: the next byte to write; NULL: a copied run */
    size_t len;                  /* bytes of it still queued; 0 once complete */
    aiotp_write_done_cb done;    /* borrowed: its completion; NULL for a run */
    void *arg;
    int status;                  /* once complete: the status done gets (0 or an error) */
} aiotp__bseg;

/* The queue: a ring of cap entries (a power of two; NULL until the first borrowed write).
   Entries [0, due) from head are complete, their done still to call; [due, count) are
   queued. */
typedef struct aiotp__bq {
    aiotp__bseg *e;
    size_t cap;
    size_t head;
    size_t count;
    size_t due;
    size_t bytes;                /* borrowed bytes still queued (in the write-buffer size) */
    aiotp_transport *owner;      /* the transport (set by aiotp__bq_prepare) */
    unsigned *promised;          /* the owner's count of reserved ready-queue entries */
    bool entry;                  /* a ready-queue entry is reserved for the done pass */
    bool scheduled;              /* the done pass is queued (it holds a reference) */
} aiotp__bq;

/* Is any entry still queued? Then the queue describes the whole byte stream. */
static inline bool aiotp__bq_queued(const aiotp__bq *q)
{
    return q->count > q->due;
}

/*
 * Before a borrowed write of transport t: room for two more entries (a run for the
 * ring's bytes, the buffer) and the done pass's ready-queue entry (counted in *promised,
 * kept reserved between calls). 0 or AIOTP_ENOMEM (nothing changed).
 */
int aiotp__bq_prepare(aiotp__bq *q, aiotp_transport *t, unsigned *promised);

/* Room for n more entries: 0 or AIOTP_ENOMEM (nothing changed). */
int aiotp__bq_room(aiotp_loop *loop, aiotp__bq *q, size_t n);

/*
 * The borrowed buffer of an accepted call (after aiotp__bq_prepare): `ring` bytes are
 * queued in the ring before it (they become a run if no entry is queued yet); `sent` of
 * its len bytes were taken by the kernel already. When sent == len it is complete at once
 * and the done pass is queued (done runs in the next pass, never inside the call).
 */
void aiotp__bq_borrow(aiotp__bq *q, size_t ring, const unsigned char *data, size_t len,
                      size_t sent, aiotp_write_done_cb done, void *arg);

/* n bytes were appended to the ring while entries are queued (room for one entry was
   made): the last run grows, or a run follows. */
void aiotp__bq_note_copied(aiotp__bq *q, size_t n);

/* Room for n more copied bytes behind what is queued (write and writelines, all or
   nothing): the ring's, and while borrowed entries are queued the run the bytes join,
   counted at once (the caller appends them to the ring right after; nothing fails in
   between). 0, or AIOTP_ETOOBIG / AIOTP_ENOMEM with nothing queued. */
static inline int aiotp__bq_reserve_copy(aiotp_loop *loop, aiotp__bq *q, aiotp__wbuf *wb,
                                         size_t n)
{
    int rc = aiotp__bq_queued(q) ? aiotp__bq_room(loop, q, 1) : 0;
    if (rc == 0) {
        rc = aiotp__wq_reserve(loop, wb, n);
    }
    if (rc == 0 && n > 0 && aiotp__bq_queued(q)) {
        aiotp__bq_note_copied(q, n);
    }
    return rc;
}

/* Every queued entry is complete with status (their bytes will not be written); the
   caller clears the ring. */
void aiotp__bq_cancel(aiotp__bq *q, int status);

/* One gathered write's buffers, the queued entries in order (a run: its bytes in wb's
   data segments): at most max; returns how many. */
int aiotp__bq_gather(const aiotp__bq *q, const aiotp__wbuf *wb, struct iovec *iov, int max);

/* n bytes were written: the queued entries lose them in order, the complete ones become
   due; the copied runs' part leaves wb. */
void aiotp__bq_consume(aiotp__bq *q, aiotp__wbuf *wb, size_t n);

/* Call the dones of at most max complete entries of t, in order, traced `cb write_done`.
   Each entry leaves the queue before its done runs, which may call any method. */
void aiotp__bq_run_due(aiotp__bq *q, aiotp_transport *t, size_t max);

/* Before connection_lost: every queued entry is cancelled with status (0 means
   AIOTP_ECANCELED) and every done owed runs (inline: nothing to do without borrowed
   writes). */
void aiotp__bq_finish_owed(aiotp__bq *q, aiotp_transport *t, int status);
static inline void aiotp__bq_finish(aiotp__bq *q, aiotp_transport *t, int status)
{
    if (q->count > 0) {
        aiotp__bq_finish_owed(q, t, status);
    }
}

/* The drain with borrowed entries queued is a function of its own in each kind, kept out
   of the kind's drain so that the path without borrowed writes compiles as before. */
#if defined(__GNUC__)
#define AIOTP__NOINLINE __attribute__((noinline))
#else
#define AIOTP__NOINLINE
#endif

/* aiotp_loop_free: each done still owed runs with t NULL (0 for an entry complete,
   AIOTP_ECANCELED otherwise); then the memory goes. No other callback. */
void aiotp__bq_teardown(aiotp_loop *loop, aiotp__bq *q);

/* Free the queue's memory (the owner's memory goes). */
void aiotp__bq_free(aiotp_loop *loop, aiotp__bq *q);

#endif /* AIOTP_BQ_INT_H */
