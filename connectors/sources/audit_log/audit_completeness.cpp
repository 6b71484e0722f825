#include "sources/audit_log/audit_completeness.h"

#include <algorithm>
#include <limits>

namespace ldx {

nlohmann::json CompletenessState::to_json() const {
  nlohmann::json j{{"window_ms", window_ms}, {"since", since}, {"checked_to", checked_to}};
  j["checked_from"] = checked_from ? nlohmann::json(*checked_from) : nlohmann::json();
  nlohmann::json ex = nlohmann::json::object();
  for (const auto& [ws, ids] : exported) ex[std::to_string(ws)] = ids;
  j["exported"] = std::move(ex);
  return j;
}

Result<CompletenessState> CompletenessState::from_json(const nlohmann::json& j) {
  CompletenessState s;
  try {
    s.window_ms = j.at("window_ms").get<int64_t>();
    s.since = j.at("since").get<int64_t>();
    s.checked_to = j.at("checked_to").get<int64_t>();
    if (!j.at("checked_from").is_null()) s.checked_from = j.at("checked_from").get<int64_t>();
    for (const auto& [ws, ids] : j.at("exported").items()) {
      auto& set = s.exported[std::stoll(ws)];
      for (const auto& id : ids) set.insert(id.get<std::string>());
    }
  } catch (const std::exception& e) {
    return Status::fatal(std::string("audit_log cursor: completeness state is malformed: ") + e.what());
  }
  return s;
}

int64_t CompletenessLogic::window_start(int64_t date) const {
  const int64_t r = ((date % window_ms_) + window_ms_) % window_ms_;
  return date - r;
}

int64_t CompletenessLogic::closed_limit(int64_t top) const {
  return window_start(top - lookback_ms_ - settle_ms_);
}

CompletenessState CompletenessLogic::init(const AuditCursor& c) const {
  CompletenessState s;
  s.window_ms = window_ms_;
  s.since = start_ms_;
  if (c.high) s.since = std::max(s.since, *c.high + 1);
  if (c.window && c.window->upper) s.since = std::max(s.since, *c.window->upper + 1);
  s.checked_to = s.since;
  return s;
}

void CompletenessLogic::record_exported(CompletenessState& s, const std::string& id, int64_t date) const {
  // Below checked_to the window was already checked (only a longer lookback than before
  // re-reads it): the entry is exported, there is nothing left to compare it with.
  if (date < s.since || date < s.checked_to) return;
  s.exported[window_start(date)].insert(id);
}

std::optional<CheckRange> CompletenessLogic::due_in_window(const CompletenessState& s, const AuditCursor& c) const {
  if (!c.window || !c.window->upper || !c.window->before) return std::nullopt;
  const int64_t top = std::max(c.high.value_or(std::numeric_limits<int64_t>::min()), *c.window->upper);
  const int64_t limit = closed_limit(top);
  const int64_t hi = s.checked_from ? std::min(*s.checked_from, limit) : limit;
  // Everything from the window after the one holding `before` up has been walked (the
  // entries at exactly `before` may be only partly done).
  const int64_t walked_from = window_start(*c.window->before) + window_ms_;
  const int64_t lo = std::max(walked_from, s.checked_to);
  if (lo < hi) return CheckRange{lo, hi};
  return std::nullopt;
}

std::optional<CheckRange> CompletenessLogic::due_at_window_end(const CompletenessState& s,
                                                               const AuditCursor& c) const {
  if (!c.high) return std::nullopt;
  const int64_t limit = closed_limit(*c.high);
  const int64_t hi = s.checked_from ? std::min(*s.checked_from, limit) : limit;
  if (s.checked_to < hi) return CheckRange{s.checked_to, hi};
  return std::nullopt;
}

void CompletenessLogic::mark_checked(CompletenessState& s, const AuditCursor& c, std::optional<CheckRange> r,
                                     bool window_end) const {
  if (r) {
    auto it = s.exported.lower_bound(window_start(r->from));
    while (it != s.exported.end() && it->first < r->to) it = s.exported.erase(it);
  }
  if (!window_end) {
    if (r) s.checked_from = r->from;
    return;
  }
  if (c.high) s.checked_to = std::max(s.checked_to, closed_limit(*c.high));
  s.checked_from.reset();
}

CompletenessTally::CompletenessTally(const CompletenessLogic& logic, const CompletenessState& s, CheckRange r)
    : logic_(logic), state_(s) {
  for (auto it = s.exported.lower_bound(logic.window_start(r.from)); it != s.exported.end() && it->first < r.to; ++it) {
    windows_[it->first].exported = it->second.size();
  }
}

bool CompletenessTally::listed(const std::string& id, int64_t date) {
  const int64_t ws = logic_.window_start(date);
  WindowCount& w = windows_[ws];
  ++w.listed;
  auto it = state_.exported.find(ws);
  if (it != state_.exported.end() && it->second.count(id)) {
    ++w.exported_and_listed;
    return false;
  }
  w.missing.push_back(id);
  return true;
}

}  // namespace ldx
