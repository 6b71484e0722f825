// Audit-log source (API-NOTES §1): GET /api/v2/auditlog newest-first at limit=20,
// following _links.next within a pass and resuming from its own cursor
// (AuditCursorLogic) after a restart; optional per-entry detail fetch.
#pragma once

#include <simdjson.h>

#include <memory>
#include <set>

#include "config/config.h"
#include "http/http_client.h"
#include "sources/audit_log/audit_cursor.h"

namespace ldx {

struct AuditLogConfig final : StreamConfig {
  int64_t start_ms = 0;  // first run: export entries from here on
  bool details = false;  // fetch /auditlog/{id} for previousVersion, currentVersion, delta
  Millis lookback{120'000};
  int page_limit = 20;  // the API's maximum
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext& ctx) const override;
};
std::unique_ptr<StreamConfig> parse_audit_log_config(ConfigNode& node);

class AuditLogSource final : public Source {
 public:
  AuditLogSource(const AuditLogConfig& cfg, const SourceContext& ctx);
  [[nodiscard]] const std::string& stream() const override { return stream_; }
  Status begin_pass(const nlohmann::json& committed_cursor) override;
  Result<std::optional<Batch>> next_batch() override;
  [[nodiscard]] uint64_t requests_this_pass() const override { return http_->requests(); }

 private:
  Status fetch_detail(Record& r, std::vector<DeadLetter>& dead);

  std::string stream_;
  AuditLogConfig cfg_;
  SecretPolicy policy_;
  std::unique_ptr<HttpClient> http_;
  AuditCursorLogic logic_;
  AuditCursor cursor_;
  std::string next_target_;
  std::set<std::string> requested_;
  bool done_ = true;
  uint64_t seq_ = 0;
  simdjson::dom::parser parser_;
  simdjson::dom::parser detail_parser_;
};

}  // namespace ldx
