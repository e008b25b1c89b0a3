# proofs/mutants/pause.sed - the pause rule with >= instead of > (FLOW-4: strictly above).
# file: src/core/flow.c
# module: flow
# fct: aiotp__flow_check_pause
# expect: FLOW_4_no_pause
s/if (f->state == AIOTP__FLOW_RUNNING && size > f->high) {/if (f->state == AIOTP__FLOW_RUNNING \&\& size >= f->high) {/
