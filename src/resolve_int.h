/*
 * src/resolve_int.h - name resolution that never blocks the loop (spec/architecture.md,
 * layer 1: a loop service; spec/rules.md, RESOLVE-*).
 *
 * aiotp__resolve() answers at once when it can: a loop whose resolver runs on the loop
 * thread (threads 0) calls it there; otherwise the host is first tried as a numeric
 * address through the syscall table (AI_NUMERICHOST: never blocks), and only a name
 * goes to a worker thread (src/workers_int.h), its answer delivered on the loop thread
 * through the wake-up. A query is its own allocation (the host copied into it), so its
 * owner may go away while a worker still resolves: aiotp__query_cancel() then leaves it
 * to be freed when the worker's answer arrives (or at aiotp_loop_free).
 */
#ifndef AIOTP_RESOLVE_INT_H
#define AIOTP_RESOLVE_INT_H

#include "loop_int.h"

/* A resolved list with the function that frees it (whoever made it). */
typedef struct aiotp__addrs {
    struct addrinfo *ai; /* NULL: none */
    aiotp_freeaddrinfo_fn free;
    void *ctx;
} aiotp__addrs;

/* Free the list (nothing if there is none) and forget it. */
void aiotp__addrs_free(aiotp__addrs *a);

typedef struct aiotp__query aiotp__query;

/* The answer of a query that went to a worker, on the loop thread: status 0 and the list
   (the callee takes it: it copies *res and frees it later), or an error and an empty
   list. */
typedef void (*aiotp__query_cb)(void *arg, int status, aiotp__addrs *res);

/* Resolve node:service with hints (family, socktype, protocol, flags). Returns 0 with
   *now filled (the caller owns it), 1 when the answer comes later through cb (*q is the
   query, for aiotp__query_cancel), or an error (a getaddrinfo code mapped by
   aiotp__gai_error, AIOTP_ENOMEM, or the error of making a worker thread). */
int aiotp__resolve(aiotp_loop *loop, const char *node, const char *service,
                   const struct addrinfo *hints, aiotp__addrs *now, aiotp__query_cb cb,
                   void *arg, aiotp__query **q);
/* The answer is no longer wanted: cb is never called; the query's memory is released now
   or when the worker's answer arrives. */
void aiotp__query_cancel(aiotp_loop *loop, aiotp__query *q);

/* Cancel the stage a pending operation is in: its first step still scheduled (*step not
   0) or its query in a worker (*query not NULL); both are cleared. */
void aiotp__cancel_stage(aiotp_loop *loop, aiotp_handle *step, aiotp__query **query);

/* Map a getaddrinfo result code to an aiotp code. */
int aiotp__gai_error(int rc);

#endif /* AIOTP_RESOLVE_INT_H */
