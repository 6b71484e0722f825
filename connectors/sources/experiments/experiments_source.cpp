#include "sources/experiments/experiments_source.h"

#include "common/normalize.h"
#include "sources/entity/snapshot_stream_base.h"

namespace ldx {

Result<Entity> normalize_experiment(simdjson::dom::element item, const std::string& project,
                                    const std::string& environment, const SecretPolicy& policy, int64_t now_ms) {
  if (!item.is_object()) return Status::data_error("experiment is not a JSON object");
  auto key = get_string(item, "key");
  if (!key || key->empty()) {
    return Status::data_error("experiment of " + project + "/" + environment + " has no string key");
  }
  Entity e;
  e.record = entity_record(kExperimentsStream, project + "/" + environment + "/" + std::string(*key), project,
                           environment, item, policy, now_ms);
  e.record.occurred_at_ms = get_int64(item, "_creationDate");
  e.fp = content_fingerprint(e.record.data);
  e.record.finish();
  return e;
}

namespace {

constexpr const char* kBetaApiVersion = "beta";

class ExperimentsStream final : public SnapshotStream {
 public:
  ExperimentsStream(int limit, const LaunchDarklyConfig& ld)
      : limit_(limit), sel_(Selection::from(ld)), policy_(ld.secret_policy()) {}
  [[nodiscard]] const std::string& stream() const override { return name_; }
  [[nodiscard]] SecretPolicy secret_policy() const override { return policy_; }
  [[nodiscard]] std::vector<ListScope> scopes(const std::vector<ProjectInfo>& projects) const override {
    std::vector<ListScope> out;
    for (const auto& p : projects) {
      for (const auto& env : p.environments) {
        ListScope s;
        s.key = p.key + "/" + env.key;
        s.project = p.key;
        s.environment = env.key;
        s.target = base(p.key, env.key) + "?lifecycleState=active,archived";
        s.route = "GET /api/v2/projects/{projectKey}/environments/{environmentKey}/experiments";
        s.limit = limit_;
        s.total_field = "total_count";
        out.push_back(std::move(s));
      }
    }
    return out;
  }
  [[nodiscard]] Result<Entity> normalize(simdjson::dom::element item, const ListScope& scope,
                                         int64_t now_ms) const override {
    return normalize_experiment(item, scope.project, scope.environment, policy_, now_ms);
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
    s.environment = std::string(id_part(id, 1));
    s.target = base(s.project, s.environment) + "/" + url_escape(id_part(id, 2));
    s.route = "GET /api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}";
    return s;
  }

 private:
  static std::string base(const std::string& p, const std::string& e) {
    return "/api/v2/projects/" + url_escape(p) + "/environments/" + url_escape(e) + "/experiments";
  }
  std::string name_ = kExperimentsStream;
  int limit_;
  Selection sel_;
  SecretPolicy policy_;
};

// Owns the beta-header HTTP configuration for as long as the source lives.
class ExperimentsEntityStream final : public EntityStream {
 public:
  ExperimentsEntityStream(std::unique_ptr<SnapshotEntityStream> inner, const SourceContext& ctx)
      : inner_(std::move(inner)), http_(ctx, kBetaApiVersion) {}
  [[nodiscard]] const std::string& stream() const override { return inner_->stream(); }
  [[nodiscard]] DiscoveryNeeds discovery() const override { return inner_->discovery(); }
  [[nodiscard]] bool emits_deletes() const override { return inner_->emits_deletes(); }
  Result<std::unique_ptr<EntityPass>> begin_pass(const nlohmann::json& cursor, const std::vector<ProjectInfo>& projects,
                                                 int64_t now_ms) override {
    return inner_->begin_pass(cursor, projects, now_ms);
  }
  VersionedHttp& http() { return http_; }

 private:
  std::unique_ptr<SnapshotEntityStream> inner_;
  VersionedHttp http_;
};

}  // namespace

Result<std::unique_ptr<Source>> ExperimentsConfig::build(const SourceContext& ctx) const {
  auto s = std::make_unique<ExperimentsStream>(page_limit, *ctx.launchdarkly);
  auto inner = std::make_unique<SnapshotEntityStream>(std::move(s), true, DiscoveryNeeds{false, true});
  auto entity_stream = std::make_unique<ExperimentsEntityStream>(std::move(inner), ctx);
  // The experiment calls carry the beta header (their client's configuration lives in
  // the stream, which outlives the client); discovery keeps the configured version.
  auto http = entity_stream->http().make();
  return std::unique_ptr<Source>(std::make_unique<EntitySource>(std::move(entity_stream), std::move(http),
                                                                Selection::from(*ctx.launchdarkly), ctx.http->make()));
}

std::unique_ptr<StreamConfig> parse_experiments_config(ConfigNode& node) {
  auto c = std::make_unique<ExperimentsConfig>();
  c->page_limit = read_page_limit(node, 100, 1000);
  return c;
}

}  // namespace ldx
