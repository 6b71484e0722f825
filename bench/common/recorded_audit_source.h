// Recorded audit-log API pages replayed from memory as the audit-log source delivers
// them: one page per next_batch(), parsed with simdjson and normalized with the real
// normalizer, so a benchmark measures ldexport's own work without HTTP.
#pragma once

#include <simdjson.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "core/interfaces.h"
#include "core/json_writer.h"

namespace ldx::bench {

class RecordedAuditSource final : public Source {
 public:
  // pages_per_batch > 1 hands several pages over in one batch (for comparisons only;
  // the daemon's source hands over one page and the stream runner joins them).
  explicit RecordedAuditSource(const std::vector<std::string>& pages, int pages_per_batch = 1);
  [[nodiscard]] const std::string& stream() const override { return stream_; }
  Status begin_pass(const nlohmann::json& cursor) override;
  Result<std::optional<Batch>> next_batch() override;
  [[nodiscard]] uint64_t requests_this_pass() const override { return 0; }

 private:
  const std::vector<std::string>& pages_;
  int per_batch_;
  std::string stream_;
  size_t next_ = 0;
  uint64_t seq_ = 0;
  SecretPolicy policy_;
  simdjson::dom::parser parser_;
};

// A StreamConfig for benchmarks that build their source themselves.
struct BenchStreamConfig final : StreamConfig {
  [[nodiscard]] Result<std::unique_ptr<Source>> build(const SourceContext&) const override;
};

}  // namespace ldx::bench
