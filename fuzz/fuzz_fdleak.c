/* fuzz/fuzz_fdleak.c - not a fuzz target: it opens /dev/null and leaves it open when the
   input starts with 'L'. The drivers' per-input fd check (fz_fdcheck.h) must catch it:
   the CTests fuzz.fd_check.* pass only if the replay and the stdin driver report
   "FUZZ VIOLATION [FD-LEAK]" (and run_campaign.sh fuzz_fdleak must find it with AFL++). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 'L') {
        return open("/dev/null", O_RDONLY) < 0; /* leaked on purpose */
    }
    return 0;
}
