/*
 * src/pipe_int.h - layout of a pipe transport (a read pipe or a write pipe) and the
 * internal interface of the code that creates them: the loop methods connect_read_pipe /
 * connect_write_pipe (src/pipe_connect.c) and the subprocess transport (src/subprocess.c),
 * whose pipes are pipe transports with an internal protocol.
 *
 * Layer 3 (spec/architecture.md): a transport kind, on the transport base. Its state is
 * core/pipe_sm.h; a write pipe's buffer is core/wbuf.h and its flow control core/flow.h
 * (the modules the stream transport uses).
 */
#ifndef AIOTP_PIPE_INT_H
#define AIOTP_PIPE_INT_H

#include "bq_int.h"
#include "core/flow.h"
#include "core/pipe_sm.h"
#include "core/wbuf.h"
#include "transport_int.h"

typedef struct aiotp__pipe {
    aiotp_transport base;        /* the transport base (and the loop object header): first */
    int fd;                      /* the pipe; -1 once closed */

    aiotp__pipe_state st;        /* all lifecycle state (core/pipe_sm.h) */
    aiotp__flow flow;            /* write pipe: watermarks and paused flag */
    aiotp__wbuf wb;              /* write pipe: the bytes the pipe did not take yet */

    int lost_status;             /* status for the scheduled connection_lost */
    bool reader_on;              /* registered for reading (write pipe: the watch) */
    bool writer_on;              /* registered for writing */
    bool watch;                  /* write pipe: watch for the reader going away (a FIFO or
                                    socket; not a character device, as CPython) */
    unsigned promised;           /* ready-queue entries still reserved */
    aiotp_connect_cb done_cb;    /* completion to call after connection_made */
    void *done_arg;
    aiotp_extra x_pipe;          /* "pipe": the fd */
    uint64_t dropped_writes;     /* writes refused once closing (DEV-3) */

    aiotp__bq bq;                /* write pipe: the borrowed writes (src/bq_int.h, DEV-81) */

    uint64_t rx_total;           /* trace: bytes delivered to the protocol */
    uint32_t rx_sum;
    uint64_t tx_total;           /* trace: bytes accepted by write */
    uint32_t tx_sum;
} aiotp__pipe;

/*
 * Create a pipe transport for fd, a non-blocking pipe, FIFO, socket or character device
 * (the caller checked and owns it until this returns 0). dir: read or write; watch: a write
 * pipe also watches fd for reading to notice that the reader went away. Schedules
 * connection_made (then done_cb, if not NULL) for the next pass. On failure nothing is
 * scheduled and fd is NOT closed; a protocol table the pipe does not take (a read pipe: a
 * STREAMING table; a write pipe: STREAMING or BUFFERED, of which it calls only the
 * BaseProtocol callbacks) is refused (AIOTP_EINVAL, AIOTP_EPROTOKIND) and `why` says why.
 */
int aiotp__pipe_create(aiotp_loop *loop, int fd, aiotp__pp_dir dir, bool watch,
                       const aiotp_protocol *proto, void *pdata, aiotp_connect_cb done_cb,
                       void *done_arg, aiotp_transport **out, const char **why);

/* The same in two steps, for a caller that must make several transports or none (a
   subprocess): aiotp__pipe_check_protocol (AIOTP_EINVAL, AIOTP_EPROTOKIND), the caller's
   aiotp__fd_reserve, aiotp__pipe_alloc (memory and ready-queue entries: AIOTP_ENOMEM;
   undone by aiotp__pipe_discard), then aiotp__pipe_start, which cannot fail. */
int aiotp__pipe_check_protocol(aiotp__pp_dir dir, const aiotp_protocol *proto,
                               const char **why);
int aiotp__pipe_alloc(aiotp_loop *loop, bool with_done, aiotp__pipe **out);
void aiotp__pipe_discard(aiotp__pipe *t);
void aiotp__pipe_start(aiotp__pipe *t, int fd, aiotp__pp_dir dir, bool watch,
                       const aiotp_protocol *proto, void *pdata, aiotp_connect_cb done_cb,
                       void *done_arg);

/* The pipe transport behind t, or NULL if t is not one. */
aiotp__pipe *aiotp__pipe_of(aiotp_transport *t);

#endif /* AIOTP_PIPE_INT_H */
