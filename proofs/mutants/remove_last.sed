# proofs/mutants/remove_last.sed - removing a timer refills the hole with the last-but-one
# entry: that timer is then in the heap twice and the last one lost (LOOP-5).
# file: src/core/theap.c
# module: theap
# fct: remove_at
# prop: valid,keep,from_old,removed
# expect: valid|keep|from_old|removed
s/        aiotp__timer last = a\[n\];/        aiotp__timer last = a[n - 1];/
