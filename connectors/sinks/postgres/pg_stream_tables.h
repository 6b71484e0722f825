// Per-stream tables and every SQL statement a stream's writer uses, built once from
// validated, quoted identifiers (values are always $n parameters).
//
// Layouts (one table per stream, typed envelope columns plus `data jsonb`):
//   append-only (audit_log)  <stream>: one row per record id; a replay adds nothing.
//                            The writer holds the stream's lock, so it asks which ids
//                            are stored and COPYs only the others straight into the
//                            table (COPY's bulk insert: this is the throughput path);
//                            record-by-record retries go through staging and
//                            INSERT ... ON CONFLICT (id) DO NOTHING.
//   entity (any other)       <stream>: the current state, one row per id; a delete
//                            sets deleted_at and keeps the row.
//                            <stream>_history: one row per change (revision 1, 2,
//                            ...), valid over [valid_from, valid_to); the open row has
//                            valid_to NULL. A replayed record equal to what is stored
//                            adds nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ldx::pg {

enum class TableLayout { kAppendOnly, kEntity };
TableLayout layout_for_stream(std::string_view stream);
const char* layout_name(TableLayout layout);
inline constexpr int kStreamLayoutVersion = 1;

// Stream names become table and index names ("<stream>_history_valid_from_idx"), so
// they are limited to 40 bytes to keep every derived name within Postgres' 63.
inline constexpr size_t kMaxStreamNameBytes = 40;
Status validate_stream_name(std::string_view stream);

// The writer's session-local staging tables (COPY targets), emptied at every COMMIT.
// `data` is staged as text and parsed to jsonb once, by the INSERT that keeps it.
inline constexpr const char* kStageTable = "ldx_stage";
inline constexpr const char* kPlanTable = "ldx_plan";
std::vector<std::string> staging_ddl();
// COPY column lists of the staging tables.
const std::vector<std::string>& stage_columns();
const std::vector<std::string>& plan_columns();

struct StreamSql {
  std::string table;    // quoted, schema-qualified
  std::string history;  // entity layout only
  std::vector<std::string> create_tables;
  std::string read_registration;  // $1 stream -> layout, layout_version
  std::string register_stream;    // $1 stream, $2 layout, $3 layout_version
  // append-only
  std::string select_stored_ids;  // $1 text[] of ids -> those already stored
  std::string insert_append;      // staging -> table, ON CONFLICT (id) DO NOTHING
  // entity
  std::string verdicts;
  std::string close_previous;
  std::string insert_history;
  std::string upsert_current;
  // both
  std::string upsert_cursor;       // $1 stream, $2 cursor json text -> batches
  std::string read_cursor;         // $1 stream -> batches
  // $1 stream, $2 record id, $3 reason, $4 envelope, $5 record key (dead_letter_key):
  // the same refused record again (a replayed batch) adds no row.
  std::string insert_dead_letter;
};

StreamSql build_stream_sql(const std::string& schema, const std::string& stream, TableLayout layout);

}  // namespace ldx::pg
