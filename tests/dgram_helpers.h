/*
 * tests/dgram_helpers.h - what the datagram tests share: a recording DatagramProtocol,
 * endpoint helpers that run the loop until the completion, and peer sockets.
 *
 * A case plays its peer with the harness's datagram sockets (th_udp_socket,
 * th_dgram_socketpair, th_peer_sendto/recvfrom: real sockets, or the sim's in sim mode);
 * the recorder counts every callback and keeps the datagrams it received.
 */
#ifndef AIOTP_TEST_DGRAM_HELPERS_H
#define AIOTP_TEST_DGRAM_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "harness.h"

typedef struct th_drec th_drec;
typedef int (*th_dhook)(th_drec *r, aiotp_transport *t);

#define TH_DREC_MAX 64 /* datagrams kept (the rest only counted) */

struct th_drec {
    aiotp_transport *t;    /* set by connection_made */
    int made;
    int lost;
    int lost_status;
    int pauses;
    int resumes;
    int errors;            /* error_received count */
    int last_error;
    int dgrams;            /* datagram_received count */
    size_t bytes;          /* their bytes */
    size_t len[TH_DREC_MAX];
    unsigned char data[TH_DREC_MAX][512]; /* the first 512 bytes of each */
    struct sockaddr_storage from[TH_DREC_MAX];
    socklen_t from_len[TH_DREC_MAX];
    int made_ret;          /* what the callbacks return */
    int data_ret;
    int error_ret;
    int lost_ret;
    /* optional hooks, called after the counters are updated */
    th_dhook on_made;
    th_dhook on_dgram;
    th_dhook on_error;
    th_dhook on_pause;
    th_dhook on_resume;
    th_dhook on_lost;
    void *user;
};

extern const aiotp_protocol th_datagram;

/* A new zeroed recorder (freed after the case). */
th_drec *th_drec_new(void);

bool th_d_is_lost(void *rec); /* r->lost > 0 */
bool th_d_has_dgram(void *rec); /* r->dgrams > 0 */

/* create_datagram_endpoint(sock = fd) with th_datagram/r (or proto/data) and run until the
   completion; returns the transport (retained until the case ends). */
aiotp_transport *th_dwrap(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *data);

/* A UDP endpoint on 127.0.0.1 (family AF_INET) or ::1 (AF_INET6): bound to an ephemeral
   port, connected to remote (NULL: not connected). */
aiotp_transport *th_udp_endpoint(aiotp_loop *loop, int family, const struct sockaddr *remote,
                                 socklen_t rlen, th_drec *r);

/* The local address of a transport (its "sockname"). */
socklen_t th_sockname(aiotp_transport *t, struct sockaddr_storage *out);

/* A factory handing out th_datagram with the recorder `arg`; a completion that fails the
   case unless the endpoint was made (for loops a case makes itself). */
int th_dgram_factory(void *arg, const aiotp_protocol **proto, void **data);
void th_dgram_done(void *arg, int status, aiotp_transport *t);

/* th_callbacks(id) with each line cut to its first two words ("cb datagram_received"):
   the exact callback sequence without the arguments that change from run to run
   (ephemeral ports). Static storage, overwritten by the next call. */
const char *th_cb_names(unsigned id);

#endif /* AIOTP_TEST_DGRAM_HELPERS_H */
