# proofs/mutants/remove_last.sed - removing a timer refills the hole with the last-but-one
# entry: that timer is then in the heap twice and the last one lost (LOOP-5). The first
# proof steps that break are `ids_differ` (the entry moved into the hole is not the removed
# one) and `others_in` (every other timer is still in the heap): CVC4 proves both in about
# 0.1 s on the real code and answers "unknown" at once on this copy.
# file: src/core/theap.c
# module: theap
# fct: remove_at
# prop: ids_differ,others_in
# passes: cvc4:10@250000
# expect: ids_differ|others_in
s/        aiotp__timer last = a\[n\];/        aiotp__timer last = a[n - 1];/
