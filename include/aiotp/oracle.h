/*
 * aiotp/oracle.h - the conformance oracle: checks a trace (spec/trace-format.md, the
 * lines aiotp_loop_set_trace() delivers) against the documented rules, one line at a
 * time.
 *
 * Pure module: no system calls, no recursion; memory comes only from the allocator the
 * caller gives to aiotp_oracle_new(). The state of a transport is kept while it is live
 * and reclaimed once it has got connection_lost, so memory is bounded by the transports
 * live at once (at most max_transports; more is a limit error), never by the number a
 * trace opens over its life; every line costs the same work whatever that number. The
 * rules checked and the format rules (TRACE-n) are listed in spec/oracle.md; behaviour
 * rules are those of spec/rules.md, each tagged with its origin (a profile).
 *
 *   aiotp_oracle *o;
 *   aiotp_oracle_new(NULL, &alloc, &o);
 *   for each line: rc = aiotp_oracle_feed_line(o, line, lineno);  (line without "\n")
 *   rc = aiotp_oracle_finish(o);
 *   r = aiotp_oracle_first(o);       the first problem found, NULL if none
 *   aiotp_oracle_free(o);
 *
 * A violation does not stop the oracle: the transport concerned is resynchronised to
 * what the line says and later lines are still checked (every violation goes to the
 * configuration's on_report callback; the first is kept; each rule's count is kept). A
 * parse error, a limit error or an allocation failure does: every later call returns
 * the same code without looking at its line.
 */
#ifndef AIOTP_ORACLE_H
#define AIOTP_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Results of aiotp_oracle_feed_line() / aiotp_oracle_finish(). */
enum aiotp_oracle_result {
    AIOTP_ORACLE_OK = 0,        /* the line conforms (so far) */
    AIOTP_ORACLE_VIOLATION = 1, /* the line breaks a rule: see aiotp_oracle_first() */
    AIOTP_ORACLE_EPARSE = -1,   /* malformed line (or missing header, wrong version) */
    AIOTP_ORACLE_ELIMIT = -2,   /* more live transports or deeper nesting than tracked */
    AIOTP_ORACLE_EINVAL = -3,   /* bad argument (NULL oracle or line, bad configuration) */
    AIOTP_ORACLE_ENOMEM = -4    /* the allocator failed (new(), or a new live transport) */
};

/* Rule profiles: where a rule comes from (spec/oracle.md "Profiles"). A profile checks
   its own rules and those of the profiles below it: DOC < CPYTHON < AIOTP. */
enum aiotp_oracle_profile {
    AIOTP_ORACLE_PROFILE_AUTO = 0,    /* from each header: impl=aiotp -> AIOTP, else DOC */
    AIOTP_ORACLE_PROFILE_DOC = 1,     /* what the Python documentation promises */
    AIOTP_ORACLE_PROFILE_CPYTHON = 2, /* + CPython 3.11's choices where it is silent */
    AIOTP_ORACLE_PROFILE_AIOTP = 3    /* + aiotp's deliberate deviations (the strictest) */
};

#define AIOTP_ORACLE_MAX_LINE 4096u /* longest line accepted, in bytes, without "\n" */
#define AIOTP_ORACLE_RECENT 8u      /* recent lines kept per transport (and overall) */
#define AIOTP_ORACLE_KEEP 160u      /* bytes kept of each recent line (with the NUL) */
#define AIOTP_ORACLE_MAX_DEPTH 64u  /* deepest cb/call nesting tracked */
/* transports live at once (opened, connection_lost not yet returned) */
#define AIOTP_ORACLE_DEFAULT_TRANSPORTS 65536u
#define AIOTP_ORACLE_MAX_TRANSPORTS 16777216u

/* Configuration flags. */
#define AIOTP_ORACLE_REQUIRE_LOST 1u /* finish(): every opened transport got connection_lost */

typedef struct aiotp_oracle_report aiotp_oracle_report;

/* Called for every violation the oracle reports (rules of the profile in force only), in
   line order, and once more for the parse, limit or allocation error that stops it. The
   report is valid during the call only. */
typedef void (*aiotp_oracle_report_fn)(void *arg, const aiotp_oracle_report *r);

/* (The profile and the report callback are set with aiotp_oracle_set_profile() and
   aiotp_oracle_set_report(), so that existing initializers of this struct stay valid.) */
typedef struct aiotp_oracle_config {
    size_t max_transports; /* live transports at most; 0: AIOTP_ORACLE_DEFAULT_TRANSPORTS */
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

struct aiotp_oracle_report {
    int result;            /* AIOTP_ORACLE_VIOLATION, _EPARSE, _ELIMIT or _ENOMEM */
    const char *rule;      /* rule ID ("PROTO-STREAM-2", "TRACE-1"); NULL unless VIOLATION */
    const char *rule_text; /* what the rule says, one line; NULL unless VIOLATION */
    char detail[256];      /* what was seen (or the parse error) */
    size_t lineno;         /* line of the problem (finish(): the last line fed) */
    unsigned long tid;     /* transport concerned, 0 if none */
    size_t nrecent;        /* recent events that led there, oldest first */
    aiotp_oracle_event recent[AIOTP_ORACLE_RECENT];
    int profile;           /* the rule's profile (enum aiotp_oracle_profile); 0 if no rule */
};

/* One rule the oracle checks (the tables of src/oracle/, in the order of rule_at()). */
typedef struct aiotp_oracle_rule {
    const char *id;     /* "FLOW-4" */
    const char *text;   /* what it says, one line */
    int profile;        /* AIOTP_ORACLE_PROFILE_DOC, _CPYTHON or _AIOTP */
    const char *module; /* the rule module that checks it: "trace", "base", "stream", ... */
} aiotp_oracle_rule;

typedef struct aiotp_oracle aiotp_oracle;

/* Make an oracle (cfg NULL: defaults; profile AUTO, no report callback). Returns 0,
   AIOTP_ORACLE_EINVAL (NULL alloc/out, max_transports over AIOTP_ORACLE_MAX_TRANSPORTS)
   or AIOTP_ORACLE_ENOMEM. */
int aiotp_oracle_new(const aiotp_oracle_config *cfg, const aiotp_oracle_alloc *alloc,
                     aiotp_oracle **out);
/* The profile lines are checked with from now on (enum aiotp_oracle_profile; AUTO: from
   each header). Returns 0 or AIOTP_ORACLE_EINVAL (NULL o, unknown profile). */
int aiotp_oracle_set_profile(aiotp_oracle *o, int profile);
/* Call fn(arg, report) for every violation reported from now on, and for the error that
   stops the oracle (fn NULL: none). Returns 0 or AIOTP_ORACLE_EINVAL (NULL o). */
int aiotp_oracle_set_report(aiotp_oracle *o, aiotp_oracle_report_fn fn, void *arg);
/* Free it and everything it allocated (NULL: nothing). */
void aiotp_oracle_free(aiotp_oracle *o);

/* One trace line, NUL-terminated, without its newline (one trailing CR is ignored:
   CRLF line endings). lineno is used in reports. Returns an enum aiotp_oracle_result. */
int aiotp_oracle_feed_line(aiotp_oracle *o, const char *line, size_t lineno);
/* The same with an explicit length (a NUL byte inside is a parse error). */
int aiotp_oracle_feed(aiotp_oracle *o, const char *line, size_t len, size_t lineno);

/* End of the trace: unmatched cb/call lines (TRACE-1), missing header, exception
   reports still due, and with AIOTP_ORACLE_REQUIRE_LOST transports that never got
   connection_lost (PROTO-BASE-2). Returns an enum aiotp_oracle_result. */
int aiotp_oracle_finish(aiotp_oracle *o);

/* The first problem found (violation, or the error that stopped it), or NULL. */
const aiotp_oracle_report *aiotp_oracle_first(const aiotp_oracle *o);
/* The parse, limit or allocation error that stopped the oracle, or NULL. */
const aiotp_oracle_report *aiotp_oracle_error(const aiotp_oracle *o);
/* Number of violations reported so far (all rules). */
size_t aiotp_oracle_violations(const aiotp_oracle *o);
/* Lines fed so far (comments and blank lines included). */
size_t aiotp_oracle_lines(const aiotp_oracle *o);
/* Transports live now (their state is kept). */
size_t aiotp_oracle_live(const aiotp_oracle *o);
/* The profile in force (from the configuration, or from the last header with AUTO;
   DOC before any header). */
int aiotp_oracle_profile(const aiotp_oracle *o);
/* The trace format version of the last header (1, 2 or 3; 0 before one). */
unsigned aiotp_oracle_version(const aiotp_oracle *o);
/* The implementation named by the last header (impl=NAME, format 3), "" if none. */
const char *aiotp_oracle_impl(const aiotp_oracle *o);

/* The rules, i = 0, 1, ... until NULL. */
const aiotp_oracle_rule *aiotp_oracle_rule_at(size_t i);
/* Violations of rule i reported so far (0 for an i past the last rule or a NULL o). */
size_t aiotp_oracle_rule_violations(const aiotp_oracle *o, size_t i);
/* What a rule says (one line), NULL for an ID the oracle does not check. */
const char *aiotp_oracle_rule_text(const char *rule);

/* "doc", "cpython", "aiotp" ("auto" for AUTO), NULL for anything else. */
const char *aiotp_oracle_profile_name(int profile);
/* The profile named name (as profile_name() spells it), or -1. */
int aiotp_oracle_profile_parse(const char *name);

/* Deep check of the oracle's own state (for tests and fuzzing). */
bool aiotp_oracle_is_valid(const aiotp_oracle *o);

#ifdef __cplusplus
}
#endif

#endif /* AIOTP_ORACLE_H */
