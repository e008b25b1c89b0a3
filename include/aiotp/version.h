/* aiotp/version.h */
#ifndef AIOTP_VERSION_H
#define AIOTP_VERSION_H
#define AIOTP_VERSION_MAJOR 0
#define AIOTP_VERSION_MINOR 1
#define AIOTP_VERSION_PATCH 0
#define AIOTP_VERSION_STRING "0.1.0"
const char *aiotp_version(void);
#endif
