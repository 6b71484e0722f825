#include "http/rate_limit_budget.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace ldx {

namespace {
std::optional<int64_t> parse_int(const HeaderMap& h, const char* name) {
  auto it = h.find(name);
  if (it == h.end()) return std::nullopt;
  const std::string& s = it->second;
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str() + b, &end, 10);
  if (end == s.c_str() + b || errno != 0) return std::nullopt;
  while (*end == ' ' || *end == '\t') ++end;
  if (*end != '\0') return std::nullopt;
  return std::max<long long>(v, 0);
}
}  // namespace

RateLimitHeaders parse_rate_limit_headers(const HeaderMap& h) {
  RateLimitHeaders r;
  r.global_remaining = parse_int(h, "x-ratelimit-global-remaining");
  r.route_remaining = parse_int(h, "x-ratelimit-route-remaining");
  r.reset_ms = parse_int(h, "x-ratelimit-reset");
  if (auto it = h.find("retry-after"); it != h.end()) {
    // Seconds (RFC 9110 also allows an HTTP date; LaunchDarkly sends seconds).
    char* end = nullptr;
    double v = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && std::isfinite(v)) r.retry_after_s = std::clamp(v, 0.0, 3600.0);
  }
  return r;
}

RateLimitBudget::RateLimitBudget(int64_t reserve, Clock now) : reserve_(reserve), now_(std::move(now)) {}

int64_t RateLimitBudget::ready_at(Window& w, int64_t t) const {
  if (!w.remaining) return t;
  if (w.reset_ms <= t) {  // the window has passed: its count no longer applies
    w.remaining.reset();
    return t;
  }
  if (*w.remaining <= reserve_) return w.reset_ms;  // hold back the reserve until reset
  return t;
}

Millis RateLimitBudget::reserve(const std::string& route) {
  std::lock_guard lock(mu_);
  const int64_t now = now_();
  int64_t t = std::max(now, blocked_until_ms_);
  Window& rw = routes_[route];
  // A wait can move us into the next window; re-check both until stable (at most twice).
  for (int i = 0; i < 3; ++i) {
    int64_t t2 = std::max(ready_at(global_, t), ready_at(rw, t));
    if (t2 == t) break;
    t = t2;
  }
  if (global_.remaining && *global_.remaining > 0) --*global_.remaining;
  if (rw.remaining && *rw.remaining > 0) --*rw.remaining;
  if (blocked_until_ms_ > now && t == blocked_until_ms_) {
    // Held back by a 429: spread the streams' next requests out.
    const int64_t most = std::min(kMax429JitterMs, (blocked_until_ms_ - now) / 5);
    if (most > 0) t += std::uniform_int_distribution<int64_t>(0, most)(rng_);
  }
  return Millis(t - now);
}

void RateLimitBudget::apply(Window& w, std::optional<int64_t> remaining, std::optional<int64_t> reset_ms,
                            int64_t now) {
  if (!remaining) return;
  w.remaining = remaining;
  // No reset header: assume LaunchDarkly's 10 s window from now.
  w.reset_ms = reset_ms && *reset_ms > now ? *reset_ms : now + 10'000;
}

void RateLimitBudget::on_response(const std::string& route, long status, const RateLimitHeaders& h) {
  std::lock_guard lock(mu_);
  const int64_t now = now_();
  apply(global_, h.global_remaining, h.reset_ms, now);
  apply(routes_[route], h.route_remaining, h.reset_ms, now);
  last_route_ = route;
  if (status != 429) {
    consecutive_429_ = 0;
    return;
  }
  ++throttled_429_;
  int64_t until = now + kDefault429WaitMs;
  if (h.retry_after_s) {
    until = now + static_cast<int64_t>(std::ceil(*h.retry_after_s * 1000.0));
  } else if (h.reset_ms && *h.reset_ms > now) {
    until = *h.reset_ms;
  }
  // Backoff: a Retry-After of 0 (or a reset already past) must not become a tight loop.
  const int doublings = std::min(consecutive_429_++, 6);
  until = std::max(until, now + std::min(kMax429BackoffMs, kFirst429BackoffMs << doublings));
  blocked_until_ms_ = std::max(blocked_until_ms_, until);
}

RateLimitBudget::Snapshot RateLimitBudget::snapshot() const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.global_remaining = global_.remaining;
  if (auto it = routes_.find(last_route_); it != routes_.end()) s.route_remaining = it->second.remaining;
  s.throttled_429 = throttled_429_;
  return s;
}

}  // namespace ldx
