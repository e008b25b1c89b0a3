#!/usr/bin/env python3
"""bench/spawn_py.py - the asyncio and uvloop peers of spawn_aiotp.c (bench/spawn_run.sh).

  spawn_py.py [--uvloop] spawn [N [C [program]]]
      N children of a program (default /bin/true), at most C at once (default 1000, 16),
      each started with loop.subprocess_exec (stdin, stdout, stderr DEVNULL) and awaited
      until its connection_lost (the transport's process exited and pipes closed).
  spawn_py.py [--uvloop] pipe MB
      one `cat` child through asyncio.create_subprocess_exec with stdin and stdout pipes;
      one task writes MB MiB in 64 KiB writes (await drain() after each: flow control) and
      closes stdin, another reads 64 KiB at a time until EOF and counts.
  spawn_py.py [--uvloop] pipe-protocol MB
      the same through loop.subprocess_exec and a SubprocessProtocol (pause_writing /
      resume_writing, pipe_data_received).

With SPAWN_CWD=DIR in the environment every child of `spawn` starts in DIR (cwd=) and the
line starts with `spawncwd` (bench/spawn_run.sh's cwd case).

Prints the same lines as the C programs (per child / per MiB; the parent's CPU only):
  spawn impl=asyncio children=N concurrency=C wall_us=W cpu_us=U
  pipe impl=uvloop mb=MB wall_us=W cpu_us=U
"""
import asyncio
import os
import resource
import subprocess
import sys
import time

CHUNK = 65536
CWD = os.environ.get("SPAWN_CWD")  # spawn_run.sh's cwd case: every child starts there


def cpu_us():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1e6


class Child(asyncio.SubprocessProtocol):
    def __init__(self, done):
        self.done = done
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.done.set_result(self.transport.get_returncode())


async def spawn(total, conc, prog):
    loop = asyncio.get_running_loop()
    state = {"started": 0, "failed": 0}
    all_done = loop.create_future()
    finished = [0]

    def start_one():
        if state["started"] >= total:
            return
        state["started"] += 1
        done = loop.create_future()
        done.add_done_callback(lost)
        coro = loop.subprocess_exec(lambda: Child(done), prog, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    cwd=CWD)
        task = loop.create_task(coro)
        task.add_done_callback(started)

    def started(task):
        if task.exception() is not None:
            state["failed"] += 1
            finish_one()

    def lost(fut):
        if fut.result() != 0:
            state["failed"] += 1
        finish_one()

    def finish_one():
        finished[0] += 1
        if finished[0] == total:
            all_done.set_result(None)
        else:
            start_one()

    for _ in range(conc):
        start_one()
    await all_done
    return state["failed"]


class CatProto(asyncio.SubprocessProtocol):
    def __init__(self, total, done):
        self.total = total
        self.sent = 0
        self.got = 0
        self.paused = False
        self.done = done
        self.stdin = None
        self.chunk = b"x" * CHUNK

    def connection_made(self, transport):
        self.stdin = transport.get_pipe_transport(0)
        self.fill()

    def fill(self):
        while not self.paused and self.sent < self.total:
            self.stdin.write(self.chunk)
            self.sent += CHUNK
        if self.sent == self.total:
            self.sent += 1
            self.stdin.close()

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        self.fill()

    def pipe_data_received(self, fd, data):
        if fd == 1:
            self.got += len(data)

    def connection_lost(self, exc):
        self.done.set_result(exc)


async def pipe(mb):
    """Through asyncio's subprocess streams (the API most programs use; the protocol-level
    CatProto above came back 64-128 KiB short on CPython 3.11.2's default loop: see
    bench/README.md)."""
    total = mb * 1048576
    chunk = b"x" * CHUNK
    proc = await asyncio.create_subprocess_exec("cat", stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE,
                                                stderr=subprocess.DEVNULL)

    async def writer():
        for _ in range(total // CHUNK):
            proc.stdin.write(chunk)
            await proc.stdin.drain()
        proc.stdin.close()

    async def reader():
        got = 0
        while True:
            data = await proc.stdout.read(CHUNK)
            if not data:
                return got
            got += len(data)

    _, got = await asyncio.gather(writer(), reader())
    rc = await proc.wait()
    if rc != 0 or got != total:
        print("pipe: rc %d, %d bytes back of %d" % (rc, got, total), file=sys.stderr)
        return 1
    return 0


async def pipe_protocol(mb):
    """The protocol-level variant (not in the table; kept to show the short count)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    total = mb * 1048576
    proto = None

    def factory():
        nonlocal proto
        proto = CatProto(total, done)
        return proto

    await loop.subprocess_exec(factory, "cat", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    exc = await done
    if exc is not None or proto.got != total:
        print("pipe: %r, %d bytes back of %d" % (exc, proto.got, total), file=sys.stderr)
        return 1
    return 0


def main(argv):
    impl = "asyncio"
    if argv and argv[0] == "--uvloop":
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        impl = "uvloop"
        argv = argv[1:]
    if not argv or argv[0] not in ("spawn", "pipe", "pipe-protocol"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "spawn":
        total = int(argv[1]) if len(argv) > 1 else 1000
        conc = int(argv[2]) if len(argv) > 2 else 16
        prog = argv[3] if len(argv) > 3 else "/bin/true"
        w0, c0 = time.monotonic(), cpu_us()
        failed = asyncio.run(spawn(total, conc, prog))
        w, c = (time.monotonic() - w0) * 1e6, cpu_us() - c0
        print("%s impl=%s children=%d concurrency=%d wall_us=%.1f cpu_us=%.1f"
              % ("spawncwd" if CWD is not None else "spawn", impl, total, conc, w / total, c / total))
        return 1 if failed else 0
    mb = int(argv[1])
    w0, c0 = time.monotonic(), cpu_us()
    rc = asyncio.run(pipe(mb) if argv[0] == "pipe" else pipe_protocol(mb))
    w, c = (time.monotonic() - w0) * 1e6, cpu_us() - c0
    print("pipe impl=%s mb=%d wall_us=%.1f cpu_us=%.1f" % (impl, mb, w / mb, c / mb))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
