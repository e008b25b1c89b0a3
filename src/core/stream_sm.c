/* src/core/stream_sm.c - see stream_sm.h. Pure: no syscalls, no allocation, no
   callbacks. Clause IDs refer to spec/stream-transport.md. */
#include "core/stream_sm.h"

const bool aiotp__life_edges[AIOTP__LIFE_COUNT][AIOTP__LIFE_COUNT] = {
    [AIOTP__LIFE_OPEN] = {[AIOTP__LIFE_CLOSING] = true, [AIOTP__LIFE_LOST_PENDING] = true},
    [AIOTP__LIFE_CLOSING] = {[AIOTP__LIFE_LOST_PENDING] = true, [AIOTP__LIFE_CLOSED] = true},
    [AIOTP__LIFE_LOST_PENDING] = {[AIOTP__LIFE_CLOSED] = true},
    [AIOTP__LIFE_CLOSED] = {0},
};

const bool aiotp__rd_edges[AIOTP__RD_COUNT][AIOTP__RD_COUNT] = {
    [AIOTP__RD_ACTIVE] = {[AIOTP__RD_PAUSED] = true, [AIOTP__RD_EOF] = true,
                          [AIOTP__RD_STOPPED] = true},
    [AIOTP__RD_PAUSED] = {[AIOTP__RD_ACTIVE] = true, [AIOTP__RD_STOPPED] = true},
    [AIOTP__RD_EOF] = {[AIOTP__RD_STOPPED] = true},
    [AIOTP__RD_STOPPED] = {0},
};

const bool aiotp__wr_edges[AIOTP__WR_COUNT][AIOTP__WR_COUNT] = {
    [AIOTP__WR_OPEN] = {[AIOTP__WR_EOF_PENDING] = true, [AIOTP__WR_SHUT] = true},
    [AIOTP__WR_EOF_PENDING] = {[AIOTP__WR_SHUT] = true},
    [AIOTP__WR_SHUT] = {0},
};

const bool aiotp__ph_edges[AIOTP__PH_COUNT][AIOTP__PH_COUNT] = {
    [AIOTP__PH_INIT] = {[AIOTP__PH_CONNECTED] = true},
    [AIOTP__PH_CONNECTED] = {[AIOTP__PH_EOF] = true, [AIOTP__PH_LOST] = true},
    [AIOTP__PH_EOF] = {[AIOTP__PH_LOST] = true},
    [AIOTP__PH_LOST] = {0},
};

const char *const aiotp__life_names[AIOTP__LIFE_COUNT] = {
    [AIOTP__LIFE_OPEN] = "OPEN", [AIOTP__LIFE_CLOSING] = "CLOSING",
    [AIOTP__LIFE_LOST_PENDING] = "LOST_PENDING", [AIOTP__LIFE_CLOSED] = "CLOSED"};
const char *const aiotp__rd_names[AIOTP__RD_COUNT] = {
    [AIOTP__RD_ACTIVE] = "ACTIVE", [AIOTP__RD_PAUSED] = "PAUSED", [AIOTP__RD_EOF] = "EOF",
    [AIOTP__RD_STOPPED] = "STOPPED"};
const char *const aiotp__wr_names[AIOTP__WR_COUNT] = {
    [AIOTP__WR_OPEN] = "OPEN", [AIOTP__WR_EOF_PENDING] = "EOF_PENDING",
    [AIOTP__WR_SHUT] = "SHUT"};
const char *const aiotp__ph_names[AIOTP__PH_COUNT] = {
    [AIOTP__PH_INIT] = "INIT", [AIOTP__PH_CONNECTED] = "CONNECTED", [AIOTP__PH_EOF] = "EOF",
    [AIOTP__PH_LOST] = "LOST"};
const char *const aiotp__stream_event_names[AIOTP__EV_COUNT] = {
    [AIOTP__EV_MADE] = "made", [AIOTP__EV_READER_START] = "reader_start",
    [AIOTP__EV_PAUSE_READING] = "pause_reading", [AIOTP__EV_RESUME_READING] = "resume_reading",
    [AIOTP__EV_DATA] = "data", [AIOTP__EV_EOF] = "eof", [AIOTP__EV_CLOSE] = "close",
    [AIOTP__EV_ABORT] = "abort", [AIOTP__EV_FATAL] = "fatal",
    [AIOTP__EV_WRITE_EOF] = "write_eof", [AIOTP__EV_DRAINED] = "drained",
    [AIOTP__EV_LOST] = "lost"};

void aiotp__stream_init(aiotp__stream_state *s)
{
    s->life = AIOTP__LIFE_OPEN;
    s->rd = AIOTP__RD_ACTIVE;
    s->wr = AIOTP__WR_OPEN;
    s->ph = AIOTP__PH_INIT;
}

bool aiotp__stream_is_valid(const aiotp__stream_state *s)
{
    if ((unsigned)s->life >= AIOTP__LIFE_COUNT || (unsigned)s->rd >= AIOTP__RD_COUNT ||
        (unsigned)s->wr >= AIOTP__WR_COUNT || (unsigned)s->ph >= AIOTP__PH_COUNT) {
        return false;
    }
    if (s->life != AIOTP__LIFE_OPEN && s->rd != AIOTP__RD_STOPPED) {
        return false; /* STREAM-INV-1 */
    }
    if ((s->life == AIOTP__LIFE_CLOSED) != (s->ph == AIOTP__PH_LOST)) {
        return false; /* STREAM-INV-2 */
    }
    if (s->ph == AIOTP__PH_INIT && s->life != AIOTP__LIFE_OPEN) {
        return false; /* STREAM-INV-3 */
    }
    if (s->ph == AIOTP__PH_EOF && s->rd != AIOTP__RD_EOF && s->rd != AIOTP__RD_STOPPED) {
        return false; /* STREAM-INV-4 */
    }
    return true;
}

/* A part may stay the same or follow an edge of its table. (By value: no pointer that
   the prover would have to assume separate from the tables.) */
/*@ requires StreamInRange(from) && StreamInRange(to);
    assigns \nothing;
    ensures \result != 0 <==> StreamEdges(from, to);
*/
static bool edges_ok(aiotp__stream_state from, aiotp__stream_state to)
{
    /* The "no such edge" outcomes below never happen: WP proves the step function
       follows the tables (assert tables_match in aiotp__stream_step), so these branches
       are not counted by the coverage gate (scripts/coverage.sh). GCOVR_EXCL_BR_START */
    return (from.life == to.life || aiotp__life_edges[from.life][to.life]) &&
           (from.rd == to.rd || aiotp__rd_edges[from.rd][to.rd]) &&
           (from.wr == to.wr || aiotp__wr_edges[from.wr][to.wr]) &&
           (from.ph == to.ph || aiotp__ph_edges[from.ph][to.ph]);
    /* GCOVR_EXCL_BR_STOP */
}

/* Leave OPEN: reading stops for good. */
/*@ requires \valid(n);
    assigns n->rd;
    ensures n->rd == AIOTP__RD_STOPPED && \result == AIOTP__ACT_STOP_READER;
*/
static unsigned stop_reading(aiotp__stream_state *n)
{
    n->rd = AIOTP__RD_STOPPED;
    return AIOTP__ACT_STOP_READER;
}

unsigned aiotp__stream_step(aiotp__stream_state *s, aiotp__stream_event ev,
                            bool buffer_empty)
{
    aiotp__stream_state n = *s;
    unsigned act = AIOTP__ACT_REFUSED;
    bool open = s->life == AIOTP__LIFE_OPEN;

    switch (ev) {
    case AIOTP__EV_MADE: /* STREAM-ORDER-1 */
        if (s->ph == AIOTP__PH_INIT) {
            n.ph = AIOTP__PH_CONNECTED;
            act = AIOTP__ACT_CALL_MADE;
        }
        break;
    case AIOTP__EV_READER_START: /* STREAM-ORDER-2: only if still reading */
        act = AIOTP__ACT_NONE;
        if (open && s->rd == AIOTP__RD_ACTIVE && s->ph == AIOTP__PH_CONNECTED) {
            act = AIOTP__ACT_START_READER;
        }
        break;
    case AIOTP__EV_PAUSE_READING: /* READ-2: idempotent, also when closed */
        act = AIOTP__ACT_NONE;
        if (open && s->rd == AIOTP__RD_ACTIVE) {
            n.rd = AIOTP__RD_PAUSED;
            act = AIOTP__ACT_STOP_READER;
        }
        break;
    case AIOTP__EV_RESUME_READING: /* READ-3 */
        act = AIOTP__ACT_NONE;
        if (open && s->rd == AIOTP__RD_PAUSED) {
            n.rd = AIOTP__RD_ACTIVE;
            if (s->ph == AIOTP__PH_CONNECTED) {
                act = AIOTP__ACT_START_READER;
            }
        }
        break;
    case AIOTP__EV_DATA: /* PROTO-STREAM-3: no data after EOF, close or abort */
        if (open && s->rd == AIOTP__RD_ACTIVE && s->ph == AIOTP__PH_CONNECTED) {
            act = AIOTP__ACT_DELIVER;
        }
        break;
    case AIOTP__EV_EOF: /* PROTO-STREAM-5: eof_received at most once */
        if (open && s->rd == AIOTP__RD_ACTIVE && s->ph == AIOTP__PH_CONNECTED) {
            n.ph = AIOTP__PH_EOF;
            n.rd = AIOTP__RD_EOF;
            act = AIOTP__ACT_CALL_EOF | AIOTP__ACT_STOP_READER;
        }
        break;
    case AIOTP__EV_CLOSE: /* BASE-CLOSE-1..3 */
        if (open && s->ph != AIOTP__PH_INIT) {
            act = stop_reading(&n);
            if (buffer_empty) {
                n.life = AIOTP__LIFE_LOST_PENDING;
                act |= AIOTP__ACT_STOP_WRITER | AIOTP__ACT_SCHEDULE_LOST;
            } else {
                n.life = AIOTP__LIFE_CLOSING;
            }
        }
        break;
    case AIOTP__EV_ABORT: /* WRITE-ABORT-1 */
    case AIOTP__EV_FATAL: /* STREAM-ERR-1 */
        if ((open || s->life == AIOTP__LIFE_CLOSING) && s->ph != AIOTP__PH_INIT) {
            act = stop_reading(&n);
            n.life = AIOTP__LIFE_LOST_PENDING;
            act |= AIOTP__ACT_STOP_WRITER | AIOTP__ACT_DROP_BUFFER |
                   AIOTP__ACT_SCHEDULE_LOST;
        }
        break;
    case AIOTP__EV_WRITE_EOF: /* WRITE-EOF-1..3: no-op when closing or already done */
        act = AIOTP__ACT_NONE;
        if (open && s->wr == AIOTP__WR_OPEN) {
            if (buffer_empty) {
                n.wr = AIOTP__WR_SHUT;
                act = AIOTP__ACT_SHUTDOWN_WR;
            } else {
                n.wr = AIOTP__WR_EOF_PENDING;
            }
        }
        break;
    case AIOTP__EV_DRAINED: /* BASE-CLOSE-2, WRITE-EOF-2 */
        if (s->life == AIOTP__LIFE_CLOSING) {
            n.life = AIOTP__LIFE_CLOSED;
            n.ph = AIOTP__PH_LOST;
            act = AIOTP__ACT_STOP_WRITER | AIOTP__ACT_CALL_LOST;
        } else if (open) {
            act = AIOTP__ACT_STOP_WRITER;
            if (s->wr == AIOTP__WR_EOF_PENDING) {
                n.wr = AIOTP__WR_SHUT;
                act |= AIOTP__ACT_SHUTDOWN_WR;
            }
        }
        break;
    case AIOTP__EV_LOST: /* PROTO-BASE-2: exactly once, last */
        if (s->life == AIOTP__LIFE_LOST_PENDING) {
            n.life = AIOTP__LIFE_CLOSED;
            n.ph = AIOTP__PH_LOST;
            act = AIOTP__ACT_CALL_LOST;
        }
        break;
    default:
        break;
    }

    if (act == AIOTP__ACT_REFUSED) { /* an equality the provers can evaluate */
        return AIOTP__ACT_REFUSED;
    }
    /*@ assert tables_match: StreamEdges(*s, n); */ /* so the refusal below is dead code */
    if (!edges_ok(*s, n)) { /* GCOVR_EXCL_BR_LINE: dead (tables_match, proven) */
        return AIOTP__ACT_REFUSED; /* unreachable when the tables match the code; GCOVR_EXCL_LINE */
    }
    *s = n;
    return act;
}

bool aiotp__stream_is_closing(const aiotp__stream_state *s)
{
    return s->life != AIOTP__LIFE_OPEN;
}

bool aiotp__stream_is_reading(const aiotp__stream_state *s)
{
    return s->life == AIOTP__LIFE_OPEN && s->rd == AIOTP__RD_ACTIVE;
}

int aiotp__stream_write_admission(const aiotp__stream_state *s)
{
    int r = 0;
    if (s->wr != AIOTP__WR_OPEN) {
        r = 1; /* WRITE-WRITE-4: after write_eof, even for empty data */
    } else if (s->life == AIOTP__LIFE_LOST_PENDING || s->life == AIOTP__LIFE_CLOSED) {
        r = 2; /* WRITE-WRITE-5: dropped */
    }
    return r;
}
