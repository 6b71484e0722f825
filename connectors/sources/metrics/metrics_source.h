// metrics (API-NOTES §4): snapshot and diff of GET /api/v2/metrics/{p} per selected
// project at its maximum page size (50). id = project/key; version = `_version` (the
// fingerprint when present); occurred_at = `lastModified.date` (RFC 3339, not ms).
#pragma once

#include <simdjson.h>

#include "config/config.h"
#include "sources/entity/entity_pass.h"

namespace ldx {

inline constexpr const char* kMetricsStream = "metrics";

struct MetricsConfig final : StreamConfig {
  int page_limit = 50;
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_metrics_config(ConfigNode& node);
// The stream behind the source, for tests that drive its passes without HTTP.
std::unique_ptr<EntityStream> make_metrics_stream(const MetricsConfig& cfg, const LaunchDarklyConfig& ld);

Result<Entity> normalize_metric(simdjson::dom::element item, const std::string& project, const SecretPolicy& policy,
                                int64_t now_ms);

}  // namespace ldx
