# proofs/mutants/tls_close_drops.sed - close() on a wrapped TLS transport also drops what is
# queued (a close that loses data before close_notify): the actions differ from the table.
# file: src/core/tls_sm.c
# module: tls_sm
# fct: aiotp__tls_step
# prop: acts
# expect: acts
s/            act = AIOTP__TLSA_ARM_SHUTDOWN_TIMER | AIOTP__TLSA_FLUSH_BACKLOG;/            act = AIOTP__TLSA_ARM_SHUTDOWN_TIMER | AIOTP__TLSA_FLUSH_BACKLOG | AIOTP__TLSA_DROP_BUFFERS;/
