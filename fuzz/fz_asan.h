/*
 * fuzz/fz_asan.h - what the fuzz targets need from AddressSanitizer when it is there:
 * POISON/UNPOISON for memory the harness hands out itself (so a use after free or an
 * overflow is still caught), and FZ_ASAN_DEFAULT_OPTIONS(), which defines the options
 * the runtime starts with (once per binary): an 8 MiB quarantine instead of 256 MiB, so
 * that inputs reuse warm pages (fuzz/README.md, "Throughput"). ASAN_OPTIONS overrides it.
 */
#ifndef FZ_ASAN_H
#define FZ_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif

#ifdef FZ_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#define FZ_ASAN_DEFAULT_OPTIONS()                                                     \
    const char *__asan_default_options(void);                                          \
    const char *__asan_default_options(void)                                           \
    {                                                                                  \
        return "quarantine_size_mb=8";                                                 \
    }
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define FZ_ASAN_DEFAULT_OPTIONS() /* no sanitizer */
#endif

#endif /* FZ_ASAN_H */
