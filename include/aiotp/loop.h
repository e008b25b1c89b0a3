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
 * the loop, except aiotp_loop_call_soon_threadsafe(), which any thread may call (it
 * wakes the loop through the loop's wake-up pipe).
 *
 * Nothing in the loop blocks except step 3. Host names (create_connection,
 * create_server, create_datagram_endpoint, aiotp_loop_getaddrinfo()) are resolved with
 * getaddrinfo() in a small pool of worker threads, the result delivered on the loop
 * thread; numeric addresses ("127.0.0.1", "::1") are resolved on the loop thread at
 * once (getaddrinfo with AI_NUMERICHOST, which never blocks). #aiotp_resolver replaces
 * the resolver. A loop made with a syscall table of its own (e.g. the simulated
 * kernel's) and no resolver resolves through that table on the loop thread, as before,
 * which keeps it deterministic.
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
/** A TLS context (opaque; tls.h, in the optional library aiotp_tls). */
typedef struct aiotp_tls_context aiotp_tls_context;

/** Monotonic time in nanoseconds (from the syscall table's clock). */
typedef int64_t aiotp_time;
/** Nanoseconds per second, as an #aiotp_time. */
#define AIOTP_NS_PER_SEC ((aiotp_time)1000000000)
/** Nanoseconds per millisecond, as an #aiotp_time. */
#define AIOTP_NS_PER_MS ((aiotp_time)1000000)

/** Identifies a scheduled callback; 0 is never a valid handle. */
typedef uint64_t aiotp_handle;

/**
 * Identifies a pending asynchronous operation (a connect, a listen, a datagram endpoint,
 * a name resolution) for aiotp_loop_cancel_op(); 0 is never a valid operation. An
 * operation's number is never reused by its loop.
 */
typedef uint64_t aiotp_op;

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

/**
 * A blocking getaddrinfo() for the resolver: the convention of the syscall table's entry
 * (sys.h): returns 0 or an EAI_* code, *res is freed with the matching
 * #aiotp_freeaddrinfo_fn.
 * @param ctx the resolver's `ctx`.
 * @param node the host (NULL: the wildcard or loopback address, as getaddrinfo()).
 * @param service the port, as a decimal string.
 * @param hints family, socket type, protocol and flags.
 * @param res receives the list.
 * @return 0 or an EAI_* code.
 */
typedef int (*aiotp_getaddrinfo_fn)(void *ctx, const char *node, const char *service,
                                    const struct addrinfo *hints, struct addrinfo **res);
/**
 * Frees what an #aiotp_getaddrinfo_fn returned.
 * @param ctx the resolver's `ctx`.
 * @param res the list.
 */
typedef void (*aiotp_freeaddrinfo_fn)(void *ctx, struct addrinfo *res);

/**
 * A name resolver (aiotp_loop_options.resolver). `getaddrinfo` is called for host names
 * (numeric addresses are resolved on the loop thread first, through the syscall table
 * with AI_NUMERICHOST): with `threads` > 0 in up to that many worker threads (POSIX
 * threads made when the first name is resolved, every signal blocked in them, joined by
 * aiotp_loop_free()), so it may block and must be thread-safe; with `threads` 0 on the
 * loop thread, where a blocking entry blocks the loop. The results are delivered on the
 * loop thread through the loop's wake-up. The table must outlive the loop.
 */
typedef struct aiotp_resolver {
    size_t size;                        /**< sizeof(aiotp_resolver) */
    void *ctx;                          /**< passed to both entries */
    aiotp_getaddrinfo_fn getaddrinfo;   /**< resolves one name (required) */
    aiotp_freeaddrinfo_fn freeaddrinfo; /**< frees its result (required) */
    unsigned threads;                   /**< worker threads at most; 0: the loop thread */
} aiotp_resolver;

/**
 * The default resolver: the C library's getaddrinfo() in up to 4 worker threads (the
 * resolver of a loop made with the POSIX syscall table and no resolver of its own).
 * @return a static table.
 */
const aiotp_resolver *aiotp_resolver_default(void);

/** Options of aiotp_loop_create(); zero-fill, then set `size`. */
typedef struct aiotp_loop_options {
    size_t size;                       /**< sizeof(aiotp_loop_options), or
                                            #AIOTP_LOOP_OPTIONS_SIZE_V1 */
    const aiotp_backend *backend;      /**< NULL: aiotp_backend_poll() */
    const aiotp_syscalls *syscalls;    /**< NULL: aiotp_syscalls_posix() */
    const aiotp_allocator *allocator;  /**< NULL: aiotp_allocator_default(). With
                                            aiotp_loop_call_soon_threadsafe() it is also
                                            called from the calling thread: it must be
                                            thread-safe then (malloc is) */
    /* ---- since 0.2 (options of size AIOTP_LOOP_OPTIONS_SIZE_V1 end above) ---- */
    const aiotp_resolver *resolver;    /**< NULL: aiotp_resolver_default() with the POSIX
                                            syscall table; with another table, that
                                            table's getaddrinfo on the loop thread */
} aiotp_loop_options;

/** Size of the first layout of #aiotp_loop_options (up to `allocator`), still accepted. */
#define AIOTP_LOOP_OPTIONS_SIZE_V1 (offsetof(aiotp_loop_options, resolver))

/**
 * Create a loop. Its wake-up pipe (aiotp_loop_call_soon_threadsafe()) is made here: two
 * file descriptors the loop owns until it is freed.
 * @param out receives the loop.
 * @param opts options, or NULL for the defaults (poll, POSIX, malloc, the default
 *        resolver).
 * @return 0, #AIOTP_EINVAL (out NULL; an options, backend, syscall table or resolver
 *         whose `size` is not this build's; an allocator, backend, syscall table or
 *         resolver with a NULL entry: LOOP-10), #AIOTP_ENOMEM, the backend's error, or
 *         the error of making the wake-up pipe (-EMFILE, ...).
 */
int aiotp_loop_create(aiotp_loop **out, const aiotp_loop_options *opts);

/**
 * Free the loop, without calling any callback: every transport and server still alive
 * is closed (no connection_lost: per-connection data a protocol would free there is not
 * freed: call aiotp_loop_close_all() first and run the loop until it completes), pending
 * operations and callbacks are dropped (no completion), name resolutions still running
 * in worker threads are waited for (getaddrinfo() cannot be interrupted), and every
 * handle the loop gave out becomes invalid.
 *
 * **Retained objects: deferred.** A transport or server the user retained
 * (aiotp_transport_retain(), aiotp_server_retain()) is not freed: its socket is closed,
 * its buffers freed, and the object stays valid, behaving as a closed transport or
 * server (every method defined, answering #AIOTP_ECLOSED or a neutral value;
 * aiotp_transport_get_loop() returns NULL), until its last release, which frees it; the
 * loop's own memory goes with the last such object (LIFE-1). Calling it while the loop
 * runs is refused (nothing happens).
 * @param loop the loop (NULL: nothing happens).
 */
void aiotp_loop_free(aiotp_loop *loop);

/**
 * Close everything, gracefully (asyncio 3.13's Server.close_clients() for a whole loop):
 * every server is closed (aiotp_server_close()), every transport whose connection_lost
 * has not run is closed (aiotp_transport_close(): its buffer is flushed first) or, with
 * `abort`, aborted, and every pending operation is cancelled (its completion runs with
 * #AIOTP_ECANCELED). Nothing is called back inside this call; every protocol then gets
 * its connection_lost from the loop. `done`, if not NULL, runs once, from the loop, in
 * the pass after the last of them (every transport lost, every completion delivered,
 * every server closed without connections or waiting wait_closed): the place to call
 * aiotp_loop_stop() and then aiotp_loop_free(). A second call while the first is under
 * way closes what was made since and adds its own `done` (CLOSE-1..CLOSE-3).
 * @param loop the loop.
 * @param abort abort transports rather than close them (queued data is dropped).
 * @param done called once everything is closed; may be NULL.
 * @param arg its argument.
 * @return 0, #AIOTP_EINVAL (loop NULL), #AIOTP_ENOMEM (no memory for `done`: nothing
 *         was closed).
 */
int aiotp_loop_close_all(aiotp_loop *loop, bool abort, aiotp_callback_fn done, void *arg);

/**
 * Run until aiotp_loop_stop().
 * @param loop the loop.
 * @return 0 after stop(), #AIOTP_EINVAL (loop NULL), #AIOTP_ERUNNING if already running
 *         (e.g. called from a callback) or called from a protocol callback inside a
 *         transport method, such as pause_writing inside write() (LOOP-11), or a backend
 *         failure (the wait's error, or #AIOTP_ENOMEM): the pass in which it happened
 *         still ran the callbacks queued for it and the due timers (LOOP-12).
 */
int aiotp_loop_run(aiotp_loop *loop);

/**
 * Run exactly one iteration (may block in the wait step). It is one pass of run(): after
 * a stop() the pass does not block, and the stop request is spent when it returns, so
 * the next run_once() waits again.
 * @param loop the loop.
 * @return the same as aiotp_loop_run().
 */
int aiotp_loop_run_once(aiotp_loop *loop);

/**
 * Ask run() to return after the current iteration (CPython loop.stop()). Called
 * outside a run, the next run() (or run_once()) does one pass without blocking and
 * returns. run() and run_once() clear the request when they return.
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
 * Schedule fn(loop, arg) from any thread (asyncio's call_soon_threadsafe): the loop is
 * woken through its wake-up pipe if it waits, and runs fn in the pass in which it sees
 * the wake-up, never inside this call. Callbacks posted by one thread run in the order
 * of the calls (WAKE-1). Unlike CPython no handle is returned: such a callback cannot be
 * cancelled. Not during or after aiotp_loop_free(). The loop's allocator is called
 * from the calling thread (aiotp_loop_options.allocator).
 * @param loop the loop.
 * @param fn the callback.
 * @param arg its argument.
 * @return 0, #AIOTP_EINVAL (loop or fn NULL) or #AIOTP_ENOMEM (then fn never runs).
 */
int aiotp_loop_call_soon_threadsafe(aiotp_loop *loop, aiotp_callback_fn fn, void *arg);

/**
 * Cancel a pending asynchronous operation (OP-1): its completion then runs once, from
 * the loop in the next pass (never inside this call), with #AIOTP_ECANCELED and no
 * result. Whatever the operation had made is released: a name resolution running in a
 * worker thread is abandoned (its result freed when it comes back), a socket being
 * connected is closed (also one whose connection was just established: its protocol
 * factory is never called, no connection_made), a pending listen or endpoint makes no
 * socket, a TLS handshake in progress is abandoned (the stream transport below is
 * aborted; the TLS protocol is told nothing). An operation is pending from the call that
 * returned it until its transport or server exists or it failed (a TLS connection: again
 * while its handshake runs, OP-2): from then on the completion is due with that result,
 * and cancelling returns #AIOTP_ENOENT (the completion still comes, once).
 * @param loop the loop.
 * @param op what the method stored in its options' `op` (or aiotp_loop_getaddrinfo()).
 * @return 0 (cancelled), #AIOTP_ENOENT (completed or completing, already cancelled,
 *         never existed; 0), #AIOTP_EINVAL (loop NULL).
 */
int aiotp_loop_cancel_op(aiotp_loop *loop, aiotp_op op);

/**
 * Completion of aiotp_loop_getaddrinfo(), called once from the loop.
 * @param arg the argument given with the callback.
 * @param status 0, or the error (#AIOTP_ENONAME, #AIOTP_EAI_AGAIN, #AIOTP_ECANCELED, ...).
 * @param res the addresses (status 0), valid only during the call; NULL otherwise.
 */
typedef void (*aiotp_getaddrinfo_cb)(void *arg, int status, const struct addrinfo *res);

/**
 * Resolve a host and service without blocking the loop (asyncio's loop.getaddrinfo()):
 * a numeric host on the loop thread, a name through the loop's resolver (worker
 * threads). The completion runs once, from the loop, never inside this call (RESOLVE-1).
 * @param loop the loop.
 * @param host the host (NULL: the wildcard or loopback address, as getaddrinfo()).
 * @param service the port as a decimal string, or a service name (NULL: none).
 * @param hints family, socket type, protocol and flags (NULL: none, AF_UNSPEC).
 * @param cb the completion (required).
 * @param arg its argument.
 * @param op receives the operation's number for aiotp_loop_cancel_op(); may be NULL.
 * @return 0 (started), #AIOTP_EINVAL (loop or cb NULL; host and service both NULL),
 *         #AIOTP_ENOMEM.
 */
int aiotp_loop_getaddrinfo(aiotp_loop *loop, const char *host, const char *service,
                           const struct addrinfo *hints, aiotp_getaddrinfo_cb cb, void *arg,
                           aiotp_op *op);

/**
 * Cancel a scheduled callback; it will not run.
 * @param loop the loop.
 * @param handle what call_soon/call_later/call_at stored.
 * @return 0, or #AIOTP_ENOENT if it already ran, was already cancelled, or never
 *         existed. A handle names one callback only: once that callback ran or was
 *         cancelled, the handle is refused for ever (it never matches a later
 *         callback). A cancelled timer leaves the timer heap at once.
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
 * handler the library installs only writes the signal's number to the loop's self-pipe
 * (its wake-up pipe: no fd is made); the loop reads it in its next pass and calls fn once for each arrival it reads
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
 *         the syscall table's sigwatch entry. Nothing changes on an error.
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
