/*
 * src/loop.c - the event loop: ready queue, timers, fd registry, iteration.
 * Clause IDs refer to spec/rules.md ("Loop").
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_int.h"

/* ---- allocation ---------------------------------------------------------------- */

void *aiotp__alloc(aiotp_loop *loop, size_t n)
{
    return loop->alloc.alloc(loop->alloc.ctx, n);
}

void *aiotp__realloc(aiotp_loop *loop, void *p, size_t n)
{
    return loop->alloc.realloc(loop->alloc.ctx, p, n);
}

void aiotp__free(aiotp_loop *loop, void *p)
{
    if (p != NULL) {
        loop->alloc.free(loop->alloc.ctx, p);
    }
}

/* Grow an array to hold at least `need` elements (doubling). */
static int grow(aiotp_loop *loop, void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *p;

    if (need <= *cap) {
        return 0;
    }
    ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem) {
            return AIOTP_ENOMEM;
        }
        ncap *= 2;
    }
    p = aiotp__realloc(loop, *arr, ncap * elem);
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- ready queue ------------------------------------------------------------------ */

/* Make room for `extra` more entries beyond the queued and promised ones. The ring is
   linearised when it grows (core/ring.h: where each entry is, what the new capacity is). */
static int rq_ensure(aiotp_loop *loop, size_t extra)
{
    size_t ncap;
    aiotp__rq_entry *n;
    size_t i;

    if (aiotp__ring_fits(&loop->rq, extra)) {
        return 0;
    }
    ncap = aiotp__ring_grow_cap(&loop->rq, extra);
    if (ncap == 0 || ncap > SIZE_MAX / sizeof(*n)) {
        return AIOTP_ENOMEM;
    }
    n = aiotp__alloc(loop, ncap * sizeof(*n));
    if (n == NULL) {
        return AIOTP_ENOMEM;
    }
    for (i = 0; i < loop->rq.len; i++) {
        n[i] = loop->rqe[aiotp__ring_at(&loop->rq, i)];
    }
    aiotp__free(loop, loop->rqe);
    loop->rqe = n;
    aiotp__ring_rebase(&loop->rq, ncap);
    return 0;
}

/* Push and pop run once per ready fd and callback: the ring arithmetic is inline
   (core/ring.h), a compare and a subtraction (bench/README.md, profile). */
static void rq_push(aiotp_loop *loop, const aiotp__rq_entry *e)
{
    loop->rqe[aiotp__ring_push(&loop->rq)] = *e;
}

static aiotp__rq_entry rq_pop(aiotp_loop *loop)
{
    return loop->rqe[aiotp__ring_pop(&loop->rq)];
}

int aiotp__rq_reserve(aiotp_loop *loop, size_t n)
{
    int rc = rq_ensure(loop, n);
    if (rc == 0) {
        aiotp__ring_reserve(&loop->rq, n);
    }
    return rc;
}

void aiotp__rq_unreserve(aiotp_loop *loop, size_t n)
{
    aiotp__ring_unreserve(&loop->rq, n);
}

void aiotp__push_promised(aiotp_loop *loop, aiotp_callback_fn fn, void *arg)
{
    aiotp__rq_entry e;
    memset(&e, 0, sizeof(e));
    e.kind = AIOTP__RQ_INTERNAL;
    e.fn = fn;
    e.arg = arg;
    loop->rqe[aiotp__ring_push_promised(&loop->rq)] = e;
}

/* ---- handle slots and timers ------------------------------------------------------ */

/* Double the handle slots and, beside them, the callbacks, the timer heap and its place
   table (one timer per slot at most). Each array is installed as soon as it moved, so a
   failure half-way leaves everything consistent at the old capacity. */
static int slots_grow(aiotp_loop *loop)
{
    uint32_t cap = loop->handles.cap;
    uint32_t ncap;
    void *p;

    if (cap > AIOTP__HANDLES_MAX / 2) {
        return AIOTP_ENOMEM;
    }
    ncap = cap ? cap * 2 : 16;
    p = aiotp__realloc(loop, loop->handles.slot, (size_t)ncap * sizeof(aiotp__hslot));
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    aiotp__handles_rebase(&loop->handles, p, cap);
    p = aiotp__realloc(loop, loop->calls, (size_t)ncap * sizeof(aiotp__hcall));
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    loop->calls = p;
    p = aiotp__realloc(loop, loop->timers.a, (size_t)ncap * sizeof(aiotp__timer));
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    /* the entries moved: their places are rewritten */
    aiotp__theap_rebase(&loop->timers, p, cap, loop->timers.pos, cap);
    p = aiotp__realloc(loop, loop->timers.pos, (size_t)ncap * sizeof(aiotp__timer *));
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    aiotp__theap_rebase(&loop->timers, loop->timers.a, ncap, p, ncap);
    aiotp__handles_rebase(&loop->handles, loop->handles.slot, ncap);
    return 0;
}

/* A slot for a new callback, growing the tables if needed (0 or AIOTP_ENOMEM). */
static int slot_new(aiotp_loop *loop, aiotp__hstate st, aiotp_callback_fn fn, void *arg,
                    uint32_t *out)
{
    uint32_t i;

    if (!aiotp__handles_can_alloc(&loop->handles) || loop->timers.n >= loop->timers.cap) {
        if (slots_grow(loop) != 0) {
            return AIOTP_ENOMEM;
        }
    }
    i = aiotp__handles_alloc(&loop->handles, st);
    loop->calls[i].fn = fn;
    loop->calls[i].arg = arg;
    *out = i;
    return 0;
}

/* The callback of slot i ran or was cancelled: every handle to it goes stale. */
static void slot_done(aiotp_loop *loop, uint32_t i)
{
    aiotp__handles_free(&loop->handles, i);
    loop->calls[i].fn = NULL;
    loop->calls[i].arg = NULL;
}

/* ---- creation --------------------------------------------------------------------- */

int aiotp_loop_create(aiotp_loop **out, const aiotp_loop_options *opts)
{
    const aiotp_allocator *a = aiotp_allocator_default();
    const aiotp_backend *b = aiotp_backend_poll();
    const aiotp_syscalls *s = aiotp_syscalls_posix();
    aiotp_loop *loop;
    int rc;

    if (out == NULL) {
        return AIOTP_EINVAL;
    }
    *out = NULL;
    if (opts != NULL) {
        if (opts->size != sizeof(*opts) && opts->size != AIOTP_LOOP_OPTIONS_SIZE_V1) {
            return AIOTP_EINVAL;
        }
        if (opts->allocator != NULL) {
            a = opts->allocator;
        }
        if (opts->backend != NULL) {
            b = opts->backend;
        }
        if (opts->syscalls != NULL) {
            s = opts->syscalls;
        }
    }
    if (!aiotp__allocator_complete(a) || b->size != sizeof(*b) || b->open == NULL ||
        b->close == NULL || b->set == NULL || b->wait == NULL ||
        !aiotp__syscalls_complete(s)) { /* LOOP-10 */
        return AIOTP_EINVAL;
    }
    loop = a->alloc(a->ctx, sizeof(*loop));
    if (loop == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(loop, 0, sizeof(*loop));
    loop->alloc = *a;
    loop->backend = b;
    loop->sys = s;
    aiotp__handles_init(&loop->handles);
    aiotp__ring_init(&loop->rq);
    aiotp__theap_init(&loop->timers);
    loop->next_id = 1;
    loop->rbuf = aiotp__alloc(loop, AIOTP__READ_MAX);
    if (loop->rbuf == NULL) {
        a->free(a->ctx, loop);
        return AIOTP_ENOMEM;
    }
    rc = rq_ensure(loop, 64);
    if (rc == 0) {
        rc = b->open(&loop->bstate, s, &loop->alloc);
    }
    if (rc != 0) {
        aiotp__free(loop, loop->rqe);
        aiotp__free(loop, loop->rbuf);
        a->free(a->ctx, loop);
        return rc;
    }
    rc = aiotp__services_open(loop, opts); /* the wake-up, the resolver (src/services.c) */
    if (rc != 0) {
        aiotp_loop_free(loop);
        return rc;
    }
    *out = loop;
    return 0;
}

void aiotp_loop_free(aiotp_loop *loop)
{
    if (loop == NULL || loop->running || loop->in_methods > 0) {
        return; /* LOOP-7, LOOP-11 */
    }
    /* every object releases its own resources; none may touch another (they all go) */
    loop->freeing = true;
    loop->deferred = NULL;
    while (loop->objs != NULL) {
        aiotp__obj *o = loop->objs;
        aiotp__obj_unlink(o);
        o->ops->teardown(o);
    }
    loop->backend->close(loop->bstate);
    aiotp__free(loop, loop->handles.slot);
    aiotp__free(loop, loop->calls);
    aiotp__free(loop, loop->rqe);
    aiotp__free(loop, loop->timers.a);
    aiotp__free(loop, loop->timers.pos);
    aiotp__free(loop, loop->fds);
    aiotp__free(loop, loop->events);
    aiotp__free(loop, loop->rbuf);
    if (aiotp__services_keep_shell(loop)) {
        return; /* retained objects survive: the last one frees the shell (LIFE-1) */
    }
    loop->alloc.free(loop->alloc.ctx, loop);
}

/* ---- loop-owned objects ------------------------------------------------------------ */

void aiotp__obj_link(aiotp_loop *loop, aiotp__obj *o, const aiotp__obj_ops *ops)
{
    o->ops = ops;
    o->loop = loop;
    o->trace_id = 0;
    o->prev = NULL;
    o->next = loop->objs;
    o->deferred_next = NULL;
    o->is_deferred = false;
    if (loop->objs != NULL) {
        loop->objs->prev = o;
    }
    loop->objs = o;
}

void aiotp__obj_unlink(aiotp__obj *o)
{
    aiotp_loop *loop = o->loop;
    if (o->prev != NULL) {
        o->prev->next = o->next;
    } else if (loop->objs == o) {
        loop->objs = o->next;
    }
    if (o->next != NULL) {
        o->next->prev = o->prev;
    }
    o->next = NULL;
    o->prev = NULL;
    if (o->is_deferred) {
        aiotp__obj **pp;
        for (pp = &loop->deferred; *pp != NULL; pp = &(*pp)->deferred_next) {
            if (*pp == o) {
                *pp = o->deferred_next;
                break;
            }
        }
        o->is_deferred = false;
        o->deferred_next = NULL;
    }
}

void aiotp__obj_defer(aiotp__obj *o)
{
    if (!o->is_deferred) {
        o->is_deferred = true;
        o->deferred_next = o->loop->deferred;
        o->loop->deferred = o;
    }
}

aiotp__obj *aiotp__obj_find(aiotp_loop *loop, bool (*fn)(aiotp__obj *o, void *arg), void *arg)
{
    aiotp__obj *o;
    for (o = loop->objs; o != NULL; o = o->next) {
        if (fn(o, arg)) {
            return o;
        }
    }
    return NULL;
}

/* After each pass: run the deferred work of the objects that asked for it. An object's
   deferred hook may free it (after unlinking), and may defer others. */
static void run_deferred(aiotp_loop *loop)
{
    while (loop->deferred != NULL) {
        aiotp__obj *o = loop->deferred;
        loop->deferred = o->deferred_next;
        o->deferred_next = NULL;
        o->is_deferred = false;
        o->ops->deferred(o);
    }
}

/* ---- scheduling ------------------------------------------------------------------- */

int aiotp_loop_call_soon(aiotp_loop *loop, aiotp_callback_fn fn, void *arg,
                         aiotp_handle *out)
{
    uint32_t i;
    aiotp__rq_entry e;

    if (loop == NULL || fn == NULL) {
        return AIOTP_EINVAL;
    }
    if (rq_ensure(loop, 1) != 0 || slot_new(loop, AIOTP__HS_READY, fn, arg, &i) != 0) {
        return AIOTP_ENOMEM;
    }
    memset(&e, 0, sizeof(e));
    e.kind = AIOTP__RQ_HANDLE;
    e.slot = i;
    e.gen = loop->handles.slot[i].gen;
    rq_push(loop, &e);
    if (out != NULL) {
        *out = aiotp__handles_handle(&loop->handles, i);
    }
    return 0;
}

int aiotp_loop_call_at(aiotp_loop *loop, aiotp_time when, aiotp_callback_fn fn, void *arg,
                       aiotp_handle *out)
{
    uint32_t i;
    aiotp__timer t;

    if (loop == NULL || fn == NULL) {
        return AIOTP_EINVAL;
    }
    if (slot_new(loop, AIOTP__HS_TIMER, fn, arg, &i) != 0) {
        return AIOTP_ENOMEM;
    }
    t.when = when;
    t.seq = loop->timer_seq++; /* LOOP-5: equal times run in scheduling order */
    t.id = i;
    aiotp__theap_push(&loop->timers, t);
    if (out != NULL) {
        *out = aiotp__handles_handle(&loop->handles, i);
    }
    return 0;
}

int aiotp_loop_call_later(aiotp_loop *loop, aiotp_time delay, aiotp_callback_fn fn,
                          void *arg, aiotp_handle *out)
{
    aiotp_time now;
    if (loop == NULL) {
        return AIOTP_EINVAL;
    }
    if (delay < 0) {
        delay = 0;
    }
    now = aiotp_loop_time(loop);
    if (now > 0 && delay > INT64_MAX - now) {
        delay = INT64_MAX - now;
    }
    return aiotp_loop_call_at(loop, now + delay, fn, arg, out);
}

int aiotp_loop_cancel(aiotp_loop *loop, aiotp_handle handle)
{
    uint32_t i;

    if (loop == NULL) {
        return AIOTP_EINVAL; /* BAD-1: a NULL handle */
    }
    /* LOOP-1: a handle that ran, was cancelled or never existed names no slot (the
       generations never wrap: PROOF-HANDLES-2) */
    i = aiotp__handles_find(&loop->handles, handle);
    if (i == AIOTP__HANDLE_NONE) {
        return AIOTP_ENOENT;
    }
    if (loop->handles.slot[i].state == AIOTP__HS_TIMER) {
        /* out of the heap at once: cancelled timers never pile up (issue 9) */
        (void)aiotp__theap_remove(&loop->timers, i);
    }
    /* a READY slot: its queue entry sees the new generation and is skipped */
    slot_done(loop, i);
    return 0;
}

/* ---- fd registry ------------------------------------------------------------------ */

int aiotp__fd_reserve(aiotp_loop *loop, int fd)
{
    size_t old = loop->fds_cap;
    void *arr = loop->fds;
    size_t cap = loop->fds_cap;
    int rc;

    if (fd < 0) {
        return AIOTP_EBADF;
    }
    if ((size_t)fd < loop->fds_cap) {
        return 0;
    }
    rc = grow(loop, &arr, &cap, (size_t)fd + 1, sizeof(aiotp__fdreg));
    if (rc != 0) {
        return rc;
    }
    loop->fds = arr;
    loop->fds_cap = cap;
    memset(loop->fds + old, 0, (cap - old) * sizeof(aiotp__fdreg));
    return 0;
}

void aiotp__fd_set_owner(aiotp_loop *loop, int fd, void *owner, bool (*busy)(void *))
{
    loop->fds[fd].owner = owner;
    loop->fds[fd].owner_busy = busy;
}

static int fd_update(aiotp_loop *loop, int fd)
{
    aiotp__fdreg *r = &loop->fds[fd];
    unsigned ev = (r->rfn ? AIOTP_EV_READ : 0u) | (r->wfn ? AIOTP_EV_WRITE : 0u);
    int rc = 0;

    if (ev != r->events) {
        rc = loop->backend->set(loop->bstate, fd, ev);
        if (rc == 0) {
            r->events = ev;
        }
    }
    return rc;
}

static uint32_t next_gen(uint32_t g)
{
    g++;
    return g == 0 ? 1 : g;
}

/* One direction (reader or writer) of an fd's registration. */
typedef struct fd_side {
    aiotp_fd_fn *fn;
    void **arg;
    uint32_t *gen;
} fd_side;

static fd_side side_of(aiotp__fdreg *r, bool writer)
{
    fd_side s;
    s.fn = writer ? &r->wfn : &r->rfn;
    s.arg = writer ? &r->warg : &r->rarg;
    s.gen = writer ? &r->wgen : &r->rgen;
    return s;
}

/* Install fn/arg on one side of fd; if the backend refuses, the old handler stays. */
static int set_side(aiotp_loop *loop, int fd, bool writer, aiotp_fd_fn fn, void *arg)
{
    fd_side s;
    aiotp_fd_fn ofn;
    void *oarg;
    int rc = aiotp__fd_reserve(loop, fd);

    if (rc != 0) {
        return rc;
    }
    s = side_of(&loop->fds[fd], writer);
    ofn = *s.fn;
    oarg = *s.arg;
    *s.fn = fn;
    *s.arg = arg;
    rc = fd_update(loop, fd);
    if (rc != 0) {
        *s.fn = ofn;
        *s.arg = oarg;
        return rc;
    }
    *s.gen = next_gen(*s.gen); /* an event queued for the old handler is dropped */
    return 0;
}

static void clear_side(aiotp_loop *loop, int fd, bool writer)
{
    fd_side s;
    if (fd < 0 || (size_t)fd >= loop->fds_cap) {
        return;
    }
    s = side_of(&loop->fds[fd], writer);
    if (*s.fn != NULL) {
        *s.fn = NULL;
        *s.arg = NULL;
        *s.gen = next_gen(*s.gen);
        (void)fd_update(loop, fd); /* removing interest cannot need memory */
    }
}

int aiotp__set_reader(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg)
{
    return set_side(loop, fd, false, fn, arg);
}

int aiotp__set_writer(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg)
{
    return set_side(loop, fd, true, fn, arg);
}

void aiotp__clear_reader(aiotp_loop *loop, int fd)
{
    clear_side(loop, fd, false);
}

void aiotp__clear_writer(aiotp_loop *loop, int fd)
{
    clear_side(loop, fd, true);
}

int aiotp__watch(aiotp_loop *loop, int fd, bool writer, bool *on, aiotp_fd_fn fn, void *arg)
{
    int rc = 0;
    if (!*on) {
        rc = set_side(loop, fd, writer, fn, arg);
        *on = rc == 0;
    }
    return rc;
}

void aiotp__unwatch(aiotp_loop *loop, int fd, bool writer, bool *on)
{
    if (*on) {
        clear_side(loop, fd, writer);
        *on = false;
    }
}

void aiotp__fd_forget(aiotp_loop *loop, int fd)
{
    aiotp__clear_reader(loop, fd);
    aiotp__clear_writer(loop, fd);
    if (fd >= 0 && (size_t)fd < loop->fds_cap) {
        loop->fds[fd].owner = NULL;
        loop->fds[fd].owner_busy = NULL;
    }
}

bool aiotp__fd_owned(const aiotp_loop *loop, int fd)
{
    const aiotp__fdreg *r;
    if (fd < 0 || (size_t)fd >= loop->fds_cap) {
        return false;
    }
    r = &loop->fds[fd];
    return r->owner != NULL && (r->owner_busy == NULL || r->owner_busy(r->owner));
}

static int user_fd_check(aiotp_loop *loop, int fd)
{
    if (fd < 0) {
        return AIOTP_EBADF;
    }
    if (aiotp__fd_owned(loop, fd)) {
        return AIOTP_EBUSY; /* LOOP-8 */
    }
    return 0;
}

int aiotp_loop_add_reader(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg)
{
    int rc;
    if (loop == NULL || fn == NULL) {
        return AIOTP_EINVAL;
    }
    rc = user_fd_check(loop, fd);
    return rc != 0 ? rc : aiotp__set_reader(loop, fd, fn, arg);
}

int aiotp_loop_add_writer(aiotp_loop *loop, int fd, aiotp_fd_fn fn, void *arg)
{
    int rc;
    if (loop == NULL || fn == NULL) {
        return AIOTP_EINVAL;
    }
    rc = user_fd_check(loop, fd);
    return rc != 0 ? rc : aiotp__set_writer(loop, fd, fn, arg);
}

int aiotp_loop_remove_reader(aiotp_loop *loop, int fd)
{
    int rc;
    if (loop == NULL) {
        return AIOTP_EINVAL;
    }
    rc = user_fd_check(loop, fd);
    if (rc != 0) {
        return rc;
    }
    if ((size_t)fd >= loop->fds_cap || loop->fds[fd].rfn == NULL) {
        return 0;
    }
    aiotp__clear_reader(loop, fd);
    return 1;
}

int aiotp_loop_remove_writer(aiotp_loop *loop, int fd)
{
    int rc;
    if (loop == NULL) {
        return AIOTP_EINVAL;
    }
    rc = user_fd_check(loop, fd);
    if (rc != 0) {
        return rc;
    }
    if ((size_t)fd >= loop->fds_cap || loop->fds[fd].wfn == NULL) {
        return 0;
    }
    aiotp__clear_writer(loop, fd);
    return 1;
}

/* ---- exception handler, debug, trace ---------------------------------------------- */

void aiotp_loop_default_exception_handler(aiotp_loop *loop,
                                          const aiotp_exception_context *ctx)
{
    (void)loop;
    if (ctx == NULL) {
        return;
    }
    fprintf(stderr, "aiotp: %s", ctx->message ? ctx->message : "(no message)");
    if (ctx->status != 0) {
        fprintf(stderr, " [%s: %s]", aiotp_err_name(ctx->status), aiotp_strerror(ctx->status));
    }
    fputc('\n', stderr);
}

void aiotp_loop_set_exception_handler(aiotp_loop *loop, aiotp_exception_fn fn, void *arg)
{
    if (loop != NULL) {
        loop->exc_fn = fn;
        loop->exc_arg = arg;
    }
}

/* Trace format 3: "tN exc status=ST MESSAGE" (or "loop exc ..."), the message with every
   byte outside printable ASCII written as '?'. A transport is a loop object whose header
   carries its trace id. */
static void trace_exc(aiotp_loop *loop, const aiotp_exception_context *ctx)
{
    char msg[384];
    char who[16];
    size_t i;
    const char *m = ctx->message != NULL ? ctx->message : "";
    for (i = 0; m[i] != '\0' && i + 1 < sizeof(msg); i++) {
        unsigned char c = (unsigned char)m[i];
        msg[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    msg[i] = '\0';
    if (ctx->transport != NULL) {
        const aiotp__obj *o = (const aiotp__obj *)(const void *)ctx->transport;
        snprintf(who, sizeof(who), "t%u", (unsigned)o->trace_id);
    } else {
        snprintf(who, sizeof(who), "loop");
    }
    aiotp__tracef(loop, "%s exc status=%s%s%s", who,
                  ctx->status == 0 ? "0" : aiotp_err_name(ctx->status), msg[0] ? " " : "", msg);
}

void aiotp_loop_call_exception_handler(aiotp_loop *loop, const aiotp_exception_context *ctx)
{
    if (loop == NULL || ctx == NULL) {
        return;
    }
    if (aiotp__tracing(loop)) {
        trace_exc(loop, ctx);
    }
    if (loop->exc_fn != NULL) {
        loop->exc_fn(loop, ctx, loop->exc_arg);
    } else {
        aiotp_loop_default_exception_handler(loop, ctx);
    }
}

void aiotp_loop_set_debug(aiotp_loop *loop, bool enabled)
{
    if (loop != NULL) {
        loop->debug = enabled;
    }
}

bool aiotp_loop_get_debug(const aiotp_loop *loop)
{
    return loop != NULL && loop->debug;
}

void aiotp_loop_set_trace(aiotp_loop *loop, aiotp_trace_fn fn, void *arg)
{
    if (loop != NULL) {
        loop->trace_fn = fn;
        loop->trace_arg = arg;
        if (fn != NULL) {
            fn(arg, "aiotp-trace 3 impl=aiotp");
        }
    }
}

/* aiotp__trace_vformat's pieces: `pos` counts the characters of the whole line, those
   below `lim` (cap - 1: room for the NUL) are stored (vsnprintf's truncation). No local
   is address-taken and no local array is used, so that under the sanitizers nothing is
   poisoned per call. */
static size_t fmt_str(char *out, size_t lim, size_t pos, const char *s)
{
    for (; *s != '\0'; s++, pos++) {
        if (pos < lim) {
            out[pos] = *s;
        }
    }
    return pos;
}

/* v in base 10 or 16, at least `width` digits (zeros in front). */
static size_t fmt_num(char *out, size_t lim, size_t pos, unsigned long long v, unsigned base,
                      unsigned width)
{
    unsigned long long t = v;
    unsigned nd = 0;
    unsigned i;
    do {
        nd++;
        t /= base;
    } while (t != 0);
    for (; width > nd; width--, pos++) {
        if (pos < lim) {
            out[pos] = '0';
        }
    }
    for (i = nd; i > 0; i--, v /= base) {
        if (pos + i - 1 < lim) {
            out[pos + i - 1] = "0123456789abcdef"[v % base];
        }
    }
    return pos + nd;
}

static size_t fmt_signed(char *out, size_t lim, size_t pos, long long v)
{
    if (v < 0) {
        if (pos < lim) {
            out[pos] = '-';
        }
        return fmt_num(out, lim, pos + 1, 0ull - (unsigned long long)v, 10, 0);
    }
    return fmt_num(out, lim, pos, (unsigned long long)v, 10, 0);
}

bool aiotp__trace_vformat(char *out, size_t cap, const char *fmt, va_list ap)
{
    size_t pos = 0;
    size_t lim;
    const char *f;
    if (cap == 0) {
        return false;
    }
    lim = cap - 1;
    for (f = fmt; *f != '\0'; f++) {
        if (*f != '%') {
            if (pos < lim) {
                out[pos] = *f;
            }
            pos++;
            continue;
        }
        f++;
        if (*f == 's') {
            const char *s = va_arg(ap, const char *);
            pos = fmt_str(out, lim, pos, s != NULL ? s : "(null)");
        } else if (*f == 'd') {
            pos = fmt_signed(out, lim, pos, va_arg(ap, int));
        } else if (*f == 'u') {
            pos = fmt_num(out, lim, pos, va_arg(ap, unsigned), 10, 0);
        } else if (f[0] == 'z' && f[1] == 'u') {
            pos = fmt_num(out, lim, pos, va_arg(ap, size_t), 10, 0);
            f++;
        } else if (f[0] == 'z' && f[1] == 'd') {
            pos = fmt_signed(out, lim, pos, va_arg(ap, ptrdiff_t)); /* the signed size_t */
            f++;
        } else if (f[0] == 'l' && f[1] == 'l' && f[2] == 'u') {
            pos = fmt_num(out, lim, pos, va_arg(ap, unsigned long long), 10, 0);
            f += 2;
        } else if (f[0] == '0' && f[1] == '8' && f[2] == 'x') {
            pos = fmt_num(out, lim, pos, va_arg(ap, unsigned), 16, 8);
            f += 2;
        } else {
            return false; /* a conversion not listed: the caller uses vsnprintf */
        }
    }
    out[pos < lim ? pos : lim] = '\0';
    return true;
}

void aiotp__tracef(aiotp_loop *loop, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    bool done;

    if (loop->trace_fn == NULL) {
        return;
    }
    va_start(ap, fmt);
    done = aiotp__trace_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (!done) {
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
    }
    loop->trace_fn(loop->trace_arg, line);
}

/* ---- running ---------------------------------------------------------------------- */

aiotp_time aiotp_loop_time(const aiotp_loop *loop)
{
    if (loop == NULL) {
        return 0;
    }
    return loop->sys->clock_ns(loop->sys->ctx);
}

uint64_t aiotp_loop_iteration(const aiotp_loop *loop)
{
    return loop != NULL ? loop->iteration : 0;
}

bool aiotp_loop_is_running(const aiotp_loop *loop)
{
    return loop != NULL && loop->running;
}

void aiotp_loop_stop(aiotp_loop *loop)
{
    if (loop != NULL) {
        loop->stopping = true;
    }
}

static int compute_timeout(aiotp_loop *loop)
{
    /* LOOP-2: 0 when callbacks are ready or the loop is stopping, no limit without a
       timer, else until the earliest timer: rounded up, never early, at most a day, any
       time in the past is due, no overflow (core/theap.h, PROOF-THEAP-4). The clock is
       read only when it matters. */
    bool busy = loop->rq.len > 0 || loop->stopping;
    bool has_timer = loop->timers.n > 0;
    bool need_time = !busy && has_timer;

    return aiotp__wait_ms(busy, has_timer, has_timer ? loop->timers.a[0].when : 0,
                          need_time ? aiotp_loop_time(loop) : 0);
}

static void queue_io(aiotp_loop *loop, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        const aiotp_backend_event *ev = &loop->events[i];
        aiotp__fdreg *r;
        aiotp__rq_entry e;

        if (ev->fd < 0 || (size_t)ev->fd >= loop->fds_cap) {
            continue;
        }
        r = &loop->fds[ev->fd];
        memset(&e, 0, sizeof(e));
        e.fd = ev->fd;
        /* LOOP-4: reader before writer for the same fd */
        if ((ev->events & AIOTP_EV_READ) && r->rfn != NULL) {
            e.kind = AIOTP__RQ_READ;
            e.gen = r->rgen;
            rq_push(loop, &e);
        }
        if ((ev->events & AIOTP_EV_WRITE) && r->wfn != NULL) {
            e.kind = AIOTP__RQ_WRITE;
            e.gen = r->wgen;
            rq_push(loop, &e);
        }
    }
}

static void queue_timers(aiotp_loop *loop)
{
    aiotp_time now;
    aiotp__timer t;
    if (loop->timers.n == 0) {
        return; /* no timer: the clock is not read (bench/README.md, 2026-12-03-perf) */
    }
    now = aiotp_loop_time(loop);
    /* LOOP-5: every due timer and only those, earliest first, equal times in scheduling
       order (core/theap.h, PROOF-THEAP-3) */
    while (aiotp__theap_pop_due(&loop->timers, now, &t)) {
        aiotp__rq_entry e;
        aiotp__handles_set_state(&loop->handles, t.id, AIOTP__HS_READY);
        memset(&e, 0, sizeof(e));
        e.kind = AIOTP__RQ_HANDLE;
        e.slot = t.id;
        e.gen = loop->handles.slot[t.id].gen;
        rq_push(loop, &e);
    }
}

static void run_entry(aiotp_loop *loop, const aiotp__rq_entry *e)
{
    aiotp__fdreg *r;
    switch (e->kind) {
    case AIOTP__RQ_HANDLE: {
        aiotp_callback_fn fn;
        void *arg;
        if (!aiotp__handles_ready(&loop->handles, e->slot, e->gen)) {
            return; /* cancelled (the slot may hold another callback now) */
        }
        fn = loop->calls[e->slot].fn;
        arg = loop->calls[e->slot].arg;
        slot_done(loop, e->slot);
        fn(loop, arg);
        break;
    }
    case AIOTP__RQ_READ:
        r = &loop->fds[e->fd];
        if (r->rfn != NULL && r->rgen == e->gen) {
            r->rfn(loop, e->fd, r->rarg);
        }
        break;
    case AIOTP__RQ_WRITE:
        r = &loop->fds[e->fd];
        if (r->wfn != NULL && r->wgen == e->gen) {
            r->wfn(loop, e->fd, r->warg);
        }
        break;
    case AIOTP__RQ_INTERNAL:
        e->fn(loop, e->arg);
        break;
    default:
        break;
    }
}

static int iterate(aiotp_loop *loop)
{
    int timeout;
    int n = 0;
    int rc = 0;
    size_t ntodo;
    size_t i;
    size_t nreg;

    loop->iteration++;
    if (aiotp__tracing(loop)) {
        aiotp__tracef(loop, "iter %llu", (unsigned long long)loop->iteration);
    }
    timeout = compute_timeout(loop);
    /* room for every possible event: at most two queue entries per registered fd */
    nreg = loop->fds_cap;
    if (nreg == 0) {
        nreg = 1;
    }
    if (loop->events_cap < nreg) {
        void *arr = loop->events;
        size_t cap = loop->events_cap;
        if (grow(loop, &arr, &cap, nreg, sizeof(aiotp_backend_event)) != 0) {
            rc = AIOTP_ENOMEM;
        } else {
            loop->events = arr;
            loop->events_cap = cap;
        }
    }
    if (rc == 0) {
        n = loop->backend->wait(loop->bstate, timeout, loop->events, loop->events_cap);
        if (n == -EINTR) {
            n = 0;
        }
        if (n < 0) {
            rc = n;
            n = 0;
        }
    }
    /* A pass that counted (its "iter" line is out) runs what is due even when the wait
       failed or found no memory: the callbacks queued for it and the due timers, never a
       pass late (LOOP-12); it returns the error afterwards. Level-triggered I/O comes back
       at the next wait. */
    if (rq_ensure(loop, 2 * (size_t)n + loop->timers.n) != 0) {
        rc = AIOTP_ENOMEM;
    } else {
        queue_io(loop, n);
        queue_timers(loop);
    }
    ntodo = loop->rq.len; /* LOOP-6: only what is queued now */
    for (i = 0; i < ntodo; i++) {
        aiotp__rq_entry e = rq_pop(loop);
        run_entry(loop, &e);
    }
    run_deferred(loop);
    if (loop->closer != NULL) {
        aiotp__services_pass_end(loop); /* only once aiotp_loop_close_all was called */
    }
    return rc;
}

int aiotp_loop_run_once(aiotp_loop *loop)
{
    int rc;
    if (loop == NULL) {
        return AIOTP_EINVAL;
    }
    if (loop->running || loop->in_methods > 0) {
        return AIOTP_ERUNNING; /* LOOP-7, LOOP-11 */
    }
    loop->running = true;
    rc = iterate(loop);
    /* LOOP-7: one pass of run(); a stop() before or during it is spent by it (that pass
       did not block), as run() clears it when it returns (defect 9) */
    loop->stopping = false;
    loop->running = false;
    return rc;
}

int aiotp_loop_run(aiotp_loop *loop)
{
    int rc = 0;
    if (loop == NULL) {
        return AIOTP_EINVAL;
    }
    if (loop->running || loop->in_methods > 0) {
        return AIOTP_ERUNNING; /* LOOP-7, LOOP-11 */
    }
    loop->running = true;
    for (;;) {
        rc = iterate(loop);
        if (rc != 0 || loop->stopping) {
            break;
        }
    }
    loop->stopping = false;
    loop->running = false;
    return rc;
}
