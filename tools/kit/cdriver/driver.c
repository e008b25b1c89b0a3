/*
 * tools/kit/cdriver/driver.c - run one scenario (docs/scenario-format.md) on aiotp's
 * public API and write its trace.
 *
 *   aiotp-kit-driver SCENARIO_FILE NAME TRACE_OUT
 *
 * The subject transport is made with aiotp_loop_connect_accepted_socket (setups unix,
 * tcp), aiotp_loop_create_connection (connect), aiotp_loop_create_server (server) or
 * aiotp_loop_create_datagram_endpoint (udp: connected to the peer; udp-unconnected: bound
 * to 127.0.0.1), aiotp_loop_connect_read_pipe (read-pipe: the peer writes the pipe's other
 * end), aiotp_loop_connect_write_pipe (write-pipe: the peer reads it) or
 * aiotp_loop_subprocess_exec / aiotp_loop_subprocess_shell (exec, shell: the child is the
 * Python driver's child program of the same name, run by /usr/bin/python3 or by
 * $AIOTP_KIT_PYTHON; three pipes, or stderr=stdout); the library's own
 * trace hook writes the trace (format 3: its query and exc lines too); the peer is a plain
 * socket or pipe end played by the driver between passes, and the driver's actions are
 * written as "# kit ..." lines. One loop pass is one aiotp_loop_run_once(), bounded by a
 * 20 ms timer.
 *
 * Exit 0: the scenario ran (its expectations are judged on the trace afterwards);
 * 2: usage or scenario error; 3: the scenario needs something aiotp or this driver does
 * not have yet (the ssl and sendfile kinds).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aiotp/aiotp.h"
#ifdef AIOTP_KIT_TLS
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "aiotp/tls.h"
#endif

#define MAXW 16
#define MAXLINE 1024
#define MAXSTEPS 256
#define MAXREACT 64
#define MAXACT 8
#define PATTERN 251u

typedef struct words {
    int n;
    char *w[MAXW];
} words;

typedef struct reaction {
    char cb[48];
    int k; /* 0: every occurrence */
    int nact;
    words act[MAXACT];
} reaction;

typedef struct driver {
    FILE *out;
    char setup[32];
    bool dgram;          /* kind datagram: the udp setups */
    bool pipe;           /* kind pipe: the read-pipe and write-pipe setups */
    bool subproc;        /* kind subprocess: the exec and shell setups */
    char child[16];      /* exec, shell: the child program (child=NAME) */
    bool stderr_stdout;  /* exec, shell: stderr=stdout */
    bool invalid;        /* exec invalid=on: arguments the method refuses */
    int sndbuf, rcvbuf, bufsize;
    bool autoread_default;
    bool buffered;
    int nsteps;
    words steps[MAXSTEPS];
    int nreact;
    reaction react[MAXREACT];
    aiotp_loop *loop;
    aiotp_transport *t;
    aiotp_server *server;
    bool server_ready;
    bool made, lost;
    int counts_n;
    char counts_name[32][48];
    int counts[32];
    uint64_t rx_total;
    unsigned long long pat; /* payload pattern offset */
    int peer, listener;
    unsigned char *peer_out;
    size_t peer_out_len, peer_out_cap;
    bool peer_autoread, peer_eof;
    uint64_t peer_total;
    int subject_fd;
    int port;
    struct sockaddr_in peer_addr;    /* udp: the peer's address */
    struct sockaddr_in subject_addr; /* udp: the subject's address (its sockname) */
    unsigned char *buf;  /* get_buffer's buffer */
    size_t buflen;
    int fail_next, ret_next, buffer_next; /* results a reaction asked for */
    bool tls;            /* kind ssl: setup tls-client */
    bool start_done;     /* the creation's completion ran (or the call refused) */
    bool start_failed;   /* ... with an error */
    uint64_t raw_total;  /* handshake=off: the bytes the TLS peer read and ignored */
    bool over_unix;      /* tls-client over=unix: a socketpair, not a loopback connection */
    aiotp_transport *extra[8]; /* server: the accepted transports after the subject */
    int nextra, extra_lost;
    int extra_peer[8];   /* server: the plain clients of peer connect-more */
    int nextra_peer;
    int server_port;
    struct rlimit saved_limit; /* fdlimit tight: the limit to restore */
    aiotp_op op;         /* the pending creation, for cancel-start */
#ifdef AIOTP_KIT_TLS
    bool hs_on;          /* the peer takes part in the handshake (handshake=off: no) */
    bool hs_done, tls_closed;
    bool sent_cn, got_cn; /* our close_notify went out; the subject's came */
    aiotp_time hs_timeout; /* tls-client timeout=S (seconds; 0: not given) */
    aiotp_tls_context *cctx;
    SSL_CTX *pctx;
    SSL *pssl;
    BIO *rbio, *wbio;
    unsigned char *plain; /* plaintext the peer sends once the handshake is done */
    size_t plain_len, plain_cap;
    char dir[64], certfile[96];
#endif
} driver;

static driver D;

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static void kit(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void kit(const char *fmt, ...)
{
    va_list ap;
    fputs("# kit ", D.out);
    va_start(ap, fmt);
    vfprintf(D.out, fmt, ap);
    va_end(ap);
    fputc('\n', D.out);
}

static void on_trace(void *arg, const char *line)
{
    (void)arg;
    fputs(line, D.out);
    fputc('\n', D.out);
}

static void die(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("aiotp-kit-driver: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void split(char *s, words *w, const char *seps)
{
    char *save = NULL;
    char *tok;
    w->n = 0;
    for (tok = strtok_r(s, seps, &save); tok != NULL && w->n < MAXW;
         tok = strtok_r(NULL, seps, &save)) {
        w->w[w->n++] = tok;
    }
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p == NULL) {
        die("out of memory");
    }
    memcpy(p, s, n);
    return p;
}

/* Copies of the scenario's words that live until the end of the run (freed by
   free_strs). */
static char **strs;
static size_t nstrs;
static size_t strs_cap;

static char *keepstr(const char *s)
{
    char *p = dupstr(s);
    if (nstrs == strs_cap) {
        size_t cap = strs_cap ? strs_cap * 2 : 64;
        char **q = realloc(strs, cap * sizeof(*q));
        if (q == NULL) {
            die("out of memory");
        }
        strs = q;
        strs_cap = cap;
    }
    strs[nstrs++] = p;
    return p;
}

static void free_strs(void)
{
    while (nstrs > 0) {
        free(strs[--nstrs]);
    }
    free(strs);
    strs = NULL;
    strs_cap = 0;
}

/* ---- scenario file ----------------------------------------------------------------- */

static void load(const char *path, const char *name)
{
    char line[MAXLINE];
    FILE *f = fopen(path, "r");
    bool in = false, found = false;
    if (f == NULL) {
        die("%s: %s", path, strerror(errno));
    }
    D.bufsize = 65536;
    D.autoread_default = true;
#ifdef AIOTP_KIT_TLS
    D.hs_on = true;
#endif
    while (fgets(line, sizeof line, f) != NULL) {
        char *p = line, *rest;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0' || *p == '#') {
            continue;
        }
        rest = strchr(p, ' ');
        if (rest != NULL) {
            *rest++ = '\0';
        } else {
            rest = p + strlen(p);
        }
        if (strcmp(p, "scenario") == 0) {
            in = strcmp(rest, name) == 0;
            found = found || in;
            continue;
        }
        if (!in) {
            continue;
        }
        if (strcmp(p, "kind") == 0) {
            D.dgram = strcmp(rest, "datagram") == 0;
            D.pipe = strcmp(rest, "pipe") == 0;
            D.subproc = strcmp(rest, "subprocess") == 0;
#ifdef AIOTP_KIT_TLS
            D.tls = strcmp(rest, "ssl") == 0;
#endif
            if (strcmp(rest, "stream") != 0 && !D.dgram && !D.pipe && !D.subproc && !D.tls) {
                fprintf(stderr, "aiotp-kit-driver: kind %s not in aiotp yet\n", rest);
                exit(3);
            }
        } else if (strcmp(p, "setup") == 0) {
            words w;
            int i;
            split(keepstr(rest), &w, " ");
            if (w.n < 1 || strlen(w.w[0]) >= sizeof D.setup) {
                die("bad setup");
            }
            strcpy(D.setup, w.w[0]);
            for (i = 1; i < w.n; i++) {
                if (strncmp(w.w[i], "sndbuf=", 7) == 0) D.sndbuf = atoi(w.w[i] + 7);
                else if (strncmp(w.w[i], "rcvbuf=", 7) == 0) D.rcvbuf = atoi(w.w[i] + 7);
                else if (strncmp(w.w[i], "bufsize=", 8) == 0) D.bufsize = atoi(w.w[i] + 8);
                else if (strcmp(w.w[i], "proto=buffered") == 0) D.buffered = true;
                else if (strcmp(w.w[i], "autoread=off") == 0) D.autoread_default = false;
                else if (strncmp(w.w[i], "child=", 6) == 0 &&
                         strlen(w.w[i] + 6) < sizeof D.child) strcpy(D.child, w.w[i] + 6);
                else if (strcmp(w.w[i], "stderr=stdout") == 0) D.stderr_stdout = true;
                else if (strcmp(w.w[i], "invalid=on") == 0) D.invalid = true;
#ifdef AIOTP_KIT_TLS
                else if (strcmp(w.w[i], "handshake=off") == 0) D.hs_on = false;
                else if (strcmp(w.w[i], "over=unix") == 0) D.over_unix = true;
                else if (strncmp(w.w[i], "timeout=", 8) == 0)
                    D.hs_timeout = (aiotp_time)(atof(w.w[i] + 8) * 1e9);
#endif
            }
        } else if (strcmp(p, "on") == 0) {
            reaction *r;
            char *colon = strchr(rest, ':'), *hash, *cb;
            words acts;
            int i;
            if (colon == NULL || D.nreact == MAXREACT) {
                die("bad reaction");
            }
            *colon = '\0';
            r = &D.react[D.nreact++];
            cb = rest;
            if (strchr(cb, '.') != NULL) {
                cb = strchr(cb, '.') + 1; /* "t1.": one subject */
            }
            hash = strchr(cb, '#');
            if (hash != NULL) {
                *hash = '\0';
                r->k = atoi(hash + 1);
            }
            snprintf(r->cb, sizeof r->cb, "%s", cb);
            split(keepstr(colon + 1), &acts, ";");
            for (i = 0; i < acts.n && i < MAXACT; i++) {
                split(acts.w[i], &r->act[i], " ");
            }
            r->nact = acts.n < MAXACT ? acts.n : MAXACT;
        } else if (strcmp(p, "start") == 0 || strcmp(p, "run") == 0 ||
                   strcmp(p, "peer") == 0 || strcmp(p, "call") == 0 ||
                   strcmp(p, "pause") == 0) {
            char buf[2 * MAXLINE + 2]; /* p and rest come from one line of MAXLINE */
            if (D.nsteps == MAXSTEPS) {
                die("too many steps");
            }
            snprintf(buf, sizeof buf, "%s %s", p, rest);
            split(keepstr(buf), &D.steps[D.nsteps++], " ");
        }
    }
    fclose(f);
    if (!found) {
        die("no scenario %s in %s", name, path);
    }
    if (strcmp(D.setup, "unix") != 0 && strcmp(D.setup, "tcp") != 0 &&
        strcmp(D.setup, "connect") != 0 && strcmp(D.setup, "server") != 0 &&
        strcmp(D.setup, "udp") != 0 && strcmp(D.setup, "udp-unconnected") != 0 &&
        strcmp(D.setup, "read-pipe") != 0 && strcmp(D.setup, "write-pipe") != 0 &&
        strcmp(D.setup, "exec") != 0 && strcmp(D.setup, "shell") != 0 &&
        !(D.tls && strcmp(D.setup, "tls-client") == 0)) {
        fprintf(stderr, "aiotp-kit-driver: setup %s not in aiotp yet\n", D.setup);
        exit(3);
    }
}

/* ---- payload and peer --------------------------------------------------------------- */

static unsigned char *payload(size_t n)
{
    unsigned char *p = malloc(n > 0 ? n : 1);
    size_t i;
    if (p == NULL) {
        die("out of memory");
    }
    for (i = 0; i < n; i++) {
        p[i] = (unsigned char)((D.pat++ % (1u << 20)) % PATTERN);
    }
    return p;
}

/* Append n bytes to a growing buffer. */
static void append(unsigned char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        *cap = (*len + n) * 2;
        *buf = realloc(*buf, *cap);
        if (*buf == NULL) {
            die("out of memory");
        }
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

/* The peer queues n pattern bytes to send ("peer send n=N"). */
static void queue_send(unsigned char **buf, size_t *len, size_t *cap, size_t n)
{
    unsigned char *p = payload(n);
    append(buf, len, cap, p, n);
    free(p);
    kit("peer send n=%zu", n);
}

/* The datagram peer reads up to limit datagrams (-1: all there are). */
static void peer_read_dgrams(long limit)
{
    static unsigned char buf[1 << 17];
    long got = 0;
    while (D.peer >= 0 && (limit < 0 || got < limit)) {
        ssize_t n = recv(D.peer, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                kit("peer recv-error %s", aiotp_err_name(-errno));
            }
            return;
        }
        got++;
        kit("peer dgram n=%ld", (long)n);
    }
}

/* One read of the stream (or pipe) peer: the byte count; 0 at EOF ("peer eof" written,
   peer_eof set); -1 when nothing is there, or after an error ("peer reset" or "peer
   recv-error", peer_eof set). */
static ssize_t peer_recv(void *buf, size_t want)
{
    ssize_t n = D.pipe ? read(D.peer, buf, want) : recv(D.peer, buf, want, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            kit(errno == ECONNRESET ? "peer reset" : "peer recv-error %s",
                aiotp_err_name(-errno));
            D.peer_eof = true;
        }
        return -1;
    }
    if (n == 0) {
        kit("peer eof");
        D.peer_eof = true;
    }
    return n;
}

static void peer_read(long limit)
{
    static unsigned char buf[1 << 18];
    long got = 0;
    if (D.dgram) {
        peer_read_dgrams(limit);
        return;
    }
    if (D.peer < 0 || D.peer_eof || strcmp(D.setup, "read-pipe") == 0) {
        return;
    }
    while (limit < 0 || got < limit) {
        size_t want = sizeof buf;
        ssize_t n;
        if (limit >= 0 && (size_t)(limit - got) < want) {
            want = (size_t)(limit - got);
        }
        n = peer_recv(buf, want);
        if (n <= 0) {
            return;
        }
        got += n;
        D.peer_total += (uint64_t)n;
        kit("peer recv n=%ld total=%llu", (long)n, (unsigned long long)D.peer_total);
    }
}

static void peer_send_some(void)
{
    while (D.peer >= 0 && D.peer_out_len > 0) {
        ssize_t n = D.pipe ? write(D.peer, D.peer_out, D.peer_out_len)
                           : send(D.peer, D.peer_out, D.peer_out_len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                kit("peer send-error %s", aiotp_err_name(-errno));
                D.peer_out_len = 0;
            }
            return;
        }
        memmove(D.peer_out, D.peer_out + n, D.peer_out_len - (size_t)n);
        D.peer_out_len -= (size_t)n;
    }
}


#ifdef AIOTP_KIT_TLS
/* ---- the TLS peer (kind ssl) ----------------------------------------------------------
   The TLS server at the other end of a tls-client subject: an OpenSSL SSL object over two
   memory BIOs, pumped between passes over the non-blocking socket (the same endpoint as
   the Python driver's TlsPeer). handshake=off: it never answers the ClientHello (what
   arrives is written as "peer raw n="). Plaintext it receives: "peer recv n= total=";
   a close_notify: "peer close_notify total=T", answered with its own ("peer
   close_notify-sent"; after "peer close_notify" the subject's answer is that line); a
   TCP EOF: "peer eof". autoread=off stops reading only once the
   handshake is done. */

static void tls_die(const char *what)
{
    ERR_print_errors_fp(stderr);
    die("%s failed", what);
}

/* A self-signed certificate for localhost (EC P-256, valid two days), made now: the
   peer serves it; the subject's client context trusts it (written to a file in a
   temporary directory, removed at the end). */
static void tls_setup(void)
{
    static const struct {
        int nid;
        const char *value;
    } exts[] = {
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"},
        {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
    };
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX v3;
    FILE *f;
    size_t i;
    int st;
    if (key == NULL || x == NULL) {
        tls_die("key generation");
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400L);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    for (i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value);
        if (e == NULL || X509_add_ext(x, e, -1) != 1) {
            tls_die("certificate extension");
        }
        X509_EXTENSION_free(e);
    }
    if (X509_sign(x, key, EVP_sha256()) == 0) {
        tls_die("certificate signature");
    }
    strcpy(D.dir, "/tmp/aiotp-kit-tls-XXXXXX");
    if (mkdtemp(D.dir) == NULL) {
        die("mkdtemp: %s", strerror(errno));
    }
    snprintf(D.certfile, sizeof D.certfile, "%s/cert.pem", D.dir);
    f = fopen(D.certfile, "w");
    if (f == NULL || PEM_write_X509(f, x) != 1 || fclose(f) != 0) {
        die("%s: cannot write", D.certfile);
    }
    /* the subject's side: a client context (hostname check on) trusting the certificate */
    st = aiotp_tls_context_new(&D.cctx, AIOTP_TLS_CLIENT);
    if (st == 0) {
        st = aiotp_tls_context_load_verify_locations(D.cctx, D.certfile, NULL);
    }
    if (st != 0) {
        die("client context: %s", aiotp_err_name(st));
    }
    /* the peer's side */
    D.pctx = SSL_CTX_new(TLS_server_method());
    if (D.pctx == NULL || SSL_CTX_use_certificate(D.pctx, x) != 1 ||
        SSL_CTX_use_PrivateKey(D.pctx, key) != 1) {
        tls_die("peer context");
    }
    D.pssl = SSL_new(D.pctx);
    D.rbio = BIO_new(BIO_s_mem());
    D.wbio = BIO_new(BIO_s_mem());
    if (D.pssl == NULL || D.rbio == NULL || D.wbio == NULL) {
        tls_die("peer SSL");
    }
    BIO_set_mem_eof_return(D.rbio, -1); /* empty: "retry", until the socket's EOF */
    SSL_set_bio(D.pssl, D.rbio, D.wbio);
    SSL_set_accept_state(D.pssl);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void tls_teardown(void)
{
    SSL_free(D.pssl); /* frees the BIOs */
    SSL_CTX_free(D.pctx);
    aiotp_tls_context_free(D.cctx);
    free(D.plain);
    unlink(D.certfile);
    rmdir(D.dir);
}

static void tls_raw_read(void)
{
    static unsigned char buf[1 << 18];
    while (D.peer >= 0 && !D.peer_eof) {
        ssize_t n = peer_recv(buf, sizeof buf);
        if (n < 0) {
            return;
        }
        if (n == 0) {
            if (D.hs_on) {
                BIO_set_mem_eof_return(D.rbio, 0);
            }
            return;
        }
        if (!D.hs_on) {
            D.raw_total += (uint64_t)n;
            kit("peer raw n=%ld", (long)n);
        } else if (BIO_write(D.rbio, buf, (int)n) != (int)n) {
            tls_die("BIO_write");
        }
    }
}

static void tls_raw_write(void)
{
    char chunk[1 << 14];
    int n;
    while ((n = BIO_read(D.wbio, chunk, sizeof chunk)) > 0) {
        append(&D.peer_out, &D.peer_out_len, &D.peer_out_cap, chunk, (size_t)n);
    }
    peer_send_some();
}

static void tls_close_notify(void)
{
    D.tls_closed = true;
    D.sent_cn = true;
    (void)SSL_shutdown(D.pssl);
    ERR_clear_error();
    kit("peer close_notify-sent");
}

/* After our own close_notify: the subject's answer ends the shutdown. */
static void tls_await_close_notify(void)
{
    int r = SSL_shutdown(D.pssl);
    if (r == 1) {
        D.got_cn = true;
        kit("peer close_notify total=%llu", (unsigned long long)D.peer_total);
    } else if (r < 0 && SSL_get_error(D.pssl, r) != SSL_ERROR_WANT_READ) {
        D.got_cn = true;
        kit("peer tls-error");
    }
    ERR_clear_error();
}

static void tls_read_plain(long limit)
{
    static unsigned char buf[1 << 18];
    long got = 0;
    while (!D.tls_closed && (limit < 0 || got < limit)) {
        int want = (int)sizeof buf, n;
        if (limit >= 0 && limit - got < want) {
            want = (int)(limit - got);
        }
        n = SSL_read(D.pssl, buf, want);
        if (n <= 0) {
            int e = SSL_get_error(D.pssl, n);
            if (e == SSL_ERROR_WANT_READ) {
                return;
            }
            if (e == SSL_ERROR_ZERO_RETURN) {
                D.got_cn = true;
                kit("peer close_notify total=%llu", (unsigned long long)D.peer_total);
                tls_close_notify();
            } else {
                kit("peer tls-error");
                D.tls_closed = true;
            }
            ERR_clear_error();
            return;
        }
        got += n;
        D.peer_total += (uint64_t)n;
        kit("peer recv n=%d total=%llu", n, (unsigned long long)D.peer_total);
    }
}

static void tls_step(bool read_plain)
{
    if (!D.hs_on) {
        return;
    }
    if (!D.hs_done) {
        int r = SSL_do_handshake(D.pssl);
        if (r == 1) {
            D.hs_done = true;
            kit("peer handshake ok");
        } else {
            int e = SSL_get_error(D.pssl, r);
            ERR_clear_error();
            if (e != SSL_ERROR_WANT_READ) {
                kit("peer handshake-failed");
                D.hs_on = false;
            }
            return;
        }
    }
    if (D.plain_len > 0 && !D.tls_closed) {
        if (SSL_write(D.pssl, D.plain, (int)D.plain_len) != (int)D.plain_len) {
            tls_die("SSL_write");
        }
        D.plain_len = 0;
    }
    if (read_plain && !D.tls_closed) {
        tls_read_plain(-1);
    } else if (read_plain && D.sent_cn && !D.got_cn) {
        tls_await_close_notify();
    }
}

static void tls_pump(void)
{
    if (D.peer < 0) {
        return;
    }
    if (D.peer_autoread || !D.hs_done) {
        tls_raw_read();
    }
    tls_step(D.peer_autoread);
    tls_raw_write();
}

/* The TLS peer's own actions; false: the action is the stream peer's (shut, close,
   reset, autoread). */
static bool tls_peer_act(words *w, int i0)
{
    const char *op = w->n > i0 ? w->w[i0] : "";
    if (strcmp(op, "send") == 0 && w->n > i0 + 1) {
        queue_send(&D.plain, &D.plain_len, &D.plain_cap, (size_t)atol(w->w[i0 + 1]));
        tls_step(false);
        tls_raw_write();
        return true;
    }
    if (strcmp(op, "close_notify") == 0) {
        tls_close_notify();
        tls_raw_write();
        return true;
    }
    if (strcmp(op, "read") == 0) {
        tls_raw_read();
        tls_step(false);
        tls_read_plain(w->n > i0 + 1 && strcmp(w->w[i0 + 1], "all") != 0 ? atol(w->w[i0 + 1])
                                                                         : -1);
        tls_raw_write();
        return true;
    }
    return false;
}
#endif

static void pump(void)
{
#ifdef AIOTP_KIT_TLS
    if (D.tls) {
        tls_pump();
        return;
    }
#endif
    peer_send_some();
    if (D.peer_autoread) {
        peer_read(-1);
    }
}

static void noop(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

static void one_pass(void)
{
    aiotp_handle h = 0;
    aiotp_loop_call_later(D.loop, 20 * AIOTP_NS_PER_MS, noop, NULL, &h);
    aiotp_loop_run_once(D.loop);
    aiotp_loop_cancel(D.loop, h);
    pump();
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void flush_peer(void)
{
    double end = now() + 10;
    while ((D.peer_out_len > 0
#ifdef AIOTP_KIT_TLS
            || D.plain_len > 0
#endif
            ) && now() < end) {
        one_pass();
    }
}

/* A blocking loopback connection to port: 0 and *fd, or the negated errno. */
static int try_connect(int port, int *fd)
{
    struct sockaddr_in a;
    int s = socket(AF_INET, SOCK_STREAM, 0), err;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (s < 0) {
        return -errno;
    }
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        err = -errno;
        close(s);
        return err;
    }
    *fd = s;
    return 0;
}

static void peer_act(words *w, int i0)
{
    const char *op = w->n > i0 ? w->w[i0] : "";
#ifdef AIOTP_KIT_TLS
    if (D.tls && tls_peer_act(w, i0)) {
        return;
    }
#endif
    if (strcmp(op, "send") == 0 && w->n > i0 + 1) {
        queue_send(&D.peer_out, &D.peer_out_len, &D.peer_out_cap, (size_t)atol(w->w[i0 + 1]));
        peer_send_some();
    } else if (strcmp(op, "sendto") == 0 && w->n > i0 + 1) {
        size_t n = (size_t)atol(w->w[i0 + 1]);
        unsigned char *p = payload(n);
        if (D.peer >= 0 &&
            sendto(D.peer, p, n, 0, (struct sockaddr *)&D.subject_addr, sizeof D.subject_addr) < 0) {
            kit("peer send-error %s", aiotp_err_name(-errno));
        }
        free(p);
        kit("peer sendto n=%zu", n);
    } else if (strcmp(op, "close") == 0 && D.dgram) {
        if (D.peer >= 0) {
            close(D.peer);
            D.peer = -1;
        }
        kit("peer close");
    } else if (strcmp(op, "shut") == 0) {
        flush_peer();
        shutdown(D.peer, SHUT_WR);
        kit("peer shut");
    } else if (strcmp(op, "close") == 0) {
        flush_peer();
        close(D.peer);
        D.peer = -1;
        kit("peer close");
    } else if (strcmp(op, "reset") == 0) {
        struct linger lg = {1, 0};
        setsockopt(D.peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(D.peer);
        D.peer = -1;
        kit("peer reset-sent");
    } else if (strcmp(op, "read") == 0) {
        peer_read(w->n > i0 + 1 && strcmp(w->w[i0 + 1], "all") != 0 ? atol(w->w[i0 + 1]) : -1);
    } else if (strcmp(op, "autoread") == 0 && w->n > i0 + 1) {
        D.peer_autoread = strcmp(w->w[i0 + 1], "on") == 0;
    } else if (strcmp(op, "connect-more") == 0 && w->n > i0 + 1) {
        /* N more plain clients of the server, connected before the next pass */
        int i, n = atoi(w->w[i0 + 1]);
        for (i = 0; i < n; i++) {
            int fd = -1;
            if (D.nextra_peer == (int)(sizeof D.extra_peer / sizeof D.extra_peer[0]) ||
                try_connect(D.server_port, &fd) != 0) {
                die("connect-more failed");
            }
            D.extra_peer[D.nextra_peer++] = fd;
        }
        kit("peer connect-more n=%d", n);
    } else if (strcmp(op, "check-more") == 0) {
        /* whether the server dropped the clients of connect-more (EOF) or not (open) */
        int i;
        for (i = 0; i < D.nextra_peer; i++) {
            char c;
            ssize_t n = recv(D.extra_peer[i], &c, 1, MSG_DONTWAIT);
            if (n == 0) {
                kit("peer more-eof");
            } else if (n > 0) {
                kit("peer more-data");
            } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                kit("peer more-open");
            } else {
                kit("peer more-error %s", aiotp_err_name(-errno));
            }
        }
    } else if (strcmp(op, "close-more") == 0) {
        while (D.nextra_peer > 0) {
            close(D.extra_peer[--D.nextra_peer]);
        }
        kit("peer close-more");
    } else if (strcmp(op, "probe") == 0) {
        /* a new connection attempt to the server's address */
        int fd, st = try_connect(D.server_port, &fd);
        if (st == 0) {
            close(fd);
            kit("peer probe connected");
        } else {
            kit(st == -ECONNREFUSED ? "peer probe refused" : "peer probe %s", aiotp_err_name(st));
        }
    } else {
        die("unknown peer action %s", op);
    }
}

/* ---- actions on the subject ---------------------------------------------------------- */

static const aiotp_protocol streaming_proto;
static const aiotp_protocol buffered_proto;
static const aiotp_protocol datagram_proto;

static void action(words *w, int i0);

static void soon_cb(aiotp_loop *loop, void *arg)
{
    words *w = arg;
    (void)loop;
    action(w, 0);
    free(w->w[0]);
    free(w);
}

/* a limit: "-" (none), a number, or @size[+-N]: the write-buffer size now, plus N */
static int64_t limit_arg(const char *s)
{
    if (strncmp(s, "@size", 5) == 0) {
        return (int64_t)aiotp_transport_get_write_buffer_size(D.t) + (int64_t)atoll(s + 5);
    }
    return strcmp(s, "-") == 0 ? AIOTP_LIMIT_NONE : (int64_t)atoll(s);
}

static void action(words *w, int i0)
{
    aiotp_transport *t = D.t;
    const char *op = w->w[i0];
    const char *a1 = w->n > i0 + 1 ? w->w[i0 + 1] : "";
    if (strcmp(op, "write") == 0) {
        size_t n = (size_t)atol(a1);
        unsigned char *p = payload(n);
        aiotp_transport_write(t, p, n);
        free(p);
    } else if (strcmp(op, "write-bad") == 0) {
        aiotp_transport_write(t, NULL, 3);
    } else if (strcmp(op, "writelines") == 0) {
        aiotp_buf bufs[16];
        words parts;
        char *copy = dupstr(a1);
        int i;
        split(copy, &parts, ",");
        for (i = 0; i < parts.n; i++) {
            size_t n = (size_t)atol(parts.w[i]);
            bufs[i].base = payload(n);
            bufs[i].len = n;
        }
        aiotp_transport_writelines(t, bufs, (size_t)parts.n);
        for (i = 0; i < parts.n; i++) {
            free((void *)bufs[i].base);
        }
        free(copy);
    } else if (strcmp(op, "write_eof") == 0) {
        aiotp_transport_write_eof(t);
    } else if (strcmp(op, "close") == 0) {
        aiotp_transport_close(t);
    } else if (strcmp(op, "abort") == 0) {
        aiotp_transport_abort(t);
    } else if (strcmp(op, "pause_reading") == 0) {
        aiotp_transport_pause_reading(t);
    } else if (strcmp(op, "resume_reading") == 0) {
        aiotp_transport_resume_reading(t);
    } else if (strcmp(op, "limits") == 0) {
        aiotp_transport_set_write_buffer_limits(t, limit_arg(a1),
                                                w->n > i0 + 2 ? limit_arg(w->w[i0 + 2])
                                                              : AIOTP_LIMIT_NONE);
    } else if (strcmp(op, "set_protocol") == 0) {
        int i;
        for (i = i0 + 2; i < w->n; i++) {
            if (strncmp(w->w[i], "bufsize=", 8) == 0) {
                D.bufsize = atoi(w->w[i] + 8);
            }
        }
        aiotp_transport_set_protocol(t,
                                     strcmp(a1, "buffered") == 0   ? &buffered_proto
                                     : strcmp(a1, "datagram") == 0 ? &datagram_proto
                                                                   : &streaming_proto,
                                     &D);
    } else if (strcmp(op, "query") == 0) {
        /* the library writes the query line itself */
        if (strcmp(a1, "is_closing") == 0) {
            (void)aiotp_transport_is_closing(t);
        } else if (strcmp(a1, "is_reading") == 0) {
            (void)aiotp_transport_is_reading(t);
        } else if (strcmp(a1, "can_write_eof") == 0) {
            (void)aiotp_transport_can_write_eof(t);
        } else if (strcmp(a1, "get_write_buffer_size") == 0) {
            (void)aiotp_transport_get_write_buffer_size(t);
        } else if (strcmp(a1, "get_write_buffer_limits") == 0) {
            size_t lo = 0, hi = 0;
            aiotp_transport_get_write_buffer_limits(t, &lo, &hi);
        } else {
            die("unknown query %s", a1);
        }
    } else if (strcmp(op, "sendto") == 0) {
        size_t n = (size_t)atol(a1);
        unsigned char *p = payload(n);
        struct sockaddr_in other;
        const struct sockaddr *addr = (const struct sockaddr *)&D.peer_addr;
        int i;
        for (i = i0 + 2; i < w->n; i++) {
            if (strcmp(w->w[i], "addr=none") == 0) {
                addr = NULL;
            } else if (strcmp(w->w[i], "addr=other") == 0) {
                memset(&other, 0, sizeof other);
                other.sin_family = AF_INET;
                other.sin_port = htons(9);
                other.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                addr = (const struct sockaddr *)&other;
            }
        }
        aiotp_transport_sendto(t, p, n, addr, addr != NULL ? sizeof(struct sockaddr_in) : 0);
        free(p);
    } else if (strcmp(op, "extra") == 0) {
        const aiotp_extra *x = aiotp_transport_get_extra_info(t, a1, NULL);
        const char *v = x == NULL                       ? "DEFAULT"
                        : x->kind == AIOTP_EXTRA_NONE   ? "None"
                        : x->kind == AIOTP_EXTRA_ADDR   ? "addr"
                        : x->u.fd >= 0                  ? "socket"
                                                        : "None";
        kit("extra %s=%s", a1, v);
    } else if (strcmp(op, "get_protocol") == 0) {
        void *data = NULL;
        const aiotp_protocol *p = aiotp_transport_get_protocol(t, &data);
        kit("get_protocol %s", p != NULL && data == &D ? "same" : "other");
    } else if (strcmp(op, "fail") == 0) {
        D.fail_next = 1;
    } else if (strcmp(op, "return") == 0) {
        D.ret_next = strcmp(a1, "true") == 0 ? 1 : 0;
    } else if (strcmp(op, "buffer") == 0) {
        D.buffer_next = atoi(a1);
    } else if (strcmp(op, "soon") == 0) {
        words *copy = malloc(sizeof *copy);
        char buf[MAXLINE] = "";
        int i;
        if (copy == NULL) {
            die("out of memory");
        }
        for (i = i0 + 1; i < w->n; i++) {
            strncat(buf, w->w[i], sizeof buf - strlen(buf) - 2);
            strcat(buf, " ");
        }
        split(dupstr(buf), copy, " ");
        aiotp_loop_call_soon(D.loop, soon_cb, copy, NULL);
    } else if (strcmp(op, "peer") == 0) {
        peer_act(w, i0 + 1);
    } else if (strcmp(op, "kill") == 0 || strcmp(op, "terminate") == 0) {
        int st = strcmp(op, "kill") == 0 ? aiotp_transport_kill(t) : aiotp_transport_terminate(t);
        if (st != 0) {
            kit("raised %s", aiotp_err_name(st)); /* asyncio: ProcessLookupError */
        } else {
            kit("%s", op);
        }
    } else if (strcmp(op, "returncode") == 0) {
        int rc = 0;
        if (aiotp_transport_get_returncode(t, &rc) == 1) {
            kit("returncode %d", rc);
        } else {
            kit("returncode None");
        }
    } else if (strcmp(op, "pipe") == 0) {
        const char *a2 = w->n > i0 + 2 ? w->w[i0 + 2] : "";
        aiotp_transport *pt = aiotp_transport_get_pipe_transport(t, atoi(a1));
        if (pt != NULL && strcmp(a2, "close") == 0) {
            aiotp_transport_close(pt);
        } else if (pt != NULL && strcmp(a2, "write") == 0) {
            aiotp_transport_write(pt, "line\n", 5);
        }
        kit("pipe %s %s", a1, pt == NULL ? "None" : "transport");
    } else if (strcmp(op, "fdlimit") == 0) {
        /* tight: RLIMIT_NOFILE's soft limit lowered so that exactly one descriptor number
           is free below it (a client the peer connects takes it; the server's accept()
           then fails with EMFILE); restore: the limit as it was */
        if (strcmp(a1, "restore") == 0) {
            setrlimit(RLIMIT_NOFILE, &D.saved_limit);
        } else {
            struct rlimit r;
            rlim_t lim = 0, used = 0;
            getrlimit(RLIMIT_NOFILE, &D.saved_limit);
            while (lim - used != 1) {
                if (fcntl((int)lim, F_GETFD) != -1) {
                    used++;
                }
                lim++;
            }
            r.rlim_cur = lim;
            r.rlim_max = D.saved_limit.rlim_max;
            setrlimit(RLIMIT_NOFILE, &r);
        }
        kit("fdlimit %s", strcmp(a1, "restore") == 0 ? "restore" : "tight");
    } else if (strcmp(op, "server-close") == 0) {
        aiotp_server_close(D.server);
        kit("server-close");
    } else if (strcmp(op, "is_serving") == 0) {
        kit("is_serving %d", aiotp_server_is_serving(D.server) ? 1 : 0);
    } else if (strcmp(op, "cancel-start") == 0) {
        int st = aiotp_loop_cancel_op(D.loop, D.op);
        kit("cancel-start");
        if (st != 0) {
            kit("raised %s", aiotp_err_name(st));
        }
    } else {
        die("action %s not available on aiotp", op);
    }
}

/* ---- the scripted protocol -------------------------------------------------------------- */

static int react(const char *name)
{
    int i, j, k = 0, status = 0;
    for (i = 0; i < D.counts_n; i++) {
        if (strcmp(D.counts_name[i], name) == 0) {
            break;
        }
    }
    if (i == D.counts_n && i < 32) {
        snprintf(D.counts_name[i], sizeof D.counts_name[i], "%s", name);
        D.counts[i] = 0;
        D.counts_n++;
    }
    if (i < 32) {
        k = ++D.counts[i];
    }
    D.fail_next = 0;
    D.ret_next = -1;
    D.buffer_next = -1;
    for (i = 0; i < D.nreact; i++) {
        reaction *r = &D.react[i];
        if (strcmp(r->cb, name) == 0 && (r->k == 0 || r->k == k)) {
            for (j = 0; j < r->nact; j++) {
                action(&r->act[j], 0);
            }
        }
    }
    if (D.fail_next) {
        status = AIOTP_ECALLBACK;
    }
    return status;
}

static int count_of(const char *name)
{
    int i;
    for (i = 0; i < D.counts_n; i++) {
        if (strcmp(D.counts_name[i], name) == 0) {
            return D.counts[i];
        }
    }
    return 0;
}

static int p_made(aiotp_transport *t, void *data)
{
    (void)data;
    if (D.server != NULL && D.t != NULL && t != D.t) {
        /* a server's further connections (t2, t3, ...): not the subject */
        if (D.nextra == (int)(sizeof D.extra / sizeof D.extra[0])) {
            die("too many connections");
        }
        D.extra[D.nextra++] = t;
        aiotp_transport_retain(t);
        return react("connection_made");
    }
    D.t = t;
    D.made = true;
    aiotp_transport_retain(t);
    return react("connection_made");
}

static int p_lost(aiotp_transport *t, void *data, int status)
{
    (void)data;
    (void)status;
    if (D.t != NULL && t != D.t) {
        D.extra_lost++;
    } else {
        D.lost = true;
    }
    return react("connection_lost");
}

static int p_pause(aiotp_transport *t, void *data)
{
    (void)t;
    (void)data;
    return react("pause_writing");
}

static int p_resume(aiotp_transport *t, void *data)
{
    (void)t;
    (void)data;
    return react("resume_writing");
}

static int p_data(aiotp_transport *t, void *data, const void *buf, size_t len)
{
    (void)t;
    (void)data;
    (void)buf;
    D.rx_total += len;
    return react("data_received");
}

static int p_eof(aiotp_transport *t, void *data)
{
    int st;
    (void)t;
    (void)data;
    st = react("eof_received");
    return st < 0 ? st : D.ret_next > 0 ? 1 : 0;
}

static int p_get_buffer(aiotp_transport *t, void *data, ptrdiff_t sizehint, void **buf,
                        size_t *len)
{
    int st;
    size_t n;
    (void)t;
    (void)data;
    (void)sizehint;
    st = react("get_buffer");
    n = D.buffer_next >= 0 ? (size_t)D.buffer_next : (size_t)D.bufsize;
    if (n > D.buflen) {
        free(D.buf);
        D.buf = malloc(n);
        D.buflen = D.buf != NULL ? n : 0;
    }
    *buf = n > 0 ? D.buf : NULL;
    *len = n;
    return st;
}

static int p_updated(aiotp_transport *t, void *data, size_t n)
{
    (void)t;
    (void)data;
    D.rx_total += n;
    return react("buffer_updated");
}

static int p_dgram(aiotp_transport *t, void *data, const void *buf, size_t len,
                   const struct sockaddr *addr, socklen_t alen)
{
    (void)t;
    (void)data;
    (void)buf;
    (void)addr;
    (void)alen;
    D.rx_total += len;
    return react("datagram_received");
}

static int p_error(aiotp_transport *t, void *data, int status)
{
    (void)t;
    (void)data;
    (void)status;
    return react("error_received");
}

static int p_pipe_data(aiotp_transport *t, void *data, int fd, const void *buf, size_t len)
{
    (void)t;
    (void)data;
    (void)fd;
    (void)buf;
    D.rx_total += len;
    return react("pipe_data_received");
}

static int p_pipe_lost(aiotp_transport *t, void *data, int fd, int status)
{
    (void)t;
    (void)data;
    (void)fd;
    (void)status;
    return react("pipe_connection_lost");
}

static int p_exited(aiotp_transport *t, void *data)
{
    (void)t;
    (void)data;
    return react("process_exited");
}

static const aiotp_protocol streaming_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = p_made,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .data_received = p_data,
    .eof_received = p_eof,
};
static const aiotp_protocol buffered_proto = {
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

static const aiotp_protocol datagram_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_DATAGRAM,
    .connection_made = p_made,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .datagram_received = p_dgram,
    .error_received = p_error,
};

static const aiotp_protocol subprocess_proto = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_SUBPROCESS,
    .connection_made = p_made,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .pipe_data_received = p_pipe_data,
    .pipe_connection_lost = p_pipe_lost,
    .process_exited = p_exited,
};

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = D.subproc    ? &subprocess_proto
             : D.dgram    ? &datagram_proto
             : D.buffered ? &buffered_proto
                          : &streaming_proto;
    *data = &D;
    return 0;
}

/* The library writes the exc line of every exception-handler call itself; this handler
   only keeps the default one from printing. */
static void on_exception(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)loop;
    (void)ctx;
    (void)arg;
}

static void done_cb(void *arg, int status, aiotp_transport *t)
{
    (void)arg;
    (void)t;
    D.start_done = true;
    if (status != 0) {
        D.start_failed = true;
        kit("start-failed %s", aiotp_err_name(status));
    }
}

static void server_cb(void *arg, int status, aiotp_server *s)
{
    (void)arg;
    if (status == 0) {
        D.server = s;
        aiotp_server_retain(s);
    } else {
        kit("start-failed %s", aiotp_err_name(status));
    }
    D.server_ready = true;
}

/* ---- steps ------------------------------------------------------------------------------- */

static bool cond(words *w, int i0)
{
    const char *c = w->n > i0 ? w->w[i0] : "";
    const char *a = w->n > i0 + 1 ? w->w[i0 + 1] : "";
    if (strcmp(c, "made") == 0) return D.made;
    if (strcmp(c, "lost") == 0) return D.lost;
    if (strcmp(c, "made-or-failed") == 0) return D.made || D.start_failed;
    if (strcmp(c, "start-done") == 0) return D.start_done;
    if (strcmp(c, "cb") == 0) {
        char name[48];
        const char *hash = strchr(a, '#');
        int k = hash != NULL ? atoi(hash + 1) : 1;
        snprintf(name, sizeof name, "%.*s", hash != NULL ? (int)(hash - a) : (int)strlen(a), a);
        return count_of(name) >= k;
    }
    if (strcmp(c, "received") == 0) return D.rx_total >= (uint64_t)atoll(a);
    if (strcmp(c, "peer-eof") == 0) return D.peer_eof;
    if (strcmp(c, "peer-raw") == 0) return D.raw_total > 0;
    if (strcmp(c, "peer-received") == 0) return D.peer_total >= (uint64_t)atoll(a);
    die("unknown condition %s", c);
    return false;
}

static void run_until(words *w, int i0)
{
    long maxp = 20000, n = 0;
    double end = now() + 10;
    int i;
    char what[MAXLINE] = "";
    words cw;
    cw.n = 0;
    for (i = i0; i < w->n; i++) {
        if (strncmp(w->w[i], "max=", 4) == 0) {
            maxp = atol(w->w[i] + 4);
        } else {
            cw.w[cw.n++] = w->w[i];
            strncat(what, w->w[i], sizeof what - strlen(what) - 2);
            strcat(what, " ");
        }
    }
    while (!cond(&cw, 0)) {
        if (n >= maxp || now() > end) {
            what[strlen(what) > 0 ? strlen(what) - 1 : 0] = '\0';
            kit("timeout run until %s", what);
            return;
        }
        one_pass();
        n++;
    }
}

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int tcp_listener(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        die("listener: %s", strerror(errno));
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int tcp_connect(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        die("connect: %s", strerror(errno));
    }
    return fd;
}

static void prepare(void)
{
    int sv[2];
    if (D.pipe) {
        /* read-pipe: the subject reads sv[0], the peer writes sv[1]; write-pipe: the
           other way round. The transport owns its end from the start on. */
        bool rd = strcmp(D.setup, "read-pipe") == 0;
        if (pipe(sv) != 0) {
            die("pipe: %s", strerror(errno));
        }
        D.subject_fd = rd ? sv[0] : sv[1];
        D.peer = rd ? sv[1] : sv[0];
        nonblock(D.peer);
        return;
    }
#ifdef AIOTP_KIT_TLS
    if (D.tls) {
        tls_setup();
    }
#endif
    if (strcmp(D.setup, "unix") == 0 || D.over_unix) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
            die("socketpair: %s", strerror(errno));
        }
    } else if (strcmp(D.setup, "tcp") == 0 || strcmp(D.setup, "tls-client") == 0) {
        /* tls-client: the same loopback connection, the TLS peer on the accepted end */
        int port, ls = tcp_listener(&port);
        sv[0] = tcp_connect(port);
        sv[1] = accept(ls, NULL, NULL);
        close(ls);
    } else {
        return;
    }
    if (D.sndbuf > 0) {
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &D.sndbuf, sizeof D.sndbuf);
    }
    if (D.rcvbuf > 0) {
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &D.rcvbuf, sizeof D.rcvbuf);
    }
    nonblock(sv[1]);
    D.subject_fd = sv[0];
    D.peer = sv[1];
}

/* udp setups: the peer, a UDP socket bound to 127.0.0.1. */
static void udp_peer(void)
{
    socklen_t len = sizeof D.peer_addr;
    D.peer = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&D.peer_addr, 0, sizeof D.peer_addr);
    D.peer_addr.sin_family = AF_INET;
    D.peer_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (D.peer < 0 || bind(D.peer, (struct sockaddr *)&D.peer_addr, sizeof D.peer_addr) != 0 ||
        getsockname(D.peer, (struct sockaddr *)&D.peer_addr, &len) != 0 || nonblock(D.peer) != 0) {
        die("udp peer: %s", strerror(errno));
    }
}

/* The child programs: the Python driver's (tools/kit/pydriver.py CHILDREN), the same
   code run by the same interpreter. */
static const struct child {
    const char *name;
    const char *code;
} children[] = {
    {"cat", "import sys\nfor l in sys.stdin: sys.stdout.write(l); sys.stdout.flush()"},
    {"hello", "import sys; sys.stdout.write('hello'); sys.stdout.flush()"},
    {"stderr", "import sys; sys.stderr.write('oops'); sys.stderr.flush()"},
    {"exit7", "import sys; sys.exit(7)"},
    {"sleep", "import time; time.sleep(30)"},
};

/* exec: argv PYTHON -c CODE; shell: the same command through /bin/sh, the code in single
   quotes (no child program has one). */
static void start_subprocess(void)
{
    const char *name = D.child[0] != '\0' ? D.child : "hello";
    const char *py = getenv("AIOTP_KIT_PYTHON");
    const char *code = NULL;
    aiotp_subprocess_options opts;
    size_t i;
    int st;
    for (i = 0; i < sizeof children / sizeof children[0]; i++) {
        if (strcmp(children[i].name, name) == 0) {
            code = children[i].code;
        }
    }
    if (code == NULL) {
        die("unknown child %s", name);
    }
    if (py == NULL || py[0] == '\0') {
        py = "/usr/bin/python3";
    }
    aiotp_subprocess_options_init(&opts);
    if (D.stderr_stdout) {
        opts.stdio[2].kind = AIOTP_STDIO_STDOUT;
    }
    kit("start %s %s", D.setup, name);
    if (strcmp(D.setup, "exec") == 0) {
        const char *argv[4];
        argv[0] = py;
        argv[1] = "-c";
        argv[2] = code;
        argv[3] = NULL;
        if (D.invalid) {
            argv[0] = NULL; /* refused: no program */
        }
        st = aiotp_loop_subprocess_exec(D.loop, factory, NULL, argv, &opts, done_cb, NULL);
    } else {
        char cmd[MAXLINE];
        snprintf(cmd, sizeof cmd, "%s -c '%s'", py, code);
        st = aiotp_loop_subprocess_shell(D.loop, factory, NULL, cmd, &opts, done_cb, NULL);
    }
    if (st != 0) {
        kit("start-failed %s", aiotp_err_name(st));
        D.start_done = D.start_failed = true;
    }
}

#ifdef AIOTP_KIT_TLS
/* tls-client: create_connection over the socketpair end with the client context
   (server_hostname localhost); a refusal at the call is "start-failed" as a failing
   completion is. */
static void start_tls_client(bool nowait)
{
    aiotp_connect_options o;
    int st;
    aiotp_connect_options_init(&o);
    o.sock = D.subject_fd;
    o.tls = D.cctx;
    o.server_hostname = "localhost";
    o.op = &D.op;
    o.tls_handshake_timeout = D.hs_timeout;
    kit("start tls-client");
    st = aiotp_loop_create_connection(D.loop, factory, NULL, NULL, 0, &o, done_cb, NULL);
    if (st != 0) {
        kit("start-failed %s", aiotp_err_name(st));
        D.start_done = D.start_failed = true;
        close(D.subject_fd); /* not taken */
        D.subject_fd = -1;
        return;
    }
    if (nowait) {
        one_pass();
    } else {
        words w;
        char buf[] = "made-or-failed max=2000";
        split(buf, &w, " ");
        run_until(&w, 0);
    }
}
#endif

static void start(bool nowait)
{
#ifdef AIOTP_KIT_TLS
    if (D.tls) {
        start_tls_client(nowait);
        return;
    }
#endif
    (void)nowait;
    if (D.subproc) {
        start_subprocess();
    } else if (D.dgram) {
        bool connected = strcmp(D.setup, "udp") == 0;
        udp_peer();
        kit("start %s", D.setup);
        /* udp: the remote address only (connect() picks the local one), as
           create_datagram_endpoint(remote_addr=peer); udp-unconnected: local_addr only */
        if (aiotp_loop_create_datagram_endpoint(
                D.loop, factory, NULL, connected ? NULL : "127.0.0.1", 0,
                connected ? "127.0.0.1" : NULL, connected ? ntohs(D.peer_addr.sin_port) : 0, NULL,
                done_cb, NULL) != 0) {
            die("create_datagram_endpoint failed");
        }
    } else if (D.pipe) {
        bool rd = strcmp(D.setup, "read-pipe") == 0;
        kit("start %s", D.setup);
        if ((rd ? aiotp_loop_connect_read_pipe
                : aiotp_loop_connect_write_pipe)(D.loop, factory, NULL, D.subject_fd, done_cb,
                                                 NULL) != 0) {
            die("connect_%s_pipe failed", rd ? "read" : "write");
        }
    } else if (strcmp(D.setup, "unix") == 0 || strcmp(D.setup, "tcp") == 0) {
        kit("start %s", D.setup);
        if (aiotp_loop_connect_accepted_socket(D.loop, factory, NULL, D.subject_fd, done_cb,
                                               NULL) != 0) {
            die("connect_accepted_socket failed");
        }
    } else if (strcmp(D.setup, "connect") == 0) {
        int port;
        D.listener = tcp_listener(&port);
        kit("start connect");
        if (aiotp_loop_create_connection(D.loop, factory, NULL, "127.0.0.1", port, NULL,
                                         done_cb, NULL) != 0) {
            die("create_connection failed");
        }
        while (!D.made) {
            one_pass();
        }
        D.peer = accept(D.listener, NULL, NULL);
        nonblock(D.peer);
    } else {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        kit("start server");
        if (aiotp_loop_create_server(D.loop, factory, NULL, "127.0.0.1", 0, NULL, server_cb,
                                     NULL) != 0) {
            die("create_server failed");
        }
        while (!D.server_ready) {
            one_pass();
        }
        if (D.server == NULL || aiotp_server_get_sockname(D.server, 0, (struct sockaddr *)&a,
                                                          &len) != 0) {
            die("no server socket");
        }
        D.server_port = ntohs(a.sin_port);
        D.peer = tcp_connect(D.server_port);
        nonblock(D.peer);
        kit("peer connect");
    }
    {
        words w;
        char buf[] = "made-or-failed max=2000";
        split(buf, &w, " ");
        run_until(&w, 0);
    }
    if (D.dgram && D.t != NULL) {
        /* where the peer sends its datagrams */
        const aiotp_extra *x = aiotp_transport_get_extra_info(D.t, "sockname", NULL);
        if (x == NULL || x->kind != AIOTP_EXTRA_ADDR || x->u.addr.len > sizeof D.subject_addr) {
            die("no sockname");
        }
        memcpy(&D.subject_addr, x->u.addr.addr, x->u.addr.len);
    }
}

static void step(words *w)
{
    const char *s = w->w[0];
    if (strcmp(s, "start") == 0) {
        start(w->n > 1 && strcmp(w->w[1], "nowait") == 0);
    } else if (strcmp(s, "run") == 0 && w->n > 1) {
        if (strcmp(w->w[1], "until") == 0) {
            run_until(w, 2);
        } else {
            long i, n = atol(w->w[1]);
            for (i = 0; i < n; i++) {
                one_pass();
            }
        }
    } else if (strcmp(s, "peer") == 0) {
        peer_act(w, 1);
    } else if (strcmp(s, "pause") == 0 && w->n > 1) {
        /* wall time passes, the loop does not run (its timers come due) */
        double secs = atof(w->w[1]);
        struct timespec ts;
        ts.tv_sec = (time_t)secs;
        ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        kit("pause %s", w->w[1]);
    } else if (strcmp(s, "call") == 0 && w->n > 1) {
        char buf[MAXLINE] = "";
        int i;
        for (i = 1; i < w->n; i++) {
            strncat(buf, w->w[i], sizeof buf - strlen(buf) - 2);
            if (i + 1 < w->n) {
                strcat(buf, " ");
            }
        }
        kit("call %s", buf);
        if (D.t == NULL && strcmp(w->w[1], "cancel-start") != 0) {
            die("call before the transport exists");
        }
        action(w, 1);
    } else {
        die("bad step %s", s);
    }
}

int main(int argc, char **argv)
{
    int i;
    if (argc != 4) {
        fprintf(stderr, "usage: aiotp-kit-driver SCENARIO_FILE NAME TRACE_OUT\n");
        return 2;
    }
    D.peer = -1;
    D.listener = -1;
    D.subject_fd = -1;
    signal(SIGPIPE, SIG_IGN); /* the peer's write to a pipe whose reader went: EPIPE */
    load(argv[1], argv[2]);
    D.peer_autoread = D.autoread_default;
    D.out = fopen(argv[3], "w");
    if (D.out == NULL) {
        die("%s: %s", argv[3], strerror(errno));
    }
    if (aiotp_loop_create(&D.loop, NULL) != 0) {
        die("loop");
    }
    aiotp_loop_set_exception_handler(D.loop, on_exception, NULL);
    aiotp_loop_set_trace(D.loop, on_trace, NULL);
    prepare();
    for (i = 0; i < D.nsteps; i++) {
        step(&D.steps[i]);
    }
    kit("end");
    if (D.tls && D.t == NULL) {
        /* no TLS transport reached the protocol: the stream transport below is closed by
           the layer (connection_lost in a later pass) */
        for (i = 0; i < 5; i++) {
            one_pass();
        }
    }
    if (D.t != NULL && !D.lost) {
        D.peer_autoread = true;
        if (!aiotp_transport_is_closing(D.t)) {
            kit("cleanup close");
            aiotp_transport_close(D.t);
        }
        {
            words w;
            char buf[] = "lost max=2000";
            split(buf, &w, " ");
            run_until(&w, 0);
        }
    }
    if (D.nextra > 0) {
        double end = now() + 10;
        for (i = 0; i < D.nextra; i++) {
            if (!aiotp_transport_is_closing(D.extra[i])) {
                aiotp_transport_close(D.extra[i]);
            }
        }
        while (D.extra_lost < D.nextra && now() < end) {
            one_pass();
        }
        for (i = 0; i < D.nextra; i++) {
            aiotp_transport_release(D.extra[i]);
        }
    }
    while (D.nextra_peer > 0) {
        close(D.extra_peer[--D.nextra_peer]);
    }
    if (D.server != NULL) {
        aiotp_server_close(D.server);
        one_pass();
        aiotp_server_release(D.server);
    }
    if (D.t != NULL) {
        aiotp_transport_release(D.t);
    }
    aiotp_loop_set_trace(D.loop, NULL, NULL);
    aiotp_loop_free(D.loop);
    if (D.peer >= 0) {
        close(D.peer);
    }
    if (D.listener >= 0) {
        close(D.listener);
    }
#ifdef AIOTP_KIT_TLS
    if (D.tls) {
        tls_teardown();
    }
#endif
    free(D.peer_out);
    free(D.buf);
    free_strs();
    return fclose(D.out) == 0 ? 0 : 2;
}
