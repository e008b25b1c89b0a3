/* proofs/gen_pipe.c - the pipe machine's diagrams and its events x states table,
 * generated from the code (src/core/pipe_sm.c) so that neither can drift from it.
 *
 *   gen_pipe OUTDIR      writes OUTDIR/pipe_life.dot, pipe_rd.dot, pipe_ph.dot and
 *                        OUTDIR/pipe_table.md
 *
 * Diagrams: nodes and edges are the edge tables aiotp__pp_*_edges; each edge is labelled
 * with the events that take it, found by running aiotp__pipe_step() on every reachable
 * state of both directions, every event and both buffer states. A step that leaves its
 * table (impossible: PROOF-PIPE-1) makes the program fail.
 *
 * Table: one row per event, one column per reachable state (breadth-first from
 * aiotp__pipe_init() of a read pipe, then of a write pipe), each cell the next state and
 * the actions, or "refused". The same table is the ACSL logic PipeNextLife/Rd/Ph and
 * PipeActs of proofs/acsl/pipe.acsl, which the step function is proven to compute; the
 * CTest proof.pipe_table checks that spec/pipe-transport.md holds this output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pipe_sm.h"

#define MAX_STATES 64
#define CELL_MAX 256

static aiotp__pipe_state reach[MAX_STATES];
static int nreach;

static bool same(aiotp__pipe_state a, aiotp__pipe_state b)
{
    return a.dir == b.dir && a.life == b.life && a.rd == b.rd && a.ph == b.ph;
}

static int index_of(aiotp__pipe_state s)
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
    int d;
    nreach = 0;
    for (d = 0; d < AIOTP__PP_DIR_COUNT; d++) {
        int first = nreach;
        aiotp__pipe_init(&reach[nreach++], (aiotp__pp_dir)d);
        for (i = first; i < nreach; i++) {
            for (ev = 0; ev < AIOTP__PPEV_COUNT; ev++) {
                for (e = 0; e < 2; e++) {
                    aiotp__pipe_state n = reach[i];
                    (void)aiotp__pipe_step(&n, (aiotp__pipe_event)ev, e != 0);
                    if (index_of(n) < 0 && nreach < MAX_STATES) {
                        reach[nreach++] = n;
                    }
                }
            }
        }
    }
}

static const char *const act_names[] = {"REFUSED",     "CALL_MADE",   "START_READER",
                                        "STOP_READER", "DELIVER",     "STOP_WRITER",
                                        "DROP_BUFFER", "SCHEDULE_LOST", "CALL_EOF",
                                        "CALL_LOST"};

static void acts_name(unsigned act, char *out, size_t size)
{
    size_t i;
    out[0] = '\0';
    if (act == AIOTP__PPA_NONE) {
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
static void outcome(aiotp__pipe_state s, int ev, bool empty, char *out, size_t size)
{
    aiotp__pipe_state n = s;
    unsigned act = aiotp__pipe_step(&n, (aiotp__pipe_event)ev, empty);
    char st[64];
    char acts[160];
    if (act == AIOTP__PPA_REFUSED) {
        snprintf(out, size, "refused");
        return;
    }
    if (same(n, s)) {
        snprintf(st, sizeof(st), "=");
    } else {
        snprintf(st, sizeof(st), "%s/%s/%s", aiotp__pp_life_names[n.life],
                 aiotp__pp_rd_names[n.rd], aiotp__pp_ph_names[n.ph]);
    }
    acts_name(act, acts, sizeof(acts));
    snprintf(out, size, "%s; %s", st, acts);
}

/* One table per direction (a column per reachable state of it). */
static void write_dir_table(FILE *f, int dir)
{
    int i;
    int ev;
    fprintf(f, "| event |");
    for (i = 0; i < nreach; i++) {
        char st[64];
        if ((int)reach[i].dir != dir) {
            continue;
        }
        snprintf(st, sizeof(st), "%s/%s/%s", aiotp__pp_life_names[reach[i].life],
                 aiotp__pp_rd_names[reach[i].rd], aiotp__pp_ph_names[reach[i].ph]);
        fprintf(f, " %s |", st);
    }
    fprintf(f, "\n|---|");
    for (i = 0; i < nreach; i++) {
        if ((int)reach[i].dir == dir) {
            fprintf(f, "---|");
        }
    }
    fprintf(f, "\n");
    for (ev = 0; ev < AIOTP__PPEV_COUNT; ev++) {
        fprintf(f, "| %s |", aiotp__pipe_event_names[ev]);
        for (i = 0; i < nreach; i++) {
            char a[CELL_MAX];
            char b[CELL_MAX];
            if ((int)reach[i].dir != dir) {
                continue;
            }
            outcome(reach[i], ev, true, a, sizeof(a));
            outcome(reach[i], ev, false, b, sizeof(b));
            if (strcmp(a, b) == 0) {
                fprintf(f, " %s |", a);
            } else {
                fprintf(f, " buffer empty: %s<br>queued: %s |", a, b);
            }
        }
        fprintf(f, "\n");
    }
}

static int write_table(const char *dir)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof(path), "%s/pipe_table.md", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    fprintf(f, "Read pipe (`dir` READ; a read pipe's buffer is always empty):\n\n");
    write_dir_table(f, AIOTP__PP_READ);
    fprintf(f, "\nWrite pipe (`dir` WRITE; `rd` is STOPPED from the start):\n\n");
    write_dir_table(f, AIOTP__PP_WRITE);
    return fclose(f) == 0 ? 0 : 1;
}

static int part_of(aiotp__pipe_state s, int part)
{
    return part == 0 ? (int)s.life : part == 1 ? (int)s.rd : (int)s.ph;
}

/* hits[from][to]: bit 2*ev (buffer empty) / 2*ev+1 (bytes queued) */
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
        for (ev = 0; ev < AIOTP__PPEV_COUNT; ev++) {
            for (e = 0; e < 2; e++) {
                aiotp__pipe_state n = reach[i];
                int from;
                int to;
                (void)aiotp__pipe_step(&n, (aiotp__pipe_event)ev, e == 0);
                from = part_of(reach[i], part);
                to = part_of(n, part);
                if (from == to) {
                    continue;
                }
                if (!edges[from * count + to]) {
                    fprintf(stderr, "gen_pipe: %s %s -> %s on %s is not a table edge\n", title,
                            names[from], names[to], aiotp__pipe_event_names[ev]);
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
    fprintf(f, "// generated by proofs/gen_pipe.c from src/core/pipe_sm.c: do not edit\n");
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
            for (ev = 0; ev < AIOTP__PPEV_COUNT; ev++) {
                bool empty = (hits[a][b] >> (2 * ev)) & 1u;
                bool queued = (hits[a][b] >> (2 * ev + 1)) & 1u;
                size_t n = strlen(label);
                if (!empty && !queued) {
                    continue;
                }
                snprintf(label + n, sizeof(label) - n, "%s%s%s", n > 0 ? "\\n" : "",
                         aiotp__pipe_event_names[ev],
                         empty && queued ? "" : empty ? " (buffer empty)" : " (queued)");
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
    rc |= write_part(argv[1], "pipe_life.dot", "pipe life", AIOTP__PP_LIFE_COUNT,
                     aiotp__pp_life_names, &aiotp__pp_life_edges[0][0], 0);
    rc |= write_part(argv[1], "pipe_rd.dot", "pipe rd", AIOTP__PP_RD_COUNT, aiotp__pp_rd_names,
                     &aiotp__pp_rd_edges[0][0], 1);
    rc |= write_part(argv[1], "pipe_ph.dot", "pipe ph", AIOTP__PP_PH_COUNT, aiotp__pp_ph_names,
                     &aiotp__pp_ph_edges[0][0], 2);
    return rc;
}
