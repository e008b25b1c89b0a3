/* fuzz/driver_afl.c - the AFL++ persistent-mode driver (built with afl-clang-fast): one
   process runs many inputs through LLVMFuzzerTestOneInput with shared-memory test cases.
   The harness frees everything per input and checks for leaks, so state does not carry
   over between inputs; a real fd leaked (or closed) by an input aborts here
   (fz_fdcheck.h). Built with another compiler it reads one input from stdin. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fz_fdcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef __AFL_FUZZ_TESTCASE_LEN
/* afl-clang-fast's macros use a statement expression and leave an extra ';': the only
   code of the AFL++ build that is not strict C99 */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#pragma clang diagnostic ignored "-Wextra-semi"
#endif
__AFL_FUZZ_INIT();
#endif

int main(void)
{
    fz_fds fds;
#ifdef __AFL_FUZZ_TESTCASE_LEN
    unsigned char *buf;
    unsigned long k = 0;
    __AFL_INIT();
    buf = __AFL_FUZZ_TESTCASE_BUF;
    /* one snapshot before the first input; every later input starts from the state the
       last one was checked to have left, the same (no branch on the first input: AFL++
       stability) */
    fz_fds_take(&fds);
    while (__AFL_LOOP(10000)) {
        int len = __AFL_FUZZ_TESTCASE_LEN;
        k++;
        (void)LLVMFuzzerTestOneInput(buf, (size_t)len);
        if (!fz_fds_same(&fds)) { /* the label is made only for a report */
            char label[64];
            snprintf(label, sizeof(label), "#%lu of this process (%d bytes)", k, len);
            fz_fds_check(&fds, label);
        }
    }
    return 0;
#else
    static unsigned char buf[1 << 16];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) && (n = read(0, buf + len, sizeof(buf) - len)) > 0) {
        len += (size_t)n;
    }
    fz_fds_take(&fds);
    (void)LLVMFuzzerTestOneInput(buf, len);
    fz_fds_check(&fds, "<stdin>");
    return 0;
#endif
}
