/* proofs/gen_dgram.c - the datagram state machine's diagrams and its events x states
 * table, generated from the code (src/core/dgram_sm.c) so that neither can drift from it.
 *
 *   gen_dgram OUTDIR      writes OUTDIR/dgram_life.dot, dgram_rd.dot, dgram_ph.dot and
 *                         OUTDIR/dgram_table.md
 *
 * Diagrams: nodes and edges are the edge tables aiotp__dg_*_edges; each edge is labelled
 * with the events that take it, found by running aiotp__dgram_step() on every reachable
 * state, every event and both queue states. A step that leaves its table (impossible:
 * PROOF-DGRAM-1) makes the program fail.
 *
 * Table: one row per event, one column per reachable state (breadth-first from
 * aiotp__dgram_init()), each cell the next state and the actions, or "refused". The
 * same table is the ACSL logic DgramNextLife/Rd/Ph and DgramActs of
 * proofs/acsl/dgram.acsl, which the step function is proven to compute; the CTest
 * proof.dgram_table checks that spec/datagram-transport.md holds this output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dgram_sm.h"

#define MAX_STATES 64
#define CELL_MAX 256

static aiotp__dgram_state reach[MAX_STATES];
static int nreach;

static bool same(aiotp__dgram_state a, aiotp__dgram_state b)
{
    return a.life == b.life && a.rd == b.rd && a.ph == b.ph;
}

static int index_of(aiotp__dgram_state s)
{
    int i;
    for (i = 0; i < nreach; i++) {
        if (same(reach[i], s)) {
            return i;
        }
    }
    return -1;
}

static void explore(void)
{
    int i;
    int ev;
    int e;
    aiotp__dgram_init(&reach[0]);
    nreach = 1;
    for (i = 0; i < nreach; i++) {
        for (ev = 0; ev < AIOTP__DGEV_COUNT; ev++) {
            for (e = 0; e < 2; e++) {
                aiotp__dgram_state n = reach[i];
                (void)aiotp__dgram_step(&n, (aiotp__dgram_event)ev, e != 0);
                if (index_of(n) < 0 && nreach < MAX_STATES) {
                    reach[nreach++] = n;
                }
            }
        }
    }
}

static void state_name(aiotp__dgram_state s, char *out, size_t size)
{
    snprintf(out, size, "%s/%s/%s", aiotp__dg_life_names[s.life], aiotp__dg_rd_names[s.rd],
             aiotp__dg_ph_names[s.ph]);
}

static const char *const act_names[] = {"REFUSED", "CALL_MADE", "START_READER",
                                        "STOP_READER", "DELIVER", "CALL_ERROR",
                                        "STOP_WRITER", "DROP_QUEUE", "SCHEDULE_LOST",
                                        "CALL_LOST"};

static void acts_name(unsigned act, char *out, size_t size)
{
    size_t i;
    out[0] = '\0';
    if (act == AIOTP__DGA_NONE) {
        snprintf(out, size, "none");
        return;
    }
    for (i = 0; i < sizeof(act_names) / sizeof(act_names[0]); i++) {
        if (act & (1u << i)) {
            size_t n = strlen(out);
            snprintf(out + n, size - n, "%s%s", n > 0 ? " " : "", act_names[i]);
        }
    }
}

/* One outcome: "refused" or "NEXT: ACTS" ("=" when the state does not change). */
static void outcome(aiotp__dgram_state s, int ev, bool empty, char *out, size_t size)
{
    aiotp__dgram_state n = s;
    unsigned act = aiotp__dgram_step(&n, (aiotp__dgram_event)ev, empty);
    char st[64];
    char acts[160];
    if (act == AIOTP__DGA_REFUSED) {
        snprintf(out, size, "refused");
        return;
    }
    if (same(n, s)) {
        snprintf(st, sizeof(st), "=");
    } else {
        state_name(n, st, sizeof(st));
    }
    acts_name(act, acts, sizeof(acts));
    snprintf(out, size, "%s; %s", st, acts);
}

static int write_table(const char *dir)
{
    char path[1024];
    FILE *f;
    int i;
    int ev;
    snprintf(path, sizeof(path), "%s/dgram_table.md", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    fprintf(f, "| event |");
    for (i = 0; i < nreach; i++) {
        char st[64];
        state_name(reach[i], st, sizeof(st));
        fprintf(f, " %s |", st);
    }
    fprintf(f, "\n|---|");
    for (i = 0; i < nreach; i++) {
        fprintf(f, "---|");
    }
    fprintf(f, "\n");
    for (ev = 0; ev < AIOTP__DGEV_COUNT; ev++) {
        fprintf(f, "| %s |", aiotp__dgram_event_names[ev]);
        for (i = 0; i < nreach; i++) {
            char a[CELL_MAX];
            char b[CELL_MAX];
            outcome(reach[i], ev, true, a, sizeof(a));
            outcome(reach[i], ev, false, b, sizeof(b));
            if (strcmp(a, b) == 0) {
                fprintf(f, " %s |", a);
            } else {
                fprintf(f, " queue empty: %s<br>queued: %s |", a, b);
            }
        }
        fprintf(f, "\n");
    }
    return fclose(f) == 0 ? 0 : 1;
}

/* hits[from][to]: bit 2*ev (queue empty) / 2*ev+1 (datagrams queued) */
static int write_part(const char *dir, const char *file, const char *title, int count,
                      const char *const *names, const bool *edges, int part)
{
    unsigned long hits[8][8];
    char path[1024];
    FILE *f;
    int i;
    int ev;
    int e;
    int a;
    int b;
    memset(hits, 0, sizeof(hits));
    for (i = 0; i < nreach; i++) {
        for (ev = 0; ev < AIOTP__DGEV_COUNT; ev++) {
            for (e = 0; e < 2; e++) {
                aiotp__dgram_state n = reach[i];
                int from;
                int to;
                (void)aiotp__dgram_step(&n, (aiotp__dgram_event)ev, e == 0);
                from = part == 0 ? (int)reach[i].life : part == 1 ? (int)reach[i].rd
                                                                  : (int)reach[i].ph;
                to = part == 0 ? (int)n.life : part == 1 ? (int)n.rd : (int)n.ph;
                if (from == to) {
                    continue;
                }
                if (!edges[from * count + to]) {
                    fprintf(stderr, "gen_dgram: %s %s -> %s on %s is not a table edge\n",
                            title, names[from], names[to], aiotp__dgram_event_names[ev]);
                    return 1;
                }
                hits[from][to] |= 1ul << (2 * ev + e);
            }
        }
    }
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    fprintf(f, "// generated by proofs/gen_dgram.c from src/core/dgram_sm.c: do not edit\n");
    fprintf(f, "digraph \"%s\" {\n  label=\"%s\";\n  rankdir=LR;\n  node [shape=box];\n",
            title, title);
    for (a = 0; a < count; a++) {
        fprintf(f, "  \"%s\";\n", names[a]);
    }
    for (a = 0; a < count; a++) {
        for (b = 0; b < count; b++) {
            char label[512];
            label[0] = '\0';
            if (!edges[a * count + b]) {
                continue;
            }
            for (ev = 0; ev < AIOTP__DGEV_COUNT; ev++) {
                bool empty = (hits[a][b] >> (2 * ev)) & 1u;
                bool queued = (hits[a][b] >> (2 * ev + 1)) & 1u;
                size_t n = strlen(label);
                if (!empty && !queued) {
                    continue;
                }
                snprintf(label + n, sizeof(label) - n, "%s%s%s", n > 0 ? "\\n" : "",
                         aiotp__dgram_event_names[ev],
                         empty && queued ? "" : empty ? " (queue empty)" : " (queued)");
            }
            fprintf(f, "  \"%s\" -> \"%s\" [label=\"%s\"%s];\n", names[a], names[b], label,
                    label[0] == '\0' ? ", style=dashed" : "");
        }
    }
    fprintf(f, "}\n");
    return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int rc = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    explore();
    rc |= write_table(argv[1]);
    rc |= write_part(argv[1], "dgram_life.dot", "datagram life", AIOTP__DG_LIFE_COUNT,
                     aiotp__dg_life_names, &aiotp__dg_life_edges[0][0], 0);
    rc |= write_part(argv[1], "dgram_rd.dot", "datagram rd", AIOTP__DG_RD_COUNT,
                     aiotp__dg_rd_names, &aiotp__dg_rd_edges[0][0], 1);
    rc |= write_part(argv[1], "dgram_ph.dot", "datagram ph", AIOTP__DG_PH_COUNT,
                     aiotp__dg_ph_names, &aiotp__dg_ph_edges[0][0], 2);
    return rc;
}
