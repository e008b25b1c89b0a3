/* tests/subproc_helpers.c - see subproc_helpers.h. */
#include <string.h>

#include "subproc_helpers.h"

static void mark(th_sp *r, char c)
{
    if (r->norder + 1 < sizeof(r->order)) {
        r->order[r->norder++] = c;
        r->order[r->norder] = '\0';
    }
}

static int sp_made(aiotp_transport *t, void *data)
{
    th_sp *r = data;
    r->t = t;
    r->made++;
    mark(r, 'M');
    if (r->on_made != NULL) {
        return r->on_made(r, t, -1);
    }
    return r->cb_ret;
}

static int sp_data(aiotp_transport *t, void *data, int fd, const void *buf, size_t len)
{
    th_sp *r = data;
    CHECK(fd == 1 || fd == 2);
    CHECK(len > 0);
    if (fd == 1 || fd == 2) {
        size_t room = sizeof(r->out[fd]) - (r->out_len[fd] < sizeof(r->out[fd])
                                                ? r->out_len[fd]
                                                : sizeof(r->out[fd]));
        size_t n = len < room ? len : room;
        memcpy(r->out[fd] + (sizeof(r->out[fd]) - room), buf, n);
        r->out_len[fd] += len;
        r->chunks[fd]++;
        mark(r, fd == 1 ? '1' : '2');
    }
    if (r->on_data != NULL) {
        return r->on_data(r, t, fd);
    }
    return r->cb_ret;
}

static int sp_pipe_lost(aiotp_transport *t, void *data, int fd, int status)
{
    th_sp *r = data;
    CHECK(fd >= 0 && fd <= 2);
    if (fd >= 0 && fd <= 2) {
        r->pipe_lost[fd]++;
        r->pipe_lost_status[fd] = status;
        mark(r, (char)('a' + fd));
    }
    if (r->on_pipe_lost != NULL) {
        return r->on_pipe_lost(r, t, fd);
    }
    return r->cb_ret;
}

static int sp_exited(aiotp_transport *t, void *data)
{
    th_sp *r = data;
    r->exited++;
    r->rc_known_at_exit = aiotp_transport_get_returncode(t, &r->rc_at_exit);
    mark(r, 'X');
    if (r->on_exited != NULL) {
        return r->on_exited(r, t, -1);
    }
    return r->cb_ret;
}

static int sp_lost(aiotp_transport *t, void *data, int status)
{
    th_sp *r = data;
    r->lost++;
    r->lost_status = status;
    mark(r, 'L');
    if (r->on_lost != NULL) {
        return r->on_lost(r, t, -1);
    }
    return r->cb_ret;
}

static int sp_pause(aiotp_transport *t, void *data)
{
    th_sp *r = data;
    (void)t;
    r->pauses++;
    return 0;
}

static int sp_resume(aiotp_transport *t, void *data)
{
    th_sp *r = data;
    (void)t;
    r->resumes++;
    return 0;
}

const aiotp_protocol th_subprocess = {
    .size = sizeof(aiotp_protocol),
    .kind = AIOTP_PROTOCOL_SUBPROCESS,
    .connection_made = sp_made,
    .connection_lost = sp_lost,
    .pause_writing = sp_pause,
    .resume_writing = sp_resume,
    .pipe_data_received = sp_data,
    .pipe_connection_lost = sp_pipe_lost,
    .process_exited = sp_exited,
};

void th_sp_init(th_sp *r)
{
    memset(r, 0, sizeof(*r));
    r->proto = &th_subprocess;
}

static int factory(void *arg, const aiotp_protocol **proto, void **data)
{
    th_sp *r = arg;
    r->factory_calls++;
    *proto = r->proto;
    *data = r;
    return r->factory_ret;
}

static void done(void *arg, int status, aiotp_transport *t)
{
    th_sp *r = arg;
    r->done++;
    r->done_status = status;
    r->done_t = t;
    if (status == 0) {
        CHECK(t != NULL);
        if (r->proto == &th_subprocess) {
            CHECK(r->made == 1); /* the completion comes after connection_made */
            CHECK(t == r->t);
        }
    } else {
        CHECK(t == NULL);
    }
}

int th_sp_exec(aiotp_loop *loop, th_sp *r, const char *const *argv,
               const aiotp_subprocess_options *o)
{
    return aiotp_loop_subprocess_exec(loop, factory, r, argv, o, done, r);
}

int th_sp_shell(aiotp_loop *loop, th_sp *r, const char *cmd, const aiotp_subprocess_options *o)
{
    return aiotp_loop_subprocess_shell(loop, factory, r, cmd, o, done, r);
}

bool th_sp_is_done(void *r)
{
    return ((th_sp *)r)->done > 0;
}

bool th_sp_is_lost(void *r)
{
    return ((th_sp *)r)->lost > 0;
}

bool th_sp_is_exited(void *r)
{
    return ((th_sp *)r)->exited > 0;
}

void th_sp_wait_done(aiotp_loop *loop, th_sp *r)
{
    th_run_until(loop, th_sp_is_done, r, 20);
    CHECK_INT(r->done, 1);
    if (r->done_t != NULL) {
        th_keep(r->done_t);
    }
}

aiotp_transport *th_sp_start(aiotp_loop *loop, th_sp *r, const char *const *argv,
                             const aiotp_subprocess_options *o)
{
    int rc = th_sp_exec(loop, r, argv, o);
    CHECK_ERR(rc, 0);
    if (rc != 0) {
        return NULL;
    }
    th_sp_wait_done(loop, r);
    CHECK_ERR(r->done_status, 0);
    return r->done_t;
}

void th_sp_wait_lost(aiotp_loop *loop, th_sp *r, int max)
{
    th_run_until(loop, th_sp_is_lost, r, max);
    CHECK_INT(r->lost, 1);
}
