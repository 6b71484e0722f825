// ContextRecord (API-NOTES §3) -> envelope. id = project/env/kind/key, plus
// /applicationId when the record has one (a kind+key recurs per application); kind =
// the context's kind; occurred_at = lastSeen (RFC 3339 with nanoseconds). In the id the
// key has '%' and '/' escaped as %25 and %2F (keys are arbitrary strings: raw, key "a/b"
// and key "a" of application "b" would share an id); a key without them is as is. A
// multi-kind context's key is its canonical key: "kind:key" of each member, sorted by
// kind, joined with ':' (':' and '%' in keys escaped as %3A and %25, as the SDKs do, and
// '/' as %2F).
// `context` is untyped in the spec, and its own example is a JSON-encoded string:
// both forms are read; `data` keeps the record as received.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/json_writer.h"
#include "core/record.h"
#include "core/status.h"

namespace ldx {

inline constexpr const char* kContextsStream = "contexts";

struct ContextEntity {
  Record record;
  int64_t last_seen_ns = 0;  // the order of contexts/search with sort=ts
};

Result<ContextEntity> normalize_context(simdjson::dom::element item, const std::string& project,
                                        const std::string& environment, const SecretPolicy& policy, int64_t now_ms);

// The record's lastSeen in nanoseconds, when it has a readable one (nullopt: not an
// object, no string lastSeen, or not RFC 3339). Read on its own so that a record whose
// context cannot be read still has its place in the sort=ts order.
std::optional<int64_t> context_last_seen_ns(simdjson::dom::element item);

// RFC 3339 with up to 9 fractional digits -> nanoseconds since the epoch.
std::optional<int64_t> parse_rfc3339_ns(std::string_view text);

}  // namespace ldx
