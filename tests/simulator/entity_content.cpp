#include "entity_content.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "audit_log_content.h"
#include "http_util.h"

namespace ldsim::content {

namespace {

constexpr std::int64_t kHourMs = 3600LL * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

const std::vector<std::string> kTags = {"team-growth", "team-payments", "mobile", "experiment",
                                        "q4-launch", "backend", "ops"};

const std::vector<std::string> kFlagDescriptions = {
    "", "", "Controls the rollout of the feature", "Kill switch for the integration",
    "Experiment: does the new layout convert better?", "Temporary flag for the migration"};

struct ClauseChoice {
  const char* attribute;
  const char* op;
  const char* context_kind;
  std::vector<std::string> values;
};

const std::vector<ClauseChoice> kClauses = {
    {"country", "in", "user", {"US", "CA", "DE", "FR", "JP", "BR"}},
    {"plan", "in", "user", {"free", "pro", "enterprise"}},
    {"email", "endsWith", "user", {"@example.com", "@acme.test", "@launchdarkly.com"}},
    {"key", "in", "organization", {"org-acme", "org-globex", "org-initech"}},
    {"os", "in", "device", {"ios", "android"}},
    {"segmentMatch", "segmentMatch", "user", {"beta-users", "internal-testers"}},
};

ojson link(const std::string& href, const char* type = "application/json") {
  ojson l;
  l["href"] = href;
  l["type"] = type;
  return l;
}

ojson pick_tags(Rng& r, int max) {
  ojson tags = ojson::array();
  const auto n = r.range(0, max);
  const std::size_t first = r.index(kTags.size());
  for (std::int64_t i = 0; i < n; ++i) {
    tags.push_back(kTags[(first + static_cast<std::size_t>(i)) % kTags.size()]);
  }
  return tags;
}

ojson make_clause(Rng& r) {
  const ClauseChoice& c = r.pick(kClauses);
  ojson clause;
  clause["_id"] = r.uuid();
  clause["attribute"] = c.attribute;
  clause["op"] = c.op;
  ojson values = ojson::array();
  const auto n = static_cast<std::size_t>(r.range(1, 2));
  const std::size_t first = r.index(c.values.size());
  for (std::size_t i = 0; i < n && i < c.values.size(); ++i) {
    values.push_back(c.values[(first + i) % c.values.size()]);
  }
  clause["values"] = values;
  clause["contextKind"] = c.context_kind;
  clause["negate"] = r.chance(0.1);
  return clause;
}

ojson make_rollout(Rng& r, std::int64_t n_variations) {
  ojson rollout;
  ojson variations = ojson::array();
  const std::int64_t first = r.range(10000, 90000);
  variations.push_back({{"variation", 0}, {"weight", first}});
  variations.push_back({{"variation", n_variations - 1}, {"weight", 100000 - first}});
  rollout["variations"] = variations;
  rollout["bucketBy"] = "key";
  rollout["contextKind"] = "user";
  return rollout;
}

ojson make_rule(Rng& r, std::int64_t n_variations) {
  ojson rule;
  rule["_id"] = r.uuid();
  if (r.chance(0.2)) {
    rule["rollout"] = make_rollout(r, n_variations);
  } else {
    rule["variation"] = r.range(0, n_variations - 1);
  }
  ojson clauses = ojson::array();
  for (std::int64_t i = r.range(1, 2); i > 0; --i) clauses.push_back(make_clause(r));
  rule["clauses"] = clauses;
  rule["trackEvents"] = false;
  if (r.chance(0.3)) rule["description"] = "Rule " + r.hex(4);
  return rule;
}

ojson user_keys(Rng& r, std::int64_t n) {
  ojson keys = ojson::array();
  for (std::int64_t i = 0; i < n; ++i) keys.push_back("user-" + r.hex(8));
  return keys;
}

ojson make_variations(Rng& r, std::string& kind) {
  ojson v = ojson::array();
  const auto roll = r.range(0, 9);
  if (roll < 7) {
    kind = "boolean";
    v.push_back({{"_id", r.uuid()}, {"value", true}, {"name", "Enabled"}});
    v.push_back({{"_id", r.uuid()}, {"value", false}, {"name", "Disabled"}});
  } else if (roll < 9) {
    kind = "multivariate";
    for (const char* s : {"control", "treatment-a", "treatment-b"}) {
      v.push_back({{"_id", r.uuid()}, {"value", s}, {"name", s}});
    }
  } else {
    kind = "multivariate";
    // JSON values: Variation.value is untyped (API-NOTES §5).
    v.push_back({{"_id", r.uuid()}, {"value", {{"ttl", 60}, {"regions", {"us", "eu"}}}},
                 {"description", "Short cache"}});
    v.push_back({{"_id", r.uuid()}, {"value", {{"ttl", 3600}, {"regions", ojson::array()}}},
                 {"description", "Long cache"}});
  }
  return v;
}

ojson make_flag_config(Rng& r, const std::string& project_key, const std::string& flag_key,
                       const EnvRef& env, std::int64_t n_variations, int number,
                       std::int64_t created_ms, std::int64_t end_ms, bool fresh) {
  ojson e;
  e["on"] = fresh ? false : r.chance(0.6);
  e["archived"] = false;
  e["salt"] = r.hex(32);
  e["sel"] = r.hex(32);
  e["lastModified"] = fresh ? created_ms : r.range(created_ms, end_ms);
  e["version"] = fresh ? 1 : r.range(1, 25);
  ojson targets = ojson::array();
  ojson context_targets = ojson::array();
  ojson rules = ojson::array();
  ojson prerequisites = ojson::array();
  if (!fresh) {
    if (r.chance(0.4)) {
      targets.push_back({{"values", user_keys(r, r.range(1, 3))},
                         {"variation", 0},
                         {"contextKind", "user"}});
    }
    if (r.chance(0.2)) {
      context_targets.push_back({{"values", ojson::array({"org-" + r.hex(6)})},
                                 {"variation", n_variations - 1},
                                 {"contextKind", "organization"}});
    }
    for (std::int64_t i = r.range(0, 3); i > 0; --i) rules.push_back(make_rule(r, n_variations));
    if (number > 3 && r.chance(0.1)) {
      prerequisites.push_back({{"key", "flag-" + std::to_string(r.range(1, number - 1))},
                               {"variation", 0}});
    }
  }
  e["targets"] = targets;
  e["contextTargets"] = context_targets;
  e["rules"] = rules;
  if (!fresh && r.chance(0.15)) {
    e["fallthrough"] = {{"rollout", make_rollout(r, n_variations)}};
  } else {
    e["fallthrough"] = {{"variation", 0}};
  }
  e["offVariation"] = n_variations - 1;
  e["prerequisites"] = prerequisites;
  e["_site"] = link("/" + project_key + "/" + env.key + "/features/" + flag_key, "text/html");
  e["_environmentName"] = env.name;
  e["trackEvents"] = false;
  e["trackEventsFallthrough"] = false;
  return e;
}

}  // namespace

std::uint64_t salt_of(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string rfc3339_ns(std::int64_t epoch_ns) {
  const std::int64_t secs = epoch_ns / 1000000000;
  const std::int64_t frac = epoch_ns % 1000000000;
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf);
  if (frac != 0) {
    char f[16];
    std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
    out += f;
  }
  return out + "Z";
}

std::string rfc3339_ms(std::int64_t epoch_ms) {
  const auto t = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char f[16];
  std::snprintf(f, sizeof f, ".%03lldZ", static_cast<long long>(epoch_ms % 1000));
  return std::string(buf) + f;
}

ojson member_summary(const MemberRef& m) {
  ojson s;
  s["_links"]["self"] = link("/api/v2/members/" + m.id);
  s["_id"] = m.id;
  s["firstName"] = m.first_name;
  s["lastName"] = m.last_name;
  s["role"] = m.role;
  s["email"] = m.email;
  return s;
}

ojson make_project(Rng& r, const std::string& key, const std::string& name, const std::string& id) {
  ojson p;
  p["_links"]["environments"] = link("/api/v2/projects/" + key + "/environments");
  p["_links"]["self"] = link("/api/v2/projects/" + key);
  p["_id"] = id;
  p["key"] = key;
  p["includeInSnippetByDefault"] = r.chance(0.3);
  p["defaultClientSideAvailability"] = {{"usingMobileKey", r.chance(0.5)},
                                        {"usingEnvironmentId", r.chance(0.5)}};
  p["name"] = name;
  p["tags"] = pick_tags(r, 2);
  return p;
}

ojson make_environment(Rng& r, const std::string& project_key, const std::string& key,
                       const std::string& name, const std::string& id, const std::string& color) {
  const bool production = key == "production";
  ojson e;
  e["_links"]["self"] = link("/api/v2/projects/" + project_key + "/environments/" + key);
  e["_id"] = id;
  e["key"] = key;
  e["name"] = name;
  // Secrets: the exporter must redact them (issue 3, API-NOTES §5).
  e["apiKey"] = "sdk-" + r.uuid();
  e["mobileKey"] = "mob-" + r.uuid();
  e["color"] = color;
  e["defaultTtl"] = production ? 0 : r.range(0, 10);
  e["secureMode"] = r.chance(0.2);
  e["defaultTrackEvents"] = false;
  e["requireComments"] = production;
  e["confirmChanges"] = production;
  e["tags"] = production ? ojson::array({"ops"}) : ojson::array();
  if (production) {
    ojson a;
    a["required"] = true;
    a["bypassApprovalsForPendingChanges"] = false;
    a["minNumApprovals"] = 1;
    a["canReviewOwnRequest"] = false;
    a["canApplyDeclinedChanges"] = true;
    a["autoApplyApprovedChanges"] = false;
    a["serviceKind"] = "launchdarkly";
    a["serviceConfig"] = ojson::object();
    a["requiredApprovalTags"] = ojson::array();
    e["approvalSettings"] = a;
  }
  e["critical"] = production;
  return e;
}

ojson make_flag(Rng& r, const std::string& project_key, const std::vector<EnvRef>& envs,
                int number, std::int64_t created_ms, std::int64_t end_ms, const MemberRef& maintainer,
                bool fresh) {
  const std::string key = "flag-" + std::to_string(number);
  std::string kind;
  ojson variations = make_variations(r, kind);
  const auto n_variations = static_cast<std::int64_t>(variations.size());
  ojson f;
  f["_links"]["parent"] = link("/api/v2/flags/" + project_key);
  f["_links"]["self"] = link("/api/v2/flags/" + project_key + "/" + key);
  f["key"] = key;
  f["name"] = audit::flag_display_name(number);
  f["kind"] = kind;
  f["description"] = r.pick(kFlagDescriptions);
  f["_version"] = 1;
  f["creationDate"] = created_ms;
  f["includeInSnippet"] = false;
  f["clientSideAvailability"] = {{"usingMobileKey", r.chance(0.3)},
                                 {"usingEnvironmentId", r.chance(0.3)}};
  f["variations"] = variations;
  f["temporary"] = r.chance(0.6);
  f["tags"] = pick_tags(r, 2);
  f["maintainerId"] = maintainer.id;
  f["_maintainer"] = member_summary(maintainer);
  ojson custom = ojson::object();
  if (!fresh && r.chance(0.25)) {
    custom["jira.issues"] = {{"name", "Jira issues"},
                             {"value", ojson::array({"PROJ-" + std::to_string(r.range(100, 999))})}};
  }
  f["customProperties"] = custom;
  f["archived"] = false;
  f["deprecated"] = false;
  f["experiments"] = {{"baselineIdx", 0}, {"items", ojson::array()}};
  f["defaults"] = {{"onVariation", 0}, {"offVariation", n_variations - 1}};
  ojson configs = ojson::object();
  std::int64_t env_versions = 0;
  for (const EnvRef& env : envs) {
    ojson c = make_flag_config(r, project_key, key, env, n_variations, number, created_ms, end_ms,
                               fresh);
    env_versions += c["version"].get<std::int64_t>();
    configs[env.key] = std::move(c);
  }
  f["environments"] = configs;
  if (!fresh) {
    // Every change to any environment bumps the flag's _version too.
    f["_version"] = env_versions + r.range(0, 10);
    if (r.chance(0.08)) {
      f["archived"] = true;
      f["archivedDate"] = r.range(created_ms, end_ms);
      for (auto& [k, c] : f["environments"].items()) {
        (void)k;
        c["archived"] = true;
      }
    } else if (r.chance(0.05)) {
      f["deprecated"] = true;
      f["deprecatedDate"] = r.range(created_ms, end_ms);
    }
  }
  return f;
}

ojson make_segment(Rng& r, const std::string& project_key, const std::string& env_key,
                   const std::string& env_id, const std::string& key, const std::string& name,
                   std::int64_t created_ms, std::int64_t end_ms, bool big) {
  ojson s;
  s["name"] = name;
  s["description"] = r.chance(0.5) ? "Contexts in " + name : "";
  s["tags"] = pick_tags(r, 1);
  s["creationDate"] = created_ms;
  const std::int64_t modified = r.range(created_ms, end_ms);
  s["lastModifiedDate"] = modified;
  s["key"] = key;
  if (!big) {
    s["included"] = user_keys(r, r.range(0, 4));
    s["excluded"] = user_keys(r, r.range(0, 1));
    ojson included_contexts = ojson::array();
    if (r.chance(0.3)) {
      included_contexts.push_back({{"values", ojson::array({"org-" + r.hex(6)})},
                                   {"contextKind", "organization"}});
    }
    s["includedContexts"] = included_contexts;
    s["excludedContexts"] = ojson::array();
  }
  s["_links"]["parent"] = link("/api/v2/segments/" + project_key + "/" + env_key);
  s["_links"]["self"] = link("/api/v2/segments/" + project_key + "/" + env_key + "/" + key);
  s["_links"]["site"] = link("/" + project_key + "/" + env_key + "/segments/" + key, "text/html");
  ojson rules = ojson::array();
  if (!big) {
    for (std::int64_t i = r.range(0, 2); i > 0; --i) {
      ojson rule;
      rule["_id"] = r.uuid();
      rule["clauses"] = ojson::array({make_clause(r)});
      if (r.chance(0.2)) {
        rule["weight"] = r.range(1000, 99000);
        rule["rolloutContextKind"] = "user";
        rule["bucketBy"] = "key";
      }
      rules.push_back(rule);
    }
  }
  s["rules"] = rules;
  const std::int64_t version = r.range(1, 30);
  s["version"] = version;
  s["deleted"] = false;
  s["unbounded"] = big;
  const std::int64_t generation = big ? r.range(1, 6) : 1;
  s["generation"] = generation;
  if (big) {
    // Big segments: membership lives elsewhere; the listing only carries metadata.
    s["unboundedContextKind"] = "user";
    ojson meta;
    meta["envId"] = env_id;
    meta["segmentId"] = r.hex(24);
    meta["version"] = version;
    meta["includedCount"] = r.range(1000, 2000000);
    meta["excludedCount"] = r.range(0, 5000);
    meta["lastModified"] = modified;
    meta["deleted"] = false;
    s["_unboundedMetadata"] = meta;
  }
  return s;
}

ojson make_context_attributes(Rng& r, const std::string& kind, const std::string& key) {
  static const std::vector<std::string> kCountries = {"US", "CA", "DE", "FR", "JP", "BR"};
  static const std::vector<std::string> kPlans = {"free", "pro", "enterprise"};
  ojson c;
  c["kind"] = kind;
  c["key"] = key;
  if (kind == "user") {
    if (r.chance(0.15)) {
      c["anonymous"] = true;
      return c;
    }
    const std::string first = r.pick(first_names());
    const std::string last = r.pick(last_names());
    c["name"] = first + " " + last;
    std::string email = first + "." + last + "@example.com";
    for (char& ch : email) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    c["email"] = email;
    c["country"] = r.pick(kCountries);
    c["plan"] = r.pick(kPlans);
  } else if (kind == "organization") {
    static const std::vector<std::string> kOrgs = {"Acme", "Globex", "Initech", "Umbrella",
                                                   "Hooli", "Stark Industries"};
    c["name"] = r.pick(kOrgs);
    c["tier"] = r.pick(kPlans);
  } else {
    static const std::vector<std::string> kModels = {"iPhone 15", "Pixel 8", "Galaxy S24", "iPad"};
    c["os"] = r.chance(0.5) ? "ios" : "android";
    c["model"] = r.pick(kModels);
  }
  return c;
}

ojson make_context_record(const std::string& project_key, const std::string& env_key,
                          const ojson& context, const std::string& application_id,
                          std::int64_t associated) {
  const std::string kind = context["kind"].get<std::string>();
  const std::string key = context["key"].get<std::string>();
  const std::string base = "/api/v2/projects/" + project_key + "/environments/" + env_key;
  ojson rec;
  rec["lastSeen"] = "";
  if (!application_id.empty()) rec["applicationId"] = application_id;
  rec["context"] = context;
  rec["associatedContexts"] = associated;
  // The key is an arbitrary string ('/', ':', '%' included): percent-encoded in paths.
  std::string self = base + "/contexts/" + kind + ":" + url_encode(key);
  if (!application_id.empty()) self += "?filter=applicationId:\"" + application_id + "\"";
  rec["_links"]["parent"] = link(base);
  rec["_links"]["self"] = link(self);
  rec["_links"]["site"] =
      link("/" + project_key + "/" + env_key + "/context/" + kind + ":" + url_encode(key), "text/html");
  return rec;
}

ojson make_member(Rng& r, const MemberRef& m, std::int64_t created_ms, std::int64_t last_seen_ms,
                  bool pending, const ojson& teams) {
  ojson j;
  j["_links"]["self"] = link("/api/v2/members/" + m.id);
  j["_id"] = m.id;
  j["firstName"] = m.first_name;
  j["lastName"] = m.last_name;
  j["role"] = m.role;
  j["email"] = m.email;
  j["_pendingInvite"] = pending;
  j["_verified"] = !pending;
  j["customRoles"] = ojson::array();
  j["mfa"] = pending ? "disabled" : (r.chance(0.6) ? "enabled" : "disabled");
  j["excludedDashboards"] = ojson::array();
  j["_lastSeen"] = pending ? 0 : last_seen_ms;
  j["teams"] = teams;
  j["permissionGrants"] = ojson::array();
  j["creationDate"] = created_ms;
  j["oauthProviders"] = ojson::array();
  return j;
}

ojson make_team(Rng& r, const std::string& key, const std::string& name, std::int64_t created_ms,
                std::int64_t end_ms) {
  ojson t;
  t["key"] = key;
  t["name"] = name;
  t["description"] = "The " + name + " team";
  t["_creationDate"] = created_ms;
  t["_links"]["parent"] = link("/api/v2/teams");
  t["_links"]["roles"] = link("/api/v2/teams/" + key + "/roles");
  t["_links"]["self"] = link("/api/v2/teams/" + key);
  t["_lastModified"] = r.range(created_ms, end_ms);
  t["_version"] = r.range(1, 12);
  t["_idpSynced"] = false;
  return t;
}

ojson make_metric(Rng& r, const std::string& project_key, const std::string& key,
                  const std::string& name, std::int64_t created_ms, std::int64_t end_ms,
                  const MemberRef& maintainer) {
  static const std::vector<std::string> kKinds = {"custom", "custom", "pageview", "click"};
  const std::string kind = r.pick(kKinds);
  ojson m;
  m["experimentCount"] = r.range(0, 3);
  m["metricGroupCount"] = 0;
  m["_id"] = r.hex(24);
  m["_versionId"] = r.uuid();
  m["_version"] = r.range(1, 8);
  m["key"] = key;
  m["name"] = name;
  m["kind"] = kind;
  m["_attachedFlagCount"] = r.range(0, 4);
  m["_links"]["parent"] = link("/api/v2/metrics/" + project_key);
  m["_links"]["self"] = link("/api/v2/metrics/" + project_key + "/" + key);
  m["_site"] = link("/" + project_key + "/metrics/" + key + "/details", "text/html");
  m["tags"] = pick_tags(r, 2);
  m["_creationDate"] = created_ms;
  m["lastModified"] = {{"date", rfc3339_ms(r.range(created_ms, end_ms))}};
  m["maintainerId"] = maintainer.id;
  m["_maintainer"] = member_summary(maintainer);
  m["description"] = "Measures " + name;
  if (kind == "custom") {
    const bool numeric = r.chance(0.5);
    m["category"] = numeric ? "Performance" : "Conversion";
    m["isNumeric"] = numeric;
    m["eventKey"] = key;
    if (numeric) {
      m["unit"] = "ms";
      m["successCriteria"] = "LowerThanBaseline";
      m["unitAggregationType"] = "average";
      m["analysisType"] = r.chance(0.3) ? "percentile" : "mean";
      if (m["analysisType"] == "percentile") m["percentileValue"] = 95;
      m["eventDefault"] = {{"disabled", false}, {"value", 0.0}};
    } else {
      m["successCriteria"] = "HigherThanBaseline";
      m["unitAggregationType"] = "sum";
    }
  } else {
    m["isNumeric"] = false;
    m["successCriteria"] = "HigherThanBaseline";
    m["urls"] = ojson::array({{{"kind", "substring"}, {"substring", "/" + key}}});
    if (kind == "click") m["selector"] = ".btn-" + key;
  }
  m["randomizationUnits"] = ojson::array({"user"});
  m["dataSource"] = {{"key", "launchdarkly"}, {"_name", "LaunchDarkly"}};
  m["archived"] = false;
  return m;
}

ojson make_experiment(Rng& r, const std::string& project_key, const std::string& env_key,
                      const std::string& key, const std::string& name, const std::string& flag_key,
                      const std::string& metric_key, std::int64_t created_ms,
                      std::int64_t end_ms, const std::string& maintainer_id, bool archived) {
  const std::string self =
      "/api/v2/projects/" + project_key + "/environments/" + env_key + "/experiments/" + key;
  ojson e;
  e["_id"] = r.hex(24);
  e["key"] = key;
  e["name"] = name;
  e["description"] = "Does " + flag_key + " move " + metric_key + "?";
  e["_maintainerId"] = maintainer_id;
  e["_creationDate"] = created_ms;
  e["environmentKey"] = env_key;
  if (archived) e["archivedDate"] = r.range(created_ms, end_ms);
  e["tags"] = pick_tags(r, 1);
  e["_links"]["parent"] =
      link("/api/v2/projects/" + project_key + "/environments/" + env_key + "/experiments");
  e["_links"]["self"] = link(self);
  ojson it;
  it["_id"] = r.hex(24);
  it["hypothesis"] = "The new variation of " + flag_key + " improves " + metric_key;
  static const std::vector<std::string> kStatus = {"not_started", "running", "stopped"};
  const std::string status = archived ? "stopped" : r.pick(kStatus);
  it["status"] = status;
  const std::int64_t created = r.range(created_ms, end_ms);
  it["createdAt"] = created;
  if (status != "not_started") it["startedAt"] = r.range(created, end_ms);
  if (status == "stopped") it["endedAt"] = end_ms - r.range(0, kDayMs);
  it["flags"][flag_key] = {{"targetingRule", "fallthrough"},
                           {"flagConfigVersion", r.range(1, 20)},
                           {"_links", {{"self", link("/api/v2/flags/" + project_key + "/" + flag_key)}}}};
  it["randomizationUnit"] = "user";
  e["currentIteration"] = it;
  return e;
}

Edit change_flag_in_environment(Rng& r, ojson& flag, const std::string& env_key, std::int64_t now_ms) {
  ojson& c = flag["environments"][env_key];
  const std::string env_name = c["_environmentName"].get<std::string>();
  const std::string path = "/environments/" + env_key;
  const auto n_variations = static_cast<std::int64_t>(flag["variations"].size());
  Edit edit;
  edit.title_verb = "updated the flag";
  switch (r.range(0, 3)) {
    case 0: {
      const bool on = !c["on"].get<bool>();
      c["on"] = on;
      edit.action = "updateOn";
      edit.title_verb = on ? "turned on the flag" : "turned off the flag";
      edit.short_description = on ? "Turned on the flag" : "Turned off the flag";
      edit.description = "- Turned " + std::string(on ? "on" : "off") + " the flag in `" + env_name + "`";
      edit.patch = ojson::array({{{"op", "replace"}, {"path", path + "/on"}, {"value", on}}});
      break;
    }
    case 1: {
      const std::string key = "user-" + r.hex(8);
      ojson& targets = c["targets"];
      bool added = false;
      for (auto& t : targets) {
        if (t["variation"] == 0) {
          t["values"].push_back(key);
          added = true;
          break;
        }
      }
      if (!added) {
        targets.push_back({{"values", ojson::array({key})}, {"variation", 0}, {"contextKind", "user"}});
      }
      edit.action = "updateTargets";
      edit.short_description = "Added individual targets";
      edit.description = "- Added `" + key + "` to individual targets for variation 0 in `" + env_name + "`";
      break;
    }
    case 2: {
      ojson rule = make_rule(r, n_variations);
      c["rules"].push_back(rule);
      edit.action = "updateRules";
      edit.short_description = "Added a targeting rule";
      edit.description = "- Added a rule in `" + env_name + "`";
      edit.patch = ojson::array({{{"op", "add"}, {"path", path + "/rules/-"}, {"value", rule}}});
      break;
    }
    default: {
      const std::int64_t v = r.range(0, n_variations - 1);
      c["fallthrough"] = {{"variation", v}};
      edit.action = "updateFallthrough";
      edit.short_description = "Changed the default rule";
      edit.description = "- Changed the default rule to serve variation " + std::to_string(v) +
                         " in `" + env_name + "`";
      break;
    }
  }
  c["version"] = c["version"].get<std::int64_t>() + 1;
  c["lastModified"] = now_ms;
  flag["_version"] = flag["_version"].get<std::int64_t>() + 1;
  return edit;
}

Edit archive_flag(ojson& flag, std::int64_t now_ms) {
  flag["archived"] = true;
  flag["archivedDate"] = now_ms;
  for (auto& [k, c] : flag["environments"].items()) {
    (void)k;
    c["archived"] = true;
  }
  flag["_version"] = flag["_version"].get<std::int64_t>() + 1;
  Edit edit;
  edit.action = "updateGlobalArchived";
  edit.title_verb = "archived the flag";
  edit.short_description = "Archived the flag";
  edit.description = "- Archived the flag";
  edit.patch = ojson::array({{{"op", "replace"}, {"path", "/archived"}, {"value", true}}});
  return edit;
}

Edit edit_segment(Rng& r, ojson& segment, std::int64_t now_ms) {
  Edit edit;
  edit.title_verb = "updated the segment";
  const std::int64_t version = segment["version"].get<std::int64_t>() + 1;
  if (segment["unbounded"].get<bool>()) {
    ojson& meta = segment["_unboundedMetadata"];
    const std::int64_t added = r.range(1, 500);
    meta["includedCount"] = meta["includedCount"].get<std::int64_t>() + added;
    meta["version"] = version;
    meta["lastModified"] = now_ms;
    edit.action = "updateIncluded";
    edit.short_description = "Imported targets into the big segment";
    edit.description = "- Added " + std::to_string(added) + " targets to the included list";
  } else if (r.chance(0.7)) {
    const std::string key = "user-" + r.hex(8);
    segment["included"].push_back(key);
    edit.action = "updateIncluded";
    edit.short_description = "Added included targets";
    edit.description = "- Added `" + key + "` to the included targets";
    edit.patch = ojson::array({{{"op", "add"}, {"path", "/included/-"}, {"value", key}}});
  } else {
    ojson rule;
    rule["_id"] = r.uuid();
    rule["clauses"] = ojson::array({make_clause(r)});
    segment["rules"].push_back(rule);
    edit.action = "updateRules";
    edit.short_description = "Added a rule";
    edit.description = "- Added a rule to the segment";
    edit.patch = ojson::array({{{"op", "add"}, {"path", "/rules/-"}, {"value", rule}}});
  }
  segment["version"] = version;
  segment["lastModifiedDate"] = now_ms;
  return edit;
}

void edit_team(Rng& r, ojson& team, std::int64_t now_ms) {
  static const std::vector<std::string> kWhat = {"Owns the checkout", "On call this week",
                                                 "Runs the experiments", "Ships the mobile apps",
                                                 "Keeps the lights on"};
  team["description"] = r.pick(kWhat) + " (" + r.hex(4) + ")";
  team["_lastModified"] = now_ms;
  team["_version"] = team["_version"].get<std::int64_t>() + 1;
}

void edit_metric(Rng& r, ojson& metric, std::int64_t now_ms) {
  metric["description"] = "Measures " + metric["name"].get<std::string>() + " (rev " + r.hex(4) + ")";
  metric["_version"] = metric["_version"].get<std::int64_t>() + 1;
  metric["_versionId"] = r.uuid();
  metric["lastModified"] = {{"date", rfc3339_ms(now_ms)}};
}

const std::vector<std::string>& first_names() {
  static const std::vector<std::string> k = {"Ariel", "Sam",   "Priya", "Jonas", "Mei",
                                             "Lena",  "Omar",  "Grace", "Tomas", "Aiko",
                                             "Noah",  "Zara",  "Ivan",  "Chloe", "Ravi"};
  return k;
}

const std::vector<std::string>& last_names() {
  static const std::vector<std::string> k = {"Flores", "Okafor", "Nakamura", "Schmidt", "Patel",
                                             "Rossi",  "Kowalski", "Dubois", "Silva",  "Berg"};
  return k;
}

}  // namespace ldsim::content
