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
#include <unistd.h>

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s (--tcp PORT | --unix PATH)\n"
            "  --tcp PORT    listen on 127.0.0.1:PORT (1-65535)\n"
            "  --unix PATH   listen on the Unix stream socket PATH\n"
            "Echoes every chunk it reads; prints \"ready\" once listening;\n"
            "exits on SIGTERM or SIGINT.\n",
            prog);
}

static void bad_args(const char *prog, const char *msg, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "%s: %s: '%s'\n", prog, msg, arg);
    else
        fprintf(stderr, "%s: %s\n", prog, msg);
    usage(stderr, prog);
    exit(2);
}

void bench_parse_args(int argc, char **argv, struct bench_addr *addr)
{
    const char *prog = argc > 0 ? argv[0] : "echo";
    int have = 0;
    int i;

    memset(addr, 0, sizeof *addr);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout, prog);
            exit(0);
        } else if (strcmp(a, "--tcp") == 0 || strcmp(a, "--unix") == 0) {
            if (have)
                bad_args(prog, "give exactly one of --tcp or --unix", NULL);
            if (i + 1 >= argc)
                bad_args(prog, "missing value after", a);
            have = 1;
            if (a[2] == 't') {
                char *end;
                long p;
                errno = 0;
                p = strtol(argv[i + 1], &end, 10);
                if (errno != 0 || end == argv[i + 1] || *end != '\0' || p < 1 || p > 65535)
                    bad_args(prog, "invalid TCP port (want 1-65535)", argv[i + 1]);
                addr->port = (int)p;
            } else {
                struct sockaddr_un sun;
                if (argv[i + 1][0] == '\0')
                    bad_args(prog, "empty Unix socket path", NULL);
                if (strlen(argv[i + 1]) >= sizeof sun.sun_path)
                    bad_args(prog, "Unix socket path too long", argv[i + 1]);
                addr->is_unix = 1;
                addr->path = argv[i + 1];
            }
            i++;
        } else {
            bad_args(prog, "unknown argument", a);
        }
    }
    if (!have)
        bad_args(prog, "one of --tcp PORT or --unix PATH is required", NULL);
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
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)addr->port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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
    if (bench_set_nonblock(fd) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        perror("fcntl");
        close(fd);
        return -1;
    }
    return fd;
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
