/*
 * fuzz/fz_fdcheck.h - the per-input real-fd leak check of the fuzz drivers.
 *
 * The targets run in one process over many inputs (AFL++ persistent mode, the replay
 * driver over a corpus), so a real file descriptor that an input opens and does not
 * close, or one it closes that it did not open, would surface later as an unrelated and
 * unreproducible failure. The drivers take a snapshot before each input and compare it
 * after: the number of open fds (listed in /proc/self/fd), which of fds 0..63 are open,
 * and the lowest free fd. Any difference prints "FUZZ VIOLATION [FD-LEAK] ..." and
 * aborts. No /proc is a failure too, never a skip. The listing stays open from the first
 * snapshot on (one fd, left out of the counts) and is rewound for each; an input that
 * closes or replaces it is reported as well.
 */
#ifndef AIOTP_FZ_FDCHECK_H
#define AIOTP_FZ_FDCHECK_H

#include <stdint.h>

typedef struct fz_fds {
    long open;       /* open fds of the process */
    uint64_t low;    /* bit i: fd i (0..63) is open */
    int lowest_free; /* what the next open() would return */
} fz_fds;

void fz_fds_take(fz_fds *s);
/* Take a new snapshot and abort with a report naming `input` if it differs from *before. */
void fz_fds_check(const fz_fds *before, const char *input);

#endif /* AIOTP_FZ_FDCHECK_H */
