# proofs/mutants/ring_push.sed - the push index wraps only past cap (index cap is written:
# one entry beyond the storage, and the FIFO order broken) (LOOP-3).
# file: src/core/ring.h
# module: ring
# fct: aiotp__ring_push
# expect: RING_1_tail|rte
s/    if (i >= r->cap) {/    if (i > r->cap) {/
