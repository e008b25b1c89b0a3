/* fuzz/fz_dgram.c - see fz_dgram.h. Deterministic: no real fds, no real time, no global
   state that survives an input (the content pattern is a constant table). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "aiotp/aiotp.h"
#include "aiotp/sim.h"
#include "dgram_int.h"
#include "fz_common.h"
#include "fz_dgram.h"

#define REQUIRE FZ_REQUIRE
#define violation fz_violation

/* ---- datagram contents ----------------------------------------------------------------

   Datagram `seq` of a direction: its first bytes (up to 4) are seq xor the direction's
   tag, the rest a slice of a constant pattern that starts at an offset of seq. A receiver
   decodes the sequence number of a datagram of 4 bytes or more and compares the rest; a
   shorter one is matched against the datagrams of its length. */

#define TAG_RX 0x5eed0000u /* peer or third socket -> transport */
#define TAG_TX 0x7a110000u /* transport -> peer */
#define PAT_SHIFT 4093u
#define PAT_LEN (AIOTP__DGRAM_MAX + 16u + PAT_SHIFT)

static unsigned char pat[PAT_LEN];
static bool pat_ready;

static void pat_init(void)
{
    uint32_t x = 0x12345678u;
    size_t i;
    if (pat_ready) {
        return;
    }
    for (i = 0; i < PAT_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pat[i] = (unsigned char)x;
    }
    pat_ready = true;
}

static size_t pat_off(uint32_t seq, uint32_t tag)
{
    return (size_t)((seq * 131u + (tag >> 16)) % PAT_SHIFT);
}

static void dg_fill(unsigned char *p, size_t len, uint32_t seq, uint32_t tag)
{
    uint32_t h = seq ^ tag;
    size_t i;
    for (i = 0; i < len && i < 4; i++) {
        p[i] = (unsigned char)(h >> (8 * i));
    }
    if (len > 4) {
        memcpy(p + 4, pat + pat_off(seq, tag), len - 4);
    }
}

static bool dg_is(const unsigned char *p, size_t len, uint32_t seq, uint32_t tag)
{
    uint32_t h = seq ^ tag;
    size_t i;
    for (i = 0; i < len && i < 4; i++) {
        if (p[i] != (unsigned char)(h >> (8 * i))) {
            return false;
        }
    }
    return len <= 4 || memcmp(p + 4, pat + pat_off(seq, tag), len - 4) == 0;
}

/* ---- the datagrams of one direction ---------------------------------------------------- */

#define TRACK_MAX 4096u

enum { WHO_PEER, WHO_THIRD, WHO_NOWHERE, WHO_BAD };
enum { ST_PENDING, ST_ACCEPTED, ST_REFUSED };

typedef struct dg_rec {
    uint32_t len;
    uint8_t who;   /* rx: the sender (WHO_PEER, WHO_THIRD); tx: the destination */
    uint8_t state; /* tx: what sendto did with it; rx: always ST_ACCEPTED */
    uint16_t seen; /* times received */
} dg_rec;

typedef struct dg_dir {
    uint32_t tag;
    dg_rec *e;      /* TRACK_MAX of them, filled by dir_add (not cleared per input) */
    uint32_t n;     /* datagrams sent (seq = index) */
    bool overflow;  /* more than TRACK_MAX: the rest is not judged */
    long dup_pool;  /* copies the receiver's duplicate knob may still make */
    bool reordered; /* the receiver's reorder knob was used */
    bool any_rx;
    uint32_t last;  /* seq of the last datagram received */
    uint64_t received;
} dg_dir;

/* The next datagram of d: its seq, or UINT32_MAX when d is not tracked any more. */
static uint32_t dir_add(dg_dir *d, size_t len, unsigned who, unsigned state)
{
    dg_rec *r;
    if (d->n >= TRACK_MAX) {
        d->overflow = true;
        return UINT32_MAX;
    }
    r = &d->e[d->n];
    r->len = (uint32_t)len;
    r->who = (uint8_t)who;
    r->state = (uint8_t)state;
    r->seen = 0;
    return d->n++;
}

static bool candidate(const dg_dir *d, uint32_t s, const unsigned char *p, size_t len,
                      unsigned who_mask)
{
    const dg_rec *r = &d->e[s];
    return r->len == len && r->state == ST_ACCEPTED && ((1u << r->who) & who_mask) != 0 &&
           dg_is(p, len, s, d->tag);
}

/* A datagram of d arrived (from/to one of who_mask): it must be one that was sent (and
   accepted), received no more often than the kernel's duplicate knob allows, and in
   order unless reordered. Returns its seq (UINT32_MAX: not judged). */
static uint32_t dir_receive(dg_dir *d, const unsigned char *p, size_t len, unsigned who_mask,
                            const char *rule, const char *where)
{
    uint32_t s = UINT32_MAX;
    uint32_t i;
    d->received++;
    if (d->overflow) {
        return UINT32_MAX;
    }
    if (len >= 4) {
        uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        s = h ^ d->tag;
        REQUIRE(s < d->n && candidate(d, s, p, len, who_mask), rule,
                "%s: a datagram of %zu bytes that was not sent (seq %lu of %lu)", where, len,
                (unsigned long)s, (unsigned long)d->n);
    } else {
        /* short (no sequence number in it): any datagram of that length and content,
           one not received yet first (at or after the last one received, then before);
           a duplicate otherwise. Its place in the order is not judged: two datagrams of
           0 bytes cannot be told apart */
        uint32_t from = d->any_rx ? d->last : 0;
        for (i = from; i < d->n && s == UINT32_MAX; i++) {
            if (d->e[i].seen == 0 && candidate(d, i, p, len, who_mask)) {
                s = i;
            }
        }
        for (i = 0; i < from && s == UINT32_MAX; i++) {
            if (d->e[i].seen == 0 && candidate(d, i, p, len, who_mask)) {
                s = i;
            }
        }
        for (i = 0; i < d->n && s == UINT32_MAX; i++) {
            if (candidate(d, i, p, len, who_mask)) {
                s = i;
            }
        }
        REQUIRE(s != UINT32_MAX, rule, "%s: a datagram of %zu bytes that was not sent", where,
                len);
    }
    if (d->e[s].seen > 0) {
        REQUIRE(d->dup_pool > 0, rule, "%s: datagram %lu (%zu bytes) received %u times", where,
                (unsigned long)s, len, (unsigned)d->e[s].seen + 1);
        d->dup_pool--;
    }
    d->e[s].seen++;
    if (len >= 4) {
        if (!d->reordered && d->any_rx) {
            REQUIRE(s >= d->last, rule, "%s: datagram %lu after datagram %lu, not reordered",
                    where, (unsigned long)s, (unsigned long)d->last);
        }
        d->last = s;
        d->any_rx = true;
    }
    return s;
}

/* ---- the state of one input ------------------------------------------------------------ */

enum { SETUP_UNIX, SETUP_UDP4, SETUP_UDP4_UNCONNECTED, SETUP_UDP6 };

/* hook bits (op HOOKS: a, and b's top bit) */
enum {
    H_ECHO = 1u << 0,           /* sendto inside datagram_received, to the sender */
    H_SEND_IN_RESUME = 1u << 1, /* sendto inside resume_writing */
    H_CLOSE_IN_RESUME = 1u << 2,
    H_ABORT_IN_PAUSE = 1u << 3,
    H_LIMITS_IN_PAUSE = 1u << 4,
    H_FAIL_DGRAM = 1u << 5,     /* datagram_received returns AIOTP_ECALLBACK */
    H_FAIL_ERROR = 1u << 6,     /* error_received returns AIOTP_ECALLBACK */
    H_PAUSE_READ_IN_DGRAM = 1u << 7,
    H_SEND_IN_ERROR = 1u << 8   /* sendto inside error_received */
};

typedef struct fzd {
    aiotp_sim *sim;
    const aiotp_syscalls *sys;
    aiotp_loop *loop;
    aiotp_transport *t;
    unsigned setup;
    bool connected;     /* the transport's socket is connect()ed */
    bool has_fixed;     /* a remote address was given (connected or broadcast) */
    int a;              /* the transport's socket */
    int p;              /* the peer's socket, -1 once closed */
    int third;          /* a third socket (UDP), -1 if none */
    struct sockaddr_storage a_addr, p_addr, x_addr; /* their addresses (UDP) */
    socklen_t a_len, p_len, x_len;
    size_t peer_max;    /* the largest datagram the socket kind carries */
    bool completed;

    /* what the protocol was told */
    int made, lost, lost_status;
    bool in_lost;             /* inside connection_lost (the socket is still open) */
    int depth;                /* nesting of protocol callbacks */
    bool paused;              /* pause_writing delivered, resume_writing not yet */
    bool read_paused;         /* pause_reading called last (not resume_reading) */
    bool user_closed;         /* close() returned 0 */
    bool aborted;             /* abort() returned 0 */
    bool alloc_armed;         /* ALLOC_FAIL was used: a fatal error may close it */
    void *pdata;              /* the data of the protocol table in force */
    long errors_outside;      /* error_received not inside a sendto (drain or receive) */
    long errors_total;
    int sendto_depth;         /* sendto calls in progress */
    bool err_inside[8];       /* error_received inside the sendto at that depth */

    /* the datagrams */
    dg_dir rx;                /* peer / third -> transport */
    dg_dir tx;                /* transport -> peer */
    bool tx_lossy;            /* the peer's socket may lose one: knobs, peer gone */

    /* OP_CALL_IN: one public call armed for the next time a callback runs */
    bool ci_armed;
    unsigned ci_cb, ci_act;
    uint16_t ci_arg;
    bool fail_now;            /* the armed call said: this callback fails */

    unsigned hooks;
    uint16_t hook_arg;
} fzd;

static fzd F;
static dg_rec rx_recs[TRACK_MAX];
static dg_rec tx_recs[TRACK_MAX];
static int tags[2]; /* the data of protocol tables A and B */
static unsigned char txbuf[AIOTP__DGRAM_MAX + 32u];

/* ---- addresses ------------------------------------------------------------------------- */

static bool addr_same(const struct sockaddr_storage *x, socklen_t xl,
                      const struct sockaddr *y, socklen_t yl)
{
    if (x->ss_family != y->sa_family) {
        return false;
    }
    if (x->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)x;
        const struct sockaddr_in *b = (const struct sockaddr_in *)(const void *)y;
        return xl >= (socklen_t)sizeof(*a) && yl >= (socklen_t)sizeof(*b) &&
               a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    if (x->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)x;
        const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)(const void *)y;
        return xl >= (socklen_t)sizeof(*a) && yl >= (socklen_t)sizeof(*b) &&
               a->sin6_port == b->sin6_port &&
               memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
    }
    return false;
}

/* Address modes of a sendto (the record's bits). */
enum { AD_NONE, AD_PEER, AD_THIRD, AD_NOWHERE, AD_FAMILY, AD_SHORT, AD_PEER_LONG, AD_OTHER_PORT };

/* The address of mode m into *ss; returns its length (0: none). *who: where it goes. */
static socklen_t addr_of(unsigned m, struct sockaddr_storage *ss, unsigned *who)
{
    memset(ss, 0, sizeof(*ss));
    *who = WHO_NOWHERE;
    switch (m % 8u) {
    case AD_PEER:
    case AD_PEER_LONG:
        if (F.setup == SETUP_UNIX) {
            ss->ss_family = AF_UNIX; /* an unnamed peer: no usable address */
            *who = WHO_BAD;
            return (socklen_t)offsetof(struct sockaddr_un, sun_path);
        }
        memcpy(ss, &F.p_addr, F.p_len);
        *who = WHO_PEER;
        return m % 8u == AD_PEER ? F.p_len : (socklen_t)sizeof(*ss);
    case AD_THIRD:
        if (F.third < 0) {
            struct sockaddr_un *u = (struct sockaddr_un *)(void *)ss;
            u->sun_family = AF_UNIX;
            strcpy(u->sun_path, "/fz/nowhere"); /* a path: the Unix pair takes none */
            *who = WHO_BAD;
            return (socklen_t)sizeof(*u);
        }
        memcpy(ss, &F.x_addr, F.x_len);
        *who = WHO_THIRD;
        return F.x_len;
    case AD_NOWHERE:
    case AD_OTHER_PORT:
        if (F.setup == SETUP_UNIX) {
            struct sockaddr_un *u = (struct sockaddr_un *)(void *)ss;
            u->sun_family = AF_UNIX;
            strcpy(u->sun_path, "/fz/nowhere");
            *who = WHO_BAD;
            return (socklen_t)sizeof(*u);
        }
        memcpy(ss, &F.p_addr, F.p_len);
        if (ss->ss_family == AF_INET) {
            ((struct sockaddr_in *)(void *)ss)->sin_port = htons(m % 8u == AD_NOWHERE ? 9 : 10);
        } else {
            ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons(m % 8u == AD_NOWHERE ? 9 : 10);
        }
        return F.p_len;
    case AD_FAMILY:
        *who = WHO_BAD;
        if (F.setup == SETUP_UDP6) {
            struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)ss;
            a4->sin_family = AF_INET;
            a4->sin_port = htons(9);
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return (socklen_t)sizeof(*a4);
        } else {
            struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)ss;
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons(9);
            a6->sin6_addr.s6_addr[15] = 1;
            return (socklen_t)sizeof(*a6);
        }
    case AD_SHORT:
        *who = WHO_BAD;
        memcpy(ss, &F.p_addr, sizeof(*ss));
        ss->ss_family = F.setup == SETUP_UNIX ? AF_UNIX : F.p_addr.ss_family;
        return (socklen_t)sizeof(sa_family_t) + 2;
    default:
        return 0;
    }
}

/* ---- sizes ----------------------------------------------------------------------------- */

/* A datagram size of class c (0 and the maxima included). The largest ones are the
   rarest: every byte of a datagram is copied, summed (CRC-32) for the trace line and
   compared, and a 256 KiB one costs more than a whole input of small ones
   (fuzz/README.md, "The datagram target"). */
static size_t size_of(unsigned c, uint16_t b, size_t kind_max)
{
    switch (c % 8u) {
    case 0:
        return 0;
    case 1:
        return b % 64u;
    case 5:
        return b % 9000u;
    case 6:
        return b; /* up to 65535: over the UDP maxima */
    case 7:
        if ((b & 0xf0u) != 0xf0u) {
            return b % 1500u; /* (one in 16 of this class: the cost above) */
        }
        switch (b % 4u) {
        case 0:
            return kind_max; /* the socket kind's largest */
        case 1:
            return kind_max + 1u; /* one over: EMSGSIZE */
        case 2:
            return AIOTP__DGRAM_MAX; /* the transport's largest */
        default:
            return AIOTP__DGRAM_MAX + 1u; /* ETOOBIG */
        }
    default:
        return b % 1500u;
    }
}

/* ---- the transport's sendto, judged against DGRAM-SEND-1..5 ------------------------------ */

static int do_sendto(aiotp_transport *t, size_t len, unsigned amode, bool null_data)
{
    struct sockaddr_storage ss;
    unsigned who;
    socklen_t alen = addr_of(amode, &ss, &who);
    const struct sockaddr *addr = alen > 0 ? (const struct sockaddr *)&ss : NULL;
    /* (the internal state, not is_closing(): a query line per sendto costs throughput) */
    bool closed = F.user_closed || F.aborted || F.lost > 0 ||
                  aiotp__dgram_of(t)->st.life != AIOTP__DG_OPEN;
    bool usable = who != WHO_BAD;
    bool fixed_ok;
    uint32_t seq = UINT32_MAX;
    int expect;
    int rc;
    int depth;

    if (len > sizeof(txbuf)) {
        len = sizeof(txbuf);
    }
    if (addr == NULL && F.has_fixed) {
        who = WHO_PEER; /* the connected peer, or the fixed destination */
    }
    /* DGRAM-SEND-2: with a fixed address only that one (or none) */
    fixed_ok = !F.has_fixed || addr == NULL || amode % 8u == AD_PEER ||
               amode % 8u == AD_PEER_LONG;
    if (null_data && len > 0) {
        expect = AIOTP_EINVAL;
    } else if (len == 0) {
        expect = 0; /* DGRAM-SEND-1: before any other check */
    } else if (len > AIOTP__DGRAM_MAX) {
        expect = AIOTP_ETOOBIG; /* DGRAM-SEND-5 */
    } else if (!usable || !fixed_ok || (!F.has_fixed && addr == NULL)) {
        expect = AIOTP_EINVAL; /* DGRAM-SEND-2, DGRAM-SEND-5 */
    } else if (closed) {
        expect = AIOTP_ECLOSED; /* DGRAM-SEND-4 */
    } else {
        expect = 0;
    }
    if (expect == 0 && len > 0) {
        seq = dir_add(&F.tx, len, who, ST_PENDING);
    }
    dg_fill(txbuf, len, seq, F.tx.tag);
    depth = F.sendto_depth++;
    if (depth < 8) {
        F.err_inside[depth] = false;
    }
    rc = aiotp_transport_sendto(t, null_data ? NULL : txbuf, len, addr, alen);
    F.sendto_depth--;
    REQUIRE(rc == expect || (expect == 0 && rc == AIOTP_ENOMEM && F.alloc_armed) ||
                (expect == 0 && rc < 0 && F.alloc_armed && aiotp_transport_is_closing(t)),
            "DGRAM-SEND-3", "sendto(%zu bytes, address mode %u) returned %s, expected %s", len,
            amode % 8u, aiotp_err_name(rc), aiotp_err_name(expect));
    if (seq != UINT32_MAX) {
        bool err = depth < 8 && F.err_inside[depth];
        F.tx.e[seq].state = (uint8_t)(rc == 0 && !err ? ST_ACCEPTED : ST_REFUSED);
    }
    return rc;
}

/* ---- the checking protocol ---------------------------------------------------------------- */

static void check_data(void *d, const char *cb)
{
    REQUIRE(d == F.pdata, "BASE-PROTO-1", "%s called with the data of another table", cb);
}

static void check_alive(const char *cb)
{
    REQUIRE(F.made == 1, "DGRAM-MADE-1", "%s before connection_made", cb);
    REQUIRE(F.lost == 0, "DGRAM-LOST-1", "%s after connection_lost", cb);
}

/* The armed call said "this callback fails" (CA_FAIL): its result. */
static int take_fail(void)
{
    bool f = F.fail_now;
    F.fail_now = false;
    return f ? AIOTP_ECALLBACK : 0;
}

static void call_in(unsigned cb, aiotp_transport *t);
static int do_limits(aiotp_transport *t, uint16_t a, uint16_t b);

enum { CI_MADE, CI_DGRAM, CI_ERROR, CI_PAUSE, CI_RESUME, CI_LOST, CI_COUNT };

static int p_made(aiotp_transport *t, void *d)
{
    check_data(d, "connection_made");
    REQUIRE(F.made == 0 && F.lost == 0, "DGRAM-MADE-1", "connection_made twice or late");
    REQUIRE(F.depth == 0, "DGRAM-MADE-1", "connection_made inside another callback");
    F.made++;
    F.t = t;
    F.a = aiotp_transport_get_extra_info(t, "socket", NULL)->u.fd;
    aiotp_transport_retain(t);
    F.depth++;
    call_in(CI_MADE, t);
    F.depth--;
    return take_fail();
}

static int p_lost(aiotp_transport *t, void *d, int status)
{
    check_data(d, "connection_lost");
    REQUIRE(F.made == 1, "DGRAM-LOST-1", "connection_lost without connection_made");
    REQUIRE(F.lost == 0, "DGRAM-LOST-1", "connection_lost twice");
    REQUIRE(F.depth == 0, "DGRAM-LOST-1", "connection_lost inside another callback");
    REQUIRE(status == 0 || F.alloc_armed, "DGRAM-FATAL-1",
            "connection_lost(%s) without a fatal error", aiotp_err_name(status));
    REQUIRE(status != 0 || F.user_closed || F.aborted, "DGRAM-CLOSE-1",
            "connection_lost(0) without close() or abort()");
    F.lost = 1;
    F.lost_status = status;
    F.in_lost = true;
    F.depth++;
    call_in(CI_LOST, t);
    F.depth--;
    F.in_lost = false;
    F.fail_now = false;
    return 0;
}

static int p_pause(aiotp_transport *t, void *d)
{
    size_t size = aiotp_transport_get_write_buffer_size(t);
    size_t low;
    size_t high;
    check_data(d, "pause_writing");
    check_alive("pause_writing");
    (void)aiotp_transport_get_write_buffer_limits(t, &low, &high);
    REQUIRE(!F.paused, "DGRAM-FLOW-1", "pause_writing while paused");
    REQUIRE(size > high, "DGRAM-FLOW-1", "pause_writing with size %zu <= high %zu", size, high);
    F.paused = true;
    F.depth++;
    call_in(CI_PAUSE, t);
    if (F.hooks & H_ABORT_IN_PAUSE) {
        if (aiotp_transport_abort(t) == 0) {
            F.aborted = true;
        }
    }
    if (F.hooks & H_LIMITS_IN_PAUSE) {
        (void)do_limits(t, F.hook_arg, (uint16_t)(F.hook_arg * 7u));
    }
    F.depth--;
    return take_fail();
}

static int p_resume(aiotp_transport *t, void *d)
{
    size_t size = aiotp_transport_get_write_buffer_size(t);
    size_t low;
    size_t high;
    check_data(d, "resume_writing");
    check_alive("resume_writing");
    (void)aiotp_transport_get_write_buffer_limits(t, &low, &high);
    REQUIRE(F.paused, "DGRAM-FLOW-1", "resume_writing while not paused");
    REQUIRE(size <= low, "DGRAM-FLOW-1", "resume_writing with size %zu > low %zu", size, low);
    REQUIRE(!F.aborted, "DGRAM-ABORT-1", "resume_writing after abort");
    F.paused = false;
    F.depth++;
    call_in(CI_RESUME, t);
    if (F.hooks & H_SEND_IN_RESUME) {
        (void)do_sendto(t, F.hook_arg % 1400u, AD_NONE + (F.has_fixed ? 0u : AD_PEER), false);
    }
    if (F.hooks & H_CLOSE_IN_RESUME) {
        if (aiotp_transport_close(t) == 0) {
            F.user_closed = true;
        }
    }
    F.depth--;
    return take_fail();
}

static int p_dgram(aiotp_transport *t, void *d, const void *buf, size_t len,
                   const struct sockaddr *addr, socklen_t alen)
{
    unsigned who = WHO_PEER;
    int rc = 0;
    check_data(d, "datagram_received");
    check_alive("datagram_received");
    REQUIRE(!F.user_closed && !F.aborted, "DGRAM-RECV-3", "datagram_received after close/abort");
    REQUIRE(!F.read_paused, "DGRAM-RECV-3", "datagram_received while reading is paused");
    REQUIRE(len <= F.peer_max, "DGRAM-RECV-1", "datagram_received of %zu bytes", len);
    REQUIRE((buf != NULL) || len == 0, "DGRAM-RECV-1", "datagram_received without data");
    /* the sender, from its address: the peer, or (an unconnected socket hears anyone) the
       third socket */
    if (F.setup == SETUP_UNIX) {
        REQUIRE(addr == NULL && alen == 0, "DGRAM-RECV-1",
                "datagram_received from an unnamed socket with an address (%u bytes)",
                (unsigned)alen);
    } else {
        REQUIRE(addr != NULL, "DGRAM-RECV-1", "datagram_received without the sender's address");
        if (F.third >= 0 && addr_same(&F.x_addr, F.x_len, addr, alen)) {
            who = WHO_THIRD;
        } else {
            REQUIRE(addr_same(&F.p_addr, F.p_len, addr, alen), "DGRAM-RECV-1",
                    "datagram_received from an address that is neither the peer's nor the "
                    "third socket's");
        }
        REQUIRE(who == WHO_PEER || !F.connected, "DGRAM-RECV-1",
                "a connected transport got a datagram from another socket than its peer");
    }
    (void)dir_receive(&F.rx, buf, len, 1u << who, "DGRAM-RECV-1", "datagram_received");
    F.depth++;
    call_in(CI_DGRAM, t);
    if (F.hooks & H_ECHO) {
        /* to the sender: none on a connected socket, its address otherwise */
        (void)do_sendto(t, F.hook_arg % 1400u,
                        F.has_fixed ? AD_NONE : (who == WHO_THIRD ? AD_THIRD : AD_PEER), false);
    }
    if (F.hooks & H_PAUSE_READ_IN_DGRAM) {
        (void)aiotp_transport_pause_reading(t);
        F.read_paused = true;
    }
    F.depth--;
    rc = take_fail();
    return (F.hooks & H_FAIL_DGRAM) ? AIOTP_ECALLBACK : rc; /* DGRAM-CB-1: reported only */
}

static bool plausible_error(int status)
{
    switch (-status) {
    case ENOMEM:
    case ENOBUFS:
    case ECONNREFUSED:
    case EMSGSIZE:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EPERM:
    case EBADF:
    case EINVAL:
    case ENOTCONN:
    case EACCES:
    case EPIPE:
    case EDESTADDRREQ:
        return true;
    default:
        return false;
    }
}

static int p_error(aiotp_transport *t, void *d, int status)
{
    int rc = 0;
    check_data(d, "error_received");
    check_alive("error_received");
    REQUIRE(!F.aborted, "DGRAM-LOST-1", "error_received after abort");
    /* EAGAIN and EINTR mean "try later", never an error (DGRAM-SEND-3, DGRAM-RECV-2) */
    REQUIRE(plausible_error(status), "DGRAM-RECV-2", "error_received(%s)",
            aiotp_err_name(status));
    F.errors_total++;
    if (F.sendto_depth > 0 && F.sendto_depth <= 8) {
        F.err_inside[F.sendto_depth - 1] = true; /* DGRAM-SEND-3: this sendto's datagram */
    } else {
        F.errors_outside++;
    }
    F.depth++;
    call_in(CI_ERROR, t);
    if ((F.hooks & H_SEND_IN_ERROR) && F.sendto_depth < 3) {
        /* (bounded: a send that fails at once calls error_received inside it, which would
           send again, as deep as the program lets it: the user's recursion) */
        (void)do_sendto(t, F.hook_arg % 700u, F.has_fixed ? AD_NONE : AD_PEER, false);
    }
    F.depth--;
    rc = take_fail();
    return (F.hooks & H_FAIL_ERROR) ? AIOTP_ECALLBACK : rc; /* DGRAM-CB-1 */
}

/* Tables A and B: the same callbacks, other data (set_protocol's switch is seen). */
#define DGRAM_TABLE                                                                    \
    {                                                                                  \
        .size = sizeof(aiotp_protocol), .kind = AIOTP_PROTOCOL_DATAGRAM,               \
        .connection_made = p_made, .connection_lost = p_lost,                          \
        .pause_writing = p_pause, .resume_writing = p_resume,                          \
        .datagram_received = p_dgram, .error_received = p_error,                       \
    }
static const aiotp_protocol proto_a = DGRAM_TABLE;
static const aiotp_protocol proto_b = DGRAM_TABLE;

static int s_data(aiotp_transport *t, void *d, const void *buf, size_t len)
{
    (void)t;
    (void)d;
    (void)buf;
    (void)len;
    violation("PROTO-KIND-2", "a stream table was called by a datagram transport");
}

/* a stream table (refused: AIOTP_EPROTOKIND) and a datagram table of the first layout's
   size (refused: AIOTP_EINVAL) */
static const aiotp_protocol proto_stream = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .data_received = s_data,
};

static const aiotp_protocol proto_short = {
    .size = AIOTP_PROTOCOL_SIZE_V1,
    .kind = AIOTP_PROTOCOL_DATAGRAM,
};

static int do_set_protocol(aiotp_transport *t, unsigned which)
{
    static const aiotp_protocol *const tables[5] = {&proto_a, &proto_b, &proto_stream,
                                                   &proto_short, NULL};
    const aiotp_protocol *p = tables[which % 5u];
    void *data = which % 5u < 2u ? (void *)&tags[which % 5u] : (void *)&F;
    int expect;
    int rc;
    if (p == NULL || p == &proto_short) {
        expect = AIOTP_EINVAL;
    } else if (p == &proto_stream) {
        expect = AIOTP_EPROTOKIND; /* PROTO-KIND-2 */
    } else if (F.lost > 0) {
        expect = AIOTP_ECLOSED; /* BASE-PROTO-2 */
    } else {
        expect = 0;
    }
    rc = aiotp_transport_set_protocol(t, p, data);
    REQUIRE(rc == expect, "BASE-PROTO-1", "set_protocol(table %u) returned %s, expected %s",
            which % 5u, aiotp_err_name(rc), aiotp_err_name(expect));
    if (rc == 0) {
        F.pdata = data;
    }
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
        return (int64_t)v * 4; /* up to 256 KiB: datagrams are big */
    default:
        return -(int64_t)(v & 3); /* 0 or negative: FLOW-3 refusals */
    }
}

static int do_limits(aiotp_transport *t, uint16_t a, uint16_t b)
{
    return aiotp_transport_set_write_buffer_limits(t, limit_of(a, b), limit_of(a >> 2, b >> 3));
}

/* ---- OP_CALL_IN: a public call inside a callback (the re-entrancy matrix's alphabet) ---- */

enum {
    CA_SENDTO, CA_CLOSE, CA_ABORT, CA_PAUSE_READING, CA_RESUME_READING, CA_SET_LIMITS,
    CA_SET_PROTOCOL, CA_USER_FD, CA_LOOP_STOP, CA_CALL_SOON, CA_WRAP_OWN_FD, CA_QUERIES,
    CA_FAIL, CA_RUN_ONCE, CA_LOOP_FREE, CA_COUNT
};

static int wrap_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = &proto_a;
    *data = &tags[0];
    return 0;
}

/* The queries, and the methods a datagram transport lacks (ENOTSUP, nothing changes). */
static void queries(aiotp_transport *t)
{
    size_t low = 0;
    size_t high = 0;
    size_t size = aiotp_transport_get_write_buffer_size(t);
    void *data = NULL;
    const aiotp_extra *x;
    aiotp_buf b = {"x", 1};
    bool closing = aiotp_transport_is_closing(t);
    const aiotp__dgram *d = aiotp__dgram_of(t);
    REQUIRE(size == d->q.payload, "DGRAM-FLOW-1", "get_write_buffer_size %zu, queued %zu", size,
            d->q.payload);
    REQUIRE(closing == (d->st.life != AIOTP__DG_OPEN), "BASE-CLOSING-1", "is_closing");
    REQUIRE(aiotp_transport_is_reading(t) ==
                (d->st.life == AIOTP__DG_OPEN && d->st.rd == AIOTP__DG_RD_ACTIVE),
            "READ-2", "is_reading");
    REQUIRE(aiotp_transport_write(t, "x", 1) == AIOTP_ENOTSUP, "TRANSPORT-KIND-2", "write");
    REQUIRE(aiotp_transport_writelines(t, &b, 1) == AIOTP_ENOTSUP, "TRANSPORT-KIND-2",
            "writelines");
    REQUIRE(aiotp_transport_write_eof(t) == AIOTP_ENOTSUP, "TRANSPORT-KIND-2", "write_eof");
    REQUIRE(!aiotp_transport_can_write_eof(t), "TRANSPORT-KIND-2", "can_write_eof");
    REQUIRE(aiotp_transport_get_write_buffer_size(t) == size &&
                aiotp_transport_is_closing(t) == closing,
            "TRANSPORT-KIND-2", "a method the kind lacks changed the transport");
    REQUIRE(aiotp_transport_kind(t) == AIOTP_TRANSPORT_DATAGRAM, "TRANSPORT-KIND-1", "kind");
    REQUIRE(aiotp_transport_get_write_buffer_limits(t, &low, &high) == 0 && low <= high,
            "FLOW-3", "limits");
    REQUIRE(aiotp_transport_get_protocol(t, &data) != NULL || F.lost > 0, "BASE-PROTO-2",
            "get_protocol");
    REQUIRE(F.lost > 0 || data == F.pdata, "BASE-PROTO-2", "get_protocol's data");
    x = aiotp_transport_get_extra_info(t, "socket", NULL);
    REQUIRE(x != NULL && x->kind == AIOTP_EXTRA_FD &&
                x->u.fd == (F.lost > 0 && !F.in_lost ? -1 : F.a),
            "BASE-EXTRA-1", "socket %d", x != NULL ? x->u.fd : -2);
    x = aiotp_transport_get_extra_info(t, "peername", NULL);
    REQUIRE(x != NULL && (x->kind == AIOTP_EXTRA_ADDR) == F.connected, "BASE-EXTRA-1",
            "peername");
    (void)aiotp_transport_get_extra_info(t, "sockname", NULL);
    REQUIRE(aiotp_transport_get_extra_info(t, "nope", NULL) == NULL, "BASE-EXTRA-2", "default");
    if (F.lost > 0) {
        REQUIRE(closing && !aiotp_transport_is_reading(t), "BASE-CLOSING-1", "after lost");
    }
}

static void call_action(aiotp_transport *t, unsigned act, uint16_t arg)
{
    switch (act % CA_COUNT) {
    case CA_SENDTO:
        (void)do_sendto(t, size_of(arg >> 13, arg, F.peer_max), arg >> 10, false);
        break;
    case CA_CLOSE:
        if (aiotp_transport_close(t) == 0) {
            F.user_closed = true;
        }
        break;
    case CA_ABORT:
        if (aiotp_transport_abort(t) == 0) {
            F.aborted = true;
        }
        break;
    case CA_PAUSE_READING:
        REQUIRE(aiotp_transport_pause_reading(t) == 0, "READ-3", "pause_reading");
        F.read_paused = true;
        break;
    case CA_RESUME_READING:
        REQUIRE(aiotp_transport_resume_reading(t) == 0, "READ-3", "resume_reading");
        F.read_paused = false;
        break;
    case CA_SET_LIMITS:
        (void)do_limits(t, arg, (uint16_t)(arg * 5u));
        break;
    case CA_SET_PROTOCOL:
        (void)do_set_protocol(t, arg);
        break;
    case CA_USER_FD:
        fz_user_fd_call(F.loop, F.a, arg); /* LOOP-8 */
        break;
    case CA_LOOP_STOP:
        aiotp_loop_stop(F.loop);
        break;
    case CA_CALL_SOON:
        REQUIRE(aiotp_loop_call_soon(F.loop, fz_noop_cb, NULL, NULL) == 0 || F.alloc_armed,
                "LOOP-1", "call_soon");
        break;
    case CA_WRAP_OWN_FD: {
        aiotp_datagram_options o;
        int rc;
        aiotp_datagram_options_init(&o);
        o.sock = F.a;
        rc = aiotp_loop_create_datagram_endpoint(F.loop, wrap_factory, NULL, NULL, 0, NULL, 0,
                                                 &o, fz_wrap_done, NULL);
        REQUIRE(rc == AIOTP_EBUSY, "METH-8", "wrapping the transport's own fd: %s",
                aiotp_err_name(rc));
        break;
    }
    case CA_QUERIES:
        queries(t);
        break;
    case CA_FAIL:
        F.fail_now = true;
        break;
    case CA_RUN_ONCE:
        /* LOOP-7 inside a pass, LOOP-11 inside a method called outside the loop */
        REQUIRE(aiotp_loop_run_once(F.loop) == AIOTP_ERUNNING, "LOOP-11", "run_once inside");
        break;
    default: /* CA_LOOP_FREE: refused (the loop goes on being used: ASan sees a free) */
        aiotp_loop_free(F.loop);
        break;
    }
}

/* Run the armed call if `cb` is its callback (once per arming). */
static void call_in(unsigned cb, aiotp_transport *t)
{
    if (F.ci_armed && F.ci_cb == cb) {
        F.ci_armed = false;
        call_action(t, F.ci_act, F.ci_arg);
    }
}

/* ---- setup ------------------------------------------------------------------------------- */

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = F.pdata == &tags[1] ? &proto_b : &proto_a;
    *data = F.pdata;
    return 0;
}

static void on_done(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    REQUIRE(status == 0 && t != NULL, "DGRAM-EP-1", "endpoint failed: %s",
            aiotp_err_name(status));
    REQUIRE(F.made == 1, "DGRAM-MADE-1", "completion before connection_made");
    F.completed = true;
}

static void on_exception(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)loop;
    (void)ctx;
    (void)arg; /* expected for failing callbacks; the oracle sees the exc lines */
}

static socklen_t bind_loopback(int fd, int family, struct sockaddr_storage *out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_addr.s6_addr[15] = 1;
        len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a4);
    }
    REQUIRE(F.sys->bind(F.sys->ctx, fd, (struct sockaddr *)&ss, len) == 0, "HARNESS", "bind");
    len = sizeof(*out);
    REQUIRE(F.sys->getsockname(F.sys->ctx, fd, (struct sockaddr *)out, &len) == 0, "HARNESS",
            "getsockname");
    return len;
}

static int udp_socket(int family)
{
    int fd = F.sys->socket(F.sys->ctx, family, SOCK_DGRAM, 0);
    REQUIRE(fd >= 0 && F.sys->set_nonblock(F.sys->ctx, fd) == 0, "HARNESS", "socket");
    return fd;
}

static void run_pass(void);

/* The transport and its peers, after the header byte h. */
static void setup(uint8_t h)
{
    aiotp_datagram_options o;
    int rc;
    int i;

    F.setup = h & 3u;
    aiotp_datagram_options_init(&o);
    switch (F.setup) {
    case SETUP_UNIX:
        REQUIRE(aiotp_sim_socketpair_dgram(F.sim, &F.a, &F.p) == 0, "HARNESS", "pair");
        F.connected = F.has_fixed = true;
        F.peer_max = AIOTP_SIM_UNIX_DGRAM_MAX;
        o.sock = F.a;
        rc = aiotp_loop_create_datagram_endpoint(F.loop, factory, NULL, NULL, 0, NULL, 0, &o,
                                                 on_done, NULL);
        break;
    case SETUP_UDP6: {
        char port[8];
        F.p = udp_socket(AF_INET6);
        F.p_len = bind_loopback(F.p, AF_INET6, &F.p_addr);
        F.third = udp_socket(AF_INET6);
        F.x_len = bind_loopback(F.third, AF_INET6, &F.x_addr);
        snprintf(port, sizeof(port), "%u",
                 (unsigned)ntohs(((struct sockaddr_in6 *)(void *)&F.p_addr)->sin6_port));
        /* through the endpoint's resolution; bit 6: the remote address is the default
           destination only (allow_broadcast: not connected) */
        o.allow_broadcast = (h & 0x40u) != 0;
        F.connected = !o.allow_broadcast;
        F.has_fixed = true;
        F.peer_max = AIOTP_SIM_UDP6_MAX;
        rc = aiotp_loop_create_datagram_endpoint(F.loop, factory, NULL, "::1", 0, "::1",
                                                 atoi(port), &o, on_done, NULL);
        break;
    }
    default:
        F.p = udp_socket(AF_INET);
        F.p_len = bind_loopback(F.p, AF_INET, &F.p_addr);
        F.third = udp_socket(AF_INET);
        F.x_len = bind_loopback(F.third, AF_INET, &F.x_addr);
        F.a = udp_socket(AF_INET);
        (void)bind_loopback(F.a, AF_INET, &F.a_addr);
        F.connected = F.has_fixed = F.setup == SETUP_UDP4;
        if (F.connected) {
            REQUIRE(F.sys->connect(F.sys->ctx, F.a, (struct sockaddr *)&F.p_addr, F.p_len) == 0,
                    "HARNESS", "connect");
        }
        F.peer_max = AIOTP_SIM_UDP4_MAX;
        o.sock = F.a;
        rc = aiotp_loop_create_datagram_endpoint(F.loop, factory, NULL, NULL, 0, NULL, 0, &o,
                                                 on_done, NULL);
        break;
    }
    REQUIRE(rc == 0, "HARNESS", "create_datagram_endpoint: %s", aiotp_err_name(rc));
    /* the peer's queue holds everything unless a knob says otherwise */
    (void)aiotp_sim_dgram_set_queue(F.sim, F.p, (size_t)-1);
    for (i = 0; i < 4 && !F.completed; i++) {
        run_pass();
    }
    REQUIRE(F.completed && F.t != NULL, "DGRAM-MADE-1", "no endpoint after 4 passes");
    if (F.setup != SETUP_UNIX) {
        F.a_len = sizeof(F.a_addr);
        REQUIRE(F.sys->getsockname(F.sys->ctx, F.a, (struct sockaddr *)&F.a_addr, &F.a_len) == 0,
                "HARNESS", "getsockname");
    }
}

/* ---- checks after every record --------------------------------------------------------------- */

static void check_state(void)
{
    aiotp__dgram *t = aiotp__dgram_of(F.t);
    size_t size;
    bool reading;

    REQUIRE(t != NULL, "HARNESS", "not a datagram transport");
    REQUIRE(aiotp__dgram_is_valid(&t->st), "DGRAM-INV", "state invalid: %d %d %d",
            (int)t->st.life, (int)t->st.rd, (int)t->st.ph);
    REQUIRE(aiotp__dgq_is_valid(&t->q), "DGQ", "send queue invalid");
    REQUIRE(aiotp__flow_is_valid(&t->flow), "FLOW-3", "flow state invalid");
    size = t->q.payload;
    REQUIRE(t->q.count > 0 || size == 0, "DGRAM-FLOW-1", "payload without datagrams");
    REQUIRE(F.depth == 0 && F.sendto_depth == 0, "HARNESS", "depth %d between steps", F.depth);
    REQUIRE((F.lost == 1) == (t->st.ph == AIOTP__DG_PH_LOST), "DGRAM-LOST-1",
            "connection_lost delivered %d, ph %d", F.lost, (int)t->st.ph);
    reading = t->st.life == AIOTP__DG_OPEN && t->st.rd == AIOTP__DG_RD_ACTIVE &&
              t->st.ph == AIOTP__DG_PH_CONNECTED;
    if (F.lost == 0) {
        fz_check_flow(&t->flow, F.paused, size, "DGRAM-FLOW-1", "DGRAM-FLOW-1");
        REQUIRE(t->fd == F.a, "DGRAM-LOST-1", "socket closed before connection_lost");
        fz_check_watch(F.sim, F.a, t->reader_on, t->writer_on, "DGRAM-DRAIN-1");
        REQUIRE(t->reader_on == reading, "DGRAM-MADE-1", "reader_on %d, reading %d",
                (int)t->reader_on, (int)reading);
        REQUIRE(t->st.rd != AIOTP__DG_RD_PAUSED || F.read_paused, "READ-2",
                "paused without pause_reading");
        if (t->q.count > 0 &&
            (t->st.life == AIOTP__DG_OPEN || t->st.life == AIOTP__DG_CLOSING)) {
            REQUIRE(t->writer_on, "DGRAM-DRAIN-1", "%zu datagrams queued and no writer",
                    t->q.count);
        }
        /* (a drain error can leave a closing transport with an empty queue until the
           next writable event, as CPython's: the writer stays armed) */
        REQUIRE(t->st.life != AIOTP__DG_CLOSING || t->writer_on, "DGRAM-CLOSE-1",
                "closing and not watching for writing");
        REQUIRE(!(F.user_closed || F.aborted) || t->st.life != AIOTP__DG_OPEN, "BASE-CLOSING-1",
                "closed but open");
        REQUIRE(F.user_closed || F.aborted || F.alloc_armed || t->st.life == AIOTP__DG_OPEN,
                "DGRAM-CB-1", "closing without close(), abort() or a fatal error");
        REQUIRE(!F.aborted || t->q.count == 0, "DGRAM-ABORT-1", "queue after abort");
    } else {
        REQUIRE(t->fd == -1, "DGRAM-LOST-1", "socket still open after connection_lost");
        REQUIRE(!t->reader_on && !t->writer_on, "DGRAM-LOST-1", "watched after connection_lost");
    }
}

/* The peer reads up to k datagrams (0: all) and checks them. */
static void peer_read(unsigned k)
{
    static unsigned char buf[AIOTP_SIM_UNIX_DGRAM_MAX + 16u];
    unsigned got = 0;
    while (F.p >= 0 && (k == 0 || got < k)) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n = F.sys->recvfrom(F.sys->ctx, F.p, buf, sizeof(buf), 0,
                                    (struct sockaddr *)&from, &flen);
        if (n < 0) {
            REQUIRE(n == -EAGAIN || F.setup == SETUP_UNIX, "HARNESS", "peer recvfrom: %s",
                    aiotp_err_name((int)n));
            return;
        }
        got++;
        (void)dir_receive(&F.tx, buf, (size_t)n, 1u << WHO_PEER, "DGRAM-SEND-3", "the peer");
        if (F.setup != SETUP_UNIX) {
            REQUIRE(addr_same(&F.a_addr, F.a_len, (struct sockaddr *)&from, flen), "DGRAM-SEND-3",
                    "the peer got a datagram from another address");
        }
    }
}

/* The peer (or the third socket) sends a datagram of len bytes to the transport. */
static void send_to_transport(bool third, size_t len)
{
    int fd = third ? F.third : F.p;
    uint32_t seq;
    ssize_t n;
    if (fd < 0) {
        return;
    }
    if (len > sizeof(txbuf)) {
        len = sizeof(txbuf);
    }
    seq = F.rx.n < TRACK_MAX ? F.rx.n : UINT32_MAX;
    dg_fill(txbuf, len, seq, F.rx.tag);
    if (F.setup == SETUP_UNIX) {
        n = F.sys->sendto(F.sys->ctx, fd, txbuf, len, 0, NULL, 0); /* the connected pair */
    } else {
        n = F.sys->sendto(F.sys->ctx, fd, txbuf, len, 0, (struct sockaddr *)&F.a_addr, F.a_len);
    }
    if (n >= 0) {
        REQUIRE((size_t)n == len, "HARNESS", "a datagram sent in part");
        (void)dir_add(&F.rx, len, third ? WHO_THIRD : WHO_PEER, ST_ACCEPTED);
    } else if (n == -ECONNREFUSED && F.setup == SETUP_UNIX) {
        /* the transport's socket is gone: as Linux, the peer's own receive queue is
           dropped when it learns it (the sim's unix_disconnect) */
        F.tx_lossy = true;
    }
}

static void run_pass(void)
{
    fz_run_pass(F.loop, F.alloc_armed);
}

/* ---- ops --------------------------------------------------------------------------------- */

enum {
    OP_RUN, OP_SENDTO, OP_CLOSE, OP_ABORT, OP_PAUSE_READING, OP_RESUME_READING, OP_SET_LIMITS,
    OP_SET_PROTOCOL, OP_PEER_SEND, OP_THIRD_SEND, OP_PEER_READ, OP_DROP, OP_DUP, OP_REORDER,
    OP_FLUSH, OP_QUEUE, OP_STALL, OP_EAGAIN, OP_EINTR, OP_SEND_FAIL, OP_RECV_FAIL,
    OP_ASYNC_ERROR, OP_PEER_CLOSE, OP_ADVANCE, OP_CALL_IN, OP_HOOKS, OP_ALLOC_FAIL,
    OP_USER_FD, OP_QUERIES, OP_RUN2, OP_RUN3, OP_COUNT
};

static const int fault_errnos[] = {EINTR,        EAGAIN,      ENOMEM, ENOBUFS, ECONNREFUSED,
                                   EMSGSIZE,     EHOSTUNREACH, EPERM, EBADF,   ENOTCONN};
#define N_FAULT_ERRNOS (sizeof(fault_errnos) / sizeof(fault_errnos[0]))

/* The socket a knob acts on: bit 0 of a chooses the transport's or the peer's. */
static int knob_fd(uint8_t a, dg_dir **dir)
{
    if ((a & 1u) == 0) {
        *dir = &F.rx; /* datagrams sent to the transport */
        return F.lost == 0 ? F.a : -1;
    }
    *dir = &F.tx;
    return F.p;
}

static void step(uint8_t op, uint8_t a, uint16_t b)
{
    aiotp_transport *t = F.t;
    dg_dir *dir = NULL;
    int fd;
    switch (op % OP_COUNT) {
    case OP_SENDTO:
        (void)do_sendto(t, size_of(a, b, F.peer_max), (unsigned)a >> 3, (a & 0xc0u) == 0xc0u);
        break;
    case OP_CLOSE:
        if ((a & 3u) == 3u) { /* (1 in 4: the transport lives longer) */
            call_action(t, CA_CLOSE, 0);
        }
        break;
    case OP_ABORT:
        if ((a & 7u) == 7u) {
            call_action(t, CA_ABORT, 0);
        }
        break;
    case OP_PAUSE_READING:
        call_action(t, CA_PAUSE_READING, 0);
        break;
    case OP_RESUME_READING:
        call_action(t, CA_RESUME_READING, 0);
        break;
    case OP_SET_LIMITS:
        (void)do_limits(t, a, b);
        break;
    case OP_SET_PROTOCOL:
        (void)do_set_protocol(t, a);
        break;
    case OP_PEER_SEND:
        send_to_transport(false, size_of(a, b, F.peer_max));
        break;
    case OP_THIRD_SEND:
        send_to_transport(true, size_of(a, b, F.peer_max));
        break;
    case OP_PEER_READ:
        peer_read(a % 9u);
        break;
    case OP_DROP:
        fd = knob_fd(a, &dir);
        if (fd >= 0 && aiotp_sim_dgram_drop(F.sim, fd, (a >> 1) % 4u) == 0 && dir == &F.tx &&
            (a >> 1) % 4u > 0) {
            F.tx_lossy = true;
        }
        break;
    case OP_DUP:
        fd = knob_fd(a, &dir);
        if (fd >= 0 && aiotp_sim_dgram_duplicate(F.sim, fd, (a >> 1) % 4u) == 0) {
            dir->dup_pool += (a >> 1) % 4u;
        }
        break;
    case OP_REORDER:
        fd = knob_fd(a, &dir);
        if (fd >= 0 && aiotp_sim_dgram_reorder(F.sim, fd, 1u + (a >> 1) % 3u) == 0) {
            dir->reordered = true;
        }
        break;
    case OP_FLUSH:
        fd = knob_fd(a, &dir);
        if (fd >= 0) {
            (void)aiotp_sim_dgram_flush(F.sim, fd);
        }
        break;
    case OP_QUEUE:
        fd = knob_fd(a, &dir);
        if (fd >= 0) {
            size_t cap = (a & 2u) ? (size_t)-1 : (size_t)(b % 8u);
            (void)aiotp_sim_dgram_set_queue(F.sim, fd, cap);
            if (dir == &F.tx && cap != (size_t)-1) {
                F.tx_lossy = true; /* a full UDP queue loses datagrams */
            }
        }
        break;
    case OP_STALL:
        if (F.lost == 0) {
            (void)aiotp_sim_dgram_stall(F.sim, F.a, a & 1u);
        }
        break;
    case OP_EAGAIN:
        if (F.lost == 0) {
            (void)aiotp_sim_send_eagain(F.sim, F.a, a % 4u);
        }
        break;
    case OP_EINTR:
        if (F.lost == 0) {
            (void)aiotp_sim_eintr_once(F.sim, F.a);
        }
        break;
    case OP_SEND_FAIL:
        if (F.lost == 0) {
            (void)aiotp_sim_send_fail(F.sim, F.a, -fault_errnos[a % N_FAULT_ERRNOS], 1u + (a >> 6));
        }
        break;
    case OP_RECV_FAIL:
        if (F.lost == 0) {
            (void)aiotp_sim_recv_fail(F.sim, F.a, -fault_errnos[a % N_FAULT_ERRNOS], 1u + (a >> 6));
        }
        break;
    case OP_ASYNC_ERROR:
        /* ICMP-style: reported once by the next receive or send */
        if (F.lost == 0) {
            static const int icmp[] = {ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EMSGSIZE};
            (void)aiotp_sim_dgram_error(F.sim, F.a, -icmp[a % 4u]);
        }
        break;
    case OP_PEER_CLOSE:
        if (F.p >= 0 && (a & 3u) == 3u) {
            (void)aiotp_sim_close(F.sim, F.p);
            F.p = -1;
            F.tx_lossy = true;
        }
        break;
    case OP_ADVANCE:
        aiotp_sim_advance(F.sim, (int64_t)b * 1000000);
        break;
    case OP_CALL_IN:
        F.ci_armed = true;
        F.ci_cb = a % CI_COUNT;
        F.ci_act = (unsigned)(a / CI_COUNT) + (unsigned)(b >> 12);
        F.ci_arg = b;
        break;
    case OP_HOOKS:
        F.hooks = a | ((b & 0x8000u) ? (unsigned)H_SEND_IN_ERROR : 0u);
        F.hook_arg = b;
        break;
    case OP_ALLOC_FAIL:
        fz_fail_next = (long)(a % 4u);
        F.alloc_armed = F.alloc_armed || fz_fail_next > 0;
        break;
    case OP_USER_FD:
        if (F.lost == 0) {
            fz_user_fd_call(F.loop, F.a, a);
        }
        break;
    case OP_QUERIES:
        queries(t);
        break;
    default: /* OP_RUN, OP_RUN2, OP_RUN3 */
        run_pass();
        break;
    }
}

/* ---- one input ------------------------------------------------------------------------- */

int fz_dgram_run(const uint8_t *data, size_t size)
{
    size_t nrec;
    size_t i;
    uint8_t h = size > 0 ? data[0] : 0;

    pat_init();
    memset(&F, 0, sizeof(F));
    fz_alloc_reset();
    fz_step = 0;
    F.a = F.p = F.third = -1;
    F.rx.tag = TAG_RX;
    F.tx.tag = TAG_TX;
    F.rx.e = rx_recs;
    F.tx.e = tx_recs;
    F.pdata = &tags[(h >> 7) & 1u];
    nrec = size > 0 ? (size - 1) / FZ_REC : 0;
    if (nrec > FZ_MAX_OPS) {
        nrec = FZ_MAX_OPS;
    }
    /* the header's call inside connection_made (bits 2-5; 0: none) */
    if ((h >> 2) & 0xfu) {
        F.ci_armed = true;
        F.ci_cb = CI_MADE;
        F.ci_act = ((h >> 2) & 0xfu) - 1u;
        /* (a small datagram for a sendto: to none, the peer, the third socket, nowhere) */
        F.ci_arg = (uint16_t)(0x4000u | (unsigned)(h >> 6) << 10 | h);
    }

    fz_oracle_begin(2); /* one transport per input */
    fz_loop_new(&F.sim, &F.loop, on_exception);
    F.sys = aiotp_sim_syscalls(F.sim);
    setup(h);
    check_state();

    for (i = 0; i < nrec; i++) {
        const uint8_t *r = data + 1 + i * FZ_REC;
        fz_step = i + 1;
        step(r[0], r[1], (uint16_t)(r[2] | (r[3] << 8)));
        check_state();
    }

    /* the end: knobs off, close, the peer reads; connection_lost must come */
    fz_step = nrec + 1;
    fz_fail_next = 0;
    F.ci_armed = false;
    F.hooks &= ~(unsigned)(H_ECHO | H_SEND_IN_RESUME | H_SEND_IN_ERROR);
    if (F.lost == 0) {
        (void)aiotp_sim_dgram_stall(F.sim, F.a, 0);
        (void)aiotp_sim_send_eagain(F.sim, F.a, 0);
        (void)aiotp_sim_send_fail(F.sim, F.a, -EIO, 0);
        (void)aiotp_sim_recv_fail(F.sim, F.a, -EIO, 0);
        if (aiotp_transport_close(F.t) == 0) {
            F.user_closed = true;
        }
    }
    if (F.p >= 0) {
        (void)aiotp_sim_dgram_set_queue(F.sim, F.p, (size_t)-1);
    }
    check_state();
    for (i = 0; i < 64 && F.lost == 0; i++) {
        peer_read(0);
        run_pass();
        check_state();
    }
    REQUIRE(F.lost == 1, "DGRAM-CLOSE-1", "close() never completed (%zu datagrams queued)",
            aiotp__dgram_of(F.t)->q.count);
    if (F.p >= 0) {
        (void)aiotp_sim_dgram_flush(F.sim, F.p);
        peer_read(0);
    }
    /* DGRAM-CLOSE-1: a close flushes the queue; what did not reach the peer was dropped
       by a send error (each one told by error_received outside sendto), or lost on the
       way by a knob or because the peer went away */
    if (!F.tx_lossy && !F.aborted && F.lost_status == 0 && !F.tx.overflow) {
        long missing = 0;
        uint32_t s;
        for (s = 0; s < F.tx.n; s++) {
            if (F.tx.e[s].state == ST_ACCEPTED && F.tx.e[s].who == WHO_PEER &&
                F.tx.e[s].seen == 0) {
                missing++;
            }
        }
        REQUIRE(missing <= F.errors_outside, "DGRAM-CLOSE-1",
                "clean close but %ld accepted datagrams never reached the peer (%ld send errors)",
                missing, F.errors_outside);
    }
    run_pass(); /* the graveyard pass */
    aiotp_transport_release(F.t);
    F.t = NULL;
    aiotp_loop_free(F.loop);
    F.loop = NULL;
    if (F.p >= 0) {
        (void)aiotp_sim_close(F.sim, F.p);
    }
    if (F.third >= 0) {
        (void)aiotp_sim_close(F.sim, F.third);
    }
    fz_end(F.sim);
    F.sim = NULL;
    return 0;
}
