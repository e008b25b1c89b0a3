/*
 * tls_aiotp.c - the aiotp TLS echo server for the TLS benchmarks (bench/tls_run.sh): the
 * same echo protocol as echo_aiotp.c (every data_received chunk written straight back,
 * pause_writing -> pause_reading) on TLS transports (aiotp/tls.h, OpenSSL memory BIOs).
 *
 *   BENCH_TLS_CERT=chain.pem BENCH_TLS_KEY=key.pem tls_aiotp --tcp PORT
 *
 * Prints "ready" once listening; exits 0 on SIGTERM/SIGINT. The cipher is whatever the
 * client offers (tls_load offers exactly one, so every server runs the same one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/aiotp.h"
#include "aiotp/tls.h"
#include "bench_common.h"

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

static const aiotp_protocol echo = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .data_received = on_data,
    .pause_writing = on_pause,
    .resume_writing = on_resume,
};

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &echo;
    *data = NULL;
    return 0;
}

static int stop_pipe[2] = {-1, -1};
static aiotp_server *server;
static int listen_status = 1;

static void on_stop(aiotp_loop *loop, int fd, void *arg)
{
    (void)fd;
    (void)arg;
    aiotp_loop_remove_reader(loop, stop_pipe[0]);
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
        fprintf(stderr, "tls_aiotp: cannot listen: %s\n", aiotp_strerror(status));
        return;
    }
    server = s;
    aiotp_server_retain(s);
    bench_ready();
}

/* failed handshakes (a client that quits mid-handshake at the end of a run) are not news */
static void on_exception(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)loop;
    (void)ctx;
    (void)arg;
}

int main(int argc, char **argv)
{
    struct bench_addr addr;
    aiotp_server_options so;
    aiotp_tls_context *ctx = NULL;
    aiotp_loop *loop;
    const char *cert = getenv("BENCH_TLS_CERT");
    const char *key = getenv("BENCH_TLS_KEY");
    int rc;

    bench_parse_args_for(argc, argv, &addr, BENCH_ARGS_STREAM);
    if (cert == NULL || key == NULL) {
        fprintf(stderr, "tls_aiotp: set BENCH_TLS_CERT and BENCH_TLS_KEY\n");
        return 2;
    }
    bench_process_setup();
    rc = aiotp_tls_context_new(&ctx, AIOTP_TLS_SERVER);
    if (rc == 0) {
        rc = aiotp_tls_context_load_cert_chain(ctx, cert, key);
    }
    if (rc != 0) {
        fprintf(stderr, "tls_aiotp: TLS context: %s\n", aiotp_strerror(rc));
        return 1;
    }
    if (aiotp_loop_create(&loop, NULL) != 0 || bench_signal_pipe(stop_pipe) != 0) {
        fprintf(stderr, "tls_aiotp: setup failed\n");
        return 1;
    }
    aiotp_loop_set_exception_handler(loop, on_exception, NULL);
    aiotp_loop_add_reader(loop, stop_pipe[0], on_stop, NULL);
    aiotp_server_options_init(&so);
    so.backlog = BENCH_BACKLOG;
    so.tls = ctx;
    if (addr.is_unix) {
        rc = aiotp_loop_create_unix_server(loop, factory, NULL, addr.path, &so, on_listening,
                                           NULL);
    } else {
        rc = aiotp_loop_create_server(loop, factory, NULL, "127.0.0.1", addr.port, &so,
                                      on_listening, NULL);
    }
    aiotp_tls_context_free(ctx); /* the server keeps its own reference */
    if (rc != 0) {
        fprintf(stderr, "tls_aiotp: %s\n", aiotp_strerror(rc));
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
    bench_cleanup(&addr);
    return 0;
}
