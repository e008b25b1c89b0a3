/*
 * src/core/proc_sm.h - the subprocess transport's aggregate state: whether the child's exit
 * is known and told, which of its pipes are open, whether close() was called, and what
 * the SubprocessProtocol has been told.
 *
 * Pure module: no system calls, no allocation, no callbacks. Every state change of a
 * subprocess transport happens in aiotp__proc_step(), whose contract is functional: for
 * every state, event and fd it states the next state (ProcNext*) and the actions
 * (ProcActs), the events x states table as ACSL logic
 * (proofs/acsl/proc.acsl).
 *
 * life  OPEN --(exit told and no pipe open)--> LOST_PENDING --lost--> CLOSED
 * ph    INIT --made--> CONNECTED --lost--> LOST
 * exit  RUNNING --exited--> EXITED (known, not told: before connection_made)
 *                     \--> TOLD (process_exited called) <--made-- EXITED
 * pipes a set of fds 0..2 (bit fd): the pipes still open
 * closing  close() was called (is_closing)
 *
 * connection_lost is scheduled exactly when the exit has been told and no pipe is open
 * (SUBPROC-LOST-1), once; process_exited at most once (SUBPROC-EXIT-1); no pipe callback
 * for a pipe that is closed, none before connection_made or after connection_lost
 * (SUBPROC-PIPE-1, SUBPROC-ORDER-1).
 *
 * Invariants (aiotp__proc_is_valid, PROC-INV-1..5):
 *   life == CLOSED <==> ph == LOST
 *   life != OPEN ==> exit == TOLD && pipes == 0
 *   ph == INIT ==> life == OPEN && exit != TOLD
 *   life == OPEN && exit == TOLD ==> pipes != 0   (connection_lost is never left waiting)
 *   pipes <= 7
 *
 * The shell makes the pipes' connection_made run before the subprocess's and starts
 * reading them only then, so no pipe event reaches the machine in INIT (it refuses them:
 * nothing is told before connection_made).
 */
#ifndef AIOTP_CORE_PROC_SM_H
#define AIOTP_CORE_PROC_SM_H

#include <stdbool.h>
#include <stddef.h>

typedef enum aiotp__pr_life {
    AIOTP__PR_OPEN = 0,     /* the child or a pipe is still there */
    AIOTP__PR_LOST_PENDING, /* exit told, every pipe closed: connection_lost scheduled */
    AIOTP__PR_CLOSED,       /* connection_lost delivered: final */
    AIOTP__PR_LIFE_COUNT
} aiotp__pr_life;

typedef enum aiotp__pr_ph {
    AIOTP__PR_PH_INIT = 0,  /* connection_made not yet called */
    AIOTP__PR_PH_CONNECTED, /* connection_made called */
    AIOTP__PR_PH_LOST,      /* connection_lost called: final */
    AIOTP__PR_PH_COUNT
} aiotp__pr_ph;

typedef enum aiotp__pr_exit {
    AIOTP__PR_RUNNING = 0, /* the exit is not known */
    AIOTP__PR_EXITED,      /* known, not told yet (before connection_made) */
    AIOTP__PR_TOLD,        /* process_exited called */
    AIOTP__PR_EXIT_COUNT
} aiotp__pr_exit;

typedef struct aiotp__proc_state {
    aiotp__pr_life life;
    aiotp__pr_ph ph;
    aiotp__pr_exit exit;
    unsigned pipes; /* bit fd set: the pipe of the child's fd is open (fd 0..2) */
    bool closing;   /* close() was called */
} aiotp__proc_state;

typedef enum aiotp__proc_event {
    AIOTP__PREV_MADE = 0,   /* deliver connection_made */
    AIOTP__PREV_PIPE_DATA,  /* the pipe of fd received data: may it be told? */
    AIOTP__PREV_PIPE_LOST,  /* the pipe of fd is gone */
    AIOTP__PREV_EXITED,     /* the child was reaped */
    AIOTP__PREV_CLOSE,      /* close() */
    AIOTP__PREV_SIGNAL,     /* send_signal / terminate / kill */
    AIOTP__PREV_LOST,       /* the scheduled connection_lost runs */
    AIOTP__PREV_COUNT
} aiotp__proc_event;

/* Actions, a bit mask returned by aiotp__proc_step(). */
enum aiotp__proc_action {
    AIOTP__PRA_NONE = 0u,
    AIOTP__PRA_REFUSED = 1u << 0,        /* event not allowed now; state unchanged */
    AIOTP__PRA_CALL_MADE = 1u << 1,      /* call connection_made */
    AIOTP__PRA_CALL_EXITED = 1u << 2,    /* call process_exited */
    AIOTP__PRA_CALL_DATA = 1u << 3,      /* call pipe_data_received(fd) */
    AIOTP__PRA_CALL_PIPE_LOST = 1u << 4, /* call pipe_connection_lost(fd) */
    AIOTP__PRA_CLOSE_PIPES = 1u << 5,    /* close every pipe still open */
    AIOTP__PRA_KILL = 1u << 6,           /* send SIGKILL to the child */
    AIOTP__PRA_SEND_SIGNAL = 1u << 7,    /* send the signal asked for */
    AIOTP__PRA_SCHEDULE_LOST = 1u << 8,  /* schedule connection_lost for the next pass */
    AIOTP__PRA_CALL_LOST = 1u << 9       /* call connection_lost now */
};

/* Allowed edges of the enumerated parts: [from][to] (no self-edges). */
extern const bool aiotp__pr_life_edges[AIOTP__PR_LIFE_COUNT][AIOTP__PR_LIFE_COUNT];
extern const bool aiotp__pr_ph_edges[AIOTP__PR_PH_COUNT][AIOTP__PR_PH_COUNT];
extern const bool aiotp__pr_exit_edges[AIOTP__PR_EXIT_COUNT][AIOTP__PR_EXIT_COUNT];

/* Names, for diagrams, the table check and messages. */
extern const char *const aiotp__pr_life_names[AIOTP__PR_LIFE_COUNT];
extern const char *const aiotp__pr_ph_names[AIOTP__PR_PH_COUNT];
extern const char *const aiotp__pr_exit_names[AIOTP__PR_EXIT_COUNT];
extern const char *const aiotp__proc_event_names[AIOTP__PREV_COUNT];

#ifdef __FRAMAC__
#include "acsl/proc.acsl" /* ProcValid, ProcEdges, ProcNext*, ProcActs */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-PROC-*). */

/* Initial state: OPEN, INIT, RUNNING, the given pipes open, not closing. */
/*@ requires valid_ptr: \valid(s);
    requires pipes_in_range: pipes <= 7;
    assigns *s;
    ensures initial: s->life == AIOTP__PR_OPEN && s->ph == AIOTP__PR_PH_INIT &&
                     s->exit == AIOTP__PR_RUNNING && s->pipes == pipes && s->closing == 0;
    ensures valid: ProcValid(*s);
*/
void aiotp__proc_init(aiotp__proc_state *s, unsigned pipes);

/* Every part in range and the invariants above hold. */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures is_valid_iff: \result != 0 <==> ProcValid(*s);
*/
bool aiotp__proc_is_valid(const aiotp__proc_state *s);

/*
 * Apply one event; fd (0..2) names the pipe of PIPE_DATA and PIPE_LOST and is ignored
 * otherwise. Returns the actions; AIOTP__PRA_REFUSED (alone) if the event is not allowed
 * now, in which case *s is unchanged.
 */
/*@ requires valid_ptr: \valid(s);
    requires valid: ProcValid(*s);
    assigns *s;
    ensures next_life: s->life == ProcNextLife(\old(*s), ev, fd);
    ensures next_ph: s->ph == ProcNextPh(\old(*s), ev, fd);
    ensures next_exit: s->exit == ProcNextExit(\old(*s), ev, fd);
    ensures next_pipes: s->pipes == ProcNextPipes(\old(*s), ev, fd);
    ensures next_closing: s->closing == ProcNextClosing(\old(*s), ev, fd);
    ensures acts: \result == ProcActs(\old(*s), ev, fd);
    ensures PROC_INV: ProcValid(*s);
    ensures edges: ProcEdges(\old(*s), *s);
    ensures refused_alone: \result == AIOTP__PRA_REFUSED ==> ProcSame(\old(*s), *s);
    ensures made_on_entry: PrHas(\result, AIOTP__PRA_CALL_MADE) <==>
              (\old(s->ph) == AIOTP__PR_PH_INIT && s->ph == AIOTP__PR_PH_CONNECTED);
    ensures exited_on_entry: PrHas(\result, AIOTP__PRA_CALL_EXITED) <==>
              (\old(s->exit) != AIOTP__PR_TOLD && s->exit == AIOTP__PR_TOLD);
    ensures lost_on_entry: PrHas(\result, AIOTP__PRA_CALL_LOST) <==>
              (\old(s->ph) != AIOTP__PR_PH_LOST && s->ph == AIOTP__PR_PH_LOST);
    ensures lost_when_all_done: PrHas(\result, AIOTP__PRA_SCHEDULE_LOST) <==>
              (\old(s->life) == AIOTP__PR_OPEN && s->life == AIOTP__PR_LOST_PENDING);
    ensures data_on_open_pipe: PrHas(\result, AIOTP__PRA_CALL_DATA) ==>
              (\old(s->ph) == AIOTP__PR_PH_CONNECTED && (fd == 1 || fd == 2) &&
               PrBit(\old(s->pipes), fd));
    ensures pipe_lost_once: PrHas(\result, AIOTP__PRA_CALL_PIPE_LOST) ==>
              (\old(s->ph) == AIOTP__PR_PH_CONNECTED && PrBit(\old(s->pipes), fd) &&
               !PrBit(s->pipes, fd));
    ensures kill_running: PrHas(\result, AIOTP__PRA_KILL) ==> \old(s->exit) == AIOTP__PR_RUNNING;
    ensures signal_running: PrHas(\result, AIOTP__PRA_SEND_SIGNAL) ==>
              \old(s->exit) == AIOTP__PR_RUNNING;
    behavior final:
      assumes s->ph == AIOTP__PR_PH_LOST;
      ensures no_op: \result == AIOTP__PRA_REFUSED;
      ensures unchanged: ProcSame(\old(*s), *s);
*/
unsigned aiotp__proc_step(aiotp__proc_state *s, aiotp__proc_event ev, int fd);

/* close() was called (BaseTransport.is_closing). */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures result: \result != 0 <==> (s->closing != 0 || s->ph == AIOTP__PR_PH_LOST);
*/
bool aiotp__proc_is_closing(const aiotp__proc_state *s);

#endif /* AIOTP_CORE_PROC_SM_H */
