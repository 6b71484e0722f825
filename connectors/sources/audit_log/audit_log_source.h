// Audit-log source (API-NOTES §1): GET /api/v2/auditlog newest-first at limit=20,
// following _links.next within a pass and resuming from its own cursor
// (AuditCursorLogic) after a restart; optional per-entry detail fetch; optional
// completeness check of closed windows (audit_completeness.h), run between the pass's
// pages, whose re-fetched entries travel in batches of their own.
#pragma once

#include <simdjson.h>

#include <memory>
#include <set>

#include "common/loop_detector.h"
#include "config/config.h"
#include "http/http_client.h"
#include "sources/audit_log/audit_completeness.h"
#include "sources/audit_log/audit_cursor.h"

namespace ldx {

struct AuditLogConfig final : StreamConfig {
  int64_t start_ms = 0;  // first run: export entries from here on
  bool details = false;  // fetch /auditlog/{id} for previousVersion, currentVersion, delta
  Millis lookback{120'000};
  int page_limit = 20;  // the API's maximum
  std::optional<Millis> completeness_window;  // none: no completeness check
  Millis completeness_settle{600'000};
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
  // Closed windows whose count differed from LaunchDarkly's, since start (for logs/tests).
  [[nodiscard]] uint64_t completeness_mismatches() const { return completeness_mismatches_; }

 private:
  // A re-listing of closed windows in progress.
  struct RunningCheck {
    CheckRange range;
    bool window_end = false;
    std::string next_target;
    TokenLoopDetector requested;  // its next links
    std::unique_ptr<CompletenessTally> tally;
    std::vector<std::string> missing_raw;  // listing items of entries never exported
  };

  Status fetch_detail(Record& r, std::vector<DeadLetter>& dead);
  // GET one listing page: its items and next link (empty when none).
  // `rewritten`: the page held numbers simdjson cannot represent (common/big_numbers.h);
  // the items holding them are to be dead-lettered.
  Status fetch_list_page(const std::string& target, simdjson::dom::parser& parser, simdjson::dom::array& items,
                         std::string& next_href, bool& rewritten);
  nlohmann::json cursor_json();
  void start_check_if_due(bool window_end);
  Result<std::optional<Batch>> next_check_batch();
  Result<std::optional<Batch>> finish_check();

  std::string stream_;
  AuditLogConfig cfg_;
  SecretPolicy policy_;
  std::unique_ptr<HttpClient> http_;
  AuditCursorLogic logic_;
  AuditCursor cursor_;
  std::string next_target_;
  TokenLoopDetector requested_;  // next links of this walk: one handed out again is a loop
  bool done_ = true;
  bool resumed_window_ = false;  // the pass began inside a window of an earlier pass
  uint64_t seq_ = 0;
  simdjson::dom::parser parser_;
  simdjson::dom::parser detail_parser_;
  std::optional<CompletenessLogic> completeness_;
  CompletenessState completeness_state_;
  std::optional<RunningCheck> check_;
  simdjson::dom::parser check_parser_;
  uint64_t completeness_mismatches_ = 0;
};

}  // namespace ldx
