/*
 * tools/aiotp_trace_check.c - aiotp-trace-check: check a trace file against the
 * documented rules with the oracle (include/aiotp/oracle.h, spec/oracle.md).
 *
 *   aiotp-trace-check [--require-lost] [--max-transports N] [--profile P] [--all]
 *                     [--json] [FILE | -]
 *
 * Exit 0: the trace conforms. Exit 1: a rule is broken: the first violation is printed as
 * "FILE:LINE: RULE-ID: what the rule says", then what was seen and the recent events that
 * led there (--all: every violation, then a summary per rule). Exit 2: the trace could
 * not be checked to its end (a parse error with its line, a limit, no memory), or a usage
 * or read error. --json prints one JSON object instead (spec/oracle.md).
 *
 * Lines are read in blocks and cut at '\n' into a bounded buffer: a longer line, a NUL
 * or any other non-printable byte is a parse error, never a crash; a CR before the '\n'
 * is dropped by the oracle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/oracle.h"

typedef struct opts {
    aiotp_oracle_config cfg;
    int profile; /* -1: the oracle's default (AUTO) */
    int all;
    int json;
    const char *path;
} opts;

typedef struct out_state {
    const opts *op;
    const char *name;
    size_t printed; /* reports printed */
} out_state;

static void *std_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void std_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aiotp-trace-check [--require-lost] [--max-transports N] [--profile P]\n"
            "                         [--all] [--json] [FILE | -]\n"
            "\n"
            "Check an aiotp trace (spec/trace-format.md) against the rules of\n"
            "spec/rules.md and spec/oracle.md. Reads FILE, or stdin when FILE is '-' or\n"
            "missing.\n"
            "\n"
            "  --require-lost       every opened transport must get connection_lost\n"
            "  --max-transports N   track at most N transports live at once (default %u)\n"
            "  --profile P          check the rules of profile P and those below it:\n"
            "                       doc < cpython < aiotp (default: aiotp for a header\n"
            "                       with impl=aiotp, doc otherwise)\n"
            "  --all                report every violation, then a summary per rule\n"
            "  --json               print one JSON object (spec/oracle.md)\n"
            "  --help               this text\n"
            "\n"
            "exit 0: conforms; 1: a rule is broken (printed as FILE:LINE: RULE-ID: what\n"
            "the rule says, then the events that led there); 2: the trace could not be\n"
            "checked to its end (parse error with its line, a limit, no memory), or a\n"
            "usage or read error.\n",
            AIOTP_ORACLE_DEFAULT_TRANSPORTS);
}

/* ---- text output ----------------------------------------------------------------------- */

static const char *error_kind(int result)
{
    switch (result) {
    case AIOTP_ORACLE_ELIMIT:
        return "limit";
    case AIOTP_ORACLE_ENOMEM:
        return "out of memory";
    default:
        return "parse error";
    }
}

static void print_report(const char *name, const aiotp_oracle_report *r)
{
    size_t i;
    if (r->result == AIOTP_ORACLE_VIOLATION) {
        printf("%s:%zu: %s: %s\n", name, r->lineno, r->rule, r->rule_text);
        printf("  found: %s\n", r->detail);
        printf("events that led there:\n");
    } else {
        printf("%s:%zu: %s: %s\n", name, r->lineno, error_kind(r->result), r->detail);
        if (r->nrecent > 0) {
            printf("lines before it:\n");
        }
    }
    for (i = 0; i < r->nrecent && i < AIOTP_ORACLE_RECENT; i++) {
        printf("  %6zu | %s\n", r->recent[i].lineno, r->recent[i].text);
    }
}

/* ---- JSON output ------------------------------------------------------------------------- */

/* A JSON string: bytes outside printable ASCII as \u00XX (so the output is valid UTF-8
   whatever the file name). */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
        } else if (c < 0x20 || c > 0x7e) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

static void json_events(const aiotp_oracle_report *r)
{
    size_t i;
    printf("\"events\":[");
    for (i = 0; i < r->nrecent && i < AIOTP_ORACLE_RECENT; i++) {
        printf("%s{\"line\":%zu,\"text\":", i > 0 ? "," : "", r->recent[i].lineno);
        json_str(r->recent[i].text);
        putchar('}');
    }
    putchar(']');
}

static void json_violation(const aiotp_oracle_report *r)
{
    printf("{\"line\":%zu,\"rule\":", r->lineno);
    json_str(r->rule);
    printf(",\"profile\":");
    json_str(aiotp_oracle_profile_name(r->profile));
    if (r->tid != 0) {
        printf(",\"transport\":%lu", r->tid);
    } else {
        printf(",\"transport\":null");
    }
    printf(",\"text\":");
    json_str(r->rule_text);
    printf(",\"found\":");
    json_str(r->detail);
    putchar(',');
    json_events(r);
    putchar('}');
}

static void json_error(const aiotp_oracle_report *r)
{
    printf("{\"kind\":");
    json_str(error_kind(r->result));
    printf(",\"line\":%zu,\"detail\":", r->lineno);
    json_str(r->detail);
    putchar(',');
    json_events(r);
    putchar('}');
}

/* Every report as it comes (--all). */
static void on_report(void *arg, const aiotp_oracle_report *r)
{
    out_state *st = arg;
    if (r->result != AIOTP_ORACLE_VIOLATION) {
        return; /* the error is printed at the end */
    }
    if (st->op->json) {
        if (st->printed > 0) {
            putchar(',');
        }
        json_violation(r);
    } else {
        print_report(st->name, r);
    }
    st->printed++;
}

static void print_summary(const aiotp_oracle *o, int json)
{
    size_t i;
    size_t rules = 0;
    const aiotp_oracle_rule *rule;
    for (i = 0; (rule = aiotp_oracle_rule_at(i)) != NULL; i++) {
        size_t n = aiotp_oracle_rule_violations(o, i);
        if (n == 0) {
            continue;
        }
        if (json) {
            printf("%s{\"rule\":", rules > 0 ? "," : "");
            json_str(rule->id);
            printf(",\"profile\":");
            json_str(aiotp_oracle_profile_name(rule->profile));
            printf(",\"count\":%zu,\"text\":", n);
            json_str(rule->text);
            putchar('}');
        } else {
            printf("  %-16s %8zu  %-7s %s\n", rule->id, n,
                   aiotp_oracle_profile_name(rule->profile), rule->text);
        }
        rules++;
    }
    if (!json) {
        printf("summary: %zu violations of %zu rules in %zu lines (profile %s)\n",
               aiotp_oracle_violations(o), rules, aiotp_oracle_lines(o),
               aiotp_oracle_profile_name(aiotp_oracle_profile(o)));
    }
}

/* ---- options ------------------------------------------------------------------------------ */

static int parse_count(const char *s, size_t *out)
{
    size_t v = 0;
    if (*s == '\0') {
        return -1;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (AIOTP_ORACLE_MAX_TRANSPORTS - (size_t)(*s - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* 0: go on; 1: --help printed; 2: usage error. */
static int parse_args(int argc, char **argv, opts *op)
{
    int i;
    memset(op, 0, sizeof(*op));
    op->profile = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--require-lost") == 0) {
            op->cfg.flags |= AIOTP_ORACLE_REQUIRE_LOST;
        } else if (strcmp(a, "--all") == 0) {
            op->all = 1;
        } else if (strcmp(a, "--json") == 0) {
            op->json = 1;
        } else if (strcmp(a, "--max-transports") == 0 || strcmp(a, "--profile") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "aiotp-trace-check: %s needs a value\n", a);
                usage(stderr);
                return 2;
            }
            if (a[2] == 'm') {
                if (parse_count(argv[++i], &op->cfg.max_transports) != 0 ||
                    op->cfg.max_transports == 0) {
                    fprintf(stderr, "aiotp-trace-check: bad --max-transports (1..%u)\n",
                            AIOTP_ORACLE_MAX_TRANSPORTS);
                    return 2;
                }
            } else {
                op->profile = aiotp_oracle_profile_parse(argv[++i]);
                if (op->profile <= AIOTP_ORACLE_PROFILE_AUTO) {
                    fprintf(stderr, "aiotp-trace-check: bad --profile %s (doc, cpython or "
                                    "aiotp)\n", argv[i]);
                    return 2;
                }
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "aiotp-trace-check: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (op->path == NULL) {
            op->path = a;
        } else {
            fprintf(stderr, "aiotp-trace-check: more than one file\n");
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

/* ---- reading ----------------------------------------------------------------------------- */

/* Feed every line of `in` (all: past violations); returns the last result, or 3 on a
   read error. */
static int feed_file(aiotp_oracle *o, FILE *in, int all, size_t *nlines)
{
    static char block[1 << 16];
    static char line[AIOTP_ORACLE_MAX_LINE + 2]; /* an overlong line keeps one byte more */
    size_t len = 0;
    bool partial = false; /* bytes of an unfinished line are in `line` */
    size_t lineno = 0;
    size_t n;
    int rc = 0;

    while ((n = fread(block, 1, sizeof(block), in)) > 0) {
        const char *p = block;
        const char *end = block + n;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t chunk = (size_t)((nl != NULL ? nl : end) - p);
            const char *text = line;
            size_t tlen;
            if (!partial && nl != NULL) {
                text = p; /* the whole line is in the block */
                tlen = chunk < sizeof(line) ? chunk : sizeof(line);
            } else {
                size_t room = sizeof(line) - len;
                size_t take = chunk < room ? chunk : room;
                memcpy(line + len, p, take);
                len += take;
                tlen = len;
                partial = true;
            }
            if (nl == NULL) {
                break; /* the line goes on in the next block */
            }
            rc = aiotp_oracle_feed(o, text, tlen, ++lineno);
            len = 0;
            partial = false;
            p = nl + 1;
            if (rc < 0 || (rc == AIOTP_ORACLE_VIOLATION && !all)) {
                *nlines = lineno;
                return rc;
            }
        }
    }
    if (ferror(in)) {
        *nlines = lineno;
        return 3;
    }
    if (partial) {
        rc = aiotp_oracle_feed(o, line, len, ++lineno); /* a last line without '\n' */
    }
    *nlines = lineno;
    return rc;
}

int main(int argc, char **argv)
{
    opts op;
    out_state st;
    aiotp_oracle_alloc alloc;
    aiotp_oracle *o = NULL;
    const aiotp_oracle_report *err;
    const char *name;
    FILE *in;
    size_t nlines = 0;
    int rc;
    int exit_code;

    rc = parse_args(argc, argv, &op);
    if (rc != 0) {
        return rc == 1 ? 0 : 2;
    }
    if (op.path == NULL || strcmp(op.path, "-") == 0) {
        in = stdin;
        name = "<stdin>";
    } else {
        in = fopen(op.path, "rb");
        name = op.path;
        if (in == NULL) {
            perror(op.path);
            return 2;
        }
    }
    alloc.alloc = std_alloc;
    alloc.free = std_free;
    alloc.ctx = NULL;
    if (aiotp_oracle_new(&op.cfg, &alloc, &o) != 0) {
        fprintf(stderr, "aiotp-trace-check: out of memory\n");
        if (in != stdin) {
            fclose(in);
        }
        return 2;
    }
    if (op.profile > 0) {
        (void)aiotp_oracle_set_profile(o, op.profile);
    }
    st.op = &op;
    st.name = name;
    st.printed = 0;
    if (op.all) {
        (void)aiotp_oracle_set_report(o, on_report, &st);
    }
    if (op.json) {
        printf("{\"file\":");
        json_str(name);
        printf(",\"violations\":[");
    }

    rc = feed_file(o, in, op.all, &nlines);
    if (in != stdin) {
        fclose(in);
    }
    if (rc == 3) {
        if (op.json) {
            printf("]}\n");
        }
        fprintf(stderr, "aiotp-trace-check: %s: read error\n", name);
        aiotp_oracle_free(o);
        return 2;
    }
    if (rc >= 0 && (rc == 0 || op.all)) {
        rc = aiotp_oracle_finish(o);
    }
    err = aiotp_oracle_error(o);
    if (err != NULL) {
        exit_code = 2;
    } else {
        exit_code = aiotp_oracle_violations(o) > 0 ? 1 : 0;
    }

    if (op.json) {
        const aiotp_oracle_report *first = aiotp_oracle_first(o);
        if (!op.all && first != NULL && first->result == AIOTP_ORACLE_VIOLATION) {
            json_violation(first);
        }
        printf("],\"error\":");
        if (err != NULL) {
            json_error(err);
        } else {
            printf("null");
        }
        printf(",\"summary\":[");
        print_summary(o, 1);
        printf("],\"version\":%u,\"impl\":", aiotp_oracle_version(o));
        json_str(aiotp_oracle_impl(o));
        printf(",\"profile\":");
        json_str(aiotp_oracle_profile_name(aiotp_oracle_profile(o)));
        printf(",\"lines\":%zu,\"total\":%zu,\"result\":", nlines, aiotp_oracle_violations(o));
        json_str(err != NULL ? error_kind(err->result)
                             : exit_code == 1 ? "violation" : "ok");
        printf(",\"exit\":%d}\n", exit_code);
    } else if (op.all) {
        if (err != NULL) {
            print_report(name, err);
        } else if (exit_code == 0) {
            printf("%s: OK: %zu lines conform (profile %s)\n", name, nlines,
                   aiotp_oracle_profile_name(aiotp_oracle_profile(o)));
        }
        if (aiotp_oracle_violations(o) > 0) {
            print_summary(o, 0);
        }
    } else if (exit_code == 0) {
        printf("%s: OK: %zu lines conform (profile %s)\n", name, nlines,
               aiotp_oracle_profile_name(aiotp_oracle_profile(o)));
    } else {
        print_report(name, aiotp_oracle_first(o));
    }
    aiotp_oracle_free(o);
    return exit_code;
}
