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

void FlagRefreshLogic::merge(FlagRefreshState& s, const std::vector<AuditRefreshItem>& items,
                             const std::function<bool(const std::string& project)>& selected) const {
  const int64_t lower = lower_bound(s);
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
  std::erase_if(s.recent, [&](const auto& kv) { return kv.second < high - lookback_ms_; });
  s.pending.assign(pending.begin(), pending.end());
}

}  // namespace ldx
