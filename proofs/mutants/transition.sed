# proofs/mutants/transition.sed - resume_reading() also leaves rd EOF (and STOPPED): the
# edge EOF -> ACTIVE is not in aiotp__rd_edges. (At run time the defensive edges_ok()
# check would refuse it; the proof shows the switch itself leaves the tables.)
# file: src/core/stream_sm.c
# module: stream_sm
# fct: aiotp__stream_step
# prop: tables_match,edges,STREAM_INV
# expect: tables_match
s/if (open && s->rd == AIOTP__RD_PAUSED) {/if (open \&\& s->rd != AIOTP__RD_ACTIVE) {/
