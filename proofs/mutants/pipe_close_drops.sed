# proofs/mutants/pipe_close_drops.sed - close()/write_eof() of a write pipe with bytes
# queued ends it at once without dropping them (data lost, connection_lost early):
# caught by the table and by no_silent_drop.
# file: src/core/pipe_sm.c
# module: pipe_sm
# fct: aiotp__pipe_step
# prop: acts,next_life,no_silent_drop
# expect: acts|next_life|no_silent_drop
s/            if (rdpipe || buffer_empty) {/            if (rdpipe || buffer_empty || 1) {/
