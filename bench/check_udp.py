#!/usr/bin/env python3
"""Correctness check for a UDP echo server of bench/ (any of them, aiotp too).

usage: check_udp.py --udp PORT [--server-pid PID]

Checks, each with fresh client sockets (127.0.0.1):
  ping        round trips of 1 B .. 65507 B (the largest UDP payload), each echo
              identical and coming from the server's own address
  empty       a 0-byte datagram followed by a 1-byte one: the 1-byte echo comes
              back; the empty one is echoed or not (CPython 3.11's sendto() does
              not send empty data; the result is printed, not judged)
  connected   a client socket connect()ed to the server (it accepts datagrams
              from that address only) gets its echoes
  concurrent  50 client sockets, 20 rounds: each gets its own datagrams back
  burst       100 datagrams sent back to back, then all 100 echoes read
  flood       20,000 datagrams sent as fast as the socket takes them while the
              client does not read; afterwards a round trip still works, and
              with --server-pid the server's RSS grew by less than 4 MiB
  cleanup     with --server-pid: the server's open fds are as many as before
Exits 0 and prints "ok: ..." when all pass, else 1 with the failure.
"""
import argparse
import os
import socket
import sys

TIMEOUT = 5.0


def payload(tag, size):
    """size bytes starting with tag, then a pattern of it."""
    head = tag.to_bytes(8, "little")
    body = bytes((tag * 7 + i) & 0xFF for i in range(max(0, size - 8)))
    return (head + body)[:size]


class Check:
    def __init__(self, args):
        self.args = args
        self.server = ("127.0.0.1", args.udp)

    def client(self, connect=False):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind(("127.0.0.1", 0))
        if connect:
            s.connect(self.server)
        s.settimeout(TIMEOUT)
        return s

    def recv_from_server(self, s, what):
        try:
            data, addr = s.recvfrom(1 << 17)
        except socket.timeout:
            raise AssertionError("%s: no echo within %.0f s" % (what, TIMEOUT))
        if addr != self.server:
            raise AssertionError("%s: echo came from %s, not from the server %s"
                                 % (what, addr, self.server))
        return data

    def rss_kb(self):
        with open("/proc/%d/status" % self.args.server_pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for the server")

    def nfds(self):
        return len(os.listdir("/proc/%d/fd" % self.args.server_pid))

    def ping(self):
        with self.client() as s:
            for size in (1, 2, 63, 64, 1000, 1472, 4096, 65507):
                for i in range(3):
                    msg = payload(size * 10 + i, size)
                    s.sendto(msg, self.server)
                    if self.recv_from_server(s, "ping %d B" % size) != msg:
                        raise AssertionError("ping: wrong echo for %d bytes" % size)

    def empty(self):
        with self.client() as s:
            s.sendto(b"", self.server)
            s.sendto(b"x", self.server)
            first = self.recv_from_server(s, "empty")
            if first == b"x":
                return "empty not echoed"
            if first != b"":
                raise AssertionError("empty: got %r" % first[:16])
            if self.recv_from_server(s, "empty, then 1 B") != b"x":
                raise AssertionError("empty: the 1-byte datagram after it was not echoed")
            return "empty echoed"

    def connected(self):
        with self.client(connect=True) as s:
            for i in range(10):
                msg = payload(1000 + i, 64)
                s.send(msg)
                if self.recv_from_server(s, "connected") != msg:
                    raise AssertionError("connected: wrong echo")

    def concurrent(self):
        socks = [self.client() for _ in range(50)]
        try:
            for rnd in range(20):
                for i, s in enumerate(socks):
                    s.sendto(payload(rnd * 50 + i, 64), self.server)
                for i, s in enumerate(socks):
                    if self.recv_from_server(s, "concurrent") != payload(rnd * 50 + i, 64):
                        raise AssertionError("concurrent: wrong echo on socket %d" % i)
        finally:
            for s in socks:
                s.close()

    def burst(self, n=100):
        with self.client() as s:
            sent = [payload(5000 + i, 64) for i in range(n)]
            for msg in sent:
                s.sendto(msg, self.server)
            got = [self.recv_from_server(s, "burst (%d of %d)" % (k, n)) for k in range(n)]
            if sorted(got) != sorted(sent):
                raise AssertionError("burst: the echoes are not the datagrams sent")

    def flood(self, n=20000):
        rss0 = self.rss_kb() if self.args.server_pid else None
        with self.client() as s:
            s.setblocking(False)
            sent = 0
            while sent < n:
                try:
                    s.sendto(payload(sent, 64), self.server)
                    sent += 1
                except (BlockingIOError, InterruptedError):
                    pass
            grown = self.rss_kb() - rss0 if rss0 is not None else None
        with self.client() as s:  # still serving
            deadline_tries = 50
            msg = payload(99999, 64)
            while True:
                s.sendto(msg, self.server)
                try:
                    s.settimeout(0.2)
                    if self.recv_from_server(s, "after the flood") == msg:
                        break
                except AssertionError:
                    deadline_tries -= 1
                    if deadline_tries == 0:
                        raise AssertionError("flood: no echo any more after the flood")
        if grown is not None and grown > 4096:
            raise AssertionError("flood: server RSS grew by %d kB" % grown)
        return grown

    def run(self):
        fds0 = self.nfds() if self.args.server_pid else None
        self.ping()
        done = ["ping", self.empty()]
        self.connected()
        self.concurrent()
        self.burst()
        grown = self.flood()
        done += ["connected", "concurrent", "burst", "flood"]
        if grown is not None:
            done[-1] += " (RSS +%d kB)" % grown
        if fds0 is not None:
            if self.nfds() != fds0:
                raise AssertionError("cleanup: server has %d fds, had %d before"
                                     % (self.nfds(), fds0))
            done.append("cleanup")
        return done


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--udp", type=int, metavar="PORT", required=True)
    parser.add_argument("--server-pid", type=int, metavar="PID")
    args = parser.parse_args()
    try:
        done = Check(args).run()
    except (AssertionError, OSError) as exc:
        print("FAIL: %s" % exc, file=sys.stderr)
        return 1
    print("ok: " + ", ".join(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
