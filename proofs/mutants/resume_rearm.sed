# proofs/mutants/resume_rearm.sed - resume_reading() re-arms a reader that is already
# active (START_READER from rd ACTIVE; no state change, so every edge holds).
# file: src/core/stream_sm.c
# module: stream_sm
# fct: aiotp__stream_step
# prop: acts
# expect: acts
s/if (open && s->rd == AIOTP__RD_PAUSED) {/if (open \&\& (s->rd == AIOTP__RD_PAUSED || s->rd == AIOTP__RD_ACTIVE)) {/
