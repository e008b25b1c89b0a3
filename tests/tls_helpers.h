/*
 * tests/tls_helpers.h - what the TLS tests (test_tls_*.c) share: the certificates made
 * at test time (tests/tls/make_certs.sh, with the openssl command line), contexts, and a
 * connected pair of TLS transports of one loop over a TCP pair.
 *
 * Certificates live in one directory per build (AIOTP_TLS_CERT_DIR, the CTest fixture
 * tls.certs makes it; a case run by hand makes it when it is missing).
 */
#ifndef AIOTP_TEST_TLS_HELPERS_H
#define AIOTP_TEST_TLS_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

#include "aiotp/tls.h"
#include "harness.h"

/* The path of a generated file ("ca.pem", "server.key", ...), static storage (one of
   eight rotating buffers). */
const char *th_tls_path(const char *name);

/* Contexts freed after the case: a server context with `cert` (e.g. "server", "other",
   "wrongname", "expired": cert.pem and cert.key); a client context trusting ca.pem. */
aiotp_tls_context *th_tls_server_ctx(const char *cert);
aiotp_tls_context *th_tls_client_ctx(void);

/* The outcome of one side's completion. */
typedef struct th_tls_side {
    bool done;
    int status;
    aiotp_transport *t;   /* the TLS transport (retained until the case ends), or NULL */
    unsigned id;          /* its trace id */
    unsigned lower_id;    /* the stream transport below */
} th_tls_side;

void th_tls_done(void *arg, int status, aiotp_transport *t);
bool th_tls_side_done(void *side);

/* A TCP pair (th_tcp_pair), the client end wrapped with create_connection(sock=,
   tls=cctx, server_hostname=host) and the server end with connect_accepted_socket_opts
   (tls=sctx); the client's transports are t1 (below) and t2, the server's t3 and t4.
   Runs until both completions came (max 50 passes). proto/data NULL: th_streaming with a
   new recorder (returned through *rc / *rs when not NULL). */
typedef struct th_tls_pair {
    th_tls_side c;
    th_tls_side s;
    th_rec *cr;
    th_rec *sr;
} th_tls_pair;

/* The client's shutdown timeout in th_tls_pair_make (0: the default), reset after a case. */
extern aiotp_time th_tls_client_shutdown_timeout;

void th_tls_pair_make(aiotp_loop *loop, th_tls_pair *p, aiotp_tls_context *cctx,
                      aiotp_tls_context *sctx, const char *host,
                      const aiotp_protocol *cproto, const aiotp_protocol *sproto);

/* Run until both recorders got connection_lost. */
void th_tls_pair_finish(aiotp_loop *loop, th_tls_pair *p, int passes);

/* Factories handing out th_streaming / th_buffered with the recorder `arg`. */
int th_tls_rec_factory(void *arg, const aiotp_protocol **proto, void **data);
int th_rec_factory_buffered(void *arg, const aiotp_protocol **proto, void **data);

/* The trace id of a transport. */
unsigned th_tid(const aiotp_transport *t);

/* The cb lines of transport id without the arguments after the name, plus the status of
   connection_lost and the result of eof_received ("cb connection_made\ncb data_received\n
   ..."). Static storage. */
const char *th_tls_cbs(unsigned id);

#endif /* AIOTP_TEST_TLS_HELPERS_H */
