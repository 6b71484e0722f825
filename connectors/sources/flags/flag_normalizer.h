// FeatureFlag (API-NOTES §2) -> envelope. id = project/key, kind = the flag's kind
// (boolean | multivariate), version = `_version`, occurred_at = the newest timestamp the
// flag carries (creationDate, an environment's lastModified, archivedDate,
// deprecatedDate). The fingerprint is `_version` plus every environment's `version`, so
// a change in one environment's targeting alone is an upsert.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/json_writer.h"
#include "sources/entity/entity_pass.h"

namespace ldx {

inline constexpr const char* kFlagsStream = "flags";

Result<Entity> normalize_flag(simdjson::dom::element item, const std::string& project, const SecretPolicy& policy,
                              int64_t now_ms);

// The flag a resource specifier names ("proj/default:env/production:flag/new-ui;tag"
// -> {"default", "new-ui"}); nullopt when it names no single flag.
std::optional<std::pair<std::string, std::string>> flag_of_resource(std::string_view spec);

}  // namespace ldx
