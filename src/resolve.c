/*
 * src/resolve.c - name resolution (src/resolve_int.h) and aiotp_loop_getaddrinfo()
 * (spec/rules.md, RESOLVE-*).
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "ops_int.h"
#include "resolve_int.h"
#include "workers_int.h"

void aiotp__addrs_free(aiotp__addrs *a)
{
    if (a->ai != NULL) {
        a->free(a->ctx, a->ai);
        a->ai = NULL;
    }
}

int aiotp__gai_error(int rc)
{
    /* rc is getaddrinfo's own code (glibc's EAI_* values are negative) */
    switch (rc) {
    case 0:
        return 0;
    case EAI_BADFLAGS:
    case EAI_SOCKTYPE:
    case EAI_SERVICE:
        return AIOTP_EINVAL;
    case EAI_NONAME:
#if defined(EAI_NODATA) && EAI_NODATA != EAI_NONAME
    case EAI_NODATA:
#endif
        return AIOTP_ENONAME;
    case EAI_AGAIN:
        return AIOTP_EAI_AGAIN;
    case EAI_FAIL:
        return AIOTP_EAI_FAIL;
    case EAI_FAMILY:
#if defined(EAI_ADDRFAMILY) && EAI_ADDRFAMILY != EAI_FAMILY
    case EAI_ADDRFAMILY:
#endif
        return AIOTP_EAI_FAMILY;
    case EAI_MEMORY:
        return AIOTP_ENOMEM;
    default:
        return AIOTP_EAI_FAIL; /* EAI_SYSTEM and anything unknown */
    }
}

/* ---- queries answered by a worker ------------------------------------------------------- */

struct aiotp__query {
    aiotp__work work; /* first: the worker's job, posted back through the wake-up */
    aiotp_loop *loop; /* (the loop thread's; the worker reads only what follows) */
    aiotp_getaddrinfo_fn gai;
    aiotp_freeaddrinfo_fn gfree;
    void *gctx;
    const char *node; /* copies, in the same block; NULL: none */
    const char *service;
    struct addrinfo hints;
    struct addrinfo *ai; /* the worker's answer */
    int rc;
    aiotp__query_cb cb;
    void *arg;
    bool orphan; /* cancelled while a worker had it (loop thread only) */
};

/* In a worker thread: the one blocking call. */
static void query_work(aiotp__work *w)
{
    aiotp__query *q = (aiotp__query *)(void *)w;
    q->ai = NULL;
    q->rc = q->gai(q->gctx, q->node, q->service, &q->hints, &q->ai);
    if (q->rc != 0) {
        q->ai = NULL;
    }
}

static void query_free(aiotp__query *q)
{
    if (q->ai != NULL) {
        q->gfree(q->gctx, q->ai);
    }
    aiotp__free(q->loop, q);
}

/* The loop thread: the worker's answer (RESOLVE-2). */
static void query_run(aiotp_loop *loop, aiotp__wake_node *n)
{
    aiotp__query *q = (aiotp__query *)(void *)n;
    aiotp__addrs res;
    aiotp__query_cb cb = q->cb;
    void *arg = q->arg;
    int status;
    (void)loop;
    if (q->orphan) {
        query_free(q); /* OP-1: cancelled meanwhile; nothing leaks */
        return;
    }
    status = aiotp__gai_error(q->rc);
    res.ai = q->ai; /* (NULL on an error: query_work) */
    res.free = q->gfree;
    res.ctx = q->gctx;
    q->ai = NULL;
    query_free(q);
    cb(arg, status, &res);
}

static void query_drop(aiotp_loop *loop, aiotp__wake_node *n)
{
    (void)loop;
    query_free((aiotp__query *)(void *)n); /* aiotp_loop_free */
}

void aiotp__query_cancel(aiotp_loop *loop, aiotp__query *q)
{
    if (aiotp__work_cancel(loop, &q->work)) {
        query_free(q); /* a worker never took it */
    } else {
        q->orphan = true; /* freed when the answer arrives */
    }
}

void aiotp__cancel_stage(aiotp_loop *loop, aiotp_handle *step, aiotp__query **query)
{
    if (*step != 0) {
        (void)aiotp_loop_cancel(loop, *step);
        *step = 0;
    }
    if (*query != NULL) {
        aiotp__query_cancel(loop, *query); /* a worker may still have it: orphaned */
        *query = NULL;
    }
}

/* A zeroed block of `size` bytes followed by copies of host and service (each NULL when
   not given): a query, or a getaddrinfo request, owns its strings. */
static void *alloc_with_names(aiotp_loop *loop, size_t size, const char *host,
                              const char *service, const char **host_copy,
                              const char **service_copy)
{
    size_t nh = host != NULL ? strlen(host) + 1 : 0;
    size_t ns = service != NULL ? strlen(service) + 1 : 0;
    char *block = aiotp__alloc(loop, size + nh + ns);
    if (block == NULL) {
        return NULL;
    }
    memset(block, 0, size);
    *host_copy = host != NULL ? memcpy(block + size, host, nh) : NULL;
    *service_copy = service != NULL ? memcpy(block + size + nh, service, ns) : NULL;
    return block;
}

/* What of the hints getaddrinfo reads (the rest of the copy stays zero). */
static void copy_hints(struct addrinfo *to, const struct addrinfo *from)
{
    to->ai_family = from->ai_family;
    to->ai_socktype = from->ai_socktype;
    to->ai_protocol = from->ai_protocol;
    to->ai_flags = from->ai_flags;
}

static int submit(aiotp_loop *loop, const char *node, const char *service,
                  const struct addrinfo *hints, aiotp__query_cb cb, void *arg,
                  aiotp__query **out)
{
    aiotp__query *q;
    int rc;

    q = alloc_with_names(loop, sizeof(*q), node, service, &node, &service);
    if (q == NULL) {
        return AIOTP_ENOMEM;
    }
    q->node = node;
    q->service = service;
    q->work.node.run = query_run;
    q->work.node.drop = query_drop;
    q->work.work = query_work;
    q->loop = loop;
    q->gai = loop->resolver.getaddrinfo;
    q->gfree = loop->resolver.freeaddrinfo;
    q->gctx = loop->resolver.ctx;
    copy_hints(&q->hints, hints);
    q->cb = cb;
    q->arg = arg;
    rc = aiotp__work_submit(loop, &q->work);
    if (rc != 0) {
        aiotp__free(loop, q);
        return rc;
    }
    *out = q;
    return 1;
}

int aiotp__resolve(aiotp_loop *loop, const char *node, const char *service,
                   const struct addrinfo *hints, aiotp__addrs *now, aiotp__query_cb cb,
                   void *arg, aiotp__query **q)
{
    const aiotp_syscalls *sys = loop->sys;
    struct addrinfo h;
    int rc;

    now->ai = NULL;
    *q = NULL;
    if (loop->resolver.threads == 0) {
        /* RESOLVE-3: on the loop thread, one call (a table of the loop's own) */
        now->free = loop->resolver.freeaddrinfo;
        now->ctx = loop->resolver.ctx;
        rc = loop->resolver.getaddrinfo(loop->resolver.ctx, node, service, hints, &now->ai);
    } else {
        /* RESOLVE-2: a numeric host at once; a name in a worker */
        h = *hints;
        h.ai_flags |= AI_NUMERICHOST;
        now->free = sys->freeaddrinfo;
        now->ctx = sys->ctx;
        rc = sys->getaddrinfo(sys->ctx, node, service, &h, &now->ai);
        if (rc == EAI_NONAME && node != NULL && (hints->ai_flags & AI_NUMERICHOST) == 0) {
            now->ai = NULL;
            return submit(loop, node, service, hints, cb, arg, q);
        }
    }
    if (rc != 0) {
        now->ai = NULL;
        return aiotp__gai_error(rc);
    }
    return 0;
}

/* ---- aiotp_loop_getaddrinfo ----------------------------------------------------------- */

typedef enum gai_state {
    GAI_QUEUED = 0, /* the step is scheduled */
    GAI_RESOLVING,  /* a worker has the query */
    GAI_CANCELLED   /* the cancelled completion is queued */
} gai_state;

typedef struct gai_req {
    aiotp__obj obj; /* the loop's object header: first */
    aiotp__op op;
    aiotp_loop *loop;
    gai_state state;
    const char *host; /* copies (in the same block); NULL: none */
    const char *service;
    struct addrinfo hints;
    aiotp_getaddrinfo_cb cb;
    void *arg;
    aiotp_handle step;
    aiotp__query *q;
    bool reserved;  /* a ready-queue entry is reserved for a cancelled completion */
    int status;     /* the cancelled completion's status */
} gai_req;

static void gai_free(gai_req *r)
{
    aiotp_loop *loop = r->loop;
    aiotp__obj_unlink(&r->obj);
    aiotp__op_done(loop, &r->op);
    aiotp__cancel_stage(loop, &r->step, &r->q); /* aiotp_loop_free while pending */
    if (r->reserved) {
        aiotp__rq_unreserve(loop, 1);
    }
    aiotp__free(loop, r);
}

/* Deliver (RESOLVE-1): the request goes first, the completion after. */
static void gai_complete(gai_req *r, int status, aiotp__addrs *res)
{
    aiotp_getaddrinfo_cb cb = r->cb;
    void *arg = r->arg;
    gai_free(r);
    cb(arg, status, status == 0 ? res->ai : NULL);
    if (res != NULL) {
        aiotp__addrs_free(res);
    }
}

static void gai_answer(void *arg, int status, aiotp__addrs *res)
{
    gai_req *r = arg;
    r->q = NULL;
    gai_complete(r, status, res);
}

static void gai_step(aiotp_loop *loop, void *arg)
{
    gai_req *r = arg;
    aiotp__addrs now;
    int rc;
    r->step = 0;
    rc = aiotp__resolve(loop, r->host, r->service, &r->hints, &now, gai_answer, r, &r->q);
    if (rc == 1) {
        r->state = GAI_RESOLVING;
        return;
    }
    gai_complete(r, rc, &now);
}

static void gai_cancelled(aiotp_loop *loop, void *arg)
{
    gai_req *r = arg;
    (void)loop;
    gai_complete(r, r->status, NULL);
}

static void gai_cancel(aiotp__op *op, int status)
{
    gai_req *r = (gai_req *)(void *)((char *)op - offsetof(gai_req, op));
    aiotp__cancel_stage(r->loop, &r->step, &r->q);
    r->state = GAI_CANCELLED;
    r->status = status;
    r->reserved = false; /* the entry is used now */
    aiotp__push_promised(r->loop, gai_cancelled, r);
}

static void gai_teardown(aiotp__obj *o)
{
    gai_free((gai_req *)(void *)o); /* aiotp_loop_free: no completion */
}

static void gai_shut(aiotp__obj *o, bool abort)
{
    gai_req *r = (gai_req *)(void *)o;
    (void)abort;
    aiotp__op_cancel(r->loop, &r->op, AIOTP_ECANCELED); /* CLOSE-1 */
}

static bool gai_owes(const aiotp__obj *o)
{
    (void)o;
    return true; /* until its completion runs (it is freed just before) */
}

static const aiotp__obj_ops gai_obj_ops = {
    .name = "getaddrinfo",
    .teardown = gai_teardown,
    .deferred = NULL,
    .shut = gai_shut,
    .owes = gai_owes,
};

int aiotp_loop_getaddrinfo(aiotp_loop *loop, const char *host, const char *service,
                           const struct addrinfo *hints, aiotp_getaddrinfo_cb cb, void *arg,
                           aiotp_op *op)
{
    gai_req *r;
    int rc;

    if (loop == NULL || cb == NULL || (host == NULL && service == NULL)) {
        return AIOTP_EINVAL;
    }
    r = alloc_with_names(loop, sizeof(*r), host, service, &host, &service);
    if (r == NULL) {
        return AIOTP_ENOMEM;
    }
    r->host = host;
    r->service = service;
    if (hints != NULL) {
        copy_hints(&r->hints, hints);
    }
    r->loop = loop;
    r->cb = cb;
    r->arg = arg;
    r->op.cancel = gai_cancel;
    /* OP-1: the cancelled completion can never be lost for lack of memory */
    rc = aiotp__rq_reserve(loop, 1);
    if (rc == 0) {
        r->reserved = true;
        rc = aiotp_loop_call_soon(loop, gai_step, r, &r->step);
        if (rc != 0) {
            aiotp__rq_unreserve(loop, 1);
        }
    }
    if (rc != 0) {
        aiotp__free(loop, r);
        return rc;
    }
    aiotp__obj_link(loop, &r->obj, &gai_obj_ops);
    aiotp__op_register(loop, &r->op, op);
    return 0;
}
