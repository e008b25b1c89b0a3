/*
 * src/tls/tls.c - the TLS transport (aiotp/tls.h, spec/tls-transport.md): the I/O shell
 * around core/tls_sm.c, core/flow.c and core/wbuf.c.
 *
 * The TLS layer is the protocol of a stream transport (`layer_proto`: the bytes it
 * receives go into an OpenSSL memory BIO, the bytes OpenSSL writes go to that transport's
 * write()) and a transport to the application above (`tls_ops`). It never touches the
 * socket. Every state change goes through aiotp__tls_step(); apply() carries out the
 * actions it returns. Rule IDs refer to spec/rules.md.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls_int.h"

#define TLS_WRITE_HIGH 524288 /* CPython's FLOW_CONTROL_HIGH_WATER_SSL_WRITE (KiB) */
#define TLS_READ_HIGH 262144  /* ... _SSL_READ */
#define DISCARD_CHUNK 16384

static const aiotp__transport_ops tls_ops;
static const aiotp__obj_ops tls_obj_ops;
static const aiotp_protocol layer_proto;

static void apply(aiotp__tls *t, unsigned act);
static unsigned step(aiotp__tls *t, aiotp__tls_event ev);
static void incoming(aiotp__tls *t);
static void drain_flushing(aiotp__tls *t);

/* ---- tracing ---------------------------------------------------------------------- */

static bool tracing(const aiotp__tls *t)
{
    return aiotp__tracing(t->base.loop);
}

static unsigned tid(const aiotp__tls *t)
{
    return (unsigned)t->base.id;
}

static void tr_cbret(aiotp__tls *t, const char *what, int rc)
{
    t->svc->tracef(t->base.loop, "t%u ret %s %s", tid(t), what, t->svc->status_name(rc));
}

/* ---- sizes ------------------------------------------------------------------------ */

/* TLS-FLOW-1: the plaintext queued plus the encrypted bytes not handed below. */
static size_t write_size(const aiotp__tls *t)
{
    size_t pend = t->wbio != NULL ? BIO_ctrl_pending(t->wbio) : 0;
    return t->svc->wbuf_size(&t->bl) + pend;
}

static size_t read_size(const aiotp__tls *t)
{
    return t->rbio != NULL ? BIO_ctrl_pending(t->rbio) : 0;
}

/* ---- protocol calls ------------------------------------------------------------------ */

/* The protocol may be told about flow control: it is connected (or, after start_tls, was
   connected on the transport below). */
static bool has_protocol(const aiotp__tls *t)
{
    return t->base.proto != NULL &&
           (t->st.app == AIOTP__TLS_APP_CONNECTED || t->st.app == AIOTP__TLS_APP_EOF ||
            (t->st.upgrade && t->st.app == AIOTP__TLS_APP_INIT &&
             t->st.ly != AIOTP__TLS_CLOSED));
}

static void call_pause(aiotp__tls *t)
{
    int rc = 0;
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u cb pause_writing size=%zu high=%zu", tid(t),
                      write_size(t), t->wflow.high);
    }
    if (t->base.proto->pause_writing != NULL) {
        rc = t->base.proto->pause_writing(&t->base, t->base.pdata);
    }
    if (tracing(t)) {
        tr_cbret(t, "pause_writing", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        t->svc->report(&t->base, "protocol.pause_writing() failed", rc); /* FLOW-8 */
    }
}

static void call_resume(aiotp__tls *t)
{
    int rc = 0;
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u cb resume_writing size=%zu low=%zu", tid(t),
                      write_size(t), t->wflow.low);
    }
    if (t->base.proto->resume_writing != NULL) {
        rc = t->base.proto->resume_writing(&t->base, t->base.pdata);
    }
    if (tracing(t)) {
        tr_cbret(t, "resume_writing", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        t->svc->report(&t->base, "protocol.resume_writing() failed", rc);
    }
}

/* TLS-FLOW-1: after the buffer grew or the limits changed (pause at > high, as every
   aiotp transport: DEV-36). */
static void maybe_pause(aiotp__tls *t)
{
    if (has_protocol(t) && !aiotp__tls_is_closing(&t->st) &&
        t->svc->flow_check_pause(&t->wflow, write_size(t)) == AIOTP__FLOW_CALL_PAUSE) {
        call_pause(t);
    }
}

/* FLOW-7: limits lowered under the size pause inside the setter, closing or not (as the
   stream transport; CPython's SSL transport checks its limits there whatever its state):
   a transport that closes with data still queued is paused as well. */
static void setter_pause(aiotp__tls *t)
{
    if (has_protocol(t) &&
        t->svc->flow_check_pause(&t->wflow, write_size(t)) == AIOTP__FLOW_CALL_PAUSE) {
        call_pause(t);
    }
}

/* After encrypted bytes went below. No resume_writing once closing (CPython: the shutdown
   manages flow control itself) nor after abort (WRITE-ABORT-2). */
static void maybe_resume(aiotp__tls *t)
{
    if (has_protocol(t) && !aiotp__tls_is_closing(&t->st) &&
        t->svc->flow_check_resume(&t->wflow, write_size(t)) == AIOTP__FLOW_CALL_RESUME) {
        call_resume(t);
    }
}

/* ---- the reports of a failing step -------------------------------------------------- */

/* A fatal error: the state changes first (as STREAM-ERR-3), then the report (always for a
   failing callback, in debug mode for TLS and OS errors: CPython reports SSLError and
   OSError to its debug log only). */
static void tls_fatal(aiotp__tls *t, int status, const char *message, bool callback)
{
    unsigned act = step(t, AIOTP__TLSEV_FATAL);
    if (!(act & AIOTP__TLSA_REFUSED)) {
        t->lost_status = status;
        t->hs_status = status;
        apply(t, act);
    }
    if (callback || t->base.loop->debug) {
        t->svc->report(&t->base, message, status);
    }
}

/* ---- the transport below ------------------------------------------------------------- */

/* Hand the encrypted bytes OpenSSL wrote to the transport below, unless it asked us to
   pause (its pause_writing): then they wait in the BIO and count in our write size. */
static int process_outgoing(aiotp__tls *t)
{
    char *p = NULL;
    long n;
    int rc;
    if (t->below_paused || t->lower == NULL || t->wbio == NULL) {
        return 0;
    }
    n = BIO_get_mem_data(t->wbio, &p);
    if (n <= 0) {
        return 0;
    }
    rc = aiotp_transport_write(t->lower, p, (size_t)n);
    (void)BIO_reset(t->wbio);
    if (rc < 0) {
        /* the transport below refused (no memory) or failed (its connection_lost follows):
           the TLS stream lost bytes, it cannot go on */
        int kept = t->lost_status;
        tls_fatal(t, rc, "Fatal error: the transport below refused encrypted bytes", false);
        if (rc == AIOTP_ECLOSED) {
            /* it had already failed on its own (e.g. a send error found by its writer):
               its connection_lost, next, carries that error, and ours takes it
               (layer_lost: 0 is "not set") */
            t->lost_status = kept;
        }
    }
    return rc;
}

/* TLS-READ-3: the read-side limits pause and resume the transport below (apart from the
   protocol's pause_reading). */
static void control_reading(aiotp__tls *t)
{
    size_t n = read_size(t);
    if (t->lower == NULL || aiotp__tls_is_closing(&t->st)) {
        return;
    }
    if (!t->reading_below_paused &&
        t->svc->flow_check_pause(&t->rflow, n) == AIOTP__FLOW_CALL_PAUSE) {
        t->reading_below_paused = true;
        (void)aiotp_transport_pause_reading(t->lower);
    } else if (t->reading_below_paused &&
               t->svc->flow_check_resume(&t->rflow, n) == AIOTP__FLOW_CALL_RESUME) {
        t->reading_below_paused = false;
        (void)aiotp_transport_resume_reading(t->lower);
    }
}

/* ---- encrypting ---------------------------------------------------------------------- */

/* Encrypt n bytes; the count OpenSSL took (it takes everything unless it must read first,
   e.g. during a key update), or a negative error after which the transport failed. */
static ssize_t encrypt(aiotp__tls *t, const unsigned char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t w = 0;
        ERR_clear_error();
        if (SSL_write_ex(t->ssl, p + done, n - done, &w) == 1) {
            done += w;
            continue;
        }
        switch (SSL_get_error(t->ssl, 0)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return (ssize_t)done;
        default:
            aiotp__tls_clear_errors();
            tls_fatal(t, AIOTP_ETLS, "Fatal error on SSL protocol: encryption failed", false);
            return AIOTP_ETLS;
        }
    }
    return (ssize_t)done;
}

/* Encrypt what was queued (writes before the handshake completed, or what OpenSSL could
   not take). */
static void flush_backlog(aiotp__tls *t)
{
    aiotp__wseg seg[2];
    while (t->svc->wbuf_size(&t->bl) > 0 && t->ssl != NULL &&
           (t->st.ly == AIOTP__TLS_WRAPPED || t->st.ly == AIOTP__TLS_FLUSHING)) {
        ssize_t n;
        (void)t->svc->wbuf_data_segments(&t->bl, seg);
        n = encrypt(t, t->bl.data + seg[0].off, seg[0].len);
        if (n < 0) {
            return;
        }
        t->svc->wbuf_consume(&t->bl, (size_t)n);
        if ((size_t)n < seg[0].len) {
            break; /* OpenSSL must read first: the next read event goes on */
        }
    }
    (void)process_outgoing(t);
}

/* ---- timers ------------------------------------------------------------------------- */

static void cancel_timer(aiotp__tls *t)
{
    if (t->timer != 0) {
        (void)aiotp_loop_cancel(t->base.loop, t->timer);
        t->timer = 0;
    }
}

static void hs_timer_cb(aiotp_loop *loop, void *arg)
{
    aiotp__tls *t = arg;
    (void)loop;
    t->timer = 0;
    t->hs_status = -ECONNABORTED; /* TLS-HS-4: CPython's ConnectionAbortedError */
    apply(t, step(t, AIOTP__TLSEV_HS_TIMEOUT));
}

static void sd_timer_cb(aiotp_loop *loop, void *arg)
{
    aiotp__tls *t = arg;
    (void)loop;
    t->timer = 0;
    t->lost_status = -ETIMEDOUT; /* TLS-CLOSE-4: CPython's TimeoutError */
    apply(t, step(t, AIOTP__TLSEV_SHUTDOWN_TIMEOUT));
}

/* ---- the handshake ---------------------------------------------------------------------- */

/* Why the handshake failed: our verification of the peer's certificate, an EOF, or
   anything else OpenSSL found (an alert from the peer, a protocol mismatch). */
static int handshake_error(aiotp__tls *t, int err)
{
    if (SSL_get_verify_result(t->ssl) != X509_V_OK) {
        return AIOTP_ETLSCERT;
    }
    if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
        return AIOTP_ETLSEOF;
    }
    return AIOTP_ETLS;
}

/* TLS-EXTRA-1: what the handshake agreed on. */
static void collect_extra(aiotp__tls *t)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
    const unsigned char *alpn = NULL;
    unsigned alen = 0;
    t->x_ssl.kind = AIOTP_EXTRA_PTR;
    t->x_ssl.u.ptr = t->ssl;
    t->peer_cert = SSL_get1_peer_certificate(t->ssl);
    if (t->peer_cert != NULL) {
        t->x_cert.kind = AIOTP_EXTRA_PTR;
        t->x_cert.u.ptr = t->peer_cert;
    } else {
        t->x_cert.kind = AIOTP_EXTRA_NONE;
    }
    t->cipher.name = SSL_CIPHER_get_name(c);
    t->cipher.version = SSL_get_version(t->ssl);
    t->cipher.bits = SSL_CIPHER_get_bits(c, NULL);
    t->x_cipher.kind = AIOTP_EXTRA_PTR;
    t->x_cipher.u.ptr = &t->cipher;
    t->x_comp.kind = AIOTP_EXTRA_NONE; /* OpenSSL 3 never compresses (SSL_OP_NO_COMPRESSION) */
    SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
    if (alen > 0) {
        memcpy(t->alpn, alpn, alen);
        t->alpn[alen] = '\0';
        t->x_alpn.kind = AIOTP_EXTRA_STR;
        t->x_alpn.u.str = t->alpn;
    } else {
        t->x_alpn.kind = AIOTP_EXTRA_NONE;
    }
}

static void do_handshake(aiotp__tls *t)
{
    int r;
    int err;
    ERR_clear_error();
    r = SSL_do_handshake(t->ssl);
    err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
    (void)process_outgoing(t); /* the next flight, or the alert that ends it */
    if (t->st.ly != AIOTP__TLS_HANDSHAKE) {
        aiotp__tls_clear_errors();
        return; /* the transport below failed under our feet */
    }
    if (r == 1) {
        collect_extra(t);
        apply(t, step(t, AIOTP__TLSEV_HS_DONE));
        if (t->st.ly == AIOTP__TLS_WRAPPED) {
            flush_backlog(t); /* TLS-WRITE-1: what was written during the handshake */
        }
        incoming(t); /* application data that came with the last flight */
        return;
    }
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        return;
    }
    t->hs_status = handshake_error(t, err);
    aiotp__tls_clear_errors();
    apply(t, step(t, AIOTP__TLSEV_HS_FAILED));
}

static void op_cancel(aiotp__op *op, int status);

static void start_handshake(aiotp__tls *t)
{
    if (t->timer == 0 && aiotp_loop_call_later(t->base.loop, t->hs_timeout, hs_timer_cb, t,
                                               &t->timer) != 0) {
        t->timer = 0;
        t->hs_status = AIOTP_ENOMEM;
        apply(t, step(t, AIOTP__TLSEV_HS_FAILED));
        return;
    }
    if (t->op_number != 0) {
        /* OP-2: a connection being created can be cancelled while it handshakes (the
           cancel is the handshake timeout's step, which only HANDSHAKE takes) */
        t->op.cancel = op_cancel;
        t->svc->op_register_as(t->base.loop, &t->op, t->op_number);
        t->op_number = 0;
    }
    do_handshake(t);
}

/* The completion, once: with the transport, or with the failure (then no protocol
   callback ever runs: TLS-HS-3). A server-side failure has no completion: it is reported
   in debug mode, as CPython's "Error on transport creation for incoming connection". */
static void complete_soon_cb(aiotp_loop *loop, void *arg);

static void complete(aiotp__tls *t, int status)
{
    aiotp_connect_cb cb;
    t->svc->op_done(t->base.loop, &t->op); /* OP-2: the handshake has ended */
    if (t->op_cancelled) {
        /* OP-1: the completion of a cancelled operation runs from the loop, never inside
           aiotp_loop_cancel_op; the ready-queue entry reserved at creation takes it (only
           a read after connection_made uses it otherwise) */
        t->op_cancelled = false;
        t->promised--;
        t->svc->hold(&t->base);
        t->svc->push_promised(t->base.loop, complete_soon_cb, t);
        return;
    }
    cb = t->done_cb;
    t->done_cb = NULL;
    if (cb != NULL) {
        cb(t->done_arg, status, status == 0 ? &t->base : NULL);
    } else if (status != 0 && t->base.loop->debug) {
        t->svc->report(&t->base, "TLS handshake failed", status);
    }
}

static void complete_soon_cb(aiotp_loop *loop, void *arg)
{
    aiotp__tls *t = arg;
    (void)loop;
    complete(t, t->hs_status);
    t->svc->drop(&t->base);
}

/* OP-1: aiotp_loop_cancel_op during the handshake of a connection being created: as the
   handshake timeout (the layer below aborted, no protocol callback), with `status` to the
   completion in the next pass. */
static void op_cancel(aiotp__op *op, int status)
{
    aiotp__tls *t = (aiotp__tls *)(void *)((char *)op - offsetof(aiotp__tls, op));
    t->hs_status = status;
    t->op_cancelled = true;
    apply(t, step(t, AIOTP__TLSEV_HS_TIMEOUT));
}

/* ---- receiving ----------------------------------------------------------------------- */

/* SSL_read failed: 0 nothing more now, 2 the peer's close_notify, -1 a TLS error. */
static int read_result(aiotp__tls *t)
{
    switch (SSL_get_error(t->ssl, 0)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return 2;
    default:
        aiotp__tls_clear_errors();
        return -1;
    }
}

/* Decrypt into buf until it is full, OpenSSL needs more bytes, or the stream ends. *end:
   0, 2 (close_notify) or -1 (error). */
static size_t decrypt(aiotp__tls *t, unsigned char *buf, size_t cap, int *end)
{
    size_t n = 0;
    *end = 0;
    while (n < cap) {
        size_t got = 0;
        ERR_clear_error();
        if (SSL_read_ex(t->ssl, buf + n, cap - n, &got) != 1) {
            *end = read_result(t);
            break;
        }
        n += got;
    }
    return n;
}

static void account_rx(aiotp__tls *t, const void *p, size_t n)
{
    if (tracing(t)) {
        t->rx_total += n;
        t->rx_sum = t->svc->crc32(t->rx_sum, p, n);
    }
}

/* The peer's close_notify: eof_received once, whose result has no effect: the transport
   closes (TLS-EOF-2: no half-close; writes made inside eof_received are still sent). */
static void on_close_notify(aiotp__tls *t)
{
    unsigned act = step(t, AIOTP__TLSEV_CLOSE_NOTIFY);
    int rc = 0;
    if (!(act & AIOTP__TLSA_CALL_EOF)) {
        return;
    }
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u cb eof_received", tid(t));
    }
    if (t->base.proto->eof_received != NULL) {
        rc = t->base.proto->eof_received(&t->base, t->base.pdata);
    }
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u ret eof_received %s", tid(t),
                      rc < 0 ? aiotp_err_name(rc) : (rc > 0 ? "1" : "0"));
    }
    if (rc < 0) {
        tls_fatal(t, rc, "Fatal error: protocol.eof_received() call failed.", true);
        return;
    }
    act = step(t, AIOTP__TLSEV_CLOSE); /* (refused when the protocol closed already) */
    if (!(act & AIOTP__TLSA_REFUSED)) {
        apply(t, act);
    }
}

/* One delivery to a streaming protocol: everything decrypted now (up to 256 KiB) in one
   data_received (CPython joins the chunks too). 1 when the buffer filled (more may be
   there), 2 at close_notify, 0 otherwise. */
static int deliver_streaming(aiotp__tls *t)
{
    aiotp_loop *loop = t->base.loop;
    int end = 0;
    size_t n;
    int rc = 0;
    if (t->rbuf == NULL) {
        t->rbuf = t->svc->alloc(loop, AIOTP__READ_MAX);
        if (t->rbuf == NULL) {
            tls_fatal(t, AIOTP_ENOMEM, "Fatal error: no memory for a TLS receive buffer",
                      false);
            return 0;
        }
    }
    n = decrypt(t, t->rbuf, AIOTP__READ_MAX, &end);
    (void)process_outgoing(t); /* (a key update may answer) */
    if (n > 0 && t->st.ly == AIOTP__TLS_WRAPPED) {
        account_rx(t, t->rbuf, n);
        if (tracing(t)) {
            t->svc->tracef(loop, "t%u cb data_received n=%zu total=%llu sum=%08x", tid(t), n,
                          (unsigned long long)t->rx_total, (unsigned)t->rx_sum);
        }
        if (t->base.proto->data_received != NULL) {
            rc = t->base.proto->data_received(&t->base, t->base.pdata, t->rbuf, n);
        }
        if (tracing(t)) {
            tr_cbret(t, "data_received", rc < 0 ? rc : 0);
        }
        if (rc < 0) {
            tls_fatal(t, rc, "Fatal error: protocol.data_received() call failed.", true);
            return 0;
        }
    }
    if (end < 0) {
        tls_fatal(t, AIOTP_ETLS, "Fatal error on SSL protocol: bad record", false);
        return 0;
    }
    if (end == 2) {
        return 2;
    }
    return n == AIOTP__READ_MAX ? 1 : 0;
}

/* One delivery to a buffered protocol: get_buffer(-1) when plaintext is there (peeked),
   then as much as fits, then buffer_updated. */
static int deliver_buffered(aiotp__tls *t)
{
    aiotp_loop *loop = t->base.loop;
    const aiotp_protocol *proto = t->base.proto;
    void *pdata = t->base.pdata;
    uint32_t switches = t->base.proto_switches;
    unsigned char c;
    size_t got = 0;
    void *buf = NULL;
    size_t len = 0;
    size_t n;
    int end;
    int rc;

    ERR_clear_error();
    if (SSL_peek_ex(t->ssl, &c, 1, &got) != 1) {
        end = read_result(t);
        (void)process_outgoing(t);
        if (end < 0) {
            tls_fatal(t, AIOTP_ETLS, "Fatal error on SSL protocol: bad record", false);
            return 0;
        }
        return end;
    }
    /* PROTO-BUF-1 over TLS: get_buffer(-1) (DEV-38), only when there is plaintext */
    if (tracing(t)) {
        t->svc->tracef(loop, "t%u cb get_buffer sizehint=-1", tid(t));
    }
    rc = proto->get_buffer(&t->base, pdata, -1, &buf, &len);
    if (rc >= 0 && (buf == NULL || len == 0)) {
        rc = AIOTP_EEMPTYBUF; /* PROTO-BUF-2 */
    }
    if (tracing(t)) {
        if (rc < 0) {
            tr_cbret(t, "get_buffer", rc);
        } else {
            t->svc->tracef(loop, "t%u ret get_buffer 0 len=%zu", tid(t), len);
        }
    }
    if (rc < 0) {
        tls_fatal(t, rc, "Fatal error: protocol.get_buffer() call failed.", true);
        return 0;
    }
    /* paused, closed or switched inside get_buffer: nothing now (DEV-15, PROTO-BUF-5) */
    if (!(step(t, AIOTP__TLSEV_INCOMING) & AIOTP__TLSA_DELIVER) ||
        t->base.proto_switches != switches) {
        return 0;
    }
    n = decrypt(t, buf, len, &end);
    (void)process_outgoing(t);
    if (n > 0) {
        account_rx(t, buf, n);
        if (tracing(t)) {
            t->svc->tracef(loop, "t%u cb buffer_updated n=%zu total=%llu sum=%08x", tid(t), n,
                          (unsigned long long)t->rx_total, (unsigned)t->rx_sum);
        }
        rc = 0;
        if (proto->buffer_updated != NULL) {
            rc = proto->buffer_updated(&t->base, pdata, n);
        }
        if (tracing(t)) {
            tr_cbret(t, "buffer_updated", rc < 0 ? rc : 0);
        }
        if (rc < 0) {
            tls_fatal(t, rc, "Fatal error: protocol.buffer_updated() call failed.", true);
            return 0;
        }
    }
    if (end < 0) {
        tls_fatal(t, AIOTP_ETLS, "Fatal error on SSL protocol: bad record", false);
        return 0;
    }
    if (end == 2) {
        return 2;
    }
    return n == len ? 1 : 0;
}

/* DELIVER: until nothing is left, the stream ends, or the protocol stops reading. */
static void deliver(aiotp__tls *t)
{
    for (;;) {
        int r = t->base.proto->kind == AIOTP_PROTOCOL_BUFFERED ? deliver_buffered(t)
                                                               : deliver_streaming(t);
        if (r == 2) {
            on_close_notify(t);
            return;
        }
        if (r == 0 || !(step(t, AIOTP__TLSEV_INCOMING) & AIOTP__TLSA_DELIVER)) {
            return;
        }
    }
}

/* DISCARD (closing): decrypt and drop; the peer's close_notify lets the shutdown end. */
static void discard(aiotp__tls *t)
{
    unsigned char sink[DISCARD_CHUNK];
    int end = 0;
    while (t->ssl != NULL && decrypt(t, sink, sizeof(sink), &end) == sizeof(sink) &&
           end == 0) {
    }
    (void)process_outgoing(t);
    if (end < 0) {
        tls_fatal(t, AIOTP_ETLS, "Fatal error on SSL protocol during the shutdown", false);
    }
}

/* SEND_CLOSE_NOTIFY: our close_notify, then (SHUTDOWN_DONE) once the peer's came too, or
   at once when no shutdown timer bounds the wait. */
static void do_shutdown(aiotp__tls *t)
{
    int r;
    ERR_clear_error();
    r = SSL_shutdown(t->ssl);
    if (r < 0) {
        int err = SSL_get_error(t->ssl, r);
        aiotp__tls_clear_errors();
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            (void)process_outgoing(t);
            tls_fatal(t, AIOTP_ETLS, "Fatal error on SSL protocol during the shutdown", false);
            return;
        }
    }
    (void)process_outgoing(t);
    if (r == 1 || t->sd_unbounded) {
        apply(t, step(t, AIOTP__TLSEV_SHUTDOWN_DONE));
    }
}

/* The read runs (bytes below, a scheduled read): what the state allows, then the read
   flow control and, for a protocol that paused with an EOF below, that EOF. */
static void incoming(aiotp__tls *t)
{
    unsigned act = step(t, AIOTP__TLSEV_INCOMING);
    if (act & AIOTP__TLSA_REFUSED) {
        return;
    }
    apply(t, act);
    if (t->peer_eof_pending && t->st.rd == AIOTP__TLS_RD_ACTIVE) {
        /* TLS-EOF-3, after what was waiting: what is left is no whole record */
        t->peer_eof_pending = false;
        if (t->st.ly == AIOTP__TLS_WRAPPED) {
            t->lost_status = AIOTP_ETLSEOF;
        }
        apply(t, step(t, AIOTP__TLSEV_PEER_EOF));
    }
    control_reading(t);
    maybe_resume(t);
}

/* SCHEDULE_READ: the reserved ready-queue entry; a hold keeps the object for it. */
static void read_soon_cb(aiotp_loop *loop, void *arg)
{
    aiotp__tls *t = arg;
    t->read_queued = false;
    if (t->svc->rq_reserve(loop, 1) == 0) {
        t->promised++;
    }
    incoming(t);
    t->svc->drop(&t->base);
}

static void schedule_read(aiotp__tls *t)
{
    if (t->read_queued) {
        return;
    }
    if (t->promised == 0) {
        if (t->svc->rq_reserve(t->base.loop, 1) != 0) {
            tls_fatal(t, AIOTP_ENOMEM, "Fatal error: no memory to schedule a read", false);
            return;
        }
        t->promised++;
    }
    t->promised--;
    t->read_queued = true;
    t->svc->hold(&t->base);
    t->svc->push_promised(t->base.loop, read_soon_cb, t);
}

/* ---- connection_made / connection_lost of the protocol ---------------------------------- */

static void call_made(aiotp__tls *t)
{
    int rc = 0;
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u cb connection_made", tid(t));
    }
    if (t->base.proto->connection_made != NULL) {
        rc = t->base.proto->connection_made(&t->base, t->base.pdata);
    }
    if (tracing(t)) {
        tr_cbret(t, "connection_made", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        /* PROTO-BASE-5: reported, the transport carries on */
        t->svc->report(&t->base, "Exception in callback protocol.connection_made()", rc);
    }
}

static void free_ssl(aiotp__tls *t)
{
    if (t->peer_cert != NULL) {
        X509_free(t->peer_cert);
        t->peer_cert = NULL;
    }
    if (t->ssl != NULL) {
        SSL_free(t->ssl); /* (frees both BIOs) */
        t->ssl = NULL;
        t->rbio = NULL;
        t->wbio = NULL;
    }
}

static void call_lost(aiotp__tls *t)
{
    int rc = 0;
    int status = t->lost_status;
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u cb connection_lost status=%s", tid(t),
                      t->svc->status_name(status));
    }
    if (t->base.proto->connection_lost != NULL) {
        rc = t->base.proto->connection_lost(&t->base, t->base.pdata, status);
    }
    if (tracing(t)) {
        tr_cbret(t, "connection_lost", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        t->svc->report(&t->base, "Exception in callback protocol.connection_lost()", rc);
    }
}

/* ---- the state machine and its actions -------------------------------------------------- */

static unsigned step(aiotp__tls *t, aiotp__tls_event ev)
{
    return aiotp__tls_step(&t->st, ev);
}

/* FLUSHING: encrypt what is queued; once nothing is left to hand below, close_notify
   (TLS-CLOSE-2: what was written before close() goes first). */
static void drain_flushing(aiotp__tls *t)
{
    if (t->st.ly != AIOTP__TLS_FLUSHING) {
        return;
    }
    flush_backlog(t);
    if (t->st.ly == AIOTP__TLS_FLUSHING && write_size(t) == 0) {
        apply(t, step(t, AIOTP__TLSEV_FLUSHED));
    }
}

/* Carry out the actions of one step, in the order of the action bits. */
static void apply(aiotp__tls *t, unsigned act)
{
    aiotp_transport *lower = t->lower;
    if (act & AIOTP__TLSA_REFUSED) {
        return;
    }
    if ((act & (AIOTP__TLSA_COMPLETE_OK | AIOTP__TLSA_COMPLETE_FAIL)) && tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u handshake status=%s", tid(t),
                      t->svc->status_name(act & AIOTP__TLSA_COMPLETE_OK ? 0 : t->hs_status));
    }
    if (act & AIOTP__TLSA_CANCEL_TIMER) {
        cancel_timer(t);
    }
    if (act & AIOTP__TLSA_DROP_BUFFERS) {
        t->svc->wbuf_clear(&t->bl); /* WRITE-ABORT-2: no resume_writing */
        if (t->wbio != NULL) {
            (void)BIO_reset(t->wbio);
        }
    }
    if (act & AIOTP__TLSA_START_HANDSHAKE) {
        start_handshake(t);
    }
    if (act & AIOTP__TLSA_CONTINUE_HANDSHAKE) {
        do_handshake(t);
    }
    if ((act & AIOTP__TLSA_CLOSE_LOWER) && lower != NULL && !t->in_lower_eof) {
        (void)aiotp_transport_close(lower); /* it sends what it holds (the alert), then ends */
    }
    if ((act & AIOTP__TLSA_ABORT_LOWER) && lower != NULL) {
        (void)aiotp_transport_abort(lower);
    }
    if (act & AIOTP__TLSA_CALL_MADE) {
        call_made(t);
    }
    if (act & AIOTP__TLSA_COMPLETE_OK) {
        complete(t, 0);
    }
    if (act & AIOTP__TLSA_COMPLETE_FAIL) {
        complete(t, t->hs_status != 0 ? t->hs_status : AIOTP_ETLS);
    }
    if (act & AIOTP__TLSA_ARM_SHUTDOWN_TIMER) {
        if (aiotp_loop_call_later(t->base.loop, t->sd_timeout, sd_timer_cb, t, &t->timer) != 0) {
            t->timer = 0;
            t->sd_unbounded = true; /* no memory for a timer: do not wait for the peer */
        }
    }
    if (act & AIOTP__TLSA_DELIVER) {
        deliver(t);
    }
    if (act & AIOTP__TLSA_DISCARD) {
        discard(t);
    }
    if (act & AIOTP__TLSA_FLUSH_BACKLOG) {
        drain_flushing(t);
    }
    if ((act & AIOTP__TLSA_SEND_CLOSE_NOTIFY) && t->ssl != NULL) {
        do_shutdown(t);
    }
    if (act & AIOTP__TLSA_SCHEDULE_READ) {
        schedule_read(t);
    }
    if (act & AIOTP__TLSA_CALL_LOST) {
        call_lost(t);
    }
}

/* ---- the protocol of the transport below ------------------------------------------------ */

static int layer_made(aiotp_transport *lower, void *data)
{
    aiotp__tls *t = data;
    t->lower = lower;
    apply(t, step(t, AIOTP__TLSEV_START)); /* TLS-HS-1 */
    return 0;
}

static int layer_data(aiotp_transport *lower, void *data, const void *buf, size_t len)
{
    aiotp__tls *t = data;
    size_t w = 0;
    (void)lower;
    if (t->rbio == NULL || t->st.ly == AIOTP__TLS_CLOSED) {
        return 0; /* the layer let go: what still arrives is dropped */
    }
    if (BIO_write_ex(t->rbio, buf, len, &w) != 1 || w != len) {
        aiotp__tls_clear_errors();
        tls_fatal(t, AIOTP_ENOMEM, "Fatal error: no memory for received TLS records", false);
        return 0;
    }
    incoming(t);
    return 0;
}

/* EOF below without close_notify (TLS-EOF-3). Returning 0 lets the transport below close
   itself (the CLOSE_LOWER of the step); a protocol that paused with records waiting gets
   them first: the transport below stays open until they are read (returning 1). */
static int layer_eof(aiotp_transport *lower, void *data)
{
    aiotp__tls *t = data;
    (void)lower;
    if (t->st.ly == AIOTP__TLS_WRAPPED && read_size(t) > 0 &&
        t->st.rd == AIOTP__TLS_RD_PAUSED) {
        t->peer_eof_pending = true;
        return 1;
    }
    if (t->st.ly == AIOTP__TLS_HANDSHAKE) {
        t->hs_status = AIOTP_ETLSEOF; /* TLS-HS-3 (CPython: ConnectionResetError, DEV-37) */
    } else if (t->st.ly == AIOTP__TLS_WRAPPED) {
        t->lost_status = AIOTP_ETLSEOF;
    }
    t->in_lower_eof = true;
    apply(t, step(t, AIOTP__TLSEV_PEER_EOF));
    t->in_lower_eof = false;
    return 0;
}

static int layer_pause(aiotp_transport *lower, void *data)
{
    aiotp__tls *t = data;
    (void)lower;
    t->below_paused = true; /* TLS-FLOW-2: encrypted bytes wait in the BIO */
    return 0;
}

static int layer_resume(aiotp_transport *lower, void *data)
{
    aiotp__tls *t = data;
    (void)lower;
    t->below_paused = false;
    (void)process_outgoing(t);
    if (t->st.ly == AIOTP__TLS_FLUSHING) {
        drain_flushing(t);
    } else if (t->st.ly == AIOTP__TLS_SHUTDOWN) {
        do_shutdown(t);
    } else {
        maybe_resume(t);
    }
    return 0;
}

/* The transport below is gone: the end of the TLS transport (TLS-LOST-1). */
static int layer_lost(aiotp_transport *lower, void *data, int status)
{
    aiotp__tls *t = data;
    unsigned act;
    (void)lower;
    t->lower = NULL;
    if (t->hs_status == 0) {
        t->hs_status = status != 0 ? status : AIOTP_ETLSEOF;
    }
    if (t->lost_status == 0 && !t->lost_final) {
        t->lost_status = status;
    }
    act = step(t, AIOTP__TLSEV_LOWER_LOST);
    apply(t, act);
    free_ssl(t);
    t->base.proto = NULL;
    t->base.pdata = NULL;
    t->svc->notify_lost(&t->base); /* e.g. the accepting server counts it */
    t->svc->release_later(&t->base);
    return 0;
}

static const aiotp_protocol layer_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = layer_made,
    .connection_lost = layer_lost,
    .pause_writing = layer_pause,
    .resume_writing = layer_resume,
    .data_received = layer_data,
    .eof_received = layer_eof,
};

/* ---- the methods of the TLS transport ---------------------------------------------------- */

static void account_tx(aiotp__tls *t, const void *p, size_t n)
{
    if (tracing(t)) {
        t->tx_total += n;
        t->tx_sum = t->svc->crc32(t->tx_sum, p, n);
    }
}

/* account_tx of the first n buffers */
static void account_bufs(aiotp__tls *t, const aiotp_buf *bufs, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        account_tx(t, bufs[i].base, bufs[i].len);
    }
}

static void tr_write_ret(aiotp__tls *t, const char *what, int rc)
{
    t->svc->tracef(t->base.loop, "t%u ret %s %s size=%zu total=%llu sum=%08x", tid(t), what,
                  t->svc->status_name(rc), write_size(t), (unsigned long long)t->tx_total,
                  (unsigned)t->tx_sum);
}

static void tr_ret(aiotp__tls *t, const char *what, int rc)
{
    t->svc->tracef(t->base.loop, "t%u ret %s %s size=%zu", tid(t), what, t->svc->status_name(rc),
                  write_size(t));
}

/* Admission shared by write and writelines: 0 go on, 1 return 0, or an error. */
static int write_admission(aiotp__tls *t, size_t len)
{
    if (aiotp__tls_write_admission(&t->st) == 2) {
        if (len == 0) {
            return 1;
        }
        t->dropped_writes++; /* TLS-WRITE-2 (CPython: dropped, logged from the 6th) */
        return AIOTP_ECLOSED;
    }
    return len == 0 ? 1 : 0;
}

/* One piece of plaintext, after admission: encrypted now, or queued (during the
   handshake, or behind what is queued). */
static int write_piece(aiotp__tls *t, const unsigned char *p, size_t n)
{
    ssize_t done = 0;
    int rc;
    if (aiotp__tls_write_admission(&t->st) == 0 && t->svc->wbuf_size(&t->bl) == 0) {
        done = encrypt(t, p, n);
        if (done < 0) {
            return (int)done;
        }
    }
    if ((size_t)done < n) {
        rc = t->svc->wq_reserve(t->base.loop, &t->bl, n - (size_t)done);
        if (rc != 0) {
            if (done > 0) {
                /* OpenSSL took part and the rest cannot be queued: the stream would lose
                   bytes (WRITE-WRITE-6) */
                tls_fatal(t, rc, "Fatal error: no memory to queue the rest of a write", false);
            }
            return rc;
        }
        t->svc->wq_append(&t->bl, p + done, n - (size_t)done);
    }
    return 0;
}

static int do_write(aiotp__tls *t, const void *data, size_t len)
{
    int rc;
    if (data == NULL && len > 0) {
        return AIOTP_EINVAL;
    }
    rc = write_admission(t, len);
    if (rc != 0) {
        return rc == 1 ? 0 : rc;
    }
    if (len > SIZE_MAX / 2) {
        return AIOTP_ETOOBIG;
    }
    rc = write_piece(t, data, len);
    if (rc != 0) {
        return rc;
    }
    rc = process_outgoing(t);
    if (rc == AIOTP_ECLOSED) {
        return rc; /* the records were dropped below: so was the data (WRITE-WRITE-5) */
    }
    account_tx(t, data, len);
    if (rc < 0) {
        return rc; /* the transport failed: connection_lost(rc) follows (WRITE-WRITE-7) */
    }
    maybe_pause(t); /* FLOW-4 */
    return 0;
}

static int tls_write(aiotp_transport *bt, const void *data, size_t len)
{
    aiotp__tls *t = (aiotp__tls *)(void *)bt;
    int rc;
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u call write n=%zu", tid(t), len);
    }
    rc = do_write(t, data, len);
    if (tracing(t)) {
        tr_write_ret(t, "write", rc);
    }
    return rc;
}

static int do_writelines(aiotp__tls *t, const aiotp_buf *bufs, size_t nbufs)
{
    size_t total = 0;
    size_t i;
    int rc;
    rc = aiotp__bufs_total(bufs, nbufs, &total);
    if (rc != 0) {
        return rc;
    }
    rc = write_admission(t, total);
    if (rc != 0) {
        return rc == 1 ? 0 : rc;
    }
    if (aiotp__tls_write_admission(&t->st) != 0 || t->svc->wbuf_size(&t->bl) > 0) {
        /* everything is queued: room for all of it first, all or nothing */
        rc = t->svc->wq_reserve(t->base.loop, &t->bl, total);
        if (rc != 0) {
            return rc;
        }
    }
    for (i = 0; i < nbufs; i++) {
        if (bufs[i].len == 0) {
            continue;
        }
        rc = write_piece(t, bufs[i].base, bufs[i].len);
        if (rc != 0) {
            account_bufs(t, bufs, i);
            return rc; /* (only a failure of the transport: the room was reserved) */
        }
    }
    rc = process_outgoing(t);
    if (rc == AIOTP_ECLOSED) {
        return rc; /* dropped below, as in do_write */
    }
    account_bufs(t, bufs, nbufs);
    if (rc < 0) {
        return rc;
    }
    maybe_pause(t); /* WRITE-LINES-1: one flow-control check */
    return 0;
}

static int tls_writelines(aiotp_transport *bt, const aiotp_buf *bufs, size_t n)
{
    aiotp__tls *t = (aiotp__tls *)(void *)bt;
    int rc;
    if (tracing(t)) {
        size_t i;
        size_t total = 0;
        for (i = 0; bufs != NULL && i < n; i++) {
            total += bufs[i].len;
        }
        t->svc->tracef(t->base.loop, "t%u call writelines count=%zu n=%zu", tid(t), n, total);
    }
    rc = do_writelines(t, bufs, n);
    if (tracing(t)) {
        tr_write_ret(t, "writelines", rc);
    }
    return rc;
}

static int tls_close(aiotp_transport *bt)
{
    aiotp__tls *t = (aiotp__tls *)(void *)bt;
    unsigned act;
    int rc = 0;
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u call close", tid(t));
    }
    act = step(t, AIOTP__TLSEV_CLOSE);
    if (act & AIOTP__TLSA_REFUSED) {
        rc = AIOTP_ECLOSED; /* BASE-CLOSE-4 */
    } else {
        t->hs_status = AIOTP_ECLOSED; /* (a close during the handshake: TLS-CLOSE-1) */
        apply(t, act);
    }
    if (tracing(t)) {
        tr_ret(t, "close", rc);
    }
    return rc;
}

static int tls_abort(aiotp_transport *bt)
{
    aiotp__tls *t = (aiotp__tls *)(void *)bt;
    unsigned act;
    int rc = 0;
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u call abort", tid(t));
    }
    act = step(t, AIOTP__TLSEV_ABORT);
    if (act & AIOTP__TLSA_REFUSED) {
        rc = AIOTP_ECLOSED; /* WRITE-ABORT-3 */
    } else {
        t->hs_status = AIOTP_ECLOSED;
        t->lost_status = 0;
        t->lost_final = true; /* (even if the transport below had already failed) */
        apply(t, act);
    }
    if (tracing(t)) {
        tr_ret(t, "abort", rc);
    }
    return rc;
}

static bool tls_is_closing(const aiotp_transport *bt)
{
    const aiotp__tls *t = (const aiotp__tls *)(const void *)bt;
    return aiotp__tls_is_closing(&t->st);
}

static bool tls_is_reading(const aiotp_transport *bt)
{
    const aiotp__tls *t = (const aiotp__tls *)(const void *)bt;
    return aiotp__tls_is_reading(&t->st);
}

static int tls_pause_reading(aiotp_transport *bt)
{
    aiotp__tls *t = (aiotp__tls *)(void *)bt;
    int rc = 0;
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u call pause_reading", tid(t));
    }
    if (aiotp__tls_is_closing(&t->st)) {
        rc = AIOTP_ECLOSED; /* DONE-1: closing or closed, nothing changes */
    } else {
        apply(t, step(t, AIOTP__TLSEV_PAUSE_READING)); /* TLS-READ-1 (none: a flag) */
    }
    if (tracing(t)) {
        tr_ret(t, "pause_reading", rc);
    }
    return rc;
}

static int tls_resume_reading(aiotp_transport *bt)
{
    aiotp__tls *t = (aiotp__tls *)(void *)bt;
    int rc = 0;
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u call resume_reading", tid(t));
    }
    if (aiotp__tls_is_closing(&t->st)) {
        rc = AIOTP_ECLOSED; /* DONE-1: closing or closed, nothing changes */
    } else {
        apply(t, step(t, AIOTP__TLSEV_RESUME_READING)); /* the read follows next pass */
    }
    if (tracing(t)) {
        tr_ret(t, "resume_reading", rc);
    }
    return rc;
}

static size_t tls_get_write_buffer_size(const aiotp_transport *bt)
{
    const aiotp__tls *t = (const aiotp__tls *)(const void *)bt;
    return write_size(t);
}

static int tls_get_write_buffer_limits(const aiotp_transport *bt, size_t *low, size_t *high)
{
    const aiotp__tls *t = (const aiotp__tls *)(const void *)bt;
    *low = t->wflow.low;
    *high = t->wflow.high;
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

/* Python's defaults when neither limit is given: 512 KiB / 128 KiB (FLOW-2 over TLS). */
static bool set_limits(const aiotp__tls *t, aiotp__flow *f, int64_t high, int64_t low,
                       int64_t dflt)
{
    if (high == AIOTP_LIMIT_NONE && low == AIOTP_LIMIT_NONE) {
        high = dflt;
    }
    return t->svc->flow_set_limits(f, high, low);
}

static int tls_set_write_buffer_limits(aiotp_transport *bt, int64_t high, int64_t low)
{
    aiotp__tls *t = (aiotp__tls *)(void *)bt;
    int rc = 0;
    if (tracing(t)) {
        char hb[24];
        char lb[24];
        tr_limit(hb, sizeof(hb), high);
        tr_limit(lb, sizeof(lb), low);
        t->svc->tracef(t->base.loop, "t%u call set_write_buffer_limits high=%s low=%s", tid(t),
                      hb, lb);
    }
    if (!set_limits(t, &t->wflow, high, low, TLS_WRITE_HIGH)) {
        rc = AIOTP_EINVAL; /* FLOW-3 */
    } else {
        setter_pause(t); /* FLOW-7 */
    }
    if (tracing(t)) {
        t->svc->tracef(t->base.loop,
                      "t%u ret set_write_buffer_limits %s size=%zu low=%zu high=%zu", tid(t),
                      t->svc->status_name(rc), write_size(t), t->wflow.low, t->wflow.high);
    }
    return rc;
}

static int tls_set_protocol(aiotp_transport *bt, const aiotp_protocol *proto, void *data)
{
    aiotp__tls *t = (aiotp__tls *)(void *)bt;
    int rc = t->svc->check_protocol(&tls_ops, proto, NULL);
    if (rc == 0 && t->base.proto == NULL) {
        rc = AIOTP_ECLOSED; /* BASE-PROTO-2 */
    }
    if (tracing(t)) {
        t->svc->tracef(t->base.loop, "t%u call set_protocol kind=%s", tid(t),
                      proto != NULL && proto->kind == AIOTP_PROTOCOL_BUFFERED ? "buffered"
                      : proto != NULL && proto->kind == AIOTP_PROTOCOL_DATAGRAM ? "datagram"
                                                                              : "streaming");
    }
    if (rc == 0) {
        t->base.proto = proto; /* BASE-PROTO-1: from the next delivery */
        t->base.pdata = data;
        t->base.proto_switches++;
    }
    if (tracing(t)) {
        tr_ret(t, "set_protocol", rc);
    }
    return rc;
}

static const aiotp_extra *tls_get_extra_info(const aiotp_transport *bt, const char *name,
                                             const aiotp_extra *dflt)
{
    const aiotp__tls *t = (const aiotp__tls *)(const void *)bt;
    bool up = t->ssl != NULL && t->x_ssl.kind == AIOTP_EXTRA_PTR; /* handshake done, alive */
    if (strcmp(name, "sslcontext") == 0) {
        return &t->x_ctx; /* TLS-EXTRA-1: always */
    }
    if (strcmp(name, "ssl_object") == 0) {
        return up ? &t->x_ssl : dflt;
    }
    if (strcmp(name, "peercert") == 0) {
        return up ? &t->x_cert : dflt;
    }
    if (strcmp(name, "cipher") == 0) {
        return up ? &t->x_cipher : dflt;
    }
    if (strcmp(name, "compression") == 0) {
        return up ? &t->x_comp : dflt;
    }
    if (strcmp(name, "alpn_protocol") == 0) {
        return up ? &t->x_alpn : dflt;
    }
    /* TLS-EXTRA-2: the transport below's (socket, peername, sockname), while it lives */
    return t->lower != NULL ? aiotp_transport_get_extra_info(t->lower, name, dflt) : dflt;
}

/* ---- making and freeing ------------------------------------------------------------------ */

static void tls_destroy(aiotp__tls *t, aiotp_loop *loop)
{
    t->svc->op_done(loop, &t->op); /* aiotp_loop_free during the handshake */
    free_ssl(t);
    if (t->promised > 0) {
        t->svc->rq_unreserve(loop, t->promised);
    }
    if (t->ctx != NULL) {
        aiotp__tls_ctx_release(t->ctx);
    }
    t->svc->free(loop, t->bl.data);
    t->svc->free(loop, t->rbuf);
    t->svc->free(loop, t);
}

static void tls_free(aiotp_transport *bt)
{
    aiotp__tls *t = (aiotp__tls *)(void *)bt;
    t->svc->obj_unlink(&t->base.obj);
    tls_destroy(t, t->base.loop);
}

/* After the pass of connection_lost: the loop's reference goes (transport_int.h's
   aiotp__transport_deferred, through the services). */
static void tls_deferred(aiotp__obj *o)
{
    aiotp__tls *t = (aiotp__tls *)(void *)o;
    t->svc->drop(&t->base);
}

/* aiotp_loop_free: no callback, touch no other object (the transport below is torn down
   on its own; the loop drops the timers). */
static void tls_teardown(aiotp__obj *o)
{
    aiotp__tls *t = (aiotp__tls *)(void *)o;
    tls_destroy(t, t->base.loop);
}

static const aiotp__obj_ops tls_obj_ops = {
    .name = "tls",
    .teardown = tls_teardown,
    .deferred = tls_deferred,
};

aiotp__tls *aiotp__tls_of(const aiotp_transport *t)
{
    return t != NULL && t->ops == &tls_ops ? (aiotp__tls *)(uintptr_t)t : NULL;
}

/* The SSL object and its memory BIOs; SNI and the hostname check for a client. */
static int make_ssl(aiotp__tls *t, const aiotp__layer_params *p)
{
    const aiotp_tls_context *ctx = t->ctx;
    t->ssl = SSL_new(ctx->ssl_ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        t->ssl = NULL;
        t->rbio = NULL;
        t->wbio = NULL;
        aiotp__tls_clear_errors();
        return AIOTP_ENOMEM;
    }
    BIO_set_mem_eof_return(t->rbio, -1); /* empty: "want more", never an EOF */
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    if (p->server_side) {
        SSL_set_accept_state(t->ssl);
        return 0;
    }
    SSL_set_connect_state(t->ssl);
    if (p->server_hostname != NULL && p->server_hostname[0] != '\0') {
        unsigned char a[sizeof(struct in6_addr)];
        const char *name = p->server_hostname;
        bool ip = inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
        int ok = 1;
        if (!ip) {
            ok = SSL_set_tlsext_host_name(t->ssl, name) == 1; /* SNI (never an address) */
        }
        if (ok && ctx->check_hostname && ctx->verify != AIOTP_TLS_VERIFY_NONE) {
            /* TLS-CTX-1: the certificate must name the host (or address) */
            if (ip) {
                ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name) == 1;
            } else {
                SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                ok = SSL_set1_host(t->ssl, name) == 1;
            }
        }
        if (!ok) {
            aiotp__tls_clear_errors();
            SSL_free(t->ssl);
            t->ssl = NULL;
            t->rbio = NULL;
            t->wbio = NULL;
            return AIOTP_EINVAL; /* a name OpenSSL refuses (e.g. too long) */
        }
    }
    return 0;
}

/* A new TLS object, not linked yet: its SSL, the reserved ready-queue entry. */
static int tls_new(const aiotp__layer_services *svc, aiotp_loop *loop,
                   const aiotp_tls_context *ctx, const aiotp__layer_params *p, bool upgrade,
                   aiotp__tls **out)
{
    aiotp__tls *t = svc->alloc(loop, sizeof(*t));
    int rc;
    if (t == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(t, 0, sizeof(*t));
    t->svc = svc;
    t->ctx = (aiotp_tls_context *)(uintptr_t)ctx;
    aiotp__tls_ctx_retain(ctx);
    rc = make_ssl(t, p);
    if (rc == 0) {
        rc = t->svc->rq_reserve(loop, 1);
        if (rc == 0) {
            t->promised = 1;
        }
    }
    if (rc != 0) {
        t->base.loop = loop;
        tls_destroy(t, loop);
        return rc;
    }
    aiotp__tls_init(&t->st, upgrade);
    t->svc->flow_init(&t->wflow);
    (void)set_limits(t, &t->wflow, AIOTP_LIMIT_NONE, AIOTP_LIMIT_NONE, TLS_WRITE_HIGH);
    t->svc->flow_init(&t->rflow);
    (void)set_limits(t, &t->rflow, AIOTP_LIMIT_NONE, AIOTP_LIMIT_NONE, TLS_READ_HIGH);
    t->svc->wbuf_init(&t->bl);
    t->hs_timeout = p->handshake_timeout;
    t->sd_timeout = p->shutdown_timeout;
    t->server_side = p->server_side;
    t->x_ctx.kind = AIOTP_EXTRA_PTR;
    t->x_ctx.u.ptr = ctx;
    *out = t;
    return 0;
}

/* The same IPv4/IPv6 address and port. */
static bool same_inet(const aiotp__tls *t, const aiotp_extra *x, const aiotp_extra *y)
{
    char a[64];
    char b[64];
    if (x == NULL || y == NULL || x->kind != AIOTP_EXTRA_ADDR || y->kind != AIOTP_EXTRA_ADDR ||
        (x->u.addr.addr->sa_family != AF_INET && x->u.addr.addr->sa_family != AF_INET6)) {
        return false;
    }
    t->svc->fmt_addr(x->u.addr.addr, x->u.addr.len, a, sizeof(a));
    t->svc->fmt_addr(y->u.addr.addr, y->u.addr.len, b, sizeof(b));
    return strcmp(a, b) == 0;
}

/* Is o a TLS transport over the other end of the TCP connection below t? (Trace format:
   "tN peer tM" for TLS transports, as for their streams.) */
static bool is_tls_peer(aiotp__obj *o, void *arg)
{
    const aiotp__tls *t = arg;
    const aiotp__tls *x = (const aiotp__tls *)(const void *)o;
    if (o->ops != &tls_obj_ops || x == t || x->lower == NULL || t->lower == NULL) {
        return false;
    }
    return same_inet(t, aiotp_transport_get_extra_info(x->lower, "sockname", NULL),
                     aiotp_transport_get_extra_info(t->lower, "peername", NULL)) &&
           same_inet(t, aiotp_transport_get_extra_info(x->lower, "peername", NULL),
                     aiotp_transport_get_extra_info(t->lower, "sockname", NULL));
}

/* Link the TLS transport (after the one below, so its id is higher) and trace it. */
static void tls_link(aiotp__tls *t, aiotp_loop *loop, aiotp_transport *lower,
                     const aiotp_protocol *proto, void *pdata, bool upgrade)
{
    t->svc->transport_init(&t->base, loop, &tls_ops, &tls_obj_ops, proto, pdata);
    t->lower = lower;
    t->lower_id = lower->id;
    if (aiotp__tracing(loop)) {
        const aiotp__tls *p;
        t->svc->tracef(loop, "t%u open tls", tid(t));
        t->svc->tracef(loop, "t%u limits low=%zu high=%zu", tid(t), t->wflow.low, t->wflow.high);
        t->svc->tracef(loop, "t%u %s t%u", tid(t), upgrade ? "upgrade" : "over",
                       (unsigned)lower->id);
        p = (const aiotp__tls *)(const void *)t->svc->obj_find(loop, is_tls_peer, t);
        if (p != NULL) {
            t->svc->tracef(loop, "t%u peer t%u", tid(t), tid(p));
        }
    }
}

int aiotp__tls_wrap(const aiotp_tls_context *ctx, const aiotp__layer_services *svc,
                    aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *pdata,
                    const struct sockaddr *peer, socklen_t peer_len,
                    const aiotp__layer_params *p, aiotp_connect_cb done_cb, void *done_arg,
                    aiotp_transport **out, const char **why)
{
    aiotp__tls *t = NULL;
    aiotp_transport *lower = NULL;
    int rc = svc->check_protocol(&tls_ops, proto, why);
    if (rc == 0) {
        rc = tls_new(svc, loop, ctx, p, false, &t);
    }
    if (rc != 0) {
        return rc;
    }
    rc = svc->stream_create(loop, fd, &layer_proto, t, peer, peer_len, &lower);
    if (rc != 0) {
        tls_destroy(t, loop);
        return rc;
    }
    t->done_cb = done_cb;
    t->done_arg = done_arg;
    tls_link(t, loop, lower, proto, pdata, false); /* TLS-MAKE-1 */
    t->op_number = p->op; /* registered again when the handshake starts (OP-2) */
    if (out != NULL) {
        *out = &t->base;
    }
    return 0;
}

/* ---- start_tls ------------------------------------------------------------------------- */

void aiotp_tls_start_options_init(aiotp_tls_start_options *opts)
{
    if (opts != NULL) {
        memset(opts, 0, sizeof(*opts));
        opts->size = sizeof(*opts);
    }
}

int aiotp_loop_start_tls(aiotp_loop *loop, aiotp_transport *lower, const aiotp_protocol *proto,
                         void *data, const aiotp_tls_context *ctx,
                         const aiotp_tls_start_options *opts, aiotp_connect_cb cb,
                         void *cb_arg, aiotp_transport **out)
{
    aiotp_tls_start_options o;
    aiotp__layer_params lp;
    const aiotp__layer_services *svc;
    aiotp__tls *t;
    int rc;

    if (loop == NULL || lower == NULL || ctx == NULL || cb == NULL || lower->loop != loop) {
        return AIOTP_EINVAL;
    }
    aiotp_tls_start_options_init(&o);
    if (opts != NULL) {
        if (opts->size != sizeof(*opts)) {
            return AIOTP_EINVAL;
        }
        o = *opts;
    }
    /* TLS-START-3: a stream transport only (the kinds that lend the layer libaiotp) */
    svc = lower->ops->layer_services;
    if (svc == NULL) {
        return AIOTP_EINVAL;
    }
    rc = svc->stream_open(lower);
    if (rc != 0) {
        return rc;
    }
    rc = svc->check_protocol(&tls_ops, proto, NULL);
    if (rc == 0) {
        rc = svc->params_init(&lp, ctx, o.server_side, o.server_side ? NULL : o.server_hostname,
                              o.tls_handshake_timeout, o.tls_shutdown_timeout);
    }
    if (rc == 0 && o.server_side && o.server_hostname != NULL) {
        rc = AIOTP_EINVAL;
    }
    if (rc == 0) {
        rc = tls_new(svc, loop, ctx, &lp, true, &t);
    }
    if (rc != 0) {
        return rc == AIOTP_EPROTOKIND ? AIOTP_EINVAL : rc;
    }
    /* the handshake timer first: nothing has changed if it cannot be had */
    t->base.loop = loop;
    rc = aiotp_loop_call_later(loop, t->hs_timeout, hs_timer_cb, t, &t->timer);
    if (rc != 0) {
        tls_destroy(t, loop);
        return rc;
    }
    /* the layer becomes the stream transport's protocol (it was connected: no
       connection_made for it), the TLS transport carries the application's */
    (void)aiotp_transport_set_protocol(lower, &layer_proto, t);
    t->done_cb = cb;
    t->done_arg = cb_arg;
    tls_link(t, loop, lower, proto, data, true);
    if (out != NULL) {
        *out = &t->base;
    }
    apply(t, step(t, AIOTP__TLSEV_START)); /* TLS-START-1: the first flight goes now */
    return 0;
}

/* ---- read-side limits --------------------------------------------------------------------- */

int aiotp_tls_set_read_buffer_limits(aiotp_transport *bt, int64_t high, int64_t low)
{
    aiotp__tls *t = aiotp__tls_of(bt);
    if (bt == NULL) {
        return AIOTP_EINVAL;
    }
    if (t == NULL) {
        return AIOTP_ENOTSUP;
    }
    if (!set_limits(t, &t->rflow, high, low, TLS_READ_HIGH)) {
        return AIOTP_EINVAL;
    }
    control_reading(t);
    return 0;
}

int aiotp_tls_get_read_buffer_limits(const aiotp_transport *bt, size_t *low, size_t *high)
{
    const aiotp__tls *t = aiotp__tls_of(bt);
    if (bt == NULL || low == NULL || high == NULL) {
        return AIOTP_EINVAL;
    }
    if (t == NULL) {
        return AIOTP_ENOTSUP;
    }
    *low = t->rflow.low;
    *high = t->rflow.high;
    return 0;
}

size_t aiotp_tls_get_read_buffer_size(const aiotp_transport *bt)
{
    const aiotp__tls *t = aiotp__tls_of(bt);
    return t != NULL ? read_size(t) : 0;
}

/* ---- the method table --------------------------------------------------------------------- */

static const aiotp__transport_ops tls_ops = {
    .kind = AIOTP_TRANSPORT_TLS,
    .name = "tls",
    .protocol_kinds = (1u << AIOTP_PROTOCOL_STREAMING) | (1u << AIOTP_PROTOCOL_BUFFERED),
    .close = tls_close,
    .is_closing = tls_is_closing,
    .set_protocol = tls_set_protocol,
    .get_extra_info = tls_get_extra_info,
    .is_reading = tls_is_reading,
    .pause_reading = tls_pause_reading,
    .resume_reading = tls_resume_reading,
    .abort = tls_abort,
    .can_write_eof = NULL,   /* TLS-EOF-1: false */
    .get_write_buffer_size = tls_get_write_buffer_size,
    .get_write_buffer_limits = tls_get_write_buffer_limits,
    .set_write_buffer_limits = tls_set_write_buffer_limits,
    .write = tls_write,
    .writelines = tls_writelines,
    .write_eof = NULL,       /* TLS-EOF-1: AIOTP_ENOTSUP, nothing changes */
    .sendto = NULL,
    .free = tls_free,
};
