// Runs one stream's passes: Source -> every Sink -> CheckpointStore, enforcing the
// delivery rule (ARCHITECTURE §3): a batch's cursor is committed, together with every
// sink's position, only after every sink acked that batch. Batches are delivered in
// order, one at a time, so the committed prefix is always contiguous.
#pragma once

#include <atomic>
#include <string>
#include <memory>
#include <random>
#include <vector>

#include "config/config.h"
#include "core/interfaces.h"
#include "core/stop_signal.h"

namespace ldx {

struct SinkStats {
  std::string sink;
  std::atomic<uint64_t> acks{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<bool> failing{false};  // the last write failed
};

// Upper bounds (seconds) of the batch latency histogram: source page to checkpoint.
inline constexpr double kBatchLatencyBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
inline constexpr size_t kBatchLatencyBucketCount = sizeof(kBatchLatencyBuckets) / sizeof(double);

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
  std::atomic<int64_t> last_commit_ms{0};
  std::atomic<bool> fatal{false};
  std::vector<std::unique_ptr<SinkStats>> sinks;  // fixed at construction
  std::atomic<uint64_t> latency_buckets[kBatchLatencyBucketCount + 1] = {};  // cumulative at render
  std::atomic<uint64_t> latency_count{0};
  std::atomic<uint64_t> latency_sum_us{0};
  void observe_latency(double seconds);
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
  Result<nlohmann::json> write_with_retry(Sink& sink, SinkStats* stats, const Batch& batch);

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
