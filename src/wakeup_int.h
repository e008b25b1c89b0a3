/*
 * src/wakeup_int.h - the loop's wake-up: a self-pipe registered with the loop like any
 * fd, and a queue that any thread may post to (spec/architecture.md, layer 1: a loop
 * service, kind-agnostic).
 *
 * Two ways in, for every service that must reach the loop thread from elsewhere:
 *   - aiotp__wakeup_post(): from any thread, a node whose run() is called on the loop
 *     thread at the next wake-up, in posting order (aiotp_loop_call_soon_threadsafe(),
 *     the worker pool's finished jobs); the node is the caller's memory, so posting
 *     never allocates and never fails;
 *   - a byte other than AIOTP__WAKE_BYTE written to aiotp__wakeup_wfd() (by a process
 *     signal handler: one write(2), async-signal-safe): the loop thread hands it to the
 *     sink (the signal hub: signal numbers, and 0 for "check the children"), in the
 *     order written, before the posted nodes run. The loop has this one self-pipe.
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

/* The byte a post writes: no signal number (1..64) and not the hub's 0. */
#define AIOTP__WAKE_BYTE 0xff

/* Loop thread: called with each byte read from the pipe that is not AIOTP__WAKE_BYTE. */
typedef void (*aiotp__wake_sink)(aiotp_loop *loop, void *arg, unsigned char byte);

/* Make the wake-up of a new loop (its pipe, registered for reading). 0 or an error,
   then nothing is left behind. */
int aiotp__wakeup_open(aiotp_loop *loop);
/* Any thread: queue n and wake the loop. Never fails. */
void aiotp__wakeup_post(aiotp_loop *loop, aiotp__wake_node *n);
/* The pipe's write end (non-blocking, the loop's: LOOP-8), for a process signal handler
   to write bytes to. */
int aiotp__wakeup_wfd(const aiotp_loop *loop);
/* Loop thread: hand every byte read that is not AIOTP__WAKE_BYTE to fn (NULL: drop them).
   One sink per loop: the signal hub. */
void aiotp__wakeup_set_sink(aiotp_loop *loop, aiotp__wake_sink fn, void *arg);

#endif /* AIOTP_WAKEUP_INT_H */
