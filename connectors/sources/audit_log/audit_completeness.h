// Completeness check of the audit log (README "Completeness check").
//
// Dates are cut into fixed UTC windows of `completeness_window` (e.g. 1h). A window is
// *closed* once the export will never read it again: it is entirely older than the
// newest exported entry minus `lookback` (the next pass starts there) minus `settle`
// (extra time for entries LaunchDarkly lists late), and the pass has walked below it.
// Each closed window is re-listed once; the number of entries LaunchDarkly lists is
// compared with the number exported; a mismatch is a warning naming the window, and the
// entries missing from the export are fetched and exported then (the re-fetch).
//
// To know *which* entries are missing, the cursor keeps the ids exported in windows not
// yet checked; they are dropped once their window is checked, so the cursor holds about
// one window plus lookback and settle worth of ids. Entries dated before `since` (when
// the check was switched on) are not counted.
//
// An entry the pass dead-lettered (it cannot be exported: no canonical form, a number
// beyond 64 bits, ...) is kept there too, as accounted for: it is not missing, it is in
// the dead-letter output. Counted as missing, every check re-fetched and dead-lettered it
// again, and warned about a window that lost nothing. This needs no memory of its own:
// the pass dead-letters only entries its cursor finds new, as it exports them, and a
// window's ids are dropped once it is checked, so that one set stays bounded.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "sources/audit_log/audit_cursor.h"

namespace ldx {

struct CompletenessState {
  int64_t window_ms = 0;   // the grid the ids below are keyed on
  int64_t since = 0;       // entries dated from here on are counted
  int64_t checked_to = 0;  // every date in [since, checked_to) is checked
  // [checked_from, checked_limit) is checked too: the checks run while a pass window
  // walks newest-first, checked_limit being that window's closed limit. Both are set
  // together, and folded into checked_to once the gap below checked_from is checked (the
  // check due at the window's end). The limit is kept rather than recomputed from the
  // cursor: if that end check is cut short, the next window raises `high`, and a limit
  // recomputed then would mark windows checked that were never listed again.
  std::optional<int64_t> checked_from;
  std::optional<int64_t> checked_limit;
  // window start -> ids exported (or dead-lettered), not yet checked
  std::map<int64_t, std::set<std::string>> exported;

  [[nodiscard]] nlohmann::json to_json() const;
  static Result<CompletenessState> from_json(const nlohmann::json& j);
};

// [from, to): the dates one check re-lists.
struct CheckRange {
  int64_t from = 0;
  int64_t to = 0;
};

class CompletenessLogic {
 public:
  CompletenessLogic(int64_t window_ms, int64_t lookback_ms, int64_t settle_ms, int64_t start_ms)
      : window_ms_(window_ms), lookback_ms_(lookback_ms), settle_ms_(settle_ms), start_ms_(start_ms) {}

  [[nodiscard]] int64_t window_ms() const { return window_ms_; }
  [[nodiscard]] int64_t window_start(int64_t date) const;

  // State for a cursor that has none: from `start` on a first run; otherwise from just
  // after what the cursor already exported (those ids were never counted).
  [[nodiscard]] CompletenessState init(const AuditCursor& c) const;
  // State read from a committed cursor `c`, made whole: a cursor written before
  // checked_limit existed gets the limit its checks were computed against (see .cpp).
  void loaded(CompletenessState& s, const AuditCursor& c) const;

  // An entry exported, or dead-lettered by the pass: accounted for either way.
  void record_exported(CompletenessState& s, const std::string& id, int64_t date) const;

  // After a page of a pass window that is still open: the range that page made
  // checkable, if any (first the end check of an earlier window, if it was cut short).
  [[nodiscard]] std::optional<CheckRange> due_in_window(const CompletenessState& s, const AuditCursor& c) const;
  // After the pass window completed (c.window is reset, c.high updated).
  [[nodiscard]] std::optional<CheckRange> due_at_window_end(const CompletenessState& s, const AuditCursor& c) const;
  // Records that `r` (from one of the two above) was checked (and repaired): its ids are
  // dropped and the checked region grows by exactly `r`.
  void mark_checked(CompletenessState& s, CheckRange r) const;

 private:
  // The newest date the export will not read again, on the window grid.
  [[nodiscard]] int64_t closed_limit(int64_t top) const;
  // closed_limit of the newest date the cursor knows (its window's top while one is open).
  [[nodiscard]] std::optional<int64_t> cursor_limit(const AuditCursor& c) const;
  // Folds [checked_from, checked_limit) into checked_to once they meet; drops the ids of
  // windows wholly below checked_to (no check will ever list them again).
  void fold_checked(CompletenessState& s) const;

  int64_t window_ms_;
  int64_t lookback_ms_;
  int64_t settle_ms_;
  int64_t start_ms_;
};

// Per-window comparison of one check: what LaunchDarkly listed vs what was exported.
struct WindowCount {
  uint64_t listed = 0;              // entries LaunchDarkly listed in the window
  uint64_t exported = 0;            // entries the export recorded in it
  uint64_t exported_and_listed = 0;
  std::vector<std::string> missing;  // listed but never exported
  [[nodiscard]] bool matches() const { return listed == exported && missing.empty(); }
};

// Tallies the entries of one re-listing against the state's exported ids.
class CompletenessTally {
 public:
  CompletenessTally(const CompletenessLogic& logic, const CompletenessState& s, CheckRange r);
  // One listed entry; true when it was never exported (the caller keeps it to re-fetch).
  // An id listed again in the same check (the listing shifted between two pages) is
  // neither counted nor kept twice.
  bool listed(const std::string& id, int64_t date);
  [[nodiscard]] const std::map<int64_t, WindowCount>& windows() const { return windows_; }

 private:
  const CompletenessLogic& logic_;
  const CompletenessState& state_;
  std::map<int64_t, WindowCount> windows_;
  std::set<std::string> seen_;
};

}  // namespace ldx
