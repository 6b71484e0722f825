#include "rate_limiter.h"

#include <algorithm>

namespace ldsim {

RateLimiter::RateLimiter(std::int64_t limit, std::uint64_t seed)
    : limit_(limit), rng_(derive_seed(seed, 0x7a7e)) {}

RateDecision RateLimiter::admit(const std::string& route, std::int64_t now_ms) {
  RateDecision d;
  const std::int64_t limit = limit_.load();
  if (limit <= 0) return d;
  d.enabled = true;

  std::lock_guard<std::mutex> lock(mu_);
  const std::int64_t start = now_ms - (now_ms % kWindowMs);
  if (start != window_start_) {
    window_start_ = start;
    global_count_ = 0;
    route_counts_.clear();
  }
  d.reset_ms = window_start_ + kWindowMs;
  std::int64_t& route_count = route_counts_[route];

  if (global_count_ >= limit || route_count >= limit) {
    d.allowed = false;
    // About half of the 429s say Retry-After; of the rest, half still carry the reset
    // time and half carry neither (the client must fall back to its own backoff).
    switch (rng_.range(0, 3)) {
      case 0:
      case 1: {
        const std::int64_t wait_ms = d.reset_ms - now_ms;
        d.retry_after_s = std::max<std::int64_t>(1, (wait_ms + 999) / 1000);
        break;
      }
      case 2:
        break;
      default:
        d.send_reset = false;
        break;
    }
  } else {
    ++global_count_;
    ++route_count;
  }
  d.global_remaining = std::max<std::int64_t>(0, limit - global_count_);
  d.route_remaining = std::max<std::int64_t>(0, limit - route_count);
  return d;
}

void apply_rate_headers(const RateDecision& d, httplib::Response& res) {
  if (!d.enabled) return;
  res.set_header("X-Ratelimit-Global-Remaining", std::to_string(d.global_remaining));
  res.set_header("X-Ratelimit-Route-Remaining", std::to_string(d.route_remaining));
  if (d.send_reset) res.set_header("X-Ratelimit-Reset", std::to_string(d.reset_ms));
  if (d.retry_after_s) res.set_header("Retry-After", std::to_string(*d.retry_after_s));
}

}  // namespace ldsim
