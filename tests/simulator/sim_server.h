// The simulator's HTTP server: binds 127.0.0.1, owns the endpoint families, and wraps
// every /api/v2 route with rate limiting, authentication, fault injection and stats.
// Control endpoints live under /_sim/.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "endpoint_family.h"
#include "faults.h"
#include "rate_limiter.h"
#include "sim_config.h"
#include "sim_stats.h"

namespace ldsim {

class SimServer {
 public:
  explicit SimServer(SimConfig config);
  ~SimServer();

  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  // Binds 127.0.0.1:config.port (0 = a free port), starts the families' background work
  // and serves on background threads. Returns the bound port. Throws std::runtime_error
  // if the port cannot be bound.
  int start();

  // Stops serving and background work; idempotent.
  void stop();

  int port() const { return port_; }

  // For in-process tests: the families, in registration order.
  const std::vector<std::unique_ptr<EndpointFamily>>& families() const { return families_; }

 private:
  class Api;
  class Control;

  void add_api_route(const std::string& method, const std::string& pattern, Handler handler);
  void add_api_route_regex(const std::string& method, const std::string& route,
                           const std::string& regex, Handler handler);
  void add_control_route(const std::string& method, const std::string& path, Handler handler);
  void register_routes();
  void handle_api(const std::string& route, const Handler& handler, const httplib::Request& req,
                  httplib::Response& res);
  // Sleeps for `d` unless the server is stopping.
  void interruptible_sleep(std::chrono::milliseconds d);

  const SimConfig config_;
  httplib::Server http_;
  RateLimiter limiter_;
  FaultInjector faults_;
  SimStats stats_;
  std::vector<std::unique_ptr<EndpointFamily>> families_;

  std::thread listener_;
  int port_ = 0;
  bool started_ = false;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace ldsim
