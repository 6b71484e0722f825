#include "entity_world.h"

#include <algorithm>
#include <cctype>

#include "audit_log_content.h"
#include "audit_log_data.h"
#include "entity_content.h"
#include "http_util.h"

namespace ldsim {

namespace {

using content::MemberRef;

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr std::int64_t kMsNs = 1000000;

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// "beta-users" -> "Beta users"
std::string display_name(const std::string& key) {
  std::string s = key;
  std::replace(s.begin(), s.end(), '-', ' ');
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

std::string project_key(std::int64_t i) {
  if (i == 0) return "default";
  if (i == 1) return "mobile-app";
  return "project-" + std::to_string(i + 1);
}

std::string environment_key(std::int64_t i) {
  if (i == 0) return "production";
  if (i == 1) return "test";
  return "env-" + std::to_string(i + 1);
}

// Keys of the first few entities of a kind come from a list; later ones are numbered.
std::string listed_key(const std::vector<std::string>& list, const std::string& prefix,
                       std::int64_t i) {
  if (i < static_cast<std::int64_t>(list.size())) return list[static_cast<std::size_t>(i)];
  return prefix + std::to_string(i + 1);
}

const std::vector<std::string> kTeamKeys = {"platform", "growth", "payments", "mobile",
                                            "data-science", "security", "design", "support"};
const std::vector<std::string> kMetricKeys = {
    "checkout-completed", "page-load-time", "signup-clicked", "search-performed",
    "add-to-cart",        "api-latency",    "pricing-viewed", "error-rate"};
const std::vector<std::string> kApplicationIds = {"com.acme.ios", "com.acme.android",
                                                  "checkout-web", "GoSDK/1.2"};

// Dates of `n` entities created in order, spread over the `span_days` before `end_ms`.
std::int64_t creation_date(Rng& r, std::int64_t end_ms, std::int64_t i, std::int64_t n,
                           std::int64_t span_days) {
  const std::int64_t span = span_days * kDayMs;
  const std::int64_t step = std::max<std::int64_t>(1, span / std::max<std::int64_t>(1, n));
  return end_ms - span + i * step + r.range(0, std::max<std::int64_t>(0, step / 2 - 1));
}

MemberRef member_ref(const ojson& member) {
  MemberRef m;
  m.id = member["_id"].get<std::string>();
  m.email = member["email"].get<std::string>();
  m.first_name = member["firstName"].get<std::string>();
  m.last_name = member["lastName"].get<std::string>();
  m.role = member["role"].get<std::string>();
  return m;
}

bool segment_modified_before(const SegmentRecord* a, const SegmentRecord* b) {
  const auto ma = a->last_modified();
  const auto mb = b->last_modified();
  return ma != mb ? ma > mb : a->key < b->key;
}

bool segment_name_before(const SegmentRecord* a, const SegmentRecord* b) {
  const auto& na = a->doc.at("name").get_ref<const std::string&>();
  const auto& nb = b->doc.at("name").get_ref<const std::string&>();
  return na != nb ? na < nb : a->key < b->key;
}

template <class T>
void erase_ptr(std::vector<T*>& v, const T* p) {
  v.erase(std::remove(v.begin(), v.end(), p), v.end());
}

std::vector<content::EnvRef> env_refs(const ProjectRecord& p) {
  std::vector<content::EnvRef> refs;
  for (const auto& e : p.environments) refs.push_back({e->key, e->name});
  return refs;
}

// kind/key[/applicationId] as the exported id has it (README, contexts): '%' and '/' in
// the key percent-encoded, so key "a/b" and key "a" of application "b" are two ids.
std::string context_id(const ojson& context, const std::string& application_id) {
  std::string id = context["kind"].get<std::string>() + "/";
  for (char c : context["key"].get<std::string>()) {
    if (c == '%') {
      id += "%25";
    } else if (c == '/') {
      id += "%2F";
    } else {
      id.push_back(c);
    }
  }
  if (!application_id.empty()) id += "/" + application_id;
  return id;
}

// Context keys are arbitrary strings. About one in eight generated keys holds '/', ':'
// or '%' (or a literal "%2F"), as real keys do (URLs, "tenant:id", encoded values).
std::string context_key(Rng& r, const std::string& prefix, std::size_t hex_len) {
  std::string key = prefix + r.hex(hex_len);
  if (!r.chance(0.125)) return key;
  switch (r.range(0, 4)) {
    case 0: return "tenant-" + r.hex(3) + "/" + key;
    case 1: return key + ":" + r.hex(4);
    case 2: return key + "%" + r.hex(2);
    case 3: return key + "%2F" + r.hex(2);  // what '/' encodes to: must stay distinct from it
    default: return "https://example.com/u/" + key + "?a=1:2%20";
  }
}

void insert_context(EnvironmentRecord& env, std::unique_ptr<ContextRecordEntry> rec) {
  rec->doc["lastSeen"] = content::rfc3339_ns(rec->seen_ns);
  env.contexts_by_seen.emplace(EnvironmentRecord::SeenKey{rec->seen_ns, rec->seq}, rec.get());
  std::string id = rec->id;
  env.contexts.emplace(std::move(id), std::move(rec));
}

// A new lastSeen for a context seen at `now_ms`: after every lastSeen the environment
// holds, so that the ts order (and a saved continuation token) sees it as new.
std::int64_t next_seen_ns(Rng& r, const EnvironmentRecord& env, std::int64_t now_ms) {
  std::int64_t ns = now_ms * kMsNs + r.range(0, kMsNs - 1);
  if (!env.contexts_by_seen.empty()) {
    ns = std::max(ns, env.contexts_by_seen.rbegin()->first.first + 1);
  }
  return ns;
}

void generate_contexts(Rng& r, const ProjectRecord& p, EnvironmentRecord& env,
                       std::int64_t count, std::int64_t end_ms) {
  static const std::vector<std::string> kKinds = {"user", "user", "user", "user", "user",
                                                  "user", "user", "organization", "device",
                                                  "device"};
  std::vector<std::pair<ojson, std::string>> made;  // (context, applicationId) so far
  std::int64_t last_ns = end_ms * kMsNs;
  // A pair whose ids joined raw would be one: key "K/APP" without an application, then
  // key "K" seen by application APP (the second is made on the next iteration).
  std::optional<std::pair<ojson, std::string>> twin;
  for (std::int64_t i = 0; i < count; ++i) {
    ojson context;
    std::string app;
    std::string id;
    for (int attempt = 0; attempt < 20; ++attempt) {
      app = r.chance(0.3) ? "" : r.pick(kApplicationIds);
      if (twin) {
        context = twin->first;
        app = twin->second;
        twin.reset();
      } else if (r.chance(0.03)) {
        const std::string key = "user-" + r.hex(8);
        const std::string twin_app = r.pick(kApplicationIds);
        app.clear();
        context = content::make_context_attributes(r, "user", key + "/" + twin_app);
        twin.emplace(content::make_context_attributes(r, "user", key), twin_app);
      } else if (!made.empty() && r.chance(0.15)) {
        // The same kind and key seen by another application: a separate record.
        context = made[r.index(made.size())].first;
      } else {
        const std::string kind = r.pick(kKinds);
        const std::string prefix = kind == "organization" ? "org-" : kind + "-";
        context = content::make_context_attributes(r, kind, context_key(r, prefix, kind == "device" ? 10 : 8));
      }
      id = context_id(context, app);
      if (env.contexts.find(id) == env.contexts.end()) break;
      id.clear();
    }
    if (id.empty()) continue;
    auto rec = std::make_unique<ContextRecordEntry>();
    rec->id = id;
    // Some contexts share a lastSeen (ties the continuation token must handle); a few
    // have whole seconds (no fraction in the RFC 3339 text).
    if (i > 0 && r.chance(0.05)) {
      rec->seen_ns = last_ns;
    } else {
      rec->seen_ns = end_ms * kMsNs - r.range(0, 30 * kDayMs * kMsNs);
      if (r.chance(0.05)) rec->seen_ns -= rec->seen_ns % 1000000000;
    }
    last_ns = rec->seen_ns;
    rec->seq = env.next_context_seq++;
    rec->doc = content::make_context_record(p.key, env.key, context, app, r.range(0, 2));
    made.emplace_back(context, app);
    insert_context(env, std::move(rec));
  }
}

void index_segments(EnvironmentRecord& env) {
  env.segments_by_modified = env.segments_by_creation;
  std::sort(env.segments_by_modified.begin(), env.segments_by_modified.end(),
            segment_modified_before);
  env.segments_by_name = env.segments_by_creation;
  std::sort(env.segments_by_name.begin(), env.segments_by_name.end(), segment_name_before);
}

void generate(WorldData& w, const EntityConfig& cfg, std::uint64_t seed,
              const audit::Catalog& cat) {
  const std::int64_t end = cfg.end_ms;
  const auto rng_for = [seed](const std::string& what) {
    return Rng(derive_seed(seed, content::salt_of(what)));
  };

  // Teams first: members list the teams they belong to.
  Rng rt = rng_for("teams");
  for (std::int64_t i = 0; i < cfg.teams; ++i) {
    auto t = std::make_unique<TeamRecord>();
    t->key = listed_key(kTeamKeys, "team-", i);
    t->doc = content::make_team(rt, t->key, display_name(t->key),
                                creation_date(rt, end, i, cfg.teams, 600), end);
    w.teams.push_back(std::move(t));
  }

  // Members: the audit catalog's members first (the actors of audit entries), then more.
  Rng rm = rng_for("members");
  static const std::vector<std::string> kRoles = {"reader", "reader", "writer", "writer", "admin"};
  for (std::int64_t i = 0; i < cfg.members; ++i) {
    MemberRef m;
    bool pending = false;
    if (i < static_cast<std::int64_t>(cat.members.size())) {
      const auto& c = cat.members[static_cast<std::size_t>(i)];
      m = {c.id, c.email, c.first_name, c.last_name, c.role};
    } else {
      m.id = rm.hex(24);
      m.first_name = rm.pick(content::first_names());
      m.last_name = rm.pick(content::last_names());
      m.email = lower(m.first_name + "." + m.last_name) + std::to_string(i) + "@example.com";
      m.role = rm.pick(kRoles);
      pending = rm.chance(0.1);
    }
    ojson teams = ojson::array();
    if (!w.teams.empty()) {
      const std::int64_t n = std::min<std::int64_t>(rm.range(0, 2), static_cast<std::int64_t>(w.teams.size()));
      const std::size_t first = rm.index(w.teams.size());
      for (std::int64_t k = 0; k < n; ++k) {
        const auto& t = *w.teams[(first + static_cast<std::size_t>(k)) % w.teams.size()];
        ojson s;
        s["customRoleKeys"] = ojson::array({t.key + "-writer"});
        s["key"] = t.key;
        s["_links"]["self"] = {{"href", "/api/v2/teams/" + t.key}, {"type", "application/json"}};
        s["name"] = t.doc["name"];
        teams.push_back(s);
      }
    }
    auto rec = std::make_unique<MemberRecord>();
    rec->id = m.id;
    const std::int64_t created = creation_date(rm, end, i, cfg.members, 700);
    const std::int64_t last_seen = end - rm.range(0, 10 * kDayMs);
    rec->doc = content::make_member(rm, m, created, last_seen, pending, teams);
    w.members.push_back(std::move(rec));
  }
  w.next_member_number = cfg.members;

  std::vector<MemberRef> maintainers;
  for (const auto& m : w.members) maintainers.push_back(member_ref(m->doc));
  if (maintainers.empty()) {
    const auto& c = cat.members.front();
    maintainers.push_back({c.id, c.email, c.first_name, c.last_name, c.role});
  }
  for (auto& t : w.teams) {
    t->maintainers.push_back(content::member_summary(rt.pick(maintainers)));
    ojson role;
    role["key"] = t->key + "-writer";
    role["name"] = display_name(t->key) + " writer";
    role["appliedOn"] = t->doc["_creationDate"];
    t->roles.push_back(role);
  }

  static const std::vector<std::string> kColors = {"417505", "F5A623", "7B42BC", "0E7FC0", "D0021B"};
  for (std::int64_t pi = 0; pi < cfg.projects; ++pi) {
    auto p = std::make_unique<ProjectRecord>();
    p->key = project_key(pi);
    p->name = display_name(p->key);
    if (p->key == "mobile-app") p->name = "Mobile App";
    Rng rp = rng_for("project/" + p->key);
    p->id = rp.hex(24);
    for (const auto& cp : cat.projects) {
      if (cp.key == p->key) p->id = cp.id;  // the audit log's project of that key
    }
    p->doc = content::make_project(rp, p->key, p->name, p->id);
    for (std::int64_t ei = 0; ei < cfg.environments; ++ei) {
      auto e = std::make_unique<EnvironmentRecord>();
      e->key = environment_key(ei);
      e->name = display_name(e->key);
      e->id = rp.hex(24);
      e->doc = content::make_environment(rp, p->key, e->key, e->name, e->id,
                                         kColors[static_cast<std::size_t>(ei) % kColors.size()]);
      p->environments.push_back(std::move(e));
    }
    const auto envs = env_refs(*p);

    Rng rf = rng_for("flags/" + p->key);
    for (std::int64_t i = 0; i < cfg.flags; ++i) {
      auto f = std::make_unique<FlagRecord>();
      const int number = static_cast<int>(i + 1);
      f->key = "flag-" + std::to_string(number);
      f->seq = p->next_flag_seq++;
      const std::int64_t created = creation_date(rf, end, i, cfg.flags, 400);
      const MemberRef& owner = rf.pick(maintainers);
      f->doc = content::make_flag(rf, p->key, envs, number, created, end, owner, false);
      (f->archived() ? p->archived_flags : p->unarchived_flags).push_back(f.get());
      p->flags.emplace(f->key, std::move(f));
    }
    p->next_flag_number = cfg.flags + 1;

    for (auto& e : p->environments) {
      Rng rs = rng_for("segments/" + p->key + "/" + e->key);
      for (std::int64_t i = 0; i < cfg.segments; ++i) {
        auto s = std::make_unique<SegmentRecord>();
        s->key = listed_key(cat.segments, "segment-", i);
        s->seq = i;
        const std::int64_t created = creation_date(rs, end, i, cfg.segments, 300);
        const bool big = rs.chance(0.2);
        s->doc = content::make_segment(rs, p->key, e->key, e->id, s->key, display_name(s->key),
                                       created, end, big);
        e->segments_by_creation.push_back(s.get());
        e->segments.emplace(s->key, std::move(s));
      }
      index_segments(*e);

      Rng rc = rng_for("contexts/" + p->key + "/" + e->key);
      generate_contexts(rc, *p, *e, cfg.contexts, end);
    }

    Rng rmet = rng_for("metrics/" + p->key);
    for (std::int64_t i = 0; i < cfg.metrics; ++i) {
      auto m = std::make_unique<MetricRecord>();
      m->key = listed_key(kMetricKeys, "metric-", i);
      const std::int64_t created = creation_date(rmet, end, i, cfg.metrics, 300);
      const MemberRef& owner = rmet.pick(maintainers);
      m->doc = content::make_metric(rmet, p->key, m->key, display_name(m->key), created, end, owner);
      p->metrics_by_name.push_back(m.get());
      p->metrics.push_back(std::move(m));
    }
    std::sort(p->metrics_by_name.begin(), p->metrics_by_name.end(),
              [](const MetricRecord* a, const MetricRecord* b) {
                const auto& na = a->doc.at("name").get_ref<const std::string&>();
                const auto& nb = b->doc.at("name").get_ref<const std::string&>();
                return na != nb ? na < nb : a->key < b->key;
              });

    for (auto& e : p->environments) {
      Rng rx = rng_for("experiments/" + p->key + "/" + e->key);
      for (std::int64_t i = 0; i < cfg.experiments; ++i) {
        auto x = std::make_unique<ExperimentRecord>();
        x->key = "experiment-" + std::to_string(i + 1);
        const std::string flag = "flag-" + std::to_string(rx.range(1, std::max<std::int64_t>(1, cfg.flags)));
        const std::string metric =
            p->metrics.empty() ? "page-load-time" : p->metrics[rx.index(p->metrics.size())]->key;
        const std::int64_t created = creation_date(rx, end, i, cfg.experiments, 200);
        const std::string owner = rx.pick(maintainers).id;
        const bool archived = rx.chance(0.25);
        x->doc = content::make_experiment(rx, p->key, e->key, x->key,
                                          "Experiment " + std::to_string(i + 1) + ": " + flag, flag,
                                          metric, created, end, owner, archived);
        e->experiments.push_back(std::move(x));
      }
    }
    w.projects.push_back(std::move(p));
  }
}

}  // namespace

EnvironmentRecord* ProjectRecord::environment(const std::string& env_key) const {
  for (const auto& e : environments) {
    if (e->key == env_key) return e.get();
  }
  return nullptr;
}

ProjectRecord* WorldData::project(const std::string& key) const {
  for (const auto& p : projects) {
    if (p->key == key) return p.get();
  }
  return nullptr;
}

namespace {

// How often each kind is drawn (out of the sum): changes are common, deletions rare, so
// that a long run with --mutate-every keeps flags and segments to change (nothing
// creates segments).
const std::vector<std::pair<std::string, int>>& mutation_weights() {
  static const std::vector<std::pair<std::string, int>> w = {
      {"flag_created", 2},       {"flag_changed", 4},       {"flag_archived", 1},
      {"flag_deleted", 1},       {"segment_edited", 3},     {"segment_deleted", 1},
      {"context_first_seen", 2}, {"context_seen_again", 3}, {"member_added", 1},
      {"member_removed", 1},     {"team_changed", 1},       {"metric_changed", 1}};
  return w;
}

const std::string& draw_kind(Rng& r) {
  const auto& weights = mutation_weights();
  int total = 0;
  for (const auto& [kind, weight] : weights) total += weight;
  auto x = r.range(0, total - 1);
  for (const auto& [kind, weight] : weights) {
    if (x < weight) return kind;
    x -= weight;
  }
  return weights.back().first;
}

}  // namespace

const std::vector<std::string>& mutation_kinds() {
  static const std::vector<std::string> k = {
      "flag_created",   "flag_changed",    "flag_archived",      "flag_deleted",
      "segment_edited", "segment_deleted", "context_first_seen", "context_seen_again",
      "member_added",   "member_removed",  "team_changed",       "metric_changed",
      "environment_deleted", "project_deleted"};
  return k;
}

EntityWorld::EntityWorld(const EntityConfig& config, std::uint64_t seed, AuditLogStore* audit)
    : config_(config), audit_(audit), mutation_rng_(derive_seed(seed, content::salt_of("mutations"))) {
  every_ = config_.mutate_every;
  const audit::Catalog own = audit_ != nullptr ? audit::Catalog{} : audit::Catalog::generate(seed);
  const audit::Catalog& cat = audit_ != nullptr ? audit_->catalog() : own;
  generate(data_, config_, seed, cat);
  const auto& c = cat.members.front();
  fallback_maintainer_ = {c.id, c.email, c.first_name, c.last_name, c.role};
}

EntityWorld::~EntityWorld() { stop(); }

std::vector<Mutation> EntityWorld::mutate(std::size_t n, const std::optional<std::string>& kind,
                                          std::int64_t now) {
  std::unique_lock lock(mu_);
  std::vector<Mutation> done;
  for (std::size_t i = 0; i < n; ++i) {
    std::optional<Mutation> m;
    if (kind) m = apply_locked(*kind, now);
    // Impossible kinds (nothing left to delete) give way to another; adding a member is
    // always possible, so this ends.
    for (int attempt = 0; !m && attempt < 50; ++attempt) {
      m = apply_locked(draw_kind(mutation_rng_), now);
    }
    if (!m) m = apply_locked("member_added", now);
    done.push_back(std::move(*m));
  }
  return done;
}

std::optional<Mutation> EntityWorld::apply_locked(const std::string& kind, std::int64_t now) {
  Rng& r = mutation_rng_;
  WorldData& w = data_;

  // Pick uniformly among the projects (or environments) that have something to change.
  const auto pick_project = [&](auto&& eligible) -> ProjectRecord* {
    std::vector<ProjectRecord*> c;
    for (const auto& p : w.projects) {
      if (eligible(*p)) c.push_back(p.get());
    }
    return c.empty() ? nullptr : c[r.index(c.size())];
  };
  const auto pick_env = [&](auto&& eligible) -> std::pair<ProjectRecord*, EnvironmentRecord*> {
    std::vector<std::pair<ProjectRecord*, EnvironmentRecord*>> c;
    for (const auto& p : w.projects) {
      for (const auto& e : p->environments) {
        if (eligible(*e)) c.emplace_back(p.get(), e.get());
      }
    }
    if (c.empty()) return {nullptr, nullptr};
    return c[r.index(c.size())];
  };
  const auto maintainer = [&]() -> MemberRef {
    if (!w.members.empty()) return member_ref(w.members[r.index(w.members.size())]->doc);
    return fallback_maintainer_;
  };

  // The audit entry of a flag or segment change (contract: kind flag|segment,
  // accesses[].resource and target.resources proj/<p>:env/<e>:<kind>/<key>).
  const auto record = [&](const ProjectRecord& p, const std::string& env_key,
                          const std::string& entity_kind, const std::string& key,
                          const std::string& name, const content::Edit& edit, ojson previous,
                          ojson current) -> std::string {
    if (audit_ == nullptr) return "";
    audit::EntityChange ch;
    ch.text.kind = entity_kind;
    ch.text.action = edit.action;
    ch.text.resource = "proj/" + p.key + ":env/" + env_key + ":" + entity_kind + "/" + key;
    ch.text.name = name;
    ch.text.description = edit.description;
    ch.text.short_description = edit.short_description;
    ch.text.title_verb = edit.title_verb;
    if (entity_kind == "flag") {
      ch.text.canonical_href = "/api/v2/flags/" + p.key + "/" + key;
      ch.text.site_href = "/" + p.key + "/" + (env_key == "*" ? "production" : env_key) + "/features/" + key;
    } else {
      ch.text.canonical_href = "/api/v2/segments/" + p.key + "/" + env_key + "/" + key;
      ch.text.site_href = "/" + p.key + "/" + env_key + "/segments/" + key;
    }
    ch.project_key = p.key;
    ch.project_name = p.name;
    const auto& cat = audit_->catalog();
    ch.actor_is_member = r.chance(0.75);
    ch.actor = static_cast<std::uint16_t>(
        r.index(ch.actor_is_member ? cat.members.size() : cat.tokens.size()));
    ch.previous = std::move(previous);
    ch.current = std::move(current);
    ch.patch = edit.patch;
    return audit_->append_change(now, std::move(ch));
  };

  Mutation m;
  m.kind = kind;
  m.op = "upsert";

  if (kind == "flag_created") {
    ProjectRecord* p = pick_project([](const ProjectRecord&) { return true; });
    if (p == nullptr) return std::nullopt;
    auto f = std::make_unique<FlagRecord>();
    const auto number = static_cast<int>(p->next_flag_number++);
    f->key = "flag-" + std::to_string(number);
    f->seq = p->next_flag_seq++;
    f->doc = content::make_flag(r, p->key, env_refs(*p), number, now, now, maintainer(), true);
    content::Edit edit;
    edit.action = "createFlag";
    edit.title_verb = "created the flag";
    edit.short_description = "Created the flag";
    edit.description = "- Created the flag `" + f->key + "`";
    m.stream = "flags";
    m.id = p->key + "/" + f->key;
    m.audit_id = record(*p, "*", "flag", f->key, f->doc["name"].get<std::string>(), edit, nullptr, f->doc);
    p->unarchived_flags.push_back(f.get());  // newest seq: stays in creation order
    p->flags.emplace(f->key, std::move(f));
    return m;
  }

  if (kind == "flag_changed" || kind == "flag_archived") {
    ProjectRecord* p = pick_project([](const ProjectRecord& pr) {
      return !pr.unarchived_flags.empty() && !pr.environments.empty();
    });
    if (p == nullptr) return std::nullopt;
    FlagRecord* f = p->unarchived_flags[r.index(p->unarchived_flags.size())];
    ojson previous = f->doc;
    std::string env_key = "*";
    content::Edit edit;
    if (kind == "flag_changed") {
      env_key = p->environments[r.index(p->environments.size())]->key;
      edit = content::change_flag_in_environment(r, f->doc, env_key, now);
    } else {
      edit = content::archive_flag(f->doc, now);
      erase_ptr(p->unarchived_flags, f);
      const auto at = std::lower_bound(p->archived_flags.begin(), p->archived_flags.end(), f,
                                       [](const FlagRecord* a, const FlagRecord* b) { return a->seq < b->seq; });
      p->archived_flags.insert(at, f);
    }
    m.stream = "flags";
    m.id = p->key + "/" + f->key;
    m.audit_id = record(*p, env_key, "flag", f->key, f->doc["name"].get<std::string>(), edit,
                        std::move(previous), f->doc);
    return m;
  }

  if (kind == "flag_deleted") {
    ProjectRecord* p = pick_project([](const ProjectRecord& pr) { return !pr.flags.empty(); });
    if (p == nullptr) return std::nullopt;
    const std::size_t i = r.index(p->unarchived_flags.size() + p->archived_flags.size());
    FlagRecord* f = i < p->unarchived_flags.size() ? p->unarchived_flags[i]
                                                   : p->archived_flags[i - p->unarchived_flags.size()];
    erase_ptr(p->unarchived_flags, f);
    erase_ptr(p->archived_flags, f);
    content::Edit edit;
    edit.action = "deleteFlag";
    edit.title_verb = "deleted the flag";
    edit.short_description = "Deleted the flag";
    edit.description = "- Deleted the flag `" + f->key + "`";
    m.stream = "flags";
    m.id = p->key + "/" + f->key;
    m.op = "delete";
    m.audit_id = record(*p, "*", "flag", f->key, f->doc["name"].get<std::string>(), edit, f->doc, nullptr);
    const std::string key = f->key;
    p->deleted_flags.push_back(key);
    p->flags.erase(key);
    return m;
  }

  if (kind == "segment_edited" || kind == "segment_deleted") {
    auto [p, e] = pick_env([](const EnvironmentRecord& env) { return !env.segments.empty(); });
    if (p == nullptr) return std::nullopt;
    SegmentRecord* s = e->segments_by_creation[r.index(e->segments_by_creation.size())];
    m.stream = "segments";
    m.id = p->key + "/" + e->key + "/" + s->key;
    const std::string name = s->doc["name"].get<std::string>();
    if (kind == "segment_edited") {
      ojson previous = s->doc;
      const content::Edit edit = content::edit_segment(r, s->doc, now);
      erase_ptr(e->segments_by_modified, s);
      const auto at = std::lower_bound(e->segments_by_modified.begin(), e->segments_by_modified.end(),
                                       s, segment_modified_before);
      e->segments_by_modified.insert(at, s);
      m.audit_id = record(*p, e->key, "segment", s->key, name, edit, std::move(previous), s->doc);
      return m;
    }
    content::Edit edit;
    edit.action = "deleteSegment";
    edit.title_verb = "deleted the segment";
    edit.short_description = "Deleted the segment";
    edit.description = "- Deleted the segment `" + s->key + "`";
    m.op = "delete";
    m.audit_id = record(*p, e->key, "segment", s->key, name, edit, s->doc, nullptr);
    erase_ptr(e->segments_by_creation, s);
    erase_ptr(e->segments_by_modified, s);
    erase_ptr(e->segments_by_name, s);
    const std::string key = s->key;
    e->deleted_segments.push_back(key);
    e->segments.erase(key);
    return m;
  }

  if (kind == "context_first_seen") {
    auto [p, e] = pick_env([](const EnvironmentRecord&) { return true; });
    if (p == nullptr) return std::nullopt;
    static const std::vector<std::string> kKinds = {"user", "user", "user", "organization", "device"};
    const std::string ctx_kind = r.pick(kKinds);
    const std::string prefix = ctx_kind == "organization" ? "org-" : ctx_kind + "-";
    const std::string key = prefix + "new-" + std::to_string(e->next_context_number++) + "-" + r.hex(4);
    const std::string app = r.chance(0.3) ? "" : r.pick(kApplicationIds);
    ojson context = content::make_context_attributes(r, ctx_kind, key);
    auto rec = std::make_unique<ContextRecordEntry>();
    rec->id = context_id(context, app);
    if (e->contexts.count(rec->id) != 0) return std::nullopt;
    rec->seen_ns = next_seen_ns(r, *e, now);
    rec->seq = e->next_context_seq++;
    rec->doc = content::make_context_record(p->key, e->key, context, app, 0);
    m.stream = "contexts";
    m.id = p->key + "/" + e->key + "/" + rec->id;
    insert_context(*e, std::move(rec));
    return m;
  }

  if (kind == "context_seen_again") {
    auto [p, e] = pick_env([](const EnvironmentRecord& env) { return !env.contexts.empty(); });
    if (p == nullptr) return std::nullopt;
    auto it = e->contexts_by_seen.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(r.index(e->contexts_by_seen.size())));
    ContextRecordEntry* c = it->second;
    e->contexts_by_seen.erase(it);
    c->seen_ns = next_seen_ns(r, *e, now);
    c->seq = e->next_context_seq++;
    c->doc["lastSeen"] = content::rfc3339_ns(c->seen_ns);
    e->contexts_by_seen.emplace(EnvironmentRecord::SeenKey{c->seen_ns, c->seq}, c);
    m.stream = "contexts";
    m.id = p->key + "/" + e->key + "/" + c->id;
    return m;
  }

  if (kind == "member_added") {
    MemberRef ref;
    ref.id = r.hex(24);
    ref.first_name = r.pick(content::first_names());
    ref.last_name = r.pick(content::last_names());
    ref.email = lower(ref.first_name + "." + ref.last_name) + std::to_string(w.next_member_number++) +
                "@example.com";
    ref.role = r.chance(0.5) ? "reader" : "writer";
    auto rec = std::make_unique<MemberRecord>();
    rec->id = ref.id;
    rec->doc = content::make_member(r, ref, now, 0, true, ojson::array());
    m.stream = "members";
    m.id = ref.id;
    w.members.push_back(std::move(rec));
    return m;
  }

  if (kind == "member_removed") {
    if (w.members.size() < 2) return std::nullopt;  // keep someone to own the account
    const std::size_t i = r.index(w.members.size());
    m.stream = "members";
    m.id = w.members[i]->id;
    m.op = "delete";
    w.deleted_members.push_back(m.id);
    w.members.erase(w.members.begin() + static_cast<std::ptrdiff_t>(i));
    return m;
  }

  if (kind == "team_changed") {
    if (w.teams.empty()) return std::nullopt;
    TeamRecord& t = *w.teams[r.index(w.teams.size())];
    content::edit_team(r, t.doc, now);
    m.stream = "teams";
    m.id = t.key;
    return m;
  }

  // An environment (one of a project's; each project keeps at least one) or a project
  // (at least one stays) disappears with everything in it: every endpoint answers 404
  // for it, flags lose its configuration (their _version unchanged, as LaunchDarkly
  // does not count it as a flag change), and the truth lists all it held as deleted.
  if (kind == "environment_deleted") {
    ProjectRecord* p = pick_project([](const ProjectRecord& pr) { return pr.environments.size() > 1; });
    if (p == nullptr) return std::nullopt;
    const std::size_t i = r.index(p->environments.size());
    std::unique_ptr<EnvironmentRecord> e = std::move(p->environments[i]);
    p->environments.erase(p->environments.begin() + static_cast<std::ptrdiff_t>(i));
    for (auto& [key, f] : p->flags) f->doc["environments"].erase(e->key);
    m.stream = "environments";
    m.id = p->key + "/" + e->key;
    m.op = "delete";
    p->deleted_environments.push_back(std::move(e));
    return m;
  }

  if (kind == "project_deleted") {
    if (w.projects.size() < 2) return std::nullopt;
    const std::size_t i = r.index(w.projects.size());
    m.stream = "projects";
    m.id = w.projects[i]->key;
    m.op = "delete";
    w.deleted_projects.push_back(std::move(w.projects[i]));
    w.projects.erase(w.projects.begin() + static_cast<std::ptrdiff_t>(i));
    return m;
  }

  if (kind == "metric_changed") {
    ProjectRecord* p = pick_project([](const ProjectRecord& pr) { return !pr.metrics.empty(); });
    if (p == nullptr) return std::nullopt;
    MetricRecord& mr = *p->metrics[r.index(p->metrics.size())];
    content::edit_metric(r, mr.doc, now);
    m.stream = "metrics";
    m.id = p->key + "/" + mr.key;
    return m;
  }
  return std::nullopt;
}

nlohmann::json EntityWorld::truth(const std::string& stream) const {
  std::shared_lock lock(mu_);
  const WorldData& w = data_;
  std::vector<std::pair<std::string, std::optional<std::int64_t>>> live;
  std::vector<std::string> deleted;
  // Everything of a deleted environment or project is deleted, its segments and flags
  // deleted before it included.
  const auto put = [&](std::string id, std::optional<std::int64_t> version, bool gone) {
    if (gone) {
      deleted.push_back(std::move(id));
    } else {
      live.emplace_back(std::move(id), version);
    }
  };
  const auto add_environment = [&](const std::string& project, const EnvironmentRecord& e, bool gone) {
    const std::string prefix = project + "/" + e.key;
    if (stream == "environments") put(prefix, std::nullopt, gone);
    if (stream == "segments") {
      for (const auto& [key, s] : e.segments) put(prefix + "/" + key, s->version(), gone);
      for (const auto& key : e.deleted_segments) deleted.push_back(prefix + "/" + key);
    }
    if (stream == "contexts") {
      for (const auto& [id, c] : e.contexts) put(prefix + "/" + id, std::nullopt, gone);
    }
    if (stream == "experiments") {
      for (const auto& x : e.experiments) put(prefix + "/" + x->key, std::nullopt, gone);
    }
  };
  const auto add_project = [&](const ProjectRecord& p, bool gone) {
    if (stream == "projects") put(p.key, std::nullopt, gone);
    if (stream == "flags") {
      for (const auto& [key, f] : p.flags) put(p.key + "/" + key, f->version(), gone);
      for (const auto& key : p.deleted_flags) deleted.push_back(p.key + "/" + key);
    }
    if (stream == "metrics") {
      for (const auto& mr : p.metrics) put(p.key + "/" + mr->key, mr->version(), gone);
    }
    for (const auto& e : p.environments) add_environment(p.key, *e, gone);
    for (const auto& e : p.deleted_environments) add_environment(p.key, *e, true);
  };
  for (const auto& p : w.projects) add_project(*p, false);
  for (const auto& p : w.deleted_projects) add_project(*p, true);
  if (stream == "members") {
    for (const auto& mr : w.members) live.emplace_back(mr->id, std::nullopt);
    deleted = w.deleted_members;
  }
  if (stream == "teams") {
    for (const auto& t : w.teams) live.emplace_back(t->key, t->version());
  }
  lock.unlock();

  std::sort(live.begin(), live.end());
  std::sort(deleted.begin(), deleted.end());
  nlohmann::json out;
  out["live"] = nlohmann::json::array();
  for (const auto& [id, version] : live) {
    nlohmann::json j;
    j["id"] = id;
    j["version"] = version ? nlohmann::json(*version) : nlohmann::json(nullptr);
    out["live"].push_back(std::move(j));
  }
  out["deleted"] = deleted;
  return out;
}

void EntityWorld::set_mutate_every(std::chrono::milliseconds every) {
  {
    std::lock_guard<std::mutex> lock(bg_mu_);
    every_ = every;
  }
  bg_cv_.notify_all();
}

std::chrono::milliseconds EntityWorld::mutate_every() const {
  std::lock_guard<std::mutex> lock(bg_mu_);
  return every_;
}

void EntityWorld::start() {
  std::lock_guard<std::mutex> lock(bg_mu_);
  if (started_ || stopping_) return;
  started_ = true;
  mutator_ = std::thread([this] { mutator_loop(); });
}

void EntityWorld::stop() {
  {
    std::lock_guard<std::mutex> lock(bg_mu_);
    stopping_ = true;
  }
  bg_cv_.notify_all();
  if (mutator_.joinable()) mutator_.join();
}

void EntityWorld::mutator_loop() {
  std::unique_lock<std::mutex> lock(bg_mu_);
  while (!stopping_) {
    const auto every = every_;
    if (every.count() <= 0) {
      bg_cv_.wait(lock, [&] { return stopping_ || every_ != every; });
      continue;
    }
    // Woken early by stop() or a new period: start over with the new settings.
    if (bg_cv_.wait_for(lock, every, [&] { return stopping_ || every_ != every; })) continue;
    // The tick runs under bg_mu_, so set_mutate_every() returns only after a tick in
    // progress has finished: once it answers "off", the data holds still. (Lock order:
    // bg_mu_, then mu_; nothing takes them the other way round.)
    mutate(1, std::nullopt, now_ms());
  }
}

}  // namespace ldsim
