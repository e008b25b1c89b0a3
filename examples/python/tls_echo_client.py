#!/usr/bin/env python3
"""The documentation's TCP echo client (EchoClientProtocol) over TLS, with CPython's ssl.

    tls_echo_client.py PORT --ca CA [--server-hostname NAME] [--message TEXT]
                       [--alpn P1,P2] [--tls12 | --tls13] [--info]

Connects to 127.0.0.1:PORT verifying the server against CA and NAME ("localhost"),
sends the message ("Hello World!"), prints what comes back and returns once the server
has closed the connection. Exit status 0 when the connection was lost cleanly; 1 with
"TLS handshake failed: ..." on stderr when the handshake failed. Used by
examples/run_tls_interop.sh against aiotp's TLS server.
"""
import argparse
import asyncio
import ssl
import sys


class EchoClientProtocol(asyncio.Protocol):
    def __init__(self, message, on_con_lost, info):
        self.message = message
        self.on_con_lost = on_con_lost
        self.info = info

    def connection_made(self, transport):
        if self.info:
            obj = transport.get_extra_info('ssl_object')
            print('TLS: {} ALPN: {}'.format(obj.version(),
                                            obj.selected_alpn_protocol() or 'none'))
        transport.write(self.message.encode())
        print('Data sent: {!r}'.format(self.message))

    def data_received(self, data):
        print('Data received: {!r}'.format(data.decode()))

    def connection_lost(self, exc):
        print('The server closed the connection')
        self.on_con_lost.set_result(exc)


async def main(args):
    loop = asyncio.get_running_loop()
    on_con_lost = loop.create_future()
    ctx = ssl.create_default_context(cafile=args.ca)
    if args.tls12:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if args.tls13:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    if args.alpn:
        ctx.set_alpn_protocols(args.alpn.split(','))
    try:
        transport, protocol = await loop.create_connection(
            lambda: EchoClientProtocol(args.message, on_con_lost, args.info),
            '127.0.0.1', args.port, ssl=ctx, server_hostname=args.server_hostname)
    except (ssl.SSLError, ConnectionError) as exc:
        print('TLS handshake failed: {!r}'.format(exc), file=sys.stderr)
        return exc
    try:
        exc = await on_con_lost
    finally:
        transport.close()
    return exc


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('port', type=int)
    parser.add_argument('--ca', required=True)
    parser.add_argument('--server-hostname', default='localhost')
    parser.add_argument('--message', default='Hello World!')
    parser.add_argument('--alpn')
    parser.add_argument('--tls12', action='store_true')
    parser.add_argument('--tls13', action='store_true')
    parser.add_argument('--info', action='store_true')
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    error = asyncio.run(main(args))
    if error is not None:
        print('connection lost with {!r}'.format(error), file=sys.stderr)
    sys.exit(0 if error is None else 1)
