/*
 * tests/async_helpers.h - helpers of the tests of threads, name resolution, cancelling
 * and the end of a loop (tests/test_resolver.c, tests/test_cancel.c,
 * tests/test_close_all.c).
 *
 * A fake blocking resolver: its getaddrinfo blocks behind a gate until the test opens
 * it (a DNS server that answers slowly), then answers from a small table of invented
 * names:
 *   "nx.test":  EAI_NONAME          "again.test": EAI_AGAIN
 *   "fast.*":   127.0.0.1 (::1 for AF_INET6 hints) without waiting at the gate
 *   any other name: 127.0.0.1 (::1) once the gate is open
 * It counts its calls, the threads they ran on and how many ran at once. Give it to
 * loops with th_set_resolver(th_slow_resolver(n)) (n worker threads; 0: the loop
 * thread). Open the gate before the loop is freed (aiotp_loop_free waits for a lookup a
 * worker runs).
 *
 * Then a completion recorder for the connection methods (and datagram endpoints), one
 * for servers and one for aiotp_loop_getaddrinfo, a factory handing out a th_rec, a
 * counting factory that refuses, and listening sockets on the real kernel.
 */
#ifndef AIOTP_TEST_ASYNC_HELPERS_H
#define AIOTP_TEST_ASYNC_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"

/* ---- the slow resolver ---------------------------------------------------------------- */

/* Reset the counters, close the gate, and return the resolver with `threads` workers. */
const aiotp_resolver *th_slow_resolver(unsigned threads);
/* Open the gate: every call waiting there, and every later one, goes on. */
void th_slow_open(void);
/* Wait (up to 5 s of real time) until n calls have entered; false on timeout. */
bool th_slow_wait_entered(int n);
/* Calls so far; the most that were inside at once; whether one ran on the thread that
   called th_slow_resolver(); lists it returned that were not freed yet. */
int th_slow_calls(void);
int th_slow_max_concurrent(void);
bool th_slow_on_test_thread(void);
int th_slow_live_lists(void);

/* ---- completions ---------------------------------------------------------------------- */

/* A connection's (or endpoint's) completion: calls, last status and transport, the loop
   iteration it ran in (loop set by the test). */
typedef struct th_done {
    int calls;
    int status;
    aiotp_transport *t;
    aiotp_server *s;
    uint64_t iter;
    aiotp_loop *loop;
    /* aiotp_loop_getaddrinfo: the first address's family and port (host order) */
    int family;
    int port;
} th_done;

void th_on_conn(void *arg, int status, aiotp_transport *t);
void th_on_server(void *arg, int status, aiotp_server *s);
void th_on_gai(void *arg, int status, const struct addrinfo *res);
/* predicate for th_run_until: the completion ran */
bool th_done_yet(void *arg);

/* A factory handing out the th_rec given as its argument (a streaming table). */
int th_rec_factory(void *arg, const aiotp_protocol **proto, void **data);
/* A factory that counts its calls in the int its argument points to and refuses. */
int th_counting_factory(void *arg, const aiotp_protocol **proto, void **data);

/* ---- real sockets ---------------------------------------------------------------------- */

/* A TCP socket listening on 127.0.0.1 with this backlog (its port to *port). */
int th_listen_tcp(int backlog, int *port);
/* A listener whose accept queue is full (backlog 0 and one connection that completed):
   a connect to *port gets no answer, the kernel drops its SYNs (an address that never
   answers, without root). *filler is the connection that fills it; close both. */
int th_blackhole(int *port, int *filler);

#endif /* AIOTP_TEST_ASYNC_HELPERS_H */
