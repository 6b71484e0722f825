#include "sinks/postgres/pg_identifiers.h"

#include <cstring>

namespace ldx::pg {

namespace {
bool is_lead(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_tail(char c) { return is_lead(c) || (c >= '0' && c <= '9'); }
}  // namespace

Status validate_identifier(std::string_view name, std::string_view what) {
  const std::string label = std::string(what) + " '" + std::string(name) + "'";
  if (name.empty()) return Status::fatal(std::string(what) + " is empty");
  if (name.size() > kMaxIdentifierBytes) {
    return Status::fatal(label + " is longer than " + std::to_string(kMaxIdentifierBytes) +
                         " bytes (Postgres would truncate it)");
  }
  if (!is_lead(name.front())) return Status::fatal(label + " must start with a letter or '_'");
  for (char c : name) {
    if (!is_tail(c)) return Status::fatal(label + " may contain only letters, digits and '_'");
  }
  if (name.size() >= 3 && (name.substr(0, 3) == "pg_" || name.substr(0, 3) == "PG_")) {
    return Status::fatal(label + " starts with 'pg_', which Postgres reserves for system schemas");
  }
  return Status::ok();
}

std::string quote_identifier(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out.push_back('"');
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string qualified(std::string_view schema, std::string_view table) {
  return quote_identifier(schema) + "." + quote_identifier(table);
}

int64_t writer_lock_key(std::string_view schema, std::string_view stream) {
  uint64_t h = 14695981039346656037ULL;  // FNV-1a 64 offset basis
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;  // FNV prime
    }
  };
  mix("ldexport/");
  mix(schema);
  mix("/");
  mix(stream);
  int64_t key = 0;
  std::memcpy(&key, &h, sizeof key);
  return key;
}

}  // namespace ldx::pg
