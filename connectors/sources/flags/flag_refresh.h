// `refresh: audit_log` for flags (API-NOTES §2 [inferred]: "drive incremental runs from
// the audit log and re-GET each changed flag"). Between full snapshots a pass:
//  1. reads the audit log since the refresh point, filtered by resource specifier
//     (spec=proj/*:env/*:flag/* for every project, or proj/<p>:env/*:flag/* per listed
//     project), and collects the flags the new entries name;
//  2. GETs each of them (/api/v2/flags/{p}/{key} with the selected environments):
//     200 -> upsert when its versions changed; 404 -> delete.
// The refresh point is the newest entry date seen. Each read starts at the earlier of
// that point and now - `lookback`, so entries that show up late (dated up to `lookback`
// in the past) are still found, and skips entry ids it already handled; once nothing
// changed for `lookback`, a pass reads one (empty) audit page per specifier. The
// collected flags are committed as `pending` before they are fetched, so a crash redoes
// one flag, not the audit read.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "sources/entity/entity_pass.h"
#include "sources/entity/snapshot_state.h"

namespace ldx {

struct FlagRefreshState {
  int64_t high = 0;                       // newest audit entry date handled (or the last full snapshot's start)
  std::map<std::string, int64_t> recent;  // entry id -> date, for dates >= high - lookback
  std::vector<std::string> pending;       // flag ids ("project/key") still to fetch, sorted

  [[nodiscard]] nlohmann::json to_json() const;
  static Result<FlagRefreshState> from_json(const nlohmann::json& j);
};

// What one audit page contributes: the flags its entries name.
struct AuditRefreshItem {
  std::string entry_id;
  int64_t date = 0;
  std::vector<std::pair<std::string, std::string>> flags;  // (project, key)
};

// Pure bookkeeping of the audit read, for tests: which entries are new, which flags to fetch.
class FlagRefreshLogic {
 public:
  explicit FlagRefreshLogic(int64_t lookback_ms) : lookback_ms_(lookback_ms) {}
  // Entries dated from here on are read (and those in `recent` skipped).
  [[nodiscard]] int64_t lower_bound(const FlagRefreshState& s, int64_t now_ms) const {
    return std::min(s.high, now_ms - lookback_ms_);
  }
  // Merges the entries read from `lower` on into `s`: new entries' flags (`selected`
  // ones) join `pending`, `high` advances, `recent` keeps what the next read re-covers.
  void merge(FlagRefreshState& s, const std::vector<AuditRefreshItem>& items, int64_t lower, int64_t now_ms,
             const std::function<bool(const std::string& project)>& selected) const;

 private:
  int64_t lookback_ms_;
};

}  // namespace ldx
