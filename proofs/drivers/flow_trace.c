/* proofs/drivers/flow_trace.c - proof driver for src/core/flow.c (Frama-C only, never
 * linked into the library).
 *
 * WP proves these functions from the contracts in flow.h alone (modular proof), so what
 * is proven here holds for every transport that uses the module as the contracts say.
 *
 * Stubs: aiotp_proof_any_*() return an arbitrary value and touch no memory. This is a
 * sound abstraction of the transport: the proof holds for every size, limit and order
 * of calls it could produce. */
#include "core/flow.h"

/*@ assigns \nothing; */
extern int aiotp_proof_any_int(void);
/*@ assigns \nothing; */
extern size_t aiotp_proof_any_size(void);
/*@ assigns \nothing; */
extern int64_t aiotp_proof_any_i64(void);

/* What the transport does in set_write_buffer_limits(): set the limits, then re-check
   the pause rule only (FLOW-7). */
/*@ requires valid_ptr: \valid(f);
    requires valid: FlowValid(*f);
    assigns f->high, f->low, f->state;
    ensures valid: FlowValid(*f);
    ensures FLOW_7_never_resumes: \result == AIOTP__FLOW_NOTHING ||
                                  \result == AIOTP__FLOW_CALL_PAUSE;
    ensures FLOW_4_pause: \result == AIOTP__FLOW_CALL_PAUSE ==>
                          \old(f->state) == AIOTP__FLOW_RUNNING &&
                          f->state == AIOTP__FLOW_PAUSED;
    ensures state_kept: \result == AIOTP__FLOW_NOTHING ==> f->state == \old(f->state);
    ensures FLOW_7_never_runs: \old(f->state) == AIOTP__FLOW_PAUSED ==>
                               f->state == AIOTP__FLOW_PAUSED;
    behavior FLOW_7_lowered_below_size:
      assumes f->state == AIOTP__FLOW_RUNNING && FlowLimitsAccepted(high, low) &&
              size > FlowDerivedHigh(high, low);
      ensures pauses_at_once: \result == AIOTP__FLOW_CALL_PAUSE &&
                              f->state == AIOTP__FLOW_PAUSED;
    behavior FLOW_7_raised_while_paused:
      assumes f->state == AIOTP__FLOW_PAUSED;
      ensures no_resume: \result == AIOTP__FLOW_NOTHING && f->state == AIOTP__FLOW_PAUSED;
*/
aiotp__flow_action aiotp_proof_flow_set_limits_then_check(aiotp__flow *f, int64_t high,
                                                          int64_t low, size_t size)
{
    aiotp__flow_action a = AIOTP__FLOW_NOTHING;
    if (aiotp__flow_set_limits(f, high, low)) {
        a = aiotp__flow_check_pause(f, size);
    }
    return a;
}

/* Any sequence of steps calls of the module, from aiotp__flow_init(): the actions it
   returns alternate PAUSE, RESUME, PAUSE, ... (FLOW-6), starting with PAUSE. The ghost
   variable `last` is the last action returned other than NOTHING (RESUME at the start);
   the loop invariant says the state is exactly "the last callback was pause_writing". */
/*@ assigns \nothing; */
void aiotp_proof_flow_trace(unsigned steps)
{
    aiotp__flow f;
    aiotp__flow_action a;
    unsigned i;
    /*@ ghost int last = AIOTP__FLOW_CALL_RESUME; */

    aiotp__flow_init(&f);
    /*@ loop invariant valid: FlowValid(f);
        loop invariant last_range: last == AIOTP__FLOW_CALL_PAUSE ||
                                   last == AIOTP__FLOW_CALL_RESUME;
        loop invariant FLOW_6_model: f.state == AIOTP__FLOW_PAUSED <==>
                                     last == AIOTP__FLOW_CALL_PAUSE;
        loop assigns i, f, a, last;
        loop variant steps - i;
    */
    for (i = 0; i < steps; i++) {
        size_t size = aiotp_proof_any_size();
        int op = aiotp_proof_any_int();
        if (op == 0) {
            a = aiotp__flow_check_pause(&f, size); /* the buffer grew */
        } else if (op == 1) {
            a = aiotp__flow_check_resume(&f, size); /* the buffer shrank */
        } else {
            a = aiotp_proof_flow_set_limits_then_check(&f, aiotp_proof_any_i64(),
                                                       aiotp_proof_any_i64(), size);
        }
        /*@ assert FLOW_6_pause_after_resume:
              a == AIOTP__FLOW_CALL_PAUSE ==> last == AIOTP__FLOW_CALL_RESUME; */
        /*@ assert FLOW_6_resume_after_pause:
              a == AIOTP__FLOW_CALL_RESUME ==> last == AIOTP__FLOW_CALL_PAUSE; */
        /*@ ghost
          if (a != AIOTP__FLOW_NOTHING) {
              last = a;
          }
        */
    }
}
