/* fuzz/fuzz_negative.c - the stream harness linked against a planted bug: a copy of
   src/core/flow.c whose pause rule is `size >= high` instead of `size > high` (FLOW-4),
   made by fuzz/CMakeLists.txt at build time. The checks must catch it: its CTest passes
   only if replaying fuzz/corpus/fuzz_negative/ reports a violation. */
#include "fz_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fz_config cfg = {0};
    return fz_run(data, size, &cfg);
}
