// environments (API-NOTES §4): snapshot and diff of every selected environment of every
// selected project. The items come from discovery itself (GET /api/v2/projects with
// expand=environments, following GET /api/v2/projects/{p}/environments when the embedded
// collection is partial), so the stream costs no request beyond discovery.
// id = project/key. `apiKey` and `mobileKey` (SDK and mobile keys) are redacted before
// any sink sees them unless launchdarkly.include_secrets is on; the fingerprint hashes
// the redacted JSON, so a key rotation alone emits nothing while redaction is on.
#pragma once

#include <simdjson.h>

#include "config/config.h"
#include "sources/entity/entity_pass.h"

namespace ldx {

inline constexpr const char* kEnvironmentsStream = "environments";

struct EnvironmentsConfig final : StreamConfig {
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_environments_config(ConfigNode& node);
// The stream behind the source, for tests that drive its passes without HTTP.
std::unique_ptr<EntityStream> make_environments_stream(const EnvironmentsConfig& cfg, const LaunchDarklyConfig& ld);

Result<Entity> normalize_environment(simdjson::dom::element item, const std::string& project,
                                     const SecretPolicy& policy, int64_t now_ms);

}  // namespace ldx
