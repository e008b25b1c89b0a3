# proofs/mutants/dgram_table.sed - the edge CLOSING -> CLOSED dropped from
# aiotp__dg_life_edges: the C table no longer matches the ACSL edge predicates.
# file: src/core/dgram_sm.c
# module: dgram_sm
# fct: aiotp_proof_dgram_tables
# expect: life_table
s/    \[AIOTP__DG_CLOSING\] = {\[AIOTP__DG_LOST_PENDING\] = true, \[AIOTP__DG_CLOSED\] = true},/    [AIOTP__DG_CLOSING] = {[AIOTP__DG_LOST_PENDING] = true},/
