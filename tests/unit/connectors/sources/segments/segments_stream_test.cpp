// The segments stream against an in-memory API: incremental reads stop at the previous
// pass's newest change, a totalCount that disagrees reconciles the environment (deletes
// confirmed), full passes every full_every, crash after any batch.
#include "sources/segments/segments_source.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "../entity/fake_api.h"
#include "sources/entity/snapshot_state.h"

namespace ldx {
namespace {

using test::Archive;
using test::FakeApi;
using test::run_pass;

constexpr int64_t kT0 = 1'800'000'000'000;
constexpr const char* kList = "/api/v2/segments/p/e?sort=-lastModified";

struct Segments {
  std::map<std::string, nlohmann::json> by_key;
  void put(const std::string& key, int version, int64_t modified, bool unbounded = false) {
    nlohmann::json s = {{"key", key}, {"name", key}, {"version", version}, {"lastModifiedDate", modified},
                        {"creationDate", kT0 - 1'000'000}, {"deleted", false}, {"rules", nlohmann::json::array()},
                        {"unbounded", unbounded}};
    if (!unbounded) s["included"] = {"a", "b"};
    by_key[key] = s;
  }
  void publish(FakeApi& api) const {
    std::vector<nlohmann::json> items;
    for (const auto& [k, s] : by_key) items.push_back(s);
    std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
      return a["lastModifiedDate"].template get<int64_t>() > b["lastModifiedDate"].template get<int64_t>();
    });
    api.lists[kList] = items;
  }
};

class SegmentsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.page_limit = 3;
    cfg_.full_every = Millis(3'600'000);
    cfg_.lookback = Millis(60'000);
    for (int i = 0; i < 10; ++i) segs_.put("s" + std::to_string(i), 1, kT0 - 100'000 + i * 1000, i == 9);
    segs_.publish(api_);
    projects_ = {test::project("p", {"e"})};
  }
  std::unique_ptr<EntityStream> stream() { return make_segments_stream(cfg_, ld_); }
  // A pass in the steady state: one page per environment, nothing dead-lettered again.
  test::PassRun steady_pass(const nlohmann::json& cursor, Archive& a, int64_t now_ms) {
    api_.requests = 0;
    auto r = run_pass(*stream(), cursor, projects_, api_, a, now_ms);
    EXPECT_EQ(api_.requests, 1) << "steady state: one page per environment";
    EXPECT_TRUE(r.dead_letters.empty()) << "nothing is dead-lettered again";
    return r;
  }
  void expect_matches(const Archive& a, const std::vector<std::string>& deleted) {
    for (const auto& [k, s] : segs_.by_key) {
      auto it = a.last.find("p/e/" + k);
      ASSERT_NE(it, a.last.end()) << k;
      EXPECT_EQ(it->second["op"], "upsert");
      EXPECT_EQ(it->second["version"], s["version"]) << k;
    }
    for (const auto& k : deleted) EXPECT_EQ(a.last.at("p/e/" + k)["op"], "delete") << k;
  }
  SegmentsConfig cfg_;
  LaunchDarklyConfig ld_;
  Segments segs_;
  FakeApi api_;
  std::vector<ProjectInfo> projects_;
};

TEST_F(SegmentsStreamTest, IncrementalReadsStopAtTheLastChange) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);  // full (first)
  ASSERT_TRUE(r1.completed);
  expect_matches(a, {});
  EXPECT_EQ(api_.requests, 4);
  EXPECT_EQ(a.last["p/e/s9"]["data"].count("included"), 0u) << "a big segment as listed: no member lists";

  api_.requests = 0;
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 600'000);
  EXPECT_EQ(api_.requests, 1) << "steady state: one page per environment";
  EXPECT_EQ(a.all.size(), 10u);

  segs_.put("s2", 2, kT0 + 601'000);
  segs_.put("s10", 1, kT0 + 602'000);
  segs_.publish(api_);
  api_.requests = 0;
  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, kT0 + 700'000);
  // Page 1: the two changes and the previous newest (a tie at the mark is re-read);
  // page 2 starts with an older one: the read stops there.
  EXPECT_EQ(api_.requests, 2);
  EXPECT_EQ(a.all.size(), 12u);
  expect_matches(a, {});
}

TEST_F(SegmentsStreamTest, ACountThatDisagreesReconcilesTheEnvironment) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  segs_.by_key.erase("s4");
  segs_.by_key.erase("s7");
  segs_.put("s11", 1, kT0 + 601'000);
  segs_.publish(api_);
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 700'000);
  ASSERT_TRUE(r2.completed);
  expect_matches(a, {"s4", "s7"});
  EXPECT_EQ(r2.final_cursor["snapshot"]["known"].size(), 9u);
}

TEST_F(SegmentsStreamTest, DeletedFlagInTheListIsADelete) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  segs_.put("s3", 2, kT0 + 601'000);
  segs_.by_key["s3"]["deleted"] = true;
  segs_.publish(api_);
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 700'000);
  EXPECT_EQ(a.last["p/e/s3"]["op"], "delete");
}

TEST_F(SegmentsStreamTest, CrashAfterEveryBatchOfAReconcile) {
  Archive base;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, base, kT0);
  segs_.by_key.erase("s1");
  segs_.put("s5", 3, kT0 + 601'000);
  segs_.publish(api_);
  Archive clean = base;
  auto full = run_pass(*stream(), r1.final_cursor, projects_, api_, clean, kT0 + 700'000);
  const size_t batches = full.cursors.size();
  ASSERT_GT(batches, 3u);
  for (size_t k = 1; k < batches; ++k) {
    SCOPED_TRACE("crash after batch " + std::to_string(k));
    Archive a = base;
    auto crashed = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 700'000, k);
    auto resumed = run_pass(*stream(), crashed.final_cursor, projects_, api_, a, kT0 + 701'000);
    ASSERT_TRUE(resumed.completed);
    expect_matches(a, {"s1"});
  }
}

TEST_F(SegmentsStreamTest, FullEveryRunsAFullSnapshot) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);
  api_.requests = 0;
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 3'700'000);
  EXPECT_EQ(api_.requests, 4) << "every page";
  EXPECT_EQ(r2.final_cursor["snapshot"]["last_complete_started_ms"], kT0 + 3'700'000);
  cfg_.full_every = Millis(0);
  api_.requests = 0;
  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, kT0 + 3'700'001);
  EXPECT_EQ(api_.requests, 4) << "full_every: 0s makes every pass full";
}

// LaunchDarkly deleted environment "gone" while the selection ("*") still covers it:
// discovery no longer lists it, its segment list and each segment answer 404. Its
// segments are deleted, not forgotten as if the config had stopped selecting it.
class SegmentsOfADeletedEnvironmentTest : public SegmentsStreamTest {
 protected:
  static constexpr const char* kGone = "/api/v2/segments/p/gone?sort=-lastModified";
  void SetUp() override {
    SegmentsStreamTest::SetUp();
    for (int i = 0; i < 4; ++i) {
      api_.lists[kGone].push_back({{"key", "g" + std::to_string(i)}, {"version", 1},
                                   {"lastModifiedDate", kT0 - 90'000 + i}});
    }
    with_gone_ = {test::project("p", {"e", "gone"})};
  }
  void delete_gone() { api_.lists.erase(kGone); }
  void expect_gone_deleted(const Archive& a) {
    for (int i = 0; i < 4; ++i) EXPECT_EQ(a.last.at("p/gone/g" + std::to_string(i))["op"], "delete") << i;
    expect_matches(a, {});
  }
  std::vector<ProjectInfo> with_gone_;
};

TEST_F(SegmentsOfADeletedEnvironmentTest, AFullSnapshotDeletesItsSegments) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, with_gone_, api_, a, kT0);
  ASSERT_EQ(a.last.size(), 14u);
  delete_gone();
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 3'700'000);
  ASSERT_TRUE(r2.completed);
  expect_gone_deleted(a);
  EXPECT_EQ(r2.final_cursor["snapshot"]["known"].size(), 10u);
}

// Between full snapshots an environment that discovery no longer lists is read like
// any other (its list answers 404, so totalCount 0 disagrees with what is known): its
// segments are deleted at once, not an hour later at the next full snapshot.
TEST_F(SegmentsOfADeletedEnvironmentTest, AnIncrementalPassDeletesItsSegments) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, with_gone_, api_, a, kT0);
  delete_gone();
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 600'000);
  ASSERT_TRUE(r2.completed);
  expect_gone_deleted(a);
  EXPECT_EQ(r2.final_cursor["snapshot"]["known"].size(), 10u);
  EXPECT_FALSE(r2.final_cursor["high"].contains("p/gone")) << "no high-water mark kept for an environment gone";
  api_.requests = 0;
  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, kT0 + 700'000);
  EXPECT_EQ(api_.requests, 1) << "then the steady state of the environments left";
}

// A 5xx (or any failure) while the environment's segments are confirmed fails the pass;
// nothing is deleted on a guess, and the next pass does it.
TEST_F(SegmentsOfADeletedEnvironmentTest, AFailedConfirmationDeletesNothing) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, with_gone_, api_, a, kT0);
  delete_gone();
  api_.custom = [](const ApiCall& c, FakeApi&) -> std::optional<ApiAnswer> {
    if (c.target.starts_with("/api/v2/segments/p/gone/")) return ApiAnswer{500, {}, "boom"};
    return std::nullopt;
  };
  Archive failed = a;
  EXPECT_THROW(run_pass(*stream(), r1.final_cursor, projects_, api_, failed, kT0 + 600'000), std::runtime_error);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(failed.last.at("p/gone/g" + std::to_string(i))["op"], "upsert");
  api_.custom = nullptr;
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 600'000);
  expect_gone_deleted(a);
}

// The config stops selecting environment "gone" (LaunchDarkly still has it): its
// segments are forgotten, not deleted, by the incremental and the full pass alike.
TEST_F(SegmentsOfADeletedEnvironmentTest, AnEnvironmentNoLongerSelectedIsForgottenNotDeleted) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, with_gone_, api_, a, kT0);
  ld_.environments = {"e"};
  api_.targets.clear();
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 600'000);
  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, kT0 + 3'700'000);
  ASSERT_TRUE(r3.completed);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a.last.at("p/gone/g" + std::to_string(i))["op"], "upsert");
  EXPECT_EQ(r3.final_cursor["snapshot"]["known"].size(), 10u);
  for (const auto& t : api_.targets) EXPECT_FALSE(t.starts_with("/api/v2/segments/p/gone")) << t;
}

// A segment the stream cannot read (here: no key) is dead-lettered, and LaunchDarkly's
// totalCount still counts it. It used to leave totalCount and the known segments one
// apart for good: every later pass listed the environment completely and dead-lettered
// it again.
TEST_F(SegmentsStreamTest, AnUnreadableSegmentIsDeadLetteredOnceAndCostsNothingAfter) {
  nlohmann::json bad = {{"name", "no key"}, {"version", 1}, {"lastModifiedDate", kT0 - 50'500}};
  auto publish = [&] {
    segs_.publish(api_);
    auto& items = api_.lists[kList];
    auto at = std::find_if(items.begin(), items.end(), [&](const nlohmann::json& s) {
      return s["lastModifiedDate"].get<int64_t>() < bad["lastModifiedDate"].get<int64_t>();
    });
    items.insert(at, bad);
  };
  publish();
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);  // full (first)
  ASSERT_TRUE(r1.completed);
  expect_matches(a, {});
  EXPECT_EQ(r1.dead_letters.size(), 1u);

  auto r2 = steady_pass(r1.final_cursor, a, kT0 + 600'000);
  auto r3 = steady_pass(r2.final_cursor, a, kT0 + 700'000);

  // A full snapshot lists it again: still nothing new to say about it.
  auto r4 = run_pass(*stream(), r3.final_cursor, projects_, api_, a, kT0 + 3'700'000);
  EXPECT_TRUE(r4.dead_letters.empty());
  EXPECT_EQ(a.all.size(), 10u);

  // Changed: dead-lettered again, once; then the steady state is back.
  bad["name"] = "still no key";
  bad["lastModifiedDate"] = kT0 + 3'701'000;
  publish();
  auto r5 = run_pass(*stream(), r4.final_cursor, projects_, api_, a, kT0 + 3'800'000);
  EXPECT_EQ(r5.dead_letters.size(), 1u);
  auto r6 = steady_pass(r5.final_cursor, a, kT0 + 3'900'000);
  expect_matches(a, {});
}

// Two byte-identical unreadable segments are two segments to LaunchDarkly's totalCount
// and two dead letters. They used to share one name in the snapshot state: one dead
// letter, and the known count one short of totalCount, so every incremental pass listed
// the environment completely.
TEST_F(SegmentsStreamTest, IdenticalUnreadableSegmentsAreEachDeadLetteredAndCounted) {
  cfg_.page_limit = 50;  // one page: every incremental pass reads both copies
  const nlohmann::json bad = {{"name", "no key"}, {"version", 1}, {"lastModifiedDate", kT0 - 50'500}};
  size_t copies = 2;
  auto publish = [&] {
    segs_.publish(api_);
    auto& items = api_.lists[kList];
    items.insert(items.begin(), copies, bad);  // the newest: on the first page
  };
  publish();
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);  // full (first)
  ASSERT_TRUE(r1.completed);
  expect_matches(a, {});
  EXPECT_EQ(r1.dead_letters.size(), 2u) << "each copy is dead-lettered";

  auto r2 = steady_pass(r1.final_cursor, a, kT0 + 600'000);

  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, kT0 + 3'700'000);  // full
  EXPECT_TRUE(r3.dead_letters.empty()) << "a full snapshot lists both again: nothing new";

  // One copy goes: the count disagrees once, the environment is listed, then steady.
  copies = 1;
  publish();
  auto r4 = run_pass(*stream(), r3.final_cursor, projects_, api_, a, kT0 + 3'800'000);
  EXPECT_TRUE(r4.dead_letters.empty());
  api_.requests = 0;
  auto r5 = run_pass(*stream(), r4.final_cursor, projects_, api_, a, kT0 + 3'900'000);
  EXPECT_EQ(api_.requests, 1);

  // A third copy appears (two listed now): the one beyond those held is dead-lettered.
  copies = 2;
  publish();
  auto r6 = run_pass(*stream(), r5.final_cursor, projects_, api_, a, kT0 + 4'000'000);
  EXPECT_EQ(r6.dead_letters.size(), 1u);
  auto r7 = steady_pass(r6.final_cursor, a, kT0 + 4'100'000);
  EXPECT_EQ(a.all.size(), 10u);
}

// A confirmation GET that answers an unreadable segment: the id is kept (not deleted on a
// guess) and the reply dead-lettered once. The reply is that same segment: it must not
// also count against the environment's totalCount, or every later pass lists the
// environment completely although nothing changed.
TEST_F(SegmentsStreamTest, AnUnreadableConfirmationReplyIsNotCountedTwice) {
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);  // full (first)
  ASSERT_TRUE(r1.completed);

  // The listing skips s3 (totalCount 9 of 10 known: reconciled); its GET answers 200
  // with an item that cannot be read.
  const nlohmann::json s3 = segs_.by_key.at("s3");
  segs_.by_key.erase("s3");
  segs_.publish(api_);
  api_.singles["/api/v2/segments/p/e/s3"] = {{"name", "no key"}, {"version", 2}};
  auto r2 = run_pass(*stream(), r1.final_cursor, projects_, api_, a, kT0 + 600'000);
  ASSERT_TRUE(r2.completed);
  EXPECT_EQ(r2.dead_letters.size(), 1u);
  EXPECT_EQ(a.last.at("p/e/s3")["op"], "upsert") << "kept, not deleted on a guess";

  // Still skipped: confirmed again, but dead-lettered once only.
  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, kT0 + 700'000);
  ASSERT_TRUE(r3.completed);
  EXPECT_TRUE(r3.dead_letters.empty()) << "the same reply again: dead-lettered once";

  // Listed again: 10 segments, 10 known. One page, no complete listing.
  segs_.by_key["s3"] = s3;
  segs_.publish(api_);
  api_.requests = 0;
  auto r4 = run_pass(*stream(), r3.final_cursor, projects_, api_, a, kT0 + 800'000);
  EXPECT_EQ(api_.requests, 1) << "the unreadable reply was counted as a segment of p/e besides s3";
  api_.requests = 0;
  auto r5 = run_pass(*stream(), r4.final_cursor, projects_, api_, a, kT0 + 900'000);
  EXPECT_EQ(api_.requests, 1);
  EXPECT_EQ(a.last.at("p/e/s3")["op"], "upsert");
}

// An unreadable segment holding key values is dead-lettered with them redacted, by a full
// snapshot and by an incremental pass alike, once: its name is made from the item as
// listed (unredacted), as in cursors committed before dead letters were redacted.
TEST_F(SegmentsStreamTest, UnreadableSegmentsAreDeadLetteredRedactedOnce) {
  cfg_.page_limit = 50;  // one page: steady passes read one page
  const std::string sdk = "sdk-0a1b2c3d-4e5f-6789-abcd-ef0123456789";
  const std::string mob = "mob-0a1b2c3d-4e5f-6789-abcd-ef0123456789";
  const nlohmann::json bad = {{"name", "no key"}, {"version", 1},       {"lastModifiedDate", kT0 - 50'500},
                              {"description", sdk}, {"apiKey", mob}};
  nlohmann::json newer = bad;
  newer["name"] = "another";
  newer["lastModifiedDate"] = kT0 + 601'000;
  auto publish = [&](const std::vector<nlohmann::json>& extra) {
    segs_.publish(api_);
    auto& items = api_.lists[kList];
    items.insert(items.begin(), extra.begin(), extra.end());  // the newest: on the first page
  };
  auto expect_redacted = [&](const DeadLetter& d) {
    EXPECT_EQ(d.raw.find(sdk), std::string::npos) << d.raw;
    EXPECT_EQ(d.raw.find(mob), std::string::npos) << d.raw;
    EXPECT_NE(d.raw.find(R"("apiKey":"[REDACTED]")"), std::string::npos) << d.raw;
    EXPECT_NE(d.raw.find(R"("description":"[REDACTED]")"), std::string::npos) << d.raw;
  };
  publish({bad});
  Archive a;
  auto r1 = run_pass(*stream(), nullptr, projects_, api_, a, kT0);  // full (first)
  ASSERT_TRUE(r1.completed);
  ASSERT_EQ(r1.dead_letters.size(), 1u);
  expect_redacted(r1.dead_letters[0]);
  EXPECT_TRUE(r1.final_cursor["snapshot"]["unreadable"].contains(unreadable_name("p/e", bad.dump())))
      << r1.final_cursor.dump();
  auto r2 = steady_pass(r1.final_cursor, a, kT0 + 600'000);

  publish({newer, bad});
  auto r3 = run_pass(*stream(), r2.final_cursor, projects_, api_, a, kT0 + 700'000);  // incremental
  ASSERT_TRUE(r3.completed);
  ASSERT_EQ(r3.dead_letters.size(), 1u) << "the new one only";
  expect_redacted(r3.dead_letters[0]);
  EXPECT_NE(r3.dead_letters[0].raw.find("another"), std::string::npos) << r3.dead_letters[0].raw;
  EXPECT_TRUE(r3.final_cursor["snapshot"]["unreadable"].contains(unreadable_name("p/e", newer.dump())))
      << r3.final_cursor.dump();
  steady_pass(r3.final_cursor, a, kT0 + 800'000);
  expect_matches(a, {});
}

}  // namespace
}  // namespace ldx
