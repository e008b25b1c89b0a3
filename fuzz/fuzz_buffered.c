/* fuzz/fuzz_buffered.c - the same schedule with a BufferedProtocol first: get_buffer
   hands out buffers of the size the input chooses (0 included: a fatal AIOTP_EEMPTYBUF,
   PROTO-BUF-2), and set_protocol may switch between the two kinds. */
#include "fz_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fz_config cfg = {1};
    return fz_run(data, size, &cfg);
}
