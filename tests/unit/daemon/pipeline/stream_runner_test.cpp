// The delivery rule (ARCHITECTURE §3): a cursor is committed only after every sink
// acked its batch, together with every sink's position.
#include "pipeline/stream_runner.h"

#include <gtest/gtest.h>

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
    if (next_ >= batches_) return std::optional<Batch>{};
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
    return Status::ok();
  }
  Result<nlohmann::json> write(const Batch& b) override {
    if (fail_next_fatal) return Status::fatal("disk on fire");
    if (fail_retryable > 0) {
      --fail_retryable;
      return Status::retryable("busy");
    }
    written += static_cast<int>(b.records.size());
    return nlohmann::json(written);
  }
  Status close() override { return Status::ok(); }
  int written = 0;
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
  std::unique_ptr<StreamRunner> make(int batches) {
    cfg.stream = "s";
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
  EXPECT_EQ(f.a.written, 1);  // only batch 3 was left
}

}  // namespace
}  // namespace ldx
