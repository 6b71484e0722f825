#include "telemetry/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <memory>

#include "core/json_writer.h"
#include "core/time_util.h"
#include "telemetry/log_fields.h"

namespace ldx {

namespace {
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}
}  // namespace

void format_json_log_line(std::string& out, int64_t time_ms, std::string_view level, std::string_view msg) {
  out += "{\"time\":";
  append_json_timestamp(out, time_ms);
  out += ",\"level\":\"";
  out += level;
  out += "\",\"msg\":";
  append_json_string(out, msg);
  // Formatted on the thread that logs, so these are the fields of the line's own work.
  const auto& fields = log_fields();
  for (size_t i = 0; i < kLogFieldCount; ++i) {
    const std::string& v = fields[i];
    if (v.empty()) continue;
    out += ",\"";
    out += log_field_name(static_cast<LogField>(i));
    out += "\":";
    if (static_cast<LogField>(i) == LogField::kStatus && all_digits(v)) {
      out += v;
    } else {
      append_json_string(out, v);
    }
  }
  out += "}\n";
}

namespace {
// The level as `log.level` names it (spdlog says "warning" where the config says "warn"),
// so a filter written from the config reference matches.
std::string_view json_level(spdlog::level::level_enum level) {
  if (level == spdlog::level::warn) return "warn";
  const auto name = spdlog::level::to_string_view(level);
  return {name.data(), name.size()};
}

class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    std::string out;
    format_json_log_line(out, ms, json_level(msg.level), std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(out.data(), out.data() + out.size());
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }
};
}  // namespace

void setup_default_logging() {
  auto logger = spdlog::stderr_color_mt("ldexport");
  logger->set_pattern(kTextPattern);
  spdlog::set_default_logger(logger);
}

void setup_logging(const LogConfig& cfg, LogOutput output) {
  const bool to_stdout = output == LogOutput::kStdout;
  if (to_stdout) {
    auto logger = std::make_shared<spdlog::logger>("ldexport", std::make_shared<spdlog::sinks::stdout_color_sink_mt>());
    logger->set_pattern(kTextPattern);
    spdlog::set_default_logger(logger);
  }
  spdlog::set_level(spdlog::level::from_str(cfg.level));
  const int fd = to_stdout ? STDOUT_FILENO : STDERR_FILENO;
  const bool json = cfg.format == "json" || (cfg.format == "auto" && !::isatty(fd));
  if (json) spdlog::set_formatter(make_json_line_formatter());
}

std::unique_ptr<spdlog::formatter> make_json_line_formatter() { return std::make_unique<JsonLineFormatter>(); }

}  // namespace ldx
