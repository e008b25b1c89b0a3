# proofs/mutants/handles_nogen.sed - freeing a slot keeps its generation: the handle of a
# callback that ran would cancel the next callback in that slot (LOOP-1).
# file: src/core/handles.c
# module: handles
# fct: aiotp__handles_free
# prop: HANDLES_2_stale
# expect: HANDLES_2_stale
s/    uint32_t gen = h->slot\[i\].gen + 1u;/    uint32_t gen = h->slot[i].gen;/
