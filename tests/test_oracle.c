/*
 * tests/test_oracle.c - the conformance oracle (include/aiotp/oracle.h, spec/oracle.md):
 * conforming traces pass, and each rule the oracle checks is reported with its ID and
 * the line that broke it. The hand-written traces of tests/traces/ are checked through
 * the command line by the oracle.cli_* tests (tools/CMakeLists.txt).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aiotp/oracle.h"
#include "harness.h"
#include "oracle/oracle_int.h" /* the deep check's own test */

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
    size_t nviol;  /* violations counted */
    size_t nother; /* ... of another rule than the first */
    size_t reports; /* calls of the report callback */
    const aiotp_oracle *o; /* while it runs */
} outcome;

/* The report callback of run_trace(): counts, and checks each report is complete. */
static void on_report(void *arg, const aiotp_oracle_report *r)
{
    outcome *out = arg;
    out->reports++;
    CHECK(r->nrecent <= AIOTP_ORACLE_RECENT);
    if (r->result == AIOTP_ORACLE_VIOLATION) {
        CHECK(r->rule != NULL && aiotp_oracle_rule_text(r->rule) == r->rule_text);
        /* only rules of the profile in force are reported */
        CHECK(r->profile >= AIOTP_ORACLE_PROFILE_DOC && r->profile <= aiotp_oracle_profile(out->o));
        if (out->rule != NULL && strcmp(out->rule, r->rule) != 0) {
            out->nother++;
        }
        if (out->rule == NULL) {
            out->rule = r->rule;
        }
    }
}

/* Feed a trace given as one string (lines separated by '\n'), then finish. The oracle
   state is validated after every line; every report goes through on_report. */
static outcome run_trace_p(const char *text, unsigned flags, size_t max_t, int profile)
{
    aiotp_oracle_config cfg;
    aiotp_oracle *o = NULL;
    outcome out;
    const char *p = text;
    size_t lineno = 0;
    size_t reports;
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
    CHECK_INT(aiotp_oracle_set_profile(o, profile), 0);
    out.o = o;
    CHECK_INT(aiotp_oracle_set_report(o, on_report, &out), 0);
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
    out.nviol = aiotp_oracle_violations(o);
    reports = out.reports;
    CHECK_SIZE(reports, out.nviol + (aiotp_oracle_error(o) != NULL ? 1u : 0u));
    out.rule = NULL;
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
    out.o = NULL;
    CHECK_SIZE(live, 0);
    return out;
}

static outcome run_trace(const char *text, unsigned flags, size_t max_t)
{
    return run_trace_p(text, flags, max_t, g_profile);
}

static void expect_ok(const char *text, unsigned flags)
{
    outcome r = run_trace(text, flags, 0);
    if (r.rc != 0) {
        th_fail(__FILE__, __LINE__, "expected conformance, got %d at line %zu: %s: %s", r.rc,
                r.line, r.rule ? r.rule : "-", r.detail);
    }
}

/* The trace breaks rules n times (and parses). */
static void expect_ok_count(const char *text, size_t n)
{
    outcome r = run_trace(text, 0, 0);
    CHECK(r.rc >= 0);
    CHECK_SIZE(r.nviol, n);
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

/* lines 2-7 after a header: a connected TCP transport in pass 2 */
#define MADE_BODY                                                                         \
    "iter 1\n"                                                                            \
    "t1 open tcp\n"                                                                       \
    "t1 limits low=16384 high=65536\n"                                                    \
    "iter 2\n"                                                                            \
    "t1 cb connection_made\n"                                                             \
    "t1 ret connection_made 0\n"

/* lines 1-7 (format 1) */
#define MADE "aiotp-trace 1\n" MADE_BODY

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

/* WRITE-WRITE-6: ENOMEM after the kernel took part of the write fails the transport
   (connection_lost(ENOMEM) follows, is_closing() is true at once); ENOMEM with nothing
   taken leaves it unchanged. Also inside a callback (a fuzz_buffered finding: a
   writelines inside buffer_updated). */
#define V3 "aiotp-trace 3 impl=aiotp\n" MADE_BODY
TEST(write_enomem_after_part_fails)
{
#define EXC_QUEUE "t1 exc status=ENOMEM Fatal error: no memory to queue the rest of a write\n"
    expect_ok(V3 "t1 call write n=5\n" EXC_QUEUE
                 "t1 ret write ENOMEM size=0 total=3 sum=01234567\n"
                 "t1 query is_closing 1\n"
                 "iter 3\n"
                 "t1 cb connection_lost status=ENOMEM\n"
                 "t1 ret connection_lost 0\n",
              0);
    expect_ok(V3 "iter 3\n"
                 "t1 cb data_received n=4 total=4 sum=25d53dfd\n"
                 "t1 call writelines count=2 n=9\n" EXC_QUEUE
                 "t1 ret writelines ENOMEM size=0 total=6 sum=01234567\n"
                 "t1 query is_closing 1\n"
                 "t1 ret data_received 0\n"
                 "iter 4\n"
                 "t1 cb connection_lost status=ENOMEM\n"
                 "t1 ret connection_lost 0\n",
              0);
    /* the transport failed: connection_lost carries ENOMEM */
    EXPECT_VIOLATION(V3 "t1 call write n=5\n" EXC_QUEUE
                        "t1 ret write ENOMEM size=0 total=3 sum=01234567\n"
                        "iter 3\n"
                        "t1 cb connection_lost status=0\n",
                     0, "WRITE-WRITE-6", 12);
    /* nothing taken: unchanged, still open (asked in the same callback, where nothing
       unseen can have closed it) */
    EXPECT_VIOLATION(V3 "iter 3\n"
                        "t1 cb data_received n=4 total=4 sum=25d53dfd\n"
                        "t1 call writelines count=2 n=9\n"
                        "t1 ret writelines ENOMEM size=0 total=0 sum=00000000\n"
                        "t1 query is_closing 1\n",
                     0, "BASE-CLOSING-1", 12);
#undef EXC_QUEUE
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
    /* WRITE-WRITE-10, DONE-1: ECLOSED from a write on a transport the trace shows open
       means an OS error ended it without a line (the kernel's ENOMEM for this write, or an
       earlier failure): connection_lost may carry any status; a callback that then fails
       with ECLOSED does not set it. But the transport is closing from there on: data after
       it is PROTO-STREAM-3. */
    {
        static const char *const any_lost[] = {"ENOMEM", "EINVAL", "EPIPE"};
        size_t i;
        for (i = 0; i < 3; i++) {
            char t[512];
            outcome r;
            snprintf(t, sizeof(t),
                     "aiotp-trace 3 impl=aiotp\n" MADE_BODY
                     "iter 3\nt1 cb data_received n=4 total=4 sum=25d53dfd\n"
                     "t1 call write n=5\n"
                     "t1 ret write ECLOSED size=0 total=0 sum=00000000\n"
                     "t1 ret data_received ECLOSED\n"
                     "t1 exc status=ECLOSED Fatal error: protocol.data_received() call "
                     "failed.\niter 4\n"
                     "t1 cb connection_lost status=%s\nt1 ret connection_lost 0\n",
                     any_lost[i]);
            r = run_trace(t, 0, 0);
            if (r.rc != 0) {
                fprintf(stderr, "rejected: %s at line %zu\n", r.rule ? r.rule : "parse",
                        r.line);
            }
            CHECK_INT(r.rc, 0);
        }
    }
    EXPECT_VIOLATION(MADE "t1 call write n=5\n"
                          "t1 ret write ECLOSED size=0 total=0 sum=811c9dc5\niter 3\n"
                          "t1 cb data_received n=1 total=1 sum=01234567\n",
                     0, "PROTO-STREAM-3", 11);
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
    /* DONE-1: ECLOSED on a transport the trace shows open is the first sign of an OS error
       that ended it (not traced outside debug mode): closing from there on, so no more
       data (PROTO-STREAM-3); its connection_lost may carry any status */
    EXPECT_VIOLATION(MADE "iter 3\nt1 call pause_reading\nt1 ret pause_reading ECLOSED size=0\n"
                          "t1 cb data_received n=1 total=1 sum=01234567\n",
                     0, "PROTO-STREAM-3", 11);
    CHECK_INT(run_trace(MADE "iter 3\nt1 call pause_reading\nt1 ret pause_reading ECLOSED "
                             "size=0\niter 4\nt1 cb connection_lost status=EPIPE\n"
                             "t1 ret connection_lost 0\n",
                        0, 0)
                  .rc,
              0);
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

/* ---- trace files (tests/traces/, beside this source) ------------------------------------- */

/* Read tests/traces/NAME.trace; NULL (and the case fails) if it cannot be read. */
static char *load_trace(const char *name)
{
    char path[1024];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash != NULL ? (int)(slash - __FILE__ + 1) : 0;
    FILE *f;
    char *text;
    long n;
    snprintf(path, sizeof(path), "%.*straces/%s.trace", dir, __FILE__, name);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f == NULL) {
        return NULL;
    }
    (void)fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = malloc((size_t)n + 1);
    CHECK(text != NULL && fread(text, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    if (text != NULL) {
        text[n] = '\0';
    }
    return text;
}

/* Check a trace file as its "# expect:" line says (exit, rule, line, --profile,
   --require-lost); a bad trace must break its rule and no other. */
static void check_trace_file(const char *name)
{
    char *text = load_trace(name);
    const char *ex;
    const char *v;
    int profile = AIOTP_ORACLE_PROFILE_AUTO;
    unsigned flags = 0;
    int want_exit;
    char want_rule[32] = "";
    size_t want_line = 0;
    outcome r;
    if (text == NULL) {
        return;
    }
    ex = strstr(text, "# expect: exit=");
    CHECK(ex != NULL);
    if (ex == NULL) {
        free(text);
        return;
    }
    want_exit = ex[15] - '0';
    if ((v = strstr(ex, "rule=")) != NULL && v < strchr(ex, '\n')) {
        sscanf(v + 5, "%31[A-Z0-9-]", want_rule);
    }
    if ((v = strstr(ex, "line=")) != NULL && v < strchr(ex, '\n')) {
        want_line = (size_t)strtoul(v + 5, NULL, 10);
    }
    if ((v = strstr(ex, "--profile ")) != NULL && v < strchr(ex, '\n')) {
        char pname[16] = "";
        sscanf(v + 10, "%15[a-z]", pname);
        profile = aiotp_oracle_profile_parse(pname);
    }
    if ((v = strstr(ex, "--require-lost")) != NULL && v < strchr(ex, '\n')) {
        flags = AIOTP_ORACLE_REQUIRE_LOST;
    }
    r = run_trace_p(text, flags, 0, profile);
    free(text);
    if (want_exit == 0) {
        if (r.rc != 0) {
            th_fail(__FILE__, __LINE__, "%s: expected conformance, got %d at line %zu: %s: %s",
                    name, r.rc, r.line, r.rule ? r.rule : "-", r.detail);
        }
        return;
    }
    CHECK_INT(r.rc, want_exit == 1 ? AIOTP_ORACLE_VIOLATION : r.rc < 0 ? r.rc : -1);
    if (want_rule[0] != '\0') {
        CHECK_STR(r.rule, want_rule);
        CHECK_SIZE(r.nother, 0); /* its rule and no other */
    }
    if (want_line != 0) {
        CHECK_SIZE(r.line, want_line);
    }
}

/* lines 1-7 (format 3): a connected datagram transport in pass 2 */
#define DMADE                                                                             \
    "aiotp-trace 3 impl=aiotp\n"                                                          \
    "iter 1\n"                                                                            \
    "t1 open udp\n"                                                                       \
    "t1 limits low=16384 high=65536\n"                                                    \
    "iter 2\n"                                                                            \
    "t1 cb connection_made\n"                                                             \
    "t1 ret connection_made 0\n"

/* lines 1-7 (format 3): a connected stream transport in pass 2 */
#define SMADE "aiotp-trace 3 impl=aiotp\n" MADE_BODY

/* ---- datagram transports: one case per rule (the traces are tests/traces/) ------------- */

TEST(dgram_endpoints_conform)
{
    check_trace_file("good_dgram_endpoints");
}

TEST(dgram_made_next_pass)
{
    check_trace_file("bad_dgram_made_late");
}

TEST(dgram_send_empty)
{
    check_trace_file("bad_dgram_send_empty");
    /* 0 bytes after close(): 0 or ECLOSED, both fine */
    expect_ok(DMADE "t1 call close\nt1 ret close 0 size=0\n"
                    "t1 call sendto n=0 addr=- sum=00000000\nt1 ret sendto ECLOSED size=0\n"
                    "t1 call sendto n=0 addr=- sum=00000000\nt1 ret sendto 0 size=0\n",
              0);
}

TEST(dgram_send_connected_address)
{
    check_trace_file("bad_dgram_send_other_addr");
}

TEST(dgram_send_error_inside)
{
    check_trace_file("bad_dgram_send_error_status");
}

TEST(dgram_send_after_close)
{
    check_trace_file("bad_dgram_send_after_close");
    /* after connection_lost, the transport reclaimed: still judged */
    EXPECT_VIOLATION(DMADE "t1 call abort\nt1 ret abort 0 size=0\niter 3\n"
                           "t1 cb connection_lost status=0\nt1 ret connection_lost 0\niter 4\n"
                           "t1 call sendto n=5 addr=- sum=01010101\nt1 ret sendto 0 size=0\n",
                     0, "DGRAM-SEND-4", 15);
}

TEST(dgram_send_too_big)
{
    check_trace_file("bad_dgram_send_too_big");
}

TEST(dgram_drain_then_lost)
{
    check_trace_file("bad_dgram_drain_no_lost");
}

TEST(dgram_flow)
{
    check_trace_file("bad_dgram_missed_pause");
    /* a refused datagram does not grow the queue; an accepted one by its size at most */
    EXPECT_VIOLATION(DMADE "t1 call sendto n=5 addr=- sum=01010101\n"
                           "t1 ret sendto EINVAL size=5\n",
                     0, "DGRAM-FLOW-1", 9);
    EXPECT_VIOLATION(DMADE "t1 call sendto n=5 addr=- sum=01010101\n"
                           "t1 ret sendto 0 size=6\n",
                     0, "DGRAM-FLOW-1", 9);
    /* pause/resume alternate and stay in their bounds */
    EXPECT_VIOLATION(DMADE "iter 3\nt1 cb resume_writing size=0 low=16384\n", 0, "DGRAM-FLOW-1",
                     9);
    EXPECT_VIOLATION(DMADE "t1 call sendto n=70000 addr=- sum=01010101\n"
                           "t1 cb pause_writing size=60000 high=65536\n",
                     0, "DGRAM-FLOW-1", 9);
    /* a sendto inside the error_received of a sendto whose datagram was dropped queues
       its own: the outer call returns with that size (found by fuzz_dgram) */
    expect_ok(DMADE "t1 call sendto n=5 addr=- sum=01010101\n"
                    "t1 cb error_received status=EPERM\n"
                    "t1 call sendto n=302 addr=- sum=02020202\nt1 ret sendto 0 size=302\n"
                    "t1 ret error_received 0\nt1 ret sendto 0 size=302\n",
              0);
    /* ... but no more than that */
    EXPECT_VIOLATION(DMADE "t1 call sendto n=5 addr=- sum=01010101\n"
                           "t1 cb error_received status=EPERM\n"
                           "t1 call sendto n=302 addr=- sum=02020202\n"
                           "t1 ret sendto 0 size=302\n"
                           "t1 ret error_received 0\nt1 ret sendto 0 size=303\n",
                     0, "DGRAM-FLOW-1", 13);
}

/* a dgram line "t1 cb datagram_received n=1 ..." / ret pair, k times, in pass 3 */
static char *dgram_pass_of(unsigned k)
{
    static char buf[4096];
    size_t off = (size_t)snprintf(buf, sizeof(buf), "%s", DMADE "iter 3\n");
    unsigned i;
    for (i = 0; i < k && off < sizeof(buf); i++) {
        off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                "t1 cb datagram_received n=1 addr=- sum=0101010%x\n"
                                "t1 ret datagram_received 0\n",
                                i % 10);
    }
    return buf;
}

TEST(dgram_recv_batch_per_pass)
{
    /* DEV-70: up to 16 receives per read event, so up to 16 datagram_received per pass;
       the 17th is a violation at its line */
    check_trace_file("bad_dgram_17_per_pass");
    expect_ok(dgram_pass_of(16), 0);
    expect_ok(dgram_pass_of(1), 0);
    EXPECT_VIOLATION(DMADE "iter 3\nt1 cb datagram_received n=300000 addr=- sum=01010101\n", 0,
                     "DGRAM-RECV-1", 9);
    EXPECT_VIOLATION(DMADE "iter 3\nt1 cb datagram_received n=0 addr=- sum=01010101\n", 0,
                     "DGRAM-RECV-1", 9);
    /* zero-length datagrams are delivered (sum of no bytes) */
    expect_ok(DMADE "iter 3\nt1 cb datagram_received n=0 addr=unix:/tmp/s sum=00000000\n"
                    "t1 ret datagram_received 0\n",
              0);
}

TEST(dgram_recv_error)
{
    check_trace_file("bad_dgram_error_zero");
}

TEST(dgram_recv_closed_or_paused)
{
    check_trace_file("bad_dgram_recv_after_close");
    EXPECT_VIOLATION(DMADE "t1 call pause_reading\nt1 ret pause_reading 0 size=0\niter 3\n"
                           "t1 cb datagram_received n=1 addr=- sum=01010101\n",
                     0, "DGRAM-RECV-3", 11);
    EXPECT_VIOLATION("aiotp-trace 3 impl=aiotp\niter 1\nt1 open udp\n"
                     "t1 limits low=16384 high=65536\n"
                     "t1 cb datagram_received n=1 addr=- sum=01010101\n",
                     0, "PROTO-BASE-3", 5);
}

TEST(dgram_failing_callbacks)
{
    check_trace_file("bad_dgram_cb_not_reported");
    /* error_received failing inside sendto: reported before sendto returns */
    expect_ok(DMADE "t1 call sendto n=1 addr=- sum=01010101\n"
                    "t1 cb error_received status=EMSGSIZE\nt1 ret error_received EVALUE\n"
                    "t1 exc status=EVALUE Exception in callback protocol.error_received()\n"
                    "t1 ret sendto 0 size=0\n",
              0);
    EXPECT_VIOLATION(DMADE "t1 call sendto n=1 addr=- sum=01010101\n"
                           "t1 cb error_received status=EMSGSIZE\nt1 ret error_received EVALUE\n"
                           "t1 ret sendto 0 size=0\n",
                     0, "DGRAM-CB-1", 11);
}

TEST(dgram_close)
{
    check_trace_file("bad_dgram_close_twice");
    EXPECT_VIOLATION(DMADE "t1 call close\nt1 ret close 0 size=0\n"
                           "t1 query is_reading 1\n",
                     0, "DGRAM-CLOSE-1", 10);
    EXPECT_VIOLATION(DMADE "t1 call close\nt1 ret close 0 size=0\niter 3\niter 4\n", 0,
                     "DGRAM-CLOSE-1", 11);
}

TEST(dgram_abort)
{
    check_trace_file("bad_dgram_abort_late");
    EXPECT_VIOLATION(DMADE "t1 call abort\nt1 ret abort 0 size=3\n", 0, "DGRAM-ABORT-1", 9);
    EXPECT_VIOLATION(DMADE "t1 call sendto n=70000 addr=- sum=01010101\n"
                           "t1 cb pause_writing size=70000 high=65536\n"
                           "t1 ret pause_writing 0\nt1 ret sendto 0 size=70000\n"
                           "t1 call abort\nt1 ret abort 0 size=0\n"
                           "t1 cb resume_writing size=0 low=16384\n",
                     0, "DGRAM-ABORT-1", 14);
}

TEST(dgram_lost_last)
{
    check_trace_file("bad_dgram_cb_after_lost");
    EXPECT_VIOLATION("aiotp-trace 3 impl=aiotp\niter 1\nt1 open udp\n"
                     "t1 limits low=16384 high=65536\n"
                     "t1 cb error_received status=ECONNREFUSED\n",
                     0, "DGRAM-LOST-1", 5);
}

TEST(dgram_fatal_not_error_received)
{
    check_trace_file("bad_dgram_error_then_lost");
    /* a fatal error with another status, or after close(): fine */
    expect_ok(DMADE "iter 3\nt1 cb error_received status=ECONNREFUSED\n"
                    "t1 ret error_received 0\niter 4\n"
                    "t1 cb connection_lost status=EBADF\nt1 ret connection_lost 0\n",
              AIOTP_ORACLE_REQUIRE_LOST);
}

TEST(dgram_peer)
{
    check_trace_file("bad_dgram_not_sent");
    /* received twice, sent once */
    EXPECT_VIOLATION("aiotp-trace 3 impl=aiotp\niter 1\nt1 open udp\n"
                     "t1 limits low=16384 high=65536\nt2 open udp\n"
                     "t2 limits low=16384 high=65536\nt2 peer t1\niter 2\n"
                     "t1 call sendto n=2 addr=- sum=01010101\nt1 ret sendto 0 size=0\n"
                     "t2 cb connection_made\nt2 ret connection_made 0\n"
                     "t1 cb connection_made\nt1 ret connection_made 0\niter 3\n"
                     "t2 cb datagram_received n=2 addr=10.0.0.1:1 sum=01010101\n"
                     "t2 ret datagram_received 0\niter 4\n"
                     "t2 cb datagram_received n=2 addr=10.0.0.1:1 sum=01010101\n",
                     0, "DGRAM-PEER-1", 19);
    /* a connected socket hears its peer only */
    EXPECT_VIOLATION("aiotp-trace 3 impl=aiotp\niter 1\nt1 open udp\n"
                     "t1 limits low=16384 high=65536\nt2 open udp\n"
                     "t2 limits low=16384 high=65536\nt2 peer t1\niter 2\n"
                     "t1 cb connection_made\nt1 ret connection_made 0\n"
                     "t2 cb connection_made\nt2 ret connection_made 0\n"
                     "t1 call sendto n=1 addr=- sum=01010101\nt1 ret sendto 0 size=0\n"
                     "t1 call sendto n=1 addr=- sum=02020202\nt1 ret sendto 0 size=0\niter 3\n"
                     "t2 cb datagram_received n=1 addr=10.0.0.1:1 sum=01010101\n"
                     "t2 ret datagram_received 0\niter 4\n"
                     "t2 cb datagram_received n=1 addr=10.0.0.1:2 sum=02020202\n",
                     0, "DGRAM-PEER-1", 21);
    /* more than ORC_DGRAM_SENT distinct datagrams outstanding: the oldest are forgotten,
       and a datagram not found is then not reported */
    {
        char buf[16384];
        size_t off = 0;
        int i;
        off += (size_t)snprintf(buf, sizeof(buf),
                                "aiotp-trace 3 impl=aiotp\niter 1\nt1 open udp\n"
                                "t1 limits low=16384 high=65536\nt2 open udp\n"
                                "t2 limits low=16384 high=65536\nt2 peer t1\niter 2\n"
                                "t1 cb connection_made\nt1 ret connection_made 0\n"
                                "t2 cb connection_made\nt2 ret connection_made 0\n");
        for (i = 0; i < 40; i++) {
            off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                    "t1 call sendto n=%d addr=- sum=0000%04x\n"
                                    "t1 ret sendto 0 size=0\n", i + 1, i);
        }
        off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                "iter 3\nt2 cb datagram_received n=1 addr=- sum=00000000\n"
                                "t2 ret datagram_received 0\n");
        expect_ok(buf, 0);
    }
}

/* ---- kinds, defect 4, queries, exception reports ------------------------------------- */

TEST(kind_vocabulary)
{
    check_trace_file("bad_dgram_write");
    check_trace_file("bad_stream_datagram_cb");
    /* a method the kind lacks returns ENOTSUP; one it has never does */
    expect_ok(SMADE "t1 call sendto n=1 addr=- sum=01010101\nt1 ret sendto ENOTSUP size=0\n", 0);
    EXPECT_VIOLATION(SMADE "t1 call write n=1\nt1 ret write ENOTSUP size=0\n", 0, "TRANSPORT-KIND-2",
                     9);
    EXPECT_VIOLATION(SMADE "t1 call set_protocol kind=datagram\n"
                           "t1 ret set_protocol 0 size=0\n",
                     0, "PROTO-KIND-2", 9);
    EXPECT_VIOLATION(DMADE "t1 call set_protocol kind=streaming\n"
                           "t1 ret set_protocol 0 size=0\n",
                     0, "PROTO-KIND-2", 9);
    expect_ok(DMADE "t1 call set_protocol kind=datagram\nt1 ret set_protocol 0 size=0\n"
                    "t1 call write_eof\nt1 ret write_eof ENOTSUP size=0\n",
              0);
}

TEST(set_protocol_inside_get_buffer)
{
    check_trace_file("bad_set_protocol_in_get_buffer");
    check_trace_file("good_set_protocol_in_get_buffer");
    /* new protocol streaming: data_received for the same read event (same pass) */
    EXPECT_VIOLATION(SMADE "iter 3\nt1 cb get_buffer sizehint=-1\n"
                           "t1 call set_protocol kind=streaming\n"
                           "t1 ret set_protocol 0 size=0\nt1 ret get_buffer 0 len=64\n"
                           "t1 cb data_received n=10 total=10 sum=01020304\n",
                     0, "PROTO-BUF-5", 13);
    /* without passes in the trace, the next line is the same read event */
    EXPECT_VIOLATION("aiotp-trace 3 impl=aiotp\nt1 open tcp\nt1 limits low=16384 high=65536\n"
                     "t1 cb connection_made\nt1 ret connection_made 0\n"
                     "t1 cb get_buffer sizehint=-1\nt1 call set_protocol kind=streaming\n"
                     "t1 ret set_protocol 0 size=0\nt1 ret get_buffer 0 len=64\n"
                     "t1 cb data_received n=10 total=10 sum=01020304\n",
                     0, "PROTO-BUF-5", 10);
}

TEST(query_is_closing)
{
    check_trace_file("bad_query_closing");
    /* inside its own callback the state is exact: 1 while open is wrong */
    EXPECT_VIOLATION(SMADE "iter 3\nt1 cb data_received n=1 total=1 sum=01010101\n"
                           "t1 query is_closing 1\n",
                     0, "BASE-CLOSING-1", 10);
    /* elsewhere it may be an invisible fatal error: learned, and contradicted later */
    EXPECT_VIOLATION(SMADE "t1 query is_closing 1\niter 3\n"
                           "t1 cb data_received n=1 total=1 sum=01010101\n",
                     0, "BASE-CLOSING-1", 10);
    EXPECT_VIOLATION(SMADE "t1 query is_closing 1\nt1 call close\nt1 ret close 0 size=0\n", 0,
                     "BASE-CLOSING-1", 10);
    expect_ok(SMADE "t1 query is_closing 1\nt1 query is_reading 0\niter 3\n"
                    "t1 cb connection_lost status=ECONNRESET\nt1 ret connection_lost 0\n",
              AIOTP_ORACLE_REQUIRE_LOST);
    /* before connection_made: open */
    EXPECT_VIOLATION("aiotp-trace 3 impl=aiotp\nt1 open tcp\nt1 limits low=16384 high=65536\n"
                     "t1 query is_closing 1\n",
                     0, "BASE-CLOSING-1", 4);
    /* after connection_lost: closed */
    EXPECT_VIOLATION(SMADE "t1 call abort\nt1 ret abort 0 size=0\niter 3\n"
                           "t1 cb connection_lost status=0\nt1 ret connection_lost 0\n"
                           "t1 query is_closing 0\n",
                     0, "BASE-CLOSING-1", 13);
}

TEST(query_is_reading)
{
    check_trace_file("bad_query_reading_eof");
    EXPECT_VIOLATION(SMADE "t1 call pause_reading\nt1 ret pause_reading 0 size=0\n"
                           "t1 query is_reading 1\n",
                     0, "READ-2", 10);
    EXPECT_VIOLATION(SMADE "iter 3\nt1 cb data_received n=1 total=1 sum=01010101\n"
                           "t1 query is_reading 0\n",
                     0, "READ-2", 10);
    EXPECT_VIOLATION(SMADE "t1 call close\nt1 ret close 0 size=0\nt1 query is_reading 1\n", 0,
                     "BASE-CLOSE-1", 10);
    /* learned closing, contradicted by data */
    EXPECT_VIOLATION(SMADE "t1 query is_reading 0\niter 3\n"
                           "t1 cb data_received n=1 total=1 sum=01010101\n",
                     0, "BASE-CLOSING-1", 10);
    /* READ-5 is aiotp's: CPython says 1 after EOF */
    g_profile = AIOTP_ORACLE_PROFILE_CPYTHON;
    expect_ok(SMADE "iter 3\nt1 cb eof_received\nt1 ret eof_received 1\nt1 query is_reading 1\n",
              0);
    g_profile = AIOTP_ORACLE_PROFILE_AIOTP;
    expect_ok(SMADE "iter 3\nt1 cb eof_received\nt1 ret eof_received 1\nt1 query is_reading 0\n",
              0);
    /* before connection_made: not judged */
    expect_ok("aiotp-trace 3 impl=aiotp\nt1 open tcp\nt1 limits low=16384 high=65536\n"
              "t1 query is_reading 0\n",
              0);
}

TEST(query_sizes_and_limits)
{
    check_trace_file("bad_query_size");
    check_trace_file("bad_query_limits");
    /* outside a callback the size may have shrunk (a drain), never grown */
    expect_ok(SMADE "t1 call write n=100000\nt1 cb pause_writing size=90000 high=65536\n"
                    "t1 ret pause_writing 0\nt1 ret write 0 size=90000 total=100000 "
                    "sum=01020304\niter 3\nt1 query get_write_buffer_size 500\n",
              0);
    EXPECT_VIOLATION(SMADE "t1 call write n=100000\nt1 cb pause_writing size=90000 high=65536\n"
                           "t1 ret pause_writing 0\nt1 ret write 0 size=90000 total=100000 "
                           "sum=01020304\niter 3\nt1 query get_write_buffer_size 95000\n",
                     0, "WRITE-SIZE-1", 13);
    EXPECT_VIOLATION(SMADE "t1 call write n=100000\nt1 cb pause_writing size=90000 high=65536\n"
                           "t1 ret pause_writing 0\nt1 ret write 0 size=90000 total=100000 "
                           "sum=01020304\nt1 call abort\nt1 ret abort 0 size=0\n"
                           "t1 query get_write_buffer_size 5\n",
                     0, "WRITE-SIZE-1", 14);
    EXPECT_VIOLATION(SMADE "t1 query can_write_eof 0\n", 0, "WRITE-CANEOF-1", 8);
    /* the limits a query shows are those in force afterwards */
    expect_ok(SMADE "t1 query get_write_buffer_limits low=16384 high=65536\n"
                    "t1 call set_write_buffer_limits high=5 low=6\n"
                    "t1 ret set_write_buffer_limits EINVAL size=0 low=16384 high=65536\n"
                    "t1 query get_write_buffer_limits low=16384 high=65536\n",
              0);
}

TEST(exception_reports)
{
    check_trace_file("bad_missing_exc");
    check_trace_file("bad_pause_fail_unreported");
    check_trace_file("good_stream_queries_exc");
    /* a failing connection_made / connection_lost is reported */
    EXPECT_VIOLATION(SMADE "t1 call abort\nt1 ret abort 0 size=0\niter 3\n"
                           "t1 cb connection_lost status=0\nt1 ret connection_lost EVALUE\n"
                           "iter 4\n",
                     0, "PROTO-BASE-5", 13);
    expect_ok(SMADE "t1 call abort\nt1 ret abort 0 size=0\niter 3\n"
                    "t1 cb connection_lost status=0\nt1 ret connection_lost EVALUE\n"
                    "t1 exc status=EVALUE Exception in callback protocol.connection_lost()\n",
              AIOTP_ORACLE_REQUIRE_LOST);
    EXPECT_VIOLATION("aiotp-trace 3 impl=aiotp\niter 1\nt1 open tcp\n"
                     "t1 limits low=16384 high=65536\niter 2\nt1 cb connection_made\n"
                     "t1 ret connection_made EVALUE\n",
                     0, "PROTO-BASE-5", 7);
    /* empty buffer: reported with EEMPTYBUF before connection_lost */
    EXPECT_VIOLATION(SMADE "iter 3\nt1 cb get_buffer sizehint=-1\nt1 ret get_buffer 0 len=0\n"
                           "t1 exc status=EVALUE something else\n"
                           "t1 cb connection_lost status=EEMPTYBUF\n",
                     0, "PROTO-BUF-2", 12);
    /* a second failure while one is due: the first was never reported */
    EXPECT_VIOLATION(SMADE "t1 call write n=70000\nt1 cb pause_writing size=70000 high=65536\n"
                           "t1 ret pause_writing EVALUE\nt1 ret write 0 size=70000 total=70000 "
                           "sum=01010101\n",
                     0, "FLOW-8", 11);
    EXPECT_VIOLATION(DMADE "iter 3\nt1 cb datagram_received n=1 addr=- sum=01010101\n"
                           "t1 ret datagram_received EVALUE\n"
                           "t1 cb datagram_received n=1 addr=- sum=01010101\n",
                     0, "DGRAM-CB-1", 11);
    /* formats 1 and 2 have no exc lines: nothing is expected */
    expect_ok(MADE "iter 3\nt1 cb data_received n=1 total=1 sum=01234567\n"
                   "t1 ret data_received ECALLBACK\niter 4\n"
                   "t1 cb connection_lost status=ECALLBACK\nt1 ret connection_lost 0\n",
              0);
    /* under doc, what a failing callback does is not known: no status expected, and data
       may still come */
    g_profile = AIOTP_ORACLE_PROFILE_DOC;
    expect_ok(SMADE "iter 3\nt1 cb data_received n=1 total=1 sum=01234567\n"
                    "t1 ret data_received ECALLBACK\niter 4\n"
                    "t1 cb data_received n=1 total=2 sum=01234567\n"
                    "t1 ret data_received 0\nt1 query is_closing 0\n"
                    "t1 cb data_received n=1 total=3 sum=01234567\n"
                    "t1 ret data_received EVALUE\nt1 query is_closing 1\niter 5\n"
                    "t1 cb connection_lost status=EPIPE\nt1 ret connection_lost 0\n",
              0);
    expect_ok(SMADE "t1 call write n=1\nt1 ret write EPIPE size=0 total=0 sum=00000000\n"
                    "t1 query is_reading 1\niter 3\n"
                    "t1 cb data_received n=1 total=1 sum=01234567\n"
                    "t1 ret data_received 0\nt1 call write n=1\n"
                    "t1 ret write EPIPE size=0 total=0 sum=00000000\n"
                    "t1 query is_reading 0\n",
              0);
    g_profile = AIOTP_ORACLE_PROFILE_AIOTP;
}

/* ---- profiles, every violation, format 3 ---------------------------------------------- */

TEST(profiles)
{
    /* uvloop's limits and size hint: fine under doc, CPython's under cpython */
    check_trace_file("good_uvloop_doc");
    {
        outcome r = run_trace_p("aiotp-trace 3 impl=uvloop-0.17.0\nt1 open tcp\n"
                                "t1 limits low=16 high=65536\n",
                                0, 0, AIOTP_ORACLE_PROFILE_CPYTHON);
        CHECK_STR(r.rule, "FLOW-1");
        r = run_trace_p("aiotp-trace 3 impl=uvloop-0.17.0\nt1 open tcp\n"
                        "t1 limits low=16 high=65536\n",
                        0, 0, AIOTP_ORACLE_PROFILE_AUTO);
        CHECK_INT(r.rc, 0);
        /* AUTO: impl=aiotp is checked with every rule */
        r = run_trace_p("aiotp-trace 3 impl=aiotp\nt1 open tcp\nt1 limits low=16 high=65536\n",
                        0, 0, AIOTP_ORACLE_PROFILE_AUTO);
        CHECK_STR(r.rule, "FLOW-1");
        /* a header without impl (formats 1, 2) is a foreign trace: doc */
        r = run_trace_p("aiotp-trace 2\nt1 open tcp\nt1 limits low=16 high=65536\n", 0, 0,
                        AIOTP_ORACLE_PROFILE_AUTO);
        CHECK_INT(r.rc, 0);
    }
    /* an aiotp rule (BAD-2) is checked by aiotp only */
    {
        static const char t[] = MADE "t1 call abort\nt1 ret abort 0 size=0\niter 3\n"
                                     "t1 cb connection_lost status=0\nt1 ret connection_lost 0\n"
                                     "t1 call close\nt1 ret close EPIPE size=0\n";
        CHECK_INT(run_trace_p(t, 0, 0, AIOTP_ORACLE_PROFILE_CPYTHON).rc, 0);
        CHECK_STR(run_trace_p(t, 0, 0, AIOTP_ORACLE_PROFILE_AIOTP).rule, "BAD-2");
    }
}

TEST(profile_api)
{
    aiotp_oracle *o = NULL;
    size_t i;
    const aiotp_oracle_rule *r;
    size_t per[4] = {0, 0, 0, 0};
    CHECK_INT(aiotp_oracle_new(NULL, &ALLOC, &o), 0);
    CHECK_INT(aiotp_oracle_profile(o), AIOTP_ORACLE_PROFILE_DOC);
    CHECK_INT(aiotp_oracle_set_profile(o, 4), AIOTP_ORACLE_EINVAL);
    CHECK_INT(aiotp_oracle_set_profile(o, -1), AIOTP_ORACLE_EINVAL);
    CHECK_INT(aiotp_oracle_set_profile(NULL, 1), AIOTP_ORACLE_EINVAL);
    CHECK_INT(aiotp_oracle_set_report(NULL, NULL, NULL), AIOTP_ORACLE_EINVAL);
    CHECK_INT(aiotp_oracle_set_profile(o, AIOTP_ORACLE_PROFILE_CPYTHON), 0);
    CHECK_INT(aiotp_oracle_profile(o), AIOTP_ORACLE_PROFILE_CPYTHON);
    CHECK_INT(aiotp_oracle_feed_line(o, "aiotp-trace 3 impl=aiotp", 1), 0);
    CHECK_INT(aiotp_oracle_profile(o), AIOTP_ORACLE_PROFILE_CPYTHON); /* not AUTO */
    CHECK_INT(aiotp_oracle_set_profile(o, AIOTP_ORACLE_PROFILE_AUTO), 0);
    CHECK_INT(aiotp_oracle_profile(o), AIOTP_ORACLE_PROFILE_AIOTP);
    CHECK_INT((int)aiotp_oracle_version(o), 3);
    CHECK_STR(aiotp_oracle_impl(o), "aiotp");
    CHECK_INT(aiotp_oracle_feed_line(o, "aiotp-trace 2", 2), 0); /* another loop */
    CHECK_INT(aiotp_oracle_profile(o), AIOTP_ORACLE_PROFILE_DOC);
    CHECK_STR(aiotp_oracle_impl(o), "");
    CHECK(aiotp_oracle_error(o) == NULL);
    aiotp_oracle_free(o);
    CHECK(aiotp_oracle_profile(NULL) == AIOTP_ORACLE_PROFILE_DOC);
    CHECK(aiotp_oracle_version(NULL) == 0);
    CHECK_STR(aiotp_oracle_impl(NULL), "");
    CHECK(aiotp_oracle_live(NULL) == 0);
    CHECK(aiotp_oracle_error(NULL) == NULL);
    CHECK_SIZE(aiotp_oracle_rule_violations(NULL, 0), 0);
    for (i = 0; i <= AIOTP_ORACLE_PROFILE_AIOTP; i++) {
        CHECK_INT(aiotp_oracle_profile_parse(aiotp_oracle_profile_name((int)i)), (int)i);
    }
    CHECK(aiotp_oracle_profile_name(7) == NULL);
    CHECK_INT(aiotp_oracle_profile_parse("strict"), -1);
    CHECK_INT(aiotp_oracle_profile_parse(NULL), -1);
    /* every rule has an ID, a text, a module and a profile; IDs are unique */
    for (i = 0; (r = aiotp_oracle_rule_at(i)) != NULL; i++) {
        size_t j;
        CHECK(r->id != NULL && r->text != NULL && r->module != NULL);
        CHECK(r->profile >= AIOTP_ORACLE_PROFILE_DOC && r->profile <= AIOTP_ORACLE_PROFILE_AIOTP);
        CHECK(aiotp_oracle_rule_text(r->id) == r->text);
        per[r->profile]++;
        for (j = 0; j < i; j++) {
            CHECK(strcmp(aiotp_oracle_rule_at(j)->id, r->id) != 0);
        }
    }
    CHECK(i > 60);
    CHECK(per[1] > 0 && per[2] > 0 && per[3] > 0);
    CHECK(aiotp_oracle_rule_text(NULL) == NULL);
    CHECK_SIZE(live, 0);
}

/* Collects the rules reported, in order. */
typedef struct collected {
    char rules[16][24];
    size_t lines[16];
    size_t n;
    int errors;
} collected;

static void collect(void *arg, const aiotp_oracle_report *r)
{
    collected *c = arg;
    if (r->result != AIOTP_ORACLE_VIOLATION) {
        c->errors++;
        return;
    }
    if (c->n < 16) {
        snprintf(c->rules[c->n], sizeof(c->rules[0]), "%s", r->rule);
        c->lines[c->n] = r->lineno;
    }
    c->n++;
}

TEST(every_violation_with_recovery)
{
    aiotp_oracle *o = NULL;
    collected c;
    char *text = load_trace("all_violations");
    const char *p;
    size_t lineno = 0;
    size_t i;
    size_t total = 0;
    const aiotp_oracle_rule *r;
    memset(&c, 0, sizeof(c));
    CHECK_INT(aiotp_oracle_new(NULL, &ALLOC, &o), 0);
    CHECK_INT(aiotp_oracle_set_report(o, collect, &c), 0);
    for (p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        (void)aiotp_oracle_feed(o, p, (size_t)(nl - p), ++lineno);
        p = nl + 1;
    }
    free(text);
    CHECK_INT(aiotp_oracle_finish(o), 0);
    /* each transport resynchronised after its violation: five, one per fault */
    CHECK_SIZE(c.n, 5);
    CHECK_STR(c.rules[0], "PROTO-STREAM-1");
    CHECK_SIZE(c.lines[0], 18);
    CHECK_STR(c.rules[1], "BASE-CLOSE-4");
    CHECK_STR(c.rules[2], "PROTO-STREAM-3");
    CHECK_STR(c.rules[3], "FLOW-4");
    CHECK_STR(c.rules[4], "PROTO-STREAM-5");
    CHECK_INT(c.errors, 0);
    for (i = 0; (r = aiotp_oracle_rule_at(i)) != NULL; i++) {
        total += aiotp_oracle_rule_violations(o, i);
        if (strcmp(r->id, "FLOW-4") == 0) {
            CHECK_SIZE(aiotp_oracle_rule_violations(o, i), 1);
        }
    }
    CHECK_SIZE(total, 5);
    CHECK_SIZE(aiotp_oracle_rule_violations(o, i), 0); /* past the last rule */
    CHECK_STR(aiotp_oracle_first(o)->rule, "PROTO-STREAM-1");
    /* the error that stops it comes through the callback too */
    CHECK_INT(aiotp_oracle_feed_line(o, "bogus", 38), AIOTP_ORACLE_EPARSE);
    CHECK_INT(c.errors, 1);
    CHECK(aiotp_oracle_error(o) != NULL && aiotp_oracle_error(o)->lineno == 38);
    CHECK_STR(aiotp_oracle_first(o)->rule, "PROTO-STREAM-1");
    aiotp_oracle_free(o);
    /* TRACE-1 recovery: the frames above the matching one are dropped */
    expect_ok_count(SMADE "iter 3\nt1 cb data_received n=1 total=1 sum=01010101\n"
                          "t1 call write n=1\nt1 call pause_reading\n"
                          "t1 ret data_received 0\niter 4\n",
                    1);
    /* an iter inside a callback abandons it: the ret that follows is out of place */
    expect_ok_count(SMADE "iter 3\nt1 cb data_received n=1 total=1 sum=01010101\niter 4\n"
                          "t1 ret data_received 0\nt1 call close\nt1 ret close 0 size=0\n",
                    2);
    /* a repeated header inside a callback too */
    expect_ok_count(SMADE "iter 3\nt1 call close\naiotp-trace 3 impl=aiotp\n", 1);
    /* a second open of a live id: replaced by the new transport */
    expect_ok_count(SMADE "t1 open tcp\nt1 limits low=16384 high=65536\niter 3\n"
                          "t1 cb connection_made\nt1 ret connection_made 0\n",
                    1);
    /* ... but not one whose cb/call is in progress */
    expect_ok_count(SMADE "iter 3\nt1 cb data_received n=1 total=1 sum=01010101\n"
                          "t1 open tcp\nt1 ret data_received 0\n",
                    1);
}

TEST(format_3)
{
    /* CRC-32 sums: the sum of no bytes is 00000000, FNV's 811c9dc5 is not */
    expect_ok(SMADE "t1 call write n=0\nt1 ret write 0 size=0 total=0 sum=00000000\n", 0);
    EXPECT_VIOLATION(SMADE "t1 call write n=0\nt1 ret write 0 size=0 total=0 sum=811c9dc5\n", 0,
                     "WRITE-WRITE-2", 9);
    /* a CRLF trace */
    check_trace_file("good_crlf");
    EXPECT_PARSE("aiotp-trace 3\n", 1);
    EXPECT_PARSE("aiotp-trace 3 impl=\n", 1);
    EXPECT_PARSE("aiotp-trace 3 impl=x y\n", 1);
    EXPECT_PARSE("aiotp-trace 3 name=aiotp\n", 1);
    EXPECT_PARSE("aiotp-trace 3 impl=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                 1);
    EXPECT_PARSE("aiotp-trace 2 impl=aiotp\n", 1);
    EXPECT_PARSE("aiotp-trace\n", 1);
    EXPECT_PARSE("aiotp-trace 4\n", 1);
    /* format-3 lines in older traces */
    EXPECT_PARSE("aiotp-trace 2\nt1 open udp\n", 2);
    EXPECT_PARSE("aiotp-trace 2\nt1 exc status=EVALUE boom\n", 2);
    EXPECT_PARSE("aiotp-trace 2\nloop exc status=EVALUE boom\n", 2);
    EXPECT_PARSE("aiotp-trace 2\nt1 query is_closing 0\n", 2);
    EXPECT_PARSE("aiotp-trace 2\nt1 cb datagram_received n=1 addr=- sum=01010101\n", 2);
    EXPECT_PARSE("aiotp-trace 2\nt1 call sendto n=1 addr=- sum=01010101\n", 2);
    EXPECT_PARSE("aiotp-trace 2\nt1 call set_protocol kind=datagram\n", 2);
    EXPECT_PARSE("aiotp-trace 2\nt1 ret write ENOTSUP size=0\n", 2);
    /* the new lines, strictly */
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 query is_open 1\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 query is_closing 2\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 query is_closing\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 query\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 query get_write_buffer_size x\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 query get_write_buffer_limits low=1\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 exc status=EVALUE \n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 exc  status=EVALUE\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 exc status=bad text\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 exc state=EVALUE\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1x exc status=EVALUE\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 open sctp\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 cb datagram_received n=1 addr=10.0.0.1 "
                 "sum=01010101\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 cb datagram_received n=1 host=- sum=01010101\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 cb error_received\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 ret sendto 0\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 ret datagram_received 0 x\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 call sendto n=1 addr=-\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 call set_protocol kind=pipe\n", 2);
    EXPECT_PARSE("aiotp-trace 3 impl=x\nt1 ret write 0 size=0\n", 2);
    expect_ok("aiotp-trace 3 impl=x\nloop exc status=0\nloop exc status=EVALUE what  ever\n"
              "t1 open unixdgram\nt1 limits low=16384 high=65536\nt1 exc status=EPIPE\n",
              0);
}

/* ---- scale: reclamation, the live limit, memory --------------------------------------- */

static size_t bytes_now;
static size_t bytes_peak;
static long allocs_left = -1; /* < 0: no failure */

static void *m_alloc(void *ctx, size_t size)
{
    size_t *p;
    (void)ctx;
    if (allocs_left == 0) {
        return NULL;
    }
    if (allocs_left > 0) {
        allocs_left--;
    }
    p = malloc(size);
    if (p != NULL) {
        bytes_now += size;
        if (bytes_now > bytes_peak) {
            bytes_peak = bytes_now;
        }
    }
    return p;
}

static void m_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    bytes_now -= size;
    free(p);
}

static const aiotp_oracle_alloc MEASURED = {m_alloc, m_free, NULL};

/* Feed a printf-formatted line; returns its result. */
#if defined(__GNUC__)
static int feedf(aiotp_oracle *o, size_t *lineno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#endif

static int feedf(aiotp_oracle *o, size_t *lineno, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    return aiotp_oracle_feed_line(o, line, ++*lineno);
}

/* n transports, each opened, connected, closed and lost in passes of its own, about
   `nlive` at a time; returns the results or-ed together. */
static int churn(aiotp_oracle *o, unsigned n, unsigned nlive, bool check_each)
{
    size_t lineno = 0;
    unsigned long iter = 1;
    unsigned i;
    int rc = 0;
    rc |= feedf(o, &lineno, "aiotp-trace 3 impl=aiotp");
    for (i = 1; i <= n + nlive; i++) {
        rc |= feedf(o, &lineno, "iter %lu", iter++);
        if (i <= n) {
            rc |= feedf(o, &lineno, "t%u open %s", i, i % 2 ? "tcp" : "udp");
            rc |= feedf(o, &lineno, "t%u limits low=16384 high=65536", i);
        }
        if (i > 1 && i - 1 <= n) {
            rc |= feedf(o, &lineno, "t%u cb connection_made", i - 1);
            rc |= feedf(o, &lineno, "t%u call close", i - 1);
            rc |= feedf(o, &lineno, "t%u ret close 0 size=0", i - 1);
            rc |= feedf(o, &lineno, "t%u ret connection_made 0", i - 1);
        }
        if (i > nlive && i - nlive <= n) {
            /* lost in the pass after its close() (with nlive = 2) */
            rc |= feedf(o, &lineno, "t%u cb connection_lost status=0", i - nlive);
            rc |= feedf(o, &lineno, "t%u ret connection_lost 0", i - nlive);
        }
        if (check_each) {
            CHECK(aiotp_oracle_is_valid(o));
        }
    }
    return rc;
}

TEST(reclaims_closed_transports)
{
    aiotp_oracle_config cfg = {4, AIOTP_ORACLE_REQUIRE_LOST};
    aiotp_oracle *o = NULL;
    size_t after_first;
    bytes_now = bytes_peak = 0;
    CHECK_INT(aiotp_oracle_new(&cfg, &MEASURED, &o), 0);
    /* 20,000 transports over the trace's life, at most 2 live: no limit error, memory
       stays what a few transports need */
    CHECK_INT(churn(o, 100, 2, true), 0);
    after_first = bytes_peak;
    CHECK_INT(churn(o, 20000, 2, false), 0);
    CHECK(aiotp_oracle_error(o) == NULL);
    CHECK_SIZE(bytes_peak, after_first);
    CHECK(aiotp_oracle_live(o) <= 4);
    CHECK(aiotp_oracle_is_valid(o));
    CHECK_INT(aiotp_oracle_finish(o), 0);
    aiotp_oracle_free(o);
    CHECK_SIZE(bytes_now, 0);
}

TEST(live_limit)
{
    aiotp_oracle_config cfg = {3000, 0};
    aiotp_oracle *o = NULL;
    size_t lineno = 0;
    unsigned i;
    /* 3000 live at once (the hash and the slot pool grow), then all lost: valid throughout */
    CHECK_INT(aiotp_oracle_new(&cfg, &MEASURED, &o), 0);
    CHECK_INT(feedf(o, &lineno, "aiotp-trace 3 impl=aiotp"), 0);
    for (i = 1; i <= 3000; i++) {
        CHECK_INT(feedf(o, &lineno, "t%u open tcp", i), 0);
        CHECK_INT(feedf(o, &lineno, "t%u limits low=16384 high=65536", i), 0);
    }
    CHECK_SIZE(aiotp_oracle_live(o), 3000);
    CHECK(aiotp_oracle_is_valid(o));
    for (i = 1; i <= 3000; i += 2) { /* every other one: holes in the probe chains */
        CHECK_INT(feedf(o, &lineno, "t%u cb connection_made", i), 0);
        CHECK_INT(feedf(o, &lineno, "t%u ret connection_made 0", i), 0);
        CHECK_INT(feedf(o, &lineno, "t%u cb connection_lost status=ECONNRESET", i), 0);
        CHECK_INT(feedf(o, &lineno, "t%u ret connection_lost 0", i), 0);
    }
    CHECK(aiotp_oracle_is_valid(o));
    CHECK_SIZE(aiotp_oracle_live(o), 1500);
    for (i = 2; i <= 3000; i += 2) {
        CHECK_INT(feedf(o, &lineno, "t%u query is_closing 0", i), 0);
    }
    /* 3001 live: the limit */
    for (i = 3001; i <= 4500; i++) {
        CHECK_INT(feedf(o, &lineno, "t%u open tcp", i), 0);
        CHECK_INT(feedf(o, &lineno, "t%u limits low=16384 high=65536", i), 0);
    }
    CHECK_INT(feedf(o, &lineno, "t4501 open tcp"), AIOTP_ORACLE_ELIMIT);
    CHECK(aiotp_oracle_error(o) != NULL && strstr(aiotp_oracle_error(o)->detail, "3000") != NULL);
    CHECK(aiotp_oracle_is_valid(o));
    aiotp_oracle_free(o);
    CHECK_SIZE(bytes_now, 0);
    /* ids that share a hash slot (t15, t47, t79, t111 all go to the last of 32, so their
       chain wraps around; t1, t33 to another): reclaiming one moves the rest back, and each
       is still found (a transport not found would be taken as reclaimed: is_closing 0 would
       then break BASE-CLOSING-1) */
    expect_ok("aiotp-trace 3 impl=aiotp\niter 1\n"
              "t1 open tcp\nt1 limits low=16384 high=65536\n"
              "t15 open tcp\nt15 limits low=16384 high=65536\n"
              "t33 open tcp\nt33 limits low=16384 high=65536\n"
              "t47 open tcp\nt47 limits low=16384 high=65536\n"
              "t79 open tcp\nt79 limits low=16384 high=65536\n"
              "t111 open tcp\nt111 limits low=16384 high=65536\niter 2\n"
              "t1 cb connection_made\nt1 ret connection_made 0\n"
              "t15 cb connection_made\nt15 ret connection_made 0\n"
              "t33 cb connection_made\nt33 ret connection_made 0\n"
              "t47 cb connection_made\nt47 ret connection_made 0\n"
              "t79 cb connection_made\nt79 ret connection_made 0\n"
              "t111 cb connection_made\nt111 ret connection_made 0\n"
              "t15 call abort\nt15 ret abort 0 size=0\nt1 call abort\nt1 ret abort 0 size=0\n"
              "iter 3\nt15 cb connection_lost status=0\nt15 ret connection_lost 0\n"
              "t1 cb connection_lost status=0\nt1 ret connection_lost 0\niter 4\n"
              "t47 query is_closing 0\nt79 query is_closing 0\nt111 query is_closing 0\n"
              "t33 query is_closing 0\nt15 query is_closing 1\nt1 query is_closing 1\n"
              "t79 call abort\nt79 ret abort 0 size=0\niter 5\n"
              "t79 cb connection_lost status=0\nt79 ret connection_lost 0\niter 6\n"
              "t47 query is_closing 0\nt111 query is_closing 0\nt79 query is_closing 1\n",
              0);
    /* a transport lost in this pass is live until the next pass */
    {
        static const char t[] = "aiotp-trace 3 impl=aiotp\niter 1\nt1 open tcp\n"
                                "t1 limits low=16384 high=65536\niter 2\n"
                                "t1 cb connection_made\nt1 ret connection_made 0\n"
                                "t1 cb connection_lost status=0\nt1 ret connection_lost 0\n"
                                "t2 open tcp\nt2 limits low=16384 high=65536\n";
        outcome r = run_trace(t, 0, 1);
        CHECK_INT(r.rc, AIOTP_ORACLE_ELIMIT);
        CHECK_SIZE(r.line, 10);
        CHECK_INT(run_trace(t, 0, 2).rc, 0);
    }
}

TEST(allocation_failures)
{
    long k;
    /* new(): the oracle, then its counters */
    for (k = 0; k < 2; k++) {
        aiotp_oracle *o = NULL;
        allocs_left = k;
        CHECK_INT(aiotp_oracle_new(NULL, &MEASURED, &o), AIOTP_ORACLE_ENOMEM);
        CHECK(o == NULL);
    }
    /* the first transport: the hash, then the slots; the oracle stops with ENOMEM */
    for (k = 2; k < 4; k++) {
        aiotp_oracle *o = NULL;
        allocs_left = k;
        CHECK_INT(aiotp_oracle_new(NULL, &MEASURED, &o), 0);
        CHECK_INT(aiotp_oracle_feed_line(o, "aiotp-trace 3 impl=aiotp", 1), 0);
        CHECK_INT(aiotp_oracle_feed_line(o, "t1 open tcp", 2), AIOTP_ORACLE_ENOMEM);
        CHECK_INT(aiotp_oracle_feed_line(o, "t1 limits low=16384 high=65536", 3),
                  AIOTP_ORACLE_ENOMEM);
        CHECK_INT(aiotp_oracle_finish(o), AIOTP_ORACLE_ENOMEM);
        CHECK(aiotp_oracle_error(o) != NULL && aiotp_oracle_error(o)->result == AIOTP_ORACLE_ENOMEM);
        CHECK(aiotp_oracle_is_valid(o));
        aiotp_oracle_free(o);
    }
    allocs_left = -1;
    CHECK_SIZE(bytes_now, 0);
}

/* DONE-1 is aiotp's: on a closing or closed transport pause_reading, resume_reading and
   write_eof answer ECLOSED; CPython's None (0) conforms to the doc and cpython profiles;
   ECLOSED on an open transport is a READ-2/READ-3/WRITE-EOF-3 violation. */
TEST(done_rule_profiles)
{
#define CLOSING SMADE "t1 call close\nt1 ret close 0 size=0\n"
    expect_ok(CLOSING "t1 call pause_reading\nt1 ret pause_reading ECLOSED size=0\n"
                      "t1 call resume_reading\nt1 ret resume_reading ECLOSED size=0\n"
                      "t1 call write_eof\nt1 ret write_eof ECLOSED size=0\n",
              0);
    EXPECT_VIOLATION(CLOSING "t1 call pause_reading\nt1 ret pause_reading 0 size=0\n", 0,
                     "DONE-1", 11);
    EXPECT_VIOLATION(CLOSING "t1 call resume_reading\nt1 ret resume_reading 0 size=0\n", 0,
                     "DONE-1", 11);
    EXPECT_VIOLATION(CLOSING "t1 call write_eof\nt1 ret write_eof 0 size=0\n", 0, "DONE-1",
                     11);
    EXPECT_VIOLATION(CLOSING "t1 call write_eof\nt1 ret write_eof EPIPE size=0\n", 0,
                     "WRITE-EOF-3", 11);
    EXPECT_VIOLATION(CLOSING "t1 call pause_reading\nt1 ret pause_reading EPIPE size=0\n", 0,
                     "READ-2", 11);
    /* open: ECLOSED is wrong, a repeated call answers 0 */
    EXPECT_VIOLATION(SMADE "t1 call pause_reading\nt1 ret pause_reading ECLOSED size=0\n", 0,
                     "READ-2", 9);
    EXPECT_VIOLATION(SMADE "t1 call resume_reading\nt1 ret resume_reading ECLOSED size=0\n", 0,
                     "READ-3", 9);
    EXPECT_VIOLATION(SMADE "t1 call write_eof\nt1 ret write_eof 0 size=0\n"
                           "t1 call write_eof\nt1 ret write_eof ECLOSED size=0\n",
                     0, "WRITE-EOF-3", 11);
    /* ECLOSED from the first write_eof on a transport open in the trace, in the pass of its
       connection_made (no I/O since that could have ended it unseen) */
    EXPECT_VIOLATION(SMADE "t1 call write_eof\nt1 ret write_eof ECLOSED size=0\n", 0, "DONE-1",
                     9);
    /* WRITE-EOF-4: every error of the first write_eof is the shutdown() error, EINVAL too
       (found by fuzz_stream: an injected EINVAL); the transport has failed, so the second
       answers ECLOSED and connection_lost(EINVAL) follows */
    expect_ok(SMADE "t1 call write_eof\nt1 ret write_eof EINVAL size=0\n"
                    "t1 call write_eof\nt1 ret write_eof ECLOSED size=0\n"
                    "iter 3\nt1 cb connection_lost status=EINVAL\nt1 ret connection_lost 0\n",
              0);
    EXPECT_VIOLATION(SMADE "t1 call write_eof\nt1 ret write_eof EINVAL size=0\n"
                           "t1 call write_eof\nt1 ret write_eof 0 size=0\n",
                     0, "DONE-1", 11);
    EXPECT_VIOLATION(SMADE "t1 call write_eof\nt1 ret write_eof EINVAL size=0\n"
                           "iter 3\nt1 cb connection_lost status=0\nt1 ret connection_lost 0\n",
                     0, "WRITE-EOF-4", 11);
    /* CPython's None */
    g_profile = AIOTP_ORACLE_PROFILE_CPYTHON;
    expect_ok(CLOSING "t1 call pause_reading\nt1 ret pause_reading 0 size=0\n"
                      "t1 call write_eof\nt1 ret write_eof 0 size=0\n",
              0);
    g_profile = AIOTP_ORACLE_PROFILE_AIOTP;
#undef CLOSING
}

TEST(gone_transports)
{
    /* lines naming a transport reclaimed after its connection_lost (a pass later): the
       rules about calls after connection_lost still hold */
#define GONE                                                                              \
    SMADE "t1 call abort\nt1 ret abort 0 size=0\niter 3\n"                                 \
          "t1 cb connection_lost status=0\nt1 ret connection_lost 0\niter 4\n"
    expect_ok(GONE "t1 call close\nt1 ret close ECLOSED size=0\n"
                   "t1 call write n=3\nt1 ret write ECLOSED size=0 total=99 sum=01010101\n"
                   "t1 call sendto n=3 addr=- sum=01010101\nt1 ret sendto ENOTSUP size=0\n"
                   "t1 call write_eof\nt1 ret write_eof ECLOSED size=0\n"
                   "t1 call set_write_buffer_limits high=10 low=NONE\n"
                   "t1 ret set_write_buffer_limits 0 size=0 low=2 high=10\n"
                   "t1 query is_closing 1\nt1 query is_reading 0\n"
                   "t1 query get_write_buffer_size 0\n"
                   "t1 query get_write_buffer_limits low=2 high=10\n"
                   "t1 exc status=EVALUE late\n",
              0);
    EXPECT_VIOLATION(GONE "t1 call write n=3\nt1 ret write 0 size=0 total=3 sum=01010101\n", 0,
                     "WRITE-WRITE-5", 15);
    EXPECT_VIOLATION(GONE "t1 call write_eof\nt1 ret write_eof EPIPE size=0\n", 0, "BAD-2",
                     15);
    EXPECT_VIOLATION(GONE "t1 call write_eof\nt1 ret write_eof 0 size=0\n", 0, "DONE-1", 15);
    EXPECT_VIOLATION(GONE "t1 call close\nt1 ret close 0 size=0\n", 0, "BASE-CLOSE-4", 15);
    EXPECT_VIOLATION(GONE "t1 call close\nt1 ret close EPIPE size=0\n", 0, "BAD-2", 15);
    EXPECT_VIOLATION(GONE "t1 call close\nt1 ret close ECLOSED size=3\n", 0, "BAD-2", 15);
    EXPECT_VIOLATION(GONE "t1 cb data_received n=1 total=1 sum=01010101\n", 0, "PROTO-BASE-2",
                     14);
    EXPECT_VIOLATION(GONE "t1 peer t1\n", 0, "TRACE-5", 14);
    EXPECT_VIOLATION(GONE "t1 limits low=1 high=2\n", 0, "TRACE-3", 14);
    EXPECT_VIOLATION(GONE "t1 query get_write_buffer_size 7\n", 0, "WRITE-SIZE-1", 14);
    /* a call on it inside another transport's callback keeps its state for the ret */
    expect_ok(GONE "t2 open tcp\nt2 limits low=16384 high=65536\niter 5\n"
                   "t2 cb connection_made\nt1 call close\nt1 ret close ECLOSED size=0\n"
                   "t2 ret connection_made 0\n",
              0);
    /* ids are opened in increasing order: a lower one was never opened in this loop */
    EXPECT_VIOLATION(SMADE "t3 open tcp\nt3 limits low=16384 high=65536\nt2 open tcp\n", 0,
                     "TRACE-3", 10);
    EXPECT_VIOLATION(SMADE "t9 call close\n", 0, "TRACE-3", 8);
#undef GONE
}

TEST(peer_after_reclaim)
{
    /* t1 writes, closes and is lost (reclaimed) before t2 reads: t2's bytes and EOF are
       still checked against what t1 wrote */
#define P1 PAIRED "iter 3\nt1 call write n=5\nt1 ret write 0 size=0 total=5 sum=0000aaaa\n" \
                  "t1 call close\nt1 ret close 0 size=0\niter 4\n"                       \
                  "t1 cb connection_lost status=0\nt1 ret connection_lost 0\niter 5\n"
    expect_ok(P1 "t2 cb data_received n=5 total=5 sum=0000aaaa\nt2 ret data_received 0\n"
                 "iter 6\nt2 cb eof_received\nt2 ret eof_received 0\n",
              0);
    EXPECT_VIOLATION(P1 "t2 cb data_received n=5 total=5 sum=0000abab\n", 0, "PROTO-STREAM-1",
                     22);
    EXPECT_VIOLATION(P1 "t2 cb eof_received\n", 0, "PROTO-STREAM-1", 22);
#undef P1
}

TEST(corner_cases)
{
    aiotp_oracle *o = NULL;
    char big[AIOTP_ORACLE_MAX_LINE + 8];
    /* invalid limits accepted */
    EXPECT_VIOLATION(SMADE "t1 call set_write_buffer_limits high=-1 low=NONE\n"
                           "t1 ret set_write_buffer_limits 0 size=0 low=0 high=0\n",
                     0, "FLOW-3", 9);
    EXPECT_VIOLATION(SMADE "t1 call pause_reading\nt1 ret pause_reading EINVAL size=0\n", 0,
                     "READ-2", 9);
    /* an open line right after the same open line */
    expect_ok_count("aiotp-trace 3 impl=aiotp\nt1 open tcp\nt1 open tcp\n"
                    "t1 limits low=16384 high=65536\n",
                    1);
    /* a repeated header drops the deadlines of this pass too */
    expect_ok(MADE PAUSED "t1 call close\nt1 ret close 0 size=70000\niter 4\n"
                          "t1 cb resume_writing size=0 low=16384\nt1 ret resume_writing 0\n"
                          "aiotp-trace 1\niter 1\n",
              0);
    /* a peer of the loop before the header */
    EXPECT_VIOLATION("aiotp-trace 2\nt1 open tcp\nt1 limits low=16384 high=65536\n"
                     "aiotp-trace 2\nt2 open tcp\nt2 limits low=16384 high=65536\nt2 peer t1\n",
                     0, "TRACE-5", 7);
    /* a live datagram transport after its connection_lost: BAD-2 */
    EXPECT_VIOLATION(DMADE "t1 call close\nt1 ret close 0 size=0\niter 3\n"
                           "t1 cb connection_lost status=0\nt1 ret connection_lost 0\n"
                           "t1 call close\nt1 ret close EPIPE size=0\n",
                     0, "BAD-2", 14);
    /* ... but argument errors come before the state (found by fuzz_dgram: the library
       refuses an oversized datagram and a stream table whatever the state) */
    expect_ok(DMADE "t1 call close\nt1 ret close 0 size=0\niter 3\n"
                    "t1 cb connection_lost status=0\nt1 ret connection_lost 0\n"
                    "t1 call sendto n=262145 addr=- sum=00000000\n"
                    "t1 ret sendto ETOOBIG size=0\n"
                    "t1 call set_protocol kind=streaming\nt1 ret set_protocol EPROTOKIND size=0\n",
              0);
    /* no memory for a reclaimed transport's short-lived state */
    allocs_left = 4; /* the oracle, its counters, the hash, one chunk of slots */
    CHECK_INT(aiotp_oracle_new(NULL, &MEASURED, &o), 0);
    if (o != NULL) {
        size_t lineno = 0;
        unsigned i;
        CHECK_INT(feedf(o, &lineno, "aiotp-trace 3 impl=aiotp"), 0);
        for (i = 1; i <= ORC_FIRST_CHUNK; i++) {
            CHECK_INT(feedf(o, &lineno, "t%u open tcp", i), 0);
            CHECK_INT(feedf(o, &lineno, "t%u limits low=16384 high=65536", i), 0);
        }
        CHECK_INT(feedf(o, &lineno, "t0 call close"), AIOTP_ORACLE_ENOMEM);
        /* once stopped, even a line with no end within the limit says so */
        memset(big, 'x', sizeof(big));
        CHECK_INT(aiotp_oracle_feed_line(o, big, ++lineno), AIOTP_ORACLE_ENOMEM);
        CHECK(aiotp_oracle_is_valid(o));
        aiotp_oracle_free(o);
    }
    allocs_left = -1;
    CHECK_SIZE(bytes_now, 0);
}

TEST(drain_then_lost)
{
    /* BASE-CLOSE-2: the drain that empties a closing transport's buffer ends in
       connection_lost, in that pass */
    expect_ok(MADE PAUSED "t1 call close\nt1 ret close 0 size=70000\niter 4\n"
                          "t1 cb resume_writing size=0 low=16384\nt1 ret resume_writing 0\n"
                          "t1 cb connection_lost status=0\nt1 ret connection_lost 0\n",
              AIOTP_ORACLE_REQUIRE_LOST);
    EXPECT_VIOLATION(MADE PAUSED "t1 call close\nt1 ret close 0 size=70000\niter 4\n"
                                 "t1 cb resume_writing size=0 low=16384\n"
                                 "t1 ret resume_writing 0\niter 5\n",
                     0, "BASE-CLOSE-2", 18);
    /* resume_writing wrote more: not drained, no expectation */
    expect_ok(MADE PAUSED "t1 call close\nt1 ret close 0 size=70000\niter 4\n"
                          "t1 cb resume_writing size=0 low=16384\nt1 call write n=5\n"
                          "t1 ret write 0 size=5 total=70005 sum=01010101\n"
                          "t1 ret resume_writing 0\niter 5\n",
              0);
}

/* ---- the deep check finds every corruption ------------------------------------------- */

/* A state with a bit of everything: a pair, a transport waiting for connection_made, one
   for a scheduled connection_lost, one kept lost until the next pass, one reclaimed and
   named again inside a call (gone), an exception report due, nested frames. */
static const char RICH[] =
    "aiotp-trace 3 impl=aiotp\n"
    "iter 1\n"
    "t1 open tcp\nt1 limits low=16384 high=65536\n"
    "t2 open tcp\nt2 limits low=16384 high=65536\nt2 peer t1\n"
    "t4 open tcp\nt4 limits low=16384 high=65536\n"
    "t6 open udp\nt6 limits low=16384 high=65536\n"
    "iter 2\n"
    "t1 cb connection_made\nt1 ret connection_made 0\n"
    "t2 cb connection_made\nt2 ret connection_made 0\n"
    "t4 cb connection_made\nt4 ret connection_made 0\n"
    "t6 cb connection_made\nt6 ret connection_made 0\n"
    "t6 call abort\nt6 ret abort 0 size=0\n"
    "iter 3\n"
    "t6 cb connection_lost status=0\nt6 ret connection_lost 0\n"
    "t4 call abort\nt4 ret abort 0 size=0\n"
    "t7 open udp\nt7 limits low=16384 high=65536\n"
    "iter 4\n"
    "t7 cb connection_made\nt7 ret connection_made 0\n"
    "t7 cb datagram_received n=1 addr=- sum=01010101\nt7 ret datagram_received EVALUE\n"
    "t4 cb connection_lost status=0\nt4 ret connection_lost 0\n"
    "t8 open udp\nt8 limits low=16384 high=65536\n"
    "t1 call close\nt1 ret close 0 size=0\n"
    "t9 open tcp\nt9 limits low=16384 high=65536\n"
    "t6 call close\n"
    "t2 call write n=70000\n"
    "t2 cb pause_writing size=70000 high=65536\n"
    "t2 call set_write_buffer_limits high=1 low=NONE\n"
    "t2 ret set_write_buffer_limits 0 size=70000 low=0 high=1\n";

static aiotp_oracle *rich_oracle(void)
{
    aiotp_oracle *o = NULL;
    const char *p = RICH;
    size_t lineno = 0;
    CHECK_INT(aiotp_oracle_new(NULL, &ALLOC, &o), 0);
    while (o != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        CHECK_INT(aiotp_oracle_feed(o, p, (size_t)(nl - p), ++lineno), 0);
        p = nl + 1;
    }
    return o;
}

static orc_t *live_t(aiotp_oracle *o, unsigned long id)
{
    orc_t *t;
    for (t = o->live.head; t != NULL && t->id != id; t = t->live.next) {
    }
    CHECK(t != NULL);
    return t;
}

/* Each corruption must be found, and undoing it must make the state valid again. */
#define BREAKS(field, bad)                                                                \
    do {                                                                                  \
        memcpy(&saved, &(field), sizeof(field));                                          \
        field = bad;                                                                      \
        if (aiotp_oracle_is_valid(o)) {                                                   \
            th_fail(__FILE__, __LINE__, "not found: %s = %s", #field, #bad);              \
        }                                                                                 \
        memcpy(&(field), &saved, sizeof(field));                                          \
        CHECK(aiotp_oracle_is_valid(o));                                                  \
    } while (0)

TEST(deep_check_finds_corruption)
{
    aiotp_oracle *o = rich_oracle();
    union {
        uint64_t u;
        void *p;
        size_t z;
        long double ld;
        char text[AIOTP_ORACLE_KEEP];
        aiotp_oracle_report rep;
    } saved;
    orc_t *t1;
    orc_t *t2;
    orc_t *t4;
    orc_t *t6;
    orc_t *t8;
    orc_t *t9;
    orc_t *t7;
    orc_t *slot;
    size_t i;
    if (o == NULL) {
        return;
    }
    CHECK(aiotp_oracle_is_valid(o));
    CHECK_SIZE(aiotp_oracle_violations(o), 0);
    t1 = live_t(o, 1);
    t2 = live_t(o, 2);
    t4 = live_t(o, 4);
    t6 = live_t(o, 6);
    t8 = live_t(o, 8);
    t9 = live_t(o, 9);
    t7 = live_t(o, 7);
    if (t1 == NULL || t2 == NULL || t4 == NULL || t6 == NULL || t8 == NULL || t9 == NULL ||
        t7 == NULL) {
        aiotp_oracle_free(o);
        return;
    }
    /* what the trace set up */
    CHECK_INT(t1->wait, W_LOST_NEXT);
    CHECK_INT(t4->wait, W_DEAD);
    CHECK_INT(t6->tkind, TK_GONE);
    CHECK_INT(t8->wait, W_MADE);
    CHECK_SIZE(o->depth, 3);
    /* the oracle */
    BREAKS(o->max_live, 0);
    BREAKS(o->max_live, AIOTP_ORACLE_MAX_TRANSPORTS + 1u);
    BREAKS(o->depth, AIOTP_ORACLE_MAX_DEPTH + 1u);
    BREAKS(o->recent.head, AIOTP_ORACLE_RECENT);
    BREAKS(o->recent.count, AIOTP_ORACLE_RECENT + 1u);
    BREAKS(o->profile, 0);
    BREAKS(o->profile, 4);
    BREAKS(o->have_first, true);
    BREAKS(o->nslots, o->nslots + 1);
    BREAKS(o->ngone, o->nlive + 1);
    BREAKS(o->tab_cap, o->tab_cap / 4);
    BREAKS(o->tab_cap, o->tab_cap - 2);
    BREAKS(o->nlive, o->nlive + 1);
    BREAKS(o->nlive, o->nlive - 1);
    BREAKS(o->live.tail, t1);
    BREAKS(o->last_open, o->free_list);
    BREAKS(o->header_seen, false);
    memcpy(saved.text, o->recent.ev[0].text, AIOTP_ORACLE_KEEP);
    memset(o->recent.ev[0].text, 'x', AIOTP_ORACLE_KEEP);
    CHECK(!aiotp_oracle_is_valid(o));
    memcpy(o->recent.ev[0].text, saved.text, AIOTP_ORACLE_KEEP);
    /* results */
    o->nviol = 1;
    o->have_first = true;
    CHECK(aiotp_oracle_is_valid(o));
    BREAKS(o->first.nrecent, AIOTP_ORACLE_RECENT + 1u);
    o->stopped = true;
    o->stop_code = AIOTP_ORACLE_EPARSE;
    CHECK(aiotp_oracle_is_valid(o));
    BREAKS(o->stop_code, AIOTP_ORACLE_EINVAL);
    o->stopped = false;
    o->nviol = 0;
    o->have_first = false;
    CHECK(aiotp_oracle_is_valid(o));
    /* a transport */
    BREAKS(t1->in_use, false);
    BREAKS(t1->tkind, TK_COUNT);
    BREAKS(t1->tkind, -1);
    BREAKS(t1->recent.head, AIOTP_ORACLE_RECENT);
    BREAKS(t1->id, 99);
    BREAKS(t1->segment, 5);
    BREAKS(t1->cl, CL_UNKNOWN + 1);
    BREAKS(t1->cl, CL_OPEN - 1);
    memcpy(saved.text, t1->expect, sizeof(t1->expect));
    memset(t1->expect, 'x', sizeof(t1->expect));
    CHECK(!aiotp_oracle_is_valid(o));
    memcpy(t1->expect, saved.text, sizeof(t1->expect));
    BREAKS(t1->expect_rule, NULL);
    BREAKS(t1->cl, CL_FLUSHING);
    BREAKS(t2->aborted, true);
    BREAKS(t2->peer, t9);
    BREAKS(t2->paired, false);
    BREAKS(t2->peer_gone, true);
    BREAKS(t1->wait_rule, NULL);
    BREAKS(t1->lost, true);
    BREAKS(t4->lost, false);
    BREAKS(t7->exc_rule, NULL);
    BREAKS(t7->exc_depth, AIOTP_ORACLE_MAX_DEPTH + 1u);
    BREAKS(t7->exc_pending, false);
    BREAKS(t2->cl_by_query, true);
    BREAKS(t2->ncb, t2->nframes + 1);
    BREAKS(t2->live.prev, t9);
    /* kinds */
    BREAKS(t2->u.s.pkind, PK_DATAGRAM);
    BREAKS(t2->u.s.pkind, -1);
    BREAKS(t2->u.s.pending_pkind, PK_DATAGRAM);
    BREAKS(t2->u.s.pending_pkind, -1);
    BREAKS(t9->u.s.eof, true);
    t9->made = false;
    CHECK(aiotp_oracle_is_valid(o));
    BREAKS(t9->u.s.eof, true);
    t9->made = true;
    BREAKS(t2->u.s.tx.ck_n, ORC_CHECKPOINTS + 1);
    BREAKS(t2->u.s.tx.ck_head, ORC_CHECKPOINTS);
    BREAKS(t2->u.s.peer_final.ck_n, ORC_CHECKPOINTS + 1);
    BREAKS(t2->u.s.peer_final.ck_head, ORC_CHECKPOINTS);
    t2->u.s.gb_pending = true;
    t2->u.s.gb_len = 5;
    t2->u.s.gb_seq = t2->seq;
    CHECK(aiotp_oracle_is_valid(o));
    BREAKS(t2->u.s.gb_len, 0);
    BREAKS(t2->u.s.gb_seq, t2->seq + 1);
    BREAKS(t2->lost, true);
    t2->u.s.gb_pending = false;
    BREAKS(t8->u.d.sent.n, ORC_DGRAM_SENT + 1);
    BREAKS(t8->u.d.sent.next, ORC_DGRAM_SENT);
    BREAKS(t8->u.d.peer_final.n, ORC_DGRAM_SENT + 1);
    BREAKS(t8->u.d.peer_final.next, ORC_DGRAM_SENT);
    memset(t8->u.d.err_status, 'x', ORC_STATUS_MAX);
    CHECK(!aiotp_oracle_is_valid(o));
    t8->u.d.err_status[0] = '\0';
    CHECK(aiotp_oracle_is_valid(o));
    BREAKS(t6->made, false);
    BREAKS(t6->lost, false);
    BREAKS(t6->paired, true);
    BREAKS(t6->peer, t8);
    /* a pair of another kind */
    t8->peer = t9;
    t9->peer = t8;
    t8->paired = t9->paired = true;
    CHECK(!aiotp_oracle_is_valid(o));
    t8->peer = t9->peer = NULL;
    t8->paired = t9->paired = false;
    CHECK(aiotp_oracle_is_valid(o));
    /* lists */
    BREAKS(o->free_list->in_use, true);
    BREAKS(o->wnext.head->wait, W_LOST_NOW);
    BREAKS(o->wnext.head->deadline, 1000);
    BREAKS(o->wnext.tail, o->wnext.head->wl.next);
    BREAKS(o->dead.head->wait, W_MADE);
    BREAKS(o->exc.head->exc_pending, false);
    BREAKS(o->exc.head, o->free_list);
    BREAKS(o->dead.head, o->free_list);
    BREAKS(o->wnext.head, o->free_list);
    t2->wait = W_LOST_NOW;
    t2->wait_rule = t1->wait_rule;
    o->wnow.head = o->wnow.tail = t2;
    CHECK(aiotp_oracle_is_valid(o));
    BREAKS(t2->wait, W_MADE);
    BREAKS(o->wnow.head, o->free_list);
    o->wnow.head = o->wnow.tail = NULL;
    t2->wait = W_NONE;
    t2->wait_rule = NULL;
    /* the hash: an entry naming a free slot */
    for (i = 0; i < o->tab_cap && o->tab[i] != NULL; i++) {
    }
    slot = o->free_list;
    BREAKS(o->tab[i], slot);
    /* frames */
    BREAKS(o->stack[1].t, NULL);
    BREAKS(o->stack[1].t, o->free_list);
    BREAKS(o->stack[1].name, N_COUNT);
    BREAKS(o->stack[1].is_call, false);
    BREAKS(o->stack[1].lineno, 1);
    BREAKS(o->stack[2].t, t9);
    aiotp_oracle_free(o);
    CHECK(!aiotp_oracle_is_valid(NULL));
    CHECK_SIZE(live, 0);
}
#undef BREAKS

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
        CHECK(strstr(th_trace(), "aiotp-trace 3 impl=aiotp\n") != NULL);
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


/* ---- pipe and subprocess transports (format 3) ----------------------------------------- */

#define H3 "aiotp-trace 3 impl=aiotp\n"

static void expect_ok_cpython(const char *text)
{
    outcome r = run_trace_p(text, 0, 0, AIOTP_ORACLE_PROFILE_CPYTHON);
    if (r.rc != 0) {
        th_fail(__FILE__, __LINE__, "expected conformance, got %d at line %zu: %s: %s", r.rc,
                r.line, r.rule ? r.rule : "-", r.detail);
    }
}

/* lines 1-6: a read pipe t1, connection_made in pass 2 */
#define RPIPE                                                                             \
    H3 "iter 1\n"                                                                         \
       "t1 open piperead\n"                                                               \
       "iter 2\n"                                                                         \
       "t1 cb connection_made\n"                                                          \
       "t1 ret connection_made 0\n"

/* lines 1-7: a write pipe t1 */
#define WPIPE                                                                             \
    H3 "iter 1\n"                                                                         \
       "t1 open pipewrite\n"                                                              \
       "t1 limits low=16384 high=65536\n"                                                 \
       "iter 2\n"                                                                         \
       "t1 cb connection_made\n"                                                          \
       "t1 ret connection_made 0\n"

TEST(pipe_read_sequence)
{
    expect_ok(RPIPE "iter 3\n"
                    "t1 cb data_received n=3 total=3 sum=352441c2\n"
                    "t1 ret data_received 0\n"
                    "t1 query is_reading 1\n"
                    "iter 4\n"
                    "iter 5\n"
                    "t1 cb eof_received\n"
                    "t1 ret eof_received 1\n"
                    "t1 cb connection_lost status=0\n"
                    "t1 ret connection_lost 0\n"
                    "t1 call close\n"
                    "t1 ret close ECLOSED size=0\n",
              0);
    /* PIPE-EOF-1: from the end of file on, before eof_received, is_closing() is true
       (and data after it is still wrong) */
    expect_ok(RPIPE "iter 3\n"
                    "t1 query is_closing 1\n"
                    "t1 query is_reading 0\n"
                    "iter 4\n"
                    "t1 cb eof_received\n"
                    "t1 ret eof_received 0\n"
                    "t1 cb connection_lost status=0\n"
                    "t1 ret connection_lost 0\n",
              0);
    EXPECT_VIOLATION(RPIPE "iter 3\n"
                           "t1 query is_closing 1\n"
                           "iter 4\n"
                           "t1 cb data_received n=3 total=3 sum=352441c2\n",
                     0, "BASE-CLOSING-1", 10);
    /* PIPE-EOF-1: connection_lost in the same pass, with 0 */
    EXPECT_VIOLATION(RPIPE "iter 3\n"
                           "t1 cb eof_received\n"
                           "t1 ret eof_received 0\n"
                           "iter 4\n"
                           "t1 cb connection_lost status=0\n"
                           "t1 ret connection_lost 0\n",
                     0, "PIPE-EOF-1", 10);
    EXPECT_VIOLATION(RPIPE "iter 3\n"
                           "t1 cb eof_received\n"
                           "t1 ret eof_received 0\n"
                           "t1 cb connection_lost status=EIO\n"
                           "t1 ret connection_lost 0\n",
                     0, "PIPE-EOF-1", 10);
    EXPECT_VIOLATION(RPIPE "iter 3\n"
                           "t1 cb eof_received\n"
                           "t1 ret eof_received 0\n"
                           "t1 cb eof_received\n",
                     0, "PIPE-EOF-1", 10);
    /* PIPE-READ-1 */
    EXPECT_VIOLATION(RPIPE "iter 3\n"
                           "t1 cb data_received n=0 total=0 sum=00000000\n",
                     0, "PIPE-READ-1", 8);
    EXPECT_VIOLATION(RPIPE "iter 3\n"
                           "t1 cb data_received n=3 total=4 sum=352441c2\n",
                     0, "PIPE-READ-1", 8);
    /* PIPE-READ-3: after close, after eof_received, while paused */
    EXPECT_VIOLATION(RPIPE "t1 call close\n"
                           "t1 ret close 0 size=0\n"
                           "iter 3\n"
                           "t1 cb data_received n=3 total=3 sum=352441c2\n",
                     0, "PIPE-READ-3", 10);
    EXPECT_VIOLATION(RPIPE "iter 3\n"
                           "t1 cb eof_received\n"
                           "t1 cb data_received n=3 total=3 sum=352441c2\n",
                     0, "TRACE-4", 9);
    EXPECT_VIOLATION(RPIPE "t1 call pause_reading\n"
                           "t1 ret pause_reading 0 size=0\n"
                           "iter 3\n"
                           "t1 cb data_received n=3 total=3 sum=352441c2\n",
                     0, "PIPE-READ-3", 10);
    /* PIPE-MADE-1 */
    EXPECT_VIOLATION(H3 "iter 1\n"
                        "t1 open piperead\n"
                        "iter 2\n"
                        "iter 3\n",
                     0, "PIPE-MADE-1", 5);
    /* PIPE-CLOSE-1: lost in the next pass; a second close */
    EXPECT_VIOLATION(RPIPE "t1 call close\n"
                           "t1 ret close 0 size=0\n"
                           "iter 3\n"
                           "iter 4\n",
                     0, "PIPE-CLOSE-1", 10);
    EXPECT_VIOLATION(RPIPE "t1 call close\n"
                           "t1 ret close 0 size=0\n"
                           "t1 call close\n"
                           "t1 ret close 0 size=0\n",
                     0, "PIPE-CLOSE-1", 10);
}

TEST(pipe_read_lost)
{
    /* PIPE-LOST-1 */
    EXPECT_VIOLATION(RPIPE "t1 call close\n"
                           "t1 ret close 0 size=0\n"
                           "iter 3\n"
                           "t1 cb connection_lost status=0\n"
                           "t1 ret connection_lost 0\n"
                           "t1 cb connection_lost status=0\n",
                     0, "PIPE-LOST-1", 12);
}

TEST(pipe_read_kinds)
{
    /* a read pipe has no write(), no abort(); no limits line */
    EXPECT_VIOLATION(RPIPE "t1 call write n=1\n"
                           "t1 ret write 0 size=0 total=1 sum=e8b7be43\n",
                     0, "TRANSPORT-KIND-2", 8);
    expect_ok(RPIPE "t1 call abort\n"
                    "t1 ret abort ENOTSUP size=0\n"
                    "t1 query can_write_eof 0\n",
              0);
    EXPECT_VIOLATION(RPIPE "t1 query can_write_eof 1\n", 0, "PIPE-WRITE-6", 7);
    EXPECT_VIOLATION(H3 "iter 1\n"
                        "t1 open piperead\n"
                        "t1 limits low=16384 high=65536\n",
                     0, "TRACE-3", 4);
    EXPECT_VIOLATION(RPIPE "t1 cb pause_writing size=1 high=0\n", 0, "PROTO-KIND-1", 7);
}

TEST(pipe_read_failing_callbacks)
{
    expect_ok(RPIPE "iter 3\n"
                    "t1 cb data_received n=3 total=3 sum=352441c2\n"
                    "t1 ret data_received EPERM\n"
                    "t1 exc status=EPERM Exception in callback protocol.data_received()\n"
                    "iter 4\n"
                    "t1 cb data_received n=3 total=6 sum=00000000\n"
                    "t1 ret data_received 0\n",
              0);
    EXPECT_VIOLATION(RPIPE "iter 3\n"
                           "t1 cb data_received n=3 total=3 sum=352441c2\n"
                           "t1 ret data_received EPERM\n"
                           "iter 4\n",
                     0, "PIPE-CB-1", 10);
}

TEST(pipe_write_sequence)
{
    expect_ok(WPIPE "iter 3\n"
                    "t1 call write n=100000\n"
                    "t1 cb pause_writing size=90000 high=65536\n"
                    "t1 ret pause_writing 0\n"
                    "t1 ret write 0 size=90000 total=100000 sum=01234567\n"
                    "t1 query can_write_eof 1\n"
                    "t1 query is_reading 0\n"
                    "iter 4\n"
                    "t1 cb resume_writing size=0 low=16384\n"
                    "t1 ret resume_writing 0\n"
                    "iter 5\n"
                    "t1 call write_eof\n"
                    "t1 ret write_eof 0 size=0\n"
                    "t1 query is_closing 1\n"
                    "t1 call write n=1\n"
                    "t1 ret write ECLOSED size=0 total=100000 sum=01234567\n"
                    "t1 call write n=0\n"
                    "t1 ret write 0 size=0 total=100000 sum=01234567\n"
                    "iter 6\n"
                    "t1 cb connection_lost status=0\n"
                    "t1 ret connection_lost 0\n",
              0);
    /* PIPE-FLOW-1: resume_writing only at 0 */
    EXPECT_VIOLATION(WPIPE "iter 3\n"
                           "t1 call write n=100000\n"
                           "t1 cb pause_writing size=90000 high=65536\n"
                           "t1 ret pause_writing 0\n"
                           "t1 ret write 0 size=90000 total=100000 sum=01234567\n"
                           "iter 4\n"
                           "t1 cb resume_writing size=100 low=16384\n",
                     0, "PIPE-FLOW-1", 14);
    /* PIPE-WRITE-3: a write accepted while closing (flushing) */
    EXPECT_VIOLATION(WPIPE "t1 call write n=100000\n"
                           "t1 cb pause_writing size=90000 high=65536\n"
                           "t1 ret pause_writing 0\n"
                           "t1 ret write 0 size=90000 total=100000 sum=01234567\n"
                           "t1 call write_eof\n"
                           "t1 ret write_eof 0 size=90000\n"
                           "t1 call write n=1\n"
                           "t1 ret write 0 size=90001 total=100001 sum=01234568\n",
                     0, "PIPE-WRITE-3", 15);
    /* PIPE-WRITE-2 */
    EXPECT_VIOLATION(WPIPE "t1 call write n=0\n"
                           "t1 ret write ECLOSED size=0 total=0 sum=00000000\n",
                     0, "PIPE-WRITE-2", 9);
    /* PIPE-WRITE-6: a second write_eof, can_write_eof 0 */
    EXPECT_VIOLATION(WPIPE "t1 call write_eof\n"
                           "t1 ret write_eof 0 size=0\n"
                           "t1 call write_eof\n"
                           "t1 ret write_eof 0 size=0\n",
                     0, "PIPE-CLOSE-1", 11);
    EXPECT_VIOLATION(WPIPE "t1 query can_write_eof 0\n", 0, "PIPE-WRITE-6", 8);
    EXPECT_VIOLATION(WPIPE "t1 query is_reading 1\n", 0, "TRANSPORT-KIND-2", 8);
}

/* PIPE-BORROW-1: one write_done per accepted borrowed write, never inside a call, all
   before connection_lost; kinds without write_borrowed answer ENOTSUP. */
TEST(pipe_write_borrowed)
{
    expect_ok(WPIPE "iter 3\n"
                    "t1 call write_borrowed n=5\n"
                    "t1 ret write_borrowed 0 size=0 total=5 sum=01234567\n"
                    "t1 call write_borrowed n=0\n"
                    "t1 ret write_borrowed 0 size=0 total=5 sum=01234567\n"
                    "iter 4\n"
                    "t1 cb write_done status=0\n"
                    "t1 call write_borrowed n=3\n"
                    "t1 ret write_borrowed 0 size=3 total=8 sum=01234568\n"
                    "t1 call abort\n"
                    "t1 ret abort 0 size=0\n"
                    "t1 ret write_done 0\n"
                    "iter 5\n"
                    "t1 cb write_done status=ECANCELED\n"
                    "t1 ret write_done 0\n"
                    "t1 cb connection_lost status=0\n"
                    "t1 ret connection_lost 0\n",
              0);
    expect_ok(RPIPE "iter 3\n"
                    "t1 call write_borrowed n=1\n"
                    "t1 ret write_borrowed ENOTSUP size=0\n",
              0);
    /* connection_lost while a done is owed */
    EXPECT_VIOLATION(WPIPE "iter 3\n"
                           "t1 call write_borrowed n=5\n"
                           "t1 ret write_borrowed 0 size=5 total=5 sum=01234567\n"
                           "t1 call abort\n"
                           "t1 ret abort 0 size=0\n"
                           "iter 4\n"
                           "t1 cb connection_lost status=0\n",
                     0, "PIPE-BORROW-1", 14);
    /* a done nobody owed; a second done for one write */
    EXPECT_VIOLATION(WPIPE "iter 3\n"
                           "t1 cb write_done status=0\n",
                     0, "PIPE-BORROW-1", 9);
    EXPECT_VIOLATION(WPIPE "iter 3\n"
                           "t1 call write_borrowed n=5\n"
                           "t1 ret write_borrowed 0 size=0 total=5 sum=01234567\n"
                           "iter 4\n"
                           "t1 cb write_done status=0\n"
                           "t1 ret write_done 0\n"
                           "t1 cb write_done status=0\n",
                     0, "PIPE-BORROW-1", 14);
    /* a refused call owes nothing */
    EXPECT_VIOLATION(WPIPE "iter 3\n"
                           "t1 call write_borrowed n=5\n"
                           "t1 ret write_borrowed EINVAL size=0 total=0 sum=00000000\n"
                           "iter 4\n"
                           "t1 cb write_done status=0\n",
                     0, "PIPE-BORROW-1", 12);
    /* inside the call itself */
    EXPECT_VIOLATION(WPIPE "iter 3\n"
                           "t1 call write_borrowed n=5\n"
                           "t1 cb write_done status=0\n",
                     0, "TRACE-4", 10);
    /* a kind without it (a read pipe) */
    EXPECT_VIOLATION(RPIPE "iter 3\n"
                           "t1 call write_borrowed n=1\n"
                           "t1 ret write_borrowed 0 size=0 total=1 sum=01234567\n",
                     0, "TRANSPORT-KIND-2", 9);
    /* a stream transport has it: WRITE-BORROW-1 */
    expect_ok(H3 MADE_BODY "iter 3\n"
                           "t1 call write_borrowed n=4\n"
                           "t1 ret write_borrowed 0 size=4 total=4 sum=01234567\n"
                           "iter 4\n"
                           "t1 cb write_done status=0\n"
                           "t1 ret write_done 0\n",
              0);
    EXPECT_VIOLATION(H3 MADE_BODY "iter 3\n"
                                  "t1 call write_borrowed n=4\n"
                                  "t1 ret write_borrowed 0 size=4 total=4 sum=01234567\n"
                                  "t1 call abort\n"
                                  "t1 ret abort 0 size=0\n"
                                  "iter 4\n"
                                  "t1 cb connection_lost status=0\n",
                     0, "WRITE-BORROW-1", 14);
    EXPECT_VIOLATION(H3 MADE_BODY "iter 3\n"
                                  "t1 cb write_done status=0\n",
                     0, "WRITE-BORROW-1", 9);
}

TEST(pipe_write_ends)
{
    /* PIPE-DRAIN-1: lost in the pass of the drain */
    EXPECT_VIOLATION(WPIPE "iter 3\n"
                           "t1 call write n=100000\n"
                           "t1 cb pause_writing size=90000 high=65536\n"
                           "t1 ret pause_writing 0\n"
                           "t1 ret write 0 size=90000 total=100000 sum=01234567\n"
                           "t1 call close\n"
                           "t1 ret close 0 size=90000\n"
                           "iter 4\n"
                           "t1 cb resume_writing size=0 low=16384\n"
                           "t1 ret resume_writing 0\n"
                           "iter 5\n",
                     0, "PIPE-DRAIN-1", 18);
    /* PIPE-ABORT-1 */
    EXPECT_VIOLATION(WPIPE "iter 3\n"
                           "t1 call write n=100000\n"
                           "t1 cb pause_writing size=90000 high=65536\n"
                           "t1 ret pause_writing 0\n"
                           "t1 ret write 0 size=90000 total=100000 sum=01234567\n"
                           "t1 call abort\n"
                           "t1 ret abort 0 size=0\n"
                           "iter 4\n"
                           "t1 cb resume_writing size=0 low=16384\n",
                     0, "PIPE-ABORT-1", 16);
    EXPECT_VIOLATION(WPIPE "t1 call abort\n"
                           "t1 ret abort 0 size=5\n",
                     0, "PIPE-ABORT-1", 9);
    /* the kinds differ: a write pipe has no pause_reading, no data_received */
    EXPECT_VIOLATION(WPIPE "t1 call pause_reading\n"
                           "t1 ret pause_reading 0 size=0\n",
                     0, "TRANSPORT-KIND-2", 9);
    EXPECT_VIOLATION(WPIPE "iter 3\n"
                           "t1 cb data_received n=3 total=3 sum=352441c2\n",
                     0, "PROTO-KIND-1", 9);
}

/* lines 1-17: a subprocess t1 with its stdin t2 and stdout t3, connection_made in pass 2 */
#define SUBPROC                                                                           \
    H3 "iter 1\n"                                                                         \
       "t1 open subprocess\n"                                                             \
       "t2 open pipewrite\n"                                                              \
       "t2 limits low=16384 high=65536\n"                                                 \
       "t1 pipe fd=0 t2\n"                                                                \
       "t3 open piperead\n"                                                               \
       "t1 pipe fd=1 t3\n"                                                                \
       "iter 2\n"                                                                         \
       "t2 cb connection_made\n"                                                          \
       "t2 ret connection_made 0\n"                                                       \
       "t3 cb connection_made\n"                                                          \
       "t3 ret connection_made 0\n"                                                       \
       "t1 cb connection_made\n"                                                          \
       "t1 ret connection_made 0\n"

/* lines 18-21: "abc" from stdout, pass 3 */
#define SUBPROC_DATA                                                                      \
    "iter 3\n"                                                                            \
    "t3 cb data_received n=3 total=3 sum=352441c2\n"                                      \
    "t1 cb pipe_data_received fd=1 n=3 total=3 sum=352441c2\n"                            \
    "t1 ret pipe_data_received 0\n"                                                       \
    "t3 ret data_received 0\n"

TEST(subprocess_sequence)
{
    expect_ok(SUBPROC SUBPROC_DATA
              "iter 4\n"
              "t3 cb eof_received\n"
              "t3 ret eof_received 0\n"
              "t3 cb connection_lost status=0\n"
              "t1 cb pipe_connection_lost fd=1 status=0\n"
              "t1 ret pipe_connection_lost 0\n"
              "t3 ret connection_lost 0\n"
              "t1 cb process_exited returncode=3\n"
              "t1 ret process_exited 0\n"
              "t1 query is_closing 0\n"
              "t1 call kill\n"
              "t1 ret kill 0 size=0\n"
              "iter 5\n"
              "t2 cb connection_lost status=0\n"
              "t1 cb pipe_connection_lost fd=0 status=0\n"
              "t1 ret pipe_connection_lost 0\n"
              "t2 ret connection_lost 0\n"
              "iter 6\n"
              "t1 cb connection_lost status=0\n"
              "t1 ret connection_lost 0\n"
              "t1 call send_signal sig=15\n"
              "t1 ret send_signal ESRCH size=0\n"
              /* passes later, its state let go: still ESRCH (BAD-2, SUBPROC-SIGNAL-1) */
              "iter 7\n"
              "iter 8\n"
              "t1 call kill\n"
              "t1 ret kill ESRCH size=0\n"
              "t1 call terminate\n"
              "t1 ret terminate ESRCH size=0\n"
              "t1 call close\n"
              "t1 ret close ECLOSED size=0\n",
              0);
    /* the recorder's short forms: no total, no returncode, no pipe lines; connection_lost
       in the pass of process_exited, as CPython (cpython profile) */
    expect_ok_cpython(H3 "iter 1\n"
                 "t1 open subprocess\n"
                 "iter 2\n"
                 "t1 cb connection_made\n"
                 "t1 ret connection_made 0\n"
                 "iter 3\n"
                 "t1 cb pipe_data_received fd=2 n=3 sum=352441c2\n"
                 "t1 ret pipe_data_received 0\n"
                 "t1 cb process_exited\n"
                 "t1 ret process_exited 0\n"
                 "t1 cb connection_lost status=0\n"
                 "t1 ret connection_lost 0\n");
}

TEST(subprocess_lost)
{
    /* SUBPROC-LOST-1: before process_exited; before a named pipe was lost */
    EXPECT_VIOLATION(SUBPROC "iter 3\n"
                             "t1 cb connection_lost status=0\n",
                     0, "SUBPROC-LOST-1", 17);
    EXPECT_VIOLATION(SUBPROC "iter 3\n"
                             "t1 cb process_exited returncode=0\n"
                             "t1 ret process_exited 0\n"
                             "iter 4\n"
                             "t1 cb connection_lost status=0\n",
                     0, "SUBPROC-LOST-1", 20);
    /* SUBPROC-LOST-2: in the pass after the last */
    EXPECT_VIOLATION(H3 "iter 1\n"
                        "t1 open subprocess\n"
                        "iter 2\n"
                        "t1 cb connection_made\n"
                        "t1 ret connection_made 0\n"
                        "t1 cb process_exited returncode=0\n"
                        "t1 ret process_exited 0\n"
                        "iter 3\n"
                        "iter 4\n"
                        "t1 cb connection_lost status=0\n",
                     0, "SUBPROC-LOST-2", 11);
    /* SUBPROC-EXIT-1 */
    EXPECT_VIOLATION(SUBPROC "t1 cb process_exited\n"
                             "t1 ret process_exited 0\n"
                             "t1 cb process_exited\n",
                     0, "SUBPROC-EXIT-1", 18);
    /* SUBPROC-MADE-1 */
    EXPECT_VIOLATION(H3 "iter 1\n"
                        "t1 open subprocess\n"
                        "iter 2\n"
                        "iter 3\n",
                     0, "SUBPROC-MADE-1", 5);
}

TEST(subprocess_pipes)
{
    /* SUBPROC-PIPE-1 */
    EXPECT_VIOLATION(SUBPROC "iter 3\n"
                             "t1 cb pipe_data_received fd=0 n=1 total=1 sum=e8b7be43\n",
                     0, "SUBPROC-PIPE-1", 17);
    EXPECT_VIOLATION(SUBPROC "iter 3\n"
                             "t1 cb pipe_connection_lost fd=2 status=0\n"
                             "t1 ret pipe_connection_lost 0\n"
                             "t1 cb pipe_connection_lost fd=2 status=0\n",
                     0, "SUBPROC-PIPE-1", 19);
    EXPECT_VIOLATION(SUBPROC "iter 3\n"
                             "t1 cb pipe_connection_lost fd=2 status=0\n"
                             "t1 ret pipe_connection_lost 0\n"
                             "t1 cb pipe_data_received fd=2 n=1 total=1 sum=e8b7be43\n",
                     0, "SUBPROC-PIPE-1", 19);
    /* SUBPROC-PIPE-2: totals; the data of its own pipe */
    EXPECT_VIOLATION(SUBPROC "iter 3\n"
                             "t1 cb pipe_data_received fd=2 n=1 total=2 sum=e8b7be43\n",
                     0, "SUBPROC-PIPE-2", 17);
    EXPECT_VIOLATION(SUBPROC "iter 3\n"
                             "t3 cb data_received n=3 total=3 sum=352441c2\n"
                             "t1 cb pipe_data_received fd=1 n=3 total=3 sum=00000001\n",
                     0, "SUBPROC-PIPE-2", 18);
    EXPECT_VIOLATION(SUBPROC "iter 3\n"
                             "t3 cb data_received n=3 total=3 sum=352441c2\n"
                             "t1 cb pipe_data_received fd=1 n=2 total=2 sum=352441c2\n",
                     0, "SUBPROC-PIPE-2", 18);
    /* TRACE-4: nested in a callback of a pipe that is not its own fd's */
    EXPECT_VIOLATION(SUBPROC "iter 3\n"
                             "t3 cb data_received n=3 total=3 sum=352441c2\n"
                             "t1 cb pipe_data_received fd=2 n=3 total=3 sum=352441c2\n",
                     0, "TRACE-4", 18);
    /* TRACE-5: pipe lines */
    EXPECT_VIOLATION(SUBPROC "t3 pipe fd=1 t2\n", 0, "TRACE-5", 16);
    EXPECT_VIOLATION(SUBPROC "t1 pipe fd=2 t3\n", 0, "TRACE-5", 16);
    EXPECT_VIOLATION(SUBPROC "t1 pipe fd=1 t3\n", 0, "TRACE-5", 16);
}

TEST(subprocess_calls)
{
    /* SUBPROC-ORDER-1 */
    EXPECT_VIOLATION(H3 "iter 1\n"
                        "t1 open subprocess\n"
                        "t1 cb process_exited\n",
                     0, "SUBPROC-ORDER-1", 4);
    /* SUBPROC-SIGNAL-1 */
    EXPECT_VIOLATION(SUBPROC "t1 call kill\n"
                             "t1 ret kill ESRCH size=0\n",
                     0, "SUBPROC-SIGNAL-1", 17);
    /* SUBPROC-CLOSE-1 */
    EXPECT_VIOLATION(SUBPROC "t1 call close\n"
                             "t1 ret close 0 size=0\n"
                             "t1 call close\n"
                             "t1 ret close 0 size=0\n",
                     0, "SUBPROC-CLOSE-1", 19);
    EXPECT_VIOLATION(SUBPROC "t1 query is_closing 1\n", 0, "SUBPROC-CLOSE-1", 16);
    expect_ok(SUBPROC "t1 call close\n"
                      "t1 ret close 0 size=0\n"
                      "t1 query is_closing 1\n"
                      "t1 query is_reading 0\n"
                      "t1 call write n=1\n"
                      "t1 ret write ENOTSUP size=0\n",
              0);
    EXPECT_VIOLATION(SUBPROC "t1 query get_write_buffer_size 1\n", 0, "TRANSPORT-KIND-2", 16);
    EXPECT_PARSE(SUBPROC "t1 pipe fd=3 t3\n", 16);
    EXPECT_PARSE(SUBPROC "t1 pipe fd=1 x3\n", 16);
    EXPECT_PARSE(H3 "t1 open pipes\n", 2);
    EXPECT_PARSE(SUBPROC "t1 cb process_exited returncode=x\n", 16);
    EXPECT_PARSE(SUBPROC "t1 call send_signal\n", 16);
    EXPECT_PARSE("aiotp-trace 2\nt1 open piperead\n", 2);
}

/* The lines of the newer kinds (subprocess, pipe, TLS) are format 3 only, and each has its
   exact shape: anything else is a parse error at that line. */
TEST(parse_newer_kinds_lines)
{
    static const char *const v3_only[] = {
        "t1 cb pipe_data_received fd=1 n=3 sum=00000000\n",
        "t1 cb pipe_connection_lost fd=1 status=0\n",
        "t1 cb process_exited returncode=0\n",
        "t1 call send_signal sig=15\n",
        "t1 call terminate\n",
        "t1 call kill\n",
        "t1 ret pipe_data_received 0\n",
        "t1 ret process_exited 0\n",
        "t1 ret send_signal 0 size=0\n",
        "t1 over t2\n",
        "t1 handshake status=0\n",
        "t1 pipe fd=1 t2\n",
    };
    static const char *const v3_bad[] = {
        "t1 cb pipe_data_received fd=1 n=3 total=3\n",
        "t1 cb pipe_data_received fd=1 n=3 total=3 sum=zz\n",
        "t1 cb pipe_data_received fd=x n=3 sum=00000000\n",
        "t1 cb pipe_connection_lost fd=1\n",
        "t1 cb process_exited returncode=x\n",
        "t1 cb process_exited returncode=1 more\n",
        "t1 call send_signal\n",
        "t1 call send_signal sig=x\n",
        "t1 call kill now\n",
        "t1 ret send_signal 0\n",
        "t1 ret process_exited\n",
        "t1 over\n",
        "t1 over x\n",
        "t1 handshake\n",
        "t1 handshake status\n",
        "t1 pipe fd=1\n",
        "t1 pipe fd=1 x\n",
    };
    size_t i;
    for (i = 0; i < sizeof(v3_only) / sizeof(v3_only[0]); i++) {
        char t[1024];
        snprintf(t, sizeof(t), "%s%s", MADE, v3_only[i]);
        EXPECT_PARSE(t, 8);
    }
    for (i = 0; i < sizeof(v3_bad) / sizeof(v3_bad[0]); i++) {
        char t[1024];
        snprintf(t, sizeof(t), "%s%s", V3, v3_bad[i]);
        EXPECT_PARSE(t, 8);
    }
#undef V3
}

static const th_case cases[] = {
    T(parse_newer_kinds_lines, "BAD-1"),
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
    T(write_enomem_after_part_fails, "WRITE-WRITE-6 BASE-CLOSING-1"),
    T(write_rules, "WRITE-WRITE-1 WRITE-WRITE-2 WRITE-WRITE-4 WRITE-WRITE-5 WRITE-WRITE-6 "
                   "WRITE-WRITE-7 WRITE-WRITE-10 DONE-1 WRITE-EOF-3"),
    T(read_pause_rules, "DONE-1 READ-2 READ-3"),
    T(retained_calls, "BAD-2"),
    T(nesting_and_format_rules, "PROTO-BASE-3 FLOW-4"),
    T(malformed_lines, "BAD-1"),
    T(api_bad_arguments, "BAD-1 BAD-3"),
    T(transport_limit, "BAD-1"),
    T(nesting_limit, "BAD-1"),
    T(report_keeps_recent_events, "READ-2"),
    T(peer_pairs, "PROTO-STREAM-1 PROTO-BUF-1 WRITE-WRITE-1"),
    T(library_pairs_tcp_ends, "PROTO-STREAM-1 WRITE-WRITE-1"),
    T(dgram_endpoints_conform, "DGRAM-SEND-3 DGRAM-DRAIN-1 DGRAM-FLOW-1 DGRAM-RECV-1 DGRAM-CB-1 "
                               "DGRAM-PEER-1 TRANSPORT-KIND-2"),
    T(dgram_made_next_pass, "DGRAM-MADE-1"),
    T(dgram_send_empty, "DGRAM-SEND-1"),
    T(dgram_send_connected_address, "DGRAM-SEND-2"),
    T(dgram_send_error_inside, "DGRAM-SEND-3"),
    T(dgram_send_after_close, "DGRAM-SEND-4"),
    T(dgram_send_too_big, "DGRAM-SEND-5"),
    T(dgram_drain_then_lost, "DGRAM-DRAIN-1"),
    T(dgram_flow, "DGRAM-FLOW-1"),
    T(dgram_recv_batch_per_pass, "DGRAM-RECV-1"),
    T(dgram_recv_error, "DGRAM-RECV-2"),
    T(dgram_recv_closed_or_paused, "DGRAM-RECV-3 PROTO-BASE-3"),
    T(dgram_failing_callbacks, "DGRAM-CB-1"),
    T(dgram_close, "DGRAM-CLOSE-1"),
    T(dgram_abort, "DGRAM-ABORT-1"),
    T(dgram_lost_last, "DGRAM-LOST-1"),
    T(dgram_fatal_not_error_received, "DGRAM-FATAL-1"),
    T(dgram_peer, "DGRAM-PEER-1"),
    T(kind_vocabulary, "TRANSPORT-KIND-2 PROTO-KIND-1 PROTO-KIND-2"),
    T(set_protocol_inside_get_buffer, "PROTO-BUF-5 BASE-PROTO-1"),
    T(query_is_closing, "BASE-CLOSING-1"),
    T(query_is_reading, "READ-2 READ-5 BASE-CLOSE-1 BASE-CLOSING-1"),
    T(query_sizes_and_limits, "WRITE-SIZE-1 FLOW-10 WRITE-CANEOF-1"),
    T(exception_reports, "PROTO-STREAM-4 FLOW-8 PROTO-BASE-5 PROTO-BUF-2 DGRAM-CB-1"),
    T(profiles, "FLOW-1 PROTO-BUF-1 BAD-2"),
    T(profile_api, "BAD-1"),
    T(every_violation_with_recovery, "PROTO-STREAM-1 BASE-CLOSE-4 FLOW-4 PROTO-STREAM-5"),
    T(format_3, "WRITE-WRITE-2 BAD-1"),
    T(reclaims_closed_transports, "BAD-1"),
    T(live_limit, "BAD-1"),
    T(allocation_failures, "BAD-3"),
    T(gone_transports, "BAD-2 WRITE-WRITE-5 WRITE-EOF-3 BASE-CLOSE-4 DONE-1"),
    T(done_rule_profiles, "DONE-1 READ-2 READ-3 WRITE-EOF-3"),
    T(peer_after_reclaim, "PROTO-STREAM-1"),
    T(drain_then_lost, "BASE-CLOSE-2"),
    T(deep_check_finds_corruption, "BAD-1"),
    T(corner_cases, "FLOW-3 READ-2 TRACE-5 BAD-2 BAD-3"),
    T(pipe_read_sequence, "PIPE-EOF-1 PIPE-READ-1 PIPE-READ-3 PIPE-MADE-1 PIPE-CLOSE-1"),
    T(pipe_read_lost, "PIPE-LOST-1"),
    T(pipe_read_kinds, "PIPE-WRITE-6 TRANSPORT-KIND-2 PROTO-KIND-1 TRACE-3"),
    T(pipe_read_failing_callbacks, "PIPE-CB-1"),
    T(pipe_write_sequence, "PIPE-FLOW-1 PIPE-WRITE-2 PIPE-WRITE-3 PIPE-WRITE-6"),
    T(pipe_write_borrowed, "PIPE-BORROW-1 WRITE-BORROW-1 TRANSPORT-KIND-2 TRACE-4"),
    T(pipe_write_ends, "PIPE-DRAIN-1 PIPE-ABORT-1 PIPE-CLOSE-1 TRANSPORT-KIND-2 PROTO-KIND-1"),
    T(subprocess_sequence, "SUBPROC-ORDER-1 SUBPROC-PIPE-2 SUBPROC-SIGNAL-1 TRACE-4"),
    T(subprocess_lost, "SUBPROC-LOST-1 SUBPROC-LOST-2 SUBPROC-EXIT-1 SUBPROC-MADE-1"),
    T(subprocess_pipes, "SUBPROC-PIPE-1 SUBPROC-PIPE-2 TRACE-4 TRACE-5"),
    T(subprocess_calls, "SUBPROC-ORDER-1 SUBPROC-SIGNAL-1 SUBPROC-CLOSE-1 TRANSPORT-KIND-2"),
};
TH_MAIN(cases)
