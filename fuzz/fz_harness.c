/* fuzz/fz_harness.c - see fz_harness.h. Deterministic: no real fds, no real time, no
   global state that survives an input. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "aiotp/aiotp.h"
#include "aiotp/sim.h"
#include "fz_common.h"
#include "fz_harness.h"
#include "stream_int.h"

#define REQUIRE FZ_REQUIRE
#define violation fz_violation

/* ---- byte streams: byte i of each direction is a function of i ---------------------- */

static unsigned char tx_byte(uint64_t i) /* transport -> peer */
{
    return (unsigned char)(((uint32_t)i * 0x9E3779B1u) >> 24 ^ (uint32_t)(i >> 8));
}

static unsigned char rx_byte(uint64_t i) /* peer -> transport */
{
    return (unsigned char)(((uint32_t)i * 0x85EBCA6Bu) >> 23 ^ 0x5a);
}

/* Eight bytes of the pattern (tx_byte if tx, else rx_byte) from stream offset base, in
   memory order (what memcpy of the result to a buffer stores): a scalar, so that no
   local array (and no stack poisoning under ASan) is involved. */
static uint64_t pattern8(uint64_t base, bool tx)
{
    static const union {
        uint16_t u;
        unsigned char c[2];
    } order = {1};
    uint64_t w = 0;
    unsigned k;
    for (k = 0; k < 8; k++) {
        unsigned shift = order.c[0] == 1 ? 8u * k : 56u - 8u * k; /* little / big endian */
        w |= (uint64_t)(tx ? tx_byte(base + k) : rx_byte(base + k)) << shift;
    }
    return w;
}

/* The length of the prefix of p[0..n) that continues the pattern (tx_byte if tx, else
   rx_byte; a flag, not a function pointer, so that the calls inline) from stream
   offset base (n if all of it does). Eight bytes per load where they all match
   (throughput under ASan: one shadow check instead of eight); the byte that differs is
   found one at a time. */
static size_t pattern_prefix(const unsigned char *p, size_t n, uint64_t base, bool tx)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != pattern8(base + i, tx)) {
            break;
        }
    }
    for (; i < n; i++) {
        if (p[i] != (tx ? tx_byte(base + i) : rx_byte(base + i))) {
            break;
        }
    }
    return i;
}

/* ---- the state of one input ------------------------------------------------------------- */

/* hook bits (op HOOKS) */
enum {
    H_CLOSE_IN_RESUME = 1u << 0,
    H_ABORT_IN_PAUSE = 1u << 1,
    H_WRITE_IN_DATA = 1u << 2,
    H_LIMITS_IN_PAUSE = 1u << 3,
    H_WRITE_IN_RESUME = 1u << 4,
    H_EOF_KEEP_OPEN = 1u << 5,
    H_FAIL_DATA = 1u << 6,
    H_PAUSE_READ_IN_DATA = 1u << 7
};

typedef struct fz {
    aiotp_sim *sim;
    aiotp_loop *loop;
    aiotp_transport *t;
    int a;              /* transport's fd */
    int b;              /* peer's fd, -1 once the peer closed it */
    bool wrapped;

    /* model of what the protocol was told */
    int made;
    int lost;
    int lost_status;
    int eofs;
    bool paused;        /* pause_writing delivered, resume_writing not yet */
    int pauses;
    int resumes;
    bool user_closed;   /* close()/abort() called, or eof_received returned 0 */
    bool any_abort;     /* abort() called (user or hook) */
    bool empty_buffer;  /* get_buffer handed out an empty buffer */
    int depth;          /* nesting of protocol callbacks */

    /* streams */
    uint64_t tx_accepted; /* bytes accepted by write/writelines */
    uint64_t tx_maybe;    /* bytes the peer may read beyond them (written()) */
    uint64_t tx_inflight; /* bytes of the write calls in progress (nested writes) */
    uint64_t peer_rx;     /* bytes the peer has read */
    uint64_t peer_tx;     /* bytes the peer has sent */
    uint64_t proto_rx;    /* bytes delivered to the protocol */
    bool peer_shut_wr;
    bool reset;

    /* OP_CALL_IN: one public call armed for the next time a callback runs */
    bool ci_armed;
    unsigned ci_cb;
    unsigned ci_act;
    uint16_t ci_arg;
    bool alloc_armed;   /* OP_ALLOC_FAIL was used: the loop may report ENOMEM */

    /* knobs */
    unsigned hooks;
    uint16_t hook_arg;
    size_t getbuf_size;
    unsigned char buf[512];
} fz;

static fz F;

/* ---- trace -> oracle: fz_oracle_trace (fz_common.c) -------------------------------- */

static void on_exception(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)loop;
    (void)ctx;
    (void)arg; /* expected for failing callbacks; the oracle sees the consequences */
}

/* ---- writing helpers ----------------------------------------------------------------------- */

static unsigned char scratch[8192];

/* The bytes of the next write: they continue the stream after what is accepted and
   after the write in progress, if this one is nested in it (a write inside the
   pause_writing that an outer write called: its bytes follow the outer ones). */
static void fill(size_t n)
{
    static const union {
        uint16_t u;
        unsigned char c[2];
    } order = {1};
    const bool little = order.c[0] == 1;
    uint64_t base = F.tx_accepted + F.tx_inflight;
    uint32_t m = (uint32_t)base * 0x9E3779B1u; /* tx_byte's product, one addition per byte */
    size_t i = 0;
    /* eight bytes per store (throughput under ASan: one shadow check instead of eight),
       built without a multiplication per byte (fill was 9 % of a buffered input) */
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        unsigned k;
        for (k = 0; k < 8; k++) {
            uint64_t j = base + i + k;
            uint64_t byte = (unsigned char)(m >> 24 ^ (uint32_t)(j >> 8));
            w |= byte << (little ? 8u * k : 56u - 8u * k);
            m += 0x9E3779B1u;
        }
        memcpy(scratch + i, &w, 8);
    }
    for (; i < n; i++) {
        scratch[i] = tx_byte(base + i);
    }
}

/* A write of n bytes returned rc. 0: accepted. An error that failed the transport in this
   very call (it was open, it is closing now) may come after the kernel took a prefix
   (WRITE-WRITE-6: the rest could not be queued): the peer may then read up to n more
   bytes, which continue the stream's pattern. */
static void written(aiotp_transport *t, int rc, size_t n, bool was_closing)
{
    if (rc == 0) {
        F.tx_accepted += n;
    } else if (!was_closing && aiotp_transport_is_closing(t)) {
        F.tx_maybe = n;
    }
}

static int do_write(aiotp_transport *t, size_t n)
{
    bool was_closing;
    int rc;
    if (n > sizeof(scratch)) {
        n = sizeof(scratch);
    }
    fill(n);
    was_closing = aiotp_transport_is_closing(t);
    F.tx_inflight += n;
    rc = aiotp_transport_write(t, scratch, n);
    F.tx_inflight -= n;
    written(t, rc, n, was_closing);
    return rc;
}

static int do_writelines(aiotp_transport *t, unsigned count, uint16_t b)
{
    aiotp_buf bufs[4];
    size_t total = 0;
    size_t i;
    bool was_closing;
    int rc;
    if (count > 4) {
        count = 4;
    }
    for (i = 0; i < count; i++) {
        size_t len = (size_t)((b >> (4 * i)) & 0xf) * 97u; /* 0 .. 1455 */
        bufs[i].len = len;
        total += len;
    }
    fill(total);
    total = 0;
    for (i = 0; i < count; i++) {
        bufs[i].base = scratch + total;
        total += bufs[i].len;
    }
    was_closing = aiotp_transport_is_closing(t);
    F.tx_inflight += total;
    rc = aiotp_transport_writelines(t, count > 0 ? bufs : NULL, count);
    F.tx_inflight -= total;
    written(t, rc, total, was_closing);
    return rc;
}

static int64_t limit_of(unsigned sel, uint16_t v)
{
    switch (sel & 3u) {
    case 0:
        return AIOTP_LIMIT_NONE;
    case 1:
        return (int64_t)(v & 0x7ff);
    case 2:
        return (int64_t)(v & 0x3f);
    default:
        return -(int64_t)(v & 3); /* 0 or negative: FLOW-3 refusals */
    }
}

/* ---- the checking protocol ------------------------------------------------------------------ */

static void check_alive(const char *cb)
{
    REQUIRE(F.made == 1, "PROTO-BASE-1", "%s before connection_made", cb);
    REQUIRE(F.lost == 0, "PROTO-BASE-2", "%s after connection_lost", cb);
}

static int p_made(aiotp_transport *t, void *d)
{
    (void)d;
    REQUIRE(F.made == 0 && F.lost == 0, "PROTO-BASE-1", "connection_made twice or late");
    F.made++;
    F.t = t;
    return 0;
}

static void call_in_lost(aiotp_transport *t);

static int p_lost(aiotp_transport *t, void *d, int status)
{
    (void)t;
    (void)d;
    REQUIRE(F.made == 1, "PROTO-BASE-2", "connection_lost without connection_made");
    REQUIRE(F.lost == 0, "PROTO-BASE-2", "connection_lost twice");
    REQUIRE(F.depth == 0, "PROTO-BASE-2", "connection_lost inside another callback");
    F.lost = 1;
    F.lost_status = status;
    call_in_lost(t);
    return 0;
}

/* ---- OP_CALL_IN: a public call inside a callback (the re-entrancy matrix's alphabet) ---- */

enum { CI_DATA, CI_GET_BUFFER, CI_EOF, CI_PAUSE, CI_RESUME, CI_LOST, CI_COUNT };
enum {
    CA_WRITE, CA_WRITELINES, CA_WRITE_EOF, CA_CLOSE, CA_ABORT, CA_PAUSE_READING,
    CA_RESUME_READING, CA_SET_LIMITS, CA_SET_STREAMING, CA_SET_BUFFERED, CA_USER_FD,
    CA_LOOP_STOP, CA_CALL_SOON, CA_WRAP_OWN_FD, CA_QUERIES, CA_COUNT
};

static const aiotp_protocol proto_streaming;
static const aiotp_protocol proto_buffered;

static int wrap_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &proto_streaming;
    *data = &F;
    return 0;
}

static int do_write(aiotp_transport *t, size_t n);
static int do_writelines(aiotp_transport *t, unsigned count, uint16_t b);

static void call_action(aiotp_transport *t, unsigned act, uint16_t arg)
{
    size_t low;
    size_t high;
    switch (act % CA_COUNT) {
    case CA_WRITE:
        (void)do_write(t, (size_t)(arg % 2048u));
        break;
    case CA_WRITELINES:
        (void)do_writelines(t, arg % 5u, arg);
        break;
    case CA_WRITE_EOF:
        (void)aiotp_transport_write_eof(t);
        break;
    case CA_CLOSE:
        if (aiotp_transport_close(t) == 0) {
            F.user_closed = true;
        }
        break;
    case CA_ABORT:
        if (aiotp_transport_abort(t) == 0) {
            F.user_closed = true;
            F.any_abort = true;
        }
        break;
    case CA_PAUSE_READING:
        (void)aiotp_transport_pause_reading(t);
        break;
    case CA_RESUME_READING:
        (void)aiotp_transport_resume_reading(t);
        break;
    case CA_SET_LIMITS:
        (void)aiotp_transport_set_write_buffer_limits(t, limit_of((uint8_t)arg, arg),
                                                      limit_of((uint8_t)(arg >> 8), arg >> 4));
        break;
    case CA_SET_STREAMING:
        (void)aiotp_transport_set_protocol(t, &proto_streaming, &F);
        break;
    case CA_SET_BUFFERED:
        (void)aiotp_transport_set_protocol(t, &proto_buffered, &F);
        break;
    case CA_USER_FD:
        fz_user_fd_call(F.loop, F.a, arg); /* LOOP-8, METH-8 */
        break;
    case CA_LOOP_STOP:
        aiotp_loop_stop(F.loop);
        break;
    case CA_CALL_SOON:
        (void)aiotp_loop_call_soon(F.loop, fz_noop_cb, NULL, NULL);
        break;
    case CA_WRAP_OWN_FD: {
        int rc = aiotp_loop_connect_accepted_socket(F.loop, wrap_factory, NULL, F.a, fz_wrap_done,
                                                    NULL);
        REQUIRE(rc == AIOTP_EBUSY, "METH-8", "wrapping the transport's own fd: %d", rc);
        break;
    }
    default: /* CA_QUERIES */
        (void)aiotp_transport_is_closing(t);
        (void)aiotp_transport_is_reading(t);
        (void)aiotp_transport_get_extra_info(t, "peername", NULL);
        (void)aiotp_transport_get_write_buffer_limits(t, &low, &high);
        REQUIRE(aiotp_transport_sendto(t, "x", 1, NULL, 0) == AIOTP_ENOTSUP,
                "TRANSPORT-KIND-2", "sendto on a stream transport");
        break;
    }
}

/* Run the armed call if `cb` is its callback (once per arming). */
static void call_in(unsigned cb, aiotp_transport *t)
{
    if (F.ci_armed && F.ci_cb == cb) {
        F.ci_armed = false;
        F.depth++;
        call_action(t, F.ci_act, F.ci_arg);
        F.depth--;
    }
}

static void call_in_lost(aiotp_transport *t)
{
    call_in(CI_LOST, t);
}


static int p_pause(aiotp_transport *t, void *d)
{
    size_t size = aiotp_transport_get_write_buffer_size(F.t);
    size_t low;
    size_t high;
    (void)d;
    check_alive("pause_writing");
    (void)aiotp_transport_get_write_buffer_limits(t, &low, &high);
    REQUIRE(!F.paused, "FLOW-6", "pause_writing while paused");
    REQUIRE(size > high, "FLOW-4", "pause_writing with size %zu <= high %zu", size, high);
    F.paused = true;
    F.pauses++;
    call_in(CI_PAUSE, t);
    F.depth++;
    if (F.hooks & H_ABORT_IN_PAUSE) {
        if (aiotp_transport_abort(t) == 0) {
            F.any_abort = true;
            F.user_closed = true;
        }
    }
    if (F.hooks & H_LIMITS_IN_PAUSE) {
        (void)aiotp_transport_set_write_buffer_limits(t, limit_of(F.hook_arg, F.hook_arg >> 2),
                                                      limit_of(F.hook_arg >> 13,
                                                               F.hook_arg >> 3));
    }
    F.depth--;
    return 0;
}

static int p_resume(aiotp_transport *t, void *d)
{
    size_t size = aiotp_transport_get_write_buffer_size(F.t);
    size_t low;
    size_t high;
    (void)d;
    check_alive("resume_writing");
    (void)aiotp_transport_get_write_buffer_limits(t, &low, &high);
    REQUIRE(F.paused, "FLOW-6", "resume_writing while not paused");
    REQUIRE(size <= low, "FLOW-5", "resume_writing with size %zu > low %zu", size, low);
    REQUIRE(!F.any_abort, "WRITE-ABORT-2", "resume_writing after abort");
    F.paused = false;
    F.resumes++;
    call_in(CI_RESUME, t);
    F.depth++;
    if (F.hooks & H_WRITE_IN_RESUME) {
        (void)do_write(t, (size_t)(F.hook_arg & 0x3ff));
    }
    if (F.hooks & H_CLOSE_IN_RESUME) {
        if (aiotp_transport_close(t) == 0) {
            F.user_closed = true;
        }
    }
    F.depth--;
    return 0;
}

static int after_data(aiotp_transport *t)
{
    call_in(CI_DATA, t);
    if (F.hooks & H_WRITE_IN_DATA) {
        (void)do_write(t, (size_t)(F.hook_arg & 0x7f));
    }
    if (F.hooks & H_PAUSE_READ_IN_DATA) {
        (void)aiotp_transport_pause_reading(t);
    }
    if (F.hooks & H_FAIL_DATA) {
        return AIOTP_ECALLBACK;
    }
    return 0;
}

static void check_rx(const unsigned char *p, size_t n, const char *cb)
{
    size_t i;
    check_alive(cb);
    REQUIRE(n > 0, "PROTO-STREAM-1", "%s with 0 bytes", cb);
    REQUIRE(F.eofs == 0, "PROTO-STREAM-3", "%s after eof_received", cb);
    REQUIRE(!F.user_closed, "BASE-CLOSE-1", "%s after close/abort", cb);
    REQUIRE(F.proto_rx + n <= F.peer_tx, "PROTO-STREAM-1", "%s: more bytes than sent", cb);
    i = pattern_prefix(p, n, F.proto_rx, false);
    REQUIRE(i == n, "PROTO-STREAM-1", "%s: byte %llu differs", cb,
            (unsigned long long)(F.proto_rx + i));
    F.proto_rx += n;
}

static int p_data(aiotp_transport *t, void *d, const void *buf, size_t len)
{
    int rc;
    (void)d;
    check_rx(buf, len, "data_received");
    F.depth++;
    rc = after_data(t);
    F.depth--;
    return rc;
}

static int p_eof(aiotp_transport *t, void *d)
{
    (void)d;
    (void)t;
    check_alive("eof_received");
    REQUIRE(F.eofs == 0, "PROTO-STREAM-5", "eof_received twice");
    REQUIRE(!F.user_closed, "BASE-CLOSE-1", "eof_received after close/abort");
    REQUIRE(F.peer_shut_wr, "PROTO-STREAM-5", "eof_received without a peer EOF");
    REQUIRE(F.proto_rx == F.peer_tx, "PROTO-STREAM-1",
            "eof_received before all data (%llu of %llu)", (unsigned long long)F.proto_rx,
            (unsigned long long)F.peer_tx);
    F.eofs++;
    call_in(CI_EOF, t);
    if (F.hooks & H_EOF_KEEP_OPEN) {
        return 1;
    }
    F.user_closed = true; /* the transport closes itself */
    return 0;
}

static int p_get_buffer(aiotp_transport *t, void *d, ptrdiff_t hint, void **buf, size_t *len)
{
    (void)d;
    check_alive("get_buffer");
    REQUIRE(hint == -1, "PROTO-BUF-1", "get_buffer sizehint %td", hint);
    REQUIRE(!F.user_closed, "BASE-CLOSE-1", "get_buffer after close/abort");
    call_in(CI_GET_BUFFER, t);
    *buf = F.buf;
    *len = F.getbuf_size;
    if (F.getbuf_size == 0) {
        F.empty_buffer = true;
    }
    return 0;
}

static int p_updated(aiotp_transport *t, void *d, size_t n)
{
    int rc;
    (void)d;
    REQUIRE(n <= F.getbuf_size, "PROTO-BUF-1", "buffer_updated(%zu) over the buffer %zu", n,
            F.getbuf_size);
    check_rx(F.buf, n, "buffer_updated");
    F.depth++;
    rc = after_data(t);
    F.depth--;
    return rc;
}

static const aiotp_protocol proto_streaming = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = p_made,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .data_received = p_data,
    .eof_received = p_eof,
};

static const aiotp_protocol proto_buffered = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_BUFFERED,
    .connection_made = p_made,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .eof_received = p_eof,
    .get_buffer = p_get_buffer,
    .buffer_updated = p_updated,
};

static const aiotp_protocol *g_first;

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = g_first;
    *data = &F;
    return 0;
}

static void on_done(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    REQUIRE(status == 0 && t != NULL, "STREAM-ORDER-1", "wrap failed: %d", status);
    REQUIRE(F.made == 1, "STREAM-ORDER-1", "completion before connection_made");
    F.wrapped = true;
    aiotp_transport_retain(t);
}

/* ---- checks after every record ------------------------------------------------------------ */

static void check_state(void)
{
    aiotp__stream *t = aiotp__stream_of(F.t);
    size_t size;

    if (t == NULL) {
        return;
    }
    REQUIRE(aiotp__stream_is_valid(&t->st), "STREAM-INV", "stream state invalid: %d %d %d %d",
            (int)t->st.life, (int)t->st.rd, (int)t->st.wr, (int)t->st.ph);
    REQUIRE(aiotp__flow_is_valid(&t->flow), "FLOW-3", "flow state invalid");
    REQUIRE(aiotp__wbuf_is_valid(&t->wb), "WBUF", "write buffer invalid");
    size = aiotp__wbuf_size(&t->wb);
    REQUIRE(size == aiotp_transport_get_write_buffer_size(F.t), "WRITE-SIZE-1", "size mismatch");
    REQUIRE(F.depth == 0, "HARNESS", "callback depth %d between steps", F.depth);
    REQUIRE((F.lost == 1) == (t->st.ph == AIOTP__PH_LOST), "PROTO-BASE-2",
            "connection_lost delivered %d, ph %d", F.lost, (int)t->st.ph);
    REQUIRE(F.tx_accepted + F.tx_maybe >= F.peer_rx, "WRITE-WRITE-1",
            "peer read more than accepted");
    if (F.lost == 0) {
        fz_check_flow(&t->flow, F.paused, size, "FLOW-6", "FLOW-4");
        REQUIRE(t->fd == F.a, "PROTO-BASE-2", "socket closed before connection_lost");
        fz_check_watch(F.sim, F.a, t->reader_on, t->writer_on, "WRITE-WRITE-3");
        REQUIRE(!t->reader_on || aiotp__stream_is_reading(&t->st), "READ-2",
                "reader registered while not reading");
        REQUIRE(aiotp__stream_is_reading(&t->st) == aiotp_transport_is_reading(F.t), "READ-2",
                "is_reading mismatch");
        if (aiotp__stream_is_reading(&t->st) && t->st.ph == AIOTP__PH_CONNECTED) {
            REQUIRE(t->reader_on, "READ-2", "reading but no reader registered");
        }
        if (size > 0 && (t->st.life == AIOTP__LIFE_OPEN || t->st.life == AIOTP__LIFE_CLOSING)) {
            REQUIRE(t->writer_on, "WRITE-WRITE-3", "%zu bytes queued and no writer", size);
        }
        if (F.user_closed || F.empty_buffer) {
            bool closing = aiotp_transport_is_closing(F.t); /* one query for both checks */
            REQUIRE(!F.user_closed || closing, "BASE-CLOSING-1", "closed but is_closing() false");
            REQUIRE(!F.empty_buffer || closing, "PROTO-BUF-2",
                    "empty get_buffer did not close the transport");
        }
    } else {
        REQUIRE(t->fd == -1, "PROTO-BASE-2", "socket still open after connection_lost");
        REQUIRE(size == 0 || t->st.life == AIOTP__LIFE_CLOSED, "WRITE-SIZE-1",
                "size after connection_lost");
    }
}

/* The peer reads up to n bytes and checks them against the accepted stream. */
static void peer_read(size_t n)
{
    static unsigned char buf[8192]; /* static: no 8 KiB stack frame to poison per call */
    ssize_t k;
    if (F.b < 0) {
        return;
    }
    if (n > sizeof(buf)) {
        n = sizeof(buf);
    }
    k = aiotp_sim_read(F.sim, F.b, buf, n);
    if (k > 0) {
        size_t i = pattern_prefix(buf, (size_t)k, F.peer_rx, true);
        REQUIRE(i == (size_t)k, "WRITE-WRITE-1",
                "peer byte %llu differs from what write() accepted",
                (unsigned long long)(F.peer_rx + (uint64_t)i));
    }
    if (k > 0) {
        F.peer_rx += (uint64_t)k;
        REQUIRE(F.peer_rx <= F.tx_accepted + F.tx_maybe, "WRITE-WRITE-1",
                "peer got unaccepted bytes");
    }
}

static void peer_send(size_t n)
{
    static unsigned char buf[2048]; /* static: no stack frame to poison per call */
    size_t i = 0;
    ssize_t k;
    if (F.b < 0 || F.peer_shut_wr || F.reset) {
        return;
    }
    if (n > sizeof(buf)) {
        n = sizeof(buf);
    }
    for (; i + 8 <= n; i += 8) { /* eight bytes per store, as fill() */
        uint64_t w = pattern8(F.peer_tx + i, false);
        memcpy(buf + i, &w, 8);
    }
    for (; i < n; i++) {
        buf[i] = rx_byte(F.peer_tx + i);
    }
    k = aiotp_sim_write(F.sim, F.b, buf, n);
    if (k > 0) {
        F.peer_tx += (uint64_t)k;
    }
}

static void run_pass(void)
{
    fz_run_pass(F.loop, F.alloc_armed);
}

/* ---- ops --------------------------------------------------------------------------------- */

enum {
    OP_WRITE, OP_WRITELINES, OP_WRITE_EOF, OP_CLOSE, OP_ABORT, OP_PAUSE_READING,
    OP_RESUME_READING, OP_SET_LIMITS, OP_SET_PROTOCOL, OP_PEER_SEND, OP_PEER_READ,
    OP_SEND_PARTIAL, OP_EAGAIN, OP_EINTR, OP_PEER_EOF, OP_RESET, OP_ADVANCE, OP_RUN,
    OP_CAPACITY, OP_HOOKS, OP_PEER_CLOSE, OP_GETBUF_SIZE, OP_RUN2, OP_RUN3,
    /* issue 9: the re-entrancy matrix's and the fault sweep's alphabet */
    OP_CALL_IN, OP_USER_FD, OP_SEND_FAIL, OP_RECV_FAIL, OP_SHUTDOWN_FAIL, OP_ALLOC_FAIL,
    OP_COUNT
};

static const int fault_errnos[] = {EINTR, EAGAIN, ENOMEM, ENOBUFS, EMFILE,
                                   ECONNRESET, EPIPE, EBADF, EINVAL};
#define N_FAULT_ERRNOS (sizeof(fault_errnos) / sizeof(fault_errnos[0]))

static void step(uint8_t op, uint8_t a, uint16_t b)
{
    aiotp_transport *t = F.t;
    switch (op % OP_COUNT) {
    case OP_WRITE:
        (void)do_write(t, (size_t)(b % 4096u));
        break;
    case OP_WRITELINES:
        (void)do_writelines(t, a % 5u, b);
        break;
    case OP_WRITE_EOF:
        (void)aiotp_transport_write_eof(t);
        break;
    case OP_CLOSE:
        if (aiotp_transport_close(t) == 0) {
            F.user_closed = true;
        }
        break;
    case OP_ABORT:
        if (aiotp_transport_abort(t) == 0) {
            F.user_closed = true;
            F.any_abort = true;
        }
        break;
    case OP_PAUSE_READING:
        (void)aiotp_transport_pause_reading(t);
        break;
    case OP_RESUME_READING:
        (void)aiotp_transport_resume_reading(t);
        break;
    case OP_SET_LIMITS:
        (void)aiotp_transport_set_write_buffer_limits(t, limit_of(a, b), limit_of(a >> 2, b >> 5));
        break;
    case OP_SET_PROTOCOL:
        (void)aiotp_transport_set_protocol(t, (a & 1u) ? &proto_buffered : &proto_streaming,
                                           &F);
        break;
    case OP_PEER_SEND:
        peer_send((size_t)(b % 2048u));
        break;
    case OP_PEER_READ:
        peer_read((size_t)(b % 8192u));
        break;
    case OP_SEND_PARTIAL:
        (void)aiotp_sim_send_limit(F.sim, F.a, (size_t)(b % 512u) + 1u);
        break;
    case OP_EAGAIN:
        (void)aiotp_sim_send_eagain(F.sim, F.a, a % 4u);
        break;
    case OP_EINTR:
        (void)aiotp_sim_eintr_once(F.sim, F.a);
        break;
    case OP_PEER_EOF:
        if (F.b >= 0 && !F.reset && aiotp_sim_shutdown(F.sim, F.b, SHUT_WR) == 0) {
            F.peer_shut_wr = true;
        }
        break;
    case OP_RESET:
        if (F.b >= 0 && !F.reset && (a & 1u)) {
            (void)aiotp_sim_reset(F.sim, F.a);
            F.reset = true;
        }
        break;
    case OP_ADVANCE:
        aiotp_sim_advance(F.sim, (int64_t)b * 1000000);
        break;
    case OP_CAPACITY:
        (void)aiotp_sim_set_capacity(F.sim, F.a, (size_t)(b % 8192u));
        break;
    case OP_HOOKS:
        F.hooks = a;
        F.hook_arg = b;
        break;
    case OP_PEER_CLOSE:
        if (F.b >= 0 && (a & 3u) == 3u) {
            (void)aiotp_sim_close(F.sim, F.b);
            F.b = -1;
            F.peer_shut_wr = true; /* the transport reads EOF */
        }
        break;
    case OP_GETBUF_SIZE:
        F.getbuf_size = (size_t)(b % (sizeof(F.buf) + 1u));
        break;
    case OP_CALL_IN:
        F.ci_armed = true;
        F.ci_cb = a % CI_COUNT;
        F.ci_act = (unsigned)(a / CI_COUNT) + (unsigned)(b >> 12);
        F.ci_arg = b;
        break;
    case OP_USER_FD:
        if (F.lost == 0) {
            fz_user_fd_call(F.loop, F.a, a);
        }
        break;
    case OP_SEND_FAIL:
        (void)aiotp_sim_send_fail(F.sim, F.a, -fault_errnos[a % N_FAULT_ERRNOS], 1);
        break;
    case OP_RECV_FAIL:
        (void)aiotp_sim_recv_fail(F.sim, F.a, -fault_errnos[a % N_FAULT_ERRNOS], 1);
        break;
    case OP_SHUTDOWN_FAIL:
        (void)aiotp_sim_shutdown_fail(F.sim, F.a, -fault_errnos[a % N_FAULT_ERRNOS], 1);
        break;
    case OP_ALLOC_FAIL:
        fz_fail_next = (long)(a % 4u);
        F.alloc_armed = F.alloc_armed || fz_fail_next > 0;
        break;
    default: /* OP_RUN, OP_RUN2, OP_RUN3 */
        run_pass();
        break;
    }
}

/* ---- one input ------------------------------------------------------------------------- */

int fz_run(const uint8_t *data, size_t size, const fz_config *cfg)
{
    aiotp_connect_options co;
    size_t nrec = size / FZ_REC;
    size_t i;
    int rc;

    memset(&F, 0, sizeof(F));
    fz_alloc_reset();
    fz_step = 0;
    F.b = -1;
    F.getbuf_size = 64;
    g_first = cfg != NULL && cfg->buffered ? &proto_buffered : &proto_streaming;
    if (nrec > FZ_MAX_OPS) {
        nrec = FZ_MAX_OPS;
    }

    fz_oracle_begin(2); /* one transport per input */
    fz_loop_new(&F.sim, &F.loop, on_exception);
    REQUIRE(aiotp_sim_socketpair(F.sim, &F.a, &F.b) == 0, "HARNESS", "socketpair");
    /* a small socket buffer by default so that writes queue up */
    (void)aiotp_sim_set_capacity(F.sim, F.a, 1024);
    aiotp_connect_options_init(&co);
    co.sock = F.a;
    rc = aiotp_loop_create_connection(F.loop, factory, NULL, NULL, 0, &co, on_done, NULL);
    REQUIRE(rc == 0, "HARNESS", "create_connection: %d", rc);
    run_pass();
    run_pass();
    REQUIRE(F.wrapped && F.t != NULL, "STREAM-ORDER-1", "not connected after two passes");
    check_state();

    for (i = 0; i < nrec; i++) {
        const uint8_t *r = data + i * FZ_REC;
        fz_step = i + 1;
        step(r[0], r[1], (uint16_t)(r[2] | (r[3] << 8)));
        check_state();
    }

    /* the end: let everything flow, close, and expect connection_lost */
    fz_step = nrec + 1;
    fz_fail_next = 0;
    F.ci_armed = false;
    F.hooks &= ~(unsigned)(H_WRITE_IN_DATA | H_WRITE_IN_RESUME);
    (void)aiotp_sim_set_capacity(F.sim, F.a, (size_t)1 << 20);
    (void)aiotp_sim_send_limit(F.sim, F.a, 0);
    (void)aiotp_sim_send_eagain(F.sim, F.a, 0);
    if (F.lost == 0 && aiotp_transport_close(F.t) == 0) {
        F.user_closed = true;
    }
    check_state();
    for (i = 0; i < 64 && F.lost == 0; i++) {
        peer_read(8192);
        run_pass();
        check_state();
    }
    REQUIRE(F.lost == 1, "BASE-CLOSE-2", "close() never completed (size %zu)",
            aiotp_transport_get_write_buffer_size(F.t));
    while (F.b >= 0 && aiotp_sim_readable(F.sim, F.b) > 0) {
        peer_read(8192);
    }
    if (F.lost_status == 0 && !F.any_abort && !F.reset && F.b >= 0) {
        REQUIRE(F.peer_rx == F.tx_accepted, "WRITE-WRITE-1",
                "clean close but the peer got %llu of %llu bytes",
                (unsigned long long)F.peer_rx, (unsigned long long)F.tx_accepted);
    }
    run_pass(); /* the graveyard pass */
    aiotp_transport_release(F.t);
    F.t = NULL;
    aiotp_loop_free(F.loop);
    F.loop = NULL;
    if (F.b >= 0) {
        (void)aiotp_sim_close(F.sim, F.b);
    }
    fz_end(F.sim);
    F.sim = NULL;
    return 0;
}
