#!/usr/bin/env python3
"""Tests of tools/aiotp_trace.py on one loop (CTest kit.recorder.LOOP.CASE).

    test_recorder.py LOOP CASE CHECKER [WORKDIR]

The TLS cases (tls_echo, tls_start) make a self-signed certificate for localhost with the
``openssl`` command line in WORKDIR (the build tree; nothing is committed).

Each case records a trace on LOOP (asyncio or uvloop), checks it with the checker through
tools/kit/checker.py and asserts what the recorder must show. uvloop starts with
low=16 (its documented implementation-specific default): under a checker without
profiles the only violation allowed on uvloop is FLOW-1 at a limits line; with profiles
the doc profile must pass."""
import asyncio
import os
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import aiotp_trace  # noqa: E402
import checker as checker_mod  # noqa: E402
import tracefile  # noqa: E402


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def record(loop_name, coro_fn):
    fd, path = tempfile.mkstemp(prefix="kit-rec-", suffix=".trace")
    os.close(fd)
    with open(path, "w") as out:
        aiotp_trace.run(coro_fn, out, lambda: aiotp_trace.new_loop(loop_name), quiet=True)
    return path


def check(chk, path, loop_name):
    res = chk.check(path, "doc")
    if res.status == "pass":
        return res
    os.system("cat %s | head -80" % path)
    fail("checker: %s %r" % (res.status, res.violations))


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def case_demo(loop_name, chk):
    t0 = time.monotonic()
    path = record(loop_name, lambda rec: aiotp_trace.demo(rec, 1 << 18, True))
    check(chk, path, loop_name)
    ls = lines(path)
    want_impl = "uvloop-" if loop_name == "uvloop" else "cpython-"
    if not ls[0].startswith("aiotp-trace 3 impl=" + want_impl):
        fail("header %r" % ls[0])
    header, events = tracefile.parse_file(path)
    names = [e.name for e in events if e.ev == "cb"]
    for n in ("pause_writing", "resume_writing", "get_buffer", "buffer_updated",
              "datagram_received", "eof_received"):
        if n not in names:
            fail("no %s in the demo's trace" % n)
    if not any(e.ev == "peer" for e in events):
        fail("no peer line (both ends of a TCP connection are traced)")
    iters = [e.iter for e in events if e.ev == "iter"]
    if iters != list(range(1, len(iters) + 1)):
        fail("iter lines are not 1, 2, 3, ...")
    if not any(e.tid and e.ev == "open" and e.args == ["udp"] for e in events):
        fail("no 'open udp' line")
    print("demo: %d lines in %.2fs" % (len(ls), time.monotonic() - t0))


class Buf(asyncio.BufferedProtocol):
    def __init__(self, done):
        self.done = done
        self.buf = bytearray(3)

    def connection_made(self, t):
        self.t = t

    def get_buffer(self, hint):
        return self.buf

    def buffer_updated(self, n):
        pass

    def data_received(self, data):  # must never be called: the loop must see a buffered protocol
        fail("data_received called on a BufferedProtocol")

    def connection_lost(self, exc):
        self.done.set_result(exc)


def case_buffered(loop_name, chk):
    async def main(rec):
        loop = rec.loop
        a, b = socket.socketpair()
        done = loop.create_future()
        t, p = await rec.connect_accepted_socket(lambda: Buf(done), a)
        proto = t.get_protocol()
        if proto is not p:
            fail("get_protocol does not return the user's protocol")
        wrapper = t._aiotp_t.get_protocol()
        if not isinstance(wrapper, asyncio.BufferedProtocol) or isinstance(wrapper, asyncio.Protocol):
            fail("the wrapper is not (only) a BufferedProtocol: %r" % type(wrapper).__mro__)
        b.sendall(b"hello world")
        b.shutdown(socket.SHUT_WR)
        await done
        b.close()
    path = record(loop_name, main)
    check(chk, path, loop_name)
    _, events = tracefile.parse_file(path)
    seq = [n for n, v, c, r in tracefile.callbacks(events, "t1")]
    if "data_received" in seq or seq.count("buffer_updated") != 4:
        fail("buffered path: %s" % seq)


class Plain(asyncio.Protocol):
    def __init__(self, done, raise_in_made=False):
        self.done = done
        self.raise_in_made = raise_in_made

    def connection_made(self, t):
        self.t = t
        if self.raise_in_made:
            raise RuntimeError("boom")

    def connection_lost(self, exc):
        self.done.set_result(exc)


def case_passthrough(loop_name, chk):
    got = {}

    async def main(rec):
        loop = rec.loop
        a, b = socket.socketpair()
        done = loop.create_future()
        t, p = await rec.connect_accepted_socket(lambda: Plain(done), a)
        real = t._aiotp_t
        # attribute writes reach the real transport (or fail as they fail there)
        try:
            t.kit_attr = 42
            got["attr"] = getattr(real, "kit_attr", None)
        except AttributeError:
            got["attr"] = "AttributeError"
            try:
                real.kit_attr = 42
                fail("the proxy refused an attribute write the transport takes")
            except AttributeError:
                pass
        for bad in (lambda: t.write("not bytes"), lambda: t.set_write_buffer_limits(high=1, low=2)):
            try:
                bad()
                got.setdefault("noraise", 0)
                got["noraise"] += 1
            except (TypeError, ValueError):
                pass
        t.is_closing()
        t.get_write_buffer_limits()
        t.close()
        await done
        b.close()
    path = record(loop_name, main)
    check(chk, path, loop_name)
    text = "\n".join(lines(path))
    if got.get("attr") not in (42, "AttributeError"):
        fail("attribute write not passed through: %r" % got)
    if "# t1 setattr kit_attr" not in text:
        fail("attribute write not recorded")
    if "t1 ret set_write_buffer_limits EINVAL" not in text:
        fail("failing set_write_buffer_limits not recorded")
    if got.get("noraise", 0) == 0 and "t1 ret write EINVAL" not in text:
        fail("failing write not recorded")
    for q in ("t1 query is_closing 0", "t1 query get_write_buffer_limits low="):
        if q not in text:
            fail("no %r line" % q)


def case_exc(loop_name, chk):
    async def main(rec):
        loop = rec.loop
        a, b = socket.socketpair()
        done = loop.create_future()
        t, p = await rec.connect_accepted_socket(lambda: Plain(done, True), a)
        for _ in range(3):
            await asyncio.sleep(0)
        t.close()
        await done
        b.close()
    path = record(loop_name, main)
    check(chk, path, loop_name)
    _, events = tracefile.parse_file(path)
    xs = [e for e in events if e.ev == "exc"]
    if not xs or xs[0].tid != "t1" or xs[0].fields.get("status") != "ECALLBACK":
        fail("no 't1 exc status=ECALLBACK' line: %r" % [e.text for e in xs])


class Sink(asyncio.Protocol):
    def __init__(self, done, size=0):
        self.done = done
        self.size = size

    def connection_made(self, t):
        self.t = t
        if self.size:
            chunk = b"x" * (1 << 20)
            for _ in range(self.size >> 20):
                t.write(chunk)
            t.write_eof()

    def data_received(self, data):
        pass

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(exc)


def case_big(loop_name, chk):
    size = 50 << 20

    async def main(rec):
        loop = rec.loop
        d1, d2 = loop.create_future(), loop.create_future()
        srv = await rec.create_server(lambda: Sink(d1), "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        await rec.create_connection(lambda: Sink(d2, size), "127.0.0.1", port)
        await d1
        await d2
        srv.close()
        await srv.wait_closed()
    t0 = time.monotonic()
    path = record(loop_name, main)
    dt = time.monotonic() - t0
    check(chk, path, loop_name)
    _, events = tracefile.parse_file(path)
    rx = [e for e in events if e.ev == "cb" and e.name == "data_received"]
    if not rx or int(rx[-1].fields["total"]) != size:
        fail("50 MiB not received in full")
    print("50 MiB recorded in %.2fs (%d lines)" % (dt, len(events)))
    if dt > 30:
        fail("50 MiB took %.1fs" % dt)


class Collect(asyncio.Protocol):
    def __init__(self, done):
        self.done = done
        self.got = b""

    def connection_made(self, t):
        self.t = t

    def data_received(self, data):
        self.got += data

    def connection_lost(self, exc):
        self.done.set_result(exc)


def events_of(path):
    """The trace's lines without the header, iter lines and comments."""
    return [x for x in lines(path)[1:] if not x.startswith(("iter ", "#"))]


def check_profiles(chk, path, loop_name):
    """doc on both loops; asyncio's pipes and subprocesses also pass the cpython profile."""
    check(chk, path, loop_name)
    if loop_name == "asyncio":
        res = chk.check(path, "cpython")
        if res.status != "pass":
            os.system("cat %s | head -80" % path)
            fail("cpython profile on asyncio: %s %r" % (res.status, res.violations))


def case_pipes(loop_name, chk):
    """A read pipe (5 bytes then end of file) and a write pipe (10 bytes, queries, close,
    a refused second close): the exact lines, iter lines aside."""
    got = {}

    async def main(rec):
        loop = rec.loop
        r, w = os.pipe()
        os.write(w, b"hello")
        os.close(w)
        done = loop.create_future()
        await rec.connect_read_pipe(lambda: Collect(done), os.fdopen(r, "rb", 0))
        if await done is not None:
            fail("read pipe: connection_lost(%r)" % done.result())
        r2, w2 = os.pipe()
        done2 = loop.create_future()
        t, p = await rec.connect_write_pipe(lambda: Collect(done2), os.fdopen(w2, "wb", 0))
        t.write(b"0123456789")
        t.get_write_buffer_size()
        t.can_write_eof()
        t.is_closing()
        t.close()
        t.is_closing()
        t.close()
        await done2
        got["peer"] = os.read(r2, 100)
        os.close(r2)
    path = record(loop_name, main)
    check_profiles(chk, path, loop_name)
    if got.get("peer") != b"0123456789":
        fail("the write pipe's reader got %r" % got.get("peer"))
    _, events = tracefile.parse_file(path)
    low, high = next(e.fields for e in events if e.ev == "limits" and e.tid == "t2")["low"], \
        next(e.fields for e in events if e.ev == "limits" and e.tid == "t2")["high"]
    # CPython writes at once (size 0); uvloop queues the 10 bytes until its pass ends
    size = next(e.fields["size"] for e in events if e.ev == "ret" and e.name == "write")
    if loop_name == "asyncio" and size != "0":
        fail("asyncio's write pipe queued %s bytes of 10" % size)
    want = [
        "t1 open piperead",
        "t1 cb connection_made", "t1 ret connection_made 0",
        "t1 cb data_received n=5 total=5 sum=%08x" % aiotp_trace.crc32(b"hello"),
        "t1 ret data_received 0",
        "t1 cb eof_received", "t1 ret eof_received 0",
        "t1 cb connection_lost status=0", "t1 ret connection_lost 0",
        "t2 open pipewrite",
        "t2 limits low=%s high=%s" % (low, high),
        "t2 cb connection_made", "t2 ret connection_made 0",
        "t2 call write n=10",
        "t2 ret write 0 size=%s total=10 sum=%08x" % (size, aiotp_trace.crc32(b"0123456789")),
        "t2 query get_write_buffer_size %s" % size,
        "t2 query can_write_eof 1",
        "t2 query is_closing 0",
        "t2 call close", "t2 ret close 0 size=%s" % size,
        "t2 query is_closing 1",
        "t2 call close", "t2 ret close ECLOSED size=%s" % size,
        "t2 cb connection_lost status=0", "t2 ret connection_lost 0",
    ]
    have = events_of(path)
    if have != want:
        os.system("cat %s" % path)
        fail("pipe lines:\n  have %r\n  want %r" % (have, want))
    if loop_name == "asyncio" and (low, high) != ("16384", "65536"):
        fail("asyncio's write pipe limits: %s %s" % (low, high))


class Child(asyncio.SubprocessProtocol):
    def __init__(self, done):
        self.done = done

    def connection_made(self, t):
        self.t = t

    def connection_lost(self, exc):
        self.done.set_result(exc)


def case_subprocess(loop_name, chk):
    """subprocess_exec (stdin written and closed, bytes on fd 1 and 2, exit 3; kill and
    close after the end: ESRCH, ECLOSED) and subprocess_shell (terminate while running)."""
    async def main(rec):
        loop = rec.loop
        done = loop.create_future()
        t, p = await rec.subprocess_exec(lambda: Child(done), "sh", "-c",
                                         "cat; echo err >&2; exit 3")
        stdin = t.get_pipe_transport(0)
        stdin.write(b"hello")
        stdin.close()
        t.is_closing()
        await done
        try:
            t.kill()
            fail("kill() after connection_lost did not raise")
        except ProcessLookupError:
            pass
        t.close()
        done2 = loop.create_future()
        t2, p2 = await rec.subprocess_shell(lambda: Child(done2), "exec sleep 30")
        t2.send_signal(0)
        t2.terminate()
        await done2
        t2.close()
    path = record(loop_name, main)
    check_profiles(chk, path, loop_name)
    have = events_of(path)
    t1 = [x for x in have if x.startswith("t1 ")]
    t2 = [x for x in have if x.startswith("t2 ")]
    if have[0] != "t1 open subprocess" or "t2 open subprocess" not in have:
        fail("open lines: %r" % have[:3])
    if any(" limits " in x or " pipe fd=" in x for x in have):
        fail("a limits or pipe line for a subprocess: %r" % have)
    if t1[1:4] != ["t1 cb connection_made", "t1 ret connection_made 0", "t1 query is_closing 0"]:
        fail("t1 start: %r" % t1[:4])
    if t1[-6:] != ["t1 cb connection_lost status=0", "t1 ret connection_lost 0",
                   "t1 call kill", "t1 ret kill ESRCH size=0",
                   "t1 call close", "t1 ret close ECLOSED size=0"]:
        fail("t1 end: %r" % t1[-6:])
    middle = sorted(t1[4:-6])
    want = sorted([
        "t1 cb pipe_connection_lost fd=0 status=0", "t1 ret pipe_connection_lost 0",
        "t1 cb pipe_data_received fd=1 n=5 total=5 sum=%08x" % aiotp_trace.crc32(b"hello"),
        "t1 ret pipe_data_received 0",
        "t1 cb pipe_data_received fd=2 n=4 total=4 sum=%08x" % aiotp_trace.crc32(b"err\n"),
        "t1 ret pipe_data_received 0",
        "t1 cb pipe_connection_lost fd=1 status=0", "t1 ret pipe_connection_lost 0",
        "t1 cb pipe_connection_lost fd=2 status=0", "t1 ret pipe_connection_lost 0",
        "t1 cb process_exited returncode=3", "t1 ret process_exited 0"])
    if middle != want:
        fail("t1 callbacks:\n  have %r\n  want %r" % (middle, want))
    for x in ("t2 call send_signal sig=0", "t2 ret send_signal 0 size=0", "t2 call terminate",
              "t2 ret terminate 0 size=0", "t2 cb process_exited returncode=-15",
              "t2 cb connection_lost status=0", "t2 call close", "t2 ret close ECLOSED size=0"):
        if x not in t2:
            fail("no %r in %r" % (x, t2))


class Dgram(asyncio.DatagramProtocol):
    def __init__(self, got, echo=False):
        self.got = got
        self.echo = echo

    def connection_made(self, t):
        self.t = t

    def datagram_received(self, data, addr):
        if self.echo:
            self.t.sendto(b"pong:" + data, addr)
        elif not self.got.done():
            self.got.set_result(data)


def case_datagram(loop_name, chk):
    """An unbound echo endpoint and a connected client (not paired: one side is not
    connected): the exact format-3 datagram lines, iter lines aside."""
    ports = {}

    async def main(rec):
        loop = rec.loop
        got = loop.create_future()
        ts, _ = await rec.create_datagram_endpoint(lambda: Dgram(None, True),
                                                   local_addr=("127.0.0.1", 0))
        ports["s"] = ts.get_extra_info("sockname")[1]
        tc, _ = await rec.create_datagram_endpoint(lambda: Dgram(got),
                                                   remote_addr=("127.0.0.1", ports["s"]))
        ports["c"] = tc.get_extra_info("sockname")[1]
        tc.sendto(b"ping")
        if await asyncio.wait_for(got, 10) != b"pong:ping":
            fail("echo: %r" % got.result())
        tc.get_write_buffer_size()
        tc.close()
        ts.close()
        for _ in range(3):
            await asyncio.sleep(0)
    path = record(loop_name, main)
    check(chk, path, loop_name)
    _, events = tracefile.parse_file(path)
    lim = {e.tid: (e.fields["low"], e.fields["high"]) for e in events if e.ev == "limits"}
    crc = aiotp_trace.crc32
    want = [
        "t1 open udp", "t1 limits low=%s high=%s" % lim["t1"],
        "t1 cb connection_made", "t1 ret connection_made 0",
        "t2 open udp", "t2 limits low=%s high=%s" % lim["t2"],
        "t2 cb connection_made", "t2 ret connection_made 0",
        "t2 call sendto n=4 addr=- sum=%08x" % crc(b"ping"), "t2 ret sendto 0 size=0",
        "t1 cb datagram_received n=4 addr=127.0.0.1:%d sum=%08x" % (ports["c"], crc(b"ping")),
        "t1 call sendto n=9 addr=127.0.0.1:%d sum=%08x" % (ports["c"], crc(b"pong:ping")),
        "t1 ret sendto 0 size=0",
        "t1 ret datagram_received 0",
        "t2 cb datagram_received n=9 addr=127.0.0.1:%d sum=%08x" % (ports["s"], crc(b"pong:ping")),
        "t2 ret datagram_received 0",
        "t2 query get_write_buffer_size 0",
        "t2 call close", "t2 ret close 0 size=0",
        "t1 call close", "t1 ret close 0 size=0",
        "t2 cb connection_lost status=0", "t2 ret connection_lost 0",
        "t1 cb connection_lost status=0", "t1 ret connection_lost 0",
    ]
    have = events_of(path)
    if have != want:
        os.system("cat %s" % path)
        fail("datagram lines:\n  have %r\n  want %r" % (have, want))


class Paused(Child):
    def __init__(self, done):
        super().__init__(done)
        self.flow = []

    def pause_writing(self):
        self.flow.append("pause")

    def resume_writing(self):
        self.flow.append("resume")


def case_subprocess_flow(loop_name, chk):
    """The stdin pipe's flow control reaches the SubprocessProtocol (pause_writing): the
    protocol still gets it, the trace has it as a comment (no format-3 line for it) and
    stays valid."""
    got = {}

    async def main(rec):
        loop = rec.loop
        done = loop.create_future()
        t, p = await rec.subprocess_exec(lambda: Paused(done), "sleep", "30")
        stdin = t.get_pipe_transport(0)
        stdin.set_write_buffer_limits(high=1000)
        stdin.write(b"x" * 300000)
        for _ in range(5):
            await asyncio.sleep(0)
        t.kill()
        await done
        got["flow"] = p.flow
    path = record(loop_name, main)
    check_profiles(chk, path, loop_name)
    if "pause" not in got.get("flow", []):
        fail("the protocol did not get pause_writing: %r" % got)
    text = lines(path)
    if "# t1 cb pause_writing (stdin pipe)" not in text:
        fail("no pause_writing comment")
    if any(x.startswith("t1 cb pause_writing") for x in text):
        fail("a pause_writing line for a subprocess transport")
    if "t1 cb process_exited returncode=-9" not in text:
        fail("no process_exited returncode=-9")


# ---- TLS ----------------------------------------------------------------------------------

WORKDIR = None


def tls_contexts():
    """(server, client) SSLContexts with a certificate made now by the openssl command
    (the scenario driver's tls_files)."""
    import ssl
    import pydriver
    os.makedirs(WORKDIR, exist_ok=True)
    cert, key = pydriver.tls_files(WORKDIR)
    srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.load_cert_chain(cert, key)
    cli = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cli.load_verify_locations(cert)
    return srv, cli


class TlsEcho(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t

    def data_received(self, data):
        self.t.write(data)


class TlsClient(asyncio.Protocol):
    """Writes in connection_made; on the echo: write_eof (refused), close."""

    def __init__(self, done):
        self.done = done

    def connection_made(self, t):
        self.t = t
        t.write(b"Hello TLS!")
        t.can_write_eof()

    def data_received(self, data):
        try:
            self.t.write_eof()
            fail("write_eof() on a TLS transport did not raise")
        except NotImplementedError:
            pass
        self.t.close()

    def connection_lost(self, exc):
        self.done.set_result(exc)


def per_transport(path):
    """{tid: [its lines]} without iter lines and comments."""
    out = {}
    for x in events_of(path):
        out.setdefault(x.split(" ", 1)[0], []).append(x)
    return out


def check_tls_profiles(chk, path, loop_name):
    """doc on both loops, cpython on asyncio; the aiotp profile reports TLS-CLOSE-5 (DEV-76:
    CPython and uvloop call eof_received after close()) and nothing before it."""
    check_profiles(chk, path, loop_name)
    res = chk.check(path, "aiotp")
    if loop_name == "asyncio" and (res.status != "fail" or not res.violations or
                                   res.violations[0]["rule"] != "TLS-CLOSE-5"):
        fail("aiotp profile on asyncio: %s %r (TLS-CLOSE-5 expected)"
             % (res.status, res.violations))


async def tls_session(rec, server_factory, client_factory, done):
    """A TLS server on 127.0.0.1 and one client of it (create_server / create_connection
    with ssl=); waits for the client's connection_lost (done: None expected) and a few
    passes, closes the server; returns the client's traced transport."""
    srv_ctx, cli_ctx = tls_contexts()
    srv = await rec.create_server(server_factory, "127.0.0.1", 0, ssl=srv_ctx)
    port = srv.sockets[0].getsockname()[1]
    t, _ = await rec.create_connection(client_factory, "127.0.0.1", port, ssl=cli_ctx,
                                       server_hostname="localhost")
    if await done is not None:
        fail("client connection_lost(%r)" % done.result())
    for _ in range(5):
        await asyncio.sleep(0)
    srv.close()
    await srv.wait_closed()
    return t


def case_tls_echo(loop_name, chk):
    """create_server and create_connection with ssl=: client writes, the server echoes, the
    client closes: the exact lines of each side."""
    got = {}

    async def main(rec):
        done = rec.loop.create_future()
        got["client"] = await tls_session(rec, TlsEcho, lambda: TlsClient(done), done)
    path = record(loop_name, main)
    check_tls_profiles(chk, path, loop_name)
    by = per_transport(path)
    cli = got["client"]._aiotp_p._tid
    c, s = "t%d" % cli, "t%d" % (3 - cli)
    crc = "%08x" % aiotp_trace.crc32(b"Hello TLS!")
    want_c = [
        c + " open tls", c + " limits low=131072 high=524288",
        c + " handshake status=0", c + " cb connection_made",
        c + " call write n=10", c + " ret write 0 size=0 total=10 sum=" + crc,
        c + " query can_write_eof 0", c + " ret connection_made 0",
        c + " cb data_received n=10 total=10 sum=" + crc,
        c + " call write_eof", c + " ret write_eof ENOTSUP size=0",
        c + " call close", c + " ret close 0 size=0", c + " ret data_received 0",
        c + " cb eof_received", c + " ret eof_received 0",  # DEV-76
        c + " cb connection_lost status=0", c + " ret connection_lost 0"]
    want_s = [
        s + " open tls", s + " limits low=131072 high=524288",
        s + " handshake status=0", s + " cb connection_made", s + " ret connection_made 0",
        s + " cb data_received n=10 total=10 sum=" + crc,
        s + " call write n=10", s + " ret write 0 size=0 total=10 sum=" + crc,
        s + " ret data_received 0",
        s + " cb eof_received", s + " ret eof_received 0",
        s + " cb connection_lost status=0", s + " ret connection_lost 0"]
    peer = "t2 peer t1"
    if by.get("t2", [None])[2] == peer:
        by["t2"].pop(2)
    else:
        fail("no %r as t2's third line: %r" % (peer, by.get("t2")))
    for tid, want in ((c, want_c), (s, want_s)):
        if by.get(tid) != want:
            os.system("cat %s" % path)
            fail("%s lines:\n  have %r\n  want %r" % (tid, by.get(tid), want))
    if set(by) != {"t1", "t2"}:
        fail("transports %r" % sorted(by))
    print("tls_echo: client t%d" % cli)


def case_tls_bad_cert(loop_name, chk):
    """A client that does not trust the server's certificate: create_connection raises
    SSLCertVerificationError; the client's place is a comment (ETLSCERT), the server's
    (its factory ran at the accept) a comment too, and no callback of either is traced."""
    import ssl

    async def main(rec):
        srv_ctx, _ = tls_contexts()
        srv = await rec.create_server(TlsEcho, "127.0.0.1", 0, ssl=srv_ctx)
        port = srv.sockets[0].getsockname()[1]
        untrusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA: verification fails
        try:
            await rec.create_connection(lambda: TlsClient(None), "127.0.0.1", port,
                                        ssl=untrusting, server_hostname="localhost")
            fail("the handshake with an untrusted certificate succeeded")
        except ssl.SSLCertVerificationError:
            pass
        for _ in range(5):
            await asyncio.sleep(0)
        srv.close()
        await srv.wait_closed()
    path = record(loop_name, main)
    check_profiles(chk, path, loop_name)
    text = [x for x in lines(path)[1:] if not x.startswith("iter ")]
    if any(not x.startswith("#") for x in text):
        fail("lines other than comments: %r" % text)
    want = "no transport: create_connection raised ETLSCERT (SSLCertVerificationError)"
    if not any(x.endswith(want) for x in text):
        fail("no %r comment: %r" % (want, text))


class TlsKeepOpen(TlsEcho):
    def eof_received(self):
        return True  # no effect over TLS (the transport closes): a warning on CPython


class TlsBulk(asyncio.BufferedProtocol):
    """1 MB written at once with high=20000, echoed back into a 1000-byte buffer; queries,
    pause/resume_reading; closes when everything came back."""

    def __init__(self, done, size):
        self.done = done
        self.size = size
        self.buf = bytearray(1000)
        self.n = 0

    def connection_made(self, t):
        self.t = t
        t.set_write_buffer_limits(high=20000)
        for _ in range(self.size // 50000):
            t.write(b"x" * 50000)
        t.get_write_buffer_size()
        t.is_reading()
        t.pause_reading()
        t.resume_reading()

    def get_buffer(self, hint):
        return self.buf

    def buffer_updated(self, n):
        self.n += n
        if self.n == self.size:
            self.t.close()

    def connection_lost(self, exc):
        self.done.set_result(exc)


def case_tls_buffered(loop_name, chk):
    """A BufferedProtocol client over TLS: doc (and cpython on asyncio) pass; the aiotp
    profile finds exactly CPython's TLS read path and close (DEV-76, DEV-77)."""
    size = 1000000

    async def main(rec):
        done = rec.loop.create_future()
        await tls_session(rec, TlsKeepOpen, lambda: TlsBulk(done, size), done)
    path = record(loop_name, main)
    check_profiles(chk, path, loop_name)
    rules = {v["rule"] for v in chk.check(path, "aiotp").violations}
    allowed = {"TLS-BUF-1", "TLS-CLOSE-5", "TLS-CLOSE-6", "TLS-DATA-2", "FLOW-1"}
    if not rules or not rules <= allowed or "TLS-BUF-1" not in rules:
        fail("aiotp profile: %r (expected TLS-BUF-1 and only %r)" % (sorted(rules),
                                                                     sorted(allowed)))
    _, events = tracefile.parse_file(path)
    ups = [e for e in events if e.ev == "cb" and e.name == "buffer_updated"]
    if not ups or int(ups[-1].fields["total"]) != size:
        fail("the echo did not come back in full")
    text = lines(path)
    for want in (" query is_reading 1", " ret pause_reading 0 size=", " ret resume_reading 0 size=",
                 " cb eof_received", " ret eof_received 1"):
        if not any(want in x for x in text):
            fail("no %r line" % want)
    print("tls_buffered: %s" % sorted(rules))


class Upgradable(asyncio.Protocol):
    def __init__(self):
        loop = asyncio.get_running_loop()
        self.got = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, t):
        self.t = t

    def data_received(self, data):
        if not self.got.done():
            self.got.set_result(data)

    def connection_lost(self, exc):
        self.lost.set_result(exc)


def case_tls_start(loop_name, chk):
    """Two plain TCP transports upgraded with start_tls on both sides: ping, pong, the
    client closes. The TLS transports are upgrade lines over the traced tcp ones."""
    ids = {}

    async def main(rec):
        srv_ctx, cli_ctx = tls_contexts()
        made = []
        srv = await rec.create_server(lambda: made.append(Upgradable()) or made[-1],
                                      "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        tc, pc = await rec.create_connection(Upgradable, "127.0.0.1", port)
        while not made or not hasattr(made[0], "t"):
            await asyncio.sleep(0)
        ps = made[0]
        ids["tcp_c"], ids["tcp_s"] = tc._aiotp_p._tid, ps.t._aiotp_p._tid
        tls_c, tls_s = await asyncio.gather(
            rec.start_tls(tc, pc, cli_ctx, server_hostname="localhost"),
            rec.start_tls(ps.t, ps, srv_ctx, server_side=True))
        ids["tls_c"], ids["tls_s"] = tls_c._aiotp_p._tid, tls_s._aiotp_p._tid
        pc.t, ps.t = tls_c, tls_s
        tls_c.write(b"ping")
        tls_s.write(b"pong:" + await ps.got)
        if await pc.got != b"pong:ping":
            fail("start_tls echo: %r" % pc.got.result())
        tls_c.close()
        for f in (pc.lost, ps.lost):
            if await f is not None:
                fail("connection_lost(%r)" % f.result())
        srv.close()
        await srv.wait_closed()
    path = record(loop_name, main)
    check_tls_profiles(chk, path, loop_name)
    by = per_transport(path)
    c, s = "t%d" % ids["tls_c"], "t%d" % ids["tls_s"]
    if (ids["tls_c"], ids["tls_s"]) != (3, 4):
        fail("the TLS transports are not t3 (client) and t4: %r" % ids)
    ping, pong = ("%08x" % aiotp_trace.crc32(x) for x in (b"ping", b"pong:ping"))
    want_c = [
        c + " open tls", c + " limits low=131072 high=524288",
        c + " upgrade t%d" % ids["tcp_c"], c + " handshake status=0",
        c + " call write n=4", c + " ret write 0 size=0 total=4 sum=" + ping,
        c + " cb data_received n=9 total=9 sum=" + pong, c + " ret data_received 0",
        c + " call close", c + " ret close 0 size=0",
        c + " cb eof_received", c + " ret eof_received 0",  # DEV-76
        c + " cb connection_lost status=0", c + " ret connection_lost 0"]
    want_s = [
        s + " open tls", s + " limits low=131072 high=524288",
        s + " upgrade t%d" % ids["tcp_s"], s + " peer " + c, s + " handshake status=0",
        s + " cb data_received n=4 total=4 sum=" + ping, s + " ret data_received 0",
        s + " call write n=9", s + " ret write 0 size=0 total=9 sum=" + pong,
        s + " cb eof_received", s + " ret eof_received 0",
        s + " cb connection_lost status=0", s + " ret connection_lost 0"]
    for tid, want in ((c, want_c), (s, want_s)):
        if by.get(tid) != want:
            os.system("cat %s" % path)
            fail("%s lines:\n  have %r\n  want %r" % (tid, by.get(tid), want))
    for tid in ("t1", "t2"):  # the plain transports: connection_made only, then the layer's
        if [x.split(" ", 1)[1] for x in by[tid] if " cb " in x or " call " in x] != \
                ["cb connection_made"]:
            fail("%s after the upgrade: %r" % (tid, by[tid]))


CASES = {"demo": case_demo, "datagram": case_datagram,
         "subprocess_flow": case_subprocess_flow, "buffered": case_buffered, "passthrough": case_passthrough,
         "exc": case_exc, "big": case_big, "pipes": case_pipes,
         "subprocess": case_subprocess,
         "tls_echo": case_tls_echo, "tls_start": case_tls_start,
         "tls_bad_cert": case_tls_bad_cert, "tls_buffered": case_tls_buffered}

if __name__ == "__main__":
    loop_name, case, chk_path = sys.argv[1:4]
    WORKDIR = sys.argv[4] if len(sys.argv) > 4 else tempfile.mkdtemp(prefix="kit-rec-tls-")
    if loop_name == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            fail("uvloop is not installed for %s (scripts/setup.sh installs python3-uvloop)" % sys.executable)
    CASES[case](loop_name, checker_mod.Checker(chk_path))
    print("ok %s %s" % (loop_name, case))
