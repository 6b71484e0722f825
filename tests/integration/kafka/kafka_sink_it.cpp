// The Kafka sink against librdkafka's mock cluster, in this process: what a consumer
// reads back after normal writes, broker outages, injected produce errors, and the
// crash window of exactly-once (Kafka committed, the pipeline's checkpoint did not).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "kafka_test_support.h"
#include "mock_cluster.h"
#include "common/hash_chain.h"
#include "sinks/kafka/kafka_sink.h"

namespace ldx::testing {
namespace {

using namespace std::chrono_literals;

class KafkaSinkIT : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    cluster_ = MockCluster::start(3, &err);
    ASSERT_TRUE(cluster_) << err;
    suffix_ = unique_suffix();
  }

  KafkaSinkConfig config(const std::string& name) {
    KafkaSinkConfig c;
    c.name = name;
    c.type = "kafka";
    c.brokers = cluster_->bootstrap();
    c.topic = "it." + suffix_ + ".{stream}";
    c.checkpoint_topic = "it." + suffix_ + ".checkpoints";
    c.timeout = 10s;
    return c;
  }

  std::string topic(const std::string& stream) const { return "it." + suffix_ + "." + stream; }

  std::unique_ptr<KafkaSink> open_sink(const KafkaSinkConfig& c, const std::string& stream,
                                       const nlohmann::json& position = nullptr) {
    auto s = std::make_unique<KafkaSink>(c, stop_);
    Status st = s->open();
    EXPECT_TRUE(st.is_ok()) << st.describe();
    st = s->recover(stream, position);
    EXPECT_TRUE(st.is_ok()) << st.describe();
    return s;
  }

  // The pipeline's reaction to a Retryable: try the same batch again (bounded here).
  nlohmann::json write_until_acked(KafkaSink& sink, const Batch& b, int* retries = nullptr) {
    for (int attempt = 0; attempt < 600; ++attempt) {
      auto r = sink.write(b);
      if (r.is_ok()) return r.value();
      EXPECT_TRUE(r.status().is_retryable()) << r.status().describe();
      if (!r.status().is_retryable()) return nullptr;
      if (retries) ++*retries;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "batch " << b.sequence << " never acked";
    return nullptr;
  }

  std::unique_ptr<MockCluster> cluster_;
  std::string suffix_;
  StopSignal stop_;
};

std::vector<std::string> ids(const std::string& prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

std::map<std::string, int> count_keys(const std::vector<ConsumedMessage>& msgs) {
  std::map<std::string, int> c;
  for (const auto& m : msgs) c[m.key] += 1;
  return c;
}

TEST_F(KafkaSinkIT, HashChainedRecordsCarryTheirChainLinksAsHeaders) {
  auto sink = open_sink(config("chained"), "audit_log");
  Batch b = make_batch("audit_log", {"c1", "c2", "c3"}, 1);
  nlohmann::json positions = nlohmann::json::object();
  ASSERT_TRUE(apply_hash_chain(b, positions).is_ok());
  ASSERT_TRUE(sink->write(b).is_ok());
  ASSERT_TRUE(sink->close().is_ok());
  std::map<std::string, ConsumedMessage> by_key;
  for (auto& m : consume_topic(cluster_->bootstrap(), topic("audit_log"), false)) by_key[m.key] = m;
  ASSERT_EQ(by_key.size(), 3u);
  std::string prev(kChainGenesis);
  for (const Record& r : b.records) {
    const auto& h = by_key[r.id].headers;
    ASSERT_TRUE(h.count("ldexport-prev-hash") && h.count("ldexport-hash")) << r.id;
    EXPECT_EQ(h.at("ldexport-prev-hash"), prev);  // the same links as the archive line
    EXPECT_EQ(h.at("ldexport-hash"), r.chain_hash);
    EXPECT_EQ(nlohmann::json::parse(*by_key[r.id].value).at("hash"), r.chain_hash);
    prev = r.chain_hash;
  }
}

TEST_F(KafkaSinkIT, KeyIsTheIdValueIsTheEnvelopeHeadersNameStreamOpSchema) {
  auto c = config("events");
  c.deletes = KafkaDeletes::kTombstone;
  auto sink = open_sink(c, "audit_log");
  Batch b = make_batch("audit_log", {"a1", "a2"}, 1);
  b.records.push_back(make_record("audit_log", "gone", Op::kDelete));
  auto pos = sink->write(b);
  ASSERT_TRUE(pos.is_ok()) << pos.status().describe();
  EXPECT_TRUE(pos.value().is_null());  // at-least-once needs no position
  ASSERT_TRUE(sink->close().is_ok());

  auto msgs = consume_topic(cluster_->bootstrap(), topic("audit_log"), false);
  ASSERT_EQ(msgs.size(), 3u);
  std::map<std::string, ConsumedMessage> by_key;
  for (auto& m : msgs) by_key[m.key] = m;
  for (size_t i = 0; i < 2; ++i) {
    const Record& r = b.records[i];
    ASSERT_TRUE(by_key.count(r.id));
    const auto& m = by_key[r.id];
    ASSERT_TRUE(m.value);
    EXPECT_EQ(*m.value, r.envelope);
    EXPECT_EQ(m.headers.at("ldexport-stream"), "audit_log");
    EXPECT_EQ(m.headers.at("ldexport-op"), "upsert");
    EXPECT_EQ(m.headers.at("ldexport-schema"), "ldexport.v1");
  }
  EXPECT_EQ(by_key["a1"].headers.count("ldexport-hash"), 0u) << "an unchained record has no chain headers";
  // deletes: tombstone -> a null value, so a compacted topic forgets the entity.
  ASSERT_TRUE(by_key.count("gone"));
  EXPECT_FALSE(by_key["gone"].value.has_value());
  EXPECT_EQ(by_key["gone"].headers.at("ldexport-op"), "delete");
}

TEST_F(KafkaSinkIT, DeletesAsRecordsKeepTheDeleteEnvelope) {
  auto sink = open_sink(config("events"), "flags");
  Batch b = make_batch("flags", {}, 1);
  b.records.push_back(make_record("flags", "proj/flag-x", Op::kDelete));
  ASSERT_TRUE(sink->write(b).is_ok());
  auto msgs = consume_topic(cluster_->bootstrap(), topic("flags"), false);
  ASSERT_EQ(msgs.size(), 1u);
  ASSERT_TRUE(msgs[0].value);
  EXPECT_NE(msgs[0].value->find("\"op\":\"delete\""), std::string::npos) << *msgs[0].value;
  EXPECT_EQ(msgs[0].key, "proj/flag-x");
}

// Every broker goes away mid-export and comes back: the writes in between are not
// acknowledged (message.timeout.ms is short here, so reports fail), the batch is
// retried, and the consumer finds every id.
// /readyz asks every sink for its health on the status thread, possibly while the
// exporter closes the sinks at shutdown: close() must wait for a health() under way, and
// a later health() must report the sink closed, never touch the destroyed producer (a
// use-after-free that ASan reports).
TEST_F(KafkaSinkIT, HealthDuringAndAfterCloseIsSafe) {
  auto c = config("events");
  auto sink = open_sink(c, "audit_log");
  write_until_acked(*sink, make_batch("audit_log", ids("h-", 0, 5), 1));
  // With the brokers down, each health() waits in a metadata request for up to 2 s:
  // close() comes while one is under way.
  ASSERT_TRUE(cluster_->set_down(-1));
  std::atomic<bool> done{false};
  std::atomic<int> started{0};
  std::thread status([&] {
    while (!done.load()) {
      started.fetch_add(1);
      (void)sink->health();
    }
  });
  while (started.load() < 1) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(sink->close().is_ok());
  Status after = sink->health();
  done.store(true);
  status.join();
  EXPECT_FALSE(after.is_ok());
  EXPECT_NE(after.message().find("not open"), std::string::npos) << after.message();
}

TEST_F(KafkaSinkIT, AllBrokersDownThenUpLosesNothing) {
  auto c = config("events");
  c.properties = {{"message.timeout.ms", "1500"}};
  auto sink = open_sink(c, "audit_log");
  std::vector<std::string> all;
  int retries = 0;
  for (int k = 0; k < 30; ++k) {
    if (k == 10) {
      ASSERT_TRUE(cluster_->set_down(-1));
    }
    auto batch_ids = ids("d" + std::to_string(k) + "-", 0, 20);
    all.insert(all.end(), batch_ids.begin(), batch_ids.end());
    Batch b = make_batch("audit_log", batch_ids, static_cast<uint64_t>(k));
    std::thread revive;
    if (k == 10) {
      revive = std::thread([this] {
        std::this_thread::sleep_for(4s);  // longer than message.timeout.ms: reports fail
        cluster_->set_up(-1);
      });
    }
    (void)write_until_acked(*sink, b, &retries);
    if (revive.joinable()) revive.join();
  }
  EXPECT_GT(retries, 0) << "the outage should have failed some deliveries";
  EXPECT_GT(sink->counters().delivery_failures.load(), 0u);
  auto counts = count_keys(consume_topic(cluster_->bootstrap(), topic("audit_log"), false));
  for (const auto& id : all) EXPECT_GE(counts[id], 1) << id;
}

// With librdkafka's defaults (message.timeout.ms = 5 min) an outage shorter than that
// only delays the acknowledgement: write() waits, nothing fails, nothing is lost.
TEST_F(KafkaSinkIT, ABrokerOutageWithDefaultTimeoutsOnlyDelaysTheAck) {
  auto sink = open_sink(config("events"), "audit_log");
  ASSERT_TRUE(sink->write(make_batch("audit_log", ids("w", 0, 20), 1)).is_ok());
  ASSERT_TRUE(cluster_->set_down(-1));
  std::thread revive([this] {
    std::this_thread::sleep_for(3s);
    cluster_->set_up(-1);
  });
  auto r = sink->write(make_batch("audit_log", ids("w", 20, 40), 2));
  revive.join();
  ASSERT_TRUE(r.is_ok()) << r.status().describe();
  auto counts = count_keys(consume_topic(cluster_->bootstrap(), topic("audit_log"), false));
  for (const auto& id : ids("w", 0, 40)) EXPECT_EQ(counts[id], 1) << id;
}

TEST_F(KafkaSinkIT, InjectedProduceErrorsAreRetriedAndNothingIsLost) {
  auto c = config("events");
  c.properties = {{"retry.backoff.ms", "10"}};
  auto sink = open_sink(c, "audit_log");
  std::vector<std::string> all;
  int retries = 0;
  for (int k = 0; k < 20; ++k) {
    if (k % 5 == 2) {
      // Retriable ones librdkafka absorbs; POLICY_VIOLATION fails the request's
      // messages, so write() says Retryable and the batch is sent again.
      cluster_->push_request_errors(0, {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                        RD_KAFKA_RESP_ERR_POLICY_VIOLATION});
    }
    auto batch_ids = ids("p" + std::to_string(k) + "-", 0, 20);
    all.insert(all.end(), batch_ids.begin(), batch_ids.end());
    (void)write_until_acked(*sink, make_batch("audit_log", batch_ids, static_cast<uint64_t>(k)), &retries);
  }
  auto counts = count_keys(consume_topic(cluster_->bootstrap(), topic("audit_log"), false));
  for (const auto& id : all) EXPECT_GE(counts[id], 1) << id;
  EXPECT_GT(retries, 0) << "the injected errors should have failed some deliveries";
}

TEST_F(KafkaSinkIT, AStopRequestEndsAWriteThatWaitsForADeadBroker) {
  auto sink = open_sink(config("events"), "audit_log");
  ASSERT_TRUE(sink->write(make_batch("audit_log", ids("s", 0, 5), 1)).is_ok());
  ASSERT_TRUE(cluster_->set_down(-1));
  std::thread stopper([this] {
    std::this_thread::sleep_for(1s);
    stop_.request_stop();
  });
  auto r = sink->write(make_batch("audit_log", ids("s", 5, 10), 2));
  stopper.join();
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_retryable()) << r.status().describe();
  cluster_->set_up(-1);
}

// ---- exactly_once ----------------------------------------------------------------

// The crash window: Kafka committed batch 2, then the process died before the
// pipeline's checkpoint commit. The restarted sink gets the pipeline's position of
// batch 1, the source replays batch 2, and a read_committed reader still sees each id
// once. (No transaction is aborted here, so the mock's read_committed gap is moot.)
TEST_F(KafkaSinkIT, ExactlyOnceReplayAfterKafkaCommittedIsInvisible) {
  auto c = config("events");
  c.exactly_once = true;
  cluster_->create_topic(c.checkpoint_topic, 1);
  nlohmann::json pos1;
  nlohmann::json pos2;
  {
    auto first = open_sink(c, "audit_log");
    auto r1 = first->write(make_batch("audit_log", ids("x", 0, 20), 1));
    ASSERT_TRUE(r1.is_ok()) << r1.status().describe();
    pos1 = r1.value();
    auto r2 = first->write(make_batch("audit_log", ids("x", 20, 40), 2));
    ASSERT_TRUE(r2.is_ok()) << r2.status().describe();
    pos2 = r2.value();
    EXPECT_EQ(pos2, (nlohmann::json{{"txn", 2}, {"records", 40}, {"seen", 40}}));
  }  // "kill -9" after Kafka's commit of batch 2: the pipeline only has pos1
  auto second = open_sink(c, "audit_log", pos1);
  auto replay = second->write(make_batch("audit_log", ids("x", 20, 40), 7));
  ASSERT_TRUE(replay.is_ok()) << replay.status().describe();
  EXPECT_EQ(replay.value(), pos2);
  EXPECT_EQ(second->counters().replayed_skipped.load(), 20u);
  EXPECT_EQ(second->counters().transactions.load(), 0u);
  // A replay cut differently, with one new record.
  auto batch = make_batch("audit_log", {"x39", "x40"}, 8);
  auto r3 = second->write(batch);
  ASSERT_TRUE(r3.is_ok()) << r3.status().describe();
  EXPECT_EQ(r3.value(), (nlohmann::json{{"txn", 3}, {"records", 41}, {"seen", 42}}));  // seen: x39 again
  ASSERT_TRUE(second->close().is_ok());

  auto counts = count_keys(consume_topic(cluster_->bootstrap(), topic("audit_log"), true));
  EXPECT_EQ(counts.size(), 41u);
  for (const auto& id : ids("x", 0, 41)) EXPECT_EQ(counts[id], 1) << id;
  // The checkpoint topic tells the same story: 3 transactions, every id once.
  std::string why;
  auto committed = committed_ids_from_checkpoints(consume_topic(cluster_->bootstrap(), c.checkpoint_topic, true),
                                                  "audit_log", &why);
  ASSERT_TRUE(committed) << why;
  EXPECT_EQ(committed->size(), 41u);
}

TEST_F(KafkaSinkIT, ExactlyOnceRestartInSyncWritesOnlyNewRecords) {
  auto c = config("events");
  c.exactly_once = true;
  cluster_->create_topic(c.checkpoint_topic, 1);
  nlohmann::json pos;
  {
    auto first = open_sink(c, "audit_log");
    pos = first->write(make_batch("audit_log", ids("y", 0, 10), 1)).value();
  }
  auto second = open_sink(c, "audit_log", pos);
  auto r = second->write(make_batch("audit_log", ids("y", 10, 20), 2));
  ASSERT_TRUE(r.is_ok()) << r.status().describe();
  EXPECT_EQ(r.value(), (nlohmann::json{{"txn", 2}, {"records", 20}, {"seen", 20}}));
  auto counts = count_keys(consume_topic(cluster_->bootstrap(), topic("audit_log"), true));
  EXPECT_EQ(counts.size(), 20u);
}

// Injected errors on the transaction path: a batch whose transaction fails is aborted
// and retried; the committed transactions (read from the checkpoint topic, since the
// mock's read_committed shows aborted records too) hold every id exactly once.
TEST_F(KafkaSinkIT, ExactlyOnceInjectedErrorsAbortAndRetryWithoutDuplicates) {
  auto c = config("events");
  c.exactly_once = true;
  c.properties = {{"retry.backoff.ms", "10"}};
  cluster_->create_topic(c.checkpoint_topic, 1);
  auto sink = open_sink(c, "audit_log");
  std::vector<std::string> all;
  int retries = 0;
  for (int k = 0; k < 15; ++k) {
    if (k % 5 == 1) {
      // Fails some records of the transaction: it must be aborted and redone.
      cluster_->push_request_errors(0, {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_POLICY_VIOLATION});
    }
    if (k % 5 == 3) {
      cluster_->push_request_errors(26, {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                         RD_KAFKA_RESP_ERR_NOT_COORDINATOR});
    }
    if (k % 5 == 4) cluster_->push_request_errors(24, {RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS});
    auto batch_ids = ids("e" + std::to_string(k) + "-", 0, 20);
    all.insert(all.end(), batch_ids.begin(), batch_ids.end());
    (void)write_until_acked(*sink, make_batch("audit_log", batch_ids, static_cast<uint64_t>(k)), &retries);
  }
  std::string why;
  auto committed = committed_ids_from_checkpoints(consume_topic(cluster_->bootstrap(), c.checkpoint_topic, true),
                                                  "audit_log", &why);
  ASSERT_TRUE(committed) << why;
  EXPECT_EQ(committed->size(), all.size());
  for (const auto& id : all) EXPECT_EQ((*committed)[id], 1) << id;
  auto data = count_keys(consume_topic(cluster_->bootstrap(), topic("audit_log"), true));
  for (const auto& id : all) EXPECT_GE(data[id], 1) << id;
  EXPECT_GT(sink->counters().aborts.load(), 0u) << "the injected errors should have aborted a transaction";
  EXPECT_GT(retries, 0);
}

}  // namespace
}  // namespace ldx::testing
