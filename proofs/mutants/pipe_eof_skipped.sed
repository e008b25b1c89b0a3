# proofs/mutants/pipe_eof_skipped.sed - after end of file the scheduled connection_lost
# does not call eof_received first (PIPE-EOF-1): only the table says it must.
# file: src/core/pipe_sm.c
# module: pipe_sm
# fct: aiotp__pipe_step
# prop: acts
# expect: acts
s/                      ? AIOTP__PPA_CALL_EOF | AIOTP__PPA_CALL_LOST$/                      ? AIOTP__PPA_CALL_LOST/
