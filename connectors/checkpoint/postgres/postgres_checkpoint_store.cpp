#include "checkpoint/postgres/postgres_checkpoint_store.h"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "checkpoint/file/file_checkpoint_store.h"  // kCheckpointFormat: one format for both stores
#include "core/time_util.h"
#include "sinks/postgres/pg_errors.h"
#include "sinks/postgres/pg_identifiers.h"
#include "sinks/postgres/pg_migrations.h"

namespace ldx {

namespace {
constexpr const char* kContext = "postgres checkpoint store: ";
}  // namespace

PostgresCheckpointStore::PostgresCheckpointStore(pg::DsnSource dsn, std::string schema)
    : dsn_(std::move(dsn)), schema_(std::move(schema)), table_(pg::qualified(schema_, "ldexport_checkpoints")) {}

PostgresCheckpointStore::~PostgresCheckpointStore() = default;

Status PostgresCheckpointStore::ensure_connection() {
  if (conn_) return Status::ok();
  auto conn = pg::connect(dsn_, "ldexport checkpoints", kContext);
  if (!conn.is_ok()) return conn.status();
  conn_ = std::move(conn.value());
  return Status::ok();
}

Status PostgresCheckpointStore::failed(const std::exception& e, const std::string& what) {
  Status st = pg::status_from_exception(e, std::string(kContext) + what + ": ");
  if (st.is_retryable()) conn_.reset();
  return st;
}

Status PostgresCheckpointStore::open() {
  if (auto st = pg::validate_identifier(schema_, "schema"); !st.is_ok()) return st.with_context(kContext);
  std::lock_guard lock(mu_);
  if (auto st = ensure_connection(); !st.is_ok()) return st;
  auto version = pg::migrate(*conn_, schema_, kContext);
  if (!version.is_ok()) {
    conn_.reset();
    return version.status();
  }
  spdlog::info("{}using {}.ldexport_checkpoints on {}", kContext, schema_, pg::describe(*conn_));
  return Status::ok();
}

Result<std::optional<Checkpoint>> PostgresCheckpointStore::load(const std::string& stream) {
  std::lock_guard lock(mu_);
  if (auto st = ensure_connection(); !st.is_ok()) return st;
  int format = 0;
  std::string source;
  std::string sinks;
  int64_t committed_at_ms = 0;
  try {
    pqxx::read_transaction tx(*conn_);
    auto r = tx.exec_params(
        "SELECT format, coalesce(source_cursor::text, 'null'), sink_positions::text,"
        " (extract(epoch FROM committed_at) * 1000)::bigint FROM " +
            table_ + " WHERE stream = $1",
        stream);
    if (r.empty()) return std::optional<Checkpoint>{};
    format = r[0][0].as<int>();
    source = r[0][1].as<std::string>();
    sinks = r[0][2].as<std::string>();
    committed_at_ms = r[0][3].as<int64_t>();
  } catch (const std::exception& e) {
    return failed(e, "loading " + stream);
  }
  if (format != kCheckpointFormat) {
    return Status::fatal(std::string(kContext) + "the checkpoint of " + stream + " has format " +
                         std::to_string(format) + "; this ldexport reads format " +
                         std::to_string(kCheckpointFormat));
  }
  Checkpoint cp;
  cp.source_cursor = nlohmann::json::parse(source, nullptr, false);
  cp.sink_positions = nlohmann::json::parse(sinks, nullptr, false);
  if (cp.source_cursor.is_discarded() || !cp.sink_positions.is_object()) {
    return Status::fatal(std::string(kContext) + "the checkpoint of " + stream +
                         " is not readable; run 'ldexport checkpoints reset " + stream + "'");
  }
  cp.committed_at_ms = committed_at_ms;
  return std::optional<Checkpoint>(std::move(cp));
}

Status PostgresCheckpointStore::commit(const std::string& stream, const Checkpoint& cp) {
  std::lock_guard lock(mu_);
  if (auto st = ensure_connection(); !st.is_ok()) return st;
  const int64_t at = cp.committed_at_ms != 0 ? cp.committed_at_ms : wall_now_ms();
  try {
    pqxx::work tx(*conn_);
    tx.exec_params("INSERT INTO " + table_ +
                       " (stream, format, source_cursor, sink_positions, committed_at)"
                       " VALUES ($1, $2, $3::jsonb, $4::jsonb, timestamptz 'epoch' + $5::bigint * interval '1 millisecond')"
                       " ON CONFLICT (stream) DO UPDATE SET format = excluded.format,"
                       " source_cursor = excluded.source_cursor, sink_positions = excluded.sink_positions,"
                       " committed_at = excluded.committed_at",
                   stream, kCheckpointFormat, cp.source_cursor.dump(), cp.sink_positions.dump(), at);
    tx.commit();
    return Status::ok();
  } catch (const std::exception& e) {
    return failed(e, "committing " + stream);
  }
}

Result<std::vector<std::string>> PostgresCheckpointStore::list_streams() {
  std::lock_guard lock(mu_);
  if (auto st = ensure_connection(); !st.is_ok()) return st;
  try {
    pqxx::read_transaction tx(*conn_);
    std::vector<std::string> out;
    // `checkpoints list` reads without open() (it creates nothing): before the first
    // run has made the table there is simply no checkpoint, which is not an error.
    if (!tx.exec_params("SELECT to_regclass($1) IS NOT NULL", table_)[0][0].as<bool>()) return out;
    for (const auto& row : tx.exec("SELECT stream FROM " + table_ + " ORDER BY stream")) {
      out.push_back(row[0].as<std::string>());
    }
    return out;
  } catch (const std::exception& e) {
    return failed(e, "listing streams");
  }
}

Status PostgresCheckpointStore::reset(const std::string& stream) {
  if (auto st = check_stream_name(stream); !st.is_ok()) return st.with_context(std::string(kContext) + "cannot reset: ");
  std::lock_guard lock(mu_);
  if (auto st = ensure_connection(); !st.is_ok()) return st;
  try {
    pqxx::work tx(*conn_);
    tx.exec_params("DELETE FROM " + table_ + " WHERE stream = $1", stream);
    tx.commit();
    return Status::ok();
  } catch (const std::exception& e) {
    return failed(e, "resetting " + stream);
  }
}

Result<std::unique_ptr<CheckpointStore>> PostgresCheckpointConfig::build() const {
  return std::unique_ptr<CheckpointStore>(std::make_unique<PostgresCheckpointStore>(dsn, schema));
}

std::unique_ptr<CheckpointConfig> parse_postgres_checkpoint_config(ConfigNode& node) {
  auto c = std::make_unique<PostgresCheckpointConfig>();
  c->dsn = pg::parse_dsn_keys(node);
  c->schema = node.str("schema", c->schema);
  if (auto st = pg::validate_identifier(c->schema, "schema"); !st.is_ok()) node.error_at("schema", st.message());
  return c;
}

}  // namespace ldx
