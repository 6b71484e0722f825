// Request statistics for GET /_sim/stats, so tests can check how a client behaved
// (e.g. that it respected the rate limit).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "faults.h"

namespace ldsim {

class SimStats {
 public:
  // Every /api/v2 request, before rate limiting, auth and faults.
  void on_api_request(const std::string& route, std::int64_t now_ms);
  // The status line actually sent for an /api/v2 request (not called for drops).
  void on_status(int status);
  void on_fault(FaultKind kind);
  void on_control_request();

  nlohmann::ordered_json snapshot() const;

 private:
  static constexpr std::int64_t kWindowMs = 10000;

  mutable std::mutex mu_;
  std::int64_t requests_total_ = 0;
  std::int64_t control_requests_total_ = 0;
  std::map<int, std::int64_t> by_status_;
  std::map<std::string, std::int64_t> by_route_;
  std::map<std::string, std::int64_t> faults_;
  std::int64_t faults_total_ = 0;
  // Sliding window: timestamps of the requests of the last 10 s.
  std::deque<std::int64_t> recent_;
  std::int64_t max_sliding_ = 0;
  // Fixed windows aligned like the rate limiter's (epoch ms multiples of 10 s).
  std::int64_t fixed_start_ = -1;
  std::int64_t fixed_count_ = 0;
  std::int64_t max_fixed_ = 0;
};

}  // namespace ldsim
