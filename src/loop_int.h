/*
 * src/loop_int.h - the loop's layout and the internal interface the transports and
 * servers use. Tests, fuzz targets and proofs may include it; users may not.
 */
#ifndef AIOTP_LOOP_INT_H
#define AIOTP_LOOP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "aiotp/aiotp.h"
#include "core/handles.h"
#include "core/ring.h"
#include "core/theap.h"

/* Receive size per read event (CPython max_size, 256 KiB). */
#define AIOTP__READ_MAX ((size_t)262144)

/* A scheduled user callback (call_soon / call_later / call_at): its handle slot, state and
   generation are in loop->handles (core/handles.h), its time in loop->timers
   (core/theap.h); the callback itself here, at the same index. */
typedef struct aiotp__hcall {
    aiotp_callback_fn fn;
    void *arg;
} aiotp__hcall;

/* Ready-queue entry kinds. */
typedef enum aiotp__rq_kind {
    AIOTP__RQ_HANDLE = 0, /* a user handle: slot + gen */
    AIOTP__RQ_READ,       /* a reader event: fd + registration generation */
    AIOTP__RQ_WRITE,      /* a writer event: fd + registration generation */
    AIOTP__RQ_INTERNAL    /* a library callback: fn + arg (not cancellable) */
} aiotp__rq_kind;

typedef struct aiotp__rq_entry {
    aiotp__rq_kind kind;
    int fd;
    uint32_t slot;
    uint32_t gen;
    aiotp_callback_fn fn;
    void *arg;
} aiotp__rq_entry;

/* One fd's registrations. */
typedef struct aiotp__fdreg {
    aiotp_fd_fn rfn; /* reader, NULL if none */
    void *rarg;
    aiotp_fd_fn wfn; /* writer, NULL if none */
    void *warg;
    uint32_t rgen;   /* bumped at every reader add/remove */
    uint32_t wgen;
    unsigned events; /* interest set given to the backend */
    void *owner;     /* the transport/server using this fd, or NULL */
    bool (*owner_busy)(void *owner); /* true while the owner forbids user watchers */
} aiotp__fdreg;

struct aiotp_loop {
    const aiotp_backend *backend;
    void *bstate;
    const aiotp_syscalls *sys;
    aiotp_allocator alloc;

    aiotp__handles handles; /* handle slots: generations, free stack (core/handles.h) */
    aiotp__hcall *calls;    /* the callback of each handle slot (handles.cap entries) */

    aiotp__ring rq;         /* ready queue: ring arithmetic and promised entries (core/ring.h) */
    aiotp__rq_entry *rqe;   /* its entries (rq.cap) */

    aiotp__theap timers;    /* timer min-heap by (when, seq), ids = handle slots (core/theap.h);
                               a and pos have handles.cap entries */
    uint64_t timer_seq;     /* scheduling order of the timers */

    aiotp__fdreg *fds;   /* indexed by fd */
    size_t fds_cap;
    aiotp_backend_event *events;
    size_t events_cap;

    bool running;
    bool stopping;
    bool debug;
    uint64_t iteration;

    aiotp_exception_fn exc_fn;
    void *exc_arg;
    aiotp_trace_fn trace_fn;
    void *trace_arg;
    uint32_t next_id;    /* transport ids for traces */

    unsigned char *rbuf; /* shared receive buffer, AIOTP__READ_MAX bytes */

    aiotp_transport *transports;  /* live transports (intrusive list) */
    aiotp_transport *graveyard;   /* transports to release after the current pass */
    aiotp_server *servers;        /* live servers */
    struct aiotp__req *reqs;      /* pending connect / listen requests */
};

/* Allocation through the loop's allocator. */
void *aiotp__alloc(aiotp_loop *loop, size_t n);
void *aiotp__realloc(aiotp_loop *loop, void *p, size_t n);
void aiotp__free(aiotp_loop *loop, void *p);

/* Reserve n ready-queue entries for later aiotp__push_promised() calls. */
int aiotp__rq_reserve(aiotp_loop *loop, size_t n);
void aiotp__rq_unreserve(aiotp_loop *loop, size_t n);
/* Queue fn(loop, arg) for the next pass using one reserved entry (cannot fail). */
void aiotp__push_promised(aiotp_loop *loop, aiotp_callback_fn fn, void *arg);

/* Internal fd registration (bypasses the user ownership check). */
int aiotp__set_reader(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg);
int aiotp__set_writer(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg);
void aiotp__clear_reader(aiotp_loop *loop, int fd);
void aiotp__clear_writer(aiotp_loop *loop, int fd);
/* Make sure fd fits in the registry (so later set_* calls for it cannot fail on
   memory). */
int aiotp__fd_reserve(aiotp_loop *loop, int fd);
void aiotp__fd_set_owner(aiotp_loop *loop, int fd, void *owner, bool (*busy)(void *));
/* Forget everything about fd (before it is closed). */
void aiotp__fd_forget(aiotp_loop *loop, int fd);

/* Exception handler with the usual fields. */
void aiotp__report(aiotp_loop *loop, const char *message, int status, aiotp_transport *t,
                   aiotp_server *s);

/* Tracing: true if a trace hook is set; aiotp__tracef formats one line. */
static inline bool aiotp__tracing(const aiotp_loop *loop)
{
    return loop->trace_fn != NULL;
}
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void aiotp__tracef(aiotp_loop *loop, const char *fmt, ...);

/* Teardown hooks used by aiotp_loop_free. */
void aiotp__stream_teardown(aiotp_transport *t);
void aiotp__server_teardown(aiotp_server *s);
void aiotp__req_teardown(struct aiotp__req *r);
/* Release transports that died during the pass. */
void aiotp__graveyard_flush(aiotp_loop *loop);

#endif /* AIOTP_LOOP_INT_H */
