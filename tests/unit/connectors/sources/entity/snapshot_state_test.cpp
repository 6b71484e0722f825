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
  back->begin_snapshot(3000);
  EXPECT_FALSE(back->observe_unreadable(changed)) << "listed again unchanged: nothing new";
  EXPECT_FALSE(SnapshotState{}.to_json().contains("unreadable")) << "a cursor without any keeps its old form";
}

// Byte-identical unreadable items share a name: each copy a listing shows beyond those
// held is new (dead-lettered), and a complete snapshot holds as many as it listed.
TEST(SnapshotState, IdenticalUnreadableItemsAreCountedPerCopy) {
  SnapshotState s;
  const std::string bad = unreadable_name("p/e", "{\"name\":\"no key\"}");
  s.begin_snapshot(1000);
  EXPECT_TRUE(s.observe_unreadable(bad));
  EXPECT_TRUE(s.observe_unreadable(bad)) << "a second identical item is a second dead letter";
  EXPECT_EQ(s.unreadable_copies(bad), 2u);
  s.end_snapshot(all);
  EXPECT_EQ(s.unreadable_listed("p/e"), 2u);

  // A crash mid-snapshot: the copies it listed so far survive the commit.
  s.begin_snapshot(2000);
  EXPECT_FALSE(s.observe_unreadable(bad));
  auto back = SnapshotState::from_json(s.to_json());
  ASSERT_TRUE(back.is_ok());
  EXPECT_FALSE(back->observe_unreadable(bad)) << "the second copy, held already";
  EXPECT_TRUE(back->observe_unreadable(bad)) << "a third copy";
  back->end_snapshot(all);
  EXPECT_EQ(back->unreadable_listed("p/e"), 3u);

  // Fewer listed: fewer held, and the one gone is new again should it come back.
  back->begin_snapshot(3000);
  EXPECT_FALSE(back->observe_unreadable(bad));
  back->end_snapshot(all);
  EXPECT_EQ(back->unreadable_copies(bad), 1u);
  back->begin_snapshot(4000);
  EXPECT_FALSE(back->observe_unreadable(bad));
  EXPECT_TRUE(back->observe_unreadable(bad));
  back->end_snapshot(all);

  // Outside a snapshot the caller numbers the copies of its own listing.
  EXPECT_FALSE(back->observe_unreadable(bad, 1));
  EXPECT_FALSE(back->observe_unreadable(bad, 2));
  EXPECT_TRUE(back->observe_unreadable(bad, 3));
  EXPECT_FALSE(back->observe_unreadable(bad, 3)) << "held now";
  EXPECT_EQ(back->unreadable_listed("p/e"), 3u);
}

// The form 8dc6669 wrote, {name: gen}, reads as one copy; a name holding one copy is
// still written that way.
TEST(SnapshotState, UnreadableCursorOfOneCopyPerNameKeepsItsForm) {
  const std::string bad = unreadable_name("p/e", "{\"name\":\"no key\"}");
  const std::string other = unreadable_name("p/e", "{\"name\":\"other\"}");
  nlohmann::json old = {{"gen", 3}, {"last_complete_started_ms", 1000}, {"known", nlohmann::json::object()},
                        {"unreadable", {{bad, 3}}}, {"open", nullptr}};
  auto s = SnapshotState::from_json(old);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->unreadable_copies(bad), 1u);
  EXPECT_EQ(s->to_json(), old) << "written back unchanged";
  s->begin_snapshot(2000);
  EXPECT_FALSE(s->observe_unreadable(bad));
  EXPECT_TRUE(s->observe_unreadable(bad));
  EXPECT_TRUE(s->observe_unreadable(other));
  const auto j = s->to_json();
  EXPECT_EQ(j["unreadable"][bad], nlohmann::json::array({4, 2, 2}));
  EXPECT_EQ(j["unreadable"][other], 4);

  // An open snapshot of the old form: a name of the open generation was listed once.
  old["gen"] = 4;
  old["unreadable"] = {{bad, 4}};
  old["open"] = {{"started_ms", 2000}, {"scope", "p/e"}, {"offset", 3}, {"listed", false}};
  auto open = SnapshotState::from_json(old);
  ASSERT_TRUE(open.is_ok());
  EXPECT_TRUE(open->observe_unreadable(bad)) << "a second copy after the one listed before the crash";
}

// A confirmation GET's unreadable answer is named under the id it confirms: it is that
// entity, counted by its id, not one more item of the list scope.
TEST(SnapshotState, ConfirmationAnswersAreNotCountedAsListed) {
  SnapshotState s;
  s.begin_snapshot(1000);
  s.observe("p/e/k", "1");
  EXPECT_TRUE(s.observe_unreadable(unreadable_name("p/e", "{\"name\":\"no key\"}")));
  EXPECT_TRUE(s.observe_unreadable(unreadable_name("p/e/k", "{\"name\":\"k, unreadable\"}")));
  s.end_snapshot(all);
  EXPECT_EQ(s.unreadable_listed("p/e"), 1u);
  EXPECT_EQ(s.unreadable_with_prefix("p/e/").size(), 2u);
  EXPECT_EQ(s.unreadable_listed("p/e/k"), 1u);
  EXPECT_EQ(s.unreadable_listed("p/f"), 0u);
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
