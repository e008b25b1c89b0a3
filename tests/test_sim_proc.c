/* tests/test_sim_proc.c - the simulated kernel's pipes, files, virtual children and signals
   (spec/sim.md SIM-PIPE-*, SIM-PROC-*, SIM-SYS-2), on a sim of the case's own, without a
   loop where none is needed. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>

#include "aiotp/sim.h"
#include "harness.h"

static th_counter mem = {-1, 0};
static const aiotp_allocator alloc = TH_COUNTING_ALLOCATOR(&mem);

static aiotp_sim *new_sim(void)
{
    aiotp_sim *sim = NULL;
    CHECK_INT(aiotp_sim_create(&sim, &alloc), 0);
    return sim;
}

static void free_sim(aiotp_sim *sim)
{
    aiotp_sim_free(sim);
    CHECK_SIZE(mem.live, 0);
}

static short revents(aiotp_sim *sim, int fd, short events)
{
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    struct pollfd p;
    p.fd = fd;
    p.events = events;
    p.revents = 0;
    (void)s->poll(s->ctx, &p, 1, 0);
    return p.revents;
}

TEST(pipe_queue_and_ends)
{
    aiotp_sim *sim = new_sim();
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    unsigned char buf[100];
    int r;
    int w;
    CHECK_INT(aiotp_sim_pipe(sim, &r, &w), 0);
    CHECK_ERR(aiotp_sim_pipe(sim, NULL, &w), AIOTP_EINVAL);
    CHECK_ERR(aiotp_sim_pipe(NULL, &r, &w), AIOTP_EINVAL);
    CHECK_INT(s->read(s->ctx, r, buf, sizeof(buf)), -EAGAIN);
    CHECK_INT(aiotp_sim_set_capacity(sim, w, 10), 0);
    CHECK_INT(s->write(s->ctx, w, "0123456789abc", 13), 10); /* partial */
    CHECK_INT(s->write(s->ctx, w, "x", 1), -EAGAIN);           /* full */
    CHECK_INT(revents(sim, w, POLLOUT), 0);
    CHECK_INT(revents(sim, r, POLLIN), POLLIN);
    CHECK_SIZE(aiotp_sim_readable(sim, r), 10);
    CHECK_SIZE(aiotp_sim_queued(sim, w), 10);
    CHECK_INT(s->read(s->ctx, r, buf, 4), 4);
    CHECK(memcmp(buf, "0123", 4) == 0);
    CHECK_INT(revents(sim, w, POLLOUT), POLLOUT);
    CHECK_INT(s->write(s->ctx, r, "x", 1), -EBADF); /* a read end */
    CHECK_INT(s->read(s->ctx, w, buf, 1), -EBADF);  /* a write end */
    CHECK_INT(s->read(s->ctx, r, buf, 0), 0);
    CHECK_INT(s->close(s->ctx, w), 0);
    CHECK_INT(revents(sim, r, POLLIN), POLLIN | POLLHUP);
    CHECK(aiotp_sim_ready(sim, r) & AIOTP_EV_READ);
    CHECK_INT(s->read(s->ctx, r, buf, sizeof(buf)), 6);
    CHECK(memcmp(buf, "456789", 6) == 0);
    CHECK_INT(s->read(s->ctx, r, buf, sizeof(buf)), 0); /* end of file */
    CHECK_INT(revents(sim, r, POLLIN), POLLHUP);
    CHECK_INT(s->close(s->ctx, r), 0);
    CHECK_SIZE(aiotp_sim_open_fds(sim), 0);
    free_sim(sim);
}

TEST(pipe_without_reader)
{
    aiotp_sim *sim = new_sim();
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    struct iovec v[2];
    int r;
    int w;
    CHECK_INT(aiotp_sim_pipe(sim, &r, &w), 0);
    CHECK_INT(s->write(s->ctx, w, "abc", 3), 3);
    CHECK_INT(s->close(s->ctx, r), 0);
    CHECK_INT(revents(sim, w, POLLOUT), POLLERR);
    CHECK_INT(aiotp_sim_ready(sim, w), AIOTP_EV_READ | AIOTP_EV_WRITE);
    CHECK_INT(s->write(s->ctx, w, "x", 1), -EPIPE);
    v[0].iov_base = (void *)"ab";
    v[0].iov_len = 2;
    v[1].iov_base = (void *)"cd";
    v[1].iov_len = 2;
    CHECK_INT(s->writev(s->ctx, w, v, 2), -EPIPE);
    CHECK_SIZE(aiotp_sim_queued(sim, w), 0); /* the queued bytes are gone */
    CHECK_INT(s->close(s->ctx, w), 0);
    free_sim(sim);
}

TEST(pipe_knobs_and_kinds)
{
    aiotp_sim *sim = new_sim();
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    unsigned char buf[16];
    struct iovec v[2];
    int one = 1;
    int r;
    int w;
    int f;
    CHECK_INT(aiotp_sim_pipe(sim, &r, &w), 0);
    CHECK_INT(aiotp_sim_send_eagain(sim, w, 1), 0);
    CHECK_INT(s->write(s->ctx, w, "a", 1), -EAGAIN);
    CHECK_INT(aiotp_sim_eintr_once(sim, w), 0);
    CHECK_INT(s->write(s->ctx, w, "a", 1), -EINTR);
    CHECK_INT(aiotp_sim_send_fail(sim, w, -EIO, 1), 0);
    CHECK_INT(s->write(s->ctx, w, "a", 1), -EIO);
    CHECK_INT(aiotp_sim_send_limit(sim, w, 2), 0);
    v[0].iov_base = (void *)"abcd";
    v[0].iov_len = 4;
    v[1].iov_base = (void *)"ef";
    v[1].iov_len = 2;
    CHECK_INT(s->writev(s->ctx, w, v, 2), 2);
    CHECK_INT(s->writev(s->ctx, w, v, 2), 6);
    CHECK_INT(aiotp_sim_recv_fail(sim, r, -EIO, 1), 0);
    CHECK_INT(s->read(s->ctx, r, buf, sizeof(buf)), -EIO);
    CHECK_INT(aiotp_sim_eintr_once(sim, r), 0);
    CHECK_INT(s->read(s->ctx, r, buf, sizeof(buf)), -EINTR);
    CHECK_INT(s->read(s->ctx, r, buf, sizeof(buf)), 8);
    CHECK(memcmp(buf, "ababcdef", 8) == 0);
    /* not sockets */
    CHECK_INT(s->fd_type(s->ctx, r), AIOTP_FD_FIFO);
    CHECK_INT(s->getsockname(s->ctx, r, (struct sockaddr *)&ss, &len), -ENOTSOCK);
    CHECK_INT(s->getpeername(s->ctx, r, (struct sockaddr *)&ss, &len), -ENOTSOCK);
    CHECK_INT(s->setsockopt(s->ctx, w, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)),
              -ENOTSOCK);
    CHECK_INT(s->getsockopt(s->ctx, w, SOL_SOCKET, SO_TYPE, &one, &len), -ENOTSOCK);
    CHECK_INT(s->shutdown(s->ctx, w, SHUT_WR), -ENOTSOCK);
    CHECK_INT(s->listen(s->ctx, w, 1), -ENOTSOCK);
    CHECK_INT(s->bind(s->ctx, w, (struct sockaddr *)&ss, sizeof(ss)), -ENOTSOCK);
    CHECK_INT(s->connect(s->ctx, w, (struct sockaddr *)&ss, sizeof(ss)), -ENOTSOCK);
    CHECK_INT(s->accept(s->ctx, w, NULL, NULL), -ENOTSOCK);
    CHECK_INT(s->sendto(s->ctx, w, "a", 1, 0, (struct sockaddr *)&ss, sizeof(ss)), -ENOTSOCK);
    CHECK_INT(s->recvfrom(s->ctx, r, buf, 1, 0, (struct sockaddr *)&ss, &len), -ENOTSOCK);
    /* files */
    CHECK_ERR(aiotp_sim_open_file(sim, AIOTP_FD_FIFO), AIOTP_EINVAL);
    CHECK_ERR(aiotp_sim_open_file(NULL, AIOTP_FD_CHAR), AIOTP_EINVAL);
    f = aiotp_sim_open_file(sim, AIOTP_FD_CHAR);
    CHECK(f >= 0);
    CHECK_INT(s->fd_type(s->ctx, f), AIOTP_FD_CHAR);
    CHECK_INT(s->read(s->ctx, f, buf, sizeof(buf)), 0);
    CHECK_INT(s->write(s->ctx, f, "abc", 3), 3);
    CHECK_INT(revents(sim, f, POLLIN | POLLOUT), POLLIN | POLLOUT);
    CHECK_INT(s->close(s->ctx, f), 0);
    f = aiotp_sim_open_file(sim, AIOTP_FD_REGULAR);
    CHECK_INT(s->fd_type(s->ctx, f), AIOTP_FD_REGULAR);
    CHECK_INT(s->close(s->ctx, f), 0);
    CHECK_INT(s->close(s->ctx, r), 0);
    CHECK_INT(s->close(s->ctx, w), 0);
    CHECK_INT(s->pipe(s->ctx, NULL), -EFAULT);
    free_sim(sim);
}

static char *const child_argv[] = {(char *)"/bin/prog", (char *)"a", (char *)"b", NULL};

static pid_t spawn3(aiotp_sim *sim, int fd0, int fd1, int fd2)
{
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    aiotp_spawn_attr a;
    memset(&a, 0, sizeof(a));
    a.file = child_argv[0];
    a.argv = child_argv;
    a.fd[0] = fd0;
    a.fd[1] = fd1;
    a.fd[2] = fd2;
    return s->spawn(s->ctx, &a);
}

TEST(children_and_their_fds)
{
    aiotp_sim *sim = new_sim();
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    unsigned char buf[16];
    int in[2];
    int out[2];
    int code = -1;
    int pfd;
    pid_t pid;
    CHECK_INT(aiotp_sim_pipe(sim, &in[0], &in[1]), 0);
    CHECK_INT(aiotp_sim_pipe(sim, &out[0], &out[1]), 0);
    CHECK_INT(aiotp_sim_last_child(sim), 0);
    pid = spawn3(sim, in[0], out[1], AIOTP_SPAWN_STDOUT);
    CHECK_INT(pid, 1000);
    CHECK_INT(aiotp_sim_last_child(sim), 1000);
    CHECK_STR(aiotp_sim_child_cmdline(sim, pid), "/bin/prog a b");
    CHECK(aiotp_sim_child_cmdline(sim, 4242) == NULL);
    CHECK_INT(s->close(s->ctx, in[0]), 0);  /* the child still holds them */
    CHECK_INT(s->close(s->ctx, out[1]), 0);
    CHECK_SIZE(aiotp_sim_children(sim), 1);
    CHECK_INT(aiotp_sim_child_state(sim, pid, &code), 1);
    /* the child reads its stdin and writes to its stdout and stderr (one pipe) */
    CHECK_INT(aiotp_sim_child_read(sim, pid, 0, buf, sizeof(buf)), -EAGAIN);
    CHECK_INT(s->write(s->ctx, in[1], "in", 2), 2);
    CHECK_INT(aiotp_sim_child_read(sim, pid, 0, buf, sizeof(buf)), 2);
    CHECK_INT(aiotp_sim_child_write(sim, pid, 1, "o", 1), 1);
    CHECK_INT(aiotp_sim_child_write(sim, pid, 2, "e", 1), 1);
    CHECK_INT(aiotp_sim_child_write(sim, pid, 0, "x", 1), -EBADF);
    CHECK_INT(aiotp_sim_child_read(sim, pid, 1, buf, 1), -EBADF);
    CHECK_INT(aiotp_sim_child_write(sim, 4242, 1, "x", 1), -ESRCH);
    CHECK_INT(aiotp_sim_child_read(sim, 4242, 0, buf, 1), -ESRCH);
    CHECK_INT(aiotp_sim_child_close(sim, 4242, 0), -ESRCH);
    CHECK_INT(s->read(s->ctx, out[0], buf, sizeof(buf)), 2);
    CHECK(memcmp(buf, "oe", 2) == 0);
    CHECK_INT(aiotp_sim_child_close(sim, pid, 2), 0);
    CHECK_INT(aiotp_sim_child_close(sim, pid, 2), -EBADF);
    CHECK_INT(aiotp_sim_child_write(sim, pid, 2, "e", 1), -EBADF);
    pfd = s->pidfd_open(s->ctx, pid);
    CHECK(pfd >= 0);
    CHECK_INT(revents(sim, pfd, POLLIN), 0);
    CHECK_INT(s->fd_type(s->ctx, pfd), AIOTP_FD_OTHER);
    CHECK_INT(s->read(s->ctx, pfd, buf, 1), -EINVAL);
    CHECK_INT(s->write(s->ctx, pfd, buf, 1), -EINVAL);
    CHECK_INT(s->waitpid(s->ctx, pid, &code, 1), 0);
    CHECK_INT(s->waitpid(s->ctx, pid, &code, 0), -EAGAIN);
    CHECK_ERR(aiotp_sim_child_exit(sim, pid, 256, 0), AIOTP_EINVAL);
    CHECK_ERR(aiotp_sim_child_exit(sim, pid, -65, 0), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_child_exit(sim, pid, 3, 0), 0);
    CHECK_INT(aiotp_sim_child_exit(sim, pid, 3, 0), -ESRCH);
    CHECK_INT(revents(sim, pfd, POLLIN), POLLIN);
    CHECK(aiotp_sim_ready(sim, pfd) & AIOTP_EV_READ);
    CHECK_INT(revents(sim, out[0], POLLIN), POLLHUP); /* its fds closed */
    CHECK_INT(aiotp_sim_child_state(sim, pid, &code), 2);
    CHECK_INT(code, 3);
    CHECK_INT(s->kill(s->ctx, pid, SIGTERM), 0); /* a zombie */
    CHECK_INT(s->waitpid(s->ctx, pid, &code, 1), pid);
    CHECK_INT(code, 3);
    CHECK_INT(aiotp_sim_child_state(sim, pid, NULL), 3);
    CHECK_INT(s->waitpid(s->ctx, pid, &code, 1), -ECHILD);
    CHECK_INT(s->kill(s->ctx, pid, SIGTERM), -ESRCH);
    CHECK_INT(s->pidfd_open(s->ctx, pid), -ESRCH);
    CHECK_INT(revents(sim, pfd, POLLIN), POLLIN);
    CHECK_SIZE(aiotp_sim_children(sim), 0);
    CHECK_INT(aiotp_sim_child_state(sim, 4242, NULL), -ESRCH);
    CHECK_INT(s->close(s->ctx, pfd), 0);
    CHECK_INT(s->close(s->ctx, in[1]), 0);
    CHECK_INT(s->close(s->ctx, out[0]), 0);
    free_sim(sim);
}

TEST(signals_to_children)
{
    aiotp_sim *sim = new_sim();
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    int code = 0;
    pid_t pid = spawn3(sim, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_INHERIT, AIOTP_SPAWN_DEVNULL);
    CHECK(pid > 0);
    CHECK_INT(s->kill(s->ctx, pid, 0), 0);
    CHECK_INT(s->kill(s->ctx, pid, SIGCHLD), 0);
    CHECK_INT(s->kill(s->ctx, pid, -1), -EINVAL);
    CHECK_INT(s->kill(s->ctx, pid, 65), -EINVAL);
    CHECK_INT(aiotp_sim_child_ignore(sim, pid, SIGTERM, 1), 0);
    CHECK_INT(aiotp_sim_child_ignore(sim, pid, SIGKILL, 1), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_child_ignore(sim, pid, 0, 1), AIOTP_EINVAL);
    CHECK_INT(aiotp_sim_child_ignore(sim, 4242, SIGTERM, 1), -ESRCH);
    CHECK_INT(s->kill(s->ctx, pid, SIGTERM), 0);
    CHECK_INT(aiotp_sim_child_state(sim, pid, NULL), 1); /* ignored */
    CHECK_INT(aiotp_sim_child_got(sim, pid, SIGTERM), 1);
    CHECK_INT(aiotp_sim_child_got(sim, pid, SIGCHLD), 1);
    CHECK_INT(aiotp_sim_child_got(sim, pid, SIGHUP), 0);
    CHECK_INT(aiotp_sim_child_got(sim, pid, 0), 0);
    CHECK_INT(aiotp_sim_child_got(sim, 4242, SIGHUP), -ESRCH);
    /* a sink: reads end of file, takes every write */
    {
        unsigned char b[4];
        CHECK_INT(aiotp_sim_child_read(sim, pid, 0, b, sizeof(b)), 0);
        CHECK_INT(aiotp_sim_child_write(sim, pid, 1, "abc", 3), 3);
    }
    CHECK_INT(aiotp_sim_child_ignore(sim, pid, SIGTERM, 0), 0);
    CHECK_INT(s->kill(s->ctx, pid, SIGTERM), 0);
    CHECK_INT(s->waitpid(s->ctx, pid, &code, 0), pid);
    CHECK_INT(code, -SIGTERM);
    free_sim(sim);
}

TEST(grandchild_keeps_fds)
{
    aiotp_sim *sim = new_sim();
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    unsigned char buf[16];
    int out[2];
    int code = 0;
    pid_t pid;
    CHECK_INT(aiotp_sim_pipe(sim, &out[0], &out[1]), 0);
    pid = spawn3(sim, AIOTP_SPAWN_DEVNULL, out[1], AIOTP_SPAWN_DEVNULL);
    CHECK_INT(s->close(s->ctx, out[1]), 0);
    CHECK_INT(aiotp_sim_child_exit(sim, pid, 5, AIOTP_SIM_KEEP_FDS), 0);
    CHECK_INT(s->waitpid(s->ctx, pid, &code, 1), pid);
    CHECK_INT(code, 5);
    CHECK_INT(revents(sim, out[0], POLLIN), 0); /* the grandchild still writes */
    CHECK_INT(aiotp_sim_child_write(sim, pid, 1, "late", 4), 4);
    CHECK_INT(aiotp_sim_child_close(sim, pid, 1), 0);
    CHECK_INT(s->read(s->ctx, out[0], buf, sizeof(buf)), 4);
    CHECK_INT(s->read(s->ctx, out[0], buf, sizeof(buf)), 0);
    CHECK_INT(s->close(s->ctx, out[0]), 0);
    free_sim(sim);
}

static int hook_calls;
static int hook_ret;
static int prog_runs;

static void prog(aiotp_sim *sim, pid_t pid, void *arg)
{
    (void)arg;
    prog_runs++;
    (void)aiotp_sim_child_exit(sim, pid, 9, 0);
}

static int hook(void *arg, aiotp_sim *sim, pid_t pid, const aiotp_spawn_attr *a,
                aiotp_sim_program_fn *p, void **parg)
{
    (void)sim;
    (void)a;
    hook_calls++;
    CHECK(arg == &hook_calls);
    CHECK(pid >= 1000);
    *p = prog;
    *parg = NULL;
    return hook_ret;
}

TEST(spawn_hook_and_knobs)
{
    aiotp_sim *sim = new_sim();
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    aiotp_spawn_attr a;
    struct pollfd p;
    int code = 0;
    pid_t pid;
    hook_calls = 0;
    prog_runs = 0;
    hook_ret = -EACCES;
    aiotp_sim_set_spawn_hook(sim, hook, &hook_calls);
    CHECK_INT(spawn3(sim, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL),
              -EACCES);
    CHECK_SIZE(aiotp_sim_children(sim), 0);
    hook_ret = 0;
    pid = spawn3(sim, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL);
    CHECK(pid > 0);
    CHECK_INT(prog_runs, 0);
    memset(&p, 0, sizeof(p));
    p.fd = -1;
    CHECK_INT(s->poll(s->ctx, &p, 1, 0), 0); /* a wait runs the programs */
    CHECK_INT(prog_runs, 1);
    CHECK_INT(s->waitpid(s->ctx, pid, &code, 1), pid);
    CHECK_INT(code, 9);
    aiotp_sim_set_spawn_hook(sim, NULL, NULL);
    aiotp_sim_spawn_fail(sim, -EAGAIN);
    CHECK_INT(spawn3(sim, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL),
              -EAGAIN);
    aiotp_sim_set_pidfd(sim, 0);
    pid = spawn3(sim, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL);
    CHECK_INT(s->pidfd_open(s->ctx, pid), -ENOSYS);
    aiotp_sim_set_pidfd(sim, 1);
    /* bad descriptions */
    memset(&a, 0, sizeof(a));
    a.file = "/bin/prog";
    a.argv = child_argv;
    a.fd[0] = a.fd[2] = AIOTP_SPAWN_DEVNULL;
    a.fd[1] = AIOTP_SPAWN_STDOUT;
    CHECK_INT(s->spawn(s->ctx, &a), -EINVAL);
    a.fd[1] = 77;
    CHECK_INT(s->spawn(s->ctx, &a), -EBADF);
    CHECK_INT(s->spawn(s->ctx, NULL), -EINVAL);
    CHECK_INT(s->kill(s->ctx, pid, SIGKILL), 0);
    CHECK_INT(s->waitpid(s->ctx, pid, &code, 0), pid);
    /* NULL sims */
    aiotp_sim_set_pidfd(NULL, 0);
    aiotp_sim_spawn_fail(NULL, -EAGAIN);
    aiotp_sim_set_spawn_hook(NULL, NULL, NULL);
    CHECK_INT(aiotp_sim_last_child(NULL), 0);
    CHECK_SIZE(aiotp_sim_children(NULL), 0);
    /* the sim frees children that are still running */
    pid = spawn3(sim, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL, AIOTP_SPAWN_DEVNULL);
    CHECK(pid > 0);
    free_sim(sim);
}

TEST(signals_of_the_process)
{
    aiotp_sim *sim = new_sim();
    const aiotp_syscalls *s = aiotp_sim_syscalls(sim);
    unsigned char buf[8];
    int p[2];
    int q[2];
    int i;
    CHECK_INT(aiotp_sim_pipe(sim, &p[0], &p[1]), 0);
    CHECK_INT(aiotp_sim_pipe(sim, &q[0], &q[1]), 0);
    CHECK_INT(s->sigwatch(s->ctx, SIGUSR1, p[1], 1), 0);
    CHECK_INT(s->sigwatch(s->ctx, SIGUSR1, p[1], 1), 0); /* once */
    CHECK_INT(s->sigwatch(s->ctx, SIGUSR1, q[1], 1), 0);
    CHECK_INT(aiotp_sim_raise(sim, SIGUSR1), 2);
    CHECK_INT(aiotp_sim_raise(sim, SIGUSR2), 0);
    CHECK_ERR(aiotp_sim_raise(sim, 0), AIOTP_EINVAL);
    CHECK_ERR(aiotp_sim_raise(NULL, SIGUSR1), AIOTP_EINVAL);
    CHECK_INT(s->read(s->ctx, p[0], buf, sizeof(buf)), 1);
    CHECK_INT(buf[0], SIGUSR1);
    CHECK_INT(s->read(s->ctx, q[0], buf, sizeof(buf)), 1);
    CHECK_INT(s->sigwatch(s->ctx, SIGUSR1, q[1], 0), 0);
    CHECK_INT(aiotp_sim_raise(sim, SIGUSR1), 1);
    CHECK_INT(s->sigwatch(s->ctx, SIGKILL, q[1], 1), -EINVAL);
    CHECK_INT(s->sigwatch(s->ctx, 65, q[1], 1), -EINVAL);
    CHECK_INT(s->sigwatch(s->ctx, SIGUSR1, -1, 1), -EINVAL);
    for (i = 1; i <= 16; i++) { /* 16 pairs at most: one is in use */
        int rc = s->sigwatch(s->ctx, i == SIGKILL || i == SIGSTOP ? 30 + i : i, q[1], 1);
        CHECK_INT(rc, i < 16 ? 0 : -ENOSPC);
    }
    /* a SIGCHLD for each child that ends */
    CHECK_INT(s->sigwatch(s->ctx, SIGCHLD, p[1], 0), 0);
    CHECK_INT(s->close(s->ctx, p[0]), 0);
    CHECK_INT(s->close(s->ctx, p[1]), 0);
    CHECK_INT(s->close(s->ctx, q[0]), 0);
    CHECK_INT(s->close(s->ctx, q[1]), 0);
    CHECK_INT(aiotp_sim_raise(sim, SIGUSR1), 0); /* the watched fd is closed */
    free_sim(sim);
}

static const th_case cases[] = {
    T(pipe_queue_and_ends, "SIM-PIPE-1 SIM-PIPE-2"),
    T(pipe_without_reader, "SIM-PIPE-1 SIM-PIPE-2"),
    T(pipe_knobs_and_kinds, "SIM-PIPE-3 SIM-SYS-2"),
    T(children_and_their_fds, "SIM-PROC-1 SIM-PROC-2 SIM-PIPE-2"),
    T(signals_to_children, "SIM-PROC-2"),
    T(grandchild_keeps_fds, "SIM-PROC-2"),
    T(spawn_hook_and_knobs, "SIM-PROC-1 SIM-PROC-2"),
    T(signals_of_the_process, "SIM-PROC-3"),
};

TH_MAIN(cases)
