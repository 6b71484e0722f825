#include "recorded_pass.h"

#include <httplib.h>
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "bench_util.h"
#include "checkpoint/file/file_checkpoint_store.h"
#include "common/hash_chain.h"
#include "core/stop_signal.h"
#include "pipeline/stream_runner.h"
#include "recorded_audit_source.h"
#include "sinks/file/file_sink.h"
#include "sources/audit_log/audit_log_normalizer.h"

namespace ldx::bench {

std::vector<std::string> record_simulator_audit_pages(const std::string& simulator, int entries, int seed) {
  const std::string token = "bench-token";
  FILE* p = ::popen((simulator + " --port 0 --token " + token + " --seed " + std::to_string(seed) +
                     " --audit-entries " + std::to_string(entries) + " 2>/dev/null & echo $!")
                        .c_str(),
                    "r");
  if (p == nullptr) throw std::runtime_error("cannot start " + simulator);
  char line[256];
  std::string pid_line;
  std::string listen_line;
  // The first line is the pid (from echo), then the simulator's "listening on ...".
  while ((pid_line.empty() || listen_line.empty()) && std::fgets(line, sizeof line, p) != nullptr) {
    std::string l(line);
    if (l.rfind("listening on 127.0.0.1:", 0) == 0) {
      listen_line = l;
    } else if (pid_line.empty()) {
      pid_line = l;
    }
  }
  if (listen_line.empty()) throw std::runtime_error("ld-simulator did not start");
  const int port = std::stoi(listen_line.substr(listen_line.rfind(':') + 1));
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(60, 0);
  std::vector<std::string> pages;
  std::string target = "/api/v2/auditlog?limit=20";
  simdjson::dom::parser parser;
  while (!target.empty()) {
    auto res = cli.Get(target, httplib::Headers{{"Authorization", token}});
    if (!res || res->status != 200) throw std::runtime_error("recording " + target + " failed");
    simdjson::dom::element doc;
    if (parser.parse(res->body).get(doc) != simdjson::SUCCESS) throw std::runtime_error("bad page JSON");
    std::string_view next;
    target = doc.at_pointer("/_links/next/href").get(next) == simdjson::SUCCESS ? std::string(next) : "";
    pages.push_back(std::move(res->body));
  }
  ::kill(std::stoi(pid_line), SIGTERM);
  ::pclose(p);
  return pages;
}

std::vector<Record> finished_audit_records(const std::vector<std::string>& pages) {
  RecordedAuditSource src(pages);
  check(src.begin_pass(nullptr), "begin");
  nlohmann::json positions = nlohmann::json::object();
  std::vector<Record> out;
  for (;;) {
    auto b = src.next_batch();
    check(b.status(), "normalize");
    if (!b.value()) break;
    Batch& batch = *b.value();
    check(apply_hash_chain(batch, positions), "hash chain");
    for (auto& r : batch.records) out.push_back(std::move(r));
  }
  return out;
}

ReaderRates measure_reader_stage(const std::vector<std::string>& pages, size_t batch_records) {
  // As the stream runner does it: pages joined into batches of batch_records, each
  // batch normalized, then chained, then dropped (so memory is reused, as in a pass).
  using Clock = std::chrono::steady_clock;
  RecordedAuditSource src(pages);
  check(src.begin_pass(nullptr), "begin");
  nlohmann::json chain = nlohmann::json::object();
  size_t records = 0;
  Clock::duration normalizing{0};
  Clock::duration chaining{0};
  for (bool more = true; more;) {
    Batch batch;
    auto t0 = Clock::now();
    while (batch.records.size() < batch_records) {
      auto b = src.next_batch();
      check(b.status(), "normalize");
      if (!b.value()) {
        more = false;
        break;
      }
      if (batch.records.empty()) batch.records.reserve(batch_records);
      for (auto& r : b.value()->records) batch.records.push_back(std::move(r));
      batch.stream = b.value()->stream;
    }
    auto t1 = Clock::now();
    check(apply_hash_chain(batch, chain), "hash chain");
    auto t2 = Clock::now();
    normalizing += t1 - t0;
    chaining += t2 - t1;
    records += batch.records.size();
  }
  ReaderRates rates;
  rates.normalize = static_cast<double>(records) / std::chrono::duration<double>(normalizing).count();
  rates.hash_chain = static_cast<double>(records) / std::chrono::duration<double>(chaining).count();
  return rates;
}

PassResult run_recorded_pass(const std::vector<std::string>& pages, const std::vector<Sink*>& sinks,
                             size_t batch_records) {
  static int passes = 0;
  const auto tmp = std::filesystem::temp_directory_path() /
                   ("ldx-bench-pass-" + std::to_string(::getpid()) + "-" + std::to_string(++passes));
  std::filesystem::remove_all(tmp);
  StopSignal stop;
  FileSink dead_letter(kDeadLetterSinkName, tmp / "dead-letter", 64LL << 20);
  check(dead_letter.open(), "dead-letter open");
  FileCheckpointStore store(tmp / "state");
  check(store.open(), "checkpoint open");
  BenchStreamConfig cfg;
  cfg.stream = kAuditLogStream;
  cfg.batch_records = batch_records;
  cfg.batch_wait = Millis(60'000);  // recorded pages arrive at once: batch on records alone
  PassResult result;
  {
    StreamRunner runner(cfg, std::make_unique<RecordedAuditSource>(pages), sinks, &dead_letter, store, stop);
    check(runner.recover(), "recover");
    const auto t0 = std::chrono::steady_clock::now();
    check(runner.run_pass(), "pass");
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.records = runner.stats().records.load();
    result.batches = runner.stats().batches.load();
  }
  (void)dead_letter.close();
  std::filesystem::remove_all(tmp);
  return result;
}

}  // namespace ldx::bench
