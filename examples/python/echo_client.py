#!/usr/bin/env python3
"""The documentation's TCP echo client (EchoClientProtocol), standard library only.

    echo_client.py [PORT] [--host HOST] [--message TEXT]

Connects to HOST:PORT (default 127.0.0.1:8888), sends the message ("Hello World!"),
prints what comes back and returns once the server has closed the connection. Exit
status 0 when the connection was lost cleanly. Used by examples/run_interop.sh against
aiotp's server.
"""
import argparse
import asyncio
import sys


class EchoClientProtocol(asyncio.Protocol):
    def __init__(self, message, on_con_lost):
        self.message = message
        self.on_con_lost = on_con_lost

    def connection_made(self, transport):
        transport.write(self.message.encode())
        print('Data sent: {!r}'.format(self.message))

    def data_received(self, data):
        print('Data received: {!r}'.format(data.decode()))

    def connection_lost(self, exc):
        print('The server closed the connection')
        self.on_con_lost.set_result(exc)


async def main(host, port, message):
    # Get a reference to the event loop as we plan to use
    # low-level APIs.
    loop = asyncio.get_running_loop()

    on_con_lost = loop.create_future()

    transport, protocol = await loop.create_connection(
        lambda: EchoClientProtocol(message, on_con_lost),
        host, port)

    # Wait until the protocol signals that the connection
    # is lost and close the transport.
    try:
        exc = await on_con_lost
    finally:
        transport.close()
    return exc


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('port', nargs='?', type=int, default=8888)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--message', default='Hello World!')
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    error = asyncio.run(main(args.host, args.port, args.message))
    if error is not None:
        print('connection lost with {!r}'.format(error), file=sys.stderr)
    sys.exit(0 if error is None else 1)
