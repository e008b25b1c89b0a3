/* tests/test_core.c - the pure core modules (src/core/) run exhaustively: every state of
   the stream state machine (valid or not) x every event x both buffer conditions, the
   flow-control derivations and checks at their edges, every shape of the write ring.
   Frama-C proves their contracts (spec/proofs.md); these cases execute every branch, so
   the coverage gate can ask for 100 % of the core's branches (scripts/coverage.sh). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/dgq.h"
#include "core/dgram_sm.h"
#include "core/flow.h"
#include "core/stream_sm.h"
#include "core/wbuf.h"
#include "harness.h"

/* ---- stream_sm -------------------------------------------------------------------------- */

static bool same_state(const aiotp__stream_state *a, const aiotp__stream_state *b)
{
    return a->life == b->life && a->rd == b->rd && a->wr == b->wr && a->ph == b->ph;
}

TEST(stream_sm_every_state_and_event)
{
    int life;
    int rd;
    int wr;
    int ph;
    int valid = 0;
    int steps = 0;
    aiotp__stream_state s;

    aiotp__stream_init(&s);
    CHECK(aiotp__stream_is_valid(&s));
    /* out-of-range parts */
    s.life = AIOTP__LIFE_COUNT;
    CHECK(!aiotp__stream_is_valid(&s));
    aiotp__stream_init(&s);
    s.rd = AIOTP__RD_COUNT;
    CHECK(!aiotp__stream_is_valid(&s));
    aiotp__stream_init(&s);
    s.wr = AIOTP__WR_COUNT;
    CHECK(!aiotp__stream_is_valid(&s));
    aiotp__stream_init(&s);
    s.ph = AIOTP__PH_COUNT;
    CHECK(!aiotp__stream_is_valid(&s));

    for (life = 0; life < AIOTP__LIFE_COUNT; life++) {
        for (rd = 0; rd < AIOTP__RD_COUNT; rd++) {
            for (wr = 0; wr < AIOTP__WR_COUNT; wr++) {
                for (ph = 0; ph < AIOTP__PH_COUNT; ph++) {
                    int ev;
                    int empty;
                    s.life = (aiotp__life)life;
                    s.rd = (aiotp__rd)rd;
                    s.wr = (aiotp__wr)wr;
                    s.ph = (aiotp__ph)ph;
                    CHECK(aiotp__life_names[life] != NULL && aiotp__rd_names[rd] != NULL &&
                          aiotp__wr_names[wr] != NULL && aiotp__ph_names[ph] != NULL);
                    if (!aiotp__stream_is_valid(&s)) {
                        continue;
                    }
                    valid++;
                    CHECK_INT(aiotp__stream_is_closing(&s), life != AIOTP__LIFE_OPEN);
                    CHECK_INT(aiotp__stream_is_reading(&s),
                              life == AIOTP__LIFE_OPEN && rd == AIOTP__RD_ACTIVE);
                    CHECK_INT(aiotp__stream_write_admission(&s),
                              wr != AIOTP__WR_OPEN ? 1
                              : (life == AIOTP__LIFE_LOST_PENDING || life == AIOTP__LIFE_CLOSED)
                                  ? 2
                                  : 0);
                    for (ev = 0; ev <= AIOTP__EV_COUNT; ev++) {
                        for (empty = 0; empty < 2; empty++) {
                            aiotp__stream_state n = s;
                            unsigned act = aiotp__stream_step(&n, (aiotp__stream_event)ev,
                                                              empty != 0);
                            steps++;
                            CHECK(aiotp__stream_is_valid(&n));
                            if (act & AIOTP__ACT_REFUSED) {
                                CHECK_INT(act, AIOTP__ACT_REFUSED);
                                CHECK(same_state(&n, &s));
                            }
                            if (ev == AIOTP__EV_COUNT) {
                                CHECK_INT(act, AIOTP__ACT_REFUSED);
                            } else {
                                CHECK(aiotp__stream_event_names[ev] != NULL);
                            }
                            if (act & AIOTP__ACT_CALL_LOST) {
                                CHECK(n.ph == AIOTP__PH_LOST && s.ph != AIOTP__PH_LOST);
                            }
                            if ((act & AIOTP__ACT_SCHEDULE_LOST) && !empty) {
                                CHECK(act & AIOTP__ACT_DROP_BUFFER); /* no silent drop */
                            }
                        }
                    }
                }
            }
        }
    }
    CHECK(valid > 20);
    printf("stream_sm: %d valid states, %d steps\n", valid, steps);
}

/* ---- flow ------------------------------------------------------------------------------- */

TEST(flow_limits_and_checks)
{
    aiotp__flow f;
    aiotp__flow_init(&f);
    CHECK(aiotp__flow_is_valid(&f));
    CHECK_SIZE(f.high, 65536);
    CHECK_SIZE(f.low, 16384);
    /* FLOW-2: derivations */
    CHECK(aiotp__flow_set_limits(&f, AIOTP__FLOW_NONE, AIOTP__FLOW_NONE));
    CHECK_SIZE(f.high, 65536);
    CHECK(aiotp__flow_set_limits(&f, AIOTP__FLOW_NONE, 100));
    CHECK_SIZE(f.high, 400);
    CHECK_SIZE(f.low, 100);
    CHECK(aiotp__flow_set_limits(&f, 1000, AIOTP__FLOW_NONE));
    CHECK_SIZE(f.low, 250);
    CHECK(aiotp__flow_set_limits(&f, 0, AIOTP__FLOW_NONE));
    CHECK_SIZE(f.low, 0);
    /* FLOW-3: refusals leave the limits alone */
    CHECK(!aiotp__flow_set_limits(&f, AIOTP__FLOW_NONE, INT64_MAX / 4 + 1));
    CHECK(!aiotp__flow_set_limits(&f, AIOTP__FLOW_NONE, INT64_MIN / 4 - 1));
    CHECK(!aiotp__flow_set_limits(&f, AIOTP__FLOW_NONE, -1));
    CHECK(!aiotp__flow_set_limits(&f, 10, 20));
    CHECK(!aiotp__flow_set_limits(&f, -5, AIOTP__FLOW_NONE));
    CHECK(!aiotp__flow_set_limits(&f, 10, -1));
    CHECK_SIZE(f.high, 0);
    CHECK_SIZE(f.low, 0);
    /* FLOW-4, FLOW-5 */
    CHECK(aiotp__flow_set_limits(&f, 100, 10));
    CHECK_INT(aiotp__flow_check_pause(&f, 100), AIOTP__FLOW_NOTHING);
    CHECK_INT(aiotp__flow_check_resume(&f, 0), AIOTP__FLOW_NOTHING); /* not paused */
    CHECK_INT(aiotp__flow_check_pause(&f, 101), AIOTP__FLOW_CALL_PAUSE);
    CHECK_INT(aiotp__flow_check_pause(&f, 500), AIOTP__FLOW_NOTHING); /* once */
    CHECK_INT(aiotp__flow_check_resume(&f, 11), AIOTP__FLOW_NOTHING);
    CHECK_INT(aiotp__flow_check_resume(&f, 10), AIOTP__FLOW_CALL_RESUME);
    CHECK(aiotp__flow_is_valid(&f));
    f.low = 200; /* low > high */
    CHECK(!aiotp__flow_is_valid(&f));
    f.low = 10;
    f.state = (aiotp__flow_state)7;
    CHECK(!aiotp__flow_is_valid(&f));
    f.state = AIOTP__FLOW_PAUSED;
    CHECK(aiotp__flow_is_valid(&f));
}

/* ---- wbuf ------------------------------------------------------------------------------- */

TEST(wbuf_every_shape)
{
    unsigned char store[8];
    aiotp__wbuf w;
    aiotp__wseg seg[2];

    aiotp__wbuf_init(&w);
    CHECK(aiotp__wbuf_is_valid(&w));
    CHECK_INT(aiotp__wbuf_data_segments(&w, seg), 0);
    CHECK_INT(aiotp__wbuf_free_segments(&w, seg), 0); /* no space at all */
    w.len = 1;
    CHECK(!aiotp__wbuf_is_valid(&w)); /* cap 0 with data */
    w.len = 0;
    w.head = 1;
    CHECK(!aiotp__wbuf_is_valid(&w));
    aiotp__wbuf_init(&w);
    w.cap = 8; /* data NULL */
    CHECK(!aiotp__wbuf_is_valid(&w));
    aiotp__wbuf_rebase(&w, store, sizeof(store));
    CHECK(aiotp__wbuf_is_valid(&w));
    w.head = 8;
    CHECK(!aiotp__wbuf_is_valid(&w));
    w.head = 0;
    w.len = 9;
    CHECK(!aiotp__wbuf_is_valid(&w));
    w.len = 0;

    /* empty: one free segment, the whole ring */
    CHECK_INT(aiotp__wbuf_free_segments(&w, seg), 1);
    CHECK_SIZE(seg[0].len, 8);
    /* contiguous data from 0 */
    aiotp__wbuf_commit(&w, 5);
    CHECK_INT(aiotp__wbuf_data_segments(&w, seg), 1);
    CHECK_SIZE(seg[0].len, 5);
    CHECK_INT(aiotp__wbuf_free_segments(&w, seg), 1);
    CHECK_SIZE(seg[0].off, 5);
    CHECK_SIZE(seg[0].len, 3);
    /* consume part: head moves (n < first) */
    aiotp__wbuf_consume(&w, 3);
    CHECK_SIZE(w.head, 3);
    CHECK_SIZE(aiotp__wbuf_space(&w), 6);
    /* free space on both sides of the data: two segments */
    CHECK_INT(aiotp__wbuf_free_segments(&w, seg), 2);
    CHECK_SIZE(seg[0].off, 5);
    CHECK_SIZE(seg[0].len, 3);
    CHECK_SIZE(seg[1].len, 3);
    /* data that wraps */
    aiotp__wbuf_commit(&w, 5); /* len 7: 3..7 and 0..1 */
    CHECK_INT(aiotp__wbuf_data_segments(&w, seg), 2);
    CHECK_SIZE(seg[0].len, 5);
    CHECK_SIZE(seg[1].len, 2);
    CHECK_INT(aiotp__wbuf_free_segments(&w, seg), 1); /* the gap in the middle */
    CHECK_SIZE(seg[0].off, 2);
    CHECK_SIZE(seg[0].len, 1);
    /* consume across the end (n >= first) */
    aiotp__wbuf_consume(&w, 6);
    CHECK_SIZE(w.head, 1);
    CHECK_SIZE(aiotp__wbuf_size(&w), 1);
    /* data at the very end, space before it: tail == cap - ... */
    aiotp__wbuf_clear(&w);
    w.head = 5;
    aiotp__wbuf_commit(&w, 3); /* 5..7: the tail wraps to 0 */
    CHECK_INT(aiotp__wbuf_free_segments(&w, seg), 1);
    CHECK_SIZE(seg[0].off, 0);
    CHECK_SIZE(seg[0].len, 5);
    /* full ring */
    aiotp__wbuf_commit(&w, 5);
    CHECK_INT(aiotp__wbuf_free_segments(&w, seg), 0);
    /* consume everything: head back to 0 */
    aiotp__wbuf_consume(&w, 8);
    CHECK_SIZE(w.head, 0);
    CHECK_SIZE(aiotp__wbuf_size(&w), 0);
    /* data from 0 filling all but the head: one free segment, no second */
    aiotp__wbuf_commit(&w, 4);
    CHECK_INT(aiotp__wbuf_free_segments(&w, seg), 1);
    CHECK_SIZE(seg[0].len, 4);
    CHECK(aiotp__wbuf_is_valid(&w));
}

/* ---- dgram_sm --------------------------------------------------------------------------- */

/* The table of spec/datagram-transport.md written a second time, event by event, as the
   reader of that table would: the next state and the actions, or REFUSED. */
static unsigned dgram_expect(aiotp__dgram_state *n, aiotp__dgram_event ev, bool empty)
{
    bool open = n->life == AIOTP__DG_OPEN;
    bool connected = n->ph == AIOTP__DG_PH_CONNECTED;
    bool reading = open && n->rd == AIOTP__DG_RD_ACTIVE && connected;
    switch (ev) {
    case AIOTP__DGEV_MADE:
        if (n->ph != AIOTP__DG_PH_INIT) {
            return AIOTP__DGA_REFUSED;
        }
        n->ph = AIOTP__DG_PH_CONNECTED;
        return AIOTP__DGA_CALL_MADE;
    case AIOTP__DGEV_READER_START:
        return reading ? AIOTP__DGA_START_READER : AIOTP__DGA_NONE;
    case AIOTP__DGEV_PAUSE_READING:
        if (!open || n->rd != AIOTP__DG_RD_ACTIVE) {
            return AIOTP__DGA_NONE;
        }
        n->rd = AIOTP__DG_RD_PAUSED;
        return AIOTP__DGA_STOP_READER;
    case AIOTP__DGEV_RESUME_READING:
        if (!open || n->rd != AIOTP__DG_RD_PAUSED) {
            return AIOTP__DGA_NONE;
        }
        n->rd = AIOTP__DG_RD_ACTIVE;
        return connected ? AIOTP__DGA_START_READER : AIOTP__DGA_NONE;
    case AIOTP__DGEV_RECV:
        return reading ? AIOTP__DGA_DELIVER : AIOTP__DGA_REFUSED;
    case AIOTP__DGEV_SEND:
        return open ? AIOTP__DGA_NONE : AIOTP__DGA_REFUSED;
    case AIOTP__DGEV_SEND_ERROR:
        return (open || n->life == AIOTP__DG_CLOSING) && connected ? AIOTP__DGA_CALL_ERROR
                                                                   : AIOTP__DGA_REFUSED;
    case AIOTP__DGEV_CLOSE:
        if (!open || n->ph == AIOTP__DG_PH_INIT) {
            return AIOTP__DGA_REFUSED;
        }
        n->rd = AIOTP__DG_RD_STOPPED;
        n->life = empty ? AIOTP__DG_LOST_PENDING : AIOTP__DG_CLOSING;
        return empty ? AIOTP__DGA_STOP_READER | AIOTP__DGA_STOP_WRITER | AIOTP__DGA_SCHEDULE_LOST
                     : AIOTP__DGA_STOP_READER;
    case AIOTP__DGEV_ABORT:
    case AIOTP__DGEV_FATAL:
        if (!(open || n->life == AIOTP__DG_CLOSING) || n->ph == AIOTP__DG_PH_INIT) {
            return AIOTP__DGA_REFUSED;
        }
        n->rd = AIOTP__DG_RD_STOPPED;
        n->life = AIOTP__DG_LOST_PENDING;
        return AIOTP__DGA_STOP_READER | AIOTP__DGA_STOP_WRITER | AIOTP__DGA_DROP_QUEUE |
               AIOTP__DGA_SCHEDULE_LOST;
    case AIOTP__DGEV_DRAINED:
        if (n->life == AIOTP__DG_CLOSING) {
            n->life = AIOTP__DG_CLOSED;
            n->ph = AIOTP__DG_PH_LOST;
            return AIOTP__DGA_STOP_WRITER | AIOTP__DGA_CALL_LOST;
        }
        return open ? AIOTP__DGA_STOP_WRITER : AIOTP__DGA_REFUSED;
    case AIOTP__DGEV_LOST:
        if (n->life != AIOTP__DG_LOST_PENDING) {
            return AIOTP__DGA_REFUSED;
        }
        n->life = AIOTP__DG_CLOSED;
        n->ph = AIOTP__DG_PH_LOST;
        return AIOTP__DGA_CALL_LOST;
    default:
        return AIOTP__DGA_REFUSED;
    }
}

TEST(dgram_sm_every_state_and_event)
{
    int life;
    int rd;
    int ph;
    int valid = 0;
    int steps = 0;
    aiotp__dgram_state s;

    aiotp__dgram_init(&s);
    CHECK(aiotp__dgram_is_valid(&s));
    CHECK(!aiotp__dgram_is_closing(&s));
    CHECK(aiotp__dgram_is_reading(&s));
    /* out-of-range parts */
    s.life = AIOTP__DG_LIFE_COUNT;
    CHECK(!aiotp__dgram_is_valid(&s));
    aiotp__dgram_init(&s);
    s.rd = AIOTP__DG_RD_COUNT;
    CHECK(!aiotp__dgram_is_valid(&s));
    aiotp__dgram_init(&s);
    s.ph = AIOTP__DG_PH_COUNT;
    CHECK(!aiotp__dgram_is_valid(&s));

    for (life = 0; life < AIOTP__DG_LIFE_COUNT; life++) {
        for (rd = 0; rd < AIOTP__DG_RD_COUNT; rd++) {
            for (ph = 0; ph < AIOTP__DG_PH_COUNT; ph++) {
                int ev;
                int empty;
                bool inv;
                s.life = (aiotp__dg_life)life;
                s.rd = (aiotp__dg_rd)rd;
                s.ph = (aiotp__dg_ph)ph;
                CHECK(aiotp__dg_life_names[life] != NULL && aiotp__dg_rd_names[rd] != NULL &&
                      aiotp__dg_ph_names[ph] != NULL);
                /* DGRAM-INV-1..3, read from the spec's invariants */
                inv = (life == AIOTP__DG_OPEN || rd == AIOTP__DG_RD_STOPPED) &&
                      (life == AIOTP__DG_CLOSED) == (ph == AIOTP__DG_PH_LOST) &&
                      (ph != AIOTP__DG_PH_INIT || life == AIOTP__DG_OPEN);
                CHECK_INT(aiotp__dgram_is_valid(&s), inv);
                if (!inv) {
                    continue;
                }
                valid++;
                CHECK_INT(aiotp__dgram_is_closing(&s), life != AIOTP__DG_OPEN);
                CHECK_INT(aiotp__dgram_is_reading(&s),
                          life == AIOTP__DG_OPEN && rd == AIOTP__DG_RD_ACTIVE);
                for (ev = 0; ev <= AIOTP__DGEV_COUNT; ev++) {
                    for (empty = 0; empty < 2; empty++) {
                        aiotp__dgram_state n = s;
                        aiotp__dgram_state want = s;
                        unsigned wact = dgram_expect(&want, (aiotp__dgram_event)ev, empty != 0);
                        unsigned act = aiotp__dgram_step(&n, (aiotp__dgram_event)ev, empty != 0);
                        steps++;
                        CHECK_INT(act, wact);
                        CHECK(n.life == want.life && n.rd == want.rd && n.ph == want.ph);
                        CHECK(aiotp__dgram_is_valid(&n));
                        if (ev < AIOTP__DGEV_COUNT) {
                            CHECK(aiotp__dgram_event_names[ev] != NULL);
                        }
                    }
                }
            }
        }
    }
    CHECK_INT(valid, 9);
    printf("dgram_sm: %d valid states, %d steps\n", valid, steps);
}

/* ---- dgq -------------------------------------------------------------------------------- */

TEST(dgq_accounting)
{
    aiotp__dgq q;
    aiotp__dgq bad;

    aiotp__dgq_init(&q);
    CHECK(aiotp__dgq_is_valid(&q));
    CHECK(q.cap == 0 && q.head == 0 && q.tail == 0 && q.count == 0 && q.payload == 0);
    /* each clause of DgqValid broken alone */
    bad = (aiotp__dgq){.cap = 100, .head = 20, .tail = 10, .count = 1, .payload = 0};
    CHECK(!aiotp__dgq_is_valid(&bad)); /* head > tail */
    bad = (aiotp__dgq){.cap = 100, .head = 0, .tail = 120, .count = 1, .payload = 0};
    CHECK(!aiotp__dgq_is_valid(&bad)); /* tail > cap */
    bad = (aiotp__dgq){.cap = 100, .head = 0, .tail = 10, .count = 0, .payload = 0};
    CHECK(!aiotp__dgq_is_valid(&bad)); /* bytes without records */
    bad = (aiotp__dgq){.cap = 100, .head = 10, .tail = 10, .count = 0, .payload = 0};
    CHECK(!aiotp__dgq_is_valid(&bad)); /* empty but not at offset 0 */
    bad = (aiotp__dgq){.cap = 100, .head = 0, .tail = 10, .count = 1, .payload = 11};
    CHECK(!aiotp__dgq_is_valid(&bad)); /* more payload than bytes */
    bad = (aiotp__dgq){.cap = 100, .head = 0, .tail = 10, .count = 11, .payload = 0};
    CHECK(!aiotp__dgq_is_valid(&bad)); /* more records than bytes */

    /* an empty block: anything grows it */
    CHECK_INT(aiotp__dgq_room_for(&q, 1), AIOTP__DGQ_GROW);
    CHECK_INT(aiotp__dgq_room_for(&q, 0), AIOTP__DGQ_FITS);
    aiotp__dgq_rebase(&q, 64);
    CHECK(q.cap == 64 && q.head == 0 && q.tail == 0 && aiotp__dgq_is_valid(&q));
    /* three records of 16 bytes (payloads 8, 0, 12) */
    aiotp__dgq_push(&q, 16, 8);
    aiotp__dgq_push(&q, 16, 0);
    aiotp__dgq_push(&q, 16, 12);
    CHECK(q.tail == 48 && q.count == 3 && q.payload == 20 && aiotp__dgq_is_valid(&q));
    CHECK_INT(aiotp__dgq_room_for(&q, 16), AIOTP__DGQ_FITS);
    CHECK_INT(aiotp__dgq_room_for(&q, 17), AIOTP__DGQ_GROW);
    aiotp__dgq_pop(&q, 16, 8);
    CHECK(q.head == 16 && q.tail == 48 && q.count == 2 && q.payload == 12);
    CHECK_INT(aiotp__dgq_room_for(&q, 16), AIOTP__DGQ_FITS);
    CHECK_INT(aiotp__dgq_room_for(&q, 32), AIOTP__DGQ_COMPACT); /* 16 at the tail + 16 freed */
    CHECK_INT(aiotp__dgq_room_for(&q, 33), AIOTP__DGQ_GROW);
    aiotp__dgq_compact(&q);
    CHECK(q.head == 0 && q.tail == 32 && q.count == 2 && q.payload == 12 &&
          aiotp__dgq_is_valid(&q));
    CHECK_INT(aiotp__dgq_room_for(&q, 32), AIOTP__DGQ_FITS);
    aiotp__dgq_pop(&q, 16, 0);
    CHECK(q.head == 16 && q.tail == 32);
    aiotp__dgq_rebase(&q, 128); /* a new block: the rest moves to offset 0 */
    CHECK(q.cap == 128 && q.head == 0 && q.tail == 16 && q.count == 1 && q.payload == 12);
    aiotp__dgq_pop(&q, 16, 12); /* the last record: offsets back to 0 */
    CHECK(q.head == 0 && q.tail == 0 && q.count == 0 && q.payload == 0 &&
          aiotp__dgq_is_valid(&q));
    aiotp__dgq_push(&q, 40, 30);
    aiotp__dgq_clear(&q);
    CHECK(q.cap == 128 && q.head == 0 && q.tail == 0 && q.count == 0 && q.payload == 0);
}

static const th_case cases[] = {
    T(stream_sm_every_state_and_event, "PROTO-BASE-1 PROTO-BASE-2 PROTO-STREAM-2 BASE-CLOSE-4"),
    T(flow_limits_and_checks, "FLOW-2 FLOW-3 FLOW-4 FLOW-5 FLOW-6"),
    T(wbuf_every_shape, "WRITE-SIZE-1 WRITE-WRITE-3"),
    T(dgram_sm_every_state_and_event, "DGRAM-MADE-1 DGRAM-READ-1 DGRAM-CLOSE-1 DGRAM-LOST-1"),
    T(dgq_accounting, "DGRAM-FLOW-1"),
};

TH_MAIN(cases)

