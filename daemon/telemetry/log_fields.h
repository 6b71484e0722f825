// Structured fields of log lines (README "Logs"): the stream, sink, request path and
// HTTP status a line is about. Each thread has its own set. A LogScope sets fields for
// its lifetime and then restores what was there, so nested scopes compose (a stream's
// thread, then a sink it writes to). The JSON formatter writes every set field beside
// time, level and msg; text lines name them in their message already.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ldx {

enum class LogField : uint8_t { kStream, kSink, kPath, kStatus };
inline constexpr size_t kLogFieldCount = 4;
// The JSON member names: "stream", "sink", "path", "status".
const char* log_field_name(LogField f);

// This thread's fields, indexed by LogField; an empty string is not set.
const std::array<std::string, kLogFieldCount>& log_fields();

class LogScope {
 public:
  LogScope(LogField f, std::string_view value);
  // What an error is about: the request it came from (Status::request_path(),
  // http_status()) and the stream and sink (Status::stream(), sink()); sets each field
  // the error names, nothing otherwise.
  explicit LogScope(const Status& st);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;
  LogScope(LogScope&&) = delete;
  LogScope& operator=(LogScope&&) = delete;

 private:
  void set(LogField f, std::string_view value);
  // What each field held before this scope; restored by the destructor.
  std::array<std::string, kLogFieldCount> saved_;
  std::array<bool, kLogFieldCount> touched_{};
};

}  // namespace ldx
