/*
 * fuzz/fz_fdcheck.h - the per-input real-fd leak check of the fuzz drivers.
 *
 * The targets run in one process over many inputs (AFL++ persistent mode, the replay
 * driver over a corpus), so a real file descriptor that an input opens and does not
 * close, or one it closes that it did not open, would surface later as an unrelated and
 * unreproducible failure. The drivers take a snapshot before each input and compare it
 * after: the exact set of open fds, their number and the lowest free fd. Any difference
 * prints "FUZZ VIOLATION [FD-LEAK] ..." and aborts.
 *
 * How (fuzz/README.md, "The fd-leak check"): the first snapshot lowers the soft
 * RLIMIT_NOFILE to FZ_FD_LIMIT (never raises it) and checks, in /proc/self/fd, that no
 * open fd is at or above the limit (no /proc, or such an fd, is a failure, never a
 * skip); from then on no fd at or above it can exist, so one poll() over fds
 * 0..limit-1 (POLLNVAL: not open) sees every open fd of the process.
 */
#ifndef AIOTP_FZ_FDCHECK_H
#define AIOTP_FZ_FDCHECK_H

#include <stdint.h>

#define FZ_FD_LIMIT 256 /* fds the process may have (soft RLIMIT_NOFILE from the first snapshot) */

typedef struct fz_fds {
    long open;                      /* open fds of the process */
    uint64_t set[FZ_FD_LIMIT / 64]; /* bit i of word i / 64: fd i is open */
    int lowest_free;                /* what the next open() would return */
} fz_fds;

void fz_fds_take(fz_fds *s);
/* Take a new snapshot: 1 if it equals *before, else 0 (nothing printed). */
int fz_fds_same(const fz_fds *before);
/* Take a new snapshot and abort with a report naming `input` if it differs from *before. */
void fz_fds_check(const fz_fds *before, const char *input);

#endif /* AIOTP_FZ_FDCHECK_H */
