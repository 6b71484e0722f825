// Postgres checkpoint store (`checkpoint: { type: postgres }`), for deployments
// without a volume: every stream's checkpoint (source cursor + sink positions) is one
// row of <schema>.ldexport_checkpoints, replaced by a single INSERT ... ON CONFLICT
// statement, so a crash leaves either the previous or the new row. Uses the same
// `dsn` / `dsn_file` / `schema` keys and migrations as the Postgres sink.
//
// One connection, shared by the stream threads under a mutex; a lost connection is
// retryable (the pipeline retries the commit, holding the cursor) and re-opened on the
// next call. The store elects no writer: run a Postgres sink (whose per-stream lock
// makes a second daemon stand by) when two daemons share one database.
#pragma once

#include <pqxx/connection>

#include <memory>
#include <mutex>

#include "config/config.h"
#include "core/interfaces.h"
#include "sinks/postgres/pg_connection.h"

namespace ldx {

struct PostgresCheckpointConfig final : CheckpointConfig {
  pg::DsnSource dsn;
  std::string schema = "launchdarkly";
  [[nodiscard]] Result<std::unique_ptr<CheckpointStore>> build() const override;
};
std::unique_ptr<CheckpointConfig> parse_postgres_checkpoint_config(ConfigNode& node);

class PostgresCheckpointStore final : public CheckpointStore {
 public:
  PostgresCheckpointStore(pg::DsnSource dsn, std::string schema);
  ~PostgresCheckpointStore() override;
  Status open() override;
  Result<std::optional<Checkpoint>> load(const std::string& stream) override;
  Status commit(const std::string& stream, const Checkpoint& cp) override;
  Result<std::vector<std::string>> list_streams() override;
  Status reset(const std::string& stream) override;

 private:
  Status ensure_connection();  // caller holds mu_
  Status failed(const std::exception& e, const std::string& what);  // caller holds mu_

  pg::DsnSource dsn_;
  std::string schema_;
  std::string table_;  // quoted, schema-qualified
  std::mutex mu_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace ldx
