#!/usr/bin/env python3
"""Write a large conforming trace for the checker's benchmark (bench/README.md).

usage: trace_gen.py [--lines N] [--transports T] [--format 2|3] [--seed S] > trace.txt

T/2 TCP connections of one loop, both ends traced and paired (`peer`): one connection
starts per pass; each goes through: open (both ends), connection_made (the client
writes), a ping-pong of R rounds (data_received, and an echo write but in the last round),
close() by the client, its connection_lost and the server's eof_received (returning 0)
in the next pass, the server's connection_lost in the pass after. R is chosen so that the
trace has about N lines; about R + 5 connections are live at any time. Sizes vary, sums
are running values (opaque to the checker: equal on both sides), so every rule the
checker knows holds, with --require-lost, under every profile (format 3: impl=aiotp).
"""
import argparse
import sys
import zlib


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--transports", type=int, default=30_000)
    ap.add_argument("--format", type=int, choices=(2, 3), default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    pairs = max(1, a.transports // 2)
    # lines per connection: 5 open + 6 made + 4 per round (2 in the last) + 2 close
    # + 4 lost/eof + 2 lost, and one iter line per connection: 18 + 4 R
    rounds = max(1, -(-(a.lines - 18 * pairs) // (4 * pairs)))
    stages = rounds + 5
    out = []
    w = sys.stdout.write
    w("aiotp-trace 3 impl=aiotp\n" if a.format == 3 else "aiotp-trace 2\n")

    class Conn:
        __slots__ = ("a", "b", "start", "tx", "sent")

    def write(c, side, lines):
        """side 0: the client (a) writes, 1: the server (b)."""
        tid = c.a if side == 0 else c.b
        n = 1 + zlib.crc32(b"%d.%d.%d" % (a.seed, tid, c.tx[side][0])) % 1400
        total = c.tx[side][0] + n
        s = zlib.crc32(b"%d" % n, c.tx[side][1]) or 1
        c.tx[side] = (total, s)
        c.sent[side].append((n, total, s))
        lines.append(f"t{tid} call write n={n}")
        lines.append(f"t{tid} ret write 0 size=0 total={total} sum={s:08x}")

    live = []
    next_id = 1
    started = 0
    it = 1
    while started < pairs or live:
        lines = [f"iter {it}"]
        still = []
        for c in live:
            st = it - c.start
            if st == 1:
                lines.append(f"t{c.a} cb connection_made")
                write(c, 0, lines)
                lines.append(f"t{c.a} ret connection_made 0")
                lines.append(f"t{c.b} cb connection_made")
                lines.append(f"t{c.b} ret connection_made 0")
            elif 2 <= st < 2 + rounds:
                r = st - 2
                side = 1 if r % 2 == 0 else 0  # who receives
                tid = c.b if side == 1 else c.a
                n, total, s = c.sent[1 - side].pop(0)
                lines.append(f"t{tid} cb data_received n={n} total={total} sum={s:08x}")
                if r + 1 < rounds:
                    write(c, side, lines)
                lines.append(f"t{tid} ret data_received 0")
            elif st == 2 + rounds:
                lines.append(f"t{c.a} call close")
                lines.append(f"t{c.a} ret close 0 size=0")
            elif st == 3 + rounds:
                lines.append(f"t{c.a} cb connection_lost status=0")
                lines.append(f"t{c.a} ret connection_lost 0")
                lines.append(f"t{c.b} cb eof_received")
                lines.append(f"t{c.b} ret eof_received 0")
            elif st == 4 + rounds:
                lines.append(f"t{c.b} cb connection_lost status=0")
                lines.append(f"t{c.b} ret connection_lost 0")
            if st < stages - 1:
                still.append(c)
        live = still
        if started < pairs:
            c = Conn()
            c.a, c.b = next_id, next_id + 1
            next_id += 2
            c.start = it
            c.tx = [(0, 0), (0, 0)]
            c.sent = [[], []]
            lines.append(f"t{c.a} open tcp")
            lines.append(f"t{c.a} limits low=16384 high=65536")
            lines.append(f"t{c.b} open tcp")
            lines.append(f"t{c.b} limits low=16384 high=65536")
            lines.append(f"t{c.b} peer t{c.a}")
            live.append(c)
            started += 1
        w("\n".join(lines) + "\n")
        it += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
