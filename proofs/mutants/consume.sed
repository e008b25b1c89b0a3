# proofs/mutants/consume.sed - consume(n) with n equal to the bytes up to the end of the
# storage moves head to cap instead of wrapping to 0 (WBUF-3).
# file: src/core/wbuf.c
# module: wbuf
# fct: aiotp__wbuf_consume
# expect: WBUF_3_front|valid
s/    } else if (n < first) {/    } else if (n <= first) {/
