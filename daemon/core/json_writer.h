// Minimal, fast JSON output: string escaping and re-serialization of simdjson DOM
// values with optional secret redaction. Used on the hot path (every record).
#pragma once

#include <simdjson.h>

#include <functional>
#include <string>
#include <string_view>

namespace ldx {

void append_json_string(std::string& out, std::string_view s);

// Decides whether an object member or string value is a secret to redact.
struct SecretPolicy {
  bool include_secrets = false;  // true: nothing is redacted (config opt-in)
  [[nodiscard]] bool is_secret_key(std::string_view key) const;
  [[nodiscard]] bool is_secret_value(std::string_view value) const;
};

inline constexpr std::string_view kRedactionMarker = "[REDACTED]";

// A number element (int64, uint64 or double) as JSON, the way append_json_value writes
// it: integers in decimal, doubles in their shortest round-trip form.
void append_json_number(std::string& out, simdjson::dom::element v);

// Serializes `v` (minified) into `out`, replacing secret values with the marker.
// Returns the number of values redacted.
size_t append_json_value(std::string& out, simdjson::dom::element v, const SecretPolicy& policy);

}  // namespace ldx
