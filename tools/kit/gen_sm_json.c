/* tools/kit/gen_sm_json.c - the stream state machine's edge tables as JSON, for the trace
 * viewer (tools/aiotp_trace_view), generated at build time from src/core/stream_sm.c so
 * that the page cannot drift from the code.
 *
 *   gen_sm_json OUT.json
 *
 * For each part (life, rd, wr, ph): its state names, the initial state, and every edge of
 * its table with the events that take it (found by running aiotp__stream_step() on every
 * valid state, event and buffer state; an edge no event takes has an empty list). */
#include <stdio.h>

#include "core/stream_sm.h"

enum { LIFE, RD, WR, PH, PARTS };

static int part_of(const aiotp__stream_state *s, int p)
{
    return p == LIFE ? (int)s->life : p == RD ? (int)s->rd : p == WR ? (int)s->wr : (int)s->ph;
}

static unsigned long hits[PARTS][4][4];

int main(int argc, char **argv)
{
    static const char *const part_names[PARTS] = {"life", "rd", "wr", "ph"};
    const int count[PARTS] = {AIOTP__LIFE_COUNT, AIOTP__RD_COUNT, AIOTP__WR_COUNT,
                              AIOTP__PH_COUNT};
    const char *const *names[PARTS] = {aiotp__life_names, aiotp__rd_names, aiotp__wr_names,
                                       aiotp__ph_names};
    const bool *edges[PARTS] = {&aiotp__life_edges[0][0], &aiotp__rd_edges[0][0],
                                &aiotp__wr_edges[0][0], &aiotp__ph_edges[0][0]};
    aiotp__stream_state s, init;
    int life, rd, wr, ph, ev, be, p, a, b;
    FILE *f;

    if (argc != 2) {
        fprintf(stderr, "usage: gen_sm_json OUT.json\n");
        return 2;
    }
    for (life = 0; life < AIOTP__LIFE_COUNT; life++)
    for (rd = 0; rd < AIOTP__RD_COUNT; rd++)
    for (wr = 0; wr < AIOTP__WR_COUNT; wr++)
    for (ph = 0; ph < AIOTP__PH_COUNT; ph++)
    for (ev = 0; ev < AIOTP__EV_COUNT; ev++)
    for (be = 0; be < 2; be++) {
        aiotp__stream_state n;
        s.life = (aiotp__life)life;
        s.rd = (aiotp__rd)rd;
        s.wr = (aiotp__wr)wr;
        s.ph = (aiotp__ph)ph;
        if (!aiotp__stream_is_valid(&s)) {
            continue;
        }
        n = s;
        if (aiotp__stream_step(&n, (aiotp__stream_event)ev, be != 0) & AIOTP__ACT_REFUSED) {
            continue;
        }
        for (p = 0; p < PARTS; p++) {
            int from = part_of(&s, p), to = part_of(&n, p);
            if (from != to) {
                hits[p][from][to] |= 1ul << ev;
            }
        }
    }
    aiotp__stream_init(&init);
    f = fopen(argv[1], "w");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    fprintf(f, "{\"source\": \"src/core/stream_sm.c\", \"parts\": [");
    for (p = 0; p < PARTS; p++) {
        int first = 1;
        fprintf(f, "%s\n {\"name\": \"%s\", \"initial\": \"%s\", \"states\": [", p ? "," : "",
                part_names[p], names[p][part_of(&init, p)]);
        for (a = 0; a < count[p]; a++) {
            fprintf(f, "%s\"%s\"", a ? ", " : "", names[p][a]);
        }
        fprintf(f, "], \"edges\": [");
        for (a = 0; a < count[p]; a++) {
            for (b = 0; b < count[p]; b++) {
                if (!edges[p][a * count[p] + b]) {
                    continue;
                }
                fprintf(f, "%s\n  {\"from\": \"%s\", \"to\": \"%s\", \"events\": [", first ? "" : ",",
                        names[p][a], names[p][b]);
                first = 0;
                {
                    int k = 0;
                    for (ev = 0; ev < AIOTP__EV_COUNT; ev++) {
                        if (hits[p][a][b] & (1ul << ev)) {
                            fprintf(f, "%s\"%s\"", k++ ? ", " : "", aiotp__stream_event_names[ev]);
                        }
                    }
                }
                fprintf(f, "]}");
            }
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n]}\n");
    return fclose(f) != 0;
}
