/*
 * src/stream.c - the stream transport over TCP and Unix sockets: the I/O shell around
 * core/stream_sm.c, core/flow.c and core/wbuf.c.
 *
 * Every state change goes through aiotp__stream_step(); this file performs the actions
 * it returns (register/unregister with the loop, call the protocol, send, shutdown,
 * close). Clause IDs refer to spec/rules.md.
 */
#include <limits.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/un.h>

#include "checksum.h"
#include "layer_int.h"
#include "stream_int.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* then SO_NOSIGPIPE is set on the socket instead */
#endif

/* A result that means "try again at the next readiness event": EAGAIN (EWOULDBLOCK where
   it differs) or EINTR. */
static bool transient(ssize_t n)
{
#if EWOULDBLOCK != EAGAIN
    if (n == -EWOULDBLOCK) {
        return true;
    }
#endif
    return n == -EAGAIN || n == -EINTR;
}

/* Most iovecs one sendmsg() call takes from writelines(). */
#define IOV_BATCH 64

static const aiotp__transport_ops stream_ops;

/* The write-buffer size: copied bytes in the ring and borrowed bytes still queued. */
static size_t wsize(const aiotp__stream *t)
{
    return aiotp__wbuf_size(&t->wb) + t->bq.bytes;
}

/* ---- tracing ------------------------------------------------------------------------ */

static void tr_cb(aiotp__stream *t, const char *what)
{
    aiotp__tracef(t->base.loop, "t%u cb %s", (unsigned)t->base.id, what);
}

static void tr_cbret(aiotp__stream *t, const char *what, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s", (unsigned)t->base.id, what, aiotp__status_name(rc));
}

static void tr_ret(aiotp__stream *t, const char *what, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s size=%zu", (unsigned)t->base.id, what, aiotp__status_name(rc),
                  wsize(t));
}

/* ---- protocol calls ----------------------------------------------------------------- */

static void stream_fatal(aiotp__stream *t, int status, const char *message, bool os_error);

static void call_made(aiotp__stream *t)
{
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        tr_cb(t, "connection_made");
    }
    if (t->base.proto->connection_made != NULL) {
        rc = t->base.proto->connection_made(&t->base, t->base.pdata);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_cbret(t, "connection_made", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        /* PROTO-BASE-5: reported, the transport carries on (CPython O10) */
        aiotp__transport_report(&t->base, "Exception in callback protocol.connection_made()", rc);
    }
}

static void call_pause(aiotp__stream *t)
{
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u cb pause_writing size=%zu high=%zu", (unsigned)t->base.id,
                      wsize(t), t->flow.high);
    }
    if (t->base.proto != NULL && t->base.proto->pause_writing != NULL) {
        rc = t->base.proto->pause_writing(&t->base, t->base.pdata);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_cbret(t, "pause_writing", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        aiotp__transport_report(&t->base, "protocol.pause_writing() failed", rc); /* FLOW-8 */
    }
}

static void call_resume(aiotp__stream *t)
{
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u cb resume_writing size=%zu low=%zu", (unsigned)t->base.id,
                      wsize(t), t->flow.low);
    }
    if (t->base.proto != NULL && t->base.proto->resume_writing != NULL) {
        rc = t->base.proto->resume_writing(&t->base, t->base.pdata);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_cbret(t, "resume_writing", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        aiotp__transport_report(&t->base, "protocol.resume_writing() failed", rc);
    }
}

/* FLOW-4: after the buffer grew or the limits changed. */
static void maybe_pause(aiotp__stream *t)
{
    if (t->st.ph != AIOTP__PH_CONNECTED && t->st.ph != AIOTP__PH_EOF) {
        return; /* no protocol to tell */
    }
    if (aiotp__flow_check_pause(&t->flow, wsize(t)) == AIOTP__FLOW_CALL_PAUSE) {
        call_pause(t);
    }
}

/* FLOW-5: after the drain path sent something. */
static void maybe_resume(aiotp__stream *t)
{
    if (aiotp__flow_check_resume(&t->flow, wsize(t)) ==
        AIOTP__FLOW_CALL_RESUME) {
        call_resume(t);
    }
}

/* ---- registration -------------------------------------------------------------------- */

static void read_ready(aiotp_loop *loop, int fd, void *arg);
static void write_ready(aiotp_loop *loop, int fd, void *arg);

static void reader_start(aiotp__stream *t)
{
    /* the registry slot exists (reserved at creation), so this only fails if the backend
       fails; then the fd is never read and the error is fatal */
    int rc = aiotp__watch(t->base.loop, t->fd, false, &t->reader_on, read_ready, t);
    if (rc != 0) {
        stream_fatal(t, rc, "Fatal error: cannot watch the socket for reading", true);
    }
}

static void reader_stop(aiotp__stream *t)
{
    aiotp__unwatch(t->base.loop, t->fd, false, &t->reader_on);
}

static int writer_start(aiotp__stream *t)
{
    return aiotp__watch(t->base.loop, t->fd, true, &t->writer_on, write_ready, t);
}

static void writer_stop(aiotp__stream *t)
{
    aiotp__unwatch(t->base.loop, t->fd, true, &t->writer_on);
}

/* ---- connection_lost ------------------------------------------------------------------ */

static void lost_cb(aiotp_loop *loop, void *arg);

/* PROTO-BASE-2: call connection_lost, then close the socket and let go of the
   protocol. The socket is still open during the callback (CPython 2.7). */
static void deliver_lost(aiotp__stream *t, int status)
{
    int rc = 0;
    aiotp_loop *loop = t->base.loop;

    reader_stop(t);
    writer_stop(t);
    /* DEV-81: every done owed runs before connection_lost */
    aiotp__bq_finish(&t->bq, &t->base, status);
    if (aiotp__tracing(loop)) {
        aiotp__tracef(loop, "t%u cb connection_lost status=%s", (unsigned)t->base.id,
                      aiotp__status_name(status));
    }
    if (t->base.proto->connection_lost != NULL) {
        rc = t->base.proto->connection_lost(&t->base, t->base.pdata, status);
    }
    if (aiotp__tracing(loop)) {
        tr_cbret(t, "connection_lost", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        aiotp__transport_report(&t->base, "Exception in callback protocol.connection_lost()", rc);
    }
    aiotp__fd_forget(loop, t->fd);
    (void)loop->sys->close(loop->sys->ctx, t->fd);
    t->fd = -1;
    t->x_fd.u.fd = -1;
    t->base.proto = NULL;
    t->base.pdata = NULL;
    aiotp__transport_notify_lost(&t->base); /* e.g. the accepting server counts it */
    aiotp__transport_release_later(&t->base); /* the loop's reference goes after the pass */
}

static void schedule_lost(aiotp__stream *t, int status)
{
    t->lost_status = status;
    t->promised--;
    aiotp__push_promised(t->base.loop, lost_cb, t);
}

static void lost_cb(aiotp_loop *loop, void *arg)
{
    aiotp__stream *t = arg;
    (void)loop;
    if (aiotp__stream_step(&t->st, AIOTP__EV_LOST, true) & AIOTP__ACT_CALL_LOST) {
        deliver_lost(t, t->lost_status);
    }
}

/* Carry out the actions common to close/abort/fatal. */
static void apply_close_actions(aiotp__stream *t, unsigned act, int status)
{
    if (act & AIOTP__ACT_STOP_READER) {
        reader_stop(t);
    }
    if (act & AIOTP__ACT_STOP_WRITER) {
        writer_stop(t);
    }
    if (act & AIOTP__ACT_DROP_BUFFER) {
        aiotp__wbuf_clear(&t->wb); /* WRITE-ABORT-2: no resume_writing (FLOW-9) */
        if (aiotp__bq_queued(&t->bq)) {
            /* DEV-81: never written; their dones run before connection_lost */
            aiotp__bq_cancel(&t->bq, status != 0 ? status : AIOTP_ECANCELED);
        }
    }
    if (act & AIOTP__ACT_SCHEDULE_LOST) {
        schedule_lost(t, status);
    }
}

/* STREAM-ERR-1..3: close at once, then report (unless a silent OS error). The state
   changes first (STREAM-ERR-3): a handler that writes to or closes the transport finds
   it closing, so it cannot fail it again (no recursion) nor turn connection_lost(error)
   into connection_lost(0). */
static void stream_fatal(aiotp__stream *t, int status, const char *message, bool os_error)
{
    unsigned act = aiotp__stream_step(&t->st, AIOTP__EV_FATAL, wsize(t) == 0);
    if (!(act & AIOTP__ACT_REFUSED)) {
        apply_close_actions(t, act, status);
    }
    if (!os_error || t->base.loop->debug) {
        aiotp__transport_report(&t->base, message, status);
    }
}

/* ---- connection_made ------------------------------------------------------------------ */

static void done_cb_run(aiotp_loop *loop, void *arg)
{
    aiotp__stream *t = arg;
    aiotp_connect_cb cb = t->done_cb;
    (void)loop;
    t->done_cb = NULL;
    t->promised--;
    if (cb != NULL) {
        cb(t->done_arg, 0, &t->base); /* METH-2: after connection_made */
    }
}

static void made_cb(aiotp_loop *loop, void *arg)
{
    aiotp__stream *t = arg;
    unsigned act;
    (void)loop;
    t->promised--;
    act = aiotp__stream_step(&t->st, AIOTP__EV_MADE, wsize(t) == 0);
    if (act & AIOTP__ACT_CALL_MADE) {
        call_made(t);
    }
    /* STREAM-ORDER-2: reading starts after connection_made, unless it paused/closed */
    act = aiotp__stream_step(&t->st, AIOTP__EV_READER_START, wsize(t) == 0);
    if (act & AIOTP__ACT_START_READER) {
        reader_start(t);
    }
}

/* ---- creation ----------------------------------------------------------------------- */

static void set_addr_extra(aiotp_extra *x, struct sockaddr_storage *st, socklen_t len,
                           int rc)
{
    if (rc < 0) {
        x->kind = AIOTP_EXTRA_NONE;
    } else {
        x->kind = AIOTP_EXTRA_ADDR;
        x->u.addr.addr = (const struct sockaddr *)st;
        x->u.addr.len = len;
    }
}

/* Same IPv4/IPv6 address and port (the parts getsockname/getpeername fill in). */
static bool same_inet_addr(const aiotp_extra *xa, const aiotp_extra *xb)
{
    const struct sockaddr *a;
    const struct sockaddr *b;
    if (xa->kind != AIOTP_EXTRA_ADDR || xb->kind != AIOTP_EXTRA_ADDR) {
        return false;
    }
    a = xa->u.addr.addr;
    b = xb->u.addr.addr;
    if (a->sa_family != b->sa_family) {
        return false;
    }
    if (a->sa_family == AF_INET && xa->u.addr.len >= (socklen_t)sizeof(struct sockaddr_in) &&
        xb->u.addr.len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6 && xa->u.addr.len >= (socklen_t)sizeof(struct sockaddr_in6) &&
        xb->u.addr.len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

static const aiotp__obj_ops stream_obj_ops;

/* Is o another stream transport whose addresses are the mirror of t's? */
static bool is_peer_of(aiotp__obj *o, void *arg)
{
    const aiotp__stream *t = arg;
    const aiotp__stream *x = (const aiotp__stream *)(const void *)o;
    return o->ops == &stream_obj_ops && x != t && same_inet_addr(&x->x_sock, &t->x_peer) &&
           same_inet_addr(&x->x_peer, &t->x_sock);
}

/* Trace format 2: "tN peer tM" when the other end of this TCP connection is a live
   transport of the same loop (its sockname is our peername and the other way round).
   Unix sockets have no addresses that tell their ends apart: never paired. Only with
   tracing on, once per new transport. */
static void trace_peer(const aiotp__stream *t)
{
    const aiotp__stream *o;
    if (t->family != AF_INET && t->family != AF_INET6) {
        return;
    }
    o = (const aiotp__stream *)(const void *)aiotp__obj_find(t->base.loop, is_peer_of, (void *)t);
    if (o != NULL) {
        aiotp__tracef(t->base.loop, "t%u peer t%u", (unsigned)t->base.id, (unsigned)o->base.id);
    }
}

int aiotp__stream_create(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *pdata,
                         const struct sockaddr *peer, socklen_t peer_len,
                         aiotp_connect_cb done_cb, void *done_arg, aiotp_transport **out,
                         const char **why)
{
    const aiotp_syscalls *sys = loop->sys;
    aiotp__stream *t;
    socklen_t len;
    int rc;
    int one = 1;
    unsigned need = done_cb != NULL ? 3u : 2u; /* made, [done], lost */

    rc = aiotp__transport_check_protocol(&stream_ops, proto, why);
    if (rc != 0) {
        return rc;
    }
    rc = aiotp__fd_reserve(loop, fd);
    if (rc != 0) {
        return rc;
    }
    t = aiotp__alloc(loop, sizeof(*t));
    if (t == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(t, 0, sizeof(*t));
    rc = aiotp__rq_reserve(loop, need);
    if (rc != 0) {
        aiotp__free(loop, t);
        return rc;
    }
    t->promised = need;
    t->fd = fd;
    t->done_cb = done_cb;
    t->done_arg = done_arg;
    aiotp__stream_init(&t->st);
    aiotp__flow_init(&t->flow); /* FLOW-1 */
    aiotp__wbuf_init(&t->wb);

    /* BASE-EXTRA-1: addresses computed once */
    len = sizeof(t->sock_addr);
    rc = sys->getsockname(sys->ctx, fd, (struct sockaddr *)&t->sock_addr, &len);
    set_addr_extra(&t->x_sock, &t->sock_addr, len, rc);
    t->family = rc < 0 ? AF_UNSPEC : t->sock_addr.ss_family;
    if (peer != NULL && peer_len > 0 && peer_len <= (socklen_t)sizeof(t->peer_addr)) {
        memcpy(&t->peer_addr, peer, peer_len);
        set_addr_extra(&t->x_peer, &t->peer_addr, peer_len, 0);
    } else {
        len = sizeof(t->peer_addr);
        rc = sys->getpeername(sys->ctx, fd, (struct sockaddr *)&t->peer_addr, &len);
        set_addr_extra(&t->x_peer, &t->peer_addr, len, rc);
    }
    t->x_fd.kind = AIOTP_EXTRA_FD;
    t->x_fd.u.fd = fd;
    if (t->family == AF_INET || t->family == AF_INET6) {
        (void)sys->setsockopt(sys->ctx, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
#if defined(SO_NOSIGPIPE)
    (void)sys->setsockopt(sys->ctx, fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif

    aiotp__transport_init(&t->base, loop, &stream_ops, &stream_obj_ops, proto, pdata);
    aiotp__transport_own_fd(&t->base, fd); /* until connection_lost has run (LOOP-8) */

    if (aiotp__tracing(loop)) {
        aiotp__tracef(loop, "t%u open %s", (unsigned)t->base.id,
                      t->family == AF_UNIX ? "unix" : (t->family == AF_INET6 ? "tcp6" : "tcp"));
        aiotp__tracef(loop, "t%u limits low=%zu high=%zu", (unsigned)t->base.id, t->flow.low,
                      t->flow.high);
        trace_peer(t);
    }
    /* STREAM-ORDER-1: connection_made (then reading) next pass; completion after it */
    aiotp__push_promised(loop, made_cb, t);
    if (done_cb != NULL) {
        aiotp__push_promised(loop, done_cb_run, t);
    }
    if (out != NULL) {
        *out = &t->base;
    }
    return 0;
}

/* ---- freeing ------------------------------------------------------------------------ */

static void stream_free(aiotp_transport *bt)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    aiotp_loop *loop = t->base.loop;
    aiotp__obj_unlink(&t->base.obj);
    if (t->promised > 0) {
        aiotp__rq_unreserve(loop, t->promised);
    }
    aiotp__free(loop, t->wb.data);
    aiotp__bq_free(loop, &t->bq);
    aiotp__free(loop, t);
}

/* aiotp_loop_free: close the socket, no callback, touch no other object. A transport the
   user retained survives, closed (LIFE-1). */
static void stream_teardown(aiotp__obj *o)
{
    aiotp__stream *t = (aiotp__stream *)(void *)o;
    aiotp_loop *loop = t->base.loop;
    if (t->fd >= 0) {
        aiotp__fd_forget(loop, t->fd);
        (void)loop->sys->close(loop->sys->ctx, t->fd);
        t->fd = -1;
        t->x_fd.u.fd = -1;
    }
    if (t->promised > 0) {
        aiotp__rq_unreserve(loop, t->promised);
        t->promised = 0;
    }
    aiotp__free(loop, t->wb.data);
    aiotp__wbuf_init(&t->wb);
    aiotp__bq_teardown(loop, &t->bq); /* DEV-81: each done owed, with a NULL transport */
    /* as if a fatal error had closed it and its connection_lost had run (no callback:
       the state a retained transport shows from now on) */
    (void)aiotp__stream_step(&t->st, AIOTP__EV_FATAL, true);
    (void)aiotp__stream_step(&t->st, AIOTP__EV_LOST, true);
    t->reader_on = false;
    t->writer_on = false;
    t->done_cb = NULL;
    if (!aiotp__transport_survive(&t->base)) {
        aiotp__free(loop, t);
    }
}

static const aiotp__obj_ops stream_obj_ops = {
    .name = "stream",
    .teardown = stream_teardown,
    .deferred = aiotp__transport_deferred,
    .shut = aiotp__transport_obj_shut,
    .owes = aiotp__transport_obj_owes,
};

aiotp__stream *aiotp__stream_of(aiotp_transport *t)
{
    return t != NULL && t->ops == &stream_ops ? (aiotp__stream *)(void *)t : NULL;
}

/* ---- reading -------------------------------------------------------------------------- */

/* The peer's EOF, told to `proto` (the protocol this read event started with). */
static void on_eof(aiotp__stream *t, const aiotp_protocol *proto, void *pdata)
{
    unsigned act = aiotp__stream_step(&t->st, AIOTP__EV_EOF, wsize(t) == 0);
    int rc = 0;

    if (!(act & AIOTP__ACT_CALL_EOF)) {
        return;
    }
    reader_stop(t); /* READ-5: no data after EOF */
    if (aiotp__tracing(t->base.loop)) {
        tr_cb(t, "eof_received");
    }
    if (proto->eof_received != NULL) {
        rc = proto->eof_received(&t->base, pdata);
    }
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u ret eof_received %s", (unsigned)t->base.id,
                      rc < 0 ? aiotp_err_name(rc) : (rc > 0 ? "1" : "0"));
    }
    if (rc < 0) {
        stream_fatal(t, rc, "Fatal error: protocol.eof_received() call failed.", false);
    } else if (rc == 0) {
        /* PROTO-STREAM-7: a false return closes the transport (no-op if the protocol
           already closed it) */
        act = aiotp__stream_step(&t->st, AIOTP__EV_CLOSE, wsize(t) == 0);
        if (!(act & AIOTP__ACT_REFUSED)) {
            apply_close_actions(t, act, 0);
        }
    }
}

static void read_streaming(aiotp__stream *t)
{
    aiotp_loop *loop = t->base.loop;
    ssize_t n = loop->sys->recv(loop->sys->ctx, t->fd, loop->rbuf, AIOTP__READ_MAX, 0);
    int rc = 0;

    if (n > 0) {
        if (aiotp__tracing(loop)) {
            t->rx_total += (uint64_t)n;
            t->rx_sum = aiotp__crc32(t->rx_sum, loop->rbuf, (size_t)n);
            aiotp__tracef(loop, "t%u cb data_received n=%zd total=%llu sum=%08x",
                          (unsigned)t->base.id, n, (unsigned long long)t->rx_total,
                          (unsigned)t->rx_sum);
        }
        if (t->base.proto->data_received != NULL) {
            rc = t->base.proto->data_received(&t->base, t->base.pdata, loop->rbuf, (size_t)n);
        }
        if (aiotp__tracing(loop)) {
            tr_cbret(t, "data_received", rc < 0 ? rc : 0);
        }
        if (rc < 0) {
            stream_fatal(t, rc, "Fatal error: protocol.data_received() call failed.", false);
        }
    } else if (n == 0) {
        on_eof(t, t->base.proto, t->base.pdata);
    } else if (!transient(n)) {
        stream_fatal(t, (int)n, "Fatal read error on socket transport", true);
    }
}

static void read_buffered(aiotp__stream *t)
{
    aiotp_loop *loop = t->base.loop;
    /* the protocol that is asked for the buffer (PROTO-BUF-5) */
    const aiotp_protocol *proto = t->base.proto;
    uint32_t switches = t->base.proto_switches;
    void *pdata = t->base.pdata;
    void *buf = NULL;
    size_t len = 0;
    ssize_t n;
    int rc = 0;

    /* PROTO-BUF-1: get_buffer(-1) first, at every read event (also at EOF) */
    if (aiotp__tracing(loop)) {
        aiotp__tracef(loop, "t%u cb get_buffer sizehint=-1", (unsigned)t->base.id);
    }
    rc = proto->get_buffer(&t->base, pdata, -1, &buf, &len);
    if (rc >= 0 && (buf == NULL || len == 0)) {
        rc = AIOTP_EEMPTYBUF; /* PROTO-BUF-2 */
    }
    if (aiotp__tracing(loop)) {
        if (rc < 0) {
            tr_cbret(t, "get_buffer", rc);
        } else {
            aiotp__tracef(loop, "t%u ret get_buffer 0 len=%zu", (unsigned)t->base.id, len);
        }
    }
    if (rc < 0) {
        stream_fatal(t, rc, "Fatal error: protocol.get_buffer() call failed.", false);
        return;
    }
    /* the protocol may have paused or closed inside get_buffer: read only on DELIVER */
    if (!(aiotp__stream_step(&t->st, AIOTP__EV_DATA, true) & AIOTP__ACT_DELIVER)) {
        return;
    }
    /* PROTO-BUF-5: a protocol switched inside get_buffer is never told about bytes (or an
       EOF) of this read event: nothing is received now, the next read event goes to the
       new protocol, and the old one is never called again */
    if (t->base.proto_switches != switches) {
        return;
    }
    n = loop->sys->recv(loop->sys->ctx, t->fd, buf, len, 0);
    if (n > 0) {
        if (aiotp__tracing(loop)) {
            t->rx_total += (uint64_t)n;
            t->rx_sum = aiotp__crc32(t->rx_sum, buf, (size_t)n);
            aiotp__tracef(loop, "t%u cb buffer_updated n=%zd total=%llu sum=%08x",
                          (unsigned)t->base.id, n, (unsigned long long)t->rx_total,
                          (unsigned)t->rx_sum);
        }
        rc = 0;
        if (proto->buffer_updated != NULL) {
            rc = proto->buffer_updated(&t->base, pdata, (size_t)n);
        }
        if (aiotp__tracing(loop)) {
            tr_cbret(t, "buffer_updated", rc < 0 ? rc : 0);
        }
        if (rc < 0) {
            stream_fatal(t, rc, "Fatal error: protocol.buffer_updated() call failed.", false);
        }
    } else if (n == 0) {
        on_eof(t, proto, pdata);
    } else if (!transient(n)) {
        stream_fatal(t, (int)n, "Fatal read error on socket transport", true);
    }
}

/* READ-1: one receive per readiness event. */
static void read_ready(aiotp_loop *loop, int fd, void *arg)
{
    aiotp__stream *t = arg;
    (void)loop;
    (void)fd;
    /* read and tell only on the DELIVER bit (the core answers DATA with DELIVER or
       REFUSED: its functional contract, PROOF-STREAM) */
    if (!(aiotp__stream_step(&t->st, AIOTP__EV_DATA, true) & AIOTP__ACT_DELIVER)) {
        return;
    }
    if (t->base.proto->kind == AIOTP_PROTOCOL_BUFFERED) {
        read_buffered(t);
    } else {
        read_streaming(t);
    }
}

/* ---- writing -------------------------------------------------------------------------- */

static int send_flags(void)
{
    return MSG_NOSIGNAL; /* WRITE-WRITE-9: SIGPIPE never kills the process */
}

static void account_tx(aiotp__stream *t, const void *p, size_t n)
{
    if (aiotp__tracing(t->base.loop)) {
        t->tx_total += n;
        t->tx_sum = aiotp__crc32(t->tx_sum, p, n);
    }
}

/* Checks shared by write() and writelines(): 0 to go on, 1 to return 0, or an error. */
static int write_admission(aiotp__stream *t, size_t len)
{
    switch (aiotp__stream_write_admission(&t->st)) {
    case 1:
        return AIOTP_ESTATE; /* WRITE-WRITE-4 */
    case 2:
        if (len == 0) {
            return 1;
        }
        t->dropped_writes++; /* WRITE-WRITE-5 */
        return AIOTP_ECLOSED;
    default:
        break;
    }
    return len == 0 ? 1 : 0; /* WRITE-WRITE-2: empty data is a no-op */
}

/* The kernel took `sent` bytes but the rest cannot be queued (no memory). Nothing sent:
   a clean refusal, the transport is unchanged. Something sent: the stream would lose
   bytes, so the connection fails with that error (WRITE-WRITE-6, DEV-8). */
static int queue_failed(aiotp__stream *t, const void *data, size_t sent, int rc)
{
    if (sent == 0) {
        return rc;
    }
    if (data != NULL) {
        account_tx(t, data, sent); /* (writelines accounts its own prefix) */
    }
    stream_fatal(t, rc, "Fatal error: no memory to queue the rest of a write", false);
    return rc;
}

/* What write()/writelines() return when this call failed the transport before any of
   its bytes was accepted: the error, unless the header gives that code another meaning
   ("nothing was accepted, the transport is unchanged": AIOTP_ENOMEM, AIOTP_EINVAL,
   AIOTP_ETOOBIG); then AIOTP_ECLOSED, which is true: the data was dropped and
   connection_lost(error) is scheduled (WRITE-WRITE-10). */
static int fatal_code(int err)
{
    if (err == AIOTP_ENOMEM || err == AIOTP_EINVAL || err == AIOTP_ETOOBIG) {
        return AIOTP_ECLOSED;
    }
    return err;
}

/* Account the first `n` bytes of bufs (what the kernel took before a failure). */
static void account_prefix(aiotp__stream *t, const aiotp_buf *bufs, size_t nbufs, size_t n)
{
    size_t i;
    for (i = 0; i < nbufs && n > 0; i++) {
        size_t a = bufs[i].len < n ? bufs[i].len : n;
        account_tx(t, bufs[i].base, a);
        n -= a;
    }
}

/* The writer for what the kernel did not take of a write with nothing queued before it:
   0, or (the transport failed; the `sent` bytes the kernel took are accounted) what the
   write returns. */
static int arm_writer(aiotp__stream *t, const void *data, size_t sent)
{
    int rc = writer_start(t);
    if (rc == 0) {
        return 0;
    }
    if (sent > 0) {
        account_tx(t, data, sent); /* what the kernel took */
    }
    stream_fatal(t, rc, "Fatal error: cannot watch the socket for writing", true);
    return sent > 0 ? rc : fatal_code(rc);
}

static void tr_write_ret(aiotp__stream *t, const char *what, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s size=%zu total=%llu sum=%08x", (unsigned)t->base.id, what,
                  aiotp__status_name(rc), wsize(t), (unsigned long long)t->tx_total,
                  (unsigned)t->tx_sum);
}

static int do_write(aiotp__stream *t, const void *data, size_t len)
{
    const aiotp_syscalls *sys = t->base.loop->sys;
    size_t sent = 0;
    ssize_t n;
    int rc;

    if (data == NULL && len > 0) {
        return AIOTP_EINVAL;
    }
    rc = write_admission(t, len);
    if (rc != 0) {
        return rc == 1 ? 0 : rc;
    }
    if (len > SIZE_MAX / 2) {
        return AIOTP_ETOOBIG; /* WRITE-WRITE-6 */
    }
    if (wsize(t) == 0) {
        /* WRITE-WRITE-3: try at once when nothing is queued; no buffer is needed (nor
           allocated) when the kernel takes everything */
        n = sys->send(sys->ctx, t->fd, data, len, send_flags());
        if (n >= 0) {
            sent = (size_t)n;
        } else if (!transient(n)) {
            stream_fatal(t, (int)n, "Fatal write error on socket transport", true);
            return fatal_code((int)n);
        }
        if (sent == len) {
            account_tx(t, data, len);
            return 0; /* no flow-control check when nothing is buffered */
        }
        rc = aiotp__wq_reserve(t->base.loop, &t->wb, len - sent);
        if (rc != 0) {
            return queue_failed(t, data, sent, rc);
        }
        rc = arm_writer(t, data, sent);
        if (rc != 0) {
            return rc;
        }
        account_tx(t, data, len);
    } else {
        /* WRITE-WRITE-6: queued behind other data: room first, all or nothing (DEV-81:
           behind borrowed bytes, a run entry too) */
        rc = aiotp__bq_reserve_copy(t->base.loop, &t->bq, &t->wb, len);
        if (rc != 0) {
            return rc;
        }
        account_tx(t, data, len);
    }
    aiotp__wq_append(&t->wb, (const unsigned char *)data + sent, len - sent);
    maybe_pause(t); /* FLOW-4: synchronous, inside write() */
    return 0;
}

static int stream_write(aiotp_transport *bt, const void *data, size_t len)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    int rc;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call write n=%zu", (unsigned)t->base.id, len);
    }
    rc = do_write(t, data, len);
    if (aiotp__tracing(t->base.loop)) {
        tr_write_ret(t, "write", rc);
    }
    return rc;
}

static int do_writelines(aiotp__stream *t, const aiotp_buf *bufs, size_t nbufs)
{
    const aiotp_syscalls *sys = t->base.loop->sys;
    struct iovec iov[IOV_BATCH];
    struct msghdr msg;
    size_t total = 0;
    size_t i;
    size_t first = 0; /* first buffer not fully sent */
    size_t off = 0;   /* bytes of bufs[first] already sent */
    int rc;

    rc = aiotp__bufs_total(bufs, nbufs, &total);
    if (rc != 0) {
        return rc;
    }
    rc = write_admission(t, total);
    if (rc != 0) {
        return rc == 1 ? 0 : rc;
    }
    if (wsize(t) == 0) {
        /* WRITE-LINES-1: gathered sends of IOV_BATCH buffers at a time, no copy, going on
           while the kernel takes whole batches: the kernel is offered everything, as by
           one write() of the concatenation */
        ssize_t n = 0;
        size_t next = 0; /* first buffer not offered yet */
        for (;;) {
            size_t k = 0;
            size_t offered = 0;
            ssize_t m;
            for (; next < nbufs && k < IOV_BATCH; next++) {
                if (bufs[next].len == 0) {
                    continue;
                }
                iov[k].iov_base = (void *)(uintptr_t)bufs[next].base;
                iov[k].iov_len = bufs[next].len;
                offered += bufs[next].len;
                k++;
            }
            memset(&msg, 0, sizeof(msg));
            msg.msg_iov = iov;
            msg.msg_iovlen = k;
            m = sys->sendmsg(sys->ctx, t->fd, &msg, send_flags());
            if (m < 0 && !transient(m) && n == 0) {
                stream_fatal(t, (int)m, "Fatal write error on socket transport", true);
                return fatal_code((int)m);
            }
            /* (an error after earlier batches were taken: the rest is queued like after
               EAGAIN, and the drain meets the error, if it persists, as for write()) */
            if (m > 0) {
                n += m;
            }
            if (m < 0 || (size_t)m < offered || next >= nbufs) {
                break;
            }
        }
        if ((size_t)n == total) {
            for (i = 0; i < nbufs; i++) {
                account_tx(t, bufs[i].base, bufs[i].len);
            }
            return 0;
        }
        rc = aiotp__wq_reserve(t->base.loop, &t->wb, total - (size_t)n);
        if (rc == 0) {
            rc = writer_start(t);
            if (rc != 0) {
                account_prefix(t, bufs, nbufs, (size_t)n);
                stream_fatal(t, rc, "Fatal error: cannot watch the socket for writing", true);
                return n > 0 ? rc : fatal_code(rc);
            }
        }
        if (rc != 0) {
            account_prefix(t, bufs, nbufs, (size_t)n);
            return queue_failed(t, NULL, (size_t)n, rc);
        }
        for (i = 0; i < nbufs; i++) {
            account_tx(t, bufs[i].base, bufs[i].len); /* accepted from here on */
        }
        if (n > 0) {
            size_t left = (size_t)n;
            while (first < nbufs && left >= bufs[first].len) {
                left -= bufs[first].len;
                first++;
            }
            off = left;
        }
    } else {
        /* behind queued data: room first, all or nothing (DEV-81: behind borrowed
           bytes, a run) */
        rc = aiotp__bq_reserve_copy(t->base.loop, &t->bq, &t->wb, total);
        if (rc != 0) {
            return rc;
        }
        for (i = 0; i < nbufs; i++) {
            account_tx(t, bufs[i].base, bufs[i].len);
        }
    }
    for (i = first; i < nbufs; i++) {
        const unsigned char *p = bufs[i].base;
        size_t skip = i == first ? off : 0;
        if (bufs[i].len > skip) {
            aiotp__wq_append(&t->wb, p + skip, bufs[i].len - skip);
        }
    }
    maybe_pause(t);
    return 0;
}

static int stream_writelines(aiotp_transport *bt, const aiotp_buf *bufs, size_t n)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    int rc;
    if (aiotp__tracing(t->base.loop)) {
        size_t i;
        size_t total = 0;
        for (i = 0; bufs != NULL && i < n; i++) {
            total += bufs[i].len;
        }
        aiotp__tracef(t->base.loop, "t%u call writelines count=%zu n=%zu", (unsigned)t->base.id, n, total);
    }
    rc = do_writelines(t, bufs, n);
    if (aiotp__tracing(t->base.loop)) {
        tr_write_ret(t, "writelines", rc);
    }
    return rc;
}

/* DEV-81: the zero-copy write. As do_write, but what the kernel does not take stays in the
   caller's memory (src/bq_int.h); room first, so nothing can fail once bytes are taken. */
static int do_borrow(aiotp__stream *t, const void *data, size_t len, aiotp_write_done_cb done,
                     void *arg)
{
    const aiotp_syscalls *sys = t->base.loop->sys;
    size_t sent = 0;
    ssize_t n;
    int rc;

    if ((data == NULL && len > 0) || done == NULL) {
        return AIOTP_EINVAL;
    }
    rc = write_admission(t, len);
    if (rc != 0) {
        return rc == 1 ? 0 : rc;
    }
    if (wsize(t) > SIZE_MAX / 2 || len > SIZE_MAX / 2 - wsize(t)) {
        return AIOTP_ETOOBIG;
    }
    rc = aiotp__bq_prepare(&t->bq, &t->base, &t->promised);
    if (rc != 0) {
        return rc;
    }
    if (wsize(t) == 0) {
        n = sys->send(sys->ctx, t->fd, data, len, send_flags());
        if (n >= 0) {
            sent = (size_t)n;
        } else if (!transient(n)) {
            stream_fatal(t, (int)n, "Fatal write error on socket transport", true);
            return fatal_code((int)n);
        }
        if (sent < len) {
            rc = arm_writer(t, data, sent);
            if (rc != 0) {
                return rc;
            }
        }
    }
    account_tx(t, data, len);
    aiotp__bq_borrow(&t->bq, aiotp__wbuf_size(&t->wb), data, len, sent, done, arg);
    if (sent < len) {
        maybe_pause(t); /* FLOW-4: as write() */
    }
    return 0;
}

static int stream_write_borrowed(aiotp_transport *bt, const void *data, size_t len,
                                 aiotp_write_done_cb done, void *arg)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    int rc;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call write_borrowed n=%zu", (unsigned)t->base.id, len);
    }
    rc = do_borrow(t, data, len, done, arg);
    if (aiotp__tracing(t->base.loop)) {
        tr_write_ret(t, "write_borrowed", rc);
    }
    return rc;
}

/* shutdown(SHUT_WR), at once (write_eof with an empty buffer) or after the drain: one
   behaviour for both (WRITE-EOF-4, DEV-17). ENOTCONN is ignored (the peer is already
   gone); any other error is a fatal OS error: connection_lost(error). Returns 0 or the
   error. */
static int do_shutdown(aiotp__stream *t)
{
    const aiotp_syscalls *sys = t->base.loop->sys;
    int rc = sys->shutdown(sys->ctx, t->fd, SHUT_WR);
    if (rc >= 0 || rc == -ENOTCONN) {
        return 0;
    }
    stream_fatal(t, rc, "Fatal error: shutdown(SHUT_WR) failed", true);
    return rc;
}

/* DEV-81: the drain's send while borrowed entries are queued: the entries in order
   (borrowed buffers and the ring's runs), then the dones of those it finished (the state
   is up to date); the caller checks resume_writing (FLOW-5) as after its own send. False
   when the event ends here (an error; a done that aborted or failed the transport). */
static AIOTP__NOINLINE bool drain_borrowed(aiotp__stream *t)
{
    const aiotp_syscalls *sys = t->base.loop->sys;
    struct iovec iov[IOV_BATCH];
    struct msghdr msg;
    ssize_t n;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)aiotp__bq_gather(&t->bq, &t->wb, iov, IOV_BATCH);
    n = sys->sendmsg(sys->ctx, t->fd, &msg, send_flags());
    if (n < 0) {
        if (!transient(n)) {
            stream_fatal(t, (int)n, "Fatal write error on socket transport", true);
        }
        return false;
    }
    aiotp__bq_consume(&t->bq, &t->wb, (size_t)n);
    aiotp__bq_run_due(&t->bq, &t->base, t->bq.due); /* may re-enter */
    /* false: aborted or failed inside a done */
    return t->st.life == AIOTP__LIFE_OPEN || t->st.life == AIOTP__LIFE_CLOSING;
}

/* The drain path: one gathered send of the queued bytes per writable event. */
static void write_ready(aiotp_loop *loop, int fd, void *arg)
{
    aiotp__stream *t = arg;
    const aiotp_syscalls *sys = loop->sys;
    aiotp__wseg seg[2];
    struct iovec iov[2];
    struct msghdr msg;
    ssize_t n;
    int k;
    int i;
    unsigned act;

    (void)fd;
    if (t->st.life != AIOTP__LIFE_OPEN && t->st.life != AIOTP__LIFE_CLOSING) {
        writer_stop(t);
        return;
    }
    if (aiotp__bq_queued(&t->bq)) {
        if (!drain_borrowed(t)) {
            return;
        }
        k = 1; /* sent: the resume check follows */
    } else {
        k = aiotp__wbuf_data_segments(&t->wb, seg);
        if (k > 0) {
            for (i = 0; i < k; i++) {
                iov[i].iov_base = t->wb.data + seg[i].off;
                iov[i].iov_len = seg[i].len;
            }
            memset(&msg, 0, sizeof(msg));
            msg.msg_iov = iov;
            msg.msg_iovlen = (size_t)k;
            n = sys->sendmsg(sys->ctx, t->fd, &msg, send_flags());
            if (n < 0) {
                if (!transient(n)) {
                    stream_fatal(t, (int)n, "Fatal write error on socket transport", true);
                }
                return;
            }
            aiotp__wbuf_consume(&t->wb, (size_t)n);
        }
    }
    if (k > 0) {
        maybe_resume(t); /* FLOW-5: may re-enter write/close/abort */
    }
    if (wsize(t) == 0) {
        act = aiotp__stream_step(&t->st, AIOTP__EV_DRAINED, true);
        if (act & AIOTP__ACT_REFUSED) {
            return; /* closed or aborted inside resume_writing */
        }
        if (act & AIOTP__ACT_STOP_WRITER) {
            writer_stop(t);
        }
        if (act & AIOTP__ACT_SHUTDOWN_WR) {
            (void)do_shutdown(t); /* WRITE-EOF-2 */
        }
        if (act & AIOTP__ACT_CALL_LOST) {
            deliver_lost(t, 0); /* BASE-CLOSE-2: same pass as the last send */
        }
    }
}

/* ---- public methods -------------------------------------------------------------------- */

static int stream_close(aiotp_transport *bt)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    unsigned act;
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call close", (unsigned)t->base.id);
    }
    act = aiotp__stream_step(&t->st, AIOTP__EV_CLOSE, wsize(t) == 0);
    if (act & AIOTP__ACT_REFUSED) {
        rc = AIOTP_ECLOSED; /* BASE-CLOSE-4: idempotent */
    } else {
        apply_close_actions(t, act, 0);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "close", rc);
    }
    return rc;
}

static int stream_abort(aiotp_transport *bt)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    unsigned act;
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call abort", (unsigned)t->base.id);
    }
    act = aiotp__stream_step(&t->st, AIOTP__EV_ABORT, wsize(t) == 0);
    if (act & AIOTP__ACT_REFUSED) {
        rc = AIOTP_ECLOSED; /* WRITE-ABORT-3 */
    } else {
        apply_close_actions(t, act, 0);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "abort", rc);
    }
    return rc;
}

static bool stream_is_closing(const aiotp_transport *bt)
{
    const aiotp__stream *t = (const aiotp__stream *)(const void *)bt;
    return aiotp__stream_is_closing(&t->st);
}

static bool stream_is_reading(const aiotp_transport *bt)
{
    const aiotp__stream *t = (const aiotp__stream *)(const void *)bt;
    return aiotp__stream_is_reading(&t->st);
}

/* DONE-1 (error.h, "already done"): a closing or closed transport answers AIOTP_ECLOSED
   to pause_reading, resume_reading and write_eof, and changes nothing. */
static bool done_closing(const aiotp__stream *t)
{
    return aiotp__stream_is_closing(&t->st);
}

static int stream_pause_reading(aiotp_transport *bt)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    unsigned act;
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call pause_reading", (unsigned)t->base.id);
    }
    if (done_closing(t)) {
        rc = AIOTP_ECLOSED; /* DONE-1 */
    } else {
        act = aiotp__stream_step(&t->st, AIOTP__EV_PAUSE_READING,
                                 wsize(t) == 0);
        if (act & AIOTP__ACT_STOP_READER) {
            reader_stop(t);
        }
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "pause_reading", rc);
    }
    return rc;
}

static int stream_resume_reading(aiotp_transport *bt)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    unsigned act;
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call resume_reading", (unsigned)t->base.id);
    }
    if (done_closing(t)) {
        rc = AIOTP_ECLOSED; /* DONE-1 */
    } else {
        act = aiotp__stream_step(&t->st, AIOTP__EV_RESUME_READING,
                                 wsize(t) == 0);
        if (act & AIOTP__ACT_START_READER) {
            reader_start(t);
        }
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "resume_reading", rc);
    }
    return rc;
}

static int stream_write_eof(aiotp_transport *bt)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    unsigned act;
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call write_eof", (unsigned)t->base.id);
    }
    if (done_closing(t)) {
        rc = AIOTP_ECLOSED; /* DONE-1; twice on an open transport: 0 (WRITE-EOF-3) */
    } else {
        act = aiotp__stream_step(&t->st, AIOTP__EV_WRITE_EOF, wsize(t) == 0);
        if (act & AIOTP__ACT_SHUTDOWN_WR) {
            rc = do_shutdown(t); /* WRITE-EOF-1, WRITE-EOF-4: the error also to the caller */
        }
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "write_eof", rc);
    }
    return rc;
}

static bool stream_can_write_eof(const aiotp_transport *bt)
{
    (void)bt;
    return true;
}

static size_t stream_get_write_buffer_size(const aiotp_transport *bt)
{
    const aiotp__stream *t = (const aiotp__stream *)(const void *)bt;
    return wsize(t);
}

static int stream_get_write_buffer_limits(const aiotp_transport *bt, size_t *low,
                                            size_t *high)
{
    const aiotp__stream *t = (const aiotp__stream *)(const void *)bt;
    *low = t->flow.low;
    *high = t->flow.high;
    return 0;
}

static void tr_limit(char *buf, size_t n, int64_t v)
{
    if (v == AIOTP_LIMIT_NONE) {
        snprintf(buf, n, "NONE");
    } else {
        snprintf(buf, n, "%lld", (long long)v);
    }
}

static int stream_set_write_buffer_limits(aiotp_transport *bt, int64_t high, int64_t low)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        char hb[24];
        char lb[24];
        tr_limit(hb, sizeof(hb), high);
        tr_limit(lb, sizeof(lb), low);
        aiotp__tracef(t->base.loop, "t%u call set_write_buffer_limits high=%s low=%s",
                      (unsigned)t->base.id, hb, lb);
    }
    if (!aiotp__flow_set_limits(&t->flow, high, low)) {
        rc = AIOTP_EINVAL; /* FLOW-3 */
    } else {
        maybe_pause(t); /* FLOW-7 */
    }
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u ret set_write_buffer_limits %s size=%zu low=%zu high=%zu",
                      (unsigned)t->base.id, aiotp__status_name(rc), wsize(t), t->flow.low,
                      t->flow.high);
    }
    return rc;
}

static int stream_set_protocol(aiotp_transport *bt, const aiotp_protocol *proto,
                                 void *data)
{
    aiotp__stream *t = (aiotp__stream *)(void *)bt;
    int rc;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call set_protocol kind=%s", (unsigned)t->base.id,
                      aiotp__protocol_kind_name(proto));
    }
    rc = aiotp__transport_check_new_protocol(&t->base, proto); /* named when refused */
    if (rc == 0 && t->st.life == AIOTP__LIFE_CLOSED) {
        rc = AIOTP_ECLOSED;
    }
    if (rc == 0) {
        t->base.proto = proto; /* BASE-PROTO-1: takes effect at the next read event */
        t->base.pdata = data;
        t->base.proto_switches++; /* PROTO-BUF-5 */
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "set_protocol", rc);
    }
    return rc;
}

static const aiotp_extra *stream_get_extra_info(const aiotp_transport *bt, const char *name,
                                                  const aiotp_extra *dflt)
{
    const aiotp__stream *t = (const aiotp__stream *)(const void *)bt;
    if (strcmp(name, "peername") == 0) {
        return &t->x_peer;
    }
    if (strcmp(name, "sockname") == 0) {
        return &t->x_sock;
    }
    if (strcmp(name, "socket") == 0) {
        return &t->x_fd;
    }
    return dflt; /* BASE-EXTRA-2 */
}


/* ---- the method table ------------------------------------------------------------------ */

static const aiotp__transport_ops stream_ops = {
    .kind = AIOTP_TRANSPORT_STREAM,
    .name = "stream",
    .protocol_kinds = (1u << AIOTP_PROTOCOL_STREAMING) | (1u << AIOTP_PROTOCOL_BUFFERED),
    .close = stream_close,
    .is_closing = stream_is_closing,
    .set_protocol = stream_set_protocol,
    .get_extra_info = stream_get_extra_info,
    .is_reading = stream_is_reading,
    .pause_reading = stream_pause_reading,
    .resume_reading = stream_resume_reading,
    .abort = stream_abort,
    .can_write_eof = stream_can_write_eof,
    .get_write_buffer_size = stream_get_write_buffer_size,
    .get_write_buffer_limits = stream_get_write_buffer_limits,
    .set_write_buffer_limits = stream_set_write_buffer_limits,
    .write = stream_write,
    .writelines = stream_writelines,
    .write_eof = stream_write_eof,
    .write_borrowed = stream_write_borrowed, /* DEV-81 */
    .sendto = NULL, /* DatagramTransport only: AIOTP_ENOTSUP */
    .free = stream_free,
    .layer_services = &aiotp__layer_svc, /* for start_tls (src/layer_int.h) */
};
