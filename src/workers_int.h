/*
 * src/workers_int.h - the loop's worker threads (spec/architecture.md, layer 1: a loop
 * service). A job runs its work() in a worker thread and its completion on the loop
 * thread, posted back through the wake-up (src/wakeup_int.h).
 *
 * The pool is a loop-owned object made on the first submit, with at most
 * loop->resolver.threads POSIX threads, each made when a job finds no idle one (every
 * signal blocked in it, so that signal handlers run on the loop's thread). Its
 * teardown (aiotp_loop_free) wakes the threads, waits for the jobs they run, and joins
 * them; the jobs still queued are left unsubmitted.
 *
 * A job is the caller's memory. Its life: IDLE -> QUEUED (submit) -> RUNNING (a worker
 * took it) -> POSTED (work() returned; done() follows on the loop thread, or the
 * wake-up's drop at aiotp_loop_free). aiotp__work_cancel takes a QUEUED job back
 * (IDLE again: done() never runs); a RUNNING or POSTED job cannot be taken back.
 */
#ifndef AIOTP_WORKERS_INT_H
#define AIOTP_WORKERS_INT_H

#include "wakeup_int.h"

typedef enum aiotp__work_state {
    AIOTP__WORK_IDLE = 0,
    AIOTP__WORK_QUEUED,
    AIOTP__WORK_RUNNING,
    AIOTP__WORK_POSTED
} aiotp__work_state;

typedef struct aiotp__work aiotp__work;
struct aiotp__work {
    /* posted back through the wake-up: node.run is the completion (loop thread),
       node.drop the release at aiotp_loop_free; set by the caller */
    aiotp__wake_node node;
    void (*work)(aiotp__work *w); /* in a worker thread; touches only the job */
    aiotp__work *qnext;           /* the pool's queue */
    aiotp__work_state state;      /* under the pool's lock while submitted */
};

/* Queue w (IDLE) for a worker. 0, AIOTP_ENOMEM, or the error of making the first thread
   (-EAGAIN, ...): then w stays IDLE. */
int aiotp__work_submit(aiotp_loop *loop, aiotp__work *w);
/* Take w back if no worker took it yet: true (w is IDLE, its completion never runs);
   false when it runs or ran (its completion, or drop, follows). */
bool aiotp__work_cancel(aiotp_loop *loop, aiotp__work *w);

#endif /* AIOTP_WORKERS_INT_H */
