// metrics and experiments (API-NOTES §4):
//   GET /api/v2/metrics/{projectKey}: offset-paged in creation order, limit default 20,
//     maximum 50 (served as 50 above: no 400 is declared); sort createdAt or name;
//     expand=experimentCount. `lastModified` is {date: RFC 3339}, not ms.
//   GET /api/v2/projects/{projectKey}/environments/{environmentKey}/experiments (beta):
//     403 unless `LD-API-Version: beta`; lifecycleState active (default), archived or
//     both; the collection's count is snake_case `total_count`.
//   GET /api/v2/metrics/{projectKey}/{metricKey} and GET .../experiments/{experimentKey}
//     (beta too) serve one metric or experiment as the listing shows it (an archived
//     experiment as well); 404 for an unknown one, or one of a deleted project or
//     environment.
#include <algorithm>

#include "entity_families.h"
#include "http_util.h"
#include "paging.h"

namespace ldsim {

namespace {

// A metric as served: `experimentCount` only with expand=experimentCount.
ojson render_metric(const MetricRecord& m, bool experiment_count) {
  ojson j = m.doc;
  if (!experiment_count) j.erase("experimentCount");
  return j;
}

// Beta resources need the beta version header on every call (API-NOTES §0). Writes the
// 403 and returns false without it.
bool beta_header(const httplib::Request& req, httplib::Response& res) {
  if (req.get_header_value("LD-API-Version") == "beta") return true;
  set_error(res, 403, "forbidden", "This is a beta resource: send the header LD-API-Version: beta");
  return false;
}

void list_metrics(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string project_key = req.matches[1];
  const auto page = parse_page_request(req, res, PageLimits{20, 50, true});
  if (!page) return;
  if (req.has_param("filter")) {
    set_error(res, 400, "invalid_request", "the simulator does not support metric filters");
    return;
  }
  bool by_name = false;
  bool desc = false;
  if (req.has_param("sort")) {
    const std::string sort = req.get_param_value("sort");
    desc = !sort.empty() && sort[0] == '-';
    const std::string field = desc ? sort.substr(1) : sort;
    if (field != "createdAt" && field != "name") {
      set_error(res, 400, "invalid_request", "unsupported sort '" + sort + "'");
      return;
    }
    by_name = field == "name";
  }
  const bool experiment_count = has_expand(req, "experimentCount");
  QueryParams params;
  for (const char* name : {"sort", "expand"}) keep_param(req, name, params);

  world.read([&](const WorldData& w) {
    const ProjectRecord* p = w.project(project_key);
    if (p == nullptr) {
      set_error(res, 404, "not_found", "Unknown project: " + project_key);
      return;
    }
    const std::size_t n = p->metrics.size();
    const auto at = [&](std::size_t i) -> const MetricRecord* {
      const std::size_t k = desc ? n - 1 - i : i;
      return by_name ? p->metrics_by_name[k] : p->metrics[k].get();
    };
    ojson body;
    ojson items = ojson::array();
    const auto [begin, end] = page_bounds(*page, n);
    for (std::size_t i = begin; i < end; ++i) items.push_back(render_metric(*at(i), experiment_count));
    body["items"] = std::move(items);
    body["_links"] = page_links("/api/v2/metrics/" + project_key, params, *page,
                                static_cast<std::int64_t>(n));
    body["totalCount"] = n;
    set_json(res, 200, body);
  });
}

void list_experiments(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string project_key = req.matches[1];
  const std::string env_key = req.matches[2];
  if (!beta_header(req, res)) return;
  const auto page = parse_page_request(req, res, PageLimits{20, 0, false});
  if (!page) return;
  if (req.has_param("filter")) {
    set_error(res, 400, "invalid_request", "the simulator does not support experiment filters");
    return;
  }
  bool active = true;
  bool archived = false;
  if (req.has_param("lifecycleState")) {
    active = archived = false;
    for (const auto& state : split(req.get_param_value("lifecycleState"), ',')) {
      if (state == "active") {
        active = true;
      } else if (state == "archived") {
        archived = true;
      } else {
        set_error(res, 400, "invalid_request", "lifecycleState must list active and/or archived");
        return;
      }
    }
  }
  QueryParams params;
  for (const char* name : {"lifecycleState", "expand"}) keep_param(req, name, params);

  world.read([&](const WorldData& w) {
    const EnvironmentRecord* e = environment_or_404(w, project_key, env_key, res);
    if (e == nullptr) return;
    std::vector<const ExperimentRecord*> selected;
    for (const auto& x : e->experiments) {
      if (x->archived() ? archived : active) selected.push_back(x.get());
    }
    ojson body;
    ojson items = ojson::array();
    const auto [begin, end] = page_bounds(*page, selected.size());
    for (std::size_t i = begin; i < end; ++i) items.push_back(selected[i]->doc);
    body["items"] = std::move(items);
    body["total_count"] = selected.size();
    body["_links"] = page_links(
        "/api/v2/projects/" + project_key + "/environments/" + env_key + "/experiments", params,
        *page, static_cast<std::int64_t>(selected.size()));
    set_json(res, 200, body);
  });
}

void get_metric(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string project_key = req.matches[1];
  const std::string metric_key = req.matches[2];
  const bool experiment_count = has_expand(req, "experimentCount");
  world.read([&](const WorldData& w) {
    const ProjectRecord* p = w.project(project_key);
    if (p == nullptr) {
      set_error(res, 404, "not_found", "Unknown project: " + project_key);
      return;
    }
    for (const auto& m : p->metrics) {
      if (m->key == metric_key) {
        set_json(res, 200, render_metric(*m, experiment_count));
        return;
      }
    }
    set_error(res, 404, "not_found", "Unknown metric: " + project_key + "/" + metric_key);
  });
}

void get_experiment(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string project_key = req.matches[1];
  const std::string env_key = req.matches[2];
  const std::string experiment_key = req.matches[3];
  if (!beta_header(req, res)) return;
  world.read([&](const WorldData& w) {
    const EnvironmentRecord* e = environment_or_404(w, project_key, env_key, res);
    if (e == nullptr) return;
    for (const auto& x : e->experiments) {
      if (x->key == experiment_key) {
        set_json(res, 200, x->doc);
        return;
      }
    }
    set_error(res, 404, "not_found",
              "Unknown experiment: " + project_key + "/" + env_key + "/" + experiment_key);
  });
}

}  // namespace

void MetricsFamily::register_api_routes(ApiRouter& api) {
  api.get("/api/v2/metrics/{projectKey}",
          [this](const httplib::Request& req, httplib::Response& res) { list_metrics(*world_, req, res); });
  api.get("/api/v2/metrics/{projectKey}/{metricKey}",
          [this](const httplib::Request& req, httplib::Response& res) { get_metric(*world_, req, res); });
}

void ExperimentsFamily::register_api_routes(ApiRouter& api) {
  api.get("/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments",
          [this](const httplib::Request& req, httplib::Response& res) {
            list_experiments(*world_, req, res);
          });
  api.get("/api/v2/projects/{projectKey}/environments/{environmentKey}/experiments/{experimentKey}",
          [this](const httplib::Request& req, httplib::Response& res) {
            get_experiment(*world_, req, res);
          });
}

}  // namespace ldsim
