// Helpers for the Kafka integration tests: read a topic back with a real librdkafka
// consumer, build records like the audit-log normalizer does, run child processes.
// Every wait is bounded.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/record.h"
#include "sinks/kafka/kafka_replay_guard.h"

namespace ldx::testing {

struct ConsumedMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt = tombstone
  std::map<std::string, std::string> headers;
};

// Every message of `topic` from the beginning to the end of each partition.
// read_committed: isolation.level=read_committed (see mock_cluster.h for the mock's gap).
std::vector<ConsumedMessage> consume_topic(const std::string& bootstrap, const std::string& topic,
                                           bool read_committed, std::chrono::seconds limit = std::chrono::seconds(60));

// Emulates read_committed on the mock (which shows records of aborted transactions
// too): the committed transactions of a stream are the last checkpoint record seen for
// each transaction number; returns, per id, how many committed transactions wrote it.
// Fails (returns nullopt, with `why`) if the numbers are not 1..N without gaps.
std::optional<std::map<std::string, int>> committed_ids_from_checkpoints(
    const std::vector<ConsumedMessage>& checkpoint_topic, const std::string& stream, std::string* why);

Record make_record(const std::string& stream, const std::string& id, Op op = Op::kUpsert);
Batch make_batch(const std::string& stream, const std::vector<std::string>& ids, uint64_t sequence);

// A child process with its stdout readable line by line.
class Child {
 public:
  // With log_file, stderr goes there; with all_output_to_log too, stdout as well (for
  // ldexport, which logs on stdout: nobody reads the pipe, and a full pipe would block it).
  Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
        const std::string& log_file = "", bool all_output_to_log = false);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  [[nodiscard]] int pid() const { return pid_; }
  // The next stdout line, or nullopt at EOF or after `limit`.
  std::optional<std::string> read_line(std::chrono::milliseconds limit);
  void kill_hard();                  // SIGKILL, then reap
  void terminate();                  // SIGTERM
  // Exit code (or 128+signal), or nullopt if still running after `limit`.
  std::optional<int> wait(std::chrono::milliseconds limit);

 private:
  int pid_ = -1;
  int out_fd_ = -1;
  std::string buf_;
  std::optional<int> status_;
};

std::string http_get_body(const std::string& host_port, const std::string& path);
std::vector<std::string> json_string_array(const std::string& json);
std::string unique_suffix();

}  // namespace ldx::testing
