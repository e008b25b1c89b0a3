/**
 * @file
 * @brief Umbrella header: everything of libaiotp (not sim.h, not oracle.h, which belong
 * to the libraries aiotp_sim and aiotp_oracle).
 */
#ifndef AIOTP_AIOTP_H
#define AIOTP_AIOTP_H
#include "aiotp/version.h"
#include "aiotp/error.h"
#include "aiotp/sys.h"
#include "aiotp/backend.h"
#include "aiotp/loop.h"
#include "aiotp/protocol.h"
#include "aiotp/transport.h"
#include "aiotp/server.h"
#include "aiotp/datagram.h"
#include "aiotp/pipe.h"
#include "aiotp/subprocess.h"
#endif
