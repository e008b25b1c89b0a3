/*
 * bench/spawn_posix.c - the hand-written peer of spawn_aiotp.c: posix_spawn + waitpid,
 * N children of a program (default /bin/true), at most C at once, stdio /dev/null.
 * Prints: spawn impl=posix_spawn children=N concurrency=C wall_us=W cpu_us=U (per child)
 * usage: spawn_posix [N [C [program]]]
 *
 * spawn_posix --pipe MB: pipe throughput, the hand-written peer of `spawn_aiotp --pipe`:
 * posix_spawn of `cat` with stdin and stdout pipes (the parent's ends non-blocking), one
 * poll() loop writing MB MiB in 64 KiB writes while the pipe takes them, reading 64 KiB at
 * a time, closing stdin after the last byte; waitpid at the end.
 *   pipe impl=posix_spawn mb=MB wall_us=W cpu_us=U (per MiB; the parent's CPU only)
 *
 * With SPAWN_CWD=DIR in the environment (spawn_run.sh's cwd case) every child starts in DIR
 * (posix_spawn_file_actions_addchdir_np, glibc 2.29: the one reason for _GNU_SOURCE here)
 * and the line starts with `spawncwd`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"

extern char **environ;

#define CHUNK 65536

static int pipe_main(int mb)
{
    static char out[CHUNK];
    static char in[CHUNK];
    char *args[] = {(char *)"cat", NULL};
    posix_spawn_file_actions_t fa;
    long long total = (long long)mb * 1048576;
    long long sent = 0;
    long long got = 0;
    size_t off = 0; /* of the chunk being written */
    int to[2];
    int from[2];
    int st;
    pid_t pid;
    double w0;
    double c0;

    memset(out, 'x', sizeof(out));
    if (mb <= 0 || pipe(to) < 0 || pipe(from) < 0 || posix_spawn_file_actions_init(&fa) != 0) {
        return 2;
    }
    w0 = bench_now_us();
    c0 = bench_cpu_us();
    (void)fcntl(to[1], F_SETFD, FD_CLOEXEC);
    (void)fcntl(from[0], F_SETFD, FD_CLOEXEC);
    (void)posix_spawn_file_actions_adddup2(&fa, to[0], 0);
    (void)posix_spawn_file_actions_adddup2(&fa, from[1], 1);
    (void)posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_RDWR, 0);
    (void)posix_spawn_file_actions_addclose(&fa, to[0]);
    (void)posix_spawn_file_actions_addclose(&fa, from[1]);
    if (posix_spawnp(&pid, "cat", &fa, NULL, args, environ) != 0) {
        return 1;
    }
    close(to[0]);
    close(from[1]);
    (void)fcntl(to[1], F_SETFL, O_NONBLOCK);
    (void)fcntl(from[0], F_SETFL, O_NONBLOCK);
    while (got < total) {
        struct pollfd p[2];
        int n = 0;
        p[n].fd = from[0];
        p[n].events = POLLIN;
        n++;
        if (to[1] >= 0) {
            p[n].fd = to[1];
            p[n].events = POLLOUT;
            n++;
        }
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return 1;
        }
        if (n > 1 && (p[1].revents & (POLLOUT | POLLERR)) != 0) {
            while (sent < total) {
                ssize_t w = write(to[1], out + off, CHUNK - off);
                if (w < 0) {
                    break; /* EAGAIN: the pipe is full */
                }
                off += (size_t)w;
                sent += w;
                if (off == CHUNK) {
                    off = 0;
                }
            }
            if (sent == total) {
                close(to[1]);
                to[1] = -1;
            }
        }
        if ((p[0].revents & (POLLIN | POLLHUP)) != 0) {
            ssize_t r;
            while ((r = read(from[0], in, sizeof(in))) > 0) {
                got += r;
            }
            if (r == 0) {
                break;
            }
        }
    }
    close(from[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    printf("pipe impl=posix_spawn mb=%d wall_us=%.1f cpu_us=%.1f\n", mb,
           (bench_now_us() - w0) / mb, (bench_cpu_us() - c0) / mb);
    posix_spawn_file_actions_destroy(&fa);
    return got == total && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int total = argc > 1 ? atoi(argv[1]) : 1000;
    int conc = argc > 2 ? atoi(argv[2]) : 16;
    char *args[2];
    posix_spawn_file_actions_t fa;
    int running = 0;
    int started = 0;
    int failed = 0;
    int k;
    double w0;
    double c0;

    if (argc > 2 && strcmp(argv[1], "--pipe") == 0) {
        return pipe_main(atoi(argv[2]));
    }
    args[0] = argc > 3 ? argv[3] : (char *)"/bin/true";
    args[1] = NULL;
    if (total <= 0 || conc <= 0 || posix_spawn_file_actions_init(&fa) != 0) {
        return 2;
    }
    for (k = 0; k < 3; k++) {
        (void)posix_spawn_file_actions_addopen(&fa, k, "/dev/null", O_RDWR, 0);
    }
    if (getenv("SPAWN_CWD") != NULL) {
        (void)posix_spawn_file_actions_addchdir_np(&fa, getenv("SPAWN_CWD"));
    }
    w0 = bench_now_us();
    c0 = bench_cpu_us();
    while (started < total || running > 0) {
        while (started < total && running < conc) {
            pid_t pid;
            started++;
            if (posix_spawn(&pid, args[0], &fa, NULL, args, environ) != 0) {
                failed++;
            } else {
                running++;
            }
        }
        if (running > 0) {
            int st;
            if (waitpid(-1, &st, 0) > 0) {
                running--;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                    failed++;
                }
            }
        }
    }
    printf("%s impl=posix_spawn children=%d concurrency=%d wall_us=%.1f cpu_us=%.1f\n",
           getenv("SPAWN_CWD") != NULL ? "spawncwd" : "spawn", total, conc, (bench_now_us() - w0) / total, (bench_cpu_us() - c0) / total);
    posix_spawn_file_actions_destroy(&fa);
    return failed == 0 ? 0 : 1;
}
