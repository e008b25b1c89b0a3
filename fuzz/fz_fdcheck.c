/* fuzz/fz_fdcheck.c - see fz_fdcheck.h. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fz_fdcheck.h"

#if defined(__GNUC__)
__attribute__((noreturn))
#endif
static void fd_fail(const char *what)
{
    fprintf(stderr, "FUZZ VIOLATION [FD-LEAK] the fd check cannot run: %s\n", what);
    abort();
}

void fz_fds_take(fz_fds *s)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int self;
    int fd;

    if (d == NULL) {
        fd_fail("opendir(/proc/self/fd) failed");
    }
    self = dirfd(d);
    s->open = 0;
    s->low = 0;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long v;
        if (e->d_name[0] == '.') {
            continue;
        }
        v = strtol(e->d_name, &end, 10);
        if (*end != '\0' || v < 0) {
            fd_fail("unexpected name in /proc/self/fd");
        }
        if (v == self) {
            continue; /* the listing's own fd */
        }
        s->open++;
        if (v < 64) {
            s->low |= (uint64_t)1 << v;
        }
    }
    closedir(d);
    fd = open("/dev/null", O_RDONLY);
    if (fd < 0) {
        fd_fail("open(/dev/null) failed");
    }
    s->lowest_free = fd;
    close(fd);
}

void fz_fds_check(const fz_fds *before, const char *input)
{
    fz_fds now;
    fz_fds_take(&now);
    if (now.open != before->open || now.low != before->low ||
        now.lowest_free != before->lowest_free) {
        fprintf(stderr,
                "FUZZ VIOLATION [FD-LEAK] input %s: real file descriptors differ across "
                "the input: %ld open before, %ld after; lowest free fd %d before, %d after; "
                "open among 0..63: %#llx before, %#llx after\n",
                input, before->open, now.open, before->lowest_free, now.lowest_free,
                (unsigned long long)before->low, (unsigned long long)now.low);
        abort();
    }
}
