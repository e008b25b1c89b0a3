/* tests/test_transports.c - one transport type for every kind: the kind query, methods a
   kind does not have (AIOTP_ENOTSUP, nothing changes), protocol tables of the wrong kind
   and table versions (spec/rules.md, "Transport kinds", spec/transports.md). */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

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

static bool exc_seen(void *arg)
{
    (void)arg;
    return th_exc.n > 0;
}

static int dgram_received(aiotp_transport *t, void *data, const void *buf, size_t len,
                          const struct sockaddr *addr, socklen_t addrlen)
{
    (void)t;
    (void)data;
    (void)buf;
    (void)len;
    (void)addr;
    (void)addrlen;
    return 0;
}

static const aiotp_protocol dgram_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_DATAGRAM,
    .datagram_received = dgram_received,
};

static int factory_calls;
static const aiotp_protocol *factory_table;

static int table_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    factory_calls++;
    *proto = factory_table;
    *data = arg;
    return 0;
}

/* ---- the kind ------------------------------------------------------------------------- */

TEST(stream_kind)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    aiotp_transport *t;

    CHECK_INT(aiotp_transport_kind(NULL), 0);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_INT(aiotp_transport_kind(t), AIOTP_TRANSPORT_STREAM);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    /* still the same kind once closed (retained by th_wrap) */
    CHECK_INT(aiotp_transport_kind(t), AIOTP_TRANSPORT_STREAM);
    th_peer_close(sv[1]);
}

/* sendto on a stream transport: not supported, nothing sent, nothing changed. */
TEST(stream_sendto_not_supported)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    char buf[8];
    aiotp_transport *t;
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_sendto(NULL, "x", 1, NULL, 0), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_sendto(t, "abc", 3, NULL, 0), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_sendto(t, "abc", 3, (const struct sockaddr *)&sin, sizeof(sin)),
              AIOTP_ENOTSUP);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK(!aiotp_transport_is_closing(t));
    CHECK(aiotp_transport_is_reading(t));
    th_run_once(loop);
    CHECK_SIZE(th_drain_fd(sv[1], buf, sizeof(buf)), 0); /* nothing reached the peer */
    /* the transport works as before */
    CHECK_ERR(aiotp_transport_write(t, "ok", 2), 0);
    th_read_exact(sv[1], buf, 2);
    CHECK(memcmp(buf, "ok", 2) == 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost, 1);
    CHECK_INT(r->lost_status, 0);
    th_peer_close(sv[1]);
}

/* ---- protocol tables of the wrong kind -------------------------------------------------- */

/* A connection whose factory returns a datagram table: the completion gets EPROTOKIND, the
   exception handler names the problem, the socket is closed, no protocol callback runs. */
TEST(connect_with_datagram_table)
{
    aiotp_loop *loop = th_exc_loop();
    aiotp_connect_options co;
    done_rec d;
    int sv[2];
    char c;

    memset(&d, 0, sizeof(d));
    factory_calls = 0;
    factory_table = &dgram_proto;
    th_socketpair(sv);
    aiotp_connect_options_init(&co);
    co.sock = sv[0];
    CHECK_ERR(aiotp_loop_create_connection(loop, table_factory, NULL, NULL, 0, &co, conn_done,
                                           &d),
              0);
    th_run_until(loop, is_done, &d, 5);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, AIOTP_EPROTOKIND);
    CHECK(d.t == NULL);
    CHECK_INT(factory_calls, 1);
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, AIOTP_EPROTOKIND);
    CHECK(strstr(th_exc.msg, "DATAGRAM protocol table cannot serve a stream transport") != NULL);
    CHECK(!th_fd_is_open(sv[0]));
    CHECK_INT(th_peer_recv(sv[1], &c, 1, 0), 0); /* the peer sees the socket closed */
    CHECK_INT(th_count_lines("t"), 0);           /* no transport was made */
    th_peer_close(sv[1]);
}

/* A server whose factory returns a datagram table: each connection is closed and reported
   by name, also outside debug mode; the server keeps serving and counts no connection. */
TEST(server_with_datagram_table)
{
    aiotp_loop *loop = th_exc_loop();
    aiotp_server *s;
    done_rec d;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int c;
    char ch;

    memset(&d, 0, sizeof(d));
    factory_calls = 0;
    factory_table = &dgram_proto;
    CHECK(!aiotp_loop_get_debug(loop));
    CHECK_ERR(aiotp_loop_create_server(loop, table_factory, NULL, "127.0.0.1", 0, NULL,
                                       srv_done, &d),
              0);
    th_run_until(loop, is_done, &d, 5);
    CHECK_ERR(d.status, 0);
    s = d.s;
    CHECK_ERR(aiotp_server_get_sockname(s, 0, (struct sockaddr *)&ss, &len), 0);
    c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0);
    CHECK_INT(connect(c, (struct sockaddr *)&ss, len), 0);
    th_run_until(loop, exc_seen, NULL, 20);
    CHECK_INT(factory_calls, 1);
    CHECK_INT(th_exc.n, 1);
    CHECK_ERR(th_exc.status, AIOTP_EPROTOKIND);
    CHECK(strstr(th_exc.msg, "create_server") != NULL);
    CHECK(strstr(th_exc.msg, "DATAGRAM protocol table cannot serve a stream transport") != NULL);
    CHECK_SIZE(aiotp_server_active_connections(s), 0);
    CHECK(aiotp_server_is_serving(s));
    CHECK_INT(recv(c, &ch, 1, 0), 0); /* closed by the server */
    close(c);
    CHECK_ERR(aiotp_server_close(s), 0);
    th_run_passes(loop, 2);
}

/* set_protocol with a table of another kind: refused with EPROTOKIND, nothing changes. */
TEST(set_protocol_wrong_kind)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    void *data = NULL;
    aiotp_transport *t;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_protocol(t, &dgram_proto, NULL), AIOTP_EPROTOKIND);
    CHECK(aiotp_transport_get_protocol(t, &data) == &th_streaming);
    CHECK(data == r);
    CHECK_INT(th_peer_write(sv[1], "abc", 3), 3);
    th_run_once(loop);
    CHECK_SIZE(r->rx_len, 3); /* still the old protocol's */
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

/* ---- table versions --------------------------------------------------------------------- */

/* A table of the first layout (size AIOTP_PROTOCOL_SIZE_V1) is taken by stream transports
   and never read past its end: it lives in a heap block of exactly that size, so ASan and
   valgrind catch a read of the later fields. */
/* The table as a program built against the first layout declares it. */
typedef struct proto_v1 {
    size_t size;
    aiotp_protocol_kind kind;
    aiotp_connection_made_fn connection_made;
    aiotp_connection_lost_fn connection_lost;
    aiotp_pause_writing_fn pause_writing;
    aiotp_resume_writing_fn resume_writing;
    aiotp_data_received_fn data_received;
    aiotp_eof_received_fn eof_received;
    aiotp_get_buffer_fn get_buffer;
    aiotp_buffer_updated_fn buffer_updated;
} proto_v1;

TEST(first_layout_table_accepted)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];
    proto_v1 *p1 = malloc(sizeof(*p1));
    const aiotp_protocol *v1 = (const aiotp_protocol *)(const void *)p1;
    aiotp_transport *t;
    aiotp_protocol dv1 = dgram_proto;

    CHECK_SIZE(sizeof(proto_v1), AIOTP_PROTOCOL_SIZE_V1);
    CHECK(p1 != NULL);
    memcpy(p1, &th_streaming, sizeof(*p1));
    p1->size = AIOTP_PROTOCOL_SIZE_V1;
    CHECK_ERR(aiotp_protocol_validate(v1), 0);
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], v1, r);
    CHECK_INT(th_peer_write(sv[1], "hello", 5), 5);
    th_run_once(loop);
    CHECK_SIZE(r->rx_len, 5);
    CHECK_ERR(aiotp_transport_set_protocol(t, v1, r), 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_INT(r->lost, 1);
    th_peer_close(sv[1]);
    free(p1);

    /* a datagram table needs the current layout; other sizes are malformed */
    dv1.size = AIOTP_PROTOCOL_SIZE_V1;
    CHECK_ERR(aiotp_protocol_validate(&dv1), AIOTP_EINVAL);
    dv1.size = AIOTP_PROTOCOL_SIZE_V1 + 1;
    dv1.kind = AIOTP_PROTOCOL_STREAMING;
    CHECK_ERR(aiotp_protocol_validate(&dv1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_protocol_validate(&dgram_proto), 0);
}

static const th_case cases[] = {
    T(stream_kind, "TRANSPORT-KIND-1"),
    T(stream_sendto_not_supported, "TRANSPORT-KIND-2 BAD-1"),
    T(connect_with_datagram_table, "PROTO-KIND-1"),
    T(server_with_datagram_table, "PROTO-KIND-1"),
    T(set_protocol_wrong_kind, "PROTO-KIND-2"),
    T(first_layout_table_accepted, "PROTO-VERSION-1"),
};

TH_MAIN(cases)
