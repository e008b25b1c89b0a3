/*
 * src/wakeup_int.h - the loop's wake-up: a self-pipe registered with the loop like any
 * fd, and a queue that any thread may post to (spec/architecture.md, layer 1: a loop
 * service, kind-agnostic).
 *
 * Three ways in, for every service that must reach the loop thread from elsewhere:
 *   - aiotp__wakeup_post(): from any thread, a node whose run() is called on the loop
 *     thread at the next wake-up, in posting order (aiotp_loop_call_soon_threadsafe(),
 *     the worker pool's finished jobs); the node is the caller's memory, so posting
 *     never allocates and never fails;
 *   - aiotp__wakeup_signal(): async-signal-safe, one write(2) of one byte: a signal
 *     handler's way to wake the loop (it sets its own flags first);
 *   - aiotp__wakeup_add_hook(): on the loop thread, a function called at every wake-up
 *     (before the posted nodes), where a signal service looks at its flags.
 * The pipe is made by aiotp_loop_create (through the syscall table's pipe entry) and
 * its fds belong to the wake-up (LOOP-8: user watchers on them are refused).
 */
#ifndef AIOTP_WAKEUP_INT_H
#define AIOTP_WAKEUP_INT_H

#include "loop_int.h"

typedef struct aiotp__wake_node aiotp__wake_node;
struct aiotp__wake_node {
    aiotp__wake_node *next;
    /* on the loop thread, in the pass that sees the wake-up that follows the post */
    void (*run)(aiotp_loop *loop, aiotp__wake_node *n);
    /* aiotp_loop_free before run() could be called: release the node's memory, call no
       user code */
    void (*drop)(aiotp_loop *loop, aiotp__wake_node *n);
};

typedef struct aiotp__wake_hook aiotp__wake_hook;
struct aiotp__wake_hook {
    void (*fn)(aiotp_loop *loop, void *arg);
    void *arg;
    aiotp__wake_hook *next; /* (the wake-up's list) */
};

/* Make the wake-up of a new loop (its pipe, registered for reading). 0 or an error,
   then nothing is left behind. */
int aiotp__wakeup_open(aiotp_loop *loop);
/* Any thread: queue n and wake the loop. Never fails. */
void aiotp__wakeup_post(aiotp_loop *loop, aiotp__wake_node *n);
/* Any thread, and async-signal-safe: wake the loop (one byte into the pipe). */
void aiotp__wakeup_signal(aiotp_loop *loop);
/* Loop thread: h->fn(loop, h->arg) at every wake-up until removed (h is the caller's
   memory). */
void aiotp__wakeup_add_hook(aiotp_loop *loop, aiotp__wake_hook *h);
void aiotp__wakeup_remove_hook(aiotp_loop *loop, aiotp__wake_hook *h);

#endif /* AIOTP_WAKEUP_INT_H */
