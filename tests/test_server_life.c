/* tests/test_server_life.c - regression cases for the server, connection and seam defects
   of the adversarial review (issue 9): the server's lifetime (SRV-10), accept errors
   (SRV-11), connect's EAGAIN (METH-7), wrapping a socket the loop already uses (METH-8),
   close-on-exec (SYS-1), the tables checked at loop creation (LOOP-10), host "" (SRV-1).
   Real sockets (poll/epoll): close-on-exec and the kernel's Unix backlog are real-fd
   facts. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ---------------------------------------------------------------------------- */

typedef struct srv_done {
    int calls;
    int status;
    aiotp_server *s;
    uint64_t iter;
    aiotp_loop *loop;
} srv_done;

static void on_srv(void *arg, int status, aiotp_server *s)
{
    srv_done *d = arg;
    d->calls++;
    d->status = status;
    d->s = s;
    d->iter = d->loop != NULL ? aiotp_loop_iteration(d->loop) : 0;
}

static bool srv_is_done(void *arg)
{
    return ((srv_done *)arg)->calls > 0;
}

typedef struct srv_ctx {
    int calls;
    int fail_rc;
    bool close_in_factory; /* aiotp_server_close() inside the factory */
    bool then_fail_alloc;  /* ... and the transport's allocation fails */
    aiotp_server *s;
    aiotp_loop *loop;
    th_rec *recs[8];
} srv_ctx;

static void noop_cb(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

/* From now on every allocation fails, and the loop has no free room for a callback
   either (scheduled no-ops fill its slots and queue until call_soon says ENOMEM): what
   still works now needs no memory at all. */
static void exhaust_memory(aiotp_loop *loop)
{
    int n = 0;
    th_f.alloc_fail_after = 0;
    while (n < 1000000 && aiotp_loop_call_soon(loop, noop_cb, NULL, NULL) == 0) {
        n++;
    }
    CHECK_ERR(aiotp_loop_call_soon(loop, noop_cb, NULL, NULL), AIOTP_ENOMEM);
}

static int srv_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    srv_ctx *c = arg;
    th_rec *r;
    if (c->close_in_factory && c->s != NULL) {
        if (c->then_fail_alloc) {
            exhaust_memory(c->loop);
        }
        CHECK_ERR(aiotp_server_close(c->s), 0);
    }
    if (c->fail_rc < 0 || c->calls >= 8) {
        c->calls++;
        return c->fail_rc < 0 ? c->fail_rc : AIOTP_ENOMEM;
    }
    r = th_rec_new();
    c->recs[c->calls++] = r;
    *proto = &th_streaming;
    *data = r;
    return 0;
}

static aiotp_server *start_server(aiotp_loop *loop, srv_ctx *c, const char *host,
                                  const aiotp_server_options *o)
{
    srv_done d;
    memset(&d, 0, sizeof(d));
    c->loop = loop;
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, c, host, 0, o, on_srv, &d), 0);
    th_run_until(loop, srv_is_done, &d, 10);
    CHECK_ERR(d.status, 0);
    c->s = d.s;
    return d.s;
}

static int server_port(const aiotp_server *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    CHECK_ERR(aiotp_server_get_sockname(s, 0, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

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

/* ---- SRV-10: the server's lifetime -------------------------------------------------------- */

/* A wait_closed completion that waits again (defect 1: the server was freed while the
   second notification was queued). */
static srv_done again_d;

static void wait_again(void *arg, int status, aiotp_server *s)
{
    srv_done *d = arg;
    on_srv(arg, status, s);
    if (d->calls == 1) {
        CHECK_ERR(aiotp_server_wait_closed(s, on_srv, &again_d), 0);
        CHECK_INT(again_d.calls, 0); /* never inside the call */
    }
}

TEST(wait_closed_in_own_completion)
{
    aiotp_loop *loop = th_loop();
    srv_ctx c;
    srv_done d;
    aiotp_server *s;

    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    memset(&again_d, 0, sizeof(again_d));
    d.loop = loop;
    again_d.loop = loop;
    s = start_server(loop, &c, "127.0.0.1", NULL);
    CHECK_ERR(aiotp_server_close(s), 0);
    CHECK_ERR(aiotp_server_wait_closed(s, wait_again, &d), 0);
    th_run_until(loop, srv_is_done, &again_d, 5);
    CHECK_INT(d.calls, 1);
    CHECK_INT(again_d.calls, 1);
    CHECK(again_d.iter == d.iter + 1); /* the next pass */
    CHECK(again_d.s == s);
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 1);
    CHECK_INT(again_d.calls, 1);
}

/* close(), then wait_closed from a later callback, without retain() (the server used to
   die one pass after close() when nobody waited). */
static void later_wait(aiotp_loop *loop, void *arg)
{
    srv_ctx *c = arg;
    srv_done *d = (srv_done *)(void *)c->recs[7];
    (void)loop;
    CHECK_INT(aiotp_server_is_serving(c->s), 0);
    CHECK_ERR(aiotp_server_wait_closed(c->s, on_srv, d), 0);
}

TEST(wait_closed_passes_after_close)
{
    aiotp_loop *loop = th_loop();
    srv_ctx c;
    srv_done d;
    aiotp_server *s;

    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    s = start_server(loop, &c, "127.0.0.1", NULL);
    CHECK_ERR(aiotp_server_close(s), 0);
    th_run_passes(loop, 5);
    c.recs[7] = (th_rec *)(void *)&d; /* (an argument slot) */
    CHECK_ERR(aiotp_loop_call_soon(loop, later_wait, &c, NULL), 0);
    th_run_until(loop, srv_is_done, &d, 5);
    c.recs[7] = NULL;
    CHECK_INT(d.calls, 1);
    CHECK(d.s == s);
    CHECK_ERR(d.status, 0);
}

/* close() inside the server's own protocol factory, with the transport's allocation
   failing (defect 3: the server was freed inside the factory and the accept path went on
   using it). */
TEST(close_in_factory_alloc_fails)
{
    aiotp_loop *loop = th_loop();
    srv_ctx c;
    srv_done d;
    aiotp_server *s;
    int cl;
    char b;

    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    s = start_server(loop, &c, "127.0.0.1", NULL);
    c.close_in_factory = true;
    c.then_fail_alloc = true;
    cl = raw_connect4(server_port(s));
    run_until_count(loop, &c.calls, 1, 10);
    th_f.alloc_fail_after = -1;
    CHECK_INT(aiotp_server_is_serving(s), 0);
    CHECK_SIZE(aiotp_server_active_connections(s), 0);
    /* the accepted connection was closed: the client reads EOF */
    CHECK_INT(read(cl, &b, 1), 0);
    close(cl);
    CHECK_ERR(aiotp_server_wait_closed(s, on_srv, &d), 0);
    th_run_until(loop, srv_is_done, &d, 5);
    CHECK_INT(d.calls, 1);
}

/* The same with the allocation succeeding: the connection lives on, wait_closed waits for
   it. */
TEST(close_in_factory_connection_lives)
{
    aiotp_loop *loop = th_loop();
    srv_ctx c;
    srv_done d;
    aiotp_server *s;
    int cl;

    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    s = start_server(loop, &c, "127.0.0.1", NULL);
    c.close_in_factory = true;
    cl = raw_connect4(server_port(s));
    run_until_count(loop, &c.calls, 1, 10);
    CHECK_ERR(aiotp_server_wait_closed(s, on_srv, &d), 0);
    if (c.recs[0] == NULL) {
        th_fail(__FILE__, __LINE__, "no connection");
        close(cl);
        return;
    }
    run_until_count(loop, &c.recs[0]->made, 1, 5);
    CHECK_SIZE(aiotp_server_active_connections(s), 1);
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 0);
    close(cl);
    th_run_until(loop, th_is_lost, c.recs[0], 10);
    th_run_until(loop, srv_is_done, &d, 5);
    CHECK_INT(d.calls, 1);
}

/* ENOMEM after wait_closed: close() and the last connection need no memory, the
   completion comes (defect 11: it was lost although both calls returned 0). And a
   wait_closed that cannot reserve its completion says so at once. */
TEST(wait_closed_survives_enomem)
{
    aiotp_loop *loop = th_loop();
    srv_ctx c;
    srv_done d;
    srv_done d2;
    aiotp_server *s;
    long k;

    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    memset(&d2, 0, sizeof(d2));
    s = start_server(loop, &c, "127.0.0.1", NULL);
    aiotp_server_retain(s); /* for the wait_closed calls after the first completion */
    CHECK_ERR(aiotp_server_wait_closed(s, on_srv, &d), 0);
    exhaust_memory(loop);
    CHECK_ERR(aiotp_server_close(s), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0); /* the completion needs no memory */
    th_f.alloc_fail_after = -1;
    CHECK_INT(d.calls, 1);
    /* wait_closed under allocation failure: refused now, or delivered later */
    for (k = 0; k < 4; k++) {
        int rc;
        memset(&d2, 0, sizeof(d2));
        th_f.alloc_fail_after = k;
        rc = aiotp_server_wait_closed(s, on_srv, &d2);
        th_f.alloc_fail_after = -1;
        if (rc == 0) {
            th_run_until(loop, srv_is_done, &d2, 5);
            CHECK_INT(d2.calls, 1);
        } else {
            CHECK_ERR(rc, AIOTP_ENOMEM);
            th_run_passes(loop, 2);
            CHECK_INT(d2.calls, 0);
        }
    }
    aiotp_server_release(s);
}

/* ---- SRV-10: create_server(sock=) listens (defect 6) ------------------------------------ */

TEST(existing_socket_not_listening)
{
    aiotp_loop *loop = th_loop();
    srv_ctx c;
    aiotp_server_options o;
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    aiotp_server *s;
    int cl;

    memset(&c, 0, sizeof(c));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    aiotp_server_options_init(&o);
    o.sock = fd; /* bound, not listening */
    s = start_server(loop, &c, NULL, &o);
    if (s == NULL) {
        return;
    }
    cl = raw_connect4(ntohs(a.sin_port));
    run_until_count(loop, &c.calls, 1, 10);
    CHECK_INT(c.calls, 1);
    close(cl);
    if (c.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, c.recs[0], 10);
    }
    CHECK_ERR(aiotp_server_close(s), 0);
}

/* ---- SRV-11: accept errors never spin ---------------------------------------------------- */

typedef struct exc_rec {
    int calls;
    int status;
    char message[128];
} exc_rec;

static void exc_handler(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    exc_rec *e = arg;
    (void)loop;
    e->calls++;
    e->status = ctx->status;
    snprintf(e->message, sizeof(e->message), "%s", ctx->message);
}

static void stop_loop(aiotp_loop *loop, void *arg)
{
    (void)arg;
    aiotp_loop_stop(loop);
}

TEST(accept_other_error_pauses)
{
    aiotp_loop *loop = th_loop();
    srv_ctx c;
    exc_rec e;
    aiotp_server *s;
    int cl;

    memset(&c, 0, sizeof(c));
    memset(&e, 0, sizeof(e));
    aiotp_loop_set_exception_handler(loop, exc_handler, &e);
    s = start_server(loop, &c, "127.0.0.1", NULL);
    th_f.accept_errno = EINVAL; /* once: as from a socket that is not listening */
    cl = raw_connect4(server_port(s));
    th_run_passes(loop, 4);
    CHECK_INT(e.calls, 1);
    CHECK_STR(e.message, "Error on accept()");
    CHECK_ERR(e.status, -EINVAL);
    CHECK_INT(c.calls, 0); /* paused, not retried at every pass */
    CHECK_ERR(aiotp_loop_call_later(loop, 1100 * AIOTP_NS_PER_MS, stop_loop, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run(loop), 0);
    run_until_count(loop, &c.calls, 1, 3);
    CHECK_INT(c.calls, 1);
    CHECK_INT(e.calls, 1);
    close(cl);
    if (c.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, c.recs[0], 10);
    }
}

TEST(accept_per_connection_error_skipped)
{
    aiotp_loop *loop = th_loop();
    srv_ctx c;
    exc_rec e;
    aiotp_server *s;
    int cl;

    memset(&c, 0, sizeof(c));
    memset(&e, 0, sizeof(e));
    aiotp_loop_set_exception_handler(loop, exc_handler, &e);
    s = start_server(loop, &c, "127.0.0.1", NULL);
    th_f.accept_errno = ECONNABORTED; /* that pending connection is gone: the next one */
    cl = raw_connect4(server_port(s));
    th_run_once(loop);
    CHECK_INT(c.calls, 1); /* the same wakeup accepted the real connection */
    CHECK_INT(e.calls, 0);
    close(cl);
    if (c.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, c.recs[0], 10);
    }
}

/* accept() fails with EMFILE once, on demand */
static bool emfile_once;
static int fa_accept(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (emfile_once) {
        emfile_once = false;
        return -EMFILE;
    }
    return p->accept(p->ctx, fd, a, l);
}

static th_counter fs_mem = {-1, 0};
static const aiotp_allocator fs_alloc = TH_COUNTING_ALLOCATOR(&fs_mem);

/* EMFILE pauses accepting; the retry's re-registration fails: reported and retried 1 s
   later, never left paused (SRV-11). */
TEST(accept_retry_reregister_fails)
{
    aiotp_loop_options lo;
    aiotp_loop *loop = NULL;
    srv_ctx c;
    exc_rec e;
    srv_done d;
    aiotp_server *s;
    int cl;
    aiotp_syscalls sys = *aiotp_syscalls_posix();

    sys.accept = fa_accept;
    memset(&lo, 0, sizeof(lo));
    lo.size = sizeof(lo);
    lo.syscalls = &sys;
    lo.backend = th_failing_backend();
    lo.allocator = &fs_alloc;
    CHECK_ERR(aiotp_loop_create(&loop, &lo), 0);
    if (loop == NULL) {
        return;
    }
    memset(&c, 0, sizeof(c));
    memset(&e, 0, sizeof(e));
    memset(&d, 0, sizeof(d));
    aiotp_loop_set_exception_handler(loop, exc_handler, &e);
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &c, "127.0.0.1", 0, NULL, on_srv, &d),
              0);
    while (d.calls == 0) {
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
    }
    s = d.s;
    emfile_once = true;
    cl = raw_connect4(server_port(s));
    CHECK_ERR(aiotp_loop_run_once(loop), 0);
    CHECK_INT(e.calls, 1);
    CHECK_ERR(e.status, -EMFILE);
    th_bf.fail_set = true; /* the retry after 1 s cannot re-register */
    CHECK_ERR(aiotp_loop_call_later(loop, 1100 * AIOTP_NS_PER_MS, stop_loop, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run(loop), 0);
    CHECK_INT(e.calls, 2);
    CHECK_STR(e.message, "Cannot resume accepting; retrying in 1 s");
    CHECK_INT(c.calls, 0);
    th_bf.fail_set = false; /* the next retry succeeds */
    CHECK_ERR(aiotp_loop_call_later(loop, 1100 * AIOTP_NS_PER_MS, stop_loop, NULL, NULL), 0);
    CHECK_ERR(aiotp_loop_run(loop), 0);
    while (c.calls == 0 && aiotp_loop_run_once(loop) == 0 && e.calls < 10) {
        /* a loaded machine may reach the stop timer in the pass of the retry */
        if (aiotp_loop_iteration(loop) > 10000) {
            break;
        }
    }
    CHECK_INT(c.calls, 1);
    CHECK_INT(e.calls, 2);
    close(cl);
    if (c.recs[0] != NULL) {
        while (c.recs[0]->lost == 0 && aiotp_loop_run_once(loop) == 0) {
        }
    }
    CHECK_ERR(aiotp_server_close(s), 0);
    aiotp_loop_free(loop);
    CHECK_SIZE(fs_mem.live, 0);
}

/* ---- METH-7: connect's EAGAIN ------------------------------------------------------------- */

typedef struct conn_done {
    int calls;
    int status;
    aiotp_transport *t;
} conn_done;

static void on_conn(void *arg, int status, aiotp_transport *t)
{
    conn_done *d = arg;
    d->calls++;
    d->status = status;
    d->t = t;
}

static bool conn_is_done(void *arg)
{
    return ((conn_done *)arg)->calls > 0;
}

static int cli_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    th_rec *r = arg;
    *proto = &th_streaming;
    *data = r;
    return 0;
}

TEST(unix_connect_backlog_full)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    char dir[] = "/tmp/aiotp-rel-XXXXXX";
    char path[64];
    struct sockaddr_un un;
    int l;
    int fill[64];
    int nfill = 0;
    conn_done d;

    if (mkdtemp(dir) == NULL) {
        th_fail(__FILE__, __LINE__, "mkdtemp");
        return;
    }
    snprintf(path, sizeof(path), "%s/s", dir);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(bind(l, (struct sockaddr *)&un, sizeof(un)), 0);
    CHECK_INT(listen(l, 0), 0);
    /* fill the backlog with non-blocking connects until the kernel says EAGAIN */
    while (nfill < 64) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        int rc;
        (void)fcntl(fd, F_SETFL, O_NONBLOCK);
        rc = connect(fd, (struct sockaddr *)&un, sizeof(un));
        if (rc != 0 && errno == EAGAIN) {
            close(fd);
            break;
        }
        fill[nfill++] = fd;
    }
    CHECK(nfill < 64);
    memset(&d, 0, sizeof(d));
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, r, path, NULL, on_conn, &d),
              0);
    th_run_until(loop, conn_is_done, &d, 10);
    CHECK_ERR(d.status, -EAGAIN); /* defect 5: "connected" on an unconnected socket */
    CHECK(d.t == NULL);
    CHECK_INT(r->made, 0);
    while (nfill > 0) {
        close(fill[--nfill]);
    }
    close(l);
    unlink(path);
    rmdir(dir);
}

TEST(connect_eagain_injected)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    conn_done d;

    memset(&d, 0, sizeof(d));
    th_f.connect_errno = EAGAIN;
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, r, "127.0.0.1", 9, NULL, on_conn,
                                           &d),
              0);
    th_run_until(loop, conn_is_done, &d, 10);
    th_f.connect_errno = 0;
    CHECK_ERR(d.status, -EAGAIN);
    CHECK_INT(r->made, 0);
}

/* ---- METH-8: a socket the loop already uses cannot be wrapped again ------------------------- */

TEST(wrap_busy_fd_refused)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    th_rec *r2 = th_rec_new();
    srv_ctx c;
    aiotp_connect_options co;
    aiotp_server_options so;
    conn_done d;
    aiotp_server *s;
    aiotp_transport *t;
    int sv[2];
    int sv2[2];
    int lfd = -1;

    memset(&c, 0, sizeof(c));
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    memset(&d, 0, sizeof(d));
    /* the fd of a live transport */
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, r2, sv[0], on_conn, &d),
              AIOTP_EBUSY);
    aiotp_connect_options_init(&co);
    co.sock = sv[0];
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, r2, NULL, 0, &co, on_conn, &d),
              AIOTP_EBUSY);
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, cli_factory, r2, NULL, &co, on_conn, &d),
              AIOTP_EBUSY);
    /* the listening socket of a server */
    s = start_server(loop, &c, "127.0.0.1", NULL);
    CHECK_SIZE(aiotp_server_get_sockets(s, &lfd, 1), 1);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, r2, lfd, on_conn, &d),
              AIOTP_EBUSY);
    aiotp_server_options_init(&so);
    so.sock = lfd;
    CHECK_ERR(aiotp_loop_create_server(loop, srv_factory, &c, NULL, 0, &so, on_srv, NULL),
              AIOTP_EBUSY);
    /* a wrap still pending */
    th_socketpair(sv2);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, r2, sv2[0], on_conn, &d), 0);
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, r2, sv2[0], on_conn, &d),
              AIOTP_EBUSY);
    th_run_until(loop, conn_is_done, &d, 5);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, 0);
    th_run_passes(loop, 2);
    CHECK_INT(r->made, 1);
    CHECK_INT(r2->made, 1);
    CHECK_INT(r->lost + r2->lost, 0);
    /* nothing changed: the first transport still reads */
    CHECK_INT(write(sv[1], "ok", 2), 2);
    th_run_once(loop);
    CHECK_SIZE(r->rx_len, 2);
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_close(d.t), 0);
    CHECK_ERR(aiotp_server_close(s), 0);
    th_run_until(loop, th_is_lost, r2, 5);
    th_run_until(loop, th_is_lost, r, 5);
    close(sv[1]);
    close(sv2[1]);
}

/* ---- SYS-1: close-on-exec ------------------------------------------------------------------ */

static bool cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    return fl >= 0 && (fl & FD_CLOEXEC) != 0;
}

TEST(sockets_close_on_exec)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    srv_ctx c;
    conn_done d;
    aiotp_server *s;
    const aiotp_extra *x;
    int lfd = -1;
    int sv[2];
    aiotp_transport *t;

    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    s = start_server(loop, &c, "127.0.0.1", NULL);
    CHECK_SIZE(aiotp_server_get_sockets(s, &lfd, 1), 1);
    CHECK(cloexec(lfd));
    CHECK_ERR(aiotp_loop_create_connection(loop, cli_factory, r, "127.0.0.1", server_port(s),
                                           NULL, on_conn, &d),
              0);
    th_run_until(loop, conn_is_done, &d, 10);
    run_until_count(loop, &c.calls, 1, 10);
    x = aiotp_transport_get_extra_info(d.t, "socket", NULL);
    CHECK(x != NULL && cloexec(x->u.fd)); /* a socket the library made */
    if (c.recs[0] != NULL) {
        run_until_count(loop, &c.recs[0]->made, 1, 5);
        x = aiotp_transport_get_extra_info(c.recs[0]->t, "socket", NULL);
        CHECK(x != NULL && cloexec(x->u.fd)); /* an accepted one */
    }
    /* a socket handed in */
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK(!cloexec(sv[0]));
    t = th_wrap(loop, sv[0], &th_streaming, th_rec_new());
    CHECK(cloexec(sv[0]));
    CHECK_ERR(aiotp_transport_close(t), 0);
    CHECK_ERR(aiotp_transport_close(d.t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    if (c.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, c.recs[0], 10);
    }
    th_run_passes(loop, 2);
    close(sv[1]);
}

/* ---- LOOP-10: the tables are checked at creation --------------------------------------------- */

TEST(loop_create_checks_tables)
{
    typedef void (*any_fn)(void);
    aiotp_syscalls sys = *aiotp_syscalls_posix();
    aiotp_allocator al = *aiotp_allocator_default();
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    size_t off;
    int entries = 0;

    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.syscalls = &sys;
    /* every entry, one at a time */
    for (off = offsetof(aiotp_syscalls, socket); off + sizeof(any_fn) <= sizeof(sys);
         off += sizeof(any_fn)) {
        aiotp_syscalls broken = sys;
        any_fn none = NULL;
        memcpy((unsigned char *)&broken + off, &none, sizeof(none));
        o.syscalls = &broken;
        CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
        CHECK(loop == NULL);
        entries++;
    }
    CHECK(entries >= 23); /* socket .. unlink_socket, and any appended later */
    sys.size = sizeof(sys) - 1;
    o.syscalls = &sys;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    sys.size = sizeof(sys);
    o.syscalls = &sys;
    al.free = NULL;
    o.allocator = &al;
    CHECK_ERR(aiotp_loop_create(&loop, &o), AIOTP_EINVAL);
    al = *aiotp_allocator_default();
    CHECK_ERR(aiotp_loop_create(&loop, &o), 0);
    aiotp_loop_free(loop);
}

/* ---- SRV-1: host "" is every interface ------------------------------------------------------- */

TEST(host_empty_every_interface)
{
    aiotp_loop *loop = th_loop();
    srv_ctx c;
    aiotp_server *s;
    int cl;

    memset(&c, 0, sizeof(c));
    s = start_server(loop, &c, "", NULL);
    if (s == NULL) {
        return;
    }
    CHECK(aiotp_server_get_sockets(s, NULL, 0) >= 1);
    cl = raw_connect4(server_port(s));
    run_until_count(loop, &c.calls, 1, 10);
    CHECK_INT(c.calls, 1);
    close(cl);
    if (c.recs[0] != NULL) {
        th_run_until(loop, th_is_lost, c.recs[0], 10);
    }
    CHECK_ERR(aiotp_server_close(s), 0);
}

static const th_case cases[] = {
    T(wait_closed_in_own_completion, "SRV-10 SRV-5"),
    T(wait_closed_passes_after_close, "SRV-10"),
    T(close_in_factory_alloc_fails, "SRV-10 SRV-4"),
    T(close_in_factory_connection_lives, "SRV-10 SRV-5"),
    T(wait_closed_survives_enomem, "SRV-10 BAD-3"),
    T(existing_socket_not_listening, "SRV-10 SRV-7"),
    T(accept_other_error_pauses, "SRV-11"),
    T(accept_per_connection_error_skipped, "SRV-11"),
    T(accept_retry_reregister_fails, "SRV-11"),
    T(unix_connect_backlog_full, "METH-7"),
    T(connect_eagain_injected, "METH-7"),
    T(wrap_busy_fd_refused, "METH-8 LOOP-8"),
    T(sockets_close_on_exec, "SYS-1"),
    T(loop_create_checks_tables, "LOOP-10 BAD-1"),
    T(host_empty_every_interface, "SRV-1"),
};

TH_MAIN(cases)
