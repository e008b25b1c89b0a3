# proofs/mutants/admission.sed - write() refused as "dropped" while CLOSING too: data written
# after close() with data pending would be lost (WRITE-WRITE-5: it must be accepted).
# file: src/core/stream_sm.c
# module: stream_sm
# fct: aiotp__stream_write_admission
# expect: accepted
s/} else if (s->life == AIOTP__LIFE_LOST_PENDING || s->life == AIOTP__LIFE_CLOSED) {/} else if (s->life != AIOTP__LIFE_OPEN) {/
