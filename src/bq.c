/*
 * src/bq.c - the queue of borrowed writes (src/bq_int.h; DEV-81): the entries, the
 * gathered write and its consumption, the completions (the done pass of the next loop
 * pass for a buffer the kernel took inside the call; the drain's; before
 * connection_lost; at aiotp_loop_free).
 */
#include <stdint.h>

#include "bq_int.h"

static aiotp__bseg *at(const aiotp__bq *q, size_t i)
{
    return &q->e[(q->head + i) & (q->cap - 1)];
}

int aiotp__bq_room(aiotp_loop *loop, aiotp__bq *q, size_t n)
{
    aiotp__bseg *nb;
    size_t cap = q->cap == 0 ? 8 : q->cap;
    size_t i;
    if (q->count + n <= q->cap) {
        return 0;
    }
    while (cap < q->count + n) {
        if (cap > SIZE_MAX / 2 / sizeof(*nb)) {
            return AIOTP_ENOMEM;
        }
        cap *= 2;
    }
    nb = aiotp__alloc(loop, cap * sizeof(*nb));
    if (nb == NULL) {
        return AIOTP_ENOMEM;
    }
    for (i = 0; i < q->count; i++) {
        nb[i] = *at(q, i);
    }
    aiotp__free(loop, q->e);
    q->e = nb;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int aiotp__bq_prepare(aiotp__bq *q, aiotp_transport *t, unsigned *promised)
{
    int rc = aiotp__bq_room(t->loop, q, 2);
    if (rc == 0 && !q->entry && !q->scheduled) {
        rc = aiotp__rq_reserve(t->loop, 1);
        if (rc == 0) {
            q->entry = true;
            (*promised)++;
        }
    }
    q->owner = t;
    q->promised = promised;
    return rc;
}

static void push(aiotp__bq *q, const unsigned char *base, size_t len, aiotp_write_done_cb done,
                 void *arg)
{
    aiotp__bseg *g = at(q, q->count);
    g->base = base;
    g->len = len;
    g->done = done;
    g->arg = arg;
    g->status = 0;
    q->count++;
}

/* The done pass: the dones of the buffers the kernel took inside the call, in the next
   pass (the pass holds a reference: the transport is there even after its end). */
static void done_pass(aiotp_loop *loop, void *arg)
{
    aiotp__bq *q = arg;
    aiotp_transport *t = q->owner;
    (void)loop;
    q->scheduled = false;
    if (t->proto != NULL) {
        aiotp__bq_run_due(q, t, q->due);
    }
    aiotp__transport_drop(t); /* may free t, and q with it: last */
}

void aiotp__bq_borrow(aiotp__bq *q, size_t ring, const unsigned char *data, size_t len,
                      size_t sent, aiotp_write_done_cb done, void *arg)
{
    if (ring > 0 && !aiotp__bq_queued(q)) {
        push(q, NULL, ring, NULL, NULL); /* the ring's bytes go first */
    }
    push(q, data + sent, len - sent, done, arg);
    if (sent < len) {
        q->bytes += len - sent;
        return;
    }
    q->due++; /* taken at once (nothing was queued before it) */
    if (!q->scheduled) {
        q->scheduled = true;
        q->entry = false;
        (*q->promised)--;
        aiotp__transport_hold(q->owner);
        aiotp__push_promised(q->owner->loop, done_pass, q);
    }
}

void aiotp__bq_note_copied(aiotp__bq *q, size_t n)
{
    aiotp__bseg *last = at(q, q->count - 1);
    if (last->base == NULL && last->len > 0) {
        last->len += n;
    } else {
        push(q, NULL, n, NULL, NULL);
    }
}

void aiotp__bq_cancel(aiotp__bq *q, int status)
{
    size_t i;
    for (i = q->due; i < q->count; i++) {
        aiotp__bseg *g = at(q, i);
        g->len = 0;
        g->status = status;
    }
    q->due = q->count;
    q->bytes = 0;
}

int aiotp__bq_gather(const aiotp__bq *q, const aiotp__wbuf *wb, struct iovec *iov, int max)
{
    aiotp__wseg rs[2];
    int nr = aiotp__wbuf_data_segments(wb, rs);
    int ri = 0;
    size_t roff = 0;
    int k = 0;
    size_t i;
    for (i = q->due; i < q->count && k < max; i++) {
        const aiotp__bseg *g = at(q, i);
        size_t left = g->len;
        if (g->base != NULL) {
            iov[k].iov_base = (void *)(uintptr_t)g->base;
            iov[k].iov_len = g->len;
            k++;
            continue;
        }
        while (left > 0 && k < max && ri < nr) {
            size_t take = rs[ri].len - roff < left ? rs[ri].len - roff : left;
            iov[k].iov_base = wb->data + rs[ri].off + roff;
            iov[k].iov_len = take;
            k++;
            left -= take;
            roff += take;
            if (roff == rs[ri].len) {
                ri++;
                roff = 0;
            }
        }
    }
    return k;
}

void aiotp__bq_consume(aiotp__bq *q, aiotp__wbuf *wb, size_t n)
{
    size_t ring = 0;
    while (n > 0) {
        aiotp__bseg *g = at(q, q->due);
        size_t take = n < g->len ? n : g->len;
        if (g->base != NULL) {
            g->base += take;
            q->bytes -= take;
        } else {
            ring += take;
        }
        g->len -= take;
        n -= take;
        if (g->len == 0) {
            g->status = 0;
            q->due++;
        }
    }
    aiotp__wbuf_consume(wb, ring);
}

void aiotp__bq_run_due(aiotp__bq *q, aiotp_transport *t, size_t max)
{
    while (q->due > 0 && max > 0) {
        aiotp__bseg g = *at(q, 0);
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        q->due--;
        max--;
        if (g.done == NULL) {
            continue; /* a copied run */
        }
        if (aiotp__tracing(t->loop)) {
            aiotp__tracef(t->loop, "t%u cb write_done status=%s", (unsigned)t->id,
                          aiotp__status_name(g.status));
        }
        g.done(t, g.arg, g.status);
        if (aiotp__tracing(t->loop)) {
            aiotp__tracef(t->loop, "t%u ret write_done 0", (unsigned)t->id);
        }
    }
}

void aiotp__bq_finish_owed(aiotp__bq *q, aiotp_transport *t, int status)
{
    aiotp__bq_cancel(q, status != 0 ? status : AIOTP_ECANCELED);
    aiotp__bq_run_due(q, t, SIZE_MAX);
}

void aiotp__bq_teardown(aiotp_loop *loop, aiotp__bq *q)
{
    size_t i;
    for (i = 0; i < q->count; i++) {
        const aiotp__bseg *g = at(q, i);
        if (g->done != NULL) {
            g->done(NULL, g->arg, i < q->due ? g->status : AIOTP_ECANCELED);
        }
    }
    q->count = 0;
    q->due = 0;
    q->bytes = 0;
    aiotp__bq_free(loop, q);
}

void aiotp__bq_free(aiotp_loop *loop, aiotp__bq *q)
{
    aiotp__free(loop, q->e);
    q->e = NULL;
    q->cap = 0;
}
