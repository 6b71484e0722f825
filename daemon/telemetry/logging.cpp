#include "telemetry/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "core/json_writer.h"
#include "core/time_util.h"

namespace ldx {

namespace {
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    std::string out = "{\"time\":\"" + format_rfc3339_ms(ms) + "\",\"level\":\"";
    auto lvl = spdlog::level::to_string_view(msg.level);
    out.append(lvl.data(), lvl.size());
    out += "\",\"msg\":";
    append_json_string(out, std::string_view(msg.payload.data(), msg.payload.size()));
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }
};
}  // namespace

void setup_default_logging() {
  auto logger = spdlog::stderr_color_mt("ldexport");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
}

void setup_logging(const LogConfig& cfg) {
  spdlog::set_level(spdlog::level::from_str(cfg.level));
  bool json = cfg.format == "json" || (cfg.format == "auto" && !::isatty(STDERR_FILENO));
  if (json) spdlog::set_formatter(std::make_unique<JsonLineFormatter>());
}

}  // namespace ldx
