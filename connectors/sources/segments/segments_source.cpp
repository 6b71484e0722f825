#include "sources/segments/segments_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/normalize.h"
#include "sources/entity/snapshot_stream_base.h"

namespace ldx {

Result<Entity> normalize_segment(simdjson::dom::element item, const std::string& project,
                                 const std::string& environment, const SecretPolicy& policy, int64_t now_ms) {
  if (!item.is_object()) return Status::data_error("segment is not a JSON object");
  auto key = get_string(item, "key");
  if (!key || key->empty()) {
    return Status::data_error("segment of " + project + "/" + environment + " has no string key");
  }
  Entity e;
  e.record = entity_record(kSegmentsStream, project + "/" + environment + "/" + std::string(*key), project,
                           environment, item, policy, now_ms);
  e.record.version = get_int64(item, "version");
  e.record.occurred_at_ms = get_int64(item, "lastModifiedDate");
  bool deleted = false;
  e.deleted = item["deleted"].get(deleted) == simdjson::SUCCESS && deleted;
  e.fp = e.record.version ? version_fingerprint(*e.record.version) : content_fingerprint(e.record.data);
  e.record.finish();
  return e;
}

namespace {

constexpr const char* kListRoute = "GET /api/v2/segments/{projectKey}/{environmentKey}";

class SegmentsSnapshotStream final : public SnapshotStream {
 public:
  SegmentsSnapshotStream(int limit, const LaunchDarklyConfig& ld, std::map<std::string, int64_t>& high)
      : limit_(limit), sel_(Selection::from(ld)), policy_(ld.secret_policy()), high_(high) {}
  [[nodiscard]] const std::string& stream() const override { return name_; }
  [[nodiscard]] SecretPolicy secret_policy() const override { return policy_; }

  [[nodiscard]] std::vector<ListScope> scopes(const std::vector<ProjectInfo>& projects) const override {
    std::vector<ListScope> out;
    for (const auto& p : projects) {
      for (const auto& env : p.environments) out.push_back(scope(p.key, env.key));
    }
    return out;
  }
  [[nodiscard]] ListScope scope(const std::string& p, const std::string& e) const {
    ListScope s;
    s.key = p + "/" + e;
    s.project = p;
    s.environment = e;
    s.target = "/api/v2/segments/" + url_escape(p) + "/" + url_escape(e) + "?sort=-lastModified";
    s.route = kListRoute;
    s.limit = limit_;
    return s;
  }
  [[nodiscard]] Result<Entity> normalize(simdjson::dom::element item, const ListScope& scope,
                                         int64_t now_ms) const override {
    return normalize_segment(item, scope.project, scope.environment, policy_, now_ms);
  }
  [[nodiscard]] bool selected(const std::string& id) const override {
    return id.starts_with(only_prefix_) && sel_.project(id_part(id, 0)) && sel_.environment(id_part(id, 1));
  }
  [[nodiscard]] Record delete_record(const std::string& id, int64_t now_ms) const override {
    return make_delete_record(name_, id, std::string(id_part(id, 0)), std::string(id_part(id, 1)), now_ms);
  }
  [[nodiscard]] std::optional<ListScope> confirm(const std::string& id) const override {
    ListScope s;
    s.key = id;
    s.project = std::string(id_part(id, 0));
    s.environment = std::string(id_part(id, 1));
    s.target = "/api/v2/segments/" + url_escape(s.project) + "/" + url_escape(s.environment) + "/" +
               url_escape(id_part(id, 2));
    s.route = "GET /api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}";
    return s;
  }
  void on_listed(const ListScope& scope, const Entity& e) override {
    if (!e.record.occurred_at_ms) return;
    auto& h = high_[scope.key];
    h = std::max(h, *e.record.occurred_at_ms);
  }
  // Restricts deletion to one environment ("p/e/") while it is reconciled alone.
  void restrict_to(std::string prefix) { only_prefix_ = std::move(prefix); }
  [[nodiscard]] const SecretPolicy& policy() const { return policy_; }

 private:
  std::string name_ = kSegmentsStream;
  int limit_;
  Selection sel_;
  SecretPolicy policy_;
  std::map<std::string, int64_t>& high_;
  std::string only_prefix_;
};

// An incremental pass: every environment newest-modified first down to its previous
// high-water mark; an environment whose totalCount disagrees with what is known is
// reconciled by a one-environment snapshot (SnapshotPass over a SnapshotState holding
// only that environment's segments, merged back after every step).
class SegmentsIncrementalPass final : public EntityPass {
 public:
  SegmentsIncrementalPass(SegmentsSnapshotStream& segs, SnapshotState& state, std::map<std::string, int64_t>& high,
                          std::vector<ListScope> scopes, int64_t lookback_ms, std::function<nlohmann::json()> cursor_of)
      : segs_(segs), state_(state), high_(high), scopes_(std::move(scopes)), lookback_ms_(lookback_ms),
        cursor_of_(std::move(cursor_of)) {}

  PassStep next() override {
    if (sub_pass_) {
      PassStep s = sub_pass_->next();
      if (s.kind != PassStep::Kind::kDone) return s;
      end_reconcile();
    }
    if (idx_ >= scopes_.size()) return PassStep::done();
    const ListScope& s = scopes_[idx_];
    ApiCall c;
    c.target = s.target + "&limit=" + std::to_string(s.limit) + "&offset=" + std::to_string(offset_);
    c.route = s.route;
    return PassStep::request(std::move(c));
  }

  Status on_answer(const ApiCall& call, const ApiAnswer& answer, int64_t now_ms, StepOutput& out) override {
    if (sub_pass_) {
      auto st = sub_pass_->on_answer(call, answer, now_ms, out);
      merge_sub();
      return st;
    }
    ++out.pages;
    const ListScope& s = scopes_[idx_];
    if (answer.status == 404) {
      spdlog::info("stream segments: {} answered 404; the environment is gone", call.describe());
      total_ = 0;
      finish_scope();
      return Status::ok();
    }
    if (answer.status != 200) {
      return Status::fatal(call.describe() + ": LaunchDarkly rejected the request: " +
                           describe_api_error(answer.status, answer.message));
    }
    simdjson::dom::array items;
    if (answer.doc["items"].get(items) != simdjson::SUCCESS) {
      return Status::retryable(call.describe() + ": response has no items array");
    }
    if (auto t = get_int64(answer.doc, "totalCount")) total_ = t;
    // Stop at the previous pass's newest change, re-covering changes of the last
    // `lookback` (a write that became visible late); once nothing changed for that
    // long, the first page ends the read.
    auto h = high_.find(s.key);
    const std::optional<int64_t> stop_below =
        h == high_.end() ? std::nullopt : std::optional<int64_t>(std::min(h->second, now_ms - lookback_ms_));
    bool reached_old = false;
    for (auto item : items) {
      auto e = segs_.normalize(item, s, now_ms);
      if (!e.is_ok()) {
        // Identical unreadable items share a name: the copies this pass listed are
        // counted, and only those beyond the ones the name holds are dead-lettered. The
        // name is made from the item as listed (committed cursors hold it); the dead
        // letter holds it redacted.
        const std::string name = unreadable_name(s.key, simdjson::minify(item));
        if (state_.observe_unreadable(name, ++listed_copies_[name])) {
          out.dead_letters.push_back({kSegmentsStream, e.status().message(), dead_letter_raw(item, segs_.policy()),
                                      now_ms});
        }
        continue;
      }
      // Newest-modified first: everything from here on was read by an earlier pass.
      if (stop_below && e->record.occurred_at_ms && *e->record.occurred_at_ms < *stop_below) {
        reached_old = true;
        break;
      }
      if (e->record.occurred_at_ms) newest_ = std::max(newest_.value_or(0), *e->record.occurred_at_ms);
      apply_entity(state_, std::move(e.value()), kSegmentsStream, now_ms, out);
    }
    offset_ += static_cast<int64_t>(items.size());
    if (!reached_old && page_has_next(answer.doc, items.size(), offset_)) return Status::ok();
    finish_scope();
    return Status::ok();
  }

  Status run_local(int64_t now_ms, StepOutput& out) override {
    if (!sub_pass_) return Status::ok();
    auto st = sub_pass_->run_local(now_ms, out);
    merge_sub();
    return st;
  }

  [[nodiscard]] nlohmann::json cursor() const override { return cursor_of_(); }
  [[nodiscard]] size_t cursor_bytes_hint() const override { return snapshot_cursor_bytes(state_); }

 private:
  void finish_scope() {
    const ListScope& s = scopes_[idx_];
    if (newest_) high_[s.key] = std::max(high_[s.key], *newest_);
    const std::string prefix = s.key + "/";
    // totalCount counts the segments the stream could not read too, each copy of
    // identical ones: so must `known`, or an unreadable segment would have every pass
    // list its environment completely. An unreadable answer to a confirmation GET is not
    // one of them: it is the kept id's segment, counted once by that id.
    const size_t known = state_.ids_with_prefix(prefix).size() + state_.unreadable_listed(s.key);
    if (total_ && static_cast<size_t>(*total_) != known) {
      spdlog::info("stream segments: {} lists {} segments, {} known: listing it completely", s.key, *total_, known);
      start_reconcile(s, prefix);
    }
    ++idx_;
    offset_ = 0;
    total_.reset();
    newest_.reset();
  }
  void start_reconcile(const ListScope& s, const std::string& prefix) {
    sub_state_ = SnapshotState{};
    for (const auto& id : state_.ids_with_prefix(prefix)) sub_state_.observe(id, state_.find(id)->fp);
    for (const auto& name : state_.unreadable_with_prefix(prefix)) {
      sub_state_.hold_unreadable(name, state_.unreadable_copies(name));
    }
    sub_prefix_ = prefix;
    segs_.restrict_to(prefix);
    sub_pass_ = std::make_unique<SnapshotPass>(segs_, sub_state_, std::vector<ListScope>{s}, wall_now_ms());
  }
  // The sub-snapshot's view of its environment replaces the main state's.
  void merge_sub() {
    for (const auto& id : state_.ids_with_prefix(sub_prefix_)) {
      if (!sub_state_.find(id)) state_.forget(id);
    }
    for (const auto& id : sub_state_.ids_with_prefix(sub_prefix_)) state_.observe(id, sub_state_.find(id)->fp);
    const auto unreadable = sub_state_.unreadable_with_prefix(sub_prefix_);
    for (const auto& name : state_.unreadable_with_prefix(sub_prefix_)) {
      if (!std::binary_search(unreadable.begin(), unreadable.end(), name)) state_.forget_unreadable(name);
    }
    for (const auto& name : unreadable) state_.hold_unreadable(name, sub_state_.unreadable_copies(name));
  }
  void end_reconcile() {
    merge_sub();
    sub_pass_.reset();
    segs_.restrict_to("");
  }

  SegmentsSnapshotStream& segs_;
  SnapshotState& state_;
  std::map<std::string, int64_t>& high_;
  std::vector<ListScope> scopes_;
  int64_t lookback_ms_;
  std::function<nlohmann::json()> cursor_of_;
  size_t idx_ = 0;
  int64_t offset_ = 0;
  std::optional<int64_t> total_;
  std::optional<int64_t> newest_;
  std::map<std::string, size_t> listed_copies_;  // unreadable name -> copies this pass listed
  SnapshotState sub_state_;
  std::string sub_prefix_;
  std::unique_ptr<SnapshotPass> sub_pass_;
};

class SegmentsEntityStream final : public EntityStream {
 public:
  SegmentsEntityStream(const SegmentsConfig& cfg, const LaunchDarklyConfig& ld)
      : cfg_(cfg), segs_(cfg.page_limit, ld, high_) {}
  [[nodiscard]] const std::string& stream() const override { return segs_.stream(); }
  [[nodiscard]] bool emits_deletes() const override { return true; }

  Result<std::unique_ptr<EntityPass>> begin_pass(const nlohmann::json& cursor, const std::vector<ProjectInfo>& projects,
                                                 int64_t now_ms) override {
    auto st = snapshot_from_cursor(cursor, kSegmentsStream);
    if (!st.is_ok()) return st.status();
    state_ = std::move(st.value());
    high_.clear();
    try {
      if (cursor.is_object() && cursor.contains("high")) {
        for (const auto& [k, v] : cursor["high"].items()) high_[k] = v.get<int64_t>();
      }
    } catch (const nlohmann::json::exception& e) {
      return Status::fatal(std::string("segments cursor: high-water marks are malformed: ") + e.what());
    }
    segs_.restrict_to("");
    auto scopes = segs_.scopes(projects);
    listed_.clear();
    for (const auto& s : scopes) listed_.insert(s.key);
    const bool full_due = state_.last_complete_started_ms() == 0 ||
                          now_ms - state_.last_complete_started_ms() >= cfg_.full_every.count();
    if (state_.in_snapshot() || full_due) {
      return std::unique_ptr<EntityPass>(std::make_unique<SnapshotPass>(
          segs_, state_, std::move(scopes), now_ms, [this](const SnapshotState&) { return to_cursor(); }));
    }
    // Environments LaunchDarkly deleted are read too (a full snapshot would only come
    // `full_every` later): their list answers 404, which disagrees with the segments
    // known, so each is confirmed (404) and deleted.
    for (auto& s : vanished_scopes()) scopes.push_back(std::move(s));
    return std::unique_ptr<EntityPass>(std::make_unique<SegmentsIncrementalPass>(
        segs_, state_, high_, std::move(scopes), cfg_.lookback.count(), [this] { return to_cursor(); }));
  }

 private:
  // Environments the state holds segments (or unreadable items) of that discovery no
  // longer lists although the selection covers them: LaunchDarkly deleted them (or
  // their project). Discovery read every project and environment, or the pass failed
  // before this point, so a failed or partial listing is never taken for a deletion;
  // and every deletion is still confirmed by a GET of the segment. An environment the
  // config stopped selecting is not one of them: its segments are forgotten.
  [[nodiscard]] std::vector<ListScope> vanished_scopes() const {
    std::set<std::string> keys;
    auto consider = [&](const std::string& id) {
      if (!segs_.selected(id)) return;
      std::string key = std::string(id_part(id, 0)) + "/" + std::string(id_part(id, 1));
      if (!listed_.count(key)) keys.insert(std::move(key));
    };
    for (const auto& id : state_.ids_with_prefix("")) consider(id);
    for (const auto& name : state_.unreadable_with_prefix("")) consider(name);
    std::vector<ListScope> out;
    for (const auto& key : keys) {
      spdlog::info("stream segments: environment {} is no longer listed by LaunchDarkly; its segments are confirmed "
                   "and deleted",
                   key);
      out.push_back(segs_.scope(std::string(id_part(key, 0)), std::string(id_part(key, 1))));
    }
    return out;
  }
  [[nodiscard]] nlohmann::json to_cursor() const {
    nlohmann::json j = snapshot_cursor(state_);
    nlohmann::json h = nlohmann::json::object();
    // The mark of an environment not listed this pass is dropped once nothing of it is
    // known (deleted, or forgotten when no longer selected).
    for (const auto& [k, v] : high_) {
      if (listed_.count(k) || !state_.ids_with_prefix(k + "/").empty()) h[k] = v;
    }
    j["high"] = std::move(h);
    return j;
  }

  SegmentsConfig cfg_;
  std::map<std::string, int64_t> high_;
  SegmentsSnapshotStream segs_;
  SnapshotState state_;
  std::set<std::string> listed_;  // keys ("p/e") of the environments discovery listed this pass
};

}  // namespace

std::unique_ptr<EntityStream> make_segments_stream(const SegmentsConfig& cfg, const LaunchDarklyConfig& ld) {
  return std::make_unique<SegmentsEntityStream>(cfg, ld);
}

Result<std::unique_ptr<Source>> SegmentsConfig::build(const SourceContext& ctx) const {
  return make_entity_source(make_segments_stream(*this, *ctx.launchdarkly), ctx);
}

std::unique_ptr<StreamConfig> parse_segments_config(ConfigNode& node) {
  auto c = std::make_unique<SegmentsConfig>();
  c->page_limit = read_page_limit(node, 50, 50);
  c->full_every = node.duration("full_every", c->full_every);
  c->lookback = node.duration("lookback", c->lookback);
  return c;
}

}  // namespace ldx
