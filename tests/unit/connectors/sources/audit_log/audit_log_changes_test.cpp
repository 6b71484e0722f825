#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sources/audit_log/audit_log_normalizer.h"

namespace ldx {
namespace {

nlohmann::json envelope_of(const std::string& entry_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(entry_json);
  auto r = normalize_audit_entry(doc, SecretPolicy{}, 1764000009000);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return nlohmann::json::parse(r->envelope);
}

TEST(AuditLogChanges, DetailEntryCarriesChangesBesideData) {
  const std::string entry = R"({"_id":"e1","date":1764000000000,"kind":"flag",
    "target":{"resources":["proj/default:env/production:flag/f"]},
    "previousVersion":{"key":"f","environments":{"production":{"on":false,"rules":[]}}},
    "currentVersion":{"key":"f","environments":{"production":{"on":true,
        "rules":[{"clauses":[{"attribute":"email","values":["beta-users"]}]}]}}},
    "changes":"a LaunchDarkly field named like ours stays in data"})";
  auto env = envelope_of(entry);
  // Top-level and additive: data keeps every field LaunchDarkly sent, unchanged.
  EXPECT_EQ(env["data"]["changes"], "a LaunchDarkly field named like ours stays in data");
  EXPECT_EQ(env["changes"], nlohmann::json::parse(R"([
    {"path":"/environments/production/on","change":"changed","before":false,"after":true},
    {"path":"/environments/production/rules/0","change":"added",
     "after":{"clauses":[{"attribute":"email","values":["beta-users"]}]}}])"));
}

TEST(AuditLogChanges, CreatedResourceIsOneAddedRoot) {
  auto env = envelope_of(R"({"_id":"e2","date":1,"previousVersion":null,"currentVersion":{"key":"f"}})");
  EXPECT_EQ(env["changes"], nlohmann::json::parse(R"([{"path":"","change":"added","after":{"key":"f"}}])"));
}

TEST(AuditLogChanges, ListingEntryWithoutVersionsHasNoChanges) {
  auto env = envelope_of(R"({"_id":"e3","date":1,"kind":"member"})");
  EXPECT_FALSE(env.contains("changes"));
}

TEST(AuditLogChanges, SecretsNeverAppearInChanges) {
  const std::string old_key = "sdk-11111111-2222-3333-4444-555555555555";
  const std::string new_key = "sdk-66666666-7777-8888-9999-000000000000";
  auto env = envelope_of(R"({"_id":"e4","date":1,"kind":"environment",
    "previousVersion":{"apiKey":")" + old_key + R"(","name":"Production","note":")" + old_key + R"("},
    "currentVersion":{"apiKey":")" + new_key + R"(","name":"Prod","note":")" + new_key + R"("}})");
  const std::string text = env.dump();
  EXPECT_EQ(text.find(old_key), std::string::npos);
  EXPECT_EQ(text.find(new_key), std::string::npos);
  EXPECT_EQ(env["changes"], nlohmann::json::parse(R"([{"path":"/name","change":"changed","before":"Production","after":"Prod"}])"));
}

}  // namespace
}  // namespace ldx
