/**
 * @file
 * @brief The event loop: passes, callbacks, timers, fd watchers, the exception handler.
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
 * the loop. (A thread-safe aiotp_loop_call_soon_threadsafe() is planned: issue 12.)
 *
 * Nothing in the loop blocks except step 3, with one exception today: resolving a host
 * name that is not a numeric address (create_connection, create_server) calls
 * getaddrinfo() on the loop thread, and the loop waits for it (server.h).
 */
#ifndef AIOTP_LOOP_H
#define AIOTP_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aiotp/export.h"
#include "aiotp/backend.h"
#include "aiotp/sys.h"

AIOTP_BEGIN_DECLS

/** An event loop (opaque; aiotp_loop_create()). */
typedef struct aiotp_loop aiotp_loop;
/** A transport (opaque; transport.h). */
typedef struct aiotp_transport aiotp_transport;
/** A server (opaque; server.h). */
typedef struct aiotp_server aiotp_server;
/** A protocol's callback table (protocol.h). */
typedef struct aiotp_protocol aiotp_protocol;

/** Monotonic time in nanoseconds (from the syscall table's clock). */
typedef int64_t aiotp_time;
/** Nanoseconds per second, as an #aiotp_time. */
#define AIOTP_NS_PER_SEC ((aiotp_time)1000000000)
/** Nanoseconds per millisecond, as an #aiotp_time. */
#define AIOTP_NS_PER_MS ((aiotp_time)1000000)

/** Identifies a scheduled callback; 0 is never a valid handle. */
typedef uint64_t aiotp_handle;

/**
 * A scheduled callback (call_soon, call_later, call_at).
 * @param loop the loop running it.
 * @param arg the argument given when it was scheduled.
 */
typedef void (*aiotp_callback_fn)(aiotp_loop *loop, void *arg);
/**
 * An fd watcher (add_reader, add_writer): called in a pass where fd is ready.
 * @param loop the loop running it.
 * @param fd the watched file descriptor.
 * @param arg the argument given with the watcher.
 */
typedef void (*aiotp_fd_fn)(aiotp_loop *loop, int fd, void *arg);

/**
 * What CPython passes to call_exception_handler(context). `message` is always set;
 * `status` is the error (the analogue of the 'exception' key), 0 if none; the other
 * fields are NULL when they do not apply.
 */
typedef struct aiotp_exception_context {
    const char *message;            /**< what happened (never NULL) */
    int status;                     /**< the error, 0 if none */
    aiotp_transport *transport;     /**< the transport concerned, or NULL */
    const aiotp_protocol *protocol; /**< its protocol table, or NULL */
    void *protocol_data;            /**< its protocol data, or NULL */
    aiotp_server *server;           /**< the server concerned, or NULL */
} aiotp_exception_context;

/**
 * An exception handler (aiotp_loop_set_exception_handler()). It runs synchronously
 * where the error was found, possibly inside another callback; the pointers in `ctx`
 * are valid only during the call.
 * @param loop the loop.
 * @param ctx what happened.
 * @param arg the argument given with the handler.
 */
typedef void (*aiotp_exception_fn)(aiotp_loop *loop, const aiotp_exception_context *ctx,
                                   void *arg);

/**
 * Trace hook: receives one line (without the newline) per traced event, in the format
 * described in spec/trace-format.md. NULL disables tracing.
 * @param arg the argument given with the hook.
 * @param line the line, valid only during the call.
 */
typedef void (*aiotp_trace_fn)(void *arg, const char *line);

/** Options of aiotp_loop_create(); zero-fill, then set `size`. */
typedef struct aiotp_loop_options {
    size_t size;                       /**< sizeof(aiotp_loop_options) */
    const aiotp_backend *backend;      /**< NULL: aiotp_backend_poll() */
    const aiotp_syscalls *syscalls;    /**< NULL: aiotp_syscalls_posix() */
    const aiotp_allocator *allocator;  /**< NULL: aiotp_allocator_default() */
} aiotp_loop_options;

/**
 * Create a loop.
 * @param out receives the loop.
 * @param opts options, or NULL for the defaults (poll, POSIX, malloc).
 * @return 0, #AIOTP_EINVAL (out NULL; an options, backend or syscall table whose `size`
 *         is not this build's; an allocator, backend or syscall table with a NULL entry:
 *         LOOP-10), #AIOTP_ENOMEM, or the backend's error.
 */
int aiotp_loop_create(aiotp_loop **out, const aiotp_loop_options *opts);

/**
 * Free the loop. Every transport and server still alive is closed without callbacks
 * (no connection_lost: per-connection data the protocol would free there is not
 * freed), pending callbacks are dropped, and every handle and pointer the loop gave
 * out becomes invalid, also a transport or server the user retained: release every
 * reference before (a graceful aiotp_loop_close_all() and a free that never frees a
 * retained object are planned: issue 12). Calling it while the loop runs is refused
 * (nothing happens).
 * @param loop the loop (NULL: nothing happens).
 */
void aiotp_loop_free(aiotp_loop *loop);

/**
 * Run until aiotp_loop_stop().
 * @param loop the loop.
 * @return 0 after stop(), #AIOTP_EINVAL (loop NULL), #AIOTP_ERUNNING if already running
 *         (e.g. called from a callback), or a backend failure.
 */
int aiotp_loop_run(aiotp_loop *loop);

/**
 * Run exactly one iteration (may block in the wait step).
 * @param loop the loop.
 * @return the same as aiotp_loop_run().
 */
int aiotp_loop_run_once(aiotp_loop *loop);

/**
 * Ask run() to return after the current iteration (CPython loop.stop()). Called
 * outside a run, the next run() does one pass and returns.
 * @param loop the loop.
 */
void aiotp_loop_stop(aiotp_loop *loop);

/**
 * Whether run() or run_once() is executing.
 * @param loop the loop.
 * @return true inside run()/run_once(), false otherwise (and for NULL).
 */
bool aiotp_loop_is_running(const aiotp_loop *loop);

/**
 * Number of iterations started so far (the "tick" of the traces).
 * @param loop the loop.
 * @return the count (0 for NULL).
 */
uint64_t aiotp_loop_iteration(const aiotp_loop *loop);

/**
 * The loop's clock (CPython loop.time()).
 * @param loop the loop.
 * @return monotonic time in nanoseconds, from the syscall table's clock.
 */
aiotp_time aiotp_loop_time(const aiotp_loop *loop);

/**
 * Debug mode: fatal OS errors on transports are also sent to the exception handler,
 * and failures of server-side protocol factories are reported.
 * @param loop the loop.
 * @param enabled on or off (off by default).
 */
void aiotp_loop_set_debug(aiotp_loop *loop, bool enabled);
/**
 * Whether debug mode is on.
 * @param loop the loop.
 * @return the flag set by aiotp_loop_set_debug().
 */
bool aiotp_loop_get_debug(const aiotp_loop *loop);

/**
 * Schedule fn(loop, arg) for the next iteration (FIFO).
 * @param loop the loop.
 * @param fn the callback.
 * @param arg its argument.
 * @param out receives a handle for aiotp_loop_cancel(); may be NULL.
 * @return 0, #AIOTP_EINVAL or #AIOTP_ENOMEM.
 */
int aiotp_loop_call_soon(aiotp_loop *loop, aiotp_callback_fn fn, void *arg,
                         aiotp_handle *out);

/**
 * Schedule fn after `delay` ns. Timers with equal times run in the order they were
 * scheduled, never before their time.
 * @param loop the loop.
 * @param delay nanoseconds from now (negative counts as 0).
 * @param fn the callback.
 * @param arg its argument.
 * @param out receives a handle for aiotp_loop_cancel(); may be NULL.
 * @return 0, #AIOTP_EINVAL or #AIOTP_ENOMEM.
 */
int aiotp_loop_call_later(aiotp_loop *loop, aiotp_time delay, aiotp_callback_fn fn,
                          void *arg, aiotp_handle *out);
/**
 * Schedule fn at absolute time `when` (aiotp_loop_time()'s clock).
 * @param loop the loop.
 * @param when the time; a time in the past runs in the next pass.
 * @param fn the callback.
 * @param arg its argument.
 * @param out receives a handle for aiotp_loop_cancel(); may be NULL.
 * @return 0, #AIOTP_EINVAL or #AIOTP_ENOMEM.
 */
int aiotp_loop_call_at(aiotp_loop *loop, aiotp_time when, aiotp_callback_fn fn, void *arg,
                       aiotp_handle *out);

/**
 * Cancel a scheduled callback; it will not run.
 * @param loop the loop.
 * @param handle what call_soon/call_later/call_at stored.
 * @return 0, or #AIOTP_ENOENT if it already ran, was already cancelled, or never
 *         existed.
 */
int aiotp_loop_cancel(aiotp_loop *loop, aiotp_handle handle);

/**
 * Watch a user fd for reading: fn runs in every pass where fd is readable (or in
 * error). Replaces an existing reader of the same fd.
 * @param loop the loop.
 * @param fd the file descriptor (not one a transport, server or pending wrap owns).
 * @param fn the watcher.
 * @param arg its argument.
 * @return 0, #AIOTP_EBADF (fd < 0), #AIOTP_EINVAL (fn NULL), #AIOTP_EBUSY (fd belongs
 *         to a transport until its connection_lost has run, to a server that is not
 *         closed, or to a pending wrap: LOOP-8), #AIOTP_ENOMEM or a backend error.
 */
int aiotp_loop_add_reader(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg);
/**
 * Watch a user fd for writing; as aiotp_loop_add_reader().
 * @param loop the loop.
 * @param fd the file descriptor.
 * @param fn the watcher.
 * @param arg its argument.
 * @return the same as aiotp_loop_add_reader().
 */
int aiotp_loop_add_writer(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg);
/**
 * Stop watching fd for reading.
 * @param loop the loop.
 * @param fd the file descriptor.
 * @return 1 if a reader was removed, 0 if there was none, #AIOTP_EBADF, #AIOTP_EBUSY.
 */
int aiotp_loop_remove_reader(aiotp_loop *loop, int fd);
/**
 * Stop watching fd for writing.
 * @param loop the loop.
 * @param fd the file descriptor.
 * @return 1 if a writer was removed, 0 if there was none, #AIOTP_EBADF, #AIOTP_EBUSY.
 */
int aiotp_loop_remove_writer(aiotp_loop *loop, int fd);

/**
 * Set the exception handler: it receives what the library cannot report through a
 * return value or a callback status (a failing protocol callback, an error in debug
 * mode).
 * @param loop the loop.
 * @param fn the handler; NULL restores the default, which prints to stderr.
 * @param arg its argument.
 */
void aiotp_loop_set_exception_handler(aiotp_loop *loop, aiotp_exception_fn fn, void *arg);
/**
 * Report to the exception handler (the user's, or the default).
 * @param loop the loop.
 * @param ctx what to report (message required).
 */
void aiotp_loop_call_exception_handler(aiotp_loop *loop, const aiotp_exception_context *ctx);
/**
 * The default handler: prints "aiotp: MESSAGE [NAME: description of status]" to
 * stderr. A user handler may call it.
 * @param loop the loop.
 * @param ctx what to report.
 */
void aiotp_loop_default_exception_handler(aiotp_loop *loop,
                                          const aiotp_exception_context *ctx);

/**
 * Trace hook for every transport of this loop (spec/trace-format.md).
 * @param loop the loop.
 * @param fn the hook; NULL stops tracing.
 * @param arg its argument.
 */
void aiotp_loop_set_trace(aiotp_loop *loop, aiotp_trace_fn fn, void *arg);

/**
 * A signal handler (aiotp_loop_add_signal_handler()). It runs on the loop, from the loop
 * (never inside the operating system's signal handler), as an ordinary callback: it may
 * call any loop or transport function, add or remove signal handlers (its own too), and
 * stop the loop.
 * @param loop the loop.
 * @param signum the signal that arrived.
 * @param arg the argument given with the handler.
 */
typedef void (*aiotp_signal_fn)(aiotp_loop *loop, int signum, void *arg);

/**
 * Handle signal signum on this loop (asyncio loop.add_signal_handler). The process
 * handler the library installs only writes the signal's number to the loop's self-pipe;
 * the loop reads it in its next pass and calls fn once for each arrival it reads
 * (arrivals of one signal that the operating system merged count once). Replaces a
 * handler already set for signum. The signal's disposition is the library's until the
 * handler is removed or the loop is freed; several loops may handle the same signal
 * (each gets every arrival). No threads are involved.
 * @param loop the loop.
 * @param signum the signal (1 .. the highest signal number; not SIGKILL or SIGSTOP).
 * @param fn the handler.
 * @param arg its argument.
 * @return 0, #AIOTP_EINVAL (loop or fn NULL, signum out of range, SIGKILL, SIGSTOP),
 *         #AIOTP_ENOMEM, -ENOSPC (the process watches too many signals), or the error of
 *         making the self-pipe (-EMFILE, ...). Nothing changes on an error.
 */
int aiotp_loop_add_signal_handler(aiotp_loop *loop, int signum, aiotp_signal_fn fn,
                                  void *arg);
/**
 * Stop handling signal signum (asyncio loop.remove_signal_handler): the signal's previous
 * disposition comes back (unless another loop still handles it). Arrivals already written
 * to the self-pipe and not read yet are dropped.
 * @param loop the loop.
 * @param signum the signal.
 * @return 1 if a handler was removed, 0 if there was none, #AIOTP_EINVAL (loop NULL,
 *         signum out of range).
 */
int aiotp_loop_remove_signal_handler(aiotp_loop *loop, int signum);

AIOTP_END_DECLS

#endif /* AIOTP_LOOP_H */
