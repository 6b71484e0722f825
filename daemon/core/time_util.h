// Durations ("30s", "2m", "1h30m", "500ms", "7d", "7y") and RFC 3339 timestamps.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ldx {

using Millis = std::chrono::milliseconds;

// The longest duration parse_duration accepts: 100 years (365-day years), well inside what
// can be added to a clock's now (int64 nanoseconds since 1970 run out in 2262).
inline constexpr Millis kMaxDuration{100LL * 365 * 86'400'000};

// Parses "500ms", "30s", "2m", "1h30m", "7d", "1w", "7y" (365 d): one or more whole
// numbers, each followed by a unit (ms, s, m, h, d, w, y). Returns nullopt on bad input,
// and also when the total is longer than kMaxDuration; `too_long` (when given) is then
// set to true, to tell that case from a syntax error. Never wraps around.
std::optional<Millis> parse_duration(std::string_view text, bool* too_long = nullptr);
std::string format_duration(Millis d);

// Parses RFC 3339 ("2025-01-01T00:00:00Z", fractions, "+02:00" offsets) to epoch ms.
std::optional<int64_t> parse_rfc3339_ms(std::string_view text);
// Formats epoch ms as RFC 3339 UTC with milliseconds: 2026-11-27T10:15:02.113Z
std::string format_rfc3339_ms(int64_t epoch_ms);
// The same, appended to `out` (no string of its own: for the per-record hot path).
void append_rfc3339_ms(std::string& out, int64_t epoch_ms);
// ... as a JSON string (it has nothing to escape).
inline void append_json_timestamp(std::string& out, int64_t epoch_ms) {
  out.push_back('"');
  append_rfc3339_ms(out, epoch_ms);
  out.push_back('"');
}

int64_t wall_now_ms();

}  // namespace ldx
