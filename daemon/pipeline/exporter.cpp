#include "pipeline/exporter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <random>
#include <thread>

#include "sinks/file/file_sink.h"

namespace ldx {

Exporter::Exporter(const Config& cfg, StopSignal& stop) : cfg_(cfg), stop_(stop) {}

Exporter::~Exporter() { close_sinks(); }

void Exporter::close_sinks() {
  for (auto& s : sinks_) {
    if (auto st = s->close(); !st.is_ok()) spdlog::error("sink {}: close failed: {}", s->name(), st.message());
  }
  if (dead_letter_) (void)dead_letter_->close();
}

Status Exporter::open() {
  started_ms_ = wall_now_ms();
  http_ = std::make_unique<HttpClientFactory>(cfg_.launchdarkly, stop_);
  if (cfg_.launchdarkly.include_secrets) {
    spdlog::warn("launchdarkly.include_secrets is on: SDK and mobile keys will be exported unredacted");
  }
  for (const auto& sc : cfg_.sinks) {
    auto sink = sc->build(stop_);
    if (!sink.is_ok()) return sink.status().with_context("sink " + sc->name + ": ");
    if (auto st = sink.value()->open(); !st.is_ok()) return st.with_context("sink " + sc->name + ": ");
    sinks_.push_back(std::move(sink.value()));
  }
  dead_letter_ = std::make_unique<FileSink>(kDeadLetterSinkName, cfg_.dead_letter_path, 64LL * 1024 * 1024);
  if (auto st = dead_letter_->open(); !st.is_ok()) return st.with_context("dead-letter output: ");
  auto store = cfg_.checkpoint->build();
  if (!store.is_ok()) return store.status();
  store_ = std::move(store.value());
  if (auto st = store_->open(); !st.is_ok()) return st.with_context("checkpoint store: ");

  std::vector<Sink*> sink_ptrs;
  for (auto& s : sinks_) sink_ptrs.push_back(s.get());
  SourceContext ctx{&cfg_.launchdarkly, http_.get(), &stop_};
  for (const auto& sc : cfg_.streams) {
    if (!sc->enabled) continue;
    auto src = sc->build(ctx);
    if (!src.is_ok()) return src.status().with_context("stream " + sc->stream + ": ");
    auto runner = std::make_unique<StreamRunner>(*sc, std::move(src.value()), sink_ptrs, dead_letter_.get(),
                                                 *store_, stop_);
    if (auto st = runner->recover(); !st.is_ok()) return st;
    runners_.push_back(std::move(runner));
  }
  if (runners_.empty()) return Status::fatal("no stream is enabled under 'streams'");
  return Status::ok();
}

Status Exporter::pass_with_retries(StreamRunner& r, int max_attempts) {
  Millis backoff{1000};
  for (int attempt = 1;; ++attempt) {
    Status st = r.run_pass();
    if (st.is_ok() || st.is_fatal() || stop_.stop_requested()) return st;
    if (max_attempts > 0 && attempt >= max_attempts) return st;
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
      spdlog::info("progress {}: {} records, {} pages, {} dead letters", r->stream(), s.records.load(),
                   s.pages.load(), s.dead_letters.load());
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
      Status st = pass_with_retries(*runner, 5);
      if (!st.is_ok() && !stop_.stop_requested()) {
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
      std::mt19937 rng(std::random_device{}());
      while (!stop_.stop_requested()) {
        Status st = pass_with_retries(*runner, 0);
        if (st.is_fatal()) {
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
