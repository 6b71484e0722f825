// The confirmation GETs: when a complete listing no longer shows an entity, each snapshot
// stream asks for that one entity at the path openapi.yaml declares for it, and deletes
// it only on a 404. A stream asking at a wrong path would get a 404 from the real API for
// every live entity a shifting list skipped, and delete it; here the fake API answers 200
// only at the spec's path, so a wrong path shows as a delete of a live entity.
//
// Spec paths (GET of one entity):
//   projects      /api/v2/projects/{projectKey}
//   environments  /api/v2/projects/{projectKey}/environments/{environmentKey}
//   segments      /api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}
//   members       /api/v2/members/{id}
//   teams         /api/v2/teams/{teamKey}
//   metrics       /api/v2/metrics/{projectKey}/{metricKey}
// (flags: flags_stream_test. Experiments need a SourceContext for their beta client and
// are not covered here: the e2e test of all streams checks that their deletes were
// confirmed on the spec's route, in the simulator's per-route counts.)
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "fake_api.h"
#include "sources/environments/environments_source.h"
#include "sources/members/members_source.h"
#include "sources/metrics/metrics_source.h"
#include "sources/projects/projects_source.h"
#include "sources/segments/segments_source.h"
#include "sources/teams/teams_source.h"

namespace ldx {
namespace {

using test::Archive;
using test::FakeApi;
using test::run_pass;

constexpr int64_t kT0 = 1'800'000'000'000;

struct ConfirmCase {
  std::function<std::unique_ptr<EntityStream>()> make;
  std::vector<ProjectInfo> before;     // discovery's projects in the first pass
  std::vector<ProjectInfo> after;      // ... in the later ones
  std::function<void(FakeApi&)> list;  // the listing with the entity
  std::function<void(FakeApi&)> drop;  // the listing without it
  std::string id;
  std::string single;  // the spec's GET of that one entity
  nlohmann::json body;
};

// First pass: the entity is listed. Second: the listing skips it, but its GET answers 200,
// so it stays (no delete). Third: its GET answers 404, so it is deleted.
void expect_confirmed_at_the_spec_path(const ConfirmCase& c) {
  FakeApi api;
  Archive a;
  if (c.list) c.list(api);
  auto r1 = run_pass(*c.make(), nullptr, c.before, api, a, kT0);
  ASSERT_TRUE(r1.completed);
  ASSERT_EQ(a.last[c.id]["op"], "upsert") << c.id;

  if (c.drop) c.drop(api);
  api.singles[c.single] = c.body;
  api.targets.clear();
  auto r2 = run_pass(*c.make(), r1.final_cursor, c.after, api, a, kT0 + 1000);
  ASSERT_TRUE(r2.completed);
  EXPECT_EQ(std::count(api.targets.begin(), api.targets.end(), c.single), 1)
      << c.id << ": not confirmed at the spec's path " << c.single;
  EXPECT_EQ(a.last[c.id]["op"], "upsert") << c.id << ": a live entity was deleted";

  api.singles.erase(c.single);
  api.targets.clear();
  auto r3 = run_pass(*c.make(), r2.final_cursor, c.after, api, a, kT0 + 2000);
  ASSERT_TRUE(r3.completed);
  EXPECT_EQ(std::count(api.targets.begin(), api.targets.end(), c.single), 1) << c.id;
  EXPECT_EQ(a.last[c.id]["op"], "delete") << c.id << ": a 404 must delete";
}

TEST(ConfirmationPaths, Projects) {
  const LaunchDarklyConfig ld;
  const nlohmann::json gone = {{"key", "mobile-app"}, {"name", "Mobile"}};
  ConfirmCase c;
  c.make = [&] { return make_projects_stream(ProjectsConfig{}, ld); };
  c.list = [&](FakeApi& api) { api.lists["/api/v2/projects"] = {{{"key", "default"}}, gone}; };
  c.drop = [](FakeApi& api) { api.lists["/api/v2/projects"] = {{{"key", "default"}}}; };
  c.id = "mobile-app";
  c.single = "/api/v2/projects/mobile-app";
  c.body = gone;
  expect_confirmed_at_the_spec_path(c);
}

TEST(ConfirmationPaths, Environments) {
  const LaunchDarklyConfig ld;
  ConfirmCase c;
  c.make = [&] { return make_environments_stream(EnvironmentsConfig{}, ld); };
  c.before = {test::project("p", {"production", "test"})};
  c.after = {test::project("p", {"production"})};  // discovery's list skipped `test`
  c.id = "p/test";
  c.single = "/api/v2/projects/p/environments/test";
  c.body = {{"key", "test"}};
  expect_confirmed_at_the_spec_path(c);
}

TEST(ConfirmationPaths, Segments) {
  const LaunchDarklyConfig ld;
  SegmentsConfig cfg;
  cfg.page_limit = 10;
  const auto segment = [](const std::string& key, int64_t modified) {
    return nlohmann::json{{"key", key}, {"name", key}, {"version", 1}, {"lastModifiedDate", modified},
                          {"creationDate", kT0 - 1'000'000}, {"deleted", false},
                          {"rules", nlohmann::json::array()}};
  };
  const std::string list = "/api/v2/segments/p/e?sort=-lastModified";
  ConfirmCase c;
  c.make = [&] { return make_segments_stream(cfg, ld); };
  c.before = c.after = {test::project("p", {"e"})};
  c.list = [&](FakeApi& api) { api.lists[list] = {segment("s2", kT0 - 1000), segment("s1", kT0 - 2000)}; };
  // The totalCount disagrees with what is known: the environment is reconciled.
  c.drop = [&](FakeApi& api) { api.lists[list] = {segment("s2", kT0 - 1000)}; };
  c.id = "p/e/s1";
  c.single = "/api/v2/segments/p/e/s1";
  c.body = segment("s1", kT0 - 2000);
  expect_confirmed_at_the_spec_path(c);
}

TEST(ConfirmationPaths, Members) {
  const LaunchDarklyConfig ld;
  const auto member = [](const std::string& id) {
    return nlohmann::json{{"_id", id}, {"email", id + "@example.com"}, {"role", "reader"}};
  };
  ConfirmCase c;
  c.make = [&] { return make_members_stream(MembersConfig{}, ld); };
  c.list = [&](FakeApi& api) { api.lists["/api/v2/members"] = {member("m0"), member("m1")}; };
  c.drop = [&](FakeApi& api) { api.lists["/api/v2/members"] = {member("m0")}; };
  c.id = "m1";
  c.single = "/api/v2/members/m1";
  c.body = member("m1");
  expect_confirmed_at_the_spec_path(c);
}

TEST(ConfirmationPaths, Teams) {
  const LaunchDarklyConfig ld;
  const auto team = [](const std::string& key) { return nlohmann::json{{"key", key}, {"_version", 3}}; };
  ConfirmCase c;
  c.make = [&] { return make_teams_stream(TeamsConfig{}, ld); };
  c.list = [&](FakeApi& api) { api.lists["/api/v2/teams"] = {team("t0"), team("t1")}; };
  c.drop = [&](FakeApi& api) { api.lists["/api/v2/teams"] = {team("t0")}; };
  c.id = "t1";
  c.single = "/api/v2/teams/t1";
  c.body = team("t1");
  expect_confirmed_at_the_spec_path(c);
}

TEST(ConfirmationPaths, Metrics) {
  const LaunchDarklyConfig ld;
  const auto metric = [](const std::string& key) { return nlohmann::json{{"key", key}, {"_version", 2}}; };
  ConfirmCase c;
  c.make = [&] { return make_metrics_stream(MetricsConfig{}, ld); };
  c.before = c.after = {test::project("p", {"e"})};
  c.list = [&](FakeApi& api) { api.lists["/api/v2/metrics/p"] = {metric("m0"), metric("m1")}; };
  c.drop = [&](FakeApi& api) { api.lists["/api/v2/metrics/p"] = {metric("m0")}; };
  c.id = "p/m1";
  c.single = "/api/v2/metrics/p/m1";
  c.body = metric("m1");
  expect_confirmed_at_the_spec_path(c);
}

}  // namespace
}  // namespace ldx
