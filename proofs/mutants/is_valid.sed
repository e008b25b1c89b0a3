# proofs/mutants/is_valid.sed - the C validator forgets STREAM-INV-3 (nothing before
# connection_made): it no longer agrees with the ACSL invariant (PROOF-VALID).
# file: src/core/stream_sm.c
# module: stream_sm
# fct: aiotp__stream_is_valid
# expect: is_valid_iff
s/    if (s->ph == AIOTP__PH_INIT && s->life != AIOTP__LIFE_OPEN) {/    if (s->ph == AIOTP__PH_INIT \&\& s->life == AIOTP__LIFE_CLOSED) {/
