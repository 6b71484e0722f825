#include "sources/projects/projects_source.h"

#include "common/normalize.h"
#include "sources/entity/snapshot_stream_base.h"

namespace ldx {

Result<Entity> normalize_project(simdjson::dom::element item, const SecretPolicy& policy, int64_t now_ms) {
  if (!item.is_object()) return Status::data_error("project is not a JSON object");
  auto key = get_string(item, "key");
  if (!key || key->empty()) return Status::data_error("project has no string key");
  Entity e;
  e.record = entity_record(kProjectsStream, std::string(*key), std::string(*key), "", item, policy, now_ms);
  e.fp = content_fingerprint(e.record.data);
  e.record.finish();
  return e;
}

namespace {

class ProjectsStream final : public SnapshotStream {
 public:
  ProjectsStream(const ProjectsConfig& cfg, const LaunchDarklyConfig& ld)
      : cfg_(cfg), sel_(Selection::from(ld)), policy_(ld.secret_policy()) {}
  [[nodiscard]] const std::string& stream() const override { return name_; }
  [[nodiscard]] SecretPolicy secret_policy() const override { return policy_; }

  [[nodiscard]] std::vector<ListScope> scopes(const std::vector<ProjectInfo>& /*projects*/) const override {
    std::vector<ListScope> out;
    if (sel_.all_projects()) {
      ListScope s;
      s.key = "*";
      s.target = "/api/v2/projects";
      s.route = "GET /api/v2/projects";
      s.limit = cfg_.page_limit;
      out.push_back(std::move(s));
      return out;
    }
    for (const auto& key : sel_.projects) out.push_back(one(key));
    return out;
  }
  [[nodiscard]] Result<Entity> normalize(simdjson::dom::element item, const ListScope& /*scope*/,
                                         int64_t now_ms) const override {
    return normalize_project(item, policy_, now_ms);
  }
  [[nodiscard]] bool selected(const std::string& id) const override { return sel_.project(id); }
  [[nodiscard]] Record delete_record(const std::string& id, int64_t now_ms) const override {
    return make_delete_record(name_, id, id, "", now_ms);
  }
  [[nodiscard]] std::optional<ListScope> confirm(const std::string& id) const override { return one(id); }

 private:
  static ListScope one(const std::string& key) {
    ListScope s;
    s.key = key;
    s.project = key;
    s.target = "/api/v2/projects/" + url_escape(key);
    s.route = "GET /api/v2/projects/{projectKey}";
    return s;
  }
  std::string name_ = kProjectsStream;
  ProjectsConfig cfg_;
  Selection sel_;
  SecretPolicy policy_;
};

}  // namespace

std::unique_ptr<EntityStream> make_projects_stream(const ProjectsConfig& cfg, const LaunchDarklyConfig& ld) {
  return std::make_unique<SnapshotEntityStream>(std::make_unique<ProjectsStream>(cfg, ld), false, DiscoveryNeeds{});
}

Result<std::unique_ptr<Source>> ProjectsConfig::build(const SourceContext& ctx) const {
  return make_entity_source(make_projects_stream(*this, *ctx.launchdarkly), ctx);
}

std::unique_ptr<StreamConfig> parse_projects_config(ConfigNode& node) {
  auto c = std::make_unique<ProjectsConfig>();
  c->page_limit = read_page_limit(node, 100, 1000);
  return c;
}

}  // namespace ldx
