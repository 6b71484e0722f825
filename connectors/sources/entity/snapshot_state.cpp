#include "sources/entity/snapshot_state.h"

namespace ldx {

std::string content_fingerprint(std::string_view bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kHex[h & 0xF];
    h >>= 4;
  }
  return out;
}

std::string unreadable_name(const std::string& scope_key, std::string_view raw) {
  return scope_key + "/" + content_fingerprint(raw);
}

void SnapshotState::begin_snapshot(int64_t now_ms) {
  if (in_snapshot_) return;
  ++gen_;
  in_snapshot_ = true;
  started_ms_ = now_ms;
  progress_ = SnapshotProgress{};
}

Observed SnapshotState::observe(const std::string& id, const std::string& fp) {
  auto [it, inserted] = known_.try_emplace(id, KnownEntity{fp, gen_});
  if (inserted) return Observed::kNew;
  it->second.gen = gen_;
  if (it->second.fp == fp) return Observed::kSame;
  it->second.fp = fp;
  return Observed::kChanged;
}

void SnapshotState::forget(const std::string& id) { known_.erase(id); }

void SnapshotState::adopt_unconfirmed(const std::string& id) { known_.try_emplace(id, KnownEntity{"", 0}); }

const KnownEntity* SnapshotState::find(const std::string& id) const {
  auto it = known_.find(id);
  return it == known_.end() ? nullptr : &it->second;
}

std::vector<std::string> SnapshotState::ids_with_prefix(const std::string& prefix) const {
  std::vector<std::string> out;
  for (auto it = known_.lower_bound(prefix); it != known_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(it->first);
  }
  return out;
}

bool SnapshotState::observe_unreadable(const std::string& name) {
  auto [it, inserted] = unreadable_.try_emplace(name, gen_);
  it->second = gen_;
  return inserted;
}

void SnapshotState::forget_unreadable(const std::string& name) { unreadable_.erase(name); }

std::vector<std::string> SnapshotState::unreadable_with_prefix(const std::string& prefix) const {
  std::vector<std::string> out;
  for (auto it = unreadable_.lower_bound(prefix); it != unreadable_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(it->first);
  }
  return out;
}

std::vector<std::string> SnapshotState::unseen(const IdFilter& selected) const {
  std::vector<std::string> out;
  if (!in_snapshot_) return out;
  for (const auto& [id, k] : known_) {
    if (k.gen < gen_ && selected(id)) out.push_back(id);
  }
  return out;
}

void SnapshotState::end_snapshot(const IdFilter& selected) {
  if (!in_snapshot_) return;
  std::erase_if(known_, [&](const auto& kv) { return kv.second.gen < gen_ && !selected(kv.first); });
  std::erase_if(unreadable_, [&](const auto& kv) { return kv.second < gen_; });
  in_snapshot_ = false;
  last_complete_started_ms_ = started_ms_;
  progress_ = SnapshotProgress{};
}

nlohmann::json SnapshotState::to_json() const {
  nlohmann::json known = nlohmann::json::object();
  for (const auto& [id, k] : known_) known[id] = nlohmann::json::array({k.fp, k.gen});
  nlohmann::json j{{"gen", gen_},
                   {"last_complete_started_ms", last_complete_started_ms_},
                   {"known", std::move(known)}};
  // Only when there are any: a cursor without unreadable items keeps its old form.
  if (!unreadable_.empty()) j["unreadable"] = unreadable_;
  if (in_snapshot_) {
    j["open"] = {{"started_ms", started_ms_},
                 {"scope", progress_.scope},
                 {"offset", progress_.offset},
                 {"listed", progress_.listed}};
  } else {
    j["open"] = nullptr;
  }
  return j;
}

Result<SnapshotState> SnapshotState::from_json(const nlohmann::json& j) {
  SnapshotState s;
  if (j.is_null()) return s;
  try {
    s.gen_ = j.at("gen").get<uint64_t>();
    s.last_complete_started_ms_ = j.at("last_complete_started_ms").get<int64_t>();
    for (const auto& [id, v] : j.at("known").items()) {
      s.known_[id] = KnownEntity{v.at(0).get<std::string>(), v.at(1).get<uint64_t>()};
    }
    if (auto it = j.find("unreadable"); it != j.end()) {
      for (const auto& [name, gen] : it->items()) s.unreadable_[name] = gen.get<uint64_t>();
    }
    const auto& open = j.at("open");
    if (!open.is_null()) {
      s.in_snapshot_ = true;
      s.started_ms_ = open.at("started_ms").get<int64_t>();
      s.progress_.scope = open.at("scope").get<std::string>();
      s.progress_.offset = open.at("offset").get<int64_t>();
      s.progress_.listed = open.at("listed").get<bool>();
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::fatal(std::string("snapshot cursor is malformed: ") + e.what());
  }
  return s;
}

}  // namespace ldx
