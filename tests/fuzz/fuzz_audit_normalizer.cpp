// libFuzzer target: arbitrary bytes as an audit-log page or entry. Whatever the input,
// normalizing must not crash, hang or leak, and every envelope it produces must be
// valid JSON with the input's id. Cursor parsing gets the same input.
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <cstdlib>

#include "sources/audit_log/audit_cursor.h"
#include "sources/audit_log/audit_log_normalizer.h"

namespace {
void normalize(simdjson::dom::element e, bool include_secrets) {
  auto r = ldx::normalize_audit_entry(e, ldx::SecretPolicy{include_secrets}, 1764000000000);
  if (!r.is_ok()) return;
  auto env = nlohmann::json::parse(r->envelope, nullptr, false);
  if (env.is_discarded() || env["id"] != r->id) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(reinterpret_cast<const char*>(data), size).get(doc) == simdjson::SUCCESS) {
    simdjson::dom::array items;
    if (doc["items"].get(items) == simdjson::SUCCESS) {
      for (auto item : items) normalize(item, false);
    } else {
      normalize(doc, size % 2 == 0);
    }
  }
  auto j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (!j.is_discarded()) {
    auto c = ldx::AuditCursor::from_json(j);
    if (c.is_ok()) {
      // A cursor that parsed must round-trip.
      auto again = ldx::AuditCursor::from_json(c->to_json());
      if (!again.is_ok() || again->to_json() != c->to_json()) std::abort();
    }
  }
  return 0;
}
