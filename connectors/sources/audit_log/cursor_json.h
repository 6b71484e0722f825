// Reading the audit-log cursor's JSON with errors that name the member by its path
// ("window.lower: expected an integer, found a string"), for audit_cursor.cpp and
// audit_completeness.cpp. Each getter throws CursorMalformed; the caller turns it into
// a fatal Status with kCursorResetHint.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace ldx::cursor_json {

using nlohmann::json;

// A malformed member, by its path in the cursor ("window.lower").
struct CursorMalformed {
  std::string what;
};

inline constexpr const char* kCursorResetHint =
    "; to export the stream again from `start`, run `ldexport checkpoints reset audit_log`";

inline std::string found(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a number with a fraction or exponent";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    default: return std::string("a ") + v.type_name();
  }
}

inline const json& member(const json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) throw CursorMalformed{path + ": missing"};
  return *it;
}

inline int64_t get_int(const json& v, const std::string& path) {
  if (!v.is_number_integer()) throw CursorMalformed{path + ": expected an integer, found " + found(v)};
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw CursorMalformed{path + ": expected an integer of 64 bits, found " + v.dump()};
  }
  return v.get<int64_t>();
}

inline std::optional<int64_t> get_opt_int(const json& v, const std::string& path) {
  if (v.is_null()) return std::nullopt;
  return get_int(v, path);
}

inline const json& get_object(const json& v, const std::string& path) {
  if (!v.is_object()) throw CursorMalformed{path + ": expected an object, found " + found(v)};
  return v;
}

inline const json& get_array(const json& v, const std::string& path) {
  if (!v.is_array()) throw CursorMalformed{path + ": expected an array, found " + found(v)};
  return v;
}

inline const std::string& get_string(const json& v, const std::string& path) {
  if (!v.is_string()) throw CursorMalformed{path + ": expected a string, found " + found(v)};
  return v.get_ref<const std::string&>();
}

}  // namespace ldx::cursor_json
