#include "sinks/postgres/pg_migrations.h"

#include <pqxx/transaction>

#include <spdlog/spdlog.h>

#include "ldexport_version.h"
#include "sinks/postgres/pg_errors.h"
#include "sinks/postgres/pg_identifiers.h"

namespace ldx::pg {

namespace {

std::vector<std::string> migration_1(const std::string& s) {
  return {
      // Which per-stream tables exist, in which layout, so later migrations can alter them.
      "CREATE TABLE " + s + ".ldexport_streams ("
      " stream text PRIMARY KEY,"
      " layout text NOT NULL,"
      " layout_version integer NOT NULL,"
      " created_at timestamptz NOT NULL DEFAULT now())",
      // The postgres sink's own cursor per stream, written in the same transaction as
      // the rows, so this schema is exactly-once whatever other sinks do.
      "CREATE TABLE " + s + ".ldexport_cursors ("
      " stream text PRIMARY KEY,"
      " cursor jsonb,"
      " batches bigint NOT NULL,"
      " updated_at timestamptz NOT NULL)",
      // Records Postgres refused (invalid JSON, NUL escapes in jsonb, out-of-range timestamps).
      "CREATE TABLE " + s + ".dead_letter ("
      " seq bigserial PRIMARY KEY,"
      " stream text NOT NULL,"
      " record_id text,"
      " reason text NOT NULL,"
      " envelope text NOT NULL,"
      " failed_at timestamptz NOT NULL DEFAULT now())",
      "CREATE INDEX dead_letter_stream_idx ON " + s + ".dead_letter (stream, failed_at)",
      // checkpoint: { type: postgres }
      "CREATE TABLE " + s + ".ldexport_checkpoints ("
      " stream text PRIMARY KEY,"
      " format integer NOT NULL,"
      " source_cursor jsonb,"
      " sink_positions jsonb NOT NULL,"
      " committed_at timestamptz NOT NULL)",
  };
}

// A dead letter is keyed on what was refused, so a batch replayed after its COMMIT (the
// checkpoint was lost: kill -9, another sink failed) adds no second row. Rows written
// before this migration keep a null key and stay as they are.
std::vector<std::string> migration_2(const std::string& s) {
  return {
      "ALTER TABLE " + s + ".dead_letter ADD COLUMN record_key text",
      "CREATE UNIQUE INDEX dead_letter_record_key_idx ON " + s + ".dead_letter (stream, record_key)",
  };
}

constexpr const char* kLockName = "#migrations";  // '#' cannot occur in a stream name

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kAll{
      {1, "stream registry, sink cursors, dead letters, checkpoints", &migration_1},
      {2, "dead letters keyed on the refused record, so a replay adds none", &migration_2},
  };
  return kAll;
}

int latest_schema_version() { return migrations().back().version; }

Status check_schema_version(int found, int known, const std::string& schema) {
  if (found > known) {
    return Status::fatal("schema '" + schema + "' is at version " + std::to_string(found) +
                         ", written by a newer ldexport; this ldexport " + LDEXPORT_VERSION + " knows versions up to " +
                         std::to_string(known) + ". Upgrade ldexport, or point it at another schema.");
  }
  return Status::ok();
}

Result<int> migrate(pqxx::connection& conn, const std::string& schema, const std::string& context) {
  const std::string s = quote_identifier(schema);
  try {
    pqxx::work tx(conn);
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", writer_lock_key(schema, kLockName));
    // CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege even when the schema
    // exists; look first so a role that may only use an existing schema works.
    if (tx.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema).empty()) {
      tx.exec("CREATE SCHEMA " + s);
    }
    tx.exec("CREATE TABLE IF NOT EXISTS " + s +
            ".ldexport_migrations ("
            " version integer PRIMARY KEY,"
            " description text NOT NULL,"
            " applied_by text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())");
    const int found = tx.exec("SELECT coalesce(max(version), 0) FROM " + s + ".ldexport_migrations")[0][0].as<int>();
    if (auto st = check_schema_version(found, latest_schema_version(), schema); !st.is_ok()) {
      return st.with_context(context);
    }
    for (const auto& m : migrations()) {
      if (m.version <= found) continue;
      for (const auto& sql : m.statements(s)) tx.exec(sql);
      tx.exec_params("INSERT INTO " + s + ".ldexport_migrations (version, description, applied_by) VALUES ($1, $2, $3)",
                     m.version, std::string(m.description), std::string("ldexport ") + LDEXPORT_VERSION);
      spdlog::info("{}schema '{}' migrated to version {}: {}", context, schema, m.version, m.description);
    }
    tx.commit();
    return latest_schema_version();
  } catch (const std::exception& e) {
    return status_from_exception(e, context + "migrating schema '" + schema + "': ");
  }
}

}  // namespace ldx::pg
