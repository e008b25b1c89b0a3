#!/usr/bin/env python3
"""The conformance kit's command line (docs/conformance-kit.md).

    kit.py list                                   the scenarios
    kit.py run IMPL NAME [--trace FILE]           run one scenario, print its verdict
    kit.py suite [--impl aiotp,asyncio,uvloop] [--out DIR] [--only PREFIX]
                                                  run everything, write DIR/score.md,
                                                  DIR/score.html, DIR/results.json and the
                                                  traces of failures (DIR/traces/)
    kit.py ctest-aiotp [--without-tls]            the aiotp column as one CTest: exit 1 if a
                                                  scenario not pending for aiotp fails
                                                  under the aiotp profile (--without-tls:
                                                  the tls-* setups are pending)

IMPL is aiotp (tools/kit/cdriver, via --driver or $AIOTP_KIT_DRIVER), asyncio (the loop of
--python, default this interpreter) or uvloop (--uvloop-python, default /usr/bin/python3).
The checker is found as in checker.find_checker (--checker, $AIOTP_TRACE_CHECK)."""
import argparse
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import checker as checker_mod  # noqa: E402
import scenario  # noqa: E402

PROFILES = ("doc", "cpython", "aiotp")
ROOT = os.path.dirname(os.path.dirname(HERE))
# The kinds whose trace lines are in format 3 (spec/trace-format.md): every kind the
# drivers run (the recorder writes pipes and subprocesses in format 3 too). A kind not in
# this list would be judged by the scenario's expectations only ("expect only").
CHECKED_KINDS = ("stream", "datagram", "sendfile", "pipe", "subprocess", "ssl")


class Ctx:
    def __init__(self, args):
        self.scn_dir = args.scenarios
        self.checker = checker_mod.Checker(args.checker or checker_mod.find_checker())
        self.driver = args.driver or os.environ.get("AIOTP_KIT_DRIVER") or self._find_driver()
        self.python = args.python
        self.uvpython = args.uvloop_python
        self.timeout = args.timeout

    def _find_driver(self):
        for b in ("build/gcc", "build/gcc-asan", "build/clang", "build"):
            p = os.path.join(ROOT, b, "tools", "kit", "cdriver", "aiotp-kit-driver")
            if os.path.exists(p):
                return p
        return None

    def impl_label(self, impl):
        return impl

    def run_driver(self, impl, scn, trace):
        env = None
        if impl == "aiotp":
            if self.driver is None:
                return 2, "aiotp-kit-driver not built"
            cmd = [self.driver, scn.path, scn.name, trace]
            # the subprocess scenarios' child programs: the interpreter asyncio's run uses
            env = dict(os.environ, AIOTP_KIT_PYTHON=self.python)
        else:
            py = self.python if impl == "asyncio" else self.uvpython
            cmd = [py, os.path.join(HERE, "pydriver.py"), "--loop", impl, "--scenario",
                   scn.name, "--out", trace, os.path.dirname(scn.path)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout,
                               errors="replace", env=env)
        except subprocess.TimeoutExpired:
            return 124, "driver timed out after %ds" % self.timeout
        return p.returncode, (p.stdout + p.stderr)[-2000:]


def judge(ctx, impl, scn, trace_dir=None):
    """{profile: {"status", "failures": [{rule, source, message}]}} plus the trace path."""
    why = scn.pending_for(impl)
    if why:
        return {p: {"status": "pending", "failures": [], "why": why} for p in PROFILES}, None
    fd, trace = tempfile.mkstemp(prefix="kit-%s-" % impl, suffix=".trace", dir=trace_dir)
    os.close(fd)
    t0 = time.monotonic()
    rc, out = ctx.run_driver(impl, scn, trace)
    elapsed = time.monotonic() - t0
    res = {}
    for prof in PROFILES:
        fails = []
        if rc != 0:
            fails.append({"rule": "DRIVER", "source": "driver",
                          "message": "driver exit %d: %s" % (rc, out.strip().splitlines()[-1] if out.strip() else "")})
        else:
            for ex, ok, msg in scenario.evaluate(scn, trace, prof):
                if not ok:
                    fails.append({"rule": ex.rule or (scn.rules[0] if scn.rules else "?"),
                                  "source": "expect", "line": ex.lineno,
                                  "message": "expect %s -> %s" % (ex.text, msg)})
            if scn.kind in CHECKED_KINDS:
                cr = ctx.checker.check(trace, prof)
                for v in cr.violations:
                    fails.append({"rule": v["rule"], "source": "checker", "line": v["line"],
                                  "message": "trace line %d: %s" % (v["line"], v["detail"])})
        res[prof] = {"status": "pass" if not fails else "fail", "failures": fails,
                     "checked": scn.kind in CHECKED_KINDS}
    res["_elapsed"] = round(elapsed, 2)
    return res, trace


def cmd_list(ctx, args):
    for s in scenario.load_dir(ctx.scn_dir):
        pend = ",".join(sorted(s.pending))
        print("%-50s %-10s %s%s" % (s.name, s.kind, " ".join(s.rules), (" [pending: %s]" % pend) if pend else ""))
    return 0


def cmd_run(ctx, args):
    scns = {s.name: s for s in scenario.load_dir(ctx.scn_dir)}
    s = scns[args.name]
    res, trace = judge(ctx, args.impl, s)
    for p in PROFILES:
        r = res[p]
        print("%s %s [%s]: %s" % (args.impl, s.name, p, r["status"]))
        for f in r["failures"]:
            print("   %s (%s): %s" % (f["rule"], f["source"], f["message"]))
    if trace:
        if args.trace:
            shutil.move(trace, args.trace)
            print("trace:", args.trace)
        else:
            print("trace:", trace)
    return 0 if all(res[p]["status"] in ("pass", "pending") for p in ("aiotp",)) else 1


def cmd_suite(ctx, args):
    impls = args.impl.split(",")
    scns = [s for s in scenario.load_dir(ctx.scn_dir) if s.name.startswith(args.only or "")]
    out = args.out
    os.makedirs(os.path.join(out, "traces"), exist_ok=True)
    results = {}
    for s in scns:
        results[s.name] = {}
        for impl in impls:
            res, trace = judge(ctx, impl, s)
            results[s.name][impl] = res
            failed = any(res[p]["status"] == "fail" for p in PROFILES)
            if trace:
                if failed:
                    dst = os.path.join(out, "traces", "%s.%s.trace" % (s.name, impl))
                    shutil.move(trace, dst)
                    res["trace"] = os.path.relpath(dst, out)
                else:
                    os.unlink(trace)
            if not args.quiet:
                print("%-48s %-8s %s" % (s.name, impl, " ".join(
                    "%s=%s" % (p, res[p]["status"]) for p in PROFILES)), flush=True)
    meta = {"checker": ctx.checker.describe(), "impls": impls,
            "impl_names": {i: impl_name(ctx, i) for i in impls},
            "date": time.strftime("%Y-%m-%d")}
    meta["checker"]["path"] = os.path.basename(meta["checker"]["path"])
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, sort_keys=True)
    with open(os.path.join(out, "score.md"), "w") as f:
        f.write(render_md(scns, results, impls, meta))
    with open(os.path.join(out, "score.html"), "w") as f:
        f.write(render_html(scns, results, impls, meta))
    print(summary_line(scns, results, impls))
    return 0


def impl_name(ctx, impl):
    if impl == "aiotp":
        return "aiotp"
    py = ctx.python if impl == "asyncio" else ctx.uvpython
    code = ("import sys;v=sys.version_info;print('cpython-%d.%d.%d'%v[:3])" if impl == "asyncio"
            else "import uvloop;print('uvloop-'+uvloop.__version__)")
    try:
        return subprocess.run([py, "-c", code], capture_output=True, text=True,
                              timeout=30).stdout.strip() or impl
    except Exception:
        return impl


def counts(scns, results, impl, prof):
    c = {"pass": 0, "fail": 0, "pending": 0}
    for s in scns:
        c[results[s.name][impl][prof]["status"]] += 1
    return c


def summary_line(scns, results, impls):
    parts = []
    for impl in impls:
        for p in PROFILES:
            c = counts(scns, results, impl, p)
            parts.append("%s/%s %d pass %d fail %d pending" % (impl, p, c["pass"], c["fail"], c["pending"]))
    return "; ".join(parts)


def _cell(r):
    st = r["status"]
    if st == "pass":
        return "pass" if r.get("checked", True) else "pass (expect only)"
    if st == "pending":
        return "pending"
    rules = []
    for f in r["failures"]:
        if f["rule"] not in rules:
            rules.append(f["rule"])
    return "FAIL " + ", ".join(rules)


def render_md(scns, results, impls, meta):
    L = ["# Conformance score", "",
         "Generated by `tools/kit/kit.py suite` on %s. Implementations: %s. Each profile "
         "column is `aiotp-trace-check --profile P --all` on the scenario's trace plus the "
         "scenario's own expectations of that profile and those below it "
         "(docs/conformance-kit.md). Every kind's trace is format 3 and checked, pipes and "
         "subprocesses included." % (
             meta["date"], ", ".join("%s (`%s`)" % (i, meta["impl_names"][i]) for i in impls)),
         "",
         "| implementation | profile | pass | fail | pending |", "|---|---|---|---|---|"]
    for impl in impls:
        for p in PROFILES:
            c = counts(scns, results, impl, p)
            L.append("| %s | %s | %d | %d | %d |" % (impl, p, c["pass"], c["fail"], c["pending"]))
    L += ["", "## Scenarios", "",
          "| scenario | rules | " + " | ".join("%s %s" % (i, p) for i in impls for p in PROFILES) + " |",
          "|---|---|" + "---|" * (len(impls) * len(PROFILES))]
    for s in scns:
        L.append("| `%s` | %s | %s |" % (s.name, " ".join(s.rules), " | ".join(
            _cell(results[s.name][i][p]) for i in impls for p in PROFILES)))
    L += ["", "## Failures", ""]
    for s in scns:
        for i in impls:
            r = results[s.name][i]
            if not any(r[p]["status"] == "fail" for p in PROFILES):
                continue
            p = next(p for p in PROFILES if r[p]["status"] == "fail")
            L.append("### `%s` on %s (first failing profile: %s)" % (s.name, i, p))
            L.append("")
            L.append("%s. Trace: `%s`." % (s.title or s.name, r.get("trace", "-")))
            L.append("")
            for f in r[p]["failures"]:
                L.append("- **%s** (%s): %s" % (f["rule"], f["source"], f["message"].replace("|", "\\|")))
            L.append("")
    pend = [(s, i, results[s.name][i]["doc"].get("why")) for s in scns for i in impls
            if results[s.name][i]["doc"]["status"] == "pending"]
    if pend:
        L += ["## Pending", "", "| scenario | implementation | why |", "|---|---|---|"]
        for s, i, why in pend:
            L.append("| `%s` | %s | %s |" % (s.name, i, why))
    return "\n".join(L) + "\n"


def render_html(scns, results, impls, meta):
    e = html.escape
    rows = []
    for s in scns:
        cells = []
        for i in impls:
            for p in PROFILES:
                r = results[s.name][i][p]
                st = r["status"]
                tip = "\n".join("%s (%s): %s" % (f["rule"], f["source"], f["message"]) for f in r["failures"])
                cells.append('<td class="%s" title="%s">%s</td>' % (st, e(tip), e(_cell(r))))
        rows.append('<tr><td><code>%s</code><div class="t">%s</div></td><td>%s</td>%s</tr>' % (
            e(s.name), e(s.title), e(" ".join(s.rules)), "".join(cells)))
    summary = []
    for i in impls:
        for p in PROFILES:
            c = counts(scns, results, i, p)
            summary.append("<tr><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td></tr>" % (
                e(i), p, c["pass"], c["fail"], c["pending"]))
    head = "".join('<th>%s<br>%s</th>' % (e(i), p) for i in impls for p in PROFILES)
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>aiotp conformance score</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}td.pass{background:#dff3df}td.fail{background:#f8d7d7}
td.pending{background:#eee;color:#777}.t{color:#666;font-size:12px;max-width:32em}
input{padding:4px;width:20em}
</style></head><body>
<h1>aiotp conformance score</h1>
<p>%s. Implementations: %s. Each profile column: the checker with that profile (--all) and the
scenario's expectations of that profile and those below it.</p>
<table><tr><th>implementation</th><th>profile</th><th>pass</th><th>fail</th><th>pending</th></tr>%s</table>
<p><input id="q" placeholder="filter scenarios" oninput="f()"> <label><input type="checkbox" id="fo" onchange="f()" style="width:auto"> failures only</label></p>
<table id="s"><tr><th>scenario</th><th>rules</th>%s</tr>%s</table>
<script>
function f(){var q=document.getElementById('q').value.toLowerCase(),fo=document.getElementById('fo').checked;
var rows=document.querySelectorAll('#s tr');for(var i=1;i<rows.length;i++){var r=rows[i];
var show=r.textContent.toLowerCase().indexOf(q)>=0&&(!fo||r.querySelector('td.fail'));r.style.display=show?'':'none';}}
</script></body></html>
""" % (e(meta["date"]), e(", ".join("%s (%s)" % (i, meta["impl_names"][i]) for i in impls)),
       "".join(summary), head, "".join(rows))


def cmd_ctest_aiotp(ctx, args):
    scns = [s for s in scenario.load_dir(ctx.scn_dir) if s.name.startswith(args.only or "")]
    bad = 0
    n = 0
    for s in scns:
        if args.without_tls and s.setup[0].startswith("tls-"):
            # a build without the TLS library: its driver has no tls-client setup
            print("pending %s: aiotp built without TLS (-DAIOTP_TLS=OFF)" % s.name)
            continue
        res, trace = judge(ctx, "aiotp", s)
        r = res["aiotp"]
        if r["status"] == "pending":
            print("pending %s: %s" % (s.name, r["why"]))
            continue
        n += 1
        if r["status"] == "fail":
            bad += 1
            print("FAIL %s (trace %s)" % (s.name, trace))
            for f in r["failures"]:
                print("   %s (%s): %s" % (f["rule"], f["source"], f["message"]))
        else:
            print("ok   %s" % s.name)
            os.unlink(trace)
    print("%d passed, %d failed" % (n - bad, bad))
    return 1 if bad or n == 0 else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default=os.path.join(HERE, "scenarios"))
    ap.add_argument("--checker")
    ap.add_argument("--driver")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--uvloop-python", default="/usr/bin/python3")
    ap.add_argument("--timeout", type=int, default=120)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    r = sub.add_parser("run")
    r.add_argument("impl", choices=["aiotp", "asyncio", "uvloop"])
    r.add_argument("name")
    r.add_argument("--trace")
    su = sub.add_parser("suite")
    su.add_argument("--impl", default="aiotp,asyncio,uvloop")
    su.add_argument("--out", default="kit-results")
    su.add_argument("--only")
    su.add_argument("--quiet", action="store_true")
    c = sub.add_parser("ctest-aiotp")
    c.add_argument("--only")
    c.add_argument("--without-tls", action="store_true",
                   help="the driver was built without the TLS library: the tls-* setups "
                        "count as pending")
    args = ap.parse_args(argv[1:])
    ctx = Ctx(args)
    return {"list": cmd_list, "run": cmd_run, "suite": cmd_suite,
            "ctest-aiotp": cmd_ctest_aiotp}[args.cmd](ctx, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
