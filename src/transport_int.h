/*
 * src/transport_int.h - what every transport kind shares: the base object that begins
 * each transport (after the loop's object header), the per-kind method table, and the
 * helpers the kinds use for reports, tracing and lifetime.
 *
 * Layer 2 (spec/architecture.md): above the loop, below the transport kinds
 * (src/stream.c, src/dgram.c) and the loop methods that create them (src/connect.c,
 * src/server.c). The public transport functions (include/aiotp/transport.h) live in
 * src/transport.c and dispatch through the kind's method table; a method a kind does not
 * have answers AIOTP_ENOTSUP and changes nothing, as the documentation's class hierarchy
 * says which transport has which method (spec/transports.md).
 */
#ifndef AIOTP_TRANSPORT_INT_H
#define AIOTP_TRANSPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wbuf.h"
#include "loop_int.h"

/*
 * The method table of a transport kind (static const, designated initializers). A NULL
 * entry means the kind does not have that method: the public function then returns
 * AIOTP_ENOTSUP (or false / 0 / the caller's default for the queries, as documented in
 * transport.h) and changes nothing. `free` is required.
 */
typedef struct aiotp__transport_ops {
    int kind;                  /* AIOTP_TRANSPORT_* */
    const char *name;          /* "stream", "datagram" */
    unsigned protocol_kinds;   /* bit (1u << AIOTP_PROTOCOL_*) for each table kind taken */

    /* BaseTransport */
    int (*close)(aiotp_transport *t);
    bool (*is_closing)(const aiotp_transport *t);
    int (*set_protocol)(aiotp_transport *t, const aiotp_protocol *proto, void *data);
    const aiotp_extra *(*get_extra_info)(const aiotp_transport *t, const char *name,
                                         const aiotp_extra *dflt);
    /* ReadTransport */
    bool (*is_reading)(const aiotp_transport *t);
    int (*pause_reading)(aiotp_transport *t);
    int (*resume_reading)(aiotp_transport *t);
    /* WriteTransport (and DatagramTransport.abort) */
    int (*abort)(aiotp_transport *t);
    bool (*can_write_eof)(const aiotp_transport *t);
    size_t (*get_write_buffer_size)(const aiotp_transport *t);
    int (*get_write_buffer_limits)(const aiotp_transport *t, size_t *low, size_t *high);
    int (*set_write_buffer_limits)(aiotp_transport *t, int64_t high, int64_t low);
    int (*write)(aiotp_transport *t, const void *data, size_t len);
    int (*writelines)(aiotp_transport *t, const aiotp_buf *bufs, size_t n);
    int (*write_eof)(aiotp_transport *t);
    /* the zero-copy write (an extension, DEV-81): NULL for the kinds without it */
    int (*write_borrowed)(aiotp_transport *t, const void *data, size_t len,
                          aiotp_write_done_cb done, void *arg);
    /* DatagramTransport */
    int (*sendto)(aiotp_transport *t, const void *data, size_t len,
                  const struct sockaddr *addr, socklen_t addrlen);
    /* SubprocessTransport */
    pid_t (*get_pid)(const aiotp_transport *t);
    aiotp_transport *(*get_pipe_transport)(const aiotp_transport *t, int fd);
    int (*get_returncode)(const aiotp_transport *t, int *returncode);
    /* send_signal, terminate, kill: `name` is the method's name for the trace */
    int (*send_signal)(aiotp_transport *t, int sig, const char *name);

    /* the last reference is gone: free the object (unlink it from the loop first) */
    void (*free)(aiotp_transport *t);

    /* stream transports: what libaiotp lends a kind layered on them (start_tls finds it
       here; src/layer_int.h); NULL for the other kinds */
    const struct aiotp__layer_services *layer_services;
} aiotp__transport_ops;

/*
 * The part every transport shares. Each kind's struct begins with it
 * (`struct aiotp__stream { aiotp_transport base; ... }`), so a transport pointer is also
 * a pointer to its loop object header.
 */
struct aiotp_transport {
    aiotp__obj obj;                   /* the loop's object header: first */
    const aiotp__transport_ops *ops;  /* the kind's methods */
    aiotp_loop *loop;
    unsigned refs;                    /* the loop's reference + user_refs */
    unsigned user_refs;               /* taken with aiotp_transport_retain() */
    uint32_t id;                      /* "t<id>" in traces */
    const aiotp_protocol *proto;      /* NULL after connection_lost */
    void *pdata;
    uint32_t proto_switches;          /* successful set_protocol calls (PROTO-BUF-5) */
    /* the creator's hook, called once after connection_lost (a server counts its
       connections with it); NULL if none */
    void (*on_lost)(void *arg);
    void *on_lost_arg;
};

/* Initialise the base of a new transport and link it into the loop (the loop holds one
   reference). obj_ops: the kind's loop-object ops (teardown frees without callbacks). */
void aiotp__transport_init(aiotp_transport *t, aiotp_loop *loop,
                           const aiotp__transport_ops *ops, const aiotp__obj_ops *obj_ops,
                           const aiotp_protocol *proto, void *pdata);

/* The transport's socket belongs to it until its connection_lost has run (then the kind
   forgets and closes it): user watchers on it and wrapping it again are refused with
   AIOTP_EBUSY, also while the transport is closing (LOOP-8, METH-8). Every kind calls
   this for its fd once the base is initialised; the registry slot must be reserved. */
void aiotp__transport_own_fd(aiotp_transport *t, int fd);

/* An internal reference (a queued callback of the kind's that must find the object): taken
   with hold, given back with drop (which frees the object when it was the last). */
void aiotp__transport_hold(aiotp_transport *t);
void aiotp__transport_drop(aiotp_transport *t);

/* Drop the loop's reference at the end of the current pass (after connection_lost). */
void aiotp__transport_release_later(aiotp_transport *t);

/* The loop-object ops' `deferred` hook of every kind: drops the loop's reference. */
void aiotp__transport_deferred(aiotp__obj *o);

/* Call the creator's on_lost hook (once). */
void aiotp__transport_notify_lost(aiotp_transport *t);

/* The loop-object ops `shut` and `owes` of every kind (aiotp_loop_close_all, CLOSE-1):
   close() (abort() with abort) a transport whose connection_lost has not run; it owes
   its connection_lost until then. A kind's obj ops name these two, which also tells
   aiotp__transport_of_obj that the object is a transport. */
void aiotp__transport_obj_shut(aiotp__obj *o, bool abort);
bool aiotp__transport_obj_owes(const aiotp__obj *o);
/* The transport behind a loop object, or NULL if it is not a transport. */
aiotp_transport *aiotp__transport_of_obj(aiotp__obj *o);

/* aiotp_loop_free (LIFE-1), from a kind's teardown once its socket is closed, its
   buffers freed and its state stepped to "lost": a transport the user retained
   survives (true: the kind must not free it; the last release frees it through
   ops->free); false: free it now. */
bool aiotp__transport_survive(aiotp_transport *t);

/*
 * Is proto a valid table that this kind takes? 0, AIOTP_EINVAL (malformed: NULL, bad
 * size, unknown kind, a required callback missing) or AIOTP_EPROTOKIND (a valid table of
 * another kind). `why` (may be NULL) receives a sentence naming the problem.
 */
int aiotp__transport_check_protocol(const aiotp__transport_ops *ops,
                                    const aiotp_protocol *proto, const char **why);

/* The kind of a protocol table as the trace's `set_protocol kind=K` names it: "buffered",
   "datagram", or "streaming" (also for NULL or an unknown kind; spec/trace-format.md). */
const char *aiotp__protocol_kind_name(const aiotp_protocol *proto);

/* set_protocol's check of the new table (PROTO-KIND-1, PROTO-KIND-2): 0, or
   AIOTP_EINVAL / AIOTP_EPROTOKIND, which is also reported to the exception handler with
   the problem named (outside debug mode too). */
int aiotp__transport_check_new_protocol(aiotp_transport *t, const aiotp_protocol *proto);

/* set_protocol once the new table was accepted: it takes effect at the next event
   (counted in proto_switches). */
void aiotp__transport_adopt(aiotp_transport *t, const aiotp_protocol *proto, void *data);

/* Report to the exception handler with the transport and its protocol filled in. */
void aiotp__transport_report(aiotp_transport *t, const char *message, int status);

/* An address as traces write it: "IP:PORT", "[IP6]:PORT", "unix:PATH", "unix:@NAME"
   (abstract), "-" (none, or an unnamed Unix socket). */
void aiotp__fmt_addr(const struct sockaddr *a, socklen_t alen, char *out, size_t size);

/* Status for traces: "0" or the error name. */
const char *aiotp__status_name(int status);

/* A write queue's memory, the same for every kind that queues bytes (stream, pipe, the TLS
   backlog): aiotp__wq_reserve makes room for n more bytes in the ring (it doubles from
   16 KiB; queued bytes are linearised into the new block): 0, AIOTP_ETOOBIG (the queue
   would pass SIZE_MAX / 2) or AIOTP_ENOMEM (nothing changed). aiotp__wq_append copies n
   bytes in after a reserve of at least n. */
int aiotp__wq_reserve(aiotp_loop *loop, aiotp__wbuf *wb, size_t n);
void aiotp__wq_append(aiotp__wbuf *wb, const unsigned char *p, size_t n);

/* writelines' argument check, the same for every kind that writes: bufs NULL only with
   n == 0, no NULL base with a length, the total at most SIZE_MAX / 2. 0 and the total in
   *total, else AIOTP_EINVAL or AIOTP_ETOOBIG. (Inline: the TLS module reaches the core's
   functions only through its services.) */
static inline int aiotp__bufs_total(const aiotp_buf *bufs, size_t n, size_t *total)
{
    size_t sum = 0;
    size_t i;
    if (bufs == NULL && n > 0) {
        return AIOTP_EINVAL;
    }
    for (i = 0; i < n; i++) {
        if (bufs[i].base == NULL && bufs[i].len > 0) {
            return AIOTP_EINVAL;
        }
        if (bufs[i].len > SIZE_MAX / 2 - sum) {
            return AIOTP_ETOOBIG;
        }
        sum += bufs[i].len;
    }
    *total = sum;
    return 0;
}


#endif /* AIOTP_TRANSPORT_INT_H */
