// Glue for the plain snapshot streams (projects, environments, members, teams,
// metrics, experiments): the EntityStream that runs a SnapshotPass over the stream's
// scopes with the committed SnapshotState, and helpers every normalizer shares.
#pragma once

#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "core/json_writer.h"
#include "sources/entity/entity_source.h"
#include "sources/entity/snapshot_pass.h"

namespace ldx {

class SnapshotEntityStream final : public EntityStream {
 public:
  SnapshotEntityStream(std::unique_ptr<SnapshotStream> s, bool needs_discovery, DiscoveryNeeds needs)
      : s_(std::move(s)), needs_discovery_(needs_discovery), needs_(needs) {}
  [[nodiscard]] const std::string& stream() const override { return s_->stream(); }
  [[nodiscard]] bool needs_discovery() const override { return needs_discovery_; }
  [[nodiscard]] bool emits_deletes() const override { return true; }
  [[nodiscard]] DiscoveryNeeds discovery() const override { return needs_; }
  Result<std::unique_ptr<EntityPass>> begin_pass(const nlohmann::json& cursor, const std::vector<ProjectInfo>& projects,
                                                 int64_t now_ms) override;

 private:
  std::unique_ptr<SnapshotStream> s_;
  bool needs_discovery_;
  DiscoveryNeeds needs_;
  SnapshotState state_;
};

// A record with the envelope fields every entity has; data = the item, redacted.
Record entity_record(const std::string& stream, std::string id, std::string project, std::string environment,
                     simdjson::dom::element item, const SecretPolicy& policy, int64_t now_ms);
std::string version_fingerprint(int64_t version);

// Builds the EntitySource of a stream (the ordinary HTTP client of the run).
Result<std::unique_ptr<Source>> make_entity_source(std::unique_ptr<EntityStream> stream, const SourceContext& ctx);

// The `page_limit` key every entity stream has: default = the endpoint's maximum page
// size (the spec's, or what LaunchDarkly is known to accept when the spec names none).
int read_page_limit(ConfigNode& node, int default_limit, int max_limit);

}  // namespace ldx
