/*
 * tls_load.c - the client of the TLS benchmarks (bench/tls_run.sh). Blocking OpenSSL
 * client, TLS 1.3 with exactly one cipher suite offered (TLS_AES_128_GCM_SHA256, group
 * X25519, no session resumption), so every server runs the same cipher.
 *
 *   tls_load bulk      --port P --pid PID [--seconds S] [--warmup W] [--chunk BYTES]
 *   tls_load handshake --port P --pid PID [--seconds S] [--warmup W]
 *
 * bulk: one connection; CHUNK bytes (default 65536) written, the same bytes read back
 * and compared, again and again. handshake: a new connection each time: full handshake,
 * one byte echoed (so the server has finished its side too), close_notify, close.
 * The server's CPU time (utime + stime of /proc/PID/stat) is read before and after the
 * measured seconds (after the warm-up). Prints one line:
 *   bulk bytes=N seconds=T server_cpu=C        (bytes echoed in the measured window)
 *   handshake count=N seconds=T server_cpu=C
 * Exit 0, or 1 with a message when the server misbehaves (wrong echo, a failed
 * handshake), 2 on bad arguments.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static int port;
static int server_pid;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* the server's CPU seconds so far (utime + stime), -1 when unreadable */
static double server_cpu(void)
{
    char path[64];
    char buf[1024];
    char *p;
    unsigned long ut = 0, st = 0;
    size_t n;
    FILE *f;
    int field;
    snprintf(path, sizeof(path), "/proc/%d/stat", server_pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1.0;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL) {
        return -1.0;
    }
    /* fields after ")": 3 state ... 14 utime 15 stime */
    for (field = 2; field < 13 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
    }
    if (p == NULL || sscanf(p, " %lu %lu", &ut, &st) != 2) {
        return -1.0;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int dial(void)
{
    struct sockaddr_in sin;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        perror("connect");
        close(fd);
        return -1;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static SSL *open_tls(SSL_CTX *ctx, int *fdp)
{
    SSL *ssl;
    int fd = dial();
    if (fd < 0) {
        return NULL;
    }
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
        fprintf(stderr, "tls_load: handshake failed\n");
        ERR_print_errors_fp(stderr);
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    *fdp = fd;
    return ssl;
}

static void close_tls(SSL *ssl, int fd)
{
    (void)SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}

/* read exactly len bytes: 0, or -1 */
static int read_full(SSL *ssl, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        int k = SSL_read(ssl, buf + got, (int)(len - got));
        if (k <= 0) {
            fprintf(stderr, "tls_load: read failed after %zu of %zu bytes\n", got, len);
            return -1;
        }
        got += (size_t)k;
    }
    return 0;
}

static int bulk(SSL_CTX *ctx, double warmup, double seconds, size_t chunk)
{
    unsigned char *out = malloc(chunk);
    unsigned char *in = malloc(chunk);
    unsigned long long bytes = 0;
    double t0, t_end, cpu0 = 0, cpu1, t_start = 0;
    int measuring = 0;
    int fd = -1;
    size_t i;
    SSL *ssl;
    if (out == NULL || in == NULL) {
        return 1;
    }
    for (i = 0; i < chunk; i++) {
        out[i] = (unsigned char)(i * 31u + 7u);
    }
    ssl = open_tls(ctx, &fd);
    if (ssl == NULL) {
        return 1;
    }
    t0 = now();
    t_end = t0 + warmup + seconds;
    for (;;) {
        double t = now();
        if (!measuring && t >= t0 + warmup) {
            measuring = 1;
            t_start = t;
            cpu0 = server_cpu();
        }
        if (t >= t_end) {
            break;
        }
        out[0]++;
        if (SSL_write(ssl, out, (int)chunk) != (int)chunk || read_full(ssl, in, chunk) != 0) {
            fprintf(stderr, "tls_load: bulk transfer failed\n");
            return 1;
        }
        if (memcmp(in, out, chunk) != 0) {
            fprintf(stderr, "tls_load: the echo differs from what was sent\n");
            return 1;
        }
        if (measuring) {
            bytes += chunk;
        }
    }
    cpu1 = server_cpu();
    printf("bulk bytes=%llu seconds=%.3f server_cpu=%.3f\n", bytes, now() - t_start,
           cpu0 < 0 || cpu1 < 0 ? -1.0 : cpu1 - cpu0);
    close_tls(ssl, fd);
    free(out);
    free(in);
    return 0;
}

static int handshakes(SSL_CTX *ctx, double warmup, double seconds)
{
    unsigned long long count = 0;
    double t0 = now(), t_start = 0, cpu0 = 0, cpu1;
    double t_end = t0 + warmup + seconds;
    int measuring = 0;
    for (;;) {
        unsigned char b = 'x', r = 0;
        double t = now();
        int fd = -1;
        SSL *ssl;
        if (!measuring && t >= t0 + warmup) {
            measuring = 1;
            t_start = t;
            cpu0 = server_cpu();
        }
        if (t >= t_end) {
            break;
        }
        ssl = open_tls(ctx, &fd);
        if (ssl == NULL) {
            return 1;
        }
        if (SSL_write(ssl, &b, 1) != 1 || read_full(ssl, &r, 1) != 0 || r != b) {
            fprintf(stderr, "tls_load: the one-byte echo failed\n");
            return 1;
        }
        close_tls(ssl, fd);
        if (measuring) {
            count++;
        }
    }
    cpu1 = server_cpu();
    printf("handshake count=%llu seconds=%.3f server_cpu=%.3f\n", count, now() - t_start,
           cpu0 < 0 || cpu1 < 0 ? -1.0 : cpu1 - cpu0);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: tls_load bulk|handshake --port P --pid PID [--seconds S] "
                    "[--warmup W] [--chunk BYTES]\n");
}

int main(int argc, char **argv)
{
    double seconds = 5.0, warmup = 1.0;
    size_t chunk = 65536;
    SSL_CTX *ctx;
    int i, rc;
    if (argc < 2) {
        usage();
        return 2;
    }
    for (i = 2; i < argc; i++) {
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        if (strcmp(argv[i], "--port") == 0) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--pid") == 0) {
            server_pid = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[++i]);
        } else if (strcmp(argv[i], "--warmup") == 0) {
            warmup = atof(argv[++i]);
        } else if (strcmp(argv[i], "--chunk") == 0) {
            chunk = (size_t)strtoul(argv[++i], NULL, 10);
        } else {
            usage();
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || server_pid <= 0 || seconds <= 0 || warmup < 0 ||
        chunk == 0 || chunk > (1u << 24)) {
        usage();
        return 2;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519") != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* a throwaway self-signed certificate */
    if (strcmp(argv[1], "bulk") == 0) {
        rc = bulk(ctx, warmup, seconds, chunk);
    } else if (strcmp(argv[1], "handshake") == 0) {
        rc = handshakes(ctx, warmup, seconds);
    } else {
        usage();
        rc = 2;
    }
    SSL_CTX_free(ctx);
    return rc;
}
