/*
 * src/workers.c - the loop's worker threads (src/workers_int.h).
 *
 * POSIX threads are not I/O: they are not in the syscall table, and a loop over the
 * simulated kernel never makes one (its resolver runs on the loop thread).
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "workers_int.h"

struct aiotp__pool {
    aiotp__obj obj; /* the loop's object header: first */
    aiotp_loop *loop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aiotp__work *head; /* queued jobs, oldest first (under mu) */
    aiotp__work *tail;
    pthread_t *threads;
    unsigned nthreads;
    unsigned max;
    unsigned idle;     /* threads waiting for a job (under mu) */
    unsigned queued;   /* jobs in the queue (under mu) */
    bool stop;         /* aiotp_loop_free: every thread returns (under mu) */
};

static void *worker_main(void *arg)
{
    struct aiotp__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        aiotp__work *w;
        while (p->head == NULL && !p->stop) {
            pthread_cond_wait(&p->cv, &p->mu);
        }
        if (p->stop) {
            break; /* (queued jobs stay queued: the teardown hands them back) */
        }
        w = p->head;
        p->head = w->qnext;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->queued--;
        w->qnext = NULL;
        w->state = AIOTP__WORK_RUNNING;
        p->idle--;
        pthread_mutex_unlock(&p->mu);
        w->work(w);
        pthread_mutex_lock(&p->mu);
        w->state = AIOTP__WORK_POSTED;
        p->idle++;
        pthread_mutex_unlock(&p->mu);
        aiotp__wakeup_post(p->loop, &w->node); /* (the wake-up outlives the pool) */
        pthread_mutex_lock(&p->mu);
    }
    p->idle--;
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* aiotp_loop_free: wake every thread, wait for the jobs they run (their completions are
   posted to the wake-up, torn down after the pool), join them. Jobs still queued go
   back to IDLE: their owners, torn down too, find them not running. */
static void pool_teardown(aiotp__obj *o)
{
    struct aiotp__pool *p = (struct aiotp__pool *)(void *)o;
    aiotp_loop *loop = p->loop;
    unsigned i;
    aiotp__work *w;

    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    for (w = p->head; w != NULL;) {
        aiotp__work *next = w->qnext;
        w->qnext = NULL;
        w->state = AIOTP__WORK_IDLE;
        w = next;
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    loop->pool = NULL;
    aiotp__free(loop, p->threads);
    aiotp__free(loop, p);
}

static const aiotp__obj_ops pool_obj_ops = {
    .name = "worker pool",
    .teardown = pool_teardown,
    .deferred = NULL,
    .shut = NULL,
    .owes = NULL,
};

static struct aiotp__pool *pool_get(aiotp_loop *loop, int *rc)
{
    struct aiotp__pool *p = loop->pool;
    unsigned max = loop->resolver.threads; /* (> 0: a loop without threads never asks) */
    if (p != NULL) {
        return p;
    }
    p = aiotp__alloc(loop, sizeof(*p));
    if (p == NULL) {
        *rc = AIOTP_ENOMEM;
        return NULL;
    }
    memset(p, 0, sizeof(*p));
    p->threads = aiotp__alloc(loop, (size_t)max * sizeof(pthread_t));
    if (p->threads == NULL) {
        aiotp__free(loop, p);
        *rc = AIOTP_ENOMEM;
        return NULL;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        aiotp__free(loop, p->threads);
        aiotp__free(loop, p);
        *rc = AIOTP_ENOMEM;
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        aiotp__free(loop, p->threads);
        aiotp__free(loop, p);
        *rc = AIOTP_ENOMEM;
        return NULL;
    }
    p->loop = loop;
    p->max = max;
    aiotp__obj_link(loop, &p->obj, &pool_obj_ops);
    loop->pool = p;
    return p;
}

/* One more thread (under mu): every signal blocked in it. 0 or -errno. */
static int spawn(struct aiotp__pool *p)
{
    sigset_t all;
    sigset_t old;
    int rc;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        return -rc;
    }
    p->nthreads++;
    p->idle++;
    return 0;
}

int aiotp__work_submit(aiotp_loop *loop, aiotp__work *w)
{
    int rc = 0;
    struct aiotp__pool *p = pool_get(loop, &rc);
    if (p == NULL) {
        return rc;
    }
    pthread_mutex_lock(&p->mu);
    if (p->queued + 1 > p->idle && p->nthreads < p->max) {
        /* RESOLVE-3: a thread for every job that would wait, up to the limit */
        rc = spawn(p);
        if (rc != 0 && p->nthreads > 0) {
            rc = 0; /* the threads there are will take it */
        }
    }
    if (rc == 0) {
        w->qnext = NULL;
        w->state = AIOTP__WORK_QUEUED;
        if (p->tail != NULL) {
            p->tail->qnext = w;
        } else {
            p->head = w;
        }
        p->tail = w;
        p->queued++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

bool aiotp__work_cancel(aiotp_loop *loop, aiotp__work *w)
{
    struct aiotp__pool *p = loop->pool;
    bool taken = false;
    if (p == NULL) {
        return w->state == AIOTP__WORK_IDLE; /* (no pool: nothing runs) */
    }
    pthread_mutex_lock(&p->mu);
    if (w->state == AIOTP__WORK_QUEUED) {
        aiotp__work **pp;
        aiotp__work *prev = NULL;
        for (pp = &p->head; *pp != NULL; pp = &(*pp)->qnext) {
            if (*pp == w) {
                *pp = w->qnext;
                if (p->tail == w) {
                    p->tail = prev;
                }
                break;
            }
            prev = *pp;
        }
        p->queued--;
        w->qnext = NULL;
        w->state = AIOTP__WORK_IDLE;
    }
    taken = w->state == AIOTP__WORK_IDLE;
    pthread_mutex_unlock(&p->mu);
    return taken;
}
