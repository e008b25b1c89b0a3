#!/usr/bin/python3
"""uvloop echo server: echo_asyncio.py's code on uvloop's event loop.

usage: /usr/bin/python3 echo_uvloop.py (--tcp PORT | --unix PATH | --udp PORT)

Needs Debian's python3-uvloop (hence /usr/bin/python3).  Same protocol, same
flow control (write high-water mark 0); uvloop reads up to 256000 bytes at a
time into its loop-wide receive buffer and, like asyncio, tries to write
immediately.  --udp: echo_asyncio.py's DatagramProtocol on uvloop's UDP transport.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

try:
    import uvloop
except ImportError:
    sys.exit("echo_uvloop.py: uvloop is not installed "
             "(apt-get install python3-uvloop, run with /usr/bin/python3)")

import echo_asyncio  # noqa: E402

if __name__ == "__main__":
    sys.exit(echo_asyncio.main(new_event_loop=uvloop.new_event_loop))
