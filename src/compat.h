/* src/compat.h - system constants that the strict build (_POSIX_C_SOURCE 200809L, no
   _DEFAULT_SOURCE) does not declare although the kernel has them. Layer 1
   (spec/architecture.md): any file may include it. */
#ifndef AIOTP_COMPAT_H
#define AIOTP_COMPAT_H

#include <sys/socket.h>

/* SO_REUSEPORT (Linux 3.9+): glibc declares it only with __USE_MISC. The values are
   those of the kernel's asm/socket.h per architecture. */
#if !defined(SO_REUSEPORT) && defined(__linux__)
#if defined(__alpha__) || defined(__mips__) || defined(__sparc__)
#define SO_REUSEPORT 0x0200
#elif defined(__hppa__)
#define SO_REUSEPORT 0x4004
#else
#define SO_REUSEPORT 15
#endif
#endif

#endif /* AIOTP_COMPAT_H */
