/*
 * tools/aiotp_trace_check.c - aiotp-trace-check: check a trace file against the
 * documented rules with the oracle (include/aiotp/oracle.h, spec/oracle.md).
 *
 *   aiotp-trace-check [--require-lost] [FILE | -]
 *
 * Exit 0: the trace conforms. Exit 1: the first violation is printed as
 * "FILE:LINE: RULE-ID: what the rule says", then what was seen and the recent events
 * that led there. Exit 2: malformed input (parse error with its line), a limit of the
 * oracle, or a usage/I-O error.
 *
 * Lines are read byte by byte into a bounded buffer: a longer line, a NUL or any other
 * non-printable byte is a parse error, never a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/oracle.h"

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
            "usage: aiotp-trace-check [--require-lost] [--max-transports N] [FILE | -]\n"
            "\n"
            "Check an aiotp trace (spec/trace-format.md) against the rules of\n"
            "spec/rules.md and spec/oracle.md. Reads FILE, or stdin when FILE is '-' or\n"
            "missing.\n"
            "\n"
            "  --require-lost       every opened transport must get connection_lost\n"
            "  --max-transports N   track at most N transports (default %u)\n"
            "  --help               this text\n"
            "\n"
            "exit 0: conforms; 1: a rule is broken (the first violation is printed as\n"
            "FILE:LINE: RULE-ID: what the rule says, then the events that led there);\n"
            "2: malformed input (parse error with its line), a limit, or a usage error.\n",
            AIOTP_ORACLE_DEFAULT_TRANSPORTS);
}

static void print_report(const char *name, const aiotp_oracle_report *r)
{
    size_t i;
    if (r->result == AIOTP_ORACLE_VIOLATION) {
        printf("%s:%zu: %s: %s\n", name, r->lineno, r->rule, r->rule_text);
        printf("  found: %s\n", r->detail);
        printf("events that led there:\n");
    } else {
        printf("%s:%zu: %s: %s\n", name, r->lineno,
               r->result == AIOTP_ORACLE_ELIMIT ? "limit" : "parse error", r->detail);
        if (r->nrecent > 0) {
            printf("lines before it:\n");
        }
    }
    for (i = 0; i < r->nrecent && i < AIOTP_ORACLE_RECENT; i++) {
        printf("  %6zu | %s\n", r->recent[i].lineno, r->recent[i].text);
    }
}

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

int main(int argc, char **argv)
{
    static char line[AIOTP_ORACLE_MAX_LINE + 2];
    aiotp_oracle_config cfg;
    aiotp_oracle_alloc alloc;
    aiotp_oracle *o = NULL;
    const char *path = NULL;
    const char *name;
    FILE *in;
    size_t lineno = 0;
    size_t len = 0;
    int rc = 0;
    int c;
    int i;
    int exit_code;

    memset(&cfg, 0, sizeof(cfg));
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--require-lost") == 0) {
            cfg.flags |= AIOTP_ORACLE_REQUIRE_LOST;
        } else if (strcmp(argv[i], "--max-transports") == 0 && i + 1 < argc) {
            if (parse_count(argv[++i], &cfg.max_transports) != 0 || cfg.max_transports == 0) {
                fprintf(stderr, "aiotp-trace-check: bad --max-transports (1..%u)\n",
                        AIOTP_ORACLE_MAX_TRANSPORTS);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "aiotp-trace-check: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (path == NULL) {
            path = argv[i];
        } else {
            fprintf(stderr, "aiotp-trace-check: more than one file\n");
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL || strcmp(path, "-") == 0) {
        in = stdin;
        name = "<stdin>";
    } else {
        in = fopen(path, "rb");
        name = path;
        if (in == NULL) {
            perror(path);
            return 2;
        }
    }
    alloc.alloc = std_alloc;
    alloc.free = std_free;
    alloc.ctx = NULL;
    if (aiotp_oracle_new(&cfg, &alloc, &o) != 0) {
        fprintf(stderr, "aiotp-trace-check: out of memory\n");
        if (in != stdin) {
            fclose(in);
        }
        return 2;
    }

    for (;;) {
        c = getc(in);
        if (c == EOF || c == '\n') {
            if (c == EOF && len == 0) {
                break;
            }
            lineno++;
            /* len may be MAX_LINE + 1: the oracle reports the overlong line */
            rc = aiotp_oracle_feed(o, line, len, lineno);
            len = 0;
            if (rc == AIOTP_ORACLE_VIOLATION || rc < 0 || c == EOF) {
                break;
            }
            continue;
        }
        if (len < sizeof(line) - 1) {
            line[len++] = (char)c;
        }
        /* beyond MAX_LINE + 1 bytes the rest of the line is dropped: already too long */
    }
    if (ferror(in)) {
        fprintf(stderr, "aiotp-trace-check: %s: read error\n", name);
        aiotp_oracle_free(o);
        if (in != stdin) {
            fclose(in);
        }
        return 2;
    }
    if (rc == 0) {
        rc = aiotp_oracle_finish(o);
    }
    if (rc == 0) {
        printf("%s: OK: %zu lines conform\n", name, lineno);
        exit_code = 0;
    } else {
        const aiotp_oracle_report *r = aiotp_oracle_first(o);
        if (r != NULL) {
            print_report(name, r);
        }
        exit_code = rc == AIOTP_ORACLE_VIOLATION ? 1 : 2;
    }
    aiotp_oracle_free(o);
    if (in != stdin) {
        fclose(in);
    }
    return exit_code;
}
