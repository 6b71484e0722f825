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

namespace ldx {
namespace {

constexpr int64_t W = 60'000;  // a one-minute completeness window
constexpr const char* kSdkKey = "sdk-12345678-abcd-4ef0-9abc-0123456789ab";
constexpr const char* kMobileKey = "mob-12345678-abcd-4ef0-9abc-0123456789ab";

// The listing (newest first, `after`/`before` exclusive, next links by offset) and the
// detail of each entry, served as written.
class FakeApi {
 public:
  FakeApi() {
    svr_.set_tcp_nodelay(true);
    svr_.Get("/api/v2/auditlog", [this](const httplib::Request& req, httplib::Response& res) { list(req, res); });
    svr_.Get(R"(/api/v2/auditlog/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      auto it = details_.find(req.matches[1].str());
      if (it == details_.end()) {
        res.status = 404;
        res.set_content(R"({"code":"not_found","message":"gone"})", "application/json");
        return;
      }
      res.set_content(it->second, "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
  }
  ~FakeApi() {
    svr_.stop();
    thread_.join();
  }
  FakeApi(const FakeApi&) = delete;
  FakeApi& operator=(const FakeApi&) = delete;

  [[nodiscard]] std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // An entry whose listing item is `{"_id","date","kind","name"` + more + `}`.
  void add(int64_t date, const std::string& id, const std::string& more = "") {
    std::lock_guard lock(mu_);
    entries_.push_back({date, item(date, id, more)});
    std::stable_sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  }
  void detail(const std::string& id, std::string body) {
    std::lock_guard lock(mu_);
    details_[id] = std::move(body);
  }
  static std::string item(int64_t date, const std::string& id, const std::string& more = "") {
    return R"({"_id":")" + id + R"(","date":)" + std::to_string(date) + R"(,"kind":"environment","name":")" + id +
           "\"" + more + "}";
  }

 private:
  void list(const httplib::Request& req, httplib::Response& res) {
    auto param = [&](const char* k, int64_t d) { return req.has_param(k) ? std::stoll(req.get_param_value(k)) : d; };
    const int64_t limit = param("limit", 20);
    const int64_t after = param("after", std::numeric_limits<int64_t>::min());
    const int64_t before = param("before", std::numeric_limits<int64_t>::max());
    const int64_t offset = param("offset", 0);
    std::lock_guard lock(mu_);
    std::string items;
    int64_t n = 0;
    bool more = false;
    for (const auto& [date, raw] : entries_) {
      if (date <= after || date >= before) continue;
      if (n >= offset + limit) {
        more = true;
        break;
      }
      if (n++ < offset) continue;
      items += (items.empty() ? "" : ",") + raw;
    }
    std::string body = R"({"items":[)" + items + R"(],"_links":{)";
    if (more) {
      body += R"("next":{"href":"/api/v2/auditlog?limit=)" + std::to_string(limit) + "&after=" + std::to_string(after) +
              "&before=" + std::to_string(before) + "&offset=" + std::to_string(offset + limit) + R"("})";
    }
    res.set_content(body + "}}", "application/json");
  }

  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::pair<int64_t, std::string>> entries_;  // newest first
  std::map<std::string, std::string> details_;
};

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
  FakeApi api;
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
  FakeApi api;
  const int64_t t = 100 * W;
  const std::string keys = std::string(R"("apiKey":")") + kSdkKey + R"(","mobileKey":")" + kMobileKey +
                           R"(","note":")" + kSdkKey + "\"";
  api.add(t + 1, "twice");
  api.detail("twice", FakeApi::item(t + 1, "twice", R"(,"x":1,"x":2,"currentVersion":{)" + keys + "}"));
  api.add(t + 2, "big");
  api.detail("big", FakeApi::item(t + 2, "big", R"(,"n":123456789012345678901234567890,"currentVersion":{)" + keys + "}"));
  api.add(t + 3, "fine");
  api.detail("fine", FakeApi::item(t + 3, "fine", R"(,"currentVersion":{)" + keys + "}"));

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

// The listing's dead letters (and the check's) are redacted the same way.
TEST(AuditLogSource, DeadLettersOfTheListingAreRedacted) {
  FakeApi api;
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
