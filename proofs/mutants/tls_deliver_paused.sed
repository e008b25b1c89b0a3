# proofs/mutants/tls_deliver_paused.sed - bytes reach a protocol that paused reading.
# file: src/core/tls_sm.c
# module: tls_sm
# fct: aiotp__tls_step
# prop: deliver_when_reading
# passes: bounded
# expect: deliver_when_reading
s/            act = s->rd == AIOTP__TLS_RD_ACTIVE \&\& s->app == AIOTP__TLS_APP_CONNECTED/            act = s->app == AIOTP__TLS_APP_CONNECTED/
