/*
 * src/ops.c - pending operations and aiotp_loop_cancel_op() (src/ops_int.h, OP-1).
 */
#include "ops_int.h"

static void op_link(aiotp_loop *loop, aiotp__op *op, aiotp_op id)
{
    op->id = id;
    op->prev = NULL;
    op->next = loop->ops;
    if (loop->ops != NULL) {
        loop->ops->prev = op;
    }
    loop->ops = op;
}

void aiotp__op_register(aiotp_loop *loop, aiotp__op *op, aiotp_op *out)
{
    op_link(loop, op, ++loop->next_op);
    if (out != NULL) {
        *out = op->id;
    }
}

void aiotp__op_register_as(aiotp_loop *loop, aiotp__op *op, aiotp_op id)
{
    op_link(loop, op, id);
}

void aiotp__op_done(aiotp_loop *loop, aiotp__op *op)
{
    if (op->id == 0) {
        return;
    }
    if (op->prev != NULL) {
        op->prev->next = op->next;
    } else {
        loop->ops = op->next;
    }
    if (op->next != NULL) {
        op->next->prev = op->prev;
    }
    op->next = NULL;
    op->prev = NULL;
    op->id = 0;
}

void aiotp__op_cancel(aiotp_loop *loop, aiotp__op *op, int status)
{
    if (op->id != 0) {
        aiotp__op_done(loop, op);
        op->cancel(op, status);
    }
}

int aiotp_loop_cancel_op(aiotp_loop *loop, aiotp_op id)
{
    aiotp__op *op;
    if (loop == NULL) {
        return AIOTP_EINVAL;
    }
    for (op = loop->ops; op != NULL; op = op->next) {
        if (op->id == id) { /* (a registered number is never 0) */
            aiotp__op_cancel(loop, op, AIOTP_ECANCELED);
            return 0;
        }
    }
    return AIOTP_ENOENT; /* OP-2: done, cancelled, or never given out */
}
