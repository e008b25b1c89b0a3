/*
 * echo_aiotp.c - the aiotp echo server for the benchmarks: persistent connections,
 * every data_received chunk written straight back, and flow control: reading pauses
 * while the transport has paused the protocol for writing (pause_writing ->
 * pause_reading, resume_writing -> resume_reading).
 *
 *   echo_aiotp --tcp PORT | --unix PATH | --udp PORT
 *   AIOTP_BENCH_BACKEND=poll|epoll  (default poll, the reference backend)
 *
 * Reads are the transport's own: one recv of at most 256 KiB per readiness event into
 * the loop's shared buffer (no per-connection receive buffer).
 *
 * --udp PORT: the UDP echo server instead: one datagram endpoint on 127.0.0.1:PORT whose
 * datagram_received sends every datagram back to its sender with sendto() (at once when
 * nothing is queued; the transport queues a copy when the kernel does not take it), with
 * the same flow control (pause_writing -> pause_reading). Receives are the transport's:
 * one recvfrom per readiness event into the loop's buffer.
 *
 * Built a second time as tls_aiotp (-DBENCH_TLS, linked with aiotp_tls) for the TLS
 * benchmarks (bench/tls_run.sh): the same server on TLS transports, the certificate and
 * key from BENCH_TLS_CERT and BENCH_TLS_KEY; stream addresses only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aiotp/aiotp.h"
#include "bench_common.h"
#if defined(BENCH_TLS)
#include "aiotp/tls.h"
#endif

static int on_data(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    (void)data;
    aiotp_transport_write(t, buf, len);
    return 0;
}

static int on_pause(aiotp_transport *t, void *data)
{
    (void)data;
    return aiotp_transport_pause_reading(t);
}

static int on_resume(aiotp_transport *t, void *data)
{
    (void)data;
    return aiotp_transport_resume_reading(t);
}

static int on_eof(aiotp_transport *t, void *data)
{
    (void)t;
    (void)data;
    return 0; /* close once everything written has been flushed */
}

static const aiotp_protocol echo = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .data_received = on_data,
    .pause_writing = on_pause,
    .resume_writing = on_resume,
    .eof_received = on_eof,
};

static int on_datagram(aiotp_transport *t, void *data, const void *buf, size_t len,
                       const struct sockaddr *addr, socklen_t addrlen)
{
    (void)data;
    aiotp_transport_sendto(t, buf, len, addr, addrlen);
    return 0;
}

static int on_udp_lost(aiotp_transport *t, void *data, int status)
{
    (void)data;
    (void)status;
    aiotp_loop_stop(aiotp_transport_get_loop(t)); /* after the close in on_stop */
    return 0;
}

static const aiotp_protocol udp_echo = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_DATAGRAM,
    .datagram_received = on_datagram,
    .pause_writing = on_pause,
    .resume_writing = on_resume,
    .connection_lost = on_udp_lost,
};

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &echo;
    *data = NULL;
    return 0;
}

static int udp_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &udp_echo;
    *data = NULL;
    return 0;
}

static int stop_pipe[2] = {-1, -1};
static aiotp_server *server;
static aiotp_transport *udp;
static int listen_status = 1;

static void on_stop(aiotp_loop *loop, int fd, void *arg)
{
    (void)fd;
    (void)arg;
    aiotp_loop_remove_reader(loop, stop_pipe[0]);
    if (udp != NULL) {
        aiotp_transport_abort(udp); /* connection_lost stops the loop */
        return;
    }
    if (server != NULL) {
        aiotp_server_close(server);
    }
    aiotp_loop_stop(loop);
}

static void on_listening(void *arg, int status, aiotp_server *s)
{
    (void)arg;
    listen_status = status;
    if (status != 0) {
        fprintf(stderr, "echo_aiotp: cannot listen: %s\n", aiotp_strerror(status));
        return;
    }
    server = s;
    aiotp_server_retain(s);
    bench_ready();
}

static void on_endpoint(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    listen_status = status;
    if (status != 0) {
        fprintf(stderr, "echo_aiotp: cannot bind: %s\n", aiotp_strerror(status));
        return;
    }
    udp = t;
    bench_ready();
}

int main(int argc, char **argv)
{
    struct bench_addr addr;
    aiotp_loop_options o;
    aiotp_server_options so;
    aiotp_loop *loop;
    const char *backend = getenv("AIOTP_BENCH_BACKEND");
    int rc;

#if defined(BENCH_TLS)
    aiotp_tls_context *ctx = NULL;
    const char *cert = getenv("BENCH_TLS_CERT");
    const char *key = getenv("BENCH_TLS_KEY");
    bench_parse_args_for(argc, argv, &addr, BENCH_ARGS_STREAM);
    if (cert == NULL || key == NULL) {
        fprintf(stderr, "tls_aiotp: set BENCH_TLS_CERT and BENCH_TLS_KEY\n");
        return 2;
    }
    rc = aiotp_tls_context_new(&ctx, AIOTP_TLS_SERVER);
    if (rc == 0) {
        rc = aiotp_tls_context_load_cert_chain(ctx, cert, key);
    }
    if (rc != 0) {
        fprintf(stderr, "tls_aiotp: TLS context: %s\n", aiotp_strerror(rc));
        return 1;
    }
#else
    bench_parse_args_for(argc, argv, &addr, BENCH_ARGS_STREAM | BENCH_ARGS_UDP);
#endif
    bench_process_setup();
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    if (backend != NULL && strcmp(backend, "epoll") == 0) {
#if defined(__linux__)
        o.backend = aiotp_backend_epoll();
#endif
    } else if (backend != NULL && strcmp(backend, "poll") != 0) {
        fprintf(stderr, "echo_aiotp: AIOTP_BENCH_BACKEND must be poll or epoll\n");
        return 2;
    }
    if (aiotp_loop_create(&loop, &o) != 0 || bench_signal_pipe(stop_pipe) != 0) {
        fprintf(stderr, "echo_aiotp: setup failed\n");
        return 1;
    }
    aiotp_loop_add_reader(loop, stop_pipe[0], on_stop, NULL);

    aiotp_server_options_init(&so);
    so.backlog = BENCH_BACKLOG;
#if defined(BENCH_TLS)
    so.tls = ctx; /* the server keeps its own reference */
#endif
    if (addr.is_udp) {
        rc = aiotp_loop_create_datagram_endpoint(loop, udp_factory, NULL, "127.0.0.1", addr.port,
                                                 NULL, 0, NULL, on_endpoint, NULL);
    } else if (addr.is_unix) {
        rc = aiotp_loop_create_unix_server(loop, factory, NULL, addr.path, &so, on_listening,
                                           NULL);
    } else {
        rc = aiotp_loop_create_server(loop, factory, NULL, "127.0.0.1", addr.port, &so,
                                      on_listening, NULL);
    }
#if defined(BENCH_TLS)
    aiotp_tls_context_free(ctx);
#endif
    if (rc != 0) {
        fprintf(stderr, "echo_aiotp: %s\n", aiotp_strerror(rc));
        return 2;
    }
    while (listen_status == 1) {
        aiotp_loop_run_once(loop);
    }
    if (listen_status != 0) {
        return 1;
    }
    aiotp_loop_run(loop);
    if (server != NULL) {
        aiotp_server_release(server);
    }
    aiotp_loop_free(loop);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    bench_cleanup(&addr);
    return 0;
}
