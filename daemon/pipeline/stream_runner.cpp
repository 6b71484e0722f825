#include "pipeline/stream_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/hash_chain.h"
#include "core/time_util.h"

namespace ldx {

StreamRunner::StreamRunner(const StreamConfig& cfg, std::unique_ptr<Source> source, std::vector<Sink*> sinks,
                           Sink* dead_letter_sink, CheckpointStore& store, StopSignal& stop)
    : cfg_(cfg),
      source_(std::move(source)),
      sinks_(std::move(sinks)),
      dead_letter_sink_(dead_letter_sink),
      store_(store),
      stop_(stop) {
  for (Sink* s : sinks_) {
    stats_.sinks.push_back(std::make_unique<SinkStats>());
    stats_.sinks.back()->sink = s->name();
  }
}

void StreamStats::observe_latency(double seconds) {
  size_t i = 0;
  while (i < kBatchLatencyBucketCount && seconds > kBatchLatencyBuckets[i]) ++i;
  latency_buckets[i].fetch_add(1);
  latency_count.fetch_add(1);
  latency_sum_us.fetch_add(static_cast<uint64_t>(seconds * 1e6));
}

Status StreamRunner::recover() {
  auto loaded = store_.load(cfg_.stream);
  if (!loaded.is_ok()) return loaded.status();
  committed_ = loaded.value() ? std::move(*loaded.value()) : Checkpoint{};
  stats_.last_commit_ms.store(committed_.committed_at_ms);
  std::vector<Sink*> all = sinks_;
  all.push_back(dead_letter_sink_);
  for (Sink* s : all) {
    nlohmann::json pos;
    if (committed_.sink_positions.contains(s->name())) pos = committed_.sink_positions[s->name()];
    if (auto st = s->recover(cfg_.stream, pos); !st.is_ok()) {
      return st.with_context("stream " + cfg_.stream + ", sink " + s->name() + ": ");
    }
  }
  return Status::ok();
}

Result<nlohmann::json> StreamRunner::write_with_retry(Sink& sink, SinkStats* stats, const Batch& batch) {
  Millis backoff{500};
  for (int attempt = 1;; ++attempt) {
    auto r = sink.write(batch);
    if (stats) {
      (r.is_ok() ? stats->acks : stats->failures).fetch_add(1);
      stats->failing.store(!r.is_ok());
    }
    if (r.is_ok() || !r.status().is_retryable()) return r;
    stats_.sink_retries.fetch_add(1);
    spdlog::warn("stream {}: sink {} not available (attempt {}): {}; retrying in {} ms, cursor held", cfg_.stream,
                 sink.name(), attempt, r.status().message(), backoff.count());
    if (!stop_.sleep_for(backoff)) return Status::retryable("stopping before sink " + sink.name() + " acked");
    backoff = std::min(backoff * 2, Millis(30'000));
  }
}

Status StreamRunner::deliver(Batch& batch) {
  Checkpoint next;
  next.sink_positions = committed_.sink_positions;
  // Hash chain (common/hash_chain.h), from the committed head: a replay hashes the same.
  if (auto st = apply_hash_chain(batch, next.sink_positions); !st.is_ok()) {
    return st.with_context("stream " + cfg_.stream + ", hash chain: ");
  }
  const int64_t started_ms = wall_now_ms();
  for (size_t i = 0; i < sinks_.size(); ++i) {
    Sink* s = sinks_[i];
    auto pos = write_with_retry(*s, stats_.sinks[i].get(), batch);
    if (!pos.is_ok()) return pos.status().with_context("stream " + cfg_.stream + ", sink " + s->name() + ": ");
    next.sink_positions[s->name()] = pos.value();
  }
  if (!batch.dead_letters.empty()) {
    Batch dl;
    dl.stream = batch.stream;
    for (const auto& d : batch.dead_letters) {
      spdlog::warn("stream {}: dead-lettered a record: {}", cfg_.stream, d.reason);
      Record r;
      r.envelope = d.to_json();
      dl.records.push_back(std::move(r));
    }
    auto pos = write_with_retry(*dead_letter_sink_, nullptr, dl);
    if (!pos.is_ok()) return pos.status().with_context("stream " + cfg_.stream + ", dead-letter output: ");
    next.sink_positions[dead_letter_sink_->name()] = pos.value();
  }
  next.source_cursor = std::move(batch.cursor);
  next.committed_at_ms = wall_now_ms();
  Millis backoff{200};
  while (true) {
    Status st = store_.commit(cfg_.stream, next);
    if (st.is_ok()) break;
    if (!st.is_retryable()) return st.with_context("stream " + cfg_.stream + ", checkpoint: ");
    spdlog::warn("stream {}: checkpoint commit failed: {}; retrying", cfg_.stream, st.message());
    if (!stop_.sleep_for(backoff)) return Status::retryable("stopping before the checkpoint was committed");
    backoff = std::min(backoff * 2, Millis(10'000));
  }
  committed_ = std::move(next);
  stats_.last_commit_ms.store(committed_.committed_at_ms);
  stats_.observe_latency(static_cast<double>(wall_now_ms() - started_ms) / 1000.0);
  stats_.records.fetch_add(batch.records.size());
  stats_.pages.fetch_add(batch.pages);
  stats_.batches.fetch_add(1);
  stats_.dead_letters.fetch_add(batch.dead_letters.size());
  for (const auto& r : batch.records) {
    if (r.occurred_at_ms && *r.occurred_at_ms > stats_.newest_occurred_ms.load())
      stats_.newest_occurred_ms.store(*r.occurred_at_ms);
  }
  return Status::ok();
}

Status StreamRunner::run_pass() {
  if (auto st = source_->begin_pass(committed_.source_cursor); !st.is_ok()) return st;
  while (!stop_.stop_requested()) {
    auto next = source_->next_batch();
    stats_.requests_last_pass.store(source_->requests_this_pass());
    if (!next.is_ok()) return next.status().with_context("stream " + cfg_.stream + ": ");
    if (!next.value()) {
      stats_.passes.fetch_add(1);
      stats_.last_pass_end_ms.store(wall_now_ms());
      return Status::ok();
    }
    if (auto st = deliver(*next.value()); !st.is_ok()) return st;
  }
  return Status::ok();
}

}  // namespace ldx
