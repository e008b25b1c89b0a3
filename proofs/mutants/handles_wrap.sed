# proofs/mutants/handles_wrap.sed - a slot whose generation is spent goes back on the free
# stack instead of being retired: its next free would wrap the generation (defect 12).
# file: src/core/handles.c
# module: handles
# fct: aiotp__handles_free
# prop: valid_stack
# expect: valid_stack
s/    if (gen != AIOTP__HANDLE_GEN_MAX && n < h->cap) {/    if (n < h->cap) {/
