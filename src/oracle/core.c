/*
 * src/oracle/core.c - the oracle's core (include/aiotp/oracle.h, spec/oracle.md): lines
 * in, the table of live transports, the nesting frames, pass deadlines, reports,
 * profiles and the format rules TRACE-n. The rules about what transports and protocols
 * do live in the rule modules (oracle_int.h).
 *
 * Pure: no system calls, no recursion, memory only from the caller's allocator. Work per
 * line does not depend on the number of transports a trace has opened:
 *  - live transports are found through a hash of their ids (open addressing, linear
 *    probing, deletion by backward shift); their state lives in a pool of slots grown in
 *    chunks up to the live limit and reused once a transport is reclaimed (it got
 *    connection_lost, no frame names it, no exception report is due);
 *  - a line naming a reclaimed transport (an id below the highest opened: ids increase,
 *    TRACE-3) gets a short-lived "gone" state that knows only that connection_lost came;
 *  - what must happen by a pass (connection_made, a scheduled connection_lost, an
 *    exception report) sits in lists ordered by deadline, looked at by `iter` lines.
 */
#include "oracle_int.h"

#include <stdio.h>
#include <string.h>

/* ---- the format rules and the rule registry ----------------------------------------- */

#define R(id, prof, text) ORC_RULE(id, prof, text, "trace")
const orc_rule aiotp__orc_trace_rules[RT_COUNT] = {
    R("TRACE-1", DOC,
      "every cb/call line is closed by its matching ret, properly nested; iter lines only "
      "outside any cb/call"),
    R("TRACE-2", DOC, "iter numbers increase by exactly 1"),
    R("TRACE-3", DOC,
      "a transport's first line is its one 'open' line, followed at once by its 'limits' "
      "line; ids are opened in increasing order; no line names a transport that was not "
      "opened"),
    R("TRACE-4", DOC,
      "protocol callbacks other than pause_writing (and a datagram transport's "
      "error_received inside its sendto, a subprocess's pipe_data_received and "
      "pipe_connection_lost inside the data_received and connection_lost of its own pipe) "
      "are called from the loop, never nested inside another cb or call"),
    R("TRACE-5", DOC,
      "a peer line (version 2 on) pairs two different live transports of one kind, each "
      "at most once; a pipe line names a live pipe of the right direction for a "
      "subprocess, once"),
};
#undef R

const orc_kind *const aiotp__orc_kinds[TK_COUNT] = {
    &aiotp__orc_kind_gone,      &aiotp__orc_kind_stream,     &aiotp__orc_kind_dgram,
    &aiotp__orc_kind_tls,       &aiotp__orc_kind_pipe_read,  &aiotp__orc_kind_pipe_write,
    &aiotp__orc_kind_subproc};

typedef struct orc_table {
    const orc_rule *r;
    size_t n;
} orc_table;

#define NTABLES (2 + TK_COUNT - 1)

static orc_table table_at(size_t k)
{
    orc_table t;
    if (k == 0) {
        t.r = aiotp__orc_trace_rules;
        t.n = RT_COUNT;
    } else if (k == 1) {
        t.r = aiotp__orc_base_rules;
        t.n = RB_COUNT;
    } else {
        const orc_kind *kd = aiotp__orc_kinds[k - 1];
        t.r = kd->rules;
        t.n = kd->nrules;
    }
    return t;
}

static size_t nrules_all(void)
{
    size_t k;
    size_t n = 0;
    for (k = 0; k < NTABLES; k++) {
        n += table_at(k).n;
    }
    return n;
}

/* The index of rule in rule_at() order. */
static size_t rule_index(const orc_rule *rule)
{
    size_t k;
    size_t base = 0;
    for (k = 0; k < NTABLES; k++) {
        orc_table t = table_at(k);
        if (rule >= t.r && rule < t.r + t.n) {
            return base + (size_t)(rule - t.r);
        }
        base += t.n;
    }
    return (size_t)-1;
}

const aiotp_oracle_rule *aiotp_oracle_rule_at(size_t i)
{
    size_t k;
    size_t base = 0;
    for (k = 0; k < NTABLES; k++) {
        orc_table t = table_at(k);
        if (i < base + t.n) {
            return &t.r[i - base];
        }
        base += t.n;
    }
    return NULL;
}

static const orc_rule *rule_find(const char *id)
{
    size_t k;
    size_t i;
    for (k = 0; k < NTABLES; k++) {
        orc_table t = table_at(k);
        for (i = 0; i < t.n; i++) {
            if (strcmp(t.r[i].id, id) == 0) {
                return &t.r[i];
            }
        }
    }
    return NULL;
}

const char *aiotp_oracle_rule_text(const char *rule)
{
    const orc_rule *r = rule != NULL ? rule_find(rule) : NULL;
    return r != NULL ? r->text : NULL;
}

size_t aiotp_oracle_rule_violations(const aiotp_oracle *o, size_t i)
{
    return o != NULL && i < nrules_all() ? o->counts[i] : 0;
}

const char *aiotp_oracle_profile_name(int profile)
{
    switch (profile) {
    case AIOTP_ORACLE_PROFILE_AUTO:
        return "auto";
    case AIOTP_ORACLE_PROFILE_DOC:
        return "doc";
    case AIOTP_ORACLE_PROFILE_CPYTHON:
        return "cpython";
    case AIOTP_ORACLE_PROFILE_AIOTP:
        return "aiotp";
    default:
        return NULL;
    }
}

int aiotp_oracle_profile_parse(const char *name)
{
    int p;
    for (p = AIOTP_ORACLE_PROFILE_AUTO; name != NULL && p <= AIOTP_ORACLE_PROFILE_AIOTP; p++) {
        if (strcmp(name, aiotp_oracle_profile_name(p)) == 0) {
            return p;
        }
    }
    return -1;
}

/* ---- setup ---------------------------------------------------------------------------- */

int aiotp_oracle_new(const aiotp_oracle_config *cfg, const aiotp_oracle_alloc *alloc,
                     aiotp_oracle **out)
{
    size_t max_live = AIOTP_ORACLE_DEFAULT_TRANSPORTS;
    size_t nr = nrules_all();
    aiotp_oracle *o;
    if (out != NULL) {
        *out = NULL;
    }
    if (alloc == NULL || alloc->alloc == NULL || alloc->free == NULL || out == NULL) {
        return AIOTP_ORACLE_EINVAL;
    }
    if (cfg != NULL && cfg->max_transports != 0) {
        max_live = cfg->max_transports;
    }
    if (max_live > AIOTP_ORACLE_MAX_TRANSPORTS) {
        return AIOTP_ORACLE_EINVAL;
    }
    o = alloc->alloc(alloc->ctx, sizeof(*o));
    if (o == NULL) {
        return AIOTP_ORACLE_ENOMEM;
    }
    memset(o, 0, sizeof(*o));
    o->alloc = *alloc;
    o->counts = alloc->alloc(alloc->ctx, nr * sizeof(size_t));
    if (o->counts == NULL) {
        alloc->free(alloc->ctx, o, sizeof(*o));
        return AIOTP_ORACLE_ENOMEM;
    }
    memset(o->counts, 0, nr * sizeof(size_t));
    o->max_live = max_live;
    o->flags = cfg != NULL ? cfg->flags : 0;
    o->cfg_profile = AIOTP_ORACLE_PROFILE_AUTO;
    o->profile = AIOTP_ORACLE_PROFILE_DOC;
    o->empty_sum = ORC_FNV_INIT;
    *out = o;
    return 0;
}

/* The profile AUTO gives for the current header. */
static int auto_profile(const orc *o)
{
    return strcmp(o->impl, "aiotp") == 0 ? AIOTP_ORACLE_PROFILE_AIOTP : AIOTP_ORACLE_PROFILE_DOC;
}

int aiotp_oracle_set_profile(aiotp_oracle *o, int profile)
{
    if (o == NULL || profile < AIOTP_ORACLE_PROFILE_AUTO || profile > AIOTP_ORACLE_PROFILE_AIOTP) {
        return AIOTP_ORACLE_EINVAL;
    }
    o->cfg_profile = profile;
    o->profile = profile != AIOTP_ORACLE_PROFILE_AUTO ? profile : auto_profile(o);
    return 0;
}

int aiotp_oracle_set_report(aiotp_oracle *o, aiotp_oracle_report_fn fn, void *arg)
{
    if (o == NULL) {
        return AIOTP_ORACLE_EINVAL;
    }
    o->on_report = fn;
    o->report_arg = arg;
    return 0;
}

void aiotp_oracle_free(aiotp_oracle *o)
{
    aiotp_oracle_alloc a;
    orc_chunk *c;
    if (o == NULL) {
        return;
    }
    a = o->alloc;
    c = o->chunks;
    while (c != NULL) {
        orc_chunk *next = c->next;
        a.free(a.ctx, c, c->bytes);
        c = next;
    }
    if (o->tab != NULL) {
        a.free(a.ctx, o->tab, o->tab_cap * sizeof(orc_t *));
    }
    a.free(a.ctx, o->counts, nrules_all() * sizeof(size_t));
    a.free(a.ctx, o, sizeof(*o));
}

const aiotp_oracle_report *aiotp_oracle_first(const aiotp_oracle *o)
{
    return o != NULL && o->have_first ? &o->first : NULL;
}

const aiotp_oracle_report *aiotp_oracle_error(const aiotp_oracle *o)
{
    return o != NULL && o->stopped ? &o->err : NULL;
}

size_t aiotp_oracle_violations(const aiotp_oracle *o)
{
    return o != NULL ? o->nviol : 0;
}

size_t aiotp_oracle_lines(const aiotp_oracle *o)
{
    return o != NULL ? o->lines : 0;
}

size_t aiotp_oracle_live(const aiotp_oracle *o)
{
    return o != NULL ? o->nlive : 0;
}

int aiotp_oracle_profile(const aiotp_oracle *o)
{
    return o != NULL ? o->profile : AIOTP_ORACLE_PROFILE_DOC;
}

unsigned aiotp_oracle_version(const aiotp_oracle *o)
{
    return o != NULL ? o->version : 0;
}

const char *aiotp_oracle_impl(const aiotp_oracle *o)
{
    return o != NULL ? o->impl : "";
}

uint32_t aiotp__orc_fnv(const char *p, size_t n)
{
    uint32_t h = ORC_FNV_INIT;
    size_t i;
    for (i = 0; i < n; i++) {
        h = (h ^ (unsigned char)p[i]) * 0x01000193u;
    }
    return h;
}

/* ---- recent events -------------------------------------------------------------------- */

static void ring_push(orc_ring *r, const char *line, size_t len, size_t lineno)
{
    aiotp_oracle_event *e = &r->ev[r->head];
    if (len > AIOTP_ORACLE_KEEP - 1) {
        memcpy(e->text, line, AIOTP_ORACLE_KEEP - 4);
        memcpy(e->text + AIOTP_ORACLE_KEEP - 4, "...", 4);
    } else {
        memcpy(e->text, line, len);
        e->text[len] = '\0';
    }
    e->lineno = lineno;
    r->head = (r->head + 1) % AIOTP_ORACLE_RECENT;
    if (r->count < AIOTP_ORACLE_RECENT) {
        r->count++;
    }
}

static void ring_copy(const orc_ring *r, aiotp_oracle_report *rep)
{
    size_t i;
    size_t start = (r->head + AIOTP_ORACLE_RECENT - r->count) % AIOTP_ORACLE_RECENT;
    rep->nrecent = r->count;
    for (i = 0; i < r->count; i++) {
        rep->recent[i] = r->ev[(start + i) % AIOTP_ORACLE_RECENT];
    }
}

/* ---- reporting ------------------------------------------------------------------------- */

bool aiotp__orc_want(const orc *o, const orc_rule *rule)
{
    return rule->profile <= o->profile;
}

int aiotp__orc_violate(orc *o, const orc_t *ts, const orc_rule *rule, const char *fmt, ...)
{
    va_list ap;
    aiotp_oracle_report *r;
    size_t idx;
    if (!aiotp__orc_want(o, rule)) {
        return 0;
    }
    idx = rule_index(rule);
    o->nviol++;
    o->counts[idx]++;
    if (o->have_first && o->on_report == NULL) {
        return AIOTP_ORACLE_VIOLATION;
    }
    r = o->have_first ? &o->scratch : &o->first;
    r->result = AIOTP_ORACLE_VIOLATION;
    r->rule = rule->id;
    r->rule_text = rule->text;
    r->profile = rule->profile;
    va_start(ap, fmt);
    (void)vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    r->lineno = o->last_lineno;
    r->tid = ts != NULL ? ts->id : 0;
    ring_copy(ts != NULL ? &ts->recent : &o->recent, r);
    o->have_first = true;
    if (o->on_report != NULL) {
        o->on_report(o->report_arg, r);
    }
    return AIOTP_ORACLE_VIOLATION;
}

static int stop(orc *o, int code, const char *fmt, ...) ORC_PRINTF(3, 4);

static int stop(orc *o, int code, const char *fmt, ...)
{
    va_list ap;
    aiotp_oracle_report *r = &o->err;
    o->stopped = true;
    o->stop_code = code;
    memset(r, 0, sizeof(*r));
    r->result = code;
    va_start(ap, fmt);
    (void)vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    r->lineno = o->last_lineno;
    ring_copy(&o->recent, r);
    if (!o->have_first) {
        o->have_first = true;
        o->first = *r;
    }
    if (o->on_report != NULL) {
        o->on_report(o->report_arg, r);
    }
    return code;
}

/* ---- lists -------------------------------------------------------------------------------- */

/* A transport is in up to four lists at once, each through one orc_link of its own
   (LIVE, WAIT, EXC: the link's offset in orc_t). */
#define LIVE offsetof(orc_t, live)
#define WAIT offsetof(orc_t, wl)
#define EXC offsetof(orc_t, xl)

static orc_link *lk(orc_t *t, size_t off)
{
    return (orc_link *)(void *)((char *)t + off);
}

/* Put t at the tail (or the head) of l. */
static void list_add(orc_list *l, orc_t *t, size_t off, bool at_tail)
{
    orc_link *k = lk(t, off);
    if (at_tail) {
        k->next = NULL;
        k->prev = l->tail;
        if (l->tail != NULL) {
            lk(l->tail, off)->next = t;
        } else {
            l->head = t;
        }
        l->tail = t;
    } else {
        k->prev = NULL;
        k->next = l->head;
        if (l->head != NULL) {
            lk(l->head, off)->prev = t;
        } else {
            l->tail = t;
        }
        l->head = t;
    }
}

static void list_del(orc_list *l, orc_t *t, size_t off)
{
    orc_link *k = lk(t, off);
    if (k->prev != NULL) {
        lk(k->prev, off)->next = k->next;
    } else {
        l->head = k->next;
    }
    if (k->next != NULL) {
        lk(k->next, off)->prev = k->prev;
    } else {
        l->tail = k->prev;
    }
    k->next = NULL;
    k->prev = NULL;
}

/* ---- the transport table ---------------------------------------------------------------- */

static size_t hslot(const orc *o, unsigned long id)
{
    return (size_t)((uint32_t)id * 2654435761u) & (o->tab_cap - 1);
}

static orc_t *t_find(const orc *o, unsigned long id)
{
    size_t m;
    size_t i;
    if (o->tab == NULL) {
        return NULL;
    }
    m = o->tab_cap - 1;
    for (i = hslot(o, id);; i = (i + 1) & m) {
        orc_t *t = o->tab[i];
        if (t == NULL || t->id == id) {
            return t;
        }
    }
}

static void t_hash(orc *o, orc_t *ts)
{
    size_t m = o->tab_cap - 1;
    size_t i = hslot(o, ts->id);
    while (o->tab[i] != NULL) {
        i = (i + 1) & m;
    }
    o->tab[i] = ts;
}

static void t_unhash(orc *o, const orc_t *ts)
{
    size_t m = o->tab_cap - 1;
    size_t i = hslot(o, ts->id);
    size_t j;
    while (o->tab[i] != ts) {
        i = (i + 1) & m;
    }
    o->tab[i] = NULL;
    for (j = (i + 1) & m; o->tab[j] != NULL; j = (j + 1) & m) {
        size_t k = hslot(o, o->tab[j]->id);
        /* move it back to the hole unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            o->tab[i] = o->tab[j];
            o->tab[j] = NULL;
            i = j;
        }
    }
}

/* More slots (a chunk as large as all before, within the live limit) and a hash twice
   their number at least. false: the allocator failed. */
static bool t_grow(orc *o)
{
    size_t n = o->nslots == 0 ? ORC_FIRST_CHUNK : o->nslots;
    size_t cap = o->tab_cap == 0 ? 16 : o->tab_cap;
    size_t bytes;
    orc_chunk *c;
    size_t i;
    if (n > o->max_live + ORC_GONE_SLOTS - o->nslots) {
        n = o->max_live + ORC_GONE_SLOTS - o->nslots;
    }
    while (cap < 2 * (o->nslots + n)) {
        cap *= 2;
    }
    if (cap != o->tab_cap) {
        orc_t **tab = o->alloc.alloc(o->alloc.ctx, cap * sizeof(orc_t *));
        orc_t *t;
        if (tab == NULL) {
            return false;
        }
        memset(tab, 0, cap * sizeof(orc_t *));
        if (o->tab != NULL) {
            o->alloc.free(o->alloc.ctx, o->tab, o->tab_cap * sizeof(orc_t *));
        }
        o->tab = tab;
        o->tab_cap = cap;
        for (t = o->live.head; t != NULL; t = t->live.next) {
            t_hash(o, t);
        }
    }
    bytes = sizeof(orc_chunk) + (n - 1) * sizeof(orc_t);
    c = o->alloc.alloc(o->alloc.ctx, bytes);
    if (c == NULL) {
        return false;
    }
    c->next = o->chunks;
    c->n = n;
    c->bytes = bytes;
    o->chunks = c;
    o->nslots += n;
    for (i = n; i-- > 0;) {
        c->slot[i].in_use = false;
        c->slot[i].live.next = o->free_list;
        o->free_list = &c->slot[i];
    }
    return true;
}

/* A fresh live transport of kind tkind (TK_GONE: for a reclaimed one), or NULL after
   stopping the oracle (limit or memory). */
static orc_t *t_new(orc *o, unsigned long id, int tkind)
{
    orc_t *ts;
    /* a transport lost in this pass still counts: results never depend on the limit
       before it is reached */
    if (tkind != TK_GONE && o->nlive - o->ngone >= o->max_live) {
        (void)stop(o, AIOTP_ORACLE_ELIMIT, "more than %zu transports live at once",
                   o->max_live);
        return NULL;
    }
    if (o->free_list == NULL && !t_grow(o)) {
        (void)stop(o, AIOTP_ORACLE_ENOMEM, "out of memory for a transport's state");
        return NULL;
    }
    ts = o->free_list;
    o->free_list = ts->live.next;
    memset(ts, 0, sizeof(*ts));
    ts->id = id;
    ts->in_use = true;
    ts->tkind = tkind;
    o->ngone += tkind == TK_GONE;
    ts->segment = o->segment;
    ts->low = ORC_DEFAULT_LOW;
    ts->high = ORC_DEFAULT_HIGH;
    list_add(&o->live, ts, LIVE, true); /* opening order: finish() reports in it */
    o->nlive++;
    t_hash(o, ts);
    return ts;
}

static void unlink_exc(orc *o, orc_t *ts)
{
    if (ts->exc_pending) {
        ts->exc_pending = false;
        list_del(&o->exc, ts, EXC);
    }
}

/* Forget a transport; its peer keeps what it needs. */
static void t_free(orc *o, orc_t *ts)
{
    KIND(ts)->reclaim(o, ts);
    aiotp__orc_unwait(o, ts);
    unlink_exc(o, ts);
    t_unhash(o, ts);
    list_del(&o->live, ts, LIVE);
    if (o->last_open == ts) {
        o->last_open = NULL;
    }
    o->nlive--;
    o->ngone -= ts->tkind == TK_GONE;
    ts->in_use = false;
    ts->live.next = o->free_list;
    o->free_list = ts;
}

static bool reclaimable(const orc_t *ts)
{
    return ts->in_use && ts->lost && ts->nframes == 0 && !ts->exc_pending &&
           (ts->wait == W_NONE || ts->wait == W_DEAD);
}

/* Reclaim it once nothing can still refer to its state: a lost transport keeps its state
   until the next pass (lines of the same pass are judged with it), a gone one at once. */
static void maybe_reclaim(orc *o, orc_t *ts)
{
    if (!reclaimable(ts)) {
        return;
    }
    if (ts->tkind == TK_GONE || !o->iter_seen) {
        t_free(o, ts);
    } else if (ts->wait == W_NONE) {
        ts->wait = W_DEAD;
        list_add(&o->dead, ts, WAIT, false);
    }
}

/* Reclaim the lost transports kept for this pass. */
static void reclaim_dead(orc *o)
{
    orc_t *t = o->dead.head;
    while (t != NULL) {
        orc_t *next = t->wl.next;
        if (reclaimable(t)) {
            t_free(o, t);
        }
        t = next;
    }
}

/* ---- pass deadlines and exception reports ------------------------------------------------- */

/* The list of a wait. */
static orc_list *wait_list(orc *o, int wait)
{
    switch (wait) {
    case W_LOST_NOW:
        return &o->wnow;
    case W_DEAD:
        return &o->dead;
    default: /* W_MADE, W_LOST_NEXT */
        return &o->wnext;
    }
}

void aiotp__orc_unwait(orc *o, orc_t *ts)
{
    if (ts->wait == W_NONE) {
        return;
    }
    list_del(wait_list(o, ts->wait), ts, WAIT);
    ts->wait = W_NONE;
    ts->wait_rule = NULL;
}

void aiotp__orc_wait(orc *o, orc_t *ts, int wait, const orc_rule *rule)
{
    aiotp__orc_unwait(o, ts);
    if (!o->iter_seen || wait == W_NONE || rule == NULL) {
        return; /* no passes in this trace (yet), or the kind has no such deadline */
    }
    ts->wait = wait;
    ts->wait_rule = rule;
    ts->wait_iter = o->iter;
    /* W_LOST_NOW: this pass; the others the next one: appending keeps wnext sorted */
    ts->deadline = wait == W_LOST_NOW ? o->iter : o->iter + 1;
    list_add(wait_list(o, wait), ts, WAIT, true);
}

void aiotp__orc_expect_exc(orc *o, orc_t *ts, const char *status, const orc_rule *rule)
{
    if (o->version < 3) {
        return; /* formats 1 and 2 have no exception lines */
    }
    /* (a report still due was judged at this callback's cb line: there is none now) */
    ts->exc_pending = true;
    (void)snprintf(ts->exc_status, sizeof(ts->exc_status), "%s", status);
    ts->exc_rule = rule;
    ts->exc_depth = o->depth;
    ts->exc_line = o->last_lineno;
    list_add(&o->exc, ts, EXC, true);
}

void aiotp__orc_exc_done(orc *o, orc_t *ts)
{
    unlink_exc(o, ts);
}

#define EXC_ALL SIZE_MAX

/* Exception reports due before `why`: those of `only` (NULL: all) expected deeper than
   `below` (EXC_ALL: at any depth). */
static int exc_overdue(orc *o, const orc_t *only, size_t below, const char *why)
{
    int rc = 0;
    orc_t *t = o->exc.head;
    while (t != NULL) {
        orc_t *next = t->xl.next;
        if ((only == NULL || t == only) && (below == EXC_ALL || t->exc_depth > below)) {
            rc = ORC_RC(rc, aiotp__orc_violate(o, t, t->exc_rule,
                                               "t%lu: the failure of line %zu (status %s) "
                                               "was not reported to the exception handler "
                                               "before %s", t->id, t->exc_line,
                                               t->exc_status, why));
            unlink_exc(o, t);
            maybe_reclaim(o, t);
        }
        t = next;
    }
    return rc;
}

bool aiotp__orc_fresh(const orc *o, const orc_t *ts)
{
    (void)o;
    return ts->ncb > 0;
}

orc_frame *aiotp__orc_top(orc *o)
{
    return o->depth > 0 ? &o->stack[o->depth - 1] : NULL;
}

/* ---- frames ------------------------------------------------------------------------------- */

static void frame_pop(orc *o)
{
    orc_frame *f = &o->stack[--o->depth];
    f->t->nframes--;
    if (!f->is_call) {
        f->t->ncb--;
    }
    if (o->depth == 0) {
        o->epoch++;
    }
}

/* Drop the frames above depth `to` (their ret never came): their transports resync. */
static void frames_abandon(orc *o, size_t to)
{
    while (o->depth > to) {
        orc_t *t = o->stack[o->depth - 1].t;
        frame_pop(o);
        maybe_reclaim(o, t);
    }
}

static orc_frame *frame_push(orc *o, orc_t *ts, const orc_line *pl, size_t lineno)
{
    orc_frame *f = &o->stack[o->depth++];
    memset(f, 0, sizeof(*f));
    f->t = ts;
    f->name = (unsigned char)pl->name;
    f->is_call = pl->kind == L_CALL;
    f->lineno = lineno;
    f->n = pl->n;
    f->h = pl->h;
    f->l = pl->l;
    f->h_none = pl->h_none;
    f->l_none = pl->l_none;
    f->pkind = pl->pkind;
    f->sum = pl->sum;
    f->addr_hash = pl->addr_hash;
    f->addr_none = pl->addr_none;
    ts->nframes++;
    if (!f->is_call) {
        ts->ncb++;
    }
    return f;
}

static const char *ev_name(const orc_frame *f)
{
    return f->is_call ? "call" : "cb";
}

/* ---- loop lines ----------------------------------------------------------------------------- */

static int check_header(orc *o, const orc_line *pl)
{
    int rc = 0;
    if (o->depth > 0) {
        rc = aiotp__orc_violate(o, NULL, TRACE_RULE(TRACE_1),
                                "header inside the unfinished %s %s of line %zu",
                                ev_name(&o->stack[o->depth - 1]),
                                aiotp__orc_names[o->stack[o->depth - 1].name],
                                o->stack[o->depth - 1].lineno);
        frames_abandon(o, 0);
    }
    /* the hook was set again, maybe on another loop: passes restart, ids may be reused,
       timing across the two is unknown (spec/oracle.md) */
    if (o->header_seen) {
        o->segment++;
    }
    o->header_seen = true;
    o->version = pl->version;
    memcpy(o->impl, pl->impl, sizeof(o->impl));
    o->empty_sum = pl->version >= 3 ? ORC_CRC_INIT : ORC_FNV_INIT;
    if (o->cfg_profile == AIOTP_ORACLE_PROFILE_AUTO) {
        o->profile = auto_profile(o);
    }
    o->iter_seen = false;
    o->iter = 0;
    o->seg_any = false;
    o->seg_max = 0;
    while (o->wnext.head != NULL) {
        aiotp__orc_unwait(o, o->wnext.head);
    }
    while (o->wnow.head != NULL) {
        aiotp__orc_unwait(o, o->wnow.head);
    }
    reclaim_dead(o);
    return rc;
}

static int check_iter(orc *o, const orc_line *pl)
{
    int rc = 0;
    if (o->depth > 0) {
        const orc_frame *f = &o->stack[o->depth - 1];
        rc = aiotp__orc_violate(o, NULL, TRACE_RULE(TRACE_1),
                                "iter %llu inside the unfinished %s %s of line %zu",
                                (unsigned long long)pl->iter, ev_name(f),
                                aiotp__orc_names[f->name], f->lineno);
        frames_abandon(o, 0);
    }
    if (o->iter_seen && (o->iter == UINT64_MAX || pl->iter != o->iter + 1)) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, NULL, TRACE_RULE(TRACE_2),
                                           "iter %llu after iter %llu",
                                           (unsigned long long)pl->iter,
                                           (unsigned long long)o->iter));
        if (pl->iter <= o->iter) {
            /* passes went back: the deadlines cannot be judged any more */
            while (o->wnext.head != NULL) {
                aiotp__orc_unwait(o, o->wnext.head);
            }
        }
    }
    rc = ORC_RC(rc, exc_overdue(o, NULL, EXC_ALL, "the next pass"));
    reclaim_dead(o);
    while (o->wnow.head != NULL) {
        orc_t *t = o->wnow.head;
        rc = ORC_RC(rc, aiotp__orc_violate(o, t, t->wait_rule,
                                           "t%lu: its buffer drained while closing in iter "
                                           "%llu, connection_lost did not come in that pass",
                                           t->id, (unsigned long long)t->wait_iter));
        aiotp__orc_unwait(o, t);
    }
    while (o->wnext.head != NULL && o->wnext.head->deadline < pl->iter) {
        orc_t *t = o->wnext.head;
        if (t->wait == W_MADE) {
            rc = ORC_RC(rc, aiotp__orc_violate(o, t, t->wait_rule,
                                               "t%lu opened in iter %llu, no connection_made "
                                               "in iter %llu", t->id,
                                               (unsigned long long)t->wait_iter,
                                               (unsigned long long)t->deadline));
        } else {
            rc = ORC_RC(rc, aiotp__orc_violate(o, t, t->wait_rule,
                                               "t%lu: connection_lost scheduled in iter %llu "
                                               "did not come in iter %llu", t->id,
                                               (unsigned long long)t->wait_iter,
                                               (unsigned long long)t->deadline));
        }
        aiotp__orc_unwait(o, t);
    }
    o->iter = pl->iter;
    o->iter_seen = true;
    o->epoch++;
    return rc;
}

static int check_open(orc *o, const orc_line *pl, const char *s, size_t len, size_t lineno)
{
    orc_t *ts = t_find(o, pl->tid);
    orc_t *old = ts;
    int rc = 0;
    if (ts != NULL && ts->nframes > 0) {
        /* its state is still in use by an unfinished cb/call: the line is ignored */
        return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_3),
                                  "t%lu reopened inside its own cb/call", pl->tid);
    }
    if (old == NULL) {
        /* the slot first: a line the oracle cannot track is not judged either */
        ts = t_new(o, pl->tid, pl->tkind);
        if (ts == NULL) {
            return o->stop_code;
        }
    }
    if (old != NULL && old->segment == o->segment && old->tkind != TK_GONE) {
        rc = aiotp__orc_violate(o, old, TRACE_RULE(TRACE_3), "t%lu opened a second time",
                                pl->tid);
    } else if (o->seg_any && pl->tid <= o->seg_max) {
        rc = aiotp__orc_violate(o, old, TRACE_RULE(TRACE_3),
                                "t%lu opened after t%lu (ids are opened in increasing order)",
                                pl->tid, o->seg_max);
    }
    if (old != NULL) {
        /* a transport of an earlier loop, a reclaimed one or the one reopened: replaced
           (its slot is free again, so this cannot fail) */
        t_free(o, old);
        ts = t_new(o, pl->tid, pl->tkind);
    }
    KIND(ts)->init(o, ts);
    ts->limits_seen = KIND(ts)->no_limits; /* a kind without a write buffer has none */
    ring_push(&ts->recent, s, len, lineno);
    ts->seq = 1;
    if (!o->seg_any || pl->tid > o->seg_max) {
        o->seg_max = pl->tid;
    }
    o->seg_any = true;
    if (!o->any_open || pl->tid > o->max_id) {
        o->max_id = pl->tid;
    }
    o->any_open = true;
    aiotp__orc_wait(o, ts, W_MADE, KIND(ts)->r.made_late);
    o->last_open = ts;
    return rc;
}

static int check_peer(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_t *p = t_find(o, pl->peer);
    if (p == NULL || p->tkind == TK_GONE || ts->tkind == TK_GONE) {
        return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_5),
                                  "t%lu peer t%lu: t%lu is not live", ts->id, pl->peer,
                                  p == NULL || p->tkind == TK_GONE ? pl->peer : ts->id);
    }
    if (p == ts) {
        return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_5), "t%lu peer of itself", ts->id);
    }
    if (p->segment != o->segment || ts->segment != o->segment) {
        return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_5),
                                  "t%lu peer t%lu: not both of this loop", ts->id, p->id);
    }
    if (ts->paired || p->paired) {
        return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_5),
                                  "t%lu peer t%lu: t%lu already has a peer", ts->id, p->id,
                                  ts->paired ? ts->id : p->id);
    }
    if (p->tkind != ts->tkind) {
        return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_5),
                                  "t%lu peer t%lu: a %s and a %s transport", ts->id, p->id,
                                  KIND(ts)->name, KIND(p)->name);
    }
    ts->peer = p;
    p->peer = ts;
    ts->paired = true;
    p->paired = true;
    return 0;
}

/* "tS pipe fd=F tP": the subprocess tS's pipe for the child's fd F is tP, a live pipe
   transport of this loop (read pipe for 1 and 2, write pipe for 0); each once. */
static int check_pipe_link(orc *o, orc_t *ts, const orc_line *pl)
{
    orc_t *p = t_find(o, pl->peer);
    int want = pl->fd == 0 ? TK_PIPE_WRITE : TK_PIPE_READ;
    if (ts->tkind != TK_SUBPROC) {
        return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_5),
                                  "t%lu pipe line: t%lu is not a subprocess transport", ts->id,
                                  ts->id);
    }
    if (p == NULL || p->tkind != want || p->segment != o->segment || p->owner != 0 ||
        ts->u.sp.pipe[pl->fd] != 0) {
        return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_5),
                                  "t%lu pipe fd=%d t%lu: not a live %s pipe of this loop that "
                                  "no other line named", ts->id, pl->fd, pl->peer,
                                  pl->fd == 0 ? "write" : "read");
    }
    ts->u.sp.pipe[pl->fd] = p->id;
    p->owner = ts->id;
    p->owner_fd = pl->fd;
    return 0;
}

/* ---- cb / call / ret -------------------------------------------------------------------------- */

static int check_cb(orc *o, orc_t *ts, const orc_line *pl, size_t lineno)
{
    const orc_kind *kd = KIND(ts);
    int rc = 0;
    if (ts->exc_pending) {
        rc = exc_overdue(o, ts, EXC_ALL, "its next callback");
    }
    if (!(kd->cbs & ORC_BIT(pl->name))) {
        rc = ORC_RC(rc, aiotp__orc_violate(o, ts, BASE_RULE(PROTO_KIND_1),
                                           "t%lu (%s transport) cb %s: not a callback of its "
                                           "protocols", ts->id, kd->name,
                                           aiotp__orc_names[pl->name]));
    } else {
        rc = ORC_RC(rc, kd->cb(o, ts, pl));
    }
    (void)frame_push(o, ts, pl, lineno);
    return rc;
}

static int check_call(orc *o, orc_t *ts, const orc_line *pl, size_t lineno)
{
    const orc_kind *kd = KIND(ts);
    orc_frame *f = frame_push(o, ts, pl, lineno);
    if (!(kd->calls & ORC_BIT(pl->name))) {
        f->lacks = true;
    } else {
        kd->call(o, ts, f, pl);
    }
    return 0;
}

static int check_ret(orc *o, orc_t *ts, const orc_line *pl)
{
    const orc_kind *kd = KIND(ts);
    size_t k = o->depth;
    int rc = 0;
    orc_frame *f;
    while (k > 0 && (o->stack[k - 1].t != ts || o->stack[k - 1].name != pl->name)) {
        k--;
    }
    if (k == 0) {
        if (o->depth == 0) {
            return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_1), "t%lu ret %s without a cb/call",
                                      ts->id, aiotp__orc_names[pl->name]);
        }
        f = &o->stack[o->depth - 1];
        return aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_1),
                                  "t%lu ret %s while t%lu %s %s of line %zu is open (no %s "
                                  "of t%lu is open: the line is ignored)", ts->id,
                                  aiotp__orc_names[pl->name], f->t->id, ev_name(f),
                                  aiotp__orc_names[f->name], f->lineno,
                                  aiotp__orc_names[pl->name], ts->id);
    }
    if (k < o->depth) {
        f = &o->stack[o->depth - 1];
        rc = aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_1),
                                "t%lu ret %s while t%lu %s %s of line %zu is open (the frames "
                                "above line %zu are dropped)", ts->id,
                                aiotp__orc_names[pl->name], f->t->id, ev_name(f),
                                aiotp__orc_names[f->name], f->lineno,
                                o->stack[k - 1].lineno);
        frames_abandon(o, k);
    }
    f = &o->stack[o->depth - 1];
    if (f->is_call) {
        if (f->lacks) {
            if (!aiotp__orc_is_status(pl->status, "ENOTSUP")) {
                rc = ORC_RC(rc, aiotp__orc_violate(o, ts, BASE_RULE(TRANSPORT_KIND_2),
                                                   "t%lu (%s transport) %s returned %s, "
                                                   "ENOTSUP expected", ts->id, kd->name,
                                                   aiotp__orc_names[f->name], pl->status));
            }
        } else if (aiotp__orc_is_status(pl->status, "ENOTSUP") && ts->tkind != TK_GONE) {
            rc = ORC_RC(rc, aiotp__orc_violate(o, ts, BASE_RULE(TRANSPORT_KIND_2),
                                               "t%lu (%s transport) %s returned ENOTSUP: it "
                                               "has that method", ts->id, kd->name,
                                               aiotp__orc_names[f->name]));
        } else {
            rc = ORC_RC(rc, kd->call_ret(o, ts, f, pl));
        }
        aiotp__orc_set_size(o, ts, pl->size);
        frame_pop(o);
    } else {
        orc_frame copy = *f;
        frame_pop(o);
        if (kd->cbs & ORC_BIT(copy.name)) {
            rc = ORC_RC(rc, kd->cb_ret(o, ts, &copy, pl));
        }
    }
    if (o->exc.head != NULL) {
        rc = ORC_RC(rc, exc_overdue(o, NULL, o->depth, "its caller returned"));
    }
    return rc;
}

/* ---- feeding ------------------------------------------------------------------------------- */

/* A line of a transport that is not live. */
static orc_t *gone_or_unknown(orc *o, const orc_line *pl, int *rc)
{
    orc_t *ts;
    if (!o->any_open || pl->tid > o->max_id) {
        *rc = aiotp__orc_violate(o, NULL, TRACE_RULE(TRACE_3), "t%lu was never opened",
                                 pl->tid);
        return NULL;
    }
    /* an id below the highest opened: reclaimed after its connection_lost */
    ts = t_new(o, pl->tid, TK_GONE);
    if (ts == NULL) {
        *rc = o->stop_code;
        return NULL;
    }
    KIND(ts)->init(o, ts);
    return ts;
}

static int feed_transport(orc *o, const orc_line *pl, size_t len, size_t lineno)
{
    orc_t *ts = t_find(o, pl->tid);
    orc_t *prev_open = o->last_open;
    int rc = 0;

    o->last_open = NULL;
    if ((pl->kind == L_CB || pl->kind == L_CALL) && o->depth >= AIOTP_ORACLE_MAX_DEPTH) {
        /* the limit first: a line the oracle cannot track is not judged either, so the
           result and the report agree (found by fuzz_trace) */
        return stop(o, AIOTP_ORACLE_ELIMIT, "cb/call nesting deeper than %u",
                    AIOTP_ORACLE_MAX_DEPTH);
    }
    if (ts == NULL) {
        ts = gone_or_unknown(o, pl, &rc);
        if (ts == NULL) {
            return rc;
        }
    }
    ts->seq++;
    ring_push(&ts->recent, o->buf, len, lineno);
    if (pl->kind == L_LIMITS) {
        if (ts->limits_seen || prev_open != ts || KIND(ts)->no_limits) {
            rc = aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_3),
                                    "t%lu limits line not right after its open line", ts->id);
        }
        ts->limits_seen = true;
        rc = ORC_RC(rc, aiotp__orc_limits_line(o, ts, pl));
        maybe_reclaim(o, ts);
        return rc;
    }
    if (!ts->limits_seen) {
        rc = aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_3),
                                "t%lu has no limits line after its open line", ts->id);
        ts->limits_seen = true;
    }
    switch (pl->kind) {
    case L_PEER:
        rc = ORC_RC(rc, check_peer(o, ts, pl));
        break;
    case L_PIPE:
        rc = ORC_RC(rc, check_pipe_link(o, ts, pl));
        break;
    case L_CB:
        rc = ORC_RC(rc, check_cb(o, ts, pl, lineno));
        break;
    case L_CALL:
        rc = ORC_RC(rc, check_call(o, ts, pl, lineno));
        break;
    case L_RET:
        rc = ORC_RC(rc, check_ret(o, ts, pl));
        break;
    case L_QUERY:
        rc = ORC_RC(rc, KIND(ts)->query(o, ts, pl));
        break;
    case L_OVER:
    case L_HANDSHAKE:
        if (KIND(ts)->line != NULL) {
            rc = ORC_RC(rc, KIND(ts)->line(o, ts, pl));
        } else if (ts->tkind != TK_GONE) {
            rc = ORC_RC(rc, aiotp__orc_violate(o, ts, TRACE_RULE(TRACE_3),
                                               "t%lu (%s transport): an over/upgrade/"
                                               "handshake line is for TLS transports",
                                               ts->id, KIND(ts)->name));
        }
        break;
    default: /* L_EXC */
        rc = ORC_RC(rc, aiotp__orc_exc(o, ts, pl));
        break;
    }
    maybe_reclaim(o, ts);
    return rc;
}

int aiotp_oracle_feed(aiotp_oracle *o, const char *line, size_t len, size_t lineno)
{
    orc_line pl;
    char err[200];
    size_t i;

    if (o == NULL || line == NULL) {
        return AIOTP_ORACLE_EINVAL;
    }
    o->lines++;
    if (o->stopped) {
        return o->stop_code;
    }
    o->last_lineno = lineno;
    if (len > 0 && line[len - 1] == '\r') {
        len--; /* CRLF line endings */
    }
    if (len > AIOTP_ORACLE_MAX_LINE) {
        return stop(o, AIOTP_ORACLE_EPARSE, "line longer than %u bytes",
                    AIOTP_ORACLE_MAX_LINE);
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c > 0x7e) {
            return stop(o, AIOTP_ORACLE_EPARSE,
                        "byte 0x%02x at column %zu (printable ASCII expected)", c, i + 1);
        }
    }
    if (len == 0 || line[0] == '#') {
        return 0; /* blank lines and comments (spec/oracle.md) */
    }
    memcpy(o->buf, line, len);
    o->buf[len] = '\0';
    if (!aiotp__orc_parse(o->buf, len, o->header_seen ? o->version : 3, &pl, err,
                          sizeof(err))) {
        return stop(o, AIOTP_ORACLE_EPARSE, "%s", err);
    }
    if (!o->header_seen && pl.kind != L_HEADER) {
        return stop(o, AIOTP_ORACLE_EPARSE,
                    "missing header (\"aiotp-trace 3 impl=NAME\" first)");
    }
    ring_push(&o->recent, o->buf, len, lineno);
    switch (pl.kind) {
    case L_HEADER:
        o->last_open = NULL;
        return check_header(o, &pl);
    case L_ITER:
        o->last_open = NULL;
        return check_iter(o, &pl);
    case L_OPEN:
        o->last_open = NULL;
        return check_open(o, &pl, o->buf, len, lineno);
    case L_LOOP_EXC:
        o->last_open = NULL;
        return 0;
    default:
        return feed_transport(o, &pl, len, lineno);
    }
}

int aiotp_oracle_feed_line(aiotp_oracle *o, const char *line, size_t lineno)
{
    const void *nul;
    if (o == NULL || line == NULL) {
        return AIOTP_ORACLE_EINVAL;
    }
    /* a line of MAX_LINE bytes may still end with a CR */
    nul = memchr(line, '\0', AIOTP_ORACLE_MAX_LINE + 2u);
    if (nul == NULL) {
        o->lines++;
        if (o->stopped) {
            return o->stop_code;
        }
        o->last_lineno = lineno;
        return stop(o, AIOTP_ORACLE_EPARSE, "line longer than %u bytes",
                    AIOTP_ORACLE_MAX_LINE);
    }
    return aiotp_oracle_feed(o, line, (size_t)((const char *)nul - line), lineno);
}

int aiotp_oracle_finish(aiotp_oracle *o)
{
    int rc = 0;
    orc_t *t;
    if (o == NULL) {
        return AIOTP_ORACLE_EINVAL;
    }
    if (o->stopped) {
        return o->stop_code;
    }
    if (!o->header_seen) {
        return stop(o, AIOTP_ORACLE_EPARSE, "missing header (empty trace)");
    }
    if (o->depth > 0) {
        const orc_frame *f = &o->stack[o->depth - 1];
        rc = aiotp__orc_violate(o, f->t, TRACE_RULE(TRACE_1),
                                "end of trace inside t%lu %s %s of line %zu", f->t->id,
                                ev_name(f), aiotp__orc_names[f->name], f->lineno);
        frames_abandon(o, 0);
    }
    rc = ORC_RC(rc, exc_overdue(o, NULL, EXC_ALL, "the end of the trace"));
    if (o->flags & AIOTP_ORACLE_REQUIRE_LOST) {
        for (t = o->live.head; t != NULL; t = t->live.next) {
            if (!t->lost && !t->end_above) {
                rc = ORC_RC(rc, aiotp__orc_violate(o, t, KIND(t)->r.lost_twice,
                                                   "end of trace: t%lu never got "
                                                   "connection_lost", t->id));
            }
        }
    }
    return rc;
}

/* ---- deep validation ------------------------------------------------------------------------ */

static bool ring_ok(const orc_ring *r)
{
    size_t i;
    if (r->head >= AIOTP_ORACLE_RECENT || r->count > AIOTP_ORACLE_RECENT) {
        return false;
    }
    for (i = 0; i < r->count; i++) {
        size_t k = (r->head + AIOTP_ORACLE_RECENT - 1 - i) % AIOTP_ORACLE_RECENT;
        if (memchr(r->ev[k].text, '\0', AIOTP_ORACLE_KEEP) == NULL) {
            return false;
        }
    }
    return true;
}

static const orc_link *lkc(const orc_t *t, size_t off)
{
    return (const orc_link *)(const void *)((const char *)t + off);
}

/* A list's links agree both ways and with its tail; its members are in use and at most
   bound. */
static bool list_ok(const orc_list *l, size_t off, size_t bound)
{
    const orc_t *t;
    const orc_t *prev = NULL;
    size_t n = 0;
    for (t = l->head; t != NULL; t = lkc(t, off)->next) {
        if (!t->in_use || lkc(t, off)->prev != prev || ++n > bound) {
            return false;
        }
        prev = t;
    }
    return prev == l->tail;
}

static bool t_ok(const orc *o, const orc_t *ts)
{
    if (!ts->in_use || ts->tkind < 0 || ts->tkind >= TK_COUNT || !ring_ok(&ts->recent) ||
        t_find(o, ts->id) != ts || ts->segment > o->segment || ts->cl < CL_OPEN ||
        ts->cl > CL_UNKNOWN || memchr(ts->expect, '\0', sizeof(ts->expect)) == NULL) {
        return false;
    }
    if (ts->expect[0] != '\0' && (ts->expect_rule == NULL || ts->cl != CL_SCHEDULED)) {
        return false;
    }
    if (ts->aborted && ts->cl != CL_SCHEDULED) {
        return false;
    }
    if ((ts->peer != NULL && (ts->peer->peer != ts || !ts->paired || ts->peer_gone ||
                              !ts->peer->in_use)) ||
        (ts->peer_gone && ts->peer != NULL)) {
        return false; /* pairs are mutual */
    }
    if (ts->wait != W_NONE && ((ts->wait == W_DEAD) != ts->lost ||
                               (ts->wait != W_DEAD && ts->wait_rule == NULL))) {
        return false;
    }
    if (ts->exc_pending && (ts->exc_rule == NULL || ts->exc_depth > AIOTP_ORACLE_MAX_DEPTH)) {
        return false;
    }
    return aiotp__orc_base_valid(o, ts) && KIND(ts)->valid(o, ts);
}

bool aiotp_oracle_is_valid(const aiotp_oracle *o)
{
    const orc_t *t;
    size_t n = 0;
    size_t nf = 0;
    size_t i;
    size_t cap = 0;
    uint64_t last = 0;
    const orc_chunk *c;
    if (o == NULL || o->max_live == 0 || o->max_live > AIOTP_ORACLE_MAX_TRANSPORTS ||
        o->depth > AIOTP_ORACLE_MAX_DEPTH || !ring_ok(&o->recent) || o->counts == NULL ||
        o->profile < AIOTP_ORACLE_PROFILE_DOC || o->profile > AIOTP_ORACLE_PROFILE_AIOTP) {
        return false;
    }
    if (o->have_first != (o->nviol > 0 || o->stopped)) {
        return false;
    }
    if (o->stopped && o->stop_code != AIOTP_ORACLE_EPARSE && o->stop_code != AIOTP_ORACLE_ELIMIT &&
        o->stop_code != AIOTP_ORACLE_ENOMEM) {
        return false;
    }
    if (o->have_first && o->first.nrecent > AIOTP_ORACLE_RECENT) {
        return false;
    }
    if (!o->header_seen && (o->live.head != NULL || o->depth > 0 || o->iter != 0)) {
        return false;
    }
    for (c = o->chunks; c != NULL; c = c->next) {
        cap += c->n;
    }
    if (cap != o->nslots || o->nslots > o->max_live + ORC_GONE_SLOTS || o->ngone > o->nlive ||
        (o->tab != NULL && (o->tab_cap < 2 * o->nslots || (o->tab_cap & (o->tab_cap - 1)) != 0))) {
        return false;
    }
    if (!list_ok(&o->live, LIVE, o->nlive) || !list_ok(&o->wnext, WAIT, o->nslots) ||
        !list_ok(&o->wnow, WAIT, o->nslots) || !list_ok(&o->dead, WAIT, o->nslots) ||
        !list_ok(&o->exc, EXC, o->nslots)) {
        return false;
    }
    for (t = o->live.head; t != NULL; t = t->live.next) {
        if (!t_ok(o, t)) {
            return false;
        }
        n++;
    }
    if (n != o->nlive) {
        return false;
    }
    for (t = o->free_list; t != NULL; t = t->live.next) {
        if (t->in_use || ++nf > o->nslots) {
            return false;
        }
    }
    if (n + nf != o->nslots) {
        return false;
    }
    for (i = 0; o->tab != NULL && i < o->tab_cap; i++) {
        if (o->tab[i] != NULL && !o->tab[i]->in_use) {
            return false;
        }
    }
    for (t = o->wnext.head; t != NULL; t = t->wl.next) {
        if ((t->wait != W_MADE && t->wait != W_LOST_NEXT) || t->deadline < last) {
            return false;
        }
        last = t->deadline;
    }
    for (t = o->wnow.head; t != NULL; t = t->wl.next) {
        if (t->wait != W_LOST_NOW) {
            return false;
        }
    }
    for (t = o->dead.head; t != NULL; t = t->wl.next) {
        if (t->wait != W_DEAD) {
            return false;
        }
    }
    for (t = o->exc.head; t != NULL; t = t->xl.next) {
        if (!t->exc_pending) {
            return false;
        }
    }
    for (i = 0; i < o->depth; i++) {
        const orc_frame *f = &o->stack[i];
        if (f->t == NULL || !f->t->in_use || f->name >= N_COUNT ||
            f->is_call != (f->name >= N_FIRST_CALL) || f->t->nframes == 0) {
            return false;
        }
        if (i > 0 && f->lineno < o->stack[i - 1].lineno) {
            return false;
        }
    }
    if (o->last_open != NULL && !o->last_open->in_use) {
        return false;
    }
    return true;
}
