#include "recorded_audit_source.h"

#include "core/time_util.h"
#include "sources/audit_log/audit_log_normalizer.h"

namespace ldx::bench {

RecordedAuditSource::RecordedAuditSource(const std::vector<std::string>& pages, int pages_per_batch)
    : pages_(pages), per_batch_(pages_per_batch), stream_(kAuditLogStream) {}

Status RecordedAuditSource::begin_pass(const nlohmann::json& cursor) {
  next_ = cursor.is_object() ? cursor.value("page", size_t{0}) : 0;
  return Status::ok();
}

Result<std::optional<Batch>> RecordedAuditSource::next_batch() {
  if (next_ >= pages_.size()) return std::optional<Batch>{};
  Batch b;
  b.stream = stream_;
  b.sequence = ++seq_;
  const int64_t now = wall_now_ms();
  for (int k = 0; k < per_batch_ && next_ < pages_.size(); ++k, ++next_) {
    simdjson::dom::element doc;
    simdjson::dom::array items;
    if (parser_.parse(pages_[next_]).get(doc) != simdjson::SUCCESS || doc["items"].get(items) != simdjson::SUCCESS) {
      return Status::fatal("recorded page " + std::to_string(next_) + " is not an audit-log page");
    }
    for (auto item : items) {
      auto r = normalize_audit_entry(item, policy_, now);
      if (!r.is_ok()) return Status::fatal("recorded entry does not normalize: " + r.status().message());
      b.records.push_back(std::move(r.value()));
    }
    ++b.pages;
  }
  b.cursor = {{"page", next_}};
  return std::optional<Batch>(std::move(b));
}

Result<std::unique_ptr<Source>> BenchStreamConfig::build(const SourceContext&) const {
  return Status::fatal("benchmarks build their source themselves");
}

}  // namespace ldx::bench
