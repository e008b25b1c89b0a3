/**
 * @file
 * @brief The conformance oracle (library aiotp_oracle): checks a trace against the
 * documented rules. It is a library of its own (`aiotp::oracle`, `-laiotp_oracle`,
 * pkg-config `aiotp-oracle`), not part of libaiotp; the command-line tool
 * `aiotp-trace-check` wraps it.
 *
 * It checks a trace (spec/trace-format.md, the lines aiotp_loop_set_trace() delivers)
 * against the documented rules, one line at a time.
 *
 * Pure module: no system calls, no recursion; memory comes only from the allocator the
 * caller gives to aiotp_oracle_new(). The state of a transport is kept while it is live
 * and reclaimed once it has got connection_lost, so memory is bounded by the transports
 * live at once (at most max_transports; more is a limit error), never by the number a
 * trace opens over its life; every line costs the same work whatever that number. The
 * rules checked and the format rules (TRACE-n) are listed in spec/oracle.md; behaviour
 * rules are those of spec/rules.md, each tagged with its origin (a profile).
 *
 * @code
 *   aiotp_oracle *o;
 *   aiotp_oracle_new(NULL, &alloc, &o);
 *   for each line: rc = aiotp_oracle_feed_line(o, line, lineno);  (line without "\n")
 *   rc = aiotp_oracle_finish(o);
 *   r = aiotp_oracle_first(o);       the first problem found, NULL if none
 *   aiotp_oracle_free(o);
 * @endcode
 *
 * A violation does not stop the oracle: the transport concerned is resynchronised to
 * what the line says and later lines are still checked (every violation goes to the
 * report callback, aiotp_oracle_set_report(); the first is kept; each rule's count is
 * kept). A parse error, a limit error or an allocation failure does: every later call
 * returns the same code without looking at its line.
 */
#ifndef AIOTP_ORACLE_H
#define AIOTP_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aiotp/export.h"

AIOTP_BEGIN_DECLS

/** Results of aiotp_oracle_feed_line(), aiotp_oracle_feed() and aiotp_oracle_finish(). */
enum aiotp_oracle_result {
    AIOTP_ORACLE_OK = 0,        /**< the line conforms (so far) */
    AIOTP_ORACLE_VIOLATION = 1, /**< the line breaks a rule: see aiotp_oracle_first() */
    AIOTP_ORACLE_EPARSE = -1,   /**< malformed line (or missing header, wrong version) */
    AIOTP_ORACLE_ELIMIT = -2,   /**< more live transports or deeper nesting than tracked */
    AIOTP_ORACLE_EINVAL = -3,   /**< bad argument (NULL oracle or line, unknown profile) */
    AIOTP_ORACLE_ENOMEM = -4    /**< the allocator failed (new(), or a new transport) */
};

/** Rule profiles: where a rule comes from (spec/oracle.md, "Profiles"). A profile checks
    its own rules and those of the profiles below it: DOC < CPYTHON < AIOTP. */
enum aiotp_oracle_profile {
    AIOTP_ORACLE_PROFILE_AUTO = 0,    /**< from each header: impl=aiotp: AIOTP, else DOC */
    AIOTP_ORACLE_PROFILE_DOC = 1,     /**< what the Python documentation promises */
    AIOTP_ORACLE_PROFILE_CPYTHON = 2, /**< + CPython 3.11's choices where it is silent */
    AIOTP_ORACLE_PROFILE_AIOTP = 3    /**< + aiotp's deliberate choices (the strictest) */
};

#define AIOTP_ORACLE_MAX_LINE 4096u /**< longest line accepted, in bytes, without "\n" */
#define AIOTP_ORACLE_RECENT 8u      /**< recent lines kept per transport (and overall) */
#define AIOTP_ORACLE_KEEP 160u      /**< bytes kept of each recent line (with the NUL) */
#define AIOTP_ORACLE_MAX_DEPTH 64u  /**< deepest cb/call nesting tracked */
/** Transports live at once (opened, not yet past the pass of their connection_lost) when
    aiotp_oracle_config.max_transports is 0. */
#define AIOTP_ORACLE_DEFAULT_TRANSPORTS 65536u
/** The most transports an oracle can track live at once. */
#define AIOTP_ORACLE_MAX_TRANSPORTS 16777216u

/** Configuration flag: finish() requires that every opened transport got
    connection_lost. */
#define AIOTP_ORACLE_REQUIRE_LOST 1u

/** A report of the oracle: a violation, or the error that stopped it. */
typedef struct aiotp_oracle_report aiotp_oracle_report;

/**
 * Receives every report (aiotp_oracle_set_report()).
 * @param arg the argument given with the callback.
 * @param r the report: a violation of a rule of the profile in force, in line order, or
 *        (once, last) the parse, limit or allocation error that stops the oracle; valid
 *        during the call only.
 */
typedef void (*aiotp_oracle_report_fn)(void *arg, const aiotp_oracle_report *r);

/** Configuration of aiotp_oracle_new(). The profile and the report callback are set
    with aiotp_oracle_set_profile() and aiotp_oracle_set_report(), so that existing
    initializers of this struct stay valid. */
typedef struct aiotp_oracle_config {
    size_t max_transports; /**< live transports at most; 0: #AIOTP_ORACLE_DEFAULT_TRANSPORTS */
    unsigned flags;        /**< #AIOTP_ORACLE_REQUIRE_LOST */
} aiotp_oracle_config;

/** The caller's allocator; free gets the size that was allocated. */
typedef struct aiotp_oracle_alloc {
    void *(*alloc)(void *ctx, size_t size);          /**< NULL on failure */
    void (*free)(void *ctx, void *ptr, size_t size); /**< size: as allocated */
    void *ctx;                                       /**< passed to both */
} aiotp_oracle_alloc;

/** One trace line kept in a report. */
typedef struct aiotp_oracle_event {
    size_t lineno;                /**< its line number */
    char text[AIOTP_ORACLE_KEEP]; /**< the line, cut with "..." when longer */
} aiotp_oracle_event;

/** What the oracle found: a violation, or the error that stopped it. */
struct aiotp_oracle_report {
    int result;            /**< #AIOTP_ORACLE_VIOLATION, _EPARSE, _ELIMIT or _ENOMEM */
    const char *rule;      /**< rule ID ("PROTO-STREAM-2", "TRACE-1"); NULL unless VIOLATION */
    const char *rule_text; /**< what the rule says, one line; NULL unless VIOLATION */
    char detail[256];      /**< what was seen (or the parse error) */
    size_t lineno;         /**< line of the problem (finish(): the last line fed) */
    unsigned long tid;     /**< transport concerned, 0 if none */
    size_t nrecent;        /**< recent events that led there, oldest first */
    aiotp_oracle_event recent[AIOTP_ORACLE_RECENT]; /**< those events */
    int profile;           /**< the rule's profile (enum aiotp_oracle_profile); 0 if no rule */
};

/** One rule the oracle checks (the tables of src/oracle/, in aiotp_oracle_rule_at()
    order). */
typedef struct aiotp_oracle_rule {
    const char *id;     /**< "FLOW-4" */
    const char *text;   /**< what it says, one line */
    int profile;        /**< #AIOTP_ORACLE_PROFILE_DOC, _CPYTHON or _AIOTP */
    const char *module; /**< the module that checks it: "trace", "base", "stream", ... */
} aiotp_oracle_rule;

/** An oracle (opaque). */
typedef struct aiotp_oracle aiotp_oracle;

/**
 * Make an oracle (profile AUTO, no report callback).
 * @param cfg the configuration; NULL for the defaults.
 * @param alloc the allocator (required; the oracle allocates from it when it is made and
 *        when more transports are live than ever before).
 * @param out receives the oracle.
 * @return 0, #AIOTP_ORACLE_EINVAL (NULL alloc/out, max_transports over
 *         #AIOTP_ORACLE_MAX_TRANSPORTS) or #AIOTP_ORACLE_ENOMEM.
 */
int aiotp_oracle_new(const aiotp_oracle_config *cfg, const aiotp_oracle_alloc *alloc,
                     aiotp_oracle **out);
/**
 * Free an oracle and everything it allocated (its reports go with it).
 * @param o the oracle (NULL: nothing happens).
 */
void aiotp_oracle_free(aiotp_oracle *o);

/**
 * Choose the profile the following lines are checked with.
 * @param o the oracle.
 * @param profile an enum aiotp_oracle_profile (AUTO: from each header).
 * @return 0 or #AIOTP_ORACLE_EINVAL (NULL o, unknown profile).
 */
int aiotp_oracle_set_profile(aiotp_oracle *o, int profile);
/**
 * Call fn for every violation reported from now on, and for the error that stops the
 * oracle.
 * @param o the oracle.
 * @param fn the callback (NULL: none).
 * @param arg passed to it.
 * @return 0 or #AIOTP_ORACLE_EINVAL (NULL o).
 */
int aiotp_oracle_set_report(aiotp_oracle *o, aiotp_oracle_report_fn fn, void *arg);

/**
 * Check one trace line.
 * @param o the oracle.
 * @param line the line, NUL-terminated, without its newline (one trailing CR is
 *        ignored: CRLF line endings).
 * @param lineno its line number, used in reports.
 * @return #AIOTP_ORACLE_OK, #AIOTP_ORACLE_VIOLATION (checking goes on), or
 *         #AIOTP_ORACLE_EPARSE / #AIOTP_ORACLE_ELIMIT / #AIOTP_ORACLE_ENOMEM (final:
 *         every later call returns the same), #AIOTP_ORACLE_EINVAL.
 */
int aiotp_oracle_feed_line(aiotp_oracle *o, const char *line, size_t lineno);
/**
 * The same with an explicit length (a NUL byte inside is a parse error).
 * @param o the oracle.
 * @param line the line, without its newline.
 * @param len its length.
 * @param lineno its line number.
 * @return the same as aiotp_oracle_feed_line().
 */
int aiotp_oracle_feed(aiotp_oracle *o, const char *line, size_t len, size_t lineno);

/**
 * End of the trace: unmatched cb/call lines (TRACE-1), missing header, exception reports
 * still due, and with #AIOTP_ORACLE_REQUIRE_LOST transports that never got
 * connection_lost (PROTO-BASE-2).
 * @param o the oracle.
 * @return #AIOTP_ORACLE_OK if nothing more is wrong, #AIOTP_ORACLE_VIOLATION, or the
 *         error that stopped the oracle.
 */
int aiotp_oracle_finish(aiotp_oracle *o);

/**
 * The first problem found: a violation, or the error that stopped the oracle.
 * @param o the oracle.
 * @return the report (valid until aiotp_oracle_free()), or NULL if none.
 */
const aiotp_oracle_report *aiotp_oracle_first(const aiotp_oracle *o);
/**
 * The parse, limit or allocation error that stopped the oracle.
 * @param o the oracle.
 * @return the report, or NULL if it did not stop.
 */
const aiotp_oracle_report *aiotp_oracle_error(const aiotp_oracle *o);
/**
 * Number of violations reported so far (all rules).
 * @param o the oracle.
 * @return the count (0 for NULL).
 */
size_t aiotp_oracle_violations(const aiotp_oracle *o);
/**
 * Lines fed so far (comments and blank lines included).
 * @param o the oracle.
 * @return the count (0 for NULL).
 */
size_t aiotp_oracle_lines(const aiotp_oracle *o);
/**
 * Transports live now (their state is kept).
 * @param o the oracle.
 * @return the count (0 for NULL).
 */
size_t aiotp_oracle_live(const aiotp_oracle *o);
/**
 * The profile in force.
 * @param o the oracle.
 * @return the one set, or the one the last header chose with AUTO (DOC before any header
 *         and for NULL).
 */
int aiotp_oracle_profile(const aiotp_oracle *o);
/**
 * The trace format version of the last header.
 * @param o the oracle.
 * @return 1, 2 or 3; 0 before a header and for NULL.
 */
unsigned aiotp_oracle_version(const aiotp_oracle *o);
/**
 * The implementation named by the last header (impl=NAME, format 3).
 * @param o the oracle.
 * @return the name, "" if none (and for NULL).
 */
const char *aiotp_oracle_impl(const aiotp_oracle *o);

/**
 * The rules the oracle checks.
 * @param i 0, 1, ...
 * @return the i-th rule, NULL past the last.
 */
const aiotp_oracle_rule *aiotp_oracle_rule_at(size_t i);
/**
 * Violations of one rule reported so far.
 * @param o the oracle.
 * @param i the rule's index (aiotp_oracle_rule_at()).
 * @return the count (0 for NULL or an index past the last rule).
 */
size_t aiotp_oracle_rule_violations(const aiotp_oracle *o, size_t i);
/**
 * What a rule says.
 * @param rule a rule ID ("FLOW-4").
 * @return one line of text, NULL for an ID the oracle does not check.
 */
const char *aiotp_oracle_rule_text(const char *rule);

/**
 * The name of a profile.
 * @param profile an enum aiotp_oracle_profile.
 * @return "doc", "cpython", "aiotp" ("auto" for AUTO), NULL for anything else.
 */
const char *aiotp_oracle_profile_name(int profile);
/**
 * The profile with a name.
 * @param name as aiotp_oracle_profile_name() spells it.
 * @return the profile, or -1 (also for NULL).
 */
int aiotp_oracle_profile_parse(const char *name);

/**
 * Deep check of the oracle's own state (for tests and fuzzing).
 * @param o the oracle.
 * @return true if every internal invariant holds (false for NULL).
 */
bool aiotp_oracle_is_valid(const aiotp_oracle *o);

AIOTP_END_DECLS

#endif /* AIOTP_ORACLE_H */
