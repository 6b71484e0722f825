// members (API-NOTES §4): snapshot and diff of GET /api/v2/members at its maximum page
// size (1000). id = `_id`; version = `_version` when present (the spec's Member has
// none), so the fingerprint is a hash of the redacted JSON.
#pragma once

#include <simdjson.h>

#include "config/config.h"
#include "sources/entity/entity_pass.h"

namespace ldx {

inline constexpr const char* kMembersStream = "members";

struct MembersConfig final : StreamConfig {
  int page_limit = 1000;
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_members_config(ConfigNode& node);
// The stream behind the source, for tests that drive its passes without HTTP.
std::unique_ptr<EntityStream> make_members_stream(const MembersConfig& cfg, const LaunchDarklyConfig& ld);

Result<Entity> normalize_member(simdjson::dom::element item, const SecretPolicy& policy, int64_t now_ms);

}  // namespace ldx
