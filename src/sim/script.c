/*
 * src/sim/script.c - the script knobs of the simulated kernel shared by the socket kinds
 * (one-shot partial sends, EAGAIN, EINTR, injected errors, resets), set by a test or a
 * fuzzer between loop passes.
 */
#include <errno.h>

#include "aiotp/error.h"
#include "sim_int.h"

/* A socket the knobs marked "any" apply to: a connected stream endpoint or a datagram
   socket. */
static sim_ep *knob_ep(const aiotp_sim *sim, int fd)
{
    sim_ep *e = aiotp__sim_ep_open(sim, fd);
    return e != NULL && e->kind == EP_DGRAM ? e : aiotp__sim_ep_conn(sim, fd);
}

int aiotp_sim_set_capacity(aiotp_sim *sim, int fd, size_t cap)
{
    sim_ep *e = aiotp__sim_ep_conn(sim, fd);
    if (e == NULL) {
        return aiotp__sim_not_conn(sim, fd);
    }
    e->pair->q[e->side].cap = cap;
    return 0;
}

int aiotp_sim_send_limit(aiotp_sim *sim, int fd, size_t n)
{
    sim_ep *e = aiotp__sim_ep_conn(sim, fd);
    if (e == NULL) {
        return aiotp__sim_not_conn(sim, fd);
    }
    e->send_limit = n;
    return 0;
}

int aiotp_sim_send_eagain(aiotp_sim *sim, int fd, unsigned k)
{
    sim_ep *e = knob_ep(sim, fd);
    if (e == NULL) {
        return aiotp__sim_not_conn(sim, fd);
    }
    e->eagain = k;
    return 0;
}

int aiotp_sim_eintr_once(aiotp_sim *sim, int fd)
{
    sim_ep *e = knob_ep(sim, fd);
    if (e == NULL) {
        return aiotp__sim_not_conn(sim, fd);
    }
    e->eintr_send = true;
    e->eintr_recv = true;
    return 0;
}

static int arm_fail(aiotp_sim *sim, int fd, int kind, int err, unsigned k)
{
    sim_ep *e = knob_ep(sim, fd);
    if (e == NULL) {
        return aiotp__sim_not_conn(sim, fd);
    }
    if (err >= 0) {
        return AIOTP_EINVAL;
    }
    e->fail[kind].err = err;
    e->fail[kind].k = k;
    return 0;
}

int aiotp_sim_recv_fail(aiotp_sim *sim, int fd, int err, unsigned k)
{
    return arm_fail(sim, fd, FAIL_RECV, err, k);
}

int aiotp_sim_send_fail(aiotp_sim *sim, int fd, int err, unsigned k)
{
    return arm_fail(sim, fd, FAIL_SEND, err, k);
}

int aiotp_sim_shutdown_fail(aiotp_sim *sim, int fd, int err, unsigned k)
{
    return arm_fail(sim, fd, FAIL_SHUTDOWN, err, k);
}

int aiotp_sim_reset(aiotp_sim *sim, int fd)
{
    sim_ep *e = aiotp__sim_ep_conn(sim, fd);
    if (e == NULL) {
        return aiotp__sim_not_conn(sim, fd);
    }
    aiotp__sim_pair_reset(e->pair, e->side);
    return 0;
}

void aiotp_sim_wait_eintr(aiotp_sim *sim, unsigned k)
{
    if (sim != NULL) {
        sim->wait_eintr = k;
    }
}
