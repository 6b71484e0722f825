#include "sources/teams/teams_source.h"

#include "common/normalize.h"
#include "sources/entity/snapshot_stream_base.h"

namespace ldx {

Result<Entity> normalize_team(simdjson::dom::element item, const SecretPolicy& policy, int64_t now_ms) {
  if (!item.is_object()) return Status::data_error("team is not a JSON object");
  auto key = get_string(item, "key");
  if (!key || key->empty()) return Status::data_error("team has no string key");
  Entity e;
  e.record = entity_record(kTeamsStream, std::string(*key), "", "", item, policy, now_ms);
  e.record.version = get_int64(item, "_version");
  e.record.occurred_at_ms = get_int64(item, "_lastModified");
  e.fp = e.record.version ? version_fingerprint(*e.record.version) : content_fingerprint(e.record.data);
  e.record.finish();
  return e;
}

namespace {

class TeamsStream final : public SnapshotStream {
 public:
  TeamsStream(int limit, const LaunchDarklyConfig& ld) : limit_(limit), policy_(ld.secret_policy()) {}
  [[nodiscard]] const std::string& stream() const override { return name_; }
  [[nodiscard]] SecretPolicy secret_policy() const override { return policy_; }
  [[nodiscard]] std::vector<ListScope> scopes(const std::vector<ProjectInfo>& /*projects*/) const override {
    ListScope s;
    s.key = "*";
    s.target = "/api/v2/teams";
    s.route = "GET /api/v2/teams";
    s.limit = limit_;
    return {s};
  }
  [[nodiscard]] Result<Entity> normalize(simdjson::dom::element item, const ListScope& /*scope*/,
                                         int64_t now_ms) const override {
    return normalize_team(item, policy_, now_ms);
  }
  [[nodiscard]] bool selected(const std::string& /*id*/) const override { return true; }
  [[nodiscard]] Record delete_record(const std::string& id, int64_t now_ms) const override {
    return make_delete_record(name_, id, "", "", now_ms);
  }
  [[nodiscard]] std::optional<ListScope> confirm(const std::string& id) const override {
    ListScope s;
    s.key = id;
    s.target = "/api/v2/teams/" + url_escape(id);
    s.route = "GET /api/v2/teams/{teamKey}";
    return s;
  }

 private:
  std::string name_ = kTeamsStream;
  int limit_;
  SecretPolicy policy_;
};

}  // namespace

std::unique_ptr<EntityStream> make_teams_stream(const TeamsConfig& cfg, const LaunchDarklyConfig& ld) {
  return std::make_unique<SnapshotEntityStream>(std::make_unique<TeamsStream>(cfg.page_limit, ld), false, DiscoveryNeeds{});
}

Result<std::unique_ptr<Source>> TeamsConfig::build(const SourceContext& ctx) const {
  return make_entity_source(make_teams_stream(*this, *ctx.launchdarkly), ctx);
}

std::unique_ptr<StreamConfig> parse_teams_config(ConfigNode& node) {
  auto c = std::make_unique<TeamsConfig>();
  c->page_limit = read_page_limit(node, 100, 100);
  return c;
}

}  // namespace ldx
