#include "sources/audit_log/audit_log_source.h"

#include <spdlog/spdlog.h>

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
}  // namespace

AuditLogSource::AuditLogSource(const AuditLogConfig& cfg, const SourceContext& ctx)
    : stream_(kAuditLogStream),
      cfg_(cfg),
      policy_(ctx.launchdarkly->secret_policy()),
      http_(ctx.http->make()),
      logic_(cfg.start_ms, cfg.lookback.count()) {}

Status AuditLogSource::begin_pass(const nlohmann::json& committed_cursor) {
  auto c = AuditCursor::from_json(committed_cursor);
  if (!c.is_ok()) return c.status();
  cursor_ = std::move(c.value());
  logic_.begin(cursor_);
  next_target_ = "/api/v2/auditlog?" + logic_.resume_query(cursor_, cfg_.page_limit);
  requested_.clear();
  done_ = false;
  http_->reset_request_count();
  return Status::ok();
}

Status AuditLogSource::fetch_detail(Record& r, std::vector<DeadLetter>& dead) {
  auto resp = http_->get("/api/v2/auditlog/" + url_escape(r.id), kDetailRoute);
  if (!resp.is_ok()) return resp.status();
  if (resp->status == 404) {
    // Listed but gone: keep the listing version and say why in the dead-letter output.
    dead.push_back({stream_, "audit entry " + r.id + ": detail returned 404; exported the listing without versions",
                    r.data, r.observed_at_ms});
    return Status::ok();
  }
  if (resp->status != 200) return Status::retryable("GET /api/v2/auditlog/" + r.id + ": " + api_error(*resp));
  simdjson::dom::element doc;
  if (detail_parser_.parse(resp->body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Status::retryable("GET /api/v2/auditlog/" + r.id + ": response is not a JSON object");
  }
  auto detailed = normalize_audit_entry(doc, policy_, r.observed_at_ms);
  if (!detailed.is_ok()) {
    dead.push_back({stream_, "audit entry " + r.id + " detail: " + detailed.status().message(), resp->body,
                    r.observed_at_ms});
    return Status::ok();
  }
  r = std::move(detailed.value());
  return Status::ok();
}

Result<std::optional<Batch>> AuditLogSource::next_batch() {
  if (done_) return std::optional<Batch>{};
  const std::string target = next_target_;
  if (!requested_.insert(target).second) {
    return Status::fatal("GET " + target + ": LaunchDarkly's next link points at a page already read; stopping to avoid a loop");
  }
  auto resp = http_->get(target, kListRoute);
  if (!resp.is_ok()) return resp.status();
  if (resp->status == 400 || resp->status == 404) {
    return Status::fatal("GET " + target + ": LaunchDarkly rejected the request: " + api_error(*resp));
  }
  if (resp->status != 200) return Status::retryable("GET " + target + ": " + api_error(*resp));

  simdjson::dom::element doc;
  simdjson::dom::array items;
  if (auto err = parser_.parse(resp->body).get(doc); err != simdjson::SUCCESS) {
    return Status::retryable("GET " + target + ": response is not valid JSON (" + simdjson::error_message(err) + ")");
  }
  if (doc["items"].get(items) != simdjson::SUCCESS) {
    return Status::retryable("GET " + target + ": response has no items array");
  }
  std::string_view next_href;
  const bool has_next = doc.at_pointer("/_links/next/href").get(next_href) == simdjson::SUCCESS && !next_href.empty();

  const int64_t now = wall_now_ms();
  Batch batch;
  batch.stream = stream_;
  batch.sequence = ++seq_;
  batch.pages = 1;
  std::vector<Record> parsed;
  std::vector<AuditPageItem> page_items;
  for (auto item : items) {
    auto rec = normalize_audit_entry(item, policy_, now);
    if (!rec.is_ok()) {
      batch.dead_letters.push_back({stream_, rec.status().message(), simdjson::minify(item), now});
      continue;
    }
    page_items.push_back({rec->id, *rec->occurred_at_ms});
    parsed.push_back(std::move(rec.value()));
  }
  AuditPageOutcome outcome = logic_.ingest(cursor_, page_items, has_next);
  batch.records.reserve(outcome.fresh.size());
  for (size_t k : outcome.fresh) {
    Record r = std::move(parsed[k]);
    if (cfg_.details) {
      if (auto s = fetch_detail(r, batch.dead_letters); !s.is_ok()) return s;
    }
    batch.records.push_back(std::move(r));
  }
  if (outcome.window_done) {
    done_ = true;
  } else {
    next_target_ = std::string(next_href);
  }
  batch.cursor = cursor_.to_json();
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
  return c;
}

}  // namespace ldx
