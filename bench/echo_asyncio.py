#!/usr/bin/env python3
"""asyncio echo server (Protocol-based) for the aiotp benchmarks.

usage: echo_asyncio.py (--tcp PORT | --unix PATH | --udp PORT)

Echoes every chunk as soon as data_received() gets it.  Flow control: the
write-buffer high-water mark is 0, so the transport calls pause_writing() as
soon as transport.write() leaves anything unsent and resume_writing() once the
buffer is empty again; the protocol pauses/resumes reading accordingly.
Reads are asyncio's own: recv() of up to 256 KiB (262144 bytes).
Prints "ready" once listening; exits 0 on SIGTERM/SIGINT.

--udp PORT: the UDP echo server instead (asyncio.DatagramProtocol on a datagram
endpoint bound to 127.0.0.1:PORT): datagram_received() sends every datagram back
to its sender with transport.sendto() (sent at once when nothing is queued, else
queued by the transport); pause_writing()/resume_writing() pause and resume
reading where the transport has pause_reading() (default write-buffer limits).

echo_uvloop.py runs this very code on uvloop's event loop.
"""
import argparse
import asyncio
import os
import resource
import signal
import sys

BACKLOG = 1024  # same as the C servers


class EchoProtocol(asyncio.Protocol):
    def __init__(self, transports):
        self.transports = transports
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        # Pause reading while anything is left unsent (see module docstring).
        transport.set_write_buffer_limits(high=0)
        self.transports.add(transport)

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()

    def connection_lost(self, exc):
        self.transports.discard(self.transport)


class UdpEchoProtocol(asyncio.DatagramProtocol):
    def __init__(self, transports):
        self.transports = transports
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.transports.add(transport)

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)

    def pause_writing(self):
        if hasattr(self.transport, "pause_reading"):
            self.transport.pause_reading()

    def resume_writing(self):
        if hasattr(self.transport, "resume_reading"):
            self.transport.resume_reading()

    def connection_lost(self, exc):
        self.transports.discard(self.transport)


def parse_args(argv):
    def port(text):
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError("invalid TCP port %r" % text)
        if not 1 <= value <= 65535:
            raise argparse.ArgumentTypeError("invalid TCP port %r (want 1-65535)" % text)
        return value

    parser = argparse.ArgumentParser(description="Echo server (asyncio Protocol).")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", type=port, metavar="PORT", help="listen on 127.0.0.1:PORT")
    where.add_argument("--unix", metavar="PATH", help="listen on the Unix socket PATH")
    where.add_argument("--udp", type=port, metavar="PORT",
                       help="UDP: receive datagrams on 127.0.0.1:PORT")
    return parser.parse_args(argv)


async def serve(args):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))

    transports = set()
    factory = lambda: EchoProtocol(transports)  # noqa: E731
    server = None
    if args.udp is not None:
        await loop.create_datagram_endpoint(lambda: UdpEchoProtocol(transports),
                                            local_addr=("127.0.0.1", args.udp))
    elif args.tcp is not None:
        server = await loop.create_server(factory, "127.0.0.1", args.tcp, backlog=BACKLOG)
    else:
        if os.path.exists(args.unix):
            os.unlink(args.unix)  # stale socket file
        server = await loop.create_unix_server(factory, args.unix, backlog=BACKLOG)
    print("ready", flush=True)

    await stop
    if server is not None:
        server.close()
    for transport in list(transports):
        transport.abort()
    if server is not None:
        await server.wait_closed()
    if args.unix is not None:
        try:
            os.unlink(args.unix)
        except FileNotFoundError:
            pass


def main(argv=None, new_event_loop=asyncio.new_event_loop):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # room for 1000+ idle connections, like the C servers
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(args))
    except OSError as exc:
        print("%s: %s" % (os.path.basename(sys.argv[0]), exc), file=sys.stderr)
        return 1
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
