#!/usr/bin/env python3
"""Record an aiotp trace (spec/trace-format.md, version 3) from any asyncio event loop.

Standard library only; public asyncio API only. It runs unchanged on asyncio's own loops
and on uvloop: it never subclasses the loop, never calls a private method and never
reads a private attribute. What it wraps:

* protocol factories: ``Recorder.factory(f)`` returns a factory that calls ``f`` and wraps
  the protocol it returns (``TracedProtocol``, ``TracedBufferedProtocol`` or
  ``TracedDatagramProtocol``: each subclasses the matching asyncio base, so a loop that
  picks its receive path with ``isinstance`` takes the same path as for the real one);
* transports: the traced protocol hands the user's protocol a ``TransportProxy`` that logs
  every call (``call``/``ret`` lines, queries as ``query`` lines), passes attribute writes
  and failing calls through to the real transport and records them as such;
* the loop's exception handler, through ``loop.set_exception_handler`` (``exc`` lines);
  the handler that was installed before (or the default one) is still called;
* loop passes: a callback that reschedules itself with ``loop.call_soon`` writes
  ``iter N`` each time it runs (spec/trace-format.md, "Passes on a foreign loop").

Pipes (``connect_read_pipe``: ``open piperead``, no limits line; ``connect_write_pipe``:
``open pipewrite``) are traced like streams. A subprocess (``subprocess_exec``,
``subprocess_shell``) is ``open subprocess`` with its protocol's callbacks
(``pipe_data_received fd=F n=B total=T sum=X``, ``pipe_connection_lost``,
``process_exited returncode=R``) and its transport's ``close``/``send_signal``/
``terminate``/``kill``; the pipes the loop makes for the child are not traced (no public
API wraps their protocols), and the stdin pipe's flow control, which reaches the
SubprocessProtocol as ``pause_writing``/``resume_writing``, is written as comments.

TLS (``ssl=`` on the creation methods, ``Recorder.start_tls``): only the application layer
is traced, as ``open tls`` (recognised by the ``sslcontext``/``ssl_object`` extra info)
with ``handshake status=0`` before its ``connection_made``; no ``over`` line (the socket
transport below is the loop's and not reachable); a start_tls transport is ``upgrade tM``
over the traced transport it was made from. A creation call that raises (a failed
handshake) leaves a comment in the transport's place.

Lines are streamed to the output as they happen. The one exception: a transport is only
seen when its ``connection_made`` runs (one pass after the factory was called), so the
recorder keeps a place for its ``open``/``limits``/``peer`` lines where the factory was
called and holds the lines that follow until ``connection_made`` fills it in. At most the
lines of one pass are held.

Sums are CRC-32 (``zlib.crc32``), as the format prescribes.

Status names follow aiotp's (``0``, ``E...``); spec/trace-format.md, "Producing a trace
elsewhere", lists the mapping from Python exceptions.

Usage as a library::

    import aiotp_trace
    rec = aiotp_trace.Recorder(loop, out=open("t.trace", "w"))
    transport, protocol = await rec.create_connection(MyProtocol, "127.0.0.1", port)
    ...
    rec.close()

or ``aiotp_trace.run(coro_fn, out, loop_factory)``, where ``coro_fn(rec)`` is a coroutine
function that gets the recorder.

``python3 aiotp_trace.py [--loop asyncio|uvloop] [--out FILE] [--size BYTES] [--check]``
runs a demo (echo server, a streaming client with flow control, a buffered client, a
connected UDP pair) and writes the trace.
"""
import asyncio
import collections
import errno
import socket
import sys
import zlib

__all__ = ["Recorder", "TracedProtocol", "TracedBufferedProtocol", "TracedDatagramProtocol",
           "TransportProxy", "crc32", "status_of", "impl_name", "format_addr", "run",
           "new_loop"]

FORMAT_VERSION = 3

# the kinds whose open line has no limits line after it (spec/trace-format.md)
NO_LIMITS_KINDS = ("piperead", "subprocess")


def crc32(data, crc=0):
    """CRC-32 (IEEE), continued from crc: the format's sum."""
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def impl_name(loop):
    """The header's NAME: ``cpython-X.Y.Z`` for asyncio's loops, ``uvloop-X.Y.Z``."""
    mod = type(loop).__module__ or ""
    if mod.split(".")[0] == "uvloop":
        try:
            import uvloop
            return "uvloop-%s" % uvloop.__version__
        except Exception:  # pragma: no cover
            return "uvloop-unknown"
    name = mod.split(".")[0] or "python"
    if name == "asyncio":
        name = "cpython" if sys.implementation.name == "cpython" else sys.implementation.name
    v = sys.version_info
    return "%s-%d.%d.%d" % (name, v.major, v.minor, v.micro)


def _printable(text, limit=400):
    out = []
    for ch in str(text):
        if ch in "\r\n":
            break
        out.append(ch if " " <= ch <= "~" else "?")
        if len(out) >= limit:
            break
    return "".join(out).rstrip()


def status_of(exc, callback=False):
    """aiotp's name for what an exception means (spec/trace-format.md)."""
    if exc is None:
        return "0"
    if callback:
        return "ECALLBACK"
    tls = _tls_status(exc)
    if tls is not None:
        return tls
    if isinstance(exc, ProcessLookupError) and exc.errno is None:
        return "ESRCH"  # a subprocess transport's signal after the end: no errno given
    if isinstance(exc, OSError) and exc.errno in errno.errorcode:
        name = errno.errorcode[exc.errno]
        return "EAGAIN" if name == "EWOULDBLOCK" else name
    if isinstance(exc, (ValueError, TypeError)):
        return "EINVAL"
    if isinstance(exc, NotImplementedError):
        return "ENOTSUP"
    if isinstance(exc, RuntimeError):
        text = str(exc)
        if "empty buffer" in text:
            return "EEMPTYBUF"
        if "closed" in text or "closing" in text:
            return "ECLOSED"
        return "ESTATE"
    if isinstance(exc, MemoryError):
        return "ENOMEM"
    return "E?"


def _tls_status(exc):
    """aiotp's name for an ssl module error (ETLSCERT, ETLSEOF, ETLS), or None."""
    ssl = sys.modules.get("ssl")
    if ssl is None or not isinstance(exc, ssl.SSLError):
        return None
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "ETLSCERT"
    if isinstance(exc, ssl.SSLEOFError):
        return "ETLSEOF"
    return "ETLS"


def format_addr(addr):
    """``IP:PORT``, ``[IP6]:PORT``, ``unix:PATH`` or ``-`` (no address)."""
    if addr is None or addr == "" or addr == b"":
        return "-"
    if isinstance(addr, (bytes, bytearray)):
        addr = bytes(addr).decode("latin-1")
    if isinstance(addr, str):
        if addr.startswith("\0"):
            addr = "@" + addr[1:]
        return "unix:" + _printable(addr).replace(" ", "?")
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        if len(addr) == 4 or ":" in str(host):
            return "[%s]:%d" % (host, port)
        return "%s:%d" % (host, port)
    return "-"


def _nbytes(data):
    try:
        return memoryview(data).nbytes
    except TypeError:
        try:
            return len(data)
        except TypeError:
            return 0


class _Slot:
    """A place in the output for the lines of a transport not yet seen."""
    __slots__ = ("tid", "lines", "done", "ends", "born", "hint", "kind")

    def __init__(self, tid, born, hint=None):
        self.tid = tid
        self.hint = hint
        self.lines = None
        self.kind = None
        self.done = False
        self.ends = None
        self.born = born


class Recorder:
    """Writes the trace of one loop: header, passes, transports, exception handler."""

    HOLD_PASSES = 64  # a slot not filled after this many passes is dropped

    def __init__(self, loop, out=None, impl=None, chain_handler=True, quiet=False):
        self.loop = loop
        self.out = out if out is not None else sys.stdout
        self.impl = impl or impl_name(loop)
        self.iteration = 0
        self.next_id = 1
        self._queue = collections.deque()  # held items while a slot is open
        self._open_slots = 0
        self._ends = {}  # (sockname, peername) of transports awaiting their pair -> tid
        self._by_transport = {}  # id(real transport) -> traced protocol
        self.raised = collections.deque(maxlen=64)  # exceptions raised by callbacks
        self._closed = False
        self._quiet = quiet
        self._write("aiotp-trace %d impl=%s" % (FORMAT_VERSION, self.impl))
        self._prev_handler = loop.get_exception_handler() if chain_handler else None
        self._chain = chain_handler
        loop.set_exception_handler(self._exception_handler)
        loop.call_soon(self._marker)

    # -- output --------------------------------------------------------------------
    def _write(self, line):
        self.out.write(line + "\n")

    def emit(self, line):
        if self._open_slots:
            self._queue.append(line)
        else:
            self._write(line)

    def comment(self, text):
        """A ``#`` line (ignored by the checker; the kit's drivers use them)."""
        self.emit("# " + _printable(text, 1000))

    def _flush_queue(self):
        q = self._queue
        while q:
            item = q[0]
            if isinstance(item, _Slot):
                if not item.done:
                    return
                q.popleft()
                self._open_slots -= 1
                for line in self._slot_lines(item):
                    self._write(line)
            else:
                self._write(q.popleft())

    def _slot_lines(self, slot):
        lines = list(slot.lines or ())
        if slot.ends is not None:
            # TLS transports pair with TLS transports only (the plaintext of one is what
            # the other receives), stream transports with stream transports
            sock, peer = slot.ends
            cls = "tls" if slot.kind == "tls" else "stream"
            other = self._ends.pop((cls, peer, sock), None)
            if other is not None:
                lines.append("t%d peer t%d" % (slot.tid, other))
            else:
                self._ends[(cls, sock, peer)] = slot.tid
        return lines

    def close(self):
        """Fill what is still open and flush (the trace is complete afterwards)."""
        if self._closed:
            return
        for item in self._queue:
            if isinstance(item, _Slot) and not item.done:
                item.done = True
                item.lines = ["# t%d: factory called, no transport seen" % item.tid]
        self._flush_queue()
        self._closed = True
        try:
            self.out.flush()
        except Exception:
            pass

    # -- passes --------------------------------------------------------------------
    def _marker(self):
        if self._closed or self.loop.is_closed():
            return
        self.iteration += 1
        self.emit("iter %d" % self.iteration)
        if self._open_slots:
            for item in self._queue:
                if isinstance(item, _Slot) and not item.done and \
                        self.iteration - item.born > self.HOLD_PASSES:
                    item.done = True
                    item.lines = ["# t%d: factory called, no transport seen" % item.tid]
            self._flush_queue()
        self.loop.call_soon(self._marker)

    # -- transports --------------------------------------------------------------------
    def _new_slot(self, hint=None):
        slot = _Slot(self.next_id, self.iteration, hint)
        self.next_id += 1
        self._queue.append(slot)
        self._open_slots += 1
        return slot

    def _fill_slot(self, slot, transport, upgrade=None):
        """The open/limits (upgrade, peer) lines of the transport a slot was kept for;
        returns its kind. upgrade: the id of the stream transport start_tls upgraded."""
        kind, ends = describe_transport(transport, slot.hint)
        slot.kind = kind
        slot.lines = ["t%d open %s" % (slot.tid, kind)]
        if kind not in NO_LIMITS_KINDS:
            # a read pipe has no write buffer, a subprocess transport no write methods:
            # format 3 gives them no limits line
            try:
                low, high = transport.get_write_buffer_limits()
                limits = "t%d limits low=%d high=%d" % (slot.tid, low, high)
            except Exception:
                limits = "t%d limits low=0 high=0" % slot.tid
            slot.lines.append(limits)
        if upgrade is not None:
            slot.lines.append("t%d upgrade t%d" % (slot.tid, upgrade))
        slot.ends = ends
        slot.done = True
        self._flush_queue()
        return kind

    def _no_transport(self, slots, what, exc):
        """Slots kept for a creation call that failed: a comment each (no transport)."""
        for slot in slots:
            if not slot.done:
                slot.done = True
                slot.lines = ["# t%d: no transport: %s raised %s (%s)"
                              % (slot.tid, what, status_of(exc), type(exc).__name__)]
        self._flush_queue()

    def wrap(self, protocol, kind=None):
        """Wrap one protocol instance (a new transport id is reserved here). kind names
        the transport kind when the transport has no socket (pipes, subprocesses)."""
        if isinstance(protocol, _TracedBase):
            return protocol
        cls = wrapper_class(protocol)
        return cls(protocol, self, self._new_slot(kind))

    def factory(self, protocol_factory, kind=None, made=None):
        """A protocol factory that wraps what protocol_factory returns (made: a list the
        wrappers are appended to)."""
        def traced_factory(*args, **kwargs):
            p = self.wrap(protocol_factory(*args, **kwargs), kind)
            if made is not None:
                made.append(p)
            return p
        return traced_factory

    def traced(self, transport):
        """The proxy for a real transport (or the argument if it is not traced)."""
        p = self._by_transport.get(id(transport))
        return p._proxy if p is not None and p._proxy is not None else transport

    # the loop's creation methods, through its public API, with traced factories
    async def _made(self, coro, made=None, what="create_connection"):
        try:
            transport, protocol = await coro
        except BaseException as exc:
            # e.g. a failed TLS handshake: the factory ran, no transport was made
            self._no_transport([p._slot for p in made or () if p._slot is not None], what,
                               exc)
            raise
        p = self._by_transport.get(id(transport))
        if p is not None:
            return p._proxy, p._inner
        return transport, protocol

    def create_connection(self, protocol_factory, *args, **kwargs):
        made = []
        return self._made(self.loop.create_connection(
            self.factory(protocol_factory, made=made), *args, **kwargs), made)

    def create_unix_connection(self, protocol_factory, *args, **kwargs):
        made = []
        return self._made(self.loop.create_unix_connection(
            self.factory(protocol_factory, made=made), *args, **kwargs), made,
            "create_unix_connection")

    def connect_accepted_socket(self, protocol_factory, sock, **kwargs):
        made = []
        return self._made(self.loop.connect_accepted_socket(
            self.factory(protocol_factory, made=made), sock, **kwargs), made,
            "connect_accepted_socket")

    async def start_tls(self, transport, protocol, sslcontext, **kwargs):
        """loop.start_tls on a traced (or untraced) transport: returns the traced TLS
        transport. transport may be the proxy the protocol got; protocol the user's
        protocol (it is wrapped again, for the TLS transport: a new id). The TLS
        transport is ``tN open tls`` / ``limits`` / ``tN upgrade tM`` (tM the traced
        transport below) in the place of this call, and ``tN handshake status=0`` before
        its first callback or when start_tls returns, whichever comes first. The loop gets
        the real transport (uvloop refuses anything else), so the stream transport's
        protocol is the loop's TLS layer from then on and tM shows nothing more."""
        real = transport._aiotp_t if isinstance(transport, TransportProxy) else transport
        lower = self._by_transport.get(id(real))
        inner = protocol._inner if isinstance(protocol, _TracedBase) else protocol
        if inner is not None and lower is not None and inner is lower:
            inner = lower._inner
        slot = self._new_slot("tls")
        wrapper = wrapper_class(inner)(inner, self, slot)
        wrapper._hs_pending = True
        try:
            tls = await self.loop.start_tls(real, wrapper, sslcontext, **kwargs)
        except BaseException as exc:
            self._no_transport([slot], "start_tls", exc)
            raise
        wrapper._proxy = TransportProxy(tls, wrapper)
        self._by_transport[id(tls)] = wrapper
        upgrade = lower._tid if lower is not None and not lower._slot_only else None
        self._fill_slot(slot, tls, upgrade=upgrade)
        wrapper._handshake_line()
        return wrapper._proxy

    def create_datagram_endpoint(self, protocol_factory, *args, **kwargs):
        return self._made(self.loop.create_datagram_endpoint(
            self.factory(protocol_factory), *args, **kwargs))

    def connect_read_pipe(self, protocol_factory, pipe):
        return self._made(self.loop.connect_read_pipe(
            self.factory(protocol_factory, "piperead"), pipe))

    def connect_write_pipe(self, protocol_factory, pipe):
        return self._made(self.loop.connect_write_pipe(
            self.factory(protocol_factory, "pipewrite"), pipe))

    def subprocess_exec(self, protocol_factory, *args, **kwargs):
        """loop.subprocess_exec with a traced SubprocessProtocol. Only the subprocess
        transport is traced (``open subprocess``): the pipes the loop makes for the child
        are connected with the loop's own protocols, whose callbacks no public API shows,
        so no pipe transport and no ``pipe`` line is written for them;
        ``get_pipe_transport(fd)`` returns the real (untraced) pipe transport."""
        return self._made(self.loop.subprocess_exec(
            self.factory(protocol_factory, "subprocess"), *args, **kwargs))

    def subprocess_shell(self, protocol_factory, cmd, **kwargs):
        """loop.subprocess_shell, traced as subprocess_exec."""
        return self._made(self.loop.subprocess_shell(
            self.factory(protocol_factory, "subprocess"), cmd, **kwargs))

    def create_server(self, protocol_factory, *args, **kwargs):
        """loop.create_server (with ssl=: TLS transports, ``open tls`` without an ``over``
        line: the stream transport below is the loop's own, not seen)."""
        return self.loop.create_server(self.factory(protocol_factory), *args, **kwargs)

    def create_unix_server(self, protocol_factory, *args, **kwargs):
        return self.loop.create_unix_server(self.factory(protocol_factory), *args, **kwargs)

    # -- exception handler ---------------------------------------------------------------
    def _exception_handler(self, loop, context):
        exc = context.get("exception")
        status = "0"
        p = None
        if exc is not None:
            raiser = next((q for e, q in self.raised if e is exc), None)
            status = status_of(exc, callback=raiser is not None)
            p = raiser  # a traced callback raised it: its transport is concerned
        who = "loop"
        t = context.get("transport")
        if t is not None and p is None:
            p = self._by_transport.get(id(t))
            if p is None and isinstance(t, TransportProxy):
                p = t._aiotp_p
        if p is None:
            proto = context.get("protocol")
            if isinstance(proto, _TracedBase):
                p = proto
        if p is not None and not p._slot_only:
            who = "t%d" % p._tid
        message = _printable(context.get("message", "")) or "-"
        self.emit("%s exc status=%s %s" % (who, status, message))
        if self._quiet:
            return
        if self._chain and self._prev_handler is not None:
            self._prev_handler(loop, context)
        else:
            loop.default_exception_handler(context)


def describe_transport(transport, hint=None):
    """(KIND, (sockname, peername) or None) from public get_extra_info."""
    if hint is not None and hint != "tls":
        return hint, None
    sock = transport.get_extra_info("socket")
    family = getattr(sock, "family", None)
    stype = getattr(sock, "type", None)
    dgram = stype == socket.SOCK_DGRAM
    if family == socket.AF_INET6:
        kind = "udp6" if dgram else "tcp6"
    elif family == getattr(socket, "AF_UNIX", None):
        kind = "unixdgram" if dgram else "unix"
    elif family == socket.AF_INET:
        kind = "udp" if dgram else "tcp"
    elif transport.get_extra_info("pipe") is not None:
        kind = "pipewrite" if isinstance(transport, asyncio.WriteTransport) else "piperead"
    else:
        kind = "tcp"
    if hint == "tls" or transport.get_extra_info("sslcontext") is not None or \
            transport.get_extra_info("ssl_object") is not None:
        # a TLS transport (documented extra info): its socket is the stream transport's
        kind = "tls"
    ends = None
    if family in (socket.AF_INET, socket.AF_INET6):
        sn = transport.get_extra_info("sockname")
        pn = transport.get_extra_info("peername")
        if sn and pn:
            ends = (tuple(sn[:2]), tuple(pn[:2]))
    return kind, ends


class TransportProxy:
    """The transport as the traced protocol's user sees it: logs what the user calls."""

    def __init__(self, transport, traced):
        object.__setattr__(self, "_aiotp_t", transport)
        object.__setattr__(self, "_aiotp_p", traced)

    # everything not logged goes to the real transport, attribute writes too
    def __getattr__(self, name):
        return getattr(self._aiotp_t, name)

    def __setattr__(self, name, value):
        self._aiotp_p._emit_comment("setattr %s" % _printable(name))
        setattr(self._aiotp_t, name, value)

    def __delattr__(self, name):
        self._aiotp_p._emit_comment("delattr %s" % _printable(name))
        delattr(self._aiotp_t, name)

    def __repr__(self):
        return "<traced t%d %r>" % (self._aiotp_p._tid, self._aiotp_t)

    # -- helpers ----------------------------------------------------------------------
    def _emit(self, text):
        p = self._aiotp_p
        p._rec.emit("t%d %s" % (p._tid, text))

    def _size(self):
        try:
            return int(self._aiotp_t.get_write_buffer_size())
        except Exception:
            return 0

    def _ret(self, name, status):
        self._emit("ret %s %s size=%d" % (name, status, self._size()))

    def _call(self, name, fn, args, status_if_ok="0"):
        try:
            result = fn(*args)
        except BaseException as exc:
            self._ret(name, status_of(exc))
            raise
        self._ret(name, status_if_ok)
        return result

    # -- writes ---------------------------------------------------------------------------
    def _do_write(self, name, chunks, fn, args):
        st = self._aiotp_p._state
        n = sum(_nbytes(c) for c in chunks)
        dropped = n > 0 and st.lost_scheduled and not st.eof_written
        before = (st.tx_total, st.tx_sum)
        if not dropped and not st.eof_written:
            # counted before the real call: a pause_writing inside it may write more,
            # and those bytes follow these on the wire
            for c in chunks:
                try:
                    st.tx_sum = crc32(c, st.tx_sum)
                    st.tx_total += _nbytes(c)
                except TypeError:
                    pass
        try:
            fn(*args)
        except BaseException as exc:
            st.tx_total, st.tx_sum = before
            self._write_ret(name, status_of(exc))
            raise
        if st.eof_written and n >= 0 and not dropped:
            # accepted although write_eof was called (a loop that does not refuse)
            pass
        self._write_ret(name, "ECLOSED" if dropped else "0")

    def _write_ret(self, name, status):
        st = self._aiotp_p._state
        self._emit("ret %s %s size=%d total=%d sum=%08x"
                   % (name, status, self._size(), st.tx_total, st.tx_sum))

    def write(self, data):
        self._emit("call write n=%d" % _nbytes(data))
        self._do_write("write", [data], self._aiotp_t.write, (data,))

    def writelines(self, list_of_data):
        chunks = list(list_of_data)
        self._emit("call writelines count=%d n=%d"
                   % (len(chunks), sum(_nbytes(c) for c in chunks)))
        self._do_write("writelines", chunks, self._aiotp_t.writelines, (chunks,))

    def sendto(self, data, addr=None):
        st = self._aiotp_p._state
        n = _nbytes(data)
        try:
            s = "%08x" % crc32(data)
        except TypeError:
            s = "00000000"
        self._emit("call sendto n=%d addr=%s sum=%s" % (n, format_addr(addr), s))
        dropped = n > 0 and st.lost_scheduled
        try:
            if addr is None:
                self._aiotp_t.sendto(data)
            else:
                self._aiotp_t.sendto(data, addr)
        except BaseException as exc:
            self._ret("sendto", status_of(exc))
            raise
        self._ret("sendto", "ECLOSED" if dropped else "0")

    # -- subprocess transports ----------------------------------------------------------
    def _signal_call(self, name, fn, args, head):
        self._emit("call %s" % head)
        try:
            fn(*args)
        except BaseException as exc:
            self._emit("ret %s %s size=0" % (name, status_of(exc)))
            raise
        self._emit("ret %s 0 size=0" % name)

    def send_signal(self, signal):
        try:
            sig = "%d" % int(signal)
        except (TypeError, ValueError):
            sig = "0"
        self._signal_call("send_signal", self._aiotp_t.send_signal, (signal,),
                          "send_signal sig=%s" % sig)

    def terminate(self):
        self._signal_call("terminate", self._aiotp_t.terminate, (), "terminate")

    def kill(self):
        self._signal_call("kill", self._aiotp_t.kill, (), "kill")

    # -- the other logged methods ----------------------------------------------------------
    def close(self):
        st = self._aiotp_p._state
        self._emit("call close")
        refused = self._aiotp_t.is_closing() or st.lost
        self._call("close", self._aiotp_t.close, (), "ECLOSED" if refused else "0")
        if not refused:
            st.closed = True
            if self._size() == 0:
                st.lost_scheduled = True

    def abort(self):
        st = self._aiotp_p._state
        self._emit("call abort")
        refused = st.lost_scheduled or st.lost
        self._call("abort", self._aiotp_t.abort, (), "ECLOSED" if refused else "0")
        st.lost_scheduled = True

    def write_eof(self):
        st = self._aiotp_p._state
        self._emit("call write_eof")
        self._call("write_eof", self._aiotp_t.write_eof, ())
        st.eof_written = True

    def pause_reading(self):
        self._emit("call pause_reading")
        self._call("pause_reading", self._aiotp_t.pause_reading, ())

    def resume_reading(self):
        self._emit("call resume_reading")
        self._call("resume_reading", self._aiotp_t.resume_reading, ())

    def set_write_buffer_limits(self, high=None, low=None):
        def arg(v):
            if v is None:
                return "NONE"
            try:
                return "%d" % int(v)
            except (TypeError, ValueError):
                return "0"
        self._emit("call set_write_buffer_limits high=%s low=%s" % (arg(high), arg(low)))
        status = "0"
        try:
            self._aiotp_t.set_write_buffer_limits(high, low)
        except BaseException as exc:
            status = status_of(exc)
            raise
        finally:
            try:
                low_now, high_now = self._aiotp_t.get_write_buffer_limits()
            except Exception:
                low_now = high_now = 0
            self._emit("ret set_write_buffer_limits %s size=%d low=%d high=%d"
                       % (status, self._size(), low_now, high_now))

    def set_protocol(self, protocol):
        p = self._aiotp_p
        self._emit("call set_protocol kind=%s" % kind_of(protocol))
        wrapper = protocol
        if not isinstance(protocol, _TracedBase):
            wrapper = wrapper_class(protocol)(protocol, p._rec, None)
            wrapper._adopt(p)
        try:
            self._aiotp_t.set_protocol(wrapper)
        except BaseException as exc:
            self._ret("set_protocol", status_of(exc))
            raise
        if p._state.lost:
            self._ret("set_protocol", "ECLOSED")
            return
        object.__setattr__(self, "_aiotp_p", wrapper)
        self._ret("set_protocol", "0")

    def get_protocol(self):
        proto = self._aiotp_t.get_protocol()
        return proto._inner if isinstance(proto, _TracedBase) else proto

    # -- queries (query lines) ---------------------------------------------------------------
    def _query(self, name, fn, fmt):
        value = fn()
        self._emit("query %s %s" % (name, fmt(value)))
        return value

    def is_closing(self):
        return self._query("is_closing", self._aiotp_t.is_closing, lambda v: "1" if v else "0")

    def is_reading(self):
        return self._query("is_reading", self._aiotp_t.is_reading, lambda v: "1" if v else "0")

    def can_write_eof(self):
        return self._query("can_write_eof", self._aiotp_t.can_write_eof,
                           lambda v: "1" if v else "0")

    def get_write_buffer_size(self):
        return self._query("get_write_buffer_size", self._aiotp_t.get_write_buffer_size,
                           lambda v: "%d" % v)

    def get_write_buffer_limits(self):
        return self._query("get_write_buffer_limits", self._aiotp_t.get_write_buffer_limits,
                           lambda v: "low=%d high=%d" % (v[0], v[1]))


def kind_of(protocol):
    if isinstance(protocol, asyncio.BufferedProtocol):
        return "buffered"
    if isinstance(protocol, asyncio.DatagramProtocol):
        return "datagram"
    if isinstance(protocol, asyncio.SubprocessProtocol):
        return "subprocess"
    return "streaming"


class _State:
    """Per transport, shared by the protocols that follow each other on it."""
    __slots__ = ("rx_total", "rx_sum", "tx_total", "tx_sum", "closed", "lost_scheduled",
                 "lost", "eof_written", "fd_total", "fd_sum")

    def __init__(self):
        self.fd_total = {}  # subprocess: fd -> bytes told by pipe_data_received so far
        self.fd_sum = {}    # fd -> their running CRC-32
        self.rx_total = 0
        self.rx_sum = 0
        self.tx_total = 0
        self.tx_sum = 0
        self.closed = False
        self.lost_scheduled = False
        self.lost = False
        self.eof_written = False


class _TracedBase:
    """Logs the callbacks of a protocol and passes them on (BaseProtocol part)."""

    def __init__(self, inner, rec, slot):
        self._inner = inner
        self._rec = rec
        self._slot = slot
        self._tid = slot.tid if slot is not None else 0
        self._proxy = None
        self._state = _State()
        self._buf = None
        self._slot_only = False
        self._hs_pending = False  # a TLS transport's handshake line is still to come

    def _handshake_line(self):
        if self._hs_pending:
            self._hs_pending = False
            self._rec.emit("t%d handshake status=0" % self._tid)

    def _adopt(self, old):
        self._tid = old._tid
        self._proxy = old._proxy
        self._state = old._state
        self._rec._by_transport[id(old._proxy._aiotp_t)] = self

    def _emit(self, text):
        if self._hs_pending:
            # start_tls: the first callback of the TLS transport shows the handshake done
            self._handshake_line()
        self._rec.emit("t%d %s" % (self._tid, text))

    def _emit_comment(self, text):
        self._rec.emit("# t%d %s" % (self._tid, text))

    def _run(self, name, fn, args, ret=None):
        try:
            result = fn(*args)
        except BaseException as exc:
            self._rec.raised.append((exc, self))
            self._emit("ret %s ECALLBACK" % name)
            raise
        self._emit("ret %s %s" % (name, ret(result) if ret else "0"))
        return result

    def _status(self, exc):
        if exc is None:
            return "0"
        return status_of(exc, callback=any(e is exc for e, _ in self._rec.raised))

    # -- BaseProtocol --
    def connection_made(self, transport):
        if self._proxy is None:
            self._proxy = TransportProxy(transport, self)
            self._rec._by_transport[id(transport)] = self
            if self._slot is not None and not self._slot.done:
                if self._rec._fill_slot(self._slot, transport) == "tls":
                    # a TLS transport's protocol is told connection_made when the
                    # handshake has succeeded, and then only
                    self._hs_pending = True
        self._emit("cb connection_made")
        self._run("connection_made", self._inner.connection_made, (self._proxy,))

    def connection_lost(self, exc):
        self._state.lost = True
        self._state.lost_scheduled = True
        self._emit("cb connection_lost status=%s" % self._status(exc))
        try:
            self._run("connection_lost", self._inner.connection_lost, (exc,))
        finally:
            if self._proxy is not None:
                self._rec._by_transport.pop(id(self._proxy._aiotp_t), None)

    def pause_writing(self):
        t = self._proxy._aiotp_t
        self._emit("cb pause_writing size=%d high=%d"
                   % (t.get_write_buffer_size(), t.get_write_buffer_limits()[1]))
        self._run("pause_writing", self._inner.pause_writing, ())

    def resume_writing(self):
        t = self._proxy._aiotp_t
        self._emit("cb resume_writing size=%d low=%d"
                   % (t.get_write_buffer_size(), t.get_write_buffer_limits()[0]))
        self._run("resume_writing", self._inner.resume_writing, ())

    def eof_received(self):
        self._emit("cb eof_received")
        return self._run("eof_received", self._inner.eof_received, (),
                         ret=lambda r: "1" if r else "0")


class TracedProtocol(_TracedBase, asyncio.Protocol):
    """A streaming protocol's wrapper (an asyncio.Protocol)."""

    def data_received(self, data):
        st = self._state
        st.rx_total += len(data)
        st.rx_sum = crc32(data, st.rx_sum)
        self._emit("cb data_received n=%d total=%d sum=%08x"
                   % (len(data), st.rx_total, st.rx_sum))
        self._run("data_received", self._inner.data_received, (data,))


class TracedBufferedProtocol(_TracedBase, asyncio.BufferedProtocol):
    """A BufferedProtocol's wrapper (an asyncio.BufferedProtocol, not a Protocol)."""

    def get_buffer(self, sizehint):
        self._emit("cb get_buffer sizehint=%d" % sizehint)
        try:
            buf = self._inner.get_buffer(sizehint)
            view = memoryview(buf).cast("B")
        except BaseException as exc:
            self._rec.raised.append((exc, self))
            self._emit("ret get_buffer ECALLBACK")
            raise
        if len(view) == 0:
            self._emit("ret get_buffer EEMPTYBUF")
        else:
            self._emit("ret get_buffer 0 len=%d" % len(view))
        self._buf = view
        return buf

    def buffer_updated(self, nbytes):
        st = self._state
        st.rx_total += nbytes
        st.rx_sum = crc32(self._buf[:nbytes], st.rx_sum)
        self._emit("cb buffer_updated n=%d total=%d sum=%08x"
                   % (nbytes, st.rx_total, st.rx_sum))
        self._run("buffer_updated", self._inner.buffer_updated, (nbytes,))


class TracedDatagramProtocol(_TracedBase, asyncio.DatagramProtocol):
    """A DatagramProtocol's wrapper."""

    def datagram_received(self, data, addr):
        self._emit("cb datagram_received n=%d addr=%s sum=%08x"
                   % (len(data), format_addr(addr), crc32(data)))
        self._run("datagram_received", self._inner.datagram_received, (data, addr))

    def error_received(self, exc):
        self._emit("cb error_received status=%s" % self._status(exc))
        self._run("error_received", self._inner.error_received, (exc,))


class TracedSubprocessProtocol(_TracedBase, asyncio.SubprocessProtocol):
    """A SubprocessProtocol's wrapper (format 3: pipe_data_received with the running
    total and CRC-32 of that fd, process_exited with the return code)."""

    def pipe_data_received(self, fd, data):
        st = self._state
        n = _nbytes(data)
        try:
            total = st.fd_total.get(fd, 0) + n
            s = crc32(data, st.fd_sum.get(fd, 0))
            st.fd_total[fd], st.fd_sum[fd] = total, s
            self._emit("cb pipe_data_received fd=%d n=%d total=%d sum=%08x" % (fd, n, total, s))
        except TypeError:
            self._emit("cb pipe_data_received fd=%s n=%d total=0 sum=00000000" % (fd, n))
        self._run("pipe_data_received", self._inner.pipe_data_received, (fd, data))

    def pipe_connection_lost(self, fd, exc):
        self._emit("cb pipe_connection_lost fd=%d status=%s" % (fd, self._status(exc)))
        self._run("pipe_connection_lost", self._inner.pipe_connection_lost, (fd, exc))

    def process_exited(self):
        rc = None
        if self._proxy is not None:
            try:
                rc = self._proxy._aiotp_t.get_returncode()
            except Exception:
                rc = None
        if isinstance(rc, int):
            self._emit("cb process_exited returncode=%d" % rc)
        else:
            self._emit("cb process_exited")
        self._run("process_exited", self._inner.process_exited, ())

    # The flow control of the child's stdin reaches a SubprocessProtocol as BaseProtocol's
    # pause_writing / resume_writing; format 3 has no such line for a subprocess transport
    # (they belong to its stdin pipe, which is not traced), so they are comments.
    def pause_writing(self):
        self._emit_comment("cb pause_writing (stdin pipe)")
        self._inner.pause_writing()

    def resume_writing(self):
        self._emit_comment("cb resume_writing (stdin pipe)")
        self._inner.resume_writing()


def wrapper_class(protocol):
    if isinstance(protocol, asyncio.SubprocessProtocol):
        return TracedSubprocessProtocol
    if isinstance(protocol, asyncio.BufferedProtocol):
        return TracedBufferedProtocol
    if isinstance(protocol, asyncio.DatagramProtocol):
        return TracedDatagramProtocol
    return TracedProtocol


# ---- running ---------------------------------------------------------------------------

def new_loop(name="asyncio"):
    """A new loop: ``asyncio`` (the default selector loop) or ``uvloop``."""
    if name == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    if name == "asyncio":
        return asyncio.new_event_loop()
    raise ValueError("unknown loop %r" % name)


def run(coro_fn, out=None, loop_factory=None, quiet=False):
    """Run coro_fn(recorder) on a new loop (default asyncio's), the trace to out."""
    loop = (loop_factory or asyncio.new_event_loop)()
    asyncio.set_event_loop(loop)
    rec = Recorder(loop, out, quiet=quiet)
    try:
        return loop.run_until_complete(coro_fn(rec))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            rec.close()
            asyncio.set_event_loop(None)
            loop.close()


# ---- the demo ----------------------------------------------------------------------------

class _EchoServer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        return False  # close (after flushing what was echoed)


class _BulkClient(asyncio.Protocol):
    """Sends a payload in chunks with small limits (pause/resume), then write_eof()."""

    def __init__(self, size, done, high=4096):
        self.size = size
        self.done = done
        self.high = high
        self.received = 0
        self.sent = 0
        self.paused = False
        self.chunk = bytes(i % 251 for i in range(65536))

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=self.high)
        self._send()

    def _send(self):
        while self.sent < self.size and not self.paused:
            piece = self.chunk[:min(len(self.chunk), self.size - self.sent)]
            if (self.sent // len(self.chunk)) % 4 == 0 and len(piece) > 100:
                self.transport.writelines([piece[:100], piece[100:]])
            else:
                self.transport.write(piece)
            self.sent += len(piece)
        if self.sent >= self.size and not self.paused:
            self.transport.write_eof()

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        asyncio.get_running_loop().call_soon(self._send)

    def data_received(self, data):
        self.received += len(data)

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result((self.received, exc))


class _BufferedClient(asyncio.BufferedProtocol):
    def __init__(self, message, done):
        self.message = message
        self.done = done
        self.buf = bytearray(8)
        self.got = bytearray()

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.message)
        transport.write_eof()

    def get_buffer(self, sizehint):
        return self.buf

    def buffer_updated(self, nbytes):
        self.got += self.buf[:nbytes]

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result((bytes(self.got), exc))


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, done=None, echo=False):
        self.done = done
        self.echo = echo
        self.got = []

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.got.append(data)
        if self.echo:
            self.transport.sendto(b"resp:" + data, addr)
        elif self.done is not None and not self.done.done():
            self.done.set_result(data)


async def demo(rec, size=1 << 18, udp=True):
    loop = rec.loop
    server = await rec.create_server(_EchoServer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    done_bulk = loop.create_future()
    done_buf = loop.create_future()
    # a small send buffer, so that the kernel does not take everything: flow control
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await rec.create_connection(lambda: _BulkClient(size, done_bulk), sock=sock)
    await rec.create_connection(lambda: _BufferedClient(b"Hello World!", done_buf),
                                "127.0.0.1", port)
    received, exc = await done_bulk
    got, exc2 = await done_buf
    if udp:
        t_srv, _ = await rec.create_datagram_endpoint(lambda: _Udp(echo=True),
                                                      local_addr=("127.0.0.1", 0))
        addr = t_srv.get_extra_info("sockname")
        answer = loop.create_future()
        t_cli, _ = await rec.create_datagram_endpoint(lambda: _Udp(answer),
                                                      remote_addr=addr)
        t_cli.sendto(b"ping")
        got_udp = await asyncio.wait_for(answer, 10)
        t_cli.close()
        t_srv.close()
        if got_udp != b"resp:ping":
            raise SystemExit("udp echo: %r" % got_udp)
    for _ in range(3):
        await asyncio.sleep(0)
    server.close()
    await server.wait_closed()
    for _ in range(3):
        await asyncio.sleep(0)
    if received != size or exc is not None:
        raise SystemExit("bulk echo: %d of %d bytes (%r)" % (received, size, exc))
    if got != b"Hello World!" or exc2 is not None:
        raise SystemExit("buffered echo: %r (%r)" % (got, exc2))


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(
        description="Record the aiotp trace (format 3) of a demo on an asyncio loop: "
                    "an echo server, a streaming client with flow control (writelines, "
                    "write_eof), a BufferedProtocol client, a connected UDP pair.")
    ap.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    ap.add_argument("--out", default="-", help="trace file (default stdout)")
    ap.add_argument("--size", type=int, default=1 << 18,
                    help="bytes the streaming client sends (default 262144)")
    ap.add_argument("--no-udp", action="store_true", help="leave the UDP pair out")
    args = ap.parse_args(argv[1:])
    out = sys.stdout if args.out == "-" else open(args.out, "w", buffering=1 << 16)
    try:
        run(lambda rec: demo(rec, args.size, not args.no_udp), out,
            lambda: new_loop(args.loop))
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
