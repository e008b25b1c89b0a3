# proofs/mutants/timeout_floor.sed - the wait timeout rounded down: the loop wakes before
# the earliest timer is due (LOOP-5: never early).
# file: src/core/theap.c
# module: theap
# fct: aiotp__timeout_ms
# passes: cvc4:10@250000
# expect: LOOP_5_never_early
s/    return (int)((delta + AIOTP__NS_PER_MS - 1) \/ AIOTP__NS_PER_MS); \/\* round up \*\//    return (int)(delta \/ AIOTP__NS_PER_MS); \/* round up *\//
