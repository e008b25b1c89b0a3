/* tests/test_loop_methods.c - loop methods and servers: create_connection,
   create_unix_connection, connect_accepted_socket, create_server, create_unix_server and
   the server object (spec/rules.md, "Loop methods and servers", METH-* and SRV-*). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* The trace id of a transport: make it trace a no-op call and read the id back.
   set_write_buffer_limits(None, None) restores the defaults the transport already has. */
static unsigned trace_id(aiotp_transport *t)
{
    const char *tr;
    const char *hit = NULL;
    const char *p;
    unsigned id = 0;

    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, AIOTP_LIMIT_NONE),
              0);
    tr = th_trace();
    for (p = strstr(tr, " call set_write_buffer_limits"); p != NULL;
         p = strstr(p + 1, " call set_write_buffer_limits")) {
        hit = p;
    }
    if (hit == NULL) {
        th_fail(__FILE__, __LINE__, "no set_write_buffer_limits line in the trace");
        return 0;
    }
    while (hit > tr && hit[-1] != '\n') {
        hit--;
    }
    if (sscanf(hit, "t%u", &id) != 1) {
        th_fail(__FILE__, __LINE__, "cannot parse a transport id");
    }
    return id;
}

/* Exception handler recorder. */
typedef struct exc_rec {
    int calls;
    char message[128];
    int status;
    aiotp_server *server;
    aiotp_transport *transport;
} exc_rec;

static void exc_handler(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    exc_rec *e = arg;
    (void)loop;
    e->calls++;
    snprintf(e->message, sizeof(e->message), "%s", ctx->message ? ctx->message : "(null)");
    e->status = ctx->status;
    e->server = ctx->server;
    e->transport = ctx->transport;
}

/* Server side: a factory that makes one recorder per connection. */
#define MAX_CONN 16
typedef struct srv_ctx {
    aiotp_loop *loop;
    int calls;            /* factory calls */
    int fail_rc;          /* < 0: the factory fails with it */
    bool echo;            /* the connections echo what they receive */
    th_hook on_made;      /* given to each recorder */
    void *user;           /* given to each recorder when !echo */
    aiotp_time last_call; /* loop time of the last factory call */
    th_rec *recs[MAX_CONN];
    size_t echoed[MAX_CONN];
} srv_ctx;

static int echo_hook(th_rec *r, aiotp_transport *t)
{
    size_t *done = r->user;
    size_t n = r->rx_len - *done;
    int rc = aiotp_transport_write(t, r->rx + *done, n);
    *done = r->rx_len;
    return rc;
}

static int srv_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    srv_ctx *c = arg;
    th_rec *r;
    int i = c->calls++;

    if (c->loop != NULL) {
        c->last_call = aiotp_loop_time(c->loop);
    }
    if (c->fail_rc < 0) {
        return c->fail_rc;
    }
    if (i >= MAX_CONN) {
        return AIOTP_ENOMEM;
    }
    r = th_rec_new();
    r->on_made = c->on_made;
    if (c->echo) {
        r->on_data = echo_hook;
        r->user = &c->echoed[i];
    } else {
        r->user = c->user;
    }
    c->recs[i] = r;
    *proto = &th_streaming;
    *data = r;
    return 0;
}

/* Client side: a factory that hands out one recorder. */
typedef struct cli_ctx {
    int calls;
    int fail_rc;
    th_rec *rec;
} cli_ctx;

static int cli_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    cli_ctx *c = arg;
    c->calls++;
    if (c->fail_rc < 0) {
        return c->fail_rc;
    }
    *proto = &th_streaming;
    *data = c->rec;
    return 0;
}

static int never_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    int *calls = arg;
    (void)proto;
    (void)data;
    if (calls != NULL) {
        (*calls)++;
    }
    return AIOTP_EINVAL;
}

/* Completion of a connection. */
typedef struct conn_done {
    int calls;
    int status;
    aiotp_transport *t;
    int made_at_done; /* connection_made count of `rec` when the completion ran */
    uint64_t iter;    /* loop iteration of the completion */
    th_rec *rec;
    aiotp_loop *loop;
} conn_done;

static void on_conn(void *arg, int status, aiotp_transport *t)
{
    conn_done *d = arg;
    d->calls++;
    d->status = status;
    d->t = t;
    d->made_at_done = d->rec != NULL ? d->rec->made : -1;
    d->iter = d->loop != NULL ? aiotp_loop_iteration(d->loop) : 0;
}

static bool conn_is_done(void *arg)
{
    return ((conn_done *)arg)->calls > 0;
}

/* Completion of a server creation. */
typedef struct srv_done {
    int calls;
    int status;
    aiotp_server *s;
} srv_done;

static void on_srv(void *arg, int status, aiotp_server *s)
{
    srv_done *d = arg;
    d->calls++;
    d->status = status;
    d->s = s;
}

static bool srv_is_done(void *arg)
{
    return ((srv_done *)arg)->calls > 0;
}

typedef struct counter_goal {
    const int *v;
    int goal;
} counter_goal;

static bool reached(void *arg)
{
    counter_goal *g = arg;
    return *g->v >= g->goal;
}

static void run_until_count(aiotp_loop *loop, const int *v, int goal, int max_passes)
{
    counter_goal g;
    g.v = v;
    g.goal = goal;
    th_run_until(loop, reached, &g, max_passes);
}

/* Create a TCP server and run until it is listening. The server is retained (released
   by the harness before it frees the loop, th_keep_server). */
static aiotp_server *start_server(aiotp_loop *loop, srv_ctx *ctx, const char *host,
                                  const aiotp_server_options *opts)
{
    srv_done d;
    int rc;
    memset(&d, 0, sizeof(d));
    ctx->loop = loop;
    rc = aiotp_loop_create_server(loop, srv_factory, ctx, host, 0, opts, on_srv, &d);
    CHECK_ERR(rc, 0);
    if (rc != 0) {
        return NULL;
    }
    CHECK_INT(d.calls, 0); /* METH-1: never synchronous */
    th_run_until(loop, srv_is_done, &d, 10);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, 0);
    if (d.s != NULL) {
        th_keep_server(d.s);
    }
    return d.s;
}

static int server_port(const aiotp_server *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    CHECK_ERR(aiotp_server_get_sockname(s, 0, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    th_fail(__FILE__, __LINE__, "unexpected family %d", ss.ss_family);
    return -1;
}

/* A blocking client socket connected to 127.0.0.1:port (completes in the kernel's
   listen queue, before the loop accepts). */
static int raw_connect4(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        th_fail(__FILE__, __LINE__, "raw connect: %s", strerror(errno));
    }
    return fd;
}

/* Start create_connection to host:port with a fresh client recorder. */
static int connect_to(aiotp_loop *loop, const char *host, int port, cli_ctx *cli,
                      conn_done *d)
{
    memset(d, 0, sizeof(*d));
    d->loop = loop;
    d->rec = cli->rec;
    return aiotp_loop_create_connection(loop, cli_factory, cli, host, port, NULL, on_conn, d);
}

static bool same_addr(const aiotp_extra *x, const struct sockaddr *a, socklen_t len)
{
    return x != NULL && x->kind == AIOTP_EXTRA_ADDR && x->u.addr.len == len &&
           memcmp(x->u.addr.addr, a, len) == 0;
}

static int close_client_on_data(th_rec *r, aiotp_transport *t)
{
    if (r->rx_len >= 5) {
        return aiotp_transport_close(t);
    }
    return 0;
}

/* ---- create_server + create_connection ------------------------------------------------- */

/* The documentation's echo pair over TCP: both sides' callbacks, the completion after
   connection_made in the same pass, peername/sockname agreement, one factory call each. */
TEST(tcp_roundtrip)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    cli_ctx cc;
    conn_done d;
    aiotp_server *s;
    aiotp_server_options so;
    int fds[4];
    int port;
    int one = 0;
    socklen_t olen = sizeof(one);
    unsigned cid;
    unsigned sid;
    char want_c[256];
    char want_s[256];
    const aiotp_extra *x;

    memset(&sc, 0, sizeof(sc));
    memset(&cc, 0, sizeof(cc));
    sc.echo = true;
    cc.rec = th_rec_new();
    cc.rec->on_data = close_client_on_data;
    aiotp_server_options_init(&so);
    s = start_server(loop, &sc, "127.0.0.1", &so);
    if (s == NULL) {
        return;
    }
    CHECK_INT(aiotp_server_is_serving(s), 1);
    CHECK_SIZE(aiotp_server_get_sockets(s, fds, 4), 1); /* SRV-1 */
    CHECK(getsockopt(fds[0], SOL_SOCKET, SO_REUSEADDR, &one, &olen) == 0 && one != 0);
    CHECK(aiotp_server_get_loop(s) == loop);
    port = server_port(s);
    CHECK(port > 0); /* port 0 picked a free port */

    CHECK_ERR(connect_to(loop, "127.0.0.1", port, &cc, &d), 0);
    CHECK_INT(d.calls, 0); /* METH-1 */
    th_run_until(loop, conn_is_done, &d, 20);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, 0);
    CHECK(d.t != NULL && d.t == cc.rec->t);
    CHECK_INT(d.made_at_done, 1); /* METH-2: after connection_made ... */
    CHECK_INT(cc.calls, 1);
    if (d.t == NULL) {
        return;
    }
    cid = trace_id(d.t);
    /* ... in the same pass (STREAM-ORDER-1): the "cb connection_made" line of the client
       is in the iteration of the completion */
    {
        char iter_line[64];
        char made_line[64];
        const char *tr = th_trace();
        const char *pi;
        const char *pm;
        snprintf(iter_line, sizeof(iter_line), "iter %llu\n", (unsigned long long)d.iter);
        snprintf(made_line, sizeof(made_line), "t%u cb connection_made\n", cid);
        pi = strstr(tr, iter_line);
        pm = strstr(tr, made_line);
        CHECK(pi != NULL && pm != NULL && pm > pi);
        if (pi != NULL && pm != NULL) {
            const char *next_iter = strstr(pi + 1, "iter ");
            CHECK(next_iter == NULL || pm < next_iter);
        }
    }

    run_until_count(loop, &sc.calls, 1, 20);
    CHECK_INT(sc.calls, 1);
    if (sc.recs[0] == NULL) {
        return;
    }
    run_until_count(loop, &sc.recs[0]->made, 1, 20);
    if (sc.recs[0]->t == NULL) {
        return;
    }
    sid = trace_id(sc.recs[0]->t);
    CHECK(sid != cid);
    CHECK_SIZE(aiotp_server_active_connections(s), 1);

    /* SRV-3: the accepted transport's peername is the client's sockname, and back */
    x = aiotp_transport_get_extra_info(d.t, "sockname", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR);
    if (x != NULL && x->kind == AIOTP_EXTRA_ADDR) {
        CHECK(same_addr(aiotp_transport_get_extra_info(sc.recs[0]->t, "peername", NULL),
                        x->u.addr.addr, x->u.addr.len));
    }
    x = aiotp_transport_get_extra_info(sc.recs[0]->t, "sockname", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR);
    if (x != NULL && x->kind == AIOTP_EXTRA_ADDR) {
        CHECK(same_addr(aiotp_transport_get_extra_info(d.t, "peername", NULL),
                        x->u.addr.addr, x->u.addr.len));
    }

    /* data both ways: the client sends, the server echoes, the client closes */
    CHECK_ERR(aiotp_transport_write(d.t, "hello", 5), 0);
    th_run_until(loop, th_is_lost, cc.rec, 20);
    th_run_until(loop, th_is_lost, sc.recs[0], 20);
    CHECK_SIZE(sc.recs[0]->rx_len, 5);
    CHECK_SIZE(cc.rec->rx_len, 5);
    CHECK(memcmp(cc.rec->rx, "hello", 5) == 0);
    snprintf(want_c, sizeof(want_c),
             "cb connection_made\ncb data_received n=5 total=5 sum=%08x\n"
             "cb connection_lost status=0\n",
             th_sum(TH_SUM_INIT, "hello", 5));
    snprintf(want_s, sizeof(want_s),
             "cb connection_made\ncb data_received n=5 total=5 sum=%08x\n"
             "cb eof_received\nret eof_received 0\ncb connection_lost status=0\n",
             th_sum(TH_SUM_INIT, "hello", 5));
    CHECK_STR(th_callbacks(cid), want_c);
    CHECK_STR(th_callbacks(sid), want_s);
    CHECK_INT(sc.calls, 1);
    CHECK_INT(cc.calls, 1);
    CHECK_INT(d.calls, 1);
    CHECK_SIZE(aiotp_server_active_connections(s), 0);
    CHECK_ERR(aiotp_server_close(s), 0);
}

/* One protocol instance per accepted connection; each peername is its client's address. */
TEST(one_protocol_per_connection)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    aiotp_server *s;
    int cl[3];
    int port;
    int i;
    int j;

    memset(&sc, 0, sizeof(sc));
    s = start_server(loop, &sc, "127.0.0.1", NULL);
    if (s == NULL) {
        return;
    }
    port = server_port(s);
    for (i = 0; i < 3; i++) {
        cl[i] = raw_connect4(port);
    }
    run_until_count(loop, &sc.calls, 3, 20);
    CHECK_INT(sc.calls, 3);
    if (sc.calls != 3) {
        for (i = 0; i < 3; i++) {
            close(cl[i]);
        }
        return;
    }
    for (i = 0; i < 3; i++) {
        run_until_count(loop, &sc.recs[i]->made, 1, 20);
    }
    CHECK_SIZE(aiotp_server_active_connections(s), 3);
    for (i = 0; i < 3; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int matches = 0;
        CHECK_INT(sc.recs[i]->made, 1);
        for (j = 0; j < i; j++) {
            CHECK(sc.recs[j] != sc.recs[i] && sc.recs[j]->t != sc.recs[i]->t);
        }
        getsockname(cl[i], (struct sockaddr *)&ss, &len);
        for (j = 0; j < 3; j++) {
            if (sc.recs[j]->t != NULL &&
                same_addr(aiotp_transport_get_extra_info(sc.recs[j]->t, "peername", NULL),
                          (struct sockaddr *)&ss, len)) {
                matches++;
            }
        }
        CHECK_INT(matches, 1);
    }
    for (i = 0; i < 3; i++) {
        close(cl[i]);
    }
    for (i = 0; i < 3; i++) {
        th_run_until(loop, th_is_lost, sc.recs[i], 20);
        CHECK_INT(sc.recs[i]->eofs, 1);
        CHECK_INT(sc.recs[i]->lost_status, 0);
    }
    CHECK_SIZE(aiotp_server_active_connections(s), 0);
}

/* A server that was created and closed: the port refuses; the factory is never called. */
TEST(connect_refused)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    cli_ctx cc;
    conn_done d;
    aiotp_server *s;
    int port;

    memset(&sc, 0, sizeof(sc));
    memset(&cc, 0, sizeof(cc));
    cc.rec = th_rec_new();
    s = start_server(loop, &sc, "127.0.0.1", NULL);
    if (s == NULL) {
        return;
    }
    port = server_port(s);
    CHECK_ERR(aiotp_server_close(s), 0);
    th_run_once(loop);

    CHECK_ERR(connect_to(loop, "127.0.0.1", port, &cc, &d), 0);
    CHECK_INT(d.calls, 0);
    th_run_until(loop, conn_is_done, &d, 20);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, -ECONNREFUSED);
    CHECK(d.t == NULL);
    CHECK_INT(cc.calls, 0);
    CHECK_INT(cc.rec->made, 0);
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 1); /* exactly once */
    CHECK_INT(sc.calls, 0);
}

/* Name resolution failures arrive through the completion. */
TEST(name_not_found)
{
    aiotp_loop *loop = th_loop();
    cli_ctx cc;
    conn_done d;
    srv_done sd;
    int fcalls = 0;

    memset(&cc, 0, sizeof(cc));
    cc.rec = th_rec_new();
    th_f.getaddrinfo_rc = EAI_NONAME;
    CHECK_ERR(connect_to(loop, "nonexistent.invalid", 80, &cc, &d), 0);
    CHECK_INT(d.calls, 0);
    th_run_until(loop, conn_is_done, &d, 5);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, AIOTP_ENONAME);
    CHECK(d.t == NULL);
    CHECK_INT(cc.calls, 0);

    th_f.getaddrinfo_rc = EAI_AGAIN;
    CHECK_ERR(connect_to(loop, "nonexistent.invalid", 80, &cc, &d), 0);
    th_run_until(loop, conn_is_done, &d, 5);
    CHECK_ERR(d.status, AIOTP_EAI_AGAIN);
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 1);
    CHECK_INT(cc.calls, 0);

    /* create_server reports it the same way */
    th_f.getaddrinfo_rc = EAI_NONAME;
    memset(&sd, 0, sizeof(sd));
    CHECK_ERR(aiotp_loop_create_server(loop, never_factory, &fcalls, "nonexistent.invalid", 0,
                                       NULL, on_srv, &sd), 0);
    CHECK_INT(sd.calls, 0);
    th_run_until(loop, srv_is_done, &sd, 5);
    CHECK_INT(sd.calls, 1);
    CHECK_ERR(sd.status, AIOTP_ENONAME);
    CHECK(sd.s == NULL);
    CHECK_INT(fcalls, 0);
}

/* A connect() that fails at once: the error, the socket closed (fd-leak check). */
TEST(unreachable)
{
    aiotp_loop *loop = th_loop();
    cli_ctx cc;
    conn_done d;

    memset(&cc, 0, sizeof(cc));
    cc.rec = th_rec_new();
    th_f.connect_errno = ENETUNREACH;
    CHECK_ERR(connect_to(loop, "127.0.0.1", 9, &cc, &d), 0);
    th_run_until(loop, conn_is_done, &d, 5);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, -ENETUNREACH);
    CHECK(d.t == NULL);

    th_f.connect_errno = EHOSTUNREACH;
    CHECK_ERR(connect_to(loop, "127.0.0.1", 9, &cc, &d), 0);
    th_run_until(loop, conn_is_done, &d, 5);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, -EHOSTUNREACH);
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 1);
    CHECK_INT(cc.calls, 0);
}

/* Bad arguments are returned by the method; the completion is never called. */
TEST(bad_args_synchronous)
{
    aiotp_loop *loop = th_loop();
    cli_ctx cc;
    conn_done d;
    srv_done sd;
    int fcalls = 0;
    int sv[2];
    aiotp_connect_options co;
    aiotp_server_options so;
    char longpath[200];

    memset(&cc, 0, sizeof(cc));
    memset(&d, 0, sizeof(d));
    memset(&sd, 0, sizeof(sd));
    cc.rec = th_rec_new();
    th_socketpair(sv);
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';

    /* create_connection */
    CHECK_ERR(aiotp_loop_create_connection(NULL, cli_factory, &cc, "127.0.0.1", 80, NULL,
                                           on_conn, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, NULL, &cc, "127.0.0.1", 80, NULL, on_conn,
                                           &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, "127.0.0.1", 80, NULL,
                                           NULL, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, "127.0.0.1", -1, NULL,
                                           on_conn, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, "127.0.0.1", 65536, NULL,
                                           on_conn, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, "", 80, NULL, on_conn, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, NULL, 80, NULL, on_conn,
                                           &d), AIOTP_EINVAL); /* neither host nor sock */
    aiotp_connect_options_init(&co);
    CHECK_INT(co.sock, -1);
    CHECK_INT(co.family, AF_UNSPEC);
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, NULL, 80, &co, on_conn,
                                           &d), AIOTP_EINVAL);
    co.sock = sv[0];
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, "127.0.0.1", 80, &co,
                                           on_conn, &d), AIOTP_EINVAL); /* host and sock */
    co.sock = -1;
    co.family = AF_UNIX;
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, "127.0.0.1", 80, &co,
                                           on_conn, &d), AIOTP_EINVAL);
    aiotp_connect_options_init(&co);
    co.size = 3;
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, "127.0.0.1", 80, &co,
                                           on_conn, &d), AIOTP_EINVAL);

    /* create_unix_connection */
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, &cc, NULL, NULL, on_conn,
                                                &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, &cc, "", NULL, on_conn,
                                                &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, &cc, longpath, NULL,
                                                on_conn, &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, NULL, &cc, "/tmp/x", NULL, on_conn, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, &cc, "/tmp/x", NULL, NULL,
                                                &d), AIOTP_EINVAL);
    aiotp_connect_options_init(&co);
    co.sock = sv[0];
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, &cc, "/tmp/x", &co,
                                                on_conn, &d), AIOTP_EINVAL);

    /* connect_accepted_socket */
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, NULL, &cc, sv[0], on_conn, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, &cc, sv[0], NULL, &d),
              AIOTP_EINVAL);

    /* create_server / create_unix_server */
    CHECK_ERR(aiotp_loop_create_server(loop, NULL, NULL, "127.0.0.1", 0, NULL, on_srv, &sd),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_server(loop, never_factory, &fcalls, "127.0.0.1", 0, NULL,
                                       NULL, &sd), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_server(loop, never_factory, &fcalls, "127.0.0.1", -1, NULL,
                                       on_srv, &sd), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_server(loop, never_factory, &fcalls, "127.0.0.1", 65536, NULL,
                                       on_srv, &sd), AIOTP_EINVAL);
    aiotp_server_options_init(&so);
    so.backlog = -1;
    CHECK_ERR(aiotp_loop_create_server(loop, never_factory, &fcalls, "127.0.0.1", 0, &so,
                                       on_srv, &sd), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_server(loop, never_factory, &fcalls, longpath, NULL,
                                            on_srv, &sd), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_server(loop, never_factory, &fcalls, NULL, NULL, on_srv,
                                            &sd), AIOTP_EINVAL);

    th_run_passes(loop, 3);
    CHECK_INT(d.calls, 0);
    CHECK_INT(sd.calls, 0);
    CHECK_INT(cc.calls, 0);
    CHECK_INT(fcalls, 0);
    /* the socketpair was never taken over: still blocking, still open */
    CHECK_INT(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
    close(sv[0]);
    close(sv[1]);
}

/* A failing client factory: the completion gets its status, the socket is closed; the
   server side sees a plain EOF. */
TEST(client_factory_fails)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    cli_ctx cc;
    conn_done d;
    aiotp_server *s;
    int port;
    unsigned sid;

    memset(&sc, 0, sizeof(sc));
    memset(&cc, 0, sizeof(cc));
    cc.rec = th_rec_new();
    cc.fail_rc = -11;
    s = start_server(loop, &sc, "127.0.0.1", NULL);
    if (s == NULL) {
        return;
    }
    port = server_port(s);
    CHECK_ERR(connect_to(loop, "127.0.0.1", port, &cc, &d), 0);
    th_run_until(loop, conn_is_done, &d, 20);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, -11);
    CHECK(d.t == NULL);
    CHECK_INT(cc.calls, 1);
    CHECK_INT(cc.rec->made, 0);

    run_until_count(loop, &sc.calls, 1, 20);
    if (sc.recs[0] == NULL) {
        return;
    }
    run_until_count(loop, &sc.recs[0]->made, 1, 20);
    sid = trace_id(sc.recs[0]->t);
    th_run_until(loop, th_is_lost, sc.recs[0], 20);
    th_run_passes(loop, 2);
    CHECK_STR(th_callbacks(sid), "cb connection_made\ncb eof_received\nret eof_received 0\n"
                                 "cb connection_lost status=0\n");
    CHECK_INT(d.calls, 1);
    CHECK_INT(sc.recs[0]->eofs, 1);
    CHECK_INT(sc.recs[0]->lost_status, 0);
    CHECK_INT(sc.recs[0]->chunks, 0);
}

/* A failing factory for an existing socket (sock=): the completion gets the status and
   the library closes the socket. */
TEST(client_factory_fails_sock)
{
    aiotp_loop *loop = th_loop();
    cli_ctx cc;
    conn_done d;
    aiotp_connect_options co;
    int sv[2];
    char c;

    memset(&cc, 0, sizeof(cc));
    memset(&d, 0, sizeof(d));
    cc.rec = th_rec_new();
    cc.fail_rc = -11;
    d.loop = loop;
    d.rec = cc.rec;
    th_socketpair(sv);
    aiotp_connect_options_init(&co);
    co.sock = sv[0];
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, NULL, 0, &co, on_conn, &d),
              0);
    CHECK_INT(d.calls, 0);
    th_run_until(loop, conn_is_done, &d, 5);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, -11);
    CHECK_INT(cc.calls, 1);
    /* sv[0] was closed by the library: its peer reads EOF */
    CHECK_INT(recv(sv[1], &c, 1, MSG_DONTWAIT), 0);
    close(sv[1]);
}

/* A failing server-side factory closes the accepted connection (the client reads EOF);
   the exception handler hears of it only in debug mode. */
TEST(server_factory_fails)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    cli_ctx cc;
    conn_done d;
    exc_rec e;
    aiotp_server *s;
    unsigned cid;
    int port;

    memset(&sc, 0, sizeof(sc));
    memset(&cc, 0, sizeof(cc));
    memset(&e, 0, sizeof(e));
    sc.fail_rc = -11;
    cc.rec = th_rec_new();
    aiotp_loop_set_exception_handler(loop, exc_handler, &e);
    s = start_server(loop, &sc, "127.0.0.1", NULL);
    if (s == NULL) {
        return;
    }
    port = server_port(s);
    CHECK_ERR(connect_to(loop, "127.0.0.1", port, &cc, &d), 0);
    th_run_until(loop, conn_is_done, &d, 20);
    CHECK_ERR(d.status, 0);
    if (d.t == NULL) {
        return;
    }
    cid = trace_id(d.t);
    th_run_until(loop, th_is_lost, cc.rec, 20);
    CHECK_INT(sc.calls, 1);
    CHECK_INT(e.calls, 0); /* silent outside debug mode */
    CHECK_SIZE(aiotp_server_active_connections(s), 0);
    CHECK_STR(th_callbacks(cid), "cb connection_made\ncb eof_received\nret eof_received 0\n"
                                 "cb connection_lost status=0\n");

    /* debug mode: reported once, with the server */
    aiotp_loop_set_debug(loop, true);
    cc.rec = th_rec_new();
    CHECK_ERR(connect_to(loop, "127.0.0.1", port, &cc, &d), 0);
    th_run_until(loop, conn_is_done, &d, 20);
    CHECK_ERR(d.status, 0);
    th_run_until(loop, th_is_lost, cc.rec, 20);
    CHECK_INT(sc.calls, 2);
    CHECK_INT(e.calls, 1);
    CHECK_STR(e.message, "Error on transport creation for incoming connection");
    CHECK_ERR(e.status, -11);
    CHECK(e.server == s);
    CHECK(e.transport == NULL);
    CHECK_INT(cc.rec->eofs, 1);
    CHECK_INT(cc.rec->lost_status, 0);
    CHECK_INT(aiotp_server_is_serving(s), 1);
}

/* ---- several addresses ------------------------------------------------------------------- */

/* "localhost" against a server bound only on 127.0.0.1: whatever order the resolver gives
   (::1 first exercises the fallback), the connection is made to 127.0.0.1. */
TEST(localhost_connects)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    cli_ctx cc;
    conn_done d;
    aiotp_server *s;
    const aiotp_extra *x;
    int port;

    memset(&sc, 0, sizeof(sc));
    memset(&cc, 0, sizeof(cc));
    cc.rec = th_rec_new();
    s = start_server(loop, &sc, "127.0.0.1", NULL);
    if (s == NULL) {
        return;
    }
    port = server_port(s);
    CHECK_ERR(connect_to(loop, "localhost", port, &cc, &d), 0);
    th_run_until(loop, conn_is_done, &d, 20);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, 0);
    CHECK_INT(cc.calls, 1);
    if (d.t == NULL) {
        return;
    }
    x = aiotp_transport_get_extra_info(d.t, "peername", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR &&
          x->u.addr.addr->sa_family == AF_INET);
    CHECK_ERR(aiotp_transport_close(d.t), 0);
    th_run_until(loop, th_is_lost, cc.rec, 10);
    run_until_count(loop, &sc.calls, 1, 20);
    if (sc.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, sc.recs[0], 20);
    }
}

/* A resolver seam that answers "two.test" with [127.0.0.2, 127.0.0.1] and "dup.test" with
   [127.0.0.1, 127.0.0.1]; anything else goes to the real getaddrinfo. */
static int fake_lists;

static struct addrinfo *fake_ai(const char *ip, const char *service)
{
    struct {
        struct addrinfo ai;
        struct sockaddr_in sin;
    } *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        abort();
    }
    n->ai.ai_family = AF_INET;
    n->ai.ai_socktype = SOCK_STREAM;
    n->ai.ai_protocol = IPPROTO_TCP;
    n->ai.ai_addrlen = sizeof(n->sin);
    n->ai.ai_addr = (struct sockaddr *)&n->sin;
    n->ai.ai_canonname = (char *)"fake";
    n->sin.sin_family = AF_INET;
    n->sin.sin_port = htons((unsigned short)atoi(service));
    inet_pton(AF_INET, ip, &n->sin.sin_addr);
    return &n->ai;
}

static int fake_gai(void *ctx, const char *node, const char *service,
                    const struct addrinfo *hints, struct addrinfo **res)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (node != NULL && strcmp(node, "two.test") == 0) {
        *res = fake_ai("127.0.0.2", service);
        (*res)->ai_next = fake_ai("127.0.0.1", service);
        fake_lists++;
        return 0;
    }
    if (node != NULL && strcmp(node, "dup.test") == 0) {
        *res = fake_ai("127.0.0.1", service);
        (*res)->ai_next = fake_ai("127.0.0.1", service);
        fake_lists++;
        return 0;
    }
    return p->getaddrinfo(p->ctx, node, service, hints, res);
}

static void fake_freeai(void *ctx, struct addrinfo *res)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (res != NULL && res->ai_canonname != NULL && strcmp(res->ai_canonname, "fake") == 0) {
        while (res != NULL) {
            struct addrinfo *next = res->ai_next;
            free(res);
            res = next;
        }
        fake_lists--;
        return;
    }
    p->freeaddrinfo(p->ctx, res);
}

/* METH-4 deterministically: the first address refuses, the second connects. SRV-1: an
   address resolved twice is bound once. */
TEST(addresses_in_turn)
{
    aiotp_syscalls sys = *aiotp_syscalls_posix();
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    srv_ctx sc;
    srv_done sd;
    cli_ctx cc;
    conn_done d;
    aiotp_server *s;
    const aiotp_extra *x;
    int port;
    int i;

    sys.getaddrinfo = fake_gai;
    sys.freeaddrinfo = fake_freeai;
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.syscalls = &sys;
    CHECK_ERR(aiotp_loop_create(&loop, &o), 0);
    if (loop == NULL) {
        return;
    }
    memset(&sc, 0, sizeof(sc));
    memset(&sd, 0, sizeof(sd));
    memset(&cc, 0, sizeof(cc));
    cc.rec = th_rec_new();
    sc.loop = loop;
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &sc, "dup.test", 0, NULL, on_srv,
                                       &sd), 0);
    for (i = 0; i < 10 && sd.calls == 0; i++) {
        aiotp_loop_run_once(loop);
    }
    CHECK_INT(sd.calls, 1);
    CHECK_ERR(sd.status, 0);
    s = sd.s;
    if (s == NULL) {
        aiotp_loop_free(loop);
        return;
    }
    CHECK_SIZE(aiotp_server_get_sockets(s, NULL, 0), 1); /* bound once */
    port = server_port(s);

    CHECK_ERR(connect_to(loop, "two.test", port, &cc, &d), 0);
    for (i = 0; i < 20 && (d.calls == 0 || sc.calls == 0); i++) {
        aiotp_loop_run_once(loop);
    }
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, 0);
    CHECK_INT(cc.calls, 1); /* not called for the refused attempt */
    CHECK_INT(sc.calls, 1);
    if (d.t != NULL) {
        struct sockaddr_in want;
        memset(&want, 0, sizeof(want));
        want.sin_family = AF_INET;
        want.sin_port = htons((unsigned short)port);
        want.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        x = aiotp_transport_get_extra_info(d.t, "peername", NULL);
        CHECK(same_addr(x, (struct sockaddr *)&want, sizeof(want)));
        aiotp_transport_close(d.t);
    }
    for (i = 0; i < 20 && (cc.rec->lost == 0 || sc.recs[0] == NULL || sc.recs[0]->lost == 0);
         i++) {
        aiotp_loop_run_once(loop);
    }
    CHECK_INT(cc.rec->lost, 1);
    CHECK(sc.recs[0] != NULL && sc.recs[0]->lost == 1);
    aiotp_loop_free(loop);
    CHECK_INT(fake_lists, 0); /* every resolved list was freed */
}

/* IPv6 loopback, when the host has it. */
TEST(ipv6_loopback)
{
    aiotp_loop *loop;
    srv_ctx sc;
    cli_ctx cc;
    conn_done d;
    aiotp_server *s;
    aiotp_server_options so;
    struct sockaddr_in6 a6;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    int fds[2];
    int v6only = 0;
    socklen_t olen = sizeof(v6only);
    const aiotp_extra *x;
    unsigned cid;
    char want[256];

    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    if (probe < 0 || bind(probe, (struct sockaddr *)&a6, sizeof(a6)) != 0) {
        printf("ipv6_loopback: no IPv6 loopback on this host; not exercised\n");
        if (probe >= 0) {
            close(probe);
        }
        return;
    }
    close(probe);
    loop = th_loop();
    memset(&sc, 0, sizeof(sc));
    memset(&cc, 0, sizeof(cc));
    sc.echo = true;
    cc.rec = th_rec_new();
    cc.rec->on_data = close_client_on_data;
    aiotp_server_options_init(&so);
    so.family = AF_INET6;
    s = start_server(loop, &sc, "::1", &so);
    if (s == NULL) {
        return;
    }
    CHECK_SIZE(aiotp_server_get_sockets(s, fds, 2), 1);
    CHECK(getsockopt(fds[0], IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen) == 0 && v6only != 0);
    CHECK_ERR(connect_to(loop, "::1", server_port(s), &cc, &d), 0);
    th_run_until(loop, conn_is_done, &d, 20);
    CHECK_ERR(d.status, 0);
    if (d.t == NULL) {
        return;
    }
    cid = trace_id(d.t);
    x = aiotp_transport_get_extra_info(d.t, "sockname", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR && x->u.addr.addr->sa_family == AF_INET6);
    CHECK_ERR(aiotp_transport_write(d.t, "hello", 5), 0);
    th_run_until(loop, th_is_lost, cc.rec, 20);
    snprintf(want, sizeof(want),
             "cb connection_made\ncb data_received n=5 total=5 sum=%08x\n"
             "cb connection_lost status=0\n",
             th_sum(TH_SUM_INIT, "hello", 5));
    CHECK_STR(th_callbacks(cid), want);
    CHECK_INT(sc.calls, 1);
    if (sc.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, sc.recs[0], 20);
        CHECK_INT(sc.recs[0]->eofs, 1);
    }
}

/* ---- accepting ------------------------------------------------------------------------------ */

/* Connections pending before the loop runs are all accepted in one wakeup. */
TEST(backlog_one_wakeup)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    aiotp_server *s;
    int cl[5];
    int port;
    int i;

    memset(&sc, 0, sizeof(sc));
    s = start_server(loop, &sc, "127.0.0.1", NULL);
    if (s == NULL) {
        return;
    }
    port = server_port(s);
    for (i = 0; i < 5; i++) {
        cl[i] = raw_connect4(port);
    }
    CHECK_INT(sc.calls, 0);
    th_run_once(loop);
    CHECK_INT(sc.calls, 5);
    CHECK_SIZE(aiotp_server_active_connections(s), 5);
    th_run_once(loop);
    for (i = 0; i < 5; i++) {
        CHECK(sc.recs[i] != NULL && sc.recs[i]->made == 1);
        close(cl[i]);
    }
    for (i = 0; i < 5; i++) {
        if (sc.recs[i] != NULL) {
            th_run_until(loop, th_is_lost, sc.recs[i], 20);
        }
    }
}

/* The backlog also caps the accepts of one wakeup: with backlog 2 and 3 pending, the
   first pass accepts 2 and the next one the third. */
TEST(backlog_caps_accepts)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    aiotp_server *s;
    aiotp_server_options so;
    int cl[3];
    int port;
    int i;

    memset(&sc, 0, sizeof(sc));
    aiotp_server_options_init(&so);
    so.backlog = 2;
    s = start_server(loop, &sc, "127.0.0.1", &so);
    if (s == NULL) {
        return;
    }
    port = server_port(s);
    for (i = 0; i < 3; i++) {
        cl[i] = raw_connect4(port); /* Linux queues backlog + 1 */
    }
    th_run_once(loop);
    CHECK_INT(sc.calls, 2);
    th_run_once(loop);
    CHECK_INT(sc.calls, 3);
    for (i = 0; i < 3; i++) {
        close(cl[i]);
    }
    for (i = 0; i < 3; i++) {
        if (sc.recs[i] != NULL) {
            th_run_until(loop, th_is_lost, sc.recs[i], 20);
        }
    }
}

/* close(): no longer serving, no sockets, existing connections still work, new ones are
   refused; wait_closed completes after the last connection is lost. */
TEST(server_close)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    cli_ctx cc;
    cli_ctx cc2;
    conn_done d;
    conn_done d2;
    srv_done w1;
    srv_done w2;
    aiotp_server *s;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fds[2];
    int port;
    unsigned sid;
    char want[256];

    memset(&sc, 0, sizeof(sc));
    memset(&cc, 0, sizeof(cc));
    memset(&cc2, 0, sizeof(cc2));
    memset(&w1, 0, sizeof(w1));
    memset(&w2, 0, sizeof(w2));
    sc.echo = true;
    cc.rec = th_rec_new();
    cc2.rec = th_rec_new();
    s = start_server(loop, &sc, "127.0.0.1", NULL);
    if (s == NULL) {
        return;
    }
    port = server_port(s);
    CHECK_ERR(connect_to(loop, "127.0.0.1", port, &cc, &d), 0);
    th_run_until(loop, conn_is_done, &d, 20);
    run_until_count(loop, &sc.calls, 1, 20);
    if (d.t == NULL || sc.recs[0] == NULL) {
        th_fail(__FILE__, __LINE__, "no connection");
        return;
    }
    run_until_count(loop, &sc.recs[0]->made, 1, 20);
    sid = trace_id(sc.recs[0]->t);

    CHECK_ERR(aiotp_server_wait_closed(s, on_srv, &w1), 0);
    th_run_passes(loop, 2);
    CHECK_INT(w1.calls, 0); /* still serving */

    CHECK_ERR(aiotp_server_close(s), 0);
    CHECK_INT(aiotp_server_is_serving(s), 0);
    CHECK_SIZE(aiotp_server_get_sockets(s, fds, 2), 0);
    CHECK_ERR(aiotp_server_get_sockname(s, 0, (struct sockaddr *)&ss, &len), AIOTP_EINVAL);
    CHECK_ERR(aiotp_server_close(s), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_server_start_serving(s), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_server_serve_forever(s), AIOTP_ECLOSED);
    CHECK_SIZE(aiotp_server_active_connections(s), 1);

    /* the existing connection still echoes */
    CHECK_ERR(aiotp_transport_write(d.t, "ping!", 5), 0);
    th_run_passes(loop, 3);
    CHECK_SIZE(cc.rec->rx_len, 5);
    CHECK(cc.rec->rx_len == 5 && memcmp(cc.rec->rx, "ping!", 5) == 0);
    CHECK_INT(sc.recs[0]->lost, 0);

    /* a new connection is refused */
    CHECK_ERR(connect_to(loop, "127.0.0.1", port, &cc2, &d2), 0);
    th_run_until(loop, conn_is_done, &d2, 20);
    CHECK_ERR(d2.status, -ECONNREFUSED);
    CHECK_INT(sc.calls, 1);
    CHECK_INT(w1.calls, 0); /* a connection is still alive (DEV-4, CPython 3.12.1) */

    /* the last connection goes: wait_closed completes */
    CHECK_ERR(aiotp_transport_close(d.t), 0);
    th_run_until(loop, th_is_lost, sc.recs[0], 20);
    CHECK_INT(w1.calls, 0); /* never from inside connection_lost */
    th_run_until(loop, srv_is_done, &w1, 5);
    CHECK_INT(w1.calls, 1);
    CHECK_ERR(w1.status, 0);
    CHECK(w1.s == s);
    CHECK_SIZE(aiotp_server_active_connections(s), 0);
    snprintf(want, sizeof(want),
             "cb connection_made\ncb data_received n=5 total=5 sum=%08x\n"
             "cb eof_received\nret eof_received 0\ncb connection_lost status=0\n",
             th_sum(TH_SUM_INIT, "ping!", 5));
    CHECK_STR(th_callbacks(sid), want);

    /* wait_closed after the fact completes at the next pass */
    CHECK_ERR(aiotp_server_wait_closed(s, on_srv, &w2), 0);
    CHECK_INT(w2.calls, 0);
    th_run_once(loop);
    CHECK_INT(w2.calls, 1);
    th_run_passes(loop, 2);
    CHECK_INT(w1.calls, 1);
    CHECK_INT(w2.calls, 1);
}

/* start_serving = false: bound and listening, but nothing is accepted until
   start_serving(). */
TEST(start_serving_false)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    aiotp_server *s;
    aiotp_server_options so;
    int cl;

    memset(&sc, 0, sizeof(sc));
    aiotp_server_options_init(&so);
    CHECK_INT(so.start_serving, 1);
    CHECK_INT(so.backlog, 100);
    CHECK_INT(so.reuse_address, 1);
    so.start_serving = false;
    s = start_server(loop, &sc, "127.0.0.1", &so);
    if (s == NULL) {
        return;
    }
    CHECK_INT(aiotp_server_is_serving(s), 0);
    CHECK_SIZE(aiotp_server_get_sockets(s, NULL, 0), 1);
    cl = raw_connect4(server_port(s)); /* the kernel completes it in the listen queue */
    th_run_passes(loop, 3);
    CHECK_INT(sc.calls, 0);
    CHECK_ERR(aiotp_server_start_serving(s), 0);
    CHECK_INT(aiotp_server_is_serving(s), 1);
    CHECK_ERR(aiotp_server_start_serving(s), 0); /* idempotent */
    th_run_once(loop);
    CHECK_INT(sc.calls, 1);
    close(cl);
    if (sc.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, sc.recs[0], 20);
    }
    CHECK_ERR(aiotp_server_close(s), 0);
    CHECK_ERR(aiotp_server_start_serving(s), AIOTP_ECLOSED);
}

static void stop_loop(aiotp_loop *loop, void *arg)
{
    (void)arg;
    aiotp_loop_stop(loop);
}

/* accept() failing with EMFILE: reported once, accepting pauses and resumes 1 s later. */
TEST(accept_emfile)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    exc_rec e;
    aiotp_server *s;
    aiotp_time t0;
    int cl;

    memset(&sc, 0, sizeof(sc));
    memset(&e, 0, sizeof(e));
    aiotp_loop_set_exception_handler(loop, exc_handler, &e);
    s = start_server(loop, &sc, "127.0.0.1", NULL);
    if (s == NULL) {
        return;
    }
    th_f.accept_errno = EMFILE; /* the next accept() fails, once */
    cl = raw_connect4(server_port(s));
    t0 = aiotp_loop_time(loop);
    th_run_once(loop);
    CHECK_INT(e.calls, 1);
    CHECK_STR(e.message, "socket.accept() out of system resource");
    CHECK_ERR(e.status, -EMFILE);
    CHECK(e.server == s);
    CHECK_INT(sc.calls, 0); /* the loop did not go on accepting */
    th_run_passes(loop, 3);
    CHECK_INT(sc.calls, 0); /* paused */
    CHECK_INT(aiotp_server_is_serving(s), 1);
    /* run ~1.1 s: the retry after 1 s accepts the pending connection */
    CHECK_ERR(aiotp_loop_call_later(loop, 1100 * AIOTP_NS_PER_MS, stop_loop, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run(loop), 0);
    /* a loaded machine may reach the stop timer in the pass of the retry: the accept then
       comes in the following pass */
    run_until_count(loop, &sc.calls, 1, 3);
    CHECK_INT(sc.calls, 1);
    CHECK_INT(e.calls, 1);
    CHECK(sc.last_call - t0 >= AIOTP_NS_PER_SEC);
    close(cl);
    if (sc.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, sc.recs[0], 20);
    }
}

/* ---- Unix sockets ----------------------------------------------------------------------------- */

TEST(unix_server_and_connection)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    cli_ctx cc;
    conn_done d;
    srv_done sd;
    aiotp_server *s;
    char dir[] = "/tmp/aiotp-meth-XXXXXX";
    char path[128];
    char missing[128];
    char want_c[256];
    char want_s[256];
    struct sockaddr_un un;
    const aiotp_extra *x;
    unsigned cid;
    unsigned sid;
    int stale;
    int fd;
    struct stat st;

    memset(&sc, 0, sizeof(sc));
    memset(&cc, 0, sizeof(cc));
    memset(&sd, 0, sizeof(sd));
    sc.echo = true;
    sc.loop = loop;
    cc.rec = th_rec_new();
    cc.rec->on_data = close_client_on_data;
    if (mkdtemp(dir) == NULL) {
        th_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
        return;
    }
    snprintf(path, sizeof(path), "%s/sock", dir);
    snprintf(missing, sizeof(missing), "%s/missing", dir);

    /* a stale socket file at the path (bound, then closed) */
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, path, strlen(path) + 1);
    stale = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(stale >= 0 && bind(stale, (struct sockaddr *)&un, sizeof(un)) == 0);
    close(stale);
    CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));

    CHECK_ERR(aiotp_loop_create_unix_server(loop, srv_factory, &sc, path, NULL, on_srv, &sd),
              0);
    th_run_until(loop, srv_is_done, &sd, 10);
    CHECK_ERR(sd.status, 0); /* the stale file was removed first */
    s = sd.s;
    if (s == NULL) {
        goto out;
    }
    aiotp_server_retain(s);
    CHECK_SIZE(aiotp_server_get_sockets(s, NULL, 0), 1);

    memset(&d, 0, sizeof(d));
    d.loop = loop;
    d.rec = cc.rec;
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, &cc, path, NULL, on_conn,
                                                &d), 0);
    CHECK_INT(d.calls, 0);
    th_run_until(loop, conn_is_done, &d, 20);
    CHECK_ERR(d.status, 0);
    CHECK_INT(d.made_at_done, 1);
    run_until_count(loop, &sc.calls, 1, 20);
    if (d.t == NULL || sc.recs[0] == NULL) {
        goto out_server;
    }
    cid = trace_id(d.t);
    run_until_count(loop, &sc.recs[0]->made, 1, 20);
    sid = trace_id(sc.recs[0]->t);
    x = aiotp_transport_get_extra_info(d.t, "peername", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR && x->u.addr.addr->sa_family == AF_UNIX);
    CHECK_ERR(aiotp_transport_write(d.t, "hello", 5), 0);
    th_run_until(loop, th_is_lost, cc.rec, 20);
    CHECK_INT(sc.calls, 1);
    if (sc.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, sc.recs[0], 20);
        snprintf(want_c, sizeof(want_c),
                 "cb connection_made\ncb data_received n=5 total=5 sum=%08x\n"
                 "cb connection_lost status=0\n",
                 th_sum(TH_SUM_INIT, "hello", 5));
        snprintf(want_s, sizeof(want_s),
                 "cb connection_made\ncb data_received n=5 total=5 sum=%08x\n"
                 "cb eof_received\nret eof_received 0\ncb connection_lost status=0\n",
                 th_sum(TH_SUM_INIT, "hello", 5));
        CHECK_STR(th_callbacks(cid), want_c);
        CHECK_STR(th_callbacks(sid), want_s);
        CHECK(strstr(th_trace(), "t1 open unix\n") != NULL);
        CHECK(strstr(th_trace(), "t2 open unix\n") != NULL);
    }

    /* nobody at a path: the completion gets -ENOENT */
    cc.rec = th_rec_new();
    memset(&d, 0, sizeof(d));
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, &cc, missing, NULL, on_conn,
                                                &d), 0);
    th_run_until(loop, conn_is_done, &d, 5);
    CHECK_ERR(d.status, -ENOENT);
    CHECK_INT(cc.calls, 1);

out_server:
    CHECK_ERR(aiotp_server_close(s), 0);
    aiotp_server_release(s);
    th_run_passes(loop, 2);
    /* a file that is not a socket is not removed: binding fails through the completion */
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
    }
    memset(&sd, 0, sizeof(sd));
    CHECK_ERR(aiotp_loop_create_unix_server(loop, srv_factory, &sc, path, NULL, on_srv, &sd),
              0);
    th_run_until(loop, srv_is_done, &sd, 10);
    CHECK_ERR(sd.status, -EADDRINUSE);
    CHECK(sd.s == NULL);
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
out:
    unlink(path);
    rmdir(dir);
}

/* ---- existing sockets ---------------------------------------------------------------------------- */

/* connect_accepted_socket wraps an accepted fd: server-side transport, no server object,
   made non-blocking, completion after connection_made. */
TEST(connect_accepted_socket)
{
    aiotp_loop *loop = th_loop();
    cli_ctx cc;
    conn_done d;
    int sv[2];
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    unsigned id;
    char want[256];
    char buf[8];

    memset(&cc, 0, sizeof(cc));
    memset(&d, 0, sizeof(d));
    cc.rec = th_rec_new();
    cc.rec->on_data = echo_hook;
    cc.rec->user = calloc(1, sizeof(size_t));
    d.loop = loop;
    d.rec = cc.rec;
    th_tcp_pair(sv);
    CHECK_INT(fcntl(sv[1], F_GETFL) & O_NONBLOCK, 0);
    getsockname(sv[0], (struct sockaddr *)&ss, &len);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, &cc, sv[1], on_conn, &d),
              0);
    CHECK_INT(d.calls, 0);
    th_run_until(loop, conn_is_done, &d, 5);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, 0);
    CHECK_INT(d.made_at_done, 1);
    CHECK_INT(cc.calls, 1);
    CHECK(fcntl(sv[1], F_GETFL) & O_NONBLOCK);
    if (d.t != NULL) {
        id = trace_id(d.t);
        CHECK(same_addr(aiotp_transport_get_extra_info(d.t, "peername", NULL),
                        (struct sockaddr *)&ss, len));
        CHECK(send(sv[0], "abc", 3, 0) == 3);
        th_run_passes(loop, 2);
        th_read_exact(sv[0], buf, 3);
        CHECK(memcmp(buf, "abc", 3) == 0);
        shutdown(sv[0], SHUT_WR);
        th_run_until(loop, th_is_lost, cc.rec, 10);
        snprintf(want, sizeof(want),
                 "cb connection_made\ncb data_received n=3 total=3 sum=%08x\n"
                 "cb eof_received\nret eof_received 0\ncb connection_lost status=0\n",
                 th_sum(TH_SUM_INIT, "abc", 3));
        CHECK_STR(th_callbacks(id), want);
    }
    free(cc.rec->user);
    close(sv[0]); /* sv[1] belongs to the transport, closed after connection_lost */
}

/* An existing socket must be a stream socket; invalid fds are refused; a valid one is made
   non-blocking. */
TEST(existing_socket_checks)
{
    aiotp_loop *loop = th_loop();
    cli_ctx cc;
    conn_done d;
    aiotp_connect_options co;
    int dg = socket(AF_INET, SOCK_DGRAM, 0);
    int p[2];
    int sv[2];
    int closed_fd;

    memset(&cc, 0, sizeof(cc));
    memset(&d, 0, sizeof(d));
    cc.rec = th_rec_new();
    d.loop = loop;
    d.rec = cc.rec;
    CHECK(dg >= 0);
    CHECK(pipe(p) == 0);
    closed_fd = dup(0);
    close(closed_fd);

    aiotp_connect_options_init(&co);
    co.sock = dg;
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, NULL, 0, &co, on_conn, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, &cc, NULL, &co, on_conn,
                                                &d), AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, &cc, dg, on_conn, &d),
              AIOTP_EINVAL);
    co.sock = p[0];
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, NULL, 0, &co, on_conn, &d),
              -ENOTSOCK);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, &cc, p[0], on_conn, &d),
              -ENOTSOCK);
    co.sock = closed_fd;
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, &cc, NULL, 0, &co, on_conn, &d),
              -EBADF);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, &cc, closed_fd, on_conn,
                                                 &d), -EBADF);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, &cc, -1, on_conn, &d),
              AIOTP_EBADF);
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 0);
    CHECK_INT(cc.calls, 0);
    CHECK_INT(fcntl(dg, F_GETFL) & O_NONBLOCK, 0); /* refused sockets are left alone */
    close(dg);
    close(p[0]);
    close(p[1]);

    /* a blocking stream socket is made non-blocking */
    th_socketpair(sv);
    co.sock = sv[0];
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, &cc, NULL, &co, on_conn,
                                                &d), 0);
    CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    th_run_until(loop, conn_is_done, &d, 5);
    CHECK_ERR(d.status, 0);
    CHECK_INT(d.made_at_done, 1);
    if (d.t != NULL) {
        aiotp_transport_close(d.t);
        th_run_until(loop, th_is_lost, cc.rec, 5);
    }
    close(sv[1]);
}

/* ---- serve_forever ---------------------------------------------------------------------------------- */

typedef struct forever_ctx {
    aiotp_server *s;
    int nested_rc;
    bool nested_done;
} forever_ctx;

static int close_server_on_made(th_rec *r, aiotp_transport *t)
{
    forever_ctx *f = r->user;
    (void)t;
    if (f != NULL && f->s != NULL) {
        CHECK_ERR(aiotp_server_close(f->s), 0);
    }
    return 0;
}

static void nested_forever(aiotp_loop *loop, void *arg)
{
    forever_ctx *f = arg;
    (void)loop;
    f->nested_rc = aiotp_server_serve_forever(f->s);
    f->nested_done = true;
}

/* serve_forever starts serving and runs the loop until close() is called from a
   callback; inside a running loop it returns AIOTP_ERUNNING. */
TEST(serve_forever)
{
    aiotp_loop *loop = th_loop();
    srv_ctx sc;
    forever_ctx f;
    aiotp_server *s;
    aiotp_server_options so;
    int cl;

    memset(&sc, 0, sizeof(sc));
    memset(&f, 0, sizeof(f));
    aiotp_server_options_init(&so);
    so.start_serving = false;
    sc.on_made = close_server_on_made;
    sc.user = &f;
    s = start_server(loop, &sc, "127.0.0.1", &so);
    if (s == NULL) {
        return;
    }
    f.s = s;
    CHECK_ERR(aiotp_loop_call_soon(loop, nested_forever, &f, NULL), 0);
    cl = raw_connect4(server_port(s));
    CHECK_ERR(aiotp_server_serve_forever(s), 0); /* returns once close() ran */
    CHECK(f.nested_done);
    CHECK_ERR(f.nested_rc, AIOTP_ERUNNING);
    CHECK_INT(sc.calls, 1);
    CHECK_INT(aiotp_server_is_serving(s), 0);
    CHECK_INT(aiotp_loop_is_running(loop), 0);
    CHECK_ERR(aiotp_server_serve_forever(s), AIOTP_ECLOSED);
    /* the connection outlives the server */
    CHECK(sc.recs[0] != NULL && sc.recs[0]->made == 1 && sc.recs[0]->lost == 0);
    close(cl);
    if (sc.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, sc.recs[0], 20);
    }
}

static const th_case cases[] = {
    T(tcp_roundtrip, "METH-1 METH-2 METH-3 METH-4 SRV-1 SRV-3 STREAM-ORDER-1 STREAM-TCP-1"),
    T(one_protocol_per_connection, "SRV-3 METH-3"),
    T(connect_refused, "METH-1 METH-5"),
    T(name_not_found, "METH-1 METH-4 METH-5"),
    T(unreachable, "METH-5"),
    T(bad_args_synchronous, "METH-1 METH-5 BAD-1"),
    T(client_factory_fails, "METH-3"),
    T(client_factory_fails_sock, "METH-3 METH-6"),
    T(server_factory_fails, "SRV-4"),
    T(localhost_connects, "METH-4"),
    T(addresses_in_turn, "METH-4 SRV-1"),
    T(ipv6_loopback, "SRV-1 STREAM-TCP-1"),
    T(backlog_one_wakeup, "SRV-2"),
    T(backlog_caps_accepts, "SRV-2"),
    T(server_close, "SRV-5"),
    T(start_serving_false, "SRV-7"),
    T(accept_emfile, "SRV-6"),
    T(unix_server_and_connection, "SRV-8 STREAM-UNIX-1 METH-2 METH-5"),
    T(connect_accepted_socket, "METH-6 METH-2"),
    T(existing_socket_checks, "METH-6 BAD-5"),
    T(serve_forever, "SRV-9"),
};
TH_MAIN(cases)
