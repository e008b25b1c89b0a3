/**
 * @file
 * @brief The readiness backend interface (poll, epoll, the simulated kernel).
 *
 * A backend tells the loop which registered fds are ready. The loop keeps the
 * registrations (which callback for which fd) and calls the backend only to change an
 * fd's interest set and to wait. poll() is the reference backend; a deterministic
 * simulated backend and an epoll backend implement the same interface.
 */
#ifndef AIOTP_BACKEND_H
#define AIOTP_BACKEND_H

#include <stddef.h>
#include "aiotp/export.h"
#include "aiotp/sys.h"

AIOTP_BEGIN_DECLS

/** Readiness bits of an fd. */
enum aiotp_backend_events {
    AIOTP_EV_READ = 1u,  /**< readable, or error/hangup (reported to readers) */
    AIOTP_EV_WRITE = 2u  /**< writable, or error/hangup (reported to writers) */
};

/** One ready fd, as wait() reports it. */
typedef struct aiotp_backend_event {
    int fd;          /**< the file descriptor */
    unsigned events; /**< AIOTP_EV_* */
} aiotp_backend_event;

/** A backend: a const table of entries (all required). */
typedef struct aiotp_backend {
    size_t size;      /**< sizeof(aiotp_backend) */
    const char *name; /**< "poll", "sim", "epoll" */
    /** create the backend state; returns 0 or a negative code */
    int (*open)(void **state, const aiotp_syscalls *sys, const aiotp_allocator *alloc);
    /** free the state */
    void (*close)(void *state);
    /** set the interest set of fd (AIOTP_EV_* mask); 0 removes the fd */
    int (*set)(void *state, int fd, unsigned events);
    /** wait up to timeout_ms (-1: no limit) and store at most cap ready fds;
       returns the number stored, or a negative code (-EINTR is treated as 0 ready) */
    int (*wait)(void *state, int timeout_ms, aiotp_backend_event *out, size_t cap);
} aiotp_backend;

/**
 * The reference backend, built on poll() (the default).
 * @return a static table.
 */
const aiotp_backend *aiotp_backend_poll(void);

#if defined(__linux__)
/**
 * Linux epoll: the same semantics, a wait costs O(ready fds) rather than O(watched).
 * Declared on Linux only.
 * @return a static table.
 */
const aiotp_backend *aiotp_backend_epoll(void);
#endif

AIOTP_END_DECLS

#endif /* AIOTP_BACKEND_H */
