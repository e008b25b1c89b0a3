# proofs/mutants/tls_table.sed - the edge FLUSHING -> SHUTDOWN dropped from aiotp__tls_ly_edges:
# the C table no longer matches the ACSL edge predicates.
# file: src/core/tls_sm.c
# module: tls_sm
# fct: aiotp_proof_tls_tables
# expect: ly_table
s/    \[AIOTP__TLS_FLUSHING\] = {\[AIOTP__TLS_SHUTDOWN\] = true, \[AIOTP__TLS_CLOSED\] = true},/    [AIOTP__TLS_FLUSHING] = {[AIOTP__TLS_CLOSED] = true},/
