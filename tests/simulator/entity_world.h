// The simulator's LaunchDarkly account: projects, environments, flags, segments, contexts,
// members, teams, metrics and experiments, generated from the seed, held in memory behind
// one shared mutex, and changed by mutations (background ticks or POST /_sim/mutate).
//
// Each entity is stored as the JSON document the API serves for it (its complete form:
// a flag with every environment's full targeting), plus the indexes its listing pages
// need, so that a page costs O(limit) and never re-sorts the collection:
//   - flags: unarchived and archived lists in creation order (the default listing and
//     filter=state:archived);
//   - segments: creation order, lastModifiedDate descending, and name;
//   - contexts: ordered by (lastSeen, sequence), so a continuation token is a position in
//     that order and a context seen again moves to the end;
//   - members, teams, metrics, experiments: creation order.
// Deleted flags, segments and members are remembered for the truth; their keys and ids
// are never reused. So are deleted environments and projects (environment_deleted,
// project_deleted: only by an explicit kind), whole, with everything they held: the
// truth lists all of it as deleted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "entity_content.h"
#include "rng.h"
#include "sim_config.h"

namespace ldsim {

class AuditLogStore;

using ojson = nlohmann::ordered_json;

struct FlagRecord {
  std::string key;
  std::int64_t seq = 0;  // creation order within the project
  ojson doc;             // FeatureFlag with every environment's full configuration
  bool archived() const { return doc.at("archived").get<bool>(); }
  std::int64_t version() const { return doc.at("_version").get<std::int64_t>(); }
};

struct SegmentRecord {
  std::string key;
  std::int64_t seq = 0;  // creation order
  ojson doc;             // UserSegment
  std::int64_t last_modified() const { return doc.at("lastModifiedDate").get<std::int64_t>(); }
  std::int64_t version() const { return doc.at("version").get<std::int64_t>(); }
};

struct ContextRecordEntry {
  std::string id;             // kind/key[/applicationId], unique within the environment
  std::int64_t seen_ns = 0;   // lastSeen, ns since the epoch
  std::int64_t seq = 0;       // breaks lastSeen ties; renewed when seen again
  ojson doc;                  // ContextRecord without _links
};

struct ExperimentRecord {
  std::string key;
  ojson doc;  // Experiment
  bool archived() const { return doc.contains("archivedDate"); }
};

struct EnvironmentRecord {
  std::string key;
  std::string name;
  std::string id;
  ojson doc;  // Environment (with apiKey and mobileKey)

  std::unordered_map<std::string, std::unique_ptr<SegmentRecord>> segments;
  std::vector<SegmentRecord*> segments_by_creation;
  std::vector<SegmentRecord*> segments_by_modified;  // lastModifiedDate desc, then key
  std::vector<SegmentRecord*> segments_by_name;      // name, then key
  std::vector<std::string> deleted_segments;

  std::unordered_map<std::string, std::unique_ptr<ContextRecordEntry>> contexts;
  using SeenKey = std::pair<std::int64_t, std::int64_t>;  // (seen_ns, seq)
  std::map<SeenKey, ContextRecordEntry*> contexts_by_seen;
  std::int64_t next_context_seq = 0;
  std::int64_t next_context_number = 0;  // for keys of contexts seen for the first time

  std::vector<std::unique_ptr<ExperimentRecord>> experiments;
};

struct MetricRecord {
  std::string key;
  ojson doc;  // MetricListingRep
  std::int64_t version() const { return doc.at("_version").get<std::int64_t>(); }
};

struct ProjectRecord {
  std::string key;
  std::string name;
  std::string id;
  ojson doc;  // Project without `environments`
  std::vector<std::unique_ptr<EnvironmentRecord>> environments;

  std::unordered_map<std::string, std::unique_ptr<FlagRecord>> flags;
  std::vector<FlagRecord*> unarchived_flags;  // creation order
  std::vector<FlagRecord*> archived_flags;    // creation order
  std::vector<std::string> deleted_flags;
  std::int64_t next_flag_number = 1;
  std::int64_t next_flag_seq = 0;

  std::vector<std::unique_ptr<MetricRecord>> metrics;  // creation order
  std::vector<MetricRecord*> metrics_by_name;

  // Deleted by environment_deleted: gone from every endpoint, kept for the truth.
  std::vector<std::unique_ptr<EnvironmentRecord>> deleted_environments;

  EnvironmentRecord* environment(const std::string& env_key) const;
};

struct MemberRecord {
  std::string id;
  ojson doc;  // Member
};

struct TeamRecord {
  std::string key;
  ojson doc;  // Team, without the expand-only fields
  // For expand=maintainers and expand=roles.
  std::vector<ojson> maintainers;  // MemberSummary
  ojson roles = ojson::array();    // TeamCustomRole
  std::int64_t version() const { return doc.at("_version").get<std::int64_t>(); }
};

struct WorldData {
  std::vector<std::unique_ptr<ProjectRecord>> projects;  // creation order
  // Deleted by project_deleted: gone from every endpoint, kept for the truth.
  std::vector<std::unique_ptr<ProjectRecord>> deleted_projects;
  std::vector<std::unique_ptr<MemberRecord>> members;    // creation order
  std::vector<std::string> deleted_members;
  std::vector<std::unique_ptr<TeamRecord>> teams;        // creation order
  std::int64_t next_member_number = 0;

  ProjectRecord* project(const std::string& key) const;
};

// What one mutation did, as POST /_sim/mutate reports it.
struct Mutation {
  std::string kind;    // e.g. "flag_changed"
  std::string stream;  // e.g. "flags"
  std::string id;      // the record id of that stream (ARCHITECTURE §4)
  std::string op;      // "upsert" | "delete"
  std::string audit_id;  // the audit-log entry it appended (flags and segments), else empty
};

// The mutation kinds, in the order the contract lists them. environment_deleted and
// project_deleted are never drawn at random: only POST /_sim/mutate?kind= applies them.
const std::vector<std::string>& mutation_kinds();

class EntityWorld {
 public:
  // `audit` receives an entry for every flag and segment mutation; it must outlive the
  // world's background thread (stop() joins it).
  EntityWorld(const EntityConfig& config, std::uint64_t seed, AuditLogStore* audit);
  ~EntityWorld();

  EntityWorld(const EntityWorld&) = delete;
  EntityWorld& operator=(const EntityWorld&) = delete;

  // Runs `f(const WorldData&)` under the shared lock and returns its result.
  template <class F>
  auto read(F&& f) const {
    std::shared_lock lock(mu_);
    return f(static_cast<const WorldData&>(data_));
  }

  // Applies `n` mutations at time `now_ms` (each of `kind` if given, else drawn from the
  // seed). A kind that is impossible right now (nothing left to delete) is replaced by
  // another. Returns what was done.
  std::vector<Mutation> mutate(std::size_t n, const std::optional<std::string>& kind,
                               std::int64_t now_ms);

  const EntityConfig& config() const { return config_; }

  // Ground truth of one stream: {"live":[{"id":..,"version":..}], "deleted":[ids]}.
  nlohmann::json truth(const std::string& stream) const;

  // Background mutations; zero = off. Takes effect at once: returns after a tick in
  // progress has finished, so after set_mutate_every(0) no background mutation happens.
  void set_mutate_every(std::chrono::milliseconds every);
  std::chrono::milliseconds mutate_every() const;
  void start();
  void stop();

 private:
  void mutator_loop();
  std::optional<Mutation> apply_locked(const std::string& kind, std::int64_t now_ms);

  const EntityConfig config_;
  AuditLogStore* const audit_;

  mutable std::shared_mutex mu_;
  WorldData data_;
  Rng mutation_rng_;  // guarded by mu_
  content::MemberRef fallback_maintainer_;  // when every member was removed

  mutable std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::chrono::milliseconds every_{0};
  bool started_ = false;
  bool stopping_ = false;
  std::thread mutator_;
};

}  // namespace ldsim
