#include "sources/audit_log/audit_log_source.h"

#include <spdlog/spdlog.h>

#include <map>

#include "common/big_numbers.h"
#include "common/normalize.h"
#include "sources/audit_log/audit_log_normalizer.h"

namespace ldx {

namespace {
constexpr const char* kListRoute = "GET /api/v2/auditlog";
constexpr const char* kDetailRoute = "GET /api/v2/auditlog/{id}";

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

// The API's error body is {code, message}; show the message, never the request headers.
std::string api_error(const HttpResponse& r) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  std::string_view msg;
  if (p.parse(r.body).get(e) == simdjson::SUCCESS && e["message"].get(msg) == simdjson::SUCCESS)
    return "HTTP " + std::to_string(r.status) + ": " + std::string(msg);
  return "HTTP " + std::to_string(r.status);
}

// A dead letter's raw: the entry as read, minified, with secrets redacted as in `data`
// (a detail's previousVersion/currentVersion of an environment hold its SDK and mobile
// keys), and any number beyond 64 bits as it came. Only what parsed is dead-lettered
// (an answer that is not JSON is retried), so there are no unparsed bytes to keep.
std::string audit_dead_letter_raw(simdjson::dom::element v, const SecretPolicy& policy) {
  std::string text = serialize_redacted(v, policy);
  return has_rewritten_number(text) ? restore_rewritten_numbers(text) : text;
}
}  // namespace

AuditLogSource::AuditLogSource(const AuditLogConfig& cfg, const SourceContext& ctx)
    : stream_(kAuditLogStream),
      cfg_(cfg),
      policy_(ctx.launchdarkly->secret_policy()),
      http_(ctx.http->make()),
      logic_(cfg.start_ms, cfg.lookback.count()) {
  if (cfg.completeness_window) {
    completeness_.emplace(cfg.completeness_window->count(), cfg.lookback.count(), cfg.completeness_settle.count(),
                          cfg.start_ms);
  }
}

nlohmann::json AuditLogSource::cursor_json() {
  cursor_.completeness = completeness_ ? completeness_state_.to_json() : nlohmann::json();
  return cursor_.to_json();
}

Status AuditLogSource::begin_pass(const nlohmann::json& committed_cursor) {
  auto c = AuditCursor::from_json(committed_cursor);
  if (!c.is_ok()) return c.status();
  cursor_ = std::move(c.value());
  // A window left open by an interrupted pass ends at that pass's newest entry; the
  // pass must then open a fresh window too, or `once` would stop short of now.
  resumed_window_ = cursor_.window.has_value();
  logic_.begin(cursor_);
  if (completeness_) {
    std::optional<CompletenessState> kept;
    if (!cursor_.completeness.is_null()) {
      auto st = CompletenessState::from_json(cursor_.completeness);
      if (!st.is_ok()) return st.status();
      if (st->window_ms == completeness_->window_ms()) {
        kept = std::move(st.value());
        completeness_->loaded(*kept, cursor_);
      } else {
        // Ids are kept per window of the old size: count afresh from what comes next
        // (never re-export what the old counts cannot place).
        spdlog::info("stream {}: completeness_window changed; counting starts again from the next entries", stream_);
      }
    }
    completeness_state_ = kept ? std::move(*kept) : completeness_->init(cursor_);
  }
  check_.reset();
  next_target_ = "/api/v2/auditlog?" + logic_.resume_query(cursor_, cfg_.page_limit);
  requested_.clear();
  done_ = false;
  http_->reset_request_count();
  return Status::ok();
}

Status AuditLogSource::fetch_detail(Record& r, std::vector<DeadLetter>& dead) {
  const std::string target = "/api/v2/auditlog/" + url_escape(r.id);
  auto resp = http_->get(target, kDetailRoute);
  if (!resp.is_ok()) return resp.status();
  if (resp->status == 404) {
    // Listed but gone: keep the listing version and say why in the dead-letter output.
    dead.push_back({stream_, "audit entry " + r.id + ": detail returned 404; exported the listing without versions",
                    r.data, r.observed_at_ms});
    return Status::ok();
  }
  if (resp->status != 200) {
    return Status::retryable("GET " + target + ": " + api_error(*resp)).with_request(target, resp->status);
  }
  simdjson::dom::element doc;
  const auto err = detail_parser_.parse(resp->body).get(doc);
  if (err == simdjson::NUMBER_ERROR) {
    std::string rewritten;
    if (rewrite_unrepresentable_numbers(resp->body, rewritten) > 0 &&
        detail_parser_.parse(rewritten).get(doc) == simdjson::SUCCESS) {
      // Readable but for such a number: keep the listing version, as for a 404.
      dead.push_back({stream_, "audit entry " + r.id + " detail " + kUnrepresentableNumberReason +
                                   "; exported the listing without versions",
                      audit_dead_letter_raw(doc, policy_), r.observed_at_ms});
      return Status::ok();
    }
  }
  if (err != simdjson::SUCCESS || !doc.is_object()) {
    return Status::retryable("GET " + target + ": response is not a JSON object").with_request(target, resp->status);
  }
  auto detailed = normalize_audit_entry(doc, policy_, r.observed_at_ms);
  if (!detailed.is_ok()) {
    // As for a 404: the record keeps the listing version.
    dead.push_back({stream_,
                    "audit entry " + r.id + " detail: " + detailed.status().message() +
                        "; exported the listing without versions",
                    audit_dead_letter_raw(doc, policy_), r.observed_at_ms});
    return Status::ok();
  }
  r = std::move(detailed.value());
  return Status::ok();
}

Status AuditLogSource::fetch_list_page(const std::string& target, simdjson::dom::parser& parser,
                                       simdjson::dom::array& items, std::string& next_href, bool& rewritten) {
  rewritten = false;
  auto resp = http_->get(target, kListRoute);
  if (!resp.is_ok()) return resp.status();
  const long status = resp->status;
  if (status == 400 || status == 404) {
    return Status::fatal("GET " + target + ": LaunchDarkly rejected the request: " + api_error(*resp))
        .with_request(target, status);
  }
  if (status != 200) return Status::retryable("GET " + target + ": " + api_error(*resp)).with_request(target, status);
  simdjson::dom::element doc;
  auto err = parser.parse(resp->body).get(doc);
  if (err == simdjson::NUMBER_ERROR) {
    std::string text;
    if (rewrite_unrepresentable_numbers(resp->body, text) > 0) {
      err = parser.parse(text).get(doc);
      rewritten = err == simdjson::SUCCESS;
    }
  }
  if (err != simdjson::SUCCESS) {
    return Status::retryable("GET " + target + ": response is not valid JSON (" + simdjson::error_message(err) + ")")
        .with_request(target, status);
  }
  if (doc["items"].get(items) != simdjson::SUCCESS) {
    return Status::retryable("GET " + target + ": response has no items array").with_request(target, status);
  }
  std::string_view next;
  next_href.clear();
  if (doc.at_pointer("/_links/next/href").get(next) == simdjson::SUCCESS) next_href = std::string(next);
  return Status::ok();
}

Result<std::optional<Batch>> AuditLogSource::next_batch() {
  if (check_) return next_check_batch();
  if (done_) return std::optional<Batch>{};
  const std::string target = next_target_;
  if (requested_.seen(target)) {
    return Status::fatal("GET " + target + ": LaunchDarkly's next link points at a page already read; stopping to avoid a loop");
  }
  requested_.requested(target);
  simdjson::dom::array items;
  std::string next_href;
  bool rewritten = false;
  if (auto st = fetch_list_page(target, parser_, items, next_href, rewritten); !st.is_ok()) return st;
  const bool has_next = !next_href.empty();

  const int64_t now = wall_now_ms();
  Batch batch;
  batch.stream = stream_;
  batch.sequence = ++seq_;
  batch.pages = 1;
  std::vector<Record> parsed;
  std::vector<AuditPageItem> page_items;
  // Entries that cannot be exported (a number simdjson cannot represent, no canonical
  // form, ...) but have an id and a date, by their index in page_items: these place them
  // in the cursor like any entry, so each is dead-lettered once, when it is new, not
  // every time its page is read again (the next pass's lookback, a resumed page).
  std::map<size_t, DeadLetter> unreadable;
  for (auto item : items) {
    std::string raw;
    const bool unrepresentable = rewritten && has_rewritten_number(raw = simdjson::minify(item));
    DeadLetter d;
    if (!unrepresentable) {
      auto rec = normalize_audit_entry(item, policy_, now);
      if (rec.is_ok()) {
        page_items.push_back({rec->id, *rec->occurred_at_ms});
        parsed.push_back(std::move(rec.value()));
        continue;
      }
      d = {stream_, rec.status().message(), audit_dead_letter_raw(item, policy_), now};
    }
    // Only an entry that cannot be exported gets here: the hot path reads no field twice.
    auto id = get_string(item, "_id");
    if (unrepresentable) {
      d = {stream_, "audit entry " + std::string(id ? *id : "without _id") + " " + kUnrepresentableNumberReason,
           audit_dead_letter_raw(item, policy_), now};
    }
    auto date = get_int64(item, "date");
    if (!id || id->empty() || !date) {
      batch.dead_letters.push_back(std::move(d));
      continue;
    }
    unreadable.emplace(page_items.size(), std::move(d));
    page_items.push_back({std::string(*id), *date});
    parsed.emplace_back();
  }
  AuditPageOutcome outcome = logic_.ingest(cursor_, page_items, has_next);
  batch.records.reserve(outcome.fresh.size());
  for (size_t k : outcome.fresh) {
    if (auto d = unreadable.find(k); d != unreadable.end()) {
      // Accounted for by the completeness check as well (CompletenessState::exported).
      if (completeness_) completeness_->record_exported(completeness_state_, page_items[k].id, page_items[k].date);
      batch.dead_letters.push_back(std::move(d->second));
      continue;
    }
    Record r = std::move(parsed[k]);
    if (cfg_.details) {
      if (auto s = fetch_detail(r, batch.dead_letters); !s.is_ok()) return s;
    }
    if (completeness_) completeness_->record_exported(completeness_state_, page_items[k].id, page_items[k].date);
    batch.records.push_back(std::move(r));
  }
  if (outcome.window_done && resumed_window_) {
    resumed_window_ = false;
    logic_.begin(cursor_);
    next_target_ = "/api/v2/auditlog?" + logic_.resume_query(cursor_, cfg_.page_limit);
    requested_.clear();
  } else if (outcome.window_done) {
    done_ = true;
  } else {
    next_target_ = next_href;
  }
  if (completeness_) start_check_if_due(outcome.window_done);
  batch.cursor = cursor_json();
  return std::optional<Batch>(std::move(batch));
}

void AuditLogSource::start_check_if_due(bool window_end) {
  auto range = window_end ? completeness_->due_at_window_end(completeness_state_, cursor_)
                          : completeness_->due_in_window(completeness_state_, cursor_);
  if (!range) return;
  RunningCheck ck;
  ck.range = *range;
  ck.window_end = window_end;
  // after/before widened by 1 ms and filtered here: the API does not say whether they
  // are inclusive (as in the pass itself).
  ck.next_target = "/api/v2/auditlog?limit=" + std::to_string(cfg_.page_limit) +
                   (range->from > 0 ? "&after=" + std::to_string(range->from - 1) : std::string()) +
                   "&before=" + std::to_string(range->to);
  ck.tally = std::make_unique<CompletenessTally>(*completeness_, completeness_state_, *range);
  check_ = std::move(ck);
}

Result<std::optional<Batch>> AuditLogSource::next_check_batch() {
  RunningCheck& ck = *check_;
  const std::string target = ck.next_target;
  if (ck.requested.seen(target)) {
    return Status::fatal("GET " + target + ": LaunchDarkly's next link points at a page already read; stopping to avoid a loop");
  }
  ck.requested.requested(target);
  simdjson::dom::array items;
  std::string next_href;
  bool rewritten = false;  // such items are dead-lettered when re-fetched (finish_check)
  if (auto st = fetch_list_page(target, check_parser_, items, next_href, rewritten); !st.is_ok()) return st;
  bool past = false;
  for (auto item : items) {
    auto id = get_string(item, "_id");
    auto date = get_int64(item, "date");
    if (!id || id->empty() || !date) continue;  // unreadable: dead-lettered by the pass itself
    if (*date >= ck.range.to) continue;
    if (*date < ck.range.from) {
      past = true;
      continue;
    }
    if (ck.tally->listed(std::string(*id), *date)) ck.missing_raw.push_back(simdjson::minify(item));
  }
  if (past || next_href.empty()) return finish_check();
  ck.next_target = next_href;
  // Nothing new to deliver: an empty batch returns control (and commits nothing new).
  Batch batch;
  batch.stream = stream_;
  batch.sequence = ++seq_;
  batch.pages = 1;
  batch.cursor = cursor_json();
  return std::optional<Batch>(std::move(batch));
}

Result<std::optional<Batch>> AuditLogSource::finish_check() {
  RunningCheck& ck = *check_;
  const int64_t window = completeness_->window_ms();
  for (const auto& [ws, w] : ck.tally->windows()) {
    if (w.matches()) continue;
    ++completeness_mismatches_;
    const int64_t from = std::max(ws, ck.range.from);
    const int64_t to = std::min(ws + window, ck.range.to);
    std::string what;
    if (!w.missing.empty()) what = "; re-fetching the " + std::to_string(w.missing.size()) + " missing entr" + (w.missing.size() == 1 ? "y" : "ies") + ", e.g. " + w.missing.front();
    const uint64_t gone = w.exported - w.exported_and_listed;
    if (gone > 0) what += "; " + std::to_string(gone) + " exported entr" + (gone == 1 ? "y is" : "ies are") + " no longer listed by LaunchDarkly";
    spdlog::warn("stream {}: completeness: window {} .. {}: exported or dead-lettered {} entries, LaunchDarkly lists {}{}",
                 stream_, format_rfc3339_ms(from), format_rfc3339_ms(to), w.exported, w.listed, what);
  }
  Batch batch;
  batch.stream = stream_;
  batch.sequence = ++seq_;
  batch.pages = 1;
  const int64_t now = wall_now_ms();
  for (const auto& raw : ck.missing_raw) {
    simdjson::dom::element item;
    if (check_parser_.parse(raw).get(item) != simdjson::SUCCESS) continue;  // it was minified from valid JSON
    if (has_rewritten_number(raw)) {
      batch.dead_letters.push_back({stream_, std::string("audit entry ") + kUnrepresentableNumberReason,
                                    audit_dead_letter_raw(item, policy_), now});
      continue;
    }
    auto rec = normalize_audit_entry(item, policy_, now);
    if (!rec.is_ok()) {
      batch.dead_letters.push_back({stream_, rec.status().message(), audit_dead_letter_raw(item, policy_), now});
      continue;
    }
    Record r = std::move(rec.value());
    if (cfg_.details) {
      if (auto s = fetch_detail(r, batch.dead_letters); !s.is_ok()) return s;
    }
    batch.records.push_back(std::move(r));
  }
  if (!batch.records.empty()) {
    spdlog::info("stream {}: completeness: re-fetched {} entr{} missing from {} .. {}", stream_, batch.records.size(),
                 batch.records.size() == 1 ? "y" : "ies", format_rfc3339_ms(ck.range.from),
                 format_rfc3339_ms(ck.range.to));
  }
  completeness_->mark_checked(completeness_state_, ck.range);
  const bool window_end = ck.window_end;
  check_.reset();
  // At a window's end, a check of the gap below the window's own checks may leave more
  // due above them (an earlier window's end check was cut short): run that too now.
  if (window_end) start_check_if_due(true);
  batch.cursor = cursor_json();
  return std::optional<Batch>(std::move(batch));
}

Result<std::unique_ptr<Source>> AuditLogConfig::build(const SourceContext& ctx) const {
  return std::unique_ptr<Source>(std::make_unique<AuditLogSource>(*this, ctx));
}

std::unique_ptr<StreamConfig> parse_audit_log_config(ConfigNode& node) {
  auto c = std::make_unique<AuditLogConfig>();
  c->start_ms = node.timestamp_ms("start").value_or(0);
  c->details = node.boolean("details", false);
  c->lookback = node.duration("lookback", c->lookback);
  c->page_limit = static_cast<int>(node.integer("page_limit", 20, 1, 20));
  c->completeness_window = node.opt_duration("completeness_window");
  c->completeness_settle = node.duration("completeness_settle", c->completeness_settle);
  if (c->completeness_window && c->completeness_window->count() < 1000) {
    node.error_at("completeness_window", "must be at least 1s, or none");
  }
  if (c->completeness_settle.count() < 0) node.error_at("completeness_settle", "must not be negative");
  return c;
}

}  // namespace ldx
