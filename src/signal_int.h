/*
 * src/signal_int.h - signals and the child watcher of a loop (src/signal.c).
 *
 * Layer 1 (spec/architecture.md): part of the loop. One loop-owned object, the signal
 * hub, made on first use: the signal numbers the process handler (the syscall table's
 * sigwatch entry) writes to the loop's self-pipe (the wake-up pipe, src/wakeup_int.h,
 * which hands them over), the user's signal handlers
 * (aiotp_loop_add_signal_handler), and the children the loop started, each watched
 * through a pidfd where the kernel has them, else through SIGCHLD and waitpid on that
 * child's pid (spec/subprocess.md, "Child watching"). Names no transport kind.
 */
#ifndef AIOTP_SIGNAL_INT_H
#define AIOTP_SIGNAL_INT_H

#include <stdbool.h>
#include <sys/types.h>

#include "loop_int.h"

/* A watched child. */
typedef struct aiotp__child aiotp__child;

/* The child was reaped: code is its exit status (0..255), minus the signal that killed
   it, or 255 when someone else reaped it (reported to the exception handler). Called
   once, from the loop; the watch is gone when it runs. */
typedef void (*aiotp__child_fn)(aiotp_loop *loop, void *arg, int code);

/*
 * Watch child pid (started with the spawn entry): fn(loop, arg, code) once it has exited
 * and was reaped. A pidfd if the table's pidfd_open gives one, else SIGCHLD (the first
 * check runs in the next pass, so an exit before the watch began is seen). Returns 0
 * (*out, may be NULL, is the watch) or an error (AIOTP_ENOMEM, the self-pipe's error):
 * nothing is watched then, and the caller must reap the child itself.
 */
int aiotp__child_watch(aiotp_loop *loop, pid_t pid, aiotp__child_fn fn, void *arg,
                       aiotp__child **out);

/* fn will not be called: the child is still reaped when it exits (CHILD-3). */
void aiotp__child_forget(aiotp__child *c);

/* fn(loop, arg, code) is called instead of what was given before (a new owner of the
   child: a subprocess transport takes over the watch of the request that started it). */
void aiotp__child_rebind(aiotp__child *c, aiotp__child_fn fn, void *arg);

/* Watched through a pidfd (else SIGCHLD). */
bool aiotp__child_uses_pidfd(const aiotp__child *c);

#endif /* AIOTP_SIGNAL_INT_H */
