# proofs/mutants/close_drop.sed - close() with data queued also drops the buffer (the data
# the rule says is flushed first is lost; every edge and the old safety clauses hold).
# file: src/core/stream_sm.c
# module: stream_sm
# fct: aiotp__stream_step
# prop: acts
# expect: acts
s/^                n.life = AIOTP__LIFE_CLOSING;$/                n.life = AIOTP__LIFE_CLOSING; act |= AIOTP__ACT_DROP_BUFFER;/
