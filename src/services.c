/*
 * src/services.c - the loop's services and the end of a loop (spec/architecture.md,
 * layer 1; spec/rules.md, CLOSE-*, LIFE-*).
 *
 * loop.c calls three hooks (loop_int.h): aiotp__services_open at the end of
 * aiotp_loop_create (the resolver's configuration and the wake-up, src/wakeup.c);
 * aiotp__services_pass_end after every pass once aiotp_loop_close_all has made the
 * closer (its waiters); and
 * aiotp__services_keep_shell at the end of aiotp_loop_free (retained objects that
 * outlive the loop keep its shell: its allocator, for their own release).
 *
 * aiotp_loop_close_all knows no kind either: every loop-owned object says through its
 * ops how it is closed (`shut`) and whether it still owes the user a callback (`owes`).
 */
#include <string.h>

#include "wakeup_int.h"

/* ---- opening ------------------------------------------------------------------------ */

int aiotp__services_open(aiotp_loop *loop, const aiotp_loop_options *opts)
{
    const aiotp_resolver *res = NULL;
    if (opts != NULL && opts->size == sizeof(*opts)) {
        res = opts->resolver;
    }
    if (res != NULL) {
        if (res->size != sizeof(*res) || res->getaddrinfo == NULL ||
            res->freeaddrinfo == NULL) {
            return AIOTP_EINVAL; /* LOOP-10 */
        }
        loop->resolver = *res;
    } else if (loop->sys == aiotp_syscalls_posix()) {
        loop->resolver = *aiotp_resolver_default(); /* RESOLVE-2 */
    } else {
        /* RESOLVE-3: a table of the loop's own resolves on the loop thread, as before */
        memset(&loop->resolver, 0, sizeof(loop->resolver));
        loop->resolver.size = sizeof(loop->resolver);
        loop->resolver.ctx = loop->sys->ctx;
        loop->resolver.getaddrinfo = loop->sys->getaddrinfo;
        loop->resolver.freeaddrinfo = loop->sys->freeaddrinfo;
        loop->resolver.threads = 0;
    }
    return aiotp__wakeup_open(loop);
}

/* ---- aiotp_loop_close_all --------------------------------------------------------------- */

typedef struct closer_wait closer_wait;
struct closer_wait {
    aiotp_callback_fn done;
    void *arg;
    closer_wait *next;
};

struct aiotp__closer {
    closer_wait *head; /* waiters in call order, each with a ready-queue entry reserved */
    closer_wait *tail;
    size_t n;
};

/* Does any object still owe the user a callback? */
static bool owes(aiotp__obj *o, void *arg)
{
    (void)arg;
    return o->ops->owes != NULL && o->ops->owes(o);
}

static void run_waiters(aiotp_loop *loop, void *arg)
{
    closer_wait *w = arg;
    while (w != NULL) {
        closer_wait *next = w->next;
        aiotp_callback_fn done = w->done;
        void *a = w->arg;
        aiotp__free(loop, w);
        done(loop, a); /* CLOSE-2 */
        w = next;
    }
}

/* Everything is closed: the waiters run in the next pass, with one of their entries. */
static void release_waiters(aiotp_loop *loop, closer_wait *list, size_t n)
{
    if (n > 1) {
        aiotp__rq_unreserve(loop, n - 1);
    }
    aiotp__push_promised(loop, run_waiters, list);
}

void aiotp__services_pass_end(aiotp_loop *loop)
{
    struct aiotp__closer *c = loop->closer;
    closer_wait *list;
    size_t n;
    if (c->head == NULL || aiotp__obj_find(loop, owes, NULL) != NULL) {
        return;
    }
    list = c->head;
    n = c->n;
    c->head = NULL;
    c->tail = NULL;
    c->n = 0;
    release_waiters(loop, list, n);
}

int aiotp_loop_close_all(aiotp_loop *loop, bool abort, aiotp_callback_fn done, void *arg)
{
    closer_wait *w = NULL;
    aiotp__obj *o;
    int rc;

    if (loop == NULL) {
        return AIOTP_EINVAL;
    }
    if (done != NULL) {
        if (loop->closer == NULL) {
            loop->closer = aiotp__alloc(loop, sizeof(*loop->closer));
            if (loop->closer == NULL) {
                return AIOTP_ENOMEM;
            }
            memset(loop->closer, 0, sizeof(*loop->closer));
        }
        w = aiotp__alloc(loop, sizeof(*w));
        if (w == NULL) {
            return AIOTP_ENOMEM;
        }
        rc = aiotp__rq_reserve(loop, 1); /* CLOSE-2: `done` can never be lost */
        if (rc != 0) {
            aiotp__free(loop, w);
            return rc;
        }
        w->done = done;
        w->arg = arg;
        w->next = NULL;
    }
    /* CLOSE-1: no user code runs inside: closing schedules every callback */
    for (o = loop->objs; o != NULL;) {
        aiotp__obj *next = o->next;
        if (o->ops->shut != NULL) {
            o->ops->shut(o, abort);
        }
        o = next;
    }
    if (w != NULL) {
        struct aiotp__closer *c = loop->closer;
        if (c->head == NULL && aiotp__obj_find(loop, owes, NULL) == NULL) {
            release_waiters(loop, w, 1); /* nothing to wait for: the next pass */
        } else {
            if (c->tail != NULL) {
                c->tail->next = w;
            } else {
                c->head = w;
            }
            c->tail = w;
            c->n++;
        }
    }
    return 0;
}

/* ---- the end of a loop (LIFE-1) ------------------------------------------------------------ */

void aiotp__loop_survivor(aiotp_loop *loop)
{
    loop->survivors++;
}

void aiotp__loop_survivor_gone(aiotp_loop *loop)
{
    loop->survivors--;
    if (loop->dead && loop->survivors == 0) {
        loop->alloc.free(loop->alloc.ctx, loop); /* the last one out frees the shell */
    }
}

bool aiotp__services_keep_shell(aiotp_loop *loop)
{
    struct aiotp__closer *c = loop->closer;
    if (c != NULL) {
        closer_wait *w = c->head;
        while (w != NULL) {
            closer_wait *next = w->next;
            aiotp__free(loop, w); /* never run: the loop is freed (no callback) */
            w = next;
        }
        aiotp__free(loop, c);
        loop->closer = NULL;
    }
    if (loop->survivors == 0) {
        return false;
    }
    /* the shell: nothing of it but the allocator is used any more; no trace, no
       exception handler reaches a user function through it */
    loop->dead = true;
    loop->trace_fn = NULL;
    loop->exc_fn = NULL;
    return true;
}
