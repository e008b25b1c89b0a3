/* fuzz/fuzz_dgram.c - the datagram transport with a DatagramProtocol, on the simulated
   kernel: a setup, then a schedule of user calls, kernel events and re-entrant callbacks
   decoded from the input, checked after every step (fz_dgram.h). */
#include "fz_dgram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_dgram_run(data, size);
}
