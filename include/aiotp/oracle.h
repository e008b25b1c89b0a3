/**
 * @file
 * @brief The conformance oracle (library aiotp_oracle): checks a trace against the
 * documented rules.
 *
 * It checks a trace (spec/trace-format.md, the lines aiotp_loop_set_trace() delivers)
 * against the documented rules, one line at a time. It is a library of its own
 * (`aiotp::oracle`, `-laiotp_oracle`, pkg-config `aiotp-oracle`), not part of
 * libaiotp; the command-line tool `aiotp-trace-check` wraps it.
 *
 * Pure module: no system calls; memory comes only from the allocator the caller gives
 * to aiotp_oracle_new() (one block, sized by the configuration: at most max_transports
 * transports are tracked, more is a limit error). The rules checked and the format rules
 * (TRACE-n) are listed in spec/oracle.md; behaviour rules are those of spec/rules.md.
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

/** Results of aiotp_oracle_feed_line() / aiotp_oracle_finish(). */
enum aiotp_oracle_result {
    AIOTP_ORACLE_OK = 0,        /**< the line conforms (so far) */
    AIOTP_ORACLE_VIOLATION = 1, /**< the line breaks a rule: see aiotp_oracle_first() */
    AIOTP_ORACLE_EPARSE = -1,   /**< malformed line (or missing header, wrong version) */
    AIOTP_ORACLE_ELIMIT = -2,   /**< more transports or deeper nesting than tracked */
    AIOTP_ORACLE_EINVAL = -3,   /**< bad argument (NULL oracle or line) */
    AIOTP_ORACLE_ENOMEM = -4    /**< aiotp_oracle_new(): the allocator failed */
};

#define AIOTP_ORACLE_MAX_LINE 4096u /**< longest line accepted, in bytes, without "\n" */
#define AIOTP_ORACLE_RECENT 8u      /**< recent lines kept per transport (and overall) */
#define AIOTP_ORACLE_KEEP 160u      /**< bytes kept of each recent line (with the NUL) */
#define AIOTP_ORACLE_MAX_DEPTH 64u  /**< deepest cb/call nesting tracked */
/** transports tracked when aiotp_oracle_config.max_transports is 0 */
#define AIOTP_ORACLE_DEFAULT_TRANSPORTS 256u
/** the most transports an oracle can track */
#define AIOTP_ORACLE_MAX_TRANSPORTS 65536u

/** Configuration flag: finish() requires that every opened transport got
    connection_lost. */
#define AIOTP_ORACLE_REQUIRE_LOST 1u

/** Configuration of aiotp_oracle_new(). */
typedef struct aiotp_oracle_config {
    size_t max_transports; /**< 0: #AIOTP_ORACLE_DEFAULT_TRANSPORTS */
    unsigned flags;        /**< #AIOTP_ORACLE_REQUIRE_LOST */
} aiotp_oracle_config;

/** The caller's allocator; free gets the size that was allocated. */
typedef struct aiotp_oracle_alloc {
    void *(*alloc)(void *ctx, size_t size);           /**< NULL on failure */
    void (*free)(void *ctx, void *ptr, size_t size);  /**< size: as allocated */
    void *ctx;                                        /**< passed to both */
} aiotp_oracle_alloc;

/** One trace line kept in a report. */
typedef struct aiotp_oracle_event {
    size_t lineno;                /**< its line number */
    char text[AIOTP_ORACLE_KEEP]; /**< the line, cut with "..." when longer */
} aiotp_oracle_event;

/** The first problem the oracle found. */
typedef struct aiotp_oracle_report {
    int result;            /**< #AIOTP_ORACLE_VIOLATION, _EPARSE or _ELIMIT */
    const char *rule;      /**< rule ID ("PROTO-STREAM-2", "TRACE-1"); NULL unless VIOLATION */
    const char *rule_text; /**< what the rule says, one line; NULL unless VIOLATION */
    char detail[256];      /**< what was seen (or the parse error) */
    size_t lineno;         /**< line of the problem (finish(): the last line fed) */
    unsigned long tid;     /**< transport concerned, 0 if none */
    size_t nrecent;        /**< recent events that led there, oldest first */
    aiotp_oracle_event recent[AIOTP_ORACLE_RECENT]; /**< those events */
} aiotp_oracle_report;

/** An oracle (opaque). */
typedef struct aiotp_oracle aiotp_oracle;

/**
 * Make an oracle.
 * @param cfg the configuration; NULL for the defaults.
 * @param alloc the allocator (required; one block is allocated, sized by cfg).
 * @param out receives the oracle.
 * @return 0, #AIOTP_ORACLE_EINVAL (NULL alloc/out, max_transports over
 *         #AIOTP_ORACLE_MAX_TRANSPORTS) or #AIOTP_ORACLE_ENOMEM.
 */
int aiotp_oracle_new(const aiotp_oracle_config *cfg, const aiotp_oracle_alloc *alloc,
                     aiotp_oracle **out);
/**
 * Free an oracle (its reports go with it).
 * @param o the oracle (NULL: nothing happens).
 */
void aiotp_oracle_free(aiotp_oracle *o);

/**
 * Check one trace line.
 * @param o the oracle.
 * @param line the line, NUL-terminated, without its newline.
 * @param lineno its line number, used in reports.
 * @return #AIOTP_ORACLE_OK, #AIOTP_ORACLE_VIOLATION (checking goes on), or
 *         #AIOTP_ORACLE_EPARSE / #AIOTP_ORACLE_ELIMIT (final: every later call returns
 *         the same), #AIOTP_ORACLE_EINVAL.
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
 * End of the trace: unmatched cb/call lines (TRACE-1), missing header, and with
 * #AIOTP_ORACLE_REQUIRE_LOST transports that never got connection_lost (PROTO-BASE-2).
 * @param o the oracle.
 * @return #AIOTP_ORACLE_OK if the whole trace conforms, else the first problem's result.
 */
int aiotp_oracle_finish(aiotp_oracle *o);

/**
 * The first problem found.
 * @param o the oracle.
 * @return the report (valid until aiotp_oracle_free()), or NULL if none.
 */
const aiotp_oracle_report *aiotp_oracle_first(const aiotp_oracle *o);
/**
 * Number of violations found so far.
 * @param o the oracle.
 * @return the count.
 */
size_t aiotp_oracle_violations(const aiotp_oracle *o);
/**
 * Lines fed so far (comments and blank lines included).
 * @param o the oracle.
 * @return the count.
 */
size_t aiotp_oracle_lines(const aiotp_oracle *o);

/**
 * What a rule says.
 * @param rule a rule ID ("FLOW-4").
 * @return one line of text, NULL for an ID the oracle does not check.
 */
const char *aiotp_oracle_rule_text(const char *rule);

/**
 * Deep check of the oracle's own state (for tests and fuzzing).
 * @param o the oracle.
 * @return true if every internal invariant holds.
 */
bool aiotp_oracle_is_valid(const aiotp_oracle *o);

AIOTP_END_DECLS

#endif /* AIOTP_ORACLE_H */
