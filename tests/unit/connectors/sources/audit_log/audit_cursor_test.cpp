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

// The default start (the epoch) sends no `after` at all, not after=-1.
TEST(AuditCursor, ResumeQueryFromTheEpochSendsNoAfter) {
  AuditCursor c;
  AuditCursorLogic logic(0, kLookback);
  logic.begin(c);
  EXPECT_EQ(logic.resume_query(c, 20), "limit=20");
  c.window->before = 5000;
  EXPECT_EQ(logic.resume_query(c, 20), "limit=20&before=5001");
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
  c.recent_from = 30;
  c.recent["a"] = 41;
  c.window = AuditWindow{10, 40, 20, {"x", "y"}, 35};
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

// Runs one pass and returns how many times each id was exported over all passes.
void add_counts(std::map<std::string, int>& counts, const PassResult& r) {
  for (const auto& id : r.exported) ++counts[id];
}

void expect_none_twice(const std::map<std::string, int>& counts) {
  for (const auto& [id, n] : counts) EXPECT_EQ(n, 1) << id << " exported " << n << " times";
}

// One entry a minute for 100 minutes before kEnd.
FakeLog minute_log() {
  FakeLog log;
  for (int i = 0; i < 100; ++i) log.add("m" + std::to_string(1000 + i), kEnd - i * 60'000);
  return log;
}

constexpr int64_t kHour = 3'600'000;

TEST(AuditCursor, RaisingTheLookbackReExportsNothing) {
  FakeLog log = minute_log();
  AuditCursorLogic two_min(0, kLookback), hour(0, kHour);
  nlohmann::json cur;
  std::map<std::string, int> counts;
  add_counts(counts, run_pass(log, two_min, cur));
  EXPECT_EQ(counts.size(), 100u);
  // The same log read with a 1 h lookback: the entries of [high - 1h, high - 2m) are
  // not in `recent` but were exported, and must not be again.
  auto idle = run_pass(log, hour, cur);
  EXPECT_TRUE(idle.exported.empty()) << "re-exported " << idle.exported.size() << ", e.g. " << idle.exported.front();
  // The larger lookback takes effect as `recent` fills: new entries over the next two
  // hours, each pass also finding an entry that became visible late 50 minutes before
  // its newest once the overlap reaches that far.
  for (int step = 1; step <= 8; ++step) {
    const int64_t top = kEnd + step * 15 * 60'000;
    for (int i = 0; i < 15; ++i) log.add("n" + std::to_string(step * 100 + i), top - i * 60'000);
    if (step >= 5) log.add("late" + std::to_string(step), top - 15 * 60'000 - 50 * 60'000 + 7);
    add_counts(counts, run_pass(log, hour, cur));
  }
  expect_none_twice(counts);
  for (int step = 5; step <= 8; ++step) EXPECT_EQ(counts["late" + std::to_string(step)], 1) << step;
  auto c = AuditCursor::from_json(cur).value();
  ASSERT_TRUE(c.high && c.recent_from);
  EXPECT_EQ(*c.recent_from, *c.high - kHour);  // the full hour again
}

TEST(AuditCursor, LoweringTheLookbackReExportsNothingAndStillFindsLateEntries) {
  FakeLog log = minute_log();
  AuditCursorLogic hour(0, kHour), two_min(0, kLookback);
  nlohmann::json cur;
  std::map<std::string, int> counts;
  add_counts(counts, run_pass(log, hour, cur));
  log.add("late-1m", kEnd - 60'000 + 5);
  add_counts(counts, run_pass(log, two_min, cur));
  EXPECT_EQ(counts["late-1m"], 1);
  add_counts(counts, run_pass(log, hour, cur));  // and up again
  expect_none_twice(counts);
  EXPECT_EQ(counts.size(), 101u);
  auto c = AuditCursor::from_json(cur).value();
  for (const auto& [id, date] : c.recent) EXPECT_GE(date, *c.recent_from) << id;
}

TEST(AuditCursor, LookbackRaisedByARestartInsideAWindowReExportsNothing) {
  // One entry each 10 s: the first page (20 entries) spans more than the 2 m lookback.
  FakeLog log;
  for (int i = 0; i < 200; ++i) log.add("t" + std::to_string(1000 + i), kEnd - i * 10'000);
  AuditCursorLogic two_min(0, kLookback), hour(0, kHour);
  nlohmann::json cur;
  std::map<std::string, int> counts;
  auto crashed = run_pass(log, two_min, cur, 1);  // page 1 kept from top - 2m only
  ASSERT_TRUE(crashed.crashed);
  add_counts(counts, crashed);
  add_counts(counts, run_pass(log, hour, cur));  // resumed with a 1 h lookback
  add_counts(counts, run_pass(log, hour, cur));
  expect_none_twice(counts);
  EXPECT_EQ(counts.size(), 200u);
}

TEST(AuditCursor, RandomLookbackChangesAndCrashesNeverExportTwice) {
  std::mt19937 rng(19);
  FakeLog log = make_log(300, kEnd, rng, 5);
  const int64_t lookbacks[] = {0, 1'000, kLookback, 600'000, kHour};
  std::uniform_int_distribution<int> pick(0, 4), crash(0, 3), news(0, 40);
  std::map<std::string, int> counts;
  nlohmann::json cur;
  int64_t top = kEnd;
  for (int pass = 0; pass < 60; ++pass) {
    AuditCursorLogic logic(0, lookbacks[pick(rng)]);
    const int k = crash(rng);
    add_counts(counts, run_pass(log, logic, cur, k == 0 ? std::nullopt : std::optional<int>(k)));
    const int n = news(rng);
    for (int i = 0; i < n; ++i) {
      top += std::uniform_int_distribution<int64_t>(0, 20'000)(rng);
      log.add("r" + std::to_string(pass * 100 + i), top);
      // Now and then one that becomes visible late, up to an hour back.
      if (i % 9 == 4) log.add("l" + std::to_string(pass * 100 + i), top - std::uniform_int_distribution<int64_t>(0, kHour)(rng));
    }
  }
  AuditCursorLogic last(0, kLookback);
  add_counts(counts, run_pass(log, last, cur));
  expect_none_twice(counts);
  for (const auto& e : log.entries) {
    if (e.id[0] == 'l') continue;  // late ones may be missed
    EXPECT_EQ(counts[e.id], 1) << e.id;
  }
}

// A cursor written before recent_from existed, by a run whose lookback was 2 m, read by
// one with 1 h: it must not re-export what the old `recent` did not cover.
TEST(AuditCursor, CursorsWithoutRecentFromAreReadSafely) {
  FakeLog log = minute_log();
  AuditCursorLogic two_min(0, kLookback), hour(0, kHour);
  nlohmann::json cur;
  run_pass(log, two_min, cur);
  cur.erase("recent_from");
  auto c = AuditCursor::from_json(cur).value();
  ASSERT_TRUE(c.recent_from);
  EXPECT_EQ(*c.recent_from, kEnd - 2 * 60'000);  // the oldest date `recent` holds
  EXPECT_TRUE(run_pass(log, hour, cur).exported.empty());
  // With nothing in `recent`, even the entries at `high` are not known to be there.
  nlohmann::json bare{{"v", 1}, {"high", kEnd}, {"recent", nlohmann::json::object()}, {"window", nullptr}};
  EXPECT_EQ(AuditCursor::from_json(bare)->recent_from.value_or(0), kEnd + 1);
  EXPECT_TRUE(run_pass(log, hour, bare).exported.empty());
}

TEST(AuditCursor, OpenWindowsWithoutKeepFromAreReadSafely) {
  FakeLog log;
  for (int i = 0; i < 200; ++i) log.add("t" + std::to_string(1000 + i), kEnd - i * 10'000);
  AuditCursorLogic two_min(0, kLookback), hour(0, kHour);
  nlohmann::json cur;
  std::map<std::string, int> counts;
  add_counts(counts, run_pass(log, two_min, cur, 1));
  cur["window"].erase("keep_from");
  add_counts(counts, run_pass(log, hour, cur));
  add_counts(counts, run_pass(log, hour, cur));
  expect_none_twice(counts);
  EXPECT_EQ(counts.size(), 200u);
}

std::string cursor_error(const nlohmann::json& j) {
  auto r = AuditCursor::from_json(j);
  EXPECT_FALSE(r.is_ok()) << j.dump();
  if (r.is_ok()) return "";
  EXPECT_TRUE(r.status().is_fatal());
  EXPECT_NE(r.status().message().find("ldexport checkpoints reset audit_log"), std::string::npos)
      << r.status().message();
  return r.status().message();
}

bool has_text(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(AuditCursor, MalformedCursorsNameTheMember) {
  AuditCursor good;
  good.high = 42;
  good.recent_from = 30;
  good.recent["a"] = 41;
  good.window = AuditWindow{10, 40, 20, {"x"}, 35};
  const nlohmann::json base = good.to_json();
  auto with = [&](const std::string& pointer, const nlohmann::json& v) {
    nlohmann::json j = base;
    j[nlohmann::json::json_pointer(pointer)] = v;
    return cursor_error(j);
  };
  EXPECT_PRED2(has_text, with("/window/lower", "10"), "window.lower: expected an integer, found a string");
  EXPECT_PRED2(has_text, with("/window/upper", 1.5), "window.upper: expected an integer, found a number");
  EXPECT_PRED2(has_text, with("/high", true), "high: expected an integer, found a boolean");
  EXPECT_PRED2(has_text, with("/recent_from", "x"), "recent_from: expected an integer, found a string");
  EXPECT_PRED2(has_text, with("/recent/a", "41"), "recent.a: expected an integer, found a string");
  EXPECT_PRED2(has_text, with("/recent", nlohmann::json::array({41})), "recent: expected an object, found an array");
  EXPECT_PRED2(has_text, with("/window", 7), "window: expected an object, found an integer");
  EXPECT_PRED2(has_text, with("/window/done_at_before", "x"),
               "window.done_at_before: expected an array, found a string");
  EXPECT_PRED2(has_text, with("/window/done_at_before/0", 5),
               "window.done_at_before[0]: expected a string, found an integer");
  EXPECT_PRED2(has_text, with("/high", nlohmann::json(uint64_t{1} << 63)), "high: expected an integer of 64 bits");
  nlohmann::json j = base;
  j["window"].erase("lower");
  EXPECT_PRED2(has_text, cursor_error(j), "window.lower: missing");
  j = base;
  j.erase("recent");
  EXPECT_PRED2(has_text, cursor_error(j), "recent: missing");
  EXPECT_PRED2(has_text, cursor_error(nlohmann::json::array()), "expected an object, found an array");
}

TEST(AuditCursor, AnUnknownVersionIsNamed) {
  nlohmann::json j = AuditCursor{}.to_json();
  j["v"] = 2;
  const std::string e = cursor_error(j);
  EXPECT_PRED2(has_text, e, "unknown version 2");
  EXPECT_PRED2(has_text, e, "reads version 1");
  j.erase("v");
  EXPECT_PRED2(has_text, cursor_error(j), "unknown version (none)");
  j["v"] = "1";
  EXPECT_PRED2(has_text, cursor_error(j), "unknown version \"1\"");
}

}  // namespace
}  // namespace ldx
