#!/usr/bin/env python3
"""Correctness check for an echo server of bench/ (any of them, aiotp too).

usage: check_echo.py (--tcp PORT | --unix PATH) [--server-pid PID]

Checks, each on fresh connections:
  ping        round trips of 1 B .. 64 KiB+1 on one connection (each message
              is sent whole before its echo is read, so it must fit in the
              socket buffers: larger transfers are tested with a reader)
  concurrent  50 connections doing round trips at the same time
  bulk        32 MiB sent by one thread while another reads the echo
  half-close  1 MiB then shutdown(SHUT_WR): all of it comes back, then EOF
  backpressure 16 MiB pushed while the client does not read for 1 s; with
              --server-pid the server's RSS must grow by less than 4 MiB
              (it must stop reading instead of buffering; under ASan set
              ASAN_OPTIONS=quarantine_size_mb=0, its quarantine inflates RSS)
  cleanup     with --server-pid: the server's open fds return to their
              count once every connection is closed
Exits 0 and prints "ok: ..." when all pass, else 1 with the failure.
"""
import argparse
import os
import socket
import sys
import threading
import time

PERIOD = 251


def pattern(offset, length):
    """Bytes offset..offset+length of the stream whose byte i is i % 251."""
    start = offset % PERIOD
    reps = (start + length) // PERIOD + 1
    return (bytes(range(PERIOD)) * reps)[start:start + length]


class Check:
    def __init__(self, args):
        self.args = args

    def connect(self):
        if self.args.unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.args.unix)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.connect(("127.0.0.1", self.args.tcp))
        s.settimeout(20)
        return s

    @staticmethod
    def recv_exact(s, n):
        chunks, got = [], 0
        while got < n:
            b = s.recv(min(n - got, 1 << 20))
            if not b:
                raise AssertionError("connection closed after %d of %d bytes" % (got, n))
            chunks.append(b)
            got += len(b)
        return b"".join(chunks)

    def rss_kb(self):
        with open("/proc/%d/status" % self.args.server_pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for the server")

    def nfds(self):
        return len(os.listdir("/proc/%d/fd" % self.args.server_pid))

    def ping(self):
        with self.connect() as s:
            for size in (1, 2, 63, 64, 1000, 4096, 65535, 65536, 65537):
                for i in range(3):
                    msg = pattern(size + i, size)
                    s.sendall(msg)
                    if self.recv_exact(s, size) != msg:
                        raise AssertionError("ping: wrong echo for %d bytes" % size)

    def concurrent(self):
        socks = [self.connect() for _ in range(50)]
        try:
            for rnd in range(20):
                for i, s in enumerate(socks):
                    s.sendall(pattern(rnd * 50 + i, 64))
                for i, s in enumerate(socks):
                    if self.recv_exact(s, 64) != pattern(rnd * 50 + i, 64):
                        raise AssertionError("concurrent: wrong echo on connection %d" % i)
        finally:
            for s in socks:
                s.close()

    def _send_stream(self, s, total, errors, shut=False):
        try:
            off, chunk = 0, 65536 + 123  # odd size: chunks straddle reads
            while off < total:
                n = min(chunk, total - off)
                s.sendall(pattern(off, n))
                off += n
            if shut:
                s.shutdown(socket.SHUT_WR)
        except OSError as exc:
            errors.append(exc)

    def _read_stream(self, s, total):
        off = 0
        while off < total:
            b = s.recv(1 << 20)
            if not b:
                raise AssertionError("closed after %d of %d bytes" % (off, total))
            if b != pattern(off, len(b)):
                raise AssertionError("wrong echo near offset %d" % off)
            off += len(b)

    def bulk(self, total=32 << 20):
        with self.connect() as s:
            errors = []
            t = threading.Thread(target=self._send_stream, args=(s, total, errors))
            t.start()
            self._read_stream(s, total)
            t.join()
            if errors:
                raise AssertionError("bulk: send failed: %s" % errors[0])

    def half_close(self, total=1 << 20):
        with self.connect() as s:
            errors = []
            t = threading.Thread(target=self._send_stream, args=(s, total, errors, True))
            t.start()
            self._read_stream(s, total)
            t.join()
            if errors:
                raise AssertionError("half-close: send failed: %s" % errors[0])
            if s.recv(1) != b"":
                raise AssertionError("half-close: expected EOF after the echo")

    def backpressure(self, total=16 << 20):
        rss0 = self.rss_kb() if self.args.server_pid else None
        with self.connect() as s:
            errors = []
            t = threading.Thread(target=self._send_stream, args=(s, total, errors))
            t.start()
            time.sleep(1.0)  # not reading: the server's output backs up
            grown = self.rss_kb() - rss0 if rss0 is not None else None
            self._read_stream(s, total)
            t.join()
            if errors:
                raise AssertionError("backpressure: send failed: %s" % errors[0])
        if grown is not None and grown > 4096:
            raise AssertionError("backpressure: server RSS grew by %d kB while the "
                                 "client was not reading (no flow control?)" % grown)
        return grown

    def run(self):
        fds0 = self.nfds() if self.args.server_pid else None
        self.ping()
        self.concurrent()
        self.bulk()
        self.half_close()
        grown = self.backpressure()
        done = ["ping", "concurrent", "bulk", "half-close", "backpressure"]
        if grown is not None:
            done[-1] += " (RSS +%d kB)" % grown
        if fds0 is not None:
            deadline = time.time() + 5
            while self.nfds() > fds0 and time.time() < deadline:
                time.sleep(0.05)
            if self.nfds() > fds0:
                raise AssertionError("cleanup: server has %d fds, had %d before"
                                     % (self.nfds(), fds0))
            done.append("cleanup")
        return done


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", type=int, metavar="PORT")
    where.add_argument("--unix", metavar="PATH")
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
