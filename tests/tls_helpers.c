/* tests/tls_helpers.c - see tls_helpers.h. */
#include "tls_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "transport_int.h"

#ifndef AIOTP_TLS_CERT_DIR
#error "AIOTP_TLS_CERT_DIR must name the directory of the generated certificates"
#endif
#ifndef AIOTP_TLS_MAKE_CERTS
#error "AIOTP_TLS_MAKE_CERTS must name tests/tls/make_certs.sh"
#endif

#define MAX_CTX 16

static aiotp_tls_context *ctxs[MAX_CTX];
static size_t nctx;
static bool hooked;

aiotp_time th_tls_client_shutdown_timeout;

static void free_ctxs(void)
{
    size_t i;
    th_tls_client_shutdown_timeout = 0;
    for (i = 0; i < nctx; i++) {
        aiotp_tls_context_free(ctxs[i]);
    }
    nctx = 0;
}

static void keep_ctx(aiotp_tls_context *c)
{
    if (!hooked) {
        th_on_case_end(free_ctxs);
        hooked = true;
    }
    if (nctx == MAX_CTX) {
        abort();
    }
    ctxs[nctx++] = c;
}

static void make_certs(void)
{
    static bool made;
    struct stat st;
    char done[1024];
    snprintf(done, sizeof(done), "%s/done", AIOTP_TLS_CERT_DIR);
    if (made || stat(done, &st) == 0) {
        made = true;
        return;
    }
    {
        char cmd[2048];
        snprintf(cmd, sizeof(cmd), "'%s' '%s'", AIOTP_TLS_MAKE_CERTS, AIOTP_TLS_CERT_DIR);
        if (system(cmd) != 0) {
            th_fail(__FILE__, __LINE__, "%s failed", cmd);
        }
    }
    made = true;
}

const char *th_tls_path(const char *name)
{
    static char bufs[8][1024];
    static unsigned k;
    char *b = bufs[k++ % 8];
    make_certs();
    snprintf(b, sizeof(bufs[0]), "%s/%s", AIOTP_TLS_CERT_DIR, name);
    return b;
}

aiotp_tls_context *th_tls_server_ctx(const char *cert)
{
    aiotp_tls_context *c = NULL;
    char pem[64];
    char key[64];
    snprintf(pem, sizeof(pem), "%s.pem", cert);
    snprintf(key, sizeof(key), "%s.key", cert);
    CHECK_ERR(aiotp_tls_context_new(&c, AIOTP_TLS_SERVER), 0);
    if (c == NULL) {
        abort();
    }
    CHECK_ERR(aiotp_tls_context_load_cert_chain(c, th_tls_path(pem), th_tls_path(key)), 0);
    keep_ctx(c);
    return c;
}

aiotp_tls_context *th_tls_client_ctx(void)
{
    aiotp_tls_context *c = NULL;
    CHECK_ERR(aiotp_tls_context_new(&c, AIOTP_TLS_CLIENT), 0);
    if (c == NULL) {
        abort();
    }
    CHECK_ERR(aiotp_tls_context_load_verify_locations(c, th_tls_path("ca.pem"), NULL), 0);
    keep_ctx(c);
    return c;
}

int th_tls_rec_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &th_streaming;
    *data = arg;
    return 0;
}

int th_rec_factory_buffered(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &th_buffered;
    *data = arg;
    return 0;
}

unsigned th_tid(const aiotp_transport *t)
{
    return t != NULL ? (unsigned)t->id : 0;
}

void th_tls_done(void *arg, int status, aiotp_transport *t)
{
    th_tls_side *s = arg;
    s->done = true;
    s->status = status;
    s->t = t;
    if (t != NULL) {
        th_keep(t);
        s->id = th_tid(t);
    }
}

bool th_tls_side_done(void *side)
{
    return ((th_tls_side *)side)->done;
}

static bool both_done(void *arg)
{
    th_tls_pair *p = arg;
    return p->c.done && p->s.done;
}

static const aiotp_protocol *pair_proto[2];
static void *pair_data[2];

static int factory_c(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = pair_proto[0];
    *data = pair_data[0];
    return 0;
}

static int factory_s(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = pair_proto[1];
    *data = pair_data[1];
    return 0;
}

void th_tls_pair_make(aiotp_loop *loop, th_tls_pair *p, aiotp_tls_context *cctx,
                      aiotp_tls_context *sctx, const char *host,
                      const aiotp_protocol *cproto, const aiotp_protocol *sproto)
{
    aiotp_connect_options o;
    int sv[2];
    memset(p, 0, sizeof(*p));
    p->cr = th_rec_new();
    p->sr = th_rec_new();
    pair_proto[0] = cproto != NULL ? cproto : &th_streaming;
    pair_proto[1] = sproto != NULL ? sproto : &th_streaming;
    pair_data[0] = p->cr;
    pair_data[1] = p->sr;
    th_tcp_pair(sv);
    aiotp_connect_options_init(&o);
    o.sock = sv[0];
    o.tls = cctx;
    o.server_hostname = host;
    o.tls_shutdown_timeout = th_tls_client_shutdown_timeout;
    CHECK_ERR(aiotp_loop_create_connection(loop, factory_c, NULL, NULL, 0, &o, th_tls_done,
                                           &p->c),
              0);
    aiotp_connect_options_init(&o);
    o.tls = sctx;
    CHECK_ERR(aiotp_loop_connect_accepted_socket_opts(loop, factory_s, NULL, sv[1], &o,
                                                      th_tls_done, &p->s),
              0);
    th_run_until(loop, both_done, p, 50);
    p->c.lower_id = 1;
    p->s.lower_id = 3;
}

static bool both_lost(void *arg)
{
    th_tls_pair *p = arg;
    return p->cr->lost > 0 && p->sr->lost > 0;
}

void th_tls_pair_finish(aiotp_loop *loop, th_tls_pair *p, int passes)
{
    th_run_until(loop, both_lost, p, passes);
}

const char *th_tls_cbs(unsigned id)
{
    static char out[8192];
    const char *in = th_callbacks(id);
    size_t n = 0;
    out[0] = '\0';
    while (*in != '\0') {
        const char *nl = strchr(in, '\n');
        size_t len = nl != NULL ? (size_t)(nl - in) : strlen(in);
        size_t keep = len;
        const char *sp1 = memchr(in, ' ', len);
        const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - in)) : NULL;
        /* "cb NAME ARGS": the name only, except connection_lost's status; "ret eof_received R"
           as it is */
        if (sp2 != NULL && strncmp(in, "cb ", 3) == 0 &&
            strncmp(sp1 + 1, "connection_lost", 15) != 0) {
            keep = (size_t)(sp2 - in);
        }
        if (n + keep + 2 < sizeof(out)) {
            memcpy(out + n, in, keep);
            n += keep;
            out[n++] = '\n';
            out[n] = '\0';
        }
        in += len;
        if (*in == '\n') {
            in++;
        }
    }
    return out;
}
