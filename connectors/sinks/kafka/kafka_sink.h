// The Kafka sink: one message per record, key = envelope id, value = the envelope JSON
// (null for deletes with `deletes: tombstone`), headers ldexport-stream, ldexport-op,
// ldexport-schema; topic from a per-stream template. Always acks=all and the
// idempotent producer; write() returns only when every delivery report succeeded, so a
// failed report holds the cursor and the pipeline retries the batch.
// With `exactly_once: true`, each batch is one transaction that also writes the
// stream's CheckpointRecord to a compacted checkpoint topic; see kafka_replay_guard.h
// and README.md for how replays after a crash stay invisible to read_committed readers.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/interfaces.h"
#include "core/stop_signal.h"
#include "sinks/kafka/kafka_handles.h"
#include "sinks/kafka/kafka_replay_guard.h"
#include "sinks/kafka/kafka_sink_config.h"

namespace ldx {

inline constexpr const char* kHeaderStream = "ldexport-stream";
inline constexpr const char* kHeaderOp = "ldexport-op";
inline constexpr const char* kHeaderSchema = "ldexport-schema";
// Hash-chained streams (audit_log): the record's chain links, as in the archive.
inline constexpr const char* kHeaderPrevHash = "ldexport-prev-hash";
inline constexpr const char* kHeaderHash = "ldexport-hash";
inline constexpr const char* kCheckpointSchema = "ldexport.checkpoint.v1";

class KafkaSink final : public Sink {
 public:
  KafkaSink(const KafkaSinkConfig& cfg, StopSignal& stop);
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  [[nodiscard]] const std::string& name() const override { return cfg_.name; }
  Status open() override;
  Status recover(const std::string& stream, const nlohmann::json& committed_position) override;
  Result<nlohmann::json> write(const Batch& batch) override;
  // At least once, a batch that was never committed stays in the topic (exactly once
  // aborts its transaction).
  [[nodiscard]] bool keeps_uncommitted_writes() const override { return !cfg_.exactly_once; }
  // Exactly once: lets the replay guard forget replayed records the pipeline now covers.
  void committed(const std::string& stream, const nlohmann::json& position) override;
  Status close() override;
  // For /readyz: the brokers answer a metadata request within 2 s.
  Status health() override;

  // Counters for logs, tests and the benchmark.
  struct Counters {
    std::atomic<uint64_t> produced{0};
    std::atomic<uint64_t> delivery_failures{0};
    std::atomic<uint64_t> queue_full_waits{0};
    std::atomic<uint64_t> transactions{0};
    std::atomic<uint64_t> aborts{0};
    std::atomic<uint64_t> replayed_skipped{0};
  };
  [[nodiscard]] const Counters& counters() const { return counters_; }

 private:
  struct DeliveryTracker;
  struct StreamState {
    std::string topic;
    ReplayGuard guard;
  };

  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  Result<kafka::Conf> client_conf(bool consumer) const;
  rd_kafka_topic_t* topic_handle(const std::string& topic);
  // value null = a tombstone; op null = no ldexport-op header (checkpoint records).
  Status produce(rd_kafka_topic_t* rkt, const std::string& key, const std::string* value, const Record* chained,
                 const std::string& stream,
                 const char* op, const char* schema, DeliveryTracker& tracker);
  Status produce_batch(const Batch& batch, const std::vector<size_t>* only, DeliveryTracker& tracker);
  // Serves delivery reports until every message of `tracker` has one. On stop, purges.
  void await_delivery(DeliveryTracker& tracker, bool purge_on_stop);
  Status delivery_status(const DeliveryTracker& tracker, const std::string& stream) const;
  Result<nlohmann::json> write_at_least_once(const Batch& batch);
  Result<nlohmann::json> write_exactly_once(const Batch& batch);
  Status abort_transaction(DeliveryTracker* tracker, const std::string& why);
  Status transaction_error(rd_kafka_error_t* err, const std::string& what);
  Status ensure_checkpoint_topic();
  Status load_checkpoints();
  StreamState* stream_state(const std::string& stream);
  Status fatal_status() const;
  void set_fatal(const std::string& msg);

  KafkaSinkConfig cfg_;
  std::string txn_id_;
  StopSignal& stop_;
  kafka::Client producer_;
  std::mutex topics_mu_;
  std::map<std::string, kafka::Topic> topics_;
  std::mutex txn_mu_;  // exactly_once: one transaction at a time (one transactional.id)
  bool txn_open_ = false;
  std::atomic<bool> fatal_{false};
  mutable std::mutex fatal_mu_;
  std::string fatal_msg_;
  std::mutex streams_mu_;  // guards the map; a StreamState is used by its stream's thread
  std::map<std::string, std::unique_ptr<StreamState>> streams_;
  bool checkpoints_loaded_ = false;  // under txn_mu_
  std::map<std::string, CheckpointRecord> checkpoint_latest_;
  bool closed_ = false;  // guarded by health_mu_
  // health() runs on the status thread: close() must not destroy the producer under it.
  std::mutex health_mu_;
  Counters counters_;
};

}  // namespace ldx
