# proofs/mutants/lost_twice.sed - the scheduled connection_lost also runs when the
# transport is already CLOSED: connection_lost would be called a second time (no state
# changes, so every table edge is respected; the action properties catch it).
# file: src/core/stream_sm.c
# module: stream_sm
# fct: aiotp__stream_step
# prop: lost_on_entry,no_op
# expect: lost_on_entry
s/if (s->life == AIOTP__LIFE_LOST_PENDING) {/if (s->life == AIOTP__LIFE_LOST_PENDING || s->life == AIOTP__LIFE_CLOSED) {/
