// experiments (API-NOTES §4; beta, off unless listed under `streams:`): snapshot and
// diff of GET /api/v2/projects/{p}/environments/{e}/experiments with
// lifecycleState=active,archived (the default is active only) and the
// `LD-API-Version: beta` header every beta call needs (else 403). The collection is
// snake_case: {items, total_count, _links}. id = project/env/key; no version, so the
// fingerprint hashes the redacted JSON; occurred_at = `_creationDate`.
#pragma once

#include <simdjson.h>

#include "config/config.h"
#include "sources/entity/entity_pass.h"

namespace ldx {

inline constexpr const char* kExperimentsStream = "experiments";

struct ExperimentsConfig final : StreamConfig {
  int page_limit = 100;
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_experiments_config(ConfigNode& node);

Result<Entity> normalize_experiment(simdjson::dom::element item, const std::string& project,
                                    const std::string& environment, const SecretPolicy& policy, int64_t now_ms);

}  // namespace ldx
