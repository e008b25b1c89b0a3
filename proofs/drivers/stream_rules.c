/* proofs/drivers/stream_rules.c - the rules of spec/rules.md that the stream state
 * machine decides, stated in the rules' words and proven from the contract of
 * aiotp__stream_step (Frama-C only, never linked into the library).
 *
 * aiotp_proof_stream_rules() does one step from any valid state, with any event and
 * either buffer state. Each behavior is one half of one rule: "does" (the progress half:
 * the transport does what the rule says) or "never" (the safety half: it does nothing
 * else). The clause names are cited by proofs/ledger.map, from which spec/ledger.md is
 * generated. Because aiotp__stream_step's contract is the whole table (StreamNext,
 * StreamActs), these follow from it alone: if the table changed so that a rule no longer
 * held, the clause would fail, even with the code changed to match the table. */
#include "core/stream_sm.h"

/*@ predicate Open(aiotp__stream_state s) = s.life == AIOTP__LIFE_OPEN;
    predicate ClosedOrLost(aiotp__stream_state s) =
      s.life == AIOTP__LIFE_LOST_PENDING || s.life == AIOTP__LIFE_CLOSED;
    // The events that a transport's protocol cannot tell apart from "nothing happened".
    predicate Quiet(integer a) = a == AIOTP__ACT_NONE || a == AIOTP__ACT_REFUSED;
*/

/*@ requires valid_ptr: \valid(s);
    requires valid: StreamValid(*s);
    assigns *s;

    // BASE-CLOSE-1: close() stops reading at once, for good.
    behavior close_stops_reading:
      assumes ev == AIOTP__EV_CLOSE && Open(*s) && s->ph != AIOTP__PH_INIT;
      ensures BASE_CLOSE_1_does: Has(\result, AIOTP__ACT_STOP_READER) &&
              s->rd == AIOTP__RD_STOPPED && s->life != AIOTP__LIFE_OPEN &&
              !StreamReading(*s);
    behavior not_open_reads_nothing:
      assumes !Open(*s);
      ensures BASE_CLOSE_1_never: !Has(\result, AIOTP__ACT_DELIVER) &&
              !Has(\result, AIOTP__ACT_CALL_EOF) && !Has(\result, AIOTP__ACT_START_READER) &&
              s->life != AIOTP__LIFE_OPEN && s->rd == AIOTP__RD_STOPPED;

    // BASE-CLOSE-2: with data buffered, close() flushes first; connection_lost comes from
    // the drain that empties the buffer.
    behavior close_with_data:
      assumes ev == AIOTP__EV_CLOSE && Open(*s) && s->ph != AIOTP__PH_INIT && !buffer_empty;
      ensures BASE_CLOSE_2_never: s->life == AIOTP__LIFE_CLOSING &&
              !Has(\result, AIOTP__ACT_DROP_BUFFER) && !Has(\result, AIOTP__ACT_STOP_WRITER) &&
              !Has(\result, AIOTP__ACT_SCHEDULE_LOST) && !Has(\result, AIOTP__ACT_CALL_LOST);
    behavior drained_while_closing:
      assumes ev == AIOTP__EV_DRAINED && s->life == AIOTP__LIFE_CLOSING;
      ensures BASE_CLOSE_2_does: Has(\result, AIOTP__ACT_CALL_LOST) &&
              s->life == AIOTP__LIFE_CLOSED && s->ph == AIOTP__PH_LOST;
    behavior closing_keeps_writing:
      assumes s->life == AIOTP__LIFE_CLOSING &&
              ev != AIOTP__EV_DRAINED && ev != AIOTP__EV_ABORT && ev != AIOTP__EV_FATAL;
      ensures BASE_CLOSE_2_flush: *s == \old(*s) && !Has(\result, AIOTP__ACT_DROP_BUFFER) &&
              !Has(\result, AIOTP__ACT_STOP_WRITER);

    // BASE-CLOSE-3: with an empty buffer, connection_lost is scheduled (next pass), not
    // called inside close().
    behavior close_empty:
      assumes ev == AIOTP__EV_CLOSE && Open(*s) && s->ph != AIOTP__PH_INIT && buffer_empty;
      ensures BASE_CLOSE_3_does: Has(\result, AIOTP__ACT_SCHEDULE_LOST) &&
              s->life == AIOTP__LIFE_LOST_PENDING;
      ensures BASE_CLOSE_3_never: !Has(\result, AIOTP__ACT_CALL_LOST) &&
              !Has(\result, AIOTP__ACT_DROP_BUFFER);

    // BASE-CLOSE-4: a second close() has no effect and is refused (AIOTP_ECLOSED).
    behavior close_again:
      assumes ev == AIOTP__EV_CLOSE && !Open(*s);
      ensures BASE_CLOSE_4_both: \result == AIOTP__ACT_REFUSED && *s == \old(*s);

    // BASE-CLOSING-1: is_closing() stays false through everything but close, abort and a
    // fatal error, which make it true for good.
    behavior closing_starts:
      assumes (ev == AIOTP__EV_CLOSE || ev == AIOTP__EV_ABORT || ev == AIOTP__EV_FATAL) &&
              Open(*s) && s->ph != AIOTP__PH_INIT;
      ensures BASE_CLOSING_1_does: s->life != AIOTP__LIFE_OPEN;
    behavior closing_not_started:
      assumes ev != AIOTP__EV_CLOSE && ev != AIOTP__EV_ABORT && ev != AIOTP__EV_FATAL;
      ensures BASE_CLOSING_1_never: (\old(s->life) == AIOTP__LIFE_OPEN <==>
                                     s->life == AIOTP__LIFE_OPEN);
    behavior closing_kept:
      assumes !Open(*s);
      ensures BASE_CLOSING_1_kept: s->life != AIOTP__LIFE_OPEN;

    // READ-2: pause_reading() stops reading until resume_reading(); idempotent, also when
    // closing or closed.
    behavior pause_active:
      assumes ev == AIOTP__EV_PAUSE_READING && StreamReading(*s);
      ensures READ_2_does: \result == AIOTP__ACT_STOP_READER && s->rd == AIOTP__RD_PAUSED &&
              !StreamReading(*s);
    behavior pause_idempotent:
      assumes ev == AIOTP__EV_PAUSE_READING && !StreamReading(*s);
      ensures READ_2_idempotent: \result == AIOTP__ACT_NONE && *s == \old(*s);
    behavior paused_reads_nothing:
      assumes s->rd == AIOTP__RD_PAUSED && ev != AIOTP__EV_RESUME_READING;
      ensures READ_2_never: !Has(\result, AIOTP__ACT_DELIVER) &&
              !Has(\result, AIOTP__ACT_CALL_EOF) && !Has(\result, AIOTP__ACT_START_READER) &&
              s->rd != AIOTP__RD_ACTIVE;

    // READ-3: resume_reading() re-arms a paused reader; idempotent.
    behavior resume_paused:
      assumes ev == AIOTP__EV_RESUME_READING && Open(*s) && s->rd == AIOTP__RD_PAUSED;
      ensures READ_3_does: s->rd == AIOTP__RD_ACTIVE && StreamReading(*s) &&
              (s->ph == AIOTP__PH_CONNECTED ==> \result == AIOTP__ACT_START_READER);
    behavior resume_idempotent:
      assumes ev == AIOTP__EV_RESUME_READING && !(Open(*s) && s->rd == AIOTP__RD_PAUSED);
      ensures READ_3_idempotent: \result == AIOTP__ACT_NONE && *s == \old(*s);

    // READ-4 and STREAM-ORDER-2: after connection_made the reader is armed exactly when
    // the protocol neither paused nor closed inside it.
    behavior reader_start:
      assumes ev == AIOTP__EV_READER_START;
      ensures STREAM_ORDER_2_both: (\result == AIOTP__ACT_START_READER <==>
                                    (StreamReading(\old(*s)) &&
                                     \old(s->ph) == AIOTP__PH_CONNECTED)) &&
              (\result == AIOTP__ACT_START_READER || \result == AIOTP__ACT_NONE) &&
              *s == \old(*s);
    behavior paused_in_made:
      assumes ev == AIOTP__EV_READER_START && s->rd == AIOTP__RD_PAUSED;
      ensures READ_4_never: \result == AIOTP__ACT_NONE && s->rd == AIOTP__RD_PAUSED;

    // READ-5: after EOF the transport does not read; pause/resume do not re-arm it.
    behavior eof_stops:
      assumes ev == AIOTP__EV_EOF && StreamReading(*s) && s->ph == AIOTP__PH_CONNECTED;
      ensures READ_5_does: s->rd == AIOTP__RD_EOF && !StreamReading(*s) &&
              Has(\result, AIOTP__ACT_STOP_READER);
    behavior after_eof:
      assumes s->rd == AIOTP__RD_EOF;
      ensures READ_5_never: !Has(\result, AIOTP__ACT_START_READER) &&
              !Has(\result, AIOTP__ACT_DELIVER) && !Has(\result, AIOTP__ACT_CALL_EOF) &&
              (s->rd == AIOTP__RD_EOF || s->rd == AIOTP__RD_STOPPED);

    // WRITE-ABORT-1, STREAM-ERR-1, PROTO-STREAM-4: abort() and a fatal error close at
    // once: the buffer is dropped, reading and writing stop, connection_lost is scheduled.
    behavior abort_open:
      assumes (ev == AIOTP__EV_ABORT || ev == AIOTP__EV_FATAL) && Open(*s) &&
              s->ph != AIOTP__PH_INIT;
      ensures WRITE_ABORT_1_does: Has(\result, AIOTP__ACT_DROP_BUFFER) &&
              Has(\result, AIOTP__ACT_STOP_READER) && Has(\result, AIOTP__ACT_STOP_WRITER) &&
              Has(\result, AIOTP__ACT_SCHEDULE_LOST) && s->life == AIOTP__LIFE_LOST_PENDING;
      ensures WRITE_ABORT_1_never: !Has(\result, AIOTP__ACT_CALL_LOST);

    // WRITE-ABORT-3, STREAM-ERR-2: abort() or an error after close() with data pending
    // still drops the data and ends the transport once; once connection_lost is
    // scheduled or delivered they are refused (abort() returns AIOTP_ECLOSED).
    behavior abort_closing:
      assumes (ev == AIOTP__EV_ABORT || ev == AIOTP__EV_FATAL) &&
              s->life == AIOTP__LIFE_CLOSING;
      ensures WRITE_ABORT_3_does: Has(\result, AIOTP__ACT_DROP_BUFFER) &&
              Has(\result, AIOTP__ACT_SCHEDULE_LOST) && s->life == AIOTP__LIFE_LOST_PENDING;
    behavior abort_late:
      assumes (ev == AIOTP__EV_ABORT || ev == AIOTP__EV_FATAL) && ClosedOrLost(*s);
      ensures WRITE_ABORT_3_never: \result == AIOTP__ACT_REFUSED && *s == \old(*s);

    // Data is dropped only by abort() and fatal errors (PROOF-STREAM-7).
    behavior drop_only_abort:
      assumes ev != AIOTP__EV_ABORT && ev != AIOTP__EV_FATAL;
      ensures drop_only_abort: !Has(\result, AIOTP__ACT_DROP_BUFFER);

    // WRITE-EOF-1: write_eof() with an empty buffer shuts the write side at once; the
    // transport keeps reading and is not closing.
    behavior write_eof_empty:
      assumes ev == AIOTP__EV_WRITE_EOF && Open(*s) && s->wr == AIOTP__WR_OPEN && buffer_empty;
      ensures WRITE_EOF_1_does: \result == AIOTP__ACT_SHUTDOWN_WR && s->wr == AIOTP__WR_SHUT;
      ensures WRITE_EOF_1_never: s->life == AIOTP__LIFE_OPEN && s->rd == \old(s->rd) &&
              s->ph == \old(s->ph);
    // WRITE-EOF-2: with data buffered the shutdown waits for the drain.
    behavior write_eof_data:
      assumes ev == AIOTP__EV_WRITE_EOF && Open(*s) && s->wr == AIOTP__WR_OPEN && !buffer_empty;
      ensures WRITE_EOF_2_never: \result == AIOTP__ACT_NONE && s->wr == AIOTP__WR_EOF_PENDING;
    behavior drained_eof_pending:
      assumes ev == AIOTP__EV_DRAINED && Open(*s) && s->wr == AIOTP__WR_EOF_PENDING;
      ensures WRITE_EOF_2_does: Has(\result, AIOTP__ACT_SHUTDOWN_WR) && s->wr == AIOTP__WR_SHUT;
    // WRITE-EOF-3: write_eof() when already done, closing or closed: nothing, not refused.
    behavior write_eof_late:
      assumes ev == AIOTP__EV_WRITE_EOF && !(Open(*s) && s->wr == AIOTP__WR_OPEN);
      ensures WRITE_EOF_3_both: \result == AIOTP__ACT_NONE && *s == \old(*s);

    // PROTO-BASE-1: connection_made is delivered by the MADE event in the initial state;
    // before it, nothing reaches the protocol and the reader is not armed.
    behavior made:
      assumes ev == AIOTP__EV_MADE && s->ph == AIOTP__PH_INIT;
      ensures PROTO_BASE_1_does: \result == AIOTP__ACT_CALL_MADE &&
              s->ph == AIOTP__PH_CONNECTED;
    behavior before_made:
      assumes s->ph == AIOTP__PH_INIT && ev != AIOTP__EV_MADE;
      ensures PROTO_BASE_1_first: !Has(\result, AIOTP__ACT_DELIVER) &&
              !Has(\result, AIOTP__ACT_CALL_EOF) && !Has(\result, AIOTP__ACT_CALL_LOST) &&
              !Has(\result, AIOTP__ACT_SCHEDULE_LOST) && !Has(\result, AIOTP__ACT_START_READER);
      ensures PROTO_BASE_1_kept: s->ph == AIOTP__PH_INIT && s->life == AIOTP__LIFE_OPEN;

    // PROTO-BASE-2: once connection_lost is scheduled, every event but the scheduled one
    // keeps it pending, and that one delivers it; the drain of a closing transport
    // delivers it directly (BASE_CLOSE_2_does). At most once: the trace driver.
    behavior lost_pending:
      assumes s->life == AIOTP__LIFE_LOST_PENDING && ev != AIOTP__EV_LOST;
      ensures PROTO_BASE_2_pending: Quiet(\result) && s->life == AIOTP__LIFE_LOST_PENDING;
    behavior lost_runs:
      assumes ev == AIOTP__EV_LOST && s->life == AIOTP__LIFE_LOST_PENDING;
      ensures PROTO_BASE_2_does: \result == AIOTP__ACT_CALL_LOST &&
              s->life == AIOTP__LIFE_CLOSED && s->ph == AIOTP__PH_LOST;

    // PROTO-STREAM-5: eof_received is asked for when the peer's EOF is read while
    // reading (at most once: the trace driver).
    behavior eof_delivered:
      assumes ev == AIOTP__EV_EOF && StreamReading(*s) && s->ph == AIOTP__PH_CONNECTED;
      ensures PROTO_STREAM_5_does: Has(\result, AIOTP__ACT_CALL_EOF) && s->ph == AIOTP__PH_EOF;
    // PROTO-STREAM-6: the EOF leaves the transport open and writable.
    behavior eof_keeps_open:
      assumes ev == AIOTP__EV_EOF;
      ensures PROTO_STREAM_6_both: s->life == \old(s->life) && s->wr == \old(s->wr) &&
              !Has(\result, AIOTP__ACT_STOP_WRITER) && !Has(\result, AIOTP__ACT_SHUTDOWN_WR) &&
              !Has(\result, AIOTP__ACT_SCHEDULE_LOST) && !Has(\result, AIOTP__ACT_CALL_LOST);
    // PROTO-STREAM-7: eof_received returning false closes (the shell steps CLOSE), and the
    // data written inside it is flushed first.
    behavior close_after_eof:
      assumes ev == AIOTP__EV_CLOSE && Open(*s) && s->ph == AIOTP__PH_EOF;
      ensures PROTO_STREAM_7_does: \result != AIOTP__ACT_REFUSED && s->life != AIOTP__LIFE_OPEN;
      ensures PROTO_STREAM_7_flush: !buffer_empty ==> (s->life == AIOTP__LIFE_CLOSING &&
              !Has(\result, AIOTP__ACT_DROP_BUFFER));

    // PROTO-STREAM-3: no data after EOF, close, abort or a fatal error.
    behavior no_data_after_end:
      assumes !Open(*s) || s->ph == AIOTP__PH_EOF || s->ph == AIOTP__PH_LOST ||
              s->rd == AIOTP__RD_EOF;
      ensures PROTO_STREAM_3_never: !Has(\result, AIOTP__ACT_DELIVER);
    behavior data_delivered:
      assumes ev == AIOTP__EV_DATA;
      ensures PROTO_STREAM_3_data: (\result == AIOTP__ACT_DELIVER <==>
                (StreamReading(\old(*s)) && \old(s->ph) == AIOTP__PH_CONNECTED)) &&
              (\result == AIOTP__ACT_DELIVER || \result == AIOTP__ACT_REFUSED) &&
              *s == \old(*s);
*/
unsigned aiotp_proof_stream_rules(aiotp__stream_state *s, aiotp__stream_event ev,
                                  bool buffer_empty)
{
    return aiotp__stream_step(s, ev, buffer_empty);
}
