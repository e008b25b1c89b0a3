/* src/sys_posix.c - the POSIX syscall table and the default allocator. This is the only
   file of the library that calls the operating system. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* accept4 (SYS-1: close-on-exec without a window) */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "aiotp/sys.h"
#include "loop_int.h"

static int neg(int rc)
{
    return rc < 0 ? -errno : rc;
}

static ssize_t negs(ssize_t rc)
{
    return rc < 0 ? -(ssize_t)errno : rc;
}

static int p_set_nonblock(void *ctx, int fd)
{
    int fl;
    (void)ctx;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -errno;
    }
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) {
        return -errno;
    }
    return 0;
}

/* SYS-1: every socket is close-on-exec from birth where the system can (no window in
   which another thread's fork+exec inherits it), else right after. */
static int p_socket(void *ctx, int d, int t, int p)
{
    int fd;
    (void)ctx;
#if defined(SOCK_CLOEXEC)
    fd = socket(d, t | SOCK_CLOEXEC, p);
#else
    fd = socket(d, t, p);
    if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
#endif
    if (fd < 0) {
        return -errno;
    }
    return fd;
}

static int p_close(void *ctx, int fd)
{
    (void)ctx;
    /* EINTR on close: the fd is released on Linux; never retry */
    if (close(fd) < 0 && errno != EINTR) {
        return -errno;
    }
    return 0;
}

static int p_connect(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    (void)ctx;
    return neg(connect(fd, a, l));
}

static int p_accept(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    int c;
    (void)ctx;
#if defined(__linux__) && defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    c = accept4(fd, a, l, SOCK_NONBLOCK | SOCK_CLOEXEC); /* SYS-1 */
    if (c < 0) {
        return -errno;
    }
#else
    {
        int rc;
        c = accept(fd, a, l);
        if (c < 0) {
            return -errno;
        }
        rc = p_set_nonblock(ctx, c);
        if (rc < 0) {
            close(c);
            return rc;
        }
    }
#endif
    return c;
}

static int p_bind(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    (void)ctx;
    return neg(bind(fd, a, l));
}

static int p_listen(void *ctx, int fd, int b)
{
    (void)ctx;
    return neg(listen(fd, b));
}

static int p_shutdown(void *ctx, int fd, int how)
{
    (void)ctx;
    return neg(shutdown(fd, how));
}

static int p_getsockopt(void *ctx, int fd, int lv, int nm, void *v, socklen_t *l)
{
    (void)ctx;
    return neg(getsockopt(fd, lv, nm, v, l));
}

static int p_setsockopt(void *ctx, int fd, int lv, int nm, const void *v, socklen_t l)
{
    (void)ctx;
    return neg(setsockopt(fd, lv, nm, v, l));
}

static int p_getsockname(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    (void)ctx;
    return neg(getsockname(fd, a, l));
}

static int p_getpeername(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    (void)ctx;
    return neg(getpeername(fd, a, l));
}

static ssize_t p_recv(void *ctx, int fd, void *b, size_t n, int f)
{
    (void)ctx;
    return negs(recv(fd, b, n, f));
}

static ssize_t p_send(void *ctx, int fd, const void *b, size_t n, int f)
{
    (void)ctx;
    return negs(send(fd, b, n, f));
}

static ssize_t p_sendmsg(void *ctx, int fd, const struct msghdr *m, int f)
{
    (void)ctx;
    return negs(sendmsg(fd, m, f));
}

static ssize_t p_sendto(void *ctx, int fd, const void *b, size_t n, int f,
                        const struct sockaddr *a, socklen_t l)
{
    (void)ctx;
    return negs(sendto(fd, b, n, f, a, l));
}

static ssize_t p_recvfrom(void *ctx, int fd, void *b, size_t n, int f, struct sockaddr *a,
                          socklen_t *l)
{
    (void)ctx;
    return negs(recvfrom(fd, b, n, f, a, l));
}

static ssize_t p_read(void *ctx, int fd, void *b, size_t n)
{
    (void)ctx;
    return negs(read(fd, b, n));
}

static ssize_t p_write(void *ctx, int fd, const void *b, size_t n)
{
    (void)ctx;
    return negs(write(fd, b, n));
}

static ssize_t p_writev(void *ctx, int fd, const struct iovec *v, int c)
{
    (void)ctx;
    return negs(writev(fd, v, c));
}

static int p_poll(void *ctx, struct pollfd *f, nfds_t n, int t)
{
    (void)ctx;
    return neg(poll(f, n, t));
}

/* pipe(2), both ends close-on-exec from birth where the system can (SYS-1). */
static int p_pipe(void *ctx, int fds[2])
{
    (void)ctx;
#if defined(__linux__) && defined(O_CLOEXEC)
    if (pipe2(fds, O_CLOEXEC) < 0) {
        return -errno;
    }
#else
    if (pipe(fds) < 0) {
        return -errno;
    }
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
#endif
    return 0;
}

static int p_getaddrinfo(void *ctx, const char *node, const char *svc,
                         const struct addrinfo *h, struct addrinfo **res)
{
    int rc;
    (void)ctx;
    rc = getaddrinfo(node, svc, h, res);
    return rc;
}

static void p_freeaddrinfo(void *ctx, struct addrinfo *res)
{
    (void)ctx;
    freeaddrinfo(res);
}

static int64_t p_clock_ns(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

static int p_unlink_socket(void *ctx, const char *path)
{
    struct stat st;
    (void)ctx;
    if (lstat(path, &st) < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    if (!S_ISSOCK(st.st_mode)) {
        return 0;
    }
    if (unlink(path) < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    return 1;
}

static const aiotp_syscalls posix_table = {
    .size = sizeof(aiotp_syscalls),
    .ctx = NULL,
    .socket = p_socket,
    .close = p_close,
    .connect = p_connect,
    .accept = p_accept,
    .bind = p_bind,
    .listen = p_listen,
    .shutdown = p_shutdown,
    .getsockopt = p_getsockopt,
    .setsockopt = p_setsockopt,
    .getsockname = p_getsockname,
    .getpeername = p_getpeername,
    .set_nonblock = p_set_nonblock,
    .recv = p_recv,
    .send = p_send,
    .sendmsg = p_sendmsg,
    .read = p_read,
    .write = p_write,
    .writev = p_writev,
    .poll = p_poll,
    .getaddrinfo = p_getaddrinfo,
    .freeaddrinfo = p_freeaddrinfo,
    .clock_ns = p_clock_ns,
    .unlink_socket = p_unlink_socket,
    .sendto = p_sendto,
    .recvfrom = p_recvfrom,
    .pipe = p_pipe,
};

const aiotp_syscalls *aiotp_syscalls_posix(void)
{
    return &posix_table;
}

/* RESOLVE-2: the C library's getaddrinfo, in up to 4 worker threads. */
static const aiotp_resolver default_resolver = {
    .size = sizeof(aiotp_resolver),
    .ctx = NULL,
    .getaddrinfo = p_getaddrinfo,
    .freeaddrinfo = p_freeaddrinfo,
    .threads = 4,
};

const aiotp_resolver *aiotp_resolver_default(void)
{
    return &default_resolver;
}

/* LOOP-10: every entry after ctx is a function pointer; each must be set. Read through
   memcpy, so entries appended later (sendto, recvfrom, ...) are checked too. */
bool aiotp__syscalls_complete(const aiotp_syscalls *s)
{
    typedef void (*any_fn)(void);
    const unsigned char *p = (const unsigned char *)s;
    size_t off;
    if (s == NULL || s->size != sizeof(*s)) {
        return false;
    }
    for (off = offsetof(aiotp_syscalls, socket); off + sizeof(any_fn) <= sizeof(*s);
         off += sizeof(any_fn)) {
        any_fn fn;
        memcpy(&fn, p + off, sizeof(fn));
        if (fn == NULL) {
            return false;
        }
    }
    return true;
}

bool aiotp__allocator_complete(const aiotp_allocator *a)
{
    return a != NULL && a->alloc != NULL && a->realloc != NULL && a->free != NULL;
}

static void *d_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void *d_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n);
}

static void d_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static const aiotp_allocator default_allocator = {d_alloc, d_realloc, d_free, NULL};

const aiotp_allocator *aiotp_allocator_default(void)
{
    return &default_allocator;
}
