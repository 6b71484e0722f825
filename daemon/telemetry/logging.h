// Log setup: human-readable lines on a terminal, one JSON object per line otherwise
// (containers), on stderr. Nothing logs the token: messages are built from paths,
// statuses and reasons only.
#pragma once

#include "config/config.h"

namespace ldx {
void setup_logging(const LogConfig& cfg);
void setup_default_logging();
}  // namespace ldx
