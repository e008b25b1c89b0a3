# proofs/mutants/proc_lost_early.sed - connection_lost scheduled as soon as every pipe is
# closed, without waiting for process_exited (SUBPROC-LOST-1 broken).
# file: src/core/proc_sm.c
# module: proc_sm
# fct: aiotp__proc_step
# prop: lost_when_all_done,PROC_INV
# expect: PROC_INV|lost_when_all_done
s/    if (n.life == AIOTP__PR_OPEN \&\& n.exit == AIOTP__PR_TOLD \&\& n.pipes == 0) {/    if (n.life == AIOTP__PR_OPEN \&\& n.ph == AIOTP__PR_PH_CONNECTED \&\& n.pipes == 0) {/
