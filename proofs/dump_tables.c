/* proofs/dump_tables.c - print what the C code of src/core/stream_sm.c does, for
 * proofs/gen_tables.py to compare with proofs/tables/stream.table (CTest proof.tables):
 *
 *   edge PART FROM TO 0|1                                  every cell of the edge tables
 *   step LIFE RD WR PH EVENT EMPTY -> LIFE RD WR PH MASK   aiotp__stream_step on every
 *                                                          valid state, event, buffer state
 * Names are the enum names (AIOTP__EV_CLOSE prints as CLOSE); MASK is decimal. */
#include <stdio.h>

#include "core/stream_sm.h"

static const char *const ev_enum[AIOTP__EV_COUNT] = {
    [AIOTP__EV_MADE] = "MADE", [AIOTP__EV_READER_START] = "READER_START",
    [AIOTP__EV_PAUSE_READING] = "PAUSE_READING", [AIOTP__EV_RESUME_READING] = "RESUME_READING",
    [AIOTP__EV_DATA] = "DATA", [AIOTP__EV_EOF] = "EOF", [AIOTP__EV_CLOSE] = "CLOSE",
    [AIOTP__EV_ABORT] = "ABORT", [AIOTP__EV_FATAL] = "FATAL", [AIOTP__EV_WRITE_EOF] = "WRITE_EOF",
    [AIOTP__EV_DRAINED] = "DRAINED", [AIOTP__EV_LOST] = "LOST"};

static void edges(const char *part, int n, const bool *tab, const char *const *names)
{
    int a, b;
    for (a = 0; a < n; a++) {
        for (b = 0; b < n; b++) {
            printf("edge %s %s %s %d\n", part, names[a], names[b], tab[a * n + b] ? 1 : 0);
        }
    }
}

int main(void)
{
    int life, rd, wr, ph, ev, be;

    edges("life", AIOTP__LIFE_COUNT, &aiotp__life_edges[0][0], aiotp__life_names);
    edges("rd", AIOTP__RD_COUNT, &aiotp__rd_edges[0][0], aiotp__rd_names);
    edges("wr", AIOTP__WR_COUNT, &aiotp__wr_edges[0][0], aiotp__wr_names);
    edges("ph", AIOTP__PH_COUNT, &aiotp__ph_edges[0][0], aiotp__ph_names);
    for (life = 0; life < AIOTP__LIFE_COUNT; life++)
    for (rd = 0; rd < AIOTP__RD_COUNT; rd++)
    for (wr = 0; wr < AIOTP__WR_COUNT; wr++)
    for (ph = 0; ph < AIOTP__PH_COUNT; ph++)
    for (ev = 0; ev < AIOTP__EV_COUNT; ev++)
    for (be = 0; be < 2; be++) {
        aiotp__stream_state s, n;
        unsigned act;
        s.life = (aiotp__life)life;
        s.rd = (aiotp__rd)rd;
        s.wr = (aiotp__wr)wr;
        s.ph = (aiotp__ph)ph;
        if (!aiotp__stream_is_valid(&s)) {
            continue;
        }
        n = s;
        act = aiotp__stream_step(&n, (aiotp__stream_event)ev, be != 0);
        printf("step %s %s %s %s %s %d -> %s %s %s %s %u\n", aiotp__life_names[life],
               aiotp__rd_names[rd], aiotp__wr_names[wr], aiotp__ph_names[ph], ev_enum[ev], be,
               aiotp__life_names[n.life], aiotp__rd_names[n.rd], aiotp__wr_names[n.wr],
               aiotp__ph_names[n.ph], act);
    }
    return 0;
}
