/* fuzz/fz_tls.c - see fz_tls.h and fuzz/README.md, "The TLS target". */

/* RAND_set_rand_method is deprecated in OpenSSL 3 but still what every RAND_bytes_ex
   and RAND_priv_bytes_ex consults first (the TLS randoms, the key shares, the signature
   nonces): the deterministic source below. Only this file uses it. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "aiotp/tls.h"
#include "core/flow.h"
#include "fz_common.h"
#include "fz_tls.h"
#include "tls/tls_int.h"

#ifndef FZ_TLS_CERT
#error "FZ_TLS_CERT must name the fuzz certificate (made at build time: fuzz/CMakeLists.txt)"
#endif
#ifndef FZ_TLS_KEY
#error "FZ_TLS_KEY must name the fuzz certificate's key"
#endif

#define REQUIRE FZ_REQUIRE

/* ---- deterministic randomness ---------------------------------------------------------- */

static uint64_t g_rng;

static int rng_seed(const void *buf, int num)
{
    (void)buf;
    (void)num;
    return 1;
}

static int rng_bytes(unsigned char *buf, int num)
{
    int i;
    for (i = 0; i < num; i++) {
        /* splitmix64, one byte per step: fixed per input, no entropy at all */
        uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        buf[i] = (unsigned char)(z ^ (z >> 31));
    }
    return 1;
}

static void rng_cleanup(void)
{
}

static int rng_add(const void *buf, int num, double entropy)
{
    (void)buf;
    (void)num;
    (void)entropy;
    return 1;
}

static int rng_status(void)
{
    return 1;
}

static RAND_METHOD rng_method = {rng_seed, rng_bytes, rng_cleanup, rng_add, rng_bytes,
                                 rng_status};

/* ---- the contexts: made once per process ----------------------------------------------- */

static aiotp_tls_context *g_cctx; /* client: trusts the fuzz certificate, checks "localhost" */
static aiotp_tls_context *g_cctx_bad; /* client: expects another name (handshake fails) */
static aiotp_tls_context *g_cctx_psk; /* client: as g_cctx, and offers the external PSK */
static aiotp_tls_context *g_sctx; /* server: the fuzz certificate; accepts the external PSK */

/* The cheaper handshake (fuzz/README.md, "Third round"): a TLS 1.3 external pre-shared key
   (RFC 8446 2.2, OpenSSL's psk_use_session / psk_find_session callbacks), fixed identity
   and key, cipher TLS_AES_256_GCM_SHA384. A handshake that uses it sends no certificate,
   so there is no Ed25519 signature and no certificate verification; and no (EC)DHE
   (psk_ke, RFC 8446 4.2.9; init_once): both sides allow it, and the PSK client's only
   group (P-256) is not the server's (X25519), so the server, finding no group to share,
   takes psk_ke (OpenSSL 3.0's client always offers psk_dhe_ke too, with a key share).
   The same flights cross the wire (ClientHello; ServerHello, EncryptedExtensions,
   Finished; Finished), so the transport's handshake paths (WANT_READ / WANT_WRITE,
   records cut anywhere, alerts, timeouts) are the same. */
static const unsigned char psk_identity[] = "aiotp-fuzz-psk";
static const unsigned char psk_key[32] = {
    0x61, 0x69, 0x6f, 0x74, 0x70, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x70, 0x73, 0x6b, 0x2d, 0x31,
    0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15, 0xbf, 0x58, 0x47, 0x6d, 0x1c, 0xe4, 0xe5, 0xb9,
};

/* FZ_TLS_CERT_ONLY: every input takes the certificate handshake, as before the PSK was
   added (CTest fuzz.fuzz_tls.replay sets it). Read per input: a branch taken only by a
   process's first input would make AFL++ see unstable edges. */
static bool cert_only(void)
{
    return getenv("FZ_TLS_CERT_ONLY") != NULL;
}

static SSL_SESSION *psk_session(SSL *ssl)
{
    static const unsigned char aes256gcm[2] = {0x13, 0x02}; /* the suite both sides prefer */
    const SSL_CIPHER *c = SSL_CIPHER_find(ssl, aes256gcm);
    SSL_SESSION *s = SSL_SESSION_new();
    if (s == NULL || c == NULL || SSL_SESSION_set1_master_key(s, psk_key, sizeof(psk_key)) != 1 ||
        SSL_SESSION_set_cipher(s, c) != 1 ||
        SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) != 1) {
        SSL_SESSION_free(s);
        return NULL;
    }
    return s;
}

static int psk_use(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
                   SSL_SESSION **sess)
{
    SSL_SESSION *s = psk_session(ssl);
    if (s == NULL) {
        return 0; /* fails the handshake: never without an allocation failure */
    }
    if (md != NULL && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(s))) {
        SSL_SESSION_free(s); /* after a HelloRetryRequest with another hash: no PSK */
        s = NULL;
    }
    *sess = s;
    *id = psk_identity;
    *idlen = sizeof(psk_identity) - 1;
    return 1;
}

static int psk_find(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess)
{
    *sess = NULL; /* an unknown identity: no PSK, the certificate handshake */
    if (idlen == sizeof(psk_identity) - 1 && memcmp(id, psk_identity, idlen) == 0) {
        *sess = psk_session(ssl);
        return *sess != NULL;
    }
    return 1;
}

static void no_tickets(aiotp_tls_context *c)
{
    SSL_CTX *s = aiotp_tls_context_ssl_ctx(c);
    /* no session tickets: their contents carry the time of day */
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
    (void)SSL_CTX_set_num_tickets(s, 0);
    /* no session cache: it would carry state from one input to the next */
    (void)SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
}

static void init_once(void)
{
    static bool done;
    if (done) {
        return;
    }
    done = true;
    REQUIRE(RAND_set_rand_method(&rng_method) == 1, "HARNESS", "RAND_set_rand_method");
    REQUIRE(aiotp_tls_context_new(&g_sctx, AIOTP_TLS_SERVER) == 0, "HARNESS", "server ctx");
    REQUIRE(aiotp_tls_context_load_cert_chain(g_sctx, FZ_TLS_CERT, FZ_TLS_KEY) == 0, "HARNESS",
            "load %s", FZ_TLS_CERT);
    REQUIRE(aiotp_tls_context_new(&g_cctx, AIOTP_TLS_CLIENT) == 0, "HARNESS", "client ctx");
    REQUIRE(aiotp_tls_context_load_verify_locations(g_cctx, FZ_TLS_CERT, NULL) == 0, "HARNESS",
            "verify locations");
    REQUIRE(aiotp_tls_context_new(&g_cctx_bad, AIOTP_TLS_CLIENT) == 0, "HARNESS", "client ctx");
    REQUIRE(aiotp_tls_context_load_verify_locations(g_cctx_bad, FZ_TLS_CERT, NULL) == 0,
            "HARNESS", "verify locations");
    REQUIRE(aiotp_tls_context_new(&g_cctx_psk, AIOTP_TLS_CLIENT) == 0, "HARNESS", "client ctx");
    REQUIRE(aiotp_tls_context_load_verify_locations(g_cctx_psk, FZ_TLS_CERT, NULL) == 0,
            "HARNESS", "verify locations");
    SSL_CTX_set_psk_use_session_callback(aiotp_tls_context_ssl_ctx(g_cctx_psk), psk_use);
    SSL_CTX_set_psk_find_session_callback(aiotp_tls_context_ssl_ctx(g_sctx), psk_find);
    /* the PSK handshake without (EC)DHE (above); X25519 stays the certificate clients'
       first choice, so their handshakes need no HelloRetryRequest */
    SSL_CTX_set_options(aiotp_tls_context_ssl_ctx(g_cctx_psk), SSL_OP_ALLOW_NO_DHE_KEX);
    SSL_CTX_set_options(aiotp_tls_context_ssl_ctx(g_sctx), SSL_OP_ALLOW_NO_DHE_KEX);
    REQUIRE(SSL_CTX_set1_groups_list(aiotp_tls_context_ssl_ctx(g_cctx_psk), "P-256") == 1,
            "HARNESS", "groups");
    REQUIRE(SSL_CTX_set1_groups_list(aiotp_tls_context_ssl_ctx(g_sctx), "X25519") == 1,
            "HARNESS", "groups");
    no_tickets(g_sctx);
    no_tickets(g_cctx);
    no_tickets(g_cctx_bad);
    no_tickets(g_cctx_psk);
}

/* ---- one input's state ------------------------------------------------------------------- */

#define CLIENT 0
#define SERVER 1
#define HOLD_MAX 65536u

typedef struct side {
    int fd;                /* the transport's socket (the library owns it) */
    int m;                 /* the harness's end of that socket pair, -1 once closed */
    aiotp_transport *t;    /* retained from the completion, NULL before / on failure */
    bool done;             /* completion called */
    int done_status;
    unsigned made, lost, eofs;
    int lost_status;
    bool paused_w;         /* pause_writing told, resume_writing not yet */
    bool user_closed;      /* close() or abort() accepted */
    uint64_t tx;           /* plaintext bytes write() accepted (this side -> the other) */
    uint64_t rx;           /* plaintext bytes received (the other side -> this side) */
    bool m_fin;            /* the harness sent FIN (or reset) into this side's socket */
} side;

static struct {
    aiotp_sim *sim;
    aiotp_loop *loop;
    side s[2];
    /* direction d: side d's bytes, read from s[d].m, written to s[1 - d].m */
    unsigned char hold[2][HOLD_MAX];
    size_t nhold[2];
    bool destructive;      /* something that may fail a connection happened */
    bool bad_name;         /* the client expects another hostname: its handshake fails */
    bool psk;              /* the client offers the external PSK (TLS 1.3, no certificate) */
    uint32_t wire_crc;     /* of every byte relayed (FZ_TLS_WIRE: the determinism check) */
    aiotp_handle tick;     /* the 1 ms timer that keeps idle passes short (run_pass) */
    aiotp_time hs_timeout; /* the handshake timeout of this input */
} F;

static unsigned char pattern(int d, uint64_t i)
{
    return (unsigned char)(i * 7u + (i >> 8) * 13u + (unsigned)d * 101u + 1u);
}

static const char *const side_name[2] = {"client", "server"};

/* ---- the protocol (one table, data = the side) -------------------------------------------- */

static void check_alive(side *x, const char *cb)
{
    int d = (int)(x - F.s);
    REQUIRE(x->made == 1, "TLS-HS-3", "%s %s before connection_made", side_name[d], cb);
    REQUIRE(x->lost == 0, "BASE-CLOSE-1", "%s %s after connection_lost", side_name[d], cb);
}

static int p_made(aiotp_transport *t, void *data)
{
    side *x = data;
    (void)t;
    REQUIRE(x->made == 0 && x->lost == 0, "BASE-MADE-1", "%s connection_made twice",
            side_name[x - F.s]);
    REQUIRE(!x->done, "TLS-HS-2", "%s connection_made after the completion",
            side_name[x - F.s]);
    x->made = 1;
    return 0;
}

static int p_data(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    side *x = data;
    int d = (int)(x - F.s);
    const side *o = &F.s[1 - d];
    const unsigned char *p = buf;
    size_t i;
    (void)t;
    check_alive(x, "data_received");
    REQUIRE(x->eofs == 0, "PROTO-STREAM-3", "%s data after eof_received", side_name[d]);
    REQUIRE(len > 0, "PROTO-STREAM-1", "%s data_received with 0 bytes", side_name[d]);
    REQUIRE(x->rx + len <= o->tx, "TLS-DATA", "%s got %zu bytes at %llu, the %s wrote %llu",
            side_name[d], len, (unsigned long long)x->rx, side_name[1 - d],
            (unsigned long long)o->tx);
    for (i = 0; i < len; i++) {
        REQUIRE(p[i] == pattern(1 - d, x->rx + i), "TLS-DATA",
                "%s: byte %llu is %u, %u was written", side_name[d],
                (unsigned long long)(x->rx + i), p[i], pattern(1 - d, x->rx + i));
    }
    x->rx += len;
    return 0;
}

static int p_eof(aiotp_transport *t, void *data)
{
    side *x = data;
    (void)t;
    check_alive(x, "eof_received");
    REQUIRE(x->eofs == 0, "PROTO-STREAM-3", "%s eof_received twice", side_name[x - F.s]);
    x->eofs = 1;
    return 0;
}

static int p_pause(aiotp_transport *t, void *data)
{
    side *x = data;
    (void)t;
    check_alive(x, "pause_writing");
    REQUIRE(!x->paused_w, "FLOW-6", "%s pause_writing twice", side_name[x - F.s]);
    x->paused_w = true;
    return 0;
}

static int p_resume(aiotp_transport *t, void *data)
{
    side *x = data;
    (void)t;
    check_alive(x, "resume_writing");
    REQUIRE(x->paused_w, "FLOW-6", "%s resume_writing unpaused", side_name[x - F.s]);
    x->paused_w = false;
    return 0;
}

static int p_lost(aiotp_transport *t, void *data, int status)
{
    side *x = data;
    (void)t;
    check_alive(x, "connection_lost");
    x->lost = 1;
    x->lost_status = status;
    return 0;
}

static const aiotp_protocol proto = {
    sizeof(aiotp_protocol), AIOTP_PROTOCOL_STREAMING, p_made, p_lost, p_pause, p_resume,
    p_data, p_eof, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

static int factory(void *arg, const aiotp_protocol **p, void **data)
{
    *p = &proto;
    *data = arg;
    return 0;
}

static void on_done(void *arg, int status, aiotp_transport *t)
{
    side *x = arg;
    int d = (int)(x - F.s);
    REQUIRE(!x->done, "TLS-HS-4", "%s completion twice", side_name[d]);
    x->done = true;
    x->done_status = status;
    if (status == 0) {
        REQUIRE(t != NULL && x->made == 1 && x->lost == 0, "TLS-HS-2",
                "%s completion OK: transport %p, made %u, lost %u", side_name[d], (void *)t,
                x->made, x->lost);
        /* the handshake this input chose is the one that ran: with the PSK offered the
           server took it (no certificate), without it none was used */
        REQUIRE(SSL_session_reused(aiotp__tls_of(t)->ssl) == (F.psk ? 1 : 0), "HARNESS",
                "%s: PSK offered %d, used %d", side_name[d], (int)F.psk,
                SSL_session_reused(aiotp__tls_of(t)->ssl));
        {
            /* and without (EC)DHE: no ephemeral key from the peer on either side with the
               PSK; the certificate client always has one (the TLS 1.2 server keeps none) */
            EVP_PKEY *k = NULL;
            int has = SSL_get_peer_tmp_key(aiotp__tls_of(t)->ssl, &k);
            EVP_PKEY_free(k);
            REQUIRE(F.psk ? has == 0 : d == SERVER || has == 1, "HARNESS",
                    "%s: PSK offered %d, ephemeral key %d", side_name[d], (int)F.psk, has);
        }
        aiotp_transport_retain(t);
        x->t = t;
    } else {
        REQUIRE(t == NULL && x->made == 0 && x->lost == 0, "TLS-HS-3",
                "%s handshake failed (%s) but transport %p, made %u, lost %u", side_name[d],
                aiotp_err_name(status), (void *)t, x->made, x->lost);
    }
}

static void on_exception(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)arg;
    (void)loop;
    (void)ctx;
}

/* Time enough for a handshake timer went by before both handshakes completed: a failed
   handshake is then allowed (900 ms: the 1 s timeout with a margin for idle passes). */
static void note_time(void)
{
    aiotp_time limit = F.hs_timeout - 100 * AIOTP_NS_PER_MS;
    if (!(F.s[0].done && F.s[1].done) && aiotp_sim_now(F.sim) >= limit) {
        F.destructive = true;
    }
}

/* ---- checks after every record ----------------------------------------------------------------- */

static void check_state(void)
{
    int d;
    note_time();
    for (d = 0; d < 2; d++) {
        side *x = &F.s[d];
        const aiotp__tls *tl;
        if (x->t == NULL) {
            REQUIRE(x->made == 0 && x->lost == 0, "TLS-HS-3",
                    "%s: callbacks without a successful completion", side_name[d]);
            continue;
        }
        tl = aiotp__tls_of(x->t);
        REQUIRE(tl != NULL, "HARNESS", "not a TLS transport");
        REQUIRE(aiotp__tls_is_valid(&tl->st), "TLS-INV-1", "%s: state %d/%d/%d invalid",
                side_name[d], (int)tl->st.ly, (int)tl->st.app, (int)tl->st.rd);
        REQUIRE(aiotp__flow_is_valid(&tl->wflow), "FLOW-1", "%s: write flow invalid",
                side_name[d]);
        REQUIRE((tl->st.app == AIOTP__TLS_APP_LOST) == (x->lost == 1), "TLS-INV-2",
                "%s: app state %d, connection_lost told %u", side_name[d], (int)tl->st.app,
                x->lost);
        if (x->lost == 0) {
            fz_check_flow(&tl->wflow, x->paused_w, aiotp_transport_get_write_buffer_size(x->t),
                          "TLS-FLOW-1", "TLS-FLOW-1");
        }
        if (x->user_closed || x->lost) {
            REQUIRE(aiotp_transport_is_closing(x->t), "BASE-CLOSE-3",
                    "%s: closed but not is_closing", side_name[d]);
        }
    }
}

/* ---- the wire ------------------------------------------------------------------------------------- */

static void wire_account(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        F.wire_crc = (F.wire_crc * 31u) ^ p[i];
    }
}

/* Move up to n bytes of direction d from the sender's socket to the receiver's (what the
   receiver's socket cannot take stays in the harness's hold). */
static size_t relay(int d, size_t n)
{
    side *src = &F.s[d];
    side *dst = &F.s[1 - d];
    size_t moved = 0;
    if (src->m >= 0 && F.nhold[d] < n && F.nhold[d] < HOLD_MAX) {
        size_t want = n - F.nhold[d];
        ssize_t r;
        if (want > HOLD_MAX - F.nhold[d]) {
            want = HOLD_MAX - F.nhold[d];
        }
        r = aiotp_sim_read(F.sim, src->m, F.hold[d] + F.nhold[d], want);
        if (r > 0) {
            wire_account(F.hold[d] + F.nhold[d], (size_t)r);
            F.nhold[d] += (size_t)r;
        }
    }
    if (dst->m_fin || dst->m < 0) {
        F.nhold[d] = 0; /* nobody to give them to */
        return 0;
    }
    if (F.nhold[d] > 0) {
        size_t k = F.nhold[d] < n ? F.nhold[d] : n;
        ssize_t w = aiotp_sim_write(F.sim, dst->m, F.hold[d], k);
        if (w > 0) {
            moved = (size_t)w;
            memmove(F.hold[d], F.hold[d] + w, F.nhold[d] - (size_t)w);
            F.nhold[d] -= (size_t)w;
        }
    }
    return moved;
}

static size_t relay_all(int d)
{
    size_t total = 0;
    size_t m;
    do {
        m = relay(d, HOLD_MAX);
        total += m;
    } while (m > 0);
    return total;
}

static void inject(int d, const unsigned char *p, size_t n)
{
    side *dst = &F.s[1 - d];
    if (dst->m >= 0 && !dst->m_fin) {
        (void)aiotp_sim_write(F.sim, dst->m, p, n);
    }
    F.destructive = true;
}

static void fin_to(side *dst)
{
    if (dst->m >= 0 && !dst->m_fin) {
        (void)aiotp_sim_shutdown(F.sim, dst->m, SHUT_WR);
        dst->m_fin = true;
    }
    F.destructive = true;
}

/* The sim's idle wait jumps to the loop's next timer: with nothing ready, a pass would
   fire the handshake timer at once. A harness timer every millisecond keeps idle passes to
   1 ms of virtual time, so time moves by the input's OP_TIME records (and 1 ms per idle
   pass). */
static void tick(aiotp_loop *loop, void *arg)
{
    (void)arg;
    F.tick = 0;
    REQUIRE(aiotp_loop_call_later(loop, AIOTP_NS_PER_MS, tick, NULL, &F.tick) == 0, "HARNESS",
            "call_later");
}

static void run_pass(void)
{
    fz_run_pass(F.loop, false);
}

/* ---- the input's records ------------------------------------------------------------------------ */

enum {
    OP_PASS = 0, OP_WRITE, OP_CLOSE, OP_ABORT, OP_PAUSE_READING, OP_RESUME_READING,
    OP_RELAY, OP_RELAY_SMALL, OP_RELAY_ALL, OP_GARBAGE, OP_ALERT, OP_TRUNCATE, OP_FIN,
    OP_RESET, OP_TIME, OP_EAGAIN, OP_EINTR, OP_SEND_LIMIT, OP_CAPACITY, OP_LIMITS,
    OP_PASS2, OP_COUNT
};

static void do_write(side *x, size_t n)
{
    static unsigned char buf[4096];
    int d = (int)(x - F.s);
    size_t i;
    int rc;
    if (x->t == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        buf[i] = pattern(d, x->tx + i);
    }
    rc = aiotp_transport_write(x->t, buf, n);
    if (rc == 0) {
        x->tx += n;
    } else if (rc == AIOTP_ECLOSED) {
        REQUIRE(aiotp_transport_is_closing(x->t), "TLS-WRITE-2",
                "%s write refused with ECLOSED on an open transport", side_name[d]);
    } else {
        /* WRITE-WRITE-7: the write below failed (EPIPE, ECONNRESET, an injected error):
           the transport closes, and its records may have gone below in part, so the peer
           may decrypt a prefix of them: counted as written (the pattern goes on), and the
           run is no longer clean */
        REQUIRE(rc < 0 && rc > -4000 && aiotp_transport_is_closing(x->t), "WRITE-WRITE-7",
                "%s write: %s, closing %d", side_name[d], aiotp_err_name(rc),
                (int)aiotp_transport_is_closing(x->t));
        x->tx += n;
        F.destructive = true;
    }
}

static void step(uint8_t op, uint8_t a, uint16_t b)
{
    int d = (op & 0x80u) != 0 ? SERVER : CLIENT;
    side *x = &F.s[d];
    unsigned code = (op & 0x7fu) % OP_COUNT;
    int rc;

    switch (code) {
    case OP_PASS:
    case OP_PASS2:
        run_pass();
        break;
    case OP_WRITE:
        do_write(x, (size_t)b % 4096u);
        break;
    case OP_CLOSE:
    case OP_ABORT:
        if (x->t != NULL) {
            rc = code == OP_CLOSE ? aiotp_transport_close(x->t) : aiotp_transport_abort(x->t);
            if (rc == 0) {
                x->user_closed = true;
            }
            F.destructive = true;
        }
        break;
    case OP_PAUSE_READING:
        if (x->t != NULL) {
            (void)aiotp_transport_pause_reading(x->t);
        }
        break;
    case OP_RESUME_READING:
        if (x->t != NULL) {
            (void)aiotp_transport_resume_reading(x->t);
        }
        break;
    case OP_RELAY:
        (void)relay(d, (size_t)b % 2048u + 1u);
        break;
    case OP_RELAY_SMALL: /* record boundaries anywhere: 1..16 bytes, a % 8 + 1 times */
        {
            unsigned i;
            for (i = 0; i <= a % 8u; i++) {
                (void)relay(d, (size_t)b % 16u + 1u);
            }
        }
        break;
    case OP_RELAY_ALL:
        (void)relay_all(d);
        break;
    case OP_GARBAGE:
        {
            unsigned char g[64];
            size_t n = (size_t)a % 64u + 1u;
            size_t i;
            for (i = 0; i < n; i++) {
                g[i] = (unsigned char)(b + i * 37u);
            }
            (void)relay(d, (size_t)b % 2048u);
            inject(d, g, n);
        }
        break;
    case OP_ALERT: /* a plaintext alert record: level a % 3, description b & 0xff */
        {
            unsigned char rec[7] = {21, 3, 3, 0, 2, 0, 0};
            rec[5] = (unsigned char)(a % 3u);
            rec[6] = (unsigned char)(b & 0xffu);
            if ((b & 0x100u) != 0) {
                (void)relay_all(d);
            }
            inject(d, rec, sizeof(rec));
        }
        break;
    case OP_TRUNCATE: /* a record cut short: some of what is pending, then FIN */
        (void)relay(d, (size_t)b % 512u);
        fin_to(&F.s[1 - d]);
        break;
    case OP_FIN: /* a bare FIN: everything pending, then FIN */
        (void)relay_all(d);
        fin_to(&F.s[1 - d]);
        break;
    case OP_RESET:
        if (x->m >= 0 && !x->m_fin) {
            (void)aiotp_sim_reset(F.sim, x->m);
            x->m_fin = true;
        }
        F.destructive = true;
        break;
    case OP_TIME:
        if (!(F.s[0].done && F.s[1].done) || F.s[0].user_closed || F.s[1].user_closed) {
            F.destructive = true; /* a handshake or shutdown timer may fire */
        }
        aiotp_sim_advance(F.sim, (int64_t)b * 4 * AIOTP_NS_PER_MS);
        run_pass();
        break;
    case OP_EAGAIN:
        (void)aiotp_sim_send_eagain(F.sim, x->fd, a % 4u);
        break;
    case OP_EINTR:
        (void)aiotp_sim_eintr_once(F.sim, x->fd);
        break;
    case OP_SEND_LIMIT:
        (void)aiotp_sim_send_limit(F.sim, x->fd, (size_t)b % 512u);
        break;
    case OP_CAPACITY:
        (void)aiotp_sim_set_capacity(F.sim, x->fd, (size_t)b % 16384u + 1u);
        break;
    default: /* OP_LIMITS */
        if (x->t != NULL) {
            int64_t high = (int64_t)(b % 8192u);
            int64_t low = (int64_t)(a % 64u) * 32;
            rc = aiotp_transport_set_write_buffer_limits(x->t, high, low);
            (void)rc;
        }
        break;
    }
}

/* ---- one input --------------------------------------------------------------------------------- */

static bool everyone_settled(void)
{
    int d;
    for (d = 0; d < 2; d++) {
        if (!F.s[d].done || (F.s[d].made == 1 && F.s[d].lost == 0)) {
            return false;
        }
    }
    return true;
}

/* One round of the end: everything relayed both ways, one pass, the checks. Returns false
   when the round changed nothing: no byte relayed, and a pass that found nothing ready and
   no callback queued (an idle wait that moved virtual time), made no send or receive and
   traced only its own "iter" line, so the library ran nothing but the harness's tick.
   Every later round would be the same, virtual time apart (a timer of the library that
   falls due then emits lines: the round is not idle), so the end's loops stop there
   instead of running their full count of idle passes (fuzz/README.md, "Throughput"). */
static bool shuffle(void)
{
    aiotp_sim_stats a;
    aiotp_sim_stats b;
    aiotp_time t0;
    size_t lines;
    size_t moved = 0;
    int d;
    for (d = 0; d < 2; d++) {
        moved += relay_all(d);
    }
    aiotp_sim_get_stats(F.sim, &a);
    t0 = aiotp_sim_now(F.sim);
    lines = fz_oracle_lines();
    run_pass();
    aiotp_sim_get_stats(F.sim, &b);
    lines = fz_oracle_lines() - lines;
    check_state();
    return moved > 0 || b.waits != a.waits + 1 || b.idle_waits != a.idle_waits + 1 ||
           b.sends != a.sends || b.recvs != a.recvs || aiotp_sim_now(F.sim) <= t0 ||
           lines != 1;
}

int fz_tls_run(const uint8_t *data, size_t size)
{
    aiotp_connect_options co;
    size_t nrec;
    size_t i;
    int d;
    int rc;
    uint8_t setup = size > 0 ? data[0] : 0;

    init_once();
    memset(&F, 0, sizeof(F));
    fz_alloc_reset();
    fz_step = 0;
    g_rng = 0x61696f74ull;
    F.s[0].m = F.s[1].m = -1;
    data = size > 0 ? data + 1 : data;
    size = size > 0 ? size - 1 : 0;
    F.bad_name = (setup & 0x10u) != 0;
    /* bits 5-6: 0 the certificate handshake, else the client offers the external PSK
       (a TLS 1.3 handshake without certificate); not with a wrong name (its failure is the
       certificate's) nor TLS 1.2 only (no external PSK there) */
    F.psk = (setup & 0x60u) != 0 && !F.bad_name && (setup & 3u) != 1u && !cert_only();
    F.hs_timeout = (setup & 4u) != 0 ? AIOTP_NS_PER_SEC : 60 * AIOTP_NS_PER_SEC;

    fz_oracle_begin(4); /* two TLS transports and the two stream transports below */
    fz_loop_new(&F.sim, &F.loop, on_exception);
    tick(F.loop, NULL);
    for (d = 0; d < 2; d++) {
        REQUIRE(aiotp_sim_socketpair(F.sim, &F.s[d].fd, &F.s[d].m) == 0, "HARNESS",
                "socketpair");
    }
    /* setup bits 0-1: versions (any, 1.2 only, 1.3 only, any); bit 2: handshake timeout
       1 s (else the default 60 s); bit 3: shutdown timeout 1 s (else 30 s); bit 4: the
       client expects another host name */
    {
        static const aiotp_tls_version vers[4] = {AIOTP_TLS_VERSION_ANY, AIOTP_TLS_VERSION_1_2,
                                                  AIOTP_TLS_VERSION_1_3, AIOTP_TLS_VERSION_ANY};
        aiotp_tls_version v = vers[setup & 3u];
        REQUIRE(aiotp_tls_context_set_versions(g_sctx, v, v) == 0, "HARNESS", "versions");
    }
    aiotp_connect_options_init(&co);
    co.sock = F.s[CLIENT].fd;
    co.tls = F.bad_name ? g_cctx_bad : F.psk ? g_cctx_psk : g_cctx;
    co.server_hostname = F.bad_name ? "example.invalid" : "localhost";
    co.tls_handshake_timeout = (setup & 4u) != 0 ? AIOTP_NS_PER_SEC : 0;
    co.tls_shutdown_timeout = (setup & 8u) != 0 ? AIOTP_NS_PER_SEC : 0;
    rc = aiotp_loop_create_connection(F.loop, factory, &F.s[CLIENT], NULL, 0, &co, on_done,
                                      &F.s[CLIENT]);
    REQUIRE(rc == 0, "HARNESS", "create_connection: %s", aiotp_err_name(rc));
    aiotp_connect_options_init(&co);
    co.tls = g_sctx;
    co.tls_handshake_timeout = (setup & 4u) != 0 ? AIOTP_NS_PER_SEC : 0;
    co.tls_shutdown_timeout = (setup & 8u) != 0 ? AIOTP_NS_PER_SEC : 0;
    rc = aiotp_loop_connect_accepted_socket_opts(F.loop, factory, &F.s[SERVER], F.s[SERVER].fd,
                                                 &co, on_done, &F.s[SERVER]);
    REQUIRE(rc == 0, "HARNESS", "connect_accepted_socket_opts: %s", aiotp_err_name(rc));
    run_pass();
    check_state();

    nrec = fz_run_records(data, size, step, check_state);

    /* The end. First the knobs off, reading on, and the wire open until nothing moves:
       without anything destructive both handshakes complete and every accepted byte
       arrives. */
    fz_step = nrec + 1;
    for (d = 0; d < 2; d++) {
        (void)aiotp_sim_set_capacity(F.sim, F.s[d].fd, (size_t)1 << 20);
        (void)aiotp_sim_send_limit(F.sim, F.s[d].fd, 0);
        (void)aiotp_sim_send_eagain(F.sim, F.s[d].fd, 0);
        if (F.s[d].t != NULL) {
            (void)aiotp_transport_resume_reading(F.s[d].t);
            /* no limit blocks the end (the defaults back) */
            (void)aiotp_transport_set_write_buffer_limits(F.s[d].t, -1, -1);
        }
    }
    for (i = 0; i < 64 && shuffle(); i++) {
    }
    if (!F.destructive) {
        if (F.bad_name) {
            REQUIRE(F.s[CLIENT].done && F.s[CLIENT].done_status != 0, "TLS-HS-1",
                    "a client expecting another name completed: %s",
                    aiotp_err_name(F.s[CLIENT].done_status));
        } else {
            for (d = 0; d < 2; d++) {
                REQUIRE(F.s[d].done && F.s[d].done_status == 0, "TLS-HS-1",
                        "%s: no destructive event, but the handshake %s (%s)", side_name[d],
                        F.s[d].done ? "failed" : "did not complete",
                        aiotp_err_name(F.s[d].done_status));
            }
            for (d = 0; d < 2; d++) {
                REQUIRE(F.s[d].rx == F.s[1 - d].tx, "TLS-DATA",
                        "%s received %llu of the %llu bytes the %s wrote", side_name[d],
                        (unsigned long long)F.s[d].rx, (unsigned long long)F.s[1 - d].tx,
                        side_name[1 - d]);
            }
        }
    }
    /* Then close: the client first, and the shutdown runs on the open wire. */
    {
        bool clean = !F.destructive && !F.bad_name;
        for (d = 0; d < 2; d++) {
            if (F.s[d].t != NULL && aiotp_transport_close(F.s[d].t) == 0) {
                F.s[d].user_closed = true;
            }
            for (i = 0; i < 8 && shuffle(); i++) {
            }
        }
        for (i = 0; i < 32 && !everyone_settled() && shuffle(); i++) {
        }
        if (clean) {
            for (d = 0; d < 2; d++) {
                REQUIRE(F.s[d].lost == 1 && F.s[d].lost_status == 0, "TLS-CLOSE",
                        "%s: a clean close gave lost %u status %s", side_name[d], F.s[d].lost,
                        aiotp_err_name(F.s[d].lost_status));
            }
        }
    }
    /* Whatever is left: the timers (the shutdown's, the handshake's), then FIN both ways. */
    for (i = 0; i < 4 && !everyone_settled(); i++) {
        aiotp_sim_advance(F.sim, 61 * AIOTP_NS_PER_SEC);
        (void)shuffle();
    }
    for (d = 0; d < 2 && !everyone_settled(); d++) {
        fin_to(&F.s[d]);
    }
    for (i = 0; i < 16 && !everyone_settled() && shuffle(); i++) {
    }
    for (d = 0; d < 2; d++) {
        side *x = &F.s[d];
        REQUIRE(x->done, "TLS-HS-4", "%s: no completion", side_name[d]);
        if (x->done_status == 0) {
            REQUIRE(x->made == 1 && x->lost == 1, "BASE-LOST-1",
                    "%s: connection_made %u, connection_lost %u at the end", side_name[d],
                    x->made, x->lost);
        } else {
            REQUIRE(x->made == 0 && x->lost == 0, "TLS-HS-3",
                    "%s: failed handshake told made %u lost %u", side_name[d], x->made, x->lost);
        }
    }
    run_pass(); /* the graveyard pass */
    if (getenv("FZ_TLS_WIRE") != NULL) {
        fprintf(stderr, "fz_tls: wire %08lx, client rx %llu tx %llu, server rx %llu tx %llu\n",
                (unsigned long)F.wire_crc, (unsigned long long)F.s[0].rx,
                (unsigned long long)F.s[0].tx, (unsigned long long)F.s[1].rx,
                (unsigned long long)F.s[1].tx);
    }
    for (d = 0; d < 2; d++) {
        if (F.s[d].t != NULL) {
            aiotp_transport_release(F.s[d].t);
            F.s[d].t = NULL;
        }
    }
    REQUIRE(aiotp_loop_cancel(F.loop, F.tick) == 0, "HARNESS", "cancel the tick");
    aiotp_loop_free(F.loop);
    F.loop = NULL;
    for (d = 0; d < 2; d++) {
        if (F.s[d].m >= 0) {
            (void)aiotp_sim_close(F.sim, F.s[d].m);
            F.s[d].m = -1;
        }
    }
    ERR_clear_error();
    fz_end(F.sim);
    F.sim = NULL;
    return 0;
}
