#include "sources/audit_log/audit_completeness.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

#include "http/http_client.h"
#include "sources/audit_log/audit_log_source.h"
#include "fake_audit_server.h"

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
  logic.mark_checked(s, *r);
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
  logic.mark_checked(s, *r);

  // The window completes: the rest below is due, then everything up to 9W is checked.
  c.window.reset();
  c.high = 10 * W + 500;
  r = logic.due_at_window_end(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 0);
  EXPECT_EQ(r->to, 4 * W);
  logic.mark_checked(s, *r);
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
  s.checked_limit = 8 * W;
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
  EXPECT_EQ(back->checked_limit, 8 * W);
  EXPECT_EQ(back->exported, s.exported);
  EXPECT_TRUE(CompletenessState::from_json(nlohmann::json{{"since", "x"}}).status().is_fatal());
}

// The check due at a window's end is cut short (SIGTERM, retries exhausted): the next
// window ends higher up. The windows between the two closed limits used to be marked
// checked at that window's end without being listed again, their ids kept for good.
TEST(AuditCompleteness, AnEndCheckCutShortIsDoneInTheNextWindowAndSkipsNothing) {
  CompletenessLogic logic(W, W, 0, 0);
  AuditCursor c;
  c.window = AuditWindow{};
  CompletenessState s = logic.init(c);
  c.window->upper = 10 * W + 500;
  logic.record_exported(s, "in-9", 9 * W + 1);
  logic.record_exported(s, "in-10", 10 * W + 1);
  c.window->before = 3 * W + 10;
  auto r = logic.due_in_window(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 4 * W);
  EXPECT_EQ(r->to, 9 * W);
  logic.mark_checked(s, *r);
  EXPECT_EQ(s.checked_from, 4 * W);
  EXPECT_EQ(s.checked_limit, 9 * W);

  c.window.reset();
  c.high = 10 * W + 500;
  r = logic.due_at_window_end(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 0);
  EXPECT_EQ(r->to, 4 * W);
  // ... never finished. The state as committed with the window's last page:
  c.completeness = s.to_json();
  auto back = AuditCursor::from_json(c.to_json());
  ASSERT_TRUE(back.is_ok());
  auto loaded = CompletenessState::from_json(back->completeness);
  ASSERT_TRUE(loaded.is_ok());
  s = std::move(loaded.value());
  logic.loaded(s, *back);
  EXPECT_EQ(s.checked_limit, 9 * W);

  // The next window (lower 9W+500) tops at 12W+10: limit 11W. Its first page makes the
  // cut-short check due at once (everything below its lower bound was walked).
  c.window = AuditWindow{};
  c.window->lower = 9 * W + 500;
  c.window->upper = 12 * W + 10;
  c.window->before = 11 * W + 1;
  logic.record_exported(s, "in-11", 11 * W + 5);
  r = logic.due_in_window(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 0);
  EXPECT_EQ(r->to, 4 * W);
  logic.mark_checked(s, *r);
  EXPECT_EQ(s.checked_to, 9 * W) << "through the limit of the window whose checks ran";
  EXPECT_FALSE(s.checked_from);
  EXPECT_FALSE(s.checked_limit);
  EXPECT_FALSE(logic.due_in_window(s, c));

  // Then as usual: walked windows below the new limit, then the rest at the end.
  c.window->before = 9 * W + 600;
  r = logic.due_in_window(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 10 * W);
  EXPECT_EQ(r->to, 11 * W);
  logic.mark_checked(s, *r);
  c.window.reset();
  c.high = 12 * W + 10;
  r = logic.due_at_window_end(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 9 * W);
  EXPECT_EQ(r->to, 10 * W);
  logic.mark_checked(s, *r);
  EXPECT_EQ(s.checked_to, 11 * W);
  EXPECT_FALSE(s.checked_from);
  EXPECT_EQ(s.exported.size(), 1u);
  EXPECT_TRUE(s.exported.count(11 * W));
}

// If the next window ends on its first page, the cut-short check is due at its end, and
// what closed since right after it.
TEST(AuditCompleteness, AnEndCheckCutShortThenAOnePageWindow) {
  CompletenessLogic logic(W, W, 0, 0);
  AuditCursor c;
  CompletenessState s = logic.init(c);
  s.checked_from = 4 * W;
  s.checked_limit = 9 * W;
  c.high = 12 * W + 10;
  auto r = logic.due_at_window_end(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 0);
  EXPECT_EQ(r->to, 4 * W);
  logic.mark_checked(s, *r);
  EXPECT_EQ(s.checked_to, 9 * W);
  r = logic.due_at_window_end(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 9 * W);
  EXPECT_EQ(r->to, 11 * W);
  logic.mark_checked(s, *r);
  EXPECT_FALSE(logic.due_at_window_end(s, c));
}

// A cursor written before checked_limit existed loads, with the limit its checks used:
// that of the newest window the cursor knows.
TEST(AuditCompleteness, ACursorWithoutCheckedLimitLoads) {
  CompletenessLogic logic(W, W, 0, 0);
  nlohmann::json old{{"window_ms", W}, {"since", 0}, {"checked_to", 0}, {"checked_from", 4 * W},
                     {"exported", {{std::to_string(9 * W), {"a"}}}}};
  // The window in progress ran the checks (they lie above its lower bound).
  AuditCursor open;
  open.high = 4 * W + 500;
  open.window = AuditWindow{};
  open.window->lower = 3 * W + 500;
  open.window->upper = 10 * W + 500;
  auto s = CompletenessState::from_json(old);
  ASSERT_TRUE(s.is_ok());
  EXPECT_FALSE(s->checked_limit);
  logic.loaded(*s, open);
  EXPECT_EQ(s->checked_limit, 9 * W);
  // The window completed, its end check not finished (a fresh window may be open).
  AuditCursor done;
  done.high = 10 * W + 500;
  done.window = AuditWindow{};
  done.window->lower = 9 * W + 500;
  s = CompletenessState::from_json(old);
  ASSERT_TRUE(s.is_ok());
  logic.loaded(*s, done);
  EXPECT_EQ(s->checked_limit, 9 * W);
  EXPECT_EQ(s->exported.size(), 1u);
  // ... and the previous version already walked part of that fresh window (its top is
  // above the completed window's): the checks still belong to the completed one.
  done.window->upper = 12 * W + 10;
  done.window->before = 11 * W + 1;
  s = CompletenessState::from_json(old);
  ASSERT_TRUE(s.is_ok());
  logic.loaded(*s, done);
  EXPECT_EQ(s->checked_limit, 9 * W);
  // ... and that end check was cut short twice: `high` moved on to the next window's top
  // (14W+500, whose limit is 13W). The ids still held at 9W were never checked.
  done.high = 14 * W + 500;
  done.window->lower = 13 * W + 500;
  done.window->upper = 15 * W;
  done.window->before = 14 * W;
  s = CompletenessState::from_json(old);
  ASSERT_TRUE(s.is_ok());
  logic.loaded(*s, done);
  EXPECT_EQ(s->checked_limit, 9 * W);
  EXPECT_EQ(s->exported.size(), 1u) << "the ids of 9W are kept for the check";
}

// A malformed completeness state names the member, by its path in the cursor, and how
// to start over.
TEST(AuditCompleteness, AMalformedStateNamesTheMember) {
  const nlohmann::json good{{"window_ms", W}, {"since", 0}, {"checked_to", 0}, {"checked_from", nullptr},
                            {"exported", {{"60000", {"a"}}}}};
  ASSERT_TRUE(CompletenessState::from_json(good).is_ok());
  struct Case {
    const char* key;
    nlohmann::json value;
    const char* says;
  };
  for (const Case& c : {Case{"window_ms", "60000", "completeness.window_ms: expected an integer, found a string"},
                        Case{"since", nullptr, "completeness.since: expected an integer, found null"},
                        Case{"checked_from", 1.5, "completeness.checked_from: expected an integer"},
                        Case{"exported", nlohmann::json::array(), "completeness.exported: expected an object"},
                        Case{"exported", {{"x1", {"a"}}}, "completeness.exported.x1: the key is not a window start"},
                        Case{"exported", {{"60000", "a"}}, "completeness.exported.60000: expected an array"},
                        Case{"exported", {{"60000", {1}}}, "completeness.exported.60000[0]: expected a string"}}) {
    nlohmann::json j = good;
    j[c.key] = c.value;
    auto s = CompletenessState::from_json(j);
    ASSERT_FALSE(s.is_ok()) << c.key;
    EXPECT_NE(s.status().message().find(c.says), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("ldexport checkpoints reset audit_log"), std::string::npos);
  }
  nlohmann::json missing = good;
  missing.erase("checked_to");
  auto s = CompletenessState::from_json(missing);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("completeness.checked_to: missing"), std::string::npos) << s.status().message();
}

TEST(AuditCompleteness, AMalformedCheckedLimitIsAnErrorNamingIt) {
  nlohmann::json j{{"window_ms", W}, {"since", 0}, {"checked_to", 0}, {"checked_from", 4 * W},
                   {"exported", nlohmann::json::object()}};
  for (const nlohmann::json& bad : {nlohmann::json("9"), nlohmann::json(1.5), nlohmann::json::array(),
                                    nlohmann::json(18446744073709551615ULL), nlohmann::json(3 * W)}) {
    j["checked_limit"] = bad;
    auto s = CompletenessState::from_json(j);
    ASSERT_FALSE(s.is_ok()) << bad;
    EXPECT_TRUE(s.status().is_fatal());
    EXPECT_NE(s.status().message().find("checked_limit"), std::string::npos) << s.status().message();
  }
  j["checked_from"] = nullptr;
  j["checked_limit"] = 9 * W;
  EXPECT_FALSE(CompletenessState::from_json(j).is_ok()) << "a limit without checks";
  j["checked_limit"] = nullptr;
  EXPECT_TRUE(CompletenessState::from_json(j).is_ok());
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

// The listing shifted between two pages of the check (an entry inserted above): the
// entries at the page boundary are listed twice. Counted once, and a missing one is
// re-fetched once, not exported twice.
TEST(AuditCompleteness, TallyCountsAnIdListedTwiceInOneCheckOnce) {
  CompletenessLogic logic(W, 0, 0, 0);
  AuditCursor c;
  CompletenessState s = logic.init(c);
  logic.record_exported(s, "a", W + 5);
  CompletenessTally tally(logic, s, CheckRange{0, 2 * W});
  EXPECT_FALSE(tally.listed("a", W + 5));
  EXPECT_TRUE(tally.listed("e", W + 4));
  EXPECT_FALSE(tally.listed("a", W + 5)) << "listed again on the next page";
  EXPECT_FALSE(tally.listed("e", W + 4)) << "kept to re-fetch once";
  const auto& w = tally.windows().at(W);
  EXPECT_EQ(w.listed, 2u);
  EXPECT_EQ(w.missing, std::vector<std::string>{"e"});
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

  auto run_check = [&](CheckRange r) {
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
    logic.mark_checked(*s, r);
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
        while (auto r = logic.due_at_window_end(*s, c)) run_check(*r);
        return;
      }
      if (auto r = logic.due_in_window(*s, c)) run_check(*r);
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

using test::FakeAuditLogServer;

struct SourcePass {
  std::vector<std::string> exported;      // record ids
  std::vector<std::string> dead_letters;  // raw
  nlohmann::json cursor;
};

SourcePass run_source_pass(Source& src, const nlohmann::json& cursor) {
  SourcePass out;
  out.cursor = cursor;
  auto st = src.begin_pass(cursor);
  if (!st.is_ok()) throw std::runtime_error(st.message());
  for (int steps = 0;; ++steps) {
    if (steps > 1000) throw std::runtime_error("pass does not end");
    auto b = src.next_batch();
    if (!b.is_ok()) throw std::runtime_error(b.status().message());
    if (!b.value()) return out;
    for (const auto& r : b.value()->records) out.exported.push_back(r.id);
    for (const auto& d : b.value()->dead_letters) out.dead_letters.push_back(d.raw);
    out.cursor = b.value()->cursor;  // every batch committed
  }
}

// An entry that cannot be exported (a number beyond 64 bits; a key repeated, so no
// canonical form) is dead-lettered, once. It used to be dead-lettered again by the pass
// that re-reads the lookback, and by the completeness check, which counted it missing
// (and warned) because only exported ids were accounted for.
TEST(AuditCompleteness, ADeadLetteredEntryIsAccountedForAndDeadLetteredOnce) {
  FakeAuditLogServer api;
  const int64_t t = 100 * W;
  for (int i = 0; i < 7; ++i) api.add(t + i * 5'000, "e" + std::to_string(i));
  api.add(t + 12'000, "big", R"(,"n":123456789012345678901234567890)");
  api.add(t + 22'000, "twice", R"(,"x":1,"x":2)");

  LaunchDarklyConfig ld;
  ld.base_url = api.base_url();
  ld.token = "api-test";
  ld.max_retries = 0;
  StopSignal stop;
  HttpClientFactory http(ld, stop);
  SourceContext ctx{&ld, &http, &stop};
  AuditLogConfig cfg;
  cfg.page_limit = 3;
  cfg.lookback = Millis(W);
  cfg.completeness_window = Millis(W);
  cfg.completeness_settle = Millis(0);
  AuditLogSource src(cfg, ctx);

  auto p1 = run_source_pass(src, nullptr);
  EXPECT_EQ(p1.exported.size(), 7u);
  ASSERT_EQ(p1.dead_letters.size(), 2u);
  EXPECT_NE(p1.dead_letters[1].find(R"("n":123456789012345678901234567890)"), std::string::npos) << "as it came";

  // Newer entries: the next pass re-reads the lookback, then the windows of the first
  // pass close and are checked.
  api.add(t + 2 * W, "later");
  auto p2 = run_source_pass(src, p1.cursor);
  EXPECT_EQ(p2.exported, std::vector<std::string>{"later"});
  EXPECT_EQ(p2.dead_letters, std::vector<std::string>{}) << "dead-lettered again";
  api.add(t + 5 * W, "last");
  auto p3 = run_source_pass(src, p2.cursor);
  EXPECT_EQ(p3.exported, std::vector<std::string>{"last"});
  EXPECT_EQ(p3.dead_letters, std::vector<std::string>{}) << "dead-lettered again";
  EXPECT_EQ(src.completeness_mismatches(), 0u) << "a dead-lettered entry is not missing";
  const auto state = CompletenessState::from_json(p3.cursor["completeness"]);
  ASSERT_TRUE(state.is_ok());
  EXPECT_GE(state->checked_to, t + W) << "the windows of the bad entries were checked";
}

}  // namespace
}  // namespace ldx
