/* fuzz/fz_fdcheck.c - see fz_fdcheck.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
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

/* Throughput (fuzz/README.md): the listing of /proc/self/fd is opened once and rewound
   for every snapshot (a path walk through /proc per snapshot was a tenth of an empty
   input's time), and the lowest free fd is what F_DUPFD of the listing's own fd returns
   (the same number open() would). The listing's fd is checked to be still that directory
   each time: an input that closed it (or put another file at its number) is reported. */
static DIR *g_dir;
static dev_t g_dev;
static ino_t g_ino;

void fz_fds_take(fz_fds *s)
{
    struct dirent *e;
    struct stat st;
    int self;
    int fd;

    if (g_dir == NULL) {
        g_dir = opendir("/proc/self/fd");
        if (g_dir == NULL) {
            fd_fail("opendir(/proc/self/fd) failed");
        }
        if (fstat(dirfd(g_dir), &st) != 0) {
            fd_fail("fstat of the /proc/self/fd listing failed");
        }
        g_dev = st.st_dev;
        g_ino = st.st_ino;
    }
    self = dirfd(g_dir);
    if (fstat(self, &st) != 0 || st.st_dev != g_dev || st.st_ino != g_ino) {
        fprintf(stderr, "FUZZ VIOLATION [FD-LEAK] fd %d (the /proc/self/fd listing) was "
                        "closed or replaced by an input\n", self);
        abort();
    }
    rewinddir(g_dir);
    s->open = 0;
    s->low = 0;
    errno = 0;
    while ((e = readdir(g_dir)) != NULL) {
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
    if (errno != 0) {
        fd_fail("readdir(/proc/self/fd) failed");
    }
    fd = fcntl(self, F_DUPFD, 0);
    if (fd < 0) {
        fd_fail("fcntl(F_DUPFD) failed");
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
