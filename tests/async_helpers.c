/*
 * tests/async_helpers.c - the helpers of tests/async_helpers.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "async_helpers.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int entered;
static int inside;
static int max_inside;
static int live_lists;
static bool on_test_thread;
static pthread_t test_thread;

static int fake_gai(void *ctx, const char *node, const char *service,
                    const struct addrinfo *hints, struct addrinfo **res)
{
    struct addrinfo h;
    bool fast = node != NULL && strncmp(node, "fast.", 5) == 0;
    int rc;
    (void)ctx;
    pthread_mutex_lock(&mu);
    entered++;
    inside++;
    if (inside > max_inside) {
        max_inside = inside;
    }
    if (pthread_equal(pthread_self(), test_thread)) {
        on_test_thread = true;
    }
    pthread_cond_broadcast(&cv);
    while (!gate_open && !fast) {
        pthread_cond_wait(&cv, &mu);
    }
    inside--;
    pthread_mutex_unlock(&mu);
    *res = NULL;
    if (node != NULL && strcmp(node, "nx.test") == 0) {
        return EAI_NONAME;
    }
    if (node != NULL && strcmp(node, "again.test") == 0) {
        return EAI_AGAIN;
    }
    if (hints != NULL && (hints->ai_flags & AI_NUMERICHOST) != 0) {
        return EAI_NONAME;
    }
    memset(&h, 0, sizeof(h));
    if (hints != NULL) {
        h.ai_family = hints->ai_family;
        h.ai_socktype = hints->ai_socktype;
        h.ai_protocol = hints->ai_protocol;
    }
    h.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    rc = getaddrinfo(h.ai_family == AF_INET6 ? "::1" : "127.0.0.1", service, &h, res);
    if (rc == 0) {
        pthread_mutex_lock(&mu);
        live_lists++;
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

static void fake_free(void *ctx, struct addrinfo *res)
{
    (void)ctx;
    pthread_mutex_lock(&mu);
    live_lists--;
    pthread_mutex_unlock(&mu);
    freeaddrinfo(res);
}

static aiotp_resolver resolver = {sizeof(aiotp_resolver), NULL, fake_gai, fake_free, 0};

const aiotp_resolver *th_slow_resolver(unsigned threads)
{
    pthread_mutex_lock(&mu);
    gate_open = false;
    entered = 0;
    inside = 0;
    max_inside = 0;
    live_lists = 0;
    on_test_thread = false;
    test_thread = pthread_self();
    resolver.threads = threads;
    pthread_mutex_unlock(&mu);
    return &resolver;
}

void th_slow_open(void)
{
    pthread_mutex_lock(&mu);
    gate_open = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

bool th_slow_wait_entered(int n)
{
    struct timespec until;
    bool ok = true;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&mu);
    while (entered < n && ok) {
        ok = pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT;
    }
    ok = entered >= n;
    pthread_mutex_unlock(&mu);
    return ok;
}

int th_slow_calls(void)
{
    int n;
    pthread_mutex_lock(&mu);
    n = entered;
    pthread_mutex_unlock(&mu);
    return n;
}

int th_slow_max_concurrent(void)
{
    int n;
    pthread_mutex_lock(&mu);
    n = max_inside;
    pthread_mutex_unlock(&mu);
    return n;
}

bool th_slow_on_test_thread(void)
{
    bool v;
    pthread_mutex_lock(&mu);
    v = on_test_thread;
    pthread_mutex_unlock(&mu);
    return v;
}

int th_slow_live_lists(void)
{
    int n;
    pthread_mutex_lock(&mu);
    n = live_lists;
    pthread_mutex_unlock(&mu);
    return n;
}

/* ---- completions ---------------------------------------------------------------------- */

void th_on_conn(void *arg, int status, aiotp_transport *t)
{
    th_done *d = arg;
    d->calls++;
    d->status = status;
    d->t = t;
    d->iter = d->loop != NULL ? aiotp_loop_iteration(d->loop) : 0;
}

void th_on_server(void *arg, int status, aiotp_server *s)
{
    th_done *d = arg;
    d->calls++;
    d->status = status;
    d->s = s;
    d->iter = d->loop != NULL ? aiotp_loop_iteration(d->loop) : 0;
}

void th_on_gai(void *arg, int status, const struct addrinfo *res)
{
    th_done *d = arg;
    d->calls++;
    d->status = status;
    d->family = 0;
    d->port = 0;
    if (res != NULL && res->ai_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)res->ai_addr;
        d->family = AF_INET;
        d->port = ntohs(a->sin_port);
    } else if (res != NULL && res->ai_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)res->ai_addr;
        d->family = AF_INET6;
        d->port = ntohs(a->sin6_port);
    }
    d->iter = d->loop != NULL ? aiotp_loop_iteration(d->loop) : 0;
}

bool th_done_yet(void *arg)
{
    return ((th_done *)arg)->calls > 0;
}

int th_rec_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &th_streaming;
    *data = arg;
    return 0;
}

int th_counting_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    (void)proto;
    (void)data;
    (*(int *)arg)++;
    return AIOTP_ECALLBACK;
}

/* ---- real sockets ---------------------------------------------------------------------- */

int th_listen_tcp(int backlog, int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        th_fail(__FILE__, __LINE__, "cannot listen on 127.0.0.1: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

int th_blackhole(int *port, int *filler)
{
    struct sockaddr_in a;
    int l = th_listen_tcp(0, port);
    int c;
    *filler = -1;
    if (l < 0) {
        return -1;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)*port);
    c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0) {
        th_fail(__FILE__, __LINE__, "cannot fill the backlog: %s", strerror(errno));
        if (c >= 0) {
            close(c);
        }
        close(l);
        return -1;
    }
    *filler = c; /* completed: the accept queue (backlog 0: one) is full */
    return l;
}
