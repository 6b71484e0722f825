// The Kafka sink's typed config (`type: kafka`) and its parser. Every key has a default
// except `brokers`; `properties` go to librdkafka as they are, except the few that would
// weaken delivery (acks, idempotence), which are config errors with file:line:column.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace ldx {

enum class KafkaDeletes { kRecord, kTombstone };

struct KafkaSinkConfig final : SinkConfig {
  std::string brokers;                       // bootstrap.servers, "host:port,host:port"
  std::string topic = "ldexport.{stream}";   // {stream} is replaced by the stream name
  std::vector<std::pair<std::string, std::string>> properties;  // librdkafka, in file order
  KafkaDeletes deletes = KafkaDeletes::kRecord;  // tombstone: op=delete -> null value
  bool exactly_once = false;                 // transactions + checkpoint topic
  std::string transactional_id;              // empty: "ldexport-<sink name>"
  std::string checkpoint_topic = "ldexport.checkpoints";
  Millis timeout{30'000};                    // bound for connect checks, transaction calls, read-back

  [[nodiscard]] std::string effective_transactional_id() const;
  [[nodiscard]] Result<std::unique_ptr<Sink>> build(StopSignal& stop) const override;
};

std::unique_ptr<SinkConfig> parse_kafka_sink_config(ConfigNode& node);

// "ldexport.{stream}" + "audit_log" -> "ldexport.audit_log".
std::string expand_topic_template(const std::string& tmpl, const std::string& stream);
// Why a topic template cannot name a valid Kafka topic, or nullopt when it can.
std::optional<std::string> check_topic_template(const std::string& tmpl);
// Why a user property may not be set (it would weaken delivery, or has its own key),
// or nullopt when it may. Does not ask librdkafka whether the name exists.
std::optional<std::string> check_kafka_property(const std::string& key, const std::string& value);

}  // namespace ldx
