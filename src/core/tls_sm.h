/*
 * src/core/tls_sm.h - the TLS transport's state machine: the TLS layer (what the layer
 * does with the stream transport below) and the application protocol (what it has been
 * told), in one step function.
 *
 * Pure module: no system calls, no allocation, no callbacks, no OpenSSL. The TLS shell
 * (src/tls/tls.c) feeds it an event; it changes the state along the edges of the tables
 * below and returns the actions the shell must carry out. Every state change of a TLS
 * transport happens in aiotp__tls_step(). Its contract is functional: for every state and
 * event it states the next state (TlsNextLy/App/Rd) and the actions (TlsActs), the table
 * of spec/tls-transport.md written as ACSL logic (proofs/acsl/tls.acsl).
 *
 * ly  - the TLS layer (CPython 3.11's SSLProtocolState, with a final state of its own)
 *
 *   UNWRAPPED --start--> HANDSHAKE --hs_done--> WRAPPED --------close------> FLUSHING
 *       |                   |                      |                             |
 *       |                   |  hs_failed, timeout, |  abort, fatal, peer EOF     | flushed
 *       |                   |  close, abort, ...   |                             v
 *       +-------------------+----------------------+-------------------------> SHUTDOWN
 *                                   every path ends in CLOSED                    |
 *                                   (the layer let go of the transport below)    v
 *                                                                             CLOSED
 *
 * app - what the application protocol has been told (the documented
 *       connection_made [data_received]* [eof_received]? connection_lost)
 *
 *   INIT --hs_done--> CONNECTED --close_notify--> EOF
 *                        |                         |
 *                        +----lower_lost--> LOST <-+
 *
 *   After eof_received the shell closes the transport (close, whatever eof_received
 *   returned: TLS has no half-close), so EOF with ly WRAPPED lasts only while
 *   eof_received runs (it may still write there, as in CPython).
 *
 *   A handshake that fails leaves app INIT for good: the protocol is told nothing
 *   (connection_made and connection_lost never run; the completion gets the status).
 *
 * rd  - the application's reading (pause_reading/resume_reading): ACTIVE <-> PAUSED,
 *       changed only while the transport is not closing.
 *
 * Invariants (aiotp__tls_is_valid, TLS-INV-1..2, the ACSL predicate TlsValid):
 *   ly is UNWRAPPED or HANDSHAKE          ==> app == INIT
 *   ly is WRAPPED, FLUSHING or SHUTDOWN   ==> app is CONNECTED or EOF
 *   (so app == LOST ==> ly == CLOSED)
 */
#ifndef AIOTP_CORE_TLS_SM_H
#define AIOTP_CORE_TLS_SM_H

#include <stdbool.h>
#include <stddef.h>

typedef enum aiotp__tls_ly {
    AIOTP__TLS_UNWRAPPED = 0, /* the transport below is not connected yet */
    AIOTP__TLS_HANDSHAKE,     /* handshaking; the handshake timer is armed */
    AIOTP__TLS_WRAPPED,       /* application data flows both ways */
    AIOTP__TLS_FLUSHING,      /* close() or the peer's close_notify: the queued plaintext
                                 is sent, nothing more reaches the application; the
                                 shutdown timer is armed */
    AIOTP__TLS_SHUTDOWN,      /* close_notify sent, the peer's awaited */
    AIOTP__TLS_CLOSED,        /* the layer let go of the transport below (closed, aborted
                                 or lost): final */
    AIOTP__TLS_LY_COUNT
} aiotp__tls_ly;

typedef enum aiotp__tls_app {
    AIOTP__TLS_APP_INIT = 0,  /* connection_made not called (and never, if the handshake
                                 fails) */
    AIOTP__TLS_APP_CONNECTED, /* connection_made called (or, for start_tls, the protocol was
                                 connected on the transport below) and the handshake done */
    AIOTP__TLS_APP_EOF,       /* eof_received called (the peer's close_notify) */
    AIOTP__TLS_APP_LOST,      /* connection_lost called: final */
    AIOTP__TLS_APP_COUNT
} aiotp__tls_app;

typedef enum aiotp__tls_rd {
    AIOTP__TLS_RD_ACTIVE = 0, /* the application reads */
    AIOTP__TLS_RD_PAUSED,     /* pause_reading() */
    AIOTP__TLS_RD_COUNT
} aiotp__tls_rd;

typedef struct aiotp__tls_state {
    aiotp__tls_ly ly;
    aiotp__tls_app app;
    aiotp__tls_rd rd;
    bool upgrade; /* made by start_tls: no connection_made at the end of the handshake
                     (fixed at init) */
} aiotp__tls_state;

typedef enum aiotp__tls_event {
    AIOTP__TLSEV_START = 0,         /* the transport below is connected: start handshaking */
    AIOTP__TLSEV_HS_DONE,           /* the handshake completed */
    AIOTP__TLSEV_HS_FAILED,         /* the handshake failed (alert, certificate, no memory) */
    AIOTP__TLSEV_HS_TIMEOUT,        /* the handshake timer fired */
    AIOTP__TLSEV_INCOMING,          /* bytes from below arrived, or a scheduled read runs:
                                       what may be done with them? */
    AIOTP__TLSEV_CLOSE_NOTIFY,      /* the peer's close_notify was read: eof_received */
    AIOTP__TLSEV_PEER_EOF,          /* the transport below read EOF without close_notify */
    AIOTP__TLSEV_CLOSE,             /* close() */
    AIOTP__TLSEV_ABORT,             /* abort() */
    AIOTP__TLSEV_FATAL,             /* a TLS record error, a failing protocol callback, a
                                       failed write below */
    AIOTP__TLSEV_FLUSHED,           /* FLUSHING and nothing left to send: send close_notify */
    AIOTP__TLSEV_SHUTDOWN_DONE,     /* both close_notify alerts went */
    AIOTP__TLSEV_SHUTDOWN_TIMEOUT,  /* the shutdown timer fired */
    AIOTP__TLSEV_LOWER_LOST,        /* the transport below called connection_lost */
    AIOTP__TLSEV_PAUSE_READING,     /* pause_reading() */
    AIOTP__TLSEV_RESUME_READING,    /* resume_reading() */
    AIOTP__TLSEV_COUNT
} aiotp__tls_event;

/* Actions, a bit mask returned by aiotp__tls_step(), in the order the shell does them. */
enum aiotp__tls_action {
    AIOTP__TLSA_NONE = 0u,
    AIOTP__TLSA_REFUSED = 1u << 0,            /* not allowed now; state unchanged */
    AIOTP__TLSA_START_HANDSHAKE = 1u << 1,    /* arm the handshake timer, send the first
                                                 flight */
    AIOTP__TLSA_CONTINUE_HANDSHAKE = 1u << 2, /* feed the handshake the new bytes */
    AIOTP__TLSA_CANCEL_TIMER = 1u << 3,       /* cancel the handshake or shutdown timer */
    AIOTP__TLSA_CALL_MADE = 1u << 4,          /* call connection_made */
    AIOTP__TLSA_COMPLETE_OK = 1u << 5,        /* call the completion with the transport */
    AIOTP__TLSA_COMPLETE_FAIL = 1u << 6,      /* call the completion with the failure */
    AIOTP__TLSA_DELIVER = 1u << 7,            /* decrypt and deliver to the protocol */
    AIOTP__TLSA_DISCARD = 1u << 8,            /* decrypt and drop (closing: no more data) */
    AIOTP__TLSA_CALL_EOF = 1u << 9,           /* call eof_received */
    AIOTP__TLSA_ARM_SHUTDOWN_TIMER = 1u << 10, /* arm the shutdown timer */
    AIOTP__TLSA_FLUSH_BACKLOG = 1u << 11,     /* encrypt the queued plaintext, send below */
    AIOTP__TLSA_SEND_CLOSE_NOTIFY = 1u << 12, /* send close_notify / go on with the
                                                 shutdown */
    AIOTP__TLSA_DROP_BUFFERS = 1u << 13,      /* drop queued plaintext and the encrypted
                                                 bytes not handed below */
    AIOTP__TLSA_CLOSE_LOWER = 1u << 14,       /* close() the transport below (it flushes) */
    AIOTP__TLSA_ABORT_LOWER = 1u << 15,       /* abort() the transport below */
    AIOTP__TLSA_SCHEDULE_READ = 1u << 16,     /* run a read in the next pass */
    AIOTP__TLSA_CALL_LOST = 1u << 17          /* call connection_lost */
};

#define AIOTP__TLSA_COUNT 18

/* Allowed edges of each part: [from][to] (a part that does not change is no edge). */
extern const bool aiotp__tls_ly_edges[AIOTP__TLS_LY_COUNT][AIOTP__TLS_LY_COUNT];
extern const bool aiotp__tls_app_edges[AIOTP__TLS_APP_COUNT][AIOTP__TLS_APP_COUNT];
extern const bool aiotp__tls_rd_edges[AIOTP__TLS_RD_COUNT][AIOTP__TLS_RD_COUNT];

/* Names, for traces, diagrams, the table check and messages. */
extern const char *const aiotp__tls_ly_names[AIOTP__TLS_LY_COUNT];
extern const char *const aiotp__tls_app_names[AIOTP__TLS_APP_COUNT];
extern const char *const aiotp__tls_rd_names[AIOTP__TLS_RD_COUNT];
extern const char *const aiotp__tls_event_names[AIOTP__TLSEV_COUNT];
extern const char *const aiotp__tls_action_names[AIOTP__TLSA_COUNT];

#ifdef __FRAMAC__
#include "acsl/tls.acsl" /* TlsValid, TlsEdges, TlsNextLy/App/Rd, TlsActs */
#endif

/* ACSL contracts below are proven by Frama-C WP (proofs/, spec/proofs.md PROOF-TLS-*). */

/* Initial state: UNWRAPPED, INIT, ACTIVE; upgrade as given. */
/*@ requires valid_ptr: \valid(s);
    assigns *s;
    ensures initial: s->ly == AIOTP__TLS_UNWRAPPED && s->app == AIOTP__TLS_APP_INIT &&
                     s->rd == AIOTP__TLS_RD_ACTIVE && s->upgrade == upgrade;
    ensures valid: TlsValid(*s);
*/
void aiotp__tls_init(aiotp__tls_state *s, bool upgrade);

/* Every part in range and the invariants above hold. */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures is_valid_iff: \result != 0 <==> TlsValid(*s);
*/
bool aiotp__tls_is_valid(const aiotp__tls_state *s);

/*
 * Apply one event. Returns the actions; AIOTP__TLSA_REFUSED (alone) if the event is not
 * allowed in this state, in which case *s is unchanged. The functional clauses give the
 * next state and the actions for every state and event; the safety clauses follow from
 * them and are stated for readers.
 */
/*@ requires valid_ptr: \valid(s);
    requires valid: TlsValid(*s);
    assigns *s;
    ensures next_ly: s->ly == TlsNextLy(\old(*s), ev);
    ensures next_app: s->app == TlsNextApp(\old(*s), ev);
    ensures next_rd: s->rd == TlsNextRd(\old(*s), ev);
    ensures upgrade_kept: s->upgrade == \old(s->upgrade);
    ensures acts: \result == TlsActs(\old(*s), ev);
    ensures TLS_INV: TlsValid(*s);
    ensures edges: TlsEdges(\old(*s), *s);
    ensures refused_alone: \result == AIOTP__TLSA_REFUSED ==> TlsSame(\old(*s), *s);
    ensures made_on_entry: TlsHas(\result, AIOTP__TLSA_CALL_MADE) ==>
              (\old(s->app) == AIOTP__TLS_APP_INIT && s->app == AIOTP__TLS_APP_CONNECTED &&
               !s->upgrade);
    ensures lost_on_entry: TlsHas(\result, AIOTP__TLSA_CALL_LOST) <==>
              (\old(s->app) != AIOTP__TLS_APP_LOST && s->app == AIOTP__TLS_APP_LOST);
    ensures eof_on_entry: TlsHas(\result, AIOTP__TLSA_CALL_EOF) <==>
              (\old(s->app) != AIOTP__TLS_APP_EOF && s->app == AIOTP__TLS_APP_EOF);
    ensures deliver_when_reading: TlsHas(\result, AIOTP__TLSA_DELIVER) ==>
              (\old(s->ly) == AIOTP__TLS_WRAPPED && \old(s->rd) == AIOTP__TLS_RD_ACTIVE &&
               \old(s->app) == AIOTP__TLS_APP_CONNECTED);
    ensures complete_once: (TlsHas(\result, AIOTP__TLSA_COMPLETE_OK) ||
                            TlsHas(\result, AIOTP__TLSA_COMPLETE_FAIL)) ==>
              (\old(s->ly) == AIOTP__TLS_HANDSHAKE || \old(s->ly) == AIOTP__TLS_UNWRAPPED) &&
              s->ly != \old(s->ly);
    ensures failed_untold: TlsHas(\result, AIOTP__TLSA_COMPLETE_FAIL) ==>
              s->app == AIOTP__TLS_APP_INIT && s->ly == AIOTP__TLS_CLOSED;
    ensures let_go_once: (TlsHas(\result, AIOTP__TLSA_CLOSE_LOWER) ||
                          TlsHas(\result, AIOTP__TLSA_ABORT_LOWER)) ==>
              \old(s->ly) != AIOTP__TLS_CLOSED && s->ly == AIOTP__TLS_CLOSED;
    behavior final:
      assumes s->app == AIOTP__TLS_APP_LOST;
      ensures no_op: \result == AIOTP__TLSA_REFUSED || \result == AIOTP__TLSA_NONE;
      ensures unchanged: TlsSame(\old(*s), *s);
*/
unsigned aiotp__tls_step(aiotp__tls_state *s, aiotp__tls_event ev);

/* Queries (no state change). */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures result: \result != 0 <==> (s->ly == AIOTP__TLS_FLUSHING ||
                                       s->ly == AIOTP__TLS_SHUTDOWN ||
                                       s->ly == AIOTP__TLS_CLOSED);
*/
bool aiotp__tls_is_closing(const aiotp__tls_state *s);
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures result: \result != 0 <==> ((s->ly == AIOTP__TLS_UNWRAPPED ||
                                        s->ly == AIOTP__TLS_HANDSHAKE ||
                                        s->ly == AIOTP__TLS_WRAPPED) &&
                                       s->rd == AIOTP__TLS_RD_ACTIVE &&
                                       s->app != AIOTP__TLS_APP_EOF);
*/
bool aiotp__tls_is_reading(const aiotp__tls_state *s);
/* What write() does with data: 0 encrypt and send now (WRAPPED), 1 queue it until the
   handshake completes (UNWRAPPED, HANDSHAKE), 2 drop it: closing or closed. */
/*@ requires valid_ptr: \valid_read(s);
    assigns \nothing;
    ensures range: 0 <= \result <= 2;
    ensures now: \result == 0 <==> s->ly == AIOTP__TLS_WRAPPED;
    ensures queued: \result == 1 <==> (s->ly == AIOTP__TLS_UNWRAPPED ||
                                       s->ly == AIOTP__TLS_HANDSHAKE);
*/
int aiotp__tls_write_admission(const aiotp__tls_state *s);

#endif /* AIOTP_CORE_TLS_SM_H */
