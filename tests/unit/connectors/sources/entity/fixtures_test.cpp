// Every page in ../shared/launchdarkly/fixtures/ that an entity stream reads, through
// that stream's normalizer: ids, envelope fields, data kept as received, secrets
// redacted (and kept when include_secrets opts in).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/time_util.h"
#include "sources/contexts/context_normalizer.h"
#include "sources/environments/environments_source.h"
#include "sources/flags/flag_normalizer.h"
#include "sources/projects/projects_source.h"

namespace ldx {
namespace {

constexpr int64_t kNow = 1764000000000;

bool have_shared() { return std::filesystem::exists(std::string(LDX_SHARED_DIR) + "/launchdarkly/fixtures"); }

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(LDX_SHARED_DIR) + "/launchdarkly/fixtures/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

#define REQUIRE_SHARED() \
  if (!have_shared()) GTEST_SKIP() << "../shared/launchdarkly/fixtures not found: fixture test skipped"

TEST(EntityFixtures, FlagsPage) {
  REQUIRE_SHARED();
  const std::string body = fixture("flags-page.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  auto raw = nlohmann::json::parse(body);
  size_t i = 0;
  std::set<std::string> fps;
  for (auto item : doc["items"].get_array()) {
    const auto& src = raw["items"][i++];
    auto e = normalize_flag(item, "default", SecretPolicy{}, kNow);
    ASSERT_TRUE(e.is_ok()) << e.status().message();
    auto env = nlohmann::json::parse(e->record.envelope);
    EXPECT_EQ(env["schema"], "ldexport.v1");
    EXPECT_EQ(env["stream"], "flags");
    EXPECT_EQ(env["id"], "default/" + src["key"].get<std::string>());
    EXPECT_EQ(env["op"], "upsert");
    EXPECT_EQ(env["project"], "default");
    EXPECT_TRUE(env["environment"].is_null());
    EXPECT_EQ(env["kind"], src["kind"]);
    EXPECT_EQ(env["version"], src["_version"]);
    // occurred_at: the newest timestamp the flag carries.
    int64_t newest = src.value("creationDate", int64_t{0});
    for (const auto& [k, cfg] : src["environments"].items()) newest = std::max(newest, cfg["lastModified"].get<int64_t>());
    EXPECT_EQ(env["occurred_at"], format_rfc3339_ms(newest));
    EXPECT_EQ(env["observed_at"], format_rfc3339_ms(kNow));
    EXPECT_EQ(env["data"], src);  // every field kept (no secrets in a flag)
    fps.insert(e->fp);

    // A change in one environment's version alone changes the fingerprint.
    auto changed = src;
    changed["environments"]["test"]["version"] = changed["environments"]["test"]["version"].get<int>() + 1;
    simdjson::dom::parser p2;
    auto e2 = normalize_flag(p2.parse(changed.dump()), "default", SecretPolicy{}, kNow);
    ASSERT_TRUE(e2.is_ok());
    EXPECT_NE(e2->fp, e->fp);
    // ... while a field without a version (a name) does not: versions decide.
    auto renamed = src;
    renamed["name"] = "other";
    simdjson::dom::parser p3;
    EXPECT_EQ(normalize_flag(p3.parse(renamed.dump()), "default", SecretPolicy{}, kNow)->fp, e->fp);
  }
  EXPECT_EQ(i, raw["items"].size());
  EXPECT_EQ(fps.size(), i);
}

TEST(EntityFixtures, ProjectsPageProjectsAndEmbeddedEnvironments) {
  REQUIRE_SHARED();
  const std::string body = fixture("projects-page.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  auto raw = nlohmann::json::parse(body);
  size_t i = 0;
  size_t envs = 0;
  for (auto item : doc["items"].get_array()) {
    const auto& src = raw["items"][i++];
    auto p = normalize_project(item, SecretPolicy{}, kNow);
    ASSERT_TRUE(p.is_ok()) << p.status().message();
    auto penv = nlohmann::json::parse(p->record.envelope);
    EXPECT_EQ(penv["stream"], "projects");
    EXPECT_EQ(penv["id"], src["key"]);
    EXPECT_EQ(penv["project"], src["key"]);
    EXPECT_TRUE(penv["version"].is_null());
    EXPECT_TRUE(penv["occurred_at"].is_null());
    // Embedded environments are redacted wherever they appear.
    for (const auto& e : penv["data"]["environments"]["items"]) {
      EXPECT_EQ(e["apiKey"], "[REDACTED]");
      EXPECT_EQ(e["mobileKey"], "[REDACTED]");
    }

    size_t j = 0;
    for (auto env_item : item["environments"]["items"].get_array()) {
      const auto& esrc = src["environments"]["items"][j++];
      ++envs;
      auto e = normalize_environment(env_item, src["key"], SecretPolicy{}, kNow);
      ASSERT_TRUE(e.is_ok()) << e.status().message();
      auto eenv = nlohmann::json::parse(e->record.envelope);
      EXPECT_EQ(eenv["stream"], "environments");
      EXPECT_EQ(eenv["id"], src["key"].get<std::string>() + "/" + esrc["key"].get<std::string>());
      EXPECT_EQ(eenv["project"], src["key"]);
      EXPECT_EQ(eenv["environment"], esrc["key"]);
      EXPECT_EQ(eenv["data"]["apiKey"], "[REDACTED]");
      EXPECT_EQ(eenv["data"]["mobileKey"], "[REDACTED]");
      auto expected = esrc;
      expected["apiKey"] = "[REDACTED]";
      expected["mobileKey"] = "[REDACTED]";
      EXPECT_EQ(eenv["data"], expected);  // everything else as received
      EXPECT_EQ(e->record.envelope.find("sdk-"), std::string::npos);
      EXPECT_EQ(e->record.envelope.find("mob-"), std::string::npos);

      // include_secrets: the keys go through untouched (the exporter warns at start).
      auto open = normalize_environment(env_item, src["key"], SecretPolicy{true}, kNow);
      ASSERT_TRUE(open.is_ok());
      EXPECT_EQ(nlohmann::json::parse(open->record.envelope)["data"], esrc);
    }
  }
  EXPECT_EQ(i, raw["items"].size());
  EXPECT_EQ(envs, 3u);
}

TEST(EntityFixtures, RealLookingKeysAreRedactedInAnyEnvironmentField) {
  simdjson::dom::parser p;
  auto e = normalize_environment(p.parse(std::string_view(R"({"key":"production",
      "apiKey":"sdk-8d4f0c3e-7a1b-4c2d-9e5f-0a1b2c3d4e5f","mobileKey":"mob-8d4f0c3e-7a1b-4c2d-9e5f-0a1b2c3d4e5f",
      "notes":{"old":"sdk-8d4f0c3e-7a1b-4c2d-9e5f-0a1b2c3d4e50"}})")),
                                 "default", SecretPolicy{}, kNow);
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->record.envelope.find("sdk-"), std::string::npos);
  EXPECT_EQ(e->record.envelope.find("mob-"), std::string::npos);
}

TEST(EntityFixtures, ContextsSearchPage) {
  REQUIRE_SHARED();
  const std::string body = fixture("contexts-search-page.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  auto raw = nlohmann::json::parse(body);
  size_t i = 0;
  for (auto item : doc["items"].get_array()) {
    const auto& src = raw["items"][i++];
    auto c = normalize_context(item, "my-project", "my-environment", SecretPolicy{}, kNow);
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    auto env = nlohmann::json::parse(c->record.envelope);
    EXPECT_EQ(env["stream"], "contexts");
    const std::string kind = src["context"]["kind"];
    const std::string key = src["context"]["key"];
    EXPECT_EQ(env["id"], "my-project/my-environment/" + kind + "/" + key + "/" + src["applicationId"].get<std::string>());
    EXPECT_EQ(env["kind"], kind);
    EXPECT_EQ(env["project"], "my-project");
    EXPECT_EQ(env["environment"], "my-environment");
    EXPECT_TRUE(env["version"].is_null());
    EXPECT_EQ(env["occurred_at"], format_rfc3339_ms(*parse_rfc3339_ms(src["lastSeen"].get<std::string>())));
    EXPECT_EQ(env["data"], src);
    EXPECT_EQ(c->last_seen_ns, *parse_rfc3339_ns(src["lastSeen"].get<std::string>()));
  }
  EXPECT_EQ(i, 2u);
}

}  // namespace
}  // namespace ldx
