/* tests/test_dgram_pairs.c - two datagram transports of one loop connected to each other:
   the trace pairs them ("tN peer tM", DGRAM-PEER-1) for UDP over IPv4 and IPv6 and for
   named Unix datagram sockets, and never pairs sockets that are connected elsewhere; a
   datagram goes each way, checked byte for byte. Then the same exchange on a loop that
   traces nothing (no trace function): the transports behave the same without a trace
   (callbacks, bytes, flow control, close). Real sockets (the paths and families of the
   operating system). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dgram_helpers.h"
#include "harness.h"

/* Two sockets of `family`, bound, connected to each other (connect_b: b to a too). */
static void make_pair(int family, int fd[2], bool connect_b, char paths[2][64])
{
    struct sockaddr_storage a[2];
    socklen_t len[2];
    int i;
    for (i = 0; i < 2; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        fd[i] = th_peer_socket(family, SOCK_DGRAM, 0);
        if (family == AF_UNIX) {
            struct sockaddr_un *u = (struct sockaddr_un *)(void *)&a[i];
            u->sun_family = AF_UNIX;
            snprintf(paths[i], 64, "/tmp/aiotp-pair-%ld-%d", (long)getpid(), i);
            (void)unlink(paths[i]);
            snprintf(u->sun_path, sizeof(u->sun_path), "%s", paths[i]);
            len[i] = (socklen_t)sizeof(*u);
        } else if (family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&a[i];
            s6->sin6_family = AF_INET6;
            s6->sin6_addr.s6_addr[15] = 1;
            len[i] = (socklen_t)sizeof(*s6);
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&a[i];
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = htonl(0x7f000001u);
            len[i] = (socklen_t)sizeof(*s4);
        }
        CHECK_INT(th_peer_bind(fd[i], (struct sockaddr *)&a[i], len[i]), 0);
        len[i] = (socklen_t)sizeof(a[i]);
        CHECK_INT(getsockname(fd[i], (struct sockaddr *)&a[i], &len[i]), 0);
    }
    CHECK_INT(th_peer_connect(fd[0], (struct sockaddr *)&a[1], len[1]), 0);
    if (connect_b) {
        CHECK_INT(th_peer_connect(fd[1], (struct sockaddr *)&a[0], len[0]), 0);
    }
}

/* A datagram each way between the two transports, checked; then both closed. */
static void exchange(aiotp_loop *loop, aiotp_transport *t[2], th_drec *r[2])
{
    int i;
    CHECK_ERR(aiotp_transport_sendto(t[0], "ping", 4, NULL, 0), 0);
    th_run_until(loop, th_d_has_dgram, r[1], 10);
    CHECK_INT(r[1]->dgrams, 1);
    CHECK_SIZE(r[1]->len[0], 4);
    CHECK(memcmp(r[1]->data[0], "ping", 4) == 0);
    CHECK_ERR(aiotp_transport_sendto(t[1], "pong!", 5, NULL, 0), 0);
    th_run_until(loop, th_d_has_dgram, r[0], 10);
    CHECK_INT(r[0]->dgrams, 1);
    CHECK_SIZE(r[0]->len[0], 5);
    CHECK(memcmp(r[0]->data[0], "pong!", 5) == 0);
    for (i = 0; i < 2; i++) {
        CHECK_ERR(aiotp_transport_close(t[i]), 0);
        th_run_until(loop, th_d_is_lost, r[i], 10);
        CHECK_INT(r[i]->made, 1);
        CHECK_INT(r[i]->lost, 1);
        CHECK_ERR(r[i]->lost_status, 0);
    }
}

static void pair_case(int family, bool connect_b, bool traced)
{
    aiotp_loop *loop = th_loop();
    th_drec *r[2];
    aiotp_transport *t[2];
    int fd[2];
    char paths[2][64] = {"", ""};
    int i;
    if (!traced) {
        aiotp_loop_set_trace(loop, NULL, NULL); /* the library then writes no line */
    }
    make_pair(family, fd, connect_b, paths);
    for (i = 0; i < 2; i++) {
        r[i] = th_drec_new();
        t[i] = th_dwrap(loop, fd[i], &th_datagram, r[i]);
    }
    th_run_passes(loop, 2);
    if (traced) {
        const char *want = connect_b ? "t2 peer t1" : NULL;
        CHECK((strstr(th_trace(), "peer t") != NULL) == (want != NULL));
        if (want != NULL) {
            CHECK(strstr(th_trace(), want) != NULL);
        }
    } else {
        /* nothing was traced after the header the harness's own trace function wrote */
        CHECK(strstr(th_trace(), "iter ") == NULL && strstr(th_trace(), " open ") == NULL);
    }
    if (connect_b) {
        exchange(loop, t, r);
    } else {
        CHECK_ERR(aiotp_transport_close(t[0]), 0);
        CHECK_ERR(aiotp_transport_close(t[1]), 0);
        th_run_until(loop, th_d_is_lost, r[1], 10);
        CHECK_INT(r[0]->lost + r[1]->lost, 2);
    }
    for (i = 0; i < 2; i++) {
        if (paths[i][0] != '\0') {
            (void)unlink(paths[i]);
        }
    }
}

TEST(udp_pair_traced)
{
    pair_case(AF_INET, true, true);
}
TEST(udp6_pair_traced)
{
    pair_case(AF_INET6, true, true);
}
TEST(unix_pair_traced)
{
    pair_case(AF_UNIX, true, true);
}
TEST(udp6_one_way_not_paired)
{
    pair_case(AF_INET6, false, true);
}
TEST(unix_one_way_not_paired)
{
    pair_case(AF_UNIX, false, true);
}
TEST(untraced_exchange)
{
    pair_case(AF_INET, true, false);
    pair_case(AF_UNIX, true, false);
}

/* DGRAM-SEND-5: an address of the socket's family whose length does not fit that family is
   refused (EINVAL) before anything is sent; the right length goes through. IPv6 and named
   Unix sockets, unconnected. */
TEST(address_lengths_checked)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    th_drec *r2 = th_drec_new();
    struct sockaddr_in6 to6;
    struct sockaddr_un tou;
    aiotp_transport *t6;
    aiotp_transport *tu;
    int fd[2];
    char paths[2][64] = {"", ""};
    int i;
    /* IPv6: the endpoint and a peer socket of its own */
    t6 = th_udp_endpoint(loop, AF_INET6, NULL, 0, r);
    make_pair(AF_INET6, fd, false, paths);
    {
        socklen_t len = sizeof(to6);
        CHECK_INT(getsockname(fd[1], (struct sockaddr *)&to6, &len), 0);
    }
    th_run_passes(loop, 2);
    CHECK_ERR(aiotp_transport_sendto(t6, "x", 1, (struct sockaddr *)&to6, 8), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_sendto(t6, "x", 1, (struct sockaddr *)&to6, 1), AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_sendto(t6, "x", 1, (struct sockaddr *)&to6, sizeof(to6)), 0);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t6), 0);
    close(fd[0]);
    close(fd[1]);
    /* Unix: a named endpoint, sending to a named peer */
    make_pair(AF_UNIX, fd, false, paths);
    close(fd[0]); /* fd[1] (paths[1]) is the peer; the endpoint is a fresh socket */
    {
        struct sockaddr_un me;
        int e = th_peer_socket(AF_UNIX, SOCK_DGRAM, 0);
        memset(&me, 0, sizeof(me));
        me.sun_family = AF_UNIX;
        (void)unlink(paths[0]);
        snprintf(me.sun_path, sizeof(me.sun_path), "%s", paths[0]);
        CHECK_INT(th_peer_bind(e, (struct sockaddr *)&me, sizeof(me)), 0);
        tu = th_dwrap(loop, e, &th_datagram, r2);
    }
    memset(&tou, 0, sizeof(tou));
    tou.sun_family = AF_UNIX;
    snprintf(tou.sun_path, sizeof(tou.sun_path), "%s", paths[1]);
    th_run_passes(loop, 2);
    CHECK_ERR(aiotp_transport_sendto(tu, "y", 1, (struct sockaddr *)&tou,
                                     (socklen_t)offsetof(struct sockaddr_un, sun_path)),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_sendto(tu, "y", 1, (struct sockaddr *)&tou, sizeof(tou) + 8),
              AIOTP_EINVAL);
    CHECK_ERR(aiotp_transport_sendto(tu, "y", 1, (struct sockaddr *)&to6, sizeof(to6)),
              AIOTP_EINVAL); /* another family */
    CHECK_ERR(aiotp_transport_sendto(tu, "y", 1, (struct sockaddr *)&tou, sizeof(tou)), 0);
    {
        char b[4];
        CHECK_INT((int)recv(fd[1], b, sizeof(b), 0), 1);
        CHECK_INT(b[0], 'y');
    }
    CHECK_ERR(aiotp_transport_close(t6), 0);
    CHECK_ERR(aiotp_transport_close(tu), 0);
    th_run_until(loop, th_d_is_lost, r2, 10);
    th_run_until(loop, th_d_is_lost, r, 10);
    CHECK_INT(r->lost + r2->lost, 2);
    close(fd[1]);
    for (i = 0; i < 2; i++) {
        (void)unlink(paths[i]);
    }
}

static const th_case cases[] = {
    T(udp_pair_traced, "DGRAM-PEER-1 DGRAM-SEND-1 DGRAM-RECV-2"),
    T(udp6_pair_traced, "DGRAM-PEER-1"),
    T(unix_pair_traced, "DGRAM-PEER-1"),
    T(udp6_one_way_not_paired, "DGRAM-PEER-1"),
    T(unix_one_way_not_paired, "DGRAM-PEER-1"),
    T(untraced_exchange, "DGRAM-SEND-1 DGRAM-RECV-2 DGRAM-CLOSE-1"),
    T(address_lengths_checked, "DGRAM-SEND-5"),
};

TH_MAIN(cases)
