#include "ceilings.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <pqxx/pqxx>
#include <stdexcept>

#include "core/time_util.h"
#include "pg_cluster.h"
#include "sinks/kafka/kafka_handles.h"
#include "sinks/kafka/kafka_sink.h"
#include "sinks/postgres/pg_identifiers.h"
#include "sinks/postgres/pg_stream_tables.h"

namespace ldx::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

std::vector<std::string> batch_buffers(const std::vector<Record>& records, size_t batch_records, size_t batch_bytes) {
  std::vector<std::string> out;
  std::string buf;
  size_t in_batch = 0;
  size_t envelope_bytes = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    buf += records[i].envelope;
    buf.push_back('\n');
    envelope_bytes += records[i].envelope.size();
    ++in_batch;
    const bool page_end = (i + 1) % kAuditPageSize == 0;
    if (page_end && (in_batch >= batch_records || envelope_bytes >= batch_bytes)) {
      out.push_back(std::move(buf));
      buf.clear();
      in_batch = 0;
      envelope_bytes = 0;
    }
  }
  if (!buf.empty()) out.push_back(std::move(buf));
  return out;
}

double file_ceiling(const std::filesystem::path& dir, const std::vector<std::string>& buffers, size_t records) {
  std::filesystem::create_directories(dir);
  const auto path = dir / "ceiling.jsonl";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string() + ": " + std::strerror(errno));
  const auto t0 = Clock::now();
  for (const auto& b : buffers) {
    size_t off = 0;
    while (off < b.size()) {
      const ssize_t n = ::write(fd, b.data() + off, b.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error("write: " + std::string(std::strerror(errno)));
      off += static_cast<size_t>(n);
    }
    if (::fdatasync(fd) != 0) throw std::runtime_error("fdatasync: " + std::string(std::strerror(errno)));
  }
  const double secs = seconds_since(t0);
  ::close(fd);
  std::filesystem::remove(path);
  return static_cast<double>(records) / secs;
}

// ---- Kafka --------------------------------------------------------------------------

std::vector<KafkaMessage> kafka_messages(const std::vector<Record>& records) {
  std::vector<KafkaMessage> out;
  out.reserve(records.size());
  for (const auto& r : records) out.push_back({r.id, r.envelope, op_name(r.op), r.chain_prev, r.chain_hash});
  return out;
}

namespace {

std::atomic<size_t> g_delivered{0};
std::atomic<size_t> g_failed{0};
void on_dr(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err) g_failed.fetch_add(1);
  g_delivered.fetch_add(1);
}

kafka::Client raw_producer(const std::string& bootstrap, const char* linger_ms) {
  char err[512];
  kafka::Conf conf(rd_kafka_conf_new());
  auto set = [&](const char* k, const char* v) { rd_kafka_conf_set(conf.get(), k, v, err, sizeof err); };
  set("bootstrap.servers", bootstrap.c_str());
  set("acks", "all");
  set("enable.idempotence", "true");
  set("socket.nagle.disable", "true");
  if (linger_ms) set("linger.ms", linger_ms);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), on_dr);
  return kafka::Client(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof err));
}

}  // namespace

double kafka_ceiling(const std::string& bootstrap, const std::string& topic, const std::vector<KafkaMessage>& msgs,
                     size_t window_pages, const char* linger_ms) {
  const bool per_page = window_pages > 0;
  auto p = raw_producer(bootstrap, linger_ms);
  kafka::Topic t(rd_kafka_topic_new(p.get(), topic.c_str(), nullptr));
  g_delivered = 0;
  g_failed = 0;
  const auto t0 = Clock::now();
  size_t sent = 0;
  for (const auto& m : msgs) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(5);
    rd_kafka_header_add(h, kHeaderStream, -1, "audit_log", -1);
    rd_kafka_header_add(h, kHeaderOp, -1, m.op.data(), static_cast<ssize_t>(m.op.size()));
    rd_kafka_header_add(h, kHeaderSchema, -1, kSchemaV1, -1);
    if (!m.hash.empty()) {
      rd_kafka_header_add(h, kHeaderPrevHash, -1, m.prev_hash.data(), static_cast<ssize_t>(m.prev_hash.size()));
      rd_kafka_header_add(h, kHeaderHash, -1, m.hash.data(), static_cast<ssize_t>(m.hash.size()));
    }
    while (rd_kafka_producev(p.get(), RD_KAFKA_V_RKT(t.get()), RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()), RD_KAFKA_V_HEADERS(h),
                             RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(p.get(), 10);
    }
    ++sent;
    if (per_page && sent % kAuditPageSize == 0) {
      const size_t may_wait = (window_pages - 1) * kAuditPageSize;
      while (g_delivered.load() + may_wait < sent) rd_kafka_poll(p.get(), 100);
    }
  }
  while (g_delivered.load() < sent) rd_kafka_poll(p.get(), 100);
  const double secs = seconds_since(t0);
  if (g_failed.load() != 0) {
    std::cerr << "raw producer: " << g_failed.load() << " deliveries failed\n";
    std::exit(1);
  }
  t.reset();
  return static_cast<double>(msgs.size()) / secs;
}

// ---- Postgres -----------------------------------------------------------------------

namespace {

void append_copy_field(std::string& out, const char* v) {
  if (v == nullptr) {
    out += "\\N";
    return;
  }
  for (const char* c = v; *c != '\0'; ++c) {
    switch (*c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out.push_back(*c);
    }
  }
}

}  // namespace

std::string copy_text(const std::vector<Record>& records) {
  std::string out;
  for (const Record& r : records) {
    const std::string version = r.version ? std::to_string(*r.version) : "";
    const std::string occurred = r.occurred_at_ms ? format_rfc3339_ms(*r.occurred_at_ms) : "";
    const std::string observed = format_rfc3339_ms(r.observed_at_ms);
    auto opt = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
    const char* fields[] = {r.id.c_str(),   op_name(r.op),     opt(r.project),   opt(r.environment),
                            opt(r.kind),    opt(version),      opt(occurred),    observed.c_str(),
                            r.data.c_str(), opt(r.chain_prev), opt(r.chain_hash)};
    for (size_t i = 0; i < std::size(fields); ++i) {
      if (i > 0) out.push_back('\t');
      append_copy_field(out, fields[i]);
    }
    out.push_back('\n');
  }
  return out;
}

double postgres_ceiling(test_support::PgCluster& pg, const std::string& db, const std::string& schema,
                        const std::string& copy_file, long long expect_rows) {
  const std::string dsn = pg.dsn(db);
  {
    pqxx::connection c(dsn);
    pqxx::work tx(c);
    tx.exec("CREATE SCHEMA " + pg::quote_identifier(schema));
    for (const auto& ddl : pg::build_stream_sql(schema, "audit_log", pg::TableLayout::kAppendOnly).create_tables) {
      tx.exec(ddl);
    }
    tx.commit();
  }
  const std::string table = pg::qualified(schema, "audit_log");
  const std::string copy = "\\copy " + table +
                           " (id, op, project, environment, kind, version, occurred_at, observed_at, data, prev_hash,"
                           " hash) FROM '" +
                           copy_file + "'";
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string psql = pg.bin_dir() + "/psql";
    const std::string port = std::to_string(pg.port());
    ::execl(psql.c_str(), "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", port.c_str(), "-U",
            "postgres", "-d", db.c_str(), "-c", copy.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double secs = seconds_since(t0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("psql \\copy failed");
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  const long long rows = tx.exec("SELECT count(*) FROM " + table)[0][0].as<long long>();
  if (rows != expect_rows) throw std::runtime_error("psql loaded " + std::to_string(rows) + " rows");
  return static_cast<double>(rows) / secs;
}

}  // namespace ldx::bench
