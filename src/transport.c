/*
 * src/transport.c - the public transport functions, for every kind: argument checks
 * common to all kinds, then dispatch through the kind's method table
 * (src/transport_int.h). A method the kind does not have answers AIOTP_ENOTSUP and
 * changes nothing (TRANSPORT-KIND-1); the queries answer false / 0 / the default.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "checksum.h"
#include "transport_int.h"

/* ---- base object ----------------------------------------------------------------- */

void aiotp__transport_init(aiotp_transport *t, aiotp_loop *loop,
                           const aiotp__transport_ops *ops, const aiotp__obj_ops *obj_ops,
                           const aiotp_protocol *proto, void *pdata)
{
    t->ops = ops;
    t->loop = loop;
    t->refs = 1;
    t->user_refs = 0;
    t->id = loop->next_id++;
    t->proto = proto;
    t->pdata = pdata;
    t->on_lost = NULL;
    t->on_lost_arg = NULL;
    aiotp__obj_link(loop, &t->obj, obj_ops);
    t->obj.trace_id = t->id;
}

/* Until connection_lost has run: it clears proto (and the kind forgets the fd). */
static bool transport_owns_fd(void *owner)
{
    const aiotp_transport *t = owner;
    return t->proto != NULL;
}

void aiotp__transport_own_fd(aiotp_transport *t, int fd)
{
    aiotp__fd_set_owner(t->loop, fd, t, transport_owns_fd);
}

void aiotp__transport_release_later(aiotp_transport *t)
{
    aiotp__obj_defer(&t->obj);
}

static void unref(aiotp_transport *t)
{
    if (--t->refs == 0) {
        aiotp_loop *loop = t->loop;
        bool survivor = loop->dead; /* LIFE-1: released after aiotp_loop_free */
        t->ops->free(t);
        if (survivor) {
            aiotp__loop_survivor_gone(loop);
        }
    }
}

void aiotp__transport_hold(aiotp_transport *t)
{
    t->refs++;
}

void aiotp__transport_drop(aiotp_transport *t)
{
    unref(t);
}

void aiotp__transport_deferred(aiotp__obj *o)
{
    unref((aiotp_transport *)(void *)o); /* the object header is the first member */
}

void aiotp__transport_notify_lost(aiotp_transport *t)
{
    void (*fn)(void *) = t->on_lost;
    if (fn != NULL) {
        t->on_lost = NULL;
        fn(t->on_lost_arg);
    }
}

void aiotp__transport_obj_shut(aiotp__obj *o, bool abort)
{
    aiotp_transport *t = (aiotp_transport *)(void *)o;
    if (t->proto != NULL) {
        (void)(abort ? aiotp_transport_abort(t) : aiotp_transport_close(t));
    }
}

bool aiotp__transport_obj_owes(const aiotp__obj *o)
{
    const aiotp_transport *t = (const aiotp_transport *)(const void *)o;
    return t->proto != NULL; /* connection_lost clears it */
}

aiotp_transport *aiotp__transport_of_obj(aiotp__obj *o)
{
    return o->ops->owes == aiotp__transport_obj_owes ? (aiotp_transport *)(void *)o : NULL;
}

bool aiotp__transport_survive(aiotp_transport *t)
{
    if (t->user_refs == 0) {
        return false;
    }
    t->refs = t->user_refs; /* the loop's reference goes with the loop */
    t->proto = NULL;        /* answers as after connection_lost (none was called) */
    t->pdata = NULL;
    t->on_lost = NULL;
    aiotp__loop_survivor(t->loop);
    return true;
}

void aiotp__transport_adopt(aiotp_transport *t, const aiotp_protocol *proto, void *data)
{
    t->proto = proto;
    t->pdata = data;
    t->proto_switches++;
}

const char *aiotp__status_name(int status)
{
    return status == 0 ? "0" : aiotp_err_name(status);
}

void aiotp__transport_report(aiotp_transport *t, const char *message, int status)
{
    aiotp_exception_context ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.message = message;
    ctx.status = status;
    ctx.transport = t;
    ctx.protocol = t->proto;
    ctx.protocol_data = t->pdata;
    aiotp_loop_call_exception_handler(t->loop, &ctx);
}

/* "IP:PORT", "[IP6]:PORT", "unix:PATH", "unix:@NAME" (abstract), "-" (no address). */
void aiotp__fmt_addr(const struct sockaddr *a, socklen_t alen, char *out, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    snprintf(out, size, "-");
    if (a == NULL || alen < (socklen_t)sizeof(sa_family_t)) {
        return;
    }
    if (a->sa_family == AF_INET && alen >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)a;
        if (inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip)) != NULL) {
            snprintf(out, size, "%s:%u", ip, (unsigned)ntohs(s->sin_port));
        }
    } else if (a->sa_family == AF_INET6 && alen >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)a;
        if (inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip)) != NULL) {
            snprintf(out, size, "[%s]:%u", ip, (unsigned)ntohs(s->sin6_port));
        }
    } else if (a->sa_family == AF_UNIX) {
        const struct sockaddr_un *s = (const struct sockaddr_un *)(const void *)a;
        size_t n = (size_t)alen - offsetof(struct sockaddr_un, sun_path);
        if (alen <= (socklen_t)offsetof(struct sockaddr_un, sun_path) || n == 0) {
            return; /* unnamed */
        }
        if (s->sun_path[0] == '\0') {
            snprintf(out, size, "unix:@%.*s", (int)(n - 1), s->sun_path + 1);
        } else {
            snprintf(out, size, "unix:%.*s", (int)strnlen(s->sun_path, n), s->sun_path);
        }
    }
}

/* ---- traces of queries and of methods a kind lacks (trace format 3) ------------------ */

static bool tracing(const aiotp_transport *t)
{
    return t->loop != NULL && aiotp__tracing(t->loop); /* (a test's bare transport has none) */
}

static void tr_query(const aiotp_transport *t, const char *name, unsigned long long v)
{
    aiotp__tracef(t->loop, "t%u query %s %llu", (unsigned)t->id, name, v);
}

static size_t wbuf_size(const aiotp_transport *t)
{
    return t->ops->get_write_buffer_size != NULL ? t->ops->get_write_buffer_size(t) : 0;
}

/* TRANSPORT-KIND-2: "tN call NAME ARGS" then "tN ret NAME ENOTSUP size=S". */
static int not_supported(aiotp_transport *t, const char *name, const char *args)
{
    if (tracing(t)) {
        aiotp__tracef(t->loop, "t%u call %s%s%s", (unsigned)t->id, name, args[0] ? " " : "",
                      args);
        aiotp__tracef(t->loop, "t%u ret %s ENOTSUP size=%zu", (unsigned)t->id, name,
                      wbuf_size(t));
    }
    return AIOTP_ENOTSUP;
}

/* ---- protocol tables ----------------------------------------------------------------- */

static int validate(const aiotp_protocol *proto, const char **why)
{
    const char *w = NULL;
    if (proto == NULL) {
        w = "the protocol table is NULL";
    } else if (proto->size != sizeof(aiotp_protocol) && proto->size != AIOTP_PROTOCOL_SIZE_V1 &&
               proto->size != AIOTP_PROTOCOL_SIZE_V2) {
        w = "the protocol table's size field is not sizeof(aiotp_protocol)";
    } else if (proto->kind != AIOTP_PROTOCOL_STREAMING && proto->kind != AIOTP_PROTOCOL_BUFFERED &&
               proto->kind != AIOTP_PROTOCOL_DATAGRAM && proto->kind != AIOTP_PROTOCOL_SUBPROCESS) {
        w = "the protocol table's kind is not an AIOTP_PROTOCOL_* value";
    } else if (proto->kind == AIOTP_PROTOCOL_BUFFERED && proto->get_buffer == NULL) {
        w = "a BUFFERED protocol table has no get_buffer";
    } else if (proto->kind == AIOTP_PROTOCOL_DATAGRAM && proto->size == AIOTP_PROTOCOL_SIZE_V1) {
        w = "a DATAGRAM protocol table must have the layout of 0.2 or the current one";
    } else if (proto->kind == AIOTP_PROTOCOL_SUBPROCESS && proto->size != sizeof(aiotp_protocol)) {
        w = "a SUBPROCESS protocol table must have the current size";
    }
    if (why != NULL) {
        *why = w;
    }
    return w == NULL ? 0 : AIOTP_EINVAL;
}

int aiotp_protocol_validate(const aiotp_protocol *proto)
{
    return validate(proto, NULL);
}

/* Why a valid table of another kind does not fit (PROTO-KIND-1). */
static const char *kind_mismatch(const aiotp__transport_ops *ops, const aiotp_protocol *proto)
{
    switch (ops->kind) {
    case AIOTP_TRANSPORT_STREAM:
        return proto->kind == AIOTP_PROTOCOL_DATAGRAM
                   ? "a DATAGRAM protocol table cannot serve a stream transport"
                   : "a SUBPROCESS protocol table cannot serve a stream transport";
    case AIOTP_TRANSPORT_DATAGRAM:
        return proto->kind == AIOTP_PROTOCOL_SUBPROCESS
                   ? "a SUBPROCESS protocol table cannot serve a datagram transport"
                   : "a stream (STREAMING or BUFFERED) protocol table cannot serve a "
                     "datagram transport";
    case AIOTP_TRANSPORT_PIPE_READ:
        return "a read pipe takes a STREAMING protocol table only";
    case AIOTP_TRANSPORT_PIPE_WRITE:
        return "a write pipe takes a STREAMING or BUFFERED protocol table only";
    default:
        return "a subprocess transport takes a SUBPROCESS protocol table only";
    }
}

int aiotp__transport_check_protocol(const aiotp__transport_ops *ops,
                                    const aiotp_protocol *proto, const char **why)
{
    int rc = validate(proto, why);
    if (rc != 0) {
        return rc;
    }
    if ((ops->protocol_kinds & (1u << (unsigned)proto->kind)) == 0) {
        if (why != NULL) {
            *why = kind_mismatch(ops, proto);
        }
        return AIOTP_EPROTOKIND;
    }
    return 0;
}

const char *aiotp__protocol_kind_name(const aiotp_protocol *proto)
{
    if (proto != NULL && proto->kind == AIOTP_PROTOCOL_BUFFERED) {
        return "buffered";
    }
    return proto != NULL && proto->kind == AIOTP_PROTOCOL_DATAGRAM ? "datagram" : "streaming";
}

int aiotp__transport_check_new_protocol(aiotp_transport *t, const aiotp_protocol *proto)
{
    const char *why = NULL;
    int rc = aiotp__transport_check_protocol(t->ops, proto, &why);
    if (rc != 0) {
        char msg[192];
        snprintf(msg, sizeof(msg), "set_protocol(): unusable protocol table: %s", why);
        aiotp__transport_report(t, msg, rc);
    }
    return rc;
}

/* ---- BaseTransport ---------------------------------------------------------------- */

int aiotp_transport_kind(const aiotp_transport *t)
{
    return t == NULL ? 0 : t->ops->kind;
}

int aiotp_transport_close(aiotp_transport *t)
{
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    return t->ops->close != NULL ? t->ops->close(t) : AIOTP_ENOTSUP;
}

bool aiotp_transport_is_closing(const aiotp_transport *t)
{
    bool v;
    if (t == NULL) {
        return false;
    }
    v = t->ops->is_closing != NULL && t->ops->is_closing(t);
    if (tracing(t)) {
        tr_query(t, "is_closing", v);
    }
    return v;
}

int aiotp_transport_set_protocol(aiotp_transport *t, const aiotp_protocol *proto,
                                 void *data)
{
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    return t->ops->set_protocol != NULL ? t->ops->set_protocol(t, proto, data) : AIOTP_ENOTSUP;
}

const aiotp_protocol *aiotp_transport_get_protocol(const aiotp_transport *t, void **data)
{
    if (data != NULL) {
        *data = t != NULL ? t->pdata : NULL;
    }
    return t != NULL ? t->proto : NULL;
}

aiotp_loop *aiotp_transport_get_loop(const aiotp_transport *t)
{
    return t == NULL || t->loop == NULL || t->loop->dead ? NULL : t->loop;
}

const aiotp_extra *aiotp_transport_get_extra_info(const aiotp_transport *t, const char *name,
                                                  const aiotp_extra *dflt)
{
    if (t == NULL || name == NULL || t->ops->get_extra_info == NULL) {
        return dflt;
    }
    return t->ops->get_extra_info(t, name, dflt);
}

/* ---- ReadTransport ------------------------------------------------------------------- */

bool aiotp_transport_is_reading(const aiotp_transport *t)
{
    bool v;
    if (t == NULL) {
        return false;
    }
    v = t->ops->is_reading != NULL && t->ops->is_reading(t);
    if (tracing(t)) {
        tr_query(t, "is_reading", v);
    }
    return v;
}

int aiotp_transport_pause_reading(aiotp_transport *t)
{
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    return t->ops->pause_reading != NULL ? t->ops->pause_reading(t) : AIOTP_ENOTSUP;
}

int aiotp_transport_resume_reading(aiotp_transport *t)
{
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    return t->ops->resume_reading != NULL ? t->ops->resume_reading(t) : AIOTP_ENOTSUP;
}

/* ---- WriteTransport ------------------------------------------------------------------ */

int aiotp_transport_abort(aiotp_transport *t)
{
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    return t->ops->abort != NULL ? t->ops->abort(t) : AIOTP_ENOTSUP;
}

bool aiotp_transport_can_write_eof(const aiotp_transport *t)
{
    bool v;
    if (t == NULL) {
        return false;
    }
    v = t->ops->can_write_eof != NULL && t->ops->can_write_eof(t);
    if (tracing(t)) {
        tr_query(t, "can_write_eof", v);
    }
    return v;
}

size_t aiotp_transport_get_write_buffer_size(const aiotp_transport *t)
{
    size_t v;
    if (t == NULL) {
        return 0;
    }
    v = wbuf_size(t);
    if (tracing(t)) {
        tr_query(t, "get_write_buffer_size", v);
    }
    return v;
}

int aiotp_transport_get_write_buffer_limits(const aiotp_transport *t, size_t *low,
                                            size_t *high)
{
    int rc;
    if (t == NULL || low == NULL || high == NULL) {
        return AIOTP_EINVAL;
    }
    if (t->ops->get_write_buffer_limits == NULL) {
        return AIOTP_ENOTSUP;
    }
    rc = t->ops->get_write_buffer_limits(t, low, high);
    if (rc == 0 && tracing(t)) {
        aiotp__tracef(t->loop, "t%u query get_write_buffer_limits low=%zu high=%zu",
                      (unsigned)t->id, *low, *high);
    }
    return rc;
}

/* LOOP-11: the methods that may call the protocol before they return (pause_writing
   inside set_write_buffer_limits(), write() or sendto(); error_received inside sendto())
   count themselves on the loop while they run: run()/run_once() called from such a
   callback refuse (AIOTP_ERUNNING) and aiotp_loop_free() does nothing, so no pass runs
   inside a method, and no connection_lost or freeing of the transport comes under it.
   (Found by fuzz_dgram: a pass run from pause_writing inside set_write_buffer_limits()
   delivered connection_lost and freed the transport the method went on using.) */
static aiotp_loop *method_enter(aiotp_transport *t)
{
    if (t->loop != NULL) {
        t->loop->in_methods++;
    }
    return t->loop;
}

static int method_leave(aiotp_loop *loop, int rc)
{
    if (loop != NULL) {
        loop->in_methods--;
    }
    return rc;
}

int aiotp_transport_set_write_buffer_limits(aiotp_transport *t, int64_t high, int64_t low)
{
    aiotp_loop *loop;
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    if (t->ops->set_write_buffer_limits == NULL) {
        return AIOTP_ENOTSUP;
    }
    loop = method_enter(t);
    return method_leave(loop, t->ops->set_write_buffer_limits(t, high, low));
}

AIOTP__COLD static int write_not_supported(aiotp_transport *t, size_t len)
{
    char args[32];
    snprintf(args, sizeof(args), "n=%zu", len);
    return not_supported(t, "write", args);
}

/* write() and sendto() are the hot paths (bench/README.md): the not-supported answer is
   out of line, so the way to the kind's method takes no stack frame. */
int aiotp_transport_write(aiotp_transport *t, const void *data, size_t len)
{
    aiotp_loop *loop;
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    if (t->ops->write == NULL) {
        return write_not_supported(t, len);
    }
    loop = method_enter(t);
    return method_leave(loop, t->ops->write(t, data, len));
}

int aiotp_transport_writelines(aiotp_transport *t, const aiotp_buf *bufs, size_t n)
{
    aiotp_loop *loop;
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    if (t->ops->writelines == NULL) {
        char args[64];
        size_t total = 0;
        size_t i;
        for (i = 0; bufs != NULL && i < n; i++) {
            total += bufs[i].len;
        }
        snprintf(args, sizeof(args), "count=%zu n=%zu", n, total);
        return not_supported(t, "writelines", args);
    }
    loop = method_enter(t);
    return method_leave(loop, t->ops->writelines(t, bufs, n));
}

int aiotp_transport_write_borrowed(aiotp_transport *t, const void *data, size_t len,
                                   aiotp_write_done_cb done, void *arg)
{
    aiotp_loop *loop;
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    if (t->ops->write_borrowed == NULL) {
        char args[32];
        snprintf(args, sizeof(args), "n=%zu", len);
        return not_supported(t, "write_borrowed", args);
    }
    loop = method_enter(t);
    return method_leave(loop, t->ops->write_borrowed(t, data, len, done, arg));
}

int aiotp_transport_write_eof(aiotp_transport *t)
{
    aiotp_loop *loop;
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    if (t->ops->write_eof == NULL) {
        return not_supported(t, "write_eof", "");
    }
    loop = method_enter(t);
    return method_leave(loop, t->ops->write_eof(t));
}

/* ---- DatagramTransport ------------------------------------------------------------------ */

AIOTP__COLD static int sendto_not_supported(aiotp_transport *t, const void *data, size_t len,
                                            const struct sockaddr *addr, socklen_t addrlen)
{
    char args[192];
    char a[128];
    aiotp__fmt_addr(addr, addr != NULL ? addrlen : 0, a, sizeof(a));
    snprintf(args, sizeof(args), "n=%zu addr=%s sum=%08x", len, a,
             (unsigned)(data != NULL ? aiotp__crc32(0, data, len) : 0u));
    return not_supported(t, "sendto", args);
}

int aiotp_transport_sendto(aiotp_transport *t, const void *data, size_t len,
                           const struct sockaddr *addr, socklen_t addrlen)
{
    aiotp_loop *loop;
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    if (t->ops->sendto == NULL) {
        return sendto_not_supported(t, data, len, addr, addrlen);
    }
    loop = method_enter(t);
    return method_leave(loop, t->ops->sendto(t, data, len, addr, addrlen));
}

/* ---- SubprocessTransport ------------------------------------------------------------------ */

pid_t aiotp_transport_get_pid(const aiotp_transport *t)
{
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    return t->ops->get_pid != NULL ? t->ops->get_pid(t) : AIOTP_ENOTSUP;
}

aiotp_transport *aiotp_transport_get_pipe_transport(const aiotp_transport *t, int fd)
{
    if (t == NULL || t->ops->get_pipe_transport == NULL) {
        return NULL;
    }
    return t->ops->get_pipe_transport(t, fd);
}

int aiotp_transport_get_returncode(const aiotp_transport *t, int *returncode)
{
    if (t == NULL || returncode == NULL) {
        return AIOTP_EINVAL;
    }
    return t->ops->get_returncode != NULL ? t->ops->get_returncode(t, returncode)
                                          : AIOTP_ENOTSUP;
}

static int signal_call(aiotp_transport *t, int sig, const char *name)
{
    if (t == NULL) {
        return AIOTP_EINVAL;
    }
    if (t->ops->send_signal == NULL) {
        char args[32];
        args[0] = '\0';
        if (name[0] == 's') {
            snprintf(args, sizeof(args), "sig=%d", sig < 0 ? 0 : sig);
        }
        return not_supported(t, name, args);
    }
    return t->ops->send_signal(t, sig, name);
}

int aiotp_transport_send_signal(aiotp_transport *t, int sig)
{
    return signal_call(t, sig, "send_signal");
}

int aiotp_transport_terminate(aiotp_transport *t)
{
    return signal_call(t, SIGTERM, "terminate");
}

int aiotp_transport_kill(aiotp_transport *t)
{
    return signal_call(t, SIGKILL, "kill");
}

/* ---- lifetime ---------------------------------------------------------------------------- */

void aiotp_transport_retain(aiotp_transport *t)
{
    if (t != NULL) {
        t->user_refs++;
        t->refs++;
    }
}

void aiotp_transport_release(aiotp_transport *t)
{
    /* only references taken with retain() can be given back: an unmatched release is
       ignored, so it can never free a transport the loop still holds */
    if (t != NULL && t->user_refs > 0) {
        t->user_refs--;
        unref(t);
    }
}

/* ---- the write queue's memory ------------------------------------------------------------- */

int aiotp__wq_reserve(aiotp_loop *loop, aiotp__wbuf *wb, size_t n)
{
    size_t size = aiotp__wbuf_size(wb);
    size_t ncap;
    unsigned char *nd;
    aiotp__wseg seg[2];
    int k;

    if (n <= aiotp__wbuf_space(wb)) {
        return 0;
    }
    if (n > SIZE_MAX / 2 - size) {
        return AIOTP_ETOOBIG;
    }
    ncap = wb->cap ? wb->cap : 16384;
    while (ncap < size + n) {
        ncap *= 2;
    }
    nd = aiotp__alloc(loop, ncap);
    if (nd == NULL) {
        return AIOTP_ENOMEM;
    }
    k = aiotp__wbuf_data_segments(wb, seg);
    if (k > 0) {
        memcpy(nd, wb->data + seg[0].off, seg[0].len);
    }
    if (k > 1) {
        memcpy(nd + seg[0].len, wb->data + seg[1].off, seg[1].len);
    }
    aiotp__free(loop, wb->data);
    aiotp__wbuf_rebase(wb, nd, ncap);
    return 0;
}

void aiotp__wq_append(aiotp__wbuf *wb, const unsigned char *p, size_t n)
{
    aiotp__wseg seg[2];
    size_t a;
    (void)aiotp__wbuf_free_segments(wb, seg);
    a = n < seg[0].len ? n : seg[0].len;
    memcpy(wb->data + seg[0].off, p, a);
    if (n > a) {
        memcpy(wb->data + seg[1].off, p + a, n - a);
    }
    aiotp__wbuf_commit(wb, n);
}
