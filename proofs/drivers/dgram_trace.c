/* proofs/drivers/dgram_trace.c - proof driver for src/core/dgram_sm.c (Frama-C only,
 * never linked into the library).
 *
 * WP proves these functions from the contracts in dgram_sm.h alone (modular proof), so
 * what is proven here holds for every transport that feeds the state machine.
 *
 * Stubs: aiotp_proof_any_*() return an arbitrary value and touch no memory. This is a
 * sound abstraction of the transport: the proof covers every sequence of events (even
 * out-of-range event numbers) and every queue state it could report. */
#include "core/dgram_sm.h"

/*@ assigns \nothing; */
extern aiotp__dgram_event aiotp_proof_any_dgram_event(void);
/*@ assigns \nothing; */
extern bool aiotp_proof_any_bool(void);

/* PROOF-DGRAM-TABLES: the C tables (dgram_sm.c, the diagrams) are exactly the ACSL edge
   predicates of proofs/acsl/dgram.acsl, diagonal included (no self-edges). */
/*@ assigns \nothing;
    ensures life_table: \forall integer a, b; DgLifeInRange(a) && DgLifeInRange(b) ==>
              (aiotp__dg_life_edges[a][b] != 0 <==> DgLifeEdge(a, b));
    ensures rd_table: \forall integer a, b; DgRdInRange(a) && DgRdInRange(b) ==>
              (aiotp__dg_rd_edges[a][b] != 0 <==> DgRdEdge(a, b));
    ensures ph_table: \forall integer a, b; DgPhInRange(a) && DgPhInRange(b) ==>
              (aiotp__dg_ph_edges[a][b] != 0 <==> DgPhEdge(a, b));
*/
void aiotp_proof_dgram_tables(void)
{
}

/* Any sequence of `steps` events from aiotp__dgram_init(). The ghost counters record the
   protocol callbacks the actions ask for; the assertions say that they follow the
   documented order
       connection_made [datagram_received | error_received]* connection_lost
   with connection_made and connection_lost exactly once each at most, nothing after
   connection_lost, and connection_lost scheduled at most once. */
/*@ assigns \nothing; */
void aiotp_proof_dgram_trace(unsigned steps)
{
    aiotp__dgram_state s;
    unsigned act;
    unsigned i;
    /*@ ghost int made = 0; int losts = 0; int scheduled = 0; */

    aiotp__dgram_init(&s);
    /*@ loop invariant valid: DgramValid(s);
        loop invariant made_count: made == (s.ph == AIOTP__DG_PH_INIT ? 0 : 1);
        loop invariant lost_count: losts == (s.ph == AIOTP__DG_PH_LOST ? 1 : 0);
        loop invariant scheduled_count: 0 <= scheduled <= 1 &&
          (s.life == AIOTP__DG_OPEN || s.life == AIOTP__DG_CLOSING ==> scheduled == 0) &&
          (s.life == AIOTP__DG_LOST_PENDING ==> scheduled == 1);
        loop assigns i, s, act, made, losts, scheduled;
        loop variant steps - i;
    */
    for (i = 0; i < steps; i++) {
        act = aiotp__dgram_step(&s, aiotp_proof_any_dgram_event(), aiotp_proof_any_bool());
        /*@ assert DGRAM_made_once: DgHas(act, AIOTP__DGA_CALL_MADE) ==> made == 0; */
        /*@ assert DGRAM_error_between: (DgHas(act, AIOTP__DGA_DELIVER) ||
                                         DgHas(act, AIOTP__DGA_CALL_ERROR)) ==>
                                        made == 1 && losts == 0; */
        /*@ assert DGRAM_lost_once: DgHas(act, AIOTP__DGA_CALL_LOST) ==>
                                    made == 1 && losts == 0; */
        /*@ assert DGRAM_nothing_after_lost: losts == 1 ==>
                                             (act == AIOTP__DGA_REFUSED ||
                                              act == AIOTP__DGA_NONE); */
        /*@ assert schedule_once: DgHas(act, AIOTP__DGA_SCHEDULE_LOST) ==> scheduled == 0; */
        /*@ ghost
          if ((act / AIOTP__DGA_CALL_MADE) % 2 == 1) made++;
          if ((act / AIOTP__DGA_CALL_LOST) % 2 == 1) losts++;
          if ((act / AIOTP__DGA_SCHEDULE_LOST) % 2 == 1) scheduled++;
        */
    }
}
