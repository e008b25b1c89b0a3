/*
 * tests/package/consumer/consumer.c - a program written against an installed aiotp, as a
 * user would write it: the public headers only, strict C99 (or C++11: consumer.cpp
 * compiles this same file) with -Wall -Wextra -Wpedantic -Werror and no feature-test
 * macro. It uses the three libraries:
 *   aiotp         an echo over loopback TCP: a server on 127.0.0.1 (port 0), a client
 *                 that sends a message, reads the echo back and closes;
 *   aiotp_oracle  every trace line of that loop goes through the conformance oracle;
 *   aiotp_sim     a second loop on the simulated kernel, fed by the test as the peer.
 * Prints "consumer: ok" and exits 0 when every check passed.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "aiotp/aiotp.h"
#include "aiotp/oracle.h"
#include "aiotp/sim.h"

#define MESSAGE "hello from an installed aiotp"

static int failures;

#define EXPECT(cond)                                                                   \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "consumer: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                            \
            failures++;                                                                \
        }                                                                              \
    } while (0)

/* ---- the echo ---------------------------------------------------------------------- */

typedef struct echo_state {
    aiotp_loop *loop;
    aiotp_server *server;
    char received[64];
    size_t nreceived;
    int client_lost;
    int server_side_lost;
    size_t oracle_lines;
    aiotp_oracle *oracle;
} echo_state;

static echo_state st;

static int server_data(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    (void)data;
    return aiotp_transport_write(t, buf, len);
}

static int server_lost(aiotp_transport *t, void *data, int status)
{
    (void)t;
    (void)data;
    EXPECT(status == 0);
    st.server_side_lost++;
    if (st.client_lost) {
        aiotp_loop_stop(st.loop);
    }
    return 0;
}

static int client_data(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    (void)data;
    if (st.nreceived + len > sizeof(st.received)) {
        return AIOTP_ETOOBIG;
    }
    memcpy(st.received + st.nreceived, buf, len);
    st.nreceived += len;
    if (st.nreceived == strlen(MESSAGE)) {
        EXPECT(aiotp_transport_close(t) == 0);
    }
    return 0;
}

static int client_lost(aiotp_transport *t, void *data, int status)
{
    (void)t;
    (void)data;
    EXPECT(status == 0);
    st.client_lost++;
    EXPECT(aiotp_server_close(st.server) == 0);
    if (st.server_side_lost) {
        aiotp_loop_stop(st.loop);
    }
    return 0;
}

static aiotp_protocol server_proto;
static aiotp_protocol client_proto;

static int server_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &server_proto;
    *data = NULL;
    return 0;
}

static int client_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &client_proto;
    *data = NULL;
    return 0;
}

static void connected(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    EXPECT(status == 0);
    if (status == 0) {
        EXPECT(aiotp_transport_write(t, MESSAGE, strlen(MESSAGE)) == 0);
    } else {
        aiotp_loop_stop(st.loop);
    }
}

static void listening(void *arg, int status, aiotp_server *server)
{
    struct sockaddr_storage ss;
    struct sockaddr_in in;
    socklen_t len = sizeof(ss);
    (void)arg;
    EXPECT(status == 0);
    if (status != 0) {
        fprintf(stderr, "consumer: create_server: %s\n", aiotp_strerror(status));
        aiotp_loop_stop(st.loop);
        return;
    }
    st.server = server;
    EXPECT(aiotp_server_get_sockname(server, 0, (struct sockaddr *)&ss, &len) == 0);
    EXPECT(ss.ss_family == AF_INET);
    memcpy(&in, &ss, sizeof(in));
    EXPECT(aiotp_loop_create_connection(st.loop, client_factory, NULL, "127.0.0.1",
                                        ntohs(in.sin_port), NULL, connected, NULL) == 0);
}

static void *oracle_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void oracle_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static void trace_line(void *arg, const char *line)
{
    (void)arg;
    st.oracle_lines++;
    aiotp_oracle_feed_line(st.oracle, line, st.oracle_lines);
}

static void echo(void)
{
    aiotp_oracle_alloc alloc;
    aiotp_oracle_config cfg;
    const aiotp_oracle_report *report;

    memset(&server_proto, 0, sizeof(server_proto));
    server_proto.size = sizeof(server_proto);
    server_proto.kind = AIOTP_PROTOCOL_STREAMING;
    server_proto.data_received = server_data;
    server_proto.connection_lost = server_lost;
    client_proto = server_proto;
    client_proto.data_received = client_data;
    client_proto.connection_lost = client_lost;
    EXPECT(aiotp_protocol_validate(&server_proto) == 0);

    alloc.alloc = oracle_alloc;
    alloc.free = oracle_free;
    alloc.ctx = NULL;
    cfg.max_transports = 0;
    cfg.flags = AIOTP_ORACLE_REQUIRE_LOST;
    EXPECT(aiotp_oracle_new(&cfg, &alloc, &st.oracle) == 0);

    EXPECT(aiotp_loop_create(&st.loop, NULL) == 0);
    aiotp_loop_set_trace(st.loop, trace_line, NULL);
    EXPECT(aiotp_loop_create_server(st.loop, server_factory, NULL, "127.0.0.1", 0, NULL,
                                    listening, NULL) == 0);
    EXPECT(aiotp_loop_run(st.loop) == 0);
    aiotp_loop_free(st.loop);

    EXPECT(st.nreceived == strlen(MESSAGE));
    EXPECT(memcmp(st.received, MESSAGE, strlen(MESSAGE)) == 0);
    EXPECT(st.client_lost == 1 && st.server_side_lost == 1);

    EXPECT(aiotp_oracle_finish(st.oracle) == AIOTP_ORACLE_OK);
    report = aiotp_oracle_first(st.oracle);
    if (report != NULL) {
        fprintf(stderr, "consumer: trace line %lu: %s: %s\n", (unsigned long)report->lineno,
                report->rule ? report->rule : "-", report->detail);
    }
    EXPECT(report == NULL);
    EXPECT(aiotp_oracle_lines(st.oracle) > 10);
    aiotp_oracle_free(st.oracle);
}

/* ---- the simulated kernel ------------------------------------------------------------- */

static char sim_received[16];
static size_t sim_nreceived;

static int sim_data(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    (void)t;
    (void)data;
    if (sim_nreceived + len <= sizeof(sim_received)) {
        memcpy(sim_received + sim_nreceived, buf, len);
        sim_nreceived += len;
    }
    return 0;
}

static aiotp_protocol sim_proto;

static int sim_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &sim_proto;
    *data = NULL;
    return 0;
}

static void sim_connected(void *arg, int status, aiotp_transport *t)
{
    *(aiotp_transport **)arg = status == 0 ? t : NULL;
}

static void sim(void)
{
    aiotp_sim *sim;
    aiotp_loop *loop;
    aiotp_loop_options opts;
    aiotp_transport *t = NULL;
    int a, b, i;

    memset(&sim_proto, 0, sizeof(sim_proto));
    sim_proto.size = sizeof(sim_proto);
    sim_proto.kind = AIOTP_PROTOCOL_STREAMING;
    sim_proto.data_received = sim_data;

    EXPECT(aiotp_sim_create(&sim, NULL) == 0);
    memset(&opts, 0, sizeof(opts));
    opts.size = sizeof(opts);
    opts.backend = aiotp_backend_sim();
    opts.syscalls = aiotp_sim_syscalls(sim);
    EXPECT(aiotp_loop_create(&loop, &opts) == 0);
    EXPECT(aiotp_sim_socketpair(sim, &a, &b) == 0);
    EXPECT(aiotp_loop_connect_accepted_socket(loop, sim_factory, NULL, a, sim_connected,
                                              &t) == 0);
    EXPECT(aiotp_sim_write(sim, b, "ping", 4) == 4);
    for (i = 0; i < 5; i++) {
        EXPECT(aiotp_loop_run_once(loop) == 0);
    }
    EXPECT(t != NULL);
    EXPECT(sim_nreceived == 4 && memcmp(sim_received, "ping", 4) == 0);
    if (t != NULL) {
        EXPECT(aiotp_transport_write(t, "pong", 4) == 0);
    }
    {
        char buf[8];
        EXPECT(aiotp_sim_read(sim, b, buf, sizeof(buf)) == 4);
        EXPECT(memcmp(buf, "pong", 4) == 0);
    }
    aiotp_loop_free(loop);
    EXPECT(aiotp_sim_close(sim, b) == 0);
    EXPECT(aiotp_sim_open_fds(sim) == 0);
    aiotp_sim_free(sim);
}

int main(void)
{
    EXPECT(strcmp(aiotp_version(), AIOTP_VERSION_STRING) == 0);
    EXPECT(strcmp(aiotp_err_name(AIOTP_ECLOSED), "ECLOSED") == 0);
    echo();
    sim();
    if (failures != 0) {
        fprintf(stderr, "consumer: %d checks failed\n", failures);
        return 1;
    }
    printf("consumer: ok (aiotp %s)\n", aiotp_version());
    return 0;
}
