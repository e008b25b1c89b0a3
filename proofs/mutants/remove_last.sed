# proofs/mutants/remove_last.sed - removing a timer refills the hole with the last-but-one
# entry: that timer is then in the heap twice and the last one lost (LOOP-5). Z3 and CVC4
# side by side, 10 s (passes): the properties it breaks take CVC4 up to 5 s on the real code.
# file: src/core/theap.c
# module: theap
# fct: remove_at
# prop: valid,keep,from_old,removed,ids_differ,others_in,t_out,entries_pre,last_entry,hole_in_pre,last_in_pre,kept_last,kept_others,from_pre
# passes: z3,cvc4:10
# expect: valid|keep|from_old|removed|others_in|ids_differ|kept_|_pre
s/        aiotp__timer last = a\[n\];/        aiotp__timer last = a[n - 1];/
