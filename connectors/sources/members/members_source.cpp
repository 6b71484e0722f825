#include "sources/members/members_source.h"

#include "common/normalize.h"
#include "sources/entity/snapshot_stream_base.h"

namespace ldx {

Result<Entity> normalize_member(simdjson::dom::element item, const SecretPolicy& policy, int64_t now_ms) {
  if (!item.is_object()) return Status::data_error("member is not a JSON object");
  auto id = get_string(item, "_id");
  if (!id || id->empty()) return Status::data_error("member has no string _id");
  Entity e;
  e.record = entity_record(kMembersStream, std::string(*id), "", "", item, policy, now_ms);
  e.record.version = get_int64(item, "_version");
  e.fp = content_fingerprint(e.record.data);
  e.record.finish();
  return e;
}

namespace {

class MembersStream final : public SnapshotStream {
 public:
  MembersStream(int limit, const LaunchDarklyConfig& ld) : limit_(limit), policy_(ld.secret_policy()) {}
  [[nodiscard]] const std::string& stream() const override { return name_; }
  [[nodiscard]] SecretPolicy secret_policy() const override { return policy_; }
  [[nodiscard]] std::vector<ListScope> scopes(const std::vector<ProjectInfo>& /*projects*/) const override {
    ListScope s;
    s.key = "*";
    s.target = "/api/v2/members";
    s.route = "GET /api/v2/members";
    s.limit = limit_;
    return {s};
  }
  [[nodiscard]] Result<Entity> normalize(simdjson::dom::element item, const ListScope& /*scope*/,
                                         int64_t now_ms) const override {
    return normalize_member(item, policy_, now_ms);
  }
  [[nodiscard]] bool selected(const std::string& /*id*/) const override { return true; }
  [[nodiscard]] Record delete_record(const std::string& id, int64_t now_ms) const override {
    return make_delete_record(name_, id, "", "", now_ms);
  }
  [[nodiscard]] std::optional<ListScope> confirm(const std::string& id) const override {
    ListScope s;
    s.key = id;
    s.target = "/api/v2/members/" + url_escape(id);
    s.route = "GET /api/v2/members/{id}";
    return s;
  }

 private:
  std::string name_ = kMembersStream;
  int limit_;
  SecretPolicy policy_;
};

}  // namespace

std::unique_ptr<EntityStream> make_members_stream(const MembersConfig& cfg, const LaunchDarklyConfig& ld) {
  return std::make_unique<SnapshotEntityStream>(std::make_unique<MembersStream>(cfg.page_limit, ld), false, DiscoveryNeeds{});
}

Result<std::unique_ptr<Source>> MembersConfig::build(const SourceContext& ctx) const {
  return make_entity_source(make_members_stream(*this, *ctx.launchdarkly), ctx);
}

std::unique_ptr<StreamConfig> parse_members_config(ConfigNode& node) {
  auto c = std::make_unique<MembersConfig>();
  c->page_limit = read_page_limit(node, 1000, 1000);
  return c;
}

}  // namespace ldx
