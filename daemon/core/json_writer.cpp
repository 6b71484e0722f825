#include "core/json_writer.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <cstdio>

namespace ldx {

namespace {
// True when one of the 8 bytes in `w` needs escaping in a JSON string: below 0x20, '"'
// or '\\'. Exact as a yes/no answer (the usual "has a zero / smaller byte" word tricks).
inline bool word_needs_escape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  const uint64_t control = (w - kOnes * 0x20) & ~w;
  const uint64_t q = (quote - kOnes) & ~quote;
  const uint64_t b = (backslash - kOnes) & ~backslash;
  return ((control | q | b) & kHighs) != 0;
}
}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Skip 8 bytes at a time while none needs escaping (most strings have none).
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!word_needs_escape(w)) {
        i += 8;
        continue;
      }
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    ++i;
    run = i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(s.data() + run, n - run);
  out.push_back('"');
}

bool SecretPolicy::is_secret_key(std::string_view key) const {
  if (include_secrets) return false;
  // Environment SDK and mobile keys (API-NOTES §4, §5); "sdkKey" appears in some payloads.
  return key == "apiKey" || key == "mobileKey" || key == "sdkKey" || key == "_sdkKey";
}

bool SecretPolicy::is_secret_value(std::string_view v) const {
  if (include_secrets) return false;
  // SDK keys look like "sdk-<uuid>", mobile keys "mob-<uuid>": catch them wherever they
  // appear (e.g. inside an audit entry's previousVersion), whatever the member is called.
  if (v.size() < 40 || v.size() > 48) return false;
  if (!(v.starts_with("sdk-") || v.starts_with("mob-"))) return false;
  for (char c : v.substr(4)) {
    if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == '-')) return false;
  }
  return true;
}

void append_json_number(std::string& out, simdjson::dom::element v) {
  char buf[24];
  switch (v.type()) {
    case simdjson::dom::element_type::INT64: {
      const auto r = std::to_chars(buf, buf + sizeof buf, int64_t(v));
      out.append(buf, r.ptr);
      break;
    }
    case simdjson::dom::element_type::UINT64: {
      const auto r = std::to_chars(buf, buf + sizeof buf, uint64_t(v));
      out.append(buf, r.ptr);
      break;
    }
    default: {
      // Shortest round-trip representation of the double, as simdjson's minifier does.
      out += simdjson::minify(v);
    }
  }
}

size_t append_json_value(std::string& out, simdjson::dom::element v, const SecretPolicy& policy) {
  size_t redacted = 0;
  switch (v.type()) {
    case simdjson::dom::element_type::OBJECT: {
      out.push_back('{');
      bool first = true;
      for (auto field : simdjson::dom::object(v)) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, field.key);
        out.push_back(':');
        if (policy.is_secret_key(field.key) && !field.value.is_null()) {
          append_json_string(out, kRedactionMarker);
          ++redacted;
        } else {
          redacted += append_json_value(out, field.value, policy);
        }
      }
      out.push_back('}');
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (auto item : simdjson::dom::array(v)) {
        if (!first) out.push_back(',');
        first = false;
        redacted += append_json_value(out, item, policy);
      }
      out.push_back(']');
      break;
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view s(v);
      if (policy.is_secret_value(s)) {
        append_json_string(out, kRedactionMarker);
        ++redacted;
      } else {
        append_json_string(out, s);
      }
      break;
    }
    case simdjson::dom::element_type::BOOL: out += bool(v) ? "true" : "false"; break;
    case simdjson::dom::element_type::NULL_VALUE: out += "null"; break;
    default: append_json_number(out, v);
  }
  return redacted;
}

}  // namespace ldx
