// The delivery rule (ARCHITECTURE §3): a cursor is committed only after every sink
// acked its batch, together with every sink's position.
#include "pipeline/stream_runner.h"

#include <gtest/gtest.h>

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>

#include "common/hash_chain.h"
#include "sources/audit_log/audit_log_normalizer.h"

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
  bool emits_deletes() const override { return deletes; }
  void adopt_unconfirmed_upserts(std::vector<std::string> ids) override { adopted.push_back(std::move(ids)); }
  bool deletes = false;
  std::vector<std::vector<std::string>> adopted;
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
  bool keeps_uncommitted_writes() const override { return keeps; }
  void committed(const std::string&, const nlohmann::json& pos) override {
    if (on_committed) on_committed(pos);
  }
  std::function<void(const nlohmann::json&)> on_committed;
  bool keeps = false;
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

// Kafka at least once keeps what it was sent even if the batch is never committed. For a
// stream that deletes, the ids a batch upserts are committed before it is written.
TEST(StreamRunner, UpsertsBoundForASinkThatKeepsUncommittedWritesAreCommittedFirst) {
  Fixture f;
  auto r = f.make(3);
  f.src->deletes = true;
  f.a.keeps = true;
  std::vector<std::pair<nlohmann::json, nlohmann::json>> seen;  // (cursor, ids) durable at each write
  f.a.on_write = [&](const Batch&) {
    const auto& cp = f.store.cps["s"];
    seen.emplace_back(cp.source_cursor, cp.sink_positions.value(kUnconfirmedUpsertsKey, nlohmann::json()));
  };
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(r->run_pass().is_ok());
  // Batch n (id n-1) is written only once its id is durable, beside the previous cursor.
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_pair(nlohmann::json(), nlohmann::json{"0"}));
  EXPECT_EQ(seen[1], std::make_pair(nlohmann::json(1), nlohmann::json{"1"}));
  EXPECT_EQ(seen[2], std::make_pair(nlohmann::json(2), nlohmann::json{"2"}));
  EXPECT_EQ(f.store.commits, 6);  // one more per batch
  const auto& cp = f.store.cps["s"];
  EXPECT_EQ(cp.source_cursor, 3);
  EXPECT_FALSE(cp.sink_positions.contains(kUnconfirmedUpsertsKey));  // the cursor covers them
  EXPECT_TRUE(f.src->adopted.empty());
}

TEST(StreamRunner, NoExtraCommitUnlessTheStreamDeletesAndASinkKeepsUncommittedWrites) {
  for (const auto& [deletes, keeps] : {std::pair{true, false}, std::pair{false, true}}) {
    Fixture f;
    auto r = f.make(3);
    f.src->deletes = deletes;
    f.a.keeps = keeps;
    ASSERT_TRUE(r->recover().is_ok());
    ASSERT_TRUE(r->run_pass().is_ok());
    EXPECT_EQ(f.store.commits, 3);
    EXPECT_FALSE(f.store.cps["s"].sink_positions.contains(kUnconfirmedUpsertsKey));
  }
}

TEST(StreamRunner, AfterACrashTheNextRunHandsTheUnconfirmedUpsertsToTheSource) {
  Fixture f;
  {
    auto r = f.make(3);
    f.src->deletes = true;
    f.a.keeps = true;
    // Batch 2 reaches a (Kafka), then b refuses it for good: the process ends uncommitted.
    f.a.on_write = [&](const Batch& b) {
      if (b.records[0].id == "1") f.b.fail_next_fatal = true;
    };
    ASSERT_TRUE(r->recover().is_ok());
    EXPECT_TRUE(r->run_pass().is_fatal());
    EXPECT_EQ(f.a.written, 2);
    EXPECT_EQ(f.store.cps["s"].source_cursor, 1);
    EXPECT_EQ(f.store.cps["s"].sink_positions[kUnconfirmedUpsertsKey], nlohmann::json{"1"});
  }
  // The next process.
  f.a.on_write = nullptr;
  f.b.fail_next_fatal = false;
  auto r = f.make(3);
  f.src->deletes = true;
  f.a.keeps = true;
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(r->run_pass().is_ok());
  ASSERT_EQ(f.src->adopted.size(), 1u);
  EXPECT_EQ(f.src->adopted[0], std::vector<std::string>{"1"});
  ASSERT_EQ(f.src->begun_from.size(), 1u);
  EXPECT_EQ(f.src->begun_from[0], 1);  // adopted before the pass began, from the committed cursor
  const auto& cp = f.store.cps["s"];
  EXPECT_EQ(cp.source_cursor, 3);
  EXPECT_FALSE(cp.sink_positions.contains(kUnconfirmedUpsertsKey));
}

TEST(StreamRunner, UnconfirmedUpsertsNotYetAdoptedStayDurableUntilACommitCoversThem) {
  Fixture f;
  Checkpoint crashed;
  crashed.source_cursor = 1;
  crashed.sink_positions = {{"a", 1}, {"b", 1}, {kUnconfirmedUpsertsKey, {"9"}}};
  ASSERT_TRUE(f.store.commit("s", crashed).is_ok());
  auto r = f.make(3);
  f.src->deletes = true;
  f.a.keeps = true;
  std::vector<nlohmann::json> durable;
  f.a.on_write = [&](const Batch&) { durable.push_back(f.store.cps["s"].sink_positions[kUnconfirmedUpsertsKey]); };
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(r->run_pass().is_ok());
  ASSERT_EQ(durable.size(), 2u);
  // Until the first commit of this pass, "9" (adopted by the source, not yet in a
  // committed cursor) stays listed beside the batch's own id.
  EXPECT_EQ(durable[0], (nlohmann::json{"1", "9"}));
  EXPECT_EQ(durable[1], nlohmann::json{"2"});
  EXPECT_FALSE(f.store.cps["s"].sink_positions.contains(kUnconfirmedUpsertsKey));
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
  EXPECT_GE(r->stats().read_this_pass.load(), 1u);  // but progress shows what was read
  EXPECT_LE(f.a.written, 2);  // the sinks wrote at most one batch past the failed commit
}

// Sinks that keep replay bookkeeping (Kafka exactly once) learn which of their
// positions the checkpoint holds, only once it is durable, and in order.
TEST(StreamRunner, TellsEachSinkWhenItsPositionIsDurable) {
  Fixture f;
  auto r = f.make(5, 2);
  std::vector<nlohmann::json> told;
  f.a.on_committed = [&](const nlohmann::json& pos) {
    EXPECT_EQ(f.store.cps["s"].sink_positions["a"], pos) << "told before the checkpoint was durable";
    told.push_back(pos);
  };
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(r->run_pass().is_ok());
  EXPECT_EQ(told, (std::vector<nlohmann::json>{2, 4, 5}));
}

TEST(StreamRunner, CountsTheRecordsReadInEachPass) {
  Fixture f;
  auto r = f.make(5, 2);
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(r->run_pass().is_ok());
  EXPECT_EQ(r->stats().read_this_pass.load(), 5u);
  ASSERT_TRUE(r->run_pass().is_ok());  // caught up: the next pass starts from zero
  EXPECT_EQ(r->stats().read_this_pass.load(), 0u);
  EXPECT_EQ(r->stats().records.load(), 5u);
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

// A hash-chained stream: the audit log, its records from the real normalizer.
class AuditPagesSource final : public Source {
 public:
  AuditPagesSource(int page_count, int per_page) : pages(page_count), per_page_(per_page) {}
  const std::string& stream() const override { return name_; }
  Status begin_pass(const nlohmann::json& cursor) override {
    next_ = cursor.is_null() ? 0 : cursor.get<int>();
    return Status::ok();
  }
  Result<std::optional<Batch>> next_batch() override {
    if (next_ == fail_at) return Status::retryable("API unavailable");
    if (next_ >= pages) return std::optional<Batch>{};
    ++pages_read;
    Batch b;
    b.stream = name_;
    for (int k = 0; k < per_page_; ++k) {
      const std::string entry = R"({"_id":")" + record_id(next_, k) + R"(","date":)" +
                                std::to_string(1764000000000 + next_ * 100 + k) +
                                R"(,"kind":"flag","title":"page )" + std::to_string(next_) + R"(","a":{"z":1,"b":[2]}})";
      auto r = normalize_audit_entry(parser_.parse(entry), SecretPolicy{}, 1764000009999);
      if (!r.is_ok()) return r.status();
      b.records.push_back(std::move(r.value()));
    }
    b.cursor = ++next_;
    return std::optional<Batch>(std::move(b));
  }
  uint64_t requests_this_pass() const override { return 0; }
  static std::string record_id(int page, int k) { return "e" + std::to_string(page) + "-" + std::to_string(k); }
  int pages;                // the source has this many pages (a test may add more)
  int fail_at = -1;         // next_batch() fails when this page is next
  std::atomic<int> pages_read{0};

 private:
  std::string name_ = "audit_log";
  int per_page_;
  int next_ = 0;
  simdjson::dom::parser parser_;
};

struct ChainFixture {
  TestStreamConfig cfg;
  FakeSink a{"a"}, b{"b"}, dl{kDeadLetterSinkName};
  MemoryStore store;
  StopSignal stop;
  AuditPagesSource* src = nullptr;
  std::vector<Record> acked_by_b;  // what the last sink acked, in order
  std::unique_ptr<StreamRunner> make(int pages, int per_page, size_t batch_records) {
    cfg.stream = "audit_log";
    cfg.batch_records = batch_records;
    auto s = std::make_unique<AuditPagesSource>(pages, per_page);
    src = s.get();
    b.on_write = [this](const Batch& batch) {
      acked_by_b.insert(acked_by_b.end(), batch.records.begin(), batch.records.end());
    };
    return std::make_unique<StreamRunner>(cfg, std::move(s), std::vector<Sink*>{&a, &b}, &dl, store, stop);
  }
  [[nodiscard]] std::string committed_head() {
    const auto& pos = store.cps["audit_log"].sink_positions;
    if (!pos.contains(kChainPositionKey)) return "";
    return pos[kChainPositionKey]["head"].get<std::string>();
  }
};

// run_pass, failing the test (and ending the binary: a hung thread cannot be joined)
// instead of hanging when a pipeline thread never ends.
Status run_pass_or_abort(StreamRunner& r) {
  auto done = std::async(std::launch::async, [&r] { return r.run_pass(); });
  if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    std::fprintf(stderr, "run_pass did not return within 30 s: a pipeline thread hangs\n");
    std::abort();
  }
  return done.get();
}

// Each record's envelope carries the previous one's hash (the genesis for the first),
// its own hash is what verify recomputes from the line, and ids come in source order.
void expect_unbroken_chain(const std::vector<Record>& records, const std::vector<std::string>& ids) {
  ASSERT_EQ(records.size(), ids.size());
  std::string prev(kChainGenesis);
  for (size_t i = 0; i < records.size(); ++i) {
    auto env = nlohmann::json::parse(records[i].envelope);
    ASSERT_EQ(env["id"], ids[i]) << i;
    ASSERT_EQ(env["prev_hash"], prev) << i;
    auto h = record_hash(records[i].envelope);
    ASSERT_TRUE(h.is_ok()) << h.status().describe();
    ASSERT_EQ(env["hash"], h.value()) << records[i].envelope;
    prev = h.value();
  }
}

std::vector<std::string> ids_of_pages(int pages, int per_page) {
  std::vector<std::string> ids;
  for (int p = 0; p < pages; ++p) {
    for (int k = 0; k < per_page; ++k) ids.push_back(AuditPagesSource::record_id(p, k));
  }
  return ids;
}

TEST(StreamRunnerChained, DeliversEveryBatchInOrderWithAnUnbrokenChain) {
  ChainFixture f;
  auto r = f.make(7, 3, 5);  // pages of 3 joined into batches of 6 (the last: 3)
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(run_pass_or_abort(*r).is_ok());
  EXPECT_EQ(f.b.batch_sizes, (std::vector<size_t>{6, 6, 6, 3}));
  expect_unbroken_chain(f.acked_by_b, ids_of_pages(7, 3));
  ASSERT_FALSE(f.acked_by_b.empty());
  EXPECT_EQ(f.committed_head(), f.acked_by_b.back().chain_hash);
  EXPECT_EQ(f.store.cps["audit_log"].source_cursor, 7);
  EXPECT_EQ(r->stats().records.load(), 21u);

  // The next pass goes on from the committed head.
  f.src->pages = 9;
  ASSERT_TRUE(run_pass_or_abort(*r).is_ok());
  expect_unbroken_chain(f.acked_by_b, ids_of_pages(9, 3));
  EXPECT_EQ(f.committed_head(), f.acked_by_b.back().chain_hash);
}

TEST(StreamRunnerChained, AFatalSinkErrorMidPassEndsEveryThreadAndTheReplayChainsFromTheCommittedHead) {
  ChainFixture f;
  auto r = f.make(40, 2, 1);  // one page per batch
  int fail_after = 2;         // sink b refuses its third batch
  int b_writes = 0;
  auto collect = f.b.on_write;
  f.b.on_write = [&](const Batch& batch) {
    collect(batch);
    if (++b_writes == fail_after) f.b.fail_next_fatal = true;
  };
  ASSERT_TRUE(r->recover().is_ok());
  Status st = run_pass_or_abort(*r);  // returns: the reader and the chainer ended
  EXPECT_TRUE(st.is_fatal()) << st.describe();
  EXPECT_NE(st.message().find("sink b"), std::string::npos) << st.message();
  EXPECT_EQ(f.store.cps["audit_log"].source_cursor, 2);
  ASSERT_EQ(f.acked_by_b.size(), 4u);
  EXPECT_EQ(f.committed_head(), f.acked_by_b.back().chain_hash);
  EXPECT_LT(f.src->pages_read.load(), 40);  // the reader stopped, it did not read on

  // The replay hashes from the committed head, not from the batches hashed and lost.
  fail_after = -1;
  f.b.fail_next_fatal = false;
  ASSERT_TRUE(run_pass_or_abort(*r).is_ok());
  expect_unbroken_chain(f.acked_by_b, ids_of_pages(40, 2));
  EXPECT_EQ(f.committed_head(), f.acked_by_b.back().chain_hash);
}

TEST(StreamRunnerChained, PagesReadBeforeASourceErrorAreChainedAndCommitted) {
  ChainFixture f;
  auto r = f.make(5, 2, 100);
  f.src->fail_at = 3;
  ASSERT_TRUE(r->recover().is_ok());
  Status st = run_pass_or_abort(*r);
  EXPECT_TRUE(st.is_retryable()) << st.describe();
  EXPECT_NE(st.message().find("API unavailable"), std::string::npos);
  expect_unbroken_chain(f.acked_by_b, ids_of_pages(3, 2));
  EXPECT_EQ(f.store.cps["audit_log"].source_cursor, 3);
  ASSERT_FALSE(f.acked_by_b.empty());
  EXPECT_EQ(f.committed_head(), f.acked_by_b.back().chain_hash);
  f.src->fail_at = -1;
  ASSERT_TRUE(run_pass_or_abort(*r).is_ok());
  expect_unbroken_chain(f.acked_by_b, ids_of_pages(5, 2));
}

TEST(StreamRunnerChained, StopEndsThePassAfterCommittingWhatWasChained) {
  ChainFixture f;
  auto r = f.make(50, 1, 1);
  auto collect = f.b.on_write;
  f.b.on_write = [&](const Batch& batch) {
    collect(batch);
    if (f.acked_by_b.size() == 3) f.stop.request_stop();
  };
  ASSERT_TRUE(r->recover().is_ok());
  ASSERT_TRUE(run_pass_or_abort(*r).is_ok());
  EXPECT_LT(f.src->pages_read.load(), 50);
  // Every page the reader took went through the chainer to the sinks and was committed.
  EXPECT_EQ(static_cast<int>(f.acked_by_b.size()), f.src->pages_read.load());
  expect_unbroken_chain(f.acked_by_b, ids_of_pages(f.src->pages_read.load(), 1));
  EXPECT_EQ(f.committed_head(), f.acked_by_b.back().chain_hash);
  EXPECT_EQ(r->stats().passes.load(), 0u);
}

TEST(StreamRunnerChained, AMalformedCommittedHeadFailsThePassWithoutWritingAnything) {
  ChainFixture f;
  Checkpoint cp;
  cp.sink_positions = {{kChainPositionKey, {{"head", "not-a-hash"}}}};
  ASSERT_TRUE(f.store.commit("audit_log", cp).is_ok());
  auto r = f.make(30, 1, 1);
  ASSERT_TRUE(r->recover().is_ok());
  Status st = run_pass_or_abort(*r);
  EXPECT_TRUE(st.is_fatal()) << st.describe();
  EXPECT_NE(st.message().find("hash chain"), std::string::npos) << st.message();
  EXPECT_EQ(f.a.written, 0);
  EXPECT_EQ(f.store.commits, 1);  // only the one above
  EXPECT_LT(f.src->pages_read.load(), 30);
}

}  // namespace
}  // namespace ldx
