/* src/sys_posix.c - the POSIX syscall table and the default allocator. This is the only
   file of the library that calls the operating system. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* accept4 (SYS-1: close-on-exec without a window); pwritev2 and
                       posix_spawn_file_actions_addchdir_np (spec/signals.md): the only
                       file of the library that asks for GNU declarations */
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

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

/* ---- writes to pipes without SIGPIPE (WRITE-WRITE-9, PIPE-WRITE-5, SYS-2) -------------

   A write to a pipe whose reader is gone raises SIGPIPE, which kills the process unless
   it is caught or ignored; sockets avoid it with MSG_NOSIGNAL. Two ways for pipes:

   - pwritev2(fd, iov, n, -1, RWF_NOSIGNAL) (Linux 6.16 on; offset -1: the file position,
     as writev): the kernel returns EPIPE and raises nothing. No other system call. Whether
     the kernel knows the flag is probed once (a one-byte pwritev2 on a fresh pipe); a file
     that takes no RWF_ flags at all (a character device without write_iter, such as
     /dev/full) says EOPNOTSUPP before writing anything, and that write takes the guard; so
     does a write of no byte at all (no_bytes()).
   - the guard, everywhere else: SIGPIPE is blocked around the call; when the call failed
     with EPIPE and raised a SIGPIPE that was not blocked before, that signal is taken off
     the pending set with sigwait (it is pending for this thread, so sigwait returns at
     once). A SIGPIPE the caller had blocked already is left to the caller, and the mask is
     not set back then (it did not change). */

#if defined(__linux__) && defined(AIOTP_HAVE_PWRITEV2)
#define NOSIGNAL_WRITES 1
#if !defined(RWF_NOSIGNAL)
#define RWF_NOSIGNAL 0x00000100 /* linux/fs.h of Linux 6.16 */
#endif
#endif

static int nosignal_forced = -1; /* tests: 1 RWF_NOSIGNAL, 0 the guard, -1 the probe's */

#if defined(NOSIGNAL_WRITES)
static pthread_once_t nosignal_once = PTHREAD_ONCE_INIT;
static int nosignal_kernel; /* written once, under nosignal_once */

static void nosignal_probe(void)
{
    struct iovec v;
    char b = 0;
    int p[2];
    /* no fd left (EMFILE) at the first write: the guard, which is always right */
    if (pipe2(p, O_CLOEXEC) < 0) { /* GCOVR_EXCL_BR_LINE */
        return;                    /* GCOVR_EXCL_LINE */
    }
    v.iov_base = &b;
    v.iov_len = 1;
    nosignal_kernel = pwritev2(p[1], &v, 1, -1, RWF_NOSIGNAL) == 1;
    close(p[0]);
    close(p[1]);
}
#endif

int aiotp__nosignal_writes(void)
{
#if defined(NOSIGNAL_WRITES)
    if (nosignal_forced >= 0) {
        return nosignal_forced;
    }
    (void)pthread_once(&nosignal_once, nosignal_probe);
    return nosignal_kernel;
#else
    return 0;
#endif
}

void aiotp__nosignal_set_mode(int mode)
{
    nosignal_forced = mode;
}

static ssize_t pipe_guarded(int fd, const void *b, size_t n, const struct iovec *v, int c)
{
    sigset_t pipe_set;
    sigset_t old;
    ssize_t rc;
    int err;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (sigprocmask(SIG_BLOCK, &pipe_set, &old) < 0) {
        return -errno; /* GCOVR_EXCL_LINE: EINVAL/EFAULT only, which these are not */
    }
    rc = v != NULL ? writev(fd, v, c) : write(fd, b, n);
    err = rc < 0 ? errno : 0;
    if (sigismember(&old, SIGPIPE)) {
        return rc < 0 ? -(ssize_t)err : rc; /* the caller's: pending for it, mask unchanged */
    }
    if (err == EPIPE) {
        sigset_t pending;
        int sig;
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
            (void)sigwait(&pipe_set, &sig);
        }
    }
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    return rc < 0 ? -(ssize_t)err : rc;
}

#if defined(NOSIGNAL_WRITES)
/* True when the write has no byte at all. Such a write goes through write(2)/writev(2):
   pwritev2 returns 0 for it without calling the file, and write(2) of 0 bytes on a
   datagram socket sends an empty datagram (DGRAM-RECV-1 delivers those). */
static bool no_bytes(size_t n, const struct iovec *v, int c)
{
    int i;
    if (v == NULL) {
        return n == 0;
    }
    for (i = 0; i < c && v[i].iov_len == 0; i++) {
    }
    return i == c;
}
#endif

/* One write (b, n) or gathered write (v, c) that raises no SIGPIPE. */
static ssize_t pipe_write(int fd, const void *b, size_t n, const struct iovec *v, int c)
{
#if defined(NOSIGNAL_WRITES)
    struct iovec one;
    if (!no_bytes(n, v, c) && aiotp__nosignal_writes()) {
        ssize_t rc;
        if (v == NULL) {
            one.iov_base = (void *)(uintptr_t)b;
            one.iov_len = n;
            v = &one;
            c = 1;
        }
        rc = pwritev2(fd, v, c, -1, RWF_NOSIGNAL);
        if (rc >= 0) {
            return rc;
        }
        if (errno != EOPNOTSUPP) {
            return -(ssize_t)errno;
        }
        /* this file takes no RWF_ flag (or the kernel does not know this one) */
    }
#endif
    return pipe_guarded(fd, b, n, v, c);
}

static ssize_t p_write(void *ctx, int fd, const void *b, size_t n)
{
    (void)ctx;
    return pipe_write(fd, b, n, NULL, 0);
}

static ssize_t p_writev(void *ctx, int fd, const struct iovec *v, int c)
{
    (void)ctx;
    return pipe_write(fd, NULL, 0, v, c);
}

static int p_poll(void *ctx, struct pollfd *f, nfds_t n, int t)
{
    (void)ctx;
    return neg(poll(f, n, t));
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

/* ---- pipes, the type of an fd ----------------------------------------------------------- */

static int cloexec_pipe(int fds[2])
{
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0; /* SYS-1: no window */
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
    return 0;
#endif
}

static int p_pipe(void *ctx, int fds[2])
{
    (void)ctx;
    if (fds == NULL) {
        return -EFAULT;
    }
    return cloexec_pipe(fds);
}

static int p_fd_type(void *ctx, int fd)
{
    struct stat st;
    (void)ctx;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (S_ISFIFO(st.st_mode)) {
        return AIOTP_FD_FIFO;
    }
    if (S_ISSOCK(st.st_mode)) {
        return AIOTP_FD_SOCKET;
    }
    if (S_ISCHR(st.st_mode)) {
        return AIOTP_FD_CHAR;
    }
    if (S_ISREG(st.st_mode)) {
        return AIOTP_FD_REGULAR;
    }
    if (S_ISDIR(st.st_mode)) {
        return AIOTP_FD_DIR;
    }
    return S_ISBLK(st.st_mode) ? AIOTP_FD_BLOCK : AIOTP_FD_OTHER;
}

/* ---- signals: one process handler, a table of (signal, pipe) watchers ----------------------

   The handler writes the signal's number to every pipe that watches it (a loop's
   self-pipe: the loop reads it and runs its handlers as ordinary callbacks). The table is
   changed only with every signal blocked, so the handler never sees it half-written. */

#if defined(NSIG)
#define SIG_LIMIT NSIG
#else
#define SIG_LIMIT 65
#endif
#define WATCH_MAX 64

static volatile sig_atomic_t watch_sig[WATCH_MAX]; /* 0: free */
static volatile sig_atomic_t watch_fd[WATCH_MAX];
static struct sigaction saved_action[SIG_LIMIT];
static unsigned char installed[SIG_LIMIT];         /* the handler is ours */

static void on_signal(int sig)
{
    int saved_errno = errno;
    unsigned char b = (unsigned char)sig;
    int i;
    for (i = 0; i < WATCH_MAX; i++) {
        if (watch_sig[i] == sig) {
            (void)!write((int)watch_fd[i], &b, 1); /* full pipe: a wake-up is pending */
        }
    }
    errno = saved_errno;
}

static int watch_change(int signum, int wfd, int on)
{
    int i;
    int slot = -1;
    int others = 0;

    for (i = 0; i < WATCH_MAX; i++) {
        if (watch_sig[i] == signum && watch_fd[i] == wfd) {
            slot = i;
        } else if (watch_sig[i] == signum) {
            others++;
        }
    }
    if (on) {
        if (slot >= 0) {
            return 0;
        }
        for (i = 0; i < WATCH_MAX && slot < 0; i++) {
            if (watch_sig[i] == 0) {
                slot = i;
            }
        }
        if (slot < 0) {
            return -ENOSPC;
        }
        if (!installed[signum]) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = on_signal;
            sigfillset(&sa.sa_mask);
            sa.sa_flags = SA_RESTART | (signum == SIGCHLD ? SA_NOCLDSTOP : 0);
            if (sigaction(signum, &sa, &saved_action[signum]) < 0) {
                return -errno;
            }
            installed[signum] = 1;
        }
        watch_fd[slot] = wfd;
        watch_sig[slot] = signum;
        return 0;
    }
    if (slot >= 0) {
        watch_sig[slot] = 0;
        watch_fd[slot] = -1;
    }
    if (others == 0 && installed[signum]) {
        (void)sigaction(signum, &saved_action[signum], NULL);
        installed[signum] = 0;
    }
    return 0;
}

static int p_sigwatch(void *ctx, int signum, int wfd, int on)
{
    sigset_t all;
    sigset_t old;
    int rc;
    (void)ctx;
    if (signum <= 0 || signum >= SIG_LIMIT || signum == SIGKILL || signum == SIGSTOP ||
        wfd < 0) {
        return -EINVAL;
    }
    sigfillset(&all);
    if (sigprocmask(SIG_SETMASK, &all, &old) < 0) {
        return -errno;
    }
    rc = watch_change(signum, wfd, on);
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---- child processes -------------------------------------------------------------------- */

extern char **environ;

/* The PATH a name is looked up in: envp's, else the caller's, else the default. */
static const char *search_path(char *const *envp)
{
    const char *p = NULL;
    size_t i;
    if (envp != NULL) {
        for (i = 0; envp[i] != NULL; i++) {
            if (strncmp(envp[i], "PATH=", 5) == 0) {
                p = envp[i] + 5;
                break;
            }
        }
    } else {
        p = getenv("PATH");
    }
    return p != NULL ? p : "/bin:/usr/bin";
}

/* An errno of exec (or of looking a name up) after which the next PATH entry is tried. */
static bool try_next(int err)
{
    return err == ENOENT || err == ENOTDIR || err == ESTALE || err == ELOOP ||
           err == ENAMETOOLONG;
}

/* Each directory of `path` in turn (an empty entry is "."), `file` joined to it (a join
   longer than PATH_MAX is skipped), given to run(): 0 ends the walk; EACCES is remembered
   and the walk goes on, as after try_next() errnos; any other errno ends it. Returns 0,
   that errno, or (as execvp) EACCES when a directory refused the program and none had it,
   else ENOENT. Async-signal-safe: the forked child walks with it. */
static int path_walk(const char *path, const char *file, int (*run)(const char *, void *),
                     void *arg)
{
    char buf[PATH_MAX];
    bool eacces = false;
    size_t fl = strlen(file);
    const char *d = path;
    for (;;) {
        const char *end = strchr(d, ':');
        size_t dl = end != NULL ? (size_t)(end - d) : strlen(d);
        if (dl == 0) {
            d = ".";
            dl = 1;
        }
        if (dl + 1 + fl + 1 <= sizeof(buf)) {
            int err;
            memcpy(buf, d, dl);
            buf[dl] = '/';
            memcpy(buf + dl + 1, file, fl + 1);
            err = run(buf, arg);
            if (err == EACCES) {
                eacces = true;
            } else if (!try_next(err)) {
                return err;
            }
        }
        if (end == NULL) {
            break;
        }
        d = end + 1;
    }
    return eacces ? EACCES : ENOENT;
}

typedef struct exec_arg {
    const aiotp_spawn_attr *a;
    char *const *envp;
} exec_arg;

/* path_walk's run in the forked child: returns only when the exec failed. GCOVR_EXCL_START */
static int run_exec(const char *cand, void *arg)
{
    const exec_arg *ea = arg;
    execve(cand, ea->a->argv, ea->envp);
    return errno;
}
/* GCOVR_EXCL_STOP */

/* In the child, between fork and exec: only async-signal-safe calls. Reports the errno
   of what failed on `ep` and exits 127; exec closes `ep` (close-on-exec) on success.
   The coverage gate cannot see this function: it runs only in the child, which execs or
   _exits, so gcov never writes its counts (tests/test_sys_entries.c runs it: exec
   errors, redirections, cwd, PATH search). GCOVR_EXCL_START */
static void child_exec(const aiotp_spawn_attr *a, const char *path, int ep,
                       const sigset_t *mask)
{
    char *const *envp = a->envp != NULL ? a->envp : environ;
    int tmp[3];
    int err = 0;
    int sig;
    int i;

    /* 1. every source out of the way of 0..2 (a source may be one of them) */
    for (i = 0; i < 3; i++) {
        int s = a->fd[i];
        tmp[i] = s;
        if (s >= 0 || s == AIOTP_SPAWN_DEVNULL) {
            int o = s >= 0 ? s : open("/dev/null", O_RDWR | O_CLOEXEC);
            if (o < 0) {
                goto fail;
            }
            tmp[i] = fcntl(o, F_DUPFD_CLOEXEC, 3);
            if (tmp[i] < 0) {
                goto fail;
            }
        }
    }
    /* 2. install them (dup2 clears close-on-exec on the target) */
    for (i = 0; i < 3; i++) {
        if (tmp[i] >= 0 && dup2(tmp[i], i) < 0) {
            goto fail;
        }
        if (i == 2 && tmp[i] == AIOTP_SPAWN_STDOUT && dup2(1, 2) < 0) {
            goto fail;
        }
    }
    if (a->cwd != NULL && chdir(a->cwd) < 0) {
        goto fail;
    }
    /* 3. the library's signal handlers are not the child's; the caller's mask is */
    for (sig = 1; sig < SIG_LIMIT; sig++) {
        if (installed[sig]) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = SIG_DFL;
            (void)sigaction(sig, &sa, NULL);
        }
    }
    (void)sigprocmask(SIG_SETMASK, mask, NULL);
    /* 4. exec: a path, or each directory of PATH in turn (as execvp: EACCES is reported
       when no directory had the program but one refused it) */
    if (path == NULL) {
        execve(a->file, a->argv, envp);
    } else {
        exec_arg ea;
        ea.a = a;
        ea.envp = envp;
        errno = path_walk(path, a->file, run_exec, &ea);
    }
fail:
    err = errno;
    (void)!write(ep, &err, sizeof(err));
    _exit(127);
}
/* GCOVR_EXCL_STOP */

/* The file action that changes the child's working directory: POSIX 2024's name, or the
   one glibc (2.29 on) and musl had before it; both are checked at configure time
   (CMakeLists.txt). Without either, a spawn with a cwd forks. */
#if defined(AIOTP_HAVE_SPAWN_ADDCHDIR)
#define SPAWN_ADDCHDIR posix_spawn_file_actions_addchdir
#elif defined(AIOTP_HAVE_SPAWN_ADDCHDIR_NP)
#define SPAWN_ADDCHDIR posix_spawn_file_actions_addchdir_np
#endif

/* posix_spawn (glibc: clone(CLONE_VM | CLONE_VFORK), no page tables copied) where it is
   known to report a failed exec as its result: 1 yes, 0 no (fork + exec is used), -1 not
   known yet (the first spawn probes it). A table of ours may run under a tool
   that turns that clone into a fork (valgrind): then posix_spawn returns 0 and the child
   exits 127, which the spawn entry must never let through. */
static volatile sig_atomic_t spawn_reports = -1;

int aiotp__spawn_probe(const char *prog)
{
    char *argv[2];
    pid_t pid;
    int st;
    int rc;
    argv[0] = (char *)(uintptr_t)prog;
    argv[1] = NULL;
    rc = posix_spawn(&pid, prog, NULL, NULL, argv, environ);
    if (rc == 0) {
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
    return rc == EACCES;
}

void aiotp__spawn_set_mode(int mode)
{
    spawn_reports = mode;
}

typedef struct spawn_arg {
    pid_t *pid;
    const aiotp_spawn_attr *a;
    char *const *envp;
    const posix_spawn_file_actions_t *fa;
    const posix_spawnattr_t *at;
} spawn_arg;

/* path_walk's run in the caller: a directory without the program costs a stat, not a
   spawn. A relative candidate with a cwd is the child's to find (its chdir comes first):
   it is spawned without the stat. */
static int run_spawn(const char *cand, void *arg)
{
    const spawn_arg *sa = arg;
    struct stat sb;
    if ((sa->a->cwd == NULL || cand[0] == '/') && stat(cand, &sb) < 0) {
        return errno;
    }
    return posix_spawn(sa->pid, cand, sa->fa, sa->at, sa->a->argv, sa->envp);
}

/* Runs the program: a path, or a name in each directory of `path` in turn. */
static int spawn_run(pid_t *pid, const aiotp_spawn_attr *a, const char *path,
                     const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at)
{
    spawn_arg sa;
    sa.pid = pid;
    sa.a = a;
    sa.envp = a->envp != NULL ? a->envp : environ;
    sa.fa = fa;
    sa.at = at;
    if (path == NULL) {
        return posix_spawn(pid, a->file, fa, at, a->argv, sa.envp);
    }
    return path_walk(path, a->file, run_spawn, &sa);
}

/* The same child as spawn_forked's, through posix_spawn: sources that are one of 0..2 are
   copied above 2 in the caller first (closed again after the spawn), then dup2/open file
   actions and the chdir (SPAWN_ADDCHDIR); the signals the library handles get their
   default disposition back (POSIX_SPAWN_SETSIGDEF) and the child starts with the caller's
   mask. */
static pid_t spawn_posix(const aiotp_spawn_attr *a, const char *path)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t mask;
    sigset_t def;
    int moved[3] = {-1, -1, -1};
    pid_t pid = -1;
    int rc;
    int sig;
    int i;

    (void)sigprocmask(SIG_BLOCK, NULL, &mask);
    sigemptyset(&def);
    for (sig = 1; sig < SIG_LIMIT; sig++) {
        if (installed[sig]) {
            (void)sigaddset(&def, sig);
        }
    }
    rc = posix_spawnattr_init(&at);
    if (rc != 0) {
        return -rc; /* GCOVR_EXCL_LINE: ENOMEM */
    }
    rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) {
        (void)posix_spawnattr_destroy(&at); /* GCOVR_EXCL_LINE: ENOMEM */
        return -rc;                         /* GCOVR_EXCL_LINE */
    }
    /* these fail only on bad arguments (EINVAL), which these are not */
    rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) |
         posix_spawnattr_setsigmask(&at, &mask) | posix_spawnattr_setsigdefault(&at, &def);
    for (i = 0; i < 3 && rc == 0; i++) {
        int s = a->fd[i];
        if (s >= 0 && s < 3) {
            moved[i] = fcntl(s, F_DUPFD_CLOEXEC, 3);
            s = moved[i];
            if (s < 0) {
                rc = errno;
                break;
            }
        }
        if (s >= 0) {
            rc = posix_spawn_file_actions_adddup2(&fa, s, i);
        } else if (s == AIOTP_SPAWN_DEVNULL) {
            rc = posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
        } else if (s == AIOTP_SPAWN_STDOUT) {
            rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
        }
    }
#if defined(SPAWN_ADDCHDIR)
    /* after the dup2s and the opens of /dev/null, as spawn_forked's chdir: a relative
       program path (or PATH entry) is then the new directory's */
    if (rc == 0 && a->cwd != NULL) {
        rc = SPAWN_ADDCHDIR(&fa, a->cwd);
    }
#endif
    if (rc == 0) {
        rc = spawn_run(&pid, a, path, &fa, &at);
    }
    for (i = 0; i < 3; i++) {
        if (moved[i] >= 0) {
            close(moved[i]);
        }
    }
    (void)posix_spawn_file_actions_destroy(&fa);
    (void)posix_spawnattr_destroy(&at);
    return rc != 0 ? -rc : pid;
}

/* fork + exec (spawn_forked) or posix_spawn (spawn_posix): see spawn_reports. */
static pid_t spawn_forked(const aiotp_spawn_attr *a, const char *path)
{
    sigset_t all;
    sigset_t old;
    int ep[2];
    int err = 0;
    int rc;
    ssize_t n;
    pid_t pid;

    rc = cloexec_pipe(ep);
    if (rc < 0) {
        return rc;
    }
    /* every signal blocked across fork: no handler of ours runs in the child before it
       has put the default dispositions back */
    sigfillset(&all);
    (void)sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        close(ep[0]);
        child_exec(a, path, ep[1], &old); /* does not return */
    }
    err = errno;
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    close(ep[1]);
    if (pid < 0) {
        close(ep[0]);
        return -err;
    }
    do {
        n = read(ep[0], &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    close(ep[0]);
    if (n == (ssize_t)sizeof(err)) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        return -(err > 0 ? err : ECHILD);
    }
    return pid; /* end of file: the exec succeeded */
}

#if defined(SPAWN_ADDCHDIR)
/* Before a PATH search with a working directory through posix_spawn: what the child's
   chdir would say (ENOENT, ENOTDIR, ELOOP, ...), so that the search, where every candidate
   would fail with it, does not turn it into ENOENT. A directory that may not be searched
   passes here and fails each candidate with EACCES, which the search reports. */
static int cwd_check(const char *cwd)
{
    struct stat sb;
    if (stat(cwd, &sb) < 0) {
        return -errno;
    }
    return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}
#endif

static pid_t p_spawn(void *ctx, const aiotp_spawn_attr *a)
{
    const char *path = NULL;
    int i;

    (void)ctx;
    if (a == NULL || a->file == NULL || a->file[0] == '\0' || a->argv == NULL ||
        a->argv[0] == NULL) {
        return -EINVAL;
    }
    for (i = 0; i < 3; i++) {
        if (a->fd[i] < AIOTP_SPAWN_STDOUT || (a->fd[i] == AIOTP_SPAWN_STDOUT && i != 2)) {
            return -EINVAL;
        }
    }
    if (strchr(a->file, '/') == NULL) {
        path = search_path(a->envp);
    }
    if (spawn_reports < 0) {
        spawn_reports = aiotp__spawn_probe("/"); /* exec of a directory: EACCES */
    }
#if defined(SPAWN_ADDCHDIR)
    if (spawn_reports > 0) {
        if (a->cwd != NULL && path != NULL) {
            int rc = cwd_check(a->cwd);
            if (rc != 0) {
                return rc;
            }
        }
        return spawn_posix(a, path);
    }
#else
    /* no file action changes the directory here: a cwd forks */
    if (a->cwd == NULL && spawn_reports > 0) {
        return spawn_posix(a, path);
    }
#endif
    return spawn_forked(a, path);
}

static pid_t p_waitpid(void *ctx, pid_t pid, int *code, int nohang)
{
    int st = 0;
    pid_t r;
    (void)ctx;
    if (pid <= 0) {
        return -EINVAL; /* one child, never "any" */
    }
    do {
        r = waitpid(pid, &st, nohang ? WNOHANG : 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return -errno;
    }
    if (r > 0 && code != NULL) {
        *code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? -WTERMSIG(st) : 255;
    }
    return r;
}

static int p_kill(void *ctx, pid_t pid, int sig)
{
    (void)ctx;
    return neg(kill(pid, sig));
}

static int p_pidfd_open(void *ctx, pid_t pid)
{
    (void)ctx;
#if defined(__linux__)
#if !defined(SYS_pidfd_open) && !defined(__alpha__)
#define SYS_pidfd_open 434 /* the same number on every architecture but alpha */
#endif
#if defined(SYS_pidfd_open)
    {
        long fd = syscall(SYS_pidfd_open, (long)pid, 0L); /* close-on-exec by itself */
        return fd < 0 ? -errno : (int)fd;
    }
#else
    (void)pid;
    return -ENOSYS;
#endif
#else
    (void)pid;
    return -ENOSYS;
#endif
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
    .fd_type = p_fd_type,
    .sigwatch = p_sigwatch,
    .spawn = p_spawn,
    .waitpid = p_waitpid,
    .kill = p_kill,
    .pidfd_open = p_pidfd_open,
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
