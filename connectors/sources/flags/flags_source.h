// flags (API-NOTES §2): per selected project, every flag with the targeting of every
// selected environment (summary=0 plus one `env` per environment), archived flags
// included (a second list with filter=state:archived). Snapshot and diff: an upsert when
// `_version` or any environment's `version` changed, a `delete` when a flag disappeared
// after a complete snapshot (confirmed by GET /api/v2/flags/{p}/{key} -> 404).
// `refresh: audit_log` (flag_refresh.h) refetches only the flags new audit entries
// name between full snapshots, which run every `full_every`.
#pragma once

#include "config/config.h"
#include "sources/entity/entity_pass.h"
#include "core/time_util.h"

namespace ldx {

struct FlagsConfig final : StreamConfig {
  int page_limit = 100;
  bool audit_refresh = false;  // refresh: audit_log
  Millis full_every{3'600'000};
  Millis lookback{120'000};
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_flags_config(ConfigNode& node);
// The stream behind the source, for tests that drive its passes without HTTP.
std::unique_ptr<EntityStream> make_flags_stream(const FlagsConfig& cfg, const LaunchDarklyConfig& ld);

}  // namespace ldx
