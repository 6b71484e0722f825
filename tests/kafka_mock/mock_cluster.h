// librdkafka's mock Kafka cluster on loopback, owned RAII-style, for the kafka-mock
// tool, the Kafka integration tests and the Kafka benchmark. The mock speaks the Kafka
// protocol (produce, fetch, idempotence, transactions) in this process's threads.
// Known gap (librdkafka 2.0.2): it does not filter aborted transactions for
// isolation.level=read_committed readers, and it has no CreateTopics.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ldx::testing {

class MockCluster {
 public:
  // Starts `brokers` brokers (ids 1..brokers) on 127.0.0.1, random ports.
  static std::unique_ptr<MockCluster> start(int brokers, std::string* error);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  [[nodiscard]] const std::string& bootstrap() const { return bootstrap_; }
  [[nodiscard]] int brokers() const { return brokers_; }
  // broker_id -1 = every broker. Down: connections are closed and refused.
  bool set_down(int broker_id);
  bool set_up(int broker_id);
  bool set_rtt(int broker_id, int rtt_ms);
  bool create_topic(const std::string& name, int partitions);
  // The next errors.size() requests of `api_key` (0 = Produce, 24 = AddPartitionsToTxn,
  // 26 = EndTxn, ...) fail with these codes, in order.
  void push_request_errors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);
  void clear_request_errors(int16_t api_key);
  [[nodiscard]] rd_kafka_mock_cluster_t* handle() const { return mcluster_; }

 private:
  MockCluster() = default;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mcluster_ = nullptr;
  std::string bootstrap_;
  int brokers_ = 0;
};

// Applies one control line ("down 1", "up all", "rtt all 50", "topic t 4",
// "errors 0 3 NOT_LEADER_FOR_PARTITION", "clear 0") and returns "ok" or "error: ...".
std::string apply_control_command(MockCluster& cluster, const std::string& line);

// "NOT_LEADER_FOR_PARTITION", "_TRANSPORT" or a number -> the librdkafka error code.
std::optional<rd_kafka_resp_err_t> parse_kafka_error(const std::string& text);

}  // namespace ldx::testing
