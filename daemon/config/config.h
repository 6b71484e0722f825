// The whole configuration, bound from one YAML file. Component sections (streams,
// sinks, checkpoint) are parsed by the component's own config struct, found through
// the Catalog that daemon/registry.cpp fills with one explicit line per component.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config_node.h"
#include "core/interfaces.h"
#include "core/json_writer.h"
#include "core/stop_signal.h"
#include "core/time_util.h"

namespace ldx {

class HttpClientFactory;

struct LaunchDarklyConfig {
  std::string base_url = "https://app.launchdarkly.com";
  std::string token;  // never logged; see redact_token()
  std::string ca_bundle;
  std::string api_version = "20240415";
  Millis connect_timeout{10'000};
  Millis request_timeout{60'000};
  int max_retries = 8;
  Millis retry_base{500};
  Millis retry_max{30'000};
  bool include_secrets = false;
  std::vector<std::string> projects{"*"};
  std::vector<std::string> environments{"*"};
  [[nodiscard]] SecretPolicy secret_policy() const { return SecretPolicy{include_secrets}; }
};

// What a source needs to run.
struct SourceContext {
  const LaunchDarklyConfig* launchdarkly = nullptr;
  HttpClientFactory* http = nullptr;
  StopSignal* stop = nullptr;
};

class StreamConfig {
 public:
  virtual ~StreamConfig() = default;
  std::string stream;
  bool enabled = true;
  Millis interval{30'000};
  Millis jitter{0};  // default: 10% of interval, set by the loader
  // Pages are joined into batches (one sink write, one checkpoint commit each) until
  // one of these is reached, or the source has caught up (stream_runner.h).
  size_t batch_records = 2000;
  size_t batch_bytes = 4u << 20;  // envelope bytes
  Millis batch_wait{2000};
  [[nodiscard]] virtual Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const = 0;
};

class SinkConfig {
 public:
  virtual ~SinkConfig() = default;
  std::string name;
  std::string type;
  [[nodiscard]] virtual Result<std::unique_ptr<Sink>> build(StopSignal& stop) const = 0;
};

class CheckpointConfig {
 public:
  virtual ~CheckpointConfig() = default;
  std::string type;
  [[nodiscard]] virtual Result<std::unique_ptr<CheckpointStore>> build() const = 0;
};

// Parsers take the section's node; they read their keys (the loader reads the common
// ones first) and leave unknown-key reporting to the loader.
struct Catalog {
  std::map<std::string, std::function<std::unique_ptr<StreamConfig>(ConfigNode&)>> streams;
  std::map<std::string, std::function<std::unique_ptr<SinkConfig>(ConfigNode&)>> sinks;
  std::map<std::string, std::function<std::unique_ptr<CheckpointConfig>(ConfigNode&)>> checkpoints;
};

struct LogConfig {
  std::string level = "info";    // trace, debug, info, warn, error
  std::string format = "auto";   // auto (text on a terminal, json otherwise), json, text
  Millis progress_interval{10'000};
};

struct HttpListenConfig {
  bool enabled = true;
  std::string listen = "0.0.0.0:9464";  // /metrics, /healthz, /readyz; port 0 picks one
};

struct Config {
  std::string source_file;
  LaunchDarklyConfig launchdarkly;
  std::vector<std::unique_ptr<StreamConfig>> streams;
  std::vector<std::unique_ptr<SinkConfig>> sinks;
  std::unique_ptr<CheckpointConfig> checkpoint;
  std::string dead_letter_path = "./ldexport-dead-letter";
  LogConfig log;
  HttpListenConfig http;
  Millis shutdown_timeout{25'000};
};

struct LoadResult {
  std::unique_ptr<Config> config;  // null when errors is not empty
  std::vector<std::string> errors;  // "file:line:column: message"
};

LoadResult load_config_file(const std::string& path, const Catalog& catalog);
LoadResult load_config_string(const std::string& yaml, const std::string& name, const Catalog& catalog);

}  // namespace ldx
