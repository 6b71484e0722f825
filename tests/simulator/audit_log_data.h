// The simulator's audit log: a deterministic data set plus appended entries, ordered
// newest-first, with exact resumable paging.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "audit_log_content.h"
#include "rng.h"
#include "sim_config.h"

namespace ldsim {

struct AuditEntry {
  std::string id;
  std::int64_t date = 0;
  audit::AuditContent content;
  // Set for entries about the simulator's own entity mutations; `content` is unused then.
  std::shared_ptr<const audit::EntityChange> change;
};

// A position in the newest-first order: the page continues strictly after it.
struct AuditPosition {
  std::int64_t date = 0;
  std::string id;
};

struct AuditPageQuery {
  std::optional<std::int64_t> before;  // exclusive: date < before
  std::optional<std::int64_t> after;   // exclusive: date > after
  int limit = 10;
  std::string q;     // case-insensitive substring of name or description
  std::string spec;  // resource specifier (prefix, '*' wildcards)
  std::optional<AuditPosition> position;
};

struct AuditPage {
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  std::optional<AuditPosition> next;  // set when more matching entries exist
};

class AuditLogStore {
 public:
  AuditLogStore(const AuditLogConfig& config, std::uint64_t seed);

  AuditPage page(const AuditPageQuery& query) const;

  // AuditLogEntryRep for the id, or nullopt.
  std::optional<nlohmann::ordered_json> detail(const std::string& id) const;

  // Appends `count` entries all dated `date` (a shared millisecond). Returns their ids.
  std::vector<std::string> append(std::size_t count, std::int64_t date);

  // One background-append tick at time `now`: usually one entry, sometimes 2-3 sharing
  // the millisecond; each is dated 1-20 s in the past with probability `late_rate`.
  std::vector<std::string> append_tick(std::int64_t now, double late_rate);

  // Appends one entry about an entity mutation, dated `date`. Returns its id.
  std::string append_change(std::int64_t date, audit::EntityChange change);

  // The fictional account (members, tokens) that actors of entries are drawn from.
  const audit::Catalog& catalog() const { return catalog_; }

  // Every _id, newest first.
  std::vector<std::string> ids() const;
  std::size_t size() const;

 private:
  // Caller holds mu_ exclusively.
  std::string new_id(Rng& rng, std::int64_t date);
  void insert_locked(AuditEntry entry);
  bool matches(const AuditEntry& e, const AuditPageQuery& q) const;

  nlohmann::ordered_json render_listing(const AuditEntry& e) const;

  const audit::Catalog catalog_;
  mutable std::shared_mutex mu_;
  std::vector<AuditEntry> entries_;  // ascending by (date, id); newest-first = reversed
  std::unordered_map<std::string, std::int64_t> date_by_id_;
  Rng append_rng_;  // content of appended entries
};

}  // namespace ldsim
