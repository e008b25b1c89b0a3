# proofs/mutants/table.sed - the edge CLOSING -> CLOSED dropped from aiotp__life_edges:
# the C table no longer matches the ACSL edge predicates (nor the diagrams).
# file: src/core/stream_sm.c
# module: stream_sm
# fct: aiotp_proof_stream_tables,edges_ok
# expect: life_table
s/\[AIOTP__LIFE_CLOSING\] = {\[AIOTP__LIFE_LOST_PENDING\] = true, \[AIOTP__LIFE_CLOSED\] = true},/[AIOTP__LIFE_CLOSING] = {[AIOTP__LIFE_LOST_PENDING] = true},/
