#include "sim_config.h"

#include <charconv>

namespace ldsim {

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  if (text == "off" || text == "0") return std::chrono::milliseconds{0};
  std::int64_t value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc{} || ptr == begin || value < 0) return std::nullopt;
  const std::string unit(ptr, end);
  std::int64_t factor = 0;
  if (unit.empty() || unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60 * 1000;
  } else {
    return std::nullopt;
  }
  if (value > INT64_MAX / factor) return std::nullopt;
  return std::chrono::milliseconds{value * factor};
}

}  // namespace ldsim
