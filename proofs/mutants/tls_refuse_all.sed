# proofs/mutants/tls_refuse_all.sed - the TLS step refuses every event (the switch never
# matches): it changes nothing and breaks no safety clause, so only the functional contract
# (acts: the table of spec/tls-transport.md) can catch it.
# file: src/core/tls_sm.c
# module: tls_sm
# fct: aiotp__tls_step
# prop: acts
# expect: acts
s/    switch (ev) {/    switch (ev < AIOTP__TLSEV_COUNT ? AIOTP__TLSEV_COUNT : ev) {/
