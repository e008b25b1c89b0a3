/*
 * fuzz/fz_dgram.h - the property-checking harness of the datagram transport (fuzz_dgram,
 * fuzz_dgram_negative; fuzz/README.md, "The datagram target").
 *
 * An input is one header byte (the setup: a Unix datagram pair, UDP over IPv4 connected
 * or not, UDP over IPv6 through create_datagram_endpoint with a remote address, connected
 * or only the default destination; the first protocol table; a call inside
 * connection_made) and then fixed-size op records (FZ_REC bytes: op, a, b16 little
 * endian; a trailing partial record is ignored). Each record is one user call on the
 * transport (sendto of sizes 0 to over 256 KiB to the peer, another address, a wrong
 * family or length, none; close, abort, pause/resume_reading, set limits, set_protocol to
 * another datagram table, a stream table, NULL), one simulated kernel event (the peer and
 * a third socket send datagrams of any size, 0 and the maximum included; the peer reads;
 * drops, duplicates, reordering and queue limits on either socket; stalls, EAGAIN, EINTR,
 * injected send and receive errors, ICMP-style asynchronous errors, the peer going away;
 * allocation failures; virtual time), one loop pass, or a change of the protocol's
 * re-entrant hooks and one-shot calls (every public call from inside datagram_received,
 * error_received, pause_writing, resume_writing, connection_lost and, from the header,
 * connection_made). The loop runs on the simulated kernel (aiotp/sim.h).
 *
 * After every record: the deep validators (aiotp__dgram_is_valid, aiotp__dgq_is_valid,
 * aiotp__flow_is_valid), registration consistency with the sim backend, and the harness's
 * model of the DGRAM-* rules; in the callbacks, the datagrams against what was sent
 * (content, sender, at most as often as the kernel could deliver it, in order unless
 * reordered); every trace line goes through the conformance oracle (profile aiotp). Any
 * violation prints "FUZZ VIOLATION [RULE] ..." and calls abort(). Everything is freed per
 * input; a leaked allocation or sim fd is a violation too.
 */
#ifndef AIOTP_FZ_DGRAM_H
#define AIOTP_FZ_DGRAM_H

#include <stddef.h>
#include <stdint.h>

/* Run one input; returns 0 (violations abort). */
int fz_dgram_run(const uint8_t *data, size_t size);

#endif /* AIOTP_FZ_DGRAM_H */
