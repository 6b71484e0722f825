#include "sources/audit_log/audit_completeness.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "sources/audit_log/cursor_json.h"

namespace ldx {

nlohmann::json CompletenessState::to_json() const {
  nlohmann::json j{{"window_ms", window_ms}, {"since", since}, {"checked_to", checked_to}};
  j["checked_from"] = checked_from ? nlohmann::json(*checked_from) : nlohmann::json();
  j["checked_limit"] = checked_limit ? nlohmann::json(*checked_limit) : nlohmann::json();
  nlohmann::json ex = nlohmann::json::object();
  for (const auto& [ws, ids] : exported) ex[std::to_string(ws)] = ids;
  j["exported"] = std::move(ex);
  return j;
}

Result<CompletenessState> CompletenessState::from_json(const nlohmann::json& j) {
  using namespace cursor_json;  // NOLINT(google-build-using-namespace): the getters, here only
  CompletenessState s;
  try {
    get_object(j, "completeness");
    s.window_ms = get_int(member(j, "window_ms", "completeness.window_ms"), "completeness.window_ms");
    s.since = get_int(member(j, "since", "completeness.since"), "completeness.since");
    s.checked_to = get_int(member(j, "checked_to", "completeness.checked_to"), "completeness.checked_to");
    s.checked_from =
        get_opt_int(member(j, "checked_from", "completeness.checked_from"), "completeness.checked_from");
    const auto& exported = get_object(member(j, "exported", "completeness.exported"), "completeness.exported");
    for (const auto& [ws, ids] : exported.items()) {
      const std::string path = "completeness.exported." + ws;
      int64_t start = 0;
      const auto [end, ec] = std::from_chars(ws.data(), ws.data() + ws.size(), start);
      if (ec != std::errc() || end != ws.data() + ws.size()) {
        throw CursorMalformed{path + ": the key is not a window start (an integer)"};
      }
      auto& set = s.exported[start];
      const auto& list = get_array(ids, path);
      for (size_t i = 0; i < list.size(); ++i) set.insert(get_string(list[i], path + "[" + std::to_string(i) + "]"));
    }
  } catch (const CursorMalformed& e) {
    return Status::fatal("audit_log cursor is malformed: " + e.what + kCursorResetHint);
  } catch (const std::exception& e) {
    return Status::fatal(std::string("audit_log cursor: completeness state is malformed: ") + e.what() +
                         kCursorResetHint);
  }
  // Absent (a cursor written before it existed) or null: CompletenessLogic::loaded fills
  // it in when checked_from is set.
  if (auto it = j.find("checked_limit"); it != j.end() && !it->is_null()) {
    const bool fits = it->is_number_integer() &&
                      (!it->is_number_unsigned() ||
                       it->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
    if (!fits) {
      return Status::fatal(std::string("audit_log cursor is malformed: completeness.checked_limit: expected an "
                                       "integer (milliseconds) or null, found ") +
                           cursor_json::found(*it) + cursor_json::kCursorResetHint);
    }
    s.checked_limit = it->get<int64_t>();
    if (!s.checked_from || *s.checked_limit < *s.checked_from) {
      return Status::fatal(std::string("audit_log cursor is malformed: completeness.checked_limit: set without a "
                                       "checked_from at or below it") +
                           cursor_json::kCursorResetHint);
    }
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

std::optional<int64_t> CompletenessLogic::cursor_limit(const AuditCursor& c) const {
  std::optional<int64_t> top = c.high;
  if (c.window && c.window->upper) top = std::max(top.value_or(*c.window->upper), *c.window->upper);
  if (!top) return std::nullopt;
  return closed_limit(*top);
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

void CompletenessLogic::loaded(CompletenessState& s, const AuditCursor& c) const {
  if (s.checked_from && !s.checked_limit) {
    // Written before checked_limit existed. A committed cursor keeps checked_from only
    // while the window whose checks set it is open, or once it completed and its end
    // check has not finished. In the second case the previous version may already have
    // opened (and partly walked) the next window: that one ran no check (its checks
    // could not reach below checked_from), so checks at or below its lower bound belong
    // to the window that completed at `high`. Either way the limit of that window, with
    // the settings unchanged, is the limit those checks used. Falling back to
    // checked_from itself (no top known: not written by this program) claims nothing
    // was checked above it.
    // That end check may have been cut short twice, though: `high` then moved on past
    // the window whose checks these were. A check erases the ids of its range, and
    // every later window exported at or above the checks' limit, so the first window
    // at or above checked_from still holding ids was never checked: the limit is at
    // most that.
    const bool from_completed_window = c.window && c.high && *s.checked_from <= c.window->lower;
    if (from_completed_window) {
      s.checked_limit = closed_limit(*c.high);
      if (auto first = s.exported.lower_bound(*s.checked_from); first != s.exported.end()) {
        s.checked_limit = std::min(*s.checked_limit, first->first);
      }
    } else {
      s.checked_limit = cursor_limit(c).value_or(*s.checked_from);
    }
    s.checked_limit = std::max(*s.checked_limit, *s.checked_from);
  }
  fold_checked(s);
}

void CompletenessLogic::fold_checked(CompletenessState& s) const {
  if (s.checked_from && *s.checked_from <= s.checked_to) {
    s.checked_to = std::max(s.checked_to, s.checked_limit.value_or(s.checked_to));
    s.checked_from.reset();
    s.checked_limit.reset();
  }
  // A window wholly below checked_to is never listed again: ids left there (by a cursor
  // of an earlier version, which could skip windows) would stay in the cursor for good.
  while (!s.exported.empty() && s.exported.begin()->first + window_ms_ <= s.checked_to) {
    s.exported.erase(s.exported.begin());
  }
}

void CompletenessLogic::record_exported(CompletenessState& s, const std::string& id, int64_t date) const {
  // Below checked_to the window was already checked (only a longer lookback than before
  // re-reads it): the entry is exported, there is nothing left to compare it with.
  if (date < s.since || date < s.checked_to) return;
  s.exported[window_start(date)].insert(id);
}

std::optional<CheckRange> CompletenessLogic::due_in_window(const CompletenessState& s, const AuditCursor& c) const {
  if (!c.window || !c.window->upper || !c.window->before) return std::nullopt;
  // Checked dates at or below this window's lower bound were checked in an earlier window
  // (this window's own checks lie above it), and the check due at that window's end was
  // cut short: it is due now, as everything below the lower bound has been walked.
  if (s.checked_from && *s.checked_from <= c.window->lower && s.checked_to < *s.checked_from) {
    return CheckRange{s.checked_to, *s.checked_from};
  }
  const int64_t hi = s.checked_from ? *s.checked_from : *cursor_limit(c);
  // Everything from the window after the one holding `before` up has been walked (the
  // entries at exactly `before` may be only partly done).
  const int64_t walked_from = window_start(*c.window->before) + window_ms_;
  const int64_t lo = std::max(walked_from, s.checked_to);
  if (lo < hi) return CheckRange{lo, hi};
  return std::nullopt;
}

std::optional<CheckRange> CompletenessLogic::due_at_window_end(const CompletenessState& s,
                                                               const AuditCursor& c) const {
  // With checks made within a window, the gap below them; once that is checked (and
  // folded into checked_to), whatever closed since, through the newest window's limit.
  std::optional<int64_t> hi = s.checked_from;
  if (!hi && c.high) hi = closed_limit(*c.high);
  if (hi && s.checked_to < *hi) return CheckRange{s.checked_to, *hi};
  return std::nullopt;
}

void CompletenessLogic::mark_checked(CompletenessState& s, CheckRange r) const {
  auto it = s.exported.lower_bound(window_start(r.from));
  while (it != s.exported.end() && it->first < r.to) it = s.exported.erase(it);
  if (r.from <= s.checked_to) {
    s.checked_to = std::max(s.checked_to, r.to);
  } else {
    // A check within the window, below the ones before it (due_in_window): the first
    // one's top is the window's closed limit.
    if (!s.checked_from) s.checked_limit = r.to;
    s.checked_from = r.from;
  }
  fold_checked(s);
}

CompletenessTally::CompletenessTally(const CompletenessLogic& logic, const CompletenessState& s, CheckRange r)
    : logic_(logic), state_(s) {
  for (auto it = s.exported.lower_bound(logic.window_start(r.from)); it != s.exported.end() && it->first < r.to; ++it) {
    windows_[it->first].exported = it->second.size();
  }
}

bool CompletenessTally::listed(const std::string& id, int64_t date) {
  if (!seen_.insert(id).second) return false;
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
