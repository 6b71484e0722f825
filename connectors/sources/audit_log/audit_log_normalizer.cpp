#include "sources/audit_log/audit_log_normalizer.h"

#include <algorithm>

#include "common/canonical_json.h"
#include "common/json_diff.h"
#include "common/normalize.h"

namespace ldx {

namespace {
// previousVersion / currentVersion present and not null (detail entries only).
bool has_version(simdjson::dom::element entry, std::string_view key) {
  simdjson::dom::element v;
  return entry[key].get(v) == simdjson::SUCCESS && !v.is_null();
}
}  // namespace

Result<Record> normalize_audit_entry(simdjson::dom::element entry, const SecretPolicy& policy,
                                     int64_t observed_at_ms) {
  if (!entry.is_object()) return Status::data_error("audit entry is not a JSON object");
  auto id = get_string(entry, "_id");
  if (!id || id->empty()) return Status::data_error("audit entry has no string _id");
  auto date = get_int64(entry, "date");
  if (!date) return Status::data_error("audit entry " + std::string(*id) + " has no integer date (epoch ms)");
  Record r;
  r.stream = kAuditLogStream;
  r.id.assign(*id);
  r.occurred_at_ms = *date;
  r.observed_at_ms = observed_at_ms;
  if (auto kind = get_string(entry, "kind")) r.kind.assign(*kind);

  // Scope: target.resources[0], else accesses[0].resource.
  std::string_view spec;
  simdjson::dom::array arr;
  if (entry.at_pointer("/target/resources").get(arr) == simdjson::SUCCESS) {
    for (auto res : arr) {
      if (res.get(spec) == simdjson::SUCCESS) break;
    }
  }
  if (spec.empty() && entry["accesses"].get(arr) == simdjson::SUCCESS) {
    for (auto acc : arr) {
      if (acc["resource"].get(spec) == simdjson::SUCCESS) break;
    }
  }
  if (!spec.empty()) {
    auto scope = parse_resource_specifier(spec);
    r.project = std::move(scope.project);
    r.environment = std::move(scope.environment);
  }
  // The audit log is hash-chained, so its data is written in canonical form (members
  // sorted by key): the bytes its hash covers, and the chain need not parse it again. An
  // entry that has no canonical form (a key repeated within one object, nesting deeper
  // than 512 levels) could never be chained: it is dead-lettered here.
  // Written in place, with room for about the size of the thread's previous entry
  // (entries of one account are alike): one allocation, no copy.
  thread_local size_t last_size = 1024;
  r.data.reserve(std::min<size_t>(last_size + last_size / 4, size_t{1} << 20));
  std::string why;
  if (!append_canonical_dom(r.data, entry, policy, 1, &why)) {
    return Status::data_error("audit entry " + r.id + " cannot be hash-chained: " + why);
  }
  last_size = r.data.size();
  r.data_is_canonical = true;
  if (has_version(entry, "previousVersion") || has_version(entry, "currentVersion")) {
    // Diffed from the archived (redacted) data, so `changes` never shows a secret.
    simdjson::dom::parser parser;
    simdjson::dom::element data;
    if (parser.parse(r.data).get(data) != simdjson::SUCCESS) {
      return Status::data_error("audit entry " + r.id + ": cannot re-read its own data");
    }
    simdjson::dom::element before;
    simdjson::dom::element after;
    const bool has_before = data["previousVersion"].get(before) == simdjson::SUCCESS && !before.is_null();
    const bool has_after = data["currentVersion"].get(after) == simdjson::SUCCESS && !after.is_null();
    append_json_changes(r.changes, has_before ? &before : nullptr, has_after ? &after : nullptr);
  }
  r.finish();
  return r;
}

}  // namespace ldx
