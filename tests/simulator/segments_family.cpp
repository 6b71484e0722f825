// segments (API-NOTES §4): GET /api/v2/segments/{projectKey}/{environmentKey}, offset-paged
// (limit default 20, maximum 50; the spec declares no 400 here, so a larger limit is served
// as 50). Default order: creation. `sort` accepts creationDate, lastModified and name,
// `-` for descending, so an incremental client can read sort=-lastModified until it
// reaches its checkpoint. Big segments (unbounded) carry no included/excluded lists.
// Deleted segments disappear from the listing.
// GET /api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}: the UserSegment as the
// listing shows it; 404 for an unknown or deleted segment (or project or environment).
#include <algorithm>
#include <functional>

#include "entity_families.h"
#include "http_util.h"
#include "paging.h"

namespace ldsim {

namespace {

constexpr std::int64_t kMaxLimit = 50;

// Splits a segments filter ("unbounded equals true,query equals \"beta\"") into its terms,
// on commas outside quotes and brackets.
std::vector<std::string> filter_terms(const std::string& filter) {
  std::vector<std::string> terms;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (char c : filter) {
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '[') ++depth;
    if (!quoted && c == ']') --depth;
    if (c == ',' && depth == 0 && !quoted) {
      terms.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  terms.push_back(cur);
  return terms;
}

// One filter term, `field operator value` with a JSON value, as a predicate; nullopt when
// it is not one the simulator supports.
std::optional<std::function<bool(const SegmentRecord&)>> segment_predicate(const std::string& term) {
  const auto sp1 = term.find(' ');
  if (sp1 == std::string::npos) return std::nullopt;
  const auto sp2 = term.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) return std::nullopt;
  const std::string field = term.substr(0, sp1);
  const std::string op = term.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto value = nlohmann::json::parse(term.substr(sp2 + 1), nullptr, false);
  if (value.is_discarded()) return std::nullopt;
  if (field == "unbounded" && op == "equals" && value.is_boolean()) {
    const bool want = value.get<bool>();
    return [want](const SegmentRecord& s) { return s.doc.at("unbounded").get<bool>() == want; };
  }
  if (field == "query" && op == "equals" && value.is_string()) {
    const std::string q = value.get<std::string>();
    return [q](const SegmentRecord& s) {
      return icontains(s.key, q) || icontains(s.doc.at("name").get<std::string>(), q) ||
             icontains(s.doc.value("description", ""), q);
    };
  }
  if ((field == "includedKeys" || field == "excludedKeys" || field == "tags") && op == "anyOf" &&
      value.is_array()) {
    std::vector<std::string> wanted;
    for (const auto& v : value) {
      if (!v.is_string()) return std::nullopt;
      wanted.push_back(v.get<std::string>());
    }
    const auto in = [wanted](const std::string& x) {
      return std::find(wanted.begin(), wanted.end(), x) != wanted.end();
    };
    if (field == "includedKeys") return [in](const SegmentRecord& s) { return in(s.key); };
    if (field == "excludedKeys") return [in](const SegmentRecord& s) { return !in(s.key); };
    return [in](const SegmentRecord& s) {
      for (const auto& t : s.doc.at("tags")) {
        if (in(t.get<std::string>())) return true;
      }
      return false;
    };
  }
  return std::nullopt;
}

void list_segments(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string project_key = req.matches[1];
  const std::string env_key = req.matches[2];
  const auto page = parse_page_request(req, res, PageLimits{20, kMaxLimit, true});
  if (!page) return;

  std::vector<std::function<bool(const SegmentRecord&)>> keep;
  if (req.has_param("filter")) {
    for (const auto& term : filter_terms(req.get_param_value("filter"))) {
      auto pred = segment_predicate(term);
      if (!pred) {
        set_error(res, 400, "invalid_request", "unsupported segment filter '" + term + "'");
        return;
      }
      keep.push_back(std::move(*pred));
    }
  }
  std::string field = "creationDate";
  bool desc = false;
  if (req.has_param("sort")) {
    const std::string sort = req.get_param_value("sort");
    desc = !sort.empty() && sort[0] == '-';
    field = desc ? sort.substr(1) : sort;
    if (field != "creationDate" && field != "lastModified" && field != "name") {
      set_error(res, 400, "invalid_request", "unsupported sort '" + sort + "'");
      return;
    }
  }
  QueryParams params;
  for (const char* name : {"filter", "sort"}) keep_param(req, name, params);

  world.read([&](const WorldData& w) {
    const EnvironmentRecord* e = environment_or_404(w, project_key, env_key, res);
    if (e == nullptr) return;
    // Every order is a stored index (lastModified is kept descending); ascending
    // lastModified and the descending others read it backwards.
    const std::vector<SegmentRecord*>& index = field == "lastModified" ? e->segments_by_modified
                                               : field == "name"       ? e->segments_by_name
                                                                       : e->segments_by_creation;
    const bool backwards = field == "lastModified" ? !desc : desc;
    const std::size_t n = index.size();
    const auto at = [&](std::size_t i) { return index[backwards ? n - 1 - i : i]; };

    std::vector<const SegmentRecord*> selected;
    if (!keep.empty()) {
      for (std::size_t i = 0; i < n; ++i) {
        const SegmentRecord* s = at(i);
        if (std::all_of(keep.begin(), keep.end(), [s](const auto& k) { return k(*s); })) selected.push_back(s);
      }
    }
    const std::size_t total = keep.empty() ? n : selected.size();
    ojson body;
    ojson items = ojson::array();
    const auto [begin, end] = page_bounds(*page, total);
    for (std::size_t i = begin; i < end; ++i) items.push_back((keep.empty() ? at(i) : selected[i])->doc);
    body["items"] = std::move(items);
    body["_links"] = page_links("/api/v2/segments/" + project_key + "/" + env_key, params, *page,
                                static_cast<std::int64_t>(total));
    body["totalCount"] = total;
    set_json(res, 200, body);
  });
}

void get_segment(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string project_key = req.matches[1];
  const std::string env_key = req.matches[2];
  const std::string segment_key = req.matches[3];
  world.read([&](const WorldData& w) {
    const EnvironmentRecord* e = environment_or_404(w, project_key, env_key, res);
    if (e == nullptr) return;
    const auto it = e->segments.find(segment_key);
    if (it == e->segments.end()) {
      set_error(res, 404, "not_found",
                "Unknown segment: " + project_key + "/" + env_key + "/" + segment_key);
      return;
    }
    set_json(res, 200, it->second->doc);
  });
}

}  // namespace

void SegmentsFamily::register_api_routes(ApiRouter& api) {
  api.get("/api/v2/segments/{projectKey}/{environmentKey}",
          [this](const httplib::Request& req, httplib::Response& res) { list_segments(*world_, req, res); });
  api.get("/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}",
          [this](const httplib::Request& req, httplib::Response& res) { get_segment(*world_, req, res); });
}

}  // namespace ldsim
