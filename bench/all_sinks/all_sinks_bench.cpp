// The archive, Kafka and Postgres at once: records per second through one stream runner
// writing every batch to all three sinks, beside the three raw ceilings running at once,
// in the same run. Each sink alone (pipeline and ceiling) is measured in the same run
// too, so the four ratios come from one data set, one machine state.
//
//   pipeline  recorded audit-log API pages (fetched once from ld-simulator, served from
//             memory, one page per source batch) -> parse -> normalize -> StreamRunner
//             (batches of batch_records, hash chain, overlapping stages) -> FileSink,
//             KafkaSink (acks=all, idempotent, librdkafka's mock cluster in this
//             process), PostgresSink (throw-away cluster, fsync on) -> file checkpoint.
//   ceilings  the same finished records: write() + fdatasync() per batch (file), a bare
//             librdkafka producer flushed once (Kafka), `psql \copy` (Postgres); "all
//             three" runs the three at once on three threads and takes the wall time
//             until the last one is done.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <pqxx/pqxx>
#include <sstream>

#include "bench_util.h"
#include "ceilings.h"
#include "core/stop_signal.h"
#include "core/time_util.h"
#include "ldexport_version.h"
#include "mock_cluster.h"
#include "pg_cluster.h"
#include "recorded_pass.h"
#include "sinks/file/file_sink.h"
#include "sinks/kafka/kafka_sink.h"
#include "sinks/postgres/pg_identifiers.h"
#include "sinks/postgres/postgres_sink.h"

namespace ldx::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kPartitions = 4;

struct Options : RunOptions {
  size_t batch_records = 2000;
};

// Everything one run needs: the mock Kafka cluster, Postgres, the data and a scratch dir.
struct Rig {
  std::unique_ptr<testing::MockCluster> kafka;
  std::unique_ptr<test_support::PgCluster> pg;
  std::string db;
  std::vector<std::string> pages;
  std::vector<Record> finished;
  std::vector<KafkaMessage> messages;
  std::vector<std::string> file_batches;
  std::string copy_file;
  std::filesystem::path scratch;
};

long long count_rows(const std::string& dsn, const std::string& schema) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  return tx.exec("SELECT count(*) FROM " + pg::qualified(schema, "audit_log"))[0][0].as<long long>();
}

// Which sinks a pipeline run writes to.
struct Selection {
  bool file = false, kafka = false, postgres = false;
};

double run_pipeline(Rig& rig, const Options& opt, Selection sel, const std::string& tag) {
  StopSignal stop;
  std::vector<Sink*> sinks;
  std::unique_ptr<FileSink> file;
  std::unique_ptr<KafkaSink> kafka;
  std::unique_ptr<PostgresSink> postgres;
  const auto archive = rig.scratch / ("archive-" + tag);
  const std::string schema = "pipeline_" + tag;
  if (sel.file) {
    file = std::make_unique<FileSink>("archive", archive, 128LL << 20);
    check(file->open(), "file sink open");
    sinks.push_back(file.get());
  }
  if (sel.kafka) {
    rig.kafka->create_topic(tag + ".audit_log", kPartitions);
    KafkaSinkConfig cfg;
    cfg.name = "kafka";
    cfg.type = "kafka";
    cfg.brokers = rig.kafka->bootstrap();
    cfg.topic = tag + ".{stream}";
    kafka = std::make_unique<KafkaSink>(cfg, stop);
    check(kafka->open(), "Kafka sink open");
    sinks.push_back(kafka.get());
  }
  if (sel.postgres) {
    PostgresSinkOptions o;
    o.name = "warehouse";
    o.dsn.dsn = rig.pg->dsn(rig.db);
    o.schema = schema;
    postgres = std::make_unique<PostgresSink>(o, stop);
    check(postgres->open(), "Postgres sink open");
    sinks.push_back(postgres.get());
  }
  const auto pass = run_recorded_pass(rig.pages, sinks, opt.batch_records);
  for (Sink* s : sinks) (void)s->close();
  if (pass.records != rig.finished.size()) throw std::runtime_error(tag + ": the pipeline committed too few records");
  if (sel.postgres && count_rows(rig.pg->dsn(rig.db), schema) != static_cast<long long>(rig.finished.size())) {
    throw std::runtime_error(tag + ": Postgres holds the wrong number of rows");
  }
  std::filesystem::remove_all(archive);
  return pass.rate();
}

double file_ceiling_of(Rig& rig) {
  return file_ceiling(rig.scratch / "ceiling", rig.file_batches, rig.finished.size());
}

// The ceiling librdkafka reaches: the better of its default batching and linger.ms=0.
double kafka_ceiling_of(Rig& rig, const std::string& tag) {
  rig.kafka->create_topic(tag + ".raw", kPartitions);
  rig.kafka->create_topic(tag + ".raw0", kPartitions);
  return std::max(kafka_ceiling(rig.kafka->bootstrap(), tag + ".raw", rig.messages, 0, nullptr),
                  kafka_ceiling(rig.kafka->bootstrap(), tag + ".raw0", rig.messages, 0, "0"));
}

double postgres_ceiling_of(Rig& rig, const std::string& tag) {
  return postgres_ceiling(*rig.pg, rig.db, "ceiling_" + tag, rig.copy_file,
                          static_cast<long long>(rig.finished.size()));
}

// The three ceilings at once, each on its own thread: records/s until the last is done.
double all_ceilings_at_once(Rig& rig, const std::string& tag) {
  rig.kafka->create_topic(tag + ".rawall", kPartitions);
  const auto t0 = Clock::now();
  auto f = std::async(std::launch::async,
                      [&] { return file_ceiling(rig.scratch / "ceiling-all", rig.file_batches, rig.finished.size()); });
  auto k = std::async(std::launch::async,
                      [&] { return kafka_ceiling(rig.kafka->bootstrap(), tag + ".rawall", rig.messages, 0, nullptr); });
  auto p = std::async(std::launch::async, [&] { return postgres_ceiling_of(rig, tag + "_all"); });
  f.get();
  k.get();
  p.get();
  return static_cast<double>(rig.finished.size()) / std::chrono::duration<double>(Clock::now() - t0).count();
}

int run(const Options& opt) {
  spdlog::set_level(spdlog::level::warn);
  const std::string load_at_start = load_average();
  Rig rig;
  std::string error;
  rig.kafka = testing::MockCluster::start(1, &error);
  if (!rig.kafka) throw std::runtime_error("mock Kafka cluster: " + error);
  rig.pg = test_support::PgCluster::create(test_support::PgClusterOptions{}, error);
  if (!rig.pg) throw std::runtime_error("Postgres: " + error);
  rig.db = rig.pg->create_database("ldx_bench");
  std::cerr << "recording " << opt.entries << " audit entries from the simulator...\n";
  rig.pages = record_simulator_audit_pages(opt.simulator, opt.entries);
  rig.finished = finished_audit_records(rig.pages);
  rig.messages = kafka_messages(rig.finished);
  rig.file_batches = batch_buffers(rig.finished, opt.batch_records);
  rig.copy_file = rig.pg->dir() + "/finished-rows.copy";
  std::ofstream(rig.copy_file, std::ios::binary) << copy_text(rig.finished);
  ::chmod(rig.copy_file.c_str(), 0644);
  rig.scratch = std::filesystem::temp_directory_path() / ("ldx-all-sinks-bench-" + std::to_string(::getpid()));
  size_t bytes = 0;
  for (const auto& b : rig.file_batches) bytes += b.size();
  std::cerr << rig.pages.size() << " pages, " << rig.finished.size() << " records\n";

  const char* kNames[] = {"archive (file)", "Kafka", "Postgres", "all three at once"};
  std::vector<double> ceiling[4], pipeline[4];
  std::vector<double> normalize_only, chain_only;
  for (int r = 0; r < opt.repeats; ++r) {
    const std::string t = "r" + std::to_string(r);
    ceiling[0].push_back(file_ceiling_of(rig));
    pipeline[0].push_back(run_pipeline(rig, opt, {true, false, false}, t + "_file"));
    ceiling[1].push_back(kafka_ceiling_of(rig, t + "_kafka"));
    pipeline[1].push_back(run_pipeline(rig, opt, {false, true, false}, t + "_kafka"));
    ceiling[2].push_back(postgres_ceiling_of(rig, t + "_pg"));
    pipeline[2].push_back(run_pipeline(rig, opt, {false, false, true}, t + "_pg"));
    ceiling[3].push_back(all_ceilings_at_once(rig, t + "_all"));
    pipeline[3].push_back(run_pipeline(rig, opt, {true, true, true}, t + "_all"));
    const auto reader = measure_reader_stage(rig.pages);
    normalize_only.push_back(reader.normalize);
    chain_only.push_back(reader.hash_chain);
    std::cerr << "run " << r + 1 << ":";
    for (int i = 0; i < 4; ++i) {
      std::cerr << " " << kNames[i] << " " << static_cast<int64_t>(pipeline[i].back()) << "/"
                << static_cast<int64_t>(ceiling[i].back()) << ";";
    }
    std::cerr << " reader alone " << static_cast<int64_t>(reader.normalize) << " + "
              << static_cast<int64_t>(reader.hash_chain) << "/s\n";
  }
  std::filesystem::remove_all(rig.scratch);

  std::string pg_version;
  {
    pqxx::connection c(rig.pg->dsn(rig.db));
    pqxx::work tx(c);
    pg_version = tx.exec("SHOW server_version")[0][0].as<std::string>();
  }
  std::ostringstream md;
  md << "# All sinks: the archive, Kafka and Postgres at once\n\n"
     << "Generated by `ldx_bench_all_sinks` (" << format_rfc3339_ms(wall_now_ms()) << ", ldexport " << LDEXPORT_VERSION
     << ").\n\nCommand:\n\n```\n"
     << opt.command << "\n```\n\n"
     << "Machine: " << machine_description() << "; librdkafka " << rd_kafka_version_str() << " mock cluster (1 broker, "
     << kPartitions << " partitions, in this process); PostgreSQL " << pg_version
     << " (throw-away cluster, fsync on, synchronous_commit on); archive and Postgres on the same local disk. "
     << "Load average " << load_at_start << " when the run started.\n\n"
     << "Data: " << rig.finished.size() << " audit-log entries (" << rig.pages.size()
     << " recorded API pages of 20 from ld-simulator --seed 7), " << bytes / (1024 * 1024)
     << " MiB of finished JSONL; `batch_records: " << opt.batch_records << "`. Median of " << opt.repeats
     << " rounds; each round runs every line below once, pipeline right after its ceiling.\n\n"
     << "| Sink | Raw ceiling, records/s | Pipeline, records/s | Ratio |\n|---|---:|---:|---:|\n";
  const char* kCeilings[] = {"write() + fdatasync() per batch", "bare librdkafka producer, flushed once",
                             "`psql \\copy`, one transaction", "the three above at once, until the last is done"};
  for (int i = 0; i < 4; ++i) {
    const double c = median(ceiling[i]), p = median(pipeline[i]);
    md << "| " << kNames[i] << " (ceiling: " << kCeilings[i] << ") | " << static_cast<int64_t>(c) << " | "
       << static_cast<int64_t>(p) << " | " << fixed(p / c, 2) << " |\n";
  }
  const double nr = median(normalize_only), cr = median(chain_only);
  md << "\nFor reference, no sink: parse + normalize alone " << static_cast<int64_t>(nr)
     << " records/s, the hash chain alone " << static_cast<int64_t>(cr) << " records/s, the reader thread's "
     << "work together " << static_cast<int64_t>(1.0 / (1.0 / nr + 1.0 / cr)) << " records/s.\n\n"
     << "The stream runner writes a batch to its sinks one after another (a cursor advances only when all "
        "acked), so with three sinks a batch costs the sum of the three writes, while the ceiling runs the "
        "three writers in parallel; reading the next batch overlaps those writes. Every line is also bounded by "
        "the reader thread's rate above.\n";
  nlohmann::json rows = nlohmann::json::object();
  const char* kKeys[] = {"file", "kafka", "postgres", "all"};
  for (int i = 0; i < 4; ++i) rows[kKeys[i]] = {{"ceiling", median(ceiling[i])}, {"pipeline", median(pipeline[i])}};
  publish(md.str(), opt.out, opt.json,
          {{"records", rig.finished.size()},
           {"batch_records", opt.batch_records},
           {"sinks", rows},
           {"normalize", nr},
           {"hash_chain", cr}});
  return 0;
}

}  // namespace
}  // namespace ldx::bench

int main(int argc, char** argv) {
  return ldx::bench::guarded_main("ldx_bench_all_sinks", [&] {
    auto names = ldx::bench::kRunFlags;
    names.emplace_back("--batch-records");
    const auto flags = ldx::bench::parse_flags(argc, argv, names);
    ldx::bench::Options opt;
    ldx::bench::read_run_options(flags, "ldx_bench_all_sinks", opt);
    opt.batch_records = flags.sizes("--batch-records", {opt.batch_records}).at(0);
    return ldx::bench::run(opt);
  });
}
