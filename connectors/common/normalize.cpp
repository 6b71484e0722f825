#include "common/normalize.h"

#include <cmath>
#include <utility>

namespace ldx {

ResourceScope parse_resource_specifier(std::string_view spec) {
  ResourceScope out;
  while (!spec.empty()) {
    size_t colon = spec.find(':');
    std::string_view part = spec.substr(0, colon);
    if (auto semi = part.find(';'); semi != std::string_view::npos) part = part.substr(0, semi);
    if (part.starts_with("proj/")) {
      part.remove_prefix(5);
      if (part != "*") out.project = std::string(part);
    } else if (part.starts_with("env/")) {
      part.remove_prefix(4);
      if (part != "*") out.environment = std::string(part);
    }
    if (colon == std::string_view::npos) break;
    spec.remove_prefix(colon + 1);
  }
  return out;
}

std::optional<std::string_view> get_string(simdjson::dom::element obj, std::string_view key) {
  std::string_view s;
  if (obj[key].get(s) != simdjson::SUCCESS) return std::nullopt;
  return s;
}

std::optional<int64_t> get_int64(simdjson::dom::element obj, std::string_view key) {
  simdjson::dom::element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  int64_t i = 0;
  if (v.get(i) == simdjson::SUCCESS) return i;
  double d = 0;
  if (v.get(d) == simdjson::SUCCESS && std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::string serialize_redacted(simdjson::dom::element v, const SecretPolicy& policy) {
  // Written into a buffer kept by the thread, then copied once at its final size: a
  // string grown from empty would be reallocated about ten times per object.
  thread_local std::string scratch;
  scratch.clear();
  append_json_value(scratch, v, policy);
  if (scratch.capacity() > (size_t{1} << 20)) return std::exchange(scratch, std::string());  // not kept: huge
  return std::string(scratch);
}

}  // namespace ldx
