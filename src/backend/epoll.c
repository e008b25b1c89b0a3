/*
 * src/backend/epoll.c - a readiness backend built on Linux epoll, for scale.
 *
 * Same interface and semantics as the poll backend (level-triggered; errors and hangups
 * wake both directions), but a wait costs O(ready fds) instead of O(watched fds). Only
 * built on Linux; chosen at loop creation with aiotp_loop_options.backend =
 * aiotp_backend_epoll(). epoll is not in the syscall table: it is this backend's own
 * kernel interface, and the table's poll() is what the reference backend uses.
 */
#if defined(__linux__)
#define _GNU_SOURCE 1
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "aiotp/backend.h"
#include "aiotp/error.h"

typedef struct epoll_state {
    const aiotp_allocator *alloc;
    int epfd;
    unsigned *interest; /* fd -> current AIOTP_EV_* mask */
    size_t interest_cap;
    struct epoll_event *evs;
    size_t evs_cap;
} epoll_state;

static int e_open(void **state, const aiotp_syscalls *sys, const aiotp_allocator *alloc)
{
    epoll_state *es;
    (void)sys;
    es = alloc->alloc(alloc->ctx, sizeof(*es));
    if (es == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(es, 0, sizeof(*es));
    es->alloc = alloc;
    es->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (es->epfd < 0) {
        int e = -errno;
        alloc->free(alloc->ctx, es);
        return e;
    }
    *state = es;
    return 0;
}

static void e_close(void *state)
{
    epoll_state *es = state;
    if (es == NULL) {
        return;
    }
    close(es->epfd);
    es->alloc->free(es->alloc->ctx, es->interest);
    es->alloc->free(es->alloc->ctx, es->evs);
    es->alloc->free(es->alloc->ctx, es);
}

static int e_set(void *state, int fd, unsigned events)
{
    epoll_state *es = state;
    struct epoll_event ev;
    unsigned old;
    int op;

    if (fd < 0) {
        return AIOTP_EBADF;
    }
    if ((size_t)fd >= es->interest_cap) {
        size_t ncap = es->interest_cap ? es->interest_cap : 64;
        unsigned *ni;
        if (events == 0) {
            return 0;
        }
        while (ncap <= (size_t)fd) {
            ncap *= 2;
        }
        ni = es->alloc->realloc(es->alloc->ctx, es->interest, ncap * sizeof(unsigned));
        if (ni == NULL) {
            return AIOTP_ENOMEM;
        }
        memset(ni + es->interest_cap, 0, (ncap - es->interest_cap) * sizeof(unsigned));
        es->interest = ni;
        es->interest_cap = ncap;
    }
    old = es->interest[fd];
    if (old == events) {
        return 0;
    }
    memset(&ev, 0, sizeof(ev));
    ev.data.fd = fd;
    ev.events = ((events & AIOTP_EV_READ) ? EPOLLIN : 0u) |
                ((events & AIOTP_EV_WRITE) ? EPOLLOUT : 0u);
    op = old == 0 ? EPOLL_CTL_ADD : (events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
    if (epoll_ctl(es->epfd, op, fd, &ev) < 0) {
        int e = -errno;
        if (!(op == EPOLL_CTL_DEL && (e == -EBADF || e == -ENOENT))) {
            return e;
        }
    }
    es->interest[fd] = events;
    return 0;
}

static int e_wait(void *state, int timeout_ms, aiotp_backend_event *out, size_t cap)
{
    epoll_state *es = state;
    int n;
    int i;
    int k = 0;

    if (cap == 0) {
        return 0;
    }
    if (es->evs_cap < cap) {
        struct epoll_event *ne =
            es->alloc->realloc(es->alloc->ctx, es->evs, cap * sizeof(struct epoll_event));
        if (ne == NULL) {
            return AIOTP_ENOMEM;
        }
        es->evs = ne;
        es->evs_cap = cap;
    }
    n = epoll_wait(es->epfd, es->evs, cap > 4096 ? 4096 : (int)cap, timeout_ms);
    if (n < 0) {
        return -errno;
    }
    for (i = 0; i < n; i++) {
        uint32_t re = es->evs[i].events;
        unsigned ev = 0;
        if (re & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            ev |= AIOTP_EV_READ;
        }
        if (re & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            ev |= AIOTP_EV_WRITE;
        }
        out[k].fd = es->evs[i].data.fd;
        out[k].events = ev;
        k++;
    }
    return k;
}

static const aiotp_backend epoll_backend = {
    .size = sizeof(aiotp_backend),
    .name = "epoll",
    .open = e_open,
    .close = e_close,
    .set = e_set,
    .wait = e_wait,
};

const aiotp_backend *aiotp_backend_epoll(void)
{
    return &epoll_backend;
}
#else
typedef int aiotp__no_epoll; /* not Linux: aiotp_backend_epoll() is not provided */
#endif
