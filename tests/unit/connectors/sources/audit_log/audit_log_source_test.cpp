// AuditLogSource driven over HTTP against a fake LaunchDarkly audit log: a completeness
// check cut short at a window's end, and what dead letters of the audit log hold.
#include "sources/audit_log/audit_log_source.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "http/http_client.h"
#include "fake_audit_server.h"

namespace ldx {
namespace {

constexpr int64_t W = 60'000;  // a one-minute completeness window
constexpr const char* kSdkKey = "sdk-12345678-abcd-4ef0-9abc-0123456789ab";
constexpr const char* kMobileKey = "mob-12345678-abcd-4ef0-9abc-0123456789ab";

using FakeApi = test::FakeAuditLogServer;

LaunchDarklyConfig launchdarkly_of(const FakeApi& api) {
  LaunchDarklyConfig ld;
  ld.base_url = api.base_url();
  ld.token = "api-test";
  ld.max_retries = 0;
  return ld;
}

struct Harness {
  explicit Harness(const FakeApi& api) : ld(launchdarkly_of(api)) {}
  LaunchDarklyConfig ld;
  StopSignal stop;
  HttpClientFactory http{ld, stop};
  SourceContext ctx{&ld, &http, &stop};
};

struct Taken {
  std::vector<std::string> exported;  // record ids
  std::vector<Record> records;
  std::vector<DeadLetter> dead;
  nlohmann::json cursor;  // the last one committed
};

// Runs a pass, committing every batch, until it ends or `stop_after(batch)` says to stop
// (the process is gone: whatever the source would do next never happens).
Taken run(Source& src, const nlohmann::json& cursor, const std::function<bool(const Batch&)>& stop_after = {}) {
  Taken out;
  out.cursor = cursor;
  auto st = src.begin_pass(cursor);
  if (!st.is_ok()) throw std::runtime_error(st.message());
  for (int steps = 0;; ++steps) {
    if (steps > 2000) throw std::runtime_error("pass does not end");
    auto b = src.next_batch();
    if (!b.is_ok()) throw std::runtime_error(b.status().message());
    if (!b.value()) return out;
    for (const auto& r : b.value()->records) {
      out.exported.push_back(r.id);
      out.records.push_back(r);
    }
    for (const auto& d : b.value()->dead_letters) out.dead.push_back(d);
    out.cursor = b.value()->cursor;
    if (stop_after && stop_after(*b.value())) return out;
  }
}

// A long window (a backfill) runs checks as it walks; the check due at its end (the
// dates below them) is cut short (SIGTERM). The next pass's window ends higher up. The
// windows between the first window's closed limit and the second's must still be listed
// again: they used to be marked checked without it, so an entry LaunchDarkly listed late
// there was never found, and the ids exported there stayed in the cursor for good.
TEST(AuditLogSource, AnEndOfWindowCheckCutShortSkipsNoWindow) {
  FakeApi api{"environment"};
  const int64_t t = 100 * W;
  for (int i = 0; i <= 30; ++i) api.add(t + i * 20'000, "e" + std::to_string(i));  // t .. t+10W
  api.add(t + 10 * W + 500, "top");

  Harness h(api);
  AuditLogConfig cfg;
  cfg.page_limit = 3;
  cfg.lookback = Millis(W);
  cfg.completeness_window = Millis(W);
  cfg.completeness_settle = Millis(0);

  auto src1 = std::make_unique<AuditLogSource>(cfg, h.ctx);
  // Stops after the batch of the window's last page (its cursor has no window open).
  auto p1 = run(*src1, nullptr, [](const Batch& b) { return b.cursor["window"].is_null(); });
  src1.reset();
  ASSERT_TRUE(p1.cursor["window"].is_null());
  auto s1 = CompletenessState::from_json(p1.cursor["completeness"]);
  ASSERT_TRUE(s1.is_ok());
  ASSERT_TRUE(s1->checked_from) << "checks ran within the window";
  ASSERT_LT(s1->checked_to, *s1->checked_from) << "the end check was due, and cut short";
  EXPECT_EQ(p1.exported.size(), 32u);

  // Listed late, in the window at the first window's closed limit (t+9W): below the next
  // window's lower bound (t+10W+500 - lookback), so only the check can find it.
  api.add(t + 9 * W + 100, "late");
  api.add(t + 12 * W + 10, "new");
  AuditLogSource src2(cfg, h.ctx);
  auto p2 = run(src2, p1.cursor);
  std::vector<std::string> exported2 = p2.exported;
  std::sort(exported2.begin(), exported2.end());
  EXPECT_EQ(exported2, (std::vector<std::string>{"late", "new"}));
  EXPECT_EQ(src2.completeness_mismatches(), 1u);

  auto s2 = CompletenessState::from_json(p2.cursor["completeness"]);
  ASSERT_TRUE(s2.is_ok());
  EXPECT_EQ(s2->checked_to, t + 11 * W);  // closed limit of t+12W+10
  EXPECT_FALSE(s2->checked_from);
  for (const auto& [ws, ids] : s2->exported) {
    EXPECT_GE(ws, s2->checked_to) << ids.size() << " ids kept for window " << ws << ", checked already";
  }

  // Nothing is exported twice by later passes.
  api.add(t + 14 * W, "last");
  AuditLogSource src3(cfg, h.ctx);
  auto p3 = run(src3, p2.cursor);
  EXPECT_EQ(p3.exported, std::vector<std::string>{"last"});
}

// With details, a detail LaunchDarkly answered but that cannot be exported is
// dead-lettered; for an environment its versions hold the SDK and mobile keys, which the
// dead letter held in clear. The record keeps the listing version, as the reason says.
TEST(AuditLogSource, DeadLettersOfDetailsAreRedactedAndSayTheListingWasExported) {
  FakeApi api{"environment"};
  const int64_t t = 100 * W;
  const std::string keys = std::string(R"("apiKey":")") + kSdkKey + R"(","mobileKey":")" + kMobileKey +
                           R"(","note":")" + kSdkKey + "\"";
  api.add(t + 1, "twice");
  api.detail("twice", api.item(t + 1, "twice", R"(,"x":1,"x":2,"currentVersion":{)" + keys + "}"));
  api.add(t + 2, "big");
  api.detail("big", api.item(t + 2, "big", R"(,"n":123456789012345678901234567890,"currentVersion":{)" + keys + "}"));
  api.add(t + 3, "fine");
  api.detail("fine", api.item(t + 3, "fine", R"(,"currentVersion":{)" + keys + "}"));

  Harness h(api);
  AuditLogConfig cfg;
  cfg.details = true;
  AuditLogSource src(cfg, h.ctx);
  auto p = run(src, nullptr);
  EXPECT_EQ(p.exported, (std::vector<std::string>{"fine", "big", "twice"}));
  ASSERT_EQ(p.dead.size(), 2u);
  for (const auto& d : p.dead) {
    EXPECT_EQ(d.raw.find(kSdkKey), std::string::npos) << d.raw;
    EXPECT_EQ(d.raw.find(kMobileKey), std::string::npos) << d.raw;
    EXPECT_NE(d.raw.find(R"("apiKey":"[REDACTED]")"), std::string::npos) << d.raw;
    EXPECT_NE(d.raw.find(R"("note":"[REDACTED]")"), std::string::npos) << d.raw;
    EXPECT_NE(d.reason.find("; exported the listing without versions"), std::string::npos) << d.reason;
  }
  EXPECT_NE(p.dead[0].reason.find("audit entry big detail"), std::string::npos) << p.dead[0].reason;
  EXPECT_NE(p.dead[0].raw.find(R"("n":123456789012345678901234567890)"), std::string::npos) << "as it came";
  EXPECT_NE(p.dead[1].reason.find("audit entry twice detail:"), std::string::npos) << p.dead[1].reason;
  EXPECT_NE(p.dead[1].raw.find(R"("x":1,"x":2)"), std::string::npos) << "both members kept: " << p.dead[1].raw;
}

// LaunchDarkly's next link keeps pointing at the same page: the pass stops with an error
// naming the link instead of reading that page forever. Detected in constant
// memory (the walk no longer keeps every link it followed).
TEST(AuditLogSource, ANextLinkLoopStopsThePass) {
  FakeApi api{"environment"};
  const int64_t t = 100 * W;
  for (int i = 0; i < 5; ++i) api.add(t + i, "e" + std::to_string(i));
  api.next_href("/api/v2/auditlog?limit=20&before=" + std::to_string(t + 3));
  Harness h(api);
  AuditLogConfig cfg;
  AuditLogSource src(cfg, h.ctx);
  ASSERT_TRUE(src.begin_pass(nullptr).is_ok());
  Status end;
  for (int i = 0; i < 10 && end.is_ok(); ++i) {
    auto b = src.next_batch();
    if (!b.is_ok()) end = b.status();
    else if (!b.value()) break;
  }
  ASSERT_FALSE(end.is_ok()) << "the loop was followed, or the pass ended without an error";
  EXPECT_TRUE(end.is_fatal());
  EXPECT_NE(end.message().find("points at a page already read"), std::string::npos) << end.message();
  EXPECT_NE(end.message().find("before=" + std::to_string(t + 3)), std::string::npos) << end.message();
}

// The listing's dead letters (and the check's) are redacted the same way.
TEST(AuditLogSource, DeadLettersOfTheListingAreRedacted) {
  FakeApi api{"environment"};
  const int64_t t = 100 * W;
  const std::string keys = std::string(R"(,"apiKey":")") + kSdkKey + R"(","description":")" + kMobileKey + "\"";
  api.add(t + 1, "twice", R"(,"x":1,"x":2)" + keys);
  api.add(t + 2, "big", R"(,"n":123456789012345678901234567890)" + keys);
  api.add(t + 3, "fine");

  Harness h(api);
  AuditLogConfig cfg;
  AuditLogSource src(cfg, h.ctx);
  auto p = run(src, nullptr);
  EXPECT_EQ(p.exported, std::vector<std::string>{"fine"});
  ASSERT_EQ(p.dead.size(), 2u);
  for (const auto& d : p.dead) {
    EXPECT_EQ(d.raw.find(kSdkKey), std::string::npos) << d.raw;
    EXPECT_EQ(d.raw.find(kMobileKey), std::string::npos) << d.raw;
    EXPECT_NE(d.raw.find(R"("description":"[REDACTED]")"), std::string::npos) << d.raw;
  }
  EXPECT_NE(p.dead[0].raw.find(R"("n":123456789012345678901234567890)"), std::string::npos) << "as it came";
}

}  // namespace
}  // namespace ldx
