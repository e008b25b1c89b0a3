/*
 * fuzz/fz_tls.h - the property-checking harness of the TLS transport (fuzz_tls;
 * fuzz/README.md, "The TLS target").
 *
 * A client and a server TLS transport of one loop on the simulated kernel, each over its
 * own sim socket pair whose other end the harness holds: the harness is the wire between
 * them (a man in the middle that relays the encrypted bytes in chunks of the input's
 * sizes, so records arrive split anywhere, and that can inject garbage or a plaintext
 * alert record, cut a record short with a FIN, send a bare FIN, reset a connection).
 * Both sides' application calls (write, close, abort, pause/resume_reading, write
 * limits), kernel faults on the transports' sockets (EAGAIN, EINTR, short sends, small
 * socket buffers) and virtual time (handshake and shutdown timeouts) come from the
 * input. A fixed test certificate made at build time and a deterministic random source
 * (fz_tls.c) make an input replay the same bytes on the wire.
 *
 * Checked after every record and in every callback: the conformance oracle on the trace,
 * aiotp__tls_is_valid and the write flow state of both transports, plaintext integrity
 * (each side gets a prefix of what the other side's write() accepted, in order and
 * unchanged; all of it when nothing destructive happened), connection_made once and
 * first, connection_lost once and last, nothing for a handshake that failed, the
 * completion exactly once; per input no allocation and no sim fd left.
 */
#ifndef AIOTP_FZ_TLS_H
#define AIOTP_FZ_TLS_H

#include <stddef.h>
#include <stdint.h>

/* Run one input; returns 0 (violations abort). */
int fz_tls_run(const uint8_t *data, size_t size);

#endif /* AIOTP_FZ_TLS_H */
