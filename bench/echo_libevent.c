/*
 * echo_libevent.c - libevent 2 echo server built on bufferevents.
 *
 * read_cb moves the whole input evbuffer to the output evbuffer (no copy);
 * the bufferevent writes it on the next loop iteration, when epoll reports
 * the socket writable.  Reads: libevent 2.1 reads at most 4096 bytes per
 * readiness (EVBUFFER_MAX_READ, fixed at compile time); the 64 KiB
 * bufferevent_set_max_single_read below only takes effect with libevent
 * 2.2+, where it also sets the evbuffer read limit.  Flow control uses the usual
 * bufferevent idiom: when 64 KiB or more is queued for output, EV_READ is
 * disabled; write_cb (called when the output has drained to its low-water
 * mark, 0) enables it again.  On EOF, output still queued is sent before
 * the connection is closed.  SIGTERM/SIGINT break the loop and every
 * bufferevent, the listener and the base are freed.
 */
#include "bench_common.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define HIGH_WATER BENCH_READ_SIZE

struct conn {
    struct bufferevent *bev;
    struct conn *prev, *next; /* all connections, to free them on exit */
};

static struct conn *all;
static int is_tcp;

static void drop(struct conn *c)
{
    bufferevent_free(c->bev); /* closes the socket (BEV_OPT_CLOSE_ON_FREE) */
    if (c->prev)
        c->prev->next = c->next;
    else
        all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    (void)arg;
    evbuffer_add_buffer(out, bufferevent_get_input(bev));
    if (evbuffer_get_length(out) >= HIGH_WATER)
        bufferevent_disable(bev, EV_READ); /* backed up: pause reading */
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (!(bufferevent_get_enabled(bev) & EV_READ))
        bufferevent_enable(bev, EV_READ); /* drained: resume reading */
}

static void close_when_drained_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    drop(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)
        && evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        /* Peer half-closed: send what is still queued, then close. */
        bufferevent_disable(bev, EV_READ);
        bufferevent_setcb(bev, NULL, close_when_drained_cb, event_cb, arg);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        drop(arg);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct event_base *base = evconnlistener_get_base(l);
    struct conn *c;
    (void)sa;
    (void)salen;
    (void)arg;

    if (is_tcp)
        bench_set_nodelay(fd);
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        fputs("echo_libevent: cannot create bufferevent, dropping connection\n", stderr);
        evutil_closesocket(fd);
        free(c);
        return;
    }
    bufferevent_set_max_single_read(c->bev, BENCH_READ_SIZE); /* see top comment */
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = all;
    if (all)
        all->prev = c;
    all = c;
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;
    (void)arg;
    fprintf(stderr, "echo_libevent: accept: %s\n", evutil_socket_error_to_string(err));
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    struct bench_addr addr;
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sigint_ev, *sigterm_ev;
    struct sockaddr_in sin;
    struct sockaddr_un sun;
    struct sockaddr *sa;
    int salen;
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;

    bench_parse_args(argc, argv, &addr);
    bench_process_setup();
    is_tcp = !addr.is_unix;

    base = event_base_new();
    if (base == NULL) {
        fputs("echo_libevent: event_base_new failed\n", stderr);
        return 1;
    }
    if (is_tcp) {
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)addr.port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa = (struct sockaddr *)&sin;
        salen = (int)sizeof sin;
        flags |= LEV_OPT_REUSEABLE;
    } else {
        bench_cleanup(&addr); /* stale socket file */
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        strcpy(sun.sun_path, addr.path); /* length checked when parsing */
        sa = (struct sockaddr *)&sun;
        salen = (int)sizeof sun;
    }
    listener = evconnlistener_new_bind(base, accept_cb, NULL, flags, BENCH_BACKLOG, sa, salen);
    if (listener == NULL) {
        perror("echo_libevent: cannot listen");
        event_base_free(base);
        return 1;
    }
    evconnlistener_set_error_cb(listener, accept_error_cb);

    sigint_ev = evsignal_new(base, SIGINT, signal_cb, base);
    sigterm_ev = evsignal_new(base, SIGTERM, signal_cb, base);
    if (sigint_ev == NULL || sigterm_ev == NULL || evsignal_add(sigint_ev, NULL) < 0
        || evsignal_add(sigterm_ev, NULL) < 0) {
        fputs("echo_libevent: cannot install signal events\n", stderr);
        return 1;
    }
    bench_ready();

    event_base_dispatch(base);

    while (all)
        drop(all);
    evconnlistener_free(listener);
    event_free(sigint_ev);
    event_free(sigterm_ev);
    event_base_free(base);
    libevent_global_shutdown();
    bench_cleanup(&addr);
    return 0;
}
