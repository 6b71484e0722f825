// The one loop of every entity stream (projects, environments, flags, segments,
// contexts, members, teams, metrics, experiments): discovery, then step by step:
// call -> answer -> records -> one Batch with the cursor that is safe to commit.
//
// A batch is normally one step (one page: a crash redoes about a page). A snapshot's
// cursor grows with the entities it knows, and committing it after every page would
// write O(entities x pages) checkpoint bytes per pass; so a batch takes further steps
// until it has read about as many bytes from the API as its cursor holds (at most
// kMaxStepsPerBatch). Small accounts keep one page per batch; a crash in a large one
// redoes the pages since the last commit, and sinks drop the uncommitted output.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "core/interfaces.h"
#include "sources/entity/entity_pass.h"

namespace ldx {

inline constexpr size_t kMaxStepsPerBatch = 100;

class EntitySource final : public Source {
 public:
  // `discovery_http`: a separate client for discovery (experiments send the beta header
  // on their own calls only); null = discovery uses `http`.
  EntitySource(std::unique_ptr<EntityStream> stream, std::unique_ptr<HttpClient> http, Selection selection,
               std::unique_ptr<HttpClient> discovery_http = nullptr);
  [[nodiscard]] const std::string& stream() const override { return stream_->stream(); }
  Status begin_pass(const nlohmann::json& committed_cursor) override;
  Result<std::optional<Batch>> next_batch() override;
  // Every request of the pass: discovery, list pages, confirmations, retries.
  [[nodiscard]] uint64_t requests_this_pass() const override {
    return client_.requests() + (discovery_client_ ? discovery_client_->requests() : 0);
  }
  [[nodiscard]] bool emits_deletes() const override { return stream_->emits_deletes(); }
  // Kept until the next begin_pass, which adopts them into the committed cursor's state.
  void adopt_unconfirmed_upserts(std::vector<std::string> ids) override { unconfirmed_ = std::move(ids); }

 private:
  void set_aside_unrepresentable(StepOutput& out, size_t records_from, size_t dead_from, int64_t now_ms);
  std::unique_ptr<EntityStream> stream_;
  EntityClient client_;
  std::unique_ptr<EntityClient> discovery_client_;
  Selection selection_;
  std::unique_ptr<EntityPass> pass_;
  uint64_t seq_ = 0;
  uint64_t steps_ = 0;
  std::vector<std::string> unconfirmed_;
};

// Builds an HttpClient that sends `api_version` instead of the configured one (the
// beta header of experiments) but shares the run's rate-limit budget and counters.
class VersionedHttp {
 public:
  VersionedHttp(const SourceContext& ctx, std::string api_version);
  std::unique_ptr<HttpClient> make();

 private:
  LaunchDarklyConfig cfg_;  // a copy: the client keeps a reference to it
  HttpClientFactory* factory_;
  StopSignal* stop_;
};

}  // namespace ldx
