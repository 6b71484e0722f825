#include "sinks/postgres/postgres_sink.h"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <chrono>
#include <optional>

#include "sinks/postgres/pg_errors.h"
#include "sinks/postgres/pg_identifiers.h"
#include "sinks/postgres/pg_migrations.h"
#include "sinks/postgres/pg_rows.h"
#include "sinks/postgres/pg_stream_tables.h"

namespace ldx {

namespace {

// Prepared statement names (per connection).
constexpr const char* kInsertAppend = "ldx_insert_append";
constexpr const char* kStoredIds = "ldx_stored_ids";
constexpr const char* kVerdicts = "ldx_verdicts";
constexpr const char* kClosePrevious = "ldx_close_previous";
constexpr const char* kInsertHistory = "ldx_insert_history";
constexpr const char* kUpsertCurrent = "ldx_upsert_current";
constexpr const char* kUpsertCursor = "ldx_upsert_cursor";
constexpr const char* kDeadLetter = "ldx_dead_letter";

// Two postgres sinks of one process writing the same (schema, stream) would each wait
// for the other's lock forever; this says so instead.
class InProcessClaims {
 public:
  static InProcessClaims& instance() {
    static InProcessClaims claims;
    return claims;
  }
  Status claim(int64_t key, const std::string& sink, const std::string& schema, const std::string& stream) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = owners_.try_emplace(key, sink);
    if (!inserted && it->second != sink) {
      return Status::fatal("postgres sinks '" + it->second + "' and '" + sink + "' both write stream '" + stream +
                           "' to schema '" + schema + "': give each postgres sink its own schema");
    }
    return Status::ok();
  }
  void release(int64_t key, const std::string& sink) {
    std::lock_guard lock(mu_);
    auto it = owners_.find(key);
    if (it != owners_.end() && it->second == sink) owners_.erase(it);
  }

 private:
  std::mutex mu_;
  std::map<int64_t, std::string> owners_;
};

class NumberRow {
 public:
  template <size_t N>
  static std::array<const char*, N> make(std::array<std::array<char, 24>, N>& bufs,
                                         const std::array<std::optional<int64_t>, N>& values) {
    std::array<const char*, N> out{};
    for (size_t i = 0; i < N; ++i) {
      if (!values[i]) continue;
      auto res = std::to_chars(bufs[i].data(), bufs[i].data() + bufs[i].size() - 1, *values[i]);
      *res.ptr = '\0';
      out[i] = bufs[i].data();
    }
    return out;
  }
};

}  // namespace

struct PostgresSink::StreamWriter {
  std::string stream;
  pg::TableLayout layout = pg::TableLayout::kAppendOnly;
  pg::StreamSql sql;
  int64_t lock_key = 0;
  bool tables_ready = false;
  std::unique_ptr<pqxx::connection> conn;
  int locked_pid = 0;  // the backend that holds the lock; another pid means the lock is gone

  void drop() {
    conn.reset();  // closing the session releases its advisory lock
    locked_pid = 0;
  }
};

PostgresSink::PostgresSink(PostgresSinkOptions opts, StopSignal& stop) : opts_(std::move(opts)), stop_(stop) {}

PostgresSink::~PostgresSink() { (void)close(); }

std::string PostgresSink::context(const std::string& stream) const {
  return "postgres sink " + opts_.name + (stream.empty() ? "" : ", stream " + stream) + ": ";
}

Status PostgresSink::open() {
  {
    std::lock_guard lock(health_mu_);
    closed_ = false;
  }
  if (auto st = pg::validate_identifier(opts_.schema, "schema"); !st.is_ok()) return st.with_context(context(""));
  auto conn = pg::connect(opts_.dsn, "ldexport sink " + opts_.name, context(""));
  if (!conn.is_ok()) return conn.status();
  auto version = pg::migrate(*conn.value(), opts_.schema, context(""));
  if (!version.is_ok()) return version.status();
  spdlog::info("{}connected to {}, schema '{}' at version {}", context(""), pg::describe(*conn.value()),
               opts_.schema, version.value());
  return Status::ok();
}

Status PostgresSink::ensure_tables(StreamWriter& w) {
  try {
    pqxx::work tx(*w.conn);
    auto reg = tx.exec_params(w.sql.read_registration, w.stream);
    if (!reg.empty()) {
      const std::string layout = reg[0][0].as<std::string>();
      const int version = reg[0][1].as<int>();
      if (layout != pg::layout_name(w.layout)) {
        return Status::fatal(context(w.stream) + "table " + w.sql.table + " was created with the " + layout +
                             " layout, this ldexport writes it " + pg::layout_name(w.layout));
      }
      if (version > pg::kStreamLayoutVersion) {
        return Status::fatal(context(w.stream) + "table " + w.sql.table + " has layout version " +
                             std::to_string(version) + " from a newer ldexport; this one writes version " +
                             std::to_string(pg::kStreamLayoutVersion) + ". Upgrade ldexport.");
      }
    }
    for (const auto& ddl : w.sql.create_tables) tx.exec(ddl);
    tx.exec_params(w.sql.register_stream, w.stream, std::string(pg::layout_name(w.layout)), pg::kStreamLayoutVersion);
    tx.commit();
    w.tables_ready = true;
    return Status::ok();
  } catch (const std::exception& e) {
    return pg::status_from_exception(e, context(w.stream) + "creating tables: ");
  }
}

Status PostgresSink::attach(StreamWriter& w, bool& lock_busy) {
  lock_busy = false;
  if (!w.conn) {
    auto conn = pg::connect(opts_.dsn, "ldexport sink " + opts_.name + " " + w.stream, context(w.stream));
    if (!conn.is_ok()) return conn.status();
    w.conn = std::move(conn.value());
  }
  try {
    {
      pqxx::nontransaction tx(*w.conn);
      if (!tx.exec_params1("SELECT pg_try_advisory_lock($1)", w.lock_key)[0].as<bool>()) {
        lock_busy = true;
        return Status::retryable(context(w.stream) + "another ldexport holds the writer lock of schema '" +
                                 opts_.schema + "' (advisory lock " + std::to_string(w.lock_key) +
                                 "); standing by");
      }
      w.locked_pid = w.conn->backendpid();
    }
    if (!w.tables_ready) {
      if (auto st = ensure_tables(w); !st.is_ok()) {
        w.drop();
        return st;
      }
    }
    {
      pqxx::nontransaction tx(*w.conn);
      for (const auto& ddl : pg::staging_ddl()) tx.exec(ddl);
    }
    if (w.layout == pg::TableLayout::kAppendOnly) {
      w.conn->prepare(kInsertAppend, w.sql.insert_append);
      w.conn->prepare(kStoredIds, w.sql.select_stored_ids);
    } else {
      w.conn->prepare(kVerdicts, w.sql.verdicts);
      w.conn->prepare(kClosePrevious, w.sql.close_previous);
      w.conn->prepare(kInsertHistory, w.sql.insert_history);
      w.conn->prepare(kUpsertCurrent, w.sql.upsert_current);
    }
    w.conn->prepare(kUpsertCursor, w.sql.upsert_cursor);
    w.conn->prepare(kDeadLetter, w.sql.insert_dead_letter);
    return Status::ok();
  } catch (const std::exception& e) {
    w.drop();
    return pg::status_from_exception(e, context(w.stream));
  }
}

Status PostgresSink::check_position(StreamWriter& w, const nlohmann::json& committed) {
  if (!committed.is_object() || !committed.contains("batches") || !committed["batches"].is_number_integer()) {
    return Status::ok();
  }
  const int64_t expected = committed["batches"].get<int64_t>();
  int64_t stored = 0;
  try {
    pqxx::work tx(*w.conn);
    auto r = tx.exec_params(w.sql.read_cursor, w.stream);
    if (!r.empty()) stored = r[0][0].as<int64_t>();
    tx.commit();
  } catch (const std::exception& e) {
    w.drop();
    return pg::status_from_exception(e, context(w.stream));
  }
  if (stored < expected) {
    return Status::fatal(context(w.stream) + "the checkpoint says " + std::to_string(expected) +
                         " batches were committed to schema '" + opts_.schema + "', but it holds " +
                         std::to_string(stored) +
                         ": the database lost committed rows (restored from a backup, or tables dropped). Run "
                         "'ldexport checkpoints reset " +
                         w.stream + "' to export the stream again.");
  }
  if (stored > expected) {
    spdlog::info("{}{} batch(es) committed here after the last checkpoint; the replay that follows adds no row",
                 context(w.stream), stored - expected);
  }
  return Status::ok();
}

Status PostgresSink::recover(const std::string& stream, const nlohmann::json& committed_position) {
  if (auto st = pg::validate_stream_name(stream); !st.is_ok()) return st.with_context(context(stream));
  {
    std::lock_guard lock(mu_);
    if (writers_.count(stream) != 0) return Status::ok();
  }
  auto w = std::make_unique<StreamWriter>();
  w->stream = stream;
  w->layout = pg::layout_for_stream(stream);
  w->sql = pg::build_stream_sql(opts_.schema, stream, w->layout);
  w->lock_key = pg::writer_lock_key(opts_.schema, stream);
  if (auto st = InProcessClaims::instance().claim(w->lock_key, opts_.name, opts_.schema, stream); !st.is_ok()) {
    return st;
  }
  using Clock = std::chrono::steady_clock;
  bool stood_by = false;
  Clock::time_point last_log{};
  for (;;) {
    bool busy = false;
    Status st = attach(*w, busy);
    if (st.is_ok()) break;
    if (!st.is_retryable()) {
      InProcessClaims::instance().release(w->lock_key, opts_.name);
      return st;
    }
    const auto now = Clock::now();
    if (!stood_by || now - last_log >= std::chrono::minutes(1)) {
      if (busy) {
        spdlog::info("{}standing by: another ldexport writes stream '{}' to schema '{}'; retrying the writer lock "
                     "every {}",
                     context(stream), stream, opts_.schema, format_duration(opts_.standby_retry));
      } else {
        spdlog::warn("{}{}; retrying every {}", context(stream), st.message(), format_duration(opts_.standby_retry));
      }
      last_log = now;
    }
    stood_by = true;
    if (!stop_.sleep_for(opts_.standby_retry)) {
      InProcessClaims::instance().release(w->lock_key, opts_.name);
      return Status::retryable(context(stream) + "stop requested while standing by");
    }
  }
  if (stood_by) spdlog::info("{}writer lock acquired: this daemon now writes stream '{}'", context(stream), stream);
  if (auto st = check_position(*w, committed_position); !st.is_ok()) {
    w->drop();
    InProcessClaims::instance().release(w->lock_key, opts_.name);
    return st;
  }
  std::lock_guard lock(mu_);
  writers_[stream] = std::move(w);
  return Status::ok();
}

PostgresSink::StreamWriter* PostgresSink::writer_for(const std::string& stream) {
  std::lock_guard lock(mu_);
  auto it = writers_.find(stream);
  return it == writers_.end() ? nullptr : it->second.get();
}

namespace {

void copy_stage(pqxx::transaction_base& tx, const std::vector<const Record*>& recs) {
  pqxx::stream_to copy(tx, pg::kStageTable, pg::stage_columns());
  for (size_t i = 0; i < recs.size(); ++i) {
    pg::StageRow row(*recs[i], static_cast<int64_t>(i));
    copy << row.fields();
  }
  copy.complete();
}

void apply_entity(pqxx::transaction_base& tx, const std::vector<const Record*>& recs) {
  const pqxx::result res = tx.exec_prepared(kVerdicts);
  std::vector<pg::EntityVerdict> verdicts(recs.size());
  for (const auto& row : res) {
    const auto seq = row[0].as<int64_t>();
    if (seq < 0 || static_cast<size_t>(seq) >= verdicts.size()) continue;
    pg::EntityVerdict& v = verdicts[static_cast<size_t>(seq)];
    if (!row[1].is_null()) v.current_revision = row[1].as<int64_t>();
    if (!row[2].is_null()) v.current_valid_from_ms = row[2].as<int64_t>();
    v.same_as_current = row[3].as<bool>();
    v.seen_in_history = row[4].as<bool>();
  }
  const auto plan = pg::plan_entity_changes(recs, verdicts);
  if (plan.empty()) return;
  {
    pqxx::stream_to copy(tx, pg::kPlanTable, pg::plan_columns());
    std::array<std::array<char, 24>, 4> bufs{};
    for (const auto& c : plan) {
      copy << NumberRow::make<4>(bufs, {static_cast<int64_t>(c.index), c.revision, c.valid_from_ms, c.valid_to_ms});
    }
    copy.complete();
  }
  tx.exec_prepared(kClosePrevious);
  tx.exec_prepared(kInsertHistory);
  tx.exec_prepared(kUpsertCurrent);
}

void apply(pqxx::transaction_base& tx, pg::TableLayout layout, const std::vector<const Record*>& recs,
           bool clear_staging) {
  if (clear_staging) {
    tx.exec(std::string("DELETE FROM ") + pg::kStageTable);
    tx.exec(std::string("DELETE FROM ") + pg::kPlanTable);
  }
  copy_stage(tx, recs);
  if (layout == pg::TableLayout::kAppendOnly) {
    tx.exec_prepared(kInsertAppend);
  } else {
    apply_entity(tx, recs);
  }
}

// Append-only fast path. Only this stream's lock holder inserts into its table, so the
// ids found stored here cannot change before COMMIT: the rest are COPYed straight in
// (bulk insert, no staging). Should a row appear anyway (someone writing by hand), the
// unique violation is a data error and the record-by-record retry absorbs it with
// ON CONFLICT DO NOTHING.
void append_fresh(pqxx::transaction_base& tx, const pg::StreamSql& sql, const std::vector<const Record*>& recs) {
  std::vector<std::string> stored;
  for (const auto& row : tx.exec_prepared(kStoredIds, pg::text_array_literal(recs))) {
    stored.push_back(row[0].as<std::string>());
  }
  const auto fresh = pg::fresh_records(recs, stored);
  if (fresh.empty()) return;
  pqxx::stream_to copy(tx, sql.table, pg::direct_columns());
  for (const Record* r : fresh) {
    pg::TableRow row(*r);
    copy << row.fields();
  }
  copy.complete();
}

std::string envelope_of(const Record& r) {
  if (!r.envelope.empty()) return r.envelope;
  Record copy = r;
  copy.finish();
  return copy.envelope;
}

}  // namespace

Result<nlohmann::json> PostgresSink::write_batch(StreamWriter& w, const Batch& batch, bool isolate) {
  std::vector<const Record*> recs;
  recs.reserve(batch.records.size());
  for (const auto& r : batch.records) recs.push_back(&r);
  try {
    pqxx::work tx(*w.conn);
    // libpqxx re-opens a broken connection by itself; a new session has no lock.
    if (w.conn->backendpid() != w.locked_pid) {
      return Status::retryable(context(w.stream) + "the connection was re-opened without the writer lock");
    }
    if (!recs.empty() && !isolate && w.layout == pg::TableLayout::kAppendOnly) {
      append_fresh(tx, w.sql, recs);
    } else if (!recs.empty() && !isolate) {
      apply(tx, w.layout, recs, false);
    } else if (isolate) {
      size_t refused = 0;
      for (const Record* r : recs) {
        try {
          pqxx::subtransaction one(tx, "ldx_record");
          apply(one, w.layout, {r}, true);
          one.commit();
        } catch (const std::exception& e) {
          Status st = pg::status_from_exception(e, "");
          if (st.error_class() != ErrorClass::kDataError) throw;
          // `one` is gone: its savepoint was rolled back, the transaction goes on. The
          // row is keyed on the record: a replay of a committed batch adds none.
          const auto added = tx.exec_prepared(kDeadLetter, w.stream, pg::to_storable_text(r->id),
                                              pg::to_storable_text(st.message()),
                                              pg::to_storable_text(envelope_of(*r)), pg::dead_letter_key(*r))
                                 .affected_rows();
          if (added > 0) {
            spdlog::warn("{}dead-lettered record {} into {}.dead_letter: {}", context(w.stream), r->id,
                         opts_.schema, st.message());
          } else {
            spdlog::info("{}record {} refused again, already in {}.dead_letter (a replayed batch)", context(w.stream),
                         r->id, opts_.schema);
          }
          ++refused;
        }
      }
      spdlog::warn("{}batch {}: {} of {} record(s) refused by Postgres and dead-lettered", context(w.stream),
                   batch.sequence, refused, recs.size());
    }
    const auto batches = tx.exec_prepared1(kUpsertCursor, w.stream, batch.cursor.dump())[0].as<int64_t>();
    tx.commit();
    return nlohmann::json{{"batches", batches}};
  } catch (const std::exception& e) {
    return pg::status_from_exception(e, context(w.stream));
  }
}

Result<nlohmann::json> PostgresSink::write(const Batch& batch) {
  StreamWriter* w = writer_for(batch.stream);
  if (w == nullptr) return Status::fatal(context(batch.stream) + "stream was not recovered");
  if (!w->conn) {
    bool busy = false;
    if (auto st = attach(*w, busy); !st.is_ok()) return st;
    spdlog::info("{}reconnected to Postgres, writer lock held", context(batch.stream));
  }
  auto r = write_batch(*w, batch, false);
  if (!r.is_ok() && r.status().error_class() == ErrorClass::kDataError) {
    spdlog::warn("{}batch {} refused ({}); writing it again record by record", context(batch.stream), batch.sequence,
                 r.status().message());
    r = write_batch(*w, batch, true);
    if (!r.is_ok() && r.status().error_class() == ErrorClass::kDataError) {
      // Every record was isolated: what failed is the cursor or the dead-letter row.
      r = Status::fatal(r.status().message() + " (while writing the cursor or a dead letter)");
    }
  }
  if (!r.is_ok() && r.status().is_retryable()) w->drop();
  return r;
}

Status PostgresSink::health() {
  std::lock_guard lock(health_mu_);
  // The status thread may ask after close(): answer without opening a connection again.
  if (closed_) return Status::retryable(context("") + "closed");
  if (!health_conn_) {
    auto conn = pg::connect(opts_.dsn, "ldexport health " + opts_.name, context(""));
    if (!conn.is_ok()) return conn.status();
    health_conn_ = std::move(conn.value());
  }
  try {
    pqxx::nontransaction tx(*health_conn_);
    tx.exec("SELECT 1");
    return Status::ok();
  } catch (const std::exception& e) {
    health_conn_.reset();
    return pg::status_from_exception(e, context(""));
  }
}

Status PostgresSink::close() {
  {
    std::lock_guard lock(health_mu_);
    closed_ = true;
    health_conn_.reset();
  }
  std::lock_guard lock(mu_);
  for (auto& [stream, w] : writers_) {
    w->drop();
    InProcessClaims::instance().release(w->lock_key, opts_.name);
  }
  writers_.clear();
  return Status::ok();
}

Result<std::unique_ptr<Sink>> PostgresSinkConfig::build(StopSignal& stop) const {
  PostgresSinkOptions o;
  o.name = name;
  o.dsn = dsn;
  o.schema = schema;
  o.standby_retry = standby_retry;
  return std::unique_ptr<Sink>(std::make_unique<PostgresSink>(std::move(o), stop));
}

std::unique_ptr<SinkConfig> parse_postgres_sink_config(ConfigNode& node) {
  auto c = std::make_unique<PostgresSinkConfig>();
  c->dsn = pg::parse_dsn_keys(node);
  c->schema = node.str("schema", c->schema);
  if (auto st = pg::validate_identifier(c->schema, "schema"); !st.is_ok()) node.error_at("schema", st.message());
  c->standby_retry = node.duration("standby_retry", c->standby_retry);
  if (c->standby_retry.count() <= 0) node.error_at("standby_retry", "must be a positive duration");
  return c;
}

}  // namespace ldx
