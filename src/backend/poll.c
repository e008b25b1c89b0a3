/*
 * src/backend/poll.c - the reference readiness backend, built on poll().
 *
 * Keeps a dense pollfd array and an fd -> index map, so set() is O(1) and a wait is one
 * poll() over the registered fds. POLLERR/POLLHUP/POLLNVAL wake both the reader and the
 * writer of the fd (as CPython's selectors do), so errors and hangups are seen by
 * whichever side is watching.
 */
#include <string.h>

#include "aiotp/backend.h"
#include "aiotp/error.h"

typedef struct poll_state {
    const aiotp_syscalls *sys;
    const aiotp_allocator *alloc;
    struct pollfd *pfd; /* dense array of watched fds */
    size_t n;
    size_t cap;
    int *index;         /* fd -> position in pfd, or -1 */
    size_t index_cap;
} poll_state;

static int p_open(void **state, const aiotp_syscalls *sys, const aiotp_allocator *alloc)
{
    poll_state *ps = alloc->alloc(alloc->ctx, sizeof(*ps));
    if (ps == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(ps, 0, sizeof(*ps));
    ps->sys = sys;
    ps->alloc = alloc;
    *state = ps;
    return 0;
}

static void p_close(void *state)
{
    poll_state *ps = state;
    if (ps == NULL) {
        return;
    }
    ps->alloc->free(ps->alloc->ctx, ps->pfd);
    ps->alloc->free(ps->alloc->ctx, ps->index);
    ps->alloc->free(ps->alloc->ctx, ps);
}

static short to_poll(unsigned ev)
{
    short e = 0;
    if (ev & AIOTP_EV_READ) {
        e |= POLLIN;
    }
    if (ev & AIOTP_EV_WRITE) {
        e |= POLLOUT;
    }
    return e;
}

static int p_set(void *state, int fd, unsigned events)
{
    poll_state *ps = state;
    size_t i;

    if (fd < 0) {
        return AIOTP_EBADF;
    }
    if ((size_t)fd >= ps->index_cap) {
        size_t ncap = ps->index_cap ? ps->index_cap : 64;
        int *ni;
        if (events == 0) {
            return 0;
        }
        while (ncap <= (size_t)fd) {
            ncap *= 2;
        }
        ni = ps->alloc->realloc(ps->alloc->ctx, ps->index, ncap * sizeof(int));
        if (ni == NULL) {
            return AIOTP_ENOMEM;
        }
        for (i = ps->index_cap; i < ncap; i++) {
            ni[i] = -1;
        }
        ps->index = ni;
        ps->index_cap = ncap;
    }
    if (ps->index[fd] < 0) {
        if (events == 0) {
            return 0;
        }
        if (ps->n == ps->cap) {
            size_t ncap = ps->cap ? ps->cap * 2 : 64;
            struct pollfd *np =
                ps->alloc->realloc(ps->alloc->ctx, ps->pfd, ncap * sizeof(struct pollfd));
            if (np == NULL) {
                return AIOTP_ENOMEM;
            }
            ps->pfd = np;
            ps->cap = ncap;
        }
        ps->pfd[ps->n].fd = fd;
        ps->pfd[ps->n].events = to_poll(events);
        ps->pfd[ps->n].revents = 0;
        ps->index[fd] = (int)ps->n;
        ps->n++;
        return 0;
    }
    i = (size_t)ps->index[fd];
    if (events != 0) {
        ps->pfd[i].events = to_poll(events);
        return 0;
    }
    /* remove: move the last entry into the hole */
    ps->n--;
    if (i != ps->n) {
        ps->pfd[i] = ps->pfd[ps->n];
        ps->index[ps->pfd[i].fd] = (int)i;
    }
    ps->index[fd] = -1;
    return 0;
}

static int p_wait(void *state, int timeout_ms, aiotp_backend_event *out, size_t cap)
{
    poll_state *ps = state;
    int rc;
    size_t i;
    size_t k = 0;

    rc = ps->sys->poll(ps->sys->ctx, ps->pfd, (nfds_t)ps->n, timeout_ms);
    if (rc <= 0) {
        return rc;
    }
    for (i = 0; i < ps->n && k < cap; i++) {
        short re = ps->pfd[i].revents;
        unsigned ev = 0;
        if (re == 0) {
            continue;
        }
        if (re & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) {
            ev |= AIOTP_EV_READ;
        }
        if (re & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)) {
            ev |= AIOTP_EV_WRITE;
        }
        out[k].fd = ps->pfd[i].fd;
        out[k].events = ev;
        k++;
    }
    return (int)k;
}

static const aiotp_backend poll_backend = {
    .size = sizeof(aiotp_backend),
    .name = "poll",
    .open = p_open,
    .close = p_close,
    .set = p_set,
    .wait = p_wait,
};

const aiotp_backend *aiotp_backend_poll(void)
{
    return &poll_backend;
}
