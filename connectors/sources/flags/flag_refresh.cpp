#include "sources/flags/flag_refresh.h"

#include <algorithm>

namespace ldx {

nlohmann::json FlagRefreshState::to_json() const {
  nlohmann::json rec = nlohmann::json::object();
  for (const auto& [id, date] : recent) rec[id] = date;
  return {{"high", high}, {"recent", std::move(rec)}, {"pending", pending}};
}

Result<FlagRefreshState> FlagRefreshState::from_json(const nlohmann::json& j) {
  FlagRefreshState s;
  if (j.is_null()) return s;
  try {
    s.high = j.at("high").get<int64_t>();
    for (const auto& [id, date] : j.at("recent").items()) s.recent[id] = date.get<int64_t>();
    s.pending = j.at("pending").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    return Status::fatal(std::string("flags cursor: refresh state is malformed: ") + e.what());
  }
  return s;
}

void FlagRefreshLogic::merge(FlagRefreshState& s, const std::vector<AuditRefreshItem>& items, int64_t lower,
                             int64_t now_ms, const std::function<bool(const std::string& project)>& selected) const {
  std::set<std::string> pending(s.pending.begin(), s.pending.end());
  int64_t high = s.high;
  for (const auto& it : items) {
    if (it.date < lower || s.recent.count(it.entry_id)) continue;
    s.recent[it.entry_id] = it.date;
    high = std::max(high, it.date);
    for (const auto& [project, key] : it.flags) {
      if (selected(project)) pending.insert(project + "/" + key);
    }
  }
  s.high = high;
  // The next read starts no earlier than min(high, now - lookback): older ids are never re-read.
  const int64_t keep_from = std::min(high, now_ms - lookback_ms_);
  std::erase_if(s.recent, [&](const auto& kv) { return kv.second < keep_from; });
  s.pending.assign(pending.begin(), pending.end());
}

}  // namespace ldx
