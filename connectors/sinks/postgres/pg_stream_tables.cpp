#include "sinks/postgres/pg_stream_tables.h"

#include "sinks/postgres/pg_identifiers.h"

namespace ldx::pg {

namespace {
// Epoch milliseconds (bigint in staging) to timestamptz, exactly (no float rounding).
std::string ts(const std::string& ms_expr) {
  return "(timestamptz 'epoch' + (" + ms_expr + ") * interval '1 millisecond')";
}
}  // namespace

TableLayout layout_for_stream(std::string_view stream) {
  return stream == "audit_log" ? TableLayout::kAppendOnly : TableLayout::kEntity;
}

const char* layout_name(TableLayout layout) { return layout == TableLayout::kAppendOnly ? "append-only" : "entity"; }

Status validate_stream_name(std::string_view stream) {
  if (auto st = validate_identifier(stream, "stream name"); !st.is_ok()) return st;
  if (stream.size() > kMaxStreamNameBytes) {
    return Status::fatal("stream name '" + std::string(stream) + "' is longer than " +
                         std::to_string(kMaxStreamNameBytes) + " bytes, too long for its table and index names");
  }
  return Status::ok();
}

std::vector<std::string> staging_ddl() {
  return {
      std::string("CREATE TEMP TABLE IF NOT EXISTS ") + kStageTable +
          " (seq bigint NOT NULL, id text, op text, project text, environment text, kind text, version bigint,"
          " occurred_ms bigint, observed_ms bigint, data text, prev_hash text, hash text) ON COMMIT DELETE ROWS",
      std::string("CREATE TEMP TABLE IF NOT EXISTS ") + kPlanTable +
          " (seq bigint NOT NULL, revision bigint NOT NULL, valid_from_ms bigint NOT NULL, valid_to_ms bigint)"
          " ON COMMIT DELETE ROWS",
  };
}

const std::vector<std::string>& stage_columns() {
  static const std::vector<std::string> kCols{"seq",     "id",          "op",          "project",
                                              "environment", "kind",  "version",     "occurred_ms",
                                              "observed_ms", "data",  "prev_hash",   "hash"};
  return kCols;
}

const std::vector<std::string>& plan_columns() {
  static const std::vector<std::string> kCols{"seq", "revision", "valid_from_ms", "valid_to_ms"};
  return kCols;
}

StreamSql build_stream_sql(const std::string& schema, const std::string& stream, TableLayout layout) {
  StreamSql q;
  const std::string s = quote_identifier(schema);
  q.table = qualified(schema, stream);
  auto index = [&](const std::string& suffix, const std::string& table, const std::string& cols) {
    return "CREATE INDEX IF NOT EXISTS " + quote_identifier(stream + suffix) + " ON " + table + " (" + cols + ")";
  };
  const std::string envelope_cols =
      " id text NOT NULL,"
      " op text NOT NULL CHECK (op IN ('upsert', 'delete')),"
      " project text,"
      " environment text,"
      " kind text,"
      " version bigint,"
      " occurred_at timestamptz,"
      " observed_at timestamptz NOT NULL,";

  if (layout == TableLayout::kAppendOnly) {
    q.create_tables = {
        "CREATE TABLE IF NOT EXISTS " + q.table + " (" + envelope_cols +
            " data jsonb,"
            " exported_at timestamptz NOT NULL DEFAULT now(),"
            " prev_hash text,"
            " hash text,"
            " PRIMARY KEY (id))",
        // The hash chain (README "Tamper evidence"); tables created before it get the columns.
        "ALTER TABLE " + q.table + " ADD COLUMN IF NOT EXISTS prev_hash text, ADD COLUMN IF NOT EXISTS hash text",
        index("_project_env_idx", q.table, "project, environment"),
        index("_occurred_at_idx", q.table, "occurred_at"),
    };
    q.select_stored_ids = "SELECT id FROM " + q.table + " WHERE id = ANY($1::text[])";
    q.insert_append = "INSERT INTO " + q.table +
                      " (id, op, project, environment, kind, version, occurred_at, observed_at, data, prev_hash, hash)"
                      " SELECT id, op, project, environment, kind, version, " +
                      ts("occurred_ms") + ", " + ts("observed_ms") + ", data::jsonb, prev_hash, hash FROM " + kStageTable +
                      " ORDER BY seq ON CONFLICT (id) DO NOTHING";
  } else {
    q.history = qualified(schema, stream + "_history");
    q.create_tables = {
        "CREATE TABLE IF NOT EXISTS " + q.table + " (" + envelope_cols +
            " revision bigint NOT NULL,"
            " valid_from timestamptz NOT NULL,"
            " deleted_at timestamptz,"
            " data jsonb,"
            " exported_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (id))",
        index("_project_env_idx", q.table, "project, environment"),
        index("_occurred_at_idx", q.table, "occurred_at"),
        "CREATE TABLE IF NOT EXISTS " + q.history + " (" + envelope_cols +
            " revision bigint NOT NULL,"
            " valid_from timestamptz NOT NULL,"
            " valid_to timestamptz,"
            " data jsonb,"
            " exported_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (id, revision))",
        index("_history_version_idx", q.history, "id, version"),
        index("_history_valid_from_idx", q.history, "valid_from"),
        index("_history_project_env_idx", q.history, "project, environment"),
    };
    // Per staged record: the stored current revision and when it began, whether the
    // record equals the latest stored change (op, version, data as jsonb), and whether
    // it equals an older stored change (a replay): same op, version and data, and for
    // an unversioned record also the same occurred_at (see plan_entity_changes).
    q.verdicts = std::string("SELECT s.seq, c.revision, (extract(epoch FROM l.valid_from) * 1000)::bigint,") +
                 " coalesce(l.op = s.op AND l.version IS NOT DISTINCT FROM s.version"
                 " AND l.data IS NOT DISTINCT FROM s.data::jsonb, false),"
                 " ((s.version IS NOT NULL OR s.occurred_ms IS NOT NULL) AND EXISTS (SELECT 1 FROM " +
                 q.history +
                 " h WHERE h.id = s.id AND h.op = s.op AND h.version IS NOT DISTINCT FROM s.version"
                 " AND h.data IS NOT DISTINCT FROM s.data::jsonb AND (s.version IS NOT NULL OR h.occurred_at = " +
                 ts("s.occurred_ms") + ")))"
                 " FROM " +
                 kStageTable + " s LEFT JOIN " + q.table + " c ON c.id = s.id LEFT JOIN " + q.history +
                 " l ON l.id = c.id AND l.revision = c.revision ORDER BY s.seq";
    // The change before the first new one of an id is the stored open row: close it.
    q.close_previous = "UPDATE " + q.history + " h SET valid_to = " + ts("p.valid_from_ms") + " FROM " + kPlanTable +
                       " p JOIN " + kStageTable +
                       " s USING (seq) WHERE h.id = s.id AND h.revision = p.revision - 1 AND h.valid_to IS NULL";
    q.insert_history = "INSERT INTO " + q.history +
                       " (id, op, project, environment, kind, version, occurred_at, observed_at, revision,"
                       " valid_from, valid_to, data)"
                       " SELECT s.id, s.op, s.project, s.environment, s.kind, s.version, " +
                       ts("s.occurred_ms") + ", " + ts("s.observed_ms") + ", p.revision, " + ts("p.valid_from_ms") +
                       ", " + ts("p.valid_to_ms") + ", s.data::jsonb FROM " + kStageTable + " s JOIN " + kPlanTable +
                       " p USING (seq) ON CONFLICT (id, revision) DO NOTHING";
    // The last change of each id becomes the current row. A delete keeps the last known
    // state (a delete record usually carries no data) and sets deleted_at.
    auto keep_on_delete = [](const std::string& col) {
      return col + " = CASE WHEN excluded.op = 'delete' THEN coalesce(excluded." + col + ", c." + col +
             ") ELSE excluded." + col + " END";
    };
    q.upsert_current = "INSERT INTO " + q.table +
                       " AS c (id, op, project, environment, kind, version, occurred_at, observed_at, revision,"
                       " valid_from, deleted_at, data)"
                       " SELECT DISTINCT ON (s.id) s.id, s.op, s.project, s.environment, s.kind, s.version, " +
                       ts("s.occurred_ms") + ", " + ts("s.observed_ms") + ", p.revision, " + ts("p.valid_from_ms") +
                       ", CASE WHEN s.op = 'delete' THEN " + ts("p.valid_from_ms") + " END, s.data::jsonb FROM " +
                       kStageTable + " s JOIN " + kPlanTable +
                       " p USING (seq) ORDER BY s.id, s.seq DESC"
                       " ON CONFLICT (id) DO UPDATE SET op = excluded.op, " +
                       keep_on_delete("project") + ", " + keep_on_delete("environment") + ", " +
                       keep_on_delete("kind") + ", " + keep_on_delete("version") + ", " +
                       keep_on_delete("occurred_at") + ", " + keep_on_delete("data") +
                       ", observed_at = excluded.observed_at, revision = excluded.revision,"
                       " valid_from = excluded.valid_from, deleted_at = excluded.deleted_at, exported_at = now()";
  }
  q.read_registration = "SELECT layout, layout_version FROM " + s + ".ldexport_streams WHERE stream = $1";
  q.register_stream = "INSERT INTO " + s +
                      ".ldexport_streams (stream, layout, layout_version) VALUES ($1, $2, $3)"
                      " ON CONFLICT (stream) DO NOTHING";
  q.upsert_cursor = "INSERT INTO " + s +
                    ".ldexport_cursors AS c (stream, cursor, batches, updated_at) VALUES ($1, $2::jsonb, 1, now())"
                    " ON CONFLICT (stream) DO UPDATE SET cursor = excluded.cursor, batches = c.batches + 1,"
                    " updated_at = now() RETURNING batches";
  q.read_cursor = "SELECT batches FROM " + s + ".ldexport_cursors WHERE stream = $1";
  q.insert_dead_letter = "INSERT INTO " + s +
                         ".dead_letter (stream, record_id, reason, envelope, record_key) VALUES ($1, $2, $3, $4, $5)"
                         " ON CONFLICT (stream, record_key) DO NOTHING";
  return q;
}

}  // namespace ldx::pg
