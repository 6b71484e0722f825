#include "sinks/kafka/kafka_replay_guard.h"

#include <gtest/gtest.h>

namespace ldx {
namespace {

Record rec(const std::string& id, const std::string& data = "{}", Op op = Op::kUpsert) {
  Record r;
  r.stream = "audit_log";
  r.id = id;
  r.op = op;
  r.data = data;
  r.finish();
  return r;
}

Batch batch(std::vector<std::string> ids, uint64_t seq = 1) {
  Batch b;
  b.stream = "audit_log";
  b.sequence = seq;
  b.cursor = {{"after", ids.empty() ? "" : ids.back()}};
  for (const auto& id : ids) b.records.push_back(rec(id, "{\"_id\":\"" + id + "\"}"));
  return b;
}

// Writes `b` through the guard as the sink does: plan, then commit what it plans.
std::vector<std::string> commit(ReplayGuard& g, const Batch& b, CheckpointRecord* out = nullptr) {
  auto plan = g.plan(b.records);
  std::vector<std::string> written;
  for (size_t i : plan.write) written.push_back(b.records[i].id);
  if (!plan.write.empty()) {
    auto r = g.next_record(plan, b, "tx", 0);
    if (out) *out = r;
    g.committed(r);
  } else {
    g.passed_without_transaction(b.records.size());
  }
  return written;
}

TEST(ReplayGuard, FreshStreamWritesEverythingAndCountsTransactions) {
  ReplayGuard g;
  EXPECT_FALSE(g.restore(std::nullopt, nullptr));
  EXPECT_EQ(commit(g, batch({"a", "b"})), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(commit(g, batch({"c"})), (std::vector<std::string>{"c"}));
  EXPECT_EQ(g.position(), (nlohmann::json{{"txn", 2}, {"records", 3}, {"seen", 3}}));
}

// The crash window: Kafka committed transaction 2, the pipeline's checkpoint still says 1.
TEST(ReplayGuard, ReplayOfACommittedBatchAfterACrashIsSkipped) {
  ReplayGuard before;
  (void)before.restore(std::nullopt, nullptr);
  CheckpointRecord r1;
  CheckpointRecord r2;
  commit(before, batch({"a", "b"}), &r1);
  const auto pipeline_position = before.position();  // committed by the pipeline
  commit(before, batch({"c", "d"}), &r2);              // Kafka only: then kill -9

  ReplayGuard after;
  EXPECT_FALSE(after.restore(r2, pipeline_position));
  // The source replays from the pipeline's cursor: the same batch again.
  EXPECT_TRUE(commit(after, batch({"c", "d"})).empty());
  EXPECT_EQ(after.position(), (nlohmann::json{{"txn", 2}, {"records", 4}, {"seen", 4}}));
  EXPECT_EQ(commit(after, batch({"e"})), (std::vector<std::string>{"e"}));
  EXPECT_EQ(after.position(), (nlohmann::json{{"txn", 3}, {"records", 5}, {"seen", 5}}));
}

TEST(ReplayGuard, ReplayCutIntoOtherBatchesWithNewRecordsKeepsOnlyTheNew) {
  ReplayGuard before;
  (void)before.restore(std::nullopt, nullptr);
  commit(before, batch({"a"}));
  const auto pipeline_position = before.position();
  CheckpointRecord r2;
  commit(before, batch({"b", "c", "d"}), &r2);

  ReplayGuard after;
  (void)after.restore(r2, pipeline_position);
  EXPECT_EQ(commit(after, batch({"b", "late"})), (std::vector<std::string>{"late"}));
  EXPECT_EQ(commit(after, batch({"c", "d", "e"})), (std::vector<std::string>{"e"}));
}

// Two crashes in a row, each after a Kafka commit and before the pipeline's: the
// second checkpoint record must still carry the first transaction's records.
TEST(ReplayGuard, RepeatedCrashesKeepEveryUnacknowledgedRecord) {
  ReplayGuard g1;
  (void)g1.restore(std::nullopt, nullptr);
  commit(g1, batch({"a"}));
  const auto pipeline_position = g1.position();
  CheckpointRecord r2;
  commit(g1, batch({"b", "c"}), &r2);  // crash 1

  ReplayGuard g2;
  (void)g2.restore(r2, pipeline_position);
  CheckpointRecord r3;
  EXPECT_EQ(commit(g2, batch({"b", "new1"}), &r3), (std::vector<std::string>{"new1"}));  // crash 2

  ReplayGuard g3;
  (void)g3.restore(r3, pipeline_position);
  EXPECT_EQ(commit(g3, batch({"b", "new1"})), std::vector<std::string>{});
  EXPECT_EQ(commit(g3, batch({"c", "new2"})), (std::vector<std::string>{"new2"}));
}

Batch batch_of(std::vector<Record> records) {
  Batch b;
  b.stream = "flags";
  b.records = std::move(records);
  return b;
}

// A replayed record is skipped until the pipeline's checkpoint covers the batch that
// replayed it; after that, the same content again is a real change and is written
// (a segment deleted, created again with the same key, and deleted again).
TEST(ReplayGuard, AReplayedRecordIsForgottenOnceThePipelineCommitsIt) {
  ReplayGuard before;
  (void)before.restore(std::nullopt, nullptr);
  commit(before, batch_of({rec("p/seg", "{\"v\":1}")}));
  const auto pipeline_position = before.position();
  CheckpointRecord r2;
  commit(before, batch_of({rec("p/seg", "null", Op::kDelete)}), &r2);  // Kafka only: then kill -9

  ReplayGuard after;
  (void)after.restore(r2, pipeline_position);
  EXPECT_TRUE(commit(after, batch_of({rec("p/seg", "null", Op::kDelete)})).empty());  // the replay
  // Not yet durable in the pipeline: a crash now replays it again, so it is still skipped.
  EXPECT_TRUE(commit(after, batch_of({rec("p/seg", "null", Op::kDelete)})).empty());
  after.pipeline_committed(after.position());
  commit(after, batch_of({rec("p/seg", "{\"v\":2}")}));
  after.pipeline_committed(after.position());
  EXPECT_EQ(commit(after, batch_of({rec("p/seg", "null", Op::kDelete)})), (std::vector<std::string>{"p/seg"}));
}

// Records Kafka holds that the replay never brings back (the source changed meanwhile)
// are dropped once the pipeline is past the replay, with as much slack again.
TEST(ReplayGuard, UnmatchedReplayRecordsExpireAfterTheReplay) {
  ReplayGuard before;
  (void)before.restore(std::nullopt, nullptr);
  commit(before, batch_of({rec("a", "1")}));
  const auto pipeline_position = before.position();  // seen 1
  CheckpointRecord r2;
  commit(before, batch_of({rec("b", "1"), rec("c", "1")}), &r2);  // seen 3, Kafka only

  ReplayGuard after;
  (void)after.restore(r2, pipeline_position);
  EXPECT_EQ(after.pending_size(), 3u);  // b and c, and a (its commit was not yet known durable)
  EXPECT_EQ(commit(after, batch_of({rec("b", "1"), rec("c", "2")})), (std::vector<std::string>{"c"}));
  after.pipeline_committed(after.position());  // seen 3: b is covered; a and c's old content never came
  EXPECT_EQ(after.pending_size(), 2u);
  commit(after, batch_of({rec("d", "1"), rec("e", "1")}));  // seen 5 = 3 + (3 - 1)
  after.pipeline_committed(after.position());
  EXPECT_EQ(after.pending_size(), 0u);
  EXPECT_EQ(commit(after, batch_of({rec("c", "1")})), (std::vector<std::string>{"c"}));
}

// Positions and checkpoint records from older versions have no "seen": replayed
// records are then kept for the life of the process, as before.
TEST(ReplayGuard, PositionsWithoutSeenKeepTheReplayedRecords) {
  ReplayGuard before;
  (void)before.restore(std::nullopt, nullptr);
  commit(before, batch({"a"}));
  CheckpointRecord r2;
  commit(before, batch({"b"}), &r2);
  r2.seen.reset();
  ReplayGuard after;
  (void)after.restore(r2, nlohmann::json{{"txn", 1}, {"records", 1}});
  EXPECT_TRUE(commit(after, batch({"b"})).empty());
  after.pipeline_committed(nlohmann::json{{"txn", 1}, {"records", 1}});
  EXPECT_EQ(after.pending_size(), 2u);  // a and b, kept
  CheckpointRecord next;
  commit(after, batch({"c"}), &next);
  EXPECT_EQ(next.pending.count(ReplayEntry{"b", record_digest(batch({"b"}).records[0])}), 1u);
}

TEST(ReplayGuard, InSyncRestoreSkipsNothing) {
  ReplayGuard g;
  (void)g.restore(std::nullopt, nullptr);
  CheckpointRecord r1;
  commit(g, batch({"a"}), &r1);
  ReplayGuard again;
  EXPECT_FALSE(again.restore(r1, g.position()));
  EXPECT_EQ(again.pending_size(), 0u);
  EXPECT_EQ(commit(again, batch({"b"})), (std::vector<std::string>{"b"}));
}

TEST(ReplayGuard, AChangedRecordWithTheSameIdIsNotAReplay) {
  ReplayGuard g;
  (void)g.restore(std::nullopt, nullptr);
  Batch b1;
  b1.stream = "flags";
  b1.records.push_back(rec("proj/flag", "{\"on\":true}"));
  commit(g, b1);
  Batch b2 = b1;
  b2.records[0] = rec("proj/flag", "{\"on\":false}");
  EXPECT_EQ(commit(g, b2).size(), 1u);
  Batch b3 = b2;
  b3.records[0] = rec("proj/flag", "{\"on\":false}", Op::kDelete);
  EXPECT_EQ(commit(g, b3).size(), 1u);
}

TEST(ReplayGuard, CheckpointBehindThePipelineWarnsAndContinuesFromThePipeline) {
  ReplayGuard g;
  auto warning = g.restore(std::nullopt, nlohmann::json{{"txn", 7}, {"records", 70}});
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("transaction 7"), std::string::npos) << *warning;
  EXPECT_EQ(commit(g, batch({"x"})), (std::vector<std::string>{"x"}));
  EXPECT_EQ(g.position(), (nlohmann::json{{"txn", 8}, {"records", 71}, {"seen", 1}}));
}

TEST(CheckpointRecord, RoundTripsThroughJson) {
  CheckpointRecord r;
  r.transactional_id = "ldexport-events";
  r.stream = "audit_log";
  r.txn = 12;
  r.records = 240;
  r.cursor = {{"high", 1700000000000}, {"recent", {{"a", 1}}}};
  r.batch_sequence = 3;
  r.produced_at_ms = 1700000000123;
  r.written = {{"a", 1}, {"b", 0xffffffffffffffffULL}};
  r.pending = {{"z", 42}};
  r.seen = 250;
  auto back = CheckpointRecord::from_json(r.to_json());
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->seen, std::optional<uint64_t>(250));
  EXPECT_EQ(back->transactional_id, r.transactional_id);
  EXPECT_EQ(back->txn, 12u);
  EXPECT_EQ(back->records, 240u);
  EXPECT_EQ(back->cursor, r.cursor);
  EXPECT_EQ(back->written, r.written);
  EXPECT_EQ(back->pending, r.pending);
}

TEST(CheckpointRecord, UnknownVersionOrGarbageIsFatal) {
  auto v2 = CheckpointRecord::from_json(R"({"v":2})");
  ASSERT_FALSE(v2.is_ok());
  EXPECT_TRUE(v2.status().is_fatal());
  EXPECT_FALSE(CheckpointRecord::from_json("not json").is_ok());
}

}  // namespace
}  // namespace ldx
