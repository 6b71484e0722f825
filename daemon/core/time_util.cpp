#include "core/time_util.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace ldx {

std::optional<Millis> parse_duration(std::string_view text, bool* too_long) {
  if (too_long != nullptr) *too_long = false;
  if (text.empty()) return std::nullopt;
  // Every value is kept at or below kLimit (just above kMaxDuration), so no product or
  // sum below can overflow; anything that reaches it is too long.
  constexpr int64_t kLimit = kMaxDuration.count() + 1;
  int64_t total = 0;
  bool over = false;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = std::min(kLimit, n * 10 + (text[i] - '0'));
      ++i;
    }
    size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(u, i - u);
    int64_t mult = 0;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else if (unit == "d") mult = 86'400'000;
    else if (unit == "w") mult = 7 * 86'400'000LL;
    else if (unit == "y") mult = 365 * 86'400'000LL;
    else return std::nullopt;
    if (n > kLimit / mult) {
      over = true;  // keep reading: a syntax error later in the text is reported as such
      continue;
    }
    total = std::min(kLimit, total + n * mult);
  }
  if (over || total > kMaxDuration.count()) {
    if (too_long != nullptr) *too_long = true;
    return std::nullopt;
  }
  return Millis(total);
}

std::string format_duration(Millis d) {
  int64_t ms = d.count();
  if (ms % 3'600'000 == 0 && ms) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

namespace {
// Days from civil date (Howard Hinnant's algorithm), proleptic Gregorian.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool read_int(std::string_view s, size_t pos, size_t len, int& out) {
  if (pos + len > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}
}  // namespace

std::optional<int64_t> parse_rfc3339_ms(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!read_int(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !read_int(s, 5, 2, mo) ||
      s[7] != '-' || !read_int(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !read_int(s, 11, 2, h) || s[13] != ':' || !read_int(s, 14, 2, mi) || s[16] != ':' ||
      !read_int(s, 17, 2, se))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  size_t i = 19;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 3; ++k) frac_ms *= 10;
  }
  int64_t offset_min = 0;
  if (i >= s.size()) return std::nullopt;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh = 0, om = 0;
    if (!read_int(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !read_int(s, i + 4, 2, om))
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
  return secs * 1000 + frac_ms;
}

void append_rfc3339_ms(std::string& out, int64_t epoch_ms) {
  int64_t secs = epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000;
  int ms = static_cast<int>(epoch_ms - secs * 1000);
  // Years 1970..9999, every record's timestamps: digits by hand (snprintf was a visible
  // share of the normalizer's time). Days to civil date: the proleptic Gregorian
  // calendar in 400-year eras of 146097 days.
  if (secs >= 0 && secs < 253402300800) {
    const int64_t days = secs / 86400;
    const int64_t sod = secs % 86400;
    const int64_t z = days + 719468;
    const int64_t era = z / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    char buf[] = "0000-00-00T00:00:00.000Z";
    auto put = [&buf](size_t at, int64_t v, int width) {
      for (int i = width - 1; i >= 0; --i) {
        buf[at + static_cast<size_t>(i)] = static_cast<char>('0' + v % 10);
        v /= 10;
      }
    };
    put(0, y, 4);
    put(5, m, 2);
    put(8, d, 2);
    put(11, sod / 3600, 2);
    put(14, sod / 60 % 60, 2);
    put(17, sod % 60, 2);
    put(20, ms, 3);
    out.append(buf, sizeof buf - 1);
    return;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  out += buf;
}

std::string format_rfc3339_ms(int64_t epoch_ms) {
  std::string out;
  append_rfc3339_ms(out, epoch_ms);
  return out;
}

int64_t wall_now_ms() {
  return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace ldx
