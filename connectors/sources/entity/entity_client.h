// The entity streams' view of the LaunchDarkly API: one call in, one classified answer
// out. Retries, backoff, the shared rate-limit budget and 401/403 (fatal) belong to the
// HttpClient underneath; here a 200 is parsed, and the statuses whose meaning depends on
// the caller (404: the thing is gone; 400: e.g. an expired continuation token) come back
// as answers. Any other status is an error with its reaction (STYLE.md "Errors").
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/http_client.h"

namespace ldx {

struct ApiCall {
  std::string method = "GET";  // GET, or POST with a JSON body
  std::string target;          // path and query, relative to the base URL
  std::string route;           // the rate-limit route, e.g. "GET /api/v2/flags/{projectKey}"
  std::string body;            // POST only
  [[nodiscard]] std::string describe() const { return method + " " + target; }
};

struct ApiAnswer {
  long status = 0;             // 200, 400 or 404
  simdjson::dom::element doc;  // the parsed body when status == 200; valid until the next call
  std::string message;         // the API's error message ({code, message}) otherwise
  size_t body_bytes = 0;       // size of the response body, for batching (entity_source.h)
  // The body held numbers simdjson cannot represent, rewritten into marked strings
  // (common/big_numbers.h): what carries one is dead-lettered by EntitySource.
  bool rewritten_numbers = false;
};

class EntityClient {
 public:
  explicit EntityClient(std::unique_ptr<HttpClient> http) : http_(std::move(http)) {}
  // 200 -> parsed (a body that is not JSON, e.g. truncated, is retryable); 400, 404 ->
  // answered; 409 (optimistic locking) and 425/408 -> retryable; other 4xx -> fatal.
  Result<ApiAnswer> call(const ApiCall& c);
  [[nodiscard]] uint64_t requests() const { return http_->requests(); }
  void reset_requests() { http_->reset_request_count(); }

 private:
  std::unique_ptr<HttpClient> http_;
  simdjson::dom::parser parser_;
};

// Percent-encodes everything but RFC 3986 unreserved characters (path segments, query values).
std::string url_escape(std::string_view s);
// "HTTP 400: <message>" for logs and errors; never echoes request headers.
std::string describe_api_error(long status, const std::string& message);

}  // namespace ldx
