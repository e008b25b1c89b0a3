/*
 * src/sim/backend.c - readiness in the simulated kernel: what each endpoint is ready
 * for, the poll() entry, the readiness backend (aiotp/backend.h) and virtual time.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>

#include "aiotp/error.h"
#include "sim_int.h"

unsigned aiotp__sim_ready_of(const aiotp_sim *sim, const sim_ep *e)
{
    const sim_pair *p = e->pair;
    int s = e->side;
    unsigned ev = 0;
    const sim_queue *tx;

    if (e->kind == EP_DGRAM) {
        /* an error wakes the reader and the writer, as POLLERR does */
        short re = aiotp__sim_dgram_revents(sim, e);
        if ((re & (POLLIN | POLLERR)) != 0) {
            ev |= AIOTP_EV_READ;
        }
        if ((re & (POLLOUT | POLLERR)) != 0) {
            ev |= AIOTP_EV_WRITE;
        }
        return ev;
    }
    if (e->kind == EP_LISTEN) {
        return e->nbacklog > 0 ? AIOTP_EV_READ : 0u;
    }
    if (e->kind == EP_SOCK) {
        /* unconnected: a hangup (and maybe an error), for readers and writers; a connect
           nobody answers: nothing, ever (SIM-NET-1) */
        return e->blackholed ? 0u : AIOTP_EV_READ | AIOTP_EV_WRITE;
    }
    tx = &p->q[s];
    if (p->err[s] != 0) {
        return AIOTP_EV_READ | AIOTP_EV_WRITE;
    }
    if (p->q[1 - s].len > 0 || aiotp__sim_at_eof(p, s)) {
        ev |= AIOTP_EV_READ;
    }
    if (aiotp__sim_send_dead(p, s) || tx->len < tx->cap) {
        ev |= AIOTP_EV_WRITE;
    }
    return ev;
}

void aiotp__sim_advance_idle(aiotp_sim *sim, int timeout_ms)
{
    sim->stats.idle_waits++;
    if (timeout_ms > 0) {
        sim->now += (int64_t)timeout_ms * 1000000;
    } else if (timeout_ms < 0) {
        sim->stats.stalls++; /* a real kernel would block forever here */
    }
}

int aiotp__sim_poll(void *ctx, struct pollfd *fds, nfds_t n, int timeout_ms)
{
    aiotp_sim *sim = ctx;
    nfds_t i;
    int ready = 0;

    sim->stats.waits++;
    if (sim->wait_eintr > 0) {
        sim->wait_eintr--;
        return -EINTR;
    }
    for (i = 0; i < n; i++) {
        sim_ep *e = aiotp__sim_ep_open(sim, fds[i].fd);
        unsigned ev;
        fds[i].revents = 0;
        if (fds[i].fd < 0) {
            continue;
        }
        if (e == NULL) {
            fds[i].revents = POLLNVAL;
        } else if (e->kind == EP_DGRAM) {
            fds[i].revents = (short)(aiotp__sim_dgram_revents(sim, e) &
                                     (fds[i].events | POLLERR));
        } else if (e->kind == EP_SOCK) {
            fds[i].revents = e->blackholed ? 0
                                           : (short)(POLLHUP | (fds[i].events & POLLOUT));
            if (e->sock_err != 0) {
                fds[i].revents |= POLLERR;
            }
        } else {
            ev = aiotp__sim_ready_of(sim, e);
            if ((ev & AIOTP_EV_READ) && (fds[i].events & POLLIN)) {
                fds[i].revents |= POLLIN;
            }
            if ((ev & AIOTP_EV_WRITE) && (fds[i].events & POLLOUT)) {
                fds[i].revents |= POLLOUT;
            }
            if (e->kind == EP_CONN && e->pair->err[e->side] != 0) {
                fds[i].revents |= POLLERR;
            }
        }
        if (fds[i].revents != 0) {
            ready++;
        }
    }
    if (ready == 0) {
        aiotp__sim_advance_idle(sim, timeout_ms);
    }
    return ready;
}

int64_t aiotp__sim_clock_ns(void *ctx)
{
    return ((aiotp_sim *)ctx)->now;
}

static int b_open(void **state, const aiotp_syscalls *sys, const aiotp_allocator *alloc)
{
    aiotp_sim *sim;
    (void)alloc;
    if (sys == NULL || sys->ctx == NULL || sys->clock_ns != aiotp__sim_clock_ns) {
        return AIOTP_EINVAL; /* the sim backend needs the sim's syscall table */
    }
    sim = sys->ctx;
    if (sim->magic != SIM_MAGIC || sim->backend_open) {
        return AIOTP_EINVAL;
    }
    sim->backend_open = true;
    *state = sim;
    return 0;
}

static void b_close(void *state)
{
    aiotp_sim *sim = state; /* the loop closes only a backend it opened */
    size_t i;
    for (i = 0; i < sim->ep_cap; i++) {
        sim->ep[i].interest = 0;
    }
    sim->backend_open = false;
}

static int b_set(void *state, int fd, unsigned events)
{
    sim_ep *e = aiotp__sim_ep_open(state, fd);
    if (e == NULL) {
        return events == 0 ? 0 : AIOTP_EBADF;
    }
    e->interest = events & (AIOTP_EV_READ | AIOTP_EV_WRITE);
    return 0;
}

static int b_wait(void *state, int timeout_ms, aiotp_backend_event *out, size_t cap)
{
    aiotp_sim *sim = state;
    size_t i;
    size_t n = 0;

    sim->stats.waits++;
    if (sim->wait_eintr > 0) {
        sim->wait_eintr--;
        return -EINTR;
    }
    for (i = 0; i < sim->ep_cap && n < cap; i++) {
        sim_ep *e = &sim->ep[i];
        unsigned ev;
        if (e->kind == EP_FREE || e->interest == 0) {
            continue;
        }
        ev = aiotp__sim_ready_of(sim, e) & e->interest;
        if (ev != 0) {
            out[n].fd = (int)i;
            out[n].events = ev;
            n++;
        }
    }
    if (n == 0) {
        aiotp__sim_advance_idle(sim, timeout_ms);
    }
    return (int)n;
}

static const aiotp_backend sim_backend = {
    .size = sizeof(aiotp_backend),
    .name = "sim",
    .open = b_open,
    .close = b_close,
    .set = b_set,
    .wait = b_wait,
};

const aiotp_backend *aiotp_backend_sim(void)
{
    return &sim_backend;
}
