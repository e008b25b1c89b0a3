/*
 * loadgen.c - single-threaded epoll load generator for the echo servers.
 *
 * Modes:
 *   pingpong  N connections, each with exactly one request of --size bytes
 *             in flight; the echo is checked byte for byte, its latency
 *             (first send() to last byte read) goes into a histogram.
 *   stream    one connection writing --chunk bytes as fast as the socket
 *             takes them while reading the echo back (checked against the
 *             sent pattern); reports MB/s (1 MB = 10^6 bytes) of echo.
 *
 * --idle M opens M more connections first; each does one 1-byte round trip
 * (so the server has certainly accepted it) and then stays silent.
 *
 * UDP (--udp PORT, the server's datagram socket on 127.0.0.1):
 *   pingpong  N client sockets (each connect()ed to the server), each with
 *             exactly one --size-byte datagram in flight; the echo is checked
 *             byte for byte; a request without an echo after 200 ms is sent
 *             again (counted as lost; its latency runs from the first send).
 *   flood     one client socket sends --size-byte datagrams as fast as the
 *             socket takes them (bursts of 64, stopping at EAGAIN) and reads
 *             the echoes in between (checked).  The server's work is the
 *             datagrams it received: those sent in the window minus those the
 *             kernel dropped at the server's socket (its "drops" in
 *             /proc/net/udp: receive buffer full) and in the backlog
 *             (/proc/net/softnet_stat); "requests" and "us per request" count
 *             those.  The echoes that reach the client are reported apart.
 *
 * With --server-pid the server's CPU time (sum over /proc/PID/task/ ... /schedstat,
 * first field: ns on CPU) is read at the start and end of the measured
 * window, giving server microseconds per request and per MB; its VmRSS is
 * read before the idle connections are opened, after, and around the window.
 *
 * Output: one key=value line starting with "mode=", then one line for
 * humans starting with "# ".  Exit status 0 on success, 1 on a failed run,
 * 2 on bad arguments.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG (16u << 20) /* largest --size / --chunk */
#define STREAM_RBUF (256u << 10)
#define PAT_PERIOD 251u /* stream pattern: byte at offset o is o % 251 */

enum mode { MODE_PINGPONG, MODE_STREAM, MODE_FLOOD };

#define UDP_MAX 65507u              /* largest UDP payload over IPv4 */
#define UDP_RTO_NS 200000000u       /* pingpong: resend after 200 ms without an echo */
#define FLOOD_BURST 64              /* flood: datagrams sent between two reads */

struct opts {
    int is_unix;
    int is_udp;
    int port;
    const char *path;
    enum mode mode;
    long conns;
    size_t size;
    size_t chunk;
    double duration;
    double warmup;
    long idle;
    long server_pid; /* 0: none */
    long cpu;        /* -1: not pinned */
};

static const char *prog = "loadgen";

#if defined(__GNUC__)
#define PRINTF_LIKE __attribute__((format(printf, 1, 2)))
#else
#define PRINTF_LIKE
#endif

static void die(const char *fmt, ...) PRINTF_LIKE;

/* ---------------------------------------------------------------- errors */

static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s (--tcp PORT | --unix PATH | --udp PORT) [options]\n"
            "  --mode pingpong|stream|flood  workload (default pingpong; flood: UDP only,\n"
            "                   stream: TCP and Unix only)\n"
            "  --conns N        pingpong: active connections (default 10)\n"
            "  --size BYTES     pingpong: request/response size (default 64)\n"
            "  --chunk BYTES    stream: bytes per send() (default 65536)\n"
            "  --duration SEC   measured window (default 5)\n"
            "  --warmup SEC     load before the window, not measured (default 2)\n"
            "  --idle M         also hold M idle connections (default 0)\n"
            "  --server-pid PID report server CPU (schedstat) and RSS (VmRSS)\n"
            "  --cpu N          pin this process to CPU N\n"
            "Prints one key=value line (starting \"mode=\") and one \"# \" line.\n",
            prog);
}

static void bad_arg(const char *msg, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "%s: %s: '%s'\n", prog, msg, arg);
    else
        fprintf(stderr, "%s: %s\n", prog, msg);
    usage(stderr);
    exit(2);
}

static long parse_long(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: %s wants an integer in [%ld, %ld], got '%s'\n", prog, opt, lo, hi, s);
        exit(2);
    }
    return v;
}

static double parse_seconds(const char *opt, const char *s, double lo, double hi)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        fprintf(stderr, "%s: %s wants seconds in [%g, %g], got '%s'\n", prog, opt, lo, hi, s);
        exit(2);
    }
    return v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    int i, have_addr = 0, have_size = 0, have_chunk = 0, have_conns = 0;

    memset(o, 0, sizeof *o);
    o->mode = MODE_PINGPONG;
    o->conns = 10;
    o->size = 64;
    o->chunk = 65536;
    o->duration = 5.0;
    o->warmup = 2.0;
    o->cpu = -1;
    if (argc > 0)
        prog = argv[0];

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0)
            bad_arg("unexpected argument", a);
        if (i + 1 >= argc)
            bad_arg("missing value after", a);
        v = argv[++i];
        if (strcmp(a, "--tcp") == 0 || strcmp(a, "--unix") == 0 || strcmp(a, "--udp") == 0) {
            if (have_addr)
                bad_arg("give exactly one of --tcp, --unix or --udp", NULL);
            have_addr = 1;
            if (a[3] == 'd') {
                o->is_udp = 1;
                o->port = (int)parse_long(a, v, 1, 65535);
            } else if (a[2] == 't') {
                o->port = (int)parse_long(a, v, 1, 65535);
            } else {
                struct sockaddr_un sun;
                if (v[0] == '\0' || strlen(v) >= sizeof sun.sun_path)
                    bad_arg("Unix socket path empty or too long", v);
                o->is_unix = 1;
                o->path = v;
            }
        } else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "pingpong") == 0)
                o->mode = MODE_PINGPONG;
            else if (strcmp(v, "stream") == 0)
                o->mode = MODE_STREAM;
            else if (strcmp(v, "flood") == 0)
                o->mode = MODE_FLOOD;
            else
                bad_arg("--mode wants pingpong, stream or flood", v);
        } else if (strcmp(a, "--conns") == 0) {
            o->conns = parse_long(a, v, 1, 100000);
            have_conns = 1;
        } else if (strcmp(a, "--size") == 0) {
            o->size = (size_t)parse_long(a, v, 1, MAX_MSG);
            have_size = 1;
        } else if (strcmp(a, "--chunk") == 0) {
            o->chunk = (size_t)parse_long(a, v, 1, MAX_MSG);
            have_chunk = 1;
        } else if (strcmp(a, "--duration") == 0) {
            o->duration = parse_seconds(a, v, 0.01, 86400);
        } else if (strcmp(a, "--warmup") == 0) {
            o->warmup = parse_seconds(a, v, 0, 3600);
        } else if (strcmp(a, "--idle") == 0) {
            o->idle = parse_long(a, v, 0, 1000000);
        } else if (strcmp(a, "--server-pid") == 0) {
            o->server_pid = parse_long(a, v, 1, 0x7fffffffL);
        } else if (strcmp(a, "--cpu") == 0) {
            o->cpu = parse_long(a, v, 0, CPU_SETSIZE - 1);
        } else {
            bad_arg("unknown option", a);
        }
    }
    if (!have_addr)
        bad_arg("one of --tcp PORT, --unix PATH or --udp PORT is required", NULL);
    if (o->is_udp && o->mode == MODE_STREAM)
        bad_arg("stream mode is for --tcp and --unix (UDP: pingpong or flood)", NULL);
    if (!o->is_udp && o->mode == MODE_FLOOD)
        bad_arg("flood mode is for --udp", NULL);
    if (o->is_udp && o->idle > 0)
        bad_arg("--idle is for --tcp and --unix", NULL);
    if (o->is_udp && o->size > UDP_MAX)
        bad_arg("a UDP datagram carries at most 65507 bytes (--size)", NULL);
    if (o->mode == MODE_FLOOD && ((have_conns && o->conns != 1) || have_chunk || o->size < 8))
        bad_arg("flood mode uses one socket and --size >= 8 (a sequence number), not "
                "--conns/--chunk", NULL);
    if (o->mode == MODE_FLOOD)
        o->conns = 1;
    if (o->mode == MODE_STREAM && (have_size || (have_conns && o->conns != 1)))
        bad_arg("stream mode uses one connection and --chunk, not --conns/--size", NULL);
    if (o->mode == MODE_PINGPONG && have_chunk)
        bad_arg("--chunk is for stream mode (pingpong uses --size)", NULL);
    if (o->mode == MODE_STREAM)
        o->conns = 1;
}

/* ------------------------------------------------------------------ clock */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------- latency histogram
 * Values below 1024 ns have their own bucket; above, each power of two is
 * split into 512 buckets (relative error < 0.2 %).  Values are capped at
 * 2^41 ns (about 36 minutes). */

#define SUB_BITS 9
#define SUB_COUNT (1u << SUB_BITS)
#define LINEAR_MAX (2u * SUB_COUNT) /* 1024 */
#define MAX_SHIFT 31                /* msb 40 */
#define HIST_SIZE (LINEAR_MAX + MAX_SHIFT * SUB_COUNT)

static uint64_t hist[HIST_SIZE];
static uint64_t hist_count, hist_max;
static double hist_sum;

static unsigned hist_index(uint64_t v)
{
    unsigned msb = SUB_BITS + 1, shift;
    if (v < LINEAR_MAX)
        return (unsigned)v;
    if (v >= ((uint64_t)1 << 41))
        v = ((uint64_t)1 << 41) - 1;
    while (v >> (msb + 1))
        msb++;
    shift = msb - SUB_BITS; /* 1..MAX_SHIFT */
    return LINEAR_MAX + (shift - 1) * SUB_COUNT + (unsigned)(v >> shift) - SUB_COUNT;
}

/* Midpoint of bucket i, in ns. */
static double hist_value(unsigned i)
{
    unsigned k, shift;
    uint64_t low;
    if (i < LINEAR_MAX)
        return (double)i;
    k = i - LINEAR_MAX;
    shift = k / SUB_COUNT + 1;
    low = (uint64_t)(k % SUB_COUNT + SUB_COUNT) << shift;
    return (double)low + (double)((uint64_t)1 << shift) / 2.0;
}

static void hist_add(uint64_t v)
{
    hist[hist_index(v)]++;
    hist_count++;
    hist_sum += (double)v;
    if (v > hist_max)
        hist_max = v;
}

/* q in (0, 1]; returns microseconds, NAN when empty. */
static double hist_quantile_us(double q)
{
    uint64_t rank, cum = 0;
    unsigned i;
    if (hist_count == 0)
        return NAN;
    rank = (uint64_t)ceil(q * (double)hist_count);
    if (rank < 1)
        rank = 1;
    for (i = 0; i < HIST_SIZE; i++) {
        cum += hist[i];
        if (cum >= rank)
            return hist_value(i) / 1000.0;
    }
    return (double)hist_max / 1000.0;
}

/* ------------------------------------------------------- /proc readings */

/* Sum of the first schedstat field over all threads of pid, in ns; -1 on error. */
static long long proc_cpu_ns(long pid)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    long long total = 0;
    int found = 0;

    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char p[96];
        unsigned long long ns;
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "/proc/%ld/task/%.20s/schedstat", pid, e->d_name);
        f = fopen(p, "r");
        if (f == NULL)
            continue; /* thread just exited */
        if (fscanf(f, "%llu", &ns) == 1) {
            total += (long long)ns;
            found = 1;
        }
        fclose(f);
    }
    closedir(d);
    return found ? total : -1;
}

/* VmRSS of pid in kB; -1 on error. */
static long proc_rss_kb(long pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* Datagrams the kernel dropped at the UDP sockets bound to local port `port`
   (the last field, "drops", of their /proc/net/udp lines); -1 when there is none. */
static long long udp_port_drops(int port)
{
    char line[512];
    long long total = -1;
    FILE *f = fopen("/proc/net/udp", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned lport;
        const char *last;
        char *end;
        long long drops;
        size_t n = strlen(line);
        /* "  sl: LOCALHEX:PORTHEX REMOTE ... drops" */
        if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x", &lport) != 1 || (int)lport != port)
            continue;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
            line[--n] = '\0';
        last = strrchr(line, ' ');
        if (last == NULL)
            continue;
        drops = strtoll(last + 1, &end, 10);
        if (end == last + 1 || *end != '\0')
            continue;
        total = (total < 0 ? 0 : total) + drops;
    }
    fclose(f);
    return total;
}

/* Packets dropped by the kernel's input backlog, all CPUs (the second field of
   /proc/net/softnet_stat, in hex); -1 on error. */
static long long softnet_drops(void)
{
    char line[512];
    long long total = -1;
    FILE *f = fopen("/proc/net/softnet_stat", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long processed, dropped;
        if (sscanf(line, "%lx %lx", &processed, &dropped) == 2)
            total = (total < 0 ? 0 : total) + (long long)dropped;
    }
    fclose(f);
    return total;
}

struct sample {
    uint64_t t;
    long long srv_ns, cli_ns;
    long srv_rss;
    long long udp_drops, net_drops; /* UDP: see udp_port_drops, softnet_drops */
};

static void take_sample(const struct opts *o, struct sample *s)
{
    s->t = now_ns();
    s->cli_ns = proc_cpu_ns((long)getpid());
    s->srv_ns = -1;
    s->srv_rss = -1;
    s->udp_drops = o->is_udp ? udp_port_drops(o->port) : -1;
    s->net_drops = o->is_udp ? softnet_drops() : -1;
    if (o->server_pid) {
        s->srv_ns = proc_cpu_ns(o->server_pid);
        s->srv_rss = proc_rss_kb(o->server_pid);
        if (s->srv_ns < 0)
            die("cannot read /proc/%ld/task/*/schedstat (is the server still running?)",
                o->server_pid);
    }
}

/* ------------------------------------------------------------ connections */

static int connect_one(const struct opts *o)
{
    int fd, r;
    if (o->is_udp) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)o->port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            goto fail;
        r = connect(fd, (struct sockaddr *)&sin, sizeof sin); /* the server's address only */
    } else if (o->is_unix) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        strcpy(sun.sun_path, o->path); /* length checked when parsing */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            goto fail;
        do
            r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
        while (r < 0 && errno == EINTR);
    } else {
        struct sockaddr_in sin;
        int one = 1;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)o->port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            goto fail;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        do
            r = connect(fd, (struct sockaddr *)&sin, sizeof sin);
        while (r < 0 && errno == EINTR);
    }
    if (r == 0)
        return fd;
fail:
    if (errno == EMFILE || errno == ENFILE)
        die("out of file descriptors: raise the limit (ulimit -n)");
    if (o->is_unix)
        die("cannot connect to unix:%s: %s", o->path, strerror(errno));
    if (o->is_udp)
        die("cannot connect a UDP socket to 127.0.0.1:%d: %s", o->port, strerror(errno));
    die("cannot connect to 127.0.0.1:%d: %s", o->port, strerror(errno));
    return -1;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl: %s", strerror(errno));
}

static void ensure_fd_limit(long need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
            && (long)rl.rlim_cur < need)
            die("need about %ld file descriptors but the limit is %ld: raise it (ulimit -n)",
                need, (long)rl.rlim_cur);
    }
}

/* Opens the idle connections, each doing one 1-byte round trip. */
static int *open_idle(const struct opts *o)
{
    int *fds;
    long i;
    struct timeval tv;

    if (o->idle == 0)
        return NULL;
    fds = malloc((size_t)o->idle * sizeof *fds);
    if (fds == NULL)
        die("out of memory");
    tv.tv_sec = 10;
    tv.tv_usec = 0;
    for (i = 0; i < o->idle; i++) {
        unsigned char out = (unsigned char)i, in = 0;
        ssize_t n;
        int fd = connect_one(o);
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        do
            n = send(fd, &out, 1, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n != 1)
            die("idle connection %ld: send: %s", i, n < 0 ? strerror(errno) : "short write");
        do
            n = recv(fd, &in, 1, 0);
        while (n < 0 && errno == EINTR);
        if (n != 1)
            die("idle connection %ld: no echo: %s", i,
                n < 0 ? strerror(errno) : "connection closed by server");
        if (in != out)
            die("idle connection %ld: wrong echo", i);
        fds[i] = fd;
    }
    return fds;
}

/* Fails if the server closed (or sent anything on) an idle connection. */
static void check_idle(const struct opts *o, const int *fds)
{
    long i;
    for (i = 0; i < o->idle; i++) {
        struct pollfd p;
        p.fd = fds[i];
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, 0) != 0)
            die("idle connection %ld: unexpected event (closed by the server?)", i);
    }
}

/* -------------------------------------------------------------- pingpong */

struct pconn {
    int fd;
    int want_out;   /* EPOLLOUT registered */
    size_t sent;    /* bytes of the current request sent */
    size_t got;     /* bytes of the current response received */
    uint64_t t0;    /* when the current request started */
    uint64_t deadline; /* UDP: resend the request if no echo came by then */
    uint64_t seq;
    unsigned char *req, *resp;
};

struct counters {
    uint64_t requests;
    uint64_t bytes; /* echoed bytes received */
};

static int measuring;
static struct counters cnt;

static void interest(int ep, struct pconn *c, int want_out)
{
    struct epoll_event ev;
    if (c->want_out == want_out)
        return;
    c->want_out = want_out;
    ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0u);
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void pp_send(int ep, struct pconn *c, size_t size)
{
    while (c->sent < size) {
        ssize_t n = send(c->fd, c->req + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            die("send: %s", strerror(errno));
        }
        c->sent += (size_t)n;
    }
    interest(ep, c, c->sent < size);
}

static void pp_start(int ep, struct pconn *c, size_t size)
{
    size_t k;
    c->seq++;
    for (k = 0; k < size && k < sizeof c->seq; k++) /* sequence number in the head */
        c->req[k] = (unsigned char)(c->seq >> (8 * k));
    c->sent = 0;
    c->got = 0;
    c->t0 = now_ns();
    pp_send(ep, c, size);
}

static void pp_event(int ep, struct pconn *c, unsigned events, size_t size, long idx)
{
    if ((events & EPOLLOUT) && c->sent < size)
        pp_send(ep, c, size);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = read(c->fd, c->resp + c->got, size - c->got);
        if (n == 0)
            die("connection %ld: closed by the server", idx);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            die("connection %ld: read: %s", idx, strerror(errno));
        }
        if (c->got + (size_t)n > c->sent)
            die("connection %ld: server sent bytes that were never sent to it", idx);
        c->got += (size_t)n;
        if (c->got == size) {
            uint64_t t1 = now_ns();
            if (memcmp(c->req, c->resp, size) != 0)
                die("connection %ld: echo differs from request %llu", idx,
                    (unsigned long long)c->seq);
            if (measuring) {
                hist_add(t1 - c->t0);
                cnt.requests++;
                cnt.bytes += size;
            }
            pp_start(ep, c, size);
        }
    }
}

/* ---------------------------------------------------------------- stream */

struct sconn {
    int fd;
    uint64_t sent_off, recv_off;
    unsigned char *pat, *rbuf;
};

static void st_event(struct sconn *s, unsigned events, size_t chunk)
{
    if (events & EPOLLOUT) {
        ssize_t n = send(s->fd, s->pat + s->sent_off % PAT_PERIOD, chunk, MSG_NOSIGNAL);
        if (n > 0)
            s->sent_off += (uint64_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            die("send: %s", strerror(errno));
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = read(s->fd, s->rbuf, STREAM_RBUF);
        if (n == 0)
            die("stream connection closed by the server");
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            die("read: %s", strerror(errno));
        }
        if (s->recv_off + (uint64_t)n > s->sent_off)
            die("server sent bytes that were never sent to it");
        if (memcmp(s->rbuf, s->pat + s->recv_off % PAT_PERIOD, (size_t)n) != 0)
            die("echo differs from the sent stream near offset %llu",
                (unsigned long long)s->recv_off);
        s->recv_off += (uint64_t)n;
        if (measuring)
            cnt.bytes += (uint64_t)n;
    }
}

/* ----------------------------------------------------------- udp pingpong */

struct ucounters {
    uint64_t sent;   /* flood: datagrams sent in the window */
    uint64_t echoes; /* flood: echoes received in the window */
    uint64_t resent; /* pingpong: requests sent again after UDP_RTO_NS */
    uint64_t stale;  /* pingpong: echoes of a request already answered */
};

static struct ucounters ucnt;

static int udp_would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

static void udp_die(const char *what, long idx)
{
    die("%s %ld: %s%s", what, idx, strerror(errno),
        errno == ECONNREFUSED ? " (nothing listens on the server's port)" : "");
}

/* Sends c's current request (again); a full socket buffer is left to the resend. */
static void upp_send(struct pconn *c, size_t size, uint64_t now, long idx)
{
    ssize_t n;
    c->deadline = now + UDP_RTO_NS;
    do
        n = send(c->fd, c->req, size, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && !udp_would_block(errno))
        udp_die("udp send, client", idx);
}

static void upp_start(struct pconn *c, size_t size, long idx)
{
    size_t k;
    c->seq++;
    for (k = 0; k < size && k < sizeof c->seq; k++) /* sequence number in the head */
        c->req[k] = (unsigned char)(c->seq >> (8 * k));
    c->t0 = now_ns();
    upp_send(c, size, c->t0, idx);
}

/* One datagram for client c: its echo (next request), or a late duplicate. */
static void upp_event(struct pconn *c, size_t size, long idx)
{
    size_t head = size < sizeof c->seq ? size : sizeof c->seq;
    ssize_t n = recv(c->fd, c->resp, size + 1, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        udp_die("udp recv, client", idx);
    }
    if ((size_t)n != size || memcmp(c->req + head, c->resp + head, size - head) != 0)
        die("client %ld: echo differs from request %llu (%zd bytes, sent %zu)", idx,
            (unsigned long long)c->seq, n, size);
    if (memcmp(c->req, c->resp, head) != 0) {
        ucnt.stale++; /* the echo of a request sent twice came twice */
        return;
    }
    if (measuring) {
        hist_add(now_ns() - c->t0);
        cnt.requests++;
        cnt.bytes += size;
    }
    upp_start(c, size, idx);
}

/* Resends the requests whose echo is late (lost, or a very slow server). */
static void upp_resend_late(struct pconn *pc, long conns, size_t size)
{
    uint64_t now = now_ns();
    long i;
    for (i = 0; i < conns; i++) {
        if (now >= pc[i].deadline) {
            if (measuring)
                ucnt.resent++;
            upp_send(&pc[i], size, now, i);
        }
    }
}

/* ----------------------------------------------------------------- flood */

struct flood {
    int fd;
    uint64_t next_seq;
    unsigned char *out, *in;
};

/* Datagram seq: the sequence number (8 bytes, little-endian), then a pattern of it. */
static void flood_fill(unsigned char *p, uint64_t seq, size_t size)
{
    size_t k;
    for (k = 0; k < 8; k++)
        p[k] = (unsigned char)(seq >> (8 * k));
    for (; k < size; k++)
        p[k] = (unsigned char)(seq * 131u + k);
}

/* Sends up to FLOOD_BURST datagrams; returns 1 when the socket took no more. */
static int flood_send(struct flood *f, size_t size)
{
    int k;
    for (k = 0; k < FLOOD_BURST; k++) {
        ssize_t n;
        flood_fill(f->out, f->next_seq, size);
        n = send(f->fd, f->out, size, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (udp_would_block(errno))
                return 1;
            udp_die("udp send, flood client", 0);
        }
        f->next_seq++;
        if (measuring)
            ucnt.sent++;
    }
    return 0;
}

/* Reads the echoes that have arrived and checks each. */
static void flood_recv(struct flood *f, size_t size)
{
    for (;;) {
        uint64_t seq = 0;
        size_t k;
        ssize_t n = recv(f->fd, f->in, size + 1, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            udp_die("udp recv, flood client", 0);
        }
        if ((size_t)n == size)
            for (k = 0; k < 8; k++)
                seq |= (uint64_t)f->in[k] << (8 * k);
        if ((size_t)n != size || seq >= f->next_seq)
            die("flood: the server sent a datagram that was never sent to it (%zd bytes)", n);
        for (k = 8; k < size; k++)
            if (f->in[k] != (unsigned char)(seq * 131u + k))
                die("flood: echo of datagram %llu differs at byte %zu", (unsigned long long)seq, k);
        if (measuring) {
            ucnt.echoes++;
            cnt.bytes += size;
        }
    }
}

/* ------------------------------------------------------------------ main */

static uint64_t t_warm_end, t_end;

/* The ns left in the current phase (warm-up, then the measured window), or 0
   once the window is over.  s_before is taken when the window starts. */
static uint64_t phase_left(const struct opts *o, struct sample *s_before)
{
    for (;;) {
        uint64_t t = now_ns(), deadline = measuring ? t_end : t_warm_end;
        if (t < deadline)
            return deadline - t;
        if (measuring)
            return 0;
        take_sample(o, s_before);
        measuring = 1;
        t_end = s_before->t + (uint64_t)(o->duration * 1e9);
    }
}

static void fmt_num(char *buf, size_t len, double v, int prec)
{
    if (isnan(v))
        snprintf(buf, len, "NA");
    else
        snprintf(buf, len, "%.*f", prec, v);
}

int main(int argc, char **argv)
{
    enum { MAX_EVENTS = 256 };
    struct epoll_event evs[MAX_EVENTS];
    struct opts o;
    struct sample s_start, s_idle, s_before, s_after;
    struct pconn *pc = NULL;
    struct sconn sc;
    struct flood fl;
    int *idle_fds;
    int ep;
    long i;
    uint64_t next_scan = 0;
    long long srv_drops = -1, net_drops = -1;
    double secs, srv_ms = NAN, cli_ms = NAN, rps, mbps, us_req = NAN, us_mb = NAN;
    double cli_us_req = NAN, cli_us_mb = NAN, srv_util = NAN, kb_idle = NAN;
    char b[16][32];
    const char *transport;

    parse_opts(argc, argv, &o);
    transport = o.is_udp ? "udp" : o.is_unix ? "unix" : "tcp";
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
    if (o.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((int)o.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            die("cannot pin to CPU %ld: %s", o.cpu, strerror(errno));
    }
    ensure_fd_limit(o.conns + o.idle + 16);
    if (o.server_pid && proc_cpu_ns(o.server_pid) < 0)
        die("cannot read /proc/%ld/task/*/schedstat: no such process, or no schedstat support",
            o.server_pid);

    /* Idle connections first, so that their memory is measured alone. */
    take_sample(&o, &s_start);
    idle_fds = open_idle(&o);
    take_sample(&o, &s_idle);

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));

    memset(&sc, 0, sizeof sc);
    memset(&fl, 0, sizeof fl);
    if (o.mode == MODE_FLOOD) {
        fl.fd = connect_one(&o);
        set_nonblock(fl.fd);
        fl.out = malloc(o.size);
        fl.in = malloc(o.size + 1);
        if (fl.out == NULL || fl.in == NULL)
            die("out of memory");
    } else if (o.mode == MODE_PINGPONG) {
        pc = calloc((size_t)o.conns, sizeof *pc);
        if (pc == NULL)
            die("out of memory");
        for (i = 0; i < o.conns; i++) {
            struct epoll_event ev;
            size_t k;
            pc[i].fd = connect_one(&o);
            set_nonblock(pc[i].fd);
            pc[i].req = malloc(o.size);
            pc[i].resp = malloc(o.size + 1); /* UDP: a longer datagram shows */
            if (pc[i].req == NULL || pc[i].resp == NULL)
                die("out of memory");
            for (k = 0; k < o.size; k++) /* per-connection body pattern */
                pc[i].req[k] = (unsigned char)(k * 7u + (size_t)i * 13u + 1u);
            ev.events = EPOLLIN;
            ev.data.ptr = &pc[i];
            if (epoll_ctl(ep, EPOLL_CTL_ADD, pc[i].fd, &ev) < 0)
                die("epoll_ctl: %s", strerror(errno));
        }
    } else {
        struct epoll_event ev;
        size_t k, patlen = o.chunk + PAT_PERIOD + STREAM_RBUF;
        sc.fd = connect_one(&o);
        set_nonblock(sc.fd);
        sc.pat = malloc(patlen);
        sc.rbuf = malloc(STREAM_RBUF);
        if (sc.pat == NULL || sc.rbuf == NULL)
            die("out of memory");
        for (k = 0; k < patlen; k++)
            sc.pat[k] = (unsigned char)(k % PAT_PERIOD);
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.ptr = &sc;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, sc.fd, &ev) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }

    t_warm_end = now_ns() + (uint64_t)(o.warmup * 1e9);
    t_end = 0;
    measuring = 0;
    if (o.mode == MODE_PINGPONG)
        for (i = 0; i < o.conns; i++) {
            if (o.is_udp)
                upp_start(&pc[i], o.size, i);
            else
                pp_start(ep, &pc[i], o.size);
        }

    for (;;) {
        uint64_t left = phase_left(&o, &s_before);
        int n, timeout_ms;
        if (left == 0)
            break;
        if (o.mode == MODE_FLOOD) {
            struct pollfd p;
            int blocked = flood_send(&fl, o.size);
            flood_recv(&fl, o.size);
            if (blocked) { /* wait until the socket takes more (or an echo comes) */
                p.fd = fl.fd;
                p.events = POLLOUT | POLLIN;
                p.revents = 0;
                (void)poll(&p, 1, 1);
            }
            continue;
        }
        timeout_ms = (int)((left + 999999u) / 1000000u);
        if (o.is_udp && timeout_ms > 10)
            timeout_ms = 10; /* the resend check */
        n = epoll_wait(ep, evs, MAX_EVENTS, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int j = 0; j < n; j++) {
            if (o.mode == MODE_PINGPONG) {
                struct pconn *c = evs[j].data.ptr;
                if (o.is_udp)
                    upp_event(c, o.size, (long)(c - pc));
                else
                    pp_event(ep, c, evs[j].events, o.size, (long)(c - pc));
            } else {
                st_event(&sc, evs[j].events, o.chunk);
            }
        }
        if (o.is_udp && now_ns() >= next_scan) {
            upp_resend_late(pc, o.conns, o.size);
            next_scan = now_ns() + 10000000u;
        }
    }
    take_sample(&o, &s_after);
    check_idle(&o, idle_fds);
    if (s_before.udp_drops >= 0 && s_after.udp_drops >= 0)
        srv_drops = s_after.udp_drops - s_before.udp_drops;
    if (s_before.net_drops >= 0 && s_after.net_drops >= 0)
        net_drops = s_after.net_drops - s_before.net_drops;
    if (o.mode == MODE_FLOOD) {
        /* the server's work: what reached its socket */
        long long lost = (srv_drops > 0 ? srv_drops : 0) + (net_drops > 0 ? net_drops : 0);
        if (srv_drops < 0)
            fprintf(stderr, "%s: no drop count for udp port %d in /proc/net/udp: counting every "
                            "datagram sent as received\n", prog, o.port);
        cnt.requests = ucnt.sent > (uint64_t)lost ? ucnt.sent - (uint64_t)lost : 0;
    }

    /* --------------------------------------------------------- report */
    secs = (double)(s_after.t - s_before.t) / 1e9;
    rps = (double)cnt.requests / secs;
    mbps = (double)cnt.bytes / 1e6 / secs;
    if (o.server_pid) {
        srv_ms = (double)(s_after.srv_ns - s_before.srv_ns) / 1e6;
        srv_util = srv_ms / 1e3 / secs;
        if (cnt.requests)
            us_req = srv_ms * 1e3 / (double)cnt.requests;
        if (cnt.bytes)
            us_mb = srv_ms * 1e3 / ((double)cnt.bytes / 1e6);
        if (o.idle > 0 && s_start.srv_rss >= 0 && s_idle.srv_rss >= 0)
            kb_idle = (double)(s_idle.srv_rss - s_start.srv_rss) / (double)o.idle;
    }
    if (s_before.cli_ns >= 0 && s_after.cli_ns >= 0) {
        cli_ms = (double)(s_after.cli_ns - s_before.cli_ns) / 1e6;
        if (cnt.requests)
            cli_us_req = cli_ms * 1e3 / (double)cnt.requests;
        if (cnt.bytes)
            cli_us_mb = cli_ms * 1e3 / ((double)cnt.bytes / 1e6);
    }

    fmt_num(b[0], sizeof b[0], o.mode != MODE_STREAM ? rps : NAN, 1);
    fmt_num(b[1], sizeof b[1], mbps, 3);
    fmt_num(b[2], sizeof b[2], hist_quantile_us(0.50), 2);
    fmt_num(b[3], sizeof b[3], hist_quantile_us(0.90), 2);
    fmt_num(b[4], sizeof b[4], hist_quantile_us(0.99), 2);
    fmt_num(b[5], sizeof b[5], hist_quantile_us(0.999), 2);
    fmt_num(b[6], sizeof b[6], hist_count ? (double)hist_max / 1e3 : NAN, 2);
    fmt_num(b[7], sizeof b[7], hist_count ? hist_sum / (double)hist_count / 1e3 : NAN, 2);
    fmt_num(b[8], sizeof b[8], srv_ms, 3);
    fmt_num(b[9], sizeof b[9], us_req, 3);
    fmt_num(b[10], sizeof b[10], us_mb, 1);
    fmt_num(b[11], sizeof b[11], srv_util, 3);
    fmt_num(b[12], sizeof b[12], kb_idle, 2);
    fmt_num(b[13], sizeof b[13], cli_ms, 3);
    fmt_num(b[14], sizeof b[14], cli_us_req, 3);
    fmt_num(b[15], sizeof b[15], cli_us_mb, 1);

    printf("mode=%s transport=%s conns=%ld idle=%ld size=%zu warmup_s=%.3f duration_s=%.3f "
           "requests=%llu bytes=%llu rps=%s mbps=%s "
           "lat_p50_us=%s lat_p90_us=%s lat_p99_us=%s lat_p999_us=%s lat_max_us=%s lat_mean_us=%s "
           "srv_cpu_ms=%s srv_us_per_req=%s srv_us_per_mb=%s srv_cores=%s "
           "srv_rss_kb_start=%ld srv_rss_kb_idle=%ld srv_rss_kb_before=%ld srv_rss_kb_after=%ld "
           "srv_kb_per_idle_conn=%s cli_cpu_ms=%s cli_us_per_req=%s cli_us_per_mb=%s cli_cpu=%ld",
           o.mode == MODE_PINGPONG ? "pingpong" : o.mode == MODE_FLOOD ? "flood" : "stream",
           transport, o.conns, o.idle, o.mode != MODE_STREAM ? o.size : o.chunk, o.warmup, secs,
           (unsigned long long)cnt.requests, (unsigned long long)cnt.bytes, b[0], b[1], b[2], b[3],
           b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], s_start.srv_rss, s_idle.srv_rss,
           s_before.srv_rss, s_after.srv_rss, b[12], b[13], b[14], b[15], o.cpu);
    if (o.is_udp) {
        char sent[32], drops[32], nd[32];
        fmt_num(sent, sizeof sent, o.mode == MODE_FLOOD ? (double)ucnt.sent : NAN, 0);
        fmt_num(drops, sizeof drops, srv_drops >= 0 ? (double)srv_drops : NAN, 0);
        fmt_num(nd, sizeof nd, net_drops >= 0 ? (double)net_drops : NAN, 0);
        printf(" sent=%s echoes=%llu srv_drops=%s net_drops=%s resent=%llu stale=%llu", sent,
               (unsigned long long)(o.mode == MODE_FLOOD ? ucnt.echoes : cnt.requests), drops, nd,
               (unsigned long long)ucnt.resent, (unsigned long long)ucnt.stale);
    }
    printf("\n");
    if (o.mode == MODE_FLOOD) {
        char pct[32];
        fmt_num(pct, sizeof pct,
                srv_drops >= 0 && ucnt.sent > 0 ? 100.0 * (double)srv_drops / (double)ucnt.sent : NAN,
                1);
        printf("# flood udp, %zu B: sent %.0f/s, server received %.0f/s (%s %% dropped at its "
               "socket), %.0f echoes/s",
               o.size, (double)ucnt.sent / secs, rps, pct, (double)ucnt.echoes / secs);
    }
    else if (o.mode == MODE_PINGPONG)
        printf("# pingpong %s, %ld %s (+%ld idle), %zu B: %.0f req/s, latency p50 %s us p99 %s us",
               transport, o.conns, o.is_udp ? "clients" : "conns", o.idle, o.size, rps, b[2], b[4]);
    else
        printf("# stream %s, %zu B chunks (+%ld idle): %.1f MB/s", transport, o.chunk, o.idle, mbps);
    if (o.server_pid) {
        printf("; server %s us/%s (%s cores), RSS %ld -> %ld kB",
               o.mode != MODE_STREAM ? b[9] : b[10], o.mode == MODE_FLOOD ? "datagram"
                                                     : o.mode == MODE_PINGPONG ? "req" : "MB",
               b[11], s_start.srv_rss, s_after.srv_rss);
        if (o.idle > 0)
            printf(", %s kB per idle conn", b[12]);
    }
    if (o.is_udp && o.mode == MODE_PINGPONG && (ucnt.resent > 0 || ucnt.stale > 0))
        printf("; %llu resent after %u ms, %llu late duplicates", (unsigned long long)ucnt.resent,
               UDP_RTO_NS / 1000000u, (unsigned long long)ucnt.stale);
    printf("; client %s us/%s\n", o.mode != MODE_STREAM ? b[14] : b[15],
           o.mode == MODE_FLOOD ? "datagram" : o.mode == MODE_PINGPONG ? "req" : "MB");
    fflush(stdout);

    /* ------------------------------------------------------- clean up */
    if (pc != NULL) {
        for (i = 0; i < o.conns; i++) {
            close(pc[i].fd);
            free(pc[i].req);
            free(pc[i].resp);
        }
        free(pc);
    }
    if (o.mode == MODE_STREAM) {
        close(sc.fd);
        free(sc.pat);
        free(sc.rbuf);
    }
    if (o.mode == MODE_FLOOD) {
        close(fl.fd);
        free(fl.out);
        free(fl.in);
    }
    for (i = 0; i < o.idle; i++)
        close(idle_fds[i]);
    free(idle_fds);
    close(ep);

    if (cnt.bytes == 0) {
        fprintf(stderr, "%s: nothing was echoed during the measured window\n", prog);
        return 1;
    }
    return 0;
}
