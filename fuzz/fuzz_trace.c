/*
 * fuzz/fuzz_trace.c - the trace parser and checker: the conformance oracle
 * (include/aiotp/oracle.h) and the command line aiotp-trace-check
 * (tools/aiotp_trace_check.c) on arbitrary text.
 *
 * Input: byte 0 chooses the options, byte 1 the runs (below), the rest is the trace.
 * Options: bit 0
 * AIOTP_ORACLE_REQUIRE_LOST (--require-lost); bits 1-2 max_transports 0 (the default),
 * 1, 2 or 4 live (--max-transports N); bit 3 the second run feeds NUL-terminated lines
 * (aiotp_oracle_feed_line) instead of counted ones; bits 4-5 the profile: AUTO (from the
 * header), doc, cpython, aiotp (--profile P); bit 6 the JSON run also says --all. The
 * trace is cut into lines at '\n' exactly as the command line does: no line after a final
 * '\n', "" has no line at all, one '\r' before the '\n' ends the line (CRLF), any other
 * '\r' stays in its line (and is a parse error), line numbers start at 1.
 *
 * Seven runs, each checked, then compared with R (or S): R and, chosen by byte 1 modulo 5,
 * D; P; S and C; A; J (with S when J is without --all); every run when the environment
 * sets FZ_TRACE_ALL_RUNS (the corpus replay CTest does). A campaign thus covers every run
 * with every option set across its inputs at about a third of the cost of running all
 * seven on each (fuzz/README.md, "Third round"):
 *   R  the chosen options, every line fed (aiotp_oracle_feed), then finish; after every
 *      call: the result is one of OK / VIOLATION / EPARSE / ELIMIT; the oracle's deep
 *      check (aiotp_oracle_is_valid); the line count; once stopped (EPARSE/ELIMIT) every
 *      later call returns the same code and counts nothing; an overlong line or a
 *      non-printable byte is EPARSE, a blank line or a comment is OK; OK adds no
 *      violation, VIOLATION adds one or more; first() is NULL exactly until the first
 *      non-OK result, and from then on describes that problem: its line (the finish()
 *      report: the last line), its kind (a rule ID that is in the oracle's rule table,
 *      with that rule's text, of a profile at most the one in force, for a violation; no
 *      rule for a parse or limit error), a detail, and recent events with increasing line
 *      numbers up to it whose text is the line's text (cut with "..." when long). Every
 *      report also goes to the report callback: one call per violation counted and one
 *      for the error that stops it, the first call being first(); the per-rule counts add
 *      up to violations().
 *   D  the default max_transports and REQUIRE_LOST flipped: the same result on every
 *      line up to R's first ELIMIT (where D may say OK, VIOLATION or ELIMIT, not a parse
 *      error: R did not judge the line it could not track); the flag only
 *      changes finish(): without it OK or the same VIOLATION, with it more violations.
 *   P  another profile: violations may differ, but parse errors and limits do not (the
 *      same stop, on the same line).
 *   S  the command line's loop (stop at the first non-OK result, finish only after a
 *      clean trace), optionally with aiotp_oracle_feed_line: the same results and the
 *      same first report (kind, rule, line, detail, transport, recent events) as R.
 *   C  aiotp-trace-check itself (its main(), compiled in renamed) on a temporary file
 *      with the same options: exit 0 / 1 / 2 as S ended OK / VIOLATION / EPARSE or
 *      ELIMIT, and the first line it prints is S's outcome ("FILE: OK: N lines conform
 *      (profile P)", "FILE:LINE: RULE-ID: rule text", "FILE:LINE: parse error: detail").
 *   A  aiotp-trace-check --all: exit 2 if R stopped, else 1 if R counted violations,
 *      else 0; its first line is R's first report (--all and the first-violation mode
 *      agree on it); its summary counts R's violations.
 *   J  aiotp-trace-check --json (and --all with bit 6): the output is one valid JSON
 *      object (checked by a strict parser here) whose "exit" is C's (A's), "total" S's
 *      (R's) count, whose "violations" list holds that many entries (the first only
 *      without --all), the first with R's first rule and line.
 * The oracle's memory comes from a counting allocator: blocks freed with their size,
 * nothing left. Any failure prints "FUZZ VIOLATION [TRACE-...] ..." and aborts.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fz_asan.h"
#include "aiotp/oracle.h"
#include "trace_check_main.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OPT_REQUIRE_LOST 0x01u
#define OPT_FEED_LINE 0x08u
#define OPT_JSON_ALL 0x40u

/* the runs besides R (byte 1 chooses; FZ_TRACE_ALL_RUNS: all) */
#define RUN_D 0x01u
#define RUN_P 0x02u
#define RUN_S 0x04u
#define RUN_C 0x08u
#define RUN_A 0x10u
#define RUN_J 0x20u
#define RUN_ALL 0x3fu
static const unsigned run_choice[5] = {RUN_D, RUN_P, RUN_S | RUN_C, RUN_A, RUN_J};
static const size_t max_choice[4] = {0, 1, 2, 4};

/* The options of one input. */
typedef struct options {
    aiotp_oracle_config cfg;
    int profile; /* enum aiotp_oracle_profile (AUTO: none given) */
} options;

/* ---- failures ---------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3), noreturn))
#endif
static void fail(const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FUZZ VIOLATION [%s] ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define REQUIRE(cond, what, ...)                                                       \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fail(what, __VA_ARGS__);                                                   \
        }                                                                              \
    } while (0)

/* ---- the oracle's allocator: counts blocks and bytes, checks the size at free ------- */

/* An oracle is a block of about 16 KiB, its per-rule counters, a hash and chunks of
   transport slots (about 2.6 KiB each, 16 in the first chunk), and four are made per
   input: large enough for the sanitizer's allocator to map and unmap them every time,
   which took most of the time. They are carved from a static arena instead, reset for
   every input (so the same input takes the same path whatever ran before: AFL++
   stability), with poisoned gaps between the blocks and poisoned free space under ASan,
   so overflows and uses after free are still caught. A block that does not fit comes
   from malloc. */
/* (ASan's quarantine: fz_asan.h) */
FZ_ASAN_DEFAULT_OPTIONS()

#define ARENA ((size_t)4 << 20)
static union {
    long double ld; /* alignment (C99: no max_align_t) */
    long long ll;
    void *vp;
    unsigned char bytes[ARENA];
} g_arena;
static size_t g_used;

static long g_blocks;
static size_t g_bytes;

/* Only the part the last input used can hold unpoisoned bytes (blocks are carved from
   g_used up, and the free space beyond it is never unpoisoned): poisoning that part, not
   the whole 4 MiB (512 KiB of shadow per input), leaves the same state. The first input
   poisons all of it. */
static bool g_arena_poisoned;

static void arena_reset(void)
{
    fz_arena_reset(g_arena.bytes, ARENA, &g_used, &g_arena_poisoned);
}

static bool in_arena(const void *p)
{
    const unsigned char *c = p;
    return c >= g_arena.bytes && c < g_arena.bytes + ARENA;
}

static void *t_alloc(void *ctx, size_t n)
{
    void *p = fz_arena_take(g_arena.bytes, ARENA, &g_used, n);
    (void)ctx;
    if (p != NULL) {
        memset(p, 0xa5, n); /* not zeroed: the oracle must initialise it */
    } else {
        p = malloc(n);
    }
    if (p != NULL) {
        g_blocks++;
        g_bytes += n;
    }
    return p;
}

static void t_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    REQUIRE(p != NULL, "TRACE-ALLOC", "free(NULL, %zu)", n);
    REQUIRE(g_blocks > 0 && n <= g_bytes, "TRACE-ALLOC",
            "free of %zu bytes, %ld blocks / %zu bytes live", n, g_blocks, g_bytes);
    g_blocks--;
    g_bytes -= n;
    if (in_arena(p)) {
        POISON(p, n); /* the space is reused by the next input only */
    } else {
        free(p);
    }
}

static const aiotp_oracle_alloc counting = {t_alloc, t_free, NULL};

/* ---- the trace, cut into lines as aiotp-trace-check does --------------------------- */

typedef struct trace {
    const char *text;
    size_t size;
    size_t n;      /* lines */
    size_t *off;   /* line i: text[off[i] .. off[i] + len[i]) */
    size_t *len;
    char *z;       /* copy with every '\n' (and the end) a NUL: for feed_line */
    bool has_nul;  /* a NUL byte somewhere: feed_line would see other lines */
} trace;

static void trace_split(trace *tr, const char *text, size_t size)
{
    size_t i;
    size_t start = 0;
    size_t cap = 1;

    memset(tr, 0, sizeof(*tr));
    tr->text = text;
    tr->size = size;
    for (i = 0; i < size; i++) {
        cap += text[i] == '\n';
    }
    tr->off = malloc(cap * sizeof(size_t));
    tr->len = malloc(cap * sizeof(size_t));
    tr->z = malloc(size + 1);
    REQUIRE(tr->off != NULL && tr->len != NULL && tr->z != NULL, "TRACE-HARNESS", "malloc");
    if (size > 0) {
        memcpy(tr->z, text, size);
    }
    tr->z[size] = '\0';
    for (i = 0; i < size; i++) {
        if (text[i] == '\0') {
            tr->has_nul = true;
        }
        if (text[i] == '\n') {
            tr->z[i] = '\0';
            tr->off[tr->n] = start;
            tr->len[tr->n++] = i - start;
            start = i + 1;
        }
    }
    if (start < size) {
        tr->off[tr->n] = start;
        tr->len[tr->n++] = size - start;
    }
}

static void trace_free(trace *tr)
{
    free(tr->off);
    free(tr->len);
    free(tr->z);
}

/* ---- one run of the oracle ---------------------------------------------------------- */

#define NOT_CALLED 100 /* finish() was not called */

typedef struct run {
    const char *name;
    aiotp_oracle *o;
    int *rc;            /* result per line fed */
    size_t fed;
    int fin;            /* finish() result or NOT_CALLED */
    int stop;           /* EPARSE / ELIMIT once stopped, else 0 */
    size_t viol;        /* violations() so far */
    int first_rc;       /* the first non-OK result (feed or finish), 0 if none */
    size_t first_line;  /* the line it belongs to */
    bool first_at_finish; /* ... and it came from finish() */
    bool deep;          /* run aiotp_oracle_is_valid after every call */
    size_t calls;       /* report callback calls */
    size_t cb_viol;     /* ... of violations */
    bool cb_err;        /* the stopping error was reported */
    bool cb_first_set;  /* the first call's report, kept: */
    aiotp_oracle_report cb_first;
} run;

static bool report_eq(const aiotp_oracle_report *x, const aiotp_oracle_report *y);

/* The report callback: every violation and the stopping error, in order. */
static void on_report(void *arg, const aiotp_oracle_report *rep)
{
    run *r = arg;
    r->calls++;
    if (rep->result == AIOTP_ORACLE_VIOLATION) {
        r->cb_viol++;
        REQUIRE(rep->profile >= AIOTP_ORACLE_PROFILE_DOC &&
                    rep->profile <= aiotp_oracle_profile(r->o),
                "TRACE-PROFILE", "%s: %s (profile %d) reported under profile %d", r->name,
                rep->rule, rep->profile, aiotp_oracle_profile(r->o));
    } else {
        REQUIRE(!r->cb_err && aiotp_oracle_error(r->o) != NULL &&
                    report_eq(aiotp_oracle_error(r->o), rep),
                "TRACE-REPORT", "%s: a second stopping error, or not the error()", r->name);
        r->cb_err = true;
    }
    if (!r->cb_first_set) {
        r->cb_first = *rep;
        r->cb_first_set = true;
    }
}

/* A line's length without the one CR that may end it (CRLF). */
static size_t content_len(const char *p, size_t len)
{
    return len > 0 && p[len - 1] == '\r' ? len - 1 : len;
}

static bool printable_line(const char *p, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

static bool known_result(int rc)
{
    return rc == AIOTP_ORACLE_OK || rc == AIOTP_ORACLE_VIOLATION || rc == AIOTP_ORACLE_EPARSE ||
           rc == AIOTP_ORACLE_ELIMIT;
}

/* What the first report must look like once the first non-OK result was `rc` at `line`. */
static void check_report(const run *r, const trace *tr)
{
    const aiotp_oracle_report *rep = aiotp_oracle_first(r->o);
    size_t i;

    if (r->first_rc == AIOTP_ORACLE_OK) {
        REQUIRE(rep == NULL, "TRACE-REPORT", "%s: a report (%s, line %zu) but every call said OK",
                r->name, rep->rule != NULL ? rep->rule : rep->detail, rep->lineno);
        REQUIRE(aiotp_oracle_violations(r->o) == 0, "TRACE-REPORT",
                "%s: %zu violations counted but every call said OK", r->name,
                aiotp_oracle_violations(r->o));
        return;
    }
    REQUIRE(rep != NULL, "TRACE-REPORT", "%s: result %d at line %zu but no report", r->name,
            r->first_rc, r->first_line);
    REQUIRE(rep->lineno == r->first_line, "TRACE-REPORT",
            "%s: report at line %zu, the first problem was at line %zu", r->name, rep->lineno,
            r->first_line);
    /* (fuzz/findings/README.md: the oracle once reported a violation for a line that
       also overflowed its nesting limit, and returned ELIMIT; fixed) */
    REQUIRE(rep->result == r->first_rc, "TRACE-REPORT",
            "%s: report of kind %d (%s) at line %zu, but the call returned %d (parse error "
            "vs violation)", r->name, rep->result, rep->rule != NULL ? rep->rule : "no rule",
            rep->lineno, r->first_rc);
    REQUIRE(memchr(rep->detail, '\0', sizeof(rep->detail)) != NULL && rep->detail[0] != '\0',
            "TRACE-REPORT", "%s: empty or unterminated detail", r->name);
    if (rep->result == AIOTP_ORACLE_VIOLATION) {
        const char *text;
        REQUIRE(rep->rule != NULL, "TRACE-REPORT", "%s: violation without a rule ID", r->name);
        text = aiotp_oracle_rule_text(rep->rule);
        REQUIRE(text != NULL, "TRACE-RULE", "%s: rule ID '%s' (line %zu) is not in the rule table",
                r->name, rep->rule, rep->lineno);
        REQUIRE(rep->rule_text != NULL && strcmp(rep->rule_text, text) == 0, "TRACE-RULE",
                "%s: rule text of %s is not the table's", r->name, rep->rule);
    } else {
        REQUIRE(rep->rule == NULL && rep->rule_text == NULL, "TRACE-REPORT",
                "%s: a %s error with a rule ID", r->name,
                rep->result == AIOTP_ORACLE_EPARSE ? "parse" : "limit");
        REQUIRE(rep->tid == 0, "TRACE-REPORT", "%s: a parse/limit error names t%lu", r->name,
                rep->tid);
    }
    REQUIRE(rep->nrecent <= AIOTP_ORACLE_RECENT, "TRACE-REPORT", "%s: nrecent %zu", r->name,
            rep->nrecent);
    for (i = 0; i < rep->nrecent; i++) {
        const aiotp_oracle_event *ev = &rep->recent[i];
        size_t k;
        size_t len;
        const char *line;
        REQUIRE(ev->lineno >= 1 && ev->lineno <= rep->lineno && ev->lineno <= tr->n,
                "TRACE-REPORT", "%s: recent event %zu at line %zu (report at %zu, %zu lines)",
                r->name, i, ev->lineno, rep->lineno, tr->n);
        REQUIRE(i == 0 || ev->lineno > rep->recent[i - 1].lineno, "TRACE-REPORT",
                "%s: recent events out of order (%zu after %zu)", r->name, ev->lineno,
                rep->recent[i - 1].lineno);
        REQUIRE(memchr(ev->text, '\0', sizeof(ev->text)) != NULL, "TRACE-REPORT",
                "%s: recent event text unterminated", r->name);
        k = ev->lineno - 1;
        line = tr->text + tr->off[k];
        len = content_len(line, tr->len[k]);
        if (len <= AIOTP_ORACLE_KEEP - 1) {
            REQUIRE(strlen(ev->text) == len && memcmp(ev->text, line, len) == 0, "TRACE-REPORT",
                    "%s: recent event of line %zu is not that line", r->name, ev->lineno);
        } else {
            REQUIRE(strlen(ev->text) == AIOTP_ORACLE_KEEP - 1 &&
                        memcmp(ev->text, line, AIOTP_ORACLE_KEEP - 4) == 0 &&
                        strcmp(ev->text + AIOTP_ORACLE_KEEP - 4, "...") == 0,
                    "TRACE-REPORT", "%s: long recent line %zu not cut with '...'", r->name,
                    ev->lineno);
        }
    }
}

static void run_begin(run *r, const char *name, const options *op, size_t nlines, bool deep)
{
    int rc;
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->fin = NOT_CALLED;
    r->deep = deep;
    r->rc = malloc((nlines + 1) * sizeof(int));
    REQUIRE(r->rc != NULL, "TRACE-HARNESS", "malloc");
    rc = aiotp_oracle_new(&op->cfg, &counting, &r->o);
    REQUIRE(rc == 0 && r->o != NULL, "TRACE-NEW", "%s: aiotp_oracle_new: %d", name, rc);
    REQUIRE(aiotp_oracle_set_profile(r->o, op->profile) == 0 &&
                aiotp_oracle_set_report(r->o, on_report, r) == 0,
            "TRACE-NEW", "%s: set_profile/set_report", name);
    REQUIRE(aiotp_oracle_is_valid(r->o), "TRACE-VALID", "%s: invalid right after new", name);
    REQUIRE(aiotp_oracle_first(r->o) == NULL && aiotp_oracle_lines(r->o) == 0 &&
                aiotp_oracle_violations(r->o) == 0,
            "TRACE-NEW", "%s: a new oracle is not empty", name);
}

static void run_end(run *r)
{
    aiotp_oracle_free(r->o);
    free(r->rc);
    r->o = NULL;
    r->rc = NULL;
}

/* Feed line i (counted, or NUL-terminated) and check everything that must hold. */
static int run_feed(run *r, const trace *tr, size_t i, bool nul_terminated)
{
    const char *p = tr->text + tr->off[i];
    size_t len = content_len(p, tr->len[i]);
    size_t v;
    int rc;

    rc = nul_terminated ? aiotp_oracle_feed_line(r->o, tr->z + tr->off[i], i + 1)
                        : aiotp_oracle_feed(r->o, p, tr->len[i], i + 1);
    v = aiotp_oracle_violations(r->o);
    REQUIRE(known_result(rc), "TRACE-RESULT", "%s: line %zu: result %d", r->name, i + 1, rc);
    REQUIRE(aiotp_oracle_lines(r->o) == i + 1, "TRACE-LINES", "%s: %zu lines counted after %zu",
            r->name, aiotp_oracle_lines(r->o), i + 1);
    if (r->deep) {
        REQUIRE(aiotp_oracle_is_valid(r->o), "TRACE-VALID", "%s: invalid after line %zu",
                r->name, i + 1);
    }
    if (r->stop != 0) {
        REQUIRE(rc == r->stop, "TRACE-STOP", "%s: line %zu returned %d after the oracle stopped "
                "with %d", r->name, i + 1, rc, r->stop);
        REQUIRE(v == r->viol, "TRACE-STOP", "%s: a violation counted after the stop", r->name);
    } else {
        if (len > AIOTP_ORACLE_MAX_LINE || !printable_line(p, len)) {
            REQUIRE(rc == AIOTP_ORACLE_EPARSE, "TRACE-PARSE",
                    "%s: line %zu (%zu bytes, %s) returned %d, not a parse error", r->name, i + 1,
                    len, len > AIOTP_ORACLE_MAX_LINE ? "too long" : "non-printable", rc);
        } else if (len == 0 || p[0] == '#') {
            REQUIRE(rc == AIOTP_ORACLE_OK, "TRACE-PARSE",
                    "%s: line %zu is blank or a comment but returned %d", r->name, i + 1, rc);
        }
        REQUIRE(rc != AIOTP_ORACLE_OK || v == r->viol, "TRACE-COUNT",
                "%s: line %zu returned OK but counted a violation", r->name, i + 1);
        REQUIRE(rc != AIOTP_ORACLE_VIOLATION || v > r->viol, "TRACE-COUNT",
                "%s: line %zu returned VIOLATION but counted none", r->name, i + 1);
        REQUIRE(v >= r->viol, "TRACE-COUNT", "%s: violations went down", r->name);
        if (rc < 0) {
            r->stop = rc;
        }
    }
    r->viol = v;
    r->rc[i] = rc;
    r->fed = i + 1;
    if (rc != AIOTP_ORACLE_OK && r->first_rc == AIOTP_ORACLE_OK) {
        r->first_rc = rc;
        r->first_line = i + 1;
    }
    check_report(r, tr);
    return rc;
}

static int run_finish(run *r, const trace *tr)
{
    int rc = aiotp_oracle_finish(r->o);
    size_t v = aiotp_oracle_violations(r->o);
    REQUIRE(known_result(rc), "TRACE-RESULT", "%s: finish: result %d", r->name, rc);
    REQUIRE(aiotp_oracle_is_valid(r->o), "TRACE-VALID", "%s: invalid after finish", r->name);
    REQUIRE(aiotp_oracle_lines(r->o) == r->fed, "TRACE-LINES", "%s: finish changed the line count",
            r->name);
    if (r->stop != 0) {
        REQUIRE(rc == r->stop, "TRACE-STOP", "%s: finish returned %d after the stop %d", r->name,
                rc, r->stop);
        REQUIRE(v == r->viol, "TRACE-STOP", "%s: finish counted a violation after the stop",
                r->name);
    } else {
        REQUIRE(rc != AIOTP_ORACLE_OK || v == r->viol, "TRACE-COUNT",
                "%s: finish returned OK but counted a violation", r->name);
        REQUIRE(rc != AIOTP_ORACLE_VIOLATION || v > r->viol, "TRACE-COUNT",
                "%s: finish returned VIOLATION but counted none", r->name);
        REQUIRE(rc != AIOTP_ORACLE_ELIMIT, "TRACE-RESULT", "%s: finish returned ELIMIT", r->name);
    }
    r->viol = v;
    r->fin = rc;
    if (rc != AIOTP_ORACLE_OK && r->first_rc == AIOTP_ORACLE_OK) {
        r->first_rc = rc;
        r->first_line = r->fed; /* finish() reports at the last line fed (0: none) */
        r->first_at_finish = true;
    }
    check_report(r, tr);
    return rc;
}

/* Two reports describe the same problem. */
static bool report_eq(const aiotp_oracle_report *x, const aiotp_oracle_report *y)
{
    size_t i;
    if (x->result != y->result || x->lineno != y->lineno || x->tid != y->tid ||
        (x->rule == NULL) != (y->rule == NULL) || (x->rule != NULL && strcmp(x->rule, y->rule) != 0) ||
        strcmp(x->detail, y->detail) != 0 || x->nrecent != y->nrecent) {
        return false;
    }
    for (i = 0; i < x->nrecent && i < AIOTP_ORACLE_RECENT; i++) {
        if (x->recent[i].lineno != y->recent[i].lineno ||
            strcmp(x->recent[i].text, y->recent[i].text) != 0) {
            return false;
        }
    }
    return true;
}

/* After the last call: the callback saw every report, the first being first(), and the
   per-rule counts add up. */
static void check_callbacks(const run *r)
{
    const aiotp_oracle_report *first = aiotp_oracle_first(r->o);
    size_t i;
    size_t sum = 0;
    REQUIRE(r->cb_viol == aiotp_oracle_violations(r->o) &&
                r->calls == r->cb_viol + (aiotp_oracle_error(r->o) != NULL),
            "TRACE-CALLBACK", "%s: %zu callback calls (%zu violations) for %zu violations%s",
            r->name, r->calls, r->cb_viol, aiotp_oracle_violations(r->o),
            aiotp_oracle_error(r->o) != NULL ? " and an error" : "");
    REQUIRE((first == NULL) == !r->cb_first_set &&
                (first == NULL || report_eq(first, &r->cb_first)),
            "TRACE-CALLBACK", "%s: the first callback report is not first()", r->name);
    for (i = 0; aiotp_oracle_rule_at(i) != NULL; i++) {
        sum += aiotp_oracle_rule_violations(r->o, i);
    }
    REQUIRE(sum == aiotp_oracle_violations(r->o), "TRACE-COUNT",
            "%s: per-rule counts add up to %zu, %zu violations", r->name, sum,
            aiotp_oracle_violations(r->o));
}

static void same_report(const run *a, const run *b)
{
    const aiotp_oracle_report *x = aiotp_oracle_first(a->o);
    const aiotp_oracle_report *y = aiotp_oracle_first(b->o);
    size_t i;
    REQUIRE((x == NULL) == (y == NULL), "TRACE-SAME", "%s has a report, %s not",
            x != NULL ? a->name : b->name, x != NULL ? b->name : a->name);
    if (x == NULL) {
        return;
    }
    REQUIRE(x->result == y->result && x->lineno == y->lineno && x->tid == y->tid &&
                (x->rule == NULL) == (y->rule == NULL) &&
                (x->rule == NULL || strcmp(x->rule, y->rule) == 0) &&
                strcmp(x->detail, y->detail) == 0 && x->nrecent == y->nrecent,
            "TRACE-SAME", "first reports differ: %s: %d %s line %zu t%lu '%s'; %s: %d %s line "
            "%zu t%lu '%s'", a->name, x->result, x->rule != NULL ? x->rule : "-", x->lineno,
            x->tid, x->detail, b->name, y->result, y->rule != NULL ? y->rule : "-", y->lineno,
            y->tid, y->detail);
    for (i = 0; i < x->nrecent && i < AIOTP_ORACLE_RECENT; i++) {
        REQUIRE(x->recent[i].lineno == y->recent[i].lineno &&
                    strcmp(x->recent[i].text, y->recent[i].text) == 0,
                "TRACE-SAME", "recent event %zu differs between %s and %s", i, a->name, b->name);
    }
}

/* ---- C, A, J: the command line, its main() compiled in as aiotp_trace_check_main ------ */

typedef struct cli_out {
    int exit;
    char *text; /* all it printed, NUL-terminated (malloc'd) */
    size_t len;
    char path[64];
} cli_out;

/* Run aiotp-trace-check with the options and the extra flags (NULL-terminated) on a
   temporary file holding the trace; catch its stdout. */
/* A temporary file in memory: a POSIX shared memory object (tmpfs), unlinked at once.
   tmpfile() made one on the disk's file system per call, and creating, writing and
   evicting those inodes was a third of an input's time. tmpfile() if there is no shared
   memory. */
static FILE *mem_file(void)
{
    static unsigned long seq;
    char name[64];
    FILE *f;
    int fd;
    snprintf(name, sizeof(name), "/aiotp-fuzz-trace-%ld-%lu", (long)getpid(), ++seq);
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        return tmpfile();
    }
    (void)shm_unlink(name);
    f = fdopen(fd, "w+");
    if (f == NULL) {
        close(fd);
    }
    return f;
}

/* The trace file and the output file of the command line's runs (C, A, J) of one input:
   made by its first run, the trace written once (every run reads the same trace), the
   output emptied before each run; closed at the end of the input (cli_files_close). */
static FILE *g_cli_in;
static FILE *g_cli_out;
static const trace *g_cli_tr;

static void cli_files_close(void)
{
    if (g_cli_in != NULL) {
        fclose(g_cli_in);
    }
    if (g_cli_out != NULL) {
        fclose(g_cli_out);
    }
    g_cli_in = NULL;
    g_cli_out = NULL;
    g_cli_tr = NULL;
}

static void run_cli(const trace *tr, const options *op, const char *const *extra, cli_out *res)
{
    FILE *in;
    FILE *out;
    char maxarg[32];
    char *argv[16];
    char args[10][40];
    int argc = 0;
    int saved;
    long n;

    if (g_cli_in == NULL) {
        g_cli_in = mem_file();
        g_cli_out = mem_file();
        g_cli_tr = tr;
        REQUIRE(g_cli_in != NULL && g_cli_out != NULL, "TRACE-HARNESS", "tmpfile failed");
        REQUIRE(tr->size == 0 || fwrite(tr->text, 1, tr->size, g_cli_in) == tr->size,
                "TRACE-HARNESS", "writing the trace file");
        REQUIRE(fflush(g_cli_in) == 0, "TRACE-HARNESS", "fflush");
    } else {
        REQUIRE(g_cli_tr == tr, "TRACE-HARNESS", "one trace per input");
        REQUIRE(ftruncate(fileno(g_cli_out), 0) == 0 && lseek(fileno(g_cli_out), 0, SEEK_SET) == 0,
                "TRACE-HARNESS", "emptying the output file");
    }
    in = g_cli_in;
    out = g_cli_out;
    snprintf(res->path, sizeof(res->path), "/proc/self/fd/%d", fileno(in));
#define ARG(str) (snprintf(args[argc], sizeof(args[0]), "%s", str), argv[argc] = args[argc], argc++)
    ARG("aiotp-trace-check");
    if (op->cfg.flags & AIOTP_ORACLE_REQUIRE_LOST) {
        ARG("--require-lost");
    }
    if (op->cfg.max_transports != 0) {
        snprintf(maxarg, sizeof(maxarg), "%zu", op->cfg.max_transports);
        ARG("--max-transports");
        ARG(maxarg);
    }
    if (op->profile != AIOTP_ORACLE_PROFILE_AUTO) {
        ARG("--profile");
        ARG(aiotp_oracle_profile_name(op->profile));
    }
    for (; extra != NULL && *extra != NULL; extra++) {
        ARG(*extra);
    }
#undef ARG
    argv[argc++] = res->path;
    argv[argc] = NULL;

    /* its report goes to stdout: catch it in `out` */
    fflush(stdout);
    saved = dup(1); /* -1 if stdout is closed: then it is closed again afterwards */
    REQUIRE(dup2(fileno(out), 1) == 1, "TRACE-HARNESS", "dup2");
    res->exit = aiotp_trace_check_main(argc, argv);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, 1);
        close(saved);
    } else {
        close(1);
    }
    /* the output file is read through its fd: the command line wrote through a dup of
       it, and stdio's idea of the offset of a FILE used before would be stale */
    n = (long)lseek(fileno(out), 0, SEEK_CUR);
    REQUIRE(n >= 0, "TRACE-HARNESS", "lseek");
    res->len = (size_t)n;
    res->text = malloc(res->len + 1);
    REQUIRE(res->text != NULL && pread(fileno(out), res->text, res->len, 0) == (ssize_t)res->len,
            "TRACE-HARNESS", "reading the output");
    res->text[res->len] = '\0';
}

/* The output's first line starts with the file name and then `want`. */
static void check_first_line(const cli_out *c, const char *what, const char *want)
{
    const char *nl = strchr(c->text, '\n');
    size_t plen = strlen(c->path);
    REQUIRE(nl != NULL && strncmp(c->text, c->path, plen) == 0 &&
                strncmp(c->text + plen, want, strlen(want)) == 0,
            "TRACE-CLI", "aiotp-trace-check %s printed '%.*s', expected '<file>%s'", what,
            nl != NULL ? (int)(nl - c->text) : (int)c->len, c->text, want);
}

/* What aiotp-trace-check must print first after the file name, for a run that ended as
   `r` did (S for the default mode, R for --all). */
static void expected_cli(const run *r, bool all, int *want_exit, char *line, size_t cap)
{
    const aiotp_oracle_report *rep = aiotp_oracle_first(r->o);
    if (rep == NULL) {
        *want_exit = 0;
        snprintf(line, cap, ": OK: %zu lines conform (profile %s)\n", r->fed,
                 aiotp_oracle_profile_name(aiotp_oracle_profile(r->o)));
        return;
    }
    *want_exit = aiotp_oracle_error(r->o) != NULL ? 2 : 1;
    if (!all && r->first_rc != AIOTP_ORACLE_VIOLATION) {
        *want_exit = 2;
    }
    if (rep->result == AIOTP_ORACLE_VIOLATION) {
        snprintf(line, cap, ":%zu: %s: ", rep->lineno, rep->rule);
    } else {
        snprintf(line, cap, ":%zu: %s: ", rep->lineno,
                 rep->result == AIOTP_ORACLE_ELIMIT ? "limit" : "parse error");
    }
}

/* ---- a strict JSON parser (RFC 8259), enough to check the --json output --------------- */

typedef struct jp {
    const char *p;
    const char *end;
    int depth;
} jp;

static void jws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')) {
        j->p++;
    }
}

static bool jvalue(jp *j);

static bool jstring(jp *j)
{
    if (j->p >= j->end || *j->p != '"') {
        return false;
    }
    for (j->p++; j->p < j->end && *j->p != '"'; j->p++) {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20 || c > 0x7e) {
            return false; /* the checker escapes everything else */
        }
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end) {
                return false;
            }
            if (*j->p == 'u') {
                int k;
                for (k = 0; k < 4; k++) {
                    j->p++;
                    if (j->p >= j->end || strchr("0123456789abcdefABCDEF", *j->p) == NULL ||
                        *j->p == '\0') {
                        return false;
                    }
                }
            } else if (strchr("\"\\/bfnrt", *j->p) == NULL || *j->p == '\0') {
                return false;
            }
        }
    }
    if (j->p >= j->end) {
        return false;
    }
    j->p++;
    return true;
}

static bool jnumber(jp *j)
{
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }
    if (j->p >= j->end || *j->p < '0' || *j->p > '9' || (*j->p == '0' && j->p + 1 < j->end &&
                                                         j->p[1] >= '0' && j->p[1] <= '9')) {
        return false;
    }
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        j->p++;
    }
    return j->p > s;
}

static bool jword(jp *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) {
        return false;
    }
    j->p += n;
    return true;
}

static bool jcomposite(jp *j, char open, char close, bool object)
{
    if (j->p >= j->end || *j->p != open || ++j->depth > 16) {
        return false;
    }
    j->p++;
    jws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        jws(j);
        if (object) {
            if (!jstring(j)) {
                return false;
            }
            jws(j);
            if (j->p >= j->end || *j->p != ':') {
                return false;
            }
            j->p++;
        }
        if (!jvalue(j)) {
            return false;
        }
        jws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return true;
        }
        return false;
    }
}

static bool jvalue(jp *j)
{
    jws(j);
    if (j->p >= j->end) {
        return false;
    }
    switch (*j->p) {
    case '{':
        return jcomposite(j, '{', '}', true);
    case '[':
        return jcomposite(j, '[', ']', false);
    case '"':
        return jstring(j);
    case 't':
        return jword(j, "true");
    case 'f':
        return jword(j, "false");
    case 'n':
        return jword(j, "null");
    default:
        return jnumber(j);
    }
}

/* The number after the first "KEY": (the keys the checker writes are unique enough for
   this: "exit", "total", "line" of the first violation). */
static long json_num(const char *text, const char *key)
{
    char pat[32];
    const char *at;
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    at = strstr(text, pat);
    return at != NULL ? strtol(at + strlen(pat), NULL, 10) : -1;
}

/* The JSON run: valid, and agreeing with the text runs. */
static void check_json(const trace *tr, const options *op, bool all, const run *r, int want_exit)
{
    static const char *const with_all[] = {"--json", "--all", NULL};
    static const char *const plain[] = {"--json", NULL};
    cli_out j;
    jp p;
    size_t want_total = aiotp_oracle_violations(r->o);
    const aiotp_oracle_report *first = aiotp_oracle_first(r->o);
    const char *v;
    run_cli(tr, op, all ? with_all : plain, &j);
    p.p = j.text;
    p.end = j.text + j.len;
    p.depth = 0;
    REQUIRE(jvalue(&p) && (jws(&p), p.p == p.end) && j.text[0] == '{', "TRACE-JSON",
            "--json%s printed invalid JSON near byte %ld: %.200s", all ? " --all" : "",
            (long)(p.p - j.text), j.text);
    REQUIRE(j.exit == want_exit && json_num(j.text, "exit") == want_exit, "TRACE-JSON",
            "--json: exit %d, \"exit\":%ld, %d expected", j.exit, json_num(j.text, "exit"),
            want_exit);
    REQUIRE(json_num(j.text, "total") == (long)want_total, "TRACE-JSON",
            "--json: \"total\":%ld, %zu violations", json_num(j.text, "total"), want_total);
    v = strstr(j.text, "\"violations\":[");
    REQUIRE(v != NULL, "TRACE-JSON", "--json: no violations list");
    if (first != NULL && first->result == AIOTP_ORACLE_VIOLATION) {
        char want[96];
        snprintf(want, sizeof(want), "\"violations\":[{\"line\":%zu,\"rule\":\"%s\"",
                 first->lineno, first->rule);
        REQUIRE(strncmp(v, want, strlen(want)) == 0, "TRACE-JSON",
                "--json: the first violation is not %s", want);
    } else {
        REQUIRE(strncmp(v, "\"violations\":[]", 15) == 0, "TRACE-JSON",
                "--json: violations listed, none expected");
    }
    free(j.text);
}

/* ---- one input ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const all_flag[] = {"--all", NULL};
    unsigned opt = size > 0 ? data[0] : 0u;
    unsigned runs;
    options op;
    options dop;
    options pop;
    trace tr;
    run R;
    run D;
    run P;
    run S;
    size_t i;
    size_t elimit_at;
    bool feed_line;
    int want_exit = 0;
    int all_exit;
    char want_line[96];
    cli_out c;

    g_blocks = 0;
    g_bytes = 0;
    arena_reset();
    /* read per input: a branch only a process's first input takes is an unstable edge */
    runs = getenv("FZ_TRACE_ALL_RUNS") != NULL ? RUN_ALL
                                               : run_choice[(size > 1 ? data[1] : 0u) % 5u];
    if ((runs & RUN_J) && !(opt & OPT_JSON_ALL)) {
        runs |= RUN_S; /* J without --all is compared with S */
    }
    trace_split(&tr, size > 2 ? (const char *)data + 2 : "", size > 2 ? size - 2 : 0);
    memset(&op, 0, sizeof(op));
    op.cfg.flags = (opt & OPT_REQUIRE_LOST) ? AIOTP_ORACLE_REQUIRE_LOST : 0u;
    op.cfg.max_transports = max_choice[(opt >> 1) & 3u];
    op.profile = (int)((opt >> 4) & 3u);
    dop = op;
    dop.cfg.flags = op.cfg.flags ^ AIOTP_ORACLE_REQUIRE_LOST;
    dop.cfg.max_transports = 0;
    pop = op;
    pop.profile = op.profile == AIOTP_ORACLE_PROFILE_DOC ? AIOTP_ORACLE_PROFILE_AIOTP
                                                         : AIOTP_ORACLE_PROFILE_DOC;
    feed_line = (opt & OPT_FEED_LINE) != 0 && !tr.has_nul;

    /* R: every line, then finish */
    run_begin(&R, "R", &op, tr.n, true);
    elimit_at = tr.n;
    for (i = 0; i < tr.n; i++) {
        if (run_feed(&R, &tr, i, false) == AIOTP_ORACLE_ELIMIT && elimit_at == tr.n) {
            elimit_at = i;
        }
    }
    (void)run_finish(&R, &tr);
    check_callbacks(&R);

    /* D: default max_transports, REQUIRE_LOST flipped */
    if (runs & RUN_D) {
        run_begin(&D, "D", &dop, tr.n, false);
        for (i = 0; i < tr.n; i++) {
            int rc = run_feed(&D, &tr, i, false);
            if (i < elimit_at) {
                REQUIRE(rc == R.rc[i], "TRACE-OPTIONS",
                        "line %zu: %d with max_transports %zu flags %u, %d with the default and "
                        "flags %u", i + 1, R.rc[i], op.cfg.max_transports, op.cfg.flags, rc,
                        dop.cfg.flags);
            } else if (i == elimit_at) {
                /* the line R could not track (it was not judged there) may break a rule */
                REQUIRE(rc == AIOTP_ORACLE_OK || rc == AIOTP_ORACLE_VIOLATION ||
                            rc == AIOTP_ORACLE_ELIMIT,
                        "TRACE-OPTIONS", "line %zu: ELIMIT with max_transports %zu, %d with the "
                        "default", i + 1, op.cfg.max_transports, rc);
            }
        }
        (void)run_finish(&D, &tr);
        check_callbacks(&D);
        if (elimit_at == tr.n) {
            const run *without = (op.cfg.flags & AIOTP_ORACLE_REQUIRE_LOST) ? &D : &R;
            const run *with = (op.cfg.flags & AIOTP_ORACLE_REQUIRE_LOST) ? &R : &D;
            if (R.stop == 0) {
                REQUIRE(with->viol >= without->viol, "TRACE-OPTIONS",
                        "fewer violations with REQUIRE_LOST (%zu) than without (%zu)", with->viol,
                        without->viol);
                REQUIRE(without->fin != AIOTP_ORACLE_VIOLATION ||
                            with->fin == AIOTP_ORACLE_VIOLATION,
                        "TRACE-OPTIONS", "finish: VIOLATION without REQUIRE_LOST, %d with it",
                        with->fin);
                REQUIRE(without->fin == with->fin || (without->fin == AIOTP_ORACLE_OK &&
                                                      with->fin == AIOTP_ORACLE_VIOLATION),
                        "TRACE-OPTIONS", "finish: %d without REQUIRE_LOST, %d with it",
                        without->fin, with->fin);
            } else {
                REQUIRE(R.fin == D.fin, "TRACE-OPTIONS", "finish after the stop: %d and %d",
                        R.fin, D.fin);
            }
            if (R.first_rc != AIOTP_ORACLE_OK && !R.first_at_finish) {
                same_report(&R, &D); /* the first problem was on a line: options do not matter */
            }
        }
        run_end(&D);
    }

    /* P: another profile; the same parse errors and limits */
    if (runs & RUN_P) {
        run_begin(&P, "P", &pop, tr.n, false);
        for (i = 0; i < tr.n; i++) {
            (void)run_feed(&P, &tr, i, false);
        }
        (void)run_finish(&P, &tr);
        check_callbacks(&P);
        REQUIRE(P.stop == R.stop && (R.stop == 0 || aiotp_oracle_error(P.o)->lineno ==
                                                        aiotp_oracle_error(R.o)->lineno),
                "TRACE-PROFILE", "the profile changed the stop: %d vs %d", P.stop, R.stop);
        run_end(&P);
    }

    /* S: the command line's loop */
    if (runs & RUN_S) {
        run_begin(&S, "S", &op, tr.n, false);
        for (i = 0; i < tr.n; i++) {
            int rc = run_feed(&S, &tr, i, feed_line);
            REQUIRE(rc == R.rc[i], "TRACE-SAME", "line %zu: %d in S (%s), %d in R", i + 1, rc,
                    feed_line ? "feed_line" : "feed", R.rc[i]);
            if (rc != AIOTP_ORACLE_OK) {
                break;
            }
        }
        if (S.first_rc == AIOTP_ORACLE_OK) {
            int rc = run_finish(&S, &tr);
            REQUIRE(rc == R.fin, "TRACE-SAME", "finish: %d in S, %d in R", rc, R.fin);
        }
        REQUIRE(S.first_rc == R.first_rc && S.first_line == R.first_line, "TRACE-SAME",
                "first problem: %d at line %zu in S, %d at line %zu in R", S.first_rc, S.first_line,
                R.first_rc, R.first_line);
        same_report(&R, &S);
        expected_cli(&S, false, &want_exit, want_line, sizeof(want_line));
    }

    /* C: aiotp-trace-check on a file with the same options */
    if (runs & RUN_C) {
        run_cli(&tr, &op, NULL, &c);
        REQUIRE(c.exit == want_exit, "TRACE-CLI", "aiotp-trace-check exit %d, %d expected",
                c.exit, want_exit);
        check_first_line(&c, "", want_line);
        free(c.text);
    }

    /* A: --all, the same first report, then every violation and a summary of R's count */
    expected_cli(&R, true, &all_exit, want_line, sizeof(want_line));
    if (runs & RUN_A) {
        if (all_exit == 0) {
            snprintf(want_line, sizeof(want_line), ": OK: %zu lines conform (profile %s)\n", R.fed,
                     aiotp_oracle_profile_name(aiotp_oracle_profile(R.o)));
        }
        run_cli(&tr, &op, all_flag, &c);
        REQUIRE(c.exit == all_exit, "TRACE-CLI", "aiotp-trace-check --all exit %d, %d expected",
                c.exit, all_exit);
        check_first_line(&c, "--all", want_line);
        if (R.viol > 0) {
            char summary[64];
            snprintf(summary, sizeof(summary), "\nsummary: %zu violations of ", R.viol);
            REQUIRE(strstr(c.text, summary) != NULL, "TRACE-CLI",
                    "aiotp-trace-check --all: no '%s' in its output", summary + 1);
        }
        free(c.text);
    }

    /* J: --json (with --all or not): valid JSON that agrees */
    if (runs & RUN_J) {
        if (opt & OPT_JSON_ALL) {
            check_json(&tr, &op, true, &R, all_exit);
        } else {
            check_json(&tr, &op, false, &S, want_exit);
        }
    }

    run_end(&R);
    if (runs & RUN_S) {
        run_end(&S);
    }
    cli_files_close();
    trace_free(&tr);
    REQUIRE(g_blocks == 0 && g_bytes == 0, "TRACE-LEAK",
            "the oracle left %ld blocks / %zu bytes allocated", g_blocks, g_bytes);
    return 0;
}
