#include "sources/entity/snapshot_stream_base.h"

#include "common/normalize.h"

namespace ldx {

Result<std::unique_ptr<EntityPass>> SnapshotEntityStream::begin_pass(const nlohmann::json& cursor,
                                                                    const std::vector<ProjectInfo>& projects,
                                                                    int64_t now_ms) {
  auto st = snapshot_from_cursor(cursor, s_->stream());
  if (!st.is_ok()) return st.status();
  state_ = std::move(st.value());
  return std::unique_ptr<EntityPass>(std::make_unique<SnapshotPass>(*s_, state_, s_->scopes(projects), now_ms));
}

Record entity_record(const std::string& stream, std::string id, std::string project, std::string environment,
                     simdjson::dom::element item, const SecretPolicy& policy, int64_t now_ms) {
  Record r;
  r.stream = stream;
  r.id = std::move(id);
  r.project = std::move(project);
  r.environment = std::move(environment);
  r.observed_at_ms = now_ms;
  r.data = serialize_redacted(item, policy);
  return r;
}

std::string version_fingerprint(int64_t version) { return "v" + std::to_string(version); }

Result<std::unique_ptr<Source>> make_entity_source(std::unique_ptr<EntityStream> stream, const SourceContext& ctx) {
  return std::unique_ptr<Source>(
      std::make_unique<EntitySource>(std::move(stream), ctx.http->make(), Selection::from(*ctx.launchdarkly)));
}

int read_page_limit(ConfigNode& node, int default_limit, int max_limit) {
  return static_cast<int>(node.integer("page_limit", default_limit, 1, max_limit));
}

}  // namespace ldx
