# proofs/mutants/pipe_read_after_close.sed - a read event is delivered whatever the state
# (data_received after close, after connection_lost: PIPE-READ-3, PIPE-LOST-1).
# file: src/core/pipe_sm.c
# module: pipe_sm
# fct: aiotp__pipe_step
# prop: deliver_when_reading
# expect: deliver_when_reading
s/        if (reading) {/        if (rdpipe) {/
