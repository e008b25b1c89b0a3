# proofs/mutants/dgram_recv_none.sed - a read event when the transport may not deliver
# answers NONE instead of REFUSED (the shell would then go on to receive).
# file: src/core/dgram_sm.c
# module: dgram_sm
# fct: aiotp__dgram_step
# prop: acts
# expect: acts
s|    case AIOTP__DGEV_RECV: /\* DGRAM-RECV-3 \*/|    case AIOTP__DGEV_RECV: act = AIOTP__DGA_NONE; /* DGRAM-RECV-3 */|
