/*
 * src/core/flow.h - write flow control: watermarks and the pause/resume decision.
 *
 * Pure module: no system calls, no allocation, no callbacks. The transport asks it what
 * to do and calls the protocol itself. Rules (spec/rules.md, "Flow control"):
 *   FLOW-1  defaults high 65536, low 16384
 *   FLOW-2  only high given: low = high / 4; only low given: high = 4 * low;
 *           neither: the defaults
 *   FLOW-3  after derivation 0 <= low <= high must hold, else refused, unchanged
 *   FLOW-4  pause when RUNNING and size > high (strictly), then PAUSED
 *   FLOW-5  resume when PAUSED and size <= low, then RUNNING
 *   FLOW-6  pause and resume alternate (follows from 4 and 5)
 *   FLOW-7  setting limits re-checks only the pause rule (never resumes)
 *
 * State chart:
 *
 *        size > high            size <= low
 *   RUNNING ----------> PAUSED ------------> RUNNING
 *      (check_pause)          (check_resume)
 */
#ifndef AIOTP_CORE_FLOW_H
#define AIOTP_CORE_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AIOTP__FLOW_DEFAULT_HIGH ((size_t)65536)
#define AIOTP__FLOW_DEFAULT_LOW ((size_t)16384)
/* "limit not given": the public AIOTP_LIMIT_NONE */
#define AIOTP__FLOW_NONE INT64_MIN

typedef enum aiotp__flow_state {
    AIOTP__FLOW_RUNNING = 0, /* the protocol may write */
    AIOTP__FLOW_PAUSED = 1,  /* pause_writing was called, resume_writing not yet */
    AIOTP__FLOW_STATE_COUNT
} aiotp__flow_state;

typedef enum aiotp__flow_action {
    AIOTP__FLOW_NOTHING = 0,
    AIOTP__FLOW_CALL_PAUSE = 1,  /* call protocol.pause_writing() now */
    AIOTP__FLOW_CALL_RESUME = 2  /* call protocol.resume_writing() now */
} aiotp__flow_action;

typedef struct aiotp__flow {
    size_t high;              /* pause when size > high */
    size_t low;               /* resume when size <= low; low <= high */
    aiotp__flow_state state;  /* RUNNING or PAUSED */
} aiotp__flow;

#ifdef __FRAMAC__
#include "acsl/flow.acsl" /* FlowValid, FlowDerivedHigh/Low, FlowLimitsAccepted */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-FLOW-*). */

/* Defaults, RUNNING. */
/*@ requires valid_ptr: \valid(f);
    assigns *f;
    ensures FLOW_1_high: f->high == 65536;
    ensures FLOW_1_low: f->low == 16384;
    ensures running: f->state == AIOTP__FLOW_RUNNING;
    ensures valid: FlowValid(*f);
*/
void aiotp__flow_init(aiotp__flow *f);

/* Validate a state: limits ordered, state in range. */
/*@ requires valid_ptr: \valid_read(f);
    assigns \nothing;
    ensures is_valid_iff: \result != 0 <==> FlowValid(*f);
*/
bool aiotp__flow_is_valid(const aiotp__flow *f);

/* Derive and validate (FLOW-2, FLOW-3). On success store the limits and return true;
   on failure return false and leave *f unchanged. The state is not changed. */
/*@ requires valid_ptr: \valid(f);
    assigns f->high, f->low;
    ensures FLOW_7_state_kept: f->state == \old(f->state);
    ensures FLOW_3_ordered: \result != 0 ==> 0 <= f->low <= f->high;
    ensures valid: FlowValid(\old(*f)) ==> FlowValid(*f);
    behavior FLOW_3_accepted:
      assumes FlowLimitsAccepted(high, low);
      ensures result: \result == true;
      ensures FLOW_2_high: f->high == FlowDerivedHigh(high, low);
      ensures FLOW_2_low: f->low == FlowDerivedLow(high, low);
    behavior FLOW_3_refused:
      assumes !FlowLimitsAccepted(high, low);
      ensures result: \result == false;
      ensures unchanged: f->high == \old(f->high) && f->low == \old(f->low);
    behavior FLOW_1_defaults:
      assumes high == AIOTP__FLOW_NONE && low == AIOTP__FLOW_NONE;
      ensures result: \result == true;
      ensures limits: f->high == 65536 && f->low == 16384;
    behavior FLOW_2_only_high:
      assumes high != AIOTP__FLOW_NONE && low == AIOTP__FLOW_NONE;
      ensures result: \result == true <==> 0 <= high;
      ensures limits: \result == true ==> f->high == high && f->low == high / 4;
    behavior FLOW_2_only_low:
      assumes high == AIOTP__FLOW_NONE && low != AIOTP__FLOW_NONE;
      ensures result: \result == true <==> 0 <= low && 4 * low <= INT64_MAX;
      ensures limits: \result == true ==> f->high == 4 * low && f->low == low;
    behavior FLOW_2_both:
      assumes high != AIOTP__FLOW_NONE && low != AIOTP__FLOW_NONE;
      ensures result: \result == true <==> 0 <= low <= high;
      ensures limits: \result == true ==> f->high == high && f->low == low;
    complete behaviors FLOW_3_accepted, FLOW_3_refused;
    disjoint behaviors FLOW_3_accepted, FLOW_3_refused;
    complete behaviors FLOW_1_defaults, FLOW_2_only_high, FLOW_2_only_low, FLOW_2_both;
    disjoint behaviors FLOW_1_defaults, FLOW_2_only_high, FLOW_2_only_low, FLOW_2_both;
*/
bool aiotp__flow_set_limits(aiotp__flow *f, int64_t high, int64_t low);

/* After the buffer grew (or the limits changed): FLOW-4. */
/*@ requires valid_ptr: \valid(f);
    requires valid: FlowValid(*f);
    assigns f->state;
    ensures valid: FlowValid(*f);
    ensures in_range: \result == AIOTP__FLOW_NOTHING || \result == AIOTP__FLOW_CALL_PAUSE;
    behavior FLOW_4_pause:
      assumes f->state == AIOTP__FLOW_RUNNING && size > f->high;
      ensures result: \result == AIOTP__FLOW_CALL_PAUSE;
      ensures paused: f->state == AIOTP__FLOW_PAUSED;
    behavior FLOW_4_no_pause:
      assumes !(f->state == AIOTP__FLOW_RUNNING && size > f->high);
      ensures result: \result == AIOTP__FLOW_NOTHING;
      ensures state_kept: f->state == \old(f->state);
    complete behaviors;
    disjoint behaviors;
*/
aiotp__flow_action aiotp__flow_check_pause(aiotp__flow *f, size_t size);

/* After the buffer shrank: FLOW-5. */
/*@ requires valid_ptr: \valid(f);
    requires valid: FlowValid(*f);
    assigns f->state;
    ensures valid: FlowValid(*f);
    ensures in_range: \result == AIOTP__FLOW_NOTHING || \result == AIOTP__FLOW_CALL_RESUME;
    behavior FLOW_5_resume:
      assumes f->state == AIOTP__FLOW_PAUSED && size <= f->low;
      ensures result: \result == AIOTP__FLOW_CALL_RESUME;
      ensures running: f->state == AIOTP__FLOW_RUNNING;
    behavior FLOW_5_no_resume:
      assumes !(f->state == AIOTP__FLOW_PAUSED && size <= f->low);
      ensures result: \result == AIOTP__FLOW_NOTHING;
      ensures state_kept: f->state == \old(f->state);
    complete behaviors;
    disjoint behaviors;
*/
aiotp__flow_action aiotp__flow_check_resume(aiotp__flow *f, size_t size);

#endif /* AIOTP_CORE_FLOW_H */
