/*
 * examples/demo.c - the main job: the documentation's TCP echo server and TCP echo
 * client in one loop over loopback, with the library's trace of every protocol callback
 * and transport call printed, then checked.
 *
 * The check: the whole trace goes through the conformance oracle (include/aiotp/oracle.h,
 * the same module as aiotp-trace-check: the documented state machines, flow control,
 * byte counts, exactly one connection_lost per transport), and the exact callback
 * sequence of both sides is the expected one (the bytes the client sent arrive at the
 * server and come back intact: byte counts and checksums in the trace).
 * Exit status 0 only if the check passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/aiotp.h"
#include "aiotp/oracle.h"
#include "example_util.h"

#define MAX_LINES 512

static char *lines[MAX_LINES];
static size_t nlines;
static bool quiet;

static void record(void *arg, const char *line)
{
    (void)arg;
    if (!quiet) {
        printf("  | %s\n", line);
    }
    if (nlines < MAX_LINES) {
        size_t n = strlen(line) + 1;
        lines[nlines] = malloc(n);
        if (lines[nlines] != NULL) {
            memcpy(lines[nlines++], line, n);
        }
    }
}

/* ---- the documentation's echo server ---- */

static aiotp_server *server;

static int srv_made(aiotp_transport *t, void *data)
{
    char peer[128];
    (void)data;
    example_format_addr(aiotp_transport_get_extra_info(t, "peername", NULL), peer, sizeof(peer));
    printf("[server] Connection from %s\n", peer);
    return 0;
}

static int srv_data(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    (void)data;
    printf("[server] Data received: '%.*s'\n", (int)len, (const char *)buf);
    printf("[server] Send: '%.*s'\n", (int)len, (const char *)buf);
    aiotp_transport_write(t, buf, len);
    printf("[server] Close the client socket\n");
    aiotp_transport_close(t);
    return 0;
}

static int srv_lost(aiotp_transport *t, void *data, int status)
{
    (void)t;
    (void)data;
    printf("[server] connection lost (status %s)\n", aiotp_err_name(status));
    aiotp_server_close(server); /* one connection is all the demo needs */
    return 0;
}

static const aiotp_protocol server_protocol = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = srv_made,
    .data_received = srv_data,
    .connection_lost = srv_lost,
};

static int server_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &server_protocol;
    *data = NULL;
    return 0;
}

/* ---- the documentation's echo client ---- */

static const char message[] = "Hello World!";
static bool client_lost;
static bool server_closed;

static int cli_made(aiotp_transport *t, void *data)
{
    (void)data;
    aiotp_transport_write(t, message, strlen(message));
    printf("[client] Data sent: '%s'\n", message);
    return 0;
}

static int cli_data(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    (void)t;
    (void)data;
    printf("[client] Data received: '%.*s'\n", (int)len, (const char *)buf);
    return 0;
}

static int cli_lost(aiotp_transport *t, void *data, int status)
{
    (void)t;
    (void)data;
    printf("[client] The server closed the connection (status %s)\n", aiotp_err_name(status));
    client_lost = true;
    if (server_closed) {
        aiotp_loop_stop(aiotp_transport_get_loop(t));
    }
    return 0;
}

static const aiotp_protocol client_protocol = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = cli_made,
    .data_received = cli_data,
    .connection_lost = cli_lost,
};

static int client_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &client_protocol;
    *data = NULL;
    return 0;
}

static int connect_status = 1;
static void on_connected(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    (void)t;
    connect_status = status;
}

static void on_server(void *arg, int status, aiotp_server *s)
{
    aiotp_loop *loop = arg;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int port;
    if (status != 0) {
        fprintf(stderr, "create_server: %s\n", aiotp_strerror(status));
        exit(1);
    }
    server = s;
    aiotp_server_get_sockname(s, 0, (struct sockaddr *)&ss, &len);
    port = example_port_of((struct sockaddr *)&ss);
    printf("[server] listening on 127.0.0.1:%d\n", port);
    if (aiotp_loop_create_connection(loop, client_factory, NULL, "127.0.0.1", port, NULL,
                                     on_connected, NULL) != 0) {
        exit(1);
    }
}

static void on_closed(void *arg, int status, aiotp_server *s)
{
    (void)status;
    (void)s;
    server_closed = true;
    if (client_lost) {
        aiotp_loop_stop(arg);
    }
}

/* ---- the check ---- */

static void *o_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void o_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    (void)n;
    free(p);
}

/* Every line through the oracle; every transport must have reached connection_lost. */
static int oracle_check(void)
{
    aiotp_oracle_alloc alloc = {o_alloc, o_free, NULL};
    aiotp_oracle_config cfg = {0, AIOTP_ORACLE_REQUIRE_LOST};
    aiotp_oracle *o;
    const aiotp_oracle_report *r;
    size_t i;
    int failures = 0;

    if (aiotp_oracle_new(&cfg, &alloc, &o) != 0) {
        printf("CHECK FAILED: cannot create the oracle\n");
        return 1;
    }
    (void)aiotp_oracle_set_profile(o, AIOTP_ORACLE_PROFILE_AIOTP); /* the library's own */
    for (i = 0; i < nlines; i++) {
        aiotp_oracle_feed_line(o, lines[i], i + 1);
    }
    aiotp_oracle_finish(o);
    r = aiotp_oracle_first(o);
    if (r != NULL) {
        size_t k;
        printf("CHECK FAILED: trace line %zu: %s: %s\n  found: %s\n", r->lineno,
               r->rule ? r->rule : "parse", r->rule_text ? r->rule_text : "", r->detail);
        for (k = 0; k < r->nrecent; k++) {
            printf("  %zu: %s\n", r->recent[k].lineno, r->recent[k].text);
        }
        failures++;
    } else {
        printf("oracle: %zu trace lines conform to the rules of spec/rules.md\n",
               aiotp_oracle_lines(o));
    }
    aiotp_oracle_free(o);
    return failures;
}

/* The callback lines ("cb" and "ret") of transport `id`, joined with '\n'. */
static void callbacks_of(const char *id, char *out, size_t n)
{
    size_t i;
    size_t used = 0;
    char prefix[16];
    char eofret[32];
    snprintf(prefix, sizeof(prefix), "%s cb ", id);
    snprintf(eofret, sizeof(eofret), "%s ret eof_received", id);
    out[0] = '\0';
    for (i = 0; i < nlines; i++) {
        if (strncmp(lines[i], prefix, strlen(prefix)) == 0 ||
            strncmp(lines[i], eofret, strlen(eofret)) == 0) {
            used += (size_t)snprintf(out + used, n - used, "%s\n", lines[i] + strlen(id) + 1);
            if (used >= n) {
                return;
            }
        }
    }
}

static int check(void)
{
    char got[4096];
    int failures = 0;
    /* the client connects first: t1 is the client, t2 the accepted connection */
/* server: writes the echo and closes; client: gets the echo, then EOF, and its
   eof_received (the default, false) lets the transport close itself */
#define EXPECT_SERVER                                                                  \
    "cb connection_made\n"                                                             \
    "cb data_received n=12 total=12 sum=%s\n"                                          \
    "cb connection_lost status=0\n"
#define EXPECT_CLIENT                                                                  \
    "cb connection_made\n"                                                             \
    "cb data_received n=12 total=12 sum=%s\n"                                          \
    "cb eof_received\n"                                                                \
    "ret eof_received 0\n"                                                             \
    "cb connection_lost status=0\n"
    char sum[16];
    unsigned sides = 0;
    uint32_t h = 0xffffffffu; /* CRC-32 as zlib.crc32 (trace format 3), bit by bit */
    size_t i;
    int k;

    for (i = 0; i < strlen(message); i++) {
        h ^= (unsigned char)message[i];
        for (k = 0; k < 8; k++) {
            h = (h & 1u) ? (h >> 1) ^ 0xEDB88320u : h >> 1;
        }
    }
    snprintf(sum, sizeof(sum), "%08x", (unsigned)~h);

    /* the two transports are t1 and t2; which one is the client depends on whether
       the accept or the connect completion was seen first */
    for (i = 1; i <= 2; i++) {
        char id[8];
        char want_s[512];
        char want_c[512];
        snprintf(id, sizeof(id), "t%zu", i);
        callbacks_of(id, got, sizeof(got));
        snprintf(want_s, sizeof(want_s), EXPECT_SERVER, sum);
        snprintf(want_c, sizeof(want_c), EXPECT_CLIENT, sum);
        if (strcmp(got, want_s) == 0) {
            sides |= 1;
        } else if (strcmp(got, want_c) == 0) {
            sides |= 2;
        } else {
            printf("CHECK FAILED: callbacks of %s\n--- expected (server)\n%s"
                   "--- or (client)\n%s--- got\n%s", id, want_s, want_c, got);
            failures++;
        }
    }
    if (failures == 0 && sides != 3) {
        printf("CHECK FAILED: expected one server and one client transport\n");
        failures++;
    }
    if (connect_status != 0 || !client_lost) {
        printf("CHECK FAILED: connect status %s, client lost %d\n",
               aiotp_err_name(connect_status), client_lost);
        failures++;
    }
    return failures;
}

int main(int argc, char **argv)
{
    aiotp_loop *loop;
    int failures;
    size_t i;

    quiet = argc > 1 && strcmp(argv[1], "--quiet") == 0;
    if (aiotp_loop_create(&loop, NULL) != 0) {
        return 1;
    }
    printf("aiotp %s demo: the documentation's TCP echo server and client over loopback\n",
           aiotp_version());
    printf("trace (spec/trace-format.md):\n");
    aiotp_loop_set_trace(loop, record, NULL);
    if (aiotp_loop_create_server(loop, server_factory, NULL, "127.0.0.1", 0, NULL, on_server,
                                 loop) != 0) {
        return 1;
    }
    /* run until the server is closed and its connection is gone */
    while (server == NULL) {
        aiotp_loop_run_once(loop);
    }
    aiotp_server_wait_closed(server, on_closed, loop);
    aiotp_loop_run(loop);
    aiotp_loop_set_trace(loop, NULL, NULL);
    aiotp_loop_free(loop);

    failures = oracle_check() + check();
    printf("%s: trace of %zu lines checked against the documented callback sequences\n",
           failures == 0 ? "OK" : "FAILED", nlines);
    for (i = 0; i < nlines; i++) {
        free(lines[i]);
    }
    return failures == 0 ? 0 : 1;
}
