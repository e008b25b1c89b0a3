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
#include <stdint.h>

#include "aiotp/aiotp.h"
#include "aiotp/oracle.h"
#include "aiotp/sim.h"

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
/* Trace lines fed to the oracle since fz_oracle_begin (an idle pass traces only "iter"). */
size_t fz_oracle_lines(void);
/* End the input: aiotp_oracle_finish, a violation on any report, then free it. */
void fz_oracle_end(void);

/* ---- one input's sim and loop ------------------------------------------------------------ */

/* A sim with the counting allocator and a loop on it (sim backend and syscalls, the
   counting allocator, exc as the exception handler, every trace line to the oracle). */
void fz_loop_new(aiotp_sim **sim, aiotp_loop **loop, aiotp_exception_fn exc);
/* One pass; with allocations failing (alloc_armed) the loop may say AIOTP_ENOMEM (its
   events come back next pass), anything else is a violation. */
void fz_run_pass(aiotp_loop *loop, bool alloc_armed);
/* The end of an input, after the loop was freed and the peer's fds closed: no sim fd open,
   the sim freed, no allocation left, the oracle's finish (fz_oracle_end). */
void fz_end(aiotp_sim *sim);

/* ---- the records of an input ------------------------------------------------------------ */

/* Run the op records of data (FZ_REC bytes each: op, a, b16 little endian; at most
   FZ_MAX_OPS; a trailing partial record is ignored): fz_step = k for the k-th record,
   step(op, a, b), then check(). Returns the number of records run. */
size_t fz_run_records(const uint8_t *data, size_t size, void (*step)(uint8_t, uint8_t, uint16_t),
                      void (*check)(void));

/* ---- checks both harnesses make after every record ------------------------------------- */

struct aiotp__flow;
/* The flow state mirrors what the protocol was told (paused: pause_writing delivered and
   resume_writing not yet; rule_state), and not paused implies size <= high (rule_high). */
void fz_check_flow(const struct aiotp__flow *flow, bool paused, size_t size,
                   const char *rule_state, const char *rule_high);
/* The transport's registrations for fd are the sim backend's interest set (reader: READ-2;
   writer: rule_writer). */
void fz_check_watch(aiotp_sim *sim, int fd, bool reader_on, bool writer_on,
                    const char *rule_writer);

/* ---- pieces of the call-in alphabet ---------------------------------------------------------- */

/* A callback for call_soon that does nothing. */
void fz_noop_cb(aiotp_loop *loop, void *arg);
/* A connect callback that must never run: a wrap of a transport's own fd (METH-8). */
void fz_wrap_done(void *arg, int status, aiotp_transport *t);
/* add_/remove_reader/writer (which % 4) on fd, a transport's own: AIOTP_EBUSY until its
   connection_lost has returned (LOOP-8); a watcher that runs is a violation. */
void fz_user_fd_call(aiotp_loop *loop, int fd, unsigned which);

#endif /* AIOTP_FZ_COMMON_H */
