/* tests/harness.c - see harness.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "aiotp/oracle.h"
#include "aiotp/sim.h"
#include "harness.h"

th_faults th_f;

static int failures;
static const char *current;

void th_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    failures++;
    fprintf(stderr, "%s:%d: [%s] ", file, line, current ? current : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int th_failures(void)
{
    return failures;
}

/* ---- allocator ---------------------------------------------------------------------- */

static bool alloc_allowed(void)
{
    if (th_f.alloc_fail_after < 0) {
        return true;
    }
    if (th_f.alloc_fail_after == 0) {
        return false;
    }
    th_f.alloc_fail_after--;
    return true;
}

static void *c_alloc(void *ctx, size_t n)
{
    void *p;
    (void)ctx;
    if (!alloc_allowed()) {
        return NULL;
    }
    p = malloc(n);
    if (p != NULL) {
        th_f.live_allocs++;
        th_f.total_allocs++;
    }
    return p;
}

static void *c_realloc(void *ctx, void *old, size_t n)
{
    void *p;
    (void)ctx;
    if (!alloc_allowed()) {
        return NULL;
    }
    p = realloc(old, n);
    if (p != NULL) {
        th_f.total_allocs++;
        if (old == NULL) {
            th_f.live_allocs++;
        }
    }
    return p;
}

static void c_free(void *ctx, void *p)
{
    (void)ctx;
    if (p != NULL) {
        th_f.live_allocs--;
        free(p);
    }
}

static const aiotp_allocator counting = {c_alloc, c_realloc, c_free, NULL};

/* ---- syscalls ------------------------------------------------------------------------- */

/* The fault-injecting tables: the same entries over POSIX (ctx NULL) or over the case's
   sim (ctx = the sim, which the sim backend requires); everything not overridden is the
   base table's own entry. */
static aiotp_syscalls fsys_posix;
static aiotp_syscalls fsys_sim;

static const aiotp_syscalls *base_of(void *ctx)
{
    return ctx != NULL ? aiotp_sim_syscalls(ctx) : aiotp_syscalls_posix();
}

static ssize_t f_send(void *ctx, int fd, const void *b, size_t n, int fl)
{
    const aiotp_syscalls *p = base_of(ctx);
    th_f.send_calls++;
    if (th_f.send_errno != 0) {
        return -th_f.send_errno;
    }
    if (th_f.send_eagain) {
        return -EAGAIN;
    }
    if (th_f.send_max > 0 && n > (size_t)th_f.send_max) {
        n = (size_t)th_f.send_max;
    }
    return p->send(p->ctx, fd, b, n, fl);
}

static ssize_t f_sendmsg(void *ctx, int fd, const struct msghdr *m, int fl)
{
    const aiotp_syscalls *p = base_of(ctx);
    th_f.sendmsg_calls++;
    if (th_f.send_errno != 0) {
        return -th_f.send_errno;
    }
    if (th_f.send_eagain) {
        return -EAGAIN;
    }
    if (th_f.send_max > 0 && m->msg_iovlen > 0) {
        size_t n = m->msg_iov[0].iov_len;
        if (n > (size_t)th_f.send_max) {
            n = (size_t)th_f.send_max;
        }
        return p->send(p->ctx, fd, m->msg_iov[0].iov_base, n, fl);
    }
    return p->sendmsg(p->ctx, fd, m, fl);
}

static ssize_t f_recv(void *ctx, int fd, void *b, size_t n, int fl)
{
    const aiotp_syscalls *p = base_of(ctx);
    th_f.recv_calls++;
    if (th_f.recv_errno != 0) {
        return -th_f.recv_errno;
    }
    return p->recv(p->ctx, fd, b, n, fl);
}

/* A datagram is sent whole or not at all: send_max does not apply. */
static ssize_t f_sendto(void *ctx, int fd, const void *b, size_t n, int fl,
                        const struct sockaddr *a, socklen_t l)
{
    const aiotp_syscalls *p = base_of(ctx);
    th_f.sendto_calls++;
    if (th_f.send_errno != 0) {
        return -th_f.send_errno;
    }
    if (th_f.send_eagain) {
        return -EAGAIN;
    }
    return p->sendto(p->ctx, fd, b, n, fl, a, l);
}

static ssize_t f_recvfrom(void *ctx, int fd, void *b, size_t n, int fl, struct sockaddr *a,
                          socklen_t *l)
{
    const aiotp_syscalls *p = base_of(ctx);
    th_f.recvfrom_calls++;
    if (th_f.recv_errno != 0) {
        return -th_f.recv_errno;
    }
    return p->recvfrom(p->ctx, fd, b, n, fl, a, l);
}

static int f_accept(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    const aiotp_syscalls *p = base_of(ctx);
    if (th_f.accept_errno != 0) {
        int e = th_f.accept_errno;
        th_f.accept_errno = 0;
        return -e;
    }
    return p->accept(p->ctx, fd, a, l);
}

static int f_shutdown(void *ctx, int fd, int how)
{
    const aiotp_syscalls *p = base_of(ctx);
    if (th_f.shutdown_errno != 0) {
        return -th_f.shutdown_errno;
    }
    return p->shutdown(p->ctx, fd, how);
}

static int f_getaddrinfo(void *ctx, const char *node, const char *svc,
                         const struct addrinfo *h, struct addrinfo **res)
{
    const aiotp_syscalls *p = base_of(ctx);
    if (th_f.getaddrinfo_rc != 0) {
        return th_f.getaddrinfo_rc;
    }
    return p->getaddrinfo(p->ctx, node, svc, h, res);
}

static int f_socket(void *ctx, int d, int t, int pr)
{
    const aiotp_syscalls *p = base_of(ctx);
    if (th_f.socket_errno != 0) {
        return -th_f.socket_errno;
    }
    return p->socket(p->ctx, d, t, pr);
}

static int f_connect(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    const aiotp_syscalls *p = base_of(ctx);
    if (th_f.connect_errno != 0) {
        return -th_f.connect_errno;
    }
    return p->connect(p->ctx, fd, a, l);
}

static int f_pipe(void *ctx, int fds[2])
{
    const aiotp_syscalls *p = base_of(ctx);
    if (th_f.pipe_errno != 0) {
        return -th_f.pipe_errno;
    }
    return p->pipe(p->ctx, fds);
}

static pid_t f_spawn(void *ctx, const aiotp_spawn_attr *a)
{
    const aiotp_syscalls *p = base_of(ctx);
    th_f.spawn_calls++;
    if (th_f.spawn_errno != 0) {
        return -th_f.spawn_errno;
    }
    return p->spawn(p->ctx, a);
}

static int f_pidfd_open(void *ctx, pid_t pid)
{
    const aiotp_syscalls *p = base_of(ctx);
    th_f.pidfd_calls++;
    if (th_f.no_pidfd) {
        return -ENOSYS;
    }
    return p->pidfd_open(p->ctx, pid);
}

static int f_sigwatch(void *ctx, int signum, int wfd, int on)
{
    const aiotp_syscalls *p = base_of(ctx);
    if (on && th_f.sigwatch_errno != 0) {
        return -th_f.sigwatch_errno;
    }
    return p->sigwatch(p->ctx, signum, wfd, on);
}

/* write and writev also run on the resolver's worker threads (the wake-up pipe's posts):
   they read the fault settings and change nothing shared (ThreadSanitizer, threads label). */
static ssize_t f_write(void *ctx, int fd, const void *b, size_t n)
{
    const aiotp_syscalls *p = base_of(ctx);
    if (th_f.write_errno != 0) {
        return -th_f.write_errno;
    }
    if (th_f.write_eagain) {
        return -EAGAIN;
    }
    if (th_f.write_max > 0 && n > (size_t)th_f.write_max) {
        n = (size_t)th_f.write_max;
    }
    return p->write(p->ctx, fd, b, n);
}

static ssize_t f_writev(void *ctx, int fd, const struct iovec *v, int c)
{
    const aiotp_syscalls *p = base_of(ctx);
    if (th_f.write_errno != 0) {
        return -th_f.write_errno;
    }
    if (th_f.write_eagain) {
        return -EAGAIN;
    }
    if (th_f.write_max > 0 && c > 0) {
        size_t n = v[0].iov_len < (size_t)th_f.write_max ? v[0].iov_len : (size_t)th_f.write_max;
        return p->write(p->ctx, fd, v[0].iov_base, n);
    }
    return p->writev(p->ctx, fd, v, c);
}

static ssize_t f_read(void *ctx, int fd, void *b, size_t n)
{
    const aiotp_syscalls *p = base_of(ctx);
    th_f.read_calls++;
    if (th_f.read_errno != 0) {
        return -th_f.read_errno;
    }
    if (th_f.read_max > 0 && n > (size_t)th_f.read_max) {
        n = (size_t)th_f.read_max;
    }
    return p->read(p->ctx, fd, b, n);
}

static int f_kill(void *ctx, pid_t pid, int sig)
{
    const aiotp_syscalls *p = base_of(ctx);
    th_f.kill_calls++;
    if (th_f.kill_errno != 0) {
        return -th_f.kill_errno;
    }
    return p->kill(p->ctx, pid, sig);
}

static int f_fd_type(void *ctx, int fd)
{
    const aiotp_syscalls *p = base_of(ctx);
    if (th_f.fd_type_errno != 0) {
        return -th_f.fd_type_errno;
    }
    return p->fd_type(p->ctx, fd);
}

static void faulty_table(aiotp_syscalls *t, const aiotp_syscalls *base)
{
    *t = *base;
    t->send = f_send;
    t->sendmsg = f_sendmsg;
    t->recv = f_recv;
    t->accept = f_accept;
    t->shutdown = f_shutdown;
    t->getaddrinfo = f_getaddrinfo;
    t->socket = f_socket;
    t->connect = f_connect;
    t->sendto = f_sendto;
    t->recvfrom = f_recvfrom;
    t->pipe = f_pipe;
    t->spawn = f_spawn;
    t->pidfd_open = f_pidfd_open;
    t->sigwatch = f_sigwatch;
    t->write = f_write;
    t->writev = f_writev;
    t->read = f_read;
    t->kill = f_kill;
    t->fd_type = f_fd_type;
}

/* ---- the simulated kernel (AIOTP_TEST_BACKEND=sim) ------------------------------------- */

/* Only the files that play their peer through th_peer_* run on the sim (TH_MAIN_SIM). */
static bool sim_capable;
/* This file's name without "test_" (for sim_exempt). */
static char section[64];
/* The case runs on the sim: the backend of the last th_loop() (at the start of a case:
   what AIOTP_TEST_BACKEND asks for). The peer helpers follow it. */
static bool sim_mode;
/* The case may use the sim (sim-suite file, case not exempt). */
static bool sim_allowed;
static aiotp_sim *case_sim;
static int sim_loops; /* loops made on the sim in this case */
/* The sim's own memory (never failing: th_f.alloc_fail_after is for the library). */
static th_counter sim_mem = {-1, 0};
static const aiotp_allocator sim_alloc = TH_COUNTING_ALLOCATOR(&sim_mem);

/* THE table of cases of the sim suite that do not run on the simulated kernel, as
   "section.case" with the reason; spec/sim.md lists the same. In sim mode such a case
   runs on poll and says so; every other case of a sim-suite file must run on the sim
   (a case that makes no loop on it fails). Empty: every case runs on the sim. */
static const struct sim_exempt {
    const char *name;
    const char *reason;
} sim_exempt[] = {
    {NULL, NULL} /* end */
};

static const char *exempt_reason(const char *name)
{
    size_t i;
    char full[160];
    snprintf(full, sizeof(full), "%s.%s", section, name);
    for (i = 0; sim_exempt[i].name != NULL; i++) {
        if (strcmp(sim_exempt[i].name, full) == 0) {
            return sim_exempt[i].reason;
        }
    }
    return NULL;
}

static bool env_wants_sim(void)
{
    const char *b = getenv("AIOTP_TEST_BACKEND");
    return b != NULL && strcmp(b, "sim") == 0;
}

bool th_sim_mode(void)
{
    return sim_mode;
}

/* The case's sim, made on first use. */
aiotp_sim *th_sim(void)
{
    if (case_sim == NULL) {
        int rc = aiotp_sim_create(&case_sim, &sim_alloc);
        if (rc != 0) {
            th_fail(__FILE__, __LINE__, "aiotp_sim_create: %s", aiotp_err_name(rc));
            exit(1);
        }
        faulty_table(&fsys_sim, aiotp_sim_syscalls(case_sim));
        th__sim_children_setup(case_sim);
    }
    return case_sim;
}

const aiotp_syscalls *th_syscalls(void)
{
    return sim_mode ? (th_sim(), &fsys_sim) : &fsys_posix;
}

static const aiotp_syscalls *peer_sys(void)
{
    return aiotp_sim_syscalls(th_sim());
}

/* A sim result in the POSIX convention. */
static long posix_rc(long rc)
{
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

/* ---- trace recorder ------------------------------------------------------------------- */

static char *trace_buf;
static size_t trace_len;
static size_t trace_cap;
static char *view_buf;

/* Every loop made by th_loop() has its own conformance oracle (include/aiotp/oracle.h):
   each trace line goes through it as it is emitted, and th_loop_free() fails the case on
   the first violation. So every case of every file checks the library's trace against
   the rules, whatever it asserts itself. Plain malloc (never the counting allocator, so
   allocation-failure injection only hits the library). */
typedef struct th_oracle {
    aiotp_oracle *o;
    size_t lines;
} th_oracle;

static void *oracle_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void oracle_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static const aiotp_oracle_alloc oracle_allocator = {oracle_alloc, oracle_free, NULL};

static void trace_hook(void *arg, const char *line)
{
    size_t n = strlen(line);
    th_oracle *to = arg;
    if (to != NULL && to->o != NULL) {
        (void)aiotp_oracle_feed_line(to->o, line, ++to->lines);
    }
    if (trace_len + n + 2 > trace_cap) {
        size_t ncap = trace_cap ? trace_cap * 2 : 4096;
        while (ncap < trace_len + n + 2) {
            ncap *= 2;
        }
        trace_buf = realloc(trace_buf, ncap);
        if (trace_buf == NULL) {
            abort();
        }
        trace_cap = ncap;
    }
    memcpy(trace_buf + trace_len, line, n);
    trace_len += n;
    trace_buf[trace_len++] = '\n';
    trace_buf[trace_len] = '\0';
    if (getenv("TH_TRACE") != NULL) {
        fprintf(stderr, "  | %s\n", line);
    }
}

const char *th_trace(void)
{
    return trace_buf != NULL ? trace_buf : "";
}

void th_trace_clear(void)
{
    trace_len = 0;
    if (trace_buf != NULL) {
        trace_buf[0] = '\0';
    }
}

static const char *filter(bool (*keep)(const char *line, size_t len, const void *arg),
                          const void *arg, size_t strip)
{
    const char *p = th_trace();
    size_t used = 0;
    free(view_buf);
    view_buf = malloc(trace_len + 1);
    if (view_buf == NULL) {
        abort();
    }
    view_buf[0] = '\0';
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (keep(p, len, arg)) {
            size_t s = strip < len ? strip : len;
            memcpy(view_buf + used, p + s, len - s);
            used += len - s;
            view_buf[used++] = '\n';
            view_buf[used] = '\0';
        }
        p += len + (nl ? 1 : 0);
    }
    return view_buf;
}

/* The lines that start with prefix; query lines (the case's own queries, trace format 3)
   only when the prefix names them. */
static bool keep_prefix(const char *line, size_t len, const void *arg)
{
    const char *prefix = arg;
    size_t n = strlen(prefix);
    const char *sp;
    if (len < n || strncmp(line, prefix, n) != 0) {
        return false;
    }
    sp = memchr(line, ' ', len);
    if (sp != NULL && (size_t)(line + len - sp) > 7 && strncmp(sp, " query ", 7) == 0) {
        return strstr(prefix, "query") != NULL;
    }
    return true;
}

const char *th_trace_lines(const char *prefix, bool strip_id)
{
    size_t strip = 0;
    if (strip_id) {
        const char *sp = strchr(prefix, ' ');
        strip = sp ? (size_t)(sp - prefix) + 1 : 0;
    }
    return filter(keep_prefix, prefix, strip);
}

static bool keep_callbacks(const char *line, size_t len, const void *arg)
{
    const char *id = arg;
    char a[32];
    char b[48];
    snprintf(a, sizeof(a), "%s cb ", id);
    snprintf(b, sizeof(b), "%s ret eof_received", id);
    return (len >= strlen(a) && strncmp(line, a, strlen(a)) == 0) ||
           (len >= strlen(b) && strncmp(line, b, strlen(b)) == 0);
}

const char *th_callbacks(unsigned id)
{
    static char ids[16];
    snprintf(ids, sizeof(ids), "t%u", id);
    return filter(keep_callbacks, ids, strlen(ids) + 1);
}

/* ---- loops ----------------------------------------------------------------------------- */

#define MAX_LOOPS 8
static aiotp_loop *loops[MAX_LOOPS];
static th_oracle oracles[MAX_LOOPS];

/* Finish and free the oracle of loop slot i; fail the case if it found a violation. */
static void oracle_done(size_t i)
{
    th_oracle *to = &oracles[i];
    if (to->o == NULL) {
        return;
    }
    (void)aiotp_oracle_finish(to->o);
    if (aiotp_oracle_first(to->o) != NULL) {
        const aiotp_oracle_report *r = aiotp_oracle_first(to->o);
        size_t k;
        th_fail(__FILE__, __LINE__, "the oracle rejects this loop's trace at its line %zu: "
                "%s: %s\n  found: %s", r->lineno, r->rule != NULL ? r->rule : "parse error",
                r->rule_text != NULL ? r->rule_text : "", r->detail);
        for (k = 0; k < r->nrecent; k++) {
            fprintf(stderr, "  %6zu | %s\n", r->recent[k].lineno, r->recent[k].text);
        }
    }
    aiotp_oracle_free(to->o);
    to->o = NULL;
    to->lines = 0;
}
#define MAX_RETAINED 64
static aiotp_transport *retained[MAX_RETAINED];
static size_t nretained;
static aiotp_server *kept_servers[MAX_RETAINED];
static size_t nkept_servers;
#define MAX_RECS 64
static th_rec *recs[MAX_RECS];
static size_t nrecs;

/* the resolver th_loop() gives its loops (th_set_resolver), reset before each case */
static const aiotp_resolver *case_resolver;

void th_set_resolver(const aiotp_resolver *r)
{
    case_resolver = r;
}

aiotp_loop *th_loop(void)
{
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    const char *b = getenv("AIOTP_TEST_BACKEND");
    size_t i;
    int rc;

    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.allocator = &counting;
    o.syscalls = &fsys_posix;
    o.resolver = case_resolver;
    sim_mode = false;
    if (b == NULL || strcmp(b, "poll") == 0) {
        o.backend = aiotp_backend_poll();
#if defined(__linux__)
    } else if (strcmp(b, "epoll") == 0) {
        o.backend = aiotp_backend_epoll();
#endif
    } else if (strcmp(b, "sim") == 0) {
        if (sim_allowed) {
            sim_mode = true;
            (void)th_sim();
            o.backend = aiotp_backend_sim();
            o.syscalls = &fsys_sim;
        } else {
            o.backend = aiotp_backend_poll(); /* see th_main / run_case */
        }
    } else {
        fprintf(stderr, "AIOTP_TEST_BACKEND=%s: unknown backend\n", b);
        exit(2);
    }
    rc = aiotp_loop_create(&loop, &o);
    if (rc != 0) {
        th_fail(__FILE__, __LINE__, "aiotp_loop_create: %s%s", aiotp_err_name(rc),
                sim_mode ? " (the sim backend serves one loop at a time)" : "");
        exit(1);
    }
    if (sim_mode) {
        sim_loops++;
    }
    for (i = 0; i < MAX_LOOPS; i++) {
        if (loops[i] == NULL) {
            loops[i] = loop;
            break;
        }
    }
    if (i == MAX_LOOPS) {
        th_fail(__FILE__, __LINE__, "more than %d loops in one case", MAX_LOOPS);
        aiotp_loop_set_trace(loop, trace_hook, NULL);
        return loop;
    }
    if (aiotp_oracle_new(NULL, &oracle_allocator, &oracles[i].o) != 0) {
        th_fail(__FILE__, __LINE__, "aiotp_oracle_new failed");
    } else {
        /* the library's own trace: the strictest profile (spec/oracle.md) */
        (void)aiotp_oracle_set_profile(oracles[i].o, AIOTP_ORACLE_PROFILE_AIOTP);
    }
    oracles[i].lines = 0;
    aiotp_loop_set_trace(loop, trace_hook, &oracles[i]);
    return loop;
}

void th_loop_free(aiotp_loop *loop)
{
    size_t i;
    for (i = 0; i < nretained; i++) {
        if (retained[i] != NULL && aiotp_transport_get_loop(retained[i]) == loop) {
            aiotp_transport_release(retained[i]);
            retained[i] = NULL;
        }
    }
    for (i = 0; i < nkept_servers; i++) {
        if (kept_servers[i] != NULL && aiotp_server_get_loop(kept_servers[i]) == loop) {
            aiotp_server_release(kept_servers[i]);
            kept_servers[i] = NULL;
        }
    }
    i = 0;
    while (i < MAX_LOOPS && loops[i] != loop) {
        i++;
    }
    aiotp_loop_free(loop); /* may still emit lines (to the oracle of slot i) */
    if (i < MAX_LOOPS) {
        loops[i] = NULL;
        oracle_done(i);
    }
}

static void noop_cb(aiotp_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

void th_run_once(aiotp_loop *loop)
{
    aiotp_handle h = 0;
    int rc;
    /* never block for long: a no-op timer bounds the wait of this pass */
    (void)aiotp_loop_call_later(loop, 50 * AIOTP_NS_PER_MS, noop_cb, NULL, &h);
    rc = aiotp_loop_run_once(loop);
    (void)aiotp_loop_cancel(loop, h);
    if (rc != 0) {
        th_fail(__FILE__, __LINE__, "aiotp_loop_run_once: %s", aiotp_err_name(rc));
    }
}

void th_run_until(aiotp_loop *loop, bool (*pred)(void *), void *arg, int max_passes)
{
    int i;
    for (i = 0; i < max_passes; i++) {
        if (pred(arg)) {
            return;
        }
        th_run_once(loop);
    }
    if (!pred(arg)) {
        th_fail(__FILE__, __LINE__, "condition not reached after %d passes", max_passes);
    }
}

void th_run_passes(aiotp_loop *loop, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        th_run_once(loop);
    }
}

/* ---- the peer side ------------------------------------------------------------------ */

/* In sim mode a call that would block a blocking POSIX socket cannot wait: the sim
   returns at once, and the case fails here, saying so. */
static void would_block(const char *what, int fd, long rc, size_t n)
{
    th_fail(__FILE__, __LINE__, "%s on sim fd %d would block (got %ld of %zu): the sim "
            "never blocks, the case must run the loop first", what, fd, rc, n);
}

ssize_t th_peer_write(int fd, const void *buf, size_t n)
{
    return th_peer_send(fd, buf, n, 0);
}

ssize_t th_peer_send(int fd, const void *buf, size_t n, int flags)
{
    ssize_t rc;
    if (!sim_mode) {
        if (flags == 0) {
            /* the POSIX table's write: a pipe whose reader is gone gives EPIPE, never a
               SIGPIPE that would kill the test (the harness keeps its default action) */
            const aiotp_syscalls *sys = aiotp_syscalls_posix();
            return (ssize_t)posix_rc((long)sys->write(sys->ctx, fd, buf, n));
        }
        return send(fd, buf, n, flags);
    }
    rc = peer_sys()->send(peer_sys()->ctx, fd, buf, n, flags);
    if ((flags & MSG_DONTWAIT) == 0 && (rc == -EAGAIN || (rc >= 0 && (size_t)rc < n))) {
        would_block("send", fd, (long)rc, n);
    }
    return (ssize_t)posix_rc((long)rc);
}

ssize_t th_peer_recv(int fd, void *buf, size_t n, int flags)
{
    ssize_t rc;
    if (!sim_mode) {
        return recv(fd, buf, n, flags);
    }
    rc = peer_sys()->recv(peer_sys()->ctx, fd, buf, n, flags);
    if ((flags & MSG_DONTWAIT) == 0 && rc == -EAGAIN) {
        would_block("recv", fd, (long)rc, n);
    }
    return (ssize_t)posix_rc((long)rc);
}

int th_peer_close(int fd)
{
    if (!sim_mode) {
        return close(fd);
    }
    return (int)posix_rc(peer_sys()->close(peer_sys()->ctx, fd));
}

int th_peer_shutdown(int fd, int how)
{
    if (!sim_mode) {
        return shutdown(fd, how);
    }
    return (int)posix_rc(peer_sys()->shutdown(peer_sys()->ctx, fd, how));
}

int th_peer_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    if (!sim_mode) {
        return setsockopt(fd, level, name, val, len);
    }
    return (int)posix_rc(peer_sys()->setsockopt(peer_sys()->ctx, fd, level, name, val, len));
}

int th_peer_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    if (!sim_mode) {
        return getsockopt(fd, level, name, val, len);
    }
    return (int)posix_rc(peer_sys()->getsockopt(peer_sys()->ctx, fd, level, name, val, len));
}

int th_peer_socket(int domain, int type, int protocol)
{
    if (!sim_mode) {
        return socket(domain, type, protocol);
    }
    return (int)posix_rc(peer_sys()->socket(peer_sys()->ctx, domain, type, protocol));
}

int th_peer_bind(int fd, const struct sockaddr *a, socklen_t len)
{
    if (!sim_mode) {
        return bind(fd, a, len);
    }
    return (int)posix_rc(peer_sys()->bind(peer_sys()->ctx, fd, a, len));
}

int th_peer_listen(int fd, int backlog)
{
    if (!sim_mode) {
        return listen(fd, backlog);
    }
    return (int)posix_rc(peer_sys()->listen(peer_sys()->ctx, fd, backlog));
}

int th_peer_accept(int fd, struct sockaddr *a, socklen_t *len)
{
    int rc;
    if (!sim_mode) {
        return accept(fd, a, len);
    }
    rc = peer_sys()->accept(peer_sys()->ctx, fd, a, len);
    if (rc == -EAGAIN) {
        would_block("accept", fd, rc, 1);
    }
    return (int)posix_rc(rc);
}

int th_peer_connect(int fd, const struct sockaddr *a, socklen_t len)
{
    if (!sim_mode) {
        return connect(fd, a, len);
    }
    return (int)posix_rc(peer_sys()->connect(peer_sys()->ctx, fd, a, len));
}

int th_peer_getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
    if (!sim_mode) {
        return getsockname(fd, a, len);
    }
    return (int)posix_rc(peer_sys()->getsockname(peer_sys()->ctx, fd, a, len));
}

int th_peer_getpeername(int fd, struct sockaddr *a, socklen_t *len)
{
    if (!sim_mode) {
        return getpeername(fd, a, len);
    }
    return (int)posix_rc(peer_sys()->getpeername(peer_sys()->ctx, fd, a, len));
}

ssize_t th_peer_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
                       socklen_t alen)
{
    ssize_t rc;
    if (!sim_mode) {
        return sendto(fd, buf, n, flags, a, alen);
    }
    rc = peer_sys()->sendto(peer_sys()->ctx, fd, buf, n, flags, a, alen);
    if ((flags & MSG_DONTWAIT) == 0 && rc == -EAGAIN) {
        would_block("sendto", fd, (long)rc, n);
    }
    return (ssize_t)posix_rc((long)rc);
}

ssize_t th_peer_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a,
                         socklen_t *alen)
{
    ssize_t rc;
    if (!sim_mode) {
        return recvfrom(fd, buf, n, flags, a, alen);
    }
    rc = peer_sys()->recvfrom(peer_sys()->ctx, fd, buf, n, flags, a, alen);
    if ((flags & MSG_DONTWAIT) == 0 && rc == -EAGAIN) {
        would_block("recvfrom", fd, (long)rc, n);
    }
    return (ssize_t)posix_rc((long)rc);
}

int th_peer_unlink(const char *path)
{
    int rc;
    if (!sim_mode) {
        return unlink(path);
    }
    rc = peer_sys()->unlink_socket(peer_sys()->ctx, path);
    if (rc == 0) {
        errno = ENOENT;
        return -1;
    }
    return rc < 0 ? (int)posix_rc(rc) : 0;
}

bool th_fd_is_open(int fd)
{
    if (!sim_mode) {
        return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
    }
    {
        int type = 0;
        socklen_t len = sizeof(type);
        return peer_sys()->getsockopt(peer_sys()->ctx, fd, SOL_SOCKET, SO_TYPE, &type,
                                      &len) != -EBADF;
    }
}

/* ---- sockets ----------------------------------------------------------------------------- */

/* A connected AF_UNIX pair of this type (sim: the sim's). */
static void socketpair_of(int type, int sv[2])
{
    if (sim_mode) {
        int rc = type == SOCK_STREAM ? aiotp_sim_socketpair(th_sim(), &sv[0], &sv[1])
                                     : aiotp_sim_socketpair_dgram(th_sim(), &sv[0], &sv[1]);
        if (rc != 0) {
            th_fail(__FILE__, __LINE__, "sim socketpair: %s", aiotp_err_name(rc));
            exit(1);
        }
        return;
    }
    if (socketpair(AF_UNIX, type, 0, sv) != 0) {
        th_fail(__FILE__, __LINE__, "socketpair: %s", strerror(errno));
        exit(1);
    }
}

void th_socketpair(int sv[2])
{
    socketpair_of(SOCK_STREAM, sv);
}

/* ---- datagram sockets ------------------------------------------------------------------ */

/* Unix datagram paths made by th_udp_socket in this case: POSIX ones live in a temporary
   directory of the case; both are removed (the directory too) at its end. */
#define MAX_DGRAM_PATHS 32
static char dgram_dir[64];
static char dgram_paths[MAX_DGRAM_PATHS][108];
static bool dgram_path_sim[MAX_DGRAM_PATHS];
static size_t ndgram_paths;

static void dgram_paths_cleanup(void)
{
    size_t i;
    for (i = 0; i < ndgram_paths; i++) {
        if (!dgram_path_sim[i]) {
            (void)unlink(dgram_paths[i]);
        } else if (case_sim != NULL) {
            (void)aiotp_sim_syscalls(case_sim)->unlink_socket(case_sim, dgram_paths[i]);
        }
    }
    ndgram_paths = 0;
    if (dgram_dir[0] != '\0') {
        (void)rmdir(dgram_dir);
        dgram_dir[0] = '\0';
    }
}

static void dgram_fail(const char *what)
{
    th_fail(__FILE__, __LINE__, "%s: %s", what, strerror(errno));
    exit(1);
}

void th_udp_socket(int family, int *fd, struct sockaddr_storage *addr, socklen_t *alen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int s = th_peer_socket(family, SOCK_DGRAM, 0);
    memset(&ss, 0, sizeof(ss));
    if (s < 0) {
        dgram_fail("datagram socket");
    }
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)(void *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_un *a = (struct sockaddr_un *)(void *)&ss;
        char *path;
        if (ndgram_paths == MAX_DGRAM_PATHS) {
            th_fail(__FILE__, __LINE__, "more than %d Unix datagram paths in one case",
                    MAX_DGRAM_PATHS);
            exit(1);
        }
        path = dgram_paths[ndgram_paths];
        dgram_path_sim[ndgram_paths] = sim_mode;
        if (sim_mode) {
            snprintf(path, sizeof(dgram_paths[0]), "/sim/th-dgram-%zu", ndgram_paths);
        } else {
            if (dgram_dir[0] == '\0') {
                snprintf(dgram_dir, sizeof(dgram_dir), "/tmp/aiotp-th-XXXXXX");
                if (mkdtemp(dgram_dir) == NULL) {
                    dgram_dir[0] = '\0';
                    dgram_fail("mkdtemp");
                }
            }
            snprintf(path, sizeof(dgram_paths[0]), "%s/d%zu", dgram_dir, ndgram_paths);
        }
        ndgram_paths++;
        a->sun_family = AF_UNIX;
        memcpy(a->sun_path, path, strlen(path) + 1);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    }
    if (th_peer_bind(s, (struct sockaddr *)&ss, len) != 0) {
        dgram_fail("datagram bind");
    }
    len = sizeof(ss);
    if (th_peer_getsockname(s, (struct sockaddr *)&ss, &len) != 0) {
        dgram_fail("datagram getsockname");
    }
    *fd = s;
    if (addr != NULL) {
        *addr = ss;
    }
    if (alen != NULL) {
        *alen = len;
    }
}

void th_unix_dgram_unnamed(int *fd)
{
    *fd = th_peer_socket(AF_UNIX, SOCK_DGRAM, 0);
    if (*fd < 0) {
        dgram_fail("unnamed Unix datagram socket");
    }
}

void th_dgram_socketpair(int sv[2])
{
    socketpair_of(SOCK_DGRAM, sv);
}

/* The same calls on POSIX and on the sim's virtual network. */
void th_tcp_pair(int sv[2])
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int l = th_peer_socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || th_peer_bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        th_peer_listen(l, 1) != 0 ||
        th_peer_getsockname(l, (struct sockaddr *)&a, &len) != 0) {
        th_fail(__FILE__, __LINE__, "tcp listen: %s", strerror(errno));
        exit(1);
    }
    sv[0] = th_peer_socket(AF_INET, SOCK_STREAM, 0);
    if (sv[0] < 0 || th_peer_connect(sv[0], (struct sockaddr *)&a, sizeof(a)) != 0) {
        th_fail(__FILE__, __LINE__, "tcp connect: %s", strerror(errno));
        exit(1);
    }
    sv[1] = th_peer_accept(l, NULL, NULL);
    if (sv[1] < 0) {
        th_fail(__FILE__, __LINE__, "tcp accept: %s", strerror(errno));
        exit(1);
    }
    th_peer_close(l);
}

void th_small_buffers(int fd)
{
    int sz = 4096;
    (void)th_peer_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    (void)th_peer_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

size_t th_drain_fd(int fd, void *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n;
        if (got == cap) {
            break;
        }
        n = th_peer_recv(fd, (char *)buf + got, cap - got, MSG_DONTWAIT);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    return got;
}

void th_read_exact(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = th_peer_recv(fd, (char *)buf + got, n - got, sim_mode ? MSG_DONTWAIT : 0);
        if (k <= 0) {
            th_fail(__FILE__, __LINE__, "read_exact: got %zu of %zu (%s)%s", got, n,
                    k == 0 ? "EOF" : strerror(errno),
                    sim_mode && k < 0 && errno == EAGAIN
                        ? ": the sim never blocks, the bytes must be queued already"
                        : "");
            return;
        }
        got += (size_t)k;
    }
}

int th_lowest_free_fd(void)
{
    int fd = dup(0);
    if (fd >= 0) {
        close(fd);
    }
    return fd;
}

/* ---- shared helpers ------------------------------------------------------------------ */

/* Bit by bit, independently of the library's table-driven aiotp__crc32. */
uint32_t th_sum(uint32_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i;
    int k;
    h = ~h;
    for (i = 0; i < len; i++) {
        h ^= p[i];
        for (k = 0; k < 8; k++) {
            h = (h & 1u) ? (h >> 1) ^ 0xEDB88320u : h >> 1;
        }
    }
    return ~h;
}

bool th_starts(const char *line, const char *prefix)
{
    return strncmp(line, prefix, strlen(prefix)) == 0;
}

uint64_t th_iter_of(const char *prefix, int nth)
{
    const char *p = th_trace();
    uint64_t iter = 0;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        if (th_starts(p, "iter ")) {
            iter = strtoull(p + 5, NULL, 10);
        } else if (th_starts(p, prefix)) {
            if (nth-- == 0) {
                return iter;
            }
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    return 0;
}

int th_count_lines(const char *prefix)
{
    const char *p = th_trace();
    int n = 0;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        if (th_starts(p, prefix)) {
            n++;
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    return n;
}

const char *th_cbs_no_flow(unsigned id)
{
    static char out[8192];
    const char *p = th_callbacks(id);
    size_t used = 0;
    out[0] = '\0';
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (!th_starts(p, "cb pause_writing") && !th_starts(p, "cb resume_writing") &&
            used + len < sizeof(out)) {
            memcpy(out + used, p, len);
            used += len;
            out[used] = '\0';
        }
        p += len;
    }
    return out;
}

bool th_keep_line(const char *text, size_t len, const char *keep)
{
    const char *k = keep;
    while (*k != '\0') {
        const char *bar = strchr(k, '|');
        size_t kl = bar ? (size_t)(bar - k) : strlen(k);
        if (len >= kl && strncmp(text, k, kl) == 0) {
            return true;
        }
        k += kl + (bar ? 1 : 0);
    }
    return false;
}

const char *th_view(const char *trace, uint64_t base, const char *keep, bool cut_total)
{
    static char out[65536];
    const char *p = trace != NULL ? trace : "";
    uint64_t cur = base;
    size_t used = 0;
    out[0] = '\0';
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 5 && strncmp(p, "iter ", 5) == 0) {
            cur = strtoull(p + 5, NULL, 10);
        } else if (len > 3 && strncmp(p, "t1 ", 3) == 0 &&
                   th_keep_line(p + 3, len - 3, keep)) {
            const char *text = p + 3;
            size_t tl = len - 3;
            int w;
            if (cut_total && strncmp(text, "ret write", 9) == 0) {
                size_t i;
                for (i = 0; i + 7 <= tl; i++) {
                    if (strncmp(text + i, " total=", 7) == 0) {
                        tl = i;
                        break;
                    }
                }
            }
            w = snprintf(out + used, sizeof(out) - used, "@%llu %.*s\n",
                         (unsigned long long)(cur - base), (int)tl, text);
            if (w > 0 && (size_t)w < sizeof(out) - used) {
                used += (size_t)w;
            }
        }
        p += len + (nl ? 1 : 0);
    }
    return out;
}

uint64_t th_mark(aiotp_loop *loop)
{
    th_trace_clear();
    return aiotp_loop_iteration(loop);
}

void th_set_rst(int fd)
{
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    CHECK_INT(th_peer_setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
}

void th_ex_init(th_expect *e)
{
    e->s[0] = '\0';
    e->len = 0;
    e->total = 0;
    e->sum = TH_SUM_INIT;
}

void th_ex_linef(th_expect *e, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(e->s + e->len, sizeof(e->s) - e->len - 1, fmt, ap);
    va_end(ap);
    if (n > 0 && e->len + (size_t)n + 1 < sizeof(e->s)) {
        e->len += (size_t)n;
        e->s[e->len++] = '\n';
    }
    e->s[e->len] = '\0'; /* also drops a partly written line that did not fit */
}

void th_ex_line(th_expect *e, const char *line)
{
    th_ex_linef(e, "%s", line);
}

void th_ex_data(th_expect *e, const char *what, const void *p, size_t n)
{
    e->total += n;
    e->sum = th_sum(e->sum, p, n);
    th_ex_linef(e, "cb %s n=%zu total=%llu sum=%08x", what, n, (unsigned long long)e->total,
                (unsigned)e->sum);
}

th_exc_log th_exc;

void th_exc_record(aiotp_loop *loop, const aiotp_exception_context *ctx, void *arg)
{
    (void)arg;
    th_exc.n++;
    th_exc.status = ctx->status;
    snprintf(th_exc.msg, sizeof(th_exc.msg), "%s", ctx->message ? ctx->message : "(null)");
    th_exc.t = ctx->transport;
    th_exc.proto = ctx->protocol;
    th_exc.pdata = ctx->protocol_data;
    th_exc.iter = aiotp_loop_iteration(loop);
}

aiotp_loop *th_exc_loop(void)
{
    aiotp_loop *loop = th_loop();
    memset(&th_exc, 0, sizeof(th_exc));
    aiotp_loop_set_exception_handler(loop, th_exc_record, NULL);
    return loop;
}

static bool counter_allows(th_counter *c)
{
    if (c->fail_after < 0) {
        return true;
    }
    if (c->fail_after == 0) {
        return false;
    }
    c->fail_after--;
    return true;
}

void *th_counting_alloc(void *ctx, size_t n)
{
    th_counter *c = ctx;
    void *p;
    if (!counter_allows(c)) {
        return NULL;
    }
    p = malloc(n);
    if (p != NULL) {
        c->live++;
    }
    return p;
}

void *th_counting_realloc(void *ctx, void *old, size_t n)
{
    th_counter *c = ctx;
    void *p;
    if (!counter_allows(c)) {
        return NULL;
    }
    p = realloc(old, n);
    if (p != NULL && old == NULL) {
        c->live++;
    }
    return p;
}

void th_counting_free(void *ctx, void *p)
{
    th_counter *c = ctx;
    if (p != NULL) {
        c->live--;
        free(p);
    }
}

/* ---- recording protocol --------------------------------------------------------------- */

static void rx_append(th_rec *r, const void *p, size_t n)
{
    if (r->rx_len + n > r->rx_cap) {
        size_t ncap = r->rx_cap ? r->rx_cap * 2 : 4096;
        while (ncap < r->rx_len + n) {
            ncap *= 2;
        }
        r->rx = realloc(r->rx, ncap);
        if (r->rx == NULL) {
            abort();
        }
        r->rx_cap = ncap;
    }
    memcpy(r->rx + r->rx_len, p, n);
    r->rx_len += n;
}

static int r_made(aiotp_transport *t, void *d)
{
    th_rec *r = d;
    r->t = t;
    r->made++;
    if (r->on_made != NULL) {
        int rc = r->on_made(r, t);
        if (rc != 0) {
            return rc;
        }
    }
    return r->made_ret;
}

static int r_lost(aiotp_transport *t, void *d, int status)
{
    th_rec *r = d;
    r->lost++;
    r->lost_status = status;
    if (r->on_lost != NULL) {
        return r->on_lost(r, t);
    }
    return 0;
}

static int r_pause(aiotp_transport *t, void *d)
{
    th_rec *r = d;
    r->pauses++;
    return r->on_pause != NULL ? r->on_pause(r, t) : 0;
}

static int r_resume(aiotp_transport *t, void *d)
{
    th_rec *r = d;
    r->resumes++;
    return r->on_resume != NULL ? r->on_resume(r, t) : 0;
}

static int r_data(aiotp_transport *t, void *d, const void *buf, size_t len)
{
    th_rec *r = d;
    r->chunks++;
    r->last_chunk = len;
    rx_append(r, buf, len);
    if (r->on_data != NULL) {
        int rc = r->on_data(r, t);
        if (rc != 0) {
            return rc;
        }
    }
    return r->data_ret;
}

static int r_eof(aiotp_transport *t, void *d)
{
    th_rec *r = d;
    r->eofs++;
    if (r->on_eof != NULL) {
        int rc = r->on_eof(r, t);
        if (rc != 0) {
            return rc;
        }
    }
    return r->eof_ret;
}

static int r_get_buffer(aiotp_transport *t, void *d, ptrdiff_t hint, void **buf, size_t *len)
{
    th_rec *r = d;
    (void)t;
    (void)hint;
    r->get_buffers++;
    if (r->get_buffer_ret != 0) {
        return r->get_buffer_ret;
    }
    if (r->buf == NULL && r->buf_size > 0) {
        r->buf = malloc(r->buf_size);
    }
    *buf = r->buf;
    *len = r->buf_size;
    return 0;
}

static int r_updated(aiotp_transport *t, void *d, size_t n)
{
    th_rec *r = d;
    r->chunks++;
    r->last_chunk = n;
    rx_append(r, r->buf, n);
    if (r->on_data != NULL) {
        int rc = r->on_data(r, t);
        if (rc != 0) {
            return rc;
        }
    }
    return r->data_ret;
}

const aiotp_protocol th_streaming = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_STREAMING,
    .connection_made = r_made,
    .connection_lost = r_lost,
    .pause_writing = r_pause,
    .resume_writing = r_resume,
    .data_received = r_data,
    .eof_received = r_eof,
};

const aiotp_protocol th_buffered = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_BUFFERED,
    .connection_made = r_made,
    .connection_lost = r_lost,
    .pause_writing = r_pause,
    .resume_writing = r_resume,
    .eof_received = r_eof,
    .get_buffer = r_get_buffer,
    .buffer_updated = r_updated,
};

th_rec *th_rec_new(void)
{
    th_rec *r = calloc(1, sizeof(*r));
    if (r == NULL || nrecs == MAX_RECS) {
        abort();
    }
    r->buf_size = 65536;
    recs[nrecs++] = r;
    return r;
}

static void rec_free(th_rec *r)
{
    free(r->buf);
    free(r->rx);
    free(r);
}

bool th_is_lost(void *rec)
{
    return ((th_rec *)rec)->lost > 0;
}

typedef struct wrap_state {
    bool done;
    int status;
    aiotp_transport *t;
} wrap_state;

static void wrap_done(void *arg, int status, aiotp_transport *t)
{
    wrap_state *w = arg;
    w->done = true;
    w->status = status;
    w->t = t;
}

static const aiotp_protocol *wrap_proto;
static void *wrap_data;

static int wrap_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)arg;
    *proto = wrap_proto;
    *data = wrap_data;
    return 0;
}

static bool wrap_is_done(void *arg)
{
    return ((wrap_state *)arg)->done;
}

static void (*case_end_hook)(void);

void th_on_case_end(void (*fn)(void))
{
    case_end_hook = fn;
}

void th_keep(aiotp_transport *t)
{
    aiotp_transport_retain(t);
    if (nretained < MAX_RETAINED) {
        retained[nretained++] = t;
    }
}

void th_keep_server(aiotp_server *s)
{
    aiotp_server_retain(s);
    if (nkept_servers < MAX_RETAINED) {
        kept_servers[nkept_servers++] = s;
    }
}

aiotp_transport *th_wrap(aiotp_loop *loop, int fd, const aiotp_protocol *proto, void *data)
{
    aiotp_connect_options o;
    wrap_state w = {false, 0, NULL};
    int rc;

    aiotp_connect_options_init(&o);
    o.sock = fd;
    wrap_proto = proto;
    wrap_data = data;
    rc = aiotp_loop_create_connection(loop, wrap_factory, NULL, NULL, 0, &o, wrap_done, &w);
    if (rc != 0) {
        th_fail(__FILE__, __LINE__, "create_connection(sock): %s", aiotp_err_name(rc));
        return NULL;
    }
    th_run_until(loop, wrap_is_done, &w, 10);
    if (w.status != 0 || w.t == NULL) {
        th_fail(__FILE__, __LINE__, "wrap completion: %s", aiotp_err_name(w.status));
        return NULL;
    }
    aiotp_transport_retain(w.t);
    if (nretained < MAX_RETAINED) {
        retained[nretained++] = w.t;
    }
    return w.t;
}

/* ---- main ------------------------------------------------------------------------------ */

static void on_alarm(int sig)
{
    static const char msg[] = "test timed out\n";
    (void)sig;
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(2);
}

static void reset_faults(void)
{
    const char *w = getenv("AIOTP_TEST_WATCHER");
    memset(&th_f, 0, sizeof(th_f));
    th_f.alloc_fail_after = -1;
    th_f.no_pidfd = w != NULL && strcmp(w, "sigchld") == 0;
    memset(&th_bf, 0, sizeof(th_bf));
    th_bf.set_err = AIOTP_ENOMEM;
    th_bf.wait_err = -EBADF;
}

/* ---- a backend that fails on demand ----------------------------------------------------- */

th_backend_faults th_bf;

static int fb_open(void **st, const aiotp_syscalls *sys, const aiotp_allocator *a)
{
    return aiotp_backend_poll()->open(st, sys, a);
}

static void fb_close(void *st)
{
    aiotp_backend_poll()->close(st);
}

static int fb_set(void *st, int fd, unsigned ev)
{
    if (th_bf.fail_set && ev != 0) {
        return th_bf.set_err;
    }
    return aiotp_backend_poll()->set(st, fd, ev);
}

static int fb_wait(void *st, int ms, aiotp_backend_event *out, size_t cap)
{
    if (th_bf.fail_waits > 0) {
        th_bf.fail_waits--;
        return th_bf.wait_err;
    }
    return aiotp_backend_poll()->wait(st, ms, out, cap);
}

static const aiotp_backend failing_backend = {sizeof(aiotp_backend), "failing", fb_open,
                                              fb_close, fb_set, fb_wait};

const aiotp_backend *th_failing_backend(void)
{
    return &failing_backend;
}

static int run_case(const th_case *c)
{
    int fd_before;
    int fd_after;
    const char *exempt = NULL;
    bool sim_case;
    size_t i;

    current = c->name;
    reset_faults();
    th_trace_clear();
    nretained = 0;
    nkept_servers = 0;
    case_resolver = NULL;
    nrecs = 0;
    case_sim = NULL;
    sim_loops = 0;
    sim_mem.live = 0;
    if (sim_capable && env_wants_sim()) {
        exempt = exempt_reason(c->name);
        if (exempt != NULL) {
            printf("note: %s.%s runs on poll, not on the sim: %s\n", section, c->name,
                   exempt);
        }
    }
    sim_allowed = sim_capable && exempt == NULL;
    sim_case = sim_allowed && env_wants_sim();
    sim_mode = sim_case;
    fd_before = th_lowest_free_fd();
    signal(SIGALRM, on_alarm);
    alarm(getenv("TH_TIMEOUT") != NULL ? (unsigned)atoi(getenv("TH_TIMEOUT")) : 10u);
    c->fn();
    alarm(0);
    for (i = 0; i < MAX_LOOPS; i++) {
        if (loops[i] != NULL) {
            th_loop_free(loops[i]);
        }
    }
    for (i = 0; i < nrecs; i++) {
        rec_free(recs[i]);
    }
    if (case_end_hook != NULL) {
        case_end_hook();
    }
    dgram_paths_cleanup();
    th__children_check(sim_case ? case_sim : NULL);
    if (th_f.live_allocs != 0) {
        th_fail(__FILE__, __LINE__, "memory leak: %zu allocations not freed", th_f.live_allocs);
    }
    fd_after = th_lowest_free_fd();
    if (fd_after != fd_before) {
        th_fail(__FILE__, __LINE__, "fd leak: lowest free fd %d before, %d after (close the "
                "test's own sockets)", fd_before, fd_after);
    }
    if (sim_case && sim_loops == 0) {
        th_fail(__FILE__, __LINE__, "AIOTP_TEST_BACKEND=sim: the case made no loop on the "
                "simulated kernel (list it in sim_exempt with a reason, or make it run)");
    }
    if (case_sim != NULL) {
        /* every sim fd is closed: the transports' by the loops, the peers' by the case */
        size_t open = aiotp_sim_open_fds(case_sim);
        if (open != 0) {
            th_fail(__FILE__, __LINE__, "sim fd leak: %zu sim fds still open (close the "
                    "test's own sockets)", open);
        }
        aiotp_sim_free(case_sim);
        case_sim = NULL;
        if (sim_mem.live != 0) {
            th_fail(__FILE__, __LINE__, "sim memory leak: %zu allocations not freed",
                    sim_mem.live);
        }
    }
    if (failures != 0 && getenv("TH_TRACE") == NULL) {
        fprintf(stderr, "trace of the failed case:\n%s", th_trace());
    }
    return failures;
}

int th_main_sim(const th_case *cases, size_t n, int argc, char **argv)
{
    sim_capable = true;
    return th_main(cases, n, argc, argv);
}

int th_main(const th_case *cases, size_t n, int argc, char **argv)
{
    size_t i;
    int total = 0;
    const char *base = argc > 0 && argv[0] != NULL ? strrchr(argv[0], '/') : NULL;

    base = base != NULL ? base + 1 : argc > 0 && argv[0] != NULL ? argv[0] : "";
    if (strncmp(base, "test_", 5) == 0) {
        base += 5;
    }
    snprintf(section, sizeof(section), "%s", base);
    faulty_table(&fsys_posix, aiotp_syscalls_posix());
    signal(SIGPIPE, SIG_DFL); /* the library must never raise it (WRITE-WRITE-9) */

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (i = 0; i < n; i++) {
            printf("%s\t%s\n", cases[i].name, cases[i].rules);
        }
        return 0;
    }
    if (!sim_capable && env_wants_sim()) {
        printf("note: AIOTP_TEST_BACKEND=sim: %s is not in the sim suite (spec/sim.md); its "
               "cases run on poll\n", section);
    }
    for (i = 0; i < n; i++) {
        if (argc >= 2 && strcmp(argv[1], cases[i].name) != 0) {
            continue;
        }
        failures = 0;
        if (run_case(&cases[i]) != 0) {
            fprintf(stderr, "FAIL %s\n", cases[i].name);
            total++;
        } else {
            printf("ok %s%s\n", cases[i].name,
                   sim_capable && env_wants_sim() && exempt_reason(cases[i].name) == NULL
                       ? " (sim)"
                       : "");
        }
        if (argc >= 2) {
            return total != 0;
        }
    }
    if (argc >= 2) {
        fprintf(stderr, "no case named %s\n", argv[1]);
        return 2;
    }
    return total != 0;
}
