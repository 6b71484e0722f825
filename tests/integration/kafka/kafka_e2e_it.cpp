// The real binaries: ld-simulator as LaunchDarkly, ldexport with the archive and the
// Kafka sink side by side (fan-out), librdkafka's mock cluster in this process. Mid
// export the brokers go down and come back, then ldexport is killed with SIGKILL twice
// and finished with `ldexport once`. A consumer then checks the simulator's ground
// truth: every id at least once (default), exactly once in committed transactions
// (exactly_once: true).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "kafka_test_support.h"
#include "mock_cluster.h"
#include "sinks/kafka/kafka_handles.h"
#include "sinks/kafka/kafka_sink.h"

namespace ldx::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int kEntries = 1200;

class KafkaEndToEnd : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string err;
    cluster_ = MockCluster::start(3, &err);
    ASSERT_TRUE(cluster_) << err;
    suffix_ = unique_suffix();
    data_topic_ = "e2e." + suffix_ + ".audit_log";
    cp_topic_ = "e2e." + suffix_ + ".checkpoints";
    ASSERT_TRUE(cluster_->create_topic(data_topic_, 4));
    ASSERT_TRUE(cluster_->create_topic(cp_topic_, 1));
    dir_ = fs::temp_directory_path() / ("ldx-kafka-e2e-" + suffix_);
    fs::create_directories(dir_);
    token_ = "sim-token-" + suffix_;
    // Slow answers now and then (and 5xx, drops, truncations) keep the export going
    // long enough to be interrupted, and exercise the source's retries too.
    sim_ = std::make_unique<Child>(std::vector<std::string>{LDX_SIMULATOR_BIN, "--port", "0", "--token", token_,
                                                            "--seed", "7", "--audit-entries",
                                                            std::to_string(kEntries), "--fault-rate", "0.25",
                                                            "--fault-delay-max", "400ms"},
                                   std::map<std::string, std::string>{}, (dir_ / "simulator.log").string());
    auto line = sim_->read_line(20s);
    ASSERT_TRUE(line && line->starts_with("listening on 127.0.0.1:")) << (line ? *line : "no line");
    sim_addr_ = line->substr(std::string("listening on ").size());
  }

  void TearDown() override {
    if (sim_) sim_->terminate();
    if (sim_) (void)sim_->wait(10s);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string write_config(bool exactly_once) {
    std::string y = "launchdarkly: { base_url: http://" + sim_addr_ + ", token: \"${LD_API_TOKEN}\" }\n" +
                    "streams:\n  audit_log: { interval: 2s, start: 2020-01-01T00:00:00Z, lookback: 2m, batch_records: 20 }\n" +
                    "sinks:\n  - { name: archive, type: file, path: " + (dir_ / "archive").string() + " }\n" +
                    "  - name: events\n    type: kafka\n    brokers: " + cluster_->bootstrap() + "\n" +
                    "    topic: e2e." + suffix_ + ".{stream}\n    timeout: 20s\n";
    if (exactly_once) y += "    exactly_once: true\n    checkpoint_topic: " + cp_topic_ + "\n";
    y += "checkpoint: { type: file, path: " + (dir_ / "state").string() + " }\n" +
         "dead_letter: { path: " + (dir_ / "dead-letter").string() + " }\n" + "http: { listen: 127.0.0.1:0 }\n";
    const auto path = dir_ / "ldexport.yaml";
    std::ofstream(path) << y;
    return path.string();
  }

  std::unique_ptr<Child> ldexport(const std::string& verb, const std::string& config) {
    return std::make_unique<Child>(std::vector<std::string>{LDX_LDEXPORT_BIN, verb, "-c", config},
                                   std::map<std::string, std::string>{{"LD_API_TOKEN", token_}},
                                   (dir_ / "ldexport.log").string(), true);
  }

  // Messages in the data topic so far (sum of high watermarks).
  int64_t produced_so_far() {
    if (!reader_) {
      char err[512];
      kafka::Conf conf(rd_kafka_conf_new());
      rd_kafka_conf_set(conf.get(), "bootstrap.servers", cluster_->bootstrap().c_str(), err, sizeof err);
      rd_kafka_conf_set(conf.get(), "log_level", "3", err, sizeof err);
      reader_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof err));
    }
    int64_t total = 0;
    for (int p = 0; p < 4; ++p) {
      int64_t lo = 0;
      int64_t hi = 0;
      if (rd_kafka_query_watermark_offsets(reader_.get(), data_topic_.c_str(), p, &lo, &hi, 5000) ==
          RD_KAFKA_RESP_ERR_NO_ERROR)
        total += hi;
    }
    return total;
  }

  // Waits (bounded) until the data topic holds at least `n` messages.
  bool wait_for_messages(int64_t n, Child& running) {
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (produced_so_far() >= n) return true;
      if (running.wait(0ms)) return false;  // exited early
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  std::map<std::string, int> archive_ids() {
    std::map<std::string, int> ids;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "archive")) {
      if (e.path().extension() != ".jsonl") continue;
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) {
        if (!line.empty()) ids[nlohmann::json::parse(line).at("id").get<std::string>()] += 1;
      }
    }
    return ids;
  }

  std::unique_ptr<MockCluster> cluster_;
  std::unique_ptr<Child> sim_;
  kafka::Client reader_;
  std::string suffix_, data_topic_, cp_topic_, token_, sim_addr_;
  fs::path dir_;
};

TEST_P(KafkaEndToEnd, BrokerOutageAndKillNineThenOnceDeliversEveryGroundTruthId) {
  const bool exactly_once = GetParam();
  const std::string config = write_config(exactly_once);

  auto run1 = ldexport("run", config);
  ASSERT_TRUE(wait_for_messages(100, *run1)) << "no progress; see " << (dir_ / "ldexport.log");
  // Every broker away for a while mid-export, then back.
  ASSERT_TRUE(cluster_->set_down(-1));
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(cluster_->set_up(-1));
  const int64_t before_kill = produced_so_far();
  ASSERT_TRUE(wait_for_messages(before_kill + 150, *run1));
  run1->kill_hard();
  const int64_t at_first_kill = produced_so_far();

  auto run2 = ldexport("run", config);
  ASSERT_TRUE(wait_for_messages(at_first_kill + 150, *run2));
  run2->kill_hard();
  const int64_t at_second_kill = produced_so_far();
  EXPECT_LT(at_second_kill, kEntries) << "the export finished before the kills; they proved nothing";

  auto once = ldexport("once", config);
  auto rc = once->wait(300s);
  ASSERT_TRUE(rc) << "ldexport once did not finish";
  ASSERT_EQ(*rc, 0) << "see " << (dir_ / "ldexport.log");

  const auto truth = json_string_array(http_get_body(sim_addr_, "/_sim/truth/audit_log"));
  ASSERT_EQ(truth.size(), static_cast<size_t>(kEntries));
  const std::set<std::string> truth_set(truth.begin(), truth.end());

  std::map<std::string, int> in_kafka;
  for (const auto& m : consume_topic(cluster_->bootstrap(), data_topic_, exactly_once)) {
    EXPECT_TRUE(truth_set.count(m.key)) << "unknown id in Kafka: " << m.key;
    ASSERT_TRUE(m.value);
    EXPECT_EQ(nlohmann::json::parse(*m.value).at("id").get<std::string>(), m.key);
    in_kafka[m.key] += 1;
  }
  for (const auto& id : truth) EXPECT_GE(in_kafka[id], 1) << "missing from Kafka: " << id;
  size_t resent = 0;
  for (const auto& [id, n] : in_kafka) resent += n > 1 ? static_cast<size_t>(n - 1) : 0;
  size_t guard_skips = 0;
  {
    std::ifstream log(dir_ / "ldexport.log");
    for (std::string line; std::getline(log, line);) {
      guard_skips += line.find("replayed record(s) that Kafka already") != std::string::npos;
    }
  }
  std::cout << "replay guard skipped a replayed batch " << guard_skips << " time(s); ";
  std::cout << "kills at " << at_first_kill << " and " << at_second_kill << " messages; " << resent
            << " message(s) in the topic repeat an id (replays and, on the mock, aborted transactions)\n";

  if (exactly_once) {
    // What a read_committed reader sees on a real broker: the committed transactions.
    std::string why;
    auto committed = committed_ids_from_checkpoints(consume_topic(cluster_->bootstrap(), cp_topic_, true),
                                                    "audit_log", &why);
    ASSERT_TRUE(committed) << why;
    EXPECT_EQ(committed->size(), truth.size());
    for (const auto& id : truth) EXPECT_EQ((*committed)[id], 1) << "committed " << (*committed)[id] << "x: " << id;
  }
  // Fan-out: the archive got everything too (the cursor advanced only when both acked).
  auto archived = archive_ids();
  for (const auto& id : truth) EXPECT_EQ(archived[id], 1) << "archive: " << id;
}

INSTANTIATE_TEST_SUITE_P(Modes, KafkaEndToEnd, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "ExactlyOnce" : "AtLeastOnce"; });

}  // namespace
}  // namespace ldx::testing

namespace ldx::testing {
namespace {

// The kafka-mock tool as users and scripts run it: first line "bootstrap ADDRESSES",
// a working Kafka endpoint there, exit 0 on SIGTERM.
TEST(KafkaMockTool, PrintsItsBootstrapServesKafkaAndStopsOnSigterm) {
  const std::string topic = "tool." + unique_suffix();
  Child tool({LDX_KAFKA_MOCK_BIN, "--brokers", "2", "--topic", topic + ":2"});
  auto line = tool.read_line(std::chrono::seconds(20));
  ASSERT_TRUE(line && line->starts_with("bootstrap 127.0.0.1:")) << (line ? *line : "no line");
  const std::string bootstrap = line->substr(std::string("bootstrap ").size());

  StopSignal stop;
  KafkaSinkConfig c;
  c.name = "tool";
  c.type = "kafka";
  c.brokers = bootstrap;
  c.topic = topic;
  KafkaSink sink(c, stop);
  ASSERT_TRUE(sink.open().is_ok());
  ASSERT_TRUE(sink.recover("audit_log", nullptr).is_ok());
  ASSERT_TRUE(sink.write(make_batch("audit_log", {"t1", "t2", "t3"}, 1)).is_ok());
  ASSERT_TRUE(sink.close().is_ok());
  EXPECT_EQ(consume_topic(bootstrap, topic, false).size(), 3u);

  tool.terminate();
  auto rc = tool.wait(std::chrono::seconds(20));
  ASSERT_TRUE(rc);
  EXPECT_EQ(*rc, 0);
}

}  // namespace
}  // namespace ldx::testing
