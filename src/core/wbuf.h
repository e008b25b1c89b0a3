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

#ifdef __FRAMAC__
#include "acsl/wbuf.acsl" /* WbufValid, WbufData0Len/1Len, WbufTail, SegsRun, ... */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-WBUF-*). */

/*@ requires valid_ptr: \valid(w);
    assigns *w;
    ensures empty: w->data == \null && w->cap == 0 && w->head == 0 && w->len == 0;
    ensures valid: WbufValid(*w);
    ensures WBUF_1_sum: WbufData0Len(*w) + WbufData1Len(*w) == w->len;
*/
void aiotp__wbuf_init(aiotp__wbuf *w);

/*@ requires valid_ptr: \valid_read(w);
    assigns \nothing;
    ensures is_valid_iff: \result != 0 <==> WbufValid(*w);
*/
bool aiotp__wbuf_is_valid(const aiotp__wbuf *w);

/*@ requires valid_ptr: \valid_read(w);
    assigns \nothing;
    ensures WBUF_1_size: \result == w->len;
*/
size_t aiotp__wbuf_size(const aiotp__wbuf *w);

/*@ requires valid_ptr: \valid_read(w);
    requires valid: WbufValid(*w);
    assigns \nothing;
    ensures space: \result == WbufSpace(*w);
*/
size_t aiotp__wbuf_space(const aiotp__wbuf *w);

/* The queued bytes as up to two segments (seg[1].len == 0 when not wrapped). Returns
   the number of non-empty segments. */
/*@ requires valid_ptr: \valid_read(w) && \valid(seg + (0 .. 1));
    requires separated: \separated(w, seg + (0 .. 1));
    requires valid: WbufValid(*w);
    assigns seg[0 .. 1];
    ensures WBUF_1_sum: seg[0].len + seg[1].len == w->len;
    ensures run: SegsRun(seg, w->head, w->len, w->cap);
    ensures lengths: seg[0].len == WbufData0Len(*w) && seg[1].len == WbufData1Len(*w);
    ensures count: SegsCount(seg, \result) && 0 <= \result <= 2;
*/
int aiotp__wbuf_data_segments(const aiotp__wbuf *w, aiotp__wseg seg[2]);

/* The free space as up to two segments, in append order. Returns the number of
   non-empty segments. */
/*@ requires valid_ptr: \valid_read(w) && \valid(seg + (0 .. 1));
    requires separated: \separated(w, seg + (0 .. 1));
    requires valid: WbufValid(*w);
    assigns seg[0 .. 1];
    ensures space_sum: seg[0].len + seg[1].len == WbufSpace(*w);
    ensures run: SegsRun(seg, WbufTail(*w), WbufSpace(*w), w->cap);
    ensures count: SegsCount(seg, \result) && 0 <= \result <= 2;
*/
int aiotp__wbuf_free_segments(const aiotp__wbuf *w, aiotp__wseg seg[2]);

/* n bytes were copied into the first n bytes of the free segments. Requires
   n <= space. */
/*@ requires valid_ptr: \valid(w);
    requires valid: WbufValid(*w);
    requires fits: n <= WbufSpace(*w);
    assigns w->len;
    ensures valid: WbufValid(*w);
    ensures WBUF_2_grows: w->len == \old(w->len) + n;
    ensures WBUF_1_sum: WbufData0Len(*w) + WbufData1Len(*w) == w->len;
    ensures front_kept: w->head == \old(w->head) && w->cap == \old(w->cap) &&
                        w->data == \old(w->data);
*/
void aiotp__wbuf_commit(aiotp__wbuf *w, size_t n);

/* n bytes were sent from the front. Requires n <= size. */
/*@ requires valid_ptr: \valid(w);
    requires valid: WbufValid(*w);
    requires queued: n <= w->len;
    assigns w->len, w->head;
    ensures valid: WbufValid(*w);
    ensures WBUF_3_shrinks: w->len == \old(w->len) - n;
    ensures WBUF_1_sum: WbufData0Len(*w) + WbufData1Len(*w) == w->len;
    ensures WBUF_3_front: w->len != 0 ==> w->head == (\old(w->head) + n) % w->cap;
    ensures rewound: w->len == 0 ==> w->head == 0;
*/
void aiotp__wbuf_consume(aiotp__wbuf *w, size_t n);

/* Drop everything (abort, fatal error). The storage is kept. */
/*@ requires valid_ptr: \valid(w);
    requires valid: WbufValid(*w);
    assigns w->len, w->head;
    ensures valid: WbufValid(*w);
    ensures WBUF_4_empty: w->len == 0 && w->head == 0;
    ensures WBUF_1_sum: WbufData0Len(*w) + WbufData1Len(*w) == w->len;
*/
void aiotp__wbuf_clear(aiotp__wbuf *w);

/* The caller copied the queued bytes, in order, to the start of new storage of newcap
   bytes (newcap >= size) and installs it here. */
/*@ requires valid_ptr: \valid(w);
    requires valid: WbufValid(*w);
    requires fits: newcap >= w->len;
    requires storage: newcap == 0 || data != \null;
    assigns w->data \from data;
    assigns w->cap, w->head;
    ensures valid: WbufValid(*w);
    ensures installed: w->data == data && w->cap == newcap && w->head == 0;
    ensures size_kept: w->len == \old(w->len);
    ensures WBUF_1_sum: WbufData0Len(*w) + WbufData1Len(*w) == w->len;
    ensures linear: WbufData1Len(*w) == 0;
*/
void aiotp__wbuf_rebase(aiotp__wbuf *w, unsigned char *data, size_t newcap);

#endif /* AIOTP_CORE_WBUF_H */
