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

// Keys are arbitrary strings: user "a/b" without an application and user "a" of
// application "b" are two contexts, and a Postgres upsert or a compacted Kafka topic
// keeps only one record per id.
TEST(ContextNormalizer, KeysWithSlashOrPercentCannotCollide) {
  auto slash = norm(R"({"context":{"kind":"user","key":"a/b"},"lastSeen":"2025-01-01T00:00:00Z"})");
  auto app = norm(R"({"context":{"kind":"user","key":"a"},"applicationId":"b","lastSeen":"2025-01-01T00:00:00Z"})");
  auto escaped = norm(R"({"context":{"kind":"user","key":"a%2Fb"},"lastSeen":"2025-01-01T00:00:00Z"})");
  auto both = norm(R"({"context":{"kind":"user","key":"a/b"},"applicationId":"c/d","lastSeen":"2025-01-01T00:00:00Z"})");
  auto other = norm(R"({"context":{"kind":"user","key":"a/b/c"},"applicationId":"d","lastSeen":"2025-01-01T00:00:00Z"})");
  ASSERT_TRUE(slash.is_ok() && app.is_ok() && escaped.is_ok() && both.is_ok() && other.is_ok());
  EXPECT_NE(slash->record.id, app->record.id);
  EXPECT_NE(slash->record.id, escaped->record.id);
  EXPECT_NE(both->record.id, other->record.id);
  EXPECT_EQ(slash->record.id, "p/e/user/a%2Fb");
  EXPECT_EQ(app->record.id, "p/e/user/a/b");
  EXPECT_EQ(escaped->record.id, "p/e/user/a%252Fb");
  EXPECT_EQ(both->record.id, "p/e/user/a%2Fb/c/d");  // the applicationId, the last part, as is
  // Ordinary keys (':' and '.' included) keep the id archives already hold.
  auto plain = norm(R"({"context":{"kind":"user","key":"user-1:x.y@z"},"applicationId":"GoSDK/1.2","lastSeen":"2025-01-01T00:00:00Z"})");
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain->record.id, "p/e/user/user-1:x.y@z/GoSDK/1.2");
  // A multi-context member key with '/' is escaped in the canonical key too.
  auto m1 = norm(R"({"context":{"kind":"multi","user":{"key":"a/b"},"org":{"key":"o"}},"lastSeen":"2025-01-01T00:00:00Z"})");
  auto m2 = norm(R"({"context":{"kind":"multi","user":{"key":"a"},"org":{"key":"o"}},"applicationId":"b","lastSeen":"2025-01-01T00:00:00Z"})");
  ASSERT_TRUE(m1.is_ok() && m2.is_ok());
  EXPECT_EQ(m1->record.id, "p/e/multi/org:o:user:a%2Fb");
  EXPECT_EQ(m2->record.id, "p/e/multi/org:o:user:a/b");
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

// An unreadable record keeps its place in the sort=ts order when its lastSeen is readable
// (the stream dead-letters it once by that place).
TEST(ContextLastSeenNs, ReadsLastSeenOfAnyRecordThatHasOne) {
  static simdjson::dom::parser p;
  EXPECT_EQ(context_last_seen_ns(p.parse(std::string(R"({"context":{"kind":"user"},"lastSeen":"2022-04-15T15:00:57.5Z"})")).value()),
            1650034857500000000LL);
  EXPECT_FALSE(context_last_seen_ns(p.parse(std::string(R"({"context":{"kind":"user","key":"k"}})")).value()));
  EXPECT_FALSE(context_last_seen_ns(p.parse(std::string(R"({"lastSeen":"nope"})")).value()));
  EXPECT_FALSE(context_last_seen_ns(p.parse(std::string(R"({"lastSeen":5})")).value()));
  EXPECT_FALSE(context_last_seen_ns(p.parse(std::string(R"(["2022-04-15T15:00:57Z"])")).value()));
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
