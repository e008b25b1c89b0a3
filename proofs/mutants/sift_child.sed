# proofs/mutants/sift_child.sed - sift-down follows the later child instead of the earlier
# one: the heap order breaks, timers run out of order (LOOP-5). The first proof step that
# breaks is `earliest` (the child the hole moves to is at or before its sibling), on which
# `order_siblings`, `order_next` and the invariant `order` rest: with only `order` selected,
# WP would assume the broken step and prove `order` from it. CVC4 proves `earliest` in under
# a second on the real code.
# file: src/core/theap.c
# module: theap
# fct: sift_down
# prop: earliest
# passes: cvc4:10@250000
# expect: earliest
s/        if (before(a\[r\], a\[l\])) {/        if (before(a[l], a[r])) {/
