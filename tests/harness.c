/* tests/harness.c - see harness.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

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

static aiotp_syscalls fsys;

static ssize_t f_send(void *ctx, int fd, const void *b, size_t n, int fl)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
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
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
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
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    th_f.recv_calls++;
    if (th_f.recv_errno != 0) {
        return -th_f.recv_errno;
    }
    return p->recv(p->ctx, fd, b, n, fl);
}

static int f_accept(void *ctx, int fd, struct sockaddr *a, socklen_t *l)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (th_f.accept_errno != 0) {
        int e = th_f.accept_errno;
        th_f.accept_errno = 0;
        return -e;
    }
    return p->accept(p->ctx, fd, a, l);
}

static int f_shutdown(void *ctx, int fd, int how)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (th_f.shutdown_errno != 0) {
        return -th_f.shutdown_errno;
    }
    return p->shutdown(p->ctx, fd, how);
}

static int f_getaddrinfo(void *ctx, const char *node, const char *svc,
                         const struct addrinfo *h, struct addrinfo **res)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (th_f.getaddrinfo_rc != 0) {
        return th_f.getaddrinfo_rc;
    }
    return p->getaddrinfo(p->ctx, node, svc, h, res);
}

static int f_socket(void *ctx, int d, int t, int pr)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (th_f.socket_errno != 0) {
        return -th_f.socket_errno;
    }
    return p->socket(p->ctx, d, t, pr);
}

static int f_connect(void *ctx, int fd, const struct sockaddr *a, socklen_t l)
{
    const aiotp_syscalls *p = aiotp_syscalls_posix();
    (void)ctx;
    if (th_f.connect_errno != 0) {
        return -th_f.connect_errno;
    }
    return p->connect(p->ctx, fd, a, l);
}

/* ---- trace recorder ------------------------------------------------------------------- */

static char *trace_buf;
static size_t trace_len;
static size_t trace_cap;
static char *view_buf;

static void trace_hook(void *arg, const char *line)
{
    size_t n = strlen(line);
    (void)arg;
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

static bool keep_prefix(const char *line, size_t len, const void *arg)
{
    const char *prefix = arg;
    size_t n = strlen(prefix);
    return len >= n && strncmp(line, prefix, n) == 0;
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
#define MAX_RETAINED 64
static aiotp_transport *retained[MAX_RETAINED];
static size_t nretained;
#define MAX_RECS 64
static th_rec *recs[MAX_RECS];
static size_t nrecs;

aiotp_loop *th_loop(void)
{
    aiotp_loop_options o;
    aiotp_loop *loop = NULL;
    size_t i;
    int rc;

    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.allocator = &counting;
    o.syscalls = &fsys;
    if (getenv("AIOTP_TEST_BACKEND") != NULL) {
        const char *b = getenv("AIOTP_TEST_BACKEND");
        if (strcmp(b, "poll") == 0) {
            o.backend = aiotp_backend_poll();
#if defined(__linux__)
        } else if (strcmp(b, "epoll") == 0) {
            o.backend = aiotp_backend_epoll();
#endif
        } else {
            fprintf(stderr, "AIOTP_TEST_BACKEND=%s: unknown backend\n", b);
            exit(2);
        }
    }
    rc = aiotp_loop_create(&loop, &o);
    if (rc != 0) {
        th_fail(__FILE__, __LINE__, "aiotp_loop_create: %s", aiotp_err_name(rc));
        exit(1);
    }
    aiotp_loop_set_trace(loop, trace_hook, NULL);
    for (i = 0; i < MAX_LOOPS; i++) {
        if (loops[i] == NULL) {
            loops[i] = loop;
            break;
        }
    }
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
    for (i = 0; i < MAX_LOOPS; i++) {
        if (loops[i] == loop) {
            loops[i] = NULL;
        }
    }
    aiotp_loop_free(loop);
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

/* ---- sockets ----------------------------------------------------------------------------- */

void th_socketpair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        th_fail(__FILE__, __LINE__, "socketpair: %s", strerror(errno));
        exit(1);
    }
}

void th_tcp_pair(int sv[2])
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) != 0) {
        th_fail(__FILE__, __LINE__, "tcp listen: %s", strerror(errno));
        exit(1);
    }
    sv[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&a, sizeof(a)) != 0) {
        th_fail(__FILE__, __LINE__, "tcp connect: %s", strerror(errno));
        exit(1);
    }
    sv[1] = accept(l, NULL, NULL);
    if (sv[1] < 0) {
        th_fail(__FILE__, __LINE__, "tcp accept: %s", strerror(errno));
        exit(1);
    }
    close(l);
}

void th_small_buffers(int fd)
{
    int sz = 4096;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

size_t th_drain_fd(int fd, void *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n;
        if (got == cap) {
            break;
        }
        n = recv(fd, (char *)buf + got, cap - got, MSG_DONTWAIT);
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
        ssize_t k = recv(fd, (char *)buf + got, n - got, 0);
        if (k <= 0) {
            th_fail(__FILE__, __LINE__, "read_exact: got %zu of %zu (%s)", got, n,
                    k == 0 ? "EOF" : strerror(errno));
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

uint32_t th_fnv1a(uint32_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
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
    CHECK_INT(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
}

void th_ex_init(th_expect *e)
{
    e->s[0] = '\0';
    e->len = 0;
    e->total = 0;
    e->sum = TH_FNV_INIT;
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
    e->sum = th_fnv1a(e->sum, p, n);
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
    memset(&th_f, 0, sizeof(th_f));
    th_f.alloc_fail_after = -1;
}

static int run_case(const th_case *c)
{
    int fd_before;
    int fd_after;
    size_t i;

    current = c->name;
    reset_faults();
    th_trace_clear();
    nretained = 0;
    nrecs = 0;
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
    if (th_f.live_allocs != 0) {
        th_fail(__FILE__, __LINE__, "memory leak: %zu allocations not freed", th_f.live_allocs);
    }
    fd_after = th_lowest_free_fd();
    if (fd_after != fd_before) {
        th_fail(__FILE__, __LINE__, "fd leak: lowest free fd %d before, %d after (close the "
                "test's own sockets)", fd_before, fd_after);
    }
    if (failures != 0 && getenv("TH_TRACE") == NULL) {
        fprintf(stderr, "trace of the failed case:\n%s", th_trace());
    }
    return failures;
}

int th_main(const th_case *cases, size_t n, int argc, char **argv)
{
    size_t i;
    int total = 0;

    fsys = *aiotp_syscalls_posix();
    fsys.send = f_send;
    fsys.sendmsg = f_sendmsg;
    fsys.recv = f_recv;
    fsys.accept = f_accept;
    fsys.shutdown = f_shutdown;
    fsys.getaddrinfo = f_getaddrinfo;
    fsys.socket = f_socket;
    fsys.connect = f_connect;
    signal(SIGPIPE, SIG_DFL); /* the library must never raise it (WRITE-WRITE-9) */

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (i = 0; i < n; i++) {
            printf("%s\t%s\n", cases[i].name, cases[i].rules);
        }
        return 0;
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
            printf("ok %s\n", cases[i].name);
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
