/* fuzz/fuzz_tls.c - the TLS transport: a client and a server over the simulated kernel
   with the harness as the wire between them (record boundaries, truncation, alerts,
   garbage, FIN, resets, timeouts, socket faults), checked after every step (fz_tls.h). */
#include "fz_tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_tls_run(data, size);
}
