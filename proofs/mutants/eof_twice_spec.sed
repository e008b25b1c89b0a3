# proofs/mutants/eof_twice_spec.sed - the peer's EOF is accepted again after eof_received,
# in the table and in the code alike (so the functional contract StreamNext/StreamActs
# holds): the step's rule-level clauses (eof_on_entry, nothing_after_eof: PROTO-STREAM-5,
# at most once) must fail. (The trace driver alone cannot catch it: it assumes those
# clauses of the step's contract, so with the driver only, every goal is proved.)
# file: src/core/stream_sm.c
# table: /^event EOF$/,/^event CLOSE$/ s/case life == OPEN && rd == ACTIVE && ph == CONNECTED =>/case life == OPEN \&\& rd in ACTIVE,EOF \&\& ph in CONNECTED,EOF =>/
# module: stream_sm
# fct: aiotp__stream_step
# prop: eof_on_entry,nothing_after_eof
# expect: eof_on_entry|nothing_after_eof
/case AIOTP__EV_EOF:/,/case AIOTP__EV_CLOSE:/ s/if (open && s->rd == AIOTP__RD_ACTIVE && s->ph == AIOTP__PH_CONNECTED) {/if (open \&\& (s->rd == AIOTP__RD_ACTIVE || s->rd == AIOTP__RD_EOF) \&\& (s->ph == AIOTP__PH_CONNECTED || s->ph == AIOTP__PH_EOF)) {/
