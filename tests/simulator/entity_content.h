// What the simulator's entities look like: generators for the JSON documents of
// projects, environments, flags, segments, contexts, members, teams, metrics and
// experiments (shaped after the openapi.yaml schemas and API-NOTES §2–§5), and the edits
// that mutations make to them. Pure functions of their Rng and arguments; no clock.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "rng.h"

namespace ldsim::content {

using ojson = nlohmann::ordered_json;

// FNV-1a of a text, to derive per-entity Rng seeds: derive_seed(seed, salt_of("flags/default")).
std::uint64_t salt_of(std::string_view text);

// RFC 3339 UTC with nanoseconds ("2025-11-24T15:00:57.526470334Z"); whole seconds print
// without a fraction ("2025-11-24T15:00:57Z"), as the spec's own examples do both.
std::string rfc3339_ns(std::int64_t epoch_ns);
// RFC 3339 UTC with milliseconds ("2025-11-24T15:00:57.526Z").
std::string rfc3339_ms(std::int64_t epoch_ms);

struct MemberRef {
  std::string id;
  std::string email;
  std::string first_name;
  std::string last_name;
  std::string role;
};

// MemberSummary (as in FeatureFlag._maintainer and Team.maintainers).
ojson member_summary(const MemberRef& m);

struct EnvRef {
  std::string key;
  std::string name;
};

// Project without `environments`.
ojson make_project(Rng& r, const std::string& key, const std::string& name, const std::string& id);

// Environment, secrets included (apiKey sdk-<uuid>, mobileKey mob-<uuid>).
ojson make_environment(Rng& r, const std::string& project_key, const std::string& key,
                       const std::string& name, const std::string& id, const std::string& color);

// FeatureFlag flag-<number> with every environment's full configuration. `fresh`: a flag
// just created (version 1, off, no targeting, every date = created).
ojson make_flag(Rng& r, const std::string& project_key, const std::vector<EnvRef>& envs,
                int number, std::int64_t created_ms, std::int64_t end_ms, const MemberRef& maintainer,
                bool fresh);

// UserSegment. Big segments (unbounded) carry no included/excluded lists.
ojson make_segment(Rng& r, const std::string& project_key, const std::string& env_key,
                   const std::string& env_id, const std::string& key, const std::string& name,
                   std::int64_t created_ms, std::int64_t end_ms, bool big);

// The `context` object of a ContextRecord.
ojson make_context_attributes(Rng& r, const std::string& kind, const std::string& key);

// A ContextRecord (lastSeen set separately).
ojson make_context_record(const std::string& project_key, const std::string& env_key,
                          const ojson& context, const std::string& application_id,
                          std::int64_t associated);

ojson make_member(Rng& r, const MemberRef& m, std::int64_t created_ms, std::int64_t last_seen_ms,
                  bool pending, const ojson& teams);

ojson make_team(Rng& r, const std::string& key, const std::string& name, std::int64_t created_ms,
                std::int64_t end_ms);

ojson make_metric(Rng& r, const std::string& project_key, const std::string& key,
                  const std::string& name, std::int64_t created_ms, std::int64_t end_ms,
                  const MemberRef& maintainer);

ojson make_experiment(Rng& r, const std::string& project_key, const std::string& env_key,
                      const std::string& key, const std::string& name, const std::string& flag_key,
                      const std::string& metric_key, std::int64_t created_ms,
                      std::int64_t end_ms, const std::string& maintainer_id, bool archived);

// What an edit did, for the audit entry that records it.
struct Edit {
  std::string action;  // audit access action, e.g. "updateOn"
  std::string title_verb;
  std::string short_description;
  std::string description;  // markdown
  ojson patch;              // JSON patch ops, or null
};

// Changes the flag's targeting in one environment: bumps _version and that
// environment's version, sets its lastModified to now.
Edit change_flag_in_environment(Rng& r, ojson& flag, const std::string& env_key, std::int64_t now_ms);

// Archives the flag (bumps _version).
Edit archive_flag(ojson& flag, std::int64_t now_ms);

// Edits the segment: bumps version, sets lastModifiedDate to now.
Edit edit_segment(Rng& r, ojson& segment, std::int64_t now_ms);

// Changes the team's description (bumps _version, _lastModified = now).
void edit_team(Rng& r, ojson& team, std::int64_t now_ms);

// Changes the metric (bumps _version, new _versionId, lastModified.date = now).
void edit_metric(Rng& r, ojson& metric, std::int64_t now_ms);

// First and last names for members beyond the audit catalog's.
const std::vector<std::string>& first_names();
const std::vector<std::string>& last_names();

}  // namespace ldsim::content
