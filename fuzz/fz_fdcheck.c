/* fuzz/fz_fdcheck.c - see fz_fdcheck.h. */
#define _GNU_SOURCE 1 /* syscall() */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fz_fdcheck.h"

#if defined(__GNUC__)
__attribute__((noreturn))
#endif
static void fd_fail(const char *what, long v)
{
    fprintf(stderr, "FUZZ VIOLATION [FD-LEAK] the fd check cannot run: %s (%ld)\n", what, v);
    abort();
}

/* Throughput (fuzz/README.md): a listing of /proc/self/fd per snapshot (two per input)
   was a tenth of a small input's time; one ppoll() over the fds below the limit costs a
   syscall and no path walk. It is made with syscall(): the sanitizer's poll interceptor
   checks the 256 entries one by one, which cost as much again, and this array is the
   checker's own (no code under test passes it). */
static nfds_t g_n; /* fds 0..g_n-1 are all the process can have; 0: not set up yet */
static struct pollfd g_pfd[FZ_FD_LIMIT];

static void setup(void)
{
    struct rlimit rl;
    struct dirent *e;
    DIR *d;
    int self;
    nfds_t i;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fd_fail("getrlimit(RLIMIT_NOFILE) failed", errno);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FZ_FD_LIMIT) {
        rl.rlim_cur = FZ_FD_LIMIT;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            fd_fail("setrlimit(RLIMIT_NOFILE) failed", errno);
        }
    }
    g_n = (nfds_t)rl.rlim_cur;
    /* every fd open now is below the limit (later ones are: open() and dup() fail) */
    d = opendir("/proc/self/fd");
    if (d == NULL) {
        fd_fail("opendir(/proc/self/fd) failed", errno);
    }
    self = dirfd(d);
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long v;
        if (e->d_name[0] == '.') {
            continue;
        }
        v = strtol(e->d_name, &end, 10);
        if (*end != '\0' || v < 0) {
            fd_fail("unexpected name in /proc/self/fd", 0);
        }
        if (v != self && (unsigned long)v >= (unsigned long)g_n) {
            fd_fail("an fd at or above the fd limit is open", v);
        }
    }
    if (errno != 0) {
        fd_fail("readdir(/proc/self/fd) failed", errno);
    }
    closedir(d);
    for (i = 0; i < g_n; i++) {
        g_pfd[i].fd = (int)i;
        g_pfd[i].events = 0;
    }
}

void fz_fds_take(fz_fds *s)
{
    nfds_t i;
    if (g_n == 0) {
        setup();
    }
    static const struct timespec zero = {0, 0};
    if (syscall(SYS_ppoll, g_pfd, g_n, &zero, NULL, (size_t)0) < 0) {
        fd_fail("poll over the fds failed", errno);
    }
    memset(s, 0, sizeof(*s));
    s->lowest_free = -1;
    for (i = 0; i < g_n; i++) {
        if (g_pfd[i].revents & POLLNVAL) {
            if (s->lowest_free < 0) {
                s->lowest_free = (int)i;
            }
        } else {
            s->open++;
            s->set[i / 64] |= (uint64_t)1 << (i % 64);
        }
    }
    if (s->lowest_free < 0) {
        s->lowest_free = (int)g_n; /* all taken: the next open() fails (EMFILE) */
    }
}

int fz_fds_same(const fz_fds *before)
{
    fz_fds now;
    fz_fds_take(&now);
    return now.open == before->open && now.lowest_free == before->lowest_free &&
           memcmp(now.set, before->set, sizeof(now.set)) == 0;
}

void fz_fds_check(const fz_fds *before, const char *input)
{
    fz_fds now;
    int first = -1;
    int i;
    fz_fds_take(&now);
    for (i = 0; i < FZ_FD_LIMIT && first < 0; i++) {
        if (((now.set[i / 64] ^ before->set[i / 64]) >> (i % 64)) & 1u) {
            first = i;
        }
    }
    if (first >= 0 || now.open != before->open || now.lowest_free != before->lowest_free) {
        fprintf(stderr,
                "FUZZ VIOLATION [FD-LEAK] input %s: real file descriptors differ across "
                "the input: %ld open before, %ld after; lowest free fd %d before, %d after; "
                "open among 0..63: %#llx before, %#llx after; first fd that differs: %d\n",
                input, before->open, now.open, before->lowest_free, now.lowest_free,
                (unsigned long long)before->set[0], (unsigned long long)now.set[0], first);
        abort();
    }
}
