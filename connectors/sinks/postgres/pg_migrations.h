// The schema's shared objects, created and upgraded by the daemon itself. Every change
// to them is a numbered migration recorded in <schema>.ldexport_migrations; a daemon
// applies the ones it is missing (under a transaction-scoped advisory lock, so two
// daemons starting together do not race) and refuses a schema migrated by a newer
// ldexport, instead of writing rows that newer layout does not expect.
//
// Per-stream tables are created lazily (pg_stream_tables.h) and registered in
// <schema>.ldexport_streams with their layout version, so a later migration knows
// which tables to alter.
#pragma once

#include <pqxx/connection>

#include <string>
#include <vector>

#include "core/status.h"

namespace ldx::pg {

struct Migration {
  int version;
  const char* description;
  // SQL statements; `schema_q` is the already-quoted schema identifier.
  std::vector<std::string> (*statements)(const std::string& schema_q);
};

const std::vector<Migration>& migrations();
int latest_schema_version();

// The decision, pure: `found` is max(version) in the schema (0 = fresh schema).
Status check_schema_version(int found, int known, const std::string& schema);

// Creates the schema if missing and applies every missing migration, in one
// transaction. Returns the schema version now in place.
Result<int> migrate(pqxx::connection& conn, const std::string& schema, const std::string& context);

}  // namespace ldx::pg
