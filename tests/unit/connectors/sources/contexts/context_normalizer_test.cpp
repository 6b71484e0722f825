#include "sources/contexts/context_normalizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ldx {
namespace {

Result<ContextEntity> norm(const std::string& json) {
  static simdjson::dom::parser p;
  return normalize_context(p.parse(json), "p", "e", SecretPolicy{}, 0);
}

TEST(ContextNormalizer, IdentityIsKindKeyAndApplicationId) {
  auto a = norm(R"({"context":{"kind":"user","key":"u1"},"lastSeen":"2025-01-01T00:00:00Z"})");
  auto b = norm(R"({"context":{"kind":"user","key":"u1"},"applicationId":"ios/2.0","lastSeen":"2025-01-01T00:00:00Z"})");
  auto c = norm(R"({"context":{"kind":"org","key":"u1"},"lastSeen":"2025-01-01T00:00:00Z"})");
  ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
  EXPECT_EQ(a->record.id, "p/e/user/u1");
  EXPECT_EQ(b->record.id, "p/e/user/u1/ios/2.0");
  EXPECT_EQ(c->record.id, "p/e/org/u1");
}

TEST(ContextNormalizer, MultiContextGetsItsCanonicalKey) {
  auto m = norm(R"({"context":{"kind":"multi","user":{"key":"a:b"},"org":{"key":"x%y"}},"lastSeen":"2025-01-01T00:00:00Z"})");
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ(m->record.id, "p/e/multi/org:x%25y:user:a%3Ab");
  EXPECT_EQ(m->record.kind, "multi");
}

TEST(ContextNormalizer, ContextAsAJsonEncodedStringAsInTheSpecExample) {
  auto s = norm(R"({"context":"{\"kind\":\"user\",\"key\":\"k\"}","lastSeen":"2025-01-01T00:00:00Z"})");
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->record.id, "p/e/user/k");
  EXPECT_TRUE(nlohmann::json::parse(s->record.envelope)["data"]["context"].is_string());  // kept as received
}

TEST(ContextNormalizer, UnreadableRecordsAreDataErrors) {
  for (const char* bad : {R"({"lastSeen":"2025-01-01T00:00:00Z"})", R"({"context":{"kind":"user"},"lastSeen":"x"})",
                          R"({"context":{"kind":"user","key":"k"}})", R"({"context":{"kind":"user","key":"k"},"lastSeen":"nope"})",
                          R"({"context":{"kind":"multi"},"lastSeen":"2025-01-01T00:00:00Z"})"}) {
    auto r = norm(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().error_class(), ErrorClass::kDataError) << bad;
  }
}

TEST(ParseRfc3339Ns, NanosecondsAndCoarserForms) {
  EXPECT_EQ(parse_rfc3339_ns("2022-04-15T15:00:57.526470334Z"), 1650034857526470334LL);
  EXPECT_EQ(parse_rfc3339_ns("2022-04-15T15:00:57Z"), 1650034857000000000LL);
  EXPECT_EQ(parse_rfc3339_ns("2022-04-15T15:00:57.5Z"), 1650034857500000000LL);
  EXPECT_EQ(parse_rfc3339_ns("2022-04-15T17:00:57.000000001+02:00"), 1650034857000000001LL);
  EXPECT_FALSE(parse_rfc3339_ns("2022-04-15"));
  EXPECT_FALSE(parse_rfc3339_ns("2022-04-15T15:00:57.Z"));
}

}  // namespace
}  // namespace ldx
