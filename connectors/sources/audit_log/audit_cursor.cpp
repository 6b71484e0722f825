#include "sources/audit_log/audit_cursor.h"

#include <algorithm>

namespace ldx {

nlohmann::json AuditCursor::to_json() const {
  nlohmann::json j{{"v", 1}};
  j["high"] = high ? nlohmann::json(*high) : nlohmann::json();
  nlohmann::json rec = nlohmann::json::object();
  for (const auto& [id, date] : recent) rec[id] = date;
  j["recent"] = std::move(rec);
  if (window) {
    nlohmann::json w{{"lower", window->lower}};
    w["upper"] = window->upper ? nlohmann::json(*window->upper) : nlohmann::json();
    w["before"] = window->before ? nlohmann::json(*window->before) : nlohmann::json();
    w["done_at_before"] = window->done_at_before;
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
    if (!j.is_object() || j.value("v", 0) != 1) return Status::fatal("audit_log cursor: unknown cursor version");
    if (!j.at("high").is_null()) c.high = j.at("high").get<int64_t>();
    for (const auto& [id, date] : j.at("recent").items()) c.recent[id] = date.get<int64_t>();
    const auto& w = j.at("window");
    if (!w.is_null()) {
      AuditWindow win;
      win.lower = w.at("lower").get<int64_t>();
      if (!w.at("upper").is_null()) win.upper = w.at("upper").get<int64_t>();
      if (!w.at("before").is_null()) win.before = w.at("before").get<int64_t>();
      for (const auto& id : w.at("done_at_before")) win.done_at_before.insert(id.get<std::string>());
      c.window = std::move(win);
    }
    if (auto it = j.find("completeness"); it != j.end()) c.completeness = *it;
  } catch (const nlohmann::json::exception& e) {
    return Status::fatal(std::string("audit_log cursor is malformed: ") + e.what());
  }
  return c;
}

void AuditCursorLogic::begin(AuditCursor& c) const {
  if (c.window) return;
  AuditWindow w;
  w.lower = c.high ? *c.high - lookback_ms_ : start_ms_;
  c.window = std::move(w);
}

std::string AuditCursorLogic::resume_query(const AuditCursor& c, int limit) const {
  std::string q = "limit=" + std::to_string(limit);
  if (!c.window) return q;
  q += "&after=" + std::to_string(c.window->lower - 1);
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
  if (w.upper || c.high) {
    const int64_t top = w.upper ? (c.high ? std::max(*c.high, *w.upper) : *w.upper) : *c.high;
    for (size_t k : out.fresh) {
      if (items[k].date >= top - lookback_ms_) c.recent[items[k].id] = items[k].date;
    }
  }
  out.window_done = reached_lower || !has_next;
  if (out.window_done) {
    if (w.upper) c.high = std::max(c.high.value_or(*w.upper), *w.upper);
    c.window.reset();
    if (c.high) {
      const int64_t keep_from = *c.high - lookback_ms_;
      std::erase_if(c.recent, [&](const auto& kv) { return kv.second < keep_from; });
    }
  }
  return out;
}

}  // namespace ldx
