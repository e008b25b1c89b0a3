# proofs/mutants/data_none.sed - the DATA event answers NONE instead of REFUSED when the
# transport may not deliver (a shell that reads "not refused" as "deliver" would hand data
# to a closed protocol).
# file: src/core/stream_sm.c
# module: stream_sm
# fct: aiotp__stream_step
# prop: acts
# expect: acts
s/^    case AIOTP__EV_DATA: \(.*\)$/    case AIOTP__EV_DATA: act = AIOTP__ACT_NONE; \1/
