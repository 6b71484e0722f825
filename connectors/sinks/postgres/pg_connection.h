// Where the connection string comes from (`dsn`, with ${VAR} interpolation done by the
// config loader, or `dsn_file`, re-read at every connect so a rotated Kubernetes
// secret is picked up), and how a connection is opened. The DSN is never logged: it
// may hold a password.
#pragma once

#include <pqxx/connection>

#include <memory>
#include <string>

#include "config/config_node.h"
#include "core/status.h"

namespace ldx::pg {

struct DsnSource {
  std::string dsn;
  std::string dsn_file;
  [[nodiscard]] Result<std::string> resolve() const;
};

// Reads `dsn` / `dsn_file` from a sink or checkpoint section; exactly one must be set.
DsnSource parse_dsn_keys(ConfigNode& node);

// Opens a connection and names it in pg_stat_activity (application_name). Failures
// are classified: a wrong password or unknown database is fatal, a refused or lost
// connection is retryable.
Result<std::unique_ptr<pqxx::connection>> connect(const DsnSource& source, const std::string& application_name,
                                                   const std::string& context);

// "user@host:port/dbname" of an open connection, for logs (no password).
std::string describe(pqxx::connection& conn);

}  // namespace ldx::pg
