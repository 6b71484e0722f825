#include "sources/audit_log/audit_log_normalizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/canonical_json.h"
#include "common/hash_chain.h"
#include "common/normalize.h"
#include "../../common/hash_chain_expect.h"
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

// The audit log's data is written canonical (so the chain hashes it as it is): it must
// be exactly its own canonical form, one level below the envelope's top.
std::string canonical_nested(const std::string& json) {
  std::string out;
  std::string err;
  CanonicalOptions nested;
  nested.depth = 1;
  if (!append_canonical_json(out, json, nested, &err)) return "ERROR: " + err;
  return out;
}

using test::expect_hash_from_fields_equals_hash_of_envelope;

const char* const kOddEntries[] = {
    R"({"_id":"c1","date":1700000000000,"kind":"flag","z":1,"a":{"y":[{"d":2,"c":1}],"b":"x"},"M":null})",
    R"({"kind":"flag","date":2,"_id":"c2","title":"esc \"q\" \\ \n \u0001 \u00e9 😀","é":1,"e":2,"Z":3,"\u00e8":4})",
    R"({"_id":"c3","date":3,"n":[-0,1.0,1e300,-2.5E-3,18446744073709551615,-9223372036854775808]})",
    R"({"_id":"c4","date":4,"kind":"environment","target":{"resources":["proj/p:env/e"]},
       "previousVersion":{"on":false,"key":"k","apiKey":"sdk-11111111-2222-3333-4444-555555555555"},
       "currentVersion":{"key":"k","on":true,"rules":[{"b":1,"a":2}]}})",
    R"({"_id":"c5","date":5,"same":{"a":1},"other":{"a":2},"list":[{"a":1},{"a":1}]})",
};

TEST(AuditLogNormalizer, DataIsWrittenInCanonicalForm) {
  simdjson::dom::parser p;
  for (const char* entry : kOddEntries) {
    for (bool include_secrets : {false, true}) {
      auto r = normalize_audit_entry(p.parse(std::string_view(entry)), SecretPolicy{include_secrets}, 1764000000000);
      ASSERT_TRUE(r.is_ok()) << entry << ": " << r.status().message();
      EXPECT_TRUE(r->data_is_canonical) << entry;
      EXPECT_EQ(canonical_nested(r->data), r->data) << entry;
      // Still the same document (nothing to redact): only member order and spelling changed.
      if (include_secrets) {
        EXPECT_EQ(nlohmann::json::parse(r->data), nlohmann::json::parse(entry)) << r->data;
      }
      expect_hash_from_fields_equals_hash_of_envelope(*r);
    }
  }
  auto r = normalize_audit_entry(p.parse(std::string_view(kOddEntries[0])), SecretPolicy{}, 0);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->data, R"({"M":null,"_id":"c1","a":{"b":"x","y":[{"c":1,"d":2}]},"date":1700000000000,"kind":"flag","z":1})");
}

TEST(AuditLogNormalizer, FixtureEntriesAreCanonicalAndHashTheSameBothWays) {
  if (!have_shared()) GTEST_SKIP() << "../shared/launchdarkly/fixtures not found: fixture test skipped";
  std::string body = fixture("auditlog-page.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  size_t n = 0;
  for (auto item : doc["items"].get_array()) {
    for (bool include_secrets : {false, true}) {
      auto r = normalize_audit_entry(item, SecretPolicy{include_secrets}, 1764000000000);
      ASSERT_TRUE(r.is_ok()) << r.status().message();
      EXPECT_TRUE(r->data_is_canonical);
      EXPECT_EQ(canonical_nested(r->data), r->data);
      expect_hash_from_fields_equals_hash_of_envelope(*r);
    }
    ++n;
  }
  EXPECT_GT(n, 0u);
}

TEST(AuditLogNormalizer, AnEntryWithoutACanonicalFormIsADataError) {
  simdjson::dom::parser p;
  const std::string deep_ok = R"({"_id":"d1","date":1,"d":)" + std::string(510, '[') + std::string(510, ']') + "}";
  const std::string too_deep = R"({"_id":"d2","date":1,"d":)" + std::string(511, '[') + std::string(511, ']') + "}";
  for (const std::string& bad : {std::string(R"({"_id":"x","date":1,"kind":"flag","a":1,"a":2})"),
                                 std::string(R"({"_id":"x","date":1,"v":{"k":[{"b":1,"\u0062":2}]}})"), too_deep}) {
    auto r = normalize_audit_entry(p.parse(bad), SecretPolicy{}, 0);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().error_class(), ErrorClass::kDataError) << bad;  // dead-lettered, the stream goes on
    EXPECT_NE(r.status().message().find("cannot be hash-chained"), std::string::npos) << r.status().message();
  }
  // One level less deep is kept, and the whole envelope hashes (its limit counts from
  // the envelope's top, where data sits one level down).
  auto r = normalize_audit_entry(p.parse(deep_ok), SecretPolicy{}, 0);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  expect_hash_from_fields_equals_hash_of_envelope(*r);
}

TEST(AuditLogNormalizer, CanonicalDataStillHidesSecrets) {
  const char* entry = R"({"_id":"s1","date":1,"kind":"environment","zz":"sdk-11111111-2222-3333-4444-555555555555",
    "currentVersion":{"mobileKey":"mob-11111111-2222-3333-4444-555555555555","apiKey":"abc","sdkKey":null,"key":"p"}})";
  simdjson::dom::parser p;
  auto r = normalize_audit_entry(p.parse(std::string_view(entry)), SecretPolicy{}, 0);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->data,
            R"({"_id":"s1","currentVersion":{"apiKey":"[REDACTED]","key":"p","mobileKey":"[REDACTED]","sdkKey":null},)"
            R"("date":1,"kind":"environment","zz":"[REDACTED]"})");
  EXPECT_EQ(r->envelope.find("sdk-"), std::string::npos) << r->envelope;
  EXPECT_EQ(r->envelope.find("mob-"), std::string::npos) << r->envelope;
  EXPECT_EQ(r->envelope.find("abc"), std::string::npos) << r->envelope;
  auto open = normalize_audit_entry(p.parse(std::string_view(entry)), SecretPolicy{true}, 0);
  ASSERT_TRUE(open.is_ok());
  EXPECT_NE(open->data.find(R"("apiKey":"abc")"), std::string::npos) << open->data;
  EXPECT_EQ(canonical_nested(open->data), open->data);
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
