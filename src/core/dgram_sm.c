/* src/core/dgram_sm.c - see dgram_sm.h. Pure: no syscalls, no allocation, no callbacks.
   The step function computes the table of spec/datagram-transport.md, which
   proofs/acsl/dgram.acsl states as logic (DgramNextLife/Rd/Ph, DgramActs). */
#include "core/dgram_sm.h"

const bool aiotp__dg_life_edges[AIOTP__DG_LIFE_COUNT][AIOTP__DG_LIFE_COUNT] = {
    [AIOTP__DG_OPEN] = {[AIOTP__DG_CLOSING] = true, [AIOTP__DG_LOST_PENDING] = true},
    [AIOTP__DG_CLOSING] = {[AIOTP__DG_LOST_PENDING] = true, [AIOTP__DG_CLOSED] = true},
    [AIOTP__DG_LOST_PENDING] = {[AIOTP__DG_CLOSED] = true},
    [AIOTP__DG_CLOSED] = {0},
};

const bool aiotp__dg_rd_edges[AIOTP__DG_RD_COUNT][AIOTP__DG_RD_COUNT] = {
    [AIOTP__DG_RD_ACTIVE] = {[AIOTP__DG_RD_PAUSED] = true, [AIOTP__DG_RD_STOPPED] = true},
    [AIOTP__DG_RD_PAUSED] = {[AIOTP__DG_RD_ACTIVE] = true, [AIOTP__DG_RD_STOPPED] = true},
    [AIOTP__DG_RD_STOPPED] = {0},
};

const bool aiotp__dg_ph_edges[AIOTP__DG_PH_COUNT][AIOTP__DG_PH_COUNT] = {
    [AIOTP__DG_PH_INIT] = {[AIOTP__DG_PH_CONNECTED] = true},
    [AIOTP__DG_PH_CONNECTED] = {[AIOTP__DG_PH_LOST] = true},
    [AIOTP__DG_PH_LOST] = {0},
};

const char *const aiotp__dg_life_names[AIOTP__DG_LIFE_COUNT] = {
    [AIOTP__DG_OPEN] = "OPEN", [AIOTP__DG_CLOSING] = "CLOSING",
    [AIOTP__DG_LOST_PENDING] = "LOST_PENDING", [AIOTP__DG_CLOSED] = "CLOSED"};
const char *const aiotp__dg_rd_names[AIOTP__DG_RD_COUNT] = {
    [AIOTP__DG_RD_ACTIVE] = "ACTIVE", [AIOTP__DG_RD_PAUSED] = "PAUSED",
    [AIOTP__DG_RD_STOPPED] = "STOPPED"};
const char *const aiotp__dg_ph_names[AIOTP__DG_PH_COUNT] = {
    [AIOTP__DG_PH_INIT] = "INIT", [AIOTP__DG_PH_CONNECTED] = "CONNECTED",
    [AIOTP__DG_PH_LOST] = "LOST"};
const char *const aiotp__dgram_event_names[AIOTP__DGEV_COUNT] = {
    [AIOTP__DGEV_MADE] = "made", [AIOTP__DGEV_READER_START] = "reader_start",
    [AIOTP__DGEV_PAUSE_READING] = "pause_reading",
    [AIOTP__DGEV_RESUME_READING] = "resume_reading", [AIOTP__DGEV_RECV] = "recv",
    [AIOTP__DGEV_SEND] = "send", [AIOTP__DGEV_SEND_ERROR] = "send_error",
    [AIOTP__DGEV_CLOSE] = "close", [AIOTP__DGEV_ABORT] = "abort",
    [AIOTP__DGEV_FATAL] = "fatal", [AIOTP__DGEV_DRAINED] = "drained",
    [AIOTP__DGEV_LOST] = "lost"};

void aiotp__dgram_init(aiotp__dgram_state *s)
{
    s->life = AIOTP__DG_OPEN;
    s->rd = AIOTP__DG_RD_ACTIVE;
    s->ph = AIOTP__DG_PH_INIT;
}

bool aiotp__dgram_is_valid(const aiotp__dgram_state *s)
{
    if ((unsigned)s->life >= AIOTP__DG_LIFE_COUNT || (unsigned)s->rd >= AIOTP__DG_RD_COUNT ||
        (unsigned)s->ph >= AIOTP__DG_PH_COUNT) {
        return false;
    }
    if (s->life != AIOTP__DG_OPEN && s->rd != AIOTP__DG_RD_STOPPED) {
        return false; /* DGRAM-INV-1 */
    }
    if ((s->life == AIOTP__DG_CLOSED) != (s->ph == AIOTP__DG_PH_LOST)) {
        return false; /* DGRAM-INV-2 */
    }
    if (s->ph == AIOTP__DG_PH_INIT && s->life != AIOTP__DG_OPEN) {
        return false; /* DGRAM-INV-3 */
    }
    return true;
}

/* A part may stay the same or follow an edge of its table. */
/*@ requires DgramInRange(from) && DgramInRange(to);
    assigns \nothing;
    ensures \result != 0 <==> DgramEdges(from, to);
*/
static bool edges_ok(aiotp__dgram_state from, aiotp__dgram_state to)
{
    /* The "no such edge" outcomes never happen: WP proves the step function follows the
       tables (assert tables_match in aiotp__dgram_step), so these branches are not counted
       by the coverage gate (scripts/coverage.sh). GCOVR_EXCL_BR_START */
    return (from.life == to.life || aiotp__dg_life_edges[from.life][to.life]) &&
           (from.rd == to.rd || aiotp__dg_rd_edges[from.rd][to.rd]) &&
           (from.ph == to.ph || aiotp__dg_ph_edges[from.ph][to.ph]);
    /* GCOVR_EXCL_BR_STOP */
}

unsigned aiotp__dgram_step(aiotp__dgram_state *s, aiotp__dgram_event ev, bool queue_empty)
{
    aiotp__dgram_state n = *s;
    unsigned act = AIOTP__DGA_REFUSED;
    bool open = s->life == AIOTP__DG_OPEN;
    bool reading = open && s->rd == AIOTP__DG_RD_ACTIVE && s->ph == AIOTP__DG_PH_CONNECTED;

    switch (ev) {
    case AIOTP__DGEV_MADE: /* DGRAM-MADE-1 */
        if (s->ph == AIOTP__DG_PH_INIT) {
            n.ph = AIOTP__DG_PH_CONNECTED;
            act = AIOTP__DGA_CALL_MADE;
        }
        break;
    case AIOTP__DGEV_READER_START: /* DGRAM-MADE-1: only if still reading */
        act = reading ? AIOTP__DGA_START_READER : AIOTP__DGA_NONE;
        break;
    case AIOTP__DGEV_PAUSE_READING: /* DGRAM-READ-1: idempotent, also when closed */
        act = AIOTP__DGA_NONE;
        if (open && s->rd == AIOTP__DG_RD_ACTIVE) {
            n.rd = AIOTP__DG_RD_PAUSED;
            act = AIOTP__DGA_STOP_READER;
        }
        break;
    case AIOTP__DGEV_RESUME_READING:
        act = AIOTP__DGA_NONE;
        if (open && s->rd == AIOTP__DG_RD_PAUSED) {
            n.rd = AIOTP__DG_RD_ACTIVE;
            if (s->ph == AIOTP__DG_PH_CONNECTED) {
                act = AIOTP__DGA_START_READER;
            }
        }
        break;
    case AIOTP__DGEV_RECV: /* DGRAM-RECV-3 */
        if (reading) {
            act = AIOTP__DGA_DELIVER;
        }
        break;
    case AIOTP__DGEV_SEND: /* DGRAM-SEND-4 */
        if (open) {
            act = AIOTP__DGA_NONE;
        }
        break;
    case AIOTP__DGEV_SEND_ERROR: /* DGRAM-SEND-3, DGRAM-DRAIN-1, DGRAM-LOST-1 */
        if ((open || s->life == AIOTP__DG_CLOSING) && s->ph == AIOTP__DG_PH_CONNECTED) {
            act = AIOTP__DGA_CALL_ERROR;
        }
        break;
    case AIOTP__DGEV_CLOSE: /* DGRAM-CLOSE-1 */
        if (open && s->ph != AIOTP__DG_PH_INIT) {
            n.rd = AIOTP__DG_RD_STOPPED;
            if (queue_empty) {
                n.life = AIOTP__DG_LOST_PENDING;
                act = AIOTP__DGA_STOP_READER | AIOTP__DGA_STOP_WRITER | AIOTP__DGA_SCHEDULE_LOST;
            } else {
                n.life = AIOTP__DG_CLOSING;
                act = AIOTP__DGA_STOP_READER;
            }
        }
        break;
    case AIOTP__DGEV_ABORT: /* DGRAM-ABORT-1 */
    case AIOTP__DGEV_FATAL: /* DGRAM-FATAL-1 */
        if ((open || s->life == AIOTP__DG_CLOSING) && s->ph != AIOTP__DG_PH_INIT) {
            n.rd = AIOTP__DG_RD_STOPPED;
            n.life = AIOTP__DG_LOST_PENDING;
            act = AIOTP__DGA_STOP_READER | AIOTP__DGA_STOP_WRITER | AIOTP__DGA_DROP_QUEUE |
                  AIOTP__DGA_SCHEDULE_LOST;
        }
        break;
    case AIOTP__DGEV_DRAINED: /* DGRAM-DRAIN-1 */
        if (s->life == AIOTP__DG_CLOSING) {
            n.life = AIOTP__DG_CLOSED;
            n.ph = AIOTP__DG_PH_LOST;
            act = AIOTP__DGA_STOP_WRITER | AIOTP__DGA_CALL_LOST;
        } else if (open) {
            act = AIOTP__DGA_STOP_WRITER;
        }
        break;
    case AIOTP__DGEV_LOST: /* DGRAM-LOST-1: exactly once, last */
        if (s->life == AIOTP__DG_LOST_PENDING) {
            n.life = AIOTP__DG_CLOSED;
            n.ph = AIOTP__DG_PH_LOST;
            act = AIOTP__DGA_CALL_LOST;
        }
        break;
    default:
        break;
    }

    if (act == AIOTP__DGA_REFUSED) {
        return AIOTP__DGA_REFUSED;
    }
    /*@ assert tables_match: DgramEdges(*s, n); */ /* so the refusal below is dead code */
    if (!edges_ok(*s, n)) { /* GCOVR_EXCL_BR_LINE: dead (tables_match, proven) */
        return AIOTP__DGA_REFUSED; /* unreachable when the tables match the code; GCOVR_EXCL_LINE */
    }
    *s = n;
    return act;
}

bool aiotp__dgram_is_closing(const aiotp__dgram_state *s)
{
    return s->life != AIOTP__DG_OPEN;
}

bool aiotp__dgram_is_reading(const aiotp__dgram_state *s)
{
    return s->life == AIOTP__DG_OPEN && s->rd == AIOTP__DG_RD_ACTIVE;
}
