/* tests/proc_helpers.c - pipes, signals and child processes for the tests (harness.h):
   the peer's pipe calls, the sim's spawn hook that runs tests/th_child's script as the
   program of a virtual child, and the check that no child is left after a case. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aiotp/sim.h"
#include "harness.h"
#include "th_script.h"

#if defined(__linux__) && !defined(F_SETPIPE_SZ)
#define F_SETPIPE_SZ 1031 /* F_LINUX_SPECIFIC_BASE + 7 (not declared in a strict build) */
#endif

/* ---- the peer -------------------------------------------------------------------------- */

void th_pipe(int fds[2])
{
    if (th_sim_mode()) {
        int rc = aiotp_sim_pipe(th_sim(), &fds[0], &fds[1]);
        if (rc != 0) {
            th_fail(__FILE__, __LINE__, "aiotp_sim_pipe: %s", aiotp_err_name(rc));
            exit(1);
        }
        return;
    }
    if (pipe(fds) != 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
        th_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
        exit(1);
    }
}

ssize_t th_peer_read(int fd, void *buf, size_t n, bool nonblock)
{
    ssize_t rc;
    if (!th_sim_mode()) {
        if (nonblock) {
            int fl = fcntl(fd, F_GETFL);
            (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
            rc = read(fd, buf, n);
            {
                int e = errno;
                (void)fcntl(fd, F_SETFL, fl);
                errno = e;
            }
            return rc;
        }
        return read(fd, buf, n);
    }
    rc = aiotp_sim_syscalls(th_sim())->read(th_sim(), fd, buf, n);
    if (rc == -EAGAIN && !nonblock) {
        th_fail(__FILE__, __LINE__, "read on sim fd %d would block: run the loop first", fd);
    }
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

int th_open_file(int type)
{
    int fd;
    if (th_sim_mode()) {
        fd = aiotp_sim_open_file(th_sim(), type);
        if (fd < 0) {
            th_fail(__FILE__, __LINE__, "aiotp_sim_open_file: %s", aiotp_err_name(fd));
            exit(1);
        }
        return fd;
    }
    if (type == AIOTP_FD_CHAR) {
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    } else {
        char path[] = "/tmp/aiotp-th-file-XXXXXX";
        fd = mkstemp(path);
        if (fd >= 0) {
            (void)unlink(path);
            (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    }
    if (fd < 0) {
        th_fail(__FILE__, __LINE__, "open: %s", strerror(errno));
        exit(1);
    }
    return fd;
}

void th_raise(int sig)
{
    if (th_sim_mode()) {
        (void)aiotp_sim_raise(th_sim(), sig);
        return;
    }
    (void)kill(getpid(), sig);
}

pid_t th_spawn(const char *const *argv, int fd0, int fd1, int fd2)
{
    aiotp_spawn_attr a;
    const aiotp_syscalls *sys = th_syscalls();
    memset(&a, 0, sizeof(a));
    a.file = argv[0];
    a.argv = (char *const *)(uintptr_t)argv;
    a.fd[0] = fd0;
    a.fd[1] = fd1;
    a.fd[2] = fd2;
    return sys->spawn(sys->ctx, &a);
}

int th_reap(pid_t pid)
{
    const aiotp_syscalls *sys = th_syscalls();
    int code = -1000;
    pid_t r = sys->waitpid(sys->ctx, pid, &code, 0);
    if (r != pid) {
        th_fail(__FILE__, __LINE__, "waitpid(%ld): %s", (long)pid, aiotp_err_name((int)r));
    }
    return code;
}

void th_small_pipe(int wfd)
{
    if (th_sim_mode()) {
        int rc = aiotp_sim_set_capacity(th_sim(), wfd, 4096);
        if (rc != 0) {
            th_fail(__FILE__, __LINE__, "aiotp_sim_set_capacity: %s", aiotp_err_name(rc));
        }
    }
#if defined(__linux__) && defined(F_SETPIPE_SZ)
    else {
        (void)fcntl(wfd, F_SETPIPE_SZ, 4096);
    }
#endif
}

void th_pattern(unsigned char *buf, size_t n, uint64_t from)
{
    size_t i;
    for (i = 0; i < n; i++) {
        buf[i] = th_script_pattern(from + i);
    }
}

/* ---- pipe transports ------------------------------------------------------------------------- */

typedef struct pipe_wait {
    bool done;
    int status;
    aiotp_transport *t;
    const aiotp_protocol *proto;
    void *data;
} pipe_wait;

static void pipe_done(void *arg, int status, aiotp_transport *t)
{
    pipe_wait *w = arg;
    w->done = true;
    w->status = status;
    w->t = t;
}

static int pipe_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    pipe_wait *w = arg;
    *proto = w->proto;
    *data = w->data;
    return 0;
}

static bool pipe_is_done(void *arg)
{
    return ((pipe_wait *)arg)->done;
}

aiotp_transport *th_pipe_transport(aiotp_loop *loop, bool write, int fd,
                                   const aiotp_protocol *proto, void *data)
{
    pipe_wait w;
    int rc;
    memset(&w, 0, sizeof(w));
    w.proto = proto;
    w.data = data;
    rc = write ? aiotp_loop_connect_write_pipe(loop, pipe_factory, &w, fd, pipe_done, &w)
               : aiotp_loop_connect_read_pipe(loop, pipe_factory, &w, fd, pipe_done, &w);
    if (rc != 0) {
        th_fail(__FILE__, __LINE__, "connect_%s_pipe: %s", write ? "write" : "read",
                aiotp_err_name(rc));
        return NULL;
    }
    th_run_until(loop, pipe_is_done, &w, 10);
    if (w.status != 0 || w.t == NULL) {
        th_fail(__FILE__, __LINE__, "connect_%s_pipe completion: %s", write ? "write" : "read",
                aiotp_err_name(w.status));
        return NULL;
    }
    th_keep(w.t);
    return w.t;
}

/* ---- virtual children running th_child's script ----------------------------------------- */

typedef struct vchild {
    th_script s;
    int argc;
    char **argv;   /* copies */
    pid_t pid;
} vchild;

#define MAX_VCHILDREN 256
static vchild *vchildren[MAX_VCHILDREN];
static size_t nvchildren;

static ssize_t v_read(void *ctx, int fd, void *buf, size_t n)
{
    vchild *v = ctx;
    return aiotp_sim_child_read(th_sim(), v->pid, fd, buf, n);
}

static ssize_t v_write(void *ctx, int fd, const void *buf, size_t n)
{
    vchild *v = ctx;
    return aiotp_sim_child_write(th_sim(), v->pid, fd, buf, n);
}

static void v_close(void *ctx, int fd)
{
    vchild *v = ctx;
    (void)aiotp_sim_child_close(th_sim(), v->pid, fd);
}

static void v_exit(void *ctx, int code, bool keep)
{
    vchild *v = ctx;
    (void)aiotp_sim_child_exit(th_sim(), v->pid, code & 0xff, keep ? AIOTP_SIM_KEEP_FDS : 0);
}

static void v_die(void *ctx, int sig)
{
    vchild *v = ctx;
    (void)aiotp_sim_child_exit(th_sim(), v->pid, -sig, 0);
}

static void v_ignore(void *ctx, int sig)
{
    vchild *v = ctx;
    (void)aiotp_sim_child_ignore(th_sim(), v->pid, sig, 1);
}

static void v_program(aiotp_sim *sim, pid_t pid, void *arg)
{
    vchild *v = arg;
    th_script_io io;
    (void)sim;
    (void)pid;
    memset(&io, 0, sizeof(io));
    io.read = v_read;
    io.write = v_write;
    io.close = v_close;
    io.exit = v_exit;
    io.die = v_die;
    io.ignore = v_ignore;
    io.fork_grandchild = NULL; /* the script goes on as the grandchild */
    io.ctx = v;
    (void)th_script_step(&v->s, &io);
}

static char *dup_str(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL) {
        abort();
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* A virtual child running words[0..n) (words[0] is TH_CHILD). */
static vchild *vchild_new(pid_t pid, char **words, int n)
{
    vchild *v;
    if (nvchildren == MAX_VCHILDREN) {
        th_fail(__FILE__, __LINE__, "more than %d virtual children in a case", MAX_VCHILDREN);
        exit(1);
    }
    v = calloc(1, sizeof(*v));
    if (v == NULL) {
        abort();
    }
    v->argc = n;
    v->argv = words;
    v->pid = pid;
    th_script_init(&v->s, n, words);
    vchildren[nvchildren++] = v;
    return v;
}

static bool is_th_child(const char *p)
{
    return strcmp(p, TH_CHILD) == 0;
}

/* Could exec run this path: 0, -ENOENT or -EACCES (not a regular executable file). */
static int exec_ok(const char *p)
{
    struct stat st;
    if (stat(p, &st) != 0) {
        return -ENOENT;
    }
    return S_ISREG(st.st_mode) && access(p, X_OK) == 0 ? 0 : -EACCES;
}

/* Does the real system have an executable `file` (a path, or a name on PATH)? 0,
   -ENOENT or -EACCES. */
static int real_exec_check(const char *file, char *const *envp)
{
    const char *path = NULL;
    char buf[4096];
    bool eacces = false;
    size_t i;
    if (strchr(file, '/') != NULL) {
        return exec_ok(file);
    }
    for (i = 0; envp != NULL && envp[i] != NULL; i++) {
        if (strncmp(envp[i], "PATH=", 5) == 0) {
            path = envp[i] + 5;
        }
    }
    if (path == NULL) {
        path = getenv("PATH") != NULL ? getenv("PATH") : "/bin:/usr/bin";
    }
    while (*path != '\0') {
        const char *end = strchr(path, ':');
        size_t n = end != NULL ? (size_t)(end - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n > 0 ? path : ".", file);
        {
            int rc = exec_ok(buf);
            if (rc == 0) {
                return 0;
            }
            eacces = eacces || rc == -EACCES;
        }
        if (end == NULL) {
            break;
        }
        path = end + 1;
    }
    return eacces ? -EACCES : -ENOENT;
}

static int spawn_hook(void *arg, aiotp_sim *sim, pid_t pid, const aiotp_spawn_attr *a,
                      aiotp_sim_program_fn *prog, void **prog_arg)
{
    int rc;
    (void)arg;
    (void)sim;
    if (a->cwd != NULL) {
        struct stat st;
        if (stat(a->cwd, &st) != 0) {
            return -errno;
        }
        if (!S_ISDIR(st.st_mode)) {
            return -ENOTDIR;
        }
    }
    if (strcmp(a->file, "/bin/sh") == 0 && a->argv[1] != NULL &&
        strcmp(a->argv[1], "-c") == 0 && a->argv[2] != NULL) {
        /* a shell command: its words (no quoting) */
        const char *c = a->argv[2];
        char **words = calloc(strlen(c) / 2 + 2, sizeof(char *));
        int n = 0;
        if (words == NULL) {
            abort();
        }
        while (*c != '\0') {
            const char *e;
            while (*c == ' ') {
                c++;
            }
            if (*c == '\0') {
                break;
            }
            e = c;
            while (*e != '\0' && *e != ' ') {
                e++;
            }
            words[n++] = dup_str(c, (size_t)(e - c));
            c = e;
        }
        if (n > 0 && strcmp(words[0], "exec") == 0) {
            free(words[0]);
            memmove(words, words + 1, (size_t)n * sizeof(char *));
            n--;
        }
        if (n > 0 && is_th_child(words[0])) {
            *prog = v_program;
            *prog_arg = vchild_new(pid, words, n);
            return 0;
        }
        while (n > 0) {
            free(words[--n]);
        }
        free(words);
        if (strcmp(a->argv[2], "exit 0") == 0 || strcmp(a->argv[2], "true") == 0) {
            static char *t[] = {(char *)TH_CHILD, (char *)"exit:0", NULL};
            char **w = calloc(3, sizeof(char *));
            if (w == NULL) {
                abort();
            }
            w[0] = dup_str(t[0], strlen(t[0]));
            w[1] = dup_str(t[1], strlen(t[1]));
            *prog = v_program;
            *prog_arg = vchild_new(pid, w, 2);
        }
        return 0; /* any other shell command: a child that runs until killed */
    }
    if (is_th_child(a->file)) {
        int n = 0;
        char **words;
        while (a->argv[n] != NULL) {
            n++;
        }
        words = calloc((size_t)n + 1, sizeof(char *));
        if (words == NULL) {
            abort();
        }
        for (rc = 0; rc < n; rc++) {
            words[rc] = dup_str(a->argv[rc], strlen(a->argv[rc]));
        }
        *prog = v_program;
        *prog_arg = vchild_new(pid, words, n);
        return 0;
    }
    return real_exec_check(a->file, a->envp);
}

void th__sim_children_setup(aiotp_sim *sim)
{
    aiotp_sim_set_spawn_hook(sim, spawn_hook, NULL);
}

static void vchildren_free(void)
{
    size_t i;
    int k;
    for (i = 0; i < nvchildren; i++) {
        for (k = 0; k < vchildren[i]->argc; k++) {
            free(vchildren[i]->argv[k]);
        }
        free(vchildren[i]->argv);
        free(vchildren[i]);
    }
    nvchildren = 0;
}

void th__children_check(aiotp_sim *sim)
{
    if (sim != NULL) {
        size_t n = aiotp_sim_children(sim);
        if (n != 0) {
            th_fail(__FILE__, __LINE__, "%zu virtual children not reaped (a zombie or a "
                    "running child is left behind)", n);
        }
    } else {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
            if (si.si_pid != 0) {
                int st;
                th_fail(__FILE__, __LINE__, "zombie: child %ld exited and was not reaped",
                        (long)si.si_pid);
                (void)waitpid(si.si_pid, &st, 0);
            } else {
                th_fail(__FILE__, __LINE__, "a child process is still running after the "
                        "case");
            }
        }
    }
    vchildren_free();
}
