// members and teams (API-NOTES §4), both offset-paged in creation order:
//   GET /api/v2/members: limit default 20, maximum 1000 (a larger limit is served as
//     1000: the spec declares no 400 here); filter query, role, id, email; sort
//     displayName or lastSeen; members have no version field.
//   GET /api/v2/teams: limit default 20, maximum 100 (served as 100 above); filter query,
//     nomembers; expand members, roles, roleAttributes, maintainers. Teams carry _version.
//   GET /api/v2/members/{id} and GET /api/v2/teams/{teamKey}: one member or team as the
//     listing shows it (with the same expands); 404 for an unknown or removed one.
#include <algorithm>
#include <functional>
#include <unordered_map>

#include "entity_families.h"
#include "http_util.h"
#include "paging.h"

namespace ldsim {

namespace {

std::string display_name(const ojson& m) {
  const std::string first = m.value("firstName", "");
  const std::string last = m.value("lastName", "");
  if (first.empty() && last.empty()) return m.at("email").get<std::string>();
  return first + " " + last;
}

bool in_pipe_list(const std::string& list, const std::string& x) {
  const auto parts = split(list, '|');
  return std::find(parts.begin(), parts.end(), x) != parts.end();
}

ojson render_member(const MemberRecord& m, bool role_attributes) {
  ojson j = m.doc;
  if (role_attributes) j["roleAttributes"] = ojson::object();
  return j;
}

struct TeamExpand {
  bool members = false;
  bool roles = false;
  bool role_attributes = false;
  bool maintainers = false;
  explicit TeamExpand(const httplib::Request& req)
      : members(has_expand(req, "members")),
        roles(has_expand(req, "roles")),
        role_attributes(has_expand(req, "roleAttributes")),
        maintainers(has_expand(req, "maintainers")) {}
};

// Members per team key, for expand=members and filter=nomembers.
std::unordered_map<std::string, std::int64_t> team_member_counts(const WorldData& w) {
  std::unordered_map<std::string, std::int64_t> count;
  for (const auto& m : w.members) {
    for (const auto& t : m->doc.at("teams")) ++count[t.at("key").get<std::string>()];
  }
  return count;
}

ojson render_team(const TeamRecord& t, const TeamExpand& x, std::int64_t member_count) {
  ojson j = t.doc;
  if (x.members) j["members"] = {{"totalCount", member_count}};
  if (x.roles) {
    j["roles"] = {{"totalCount", t.roles.size()},
                  {"items", t.roles},
                  {"_links", {{"self", make_link("/api/v2/teams/" + t.key + "/roles")}}}};
  }
  if (x.role_attributes) j["roleAttributes"] = ojson::object();
  if (x.maintainers) {
    j["maintainers"] = {{"totalCount", t.maintainers.size()},
                        {"items", t.maintainers},
                        {"_links", {{"self", make_link("/api/v2/teams/" + t.key + "/maintainers")}}}};
  }
  return j;
}

void list_members(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const auto page = parse_page_request(req, res, PageLimits{20, 1000, true});
  if (!page) return;
  std::vector<std::function<bool(const ojson&)>> keep;
  if (req.has_param("filter")) {
    const auto filters = parse_field_filters(req.get_param_value("filter"));
    if (!filters) {
      set_error(res, 400, "invalid_request", "filter must be field:value,...");
      return;
    }
    for (const auto& [field, value] : *filters) {
      if (field == "query") {
        keep.push_back([value = value](const ojson& m) {
          return icontains(m.at("email").get<std::string>(), value) || icontains(display_name(m), value);
        });
      } else if (field == "role") {
        keep.push_back([value = value](const ojson& m) { return in_pipe_list(value, m.at("role").get<std::string>()); });
      } else if (field == "id") {
        keep.push_back([value = value](const ojson& m) { return in_pipe_list(value, m.at("_id").get<std::string>()); });
      } else if (field == "email") {
        keep.push_back([value = value](const ojson& m) { return in_pipe_list(value, m.at("email").get<std::string>()); });
      } else {
        set_error(res, 400, "invalid_request", "unsupported filter field '" + field + "'");
        return;
      }
    }
  }
  std::function<bool(const MemberRecord*, const MemberRecord*)> order;
  if (req.has_param("sort")) {
    const std::string sort = req.get_param_value("sort");
    const bool desc = !sort.empty() && sort[0] == '-';
    const std::string field = desc ? sort.substr(1) : sort;
    if (field == "displayName") {
      order = [desc](const MemberRecord* a, const MemberRecord* b) {
        const std::string x = display_name(a->doc);
        const std::string y = display_name(b->doc);
        return desc ? x > y : x < y;
      };
    } else if (field == "lastSeen") {
      order = [desc](const MemberRecord* a, const MemberRecord* b) {
        const auto x = a->doc.at("_lastSeen").get<std::int64_t>();
        const auto y = b->doc.at("_lastSeen").get<std::int64_t>();
        return desc ? x > y : x < y;
      };
    } else {
      set_error(res, 400, "invalid_request", "unsupported sort '" + sort + "'");
      return;
    }
  }
  const bool role_attributes = has_expand(req, "roleAttributes");
  QueryParams params;
  for (const char* name : {"filter", "sort", "expand"}) keep_param(req, name, params);

  world.read([&](const WorldData& w) {
    std::vector<const MemberRecord*> selected;
    const bool direct = keep.empty() && !order;
    if (!direct) {
      for (const auto& m : w.members) {
        if (std::all_of(keep.begin(), keep.end(), [&m](const auto& k) { return k(m->doc); })) {
          selected.push_back(m.get());
        }
      }
      if (order) std::stable_sort(selected.begin(), selected.end(), order);
    }
    const std::size_t total = direct ? w.members.size() : selected.size();
    ojson body;
    ojson items = ojson::array();
    const auto [begin, end] = page_bounds(*page, total);
    for (std::size_t i = begin; i < end; ++i) {
      items.push_back(render_member(*(direct ? w.members[i].get() : selected[i]), role_attributes));
    }
    body["items"] = std::move(items);
    body["_links"] = page_links("/api/v2/members", params, *page, static_cast<std::int64_t>(total));
    body["totalCount"] = total;
    set_json(res, 200, body);
  });
}

void list_teams(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const auto page = parse_page_request(req, res, PageLimits{20, 100, true});
  if (!page) return;
  std::string query;
  std::optional<bool> no_members;
  if (req.has_param("filter")) {
    const auto filters = parse_field_filters(req.get_param_value("filter"));
    if (!filters) {
      set_error(res, 400, "invalid_request", "filter must be field:value,...");
      return;
    }
    for (const auto& [field, value] : *filters) {
      if (field == "query") {
        query = value;
      } else if (field == "nomembers" && (value == "true" || value == "false")) {
        no_members = value == "true";
      } else {
        set_error(res, 400, "invalid_request", "unsupported filter '" + field + ":" + value + "'");
        return;
      }
    }
  }
  const TeamExpand expand(req);
  QueryParams params;
  for (const char* name : {"filter", "expand"}) keep_param(req, name, params);

  world.read([&](const WorldData& w) {
    std::unordered_map<std::string, std::int64_t> member_count;
    if (expand.members || no_members) member_count = team_member_counts(w);
    std::vector<const TeamRecord*> selected;
    for (const auto& t : w.teams) {
      if (!query.empty() && !icontains(t->key, query) && !icontains(t->doc.at("name").get<std::string>(), query)) {
        continue;
      }
      if (no_members && (member_count[t->key] == 0) != *no_members) continue;
      selected.push_back(t.get());
    }
    ojson body;
    ojson items = ojson::array();
    const auto [begin, end] = page_bounds(*page, selected.size());
    for (std::size_t i = begin; i < end; ++i) {
      const TeamRecord& t = *selected[i];
      items.push_back(render_team(t, expand, member_count[t.key]));
    }
    body["items"] = std::move(items);
    body["_links"] = page_links("/api/v2/teams", params, *page, static_cast<std::int64_t>(selected.size()));
    body["totalCount"] = selected.size();
    set_json(res, 200, body);
  });
}

void get_member(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  const bool role_attributes = has_expand(req, "roleAttributes");
  world.read([&](const WorldData& w) {
    for (const auto& m : w.members) {
      if (m->id == id) {
        set_json(res, 200, render_member(*m, role_attributes));
        return;
      }
    }
    set_error(res, 404, "not_found", "Unknown member: " + id);
  });
}

void get_team(const EntityWorld& world, const httplib::Request& req, httplib::Response& res) {
  const std::string key = req.matches[1];
  const TeamExpand expand(req);
  world.read([&](const WorldData& w) {
    for (const auto& t : w.teams) {
      if (t->key == key) {
        const std::int64_t members = expand.members ? team_member_counts(w)[t->key] : 0;
        set_json(res, 200, render_team(*t, expand, members));
        return;
      }
    }
    set_error(res, 404, "not_found", "Unknown team: " + key);
  });
}

}  // namespace

void MembersFamily::register_api_routes(ApiRouter& api) {
  api.get("/api/v2/members",
          [this](const httplib::Request& req, httplib::Response& res) { list_members(*world_, req, res); });
  api.get("/api/v2/members/{id}",
          [this](const httplib::Request& req, httplib::Response& res) { get_member(*world_, req, res); });
}

void TeamsFamily::register_api_routes(ApiRouter& api) {
  api.get("/api/v2/teams",
          [this](const httplib::Request& req, httplib::Response& res) { list_teams(*world_, req, res); });
  api.get("/api/v2/teams/{teamKey}",
          [this](const httplib::Request& req, httplib::Response& res) { get_team(*world_, req, res); });
}

}  // namespace ldsim
