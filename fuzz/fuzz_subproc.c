/* fuzz/fuzz_subproc.c - the subprocess transport with a SubprocessProtocol, on the
   simulated kernel: a child, then a schedule of its acts, user calls and loop passes,
   checked after every step (fz_subproc.c). */
#include <stddef.h>
#include <stdint.h>

int fz_subproc_run(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_subproc_run(data, size);
}
