/*
 * src/core/dgram_sm.h - the datagram transport state machine (UDP and Unix datagram
 * sockets).
 *
 * Pure module: no system calls, no allocation, no callbacks. The transport feeds it an
 * event; it changes the state along the edges of the tables below and returns the
 * actions the transport must carry out. Every state change of a datagram transport
 * happens in aiotp__dgram_step(). Its contract is functional: for every state and event
 * it states the next state (DgramNextLife/Rd/Ph) and the actions (DgramActs), the table
 * of spec/datagram-transport.md written as ACSL logic (proofs/acsl/dgram.acsl).
 *
 * The state has three orthogonal parts (spec/datagram-transport.md):
 *
 * life - the lifecycle of the transport
 *
 *        close(), datagrams queued         queue drained
 *   OPEN ------------------------> CLOSING ---------------------------> CLOSED
 *    |                               |      (connection_lost called now)  ^
 *    | close() with an empty queue,  | abort(), fatal error                |
 *    | abort(), fatal error          v                                     |
 *    +-------------------------> LOST_PENDING ----------------------------+
 *                                           scheduled connection_lost runs
 *
 * rd   - the receiving side
 *
 *   ACTIVE <--pause_reading/resume_reading--> PAUSED
 *     +--------------------+---------------------+--> STOPPED (life left OPEN)
 *
 * ph   - what the protocol has been told (the documented state machine
 *        connection_made [datagram_received | error_received]* connection_lost)
 *
 *   INIT --connection_made--> CONNECTED --connection_lost--> LOST
 *
 * Invariants (aiotp__dgram_is_valid, DGRAM-INV-1..3):
 *   life != OPEN  ==> rd == STOPPED
 *   life == CLOSED <==> ph == LOST
 *   ph == INIT    ==> life == OPEN
 */
#ifndef AIOTP_CORE_DGRAM_SM_H
#define AIOTP_CORE_DGRAM_SM_H

#include <stdbool.h>
#include <stddef.h>

typedef enum aiotp__dg_life {
    AIOTP__DG_OPEN = 0,     /* reading and sending allowed */
    AIOTP__DG_CLOSING,      /* close() with datagrams queued: flushing, not reading */
    AIOTP__DG_LOST_PENDING, /* connection_lost scheduled; queue empty; no I/O */
    AIOTP__DG_CLOSED,       /* connection_lost delivered, socket closed: final */
    AIOTP__DG_LIFE_COUNT
} aiotp__dg_life;

typedef enum aiotp__dg_rd {
    AIOTP__DG_RD_ACTIVE = 0, /* reading (once connection_made has run) */
    AIOTP__DG_RD_PAUSED,     /* pause_reading() */
    AIOTP__DG_RD_STOPPED,    /* the transport is closing or closed */
    AIOTP__DG_RD_COUNT
} aiotp__dg_rd;

typedef enum aiotp__dg_ph {
    AIOTP__DG_PH_INIT = 0,  /* connection_made not yet called */
    AIOTP__DG_PH_CONNECTED, /* connection_made called */
    AIOTP__DG_PH_LOST,      /* connection_lost called: final */
    AIOTP__DG_PH_COUNT
} aiotp__dg_ph;

typedef struct aiotp__dgram_state {
    aiotp__dg_life life;
    aiotp__dg_rd rd;
    aiotp__dg_ph ph;
} aiotp__dgram_state;

typedef enum aiotp__dgram_event {
    AIOTP__DGEV_MADE = 0,       /* deliver connection_made */
    AIOTP__DGEV_READER_START,   /* right after connection_made: arm the reader */
    AIOTP__DGEV_PAUSE_READING,  /* pause_reading() */
    AIOTP__DGEV_RESUME_READING, /* resume_reading() */
    AIOTP__DGEV_RECV,           /* a read event: may a datagram or a receive error be told? */
    AIOTP__DGEV_SEND,           /* sendto(): may a datagram be sent or queued? */
    AIOTP__DGEV_SEND_ERROR,     /* a send failed: may error_received be called? */
    AIOTP__DGEV_CLOSE,          /* close() */
    AIOTP__DGEV_ABORT,          /* abort() */
    AIOTP__DGEV_FATAL,          /* an error that ends the transport (e.g. cannot watch) */
    AIOTP__DGEV_DRAINED,        /* the drain path emptied the queue */
    AIOTP__DGEV_LOST,           /* the scheduled connection_lost runs */
    AIOTP__DGEV_COUNT
} aiotp__dgram_event;

/* Actions, a bit mask returned by aiotp__dgram_step(). */
enum aiotp__dgram_action {
    AIOTP__DGA_NONE = 0u,
    AIOTP__DGA_REFUSED = 1u << 0,       /* event not allowed now; state unchanged */
    AIOTP__DGA_CALL_MADE = 1u << 1,     /* call connection_made */
    AIOTP__DGA_START_READER = 1u << 2,  /* watch the socket for reading */
    AIOTP__DGA_STOP_READER = 1u << 3,   /* stop watching for reading */
    AIOTP__DGA_DELIVER = 1u << 4,       /* receive: datagram_received or error_received */
    AIOTP__DGA_CALL_ERROR = 1u << 5,    /* call error_received for the failed send */
    AIOTP__DGA_STOP_WRITER = 1u << 6,   /* stop watching for writing */
    AIOTP__DGA_DROP_QUEUE = 1u << 7,    /* discard the queued datagrams */
    AIOTP__DGA_SCHEDULE_LOST = 1u << 8, /* schedule connection_lost for the next pass */
    AIOTP__DGA_CALL_LOST = 1u << 9      /* call connection_lost now, then close the socket */
};

/* Allowed edges of each part: [from][to] (a part that does not change is no edge). */
extern const bool aiotp__dg_life_edges[AIOTP__DG_LIFE_COUNT][AIOTP__DG_LIFE_COUNT];
extern const bool aiotp__dg_rd_edges[AIOTP__DG_RD_COUNT][AIOTP__DG_RD_COUNT];
extern const bool aiotp__dg_ph_edges[AIOTP__DG_PH_COUNT][AIOTP__DG_PH_COUNT];

/* Names, for traces, diagrams, the table check and messages. */
extern const char *const aiotp__dg_life_names[AIOTP__DG_LIFE_COUNT];
extern const char *const aiotp__dg_rd_names[AIOTP__DG_RD_COUNT];
extern const char *const aiotp__dg_ph_names[AIOTP__DG_PH_COUNT];
extern const char *const aiotp__dgram_event_names[AIOTP__DGEV_COUNT];

#ifdef __FRAMAC__
#include "acsl/dgram.acsl" /* DgramValid, DgramEdges, DgramNextLife/Rd/Ph, DgramActs */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-DGRAM-*). */

/* Initial state: OPEN, ACTIVE, INIT. */
/*@ requires valid_ptr: \valid(s);
    assigns *s;
    ensures initial: s->life == AIOTP__DG_OPEN && s->rd == AIOTP__DG_RD_ACTIVE &&
                     s->ph == AIOTP__DG_PH_INIT;
    ensures valid: DgramValid(*s);
*/
void aiotp__dgram_init(aiotp__dgram_state *s);

/* Every part in range and the invariants above hold. */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures is_valid_iff: \result != 0 <==> DgramValid(*s);
*/
bool aiotp__dgram_is_valid(const aiotp__dgram_state *s);

/*
 * Apply one event. queue_empty tells whether no datagram is queued now. Returns the
 * actions; AIOTP__DGA_REFUSED (alone) if the event is not allowed in this state, in which
 * case *s is unchanged. The functional clauses give the next state and the actions for
 * every state and event; the safety clauses follow from them and are stated for readers.
 */
/*@ requires valid_ptr: \valid(s);
    requires valid: DgramValid(*s);
    assigns *s;
    ensures next_life: s->life == DgramNextLife(\old(*s), ev, queue_empty);
    ensures next_rd: s->rd == DgramNextRd(\old(*s), ev, queue_empty);
    ensures next_ph: s->ph == DgramNextPh(\old(*s), ev, queue_empty);
    ensures acts: \result == DgramActs(\old(*s), ev, queue_empty);
    ensures DGRAM_INV: DgramValid(*s);
    ensures edges: DgramEdges(\old(*s), *s);
    ensures refused_alone: \result == AIOTP__DGA_REFUSED ==> DgramSame(\old(*s), *s);
    ensures made_on_entry: DgHas(\result, AIOTP__DGA_CALL_MADE) <==>
              (\old(s->ph) == AIOTP__DG_PH_INIT && s->ph == AIOTP__DG_PH_CONNECTED);
    ensures lost_on_entry: DgHas(\result, AIOTP__DGA_CALL_LOST) <==>
              (\old(s->ph) != AIOTP__DG_PH_LOST && s->ph == AIOTP__DG_PH_LOST);
    ensures deliver_when_reading: DgHas(\result, AIOTP__DGA_DELIVER) ==>
              (\old(s->life) == AIOTP__DG_OPEN && \old(s->rd) == AIOTP__DG_RD_ACTIVE &&
               \old(s->ph) == AIOTP__DG_PH_CONNECTED);
    ensures error_when_connected: DgHas(\result, AIOTP__DGA_CALL_ERROR) ==>
              \old(s->ph) == AIOTP__DG_PH_CONNECTED && s->ph == AIOTP__DG_PH_CONNECTED;
    ensures no_silent_drop: (\old(s->life) != AIOTP__DG_LOST_PENDING &&
                             s->life == AIOTP__DG_LOST_PENDING) ==>
              (queue_empty || DgHas(\result, AIOTP__DGA_DROP_QUEUE));
    behavior final:
      assumes s->ph == AIOTP__DG_PH_LOST;
      ensures no_op: \result == AIOTP__DGA_REFUSED || \result == AIOTP__DGA_NONE;
      ensures unchanged: DgramSame(\old(*s), *s);
*/
unsigned aiotp__dgram_step(aiotp__dgram_state *s, aiotp__dgram_event ev, bool queue_empty);

/* Queries (no state change). */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures result: \result != 0 <==> s->life != AIOTP__DG_OPEN;
*/
bool aiotp__dgram_is_closing(const aiotp__dgram_state *s);
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures result: \result != 0 <==> (s->life == AIOTP__DG_OPEN && s->rd == AIOTP__DG_RD_ACTIVE);
*/
bool aiotp__dgram_is_reading(const aiotp__dgram_state *s);

#endif /* AIOTP_CORE_DGRAM_SM_H */
