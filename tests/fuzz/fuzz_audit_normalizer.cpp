// libFuzzer target: arbitrary bytes as an audit-log page or entry. Whatever the input,
// normalizing must not crash, hang or leak, and every envelope it produces must be
// valid JSON with the input's id. Its data must be in canonical form (the hash chain
// hashes it as it is), and the hash computed from the record's fields must equal the
// one recomputed from its envelope (what `ldexport verify` does). Cursor parsing gets
// the same input.
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <cstdlib>

#include "common/canonical_json.h"
#include "common/hash_chain.h"
#include "sources/audit_log/audit_cursor.h"
#include "sources/audit_log/audit_log_normalizer.h"

namespace {
void normalize(simdjson::dom::element e, bool include_secrets) {
  auto r = ldx::normalize_audit_entry(e, ldx::SecretPolicy{include_secrets}, 1764000000000);
  if (!r.is_ok()) return;
  auto env = nlohmann::json::parse(r->envelope, nullptr, false);
  if (env.is_discarded() || env["id"] != r->id) std::abort();
  // The data is its own canonical form, one level below the envelope's top.
  std::string canonical;
  ldx::CanonicalOptions nested;
  nested.depth = 1;
  if (!r->data_is_canonical || !ldx::append_canonical_json(canonical, r->data, nested) || canonical != r->data) {
    std::abort();
  }
  // Hashed from the fields (data as it is) == hashed from the finished envelope.
  ldx::Record chained = std::move(r.value());
  chained.chain_prev = std::string(ldx::kChainGenesis);
  chained.finish();
  auto from_fields = ldx::record_hash(chained);
  auto from_envelope = ldx::record_hash(chained.envelope);
  if (!from_fields.is_ok() || !from_envelope.is_ok() || from_fields.value() != from_envelope.value()) std::abort();
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
