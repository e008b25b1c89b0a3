/*
 * fuzz/fz_harness.h - the property-checking harness shared by the stream fuzz targets.
 *
 * An input is a sequence of fixed-size op records (FZ_REC bytes each: op, a, b16 little
 * endian); a trailing partial record is ignored. Each record is one user call on the
 * transport (write, writelines, write_eof, close, abort, pause/resume_reading, set
 * limits, set_protocol), one simulated kernel event (the peer sends/reads/shuts/closes,
 * next send partial, EAGAIN, EINTR, reset, socket buffer size, time), one loop pass, or
 * a change of the protocol's re-entrant hooks (close inside resume_writing, abort inside
 * pause_writing, write inside data_received, set_write_buffer_limits inside
 * pause_writing, ...). The loop runs on the simulated kernel (aiotp/sim.h).
 *
 * After every record the harness runs the deep validators on the transport
 * (aiotp__stream_is_valid, aiotp__flow_is_valid, aiotp__wbuf_is_valid, registration
 * consistency) and its own model of the documented rules; every trace line goes through
 * the conformance oracle (aiotp/oracle.h). Any violation prints "FUZZ VIOLATION: ..."
 * and calls abort(). Everything is freed per input, and a leaked allocation or sim fd is
 * a violation too.
 */
#ifndef AIOTP_FZ_HARNESS_H
#define AIOTP_FZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "fz_common.h" /* FZ_REC, FZ_MAX_OPS */

typedef struct fz_config {
    int buffered; /* start with a BufferedProtocol */
} fz_config;

/* Run one input; returns 0 (violations abort). */
int fz_run(const uint8_t *data, size_t size, const fz_config *cfg);

#endif /* AIOTP_FZ_HARNESS_H */
