#include "pipeline/exporter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <random>
#include <thread>

#include "sinks/file/file_sink.h"
#include "telemetry/log_fields.h"
#include "telemetry/metrics.h"

namespace ldx {

Exporter::Exporter(const Config& cfg, StopSignal& stop) : cfg_(cfg), stop_(stop) {}

Exporter::~Exporter() {
  health_stop_.request_stop();
  if (health_thread_.joinable()) health_thread_.join();
  if (status_) status_->stop();
  close_sinks();
}

void Exporter::close_sinks() {
  // The health thread calls every sink's health(): it ends before any sink closes.
  health_stop_.request_stop();
  if (health_thread_.joinable()) health_thread_.join();
  for (auto& s : sinks_) {
    LogScope sink_scope(LogField::kSink, s->name());
    if (auto st = s->close(); !st.is_ok()) spdlog::error("sink {}: close failed: {}", s->name(), st.message());
  }
  if (dead_letter_) (void)dead_letter_->close();
}

Status Exporter::open_step(bool wait, const std::string& what, const std::function<Status()>& step) {
  Millis backoff{1000};
  for (int attempt = 1;; ++attempt) {
    Status st = step();
    if (st.is_ok() || !wait || !st.is_retryable()) return st;
    LogScope request(st);
    spdlog::warn("{} is not available yet (attempt {}): {}; retrying in {} s", what, attempt, st.message(),
                 backoff.count() / 1000);
    if (!stop_.sleep_for(backoff)) return Status::retryable("stopped while waiting for " + what);
    backoff = std::min(backoff * 2, Millis(30'000));
  }
}

Status Exporter::open(bool wait_for_destinations) {
  const bool wait = wait_for_destinations;
  started_ms_ = wall_now_ms();
  http_ = std::make_unique<HttpClientFactory>(cfg_.launchdarkly, stop_);
  if (cfg_.http.enabled) {
    status_ = std::make_unique<StatusServer>(
        cfg_.http.listen, StatusServer::Handlers{[this] { return render_metrics(); }, [this] { return readiness(); }});
    auto port = status_->start();
    if (!port.is_ok()) return port.status();
    status_port_ = port.value();
    spdlog::info("metrics and health on {}:{} (/metrics, /healthz, /readyz)",
                 cfg_.http.listen.substr(0, cfg_.http.listen.rfind(':')), status_port_);
  }
  if (cfg_.launchdarkly.include_secrets) {
    spdlog::warn("launchdarkly.include_secrets is on: SDK and mobile keys will be exported unredacted");
  }
  for (const auto& sc : cfg_.sinks) {
    // A fresh sink per attempt: a failed open() may leave one half set up.
    std::unique_ptr<Sink> opened;
    LogScope sink_scope(LogField::kSink, sc->name);
    auto st = open_step(wait, "sink " + sc->name, [&]() -> Status {
      auto sink = sc->build(stop_);
      if (!sink.is_ok()) return sink.status();
      if (auto o = sink.value()->open(); !o.is_ok()) return o;
      opened = std::move(sink.value());
      return Status::ok();
    });
    if (!st.is_ok()) return st.with_context("sink " + sc->name + ": ").with_sink(sc->name);
    sinks_.push_back(std::move(opened));
  }
  dead_letter_ = std::make_unique<FileSink>(kDeadLetterSinkName, cfg_.dead_letter_path, 64LL * 1024 * 1024);
  if (auto st = dead_letter_->open(); !st.is_ok()) return st.with_context("dead-letter output: ");
  if (auto st = open_step(wait, "the checkpoint store",
                          [&]() -> Status {
                            auto store = cfg_.checkpoint->build();
                            if (!store.is_ok()) return store.status();
                            if (auto o = store.value()->open(); !o.is_ok()) return o;
                            store_ = std::move(store.value());
                            return Status::ok();
                          });
      !st.is_ok()) {
    return st.with_context("checkpoint store: ");
  }

  std::vector<Sink*> sink_ptrs;
  for (auto& s : sinks_) sink_ptrs.push_back(s.get());
  SourceContext ctx{&cfg_.launchdarkly, http_.get(), &stop_};
  for (const auto& sc : cfg_.streams) {
    if (!sc->enabled) continue;
    auto src = sc->build(ctx);
    if (!src.is_ok()) return src.status().with_context("stream " + sc->stream + ": ").with_stream(sc->stream);
    LogScope stream_scope(LogField::kStream, sc->stream);
    auto runner = std::make_unique<StreamRunner>(*sc, std::move(src.value()), sink_ptrs, dead_letter_.get(),
                                                 *store_, stop_);
    if (auto st = open_step(wait, "stream " + sc->stream + "'s recovery", [&] { return runner->recover(); });
        !st.is_ok()) {
      return st.with_stream(sc->stream);
    }
    runners_.push_back(std::move(runner));
  }
  if (runners_.empty()) return Status::fatal("no stream is enabled under 'streams'");
  for (size_t i = 0; i < sinks_.size(); ++i) sink_healthy_.push_back(std::make_unique<std::atomic<bool>>(true));
  sink_health_reason_.resize(sinks_.size());
  health_thread_ = std::thread([this] { health_loop(health_stop_); });
  opened_.store(true);
  return Status::ok();
}

void Exporter::health_loop(StopSignal& until) {
  do {
    for (size_t i = 0; i < sinks_.size(); ++i) {
      Status st = sinks_[i]->health();
      sink_healthy_[i]->store(st.is_ok());
      std::lock_guard lock(health_mu_);
      sink_health_reason_[i] = st.message();
    }
  } while (until.sleep_for(Millis(2000)));
}

Status Exporter::readiness() const {
  if (!opened_.load()) return Status::retryable("starting: sinks, checkpoints and streams are being opened");
  for (const auto& r : runners_) {
    if (const_cast<StreamRunner&>(*r).stats().fatal.load())
      return Status::fatal("stream " + r->stream() + " stopped on a fatal error");
  }
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (!sink_healthy_[i]->load()) {
      std::lock_guard lock(health_mu_);
      return Status::retryable("sink " + sinks_[i]->name() + " is unhealthy: " + sink_health_reason_[i]);
    }
    for (const auto& r : runners_) {
      const auto& ss = const_cast<StreamRunner&>(*r).stats().sinks;
      if (i < ss.size() && ss[i]->failing.load())
        return Status::retryable("sink " + sinks_[i]->name() + " is failing writes for stream " + r->stream());
    }
  }
  return Status::ok();
}

Status Exporter::pass_with_retries(StreamRunner& r, int max_attempts) {
  Millis backoff{1000};
  for (int attempt = 1;; ++attempt) {
    Status st = r.run_pass();
    if (st.is_ok() || st.is_fatal() || stop_.stop_requested()) return st;
    if (max_attempts > 0 && attempt >= max_attempts) return st;
    LogScope request(st);
    spdlog::warn("{}; the pass restarts from the committed cursor in {} ms", st.message(), backoff.count());
    if (!stop_.sleep_for(backoff)) return Status::ok();
    backoff = std::min(backoff * 2, Millis(60'000));
  }
}

void Exporter::progress_loop(StopSignal& until) {
  while (until.sleep_for(cfg_.log.progress_interval)) {
    auto& hs = http_->stats();
    for (auto& r : runners_) {
      auto& s = r->stats();
      LogScope stream_scope(LogField::kStream, r->stream());
      spdlog::info("progress {}: {} records, {} pages, {} dead letters; {} records read in this pass", r->stream(),
                   s.records.load(), s.pages.load(), s.dead_letters.load(), s.read_this_pass.load());
    }
    spdlog::info("progress http: {} requests, {} retries, {} rate-limited (429), {} rate-limit waits ({:.1f} s)",
                 hs.requests.load(), hs.retries.load(), hs.throttled_429.load(), hs.rate_limit_waits.load(),
                 static_cast<double>(hs.rate_limit_wait_ms.load()) / 1000.0);
  }
}

int Exporter::run_once() {
  StopSignal progress_stop;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (auto& r : runners_) {
    threads.emplace_back([&, runner = r.get()] {
      LogScope stream_scope(LogField::kStream, runner->stream());
      Status st = pass_with_retries(*runner, 5);
      if (!st.is_ok() && !stop_.stop_requested()) {
        if (st.is_fatal()) runner->stats().fatal.store(true);
        LogScope request(st);
        spdlog::error("stream {} failed: {}", runner->stream(), st.describe());
        failures.fetch_add(1);
      }
    });
  }
  std::thread progress([&] { progress_loop(progress_stop); });
  for (auto& t : threads) t.join();
  progress_stop.request_stop();
  progress.join();
  close_sinks();
  if (stop_.stop_requested()) spdlog::info("stopped by signal; committed work is kept, the next run resumes");
  return failures.load() ? 1 : 0;
}

int Exporter::run_forever() {
  std::atomic<int> fatal{0};
  std::vector<std::thread> threads;
  for (auto& r : runners_) {
    threads.emplace_back([&, runner = r.get()] {
      LogScope stream_scope(LogField::kStream, runner->stream());
      std::mt19937 rng(std::random_device{}());
      while (!stop_.stop_requested()) {
        Status st = pass_with_retries(*runner, 0);
        if (st.is_fatal()) {
          runner->stats().fatal.store(true);
          LogScope request(st);
          spdlog::error("stream {} stopped: {}", runner->stream(), st.describe());
          fatal.fetch_add(1);
          return;
        }
        const auto& sc = runner->config();
        std::uniform_int_distribution<int64_t> j(0, std::max<int64_t>(sc.jitter.count(), 0));
        if (!stop_.sleep_for(sc.interval + Millis(j(rng)))) break;
      }
    });
  }
  StopSignal progress_stop;
  std::thread progress([&] { progress_loop(progress_stop); });
  for (auto& t : threads) t.join();
  progress_stop.request_stop();
  progress.join();
  close_sinks();
  return fatal.load() ? 1 : 0;
}

std::string Exporter::summary() const {
  std::string out;
  const double secs = static_cast<double>(wall_now_ms() - started_ms_) / 1000.0;
  for (const auto& r : runners_) {
    auto& s = const_cast<StreamRunner&>(*r).stats();
    out += fmt::format("{}: {} new records, {} pages, {} requests, {} dead letters\n", r->stream(), s.records.load(),
                       s.pages.load(), s.requests_last_pass.load(), s.dead_letters.load());
  }
  auto& hs = http_->stats();
  out += fmt::format("total: {} requests ({} retried, {} rate-limited) in {:.1f} s\n", hs.requests.load(),
                     hs.retries.load(), hs.throttled_429.load(), secs);
  return out;
}

}  // namespace ldx

namespace ldx {

std::string Exporter::render_metrics() const {
  MetricsWriter m;
  const int64_t now = wall_now_ms();
  auto per_stream = [&](const char* name, const char* type, const char* help, auto value) {
    m.family(name, type, help);
    for (const auto& r : runners_) m.sample(name, {{"stream", r->stream()}}, value(const_cast<StreamRunner&>(*r).stats()));
  };
  per_stream("ldexport_records_exported_total", "counter", "Records committed to every sink.",
             [](StreamStats& s) { return static_cast<double>(s.records.load()); });
  per_stream("ldexport_pages_total", "counter", "LaunchDarkly API pages consumed by committed batches.",
             [](StreamStats& s) { return static_cast<double>(s.pages.load()); });
  per_stream("ldexport_dead_letters_total", "counter", "Records sent to the dead-letter output (data errors).",
             [](StreamStats& s) { return static_cast<double>(s.dead_letters.load()); });
  per_stream("ldexport_passes_total", "counter", "Completed passes (the stream caught up).",
             [](StreamStats& s) { return static_cast<double>(s.passes.load()); });
  per_stream("ldexport_stream_fatal", "gauge", "1 when the stream stopped on a fatal error (e.g. 401/403).",
             [](StreamStats& s) { return s.fatal.load() ? 1.0 : 0.0; });
  per_stream("ldexport_seconds_since_last_pass", "gauge",
             "Seconds since the stream last caught up (since start when it has not yet).", [&](StreamStats& s) {
               int64_t t = s.last_pass_end_ms.load();
               return static_cast<double>(now - (t ? t : started_ms_)) / 1000.0;
             });
  per_stream("ldexport_lag_seconds", "gauge", "Now minus the newest exported occurred_at (NaN before the first).",
             [&](StreamStats& s) {
               int64_t t = s.newest_occurred_ms.load();
               return t ? static_cast<double>(now - t) / 1000.0 : std::nan("");
             });
  per_stream("ldexport_checkpoint_age_seconds", "gauge", "Seconds since the stream's checkpoint was committed.",
             [&](StreamStats& s) {
               int64_t t = s.last_commit_ms.load();
               return t ? static_cast<double>(now - t) / 1000.0 : std::nan("");
             });

  m.family("ldexport_sink_acks_total", "counter", "Batches a sink acknowledged as durable.");
  for (const auto& r : runners_)
    for (const auto& ss : const_cast<StreamRunner&>(*r).stats().sinks)
      m.sample("ldexport_sink_acks_total", {{"stream", r->stream()}, {"sink", ss->sink}}, static_cast<double>(ss->acks.load()));
  m.family("ldexport_sink_failures_total", "counter", "Failed sink writes (retried while the cursor is held).");
  for (const auto& r : runners_)
    for (const auto& ss : const_cast<StreamRunner&>(*r).stats().sinks)
      m.sample("ldexport_sink_failures_total", {{"stream", r->stream()}, {"sink", ss->sink}},
               static_cast<double>(ss->failures.load()));
  m.family("ldexport_sink_healthy", "gauge", "1 when the sink's last health check and write succeeded.");
  for (size_t i = 0; i < sinks_.size(); ++i) {
    bool ok = i < sink_healthy_.size() ? sink_healthy_[i]->load() : true;
    for (const auto& r : runners_) {
      const auto& ss = const_cast<StreamRunner&>(*r).stats().sinks;
      if (i < ss.size() && ss[i]->failing.load()) ok = false;
    }
    m.sample("ldexport_sink_healthy", {{"sink", sinks_[i]->name()}}, ok ? 1 : 0);
  }

  m.family("ldexport_batch_duration_seconds", "histogram", "Time to make one batch durable in every sink and commit it.");
  for (const auto& r : runners_) {
    auto& s = const_cast<StreamRunner&>(*r).stats();
    uint64_t cum = 0;
    for (size_t i = 0; i < kBatchLatencyBucketCount; ++i) {
      cum += s.latency_buckets[i].load();
      m.sample("ldexport_batch_duration_seconds_bucket",
               {{"stream", r->stream()}, {"le", fmt::format("{}", kBatchLatencyBuckets[i])}}, static_cast<double>(cum));
    }
    cum += s.latency_buckets[kBatchLatencyBucketCount].load();
    m.sample("ldexport_batch_duration_seconds_bucket", {{"stream", r->stream()}, {"le", "+Inf"}}, static_cast<double>(cum));
    m.sample("ldexport_batch_duration_seconds_sum", {{"stream", r->stream()}},
             static_cast<double>(s.latency_sum_us.load()) / 1e6);
    m.sample("ldexport_batch_duration_seconds_count", {{"stream", r->stream()}}, static_cast<double>(s.latency_count.load()));
  }

  if (http_) {
    auto& hs = http_->stats();
    m.family("ldexport_http_requests_total", "counter", "Requests to the LaunchDarkly API by status class.");
    m.sample("ldexport_http_requests_total", {{"status_class", "2xx"}}, static_cast<double>(hs.status_2xx.load()));
    m.sample("ldexport_http_requests_total", {{"status_class", "4xx"}}, static_cast<double>(hs.status_4xx.load()));
    m.sample("ldexport_http_requests_total", {{"status_class", "5xx"}}, static_cast<double>(hs.status_5xx.load()));
    m.sample("ldexport_http_requests_total", {{"status_class", "network_error"}},
             static_cast<double>(hs.transport_errors.load()));
    m.family("ldexport_http_retries_total", "counter", "Requests retried after a network error, timeout or 5xx.");
    m.sample("ldexport_http_retries_total", static_cast<double>(hs.retries.load()));
    m.family("ldexport_rate_limited_total", "counter", "429 responses from LaunchDarkly.");
    m.sample("ldexport_rate_limited_total", static_cast<double>(hs.throttled_429.load()));
    m.family("ldexport_rate_limit_wait_seconds_total", "counter", "Seconds spent waiting for the rate-limit budget.");
    m.sample("ldexport_rate_limit_wait_seconds_total", static_cast<double>(hs.rate_limit_wait_ms.load()) / 1000.0);
    auto snap = http_->budget().snapshot();
    m.family("ldexport_rate_limit_remaining", "gauge",
             "Remaining requests in LaunchDarkly's current 10 s window (NaN when not reported).");
    m.sample("ldexport_rate_limit_remaining", {{"scope", "global"}},
             snap.global_remaining ? static_cast<double>(*snap.global_remaining) : std::nan(""));
    m.sample("ldexport_rate_limit_remaining", {{"scope", "route"}},
             snap.route_remaining ? static_cast<double>(*snap.route_remaining) : std::nan(""));
  }
  m.family("ldexport_up", "gauge", "1 while the exporter is open and serving.");
  m.sample("ldexport_up", opened_.load() ? 1 : 0);
  return m.text();
}

}  // namespace ldx
