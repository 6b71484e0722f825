#include "http/rate_limit_budget.h"

#include <gtest/gtest.h>

#include <set>

namespace ldx {
namespace {

struct FakeClock {
  int64_t now = 1'000'000;
  RateLimitBudget::Clock fn() {
    return [this] { return now; };
  }
};

TEST(RateLimitHeaders, ParsesLaunchDarklyHeaders) {
  auto h = parse_rate_limit_headers({{"x-ratelimit-global-remaining", "57"},
                                     {"x-ratelimit-route-remaining", "3"},
                                     {"x-ratelimit-reset", "1764000010000"},
                                     {"retry-after", "7"}});
  EXPECT_EQ(h.global_remaining, 57);
  EXPECT_EQ(h.route_remaining, 3);
  EXPECT_EQ(h.reset_ms, 1764000010000);
  EXPECT_DOUBLE_EQ(*h.retry_after_s, 7.0);
}

TEST(RateLimitHeaders, MalformedValuesAreIgnoredNotFatal) {
  auto h = parse_rate_limit_headers({{"x-ratelimit-global-remaining", "lots"},
                                     {"x-ratelimit-route-remaining", "-4"},
                                     {"x-ratelimit-reset", "12abc"},
                                     {"retry-after", "soon"}});
  EXPECT_FALSE(h.global_remaining);
  EXPECT_EQ(h.route_remaining, 0);  // negative clamps to zero
  EXPECT_FALSE(h.reset_ms);
  EXPECT_FALSE(h.retry_after_s);
  EXPECT_FALSE(parse_rate_limit_headers({}).global_remaining);
}

TEST(RateLimitBudget, NoHeadersMeansNoWaiting) {
  FakeClock clock;
  RateLimitBudget b(1, clock.fn());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.reserve("r").count(), 0);
}

TEST(RateLimitBudget, SlowsDownBeforeReachingZero) {
  FakeClock clock;
  RateLimitBudget b(1, clock.fn());
  RateLimitHeaders h;
  h.global_remaining = 3;
  h.route_remaining = 10;
  h.reset_ms = clock.now + 4000;
  b.on_response("r", 200, h);
  EXPECT_EQ(b.reserve("r").count(), 0);  // 3 -> 2
  EXPECT_EQ(b.reserve("r").count(), 0);  // 2 -> 1
  // One request is held in reserve: wait for the window to reset.
  EXPECT_EQ(b.reserve("r").count(), 4000);
}

TEST(RateLimitBudget, RouteBudgetIsPerRoute) {
  FakeClock clock;
  RateLimitBudget b(1, clock.fn());
  RateLimitHeaders h;
  h.route_remaining = 1;
  h.reset_ms = clock.now + 2500;
  b.on_response("GET auditlog", 200, h);
  EXPECT_EQ(b.reserve("GET auditlog").count(), 2500);
  EXPECT_EQ(b.reserve("GET flags").count(), 0);
}

TEST(RateLimitBudget, ExpiredWindowIsForgotten) {
  FakeClock clock;
  RateLimitBudget b(1, clock.fn());
  RateLimitHeaders h;
  h.global_remaining = 0;
  h.reset_ms = clock.now + 1000;
  b.on_response("r", 200, h);
  clock.now += 1500;
  EXPECT_EQ(b.reserve("r").count(), 0);
}

TEST(RateLimitBudget, Status429WaitsRetryAfterForEveryStream) {
  FakeClock clock;
  RateLimitBudget b(1, clock.fn());
  RateLimitHeaders h;
  h.retry_after_s = 3;
  b.on_response("a", 429, h);
  for (const char* route : {"a", "b"}) {  // shared: all streams back off
    const auto wait = b.reserve(route).count();
    EXPECT_GE(wait, 3000);
    EXPECT_LE(wait, 3000 + 600);  // plus at most a fifth, at random
  }
  EXPECT_EQ(b.snapshot().throttled_429, 1u);
}

// API-NOTES §0: wait as told, "with jitter and backoff". Streams held back by one 429
// do not all wake in the same millisecond, and 429s in a row wait longer and longer
// even when Retry-After says 0.
TEST(RateLimitBudget, Status429WaitsAreJitteredAndBackOff) {
  FakeClock clock;
  RateLimitBudget b(1, clock.fn());
  RateLimitHeaders zero;
  zero.retry_after_s = 0;
  int64_t previous_floor = 0;
  for (int n = 0; n < 8; ++n) {
    b.on_response("a", 429, zero);
    const int64_t floor = std::min<int64_t>(60'000, int64_t{1000} << std::min(n, 6));
    EXPECT_GE(floor, previous_floor);
    std::set<int64_t> waits;
    for (int k = 0; k < 20; ++k) {
      const int64_t w = b.reserve("a").count();
      EXPECT_GE(w, floor) << "429 number " << n + 1;
      EXPECT_LE(w, floor + std::min<int64_t>(1000, floor / 5)) << "429 number " << n + 1;
      waits.insert(w);
    }
    EXPECT_GT(waits.size(), 1u) << "every stream would send again in the same millisecond";
    clock.now += floor + 1000;  // past the block
    previous_floor = floor;
  }
  b.on_response("a", 200, {});  // an answer that is not a 429 ends the run
  b.on_response("a", 429, zero);
  EXPECT_LE(b.reserve("a").count(), 1000 + 200);
}

TEST(RateLimitBudget, Status429WithResetOnlyWaitsUntilReset) {
  FakeClock clock;
  RateLimitBudget b(1, clock.fn());
  RateLimitHeaders h;
  h.reset_ms = clock.now + 6500;
  b.on_response("a", 429, h);
  const auto wait = b.reserve("a").count();
  EXPECT_GE(wait, 6500);
  EXPECT_LE(wait, 6500 + 1000);
}

TEST(RateLimitBudget, Status429WithoutHeadersWaitsTenSeconds) {
  FakeClock clock;
  RateLimitBudget b(1, clock.fn());
  b.on_response("a", 429, {});
  const auto wait = b.reserve("a").count();
  EXPECT_GE(wait, 10'000);
  EXPECT_LE(wait, 11'000);
  clock.now += 10'000;
  EXPECT_EQ(b.reserve("a").count(), 0);
}

}  // namespace
}  // namespace ldx
