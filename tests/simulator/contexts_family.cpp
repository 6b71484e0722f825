// contexts (API-NOTES §3):
//   POST /api/v2/projects/{projectKey}/environments/{environmentKey}/contexts/search
// Parameters come either as query parameters or in the JSON body {filter, sort, limit,
// continuationToken}; both at once is a 400, as the spec says. `limit` 1–50 (default 20),
// `sort` ts (lastSeen ascending) or -ts (descending, the default), `includeTotalCount`
// (query only, default true).
//
// The order is (lastSeen, sequence): a context seen again gets a new lastSeen after every
// other one and moves to the end of the ts order, which is how an incremental export
// sees it again. `continuationToken` is present whenever `items` is not empty and names
// the last item's position; a request with it continues strictly after that position
// (in the request's sort order). `_links.next` is present only when more items follow;
// like the spec's examples it points at GET .../contexts?..., which the spec does not
// declare (and the simulator does not serve): re-POST the search with the token instead.
// With --contexts-next-link-only the body has no continuationToken: the one in
// _links.next.href is the only way on (and a last page names no position at all).
#include <algorithm>
#include <cstdio>
#include <functional>

#include "entity_families.h"
#include "http_util.h"
#include "paging.h"

namespace ldsim {

namespace {

constexpr std::int64_t kMaxLimit = 50;
constexpr std::int64_t kDefaultLimit = 20;

using SeenKey = EnvironmentRecord::SeenKey;

std::string encode_token(const SeenKey& k) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llX%016llX", static_cast<unsigned long long>(k.first),
                static_cast<unsigned long long>(k.second));
  return buf;
}

std::optional<SeenKey> decode_token(const std::string& t) {
  if (t.size() != 32) return std::nullopt;
  std::uint64_t parts[2] = {0, 0};
  for (std::size_t i = 0; i < 32; ++i) {
    const char c = t[i];
    std::uint64_t d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<std::uint64_t>(c - '0');
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<std::uint64_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    parts[i / 16] = (parts[i / 16] << 4) | d;
  }
  return SeenKey{static_cast<std::int64_t>(parts[0]), static_cast<std::int64_t>(parts[1])};
}

struct SearchRequest {
  std::string filter;
  std::string sort = "-ts";
  std::int64_t limit = kDefaultLimit;
  std::string token;
  bool include_total = true;
};

using ContextPredicate = std::function<bool(const ContextRecordEntry&)>;

std::string app_of(const ContextRecordEntry& c) { return c.doc.value("applicationId", ""); }

// Filters: comma-separated (AND) terms `field equals "v"` or `field anyOf ["v", ...]` on
// kind, key, kindKey (kind:key) and applicationId. Others are a 400.
std::optional<std::vector<ContextPredicate>> parse_context_filter(const std::string& filter) {
  std::vector<ContextPredicate> preds;
  if (filter.empty()) return preds;
  std::vector<std::string> terms;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (char c : filter) {
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == '[' || c == '(')) ++depth;
    if (!quoted && (c == ']' || c == ')')) --depth;
    if (c == ',' && depth == 0 && !quoted) {
      terms.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  terms.push_back(cur);
  for (std::string term : terms) {
    while (!term.empty() && term.front() == ' ') term.erase(term.begin());
    const auto sp1 = term.find(' ');
    const auto sp2 = sp1 == std::string::npos ? sp1 : term.find(' ', sp1 + 1);
    if (sp2 == std::string::npos) return std::nullopt;
    const std::string field = term.substr(0, sp1);
    const std::string op = term.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto value = nlohmann::json::parse(term.substr(sp2 + 1), nullptr, false);
    std::vector<std::string> wanted;
    if (op == "equals" && value.is_string()) {
      wanted.push_back(value.get<std::string>());
    } else if (op == "anyOf" && value.is_array()) {
      for (const auto& v : value) {
        if (!v.is_string()) return std::nullopt;
        wanted.push_back(v.get<std::string>());
      }
    } else {
      return std::nullopt;
    }
    std::function<std::string(const ContextRecordEntry&)> get;
    if (field == "kind") {
      get = [](const ContextRecordEntry& c) { return c.doc.at("context").at("kind").get<std::string>(); };
    } else if (field == "key") {
      get = [](const ContextRecordEntry& c) { return c.doc.at("context").at("key").get<std::string>(); };
    } else if (field == "kindKey") {
      get = [](const ContextRecordEntry& c) {
        const ojson& ctx = c.doc.at("context");
        return ctx.at("kind").get<std::string>() + ":" + ctx.at("key").get<std::string>();
      };
    } else if (field == "applicationId") {
      get = app_of;
    } else {
      return std::nullopt;
    }
    preds.push_back([get, wanted](const ContextRecordEntry& c) {
      return std::find(wanted.begin(), wanted.end(), get(c)) != wanted.end();
    });
  }
  return preds;
}

// Reads the parameters from the query or the body. Writes a 400 and returns nullopt on
// a bad request.
std::optional<SearchRequest> parse_search(const httplib::Request& req, httplib::Response& res) {
  SearchRequest s;
  static const char* kFields[] = {"filter", "sort", "limit", "continuationToken"};
  bool in_query = false;
  for (const char* f : kFields) in_query = in_query || req.has_param(f);

  nlohmann::json body = nlohmann::json::object();
  if (req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      set_error(res, 400, "invalid_request", "the body must be a JSON object");
      return std::nullopt;
    }
  }
  bool in_body = false;
  for (const char* f : kFields) in_body = in_body || body.contains(f);
  if (in_query && in_body) {
    set_error(res, 400, "invalid_request",
              "send the search parameters either as query parameters or in the body, not both");
    return std::nullopt;
  }

  std::optional<std::int64_t> limit;
  if (in_body) {
    const auto str = [&](const char* f, std::string& out) {
      if (!body.contains(f)) return true;
      if (!body[f].is_string()) return false;
      out = body[f].get<std::string>();
      return true;
    };
    if (!str("filter", s.filter) || !str("sort", s.sort) || !str("continuationToken", s.token)) {
      set_error(res, 400, "invalid_request", "filter, sort and continuationToken must be strings");
      return std::nullopt;
    }
    if (body.contains("limit")) {
      if (!body["limit"].is_number_integer()) {
        set_error(res, 400, "invalid_request", "limit must be an integer");
        return std::nullopt;
      }
      limit = body["limit"].get<std::int64_t>();
    }
  } else {
    if (req.has_param("filter")) s.filter = req.get_param_value("filter");
    if (req.has_param("sort")) s.sort = req.get_param_value("sort");
    if (req.has_param("continuationToken")) s.token = req.get_param_value("continuationToken");
    if (req.has_param("limit")) {
      limit = parse_int64(req.get_param_value("limit"));
      if (!limit) {
        set_error(res, 400, "invalid_request", "limit must be an integer");
        return std::nullopt;
      }
    }
  }
  if (limit) {
    if (*limit < 1 || *limit > kMaxLimit) {
      set_error(res, 400, "invalid_request", "limit must be between 1 and 50");
      return std::nullopt;
    }
    s.limit = *limit;
  }
  if (s.sort != "ts" && s.sort != "-ts") {
    set_error(res, 400, "invalid_request", "sort must be ts or -ts");
    return std::nullopt;
  }
  if (req.has_param("includeTotalCount")) {
    const std::string v = req.get_param_value("includeTotalCount");
    if (v != "true" && v != "false") {
      set_error(res, 400, "invalid_request", "includeTotalCount must be true or false");
      return std::nullopt;
    }
    s.include_total = v == "true";
  }
  return s;
}

std::string contexts_href(const std::string& base, const SearchRequest& s, const std::string& token) {
  std::string href = base + "/contexts?";
  if (!s.filter.empty()) href += "filter=" + url_encode(s.filter) + "&";
  href += "sort=" + url_encode(s.sort) + "&limit=" + std::to_string(s.limit);
  if (!token.empty()) href += "&continuationToken=" + url_encode(token);
  return href;
}

void search_contexts(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string project_key = req.matches[1];
  const std::string env_key = req.matches[2];
  const auto s = parse_search(req, res);
  if (!s) return;
  const auto preds = parse_context_filter(s->filter);
  if (!preds) {
    set_error(res, 400, "invalid_request", "unsupported context filter '" + s->filter + "'");
    return;
  }
  std::optional<SeenKey> after;
  if (!s->token.empty()) {
    after = decode_token(s->token);
    if (!after) {
      set_error(res, 400, "invalid_request", "invalid continuationToken");
      return;
    }
  }
  const auto matches = [&](const ContextRecordEntry& c) {
    return std::all_of(preds->begin(), preds->end(), [&c](const auto& p) { return p(c); });
  };

  world.read([&](const WorldData& w) {
    const EnvironmentRecord* e = environment_or_404(w, project_key, env_key, res);
    if (e == nullptr) return;
    const auto& index = e->contexts_by_seen;
    ojson items = ojson::array();
    std::optional<SeenKey> last;
    bool more = false;
    const auto visit = [&](const ContextRecordEntry& c, const SeenKey& k) {
      if (!matches(c)) return true;
      if (static_cast<std::int64_t>(items.size()) == s->limit) {
        more = true;
        return false;
      }
      items.push_back(c.doc);
      last = k;
      return true;
    };
    if (s->sort == "ts") {
      auto it = after ? index.upper_bound(*after) : index.begin();
      for (; it != index.end(); ++it) {
        if (!visit(*it->second, it->first)) break;
      }
    } else {
      auto it = after ? index.lower_bound(*after) : index.end();
      while (it != index.begin()) {
        --it;
        if (!visit(*it->second, it->first)) break;
      }
    }

    const std::string base = "/api/v2/projects/" + project_key + "/environments/" + env_key;
    ojson body;
    ojson links;
    if (more) links["next"] = make_link(contexts_href(base, *s, encode_token(*last)));
    links["self"] = make_link(contexts_href(base, *s, s->token));
    body["_links"] = links;
    if (s->include_total) {
      std::int64_t total = 0;
      if (preds->empty()) {
        total = static_cast<std::int64_t>(index.size());
      } else {
        for (const auto& [k, c] : index) total += matches(*c) ? 1 : 0;
      }
      body["totalCount"] = total;
    }
    body["_environmentId"] = e->id;
    // --contexts-next-link-only: the token only in _links.next.href.
    if (last && !world.config().contexts_next_link_only) body["continuationToken"] = encode_token(*last);
    body["items"] = std::move(items);
    set_json(res, 200, body);
  });
}

}  // namespace

void ContextsFamily::register_api_routes(ApiRouter& api) {
  api.post("/api/v2/projects/{projectKey}/environments/{environmentKey}/contexts/search",
           [this](const httplib::Request& req, httplib::Response& res) { search_contexts(*world_, req, res); });
}

}  // namespace ldsim
