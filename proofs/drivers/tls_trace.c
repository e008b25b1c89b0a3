/* proofs/drivers/tls_trace.c - proof driver for src/core/tls_sm.c (Frama-C only, never
 * linked into the library).
 *
 * WP proves these functions from the contracts in tls_sm.h alone (modular proof), so what
 * is proven here holds for every shell that feeds the state machine.
 *
 * Stubs: aiotp_proof_any_*() return an arbitrary value and touch no memory: the proof
 * covers every sequence of events (even out-of-range event numbers), and both kinds of
 * transport (made by a connection or by start_tls). */
#include "core/tls_sm.h"

/*@ assigns \nothing; */
extern aiotp__tls_event aiotp_proof_any_tls_event(void);
/*@ assigns \nothing; */
extern bool aiotp_proof_any_bool(void);

/* PROOF-TLS-TABLES: the C tables (tls_sm.c, the diagrams) are exactly the ACSL edge
   predicates of proofs/acsl/tls.acsl, diagonal included (no self-edges). */
/*@ assigns \nothing;
    ensures ly_table: \forall integer a, b; TlsLyInRange(a) && TlsLyInRange(b) ==>
              (aiotp__tls_ly_edges[a][b] != 0 <==> TlsLyEdge(a, b));
    ensures app_table: \forall integer a, b; TlsAppInRange(a) && TlsAppInRange(b) ==>
              (aiotp__tls_app_edges[a][b] != 0 <==> TlsAppEdge(a, b));
    ensures rd_table: \forall integer a, b; TlsRdInRange(a) && TlsRdInRange(b) ==>
              (aiotp__tls_rd_edges[a][b] != 0 <==> TlsRdEdge(a, b));
*/
void aiotp_proof_tls_tables(void)
{
}

/* Any sequence of `steps` events from aiotp__tls_init(). The ghost counters record the
   protocol callbacks, the completion and the letting go of the transport below that the
   actions ask for; the assertions say that they follow the documented order
       connection_made [data_received]* [eof_received]? connection_lost
   (TLS-HS-2, TLS-LOST-1), that the completion comes once (TLS-HS-1), that a failed
   handshake tells the protocol nothing (TLS-HS-3), and that the transport below is
   closed or aborted at most once. */
/*@ assigns \nothing; */
void aiotp_proof_tls_trace(unsigned steps)
{
    aiotp__tls_state s;
    unsigned act;
    unsigned i;
    bool upgrade = aiotp_proof_any_bool();
    /*@ ghost int made = 0; int eofs = 0; int losts = 0; int completes = 0; int failed = 0;
              int let_go = 0; */

    aiotp__tls_init(&s, upgrade);
    /*@ loop invariant valid: TlsValid(s);
        loop invariant kind_kept: s.upgrade == upgrade;
        loop invariant made_count: made == ((s.app != AIOTP__TLS_APP_INIT && !upgrade) ? 1 : 0);
        loop invariant eof_count: 0 <= eofs <= 1 &&
          (s.app == AIOTP__TLS_APP_EOF ==> eofs == 1) &&
          ((s.app == AIOTP__TLS_APP_INIT || s.app == AIOTP__TLS_APP_CONNECTED) ==> eofs == 0);
        loop invariant lost_count: losts == (s.app == AIOTP__TLS_APP_LOST ? 1 : 0);
        loop invariant complete_count: completes ==
          ((s.ly == AIOTP__TLS_UNWRAPPED || s.ly == AIOTP__TLS_HANDSHAKE) ? 0 : 1);
        loop invariant failed_count: failed ==
          ((s.ly == AIOTP__TLS_CLOSED && s.app == AIOTP__TLS_APP_INIT) ? 1 : 0);
        loop invariant let_go_count: 0 <= let_go <= 1 &&
          (let_go == 1 ==> s.ly == AIOTP__TLS_CLOSED);
        loop assigns i, s, act, made, eofs, losts, completes, failed, let_go;
        loop variant steps - i;
    */
    for (i = 0; i < steps; i++) {
        act = aiotp__tls_step(&s, aiotp_proof_any_tls_event());
        /*@ assert TLS_made_once: TlsHas(act, AIOTP__TLSA_CALL_MADE) ==>
                                  made == 0 && losts == 0; */
        /*@ assert TLS_data_between: (TlsHas(act, AIOTP__TLSA_DELIVER) ||
                                      TlsHas(act, AIOTP__TLSA_CALL_EOF)) ==>
                                     s.app != AIOTP__TLS_APP_INIT && losts == 0 &&
                                     eofs == 0; */
        /*@ assert TLS_eof_once: TlsHas(act, AIOTP__TLSA_CALL_EOF) ==> eofs == 0; */
        /*@ assert TLS_lost_once: TlsHas(act, AIOTP__TLSA_CALL_LOST) ==>
                                  losts == 0 && failed == 0 && (made == 1 || upgrade); */
        /*@ assert TLS_nothing_after_lost: losts == 1 ==>
                                           (act == AIOTP__TLSA_REFUSED ||
                                            act == AIOTP__TLSA_NONE); */
        /*@ assert TLS_complete_once: (TlsHas(act, AIOTP__TLSA_COMPLETE_OK) ||
                                       TlsHas(act, AIOTP__TLSA_COMPLETE_FAIL)) ==>
                                      completes == 0; */
        /*@ assert TLS_failed_untold: failed == 1 ==>
                                      !TlsHas(act, AIOTP__TLSA_CALL_MADE) &&
                                      !TlsHas(act, AIOTP__TLSA_CALL_LOST) &&
                                      !TlsHas(act, AIOTP__TLSA_CALL_EOF) &&
                                      !TlsHas(act, AIOTP__TLSA_DELIVER); */
        /*@ assert TLS_let_go_once: (TlsHas(act, AIOTP__TLSA_CLOSE_LOWER) ||
                                     TlsHas(act, AIOTP__TLSA_ABORT_LOWER)) ==> let_go == 0; */
        /*@ ghost
          if ((act / AIOTP__TLSA_CALL_MADE) % 2 == 1) made++;
          if ((act / AIOTP__TLSA_CALL_EOF) % 2 == 1) eofs++;
          if ((act / AIOTP__TLSA_CALL_LOST) % 2 == 1) losts++;
          if ((act / AIOTP__TLSA_COMPLETE_OK) % 2 == 1) completes++;
          if ((act / AIOTP__TLSA_COMPLETE_FAIL) % 2 == 1) { completes++; failed++; }
          if ((act / AIOTP__TLSA_CLOSE_LOWER) % 2 == 1 ||
              (act / AIOTP__TLSA_ABORT_LOWER) % 2 == 1) let_go++;
        */
    }
}
