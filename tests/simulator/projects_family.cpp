// projects and environments (API-NOTES §4): offset-paged, no timestamps or versions.
// `expand=environments` embeds each project's environments as a collection that is
// itself paginated (the first page of 20, with totalCount and a `next` link when more
// exist), so a client must follow it to see every environment.
// GET /api/v2/projects/{projectKey} and GET .../environments/{environmentKey} serve one
// project or environment; 404 once it is deleted.
#include <algorithm>
#include <functional>

#include "entity_families.h"
#include "http_util.h"
#include "paging.h"

namespace ldsim {

namespace {

constexpr std::int64_t kEmbeddedEnvironments = 20;

ojson embedded_environments(const ProjectRecord& p) {
  const std::string path = "/api/v2/projects/" + p.key + "/environments";
  PageRequest page{kEmbeddedEnvironments, 0};
  const auto total = static_cast<std::int64_t>(p.environments.size());
  ojson env;
  ojson links = page_links(path, {}, page, total);
  // The embedded collection only names itself and the next page.
  ojson kept = ojson::object();
  if (links.contains("next")) kept["next"] = links["next"];
  kept["self"] = links["self"];
  env["_links"] = kept;
  env["totalCount"] = total;
  ojson items = ojson::array();
  const auto [begin, end] = page_bounds(page, p.environments.size());
  for (std::size_t i = begin; i < end; ++i) items.push_back(p.environments[i]->doc);
  env["items"] = items;
  return env;
}

ojson render_project(const ProjectRecord& p, bool with_environments) {
  ojson j = p.doc;
  if (with_environments) j["environments"] = embedded_environments(p);
  return j;
}

bool matches_query(const std::string& key, const std::string& name, const std::string& query) {
  return icontains(key, query) || icontains(name, query);
}

// filter and sort of the projects and environments lists. Returns false (with a 400 in
// `res`) on an unsupported filter field or sort.
template <class Rec>
bool filter_and_sort(const httplib::Request& req, httplib::Response& res, std::vector<const Rec*>& recs,
                     bool allow_keys) {
  if (req.has_param("filter")) {
    const auto filters = parse_field_filters(req.get_param_value("filter"));
    if (!filters) {
      set_error(res, 400, "invalid_request", "filter must be field:value,...");
      return false;
    }
    for (const auto& [field, value] : *filters) {
      std::function<bool(const Rec*)> keep;
      if (field == "query") {
        keep = [&value](const Rec* r) { return matches_query(r->key, r->name, value); };
      } else if (field == "tags") {
        keep = [&value](const Rec* r) { return has_all_tags(r->doc, value); };
      } else if (field == "keys" && allow_keys) {
        keep = [&value](const Rec* r) {
          const auto keys = split(value, '|');
          return std::find(keys.begin(), keys.end(), r->key) != keys.end();
        };
      } else {
        set_error(res, 400, "invalid_request", "unsupported filter field '" + field + "'");
        return false;
      }
      recs.erase(std::remove_if(recs.begin(), recs.end(), [&](const Rec* r) { return !keep(r); }),
                 recs.end());
    }
  }
  if (req.has_param("sort")) {
    const std::string sort = req.get_param_value("sort");
    const bool desc = !sort.empty() && sort[0] == '-';
    const std::string field = desc ? sort.substr(1) : sort;
    if (field == "name") {
      std::stable_sort(recs.begin(), recs.end(), [](const Rec* a, const Rec* b) { return a->name < b->name; });
    } else if (field != "createdOn") {  // creation order is the stored order
      set_error(res, 400, "invalid_request", "unsupported sort '" + sort + "'");
      return false;
    }
    if (desc) std::reverse(recs.begin(), recs.end());
  }
  return true;
}

QueryParams listing_params(const httplib::Request& req) {
  QueryParams params;
  for (const char* name : {"filter", "sort", "expand"}) keep_param(req, name, params);
  return params;
}

}  // namespace

void ProjectsFamily::register_api_routes(ApiRouter& api) {
  api.get("/api/v2/projects", [this](const httplib::Request& req, httplib::Response& res) {
    const auto page = parse_page_request(req, res, PageLimits{20, 0, false});
    if (!page) return;
    const bool with_envs = has_expand(req, "environments");
    world_->read([&](const WorldData& w) {
      std::vector<const ProjectRecord*> recs;
      for (const auto& p : w.projects) recs.push_back(p.get());
      if (!filter_and_sort(req, res, recs, true)) return;
      ojson body;
      body["_links"] = page_links("/api/v2/projects", listing_params(req), *page,
                                  static_cast<std::int64_t>(recs.size()));
      body["totalCount"] = recs.size();
      ojson items = ojson::array();
      const auto [begin, end] = page_bounds(*page, recs.size());
      for (std::size_t i = begin; i < end; ++i) items.push_back(render_project(*recs[i], with_envs));
      body["items"] = std::move(items);
      set_json(res, 200, body);
    });
  });

  api.get("/api/v2/projects/{projectKey}", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string key = req.matches[1];
    const bool with_envs = has_expand(req, "environments");
    world_->read([&](const WorldData& w) {
      const ProjectRecord* p = w.project(key);
      if (p == nullptr) {
        set_error(res, 404, "not_found", "Unknown project: " + key);
        return;
      }
      set_json(res, 200, render_project(*p, with_envs));
    });
  });
}

void EnvironmentsFamily::register_api_routes(ApiRouter& api) {
  api.get("/api/v2/projects/{projectKey}/environments",
          [this](const httplib::Request& req, httplib::Response& res) {
            const std::string key = req.matches[1];
            const auto page = parse_page_request(req, res, PageLimits{20, 0, false});
            if (!page) return;
            world_->read([&](const WorldData& w) {
              const ProjectRecord* p = w.project(key);
              if (p == nullptr) {
                set_error(res, 404, "not_found", "Unknown project: " + key);
                return;
              }
              std::vector<const EnvironmentRecord*> recs;
              for (const auto& e : p->environments) recs.push_back(e.get());
              if (!filter_and_sort(req, res, recs, false)) return;
              ojson body;
              body["_links"] = page_links("/api/v2/projects/" + key + "/environments",
                                          listing_params(req), *page,
                                          static_cast<std::int64_t>(recs.size()));
              body["totalCount"] = recs.size();
              ojson items = ojson::array();
              const auto [begin, end] = page_bounds(*page, recs.size());
              for (std::size_t i = begin; i < end; ++i) items.push_back(recs[i]->doc);
              body["items"] = std::move(items);
              set_json(res, 200, body);
            });
          });

  // One Environment (as the listing shows it); 404 for an unknown or deleted project or
  // environment.
  api.get("/api/v2/projects/{projectKey}/environments/{environmentKey}",
          [this](const httplib::Request& req, httplib::Response& res) {
            const std::string key = req.matches[1];
            const std::string env_key = req.matches[2];
            world_->read([&](const WorldData& w) {
              const EnvironmentRecord* e = environment_or_404(w, key, env_key, res);
              if (e == nullptr) return;
              set_json(res, 200, e->doc);
            });
          });
}

}  // namespace ldsim
