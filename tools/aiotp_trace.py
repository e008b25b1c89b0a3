#!/usr/bin/env python3
"""Record an aiotp trace (spec/trace-format.md, version 2) from CPython's asyncio.

Standard library only (Python 3.11). The trace can be checked with the same oracle as
aiotp's own traces: ``python3 tools/aiotp_trace.py | aiotp-trace-check -``.

Pieces (spec/oracle.md, "Recording a trace from another implementation"):

* ``TraceLoop``: a selector event loop that writes ``iter N`` at the start of every
  ``_run_once`` pass and, when a socket transport is made, ``tN open ...`` and
  ``tN limits ...`` (and ``tN peer tM`` when the other end of the TCP connection is a
  transport of the same loop); it wraps the protocol of every such transport.
* ``TracedProtocol`` / ``TracedBufferedProtocol``: wrappers that log every callback
  (``cb``/``ret`` lines, with running totals and FNV-1a sums of the received bytes).
* ``TransportProxy``: what the wrapped protocol sees as its transport; it logs the calls
  the protocol makes (``call``/``ret`` lines with size, limits, totals and sums) and
  passes everything else through.

Status names follow aiotp's: ``0`` for success, ``E...`` for failures. CPython raises
where aiotp returns a code; the mapping is ValueError -> EINVAL, RuntimeError -> ESTATE,
OSError -> its errno name, any other exception from a protocol callback -> ECALLBACK;
a write() CPython drops silently once connection_lost is scheduled is logged ECLOSED, and
close()/abort() on a transport already closing (lost already scheduled) ECLOSED.

``python3 aiotp_trace.py`` runs an echo server and two clients over loopback (port 0)
and prints the trace on stdout.
"""
import asyncio
import asyncio.selector_events
import errno
import socket
import sys

__all__ = ["Tracer", "TraceLoop", "TracedProtocol", "TracedBufferedProtocol",
           "TransportProxy", "fnv1a", "run"]

FNV_INIT = 0x811C9DC5


def fnv1a(h, data):
    """FNV-1a, 32 bits, continued from h over the bytes of data."""
    for b in bytes(data):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def status_of(exc, callback=False):
    """aiotp's name for what an exception means."""
    if exc is None:
        return "0"
    if isinstance(exc, OSError) and exc.errno in errno.errorcode:
        return errno.errorcode[exc.errno]
    if callback:
        return "ECALLBACK"
    if isinstance(exc, ValueError):
        return "EINVAL"
    if isinstance(exc, RuntimeError):
        return "ESTATE"
    return "E?"


class Tracer:
    """Where the lines go, the iteration counter and the transport ids."""

    def __init__(self, out=None):
        self.out = out if out is not None else sys.stdout
        self.iteration = 0
        self.next_id = 1
        self.ends = {}  # (sockname, peername) of traced TCP transports -> id
        self.emit("aiotp-trace 2")

    def emit(self, line):
        self.out.write(line + "\n")

    def new_id(self):
        tid = self.next_id
        self.next_id += 1
        return tid


class TransportProxy:
    """The transport as the traced protocol sees it: logs the protocol's calls."""

    def __init__(self, transport, traced):
        self._t = transport
        self._p = traced
        self._tx_total = 0
        self._tx_sum = FNV_INIT

    def __getattr__(self, name):
        return getattr(self._t, name)

    # -- helpers --
    def _emit(self, text):
        self._p._tracer.emit("t%d %s" % (self._p._tid, text))

    def _size(self):
        return self._t.get_write_buffer_size()

    def _lost_scheduled(self):
        # CPython counts a scheduled connection_lost in _conn_lost (private)
        return self._p._lost or getattr(self._t, "_conn_lost", 0) > 0

    def _ret(self, name, status):
        self._emit("ret %s %s size=%d" % (name, status, self._size()))

    def _write_ret(self, name, status):
        self._emit("ret %s %s size=%d total=%d sum=%08x"
                   % (name, status, self._size(), self._tx_total, self._tx_sum))

    def _do_write(self, name, chunks, call):
        n = sum(len(memoryview(c).cast("B")) for c in chunks)
        dropped = n > 0 and self._lost_scheduled() and not getattr(self._t, "_eof", False)
        try:
            call()
        except Exception as exc:
            self._write_ret(name, status_of(exc))
            raise
        if dropped:
            self._write_ret(name, "ECLOSED")
            return
        for c in chunks:
            self._tx_total += len(memoryview(c).cast("B"))
            self._tx_sum = fnv1a(self._tx_sum, c)
        self._write_ret(name, "0")

    # -- the logged methods --
    def write(self, data):
        self._emit("call write n=%d" % len(memoryview(data).cast("B")))
        self._do_write("write", [data], lambda: self._t.write(data))

    def writelines(self, list_of_data):
        chunks = list(list_of_data)
        n = sum(len(memoryview(c).cast("B")) for c in chunks)
        self._emit("call writelines count=%d n=%d" % (len(chunks), n))
        self._do_write("writelines", chunks, lambda: self._t.writelines(chunks))

    def _simple(self, name, call, refused=False):
        self._emit("call %s" % name)
        try:
            call()
        except Exception as exc:
            self._ret(name, status_of(exc))
            raise
        self._ret(name, "ECLOSED" if refused else "0")

    def close(self):
        self._simple("close", self._t.close, refused=self._t.is_closing())

    def abort(self):
        self._simple("abort", self._t.abort, refused=self._lost_scheduled())

    def write_eof(self):
        self._simple("write_eof", self._t.write_eof)

    def pause_reading(self):
        self._simple("pause_reading", self._t.pause_reading)

    def resume_reading(self):
        self._simple("resume_reading", self._t.resume_reading)

    def set_write_buffer_limits(self, high=None, low=None):
        self._emit("call set_write_buffer_limits high=%s low=%s"
                   % ("NONE" if high is None else int(high),
                      "NONE" if low is None else int(low)))
        status = "0"
        try:
            self._t.set_write_buffer_limits(high, low)
        except Exception as exc:
            status = status_of(exc)
            raise
        finally:
            low_now, high_now = self._t.get_write_buffer_limits()
            self._emit("ret set_write_buffer_limits %s size=%d low=%d high=%d"
                       % (status, self._size(), low_now, high_now))

    def set_protocol(self, protocol):
        buffered = isinstance(protocol, asyncio.BufferedProtocol)
        self._emit("call set_protocol kind=%s" % ("buffered" if buffered else "streaming"))
        if self._p._lost:
            self._ret("set_protocol", "ECLOSED")
            return
        wrapper = wrap_protocol(protocol, self._p._tracer)
        wrapper._adopt(self._p)
        self._t.set_protocol(wrapper)
        self._ret("set_protocol", "0")

    def get_protocol(self):
        return self._t.get_protocol()._inner


class TracedProtocol(asyncio.Protocol):
    """Logs the callbacks of a streaming protocol (and passes them on)."""

    def __init__(self, inner, tracer):
        self._inner = inner
        self._tracer = tracer
        self._tid = 0
        self._proxy = None
        self._lost = False
        self._rx_total = 0
        self._rx_sum = FNV_INIT
        self._raised = None
        self._buf = None

    def _attach(self, transport, sock):
        self._tid = self._tracer.new_id()
        self._proxy = TransportProxy(transport, self)
        family = sock.family
        kind = {socket.AF_INET6: "tcp6", getattr(socket, "AF_UNIX", -1): "unix"}.get(
            family, "tcp")
        low, high = transport.get_write_buffer_limits()
        self._emit("open %s" % kind)
        self._emit("limits low=%d high=%d" % (low, high))
        if family in (socket.AF_INET, socket.AF_INET6):
            try:
                ends = (sock.getsockname(), sock.getpeername())
            except OSError:
                return
            other = self._tracer.ends.pop((ends[1], ends[0]), None)
            if other is not None:
                self._emit("peer t%d" % other)
            else:
                self._tracer.ends[ends] = self._tid

    def _adopt(self, old):
        """Take over the transport of a protocol it replaces (set_protocol)."""
        self._tid = old._tid
        self._proxy = old._proxy
        self._proxy._p = self
        self._rx_total = old._rx_total
        self._rx_sum = old._rx_sum

    def _emit(self, text):
        self._tracer.emit("t%d %s" % (self._tid, text))

    def _call(self, name, fn, *args, ret=None):
        try:
            result = fn(*args)
        except Exception as exc:
            self._raised = exc
            self._emit("ret %s %s" % (name, status_of(exc, callback=True)))
            raise
        self._emit("ret %s %s" % (name, ret(result) if ret else "0"))
        return result

    # -- BaseProtocol --
    def connection_made(self, transport):
        self._emit("cb connection_made")
        self._call("connection_made", self._inner.connection_made, self._proxy)

    def connection_lost(self, exc):
        if exc is None:
            status = "0"
        elif exc is self._raised:
            status = status_of(exc, callback=True)
        elif isinstance(exc, RuntimeError) and "empty buffer" in str(exc):
            status = "EEMPTYBUF"
        else:
            status = status_of(exc)
        self._lost = True
        self._emit("cb connection_lost status=%s" % status)
        self._call("connection_lost", self._inner.connection_lost, exc)

    def pause_writing(self):
        t = self._proxy._t
        self._emit("cb pause_writing size=%d high=%d"
                   % (t.get_write_buffer_size(), t.get_write_buffer_limits()[1]))
        self._call("pause_writing", self._inner.pause_writing)

    def resume_writing(self):
        t = self._proxy._t
        self._emit("cb resume_writing size=%d low=%d"
                   % (t.get_write_buffer_size(), t.get_write_buffer_limits()[0]))
        self._call("resume_writing", self._inner.resume_writing)

    # -- Protocol --
    def data_received(self, data):
        self._rx_total += len(data)
        self._rx_sum = fnv1a(self._rx_sum, data)
        self._emit("cb data_received n=%d total=%d sum=%08x"
                   % (len(data), self._rx_total, self._rx_sum))
        self._call("data_received", self._inner.data_received, data)

    def eof_received(self):
        self._emit("cb eof_received")
        return self._call("eof_received", self._inner.eof_received,
                          ret=lambda r: "1" if r else "0")


class TracedBufferedProtocol(TracedProtocol, asyncio.BufferedProtocol):
    """Logs the callbacks of a BufferedProtocol."""

    def get_buffer(self, sizehint):
        self._emit("cb get_buffer sizehint=%d" % sizehint)
        try:
            buf = self._inner.get_buffer(sizehint)
            view = memoryview(buf).cast("B")
        except Exception as exc:
            self._raised = exc
            self._emit("ret get_buffer %s" % status_of(exc, callback=True))
            raise
        if len(view) == 0:
            self._emit("ret get_buffer EEMPTYBUF")  # CPython raises RuntimeError next
        else:
            self._emit("ret get_buffer 0 len=%d" % len(view))
        self._buf = view
        return buf

    def buffer_updated(self, nbytes):
        self._rx_total += nbytes
        self._rx_sum = fnv1a(self._rx_sum, self._buf[:nbytes])
        self._emit("cb buffer_updated n=%d total=%d sum=%08x"
                   % (nbytes, self._rx_total, self._rx_sum))
        self._call("buffer_updated", self._inner.buffer_updated, nbytes)


def wrap_protocol(protocol, tracer):
    if isinstance(protocol, TracedProtocol):
        return protocol
    if isinstance(protocol, asyncio.BufferedProtocol):
        return TracedBufferedProtocol(protocol, tracer)
    return TracedProtocol(protocol, tracer)


class TraceLoop(asyncio.SelectorEventLoop):
    """A selector loop that traces every socket transport it makes."""

    def __init__(self, out=None, selector=None):
        self.tracer = Tracer(out)
        super().__init__(selector)

    def _run_once(self):
        self.tracer.iteration += 1
        self.tracer.emit("iter %d" % self.tracer.iteration)
        super()._run_once()

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None,
                               server=None):
        traced = wrap_protocol(protocol, self.tracer)
        transport = super()._make_socket_transport(sock, traced, waiter, extra=extra,
                                                   server=server)
        traced._attach(transport, sock)
        return transport

    async def create_connection(self, protocol_factory, *args, **kwargs):
        """As the base method, but returns the logging proxy as the transport."""
        transport, protocol = await super().create_connection(protocol_factory, *args,
                                                              **kwargs)
        traced = transport.get_protocol()
        if isinstance(traced, TracedProtocol) and traced._proxy is not None:
            return traced._proxy, protocol
        return transport, protocol


# ---- the demo: an echo server and two clients over loopback -----------------------

class _EchoServer(asyncio.Protocol):
    """Echoes everything; closes when the client has sent EOF and all is echoed."""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        return False  # close (after flushing what was echoed)


class _BulkClient(asyncio.Protocol):
    """Sends a large payload with small limits (pause/resume), then write_eof()."""

    def __init__(self, payload, done):
        self.payload = payload
        self.done = done
        self.received = 0
        self.sent = 0
        self.paused = False

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=4096)
        self._send()

    def _send(self):
        chunk = 16384
        while self.sent < len(self.payload) and not self.paused:
            piece = self.payload[self.sent:self.sent + chunk]
            if self.sent % (4 * chunk) == 0:
                self.transport.writelines([piece[:100], piece[100:]])
            else:
                self.transport.write(piece)
            self.sent += len(piece)
        if self.sent >= len(self.payload) and not self.paused:
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
    """The documentation's echo client, as a BufferedProtocol."""

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


async def _demo(payload_size):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_EchoServer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    done_bulk = loop.create_future()
    done_buf = loop.create_future()
    payload = bytes(i % 251 for i in range(payload_size))
    # a small send buffer so that the kernel does not take everything: flow control
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.create_connection(lambda: _BulkClient(payload, done_bulk), sock=sock)
    await loop.create_connection(lambda: _BufferedClient(b"Hello World!", done_buf),
                                 "127.0.0.1", port)
    received, exc = await done_bulk
    got, exc2 = await done_buf
    # let the server side deliver its connection_lost
    for _ in range(3):
        await asyncio.sleep(0)
    server.close()
    await server.wait_closed()
    if received != len(payload) or exc is not None:
        raise SystemExit("bulk echo: %d of %d bytes (%r)" % (received, len(payload), exc))
    if got != b"Hello World!" or exc2 is not None:
        raise SystemExit("buffered echo: %r (%r)" % (got, exc2))


def run(coro_fn, out=None):
    """Run coro_fn() on a TraceLoop writing to out (default stdout)."""
    loop = TraceLoop(out)
    try:
        return loop.run_until_complete(coro_fn())
    finally:
        loop.close()


def main(argv):
    size = 1 << 18
    if len(argv) > 1:
        if argv[1] in ("-h", "--help"):
            print("usage: aiotp_trace.py [PAYLOAD_BYTES]\n"
                  "Runs an echo server and two clients (streaming with flow control,\n"
                  "buffered) on loopback and prints the aiotp trace on stdout.")
            return 0
        size = int(argv[1])
    run(lambda: _demo(size))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
