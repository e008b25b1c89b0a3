# proofs/mutants/dgram_close_drops.sed - close() with datagrams queued also drops the
# queue (a close that loses data): the actions differ from the table.
# file: src/core/dgram_sm.c
# module: dgram_sm
# fct: aiotp__dgram_step
# prop: acts
# expect: acts
s/                act = AIOTP__DGA_STOP_READER;$/                act = AIOTP__DGA_STOP_READER | AIOTP__DGA_DROP_QUEUE;/
