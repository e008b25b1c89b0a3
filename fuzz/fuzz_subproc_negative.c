/* fuzz/fuzz_subproc_negative.c - the fuzz_subproc harness linked against a copy of
   src/subprocess.c whose close() never kills a running child (fuzz/CMakeLists.txt,
   plant_bug.cmake): the harness must find it (SUBPROC-LOST-1: no connection_lost after
   close()). */
#include <stddef.h>
#include <stdint.h>

int fz_subproc_run(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_subproc_run(data, size);
}
