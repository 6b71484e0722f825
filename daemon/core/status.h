// Status and Result: the error model of the data path (STYLE.md "Errors").
// Every error in ldexport maps to exactly one reaction:
//   Retryable  - back off and try again, holding the cursor (network, 5xx, 429, sink down)
//   DataError  - one record cannot be read: dead-letter it with the reason, go on
//   Fatal      - stop the stream (or the daemon) loudly: 401/403, bad config, schema mismatch
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ldx {

enum class ErrorClass { kOk, kRetryable, kDataError, kFatal };

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return {}; }
  static Status retryable(std::string msg) { return {ErrorClass::kRetryable, std::move(msg)}; }
  static Status data_error(std::string msg) { return {ErrorClass::kDataError, std::move(msg)}; }
  static Status fatal(std::string msg) { return {ErrorClass::kFatal, std::move(msg)}; }

  [[nodiscard]] bool is_ok() const { return cls_ == ErrorClass::kOk; }
  [[nodiscard]] ErrorClass error_class() const { return cls_; }
  [[nodiscard]] bool is_retryable() const { return cls_ == ErrorClass::kRetryable; }
  [[nodiscard]] bool is_fatal() const { return cls_ == ErrorClass::kFatal; }
  [[nodiscard]] const std::string& message() const { return msg_; }
  // Prefixes context ("sink archive: ") while keeping the class, the request and the
  // stream and sink.
  [[nodiscard]] Status with_context(const std::string& ctx) const {
    Status s = *this;
    s.msg_ = ctx + msg_;
    return s;
  }
  // The LaunchDarkly request an error came from, for the log line that reports it
  // (telemetry/log_fields.h): path and query, and the HTTP status (0: no answer).
  [[nodiscard]] Status with_request(std::string path, long http_status) const {
    Status s = *this;
    s.request_path_ = std::move(path);
    s.http_status_ = http_status;
    return s;
  }
  [[nodiscard]] const std::string& request_path() const { return request_path_; }
  [[nodiscard]] long http_status() const { return http_status_; }
  // The configured stream and sink an error is about, for the log line that reports it
  // (the `stream` and `sink` fields): set where the failing one is known, empty if none.
  [[nodiscard]] Status with_stream(std::string stream) const {
    Status s = *this;
    s.stream_ = std::move(stream);
    return s;
  }
  [[nodiscard]] Status with_sink(std::string sink) const {
    Status s = *this;
    s.sink_ = std::move(sink);
    return s;
  }
  [[nodiscard]] const std::string& stream() const { return stream_; }
  [[nodiscard]] const std::string& sink() const { return sink_; }
  [[nodiscard]] std::string describe() const;

 private:
  Status(ErrorClass c, std::string m) : cls_(c), msg_(std::move(m)) {}
  ErrorClass cls_ = ErrorClass::kOk;
  std::string msg_;
  std::string request_path_;
  long http_status_ = 0;
  std::string stream_;
  std::string sink_;
};

const char* error_class_name(ErrorClass c);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status s) : v_(std::move(s)) {}      // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool is_ok() const { return std::holds_alternative<T>(v_); }
  [[nodiscard]] const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ldx
