// The audit-log cursor (API-NOTES §1, ARCHITECTURE §3). The log pages newest-first and
// many entries share one millisecond, so a cursor of "date > T" would lose entries.
//
// A pass exports one *window* of dates [lower, upper], newest-first, page by page:
//   lower = high - lookback (or `start` on the first run), upper = the newest date on
//   the window's first page. After each page the window remembers `before` (the oldest
//   date fully or partly done) and the ids already done at that millisecond, so a crash
//   resumes with before=`before`+1 and skips those ids: only the pages read since the
//   last committed batch are redone, nothing is skipped, ties straddling a page
//   boundary included.
// When the window completes, `high` = upper and `recent` keeps the ids exported with a
// date >= high - lookback: the next window re-reads that overlap (entries that became
// visible late) and drops what `recent` already holds. Inclusiveness of the API's
// before/after is unstated, so both bounds are widened by 1 ms and filtered here.
//
// `recent_from` is the date from which `recent` holds *every* id exported, and a window
// never reads below it: an entry older than that may have been exported without being
// remembered, and reading it again would export it twice. It is high - lookback while
// the lookback stays the same. After `lookback` is raised, the next window starts at
// `recent_from` (not high - the new lookback) and the overlap grows, window after window,
// as `recent` fills up to the new lookback; after it is lowered, `recent_from` follows
// high - lookback at once. Entries re-fetched by the completeness check are not in
// `recent`: they are dated below the closed limit (high - lookback - settle), so below
// `recent_from` as well, and no later window reads them again.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace ldx {

struct AuditWindow {
  int64_t lower = 0;               // inclusive
  std::optional<int64_t> upper;    // set from the first page
  std::optional<int64_t> before;   // oldest date reached; everything newer is done
  std::set<std::string> done_at_before;  // ids done at exactly `before`
  // Fresh entries dated from here on go into `recent`; set with `upper` (the window's
  // top minus the lookback then) and kept, so a lookback changed by a restart in the
  // middle of the window cannot leave out of `recent` entries it exported before.
  std::optional<int64_t> keep_from;
};

struct AuditCursor {
  std::optional<int64_t> high;            // newest date of the last completed window
  std::map<std::string, int64_t> recent;  // id -> date, for dates >= recent_from
  // Every id exported with a date from here on is in `recent` (see above). Unset only
  // before the first window that exported something completes.
  std::optional<int64_t> recent_from;
  std::optional<AuditWindow> window;      // the window in progress
  // The completeness check's state (audit_completeness.h), kept opaque here; null when
  // the check is off.
  nlohmann::json completeness;

  [[nodiscard]] nlohmann::json to_json() const;
  // Checks every member's type; an error names the member by its path (e.g.
  // "window.lower") and says how to start the stream again.
  static Result<AuditCursor> from_json(const nlohmann::json& j);
};

struct AuditPageItem {
  std::string id;
  int64_t date = 0;
};

struct AuditPageOutcome {
  std::vector<size_t> fresh;  // indices of items to export, in page order
  bool window_done = false;
};

class AuditCursorLogic {
 public:
  AuditCursorLogic(int64_t start_ms, int64_t lookback_ms) : start_ms_(start_ms), lookback_ms_(lookback_ms) {}

  // Opens a window when none is in progress.
  void begin(AuditCursor& c) const;
  // The query that resumes the open window from the cursor alone (after a restart or
  // a failed page), e.g. "limit=20&after=1699999999999&before=1700000000124".
  [[nodiscard]] std::string resume_query(const AuditCursor& c, int limit) const;
  // Classifies one page and advances the window. `has_next`: the page had _links.next.
  AuditPageOutcome ingest(AuditCursor& c, const std::vector<AuditPageItem>& items, bool has_next) const;

 private:
  int64_t start_ms_;
  int64_t lookback_ms_;
};

}  // namespace ldx
