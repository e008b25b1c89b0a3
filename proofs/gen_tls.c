/* proofs/gen_tls.c - the TLS state machine's diagrams and its states x events table,
 * generated from the code (src/core/tls_sm.c) so that neither can drift from it.
 *
 *   gen_tls OUTDIR      writes OUTDIR/tls_ly.dot, tls_app.dot, tls_rd.dot and
 *                       OUTDIR/tls_table.md
 *
 * Diagrams: nodes and edges are the edge tables aiotp__tls_*_edges; each edge is labelled
 * with the events that take it, found by running aiotp__tls_step() on every reachable
 * state (from both initial states: made with a connection, made by start_tls) and every
 * event. A step that leaves its table (impossible: PROOF-TLS-1) makes the program fail.
 *
 * Table: one row per reachable state (breadth-first), one column per event, each cell the
 * next state and the actions, or "refused". The same table is the ACSL logic
 * TlsNextLy/App/Rd and TlsActs of proofs/acsl/tls.acsl, which the step function is proven
 * to compute; the CTest proof.tls_table checks that spec/tls-transport.md holds this
 * output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tls_sm.h"

#define MAX_STATES 128
#define CELL_MAX 256

static aiotp__tls_state reach[MAX_STATES];
static int nreach;

static bool same(aiotp__tls_state a, aiotp__tls_state b)
{
    return a.ly == b.ly && a.app == b.app && a.rd == b.rd && a.upgrade == b.upgrade;
}

static int index_of(aiotp__tls_state s)
{
    int i;
    for (i = 0; i < nreach; i++) {
        if (same(reach[i], s)) {
            return i;
        }
    }
    return -1;
}

static int explore(void)
{
    int i;
    int ev;
    aiotp__tls_init(&reach[0], false);
    aiotp__tls_init(&reach[1], true);
    nreach = 2;
    for (i = 0; i < nreach; i++) {
        for (ev = 0; ev < AIOTP__TLSEV_COUNT; ev++) {
            aiotp__tls_state n = reach[i];
            (void)aiotp__tls_step(&n, (aiotp__tls_event)ev);
            if (index_of(n) < 0) {
                if (nreach == MAX_STATES) {
                    fprintf(stderr, "gen_tls: more than %d states\n", MAX_STATES);
                    return 1;
                }
                reach[nreach++] = n;
            }
        }
    }
    return 0;
}

static void state_name(aiotp__tls_state s, char *out, size_t size)
{
    snprintf(out, size, "%s/%s/%s%s", aiotp__tls_ly_names[s.ly], aiotp__tls_app_names[s.app],
             aiotp__tls_rd_names[s.rd], s.upgrade ? " (start_tls)" : "");
}

static void acts_name(unsigned act, char *out, size_t size)
{
    size_t i;
    out[0] = '\0';
    if (act == AIOTP__TLSA_NONE) {
        snprintf(out, size, "none");
        return;
    }
    for (i = 0; i < AIOTP__TLSA_COUNT; i++) {
        if (act & (1u << i)) {
            size_t n = strlen(out);
            snprintf(out + n, size - n, "%s%s", n > 0 ? " " : "", aiotp__tls_action_names[i]);
        }
    }
}

/* One outcome: "refused" or "NEXT: ACTS" ("=" when the state does not change). */
static void outcome(aiotp__tls_state s, int ev, char *out, size_t size)
{
    aiotp__tls_state n = s;
    unsigned act = aiotp__tls_step(&n, (aiotp__tls_event)ev);
    char st[64];
    char acts[CELL_MAX];
    if (act == AIOTP__TLSA_REFUSED) {
        snprintf(out, size, "refused");
        return;
    }
    if (same(n, s)) {
        snprintf(st, sizeof(st), "=");
    } else {
        snprintf(st, sizeof(st), "%s/%s/%s", aiotp__tls_ly_names[n.ly],
                 aiotp__tls_app_names[n.app], aiotp__tls_rd_names[n.rd]);
    }
    acts_name(act, acts, sizeof(acts));
    snprintf(out, size, "%s; %s", st, acts);
}

/* The row of a start_tls state equals the row of the same state of a transport made
   with a connection. */
static bool same_row_as_twin(aiotp__tls_state s)
{
    aiotp__tls_state twin = s;
    int ev;
    twin.upgrade = false;
    for (ev = 0; ev < AIOTP__TLSEV_COUNT; ev++) {
        char a[CELL_MAX * 2];
        char b[CELL_MAX * 2];
        outcome(s, ev, a, sizeof(a));
        outcome(twin, ev, b, sizeof(b));
        if (strcmp(a, b) != 0) {
            return false;
        }
    }
    return index_of(twin) >= 0;
}

static int write_table(const char *dir)
{
    char path[1024];
    FILE *f;
    int i;
    int ev;
    snprintf(path, sizeof(path), "%s/tls_table.md", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    fprintf(f, "| state |");
    for (ev = 0; ev < AIOTP__TLSEV_COUNT; ev++) {
        fprintf(f, " %s |", aiotp__tls_event_names[ev]);
    }
    fprintf(f, "\n|---|");
    for (ev = 0; ev < AIOTP__TLSEV_COUNT; ev++) {
        fprintf(f, "---|");
    }
    fprintf(f, "\n");
    for (i = 0; i < nreach; i++) {
        char st[64];
        if (reach[i].upgrade && same_row_as_twin(reach[i])) {
            continue; /* a start_tls transport differs only where a row says so */
        }
        state_name(reach[i], st, sizeof(st));
        fprintf(f, "| %s |", st);
        for (ev = 0; ev < AIOTP__TLSEV_COUNT; ev++) {
            char c[CELL_MAX * 2];
            outcome(reach[i], ev, c, sizeof(c));
            fprintf(f, " %s |", c);
        }
        fprintf(f, "\n");
    }
    return fclose(f) == 0 ? 0 : 1;
}

static int part_of(const aiotp__tls_state *s, int part)
{
    return part == 0 ? (int)s->ly : part == 1 ? (int)s->app : (int)s->rd;
}

/* hits[from][to]: bit ev when event ev takes that edge */
static int write_part(const char *dir, const char *file, const char *title, int count,
                      const char *const *names, const bool *edges, int part)
{
    unsigned long hits[8][8];
    char path[1024];
    FILE *f;
    int i;
    int ev;
    int a;
    int b;
    memset(hits, 0, sizeof(hits));
    for (i = 0; i < nreach; i++) {
        for (ev = 0; ev < AIOTP__TLSEV_COUNT; ev++) {
            aiotp__tls_state n = reach[i];
            int from;
            int to;
            (void)aiotp__tls_step(&n, (aiotp__tls_event)ev);
            from = part_of(&reach[i], part);
            to = part_of(&n, part);
            if (from == to) {
                continue;
            }
            if (!edges[from * count + to]) {
                fprintf(stderr, "gen_tls: %s %s -> %s on %s is not a table edge\n", title,
                        names[from], names[to], aiotp__tls_event_names[ev]);
                return 1;
            }
            hits[from][to] |= 1ul << ev;
        }
    }
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    fprintf(f, "// generated by proofs/gen_tls.c from src/core/tls_sm.c: do not edit\n");
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
            for (ev = 0; ev < AIOTP__TLSEV_COUNT; ev++) {
                size_t n = strlen(label);
                if ((hits[a][b] >> ev) & 1u) {
                    snprintf(label + n, sizeof(label) - n, "%s%s", n > 0 ? "\\n" : "",
                             aiotp__tls_event_names[ev]);
                }
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
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    rc = explore();
    rc |= write_table(argv[1]);
    rc |= write_part(argv[1], "tls_ly.dot", "TLS layer (ly)", AIOTP__TLS_LY_COUNT,
                     aiotp__tls_ly_names, &aiotp__tls_ly_edges[0][0], 0);
    rc |= write_part(argv[1], "tls_app.dot", "TLS application protocol (app)",
                     AIOTP__TLS_APP_COUNT, aiotp__tls_app_names, &aiotp__tls_app_edges[0][0],
                     1);
    rc |= write_part(argv[1], "tls_rd.dot", "TLS application reading (rd)", AIOTP__TLS_RD_COUNT,
                     aiotp__tls_rd_names, &aiotp__tls_rd_edges[0][0], 2);
    return rc;
}
