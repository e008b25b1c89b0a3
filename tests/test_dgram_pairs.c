/* tests/test_dgram_pairs.c - two datagram transports of one loop connected to each other:
   the trace pairs them ("tN peer tM", DGRAM-PEER-1) for UDP over IPv4 and IPv6 and for
   named Unix datagram sockets, and never pairs sockets that are connected elsewhere; a
   datagram goes each way, checked byte for byte. Then the same exchange on a loop that
   traces nothing (no trace function): the transports behave the same without a trace
   (callbacks, bytes, flow control, close). Real sockets (the paths and families of the
   operating system). */
#include <arpa/inet.h>
#include <netinet/in.h>
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

static const th_case cases[] = {
    T(udp_pair_traced, "DGRAM-PEER-1 DGRAM-SEND-1 DGRAM-RECV-2"),
    T(udp6_pair_traced, "DGRAM-PEER-1"),
    T(unix_pair_traced, "DGRAM-PEER-1"),
    T(udp6_one_way_not_paired, "DGRAM-PEER-1"),
    T(unix_one_way_not_paired, "DGRAM-PEER-1"),
    T(untraced_exchange, "DGRAM-SEND-1 DGRAM-RECV-2 DGRAM-CLOSE-1"),
};

TH_MAIN(cases)
