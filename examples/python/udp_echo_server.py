#!/usr/bin/env python3
"""The documentation's UDP echo server (EchoServerProtocol), standard library only.

    udp_echo_server.py [PORT] [--count N]

PORT defaults to 9999; 0 picks a free port. Prints "listening on PORT" once the
endpoint exists; with --count N it closes and exits after echoing N datagrams. Used by
examples/run_interop.sh against aiotp's UDP client.
"""
import argparse
import asyncio


class EchoServerProtocol:
    def __init__(self, count, done):
        self.count = count
        self.done = done
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        message = data.decode()
        print('Received %r from %s' % (message, addr))
        print('Send %r to %s' % (message, addr))
        self.transport.sendto(data, addr)
        if self.count > 0:
            self.count -= 1
            if self.count == 0:
                self.transport.close()

    def error_received(self, exc):
        pass

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(True)


async def main(port, count):
    print("Starting UDP server")
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: EchoServerProtocol(count, done),
        local_addr=('127.0.0.1', port))
    print('listening on %d' % transport.get_extra_info('sockname')[1], flush=True)
    try:
        await done
    finally:
        transport.close()


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('port', nargs='?', type=int, default=9999)
    ap.add_argument('--count', type=int, default=0)
    args = ap.parse_args()
    asyncio.run(main(args.port, args.count))
