#include "telemetry/log_fields.h"

namespace ldx {

namespace {
thread_local std::array<std::string, kLogFieldCount> t_fields;
}  // namespace

const char* log_field_name(LogField f) {
  switch (f) {
    case LogField::kStream: return "stream";
    case LogField::kSink: return "sink";
    case LogField::kPath: return "path";
    case LogField::kStatus: return "status";
  }
  return "field";
}

const std::array<std::string, kLogFieldCount>& log_fields() { return t_fields; }

LogScope::LogScope(LogField f, std::string_view value) { set(f, value); }

LogScope::LogScope(const Status& st) {
  if (!st.stream().empty()) set(LogField::kStream, st.stream());
  if (!st.sink().empty()) set(LogField::kSink, st.sink());
  if (!st.request_path().empty()) set(LogField::kPath, st.request_path());
  if (st.http_status() > 0) set(LogField::kStatus, std::to_string(st.http_status()));
}

void LogScope::set(LogField f, std::string_view value) {
  const auto i = static_cast<size_t>(f);
  if (!touched_[i]) {
    saved_[i] = t_fields[i];
    touched_[i] = true;
  }
  t_fields[i].assign(value);
}

LogScope::~LogScope() {
  for (size_t i = 0; i < kLogFieldCount; ++i) {
    if (touched_[i]) t_fields[i] = std::move(saved_[i]);
  }
}

}  // namespace ldx
