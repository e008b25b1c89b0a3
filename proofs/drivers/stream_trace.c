/* proofs/drivers/stream_trace.c - proof driver for src/core/stream_sm.c (Frama-C only,
 * never linked into the library).
 *
 * WP proves this function from the contracts in stream_sm.h alone (modular proof), so
 * what is proven here holds for every transport that feeds the state machine.
 *
 * Stubs: aiotp_proof_any_*() return an arbitrary value and touch no memory. This is a
 * sound abstraction of the transport: the proof covers every sequence of events (even
 * out-of-range event numbers) and every buffer state it could report. */
#include "core/stream_sm.h"

/*@ assigns \nothing; */
extern aiotp__stream_event aiotp_proof_any_event(void);
/*@ assigns \nothing; */
extern bool aiotp_proof_any_bool(void);

/* PROOF-STREAM-TABLES: the C tables the code consults (stream_sm.c) and that the
   diagrams are drawn from (proofs/gen_diagrams.c) are exactly the ACSL edge predicates
   of proofs/acsl/stream.acsl, diagonal included (no self-edges). WP proves it from the
   initialisers of the const tables. */
/*@ assigns \nothing;
    ensures life_table: \forall integer a, b; LifeInRange(a) && LifeInRange(b) ==>
              (aiotp__life_edges[a][b] != 0 <==> LifeEdge(a, b));
    ensures rd_table: \forall integer a, b; RdInRange(a) && RdInRange(b) ==>
              (aiotp__rd_edges[a][b] != 0 <==> RdEdge(a, b));
    ensures wr_table: \forall integer a, b; WrInRange(a) && WrInRange(b) ==>
              (aiotp__wr_edges[a][b] != 0 <==> WrEdge(a, b));
    ensures ph_table: \forall integer a, b; PhInRange(a) && PhInRange(b) ==>
              (aiotp__ph_edges[a][b] != 0 <==> PhEdge(a, b));
*/
void aiotp_proof_stream_tables(void)
{
}

/* Any sequence of `steps` events from aiotp__stream_init(). The ghost counters record
   the protocol callbacks the actions asked for; the assertions say that the callbacks
   follow the documented protocol order
       connection_made [data_received]* [eof_received]? connection_lost
   with connection_lost at most once and nothing after it, and that
   connection_lost is scheduled at most once. */
/*@ assigns \nothing; */
void aiotp_proof_stream_trace(unsigned steps)
{
    aiotp__stream_state s;
    unsigned act;
    unsigned i;
    /*@ ghost int made = 0; int eofs = 0; int losts = 0; int scheduled = 0; */

    aiotp__stream_init(&s);
    /*@ loop invariant valid: StreamValid(s);
        loop invariant made_count: made == (s.ph == AIOTP__PH_INIT ? 0 : 1);
        loop invariant lost_count: losts == (s.ph == AIOTP__PH_LOST ? 1 : 0);
        loop invariant eof_count: 0 <= eofs <= made &&
                                  (s.ph == AIOTP__PH_EOF ==> eofs == 1) &&
                                  (s.ph == AIOTP__PH_CONNECTED ==> eofs == 0);
        loop invariant scheduled_count: 0 <= scheduled <= 1 &&
          (s.life == AIOTP__LIFE_OPEN || s.life == AIOTP__LIFE_CLOSING ==> scheduled == 0) &&
          (s.life == AIOTP__LIFE_LOST_PENDING ==> scheduled == 1);
        loop assigns i, s, act, made, eofs, losts, scheduled;
        loop variant steps - i;
    */
    for (i = 0; i < steps; i++) {
        act = aiotp__stream_step(&s, aiotp_proof_any_event(), aiotp_proof_any_bool());
        /*@ assert PROTO_made_once: Has(act, AIOTP__ACT_CALL_MADE) ==> made == 0; */
        /*@ assert PROTO_data_between: Has(act, AIOTP__ACT_DELIVER) ==>
                                       made == 1 && eofs == 0 && losts == 0; */
        /*@ assert PROTO_eof_once: Has(act, AIOTP__ACT_CALL_EOF) ==>
                                   made == 1 && eofs == 0 && losts == 0; */
        /*@ assert PROTO_lost_once: Has(act, AIOTP__ACT_CALL_LOST) ==>
                                    made == 1 && losts == 0; */
        /*@ assert PROTO_nothing_after_lost: losts == 1 ==>
                                             (act == AIOTP__ACT_REFUSED ||
                                              act == AIOTP__ACT_NONE); */
        /*@ assert schedule_once: Has(act, AIOTP__ACT_SCHEDULE_LOST) ==> scheduled == 0; */
        /* (ghost bit tests in the arithmetic form of Has, see stream.acsl) */
        /*@ ghost
          if ((act / AIOTP__ACT_CALL_MADE) % 2 == 1) made++;
          if ((act / AIOTP__ACT_CALL_EOF) % 2 == 1) eofs++;
          if ((act / AIOTP__ACT_CALL_LOST) % 2 == 1) losts++;
          if ((act / AIOTP__ACT_SCHEDULE_LOST) % 2 == 1) scheduled++;
        */
    }
}
