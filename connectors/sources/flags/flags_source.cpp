#include "sources/flags/flags_source.h"

#include <spdlog/spdlog.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/normalize.h"
#include "sources/entity/snapshot_stream_base.h"
#include "sources/flags/flag_normalizer.h"
#include "sources/flags/flag_refresh.h"

namespace ldx {

namespace {

constexpr const char* kListRoute = "GET /api/v2/flags/{projectKey}";
constexpr const char* kFlagRoute = "GET /api/v2/flags/{projectKey}/{featureFlagKey}";
constexpr const char* kAuditRoute = "GET /api/v2/auditlog";
constexpr int kAuditPageLimit = 20;  // the audit log's maximum (API-NOTES §1)

std::string env_params(const std::vector<std::string>& envs) {
  std::string q;
  for (const auto& e : envs) q += "&env=" + url_escape(e);
  return q;
}

class FlagsSnapshotStream final : public SnapshotStream {
 public:
  FlagsSnapshotStream(int limit, const LaunchDarklyConfig& ld)
      : limit_(limit), sel_(Selection::from(ld)), policy_(ld.secret_policy()) {}
  [[nodiscard]] const std::string& stream() const override { return name_; }
  [[nodiscard]] SecretPolicy secret_policy() const override { return policy_; }

  // Remembers each project's selected environments (for the per-flag GETs too).
  void set_projects(const std::vector<ProjectInfo>& projects) {
    envs_.clear();
    for (const auto& p : projects) {
      auto& v = envs_[p.key];
      for (const auto& e : p.environments) v.push_back(e.key);
    }
  }
  [[nodiscard]] bool has_project(const std::string& p) const { return envs_.count(p) > 0; }

  [[nodiscard]] std::vector<ListScope> scopes(const std::vector<ProjectInfo>& projects) const override {
    std::vector<ListScope> out;
    for (const auto& p : projects) {
      for (bool archived : {false, true}) {
        ListScope s;
        s.key = p.key + (archived ? "|archived" : "|live");
        s.project = p.key;
        s.target = "/api/v2/flags/" + url_escape(p.key) + "?summary=0" + env_params(envs_.at(p.key));
        // The default list holds unarchived flags only (API-NOTES §2).
        if (archived) s.target += "&filter=state:archived";
        s.route = kListRoute;
        s.limit = limit_;
        out.push_back(std::move(s));
      }
    }
    return out;
  }
  [[nodiscard]] Result<Entity> normalize(simdjson::dom::element item, const ListScope& scope,
                                         int64_t now_ms) const override {
    return normalize_flag(item, scope.project, policy_, now_ms);
  }
  [[nodiscard]] bool selected(const std::string& id) const override { return sel_.project(id_part(id, 0)); }
  [[nodiscard]] Record delete_record(const std::string& id, int64_t now_ms) const override {
    return make_delete_record(name_, id, std::string(id_part(id, 0)), "", now_ms);
  }
  [[nodiscard]] std::optional<ListScope> confirm(const std::string& id) const override { return one(id); }

  // GET /api/v2/flags/{p}/{key} restricted to the selected environments, so its shape
  // matches the list's items.
  [[nodiscard]] ListScope one(const std::string& id) const {
    ListScope s;
    s.key = id;
    s.project = std::string(id_part(id, 0));
    auto it = envs_.find(s.project);
    std::string q = it == envs_.end() ? "" : env_params(it->second);
    if (!q.empty()) q[0] = '?';
    s.target = "/api/v2/flags/" + url_escape(s.project) + "/" + url_escape(id_part(id, 1)) + q;
    s.route = kFlagRoute;
    return s;
  }
  [[nodiscard]] const SecretPolicy& policy() const { return policy_; }
  [[nodiscard]] const Selection& selection() const { return sel_; }
  // Per project discovery listed this pass, the environments the flags are read with.
  [[nodiscard]] const std::map<std::string, std::vector<std::string>>& environments() const { return envs_; }

 private:
  std::string name_ = kFlagsStream;
  int limit_;
  Selection sel_;
  SecretPolicy policy_;
  std::map<std::string, std::vector<std::string>> envs_;
};

// Between full snapshots: audit-log read, then one GET per named flag.
class FlagRefreshPass final : public EntityPass {
 public:
  FlagRefreshPass(FlagsSnapshotStream& flags, SnapshotState& state, FlagRefreshState& refresh,
                  const FlagRefreshLogic& logic, std::vector<std::string> specs,
                  std::function<nlohmann::json()> cursor_of, int64_t now_ms)
      : flags_(flags), state_(state), refresh_(refresh), logic_(logic), specs_(std::move(specs)),
        cursor_of_(std::move(cursor_of)), lower_(logic.lower_bound(refresh, now_ms)), started_ms_(now_ms) {
    // Pending flags from an interrupted pass are fetched before a new audit read.
    collecting_ = refresh_.pending.empty();
    if (collecting_) start_spec();
  }

  PassStep next() override {
    if (collecting_) {
      if (next_target_.empty()) return PassStep::local();  // every spec read: merge
      ApiCall c;
      c.target = next_target_;
      c.route = kAuditRoute;
      return PassStep::request(std::move(c));
    }
    if (refresh_.pending.empty()) return PassStep::done();
    fetching_ = flags_.one(refresh_.pending.front());
    ApiCall c;
    c.target = fetching_.target;
    c.route = fetching_.route;
    return PassStep::request(std::move(c));
  }

  Status on_answer(const ApiCall& call, const ApiAnswer& answer, int64_t now_ms, StepOutput& out) override {
    ++out.pages;
    if (collecting_) return on_audit_page(call, answer);
    const std::string id = refresh_.pending.front();
    refresh_.pending.erase(refresh_.pending.begin());
    if (answer.status == 404) {
      if (state_.find(id)) {
        out.records.push_back(flags_.delete_record(id, now_ms));
        state_.forget(id);
      }
      return Status::ok();
    }
    if (answer.status != 200) {
      return Status::fatal(call.describe() + ": " + describe_api_error(answer.status, answer.message));
    }
    auto e = normalize_flag(answer.doc, fetching_.project, flags_.policy(), now_ms);
    if (!e.is_ok()) {
      out.dead_letters.push_back({kFlagsStream, e.status().message(), dead_letter_raw(answer.doc, flags_.policy()),
                                  now_ms});
      return Status::ok();
    }
    apply_entity(state_, std::move(e.value()), kFlagsStream, now_ms, out);
    return Status::ok();
  }

  Status run_local(int64_t /*now_ms*/, StepOutput& /*out*/) override {
    logic_.merge(refresh_, collected_, lower_, started_ms_, [this](const std::string& p) {
      return flags_.selection().project(p) && flags_.has_project(p);
    });
    collected_.clear();
    collecting_ = false;
    return Status::ok();
  }

  [[nodiscard]] nlohmann::json cursor() const override { return cursor_of_(); }
  [[nodiscard]] size_t cursor_bytes_hint() const override {
    return snapshot_cursor_bytes(state_) + refresh_.recent.size() * 40 + refresh_.pending.size() * 32;
  }

 private:
  void start_spec() {
    next_target_.clear();
    requested_.clear();
    if (spec_idx_ >= specs_.size()) return;
    // after= is exclusive in practice; its inclusiveness is unstated (API-NOTES §1), so
    // widen by 1 ms and filter on our side (FlagRefreshLogic).
    next_target_ = "/api/v2/auditlog?limit=" + std::to_string(kAuditPageLimit) +
                   "&after=" + std::to_string(lower_ - 1) +
                   "&spec=" + url_escape(specs_[spec_idx_]);
  }

  Status on_audit_page(const ApiCall& call, const ApiAnswer& answer) {
    if (answer.status != 200) {
      return Status::fatal(call.describe() + ": LaunchDarkly rejected the audit-log read: " +
                           describe_api_error(answer.status, answer.message));
    }
    requested_.insert(call.target);
    simdjson::dom::array items;
    if (answer.doc["items"].get(items) != simdjson::SUCCESS) {
      return Status::retryable(call.describe() + ": response has no items array");
    }
    bool reached_lower = false;
    for (auto entry : items) {
      auto id = get_string(entry, "_id");
      auto date = get_int64(entry, "date");
      if (!id || !date) continue;  // the audit_log stream dead-letters it; here it names nothing
      if (*date < lower_) reached_lower = true;
      AuditRefreshItem it{std::string(*id), *date, {}};
      auto add = [&](std::string_view spec) {
        if (auto f = flag_of_resource(spec)) it.flags.push_back(*f);
      };
      simdjson::dom::array arr;
      if (entry["accesses"].get(arr) == simdjson::SUCCESS) {
        for (auto acc : arr) {
          if (auto r = get_string(acc, "resource")) add(*r);
        }
      }
      if (entry.at_pointer("/target/resources").get(arr) == simdjson::SUCCESS) {
        for (auto res : arr) {
          std::string_view s;
          if (res.get(s) == simdjson::SUCCESS) add(s);
        }
      }
      collected_.push_back(std::move(it));
    }
    std::string_view next_href;
    const bool has_next =
        answer.doc.at_pointer("/_links/next/href").get(next_href) == simdjson::SUCCESS && !next_href.empty();
    if (has_next && !reached_lower && items.size() > 0 && !requested_.count(std::string(next_href))) {
      next_target_ = std::string(next_href);
    } else {
      ++spec_idx_;
      start_spec();
    }
    return Status::ok();
  }

  FlagsSnapshotStream& flags_;
  SnapshotState& state_;
  FlagRefreshState& refresh_;
  const FlagRefreshLogic& logic_;
  std::vector<std::string> specs_;
  std::function<nlohmann::json()> cursor_of_;
  bool collecting_ = true;
  size_t spec_idx_ = 0;
  std::string next_target_;
  std::set<std::string> requested_;
  std::vector<AuditRefreshItem> collected_;
  ListScope fetching_;
  int64_t lower_;
  int64_t started_ms_;
};

class FlagsEntityStream final : public EntityStream {
 public:
  FlagsEntityStream(const FlagsConfig& cfg, const LaunchDarklyConfig& ld)
      : cfg_(cfg), flags_(cfg.page_limit, ld), logic_(cfg.lookback.count()) {}
  [[nodiscard]] const std::string& stream() const override { return flags_.stream(); }
  [[nodiscard]] bool emits_deletes() const override { return true; }

  Result<std::unique_ptr<EntityPass>> begin_pass(const nlohmann::json& cursor, const std::vector<ProjectInfo>& projects,
                                                 int64_t now_ms) override {
    if (auto st = load(cursor); !st.is_ok()) return st;
    flags_.set_projects(projects);
    auto cursor_of = [this](const SnapshotState&) { return to_cursor(); };
    const bool full_due = state_.last_complete_started_ms() == 0 ||
                          now_ms - state_.last_complete_started_ms() >= cfg_.full_every.count();
    if (state_.in_snapshot() || !cfg_.audit_refresh || full_due || project_vanished() || environments_changed()) {
      if (!state_.in_snapshot()) {
        // Changes from now on are the audit refresh's; the snapshot covers everything before.
        refresh_ = FlagRefreshState{};
        refresh_.high = now_ms;
      }
      record_environments(/*snapshot_starts=*/!state_.in_snapshot());
      return std::unique_ptr<EntityPass>(
          std::make_unique<SnapshotPass>(flags_, state_, flags_.scopes(projects), now_ms, cursor_of));
    }
    record_environments(/*snapshot_starts=*/false);
    std::vector<std::string> specs;
    if (flags_.selection().all_projects()) {
      specs.push_back("proj/*:env/*:flag/*");
    } else {
      for (const auto& p : projects) specs.push_back("proj/" + p.key + ":env/*:flag/*");
    }
    return std::unique_ptr<EntityPass>(std::make_unique<FlagRefreshPass>(flags_, state_, refresh_, logic_,
                                                                         std::move(specs),
                                                                         [this] { return to_cursor(); }, now_ms));
  }

 private:
  // A project the state holds flags of that discovery no longer lists although the
  // selection covers it: LaunchDarkly deleted it, and the audit log names none of its
  // flags, so the refresh would keep them until the next full snapshot. That snapshot
  // runs now instead; it confirms (404) and deletes them. Discovery read every project
  // or failed the pass before this point: a failed listing is never taken for this. A
  // project the config stopped selecting is not one (its flags are forgotten).
  [[nodiscard]] bool project_vanished() const {
    for (const auto& id : state_.ids_with_prefix("")) {
      const std::string p(id_part(id, 0));
      if (flags_.selection().project(p) && !flags_.has_project(p)) {
        spdlog::info("stream flags: project {} is no longer listed by LaunchDarkly; a full snapshot deletes its flags",
                     p);
        return true;
      }
    }
    return false;
  }
  // Whether the flags the state holds were read with other environments than discovery
  // lists now, for some selected project (the environments the selection covers):
  // LaunchDarkly deleted or created an environment, or the config selects other ones.
  // The audit log names no flag for either, so the refresh would keep a deleted
  // environment's configuration in every flag's data (or lack a new one's) until the
  // next full snapshot; that snapshot runs now instead. A changed selection counts too,
  // on purpose: nothing is deleted (each flag is upserted again), but `data` should hold
  // the environments selected now, and only a snapshot re-reads every flag. Also:
  // - a project listed now that the cursor does not name (created, or newly selected):
  //   the refresh would read only its flags the audit log names from now on;
  // - a project a resumed snapshot read partly with two sets (mixed_).
  // A project with no known flag has nothing stale: its set is just recorded anew. As
  // for project_vanished, a discovery that failed never gets here. Only asked with
  // `refresh: audit_log` when no snapshot is due or open (`full` snapshots every pass).
  [[nodiscard]] bool environments_changed() const {
    if (!envs_known_) return false;  // a cursor from before they were kept: recorded now
    for (const auto& [p, listed] : flags_.environments()) {
      if (mixed_.count(p)) {
        spdlog::info("stream flags: project {}: a snapshot resumed after its environments changed read its flags "
                     "with two sets of them; a full snapshot re-reads its flags",
                     p);
        return true;
      }
      auto it = read_envs_.find(p);
      if (it == read_envs_.end()) {
        spdlog::info("stream flags: project {} is listed and its flags were never read (new, or newly selected); a "
                     "full snapshot reads them",
                     p);
        return true;
      }
      const std::set<std::string> now(listed.begin(), listed.end());
      if (now == it->second || !state_.has_id_with_prefix(p + "/")) continue;
      std::vector<std::string> added;
      std::vector<std::string> deleted;
      std::vector<std::string> deselected;
      for (const auto& e : now) {
        if (!it->second.count(e)) added.push_back(e);
      }
      for (const auto& e : it->second) {
        if (now.count(e)) continue;
        (flags_.selection().environment(e) ? deleted : deselected).push_back(e);
      }
      std::string what;
      auto say = [&what](const std::vector<std::string>& envs, const char* how) {
        if (envs.empty()) return;
        if (!what.empty()) what += "; ";
        for (size_t i = 0; i < envs.size(); ++i) what += (i ? ", " : "") + envs[i];
        what += std::string(" ") + how;
      };
      say(added, "appeared");
      say(deleted, "no longer listed by LaunchDarkly");
      say(deselected, "no longer selected");
      spdlog::info("stream flags: project {}: environments changed ({}); a full snapshot re-reads its flags", p, what);
      return true;
    }
    return false;
  }
  // Records, per listed project, the environments the state's flags hold. A snapshot
  // that starts reads every flag with the ones listed now. One that resumes reads its
  // remaining pages with the ones listed now too, but the pages it read before hold the
  // set it started with: that one is kept, and a project whose set differs is marked
  // mixed, so the pass after the snapshot is a full one again (even if the set changes
  // back meanwhile). A refresh pass gets here only when no project with known flags
  // changed; the others (new, or without flags) take the set listed now.
  void record_environments(bool snapshot_starts) {
    std::map<std::string, std::set<std::string>> next;
    std::set<std::string> mixed;
    for (const auto& [p, listed] : flags_.environments()) {
      std::set<std::string> now(listed.begin(), listed.end());
      auto it = read_envs_.find(p);
      if (!snapshot_starts && mixed_.count(p)) mixed.insert(p);
      if (snapshot_starts || it == read_envs_.end() || it->second == now) {
        next[p] = std::move(now);
      } else if (state_.in_snapshot()) {
        next[p] = it->second;
        mixed.insert(p);
      } else {
        next[p] = std::move(now);
      }
    }
    read_envs_ = std::move(next);
    mixed_ = std::move(mixed);
    envs_known_ = true;
  }
  Status load(const nlohmann::json& cursor) {
    auto st = snapshot_from_cursor(cursor, kFlagsStream);
    if (!st.is_ok()) return st.status();
    state_ = std::move(st.value());
    auto rf = FlagRefreshState::from_json(cursor.is_object() ? cursor.value("refresh", nlohmann::json()) : nullptr);
    if (!rf.is_ok()) return rf.status();
    refresh_ = std::move(rf.value());
    read_envs_.clear();
    mixed_.clear();
    // Absent in cursors written before it was kept: unknown, nothing to compare with.
    envs_known_ = cursor.is_object() && cursor.contains("environments");
    if (envs_known_) {
      const auto& j = cursor["environments"];
      try {
        if (!j.is_object()) throw std::invalid_argument("not an object");
        for (const auto& [p, envs] : j.items()) {
          if (!envs.is_array()) throw std::invalid_argument("the value of project '" + p + "' is not an array");
          auto& keys = read_envs_[p];  // a project with none is recorded too
          for (const auto& e : envs) keys.insert(e.get<std::string>());
        }
      } catch (const std::exception& e) {
        return Status::fatal(
            std::string("flags cursor: environments (project key -> [environment keys]) is malformed: ") + e.what());
      }
    }
    if (cursor.is_object() && cursor.contains("environments_mixed")) {
      const auto& j = cursor["environments_mixed"];
      try {
        if (!j.is_array()) throw std::invalid_argument("not an array");
        for (const auto& p : j) mixed_.insert(p.get<std::string>());
      } catch (const std::exception& e) {
        return Status::fatal(std::string("flags cursor: environments_mixed ([project keys]) is malformed: ") +
                             e.what());
      }
    }
    return Status::ok();
  }
  [[nodiscard]] nlohmann::json to_cursor() const {
    nlohmann::json j = snapshot_cursor(state_);
    j["refresh"] = refresh_.to_json();
    nlohmann::json envs = nlohmann::json::object();
    for (const auto& [p, keys] : read_envs_) envs[p] = keys;
    j["environments"] = std::move(envs);
    if (!mixed_.empty()) j["environments_mixed"] = mixed_;
    return j;
  }

  FlagsConfig cfg_;
  FlagsSnapshotStream flags_;
  FlagRefreshLogic logic_;
  SnapshotState state_;
  FlagRefreshState refresh_;
  // Per listed project, the environment keys the state's flags were read with (the
  // cursor's "environments"): those of the last snapshot's start, plus projects since.
  std::map<std::string, std::set<std::string>> read_envs_;
  // Projects a resumed snapshot read with two sets (the cursor's "environments_mixed").
  std::set<std::string> mixed_;
  bool envs_known_ = false;  // the cursor had "environments"
};

}  // namespace

std::unique_ptr<EntityStream> make_flags_stream(const FlagsConfig& cfg, const LaunchDarklyConfig& ld) {
  return std::make_unique<FlagsEntityStream>(cfg, ld);
}

Result<std::unique_ptr<Source>> FlagsConfig::build(const SourceContext& ctx) const {
  return make_entity_source(make_flags_stream(*this, *ctx.launchdarkly), ctx);
}

std::unique_ptr<StreamConfig> parse_flags_config(ConfigNode& node) {
  auto c = std::make_unique<FlagsConfig>();
  c->page_limit = read_page_limit(node, 100, 1000);
  std::string refresh = node.str("refresh", "full");
  if (refresh == "audit_log") {
    c->audit_refresh = true;
  } else if (refresh != "full") {
    node.error_at("refresh", "expected full or audit_log, found '" + refresh + "'");
  }
  c->full_every = node.duration("full_every", c->full_every);
  c->lookback = node.duration("lookback", c->lookback);
  return c;
}

}  // namespace ldx
