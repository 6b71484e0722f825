#include "core/time_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <vector>

namespace ldx {

TEST(Duration, ParsesUnitsAndCompounds) {
  EXPECT_EQ(parse_duration("500ms")->count(), 500);
  EXPECT_EQ(parse_duration("30s")->count(), 30'000);
  EXPECT_EQ(parse_duration("2m")->count(), 120'000);
  EXPECT_EQ(parse_duration("1h30m")->count(), 5'400'000);
  EXPECT_EQ(parse_duration("7d")->count(), 7 * 86'400'000LL);
  EXPECT_EQ(parse_duration("7y")->count(), 7 * 365 * 86'400'000LL);
}

TEST(Duration, RejectsGarbage) {
  for (const char* bad : {"", "s", "10", "10 s", "-5s", "5x", "1.5s", "5s5"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(Duration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("0s")->count(), 0);
  EXPECT_EQ(parse_duration("1w")->count(), 7 * 86'400'000LL);
  EXPECT_EQ(parse_duration("1y2w3d4h5m6s7ms")->count(),
            365 * 86'400'000LL + 14 * 86'400'000LL + 3 * 86'400'000LL + 4 * 3'600'000LL + 5 * 60'000 + 6'000 + 7);
}

TEST(Duration, OverflowIsTooLongNotWrapped) {
  bool too_long = false;
  EXPECT_EQ(parse_duration("100y", &too_long), kMaxDuration);
  EXPECT_FALSE(too_long);
  EXPECT_EQ(parse_duration("36500d", &too_long), kMaxDuration);
  // Each of these wrapped around (or came out small) before.
  for (const char* big : {"1000000000y", "101y", "100y1ms", "36501d", "99999999999999999999s",
                          "9223372036854775807ms", "1000000000y1000000000y", "5000000000000w"}) {
    too_long = false;
    EXPECT_FALSE(parse_duration(big, &too_long).has_value()) << big;
    EXPECT_TRUE(too_long) << big;
  }
  // A syntax error is not "too long", even after a huge number.
  too_long = true;
  EXPECT_FALSE(parse_duration("99999999999999999999x", &too_long).has_value());
  EXPECT_FALSE(too_long);
  too_long = true;
  EXPECT_FALSE(parse_duration("1000000000y5", &too_long).has_value());
  EXPECT_FALSE(too_long);
  // Without the out-parameter, too long is still no value.
  EXPECT_FALSE(parse_duration("1000000000y").has_value());
}

TEST(Rfc3339, ParsesZuluFractionsAndOffsets) {
  EXPECT_EQ(*parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parse_rfc3339_ms("2025-01-01T00:00:00Z"), 1735689600000);
  EXPECT_EQ(*parse_rfc3339_ms("2025-01-01T00:00:00.5Z"), 1735689600500);
  // Contexts' lastSeen carries nanoseconds (API-NOTES §3): truncated to ms.
  EXPECT_EQ(*parse_rfc3339_ms("2022-04-15T15:00:57.526470334Z"), 1650034857526);
  EXPECT_EQ(*parse_rfc3339_ms("2025-01-01T02:00:00+02:00"), 1735689600000);
}

TEST(Rfc3339, RejectsMalformed) {
  for (const char* bad : {"2025-01-01", "2025-13-01T00:00:00Z", "2025-01-01T00:00:00", "yesterday",
                          "2025-01-01T00:00:00Zjunk", "2025-01-01T25:00:00Z"}) {
    EXPECT_FALSE(parse_rfc3339_ms(bad).has_value()) << bad;
  }
}

TEST(Rfc3339, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(format_rfc3339_ms(1735689600113), "2025-01-01T00:00:00.113Z");
  EXPECT_EQ(*parse_rfc3339_ms(format_rfc3339_ms(1764000000123)), 1764000000123);
}

}  // namespace ldx

namespace ldx {
namespace {

std::string reference_rfc3339_ms(int64_t epoch_ms) {
  const std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(epoch_ms % 1000));
  return buf;
}

TEST(TimeUtil, FormatAgreesWithTheCalendarAcrossLeapYearsAndCenturies) {
  // 1970-01-01, 2000-02-29 (a leap century), 2100-03-01 (not one), the last millisecond
  // of 9999, and a spread of instants in between.
  std::vector<int64_t> at{0, 951782400000, 951868799999, 4107542400000, 253402300799999, 1735689600113};
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    at.push_back(static_cast<int64_t>(x % 253402300800000ULL));
  }
  for (int64_t ms : at) ASSERT_EQ(format_rfc3339_ms(ms), reference_rfc3339_ms(ms)) << ms;
}

TEST(TimeUtil, AppendKeepsWhatIsThereAndEqualsFormat) {
  std::vector<int64_t> at{0,
                          1,
                          999,
                          1000,
                          1735689600113,
                          253402300799999,  // the last millisecond of 9999
                          253402300800000,  // 10000-01-01: past the hand-written digits
                          253402300800001,
                          400000000000000,
                          -1,
                          -999,
                          -1000,
                          -1001,
                          -86400000,
                          -62135596800000,  // 0001-01-01
                          -62135596800001};
  for (int64_t ms = -5'000'000'000'000; ms < 300'000'000'000'000; ms += 7'777'777'777'777) at.push_back(ms);
  for (int64_t ms : at) {
    std::string out = "{\"t\":";
    append_rfc3339_ms(out, ms);
    ASSERT_EQ(out, "{\"t\":" + format_rfc3339_ms(ms)) << ms;
    std::string quoted = "x";
    append_json_timestamp(quoted, ms);
    ASSERT_EQ(quoted, "x\"" + format_rfc3339_ms(ms) + "\"") << ms;
  }
}

TEST(TimeUtil, FormatsInstantsBefore1970AndAfter9999) {
  // Milliseconds count forward from the second before, also before the epoch.
  EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(-1000), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(format_rfc3339_ms(-1001), "1969-12-31T23:59:58.999Z");
  EXPECT_EQ(format_rfc3339_ms(-62135596800000), "0001-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(253402300800000), "10000-01-01T00:00:00.000Z");
  std::string out = "at ";
  append_json_timestamp(out, 253402300800001);
  EXPECT_EQ(out, "at \"10000-01-01T00:00:00.001Z\"");
}

}  // namespace
}  // namespace ldx
