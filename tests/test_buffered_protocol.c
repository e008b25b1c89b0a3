/* tests/test_buffered_protocol.c - BufferedProtocol: get_buffer/buffer_updated, empty and
   failing buffers, switching protocols mid-connection (spec/rules.md, "Protocols":
   PROTO-BUF-1..4; BASE-PROTO-1..2). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ----------------------------------------------------------------------- */

/* PROTO-BUF-3: connection_made [get_buffer [buffer_updated]?]* [eof_received]?
   connection_lost for transport id; eof_received comes right after a get_buffer (the
   read event of the EOF, PROTO-BUF-1). Streaming callbacks are accepted only when
   `streaming_ok` (a protocol switch). */
static void check_sm_buffered(unsigned id, bool streaming_ok, int line)
{
    const char *p = th_callbacks(id);
    int state = 0; /* 0 nothing, 1 connected, 2 after get_buffer, 3 eof, 4 eof ret, 5 lost */
    int lineno = 0;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        char l[256];
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        bool ok;
        if (len >= sizeof(l)) {
            len = sizeof(l) - 1;
        }
        memcpy(l, p, len);
        l[len] = '\0';
        lineno++;
        if (state == 5) {
            ok = false;
        } else if (th_starts(l, "cb connection_made")) {
            ok = state == 0;
            state = 1;
        } else if (th_starts(l, "cb get_buffer")) {
            ok = state == 1 || state == 2;
            state = 2;
        } else if (th_starts(l, "cb buffer_updated ")) {
            ok = state == 2 && strstr(l, " n=0 ") == NULL;
            state = 1;
        } else if (th_starts(l, "cb data_received ")) {
            ok = streaming_ok && (state == 1 || state == 2);
            state = 1;
        } else if (th_starts(l, "cb eof_received")) {
            ok = state == 2 || (streaming_ok && state == 1);
            state = 3;
        } else if (th_starts(l, "ret eof_received")) {
            ok = state == 3;
            state = 4;
        } else if (th_starts(l, "cb pause_writing") || th_starts(l, "cb resume_writing")) {
            ok = state >= 1;
        } else if (th_starts(l, "cb connection_lost")) {
            ok = state >= 1 && state != 3;
            state = 5;
        } else {
            ok = false;
        }
        if (!ok) {
            th_fail(__FILE__, line, "t%u: callback %d \"%s\" breaks the state machine:\n%s",
                    id, lineno, l, th_callbacks(id));
            return;
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    if (state != 5) {
        th_fail(__FILE__, line, "t%u: connection_lost missing:\n%s", id, th_callbacks(id));
    }
}
#define CHECK_SM_BUF(id) check_sm_buffered((id), false, __LINE__)

/* A buffered protocol that records the sizehints and can hand out odd buffers; the
   rest is the harness's recorder. */
enum gb_mode { GB_NORMAL, GB_NULL_WITH_LEN, GB_BUF_ZERO_LEN, GB_CLOSE, GB_PAUSE };

typedef struct hinted {
    th_rec *r;        /* first: the recorder's callbacks get it as their data */
    int nhints;
    ptrdiff_t hints[64];
    enum gb_mode mode;
    unsigned char dummy[8];
} hinted;

static int h_made(aiotp_transport *t, void *d)
{
    return th_buffered.connection_made(t, ((hinted *)d)->r);
}

static int h_lost(aiotp_transport *t, void *d, int status)
{
    return th_buffered.connection_lost(t, ((hinted *)d)->r, status);
}

static int h_eof(aiotp_transport *t, void *d)
{
    return th_buffered.eof_received(t, ((hinted *)d)->r);
}

static int h_updated(aiotp_transport *t, void *d, size_t n)
{
    return th_buffered.buffer_updated(t, ((hinted *)d)->r, n);
}

static int h_get_buffer(aiotp_transport *t, void *d, ptrdiff_t hint, void **buf, size_t *len)
{
    hinted *h = d;
    if (h->nhints < 64) {
        h->hints[h->nhints] = hint;
    }
    h->nhints++;
    switch (h->mode) {
    case GB_NULL_WITH_LEN:
        h->r->get_buffers++;
        *buf = NULL;
        *len = 16;
        return 0;
    case GB_BUF_ZERO_LEN:
        h->r->get_buffers++;
        *buf = h->dummy;
        *len = 0;
        return 0;
    case GB_CLOSE:
        (void)aiotp_transport_close(t);
        break;
    case GB_PAUSE:
        (void)aiotp_transport_pause_reading(t);
        h->mode = GB_NORMAL;
        break;
    case GB_NORMAL:
        break;
    }
    return th_buffered.get_buffer(t, h->r, hint, buf, len);
}

static const aiotp_protocol hinted_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_BUFFERED,
    .connection_made = h_made,
    .connection_lost = h_lost,
    .eof_received = h_eof,
    .get_buffer = h_get_buffer,
    .buffer_updated = h_updated,
};

static hinted *hinted_new(void)
{
    static hinted pool[4];
    static size_t used;
    hinted *h = &pool[used++ % 4];
    memset(h, 0, sizeof(*h));
    h->r = th_rec_new();
    return h;
}

/* ---- PROTO-BUF-1 ------------------------------------------------------------------- */

/* E07a: a 5-byte buffer, 11 bytes + EOF queued: buffer_updated 5, 5, 1 in three passes,
   then get_buffer and eof_received (no buffer_updated), then connection_lost. */
TEST(five_byte_buffer_exact_trace)
{
    aiotp_loop *loop = th_loop();
    hinted *h = hinted_new();
    int sv[2];
    th_expect e;
    uint64_t it;
    int i;

    th_socketpair(sv);
    h->r->buf_size = 5;
    CHECK_INT(th_peer_write(sv[1], "hello world", 11), 11);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    (void)th_wrap(loop, sv[0], &hinted_proto, h);
    th_run_until(loop, th_is_lost, h->r, 10);
    th_run_passes(loop, 2);
    th_ex_init(&e);
    th_ex_linef(&e, "cb connection_made");
    th_ex_linef(&e, "cb get_buffer sizehint=-1");
    th_ex_data(&e, "buffer_updated", "hello", 5);
    th_ex_linef(&e, "cb get_buffer sizehint=-1");
    th_ex_data(&e, "buffer_updated", " worl", 5);
    th_ex_linef(&e, "cb get_buffer sizehint=-1");
    th_ex_data(&e, "buffer_updated", "d", 1);
    th_ex_linef(&e, "cb get_buffer sizehint=-1");
    th_ex_linef(&e, "cb eof_received");
    th_ex_linef(&e, "ret eof_received 0");
    th_ex_linef(&e, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(1), e.s);
    /* one read event per pass: 5, 5, 1, EOF, then connection_lost */
    it = th_iter_of("t1 cb connection_made", 0);
    CHECK(it > 0);
    CHECK_INT(th_iter_of("t1 cb buffer_updated", 0), it + 1);
    CHECK_INT(th_iter_of("t1 cb buffer_updated", 1), it + 2);
    CHECK_INT(th_iter_of("t1 cb buffer_updated", 2), it + 3);
    CHECK_INT(th_iter_of("t1 cb get_buffer", 3), it + 4);
    CHECK_INT(th_iter_of("t1 cb eof_received", 0), it + 4);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), it + 5);
    /* the hint really passed to get_buffer is -1 every time */
    CHECK_INT(h->nhints, 4);
    for (i = 0; i < h->nhints && i < 64; i++) {
        CHECK_INT(h->hints[i], -1);
    }
    CHECK_SIZE(h->r->rx_len, 11);
    CHECK(memcmp(h->r->rx, "hello world", 11) == 0);
    CHECK_INT(h->r->chunks, 3);
    CHECK_INT(h->r->eofs, 1);
    CHECK_INT(h->r->lost_status, 0);
    CHECK_SM_BUF(1);
    th_peer_close(sv[1]);
}

/* A large buffer: buffer_updated(n) never exceeds it and all bytes arrive in order. */
TEST(buffer_updated_within_buffer)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    static unsigned char src[200000];
    int sv[2];
    size_t i;
    size_t sent = 0;
    int guard = 0;

    for (i = 0; i < sizeof(src); i++) {
        src[i] = (unsigned char)(i * 13u + (i >> 10));
    }
    th_socketpair(sv);
    r->buf_size = 1000;
    (void)th_wrap(loop, sv[0], &th_buffered, r);
    while (sent < sizeof(src) && guard++ < 10000) {
        ssize_t k = th_peer_send(sv[1], src + sent, sizeof(src) - sent,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k > 0) {
            sent += (size_t)k;
        }
        th_run_once(loop);
    }
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_until(loop, th_is_lost, r, 1000);
    CHECK_SIZE(r->rx_len, sizeof(src));
    CHECK(r->rx_len == sizeof(src) && memcmp(r->rx, src, sizeof(src)) == 0);
    CHECK_INT(r->chunks, (int)(sizeof(src) / 1000)); /* every event fills the buffer */
    CHECK_INT(r->get_buffers, r->chunks + 1);        /* + the one at EOF */
    CHECK(strstr(th_trace(), "cb buffer_updated n=1000 ") != NULL);
    {
        /* no buffer_updated larger than the buffer */
        const char *q = th_trace();
        while ((q = strstr(q, "cb buffer_updated n=")) != NULL) {
            long n = strtol(q + 20, NULL, 10);
            CHECK(n > 0 && n <= 1000);
            q++;
        }
    }
    CHECK_SM_BUF(1);
    th_peer_close(sv[1]);
}

/* ---- PROTO-BUF-2 ------------------------------------------------------------------- */

static void fatal_case(void (*setup)(hinted *h), int want_status, const char *want_msg,
                       const char *want_cbs, bool send_data)
{
    aiotp_loop *loop = th_exc_loop();
    hinted *h = hinted_new();
    int sv[2];
    aiotp_transport *t;
    uint64_t it;

    th_socketpair(sv);
    setup(h);
    t = th_wrap(loop, sv[0], &hinted_proto, h);
    if (send_data) {
        CHECK_INT(th_peer_write(sv[1], "hello", 5), 5);
    }
    th_run_once(loop);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, want_msg);
    CHECK_ERR(th_exc.status, want_status);
    CHECK(th_exc.t == t);
    CHECK(th_exc.proto == &hinted_proto);
    CHECK(th_exc.pdata == h);
    CHECK_INT(aiotp_transport_is_closing(t), 1);
    CHECK_INT(h->r->lost, 0);
    (void)th_peer_send(sv[1], "more", 4, MSG_NOSIGNAL);
    th_run_until(loop, th_is_lost, h->r, 5);
    th_run_passes(loop, 2);
    it = th_iter_of("t1 cb get_buffer", 0);
    CHECK_INT(th_exc.iter, it);
    CHECK_INT(th_iter_of("t1 cb connection_lost", 0), it + 1);
    CHECK_INT(h->r->lost, 1);
    CHECK_ERR(h->r->lost_status, want_status);
    CHECK_INT(h->nhints, 1); /* no read event after the failure */
    CHECK_STR(th_callbacks(1), want_cbs);
    CHECK_SM_BUF(1);
    CHECK_INT(th_exc.n, 1);
    th_peer_close(sv[1]);
}

static void setup_zero_size(hinted *h)
{
    h->r->buf_size = 0; /* the recorder hands out NULL, 0 */
}

static void setup_null_with_len(hinted *h)
{
    h->mode = GB_NULL_WITH_LEN;
}

static void setup_buf_zero_len(hinted *h)
{
    h->mode = GB_BUF_ZERO_LEN;
}

static void setup_get_buffer_fails(hinted *h)
{
    h->r->get_buffer_ret = -4;
}

static void setup_updated_fails(hinted *h)
{
    h->r->data_ret = -7;
}

static const char empty_cbs[] = "cb connection_made\ncb get_buffer sizehint=-1\n"
                                "cb connection_lost status=EEMPTYBUF\n";

/* E07b: a zero-size buffer is a fatal AIOTP_EEMPTYBUF; nothing is read. */
TEST(zero_size_buffer_fatal)
{
    fatal_case(setup_zero_size, AIOTP_EEMPTYBUF,
               "Fatal error: protocol.get_buffer() call failed.", empty_cbs, true);
    CHECK_INT(th_f.recv_calls, 0);
}

TEST(null_buffer_fatal)
{
    fatal_case(setup_null_with_len, AIOTP_EEMPTYBUF,
               "Fatal error: protocol.get_buffer() call failed.", empty_cbs, true);
    CHECK_INT(th_f.recv_calls, 0);
}

TEST(zero_len_buffer_fatal)
{
    fatal_case(setup_buf_zero_len, AIOTP_EEMPTYBUF,
               "Fatal error: protocol.get_buffer() call failed.", empty_cbs, true);
    CHECK_INT(th_f.recv_calls, 0);
}

/* E07c: get_buffer failing is fatal with its status. */
TEST(get_buffer_fails_fatal)
{
    char cbs[256];
    snprintf(cbs, sizeof(cbs),
             "cb connection_made\ncb get_buffer sizehint=-1\ncb connection_lost status=%s\n",
             aiotp_err_name(-4));
    fatal_case(setup_get_buffer_fails, -4, "Fatal error: protocol.get_buffer() call failed.",
               cbs, true);
    CHECK_INT(th_f.recv_calls, 0);
}

/* E07d: buffer_updated failing is fatal with its status (the data was delivered). */
TEST(buffer_updated_fails_fatal)
{
    th_expect e;
    th_ex_init(&e);
    th_ex_linef(&e, "cb connection_made");
    th_ex_linef(&e, "cb get_buffer sizehint=-1");
    th_ex_data(&e, "buffer_updated", "hello", 5);
    th_ex_linef(&e, "cb connection_lost status=%s", aiotp_err_name(-7));
    fatal_case(setup_updated_fails, -7, "Fatal error: protocol.buffer_updated() call failed.",
               e.s, true);
    CHECK_INT(th_f.recv_calls, 1);
}

/* ---- BASE-PROTO-1/2: switching protocols (E07e) ------------------------------------ */

TEST(switch_streaming_buffered_streaming)
{
    aiotp_loop *loop = th_exc_loop();
    th_rec *r1 = th_rec_new();
    th_rec *r2 = th_rec_new();
    th_rec *r3 = th_rec_new();
    int sv[2];
    aiotp_transport *t;
    void *d = NULL;
    th_expect e;
    static const aiotp_protocol bad = {.size = 0, .kind = AIOTP_PROTOCOL_STREAMING};

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r1);
    CHECK(aiotp_transport_get_protocol(t, &d) == &th_streaming);
    CHECK(d == r1);
    CHECK_INT(th_peer_write(sv[1], "first", 5), 5);
    th_run_once(loop);
    CHECK_INT(r1->chunks, 1);

    /* streaming -> buffered: no connection_made, reads from the next event */
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_buffered, r2), 0);
    CHECK(aiotp_transport_get_protocol(t, &d) == &th_buffered);
    CHECK(d == r2);
    CHECK_INT(th_peer_write(sv[1], "second", 6), 6);
    th_run_once(loop);
    CHECK_INT(r2->made, 0);
    CHECK_INT(r2->get_buffers, 1);
    CHECK_INT(r2->chunks, 1);
    CHECK_SIZE(r2->rx_len, 6);
    CHECK(memcmp(r2->rx, "second", 6) == 0);
    CHECK_INT(r1->chunks, 1);

    /* a bad table is refused, changes nothing, and the exception handler hears of it
       by name (PROTO-KIND-1, outside debug mode) */
    CHECK_ERR(aiotp_transport_set_protocol(t, &bad, r3), AIOTP_EINVAL);
    CHECK_INT(th_exc.n, 1);
    CHECK_STR(th_exc.msg, "set_protocol(): unusable protocol table: the protocol table's "
                          "size field is not sizeof(aiotp_protocol)");
    CHECK_ERR(th_exc.status, AIOTP_EINVAL);
    CHECK(th_exc.t == t);
    CHECK_ERR(aiotp_transport_set_protocol(t, NULL, r3), AIOTP_EINVAL);
    CHECK_INT(th_exc.n, 2);
    CHECK_STR(th_exc.msg, "set_protocol(): unusable protocol table: the protocol table is "
                          "NULL");
    CHECK(aiotp_transport_get_protocol(t, &d) == &th_buffered);
    CHECK(d == r2);

    /* buffered -> streaming */
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_streaming, r3), 0);
    CHECK(aiotp_transport_get_protocol(t, &d) == &th_streaming);
    CHECK(d == r3);
    CHECK_INT(th_peer_write(sv[1], "third", 5), 5);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_until(loop, th_is_lost, r3, 5);
    CHECK_INT(r3->made, 0);
    CHECK_INT(r3->chunks, 1);
    CHECK(r3->rx_len == 5 && memcmp(r3->rx, "third", 5) == 0);
    CHECK_INT(r3->eofs, 1);
    CHECK_INT(r3->lost, 1);
    CHECK_INT(r3->lost_status, 0);
    CHECK_INT(r1->lost + r2->lost, 0);
    CHECK_INT(r2->get_buffers, 1);
    CHECK_INT(r1->made, 1);

    /* after connection_lost: NULL, ECLOSED; a bad table still EINVAL */
    d = r1;
    CHECK(aiotp_transport_get_protocol(t, &d) == NULL);
    CHECK(d == NULL);
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_buffered, r2), AIOTP_ECLOSED);
    CHECK_ERR(aiotp_transport_set_protocol(t, &bad, r2), AIOTP_EINVAL);
    CHECK(aiotp_transport_get_protocol(t, NULL) == NULL);

    th_ex_init(&e);
    th_ex_linef(&e, "cb connection_made");
    th_ex_data(&e, "data_received", "first", 5);
    th_ex_linef(&e, "cb get_buffer sizehint=-1");
    th_ex_data(&e, "buffer_updated", "second", 6);
    th_ex_data(&e, "data_received", "third", 5);
    th_ex_linef(&e, "cb eof_received");
    th_ex_linef(&e, "ret eof_received 0");
    th_ex_linef(&e, "cb connection_lost status=0");
    CHECK_STR(th_callbacks(1), e.s);
    check_sm_buffered(1, true, __LINE__);
    CHECK_INT(th_exc.n, 3); /* the three refused tables, nothing else */
    th_peer_close(sv[1]);
}

/* Switching buffered -> streaming at EOF time: the streaming protocol gets the EOF
   without any get_buffer. */
TEST(switch_buffered_to_streaming_then_eof)
{
    aiotp_loop *loop = th_loop();
    th_rec *r1 = th_rec_new();
    th_rec *r2 = th_rec_new();
    int sv[2];
    aiotp_transport *t;

    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_buffered, r1);
    CHECK_ERR(aiotp_transport_set_protocol(t, &th_streaming, r2), 0);
    CHECK_INT(th_peer_shutdown(sv[1], SHUT_WR), 0);
    th_run_until(loop, th_is_lost, r2, 5);
    CHECK_INT(r1->get_buffers, 0);
    CHECK_INT(r1->eofs + r1->lost, 0);
    CHECK_INT(r2->eofs, 1);
    CHECK_STR(th_callbacks(1), "cb connection_made\ncb eof_received\nret eof_received 0\n"
                               "cb connection_lost status=0\n");
    th_peer_close(sv[1]);
}

/* ---- PROTO-BUF-3: the state machine on several paths ------------------------------- */

static int abort_in_updated(th_rec *r, aiotp_transport *t)
{
    (void)r;
    CHECK_ERR(aiotp_transport_abort(t), 0);
    return 0;
}

TEST(buffered_state_machine_paths)
{
    aiotp_loop *loop = th_exc_loop();
    hinted *h[4];
    int sv[4][2];
    aiotp_transport *t[4];
    int i;

    for (i = 0; i < 4; i++) {
        h[i] = hinted_new();
        th_socketpair(sv[i]);
        CHECK_INT(th_peer_write(sv[i][1], "abcdef", 6), 6);
        CHECK_INT(th_peer_shutdown(sv[i][1], SHUT_WR), 0);
    }
    /* t1: plain, eof_received returns 1, then close -> CM GB BU GB ER CL */
    h[0]->r->eof_ret = 1;
    /* t2: close() inside get_buffer: no read, no buffer_updated -> CM GB CL */
    h[1]->mode = GB_CLOSE;
    /* t3: abort() inside buffer_updated -> CM GB BU CL */
    h[2]->r->on_data = abort_in_updated;
    /* t4: pause_reading() inside the first get_buffer: nothing read until resumed */
    h[3]->mode = GB_PAUSE;
    for (i = 0; i < 4; i++) {
        t[i] = th_wrap(loop, sv[i][0], &hinted_proto, h[i]);
    }
    th_run_passes(loop, 4);
    CHECK_INT(h[0]->r->eofs, 1);
    CHECK_INT(h[0]->r->lost, 0);
    CHECK_INT(aiotp_transport_is_closing(t[0]), 0);
    CHECK_ERR(aiotp_transport_close(t[0]), 0);
    CHECK_INT(h[3]->r->get_buffers, 1);
    CHECK_INT(h[3]->r->chunks, 0);
    CHECK_INT(aiotp_transport_is_reading(t[3]), 0);
    CHECK_ERR(aiotp_transport_resume_reading(t[3]), 0);
    th_run_passes(loop, 4);
    for (i = 0; i < 4; i++) {
        CHECK_INT(h[i]->r->made, 1);
        CHECK_INT(h[i]->r->lost, 1);
        CHECK_INT(h[i]->r->lost_status, 0);
        check_sm_buffered((unsigned)i + 1, false, __LINE__);
        th_peer_close(sv[i][1]);
    }
    CHECK_STR(th_callbacks(2), "cb connection_made\ncb get_buffer sizehint=-1\n"
                               "cb connection_lost status=0\n");
    CHECK_INT(h[1]->r->chunks, 0);
    CHECK_INT(h[2]->r->chunks, 1);
    CHECK_INT(h[2]->r->eofs, 0);
    CHECK_INT(h[2]->r->get_buffers, 1);
    CHECK_INT(h[3]->r->chunks, 1);
    CHECK_INT(h[3]->r->eofs, 1);
    CHECK_INT(h[3]->r->get_buffers, 3); /* paused one, the data, the EOF */
    CHECK_SIZE(h[3]->r->rx_len, 6);
    CHECK_INT(th_exc.n, 0);
}

/* ---- PROTO-BUF-4 --------------------------------------------------------------------- */

static const aiotp_protocol no_get_buffer = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_BUFFERED,
    .buffer_updated = h_updated,
};

static int bad_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (*(int *)arg)++;
    *proto = &no_get_buffer;
    *data = NULL;
    return 0;
}

typedef struct done_rec {
    int calls;
    int status;
    aiotp_transport *t;
} done_rec;

static void done_cb(void *arg, int status, aiotp_transport *t)
{
    done_rec *d = arg;
    d->calls++;
    d->status = status;
    d->t = t;
}

static bool done_called(void *arg)
{
    return ((done_rec *)arg)->calls > 0;
}

/* A BufferedProtocol without get_buffer is refused everywhere. */
TEST(buffered_without_get_buffer_refused)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    aiotp_protocol unknown_kind = th_streaming;
    aiotp_connect_options o;
    done_rec d = {0, 0, NULL};
    int calls = 0;
    int sv[2];
    int sv2[2];
    aiotp_transport *t;

    unknown_kind.kind = (aiotp_protocol_kind)99;
    CHECK_ERR(aiotp_protocol_validate(&no_get_buffer), AIOTP_EINVAL);
    CHECK_ERR(aiotp_protocol_validate(&unknown_kind), AIOTP_EINVAL);
    CHECK_ERR(aiotp_protocol_validate(&th_buffered), 0);
    CHECK_ERR(aiotp_protocol_validate(&th_streaming), 0);
    CHECK_ERR(aiotp_protocol_validate(NULL), AIOTP_EINVAL);

    /* set_protocol refuses it and keeps the old protocol */
    th_socketpair(sv);
    t = th_wrap(loop, sv[0], &th_streaming, r);
    CHECK_ERR(aiotp_transport_set_protocol(t, &no_get_buffer, NULL), AIOTP_EINVAL);
    CHECK(aiotp_transport_get_protocol(t, NULL) == &th_streaming);
    CHECK_INT(th_peer_write(sv[1], "ok", 2), 2);
    th_run_once(loop);
    CHECK_INT(r->chunks, 1);

    /* a factory that returns it fails the connection: EINVAL, socket closed */
    th_socketpair(sv2);
    aiotp_connect_options_init(&o);
    o.sock = sv2[0];
    CHECK_ERR(aiotp_loop_create_connection(loop, bad_factory, &calls, NULL, 0, &o, done_cb, &d),
              0);
    th_run_until(loop, done_called, &d, 5);
    CHECK_INT(calls, 1);
    CHECK_INT(d.calls, 1);
    CHECK_ERR(d.status, AIOTP_EINVAL);
    CHECK(d.t == NULL);
    CHECK(!th_fd_is_open(sv2[0]));
    CHECK(strstr(th_trace(), "t2 open") == NULL); /* no transport was made */
    th_peer_close(sv2[1]);

    CHECK_ERR(aiotp_transport_close(t), 0);
    th_run_until(loop, th_is_lost, r, 5);
    th_peer_close(sv[1]);
}

static const th_case cases[] = {
    T(five_byte_buffer_exact_trace, "PROTO-BUF-1 PROTO-BUF-3"),
    T(buffer_updated_within_buffer, "PROTO-BUF-1 PROTO-BUF-3"),
    T(zero_size_buffer_fatal, "PROTO-BUF-2 PROTO-BUF-3"),
    T(null_buffer_fatal, "PROTO-BUF-2"),
    T(zero_len_buffer_fatal, "PROTO-BUF-2"),
    T(get_buffer_fails_fatal, "PROTO-BUF-2"),
    T(buffer_updated_fails_fatal, "PROTO-BUF-2 PROTO-BUF-3"),
    T(switch_streaming_buffered_streaming, "BASE-PROTO-1 BASE-PROTO-2 PROTO-BUF-1 PROTO-KIND-1"),
    T(switch_buffered_to_streaming_then_eof, "BASE-PROTO-1"),
    T(buffered_state_machine_paths, "PROTO-BUF-3 PROTO-BUF-1 READ-2"),
    T(buffered_without_get_buffer_refused, "PROTO-BUF-4 BASE-PROTO-2 METH-3"),
};
TH_MAIN_SIM(cases)
