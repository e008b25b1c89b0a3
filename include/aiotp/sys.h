/*
 * aiotp/sys.h - the system seam.
 *
 * Every system call the library makes goes through one table of this type, and every
 * allocation through one allocator. Both are chosen per loop at creation time, so tests
 * can inject faults (fail the Nth allocation, make send() return 3 bytes or EAGAIN) and
 * a simulated kernel can replace the real one.
 *
 * Convention for every syscall entry: return the POSIX result (>= 0) on success and the
 * NEGATED errno value on failure. Entries never rely on the global errno. `ctx` is the
 * table's own context pointer (aiotp_syscalls.ctx), passed back unchanged.
 */
#ifndef AIOTP_SYS_H
#define AIOTP_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <poll.h>
#include <netdb.h>

/* Every entry must be set: aiotp_loop_create refuses a table with a NULL entry. */
typedef struct aiotp_syscalls {
    size_t size; /* sizeof(aiotp_syscalls) of the caller's build */
    void *ctx;   /* passed as the first argument of every entry */

    /* the new socket is close-on-exec (SOCK_CLOEXEC, or FD_CLOEXEC at once) */
    int (*socket)(void *ctx, int domain, int type, int protocol);
    int (*close)(void *ctx, int fd);
    int (*connect)(void *ctx, int fd, const struct sockaddr *addr, socklen_t len);
    /* accept a connection; the new fd is non-blocking and close-on-exec */
    int (*accept)(void *ctx, int fd, struct sockaddr *addr, socklen_t *len);
    int (*bind)(void *ctx, int fd, const struct sockaddr *addr, socklen_t len);
    int (*listen)(void *ctx, int fd, int backlog);
    int (*shutdown)(void *ctx, int fd, int how);
    int (*getsockopt)(void *ctx, int fd, int level, int name, void *val, socklen_t *len);
    int (*setsockopt)(void *ctx, int fd, int level, int name, const void *val, socklen_t len);
    int (*getsockname)(void *ctx, int fd, struct sockaddr *addr, socklen_t *len);
    int (*getpeername)(void *ctx, int fd, struct sockaddr *addr, socklen_t *len);
    /* make fd non-blocking and close-on-exec */
    int (*set_nonblock)(void *ctx, int fd);
    ssize_t (*recv)(void *ctx, int fd, void *buf, size_t len, int flags);
    ssize_t (*send)(void *ctx, int fd, const void *buf, size_t len, int flags);
    ssize_t (*sendmsg)(void *ctx, int fd, const struct msghdr *msg, int flags);
    /* read/write/writev: for pipe transports (not used by the stream transports) */
    ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
    ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
    ssize_t (*writev)(void *ctx, int fd, const struct iovec *iov, int iovcnt);
    int (*poll)(void *ctx, struct pollfd *fds, nfds_t nfds, int timeout_ms);
    /* the exception to the -errno rule: returns getaddrinfo's own result, 0 or an EAI_*
       code (whose sign is the C library's: negative on glibc); *res is freed with
       freeaddrinfo */
    int (*getaddrinfo)(void *ctx, const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res);
    void (*freeaddrinfo)(void *ctx, struct addrinfo *res);
    /* monotonic clock in nanoseconds */
    int64_t (*clock_ns)(void *ctx);
    /* remove a stale Unix socket file: unlink(path) only if it is a socket.
       returns 1 if removed, 0 if absent or not a socket, -errno on failure */
    int (*unlink_socket)(void *ctx, const char *path);
} aiotp_syscalls;

/* The POSIX implementation (the default when a loop is created without a table). */
const aiotp_syscalls *aiotp_syscalls_posix(void);

typedef struct aiotp_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} aiotp_allocator;

/* malloc/realloc/free. */
const aiotp_allocator *aiotp_allocator_default(void);

#endif /* AIOTP_SYS_H */
