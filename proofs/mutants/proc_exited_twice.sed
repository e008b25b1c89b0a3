# proofs/mutants/proc_exited_twice.sed - a second reaping tells process_exited again
# (SUBPROC-EXIT-1 broken).
# file: src/core/proc_sm.c
# module: proc_sm
# fct: aiotp__proc_step
# prop: exited_on_entry
# expect: exited_on_entry
s/        if (s->exit == AIOTP__PR_RUNNING) {/        if (s->exit != AIOTP__PR_EXITED) {/
