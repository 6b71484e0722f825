#include "common/big_numbers.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace ldx {

namespace {

// As it appears in text: the JSON escape of NUL, then a tag no API value starts with.
constexpr std::string_view kMarkerText = "\"\\u0000ldx-number:";

bool number_char(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'; }

bool representable(std::string_view lit) {
  if (lit.find_first_of(".eE") == std::string_view::npos) {
    if (!lit.empty() && lit.front() == '-') {
      int64_t v = 0;
      auto r = std::from_chars(lit.data(), lit.data() + lit.size(), v);
      return r.ec == std::errc() && r.ptr == lit.data() + lit.size();
    }
    uint64_t v = 0;
    auto r = std::from_chars(lit.data(), lit.data() + lit.size(), v);
    return r.ec == std::errc() && r.ptr == lit.data() + lit.size();
  }
  const std::string copy(lit);
  const double d = std::strtod(copy.c_str(), nullptr);
  return std::isfinite(d);  // underflow to 0 is what simdjson does too
}

}  // namespace

size_t rewrite_unrepresentable_numbers(std::string_view json, std::string& out) {
  out.clear();
  size_t rewritten = 0;
  size_t copied = 0;  // json[0, copied) is in `out` (once anything was rewritten)
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    size_t end = i;
    while (end < json.size() && number_char(json[end])) ++end;
    const std::string_view lit = json.substr(i, end - i);
    if (!representable(lit)) {
      if (rewritten == 0) out.reserve(json.size() + 64);
      out.append(json.substr(copied, i - copied));
      out.append(kMarkerText);
      out.append(lit);
      out.push_back('"');
      copied = end;
      ++rewritten;
    }
    i = end - 1;
  }
  if (rewritten == 0) return 0;
  out.append(json.substr(copied));
  return rewritten;
}

bool has_rewritten_number(std::string_view minified) { return minified.find(kMarkerText) != std::string_view::npos; }

std::string restore_rewritten_numbers(std::string_view minified) {
  std::string out;
  out.reserve(minified.size());
  size_t pos = 0;
  for (;;) {
    const size_t at = minified.find(kMarkerText, pos);
    if (at == std::string_view::npos) break;
    const size_t lit_begin = at + kMarkerText.size();
    const size_t close = minified.find('"', lit_begin);
    if (close == std::string_view::npos) break;
    out.append(minified.substr(pos, at - pos));
    out.append(minified.substr(lit_begin, close - lit_begin));
    pos = close + 1;
  }
  out.append(minified.substr(pos));
  return out;
}

}  // namespace ldx
