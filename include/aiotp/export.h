/**
 * @file aiotp/export.h
 * @brief Linkage and visibility of the public declarations.
 *
 * Every public header puts its declarations between #AIOTP_BEGIN_DECLS and
 * #AIOTP_END_DECLS (after its own `#include` lines). The pair gives them C linkage in
 * C++ (`extern "C"`) and default visibility: the library is compiled with hidden
 * visibility, so a shared libaiotp exports exactly the functions the public headers
 * declare and nothing of its internals (spec/packaging.md says why a pair per header
 * rather than a macro on each declaration). #AIOTP_API marks one declaration written
 * outside such a block.
 */
#ifndef AIOTP_EXPORT_H
#define AIOTP_EXPORT_H

#if defined(__GNUC__) && __GNUC__ >= 4 /* gcc, clang */
/** Default visibility for one declaration outside an #AIOTP_BEGIN_DECLS block. */
#define AIOTP_API __attribute__((visibility("default")))
#define AIOTP__VISIBILITY_PUSH _Pragma("GCC visibility push(default)")
#define AIOTP__VISIBILITY_POP _Pragma("GCC visibility pop")
#else
#define AIOTP_API
#define AIOTP__VISIBILITY_PUSH
#define AIOTP__VISIBILITY_POP
#endif

#ifdef __cplusplus
/** Opens the declarations of a public header: C linkage, exported. */
#define AIOTP_BEGIN_DECLS extern "C" { AIOTP__VISIBILITY_PUSH
/** Closes what #AIOTP_BEGIN_DECLS opened. */
#define AIOTP_END_DECLS AIOTP__VISIBILITY_POP }
#else
/** Opens the declarations of a public header: exported. */
#define AIOTP_BEGIN_DECLS AIOTP__VISIBILITY_PUSH
/** Closes what #AIOTP_BEGIN_DECLS opened. */
#define AIOTP_END_DECLS AIOTP__VISIBILITY_POP
#endif

#endif /* AIOTP_EXPORT_H */
