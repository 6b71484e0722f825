#include "sources/audit_log/audit_log_normalizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/normalize.h"
#include "core/time_util.h"

namespace ldx {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(LDX_SHARED_DIR) + "/launchdarkly/fixtures/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool have_shared() { return std::filesystem::exists(std::string(LDX_SHARED_DIR) + "/launchdarkly/fixtures"); }

TEST(AuditLogNormalizer, FixturePageBecomesEnvelopes) {
  if (!have_shared()) GTEST_SKIP() << "../shared/launchdarkly/fixtures not found: fixture test skipped";
  std::string body = fixture("auditlog-page.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  auto raw = nlohmann::json::parse(body);
  size_t i = 0;
  for (auto item : doc["items"].get_array()) {
    auto r = normalize_audit_entry(item, SecretPolicy{}, 1764000000000);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    auto env = nlohmann::json::parse(r->envelope);
    const auto& src = raw["items"][i++];
    EXPECT_EQ(env["schema"], "ldexport.v1");
    EXPECT_EQ(env["stream"], "audit_log");
    EXPECT_EQ(env["id"], src["_id"]);
    EXPECT_EQ(env["op"], "upsert");
    EXPECT_EQ(env["kind"], src["kind"]);
    EXPECT_EQ(env["version"], nullptr);
    EXPECT_EQ(env["occurred_at"], format_rfc3339_ms(src["date"].get<int64_t>()));
    EXPECT_EQ(env["observed_at"], "2025-11-24T16:00:00.000Z");
    // Every field LaunchDarkly sent is kept, unchanged (no secrets in this page).
    EXPECT_EQ(env["data"], src);
  }
  EXPECT_GT(i, 0u);
}

TEST(AuditLogNormalizer, ScopeComesFromTheTargetResource) {
  simdjson::dom::parser p;
  auto r = normalize_audit_entry(
      p.parse(std::string_view(R"({"_id":"a1","date":1700000000000,"kind":"flag",
        "target":{"resources":["proj/mobile:env/production:flag/new-ui;beta"]}})")),
      SecretPolicy{}, 0);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->project, "mobile");
  EXPECT_EQ(r->environment, "production");
}

TEST(AuditLogNormalizer, UnreadableEntriesAreDataErrors) {
  simdjson::dom::parser p;
  for (const char* bad : {R"({"date":1})", R"({"_id":"x"})", R"({"_id":"x","date":"yesterday"})", R"([1,2])",
                          R"({"_id":17,"date":1})"}) {
    auto r = normalize_audit_entry(p.parse(std::string_view(bad)), SecretPolicy{}, 0);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().error_class(), ErrorClass::kDataError) << bad;
  }
}

TEST(AuditLogNormalizer, SdkAndMobileKeysAreRedactedInVersions) {
  const char* entry = R"({"_id":"e1","date":1,"kind":"environment",
    "previousVersion":{"key":"production","apiKey":"sdk-11111111-2222-3333-4444-555555555555",
      "mobileKey":"mob-11111111-2222-3333-4444-555555555555","other":"sdk-aaaaaaaa-2222-3333-4444-555555555555"},
    "currentVersion":{"key":"production","apiKey":null}})";
  simdjson::dom::parser p;
  auto r = normalize_audit_entry(p.parse(std::string_view(entry)), SecretPolicy{}, 0);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->envelope.find("sdk-"), std::string::npos) << r->envelope;
  EXPECT_EQ(r->envelope.find("mob-"), std::string::npos) << r->envelope;
  auto env = nlohmann::json::parse(r->envelope);
  EXPECT_EQ(env["data"]["previousVersion"]["apiKey"], "[REDACTED]");
  EXPECT_EQ(env["data"]["previousVersion"]["key"], "production");
  EXPECT_EQ(env["data"]["currentVersion"]["apiKey"], nullptr);

  auto open = normalize_audit_entry(p.parse(std::string_view(entry)), SecretPolicy{true}, 0);
  EXPECT_NE(open->envelope.find("sdk-11111111"), std::string::npos);
}

TEST(AuditLogNormalizer, LargeAndOddValuesSurvive) {
  const char* entry =
      R"({"_id":"e2","date":1.7e12,"n":18446744073709551615,"f":0.1,"s":"line\nbreak \"q\" \u0001 é","u":null})";
  simdjson::dom::parser p;
  auto r = normalize_audit_entry(p.parse(std::string_view(entry)), SecretPolicy{}, 0);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  auto env = nlohmann::json::parse(r->envelope);
  EXPECT_EQ(env["occurred_at"], format_rfc3339_ms(1'700'000'000'000));
  EXPECT_EQ(env["data"]["n"].get<uint64_t>(), 18446744073709551615ULL);
  EXPECT_DOUBLE_EQ(env["data"]["f"].get<double>(), 0.1);
  EXPECT_EQ(env["data"]["s"], "line\nbreak \"q\" \x01 é");
}

TEST(ResourceSpecifier, ReadsProjectAndEnvironment) {
  auto s = parse_resource_specifier("proj/default:env/test:flag/alternate-page");
  EXPECT_EQ(s.project, "default");
  EXPECT_EQ(s.environment, "test");
  s = parse_resource_specifier("proj/*:env/*;qa_*:/flag/*");
  EXPECT_EQ(s.project, "");
  EXPECT_EQ(s.environment, "");
  EXPECT_EQ(parse_resource_specifier("proj/alexis").project, "alexis");
}

}  // namespace
}  // namespace ldx
