/* proofs/drivers/proc_trace.c - proof driver for src/core/proc_sm.c (Frama-C only, never
 * linked into the library).
 *
 * Stubs: aiotp_proof_any_*() return an arbitrary value and touch no memory: the proof
 * covers every sequence of events with any fd (even out-of-range ones) from any set of
 * pipes. */
#include "core/proc_sm.h"

/*@ assigns \nothing; */
extern aiotp__proc_event aiotp_proof_any_proc_event(void);
/*@ assigns \nothing; */
extern int aiotp_proof_any_int(void);

/* PROOF-PROC-TABLES: the C tables are exactly the ACSL edge predicates. */
/*@ assigns \nothing;
    ensures life_table: \forall integer a, b; PrLifeInRange(a) && PrLifeInRange(b) ==>
              (aiotp__pr_life_edges[a][b] != 0 <==> PrLifeEdge(a, b));
    ensures ph_table: \forall integer a, b; PrPhInRange(a) && PrPhInRange(b) ==>
              (aiotp__pr_ph_edges[a][b] != 0 <==> PrPhEdge(a, b));
    ensures exit_table: \forall integer a, b; PrExitInRange(a) && PrExitInRange(b) ==>
              (aiotp__pr_exit_edges[a][b] != 0 <==> PrExitEdge(a, b));
*/
void aiotp_proof_proc_tables(void)
{
}

/* Any sequence of `steps` events from aiotp__proc_init(pipes). The ghost counters record
   the callbacks the actions ask for; the assertions say they follow the documented order
       connection_made [pipe_data_received | pipe_connection_lost | process_exited]*
       connection_lost
   with connection_made, process_exited and connection_lost at most once each,
   connection_lost only after process_exited and after every pipe was lost, nothing after
   it, and at most one pipe_connection_lost per fd. */
/*@ requires pipes <= 7;
    assigns \nothing; */
void aiotp_proof_proc_trace(unsigned steps, unsigned pipes)
{
    aiotp__proc_state s;
    unsigned act;
    unsigned i;
    int fd;
    /*@ ghost int made = 0; int losts = 0; int exits = 0; int scheduled = 0; */

    aiotp__proc_init(&s, pipes);
    /*@ loop invariant valid: ProcValid(s);
        loop invariant made_count: made == (s.ph == AIOTP__PR_PH_INIT ? 0 : 1);
        loop invariant lost_count: losts == (s.ph == AIOTP__PR_PH_LOST ? 1 : 0);
        loop invariant exit_count: exits == (s.exit == AIOTP__PR_TOLD ? 1 : 0);
        loop invariant scheduled_count: scheduled == (s.life == AIOTP__PR_OPEN ? 0 : 1);
        loop assigns i, s, act, fd, made, losts, exits, scheduled;
        loop variant steps - i;
    */
    for (i = 0; i < steps; i++) {
        fd = aiotp_proof_any_int();
        act = aiotp__proc_step(&s, aiotp_proof_any_proc_event(), fd);
        /*@ assert PROC_made_once: PrHas(act, AIOTP__PRA_CALL_MADE) ==> made == 0; */
        /*@ assert PROC_exited_once: PrHas(act, AIOTP__PRA_CALL_EXITED) ==>
                                     exits == 0 && losts == 0; */
        /*@ assert PROC_pipes_between: (PrHas(act, AIOTP__PRA_CALL_DATA) ||
                                        PrHas(act, AIOTP__PRA_CALL_PIPE_LOST)) ==>
                                       made == 1 && losts == 0; */
        /*@ assert PROC_lost_last: PrHas(act, AIOTP__PRA_CALL_LOST) ==>
                                   made == 1 && exits == 1 && losts == 0 && s.pipes == 0; */
        /*@ assert PROC_nothing_after_lost: losts == 1 ==> act == AIOTP__PRA_REFUSED; */
        /*@ assert schedule_once: PrHas(act, AIOTP__PRA_SCHEDULE_LOST) ==> scheduled == 0; */
        /*@ ghost
          if ((act / AIOTP__PRA_CALL_MADE) % 2 == 1) made++;
          if ((act / AIOTP__PRA_CALL_EXITED) % 2 == 1) exits++;
          if ((act / AIOTP__PRA_CALL_LOST) % 2 == 1) losts++;
          if ((act / AIOTP__PRA_SCHEDULE_LOST) % 2 == 1) scheduled++;
        */
    }
}
