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

#include "config/config.h"
#include "sources/entity/entity_pass.h"
#include "core/status.h"

namespace ldx {

// Notices a continuation token LaunchDarkly hands back a second time during one walk (a
// loop, not progress) in constant memory, however long the walk: the last kRecent
// tokens catch short loops at once, and Brent's anchor (the token at steps 1, 2, 4, 8,
// ...) catches any longer loop within about twice its length. Remembering every token
// grew by a token per page of 50 contexts.
class TokenLoopDetector {
 public:
  static constexpr size_t kRecent = 64;
  // A token the walk is about to request.
  void requested(const std::string& token);
  // Whether a token handed back was requested before in this walk.
  [[nodiscard]] bool seen(const std::string& token) const;
  void clear();

 private:
  std::array<std::string, kRecent> recent_;
  size_t next_slot_ = 0;
  std::string anchor_;
  uint64_t steps_ = 0;
  uint64_t next_anchor_at_ = 1;
};

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
