#include "sources/audit_log/audit_completeness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace ldx {
namespace {

constexpr int64_t W = 60'000;  // a one-minute completeness window

TEST(AuditCompleteness, WindowsAreAFixedUtcGrid) {
  CompletenessLogic logic(W, 0, 0, 0);
  EXPECT_EQ(logic.window_start(0), 0);
  EXPECT_EQ(logic.window_start(W - 1), 0);
  EXPECT_EQ(logic.window_start(W), W);
  EXPECT_EQ(logic.window_start(-1), -W);
}

TEST(AuditCompleteness, BackfillChecksClosedWindowsAsThePassWalksDown) {
  // lookback 1m, settle 0: windows entirely before (top - 1m) are closed.
  CompletenessLogic logic(W, W, 0, 0);
  AuditCursor c;
  c.window = AuditWindow{};
  CompletenessState s = logic.init(c);
  EXPECT_EQ(s.since, 0);
  EXPECT_EQ(s.checked_to, 0);
  c.window->upper = 10 * W + 500;

  // The walk reached 7W+100: [8W, 9W) is walked and closed; [9W, ...) is not closed.
  c.window->before = 7 * W + 100;
  auto r = logic.due_in_window(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 8 * W);
  EXPECT_EQ(r->to, 9 * W);
  logic.record_exported(s, "in-8", 8 * W + 1);
  logic.record_exported(s, "in-9", 9 * W + 1);
  logic.mark_checked(s, c, r, false);
  EXPECT_EQ(s.checked_from, 8 * W);
  EXPECT_FALSE(s.exported.count(8 * W)) << "a checked window's ids are dropped";
  EXPECT_TRUE(s.exported.count(9 * W)) << "an open window's ids are kept";

  // Still inside window 7: nothing new.
  c.window->before = 7 * W + 50;
  EXPECT_FALSE(logic.due_in_window(s, c));

  // Far below: every window walked since is due at once.
  c.window->before = 3 * W + 10;
  r = logic.due_in_window(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 4 * W);
  EXPECT_EQ(r->to, 8 * W);
  logic.mark_checked(s, c, r, false);

  // The window completes: the rest below is due, then everything up to 9W is checked.
  c.window.reset();
  c.high = 10 * W + 500;
  r = logic.due_at_window_end(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 0);
  EXPECT_EQ(r->to, 4 * W);
  logic.mark_checked(s, c, r, true);
  EXPECT_EQ(s.checked_to, 9 * W);
  EXPECT_FALSE(s.checked_from);
  EXPECT_TRUE(s.exported.count(9 * W));

  // The next pass's window ends higher up: the newly closed windows are due.
  c.high = 12 * W + 10;
  r = logic.due_at_window_end(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 9 * W);
  EXPECT_EQ(r->to, 11 * W);
}

TEST(AuditCompleteness, SettleKeepsRecentWindowsOpenLonger) {
  CompletenessLogic logic(W, W, 5 * W, 0);
  AuditCursor c;
  CompletenessState s = logic.init(c);
  c.high = 10 * W;
  auto r = logic.due_at_window_end(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->to, 4 * W);  // 10W - 1m lookback - 5m settle
}

TEST(AuditCompleteness, SwitchedOnLaterCountsOnlyWhatComesNext) {
  CompletenessLogic logic(W, W, 0, 0);
  AuditCursor c;
  c.high = 50 * W + 7;
  CompletenessState s = logic.init(c);
  EXPECT_EQ(s.since, 50 * W + 8);
  logic.record_exported(s, "old", 50 * W);  // exported before: never counted
  EXPECT_TRUE(s.exported.empty());
  // The first check starts at `since`, mid-window: earlier entries are not compared.
  c.high = 60 * W;
  auto r = logic.due_at_window_end(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 50 * W + 8);
}

TEST(AuditCompleteness, StateSurvivesTheCursor) {
  CompletenessLogic logic(W, W, 0, 100);
  AuditCursor c;
  CompletenessState s = logic.init(c);
  s.checked_from = 7 * W;
  logic.record_exported(s, "a", 9 * W + 1);
  logic.record_exported(s, "b", 9 * W + 2);
  c.completeness = s.to_json();
  auto back_cursor = AuditCursor::from_json(c.to_json());
  ASSERT_TRUE(back_cursor.is_ok());
  auto back = CompletenessState::from_json(back_cursor->completeness);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->window_ms, W);
  EXPECT_EQ(back->since, 100);
  EXPECT_EQ(back->checked_from, 7 * W);
  EXPECT_EQ(back->exported, s.exported);
  EXPECT_TRUE(CompletenessState::from_json(nlohmann::json{{"since", "x"}}).status().is_fatal());
}

TEST(AuditCompleteness, TallyComparesCountsAndNamesTheMissing) {
  CompletenessLogic logic(W, 0, 0, 0);
  AuditCursor c;
  CompletenessState s = logic.init(c);
  for (const char* id : {"a", "b", "c"}) logic.record_exported(s, id, W + 5);
  logic.record_exported(s, "d", 2 * W + 5);
  CompletenessTally tally(logic, s, CheckRange{0, 3 * W});
  EXPECT_FALSE(tally.listed("a", W + 5));
  EXPECT_FALSE(tally.listed("b", W + 5));
  EXPECT_FALSE(tally.listed("c", W + 5));
  EXPECT_TRUE(tally.listed("e", W + 9));  // listed, never exported
  EXPECT_FALSE(tally.listed("d", 2 * W + 5));
  const auto& w = tally.windows();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w.at(W).listed, 4u);
  EXPECT_EQ(w.at(W).exported, 3u);
  EXPECT_EQ(w.at(W).missing, std::vector<std::string>{"e"});
  EXPECT_FALSE(w.at(W).matches());
  EXPECT_TRUE(w.at(2 * W).matches());
}

// A whole export in memory: a LaunchDarkly log paged newest-first where some entries
// are missing from the first listing page that meets them; the pass (AuditCursorLogic)
// and the check are driven as AuditLogSource drives them. Every entry ends up exported
// exactly once, and the cursor keeps few ids.
struct Entry {
  int64_t date;
  std::string id;
};

class FakeLog {
 public:
  std::vector<Entry> entries;  // newest first
  std::set<std::string> hidden_once;

  void add(int64_t date, std::string id) {
    entries.push_back({date, std::move(id)});
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.date > b.date; });
  }

  // Page `skip / limit` of the entries with after < date < before, newest first; a
  // hidden entry is left out of the page that would show it (positions do not move).
  std::vector<Entry> list(int64_t after, int64_t before, size_t skip, size_t limit, bool& has_next) {
    std::vector<Entry> page;
    size_t idx = 0;
    has_next = false;
    for (const auto& e : entries) {
      if (e.date <= after || e.date >= before) continue;
      const size_t i = idx++;
      if (i < skip) continue;
      if (i >= skip + limit) {
        has_next = true;
        break;
      }
      if (hidden_once.erase(e.id)) continue;
      page.push_back(e);
    }
    return page;
  }
};

TEST(AuditCompleteness, SimulatedExportRepairsEveryLateEntryExactlyOnce) {
  std::mt19937 rng(20261128);
  FakeLog log;
  int64_t date = 100 * W;
  for (int i = 0; i < 3000; ++i) {
    date -= std::uniform_int_distribution<int64_t>(0, 2000)(rng);  // ties included
    log.add(date, "e" + std::to_string(i));
  }
  for (int i = 7; i < 3000; i += 97) log.hidden_once.insert("e" + std::to_string(i));

  const int64_t lookback = W;
  AuditCursorLogic cursor_logic(0, lookback);
  CompletenessLogic logic(W, lookback, 0, 0);
  AuditCursor c;
  std::optional<CompletenessState> s;
  std::map<std::string, int> exported;
  size_t repaired = 0;
  size_t max_ids = 0;

  auto run_check = [&](CheckRange r, bool window_end) {
    CompletenessTally tally(logic, *s, r);
    std::vector<std::string> missing;
    bool more = true;
    for (size_t skip = 0; more; skip += 20) {
      for (const auto& e : log.list(r.from - 1, r.to, skip, 20, more)) {
        if (tally.listed(e.id, e.date)) missing.push_back(e.id);
      }
    }
    for (const auto& id : missing) ++exported[id];
    repaired += missing.size();
    logic.mark_checked(*s, c, r, window_end);
  };

  auto run_pass = [&] {
    cursor_logic.begin(c);
    if (!s) s = logic.init(c);
    // The pass's query is fixed; its pages follow next links (positions).
    const int64_t after = c.window->lower - 1;
    const int64_t before = c.window->before ? *c.window->before + 1 : std::numeric_limits<int64_t>::max();
    for (size_t skip = 0;; skip += 20) {
      bool has_next = false;
      std::vector<AuditPageItem> items;
      for (const auto& e : log.list(after, before, skip, 20, has_next)) items.push_back({e.id, e.date});
      auto out = cursor_logic.ingest(c, items, has_next);
      for (size_t k : out.fresh) {
        ++exported[items[k].id];
        logic.record_exported(*s, items[k].id, items[k].date);
      }
      size_t ids = 0;
      for (const auto& [ws, set] : s->exported) ids += set.size();
      max_ids = std::max(max_ids, ids);
      if (out.window_done) {
        if (auto r = logic.due_at_window_end(*s, c)) {
          run_check(*r, true);
        } else {
          logic.mark_checked(*s, c, std::nullopt, true);
        }
        return;
      }
      if (auto r = logic.due_in_window(*s, c)) run_check(*r, false);
    }
  };

  run_pass();  // the backfill
  // Later passes: new entries, some of them late, then one far ahead so every window
  // before it closes.
  for (int i = 0; i < 200; ++i) log.add(100 * W + 1 + i * 500, "n" + std::to_string(i));
  for (int i = 3; i < 200; i += 41) log.hidden_once.insert("n" + std::to_string(i));
  run_pass();
  log.add(200 * W, "last");
  run_pass();

  EXPECT_EQ(exported.size(), log.entries.size()) << "every entry exported";
  for (const auto& [id, n] : exported) EXPECT_EQ(n, 1) << id << " exported " << n << " times";
  EXPECT_GT(repaired, 20u) << "the late entries were found by the check";
  EXPECT_TRUE(log.hidden_once.empty());
  EXPECT_LT(max_ids, 400u) << "the cursor keeps about one window of ids, not the whole log";
}

}  // namespace
}  // namespace ldx
