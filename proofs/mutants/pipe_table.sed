# proofs/mutants/pipe_table.sed - the edge EOF_PENDING -> CLOSED dropped from
# aiotp__pp_life_edges: the C table no longer matches the ACSL edge predicates.
# file: src/core/pipe_sm.c
# module: pipe_sm
# fct: aiotp_proof_pipe_tables
# expect: life_table
s/    \[AIOTP__PP_EOF_PENDING\] = {\[AIOTP__PP_CLOSED\] = true},/    [AIOTP__PP_EOF_PENDING] = {0},/
