#include "audit_log_data.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "http_util.h"

namespace ldsim {

namespace {

bool key_less(std::int64_t d1, const std::string& id1, std::int64_t d2, const std::string& id2) {
  return d1 != d2 ? d1 < d2 : id1 < id2;
}

}  // namespace

AuditLogStore::AuditLogStore(const AuditLogConfig& config, std::uint64_t seed)
    : catalog_(audit::Catalog::generate(seed)), append_rng_(derive_seed(seed, 0xa99e)) {
  Rng rng(derive_seed(seed, 0xa0d17));
  entries_.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, config.entries)));
  std::int64_t date = config.end_ms;
  std::int64_t remaining = config.entries;
  while (remaining > 0) {
    // Many entries share a millisecond: groups of 1..30, some larger than a page of 20.
    const std::int64_t group = std::min(rng.range(1, 30), remaining);
    for (std::int64_t i = 0; i < group; ++i) {
      AuditEntry e;
      e.id = new_id(rng, date);
      e.date = date;
      e.content = audit::generate_content(rng, catalog_);
      date_by_id_.emplace(e.id, e.date);
      entries_.push_back(std::move(e));
    }
    remaining -= group;
    date -= rng.range(1, 5000);
  }
  std::sort(entries_.begin(), entries_.end(), [](const AuditEntry& a, const AuditEntry& b) {
    return key_less(a.date, a.id, b.date, b.id);
  });
}

std::string AuditLogStore::new_id(Rng& rng, std::int64_t date) {
  // Shaped like a MongoDB ObjectId: 4 bytes of seconds, then random bytes.
  for (;;) {
    char seconds[9];
    std::snprintf(seconds, sizeof seconds, "%08x",
                  static_cast<unsigned>(static_cast<std::uint64_t>(date / 1000) & 0xffffffffU));
    std::string id = std::string(seconds) + rng.hex(16);
    if (date_by_id_.find(id) == date_by_id_.end()) return id;
  }
}

void AuditLogStore::insert_locked(AuditEntry entry) {
  date_by_id_.emplace(entry.id, entry.date);
  const auto it = std::upper_bound(
      entries_.begin(), entries_.end(), entry, [](const AuditEntry& a, const AuditEntry& b) {
        return key_less(a.date, a.id, b.date, b.id);
      });
  entries_.insert(it, std::move(entry));
}

std::vector<std::string> AuditLogStore::append(std::size_t count, std::int64_t date) {
  std::unique_lock lock(mu_);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < count; ++i) {
    AuditEntry e;
    e.id = new_id(append_rng_, date);
    e.date = date;
    e.content = audit::generate_content(append_rng_, catalog_);
    ids.push_back(e.id);
    insert_locked(std::move(e));
  }
  return ids;
}

std::vector<std::string> AuditLogStore::append_tick(std::int64_t now, double late_rate) {
  std::unique_lock lock(mu_);
  const std::int64_t count = append_rng_.chance(0.2) ? append_rng_.range(2, 3) : 1;
  std::vector<std::string> ids;
  for (std::int64_t i = 0; i < count; ++i) {
    AuditEntry e;
    e.date = now;
    if (late_rate > 0.0 && append_rng_.chance(late_rate)) {
      e.date = now - append_rng_.range(1000, 20000);
    }
    e.id = new_id(append_rng_, e.date);
    e.content = audit::generate_content(append_rng_, catalog_);
    ids.push_back(e.id);
    insert_locked(std::move(e));
  }
  return ids;
}

std::string AuditLogStore::append_change(std::int64_t date, audit::EntityChange change) {
  std::unique_lock lock(mu_);
  AuditEntry e;
  e.id = new_id(append_rng_, date);
  e.date = date;
  e.change = std::make_shared<const audit::EntityChange>(std::move(change));
  std::string id = e.id;
  insert_locked(std::move(e));
  return id;
}

nlohmann::ordered_json AuditLogStore::render_listing(const AuditEntry& e) const {
  if (e.change) return audit::render_change_listing(e.id, e.date, *e.change, catalog_);
  return audit::render_listing(e.id, e.date, e.content, catalog_);
}

bool AuditLogStore::matches(const AuditEntry& e, const AuditPageQuery& q) const {
  if (q.q.empty() && q.spec.empty()) return true;
  const audit::Description d = e.change ? e.change->text : audit::describe(e.content, catalog_);
  if (!q.q.empty() && !icontains(d.name, q.q) && !icontains(d.description, q.q)) return false;
  if (!q.spec.empty() && !specifier_matches(q.spec, d.resource)) return false;
  return true;
}

AuditPage AuditLogStore::page(const AuditPageQuery& q) const {
  std::shared_lock lock(mu_);
  AuditPage page;
  // Walk [lo, hi) backwards (newest first).
  auto hi = entries_.end();
  if (q.before) {
    hi = std::partition_point(entries_.begin(), hi,
                              [&](const AuditEntry& e) { return e.date < *q.before; });
  }
  if (q.position) {
    const auto pos = std::partition_point(entries_.begin(), entries_.end(), [&](const AuditEntry& e) {
      return key_less(e.date, e.id, q.position->date, q.position->id);
    });
    hi = std::min(hi, pos);
  }
  auto lo = entries_.begin();
  if (q.after) {
    lo = std::partition_point(entries_.begin(), entries_.end(),
                              [&](const AuditEntry& e) { return e.date <= *q.after; });
  }
  if (lo >= hi) return page;

  const AuditEntry* last = nullptr;
  int taken = 0;
  for (auto it = hi; it != lo;) {
    --it;
    if (!matches(*it, q)) continue;
    if (taken == q.limit) {
      // Another matching entry exists beyond this page.
      page.next = AuditPosition{last->date, last->id};
      break;
    }
    page.items.push_back(render_listing(*it));
    last = &*it;
    ++taken;
  }
  return page;
}

std::optional<nlohmann::ordered_json> AuditLogStore::detail(const std::string& id) const {
  std::shared_lock lock(mu_);
  const auto found = date_by_id_.find(id);
  if (found == date_by_id_.end()) return std::nullopt;
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), std::make_pair(found->second, id),
                                   [](const AuditEntry& e, const std::pair<std::int64_t, std::string>& k) {
                                     return key_less(e.date, e.id, k.first, k.second);
                                   });
  if (it == entries_.end() || it->id != id) return std::nullopt;
  if (it->change) return audit::render_change_detail(it->id, it->date, *it->change, catalog_);
  return audit::render_detail(it->id, it->date, it->content, catalog_);
}

std::vector<std::string> AuditLogStore::ids() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) out.push_back(it->id);
  return out;
}

std::size_t AuditLogStore::size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

}  // namespace ldsim
