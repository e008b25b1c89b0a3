/*
 * aiotp/loop.h - the event loop.
 *
 * One pass of the loop ("iteration") does, in order (spec/rules.md, LOOP-1..LOOP-9):
 *   1. drop cancelled timers;
 *   2. choose the wait timeout: 0 if callbacks are ready or the loop is stopping,
 *      otherwise the time to the next timer (no limit if there is none);
 *   3. wait for readiness through the backend;
 *   4. queue the I/O callbacks of ready fds (for one fd: reader before writer);
 *   5. queue the timers that are due;
 *   6. run exactly the callbacks that are queued at this moment, in FIFO order.
 * Callbacks queued while step 6 runs wait for the next pass. This is CPython's
 * BaseEventLoop._run_once.
 *
 * The loop is not thread-safe: every function must be called from the thread that runs
 * the loop.
 */
#ifndef AIOTP_LOOP_H
#define AIOTP_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aiotp/backend.h"
#include "aiotp/sys.h"

typedef struct aiotp_loop aiotp_loop;
typedef struct aiotp_transport aiotp_transport;
typedef struct aiotp_server aiotp_server;
typedef struct aiotp_protocol aiotp_protocol;

/* Monotonic time in nanoseconds (from the syscall table's clock). */
typedef int64_t aiotp_time;
#define AIOTP_NS_PER_SEC ((aiotp_time)1000000000)
#define AIOTP_NS_PER_MS ((aiotp_time)1000000)

/* Identifies a scheduled callback; 0 is never a valid handle. */
typedef uint64_t aiotp_handle;

typedef void (*aiotp_callback_fn)(aiotp_loop *loop, void *arg);
typedef void (*aiotp_fd_fn)(aiotp_loop *loop, int fd, void *arg);

/*
 * What CPython passes to call_exception_handler(context). `message` is always set;
 * `status` is the error (the analogue of the 'exception' key), 0 if none; the other
 * fields are NULL when they do not apply.
 */
typedef struct aiotp_exception_context {
    const char *message;
    int status;
    aiotp_transport *transport;
    const aiotp_protocol *protocol;
    void *protocol_data;
    aiotp_server *server;
} aiotp_exception_context;

typedef void (*aiotp_exception_fn)(aiotp_loop *loop, const aiotp_exception_context *ctx,
                                   void *arg);

/*
 * Trace hook: receives one line (without the newline) per traced event, in the format
 * described in spec/trace-format.md. NULL disables tracing.
 */
typedef void (*aiotp_trace_fn)(void *arg, const char *line);

typedef struct aiotp_loop_options {
    size_t size;                       /* sizeof(aiotp_loop_options) */
    const aiotp_backend *backend;      /* NULL: aiotp_backend_poll() */
    const aiotp_syscalls *syscalls;    /* NULL: aiotp_syscalls_posix() */
    const aiotp_allocator *allocator;  /* NULL: aiotp_allocator_default() */
} aiotp_loop_options;

/* Create a loop. opts may be NULL. Returns 0, AIOTP_EINVAL or AIOTP_ENOMEM, or the
   backend's error. */
int aiotp_loop_create(aiotp_loop **out, const aiotp_loop_options *opts);

/* Free the loop. Every transport and server still alive is closed without callbacks,
   pending callbacks are dropped, and every handle the loop gave out becomes invalid.
   Calling it while the loop runs is refused (nothing happens). */
void aiotp_loop_free(aiotp_loop *loop);

/* Run until aiotp_loop_stop(). Returns 0, AIOTP_ERUNNING if already running, or a
   backend failure. */
int aiotp_loop_run(aiotp_loop *loop);

/* Run exactly one iteration (may block in the wait step). Same returns as run. It is one
   pass of run(): after a stop() the pass does not block, and the stop request is spent
   when it returns, so the next run_once() waits again. */
int aiotp_loop_run_once(aiotp_loop *loop);

/* Ask run() to return after the current iteration (CPython loop.stop()). Called while
   the loop is not running, the next run() (or run_once()) makes one pass without blocking
   and returns. run() and run_once() clear the request when they return. */
void aiotp_loop_stop(aiotp_loop *loop);

bool aiotp_loop_is_running(const aiotp_loop *loop);

/* Number of iterations started so far (the "tick" of the traces). */
uint64_t aiotp_loop_iteration(const aiotp_loop *loop);

aiotp_time aiotp_loop_time(const aiotp_loop *loop);

/* Debug mode: fatal OS errors on transports are also sent to the exception handler,
   and failures of server-side protocol factories are reported. */
void aiotp_loop_set_debug(aiotp_loop *loop, bool enabled);
bool aiotp_loop_get_debug(const aiotp_loop *loop);

/* Schedule fn(loop, arg) for the next iteration (FIFO). *out (may be NULL) receives a
   handle for aiotp_loop_cancel(). Returns 0, AIOTP_EINVAL or AIOTP_ENOMEM. */
int aiotp_loop_call_soon(aiotp_loop *loop, aiotp_callback_fn fn, void *arg,
                         aiotp_handle *out);

/* Schedule fn after `delay` ns (negative counts as 0) / at absolute time `when`.
   Timers with equal times run in the order they were scheduled. */
int aiotp_loop_call_later(aiotp_loop *loop, aiotp_time delay, aiotp_callback_fn fn,
                          void *arg, aiotp_handle *out);
int aiotp_loop_call_at(aiotp_loop *loop, aiotp_time when, aiotp_callback_fn fn, void *arg,
                       aiotp_handle *out);

/* Cancel a scheduled callback. Returns 0, or AIOTP_ENOENT if it already ran, was
   already cancelled, or never existed. A handle names one callback only: once that
   callback ran or was cancelled, the handle is refused for ever (it never matches a later
   callback). A cancelled timer leaves the timer heap at once. */
int aiotp_loop_cancel(aiotp_loop *loop, aiotp_handle handle);

/* Watch a user fd. Replaces an existing reader (writer) of the same fd. Returns 0,
   AIOTP_EBADF (fd < 0), AIOTP_EINVAL (fn NULL), AIOTP_EBUSY (fd belongs to a transport
   that is not closing), AIOTP_ENOMEM or a backend error. */
int aiotp_loop_add_reader(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg);
int aiotp_loop_add_writer(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg);
/* Returns 1 if a reader (writer) was removed, 0 if there was none, AIOTP_EBADF,
   AIOTP_EBUSY. */
int aiotp_loop_remove_reader(aiotp_loop *loop, int fd);
int aiotp_loop_remove_writer(aiotp_loop *loop, int fd);

/* Exception handler (NULL restores the default, which prints to stderr). */
void aiotp_loop_set_exception_handler(aiotp_loop *loop, aiotp_exception_fn fn, void *arg);
void aiotp_loop_call_exception_handler(aiotp_loop *loop, const aiotp_exception_context *ctx);
void aiotp_loop_default_exception_handler(aiotp_loop *loop,
                                          const aiotp_exception_context *ctx);

/* Trace hook for every transport of this loop (spec/trace-format.md). */
void aiotp_loop_set_trace(aiotp_loop *loop, aiotp_trace_fn fn, void *arg);

#endif /* AIOTP_LOOP_H */
