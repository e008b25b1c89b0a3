/*
 * src/wakeup.c - the loop's wake-up (src/wakeup_int.h) and
 * aiotp_loop_call_soon_threadsafe() (spec/rules.md, WAKE-*).
 *
 * The queue is a FIFO list under a mutex; `signaled` (under the mutex) says that a
 * byte is in the pipe and not yet read, so a burst of posts writes one byte. The
 * reader reads the pipe empty first, then takes the whole queue and clears `signaled`
 * under the mutex: a post that comes after that writes a new byte (the next pass sees
 * it), one that comes before is taken now. No post is ever left without a byte.
 *
 * The pipe is the loop's only self-pipe: the signal hub (src/signal.c) has the process
 * handler write signal numbers (1..64) and 0 ("check the children") into it too. A post
 * writes AIOTP__WAKE_BYTE, which is neither; every other byte goes to the sink, in the
 * order read, before the posted nodes run.
 */
#include <pthread.h>
#include <string.h>

#include "wakeup_int.h"

struct aiotp__wakeup {
    aiotp__obj obj; /* the loop's object header: first */
    aiotp_loop *loop;
    int rfd;        /* the pipe's read end (the loop watches it) */
    int wfd;        /* its write end */
    pthread_mutex_t mu;
    aiotp__wake_node *head; /* posted, not yet run (under mu) */
    aiotp__wake_node *tail;
    bool signaled;  /* a byte is in the pipe that the reader has not read (under mu) */
    aiotp__wake_sink sink; /* the bytes other than AIOTP__WAKE_BYTE (NULL: dropped) */
    void *sink_arg;
};

static void wakeup_teardown(aiotp__obj *o)
{
    struct aiotp__wakeup *w = (struct aiotp__wakeup *)(void *)o;
    aiotp_loop *loop = w->loop;
    aiotp__wake_node *n = w->head;
    /* (the worker pool, made after the wake-up, was torn down before it: no thread
       posts any more) */
    while (n != NULL) {
        aiotp__wake_node *next = n->next;
        n->drop(loop, n);
        n = next;
    }
    aiotp__fd_forget(loop, w->rfd);
    aiotp__fd_forget(loop, w->wfd);
    (void)loop->sys->close(loop->sys->ctx, w->rfd);
    (void)loop->sys->close(loop->sys->ctx, w->wfd);
    pthread_mutex_destroy(&w->mu);
    loop->wakeup = NULL;
    aiotp__free(loop, w);
}

static const aiotp__obj_ops wakeup_obj_ops = {
    .name = "wake-up",
    .teardown = wakeup_teardown,
    .deferred = NULL,
    .shut = NULL,
    .owes = NULL,
};

/* The loop thread: read the pipe empty (each byte that is not a post's goes to the sink,
   which may run user code: it is looked up again for every byte), then run what was
   posted. */
static void wakeup_ready(aiotp_loop *loop, int fd, void *arg)
{
    struct aiotp__wakeup *w = arg;
    unsigned char buf[64];
    aiotp__wake_node *n;
    ssize_t got;
    ssize_t i;

    (void)fd;
    do {
        got = loop->sys->read(loop->sys->ctx, w->rfd, buf, sizeof(buf));
        for (i = 0; i < got; i++) {
            if (buf[i] != AIOTP__WAKE_BYTE && w->sink != NULL) {
                w->sink(loop, w->sink_arg, buf[i]);
            }
        }
    } while (got > 0 || got == -EINTR);
    pthread_mutex_lock(&w->mu);
    n = w->head;
    w->head = NULL;
    w->tail = NULL;
    w->signaled = false;
    pthread_mutex_unlock(&w->mu);
    /* WAKE-1: in posting order; a node posted by these runs gets the next wake-up */
    while (n != NULL) {
        aiotp__wake_node *next = n->next;
        n->run(loop, n);
        n = next;
    }
}

int aiotp__wakeup_open(aiotp_loop *loop)
{
    struct aiotp__wakeup *w;
    const aiotp_syscalls *sys = loop->sys;
    int fds[2];
    int rc;

    w = aiotp__alloc(loop, sizeof(*w));
    if (w == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(w, 0, sizeof(*w));
    rc = sys->pipe(sys->ctx, fds);
    if (rc != 0) {
        aiotp__free(loop, w);
        return rc < 0 ? rc : AIOTP_EINVAL;
    }
    w->loop = loop;
    w->rfd = fds[0];
    w->wfd = fds[1];
    rc = sys->set_nonblock(sys->ctx, w->rfd);
    if (rc == 0) {
        rc = sys->set_nonblock(sys->ctx, w->wfd); /* a full pipe is readable already */
    }
    if (rc == 0) {
        rc = aiotp__fd_reserve(loop, w->wfd); /* (the read end's slot: set_reader) */
    }
    if (rc == 0) {
        rc = pthread_mutex_init(&w->mu, NULL) != 0 ? AIOTP_ENOMEM : 0;
        if (rc == 0) {
            rc = aiotp__set_reader(loop, w->rfd, wakeup_ready, w);
            if (rc != 0) {
                pthread_mutex_destroy(&w->mu);
            }
        }
    }
    if (rc != 0) {
        aiotp__fd_forget(loop, w->rfd);
        (void)sys->close(sys->ctx, w->rfd);
        (void)sys->close(sys->ctx, w->wfd);
        aiotp__free(loop, w);
        return rc;
    }
    aiotp__fd_set_owner(loop, w->rfd, w, NULL); /* LOOP-8: never the user's */
    aiotp__fd_set_owner(loop, w->wfd, w, NULL);
    aiotp__obj_link(loop, &w->obj, &wakeup_obj_ops);
    loop->wakeup = w;
    return 0;
}

/* One byte into the pipe; a full pipe (EAGAIN) is readable already. */
static void poke(struct aiotp__wakeup *w)
{
    const aiotp_syscalls *sys = w->loop->sys;
    static const unsigned char byte = AIOTP__WAKE_BYTE;
    ssize_t n;
    do {
        n = sys->write(sys->ctx, w->wfd, &byte, 1);
    } while (n == -EINTR);
}

void aiotp__wakeup_post(aiotp_loop *loop, aiotp__wake_node *n)
{
    struct aiotp__wakeup *w = loop->wakeup;
    bool need;
    n->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->tail != NULL) {
        w->tail->next = n;
    } else {
        w->head = n;
    }
    w->tail = n;
    need = !w->signaled;
    w->signaled = true;
    pthread_mutex_unlock(&w->mu);
    if (need) {
        poke(w);
    }
}

int aiotp__wakeup_wfd(const aiotp_loop *loop)
{
    return loop->wakeup->wfd;
}

void aiotp__wakeup_set_sink(aiotp_loop *loop, aiotp__wake_sink fn, void *arg)
{
    loop->wakeup->sink = fn;
    loop->wakeup->sink_arg = arg;
}

/* ---- aiotp_loop_call_soon_threadsafe ------------------------------------------------ */

typedef struct ts_call {
    aiotp__wake_node node; /* first */
    aiotp_callback_fn fn;
    void *arg;
} ts_call;

static void ts_run(aiotp_loop *loop, aiotp__wake_node *n)
{
    ts_call *c = (ts_call *)(void *)n;
    aiotp_callback_fn fn = c->fn;
    void *arg = c->arg;
    aiotp__free(loop, c);
    fn(loop, arg);
}

static void ts_drop(aiotp_loop *loop, aiotp__wake_node *n)
{
    aiotp__free(loop, n); /* aiotp_loop_free: never run (WAKE-2) */
}

int aiotp_loop_call_soon_threadsafe(aiotp_loop *loop, aiotp_callback_fn fn, void *arg)
{
    ts_call *c;
    if (loop == NULL || fn == NULL) {
        return AIOTP_EINVAL;
    }
    /* (the loop's allocator, from this thread: it must be thread-safe, loop.h) */
    c = loop->alloc.alloc(loop->alloc.ctx, sizeof(*c));
    if (c == NULL) {
        return AIOTP_ENOMEM;
    }
    c->node.run = ts_run;
    c->node.drop = ts_drop;
    c->fn = fn;
    c->arg = arg;
    aiotp__wakeup_post(loop, &c->node);
    return 0;
}
