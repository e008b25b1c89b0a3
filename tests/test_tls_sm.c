/* tests/test_tls_sm.c - the TLS machine (src/core/tls_sm.c) against a second reading of its
   table (spec/tls-transport.md): every state, valid or not, every event, both kinds of
   transport (made by a loop method, or by start_tls: "upgrade"). The proof covers the same
   ground; this keeps the coverage gate's src/core/ floor honest and fails on a change of the
   table that the spec's table did not get. */
#include <stdbool.h>
#include <stdio.h>

#include "core/tls_sm.h"
#include "harness.h"

#define LET_GO (AIOTP__TLSA_CANCEL_TIMER | AIOTP__TLSA_DROP_BUFFERS)

/* The next state and the actions, or REFUSED (the state then unchanged). */
static unsigned tls_expect(aiotp__tls_state *n, aiotp__tls_event ev)
{
    aiotp__tls_ly ly = n->ly;
    bool hs = ly == AIOTP__TLS_HANDSHAKE;
    bool up = ly == AIOTP__TLS_WRAPPED || ly == AIOTP__TLS_FLUSHING || ly == AIOTP__TLS_SHUTDOWN;
    bool live = ly == AIOTP__TLS_UNWRAPPED || hs || ly == AIOTP__TLS_WRAPPED;
    bool told = n->app == AIOTP__TLS_APP_CONNECTED || n->app == AIOTP__TLS_APP_EOF;
    switch (ev) {
    case AIOTP__TLSEV_START:
        if (ly != AIOTP__TLS_UNWRAPPED) {
            return AIOTP__TLSA_REFUSED;
        }
        n->ly = AIOTP__TLS_HANDSHAKE;
        return AIOTP__TLSA_START_HANDSHAKE;
    case AIOTP__TLSEV_HS_DONE:
        if (!hs) {
            return AIOTP__TLSA_REFUSED;
        }
        n->ly = AIOTP__TLS_WRAPPED;
        n->app = AIOTP__TLS_APP_CONNECTED;
        /* start_tls hands the protocol over already connected: no connection_made */
        return AIOTP__TLSA_CANCEL_TIMER | AIOTP__TLSA_COMPLETE_OK |
               (n->upgrade ? 0u : (unsigned)AIOTP__TLSA_CALL_MADE);
    case AIOTP__TLSEV_HS_FAILED:
    case AIOTP__TLSEV_HS_TIMEOUT:
        if (!hs) {
            return AIOTP__TLSA_REFUSED;
        }
        n->ly = AIOTP__TLS_CLOSED;
        return LET_GO | AIOTP__TLSA_COMPLETE_FAIL |
               (ev == AIOTP__TLSEV_HS_FAILED ? AIOTP__TLSA_CLOSE_LOWER : AIOTP__TLSA_ABORT_LOWER);
    case AIOTP__TLSEV_INCOMING:
        if (hs) {
            return AIOTP__TLSA_CONTINUE_HANDSHAKE;
        }
        if (ly == AIOTP__TLS_WRAPPED) {
            return n->rd == AIOTP__TLS_RD_ACTIVE && n->app == AIOTP__TLS_APP_CONNECTED
                       ? AIOTP__TLSA_DELIVER
                       : AIOTP__TLSA_NONE;
        }
        if (ly == AIOTP__TLS_FLUSHING) {
            return AIOTP__TLSA_DISCARD | AIOTP__TLSA_FLUSH_BACKLOG;
        }
        if (ly == AIOTP__TLS_SHUTDOWN) {
            return AIOTP__TLSA_DISCARD | AIOTP__TLSA_SEND_CLOSE_NOTIFY;
        }
        return AIOTP__TLSA_REFUSED;
    case AIOTP__TLSEV_CLOSE_NOTIFY:
        if (ly != AIOTP__TLS_WRAPPED || n->app != AIOTP__TLS_APP_CONNECTED) {
            return AIOTP__TLSA_REFUSED;
        }
        n->app = AIOTP__TLS_APP_EOF;
        return AIOTP__TLSA_CALL_EOF;
    case AIOTP__TLSEV_PEER_EOF:
        if (!hs && !up) {
            return AIOTP__TLSA_REFUSED;
        }
        n->ly = AIOTP__TLS_CLOSED;
        return LET_GO | AIOTP__TLSA_CLOSE_LOWER | (hs ? AIOTP__TLSA_COMPLETE_FAIL : 0u);
    case AIOTP__TLSEV_CLOSE:
        if (hs) {
            n->ly = AIOTP__TLS_CLOSED;
            return LET_GO | AIOTP__TLSA_ABORT_LOWER | AIOTP__TLSA_COMPLETE_FAIL;
        }
        if (ly != AIOTP__TLS_WRAPPED) {
            return AIOTP__TLSA_REFUSED;
        }
        n->ly = AIOTP__TLS_FLUSHING;
        return AIOTP__TLSA_ARM_SHUTDOWN_TIMER | AIOTP__TLSA_FLUSH_BACKLOG;
    case AIOTP__TLSEV_ABORT:
    case AIOTP__TLSEV_FATAL:
        if (!hs && !up) {
            return AIOTP__TLSA_REFUSED;
        }
        n->ly = AIOTP__TLS_CLOSED;
        return LET_GO | AIOTP__TLSA_ABORT_LOWER | (hs ? AIOTP__TLSA_COMPLETE_FAIL : 0u);
    case AIOTP__TLSEV_FLUSHED:
        if (ly != AIOTP__TLS_FLUSHING) {
            return AIOTP__TLSA_REFUSED;
        }
        n->ly = AIOTP__TLS_SHUTDOWN;
        return AIOTP__TLSA_SEND_CLOSE_NOTIFY;
    case AIOTP__TLSEV_SHUTDOWN_DONE:
        if (ly != AIOTP__TLS_SHUTDOWN) {
            return AIOTP__TLSA_REFUSED;
        }
        n->ly = AIOTP__TLS_CLOSED;
        return AIOTP__TLSA_CANCEL_TIMER | AIOTP__TLSA_CLOSE_LOWER;
    case AIOTP__TLSEV_SHUTDOWN_TIMEOUT:
        if (ly != AIOTP__TLS_FLUSHING && ly != AIOTP__TLS_SHUTDOWN) {
            return AIOTP__TLSA_REFUSED;
        }
        n->ly = AIOTP__TLS_CLOSED;
        return LET_GO | AIOTP__TLSA_ABORT_LOWER;
    case AIOTP__TLSEV_LOWER_LOST: {
        unsigned act;
        if (n->app == AIOTP__TLS_APP_LOST) {
            return AIOTP__TLSA_REFUSED; /* connection_lost once */
        }
        if (ly == AIOTP__TLS_CLOSED) {
            act = told ? AIOTP__TLSA_CALL_LOST : AIOTP__TLSA_NONE;
        } else if (ly == AIOTP__TLS_UNWRAPPED || hs) {
            act = LET_GO | AIOTP__TLSA_COMPLETE_FAIL; /* never connected: no callback */
        } else {
            act = LET_GO | AIOTP__TLSA_CALL_LOST;
        }
        n->ly = AIOTP__TLS_CLOSED;
        if (told) {
            n->app = AIOTP__TLS_APP_LOST;
        }
        return act;
    }
    case AIOTP__TLSEV_PAUSE_READING:
        if (live && n->rd == AIOTP__TLS_RD_ACTIVE) {
            n->rd = AIOTP__TLS_RD_PAUSED;
        }
        return AIOTP__TLSA_NONE;
    case AIOTP__TLSEV_RESUME_READING:
        if (live && n->rd == AIOTP__TLS_RD_PAUSED) {
            n->rd = AIOTP__TLS_RD_ACTIVE;
            return ly == AIOTP__TLS_WRAPPED ? AIOTP__TLSA_SCHEDULE_READ : AIOTP__TLSA_NONE;
        }
        return AIOTP__TLSA_NONE;
    default:
        return AIOTP__TLSA_REFUSED;
    }
}

/* TLS-INV-1, TLS-INV-2 read from the spec */
static bool tls_inv(const aiotp__tls_state *s)
{
    switch (s->ly) {
    case AIOTP__TLS_UNWRAPPED:
    case AIOTP__TLS_HANDSHAKE:
        return s->app == AIOTP__TLS_APP_INIT;
    case AIOTP__TLS_WRAPPED:
    case AIOTP__TLS_FLUSHING:
    case AIOTP__TLS_SHUTDOWN:
        return s->app == AIOTP__TLS_APP_CONNECTED || s->app == AIOTP__TLS_APP_EOF;
    default:
        return true;
    }
}

TEST(every_state_and_event)
{
    int ly;
    int app;
    int rd;
    int upg;
    int valid = 0;
    int steps = 0;
    aiotp__tls_state s;

    aiotp__tls_init(&s, false);
    CHECK(aiotp__tls_is_valid(&s) && !s.upgrade && s.ly == AIOTP__TLS_UNWRAPPED &&
          s.app == AIOTP__TLS_APP_INIT && s.rd == AIOTP__TLS_RD_ACTIVE);
    aiotp__tls_init(&s, true);
    CHECK(s.upgrade);
    s.ly = AIOTP__TLS_LY_COUNT;
    CHECK(!aiotp__tls_is_valid(&s));
    aiotp__tls_init(&s, false);
    s.app = AIOTP__TLS_APP_COUNT;
    CHECK(!aiotp__tls_is_valid(&s));
    aiotp__tls_init(&s, false);
    s.rd = AIOTP__TLS_RD_COUNT;
    CHECK(!aiotp__tls_is_valid(&s));

    for (upg = 0; upg < 2; upg++) {
        for (ly = 0; ly < AIOTP__TLS_LY_COUNT; ly++) {
            for (app = 0; app < AIOTP__TLS_APP_COUNT; app++) {
                for (rd = 0; rd < AIOTP__TLS_RD_COUNT; rd++) {
                    int ev;
                    s.ly = (aiotp__tls_ly)ly;
                    s.app = (aiotp__tls_app)app;
                    s.rd = (aiotp__tls_rd)rd;
                    s.upgrade = upg != 0;
                    CHECK(aiotp__tls_ly_names[ly] != NULL && aiotp__tls_app_names[app] != NULL &&
                          aiotp__tls_rd_names[rd] != NULL);
                    CHECK_INT(aiotp__tls_is_valid(&s), tls_inv(&s));
                    if (!tls_inv(&s)) {
                        continue;
                    }
                    valid++;
                    CHECK_INT(aiotp__tls_is_closing(&s), ly == AIOTP__TLS_FLUSHING ||
                                                             ly == AIOTP__TLS_SHUTDOWN ||
                                                             ly == AIOTP__TLS_CLOSED);
                    CHECK_INT(aiotp__tls_is_reading(&s),
                              ly <= AIOTP__TLS_WRAPPED && rd == AIOTP__TLS_RD_ACTIVE &&
                                  app != AIOTP__TLS_APP_EOF);
                    CHECK_INT(aiotp__tls_write_admission(&s),
                              ly == AIOTP__TLS_WRAPPED ? 0 : ly < AIOTP__TLS_WRAPPED ? 1 : 2);
                    for (ev = 0; ev <= AIOTP__TLSEV_COUNT; ev++) {
                        aiotp__tls_state n = s;
                        aiotp__tls_state want = s;
                        unsigned wact = tls_expect(&want, (aiotp__tls_event)ev);
                        unsigned act = aiotp__tls_step(&n, (aiotp__tls_event)ev);
                        steps++;
                        CHECK_INT(act, wact);
                        CHECK(n.ly == want.ly && n.app == want.app && n.rd == want.rd &&
                              n.upgrade == want.upgrade);
                        CHECK(aiotp__tls_is_valid(&n));
                        if (ev < AIOTP__TLSEV_COUNT) {
                            CHECK(aiotp__tls_event_names[ev] != NULL);
                        }
                    }
                }
            }
        }
    }
    printf("tls_sm: %d valid states, %d steps\n", valid, steps);
    CHECK(valid > 20);
}

static const th_case cases[] = {
    T(every_state_and_event, "TLS-HS-1 TLS-HS-2 TLS-HS-3 TLS-HS-4 TLS-EOF-2 TLS-EOF-3 TLS-CLOSE-1 "
                             "TLS-CLOSE-2 TLS-CLOSE-3 TLS-CLOSE-4 TLS-LOST-1 TLS-READ-1"),
};

TH_MAIN(cases)
