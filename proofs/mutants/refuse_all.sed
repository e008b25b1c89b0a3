# proofs/mutants/refuse_all.sed - the step refuses every event (the switch never matches a
# case): a safety-only contract is satisfied by this; the functional one is not.
# file: src/core/stream_sm.c
# module: stream_sm
# fct: aiotp__stream_step
# prop: acts
# expect: acts
s/    switch (ev) {/    switch (ev < AIOTP__EV_COUNT ? AIOTP__EV_COUNT : ev) {/
