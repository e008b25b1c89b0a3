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

/* The harnesses' static arenas (the oracle's blocks, fz_common.c and fuzz_trace.c), reset
   at every input. Blocks are carved from *used up, each followed by a poisoned gap of
   FZ_ARENA_GAP bytes, so only the part the last input used can hold unpoisoned bytes. */
#define FZ_ARENA_GAP 64u

#include <stdbool.h>
#include <stddef.h>

/* Poison what the last input used (everything the first time: a conditional expression,
   not a branch, so the first input of a process takes the same edges as the others,
   AFL++ stability) and start again. */
static inline void fz_arena_reset(unsigned char *bytes, size_t size, size_t *used,
                                  bool *poisoned)
{
    POISON(bytes, *poisoned ? *used : size);
    *poisoned = true;
    *used = 0;
}

/* n bytes, unpoisoned, from the arena; NULL when they do not fit. */
static inline void *fz_arena_take(unsigned char *bytes, size_t size, size_t *used, size_t n)
{
    size_t need = (n + FZ_ARENA_GAP + 63u) & ~(size_t)63u;
    void *p;
    if (n >= size || need > size - *used) {
        return NULL;
    }
    p = bytes + *used;
    *used += need;
    UNPOISON(p, n);
    return p;
}

#endif /* FZ_ASAN_H */
