// Runs one stream's passes: Source -> every Sink -> CheckpointStore, enforcing the
// delivery rule (ARCHITECTURE §3): a batch's cursor is committed, together with every
// sink's position, only after every sink acked that batch. Batches are delivered in
// order, one at a time, so the committed prefix is always contiguous.
#pragma once

#include <atomic>
#include <memory>
#include <random>
#include <vector>

#include "config/config.h"
#include "core/interfaces.h"
#include "core/stop_signal.h"

namespace ldx {

struct StreamStats {
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> pages{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> passes{0};
  std::atomic<uint64_t> sink_retries{0};
  std::atomic<uint64_t> requests_last_pass{0};
  std::atomic<int64_t> last_pass_end_ms{0};
  std::atomic<int64_t> newest_occurred_ms{0};
};

inline constexpr const char* kDeadLetterSinkName = "_dead_letter";

class StreamRunner {
 public:
  StreamRunner(const StreamConfig& cfg, std::unique_ptr<Source> source, std::vector<Sink*> sinks,
               Sink* dead_letter_sink, CheckpointStore& store, StopSignal& stop);
  [[nodiscard]] const std::string& stream() const { return cfg_.stream; }
  [[nodiscard]] const StreamConfig& config() const { return cfg_; }
  // Loads the committed checkpoint and lets every sink discard uncommitted output.
  Status recover();
  // One pass: from the committed cursor until the source has caught up (or stop).
  Status run_pass();
  StreamStats& stats() { return stats_; }

 private:
  Status deliver(Batch& batch);
  Result<nlohmann::json> write_with_retry(Sink& sink, const Batch& batch);

  const StreamConfig& cfg_;
  std::unique_ptr<Source> source_;
  std::vector<Sink*> sinks_;
  Sink* dead_letter_sink_;
  CheckpointStore& store_;
  StopSignal& stop_;
  Checkpoint committed_;
  StreamStats stats_;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace ldx
