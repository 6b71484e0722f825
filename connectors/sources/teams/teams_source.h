// teams (API-NOTES §4, Enterprise): snapshot and diff of GET /api/v2/teams at its
// maximum page size (100, per the 20240415 changelog). id = key; version = `_version`
// (the fingerprint when present, else a hash of the redacted JSON); occurred_at =
// `_lastModified`.
#pragma once

#include <simdjson.h>

#include "config/config.h"
#include "sources/entity/entity_pass.h"

namespace ldx {

inline constexpr const char* kTeamsStream = "teams";

struct TeamsConfig final : StreamConfig {
  int page_limit = 100;
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_teams_config(ConfigNode& node);
// The stream behind the source, for tests that drive its passes without HTTP.
std::unique_ptr<EntityStream> make_teams_stream(const TeamsConfig& cfg, const LaunchDarklyConfig& ld);

Result<Entity> normalize_team(simdjson::dom::element item, const SecretPolicy& policy, int64_t now_ms);

}  // namespace ldx
