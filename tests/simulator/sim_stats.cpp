#include "sim_stats.h"

#include <algorithm>

namespace ldsim {

void SimStats::on_api_request(const std::string& route, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_total_;
  ++by_route_[route];

  recent_.push_back(now_ms);
  while (!recent_.empty() && recent_.front() <= now_ms - kWindowMs) recent_.pop_front();
  max_sliding_ = std::max<std::int64_t>(max_sliding_, static_cast<std::int64_t>(recent_.size()));

  const std::int64_t start = now_ms - (now_ms % kWindowMs);
  if (start != fixed_start_) {
    fixed_start_ = start;
    fixed_count_ = 0;
  }
  ++fixed_count_;
  max_fixed_ = std::max(max_fixed_, fixed_count_);
}

void SimStats::on_status(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++by_status_[status];
}

void SimStats::on_fault(FaultKind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  ++faults_total_;
  ++faults_[fault_name(kind)];
}

void SimStats::on_control_request() {
  std::lock_guard<std::mutex> lock(mu_);
  ++control_requests_total_;
}

nlohmann::ordered_json SimStats::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::ordered_json j;
  j["requests_total"] = requests_total_;
  nlohmann::ordered_json status = nlohmann::ordered_json::object();
  for (const auto& [code, n] : by_status_) status[std::to_string(code)] = n;
  j["by_status"] = status;
  const auto it = by_status_.find(429);
  j["rate_limited_total"] = it == by_status_.end() ? 0 : it->second;
  nlohmann::ordered_json faults = nlohmann::ordered_json::object();
  faults["total"] = faults_total_;
  for (const char* k : {"http_500", "http_502", "http_503", "slow", "drop", "truncate"}) {
    const auto f = faults_.find(k);
    faults[k] = f == faults_.end() ? 0 : f->second;
  }
  j["faults"] = faults;
  j["max_requests_any_10s"] = max_sliding_;
  j["max_requests_fixed_window"] = max_fixed_;
  nlohmann::ordered_json routes = nlohmann::ordered_json::object();
  for (const auto& [route, n] : by_route_) routes[route] = n;
  j["by_route"] = routes;
  j["control_requests_total"] = control_requests_total_;
  return j;
}

}  // namespace ldsim
