# proofs/mutants/resume_le.sed - resume rule with < instead of <= (FLOW-5: at or below low).
# file: src/core/flow.c
# module: flow
# fct: aiotp__flow_check_resume
# expect: FLOW_5_resume
s/if (f->state == AIOTP__FLOW_PAUSED && size <= f->low) {/if (f->state == AIOTP__FLOW_PAUSED \&\& size < f->low) {/
