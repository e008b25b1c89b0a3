/*
 * aiotp/oracle.h - the conformance oracle: checks a trace (spec/trace-format.md, the
 * lines aiotp_loop_set_trace() delivers) against the documented rules, one line at a
 * time.
 *
 * Pure module: no system calls; memory comes only from the allocator the caller gives
 * to aiotp_oracle_new() (one block, sized by the configuration: at most max_transports
 * transports are tracked, more is a limit error). The rules checked and the format rules
 * (TRACE-n) are listed in spec/oracle.md; behaviour rules are those of spec/rules.md.
 *
 *   aiotp_oracle *o;
 *   aiotp_oracle_new(NULL, &alloc, &o);
 *   for each line: rc = aiotp_oracle_feed_line(o, line, lineno);  (line without "\n")
 *   rc = aiotp_oracle_finish(o);
 *   r = aiotp_oracle_first(o);       the first problem found, NULL if none
 *   aiotp_oracle_free(o);
 *
 * A violation does not stop the oracle (later lines are still checked; the first
 * report is kept). A parse error or a limit error does: every later call returns the
 * same code without looking at its line.
 */
#ifndef AIOTP_ORACLE_H
#define AIOTP_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aiotp/export.h"

AIOTP_BEGIN_DECLS

/* Results of aiotp_oracle_feed_line() / aiotp_oracle_finish(). */
enum aiotp_oracle_result {
    AIOTP_ORACLE_OK = 0,        /* the line conforms (so far) */
    AIOTP_ORACLE_VIOLATION = 1, /* the line breaks a rule: see aiotp_oracle_first() */
    AIOTP_ORACLE_EPARSE = -1,   /* malformed line (or missing header, wrong version) */
    AIOTP_ORACLE_ELIMIT = -2,   /* more transports or deeper nesting than tracked */
    AIOTP_ORACLE_EINVAL = -3,   /* bad argument (NULL oracle or line) */
    AIOTP_ORACLE_ENOMEM = -4    /* aiotp_oracle_new(): the allocator failed */
};

#define AIOTP_ORACLE_MAX_LINE 4096u /* longest line accepted, in bytes, without "\n" */
#define AIOTP_ORACLE_RECENT 8u      /* recent lines kept per transport (and overall) */
#define AIOTP_ORACLE_KEEP 160u      /* bytes kept of each recent line (with the NUL) */
#define AIOTP_ORACLE_MAX_DEPTH 64u  /* deepest cb/call nesting tracked */
#define AIOTP_ORACLE_DEFAULT_TRANSPORTS 256u
#define AIOTP_ORACLE_MAX_TRANSPORTS 65536u

/* Configuration flags. */
#define AIOTP_ORACLE_REQUIRE_LOST 1u /* finish(): every opened transport got connection_lost */

typedef struct aiotp_oracle_config {
    size_t max_transports; /* 0: AIOTP_ORACLE_DEFAULT_TRANSPORTS */
    unsigned flags;        /* AIOTP_ORACLE_REQUIRE_LOST */
} aiotp_oracle_config;

/* The caller's allocator; free gets the size that was allocated. */
typedef struct aiotp_oracle_alloc {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} aiotp_oracle_alloc;

typedef struct aiotp_oracle_event {
    size_t lineno;
    char text[AIOTP_ORACLE_KEEP]; /* the line, cut with "..." when longer */
} aiotp_oracle_event;

typedef struct aiotp_oracle_report {
    int result;            /* AIOTP_ORACLE_VIOLATION, _EPARSE or _ELIMIT */
    const char *rule;      /* rule ID ("PROTO-STREAM-2", "TRACE-1"); NULL unless VIOLATION */
    const char *rule_text; /* what the rule says, one line; NULL unless VIOLATION */
    char detail[256];      /* what was seen (or the parse error) */
    size_t lineno;         /* line of the problem (finish(): the last line fed) */
    unsigned long tid;     /* transport concerned, 0 if none */
    size_t nrecent;        /* recent events that led there, oldest first */
    aiotp_oracle_event recent[AIOTP_ORACLE_RECENT];
} aiotp_oracle_report;

typedef struct aiotp_oracle aiotp_oracle;

/* Make an oracle (cfg NULL: defaults). Returns 0, AIOTP_ORACLE_EINVAL (NULL alloc/out,
   max_transports over AIOTP_ORACLE_MAX_TRANSPORTS) or AIOTP_ORACLE_ENOMEM. */
int aiotp_oracle_new(const aiotp_oracle_config *cfg, const aiotp_oracle_alloc *alloc,
                     aiotp_oracle **out);
void aiotp_oracle_free(aiotp_oracle *o);

/* One trace line, NUL-terminated, without its newline. lineno is used in reports. */
int aiotp_oracle_feed_line(aiotp_oracle *o, const char *line, size_t lineno);
/* The same with an explicit length (a NUL byte inside is a parse error). */
int aiotp_oracle_feed(aiotp_oracle *o, const char *line, size_t len, size_t lineno);

/* End of the trace: unmatched cb/call lines (TRACE-1), missing header, and with
   AIOTP_ORACLE_REQUIRE_LOST transports that never got connection_lost (PROTO-BASE-2). */
int aiotp_oracle_finish(aiotp_oracle *o);

/* The first problem found, or NULL. */
const aiotp_oracle_report *aiotp_oracle_first(const aiotp_oracle *o);
/* Number of violations found so far. */
size_t aiotp_oracle_violations(const aiotp_oracle *o);
/* Lines fed so far (comments and blank lines included). */
size_t aiotp_oracle_lines(const aiotp_oracle *o);

/* What a rule says (one line), NULL for an ID the oracle does not check. */
const char *aiotp_oracle_rule_text(const char *rule);

/* Deep check of the oracle's own state (for tests and fuzzing). */
bool aiotp_oracle_is_valid(const aiotp_oracle *o);

AIOTP_END_DECLS

#endif /* AIOTP_ORACLE_H */
