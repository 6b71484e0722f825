// Small HTTP/JSON helpers shared by the simulator's endpoint families.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace ldsim {

// Wall-clock time in epoch milliseconds.
std::int64_t now_ms();

// Sets a JSON body and status.
void set_json(httplib::Response& res, int status, const nlohmann::ordered_json& body);

// Sets a LaunchDarkly-style error body {"code": ..., "message": ...}.
void set_error(httplib::Response& res, int status, std::string_view code, std::string_view message);

// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay as is).
std::string url_encode(std::string_view s);

// Strict decimal int64: the whole string must be a number.
std::optional<std::int64_t> parse_int64(std::string_view s);

// Strict decimal floating point number.
std::optional<double> parse_double(std::string_view s);

// Case-insensitive (ASCII) substring test.
bool icontains(std::string_view haystack, std::string_view needle);

// Resource-specifier match: '*' matches any run of characters; the pattern is a prefix
// (an implicit trailing '*'), so "proj/default" matches "proj/default:env/test:flag/x".
bool specifier_matches(std::string_view pattern, std::string_view resource);

}  // namespace ldsim
