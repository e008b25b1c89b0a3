#!/usr/bin/env python3
"""The stream state machine from its one description (proofs/tables/stream.table).

usage: gen_tables.py update              rewrite the generated files
       gen_tables.py check [DUMP]        fail if a generated file is stale; with DUMP (the
                                         output of proofs/dump_tables.c, or '-' for stdin)
                                         also fail if the C code disagrees with the table
       gen_tables.py acsl TABLE OUT      write the ACSL of another table file to OUT (the
                                         mutant tests, proofs/mutant.sh)

Generated from the table alone:
  proofs/acsl/stream_table.acsl   ACSL logic: LifeEdge..PhEdge, StreamNextLife..Ph,
                                  StreamActs, StreamNext (what aiotp__stream_step's
                                  contract states and WP proves, spec/proofs.md)
  spec/stream-transport.md        the edge tables and the events table, between the
                                  "generated" markers
The C enums of src/core/stream_sm.h must list the same values in the same order."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = ROOT / "proofs/tables/stream.table"
ACSL = ROOT / "proofs/acsl/stream_table.acsl"
SPEC = ROOT / "spec/stream-transport.md"
HEADER = ROOT / "src/core/stream_sm.h"
PART_ENUM = {"life": "LIFE", "rd": "RD", "wr": "WR", "ph": "PH"}
PARTS = ["life", "rd", "wr", "ph"]


class TableError(Exception):
    pass


def parse(text):
    """-> dict(parts={part: [values]}, edges={part: set((a, b))}, events=[event])"""
    parts, edges, events = {}, {}, []
    ev = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word = line.split()[0]
        where = f"{TABLE.name}:{n}"
        if word == "part":
            _, name, *vals = line.split()
            parts[name] = vals
        elif word == "edges":
            _, name, *pairs = line.split()
            edges[name] = set()
            for p in pairs:
                a, b = p.split("->")
                if a not in parts[name] or b not in parts[name]:
                    raise TableError(f"{where}: unknown value in edge {p}")
                edges[name].add((a, b))
        elif word == "event":
            ev = {"name": line.split()[1], "sent": "", "rule": "", "cases": [], "else": None}
            events.append(ev)
        elif word in ("sent:", "rule:"):
            ev[word[:-1]] = line.split(":", 1)[1].strip()
        elif word == "case":
            body = line.split(None, 1)[1]
            note = ""
            if "|" in body:
                body, note = (x.strip() for x in body.split("|", 1))
            m = re.fullmatch(r"(.*?)=>(.*?);(.*)", body)
            if not m:
                raise TableError(f"{where}: case needs COND => UPDATES ; ACTIONS")
            cond = parse_cond(m.group(1), parts, where)
            upd = {}
            if m.group(2).strip() != "-":
                for u in m.group(2).split(","):
                    p, v = (x.strip() for x in u.split("="))
                    if p not in parts or v not in parts[p]:
                        raise TableError(f"{where}: bad update {u.strip()}")
                    upd[p] = v
            acts = m.group(3).split()
            ev["cases"].append({"cond": cond, "upd": upd, "acts": acts, "note": note})
        elif word == "else":
            body = line.split(None, 1)[1]
            note = ""
            if "|" in body:
                body, note = (x.strip() for x in body.split("|", 1))
            ev["else"] = {"acts": body.split(), "note": note}
        else:
            raise TableError(f"{where}: cannot read: {line.strip()}")
    for e in events:
        if e["else"] is None:
            raise TableError(f"event {e['name']} has no else line")
    return {"parts": parts, "edges": edges, "events": events}


def parse_cond(text, parts, where):
    atoms = []
    for a in text.split("&&"):
        a = a.strip()
        if a in ("empty", "!empty"):
            atoms.append(("empty", a == "empty"))
            continue
        m = re.fullmatch(r"(\w+)\s*(==|!=|in)\s*([\w,]+)", a)
        if not m or m.group(1) not in parts:
            raise TableError(f"{where}: bad condition atom '{a}'")
        vals = m.group(3).split(",")
        for v in vals:
            if v not in parts[m.group(1)]:
                raise TableError(f"{where}: unknown value {v}")
        atoms.append((m.group(1), m.group(2), vals))
    return atoms


# ---- evaluation (the table as a function, to compare with the C code) ----------------

def holds(cond, st, empty):
    for atom in cond:
        if atom[0] == "empty":
            if atom[1] != empty:
                return False
            continue
        part, op, vals = atom
        v = st[part]
        if op == "==" and v != vals[0]:
            return False
        if op == "!=" and v == vals[0]:
            return False
        if op == "in" and v not in vals:
            return False
    return True


def step(table, st, evname, empty):
    """-> (new state dict, sorted action names)"""
    for ev in table["events"]:
        if ev["name"] != evname:
            continue
        for c in ev["cases"]:
            if holds(c["cond"], st, empty):
                n = dict(st)
                n.update(c["upd"])
                return n, sorted(a for a in c["acts"] if a != "NONE")
        return dict(st), sorted(a for a in ev["else"]["acts"] if a != "NONE")
    return dict(st), ["REFUSED"]


# ---- ACSL ---------------------------------------------------------------------------

def c_val(part, v):
    return f"AIOTP__{PART_ENUM[part]}_{v}"


def acsl_cond(cond):
    out = []
    for atom in cond:
        if atom[0] == "empty":
            out.append("e != 0" if atom[1] else "e == 0")
            continue
        part, op, vals = atom
        if op == "in":
            out.append("(" + " || ".join(f"s.{part} == {c_val(part, v)}" for v in vals) + ")")
        else:
            out.append(f"s.{part} {op} {c_val(part, vals[0])}")
    return " && ".join(out) if out else "\\true"


def acsl_acts(acts):
    names = [f"AIOTP__ACT_{a}" for a in acts if a != "NONE"]
    if not names:
        return "AIOTP__ACT_NONE"
    return names[0] if len(names) == 1 else "(" + " + ".join(names) + ")"


def gen_acsl(t):
    L = []
    L.append("/* proofs/acsl/stream_table.acsl - GENERATED by proofs/gen_tables.py from")
    L.append(" * proofs/tables/stream.table: do not edit (CTest proof.tables checks it).")
    L.append(" *")
    L.append(" * The stream state machine as ACSL logic. aiotp__stream_step's contract says")
    L.append(" * *s == StreamNext(\\old(*s), ev, buffer_empty) part by part and")
    L.append(" * \\result == StreamActs(\\old(*s), ev, buffer_empty), for every state and event;")
    L.append(" * WP proves the C code meets it (spec/proofs.md, PROOF-STREAM-FUNC). */")
    L.append("")
    L.append("/*@")
    for part in PARTS:
        P = PART_ENUM[part].capitalize()
        L.append(f"  // Allowed changes of {part} (no self-edges).")
        byfrom = {}
        for a, b in sorted(t["edges"][part], key=lambda e: (t["parts"][part].index(e[0]), t["parts"][part].index(e[1]))):
            byfrom.setdefault(a, []).append(b)
        terms = []
        for a in t["parts"][part]:
            if a not in byfrom:
                continue
            bs = byfrom[a]
            rhs = " || ".join(f"b == {c_val(part, b)}" for b in bs)
            if len(bs) > 1:
                rhs = f"({rhs})"
            terms.append(f"(a == {c_val(part, a)} && {rhs})")
        L.append(f"  predicate {P}Edge(integer a, integer b) =")
        L.append("    " + " ||\n    ".join(terms) + ";")
        L.append("")
    for part in PARTS:
        P = PART_ENUM[part].capitalize()
        L.append(f"  // {part} after event ev in state s (e: the write buffer is empty).")
        L.append(f"  logic integer StreamNext{P}(aiotp__stream_state s, integer ev, integer e) =")
        arms = []
        for ev in t["events"]:
            cases = [(c["cond"], c["upd"].get(part)) for c in ev["cases"]]
            while cases and cases[-1][1] is None:
                cases.pop()
            if not cases:
                continue
            expr = f"s.{part}"
            for cond, val in reversed(cases):
                v = c_val(part, val) if val is not None else f"s.{part}"
                expr = f"({acsl_cond(cond)} ? {v} : {expr})"
            arms.append((ev["name"], expr))
        body = f"s.{part}"
        for name, expr in reversed(arms):
            body = f"ev == AIOTP__EV_{name} ? {expr} :\n    {body}"
        L.append(f"    {body};")
        L.append("")
    L.append("  // The actions of event ev in state s (e: the write buffer is empty); an event")
    L.append("  // outside the enum is refused.")
    L.append("  logic integer StreamActs(aiotp__stream_state s, integer ev, integer e) =")
    body = "AIOTP__ACT_REFUSED"
    for ev in reversed(t["events"]):
        expr = acsl_acts(ev["else"]["acts"])
        for c in reversed(ev["cases"]):
            expr = f"({acsl_cond(c['cond'])} ? {acsl_acts(c['acts'])} : {expr})"
        body = f"ev == AIOTP__EV_{ev['name']} ? {expr} :\n    {body}"
    L.append(f"    {body};")
    L.append("")
    L.append("  // The whole next state.")
    L.append("  predicate StreamNext(aiotp__stream_state s, aiotp__stream_state n, integer ev,")
    L.append("                       integer e) =")
    L.append("    n.life == StreamNextLife(s, ev, e) && n.rd == StreamNextRd(s, ev, e) &&")
    L.append("    n.wr == StreamNextWr(s, ev, e) && n.ph == StreamNextPh(s, ev, e);")
    L.append("*/")
    return "\n".join(L) + "\n"


# ---- Markdown -----------------------------------------------------------------------

def md_cond(cond):
    out = []
    for atom in cond:
        if atom[0] == "empty":
            out.append("buffer empty" if atom[1] else "data buffered")
            continue
        part, op, vals = atom
        if op == "in":
            out.append(f"`{part}` ∈ {{" + ", ".join(f"`{v}`" for v in vals) + "}")
        else:
            out.append(f"`{part} {op} {vals[0]}`")
    return ", ".join(out)


def md_acts(acts):
    acts = [a for a in acts if a != "NONE"]
    return ", ".join(f"`{a}`" for a in acts) if acts else "none"


def gen_md_edges(t):
    L = []
    for part in PARTS:
        vals = t["parts"][part]
        L.append(f"**`{part}`**")
        L.append("")
        L.append(f"| from \\ to | " + " | ".join(vals) + " |")
        L.append("|-----------|" + "|".join(":" + "-" * max(len(v) - 2, 1) + ":" for v in vals) + "|")
        for a in vals:
            row = ["✓" if (a, b) in t["edges"][part] else "" for b in vals]
            L.append(f"| {a} | " + " | ".join(row) + " |")
        L.append("")
    return "\n".join(L).rstrip("\n") + "\n"


def gen_md_events(t):
    L = ["| Event | Sent by (shell) | When | New state | Actions | Note |",
         "|-------|-----------------|------|-----------|---------|------|"]
    for ev in t["events"]:
        first = True
        for c in ev["cases"]:
            upd = ", ".join(f"`{p} = {v}`" for p, v in c["upd"].items()) or "—"
            L.append(f"| {'`EV_' + ev['name'] + '`' if first else ''} | {ev['sent'] if first else ''} "
                     f"| {md_cond(c['cond'])} | {upd} | {md_acts(c['acts'])} | {c['note']} |")
            first = False
        e = ev["else"]
        L.append(f"| {'`EV_' + ev['name'] + '`' if first else ''} | {ev['sent'] if first else ''} "
                 f"| otherwise | — | {md_acts(e['acts'])} | {e['note']} |")
    return "\n".join(L) + "\n"


BEGIN = "<!-- BEGIN generated by proofs/gen_tables.py from proofs/tables/stream.table: {} -->"
END = "<!-- END generated: {} -->"


def splice(doc, name, body):
    b, e = BEGIN.format(name), END.format(name)
    i, j = doc.find(b), doc.find(e)
    if i < 0 or j < i:
        raise TableError(f"{SPEC.relative_to(ROOT)}: markers for '{name}' missing")
    return doc[: i + len(b)] + "\n" + body + doc[j:]


def gen_spec(t, doc):
    doc = splice(doc, "edges", gen_md_edges(t))
    return splice(doc, "events", gen_md_events(t))


# ---- consistency with the C header ----------------------------------------------------

def check_header(t):
    h = HEADER.read_text()
    errs = []
    for part in PARTS:
        E = PART_ENUM[part]
        vals = re.findall(rf"\bAIOTP__{E}_(\w+)", re.search(rf"typedef enum aiotp__{part} \{{(.*?)\}}", h, re.S).group(1))
        vals = [v for v in vals if v != "COUNT"]
        if vals != t["parts"][part]:
            errs.append(f"part {part}: table {t['parts'][part]} != stream_sm.h {vals}")
    evs = re.findall(r"\bAIOTP__EV_(\w+)", re.search(r"typedef enum aiotp__stream_event \{(.*?)\}", h, re.S).group(1))
    evs = [v for v in evs if v != "COUNT"]
    if evs != [e["name"] for e in t["events"]]:
        errs.append(f"events: table {[e['name'] for e in t['events']]} != stream_sm.h {evs}")
    acts = dict((n, 1 << int(b)) for n, b in re.findall(r"AIOTP__ACT_(\w+) = 1u << (\d+)", h))
    acts["NONE"] = 0
    for ev in t["events"]:
        for a in [x for c in ev["cases"] for x in c["acts"]] + ev["else"]["acts"]:
            if a not in acts:
                errs.append(f"event {ev['name']}: unknown action {a}")
    return errs, acts


def check_dump(t, acts, dump):
    """DUMP lines: 'edge PART A B 0|1' and 'step LIFE RD WR PH EV EMPTY -> LIFE RD WR PH MASK'
    (names, mask in decimal), for every valid state (proofs/dump_tables.c)."""
    errs = []
    bits = {v: n for n, v in acts.items() if v}
    nsteps = nedges = 0
    for line in dump.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "edge":
            nedges += 1
            part, a, b, on = f[1], f[2], f[3], f[4] == "1"
            if on != ((a, b) in t["edges"][part]):
                errs.append(f"C table aiotp__{part}_edges[{a}][{b}] = {int(on)}, table says {int(not on)}")
        elif f[0] == "step":
            nsteps += 1
            st = dict(zip(PARTS, f[1:5]))
            ev, empty = f[5], f[6] == "1"
            got = dict(zip(PARTS, f[8:12]))
            mask = int(f[12])
            gacts = sorted(bits[b] for b in bits if mask & b)
            want, wacts = step(t, st, ev, empty)
            if got != want or gacts != wacts:
                errs.append(f"step({' '.join(f[1:5])}, {ev}, empty={int(empty)}): C gives "
                            f"{' '.join(got[p] for p in PARTS)} {gacts}, table says "
                            f"{' '.join(want[p] for p in PARTS)} {wacts}")
    if nsteps == 0 or nedges == 0:
        errs.append("the dump holds no step or no edge line")
    return errs, nsteps, nedges


def main(argv):
    if len(argv) == 4 and argv[1] == "acsl":
        try:
            t = parse(pathlib.Path(argv[2]).read_text())
        except TableError as e:
            print(f"gen_tables.py: {e}", file=sys.stderr)
            return 2
        pathlib.Path(argv[3]).write_text(gen_acsl(t))
        return 0
    if len(argv) < 2 or argv[1] not in ("update", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        t = parse(TABLE.read_text())
        errs, acts = check_header(t)
        acsl = gen_acsl(t)
        spec = gen_spec(t, SPEC.read_text())
    except TableError as e:
        print(f"gen_tables.py: {e}", file=sys.stderr)
        return 2
    if errs:
        for e in errs:
            print(f"gen_tables.py: {e}", file=sys.stderr)
        return 1
    if argv[1] == "update":
        ACSL.write_text(acsl)
        SPEC.write_text(spec)
        print(f"gen_tables.py: wrote {ACSL.relative_to(ROOT)} and {SPEC.relative_to(ROOT)}")
        return 0
    status = 0
    for path, want in ((ACSL, acsl), (SPEC, spec)):
        if not path.exists() or path.read_text() != want:
            print(f"gen_tables.py: {path.relative_to(ROOT)} is stale: run proofs/gen_tables.py update",
                  file=sys.stderr)
            status = 1
    if len(argv) > 2:
        dump = sys.stdin.read() if argv[2] == "-" else pathlib.Path(argv[2]).read_text()
        derrs, nsteps, nedges = check_dump(t, acts, dump)
        for e in derrs[:20]:
            print(f"gen_tables.py: {e}", file=sys.stderr)
        if derrs:
            print(f"gen_tables.py: the C code and proofs/tables/stream.table disagree "
                  f"({len(derrs)} differences)", file=sys.stderr)
            status = 1
        else:
            print(f"gen_tables.py: the C code agrees with the table on {nedges} edge cells "
                  f"and {nsteps} steps (every valid state, event, buffer state)")
    if status == 0:
        print("gen_tables.py: generated files up to date")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
