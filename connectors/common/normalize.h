// Helpers shared by every stream's normalizer: pure functions, no I/O.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/json_writer.h"

namespace ldx {

struct ResourceScope {
  std::string project;
  std::string environment;
};

// Reads a LaunchDarkly resource specifier ("proj/default:env/production:flag/x;tag")
// for its project and environment keys; "*" and missing parts come back empty.
ResourceScope parse_resource_specifier(std::string_view spec);

// Field readers that accept what the spec's samples actually contain.
std::optional<std::string_view> get_string(simdjson::dom::element obj, std::string_view key);
// int64 milliseconds: integers, or doubles that hold an integral value.
std::optional<int64_t> get_int64(simdjson::dom::element obj, std::string_view key);

// Minified JSON of `v` with secrets replaced by the redaction marker.
std::string serialize_redacted(simdjson::dom::element v, const SecretPolicy& policy);

}  // namespace ldx
