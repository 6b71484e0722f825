// LaunchDarkly-style rate limiting: N requests per fixed 10 s window, counted globally
// and per route (method + path pattern), every route with the same N.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "rng.h"

namespace ldsim {

struct RateDecision {
  bool enabled = false;  // false: unlimited, send no rate-limit headers
  bool allowed = true;
  std::int64_t global_remaining = 0;
  std::int64_t route_remaining = 0;
  std::int64_t reset_ms = 0;      // epoch ms at which the current window ends
  bool send_reset = true;         // some 429s carry no X-Ratelimit-Reset
  std::optional<std::int64_t> retry_after_s;  // only on some 429s
};

class RateLimiter {
 public:
  static constexpr std::int64_t kWindowMs = 10000;

  // limit <= 0 disables limiting (and the headers).
  RateLimiter(std::int64_t limit, std::uint64_t seed);

  // Counts the request if it is admitted; rejected requests do not use up budget.
  RateDecision admit(const std::string& route, std::int64_t now_ms);

  std::int64_t limit() const { return limit_.load(); }
  // Changes N at once (POST /_sim/rate-limit); the current window's counts are kept.
  void set_limit(std::int64_t limit) { limit_.store(limit); }

 private:
  std::atomic<std::int64_t> limit_;
  std::mutex mu_;
  std::int64_t window_start_ = -1;
  std::int64_t global_count_ = 0;
  std::map<std::string, std::int64_t> route_counts_;
  Rng rng_;  // decides which 429s carry Retry-After / Reset
};

// X-Ratelimit-* and Retry-After headers for a decision (nothing when disabled).
void apply_rate_headers(const RateDecision& d, httplib::Response& res);

}  // namespace ldsim
