#!/usr/bin/env python3
"""The documentation's TCP echo server (EchoServerProtocol) over TLS, with CPython's ssl.

    tls_echo_server.py PORT --cert CHAIN --key KEY [--count N] [--alpn P1,P2]
                       [--tls12 | --tls13] [--info]

PORT 0 picks a free port; prints "listening on PORT" once it accepts connections; with
--count N exits after N connections were lost (or failed their handshake). --info prints
"TLS: VERSION ALPN: NAME" after the connection line. Used by examples/run_tls_interop.sh
against aiotp's TLS client.
"""
import argparse
import asyncio
import ssl
import sys


class EchoServerProtocol(asyncio.Protocol):
    def __init__(self, on_lost, info):
        self.on_lost = on_lost
        self.info = info
        self.transport = None

    def connection_made(self, transport):
        peername = transport.get_extra_info('peername')
        print('Connection from {}'.format(peername))
        if self.info:
            obj = transport.get_extra_info('ssl_object')
            print('TLS: {} ALPN: {}'.format(obj.version(),
                                            obj.selected_alpn_protocol() or 'none'))
        self.transport = transport

    def data_received(self, data):
        message = data.decode()
        print('Data received: {!r}'.format(message))

        print('Send: {!r}'.format(message))
        self.transport.write(data)

        print('Close the client socket')
        self.transport.close()

    def connection_lost(self, exc):
        self.on_lost(exc)


async def main(args):
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    left = [args.count]

    def on_lost(exc):
        if exc is not None:
            print('connection lost: {!r}'.format(exc), file=sys.stderr)
        if left[0] > 0:
            left[0] -= 1
            if left[0] == 0 and not finished.done():
                finished.set_result(True)

    def handler(loop_, context):
        # a failed handshake (reported in debug mode) counts as a connection
        print(context.get('message'), repr(context.get('exception')), file=sys.stderr)
        on_lost(None)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    if args.tls12:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if args.tls13:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    if args.alpn:
        ctx.set_alpn_protocols(args.alpn.split(','))
    loop.set_exception_handler(handler)
    server = await loop.create_server(lambda: EchoServerProtocol(on_lost, args.info),
                                      args.host, args.port, ssl=ctx)
    print('listening on {}'.format(server.sockets[0].getsockname()[1]))
    async with server:
        await finished


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('port', type=int)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--cert', required=True)
    parser.add_argument('--key', required=True)
    parser.add_argument('--count', type=int, default=1)
    parser.add_argument('--alpn')
    parser.add_argument('--tls12', action='store_true')
    parser.add_argument('--tls13', action='store_true')
    parser.add_argument('--info', action='store_true')
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    asyncio.run(main(args))
