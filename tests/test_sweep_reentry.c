/* tests/test_sweep_reentry.c - the re-entrancy matrix (issue 9): every protocol callback
   (and the factory and the server's wait_closed completion) x every public call
   (transport, loop and server methods, including set_protocol to a table of each kind,
   add_/remove_reader/writer on the transport's own fd, server close in the factory,
   wait_closed in its own completion, loop_stop, close_all, close_clients,
   call_soon_threadsafe, starting and cancelling operations), each case a whole scripted
   session. The stream kinds: a server accepts one connection from the peer, flow control
   pauses and resumes, data arrives, the peer's EOF, close, server close and wait_closed.
   The datagram kind: a server (for the server calls), a UDP endpoint connected to the
   peer, flow control pauses and resumes, a datagram arrives, a receive error and a send
   error (error_received), close, server close and wait_closed. The action runs once, the
   first time its callback fires; the session goes on as far as the action lets it. Every
   case: the oracle accepts the trace (th_loop), connection_lost exactly once per
   connection_made, the wait_closed completion exactly once, every return code is one the
   headers document (and ENOTSUP / EPROTOKIND where the kind lacks the method or refuses
   the table), nothing leaks (memory, fds, sim fds).

   Table-driven: a row of `protos` bits says which protocol kinds (streaming, buffered,
   datagram; pipe and subprocess later) a callback or an action applies to, and `kinds`
   names each kind's session; a new kind adds its bit, its callbacks, its rows and its
   session script. Runs on poll (and epoll) and, with AIOTP_TEST_BACKEND=sim, on the
   simulated kernel (TH_MAIN_SIM). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netdb.h>
#include <time.h>

#include "harness.h"

enum {
    P_STREAMING = 1u,
    P_BUFFERED = 2u,
    P_DATAGRAM = 4u,
    P_STREAM = P_STREAMING | P_BUFFERED,
    P_ALL = P_STREAM | P_DATAGRAM
};

enum cb {
    CB_FACTORY, CB_MADE, CB_PAUSE, CB_RESUME, CB_DATA, CB_GET_BUFFER, CB_UPDATED, CB_EOF,
    CB_DGRAM, CB_ERROR, CB_LOST, CB_WAIT_CLOSED, N_CB
};

static const struct cb_row {
    const char *name;
    unsigned protos;
} cbs[N_CB] = {
    [CB_FACTORY] = {"factory", P_ALL},
    [CB_MADE] = {"connection_made", P_ALL},
    [CB_PAUSE] = {"pause_writing", P_ALL},
    [CB_RESUME] = {"resume_writing", P_ALL},
    [CB_DATA] = {"data_received", P_STREAMING},
    [CB_GET_BUFFER] = {"get_buffer", P_BUFFERED},
    [CB_UPDATED] = {"buffer_updated", P_BUFFERED},
    [CB_EOF] = {"eof_received", P_STREAM},
    [CB_DGRAM] = {"datagram_received", P_DATAGRAM},
    [CB_ERROR] = {"error_received", P_DATAGRAM},
    [CB_LOST] = {"connection_lost", P_ALL},
    [CB_WAIT_CLOSED] = {"wait_closed completion", P_ALL},
};

/* ---- the state of one case ------------------------------------------------------------ */

typedef struct rx {
    aiotp_loop *loop;
    aiotp_server *server;
    aiotp_transport *t;   /* the accepted transport (NULL before connection_made) */
    int tfd;              /* its socket */
    int peer;             /* the peer's socket */
    int port;
    unsigned proto;       /* P_STREAMING, P_BUFFERED or P_DATAGRAM: the first protocol */
    int fire_cb;          /* the callback that runs the action */
    int action;           /* index into actions[] */
    bool fired;
    int action_rc;
    int made, lost, lost_status, eofs, pauses, resumes, chunks, waited, factory_calls;
    int errors;           /* error_received calls */
    size_t rx;
    bool server_closed;
    bool in_factory;
    unsigned char buf[256];
    int user_fd_calls;
    bool fd_owned_at_fire; /* the transport's fd was still its own (before connection_lost
                              returned) when the action ran */
    int closed_all;        /* close_all's done calls (CLOSE-2: exactly once) */
    int op_done;           /* completions of the operations an action started and
                              cancelled (OP-1: exactly once each) */
    int op_started;
} rx;

static rx X;

/* ---- the actions --------------------------------------------------------------------------- */

static void fd_cb(aiotp_loop *loop, int fd, void *arg)
{
    (void)loop;
    (void)fd;
    (void)arg;
    X.user_fd_calls++;
}

static void soon_cb(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

static void nested_wait(void *arg, int status, aiotp_server *s)
{
    (void)arg;
    (void)status;
    (void)s;
    X.waited++;
}

static int connect_done_calls;
static void conn_done(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    (void)status;
    (void)t;
    connect_done_calls++;
}

static const aiotp_protocol p_streaming;
static const aiotp_protocol p_buffered;
static const aiotp_protocol p_datagram;
static const aiotp_protocol p_datagram2;

static int nop_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &p_streaming;
    *data = NULL;
    return 0;
}

static int a_write(void)
{
    return aiotp_transport_write(X.t, "re-entrant", 10);
}
static int a_write_big(void)
{
    static unsigned char big[100000];
    return aiotp_transport_write(X.t, big, sizeof(big));
}
static int a_writelines(void)
{
    aiotp_buf b[3] = {{"a", 1}, {"", 0}, {"bc", 2}};
    return aiotp_transport_writelines(X.t, b, 3);
}
/* the zero-copy write (DEV-81): streams have it (the done comes once, from the loop:
   the oracle's WRITE-BORROW-1), a datagram transport does not (ENOTSUP) */
static void borrowed_done(aiotp_transport *t, void *arg, int status)
{
    (void)t;
    (void)arg;
    (void)status;
}
static int a_write_borrowed(void)
{
    static const char bytes[] = "borrowed";
    return aiotp_transport_write_borrowed(X.t, bytes, 8, borrowed_done, NULL);
}
static int a_write_eof(void)
{
    return aiotp_transport_write_eof(X.t);
}
static int a_close(void)
{
    return aiotp_transport_close(X.t);
}
static int a_abort(void)
{
    return aiotp_transport_abort(X.t);
}
static int a_pause_reading(void)
{
    return aiotp_transport_pause_reading(X.t);
}
static int a_resume_reading(void)
{
    return aiotp_transport_resume_reading(X.t);
}
static int a_pause_resume(void)
{
    int rc = aiotp_transport_pause_reading(X.t);
    return rc != 0 ? rc : aiotp_transport_resume_reading(X.t);
}
static int a_limits_zero(void)
{
    return aiotp_transport_set_write_buffer_limits(X.t, 0, AIOTP_LIMIT_NONE);
}
static int a_limits_big(void)
{
    return aiotp_transport_set_write_buffer_limits(X.t, 1 << 20, AIOTP_LIMIT_NONE);
}
static int a_limits_bad(void)
{
    return aiotp_transport_set_write_buffer_limits(X.t, 10, 20);
}
static int a_set_streaming(void)
{
    return aiotp_transport_set_protocol(X.t, &p_streaming, &X);
}
static int a_set_buffered(void)
{
    return aiotp_transport_set_protocol(X.t, &p_buffered, &X);
}
static int a_set_datagram(void)
{
    return aiotp_transport_set_protocol(X.t, &p_datagram2, &X);
}
static int a_set_bad(void)
{
    return aiotp_transport_set_protocol(X.t, NULL, NULL);
}
static int a_queries(void)
{
    size_t lo = 0;
    size_t hi = 0;
    void *d = NULL;
    const aiotp_extra *x = aiotp_transport_get_extra_info(X.t, "peername", NULL);
    (void)x;
    (void)aiotp_transport_get_extra_info(X.t, "sockname", NULL);
    (void)aiotp_transport_get_extra_info(X.t, "socket", NULL);
    (void)aiotp_transport_get_extra_info(X.t, "nope", NULL);
    (void)aiotp_transport_is_closing(X.t);
    (void)aiotp_transport_is_reading(X.t);
    (void)aiotp_transport_can_write_eof(X.t);
    (void)aiotp_transport_get_write_buffer_size(X.t);
    (void)aiotp_transport_get_protocol(X.t, &d);
    (void)aiotp_transport_get_loop(X.t);
    (void)aiotp_transport_kind(X.t);
    return aiotp_transport_get_write_buffer_limits(X.t, &lo, &hi);
}
static int a_retain_release(void)
{
    aiotp_transport_retain(X.t);
    aiotp_transport_release(X.t);
    return 0;
}
static int a_sendto(void)
{
    return aiotp_transport_sendto(X.t, "x", 1, NULL, 0);
}
static int a_sendto_big(void)
{
    static unsigned char big[60000]; /* queued while sends would block: flow control */
    return aiotp_transport_sendto(X.t, big, sizeof(big), NULL, 0);
}
static int a_sendto_other(void)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(9);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return aiotp_transport_sendto(X.t, "x", 1, (struct sockaddr *)&a, sizeof(a));
}
static int a_sendto_error(void)
{
    int rc;
    th_f.send_errno = EPERM; /* error_received inside sendto */
    rc = aiotp_transport_sendto(X.t, "e", 1, NULL, 0);
    th_f.send_errno = 0;
    return rc;
}
static int a_add_reader(void)
{
    return aiotp_loop_add_reader(X.loop, X.tfd, fd_cb, NULL);
}
static int a_remove_reader(void)
{
    return aiotp_loop_remove_reader(X.loop, X.tfd);
}
static int a_add_writer(void)
{
    return aiotp_loop_add_writer(X.loop, X.tfd, fd_cb, NULL);
}
static int a_remove_writer(void)
{
    return aiotp_loop_remove_writer(X.loop, X.tfd);
}
static int a_loop_stop(void)
{
    aiotp_loop_stop(X.loop);
    return 0;
}
static int a_call_soon(void)
{
    return aiotp_loop_call_soon(X.loop, soon_cb, NULL, NULL);
}
static int a_call_later_cancel(void)
{
    aiotp_handle h = 0;
    int rc = aiotp_loop_call_later(X.loop, AIOTP_NS_PER_MS, soon_cb, NULL, &h);
    return rc != 0 ? rc : aiotp_loop_cancel(X.loop, h);
}
static int a_run_once(void)
{
    return aiotp_loop_run_once(X.loop); /* ERUNNING */
}
static int a_loop_free(void)
{
    aiotp_loop_free(X.loop); /* refused while running */
    return 0;
}
static int a_debug(void)
{
    aiotp_loop_set_debug(X.loop, !aiotp_loop_get_debug(X.loop));
    return 0;
}
static int a_wrap_own_fd(void)
{
    return aiotp_loop_connect_accepted_socket(X.loop, nop_factory, NULL, X.tfd, conn_done, NULL);
}
static int nop_dfactory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &p_datagram2;
    *data = NULL;
    return 0;
}
static int a_wrap_own_fd_dgram(void)
{
    aiotp_datagram_options o;
    aiotp_datagram_options_init(&o);
    o.sock = X.tfd;
    return aiotp_loop_create_datagram_endpoint(X.loop, nop_dfactory, NULL, NULL, 0, NULL, 0, &o,
                                               conn_done, NULL);
}
static int a_server_close(void)
{
    int rc = aiotp_server_close(X.server);
    if (rc == 0) {
        X.server_closed = true;
    }
    return rc;
}
static int a_wait_closed(void)
{
    return aiotp_server_wait_closed(X.server, nested_wait, NULL);
}
static int a_start_serving(void)
{
    return aiotp_server_start_serving(X.server);
}
static int a_server_queries(void)
{
    int fds[4];
    (void)aiotp_server_is_serving(X.server);
    (void)aiotp_server_get_sockets(X.server, fds, 4);
    (void)aiotp_server_active_connections(X.server);
    (void)aiotp_server_get_loop(X.server);
    return 0;
}
static int a_serve_forever(void)
{
    return aiotp_server_serve_forever(X.server); /* ERUNNING inside the loop */
}
static void all_closed(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    X.closed_all++;
}
static int a_close_all(bool abort)
{
    int rc = aiotp_loop_close_all(X.loop, abort, all_closed, NULL);
    if (rc == 0) {
        X.server_closed = true;
    }
    return rc;
}
static int a_close_all_close(void)
{
    return a_close_all(false);
}
static int a_close_all_abort(void)
{
    return a_close_all(true);
}
static int a_close_clients(void)
{
    return aiotp_server_close_clients(X.server);
}
static int a_abort_clients(void)
{
    return aiotp_server_abort_clients(X.server);
}
static int a_call_soon_threadsafe(void)
{
    return aiotp_loop_call_soon_threadsafe(X.loop, soon_cb, NULL);
}
static void op_cb(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    (void)t;
    if (status != AIOTP_ECANCELED) {
        th_fail(__FILE__, __LINE__, "a cancelled operation completed with %s",
                aiotp_err_name(status));
    }
    X.op_done++;
}
static void gai_cb(void *arg, int status, const struct addrinfo *res)
{
    (void)res;
    op_cb(arg, status, NULL);
}
/* a connect to the server and a lookup, each cancelled at once (OP-1) */
static int a_start_and_cancel(void)
{
    aiotp_connect_options o;
    aiotp_op op = 0;
    aiotp_op gop = 0;
    int rc;
    aiotp_connect_options_init(&o);
    o.op = &op;
    rc = aiotp_loop_create_connection(X.loop, nop_factory, NULL, "127.0.0.1", X.port, &o,
                                      op_cb, NULL);
    if (rc == 0) {
        X.op_started++;
        rc = aiotp_loop_cancel_op(X.loop, op);
    }
    if (rc == 0) {
        rc = aiotp_loop_getaddrinfo(X.loop, "127.0.0.1", "1", NULL, gai_cb, NULL, &gop);
    }
    if (rc == 0) {
        X.op_started++;
        rc = aiotp_loop_cancel_op(X.loop, gop);
    }
    return rc != 0 ? rc : aiotp_loop_cancel_op(X.loop, gop); /* twice: ENOENT */
}

/* protos: the kinds the call applies to; lacks: the kinds that do not have the method
   (it must return AIOTP_ENOTSUP, TRANSPORT-KIND-2); refuses: the kinds whose transport
   refuses the table (AIOTP_EPROTOKIND, PROTO-KIND-2). */
static const struct action_row {
    const char *name;
    int (*run)(void);
    unsigned protos;
    unsigned lacks;
    unsigned refuses;
} actions[] = {
    {"write", a_write, P_ALL, P_DATAGRAM, 0},
    {"write_big", a_write_big, P_STREAM, 0, 0},
    {"writelines", a_writelines, P_ALL, P_DATAGRAM, 0},
    {"write_borrowed", a_write_borrowed, P_ALL, P_DATAGRAM, 0},
    {"write_eof", a_write_eof, P_ALL, P_DATAGRAM, 0},
    {"close", a_close, P_ALL, 0, 0},
    {"abort", a_abort, P_ALL, 0, 0},
    {"pause_reading", a_pause_reading, P_ALL, 0, 0},
    {"resume_reading", a_resume_reading, P_ALL, 0, 0},
    {"pause_resume_reading", a_pause_resume, P_ALL, 0, 0},
    {"set_limits_high0", a_limits_zero, P_ALL, 0, 0},
    {"set_limits_big", a_limits_big, P_ALL, 0, 0},
    {"set_limits_invalid", a_limits_bad, P_ALL, 0, 0},
    {"set_protocol_streaming", a_set_streaming, P_ALL, 0, P_DATAGRAM},
    {"set_protocol_buffered", a_set_buffered, P_ALL, 0, P_DATAGRAM},
    {"set_protocol_datagram", a_set_datagram, P_ALL, 0, P_STREAM},
    {"set_protocol_null", a_set_bad, P_ALL, 0, 0},
    {"queries", a_queries, P_ALL, 0, 0},
    {"retain_release", a_retain_release, P_ALL, 0, 0},
    {"sendto", a_sendto, P_ALL, P_STREAM, 0},
    {"sendto_big", a_sendto_big, P_DATAGRAM, 0, 0},
    {"sendto_other_address", a_sendto_other, P_DATAGRAM, 0, 0},
    {"sendto_send_error", a_sendto_error, P_DATAGRAM, 0, 0},
    {"add_reader_own_fd", a_add_reader, P_ALL, 0, 0},
    {"remove_reader_own_fd", a_remove_reader, P_ALL, 0, 0},
    {"add_writer_own_fd", a_add_writer, P_ALL, 0, 0},
    {"remove_writer_own_fd", a_remove_writer, P_ALL, 0, 0},
    {"loop_stop", a_loop_stop, P_ALL, 0, 0},
    {"call_soon", a_call_soon, P_ALL, 0, 0},
    {"call_later_cancel", a_call_later_cancel, P_ALL, 0, 0},
    {"run_once", a_run_once, P_ALL, 0, 0},
    {"loop_free", a_loop_free, P_ALL, 0, 0},
    {"set_debug", a_debug, P_ALL, 0, 0},
    {"wrap_own_fd", a_wrap_own_fd, P_ALL, 0, 0},
    {"wrap_own_fd_as_datagram", a_wrap_own_fd_dgram, P_ALL, 0, 0},
    {"server_close", a_server_close, P_ALL, 0, 0},
    {"wait_closed", a_wait_closed, P_ALL, 0, 0},
    {"start_serving", a_start_serving, P_ALL, 0, 0},
    {"server_queries", a_server_queries, P_ALL, 0, 0},
    {"serve_forever", a_serve_forever, P_ALL, 0, 0},
    {"close_all", a_close_all_close, P_ALL, 0, 0},
    {"close_all_abort", a_close_all_abort, P_ALL, 0, 0},
    {"close_clients", a_close_clients, P_ALL, 0, 0},
    {"abort_clients", a_abort_clients, P_ALL, 0, 0},
    {"call_soon_threadsafe", a_call_soon_threadsafe, P_ALL, 0, 0},
    {"start_and_cancel_ops", a_start_and_cancel, P_ALL, 0, 0},
};
#define N_ACTIONS (sizeof(actions) / sizeof(actions[0]))

/* Codes the headers document for these calls. */
static bool documented(int rc)
{
    return rc >= 0 || rc == AIOTP_ECLOSED || rc == AIOTP_ESTATE || rc == AIOTP_EBUSY ||
           rc == AIOTP_EINVAL || rc == AIOTP_ENOTSUP || rc == AIOTP_ERUNNING ||
           rc == AIOTP_ENOENT || rc == AIOTP_EBADF || rc == AIOTP_EPROTOKIND;
}

static void fire(int cb)
{
    if (!X.fired && X.fire_cb == cb) {
        X.fired = true;
        X.fd_owned_at_fire = X.tfd >= 0 && X.lost < X.made;
        X.action_rc = actions[X.action].run();
        if (!documented(X.action_rc)) {
            th_fail(__FILE__, __LINE__, "%s in %s returned %s", actions[X.action].name,
                    cbs[cb].name, aiotp_err_name(X.action_rc));
        }
        if (X.t != NULL && (actions[X.action].lacks & X.proto) != 0) {
            CHECK_ERR(X.action_rc, AIOTP_ENOTSUP); /* TRANSPORT-KIND-2 */
        }
        if (X.t != NULL && (actions[X.action].refuses & X.proto) != 0) {
            CHECK_ERR(X.action_rc, AIOTP_EPROTOKIND); /* PROTO-KIND-2 */
        }
    }
}

/* ---- the protocols ---------------------------------------------------------------------------- */

static int p_made(aiotp_transport *t, void *d)
{
    const aiotp_extra *x = aiotp_transport_get_extra_info(t, "socket", NULL);
    (void)d;
    X.t = t;
    X.tfd = x != NULL ? x->u.fd : -1;
    X.made++;
    aiotp_transport_retain(t); /* released at the end of the case */
    fire(CB_MADE);
    return 0;
}
static int p_lost(aiotp_transport *t, void *d, int status)
{
    (void)t;
    (void)d;
    X.lost++;
    X.lost_status = status;
    fire(CB_LOST);
    return 0;
}
static int p_pause(aiotp_transport *t, void *d)
{
    (void)t;
    (void)d;
    X.pauses++;
    fire(CB_PAUSE);
    return 0;
}
static int p_resume(aiotp_transport *t, void *d)
{
    (void)t;
    (void)d;
    X.resumes++;
    fire(CB_RESUME);
    return 0;
}
static int p_data(aiotp_transport *t, void *d, const void *buf, size_t n)
{
    (void)t;
    (void)d;
    (void)buf;
    X.chunks++;
    X.rx += n;
    fire(CB_DATA);
    return 0;
}
static int p_eof(aiotp_transport *t, void *d)
{
    (void)t;
    (void)d;
    X.eofs++;
    fire(CB_EOF);
    return 1; /* keep the transport open */
}
static int p_get_buffer(aiotp_transport *t, void *d, ptrdiff_t hint, void **buf, size_t *len)
{
    (void)t;
    (void)d;
    (void)hint;
    fire(CB_GET_BUFFER);
    *buf = X.buf;
    *len = sizeof(X.buf);
    return 0;
}
static int p_updated(aiotp_transport *t, void *d, size_t n)
{
    (void)t;
    (void)d;
    X.chunks++;
    X.rx += n;
    fire(CB_UPDATED);
    return 0;
}

static int p_dgram(aiotp_transport *t, void *d, const void *buf, size_t n,
                   const struct sockaddr *addr, socklen_t alen)
{
    (void)t;
    (void)d;
    (void)buf;
    (void)addr;
    (void)alen;
    X.chunks++;
    X.rx += n;
    fire(CB_DGRAM);
    return 0;
}
static int p_error(aiotp_transport *t, void *d, int status)
{
    (void)t;
    (void)d;
    (void)status;
    X.errors++;
    fire(CB_ERROR);
    return 0;
}

static const aiotp_protocol p_streaming = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = p_made,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .data_received = p_data,
    .eof_received = p_eof,
};

static const aiotp_protocol p_buffered = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_BUFFERED,
    .connection_made = p_made,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .eof_received = p_eof,
    .get_buffer = p_get_buffer,
    .buffer_updated = p_updated,
};

/* two datagram tables with the same callbacks: the first protocol and set_protocol's
   target */
#define DGRAM_TABLE                                                                    \
    {                                                                                  \
        .size = sizeof(aiotp_protocol), .kind = AIOTP_PROTOCOL_DATAGRAM,               \
        .connection_made = p_made, .connection_lost = p_lost,                          \
        .pause_writing = p_pause, .resume_writing = p_resume,                          \
        .datagram_received = p_dgram, .error_received = p_error,                       \
    }
static const aiotp_protocol p_datagram = DGRAM_TABLE;
static const aiotp_protocol p_datagram2 = DGRAM_TABLE;

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    X.factory_calls++;
    fire(CB_FACTORY);
    *proto = X.proto == P_BUFFERED ? &p_buffered
                                   : (X.proto == P_DATAGRAM ? &p_datagram : &p_streaming);
    *data = &X;
    return 0;
}

static void on_server(void *arg, int status, aiotp_server *s)
{
    (void)arg;
    CHECK_ERR(status, 0);
    X.server = s;
}

static void on_wait(void *arg, int status, aiotp_server *s)
{
    (void)arg;
    (void)s;
    CHECK_ERR(status, 0);
    X.waited++;
    fire(CB_WAIT_CLOSED);
}

/* ---- the session ----------------------------------------------------------------------------- */

static void tick(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

/* One pass, the wait bounded to 2 ms (virtual on the sim). */
static void pass(void)
{
    aiotp_handle h = 0;
    int rc;
    (void)aiotp_loop_call_later(X.loop, 2 * AIOTP_NS_PER_MS, tick, NULL, &h);
    rc = aiotp_loop_run_once(X.loop);
    (void)aiotp_loop_cancel(X.loop, h);
    CHECK_ERR(rc, 0);
}

static void peer_drain(void)
{
    static unsigned char sink[1 << 18];
    if (X.peer >= 0) {
        (void)th_drain_fd(X.peer, sink, sizeof(sink));
    }
}

static void write_block(aiotp_loop *loop, void *arg)
{
    static unsigned char block[65536];
    (void)loop;
    (void)arg;
    if (X.t != NULL) {
        (void)aiotp_transport_set_write_buffer_limits(X.t, 2048, 512);
        (void)aiotp_transport_write(X.t, block, sizeof(block));
    }
}

static bool gone(void)
{
    return X.made > 0 && X.lost == X.made;
}

/* ---- the stream session: a connection accepted by the server ----------------------------- */

static void stream_session(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int i;

    CHECK_ERR(aiotp_server_get_sockname(X.server, 0, (struct sockaddr *)&a, &len), 0);
    X.peer = th_peer_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_INT(th_peer_connect(X.peer, (struct sockaddr *)&a, sizeof(a)), 0);
    for (i = 0; i < 10 && X.made == 0 && X.factory_calls == 0; i++) {
        pass();
    }
    for (i = 0; i < 3 && X.made == 0; i++) {
        pass();
    }
    if (X.made > 0 && !gone()) {
        /* flow control: a small socket buffer and a low high-water mark */
        th_small_buffers(X.tfd);
        /* from a loop callback, as every other call: pause_writing then runs inside the
           loop, like all the callbacks of the matrix */
        CHECK_ERR(aiotp_loop_call_soon(X.loop, write_block, NULL, NULL), 0);
        pass();
        for (i = 0; i < 200 && !gone() && aiotp_transport_get_write_buffer_size(X.t) > 0; i++) {
            peer_drain();
            pass();
        }
        /* data from the peer */
        if (X.peer >= 0) {
            (void)th_peer_send(X.peer, "hello", 5, MSG_DONTWAIT);
        }
        for (i = 0; i < 4 && !gone() && X.chunks == 0; i++) {
            pass();
        }
        /* the peer's EOF */
        if (X.peer >= 0) {
            (void)th_peer_shutdown(X.peer, SHUT_WR);
        }
        for (i = 0; i < 4 && !gone() && X.eofs == 0; i++) {
            pass();
        }
        /* close, and wait for connection_lost (the peer reads everything) */
        (void)aiotp_transport_resume_reading(X.t);
        (void)aiotp_transport_close(X.t);
        for (i = 0; i < 300 && !gone(); i++) {
            peer_drain();
            pass();
        }
        CHECK(gone());
    }
}

/* ---- the datagram session: a UDP endpoint connected to the peer --------------------------- */

static bool dgram_done_called;

static void dgram_done(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    (void)status;
    (void)t;
    dgram_done_called = true;
}

/* From a loop callback: four datagrams while sends would block, over a high-water mark of
   2048: queued, pause_writing inside sendto; the drain in the next pass resumes. */
static void send_queue(aiotp_loop *loop, void *arg)
{
    static unsigned char d[1000];
    int i;
    (void)loop;
    (void)arg;
    if (X.t != NULL && !gone()) {
        (void)aiotp_transport_set_write_buffer_limits(X.t, 2048, 512);
        th_f.send_eagain = true;
        for (i = 0; i < 4; i++) {
            (void)aiotp_transport_sendto(X.t, d, sizeof(d), NULL, 0);
        }
        th_f.send_eagain = false;
    }
}

/* From a loop callback: a send that fails (error_received inside sendto). */
static void send_error(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    if (X.t != NULL && !gone()) {
        th_f.send_errno = EPERM;
        (void)aiotp_transport_sendto(X.t, "e", 1, NULL, 0);
        th_f.send_errno = 0;
    }
}

/* The peer sends one datagram to the transport. */
static void peer_sendto_transport(const char *text)
{
    const aiotp_extra *x;
    if (X.peer < 0 || X.t == NULL || gone()) {
        return;
    }
    x = aiotp_transport_get_extra_info(X.t, "sockname", NULL);
    if (x != NULL && x->kind == AIOTP_EXTRA_ADDR) {
        (void)th_peer_sendto(X.peer, text, strlen(text), MSG_DONTWAIT, x->u.addr.addr,
                             x->u.addr.len);
    }
}

static void dgram_session(void)
{
    struct sockaddr_storage pa;
    socklen_t plen = sizeof(pa);
    int i;

    dgram_done_called = false;
    th_udp_socket(AF_INET, &X.peer, &pa, &plen);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(
                  X.loop, factory, NULL, "127.0.0.1", 0, "127.0.0.1",
                  ntohs(((struct sockaddr_in *)(void *)&pa)->sin_port), NULL, dgram_done, NULL),
              0);
    for (i = 0; i < 10 && X.made == 0 && !dgram_done_called; i++) {
        pass();
    }
    if (X.made > 0 && !gone()) {
        /* flow control */
        CHECK_ERR(aiotp_loop_call_soon(X.loop, send_queue, NULL, NULL), 0);
        pass();
        for (i = 0; i < 50 && !gone() && aiotp_transport_get_write_buffer_size(X.t) > 0; i++) {
            peer_drain();
            pass();
        }
        /* a datagram from the peer */
        peer_sendto_transport("hello");
        for (i = 0; i < 4 && !gone() && X.chunks == 0; i++) {
            pass();
        }
        /* a receive error (the datagram behind it arrives next) */
        peer_sendto_transport("after the error");
        th_f.recv_errno = ECONNREFUSED;
        for (i = 0; i < 4 && !gone() && X.errors == 0; i++) {
            pass();
        }
        th_f.recv_errno = 0;
        /* a send error, inside sendto in a loop callback */
        CHECK_ERR(aiotp_loop_call_soon(X.loop, send_error, NULL, NULL), 0);
        pass();
        /* close, and wait for connection_lost */
        (void)aiotp_transport_resume_reading(X.t);
        (void)aiotp_transport_close(X.t);
        for (i = 0; i < 300 && !gone(); i++) {
            peer_drain();
            pass();
        }
        CHECK(gone());
    }
}

/* ---- the kinds ------------------------------------------------------------------------------ */

static const struct kind_row {
    unsigned proto;
    const char *name;
    void (*session)(void);
} kinds[] = {
    {P_STREAMING, "streaming", stream_session},
    {P_BUFFERED, "buffered", stream_session},
    {P_DATAGRAM, "datagram", dgram_session},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static const struct kind_row *kind_of(unsigned proto)
{
    size_t k;
    for (k = 0; k < N_KINDS; k++) {
        if (kinds[k].proto == proto) {
            return &kinds[k];
        }
    }
    return NULL;
}

static bool is_fd_action(int (*run)(void))
{
    return run == a_add_reader || run == a_add_writer || run == a_remove_reader ||
           run == a_remove_writer || run == a_wrap_own_fd || run == a_wrap_own_fd_dgram;
}

static void run_case(unsigned proto, int cb, int action)
{
    int i;

    memset(&X, 0, sizeof(X));
    X.peer = -1;
    X.tfd = -1;
    X.proto = proto;
    X.fire_cb = cb;
    X.action = action;
    connect_done_calls = 0;
    X.loop = th_loop();
    aiotp_loop_set_exception_handler(X.loop, th_exc_record, NULL);

    /* the server (the stream kinds' peer connects to it; every kind calls its methods) */
    CHECK_ERR(aiotp_loop_create_server(X.loop, factory, NULL, "127.0.0.1", 0, NULL, on_server,
                                       NULL),
              0);
    for (i = 0; i < 5 && X.server == NULL; i++) {
        pass();
    }
    if (X.server == NULL) {
        return;
    }
    aiotp_server_retain(X.server);
    {
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);
        CHECK_ERR(aiotp_server_get_sockname(X.server, 0, (struct sockaddr *)&sa, &salen), 0);
        X.port = ntohs(sa.sin_port); /* the operations an action starts connect to it */
    }
    kind_of(proto)->session();
    th_f.send_eagain = false; /* (an action may have stopped a session half-way) */
    th_f.send_errno = 0;
    th_f.recv_errno = 0;
    /* the server closes; wait_closed completes */
    (void)aiotp_server_close(X.server);
    CHECK_ERR(aiotp_server_wait_closed(X.server, on_wait, NULL), 0);
    for (i = 0; i < 10 && X.waited == 0; i++) {
        pass();
    }
    if (X.peer >= 0) {
        th_peer_close(X.peer);
        X.peer = -1;
    }
    for (i = 0; i < 3; i++) {
        pass();
    }
    CHECK_INT(X.lost, X.made);
    CHECK(X.made <= 1);
    CHECK(X.waited >= 1);
    CHECK_INT(X.op_done, X.op_started);
    if (X.fired && (actions[X.action].run == a_close_all_close ||
                    actions[X.action].run == a_close_all_abort)) {
        CHECK_INT(X.closed_all, 1);
    }
    if (is_fd_action(actions[X.action].run)) {
        if (X.fd_owned_at_fire && actions[X.action].run == a_wrap_own_fd_dgram &&
            proto != P_DATAGRAM) {
            CHECK_ERR(X.action_rc, AIOTP_EINVAL); /* DGRAM-EP-6: not a datagram socket */
            CHECK_INT(X.user_fd_calls, 0);
        } else if (X.fd_owned_at_fire) {
            CHECK_ERR(X.action_rc, AIOTP_EBUSY); /* LOOP-8, METH-8, DGRAM-EP-6 */
            CHECK_INT(X.user_fd_calls, 0);
        } else if (X.action_rc == 0 && X.tfd >= 0) {
            /* the fd was closed and its number free: the user watched a closed fd */
            (void)aiotp_loop_remove_reader(X.loop, X.tfd);
            (void)aiotp_loop_remove_writer(X.loop, X.tfd);
        }
    }
    if (X.t != NULL) {
        aiotp_transport_release(X.t);
    }
    aiotp_server_release(X.server);
    th_loop_free(X.loop);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every (callback, action) for one protocol kind. */
static void matrix(unsigned proto)
{
    int cb;
    size_t act;
    int cases = 0;
    int fired = 0;
    int failed = 0;
    double t0 = now_s();
    for (cb = 0; cb < N_CB; cb++) {
        if ((cbs[cb].protos & proto) == 0) {
            continue;
        }
        for (act = 0; act < N_ACTIONS; act++) {
            int before = th_failures();
            if ((actions[act].protos & proto) == 0) {
                continue;
            }
            if (getenv("RX_VERBOSE") != NULL) {
                fprintf(stderr, "case: %s inside %s\n", actions[act].name, cbs[cb].name);
            }
            run_case(proto, cb, (int)act);
            cases++;
            fired += X.fired;
            if (th_failures() != before) {
                fprintf(stderr, "  ^ case: %s inside %s (%s protocol)\n", actions[act].name,
                        cbs[cb].name, kind_of(proto)->name);
                if (++failed > 10) {
                    return;
                }
            }
        }
    }
    printf("re-entrancy matrix (%s protocol, %s): %d cases (callbacks x public calls), the "
           "action ran in %d; %.1f s\n",
           kind_of(proto)->name, th_sim_mode() ? "sim" : "real sockets",
           cases, fired, now_s() - t0);
}

TEST(streaming_protocol)
{
    matrix(P_STREAMING);
}

TEST(buffered_protocol)
{
    matrix(P_BUFFERED);
}

TEST(datagram_protocol)
{
    matrix(P_DATAGRAM);
}

static const th_case cases[] = {
    T(streaming_protocol,
      "PROTO-BASE-2 PROTO-STREAM-2 LOOP-8 METH-8 SRV-10 BASE-PROTO-1 CLOSE-1 CLOSE-2 OP-1"),
    T(buffered_protocol,
      "PROTO-BASE-2 PROTO-BUF-3 LOOP-8 METH-8 SRV-10 BASE-PROTO-1 CLOSE-1 CLOSE-2 OP-1"),
    T(datagram_protocol, "DGRAM-LOST-1 DGRAM-CB-1 DGRAM-SEND-3 DGRAM-RECV-2 DGRAM-EP-6 LOOP-8 "
                         "METH-8 TRANSPORT-KIND-2 PROTO-KIND-2 BASE-PROTO-1 CLOSE-1 CLOSE-2 "
                         "OP-1"),
};

TH_MAIN_SIM(cases)
