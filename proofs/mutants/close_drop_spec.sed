# proofs/mutants/close_drop_spec.sed - the same bug as close_drop.sed written into the
# table too (proofs/tables/stream.table, regenerated into the copy): code and table agree,
# so the functional contract holds; the rules proven from the table must catch it
# (BASE-CLOSE-2: flush first; data dropped only by abort and fatal errors).
# file: src/core/stream_sm.c
# table: s/=> life = CLOSING, rd = STOPPED ; STOP_READER/=> life = CLOSING, rd = STOPPED ; STOP_READER DROP_BUFFER/
# module: stream_sm
# fct: aiotp_proof_stream_rules
# prop: BASE_CLOSE_2_never,drop_only_abort
# passes: bounded
# expect: BASE_CLOSE_2_never|drop_only_abort
s/^                n.life = AIOTP__LIFE_CLOSING;$/                n.life = AIOTP__LIFE_CLOSING; act |= AIOTP__ACT_DROP_BUFFER;/
