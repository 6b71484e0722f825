// The delivery rule (ARCHITECTURE §3): a cursor is committed only after every sink
// acked its batch, together with every sink's position.
#include "pipeline/stream_runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>

namespace ldx {
namespace {

class ScriptedSource final : public Source {
 public:
  explicit ScriptedSource(int batches) : batches_(batches) {}
  const std::string& stream() const override { return name_; }
  Status begin_pass(const nlohmann::json& cursor) override {
    begun_from.push_back(cursor);
    next_ = cursor.is_null() ? 0 : cursor.get<int>();
    return Status::ok();
  }
  Result<std::optional<Batch>> next_batch() override {
    if (next_ == fail_at) return Status::retryable("API unavailable");
    if (next_ >= batches_) return std::optional<Batch>{};
    ++pages_read;
    Batch b;
    b.stream = name_;
    Record r;
    r.id = std::to_string(next_);
    b.records.push_back(r);
    if (next_ == 1) b.dead_letters.push_back({name_, "bad record", "{oops", 0});
    b.cursor = ++next_;
    return std::optional<Batch>(std::move(b));
  }
  uint64_t requests_this_pass() const override { return 0; }
  std::vector<nlohmann::json> begun_from;
  std::atomic<int> pages_read{0};
  int fail_at = -1;  // next_batch() fails when this page is next

 private:
  std::string name_ = "s";
  int batches_;
  int next_ = 0;
};

class FakeSink final : public Sink {
 public:
  explicit FakeSink(std::string n) : name_(std::move(n)) {}
  const std::string& name() const override { return name_; }
  Status open() override { return Status::ok(); }
  Status recover(const std::string&, const nlohmann::json& pos) override {
    recovered_at = pos;
    ++recoveries;
    written = pos.is_number() ? pos.get<int>() : 0;  // discards what came after it
    return Status::ok();
  }
  Result<nlohmann::json> write(const Batch& b) override {
    if (fail_next_fatal) return Status::fatal("disk on fire");
    if (fail_retryable > 0) {
      --fail_retryable;
      return Status::retryable("busy");
    }
    if (on_write) on_write(b);
    written += static_cast<int>(b.records.size());
    batch_sizes.push_back(b.records.size());
    return nlohmann::json(written);
  }
  Status close() override { return Status::ok(); }
  int written = 0;
  int recoveries = 0;
  std::vector<size_t> batch_sizes;
  std::function<void(const Batch&)> on_write;
  int fail_retryable = 0;
  bool fail_next_fatal = false;
  nlohmann::json recovered_at;

 private:
  std::string name_;
};

class MemoryStore final : public CheckpointStore {
 public:
  Status open() override { return Status::ok(); }
  Result<std::optional<Checkpoint>> load(const std::string& s) override {
    auto it = cps.find(s);
    if (it == cps.end()) return std::optional<Checkpoint>{};
    return std::optional<Checkpoint>(it->second);
  }
  Status commit(const std::string& s, const Checkpoint& cp) override {
    if (fail_commits) return Status::fatal("checkpoint disk full");
    cps[s] = cp;
    ++commits;
    return Status::ok();
  }
  Result<std::vector<std::string>> list_streams() override { return std::vector<std::string>{}; }
  Status reset(const std::string& s) override {
    cps.erase(s);
    return Status::ok();
  }
  std::map<std::string, Checkpoint> cps;
  int commits = 0;
  bool fail_commits = false;
};

struct TestStreamConfig final : StreamConfig {
  Result<std::unique_ptr<Source>> build(const SourceContext&) const override { return Status::fatal("unused"); }
};

struct Fixture {
  TestStreamConfig cfg;
  FakeSink a{"a"}, b{"b"}, dl{kDeadLetterSinkName};
  MemoryStore store;
  StopSignal stop;
  ScriptedSource* src = nullptr;
  // One page per batch unless a test says otherwise, so each page is one commit.
  std::unique_ptr<StreamRunner> make(int batches, size_t batch_records = 1) {
    cfg.stream = "s";
    cfg.batch_records = batch_records;
    auto s = std::make_unique<ScriptedSource>(batches);
    src = s.get();
    return std::make_unique<StreamRunner>(cfg, std::move(s), std::vector<Sink*>{&a, &b}, &dl, store, stop);
  }
};

TEST(StreamRunner, CommitsCursorWithEverySinkPositionAfterEachBatch) {
  Fixture f;
  auto r = f.make(3);
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(r->run_pass().is_ok());
  EXPECT_EQ(f.store.commits, 3);
  const auto& cp = f.store.cps["s"];
  EXPECT_EQ(cp.source_cursor, 3);
  EXPECT_EQ(cp.sink_positions["a"], 3);
  EXPECT_EQ(cp.sink_positions["b"], 3);
  EXPECT_EQ(cp.sink_positions[kDeadLetterSinkName], 1);  // the dead letter of batch 2
  EXPECT_EQ(r->stats().dead_letters.load(), 1u);
}

TEST(StreamRunner, FatalSinkErrorHoldsTheCursor) {
  Fixture f;
  auto r = f.make(3);
  ASSERT_TRUE(r->recover().is_ok());
  f.b.fail_next_fatal = true;
  Status st = r->run_pass();
  EXPECT_TRUE(st.is_fatal());
  EXPECT_NE(st.message().find("sink b"), std::string::npos);
  EXPECT_EQ(f.store.commits, 0);  // sink a wrote, but b never acked: nothing committed
}

TEST(StreamRunner, RetryableSinkErrorIsRetriedUntilAcked) {
  Fixture f;
  auto r = f.make(2);
  ASSERT_TRUE(r->recover().is_ok());
  f.a.fail_retryable = 1;
  ASSERT_TRUE(r->run_pass().is_ok());
  EXPECT_EQ(f.a.written, 2);
  EXPECT_EQ(f.store.cps["s"].source_cursor, 2);
  EXPECT_EQ(r->stats().sink_retries.load(), 1u);
}

TEST(StreamRunner, RecoverHandsEachSinkItsCommittedPositionAndResumesTheSource) {
  Fixture f;
  Checkpoint cp;
  cp.source_cursor = 2;
  cp.sink_positions = {{"a", 7}, {"b", 9}};
  ASSERT_TRUE(f.store.commit("s", cp).is_ok());
  auto r = f.make(3);
  ASSERT_TRUE(r->recover().is_ok());
  EXPECT_EQ(f.a.recovered_at, 7);
  EXPECT_EQ(f.b.recovered_at, 9);
  EXPECT_TRUE(f.dl.recovered_at.is_null());
  ASSERT_TRUE(r->run_pass().is_ok());
  ASSERT_EQ(f.src->begun_from.size(), 1u);
  EXPECT_EQ(f.src->begun_from[0], 2);
  EXPECT_EQ(f.a.written, 7 + 1);  // from its committed position, only batch 3 was left
}

TEST(StreamRunner, JoinsPagesIntoBatchesOfBatchRecords) {
  Fixture f;
  auto r = f.make(5, 2);
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(r->run_pass().is_ok());
  EXPECT_EQ(f.a.batch_sizes, (std::vector<size_t>{2, 2, 1}));  // the last batch: the source caught up
  EXPECT_EQ(f.store.commits, 3);
  EXPECT_EQ(f.store.cps["s"].source_cursor, 5);  // the later page's cursor covers the batch
  EXPECT_EQ(f.store.cps["s"].sink_positions["a"], 5);
  EXPECT_EQ(r->stats().records.load(), 5u);
  EXPECT_EQ(r->stats().batches.load(), 3u);
  EXPECT_EQ(r->stats().passes.load(), 1u);
}

TEST(StreamRunner, ReaderStaysAtMostOneBatchAheadOfTheSinks) {
  Fixture f;
  auto r = f.make(20);
  int writes = 0;
  int most_ahead = 0;
  f.a.on_write = [&](const Batch&) {
    ++writes;
    most_ahead = std::max(most_ahead, f.src->pages_read.load() - writes);
  };
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(r->run_pass().is_ok());
  EXPECT_EQ(writes, 20);
  // One batch queued and one in the reader's hands while the sinks write: no more.
  EXPECT_LE(most_ahead, 2);
}

TEST(StreamRunner, PagesReadBeforeASourceErrorAreCommittedThenThePassFails) {
  Fixture f;
  auto r = f.make(5, 10);
  f.src->fail_at = 3;
  ASSERT_TRUE(r->recover().is_ok());
  Status st = r->run_pass();
  EXPECT_TRUE(st.is_retryable());
  EXPECT_NE(st.message().find("API unavailable"), std::string::npos);
  EXPECT_EQ(f.store.cps["s"].source_cursor, 3);
  EXPECT_EQ(f.a.written, 3);
  EXPECT_EQ(r->stats().passes.load(), 0u);  // not caught up
  f.src->fail_at = -1;
  ASSERT_TRUE(r->run_pass().is_ok());
  EXPECT_EQ(f.src->begun_from.back(), 3);
  EXPECT_EQ(f.a.written, 5);
}

TEST(StreamRunner, AFailedPassRecoversTheSinksBeforeTheNextReplays) {
  Fixture f;
  auto r = f.make(3);
  ASSERT_TRUE(r->recover().is_ok());
  f.b.fail_next_fatal = true;
  EXPECT_FALSE(r->run_pass().is_ok());
  EXPECT_EQ(f.a.written, 1);  // a wrote page 1; b refused it; nothing committed
  f.b.fail_next_fatal = false;
  ASSERT_TRUE(r->run_pass().is_ok());
  EXPECT_EQ(f.a.recoveries, 2);  // asked again to discard what nobody committed
  EXPECT_EQ(f.a.written, 3);    // so page 1 is in a once
  EXPECT_EQ(f.store.cps["s"].sink_positions["a"], 3);
}

TEST(StreamRunner, ACheckpointThatCannotBeCommittedFailsThePass) {
  Fixture f;
  auto r = f.make(4);
  ASSERT_TRUE(r->recover().is_ok());
  f.store.fail_commits = true;
  Status st = r->run_pass();
  EXPECT_TRUE(st.is_fatal());
  EXPECT_NE(st.message().find("checkpoint disk full"), std::string::npos);
  EXPECT_EQ(f.store.commits, 0);
  EXPECT_EQ(r->stats().records.load(), 0u);  // nothing counts as exported
  EXPECT_LE(f.a.written, 2);  // the sinks wrote at most one batch past the failed commit
}

TEST(StreamRunner, StopEndsThePassAfterCommittingWhatWasRead) {
  Fixture f;
  auto r = f.make(50);
  f.a.on_write = [&](const Batch&) {
    if (f.a.written == 3) f.stop.request_stop();
  };
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(r->run_pass().is_ok());
  EXPECT_LT(f.src->pages_read.load(), 50);
  // Every page the reader took was written and committed: nothing is left half done.
  EXPECT_EQ(f.a.written, f.src->pages_read.load());
  EXPECT_EQ(f.store.cps["s"].source_cursor, f.src->pages_read.load());
  EXPECT_EQ(r->stats().passes.load(), 0u);
}

}  // namespace
}  // namespace ldx
