// LaunchDarkly's audit log over HTTP on loopback, for driving AuditLogSource itself:
// the listing newest first, `after`/`before` exclusive, next links by offset, and each
// entry's detail (404 when none was given). Entries are served as written, so one may
// hold a number beyond 64 bits or a repeated key.
#pragma once

#include <httplib.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ldx::test {

class FakeAuditLogServer {
 public:
  explicit FakeAuditLogServer(std::string kind = "flag") : kind_(std::move(kind)) {
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
  ~FakeAuditLogServer() {
    svr_.stop();
    thread_.join();
  }
  FakeAuditLogServer(const FakeAuditLogServer&) = delete;
  FakeAuditLogServer& operator=(const FakeAuditLogServer&) = delete;

  [[nodiscard]] std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // An entry whose listing item is `{"_id","date","kind","name"` + more + `}`.
  void add(int64_t date, const std::string& id, const std::string& more = "") {
    std::lock_guard lock(mu_);
    entries_.push_back({date, item(date, id, more)});
    std::stable_sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  }
  // Every listing page from now on carries this next link (empty: the usual ones).
  void next_href(std::string href) {
    std::lock_guard lock(mu_);
    next_href_ = std::move(href);
  }
  void detail(const std::string& id, std::string body) {
    std::lock_guard lock(mu_);
    details_[id] = std::move(body);
  }
  // The listing item `{"_id","date","kind","name"` + more + `}` (kind as constructed).
  [[nodiscard]] std::string item(int64_t date, const std::string& id, const std::string& more = "") const {
    return R"({"_id":")" + id + R"(","date":)" + std::to_string(date) + R"(,"kind":")" + kind_ + R"(","name":")" + id +
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
    if (!next_href_.empty()) {
      body += R"("next":{"href":")" + next_href_ + R"("})";
    } else if (more) {
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
  std::string kind_;
  std::string next_href_;
};

}  // namespace ldx::test
