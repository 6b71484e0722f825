// Pure parts of the Postgres sink: how a record becomes a staging row, how a batch of
// entity records becomes history changes, and how a refused record is made storable
// as text in the dead-letter table. No I/O here; unit-tested on their own.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/record.h"

namespace ldx::pg {

// One COPY row of the staging table (columns of stage_columns()); nullptr = SQL NULL.
// Points into the record and into its own number buffers: keep both alive while the
// row is streamed.
class StageRow {
 public:
  StageRow(const Record& r, int64_t seq);
  StageRow(const StageRow&) = delete;
  StageRow& operator=(const StageRow&) = delete;
  [[nodiscard]] const std::array<const char*, 12>& fields() const { return fields_; }

 private:
  std::array<std::array<char, 24>, 4> numbers_{};
  std::array<const char*, 12> fields_{};
};

// One COPY row straight into an append-only stream table (direct_columns()).
class TableRow {
 public:
  explicit TableRow(const Record& r);
  TableRow(const TableRow&) = delete;
  TableRow& operator=(const TableRow&) = delete;
  [[nodiscard]] const std::array<const char*, 11>& fields() const { return fields_; }

 private:
  std::array<char, 24> version_{};
  std::string occurred_;
  std::string observed_;
  std::array<const char*, 11> fields_{};
};
const std::vector<std::string>& direct_columns();

// A Postgres text[] literal ({"a","b\"c"}), bound as one parameter ($1::text[]).
std::string text_array_literal(const std::vector<const Record*>& records);

// The records to append: the first of each id, minus the ids already stored.
std::vector<const Record*> fresh_records(const std::vector<const Record*>& records,
                                         const std::vector<std::string>& stored_ids);

// What the database says about one staged entity record (one row of the verdicts query).
struct EntityVerdict {
  std::optional<int64_t> current_revision;        // the id's stored revision, if any
  std::optional<int64_t> current_valid_from_ms;   // when that revision began
  bool same_as_current = false;                   // op, version and data equal the latest stored change
  bool seen_in_history = false;                   // a replay of some stored change (see below)
};

// A history row to add: records[index] becomes revision `revision`, valid over
// [valid_from_ms, valid_to_ms) (open-ended when valid_to_ms is empty).
struct PlannedChange {
  size_t index = 0;
  int64_t revision = 0;
  int64_t valid_from_ms = 0;
  std::optional<int64_t> valid_to_ms;
};

// Decides, in batch order, which entity records are changes:
//  - a record equal to the id's previous state (the stored latest change, or the
//    previous record of the id in this batch) is a replay and adds nothing;
//  - a record equal to an older stored (or earlier in-batch) change of the id is a
//    replay and adds nothing: equal op, version and data, and when the record has no
//    version, equal occurred_at too (an unversioned entity may legitimately return to
//    an earlier state; its change time tells the two apart; without either, only the
//    previous state can be compared);
//  - anything else is the id's next revision. valid_from is occurred_at (observed_at
//    when the source has none), never earlier than the previous change's valid_from,
//    so intervals of one id never overlap; the previous change's valid_to is set to it.
std::vector<PlannedChange> plan_entity_changes(const std::vector<const Record*>& records,
                                               const std::vector<EntityVerdict>& verdicts);

// Text Postgres accepts in a text column: NUL bytes and invalid UTF-8 sequences become
// U+FFFD. The dead-letter table stores refused records this way.
std::string to_storable_text(std::string_view bytes);

// The key of a refused record's row in <schema>.dead_letter (unique per stream): SHA-256
// of what makes it this record (op, id, version, data), not of when it was fetched
// (observed_at), so the same record refused again on a replay maps to the same row.
std::string dead_letter_key(const Record& r);

}  // namespace ldx::pg
