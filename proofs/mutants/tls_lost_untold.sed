# proofs/mutants/tls_lost_untold.sed - the stream transport's connection_lost after a failed
# handshake calls the protocol's connection_lost (a protocol that never got connection_made
# is told it lost the connection): CALL_LOST without app entering LOST.
# file: src/core/tls_sm.c
# module: tls_sm
# fct: aiotp__tls_step
# prop: lost_on_entry
# expect: lost_on_entry
s/                act = told ? AIOTP__TLSA_CALL_LOST : AIOTP__TLSA_NONE;/                act = AIOTP__TLSA_CALL_LOST;/
