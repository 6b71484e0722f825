#include "sources/entity/entity_source.h"

#include <spdlog/spdlog.h>

#include "common/big_numbers.h"
#include "core/time_util.h"
#include "telemetry/log_fields.h"
#include "sources/entity/snapshot_pass.h"

namespace ldx {

std::string_view id_part(std::string_view id, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    auto slash = id.find('/');
    if (slash == std::string_view::npos) return {};
    id.remove_prefix(slash + 1);
  }
  return id.substr(0, id.find('/'));
}

Record make_delete_record(const std::string& stream, const std::string& id, std::string project,
                          std::string environment, int64_t now_ms) {
  Record r;
  r.stream = stream;
  r.id = id;
  r.op = Op::kDelete;
  r.project = std::move(project);
  r.environment = std::move(environment);
  r.observed_at_ms = now_ms;
  r.data = "null";
  r.finish();
  return r;
}

EntitySource::EntitySource(std::unique_ptr<EntityStream> stream, std::unique_ptr<HttpClient> http, Selection selection,
                           std::unique_ptr<HttpClient> discovery_http)
    : stream_(std::move(stream)), client_(std::move(http)), selection_(std::move(selection)) {
  if (discovery_http) discovery_client_ = std::make_unique<EntityClient>(std::move(discovery_http));
}

Status EntitySource::begin_pass(const nlohmann::json& committed_cursor) {
  client_.reset_requests();
  if (discovery_client_) discovery_client_->reset_requests();
  pass_.reset();
  steps_ = 0;
  std::vector<ProjectInfo> projects;
  if (stream_->needs_discovery()) {
    auto d = discover_projects(discovery_client_ ? *discovery_client_ : client_, selection_, stream_->discovery());
    if (!d.is_ok()) return d.status().with_context("discovery: ");
    projects = std::move(d.value());
  }
  nlohmann::json cursor = committed_cursor;
  if (!unconfirmed_.empty() && stream_->emits_deletes()) {
    auto adopted = cursor_with_unconfirmed(committed_cursor, unconfirmed_, stream());
    if (!adopted.is_ok()) return adopted.status();
    cursor = std::move(adopted.value());
    spdlog::info("stream {}: {} id(s) upserted by a batch that was never committed may be in a sink; this pass "
                 "upserts again those that exist and deletes those that do not",
                 stream(), unconfirmed_.size());
  }
  unconfirmed_.clear();
  auto p = stream_->begin_pass(cursor, projects, wall_now_ms());
  if (!p.is_ok()) return p.status();
  pass_ = std::move(p.value());
  return Status::ok();
}

Result<std::optional<Batch>> EntitySource::next_batch() {
  if (!pass_) return std::optional<Batch>{};
  StepOutput out;
  size_t steps_in_batch = 0;
  size_t read_bytes = 0;
  while (true) {
    // Every step makes progress (a page, a confirmation, a local phase); a pass that
    // does not end is a bug, reported instead of spinning.
    if (++steps_ > 10'000'000) return Status::fatal("the pass does not end; stopping");  // the runner names the stream
    PassStep step = pass_->next();
    if (step.kind == PassStep::Kind::kDone) {
      if (steps_in_batch > 0) break;  // emit what was read; the next call ends the pass
      pass_.reset();
      return std::optional<Batch>{};
    }
    const int64_t now = wall_now_ms();
    if (step.kind == PassStep::Kind::kLocal) {
      const size_t records_before = out.records.size();
      const size_t dead_before = out.dead_letters.size();
      if (auto st = pass_->run_local(now, out); !st.is_ok()) return st;
      // Local steps use items kept from earlier answers (discovery's projects and
      // environments), which may hold such numbers too.
      set_aside_unrepresentable(out, records_before, dead_before, now);
    } else {
      auto answer = client_.call(step.call);
      if (!answer.is_ok()) return answer.status();
      read_bytes += answer->body_bytes;
      // What the pass logs or fails with about this answer names its request.
      const std::string status = std::to_string(answer->status);
      LogScope path(LogField::kPath, step.call.target);
      LogScope answered(LogField::kStatus, status);
      const size_t records_before = out.records.size();
      const size_t dead_before = out.dead_letters.size();
      if (auto st = pass_->on_answer(step.call, answer.value(), now, out); !st.is_ok()) {
        return st.request_path().empty() ? st.with_request(step.call.target, answer->status) : st;
      }
      if (answer->rewritten_numbers) set_aside_unrepresentable(out, records_before, dead_before, now);
    }
    if (++steps_in_batch >= kMaxStepsPerBatch || read_bytes >= pass_->cursor_bytes_hint()) break;
  }
  Batch batch;
  batch.stream = stream();
  batch.sequence = ++seq_;
  batch.records = std::move(out.records);
  batch.dead_letters = std::move(out.dead_letters);
  batch.pages = out.pages;
  batch.cursor = pass_->cursor();
  return std::optional<Batch>(std::move(batch));
}

// Records made from an answer that held numbers simdjson cannot represent: those that
// carry one (as a marked string) become dead letters with the number as it came.
void EntitySource::set_aside_unrepresentable(StepOutput& out, size_t records_from, size_t dead_from, int64_t now_ms) {
  bool any = false;
  for (size_t i = records_from; i < out.records.size() && !any; ++i) any = has_rewritten_number(out.records[i].data);
  for (size_t i = dead_from; i < out.dead_letters.size() && !any; ++i) any = has_rewritten_number(out.dead_letters[i].raw);
  if (!any) return;
  std::vector<Record> kept;
  for (size_t i = records_from; i < out.records.size(); ++i) {
    Record& r = out.records[i];
    if (has_rewritten_number(r.data)) {
      out.dead_letters.push_back({stream(), stream() + " " + r.id + " " + kUnrepresentableNumberReason,
                                  restore_rewritten_numbers(r.data), now_ms});
    } else {
      kept.push_back(std::move(r));
    }
  }
  out.records.resize(records_from);
  for (auto& r : kept) out.records.push_back(std::move(r));
  for (size_t i = dead_from; i < out.dead_letters.size(); ++i) {
    DeadLetter& d = out.dead_letters[i];
    if (has_rewritten_number(d.raw)) d.raw = restore_rewritten_numbers(d.raw);
  }
}

VersionedHttp::VersionedHttp(const SourceContext& ctx, std::string api_version)
    : cfg_(*ctx.launchdarkly), factory_(ctx.http), stop_(ctx.stop) {
  cfg_.api_version = std::move(api_version);
}

std::unique_ptr<HttpClient> VersionedHttp::make() {
  return std::make_unique<HttpClient>(cfg_, factory_->budget(), factory_->stats(), *stop_);
}

}  // namespace ldx
