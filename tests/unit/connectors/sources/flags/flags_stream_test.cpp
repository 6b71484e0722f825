// The flags stream's passes against an in-memory API: every flag once, nothing in a
// steady state, upserts on any version change, deletes only after a complete snapshot,
// and a crash after any page changes nothing of the outcome.
#include "sources/flags/flags_source.h"

#include <gtest/gtest.h>

#include "../entity/fake_api.h"
#include "sources/entity/snapshot_pass.h"
#include "sources/entity/snapshot_state.h"
#include "sources/flags/flag_normalizer.h"

namespace ldx {
namespace {

using test::Archive;
using test::FakeApi;
using test::run_pass;

constexpr const char* kLive = "/api/v2/flags/default?summary=0&env=production&env=test";
constexpr const char* kArchived = "/api/v2/flags/default?summary=0&env=production&env=test&filter=state:archived";

nlohmann::json flag(const std::string& key, int version, int prod_version = 1) {
  return {{"key", key},
          {"name", key},
          {"kind", "boolean"},
          {"_version", version},
          {"creationDate", 1700000000000},
          {"archived", false},
          {"environments",
           {{"production", {{"on", true}, {"version", prod_version}, {"lastModified", 1700000000000 + prod_version}}},
            {"test", {{"on", false}, {"version", 1}, {"lastModified", 1700000000000}}}}}};
}

struct World {
  std::map<std::string, nlohmann::json> live;
  std::map<std::string, nlohmann::json> archived;
  void publish(FakeApi& api) const {
    api.lists[kLive].clear();
    api.lists[kArchived].clear();
    api.singles.clear();
    for (const auto& [k, f] : live) {
      api.lists[kLive].push_back(f);
      api.singles["/api/v2/flags/default/" + k + "?env=production&env=test"] = f;
    }
    for (const auto& [k, f] : archived) {
      api.lists[kArchived].push_back(f);
      api.singles["/api/v2/flags/default/" + k + "?env=production&env=test"] = f;
    }
  }
};

class FlagsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.page_limit = 2;
    for (int i = 1; i <= 7; ++i) world_.live["flag-" + std::to_string(i)] = flag("flag-" + std::to_string(i), 1);
    world_.archived["old-1"] = flag("old-1", 3);
    world_.publish(api_);
    projects_ = {test::project("default", {"production", "test"})};
  }
  std::unique_ptr<EntityStream> stream() { return make_flags_stream(cfg_, ld_); }
  // The outcome every sink must show: each live flag's latest version, deletes for gone ones.
  void expect_matches(const Archive& a, const std::vector<std::string>& deleted) {
    for (const auto* m : {&world_.live, &world_.archived}) {
      for (const auto& [k, f] : *m) {
        auto it = a.last.find("default/" + k);
        ASSERT_NE(it, a.last.end()) << k;
        EXPECT_EQ(it->second["op"], "upsert") << k;
        EXPECT_EQ(it->second["version"], f["_version"]) << k;
        EXPECT_EQ(it->second["data"]["environments"]["production"]["version"],
                  f["environments"]["production"]["version"])
            << k;
      }
    }
    for (const auto& k : deleted) {
      auto it = a.last.find("default/" + k);
      ASSERT_NE(it, a.last.end()) << k;
      EXPECT_EQ(it->second["op"], "delete") << k;
      EXPECT_TRUE(it->second["data"].is_null());
    }
  }

  FlagsConfig cfg_;
  LaunchDarklyConfig ld_;
  World world_;
  FakeApi api_;
  std::vector<ProjectInfo> projects_;
};

TEST_F(FlagsStreamTest, FirstPassExportsEveryFlagArchivedIncludedThenNothing) {
  Archive a;
  auto s = stream();
  auto r1 = run_pass(*s, nullptr, projects_, api_, a, 1000);
  ASSERT_TRUE(r1.completed);
  EXPECT_EQ(a.all.size(), 8u);
  expect_matches(a, {});
  EXPECT_EQ(a.last["default/flag-1"]["kind"], "boolean");
  EXPECT_EQ(a.last["default/flag-1"]["project"], "default");
  // 7 live flags at 2 per page = 4 pages, 1 archived page.
  EXPECT_EQ(api_.requests, 5);

  api_.requests = 0;
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, 2000);
  ASSERT_TRUE(r2.completed);
  EXPECT_EQ(a.all.size(), 8u) << "a steady state emits nothing";
  EXPECT_EQ(api_.requests, 5) << "and spends only the list pages";
}

TEST_F(FlagsStreamTest, AnyVersionChangeIsAnUpsertAndADisappearanceADelete) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1000);
  world_.live["flag-3"] = flag("flag-3", 1, 2);  // one environment's version only
  world_.live["flag-4"] = flag("flag-4", 2);     // the flag's _version only
  world_.archived["flag-5"] = flag("flag-5", 2);
  world_.archived["flag-5"]["archived"] = true;
  world_.live.erase("flag-5");
  world_.live.erase("flag-2");
  world_.live["flag-9"] = flag("flag-9", 1);
  world_.publish(api_);
  const size_t before = a.all.size();
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, 2000);
  ASSERT_TRUE(r2.completed);
  expect_matches(a, {"flag-2"});
  EXPECT_EQ(a.all.size() - before, 5u);  // flag-3, flag-4, flag-5, flag-9, delete flag-2
}

TEST_F(FlagsStreamTest, CrashAfterEveryBatchChangesNothingOfTheOutcome) {
  Archive base;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, base, 1000);
  world_.live["flag-3"] = flag("flag-3", 1, 2);
  world_.live.erase("flag-2");
  world_.live.erase("flag-6");
  world_.live["flag-9"] = flag("flag-9", 1);
  world_.publish(api_);
  Archive clean = base;
  auto full = run_pass(*stream(), r1.final_cursor, projects_, api_, clean, 2000);
  ASSERT_TRUE(full.completed);
  const size_t batches = full.cursors.size();
  ASSERT_GT(batches, 4u);
  for (size_t k = 1; k < batches; ++k) {
    SCOPED_TRACE("crash after batch " + std::to_string(k));
    Archive a = base;
    auto crashed = run_pass(*stream(), r1.final_cursor, projects_, api_, a, 2000, k);
    ASSERT_FALSE(crashed.completed);
    // Deletes come only from a complete snapshot: none before the listing is done.
    const auto& open = crashed.final_cursor["snapshot"]["open"];
    if (!open.is_null() && !open["listed"].get<bool>()) {
      for (const auto& e : a.all) EXPECT_NE(e["op"], "delete");
    }
    const size_t requests_before = static_cast<size_t>(api_.requests);
    auto resumed = run_pass(*stream(), crashed.final_cursor, projects_, api_, a, 3000);
    ASSERT_TRUE(resumed.completed);
    expect_matches(a, {"flag-2", "flag-6"});
    // The restart resumed where the crash left it: it did not start the snapshot over.
    EXPECT_LE(static_cast<size_t>(api_.requests) - requests_before, batches - k + 1);
    // ... and nothing was exported twice beyond the one page that is redone.
    std::map<std::string, int> emitted;
    for (size_t i = base.all.size(); i < a.all.size(); ++i) emitted[a.all[i]["id"]]++;
    for (const auto& [id, n] : emitted) EXPECT_LE(n, 2) << id;
  }
}

TEST_F(FlagsStreamTest, AFlagSkippedByAShiftingListIsConfirmedAliveNotDeleted) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1000);
  // While the second pass walks the list, flag-1 (on the first page) is deleted after
  // that page was read: every later item moves one place forward, so one is skipped.
  api_.before_answer = [this](int n) {
    if (n == 2) {
      world_.live.erase("flag-1");
      world_.publish(api_);
    }
  };
  api_.requests = 0;
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, 2000);
  ASSERT_TRUE(r2.completed);
  expect_matches(a, {"flag-1"});
  for (const auto& e : a.all) {
    if (e["op"] == "delete") {
      EXPECT_EQ(e["id"], "default/flag-1");
    }
  }
}

TEST_F(FlagsStreamTest, ProjectLeavingTheSelectionIsForgottenNotDeleted) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1000);
  ld_.projects = {"other"};
  api_.lists["/api/v2/flags/other?summary=0&env=production"] = {};
  auto r2 = run_pass(*stream(), r1.final_cursor, {test::project("other", {"production"})}, api_, a, 2000);
  ASSERT_TRUE(r2.completed);
  for (const auto& e : a.all) EXPECT_NE(e["op"], "delete");
  EXPECT_TRUE(r2.final_cursor["snapshot"]["known"].empty());
}

// LaunchDarkly deleted the project while the selection ("*") still covers it: discovery
// no longer lists it and its flags answer 404. They are deleted, not forgotten.
TEST_F(FlagsStreamTest, AProjectLaunchDarklyDeletedHasItsFlagsDeleted) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, 1000);
  world_.live.clear();
  world_.archived.clear();
  world_.publish(api_);
  api_.lists.clear();  // its lists answer 404 too
  auto r2 = run_pass(*stream(), r1.final_cursor, {}, api_, a, 2000);
  ASSERT_TRUE(r2.completed);
  EXPECT_EQ(a.last.size(), 8u);
  for (const auto& [id, e] : a.last) EXPECT_EQ(e["op"], "delete") << id;
  EXPECT_TRUE(r2.final_cursor["snapshot"]["known"].empty());
}

TEST_F(FlagsStreamTest, ServerCapOnThePageSizeLosesNothing) {
  cfg_.page_limit = 100;
  api_.max_limit = 3;  // the server serves fewer than asked
  Archive a;
  auto r = run_pass(*stream(), nullptr, projects_, api_, a, 1000);
  ASSERT_TRUE(r.completed);
  expect_matches(a, {});
}

// --- refresh: audit_log ---

class FlagsRefreshTest : public FlagsStreamTest {
 protected:
  void SetUp() override {
    FlagsStreamTest::SetUp();
    cfg_.audit_refresh = true;
    cfg_.full_every = Millis(3'600'000);
    cfg_.lookback = Millis(120'000);
    api_.custom = [this](const ApiCall& c, FakeApi& api) -> std::optional<ApiAnswer> {
      if (!c.target.starts_with("/api/v2/auditlog")) return std::nullopt;
      std::string path;
      auto q = test::query_params(c.target, path, nullptr);
      const int64_t after = std::stoll(q["after"]);
      EXPECT_EQ(q["spec"], "proj%2F%2A%3Aenv%2F%2A%3Aflag%2F%2A");
      nlohmann::json page = {{"items", nlohmann::json::array()}, {"_links", nlohmann::json::object()}};
      for (auto it = audit_.rbegin(); it != audit_.rend(); ++it) {
        if ((*it)["date"].get<int64_t>() > after) page["items"].push_back(*it);
      }
      return api.parse(page.dump());
    };
  }
  void audit(const std::string& id, int64_t date, const std::string& flag_key) {
    audit_.push_back({{"_id", id},
                      {"date", date},
                      {"kind", "flag"},
                      {"accesses", {{{"action", "updateOn"}, {"resource", "proj/default:env/production:flag/" + flag_key}}}}});
  }
  std::vector<nlohmann::json> audit_;
};

TEST_F(FlagsRefreshTest, BetweenFullSnapshotsOnlyNamedFlagsAreFetched) {
  Archive a;
  const int64_t t0 = 1'800'000'000'000;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, t0);  // full: none completed yet
  ASSERT_TRUE(r1.completed);
  EXPECT_EQ(api_.requests, 5);

  world_.live["flag-3"] = flag("flag-3", 1, 2);
  world_.live.erase("flag-4");
  world_.live["flag-9"] = flag("flag-9", 1);
  world_.publish(api_);
  audit("e1", t0 + 10'000, "flag-3");
  audit("e2", t0 + 11'000, "flag-4");
  audit("e3", t0 + 12'000, "flag-9");
  api_.requests = 0;
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, t0 + 600'000);
  ASSERT_TRUE(r2.completed);
  EXPECT_EQ(api_.requests, 4) << "one audit page and three flag GETs";
  expect_matches(a, {"flag-4"});

  // Steady state: one (empty) audit page per pass, nothing exported.
  const size_t n = a.all.size();
  api_.requests = 0;
  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, t0 + 700'000);
  ASSERT_TRUE(r3.completed);
  EXPECT_EQ(api_.requests, 1);
  EXPECT_EQ(a.all.size(), n);

  // full_every later a full snapshot runs again (and would find what the log missed).
  world_.live["flag-5"] = flag("flag-5", 7);  // no audit entry
  world_.publish(api_);
  auto r4 = run_pass(*stream(), r3.final_cursor, projects_, api_, a, t0 + 3'700'000);
  ASSERT_TRUE(r4.completed);
  expect_matches(a, {"flag-4"});
}

// An unreadable flag holding key values, listed by a full snapshot (dead-lettered once:
// its name is made from the item as listed, unredacted) or answered to a refresh GET, is
// dead-lettered with them redacted; with include_secrets, as it came.
TEST_F(FlagsRefreshTest, UnreadableFlagsAreDeadLetteredRedacted) {
  const std::string sdk = "sdk-0a1b2c3d-4e5f-6789-abcd-ef0123456789";
  const std::string mob = "mob-0a1b2c3d-4e5f-6789-abcd-ef0123456789";
  nlohmann::json bad = flag("bad", 1);
  bad.erase("key");
  bad["variations"] = {{{"value", sdk}}, {{"value", mob}}};
  auto publish = [&] {
    world_.publish(api_);
    api_.lists[kLive].push_back(bad);
  };
  auto expect_redacted = [&](const test::PassRun& r) {
    ASSERT_EQ(r.dead_letters.size(), 1u);
    const std::string& raw = r.dead_letters[0].raw;
    EXPECT_EQ(raw.find(sdk), std::string::npos) << raw;
    EXPECT_EQ(raw.find(mob), std::string::npos) << raw;
    EXPECT_NE(raw.find(R"("variations":[{"value":"[REDACTED]"},{"value":"[REDACTED]"}])"), std::string::npos) << raw;
  };
  publish();
  Archive a;
  const int64_t t0 = 1'800'000'000'000;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, t0);  // full
  ASSERT_TRUE(r1.completed);
  expect_redacted(r1);
  EXPECT_NE(r1.final_cursor.dump().find(unreadable_name("default|live", bad.dump())), std::string::npos)
      << r1.final_cursor.dump();

  world_.live["flag-3"] = flag("flag-3", 1, 2);
  publish();
  api_.singles["/api/v2/flags/default/flag-3?env=production&env=test"] = bad;
  audit("e1", t0 + 10'000, "flag-3");
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, t0 + 600'000);  // refresh
  ASSERT_TRUE(r2.completed);
  expect_redacted(r2);

  ld_.include_secrets = true;
  Archive b;
  auto r3 = run_pass(*stream(), nullptr, projects_, api_, b, t0);
  ASSERT_EQ(r3.dead_letters.size(), 1u);
  EXPECT_NE(r3.dead_letters[0].raw.find(sdk), std::string::npos) << r3.dead_letters[0].raw;
  EXPECT_NE(r3.dead_letters[0].raw.find(mob), std::string::npos) << r3.dead_letters[0].raw;
}

// Between full snapshots too: flags known of a selected project that discovery no
// longer lists make the pass a full snapshot, which deletes them (the audit log names
// no flag when a whole project goes).
TEST_F(FlagsRefreshTest, AProjectLaunchDarklyDeletedHasItsFlagsDeletedBeforeTheNextFullSnapshot) {
  Archive a;
  const int64_t t0 = 1'800'000'000'000;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, t0);
  world_.live.clear();
  world_.archived.clear();
  world_.publish(api_);
  api_.lists.clear();
  auto r2 = run_pass(*stream(), r1.final_cursor, {}, api_, a, t0 + 600'000);
  ASSERT_TRUE(r2.completed);
  EXPECT_EQ(a.last.size(), 8u);
  for (const auto& [id, e] : a.last) EXPECT_EQ(e["op"], "delete") << id;
  EXPECT_TRUE(r2.final_cursor["snapshot"]["known"].empty());
  api_.requests = 0;
  auto r3 = run_pass(*stream(), r2.final_cursor, {}, api_, a, t0 + 700'000);
  EXPECT_EQ(api_.requests, 1) << "then refreshes from the audit log again";
}

// A project the config stops selecting is no reason for a full snapshot (its flags are
// forgotten by the next one).
TEST_F(FlagsRefreshTest, AProjectNoLongerSelectedKeepsRefreshing) {
  Archive a;
  const int64_t t0 = 1'800'000'000'000;
  api_.lists["/api/v2/flags/other?summary=0&env=production"];
  api_.lists["/api/v2/flags/other?summary=0&env=production&filter=state:archived"];
  auto both = projects_;
  both.push_back(test::project("other", {"production"}));
  auto r1 = run_pass(*stream(), nullptr, both, api_, a, t0);
  ld_.projects = {"other"};
  api_.custom = [](const ApiCall& c, FakeApi& api) -> std::optional<ApiAnswer> {
    if (!c.target.starts_with("/api/v2/auditlog")) return std::nullopt;
    return api.parse(R"({"items":[],"_links":{}})");
  };
  api_.requests = 0;
  auto r2 = run_pass(*stream(), r1.final_cursor, {test::project("other", {"production"})}, api_, a, t0 + 600'000);
  ASSERT_TRUE(r2.completed);
  EXPECT_EQ(api_.requests, 1);
  for (const auto& e : a.all) EXPECT_NE(e["op"], "delete");
}

TEST_F(FlagsRefreshTest, CrashWhileFetchingRedoesOneFlag) {
  Archive a;
  const int64_t t0 = 1'800'000'000'000;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, t0);
  for (int i = 1; i <= 5; ++i) {
    world_.live["flag-" + std::to_string(i)] = flag("flag-" + std::to_string(i), 2);
    audit("e" + std::to_string(i), t0 + 1000 * i, "flag-" + std::to_string(i));
  }
  world_.publish(api_);
  // Batches: 1 audit page, 1 merge, then one per flag. Crash after the third flag.
  auto crashed = run_pass(*stream(), r1.final_cursor, projects_, api_, a, t0 + 60'000, 5);
  EXPECT_EQ(crashed.final_cursor["refresh"]["pending"].size(), 2u);
  api_.requests = 0;
  auto resumed = run_pass(*stream(), crashed.final_cursor, projects_, api_, a, t0 + 61'000);
  ASSERT_TRUE(resumed.completed);
  EXPECT_EQ(api_.requests, 2) << "the two pending flags, no new audit read";
  expect_matches(a, {});
}

// Kafka (at least once) received a refresh batch upserting a new flag, then the daemon
// died before the commit; the flag is deleted before the next pass. The stream runner
// had committed the flag's id as unconfirmed, and the resumed refresh deletes it.
TEST_F(FlagsRefreshTest, AnUnconfirmedUpsertOfAFlagDeletedSinceIsDeletedByTheRefresh) {
  Archive kafka;
  const int64_t t0 = 1'800'000'000'000;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, kafka, t0);
  ASSERT_TRUE(r1.completed);
  world_.live["flag-9"] = flag("flag-9", 1);
  world_.publish(api_);
  audit("e1", t0 + 10'000, "flag-9");
  // Batches: the audit page, the merge, then flag-9's GET; none of them committed.
  run_pass(*stream(), r1.final_cursor, projects_, api_, kafka, t0 + 60'000, 3);
  ASSERT_EQ(kafka.last["default/flag-9"]["op"], "upsert");
  world_.live.erase("flag-9");
  world_.publish(api_);
  audit("e2", t0 + 70'000, "flag-9");

  Archive without = kafka;
  ASSERT_TRUE(run_pass(*stream(), r1.final_cursor, projects_, api_, without, t0 + 120'000).completed);
  EXPECT_EQ(without.last["default/flag-9"]["op"], "upsert") << "the flag was never known: no delete";

  auto adopted = cursor_with_unconfirmed(r1.final_cursor, {"default/flag-9"}, "flags");
  ASSERT_TRUE(adopted.is_ok());
  ASSERT_TRUE(run_pass(*stream(), adopted.value(), projects_, api_, kafka, t0 + 120'000).completed);
  expect_matches(kafka, {"flag-9"});
}

// --- refresh: audit_log, when a selected project's environments change ---
// LaunchDarkly deletes or creates an environment: the audit log names no flag, yet every
// flag's data (its `environments` map) changes. The pass after it is a full snapshot.

class FlagsEnvironmentsTest : public FlagsRefreshTest {
 protected:
  static constexpr int64_t kT0 = 1'800'000'000'000;
  // LaunchDarkly as it is with environments `envs` (sorted, as discovery lists them):
  // each flag holds exactly those, and the lists and GETs ask for exactly those.
  void publish_with(const std::vector<std::string>& envs) {
    std::string q;
    for (const auto& e : envs) q += "&env=" + e;
    const std::string live = "/api/v2/flags/default?summary=0" + q;
    const std::string archived = live + "&filter=state:archived";
    api_.lists.clear();
    api_.singles.clear();
    api_.lists[live];
    api_.lists[archived];
    for (const auto* m : {&world_.live, &world_.archived}) {
      for (const auto& [k, f0] : *m) {
        nlohmann::json f = f0;
        nlohmann::json fe = nlohmann::json::object();
        for (const auto& e : envs) {
          fe[e] = f0["environments"].contains(e) ? f0["environments"][e]
                                                 : nlohmann::json{{"on", true}, {"version", 1}, {"lastModified", 1}};
        }
        // Without env= LaunchDarkly leaves the environments map out (API-NOTES §2).
        if (envs.empty()) {
          f.erase("environments");
        } else {
          f["environments"] = fe;
        }
        api_.lists[m == &world_.live ? live : archived].push_back(f);
        api_.singles["/api/v2/flags/default/" + k + (q.empty() ? "" : "?" + q.substr(1))] = f;
      }
    }
    projects_ = {test::project("default", envs)};
  }
  // Another project, with no flag, listed with environments `envs`.
  void add_project_without_flags(const std::string& key, const std::vector<std::string>& envs) {
    std::string q;
    for (const auto& e : envs) q += "&env=" + e;
    api_.lists["/api/v2/flags/" + key + "?summary=0" + q];
    api_.lists["/api/v2/flags/" + key + "?summary=0" + q + "&filter=state:archived"];
    projects_.push_back(test::project(key, envs));
  }
  // One pass from `cursor` that must complete, with api_.requests counting its requests.
  test::PassRun complete_pass(const nlohmann::json& cursor, Archive& a, int64_t now_ms) {
    api_.requests = 0;
    auto r = run_pass(*stream(), cursor, projects_, api_, a, now_ms);
    EXPECT_TRUE(r.completed);
    return r;
  }
  // A complete pass that read every list page (7 live flags at 2 per page, 1 archived).
  static constexpr int kSnapshotRequests = 5;
  void expect_every_flag_holds(const Archive& a, const std::vector<std::string>& envs) {
    ASSERT_EQ(a.last.size(), 8u);
    for (const auto& [id, e] : a.last) {
      EXPECT_EQ(e["op"], "upsert") << id;
      std::vector<std::string> held;
      for (const auto& [env, v] : e["data"]["environments"].items()) held.push_back(env);
      EXPECT_EQ(held, envs) << id;
    }
  }
};

TEST_F(FlagsEnvironmentsTest, AnEnvironmentLaunchDarklyDeletedMakesTheNextPassAFullSnapshot) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  ASSERT_TRUE(r1.completed);
  EXPECT_EQ(r1.final_cursor["environments"], nlohmann::json::parse(R"({"default":["production","test"]})"));
  publish_with({"production"});  // "test" deleted
  const size_t before = a.all.size();
  auto r2 = complete_pass(r1.final_cursor, a, kT0 + 600'000);
  EXPECT_EQ(api_.requests, kSnapshotRequests) << "a full snapshot, not an audit read";
  EXPECT_EQ(a.all.size() - before, 8u) << "every flag is upserted again";
  expect_every_flag_holds(a, {"production"});
  EXPECT_EQ(r2.final_cursor["environments"], nlohmann::json::parse(R"({"default":["production"]})"));
  auto r3 = complete_pass(r2.final_cursor, a, kT0 + 700'000);
  EXPECT_EQ(api_.requests, 1) << "then refreshes from the audit log again";
}

TEST_F(FlagsEnvironmentsTest, AnEnvironmentLaunchDarklyCreatedMakesTheNextPassAFullSnapshot) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  publish_with({"production", "staging", "test"});
  auto r2 = complete_pass(r1.final_cursor, a, kT0 + 600'000);
  EXPECT_EQ(api_.requests, kSnapshotRequests);
  expect_every_flag_holds(a, {"production", "staging", "test"});
  for (const auto& e : a.all) EXPECT_NE(e["op"], "delete");
}

TEST_F(FlagsEnvironmentsTest, UnchangedEnvironmentsKeepRefreshing) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  auto r2 = complete_pass(r1.final_cursor, a, kT0 + 600'000);
  EXPECT_EQ(api_.requests, 1);
  EXPECT_EQ(a.all.size(), 8u);
  EXPECT_EQ(r2.final_cursor["environments"], r1.final_cursor["environments"]);
}

// The config stops selecting "test" (LaunchDarkly still has it): no flag is deleted,
// but their data should no longer hold it, and only a full snapshot re-reads them all.
TEST_F(FlagsEnvironmentsTest, AChangedEnvironmentSelectionMakesTheNextPassAFullSnapshotWithoutDeletes) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  ld_.environments = {"production"};
  publish_with({"production"});
  auto r2 = complete_pass(r1.final_cursor, a, kT0 + 600'000);
  EXPECT_EQ(api_.requests, kSnapshotRequests);
  expect_every_flag_holds(a, {"production"});
}

// Cursors written before the environments were kept: nothing to compare with, so no
// snapshot is forced; the pass records the environments listed, and compares from then on.
TEST_F(FlagsEnvironmentsTest, ACursorWithoutEnvironmentsLoadsAndForcesNoSnapshot) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  nlohmann::json old = r1.final_cursor;
  ASSERT_EQ(old.erase("environments"), 1u);
  auto r2 = complete_pass(old, a, kT0 + 600'000);
  EXPECT_EQ(api_.requests, 1);
  EXPECT_EQ(r2.final_cursor["environments"], nlohmann::json::parse(R"({"default":["production","test"]})"));
  publish_with({"production"});
  auto r3 = complete_pass(r2.final_cursor, a, kT0 + 700'000);
  EXPECT_EQ(api_.requests, kSnapshotRequests);
  expect_every_flag_holds(a, {"production"});
}

TEST_F(FlagsEnvironmentsTest, AMalformedEnvironmentsMemberIsAnErrorNamingIt) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  for (const char* bad : {R"("production")", R"(["production"])", R"({"default":"production"})",
                          R"({"default":[1]})", "null"}) {
    SCOPED_TRACE(bad);
    nlohmann::json c = r1.final_cursor;
    c["environments"] = nlohmann::json::parse(bad);
    auto p = stream()->begin_pass(c, projects_, kT0 + 600'000);
    ASSERT_FALSE(p.is_ok());
    EXPECT_NE(p.status().message().find("flags cursor: environments"), std::string::npos) << p.status().message();
  }
}

// A snapshot that resumes after the environments changed reads its remaining pages with
// the new ones; the flags it read before still hold the deleted environment. The set
// recorded stays the one the snapshot started with, so the pass after it is a full
// snapshot again.
TEST_F(FlagsEnvironmentsTest, AChangeWhileASnapshotIsOpenMakesTheNextPassAFullSnapshotToo) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  // full_every later: a snapshot, interrupted after its first two pages.
  auto crashed = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 3'700'000, 2);
  ASSERT_FALSE(crashed.completed);
  publish_with({"production"});
  auto resumed = run_pass(*stream(), crashed.final_cursor, projects_, api_, a, kT0 + 3'710'000);
  ASSERT_TRUE(resumed.completed);
  EXPECT_EQ(resumed.final_cursor["environments"], nlohmann::json::parse(R"({"default":["production","test"]})"));
  auto r3 = complete_pass(resumed.final_cursor, a, kT0 + 3'720'000);
  EXPECT_EQ(api_.requests, kSnapshotRequests);
  expect_every_flag_holds(a, {"production"});
}

// The environments come back before the next pass: the set recorded is the one the
// snapshot started with again, yet the flags read after the resume lack "test". The
// project is marked mixed, so the pass after the snapshot is still a full one.
TEST_F(FlagsEnvironmentsTest, AChangeWhileASnapshotIsOpenIsCaughtEvenIfUndoneBeforeTheNextPass) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  auto crashed = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 3'700'000, 2);
  ASSERT_FALSE(crashed.completed);
  publish_with({"production"});
  auto resumed = run_pass(*stream(), crashed.final_cursor, projects_, api_, a, kT0 + 3'710'000);
  ASSERT_TRUE(resumed.completed);
  EXPECT_EQ(resumed.final_cursor["environments_mixed"], nlohmann::json::parse(R"(["default"])"));
  publish_with({"production", "test"});  // back as it was when the snapshot started
  auto r3 = complete_pass(resumed.final_cursor, a, kT0 + 3'720'000);
  EXPECT_EQ(api_.requests, kSnapshotRequests);
  expect_every_flag_holds(a, {"production", "test"});
  EXPECT_FALSE(r3.final_cursor.contains("environments_mixed"));
  auto r4 = complete_pass(r3.final_cursor, a, kT0 + 3'730'000);
  EXPECT_EQ(api_.requests, 1) << "then refreshes from the audit log again";
}

TEST_F(FlagsEnvironmentsTest, AMalformedEnvironmentsMixedMemberIsAnErrorNamingIt) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  for (const char* bad : {R"("default")", R"({"default":1})", R"([1])"}) {
    SCOPED_TRACE(bad);
    nlohmann::json c = r1.final_cursor;
    c["environments_mixed"] = nlohmann::json::parse(bad);
    auto p = stream()->begin_pass(c, projects_, kT0 + 600'000);
    ASSERT_FALSE(p.is_ok());
    EXPECT_NE(p.status().message().find("flags cursor: environments_mixed"), std::string::npos)
        << p.status().message();
  }
}

// A project with no selected environment is recorded with none (its flags were listed
// without env=), so an environment created in it later is caught like any other.
TEST_F(FlagsEnvironmentsTest, AnEnvironmentCreatedInAProjectThatHadNoneMakesTheNextPassAFullSnapshot) {
  publish_with({});
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  ASSERT_TRUE(r1.completed);
  EXPECT_EQ(r1.final_cursor["environments"], nlohmann::json::parse(R"({"default":[]})"));
  publish_with({"production"});
  auto r2 = complete_pass(r1.final_cursor, a, kT0 + 600'000);
  EXPECT_EQ(api_.requests, kSnapshotRequests);
  expect_every_flag_holds(a, {"production"});
}

// A project the cursor does not name (created, or newly selected): the refresh would read
// only the flags the audit log names from now on, so a full snapshot reads them all.
TEST_F(FlagsEnvironmentsTest, ANewlyListedProjectMakesTheNextPassAFullSnapshot) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  ASSERT_TRUE(r1.completed);
  add_project_without_flags("other", {"production"});
  auto r2 = complete_pass(r1.final_cursor, a, kT0 + 600'000);
  EXPECT_EQ(api_.requests, kSnapshotRequests + 2) << "both projects' lists";
  EXPECT_EQ(r2.final_cursor["environments"],
            nlohmann::json::parse(R"({"default":["production","test"],"other":["production"]})"));
  auto r3 = complete_pass(r2.final_cursor, a, kT0 + 700'000);
  EXPECT_EQ(api_.requests, 1);
}

// A project without flags has nothing stale: its environments changing costs no
// snapshot, and its new set is recorded.
TEST_F(FlagsEnvironmentsTest, EnvironmentsOfAProjectWithoutFlagsChangeWithoutASnapshot) {
  add_project_without_flags("other", {"production"});
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  ASSERT_TRUE(r1.completed);
  projects_.pop_back();
  add_project_without_flags("other", {"production", "staging"});
  auto r2 = complete_pass(r1.final_cursor, a, kT0 + 600'000);
  EXPECT_EQ(api_.requests, 1) << "an audit read, no snapshot";
  EXPECT_EQ(r2.final_cursor["environments"]["other"], nlohmann::json::parse(R"(["production","staging"])"));
}

TEST(FlagOfResource, NamesOneFlag) {
  EXPECT_EQ(flag_of_resource("proj/default:env/production:flag/new-ui;beta"),
            std::make_pair(std::string("default"), std::string("new-ui")));
  EXPECT_EQ(flag_of_resource("proj/default:env/*:flag/x")->second, "x");
  EXPECT_FALSE(flag_of_resource("proj/*:env/*:flag/*"));
  EXPECT_FALSE(flag_of_resource("proj/default:env/production:segment/s"));
  EXPECT_FALSE(flag_of_resource("proj/default"));
}

}  // namespace
}  // namespace ldx
