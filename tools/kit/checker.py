"""The one place where the kit calls aiotp-trace-check (tools/aiotp_trace_check.c).

Everything in the kit that checks a trace goes through ``Checker.check()``: the recorder's
tests, the scenario suite and the viewer. The checker's command line is probed once:

* ``--profile doc|cpython|aiotp``, ``--all`` and ``--json`` are passed when its ``--help``
  lists them (the checker work of issue 13); otherwise one strict run is made and its
  result stands for every profile (``Result.profile_applied`` is then ``None``);
* a format-3 trace is given as it is when the checker reads version 3; otherwise it is
  converted for a version-2 checker: the header becomes ``aiotp-trace 2`` and the lines a
  version-2 reader does not know (``query``, ``exc``, and every line of a transport that
  is not a stream) are turned into comments; ``Result.notes`` says how many.

Assumed JSON shape (``--json``): one object with a list ``violations`` whose items carry
``rule``, ``line`` and ``detail`` (``lineno``/``message``/``found`` are accepted too).
"""
import json
import os
import re
import subprocess
import tempfile

PROFILES = ("doc", "cpython", "aiotp")
STREAM_KINDS = ("tcp", "tcp6", "unix")

_REPORT = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<rule>[A-Z][A-Z0-9-]*|parse error|limit): "
                     r"(?P<text>.*)$")


class Result:
    def __init__(self, status, exit_code, violations, notes, profile_applied, output):
        self.status = status            # "pass", "fail" (violations) or "error"
        self.exit_code = exit_code
        self.violations = violations    # [{"rule", "line", "detail"}]
        self.notes = notes              # what the kit did to the trace or the call
        self.profile_applied = profile_applied
        self.output = output

    @property
    def rules(self):
        seen = []
        for v in self.violations:
            if v["rule"] not in seen:
                seen.append(v["rule"])
        return seen

    def to_dict(self):
        return {"status": self.status, "exit": self.exit_code, "violations": self.violations,
                "notes": self.notes, "profile": self.profile_applied}


class Checker:
    def __init__(self, path):
        self.path = path
        help_text = self._run(["--help"], "")[1]
        self.has_profile = "--profile" in help_text
        self.has_json = "--json" in help_text
        self.has_all = "--all" in help_text
        rc, _ = self._run(["-"], "aiotp-trace 3 impl=probe\n")
        self.reads_v3 = rc == 0

    def _run(self, args, stdin_text=None, timeout=600):
        p = subprocess.run([self.path] + args, input=stdin_text, capture_output=True,
                           text=True, timeout=timeout, errors="replace")
        return p.returncode, p.stdout + p.stderr

    def describe(self):
        return {"path": self.path, "profiles": self.has_profile, "json": self.has_json,
                "all": self.has_all, "reads_v3": self.reads_v3}

    # ---- the call ------------------------------------------------------------------------
    def command(self, trace, profile=None, require_lost=True):
        """The checker's argument list for one trace (the single call shape)."""
        args = []
        if profile is not None and self.has_profile:
            args += ["--profile", profile]
        if self.has_all:
            args.append("--all")
        if self.has_json:
            args.append("--json")
        if require_lost:
            args.append("--require-lost")
        return args + [trace]

    def check(self, trace, profile=None, require_lost=True):
        notes = []
        path = trace
        tmp = None
        if not self.reads_v3 and _version(trace) >= 3:
            tmp, dropped = downgrade(trace)
            path = tmp
            if dropped:
                notes.append("%d version-3 line(s) not checked (this checker reads versions "
                             "1-2): %s" % (sum(dropped.values()),
                                           ", ".join("%s %d" % kv for kv in sorted(dropped.items()))))
        applied = profile if (profile is not None and self.has_profile) else None
        if profile is not None and applied is None:
            notes.append("checker has no --profile: strict rules for every profile")
        try:
            rc, out = self._run(self.command(path, profile, require_lost))
        finally:
            if tmp is not None:
                os.unlink(tmp)
        violations = parse_output(out, self.has_json)
        if rc == 0:
            status = "pass"
        elif rc == 1:
            status = "fail"
        else:
            status = "error"
            if not violations:
                m = [ln for ln in out.splitlines() if "parse error" in ln or "limit" in ln]
                violations = [{"rule": "PARSE", "line": 0, "detail": (m or [out.strip()[:200]])[0]}]
        return Result(status, rc, violations, notes, applied, out)


def _version(path):
    with open(path, "r", errors="replace") as f:
        for line in f:
            if line.startswith("aiotp-trace "):
                try:
                    return int(line.split()[1])
                except (IndexError, ValueError):
                    return 0
            if line.strip() and not line.startswith("#"):
                return 0
    return 0


def downgrade(path):
    """Write a version-2 reading of a version-3 trace; returns (tmp path, dropped counts)."""
    fd, tmp = tempfile.mkstemp(prefix="aiotp-kit-", suffix=".trace")
    dropped = {}
    kinds = {}

    def drop(line, why):
        dropped[why] = dropped.get(why, 0) + 1
        return "# [v3] " + line

    with os.fdopen(fd, "w") as out, open(path, "r", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            w = line.split(" ")
            if line.startswith("aiotp-trace "):
                kinds = {}
                line = "aiotp-trace 2"
            elif len(w) >= 2 and w[0] == "loop" and w[1] == "exc":
                line = drop(line, "exc")
            elif len(w) >= 2 and w[0][:1] == "t" and w[0][1:].isdigit():
                tid = w[0]
                if w[1] == "open" and len(w) >= 3:
                    kinds[tid] = w[2]
                kind = kinds.get(tid)
                if kind is not None and kind not in STREAM_KINDS:
                    line = drop(line, kind)
                elif w[1] in ("query", "exc"):
                    line = drop(line, w[1])
                elif w[1] == "peer" and len(w) >= 3 and kinds.get(w[2], "tcp") not in STREAM_KINDS:
                    line = drop(line, "peer")
                elif " total=0 sum=00000000" in line:
                    # the empty CRC-32 is 0; a version-2 reader expects the empty FNV-1a
                    line = line.replace(" total=0 sum=00000000", " total=0 sum=811c9dc5")
            out.write(line + "\n")
    return tmp, dropped


def parse_output(out, as_json):
    if as_json:
        try:
            data = json.loads(out[out.index("{"):])
            vs = []
            for v in data.get("violations", []):
                vs.append({"rule": v.get("rule") or v.get("id") or "?",
                           "line": int(v.get("line", v.get("lineno", 0)) or 0),
                           "detail": v.get("detail") or v.get("found") or v.get("message") or ""})
            return vs
        except (ValueError, AttributeError, TypeError):
            pass
    vs = []
    lines = out.splitlines()
    for i, ln in enumerate(lines):
        m = _REPORT.match(ln)
        if not m:
            continue
        rule = m.group("rule")
        if rule in ("parse error", "limit"):
            rule = "PARSE" if rule == "parse error" else "LIMIT"
        detail = m.group("text")
        if i + 1 < len(lines) and lines[i + 1].strip().startswith("found:"):
            detail = lines[i + 1].strip()[6:].strip()
        vs.append({"rule": rule, "line": int(m.group("line")), "detail": detail})
    return vs


def find_checker(build_dir=None):
    """The checker binary: $AIOTP_TRACE_CHECK, else BUILD/tools/aiotp-trace-check."""
    env = os.environ.get("AIOTP_TRACE_CHECK")
    if env:
        return env
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for b in ([build_dir] if build_dir else []) + ["build/gcc", "build/gcc-asan", "build/clang", "build"]:
        p = os.path.join(b if os.path.isabs(b) else os.path.join(here, b), "tools", "aiotp-trace-check")
        if os.path.exists(p):
            return p
    raise FileNotFoundError("aiotp-trace-check not found: set AIOTP_TRACE_CHECK")
