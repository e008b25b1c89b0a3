/* fuzz/fuzz_stream.c - the stream transport with a streaming Protocol, on the simulated
   kernel: a schedule of user calls, kernel events and re-entrant callbacks decoded from
   the input, checked after every step (fz_harness.h). */
#include "fz_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fz_config cfg = {0};
    return fz_run(data, size, &cfg);
}
