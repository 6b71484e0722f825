// The one way ldexport talks to LaunchDarkly: libcurl with connection reuse, timeouts,
// TLS verification, compressed responses, the API version header, the shared
// rate-limit budget, and retries with exponential backoff and full jitter.
//
// Error mapping (STYLE.md "Errors"): network errors, timeouts, truncated bodies, 5xx
// and 429 are retried here, holding the caller's cursor; when retries run out the
// caller gets Retryable. 401/403 are Fatal. Other statuses are returned to the caller.
// The token is sent in a header only; it never appears in a message.
#pragma once

#include <atomic>
#include <memory>
#include <random>
#include <string>

#include "config/config.h"
#include "core/status.h"
#include "core/stop_signal.h"
#include "http/rate_limit_budget.h"

namespace ldx {

struct HttpResponse {
  long status = 0;
  std::string body;
  HeaderMap headers;
};

// Counters shared by all clients of one run (progress line, summary, metrics).
struct HttpStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> throttled_429{0};
  std::atomic<uint64_t> rate_limit_waits{0};
  std::atomic<uint64_t> rate_limit_wait_ms{0};
  std::atomic<uint64_t> status_2xx{0}, status_4xx{0}, status_5xx{0}, transport_errors{0};
};

class HttpClient {
 public:
  HttpClient(const LaunchDarklyConfig& cfg, RateLimitBudget& budget, HttpStats& stats, StopSignal& stop);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target`: a path with query ("/api/v2/auditlog?limit=20") or a `_links` href, which
  // is relative to the base URL. `route` names the rate-limit route ("GET auditlog").
  Result<HttpResponse> get(const std::string& target, const std::string& route);
  Result<HttpResponse> post_json(const std::string& target, const std::string& body, const std::string& route);

  [[nodiscard]] uint64_t requests() const { return requests_; }
  void reset_request_count() { requests_ = 0; }

 private:
  Result<HttpResponse> send(const char* method, const std::string& target, const std::string* body,
                            const std::string& route);
  Status perform_once(const char* method, const std::string& url, const std::string* body, HttpResponse& out);
  Result<std::string> url_for(const std::string& target) const;

  struct CurlDeleter {
    void operator()(void* h) const;
  };
  const LaunchDarklyConfig& cfg_;
  RateLimitBudget& budget_;
  HttpStats& stats_;
  StopSignal& stop_;
  std::unique_ptr<void, CurlDeleter> curl_;
  std::mt19937_64 rng_;
  uint64_t requests_ = 0;
};

class HttpClientFactory {
 public:
  HttpClientFactory(const LaunchDarklyConfig& cfg, StopSignal& stop);
  std::unique_ptr<HttpClient> make() { return std::make_unique<HttpClient>(cfg_, budget_, stats_, stop_); }
  RateLimitBudget& budget() { return budget_; }
  HttpStats& stats() { return stats_; }

 private:
  const LaunchDarklyConfig& cfg_;
  StopSignal& stop_;
  RateLimitBudget budget_;
  HttpStats stats_;
};

}  // namespace ldx
