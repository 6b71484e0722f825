// One rate-limit budget shared by every stream (ARCHITECTURE §2): all HTTP goes
// through it, so streams share LaunchDarkly's account-wide limit fairly.
//
// LaunchDarkly (API-NOTES §0) reports a global and a per-route budget for a 10 s
// window: X-Ratelimit-Global-Remaining, X-Ratelimit-Route-Remaining, and
// X-Ratelimit-Reset (epoch ms); IP limits answer 429 with Retry-After (seconds).
// Unlimited routes may send no headers at all.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "core/time_util.h"

namespace ldx {

using HeaderMap = std::map<std::string, std::string>;  // names lower-cased

struct RateLimitHeaders {
  std::optional<int64_t> global_remaining;
  std::optional<int64_t> route_remaining;
  std::optional<int64_t> reset_ms;
  std::optional<double> retry_after_s;
};

// Lenient: a malformed value is ignored, never an error (a bad header must not stop
// an export); negative values clamp to 0.
RateLimitHeaders parse_rate_limit_headers(const HeaderMap& headers);

class RateLimitBudget {
 public:
  using Clock = std::function<int64_t()>;
  // `reserve`: requests kept back in each window so we slow down before reaching zero.
  explicit RateLimitBudget(int64_t reserve = 1, Clock now = wall_now_ms);

  // Reserves one request on `route` and returns how long to wait before sending it.
  Millis reserve(const std::string& route);
  // Feeds a response back. A 429 blocks every stream until Retry-After, the reset
  // time, or 10 s when the 429 says neither; and at least 1 s, doubling with each 429
  // in a row up to 60 s (API-NOTES §0: "wait at least that long, with jitter and
  // backoff"). Each stream then waits up to a fifth more (at most 1 s) at random, so
  // they do not all send again in the same millisecond.
  void on_response(const std::string& route, long status, const RateLimitHeaders& headers);

  struct Snapshot {
    std::optional<int64_t> global_remaining;
    std::optional<int64_t> route_remaining;  // of the route seen last
    uint64_t throttled_429 = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;

  static constexpr int64_t kDefault429WaitMs = 10'000;
  static constexpr int64_t kFirst429BackoffMs = 1'000;
  static constexpr int64_t kMax429BackoffMs = 60'000;
  static constexpr int64_t kMax429JitterMs = 1'000;

 private:
  struct Window {
    std::optional<int64_t> remaining;
    int64_t reset_ms = 0;
  };
  void apply(Window& w, std::optional<int64_t> remaining, std::optional<int64_t> reset_ms, int64_t now);
  int64_t ready_at(Window& w, int64_t t) const;

  mutable std::mutex mu_;
  int64_t reserve_;
  Clock now_;
  Window global_;
  std::map<std::string, Window> routes_;
  std::string last_route_;
  int64_t blocked_until_ms_ = 0;
  uint64_t throttled_429_ = 0;
  int consecutive_429_ = 0;  // 429s since the last other answer
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace ldx
