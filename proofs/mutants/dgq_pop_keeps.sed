# proofs/mutants/dgq_pop_keeps.sed - popping the last record does not reset the offsets:
# the empty queue no longer starts at 0 (DgqValid).
# file: src/core/dgq.c
# module: dgq
# fct: aiotp__dgq_pop
# expect: valid|reset
s/    if (q->count == 0) {/    if (q->count == 0 \&\& q->cap == 0) {/
