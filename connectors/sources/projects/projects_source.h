// projects (API-NOTES §4): snapshot and diff. GET /api/v2/projects paged (launchdarkly.
// projects: ["*"]) or GET /api/v2/projects/{p} per listed key. id = key; projects carry
// no version or timestamp, so the fingerprint is a hash of the redacted JSON.
#pragma once

#include <simdjson.h>

#include "config/config.h"
#include "sources/entity/entity_pass.h"

namespace ldx {

inline constexpr const char* kProjectsStream = "projects";

struct ProjectsConfig final : StreamConfig {
  int page_limit = 100;
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_projects_config(ConfigNode& node);
// The stream behind the source, for tests that drive its passes without HTTP.
std::unique_ptr<EntityStream> make_projects_stream(const ProjectsConfig& cfg, const LaunchDarklyConfig& ld);

Result<Entity> normalize_project(simdjson::dom::element item, const SecretPolicy& policy, int64_t now_ms);

}  // namespace ldx
