# proofs/mutants/sift_pos.sed - sift-up records a moved timer at its old place: a cancel
# would then remove another timer (LOOP-1, LOOP-5). The first proof step that breaks is
# `moved` (the moved timer's pos entry points at its new place), on which `places` and
# `keep` rest (CVC4 proves it in under 0.1 s on the real code).
# file: src/core/theap.c
# module: theap
# fct: sift_up
# prop: moved
# passes: cvc4:10@250000
# expect: moved
/uint32_t p = (i - 1) \/ 2;/,/i = p;/ s/        pos\[a\[i\].id\] = a + i;/        pos[a[i].id] = a + p;/
