// What the simulated audit log talks about: a small fictional account (projects,
// environments, members, tokens, flags, segments) and realistic audit entries about it.
//
// An entry is stored compactly (AuditContent) and rendered to JSON on demand, so large
// data sets stay small in memory; the detailed representation (previousVersion,
// currentVersion, delta) is re-derived from the entry's own seed, so it is the same on
// every request and across restarts with the same --seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rng.h"

namespace ldsim::audit {

struct Catalog {
  struct Project {
    std::string key;
    std::string name;
    std::string id;
  };
  struct Environment {
    std::string key;
    std::string name;
    std::string color;
  };
  struct Member {
    std::string id;
    std::string email;
    std::string first_name;
    std::string last_name;
    std::string role;
  };
  struct Token {
    std::string id;
    std::string name;
    std::string ending;
    bool service = false;
  };

  std::string account_id;
  std::vector<Project> projects;          // 2-3
  std::vector<Environment> environments;  // production, test
  std::vector<Member> members;
  std::vector<Token> tokens;
  int flags_per_project = 40;
  std::vector<std::string> segments;

  static Catalog generate(std::uint64_t seed);
};

enum class Change {
  kFlagTurnOn,
  kFlagTurnOff,
  kFlagAddRule,
  kFlagAddTarget,
  kFlagCreate,
  kSegmentCreate,
  kSegmentUpdateIncluded,
  kEnvironmentUpdate,
  kEnvironmentResetSdkKey,
  kMemberRoleChange,
  kMemberInvite,
  kProjectUpdateTags,
};

// The stored, compact form of one entry's content.
struct AuditContent {
  Change change = Change::kFlagTurnOn;
  std::uint16_t project = 0;      // index into Catalog::projects
  std::uint16_t environment = 0;  // index into Catalog::environments
  std::uint16_t object = 0;       // flag number, segment index or member index
  bool actor_is_member = true;
  std::uint16_t actor = 0;        // index into members or tokens
  std::int16_t comment = -1;      // index into the comment pool, -1 = none
  std::uint64_t detail_seed = 0;  // drives the detailed representation
};

// The name of the flag with key flag-<n> ("Search v2 3"), shared with the flags family
// so that generated audit entries and the flags list agree.
std::string flag_display_name(int n);

// Draws the content of one entry.
AuditContent generate_content(Rng& rng, const Catalog& catalog);

// Texts derived from the content (used both for rendering and for q/spec filtering).
struct Description {
  std::string kind;
  std::string action;
  std::string resource;  // accesses[0].resource and target.resources[0]
  std::string name;      // the resource's name
  std::string description;
  std::string short_description;
  std::string title_verb;
  std::string canonical_href;
  std::string site_href;
};

Description describe(const AuditContent& c, const Catalog& catalog);

// AuditLogEntryListingRep.
nlohmann::ordered_json render_listing(const std::string& id, std::int64_t date,
                                      const AuditContent& c, const Catalog& catalog);

// AuditLogEntryRep: the listing plus previousVersion, currentVersion, delta, subentries.
nlohmann::ordered_json render_detail(const std::string& id, std::int64_t date,
                                     const AuditContent& c, const Catalog& catalog);

// An entry about a change the simulator made to one of its own entities (a mutation of
// a flag or a segment, see entity_world.h). Unlike generated entries, its texts and its
// before/after representations are given, so they name the entities the API serves.
struct EntityChange {
  Description text;  // kind, action, resource, name, descriptions, hrefs
  std::string project_key;
  std::string project_name;
  bool actor_is_member = true;
  std::uint16_t actor = 0;  // index into Catalog::members or Catalog::tokens
  std::string comment;      // empty = none
  nlohmann::ordered_json previous;  // null when the entity was created
  nlohmann::ordered_json current;   // null when it was deleted
  nlohmann::ordered_json patch;     // JSON patch ops, or null (semantic patch)
};

nlohmann::ordered_json render_change_listing(const std::string& id, std::int64_t date,
                                             const EntityChange& change, const Catalog& catalog);
nlohmann::ordered_json render_change_detail(const std::string& id, std::int64_t date,
                                            const EntityChange& change, const Catalog& catalog);

}  // namespace ldsim::audit
