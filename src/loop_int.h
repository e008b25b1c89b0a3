/*
 * src/loop_int.h - the loop's layout and the internal interface that the objects above
 * it (transports of every kind, servers, pending requests) use. Tests, fuzz targets and
 * proofs may include it; users may not.
 *
 * Layering (spec/architecture.md): the loop sits below the transports. Nothing here
 * names a transport kind, a server or a request: every object the loop owns starts with
 * an aiotp__obj header, and the loop reaches it only through that header's ops table.
 */
#ifndef AIOTP_LOOP_INT_H
#define AIOTP_LOOP_INT_H

#include <stdarg.h>
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

/*
 * The common header of every loop-owned object: each transport kind, the server and the
 * pending request embed it as their first member. The loop keeps all of them on one list
 * and knows them only through `ops`; it never names a kind.
 */
typedef struct aiotp__obj aiotp__obj;

typedef struct aiotp__obj_ops {
    const char *name; /* the kind, for messages and debugging: "stream", "server", ... */
    /* aiotp_loop_free: release the object's resources (fds, memory) without calling any
       user callback and without touching any other object (they are torn down too) */
    void (*teardown)(aiotp__obj *o);
    /* runs once after the pass in which aiotp__obj_defer(o) was called (e.g. the loop's
       reference to a transport whose connection_lost ran is dropped there); NULL for an
       object that never calls aiotp__obj_defer */
    void (*deferred)(aiotp__obj *o);
    /* aiotp_loop_close_all (src/services.c): close the object (a transport: close() or,
       with abort, abort(); a server: close(); a pending operation: cancel), calling no
       user code inside; NULL: nothing to close */
    void (*shut)(aiotp__obj *o, bool abort);
    /* true while the object still owes the user a callback (a transport before its
       connection_lost, a pending operation before its completion, a server before it is
       closed without connections and waiters); NULL: never */
    bool (*owes)(const aiotp__obj *o);
} aiotp__obj_ops;

struct aiotp__obj {
    const aiotp__obj_ops *ops;
    aiotp_loop *loop;
    uint32_t trace_id;         /* "tN" in traces (transports), 0 for other objects */
    aiotp__obj *next;          /* loop->objs */
    aiotp__obj *prev;
    aiotp__obj *deferred_next; /* loop->deferred */
    bool is_deferred;          /* on loop->deferred */
};

/* Put o (its ops set, trace_id 0) on the loop's list. Cannot fail. */
void aiotp__obj_link(aiotp_loop *loop, aiotp__obj *o, const aiotp__obj_ops *ops);
/* Take o off the loop's list (and off the deferred list). */
void aiotp__obj_unlink(aiotp__obj *o);
/* Run o->ops->deferred(o) after the current pass (once, however often this is called
   before then). Cannot fail. */
void aiotp__obj_defer(aiotp__obj *o);
/* Visit every object: fn(o, arg) until it returns true (then that object is returned). */
aiotp__obj *aiotp__obj_find(aiotp_loop *loop, bool (*fn)(aiotp__obj *o, void *arg), void *arg);

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
    unsigned in_methods; /* transport methods in progress (LOOP-11): no pass, no free */
    bool stopping;
    bool debug;
    uint64_t iteration;

    aiotp_exception_fn exc_fn;
    void *exc_arg;
    aiotp_trace_fn trace_fn;
    void *trace_arg;
    uint32_t next_id;    /* transport ids for traces */

    unsigned char *rbuf; /* shared receive buffer, AIOTP__READ_MAX bytes */

    aiotp__obj *objs;     /* every loop-owned object (intrusive list, newest first) */
    aiotp__obj *deferred; /* objects whose ops->deferred runs after the current pass */
    bool freeing;         /* aiotp_loop_free is tearing the objects down */

    /* the loop's services (src/services.c and the files it names) */
    struct aiotp__wakeup *wakeup;  /* the wake-up pipe (src/wakeup.c) */
    struct aiotp__pool *pool;      /* worker threads, made on first use (src/workers.c) */
    aiotp_resolver resolver;       /* name resolution (src/resolve.c); threads 0: inline */
    struct aiotp__op *ops;         /* pending operations (src/ops.c) */
    uint64_t next_op;              /* the last operation number given out */
    struct aiotp__closer *closer;  /* aiotp_loop_close_all waiters (src/services.c) */
    unsigned survivors;            /* retained objects still alive after aiotp_loop_free */
    bool dead;                     /* aiotp_loop_free ran; survivors keep this shell */
    struct aiotp__sighub *sighub; /* signals and children (src/signal.c), made on first
                                     use; itself an object on the list */
};

/* The loop's services, called by loop.c (src/services.c): open them at the end of
   aiotp_loop_create (0 or an error: then nothing is left open); after each pass once
   aiotp_loop_close_all has set loop->closer (loop.c checks); and at
   the end of aiotp_loop_free, after the objects' teardown: true when retained objects
   survive and keep the loop's shell (then loop.c must not free it). */
int aiotp__services_open(aiotp_loop *loop, const aiotp_loop_options *opts);
void aiotp__services_pass_end(aiotp_loop *loop);
bool aiotp__services_keep_shell(aiotp_loop *loop);
/* A retained object survives aiotp_loop_free (its teardown calls this instead of freeing
   it); its last release frees it, then calls aiotp__loop_survivor_gone, which frees the
   loop's shell after the last one (LIFE-1). */
void aiotp__loop_survivor(aiotp_loop *loop);
void aiotp__loop_survivor_gone(aiotp_loop *loop);

/* LOOP-10 (src/sys_posix.c): every function pointer of the table is set (and its size
   is this build's). */
bool aiotp__syscalls_complete(const aiotp_syscalls *s);
bool aiotp__allocator_complete(const aiotp_allocator *a);

/* The POSIX table's spawn entry (src/sys_posix.c, SYS-3): posix_spawn when it reports a
   failed exec as its result (probed once: exec of a directory must come back as EACCES)
   and, for a cwd, the C library has a chdir file action; else fork + exec.
   aiotp__spawn_probe(prog) spawns prog with posix_spawn (and reaps it): 1 when that
   returned EACCES. aiotp__spawn_set_mode (tests): 1 posix_spawn, 0 fork, -1 probe again. */
int aiotp__spawn_probe(const char *prog);
void aiotp__spawn_set_mode(int mode);

/* The POSIX table's write/writev entries (src/sys_posix.c, SYS-2): 1 when they write with
   pwritev2(RWF_NOSIGNAL) (Linux 6.16 on, probed once), 0 when they block SIGPIPE around
   each write. aiotp__nosignal_set_mode (tests): 1 RWF_NOSIGNAL (a file or kernel that
   refuses it still gets the guard), 0 the guard, -1 the probe's answer. */
int aiotp__nosignal_writes(void);
void aiotp__nosignal_set_mode(int mode);

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
/* A transport's watch of its fd, the same for every kind: set the reader (writer: the
   writer) to fn(arg) unless *on says it is set; 0 (*on is then true) or the error of the
   registration (nothing changed). aiotp__unwatch clears it if *on says it is set. */
int aiotp__watch(aiotp_loop *loop, int fd, bool writer, bool *on, aiotp_fd_fn fn, void *arg);
void aiotp__unwatch(aiotp_loop *loop, int fd, bool writer, bool *on);
/* Make sure fd fits in the registry (so later set_* calls for it cannot fail on
   memory). */
int aiotp__fd_reserve(aiotp_loop *loop, int fd);
/* Mark fd as used by an object (a transport, a server, a pending request): user
   watchers on it are refused with AIOTP_EBUSY while busy(owner) is true (busy NULL:
   always), and so is wrapping it again (LOOP-8, METH-8). aiotp__fd_forget clears it. */
void aiotp__fd_set_owner(aiotp_loop *loop, int fd, void *owner, bool (*busy)(void *));
/* fd is used by an object that forbids user watchers now. */
bool aiotp__fd_owned(const aiotp_loop *loop, int fd);
/* Forget everything about fd (before it is closed). */
void aiotp__fd_forget(aiotp_loop *loop, int fd);


/* A function off the hot paths (an error or not-supported answer): kept out of line so
   that its stack frame does not enter the caller's fast path (bench/README.md). */
#if defined(__GNUC__)
#define AIOTP__COLD __attribute__((cold, noinline))
#else
#define AIOTP__COLD
#endif

/* Formats a trace line as vsnprintf(out, cap, fmt, ap) would, for the conversions the
   library's trace lines use (%s %d %u %zu %zd %llu %08x); false, with out undefined, at
   any other conversion or when cap is 0 (aiotp__tracef then uses vsnprintf). Under the
   sanitizers vsnprintf was a tenth of a fuzz target's time (fuzz/README.md). */
bool aiotp__trace_vformat(char *out, size_t cap, const char *fmt, va_list ap);

/* Tracing: true if a trace hook is set; aiotp__tracef formats one line. */
static inline bool aiotp__tracing(const aiotp_loop *loop)
{
    return loop->trace_fn != NULL;
}
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void aiotp__tracef(aiotp_loop *loop, const char *fmt, ...);


#endif /* AIOTP_LOOP_INT_H */
