// The generic snapshot pass through the members stream: deletes only after the whole
// list was read, confirmed with GET /api/v2/members/{id}; projects with a list of keys.
#include "sources/members/members_source.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "../entity/fake_api.h"
#include "sources/entity/snapshot_pass.h"
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

// A sink that keeps uncommitted writes (Kafka at least once) received the first batch of
// the very first pass, then the process died before the commit: nothing committed knows
// m0 and m1. m1 is deleted before the next pass.
TEST(MembersStream, UnconfirmedUpsertsOfAnUncommittedBatchAreUpsertedAgainOrDeleted) {
  FakeApi api;
  for (int i = 0; i < 5; ++i) api.lists["/api/v2/members"].push_back(member("m" + std::to_string(i)));
  MembersConfig cfg;
  cfg.page_limit = 2;
  LaunchDarklyConfig ld;
  Archive kafka;
  run_pass(*make_members_stream(cfg, ld), nullptr, {}, api, kafka, 1, 1);
  ASSERT_EQ(kafka.ops(), (std::map<std::string, std::string>{{"m0", "upsert"}, {"m1", "upsert"}}));
  auto& list = api.lists["/api/v2/members"];
  list.erase(list.begin() + 1);  // m1 deleted
  const Archive before_restart = kafka;

  // Without the ids, the restarted pass (from the committed cursor: none) never learns
  // of m1, and the sink keeps its upsert for good.
  Archive without = before_restart;
  ASSERT_TRUE(run_pass(*make_members_stream(cfg, ld), nullptr, {}, api, without, 2).completed);
  EXPECT_EQ(without.last["m1"]["op"], "upsert");

  // With them (what the stream runner committed before writing the batch):
  auto cursor = cursor_with_unconfirmed(nullptr, {"m0", "m1"}, "members");
  ASSERT_TRUE(cursor.is_ok()) << cursor.status().message();
  Archive with = before_restart;
  api.targets.clear();
  ASSERT_TRUE(run_pass(*make_members_stream(cfg, ld), cursor.value(), {}, api, with, 2).completed);
  EXPECT_EQ(with.last["m1"]["op"], "delete");
  EXPECT_TRUE(with.last["m1"]["data"].is_null());
  EXPECT_EQ(std::count(api.targets.begin(), api.targets.end(), "/api/v2/members/m1"), 1)
      << "the disappearance was confirmed";
  for (const char* id : {"m0", "m2", "m3", "m4"}) EXPECT_EQ(with.last[id]["op"], "upsert") << id;
  EXPECT_EQ(with.all.size(), before_restart.all.size() + 5);  // m0 again, m2..m4, m1's delete
}

TEST(MembersStream, AdoptingUnconfirmedUpsertsKeepsTheRestOfTheCursor) {
  nlohmann::json cursor = {{"v", 1}, {"snapshot", nullptr}, {"refresh", {{"high", 7}}}};
  auto adopted = cursor_with_unconfirmed(cursor, {"x"}, "flags");
  ASSERT_TRUE(adopted.is_ok());
  EXPECT_EQ(adopted.value()["refresh"]["high"], 7);
  auto state = snapshot_from_cursor(adopted.value(), "flags");
  ASSERT_TRUE(state.is_ok());
  EXPECT_NE(state.value().find("x"), nullptr);
  auto bad = cursor_with_unconfirmed(nlohmann::json{{"v", 9}}, {"x"}, "flags");
  EXPECT_FALSE(bad.is_ok());
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

// LaunchDarkly deleted project "mobile-app" while the selection is "*": the projects
// stream deletes it (its GET answers 404), and the environments stream deletes its
// environments, which discovery no longer lists (their GETs answer 404).
TEST(ProjectsStream, AProjectLaunchDarklyDeletedIsDeletedWithItsEnvironments) {
  FakeApi api;
  api.lists["/api/v2/projects"] = {{{"key", "default"}}, {{"key", "mobile-app"}}};
  LaunchDarklyConfig ld;
  Archive a;
  auto p1 = run_pass(*make_projects_stream(ProjectsConfig{}, ld), nullptr, {}, api, a, 1);
  const std::vector<ProjectInfo> before = {test::project("default", {"production"}),
                                           test::project("mobile-app", {"production", "test"})};
  auto e1 = run_pass(*make_environments_stream(EnvironmentsConfig{}, ld), nullptr, before, api, a, 1);
  ASSERT_EQ(a.last.size(), 5u);
  api.lists["/api/v2/projects"] = {{{"key", "default"}}};
  auto p2 = run_pass(*make_projects_stream(ProjectsConfig{}, ld), p1.final_cursor, {}, api, a, 2);
  auto e2 = run_pass(*make_environments_stream(EnvironmentsConfig{}, ld), e1.final_cursor,
                     {test::project("default", {"production"})}, api, a, 2);
  ASSERT_TRUE(p2.completed && e2.completed);
  EXPECT_EQ(a.last["mobile-app"]["op"], "delete");
  EXPECT_EQ(a.last["mobile-app/production"]["op"], "delete");
  EXPECT_EQ(a.last["mobile-app/test"]["op"], "delete");
  EXPECT_EQ(a.last["default"]["op"], "upsert");
  EXPECT_EQ(a.last["default/production"]["op"], "upsert");
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
