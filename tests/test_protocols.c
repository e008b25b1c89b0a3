/* tests/test_protocols.c - the streaming protocol contract: connection_made and
   connection_lost, defaults, failing callbacks, data_received and eof_received
   (spec/rules.md, "Protocols": PROTO-BASE-*, PROTO-STREAM-*). */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ----------------------------------------------------------------------- */

/* PROTO-STREAM-2 / PROTO-BASE-3: the callbacks of transport id follow
   connection_made [data_received]* [eof_received]? connection_lost; pause/resume_writing
   may come anywhere between the first and the last. `complete`: connection_lost must
   have been delivered. */
static void check_sm_streaming(unsigned id, bool complete, int line)
{
    const char *p = th_callbacks(id);
    int state = 0; /* 0 nothing, 1 connected, 2 eof called, 3 eof returned, 4 lost */
    int lineno = 0;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        char l[256];
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        bool ok = true;
        if (len >= sizeof(l)) {
            len = sizeof(l) - 1;
        }
        memcpy(l, p, len);
        l[len] = '\0';
        lineno++;
        if (state == 4) {
            ok = false; /* nothing after connection_lost */
        } else if (th_starts(l, "cb connection_made")) {
            ok = state == 0;
            state = 1;
        } else if (th_starts(l, "cb data_received ")) {
            ok = state == 1 && strstr(l, " n=0 ") == NULL;
        } else if (th_starts(l, "cb eof_received")) {
            ok = state == 1;
            state = 2;
        } else if (th_starts(l, "ret eof_received")) {
            ok = state == 2;
            state = 3;
        } else if (th_starts(l, "cb pause_writing") || th_starts(l, "cb resume_writing")) {
            ok = state >= 1 && state <= 3; /* also from a write inside eof_received */
        } else if (th_starts(l, "cb connection_lost")) {
            ok = state == 1 || state == 3;
            state = 4;
        } else {
            ok = false;
        }
        if (!ok) {
            th_fail(__FILE__, line, "t%u: callback %d \"%s\" breaks the state machine:\n%s",
                    id, lineno, l, th_callbacks(id));
            return;
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    if (complete && state != 4) {
        th_fail(__FILE__, line, "t%u: connection_lost missing:\n%s", id, th_callbacks(id));
    }
}
#define CHECK_SM(id) check_sm_streaming((id), true, __LINE__)

/* th_callbacks(id) without the pause_writing/resume_writing lines (their sizes depend
   on the kernel's buffers). */
/* What an on_lost hook saw. */
typedef struct lost_probe {
    int fd;            /* "socket" inside connection_lost */
    bool fd_open;      /* th_fd_is_open(fd) inside connection_lost */
    bool closing;      /* is_closing() inside */
    const aiotp_protocol *proto; /* get_protocol() inside */
    uint64_t iter;
    int ret;           /* what the hook returns */
} lost_probe;

static int probe_lost(th_rec *r, aiotp_transport *t)
{
    lost_probe *p = r->user;
    const aiotp_extra *x = aiotp_transport_get_extra_info(t, "socket", NULL);
    void *d = NULL;
    p->fd = x != NULL && x->kind == AIOTP_EXTRA_FD ? x->u.fd : -2;
    p->fd_open = p->fd >= 0 && th_fd_is_open(p->fd);
    p->closing = aiotp_transport_is_closing(t);
    p->proto = aiotp_transport_get_protocol(t, &d);
    p->iter = aiotp_loop_iteration(aiotp_transport_get_loop(t));
    return p->ret;
}

static bool fd_is_closed(int fd)
{
    return !th_fd_is_open(fd);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    size_t i;
    for (i = 0; i < n; i++) {
        p[i] = (unsigned char)((i * 131u + seed + (i >> 9)) & 0xff);
    }
}

/* ---- PROTO-BASE-1 ------------------------------------------------------------------ */

typedef struct made_probe {
    uint64_t iter;
    long recv_calls;
    bool reading;
    bool closing;
} made_probe;

static int probe_made(th_rec *r, aiotp_transport *t)
{
    made_probe *m = r->user;
    m->iter = aiotp_loop_iteration(aiotp_transport_get_loop(t));
    m->recv_calls = th_f.recv_calls;
    m->reading = aiotp_transport_is_reading(t);
    m->closing = aiotp_transport_is_closing(t);
    return 0;
}

/* connection_made once, first, in the pass after the transport was made, before any
   read although the data (and EOF) were queued on the peer beforehand (E11a). */
TEST(made_first_next_pass_before_read)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    made_probe m = {0, -1, false, true};
    int sv[2];
    th_expect e;
    uint64_t open_iter;

    th_socketpair(sv);
    CHECK_INT(th_peer_write(sv[1], "hello world!", 12), 12);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    r->on_made = probe_made;
    r->user = &m;
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    open_iter = th_iter_of("t1 open ", 0);
    CHECK(open_iter > 0);
    CHECK_INT(th_iter_of("t1 cb connection_made", 0), open_iter + 1);
    CHECK_INT(m.iter, open_iter + 1);
    CHECK_INT(r->made, 1);
    CHECK_INT(m.recv_calls, 0); /* nothing was read before connection_made */
    CHECK_INT(m.reading, 1);
    CHECK_INT(m.closing, 0);
    CHECK_INT(r->chunks, 0);
    th_run_until(loop, th_is_lost, r, 10);
    /* data in the pass after connection_made, EOF in the next one, lost after that */
    CHECK_INT(th_iter_of("t1 cb data_received", 0), open_iter + 2);
    CHECK_INT(th_iter_of("t1 cb eof_received", 0), open_iter + 3);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), open_iter + 4);
    th_run_passes(loop, 3);
    CHECK_INT(r->made, 1);
    CHECK_INT(r->lost, 1);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "hello world!", 12);
    th_ex_line(&e, "cb eof_received");
    th_ex_line(&e, "ret eof_received 0");
    th_ex_line(&e, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(1), e.s);
    CHECK_SM(1);
    th_peer_close(sv[1]);
}

/* ---- PROTO-BASE-2: connection_lost once, last, on every path ----------------------- */

enum lost_path {
    LP_CLOSE,
    LP_ABORT,
    LP_PEER_EOF,
    LP_PEER_RESET,
    LP_FATAL_CALLBACK,
    LP_CLOSE_THEN_ABORT
};

static int abort_in_data(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_abort(t), 0);
    return 0;
}

static void lost_path(enum lost_path path, int want_status)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    lost_probe p;
    int sv[2];
    int fd;
    aiotp_transport *t;
    const aiotp_extra *x;
    static unsigned char big[400000];
    static unsigned char sink[65536];

    memset(&p, 0, sizeof(p));
    p.fd = -3;
    if (path == LP_PEER_RESET) {
        th_tcp_pair(sv);
    } else {
        th_socketpair(sv);
    }
    fd = sv[0];
    r->on_lost = probe_lost;
    r->user = &p;
    if (path == LP_FATAL_CALLBACK) {
        r->data_ret = -9;
    }
    if (path == LP_CLOSE_THEN_ABORT) {
        th_small_buffers(sv[0]);
    }
    t = th_wrap(loop, sv[0], &th_streaming, r);
    switch (path) {
    case LP_CLOSE:
        CHECK_ERR(aiotp_transport_close(t), 0);
        break;
    case LP_ABORT:
        CHECK_ERR(aiotp_transport_abort(t), 0);
        break;
    case LP_PEER_EOF:
        CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
        break;
    case LP_PEER_RESET:
        th_set_rst(sv[1]);
        th_peer_close(sv[1]);
        sv[1] = -1;
        break;
    case LP_FATAL_CALLBACK:
        CHECK_INT(th_peer_write(sv[1], "boom", 4), 4);
        break;
    case LP_CLOSE_THEN_ABORT:
        fill(big, sizeof(big), 3);
        CHECK_ERR(aiotp_transport_write(t, big, sizeof(big)), 0);
        CHECK(aiotp_transport_get_write_buffer_size(t) > 0);
        CHECK_ERR(aiotp_transport_close(t), 0);
        th_run_once(loop);
        CHECK_INT(r->lost, 0); /* still flushing: the peer does not read */
        CHECK_ERR(aiotp_transport_abort(t), 0);
        CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
        CHECK_ERR(aiotp_transport_abort(t), AIOTP_ECLOSED);
        break;
    }
    th_run_until(loop, th_is_lost, r, 10);
    if (sv[1] >= 0) {
        (void)th_drain_fd(sv[1], sink, sizeof(sink));
        (void)th_peer_send(sv[1], "late", 4, MSG_NOSIGNAL); /* never delivered */
    }
    th_run_passes(loop, 3);
    CHECK_INT(r->made, 1);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, want_status);
    /* the socket was open inside connection_lost, and is closed after it */
    CHECK_INT(p.fd, fd);
    CHECK(p.fd_open);
    CHECK_INT(p.closing, 1);
    CHECK(p.proto == &th_streaming);
    CHECK(fd_is_closed(fd));
    x = aiotp_transport_get_extra_info(t, "socket", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_FD && x->u.fd == -1);
    CHECK(aiotp_transport_get_protocol(t, NULL) == NULL);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    /* the last callback is connection_lost */
    CHECK_SM(1);
    CHECK_INT(th_count_lines("t1 cb connection_lost"), 1);
    if (path == LP_FATAL_CALLBACK) {
        CHECK_INT(th_exc.n, 1);
    } else {
        CHECK_INT(th_exc.n, 0);
    }
    if (sv[1] >= 0) {
        th_peer_close(sv[1]);
    }
}

TEST(lost_after_close)
{
    lost_path(LP_CLOSE, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
}

TEST(lost_after_abort)
{
    lost_path(LP_ABORT, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
}

TEST(lost_after_peer_eof)
{
    lost_path(LP_PEER_EOF, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb eof_received\nret eof_received 0\n"
                               "cb connection_lost status=0\n");
}

TEST(lost_after_peer_reset)
{
    lost_path(LP_PEER_RESET, -ECONNRESET);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=ECONNRESET\n");
}

TEST(lost_after_fatal_callback)
{
    th_expect e;
    lost_path(LP_FATAL_CALLBACK, -9);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "boom", 4);
    th_ex_linef(&e, "cb connection_lost status=%s", aiotp_err_name(-9));
    CHECK_STR(th_callbacks(1), e.s);
}

TEST(lost_after_close_then_abort)
{
    lost_path(LP_CLOSE_THEN_ABORT, 0);
    CHECK_STR(th_cbs_no_flow(1), "cb connection_made\ncb connection_lost status=0\n");
    CHECK_INT(th_count_lines("t1 cb pause_writing"), 1);
    CHECK_INT(th_count_lines("t1 cb resume_writing"), 0); /* WRITE-ABORT-2 */
}

/* ---- PROTO-BASE-4: a NULL-filled table --------------------------------------------- */

static const aiotp_protocol null_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
};

static int null_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (*(int *)arg)++;
    *proto = &null_proto;
    *data = NULL;
    return 0;
}

typedef struct done_rec {
    int calls;
    int status;
    aiotp_transport *t;
} done_rec;

static void done_cb(void *arg, int status, aiotp_transport *t)
{
    done_rec *d = arg;
    d->calls++;
    d->status = status;
    d->t = t;
    if (t != NULL) {
        aiotp_transport_retain(t);
    }
}

static bool done_called(void *arg)
{
    return ((done_rec *)arg)->calls > 0;
}

static bool trace_has_lost1(void *arg)
{
    (void)arg;
    return th_count_lines("t1 cb connection_lost") > 0;
}

/* Only .size and .kind: every callback takes its default; eof_received's default
   (false) closes the transport. pause_writing (NULL) is survived too. */
TEST(null_table_defaults)
{
    aiotp_loop *loop = th_exc_loop();
    aiotp_connect_options o;
    done_rec d = {0, 1, NULL};
    int factory_calls = 0;
    int sv[2];
    static unsigned char big[300000];
    static unsigned char got[300000];
    unsigned char c;
    size_t n = 0;
    th_expect e;

    fill(big, sizeof(big), 7);
    th_socketpair(sv);
    th_small_buffers(sv[0]);
    aiotp_connect_options_init(&o);
    o.sock = sv[0];
    CHECK_ERR(aiotp_loop_create_connection(loop, null_factory, &factory_calls, NULL, 0, &o,
                                           done_cb, &d), 0);
    th_run_until(loop, done_called, &d, 10);
    CHECK_INT(factory_calls, 1);
    CHECK_ERR(d.status, 0);
    CHECK(d.t != NULL);
    if (d.t == NULL) {
        th_peer_close(sv[1]);
        return;
    }
    CHECK(aiotp_transport_get_protocol(d.t, NULL) == &null_proto);
    CHECK_ERR(aiotp_transport_write(d.t, big, sizeof(big)), 0); /* pause_writing: NULL */
    CHECK(aiotp_transport_get_write_buffer_size(d.t) > 65536);
    CHECK_INT(th_peer_write(sv[1], "data", 4), 4);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_passes(loop, 3);
    /* data (ignored), then EOF: the default closes; the buffer is flushed first */
    CHECK_INT(aiotp_transport_is_closing(d.t), 1);
    while (th_count_lines("t1 cb connection_lost") == 0 && n < sizeof(got)) {
        n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
        th_run_once(loop);
    }
    th_run_until(loop, trace_has_lost1, NULL, 20);
    n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    CHECK_SIZE(n, sizeof(big));
    CHECK(memcmp(got, big, sizeof(big)) == 0);
    CHECK_INT(th_peer_recv(sv[1], &c, 1, 0), 0); /* the transport closed its socket */
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "data", 4);
    th_ex_line(&e, "cb eof_received");
    th_ex_line(&e, "ret eof_received 0");
    th_ex_line(&e, "cb connection_lost status=0");
    CHECK_STR(th_cbs_no_flow(1), e.s);
    CHECK_INT(th_count_lines("t1 cb pause_writing"), 1);
    CHECK_SM(1);
    CHECK_INT(th_exc.n, 0);
    CHECK(aiotp_transport_get_protocol(d.t, NULL) == NULL);
    aiotp_transport_release(d.t);
    th_peer_close(sv[1]);
}

/* ---- PROTO-BASE-5 ------------------------------------------------------------------ */

/* A failing connection_made goes to the handler; the transport carries on and data is
   still delivered (E22a, O10). */
TEST(made_fails_handler_data_still_delivered)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    th_expect e;

    th_socketpair(sv);
    r->made_ret = -5;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, "Exception in callback protocol.connection_made()");
    CHECK_ERR(th_exc.status, -5);
    CHECK(th_exc.t == t);
    CHECK(th_exc.proto == &th_streaming);
    CHECK(th_exc.pdata == r);
    CHECK_INT(th_exc.iter, th_iter_of("t1 cb connection_made", 0));
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_INT(aiotp_transport_is_reading(t), 1);
    CHECK_INT(th_peer_write(sv[1], "ping", 4), 4);
    th_run_once(loop);
    CHECK_INT(r->chunks, 1);
    CHECK_ERR(aiotp_transport_write(t, "pong", 4), 0);
    {
        char buf[4];
        th_read_exact(sv[1], buf, 4);
        CHECK(memcmp(buf, "pong", 4) == 0);
    }
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost_status, 0);
    CHECK_INT(th_exc.n, 1);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "ping", 4);
    th_ex_line(&e, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(1), e.s);
    th_peer_close(sv[1]);
}

/* A failing connection_lost goes to the handler; the socket is closed anyway (E22b). */
TEST(lost_fails_socket_closed_anyway)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    lost_probe p;
    int sv[2];
    int fd;
    aiotp_transport *t;
    const aiotp_extra *x;

    memset(&p, 0, sizeof(p));
    p.ret = -6;
    th_socketpair(sv);
    fd = sv[0];
    r->on_lost = probe_lost;
    r->user = &p;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, "Exception in callback protocol.connection_lost()");
    CHECK_ERR(th_exc.status, -6);
    CHECK(th_exc.t == t);
    CHECK_INT(th_exc.iter, p.iter); /* right after the callback, same pass */
    CHECK(p.fd_open);
    CHECK_INT(p.fd, fd);
    CHECK(fd_is_closed(fd));
    x = aiotp_transport_get_extra_info(t, "socket", NULL);
    CHECK(x != NULL && x->u.fd == -1);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 1);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    th_peer_close(sv[1]);
}

/* ---- PROTO-STREAM-4 ----------------------------------------------------------------- */

/* data_received failing: handler, then connection_lost(that status) next pass (E05e). */
TEST(data_received_fails_fatal)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    uint64_t dr;
    th_expect e;

    th_socketpair(sv);
    r->data_ret = -9;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(th_peer_write(sv[1], "dr boom", 7), 7);
    th_run_once(loop);
    CHECK_INT(r->chunks, 1);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, "Fatal error: protocol.data_received() call failed.");
    CHECK_ERR(th_exc.status, -9);
    CHECK(th_exc.t == t);
    CHECK(th_exc.proto == &th_streaming);
    CHECK(th_exc.pdata == r);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_INT(r->lost, 0);
    CHECK_INT(th_peer_write(sv[1], "more", 4), 4); /* PROTO-STREAM-3: not delivered */
    th_run_until(loop, th_is_lost, r, 5);
    dr = th_iter_of("t1 cb data_received", 0);
    CHECK_INT(th_exc.iter, dr);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), dr + 1);
    CHECK_ERR(r->lost_status, -9);
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 1);
    CHECK_INT(th_exc.n, 1);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "dr boom", 7);
    th_ex_linef(&e, "cb connection_lost status=%s", aiotp_err_name(-9));
    CHECK_STR(th_callbacks(1), e.s);
    th_ex_init(&e);
    th_ex_linef(&e, "ret data_received %s", aiotp_err_name(-9));
    CHECK_STR(th_trace_lines("t1 ret data_received", true), e.s);
    th_peer_close(sv[1]);
}

/* eof_received failing: handler, then connection_lost(that status) next pass (E04e). */
TEST(eof_received_fails_fatal)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    uint64_t er;
    th_expect e;

    th_socketpair(sv);
    r->eof_ret = -3;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_until(loop, th_is_lost, r, 5);
    er = th_iter_of("t1 cb eof_received", 0);
    CHECK(er > 0);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, "Fatal error: protocol.eof_received() call failed.");
    CHECK_ERR(th_exc.status, -3);
    CHECK(th_exc.t == t);
    CHECK_INT(th_exc.iter, er);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), er + 1);
    CHECK_ERR(r->lost_status, -3);
    CHECK_INT(r->eofs, 1);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_line(&e, "cb eof_received");
    th_ex_linef(&e, "ret eof_received %s", aiotp_err_name(-3));
    th_ex_linef(&e, "cb connection_lost status=%s", aiotp_err_name(-3));
    CHECK_STR(th_callbacks(1), e.s);
    CHECK_SM(1);
    th_peer_close(sv[1]);
}

/* ---- PROTO-STREAM-1 ------------------------------------------------------------------ */

#define BULK (1u << 20)

/* 1 MiB from the peer in uneven chunks: every data_received is non-empty and the bytes
   arrive in order and complete. */
static void bulk_one(aiotp_loop *loop, bool tcp, unsigned id)
{
    th_rec *r = th_rec_new();
    static unsigned char src[BULK];
    int sv[2];
    size_t sent = 0;
    unsigned step = 1;
    int guard = 0;
    char prefix[32];
    char want[96];

    fill(src, sizeof(src), id);
    if (tcp) {
        th_tcp_pair(sv);
    } else {
        th_socketpair(sv);
    }
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    while (sent < BULK && guard++ < 100000) {
        size_t chunk = 1 + (step * 7919u) % 70000u;
        ssize_t k;
        step++;
        if (chunk > BULK - sent) {
            chunk = BULK - sent;
        }
        k = th_peer_send(sv[1], src + sent, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k > 0) {
            sent += (size_t)k;
        }
        if (step % 3 == 0 || k <= 0) {
            th_run_once(loop);
        }
    }
    CHECK_SIZE(sent, BULK);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_until(loop, th_is_lost, r, 200);
    CHECK_SIZE(r->rx_len, BULK);
    CHECK(r->rx_len == BULK && memcmp(r->rx, src, BULK) == 0);
    snprintf(prefix, sizeof(prefix), "t%u cb data_received n=", id);
    CHECK_INT(th_count_lines(prefix), r->chunks);
    snprintf(prefix, sizeof(prefix), "t%u cb data_received n=0 ", id);
    CHECK_INT(th_count_lines(prefix), 0);
    snprintf(want, sizeof(want), "total=%u sum=%08x\n", BULK, (unsigned)th_sum(TH_SUM_INIT, src, BULK));
    {
        /* the last data_received line carries the total and checksum of all bytes */
        const char *cbs = th_callbacks(id);
        const char *last = NULL;
        const char *q = cbs;
        while ((q = strstr(q, "cb data_received ")) != NULL) {
            last = q;
            q++;
        }
        CHECK(last != NULL && strstr(last, want) != NULL &&
              strstr(last, want) < strstr(last, "cb eof_received"));
    }
    CHECK(r->chunks > 1);
    CHECK_INT(r->eofs, 1);
    CHECK_INT(r->lost_status, 0);
    check_sm_streaming(id, true, __LINE__);
    th_peer_close(sv[1]);
}

TEST(data_in_order_complete)
{
    aiotp_loop *loop = th_loop();
    bulk_one(loop, false, 1);
    bulk_one(loop, true, 2);
}

/* ---- PROTO-STREAM-2: the state machine on several paths at once -------------------- */

static int close_in_data(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_close(t), 0);
    return 0;
}

static int close_in_eof(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_close(t), 0);
    return 1;
}

TEST(state_machine_paths)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r[6];
    int sv[6][2];
    aiotp_transport *t[6];
    int i;
    th_expect e;

    for (i = 0; i < 6; i++) {
        r[i] = th_rec_new();
        th_socketpair(sv[i]);
    }
    /* t1: data, EOF (false) -> CM DR ER CL */
    /* t2: data, close in data_received -> CM DR CL (EOF never delivered) */
    r[1]->on_data = close_in_data;
    /* t3: EOF kept open (1), then close -> CM DR ER CL */
    r[2]->eof_ret = 1;
    /* t4: abort in data_received -> CM DR CL */
    r[3]->on_data = abort_in_data;
    /* t5: data_received fails -> CM DR CL(-9) */
    r[4]->data_ret = -9;
    /* t6: close() inside eof_received, returning 1 -> CM DR ER CL */
    r[5]->on_eof = close_in_eof;
    for (i = 0; i < 6; i++) {
        t[i] = th_wrap(loop, sv[i][0], &th_streaming, r[i]);
        CHECK_INT(th_peer_write(sv[i][1], "abc", 3), 3);
    }
    th_run_once(loop);
    for (i = 0; i < 6; i++) {
        /* t2, t4, t5 are closed already: the peer may see EPIPE */
        (void)th_peer_send(sv[i][1], "def", 3, MSG_NOSIGNAL);
        (void)th_peer_shutdown(sv[i][1], SHUT_WR);
    }
    th_run_passes(loop, 4);
    CHECK_INT(r[2]->lost, 0);
    CHECK_INT(aiotp_transport_is_closing(t[2]), 0);
    CHECK_ERR(aiotp_transport_close(t[2]), 0);
    th_run_passes(loop, 3);
    for (i = 0; i < 6; i++) {
        CHECK_INT(r[i]->made, 1);
        CHECK_INT(r[i]->lost, 1);
        check_sm_streaming((unsigned)i + 1, true, __LINE__);
        th_peer_close(sv[i][1]);
    }
    CHECK_INT(r[0]->chunks, 2);
    CHECK_INT(r[0]->eofs, 1);
    CHECK_INT(r[1]->chunks, 1);
    CHECK_INT(r[1]->eofs, 0);
    CHECK_INT(r[2]->chunks, 2);
    CHECK_INT(r[2]->eofs, 1);
    CHECK_INT(r[3]->chunks, 1);
    CHECK_INT(r[3]->eofs, 0);
    CHECK_INT(r[4]->chunks, 1);
    CHECK_ERR(r[4]->lost_status, -9);
    CHECK_INT(r[5]->eofs, 1);
    CHECK_INT(r[5]->lost_status, 0);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "abc", 3);
    th_ex_data(&e, "data_received", "def", 3);
    th_ex_line(&e, "cb eof_received");
    th_ex_line(&e, "ret eof_received 1");
    th_ex_line(&e, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(6), e.s);
    CHECK_INT(th_exc.n, 1); /* only t5's failure */
}

/* ---- PROTO-STREAM-5 ------------------------------------------------------------------ */

/* eof_received at most once: after it returned true, the fd is never read again, even
   across pause_reading()/resume_reading() (DEV-2). */
TEST(eof_received_at_most_once)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    long recvs;
    th_expect e;

    th_socketpair(sv);
    r->eof_ret = 1;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(th_peer_write(sv[1], "x", 1), 1);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_passes(loop, 3);
    CHECK_INT(r->eofs, 1);
    recvs = th_f.recv_calls;
    CHECK_INT(recvs, 2); /* one for the data, one for the EOF */
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    th_run_passes(loop, 3);
    CHECK_INT(r->eofs, 1);
    CHECK_INT(th_f.recv_calls, recvs);
    CHECK_INT(r->lost, 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->eofs, 1);
    CHECK_INT(th_count_lines("t1 cb eof_received"), 1);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "x", 1);
    th_ex_line(&e, "cb eof_received");
    th_ex_line(&e, "ret eof_received 1");
    th_ex_line(&e, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(1), e.s);
    th_peer_close(sv[1]);
}

/* ---- PROTO-STREAM-6 ------------------------------------------------------------------ */

typedef struct eof_probe {
    int write_rc;
    bool closing;
} eof_probe;

static int reply_in_eof(th_rec *r, aiotp_transport *t)
{
    eof_probe *p = r->user;
    p->write_rc = aiotp_transport_write(t, "reply-after-eof", 15);
    p->closing = aiotp_transport_is_closing(t);
    return 0;
}

/* eof_received returning true: still open and writable; the peer reads a reply written
   after EOF; close() then gives connection_lost (E04a). */
TEST(eof_true_keeps_open_writable)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    eof_probe p = {1, true};
    int sv[2];
    aiotp_transport *t;
    char buf[32];
    unsigned char c;
    th_expect e;

    th_socketpair(sv);
    r->eof_ret = 1;
    r->on_eof = reply_in_eof;
    r->user = &p;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(th_peer_write(sv[1], "hello", 5), 5);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r->eofs, 1);
    CHECK_ERR(p.write_rc, 0);
    CHECK_INT(p.closing, 0);
    th_run_passes(loop, 3);
    CHECK_INT(r->lost, 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    th_read_exact(sv[1], buf, 15);
    CHECK(memcmp(buf, "reply-after-eof", 15) == 0);
    CHECK_ERR(aiotp_transport_write(t, "second", 6), 0);
    th_read_exact(sv[1], buf, 6);
    CHECK(memcmp(buf, "second", 6) == 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost_status, 0);
    CHECK_INT(th_peer_recv(sv[1], &c, 1, 0), 0);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "hello", 5);
    th_ex_line(&e, "cb eof_received");
    th_ex_line(&e, "ret eof_received 1");
    th_ex_line(&e, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(1), e.s);
    th_peer_close(sv[1]);
}

/* ---- PROTO-STREAM-7 ------------------------------------------------------------------ */

static unsigned char eof_big[300000];

static int big_reply_in_eof(th_rec *r, aiotp_transport *t)
{
    eof_probe *p = r->user;
    p->write_rc = aiotp_transport_write(t, eof_big, sizeof(eof_big));
    p->closing = aiotp_transport_get_write_buffer_size(t) > 0; /* queued */
    return 0;
}

typedef struct eof_state {
    eof_probe p; /* first: big_reply_in_eof sees an eof_probe */
    size_t size_at_lost;
} eof_state;

static int size_at_lost(th_rec *r, aiotp_transport *t)
{
    ((eof_state *)r->user)->size_at_lost = aiotp_transport_get_write_buffer_size(t);
    return 0;
}

/* eof_received returning false: the transport closes, but what was written inside it
   is flushed first (E04b) - here far more than the kernel takes at once. */
TEST(eof_false_closes_after_flush)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    eof_state st = {{1, false}, 12345};
    int sv[2];
    aiotp_transport *t;
    static unsigned char got[sizeof(eof_big)];
    size_t n = 0;
    unsigned char c;

    fill(eof_big, sizeof(eof_big), 11);
    th_socketpair(sv);
    th_small_buffers(sv[0]);
    r->on_eof = big_reply_in_eof;
    r->on_lost = size_at_lost;
    r->user = &st.p;
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_passes(loop, 2);
    CHECK_INT(r->eofs, 1);
    CHECK_ERR(st.p.write_rc, 0);
    CHECK_INT(st.p.closing, 1); /* data was queued inside eof_received */
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_INT(r->lost, 0);
    while (r->lost == 0 && n < sizeof(got)) {
        n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
        th_run_once(loop);
    }
    th_run_until(loop, th_is_lost, r, 100);
    n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    CHECK_SIZE(n, sizeof(eof_big));
    CHECK(memcmp(got, eof_big, sizeof(eof_big)) == 0);
    CHECK_SIZE(st.size_at_lost, 0);
    CHECK_INT(r->lost_status, 0);
    CHECK_INT(th_peer_recv(sv[1], &c, 1, 0), 0);
    CHECK_STR(th_cbs_no_flow(1), "cb connection_made\ncb eof_received\nret eof_received 0\n"
                              "cb connection_lost status=0\n");
    CHECK_SM(1);
    th_peer_close(sv[1]);
}

/* The small reply of E04b: kernel takes it whole, connection_lost next pass. */
TEST(eof_false_small_reply)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    eof_probe p = {1, true};
    int sv[2];
    char buf[16];
    unsigned char c;
    uint64_t er;

    th_socketpair(sv);
    r->on_eof = reply_in_eof;
    r->user = &p;
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(th_peer_write(sv[1], "hello", 5), 5);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_until(loop, th_is_lost, r, 6);
    CHECK_ERR(p.write_rc, 0);
    CHECK_INT(p.closing, 0); /* inside eof_received, before it returned false */
    er = th_iter_of("t1 cb eof_received", 0);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), er + 1);
    th_read_exact(sv[1], buf, 15);
    CHECK(memcmp(buf, "reply-after-eof", 15) == 0);
    CHECK_INT(th_peer_recv(sv[1], &c, 1, 0), 0);
    th_peer_close(sv[1]);
}

/* ---- PROTO-STREAM-3 ------------------------------------------------------------------ */

static int close_in_made(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_close(t), 0);
    return 0;
}

/* Data queued on the peer before the transport exists, close() in connection_made: no
   data_received, not even a read. */
TEST(no_data_after_close_in_made)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];

    th_socketpair(sv);
    CHECK_INT(th_peer_write(sv[1], "queued", 6), 6);
    r->on_made = close_in_made;
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    th_run_until(loop, th_is_lost, r, 5);
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 0);
    CHECK_INT(th_f.recv_calls, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    th_peer_close(sv[1]);
}

/* abort() in data_received: the rest of the data and the EOF are never delivered. */
TEST(no_data_after_abort_in_data)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    th_expect e;

    th_socketpair(sv);
    r->on_data = abort_in_data;
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(th_peer_write(sv[1], "first", 5), 5);
    th_run_once(loop);
    CHECK_INT(r->chunks, 1);
    CHECK_INT(th_peer_write(sv[1], "second", 6), 6);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_until(loop, th_is_lost, r, 5);
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 1);
    CHECK_INT(r->eofs, 0);
    CHECK_INT(th_f.recv_calls, 1);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "first", 5);
    th_ex_line(&e, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(1), e.s);
    th_peer_close(sv[1]);
}

/* close() in data_received with the EOF already queued: no eof_received; after
   eof_received returned true no more reads at all. */
TEST(no_eof_after_close_in_data)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    th_expect e;

    th_socketpair(sv);
    CHECK_INT(th_peer_write(sv[1], "all", 3), 3);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    r->on_data = close_in_data;
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    th_run_until(loop, th_is_lost, r, 5);
    th_run_passes(loop, 2);
    CHECK_INT(r->chunks, 1);
    CHECK_INT(r->eofs, 0);
    CHECK_INT(th_f.recv_calls, 1);
    th_ex_init(&e);
    th_ex_line(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "all", 3);
    th_ex_line(&e, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(1), e.s);
    th_peer_close(sv[1]);
}

static const th_case cases[] = {
    T(made_first_next_pass_before_read, "PROTO-BASE-1 PROTO-BASE-3 PROTO-STREAM-2"),
    T(lost_after_close, "PROTO-BASE-2 PROTO-STREAM-2"),
    T(lost_after_abort, "PROTO-BASE-2 PROTO-STREAM-2"),
    T(lost_after_peer_eof, "PROTO-BASE-2 PROTO-STREAM-2 PROTO-STREAM-7"),
    T(lost_after_peer_reset, "PROTO-BASE-2 PROTO-STREAM-2 STREAM-ERR-1"),
    T(lost_after_fatal_callback, "PROTO-BASE-2 PROTO-STREAM-3 PROTO-STREAM-4"),
    T(lost_after_close_then_abort, "PROTO-BASE-2 WRITE-ABORT-3"),
    T(null_table_defaults, "PROTO-BASE-4 PROTO-STREAM-7"),
    T(made_fails_handler_data_still_delivered, "PROTO-BASE-5"),
    T(lost_fails_socket_closed_anyway, "PROTO-BASE-5 PROTO-BASE-2"),
    T(data_received_fails_fatal, "PROTO-STREAM-4 PROTO-STREAM-3"),
    T(eof_received_fails_fatal, "PROTO-STREAM-4 PROTO-STREAM-5"),
    T(data_in_order_complete, "PROTO-STREAM-1 PROTO-STREAM-2 READ-1"),
    T(state_machine_paths, "PROTO-STREAM-2 PROTO-BASE-3 PROTO-STREAM-3"),
    T(eof_received_at_most_once, "PROTO-STREAM-5 READ-5"),
    T(eof_true_keeps_open_writable, "PROTO-STREAM-6 BASE-CLOSING-1"),
    T(eof_false_closes_after_flush, "PROTO-STREAM-7 BASE-CLOSE-2"),
    T(eof_false_small_reply, "PROTO-STREAM-7"),
    T(no_data_after_close_in_made, "PROTO-STREAM-3 STREAM-ORDER-2"),
    T(no_data_after_abort_in_data, "PROTO-STREAM-3 WRITE-ABORT-1"),
    T(no_eof_after_close_in_data, "PROTO-STREAM-3 BASE-CLOSE-1"),
};
TH_MAIN_SIM(cases)
