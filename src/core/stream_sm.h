/*
 * src/core/stream_sm.h - the stream transport state machine (TCP and Unix sockets).
 *
 * Pure module: no system calls, no allocation, no callbacks. The transport feeds it an
 * event, it changes the state through edges of the tables below, and it returns the
 * actions the transport must carry out (start/stop the reader, call connection_lost
 * now, ...). All state changes of a stream transport happen in aiotp__stream_step().
 *
 * The state has four orthogonal parts (spec/stream-transport.md, "State"):
 *
 * life  - the lifecycle of the transport
 *
 *        close(), buffer pending           buffer drained
 *   OPEN ------------------------> CLOSING ---------------------------> CLOSED
 *    |                               |      (connection_lost called now)  ^
 *    | close() with empty buffer,    | abort(), fatal error                |
 *    | abort(), fatal error          v                                     |
 *    +-------------------------> LOST_PENDING ----------------------------+
 *                                           scheduled connection_lost runs
 *
 * rd    - the receiving side
 *
 *   ACTIVE <--pause_reading/resume_reading--> PAUSED
 *     |  \ peer EOF, eof_received kept it open      |
 *     |   +-------------------------> EOF            |
 *     +---------------+-------------------+----------+--> STOPPED (life left OPEN)
 *
 * wr    - the sending side
 *
 *   OPEN --write_eof(), buffer pending--> EOF_PENDING --drained--> SHUT
 *     +-------------write_eof(), buffer empty-----------------------^
 *
 * ph    - what the protocol has been told (the documented state machine
 *         connection_made [data_received]* [eof_received]? connection_lost)
 *
 *   INIT --connection_made--> CONNECTED --eof_received--> EOF
 *                                 |                        |
 *                                 +---connection_lost--> LOST <--+
 *
 * Invariants (aiotp__stream_is_valid, spec STREAM-INV-1..4):
 *   life != OPEN  ==> rd == STOPPED
 *   life == CLOSED <==> ph == LOST
 *   ph == INIT    ==> life == OPEN (nothing happens before connection_made)
 *   ph == EOF     ==> rd == EOF or rd == STOPPED
 */
#ifndef AIOTP_CORE_STREAM_SM_H
#define AIOTP_CORE_STREAM_SM_H

#include <stdbool.h>
#include <stddef.h>

typedef enum aiotp__life {
    AIOTP__LIFE_OPEN = 0,     /* connected; reading and writing allowed */
    AIOTP__LIFE_CLOSING,      /* close() with data buffered: flushing, not reading */
    AIOTP__LIFE_LOST_PENDING, /* connection_lost scheduled; buffer empty; no I/O */
    AIOTP__LIFE_CLOSED,       /* connection_lost delivered, fd closed: final */
    AIOTP__LIFE_COUNT
} aiotp__life;

typedef enum aiotp__rd {
    AIOTP__RD_ACTIVE = 0, /* reading (once connection_made has run) */
    AIOTP__RD_PAUSED,     /* pause_reading() */
    AIOTP__RD_EOF,        /* peer EOF seen and kept open: never reads again */
    AIOTP__RD_STOPPED,    /* the transport is closing or closed */
    AIOTP__RD_COUNT
} aiotp__rd;

typedef enum aiotp__wr {
    AIOTP__WR_OPEN = 0,    /* write() allowed */
    AIOTP__WR_EOF_PENDING, /* write_eof() called, shutdown after the drain */
    AIOTP__WR_SHUT,        /* shutdown(SHUT_WR) done */
    AIOTP__WR_COUNT
} aiotp__wr;

typedef enum aiotp__ph {
    AIOTP__PH_INIT = 0,  /* connection_made not yet called */
    AIOTP__PH_CONNECTED, /* connection_made called */
    AIOTP__PH_EOF,       /* eof_received called */
    AIOTP__PH_LOST,      /* connection_lost called: final */
    AIOTP__PH_COUNT
} aiotp__ph;

typedef struct aiotp__stream_state {
    aiotp__life life;
    aiotp__rd rd;
    aiotp__wr wr;
    aiotp__ph ph;
} aiotp__stream_state;

typedef enum aiotp__stream_event {
    AIOTP__EV_MADE = 0,       /* deliver connection_made */
    AIOTP__EV_READER_START,   /* right after connection_made: arm the reader */
    AIOTP__EV_PAUSE_READING,  /* pause_reading() */
    AIOTP__EV_RESUME_READING, /* resume_reading() */
    AIOTP__EV_DATA,           /* data read: may the protocol be told? */
    AIOTP__EV_EOF,            /* peer EOF read: deliver eof_received */
    AIOTP__EV_CLOSE,          /* close(), or eof_received returned false */
    AIOTP__EV_ABORT,          /* abort() */
    AIOTP__EV_FATAL,          /* I/O error or failed callback */
    AIOTP__EV_WRITE_EOF,      /* write_eof() */
    AIOTP__EV_DRAINED,        /* the drain path emptied the buffer */
    AIOTP__EV_LOST,           /* the scheduled connection_lost runs */
    AIOTP__EV_COUNT
} aiotp__stream_event;

/* Actions, a bit mask returned by aiotp__stream_step(). */
enum aiotp__stream_action {
    AIOTP__ACT_NONE = 0u,
    AIOTP__ACT_REFUSED = 1u << 0,      /* event not allowed now; state unchanged */
    AIOTP__ACT_CALL_MADE = 1u << 1,    /* call connection_made */
    AIOTP__ACT_START_READER = 1u << 2, /* watch the fd for reading */
    AIOTP__ACT_STOP_READER = 1u << 3,  /* stop watching for reading */
    AIOTP__ACT_DELIVER = 1u << 4,      /* call data_received / get_buffer path */
    AIOTP__ACT_CALL_EOF = 1u << 5,     /* call eof_received */
    AIOTP__ACT_STOP_WRITER = 1u << 6,  /* stop watching for writing */
    AIOTP__ACT_DROP_BUFFER = 1u << 7,  /* discard buffered data */
    AIOTP__ACT_SCHEDULE_LOST = 1u << 8,/* schedule connection_lost for the next pass */
    AIOTP__ACT_CALL_LOST = 1u << 9,    /* call connection_lost now, then close the fd */
    AIOTP__ACT_SHUTDOWN_WR = 1u << 10  /* shutdown(SHUT_WR) now */
};

/* Allowed edges of each part: [from][to] (a part that does not change is no edge). */
extern const bool aiotp__life_edges[AIOTP__LIFE_COUNT][AIOTP__LIFE_COUNT];
extern const bool aiotp__rd_edges[AIOTP__RD_COUNT][AIOTP__RD_COUNT];
extern const bool aiotp__wr_edges[AIOTP__WR_COUNT][AIOTP__WR_COUNT];
extern const bool aiotp__ph_edges[AIOTP__PH_COUNT][AIOTP__PH_COUNT];

/* Names, for traces, diagrams and messages. */
extern const char *const aiotp__life_names[AIOTP__LIFE_COUNT];
extern const char *const aiotp__rd_names[AIOTP__RD_COUNT];
extern const char *const aiotp__wr_names[AIOTP__WR_COUNT];
extern const char *const aiotp__ph_names[AIOTP__PH_COUNT];
extern const char *const aiotp__stream_event_names[AIOTP__EV_COUNT];

#ifdef __FRAMAC__
#include "acsl/stream_table.acsl" /* generated: StreamNext*, StreamActs, *Edge */
#include "acsl/stream.acsl"       /* StreamValid, StreamEdges, Has, ... */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-STREAM-*). */

/* Initial state: OPEN, ACTIVE, OPEN, INIT. */
/*@ requires valid_ptr: \valid(s);
    assigns *s;
    ensures initial: s->life == AIOTP__LIFE_OPEN && s->rd == AIOTP__RD_ACTIVE &&
                     s->wr == AIOTP__WR_OPEN && s->ph == AIOTP__PH_INIT;
    ensures valid: StreamValid(*s);
*/
void aiotp__stream_init(aiotp__stream_state *s);

/* Every part in range and the invariants above hold. */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures is_valid_iff: \result != 0 <==> StreamValid(*s);
*/
bool aiotp__stream_is_valid(const aiotp__stream_state *s);

/* Apply one event. buffer_empty tells whether the write buffer is empty now. Returns
   the actions; AIOTP__ACT_REFUSED (alone) if the event is not allowed in this state,
   in which case *s is unchanged. */
/*@ requires valid_ptr: \valid(s);
    requires valid: StreamValid(*s);
    assigns *s;
    ensures next: StreamNext(\old(*s), *s, ev, buffer_empty);
    ensures acts: \result == StreamActs(\old(*s), ev, buffer_empty);
    ensures STREAM_INV: StreamValid(*s);
    ensures edges: StreamEdges(\old(*s), *s);
    ensures acts_in_range: StreamActsInRange(\result);
    ensures refused_alone: Has(\result, AIOTP__ACT_REFUSED) ==>
              \result == AIOTP__ACT_REFUSED && *s == \old(*s);
    ensures made_on_entry: Has(\result, AIOTP__ACT_CALL_MADE) <==>
              (\old(s->ph) == AIOTP__PH_INIT && s->ph == AIOTP__PH_CONNECTED);
    ensures deliver_when_connected: Has(\result, AIOTP__ACT_DELIVER) ==>
              (\old(s->life) == AIOTP__LIFE_OPEN && \old(s->rd) == AIOTP__RD_ACTIVE &&
               \old(s->ph) == AIOTP__PH_CONNECTED && *s == \old(*s));
    ensures eof_on_entry: Has(\result, AIOTP__ACT_CALL_EOF) <==>
              (\old(s->ph) == AIOTP__PH_CONNECTED && s->ph == AIOTP__PH_EOF);
    ensures nothing_after_eof: (\old(s->ph) == AIOTP__PH_EOF || \old(s->ph) == AIOTP__PH_LOST ||
                                \old(s->life) != AIOTP__LIFE_OPEN) ==>
              !Has(\result, AIOTP__ACT_DELIVER) && !Has(\result, AIOTP__ACT_CALL_EOF);
    ensures lost_on_entry: Has(\result, AIOTP__ACT_CALL_LOST) <==>
              (\old(s->ph) != AIOTP__PH_LOST && s->ph == AIOTP__PH_LOST);
    ensures schedule_on_entry: Has(\result, AIOTP__ACT_SCHEDULE_LOST) <==>
              (\old(s->life) != AIOTP__LIFE_LOST_PENDING && s->life == AIOTP__LIFE_LOST_PENDING);
    ensures no_silent_drop: (\old(s->life) != AIOTP__LIFE_LOST_PENDING &&
                             s->life == AIOTP__LIFE_LOST_PENDING) ==>
              (buffer_empty || Has(\result, AIOTP__ACT_DROP_BUFFER));
    ensures shutdown_on_entry: Has(\result, AIOTP__ACT_SHUTDOWN_WR) <==>
              (\old(s->wr) != AIOTP__WR_SHUT && s->wr == AIOTP__WR_SHUT);
    ensures reader_stopped: (StreamReading(\old(*s)) && !StreamReading(*s)) ==>
              Has(\result, AIOTP__ACT_STOP_READER);
    ensures reader_started: Has(\result, AIOTP__ACT_START_READER) ==>
              (StreamReading(*s) && s->ph == AIOTP__PH_CONNECTED);
    behavior final:
      assumes StreamFinal(*s);
      ensures no_op: \result == AIOTP__ACT_REFUSED || \result == AIOTP__ACT_NONE;
      ensures unchanged: *s == \old(*s);
    behavior unknown_event:
      assumes !(0 <= ev < AIOTP__EV_COUNT);
      ensures refused: \result == AIOTP__ACT_REFUSED && *s == \old(*s);
*/
unsigned aiotp__stream_step(aiotp__stream_state *s, aiotp__stream_event ev,
                            bool buffer_empty);

/* Queries (no state change). */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures result: \result != 0 <==> s->life != AIOTP__LIFE_OPEN;
*/
bool aiotp__stream_is_closing(const aiotp__stream_state *s); /* life != OPEN */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures result: \result != 0 <==> StreamReading(*s);
*/
bool aiotp__stream_is_reading(const aiotp__stream_state *s); /* OPEN and ACTIVE */
/* write() admission: 0 accepted, 1 refused because of write_eof, 2 dropped (closed) */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures in_range: 0 <= \result <= 2;
    behavior after_write_eof:
      assumes s->wr != AIOTP__WR_OPEN;
      ensures result: \result == 1;
    behavior dropped:
      assumes s->wr == AIOTP__WR_OPEN &&
              (s->life == AIOTP__LIFE_LOST_PENDING || s->life == AIOTP__LIFE_CLOSED);
      ensures result: \result == 2;
    behavior accepted:
      assumes s->wr == AIOTP__WR_OPEN &&
              (s->life == AIOTP__LIFE_OPEN || s->life == AIOTP__LIFE_CLOSING);
      ensures result: \result == 0;
    disjoint behaviors;
*/
int aiotp__stream_write_admission(const aiotp__stream_state *s);

#endif /* AIOTP_CORE_STREAM_SM_H */
