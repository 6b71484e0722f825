#include "sources/audit_log/audit_cursor.h"

#include <algorithm>
#include <limits>

#include "sources/audit_log/cursor_json.h"

namespace ldx {

using namespace cursor_json;  // NOLINT(google-build-using-namespace): the getters, in this file only

nlohmann::json AuditCursor::to_json() const {
  nlohmann::json j{{"v", 1}};
  j["high"] = high ? nlohmann::json(*high) : nlohmann::json();
  j["recent_from"] = recent_from ? nlohmann::json(*recent_from) : nlohmann::json();
  nlohmann::json rec = nlohmann::json::object();
  for (const auto& [id, date] : recent) rec[id] = date;
  j["recent"] = std::move(rec);
  if (window) {
    nlohmann::json w{{"lower", window->lower}};
    w["upper"] = window->upper ? nlohmann::json(*window->upper) : nlohmann::json();
    w["before"] = window->before ? nlohmann::json(*window->before) : nlohmann::json();
    w["done_at_before"] = window->done_at_before;
    w["keep_from"] = window->keep_from ? nlohmann::json(*window->keep_from) : nlohmann::json();
    j["window"] = std::move(w);
  } else {
    j["window"] = nullptr;
  }
  if (!completeness.is_null()) j["completeness"] = completeness;
  return j;
}

Result<AuditCursor> AuditCursor::from_json(const nlohmann::json& j) {
  AuditCursor c;
  if (j.is_null()) return c;
  try {
    if (!j.is_object()) throw CursorMalformed{"expected an object, found " + found(j)};
    const auto v = j.find("v");
    if (v == j.end() || *v != 1) {
      return Status::fatal("audit_log cursor: unknown version " + (v == j.end() ? std::string("(none)") : v->dump()) +
                           ", this ldexport reads version 1 (written by another ldexport?)" + kCursorResetHint);
    }
    c.high = get_opt_int(member(j, "high", "high"), "high");
    for (const auto& [id, date] : get_object(member(j, "recent", "recent"), "recent").items()) {
      c.recent[id] = get_int(date, "recent." + id);
    }
    if (auto it = j.find("recent_from"); it != j.end()) c.recent_from = get_opt_int(*it, "recent_from");
    const auto& w = member(j, "window", "window");
    if (!w.is_null()) {
      get_object(w, "window");
      AuditWindow win;
      win.lower = get_int(member(w, "lower", "window.lower"), "window.lower");
      win.upper = get_opt_int(member(w, "upper", "window.upper"), "window.upper");
      win.before = get_opt_int(member(w, "before", "window.before"), "window.before");
      const auto& done = member(w, "done_at_before", "window.done_at_before");
      if (!done.is_array()) throw CursorMalformed{"window.done_at_before: expected an array, found " + found(done)};
      for (size_t i = 0; i < done.size(); ++i) {
        const std::string path = "window.done_at_before[" + std::to_string(i) + "]";
        if (!done[i].is_string()) throw CursorMalformed{path + ": expected a string, found " + found(done[i])};
        win.done_at_before.insert(done[i].get<std::string>());
      }
      if (auto it = w.find("keep_from"); it != w.end()) win.keep_from = get_opt_int(*it, "window.keep_from");
      if (!win.keep_from && win.upper) {
        // Written before keep_from existed: the window kept its fresh entries from its
        // top minus the lookback of then, which is unknown. Only those at the top itself
        // are surely in `recent`; the window's end narrows `recent_from` to match, so
        // the next window exports nothing twice. The cost, once: that window does not
        // re-read the lookback for entries that became visible late.
        win.keep_from = std::max(c.high.value_or(*win.upper), *win.upper);
      }
      c.window = std::move(win);
    }
    if (c.high && !c.recent_from) {
      // Written before recent_from existed: `recent` held every id dated from high minus
      // the lookback of then, which is unknown (the configured one may have changed since;
      // high minus the configured one could re-export). Its oldest date is at or above
      // that bound, so `recent` is surely complete from there on: the next window exports
      // nothing twice. Between the bound and that date nothing had been exported (else
      // `recent` would hold it), so nothing is skipped either but entries that become
      // visible there late, once. With nothing in `recent` not even the entries at `high`
      // itself are remembered: start after them.
      c.recent_from = *c.high == std::numeric_limits<int64_t>::max() ? *c.high : *c.high + 1;
      for (const auto& [id, date] : c.recent) c.recent_from = std::min(*c.recent_from, date);
    }
    if (auto it = j.find("completeness"); it != j.end()) c.completeness = *it;
  } catch (const CursorMalformed& e) {
    return Status::fatal("audit_log cursor is malformed: " + e.what + kCursorResetHint);
  } catch (const nlohmann::json::exception& e) {
    return Status::fatal(std::string("audit_log cursor is malformed: ") + e.what() + kCursorResetHint);
  }
  return c;
}

void AuditCursorLogic::begin(AuditCursor& c) const {
  if (c.window) return;
  AuditWindow w;
  w.lower = start_ms_;
  if (c.high) {
    // Never below recent_from: what is older may have been exported and not remembered.
    w.lower = *c.high - lookback_ms_;
    if (c.recent_from) w.lower = std::max(w.lower, *c.recent_from);
  }
  c.window = std::move(w);
}

std::string AuditCursorLogic::resume_query(const AuditCursor& c, int limit) const {
  std::string q = "limit=" + std::to_string(limit);
  if (!c.window) return q;
  // From the epoch (the default `start`) there is nothing older to leave out: no
  // `after` rather than after=-1, which the spec does not say LaunchDarkly accepts.
  if (c.window->lower > 0) q += "&after=" + std::to_string(c.window->lower - 1);
  if (c.window->before) q += "&before=" + std::to_string(*c.window->before + 1);
  return q;
}

AuditPageOutcome AuditCursorLogic::ingest(AuditCursor& c, const std::vector<AuditPageItem>& items,
                                          bool has_next) const {
  AuditPageOutcome out;
  AuditWindow& w = *c.window;
  bool reached_lower = false;
  std::optional<int64_t> page_min;
  std::optional<int64_t> page_max;
  for (const auto& it : items) {
    if (it.date < w.lower) {
      reached_lower = true;
      continue;
    }
    if (w.before && it.date > *w.before) continue;  // done already (overlap or inclusive bound)
    if (w.before && it.date == *w.before && w.done_at_before.count(it.id)) continue;
    page_min = page_min ? std::min(*page_min, it.date) : it.date;
    page_max = page_max ? std::max(*page_max, it.date) : it.date;
    if (c.recent.count(it.id)) continue;  // exported by an earlier window (lookback overlap)
    // The same id twice on one page (never expected, but never exported twice).
    bool dup = false;
    for (size_t k : out.fresh) dup = dup || items[k].id == it.id;
    if (!dup) out.fresh.push_back(static_cast<size_t>(&it - items.data()));
  }
  if (!w.upper && page_max) w.upper = page_max;
  if (page_min) {
    if (!w.before || *page_min < *w.before) {
      w.before = page_min;
      w.done_at_before.clear();
    }
    for (const auto& it : items) {
      if (it.date == *w.before) w.done_at_before.insert(it.id);
    }
  }
  // Remember what this window exported near its top for the next window's overlap.
  // Fresh entries imply `upper` is set: keep_from is fixed from the window's top then.
  if (w.upper && !w.keep_from) w.keep_from = std::max(c.high.value_or(*w.upper), *w.upper) - lookback_ms_;
  for (size_t k : out.fresh) {
    if (w.keep_from && items[k].date >= *w.keep_from) c.recent[items[k].id] = items[k].date;
  }
  out.window_done = reached_lower || !has_next;
  if (out.window_done) {
    if (w.upper) c.high = std::max(c.high.value_or(*w.upper), *w.upper);
    if (c.high) {
      // `recent` now holds every id exported from max(recent_from, keep_from) on (the
      // earlier ones from recent_from, this window's from keep_from); nothing more is
      // needed below high - lookback. After a raised lookback this stays at the old
      // bound until `high` has moved on by the difference.
      int64_t from = *c.high - lookback_ms_;
      if (c.recent_from) from = std::max(from, *c.recent_from);
      if (w.keep_from) from = std::max(from, *w.keep_from);
      c.recent_from = from;
      std::erase_if(c.recent, [&](const auto& kv) { return kv.second < from; });
    }
    c.window.reset();
  }
  return out;
}

}  // namespace ldx
