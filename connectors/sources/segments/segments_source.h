// segments (API-NOTES §4): per selected project and environment,
// GET /api/v2/segments/{p}/{e} at the largest page size, newest-modified first
// (sort=-lastModified). id = project/env/key, version = `version`, occurred_at =
// `lastModifiedDate`. Big segments (`unbounded: true`) are exported as listed: the spec
// gives them no included/excluded lists, and their membership is not part of the list.
//
// Incremental between full passes: each environment is read from the newest change
// down to the newest lastModifiedDate of the previous pass (re-covering the last
// `lookback` of wall time, for writes that become visible late): one page in a steady
// state. Deletions do not show in such a read, so two things catch them:
//  - the list's totalCount: when it differs from the number of segments known for the
//    environment, that environment is listed completely at once and what it no longer
//    holds is confirmed (GET .../{key} -> 404) and deleted;
//  - a full snapshot of every environment every `full_every` (0s: every pass).
// A segment the API returns with `deleted: true` is a delete as well.
#pragma once

#include <simdjson.h>

#include "config/config.h"
#include "core/time_util.h"
#include "sources/entity/entity_pass.h"

namespace ldx {

inline constexpr const char* kSegmentsStream = "segments";

struct SegmentsConfig final : StreamConfig {
  int page_limit = 50;
  Millis full_every{3'600'000};
  Millis lookback{60'000};
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_segments_config(ConfigNode& node);
// The stream behind the source, for tests that drive its passes without HTTP.
std::unique_ptr<EntityStream> make_segments_stream(const SegmentsConfig& cfg, const LaunchDarklyConfig& ld);

Result<Entity> normalize_segment(simdjson::dom::element item, const std::string& project,
                                 const std::string& environment, const SecretPolicy& policy, int64_t now_ms);

}  // namespace ldx
