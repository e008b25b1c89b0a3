/* tests/dgram_helpers.c - see dgram_helpers.h. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "dgram_helpers.h"

#define MAX_DRECS 128
static th_drec *drecs[MAX_DRECS]; /* the recorders of the current case */
static size_t ndrecs;

static void free_drecs(void)
{
    while (ndrecs > 0) {
        free(drecs[--ndrecs]);
    }
}

static th_drec *rec_of(void *data)
{
    return data;
}

static int d_made(aiotp_transport *t, void *data)
{
    th_drec *r = rec_of(data);
    r->t = t;
    r->made++;
    if (r->on_made != NULL) {
        (void)r->on_made(r, t);
    }
    return r->made_ret;
}

static int d_lost(aiotp_transport *t, void *data, int status)
{
    th_drec *r = rec_of(data);
    r->lost++;
    r->lost_status = status;
    if (r->on_lost != NULL) {
        (void)r->on_lost(r, t);
    }
    return r->lost_ret;
}

static int d_pause(aiotp_transport *t, void *data)
{
    th_drec *r = rec_of(data);
    r->pauses++;
    return r->on_pause != NULL ? r->on_pause(r, t) : 0;
}

static int d_resume(aiotp_transport *t, void *data)
{
    th_drec *r = rec_of(data);
    r->resumes++;
    return r->on_resume != NULL ? r->on_resume(r, t) : 0;
}

static int d_dgram(aiotp_transport *t, void *data, const void *buf, size_t len,
                   const struct sockaddr *addr, socklen_t alen)
{
    th_drec *r = rec_of(data);
    if (r->dgrams < TH_DREC_MAX) {
        int i = r->dgrams;
        r->len[i] = len;
        memcpy(r->data[i], buf, len < sizeof(r->data[i]) ? len : sizeof(r->data[i]));
        r->from_len[i] = 0;
        if (addr != NULL && alen > 0 && alen <= (socklen_t)sizeof(r->from[i])) {
            memcpy(&r->from[i], addr, alen);
            r->from_len[i] = alen;
        }
    }
    r->dgrams++;
    r->bytes += len;
    if (r->on_dgram != NULL) {
        (void)r->on_dgram(r, t);
    }
    return r->data_ret;
}

static int d_error(aiotp_transport *t, void *data, int status)
{
    th_drec *r = rec_of(data);
    r->errors++;
    r->last_error = status;
    if (r->on_error != NULL) {
        (void)r->on_error(r, t);
    }
    return r->error_ret;
}

const aiotp_protocol th_datagram = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_DATAGRAM,
    .connection_made = d_made,
    .connection_lost = d_lost,
    .pause_writing = d_pause,
    .resume_writing = d_resume,
    .datagram_received = d_dgram,
    .error_received = d_error,
};

th_drec *th_drec_new(void)
{
    th_drec *r = calloc(1, sizeof(*r));
    if (r == NULL || ndrecs == MAX_DRECS) {
        abort();
    }
    th_on_case_end(free_drecs);
    drecs[ndrecs++] = r;
    return r;
}

bool th_d_is_lost(void *rec)
{
    return ((th_drec *)rec)->lost > 0;
}

bool th_d_has_dgram(void *rec)
{
    return ((th_drec *)rec)->dgrams > 0;
}

typedef struct dwrap {
    bool done;
    int status;
    aiotp_transport *t;
    const aiotp_protocol *proto;
    void *data;
} dwrap;

static int dwrap_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    dwrap *w = arg;
    *proto = w->proto;
    *data = w->data;
    return 0;
}

static void dwrap_done(void *arg, int status, aiotp_transport *t)
{
    dwrap *w = arg;
    w->done = true;
    w->status = status;
    w->t = t;
}

static bool dwrap_is_done(void *arg)
{
    return ((dwrap *)arg)->done;
}

static aiotp_transport *finish(aiotp_loop *loop, dwrap *w, int rc, const char *what)
{
    if (rc != 0) {
        th_fail(__FILE__, __LINE__, "%s: %s", what, aiotp_err_name(rc));
        return NULL;
    }
    th_run_until(loop, dwrap_is_done, w, 10);
    if (w->status != 0 || w->t == NULL) {
        th_fail(__FILE__, __LINE__, "%s completion: %s", what, aiotp_err_name(w->status));
        return NULL;
    }
    th_keep(w->t);
    return w->t;
}

aiotp_transport *th_dwrap(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *data)
{
    aiotp_datagram_options o;
    dwrap w;
    memset(&w, 0, sizeof(w));
    w.proto = proto;
    w.data = data;
    aiotp_datagram_options_init(&o);
    o.sock = fd;
    return finish(loop, &w,
                  aiotp_loop_create_datagram_endpoint(loop, dwrap_factory, &w, NULL, 0, NULL, 0,
                                                      &o, dwrap_done, &w),
                  "create_datagram_endpoint(sock)");
}

aiotp_transport *th_udp_endpoint(aiotp_loop *loop, int family, const struct sockaddr *remote,
                                 socklen_t rlen, th_drec *r)
{
    aiotp_datagram_options o;
    int fd = th_peer_socket(family, SOCK_DGRAM, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    dwrap w;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr.s6_addr[15] = 1;
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(0x7f000001u);
        len = sizeof(*s4);
    }
    if (fd < 0 || th_peer_bind(fd, (struct sockaddr *)&ss, len) != 0 ||
        (remote != NULL && th_peer_connect(fd, remote, rlen) != 0)) {
        th_fail(__FILE__, __LINE__, "cannot make a UDP socket");
        return NULL;
    }
    memset(&w, 0, sizeof(w));
    w.proto = &th_datagram;
    w.data = r;
    aiotp_datagram_options_init(&o);
    o.sock = fd;
    return finish(loop, &w,
                  aiotp_loop_create_datagram_endpoint(loop, dwrap_factory, &w, NULL, 0, NULL, 0,
                                                      &o, dwrap_done, &w),
                  "create_datagram_endpoint(udp)");
}

socklen_t th_sockname(aiotp_transport *t, struct sockaddr_storage *out)
{
    const aiotp_extra *x = aiotp_transport_get_extra_info(t, "sockname", NULL);
    if (x == NULL || x->kind != AIOTP_EXTRA_ADDR) {
        th_fail(__FILE__, __LINE__, "no sockname");
        return 0;
    }
    memcpy(out, x->u.addr.addr, x->u.addr.len);
    return x->u.addr.len;
}

const char *th_cb_names(unsigned id)
{
    static char out[8192];
    const char *p = th_callbacks(id);
    size_t n = 0;
    while (*p != '\0' && n + 64 < sizeof(out)) {
        const char *e = strchr(p, '\n');
        const char *sp = strchr(p, ' ');
        size_t w;
        if (e == NULL) {
            e = p + strlen(p);
        }
        /* "cb NAME ..." or "ret eof_received ..." : keep the first two words */
        if (sp != NULL && sp < e) {
            const char *sp2 = strchr(sp + 1, ' ');
            w = (size_t)((sp2 != NULL && sp2 < e ? sp2 : e) - p);
        } else {
            w = (size_t)(e - p);
        }
        memcpy(out + n, p, w);
        n += w;
        out[n++] = '\n';
        p = *e != '\0' ? e + 1 : e;
    }
    out[n] = '\0';
    return out;
}

int th_dgram_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &th_datagram;
    *data = arg;
    return 0;
}

void th_dgram_done(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    if (status != 0 || t == NULL) {
        th_fail(__FILE__, __LINE__, "endpoint completion: %s", aiotp_err_name(status));
    }
}
