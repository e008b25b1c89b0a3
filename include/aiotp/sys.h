/**
 * @file
 * @brief The system seam: the syscall table and the allocator.
 *
 * Every system call the library makes goes through one table of this type, and every
 * allocation through one allocator. Both are chosen per loop at creation time, so tests
 * can inject faults (fail the Nth allocation, make send() return 3 bytes or EAGAIN) and
 * a simulated kernel can replace the real one. A program may also supply its own
 * entries, e.g. a getaddrinfo that does not block: copy aiotp_syscalls_posix(), change
 * entries, pass the copy in #aiotp_loop_options. The table must outlive the loop.
 *
 * Convention for every syscall entry: return the POSIX result (>= 0) on success and the
 * NEGATED errno value on failure. Entries never rely on the global errno. `ctx` is the
 * table's own context pointer (aiotp_syscalls.ctx), passed back unchanged.
 *
 * This header compiles without any feature-test macro: `struct addrinfo` is declared
 * here; a program that fills in the getaddrinfo entry includes `<netdb.h>` with POSIX
 * features on (`_POSIX_C_SOURCE 200809L`) to see its members.
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
#include "aiotp/export.h"

AIOTP_BEGIN_DECLS

/* <netdb.h> declares struct addrinfo only when POSIX features are on; declared here at
   file scope, so that this header compiles without them and a resolver written against
   <netdb.h>'s struct fits the table (the same tag). */
struct addrinfo;
struct aiotp_spawn_attr;

/**
 * The syscall table. Every entry is required (aiotp_loop_create refuses a table with a
 * NULL entry); each mirrors the POSIX call of the same name with `ctx` first and returns
 * the result or the negated errno value.
 */
typedef struct aiotp_syscalls {
    size_t size; /**< sizeof(aiotp_syscalls) of the caller's build */
    void *ctx;   /**< passed as the first argument of every entry */

    /** socket(2); the new socket is close-on-exec (SOCK_CLOEXEC, or FD_CLOEXEC at once) */
    int (*socket)(void *ctx, int domain, int type, int protocol);
    /** close(2) */
    int (*close)(void *ctx, int fd);
    /** connect(2) (non-blocking: -EINPROGRESS) */
    int (*connect)(void *ctx, int fd, const struct sockaddr *addr, socklen_t len);
    /** accept a connection; the new fd is non-blocking and close-on-exec */
    int (*accept)(void *ctx, int fd, struct sockaddr *addr, socklen_t *len);
    /** bind(2) */
    int (*bind)(void *ctx, int fd, const struct sockaddr *addr, socklen_t len);
    /** listen(2) */
    int (*listen)(void *ctx, int fd, int backlog);
    /** shutdown(2) */
    int (*shutdown)(void *ctx, int fd, int how);
    /** getsockopt(2) */
    int (*getsockopt)(void *ctx, int fd, int level, int name, void *val, socklen_t *len);
    /** setsockopt(2) */
    int (*setsockopt)(void *ctx, int fd, int level, int name, const void *val, socklen_t len);
    /** getsockname(2) */
    int (*getsockname)(void *ctx, int fd, struct sockaddr *addr, socklen_t *len);
    /** getpeername(2) */
    int (*getpeername)(void *ctx, int fd, struct sockaddr *addr, socklen_t *len);
    /** make fd non-blocking and close-on-exec */
    int (*set_nonblock)(void *ctx, int fd);
    /** recv(2) */
    ssize_t (*recv)(void *ctx, int fd, void *buf, size_t len, int flags);
    /** send(2); the transports pass MSG_NOSIGNAL where the platform has it */
    ssize_t (*send)(void *ctx, int fd, const void *buf, size_t len, int flags);
    /** sendmsg(2); flags as for send */
    ssize_t (*sendmsg)(void *ctx, int fd, const struct msghdr *msg, int flags);
    /** read(2): for pipe transports (not used by the stream transports) */
    ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
    /** write(2): for pipe transports */
    ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
    /** writev(2): for pipe transports */
    ssize_t (*writev)(void *ctx, int fd, const struct iovec *iov, int iovcnt);
    /** poll(2) (the poll backend) */
    int (*poll)(void *ctx, struct pollfd *fds, nfds_t nfds, int timeout_ms);
    /** the exception to the -errno rule: returns getaddrinfo's own result, 0 or an EAI_*
       code (whose sign is the C library's: negative on glibc); *res is freed with
       freeaddrinfo. Called on the loop thread only: with AI_NUMERICHOST for every
       lookup of a loop that resolves names in worker threads (which never blocks), and
       for every lookup of a loop whose table is not aiotp_syscalls_posix() and that has
       no resolver of its own (aiotp_loop_options.resolver), where a blocking entry
       blocks the loop */
    int (*getaddrinfo)(void *ctx, const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res);
    /** frees what getaddrinfo returned */
    void (*freeaddrinfo)(void *ctx, struct addrinfo *res);
    /** monotonic clock in nanoseconds */
    int64_t (*clock_ns)(void *ctx);
    /** remove a stale Unix socket file: unlink(path) only if it is a socket.
       returns 1 if removed, 0 if absent or not a socket, -errno on failure */
    int (*unlink_socket)(void *ctx, const char *path);
    /** datagram sockets: send one datagram to addr (NULL, alen 0: the connected peer) */
    ssize_t (*sendto)(void *ctx, int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *addr, socklen_t alen);
    /** receive one datagram, its sender's address into addr (at most *alen bytes; *alen
        becomes the address's length, 0 when the sender has none) when addr is not NULL */
    ssize_t (*recvfrom)(void *ctx, int fd, void *buf, size_t len, int flags,
                        struct sockaddr *addr, socklen_t *alen);
    /** pipe(2): fds[0] the read end, fds[1] the write end, both close-on-exec (pipe2 with
        O_CLOEXEC where the system has it, FD_CLOEXEC at once otherwise), blocking. The
        loop's wake-up (aiotp_loop_call_soon_threadsafe(), the resolver's workers) is one:
        its write entry is then called from other threads too */
    int (*pipe)(void *ctx, int fds[2]);

    /* ---- pipes, signals and child processes (since 0.3) ---- */

    /** the type of the file behind fd (fstat(2)): an #aiotp_fd_type value, or the
        negated errno (-EBADF for a closed fd) */
    int (*fd_type)(void *ctx, int fd);
    /** signals: while on != 0, each arrival of signal signum in the process writes one
        byte, the signal number, to the non-blocking pipe wfd (the loop's self-pipe). The
        first watcher of a signal installs the process handler; when the last one stops,
        the signal's previous disposition is restored. Several pipes may watch one
        signal. Returns 0, -EINVAL (signum cannot be caught: SIGKILL, SIGSTOP, out of
        range) or -ENOSPC (too many watchers). The handler is async-signal-safe: it only
        writes to the pipes and keeps errno. */
    int (*sigwatch)(void *ctx, int signum, int wfd, int on);
    /** start a child process (POSIX table: posix_spawn, with a chdir file action for a
        cwd; fork + exec where the C library has no such action or posix_spawn does not
        report exec failures): see #aiotp_spawn_attr. Returns the child's
        pid, or the negated errno of the failure, also of a failed exec (-ENOENT,
        -EACCES, ...: the failed child is reaped before the entry returns). The child
        starts with the caller's signal mask and with the default disposition for every
        signal a sigwatch entry watches. */
    pid_t (*spawn)(void *ctx, const struct aiotp_spawn_attr *attr);
    /** waitpid(2) on one child: returns pid when it was reaped (then *code is its exit
        status 0..255, or minus the number of the signal that killed it), 0 when
        `nohang` is set and it is still running, or the negated errno (-ECHILD: not a
        child of this process, or already reaped) */
    pid_t (*waitpid)(void *ctx, pid_t pid, int *code, int nohang);
    /** kill(2) */
    int (*kill)(void *ctx, pid_t pid, int sig);
    /** pidfd_open(2) (Linux 5.3 on): a close-on-exec fd that turns readable when the
        child pid has exited; -ENOSYS where the system has none */
    int (*pidfd_open)(void *ctx, pid_t pid);
} aiotp_syscalls;

/** What the fd_type entry reports (the S_IS*() test of fstat(2)'s st_mode that holds). */
typedef enum aiotp_fd_type {
    AIOTP_FD_OTHER = 0,   /**< none of the below (e.g. an anonymous inode) */
    AIOTP_FD_FIFO = 1,    /**< a pipe or FIFO (S_ISFIFO) */
    AIOTP_FD_SOCKET = 2,  /**< a socket (S_ISSOCK) */
    AIOTP_FD_CHAR = 3,    /**< a character device, e.g. a terminal or /dev/null (S_ISCHR) */
    AIOTP_FD_REGULAR = 4, /**< a regular file (S_ISREG) */
    AIOTP_FD_DIR = 5,     /**< a directory (S_ISDIR) */
    AIOTP_FD_BLOCK = 6    /**< a block device (S_ISBLK) */
} aiotp_fd_type;

/** aiotp_spawn_attr.fd[i]: the child's fd i is the parent's fd i (unchanged). */
#define AIOTP_SPAWN_INHERIT (-1)
/** aiotp_spawn_attr.fd[i]: the child's fd i is /dev/null (read and write). */
#define AIOTP_SPAWN_DEVNULL (-2)
/** aiotp_spawn_attr.fd[2] only: the child's stderr is a copy of its stdout. */
#define AIOTP_SPAWN_STDOUT (-3)

/**
 * What the spawn entry starts: the program, its arguments and environment, its working
 * directory and its standard fds. Everything is read before spawn returns.
 */
typedef struct aiotp_spawn_attr {
    const char *file;  /**< the program: a path (with a '/'), or a name looked up in the
                            PATH of envp (or of the caller's environment, or "/bin:/usr/bin") */
    char *const *argv; /**< its arguments, argv[0] first, NULL-terminated */
    char *const *envp; /**< its environment, NULL-terminated; NULL: the caller's */
    const char *cwd;   /**< its working directory; NULL: the caller's */
    int fd[3];         /**< its fds 0, 1, 2: an fd of the caller (copied with dup2), or
                            #AIOTP_SPAWN_INHERIT, #AIOTP_SPAWN_DEVNULL, #AIOTP_SPAWN_STDOUT */
} aiotp_spawn_attr;

/**
 * The POSIX implementation (the default when a loop is created without a table).
 * @return a static table (ctx NULL).
 */
const aiotp_syscalls *aiotp_syscalls_posix(void);

/** The allocator of a loop (or a sim). Every entry is required; alloc and realloc
    return NULL on failure, which the library reports as #AIOTP_ENOMEM. */
typedef struct aiotp_allocator {
    void *(*alloc)(void *ctx, size_t size);              /**< malloc() */
    void *(*realloc)(void *ctx, void *ptr, size_t size); /**< realloc() */
    void (*free)(void *ctx, void *ptr);                  /**< free() */
    void *ctx;                                           /**< passed to every entry */
} aiotp_allocator;

/**
 * malloc/realloc/free.
 * @return a static allocator (ctx NULL).
 */
const aiotp_allocator *aiotp_allocator_default(void);

AIOTP_END_DECLS

#endif /* AIOTP_SYS_H */
