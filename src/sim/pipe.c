/*
 * src/sim/pipe.c - pipes, files and the type of an fd in the simulated kernel (see
 * aiotp/sim.h, "pipes, files, child processes and signals").
 *
 * A pipe is one byte queue and two ends; each end counts its holders (fds of the process
 * and fds 0..2 of virtual children, proc.c), and is closed with its last holder; the pipe
 * is freed when both ends are closed.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "aiotp/error.h"
#include "sim_int.h"

#define SIM_PIPE_CAPACITY ((size_t)65536)

void aiotp__sim_pipe_ref(sim_pipe *p, int side)
{
    p->refs[side]++;
}

void aiotp__sim_pipe_unref(aiotp_sim *sim, sim_pipe *p, int side)
{
    p->refs[side]--;
    if (p->refs[0] == 0 && p->refs[1] == 0) {
        aiotp__sim_free(sim, p->q.data);
        aiotp__sim_free(sim, p);
    } else if (p->refs[0] == 0) {
        /* no reader: what is queued can never be read */
        p->q.head = 0;
        p->q.len = 0;
    }
}

ssize_t aiotp__sim_pipe_read(sim_pipe *p, void *buf, size_t len)
{
    size_t n = len < p->q.len ? len : p->q.len;
    if (n == 0) {
        if (len == 0) {
            return 0;
        }
        return p->refs[1] == 0 ? 0 : -EAGAIN;
    }
    memcpy(buf, p->q.data + p->q.head, n);
    p->q.head += n;
    p->q.len -= n;
    if (p->q.len == 0) {
        p->q.head = 0;
    }
    return (ssize_t)n;
}

/* Room for n more bytes at the tail (the queue is compacted or grown). */
static int room(aiotp_sim *sim, sim_pipe *p, size_t n)
{
    unsigned char *d;
    size_t need;
    if (p->q.head + p->q.len + n <= p->q.alloc) {
        return 0;
    }
    if (p->q.head > 0) {
        memmove(p->q.data, p->q.data + p->q.head, p->q.len);
        p->q.head = 0;
        if (p->q.len + n <= p->q.alloc) {
            return 0;
        }
    }
    need = p->q.len + n;
    d = sim->alloc.realloc(sim->alloc.ctx, p->q.data, need);
    if (d == NULL) {
        return AIOTP_ENOMEM;
    }
    p->q.data = d;
    p->q.alloc = need;
    return 0;
}

static ssize_t pipe_writev(aiotp_sim *sim, sim_pipe *p, const struct iovec *iov, size_t n)
{
    size_t want = 0;
    size_t take;
    size_t done = 0;
    size_t i;
    int rc;

    if (p->refs[0] == 0) {
        return -EPIPE; /* never a signal */
    }
    for (i = 0; i < n; i++) {
        want += iov[i].iov_len;
    }
    if (want == 0) {
        return 0;
    }
    if (p->q.len >= p->q.cap) {
        return -EAGAIN;
    }
    take = p->q.cap - p->q.len;
    if (take > want) {
        take = want;
    }
    rc = room(sim, p, take);
    if (rc != 0) {
        return rc;
    }
    for (i = 0; i < n && done < take; i++) {
        size_t a = iov[i].iov_len < take - done ? iov[i].iov_len : take - done;
        memcpy(p->q.data + p->q.head + p->q.len, iov[i].iov_base, a);
        p->q.len += a;
        done += a;
    }
    sim->stats.bytes_moved += done;
    return (ssize_t)done;
}

ssize_t aiotp__sim_pipe_writev(aiotp_sim *sim, sim_pipe *p, const struct iovec *iov, size_t n)
{
    return pipe_writev(sim, p, iov, n);
}

/* ---- the endpoints ------------------------------------------------------------------- */

static sim_pipe *pipe_new(aiotp_sim *sim)
{
    sim_pipe *p = aiotp__sim_alloc(sim, sizeof(*p));
    if (p != NULL) {
        memset(p, 0, sizeof(*p));
        p->q.cap = SIM_PIPE_CAPACITY;
    }
    return p;
}

/* A new fd of kind `kind` (the slot is taken). */
static int fd_new(aiotp_sim *sim, int kind)
{
    int fd = aiotp__sim_fd_alloc(sim);
    if (fd < 0) {
        return fd;
    }
    memset(&sim->ep[fd], 0, sizeof(sim->ep[fd]));
    sim->ep[fd].kind = kind;
    sim->ep[fd].family = AF_UNSPEC;
    sim->nopen++;
    return fd;
}

int aiotp__sim_pipe_entry(void *ctx, int fds[2])
{
    aiotp_sim *sim = ctx;
    sim_pipe *p;
    int r;
    int w;
    if (fds == NULL) {
        return -EFAULT;
    }
    p = pipe_new(sim);
    if (p == NULL) {
        return AIOTP_ENOMEM;
    }
    r = fd_new(sim, EP_PIPE);
    if (r < 0) {
        aiotp__sim_free(sim, p);
        return r;
    }
    sim->ep[r].pipe = p;
    sim->ep[r].side = 0;
    p->refs[0] = 1;
    w = fd_new(sim, EP_PIPE);
    if (w < 0) {
        (void)aiotp__sim_close(sim, r); /* frees p */
        return w;
    }
    sim->ep[w].pipe = p;
    sim->ep[w].side = 1;
    p->refs[1] = 1;
    fds[0] = r;
    fds[1] = w;
    return 0;
}

int aiotp_sim_pipe(aiotp_sim *sim, int *r, int *w)
{
    int fds[2];
    int rc;
    if (sim == NULL || r == NULL || w == NULL) {
        return AIOTP_EINVAL;
    }
    rc = aiotp__sim_pipe_entry(sim, fds);
    if (rc == 0) {
        *r = fds[0];
        *w = fds[1];
    }
    return rc;
}

int aiotp_sim_open_file(aiotp_sim *sim, int type)
{
    int fd;
    if (sim == NULL || (type != AIOTP_FD_CHAR && type != AIOTP_FD_REGULAR)) {
        return AIOTP_EINVAL;
    }
    fd = fd_new(sim, EP_FILE);
    if (fd >= 0) {
        sim->ep[fd].ftype = type;
    }
    return fd;
}

int aiotp__sim_fd_type(void *ctx, int fd)
{
    const sim_ep *e = aiotp__sim_ep_open(ctx, fd);
    if (e == NULL) {
        return -EBADF;
    }
    switch (e->kind) {
    case EP_PIPE:
        return AIOTP_FD_FIFO;
    case EP_FILE:
        return e->ftype;
    case EP_PIDFD:
        return AIOTP_FD_OTHER; /* an anonymous inode */
    default:
        return AIOTP_FD_SOCKET;
    }
}

short aiotp__sim_file_revents(const aiotp_sim *sim, const sim_ep *e)
{
    const sim_pipe *p = e->pipe;
    short re = 0;
    if (e->kind == EP_FILE) {
        return POLLIN | POLLOUT;
    }
    if (e->kind == EP_PIDFD) {
        const sim_child *c = aiotp__sim_child(sim, e->pid);
        return c == NULL || c->state != CH_RUNNING ? POLLIN : 0;
    }
    if (e->side == 0) {
        if (p->q.len > 0) {
            re |= POLLIN;
        }
        if (p->refs[1] == 0) {
            re |= POLLHUP;
        }
    } else {
        if (p->refs[0] == 0) {
            re |= POLLERR;
        } else if (p->q.len < p->q.cap) {
            re |= POLLOUT;
        }
    }
    return re;
}

ssize_t aiotp__sim_file_read(aiotp_sim *sim, sim_ep *e, void *buf, size_t len)
{
    int err;
    (void)sim;
    if (e->kind == EP_FILE) {
        return 0;
    }
    if (e->kind != EP_PIPE || e->side != 0) {
        return e->kind == EP_PIDFD ? -EINVAL : -EBADF;
    }
    if (e->eintr_recv) {
        e->eintr_recv = false;
        return -EINTR;
    }
    if (e->fail[FAIL_RECV].k > 0) {
        err = e->fail[FAIL_RECV].err;
        e->fail[FAIL_RECV].k--;
        return err;
    }
    return aiotp__sim_pipe_read(e->pipe, buf, len);
}

ssize_t aiotp__sim_file_writev(aiotp_sim *sim, sim_ep *e, const struct iovec *iov, size_t n)
{
    int err;
    size_t i;
    size_t want = 0;
    if (e->kind == EP_FILE) {
        for (i = 0; i < n; i++) {
            want += iov[i].iov_len;
        }
        return (ssize_t)want;
    }
    if (e->kind != EP_PIPE || e->side != 1) {
        return e->kind == EP_PIDFD ? -EINVAL : -EBADF;
    }
    if (e->eintr_send) {
        e->eintr_send = false;
        return -EINTR;
    }
    if (e->fail[FAIL_SEND].k > 0) {
        err = e->fail[FAIL_SEND].err;
        e->fail[FAIL_SEND].k--;
        return err;
    }
    if (e->eagain > 0) {
        e->eagain--;
        return -EAGAIN;
    }
    if (e->send_limit > 0) {
        struct iovec one;
        size_t lim = e->send_limit;
        ssize_t rc;
        for (i = 0; i < n; i++) {
            want += iov[i].iov_len;
        }
        if (want > lim && n > 0) {
            /* the first buffer's prefix (enough for a limit on one write) */
            one.iov_base = iov[0].iov_base;
            one.iov_len = iov[0].iov_len < lim ? iov[0].iov_len : lim;
            rc = pipe_writev(sim, e->pipe, &one, 1);
            if (rc > 0) {
                e->send_limit = 0;
            }
            return rc;
        }
    }
    return pipe_writev(sim, e->pipe, iov, n);
}

void aiotp__sim_file_close(aiotp_sim *sim, sim_ep *e)
{
    if (e->kind == EP_PIPE) {
        aiotp__sim_pipe_unref(sim, e->pipe, e->side);
        e->pipe = NULL;
    }
}
