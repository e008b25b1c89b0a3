# proofs/mutants/pipe_close_drops.sed - close()/write_eof() of a write pipe with bytes
# queued ends it at once without dropping them (data lost, connection_lost early):
# checked on no_silent_drop (the cheapest clause it breaks; acts and next_life break too).
# file: src/core/pipe_sm.c
# module: pipe_sm
# fct: aiotp__pipe_step
# prop: no_silent_drop
# expect: no_silent_drop
s/            if (rdpipe || buffer_empty) {/            if (rdpipe || buffer_empty || 1) {/
