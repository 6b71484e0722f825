// flags (API-NOTES §2):
//   GET /api/v2/flags/{projectKey}: offset-paged in creation order (limit default 20; the
//     spec gives no maximum, the simulator allows 100). Unarchived flags only unless
//     filter=state:archived (or the deprecated archived=true). Items carry the
//     `environments` map only when the request names environments (env=, repeatable);
//     without summary=0 each configuration omits prerequisites, targets, contextTargets
//     and rules (its `_summary` counts them instead).
//   GET /api/v2/flags/{projectKey}/{featureFlagKey}: every environment unless env= is
//     given, with full targeting; archived flags too; 404 once deleted.
#include <algorithm>
#include <functional>

#include "entity_families.h"
#include "http_util.h"
#include "paging.h"

namespace ldsim {

namespace {

constexpr std::int64_t kMaxLimit = 100;

// FlagSummary of one configuration: per-variation counts, as the UI shows them.
ojson flag_summary(const ojson& config, std::size_t n_variations) {
  ojson variations = ojson::object();
  for (std::size_t i = 0; i < n_variations; ++i) {
    const auto v = static_cast<std::int64_t>(i);
    std::int64_t rules = 0;
    std::int64_t rollouts = 0;
    for (const auto& r : config.at("rules")) {
      if (r.contains("variation") && r["variation"] == v) ++rules;
      if (r.contains("rollout")) ++rollouts;
    }
    const auto count_targets = [v](const ojson& list) {
      std::int64_t n = 0;
      for (const auto& t : list) {
        if (t["variation"] == v) n += static_cast<std::int64_t>(t["values"].size());
      }
      return n;
    };
    ojson s;
    s["rules"] = rules;
    s["nullRules"] = 0;
    s["targets"] = count_targets(config.at("targets"));
    s["contextTargets"] = count_targets(config.at("contextTargets"));
    const ojson& fallthrough = config.at("fallthrough");
    if (fallthrough.contains("variation") && fallthrough["variation"] == v) s["isFallthrough"] = true;
    if (config.at("offVariation") == v) s["isOff"] = true;
    if (rollouts > 0 || fallthrough.contains("rollout")) {
      s["rollout"] = rollouts + (fallthrough.contains("rollout") ? 1 : 0);
    }
    variations[std::to_string(i)] = s;
  }
  ojson summary;
  summary["variations"] = variations;
  summary["prerequisites"] = config.at("prerequisites").size();
  return summary;
}

struct FlagView {
  bool with_environments = true;      // false: no `environments` map at all
  const std::vector<std::string>* envs = nullptr;  // null: every environment
  bool summary = false;               // true: omit targeting lists
};

ojson render_flag(const ojson& doc, const FlagView& view) {
  ojson out;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "environments") {
      out[it.key()] = it.value();
      continue;
    }
    if (!view.with_environments) continue;
    ojson envs = ojson::object();
    const std::size_t n_variations = doc.at("variations").size();
    for (auto e = it.value().begin(); e != it.value().end(); ++e) {
      if (view.envs != nullptr &&
          std::find(view.envs->begin(), view.envs->end(), e.key()) == view.envs->end()) {
        continue;
      }
      ojson config = e.value();
      config["_summary"] = flag_summary(config, n_variations);
      if (view.summary) {
        for (const char* k : {"prerequisites", "targets", "contextTargets", "rules"}) config.erase(k);
      }
      envs[e.key()] = std::move(config);
    }
    out["environments"] = std::move(envs);
  }
  return out;
}

std::vector<std::string> env_params(const httplib::Request& req) {
  std::vector<std::string> envs;
  const std::size_t n = req.get_param_value_count("env");
  for (std::size_t i = 0; i < n; ++i) envs.push_back(req.get_param_value("env", i));
  return envs;
}

void list_flags(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string project_key = req.matches[1];
  const auto page = parse_page_request(req, res, PageLimits{20, kMaxLimit, false});
  if (!page) return;

  // state: "" (default: every unarchived flag), live, deprecated or archived.
  std::string state;
  if (req.get_param_value("archived") == "true") state = "archived";
  std::vector<std::function<bool(const FlagRecord&)>> keep;
  if (req.has_param("filter")) {
    const auto filters = parse_field_filters(req.get_param_value("filter"));
    if (!filters) {
      set_error(res, 400, "invalid_request", "filter must be field:value,...");
      return;
    }
    for (const auto& [field, value] : *filters) {
      if (field == "state" && (value == "live" || value == "deprecated" || value == "archived")) {
        state = value;
      } else if (field == "query") {
        keep.push_back([value = value](const FlagRecord& f) {
          return icontains(f.key, value) || icontains(f.doc.at("name").get<std::string>(), value);
        });
      } else if (field == "tags") {
        keep.push_back([value = value](const FlagRecord& f) { return has_all_tags(f.doc, value); });
      } else {
        set_error(res, 400, "invalid_request", "unsupported filter '" + field + ":" + value + "'");
        return;
      }
    }
  }
  if (req.has_param("tag")) {
    keep.push_back([tag = req.get_param_value("tag")](const FlagRecord& f) { return has_all_tags(f.doc, tag); });
  }
  if (state == "live") {
    keep.push_back([](const FlagRecord& f) { return !f.doc.at("deprecated").get<bool>(); });
  } else if (state == "deprecated") {
    keep.push_back([](const FlagRecord& f) { return f.doc.at("deprecated").get<bool>(); });
  }
  std::function<bool(const FlagRecord*, const FlagRecord*)> order;
  if (req.has_param("sort")) {
    const std::string sort = req.get_param_value("sort");
    const bool desc = !sort.empty() && sort[0] == '-';
    const std::string field = desc ? sort.substr(1) : sort;
    if (field == "creationDate") {
      order = [desc](const FlagRecord* a, const FlagRecord* b) { return desc ? a->seq > b->seq : a->seq < b->seq; };
    } else if (field == "key" || field == "name") {
      order = [desc, field](const FlagRecord* a, const FlagRecord* b) {
        const std::string& x = field == "key" ? a->key : a->doc.at("name").get_ref<const std::string&>();
        const std::string& y = field == "key" ? b->key : b->doc.at("name").get_ref<const std::string&>();
        if (x != y) return desc ? x > y : x < y;
        return a->seq < b->seq;
      };
    } else {
      set_error(res, 400, "invalid_request", "unsupported sort '" + sort + "'");
      return;
    }
  }

  const std::vector<std::string> envs = env_params(req);
  const std::string summary_param = req.get_param_value("summary");
  FlagView view;
  view.with_environments = !envs.empty();
  view.envs = &envs;
  view.summary = !(summary_param == "0" || summary_param == "false");

  QueryParams params;
  for (const char* name : {"env", "summary", "filter", "archived", "tag", "sort", "expand"}) {
    keep_param(req, name, params);
  }

  world.read([&](const WorldData& w) {
    const ProjectRecord* p = w.project(project_key);
    if (p == nullptr) {
      set_error(res, 404, "not_found", "Unknown project: " + project_key);
      return;
    }
    const std::vector<FlagRecord*>& base = state == "archived" ? p->archived_flags : p->unarchived_flags;
    // The default listing is a slice of the stored order: O(limit). Filters and sorts
    // build their own list.
    std::vector<const FlagRecord*> selected;
    const bool direct = keep.empty() && !order;
    if (!direct) {
      for (const FlagRecord* f : base) {
        if (std::all_of(keep.begin(), keep.end(), [f](const auto& k) { return k(*f); })) selected.push_back(f);
      }
      if (order) std::stable_sort(selected.begin(), selected.end(), order);
    }
    const std::size_t total = direct ? base.size() : selected.size();
    ojson body;
    body["_links"] = page_links("/api/v2/flags/" + project_key, params, *page,
                                static_cast<std::int64_t>(total));
    body["totalCount"] = total;
    ojson items = ojson::array();
    const auto [begin, end] = page_bounds(*page, total);
    for (std::size_t i = begin; i < end; ++i) {
      items.push_back(render_flag((direct ? base[i] : selected[i])->doc, view));
    }
    body["items"] = std::move(items);
    set_json(res, 200, body);
  });
}

void get_flag(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string project_key = req.matches[1];
  const std::string flag_key = req.matches[2];
  const std::vector<std::string> envs = env_params(req);
  FlagView view;
  view.envs = envs.empty() ? nullptr : &envs;
  world.read([&](const WorldData& w) {
    const ProjectRecord* p = w.project(project_key);
    if (p == nullptr) {
      set_error(res, 404, "not_found", "Unknown project: " + project_key);
      return;
    }
    const auto it = p->flags.find(flag_key);
    if (it == p->flags.end()) {
      set_error(res, 404, "not_found", "Unknown flag: " + project_key + "/" + flag_key);
      return;
    }
    set_json(res, 200, render_flag(it->second->doc, view));
  });
}

}  // namespace

void FlagsFamily::register_api_routes(ApiRouter& api) {
  api.get("/api/v2/flags/{projectKey}", [this](const httplib::Request& req, httplib::Response& res) {
    list_flags(*world_, req, res);
  });
  api.get("/api/v2/flags/{projectKey}/{featureFlagKey}",
          [this](const httplib::Request& req, httplib::Response& res) { get_flag(*world_, req, res); });
}

}  // namespace ldsim
