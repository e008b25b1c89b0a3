# proofs/mutants/wait_busy.sed - the wait blocks until the next timer although callbacks
# are ready (LOOP-2).
# file: src/core/theap.c
# module: theap
# fct: aiotp__wait_ms
# passes: cvc4:10@250000
# expect: LOOP_2_no_block
s/    if (busy) {/    if (busy \&\& !has_timer) {/
