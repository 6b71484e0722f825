// Log setup: human-readable lines on a terminal, one JSON object per line otherwise
// (containers). The daemon verbs (`run`, `once`) log on stdout, the others on stderr,
// so their stdout stays their output. Nothing logs the token: messages are built from
// paths, statuses and reasons only. JSON lines carry the fields of log_fields.h.
#pragma once

#include <spdlog/formatter.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"

namespace ldx {
enum class LogOutput { kStdout, kStderr };
void setup_logging(const LogConfig& cfg, LogOutput output);
void setup_default_logging();
// One JSON log line (with its newline): time, level, msg, then this thread's set fields.
void format_json_log_line(std::string& out, int64_t time_ms, std::string_view level, std::string_view msg);

// The formatter of JSON lines: format_json_log_line with the level named as `log.level`
// names it (trace, debug, info, warn, error).
std::unique_ptr<spdlog::formatter> make_json_line_formatter();
}  // namespace ldx
