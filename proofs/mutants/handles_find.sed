# proofs/mutants/handles_find.sed - a handle is matched on its generation alone, also when
# the slot is free: a made-up or stale handle would "cancel" a free slot (LOOP-1).
# file: src/core/handles.c
# module: handles
# fct: aiotp__handles_find
# expect: HANDLES_1_none
s/    if (h->slot\[i\].gen != gen || h->slot\[i\].state == AIOTP__HS_FREE) {/    if (h->slot[i].gen != gen) {/
