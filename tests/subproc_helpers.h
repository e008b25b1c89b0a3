/* tests/subproc_helpers.h - a recording SubprocessProtocol and the start of a subprocess
   for the subprocess suite (tests/test_subprocess_*.c). */
#ifndef TH_SUBPROC_HELPERS_H
#define TH_SUBPROC_HELPERS_H

#include "aiotp/subprocess.h"
#include "harness.h"

typedef struct th_sp th_sp;
typedef int (*th_sp_hook)(th_sp *r, aiotp_transport *t, int fd);

struct th_sp {
    aiotp_transport *t;   /* set by connection_made */
    int made;
    int lost;
    int lost_status;
    int exited;
    int rc_at_exit;       /* get_returncode() inside process_exited */
    int rc_known_at_exit; /* its result (1) */
    int pipe_lost[3];
    int pipe_lost_status[3];
    unsigned char out[3][8192]; /* bytes per fd (1, 2), up to 8 KiB kept */
    size_t out_len[3];          /* bytes per fd, all counted */
    int chunks[3];
    int pauses;
    int resumes;
    int cb_ret;           /* what every callback returns */
    char order[256];      /* one letter per callback: M made, 1/2 data, a/b/c pipe lost
                             0/1/2, X exited, L lost */
    size_t norder;
    /* completion */
    int done;
    int done_status;
    aiotp_transport *done_t;
    int factory_calls;
    int factory_ret;      /* what the factory returns (0) */
    const aiotp_protocol *proto; /* what the factory hands out (default th_subprocess) */
    th_sp_hook on_made, on_data, on_pipe_lost, on_exited, on_lost;
    void *user;
};

extern const aiotp_protocol th_subprocess;

void th_sp_init(th_sp *r);
/* aiotp_loop_subprocess_exec with r as factory data and completion; returns the call's
   result. */
int th_sp_exec(aiotp_loop *loop, th_sp *r, const char *const *argv,
               const aiotp_subprocess_options *o);
int th_sp_shell(aiotp_loop *loop, th_sp *r, const char *cmd, const aiotp_subprocess_options *o);
/* Run until the completion (fails the case after 20 passes). */
void th_sp_wait_done(aiotp_loop *loop, th_sp *r);
/* exec + wait_done; the transport (retained until the end of the case), NULL on failure. */
aiotp_transport *th_sp_start(aiotp_loop *loop, th_sp *r, const char *const *argv,
                             const aiotp_subprocess_options *o);
/* Run until connection_lost (fails the case after max passes). */
void th_sp_wait_lost(aiotp_loop *loop, th_sp *r, int max);
bool th_sp_is_lost(void *r);
bool th_sp_is_done(void *r);
bool th_sp_is_exited(void *r);

#endif
