#include "sinks/kafka/kafka_sink_config.h"

#include <gtest/gtest.h>

#include "checkpoint/file/file_checkpoint_store.h"
#include "sources/audit_log/audit_log_source.h"

namespace ldx {
namespace {

Catalog kafka_catalog() {
  Catalog c;
  c.streams["audit_log"] = parse_audit_log_config;
  c.sinks["kafka"] = parse_kafka_sink_config;
  c.checkpoints["file"] = parse_file_checkpoint_config;
  return c;
}

// The sink section starts on line 6, column 5 (its first key).
LoadResult load_sink(const std::string& sink_body) {
  std::string y = "launchdarkly: { token: t }\n"
                  "streams:\n"
                  "  audit_log: { interval: 5s }\n"
                  "checkpoint: { type: file, path: /tmp/x }\n"
                  "sinks:\n"
                  "  - name: events\n"
                  "    type: kafka\n" +
                  sink_body;
  return load_config_string(y, "k.yaml", kafka_catalog());
}

std::string joined(const std::vector<std::string>& errs) {
  std::string s;
  for (const auto& e : errs) s += e + "\n";
  return s;
}

const KafkaSinkConfig* kafka_of(const LoadResult& r) {
  if (!r.config || r.config->sinks.empty()) return nullptr;
  return dynamic_cast<const KafkaSinkConfig*>(r.config->sinks[0].get());
}

TEST(KafkaSinkConfig, DefaultsNeedOnlyBrokers) {
  auto r = load_sink("    brokers: 127.0.0.1:9092\n");
  const auto* k = kafka_of(r);
  ASSERT_NE(k, nullptr) << joined(r.errors);
  EXPECT_EQ(k->brokers, "127.0.0.1:9092");
  EXPECT_EQ(k->topic, "ldexport.{stream}");
  EXPECT_EQ(k->deletes, KafkaDeletes::kRecord);
  EXPECT_FALSE(k->exactly_once);
  EXPECT_TRUE(k->properties.empty());
  EXPECT_EQ(k->effective_transactional_id(), "ldexport-events");
  EXPECT_EQ(k->checkpoint_topic, "ldexport.checkpoints");
}

TEST(KafkaSinkConfig, ReadsEveryKey) {
  auto r = load_sink(
      "    brokers: a:9092,b:9092\n"
      "    topic: ld.{stream}.v1\n"
      "    deletes: tombstone\n"
      "    exactly_once: true\n"
      "    transactional_id: exporter-eu\n"
      "    checkpoint_topic: ld.checkpoints\n"
      "    timeout: 10s\n"
      "    properties:\n"
      "      compression.type: zstd\n"
      "      linger.ms: 5\n"
      "      acks: all\n");
  const auto* k = kafka_of(r);
  ASSERT_NE(k, nullptr) << joined(r.errors);
  EXPECT_EQ(k->topic, "ld.{stream}.v1");
  EXPECT_EQ(k->deletes, KafkaDeletes::kTombstone);
  EXPECT_TRUE(k->exactly_once);
  EXPECT_EQ(k->effective_transactional_id(), "exporter-eu");
  EXPECT_EQ(k->checkpoint_topic, "ld.checkpoints");
  EXPECT_EQ(k->timeout.count(), 10'000);
  ASSERT_EQ(k->properties.size(), 3u);
  EXPECT_EQ(k->properties[0], (std::pair<std::string, std::string>{"compression.type", "zstd"}));
  EXPECT_EQ(k->properties[1], (std::pair<std::string, std::string>{"linger.ms", "5"}));
}

// `properties:` left empty (YAML null) is no properties, not an unknown key; a
// properties value that is not a mapping is an error at its key.
TEST(KafkaSinkConfig, EmptyPropertiesAreNoneAndAListIsAnError) {
  auto r = load_sink("    brokers: a:9092\n    properties:\n");
  const auto* k = kafka_of(r);
  ASSERT_NE(k, nullptr) << joined(r.errors);
  EXPECT_TRUE(k->properties.empty());

  auto bad = load_sink("    brokers: a:9092\n    properties: [linger.ms]\n");
  ASSERT_FALSE(bad.config);
  ASSERT_EQ(bad.errors.size(), 1u) << joined(bad.errors);
  EXPECT_NE(bad.errors[0].find("sinks[0].properties: expected a mapping"), std::string::npos) << bad.errors[0];
}

TEST(KafkaSinkConfig, PropertiesThatWeakenDeliveryAreErrorsWithTheirLocation) {
  auto r = load_sink(
      "    brokers: a:9092\n"
      "    properties:\n"
      "      acks: 1\n"
      "      enable.idempotence: false\n"
      "      transactional.id: x\n");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 3u) << joined(r.errors);
  EXPECT_TRUE(r.errors[0].starts_with("k.yaml:10:13: sinks[0].properties.acks: ldexport always uses acks=all"))
      << r.errors[0];
  EXPECT_TRUE(r.errors[1].starts_with("k.yaml:11:27: sinks[0].properties.enable.idempotence: ")) << r.errors[1];
  EXPECT_NE(r.errors[1].find("idempotent"), std::string::npos);
  EXPECT_NE(r.errors[2].find("transactional_id"), std::string::npos) << r.errors[2];
}

TEST(KafkaSinkConfig, LibrdkafkaJudgesPropertyNamesAndValuesAtLoadTime) {
  auto r = load_sink(
      "    brokers: a:9092\n"
      "    properties:\n"
      "      compresion.type: zstd\n"
      "      linger.ms: soon\n");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 2u) << joined(r.errors);
  EXPECT_TRUE(r.errors[0].starts_with("k.yaml:10:24: sinks[0].properties.compresion.type: librdkafka rejects it"))
      << r.errors[0];
  EXPECT_TRUE(r.errors[1].starts_with("k.yaml:11:18: sinks[0].properties.linger.ms: librdkafka rejects it"))
      << r.errors[1];
}

TEST(KafkaSinkConfig, MissingBrokersAndBadValuesAreReported) {
  auto r = load_sink(
      "    topic: \"ld/{stream}\"\n"
      "    deletes: drop\n"
      "    transactional_id: t\n");
  ASSERT_FALSE(r.config);
  const std::string all = joined(r.errors);
  EXPECT_NE(all.find("missing key 'brokers'"), std::string::npos) << all;
  EXPECT_NE(all.find("k.yaml:8:12: sinks[0].topic: Kafka topic names allow only"), std::string::npos) << all;
  EXPECT_NE(all.find("k.yaml:9:14: sinks[0].deletes: expected 'record'"), std::string::npos) << all;
  EXPECT_NE(all.find("sinks[0].transactional_id: applies only with exactly_once: true"), std::string::npos) << all;
}

TEST(KafkaSinkConfig, TopicTemplate) {
  EXPECT_EQ(expand_topic_template("ldexport.{stream}", "audit_log"), "ldexport.audit_log");
  EXPECT_EQ(expand_topic_template("{stream}-{stream}", "flags"), "flags-flags");
  EXPECT_EQ(expand_topic_template("fixed", "flags"), "fixed");
  EXPECT_FALSE(check_topic_template("ldexport.{stream}"));
  EXPECT_TRUE(check_topic_template("ldexport.{project}"));
  EXPECT_TRUE(check_topic_template(""));
  EXPECT_TRUE(check_topic_template("a b"));
}

TEST(KafkaSinkConfig, PropertyRules) {
  EXPECT_FALSE(check_kafka_property("acks", "all"));
  EXPECT_FALSE(check_kafka_property("acks", "-1"));
  EXPECT_TRUE(check_kafka_property("acks", "0"));
  EXPECT_TRUE(check_kafka_property("request.required.acks", "1"));
  EXPECT_TRUE(check_kafka_property("enable.idempotence", "false"));
  EXPECT_TRUE(check_kafka_property("bootstrap.servers", "x:1"));
  EXPECT_TRUE(check_kafka_property("max.in.flight", "10"));
  EXPECT_FALSE(check_kafka_property("max.in.flight", "5"));
  EXPECT_FALSE(check_kafka_property("sasl.mechanisms", "PLAIN"));
}

}  // namespace
}  // namespace ldx
