#include "sinks/kafka/kafka_sink_config.h"

#include <cstdlib>

#include "sinks/kafka/kafka_handles.h"
#include "sinks/kafka/kafka_sink.h"

namespace ldx {

namespace {
constexpr std::string_view kPlaceholder = "{stream}";

bool topic_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}
}  // namespace

std::string expand_topic_template(const std::string& tmpl, const std::string& stream) {
  std::string out;
  out.reserve(tmpl.size() + stream.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl.compare(i, kPlaceholder.size(), kPlaceholder) == 0) {
      out += stream;
      i += kPlaceholder.size();
    } else {
      out.push_back(tmpl[i++]);
    }
  }
  return out;
}

std::optional<std::string> check_topic_template(const std::string& tmpl) {
  if (tmpl.empty()) return "must not be empty";
  // Check the template with a placeholder-free stand-in: stream names are [a-z_].
  const std::string sample = expand_topic_template(tmpl, "s");
  for (char c : sample) {
    if (c == '{' || c == '}') return "only the placeholder {stream} is supported";
    if (!topic_char_ok(c)) {
      return std::string("Kafka topic names allow only letters, digits, '.', '_' and '-', found '") + c + "'";
    }
  }
  if (sample.size() + 32 > 249) return "is too long: Kafka topic names have at most 249 characters";
  if (sample == "." || sample == "..") return "'.' and '..' are not valid topic names";
  return std::nullopt;
}

std::optional<std::string> check_kafka_property(const std::string& key, const std::string& value) {
  if (key == "bootstrap.servers" || key == "metadata.broker.list") return "set the sink's 'brokers' key instead";
  if (key == "acks" || key == "request.required.acks") {
    if (value == "all" || value == "-1") return std::nullopt;
    return "ldexport always uses acks=all: a batch is acknowledged only when every in-sync replica has it; "
           "remove this property";
  }
  if (key == "enable.idempotence") {
    if (value == "true") return std::nullopt;
    return "ldexport always uses the idempotent producer (no duplicates or reordering from retries); "
           "remove this property";
  }
  if (key == "transactional.id") return "set the sink's 'transactional_id' key (with exactly_once: true) instead";
  if (key == "isolation.level") return "the checkpoint read-back always uses read_committed; remove this property";
  if (key == "max.in.flight.requests.per.connection" || key == "max.in.flight") {
    char* end = nullptr;
    long n = std::strtol(value.c_str(), &end, 10);
    if (end != nullptr && *end == '\0' && n > 5) return "the idempotent producer allows at most 5 in-flight requests";
  }
  return std::nullopt;
}

std::string KafkaSinkConfig::effective_transactional_id() const {
  return transactional_id.empty() ? "ldexport-" + name : transactional_id;
}

Result<std::unique_ptr<Sink>> KafkaSinkConfig::build(StopSignal& stop) const {
  return std::unique_ptr<Sink>(std::make_unique<KafkaSink>(*this, stop));
}

std::unique_ptr<SinkConfig> parse_kafka_sink_config(ConfigNode& node) {
  auto c = std::make_unique<KafkaSinkConfig>();
  c->brokers = node.str("brokers", "");
  if (c->brokers.empty() && !node.has("brokers")) {
    node.error("missing key 'brokers': the Kafka bootstrap servers, e.g. brokers: kafka-1:9092,kafka-2:9092");
  } else if (c->brokers.empty()) {
    node.error_at("brokers", "must not be empty");
  }
  c->topic = node.str("topic", c->topic);
  if (auto why = check_topic_template(c->topic)) node.error_at("topic", *why);

  const std::string deletes = node.str("deletes", "record");
  if (deletes == "tombstone") {
    c->deletes = KafkaDeletes::kTombstone;
  } else if (deletes != "record") {
    node.error_at("deletes", "expected 'record' (the delete envelope) or 'tombstone' (a null value), found '" +
                                 deletes + "'");
  }
  c->exactly_once = node.boolean("exactly_once", false);
  const bool has_txn_id = node.has("transactional_id");
  const bool has_cp_topic = node.has("checkpoint_topic");
  c->transactional_id = node.str("transactional_id", "");
  c->checkpoint_topic = node.str("checkpoint_topic", c->checkpoint_topic);
  if (!c->exactly_once) {
    if (has_txn_id) node.error_at("transactional_id", "applies only with exactly_once: true");
    if (has_cp_topic) node.error_at("checkpoint_topic", "applies only with exactly_once: true");
  }
  if (has_cp_topic) {
    if (auto why = check_topic_template(c->checkpoint_topic)) {
      node.error_at("checkpoint_topic", *why);
    } else if (c->checkpoint_topic.find("{stream}") != std::string::npos) {
      node.error_at("checkpoint_topic", "is one topic for every stream: {stream} is not allowed here");
    }
  }
  if (has_txn_id && c->transactional_id.empty()) node.error_at("transactional_id", "must not be empty");
  c->timeout = node.duration("timeout", c->timeout);
  if (c->timeout < Millis(1000)) node.error_at("timeout", "must be at least 1s");

  // Read even when empty (`properties:` with no entries): reading marks the key known.
  ConfigNode props = node.child("properties");
  if (props.is_map()) {
    // librdkafka itself judges names and values, so a typo is reported here, at load time.
    kafka::Conf scratch(rd_kafka_conf_new());
    for (const std::string& key : props.keys()) {
      auto value = props.opt_str(key);
      if (!value) continue;  // opt_str reported why
      if (auto why = check_kafka_property(key, *value)) {
        props.error_at(key, *why);
        continue;
      }
      char err[512];
      if (rd_kafka_conf_set(scratch.get(), key.c_str(), value->c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        props.error_at(key, std::string("librdkafka rejects it: ") + err);
        continue;
      }
      c->properties.emplace_back(key, *value);
    }
  }
  return c;
}

}  // namespace ldx
