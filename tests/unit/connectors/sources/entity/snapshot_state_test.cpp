#include "sources/entity/snapshot_state.h"

#include <gtest/gtest.h>

namespace ldx {
namespace {

auto all = [](const std::string&) { return true; };

TEST(SnapshotState, NewChangedSameByFingerprint) {
  SnapshotState s;
  s.begin_snapshot(1000);
  EXPECT_EQ(s.observe("a", "v1"), Observed::kNew);
  EXPECT_EQ(s.observe("a", "v1"), Observed::kSame);
  EXPECT_EQ(s.observe("a", "v2"), Observed::kChanged);
  EXPECT_EQ(s.find("a")->fp, "v2");
}

TEST(SnapshotState, AnAdoptedUnconfirmedIdIsUpsertedWhenListedAndUnseenWhenNot) {
  SnapshotState s;
  s.begin_snapshot(1000);
  s.observe("a", "v1");
  s.end_snapshot(all);
  s.adopt_unconfirmed("a");  // known: left as it is
  EXPECT_EQ(s.find("a")->fp, "v1");
  s.adopt_unconfirmed("b");
  s.adopt_unconfirmed("c");
  ASSERT_NE(s.find("b"), nullptr);
  EXPECT_EQ(s.size(), 3u);
  // The state survives a commit.
  auto back = SnapshotState::from_json(s.to_json());
  ASSERT_TRUE(back.is_ok());
  s = std::move(back.value());
  s.begin_snapshot(2000);
  // Listed again: its fingerprint never matches, so it is written again.
  EXPECT_EQ(s.observe("b", "v1"), Observed::kChanged);
  EXPECT_EQ(s.observe("a", "v1"), Observed::kSame);
  // Not listed: a deletion candidate like any known id.
  EXPECT_EQ(s.unseen(all), std::vector<std::string>{"c"});
}

TEST(SnapshotState, UnseenOnlyAfterANewGenerationAndOnlySelected) {
  SnapshotState s;
  s.begin_snapshot(1000);
  s.observe("p1/a", "1");
  s.observe("p1/b", "1");
  s.observe("p2/c", "1");
  EXPECT_TRUE(s.unseen(all).empty());  // everything was seen by this snapshot
  s.end_snapshot(all);
  EXPECT_EQ(s.last_complete_started_ms(), 1000);

  s.begin_snapshot(2000);
  s.observe("p1/a", "1");
  auto in_p1 = [](const std::string& id) { return id.starts_with("p1/"); };
  EXPECT_EQ(s.unseen(in_p1), std::vector<std::string>{"p1/b"});
  s.forget("p1/b");  // the caller deleted it
  // p2 left the selection: forgotten without a delete, not reported as unseen.
  s.end_snapshot(in_p1);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_NE(s.find("p1/a"), nullptr);
  EXPECT_EQ(s.last_complete_started_ms(), 2000);
}

TEST(SnapshotState, ResumedSnapshotKeepsItsGenerationAndProgress) {
  SnapshotState s;
  s.begin_snapshot(1000);
  s.observe("a", "1");
  s.end_snapshot(all);
  s.begin_snapshot(2000);
  s.progress().scope = "default|live";
  s.progress().offset = 100;
  s.observe("a", "1");
  auto back = SnapshotState::from_json(s.to_json());
  ASSERT_TRUE(back.is_ok());
  EXPECT_TRUE(back->in_snapshot());
  EXPECT_EQ(back->generation(), s.generation());
  back->begin_snapshot(3000);  // a resumed pass opens nothing new
  EXPECT_EQ(back->generation(), s.generation());
  EXPECT_EQ(back->started_ms(), 2000);
  EXPECT_EQ(back->progress().scope, "default|live");
  EXPECT_EQ(back->progress().offset, 100);
  EXPECT_TRUE(back->unseen(all).empty());  // "a" was seen before the crash
}

TEST(SnapshotState, ObserveOutsideASnapshotKeepsTheEntityAlive) {
  SnapshotState s;
  s.begin_snapshot(1);
  s.observe("a", "1");
  s.end_snapshot(all);
  EXPECT_EQ(s.observe("b", "1"), Observed::kNew);  // e.g. an audit-driven refresh
  s.begin_snapshot(2);
  EXPECT_EQ(s.unseen(all), (std::vector<std::string>{"a", "b"}));
}

TEST(SnapshotState, MalformedCursorIsFatal) {
  auto r = SnapshotState::from_json(nlohmann::json{{"gen", "x"}});
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_fatal());
}

TEST(SnapshotState, IdsWithPrefix) {
  SnapshotState s;
  for (const char* id : {"p/e/a", "p/e/b", "p/e2/a", "p/f/a"}) s.observe(id, "1");
  EXPECT_EQ(s.ids_with_prefix("p/e/"), (std::vector<std::string>{"p/e/a", "p/e/b"}));
}

TEST(SnapshotState, UnreadableItemsAreNewOnceAndForgottenWhenNoLongerListed) {
  SnapshotState s;
  s.begin_snapshot(1000);
  const std::string bad = unreadable_name("p/e", "{\"name\":\"no key\"}");
  EXPECT_TRUE(s.observe_unreadable(bad));
  EXPECT_FALSE(s.observe_unreadable(bad)) << "listed again unchanged: nothing new";
  s.end_snapshot(all);
  auto back = SnapshotState::from_json(s.to_json());
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->unreadable_with_prefix("p/e/"), std::vector<std::string>{bad});
  EXPECT_TRUE(back->unreadable_with_prefix("p/f/").empty());
  back->begin_snapshot(2000);
  const std::string changed = unreadable_name("p/e", "{\"name\":\"still no key\"}");
  EXPECT_TRUE(back->observe_unreadable(changed));
  back->end_snapshot(all);
  EXPECT_EQ(back->unreadable_with_prefix("p/e/"), std::vector<std::string>{changed});
  EXPECT_FALSE(SnapshotState{}.to_json().contains("unreadable")) << "a cursor without any keeps its old form";
}

TEST(ContentFingerprint, StableAndSensitive) {
  EXPECT_EQ(content_fingerprint("{\"a\":1}"), content_fingerprint("{\"a\":1}"));
  EXPECT_NE(content_fingerprint("{\"a\":1}"), content_fingerprint("{\"a\":2}"));
  EXPECT_EQ(content_fingerprint("").size(), 16u);
  // Pinned: a fingerprint that changed across versions would re-emit every entity.
  EXPECT_EQ(content_fingerprint("ldexport"), content_fingerprint("ldexport"));
  EXPECT_EQ(content_fingerprint(""), "cbf29ce484222325");
}

}  // namespace
}  // namespace ldx
