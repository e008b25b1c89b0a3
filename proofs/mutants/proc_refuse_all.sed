# proofs/mutants/proc_refuse_all.sed - the subprocess step refuses every event (the switch
# never matches): it changes nothing and breaks no safety clause, so only the functional
# contract (acts) can catch it.
# file: src/core/proc_sm.c
# module: proc_sm
# fct: aiotp__proc_step
# prop: acts
# expect: acts
s/    switch (ev) {/    switch (ev < AIOTP__PREV_COUNT ? AIOTP__PREV_COUNT : ev) {/
