// Builds every component from the config and schedules the streams: one thread per
// enabled stream, each with its own interval and jitter, all sharing one HTTP
// rate-limit budget. `once` catches every stream up and returns; `run` polls until
// stop is requested.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "config/config.h"
#include <functional>

#include "http/http_client.h"
#include "pipeline/stream_runner.h"
#include "telemetry/status_server.h"

namespace ldx {

class Exporter {
 public:
  Exporter(const Config& cfg, StopSignal& stop);
  ~Exporter();
  // Builds and opens sinks, the checkpoint store and sources; recovers every stream.
  // With wait_for_destinations, a sink or checkpoint store that is unavailable
  // (retryable: Kafka or Postgres down) is retried with backoff until it answers or a
  // stop is requested, as `run` must ride out an outage at start; otherwise the first
  // error is returned (`once`, which a scheduler re-runs). A failure names the stream
  // and the sink it is about in Status::stream() and Status::sink() (either may be
  // empty: the status listener, the dead-letter output, the checkpoint store).
  Status open(bool wait_for_destinations = false);
  // Exit codes: 0 every stream caught up (or a clean stop); 1 a stream failed.
  int run_once();
  int run_forever();
  // One line per stream: records, pages, requests, dead letters.
  [[nodiscard]] std::string summary() const;
  // Prometheus text for /metrics and the /readyz verdict.
  [[nodiscard]] std::string render_metrics() const;
  [[nodiscard]] Status readiness() const;
  // Port of the status listener, 0 when disabled.
  [[nodiscard]] int status_port() const { return status_port_; }

 private:
  Status pass_with_retries(StreamRunner& r, int max_attempts);
  Status open_step(bool wait, const std::string& what, const std::function<Status()>& step);
  void progress_loop(StopSignal& until);
  void close_sinks();

  const Config& cfg_;
  StopSignal& stop_;
  std::unique_ptr<HttpClientFactory> http_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::unique_ptr<Sink> dead_letter_;
  std::unique_ptr<CheckpointStore> store_;
  std::vector<std::unique_ptr<StreamRunner>> runners_;
  void health_loop(StopSignal& until);

  int64_t started_ms_ = 0;
  std::atomic<bool> opened_{false};
  std::unique_ptr<StatusServer> status_;
  int status_port_ = 0;
  // Cached sink health (index as sinks_), refreshed by the health thread.
  std::vector<std::unique_ptr<std::atomic<bool>>> sink_healthy_;
  mutable std::mutex health_mu_;
  std::vector<std::string> sink_health_reason_;
  StopSignal health_stop_;
  std::thread health_thread_;
};

}  // namespace ldx
