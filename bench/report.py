#!/usr/bin/env python3
"""Turns run.sh's raw results into one table of medians.

usage: report.py RAW_FILE [--ref NAME] [--order NAME,NAME,...]

RAW_FILE has one line per run: run.sh's labels (server= case= transport=
placement= rep= status=) followed by loadgen's key=value line.  For every
(case, transport, placement, server) the median over the repetitions of each
metric is shown, plus ratios REF/this for throughput (req/s, or MB/s for
stream), p99 latency and server CPU (us/req, or us/MB for stream).

UDP cases: a request is one datagram received and echoed (pingpong: one in
flight per client; flood: req/s is the rate of datagrams that reached the
server, us/req its CPU per such datagram); a second table gives the flood's
sent, received and echoed rates and the share dropped at the server's socket.
"""
import argparse
import statistics
import sys

CASES = {  # label, and whether it is a request/response case
    "pp10": ("pingpong 10", True),
    "pp100": ("pingpong 100", True),
    "stream": ("stream", False),
    "idle": ("10 + 1000 idle", True),
    "idle10k": ("10 + 10000 idle", True),
    "udp10": ("udp pingpong 10", True),
    "udp100": ("udp pingpong 100", True),
    "udpflood": ("udp flood", True),
}
PLACEMENTS = {"same": "same-core", "cross": "cross-core"}


def parse(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            rec = {}
            for word in line.split():
                if "=" in word:
                    k, v = word.split("=", 1)
                    rec.setdefault(k, v)  # run.sh's labels come first and win
            runs.append(rec)
    return runs


def num(rec, key):
    try:
        v = float(rec.get(key, "NA"))
    except ValueError:
        return None
    return None if v != v else v  # NaN -> None


def rate(rec, key):
    """rec[key] per second of the measured window."""
    v, secs = num(rec, key), num(rec, "duration_s")
    return v / secs if v is not None and secs else None


def drop_pct(rec):
    """flood: share of the datagrams sent that the server's socket dropped."""
    sent, drops = num(rec, "sent"), num(rec, "srv_drops")
    return 100.0 * drops / sent if sent and drops is not None else None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, prec):
    return "-" if v is None else "%.*f" % (prec, v)


def ratio(ref, val):
    if ref is None or val is None or val == 0:
        return "-"
    return "%.2f" % (ref / val)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("raw")
    ap.add_argument("--ref", help="reference server for the ratio columns")
    ap.add_argument("--order", default="", help="server order, comma-separated")
    args = ap.parse_args()

    runs = parse(args.raw)
    order = [s for s in args.order.split(",") if s]
    for r in runs:
        if r.get("server") and r["server"] not in order:
            order.append(r["server"])
    ref = args.ref

    groups = {}
    for r in runs:
        key = (r.get("case"), r.get("transport"), r.get("placement"), r.get("server"))
        groups.setdefault(key, []).append(r)

    def sort_key(key):
        case, tr, pl, srv = key
        return (list(CASES).index(case) if case in CASES else 99, tr or "",
                list(PLACEMENTS).index(pl) if pl in PLACEMENTS else 9,
                order.index(srv) if srv in order else 99)

    med = {}
    for key, recs in groups.items():
        ok = [r for r in recs if r.get("status") == "ok"]
        is_rr = CASES.get(key[0], ("", True))[1]
        m = {"n": len(ok), "runs": len(recs)}
        m["thr"] = median([num(r, "rps" if is_rr else "mbps") for r in ok])
        m["mbps"] = median([num(r, "mbps") for r in ok])
        m["rps"] = median([num(r, "rps") for r in ok]) if is_rr else None
        m["p50"] = median([num(r, "lat_p50_us") for r in ok]) if is_rr else None
        m["p99"] = median([num(r, "lat_p99_us") for r in ok]) if is_rr else None
        m["us_req"] = median([num(r, "srv_us_per_req") for r in ok]) if is_rr else None
        m["us_mb"] = median([num(r, "srv_us_per_mb") for r in ok])
        m["cores"] = median([num(r, "srv_cores") for r in ok])
        m["kb_idle"] = median([num(r, "srv_kb_per_idle_conn") for r in ok])
        m["cpu"] = m["us_req"] if is_rr else m["us_mb"]
        m["sent"] = median([rate(r, "sent") for r in ok])
        m["echoes"] = median([rate(r, "echoes") for r in ok])
        m["drop_pct"] = median([drop_pct(r) for r in ok])
        m["resent"] = median([num(r, "resent") for r in ok])
        med[key] = m

    head = ["case", "transport", "cpus", "server", "n", "req/s", "MB/s", "p50 us", "p99 us",
            "srv us/req", "srv us/MB", "srv cores", "kB/idle"]
    if ref:
        head += ["%s/x thr" % ref, "%s/x p99" % ref, "%s/x cpu" % ref]
    rows = []
    prev_group = None
    for key in sorted(med, key=sort_key):
        case, tr, pl, srv = key
        m = med[key]
        group = (case, tr, pl)
        if prev_group is not None and group != prev_group:
            rows.append(None)  # blank line between groups
        prev_group = group
        n = "%d/%d" % (m["n"], m["runs"]) if m["n"] != m["runs"] else str(m["n"])
        row = [CASES.get(case, (case,))[0], tr, PLACEMENTS.get(pl, pl), srv, n,
               fmt(m["rps"], 0), fmt(m["mbps"], 1), fmt(m["p50"], 1), fmt(m["p99"], 1),
               fmt(m["us_req"], 2), fmt(m["us_mb"], 0), fmt(m["cores"], 2),
               fmt(m["kb_idle"], 2)]
        if m["n"] == 0:
            row[5] = "FAIL"
        if ref:
            r = med.get((case, tr, pl, ref))
            if r is None or srv == ref:
                row += ["-", "-", "-"]
            else:
                row += [ratio(r["thr"], m["thr"]), ratio(r["p99"], m["p99"]),
                        ratio(r["cpu"], m["cpu"])]
        rows.append(row)

    widths = [max(len(h), *(len(r[i]) for r in rows if r)) for i, h in enumerate(head)]
    left = 4  # the first four columns are text

    def line(cells):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    out += [line(r) if r else "" for r in rows]
    print("\n".join(out))
    if ref:
        print("\nratios are %s/x: thr (req/s, or MB/s for stream) > 1 means %s is faster; "
              "p99 and cpu\n(server us/req, or us/MB for stream) < 1 mean %s is lower/cheaper."
              % (ref, ref, ref))
    print("n = successful repetitions (medians over them); kB/idle = server RSS growth per idle "
          "connection.")
    flood = [k for k in sorted(med, key=sort_key) if k[0] == "udpflood"]
    if flood:
        fhead = ["case", "cpus", "server", "sent/s", "received/s", "dropped %", "echoes/s",
                 "srv us/datagram"]
        frows = [[CASES["udpflood"][0], PLACEMENTS.get(k[2], k[2]), k[3],
                  fmt(med[k]["sent"], 0), fmt(med[k]["rps"], 0), fmt(med[k]["drop_pct"], 1),
                  fmt(med[k]["echoes"], 0), fmt(med[k]["us_req"], 2)] for k in flood]
        fw = [max(len(h), *(len(r[i]) for r in frows)) for i, h in enumerate(fhead)]

        def fline(cells):
            return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, fw))).rstrip()
        print("\nudp flood: one client sends 64-byte datagrams as fast as its socket takes them; "
              "received = sent - dropped\nat the server's socket (its receive buffer was full); "
              "srv us/datagram = server CPU / received.")
        print("\n".join([fline(fhead), fline(["-" * w for w in fw])] + [fline(r) for r in frows]))
    resent = [(k, med[k]["resent"]) for k in sorted(med, key=sort_key)
              if k[0] in ("udp10", "udp100") and med[k]["resent"]]
    if resent:
        print("\nudp pingpong requests resent after 200 ms without an echo (median per run): " +
              ", ".join("%s %s %s: %.0f" % (CASES[k[0]][0], PLACEMENTS.get(k[2], k[2]), k[3], v)
                        for k, v in resent))
    failed = sum(1 for r in runs if r.get("status") != "ok")
    if failed:
        print("%d run(s) failed: see the raw file %s" % (failed, args.raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
