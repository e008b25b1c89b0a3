/**
 * @file
 * @brief Transports (BaseTransport, ReadTransport, WriteTransport, Transport,
 * DatagramTransport, SubprocessTransport).
 *
 * One opaque type for every kind of transport, as asyncio's transports share
 * BaseTransport; aiotp_transport_kind() tells the kind. A method that the kind does not
 * have (write() on a datagram transport, sendto() on a stream) returns #AIOTP_ENOTSUP and
 * changes nothing; spec/transports.md has the table of which kind has which method.
 *
 * Transports are created by the loop (aiotp/server.h) and owned by it.
 *
 * **Lifetime.** A transport pointer is valid from the completion (or the protocol's
 * connection_made) until its connection_lost callback has returned; after that the
 * loop frees it at the end of that iteration, unless the user holds a reference taken
 * with aiotp_transport_retain(). While such a reference is held every method stays
 * callable and behaves as documented for a closed transport (spec/stream-transport.md);
 * the memory goes with the last aiotp_transport_release(), also after aiotp_loop_free(),
 * which closes a retained transport (no callback) and leaves it to that release (LIFE-1).
 *
 * **What runs inside a method.** A transport method calls back into the protocol in
 * exactly one case: pause_writing() may run synchronously inside aiotp_transport_write(),
 * aiotp_transport_writelines() and aiotp_transport_set_write_buffer_limits(), when the
 * buffer goes over the high-water mark. connection_lost is never called inside a
 * transport method: after close(), abort() or a failing write() it comes in a later
 * pass of the loop, so the transport pointer stays valid until the method (and the
 * callback that called it) has returned. abort() never calls resume_writing: a paused
 * protocol stays paused until connection_lost.
 *
 * **Calls on a closing or closed transport** return #AIOTP_ECLOSED or have no effect,
 * as each method says (error.h, "already done").
 */
#ifndef AIOTP_TRANSPORT_H
#define AIOTP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "aiotp/export.h"
#include "aiotp/loop.h"
#include "aiotp/protocol.h"

AIOTP_BEGIN_DECLS

/* ---- kind ------------------------------------------------------------------------ */

/** The kinds of transport (aiotp_transport_kind()). */
enum aiotp_transport_kinds {
    AIOTP_TRANSPORT_STREAM = 1,     /**< TCP or Unix stream socket: Transport */
    AIOTP_TRANSPORT_DATAGRAM = 2,   /**< UDP or Unix datagram socket: DatagramTransport */
    AIOTP_TRANSPORT_PIPE_READ = 3,  /**< the read end of a pipe: ReadTransport
                                         (aiotp/pipe.h; a subprocess's stdout, stderr) */
    AIOTP_TRANSPORT_PIPE_WRITE = 4, /**< the write end of a pipe: WriteTransport
                                         (aiotp/pipe.h; a subprocess's stdin) */
    AIOTP_TRANSPORT_SUBPROCESS = 5, /**< a child process: SubprocessTransport
                                         (aiotp/subprocess.h) */
    AIOTP_TRANSPORT_TLS = 6         /**< TLS over a stream transport (aiotp/tls.h, library
                                         aiotp_tls): Transport without half-close */
};

/**
 * The kind of a transport.
 * @param t the transport.
 * @return AIOTP_TRANSPORT_*, or 0 for NULL.
 */
int aiotp_transport_kind(const aiotp_transport *t);

/* ---- extra info ---------------------------------------------------------------- */

/** What an #aiotp_extra holds. */
typedef enum aiotp_extra_kind {
    AIOTP_EXTRA_NONE = 0, /**< the information exists but is unavailable (CPython None) */
    AIOTP_EXTRA_ADDR = 1, /**< a socket address */
    AIOTP_EXTRA_FD = 2,   /**< a file descriptor (-1 once the transport is closed) */
    AIOTP_EXTRA_PTR = 3,  /**< an object of the library below (TLS: aiotp/tls.h says which) */
    AIOTP_EXTRA_STR = 4,  /**< a string */
    AIOTP_EXTRA_PID = 5   /**< a process id (a subprocess transport's "subprocess") */
} aiotp_extra_kind;

/** One item of extra information (aiotp_transport_get_extra_info()). */
typedef struct aiotp_extra {
    aiotp_extra_kind kind; /**< which member of `u` is set */
    /** the value */
    union {
        /** #AIOTP_EXTRA_ADDR: the address and its length */
        struct {
            const struct sockaddr *addr; /**< the address */
            socklen_t len;               /**< its length */
        } addr;
        int fd;          /**< #AIOTP_EXTRA_FD: the file descriptor */
        const void *ptr; /**< #AIOTP_EXTRA_PTR: the object */
        const char *str; /**< #AIOTP_EXTRA_STR: the string (NUL-terminated) */
        pid_t pid;       /**< #AIOTP_EXTRA_PID: the process id */
    } u;
} aiotp_extra;

/**
 * Return information about the transport: "peername", "sockname" (#AIOTP_EXTRA_ADDR, or
 * #AIOTP_EXTRA_NONE when the system call failed; computed once, when the transport was
 * made) and "socket" (#AIOTP_EXTRA_FD) of a socket; "pipe" (#AIOTP_EXTRA_FD) of a pipe;
 * "subprocess" (#AIOTP_EXTRA_PID: CPython gives the Popen object) of a subprocess. A TLS
 * transport adds "sslcontext", "ssl_object", "peercert", "cipher", "compression" and
 * "alpn_protocol" (aiotp/tls.h) and answers the socket's names for the stream transport
 * below it. Unknown names, or names this transport kind does not provide, return `dflt`.
 * @param t the transport.
 * @param name the item's name.
 * @param dflt what to return for an unknown name; may be NULL.
 * @return the item, valid as long as the transport; `dflt` for an unknown name, a NULL
 *         transport or a NULL name.
 */
const aiotp_extra *aiotp_transport_get_extra_info(const aiotp_transport *t,
                                                  const char *name,
                                                  const aiotp_extra *dflt);

/* ---- BaseTransport --------------------------------------------------------------- */

/**
 * Close: stop reading now, flush buffered data, then connection_lost(0): in the next
 * pass when nothing is buffered, else in the pass that sends the last byte. Never calls
 * back before returning.
 * @param t the transport.
 * @return 0, #AIOTP_ECLOSED if already closing (no effect), #AIOTP_EINVAL (NULL).
 */
int aiotp_transport_close(aiotp_transport *t);
/**
 * Whether the transport is closing or closed (CPython is_closing()).
 * @param t the transport.
 * @return true from close()/abort()/a fatal error on (not after write_eof()); false
 *         while open and for NULL.
 */
bool aiotp_transport_is_closing(const aiotp_transport *t);
/**
 * Switch protocol; the new one gets no connection_made and receives from the next read
 * event (streaming and buffered tables may be exchanged). A table the transport cannot
 * use is refused and named to the exception handler ("set_protocol(): unusable protocol
 * table: ...", outside debug mode too: PROTO-KIND-1).
 * @param t the transport.
 * @param proto the new table (aiotp_protocol_validate() must accept it).
 * @param data the new per-connection data.
 * @return 0, #AIOTP_EINVAL (malformed table), #AIOTP_EPROTOKIND (a table of another kind)
 *         or #AIOTP_ECLOSED (after connection_lost).
 */
int aiotp_transport_set_protocol(aiotp_transport *t, const aiotp_protocol *proto,
                                 void *data);
/**
 * Current protocol.
 * @param t the transport.
 * @param data receives its per-connection data (NULL after connection_lost); may be
 *        NULL.
 * @return the table, NULL after connection_lost (and for NULL).
 */
const aiotp_protocol *aiotp_transport_get_protocol(const aiotp_transport *t, void **data);
/**
 * The loop that owns the transport.
 * @param t the transport.
 * @return the loop; NULL for NULL and once the loop was freed (a retained transport).
 */
aiotp_loop *aiotp_transport_get_loop(const aiotp_transport *t);

/* ---- ReadTransport ----------------------------------------------------------------- */

/**
 * Whether the transport is reading.
 * @param t the transport.
 * @return false when paused, closing, after EOF, and for NULL.
 */
bool aiotp_transport_is_reading(const aiotp_transport *t);
/**
 * Stop delivering received data until aiotp_transport_resume_reading(). Idempotent: on
 * an open transport a second call returns 0; on a closing or closed one it changes
 * nothing and returns #AIOTP_ECLOSED (error.h, "already done": DONE-1).
 * @param t the transport.
 * @return 0, #AIOTP_ECLOSED (closing or closed), #AIOTP_EINVAL (NULL), #AIOTP_ENOTSUP.
 */
int aiotp_transport_pause_reading(aiotp_transport *t);
/**
 * Deliver data again, first what arrived while paused (then the EOF). Idempotent as
 * pause_reading() (closing or closed: #AIOTP_ECLOSED, nothing changes); after EOF it
 * does not re-arm reading.
 * @param t the transport.
 * @return 0, #AIOTP_ECLOSED (closing or closed), #AIOTP_EINVAL (NULL), #AIOTP_ENOTSUP.
 */
int aiotp_transport_resume_reading(aiotp_transport *t);

/* ---- WriteTransport ---------------------------------------------------------------- */

/**
 * Close now: drop buffered data, stop reading, connection_lost(0) in the next pass.
 * Never calls resume_writing (a paused protocol stays paused); after close() with data
 * pending it still drops that data.
 * @param t the transport.
 * @return 0, #AIOTP_ECLOSED if connection_lost is already scheduled or delivered,
 *         #AIOTP_EINVAL (NULL).
 */
int aiotp_transport_abort(aiotp_transport *t);
/**
 * Whether write_eof() is supported.
 * @param t the transport.
 * @return true for stream transports; false for datagram and TLS transports (TLS has no
 *         half-close: the documentation's "SSL doesn't support half-closed connections")
 *         and for NULL.
 */
bool aiotp_transport_can_write_eof(const aiotp_transport *t);
/**
 * Bytes queued and not yet taken by the kernel.
 * @param t the transport.
 * @return the count: 0 when the kernel took everything, after abort(), and for NULL.
 */
size_t aiotp_transport_get_write_buffer_size(const aiotp_transport *t);
/**
 * The watermarks, (low, high) in this order, as CPython.
 * @param t the transport.
 * @param low receives the low-water mark.
 * @param high receives the high-water mark.
 * @return 0, #AIOTP_EINVAL (a NULL argument).
 */
int aiotp_transport_get_write_buffer_limits(const aiotp_transport *t, size_t *low,
                                            size_t *high);

/** "Not given" for set_write_buffer_limits (Python's None). */
#define AIOTP_LIMIT_NONE INT64_MIN
/**
 * Set the watermarks. Derivation as CPython: neither given -> high 65536, low 16384;
 * only high -> low = high / 4; only low -> high = 4 * low. Then 0 <= low <= high must
 * hold, else #AIOTP_EINVAL and nothing changes. If the buffer is now over high,
 * pause_writing is called before returning (synchronously, inside this call); raising
 * the limits never resumes by itself (the next drain does).
 * @param t the transport.
 * @param high the high-water mark, or #AIOTP_LIMIT_NONE.
 * @param low the low-water mark, or #AIOTP_LIMIT_NONE.
 * @return 0, #AIOTP_EINVAL (NULL, negative or inverted limits, limits that do not fit).
 */
int aiotp_transport_set_write_buffer_limits(aiotp_transport *t, int64_t high, int64_t low);

/**
 * Write: never blocks; sends at once when the buffer is empty and queues the rest,
 * which the loop sends when the socket is writable.
 *
 * Callbacks: when the buffer goes strictly over the high-water mark, pause_writing is
 * called synchronously, inside this call, before it returns (once until the next
 * resume_writing). connection_lost is never called inside write(): when the send fails
 * it follows in a later pass.
 *
 * @param t the transport.
 * @param data the bytes (copied when they must be queued; the caller keeps them).
 * @param len their number; 0 does nothing.
 * @return 0 when the data was accepted; #AIOTP_EINVAL (t NULL, or data NULL with
 *         len > 0); #AIOTP_ESTATE (after write_eof, even for len 0); #AIOTP_ECLOSED
 *         (the transport is closed or connection_lost is scheduled: data dropped; also
 *         when this call's send failed with an error that would read as one of the codes
 *         below, e.g. a kernel ENOMEM or EINVAL: connection_lost(that error) follows,
 *         WRITE-WRITE-10); #AIOTP_ETOOBIG / #AIOTP_ENOMEM (nothing was accepted, the
 *         transport is unchanged; except WRITE-WRITE-6: when the kernel had already taken
 *         part of the data and the rest cannot be queued, the transport fails with
 *         #AIOTP_ENOMEM); or the send error that made the transport fail (-EPIPE,
 *         -ECONNRESET...; connection_lost(that error) follows).
 */
int aiotp_transport_write(aiotp_transport *t, const void *data, size_t len);

/** One piece of aiotp_transport_writelines(). */
typedef struct aiotp_buf {
    const void *base; /**< the bytes */
    size_t len;       /**< their number */
} aiotp_buf;

/**
 * Write several buffers: the same as one write() of their concatenation (one
 * flow-control check, pause_writing possibly inside this call), sent without joining
 * them.
 * @param t the transport.
 * @param bufs the pieces.
 * @param n their number.
 * @return the same as write(); #AIOTP_EINVAL if bufs is NULL with n > 0 or any entry
 *         has base NULL with len > 0 (then nothing is written).
 */
int aiotp_transport_writelines(aiotp_transport *t, const aiotp_buf *bufs, size_t n);

/**
 * Completion of aiotp_transport_write_borrowed(): the transport no longer reads the
 * caller's buffer.
 * @param t the transport; NULL when the call comes from aiotp_loop_free() (then nothing
 *        may be called on the transport or the loop: free the memory, nothing else).
 * @param arg the call's arg.
 * @param status 0 when the kernel took the last byte of the buffer; otherwise the bytes
 *        from the first one not taken on will never be written: #AIOTP_ECANCELED
 *        (abort(), or the loop was freed), or the error that ended the transport
 *        (-EPIPE when the reader went away, the write error, #AIOTP_ENOMEM...).
 */
typedef void (*aiotp_write_done_cb)(aiotp_transport *t, void *arg, int status);

/**
 * A zero-copy write (an extension beyond asyncio, spec/deviations.md DEV-81): the same
 * as write() of the same bytes, except that what the kernel does not take at once is
 * not copied: the transport keeps a pointer into the caller's buffer, which must stay
 * valid and unchanged until `done` runs.
 *
 * The bytes are part of the same ordered byte stream as write() and writelines() (any
 * mix keeps the order), count in get_write_buffer_size() and in flow control exactly as
 * write()'s (pause_writing may run inside this call, as in write()).
 *
 * `done(t, arg, status)` runs exactly once for each call that returned 0 with len > 0,
 * never inside this call or any other transport method: from the loop (the pass after
 * the call when the kernel took everything at once; else in the writable event whose
 * write takes the last byte), in the order of the calls, and always before the
 * transport's connection_lost (the ones whose bytes will not be written run just
 * before it, with an error status). Every transport and loop method may be called from
 * inside it. aiotp_loop_free() calls the dones still owed, with t NULL and
 * #AIOTP_ECANCELED (or 0 for a buffer the kernel had already taken in full).
 *
 * Kinds: the write pipe (connect_write_pipe(), a subprocess's stdin) and the stream
 * transport (TCP, Unix; there write_eof() waits for the borrowed bytes too, and a
 * transport retained past aiotp_loop_free() has its dones called by the free, as said
 * above). The datagram, TLS, read pipe and subprocess transports return #AIOTP_ENOTSUP.
 *
 * @param t the transport.
 * @param data the bytes (borrowed until done runs).
 * @param len their number; 0 does nothing (returns 0 and done is not called, also when
 *        closing).
 * @param done the completion (required).
 * @param arg passed to done.
 * @return 0 (accepted: done will run exactly once); #AIOTP_EINVAL (t or done NULL, or
 *         data NULL with len > 0); #AIOTP_ENOTSUP (the kind does not have it);
 *         #AIOTP_ESTATE (a stream after write_eof(), even for len 0, as write());
 *         #AIOTP_ECLOSED (closing or closed: the data is not taken); #AIOTP_ETOOBIG (the
 *         queue would pass SIZE_MAX / 2); #AIOTP_ENOMEM (no memory for the queue entry);
 *         or the write error that made the transport fail (-EPIPE...; connection_lost(that
 *         error) follows). After an error done is never called and nothing changed (but
 *         for the transport failing with that write error, as write() says; or a kernel
 *         that took part of the bytes when the writer cannot be armed: the transport then
 *         fails with that error too).
 */
int aiotp_transport_write_borrowed(aiotp_transport *t, const void *data, size_t len,
                                   aiotp_write_done_cb done, void *arg);

/**
 * Close the write side after the buffer is flushed (the peer reads EOF); reading
 * continues and is_closing() stays false.
 * @param t the transport.
 * @return 0 (also when already done: no effect; also when shutdown() says ENOTCONN),
 *         #AIOTP_ECLOSED (closing or closed: no effect, DONE-1), #AIOTP_EINVAL (NULL),
 *         #AIOTP_ENOTSUP (a datagram or TLS transport: nothing changes), or the shutdown()
 *         error, which also fails the transport: connection_lost(that error) follows
 *         (WRITE-EOF-4).
 */
int aiotp_transport_write_eof(aiotp_transport *t);

/* ---- DatagramTransport ---------------------------------------------------------------- */

/**
 * DatagramTransport.sendto: send one datagram. Never blocks: sent at once when nothing is
 * queued, otherwise queued (a copy) behind the datagrams the kernel did not take yet; the
 * write-buffer size counts the queued payload bytes and the write-buffer limits and
 * pause_writing/resume_writing apply to it (pause_writing may run inside this call).
 * @param t a datagram transport.
 * @param data the datagram.
 * @param len its length (0: nothing is sent, as CPython 3.11).
 * @param addr the destination, or NULL for the connected peer (or the endpoint's remote
 *        address); on a connected transport any other address is refused.
 * @param addrlen the length of addr.
 * @return 0 when the datagram was accepted (also when the send failed with an OS error:
 *         error_received(status) has then been called, inside this call, and the datagram
 *         is dropped) or when len is 0; #AIOTP_EINVAL (data NULL with len > 0, no address on
 *         an unconnected transport, an address other than the connected peer, a bad
 *         address length or family), #AIOTP_ETOOBIG (more than 256 KiB),
 *         #AIOTP_ECLOSED (closing or closed: dropped), #AIOTP_ENOMEM (could not be
 *         queued: nothing changed), #AIOTP_ENOTSUP (not a datagram transport).
 */
int aiotp_transport_sendto(aiotp_transport *t, const void *data, size_t len,
                           const struct sockaddr *addr, socklen_t addrlen);

/* ---- SubprocessTransport (aiotp/subprocess.h) ----------------------------------------- */

/**
 * SubprocessTransport.get_pid: the child's process id.
 * @param t a subprocess transport.
 * @return the pid (> 0; still given after the child was reaped), #AIOTP_EINVAL (t NULL),
 *         #AIOTP_ENOTSUP (not a subprocess transport).
 */
pid_t aiotp_transport_get_pid(const aiotp_transport *t);
/**
 * SubprocessTransport.get_pipe_transport: the pipe transport of the child's fd 0 (a write
 * pipe: its stdin), 1 or 2 (read pipes: its stdout, stderr).
 * @param t a subprocess transport.
 * @param fd 0, 1 or 2.
 * @return the transport (valid until its connection_lost has returned, unless retained),
 *         or NULL: that fd is not a pipe (/dev/null, inherited, a given fd, stderr to
 *         stdout), any other fd, t NULL or not a subprocess transport.
 */
aiotp_transport *aiotp_transport_get_pipe_transport(const aiotp_transport *t, int fd);
/**
 * SubprocessTransport.get_returncode: the child's return code once its exit is known.
 * @param t a subprocess transport.
 * @param returncode receives the exit status (0..255), or minus the signal that killed
 *        the child (asyncio's returncode), when the result is 1.
 * @return 1 (known: from process_exited on), 0 (not yet: asyncio's None),
 *         #AIOTP_EINVAL (a NULL argument), #AIOTP_ENOTSUP (not a subprocess transport).
 */
int aiotp_transport_get_returncode(const aiotp_transport *t, int *returncode);
/**
 * SubprocessTransport.send_signal: send signal sig to the child.
 * @param t a subprocess transport.
 * @param sig the signal (0 probes).
 * @return 0 (sent; or, once the child has exited, nothing done: its pid may be reused),
 *         -ESRCH (after connection_lost: asyncio's ProcessLookupError), #AIOTP_EINVAL (t
 *         NULL, sig out of range), #AIOTP_ENOTSUP (not a subprocess transport), or the
 *         error of kill(2).
 */
int aiotp_transport_send_signal(aiotp_transport *t, int sig);
/**
 * SubprocessTransport.terminate: send_signal(SIGTERM).
 * @param t a subprocess transport.
 * @return as aiotp_transport_send_signal().
 */
int aiotp_transport_terminate(aiotp_transport *t);
/**
 * SubprocessTransport.kill: send_signal(SIGKILL).
 * @param t a subprocess transport.
 * @return as aiotp_transport_send_signal().
 */
int aiotp_transport_kill(aiotp_transport *t);

/* ---- lifetime ------------------------------------------------------------------------ */

/**
 * Keep the transport object alive after connection_lost (see "Lifetime" above), also
 * after aiotp_loop_free(). Each retain needs one aiotp_transport_release().
 * @param t the transport (NULL: nothing happens).
 */
void aiotp_transport_retain(aiotp_transport *t);
/**
 * Drop a reference taken with aiotp_transport_retain(); the last one frees a transport
 * whose connection_lost has run.
 * @param t the transport (NULL, or no reference held: nothing happens).
 */
void aiotp_transport_release(aiotp_transport *t);

AIOTP_END_DECLS

#endif /* AIOTP_TRANSPORT_H */
