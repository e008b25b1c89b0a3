/*
 * tests/test_oracle.c - the conformance oracle (include/aiotp/oracle.h, spec/oracle.md):
 * conforming traces pass, and each rule the oracle checks is reported with its ID and
 * the line that broke it. The hand-written traces of tests/traces/ are checked through
 * the command line by the oracle.cli_* tests (tools/CMakeLists.txt).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/oracle.h"
#include "harness.h"

/* ---- helpers ------------------------------------------------------------------------ */

static size_t live;
static bool fail_alloc;

static void *t_alloc(void *ctx, size_t size)
{
    (void)ctx;
    if (fail_alloc) {
        return NULL;
    }
    live++;
    return malloc(size);
}

static void t_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)size;
    live--;
    free(p);
}

static const aiotp_oracle_alloc ALLOC = {t_alloc, t_free, NULL};

/* The profile run_trace() checks with (the strictest unless a case says otherwise). */
static int g_profile = AIOTP_ORACLE_PROFILE_AIOTP;

typedef struct outcome {
    int rc;        /* first non-OK result, 0 if none */
    size_t line;   /* its line (finish: the last line) */
    const char *rule;
    char detail[256];
} outcome;

/* Feed a trace given as one string (lines separated by '\n'), then finish. The oracle
   state is validated after every line. */
static outcome run_trace(const char *text, unsigned flags, size_t max_t)
{
    aiotp_oracle_config cfg;
    aiotp_oracle *o = NULL;
    outcome out;
    const char *p = text;
    size_t lineno = 0;
    int rc;

    memset(&out, 0, sizeof(out));
    memset(&cfg, 0, sizeof(cfg));
    cfg.flags = flags;
    cfg.max_transports = max_t;
    CHECK_INT(aiotp_oracle_new(&cfg, &ALLOC, &o), 0);
    if (o == NULL) {
        out.rc = -100;
        return out;
    }
    CHECK_INT(aiotp_oracle_set_profile(o, g_profile), 0);
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        lineno++;
        rc = aiotp_oracle_feed(o, p, len, lineno);
        CHECK(aiotp_oracle_is_valid(o));
        if (rc != 0 && out.rc == 0) {
            out.rc = rc;
            out.line = lineno;
        }
        p += len;
        if (*p == '\n') {
            p++;
        }
    }
    rc = aiotp_oracle_finish(o);
    CHECK(aiotp_oracle_is_valid(o));
    if (rc != 0 && out.rc == 0) {
        out.rc = rc;
    }
    if (aiotp_oracle_first(o) != NULL) {
        const aiotp_oracle_report *r = aiotp_oracle_first(o);
        out.rule = r->rule;
        out.line = r->lineno;
        memcpy(out.detail, r->detail, sizeof(out.detail));
        CHECK(r->nrecent <= AIOTP_ORACLE_RECENT);
        if (r->result == AIOTP_ORACLE_VIOLATION) {
            CHECK(r->rule_text != NULL && r->rule_text[0] != '\0');
            CHECK(r->nrecent > 0);
        }
    }
    aiotp_oracle_free(o);
    CHECK_SIZE(live, 0);
    return out;
}

static void expect_ok(const char *text, unsigned flags)
{
    outcome r = run_trace(text, flags, 0);
    if (r.rc != 0) {
        th_fail(__FILE__, __LINE__, "expected conformance, got %d at line %zu: %s: %s", r.rc,
                r.line, r.rule ? r.rule : "-", r.detail);
    }
}

#define EXPECT_VIOLATION(text, flags, rule_id, lineno)                                    \
    do {                                                                                  \
        outcome r_ = run_trace(text, flags, 0);                                           \
        CHECK_INT(r_.rc, AIOTP_ORACLE_VIOLATION);                                         \
        CHECK_STR(r_.rule, rule_id);                                                      \
        CHECK_SIZE(r_.line, lineno);                                                      \
    } while (0)

#define EXPECT_PARSE(text, lineno)                                                        \
    do {                                                                                  \
        outcome r_ = run_trace(text, 0, 0);                                               \
        CHECK_INT(r_.rc, AIOTP_ORACLE_EPARSE);                                            \
        CHECK_SIZE(r_.line, lineno);                                                      \
        CHECK(r_.rule == NULL);                                                           \
    } while (0)

/* lines 1-7: a connected transport in pass 2 */
#define MADE                                                                              \
    "aiotp-trace 1\n"                                                                     \
    "iter 1\n"                                                                            \
    "t1 open tcp\n"                                                                       \
    "t1 limits low=16384 high=65536\n"                                                    \
    "iter 2\n"                                                                            \
    "t1 cb connection_made\n"                                                             \
    "t1 ret connection_made 0\n"

/* lines 8-11: pause inside a write of 70000 bytes, in pass 3 */
#define PAUSED                                                                            \
    "iter 3\n"                                                                            \
    "t1 call write n=70000\n"                                                             \
    "t1 cb pause_writing size=70000 high=65536\n"                                         \
    "t1 ret pause_writing 0\n"                                                            \
    "t1 ret write 0 size=70000 total=70000 sum=01234567\n"

/* lines 1-12 (format 2): t1 and t2 are the two ends of one connection */
#define PAIRED                                                                            \
    "aiotp-trace 2\n"                                                                     \
    "iter 1\n"                                                                            \
    "t1 open tcp\n"                                                                       \
    "t1 limits low=16384 high=65536\n"                                                    \
    "t2 open tcp\n"                                                                       \
    "t2 limits low=16384 high=65536\n"                                                    \
    "t2 peer t1\n"                                                                        \
    "iter 2\n"                                                                            \
    "t1 cb connection_made\n"                                                             \
    "t1 ret connection_made 0\n"                                                          \
    "t2 cb connection_made\n"                                                             \
    "t2 ret connection_made 0\n"

/* lines 13-17: t1 writes 5 + 7 bytes */
#define T1_WRITES                                                                         \
    "iter 3\n"                                                                            \
    "t1 call write n=5\n"                                                                 \
    "t1 ret write 0 size=0 total=5 sum=0000aaaa\n"                                        \
    "t1 call write n=7\n"                                                                 \
    "t1 ret write 0 size=0 total=12 sum=0000bbbb\n"

/* ---- conforming traces ---------------------------------------------------------------- */

TEST(streaming_sequence_conforms)
{
    expect_ok(MADE "iter 3\n"
                   "t1 cb data_received n=12 total=12 sum=b1ea4872\n"
                   "t1 call write n=12\n"
                   "t1 ret write 0 size=0 total=12 sum=b1ea4872\n"
                   "t1 ret data_received 0\n"
                   "iter 4\n"
                   "t1 cb eof_received\n"
                   "t1 ret eof_received 1\n"
                   "t1 call close\n"
                   "t1 ret close 0 size=0\n"
                   "iter 5\n"
                   "t1 cb connection_lost status=0\n"
                   "t1 ret connection_lost 0\n"
                   "t1 call write n=3\n"
                   "t1 ret write ECLOSED size=0 total=12 sum=b1ea4872\n"
                   "t1 call abort\n"
                   "t1 ret abort ECLOSED size=0\n",
              AIOTP_ORACLE_REQUIRE_LOST);
}

TEST(buffered_sequence_conforms)
{
    expect_ok(MADE "iter 3\n"
                   "t1 cb get_buffer sizehint=-1\n"
                   "t1 ret get_buffer 0 len=8\n"
                   "t1 cb buffer_updated n=8 total=8 sum=01234567\n"
                   "t1 ret buffer_updated 0\n"
                   "iter 4\n"
                   "t1 cb get_buffer sizehint=-1\n"
                   "t1 ret get_buffer 0 len=8\n"
                   "t1 cb eof_received\n"
                   "t1 ret eof_received 0\n"
                   "iter 5\n"
                   "t1 cb connection_lost status=0\n"
                   "t1 ret connection_lost 0\n",
              AIOTP_ORACLE_REQUIRE_LOST);
}

TEST(flow_sequence_conforms)
{
    expect_ok(MADE PAUSED "iter 4\n"
                          "t1 cb resume_writing size=16000 low=16384\n"
                          "t1 call set_write_buffer_limits high=100 low=NONE\n"
                          "t1 cb pause_writing size=16000 high=100\n"
                          "t1 ret pause_writing 0\n"
                          "t1 ret set_write_buffer_limits 0 size=16000 low=25 high=100\n"
                          "t1 ret resume_writing 0\n"
                          "iter 5\n"
                          "t1 cb resume_writing size=0 low=25\n"
                          "t1 ret resume_writing 0\n",
              0);
}

TEST(nested_writes_either_order)
{
    /* aiotp counts the outer write before pause_writing runs ... */
    expect_ok(MADE "iter 3\n"
                   "t1 call write n=70000\n"
                   "t1 cb pause_writing size=70000 high=65536\n"
                   "t1 call write n=5\n"
                   "t1 ret write 0 size=70005 total=70005 sum=01234567\n"
                   "t1 ret pause_writing 0\n"
                   "t1 ret write 0 size=70005 total=70005 sum=01234567\n",
              0);
    /* ... a recorder may count it when it returns */
    expect_ok(MADE "iter 3\n"
                   "t1 call write n=70000\n"
                   "t1 cb pause_writing size=70000 high=65536\n"
                   "t1 call write n=5\n"
                   "t1 ret write 0 size=70005 total=5 sum=01234567\n"
                   "t1 ret pause_writing 0\n"
                   "t1 ret write 0 size=70005 total=70005 sum=07654321\n",
              0);
}

/* WRITE-WRITE-5 is judged at the call: abort() inside the pause_writing that a write()
   triggered comes after the write was accepted, so that write returns 0; a write made
   after the abort (inside the same pause_writing) must not be accepted. */
TEST(write_admitted_at_call)
{
    expect_ok(MADE "iter 3\n"
                   "t1 call write n=70000\n"
                   "t1 cb pause_writing size=70000 high=65536\n"
                   "t1 call abort\n"
                   "t1 ret abort 0 size=0\n"
                   "t1 ret pause_writing 0\n"
                   "t1 ret write 0 size=0 total=70000 sum=01234567\n"
                   "iter 4\n"
                   "t1 cb connection_lost status=0\n"
                   "t1 ret connection_lost 0\n",
              AIOTP_ORACLE_REQUIRE_LOST);
    /* the same with a nested write after the abort, refused */
    expect_ok(MADE "iter 3\n"
                   "t1 call writelines count=2 n=70000\n"
                   "t1 cb pause_writing size=70000 high=65536\n"
                   "t1 call abort\n"
                   "t1 ret abort 0 size=0\n"
                   "t1 call write n=5\n"
                   "t1 ret write ECLOSED size=0 total=70000 sum=01234567\n"
                   "t1 ret pause_writing 0\n"
                   "t1 ret writelines 0 size=0 total=70000 sum=01234567\n",
              0);
    EXPECT_VIOLATION(MADE "iter 3\n"
                          "t1 call write n=70000\n"
                          "t1 cb pause_writing size=70000 high=65536\n"
                          "t1 call abort\n"
                          "t1 ret abort 0 size=0\n"
                          "t1 call write n=5\n"
                          "t1 ret write 0 size=0 total=70005 sum=01234567\n",
                     0, "WRITE-WRITE-5", 14);
    /* write_eof() inside the pause: the outer write was accepted before it */
    expect_ok(MADE "iter 3\n"
                   "t1 call write n=70000\n"
                   "t1 cb pause_writing size=70000 high=65536\n"
                   "t1 call write_eof\n"
                   "t1 ret write_eof 0 size=70000\n"
                   "t1 ret pause_writing 0\n"
                   "t1 ret write 0 size=70000 total=70000 sum=01234567\n",
              0);
}

/* FLOW-2/FLOW-3 with a setter nested in the pause_writing that an outer setter triggered:
   the last successful set wins, at the inner and at the outer ret; a refused nested call
   leaves the outer call's limits. */
TEST(nested_limits)
{
#define BUF500 "iter 3\nt1 call write n=500\nt1 ret write 0 size=500 total=500 sum=01234567\n"
    expect_ok(MADE BUF500 "t1 call set_write_buffer_limits high=100 low=NONE\n"
                          "t1 cb pause_writing size=500 high=100\n"
                          "t1 call set_write_buffer_limits high=1000 low=NONE\n"
                          "t1 ret set_write_buffer_limits 0 size=500 low=250 high=1000\n"
                          "t1 ret pause_writing 0\n"
                          "t1 ret set_write_buffer_limits 0 size=500 low=250 high=1000\n"
                          "iter 4\n"
                          "t1 cb resume_writing size=200 low=250\n"
                          "t1 ret resume_writing 0\n",
              0);
    /* nested lowering: still paused, the inner limits hold */
    expect_ok(MADE BUF500 "t1 call set_write_buffer_limits high=400 low=NONE\n"
                          "t1 cb pause_writing size=500 high=400\n"
                          "t1 call set_write_buffer_limits high=8 low=2\n"
                          "t1 ret set_write_buffer_limits 0 size=500 low=2 high=8\n"
                          "t1 ret pause_writing 0\n"
                          "t1 ret set_write_buffer_limits 0 size=500 low=2 high=8\n"
                          "iter 4\n"
                          "t1 cb resume_writing size=0 low=2\n"
                          "t1 ret resume_writing 0\n",
              0);
    /* refused nested call: the outer call's limits stay in force */
    expect_ok(MADE BUF500 "t1 call set_write_buffer_limits high=100 low=NONE\n"
                          "t1 cb pause_writing size=500 high=100\n"
                          "t1 call set_write_buffer_limits high=5 low=6\n"
                          "t1 ret set_write_buffer_limits EINVAL size=500 low=25 high=100\n"
                          "t1 ret pause_writing 0\n"
                          "t1 ret set_write_buffer_limits 0 size=500 low=25 high=100\n"
                          "iter 4\n"
                          "t1 cb resume_writing size=20 low=25\n"
                          "t1 ret resume_writing 0\n",
              0);
    /* the outer ret showing its own limits after a successful nested set */
    EXPECT_VIOLATION(MADE BUF500 "t1 call set_write_buffer_limits high=100 low=NONE\n"
                                 "t1 cb pause_writing size=500 high=100\n"
                                 "t1 call set_write_buffer_limits high=1000 low=NONE\n"
                                 "t1 ret set_write_buffer_limits 0 size=500 low=250 high=1000\n"
                                 "t1 ret pause_writing 0\n"
                                 "t1 ret set_write_buffer_limits 0 size=500 low=25 high=100\n",
                     0, "FLOW-2", 16);
    /* the inner ret not showing its own limits */
    EXPECT_VIOLATION(MADE BUF500 "t1 call set_write_buffer_limits high=100 low=NONE\n"
                                 "t1 cb pause_writing size=500 high=100\n"
                                 "t1 call set_write_buffer_limits high=1000 low=NONE\n"
                                 "t1 ret set_write_buffer_limits 0 size=500 low=25 high=100\n",
                     0, "FLOW-2", 14);
    /* a refused nested call reporting the limits from before the outer call */
    EXPECT_VIOLATION(MADE BUF500 "t1 call set_write_buffer_limits high=100 low=NONE\n"
                                 "t1 cb pause_writing size=500 high=100\n"
                                 "t1 call set_write_buffer_limits high=5 low=6\n"
                                 "t1 ret set_write_buffer_limits EINVAL size=500 low=16384 "
                                 "high=65536\n",
                     0, "FLOW-3", 14);
#undef BUF500
}

TEST(fatal_statuses_carried)
{
    expect_ok(MADE "iter 3\n"
                   "t1 cb data_received n=5 total=5 sum=01234567\n"
                   "t1 ret data_received ECALLBACK\n"
                   "iter 4\n"
                   "t1 cb connection_lost status=ECALLBACK\n"
                   "t1 ret connection_lost 0\n",
              0);
}

TEST(new_loop_after_header)
{
    expect_ok(MADE "iter 3\n"
                   "aiotp-trace 1\n"
                   "iter 1\n"
                   "t1 open unix\n"
                   "t1 limits low=16384 high=65536\n"
                   "iter 2\n"
                   "t1 cb connection_made\n"
                   "t1 ret connection_made 0\n",
              0);
}

/* ---- one violation per rule --------------------------------------------------------- */

TEST(stream_state_machine)
{
    EXPECT_VIOLATION("aiotp-trace 1\niter 1\nt1 open tcp\nt1 limits low=16384 high=65536\n"
                     "iter 2\nt1 cb data_received n=1 total=1 sum=01234567\n",
                     0, "PROTO-STREAM-2", 6);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb eof_received\nt1 ret eof_received 1\n"
                          "t1 cb data_received n=1 total=1 sum=01234567\n",
                     0, "PROTO-STREAM-2", 11);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb eof_received\nt1 ret eof_received 1\n"
                          "t1 cb eof_received\n",
                     0, "PROTO-STREAM-5", 11);
}

TEST(no_data_after_close)
{
    EXPECT_VIOLATION(MADE "iter 3\nt1 call close\nt1 ret close 0 size=4\n"
                          "t1 cb data_received n=1 total=1 sum=01234567\n",
                     0, "PROTO-STREAM-3", 11);
    EXPECT_VIOLATION(MADE "iter 3\nt1 call abort\nt1 ret abort 0 size=0\n"
                          "t1 cb eof_received\n",
                     0, "PROTO-STREAM-3", 11);
}

TEST(lost_once_and_last)
{
    EXPECT_VIOLATION(MADE "iter 3\nt1 call abort\nt1 ret abort 0 size=0\niter 4\n"
                          "t1 cb connection_lost status=0\nt1 ret connection_lost 0\n"
                          "t1 cb connection_lost status=0\n",
                     0, "PROTO-BASE-2", 14);
    EXPECT_VIOLATION(MADE "iter 3\nt1 call close\nt1 ret close 0 size=0\niter 4\n"
                          "t1 cb connection_lost status=EPIPE\n",
                     0, "PROTO-BASE-2", 12);
    EXPECT_VIOLATION(MADE, AIOTP_ORACLE_REQUIRE_LOST, "PROTO-BASE-2", 7);
}

TEST(made_first_and_next_pass)
{
    EXPECT_VIOLATION(MADE "t1 cb connection_made\n", 0, "PROTO-BASE-1", 8);
    EXPECT_VIOLATION("aiotp-trace 1\niter 1\nt1 open tcp\nt1 limits low=16384 high=65536\n"
                     "iter 2\niter 3\n",
                     0, "PROTO-BASE-6", 6);
}

TEST(data_non_empty_and_totals)
{
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb data_received n=0 total=0 sum=811c9dc5\n", 0,
                     "PROTO-STREAM-1", 9);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb data_received n=4 total=4 sum=01234567\n"
                          "t1 ret data_received 0\n"
                          "t1 cb data_received n=4 total=9 sum=01234567\n",
                     0, "PROTO-STREAM-1", 11);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb data_received n=262145 total=262145 sum=01234567\n",
                     0, "READ-1", 9);
}

TEST(failing_callback_status)
{
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb data_received n=1 total=1 sum=01234567\n"
                          "t1 ret data_received ECALLBACK\niter 4\n"
                          "t1 cb connection_lost status=0\n",
                     0, "PROTO-STREAM-4", 12);
}

TEST(buffered_state_machine)
{
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb buffer_updated n=1 total=1 sum=01234567\n", 0,
                     "PROTO-BUF-3", 9);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb get_buffer sizehint=-1\n"
                          "t1 ret get_buffer 0 len=4\n"
                          "t1 cb buffer_updated n=5 total=5 sum=01234567\n",
                     0, "PROTO-BUF-3", 11);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb get_buffer sizehint=-1\n"
                          "t1 ret get_buffer 0 len=4\n"
                          "t1 call write n=1\n"
                          "t1 ret write 0 size=0 total=1 sum=01234567\n"
                          "t1 cb buffer_updated n=1 total=1 sum=01234567\n",
                     0, "PROTO-BUF-3", 13);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb get_buffer sizehint=100\n", 0, "PROTO-BUF-1", 9);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb get_buffer sizehint=-1\n"
                          "t1 ret get_buffer 0 len=4\n"
                          "t1 ret buffer_updated 0\n"
                          "iter 4\nt1 cb eof_received\n",
                     0, "TRACE-1", 11);
}

TEST(empty_buffer_is_fatal)
{
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb get_buffer sizehint=-1\n"
                          "t1 ret get_buffer 0 len=0\niter 4\n"
                          "t1 cb connection_lost status=0\n",
                     0, "PROTO-BUF-2", 12);
    expect_ok(MADE "iter 3\nt1 cb get_buffer sizehint=-1\n"
                   "t1 ret get_buffer EEMPTYBUF\niter 4\n"
                   "t1 cb connection_lost status=EEMPTYBUF\nt1 ret connection_lost 0\n",
              AIOTP_ORACLE_REQUIRE_LOST);
}

TEST(protocol_switch)
{
    EXPECT_VIOLATION(MADE "iter 3\nt1 call set_protocol kind=buffered\n"
                          "t1 ret set_protocol 0 size=0\n"
                          "iter 4\nt1 cb data_received n=1 total=1 sum=01234567\n",
                     0, "BASE-PROTO-1", 12);
    EXPECT_VIOLATION(MADE "iter 3\nt1 call abort\nt1 ret abort 0 size=0\niter 4\n"
                          "t1 cb connection_lost status=0\nt1 ret connection_lost 0\n"
                          "t1 call set_protocol kind=buffered\n"
                          "t1 ret set_protocol 0 size=0\n",
                     0, "BASE-PROTO-2", 15);
}

TEST(pause_rules)
{
    EXPECT_VIOLATION(MADE "iter 3\nt1 call write n=65536\n"
                          "t1 cb pause_writing size=65536 high=65536\n",
                     0, "FLOW-4", 10);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb pause_writing size=70000 high=65536\n", 0,
                     "FLOW-4", 9);
    EXPECT_VIOLATION(MADE "iter 3\nt1 call write n=70000\n"
                          "t1 ret write 0 size=70000 total=70000 sum=01234567\n",
                     0, "FLOW-4", 10);
    EXPECT_VIOLATION(MADE PAUSED "t1 call write n=1\n"
                                 "t1 cb pause_writing size=70001 high=65536\n",
                     0, "FLOW-6", 14);
}

TEST(resume_rules)
{
    EXPECT_VIOLATION(MADE PAUSED "iter 4\nt1 cb resume_writing size=16385 low=16384\n", 0,
                     "FLOW-5", 14);
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb resume_writing size=0 low=16384\n", 0, "FLOW-6", 9);
    EXPECT_VIOLATION(MADE PAUSED "t1 call close\nt1 cb resume_writing size=0 low=16384\n", 0,
                     "FLOW-5", 14);
    EXPECT_VIOLATION(MADE PAUSED "t1 call set_write_buffer_limits high=200000 low=NONE\n"
                                 "t1 cb resume_writing size=70000 low=50000\n",
                     0, "FLOW-7", 14);
    EXPECT_VIOLATION(MADE PAUSED "t1 call abort\nt1 ret abort 0 size=0\n"
                                 "t1 cb resume_writing size=0 low=16384\n",
                     0, "WRITE-ABORT-2", 15);
}

TEST(limits_rules)
{
    EXPECT_VIOLATION(MADE "t1 call set_write_buffer_limits high=10 low=20\n"
                          "t1 ret set_write_buffer_limits EINVAL size=0 low=20 high=10\n",
                     0, "FLOW-3", 9);
    EXPECT_VIOLATION(MADE "t1 call set_write_buffer_limits high=10 low=20\n"
                          "t1 ret set_write_buffer_limits EINVAL size=0 low=0 high=0\n",
                     0, "FLOW-3", 9);
    EXPECT_VIOLATION(MADE "t1 call set_write_buffer_limits high=100 low=20\n"
                          "t1 ret set_write_buffer_limits EINVAL size=0 low=16384 high=65536\n",
                     0, "FLOW-3", 9);
    EXPECT_VIOLATION(MADE "t1 call set_write_buffer_limits high=NONE low=10\n"
                          "t1 ret set_write_buffer_limits 0 size=0 low=10 high=30\n",
                     0, "FLOW-2", 9);
    EXPECT_VIOLATION("aiotp-trace 1\nt1 open tcp\nt1 limits low=1 high=2\n", 0, "FLOW-1", 3);
    EXPECT_VIOLATION(MADE "t1 call write n=500\nt1 ret write 0 size=500 total=500 sum=01234567\n"
                          "t1 call set_write_buffer_limits high=100 low=NONE\n"
                          "t1 ret set_write_buffer_limits 0 size=500 low=25 high=100\n",
                     0, "FLOW-7", 11);
}

TEST(close_abort_rules)
{
    EXPECT_VIOLATION(MADE "t1 call close\nt1 ret close 0 size=5\n"
                          "t1 call close\nt1 ret close 0 size=5\n",
                     0, "BASE-CLOSE-4", 11);
    EXPECT_VIOLATION(MADE "t1 call close\nt1 ret close 0 size=0\niter 3\niter 4\n", 0,
                     "BASE-CLOSE-3", 11);
    EXPECT_VIOLATION(MADE "t1 call abort\nt1 ret abort 0 size=0\n"
                          "t1 call abort\nt1 ret abort 0 size=0\n",
                     0, "WRITE-ABORT-3", 11);
    EXPECT_VIOLATION(MADE "t1 call abort\nt1 ret abort 0 size=7\n", 0, "WRITE-ABORT-1", 9);
    EXPECT_VIOLATION(MADE "t1 call abort\nt1 ret abort 0 size=0\n"
                          "t1 cb connection_lost status=0\n",
                     0, "WRITE-ABORT-4", 10);
}

TEST(write_rules)
{
    EXPECT_VIOLATION(MADE "t1 call write n=5\nt1 ret write 0 size=0 total=6 sum=01234567\n",
                     0, "WRITE-WRITE-1", 9);
    EXPECT_VIOLATION(MADE "t1 call write n=0\nt1 ret write 0 size=0 total=0 sum=01234567\n",
                     0, "WRITE-WRITE-2", 9);
    EXPECT_VIOLATION(MADE "t1 call write_eof\nt1 ret write_eof 0 size=0\n"
                          "t1 call write n=5\nt1 ret write 0 size=0 total=5 sum=01234567\n",
                     0, "WRITE-WRITE-4", 11);
    EXPECT_VIOLATION(MADE "t1 call abort\nt1 ret abort 0 size=0\n"
                          "t1 call write n=5\nt1 ret write 0 size=0 total=5 sum=01234567\n",
                     0, "WRITE-WRITE-5", 11);
    EXPECT_VIOLATION(MADE "t1 call write n=5\n"
                          "t1 ret write ENOMEM size=0 total=0 sum=01234567\n",
                     0, "WRITE-WRITE-6", 9);
    EXPECT_VIOLATION(MADE "t1 call write n=5\n"
                          "t1 ret write EPIPE size=0 total=0 sum=811c9dc5\niter 3\n"
                          "t1 cb connection_lost status=0\n",
                     0, "WRITE-WRITE-7", 11);
    EXPECT_VIOLATION(MADE "t1 call close\nt1 ret close 0 size=5\n"
                          "t1 call write_eof\nt1 ret write_eof ENOTCONN size=5\n",
                     0, "WRITE-EOF-3", 11);
}

TEST(read_pause_rules)
{
    EXPECT_VIOLATION(MADE "t1 call pause_reading\nt1 ret pause_reading 0 size=0\niter 3\n"
                          "t1 cb data_received n=1 total=1 sum=01234567\n",
                     0, "READ-2", 11);
    EXPECT_VIOLATION(MADE "t1 call resume_reading\nt1 ret resume_reading EINVAL size=0\n", 0,
                     "READ-3", 9);
}

TEST(retained_calls)
{
    EXPECT_VIOLATION(MADE "t1 call abort\nt1 ret abort 0 size=0\niter 3\n"
                          "t1 cb connection_lost status=0\nt1 ret connection_lost 0\n"
                          "t1 call write_eof\nt1 ret write_eof EPIPE size=0\n",
                     0, "BAD-2", 14);
}

TEST(nesting_and_format_rules)
{
    /* TRACE-1: ret of the wrong frame, ret without a frame, end inside a call */
    EXPECT_VIOLATION(MADE "iter 3\nt1 cb data_received n=1 total=1 sum=01234567\n"
                          "t1 call write n=1\nt1 ret data_received 0\n",
                     0, "TRACE-1", 11);
    EXPECT_VIOLATION(MADE "t1 ret close 0 size=0\n", 0, "TRACE-1", 8);
    EXPECT_VIOLATION(MADE "t1 call close\n", 0, "TRACE-1", 8);
    /* TRACE-2: iterations in steps of 1 */
    EXPECT_VIOLATION(MADE "iter 4\n", 0, "TRACE-2", 8);
    /* TRACE-3: open first, once, then limits */
    EXPECT_VIOLATION(MADE "t2 call close\n", 0, "TRACE-3", 8);
    EXPECT_VIOLATION(MADE "t1 open tcp\n", 0, "TRACE-3", 8);
    EXPECT_VIOLATION("aiotp-trace 1\nt1 open tcp\nt1 cb connection_made\n", 0, "TRACE-3", 3);
    /* TRACE-4: read callbacks come from the loop */
    EXPECT_VIOLATION(MADE "t1 call write n=1\nt1 cb data_received n=1 total=1 sum=01234567\n",
                     0, "TRACE-4", 9);
}

/* ---- bad input ------------------------------------------------------------------------ */

TEST(malformed_lines)
{
    char longline[AIOTP_ORACLE_MAX_LINE + 64];
    char buf[AIOTP_ORACLE_MAX_LINE + 200];

    EXPECT_PARSE("iter 1\n", 1);
    EXPECT_PARSE("aiotp-trace 3\n", 1);
    EXPECT_PARSE("aiotp-trace 1\nt1 open tcp\nt1 limits low=16384 high=65536\nt2 open tcp\n"
                 "t2 limits low=16384 high=65536\nt2 peer t1\n", 6); /* peer lines: v2 */
    EXPECT_PARSE("aiotp-trace 1\nfoo bar\n", 2);
    EXPECT_PARSE("aiotp-trace 1\niter x\n", 2);
    EXPECT_PARSE("aiotp-trace 1\niter 99999999999999999999999\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 open tcp\nt1 limits low=1\n", 3);
    EXPECT_PARSE("aiotp-trace 1\nt1 open tcp\nt1 limits low=-1 high=5\n", 3);
    EXPECT_PARSE("aiotp-trace 1\nt1 open  tcp\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 open tcp \n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 cb write n=1\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 call data_received\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 cb data_received n=1 total=1 sum=0123456\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 cb data_received n=1 total=1 sum=0123456G\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 ret close OK size=0\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 ret close 1 size=0\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 call write n=1 n=2\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt99999999999 open tcp\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 a b c d e f g h i j k\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 open\rtcp\n", 2);
    EXPECT_PARSE("aiotp-trace 1\nt1 open tcp\r\r\n", 2);
    EXPECT_PARSE("", 0);

    memset(longline, 'x', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    snprintf(buf, sizeof(buf), "aiotp-trace 1\n# %s\n", longline);
    EXPECT_PARSE(buf, 2);
}

TEST(api_bad_arguments)
{
    aiotp_oracle *o = NULL;
    aiotp_oracle_config cfg;
    char big[AIOTP_ORACLE_MAX_LINE + 10];

    memset(&cfg, 0, sizeof(cfg));
    CHECK_INT(aiotp_oracle_new(NULL, NULL, &o), AIOTP_ORACLE_EINVAL);
    CHECK_INT(aiotp_oracle_new(NULL, &ALLOC, NULL), AIOTP_ORACLE_EINVAL);
    cfg.max_transports = AIOTP_ORACLE_MAX_TRANSPORTS + 1;
    CHECK_INT(aiotp_oracle_new(&cfg, &ALLOC, &o), AIOTP_ORACLE_EINVAL);
    fail_alloc = true;
    CHECK_INT(aiotp_oracle_new(NULL, &ALLOC, &o), AIOTP_ORACLE_ENOMEM);
    fail_alloc = false;
    CHECK(o == NULL);
    CHECK_INT(aiotp_oracle_feed_line(NULL, "x", 1), AIOTP_ORACLE_EINVAL);
    CHECK_INT(aiotp_oracle_finish(NULL), AIOTP_ORACLE_EINVAL);
    CHECK(aiotp_oracle_first(NULL) == NULL);
    CHECK(!aiotp_oracle_is_valid(NULL));
    aiotp_oracle_free(NULL);

    CHECK_INT(aiotp_oracle_new(NULL, &ALLOC, &o), 0);
    CHECK_INT(aiotp_oracle_feed_line(o, NULL, 1), AIOTP_ORACLE_EINVAL);
    CHECK_INT(aiotp_oracle_feed_line(o, "aiotp-trace 1", 1), 0);
    /* no NUL within the limit: too long, and the oracle stops */
    memset(big, 'a', sizeof(big));
    CHECK_INT(aiotp_oracle_feed_line(o, big, 2), AIOTP_ORACLE_EPARSE);
    CHECK_INT(aiotp_oracle_feed_line(o, "iter 1", 3), AIOTP_ORACLE_EPARSE);
    CHECK_INT(aiotp_oracle_finish(o), AIOTP_ORACLE_EPARSE);
    CHECK_SIZE(aiotp_oracle_first(o)->lineno, 2);
    CHECK(aiotp_oracle_is_valid(o));
    CHECK(aiotp_oracle_rule_text("FLOW-4") != NULL);
    CHECK(aiotp_oracle_rule_text("NOPE-1") == NULL);
    aiotp_oracle_free(o);
    CHECK_SIZE(live, 0);
}

TEST(transport_limit)
{
    outcome r = run_trace("aiotp-trace 1\nt1 open tcp\nt1 limits low=16384 high=65536\n"
                          "t2 open tcp\nt2 limits low=16384 high=65536\nt3 open tcp\n",
                          0, 2);
    CHECK_INT(r.rc, AIOTP_ORACLE_ELIMIT);
    CHECK_SIZE(r.line, 6);
}

TEST(nesting_limit)
{
    char buf[8192];
    size_t off = 0;
    size_t i;
    outcome r;
    off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s", MADE);
    for (i = 0; i < AIOTP_ORACLE_MAX_DEPTH + 1; i++) {
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "t1 call close\n");
    }
    r = run_trace(buf, 0, 0);
    CHECK_INT(r.rc, AIOTP_ORACLE_ELIMIT);
    CHECK_SIZE(r.line, 7 + AIOTP_ORACLE_MAX_DEPTH + 1);
}

TEST(report_keeps_recent_events)
{
    aiotp_oracle *o = NULL;
    const aiotp_oracle_report *r;
    size_t i;
    char line[64];
    CHECK_INT(aiotp_oracle_new(NULL, &ALLOC, &o), 0);
    CHECK_INT(aiotp_oracle_feed_line(o, "aiotp-trace 1", 1), 0);
    CHECK_INT(aiotp_oracle_feed_line(o, "t7 open tcp", 2), 0);
    CHECK_INT(aiotp_oracle_feed_line(o, "t7 limits low=16384 high=65536", 3), 0);
    CHECK_INT(aiotp_oracle_feed_line(o, "t7 cb connection_made", 4), 0);
    CHECK_INT(aiotp_oracle_feed_line(o, "t7 ret connection_made 0", 5), 0);
    for (i = 0; i < 10; i++) {
        snprintf(line, sizeof(line), "t7 call pause_reading");
        CHECK_INT(aiotp_oracle_feed_line(o, line, 6 + 2 * i), 0);
        CHECK_INT(aiotp_oracle_feed_line(o, "t7 ret pause_reading 0 size=0", 7 + 2 * i), 0);
    }
    CHECK_INT(aiotp_oracle_feed_line(o, "t7 cb eof_received", 26), AIOTP_ORACLE_VIOLATION);
    r = aiotp_oracle_first(o);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_STR(r->rule, "READ-2");
        CHECK_SIZE(r->lineno, 26);
        CHECK_INT(r->tid, 7);
        CHECK_SIZE(r->nrecent, AIOTP_ORACLE_RECENT);
        CHECK_SIZE(r->recent[AIOTP_ORACLE_RECENT - 1].lineno, 26);
        CHECK_STR(r->recent[AIOTP_ORACLE_RECENT - 1].text, "t7 cb eof_received");
        CHECK_SIZE(r->recent[0].lineno, 19);
    }
    /* later violations are counted, the first report is kept */
    CHECK_INT(aiotp_oracle_feed_line(o, "t7 cb eof_received", 27), AIOTP_ORACLE_VIOLATION);
    CHECK(aiotp_oracle_violations(o) >= 2);
    CHECK_SIZE(aiotp_oracle_first(o)->lineno, 26);
    CHECK(aiotp_oracle_is_valid(o));
    aiotp_oracle_free(o);
}

TEST(peer_pairs)
{
    /* all 12 bytes, in two reads, then the EOF of a clean close */
    expect_ok(PAIRED T1_WRITES "t1 call close\n"
                               "t1 ret close 0 size=0\n"
                               "iter 4\n"
                               "t1 cb connection_lost status=0\n"
                               "t1 ret connection_lost 0\n"
                               "t2 cb data_received n=5 total=5 sum=0000aaaa\n"
                               "t2 ret data_received 0\n"
                               "iter 5\n"
                               "t2 cb data_received n=7 total=12 sum=0000bbbb\n"
                               "t2 ret data_received 0\n"
                               "iter 6\n"
                               "t2 cb eof_received\n"
                               "t2 ret eof_received 0\n"
                               "iter 7\n"
                               "t2 cb connection_lost status=0\n"
                               "t2 ret connection_lost 0\n",
              AIOTP_ORACLE_REQUIRE_LOST);
    /* a read that ends inside a write: nothing to compare the sum with */
    expect_ok(PAIRED T1_WRITES "iter 4\n"
                               "t2 cb data_received n=8 total=8 sum=0000cccc\n"
                               "t2 ret data_received 0\n",
              0);
    /* after abort() the EOF may come early */
    expect_ok(PAIRED T1_WRITES "iter 4\n"
                               "t2 cb data_received n=5 total=5 sum=0000aaaa\n"
                               "t2 ret data_received 0\n"
                               "t1 call abort\n"
                               "t1 ret abort 0 size=0\n"
                               "iter 5\n"
                               "t1 cb connection_lost status=0\n"
                               "t1 ret connection_lost 0\n"
                               "t2 cb eof_received\n"
                               "t2 ret eof_received 0\n",
              0);
    /* more bytes than the peer's writes accepted */
    EXPECT_VIOLATION(PAIRED T1_WRITES "iter 4\n"
                                      "t2 cb data_received n=13 total=13 sum=0000bbbb\n",
                     0, "PROTO-STREAM-1", 19);
    /* same count, other bytes (buffered protocol: PROTO-BUF-1) */
    EXPECT_VIOLATION(PAIRED T1_WRITES "iter 4\n"
                                      "t2 cb data_received n=5 total=5 sum=0000abab\n",
                     0, "PROTO-STREAM-1", 19);
    EXPECT_VIOLATION(PAIRED T1_WRITES "iter 4\n"
                                      "t2 cb get_buffer sizehint=-1\n"
                                      "t2 ret get_buffer 0 len=100\n"
                                      "t2 cb buffer_updated n=12 total=12 sum=0000aaaa\n",
                     0, "PROTO-STREAM-1", 21);
    /* a clean close whose EOF arrives before all the data */
    EXPECT_VIOLATION(PAIRED T1_WRITES "t1 call write_eof\n"
                                      "t1 ret write_eof 0 size=0\n"
                                      "iter 4\n"
                                      "t2 cb data_received n=5 total=5 sum=0000aaaa\n"
                                      "t2 ret data_received 0\n"
                                      "iter 5\n"
                                      "t2 cb eof_received\n",
                     0, "PROTO-STREAM-1", 24);
    /* the pairing itself (TRACE-5) */
    EXPECT_VIOLATION("aiotp-trace 2\nt1 open tcp\nt1 limits low=16384 high=65536\nt1 peer t2\n",
                     0, "TRACE-5", 4);
    EXPECT_VIOLATION("aiotp-trace 2\nt1 open tcp\nt1 limits low=16384 high=65536\nt1 peer t1\n",
                     0, "TRACE-5", 4);
    EXPECT_VIOLATION(PAIRED "t3 open tcp\nt3 limits low=16384 high=65536\nt3 peer t1\n", 0,
                     "TRACE-5", 15);
    EXPECT_PARSE("aiotp-trace 2\nt1 open tcp\nt1 limits low=16384 high=65536\nt1 peer 2\n", 4);
    EXPECT_PARSE("aiotp-trace 2\nt1 open tcp\nt1 limits low=16384 high=65536\nt1 peer t2 x\n",
                 4);
}

/* Checks th_trace() with a fresh oracle; returns its result. */
static int check_library_trace(const char *text, const char **rule)
{
    outcome r = run_trace(text, AIOTP_ORACLE_REQUIRE_LOST, 0);
    *rule = r.rule;
    if (r.rc != 0) {
        printf("oracle: %d at line %zu: %s: %s\n", r.rc, r.line, r.rule ? r.rule : "-",
               r.detail);
    }
    return r.rc;
}

static bool both_lost(void *arg)
{
    th_rec **r = arg;
    return r[0]->lost > 0 && r[1]->lost > 0;
}

/* Both ends of a connection in one loop: the library writes "tN peer tM" for TCP, so the
   oracle compares what each side received with what the other wrote; Unix socket ends
   cannot be told apart by address and are not paired. */
TEST(library_pairs_tcp_ends)
{
    static unsigned char a2b[100000];
    static unsigned char b2a[3000];
    int round;
    size_t i;

    for (i = 0; i < sizeof(a2b); i++) {
        a2b[i] = (unsigned char)(i * 7 + 3);
    }
    for (i = 0; i < sizeof(b2a); i++) {
        b2a[i] = (unsigned char)(i * 13 + 1);
    }
    for (round = 0; round < 2; round++) {
        bool tcp = round == 0;
        aiotp_loop *loop;
        th_rec *r[2];
        aiotp_transport *a;
        aiotp_transport *b;
        int sv[2];
        const char *rule = NULL;
        static char text[1 << 16];
        char *p;

        th_trace_clear();
        loop = th_loop();
        r[0] = th_rec_new();
        r[1] = th_rec_new();
        if (tcp) {
            th_tcp_pair(sv);
        } else {
            th_socketpair(sv);
        }
        a = th_wrap(loop, sv[0], &th_streaming, r[0]);
        b = th_wrap(loop, sv[1], &th_streaming, r[1]);
        CHECK(a != NULL && b != NULL);
        if (a == NULL || b == NULL) {
            return;
        }
        CHECK_ERR(aiotp_transport_write(a, a2b, sizeof(a2b)), 0);
        CHECK_ERR(aiotp_transport_write(b, b2a, sizeof(b2a)), 0);
        /* a half-closes; b's eof_received returns 0, so b closes; then a sees EOF and
           closes too (closing with unread data would reset the connection instead) */
        CHECK_ERR(aiotp_transport_write_eof(a), 0);
        th_run_until(loop, both_lost, r, 200);
        CHECK_SIZE(r[1]->rx_len, sizeof(a2b));
        CHECK(r[1]->rx_len == sizeof(a2b) && memcmp(r[1]->rx, a2b, sizeof(a2b)) == 0);
        CHECK(r[0]->rx_len == sizeof(b2a) && memcmp(r[0]->rx, b2a, sizeof(b2a)) == 0);
        CHECK_INT(r[0]->eofs, 1);
        CHECK_INT(r[1]->eofs, 1);
        CHECK_INT(r[0]->lost_status, 0);
        CHECK_INT(r[1]->lost_status, 0);
        CHECK((strstr(th_trace(), "\nt2 peer t1\n") != NULL) == tcp);
        CHECK(strstr(th_trace(), "aiotp-trace 2\n") != NULL);
        CHECK_INT(check_library_trace(th_trace(), &rule), 0);

        /* the same trace with one byte of t2's last chunk changed (its sum) or one chunk
           missing is caught, through the pairing (TCP) */
        if (tcp && strlen(th_trace()) < sizeof(text)) {
            char *line;
            strcpy(text, th_trace());
            line = strstr(text, "t2 cb data_received");
            CHECK(line != NULL);
            if (line != NULL) {
                char *last = line;
                while ((p = strstr(last + 1, "t2 cb data_received")) != NULL) {
                    last = p;
                }
                p = strstr(last, "sum=");
                CHECK(p != NULL);
                if (p != NULL) {
                    p[4] = p[4] == '0' ? '1' : '0';
                    CHECK_INT(check_library_trace(text, &rule), AIOTP_ORACLE_VIOLATION);
                    CHECK_STR(rule, "PROTO-STREAM-1");
                }
            }
        }
        th_loop_free(loop);
    }
}

static const th_case cases[] = {
    T(streaming_sequence_conforms, "PROTO-STREAM-2 PROTO-BASE-1 PROTO-BASE-2 BAD-2"),
    T(buffered_sequence_conforms, "PROTO-BUF-3 PROTO-BUF-1"),
    T(flow_sequence_conforms, "FLOW-4 FLOW-5 FLOW-6 FLOW-7"),
    T(nested_writes_either_order, "WRITE-WRITE-1 FLOW-4"),
    T(write_admitted_at_call, "WRITE-WRITE-5 WRITE-WRITE-4"),
    T(nested_limits, "FLOW-2 FLOW-3 FLOW-4 FLOW-5"),
    T(fatal_statuses_carried, "PROTO-STREAM-4"),
    T(new_loop_after_header, "PROTO-BASE-1"),
    T(stream_state_machine, "PROTO-STREAM-2 PROTO-STREAM-5"),
    T(no_data_after_close, "PROTO-STREAM-3 BASE-CLOSE-1"),
    T(lost_once_and_last, "PROTO-BASE-2"),
    T(made_first_and_next_pass, "PROTO-BASE-1 PROTO-BASE-6"),
    T(data_non_empty_and_totals, "PROTO-STREAM-1 READ-1"),
    T(failing_callback_status, "PROTO-STREAM-4"),
    T(buffered_state_machine, "PROTO-BUF-1 PROTO-BUF-3"),
    T(empty_buffer_is_fatal, "PROTO-BUF-2"),
    T(protocol_switch, "BASE-PROTO-1 BASE-PROTO-2"),
    T(pause_rules, "FLOW-4 FLOW-6"),
    T(resume_rules, "FLOW-5 FLOW-6 FLOW-7 WRITE-ABORT-2"),
    T(limits_rules, "FLOW-1 FLOW-2 FLOW-3 FLOW-7"),
    T(close_abort_rules, "BASE-CLOSE-3 BASE-CLOSE-4 WRITE-ABORT-1 WRITE-ABORT-3 WRITE-ABORT-4"),
    T(write_rules, "WRITE-WRITE-1 WRITE-WRITE-2 WRITE-WRITE-4 WRITE-WRITE-5 WRITE-WRITE-6 "
                   "WRITE-WRITE-7 WRITE-EOF-3"),
    T(read_pause_rules, "READ-2 READ-3"),
    T(retained_calls, "BAD-2"),
    T(nesting_and_format_rules, "PROTO-BASE-3 FLOW-4"),
    T(malformed_lines, "BAD-1"),
    T(api_bad_arguments, "BAD-1 BAD-3"),
    T(transport_limit, "BAD-1"),
    T(nesting_limit, "BAD-1"),
    T(report_keeps_recent_events, "READ-2"),
    T(peer_pairs, "PROTO-STREAM-1 PROTO-BUF-1 WRITE-WRITE-1"),
    T(library_pairs_tcp_ends, "PROTO-STREAM-1 WRITE-WRITE-1"),
};
TH_MAIN(cases)
