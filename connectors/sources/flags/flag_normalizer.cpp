#include "sources/flags/flag_normalizer.h"

#include <algorithm>
#include <vector>

#include "common/normalize.h"
#include "sources/entity/snapshot_state.h"
#include "sources/entity/snapshot_stream_base.h"

namespace ldx {

Result<Entity> normalize_flag(simdjson::dom::element item, const std::string& project, const SecretPolicy& policy,
                              int64_t now_ms) {
  if (!item.is_object()) return Status::data_error("flag is not a JSON object");
  auto key = get_string(item, "key");
  if (!key || key->empty()) return Status::data_error("flag of project " + project + " has no string key");
  Entity e;
  e.record = entity_record(kFlagsStream, project + "/" + std::string(*key), project, "", item, policy, now_ms);
  if (auto kind = get_string(item, "kind")) e.record.kind = std::string(*kind);
  e.record.version = get_int64(item, "_version");

  std::optional<int64_t> newest;
  auto consider = [&](std::optional<int64_t> t) {
    if (t && (!newest || *t > *newest)) newest = t;
  };
  consider(get_int64(item, "creationDate"));
  consider(get_int64(item, "archivedDate"));
  consider(get_int64(item, "deprecatedDate"));
  std::vector<std::pair<std::string, int64_t>> env_versions;
  simdjson::dom::object envs;
  if (item["environments"].get(envs) == simdjson::SUCCESS) {
    for (auto field : envs) {
      if (!field.value.is_object()) continue;
      consider(get_int64(field.value, "lastModified"));
      env_versions.emplace_back(std::string(field.key), get_int64(field.value, "version").value_or(-1));
    }
  }
  std::sort(env_versions.begin(), env_versions.end());
  e.record.occurred_at_ms = newest;

  std::string basis = "_version=" + (e.record.version ? std::to_string(*e.record.version) : std::string("none"));
  for (const auto& [env, v] : env_versions) basis += ";" + env + "=" + std::to_string(v);
  // Without any version at all, fall back to the content (never silently "unchanged").
  e.fp = (!e.record.version && env_versions.empty()) ? content_fingerprint(e.record.data)
                                                     : content_fingerprint(basis);
  e.record.finish();
  return e;
}

std::optional<std::pair<std::string, std::string>> flag_of_resource(std::string_view spec) {
  std::string project;
  std::string flag;
  while (!spec.empty()) {
    size_t colon = spec.find(':');
    std::string_view part = spec.substr(0, colon);
    if (auto semi = part.find(';'); semi != std::string_view::npos) part = part.substr(0, semi);
    if (part.starts_with("proj/")) project = std::string(part.substr(5));
    if (part.starts_with("flag/")) flag = std::string(part.substr(5));
    if (colon == std::string_view::npos) break;
    spec.remove_prefix(colon + 1);
  }
  if (project.empty() || flag.empty() || project.find('*') != std::string::npos ||
      flag.find('*') != std::string::npos) {
    return std::nullopt;
  }
  return std::make_pair(project, flag);
}

}  // namespace ldx
