#!/usr/bin/env python3
"""asyncio echo server (Protocol-based) for the aiotp benchmarks.

usage: echo_asyncio.py (--tcp PORT | --unix PATH)

Echoes every chunk as soon as data_received() gets it.  Flow control: the
write-buffer high-water mark is 0, so the transport calls pause_writing() as
soon as transport.write() leaves anything unsent and resume_writing() once the
buffer is empty again; the protocol pauses/resumes reading accordingly.
Reads are asyncio's own: recv() of up to 256 KiB (262144 bytes).
Prints "ready" once listening; exits 0 on SIGTERM/SIGINT.

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
    return parser.parse_args(argv)


async def serve(args):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))

    transports = set()
    factory = lambda: EchoProtocol(transports)  # noqa: E731
    if args.tcp is not None:
        server = await loop.create_server(factory, "127.0.0.1", args.tcp, backlog=BACKLOG)
    else:
        if os.path.exists(args.unix):
            os.unlink(args.unix)  # stale socket file
        server = await loop.create_unix_server(factory, args.unix, backlog=BACKLOG)
    print("ready", flush=True)

    await stop
    server.close()
    for transport in list(transports):
        transport.abort()
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
