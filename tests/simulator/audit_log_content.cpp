#include "audit_log_content.h"

#include <array>
#include <cctype>
#include <string_view>
#include <utility>

namespace ldsim::audit {

using ojson = nlohmann::ordered_json;

namespace {

constexpr std::int64_t kHourMs = 3600LL * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

const std::vector<std::string> kFlagNames = {
    "New checkout",   "Dark mode",       "Search v2",    "Beta banner",
    "Pricing page",   "Onboarding flow", "Recommendations", "AI assistant",
    "Bulk export",    "Rate limiter",    "Cache TTL",    "Audit webhooks"};

const std::vector<std::string> kSegments = {"beta-users", "internal-testers",
                                            "enterprise-accounts", "eu-customers"};

const std::vector<std::string> kComments = {
    "Rolling out to beta customers", "JIRA-1432: enable for QA", "Hotfix for checkout latency",
    "Automated change from CI",      "Rollback after incident INC-2291",
    "Requested by the growth team"};

const std::vector<std::string> kTags = {"team-growth", "team-payments", "mobile", "experiment",
                                        "q4-launch"};

struct ClauseChoice {
  std::string_view attribute;
  std::vector<std::string> values;
};

const std::vector<ClauseChoice> kClauses = {
    {"country", {"US", "CA", "DE", "FR", "JP", "BR"}},
    {"plan", {"free", "pro", "enterprise"}},
    {"email", {"@example.com", "@acme.test", "@launchdarkly.com"}},
};

std::string capitalize(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

ojson link(const std::string& href, const char* type = "application/json") {
  ojson l;
  l["href"] = href;
  l["type"] = type;
  return l;
}

std::string flag_key(int n) { return "flag-" + std::to_string(n); }

std::string flag_name(int n) {
  return kFlagNames[static_cast<std::size_t>(n - 1) % kFlagNames.size()] + " " + std::to_string(n);
}

bool is_flag(Change c) {
  return c == Change::kFlagTurnOn || c == Change::kFlagTurnOff || c == Change::kFlagAddRule ||
         c == Change::kFlagAddTarget || c == Change::kFlagCreate;
}

bool is_segment(Change c) {
  return c == Change::kSegmentCreate || c == Change::kSegmentUpdateIncluded;
}

bool is_environment(Change c) {
  return c == Change::kEnvironmentUpdate || c == Change::kEnvironmentResetSdkKey;
}

bool is_member(Change c) { return c == Change::kMemberRoleChange || c == Change::kMemberInvite; }

// Details of a change that both the listing text and the detailed versions mention;
// derived from the entry's seed so the two always agree.
struct ChangeParams {
  std::string attribute;
  std::vector<std::string> values;
  std::string context_key;
  std::string tag;
  std::string old_role;
  std::string new_role;
};

ChangeParams change_params(const AuditContent& c) {
  Rng r(derive_seed(c.detail_seed, 0x9a4a));
  ChangeParams p;
  const ClauseChoice& clause = r.pick(kClauses);
  p.attribute = std::string(clause.attribute);
  const auto n = static_cast<std::size_t>(r.range(1, 2));
  const std::size_t first = r.index(clause.values.size());
  for (std::size_t i = 0; i < n && i < clause.values.size(); ++i) {
    p.values.push_back(clause.values[(first + i) % clause.values.size()]);
  }
  p.context_key = "user-" + r.hex(8);
  p.tag = r.pick(kTags);
  static const std::vector<std::string> kRoles = {"reader", "writer", "admin"};
  const std::size_t old_role = r.index(kRoles.size());
  p.old_role = kRoles[old_role];
  p.new_role = kRoles[(old_role + 1 + r.index(kRoles.size() - 1)) % kRoles.size()];
  return p;
}

std::string join_quoted(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ", ";
    out += "`" + v[i] + "`";
  }
  return out;
}

}  // namespace

std::string flag_display_name(int n) { return flag_name(n); }

Catalog Catalog::generate(std::uint64_t seed) {
  Rng rng(derive_seed(seed, 0xca7a));
  Catalog cat;
  cat.account_id = rng.hex(24);

  static const std::array<std::pair<const char*, const char*>, 3> kProjects = {
      {{"default", "Default"}, {"mobile-app", "Mobile App"}, {"web-platform", "Web Platform"}}};
  const auto n_projects = static_cast<std::size_t>(rng.range(2, 3));
  for (std::size_t i = 0; i < n_projects; ++i) {
    cat.projects.push_back({kProjects[i].first, kProjects[i].second, rng.hex(24)});
  }
  cat.environments = {{"production", "Production", "417505"}, {"test", "Test", "f5a623"}};

  static const std::vector<std::string> kFirst = {"Ariel", "Sam", "Priya", "Jonas", "Mei", "Lena",
                                                  "Omar", "Grace"};
  static const std::vector<std::string> kLast = {"Flores", "Okafor", "Nakamura", "Schmidt",
                                                 "Patel", "Rossi", "Kowalski", "Dubois"};
  static const std::vector<std::string> kRoles = {"reader", "writer", "admin", "owner"};
  const std::size_t first_offset = rng.index(kFirst.size());
  for (std::size_t i = 0; i < 6; ++i) {
    Member m;
    m.id = rng.hex(24);
    m.first_name = kFirst[(first_offset + i) % kFirst.size()];
    m.last_name = rng.pick(kLast);
    m.email = lower(m.first_name + "." + m.last_name) + "@example.com";
    m.role = rng.pick(kRoles);
    cat.members.push_back(std::move(m));
  }
  cat.tokens.push_back({rng.hex(24), "CI deploy token", rng.hex(4), true});
  cat.tokens.push_back({rng.hex(24), "Terraform provider", rng.hex(4), true});
  cat.tokens.push_back({rng.hex(24), "Release script", rng.hex(4), false});
  cat.segments = kSegments;
  return cat;
}

AuditContent generate_content(Rng& rng, const Catalog& cat) {
  AuditContent c;
  const std::int64_t w = rng.range(0, 99);
  // Mostly flags (70%), then segments, environments, members and projects.
  if (w < 18) {
    c.change = Change::kFlagTurnOn;
  } else if (w < 32) {
    c.change = Change::kFlagTurnOff;
  } else if (w < 48) {
    c.change = Change::kFlagAddRule;
  } else if (w < 62) {
    c.change = Change::kFlagAddTarget;
  } else if (w < 70) {
    c.change = Change::kFlagCreate;
  } else if (w < 73) {
    c.change = Change::kSegmentCreate;
  } else if (w < 80) {
    c.change = Change::kSegmentUpdateIncluded;
  } else if (w < 84) {
    c.change = Change::kEnvironmentUpdate;
  } else if (w < 88) {
    c.change = Change::kEnvironmentResetSdkKey;
  } else if (w < 92) {
    c.change = Change::kMemberRoleChange;
  } else if (w < 94) {
    c.change = Change::kMemberInvite;
  } else {
    c.change = Change::kProjectUpdateTags;
  }
  c.project = static_cast<std::uint16_t>(rng.index(cat.projects.size()));
  c.environment = rng.chance(0.7) ? 0 : 1;
  if (is_flag(c.change)) {
    c.object = static_cast<std::uint16_t>(rng.range(1, cat.flags_per_project));
  } else if (is_segment(c.change)) {
    c.object = static_cast<std::uint16_t>(rng.index(cat.segments.size()));
  } else if (is_member(c.change)) {
    c.object = static_cast<std::uint16_t>(rng.index(cat.members.size()));
  }
  c.actor_is_member = rng.chance(0.75);
  c.actor = static_cast<std::uint16_t>(
      rng.index(c.actor_is_member ? cat.members.size() : cat.tokens.size()));
  c.comment = rng.chance(0.3) ? static_cast<std::int16_t>(rng.index(kComments.size())) : -1;
  c.detail_seed = rng.next();
  return c;
}

Description describe(const AuditContent& c, const Catalog& cat) {
  const auto& proj = cat.projects[c.project];
  const auto& env = cat.environments[c.environment];
  const ChangeParams p = change_params(c);
  Description d;

  if (is_flag(c.change)) {
    const std::string key = flag_key(c.object);
    d.kind = "flag";
    d.name = flag_name(c.object);
    d.resource = "proj/" + proj.key + ":env/" + env.key + ":flag/" + key;
    d.canonical_href = "/api/v2/flags/" + proj.key + "/" + key;
    d.site_href = "/" + proj.key + "/" + env.key + "/features/" + key;
    switch (c.change) {
      case Change::kFlagTurnOn:
        d.action = "updateOn";
        d.title_verb = "turned on the flag";
        d.short_description = "Turned on the flag";
        d.description = "- Turned on the flag in `" + env.name + "`";
        break;
      case Change::kFlagTurnOff:
        d.action = "updateOn";
        d.title_verb = "turned off the flag";
        d.short_description = "Turned off the flag";
        d.description = "- Turned off the flag in `" + env.name + "`";
        break;
      case Change::kFlagAddRule:
        d.action = "updateRules";
        d.title_verb = "updated the flag";
        d.short_description = "Added a targeting rule";
        d.description = "- Added a rule with clause: `" + p.attribute + "` is one of " +
                        join_quoted(p.values) + "\n  - Serve variation 0";
        break;
      case Change::kFlagAddTarget:
        d.action = "updateTargets";
        d.title_verb = "updated the flag";
        d.short_description = "Added individual targets";
        d.description = "- Added `" + p.context_key + "` to individual targets for variation 0";
        break;
      default:  // kFlagCreate
        d.action = "createFlag";
        d.title_verb = "created the flag";
        d.resource = "proj/" + proj.key + ":env/*:flag/" + key;
        d.short_description = "Created the flag";
        d.description = "- Created the flag `" + key + "`";
        break;
    }
  } else if (is_segment(c.change)) {
    const std::string& key = cat.segments[c.object];
    d.kind = "segment";
    d.name = capitalize(key);
    d.resource = "proj/" + proj.key + ":env/" + env.key + ":segment/" + key;
    d.canonical_href = "/api/v2/segments/" + proj.key + "/" + env.key + "/" + key;
    d.site_href = "/" + proj.key + "/" + env.key + "/segments/" + key;
    if (c.change == Change::kSegmentCreate) {
      d.action = "createSegment";
      d.title_verb = "created the segment";
      d.short_description = "Created the segment";
      d.description = "- Created the segment `" + key + "` in `" + env.name + "`";
    } else {
      d.action = "updateIncluded";
      d.title_verb = "updated the segment";
      d.short_description = "Added included targets";
      d.description = "- Added `" + p.context_key + "` to the included targets";
    }
  } else if (is_environment(c.change)) {
    d.kind = "environment";
    d.name = env.name;
    d.resource = "proj/" + proj.key + ":env/" + env.key;
    d.canonical_href = "/api/v2/projects/" + proj.key + "/environments/" + env.key;
    d.site_href = "/settings/projects/" + proj.key + "/environments";
    if (c.change == Change::kEnvironmentUpdate) {
      d.action = "updateRequireComments";
      d.title_verb = "updated the environment";
      d.short_description = "Required comments for changes";
      d.description = "- Changed *require comments* to `true`";
    } else {
      d.action = "updateApiKey";
      d.title_verb = "reset the SDK key for the environment";
      d.short_description = "Reset the SDK key";
      d.description = "- Reset the SDK key; the old key expires immediately";
    }
  } else if (is_member(c.change)) {
    const auto& m = cat.members[c.object];
    d.kind = "member";
    d.name = m.first_name + " " + m.last_name;
    d.resource = "member/" + m.id;
    d.canonical_href = "/api/v2/members/" + m.id;
    d.site_href = "/settings/members/" + m.id;
    if (c.change == Change::kMemberRoleChange) {
      d.action = "updateRole";
      d.title_verb = "changed the role of";
      d.short_description = "Changed the role";
      d.description = "- Changed role from `" + p.old_role + "` to `" + p.new_role + "`";
    } else {
      d.action = "createMember";
      d.title_verb = "invited";
      d.short_description = "Invited a member";
      d.description = "- Invited `" + m.email + "` as `" + p.old_role + "`";
    }
  } else {  // project
    d.kind = "project";
    d.name = proj.name;
    d.resource = "proj/" + proj.key;
    d.canonical_href = "/api/v2/projects/" + proj.key;
    d.site_href = "/settings/projects/" + proj.key;
    d.action = "updateTags";
    d.title_verb = "updated the project";
    d.short_description = "Added a tag";
    d.description = "- Added the tag `" + p.tag + "`";
  }
  return d;
}

namespace {

// The actor and the text shared by both kinds of entries (generated ones and entity
// changes): everything of an AuditLogEntryListingRep.
struct ListingParts {
  const Description* d = nullptr;
  bool actor_is_member = true;
  std::uint16_t actor = 0;
  const std::string* comment = nullptr;      // none when null
  const std::string* parent_key = nullptr;   // project of a flag/segment/environment
  const std::string* parent_name = nullptr;
};

ojson render_listing_parts(const std::string& id, std::int64_t date, const ListingParts& p,
                           const Catalog& cat) {
  const Description& d = *p.d;
  ojson j;
  ojson links;
  links["canonical"] = link(d.canonical_href);
  links["parent"] = link("/api/v2/auditlog");
  links["self"] = link("/api/v2/auditlog/" + id);
  links["site"] = link(d.site_href, "text/html");
  j["_links"] = links;
  j["_id"] = id;
  j["_accountId"] = cat.account_id;
  j["date"] = date;
  ojson access;
  access["action"] = d.action;
  access["resource"] = d.resource;
  j["accesses"] = ojson::array({access});
  j["kind"] = d.kind;
  j["name"] = d.name;
  j["description"] = d.description;
  j["shortDescription"] = d.short_description;
  if (p.comment != nullptr) j["comment"] = *p.comment;

  std::string actor;
  if (p.actor_is_member) {
    const auto& m = cat.members[p.actor];
    actor = m.first_name + " " + m.last_name;
    ojson member;
    member["_links"]["self"] = link("/api/v2/members/" + m.id);
    member["_id"] = m.id;
    member["email"] = m.email;
    member["firstName"] = m.first_name;
    member["lastName"] = m.last_name;
    j["member"] = member;
    ojson subject;
    subject["_links"] = ojson::object();
    subject["name"] = actor;
    subject["avatarUrl"] = "https://www.gravatar.com/avatar/" + m.id + "00000000";
    j["subject"] = subject;
  } else {
    const auto& t = cat.tokens[p.actor];
    actor = t.name;
    ojson token;
    token["_links"]["parent"] = link("/api/v2/tokens");
    token["_links"]["self"] = link("/api/v2/tokens/" + t.id);
    token["_id"] = t.id;
    token["name"] = t.name;
    token["ending"] = t.ending;
    token["serviceToken"] = t.service;
    j["token"] = token;
  }

  j["titleVerb"] = d.title_verb;
  j["title"] = actor + " " + d.title_verb + " " + d.name;
  ojson target;
  target["_links"]["canonical"] = link(d.canonical_href);
  target["_links"]["site"] = link(d.site_href, "text/html");
  target["name"] = d.name;
  target["resources"] = ojson::array({d.resource});
  j["target"] = target;
  if (p.parent_key != nullptr &&
      (d.kind == "flag" || d.kind == "segment" || d.kind == "environment")) {
    ojson parent;
    parent["_links"]["canonical"] = link("/api/v2/projects/" + *p.parent_key);
    parent["_links"]["site"] = link("/settings/projects/" + *p.parent_key, "text/html");
    parent["name"] = *p.parent_name;
    parent["resource"] = "proj/" + *p.parent_key;
    j["parent"] = parent;
  }
  return j;
}

}  // namespace

ojson render_listing(const std::string& id, std::int64_t date, const AuditContent& c,
                     const Catalog& cat) {
  const Description d = describe(c, cat);
  const auto& proj = cat.projects[c.project];
  ListingParts p;
  p.d = &d;
  p.actor_is_member = c.actor_is_member;
  p.actor = c.actor;
  if (c.comment >= 0) p.comment = &kComments[static_cast<std::size_t>(c.comment)];
  p.parent_key = &proj.key;
  p.parent_name = &proj.name;
  return render_listing_parts(id, date, p, cat);
}

ojson render_change_listing(const std::string& id, std::int64_t date, const EntityChange& change,
                            const Catalog& cat) {
  ListingParts p;
  p.d = &change.text;
  p.actor_is_member = change.actor_is_member;
  p.actor = change.actor;
  if (!change.comment.empty()) p.comment = &change.comment;
  p.parent_key = &change.project_key;
  p.parent_name = &change.project_name;
  return render_listing_parts(id, date, p, cat);
}

ojson render_change_detail(const std::string& id, std::int64_t date, const EntityChange& change,
                           const Catalog& cat) {
  ojson j = render_change_listing(id, date, change, cat);
  j["previousVersion"] = change.previous;
  j["currentVersion"] = change.current;
  if (change.patch.is_null()) {
    j["delta"] = nullptr;
  } else {
    ojson delta;
    delta["patch"] = change.patch;
    delta["comment"] = change.comment;
    j["delta"] = delta;
  }
  j["subentries"] = ojson::array();
  return j;
}

namespace {

ojson make_clause(Rng& r, const std::string& attribute, const std::vector<std::string>& values) {
  ojson clause;
  clause["_id"] = r.uuid();
  clause["attribute"] = attribute;
  clause["op"] = attribute == "email" ? "endsWith" : "in";
  clause["values"] = values;
  clause["contextKind"] = "user";
  clause["negate"] = false;
  return clause;
}

ojson make_rule(Rng& r, const std::string& attribute, const std::vector<std::string>& values,
                int variation) {
  ojson rule;
  rule["_id"] = r.uuid();
  rule["variation"] = variation;
  rule["clauses"] = ojson::array({make_clause(r, attribute, values)});
  rule["trackEvents"] = false;
  return rule;
}

// A flag as GET /api/v2/flags/{p}/{k} returns it (all environments), before the change.
ojson make_flag(Rng& r, const AuditContent& c, const Catalog& cat, std::int64_t date) {
  const auto& proj = cat.projects[c.project];
  const std::string key = flag_key(c.object);
  const bool boolean = r.chance(0.7);
  ojson flag;
  flag["_links"]["parent"] = link("/api/v2/flags/" + proj.key);
  flag["_links"]["self"] = link("/api/v2/flags/" + proj.key + "/" + key);
  flag["key"] = key;
  flag["name"] = flag_name(c.object);
  flag["kind"] = boolean ? "boolean" : "multivariate";
  flag["description"] = "";
  flag["_version"] = r.range(2, 60);
  flag["creationDate"] = date - r.range(kDayMs, 120 * kDayMs);
  flag["includeInSnippet"] = false;
  flag["clientSideAvailability"] = {{"usingMobileKey", false}, {"usingEnvironmentId", false}};
  ojson variations = ojson::array();
  if (boolean) {
    variations.push_back({{"_id", r.uuid()}, {"value", true}, {"name", "Enabled"}});
    variations.push_back({{"_id", r.uuid()}, {"value", false}, {"name", "Disabled"}});
  } else {
    for (const char* v : {"control", "treatment-a", "treatment-b"}) {
      variations.push_back({{"_id", r.uuid()}, {"value", v}, {"name", capitalize(v)}});
    }
  }
  const auto n_variations = static_cast<std::int64_t>(variations.size());
  flag["variations"] = variations;
  flag["temporary"] = r.chance(0.6);
  flag["tags"] = r.chance(0.5) ? ojson::array({r.pick(kTags)}) : ojson::array();
  flag["archived"] = false;
  flag["deprecated"] = false;
  flag["maintainerId"] = r.pick(cat.members).id;
  flag["customProperties"] = ojson::object();
  flag["experiments"] = {{"baselineIdx", 0}, {"items", ojson::array()}};
  ojson envs = ojson::object();
  for (const auto& env : cat.environments) {
    ojson e;
    e["on"] = r.chance(0.5);
    e["archived"] = false;
    e["salt"] = r.hex(32);
    e["sel"] = r.hex(32);
    e["lastModified"] = date - r.range(kHourMs, 30 * kDayMs);
    e["version"] = r.range(1, 40);
    ojson targets = ojson::array();
    if (r.chance(0.4)) {
      targets.push_back({{"values", ojson::array({"user-" + r.hex(8), "user-" + r.hex(8)})},
                         {"variation", 0},
                         {"contextKind", "user"}});
    }
    e["targets"] = targets;
    e["contextTargets"] = ojson::array();
    ojson rules = ojson::array();
    const std::int64_t n_rules = r.range(0, 2);
    for (std::int64_t i = 0; i < n_rules; ++i) {
      const ClauseChoice& cc = r.pick(kClauses);
      rules.push_back(make_rule(r, std::string(cc.attribute), {r.pick(cc.values)},
                                static_cast<int>(r.range(0, n_variations - 1))));
    }
    e["rules"] = rules;
    e["fallthrough"] = {{"variation", 0}};
    e["offVariation"] = n_variations - 1;
    e["prerequisites"] = ojson::array();
    e["trackEvents"] = false;
    e["trackEventsFallthrough"] = false;
    e["_environmentName"] = env.name;
    e["_site"] = link("/" + proj.key + "/" + env.key + "/features/" + key, "text/html");
    envs[env.key] = e;
  }
  flag["environments"] = envs;
  return flag;
}

ojson patch_op(const char* op, const std::string& path, ojson value) {
  return {{"op", op}, {"path", path}, {"value", std::move(value)}};
}

struct Versions {
  ojson previous;  // null when the entity was created
  ojson current;
  ojson patch;     // JSON patch ops, or null when the change was not a JSON patch
};

Versions flag_versions(Rng& r, const AuditContent& c, const Catalog& cat, std::int64_t date,
                       const ChangeParams& p) {
  const std::string env_key = cat.environments[c.environment].key;
  const std::string env_path = "/environments/" + env_key;
  Versions v;
  ojson prev = make_flag(r, c, cat, date);
  if (c.change == Change::kFlagCreate) {
    ojson cur = prev;
    cur["_version"] = 1;
    cur["creationDate"] = date;
    for (auto& [k, e] : cur["environments"].items()) {
      (void)k;
      e["on"] = false;
      e["version"] = 1;
      e["lastModified"] = date;
      e["targets"] = ojson::array();
      e["rules"] = ojson::array();
    }
    v.previous = nullptr;
    v.current = cur;
    v.patch = nullptr;
    return v;
  }
  ojson cur = prev;
  ojson& pe = prev["environments"][env_key];
  ojson& ce = cur["environments"][env_key];
  switch (c.change) {
    case Change::kFlagTurnOn:
      pe["on"] = false;
      ce["on"] = true;
      v.patch = ojson::array({patch_op("replace", env_path + "/on", true)});
      break;
    case Change::kFlagTurnOff:
      pe["on"] = true;
      ce["on"] = false;
      v.patch = ojson::array({patch_op("replace", env_path + "/on", false)});
      break;
    case Change::kFlagAddRule: {
      ojson rule = make_rule(r, p.attribute, p.values, 0);
      ce["rules"].push_back(rule);
      v.patch = ojson::array({patch_op("add", env_path + "/rules/-", rule)});
      break;
    }
    default: {  // kFlagAddTarget
      ojson& targets = ce["targets"];
      bool added = false;
      for (auto& t : targets) {
        if (t["variation"] == 0) {
          t["values"].push_back(p.context_key);
          added = true;
          break;
        }
      }
      if (!added) {
        targets.push_back({{"values", ojson::array({p.context_key})},
                           {"variation", 0},
                           {"contextKind", "user"}});
      }
      v.patch = ojson::array({patch_op("add", env_path + "/targets/0/values/-", p.context_key)});
      break;
    }
  }
  cur["_version"] = prev["_version"].get<std::int64_t>() + 1;
  ce["version"] = pe["version"].get<std::int64_t>() + 1;
  ce["lastModified"] = date;
  v.previous = prev;
  v.current = cur;
  return v;
}

Versions segment_versions(Rng& r, const AuditContent& c, const Catalog& cat, std::int64_t date,
                          const ChangeParams& p) {
  const auto& proj = cat.projects[c.project];
  const auto& env = cat.environments[c.environment];
  const std::string& key = cat.segments[c.object];
  ojson seg;
  seg["_links"]["self"] =
      link("/api/v2/segments/" + proj.key + "/" + env.key + "/" + key);
  seg["key"] = key;
  seg["name"] = capitalize(key);
  seg["description"] = "";
  seg["tags"] = ojson::array();
  seg["creationDate"] = date - r.range(kDayMs, 200 * kDayMs);
  seg["lastModifiedDate"] = date - r.range(kHourMs, 20 * kDayMs);
  seg["version"] = r.range(1, 30);
  ojson included = ojson::array();
  for (std::int64_t i = r.range(0, 3); i > 0; --i) included.push_back("user-" + r.hex(8));
  seg["included"] = included;
  seg["excluded"] = ojson::array();
  seg["includedContexts"] = ojson::array();
  seg["excludedContexts"] = ojson::array();
  seg["rules"] = ojson::array();
  seg["deleted"] = false;
  seg["unbounded"] = false;
  seg["generation"] = 1;
  Versions v;
  if (c.change == Change::kSegmentCreate) {
    seg["creationDate"] = date;
    seg["lastModifiedDate"] = date;
    seg["version"] = 1;
    seg["included"] = ojson::array();
    v.previous = nullptr;
    v.current = seg;
    v.patch = nullptr;
    return v;
  }
  ojson cur = seg;
  cur["included"].push_back(p.context_key);
  cur["version"] = seg["version"].get<std::int64_t>() + 1;
  cur["lastModifiedDate"] = date;
  v.previous = seg;
  v.current = cur;
  v.patch = ojson::array({patch_op("add", "/included/-", p.context_key)});
  return v;
}

Versions environment_versions(Rng& r, const AuditContent& c, const Catalog& cat) {
  const auto& proj = cat.projects[c.project];
  const auto& env = cat.environments[c.environment];
  ojson e;
  e["_links"]["self"] = link("/api/v2/projects/" + proj.key + "/environments/" + env.key);
  e["_id"] = r.hex(24);
  e["key"] = env.key;
  e["name"] = env.name;
  // Secrets: the exporter must redact these.
  e["apiKey"] = "sdk-" + r.uuid();
  e["mobileKey"] = "mob-" + r.uuid();
  e["color"] = env.color;
  e["defaultTtl"] = 0;
  e["secureMode"] = false;
  e["defaultTrackEvents"] = false;
  e["requireComments"] = false;
  e["confirmChanges"] = env.key == "production";
  e["tags"] = ojson::array();
  e["critical"] = env.key == "production";
  Versions v;
  v.previous = e;
  v.current = e;
  if (c.change == Change::kEnvironmentUpdate) {
    v.current["requireComments"] = true;
    v.patch = ojson::array({patch_op("replace", "/requireComments", true)});
  } else {
    v.current["apiKey"] = "sdk-" + r.uuid();
    v.patch = nullptr;  // a POST action, not a JSON patch
  }
  return v;
}

Versions member_versions(Rng& r, const AuditContent& c, const Catalog& cat, std::int64_t date,
                         const ChangeParams& p) {
  const auto& m = cat.members[c.object];
  ojson mem;
  mem["_links"]["self"] = link("/api/v2/members/" + m.id);
  mem["_id"] = m.id;
  mem["email"] = m.email;
  mem["firstName"] = m.first_name;
  mem["lastName"] = m.last_name;
  mem["role"] = p.old_role;
  mem["_pendingInvite"] = false;
  mem["_verified"] = true;
  mem["_lastSeen"] = date - r.range(kHourMs, 10 * kDayMs);
  mem["creationDate"] = date - r.range(30 * kDayMs, 400 * kDayMs);
  mem["mfa"] = r.chance(0.5) ? "enabled" : "disabled";
  Versions v;
  if (c.change == Change::kMemberInvite) {
    mem["_pendingInvite"] = true;
    mem["_verified"] = false;
    mem["_lastSeen"] = 0;
    mem["creationDate"] = date;
    v.previous = nullptr;
    v.current = mem;
    v.patch = nullptr;
    return v;
  }
  v.previous = mem;
  v.current = mem;
  v.current["role"] = p.new_role;
  v.patch = ojson::array({patch_op("replace", "/role", p.new_role)});
  return v;
}

Versions project_versions(Rng& r, const AuditContent& c, const Catalog& cat,
                          const ChangeParams& p) {
  const auto& proj = cat.projects[c.project];
  ojson pr;
  pr["_links"]["self"] = link("/api/v2/projects/" + proj.key);
  pr["_id"] = proj.id;
  pr["key"] = proj.key;
  pr["name"] = proj.name;
  ojson tags = ojson::array();
  if (r.chance(0.5)) tags.push_back("managed-by-terraform");
  pr["tags"] = tags;
  pr["includeInSnippetByDefault"] = false;
  pr["defaultClientSideAvailability"] = {{"usingMobileKey", false}, {"usingEnvironmentId", false}};
  Versions v;
  v.previous = pr;
  v.current = pr;
  v.current["tags"].push_back(p.tag);
  v.patch = ojson::array({patch_op("add", "/tags/-", p.tag)});
  return v;
}

}  // namespace

ojson render_detail(const std::string& id, std::int64_t date, const AuditContent& c,
                    const Catalog& cat) {
  ojson j = render_listing(id, date, c, cat);
  Rng r(derive_seed(c.detail_seed, 0xde7a11));
  const ChangeParams p = change_params(c);
  Versions v;
  if (is_flag(c.change)) {
    v = flag_versions(r, c, cat, date, p);
  } else if (is_segment(c.change)) {
    v = segment_versions(r, c, cat, date, p);
  } else if (is_environment(c.change)) {
    v = environment_versions(r, c, cat);
  } else if (is_member(c.change)) {
    v = member_versions(r, c, cat, date, p);
  } else {
    v = project_versions(r, c, cat, p);
  }
  j["previousVersion"] = v.previous;
  j["currentVersion"] = v.current;
  // Most changes are semantic patches (delta null); about half carry the JSON patch.
  if (!v.patch.is_null() && r.chance(0.5)) {
    ojson delta;
    delta["patch"] = v.patch;
    delta["comment"] = c.comment >= 0 ? kComments[static_cast<std::size_t>(c.comment)] : "";
    j["delta"] = delta;
  } else {
    j["delta"] = nullptr;
  }
  j["subentries"] = ojson::array();
  return j;
}

}  // namespace ldsim::audit
