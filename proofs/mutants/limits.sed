# proofs/mutants/limits.sed - only high given: low = high / 2 instead of high / 4 (FLOW-2).
# file: src/core/flow.c
# module: flow
# fct: aiotp__flow_set_limits
# expect: FLOW_2_only_high
s/        l = h \/ 4;/        l = h \/ 2;/
