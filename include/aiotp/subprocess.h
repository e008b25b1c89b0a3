/**
 * @file
 * @brief Subprocess transports: the loop methods subprocess_exec and subprocess_shell.
 *
 * A subprocess transport is an aiotp_transport of kind #AIOTP_TRANSPORT_SUBPROCESS
 * (SubprocessTransport: get_pid, get_pipe_transport, get_returncode, send_signal,
 * terminate, kill, close, is_closing, get_extra_info("subprocess"), set_protocol) talking
 * to a #AIOTP_PROTOCOL_SUBPROCESS table (connection_made, pipe_data_received,
 * pipe_connection_lost, process_exited, connection_lost; pause_writing and resume_writing
 * are those of the child's stdin pipe). The other transport methods return
 * #AIOTP_ENOTSUP. Each of the child's fds 0..2 that is a pipe is a pipe transport
 * (aiotp/pipe.h) that aiotp_transport_get_pipe_transport() returns. How they behave:
 * spec/subprocess-transport.md and the SUBPROC-* rules of spec/rules.md.
 *
 * Completion model as the other loop methods (aiotp/server.h): the method returns 0 when
 * the operation started, and the completion is called once, from the loop, after the
 * protocol's connection_made, with status 0 and the transport, or with a negative status
 * and NULL. The child is started inside the call (as CPython's Popen), but every failure
 * to start it, a failed exec included (-ENOENT: no such program, -EACCES: not
 * executable), reaches the completion with its errno, in the next pass; the factory is
 * then not called. A child is never left behind: the loop reaps each child it started,
 * also when the factory refuses it or the loop is freed (then it is killed first).
 */
#ifndef AIOTP_SUBPROCESS_H
#define AIOTP_SUBPROCESS_H

#include <stddef.h>
#include "aiotp/export.h"
#include "aiotp/loop.h"
#include "aiotp/protocol.h"
#include "aiotp/server.h"
#include "aiotp/transport.h"

AIOTP_BEGIN_DECLS

/** What one of the child's fds 0..2 is (#aiotp_subprocess_options.stdio). */
typedef enum aiotp_stdio_kind {
    AIOTP_STDIO_PIPE = 0,    /**< a pipe to the loop: a pipe transport (the default) */
    AIOTP_STDIO_DEVNULL = 1, /**< /dev/null */
    AIOTP_STDIO_INHERIT = 2, /**< the caller's fd of the same number */
    AIOTP_STDIO_FD = 3,      /**< a copy of the caller's fd #aiotp_stdio.fd (which stays the
                                  caller's: the loop neither owns nor closes it) */
    AIOTP_STDIO_STDOUT = 4   /**< stderr only: a copy of the child's stdout
                                  (asyncio.subprocess.STDOUT) */
} aiotp_stdio_kind;

/** One of the child's fds 0..2. */
typedef struct aiotp_stdio {
    aiotp_stdio_kind kind; /**< what it is */
    int fd;                /**< #AIOTP_STDIO_FD: the caller's fd; ignored otherwise */
} aiotp_stdio;

/** Options of subprocess_exec and subprocess_shell (aiotp_subprocess_options_init()). */
typedef struct aiotp_subprocess_options {
    size_t size;          /**< sizeof(aiotp_subprocess_options) */
    aiotp_stdio stdio[3]; /**< the child's stdin, stdout, stderr; default: three pipes */
    const char *cwd;      /**< its working directory; NULL (default): the caller's */
    char *const *env;     /**< its environment, NULL-terminated; NULL (default): the
                               caller's */
} aiotp_subprocess_options;

/**
 * Set the defaults: three pipes, the caller's working directory and environment.
 * @param opts the options (NULL: nothing happens).
 */
void aiotp_subprocess_options_init(aiotp_subprocess_options *opts);

/**
 * Start a program (asyncio loop.subprocess_exec): argv[0] is a path (with a '/') or a
 * name looked up in the PATH of the child's environment; no shell is involved.
 *
 * @param loop the loop.
 * @param factory called once, in the next pass, for the protocol (a
 *        #AIOTP_PROTOCOL_SUBPROCESS table).
 * @param factory_arg its argument.
 * @param argv the program and its arguments, NULL-terminated (read before the call
 *        returns).
 * @param opts the options (NULL: the defaults).
 * @param cb the completion.
 * @param cb_arg its argument.
 * @return 0 (the completion follows), or without calling it and without leaving anything
 *         behind: #AIOTP_EINVAL (loop, factory, cb or argv NULL, argv empty, a bad option:
 *         an unknown kind, #AIOTP_STDIO_STDOUT for stdin or stdout, a size that is not
 *         sizeof(aiotp_subprocess_options)), #AIOTP_EBADF (an #AIOTP_STDIO_FD fd negative or
 *         closed), #AIOTP_ENOMEM. Completion statuses: the error of making the pipes or
 *         starting the child (-EMFILE, -ENOENT, -EACCES, -ENOTDIR, ...), #AIOTP_EPROTOKIND /
 *         #AIOTP_EINVAL (the factory's table is not a SUBPROCESS table), the factory's own
 *         error, #AIOTP_ENOMEM: in these last cases the child is killed and reaped.
 */
int aiotp_loop_subprocess_exec(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                               void *factory_arg, const char *const *argv,
                               const aiotp_subprocess_options *opts, aiotp_connect_cb cb,
                               void *cb_arg);

/**
 * Start a shell command (asyncio loop.subprocess_shell): `/bin/sh -c cmd`.
 *
 * @param loop the loop.
 * @param factory as aiotp_loop_subprocess_exec().
 * @param factory_arg its argument.
 * @param cmd the command line (NULL: #AIOTP_EINVAL).
 * @param opts the options (NULL: the defaults).
 * @param cb the completion.
 * @param cb_arg its argument.
 * @return as aiotp_loop_subprocess_exec(). A command the shell cannot run is the shell's
 *         exit status (127), as with any shell.
 */
int aiotp_loop_subprocess_shell(aiotp_loop *loop, aiotp_protocol_factory_fn factory,
                                void *factory_arg, const char *cmd,
                                const aiotp_subprocess_options *opts, aiotp_connect_cb cb,
                                void *cb_arg);

AIOTP_END_DECLS

#endif /* AIOTP_SUBPROCESS_H */
