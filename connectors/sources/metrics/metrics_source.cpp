#include "sources/metrics/metrics_source.h"

#include "common/normalize.h"
#include "core/time_util.h"
#include "sources/entity/snapshot_stream_base.h"

namespace ldx {

Result<Entity> normalize_metric(simdjson::dom::element item, const std::string& project, const SecretPolicy& policy,
                                int64_t now_ms) {
  if (!item.is_object()) return Status::data_error("metric is not a JSON object");
  auto key = get_string(item, "key");
  if (!key || key->empty()) return Status::data_error("metric of project " + project + " has no string key");
  Entity e;
  e.record = entity_record(kMetricsStream, project + "/" + std::string(*key), project, "", item, policy, now_ms);
  e.record.version = get_int64(item, "_version");
  std::string_view date;
  if (item.at_pointer("/lastModified/date").get(date) == simdjson::SUCCESS) {
    e.record.occurred_at_ms = parse_rfc3339_ms(date);
  }
  e.fp = e.record.version ? version_fingerprint(*e.record.version) : content_fingerprint(e.record.data);
  e.record.finish();
  return e;
}

namespace {

class MetricsStream final : public SnapshotStream {
 public:
  MetricsStream(int limit, const LaunchDarklyConfig& ld)
      : limit_(limit), sel_(Selection::from(ld)), policy_(ld.secret_policy()) {}
  [[nodiscard]] const std::string& stream() const override { return name_; }
  [[nodiscard]] SecretPolicy secret_policy() const override { return policy_; }
  [[nodiscard]] std::vector<ListScope> scopes(const std::vector<ProjectInfo>& projects) const override {
    std::vector<ListScope> out;
    for (const auto& p : projects) {
      ListScope s;
      s.key = p.key;
      s.project = p.key;
      s.target = "/api/v2/metrics/" + url_escape(p.key);
      s.route = "GET /api/v2/metrics/{projectKey}";
      s.limit = limit_;
      out.push_back(std::move(s));
    }
    return out;
  }
  [[nodiscard]] Result<Entity> normalize(simdjson::dom::element item, const ListScope& scope,
                                         int64_t now_ms) const override {
    return normalize_metric(item, scope.project, policy_, now_ms);
  }
  [[nodiscard]] bool selected(const std::string& id) const override { return sel_.project(id_part(id, 0)); }
  [[nodiscard]] Record delete_record(const std::string& id, int64_t now_ms) const override {
    return make_delete_record(name_, id, std::string(id_part(id, 0)), "", now_ms);
  }
  [[nodiscard]] std::optional<ListScope> confirm(const std::string& id) const override {
    ListScope s;
    s.key = id;
    s.project = std::string(id_part(id, 0));
    s.target = "/api/v2/metrics/" + url_escape(s.project) + "/" + url_escape(id_part(id, 1));
    s.route = "GET /api/v2/metrics/{projectKey}/{metricKey}";
    return s;
  }

 private:
  std::string name_ = kMetricsStream;
  int limit_;
  Selection sel_;
  SecretPolicy policy_;
};

}  // namespace

std::unique_ptr<EntityStream> make_metrics_stream(const MetricsConfig& cfg, const LaunchDarklyConfig& ld) {
  return std::make_unique<SnapshotEntityStream>(std::make_unique<MetricsStream>(cfg.page_limit, ld), true, DiscoveryNeeds{});
}

Result<std::unique_ptr<Source>> MetricsConfig::build(const SourceContext& ctx) const {
  return make_entity_source(make_metrics_stream(*this, *ctx.launchdarkly), ctx);
}

std::unique_ptr<StreamConfig> parse_metrics_config(ConfigNode& node) {
  auto c = std::make_unique<MetricsConfig>();
  c->page_limit = read_page_limit(node, 50, 50);
  return c;
}

}  // namespace ldx
