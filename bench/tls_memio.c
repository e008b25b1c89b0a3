/*
 * tls_memio.c - the hand-written reference of the TLS benchmarks (bench/tls_run.sh): a
 * poll() loop with one OpenSSL SSL object per connection over two memory BIOs, the way
 * a C programmer would write a TLS echo server without an event-loop library (and the
 * way aiotp's TLS layer works: it never lets OpenSSL touch the socket).
 *
 *   BENCH_TLS_CERT=chain.pem BENCH_TLS_KEY=key.pem tls_memio --tcp PORT
 *
 * Per readable socket: one recv() of at most 256 KiB into the loop's buffer, fed to the
 * read BIO; SSL_read() drains the plaintext, every chunk goes straight back through
 * SSL_write(); the records OpenSSL produced are taken from the write BIO into the
 * connection's output buffer and sent at once, the rest when the socket is writable.
 * Flow control: no reading while more than 1 MiB of output is unsent. Prints "ready"
 * once listening; exits 0 on SIGTERM/SIGINT.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_common.h"

#define READ_SIZE (256 * 1024)
#define OUT_HIGH (1024 * 1024)

typedef struct conn {
    int fd;
    SSL *ssl;
    BIO *rbio; /* network bytes in: OpenSSL reads them */
    BIO *wbio; /* network bytes out: OpenSSL writes them */
    unsigned char *out;
    size_t out_len;
    size_t out_cap;
} conn;

static conn **conns;
static size_t nconns, cap_conns;
static unsigned char rbuf[READ_SIZE];
static unsigned char pbuf[READ_SIZE];

static void conn_free(conn *c)
{
    close(c->fd);
    SSL_free(c->ssl); /* frees both BIOs */
    free(c->out);
    free(c);
}

/* the write BIO's records into the output buffer */
static int collect(conn *c)
{
    size_t pending = BIO_ctrl_pending(c->wbio);
    int n;
    if (pending == 0) {
        return 0;
    }
    if (c->out_len + pending > c->out_cap) {
        size_t ncap = c->out_cap ? c->out_cap : 65536;
        unsigned char *p;
        while (ncap < c->out_len + pending) {
            ncap *= 2;
        }
        p = realloc(c->out, ncap);
        if (p == NULL) {
            return -1;
        }
        c->out = p;
        c->out_cap = ncap;
    }
    n = BIO_read(c->wbio, c->out + c->out_len, (int)pending);
    if (n > 0) {
        c->out_len += (size_t)n;
    }
    return 0;
}

/* send what is buffered; 0 ok (maybe some left), -1 the connection is dead */
static int flush(conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return -1;
        }
        off += (size_t)n;
    }
    if (off > 0) {
        memmove(c->out, c->out + off, c->out_len - off);
        c->out_len -= off;
    }
    return 0;
}

/* the socket is readable: -1 when the connection is over */
static int on_readable(conn *c)
{
    ssize_t n = recv(c->fd, rbuf, sizeof(rbuf), 0);
    if (n == 0) {
        return -1;
    }
    if (n < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    }
    BIO_write(c->rbio, rbuf, (int)n);
    for (;;) {
        int k = SSL_read(c->ssl, pbuf, (int)sizeof(pbuf));
        if (k > 0) {
            if (SSL_write(c->ssl, pbuf, k) <= 0) {
                return -1;
            }
            continue;
        }
        switch (SSL_get_error(c->ssl, k)) {
        case SSL_ERROR_WANT_READ:
            if (collect(c) != 0) {
                return -1;
            }
            return flush(c);
        default: /* close_notify, a protocol error, a failed handshake */
            return -1;
        }
    }
}

static int accept_all(int lfd, SSL_CTX *ctx)
{
    for (;;) {
        conn *c;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                    errno == ECONNABORTED)
                       ? 0
                       : -1;
        }
        (void)bench_set_nonblock(fd);
        bench_set_nodelay(fd);
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->ssl = SSL_new(ctx);
        c->rbio = BIO_new(BIO_s_mem());
        c->wbio = BIO_new(BIO_s_mem());
        if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
            BIO_free(c->rbio);
            BIO_free(c->wbio);
            SSL_free(c->ssl);
            close(fd);
            free(c);
            continue;
        }
        SSL_set_bio(c->ssl, c->rbio, c->wbio);
        SSL_set_accept_state(c->ssl);
        if (nconns == cap_conns) {
            size_t ncap = cap_conns ? cap_conns * 2 : 64;
            conn **p = realloc(conns, ncap * sizeof(*p));
            if (p == NULL) {
                conn_free(c);
                continue;
            }
            conns = p;
            cap_conns = ncap;
        }
        conns[nconns++] = c;
    }
}

int main(int argc, char **argv)
{
    struct bench_addr addr;
    const char *cert = getenv("BENCH_TLS_CERT");
    const char *key = getenv("BENCH_TLS_KEY");
    struct pollfd *pfd = NULL;
    size_t pfd_cap = 0;
    int stop_pipe[2];
    SSL_CTX *ctx;
    int lfd;
    int running = 1;

    bench_parse_args_for(argc, argv, &addr, BENCH_ARGS_STREAM);
    if (cert == NULL || key == NULL) {
        fprintf(stderr, "tls_memio: set BENCH_TLS_CERT and BENCH_TLS_KEY\n");
        return 2;
    }
    bench_process_setup();
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    lfd = bench_listen(&addr);
    if (lfd < 0 || bench_signal_pipe(stop_pipe) != 0) {
        return 1;
    }
    bench_ready();
    while (running) {
        size_t i, n = nconns + 2;
        if (pfd_cap < n) {
            struct pollfd *p = realloc(pfd, n * 2 * sizeof(*p));
            if (p == NULL) {
                return 1;
            }
            pfd = p;
            pfd_cap = n * 2;
        }
        pfd[0].fd = stop_pipe[0];
        pfd[0].events = POLLIN;
        pfd[1].fd = lfd;
        pfd[1].events = POLLIN;
        for (i = 0; i < nconns; i++) {
            conn *c = conns[i];
            pfd[i + 2].fd = c->fd;
            pfd[i + 2].events = (short)((c->out_len < OUT_HIGH ? POLLIN : 0) |
                                        (c->out_len > 0 ? POLLOUT : 0));
        }
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("poll");
            return 1;
        }
        if (pfd[0].revents) {
            running = 0;
        }
        /* the connections first: accept_all appends past the polled ones */
        for (i = nconns; i-- > 0;) {
            conn *c = conns[i];
            short re = pfd[i + 2].revents;
            int dead = 0;
            if (re == 0) {
                continue;
            }
            if ((re & POLLOUT) && flush(c) != 0) {
                dead = 1;
            }
            if (!dead && (re & (POLLIN | POLLHUP | POLLERR)) && on_readable(c) != 0) {
                dead = 1;
            }
            if (dead) {
                conn_free(c);
                conns[i] = conns[--nconns]; /* the last one: handled already (the
                                               walk goes down) */
            }
        }
        if (pfd[1].revents & POLLIN) {
            (void)accept_all(lfd, ctx);
        }
    }
    while (nconns > 0) {
        conn_free(conns[--nconns]);
    }
    free(conns);
    free(pfd);
    close(lfd);
    SSL_CTX_free(ctx);
    bench_cleanup(&addr);
    return 0;
}
