#!/usr/bin/env python3
"""Run a scenario (docs/scenario-format.md) on an asyncio event loop and write its trace.

    pydriver.py --loop asyncio|uvloop --scenario NAME --out TRACE [SCENARIO_DIR]

The subject transport is made through the loop's public API and recorded by
tools/aiotp_trace.py; the peer is a plain socket (or pipe end) that the driver plays
between loop passes. One loop pass is ``loop.call_soon(loop.stop); loop.run_forever()``.
The driver's own actions appear in the trace as ``# kit ...`` comment lines."""
import argparse
import asyncio
import errno
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import aiotp_trace  # noqa: E402
import scenario  # noqa: E402

PATTERN = bytes(i % 251 for i in range(1 << 20))
CHILDREN = {
    "cat": [sys.executable, "-c", "import sys\nfor l in sys.stdin: sys.stdout.write(l); sys.stdout.flush()"],
    "hello": [sys.executable, "-c", "import sys; sys.stdout.write('hello'); sys.stdout.flush()"],
    "stderr": [sys.executable, "-c", "import sys; sys.stderr.write('oops'); sys.stderr.flush()"],
    "exit7": [sys.executable, "-c", "import sys; sys.exit(7)"],
    "sleep": [sys.executable, "-c", "import time; time.sleep(30)"],
}


def relative(word, tr):
    """A limit: a number, or @size[+-N] (the write-buffer size now, plus or minus N)."""
    if word.startswith("@size"):
        base = tr._aiotp_t.get_write_buffer_size()
        return base + int(word[5:] or 0)
    return int(word)


class Fail(Exception):
    """What a scripted callback raises for 'fail'."""


def payload(n, state=[0]):
    out = bytearray()
    while len(out) < n:
        off = state[0] % len(PATTERN)
        take = min(n - len(out), len(PATTERN) - off)
        out += PATTERN[off:off + take]
        state[0] += take
    return bytes(out)


class Peer:
    """The other end, played by the driver."""

    def __init__(self, drv, kind, obj=None, out_fd=None):
        self.drv = drv
        self.kind = kind          # stream, dgram, pipe-writer (we write), pipe-reader
        self.sock = obj
        self.out = bytearray()
        self.total = 0
        self.autoread = drv.scn.setup[1].get("autoread", "on") == "on"
        self.eof = False
        self.addr = None

    def log(self, text):
        self.drv.rec.comment("kit peer " + text)

    def fileno(self):
        return self.sock.fileno() if hasattr(self.sock, "fileno") else self.sock

    def pump(self):
        if self.sock is None:
            return
        if self.out and self.kind in ("stream", "pipe-writer"):
            self.flush_out()
        if self.autoread:
            self.read()

    def flush_out(self):
        """Send what is queued, as much as the socket (or pipe) takes now."""
        try:
            if self.kind == "pipe-writer":
                n = os.write(self.sock, self.out)
            else:
                n = self.sock.send(self.out)
            del self.out[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            self.log("send-error %s" % errno.errorcode.get(e.errno, "E?"))
            self.out.clear()

    def read(self, limit=None):
        if self.sock is None or self.eof or self.kind == "pipe-writer":
            return
        got = 0
        while limit is None or got < limit:
            try:
                if self.kind == "dgram":
                    data, _ = self.sock.recvfrom(1 << 17)
                    self.log("dgram n=%d" % len(data))
                    got += 1
                    continue
                if self.kind == "pipe-reader":
                    data = os.read(self.sock, 1 << 18)
                else:
                    data = self.sock.recv(1 << 18 if limit is None else min(1 << 18, limit - got))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno == errno.ECONNRESET:
                    self.log("reset")
                else:
                    self.log("recv-error %s" % errno.errorcode.get(e.errno, "E?"))
                self.eof = True
                return
            if not data:
                self.log("eof")
                self.eof = True
                return
            got += len(data)
            self.total += len(data)
            self.log("recv n=%d total=%d" % (len(data), self.total))

    def act(self, w):
        op = w[0]
        if op == "send":
            n = int(w[1])
            self.out += payload(n)
            self.log("send n=%d" % n)
            self.pump_out_only()
        elif op == "sendto":
            n = int(w[1])
            self.sock.sendto(payload(n), self.drv.subject_addr)
            self.log("sendto n=%d" % n)
        elif op == "shut":
            self.flush_blocking()
            self.sock.shutdown(socket.SHUT_WR)
            self.log("shut")
        elif op == "close":
            if self.kind in ("stream", "dgram", "tls"):
                self.flush_blocking()
                self.sock.close()
            else:
                os.close(self.sock)
            self.sock = None
            self.log("close")
        elif op == "reset":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            self.sock.close()
            self.sock = None
            self.log("reset-sent")
        elif op == "read":
            self.read(int(w[1]) if len(w) > 1 and w[1] != "all" else None)
        elif op == "autoread":
            self.autoread = w[1] == "on"
        elif op == "connect":
            self.drv.peer_connect()
        elif op == "connect-more":
            # N more plain clients of the server, connected before the next pass
            for _ in range(int(w[1])):
                c = socket.create_connection(self.drv.subject_addr)
                self.drv.extra_peers.append(c)
                self.drv.cleanup.append(c)
            self.log("connect-more n=%s" % w[1])
        elif op == "check-more":
            # whether the server dropped the clients of connect-more (EOF) or not (open)
            for c in self.drv.extra_peers:
                try:
                    c.setblocking(False)
                    got = c.recv(1)
                    self.log("more-eof" if not got else "more-data")
                except (BlockingIOError, InterruptedError):
                    self.log("more-open")
                except OSError as e:
                    self.log("more-error %s" % errno.errorcode.get(e.errno, "E?"))
        elif op == "close-more":
            for c in self.drv.extra_peers:
                c.close()
            self.drv.extra_peers = []
            self.log("close-more")
        elif op == "probe":
            # a new connection attempt to the server's address
            try:
                c = socket.create_connection(self.drv.subject_addr, timeout=5)
                c.close()
                self.log("probe connected")
            except ConnectionRefusedError:
                self.log("probe refused")
        else:
            raise scenario.ScenarioError("unknown peer action %r" % op)

    def pump_out_only(self):
        ar = self.autoread
        self.autoread = False
        self.pump()
        self.autoread = ar

    def flush_blocking(self):
        deadline = time.monotonic() + 10
        while self.out and time.monotonic() < deadline:
            self.drv.one_pass()


def connected_pair(unix):
    """(subject end, peer end): an AF_UNIX socketpair, or a loopback TCP connection."""
    if unix:
        return socket.socketpair()
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    a = socket.create_connection(ls.getsockname())
    b, _ = ls.accept()
    ls.close()
    return a, b


def tls_files(workdir):
    """A self-signed certificate for localhost and its key, made now with the openssl
    command line in workdir (nothing is committed): (certfile, keyfile)."""
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class TlsPeer(Peer):
    """The TLS server at the other end of a tls-client subject: an ssl.SSLObject over
    memory BIOs, pumped between passes over the non-blocking socket. handshake=off: it
    never answers the ClientHello (what arrives is read and written as ``peer raw``).
    Plaintext it receives is ``peer recv n= total=``; a close_notify it receives is
    ``peer close_notify total=T`` (T: plaintext received before it), answered with its
    own close_notify (after ``peer close_notify`` the subject's answer is that line); a TCP EOF is ``peer eof``. autoread=off stops reading only once
    the handshake is done."""

    def __init__(self, drv, sock, ctx, handshake):
        Peer.__init__(self, drv, "tls", sock)
        self.inc = ssl.MemoryBIO()
        self.outg = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.outg, server_side=True)
        self.handshake = handshake
        self.hs_done = False
        self.plain = bytearray()
        self.closed_tls = False
        self.sent_cn = False       # our close_notify went out
        self.got_cn = False        # the subject's close_notify came
        self.raw_total = 0

    def _raw_read(self):
        while self.sock is not None and not self.eof:
            try:
                data = self.sock.recv(1 << 18)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.log("reset" if e.errno == errno.ECONNRESET else
                         "recv-error %s" % errno.errorcode.get(e.errno, "E?"))
                self.eof = True
                return
            if not data:
                self.log("eof")
                self.eof = True
                if self.handshake:
                    self.inc.write_eof()
                return
            if not self.handshake:
                self.raw_total += len(data)
                self.log("raw n=%d" % len(data))
            else:
                self.inc.write(data)

    def _tls_step(self, read_plain):
        if not self.handshake:
            return
        if not self.hs_done:
            r = self._try(self.obj.do_handshake)
            if r is True:
                self.hs_done = True
                self.log("handshake ok")
            elif r is not False:
                self.log("handshake-failed %s" % type(r).__name__)
                self.handshake = False
                return
        if not self.hs_done:
            return
        if self.plain and not self.closed_tls:
            self.obj.write(bytes(self.plain))
            self.plain.clear()
        if read_plain and not self.closed_tls:
            self.read_plain(None)
        elif read_plain and self.sent_cn and not self.got_cn:
            self._await_close_notify()

    def read_plain(self, limit):
        got = 0
        while limit is None or got < limit:
            try:
                data = self.obj.read(1 << 18 if limit is None else min(1 << 18, limit - got))
            except ssl.SSLWantReadError:
                return
            except ssl.SSLZeroReturnError:
                data = b""
            except (ssl.SSLError, OSError) as e:
                self.log("tls-error %s" % type(e).__name__)
                self.closed_tls = True
                return
            if not data:
                # the ssl module reads a close_notify as b'' (or SSLZeroReturnError)
                self.got_cn = True
                self.log("close_notify total=%d" % self.total)
                self.closed_tls = True
                self._unwrap()
                return
            got += len(data)
            self.total += len(data)
            self.log("recv n=%d total=%d" % (len(data), self.total))

    def _unwrap(self):
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLError, OSError):
            pass
        self.sent_cn = True
        self.log("close_notify-sent")

    @staticmethod
    def _try(fn):
        """fn() on the SSL object: True when it completed, False when it needs more
        input, or the exception it failed with."""
        try:
            fn()
            return True
        except ssl.SSLWantReadError:
            return False
        except (ssl.SSLError, OSError) as e:
            return e

    def _await_close_notify(self):
        """After our own close_notify: the subject's answer ends the shutdown."""
        r = self._try(self.obj.unwrap)
        if r is False:
            return
        self.got_cn = True
        self.log("close_notify total=%d" % self.total if r is True
                 else "tls-error %s" % type(r).__name__)

    def _raw_write(self):
        pending = self.outg.read()
        if pending:
            self.out += pending
        if self.out and self.sock is not None:
            self.flush_out()

    def pump(self):
        if self.sock is None:
            return
        reading = self.autoread or not self.hs_done
        if reading:
            self._raw_read()
        self._tls_step(self.autoread)
        self._raw_write()

    def act(self, w):
        op = w[0]
        if op == "send":
            n = int(w[1])
            self.plain += payload(n)
            self.log("send n=%d" % n)
            self._tls_step(False)
            self._raw_write()
        elif op == "close_notify":
            self.flush_blocking()
            self.closed_tls = True
            self._unwrap()
            self._raw_write()
        elif op == "read":
            self._raw_read()
            self._tls_step(False)
            self.read_plain(int(w[1]) if len(w) > 1 and w[1] != "all" else None)
            self._raw_write()
        else:
            Peer.act(self, w)

    def flush_blocking(self):
        deadline = time.monotonic() + 10
        while (self.out or self.plain) and time.monotonic() < deadline:
            self.drv.one_pass()


class Driver:
    def __init__(self, scn, loop_name, out):
        self.scn = scn
        self.loop_name = loop_name
        self.out = out
        self.loop = aiotp_trace.new_loop(loop_name)
        asyncio.set_event_loop(self.loop)
        self.rec = aiotp_trace.Recorder(self.loop, out, quiet=True)
        self.counts = {}
        self.subject = None        # the TransportProxy
        self.proto = None
        self.made = False
        self.lost = False
        self.peer = None
        self.listener = None
        self.server = None
        self.subject_addr = None
        self.cleanup = []
        self.exited = False
        self.sendfile_done = False
        self.subject_proto = None
        self.extra = []             # server: the accepted transports after the subject
        self.extra_lost = 0
        self.extra_peers = []       # server: the plain clients of peer connect-more
        self.start_task = None      # tls-client: the pending create_connection
        self.start_done = False
        self.workdir = None

    # ---- loop passes ---------------------------------------------------------------------
    def one_pass(self):
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.check_start()
        if self.peer is not None:
            self.peer.pump()

    def check_start(self):
        """tls-client: once the creation call ends, a failure is ``kit start-failed ST``."""
        t = self.start_task
        if t is None or self.start_done or not t.done():
            return
        self.start_done = True
        if t.cancelled():
            self.rec.comment("kit start-failed ECANCELED")
            return
        e = t.exception()
        if e is not None:
            st = aiotp_trace.status_of(e)
            if st == "E?":
                st = next((n for c, n in ((ConnectionResetError, "ECONNRESET"),
                                          (ConnectionAbortedError, "ECONNABORTED"),
                                          (TimeoutError, "ETIMEDOUT")) if isinstance(e, c)), st)
            self.rec.comment("kit start-failed %s" % st)
            self.rec.comment("kit raised %s %s" % (type(e).__name__, str(e)[:120].replace("\n", " ")))

    def cond(self, w):
        c = w[0]
        if c == "made":
            return self.made
        if c == "start-done":
            return self.start_task is None or self.start_done
        if c == "lost":
            return self.lost
        if c == "made-or-failed":
            return self.made or self.start_done
        if c == "exited":
            return self.exited
        if c == "sendfile-done":
            return self.sendfile_done
        if c == "cb":
            name, k = (w[1].split("#") + ["1"])[:2]
            return self.counts.get(("t1", name), 0) >= int(k)
        if c == "received":
            return self.proto_total() >= int(w[1])
        if c == "peer-raw":
            return self.peer is not None and getattr(self.peer, "raw_total", 0) > 0
        if c == "peer-eof":
            return self.peer is not None and self.peer.eof
        if c == "peer-received":
            return self.peer is not None and self.peer.total >= int(w[1])
        raise scenario.ScenarioError("unknown condition %r" % c)

    def proto_total(self):
        return self.rx_total

    def run_until(self, w):
        maxp = 20000
        rest = []
        for x in w:
            if x.startswith("max="):
                maxp = int(x[4:])
            else:
                rest.append(x)
        deadline = time.monotonic() + 10
        n = 0
        while not self.cond(rest):
            if n >= maxp or time.monotonic() > deadline:
                self.rec.comment("kit timeout run until %s" % " ".join(rest))
                return
            self.one_pass()
            n += 1

    # ---- setup -----------------------------------------------------------------------------
    def start(self, nowait=False):
        typ, opts = self.scn.setup
        factory = self.make_protocol
        loop = self.loop

        async def made(coro):
            tr, pr = await coro
            return tr
        if typ in ("unix", "tcp"):
            a = self.pair_subject
            self.rec.comment("kit start %s" % typ)
            loop.run_until_complete(made(self.rec.connect_accepted_socket(factory, a)))
        elif typ == "tls-client":
            kw = dict(sock=self.pair_subject, ssl=self.cli_ctx, server_hostname="localhost")
            if "timeout" in opts:
                kw["ssl_handshake_timeout"] = float(opts["timeout"])
            self.rec.comment("kit start tls-client")
            self.start_task = loop.create_task(self.rec.create_connection(factory, **kw))
            if nowait:
                self.one_pass()
                return
            self.run_until(["made-or-failed", "max=2000"])
            return
        elif typ == "connect":
            ls = socket.socket()
            ls.bind(("127.0.0.1", 0))
            ls.listen(1)
            self.cleanup.append(ls)
            self.rec.comment("kit start connect")
            loop.run_until_complete(made(self.rec.create_connection(
                factory, "127.0.0.1", ls.getsockname()[1])))
            b, _ = ls.accept()
            b.setblocking(False)
            self.peer = Peer(self, "stream", b)
            self.cleanup.append(b)
        elif typ == "server":
            self.rec.comment("kit start server")
            self.server = loop.run_until_complete(self.rec.create_server(factory, "127.0.0.1", 0))
            self.subject_addr = self.server.sockets[0].getsockname()
            self.peer_connect()
        elif typ in ("udp", "udp-unconnected"):
            ps = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            ps.bind(("127.0.0.1", 0))
            ps.setblocking(False)
            self.peer = Peer(self, "dgram", ps)
            self.cleanup.append(ps)
            self.rec.comment("kit start %s" % typ)
            if typ == "udp":
                tr = loop.run_until_complete(made(self.rec.create_datagram_endpoint(
                    factory, remote_addr=ps.getsockname())))
            else:
                tr = loop.run_until_complete(made(self.rec.create_datagram_endpoint(
                    factory, local_addr=("127.0.0.1", 0))))
            self.subject_addr = tr.get_extra_info("sockname")
            self.peer.addr = ps.getsockname()
        elif typ == "read-pipe":
            r, w = os.pipe()
            os.set_blocking(w, False)
            self.peer = Peer(self, "pipe-writer", w)
            self.rec.comment("kit start read-pipe")
            loop.run_until_complete(made(self.rec.connect_read_pipe(factory, os.fdopen(r, "rb", 0))))
        elif typ == "write-pipe":
            r, w = os.pipe()
            os.set_blocking(r, False)
            self.peer = Peer(self, "pipe-reader", r)
            self.rec.comment("kit start write-pipe")
            loop.run_until_complete(made(self.rec.connect_write_pipe(factory, os.fdopen(w, "wb", 0))))
        elif typ in ("exec", "shell"):
            cmd = CHILDREN[opts.get("child", "hello")]
            self.rec.comment("kit start %s %s" % (typ, opts.get("child", "hello")))
            self.child = opts.get("child")
            p = subprocess.PIPE
            kw = dict(stdin=p, stdout=p,
                      stderr=subprocess.STDOUT if opts.get("stderr") == "stdout" else p)
            if opts.get("invalid") == "on":
                kw["bufsize"] = 1  # refused: asyncio's subprocess pipes are unbuffered
            if typ == "exec":
                coro = self.rec.subprocess_exec(factory, *cmd, **kw)
            else:  # the same command through the shell, as the C driver: PYTHON -c 'CODE'
                coro = self.rec.subprocess_shell(factory, "%s -c %s" % (cmd[0], shlex.quote(cmd[2])), **kw)
            try:
                loop.run_until_complete(made(coro))
            except ValueError as e:
                self.rec.comment("kit start-failed %s" % aiotp_trace.status_of(e))
                self.rec.comment("kit raised %s %s" % (type(e).__name__, str(e)[:120]))
                return
        else:
            raise scenario.ScenarioError("unknown setup %r" % typ)
        self.run_until(["made", "max=2000"])

    def prepare(self):
        """unix and tcp: the connected pair exists before start (the peer may act first)."""
        typ, opts = self.scn.setup
        if typ == "tls-client":
            self.workdir = tempfile.mkdtemp(prefix="kit-tls-")
            cert, key = tls_files(self.workdir)
            srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            srv.load_cert_chain(cert, key)
            self.cli_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.cli_ctx.load_verify_locations(cert)
            a, b = connected_pair(opts.get("over") == "unix")
            self._bufs(a, b, opts)
            b.setblocking(False)
            self.peer = TlsPeer(self, b, srv, opts.get("handshake", "on") == "on")
            self.cleanup.append(b)
            self.pair_subject = a
            return
        if typ not in ("unix", "tcp"):
            return
        a, b = connected_pair(typ == "unix")
        self._bufs(a, b, opts)
        b.setblocking(False)
        self.peer = Peer(self, "stream", b)
        self.cleanup.append(b)
        self.pair_subject = a

    def _bufs(self, a, b, opts):
        if "sndbuf" in opts:
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, int(opts["sndbuf"]))
        if "rcvbuf" in opts:
            b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(opts["rcvbuf"]))

    def peer_connect(self):
        c = socket.create_connection(self.subject_addr)
        c.setblocking(False)
        self.peer = Peer(self, "stream", c)
        self.cleanup.append(c)
        self.rec.comment("kit peer connect")

    # ---- the scripted protocol ---------------------------------------------------------------
    def make_protocol(self, kind=None):
        kind = kind or self.scn.setup[1].get("proto")
        if kind is None:
            kind = {"stream": "streaming", "datagram": "datagram",
                    "pipe": "streaming", "subprocess": "subprocess"}.get(self.scn.kind, "streaming")
        cls = {"streaming": ScriptProtocol, "buffered": ScriptBuffered,
               "datagram": ScriptDatagram, "subprocess": ScriptSubprocess}[kind]
        p = cls(self)
        p.bufsize = int(self.scn.setup[1].get("bufsize", 65536))
        return p

    rx_total = 0

    def callback(self, proto, name, args=()):
        key = ("t1", name)
        k = self.counts.get(key, 0) + 1
        self.counts[key] = k
        result = {"ret": None, "buffer": None, "fail": False}
        for tid, cb, kk, acts in self.scn.reactions:
            if cb == name and (kk is None or kk == k):
                for a in acts:
                    self.action(a, result)
        if result["fail"]:
            raise Fail("scenario: %s fails" % name)
        return result

    def action(self, w, result=None):
        tr = self.subject
        op = w[0]
        try:
            if op == "write":
                tr.write(payload(int(w[1])))
            elif op == "write-bad":
                tr.write("not bytes")
            elif op == "writelines":
                tr.writelines([payload(int(x)) for x in w[1].split(",")])
            elif op in ("write_eof", "close", "abort", "pause_reading", "resume_reading"):
                getattr(tr, op)()
            elif op == "limits":
                h = None if w[1] == "-" else relative(w[1], tr)
                lo = None if len(w) < 3 or w[2] == "-" else int(w[2])
                tr.set_write_buffer_limits(high=h, low=lo)
            elif op == "set_protocol":
                p = self.make_protocol(w[1])
                for x in w[2:]:
                    if x.startswith("bufsize="):
                        p.bufsize = int(x[8:])
                tr.set_protocol(p)
            elif op == "query":
                getattr(tr, w[1])()
            elif op == "extra":
                v = tr.get_extra_info(w[1], "DEFAULT")
                if w[1] in ("peername", "sockname") and v not in (None, "DEFAULT"):
                    v = "addr"
                elif w[1] == "socket" and v not in (None, "DEFAULT"):
                    v = "socket"
                elif w[1] == "pipe" and v not in (None, "DEFAULT"):
                    v = "pipe"
                self.rec.comment("kit extra %s=%s" % (w[1], "None" if v is None else v))
            elif op == "get_protocol":
                self.rec.comment("kit get_protocol %s" % ("same" if tr.get_protocol() is self.proto_current else "other"))
            elif op == "fail":
                result["fail"] = True
            elif op == "return":
                result["ret"] = w[1] == "true"
            elif op == "buffer":
                result["buffer"] = int(w[1])
            elif op == "soon":
                self.loop.call_soon(self.action, w[1:])
            elif op == "sendto":
                data = payload(int(w[1]))
                addr = "peer"
                for x in w[2:]:
                    if x.startswith("addr="):
                        addr = x[5:]
                if addr == "none":
                    tr.sendto(data)
                elif addr == "other":
                    tr.sendto(data, ("127.0.0.1", 9))
                else:
                    tr.sendto(data, self.peer.addr)
            elif op == "peer":
                self.peer.act(w[1:])
            elif op in ("kill", "terminate"):
                getattr(tr, op)()
                self.rec.comment("kit %s" % op)
            elif op == "returncode":
                self.rec.comment("kit returncode %s" % tr.get_returncode())
            elif op == "pipe":
                pt = tr.get_pipe_transport(int(w[1]))
                if len(w) > 2 and w[2] == "close" and pt is not None:
                    pt.close()
                elif len(w) > 2 and w[2] == "write" and pt is not None:
                    pt.write(b"line\n")
                self.rec.comment("kit pipe %s %s" % (w[1], "None" if pt is None else "transport"))
            elif op == "sendfile":
                self.do_sendfile(int(w[1]), fallback="fallback=off" not in w[2:])
            elif op == "fdlimit":
                self.fdlimit(w[1])
            elif op == "server-close":
                self.server.close()
                self.rec.comment("kit server-close")
            elif op == "is_serving":
                self.rec.comment("kit is_serving %d" % self.server.is_serving())
            elif op == "cancel-start":
                self.start_task.cancel()
                self.rec.comment("kit cancel-start")
            else:
                raise scenario.ScenarioError("unknown action %r" % op)
        except scenario.ScenarioError:
            raise
        except Exception as e:
            self.rec.comment("kit raised %s %s" % (type(e).__name__, str(e)[:120].replace("\n", " ")))

    def fdlimit(self, how):
        """tight: lower RLIMIT_NOFILE's soft limit so that exactly one descriptor number is
        free below it during a pass (a client the peer connects takes it; the server's accept() then
        fails with EMFILE); restore: the limit as it was."""
        import resource
        if how == "restore":
            resource.setrlimit(resource.RLIMIT_NOFILE, self.saved_limit)
            self.rec.comment("kit fdlimit restore")
            return
        self.saved_limit = resource.getrlimit(resource.RLIMIT_NOFILE)
        # uvloop makes a socketpair (its signal wake-up) each time run_forever starts and
        # closes it when it stops: one pass of this driver holds two more descriptors
        free = 3 if self.loop_name == "uvloop" else 1
        used = 0
        lim = 0
        while lim - used != free:
            try:
                os.fstat(lim)
                used += 1
            except OSError:
                pass
            lim += 1
        resource.setrlimit(resource.RLIMIT_NOFILE, (lim, self.saved_limit[1]))
        self.rec.comment("kit fdlimit tight")

    def do_sendfile(self, n, fallback=True):
        """loop.sendfile of an n-byte file (a task). Its end: ``kit sendfile sent=S tell=T``,
        or ``kit sendfile-failed CLASS``, ``kit sendfile-tell T`` (CLASS: ConnectionError for any of its
        subclasses, else the exception's class) and ``kit raised CLASS MESSAGE``."""
        f = tempfile.TemporaryFile()
        f.write(payload(n))
        f.flush()
        f.seek(0)
        self.cleanup.append(f)
        real = self.subject._aiotp_t
        self.sendfile_done = False

        async def go():
            try:
                sent = await self.loop.sendfile(real, f, fallback=fallback)
                self.rec.comment("kit sendfile sent=%d tell=%d" % (sent, f.tell()))
            except Exception as e:
                cls = "ConnectionError" if isinstance(e, ConnectionError) else type(e).__name__
                self.rec.comment("kit sendfile-failed %s" % cls)
                self.rec.comment("kit sendfile-tell %d" % f.tell())
                self.rec.comment("kit raised %s %s" % (type(e).__name__, str(e)[:120]))
            self.sendfile_done = True
        self.loop.create_task(go())

    # ---- run ---------------------------------------------------------------------------
    def run(self):
        try:
            self.prepare()
            for lineno, w in self.scn.steps:
                self.step(w)
            self.rec.comment("kit end")
        finally:
            self.finish()

    def step(self, w):
        if w[0] == "start":
            self.start(nowait=len(w) > 1 and w[1] == "nowait")
        elif w[0] == "run":
            if w[1] == "until":
                self.run_until(w[2:])
            else:
                for _ in range(int(w[1])):
                    self.one_pass()
        elif w[0] == "peer":
            self.peer.act(w[1:])
        elif w[0] == "pause":
            # wall time passes, the loop does not run (its timers come due)
            time.sleep(float(w[1]))
            self.rec.comment("kit pause %s" % w[1])
        elif w[0] == "call":
            self.rec.comment("kit call %s" % " ".join(w[1:]))
            self.action(w[1:], {"ret": None, "buffer": None, "fail": False})
        else:
            raise scenario.ScenarioError("unknown step %r" % w[0])

    def finish(self):
        try:
            if self.start_task is not None and not self.start_task.done():
                self.start_task.cancel()
                self.run_until(["start-done", "max=200"])
            if self.subject is not None and not self.lost:
                # leave nothing open: the checker requires connection_lost
                real = self.subject._aiotp_t
                if self.peer is not None:
                    self.peer.autoread = True
                if not real.is_closing():
                    self.rec.comment("kit cleanup close")
                    self.subject.close()
                self.run_until(["lost", "max=2000"])
            for tr in self.extra:
                if not tr.is_closing():
                    tr.close()
            if self.extra:
                deadline = time.monotonic() + 10
                while self.extra_lost < len(self.extra) and time.monotonic() < deadline:
                    self.one_pass()
            if self.server is not None:
                self.server.close()
                self.loop.run_until_complete(self.server.wait_closed())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.rec.close()
            for c in self.cleanup:
                try:
                    c.close()
                except Exception:
                    pass
            if self.peer is not None and isinstance(self.peer.sock, int):
                try:
                    os.close(self.peer.sock)
                except OSError:
                    pass
            self.loop.close()
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)


class _Script:
    def __init__(self, drv):
        self.drv = drv
        self.bufsize = 65536
        self.buf = None

    def connection_made(self, transport):
        if self.drv.server is not None and self.drv.subject_proto is not None:
            # a server's further connections (t2, t3, ...): not the subject
            self.drv.extra.append(transport)
            self.extra = True
            self.drv.callback(self, "connection_made")
            return
        self.drv.subject = transport
        self.drv.subject_proto = self
        self.drv.made = True
        self.drv.proto_current = self
        self.drv.callback(self, "connection_made")

    def connection_lost(self, exc):
        self.lost = True
        if getattr(self, "extra", False):
            self.drv.extra_lost += 1
        else:
            self.drv.lost = True
        self.drv.callback(self, "connection_lost")

    def pause_writing(self):
        self.drv.callback(self, "pause_writing")

    def resume_writing(self):
        self.drv.callback(self, "resume_writing")

    def eof_received(self):
        r = self.drv.callback(self, "eof_received")
        return r["ret"]


class ScriptProtocol(_Script, asyncio.Protocol):
    def data_received(self, data):
        self.drv.rx_total += len(data)
        self.drv.callback(self, "data_received")


class ScriptBuffered(_Script, asyncio.BufferedProtocol):
    def get_buffer(self, sizehint):
        r = self.drv.callback(self, "get_buffer")
        n = self.bufsize if r["buffer"] is None else r["buffer"]
        self.buf = bytearray(n)
        return self.buf

    def buffer_updated(self, nbytes):
        self.drv.rx_total += nbytes
        self.drv.callback(self, "buffer_updated")


class ScriptDatagram(_Script, asyncio.DatagramProtocol):
    def datagram_received(self, data, addr):
        self.drv.rx_total += len(data)
        self.drv.callback(self, "datagram_received")

    def error_received(self, exc):
        self.drv.callback(self, "error_received")


class ScriptSubprocess(_Script, asyncio.SubprocessProtocol):
    def pipe_data_received(self, fd, data):
        self.drv.rx_total += len(data)
        self.drv.callback(self, "pipe_data_received")

    def pipe_connection_lost(self, fd, exc):
        self.drv.callback(self, "pipe_connection_lost")

    def process_exited(self):
        self.drv.exited = True
        self.drv.callback(self, "process_exited")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("dir", nargs="?", default=os.path.join(HERE, "scenarios"))
    args = ap.parse_args(argv[1:])
    scns = {s.name: s for s in scenario.load_dir(args.dir)}
    scn = scns.get(args.scenario)
    if scn is None:
        print("pydriver: no scenario %s" % args.scenario, file=sys.stderr)
        return 2
    with open(args.out, "w", buffering=1 << 16) as out:
        Driver(scn, args.loop, out).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
