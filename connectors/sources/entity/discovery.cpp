#include "sources/entity/discovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/normalize.h"

namespace ldx {

bool Selection::all_projects() const { return std::find(projects.begin(), projects.end(), "*") != projects.end(); }
bool Selection::all_environments() const {
  return std::find(environments.begin(), environments.end(), "*") != environments.end();
}
bool Selection::project(std::string_view key) const {
  return all_projects() || std::find(projects.begin(), projects.end(), key) != projects.end();
}
bool Selection::environment(std::string_view key) const {
  return all_environments() || std::find(environments.begin(), environments.end(), key) != environments.end();
}

bool page_has_next(simdjson::dom::element doc, size_t items_on_page, int64_t offset_after,
                   std::string_view total_field) {
  if (items_on_page == 0) return false;
  simdjson::dom::element links;
  if (doc["_links"].get(links) == simdjson::SUCCESS && links.is_object()) {
    simdjson::dom::element next;
    return links["next"].get(next) == simdjson::SUCCESS && !next.is_null();
  }
  auto total = get_int64(doc, total_field);
  return total && offset_after < *total;
}

namespace {

constexpr const char* kProjectsRoute = "GET /api/v2/projects";
constexpr const char* kProjectRoute = "GET /api/v2/projects/{projectKey}";
constexpr const char* kEnvironmentsRoute = "GET /api/v2/projects/{projectKey}/environments";
constexpr int kMaxPages = 100000;  // a server that never stops paging is an error, not a hang

Status read_environment_items(simdjson::dom::array items, const Selection& sel, ProjectInfo& p) {
  for (auto env : items) {
    auto key = get_string(env, "key");
    if (!key) return Status::retryable("project " + p.key + ": an environment without a string key");
    if (!sel.environment(*key)) continue;
    p.environments.push_back({std::string(*key), simdjson::minify(env)});
  }
  return Status::ok();
}

// Every page of GET /api/v2/projects/{p}/environments. found=false on 404.
Status list_environments(EntityClient& client, const Selection& sel, ProjectInfo& p, bool& found) {
  p.environments.clear();
  found = true;
  int64_t offset = 0;
  for (int page = 0; page < kMaxPages; ++page) {
    ApiCall c;
    c.target = "/api/v2/projects/" + url_escape(p.key) + "/environments?limit=" +
               std::to_string(kEnvironmentsPageLimit) + "&offset=" + std::to_string(offset);
    c.route = kEnvironmentsRoute;
    auto a = client.call(c);
    if (!a.is_ok()) return a.status();
    if (a->status == 404) {
      found = false;
      return Status::ok();
    }
    if (a->status != 200) return Status::fatal(c.describe() + ": " + describe_api_error(a->status, a->message));
    simdjson::dom::array items;
    if (a->doc["items"].get(items) != simdjson::SUCCESS) {
      return Status::retryable(c.describe() + ": response has no items array");
    }
    if (auto st = read_environment_items(items, sel, p); !st.is_ok()) return st;
    offset += static_cast<int64_t>(items.size());
    if (!page_has_next(a->doc, items.size(), offset)) return Status::ok();
  }
  return Status::fatal("GET /api/v2/projects/" + p.key + "/environments: more than " + std::to_string(kMaxPages) +
                       " pages; stopping");
}

void sort_environments(ProjectInfo& p) {
  std::sort(p.environments.begin(), p.environments.end(),
            [](const EnvironmentInfo& a, const EnvironmentInfo& b) { return a.key < b.key; });
}

Result<std::vector<ProjectInfo>> discover_all(EntityClient& client, const Selection& sel, const DiscoveryNeeds& needs) {
  std::vector<ProjectInfo> out;
  std::vector<size_t> partial;  // projects whose embedded environment list is incomplete
  int64_t offset = 0;
  for (int page = 0;; ++page) {
    if (page >= kMaxPages) return Status::fatal("GET /api/v2/projects: more than 100000 pages; stopping");
    ApiCall c;
    c.target = "/api/v2/projects?limit=" + std::to_string(kProjectsPageLimit) + "&offset=" + std::to_string(offset);
    if (needs.environments) c.target += "&expand=environments";
    c.route = kProjectsRoute;
    auto a = client.call(c);
    if (!a.is_ok()) return a.status();
    if (a->status != 200) return Status::fatal(c.describe() + ": " + describe_api_error(a->status, a->message));
    simdjson::dom::array items;
    if (a->doc["items"].get(items) != simdjson::SUCCESS) {
      return Status::retryable(c.describe() + ": response has no items array");
    }
    for (auto item : items) {
      auto key = get_string(item, "key");
      if (!key) return Status::retryable(c.describe() + ": a project without a string key");
      ProjectInfo p;
      p.key = std::string(*key);
      if (needs.project_objects) p.raw = simdjson::minify(item);
      if (needs.environments) {
        simdjson::dom::array envs;
        if (item.at_pointer("/environments/items").get(envs) == simdjson::SUCCESS) {
          if (auto st = read_environment_items(envs, sel, p); !st.is_ok()) return st;
          simdjson::dom::element coll;
          std::optional<int64_t> total;
          if (item["environments"].get(coll) == simdjson::SUCCESS) total = get_int64(coll, "totalCount");
          // The embedded collection is one page (API-NOTES §4): follow the endpoint for the rest.
          if (!total || *total > static_cast<int64_t>(envs.size())) partial.push_back(out.size());
        } else {
          partial.push_back(out.size());
        }
      }
      out.push_back(std::move(p));
    }
    offset += static_cast<int64_t>(items.size());
    if (!page_has_next(a->doc, items.size(), offset)) break;
  }
  for (size_t i : partial) {
    bool found = true;
    if (auto st = list_environments(client, sel, out[i], found); !st.is_ok()) return st;
    if (!found) {
      spdlog::info("project {} disappeared while its environments were read; skipped this pass", out[i].key);
      out[i].key.clear();
    }
  }
  std::erase_if(out, [](const ProjectInfo& p) { return p.key.empty(); });
  return out;
}

Result<std::vector<ProjectInfo>> discover_listed(EntityClient& client, const Selection& sel,
                                                 const DiscoveryNeeds& needs) {
  std::vector<std::string> keys = sel.projects;
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<ProjectInfo> out;
  for (const auto& key : keys) {
    ProjectInfo p;
    p.key = key;
    bool found = true;
    if (needs.project_objects) {
      ApiCall c;
      c.target = "/api/v2/projects/" + url_escape(key);
      c.route = kProjectRoute;
      auto a = client.call(c);
      if (!a.is_ok()) return a.status();
      if (a->status == 404) {
        found = false;
      } else if (a->status != 200) {
        return Status::fatal(c.describe() + ": " + describe_api_error(a->status, a->message));
      } else {
        p.raw = simdjson::minify(a->doc);
      }
    }
    if (found && needs.environments) {
      if (auto st = list_environments(client, sel, p, found); !st.is_ok()) return st;
    }
    if (!found) {
      spdlog::warn("launchdarkly.projects lists '{}', but LaunchDarkly has no such project (404); skipped", key);
      continue;
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

Result<std::vector<ProjectInfo>> discover_projects(EntityClient& client, const Selection& sel,
                                                   const DiscoveryNeeds& needs) {
  auto r = sel.all_projects() ? discover_all(client, sel, needs) : discover_listed(client, sel, needs);
  if (!r.is_ok()) return r;
  std::sort(r->begin(), r->end(), [](const ProjectInfo& a, const ProjectInfo& b) { return a.key < b.key; });
  for (auto& p : r.value()) sort_environments(p);
  return r;
}

}  // namespace ldx
