/* src/checksum.h - the checksum of the traces (spec/trace-format.md). Layer 1
   (spec/architecture.md): a pure function any layer may use. */
#ifndef AIOTP_CHECKSUM_H
#define AIOTP_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 as zlib.crc32: crc = aiotp__crc32(crc, data, len), starting from 0. */
uint32_t aiotp__crc32(uint32_t crc, const void *data, size_t len);

#endif /* AIOTP_CHECKSUM_H */
