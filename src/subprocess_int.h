/*
 * src/subprocess_int.h - layout of a subprocess transport and the internal interface of
 * the loop methods that make one (src/subprocess_connect.c).
 *
 * Layer 3 (spec/architecture.md): a transport kind, on the transport base. Its state is
 * core/proc_sm.h (every change through aiotp__proc_step); its pipes are pipe transports
 * (src/pipe.c) with internal protocols that pass their events on; its child is watched by
 * the loop's child watcher (src/signal.c).
 */
#ifndef AIOTP_SUBPROCESS_INT_H
#define AIOTP_SUBPROCESS_INT_H

#include "core/proc_sm.h"
#include "pipe_int.h"
#include "signal_int.h"
#include "transport_int.h"

typedef struct aiotp__subproc aiotp__subproc;

/* The protocol data of one of the child's pipes: which transport, which fd. */
typedef struct aiotp__subproc_link {
    aiotp__subproc *sp;
    int fd;
} aiotp__subproc_link;

struct aiotp__subproc {
    aiotp_transport base;         /* the transport base (and the loop object header): first */
    aiotp__proc_state st;         /* all lifecycle state (core/proc_sm.h) */
    pid_t pid;
    aiotp__child *child;          /* the watch; NULL once the child was reaped */
    int code;                     /* the return code, once reaped */
    bool rc_known;                /* process_exited was called: get_returncode gives code */
    bool dead;                    /* torn down by aiotp_loop_free while retained (LIFE-1) */
    aiotp__pipe *pipes[3];        /* the pipe of each fd, until its connection_lost */
    aiotp__subproc_link link[3];
    unsigned promised;            /* ready-queue entries still reserved */
    aiotp_connect_cb done_cb;     /* completion, after connection_made */
    void *done_arg;
    aiotp_extra x_pid;            /* "subprocess" */
    uint64_t rx_total[3];         /* trace: bytes told per fd */
    uint32_t rx_sum[3];
};

/*
 * Make the subprocess transport of child pid (watched by `child`, or already reaped:
 * child NULL, exited with `code`), whose pipes' ends of the loop are pfd[0..2] (-1: that fd
 * is not a pipe; non-blocking, close-on-exec, not registered). Schedules the pipes'
 * connection_made, then the subprocess's and the completion, for the next pass. On
 * success the transport owns the fds and the watch (whose callback it takes over); on
 * failure (AIOTP_EINVAL / AIOTP_EPROTOKIND with `why`, AIOTP_ENOMEM) nothing was taken.
 */
int aiotp__subproc_create(aiotp_loop *loop, pid_t pid, aiotp__child *child, int code,
                          const int pfd[3], const aiotp_protocol *proto, void *pdata,
                          aiotp_connect_cb done_cb, void *done_arg, const char **why);

#endif /* AIOTP_SUBPROCESS_INT_H */
