#include "sources/environments/environments_source.h"

#include "common/normalize.h"
#include "sources/entity/snapshot_stream_base.h"

namespace ldx {

Result<Entity> normalize_environment(simdjson::dom::element item, const std::string& project,
                                     const SecretPolicy& policy, int64_t now_ms) {
  if (!item.is_object()) return Status::data_error("environment is not a JSON object");
  auto key = get_string(item, "key");
  if (!key || key->empty()) return Status::data_error("environment of project " + project + " has no string key");
  Entity e;
  e.record = entity_record(kEnvironmentsStream, project + "/" + std::string(*key), project, std::string(*key), item,
                           policy, now_ms);
  e.fp = content_fingerprint(e.record.data);
  e.record.finish();
  return e;
}

namespace {

class EnvironmentsStream final : public SnapshotStream {
 public:
  explicit EnvironmentsStream(const LaunchDarklyConfig& ld) : sel_(Selection::from(ld)), policy_(ld.secret_policy()) {}
  [[nodiscard]] const std::string& stream() const override { return name_; }
  [[nodiscard]] SecretPolicy secret_policy() const override { return policy_; }

  [[nodiscard]] std::vector<ListScope> scopes(const std::vector<ProjectInfo>& projects) const override {
    std::vector<ListScope> out;
    for (const auto& p : projects) {
      ListScope s;
      s.key = p.key;
      s.project = p.key;
      s.preloaded = true;
      for (const auto& env : p.environments) s.items.push_back(env.raw);
      out.push_back(std::move(s));
    }
    return out;
  }
  [[nodiscard]] Result<Entity> normalize(simdjson::dom::element item, const ListScope& scope,
                                         int64_t now_ms) const override {
    return normalize_environment(item, scope.project, policy_, now_ms);
  }
  [[nodiscard]] bool selected(const std::string& id) const override {
    return sel_.project(id_part(id, 0)) && sel_.environment(id_part(id, 1));
  }
  [[nodiscard]] Record delete_record(const std::string& id, int64_t now_ms) const override {
    return make_delete_record(name_, id, std::string(id_part(id, 0)), std::string(id_part(id, 1)), now_ms);
  }
  [[nodiscard]] std::optional<ListScope> confirm(const std::string& id) const override {
    ListScope s;
    s.key = id;
    s.project = std::string(id_part(id, 0));
    s.target = "/api/v2/projects/" + url_escape(s.project) + "/environments/" + url_escape(id_part(id, 1));
    s.route = "GET /api/v2/projects/{projectKey}/environments/{environmentKey}";
    return s;
  }

 private:
  std::string name_ = kEnvironmentsStream;
  Selection sel_;
  SecretPolicy policy_;
};

}  // namespace

std::unique_ptr<EntityStream> make_environments_stream(const EnvironmentsConfig& /*cfg*/, const LaunchDarklyConfig& ld) {
  return std::make_unique<SnapshotEntityStream>(std::make_unique<EnvironmentsStream>(ld), true, DiscoveryNeeds{false, true});
}

Result<std::unique_ptr<Source>> EnvironmentsConfig::build(const SourceContext& ctx) const {
  return make_entity_source(make_environments_stream(*this, *ctx.launchdarkly), ctx);
}

std::unique_ptr<StreamConfig> parse_environments_config(ConfigNode& /*node*/) {
  return std::make_unique<EnvironmentsConfig>();
}

}  // namespace ldx
