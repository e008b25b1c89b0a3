/* src/core/wbuf.c - see wbuf.h. Pure: no syscalls, no allocation, no callbacks. */
#include "core/wbuf.h"

void aiotp__wbuf_init(aiotp__wbuf *w)
{
    w->data = NULL;
    w->cap = 0;
    w->head = 0;
    w->len = 0;
}

bool aiotp__wbuf_is_valid(const aiotp__wbuf *w)
{
    if (w->cap == 0) {
        return w->head == 0 && w->len == 0;
    }
    return w->data != NULL && w->head < w->cap && w->len <= w->cap;
}

size_t aiotp__wbuf_size(const aiotp__wbuf *w)
{
    return w->len;
}

size_t aiotp__wbuf_space(const aiotp__wbuf *w)
{
    return w->cap - w->len;
}

int aiotp__wbuf_data_segments(const aiotp__wbuf *w, aiotp__wseg seg[2])
{
    size_t first;
    int n = 0;

    seg[0].off = w->head;
    seg[0].len = 0;
    seg[1].off = 0;
    seg[1].len = 0;
    if (w->len > 0) {
        first = w->cap - w->head;
        if (w->len <= first) {
            seg[0].len = w->len;
            n = 1;
        } else {
            seg[0].len = first;
            seg[1].len = w->len - first;
            n = 2;
        }
    }
    return n;
}

int aiotp__wbuf_free_segments(const aiotp__wbuf *w, aiotp__wseg seg[2])
{
    size_t tail;
    size_t space = w->cap - w->len;
    size_t first;
    int n = 0;

    seg[0].off = 0;
    seg[0].len = 0;
    seg[1].off = 0;
    seg[1].len = 0;
    if (space > 0) {
        /* tail = (head + len) mod cap, computed without overflow */
        first = w->cap - w->head;
        if (w->len < first) {
            tail = w->head + w->len;
        } else {
            tail = w->len - first;
        }
        seg[0].off = tail;
        /* (with space > 0, tail >= head holds exactly when len < first: the outcome
           "tail >= head but len >= first" cannot happen, and is not counted by the
           coverage gate) */
        if (tail >= w->head && w->len < first) { /* GCOVR_EXCL_BR_LINE */
            /* free space wraps: [tail, cap) then [0, head) */
            seg[0].len = w->cap - tail;
            seg[1].len = w->head;
            n = seg[1].len > 0 ? 2 : 1;
        } else {
            seg[0].len = space;
            n = 1;
        }
    }
    return n;
}

void aiotp__wbuf_commit(aiotp__wbuf *w, size_t n)
{
    w->len += n;
}

void aiotp__wbuf_consume(aiotp__wbuf *w, size_t n)
{
    size_t first = w->cap - w->head;

    w->len -= n;
    if (w->len == 0) {
        w->head = 0; /* keep appends contiguous when the buffer empties */
    } else if (n < first) {
        w->head += n;
    } else {
        w->head = n - first;
    }
}

void aiotp__wbuf_clear(aiotp__wbuf *w)
{
    w->head = 0;
    w->len = 0;
}

void aiotp__wbuf_rebase(aiotp__wbuf *w, unsigned char *data, size_t newcap)
{
    w->data = data;
    w->cap = newcap;
    w->head = 0;
}
