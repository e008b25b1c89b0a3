/* fuzz/fuzz_dgram_negative.c - the datagram harness linked against a planted bug: a copy
   of src/dgram.c that checks resume_writing against half the queue's size, so that
   resume_writing comes while the size is still above low (DGRAM-FLOW-1), made by
   fuzz/CMakeLists.txt at build time. The checks must catch it: its CTest passes only if
   replaying fuzz/corpus/fuzz_dgram_negative/ reports a violation. */
#include "fz_dgram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_dgram_run(data, size);
}
