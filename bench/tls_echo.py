#!/usr/bin/python3
"""TLS echo server on asyncio or uvloop for the TLS benchmarks (bench/tls_run.sh).

usage: BENCH_TLS_CERT=chain.pem BENCH_TLS_KEY=key.pem \
       /usr/bin/python3 tls_echo.py [--uvloop] --tcp PORT

The echo protocol of echo_asyncio.py (every chunk written straight back; reading
pauses while the transport has paused writing), with an ssl.SSLContext built from
the certificate and key: the loop's own TLS transport (asyncio's sslproto, or
uvloop's port of it) over a TCP transport. The cipher is whatever the client
offers (tls_load offers exactly one). Prints "ready" once listening; exits 0 on
SIGTERM/SIGINT. --uvloop needs Debian's python3-uvloop.
"""
import argparse
import asyncio
import os
import signal
import ssl
import sys

BACKLOG = 1024  # same as the C servers


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def serve(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["BENCH_TLS_CERT"], os.environ["BENCH_TLS_KEY"])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port, ssl=ctx, backlog=BACKLOG)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    print("ready", flush=True)
    await stop
    server.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--tcp", type=int, required=True, metavar="PORT")
    args = ap.parse_args()
    if "BENCH_TLS_CERT" not in os.environ or "BENCH_TLS_KEY" not in os.environ:
        sys.exit("tls_echo.py: set BENCH_TLS_CERT and BENCH_TLS_KEY")
    if args.uvloop:
        try:
            import uvloop
        except ImportError:
            sys.exit("tls_echo.py: uvloop is not installed (apt-get install python3-uvloop)")
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(serve(args.tcp))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
