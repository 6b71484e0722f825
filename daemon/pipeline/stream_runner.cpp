#include "pipeline/stream_runner.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <set>
#include <thread>

#include "common/hash_chain.h"
#include "core/time_util.h"
#include "telemetry/log_fields.h"

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

namespace {
// The ids a committed checkpoint lists as upserted by a batch that was never committed.
std::vector<std::string> unconfirmed_upserts(const Checkpoint& cp) {
  std::vector<std::string> ids;
  auto it = cp.sink_positions.find(kUnconfirmedUpsertsKey);
  if (it == cp.sink_positions.end() || !it->is_array()) return ids;
  for (const auto& id : *it) {
    if (id.is_string()) ids.push_back(id.get<std::string>());
  }
  return ids;
}
}  // namespace

void StreamStats::observe_latency(double seconds) {
  size_t i = 0;
  while (i < kBatchLatencyBucketCount && seconds > kBatchLatencyBuckets[i]) ++i;
  latency_buckets[i].fetch_add(1);
  latency_count.fetch_add(1);
  latency_sum_us.fetch_add(static_cast<uint64_t>(seconds * 1e6));
}

Status StreamRunner::recover() {
  LogScope stream_scope(LogField::kStream, cfg_.stream);
  auto loaded = store_.load(cfg_.stream);
  if (!loaded.is_ok()) return loaded.status();
  committed_ = loaded.value() ? std::move(*loaded.value()) : Checkpoint{};
  acked_ = committed_;
  records_unconfirmed_ = source_->emits_deletes() &&
                         std::any_of(sinks_.begin(), sinks_.end(), [](Sink* s) { return s->keeps_uncommitted_writes(); });
  stats_.last_commit_ms.store(committed_.committed_at_ms);
  std::vector<Sink*> all = sinks_;
  all.push_back(dead_letter_sink_);
  for (Sink* s : all) {
    nlohmann::json pos;
    if (committed_.sink_positions.contains(s->name())) pos = committed_.sink_positions[s->name()];
    LogScope sink_scope(LogField::kSink, s->name());
    if (auto st = s->recover(cfg_.stream, pos); !st.is_ok()) {
      return st.with_context("stream " + cfg_.stream + ", sink " + s->name() + ": ").with_sink(s->name());
    }
  }
  needs_recover_ = false;
  return Status::ok();
}

// Stage 1 -> stage 2: holds one finished batch while the writer works on the previous
// one, so the reader is at most one batch ahead (memory stays bounded).
class StreamRunner::Queue {
 public:
  // Blocks while full; false once the writer gave up (the item is dropped).
  bool push(Item item) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return items_.empty() || closed_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    cv_.notify_all();
    return true;
  }
  // Blocks while empty; once closed, returns at once an end item saying so.
  Item pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return Item{std::nullopt, Status::retryable("the pass was cut short")};
    Item item = std::move(items_.front());
    items_.pop_front();
    cv_.notify_all();
    return item;
  }
  // The consumer stops taking items: a blocked or later push returns false, and so
  // does a blocked or later pop.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    items_.clear();
    cv_.notify_all();
  }
  [[nodiscard]] bool closed() {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  bool closed_ = false;
};

Result<nlohmann::json> StreamRunner::write_with_retry(Sink& sink, SinkStats* stats, const Batch& batch) {
  LogScope sink_scope(LogField::kSink, sink.name());
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

namespace {
// Threads are named for `top -H` and profilers (at most 15 characters).
void name_this_thread(const std::string& prefix, const std::string& stream) {
  ::pthread_setname_np(::pthread_self(), (prefix + stream).substr(0, 15).c_str());
}
}  // namespace

// Stage 1b of a chained stream, on its own thread: the batches from the reader, in
// order, hash-chained from the committed head (a replay after a failed pass hashes the
// same), then handed to the writer.
void StreamRunner::chain_pass(Queue& in, Queue& out, nlohmann::json chain_positions) {
  name_this_thread("ldx-ch:", cfg_.stream);
  LogScope stream_scope(LogField::kStream, cfg_.stream);
  while (true) {
    Item item = in.pop();
    if (!item.batch) {  // the reader is done (or the pass was cut short)
      out.push(std::move(item));
      return;
    }
    Batch& b = *item.batch;
    Status st = Status::ok();
    try {
      st = apply_hash_chain(b, chain_positions);
    } catch (const std::exception& e) {
      st = Status::fatal(std::string("unexpected error: ") + e.what());
    }
    if (!st.is_ok()) {
      in.close();  // the reader stops too
      out.push(Item{std::nullopt, st.with_context("stream " + cfg_.stream + ", hash chain: ")});
      return;
    }
    if (auto it = chain_positions.find(kChainPositionKey); it != chain_positions.end()) {
      b.chain_position = *it;
    }
    if (!out.push(std::move(item))) {
      in.close();  // the writer gave up
      return;
    }
  }
}

// Stage 1a, on its own thread: pages from the source joined into batches.
void StreamRunner::read_pass(Queue& queue, std::vector<std::string> unconfirmed) {
  name_this_thread("ldx-rd:", cfg_.stream);
  LogScope stream_scope(LogField::kStream, cfg_.stream);
  using Clock = std::chrono::steady_clock;
  std::optional<Batch> building;
  size_t building_bytes = 0;
  Clock::time_point building_since;
  uint64_t sequence = 0;
  // Hands the batch being built to the writer; false when the writer gave up.
  auto flush = [&]() -> bool {
    if (!building) return true;
    Batch b = std::move(*building);
    building.reset();
    building_bytes = 0;
    b.sequence = ++sequence;
    return queue.push(Item{std::move(b), Status::ok()});
  };
  Status end = Status::ok();
  stats_.read_this_pass.store(0);
  try {
    if (!unconfirmed.empty()) source_->adopt_unconfirmed_upserts(std::move(unconfirmed));
    if (auto st = source_->begin_pass(committed_.source_cursor); !st.is_ok()) {
      end = st.with_context("stream " + cfg_.stream + ": ");  // as for next_batch below
    } else {
      while (!stop_.stop_requested() && !queue.closed()) {
        auto next = source_->next_batch();
        stats_.requests_last_pass.store(source_->requests_this_pass());
        if (!next.is_ok()) {
          end = next.status().with_context("stream " + cfg_.stream + ": ");
          break;
        }
        if (!next.value()) {
          break;
        }
        Batch& page = *next.value();
        stats_.read_this_pass.fetch_add(page.records.size());
        if (!building) {
          building = std::move(page);
          building_since = Clock::now();
          building_bytes = 0;
          for (const auto& r : building->records) building_bytes += r.envelope.size();
          // Grown once, not by doubling: pages of 20 records make up batches of 2000.
          building->records.reserve(std::min<size_t>(cfg_.batch_records, 100'000));
        } else {
          for (auto& r : page.records) {
            building_bytes += r.envelope.size();
            building->records.push_back(std::move(r));
          }
          for (auto& d : page.dead_letters) building->dead_letters.push_back(std::move(d));
          building->pages += page.pages;
          building->cursor = std::move(page.cursor);  // the later cursor covers both
        }
        if (building->records.size() >= cfg_.batch_records || building_bytes >= cfg_.batch_bytes ||
            Clock::now() - building_since >= cfg_.batch_wait) {
          if (!flush()) return;
        }
      }
    }
  } catch (const std::exception& e) {
    end = Status::fatal("stream " + cfg_.stream + ": unexpected error while reading: " + e.what());
  }
  // What was read before an error or a stop is delivered and committed, then the pass ends.
  if (!flush()) return;
  queue.push(Item{std::nullopt, end});
}

Status StreamRunner::commit_with_retry(const Checkpoint& cp) {
  Millis backoff{200};
  while (true) {
    Status st = store_.commit(cfg_.stream, cp);
    if (st.is_ok()) return st;
    if (!st.is_retryable()) return st.with_context("stream " + cfg_.stream + ", checkpoint: ");
    LogScope stream_scope(LogField::kStream, cfg_.stream);  // also on the commit's own thread
    spdlog::warn("stream {}: checkpoint commit failed: {}; retrying", cfg_.stream, st.message());
    if (!stop_.sleep_for(backoff)) return Status::retryable("stopping before the checkpoint was committed");
    backoff = std::min(backoff * 2, Millis(10'000));
  }
}

// Waits for the commit in flight (stage 3) and counts its batch once it is durable.
Status StreamRunner::finish_pending_commit() {
  if (!pending_commit_.valid()) return Status::ok();
  Status st = pending_commit_.get();
  if (!st.is_ok()) return st;
  committed_ = acked_;
  for (Sink* s : sinks_) {
    if (auto it = committed_.sink_positions.find(s->name()); it != committed_.sink_positions.end()) {
      s->committed(cfg_.stream, *it);
    }
  }
  const Committed& c = pending_counts_;
  stats_.last_commit_ms.store(committed_.committed_at_ms);
  stats_.observe_latency(static_cast<double>(wall_now_ms() - c.started_ms) / 1000.0);
  stats_.records.fetch_add(c.records);
  stats_.pages.fetch_add(c.pages);
  stats_.batches.fetch_add(1);
  stats_.dead_letters.fetch_add(c.dead_letters);
  if (c.newest_occurred_ms > stats_.newest_occurred_ms.load()) stats_.newest_occurred_ms.store(c.newest_occurred_ms);
  return Status::ok();
}

// Before a batch that upserts reaches a sink that keeps uncommitted writes: its ids are
// made durable beside the committed cursor (which does not move), so that if the batch is
// never committed, the next pass learns that a sink may hold them.
Status StreamRunner::commit_unconfirmed_upserts(const Batch& batch) {
  std::set<std::string> ids;
  for (const auto& r : batch.records) {
    if (r.op == Op::kUpsert) ids.insert(r.id);
  }
  if (ids.empty()) return Status::ok();
  // The previous batch's commit first: this checkpoint builds on it, and commits stay in order.
  if (auto st = finish_pending_commit(); !st.is_ok()) return st;
  Checkpoint cp = committed_;
  for (auto& id : unconfirmed_upserts(cp)) ids.insert(std::move(id));  // still unadopted from a crash
  cp.sink_positions[kUnconfirmedUpsertsKey] = ids;
  if (auto st = commit_with_retry(cp); !st.is_ok()) return st;
  committed_ = cp;
  acked_ = std::move(cp);
  return Status::ok();
}

// Stage 2 for one batch, then hands its checkpoint to stage 3.
Status StreamRunner::deliver(Batch& batch) {
  if (records_unconfirmed_) {
    if (auto st = commit_unconfirmed_upserts(batch); !st.is_ok()) return st;
  }
  Checkpoint next;
  next.sink_positions = acked_.sink_positions;
  // The source adopted any unconfirmed upserts at the start of the pass, so its cursor
  // covers them from now on; and this batch will be committed.
  next.sink_positions.erase(kUnconfirmedUpsertsKey);
  if (!batch.chain_position.is_null()) next.sink_positions[kChainPositionKey] = batch.chain_position;
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
  // Every sink acked this batch. The previous commit must be durable before this one
  // starts, so commits stay in order.
  if (auto st = finish_pending_commit(); !st.is_ok()) return st;
  next.committed_at_ms = wall_now_ms();
  acked_ = std::move(next);
  Committed counts;
  counts.records = batch.records.size();
  counts.pages = batch.pages;
  counts.dead_letters = batch.dead_letters.size();
  counts.started_ms = started_ms;
  for (const auto& r : batch.records) {
    if (r.occurred_at_ms && *r.occurred_at_ms > counts.newest_occurred_ms) counts.newest_occurred_ms = *r.occurred_at_ms;
  }
  pending_counts_ = counts;
  pending_commit_ = std::async(std::launch::async, [this, cp = acked_] { return commit_with_retry(cp); });
  return Status::ok();
}

Status StreamRunner::run_pass() {
  LogScope stream_scope(LogField::kStream, cfg_.stream);
  if (needs_recover_) {
    // The last pass failed: a sink may hold a batch nobody committed. Discard it first.
    if (auto st = recover(); !st.is_ok()) return st;
  }
  // reader -> [chainer ->] writer (this thread)
  Queue queue;
  std::optional<Queue> to_chain;
  std::thread chainer;
  if (stream_is_chained(cfg_.stream)) {
    to_chain.emplace();
    chainer = std::thread([this, &queue, &to_chain, chain = committed_.sink_positions]() mutable {
      chain_pass(*to_chain, queue, std::move(chain));
    });
  }
  std::thread reader([this, &queue, &to_chain, unconfirmed = unconfirmed_upserts(committed_)]() mutable {
    read_pass(to_chain ? *to_chain : queue, std::move(unconfirmed));
  });
  Status result = Status::ok();
  bool caught_up = false;
  try {
    while (true) {
      Item item = queue.pop();
      if (!item.batch) {
        result = item.end;
        caught_up = item.end.is_ok() && !stop_.stop_requested();
        break;
      }
      if (auto st = deliver(*item.batch); !st.is_ok()) {
        result = st;
        break;
      }
    }
  } catch (const std::exception& e) {
    result = Status::fatal("stream " + cfg_.stream + ": unexpected error while writing: " + e.what());
  }
  queue.close();
  if (to_chain) to_chain->close();
  reader.join();
  if (chainer.joinable()) chainer.join();
  if (auto st = finish_pending_commit(); !st.is_ok() && result.is_ok()) result = st;
  if (!result.is_ok()) {
    needs_recover_ = true;
    return result;
  }
  if (caught_up) {
    stats_.passes.fetch_add(1);
    stats_.last_pass_end_ms.store(wall_now_ms());
  }
  return Status::ok();
}

}  // namespace ldx
