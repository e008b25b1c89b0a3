# proofs/mutants/dgram_error_after_lost.sed - error_received allowed after
# connection_lost (DGRAM-LOST-1): caught by the table and by the ghost trace driver.
# file: src/core/dgram_sm.c
# module: dgram_sm
# fct: aiotp__dgram_step
# prop: acts,error_when_connected
# expect: acts|error_when_connected
s/        if ((open || s->life == AIOTP__DG_CLOSING) \&\& s->ph == AIOTP__DG_PH_CONNECTED) {/        if (open || s->life == AIOTP__DG_CLOSING || s->ph == AIOTP__DG_PH_LOST) {/
