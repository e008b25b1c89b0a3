/* fuzz/fuzz_dgram_negative.c - the datagram harness linked against a planted bug: a copy
   of src/dgram.c whose maybe_resume() takes the queue's size for 0, so that a drain that
   stops on EAGAIN calls resume_writing while the size is still above low (DGRAM-FLOW-1),
   made by fuzz/CMakeLists.txt at build time. The checks must catch it: its CTest passes only if
   replaying fuzz/corpus/fuzz_dgram_negative/ reports a violation. */
#include "fz_dgram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_dgram_run(data, size);
}
