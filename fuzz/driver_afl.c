/* fuzz/driver_afl.c - the AFL++ persistent-mode driver (built with afl-clang-fast): one
   process runs many inputs through LLVMFuzzerTestOneInput with shared-memory test cases.
   The harness frees everything per input and checks for leaks, so state does not carry
   over between inputs. Built with another compiler it reads one input from stdin. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#endif

int main(void)
{
#ifdef __AFL_FUZZ_TESTCASE_LEN
    unsigned char *buf;
    __AFL_INIT();
    buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(10000)) {
        int len = __AFL_FUZZ_TESTCASE_LEN;
        (void)LLVMFuzzerTestOneInput(buf, (size_t)len);
    }
    return 0;
#else
    static unsigned char buf[1 << 16];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) && (n = read(0, buf + len, sizeof(buf) - len)) > 0) {
        len += (size_t)n;
    }
    (void)LLVMFuzzerTestOneInput(buf, len);
    return 0;
#endif
}
