#include "sources/entity/snapshot_pass.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/normalize.h"

namespace ldx {

void apply_entity(SnapshotState& state, Entity&& e, const std::string& stream, int64_t now_ms, StepOutput& out) {
  if (e.deleted) {
    if (state.find(e.record.id)) {
      out.records.push_back(
          make_delete_record(stream, e.record.id, e.record.project, e.record.environment, now_ms));
      state.forget(e.record.id);
    }
    return;
  }
  if (state.observe(e.record.id, e.fp) != Observed::kSame) out.records.push_back(std::move(e.record));
}

std::string dead_letter_raw(simdjson::dom::element item, const SecretPolicy& policy) {
  return serialize_redacted(item, policy);
}

void dead_letter_unreadable(SnapshotState& state, const ListScope& scope, const std::string& stream,
                            std::string reason, std::string_view raw, std::optional<simdjson::dom::element> item,
                            const SecretPolicy& policy, int64_t now_ms, StepOutput& out) {
  if (!state.observe_unreadable(unreadable_name(scope.key, raw))) return;
  out.dead_letters.push_back(
      {stream, std::move(reason), item ? dead_letter_raw(*item, policy) : std::string(raw), now_ms});
}

nlohmann::json snapshot_cursor(const SnapshotState& state) { return {{"v", 1}, {"snapshot", state.to_json()}}; }

Result<SnapshotState> snapshot_from_cursor(const nlohmann::json& cursor, const std::string& stream) {
  if (cursor.is_null()) return SnapshotState{};
  if (!cursor.is_object() || cursor.value("v", 0) != 1 || !cursor.contains("snapshot")) {
    return Status::fatal(stream + " cursor: unknown format (expected {\"v\":1,\"snapshot\":...})");
  }
  auto s = SnapshotState::from_json(cursor["snapshot"]);
  if (!s.is_ok()) return s.status().with_context(stream + ": ");
  return s;
}

Result<nlohmann::json> cursor_with_unconfirmed(const nlohmann::json& cursor, const std::vector<std::string>& ids,
                                               const std::string& stream) {
  auto state = snapshot_from_cursor(cursor, stream);
  if (!state.is_ok()) return state.status();
  for (const auto& id : ids) state.value().adopt_unconfirmed(id);
  if (cursor.is_null()) return snapshot_cursor(state.value());
  nlohmann::json out = cursor;
  out["snapshot"] = state.value().to_json();
  return out;
}

SnapshotPass::SnapshotPass(SnapshotStream& stream, SnapshotState& state, std::vector<ListScope> scopes,
                           int64_t now_ms, CursorOf cursor_of)
    : stream_(stream), state_(state), cursor_of_(std::move(cursor_of)), scopes_(std::move(scopes)) {
  if (!cursor_of_) cursor_of_ = snapshot_cursor;
  std::sort(scopes_.begin(), scopes_.end(), [](const ListScope& a, const ListScope& b) { return a.key < b.key; });
  state_.begin_snapshot(now_ms);
  const SnapshotProgress& p = state_.progress();
  if (p.listed) {
    scope_idx_ = scopes_.size();
    enter_confirm();
    return;
  }
  // Resume at the saved scope: the first scope whose key is not before it. A scope that
  // appeared meanwhile before that key waits for the next snapshot (its entities are
  // new to `known`, so nothing is lost, only seen a pass later).
  while (scope_idx_ < scopes_.size() && scopes_[scope_idx_].key < p.scope) ++scope_idx_;
  if (scope_idx_ >= scopes_.size() || scopes_[scope_idx_].key != p.scope) state_.progress().offset = 0;
  if (scope_idx_ < scopes_.size()) state_.progress().scope = scopes_[scope_idx_].key;
  if (scope_idx_ >= scopes_.size()) enter_confirm();
}

void SnapshotPass::advance_scope() {
  ++scope_idx_;
  state_.progress().offset = 0;
  if (scope_idx_ < scopes_.size()) {
    state_.progress().scope = scopes_[scope_idx_].key;
  } else {
    enter_confirm();
  }
}

void SnapshotPass::enter_confirm() {
  state_.progress().listed = true;
  state_.progress().scope.clear();
  state_.progress().offset = 0;
  candidates_ = state_.unseen([this](const std::string& id) { return stream_.selected(id); });
  candidate_idx_ = 0;
  if (candidates_.empty()) {
    phase_ = Phase::kEnd;
  } else if (stream_.confirm(candidates_.front())) {
    phase_ = Phase::kConfirm;
  } else {
    phase_ = Phase::kDeleteAll;
  }
}

nlohmann::json SnapshotPass::cursor() const { return cursor_of_(state_); }

PassStep SnapshotPass::next() {
  switch (phase_) {
    case Phase::kList: {
      const ListScope& s = scopes_[scope_idx_];
      if (s.preloaded) return PassStep::local();
      ApiCall c;
      c.target = s.target;
      if (s.limit > 0) {
        c.target += (c.target.find('?') == std::string::npos ? "?" : "&");
        c.target += "limit=" + std::to_string(s.limit) + "&offset=" + std::to_string(state_.progress().offset);
      }
      c.route = s.route;
      return PassStep::request(std::move(c));
    }
    case Phase::kConfirm: {
      if (candidate_idx_ >= candidates_.size()) {
        phase_ = Phase::kEnd;
        return PassStep::local();
      }
      confirming_ = stream_.confirm(candidates_[candidate_idx_]);
      ApiCall c;
      c.target = confirming_->target;
      c.route = confirming_->route;
      return PassStep::request(std::move(c));
    }
    case Phase::kDeleteAll:
    case Phase::kEnd: return PassStep::local();
    case Phase::kDone: return PassStep::done();
  }
  return PassStep::done();
}

Status SnapshotPass::ingest_items(simdjson::dom::element doc, const ListScope& scope, bool single, int64_t now_ms,
                                  StepOutput& out, size_t& count) {
  auto one = [&](simdjson::dom::element item) {
    auto e = stream_.normalize(item, scope, now_ms);
    if (!e.is_ok()) {
      dead_letter_unreadable(state_, scope, stream_.stream(), e.status().message(), simdjson::minify(item), item,
                             stream_.secret_policy(), now_ms, out);
      return;
    }
    stream_.on_listed(scope, e.value());
    apply_entity(state_, std::move(e.value()), stream_.stream(), now_ms, out);
  };
  if (single) {
    count = 1;
    one(doc);
    return Status::ok();
  }
  simdjson::dom::array items;
  if (doc[scope.items_field].get(items) != simdjson::SUCCESS) {
    return Status::retryable(scope.target + ": response has no " + scope.items_field + " array");
  }
  count = items.size();
  for (auto item : items) one(item);
  return Status::ok();
}

Status SnapshotPass::on_answer(const ApiCall& call, const ApiAnswer& answer, int64_t now_ms, StepOutput& out) {
  ++out.pages;
  if (phase_ == Phase::kConfirm) {
    const std::string id = candidates_[candidate_idx_++];
    if (answer.status == 404) {
      out.records.push_back(stream_.delete_record(id, now_ms));
      state_.forget(id);
      return Status::ok();
    }
    if (answer.status != 200) {
      return Status::fatal(call.describe() + ": " + describe_api_error(answer.status, answer.message));
    }
    size_t n = 0;
    // An unreadable answer is dead-lettered under the id's own name ("<id>/<fingerprint>",
    // once while it stays so), not as an item of the id's list: the id, kept below,
    // counts that entity already.
    if (auto st = ingest_items(answer.doc, *confirming_, true, now_ms, out, n); !st.is_ok()) return st;
    // The GET answered something else (an id the normalizer reads differently): the
    // disappeared id stays unconfirmed-alive rather than deleted on a guess.
    if (state_.find(id) && state_.find(id)->gen < state_.generation()) {
      spdlog::warn("stream {}: {} answered for {} but named another entity; kept it", stream_.stream(),
                   call.describe(), id);
      state_.observe(id, state_.find(id)->fp);
    }
    return Status::ok();
  }
  const ListScope& s = scopes_[scope_idx_];
  if (answer.status == 404) {
    // The scope's project or environment went away after discovery: nothing to list;
    // its entities are confirmed (and deleted) at the end like any other disappearance.
    spdlog::info("stream {}: {} answered 404; the scope is gone", stream_.stream(), call.describe());
    advance_scope();
    return Status::ok();
  }
  if (answer.status != 200) {
    return Status::fatal(call.describe() + ": LaunchDarkly rejected the request: " +
                         describe_api_error(answer.status, answer.message));
  }
  size_t n = 0;
  if (auto st = ingest_items(answer.doc, s, s.limit == 0, now_ms, out, n); !st.is_ok()) return st;
  if (s.limit == 0) {
    advance_scope();
    return Status::ok();
  }
  state_.progress().offset += static_cast<int64_t>(n);
  if (!page_has_next(answer.doc, n, state_.progress().offset, s.total_field)) advance_scope();
  return Status::ok();
}

Status SnapshotPass::run_local(int64_t now_ms, StepOutput& out) {
  switch (phase_) {
    case Phase::kList: {
      const ListScope& s = scopes_[scope_idx_];
      for (const auto& raw : s.items) {
        simdjson::dom::element item;
        if (local_parser_.parse(raw).get(item) != simdjson::SUCCESS) {
          dead_letter_unreadable(state_, s, stream_.stream(), "item is not valid JSON", raw, std::nullopt,
                                 stream_.secret_policy(), now_ms, out);
          continue;
        }
        auto e = stream_.normalize(item, s, now_ms);
        if (!e.is_ok()) {
          dead_letter_unreadable(state_, s, stream_.stream(), e.status().message(), raw, item,
                                 stream_.secret_policy(), now_ms, out);
          continue;
        }
        stream_.on_listed(s, e.value());
        apply_entity(state_, std::move(e.value()), stream_.stream(), now_ms, out);
      }
      advance_scope();
      return Status::ok();
    }
    case Phase::kDeleteAll:
      for (const auto& id : candidates_) {
        out.records.push_back(stream_.delete_record(id, now_ms));
        state_.forget(id);
      }
      candidates_.clear();
      phase_ = Phase::kEnd;
      [[fallthrough]];
    case Phase::kEnd:
      state_.end_snapshot([this](const std::string& id) { return stream_.selected(id); });
      phase_ = Phase::kDone;
      return Status::ok();
    case Phase::kConfirm:
    case Phase::kDone: return Status::ok();
  }
  return Status::ok();
}

}  // namespace ldx
