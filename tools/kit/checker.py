"""The one place where the kit calls aiotp-trace-check (tools/aiotp_trace_check.c).

Everything in the kit that checks a trace goes through ``Checker.check()``: the recorder's
tests, the scenario suite and the viewer. One call per trace and profile:
``aiotp-trace-check --profile P --all --json [--require-lost] TRACE``, which reports every
violation of the rules of profile P (doc, cpython or aiotp; spec/oracle.md, "Profiles")
as one JSON object (spec/oracle.md, "--json"): ``exit``, ``total``, a list ``violations``
whose items carry ``rule``, ``line`` and ``found`` (what the trace did), and ``error``, the
parse or limit error that stopped the checker (``kind``, ``line``, ``detail``) or null.
"""
import json
import os
import subprocess

PROFILES = ("doc", "cpython", "aiotp")


class Result:
    def __init__(self, status, exit_code, violations, profile, output):
        self.status = status            # "pass", "fail" (violations) or "error"
        self.exit_code = exit_code
        self.violations = violations    # [{"rule", "line", "detail"}]
        self.profile = profile
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
                "profile": self.profile}


class Checker:
    def __init__(self, path):
        self.path = path

    def _run(self, args, timeout=600):
        p = subprocess.run([self.path] + args, capture_output=True, text=True,
                           timeout=timeout, errors="replace")
        return p.returncode, p.stdout + p.stderr

    def describe(self):
        return {"path": self.path}

    def command(self, trace, profile=None, require_lost=True):
        """The checker's argument list for one trace (the single call shape); no profile:
        the checker's default (aiotp for the library's own traces, doc for the others)."""
        args = (["--profile", profile] if profile else []) + ["--all", "--json"]
        if require_lost:
            args.append("--require-lost")
        return args + [trace]

    def check(self, trace, profile=None, require_lost=True):
        rc, out = self._run(self.command(trace, profile, require_lost))
        violations = parse_output(out)
        if rc == 0:
            status = "pass"
        elif rc == 1:
            status = "fail"
        else:
            status = "error"
        if rc != 0 and not violations:
            violations = [{"rule": "PARSE", "line": 0, "detail": out.strip()[:200]}]
        return Result(status, rc, violations, profile, out)


def parse_output(out):
    """The violations of a --json report, then the parse or limit error that stopped the
    checker, under the pseudo-rules PARSE and LIMIT."""
    try:
        data = json.loads(out[out.index("{"):])
    except (ValueError, TypeError):
        return []
    vs = [{"rule": v.get("rule") or "?", "line": int(v.get("line") or 0),
           "detail": v.get("found") or v.get("text") or ""}
          for v in data.get("violations") or []]
    err = data.get("error")
    if err:
        vs.append({"rule": "LIMIT" if err.get("kind") == "limit" else "PARSE",
                   "line": int(err.get("line") or 0),
                   "detail": "%s: %s" % (err.get("kind"), err.get("detail"))})
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
