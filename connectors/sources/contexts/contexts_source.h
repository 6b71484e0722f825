// contexts (API-NOTES §3): per selected project and environment,
// POST /api/v2/projects/{p}/environments/{e}/contexts/search with the body
// {"sort":"ts","limit":50[,"continuationToken":T]} (query parameters and a body at once
// are an error). With sort=ts the list is lastSeen ascending and a context seen again
// moves to the end, so reading on from the last token yields exactly the contexts seen
// since: append-style, a context seen again is an upsert again. No snapshot, no deletes
// (the API has no notion of a context disappearing).
//
// Cursor per environment: the token that read the last page (re-reading that page costs
// one request and yields nothing new), plus the newest lastSeen exported and the ids at
// that instant. When LaunchDarkly refuses a token (400, e.g. expired), the environment
// is read again from the start and everything up to that lastSeen is skipped.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/loop_detector.h"
#include "config/config.h"
#include "sources/entity/entity_pass.h"
#include "core/status.h"

namespace ldx {

// The continuationToken query parameter of a `_links.next.href`, percent-decoded
// (nullopt: none).
std::optional<std::string> continuation_token_of_href(std::string_view href);

struct ContextsConfig final : StreamConfig {
  int page_limit = 50;
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_contexts_config(ConfigNode& node);
// The stream behind the source, for tests that drive its passes without HTTP.
std::unique_ptr<EntityStream> make_contexts_stream(const ContextsConfig& cfg, const LaunchDarklyConfig& ld);

struct ContextScopeCursor {
  std::optional<std::string> token;   // continuationToken of the last page read (none: from the start)
  std::optional<int64_t> last_seen_ns;  // newest lastSeen exported
  std::set<std::string> ids_at_last_seen;
  // Skips a record exported already (older than the newest exported, or one of its ties)
  // and otherwise advances the mark. Returns true when the record is new.
  bool admit(const std::string& id, int64_t last_seen_ns);
};

struct ContextsCursor {
  std::map<std::string, ContextScopeCursor> scopes;  // "project/env" -> cursor
  [[nodiscard]] nlohmann::json to_json() const;
  static Result<ContextsCursor> from_json(const nlohmann::json& j);
};

}  // namespace ldx
