// Postgres sink (issue 5): one table per stream in a schema the daemon creates and
// migrates itself (pg_migrations.h, pg_stream_tables.h).
//
// Each batch is one transaction on the stream's own connection: the rows, then the
// batch's source cursor upserted into <schema>.ldexport_cursors, then COMMIT. Entity
// streams COPY into a session temp table and merge with INSERT ... ON CONFLICT; the
// append-only audit_log COPYs the ids not yet stored straight into its table (safe
// under the writer lock below; see append_fresh). A replay after a restart adds no
// row, so the tables are exactly-once whatever the other sinks do. The position reported for the checkpoint is {"batches": N}, the count of
// committed batches kept beside the cursor; on recover() a database holding fewer
// batches than the checkpoint says was restored or truncated, which is fatal rather
// than a silent gap.
//
// Faults: a lost connection or a restarting server is retryable (the connection is
// dropped and re-opened, with its lock, on the next write); a record Postgres refuses
// (data exception, constraint) fails its batch, which is then written again record by
// record, each in a savepoint, and the refused ones go to <schema>.dead_letter with the
// reason. The sink cannot reach the daemon's dead-letter output, so the table is it.
//
// One writer per stream: recover() takes pg_try_advisory_lock(writer_lock_key(schema,
// stream)) on the stream's connection. While another daemon holds it, recover() stands
// by, retrying every `standby_retry` until the lock is free or stop is requested; the
// lock dies with its holder's session, so a standby takes over when the writer dies.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config/config.h"
#include "core/interfaces.h"
#include "core/stop_signal.h"
#include "sinks/postgres/pg_connection.h"

namespace ldx {

struct PostgresSinkOptions {
  std::string name;
  pg::DsnSource dsn;
  std::string schema = "launchdarkly";
  Millis standby_retry{5'000};
};

struct PostgresSinkConfig final : SinkConfig {
  pg::DsnSource dsn;
  std::string schema = "launchdarkly";
  Millis standby_retry{5'000};
  [[nodiscard]] Result<std::unique_ptr<Sink>> build(StopSignal& stop) const override;
};
std::unique_ptr<SinkConfig> parse_postgres_sink_config(ConfigNode& node);

class PostgresSink final : public Sink {
 public:
  PostgresSink(PostgresSinkOptions opts, StopSignal& stop);
  ~PostgresSink() override;
  PostgresSink(const PostgresSink&) = delete;
  PostgresSink& operator=(const PostgresSink&) = delete;

  [[nodiscard]] const std::string& name() const override { return opts_.name; }
  Status open() override;
  Status recover(const std::string& stream, const nlohmann::json& committed_position) override;
  Result<nlohmann::json> write(const Batch& batch) override;
  Status close() override;
  // For /readyz: SELECT 1 on a connection of its own (never a writer's, which belongs
  // to its stream thread). A standby daemon is healthy: the database is reachable.
  // After close() it is unhealthy ("closed") and opens no connection.
  Status health() override;

 private:
  struct StreamWriter;
  Status attach(StreamWriter& w, bool& lock_busy);
  Status ensure_tables(StreamWriter& w);
  Status check_position(StreamWriter& w, const nlohmann::json& committed_position);
  Result<nlohmann::json> write_batch(StreamWriter& w, const Batch& batch, bool isolate);
  StreamWriter* writer_for(const std::string& stream);
  [[nodiscard]] std::string context(const std::string& stream) const;

  PostgresSinkOptions opts_;
  StopSignal& stop_;
  std::mutex mu_;  // guards writers_; each StreamWriter is used by its stream's thread only
  std::map<std::string, std::unique_ptr<StreamWriter>> writers_;
  std::mutex health_mu_;  // guards health_conn_ and closed_
  std::unique_ptr<pqxx::connection> health_conn_;
  bool closed_ = false;  // after close(), health() reports so instead of reconnecting
};

}  // namespace ldx
