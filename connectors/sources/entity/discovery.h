// Which projects and environments a stream covers (launchdarkly.projects /
// launchdarkly.environments: ["*"] or a list of keys), resolved against the API.
//
// Requests (API-NOTES §4), all paged at the page size below:
//  - projects ["*"]: GET /api/v2/projects (with expand=environments when environments
//    are needed). The embedded environments collection is itself paged: when its
//    totalCount exceeds the items it holds, the project's environments are read from
//    GET /api/v2/projects/{p}/environments instead.
//  - a list of keys: GET /api/v2/projects/{p} for project objects and/or
//    GET /api/v2/projects/{p}/environments; a 404 means the project does not exist
//    (logged, skipped: an exporter does not stop because a project was deleted).
// Environment keys not in the selection are dropped; a listed key a project lacks is
// simply absent for that project.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/status.h"
#include "sources/entity/entity_client.h"

namespace ldx {

struct Selection {
  std::vector<std::string> projects{"*"};
  std::vector<std::string> environments{"*"};
  static Selection from(const LaunchDarklyConfig& ld) { return {ld.projects, ld.environments}; }
  [[nodiscard]] bool all_projects() const;
  [[nodiscard]] bool all_environments() const;
  [[nodiscard]] bool project(std::string_view key) const;
  [[nodiscard]] bool environment(std::string_view key) const;
};

struct EnvironmentInfo {
  std::string key;
  std::string raw;  // the environment object as received (minified, unredacted: redaction happens on output)
};

struct ProjectInfo {
  std::string key;
  std::string raw;  // the project object as received (only when project objects were asked for)
  std::vector<EnvironmentInfo> environments;  // selected ones, sorted by key
};

struct DiscoveryNeeds {
  bool project_objects = false;
  bool environments = false;
};

inline constexpr int kProjectsPageLimit = 100;
inline constexpr int kEnvironmentsPageLimit = 100;

// Projects sorted by key. Retryable/fatal errors as EntityClient::call.
Result<std::vector<ProjectInfo>> discover_projects(EntityClient& client, const Selection& sel,
                                                   const DiscoveryNeeds& needs);

// Shared by every paged list: is there a page after this one? `_links.next` when the
// response has `_links`; else offset arithmetic against `total_field`.
bool page_has_next(simdjson::dom::element doc, size_t items_on_page, int64_t offset_after,
                   std::string_view total_field = "totalCount");

}  // namespace ldx
