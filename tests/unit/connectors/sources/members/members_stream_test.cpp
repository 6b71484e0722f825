// The generic snapshot pass through the members stream: deletes only after the whole
// list was read, confirmed with GET /api/v2/members/{id}; projects with a list of keys.
#include "sources/members/members_source.h"

#include <gtest/gtest.h>

#include "../entity/fake_api.h"
#include "sources/environments/environments_source.h"
#include "sources/projects/projects_source.h"

namespace ldx {
namespace {

using test::Archive;
using test::FakeApi;
using test::run_pass;

nlohmann::json member(const std::string& id, const std::string& role = "reader") {
  return {{"_id", id}, {"email", id + "@example.com"}, {"role", role}, {"_lastSeen", 0}, {"mfa", "enabled"}};
}

TEST(MembersStream, ChangedMembersAndRemovedOnes) {
  FakeApi api;
  for (int i = 0; i < 5; ++i) api.lists["/api/v2/members"].push_back(member("m" + std::to_string(i)));
  MembersConfig cfg;
  cfg.page_limit = 2;
  LaunchDarklyConfig ld;
  Archive a;
  auto r1 = run_pass(*make_members_stream(cfg, ld), nullptr, {}, api, a, 1);
  ASSERT_TRUE(r1.completed);
  EXPECT_EQ(a.all.size(), 5u);
  EXPECT_TRUE(a.last["m0"]["version"].is_null());

  auto& list = api.lists["/api/v2/members"];
  list.erase(list.begin() + 1);                 // m1 removed
  list[2] = member("m3", "admin");              // m3 changed (no version: the content tells)
  api.singles["/api/v2/members/m9"] = member("m9");
  api.requests = 0;
  // Crash after the first page: nothing deleted yet, since the list was not read completely.
  auto crashed = run_pass(*make_members_stream(cfg, ld), r1.final_cursor, {}, api, a, 2, 1);
  for (const auto& e : a.all) EXPECT_NE(e["op"], "delete");
  auto r2 = run_pass(*make_members_stream(cfg, ld), crashed.final_cursor, {}, api, a, 3);
  ASSERT_TRUE(r2.completed);
  EXPECT_EQ(a.last["m1"]["op"], "delete");
  EXPECT_EQ(a.last["m3"]["op"], "upsert");
  EXPECT_EQ(a.last["m3"]["data"]["role"], "admin");
  EXPECT_EQ(api.targets.back(), "/api/v2/members/m1") << "the disappearance was confirmed";
  EXPECT_EQ(a.all.size(), 7u);
}

TEST(ProjectsStream, AListOfKeysReadsEachProjectAndDeletesAGoneOne) {
  FakeApi api;
  api.singles["/api/v2/projects/default"] = {{"key", "default"}, {"name", "Default"}};
  api.singles["/api/v2/projects/mobile-app"] = {{"key", "mobile-app"}, {"name", "Mobile"}};
  ProjectsConfig cfg;
  LaunchDarklyConfig ld;
  ld.projects = {"mobile-app", "default"};
  Archive a;
  auto r1 = run_pass(*make_projects_stream(cfg, ld), nullptr, {}, api, a, 1);
  EXPECT_EQ(a.all.size(), 2u);
  EXPECT_EQ(api.requests, 2);
  api.singles.erase("/api/v2/projects/mobile-app");
  auto r2 = run_pass(*make_projects_stream(cfg, ld), r1.final_cursor, {}, api, a, 2);
  EXPECT_EQ(a.last["mobile-app"]["op"], "delete");
  EXPECT_EQ(a.last["default"]["op"], "upsert");
}

TEST(EnvironmentsStream, ComesFromDiscoveryWithoutRequestsAndRedacted) {
  FakeApi api;
  EnvironmentsConfig cfg;
  LaunchDarklyConfig ld;
  ProjectInfo p;
  p.key = "default";
  p.environments = {{"production", R"({"key":"production","apiKey":"sdk-1","mobileKey":"mob-1","name":"P"})"},
                    {"test", R"({"key":"test","apiKey":"sdk-2","mobileKey":"mob-2","name":"T"})"}};
  Archive a;
  auto r1 = run_pass(*make_environments_stream(cfg, ld), nullptr, {p}, api, a, 1);
  ASSERT_TRUE(r1.completed);
  EXPECT_EQ(api.requests, 0);
  ASSERT_EQ(a.all.size(), 2u);
  EXPECT_EQ(a.last["default/production"]["data"]["apiKey"], "[REDACTED]");
  EXPECT_EQ(a.last["default/test"]["data"]["mobileKey"], "[REDACTED]");
  // A key rotation alone is invisible while redaction is on: nothing to export.
  p.environments[0].raw = R"({"key":"production","apiKey":"sdk-3","mobileKey":"mob-3","name":"P"})";
  p.environments.pop_back();  // test deleted: confirmed by GET .../environments/test (404 here)
  auto r2 = run_pass(*make_environments_stream(cfg, ld), r1.final_cursor, {p}, api, a, 2);
  EXPECT_EQ(a.all.size(), 3u);
  EXPECT_EQ(a.last["default/test"]["op"], "delete");
  EXPECT_EQ(api.targets.back(), "/api/v2/projects/default/environments/test");
}

}  // namespace
}  // namespace ldx
