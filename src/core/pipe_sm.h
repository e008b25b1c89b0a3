/*
 * src/core/pipe_sm.h - the pipe transports' state machine (read pipes and write pipes:
 * connect_read_pipe, connect_write_pipe, and the pipes of a subprocess).
 *
 * Pure module: no system calls, no allocation, no callbacks. The transport feeds it an
 * event; it changes the state along the edges of the tables below and returns the
 * actions the transport must carry out. Every state change of a pipe transport happens in
 * aiotp__pipe_step(). Its contract is functional: for every state and event it states the
 * next state (PipeNextLife/Rd/Ph) and the actions (PipeActs), the table of
 * spec/pipe-transport.md written as ACSL logic (proofs/acsl/pipe.acsl).
 *
 * One machine for both directions (the direction is part of the state and never changes):
 * they share the lifecycle and what the protocol is told, and differ in which events they
 * take (a read pipe reads and sees end of file; a write pipe writes, drains, and notices
 * that its reader went away). Why not the stream machine's halves: spec/pipe-transport.md.
 *
 * life - the lifecycle
 *
 *        close()/write_eof() with bytes queued      drained
 *   OPEN -------------------------------> CLOSING -----------> CLOSED  (write pipe)
 *    |  \                                   |                    ^
 *    |   \ end of file (read pipe)          | abort, fatal,      |
 *    |    +----------> EOF_PENDING ---------|--------------------+ (eof_received, then
 *    |                                      | reader gone        |  connection_lost)
 *    | close() (empty), abort, fatal,       v                    |
 *    | reader gone ---------------> LOST_PENDING ---------------+  scheduled
 *                                                                   connection_lost
 * rd   - reading (read pipes; a write pipe's rd is STOPPED from the start)
 *
 *   ACTIVE <--pause_reading/resume_reading--> PAUSED;  both --> STOPPED when life leaves OPEN
 *
 * ph   - what the protocol has been told
 *
 *   INIT --connection_made--> CONNECTED --connection_lost--> LOST
 *
 * Invariants (aiotp__pipe_is_valid, PIPE-INV-1..5):
 *   life != OPEN  ==> rd == STOPPED
 *   life == CLOSED <==> ph == LOST
 *   ph == INIT    ==> life == OPEN
 *   dir == WRITE  ==> rd == STOPPED && life != EOF_PENDING
 *   dir == READ   ==> life != CLOSING
 */
#ifndef AIOTP_CORE_PIPE_SM_H
#define AIOTP_CORE_PIPE_SM_H

#include <stdbool.h>
#include <stddef.h>

typedef enum aiotp__pp_dir {
    AIOTP__PP_READ = 0, /* a read pipe (ReadTransport) */
    AIOTP__PP_WRITE,    /* a write pipe (WriteTransport) */
    AIOTP__PP_DIR_COUNT
} aiotp__pp_dir;

typedef enum aiotp__pp_life {
    AIOTP__PP_OPEN = 0,     /* reading / writing allowed */
    AIOTP__PP_CLOSING,      /* write pipe: close()/write_eof() with bytes queued: flushing */
    AIOTP__PP_EOF_PENDING,  /* read pipe: end of file read; eof_received and
                               connection_lost scheduled */
    AIOTP__PP_LOST_PENDING, /* connection_lost scheduled; nothing queued; no I/O */
    AIOTP__PP_CLOSED,       /* connection_lost delivered, pipe closed: final */
    AIOTP__PP_LIFE_COUNT
} aiotp__pp_life;

typedef enum aiotp__pp_rd {
    AIOTP__PP_RD_ACTIVE = 0, /* reading (once connection_made has run) */
    AIOTP__PP_RD_PAUSED,     /* pause_reading() */
    AIOTP__PP_RD_STOPPED,    /* closing or closed, or a write pipe */
    AIOTP__PP_RD_COUNT
} aiotp__pp_rd;

typedef enum aiotp__pp_ph {
    AIOTP__PP_PH_INIT = 0,  /* connection_made not yet called */
    AIOTP__PP_PH_CONNECTED, /* connection_made called */
    AIOTP__PP_PH_LOST,      /* connection_lost called: final */
    AIOTP__PP_PH_COUNT
} aiotp__pp_ph;

typedef struct aiotp__pipe_state {
    aiotp__pp_dir dir;
    aiotp__pp_life life;
    aiotp__pp_rd rd;
    aiotp__pp_ph ph;
} aiotp__pipe_state;

typedef enum aiotp__pipe_event {
    AIOTP__PPEV_MADE = 0,       /* deliver connection_made */
    AIOTP__PPEV_READER_START,   /* right after it: arm the reader (write pipe: the watch
                                   that notices the reader going away) */
    AIOTP__PPEV_PAUSE_READING,  /* pause_reading() (read pipe) */
    AIOTP__PPEV_RESUME_READING, /* resume_reading() (read pipe) */
    AIOTP__PPEV_READ,           /* a read event (read pipe): may bytes be read and told? */
    AIOTP__PPEV_EOF,            /* the read returned end of file (read pipe) */
    AIOTP__PPEV_WRITE,          /* write()/writelines(): may bytes be sent or queued? */
    AIOTP__PPEV_CLOSE,          /* close() */
    AIOTP__PPEV_WRITE_EOF,      /* write_eof() (write pipe: the same as close) */
    AIOTP__PPEV_ABORT,          /* abort() (write pipe) */
    AIOTP__PPEV_FATAL,          /* a read or write error that ends the transport */
    AIOTP__PPEV_PEER_CLOSED,    /* write pipe: the watch fired: the reader went away */
    AIOTP__PPEV_DRAINED,        /* write pipe: the drain emptied the buffer */
    AIOTP__PPEV_LOST,           /* the scheduled connection_lost runs */
    AIOTP__PPEV_COUNT
} aiotp__pipe_event;

/* Actions, a bit mask returned by aiotp__pipe_step(). */
enum aiotp__pipe_action {
    AIOTP__PPA_NONE = 0u,
    AIOTP__PPA_REFUSED = 1u << 0,       /* event not allowed now; state unchanged */
    AIOTP__PPA_CALL_MADE = 1u << 1,     /* call connection_made */
    AIOTP__PPA_START_READER = 1u << 2,  /* watch the fd for reading */
    AIOTP__PPA_STOP_READER = 1u << 3,   /* stop watching it for reading */
    AIOTP__PPA_DELIVER = 1u << 4,       /* read once: data_received, or end of file */
    AIOTP__PPA_STOP_WRITER = 1u << 5,   /* stop watching for writing */
    AIOTP__PPA_DROP_BUFFER = 1u << 6,   /* discard the queued bytes */
    AIOTP__PPA_SCHEDULE_LOST = 1u << 7, /* schedule connection_lost for the next pass */
    AIOTP__PPA_CALL_EOF = 1u << 8,      /* call eof_received (its result is ignored) */
    AIOTP__PPA_CALL_LOST = 1u << 9      /* call connection_lost now, then close the fd */
};

/* Allowed edges of each part: [from][to] (a part that does not change is no edge). */
extern const bool aiotp__pp_life_edges[AIOTP__PP_LIFE_COUNT][AIOTP__PP_LIFE_COUNT];
extern const bool aiotp__pp_rd_edges[AIOTP__PP_RD_COUNT][AIOTP__PP_RD_COUNT];
extern const bool aiotp__pp_ph_edges[AIOTP__PP_PH_COUNT][AIOTP__PP_PH_COUNT];

/* Names, for traces, diagrams, the table check and messages. */
extern const char *const aiotp__pp_dir_names[AIOTP__PP_DIR_COUNT];
extern const char *const aiotp__pp_life_names[AIOTP__PP_LIFE_COUNT];
extern const char *const aiotp__pp_rd_names[AIOTP__PP_RD_COUNT];
extern const char *const aiotp__pp_ph_names[AIOTP__PP_PH_COUNT];
extern const char *const aiotp__pipe_event_names[AIOTP__PPEV_COUNT];

#ifdef __FRAMAC__
#include "acsl/pipe.acsl" /* PipeValid, PipeEdges, PipeNextLife/Rd/Ph, PipeActs */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-PIPE-*). */

/* Initial state: OPEN, INIT; a read pipe ACTIVE, a write pipe STOPPED. */
/*@ requires valid_ptr: \valid(s);
    requires dir_in_range: dir == AIOTP__PP_READ || dir == AIOTP__PP_WRITE;
    assigns *s;
    ensures initial: s->dir == dir && s->life == AIOTP__PP_OPEN && s->ph == AIOTP__PP_PH_INIT &&
                     s->rd == (dir == AIOTP__PP_READ ? AIOTP__PP_RD_ACTIVE : AIOTP__PP_RD_STOPPED);
    ensures valid: PipeValid(*s);
*/
void aiotp__pipe_init(aiotp__pipe_state *s, aiotp__pp_dir dir);

/* Every part in range and the invariants above hold. */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures is_valid_iff: \result != 0 <==> PipeValid(*s);
*/
bool aiotp__pipe_is_valid(const aiotp__pipe_state *s);

/*
 * Apply one event. buffer_empty tells whether no byte is queued now (write pipes; a read
 * pipe's is always true). Returns the actions; AIOTP__PPA_REFUSED (alone) if the event is
 * not allowed in this state, in which case *s is unchanged. The functional clauses give
 * the next state and the actions for every state and event; the safety clauses follow
 * from them and are stated for readers.
 */
/*@ requires valid_ptr: \valid(s);
    requires valid: PipeValid(*s);
    assigns *s;
    ensures next_life: s->life == PipeNextLife(\old(*s), ev, buffer_empty);
    ensures next_rd: s->rd == PipeNextRd(\old(*s), ev, buffer_empty);
    ensures next_ph: s->ph == PipeNextPh(\old(*s), ev, buffer_empty);
    ensures acts: \result == PipeActs(\old(*s), ev, buffer_empty);
    ensures dir_kept: s->dir == \old(s->dir);
    ensures PIPE_INV: PipeValid(*s);
    ensures edges: PipeEdges(\old(*s), *s);
    ensures refused_alone: \result == AIOTP__PPA_REFUSED ==> PipeSame(\old(*s), *s);
    ensures made_on_entry: PpHas(\result, AIOTP__PPA_CALL_MADE) <==>
              (\old(s->ph) == AIOTP__PP_PH_INIT && s->ph == AIOTP__PP_PH_CONNECTED);
    ensures lost_on_entry: PpHas(\result, AIOTP__PPA_CALL_LOST) <==>
              (\old(s->ph) != AIOTP__PP_PH_LOST && s->ph == AIOTP__PP_PH_LOST);
    ensures eof_before_lost: PpHas(\result, AIOTP__PPA_CALL_EOF) ==>
              (PpHas(\result, AIOTP__PPA_CALL_LOST) && \old(s->dir) == AIOTP__PP_READ);
    ensures deliver_when_reading: PpHas(\result, AIOTP__PPA_DELIVER) ==>
              (\old(s->dir) == AIOTP__PP_READ && \old(s->life) == AIOTP__PP_OPEN &&
               \old(s->rd) == AIOTP__PP_RD_ACTIVE && \old(s->ph) == AIOTP__PP_PH_CONNECTED);
    ensures no_silent_drop: (\old(s->life) != AIOTP__PP_LOST_PENDING &&
                             s->life == AIOTP__PP_LOST_PENDING) ==>
              (buffer_empty || \old(s->dir) == AIOTP__PP_READ ||
               PpHas(\result, AIOTP__PPA_DROP_BUFFER));
    behavior final:
      assumes s->ph == AIOTP__PP_PH_LOST;
      ensures no_op: \result == AIOTP__PPA_REFUSED || \result == AIOTP__PPA_NONE;
      ensures unchanged: PipeSame(\old(*s), *s);
*/
unsigned aiotp__pipe_step(aiotp__pipe_state *s, aiotp__pipe_event ev, bool buffer_empty);

/* Queries (no state change). */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures result: \result != 0 <==> s->life != AIOTP__PP_OPEN;
*/
bool aiotp__pipe_is_closing(const aiotp__pipe_state *s);
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures result: \result != 0 <==> (s->life == AIOTP__PP_OPEN && s->rd == AIOTP__PP_RD_ACTIVE);
*/
bool aiotp__pipe_is_reading(const aiotp__pipe_state *s);

#endif /* AIOTP_CORE_PIPE_SM_H */
