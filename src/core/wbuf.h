/*
 * src/core/wbuf.h - write-buffer accounting over a ring of bytes.
 *
 * Pure module: it owns no memory and copies nothing. The transport gives it a byte array
 * (data, cap), copies bytes into the free segments it reports, and tells it how many it
 * committed; it reports the queued bytes as at most two segments for sendmsg()/writev().
 *
 *   queued bytes: data[head .. head+len) modulo cap
 *   size == len == length of segment 0 + length of segment 1        (WBUF-1)
 *   append(n) adds n, consume(n) removes n from the front, clear -> 0 (WBUF-2..4)
 */
#ifndef AIOTP_CORE_WBUF_H
#define AIOTP_CORE_WBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct aiotp__wbuf {
    unsigned char *data; /* ring storage, cap bytes (NULL when cap == 0) */
    size_t cap;          /* capacity in bytes */
    size_t head;         /* index of the first queued byte; head < cap or cap == 0 */
    size_t len;          /* number of queued bytes; len <= cap */
} aiotp__wbuf;

/* A segment of the ring: `len` bytes starting at data + `off`. */
typedef struct aiotp__wseg {
    size_t off;
    size_t len;
} aiotp__wseg;

void aiotp__wbuf_init(aiotp__wbuf *w);
bool aiotp__wbuf_is_valid(const aiotp__wbuf *w);
size_t aiotp__wbuf_size(const aiotp__wbuf *w);
size_t aiotp__wbuf_space(const aiotp__wbuf *w);

/* The queued bytes as up to two segments (seg[1].len == 0 when not wrapped). Returns
   the number of non-empty segments. */
int aiotp__wbuf_data_segments(const aiotp__wbuf *w, aiotp__wseg seg[2]);

/* The free space as up to two segments, in append order. Returns the number of
   non-empty segments. */
int aiotp__wbuf_free_segments(const aiotp__wbuf *w, aiotp__wseg seg[2]);

/* n bytes were copied into the first n bytes of the free segments. Requires
   n <= space. */
void aiotp__wbuf_commit(aiotp__wbuf *w, size_t n);

/* n bytes were sent from the front. Requires n <= size. */
void aiotp__wbuf_consume(aiotp__wbuf *w, size_t n);

/* Drop everything (abort, fatal error). The storage is kept. */
void aiotp__wbuf_clear(aiotp__wbuf *w);

/* The caller copied the queued bytes, in order, to the start of new storage of newcap
   bytes (newcap >= size) and installs it here. */
void aiotp__wbuf_rebase(aiotp__wbuf *w, unsigned char *data, size_t newcap);

#endif /* AIOTP_CORE_WBUF_H */
