/* src/core/theap.c - see theap.h. Pure: no syscalls, no allocation, no callbacks.
 *
 * The sift loops move a "hole" instead of swapping: the entry being placed (e) is written
 * once, where it belongs; each entry moved on the way has its pos[] updated. Entries are
 * copied field by field: WP then sees plain stores (a struct assignment is a havoc of the
 * whole entry plus an equation, much harder for the provers). */
#include "core/theap.h"

/* The labels below (Up, Down, Place, S, Out) are named only by ACSL assertions (\at), which
   the compiler does not see. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-label"
#endif

void aiotp__theap_init(aiotp__theap *h)
{
    h->a = NULL;
    h->pos = NULL;
    h->n = 0;
    h->cap = 0;
    h->nids = 0;
}

void aiotp__theap_rebase(aiotp__theap *h, aiotp__timer *a, uint32_t cap, aiotp__timer **pos,
                         uint32_t nids)
{
    uint32_t n = h->n;
    uint32_t i;

    /*@ loop invariant range: 0 <= i <= n;
        loop invariant places: PosEx(a, pos, i, nids, i);
        loop assigns i, pos[0 .. nids - 1];
        loop variant n - i;
    */
    for (i = 0; i < n; i++) {
        pos[a[i].id] = a + i;
    }
    h->a = a;
    h->pos = pos;
    h->cap = cap;
    h->nids = nids;
}

/* x comes before y: earlier, or as early and scheduled first. */
/*@ assigns \nothing;
    ensures \result != 0 <==> KeyLt(x, y);
*/
static bool before(aiotp__timer x, aiotp__timer y)
{
    return x.when < y.when || (x.when == y.when && x.seq < y.seq);
}

/* Place e from the hole at i upwards. Before: the heap a[0 .. n) is in order except at the
   hole; e is at or before every child of the hole, and (bridge) so is the hole's parent;
   e's id is not in the heap. After: a[0 .. n) is a heap holding e and the entries that
   were there (each where pos says, unchanged). */
/*@ requires sizes: i < n <= AIOTP__THEAP_MAX && nids <= AIOTP__THEAP_MAX && e.id < nids;
    requires storage: \valid(a + (0 .. n - 1)) && \valid(pos + (0 .. nids - 1)) &&
                      \separated(a + (0 .. n - 1), pos + (0 .. nids - 1));
    requires order: OrdEx(a, n, i);
    requires below: \forall integer c; 0 < c < n && Parent(c) == i ==> KeyLe(e, a[c]);
    requires bridge: i > 0 ==> \forall integer c; 0 < c < n && Parent(c) == i ==>
                                 KeyLe(a[Parent(i)], a[c]);
    requires places: PosEx(a, pos, n, nids, i);
    requires new_id: NotIn(a, n, i, e.id);
    assigns a[0 .. n - 1], pos[0 .. nids - 1];
    ensures order: Ord(a, n);
    ensures places: PosEx(a, pos, n, nids, n);
    ensures added: InEx(a, pos, n, nids, n, e.id) && *pos[e.id] == e;
    ensures keep: \forall integer id; id != e.id && \old(InEx(a, pos, n, nids, i, id)) ==>
              InEx(a, pos, n, nids, n, id) && *pos[id] == \old(*pos[id]);
    ensures only: \forall integer id; id != e.id && InEx(a, pos, n, nids, n, id) ==>
              \old(InEx(a, pos, n, nids, i, id));
*/
static void sift_up(aiotp__timer *a, aiotp__timer **pos, uint32_t n, uint32_t nids,
                    uint32_t i, aiotp__timer e)
{
    (void)n; /* n and nids: for the contract */
    (void)nids;
    /*@ loop invariant hole: 0 <= i <= \at(i, Pre);
        loop invariant order: OrdEx(a, n, i);
        loop invariant below: \forall integer c; 0 < c < n && Parent(c) == i ==> KeyLe(e, a[c]);
        loop invariant bridge: i > 0 ==> \forall integer c; 0 < c < n && Parent(c) == i ==>
                                 KeyLe(a[Parent(i)], a[c]);
        loop invariant places: PosEx(a, pos, n, nids, i);
        loop invariant new_id: NotIn(a, n, i, e.id);
        loop invariant keep: \forall integer id; id != e.id &&
          \at(InEx(a, pos, n, nids, \at(i, Pre), id), Pre) ==>
          InEx(a, pos, n, nids, i, id) && *pos[id] == \at(*pos[id], Pre);
        loop invariant from_old: \forall integer k, id; 0 <= k < n && k != i && id == a[k].id ==>
          \at(InEx(a, pos, n, nids, \at(i, Pre), id), Pre);
        loop assigns i, a[0 .. n - 1], pos[0 .. nids - 1];
        loop variant i;
    */
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!before(e, a[p])) {
            break;
        }
        /*@ assert up_order: (p > 0 ==> KeyLe(a[Parent(p)], a[p])) &&
              \forall integer c; 0 < c < n && Parent(c) == p && c != i ==> KeyLe(a[p], a[c]); */
    Up:
        a[i].when = a[p].when;
        a[i].seq = a[p].seq;
        a[i].id = a[p].id;
        pos[a[i].id] = a + i;
        /* (steps of the proof: what the four stores did) */
        /*@ assert moved: a[i] == \at(a[p], Up) && pos[a[i].id] == a + i; */
        /*@ assert a_same: \forall integer k; 0 <= k < n && k != i ==> a[k] == \at(a[k], Up); */
        /*@ assert pos_same: \forall integer id; id != a[i].id ==> pos[id] == \at(pos[id], Up); */
        /*@ assert keep_others: \forall integer id; id != a[i].id &&
              \at(InEx(a, pos, n, nids, i, id), Up) ==>
              InEx(a, pos, n, nids, p, id) && *pos[id] == \at(*pos[id], Up); */
        /*@ assert keep_moved: \let mid = a[i].id; InEx(a, pos, n, nids, p, mid) &&
              *pos[mid] == \at(*pos[mid], Up); */
        i = p;
    }
Place:
    a[i].when = e.when;
    a[i].seq = e.seq;
    a[i].id = e.id;
    pos[e.id] = a + i;
    /*@ assert placed: a[i] == e && pos[e.id] == a + i; */
    /*@ assert a_same: \forall integer k; 0 <= k < n && k != i ==> a[k] == \at(a[k], Place); */
    /*@ assert pos_same: \forall integer id; id != e.id ==> pos[id] == \at(pos[id], Place); */
    /*@ assert keep_done: \forall integer id; id != e.id && \at(InEx(a, pos, n, nids, i, id), Place) ==>
          InEx(a, pos, n, nids, n, id) && *pos[id] == \at(*pos[id], Place); */
}

/* Place e from the hole at i downwards. Before: a[0 .. n) is in order except at the hole;
   the hole's parent is at or before e and every child of the hole; e's id is not in the
   heap. After: as for sift_up. */
/*@ requires sizes: i < n <= AIOTP__THEAP_MAX && nids <= AIOTP__THEAP_MAX && e.id < nids;
    requires storage: \valid(a + (0 .. n - 1)) && \valid(pos + (0 .. nids - 1)) &&
                      \separated(a + (0 .. n - 1), pos + (0 .. nids - 1));
    requires order: OrdEx(a, n, i);
    requires above: i > 0 ==> KeyLe(a[Parent(i)], e);
    requires bridge: i > 0 ==> \forall integer c; 0 < c < n && Parent(c) == i ==>
                                 KeyLe(a[Parent(i)], a[c]);
    requires places: PosEx(a, pos, n, nids, i);
    requires new_id: NotIn(a, n, i, e.id);
    assigns a[0 .. n - 1], pos[0 .. nids - 1];
    ensures order: Ord(a, n);
    ensures places: PosEx(a, pos, n, nids, n);
    ensures added: InEx(a, pos, n, nids, n, e.id) && *pos[e.id] == e;
    ensures keep: \forall integer id; id != e.id && \old(InEx(a, pos, n, nids, i, id)) ==>
              InEx(a, pos, n, nids, n, id) && *pos[id] == \old(*pos[id]);
    ensures only: \forall integer id; id != e.id && InEx(a, pos, n, nids, n, id) ==>
              \old(InEx(a, pos, n, nids, i, id));
*/
static void sift_down(aiotp__timer *a, aiotp__timer **pos, uint32_t n, uint32_t nids,
                      uint32_t i, aiotp__timer e)
{
    (void)nids; /* for the contract */
    /*@ loop invariant hole: \at(i, Pre) <= i < n;
        loop invariant order: OrdEx(a, n, i);
        loop invariant above: i > 0 ==> KeyLe(a[Parent(i)], e);
        loop invariant bridge: i > 0 ==> \forall integer c; 0 < c < n && Parent(c) == i ==>
                                 KeyLe(a[Parent(i)], a[c]);
        loop invariant places: PosEx(a, pos, n, nids, i);
        loop invariant new_id: NotIn(a, n, i, e.id);
        loop invariant keep: \forall integer id; id != e.id &&
          \at(InEx(a, pos, n, nids, \at(i, Pre), id), Pre) ==>
          InEx(a, pos, n, nids, i, id) && *pos[id] == \at(*pos[id], Pre);
        loop invariant from_old: \forall integer k, id; 0 <= k < n && k != i && id == a[k].id ==>
          \at(InEx(a, pos, n, nids, \at(i, Pre), id), Pre);
        loop assigns i, a[0 .. n - 1], pos[0 .. nids - 1];
        loop variant n - i;
    */
    for (;;) {
        uint32_t l = 2 * i + 1; /* i < n <= AIOTP__THEAP_MAX: no overflow */
        uint32_t r;
        uint32_t m = l;
        if (l >= n) {
            /*@ assert leaf: \forall integer c; 0 < c < n ==> Parent(c) != i; */
            break;
        }
        /* the right child, or the left one again when there is none (a comparison, not a
           branch: a branch on l + 1 < n gives the provers n == l + 1 on one path, which
           they fail to carry through the loop's memory) */
        r = l + (uint32_t)(l + 1 < n);
        /*@ assert right: (l + 1 < n ==> r == l + 1) && (l + 1 >= n ==> r == l); */
        if (before(a[r], a[l])) {
            m = r;
        }
        /*@ assert child: l < n && (m == l || (m == l + 1 && l + 1 < n)); */
        /*@ assert earliest: \forall integer c; 0 < c < n && Parent(c) == i ==> KeyLe(a[m], a[c]); */
        if (!before(a[m], e)) {
            /*@ assert settled: \forall integer c; 0 < c < n && Parent(c) == i ==>
                                  KeyLe(e, a[c]); */
            break;
        }
        /*@ assert bridge_old: \forall integer c; 0 < c < n && Parent(c) == m ==> KeyLe(a[m], a[c]); */
        /*@ assert ids_apart_old: \forall integer k; 0 <= k < n && k != i && k != m ==>
              a[k].id != a[m].id; */
        /*@ assert others_not_m: \forall integer id; id != a[m].id &&
              InEx(a, pos, n, nids, i, id) ==> pos[id] - a != m; */
    Down:
        a[i].when = a[m].when;
        a[i].seq = a[m].seq;
        a[i].id = a[m].id;
        pos[a[i].id] = a + i;
        /* (steps of the proof: what the four stores did) */
        /*@ assert moved: a[i] == \at(a[m], Down) && pos[a[i].id] == a + i; */
        /*@ assert a_same: \forall integer k; 0 <= k < n && k != i ==> a[k] == \at(a[k], Down); */
        /*@ assert pos_same: \forall integer id; id != a[i].id ==> pos[id] == \at(pos[id], Down); */
        /*@ assert new_id_next: NotIn(a, n, m, e.id); */
        /*@ assert keep_others: \forall integer id; id != a[i].id &&
              \at(InEx(a, pos, n, nids, i, id), Down) ==>
              InEx(a, pos, n, nids, m, id) && *pos[id] == \at(*pos[id], Down); */
        /*@ assert keep_moved: \let mid = a[i].id; InEx(a, pos, n, nids, m, mid) &&
              *pos[mid] == \at(*pos[mid], Down); */
        /*@ assert bridge_next: \forall integer c; 0 < c < n && Parent(c) == m ==> KeyLe(a[i], a[c]); */
        /*@ assert down: Parent(m) == i; */
        /* (the heap order with the hole at m, edge by edge: the edge into i, the edges
           from i to m's siblings, and every edge that touches neither i nor m) */
        /*@ assert order_into: i > 0 ==> KeyLe(a[Parent(i)], a[i]); */
        /*@ assert order_siblings: \forall integer c; 0 < c < n && Parent(c) == i && c != m ==>
              KeyLe(a[i], a[c]); */
        /*@ assert rest_same: \forall integer j; 0 < j < n && j != i && Parent(j) != i ==>
              a[j] == \at(a[j], Down) && a[Parent(j)] == \at(a[Parent(j)], Down); */
        /*@ assert order_rest: \forall integer j; 0 < j < n && j != i && j != m &&
              Parent(j) != i && Parent(j) != m ==> KeyLe(a[Parent(j)], a[j]); */
        /*@ assert order_next: OrdEx(a, n, m); */
        /* (the places with the hole at m: the moved entry at i, every other one unmoved) */
        /*@ assert ids_apart: \forall integer k; 0 <= k < n && k != i && k != m ==>
              a[k].id != a[i].id; */
        /*@ assert places_next: PosEx(a, pos, n, nids, m); */
        i = m;
    }
    /*@ assert kids: \forall integer c; 0 < c < n && Parent(c) == i ==> KeyLe(e, a[c]); */
Place:
    a[i].when = e.when;
    a[i].seq = e.seq;
    a[i].id = e.id;
    pos[e.id] = a + i;
    /*@ assert placed: a[i] == e && pos[e.id] == a + i; */
    /*@ assert a_same: \forall integer k; 0 <= k < n && k != i ==> a[k] == \at(a[k], Place); */
    /*@ assert pos_same: \forall integer id; id != e.id ==> pos[id] == \at(pos[id], Place); */
    /*@ assert order_done: Ord(a, n); */
    /*@ assert places_done: PosEx(a, pos, n, nids, n); */
    /*@ assert keep_done: \forall integer id; id != e.id && \at(InEx(a, pos, n, nids, i, id), Place) ==>
          InEx(a, pos, n, nids, n, id) && *pos[id] == \at(*pos[id], Place); */
}

void aiotp__theap_push(aiotp__theap *h, aiotp__timer t)
{
    aiotp__timer *a = h->a;
    aiotp__timer **pos = h->pos;
    uint32_t nids = h->nids;
    uint32_t n = h->n + 1;

    /* (the assertions are steps of the proof: the heap's predicates seen through the
       local copies of its fields, before and after the one write to *h) */
    /*@ assert before_in: \forall integer id; In(h, id) <==> InEx(a, pos, n, nids, n - 1, id); */
    sift_up(a, pos, n, nids, n - 1, t);
    /*@ assert apart: \separated(&h->n, a + (0 .. n - 1), pos + (0 .. nids - 1)); */
S:
    h->n = n;
    /*@ assert a_kept: \forall integer k; 0 <= k < n ==> a[k] == \at(a[k], S); */
    /*@ assert pos_kept: \forall integer id; 0 <= id < nids ==> pos[id] == \at(pos[id], S); */
    /*@ assert fields: h->a == a && h->pos == pos && h->nids == nids && h->n == n; */
    /*@ assert in_same: \forall integer id; In(h, id) <==> \at(InEx(a, pos, n, nids, n, id), S); */
}

/* Remove the entry at place i: the last entry fills the hole. */
/*@ requires valid: HeapAt(h);
    requires place: i < h->n;
    assigns h->n, h->a[0 .. h->cap - 1], h->pos[0 .. h->nids - 1];
    ensures valid_shape: HeapShape(h);
    ensures valid_order: Ord(h->a, h->n);
    ensures valid_places: PosEx(h->a, h->pos, h->n, h->nids, h->n);
    ensures entry: \result == \old(h->a[i]) && \old(In(h, h->a[i].id));
    ensures count: h->n == \old(h->n) - 1;
    ensures removed: !In(h, \result.id);
    ensures keep: \forall integer id; id != \result.id && \old(In(h, id)) ==>
                    In(h, id) && Entry(h, id) == \old(Entry(h, id));
    ensures from_old: \forall integer id; In(h, id) ==> \old(In(h, id)) && id != \result.id;
    ensures same: h->a == \old(h->a) && h->pos == \old(h->pos) && h->cap == \old(h->cap) &&
                  h->nids == \old(h->nids);
*/
static aiotp__timer remove_at(aiotp__theap *h, uint32_t i)
{
    aiotp__timer *a = h->a;
    aiotp__timer **pos = h->pos;
    uint32_t nids = h->nids;
    aiotp__timer t = a[i];
    uint32_t n = h->n - 1;

    h->n = n;
    if (i < n) {
        aiotp__timer last = a[n];
        /* (step: the heap's fields lie apart from what the sift writes, so that they are
           seen unchanged after it) */
        /*@ assert apart: \separated(h, a + (0 .. n - 1), pos + (0 .. nids - 1)); */
        /* (steps of the proof: before the sift, every other timer is in the heap with the
           hole at i, the last one apart; t's id is not in it) */
        /*@ assert ids_differ: last.id != t.id; */
        /*@ assert others_in: \forall integer id; id != t.id && id != last.id &&
              \at(In(h, id), Pre) ==> InEx(a, pos, n, nids, i, id); */
        /*@ assert t_out: !InEx(a, pos, n, nids, i, t.id); */
        /*@ assert entries_pre: \forall integer id; \at(In(h, id), Pre) ==>
              *pos[id] == \at(Entry(h, id), Pre); */
        /*@ assert last_entry: \let lid = last.id; \at(Entry(h, lid), Pre) == last; */
        /*@ assert hole_in_pre: \forall integer id; InEx(a, pos, n, nids, i, id) ==>
              \at(In(h, id), Pre) && id != t.id; */
        /*@ assert last_in_pre: \let lid = last.id; \at(In(h, lid), Pre) && lid != t.id; */
        if (i > 0 && before(last, a[(i - 1) / 2])) {
            /* (steps: last is before the hole's parent, which is at or before the hole's
               old entry and so at or before each of its children) */
            /*@ assert up_lt: KeyLt(last, a[Parent(i)]); */
            /*@ assert up_kids: \forall integer c; 0 < c < n && Parent(c) == i ==>
                  KeyLe(a[Parent(i)], a[i]) && KeyLe(a[i], a[c]); */
            sift_up(a, pos, n, nids, i, last);
        } else {
            sift_down(a, pos, n, nids, i, last);
        }
        /* (after it: the last timer, then every other one, where it was) */
        /*@ assert kept_last: \let lid = last.id; InEx(a, pos, n, nids, n, lid) &&
              *pos[lid] == \at(Entry(h, lid), Pre); */
        /*@ assert kept_others: \forall integer id; id != t.id && id != last.id &&
              \at(In(h, id), Pre) ==> InEx(a, pos, n, nids, n, id) &&
              *pos[id] == \at(Entry(h, id), Pre); */
        /*@ assert from_pre: \forall integer id; InEx(a, pos, n, nids, n, id) ==>
              \at(In(h, id), Pre) && id != t.id; */
    }
    /*@ assert fields_n: h->n == n; */
    /*@ assert fields_a: h->a == a; */
    /*@ assert fields_pos: h->pos == pos; */
    /*@ assert fields: h->a == a && h->pos == pos && h->nids == nids && h->n == n; */
    return t;
}

/* The root is the earliest: each entry is at or after its parent, which sits earlier in
   the array (induction over the places, as a ghost loop). */
/*@ requires order: 0 < n && \valid_read(a + (0 .. n - 1)) && Ord(a, n);
    assigns \nothing;
    ensures root_first: \forall integer k; 0 <= k < n ==> KeyLe(a[0], a[k]);
*/
static void root_is_earliest(aiotp__timer *a, uint32_t n)
{
    (void)a;
    (void)n;
    /*@ ghost
      /@ loop invariant 1 <= g <= n;
         loop invariant \forall integer k; 0 <= k < g ==> KeyLe(a[0], a[k]);
         loop assigns g;
         loop variant n - g; @/
      for (uint32_t g = 1; g < n; g++) {
          /@ assert parent_before: 0 <= Parent(g) < g; @/
          /@ assert chain: KeyLe(a[0], a[Parent(g)]) && KeyLe(a[Parent(g)], a[g]); @/
      }
    */
}

aiotp__timer aiotp__theap_pop(aiotp__theap *h)
{
    root_is_earliest(h->a, h->n);
    return remove_at(h, 0);
}

bool aiotp__theap_pop_due(aiotp__theap *h, int64_t now, aiotp__timer *out)
{
    if (h->n == 0) {
        return false;
    }
    root_is_earliest(h->a, h->n);
    if (h->a[0].when > now) {
        return false; /* the earliest is not due: none is */
    }
    aiotp__timer t = remove_at(h, 0);
    /*@ assert kept: \forall integer id; id != t.id && \at(In(h, id), Pre) ==>
          In(h, id) && Entry(h, id) == \at(Entry(h, id), Pre); */
    /*@ assert apart: \separated(out, h, h->a + (0 .. h->cap - 1), h->pos + (0 .. h->nids - 1)); */
Out:
    out->when = t.when; /* field by field: plain stores (see the top of this file) */
    out->seq = t.seq;
    out->id = t.id;
    /*@ assert a_same: \forall integer k; 0 <= k < h->n ==> h->a[k] == \at(h->a[k], Out); */
    /*@ assert same_heap: h->n == \at(h->n, Out) && h->a == \at(h->a, Out) &&
          h->pos == \at(h->pos, Out) && h->nids == \at(h->nids, Out); */
    /*@ assert entries_same: \forall integer id; \at(In(h, id), Out) ==>
          In(h, id) && Entry(h, id) == \at(Entry(h, id), Out); */
    return true;
}

aiotp__timer aiotp__theap_remove(aiotp__theap *h, uint32_t id)
{
    return remove_at(h, (uint32_t)(h->pos[id] - h->a));
}

int aiotp__wait_ms(bool busy, bool has_timer, int64_t when, int64_t now)
{
    if (busy) {
        return 0; /* LOOP-2 */
    }
    if (!has_timer) {
        return -1;
    }
    return aiotp__timeout_ms(when, now);
}

int aiotp__timeout_ms(int64_t when, int64_t now)
{
    int64_t delta;

    if (when <= now) {
        return 0; /* due (also: any time in the past, INT64_MIN included) */
    }
    if (now < 0) {
        if (when > now + AIOTP__TIMEOUT_MAX_NS) { /* now < 0: no overflow */
            return AIOTP__TIMEOUT_MAX_MS;
        }
    } else if (when - now > AIOTP__TIMEOUT_MAX_NS) { /* now >= 0: no overflow */
        return AIOTP__TIMEOUT_MAX_MS;
    }
    delta = when - now; /* <= a day here */
    return (int)((delta + AIOTP__NS_PER_MS - 1) / AIOTP__NS_PER_MS); /* round up */
}
