# proofs/mutants/sift_pos.sed - sift-up records a moved timer at its old place: a cancel
# would then remove another timer (LOOP-1, LOOP-5).
# file: src/core/theap.c
# module: theap
# fct: sift_up
# prop: places,keep
# expect: places|keep
/uint32_t p = (i - 1) \/ 2;/,/i = p;/ s/        pos\[a\[i\].id\] = a + i;/        pos[a[i].id] = a + p;/
