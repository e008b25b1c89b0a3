"""Scenario files (docs/scenario-format.md) and the evaluation of their expectations.

A scenario is run by a driver (tools/kit/pydriver.py for asyncio loops,
tools/kit/cdriver/ for aiotp), which writes a trace; its ``expect`` lines are then
evaluated here, on that trace, the same way for every implementation."""
import os
import re

import tracefile

PROFILE_ORDER = {"doc": 0, "cpython": 1, "aiotp": 2}
IMPLS = ("aiotp", "asyncio", "uvloop")
RULES_MD = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "spec", "rules.md")
_TAG = re.compile(r"^- \*\*([A-Z][A-Z0-9-]*-[0-9]+)\*\*")


def rule_tags(path=RULES_MD):
    """{rule ID: "doc" | "cpython" | "aiotp"}: the origin tag that ends each bullet of
    spec/rules.md (spec/oracle.md, "Profiles")."""
    tags = {}
    cur = None
    last = ""
    with open(path) as f:
        lines = f.read().split("\n") + [""]
    for line in lines:
        m = _TAG.match(line)
        if cur is not None and (m or not line.startswith("  ") or not line.strip()):
            t = re.search(r"\[(doc|cpython|aiotp)\]\s*$", last)
            if t:
                tags[cur] = t.group(1)
            cur = None
        if m:
            cur = m.group(1)
        if cur is not None:
            last = line
    return tags


_TAGS = None


def effective_profile(ex, scn):
    """The profile an expectation counts under: its own (@doc when none is given), raised
    to the tag of the rule it is reported under. A failure is never reported under a
    profile that does not hold the rule (an untagged expectation of a [cpython] rule is a
    CPython choice, not a promise of the documentation)."""
    global _TAGS
    if _TAGS is None:
        _TAGS = rule_tags()
    rule = ex.rule or (scn.rules[0] if scn.rules else None)
    tag = _TAGS.get(rule, "doc")
    return ex.profile if PROFILE_ORDER[ex.profile] >= PROFILE_ORDER[tag] else tag


class Scenario:
    def __init__(self, name, path, lineno):
        self.name = name
        self.path = path
        self.lineno = lineno
        self.title = ""
        self.sources = []
        self.rules = []
        self.kind = "stream"
        self.pending = {}        # impl -> reason
        self.setup = None        # (type, {key: value})
        self.reactions = []      # (tid, cb, k or None, [actions])
        self.steps = []          # (lineno, words)
        self.expects = []        # Expect

    def pending_for(self, impl):
        return self.pending.get(impl) or self.pending.get("all")


class Expect:
    def __init__(self, lineno, words, profile, rule, text):
        self.lineno = lineno
        self.words = words
        self.profile = profile
        self.rule = rule
        self.text = text


class ScenarioError(Exception):
    pass


def split_actions(text):
    return [a.strip().split() for a in text.split(";") if a.strip()]


def load(path):
    out = []
    cur = None
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            rest = rest.strip()
            if word == "scenario":
                cur = Scenario(rest, path, lineno)
                out.append(cur)
                continue
            if cur is None:
                raise ScenarioError("%s:%d: '%s' before any 'scenario'" % (path, lineno, word))
            if word == "title":
                cur.title = rest
            elif word == "source":
                cur.sources.append(rest)
            elif word == "rules":
                cur.rules = rest.split()
            elif word == "kind":
                cur.kind = rest
            elif word == "pending":
                who, _, why = rest.partition(" ")
                for w in who.split(","):
                    cur.pending[w] = why or "pending"
            elif word == "setup":
                w = rest.split()
                cur.setup = (w[0], dict(x.split("=", 1) for x in w[1:]))
            elif word == "on":
                head, _, acts = rest.partition(":")
                tid, cb = "t1", head.strip()
                if "." in cb:
                    tid, cb = cb.split(".", 1)
                k = None
                if "#" in cb:
                    cb, k = cb.split("#")
                    k = int(k)
                cur.reactions.append((tid, cb, k, split_actions(acts)))
            elif word.startswith("expect"):
                profile = "doc"
                if "@" in word:
                    profile = word.split("@", 1)[1]
                    if profile not in PROFILE_ORDER:
                        raise ScenarioError("%s:%d: unknown profile %s" % (path, lineno, profile))
                rule = None
                m = re.search(r"\s\[([A-Z][A-Z0-9-]+)\]$", " " + rest)
                if m:
                    rule = m.group(1)
                    rest = rest[:rest.rindex("[")].strip()
                cur.expects.append(Expect(lineno, rest.split(), profile, rule, rest))
            elif word in ("start", "run", "peer", "call", "pause"):
                cur.steps.append((lineno, line.split()))
            else:
                raise ScenarioError("%s:%d: unknown directive '%s'" % (path, lineno, word))
    for s in out:
        if s.setup is None:
            raise ScenarioError("%s:%d: scenario %s has no setup" % (path, s.lineno, s.name))
    return out


def load_dir(d):
    out = []
    names = set()
    for fn in sorted(os.listdir(d)):
        if fn.endswith(".scn"):
            for s in load(os.path.join(d, fn)):
                if s.name in names:
                    raise ScenarioError("duplicate scenario %s" % s.name)
                names.add(s.name)
                out.append(s)
    return out


# ---- evaluation --------------------------------------------------------------------------

def _nth(items, k):
    if k is None:
        k = 1
    if k == "last":
        return items[-1] if items else None
    return items[k - 1] if 0 < k <= len(items) else None


def _name_k(word):
    if "#" in word:
        n, k = word.split("#", 1)
        return n, ("last" if k == "last" else int(k))
    return word, None


def _pattern_regex(tokens):
    parts = []
    for tok in tokens:
        if tok.startswith("(") and not tok.startswith("()"):
            parts.append("(?:")
            tok = tok[1:]
        close = ""
        m = re.match(r"^(.*[^)])\)([*+?]?)$", tok) or re.match(r"^(.*\(.*\))\)([*+?]?)$", tok)
        if m and tok.count(")") > tok.count("("):
            tok, close = m.group(1), ")" + m.group(2)
        q = ""
        if tok[-1] in "*+?":
            q = tok[-1]
            tok = tok[:-1]
        m = re.match(r"^([a-z_]+)(?:\((.*)\))?(\{\d+(?:,\d*)?\})?$", tok)
        if not m:
            raise ScenarioError("bad pattern token %r" % tok)
        name, arg, rep = m.group(1), m.group(2), m.group(3)
        val = re.escape(arg).replace("\\*", "[^)]*") if arg is not None else r"[^)]*"
        parts.append("(?:%s\\(%s\\) )%s%s%s" % (name, val, rep or "", q, close))
    return re.compile("^" + "".join(parts) + "$")


def _event_of(events, tid, spec):
    kind, _, rest = spec.partition(":")
    name, k = _name_k(rest)
    if kind == "open":
        cands = [e for e in events if e.tid == tid and e.ev == "open"]
    elif kind in ("cb", "call"):
        cands = [e for e in events if e.tid == tid and e.ev == kind and e.name == name]
    elif kind == "kit":
        cands = [e for e in events if e.ev == "kit" and e.name == name]
    else:
        raise ScenarioError("bad event %r" % spec)
    return _nth(cands, k)


def evaluate(scn, trace_path, profile):
    """[(Expect, ok, message)] for the expectations that count under profile."""
    header, events = tracefile.parse_file(trace_path)
    subject = subject_id(scn, events)
    res = []
    for ex in scn.expects:
        if PROFILE_ORDER[effective_profile(ex, scn)] > PROFILE_ORDER[profile]:
            continue
        words = [subject if x == "t1" else x for x in ex.words]
        try:
            ok, msg = _eval(words, events)
        except (ScenarioError, IndexError, ValueError) as e:
            ok, msg = False, "cannot evaluate: %s" % e
        res.append((ex, ok, msg))
    return res


def subject_id(scn, events):
    """The subject's transport id, which expectations call t1: for the ssl kind the first
    TLS transport (``tN open tls``: on aiotp the stream transport below it is t1 and the
    TLS transport t2; a recorder that sees only the application layer writes the TLS
    transport as t1), else t1."""
    if scn.kind == "ssl":
        for e in events:
            if e.ev == "open" and e.args[:1] == ["tls"]:
                return e.tid
    return "t1"


def _seq(events, tid):
    return tracefile.callbacks(events, tid)


def _eval(w, events):
    what = w[0]
    if what == "seq":
        tid, toks = w[1], w[2:]
        got = " ".join("%s(%s)" % (n, v) for n, v, _, _ in _seq(events, tid))
        ok = bool(_pattern_regex(toks).match(got + " " if got else ""))
        return ok, "callbacks of %s: %s" % (tid, got or "(none)")
    if what == "count":
        tid, cb, n = w[1], w[2], int(w[3])
        c = sum(1 for x in _seq(events, tid) if x[0] == cb)
        return c == n, "%s %s x%d" % (tid, cb, c)
    if what == "absent":
        tid, cb = w[1], w[2]
        c = sum(1 for x in _seq(events, tid) if x[0] == cb)
        return c == 0, "%s %s x%d" % (tid, cb, c)
    if what == "call":
        tid, (name, k), want = w[1], _name_k(w[2]), w[3]
        pair = _nth(tracefile.calls(events, tid, name), k)
        if pair is None:
            return False, "no call %s of %s" % (w[2], tid)
        return pair[1].value() == want, pair[1].text
    if what == "callfield":
        tid, (name, k), key, want = w[1], _name_k(w[2]), w[3], w[4]
        pair = _nth(tracefile.calls(events, tid, name), k)
        if pair is None:
            return False, "no call %s of %s" % (w[2], tid)
        return pair[1].fields.get(key) == want, pair[1].text
    if what == "cbfield":
        tid, (name, k), key, want = w[1], _name_k(w[2]), w[3], w[4]
        cands = [x for x in _seq(events, tid) if x[0] == name]
        x = _nth(cands, k)
        if x is None:
            return False, "no callback %s of %s" % (w[2], tid)
        got = x[2].fields.get(key, x[3].fields.get(key))
        return got == want, x[2].text
    if what == "query":
        tid, (name, k), want = w[1], _name_k(w[2]), " ".join(w[3:])
        qs = [e for e in events if e.tid == tid and e.ev == "query" and e.name == name]
        q = _nth(qs, k)
        if q is None:
            return False, "no query %s of %s" % (w[2], tid)
        got = " ".join(q.args + ["%s=%s" % kv for kv in q.fields.items()])
        return got == want, q.text
    if what == "inside":
        tid, cb, where = w[1], w[2], w[3]
        cands = [x for x in _seq(events, tid) if x[0] == cb]
        if not cands:
            return False, "no %s" % cb
        for _, _, c, _ in cands:
            par = events[c.parent] if c.parent is not None else None
            if where == "none":
                if par is not None:
                    return False, "line %d inside %s" % (c.lineno, par.text)
            elif par is None or par.ev != "call" or par.name != where or par.tid != tid:
                return False, "line %d not inside call %s" % (c.lineno, where)
        return True, "%d x %s" % (len(cands), cb)
    if what == "gap":
        tid, a, b, n = w[1], w[2], w[3], int(w[4])
        ea, eb = _event_of(events, tid, a), _event_of(events, tid, b)
        if ea is None or eb is None:
            return False, "missing %s" % (a if ea is None else b)
        if ea.iter is None or eb.iter is None:
            return False, "no iter lines"
        return eb.iter - ea.iter == n, "%s in pass %s, %s in pass %s" % (a, ea.iter, b, eb.iter)
    if what == "samepass":
        spec, tids = w[1], w[2:]
        evs = [_event_of(events, t, spec) for t in tids]
        if any(e is None for e in evs):
            return False, "missing %s of %s" % (spec, tids[[e is None for e in evs].index(True)])
        its = [e.iter for e in evs]
        return None not in its and len(set(its)) == 1, "%s in passes %s" % (
            spec, " ".join("%s:%s" % (t, i) for t, i in zip(tids, its)))
    if what == "order":
        tid, a, b = w[1], w[2], w[3]
        ea, eb = _event_of(events, tid, a), _event_of(events, tid, b)
        if ea is None or eb is None:
            return False, "missing %s" % (a if ea is None else b)
        return ea.index < eb.index, "%s at line %d, %s at line %d" % (a, ea.lineno, b, eb.lineno)
    if what == "total":
        tid, way, n = w[1], w[2], int(w[3])
        if way == "received":
            got = 0
            for name, v, c, r in _seq(events, tid):
                if name in ("data_received", "buffer_updated"):
                    got = int(c.fields.get("total", got))
        else:
            got = 0
            for c, r in tracefile.calls(events, tid):
                if "total" in r.fields:
                    got = int(r.fields["total"])
        return got == n, "%s %s %d bytes" % (tid, way, got)
    if what == "peer":
        sub = w[1]
        kits = [e for e in events if e.ev == "kit" and e.name == "peer"]
        if sub == "received":
            got = 0
            for e in kits:
                if e.args[:1] == ["recv"]:
                    got = int(e.fields.get("total", got))
            return got == int(w[2]), "peer received %d bytes" % got
        if sub in ("eof", "reset", "noeof"):
            flag = any(e.args[:1] == [("eof" if sub == "noeof" else sub)] for e in kits)
            return flag if sub != "noeof" else not flag, "peer %s: %s" % (sub, flag)
        if sub == "datagrams":
            got = [e.fields.get("n") for e in kits if e.args[:1] == ["dgram"]]
            want = w[2:]
            return got == want, "peer datagrams: %s" % " ".join(got)
        raise ScenarioError("bad peer expectation")
    if what == "exc":
        who, atleast = w[1], w[2].endswith("+")
        n = int(w[2].rstrip("+"))
        rx = re.compile(w[3]) if len(w) > 3 else None
        xs = [e for e in events if e.ev == "exc" and (who == "any" or e.tid == who)]
        if rx is not None:
            xs = [e for e in xs if rx.search(e.fields.get("message", ""))]
        return (len(xs) >= n if atleast else len(xs) == n), "%d exception-handler call(s)%s: %s" % (
            len(xs), "" if rx is None else " matching", "; ".join(e.text for e in xs)[:300])
    if what == "excstatus":
        who, want = w[1], w[2]
        xs = [e for e in events if e.ev == "exc" and (who == "any" or e.tid == who)]
        if not xs:
            return False, "no exception-handler call"
        return xs[0].fields.get("status") == want, xs[0].text
    if what == "limits":
        tid, low, high = w[1], w[2], w[3]
        ls = [e for e in events if e.tid == tid and e.ev == "limits"]
        if not ls:
            return False, "no limits line"
        return ls[0].fields.get("low") == low and ls[0].fields.get("high") == high, ls[0].text
    if what == "kit":
        name, want = w[1], " ".join(w[2:])
        ks = [e for e in events if e.ev == "kit" and e.name == name]
        got = [" ".join(e.args + ["%s=%s" % kv for kv in e.fields.items()]) for e in ks]
        return want in got, "kit %s: %s" % (name, " | ".join(got)[:300])
    if what == "kitcount":
        name, n, want = w[1], int(w[2]), " ".join(w[3:])
        ks = [e for e in events if e.ev == "kit" and e.name == name]
        got = [" ".join(e.args + ["%s=%s" % kv for kv in e.fields.items()]) for e in ks]
        c = sum(1 for g in got if g == want)
        return c == n, "kit %s: %d x %s (%s)" % (name, c, want, " | ".join(got)[:300])
    if what == "sizehint":
        tid, want = w[1], w[2]
        gs = [e for e in events if e.tid == tid and e.ev == "cb" and e.name == "get_buffer"]
        bad = [e for e in gs if e.fields.get("sizehint") != want]
        return bool(gs) and not bad, (bad[0].text if bad else "%d get_buffer" % len(gs))
    raise ScenarioError("unknown expectation %r" % what)
