/* tests/test_bad_input.c - bad input and injected failures: NULL handles and
   arguments, calls after close, oversized data, invalid fds, failing allocations and
   failing system calls (spec/rules.md, "Bad input and failures", BAD-1..BAD-5; also
   WRITE-WRITE-8, PROTO-BUF-4). */
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ----------------------------------------------------------------------- */

static void noop_cb(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

static void noop_fd(aiotp_loop *loop, int fd, void *arg)
{
    (void)loop;
    (void)fd;
    (void)arg;
}

static int factory_calls;
static th_rec *factory_rec;

/* hands out th_streaming with factory_rec (a fresh recorder if NULL) */
static int rec_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    factory_calls++;
    *proto = &th_streaming;
    *data = factory_rec != NULL ? factory_rec : th_rec_new();
    return 0;
}

typedef struct done_rec {
    int calls;
    int status;
    aiotp_transport *t;
    aiotp_server *s;
} done_rec;

static void conn_done(void *arg, int status, aiotp_transport *t)
{
    done_rec *d = arg;
    d->calls++;
    d->status = status;
    d->t = t;
}

static void srv_done(void *arg, int status, aiotp_server *s)
{
    done_rec *d = arg;
    d->calls++;
    d->status = status;
    d->s = s;
}

static bool is_done(void *arg)
{
    return ((done_rec *)arg)->calls > 0;
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* Exception handler that counts. */
typedef struct exc_count {
    int calls;
    int status;
    char message[160];
} exc_count;

static void count_exc(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    exc_count *e = arg;
    (void)loop;
    e->calls++;
    e->status = ctx->status;
    snprintf(e->message, sizeof(e->message), "%s", ctx->message);
}

/* ---- BAD-1: NULL handles and arguments ----------------------------------------------- */

TEST(null_loop_arguments)
{
    aiotp_loop *loop = th_loop();
    aiotp_loop *out = (aiotp_loop *)&out; /* must be reset to NULL on failure */
    aiotp_handle h = 0;
    aiotp_exception_context ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.message = "x";
    CHECK_ERR(aiotp_loop_create(NULL, NULL), AIOTP_EINVAL);
    aiotp_loop_free(NULL);
    CHECK_ERR(aiotp_loop_run(NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_run_once(NULL), AIOTP_EINVAL);
    aiotp_loop_stop(NULL);
    CHECK_INT(aiotp_loop_is_running(NULL), 0);
    CHECK_INT(aiotp_loop_iteration(NULL), 0);
    CHECK_INT(aiotp_loop_time(NULL), 0);
    aiotp_loop_set_debug(NULL, true);
    CHECK_INT(aiotp_loop_get_debug(NULL), 0);

    CHECK_ERR(aiotp_loop_call_soon(NULL, noop_cb, NULL, &h), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_call_soon(loop, NULL, NULL, &h), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_call_later(NULL, 0, noop_cb, NULL, &h), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_call_later(loop, 0, NULL, NULL, &h), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_call_at(NULL, 0, noop_cb, NULL, &h), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_call_at(loop, 0, NULL, NULL, &h), AIOTP_EINVAL);
    CHECK(h == 0); /* no handle was given out */
    CHECK_ERR(aiotp_loop_cancel(NULL, 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_cancel(loop, 0), AIOTP_ENOENT);

    CHECK_ERR(aiotp_loop_add_reader(NULL, 0, noop_fd, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_writer(NULL, 0, noop_fd, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_reader(loop, 0, NULL, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_add_writer(loop, 0, NULL, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_remove_reader(NULL, 0), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_remove_writer(NULL, 0), AIOTP_EINVAL);

    aiotp_loop_set_exception_handler(NULL, NULL, NULL);
    aiotp_loop_call_exception_handler(NULL, &ctx);
    aiotp_loop_call_exception_handler(loop, NULL);
    aiotp_loop_default_exception_handler(loop, NULL);
    aiotp_loop_set_trace(NULL, NULL, NULL);

    /* options with a bad size: refused, *out cleared */
    {
        aiotp_loop_options o;
        memset(&o, 0, sizeof(o));
        o.size = 0;
        CHECK_ERR(aiotp_loop_create(&out, &o), AIOTP_EINVAL);
        CHECK(out == NULL);
        out = (aiotp_loop *)&out;
        o.size = sizeof(o) + 1;
        CHECK_ERR(aiotp_loop_create(&out, &o), AIOTP_EINVAL);
        CHECK(out == NULL);
        o.size = sizeof(o) - 1;
        CHECK_ERR(aiotp_loop_create(&out, &o), AIOTP_EINVAL);
        CHECK(out == NULL);
    }
    CHECK(aiotp_err_name(12345) != NULL);
    CHECK(aiotp_strerror(-99999) != NULL);
    CHECK_STR(aiotp_err_name(AIOTP_ECLOSED), "ECLOSED");
    /* the loop is unharmed */
    CHECK_ERR(aiotp_loop_call_soon(loop, noop_cb, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
}

/* A backend / syscall table / allocator that is not usable is refused. */
static void *bad_alloc(void *ctx, size_t n)
{
    (void)ctx;
    (void)n;
    return NULL;
}

TEST(loop_create_bad_tables)
{
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    aiotp_backend be = *aiotp_backend_poll();
    aiotp_syscalls sys = *aiotp_syscalls_posix();
    aiotp_allocator al = *aiotp_allocator_default();

    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    be.size = sizeof(be) - 1;
    o.backend = &be;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    CHECK(loop == NULL);
    be = *aiotp_backend_poll();
    be.wait = NULL;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    o.backend = NULL;
    sys.size = 8;
    o.syscalls = &sys;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    o.syscalls = NULL;
    al.free = NULL;
    o.allocator = &al;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    al = *aiotp_allocator_default();
    al.alloc = bad_alloc; /* always fails */
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_ENOMEM);
    CHECK(loop == NULL);
    /* NULL options: the defaults */
    CHECK_ERR(aiotp_loop_create(&loop, NULL), 0);
    CHECK(loop != NULL);
    aiotp_loop_free(loop);
}

TEST(null_transport_arguments)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_extra dflt;
    size_t lo = 1;
    size_t hi = 1;
    void *data = &data;
    aiotp_buf bufs[2];
    int sv[2];
    char got[16];
    aiotp_transport *t;
    long sends;

    memset(&dflt, 0, sizeof(dflt));
    /* NULL transport */
    CHECK(aiotp_transport_get_extra_info(NULL, "peername", &dflt) == &dflt);
    CHECK(aiotp_transport_get_extra_info(NULL, "peername", NULL) == NULL);
    CHECK_ERR(aiotp_transport_close(NULL), AIOTP_EINVAL);
    CHECK_INT(aiotp_transport_is_closing(NULL), 0); /* BAD-1: neutral value */
    CHECK_ERR(aiotp_transport_set_protocol(NULL, &th_streaming, r), AIOTP_EINVAL);
    CHECK(aiotp_transport_get_protocol(NULL, &data) == NULL);
    CHECK(data == NULL);
    CHECK(aiotp_transport_get_protocol(NULL, NULL) == NULL);
    CHECK(aiotp_transport_get_loop(NULL) == NULL);
    CHECK_INT(aiotp_transport_is_reading(NULL), 0);
    CHECK_ERR(aiotp_transport_pause_reading(NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_resume_reading(NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_abort(NULL), AIOTP_EINVAL);
    CHECK_INT(aiotp_transport_can_write_eof(NULL), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(NULL), 0);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(NULL, &lo, &hi), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(NULL, 10, 5), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write(NULL, "x", 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write(NULL, NULL, 0), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_writelines(NULL, bufs, 0), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write_eof(NULL), AIOTP_EINVAL);
    aiotp_transport_retain(NULL);
    aiotp_transport_release(NULL);

    /* NULL arguments on a live transport: refused, nothing changes */
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    sends = th_f.send_calls + th_f.sendmsg_calls;
    CHECK(aiotp_transport_get_extra_info(t, NULL, &dflt) == &dflt);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(t, NULL, &hi), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(t, &lo, NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write(t, NULL, 5), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_write(t, NULL, 0), 0); /* empty: nothing to do */
    CHECK_ERR(aiotp_transport_writelines(t, NULL, 2), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_writelines(t, NULL, 0), 0);
    bufs[0].base = "ab";
    bufs[0].len = 2;
    bufs[1].base = NULL;
    bufs[1].len = 3;
    CHECK_ERR(aiotp_transport_writelines(t, bufs, 2), AIOTP_EINVAL); /* nothing written */
    bufs[1].len = 0; /* NULL with length 0 is allowed */
    CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, sends);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_SIZE(th_drain_fd(sv[1], got, sizeof(got)), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK(aiotp_transport_get_protocol(t, &data) == &th_streaming);
    CHECK(data == r);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(t, &lo, &hi), 0);
    CHECK_SIZE(lo, 16384);
    CHECK_SIZE(hi, 65536);
    /* still fully usable */
    CHECK_ERR(aiotp_transport_writelines(t, bufs, 2), 0);
    th_read_exact(sv[1], got, 2);
    CHECK(memcmp(got, "ab", 2) == 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    close(sv[1]);
}

TEST(null_server_arguments)
{
    aiotp_loop *loop = th_loop();
    aiotp_connect_options co;
    aiotp_server_options so;
    done_rec d;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fds[2];
    char longpath[200];

    memset(&d, 0, sizeof(d));
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    aiotp_connect_options_init(NULL);
    aiotp_server_options_init(NULL);
    aiotp_connect_options_init(&co);
    aiotp_server_options_init(&so);
    factory_calls = 0;
    factory_rec = NULL;

    CHECK_ERR(aiotp_loop_create_connection(NULL, rec_factory, NULL, "127.0.0.1", 1, NULL,
                                           conn_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, NULL, NULL, "127.0.0.1", 1, NULL, conn_done,
                                           &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, "127.0.0.1", 1, NULL,
                                           NULL, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, NULL, 1, NULL, conn_done,
                                           &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, "", 1, NULL, conn_done,
                                           &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, "127.0.0.1", -1, NULL,
                                           conn_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, "127.0.0.1", 65536, NULL,
                                           conn_done, &d), AIOTP_EINVAL);
    co.size = sizeof(co) - 1;
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, "127.0.0.1", 1, &co,
                                           conn_done, &d), AIOTP_EINVAL);
    aiotp_connect_options_init(&co);
    co.family = AF_UNIX;
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, "127.0.0.1", 1, &co,
                                           conn_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(NULL, rec_factory, NULL, "/tmp/x", NULL,
                                                conn_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, rec_factory, NULL, NULL, NULL,
                                                conn_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, rec_factory, NULL, "", NULL, conn_done,
                                                &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, rec_factory, NULL, longpath, NULL,
                                                conn_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, NULL, NULL, "/tmp/x", NULL, conn_done,
                                                &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(NULL, rec_factory, NULL, 0, conn_done, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, NULL, NULL, 0, conn_done, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, rec_factory, NULL, 0, NULL, &d),
              AIOTP_EINVAL);

    CHECK_ERR(aiotp_loop_create_server(NULL, rec_factory, NULL, "127.0.0.1", 0, NULL,
                                       srv_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_server(loop, NULL, NULL, "127.0.0.1", 0, NULL, srv_done, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 0, NULL, NULL,
                                       &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 65536, NULL,
                                       srv_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", -1, NULL,
                                       srv_done, &d), AIOTP_EINVAL);
    so.size = 1;
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 0, &so,
                                       srv_done, &d), AIOTP_EINVAL);
    aiotp_server_options_init(&so);
    so.backlog = -1;
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 0, &so,
                                       srv_done, &d), AIOTP_EINVAL);
    aiotp_server_options_init(&so);
    so.family = 12345;
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 0, &so,
                                       srv_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_server(loop, rec_factory, NULL, NULL, NULL, srv_done,
                                            &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_server(loop, rec_factory, NULL, longpath, NULL, srv_done,
                                            &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_server(NULL, rec_factory, NULL, "/tmp/x", NULL, srv_done,
                                            &d), AIOTP_EINVAL);

    CHECK_ERR(aiotp_server_close(NULL), AIOTP_EINVAL);
    CHECK_INT(aiotp_server_is_serving(NULL), 0);
    CHECK_ERR(aiotp_server_start_serving(NULL), AIOTP_EINVAL);
    CHECK_ERR(aiotp_server_wait_closed(NULL, srv_done, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_server_serve_forever(NULL), AIOTP_EINVAL);
    CHECK_SIZE(aiotp_server_get_sockets(NULL, fds, 2), 0);
    CHECK_ERR(aiotp_server_get_sockname(NULL, 0, (struct sockaddr *)&ss, &len), AIOTP_EINVAL);
    CHECK_SIZE(aiotp_server_active_connections(NULL), 0);
    CHECK(aiotp_server_get_loop(NULL) == NULL);
    aiotp_server_retain(NULL);
    aiotp_server_release(NULL);

    /* METH-1: a refused call never calls its completion */
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 0);
    CHECK_INT(factory_calls, 0);
}

/* ---- PROTO-BUF-4, BASE-PROTO-2: bad protocol tables ------------------------------------- */

static int dummy_get_buffer(aiotp_transport *t, void *data, ptrdiff_t hint, void **buf,
                            size_t *len)
{
    (void)t;
    (void)data;
    (void)hint;
    (void)buf;
    (void)len;
    return -1;
}

static const aiotp_protocol *bad_table;

static int bad_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    factory_calls++;
    *proto = bad_table;
    *data = NULL;
    return 0;
}

TEST(bad_protocol_tables)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_rec *r2 = th_rec_new();
    aiotp_protocol bad[5];
    aiotp_protocol ok_min;
    aiotp_protocol ok_buf;
    aiotp_connect_options co;
    aiotp_transport *t;
    done_rec d;
    void *data = NULL;
    int sv[2];
    int ws[2];
    size_t i;

    for (i = 0; i < 5; i++) {
        bad[i] = th_streaming;
    }
    bad[0].size = sizeof(aiotp_protocol) - 1;
    bad[1].size = 0;
    bad[2].kind = (aiotp_protocol_kind)0;
    bad[3].kind = (aiotp_protocol_kind)99;
    bad[4] = th_buffered;
    bad[4].get_buffer = NULL; /* PROTO-BUF-4 */

    memset(&ok_min, 0, sizeof(ok_min)); /* every callback NULL: the defaults */
    ok_min.size = sizeof(ok_min);
    ok_min.kind = AIOTP_PROTOCOL_STREAMING;
    memset(&ok_buf, 0, sizeof(ok_buf));
    ok_buf.size = sizeof(ok_buf);
    ok_buf.kind = AIOTP_PROTOCOL_BUFFERED;
    ok_buf.get_buffer = dummy_get_buffer;

    CHECK_ERR(aiotp_protocol_validate(NULL), AIOTP_EINVAL);
    for (i = 0; i < 5; i++) {
        CHECK_ERR(aiotp_protocol_validate(&bad[i]), AIOTP_EINVAL);
    }
    CHECK_ERR(aiotp_protocol_validate(&th_streaming), 0);
    CHECK_ERR(aiotp_protocol_validate(&th_buffered), 0);
    CHECK_ERR(aiotp_protocol_validate(&ok_min), 0);
    CHECK_ERR(aiotp_protocol_validate(&ok_buf), 0);

    /* set_protocol refuses them and keeps the current protocol */
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    for (i = 0; i < 5; i++) {
        CHECK_ERR(aiotp_transport_set_protocol(t, &bad[i], r2), AIOTP_EINVAL);
        CHECK(aiotp_transport_get_protocol(t, &data) == &th_streaming);
        CHECK(data == r);
    }
    CHECK_ERR(aiotp_transport_set_protocol(t, NULL, r2), AIOTP_EINVAL);
    CHECK(aiotp_transport_get_protocol(t, &data) == &th_streaming);
    CHECK(data == r);
    CHECK_INT(write(sv[1], "abc", 3), 3);
    th_run_once(loop);
    CHECK_SIZE(r->rx_len, 3); /* still delivered to the old protocol */
    CHECK_SIZE(r2->rx_len, 0);
    CHECK_INT(r2->made + r2->lost, 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    close(sv[1]);

    /* a factory that hands out a bad table fails the operation; the socket is closed */
    for (i = 0; i < 5; i++) {
        memset(&d, 0, sizeof(d));
        factory_calls = 0;
        bad_table = &bad[i];
        th_socketpair(ws);
        aiotp_connect_options_init(&co);
        co.sock = ws[0];
        CHECK_ERR(aiotp_loop_create_connection(loop, bad_factory, NULL, NULL, 0, &co,
                                               conn_done, &d), 0);
        th_run_until(loop, is_done, &d, 5);
        CHECK_INT(d.calls, 1);
        CHECK_ERR(d.status, AIOTP_EINVAL);
        CHECK(d.t == NULL);
        CHECK_INT(factory_calls, 1);
        CHECK(!fd_is_open(ws[0]));
        close(ws[1]);
    }
}

/* ---- FLOW-3: bad watermarks ------------------------------------------------------------------ */

static void check_limits(aiotp_transport *t, size_t lo, size_t hi, int line)
{
    size_t l = 0;
    size_t h = 0;
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(t, &l, &h), 0);
    if (l != lo || h != hi) {
        th_fail(__FILE__, line, "limits (%zu, %zu), expected (%zu, %zu)", l, h, lo, hi);
    }
}

TEST(bad_watermarks)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_transport *t;
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    check_limits(t, 16384, 65536, __LINE__);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, -1, AIOTP_LIMIT_NONE), AIOTP_EINVAL);
    check_limits(t, 16384, 65536, __LINE__);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 10, 20), AIOTP_EINVAL); /* inverted */
    check_limits(t, 16384, 65536, __LINE__);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, -1), AIOTP_EINVAL);
    check_limits(t, 16384, 65536, __LINE__);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 100, -1), AIOTP_EINVAL);
    check_limits(t, 16384, 65536, __LINE__);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, -4, -8), AIOTP_EINVAL);
    check_limits(t, 16384, 65536, __LINE__);
    /* 4 * low does not fit in 64 bits: refused (CPython would accept the big int) */
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, INT64_MAX),
              AIOTP_EINVAL);
    check_limits(t, 16384, 65536, __LINE__);
    /* a huge high is fine: low = high / 4 */
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, INT64_MAX, AIOTP_LIMIT_NONE), 0);
    check_limits(t, (size_t)(INT64_MAX / 4), (size_t)INT64_MAX, __LINE__);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 0, 0), 0);
    check_limits(t, 0, 0, __LINE__);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, AIOTP_LIMIT_NONE),
              0);
    check_limits(t, 16384, 65536, __LINE__);
    CHECK_INT(r->pauses, 0);
    CHECK_INT(r->resumes, 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    close(sv[1]);
}

/* ---- BAD-2: calls after close and after connection_lost ---------------------------------------- */

TEST(calls_after_close_and_lost)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_transport *t;
    aiotp_buf b = {"xyz", 3};
    const aiotp_extra *x;
    void *data = &data;
    char got[16];
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_close(t), 0);
    /* closing, connection_lost scheduled */
    CHECK_ERR(aiotp_transport_write(t, "abc", 3), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_writelines(t, &b, 1), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_abort(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ECLOSED); /* DONE-1 */
    CHECK_ERR(aiotp_transport_resume_reading(t), AIOTP_ECLOSED);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_ERR(aiotp_transport_write_eof(t), AIOTP_ECLOSED);
    CHECK(aiotp_transport_get_protocol(t, NULL) == &th_streaming);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost, 1);
    th_run_passes(loop, 2); /* the harness retains t: it is still valid */

    /* after connection_lost */
    CHECK_ERR(aiotp_transport_write(t, "abc", 3), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_write(t, "abc", 0), 0);
    CHECK_ERR(aiotp_transport_writelines(t, &b, 1), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_abort(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_resume_reading(t), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_pause_reading(t), AIOTP_ECLOSED);
    CHECK_INT(aiotp_transport_is_reading(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_ERR(aiotp_transport_write_eof(t), AIOTP_ECLOSED);
    CHECK(aiotp_transport_get_protocol(t, &data) == NULL);
    CHECK(data == NULL);
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_streaming, r), AIOTP_ECLOSED);
    CHECK(aiotp_transport_get_protocol(t, NULL) == NULL);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK(aiotp_transport_get_loop(t) == loop);
    CHECK_INT(aiotp_transport_can_write_eof(t), 1);
    x = aiotp_transport_get_extra_info(t, "socket", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_FD && x->u.fd == -1);
    CHECK(!fd_is_open(sv[0]));
    th_run_passes(loop, 2);
    /* nothing after connection_lost, nothing reached the peer */
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=0\n");
    CHECK_INT(r->lost, 1);
    CHECK_SIZE(th_drain_fd(sv[1], got, sizeof(got)), 0);
    close(sv[1]);
}

/* ---- WRITE-WRITE-6, WRITE-WRITE-2: oversized and empty data ----------------------------------- */

TEST(oversized_and_empty_data)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static const char small[8] = "abcdefg";
    aiotp_buf huge[3];
    aiotp_buf empty[2];
    aiotp_transport *t;
    char got[16];
    long sends;
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    sends = th_f.send_calls + th_f.sendmsg_calls;
    /* the lengths add up past SIZE_MAX: refused before anything is read or sent */
    huge[0].base = small;
    huge[0].len = 4;
    huge[1].base = small;
    huge[1].len = SIZE_MAX / 2;
    huge[2].base = small;
    huge[2].len = SIZE_MAX / 2;
    CHECK_ERR(aiotp_transport_writelines(t, huge, 3), AIOTP_ETOOBIG);
    huge[1].len = SIZE_MAX;
    CHECK_ERR(aiotp_transport_writelines(t, huge, 2), AIOTP_ETOOBIG);
    CHECK_ERR(aiotp_transport_write(t, small, SIZE_MAX / 2 + 1), AIOTP_ETOOBIG);
    CHECK_ERR(aiotp_transport_write(t, small, SIZE_MAX), AIOTP_ETOOBIG);
    /* empty data: accepted, no system call */
    CHECK_ERR(aiotp_transport_write(t, small, 0), 0);
    empty[0].base = small;
    empty[0].len = 0;
    empty[1].base = NULL;
    empty[1].len = 0;
    CHECK_ERR(aiotp_transport_writelines(t, empty, 2), 0);
    CHECK_ERR(aiotp_transport_writelines(t, empty, 0), 0);
    CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, sends);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    CHECK_INT(r->pauses, 0);
    th_run_once(loop);
    CHECK_SIZE(th_drain_fd(sv[1], got, sizeof(got)), 0);
    /* the transport is unchanged and usable */
    CHECK_ERR(aiotp_transport_write(t, small, 7), 0);
    th_read_exact(sv[1], got, 7);
    CHECK(memcmp(got, "abcdefg", 7) == 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, 0);
    close(sv[1]);
}

/* ---- BAD-5, METH-6: invalid fds ----------------------------------------------------------------- */

TEST(invalid_fds)
{
    aiotp_loop *loop = th_loop();
    aiotp_connect_options co;
    aiotp_server_options so;
    done_rec d;
    int closed_fd;
    int pfd[2];
    int udp;

    memset(&d, 0, sizeof(d));
    factory_calls = 0;
    factory_rec = NULL;
    if (pipe(pfd) != 0) {
        th_fail(__FILE__, __LINE__, "pipe failed");
        return;
    }
    udp = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(udp >= 0);
    closed_fd = th_lowest_free_fd(); /* not open */
    CHECK(!fd_is_open(closed_fd));

    aiotp_connect_options_init(&co);
    co.sock = -1;
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, NULL, 0, &co, conn_done,
                                           &d), AIOTP_EINVAL);
    co.sock = closed_fd;
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, NULL, 0, &co, conn_done,
                                           &d), -EBADF);
    co.sock = pfd[0];
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, NULL, 0, &co, conn_done,
                                           &d), -ENOTSOCK);
    co.sock = udp;
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, NULL, 0, &co, conn_done,
                                           &d), AIOTP_EINVAL);
    co.sock = udp; /* host and sock together */
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, "127.0.0.1", 1, &co,
                                           conn_done, &d), AIOTP_EINVAL);

    CHECK_ERR(aiotp_loop_create_unix_connection(loop, rec_factory, NULL, NULL, &co, conn_done,
                                                &d), AIOTP_EINVAL);
    co.sock = closed_fd;
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, rec_factory, NULL, NULL, &co, conn_done,
                                                &d), -EBADF);
    co.sock = pfd[1];
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, rec_factory, NULL, NULL, &co, conn_done,
                                                &d), -ENOTSOCK);

    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, rec_factory, NULL, -1, conn_done, &d),
              AIOTP_EBADF);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, rec_factory, NULL, closed_fd,
                                                 conn_done, &d), -EBADF);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, rec_factory, NULL, pfd[0], conn_done,
                                                 &d), -ENOTSOCK);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, rec_factory, NULL, udp, conn_done, &d),
              AIOTP_EINVAL);

    aiotp_server_options_init(&so);
    so.sock = closed_fd;
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, NULL, 0, &so, srv_done, &d),
              -EBADF);
    so.sock = pfd[0];
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, NULL, 0, &so, srv_done, &d),
              -ENOTSOCK);
    so.sock = udp;
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, NULL, 0, &so, srv_done, &d),
              AIOTP_EINVAL);

    /* nothing started, nothing called, the caller still owns its fds */
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 0);
    CHECK_INT(factory_calls, 0);
    CHECK(fd_is_open(pfd[0]) && fd_is_open(pfd[1]) && fd_is_open(udp));
    close(pfd[0]);
    close(pfd[1]);
    close(udp);
}

/* ---- BAD-3: failing allocations -------------------------------------------------------------- */

/* A counting allocator for loops made here (the harness's is driven by th_f). */
static th_counter my_mem = {-1, 0};
static const aiotp_allocator my_allocator = TH_COUNTING_ALLOCATOR(&my_mem);

TEST(alloc_fail_loop_create)
{
    aiotp_loop_options o;
    long n;
    int enomem = 0;
    bool created = false;

    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.allocator = &my_allocator;
    for (n = 0; n < 50 && !created; n++) {
        aiotp_loop *loop = (aiotp_loop *)&o;
        int rc;
        my_mem.live = 0;
        my_mem.fail_after = n;
        rc = aiotp_loop_create(&loop, &o);
        my_mem.fail_after = -1;
        if (rc == AIOTP_ENOMEM) {
            enomem++;
            CHECK(loop == NULL);
            CHECK_SIZE(my_mem.live, 0);
            continue;
        }
        CHECK_ERR(rc, 0);
        if (rc != 0) {
            break;
        }
        created = true;
        /* the loop works */
        CHECK_ERR(aiotp_loop_call_soon(loop, noop_cb, NULL, NULL), 0);
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
        aiotp_loop_free(loop);
        CHECK_SIZE(my_mem.live, 0);
    }
    CHECK(created);
    CHECK(enomem >= 2); /* the loop, its receive buffer, ... */
}

static int soon_runs;

static void count_cb(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    soon_runs++;
}

/* call_soon / call_later with failing allocations: each call either succeeds (and its
   callback runs once) or returns AIOTP_ENOMEM (and never runs). */
TEST(alloc_fail_call_soon_later)
{
    long n;
    int kind;

    for (kind = 0; kind < 2; kind++) {
        bool clean = false;
        for (n = 0; n < 40 && !clean; n++) {
            aiotp_loop *loop = th_loop();
            int ok = 0;
            int failed = 0;
            int i;
            soon_runs = 0;
            th_f.alloc_fail_after = n;
            for (i = 0; i < 300; i++) {
                int rc = kind == 0 ? aiotp_loop_call_soon(loop, count_cb, NULL, NULL)
                                   : aiotp_loop_call_later(loop, 0, count_cb, NULL, NULL);
                if (rc == 0) {
                    ok++;
                } else {
                    CHECK_ERR(rc, AIOTP_ENOMEM);
                    failed++;
                }
            }
            clean = failed == 0; /* the budget was enough for all 300 */
            th_f.alloc_fail_after = -1;
            CHECK_INT(ok + failed, 300);
            /* a no-op keeps the pass from blocking when nothing was accepted */
            CHECK_ERR(aiotp_loop_call_soon(loop, noop_cb, NULL, NULL), 0);
            CHECK_ERR(aiotp_loop_run_once(loop), 0);
            CHECK_INT(soon_runs, ok);
            CHECK_ERR(aiotp_loop_call_soon(loop, noop_cb, NULL, NULL), 0);
            CHECK_ERR(aiotp_loop_run_once(loop), 0);
            CHECK_INT(soon_runs, ok);
            /* usable again */
            CHECK_ERR(aiotp_loop_call_soon(loop, count_cb, NULL, NULL), 0);
            CHECK_ERR(aiotp_loop_run_once(loop), 0);
            CHECK_INT(soon_runs, ok + 1);
            th_loop_free(loop);
            CHECK_SIZE(th_f.live_allocs, 0);
        }
        CHECK(clean);
    }
}

/* Grow the loop's tables (fd registry, poll set, event array, handle slots) once, so
   that the allocations an operation makes itself are the ones that fail. */
static void prime_loop(aiotp_loop *loop)
{
    int sv[2];
    th_socketpair(sv);
    CHECK_ERR(aiotp_loop_add_reader(loop, sv[1], noop_fd, NULL), 0);
    CHECK_ERR(aiotp_loop_call_soon(loop, noop_cb, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_ERR(aiotp_loop_remove_reader(loop, sv[1]), 1);
    close(sv[0]);
    close(sv[1]);
}

/* Run passes with the failure still armed (run_once may fail with ENOMEM: the loop
   retries), then without it, until pred is true. */
static void run_through_failures(aiotp_loop *loop, bool (*pred)(void *), void *arg)
{
    int i;
    for (i = 0; i < 6 && !pred(arg); i++) {
        aiotp_handle h = 0;
        int rc;
        (void)aiotp_loop_call_later(loop, 20 * AIOTP_NS_PER_MS, noop_cb, NULL, &h);
        rc = aiotp_loop_run_once(loop);
        (void)aiotp_loop_cancel(loop, h);
        if (rc != 0) {
            CHECK_ERR(rc, AIOTP_ENOMEM);
        }
    }
    th_f.alloc_fail_after = -1;
    th_run_until(loop, pred, arg, 20);
}

/* create_connection(sock=) with failing allocations: AIOTP_ENOMEM from the call (the
   socket stays the caller's), or a completion with AIOTP_ENOMEM (the socket is closed),
   or success. */
TEST(alloc_fail_wrap_socket)
{
    long n;
    bool clean = false;
    int refused = 0;
    int failed_async = 0;
    th_rec *rec = th_rec_new();

    factory_rec = rec;
    for (n = 0; n < 60 && !clean; n++) {
        aiotp_loop *loop = th_loop();
        aiotp_connect_options co;
        done_rec d;
        int sv[2];
        int rc;

        prime_loop(loop);
        memset(&d, 0, sizeof(d));
        rec->made = 0;
        rec->lost = 0;
        rec->lost_status = 0;
        th_socketpair(sv);
        aiotp_connect_options_init(&co);
        co.sock = sv[0];
        th_f.alloc_fail_after = n;
        rc = aiotp_loop_create_connection(loop, rec_factory, NULL, NULL, 0, &co, conn_done, &d);
        if (rc != 0) {
            th_f.alloc_fail_after = -1;
            CHECK_ERR(rc, AIOTP_ENOMEM);
            refused++;
            th_run_passes(loop, 1);
            CHECK_INT(d.calls, 0);
            CHECK(fd_is_open(sv[0]));
            close(sv[0]);
        } else {
            run_through_failures(loop, is_done, &d);
            clean = th_f.alloc_fail_after != 0;
            th_f.alloc_fail_after = -1;
            CHECK_INT(d.calls, 1);
            if (d.status == 0) {
                void *pd = NULL;
                th_rec *r;
                CHECK(d.t != NULL);
                CHECK(aiotp_transport_get_protocol(d.t, &pd) == &th_streaming);
                r = pd;
                CHECK(r == rec);
                CHECK_INT(r->made, 1);
                if (r != NULL) {
                    if (aiotp_transport_is_closing(d.t)) {
                        /* the reader could not be registered: fatal, lost(ENOMEM) */
                        th_run_until(loop, th_is_lost, r, 5);
                        CHECK_ERR(r->lost_status, AIOTP_ENOMEM);
                    } else {
                        CHECK_ERR(aiotp_transport_write(d.t, "ok", 2), 0);
                        CHECK_ERR(aiotp_transport_close(d.t), 0);
                        th_run_until(loop, th_is_lost, r, 5);
                        CHECK_ERR(r->lost_status, 0);
                    }
                }
            } else {
                CHECK_ERR(d.status, AIOTP_ENOMEM);
                CHECK(d.t == NULL);
                CHECK(!fd_is_open(sv[0]));
                failed_async++;
            }
        }
        close(sv[1]);
        th_loop_free(loop);
        CHECK_SIZE(th_f.live_allocs, 0);
    }
    CHECK(clean);
    CHECK(refused >= 1);
    CHECK(failed_async >= 1);
}

/* A write that needs memory for its buffer and gets none fails with AIOTP_ENOMEM,
   sends nothing and leaves the transport as it was; one the kernel takes whole needs no
   memory. */
TEST(alloc_fail_write_grow)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char big[40000];
    static unsigned char got[45000];
    aiotp_transport *t;
    long sends;
    size_t n = 0;
    size_t i;
    int sv[2];

    for (i = 0; i < sizeof(big); i++) {
        big[i] = (unsigned char)(i * 13 + 1);
    }
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    /* a write the kernel takes whole needs no memory */
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write(t, "hello", 5), 0);
    th_f.alloc_fail_after = -1;
    th_read_exact(sv[1], got, 5);
    CHECK(memcmp(got, "hello", 5) == 0);
    /* the kernel takes nothing and there is no memory to queue: refused, nothing sent */
    sends = th_f.send_calls + th_f.sendmsg_calls;
    th_f.send_eagain = true;
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write(t, "hello", 5), AIOTP_ENOMEM);
    th_f.alloc_fail_after = -1;
    th_f.send_eagain = false;
    CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, sends + 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    th_run_once(loop);
    CHECK_SIZE(th_drain_fd(sv[1], got, sizeof(got)), 0);
    CHECK_ERR(aiotp_transport_write(t, "hello", 5), 0);
    th_read_exact(sv[1], got, 5);
    CHECK(memcmp(got, "hello", 5) == 0);

    /* queued data, then a write that needs a bigger buffer */
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_write(t, big, 1000), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 1000);
    sends = th_f.send_calls + th_f.sendmsg_calls;
    th_f.alloc_fail_after = 0;
    CHECK_ERR(aiotp_transport_write(t, big + 1000, sizeof(big) - 1000), AIOTP_ENOMEM);
    {
        aiotp_buf b[2] = {{big + 1000, 20000}, {big + 21000, sizeof(big) - 21000}};
        CHECK_ERR(aiotp_transport_writelines(t, b, 2), AIOTP_ENOMEM);
    }
    th_f.alloc_fail_after = -1;
    CHECK_INT(th_f.send_calls + th_f.sendmsg_calls, sends);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 1000);
    CHECK_INT(r->pauses, 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    /* retry succeeds; everything arrives once, in order */
    CHECK_ERR(aiotp_transport_write(t, big + 1000, sizeof(big) - 1000), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), sizeof(big));
    th_f.send_eagain = false;
    while (aiotp_transport_get_write_buffer_size(t) > 0 && n < sizeof(got)) {
        th_run_once(loop);
        n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    }
    n += th_drain_fd(sv[1], got + n, sizeof(got) - n);
    CHECK_SIZE(n, sizeof(big));
    CHECK(memcmp(got, big, sizeof(big)) == 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, 0);
    close(sv[1]);
}

/* create_server with failing allocations: AIOTP_ENOMEM from the call or through the
   completion, or a working server; nothing leaks. */
TEST(alloc_fail_create_server)
{
    long n;
    bool clean = false;
    int refused = 0;
    int failed_async = 0;

    for (n = 0; n < 60 && !clean; n++) {
        aiotp_loop *loop = th_loop();
        done_rec d;
        int rc;

        prime_loop(loop);
        memset(&d, 0, sizeof(d));
        th_f.alloc_fail_after = n;
        rc = aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 0, NULL, srv_done,
                                      &d);
        if (rc != 0) {
            th_f.alloc_fail_after = -1;
            CHECK_ERR(rc, AIOTP_ENOMEM);
            refused++;
            th_run_passes(loop, 1);
            CHECK_INT(d.calls, 0);
        } else {
            run_through_failures(loop, is_done, &d);
            clean = th_f.alloc_fail_after != 0;
            th_f.alloc_fail_after = -1;
            CHECK_INT(d.calls, 1);
            if (d.status == 0) {
                CHECK(d.s != NULL);
                CHECK_INT(aiotp_server_is_serving(d.s), 1);
                CHECK_SIZE(aiotp_server_get_sockets(d.s, NULL, 0), 1);
                CHECK_ERR(aiotp_server_close(d.s), 0);
                th_run_passes(loop, 2);
            } else {
                CHECK_ERR(d.status, AIOTP_ENOMEM);
                CHECK(d.s == NULL);
                failed_async++;
            }
        }
        th_loop_free(loop);
        CHECK_SIZE(th_f.live_allocs, 0);
    }
    CHECK(clean);
    CHECK(refused >= 1);
    CHECK(failed_async >= 1);
}

/* ---- BAD-4: failing system calls -------------------------------------------------------------- */

TEST(send_error_epipe)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    exc_count e;
    aiotp_transport *t;
    int sv[2];

    memset(&e, 0, sizeof(e));
    aiotp_loop_set_exception_handler(loop, count_exc, &e);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_errno = EPIPE;
    CHECK_ERR(aiotp_transport_write(t, "hello", 5), -EPIPE);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(r->lost, 0); /* next pass */
    CHECK_ERR(aiotp_transport_write(t, "more", 4), AIOTP_ECLOSED);
    th_run_once(loop);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -EPIPE);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 1);
    CHECK_INT(e.calls, 0); /* an OS error: silent (not in debug mode) */
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=EPIPE\n");
    close(sv[1]);
}

/* The same error from the drain path (writelines + a writable event). */
TEST(send_error_in_drain)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_buf b[2] = {{"abc", 3}, {"def", 3}};
    aiotp_transport *t;
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.send_eagain = true;
    CHECK_ERR(aiotp_transport_writelines(t, b, 2), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 6);
    th_f.send_eagain = false;
    th_f.send_errno = ECONNRESET;
    th_run_once(loop); /* writable: the send fails */
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -ECONNRESET);
    close(sv[1]);
}

TEST(recv_error_reset)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_rec *r2 = th_rec_new();
    exc_count e;
    int sv[2];
    int sv2[2];

    memset(&e, 0, sizeof(e));
    aiotp_loop_set_exception_handler(loop, count_exc, &e);
    th_socketpair(sv);
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    th_f.recv_errno = ECONNRESET;
    CHECK_INT(write(sv[1], "x", 1), 1);
    th_run_until(loop, th_is_lost, r, 5);
    th_run_passes(loop, 2);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -ECONNRESET);
    CHECK_INT(r->chunks, 0);
    CHECK_INT(e.calls, 0);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb connection_lost status=ECONNRESET\n");

    /* debug mode: the handler hears about it */
    th_f.recv_errno = 0;
    aiotp_loop_set_debug(loop, true);
    CHECK_INT(aiotp_loop_get_debug(loop), 1);
    th_socketpair(sv2);
    (void)th_wrap(loop, sv2[0], &th_streaming, r2);
    th_f.recv_errno = ECONNRESET;
    CHECK_INT(write(sv2[1], "x", 1), 1);
    th_run_until(loop, th_is_lost, r2, 5);
    CHECK_ERR(r2->lost_status, -ECONNRESET);
    CHECK_INT(e.calls, 1);
    CHECK_STR(e.message, "Fatal read error on socket transport");
    CHECK_ERR(e.status, -ECONNRESET);
    close(sv[1]);
    close(sv2[1]);
}

TEST(shutdown_error_to_caller)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_transport *t;
    char got[8];
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    th_f.shutdown_errno = EIO;
    /* WRITE-EOF-4: the error to the caller, and the transport fails with it, as when the
       deferred shutdown fails (one behaviour for both) */
    CHECK_ERR(aiotp_transport_write_eof(t), -EIO);
    th_f.shutdown_errno = 0;
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_ERR(aiotp_transport_write(t, "x", 1), AIOTP_ESTATE);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, -EIO);
    CHECK_INT(r->lost, 1);
    /* the peer reads the end of the connection (the socket was closed) */
    CHECK_SIZE(th_drain_fd(sv[1], got, sizeof(got)), 0);
    close(sv[1]);
}

static void connect_expect(aiotp_loop *loop, const char *host, int expect_status)
{
    done_rec d;
    memset(&d, 0, sizeof(d));
    factory_calls = 0;
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, NULL, host, 0, NULL, conn_done,
                                           &d), 0);
    CHECK_INT(d.calls, 0); /* never inside the call */
    th_run_until(loop, is_done, &d, 10);
    th_run_passes(loop, 1);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, expect_status);
    CHECK(d.t == NULL);
    CHECK_INT(factory_calls, 0);
}

TEST(getaddrinfo_errors)
{
    aiotp_loop *loop = th_loop();
    done_rec d;

    factory_rec = NULL;
    th_f.getaddrinfo_rc = EAI_NONAME;
    connect_expect(loop, "no.such.host.invalid", AIOTP_ENONAME);
    th_f.getaddrinfo_rc = EAI_AGAIN;
    connect_expect(loop, "localhost", AIOTP_EAI_AGAIN);
    th_f.getaddrinfo_rc = EAI_FAIL;
    connect_expect(loop, "localhost", AIOTP_EAI_FAIL);
    /* create_server too */
    th_f.getaddrinfo_rc = EAI_NONAME;
    memset(&d, 0, sizeof(d));
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "localhost", 0, NULL, srv_done,
                                       &d), 0);
    th_run_until(loop, is_done, &d, 10);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, AIOTP_ENONAME);
    CHECK(d.s == NULL);
}

TEST(socket_and_connect_errors)
{
    aiotp_loop *loop = th_loop();
    done_rec d;

    factory_rec = NULL;
    th_f.socket_errno = EMFILE;
    connect_expect(loop, "127.0.0.1", -EMFILE);
    memset(&d, 0, sizeof(d));
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 0, NULL, srv_done,
                                       &d), 0);
    th_run_until(loop, is_done, &d, 10);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, -EMFILE);
    CHECK(d.s == NULL);
    th_f.socket_errno = 0;
    th_f.connect_errno = ECONNREFUSED;
    connect_expect(loop, "127.0.0.1", -ECONNREFUSED);
    th_f.connect_errno = 0;
}

static const th_case cases[] = {
    T(null_loop_arguments, "BAD-1"),
    T(loop_create_bad_tables, "BAD-1 BAD-3"),
    T(null_transport_arguments, "BAD-1 WRITE-WRITE-8"),
    T(null_server_arguments, "BAD-1 METH-1 METH-5"),
    T(bad_protocol_tables, "PROTO-BUF-4 BASE-PROTO-2 BAD-1 METH-3"),
    T(bad_watermarks, "FLOW-3 BAD-1"),
    T(calls_after_close_and_lost, "BAD-2 WRITE-WRITE-5 BASE-PROTO-2 WRITE-EOF-3 READ-2 DONE-1"),
    T(oversized_and_empty_data, "WRITE-WRITE-6 WRITE-WRITE-2 BAD-1"),
    T(invalid_fds, "BAD-5 METH-6"),
    T(alloc_fail_loop_create, "BAD-3"),
    T(alloc_fail_call_soon_later, "BAD-3"),
    T(alloc_fail_wrap_socket, "BAD-3 METH-1"),
    T(alloc_fail_write_grow, "BAD-3 WRITE-WRITE-6"),
    T(alloc_fail_create_server, "BAD-3 SRV-1"),
    T(send_error_epipe, "BAD-4 WRITE-WRITE-7"),
    T(send_error_in_drain, "BAD-4 WRITE-WRITE-7"),
    T(recv_error_reset, "BAD-4 STREAM-ERR-1"),
    T(shutdown_error_to_caller, "WRITE-EOF-4 BAD-4 WRITE-EOF-1"),
    T(getaddrinfo_errors, "BAD-4 METH-5"),
    T(socket_and_connect_errors, "BAD-4 METH-5"),
};
TH_MAIN(cases)
