/* tests/test_peer_dgram.c - the harness's datagram peers (tests/harness.h):
   th_udp_socket, th_unix_dgram_unnamed, th_dgram_socketpair, th_peer_sendto,
   th_peer_recvfrom, th_peer_getpeername and the datagram entries of th_syscalls(). The
   same cases, with the same assertions, run on the kernel (poll, epoll) and on the
   simulated kernel (AIOTP_TEST_BACKEND=sim), as a datagram suite will. Each case makes
   its loop first: in sim mode that makes the case's sim, which the helpers then use. */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "harness.h"

#define SA(x) ((struct sockaddr *)(void *)&(x))

static bool same_addr(const struct sockaddr_storage *a, socklen_t al,
                      const struct sockaddr_storage *b, socklen_t bl)
{
    return al == bl && memcmp(a, b, al) == 0;
}

/* UDP over IPv4 and IPv6: bound peers on loopback, datagrams with their boundaries and
   the sender's address, a zero-length one, connect and getpeername. */
TEST(udp_peers)
{
    static const int families[2] = {AF_INET, AF_INET6};
    struct sockaddr_storage A;
    struct sockaddr_storage B;
    struct sockaddr_storage from;
    socklen_t al;
    socklen_t bl;
    socklen_t fl;
    char buf[16];
    int i;
    int a;
    int b;

    (void)th_loop();
    for (i = 0; i < 2; i++) {
        th_udp_socket(families[i], &a, &A, &al);
        th_udp_socket(families[i], &b, &B, &bl);
        CHECK_INT(A.ss_family, families[i]);
        CHECK_INT(al, families[i] == AF_INET ? sizeof(struct sockaddr_in)
                                             : sizeof(struct sockaddr_in6));
        CHECK(!same_addr(&A, al, &B, bl));
        CHECK_INT(th_peer_sendto(b, "ping", 4, 0, SA(A), al), 4);
        CHECK_INT(th_peer_sendto(b, "", 0, 0, SA(A), al), 0);
        CHECK_INT(th_peer_sendto(b, "pong", 4, 0, SA(A), al), 4);
        fl = sizeof(from);
        CHECK_INT(th_peer_recvfrom(a, buf, sizeof(buf), 0, SA(from), &fl), 4);
        CHECK(memcmp(buf, "ping", 4) == 0);
        CHECK(same_addr(&from, fl, &B, bl));
        CHECK_INT(th_peer_recvfrom(a, buf, sizeof(buf), 0, NULL, NULL), 0);
        CHECK_INT(th_peer_recvfrom(a, buf, 2, 0, NULL, NULL), 2); /* "po", "ng" lost */
        CHECK_INT(th_peer_recvfrom(a, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -1);
        CHECK_INT(errno, EAGAIN);
        CHECK_INT(th_peer_connect(a, SA(B), bl), 0);
        fl = sizeof(from);
        CHECK_INT(th_peer_getpeername(a, SA(from), &fl), 0);
        CHECK(same_addr(&from, fl, &B, bl));
        CHECK_INT(th_peer_send(a, "back", 4, 0), 4);
        CHECK_INT(th_peer_recv(b, buf, sizeof(buf), 0), 4);
        CHECK(memcmp(buf, "back", 4) == 0);
        CHECK_INT(th_peer_close(a), 0);
        CHECK_INT(th_peer_close(b), 0);
    }
}

/* Unix datagram peers: bound to fresh paths (each its own), or unnamed (its datagrams
   carry no address). */
TEST(unix_peers)
{
    struct sockaddr_storage X;
    struct sockaddr_storage Y;
    struct sockaddr_storage from;
    socklen_t xl;
    socklen_t yl;
    socklen_t fl;
    char buf[16];
    int x;
    int y;
    int z;

    (void)th_loop();
    th_udp_socket(AF_UNIX, &x, &X, &xl);
    th_udp_socket(AF_UNIX, &y, NULL, NULL);
    th_unix_dgram_unnamed(&z);
    yl = sizeof(Y);
    CHECK_INT(th_peer_getsockname(y, SA(Y), &yl), 0);
    CHECK_INT(X.ss_family, AF_UNIX);
    CHECK(xl > offsetof(struct sockaddr_un, sun_path) + 1);
    CHECK(!same_addr(&X, xl, &Y, yl));
    CHECK_INT(th_peer_sendto(z, "anon", 4, 0, SA(X), xl), 4);
    CHECK_INT(th_peer_sendto(y, "named", 5, 0, SA(X), xl), 5);
    fl = sizeof(from);
    CHECK_INT(th_peer_recvfrom(x, buf, sizeof(buf), 0, SA(from), &fl), 4);
    CHECK_INT(fl, 0);
    fl = sizeof(from);
    CHECK_INT(th_peer_recvfrom(x, buf, sizeof(buf), 0, SA(from), &fl), 5);
    CHECK(same_addr(&from, fl, &Y, yl));
    fl = sizeof(from);
    CHECK_INT(th_peer_getpeername(z, SA(from), &fl), -1);
    CHECK_INT(errno, ENOTCONN);
    CHECK_INT(th_peer_close(x), 0);
    CHECK_INT(th_peer_close(y), 0);
    CHECK_INT(th_peer_close(z), 0);
}

/* The datagram socketpair: both ways; once one end is closed the other's next send is
   refused. */
TEST(dgram_socketpair_peers)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char buf[8];
    int sv[2];

    (void)th_loop();
    th_dgram_socketpair(sv);
    CHECK_INT(th_peer_send(sv[0], "ab", 2, 0), 2);
    CHECK_INT(th_peer_send(sv[0], "c", 1, 0), 1);
    CHECK_INT(th_peer_recv(sv[1], buf, sizeof(buf), 0), 2);
    CHECK_INT(th_peer_recv(sv[1], buf, sizeof(buf), 0), 1);
    CHECK_INT(th_peer_write(sv[1], "d", 1), 1);
    CHECK_INT(th_peer_recv(sv[0], buf, sizeof(buf), 0), 1);
    CHECK_INT(th_peer_getpeername(sv[0], SA(ss), &len), 0);
    CHECK_INT(ss.ss_family, AF_UNIX);
    CHECK_INT(len, sizeof(sa_family_t));
    CHECK_INT(th_peer_close(sv[1]), 0);
    CHECK_INT(th_peer_send(sv[0], "e", 1, MSG_DONTWAIT), -1);
    CHECK_INT(errno, ECONNREFUSED);
    CHECK_INT(th_peer_close(sv[0]), 0);
}

/* The fault-injecting table's datagram entries (over POSIX, or the case's sim): faults
   and counters as for send/recv. */
TEST(fault_table_dgram)
{
    const aiotp_syscalls *F;
    struct sockaddr_storage A;
    socklen_t al;
    char buf[8];
    int a;
    int b;

    (void)th_loop();
    F = th_syscalls();
    th_udp_socket(AF_INET, &a, &A, &al);
    th_udp_socket(AF_INET, &b, NULL, NULL);
    th_f.send_errno = EHOSTUNREACH;
    CHECK_INT(F->sendto(F->ctx, b, "x", 1, 0, SA(A), al), -EHOSTUNREACH);
    th_f.send_errno = 0;
    th_f.send_eagain = true;
    CHECK_INT(F->sendto(F->ctx, b, "x", 1, 0, SA(A), al), -EAGAIN);
    th_f.send_eagain = false;
    CHECK_INT(F->sendto(F->ctx, b, "ok", 2, 0, SA(A), al), 2);
    th_f.recv_errno = ECONNREFUSED;
    CHECK_INT(F->recvfrom(F->ctx, a, buf, sizeof(buf), 0, NULL, NULL), -ECONNREFUSED);
    th_f.recv_errno = 0;
    CHECK_INT(th_peer_recvfrom(a, buf, sizeof(buf), 0, NULL, NULL), 2); /* only "ok" */
    CHECK_INT(F->recvfrom(F->ctx, a, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -EAGAIN);
    CHECK_INT(th_f.sendto_calls, 3);
    CHECK_INT(th_f.recvfrom_calls, 2);
    CHECK_INT(th_peer_close(a), 0);
    CHECK_INT(th_peer_close(b), 0);
}

static const th_case cases[] = {
    T(udp_peers, "SIM-PEER-1"),
    T(unix_peers, "SIM-PEER-1"),
    T(dgram_socketpair_peers, "SIM-PEER-1"),
    T(fault_table_dgram, "SIM-PEER-1 SIM-SYS-1"),
};

TH_MAIN_SIM(cases)
