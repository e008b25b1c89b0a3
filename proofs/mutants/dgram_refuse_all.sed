# proofs/mutants/dgram_refuse_all.sed - the datagram step refuses every event (the switch
# never matches): it changes nothing and breaks no safety clause, so only the functional
# contract (acts: the table of spec/datagram-transport.md) can catch it.
# file: src/core/dgram_sm.c
# module: dgram_sm
# fct: aiotp__dgram_step
# prop: acts
# expect: acts
s/    switch (ev) {/    switch (ev < AIOTP__DGEV_COUNT ? AIOTP__DGEV_COUNT : ev) {/
