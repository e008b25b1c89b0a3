/* tests/test_failure_paths.c - the failure paths of the transport base, connections,
   servers and the system seam that the other files do not reach: a backend that cannot
   watch a socket, a non-blocking connect that completes at once, allocation failures at
   every step of creating a transport or a server, the getaddrinfo code map, the POSIX
   table's own error returns, error names, and a transport kind without methods. Each
   case asserts the documented outcome (spec/rules.md names the rule). Real sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "req_int.h"
#include "transport_int.h"

/* ---- a loop whose backend and syscalls fail on demand -------------------------------------- */

static bool send_eagain;   /* send/sendmsg: -EAGAIN */
static ssize_t send_max;   /* > 0: send/sendmsg take at most this many bytes */
static bool nonblock_fail; /* set_nonblock fails with -EIO */
static bool connect_now;   /* connect() completes at once (a blocking connect) */

static ssize_t fs_send(void *ctx, int fd, const void *b, size_t n, int fl)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (send_eagain) {
        return -EAGAIN;
    }
    if (send_max > 0 && n > (size_t)send_max) {
        n = (size_t)send_max;
    }
    return p->send(p->ctx, fd, b, n, fl);
}
static ssize_t fs_sendmsg(void *ctx, int fd, const struct msghdr *m, int fl)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (send_eagain) {
        return -EAGAIN;
    }
    if (send_max > 0 && m->msg_iovlen > 0) {
        size_t n = m->msg_iov[0].iov_len < (size_t)send_max ? m->msg_iov[0].iov_len
                                                             : (size_t)send_max;
        return p->send(p->ctx, fd, m->msg_iov[0].iov_base, n, fl);
    }
    return p->sendmsg(p->ctx, fd, m, fl);
}
static int fs_set_nonblock(void *ctx, int fd)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    return nonblock_fail ? -EIO : p->set_nonblock(p->ctx, fd);
}
static int fs_connect(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (connect_now) {
        int fl = fcntl(fd, F_GETFL);
        int rc;
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        rc = p->connect(p->ctx, fd, a, l);
        (void)fcntl(fd, F_SETFL, fl);
        return rc;
    }
    return p->connect(p->ctx, fd, a, l);
}

static th_counter fl_mem = {-1, 0};
static long fail_once_at; /* fail allocation number fail_once_at (1-based); 0: never */
static long alloc_count;

static void *fo_alloc(void *ctx, size_t n)
{
    if (fail_once_at > 0 && ++alloc_count == fail_once_at) {
        return NULL;
    }
    return th_counting_alloc(ctx, n);
}
static void *fo_realloc(void *ctx, void *p, size_t n)
{
    if (fail_once_at > 0 && ++alloc_count == fail_once_at) {
        return NULL;
    }
    return th_counting_realloc(ctx, p, n);
}
static const aiotp_allocator fl_alloc = {fo_alloc, fo_realloc, th_counting_free, &fl_mem};
static aiotp_syscalls fl_sys;

static aiotp_loop *failing_loop(void)
{
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    th_bf.fail_set = false;
    send_eagain = false;
    send_max = 0;
    nonblock_fail = false;
    connect_now = false;
    fail_once_at = 0;
    alloc_count = 0;
    fl_sys = *aiotp_syscalls_posix();
    fl_sys.send = fs_send;
    fl_sys.sendmsg = fs_sendmsg;
    fl_sys.set_nonblock = fs_set_nonblock;
    fl_sys.connect = fs_connect;
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.backend = th_failing_backend();
    o.syscalls = &fl_sys;
    o.allocator = &fl_alloc;
    CHECK_ERR(aiotp_loop_create(&loop, &o), 0);
    return loop;
}

static void tick(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

static void pass(aiotp_loop *loop)
{
    aiotp_handle h = 0;
    (void)aiotp_loop_call_later(loop, 5 * AIOTP_NS_PER_MS, tick, NULL, &h);
    (void)aiotp_loop_run_once(loop);
    (void)aiotp_loop_cancel(loop, h);
}

static void done_loop(aiotp_loop *loop)
{
    aiotp_loop_free(loop);
    CHECK_SIZE(fl_mem.live, 0);
}

typedef struct conn {
    int calls;
    int status;
    aiotp_transport *t;
} conn;

static void on_conn(void *arg, int status, aiotp_transport *t)
{
    conn *c = arg;
    c->calls++;
    c->status = status;
    c->t = t;
}

static int rec_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &th_streaming;
    *data = arg;
    return 0;
}

/* A transport of the failing loop over one end of a socketpair. */
static aiotp_transport *wrap(aiotp_loop *loop, int fd, th_rec *r)
{
    conn c;
    int i;
    memset(&c, 0, sizeof(c));
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, rec_factory, r, fd, on_conn, &c), 0);
    for (i = 0; i < 5 && c.calls == 0; i++) {
        pass(loop);
    }
    CHECK_ERR(c.status, 0);
    return c.t;
}

/* ---- the backend cannot watch the socket ---------------------------------------------------- */

TEST(reader_cannot_be_watched)
{
    aiotp_loop *loop = failing_loop();
    th_rec *r = th_rec_new();
    conn c;
    int sv[2];
    int i;

    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(&c, 0, sizeof(c));
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, rec_factory, r, sv[0], on_conn, &c), 0);
    pass(loop);       /* the transport is made */
    th_bf.fail_set = true;  /* connection_made cannot arm the reader: a fatal error */
    for (i = 0; i < 5 && r->lost == 0; i++) {
        pass(loop);
    }
    CHECK_INT(r->made, 1);
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, AIOTP_ENOMEM);
    close(sv[1]);
    done_loop(loop);
}

static void writer_case(bool partial, bool lines)
{
    aiotp_loop *loop = failing_loop();
    th_rec *r = th_rec_new();
    aiotp_buf b[2] = {{"hello", 5}, {"world", 5}};
    aiotp_transport *t;
    char got[16];
    int sv[2];
    int rc;
    int i;

    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t = wrap(loop, sv[0], r);
    if (t == NULL) {
        close(sv[1]);
        done_loop(loop);
        return;
    }
    if (partial) {
        send_max = 3;
    } else {
        send_eagain = true;
    }
    th_bf.fail_set = true; /* the rest cannot be watched for: a fatal error */
    rc = lines ? aiotp_transport_writelines(t, b, 2) : aiotp_transport_write(t, "helloworld", 10);
    th_bf.fail_set = false;
    send_eagain = false;
    send_max = 0;
    /* WRITE-WRITE-10: nothing accepted -> ECLOSED; a prefix sent -> the error itself */
    CHECK_ERR(rc, partial ? AIOTP_ENOMEM : AIOTP_ECLOSED);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    for (i = 0; i < 5 && r->lost == 0; i++) {
        pass(loop);
    }
    CHECK_ERR(r->lost_status, AIOTP_ENOMEM);
    CHECK_SIZE(th_drain_fd(sv[1], got, sizeof(got)), partial ? 3 : 0);
    close(sv[1]);
    done_loop(loop);
}

TEST(writer_cannot_be_watched_nothing_sent)
{
    writer_case(false, false);
}

TEST(writer_cannot_be_watched_prefix_sent)
{
    writer_case(true, false);
}

TEST(writelines_writer_cannot_be_watched)
{
    writer_case(false, true);
}

TEST(writelines_writer_cannot_be_watched_prefix)
{
    writer_case(true, true);
}

/* start_serving() that cannot watch its second socket undoes the first (nothing is left
   half-serving) and says why. */
static aiotp_server *the_server;
static int server_status;
static void on_server(void *arg, int status, aiotp_server *s)
{
    (void)arg;
    server_status = status;
    the_server = s;
}

TEST(start_serving_cannot_watch)
{
    aiotp_loop *loop = failing_loop();
    aiotp_server_options o;
    int i;

    aiotp_server_options_init(&o);
    o.start_serving = false;
    the_server = NULL;
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 0, &o, on_server,
                                       NULL),
              0);
    for (i = 0; i < 5 && the_server == NULL; i++) {
        pass(loop);
    }
    if (the_server == NULL) {
        done_loop(loop);
        return;
    }
    th_bf.fail_set = true;
    CHECK_ERR(aiotp_server_start_serving(the_server), AIOTP_ENOMEM);
    CHECK_INT(aiotp_server_is_serving(the_server), 0);
    th_bf.fail_set = false;
    CHECK_ERR(aiotp_server_start_serving(the_server), 0);
    CHECK_INT(aiotp_server_is_serving(the_server), 1);
    CHECK_ERR(aiotp_server_close(the_server), 0);
    done_loop(loop);
}

/* create_server with start_serving, the socket cannot be watched: the completion fails. */
TEST(create_server_cannot_watch)
{
    aiotp_loop *loop = failing_loop();
    int i;

    the_server = NULL;
    server_status = 1;
    th_bf.fail_set = true;
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 0, NULL, on_server,
                                       NULL),
              0);
    for (i = 0; i < 5 && server_status == 1; i++) {
        pass(loop);
    }
    CHECK_ERR(server_status, AIOTP_ENOMEM);
    CHECK(the_server == NULL);
    done_loop(loop);
}

/* ---- connecting ---------------------------------------------------------------------------- */

static int listener(struct sockaddr_in *a)
{
    socklen_t len = sizeof(*a);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_INT(bind(l, (struct sockaddr *)a, sizeof(*a)), 0);
    CHECK_INT(listen(l, 8), 0);
    CHECK_INT(getsockname(l, (struct sockaddr *)a, &len), 0);
    return l;
}

static void connect_case(int which)
{
    aiotp_loop *loop = failing_loop();
    th_rec *r = th_rec_new();
    struct sockaddr_in a;
    int l = listener(&a);
    conn c;
    int i;

    memset(&c, 0, sizeof(c));
    if (which == 0) {
        connect_now = true; /* METH-4: connected at once, no waiting for writability */
    } else if (which == 1) {
        nonblock_fail = true; /* the socket cannot be made non-blocking */
    } else {
        th_bf.fail_set = true; /* the connecting socket cannot be watched */
    }
    CHECK_ERR(aiotp_loop_create_connection(loop, rec_factory, r, "127.0.0.1",
                                           ntohs(a.sin_port), NULL, on_conn, &c),
              0);
    for (i = 0; i < 10 && c.calls == 0; i++) {
        pass(loop);
    }
    th_bf.fail_set = false;
    CHECK_INT(c.calls, 1);
    if (which == 0) {
        CHECK_ERR(c.status, 0);
        CHECK_INT(r->made, 1);
        CHECK_ERR(aiotp_transport_close(c.t), 0);
        for (i = 0; i < 5 && r->lost == 0; i++) {
            pass(loop);
        }
    } else {
        CHECK_ERR(c.status, which == 1 ? -EIO : AIOTP_ENOMEM);
        CHECK_INT(r->made, 0);
    }
    close(l);
    done_loop(loop);
}

TEST(connect_completes_at_once)
{
    connect_case(0);
}

TEST(connect_nonblock_fails)
{
    connect_case(1);
}

TEST(connect_cannot_watch)
{
    connect_case(2);
}

TEST(unix_connect_socket_fails)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    conn c;
    aiotp_connect_options o;

    memset(&c, 0, sizeof(c));
    aiotp_connect_options_init(&o);
    o.size = 1;
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, rec_factory, r, "/tmp/x", &o, on_conn, &c),
              AIOTP_EINVAL); /* METH-5: a bad options table */
    th_f.socket_errno = EMFILE;
    CHECK_ERR(aiotp_loop_create_unix_connection(loop, rec_factory, r, "/tmp/aiotp-none", NULL,
                                                on_conn, &c),
              0);
    while (c.calls == 0) {
        th_run_once(loop);
    }
    th_f.socket_errno = 0;
    CHECK_ERR(c.status, -EMFILE);
    CHECK_INT(r->made, 0);
}

/* ---- allocation failures at every step --------------------------------------------------- */

/* Wrapping a socket (with a high fd number, so the loop's fd table has to grow) with the
   k-th allocation failing, for every k: either the transport works, or the call or the
   completion says AIOTP_ENOMEM; the socket is never leaked (BAD-3, METH-1). */
TEST(wrap_alloc_failures)
{
    long k;
    int ok = 0;
    int refused = 0;
    for (k = 1; k <= 12; k++) {
        aiotp_loop *loop = failing_loop();
        th_rec *r = th_rec_new();
        conn c;
        int sv[2];
        int hi;
        int rc;
        int i;

        CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        hi = dup2(sv[0], 700);
        close(sv[0]);
        memset(&c, 0, sizeof(c));
        alloc_count = 0;
        fail_once_at = k;
        rc = aiotp_loop_connect_accepted_socket(loop, rec_factory, r, hi, on_conn, &c);
        for (i = 0; rc == 0 && i < 5 && c.calls == 0; i++) {
            pass(loop);
        }
        fail_once_at = 0;
        if (rc != 0 || c.status != 0) {
            CHECK_ERR(rc != 0 ? rc : c.status, AIOTP_ENOMEM);
            CHECK_INT(r->made, 0);
            refused++;
            if (rc != 0) {
                close(hi); /* METH-1: refused by the call, still the caller's */
            }
        } else {
            /* made; the backend may then have had no memory to watch it: a fatal error,
               reported through connection_lost */
            bool failed = aiotp_transport_is_closing(c.t);
            CHECK_INT(r->made, 1);
            CHECK_ERR(aiotp_transport_close(c.t), failed ? AIOTP_ECLOSED : 0);
            for (i = 0; i < 5 && r->lost == 0; i++) {
                pass(loop);
            }
            CHECK_INT(r->lost, 1);
            CHECK_ERR(r->lost_status, failed ? AIOTP_ENOMEM : 0);
            ok++;
        }
        close(sv[1]);
        done_loop(loop);
    }
    CHECK(refused > 0 && ok > 0);
}

/* create_server (TCP, Unix, existing socket) with the k-th allocation failing: it listens,
   or the call or the completion says AIOTP_ENOMEM; no fd is leaked. */
static void server_alloc_case(int kind)
{
    long k;
    int ok = 0;
    int refused = 0;
    for (k = 1; k <= 14; k++) {
        aiotp_loop *loop = failing_loop();
        aiotp_server_options o;
        char dir[] = "/tmp/aiotp-fp-XXXXXX";
        char path[64];
        int sock = -1;
        int rc;
        int i;

        the_server = NULL;
        server_status = 1;
        aiotp_server_options_init(&o);
        o.backlog = 0; /* the default (100) */
        if (kind == 2) {
            sock = socket(AF_INET, SOCK_STREAM, 0);
            o.sock = sock;
        }
        if (kind == 1) {
            CHECK(mkdtemp(dir) != NULL);
            snprintf(path, sizeof(path), "%s/s", dir);
        }
        alloc_count = 0;
        fail_once_at = k;
        if (kind == 1) {
            rc = aiotp_loop_create_unix_server(loop, rec_factory, NULL, path, &o, on_server,
                                               NULL);
        } else {
            rc = aiotp_loop_create_server(loop, rec_factory, NULL, kind == 2 ? NULL : "127.0.0.1",
                                          0, &o, on_server, NULL);
        }
        for (i = 0; rc == 0 && i < 5 && server_status == 1; i++) {
            pass(loop);
        }
        fail_once_at = 0;
        if (rc != 0 || server_status != 0) {
            CHECK_ERR(rc != 0 ? rc : server_status, AIOTP_ENOMEM);
            refused++;
            if (rc != 0 && sock >= 0) {
                close(sock);
            }
        } else {
            CHECK(aiotp_server_is_serving(the_server));
            CHECK_ERR(aiotp_server_close(the_server), 0);
            ok++;
        }
        done_loop(loop);
        if (kind == 1) {
            unlink(path);
            rmdir(dir);
        }
    }
    CHECK(refused > 0 && ok > 0);
}

TEST(server_alloc_failures_tcp)
{
    server_alloc_case(0);
}

TEST(server_alloc_failures_unix)
{
    server_alloc_case(1);
}

TEST(server_alloc_failures_sock)
{
    server_alloc_case(2);
}

TEST(server_bad_arguments)
{
    aiotp_loop *loop = th_loop();
    aiotp_server_options o;
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    int usock = socket(AF_UNIX, SOCK_STREAM, 0);
    char dir[] = "/tmp/aiotp-fu-XXXXXX";
    char path[108];

    aiotp_server_options_init(&o);
    o.sock = sock;
    /* METH-5: host (path) and sock together */
    CHECK_ERR(aiotp_loop_create_server(loop, rec_factory, NULL, "127.0.0.1", 0, &o, on_server,
                                       NULL),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_server(loop, rec_factory, NULL, "/tmp/x", &o, on_server,
                                            NULL),
              AIOTP_EINVAL);
    /* a bound Unix socket handed in (listen() is called on it) */
    {
        struct sockaddr_un un;
        CHECK(mkdtemp(dir) != NULL);
        memset(&un, 0, sizeof(un));
        un.sun_family = AF_UNIX;
        snprintf(un.sun_path, sizeof(un.sun_path), "%s/u", dir);
        CHECK_INT(bind(usock, (struct sockaddr *)&un, sizeof(un)), 0);
        snprintf(path, sizeof(path), "%s", un.sun_path);
    }
    o.sock = usock;
    the_server = NULL;
    server_status = 1;
    CHECK_ERR(aiotp_loop_create_unix_server(loop, rec_factory, NULL, NULL, &o, on_server, NULL),
              0);
    while (server_status == 1) {
        th_run_once(loop);
    }
    CHECK_ERR(server_status, 0);
    if (the_server != NULL) {
        CHECK_ERR(aiotp_server_close(the_server), 0);
    }
    close(sock);
    unlink(path);
    rmdir(dir);
}

/* ---- writelines: lengths that overflow -------------------------------------------------------- */

TEST(writelines_total_overflows)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_buf b[3] = {{"a", 1}, {"b", SIZE_MAX / 2}, {"c", SIZE_MAX / 2}};
    aiotp_transport *t;
    int sv[2];

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_writelines(t, b, 3), AIOTP_ETOOBIG); /* WRITE-WRITE-6 */
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(aiotp_transport_is_closing(t), 0);
    close(sv[1]);
}

/* ---- the getaddrinfo code map --------------------------------------------------------------- */

TEST(getaddrinfo_codes)
{
    CHECK_ERR(aiotp__gai_error(0), 0);
    CHECK_ERR(aiotp__gai_error(EAI_BADFLAGS), AIOTP_EINVAL);
    CHECK_ERR(aiotp__gai_error(EAI_SOCKTYPE), AIOTP_EINVAL);
    CHECK_ERR(aiotp__gai_error(EAI_SERVICE), AIOTP_EINVAL);
    CHECK_ERR(aiotp__gai_error(EAI_NONAME), AIOTP_ENONAME);
    CHECK_ERR(aiotp__gai_error(EAI_AGAIN), AIOTP_EAI_AGAIN);
    CHECK_ERR(aiotp__gai_error(EAI_FAIL), AIOTP_EAI_FAIL);
    CHECK_ERR(aiotp__gai_error(EAI_FAMILY), AIOTP_EAI_FAMILY);
    CHECK_ERR(aiotp__gai_error(EAI_MEMORY), AIOTP_ENOMEM);
    CHECK_ERR(aiotp__gai_error(EAI_SYSTEM), AIOTP_EAI_FAIL);
    CHECK_ERR(aiotp__gai_error(12345), AIOTP_EAI_FAIL);
}

/* ---- error names and texts ----------------------------------------------------------------- */

TEST(error_names_and_texts)
{
    CHECK_STR(aiotp_err_name(0), "OK");
    CHECK_STR(aiotp_strerror(0), "success");
    CHECK_STR(aiotp_err_name(AIOTP_ESTATE), "ESTATE");
    CHECK_STR(aiotp_err_name(AIOTP_EPROTOKIND), "EPROTOKIND");
    CHECK_STR(aiotp_strerror(AIOTP_ECLOSED), "transport is closing or closed");
    CHECK_STR(aiotp_strerror(AIOTP_ETOOBIG), "data too large");
    CHECK_STR(aiotp_err_name(-EWOULDBLOCK), "EAGAIN");
    CHECK_STR(aiotp_err_name(-ECONNRESET), "ECONNRESET");
    CHECK_STR(aiotp_err_name(-4999), "E?");
    CHECK_STR(aiotp_err_name(7), "E?");
    CHECK_STR(aiotp_strerror(-4999), "unknown error");
    CHECK_STR(aiotp_strerror(5), "unknown error");
    CHECK(strlen(aiotp_strerror(-EPIPE)) > 0);
    CHECK_STR(aiotp_version(), AIOTP_VERSION_STRING);
    /* every errno value has a name (one the library knows, or "E?") and a text */
    {
        int e;
        int known = 0;
        for (e = 1; e < 200; e++) {
            const char *n = aiotp_err_name(-e);
            CHECK(n != NULL && n[0] == 'E');
            CHECK(aiotp_strerror(-e) != NULL);
            known += strcmp(n, "E?") != 0;
        }
        CHECK(known >= 44);
    }
}

/* ---- the same calls without a trace hook (the untraced paths) -------------------------------- */

static unsigned char ubuf[64];
static int u_get_buffer(aiotp_transport *t, void *d, ptrdiff_t hint, void **buf, size_t *len)
{
    (void)t;
    (void)d;
    (void)hint;
    *buf = ubuf;
    *len = sizeof(ubuf);
    return 0;
}
static int u_pause(aiotp_transport *t, void *d)
{
    (void)t;
    (*(int *)d)++;
    return AIOTP_ECALLBACK; /* FLOW-8: reported, the transport carries on */
}
static int u_resume(aiotp_transport *t, void *d)
{
    (void)t;
    (*(int *)d)++;
    return AIOTP_ECALLBACK;
}
static const aiotp_protocol u_buffered = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_BUFFERED,
    .pause_writing = u_pause,
    .resume_writing = u_resume,
    .get_buffer = u_get_buffer,
};
static int u_reports;
static void u_handler(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)loop;
    (void)ctx;
    (void)arg;
    u_reports++;
}

TEST(untraced_session)
{
    aiotp_loop *loop = failing_loop();
    th_rec *r = th_rec_new();
    aiotp_buf b[2] = {{"ab", 2}, {"cd", 2}};
    aiotp_transport *t;
    static unsigned char big[300000];
    static unsigned char sink[sizeof(big)];
    size_t got = 0;
    int flow = 0;
    int sv[2];
    int i;

    u_reports = 0;
    aiotp_loop_set_exception_handler(loop, u_handler, NULL);
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t = wrap(loop, sv[0], r);
    if (t == NULL) {
        close(sv[1]);
        done_loop(loop);
        return;
    }
    aiotp_transport_retain(t);
    CHECK_ERR(aiotp_transport_set_protocol(t, &u_buffered, &flow), 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 1000, 10), 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, AIOTP_LIMIT_NONE, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(t, 4096, AIOTP_LIMIT_NONE), 0);
    CHECK_ERR(aiotp_transport_write(t, big, sizeof(big)), 0); /* queues: pause_writing */
    CHECK_ERR(aiotp_transport_writelines(t, b, 2), 0);
    CHECK_INT(flow, 1);
    CHECK_ERR(aiotp_transport_pause_reading(t), 0);
    CHECK_ERR(aiotp_transport_resume_reading(t), 0);
    CHECK_INT(write(sv[1], "in", 2), 2);
    while (got < sizeof(big) + 4 && flow < 2) {
        got += th_drain_fd(sv[1], sink, sizeof(sink));
        pass(loop);
    }
    CHECK_INT(flow, 2); /* resume_writing */
    CHECK(u_reports >= 2);
    CHECK_ERR(aiotp_transport_write_eof(t), 0);
    CHECK_ERR(aiotp_transport_abort(t), 0);
    CHECK_ERR(aiotp_transport_close(t), AIOTP_ECLOSED);
    for (i = 0; i < 5 && aiotp_transport_get_protocol(t, NULL) != NULL; i++) {
        pass(loop);
    }
    CHECK(aiotp_transport_get_protocol(t, NULL) == NULL);
    aiotp_transport_release(t);
    close(sv[1]);
    done_loop(loop);
}

/* ---- the POSIX table's own error returns ------------------------------------------------------ */

TEST(posix_table_entries)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct sockaddr_un un;
    struct pollfd pf;
    struct iovec iov[2];
    char dir[] = "/tmp/aiotp-px-XXXXXX";
    char path[96];
    char buf[16];
    int pipefd[2];
    int s;
    int64_t t0;

    CHECK_ERR(p->set_nonblock(p->ctx, -1), -EBADF);
    CHECK(p->socket(p->ctx, 12345, SOCK_STREAM, 0) < 0);
    CHECK_INT(pipe(pipefd), 0);
    CHECK(p->accept(p->ctx, pipefd[0], NULL, NULL) < 0); /* not a socket */
    CHECK_ERR(p->close(p->ctx, -1), -EBADF);
    /* read/write/writev/poll (for pipe transports) */
    CHECK_INT(p->write(p->ctx, pipefd[1], "ab", 2), 2);
    iov[0].iov_base = (void *)"cd";
    iov[0].iov_len = 2;
    iov[1].iov_base = (void *)"ef";
    iov[1].iov_len = 2;
    CHECK_INT(p->writev(p->ctx, pipefd[1], iov, 2), 4);
    pf.fd = pipefd[0];
    pf.events = POLLIN;
    pf.revents = 0;
    CHECK_INT(p->poll(p->ctx, &pf, 1, 0), 1);
    CHECK_INT(p->read(p->ctx, pipefd[0], buf, sizeof(buf)), 6);
    CHECK(memcmp(buf, "abcdef", 6) == 0);
    CHECK_ERR(p->read(p->ctx, -1, buf, 1), -EBADF);
    close(pipefd[0]);
    close(pipefd[1]);
    /* clock */
    t0 = p->clock_ns(p->ctx);
    CHECK(p->clock_ns(p->ctx) >= t0);
    /* getaddrinfo, numeric */
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    CHECK_INT(p->getaddrinfo(p->ctx, "127.0.0.1", "80", &hints, &res), 0);
    if (res != NULL) {
        p->freeaddrinfo(p->ctx, res);
    }
    /* unlink_socket: absent, not a socket, a socket, a path through a file */
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/none", dir);
    CHECK_INT(p->unlink_socket(p->ctx, path), 0);
    snprintf(path, sizeof(path), "%s/file", dir);
    {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f != NULL) {
            fclose(f);
        }
    }
    CHECK_INT(p->unlink_socket(p->ctx, path), 0); /* a regular file is left alone */
    snprintf(path, sizeof(path), "%s/file/x", dir);
    CHECK_ERR(p->unlink_socket(p->ctx, path), -ENOTDIR);
    snprintf(path, sizeof(path), "%s/file", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/sock", dir);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(bind(s, (struct sockaddr *)&un, sizeof(un)), 0);
    close(s);
    CHECK_INT(p->unlink_socket(p->ctx, path), 1);
    rmdir(dir);
    /* the default allocator */
    {
        const aiotp_allocator *a = aiotp_allocator_default();
        void *m = a->alloc(a->ctx, 16);
        m = a->realloc(a->ctx, m, 32);
        CHECK(m != NULL);
        a->free(a->ctx, m);
    }
}

/* ---- a transport kind without methods (TRANSPORT-KIND-2) ----------------------------------- */

static int fake_sendto_calls;
static int fake_sendto(aiotp_transport *t, const void *d, size_t n, const struct sockaddr *a,
                       socklen_t al)
{
    (void)t;
    (void)d;
    (void)a;
    (void)al;
    fake_sendto_calls++;
    return (int)n;
}
static void fake_free(aiotp_transport *t)
{
    (void)t;
}

TEST(kind_without_methods)
{
    static const aiotp__transport_ops bare = {.kind = AIOTP_TRANSPORT_DATAGRAM,
                                              .name = "bare",
                                              .free = fake_free};
    static const aiotp__transport_ops with_sendto = {.kind = AIOTP_TRANSPORT_DATAGRAM,
                                                     .name = "sendto-only",
                                                     .sendto = fake_sendto,
                                                     .free = fake_free};
    struct aiotp_transport t;
    aiotp_extra dflt;
    size_t lo = 1;
    size_t hi = 2;

    memset(&t, 0, sizeof(t));
    memset(&dflt, 0, sizeof(dflt));
    t.ops = &bare;
    CHECK_INT(aiotp_transport_kind(&t), AIOTP_TRANSPORT_DATAGRAM);
    CHECK_ERR(aiotp_transport_close(&t), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_abort(&t), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_set_protocol(&t, &th_streaming, NULL), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_pause_reading(&t), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_resume_reading(&t), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_write(&t, "x", 1), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_writelines(&t, NULL, 0), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_write_eof(&t), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_sendto(&t, "x", 1, NULL, 0), AIOTP_ENOTSUP);
    CHECK_ERR(aiotp_transport_get_write_buffer_limits(&t, &lo, &hi), AIOTP_ENOTSUP);
    CHECK_SIZE(lo, 1);
    CHECK_ERR(aiotp_transport_set_write_buffer_limits(&t, 10, 1), AIOTP_ENOTSUP);
    CHECK_INT(aiotp_transport_is_closing(&t), 0);
    CHECK_INT(aiotp_transport_is_reading(&t), 0);
    CHECK_INT(aiotp_transport_can_write_eof(&t), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(&t), 0);
    CHECK(aiotp_transport_get_extra_info(&t, "socket", &dflt) == &dflt);
    t.ops = &with_sendto;
    CHECK_INT(aiotp_transport_sendto(&t, "abc", 3, NULL, 0), 3);
    CHECK_INT(fake_sendto_calls, 1);
}

static const th_case cases[] = {
    T(reader_cannot_be_watched, "STREAM-ORDER-2 PROTO-BASE-2"),
    T(writer_cannot_be_watched_nothing_sent, "WRITE-WRITE-10"),
    T(writer_cannot_be_watched_prefix_sent, "WRITE-WRITE-6 WRITE-WRITE-10"),
    T(writelines_writer_cannot_be_watched, "WRITE-WRITE-10 WRITE-LINES-1"),
    T(writelines_writer_cannot_be_watched_prefix, "WRITE-WRITE-6 WRITE-LINES-1"),
    T(start_serving_cannot_watch, "SRV-7"),
    T(create_server_cannot_watch, "SRV-1 METH-1"),
    T(connect_completes_at_once, "METH-4 METH-2"),
    T(connect_nonblock_fails, "METH-5 METH-6"),
    T(connect_cannot_watch, "METH-5"),
    T(unix_connect_socket_fails, "METH-5"),
    T(wrap_alloc_failures, "BAD-3 METH-1"),
    T(server_alloc_failures_tcp, "BAD-3 SRV-1"),
    T(server_alloc_failures_unix, "BAD-3 SRV-8"),
    T(server_alloc_failures_sock, "BAD-3 SRV-10"),
    T(server_bad_arguments, "METH-5 SRV-7"),
    T(writelines_total_overflows, "WRITE-WRITE-6 BAD-1"),
    T(getaddrinfo_codes, "METH-5"),
    T(error_names_and_texts, "BAD-1"),
    T(posix_table_entries, "BAD-4 BAD-5 SYS-1"),
    T(kind_without_methods, "TRANSPORT-KIND-2"),
    T(untraced_session, "FLOW-8 PROTO-BASE-4 BASE-PROTO-1"),
};

TH_MAIN(cases)
