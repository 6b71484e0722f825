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
  if (!in_snapshot_) return observe_unreadable(name, 1);
  auto [it, inserted] = unreadable_.try_emplace(name, Unreadable{gen_, 0, 0});
  Unreadable& u = it->second;
  if (u.gen != gen_) {  // first listed by this generation
    u.gen = gen_;
    u.seen = 0;
  }
  if (++u.seen <= u.copies) return false;
  u.copies = u.seen;
  return true;
}

bool SnapshotState::observe_unreadable(const std::string& name, size_t copy) {
  if (in_snapshot_) return observe_unreadable(name);
  auto [it, inserted] = unreadable_.try_emplace(name, Unreadable{gen_, 0, 0});
  Unreadable& u = it->second;
  u.gen = gen_;
  if (copy <= u.copies) return false;
  u.copies = copy;
  return true;
}

void SnapshotState::forget_unreadable(const std::string& name) { unreadable_.erase(name); }

size_t SnapshotState::unreadable_copies(const std::string& name) const {
  auto it = unreadable_.find(name);
  return it == unreadable_.end() ? 0 : it->second.copies;
}

void SnapshotState::hold_unreadable(const std::string& name, size_t copies) {
  if (copies == 0) {
    unreadable_.erase(name);
    return;
  }
  // Inside a snapshot, holding is not listing: a new name belongs to no generation yet.
  auto [it, inserted] = unreadable_.try_emplace(name, Unreadable{in_snapshot_ ? 0 : gen_, copies, 0});
  if (!in_snapshot_) it->second.gen = gen_;
  it->second.copies = copies;
}

std::vector<std::string> SnapshotState::unreadable_with_prefix(const std::string& prefix) const {
  std::vector<std::string> out;
  for (auto it = unreadable_.lower_bound(prefix); it != unreadable_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(it->first);
  }
  return out;
}

size_t SnapshotState::unreadable_listed(const std::string& scope_key) const {
  const std::string prefix = scope_key + "/";
  size_t n = 0;
  for (auto it = unreadable_.lower_bound(prefix); it != unreadable_.end() && it->first.starts_with(prefix); ++it) {
    // "<scope key>/<fingerprint>": a fingerprint holds no '/'; "<scope key>/<key>/<fp>"
    // is a confirmation answer of entity <scope key>/<key>, counted by its id.
    if (it->first.find('/', prefix.size()) == std::string::npos) n += it->second.copies;
  }
  return n;
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
  std::erase_if(unreadable_, [&](const auto& kv) { return kv.second.gen < gen_; });
  // A complete snapshot listed each remaining name `seen` times: copies beyond that are
  // gone (and dead-lettered again should they come back).
  for (auto& [name, u] : unreadable_) u.copies = u.seen;
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
  // Only when there are any: a cursor without unreadable items keeps its old form; so
  // does a name holding one copy ({name: gen}, what 8dc6669 wrote); more copies are
  // [gen, copies, seen].
  if (!unreadable_.empty()) {
    nlohmann::json u = nlohmann::json::object();
    for (const auto& [name, v] : unreadable_) {
      if (v.copies == 1 && v.seen <= 1) {
        u[name] = v.gen;
      } else {
        u[name] = nlohmann::json::array({v.gen, v.copies, v.seen});
      }
    }
    j["unreadable"] = std::move(u);
  }
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
      for (const auto& [name, v] : it->items()) {
        if (v.is_array()) {
          s.unreadable_[name] = Unreadable{v.at(0).get<uint64_t>(), v.at(1).get<size_t>(), v.at(2).get<size_t>()};
        } else {
          // {name: gen}: one copy, listed by generation `gen` (so once by it, if it is open).
          s.unreadable_[name] = Unreadable{v.get<uint64_t>(), 1, 1};
        }
      }
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
