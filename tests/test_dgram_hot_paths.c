/* tests/test_dgram_hot_paths.c - the datagram transport's hot paths are not naive
   (spec/rules.md, "Hot paths", PERF-4): in steady state no datagram allocates, whether it
   is received, sent at once, or queued and drained. Counts only (the allocator's calls,
   th_f.total_allocs, and the system calls); speed is measured by bench/ (the UDP cases).
   Runs on poll, epoll and the simulated kernel (the peers are played through th_peer_*). */
#include <string.h>
#include <sys/socket.h>

#include "dgram_helpers.h"

/* An echo server's protocol: every datagram goes back to its sender with sendto(). */
typedef struct echo {
    int dgrams;      /* datagram_received count */
    size_t bytes;    /* their bytes */
    int send_errors; /* sendto() that did not return 0 */
    int lost;
} echo;

static int echo_dgram(aiotp_transport *t, void *data, const void *buf, size_t len,
                      const struct sockaddr *addr, socklen_t alen)
{
    echo *e = data;
    e->dgrams++;
    e->bytes += len;
    if (aiotp_transport_sendto(t, buf, len, addr, alen) != 0) {
        e->send_errors++;
    }
    return 0;
}

static int echo_lost(aiotp_transport *t, void *data, int status)
{
    echo *e = data;
    (void)t;
    (void)status;
    e->lost++;
    return 0;
}

static const aiotp_protocol echo_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_DATAGRAM,
    .datagram_received = echo_dgram,
    .connection_lost = echo_lost,
};

typedef struct progress {
    const echo *e;
    int before;
} progress;

static bool echo_got_one(void *arg)
{
    const progress *p = arg;
    return p->e->dgrams > p->before;
}

static bool echo_is_lost(void *arg)
{
    return ((const echo *)arg)->lost > 0;
}

/* One round trip: the peer sends n bytes, the transport's protocol echoes them from
   inside datagram_received (sent at once: the echo is there when the pass returns). */
static void round_trip(aiotp_loop *loop, echo *e, int peer, const struct sockaddr *to,
                       socklen_t tolen, size_t n)
{
    unsigned char msg[512];
    unsigned char back[600];
    progress p;
    memset(msg, 'a' + e->dgrams % 26, n);
    msg[0] = (unsigned char)e->dgrams;
    p.e = e;
    p.before = e->dgrams;
    CHECK_INT(th_peer_sendto(peer, msg, n, 0, to, tolen), (long long)n);
    th_run_until(loop, echo_got_one, &p, 20);
    CHECK_INT(th_peer_recvfrom(peer, back, sizeof(back), 0, NULL, NULL), (long long)n);
    CHECK(memcmp(back, msg, n) == 0);
}

static void close_and_wait(aiotp_loop *loop, aiotp_transport *t, echo *e)
{
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, echo_is_lost, e, 10);
    CHECK_INT(e->lost, 1);
}

/* Receive, and sendto() that the kernel takes at once (an echo server on an unconnected
   UDP socket, the address given each time): after a warm-up, 500 round trips of 1 to 500
   bytes allocate nothing, each is one recvfrom and one sendto, and nothing is queued. */
TEST(no_alloc_per_datagram)
{
    aiotp_loop *loop = th_loop();
    echo e;
    int sfd;
    int peer;
    struct sockaddr_storage saddr;
    socklen_t slen;
    aiotp_transport *t;
    size_t allocs;
    long sends;
    long recvs;
    int i;

    memset(&e, 0, sizeof(e));
    th_udp_socket(AF_INET, &sfd, &saddr, &slen);
    th_udp_socket(AF_INET, &peer, NULL, NULL);
    t = th_dwrap(loop, sfd, &echo_proto, &e);
    for (i = 0; i < 10; i++) {
        round_trip(loop, &e, peer, (struct sockaddr *)&saddr, slen, 64);
    }
    allocs = th_f.total_allocs;
    sends = th_f.sendto_calls;
    recvs = th_f.recvfrom_calls;
    for (i = 0; i < 500; i++) {
        round_trip(loop, &e, peer, (struct sockaddr *)&saddr, slen, 1 + (size_t)i % 500);
    }
    CHECK_SIZE(th_f.total_allocs - allocs, 0);
    CHECK_INT(th_f.sendto_calls - sends, 500);   /* each echo sent at once, once */
    /* one receive per datagram, and the one that ends the read event: a round trip has
       one datagram waiting, so the second receive of the event says EAGAIN (DGRAM-RECV-1,
       DEV-70: receives go on until EAGAIN, at most 16) */
    CHECK_INT(th_f.recvfrom_calls - recvs, 1000);
    CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
    CHECK_INT(e.dgrams, 510);
    CHECK_INT(e.send_errors, 0);
    close_and_wait(loop, t, &e);
    th_peer_close(peer);
}

/* sendto() while the kernel takes nothing (EAGAIN): each datagram is copied into the
   queue; the next writable event sends them all, in order. Once the queue block has grown
   to what one round needs, 100 rounds of 8 queued datagrams (1 to 500 bytes) allocate
   nothing. connected: the transport sends to its peer (records without an address);
   otherwise to two peers in turn (each record carries its address). */
static void queued_rounds(bool connected)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    aiotp_transport *t;
    int peer[2];
    struct sockaddr_storage paddr[2];
    socklen_t plen[2];
    unsigned char msg[8][512];
    unsigned char back[600];
    size_t allocs = 0;
    int round;
    int k;

    th_udp_socket(AF_INET, &peer[0], &paddr[0], &plen[0]);
    th_udp_socket(AF_INET, &peer[1], &paddr[1], &plen[1]);
    t = th_udp_endpoint(loop, AF_INET, connected ? (struct sockaddr *)&paddr[0] : NULL,
                        plen[0], r);
    for (round = 0; round < 103; round++) {
        size_t queued = 0;
        if (round == 3) {
            allocs = th_f.total_allocs; /* the block has grown in round 0 */
        }
        th_f.send_eagain = true;
        for (k = 0; k < 8; k++) {
            int to = connected ? 0 : k % 2;
            size_t n = 1 + (size_t)(round * 8 + k) * 37 % 500;
            if (round < 3) {
                n = 500; /* the warm-up queues the most a round can */
            }
            memset(msg[k], 'A' + k, n);
            msg[k][0] = (unsigned char)round;
            CHECK_ERR(aiotp_transport_sendto(t, msg[k], n,
                                             connected ? NULL : (struct sockaddr *)&paddr[to],
                                             connected ? 0 : plen[to]),
                      0);
            queued += n;
            CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), queued);
        }
        th_f.send_eagain = false;
        th_run_once(loop); /* the drain */
        CHECK_SIZE(aiotp_transport_get_write_buffer_size(t), 0);
        for (k = 0; k < 8; k++) { /* each peer gets its datagrams, in order */
            int to = connected ? 0 : k % 2;
            size_t n = round < 3 ? 500 : 1 + (size_t)(round * 8 + k) * 37 % 500;
            CHECK_INT(th_peer_recvfrom(peer[to], back, sizeof(back), 0, NULL, NULL),
                      (long long)n);
            CHECK(memcmp(back, msg[k], n) == 0);
        }
    }
    CHECK_SIZE(th_f.total_allocs - allocs, 0);
    CHECK_INT(r->pauses + r->resumes + r->errors, 0); /* 4000 bytes at most: under 64 KiB */
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_d_is_lost, r, 10);
    CHECK_INT(r->lost, 1);
    th_peer_close(peer[0]);
    th_peer_close(peer[1]);
}

TEST(no_alloc_when_queued)
{
    queued_rounds(false);
}

TEST(no_alloc_when_queued_connected)
{
    queued_rounds(true);
}

/* The sender's address as datagram_received gets it, exactly (the receive path fills
   only what recvfrom reports, bench/README.md): from a named Unix socket its address and
   length, from an unnamed one no address (NULL, 0), then the named one again. */
TEST(received_address_exact)
{
    aiotp_loop *loop = th_loop();
    th_drec *r = th_drec_new();
    aiotp_transport *t;
    int sfd;
    int named;
    int unnamed;
    struct sockaddr_storage saddr;
    struct sockaddr_storage naddr;
    socklen_t slen;
    socklen_t nlen;

    th_udp_socket(AF_UNIX, &sfd, &saddr, &slen);
    th_udp_socket(AF_UNIX, &named, &naddr, &nlen);
    th_unix_dgram_unnamed(&unnamed);
    t = th_dwrap(loop, sfd, &th_datagram, r);
    CHECK_INT(th_peer_sendto(named, "one", 3, 0, (struct sockaddr *)&saddr, slen), 3);
    th_run_until(loop, th_d_has_dgram, r, 10);
    CHECK_INT(th_peer_sendto(unnamed, "two", 3, 0, (struct sockaddr *)&saddr, slen), 3);
    while (r->dgrams < 2) {
        th_run_once(loop);
    }
    CHECK_INT(th_peer_sendto(named, "three", 5, 0, (struct sockaddr *)&saddr, slen), 5);
    while (r->dgrams < 3) {
        th_run_once(loop);
    }
    CHECK_INT(r->dgrams, 3);
    CHECK_SIZE(r->from_len[0], nlen);
    CHECK(memcmp(&r->from[0], &naddr, nlen) == 0);
    CHECK_INT(r->from_len[1], 0);
    CHECK_SIZE(r->from_len[2], nlen);
    CHECK(memcmp(&r->from[2], &naddr, nlen) == 0);
    CHECK_SIZE(r->len[2], 5);
    CHECK(memcmp(r->data[2], "three", 5) == 0);
    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_d_is_lost, r, 10);
    CHECK_INT(r->lost, 1);
    th_peer_close(named);
    th_peer_close(unnamed);
}

static const th_case cases[] = {
    T(no_alloc_per_datagram, "PERF-4 DGRAM-SEND-3 DGRAM-RECV-1"),
    T(no_alloc_when_queued, "PERF-4 DGRAM-SEND-3 DGRAM-DRAIN-1"),
    T(no_alloc_when_queued_connected, "PERF-4 DGRAM-SEND-3 DGRAM-DRAIN-1"),
    T(received_address_exact, "DGRAM-RECV-1"),
};

TH_MAIN_SIM(cases)
