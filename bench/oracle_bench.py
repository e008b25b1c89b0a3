#!/usr/bin/env python3
"""Throughput of the trace checker: this tree's aiotp-trace-check against the one of a git
revision (main by default), both built from source in Release, on the traces of
bench/trace_gen.py (bench/README.md, "The trace checker").

usage: bench/oracle_bench.py [--lines N] [--transports T] [--reps K] [--base-reps B]
                             [--base REV] [--build DIR] [--skip-base]

Builds DIR/new (this tree) and DIR/base (`git archive REV` of this repository), writes
DIR/trace2.txt (format 2: both checkers read it) and DIR/trace3.txt (format 3: the new one
only), runs each checker on each trace it reads (`--require-lost`, the base with
`--max-transports` T since it keeps every transport ever opened) and prints, per run, the
best wall time, lines/s and the peak RSS (/usr/bin/time); the exit status says whether every run conformed
(0) or not (1). K (default 5) runs of each new-checker case, B (default 1) of the base,
which is slow. Uses two cores at most (cmake -j2).
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def build(src, out):
    sh(["cmake", "-S", src, "-B", out, "-DCMAKE_BUILD_TYPE=Release", "-DAIOTP_TESTS=OFF",
        "-DAIOTP_FUZZ=OFF", "-DAIOTP_BENCH=OFF"])
    sh(["cmake", "--build", out, "--target", "aiotp-trace-check", "-j2"])
    return os.path.join(out, "tools", "aiotp-trace-check")




def run(checker, args, trace, reps):
    """(best wall seconds, peak RSS kB, exit status, last stdout line)"""
    best = None
    for _ in range(reps):
        t0 = time.perf_counter()
        p = subprocess.run([checker] + args + [trace], capture_output=True, text=True)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
        last = (p.stdout.strip().splitlines() or [""])[-1]
    # the peak RSS of one more run, by /usr/bin/time (a small process: a fork of this
    # Python process would count Python's own pages in the child's peak)
    rss = 0
    if os.path.exists("/usr/bin/time"):
        r = subprocess.run(["/usr/bin/time", "-f", "%M", checker] + args + [trace],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        rss = int((r.stderr.strip().splitlines() or ["0"])[-1])
    return best, rss, p.returncode, last


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--transports", type=int, default=30_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--base-reps", type=int, default=1, help="runs of the base (slow)")
    ap.add_argument("--base", default="main")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "oracle-bench"))
    ap.add_argument("--skip-base", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.build, exist_ok=True)

    new = build(ROOT, os.path.join(a.build, "new"))
    base = None
    if not a.skip_base:
        src = os.path.join(a.build, "base-src")
        shutil.rmtree(src, ignore_errors=True)
        os.makedirs(src)
        archive = subprocess.run(["git", "-C", ROOT, "archive", a.base], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
        base = build(src, os.path.join(a.build, "base"))

    traces = {}
    for fmt in (2, 3):
        path = os.path.join(a.build, f"trace{fmt}.txt")
        with open(path, "w") as f:
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "trace_gen.py"),
                            "--lines", str(a.lines), "--transports", str(a.transports),
                            "--format", str(fmt)], stdout=f, check=True)
        with open(path, "rb") as f:
            traces[fmt] = (path, sum(1 for _ in f))

    rows = []
    ok = True
    plan = [("new", new, ["--require-lost"], 2, a.reps),
            ("new", new, ["--require-lost"], 3, a.reps),
            ("new --profile doc", new, ["--require-lost", "--profile", "doc"], 3, a.reps),
            ("new --all --json", new, ["--require-lost", "--all", "--json"], 3, a.reps)]
    if base is not None:
        plan.insert(0, (f"{a.base}", base,
                        ["--require-lost", "--max-transports", str(min(a.transports, 65536))],
                        2, a.base_reps))
    for name, checker, args, fmt, reps in plan:
        path, lines = traces[fmt]
        secs, rss, rc, last = run(checker, args, path, reps)
        ok = ok and rc == 0
        rows.append((name, fmt, lines, secs, lines / secs, rss, rc))
        print(f"{name:20} format {fmt}: {lines} lines in {secs:.3f} s = {lines / secs:,.0f} "
              f"lines/s, peak RSS {rss / 1024:.1f} MiB, exit {rc} ({last[:60]})", flush=True)
    print()
    print(f"| checker | trace | lines | best of {a.reps} ({a.base}: {a.base_reps}) (s) | lines/s "
          f"| peak RSS (MiB) | exit |")
    print("|---------|-------|------:|------:|--------:|------:|-----:|")
    for name, fmt, lines, secs, lps, rss, rc in rows:
        print(f"| {name} | format {fmt} | {lines:,} | {secs:.3f} | {lps:,.0f} | "
              f"{rss / 1024:.1f} | {rc} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
