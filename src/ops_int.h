/*
 * src/ops_int.h - numbers of pending asynchronous operations, for aiotp_loop_cancel_op()
 * (spec/architecture.md, layer 1: a loop service; spec/rules.md, OP-*).
 *
 * An object with a cancellable operation embeds an aiotp__op and registers it when the
 * operation starts; it unregisters it (aiotp__op_done) as soon as the operation can no
 * longer be cancelled: its result exists (a transport, a server) or it failed, or it
 * was cancelled. Numbers come from a 64-bit counter and are never reused, so a stale
 * number finds nothing (AIOTP_ENOENT). The registered operations are few (the pending
 * ones): a list.
 */
#ifndef AIOTP_OPS_INT_H
#define AIOTP_OPS_INT_H

#include "loop_int.h"

typedef struct aiotp__op aiotp__op;
struct aiotp__op {
    aiotp_op id; /* 0: not registered */
    /* cancel with `status` (AIOTP_ECANCELED, or -ETIMEDOUT for a timeout): the op was
       unregistered just before; the completion must run once, from the loop, never
       inside this call */
    void (*cancel)(aiotp__op *op, int status);
    aiotp__op *next;
    aiotp__op *prev;
};

/* Register op (its cancel set) and store its number in *out (may be NULL). */
void aiotp__op_register(aiotp_loop *loop, aiotp__op *op, aiotp_op *out);
/* Register op (its cancel set) under `id`, a number this loop gave out whose operation
   is no longer registered: the operation goes on in another object (a TLS connection's
   handshake after its request, OP-2). */
void aiotp__op_register_as(aiotp_loop *loop, aiotp__op *op, aiotp_op id);
/* Unregister op (nothing if it is not registered). */
void aiotp__op_done(aiotp_loop *loop, aiotp__op *op);
/* Unregister op and cancel it with status (a timeout); nothing if not registered. */
void aiotp__op_cancel(aiotp_loop *loop, aiotp__op *op, int status);

#endif /* AIOTP_OPS_INT_H */
