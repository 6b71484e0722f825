// The audit cursor must export every entry exactly once across page boundaries that
// split a millisecond, restarts at any page, and entries that become visible late.
#include "sources/audit_log/audit_cursor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

namespace ldx {
namespace {

// An in-memory audit log that pages like LaunchDarkly: newest-first, `before`/`after`
// exclusive, and an opaque next position that resumes exactly after the last item.
struct FakeLog {
  std::vector<AuditPageItem> entries;  // kept sorted newest-first (date desc, id desc)

  void add(std::string id, int64_t date) {
    entries.push_back({std::move(id), date});
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return a.date != b.date ? a.date > b.date : a.id > b.id;
    });
  }
  struct Page {
    std::vector<AuditPageItem> items;
    std::optional<size_t> next;  // position of the next page's first item
  };
  // Position-based page (what following _links.next gives).
  Page page_from(size_t pos, int64_t after, int limit) const {
    Page p;
    size_t i = pos;
    for (; i < entries.size() && p.items.size() < static_cast<size_t>(limit); ++i) {
      if (entries[i].date <= after) break;
      p.items.push_back(entries[i]);
    }
    if (i < entries.size() && entries[i].date > after && p.items.size() == static_cast<size_t>(limit)) p.next = i;
    return p;
  }
  // Query-based first page (what resume_query gives).
  Page query(std::optional<int64_t> before, int64_t after, int limit) const {
    size_t pos = 0;
    while (pos < entries.size() && before && entries[pos].date >= *before) ++pos;
    return page_from(pos, after, limit);
  }
};

// Parses "limit=20&after=A&before=B".
std::pair<std::optional<int64_t>, int64_t> parse_query(const std::string& q) {
  std::optional<int64_t> before;
  int64_t after = INT64_MIN;
  if (auto p = q.find("after="); p != std::string::npos) after = std::stoll(q.substr(p + 6));
  if (auto p = q.find("before="); p != std::string::npos) before = std::stoll(q.substr(p + 7));
  return {before, after};
}

// Runs one pass like AuditLogSource does; after `crash_after_pages` pages (if set) it
// "crashes": the pass stops and only the committed cursor survives.
struct PassResult {
  std::vector<std::string> exported;
  bool crashed = false;
};
PassResult run_pass(const FakeLog& log, const AuditCursorLogic& logic, nlohmann::json& committed,
                    std::optional<int> crash_after_pages = std::nullopt) {
  PassResult out;
  AuditCursor c = AuditCursor::from_json(committed).value();
  logic.begin(c);
  auto [before, after] = parse_query(logic.resume_query(c, 20));
  FakeLog::Page page = log.query(before, after, 20);
  for (int pages = 0;; ++pages) {
    if (crash_after_pages && pages == *crash_after_pages) {
      out.crashed = true;
      return out;
    }
    std::vector<AuditPageItem> items = page.items;
    auto outcome = logic.ingest(c, items, page.next.has_value());
    for (size_t k : outcome.fresh) out.exported.push_back(items[k].id);
    committed = c.to_json();  // every sink acked: commit (round-trips through JSON)
    c = AuditCursor::from_json(committed).value();
    if (outcome.window_done) return out;
    page = log.page_from(*page.next, after, 20);
  }
}

FakeLog make_log(int n, int64_t end_ms, std::mt19937& rng, int max_tie = 30) {
  FakeLog log;
  int64_t t = end_ms;
  int id = 0;
  std::uniform_int_distribution<int> tie(1, max_tie), gap(1, 3000);
  while (id < n) {
    int k = std::min(tie(rng), n - id);
    for (int j = 0; j < k; ++j) log.add("e" + std::to_string(100000 + id++), t);
    t -= gap(rng);
  }
  return log;
}

void expect_each_once(const std::vector<std::string>& exported, const FakeLog& log) {
  std::map<std::string, int> count;
  for (const auto& id : exported) ++count[id];
  for (const auto& e : log.entries) EXPECT_EQ(count[e.id], 1) << e.id << " date " << e.date;
  EXPECT_EQ(count.size(), log.entries.size());
}

constexpr int64_t kEnd = 1'764'000'000'000;
constexpr int64_t kLookback = 120'000;

TEST(AuditCursor, TiesLargerThanAPageAcrossBoundariesExportOnce) {
  FakeLog log;
  // 45 entries in one millisecond straddle three pages of 20.
  for (int i = 0; i < 45; ++i) log.add("tie" + std::to_string(100 + i), kEnd);
  for (int i = 0; i < 10; ++i) log.add("old" + std::to_string(i), kEnd - 1000 - i);
  AuditCursorLogic logic(0, kLookback);
  nlohmann::json cur;
  auto r = run_pass(log, logic, cur);
  expect_each_once(r.exported, log);
}

TEST(AuditCursor, CrashAfterEveryPageNeverLosesOrDuplicates) {
  std::mt19937 rng(7);
  FakeLog log = make_log(600, kEnd, rng);
  AuditCursorLogic logic(0, kLookback);
  // Crash after exactly k pages, for every k, then finish with a clean pass.
  for (int k = 1; k < 12; ++k) {
    nlohmann::json cur;
    std::vector<std::string> all;
    auto r = run_pass(log, logic, cur, k);
    all.insert(all.end(), r.exported.begin(), r.exported.end());
    ASSERT_TRUE(r.crashed);
    for (int again = 0; again < 3; ++again) {  // crash repeatedly right after resuming
      auto r2 = run_pass(log, logic, cur, 1);
      all.insert(all.end(), r2.exported.begin(), r2.exported.end());
    }
    auto fin = run_pass(log, logic, cur);
    all.insert(all.end(), fin.exported.begin(), fin.exported.end());
    expect_each_once(all, log);
  }
}

TEST(AuditCursor, ResumeInsideAMillisecondSplitByACrash) {
  FakeLog log;
  for (int i = 0; i < 15; ++i) log.add("a" + std::to_string(10 + i), kEnd);
  for (int i = 0; i < 50; ++i) log.add("b" + std::to_string(10 + i), kEnd - 5);  // spans 3+ pages
  for (int i = 0; i < 5; ++i) log.add("c" + std::to_string(i), kEnd - 9);
  AuditCursorLogic logic(0, kLookback);
  for (int k = 1; k <= 4; ++k) {
    nlohmann::json cur;
    auto r1 = run_pass(log, logic, cur, k);
    auto r2 = run_pass(log, logic, cur);
    std::vector<std::string> all = r1.exported;
    all.insert(all.end(), r2.exported.begin(), r2.exported.end());
    expect_each_once(all, log);
  }
}

TEST(AuditCursor, IncrementalPassesExportOnlyNewEntries) {
  std::mt19937 rng(3);
  FakeLog log = make_log(200, kEnd, rng);
  AuditCursorLogic logic(0, kLookback);
  nlohmann::json cur;
  auto first = run_pass(log, logic, cur);
  auto idle = run_pass(log, logic, cur);
  EXPECT_TRUE(idle.exported.empty()) << "a pass with no changes re-exported " << idle.exported.size();
  for (int i = 0; i < 30; ++i) log.add("new" + std::to_string(i), kEnd + 500 + i / 4);
  auto second = run_pass(log, logic, cur);
  std::vector<std::string> all = first.exported;
  all.insert(all.end(), second.exported.begin(), second.exported.end());
  expect_each_once(all, log);
  EXPECT_EQ(second.exported.size(), 30u);
}

TEST(AuditCursor, LateEntriesInsideTheLookbackAreExportedOnce) {
  FakeLog log;
  for (int i = 0; i < 50; ++i) log.add("x" + std::to_string(100 + i), kEnd - i * 100);
  AuditCursorLogic logic(0, kLookback);
  nlohmann::json cur;
  auto first = run_pass(log, logic, cur);
  // Entries dated before the newest exported one become visible only now: one in the
  // same millisecond as the newest, one a minute older (inside the 2 m lookback).
  log.add("late-same-ms", kEnd);
  log.add("late-minute", kEnd - 60'000);
  auto second = run_pass(log, logic, cur);
  std::vector<std::string> all = first.exported;
  all.insert(all.end(), second.exported.begin(), second.exported.end());
  expect_each_once(all, log);
  EXPECT_EQ(second.exported, (std::vector<std::string>{"late-same-ms", "late-minute"}));
}

TEST(AuditCursor, RespectsStartOnTheFirstRun) {
  FakeLog log;
  for (int i = 0; i < 30; ++i) log.add("s" + std::to_string(100 + i), kEnd - i * 1000);
  AuditCursorLogic logic(kEnd - 9'500, kLookback);  // start: only the 10 newest qualify
  nlohmann::json cur;
  auto r = run_pass(log, logic, cur);
  EXPECT_EQ(r.exported.size(), 10u);
}

TEST(AuditCursor, ResumeQueryWidensBoundsForUnknownInclusiveness) {
  AuditCursor c;
  AuditCursorLogic logic(1000, kLookback);
  logic.begin(c);
  EXPECT_EQ(logic.resume_query(c, 20), "limit=20&after=999");
  c.window->before = 5000;
  EXPECT_EQ(logic.resume_query(c, 20), "limit=20&after=999&before=5001");
}

TEST(AuditCursor, InclusiveApiBoundsDoNotDuplicate) {
  // An API whose before/after are inclusive returns the boundary millisecond again.
  AuditCursorLogic logic(0, kLookback);
  AuditCursor c;
  logic.begin(c);
  std::vector<AuditPageItem> p1{{"a", 300}, {"b", 200}, {"c", 200}};
  auto o1 = logic.ingest(c, p1, true);
  EXPECT_EQ(o1.fresh.size(), 3u);
  // Resumed page (before=201 inclusive) repeats b and c at 200 and shows 201's none.
  std::vector<AuditPageItem> p2{{"b", 200}, {"c", 200}, {"d", 200}, {"e", 100}};
  auto o2 = logic.ingest(c, p2, false);
  ASSERT_EQ(o2.fresh.size(), 2u);
  EXPECT_EQ(p2[o2.fresh[0]].id, "d");
  EXPECT_EQ(p2[o2.fresh[1]].id, "e");
  EXPECT_TRUE(o2.window_done);
}

TEST(AuditCursor, CursorRoundTripsAndRejectsUnknownVersions) {
  AuditCursor c;
  c.high = 42;
  c.recent["a"] = 41;
  c.window = AuditWindow{10, 40, 20, {"x", "y"}};
  auto back = AuditCursor::from_json(c.to_json());
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->to_json(), c.to_json());
  EXPECT_TRUE(AuditCursor::from_json(nlohmann::json{{"v", 99}}).status().is_fatal());
}

TEST(AuditCursor, RecentIsPrunedToTheLookback) {
  std::mt19937 rng(11);
  FakeLog log = make_log(400, kEnd, rng);
  AuditCursorLogic logic(0, 10'000);
  nlohmann::json cur;
  run_pass(log, logic, cur);
  auto c = AuditCursor::from_json(cur).value();
  ASSERT_TRUE(c.high);
  for (const auto& [id, date] : c.recent) EXPECT_GE(date, *c.high - 10'000) << id;
  EXPECT_FALSE(c.recent.empty());
}

}  // namespace
}  // namespace ldx
