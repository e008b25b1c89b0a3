# proofs/mutants/sift_child.sed - sift-down follows the later child instead of the earlier
# one: the heap order breaks, timers run out of order (LOOP-5).
# file: src/core/theap.c
# module: theap
# fct: sift_down
# prop: order
# expect: order
s/        if (before(a\[r\], a\[l\])) {/        if (before(a[l], a[r])) {/
