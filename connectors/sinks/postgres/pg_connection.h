// Where the connection string comes from (`dsn`, with ${VAR} interpolation done by the
// config loader, or `dsn_file`, re-read at every connect so a rotated Kubernetes
// secret is picked up), and how a connection is opened. The DSN is never logged: it
// may hold a password.
#pragma once

#include <pqxx/connection>

#include <memory>
#include <string>
#include <vector>

#include "config/config_node.h"
#include "core/status.h"

namespace ldx::pg {

struct DsnSource {
  std::string dsn;
  std::string dsn_file;
  [[nodiscard]] Result<std::string> resolve() const;
};

// Reads `dsn` / `dsn_file` from a sink or checkpoint section; exactly one must be set.
// A malformed DSN is a config error (validate_dsn), so `ldexport validate` reports it.
DsnSource parse_dsn_keys(ConfigNode& node);

// What of a DSN must never be shown: its password as written (percent-encoded in a URI,
// quoted in key=value form), percent-decoded, and the whole DSN; with `pieces`, also the
// pieces of the password libpq's syntax errors may quote on their own (split at URI
// delimiters and spaces). Works on a malformed DSN too.
std::vector<std::string> dsn_secrets(const std::string& dsn, bool pieces = true);

// Checks the DSN's syntax with libpq's own parser (PQconninfoParse). A malformed DSN is
// a fatal config error whose message names the wrong part (the password, the host, a
// query parameter, the option near which a key=value string broke) but not its value.
// `what` names the DSN's origin in the message ("dsn", "the dsn in dsn_file '...'").
Status validate_dsn(const std::string& dsn, const std::string& what = "dsn");

// Opens a connection and names it in pg_stat_activity (application_name). Every
// connection of the sink, its health check and the checkpoint store opens here: the DSN
// is validated first (validate_dsn), its secrets (whole, not pieces: a piece like "closed"
// must not garble every later message) are registered (remember_secrets) and any error
// text is scrubbed of them. Failures are classified: a malformed DSN, a wrong
// password or unknown database is fatal, a refused or lost connection is retryable.
Result<std::unique_ptr<pqxx::connection>> connect(const DsnSource& source, const std::string& application_name,
                                                   const std::string& context);

// "user@host:port/dbname" of an open connection, for logs (no password).
std::string describe(pqxx::connection& conn);

}  // namespace ldx::pg
