# proofs/mutants/pipe_refuse_all.sed - the pipe step refuses every event (the switch never
# matches): it changes nothing and breaks no safety clause, so only the functional
# contract (acts: the table of spec/pipe-transport.md) can catch it.
# file: src/core/pipe_sm.c
# module: pipe_sm
# fct: aiotp__pipe_step
# prop: acts
# expect: acts
s/    switch (ev) {/    switch (ev < AIOTP__PPEV_COUNT ? AIOTP__PPEV_COUNT : ev) {/
