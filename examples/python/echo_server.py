#!/usr/bin/env python3
"""The documentation's TCP echo server (EchoServerProtocol), standard library only.

    echo_server.py [PORT] [--host HOST] [--count N]

PORT defaults to 8888; 0 picks a free port. Prints "listening on PORT" (the port it
got) once it accepts connections. With --count N it closes the server and exits after
N connections have been lost. Used by examples/run_interop.sh against aiotp's client.
"""
import argparse
import asyncio
import sys


class EchoServerProtocol(asyncio.Protocol):
    def __init__(self, on_lost=None):
        self.on_lost = on_lost
        self.transport = None

    def connection_made(self, transport):
        peername = transport.get_extra_info('peername')
        print('Connection from {}'.format(peername))
        self.transport = transport

    def data_received(self, data):
        message = data.decode()
        print('Data received: {!r}'.format(message))

        print('Send: {!r}'.format(message))
        self.transport.write(data)

        print('Close the client socket')
        self.transport.close()

    def connection_lost(self, exc):
        if self.on_lost is not None:
            self.on_lost(exc)


async def main(host, port, count):
    # Get a reference to the event loop as we plan to use
    # low-level APIs.
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    left = [count]

    def on_lost(exc):
        if exc is not None:
            print('connection lost: {!r}'.format(exc), file=sys.stderr)
        if left[0] > 0:
            left[0] -= 1
            if left[0] == 0 and not finished.done():
                finished.set_result(True)

    server = await loop.create_server(
        lambda: EchoServerProtocol(on_lost),
        host, port)
    print('listening on {}'.format(server.sockets[0].getsockname()[1]))

    async with server:
        if count > 0:
            await finished
        else:
            await server.serve_forever()


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('port', nargs='?', type=int, default=8888)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--count', type=int, default=0,
                        help='exit after this many connections (0: serve forever)')
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # the test script reads it as it comes
    try:
        asyncio.run(main(args.host, args.port, args.count))
    except KeyboardInterrupt:
        pass
