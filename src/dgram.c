/*
 * src/dgram.c - the datagram transport over UDP and Unix datagram sockets: the I/O shell
 * around core/dgram_sm.c (state), core/dgq.c (send-queue accounting) and core/flow.c
 * (write flow control).
 *
 * Every state change goes through aiotp__dgram_step(); this file performs the actions it
 * returns. Clause IDs refer to spec/rules.md ("Datagram transports and protocols");
 * CPython 3.11's behaviour where the documentation is silent (its selector datagram
 * transport) is spec/cpython-facts.md §4.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "checksum.h"
#include "dgram_int.h"

static const aiotp__transport_ops dgram_ops;
static const aiotp__obj_ops dgram_obj_ops;

static aiotp__dgram *as_dgram(aiotp_transport *t)
{
    return (aiotp__dgram *)(void *)t;
}

static const aiotp__dgram *as_cdgram(const aiotp_transport *t)
{
    return (const aiotp__dgram *)(const void *)t;
}

aiotp__dgram *aiotp__dgram_of(aiotp_transport *t)
{
    return t != NULL && t->ops == &dgram_ops ? as_dgram(t) : NULL;
}

/* ---- addresses ------------------------------------------------------------------------- */

/* Same address (family, address, port; Unix: path). */
static bool addr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                       socklen_t blen)
{
    if (alen < (socklen_t)sizeof(sa_family_t) || blen < (socklen_t)sizeof(sa_family_t) ||
        a->sa_family != b->sa_family) {
        return false;
    }
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b;
        return alen >= (socklen_t)sizeof(*x) && blen >= (socklen_t)sizeof(*y) &&
               x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;
        return alen >= (socklen_t)sizeof(*x) && blen >= (socklen_t)sizeof(*y) &&
               x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    if (a->sa_family == AF_UNIX) {
        const struct sockaddr_un *x = (const struct sockaddr_un *)(const void *)a;
        const struct sockaddr_un *y = (const struct sockaddr_un *)(const void *)b;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t xn = alen > (socklen_t)off ? (size_t)alen - off : 0;
        size_t yn = blen > (socklen_t)off ? (size_t)blen - off : 0;
        if (xn > 0 && x->sun_path[0] != '\0') {
            xn = strnlen(x->sun_path, xn);
        }
        if (yn > 0 && y->sun_path[0] != '\0') {
            yn = strnlen(y->sun_path, yn);
        }
        return xn > 0 && xn == yn && memcmp(x->sun_path, y->sun_path, xn) == 0;
    }
    return false;
}

/* An address sendto() may use on this socket: the family of the socket, a length that
   fits that family. */
static bool addr_usable(const aiotp__dgram *t, const struct sockaddr *a, socklen_t alen)
{
    if (alen < (socklen_t)sizeof(sa_family_t) ||
        alen > (socklen_t)sizeof(struct sockaddr_storage) || a->sa_family != t->family) {
        return false;
    }
    switch (a->sa_family) {
    case AF_INET:
        return alen >= (socklen_t)sizeof(struct sockaddr_in);
    case AF_INET6:
        return alen >= (socklen_t)sizeof(struct sockaddr_in6);
    case AF_UNIX:
        return alen > (socklen_t)offsetof(struct sockaddr_un, sun_path) &&
               alen <= (socklen_t)sizeof(struct sockaddr_un);
    default:
        return false;
    }
}

/* ---- tracing ------------------------------------------------------------------------- */

static unsigned tid(const aiotp__dgram *t)
{
    return (unsigned)t->base.id;
}

static void tr_cbret(aiotp__dgram *t, const char *what, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s", tid(t), what, aiotp__status_name(rc));
}

static void tr_ret(aiotp__dgram *t, const char *what, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s size=%zu", tid(t), what, aiotp__status_name(rc),
                  t->q.payload);
}

/* ---- protocol calls ---------------------------------------------------------------- */

static void call_simple(aiotp__dgram *t, const char *name, int (*fn)(aiotp_transport *, void *),
                        const char *failure)
{
    int rc = 0;
    if (fn != NULL) {
        rc = fn(&t->base, t->base.pdata);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_cbret(t, name, rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        aiotp__transport_report(&t->base, failure, rc);
    }
}

static void call_pause(aiotp__dgram *t)
{
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u cb pause_writing size=%zu high=%zu", tid(t),
                      t->q.payload, t->flow.high);
    }
    call_simple(t, "pause_writing", t->base.proto->pause_writing,
                "protocol.pause_writing() failed");
}

static void call_resume(aiotp__dgram *t)
{
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u cb resume_writing size=%zu low=%zu", tid(t),
                      t->q.payload, t->flow.low);
    }
    call_simple(t, "resume_writing", t->base.proto->resume_writing,
                "protocol.resume_writing() failed");
}

/* DGRAM-FLOW-1: after the queue grew or the limits changed. */
static void maybe_pause(aiotp__dgram *t)
{
    if (t->st.ph != AIOTP__DG_PH_CONNECTED) {
        return; /* no protocol to tell */
    }
    if (aiotp__flow_check_pause(&t->flow, t->q.payload) == AIOTP__FLOW_CALL_PAUSE) {
        call_pause(t);
    }
}

/* DGRAM-FLOW-1: after the drain sent something. */
static void maybe_resume(aiotp__dgram *t)
{
    if (t->st.ph != AIOTP__DG_PH_CONNECTED) {
        return;
    }
    if (aiotp__flow_check_resume(&t->flow, t->q.payload) == AIOTP__FLOW_CALL_RESUME) {
        call_resume(t);
    }
}

/* error_received(status) for a failed send or receive; the transport stays open
   (DGRAM-SEND-3, DGRAM-DRAIN-1, DGRAM-RECV-2). A failing callback is reported only
   (DGRAM-CB-1). */
static void call_error(aiotp__dgram *t, int status)
{
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u cb error_received status=%s", tid(t),
                      aiotp__status_name(status));
    }
    if (t->base.proto->error_received != NULL) {
        rc = t->base.proto->error_received(&t->base, t->base.pdata, status);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_cbret(t, "error_received", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        aiotp__transport_report(&t->base, "Exception in callback protocol.error_received()", rc);
    }
}

/* A send failed with an OS error: error_received now, if the protocol may still hear
   of it (DGRAM-LOST-1). */
static void send_failed(aiotp__dgram *t, int status)
{
    if (aiotp__dgram_step(&t->st, AIOTP__DGEV_SEND_ERROR, t->q.count == 0) ==
        AIOTP__DGA_CALL_ERROR) {
        call_error(t, status);
    }
}

/* ---- registration ---------------------------------------------------------------------- */

static void read_ready(aiotp_loop *loop, int fd, void *arg);
static void write_ready(aiotp_loop *loop, int fd, void *arg);
static void dgram_fatal(aiotp__dgram *t, int status, const char *message);

static void reader_start(aiotp__dgram *t)
{
    int rc = aiotp__watch(t->base.loop, t->fd, false, &t->reader_on, read_ready, t);
    if (rc != 0) {
        dgram_fatal(t, rc, "Fatal error: cannot watch the socket for reading");
    }
}

static void reader_stop(aiotp__dgram *t)
{
    aiotp__unwatch(t->base.loop, t->fd, false, &t->reader_on);
}

static int writer_start(aiotp__dgram *t)
{
    return aiotp__watch(t->base.loop, t->fd, true, &t->writer_on, write_ready, t);
}

static void writer_stop(aiotp__dgram *t)
{
    aiotp__unwatch(t->base.loop, t->fd, true, &t->writer_on);
}

/* ---- connection_lost ------------------------------------------------------------------- */

static void lost_cb(aiotp_loop *loop, void *arg);

/* DGRAM-LOST-1: call connection_lost, then close the socket and let go of the protocol.
   The socket is still open during the callback. */
static void deliver_lost(aiotp__dgram *t, int status)
{
    aiotp_loop *loop = t->base.loop;
    int rc = 0;

    reader_stop(t);
    writer_stop(t);
    if (aiotp__tracing(loop)) {
        aiotp__tracef(loop, "t%u cb connection_lost status=%s", tid(t),
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
    aiotp__transport_notify_lost(&t->base);
    aiotp__transport_release_later(&t->base);
}

static void lost_cb(aiotp_loop *loop, void *arg)
{
    aiotp__dgram *t = arg;
    (void)loop;
    if (aiotp__dgram_step(&t->st, AIOTP__DGEV_LOST, true) == AIOTP__DGA_CALL_LOST) {
        deliver_lost(t, t->lost_status);
    }
}

/* The actions of close/abort/fatal. */
static void apply_close_actions(aiotp__dgram *t, unsigned act, int status)
{
    if (act & AIOTP__DGA_STOP_READER) {
        reader_stop(t);
    }
    if (act & AIOTP__DGA_STOP_WRITER) {
        writer_stop(t);
    }
    if (act & AIOTP__DGA_DROP_QUEUE) {
        aiotp__dgq_clear(&t->q); /* DGRAM-ABORT-1: no resume_writing */
    }
    if (act & AIOTP__DGA_SCHEDULE_LOST) {
        t->lost_status = status;
        t->promised--;
        aiotp__push_promised(t->base.loop, lost_cb, t);
    }
}

/* DGRAM-FATAL-1: the transport ends with connection_lost(status), never error_received.
   The state changes first; then the exception handler hears of it (a handler that calls
   the transport finds it closing). */
static void dgram_fatal(aiotp__dgram *t, int status, const char *message)
{
    unsigned act = aiotp__dgram_step(&t->st, AIOTP__DGEV_FATAL, t->q.count == 0);
    if (act != AIOTP__DGA_REFUSED) {
        apply_close_actions(t, act, status);
        aiotp__transport_report(&t->base, message, status);
    }
}

/* ---- connection_made ------------------------------------------------------------------- */

static void done_cb_run(aiotp_loop *loop, void *arg)
{
    aiotp__dgram *t = arg;
    aiotp_connect_cb cb = t->done_cb;
    (void)loop;
    t->done_cb = NULL;
    t->promised--;
    if (cb != NULL) {
        cb(t->done_arg, 0, &t->base); /* after connection_made, same pass */
    }
}

static void made_cb(aiotp_loop *loop, void *arg)
{
    aiotp__dgram *t = arg;
    (void)loop;
    t->promised--;
    if (aiotp__dgram_step(&t->st, AIOTP__DGEV_MADE, t->q.count == 0) == AIOTP__DGA_CALL_MADE) {
        if (aiotp__tracing(t->base.loop)) {
            aiotp__tracef(t->base.loop, "t%u cb connection_made", tid(t));
        }
        call_simple(t, "connection_made", t->base.proto->connection_made,
                    "Exception in callback protocol.connection_made()");
    }
    /* DGRAM-MADE-1: reading starts after connection_made, unless it paused or closed */
    if (aiotp__dgram_step(&t->st, AIOTP__DGEV_READER_START, t->q.count == 0) ==
        AIOTP__DGA_START_READER) {
        reader_start(t);
    }
}

/* ---- creation ------------------------------------------------------------------------- */

static void set_addr_extra(aiotp_extra *x, struct sockaddr_storage *st, socklen_t len,
                           bool ok)
{
    if (!ok) {
        x->kind = AIOTP_EXTRA_NONE;
    } else {
        x->kind = AIOTP_EXTRA_ADDR;
        x->u.addr.addr = (const struct sockaddr *)st;
        x->u.addr.len = len;
    }
}

/* Is o another datagram transport connected to t, and t to it? */
static bool is_peer_of(aiotp__obj *o, void *arg)
{
    const aiotp__dgram *t = arg;
    const aiotp__dgram *x = (const aiotp__dgram *)(const void *)o;
    return o->ops == &dgram_obj_ops && x != t && x->connected && t->connected &&
           x->x_sock.kind == AIOTP_EXTRA_ADDR && t->x_sock.kind == AIOTP_EXTRA_ADDR &&
           addr_equal(x->x_sock.u.addr.addr, x->x_sock.u.addr.len, t->x_peer.u.addr.addr,
                      t->x_peer.u.addr.len) &&
           addr_equal(x->x_peer.u.addr.addr, x->x_peer.u.addr.len, t->x_sock.u.addr.addr,
                      t->x_sock.u.addr.len);
}

static void trace_open(aiotp__dgram *t)
{
    aiotp_loop *loop = t->base.loop;
    const aiotp__dgram *o;
    aiotp__tracef(loop, "t%u open %s", tid(t),
                  t->family == AF_UNIX ? "unixdgram" : (t->family == AF_INET6 ? "udp6" : "udp"));
    aiotp__tracef(loop, "t%u limits low=%zu high=%zu", tid(t), t->flow.low, t->flow.high);
    o = (const aiotp__dgram *)(const void *)aiotp__obj_find(loop, is_peer_of, (void *)t);
    if (o != NULL) {
        aiotp__tracef(loop, "t%u peer t%u", tid(t), (unsigned)o->base.id);
    }
}

int aiotp__dgram_create(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *pdata,
                        const struct sockaddr *fixed, socklen_t fixed_len, bool connected,
                        aiotp_connect_cb done_cb, void *done_arg, aiotp_transport **out,
                        const char **why)
{
    const aiotp_syscalls *sys = loop->sys;
    aiotp__dgram *t;
    socklen_t len;
    int rc;
    unsigned need = done_cb != NULL ? 3u : 2u; /* made, [done], lost */

    rc = aiotp__transport_check_protocol(&dgram_ops, proto, why);
    if (rc != 0) {
        return rc;
    }
    if (fixed != NULL && (fixed_len == 0 || fixed_len > (socklen_t)sizeof(t->fixed_addr))) {
        return AIOTP_EINVAL;
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
    aiotp__dgram_init(&t->st);
    aiotp__flow_init(&t->flow);
    aiotp__dgq_init(&t->q);

    /* DGRAM-EXTRA-1: addresses computed once */
    len = sizeof(t->sock_addr);
    rc = sys->getsockname(sys->ctx, fd, (struct sockaddr *)&t->sock_addr, &len);
    set_addr_extra(&t->x_sock, &t->sock_addr, len, rc >= 0);
    t->family = rc < 0 ? AF_UNSPEC : t->sock_addr.ss_family;
    if (fixed != NULL) {
        memcpy(&t->fixed_addr, fixed, fixed_len);
        t->fixed_len = fixed_len;
        t->has_fixed = true;
        if (t->family == AF_UNSPEC) {
            t->family = fixed->sa_family;
        }
    }
    t->connected = connected;
    if (connected) {
        len = sizeof(t->peer_addr);
        rc = sys->getpeername(sys->ctx, fd, (struct sockaddr *)&t->peer_addr, &len);
        set_addr_extra(&t->x_peer, &t->peer_addr, len, rc >= 0);
    } else {
        t->x_peer.kind = AIOTP_EXTRA_NONE; /* CPython: peername None when not connected */
    }
    t->x_fd.kind = AIOTP_EXTRA_FD;
    t->x_fd.u.fd = fd;

    aiotp__transport_init(&t->base, loop, &dgram_ops, &dgram_obj_ops, proto, pdata);
    aiotp__transport_own_fd(&t->base, fd); /* until connection_lost has run (LOOP-8) */
    if (aiotp__tracing(loop)) {
        trace_open(t);
    }
    /* DGRAM-MADE-1: connection_made (then reading) next pass; the completion after it */
    aiotp__push_promised(loop, made_cb, t);
    if (done_cb != NULL) {
        aiotp__push_promised(loop, done_cb_run, t);
    }
    if (out != NULL) {
        *out = &t->base;
    }
    return 0;
}

/* ---- freeing --------------------------------------------------------------------------- */

static void release_memory(aiotp__dgram *t)
{
    aiotp_loop *loop = t->base.loop;
    if (t->promised > 0) {
        aiotp__rq_unreserve(loop, t->promised);
    }
    aiotp__free(loop, t->qbuf);
    aiotp__free(loop, t);
}

static void dgram_free(aiotp_transport *bt)
{
    aiotp__dgram *t = as_dgram(bt);
    aiotp__obj_unlink(&t->base.obj);
    release_memory(t);
}

/* aiotp_loop_free: close the socket, no callback, touch no other object. A transport the
   user retained survives, closed (LIFE-1). */
static void dgram_teardown(aiotp__obj *o)
{
    aiotp__dgram *t = (aiotp__dgram *)(void *)o;
    aiotp_loop *loop = t->base.loop;
    if (t->fd >= 0) {
        aiotp__fd_forget(loop, t->fd);
        (void)loop->sys->close(loop->sys->ctx, t->fd);
        t->fd = -1;
        t->x_fd.u.fd = -1;
    }
    if (t->base.user_refs == 0) {
        release_memory(t);
        return;
    }
    /* as if a fatal error had closed it and its connection_lost had run (no callback) */
    aiotp__dgq_clear(&t->q);
    (void)aiotp__dgram_step(&t->st, AIOTP__DGEV_FATAL, true);
    (void)aiotp__dgram_step(&t->st, AIOTP__DGEV_LOST, true);
    aiotp__free(loop, t->qbuf);
    t->qbuf = NULL;
    aiotp__dgq_init(&t->q);
    t->promised = 0; /* (the loop's ready queue goes with it) */
    t->reader_on = false;
    t->writer_on = false;
    t->done_cb = NULL;
    (void)aiotp__transport_survive(&t->base);
}

static const aiotp__obj_ops dgram_obj_ops = {
    .name = "datagram",
    .teardown = dgram_teardown,
    .deferred = aiotp__transport_deferred,
    .shut = aiotp__transport_obj_shut,
    .owes = aiotp__transport_obj_owes,
};

/* ---- receiving ------------------------------------------------------------------------- */

/* One receive and its datagram_received: true when another receive may follow in this
   read event (a datagram was delivered), false at EAGAIN, after an error, or when the
   transport does not deliver now (DGRAM-RECV-3). */
static bool read_one(aiotp_loop *loop, aiotp__dgram *t)
{
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t n;
    int rc = 0;

    if (aiotp__dgram_step(&t->st, AIOTP__DGEV_RECV, t->q.count == 0) != AIOTP__DGA_DELIVER) {
        return false; /* DGRAM-RECV-3 */
    }
    /* Performance (bench/README.md): only the family is cleared, not the whole 128 bytes
       (21 of the ~560 user-space instructions per datagram). Only the first flen bytes,
       which recvfrom fills, are read (by the trace, and by the protocol, which gets
       flen); a receive that reports no address leaves flen 0, or the family AF_UNSPEC. */
    from.ss_family = AF_UNSPEC;
    n = loop->sys->recvfrom(loop->sys->ctx, t->fd, loop->rbuf, AIOTP__DGRAM_MAX, 0,
                            (struct sockaddr *)&from, &flen);
    if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR) {
        return false;
    }
    if (n < 0) {
        call_error(t, (int)n); /* DGRAM-RECV-2: the transport stays open */
        return false;
    }
    if (flen > (socklen_t)sizeof(from)) {
        flen = sizeof(from);
    }
    if (aiotp__tracing(loop)) {
        char a[128];
        aiotp__fmt_addr((const struct sockaddr *)&from, flen, a, sizeof(a));
        aiotp__tracef(loop, "t%u cb datagram_received n=%zd addr=%s sum=%08x", tid(t), n, a,
                      (unsigned)aiotp__crc32(0, loop->rbuf, (size_t)n));
    }
    if (t->base.proto->datagram_received != NULL) {
        rc = t->base.proto->datagram_received(&t->base, t->base.pdata, loop->rbuf, (size_t)n,
                                              flen > 0 ? (const struct sockaddr *)&from : NULL,
                                              flen);
    }
    if (aiotp__tracing(loop)) {
        tr_cbret(t, "datagram_received", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        /* DGRAM-CB-1: reported; the transport stays open (CPython §4.3) */
        aiotp__transport_report(&t->base, "Exception in callback protocol.datagram_received()",
                                rc);
    }
    return true;
}

/* DGRAM-RECV-1 (DEV-70): up to AIOTP__DGRAM_RECV_BATCH receives per read event, as libuv
   and uvloop do (CPython: one). Each goes through the state machine first, so a callback
   that pauses, closes or aborts stops the batch; with one datagram per read event a UDP
   server made one whole loop pass (a poll() and the ready queue) per datagram. */
static void read_ready(aiotp_loop *loop, int fd, void *arg)
{
    int k = 0;
    (void)fd;
    while (k < AIOTP__DGRAM_RECV_BATCH && read_one(loop, arg)) {
        k++;
    }
}

/* ---- the send queue ------------------------------------------------------------------------ */

/* A queued datagram: this header, the destination address (alen bytes, 0 when the
   socket is connected), the payload; each record starts at a multiple of 8 bytes. */
typedef struct rec_hdr {
    size_t len;     /* payload bytes */
    socklen_t alen; /* address bytes */
} rec_hdr;

#define REC_ALIGN ((size_t)8)
#define ROUND(n) (((n) + REC_ALIGN - 1) / REC_ALIGN * REC_ALIGN)

static size_t rec_bytes(size_t len, socklen_t alen)
{
    return ROUND(ROUND(sizeof(rec_hdr)) + ROUND((size_t)alen) + len);
}

/* Make room for a record of n bytes: 0, or AIOTP_ENOMEM with nothing changed. */
static int queue_room(aiotp__dgram *t, size_t n)
{
    size_t used = t->q.tail - t->q.head;
    size_t ncap;
    unsigned char *nb;

    switch (aiotp__dgq_room_for(&t->q, n)) {
    case AIOTP__DGQ_FITS:
        return 0;
    case AIOTP__DGQ_COMPACT:
        memmove(t->qbuf, t->qbuf + t->q.head, used);
        aiotp__dgq_compact(&t->q);
        return 0;
    default:
        break;
    }
    ncap = t->q.cap > 0 ? t->q.cap : 4096;
    while (ncap < used + n) {
        ncap *= 2; /* n <= 256 KiB + headers and the queue holds what was accepted: no wrap */
    }
    nb = aiotp__alloc(t->base.loop, ncap);
    if (nb == NULL) {
        return AIOTP_ENOMEM;
    }
    if (used > 0) {
        memcpy(nb, t->qbuf + t->q.head, used);
    }
    aiotp__free(t->base.loop, t->qbuf);
    t->qbuf = nb;
    aiotp__dgq_rebase(&t->q, ncap);
    return 0;
}

/* Queue a copy of the datagram (DGRAM-SEND-3). */
static int queue_datagram(aiotp__dgram *t, const void *data, size_t len,
                          const struct sockaddr *addr, socklen_t alen)
{
    size_t n = rec_bytes(len, alen);
    rec_hdr h;
    unsigned char *p;
    int rc = queue_room(t, n);

    if (rc != 0) {
        return rc;
    }
    p = t->qbuf + t->q.tail;
    memset(&h, 0, sizeof(h));
    h.len = len;
    h.alen = alen;
    memcpy(p, &h, sizeof(h));
    if (alen > 0) {
        memcpy(p + ROUND(sizeof(rec_hdr)), addr, alen);
    }
    if (len > 0) {
        memcpy(p + ROUND(sizeof(rec_hdr)) + ROUND((size_t)alen), data, len);
    }
    aiotp__dgq_push(&t->q, n, len);
    return 0;
}

/* One send: to the connected peer (addr NULL) or to addr. */
static ssize_t send_one(aiotp__dgram *t, const void *data, size_t len,
                        const struct sockaddr *addr, socklen_t alen)
{
    const aiotp_syscalls *sys = t->base.loop->sys;
    return sys->sendto(sys->ctx, t->fd, data, len, 0, addr, addr != NULL ? alen : 0);
}

static bool would_block(ssize_t n)
{
    return n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR;
}

/* DGRAM-DRAIN-1: send the queued datagrams in order, as many as the kernel takes. */
static void write_ready(aiotp_loop *loop, int fd, void *arg)
{
    aiotp__dgram *t = arg;
    unsigned act;
    (void)loop;
    (void)fd;

    if (t->st.life != AIOTP__DG_OPEN && t->st.life != AIOTP__DG_CLOSING) {
        writer_stop(t);
        return;
    }
    while (t->q.count > 0) {
        unsigned char *p = t->qbuf + t->q.head;
        rec_hdr h;
        ssize_t n;
        size_t rec;
        memcpy(&h, p, sizeof(h));
        rec = rec_bytes(h.len, h.alen);
        n = send_one(t, p + ROUND(sizeof(rec_hdr)) + ROUND((size_t)h.alen), h.len,
                     h.alen > 0 ? (const struct sockaddr *)(void *)(p + ROUND(sizeof(rec_hdr)))
                                : NULL,
                     h.alen);
        if (would_block(n)) {
            break; /* stays at the head; the writer stays armed */
        }
        aiotp__dgq_pop(&t->q, rec, h.len);
        if (n < 0) {
            /* that datagram is dropped, the rest stay queued; the writer stays armed and
               the next writable event goes on (CPython returns here too) */
            send_failed(t, (int)n);
            return;
        }
    }
    maybe_resume(t); /* may re-enter: sendto, close, abort */
    if (t->q.count == 0) {
        act = aiotp__dgram_step(&t->st, AIOTP__DGEV_DRAINED, true);
        if (act == AIOTP__DGA_REFUSED) {
            return; /* aborted inside resume_writing */
        }
        if (act & AIOTP__DGA_STOP_WRITER) {
            writer_stop(t);
        }
        if (act & AIOTP__DGA_CALL_LOST) {
            deliver_lost(t, 0); /* DGRAM-CLOSE-1: same pass as the last send */
        }
    }
}

/* ---- public methods -------------------------------------------------------------------------- */

static int do_sendto(aiotp__dgram *t, const void *data, size_t len, const struct sockaddr *addr,
                     socklen_t alen)
{
    ssize_t n;
    int rc;

    if (data == NULL && len > 0) {
        return AIOTP_EINVAL;
    }
    if (len == 0) {
        return 0; /* DGRAM-SEND-1: nothing is sent, before any other check (CPython 3.11) */
    }
    if (len > AIOTP__DGRAM_MAX) {
        return AIOTP_ETOOBIG; /* DGRAM-SEND-5 */
    }
    if (addr != NULL && !addr_usable(t, addr, alen)) {
        return AIOTP_EINVAL; /* DGRAM-SEND-5: wrong family or length */
    }
    if (t->has_fixed) {
        /* DGRAM-SEND-2: only the fixed address, refused before anything else */
        if (addr != NULL && !addr_equal(addr, alen, (const struct sockaddr *)&t->fixed_addr,
                                        t->fixed_len)) {
            return AIOTP_EINVAL;
        }
        addr = t->connected ? NULL : (const struct sockaddr *)&t->fixed_addr;
        alen = t->connected ? 0 : t->fixed_len;
    } else if (addr == NULL) {
        return AIOTP_EINVAL; /* DGRAM-SEND-5: nowhere to send */
    }
    if (aiotp__dgram_step(&t->st, AIOTP__DGEV_SEND, t->q.count == 0) == AIOTP__DGA_REFUSED) {
        t->dropped_sends++;
        return AIOTP_ECLOSED; /* DGRAM-SEND-4 */
    }
    if (t->q.count == 0) {
        /* DGRAM-SEND-3: at once, no copy, no flow check */
        n = send_one(t, data, len, addr, alen);
        if (n >= 0) {
            return 0;
        }
        if (!would_block(n)) {
            send_failed(t, (int)n); /* inside sendto; the datagram is dropped */
            return 0;
        }
    }
    rc = queue_datagram(t, data, len, addr, alen);
    if (rc != 0) {
        return rc; /* AIOTP_ENOMEM: nothing changed */
    }
    rc = writer_start(t);
    if (rc != 0) {
        dgram_fatal(t, rc, "Fatal error: cannot watch the socket for writing");
        return rc;
    }
    maybe_pause(t); /* DGRAM-FLOW-1: synchronous, inside sendto() */
    return 0;
}

static int dgram_sendto(aiotp_transport *bt, const void *data, size_t len,
                        const struct sockaddr *addr, socklen_t alen)
{
    aiotp__dgram *t = as_dgram(bt);
    int rc;
    if (aiotp__tracing(t->base.loop)) {
        char a[128];
        aiotp__fmt_addr(addr, addr != NULL ? alen : 0, a, sizeof(a));
        aiotp__tracef(t->base.loop, "t%u call sendto n=%zu addr=%s sum=%08x", tid(t), len, a,
                      (unsigned)aiotp__crc32(0, data != NULL ? data : "", data != NULL ? len : 0));
    }
    rc = do_sendto(t, data, len, addr, alen);
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "sendto", rc);
    }
    return rc;
}

static int dgram_close(aiotp_transport *bt)
{
    aiotp__dgram *t = as_dgram(bt);
    unsigned act;
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call close", tid(t));
    }
    act = aiotp__dgram_step(&t->st, AIOTP__DGEV_CLOSE, t->q.count == 0);
    if (act == AIOTP__DGA_REFUSED) {
        rc = AIOTP_ECLOSED; /* DGRAM-CLOSE-1 */
    } else {
        apply_close_actions(t, act, 0);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "close", rc);
    }
    return rc;
}

static int dgram_abort(aiotp_transport *bt)
{
    aiotp__dgram *t = as_dgram(bt);
    unsigned act;
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call abort", tid(t));
    }
    act = aiotp__dgram_step(&t->st, AIOTP__DGEV_ABORT, t->q.count == 0);
    if (act == AIOTP__DGA_REFUSED) {
        rc = AIOTP_ECLOSED; /* DGRAM-ABORT-1 */
    } else {
        apply_close_actions(t, act, 0);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "abort", rc);
    }
    return rc;
}

static bool dgram_is_closing(const aiotp_transport *bt)
{
    return aiotp__dgram_is_closing(&as_cdgram(bt)->st);
}

static bool dgram_is_reading(const aiotp_transport *bt)
{
    return aiotp__dgram_is_reading(&as_cdgram(bt)->st);
}

static int dgram_pause_reading(aiotp_transport *bt)
{
    aiotp__dgram *t = as_dgram(bt);
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call pause_reading", tid(t));
    }
    if (aiotp__dgram_is_closing(&t->st)) {
        rc = AIOTP_ECLOSED; /* DONE-1 (error.h, "already done") */
    } else if (aiotp__dgram_step(&t->st, AIOTP__DGEV_PAUSE_READING, t->q.count == 0) ==
               AIOTP__DGA_STOP_READER) {
        reader_stop(t);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "pause_reading", rc);
    }
    return rc;
}

static int dgram_resume_reading(aiotp_transport *bt)
{
    aiotp__dgram *t = as_dgram(bt);
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u call resume_reading", tid(t));
    }
    if (aiotp__dgram_is_closing(&t->st)) {
        rc = AIOTP_ECLOSED; /* DONE-1 */
    } else if (aiotp__dgram_step(&t->st, AIOTP__DGEV_RESUME_READING, t->q.count == 0) ==
               AIOTP__DGA_START_READER) {
        reader_start(t);
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "resume_reading", rc);
    }
    return rc;
}

static bool dgram_can_write_eof(const aiotp_transport *bt)
{
    (void)bt;
    return false; /* a datagram transport has no write_eof */
}

static size_t dgram_get_write_buffer_size(const aiotp_transport *bt)
{
    return as_cdgram(bt)->q.payload; /* DGRAM-FLOW-1: payload bytes only */
}

static int dgram_get_write_buffer_limits(const aiotp_transport *bt, size_t *low, size_t *high)
{
    *low = as_cdgram(bt)->flow.low;
    *high = as_cdgram(bt)->flow.high;
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

static int dgram_set_write_buffer_limits(aiotp_transport *bt, int64_t high, int64_t low)
{
    aiotp__dgram *t = as_dgram(bt);
    int rc = 0;
    if (aiotp__tracing(t->base.loop)) {
        char hb[24];
        char lb[24];
        tr_limit(hb, sizeof(hb), high);
        tr_limit(lb, sizeof(lb), low);
        aiotp__tracef(t->base.loop, "t%u call set_write_buffer_limits high=%s low=%s", tid(t),
                      hb, lb);
    }
    if (!aiotp__flow_set_limits(&t->flow, high, low)) {
        rc = AIOTP_EINVAL; /* FLOW-3 */
    } else {
        maybe_pause(t); /* FLOW-7 */
    }
    if (aiotp__tracing(t->base.loop)) {
        aiotp__tracef(t->base.loop, "t%u ret set_write_buffer_limits %s size=%zu low=%zu high=%zu",
                      tid(t), aiotp__status_name(rc), t->q.payload, t->flow.low, t->flow.high);
    }
    return rc;
}

static int dgram_set_protocol(aiotp_transport *bt, const aiotp_protocol *proto, void *data)
{
    aiotp__dgram *t = as_dgram(bt);
    int rc;
    if (aiotp__tracing(t->base.loop)) {
        /* the table's own kind: a stream table is refused with EPROTOKIND (PROTO-KIND-2) */
        aiotp__tracef(t->base.loop, "t%u call set_protocol kind=%s", tid(t),
                      aiotp__protocol_kind_name(proto));
    }
    rc = aiotp__transport_check_new_protocol(&t->base, proto); /* named when refused */
    if (rc == 0 && t->st.ph == AIOTP__DG_PH_LOST) {
        rc = AIOTP_ECLOSED;
    }
    if (rc == 0) {
        t->base.proto = proto; /* takes effect at the next event */
        t->base.pdata = data;
    }
    if (aiotp__tracing(t->base.loop)) {
        tr_ret(t, "set_protocol", rc);
    }
    return rc;
}

static const aiotp_extra *dgram_get_extra_info(const aiotp_transport *bt, const char *name,
                                               const aiotp_extra *dflt)
{
    const aiotp__dgram *t = as_cdgram(bt);
    if (strcmp(name, "peername") == 0) {
        return &t->x_peer;
    }
    if (strcmp(name, "sockname") == 0) {
        return &t->x_sock;
    }
    if (strcmp(name, "socket") == 0) {
        return &t->x_fd;
    }
    return dflt;
}

/* ---- the method table ---------------------------------------------------------------------- */

static const aiotp__transport_ops dgram_ops = {
    .kind = AIOTP_TRANSPORT_DATAGRAM,
    .name = "datagram",
    .protocol_kinds = 1u << AIOTP_PROTOCOL_DATAGRAM,
    .close = dgram_close,
    .is_closing = dgram_is_closing,
    .set_protocol = dgram_set_protocol,
    .get_extra_info = dgram_get_extra_info,
    .is_reading = dgram_is_reading,
    .pause_reading = dgram_pause_reading,
    .resume_reading = dgram_resume_reading,
    .abort = dgram_abort,
    .can_write_eof = dgram_can_write_eof,
    .get_write_buffer_size = dgram_get_write_buffer_size,
    .get_write_buffer_limits = dgram_get_write_buffer_limits,
    .set_write_buffer_limits = dgram_set_write_buffer_limits,
    .write = NULL,      /* Transport only: AIOTP_ENOTSUP */
    .writelines = NULL, /* Transport only */
    .write_eof = NULL,  /* Transport only */
    .sendto = dgram_sendto,
    .free = dgram_free,
};
