/* tests/test_datagram_endpoint.c - loop.create_datagram_endpoint and its Unix variant
   (spec/rules.md, "Datagram endpoints", DGRAM-EP-*; CPython 3.11's create_datagram_endpoint,
   spec/cpython-facts.md §4): addresses, options, an existing socket, resolution, errors,
   the completion model. Uses the real kernel's sockets (poll and epoll). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "compat.h"
#include "dgram_helpers.h"

typedef struct done_rec {
    int calls;
    int status;
    aiotp_transport *t;
    int made_before; /* r->made when the completion ran */
    th_drec *r;
} done_rec;

static void ep_done(void *arg, int status, aiotp_transport *t)
{
    done_rec *d = arg;
    d->calls++;
    d->status = status;
    d->t = t;
    if (d->r != NULL) {
        d->made_before = d->r->made;
    }
    if (t != NULL) {
        th_keep(t);
    }
}

static bool is_done(void *arg)
{
    return ((done_rec *)arg)->calls > 0;
}

static const aiotp_protocol *fac_table = &th_datagram;
static int fac_calls;
static int fac_ret;

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    fac_calls++;
    *proto = fac_table;
    *data = arg;
    return fac_ret;
}

static void reset_factory(void)
{
    fac_table = &th_datagram;
    fac_calls = 0;
    fac_ret = 0;
}

static void close_and_wait(aiotp_loop *loop, aiotp_transport *t, th_drec *r)
{
    if (!aiotp_transport_is_closing(t)) { /* (a failure may have closed it already) */
        CHECK_ERR(aiotp_transport_close(t), 0);
    }
    th_run_until(loop, th_d_is_lost, r, 10);
}

static unsigned short port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
    }
    return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

/* Run an endpoint creation to its completion. */
static void run_ep(aiotp_loop *loop, done_rec *d, int rc)
{
    CHECK_ERR(rc, 0);
    if (rc == 0) {
        th_run_until(loop, is_done, d, 10);
        CHECK_INT(d->calls, 1);
    }
}

/* A local address binds (port 0: an ephemeral port); the completion runs after
   connection_made, in the same pass. */
TEST(local_address)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    done_rec d = {0, 0, NULL, 0, r};
    struct sockaddr_storage ss;
    const aiotp_extra *x;

    reset_factory();
    run_ep(loop, &d, aiotp_loop_create_datagram_endpoint(loop, factory, r, "127.0.0.1", 0, NULL,
                                                         0, NULL, ep_done, &d));
    CHECK_ERR(d.status, 0);
    CHECK_INT(d.made_before, 1);
    CHECK_INT(fac_calls, 1);
    th_sockname(d.t, &ss);
    CHECK_INT(ss.ss_family, AF_INET);
    CHECK(port_of(&ss) != 0);
    x = aiotp_transport_get_extra_info(d.t, "peername", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_NONE);
    CHECK(th_iter_of("t1 cb connection_made", 0) == th_iter_of("t1 open", 0) + 1);
    close_and_wait(loop, d.t, r);
}

/* A remote address connects the socket: sendto without an address goes there, and
   datagrams from other addresses are not received. */
TEST(remote_address_connects)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    done_rec d = {0, 0, NULL, 0, r};
    int peer;
    int other;
    struct sockaddr_storage pa;
    struct sockaddr_storage oa;
    struct sockaddr_storage ta;
    socklen_t plen;
    socklen_t olen;
    socklen_t tlen;
    char host[INET_ADDRSTRLEN];
    char buf[16];
    const aiotp_extra *x;

    reset_factory();
    th_udp_socket(AF_INET, &peer, &pa, &plen);
    th_udp_socket(AF_INET, &other, &oa, &olen);
    inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&pa)->sin_addr, host, sizeof(host));
    run_ep(loop, &d, aiotp_loop_create_datagram_endpoint(loop, factory, r, NULL, 0, host,
                                                         port_of(&pa), NULL, ep_done, &d));
    CHECK_ERR(d.status, 0);
    x = aiotp_transport_get_extra_info(d.t, "peername", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR && x->u.addr.len == plen &&
          memcmp(x->u.addr.addr, &pa, plen) == 0);
    CHECK_ERR(aiotp_transport_sendto(d.t, "hi", 2, NULL, 0), 0);
    CHECK_INT(th_peer_recvfrom(peer, buf, sizeof(buf), 0, NULL, NULL), 2);
    tlen = th_sockname(d.t, &ta);
    CHECK_INT(th_peer_sendto(other, "stranger", 8, 0, (struct sockaddr *)&ta, tlen), 8);
    CHECK_INT(th_peer_sendto(peer, "friend", 6, 0, (struct sockaddr *)&ta, tlen), 6);
    th_run_until(loop, th_d_has_dgram, r, 10);
    th_run_passes(loop, 2);
    CHECK_INT(r->dgrams, 1); /* the stranger's datagram is filtered by the kernel */
    CHECK_SIZE(r->len[0], 6);
    th_peer_close(peer);
    th_peer_close(other);
    close_and_wait(loop, d.t, r);
}

/* Arguments refused at once: nothing starts, the completion is never called. */
TEST(bad_arguments)
{
    aiotp_loop *loop = th_loop();
    done_rec d = {0, 0, NULL, 0, NULL};
    aiotp_datagram_options o;

    reset_factory();
    aiotp_datagram_options_init(&o);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(NULL, factory, NULL, "127.0.0.1", 0, NULL, 0,
                                                  NULL, ep_done, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, NULL, NULL, "127.0.0.1", 0, NULL, 0,
                                                  NULL, ep_done, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", 0, NULL, 0,
                                                  NULL, NULL, &d),
              AIOTP_EINVAL);
    /* no address and no family: "unexpected address family" */
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, NULL, NULL, 0, NULL, 0, NULL,
                                                  ep_done, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", 65536,
                                                  NULL, 0, NULL, ep_done, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, NULL, NULL, 0, "127.0.0.1",
                                                  -1, NULL, ep_done, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, NULL, NULL, 0, "", 9, NULL,
                                                  ep_done, &d),
              AIOTP_EINVAL);
    o.family = AF_UNIX; /* the unix variant */
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", 0, NULL, 0,
                                                  &o, ep_done, &d),
              AIOTP_EINVAL);
    o.family = 12345;
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", 0, NULL, 0,
                                                  &o, ep_done, &d),
              AIOTP_EINVAL);
    aiotp_datagram_options_init(&o);
    o.size = 1;
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", 0, NULL, 0,
                                                  &o, ep_done, &d),
              AIOTP_EINVAL);
    aiotp_datagram_options_init(&o);
    o.family = AF_INET;
    CHECK_ERR(aiotp_loop_create_unix_datagram_endpoint(loop, factory, NULL, NULL, NULL, &o,
                                                       ep_done, &d),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_loop_create_unix_datagram_endpoint(loop, factory, NULL, "", NULL, NULL,
                                                       ep_done, &d),
              AIOTP_EINVAL);
    th_run_passes(loop, 2);
    CHECK_INT(d.calls, 0);
    CHECK_INT(fac_calls, 0);
}

/* Only a family: an unbound, unconnected socket that can send anywhere. */
TEST(family_only)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    done_rec d = {0, 0, NULL, 0, r};
    aiotp_datagram_options o;
    int peer;
    struct sockaddr_storage pa;
    socklen_t plen;
    char buf[8];

    reset_factory();
    aiotp_datagram_options_init(&o);
    o.family = AF_INET;
    th_udp_socket(AF_INET, &peer, &pa, &plen);
    run_ep(loop, &d, aiotp_loop_create_datagram_endpoint(loop, factory, r, NULL, 0, NULL, 0, &o,
                                                         ep_done, &d));
    CHECK_ERR(d.status, 0);
    CHECK_ERR(aiotp_transport_sendto(d.t, "ok", 2, (struct sockaddr *)&pa, plen), 0);
    CHECK_INT(th_peer_recvfrom(peer, buf, sizeof(buf), 0, NULL, NULL), 2);
    th_peer_close(peer);
    close_and_wait(loop, d.t, r);
}

/* An existing socket: it must be SOCK_DGRAM, nothing else may be given, and it may not
   belong to a live transport. */
TEST(existing_socket)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    done_rec d = {0, 0, NULL, 0, r};
    aiotp_datagram_options o;
    int s;
    int st;
    int closed;

    reset_factory();
    aiotp_datagram_options_init(&o);
    st = socket(AF_INET, SOCK_STREAM, 0);
    o.sock = st;
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, r, NULL, 0, NULL, 0, &o,
                                                  ep_done, &d),
              AIOTP_EINVAL);
    close(st);
    closed = socket(AF_INET, SOCK_DGRAM, 0);
    close(closed);
    o.sock = closed;
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, r, NULL, 0, NULL, 0, &o,
                                                  ep_done, &d),
              AIOTP_EBADF);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    o.sock = s;
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, r, "127.0.0.1", 0, NULL, 0, &o,
                                                  ep_done, &d),
              AIOTP_EINVAL);
    o.reuse_port = true;
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, r, NULL, 0, NULL, 0, &o,
                                                  ep_done, &d),
              AIOTP_EINVAL);
    o.reuse_port = false;
    o.allow_broadcast = true;
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, r, NULL, 0, NULL, 0, &o,
                                                  ep_done, &d),
              AIOTP_EINVAL);
    o.allow_broadcast = false;
    o.family = AF_INET;
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, r, NULL, 0, NULL, 0, &o,
                                                  ep_done, &d),
              AIOTP_EINVAL);
    o.family = AF_UNSPEC;
    CHECK_INT(d.calls, 0);
    /* the socket stays the caller's after a refusal: it is still open */
    CHECK(fcntl(s, F_GETFD) != -1);
    run_ep(loop, &d, aiotp_loop_create_datagram_endpoint(loop, factory, r, NULL, 0, NULL, 0, &o,
                                                         ep_done, &d));
    CHECK_ERR(d.status, 0);
    /* once wrapped it is the transport's: refused as another endpoint's socket */
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, factory, r, NULL, 0, NULL, 0, &o,
                                                  ep_done, &d),
              AIOTP_EBUSY);
    close_and_wait(loop, d.t, r);
    CHECK(fcntl(s, F_GETFD) == -1); /* closed with the transport */
}

/* reuse_port: two endpoints on one port; without it the second bind fails through the
   completion (the socket is not left open). */
TEST(reuse_port)
{
    aiotp_loop *loop = th_loop();
    th_drec *r1 = th_drec_new();
    th_drec *r2 = th_drec_new();
    done_rec d1 = {0, 0, NULL, 0, r1};
    done_rec d2 = {0, 0, NULL, 0, r2};
    done_rec d3 = {0, 0, NULL, 0, NULL};
    aiotp_datagram_options o;
    struct sockaddr_storage ss;
    int port;
    int one = 0;
    socklen_t len = sizeof(one);
    const aiotp_extra *x;

    reset_factory();
    aiotp_datagram_options_init(&o);
    o.reuse_port = true;
    run_ep(loop, &d1, aiotp_loop_create_datagram_endpoint(loop, factory, r1, "127.0.0.1", 0,
                                                          NULL, 0, &o, ep_done, &d1));
    CHECK_ERR(d1.status, 0);
    th_sockname(d1.t, &ss);
    port = port_of(&ss);
    x = aiotp_transport_get_extra_info(d1.t, "socket", NULL);
    CHECK_INT(getsockopt(x->u.fd, SOL_SOCKET, SO_REUSEPORT, &one, &len), 0);
    CHECK(one != 0);
    run_ep(loop, &d2, aiotp_loop_create_datagram_endpoint(loop, factory, r2, "127.0.0.1", port,
                                                          NULL, 0, &o, ep_done, &d2));
    CHECK_ERR(d2.status, 0);
    run_ep(loop, &d3, aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", port,
                                                          NULL, 0, NULL, ep_done, &d3));
    CHECK_ERR(d3.status, -EADDRINUSE);
    CHECK(d3.t == NULL);
    close_and_wait(loop, d1.t, r1);
    close_and_wait(loop, d2.t, r2);
}

/* allow_broadcast: SO_BROADCAST is set, and a remote address is only the default
   destination (the socket is not connected: no peername). */
TEST(allow_broadcast)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    done_rec d = {0, 0, NULL, 0, r};
    aiotp_datagram_options o;
    int peer;
    int other;
    struct sockaddr_storage pa;
    struct sockaddr_storage oa;
    socklen_t plen;
    socklen_t olen;
    int on = 0;
    socklen_t len = sizeof(on);
    char buf[8];
    const aiotp_extra *x;

    reset_factory();
    th_udp_socket(AF_INET, &peer, &pa, &plen);
    th_udp_socket(AF_INET, &other, &oa, &olen);
    aiotp_datagram_options_init(&o);
    o.allow_broadcast = true;
    run_ep(loop, &d, aiotp_loop_create_datagram_endpoint(loop, factory, r, "127.0.0.1", 0,
                                                         "127.0.0.1", port_of(&pa), &o, ep_done,
                                                         &d));
    CHECK_ERR(d.status, 0);
    x = aiotp_transport_get_extra_info(d.t, "socket", NULL);
    CHECK_INT(getsockopt(x->u.fd, SOL_SOCKET, SO_BROADCAST, &on, &len), 0);
    CHECK(on != 0);
    x = aiotp_transport_get_extra_info(d.t, "peername", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_NONE);
    CHECK_ERR(aiotp_transport_sendto(d.t, "dflt", 4, NULL, 0), 0);
    CHECK_INT(th_peer_recvfrom(peer, buf, sizeof(buf), 0, NULL, NULL), 4);
    CHECK_ERR(aiotp_transport_sendto(d.t, "no", 2, (struct sockaddr *)&oa, olen), AIOTP_EINVAL);
    th_peer_close(peer);
    th_peer_close(other);
    close_and_wait(loop, d.t, r);
}

/* Names are resolved like create_connection's; a failure comes through the completion. */
TEST(resolution)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    done_rec d = {0, 0, NULL, 0, r};
    done_rec e = {0, 0, NULL, 0, NULL};
    done_rec f = {0, 0, NULL, 0, NULL};
    aiotp_datagram_options o;

    reset_factory();
    run_ep(loop, &d, aiotp_loop_create_datagram_endpoint(loop, factory, r, "localhost", 0, NULL,
                                                         0, NULL, ep_done, &d));
    CHECK_ERR(d.status, 0);
    close_and_wait(loop, d.t, r);
    th_f.getaddrinfo_rc = EAI_NONAME;
    run_ep(loop, &e, aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "nowhere.invalid",
                                                         0, NULL, 0, NULL, ep_done, &e));
    th_f.getaddrinfo_rc = 0;
    CHECK_ERR(e.status, AIOTP_ENONAME);
    CHECK(e.t == NULL);
    /* local IPv4 and remote IPv6: no pair of one family */
    aiotp_datagram_options_init(&o);
    run_ep(loop, &f, aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", 0,
                                                         "::1", 9, &o, ep_done, &f));
    CHECK_ERR(f.status, AIOTP_EAI_FAMILY);
    CHECK_INT(fac_calls, 1);
}

/* IPv6. */
TEST(ipv6_endpoint)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    done_rec d = {0, 0, NULL, 0, r};
    int peer;
    struct sockaddr_storage pa;
    socklen_t plen;
    char buf[8];

    reset_factory();
    th_udp_socket(AF_INET6, &peer, &pa, &plen);
    run_ep(loop, &d, aiotp_loop_create_datagram_endpoint(loop, factory, r, "::1", 0, "::1",
                                                         port_of(&pa), NULL, ep_done, &d));
    CHECK_ERR(d.status, 0);
    CHECK_ERR(aiotp_transport_sendto(d.t, "six", 3, NULL, 0), 0);
    CHECK_INT(th_peer_recvfrom(peer, buf, sizeof(buf), 0, NULL, NULL), 3);
    CHECK(strstr(th_trace(), "t1 open udp6") != NULL);
    th_peer_close(peer);
    close_and_wait(loop, d.t, r);
}

/* Unix datagram endpoints: a bound path (a stale socket file there is removed first),
   a connected remote path, unnamed sockets. */
TEST(unix_endpoints)
{
    aiotp_loop *loop = th_loop();
    th_drec *r1 = th_drec_new();
    th_drec *r2 = th_drec_new();
    done_rec d1 = {0, 0, NULL, 0, r1};
    done_rec d2 = {0, 0, NULL, 0, r2};
    char dir[] = "/tmp/aiotp-dgram-XXXXXX";
    char path[128];
    struct sockaddr_un un;
    int stale;
    const aiotp_extra *x;

    reset_factory();
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/srv", dir);
    /* a stale socket file */
    stale = socket(AF_UNIX, SOCK_DGRAM, 0);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, path);
    CHECK_INT(bind(stale, (struct sockaddr *)&un, sizeof(un)), 0);
    close(stale);
    run_ep(loop, &d1, aiotp_loop_create_unix_datagram_endpoint(loop, factory, r1, path, NULL,
                                                               NULL, ep_done, &d1));
    CHECK_ERR(d1.status, 0);
    x = aiotp_transport_get_extra_info(d1.t, "sockname", NULL);
    CHECK(x != NULL && x->kind == AIOTP_EXTRA_ADDR &&
          strcmp(((const struct sockaddr_un *)(const void *)x->u.addr.addr)->sun_path, path) == 0);
    run_ep(loop, &d2, aiotp_loop_create_unix_datagram_endpoint(loop, factory, r2, NULL, path,
                                                               NULL, ep_done, &d2));
    CHECK_ERR(d2.status, 0);
    CHECK_ERR(aiotp_transport_sendto(d2.t, "via path", 8, NULL, 0), 0);
    th_run_until(loop, th_d_has_dgram, r1, 10);
    CHECK_SIZE(r1->len[0], 8);
    CHECK_INT(r1->from_len[0], 0); /* the sender is unnamed */
    CHECK(strstr(th_trace(), "t1 open unixdgram") != NULL);
    close_and_wait(loop, d1.t, r1);
    close_and_wait(loop, d2.t, r2);
    unlink(path);
    rmdir(dir);
}

/* The factory's table must be a DATAGRAM table: otherwise the completion gets the status
   and the exception handler names the problem; the factory's own error goes to the
   completion. The socket is closed either way. */
TEST(factory_refusals)
{
    aiotp_loop *loop = th_exc_loop();
    done_rec d = {0, 0, NULL, 0, NULL};
    done_rec e = {0, 0, NULL, 0, NULL};
    int fd_before = th_lowest_free_fd();

    reset_factory();
    fac_table = &th_streaming;
    run_ep(loop, &d, aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", 0,
                                                         NULL, 0, NULL, ep_done, &d));
    CHECK_ERR(d.status, AIOTP_EPROTOKIND);
    CHECK_INT(th_exc.n, 1);
    CHECK(strstr(th_exc.msg, "create_datagram_endpoint") != NULL);
    CHECK(strstr(th_exc.msg, "cannot serve a datagram transport") != NULL);
    reset_factory();
    fac_ret = -EACCES;
    run_ep(loop, &e, aiotp_loop_create_datagram_endpoint(loop, factory, NULL, "127.0.0.1", 0,
                                                         NULL, 0, NULL, ep_done, &e));
    CHECK_ERR(e.status, -EACCES);
    CHECK_INT(th_exc.n, 1);
    CHECK_INT(th_lowest_free_fd(), fd_before);
    CHECK_INT(th_count_lines("t"), 0); /* no transport */
}

/* Every allocation failing in turn, inside the call (phase 0) or inside the pass that sets
   the endpoint up (phase 1): either the call fails with ENOMEM (nothing starts) or the
   completion runs once, with the endpoint or ENOMEM; a transport that could not start
   reading ends with connection_lost(ENOMEM). Nothing leaks (the harness checks memory
   and fds after the case). */
TEST(allocation_failures)
{
    int phase;
    int k;
    for (phase = 0; phase < 2; phase++) {
        for (k = 0; k < 30; k++) {
            aiotp_loop *loop = th_loop();
            th_drec *r = th_drec_new();
            done_rec d = {0, 0, NULL, 0, r};
            int rc;
            int i;
            reset_factory();
            th_f.alloc_fail_after = phase == 0 ? k : -1;
            rc = aiotp_loop_create_datagram_endpoint(loop, factory, r, "127.0.0.1", 0, NULL, 0,
                                                     NULL, ep_done, &d);
            if (rc != 0) {
                CHECK_ERR(rc, AIOTP_ENOMEM);
                CHECK_INT(phase, 0);
            } else {
                th_f.alloc_fail_after = phase == 1 ? k : -1;
                (void)aiotp_loop_run_once(loop); /* the request's step is queued: no wait */
                th_f.alloc_fail_after = -1;
                for (i = 0; i < 10 && d.calls == 0; i++) {
                    th_run_once(loop);
                }
                CHECK_INT(d.calls, 1);
                CHECK(d.status == 0 || d.status == AIOTP_ENOMEM);
                if (d.t != NULL) {
                    close_and_wait(loop, d.t, r);
                    CHECK(r->lost_status == 0 || r->lost_status == AIOTP_ENOMEM);
                }
            }
            th_f.alloc_fail_after = -1;
            th_loop_free(loop);
        }
    }
}

/* (in this file: a loop of its own, on poll only) A fatal error (the socket cannot be watched for writing when a datagram must be
   queued) ends the transport: connection_lost(status), never error_received; the
   state changes before the exception handler hears of it. */
static int close_in_handler_calls;
static void closing_handler(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)loop;
    (void)arg;
    close_in_handler_calls++;
    CHECK(ctx->transport != NULL && aiotp_transport_is_closing(ctx->transport));
    CHECK_ERR(aiotp_transport_close(ctx->transport), AIOTP_ECLOSED);
    CHECK_ERR(ctx->status, -ENOSPC);
}

TEST(fatal_error_ends_transport)
{
    aiotp_loop *loop;
    aiotp_loop_options lo;
    th_drec *r = th_drec_new();
    int sv[2];
    int i;
    aiotp_datagram_options o;

    memset(&lo, 0, sizeof(lo));
    lo.size = sizeof(lo);
    lo.backend = th_failing_backend();
    th_bf.set_err = -ENOSPC;
    CHECK_ERR(aiotp_loop_create(&loop, &lo), 0);
    aiotp_loop_set_exception_handler(loop, closing_handler, NULL);
    CHECK_INT(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    aiotp_datagram_options_init(&o);
    o.sock = sv[0];
    CHECK_ERR(aiotp_loop_create_datagram_endpoint(loop, th_dgram_factory, r, NULL, 0, NULL, 0,
                                                  &o, th_dgram_done, NULL),
              0);
    for (i = 0; i < 5 && r->made == 0; i++) {
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
    }
    CHECK_INT(r->made, 1);
    th_bf.fail_set = true;
    /* fill the peer's queue so that the next datagram must be queued */
    for (i = 0; i < 10000; i++) {
        char d[1000] = {0};
        int rc = aiotp_transport_sendto(r->t, d, sizeof(d), NULL, 0);
        if (rc != 0) {
            CHECK_ERR(rc, -ENOSPC); /* the call that failed returns the error */
            break;
        }
    }
    th_bf.fail_set = false;
    CHECK(aiotp_transport_is_closing(r->t));
    CHECK_INT(close_in_handler_calls, 1);
    CHECK_INT(r->errors, 0);
    for (i = 0; i < 5 && r->lost == 0; i++) {
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
    }
    CHECK_INT(r->lost, 1);
    CHECK_ERR(r->lost_status, -ENOSPC);
    aiotp_loop_free(loop);
    close(sv[1]);
}

static const th_case cases[] = {
    T(local_address, "DGRAM-EP-1 DGRAM-MADE-1"),
    T(remote_address_connects, "DGRAM-EP-2"),
    T(bad_arguments, "DGRAM-EP-1 BAD-1"),
    T(family_only, "DGRAM-EP-1"),
    T(existing_socket, "DGRAM-EP-6 BAD-5"),
    T(reuse_port, "DGRAM-EP-3"),
    T(allow_broadcast, "DGRAM-EP-3 DGRAM-SEND-2"),
    T(resolution, "DGRAM-EP-1"),
    T(ipv6_endpoint, "DGRAM-EP-1"),
    T(unix_endpoints, "DGRAM-EP-4"),
    T(factory_refusals, "DGRAM-EP-5 PROTO-KIND-1"),
    T(allocation_failures, "DGRAM-EP-5 BAD-3"),
    T(fatal_error_ends_transport, "DGRAM-FATAL-1"),
};

TH_MAIN(cases)
