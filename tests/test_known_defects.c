/* tests/test_known_defects.c - defects the sweeps found in code other branches own
   (issue 9), one case each. Every case fails today: the failure is the finding. CTest
   marks them WILL_FAIL (tests/CMakeLists.txt), so they turn red when the owner's fix
   lands; scripts/test.sh runs this binary under valgrind too and accepts its test
   failures there, never a memcheck error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aiotp/oracle.h"
#include "harness.h"

typedef struct conn_done {
    int calls;
    int status;
    aiotp_transport *t;
} conn_done;

static void on_conn(void *arg, int status, aiotp_transport *t)
{
    conn_done *d = arg;
    d->calls++;
    d->status = status;
    d->t = t;
}

static int cli_factory(void *arg, const aiotp_protocol **proto, void **data)
{
    *proto = &th_streaming;
    *data = arg;
    return 0;
}

static th_counter fs_mem = {-1, 0};
static const aiotp_allocator fs_alloc = TH_COUNTING_ALLOCATOR(&fs_mem);

/* The oracle (src/oracle.c) wants connection_lost(ECLOSED) here, but the transport had
   already failed inside write() with the kernel's ENOMEM: the first error is the one
   connection_lost reports (STREAM-ERR-2; CPython's _force_close ignores the second). */
static int write_fails_then_fail(th_rec *r, aiotp_transport *t)
{
    int rc;
    (void)r;
    th_f.send_errno = ENOMEM;
    rc = aiotp_transport_write(t, "echo", 4);
    th_f.send_errno = 0;
    CHECK_ERR(rc, AIOTP_ECLOSED);
    return rc; /* the callback fails with what write() said */
}

TEST(oracle_lost_after_failed_write)
{
    aiotp_loop *loop = th_loop();
    th_rec *r = th_rec_new();
    int sv[2];

    aiotp_loop_set_exception_handler(loop, th_exc_record, NULL);
    th_socketpair(sv);
    (void)th_wrap(loop, sv[0], &th_streaming, r);
    r->on_data = write_fails_then_fail;
    CHECK_INT(write(sv[1], "ping", 4), 4);
    th_run_until(loop, th_is_lost, r, 5);
    CHECK_ERR(r->lost_status, -ENOMEM);
    close(sv[1]);
    /* the harness's oracle rejects this trace (PROTO-STREAM-4): the defect */
}

/* A backend wait that fails: the loop returns the error, but the pass has counted (its
   "iter" line is traced) without running the callbacks queued for it, so they run one
   pass late (src/loop.c, iterate()): the oracle sees connection_made a pass late. */
static aiotp_oracle *bw_oracle;
static size_t bw_lines;
static void *bw_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}
static void bw_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    (void)n;
    free(p);
}
static void bw_trace(void *arg, const char *line)
{
    (void)arg;
    (void)aiotp_oracle_feed_line(bw_oracle, line, ++bw_lines);
}

TEST(loop_backend_error_pass)
{
    aiotp_loop_options lo;
    aiotp_loop *loop = NULL;
    aiotp_oracle_alloc oa = {bw_alloc, bw_free, NULL};
    conn_done d;
    th_rec *r = th_rec_new();
    int sv[2];
    int i;

    memset(&lo, 0, sizeof(lo));
    lo.size = sizeof(lo);
    lo.backend = th_failing_backend();
    lo.allocator = &fs_alloc;
    CHECK_ERR(aiotp_oracle_new(NULL, &oa, &bw_oracle), 0);
    if (bw_oracle != NULL) { /* the library's own traces: the strictest profile */
        CHECK_ERR(aiotp_oracle_set_profile(bw_oracle, AIOTP_ORACLE_PROFILE_AIOTP), 0);
    }
    CHECK_ERR(aiotp_loop_create(&loop, &lo), 0);
    if (loop == NULL || bw_oracle == NULL) {
        return;
    }
    aiotp_loop_set_trace(loop, bw_trace, NULL);
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(&d, 0, sizeof(d));
    CHECK_ERR(aiotp_loop_connect_accepted_socket(loop, cli_factory, r, sv[0], on_conn, &d), 0);
    CHECK_ERR(aiotp_loop_run_once(loop), 0);      /* the wrap: the transport is made */
    th_bf.fail_waits = 1;
    CHECK_ERR(aiotp_loop_run_once(loop), -EBADF); /* the backend fails this pass */
    for (i = 0; i < 5 && d.calls == 0; i++) {
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
    }
    CHECK_INT(r->made, 1);
    if (d.t != NULL) {
        CHECK_ERR(aiotp_transport_close(d.t), 0);
    }
    for (i = 0; i < 5 && r->lost == 0; i++) {
        CHECK_ERR(aiotp_loop_run_once(loop), 0);
    }
    aiotp_loop_free(loop);
    close(sv[1]);
    (void)aiotp_oracle_finish(bw_oracle);
    if (aiotp_oracle_first(bw_oracle) != NULL) {
        th_fail(__FILE__, __LINE__, "the oracle rejects the trace: %s: %s",
                aiotp_oracle_first(bw_oracle)->rule, aiotp_oracle_first(bw_oracle)->detail);
    }
    aiotp_oracle_free(bw_oracle);
    bw_oracle = NULL;
}

static const th_case cases[] = {
    T(oracle_lost_after_failed_write, "STREAM-ERR-2 PROTO-STREAM-4"),
    T(loop_backend_error_pass, "PROTO-BASE-1 LOOP-6"),
};

TH_MAIN(cases)
