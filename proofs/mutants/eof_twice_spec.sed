# proofs/mutants/eof_twice_spec.sed - the peer's EOF is accepted again after eof_received,
# in the table and in the code alike (so the functional contract holds): the protocol
# order proven over every sequence of events (PROTO-STREAM-5: at most once) must fail.
# file: src/core/stream_sm.c
# table: /^event EOF$/,/^event CLOSE$/ s/case life == OPEN && rd == ACTIVE && ph == CONNECTED =>/case life == OPEN \&\& rd in ACTIVE,EOF \&\& ph in CONNECTED,EOF =>/
# module: stream_sm
# fct: aiotp_proof_stream_trace
# prop: PROTO_eof_once
# expect: PROTO_eof_once
/case AIOTP__EV_EOF:/,/case AIOTP__EV_CLOSE:/ s/if (open && s->rd == AIOTP__RD_ACTIVE && s->ph == AIOTP__PH_CONNECTED) {/if (open \&\& (s->rd == AIOTP__RD_ACTIVE || s->rd == AIOTP__RD_EOF) \&\& (s->ph == AIOTP__PH_CONNECTED || s->ph == AIOTP__PH_EOF)) {/
