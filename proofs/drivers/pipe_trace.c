/* proofs/drivers/pipe_trace.c - proof driver for src/core/pipe_sm.c (Frama-C only, never
 * linked into the library).
 *
 * WP proves these functions from the contracts in pipe_sm.h alone (modular proof), so
 * what is proven here holds for every transport that feeds the state machine.
 *
 * Stubs: aiotp_proof_any_*() return an arbitrary value and touch no memory: the proof
 * covers both directions, every sequence of events (even out-of-range event numbers) and
 * every buffer state a transport could report. */
#include "core/pipe_sm.h"

/*@ assigns \nothing; */
extern aiotp__pipe_event aiotp_proof_any_pipe_event(void);
/*@ assigns \nothing; */
extern bool aiotp_proof_any_bool(void);

/* PROOF-PIPE-TABLES: the C tables (pipe_sm.c, the diagrams) are exactly the ACSL edge
   predicates of proofs/acsl/pipe.acsl, diagonal included (no self-edges). */
/*@ assigns \nothing;
    ensures life_table: \forall integer a, b; PpLifeInRange(a) && PpLifeInRange(b) ==>
              (aiotp__pp_life_edges[a][b] != 0 <==> PpLifeEdge(a, b));
    ensures rd_table: \forall integer a, b; PpRdInRange(a) && PpRdInRange(b) ==>
              (aiotp__pp_rd_edges[a][b] != 0 <==> PpRdEdge(a, b));
    ensures ph_table: \forall integer a, b; PpPhInRange(a) && PpPhInRange(b) ==>
              (aiotp__pp_ph_edges[a][b] != 0 <==> PpPhEdge(a, b));
*/
void aiotp_proof_pipe_tables(void)
{
}

/* Any sequence of `steps` events from aiotp__pipe_init() of either direction. The ghost
   counters record the protocol callbacks the actions ask for; the assertions say that they
   follow the documented order
       connection_made [data_received]* [eof_received] connection_lost
   (read pipe) and connection_made connection_lost (write pipe, flow control aside), with
   connection_made, eof_received and connection_lost at most once each, eof_received only
   right before connection_lost, nothing after it, and connection_lost scheduled at most
   once. */
/*@ assigns \nothing; */
void aiotp_proof_pipe_trace(unsigned steps, bool write_pipe)
{
    aiotp__pipe_state s;
    unsigned act;
    unsigned i;
    /*@ ghost int made = 0; int losts = 0; int eofs = 0; int scheduled = 0; */

    aiotp__pipe_init(&s, write_pipe ? AIOTP__PP_WRITE : AIOTP__PP_READ);
    /*@ loop invariant valid: PipeValid(s);
        loop invariant made_count: made == (s.ph == AIOTP__PP_PH_INIT ? 0 : 1);
        loop invariant lost_count: losts == (s.ph == AIOTP__PP_PH_LOST ? 1 : 0);
        loop invariant eof_count: 0 <= eofs <= losts;
        loop invariant eof_read_only: eofs == 1 ==> s.dir == AIOTP__PP_READ;
        loop invariant scheduled_count: 0 <= scheduled <= 1 &&
          (s.life == AIOTP__PP_OPEN || s.life == AIOTP__PP_CLOSING ==> scheduled == 0) &&
          (s.life == AIOTP__PP_LOST_PENDING || s.life == AIOTP__PP_EOF_PENDING ==>
             scheduled == 1);
        loop assigns i, s, act, made, losts, eofs, scheduled;
        loop variant steps - i;
    */
    for (i = 0; i < steps; i++) {
        act = aiotp__pipe_step(&s, aiotp_proof_any_pipe_event(), aiotp_proof_any_bool());
        /*@ assert PIPE_made_once: PpHas(act, AIOTP__PPA_CALL_MADE) ==> made == 0; */
        /*@ assert PIPE_data_between: PpHas(act, AIOTP__PPA_DELIVER) ==>
                                      made == 1 && losts == 0; */
        /*@ assert PIPE_eof_once: PpHas(act, AIOTP__PPA_CALL_EOF) ==>
                                  made == 1 && eofs == 0 && losts == 0; */
        /*@ assert PIPE_lost_once: PpHas(act, AIOTP__PPA_CALL_LOST) ==>
                                   made == 1 && losts == 0; */
        /*@ assert PIPE_nothing_after_lost: losts == 1 ==>
                                            (act == AIOTP__PPA_REFUSED ||
                                             act == AIOTP__PPA_NONE); */
        /*@ assert schedule_once: PpHas(act, AIOTP__PPA_SCHEDULE_LOST) ==> scheduled == 0; */
        /*@ ghost
          if ((act / AIOTP__PPA_CALL_MADE) % 2 == 1) made++;
          if ((act / AIOTP__PPA_CALL_EOF) % 2 == 1) eofs++;
          if ((act / AIOTP__PPA_CALL_LOST) % 2 == 1) losts++;
          if ((act / AIOTP__PPA_SCHEDULE_LOST) % 2 == 1) scheduled++;
        */
    }
}
