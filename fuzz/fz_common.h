/*
 * fuzz/fz_common.h - what the property-checking harnesses share (fz_harness.c for the
 * stream transport, fz_dgram.c for the datagram transport): the violation report, the
 * counting allocator with its static receive-buffer block and allocation failures, and
 * the conformance oracle fed every trace line.
 *
 * Nothing here survives an input: fz_alloc_reset() and fz_oracle_begin() start one,
 * fz_oracle_end() ends it.
 */
#ifndef AIOTP_FZ_COMMON_H
#define AIOTP_FZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "aiotp/aiotp.h"
#include "aiotp/oracle.h"

#define FZ_REC 4u        /* bytes per op record */
#define FZ_MAX_OPS 2048u /* records looked at per input */

/* ---- violations: "FUZZ VIOLATION [RULE] at record N: ..." then abort() ----------------- */

extern size_t fz_step; /* the record being executed, for messages */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3), noreturn))
#endif
void fz_violation(const char *rule, const char *fmt, ...);

#define FZ_REQUIRE(cond, rule, ...)                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fz_violation(rule, __VA_ARGS__);                                           \
        }                                                                              \
    } while (0)

/* ---- the counting allocator ------------------------------------------------------------- */

/* Blocks live now (the library's and the sim's); must be 0 after an input. */
extern long fz_live;
/* Fail this many allocations from now on (the ALLOC_FAIL ops); the end of an input sets
   it back to 0. */
extern long fz_fail_next;
/* Counts every block; the loop's receive buffer (AIOTP__READ_MAX bytes) comes from one
   static block, poisoned under ASan while unused (fuzz/README.md, "Throughput"). */
extern const aiotp_allocator fz_counting;

/* Start an input: nothing live, no failure armed. */
void fz_alloc_reset(void);

/* ---- the oracle, fed every trace line ------------------------------------------------------ */

/* Start an input: an oracle for at most max_transports live transports, profile aiotp,
   AIOTP_ORACLE_REQUIRE_LOST; print every line to stderr when FZ_TRACE is set. */
void fz_oracle_begin(size_t max_transports);
/* A trace hook (aiotp_loop_set_trace): feeds the line, a violation on any report. */
void fz_oracle_trace(void *arg, const char *line);
/* End the input: aiotp_oracle_finish, a violation on any report, then free it. */
void fz_oracle_end(void);

#endif /* AIOTP_FZ_COMMON_H */
