/* bench_common.c - see bench_common.h. */
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out, const char *prog, unsigned kinds)
{
    if (kinds == BENCH_ARGS_UDP) {
        fprintf(out,
                "usage: %s --udp PORT\n"
                "  --udp PORT    receive datagrams on 127.0.0.1:PORT (1-65535)\n"
                "Sends every datagram back to its sender; prints \"ready\" once bound;\n"
                "exits on SIGTERM or SIGINT.\n",
                prog);
        return;
    }
    fprintf(out,
            "usage: %s (--tcp PORT | --unix PATH%s)\n"
            "  --tcp PORT    listen on 127.0.0.1:PORT (1-65535)\n"
            "  --unix PATH   listen on the Unix stream socket PATH\n"
            "%s"
            "Echoes every chunk it reads%s; prints \"ready\" once listening;\n"
            "exits on SIGTERM or SIGINT.\n",
            prog, (kinds & BENCH_ARGS_UDP) ? " | --udp PORT" : "",
            (kinds & BENCH_ARGS_UDP) ? "  --udp PORT    receive datagrams on 127.0.0.1:PORT\n" : "",
            (kinds & BENCH_ARGS_UDP) ? " (every datagram, to its sender)" : "");
}

static void bad_args(const char *prog, unsigned kinds, const char *msg, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "%s: %s: '%s'\n", prog, msg, arg);
    else
        fprintf(stderr, "%s: %s\n", prog, msg);
    usage(stderr, prog, kinds);
    exit(2);
}

static int parse_port(const char *prog, unsigned kinds, const char *text)
{
    char *end;
    long p;
    errno = 0;
    p = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || p < 1 || p > 65535)
        bad_args(prog, kinds, "invalid port (want 1-65535)", text);
    return (int)p;
}

void bench_parse_args(int argc, char **argv, struct bench_addr *addr)
{
    bench_parse_args_for(argc, argv, addr, BENCH_ARGS_STREAM);
}

void bench_parse_args_for(int argc, char **argv, struct bench_addr *addr, unsigned kinds)
{
    const char *prog = argc > 0 ? argv[0] : "echo";
    const char *one = kinds == BENCH_ARGS_UDP ? "--udp PORT is required"
                      : (kinds & BENCH_ARGS_UDP) ? "one of --tcp PORT, --unix PATH or --udp PORT is required"
                                                 : "one of --tcp PORT or --unix PATH is required";
    int have = 0;
    int i;

    memset(addr, 0, sizeof *addr);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int is_stream = strcmp(a, "--tcp") == 0 || strcmp(a, "--unix") == 0;
        int is_udp = strcmp(a, "--udp") == 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout, prog, kinds);
            exit(0);
        } else if ((is_stream && (kinds & BENCH_ARGS_STREAM)) ||
                   (is_udp && (kinds & BENCH_ARGS_UDP))) {
            if (have)
                bad_args(prog, kinds, "give exactly one address", NULL);
            if (i + 1 >= argc)
                bad_args(prog, kinds, "missing value after", a);
            have = 1;
            if (is_udp) {
                addr->is_udp = 1;
                addr->port = parse_port(prog, kinds, argv[i + 1]);
            } else if (a[2] == 't') {
                addr->port = parse_port(prog, kinds, argv[i + 1]);
            } else {
                struct sockaddr_un sun;
                if (argv[i + 1][0] == '\0')
                    bad_args(prog, kinds, "empty Unix socket path", NULL);
                if (strlen(argv[i + 1]) >= sizeof sun.sun_path)
                    bad_args(prog, kinds, "Unix socket path too long", argv[i + 1]);
                addr->is_unix = 1;
                addr->path = argv[i + 1];
            }
            i++;
        } else {
            bad_args(prog, kinds, "unknown argument", a);
        }
    }
    if (!have)
        bad_args(prog, kinds, one, NULL);
}

int bench_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

void bench_set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* fd made non-blocking and close-on-exec; or closed, and -1, after a message. */
static int nonblock_cloexec(int fd)
{
    if (bench_set_nonblock(fd) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        perror("fcntl");
        close(fd);
        return -1;
    }
    return fd;
}

static void loopback(struct sockaddr_in *sin, int port)
{
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((unsigned short)port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int bench_listen(const struct bench_addr *addr)
{
    int fd;

    if (addr->is_unix) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        strcpy(sun.sun_path, addr->path); /* length checked when parsing */
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) {
            perror("socket(AF_UNIX)");
            return -1;
        }
        if (unlink(addr->path) < 0 && errno != ENOENT) {
            fprintf(stderr, "unlink %s: %s\n", addr->path, strerror(errno));
            close(fd);
            return -1;
        }
        if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
            fprintf(stderr, "bind %s: %s\n", addr->path, strerror(errno));
            close(fd);
            return -1;
        }
    } else {
        struct sockaddr_in sin;
        int one = 1;
        loopback(&sin, addr->port);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            perror("socket(AF_INET)");
            return -1;
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
            fprintf(stderr, "bind 127.0.0.1:%d: %s\n", addr->port, strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (listen(fd, BENCH_BACKLOG) < 0) {
        perror("listen");
        close(fd);
        return -1;
    }
    return nonblock_cloexec(fd);
}

int bench_udp_socket(const struct bench_addr *addr)
{
    struct sockaddr_in sin;
    int fd;

    loopback(&sin, addr->port);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("socket(AF_INET, SOCK_DGRAM)");
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        fprintf(stderr, "bind udp 127.0.0.1:%d: %s\n", addr->port, strerror(errno));
        close(fd);
        return -1;
    }
    return nonblock_cloexec(fd);
}

static int would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

int bench_udp_flush(int fd, struct bench_udp_pending *p)
{
    for (;;) {
        ssize_t n = sendto(fd, p->data, p->len, 0, (struct sockaddr *)&p->addr, p->alen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && would_block(errno))
            return 1;
        p->set = 0; /* sent, or dropped on another error */
        return 0;
    }
}

int bench_udp_echo(int fd, char *buf, size_t cap, int batch, struct bench_udp_pending *p)
{
    int k;
    for (k = 0; k < batch; k++) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &flen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 0; /* EAGAIN: nothing more; other errors: nothing to echo */
        }
        if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen) < 0 &&
            would_block(errno)) {
            memcpy(p->data, buf, (size_t)n);
            p->len = (size_t)n;
            memcpy(&p->addr, &from, flen);
            p->alen = flen;
            p->set = 1;
            return 1;
        }
    }
    return 0;
}

int bench_udp_batch(void)
{
    const char *s = getenv("BENCH_UDP_BATCH");
    char *end;
    long v;
    if (s == NULL || *s == '\0')
        return 1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > 1024) {
        fprintf(stderr, "BENCH_UDP_BATCH must be 1..1024, got '%s'\n", s);
        exit(2);
    }
    return (int)v;
}

void bench_process_setup(void)
{
    struct rlimit rl;
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGPIPE, &sa, NULL);

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int signal_fd = -1;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    (void)!write(signal_fd, &c, 1);
    errno = saved;
}

int bench_signal_pipe(int fds[2])
{
    struct sigaction sa;
    int i;

    if (pipe(fds) < 0) {
        perror("pipe");
        return -1;
    }
    for (i = 0; i < 2; i++) {
        (void)bench_set_nonblock(fds[i]);
        (void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    signal_fd = fds[1];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

void bench_ready(void)
{
    fputs("ready\n", stdout);
    fflush(stdout);
}

void bench_cleanup(const struct bench_addr *addr)
{
    if (addr->is_unix && unlink(addr->path) < 0 && errno != ENOENT)
        fprintf(stderr, "unlink %s: %s\n", addr->path, strerror(errno));
}

double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

double bench_cpu_us(void)
{
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec) * 1e6 +
           (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec);
}
