/*
 * src/pipe.c - the pipe transports: a read pipe (ReadTransport) and a write pipe
 * (WriteTransport) over a pipe, FIFO, socket or character device; the I/O shell around
 * core/pipe_sm.c (state), core/wbuf.c (a write pipe's buffer) and core/flow.c (its flow
 * control).
 *
 * Every state change goes through aiotp__pipe_step(); this file performs the actions it
 * returns. Clause IDs refer to spec/rules.md ("Pipe transports"); CPython 3.11's
 * behaviour where the documentation is silent (its _UnixReadPipeTransport and
 * _UnixWritePipeTransport) is spec/cpython-facts.md §5.
 */
#include <stdio.h>
#include <string.h>

#include "checksum.h"
#include "pipe_int.h"

static const aiotp__transport_ops read_ops;
static const aiotp__transport_ops write_ops;
static const aiotp__obj_ops pipe_obj_ops;

/* At most this many buffers per gathered write of writelines(). */
#define IOV_BATCH 64

static aiotp__pipe *as_pipe(aiotp_transport *t)
{
    return (aiotp__pipe *)(void *)t;
}

static const aiotp__pipe *as_cpipe(const aiotp_transport *t)
{
    return (const aiotp__pipe *)(const void *)t;
}

aiotp__pipe *aiotp__pipe_of(aiotp_transport *t)
{
    return t != NULL && (t->ops == &read_ops || t->ops == &write_ops) ? as_pipe(t) : NULL;
}

/* The write-buffer size: copied bytes in the ring and borrowed bytes still queued. */
static size_t wsize(const aiotp__pipe *t)
{
    return aiotp__wbuf_size(&t->wb) + t->bq.bytes;
}

static unsigned step(aiotp__pipe *t, aiotp__pipe_event ev)
{
    return aiotp__pipe_step(&t->st, ev, wsize(t) == 0);
}

static bool transient(ssize_t n)
{
    return n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR;
}

/* ---- tracing ------------------------------------------------------------------------- */

static unsigned tid(const aiotp__pipe *t)
{
    return (unsigned)t->base.id;
}

static bool tracing(const aiotp__pipe *t)
{
    return aiotp__tracing(t->base.loop);
}

static void tr_cbret(aiotp__pipe *t, const char *what, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s", tid(t), what, aiotp__status_name(rc));
}

static void tr_ret(aiotp__pipe *t, const char *what, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s size=%zu", tid(t), what, aiotp__status_name(rc),
                  wsize(t));
}

/* ---- protocol calls -------------------------------------------------------------------- */

/* A callback that only reports its failure (connection_made, the flow callbacks,
   connection_lost: PROTO-BASE-5, FLOW-8). */
static void call_simple(aiotp__pipe *t, const char *name, int (*fn)(aiotp_transport *, void *),
                        const char *failure)
{
    int rc = 0;
    if (fn != NULL) {
        rc = fn(&t->base, t->base.pdata);
    }
    if (tracing(t)) {
        tr_cbret(t, name, rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        aiotp__transport_report(&t->base, failure, rc);
    }
}

static void maybe_pause(aiotp__pipe *t)
{
    if (t->st.ph != AIOTP__PP_PH_CONNECTED) {
        return;
    }
    if (aiotp__flow_check_pause(&t->flow, wsize(t)) == AIOTP__FLOW_CALL_PAUSE) {
        if (tracing(t)) {
            aiotp__tracef(t->base.loop, "t%u cb pause_writing size=%zu high=%zu", tid(t), wsize(t),
                          t->flow.high);
        }
        call_simple(t, "pause_writing", t->base.proto->pause_writing,
                    "protocol.pause_writing() failed");
    }
}

/* PIPE-FLOW-1: only once the buffer is empty (the low mark has no effect on pipes). */
static void maybe_resume(aiotp__pipe *t)
{
    if (t->st.ph != AIOTP__PP_PH_CONNECTED || wsize(t) != 0) {
        return;
    }
    if (aiotp__flow_check_resume(&t->flow, 0) == AIOTP__FLOW_CALL_RESUME) {
        if (tracing(t)) {
            aiotp__tracef(t->base.loop, "t%u cb resume_writing size=0 low=%zu", tid(t),
                          t->flow.low);
        }
        call_simple(t, "resume_writing", t->base.proto->resume_writing,
                    "protocol.resume_writing() failed");
    }
}

/* ---- registration ---------------------------------------------------------------------- */

static void read_ready(aiotp_loop *loop, int fd, void *arg);
static void watch_ready(aiotp_loop *loop, int fd, void *arg);
static void write_ready(aiotp_loop *loop, int fd, void *arg);
static void pipe_end(aiotp__pipe *t, aiotp__pipe_event ev, int status, const char *report);

static void reader_start(aiotp__pipe *t)
{
    int rc = aiotp__watch(t->base.loop, t->fd, false, &t->reader_on,
                          t->st.dir == AIOTP__PP_READ ? read_ready : watch_ready, t);
    if (rc != 0) {
        pipe_end(t, AIOTP__PPEV_FATAL, rc, "Fatal error: cannot watch the pipe");
    }
}

static void reader_stop(aiotp__pipe *t)
{
    aiotp__unwatch(t->base.loop, t->fd, false, &t->reader_on);
}

static int writer_start(aiotp__pipe *t)
{
    return aiotp__watch(t->base.loop, t->fd, true, &t->writer_on, write_ready, t);
}

static void writer_stop(aiotp__pipe *t)
{
    aiotp__unwatch(t->base.loop, t->fd, true, &t->writer_on);
}

/* ---- connection_lost ------------------------------------------------------------------- */

/* PIPE-LOST-1: connection_lost, then the pipe is closed and the protocol let go. The fd
   is still open during the callback. */
static void deliver_lost(aiotp__pipe *t, int status)
{
    aiotp_loop *loop = t->base.loop;
    int rc = 0;

    reader_stop(t);
    writer_stop(t);
    /* DEV-81: every done owed runs before connection_lost; bytes not written by now never
       will be (the status of the end, or ECANCELED) */
    aiotp__bq_finish(&t->bq, &t->base, status);
    if (tracing(t)) {
        aiotp__tracef(loop, "t%u cb connection_lost status=%s", tid(t),
                      aiotp__status_name(status));
    }
    if (t->base.proto->connection_lost != NULL) {
        rc = t->base.proto->connection_lost(&t->base, t->base.pdata, status);
    }
    if (tracing(t)) {
        tr_cbret(t, "connection_lost", rc < 0 ? rc : 0);
    }
    if (rc < 0) {
        aiotp__transport_report(&t->base, "Exception in callback protocol.connection_lost()", rc);
    }
    aiotp__fd_forget(loop, t->fd);
    (void)loop->sys->close(loop->sys->ctx, t->fd);
    t->fd = -1;
    t->x_pipe.u.fd = -1;
    t->base.proto = NULL;
    t->base.pdata = NULL;
    aiotp__transport_notify_lost(&t->base);
    aiotp__transport_release_later(&t->base);
}

/* PIPE-EOF-1: eof_received (its result ignored; a failure is reported) then
   connection_lost(0), back to back. */
static void call_eof(aiotp__pipe *t)
{
    int rc = 0;
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u cb eof_received", tid(t));
    }
    if (t->base.proto->eof_received != NULL) {
        rc = t->base.proto->eof_received(&t->base, t->base.pdata);
    }
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u ret eof_received %s", tid(t),
                      rc < 0 ? aiotp_err_name(rc) : (rc > 0 ? "1" : "0"));
    }
    if (rc < 0) {
        aiotp__transport_report(&t->base, "Exception in callback protocol.eof_received()", rc);
    }
}

static void lost_cb(aiotp_loop *loop, void *arg)
{
    aiotp__pipe *t = arg;
    unsigned act = step(t, AIOTP__PPEV_LOST);
    (void)loop;
    if (act & AIOTP__PPA_CALL_EOF) {
        call_eof(t);
    }
    if (act & AIOTP__PPA_CALL_LOST) {
        deliver_lost(t, t->lost_status);
    }
}

/* The actions of close, abort, a fatal error, end of file, the reader gone. */
static void apply_end_actions(aiotp__pipe *t, unsigned act, int status)
{
    if (act & AIOTP__PPA_STOP_READER) {
        reader_stop(t);
    }
    if (act & AIOTP__PPA_STOP_WRITER) {
        writer_stop(t);
    }
    if (act & AIOTP__PPA_DROP_BUFFER) {
        aiotp__wbuf_clear(&t->wb); /* no resume_writing (PIPE-ABORT-1) */
        if (aiotp__bq_queued(&t->bq)) {
            aiotp__bq_cancel(&t->bq, status != 0 ? status : AIOTP_ECANCELED); /* done before
                                                                                 lost */
        }
    }
    if (act & AIOTP__PPA_SCHEDULE_LOST) {
        t->lost_status = status;
        t->promised--;
        aiotp__push_promised(t->base.loop, lost_cb, t);
    }
}

/* PIPE-FATAL-1 / PIPE-PEER-1: the transport ends with connection_lost(status) in the next
   pass. The state changes first; then the exception handler hears of it if `report`. */
static void pipe_end(aiotp__pipe *t, aiotp__pipe_event ev, int status, const char *report)
{
    unsigned act = step(t, ev);
    if (act != AIOTP__PPA_REFUSED) {
        apply_end_actions(t, act, status);
        if (report != NULL) {
            aiotp__transport_report(&t->base, report, status);
        }
    }
}

/* ---- connection_made ----------------------------------------------------------------- */

static void done_cb_run(aiotp_loop *loop, void *arg)
{
    aiotp__pipe *t = arg;
    aiotp_connect_cb cb = t->done_cb;
    (void)loop;
    t->done_cb = NULL;
    t->promised--;
    if (cb != NULL) {
        cb(t->done_arg, 0, &t->base); /* after connection_made, same pass */
    }
}

static void made_cb(aiotp_loop *loop, void *arg)
{
    aiotp__pipe *t = arg;
    (void)loop;
    t->promised--;
    if (step(t, AIOTP__PPEV_MADE) == AIOTP__PPA_CALL_MADE) {
        if (tracing(t)) {
            aiotp__tracef(t->base.loop, "t%u cb connection_made", tid(t));
        }
        call_simple(t, "connection_made", t->base.proto->connection_made,
                    "Exception in callback protocol.connection_made()");
    }
    /* PIPE-MADE-1: reading (a write pipe: the watch) starts after connection_made */
    if (step(t, AIOTP__PPEV_READER_START) == AIOTP__PPA_START_READER &&
        (t->st.dir == AIOTP__PP_READ || t->watch)) {
        reader_start(t);
    }
}

/* ---- creation ------------------------------------------------------------------------ */

int aiotp__pipe_alloc(aiotp_loop *loop, bool with_done, aiotp__pipe **out)
{
    unsigned need = with_done ? 3u : 2u; /* made, [done], lost */
    aiotp__pipe *t = aiotp__alloc(loop, sizeof(*t));
    int rc;
    if (t == NULL) {
        return AIOTP_ENOMEM;
    }
    memset(t, 0, sizeof(*t));
    rc = aiotp__rq_reserve(loop, need);
    if (rc != 0) {
        aiotp__free(loop, t);
        return rc;
    }
    t->base.loop = loop;
    t->promised = need;
    t->fd = -1;
    *out = t;
    return 0;
}

void aiotp__pipe_discard(aiotp__pipe *t)
{
    aiotp__rq_unreserve(t->base.loop, t->promised);
    aiotp__free(t->base.loop, t);
}

void aiotp__pipe_start(aiotp__pipe *t, int fd, aiotp__pp_dir dir, bool watch,
                       const aiotp_protocol *proto, void *pdata, aiotp_connect_cb done_cb,
                       void *done_arg)
{
    aiotp_loop *loop = t->base.loop;
    t->fd = fd;
    t->watch = dir == AIOTP__PP_WRITE && watch;
    t->done_cb = done_cb;
    t->done_arg = done_arg;
    aiotp__pipe_init(&t->st, dir);
    aiotp__flow_init(&t->flow);
    aiotp__wbuf_init(&t->wb);
    t->x_pipe.kind = AIOTP_EXTRA_FD;
    t->x_pipe.u.fd = fd;

    aiotp__transport_init(&t->base, loop, dir == AIOTP__PP_READ ? &read_ops : &write_ops,
                          &pipe_obj_ops, proto, pdata);
    aiotp__transport_own_fd(&t->base, fd); /* until connection_lost has run (LOOP-8) */
    if (tracing(t)) {
        aiotp__tracef(loop, "t%u open %s", tid(t), dir == AIOTP__PP_READ ? "piperead" : "pipewrite");
        if (dir == AIOTP__PP_WRITE) {
            aiotp__tracef(loop, "t%u limits low=%zu high=%zu", tid(t), t->flow.low, t->flow.high);
        }
    }
    /* PIPE-MADE-1: connection_made (then reading or the watch) next pass; completion after */
    aiotp__push_promised(loop, made_cb, t);
    if (done_cb != NULL) {
        aiotp__push_promised(loop, done_cb_run, t);
    }
}

int aiotp__pipe_check_protocol(aiotp__pp_dir dir, const aiotp_protocol *proto,
                               const char **why)
{
    return aiotp__transport_check_protocol(dir == AIOTP__PP_READ ? &read_ops : &write_ops,
                                           proto, why);
}

int aiotp__pipe_create(aiotp_loop *loop, int fd, aiotp__pp_dir dir, bool watch,
                       const aiotp_protocol *proto, void *pdata, aiotp_connect_cb done_cb,
                       void *done_arg, aiotp_transport **out, const char **why)
{
    aiotp__pipe *t;
    int rc = aiotp__pipe_check_protocol(dir, proto, why);
    if (rc == 0) {
        rc = aiotp__fd_reserve(loop, fd);
    }
    if (rc == 0) {
        rc = aiotp__pipe_alloc(loop, done_cb != NULL, &t);
    }
    if (rc != 0) {
        return rc;
    }
    aiotp__pipe_start(t, fd, dir, watch, proto, pdata, done_cb, done_arg);
    if (out != NULL) {
        *out = &t->base;
    }
    return 0;
}

/* ---- freeing ------------------------------------------------------------------------- */

static void release_memory(aiotp__pipe *t)
{
    aiotp_loop *loop = t->base.loop;
    if (t->promised > 0) {
        aiotp__rq_unreserve(loop, t->promised);
    }
    aiotp__free(loop, t->wb.data);
    aiotp__bq_free(loop, &t->bq);
    aiotp__free(loop, t);
}

static void pipe_free(aiotp_transport *bt)
{
    aiotp__pipe *t = as_pipe(bt);
    aiotp__obj_unlink(&t->base.obj);
    release_memory(t);
}

/* aiotp_loop_free: close the pipe, no callback, touch no other object. */
static void pipe_teardown(aiotp__obj *o)
{
    aiotp__pipe *t = (aiotp__pipe *)(void *)o;
    if (t->fd >= 0) {
        aiotp__fd_forget(t->base.loop, t->fd);
        (void)t->base.loop->sys->close(t->base.loop->sys->ctx, t->fd);
        t->fd = -1;
    }
    /* DEV-81: the borrowed writes still owed get their done (t NULL: the transport is
       going; 0 for a buffer the kernel had taken, else ECANCELED) */
    aiotp__bq_teardown(t->base.loop, &t->bq);
    release_memory(t);
}

static const aiotp__obj_ops pipe_obj_ops = {
    .name = "pipe",
    .teardown = pipe_teardown,
    .deferred = aiotp__transport_deferred,
};

/* ---- reading ---------------------------------------------------------------------------- */

/* At most this many reads per read event (PIPE-READ-1, DEV-75). */
#define READ_BATCH 16

/* One read of up to 256 KiB and what follows from it: true when the pipe may have more
   (data came and was delivered), false when this event is done (EAGAIN, end of file, an
   error). */
static bool read_once(aiotp_loop *loop, aiotp__pipe *t)
{
    ssize_t n = loop->sys->read(loop->sys->ctx, t->fd, loop->rbuf, AIOTP__READ_MAX);
    int rc = 0;
    if (n > 0) {
        if (tracing(t)) {
            t->rx_total += (uint64_t)n;
            t->rx_sum = aiotp__crc32(t->rx_sum, loop->rbuf, (size_t)n);
            aiotp__tracef(loop, "t%u cb data_received n=%zd total=%llu sum=%08x", tid(t), n,
                          (unsigned long long)t->rx_total, (unsigned)t->rx_sum);
        }
        if (t->base.proto->data_received != NULL) {
            rc = t->base.proto->data_received(&t->base, t->base.pdata, loop->rbuf, (size_t)n);
        }
        if (tracing(t)) {
            tr_cbret(t, "data_received", rc < 0 ? rc : 0);
        }
        if (rc < 0) {
            /* PIPE-CB-1: reported; the pipe stays open (CPython §5.2) */
            aiotp__transport_report(&t->base, "Exception in callback protocol.data_received()",
                                    rc);
        }
        return true;
    }
    if (n == 0) {
        /* PIPE-EOF-1: eof_received and connection_lost(0), both in the next pass */
        apply_end_actions(t, step(t, AIOTP__PPEV_EOF), 0);
    } else if (!transient(n)) {
        /* PIPE-FATAL-1: reported (EIO, a pty whose other side closed, silently) */
        pipe_end(t, AIOTP__PPEV_FATAL, (int)n,
                 n == -EIO ? NULL : "Fatal read error on pipe transport");
    }
    return false;
}

/* PIPE-READ-1: reads of up to 256 KiB while the pipe has data, at most READ_BATCH per read
   event (CPython reads once: DEV-75), each chunk to data_received; the next read only while
   the transport still reads (PIPE-READ-3: a callback that paused, closed or lost it ends
   the batch). */
static void read_ready(aiotp_loop *loop, int fd, void *arg)
{
    aiotp__pipe *t = arg;
    int i;
    (void)fd;

    for (i = 0; i < READ_BATCH; i++) {
        if (step(t, AIOTP__PPEV_READ) != AIOTP__PPA_DELIVER || !read_once(loop, t)) {
            return;
        }
    }
}

/* PIPE-PEER-1: the write pipe's fd is readable (an error or hang-up: the reader went
   away; on a socket also data from the peer): connection_lost next pass, EPIPE when bytes
   were still queued, else 0. */
static void watch_ready(aiotp_loop *loop, int fd, void *arg)
{
    aiotp__pipe *t = arg;
    (void)loop;
    (void)fd;
    pipe_end(t, AIOTP__PPEV_PEER_CLOSED, wsize(t) > 0 ? -EPIPE : 0, NULL);
}

/* ---- writing ------------------------------------------------------------------------------ */

static void account_tx(aiotp__pipe *t, const void *p, size_t n)
{
    if (tracing(t)) {
        t->tx_total += n;
        t->tx_sum = aiotp__crc32(t->tx_sum, p, n);
    }
}

static void tr_write_ret(aiotp__pipe *t, const char *what, int rc)
{
    aiotp__tracef(t->base.loop, "t%u ret %s %s size=%zu total=%llu sum=%08x", tid(t), what,
                  aiotp__status_name(rc), wsize(t), (unsigned long long)t->tx_total,
                  (unsigned)t->tx_sum);
}

/* Write errors end the transport silently (CPython: an OSError of os.write is not
   reported); write() returns the error (PIPE-WRITE-4, as DEV-9). */
static int write_failed(aiotp__pipe *t, ssize_t n)
{
    pipe_end(t, AIOTP__PPEV_FATAL, (int)n, NULL);
    return (int)n;
}

/* The pieces of a write: one buffer (write) or several (writelines). */
typedef struct pieces {
    const aiotp_buf *bufs;
    size_t n;
    size_t total;
} pieces;

/* Offer pieces [from, ...) to the pipe with one write/writev of at most IOV_BATCH buffers
   (*offered bytes): bytes taken, or a negative error. */
static ssize_t offer(aiotp__pipe *t, const pieces *p, size_t first, size_t off, size_t *offered)
{
    const aiotp_syscalls *sys = t->base.loop->sys;
    struct iovec iov[IOV_BATCH];
    int k = 0;
    size_t i;
    *offered = 0;
    for (i = first; i < p->n && k < IOV_BATCH; i++) {
        size_t skip = i == first ? off : 0;
        if (p->bufs[i].len > skip) {
            iov[k].iov_base = (void *)((uintptr_t)p->bufs[i].base + skip);
            iov[k].iov_len = p->bufs[i].len - skip;
            *offered += iov[k].iov_len;
            k++;
        }
    }
    if (k == 1) {
        return sys->write(sys->ctx, t->fd, iov[0].iov_base, iov[0].iov_len);
    }
    return sys->writev(sys->ctx, t->fd, iov, k);
}

/* PIPE-WRITE-1..4: nothing queued: offered at once (gathered, no copy) until the pipe is
   full; the rest is queued, the writer armed, pause_writing checked. */
static int do_write(aiotp__pipe *t, const pieces *p)
{
    size_t first = 0;
    size_t off = 0;
    size_t sent = 0;
    size_t i;
    int rc;

    if (wsize(t) == 0) {
        while (sent < p->total) {
            size_t offered;
            ssize_t n = offer(t, p, first, off, &offered);
            if (n < 0) {
                if (transient(n)) {
                    break;
                }
                if (sent > 0) {
                    break; /* queued like after EAGAIN; the drain meets the error */
                }
                return write_failed(t, n);
            }
            sent += (size_t)n;
            off += (size_t)n;
            while (first < p->n && off >= p->bufs[first].len) {
                off -= p->bufs[first].len;
                first++;
            }
            if ((size_t)n < offered) {
                break; /* the pipe is full: the rest is queued */
            }
        }
        if (sent == p->total) {
            for (i = 0; i < p->n; i++) {
                account_tx(t, p->bufs[i].base, p->bufs[i].len);
            }
            return 0; /* no flow-control check when nothing is queued */
        }
        rc = aiotp__wq_reserve(t->base.loop, &t->wb, p->total - sent);
        if (rc == 0) {
            rc = writer_start(t);
        }
        if (rc != 0) {
            if (sent == 0) {
                return rc; /* nothing taken: a clean refusal, nothing changed */
            }
            /* part taken, the rest cannot be queued: the pipe would lose bytes */
            for (i = 0; i < first; i++) {
                account_tx(t, p->bufs[i].base, p->bufs[i].len);
            }
            if (first < p->n) {
                account_tx(t, p->bufs[first].base, off);
            }
            pipe_end(t, AIOTP__PPEV_FATAL, rc, "Fatal error: no memory to queue the rest of a write");
            return rc;
        }
    } else {
        /* behind queued bytes: room first, all or nothing (DEV-81: behind borrowed
           bytes, a run) */
        rc = aiotp__bq_reserve_copy(t->base.loop, &t->bq, &t->wb, p->total);
        if (rc != 0) {
            return rc;
        }
    }
    for (i = 0; i < p->n; i++) {
        account_tx(t, p->bufs[i].base, p->bufs[i].len);
    }
    for (i = first; i < p->n; i++) {
        size_t skip = i == first ? off : 0;
        if (p->bufs[i].len > skip) {
            aiotp__wq_append(&t->wb, (const unsigned char *)p->bufs[i].base + skip,
                             p->bufs[i].len - skip);
        }
    }
    maybe_pause(t); /* PIPE-FLOW-1: synchronous, inside write() */
    return 0;
}

/* Checks shared by write() and writelines(): 0 to go on, 1 to return 0, or an error. */
static int admission(aiotp__pipe *t, size_t total)
{
    if (total == 0) {
        return 1; /* PIPE-WRITE-2: empty data is a no-op, before any other check */
    }
    if (step(t, AIOTP__PPEV_WRITE) == AIOTP__PPA_REFUSED) {
        t->dropped_writes++; /* PIPE-WRITE-5 */
        return AIOTP_ECLOSED;
    }
    return 0;
}

static int pipe_write(aiotp_transport *bt, const void *data, size_t len)
{
    aiotp__pipe *t = as_pipe(bt);
    aiotp_buf b;
    pieces p;
    int rc;
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u call write n=%zu", tid(t), len);
    }
    if (data == NULL && len > 0) {
        rc = AIOTP_EINVAL;
    } else if (len > SIZE_MAX / 2) {
        rc = AIOTP_ETOOBIG;
    } else {
        rc = admission(t, len);
        if (rc == 0) {
            b.base = data;
            b.len = len;
            p.bufs = &b;
            p.n = 1;
            p.total = len;
            rc = do_write(t, &p);
        } else if (rc == 1) {
            rc = 0;
        }
    }
    if (tracing(t)) {
        tr_write_ret(t, "write", rc);
    }
    return rc;
}

static int pipe_writelines(aiotp_transport *bt, const aiotp_buf *bufs, size_t n)
{
    aiotp__pipe *t = as_pipe(bt);
    pieces p;
    size_t total = 0;
    size_t i;
    int rc;
    if (tracing(t)) {
        for (i = 0; bufs != NULL && i < n; i++) {
            total += bufs[i].len;
        }
        aiotp__tracef(t->base.loop, "t%u call writelines count=%zu n=%zu", tid(t), n, total);
    }
    rc = aiotp__bufs_total(bufs, n, &total);
    if (rc == 0) {
        rc = admission(t, total);
        if (rc == 0) {
            p.bufs = bufs;
            p.n = n;
            p.total = total;
            rc = do_write(t, &p);
        } else if (rc == 1) {
            rc = 0;
        }
    }
    if (tracing(t)) {
        tr_write_ret(t, "writelines", rc);
    }
    return rc;
}

/* DEV-81: nothing queued: offered at once, what the pipe does not take stays borrowed;
   behind queued bytes: queued whole. Room (entries, the done pass's ready-queue entry)
   first, so that nothing can fail once bytes are taken. */
static int do_borrow(aiotp__pipe *t, const unsigned char *data, size_t len,
                     aiotp_write_done_cb done, void *arg)
{
    size_t sent = 0;
    int rc = aiotp__bq_prepare(&t->bq, &t->base, &t->promised);
    if (rc != 0) {
        return rc;
    }
    if (wsize(t) == 0) {
        const aiotp_syscalls *sys = t->base.loop->sys;
        ssize_t n = sys->write(sys->ctx, t->fd, data, len);
        if (n < 0 && !transient(n)) {
            return write_failed(t, n);
        }
        sent = n > 0 ? (size_t)n : 0;
        if (sent < len) {
            rc = writer_start(t);
            if (rc != 0) {
                if (sent == 0) {
                    return rc; /* nothing taken: a clean refusal */
                }
                account_tx(t, data, sent);
                pipe_end(t, AIOTP__PPEV_FATAL, rc, "Fatal error: cannot watch the pipe");
                return rc;
            }
        }
    }
    account_tx(t, data, len);
    aiotp__bq_borrow(&t->bq, aiotp__wbuf_size(&t->wb), data, len, sent, done, arg);
    if (sent < len) {
        maybe_pause(t); /* PIPE-FLOW-1: as write() */
    }
    return 0;
}

static int pipe_write_borrowed(aiotp_transport *bt, const void *data, size_t len,
                               aiotp_write_done_cb done, void *arg)
{
    aiotp__pipe *t = as_pipe(bt);
    int rc;
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u call write_borrowed n=%zu", tid(t), len);
    }
    if ((data == NULL && len > 0) || done == NULL) {
        rc = AIOTP_EINVAL;
    } else if (wsize(t) > SIZE_MAX / 2 || len > SIZE_MAX / 2 - wsize(t)) {
        rc = AIOTP_ETOOBIG;
    } else {
        rc = admission(t, len);
        if (rc == 0) {
            rc = do_borrow(t, data, len, done, arg);
        } else if (rc == 1) {
            rc = 0;
        }
    }
    if (tracing(t)) {
        tr_write_ret(t, "write_borrowed", rc);
    }
    return rc;
}

/* DEV-81: the drain's write while borrowed entries are queued: one gathered write of the
   entries in order (borrowed buffers and the ring's runs), then the dones of those it
   finished (the state is up to date). False when the event ends here (an error; a done
   that aborted or failed the transport); else the caller goes on as after its own
   write. */
static AIOTP__NOINLINE bool drain_borrowed(aiotp__pipe *t)
{
    const aiotp_syscalls *sys = t->base.loop->sys;
    struct iovec iov[IOV_BATCH];
    int k = aiotp__bq_gather(&t->bq, &t->wb, iov, IOV_BATCH);
    ssize_t n = k == 1 ? sys->write(sys->ctx, t->fd, iov[0].iov_base, iov[0].iov_len)
                       : sys->writev(sys->ctx, t->fd, iov, k);
    if (n < 0) {
        if (!transient(n)) {
            (void)write_failed(t, n);
        }
        return false;
    }
    aiotp__bq_consume(&t->bq, &t->wb, (size_t)n);
    aiotp__bq_run_due(&t->bq, &t->base, t->bq.due); /* may re-enter */
    /* false: aborted, or failed, inside a done */
    return t->st.life == AIOTP__PP_OPEN || t->st.life == AIOTP__PP_CLOSING;
}

/* PIPE-DRAIN-1: one gathered write of the queued bytes per writable event. */
static void write_ready(aiotp_loop *loop, int fd, void *arg)
{
    aiotp__pipe *t = arg;
    const aiotp_syscalls *sys = loop->sys;
    aiotp__wseg seg[2];
    struct iovec iov[2];
    ssize_t n;
    int k;
    int i;
    unsigned act;
    (void)fd;

    if (t->st.life != AIOTP__PP_OPEN && t->st.life != AIOTP__PP_CLOSING) {
        writer_stop(t);
        return;
    }
    if (aiotp__bq_queued(&t->bq)) {
        if (!drain_borrowed(t)) {
            return;
        }
    } else {
        k = aiotp__wbuf_data_segments(&t->wb, seg);
        for (i = 0; i < k; i++) {
            iov[i].iov_base = t->wb.data + seg[i].off;
            iov[i].iov_len = seg[i].len;
        }
        if (k == 0) {
            n = 0;
        } else if (k == 1) {
            n = sys->write(sys->ctx, t->fd, iov[0].iov_base, iov[0].iov_len);
        } else {
            n = sys->writev(sys->ctx, t->fd, iov, k);
        }
        if (n < 0) {
            if (!transient(n)) {
                (void)write_failed(t, n);
            }
            return;
        }
        aiotp__wbuf_consume(&t->wb, (size_t)n);
    }
    if (wsize(t) > 0) {
        return; /* PIPE-FLOW-1: no resume check until the buffer is empty */
    }
    maybe_resume(t); /* may re-enter: write, close, abort */
    if (wsize(t) == 0) {
        act = step(t, AIOTP__PPEV_DRAINED);
        if (act == AIOTP__PPA_REFUSED) {
            return; /* aborted inside resume_writing */
        }
        if (act & AIOTP__PPA_STOP_WRITER) {
            writer_stop(t);
        }
        if (act & AIOTP__PPA_STOP_READER) {
            reader_stop(t);
        }
        if (act & AIOTP__PPA_CALL_LOST) {
            deliver_lost(t, 0); /* PIPE-CLOSE-1: in the pass of the last write */
        }
    }
}

/* ---- the other methods ---------------------------------------------------------------------- */

static int end_call(aiotp_transport *bt, const char *name, aiotp__pipe_event ev)
{
    aiotp__pipe *t = as_pipe(bt);
    unsigned act;
    int rc = 0;
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u call %s", tid(t), name);
    }
    act = step(t, ev);
    if (act == AIOTP__PPA_REFUSED) {
        rc = AIOTP_ECLOSED; /* PIPE-CLOSE-1, PIPE-ABORT-1: already closing */
    } else {
        apply_end_actions(t, act, 0);
    }
    if (tracing(t)) {
        tr_ret(t, name, rc);
    }
    return rc;
}

static int pipe_close(aiotp_transport *bt)
{
    return end_call(bt, "close", AIOTP__PPEV_CLOSE);
}

static int pipe_write_eof(aiotp_transport *bt)
{
    return end_call(bt, "write_eof", AIOTP__PPEV_WRITE_EOF);
}

static int pipe_abort(aiotp_transport *bt)
{
    return end_call(bt, "abort", AIOTP__PPEV_ABORT);
}

static bool pipe_is_closing(const aiotp_transport *bt)
{
    return aiotp__pipe_is_closing(&as_cpipe(bt)->st);
}

static bool pipe_is_reading(const aiotp_transport *bt)
{
    return aiotp__pipe_is_reading(&as_cpipe(bt)->st);
}

static int pipe_pause_reading(aiotp_transport *bt)
{
    aiotp__pipe *t = as_pipe(bt);
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u call pause_reading", tid(t));
    }
    if (aiotp__pipe_is_closing(&t->st)) {
        /* DONE-1: closing or closed, nothing to pause or resume (no step) */
        if (tracing(t)) {
            tr_ret(t, "pause_reading", AIOTP_ECLOSED);
        }
        return AIOTP_ECLOSED;
    }
    if (step(t, AIOTP__PPEV_PAUSE_READING) == AIOTP__PPA_STOP_READER) {
        reader_stop(t); /* PIPE-READ-2 */
    }
    if (tracing(t)) {
        tr_ret(t, "pause_reading", 0);
    }
    return 0;
}

static int pipe_resume_reading(aiotp_transport *bt)
{
    aiotp__pipe *t = as_pipe(bt);
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u call resume_reading", tid(t));
    }
    if (aiotp__pipe_is_closing(&t->st)) {
        /* DONE-1: closing or closed, nothing to pause or resume (no step) */
        if (tracing(t)) {
            tr_ret(t, "resume_reading", AIOTP_ECLOSED);
        }
        return AIOTP_ECLOSED;
    }
    if (step(t, AIOTP__PPEV_RESUME_READING) == AIOTP__PPA_START_READER) {
        reader_start(t);
    }
    if (tracing(t)) {
        tr_ret(t, "resume_reading", 0);
    }
    return 0;
}

static bool pipe_can_write_eof(const aiotp_transport *bt)
{
    (void)bt;
    return true; /* PIPE-WRITE-6 */
}

static size_t pipe_get_write_buffer_size(const aiotp_transport *bt)
{
    return wsize(as_cpipe(bt));
}

static int pipe_get_write_buffer_limits(const aiotp_transport *bt, size_t *low, size_t *high)
{
    *low = as_cpipe(bt)->flow.low;
    *high = as_cpipe(bt)->flow.high;
    return 0;
}

static void tr_limit(char *buf, size_t n, int64_t v)
{
    if (v == AIOTP_LIMIT_NONE) {
        snprintf(buf, n, "NONE");
    } else {
        snprintf(buf, n, "%lld", (long long)v);
    }
}

static int pipe_set_write_buffer_limits(aiotp_transport *bt, int64_t high, int64_t low)
{
    aiotp__pipe *t = as_pipe(bt);
    int rc = 0;
    if (tracing(t)) {
        char hb[24];
        char lb[24];
        tr_limit(hb, sizeof(hb), high);
        tr_limit(lb, sizeof(lb), low);
        aiotp__tracef(t->base.loop, "t%u call set_write_buffer_limits high=%s low=%s", tid(t),
                      hb, lb);
    }
    if (!aiotp__flow_set_limits(&t->flow, high, low)) {
        rc = AIOTP_EINVAL; /* FLOW-3 */
    } else {
        maybe_pause(t); /* FLOW-7 */
    }
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u ret set_write_buffer_limits %s size=%zu low=%zu high=%zu",
                      tid(t), aiotp__status_name(rc), wsize(t), t->flow.low, t->flow.high);
    }
    return rc;
}

static int pipe_set_protocol(aiotp_transport *bt, const aiotp_protocol *proto, void *data)
{
    aiotp__pipe *t = as_pipe(bt);
    int rc = aiotp__transport_check_protocol(t->base.ops, proto, NULL);
    if (rc == 0 && t->st.ph == AIOTP__PP_PH_LOST) {
        rc = AIOTP_ECLOSED;
    }
    if (tracing(t)) {
        aiotp__tracef(t->base.loop, "t%u call set_protocol kind=%s", tid(t),
                      proto != NULL && rc == 0 && proto->kind == AIOTP_PROTOCOL_BUFFERED
                          ? "buffered"
                          : "streaming");
    }
    if (rc == 0) {
        aiotp__transport_adopt(&t->base, proto, data);
    }
    if (tracing(t)) {
        tr_ret(t, "set_protocol", rc);
    }
    return rc;
}

static const aiotp_extra *pipe_get_extra_info(const aiotp_transport *bt, const char *name,
                                              const aiotp_extra *dflt)
{
    if (strcmp(name, "pipe") == 0) {
        return &as_cpipe(bt)->x_pipe; /* PIPE-EXTRA-1 */
    }
    return dflt;
}

/* ---- the method tables ------------------------------------------------------------------------ */

static const aiotp__transport_ops read_ops = {
    .kind = AIOTP_TRANSPORT_PIPE_READ,
    .name = "read pipe",
    .protocol_kinds = 1u << AIOTP_PROTOCOL_STREAMING,
    .close = pipe_close,
    .is_closing = pipe_is_closing,
    .set_protocol = pipe_set_protocol,
    .get_extra_info = pipe_get_extra_info,
    .is_reading = pipe_is_reading,
    .pause_reading = pipe_pause_reading,
    .resume_reading = pipe_resume_reading,
    .abort = NULL, /* CPython's read pipe has no abort() */
    .free = pipe_free,
};

static const aiotp__transport_ops write_ops = {
    .kind = AIOTP_TRANSPORT_PIPE_WRITE,
    .name = "write pipe",
    .protocol_kinds = (1u << AIOTP_PROTOCOL_STREAMING) | (1u << AIOTP_PROTOCOL_BUFFERED),
    .close = pipe_close,
    .is_closing = pipe_is_closing,
    .set_protocol = pipe_set_protocol,
    .get_extra_info = pipe_get_extra_info,
    .abort = pipe_abort,
    .can_write_eof = pipe_can_write_eof,
    .get_write_buffer_size = pipe_get_write_buffer_size,
    .get_write_buffer_limits = pipe_get_write_buffer_limits,
    .set_write_buffer_limits = pipe_set_write_buffer_limits,
    .write = pipe_write,
    .writelines = pipe_writelines,
    .write_eof = pipe_write_eof,
    .write_borrowed = pipe_write_borrowed,
    .free = pipe_free,
};
