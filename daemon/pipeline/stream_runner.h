// Runs one stream's passes: Source -> every Sink -> CheckpointStore, enforcing the
// delivery rule (ARCHITECTURE §3): a batch's cursor is committed, together with every
// sink's position, only after every sink acked that batch. Batches are delivered in
// order, one at a time, so the committed prefix is always contiguous.
//
// A pass is overlapping stages, each bounded:
//   1a. a reader thread pulls the source's pages (HTTP, parse, normalize), joins them
//       into batches of up to `batch_records` records / `batch_bytes` envelope bytes /
//       `batch_wait` of reading;
//   1b. for a hash-chained stream, a chainer thread applies the hash chain to each
//       batch, in order (so reading and hashing use two cores);
//   2. this thread writes each batch to every sink, in order;
//   3. the checkpoint of batch N is committed while batch N+1 is being written (never
//      before every sink acked N, and commits stay in order).
// So a page's round trip, the sinks' acknowledgements and the checkpoint's fsync no
// longer add up per page. Each hand-over holds at most one batch, so at most three
// batches (five for a chained stream) are in memory at once.
//
// A sink that keeps uncommitted writes (Kafka at least once) would otherwise keep the
// first upsert of an entity deleted before any commit knew of it. For a stream that
// deletes (Source::emits_deletes), the ids a batch upserts are therefore committed
// first, beside the unchanged cursor (kUnconfirmedUpsertsKey), and the batch is written
// only then; after a crash the next pass adopts them (Source::adopt_unconfirmed_upserts)
// and deletes those that are gone. That costs one more checkpoint commit per batch with
// upserts, and such a batch is written only after the previous commit is durable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
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
  // Records the source has handed over in the current (or last) pass, committed or not:
  // `records` moves once per committed batch, this as pages arrive (progress lines).
  std::atomic<uint64_t> read_this_pass{0};
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
  // After a failed pass the next one first runs recover() again, so a batch that some
  // sinks wrote but nobody committed is discarded before it is replayed.
  Status run_pass();
  StreamStats& stats() { return stats_; }

 private:
  // What the reader hands to the writer: a batch, or the end of the pass (ok or not).
  struct Item {
    std::optional<Batch> batch;
    Status end = Status::ok();
  };
  class Queue;

  void read_pass(Queue& queue, std::vector<std::string> unconfirmed);
  void chain_pass(Queue& in, Queue& out, nlohmann::json chain_positions);
  Status deliver(Batch& batch);
  Status commit_unconfirmed_upserts(const Batch& batch);
  Status commit_with_retry(const Checkpoint& cp);
  Status finish_pending_commit();
  Result<nlohmann::json> write_with_retry(Sink& sink, SinkStats* stats, const Batch& batch);

  const StreamConfig& cfg_;
  std::unique_ptr<Source> source_;
  std::vector<Sink*> sinks_;
  Sink* dead_letter_sink_;
  CheckpointStore& store_;
  StopSignal& stop_;
  Checkpoint committed_;  // durable in the checkpoint store
  Checkpoint acked_;      // acknowledged by every sink; its commit may still be running
  // The commit in flight (stage 3) and what to count once it is durable.
  struct Committed {
    uint64_t records = 0, pages = 0, dead_letters = 0;
    int64_t newest_occurred_ms = 0, started_ms = 0;
  };
  std::future<Status> pending_commit_;
  Committed pending_counts_;
  bool needs_recover_ = false;
  bool records_unconfirmed_ = false;  // the source deletes, and a sink keeps uncommitted writes
  StreamStats stats_;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace ldx
