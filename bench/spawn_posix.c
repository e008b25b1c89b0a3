/*
 * bench/spawn_posix.c - the hand-written peer of spawn_aiotp.c: posix_spawn + waitpid,
 * N children of a program (default /bin/true), at most C at once, stdio /dev/null.
 * Prints: spawn impl=posix_spawn children=N concurrency=C wall_us=W cpu_us=U (per child)
 * usage: spawn_posix [N [C [program]]]
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"

extern char **environ;

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

    args[0] = argc > 3 ? argv[3] : (char *)"/bin/true";
    args[1] = NULL;
    if (total <= 0 || conc <= 0 || posix_spawn_file_actions_init(&fa) != 0) {
        return 2;
    }
    for (k = 0; k < 3; k++) {
        (void)posix_spawn_file_actions_addopen(&fa, k, "/dev/null", O_RDWR, 0);
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
    printf("spawn impl=posix_spawn children=%d concurrency=%d wall_us=%.1f cpu_us=%.1f\n",
           total, conc, (bench_now_us() - w0) / total, (bench_cpu_us() - c0) / total);
    posix_spawn_file_actions_destroy(&fa);
    return failed == 0 ? 0 : 1;
}
