/*
 * examples/subprocess_date.c - the documentation's "loop.subprocess_exec() and
 * SubprocessProtocol": get the output of a subprocess through a SubprocessProtocol and
 * wait for the subprocess's exit.
 *
 *   transport, protocol = await loop.subprocess_exec(
 *       lambda: DateProtocol(exit_future), sys.executable, '-c', code,
 *       stdin=None, stderr=None)
 *   await exit_future        # process_exited()
 *   transport.close()
 *   data = bytes(protocol.output)
 *
 * The child is date(1) (the documentation runs Python's datetime.now()). stdin and stderr
 * are inherited (stdin=None, stderr=None); stdout is a pipe. Prints "Current date: ...".
 * process_exited may come before the child's last output has been read (spec/
 * subprocess-transport.md; CPython too), so this program waits for both the exit and the
 * end of stdout (pipe_connection_lost(1)) before it closes the transport. Exit status 0
 * only if the date was read, the child exited with 0 and connection_lost ended the loop.
 */
#include <stdio.h>
#include <string.h>

#include "aiotp/aiotp.h"

typedef struct date_protocol {
    aiotp_loop *loop;
    bool exited;       /* the documentation's exit_future */
    bool stdout_done;  /* pipe_connection_lost(1) */
    bool lost;
    char output[256];  /* self.output */
    size_t len;
} date_protocol;

static void maybe_done(date_protocol *p)
{
    if (p->exited && p->stdout_done) {
        aiotp_loop_stop(p->loop); /* "await exit_future" returns */
    }
}

static int pipe_data_received(aiotp_transport *t, void *data, int fd, const void *buf,
                              size_t len)
{
    date_protocol *p = data;
    size_t room = sizeof(p->output) - 1 - p->len;
    (void)t;
    (void)fd;
    memcpy(p->output + p->len, buf, len < room ? len : room);
    p->len += len < room ? len : room;
    return 0;
}

static int pipe_connection_lost(aiotp_transport *t, void *data, int fd, int status)
{
    date_protocol *p = data;
    (void)t;
    (void)status;
    if (fd == 1) {
        p->stdout_done = true;
        maybe_done(p);
    }
    return 0;
}

static int process_exited(aiotp_transport *t, void *data)
{
    date_protocol *p = data;
    (void)t;
    p->exited = true;
    maybe_done(p);
    return 0;
}

static int connection_lost(aiotp_transport *t, void *data, int status)
{
    date_protocol *p = data;
    (void)t;
    (void)status;
    p->lost = true;
    aiotp_loop_stop(p->loop);
    return 0;
}

static const aiotp_protocol date_protocol_table = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_SUBPROCESS,
    .connection_lost = connection_lost,
    .pipe_data_received = pipe_data_received,
    .pipe_connection_lost = pipe_connection_lost,
    .process_exited = process_exited,
};

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &date_protocol_table;
    *data = arg;
    return 0;
}

typedef struct started {
    aiotp_loop *loop;
    int status;
    aiotp_transport *transport;
} started;

static void on_started(void *arg, int status, aiotp_transport *t)
{
    started *s = arg;
    s->status = status;
    s->transport = t;
    if (status == 0) {
        aiotp_transport_retain(t); /* for close() and get_returncode() at the end */
    } else {
        fprintf(stderr, "subprocess_exec failed: %s\n", aiotp_strerror(status));
        aiotp_loop_stop(s->loop);
    }
}

int main(void)
{
    const char *const argv[] = {"date", "+%Y-%m-%d %H:%M:%S", NULL};
    aiotp_subprocess_options opts;
    aiotp_loop *loop;
    date_protocol protocol;
    started s = {NULL, 1, NULL};
    int returncode = -1;
    int rc;

    memset(&protocol, 0, sizeof(protocol));
    rc = aiotp_loop_create(&loop, NULL);
    if (rc != 0) {
        fprintf(stderr, "loop: %s\n", aiotp_strerror(rc));
        return 1;
    }
    protocol.loop = loop;
    s.loop = loop;
    /* Create the subprocess controlled by the date protocol; redirect the standard output
       into a pipe (stdin=None, stderr=None: inherited). */
    aiotp_subprocess_options_init(&opts);
    opts.stdio[0].kind = AIOTP_STDIO_INHERIT;
    opts.stdio[2].kind = AIOTP_STDIO_INHERIT;
    rc = aiotp_loop_subprocess_exec(loop, factory, &protocol, argv, &opts, on_started, &s);
    if (rc == 0) {
        /* Wait for the subprocess exit using the process_exited() method of the protocol. */
        rc = aiotp_loop_run(loop);
    }
    if (s.transport != NULL) {
        /* Close the stdout pipe (and end the transport: connection_lost follows). */
        (void)aiotp_transport_close(s.transport);
        while (rc == 0 && !protocol.lost) {
            rc = aiotp_loop_run_once(loop);
        }
        (void)aiotp_transport_get_returncode(s.transport, &returncode);
        aiotp_transport_release(s.transport);
    }
    aiotp_loop_free(loop);
    /* Read the output which was collected by the pipe_data_received() method. */
    while (protocol.len > 0 && (protocol.output[protocol.len - 1] == '\n' ||
                                protocol.output[protocol.len - 1] == ' ')) {
        protocol.len--; /* .rstrip() */
    }
    protocol.output[protocol.len] = '\0';
    printf("Current date: %s\n", protocol.output);
    return rc == 0 && s.status == 0 && protocol.exited && protocol.lost && returncode == 0 &&
                   protocol.len > 0
               ? 0
               : 1;
}
