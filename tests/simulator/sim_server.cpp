#include "sim_server.h"

#include <iostream>
#include <stdexcept>

#include "families.h"
#include "http_util.h"

namespace ldsim {

namespace {

// "/api/v2/auditlog/{id}" -> "/api/v2/auditlog/([^/]+)"
std::string pattern_to_regex(const std::string& pattern) {
  static const std::string kSpecial = R"(\^$.|?*+()[]{})";
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '{') {
      const auto close = pattern.find('}', i);
      if (close == std::string::npos) throw std::invalid_argument("bad route pattern: " + pattern);
      out += "([^/]+)";
      i = close;
    } else {
      if (kSpecial.find(c) != std::string::npos) out.push_back('\\');
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

class SimServer::Api final : public ApiRouter {
 public:
  explicit Api(SimServer& s) : s_(s) {}
  void get(const std::string& pattern, Handler handler) override {
    s_.add_api_route("GET", pattern, std::move(handler));
  }
  void post(const std::string& pattern, Handler handler) override {
    s_.add_api_route("POST", pattern, std::move(handler));
  }

 private:
  SimServer& s_;
};

class SimServer::Control final : public ControlRouter {
 public:
  explicit Control(SimServer& s) : s_(s) {}
  void get(const std::string& path, Handler handler) override {
    s_.add_control_route("GET", path, std::move(handler));
  }
  void post(const std::string& path, Handler handler) override {
    s_.add_control_route("POST", path, std::move(handler));
  }

 private:
  SimServer& s_;
};

SimServer::SimServer(SimConfig config)
    : config_(std::move(config)),
      limiter_(config_.rate_limit, config_.seed),
      faults_(config_.fault_rate, config_.fault_delay_max, config_.seed),
      families_(make_endpoint_families(config_)) {
  const std::size_t threads = config_.threads;
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_.set_keep_alive_timeout(2);
  http_.set_keep_alive_max_count(100);
  // Without TCP_NODELAY, Nagle plus the client's delayed ACK stalls each response ~40 ms.
  http_.set_tcp_nodelay(true);
  http_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty() && !res.content_provider_) {
      set_error(res, res.status, res.status == 404 ? "not_found" : "invalid_request",
                res.status == 404 ? "Not found" : "Request failed");
    }
  });
  http_.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        std::cerr << "ld-simulator: handler for " << req.method << " " << req.path
                  << " threw: " << what << std::endl;
        set_error(res, 500, "internal_error", "simulator handler failed");
      });
  register_routes();
}

SimServer::~SimServer() { stop(); }

void SimServer::add_api_route(const std::string& method, const std::string& pattern,
                              Handler handler) {
  add_api_route_regex(method, method + " " + pattern, pattern_to_regex(pattern),
                      std::move(handler));
}

void SimServer::add_api_route_regex(const std::string& method, const std::string& route,
                                    const std::string& regex, Handler handler) {
  auto wrapped = [this, route, h = std::move(handler)](const httplib::Request& req,
                                                      httplib::Response& res) {
    handle_api(route, h, req, res);
  };
  if (method == "GET") {
    http_.Get(regex, wrapped);
  } else if (method == "POST") {
    http_.Post(regex, wrapped);
  } else if (method == "PUT") {
    http_.Put(regex, wrapped);
  } else if (method == "PATCH") {
    http_.Patch(regex, wrapped);
  } else if (method == "DELETE") {
    http_.Delete(regex, wrapped);
  } else {
    throw std::invalid_argument("unsupported method " + method);
  }
}

void SimServer::add_control_route(const std::string& method, const std::string& path,
                                  Handler handler) {
  if (method == "GET") {
    http_.Get(path, [this, h = std::move(handler)](const httplib::Request& req,
                                                   httplib::Response& res) {
      stats_.on_control_request();
      h(req, res);
    });
  } else if (method == "POST") {
    // The content-reader form, so that a bodiless POST without Content-Length (curl -X POST)
    // is accepted; any body is read and ignored (control parameters are query parameters).
    http_.Post(path, [this, h = std::move(handler)](const httplib::Request& req,
                                                    httplib::Response& res,
                                                    const httplib::ContentReader& reader) {
      stats_.on_control_request();
      if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
        reader([](const char*, std::size_t) { return true; });
      }
      h(req, res);
    });
  } else {
    throw std::invalid_argument("unsupported method " + method);
  }
}

void SimServer::register_routes() {
  Api api(*this);
  Control control(*this);

  // Control endpoints: never faulted, never rate-limited, no auth.
  control.get("/_sim/stats", [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::ordered_json j = stats_.snapshot();
    j["rate_limit"] = limiter_.limit();
    j["fault_rate"] = faults_.rate();
    set_json(res, 200, j);
  });
  control.post("/_sim/faults", [this](const httplib::Request& req, httplib::Response& res) {
    const auto rate = parse_double(req.get_param_value("rate"));
    if (!rate || !(*rate >= 0.0 && *rate <= 1.0)) {
      set_error(res, 400, "invalid_request", "rate must be a number between 0 and 1");
      return;
    }
    faults_.set_rate(*rate);
    set_json(res, 200, {{"fault_rate", *rate}});
  });
  control.post("/_sim/rate-limit", [this](const httplib::Request& req, httplib::Response& res) {
    // N requests per 10 s window from now on (0: unlimited); for 429 bursts mid-run.
    const auto n = parse_int64(req.get_param_value("limit"));
    if (!n || *n < 0) {
      set_error(res, 400, "invalid_request", "limit must be a non-negative integer");
      return;
    }
    limiter_.set_limit(*n);
    set_json(res, 200, {{"rate_limit", *n}});
  });
  control.get("/_sim/truth", [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::ordered_json names = nlohmann::ordered_json::array();
    for (const auto& f : families_) names.push_back(f->name());
    set_json(res, 200, {{"streams", names}});
  });
  control.get(R"(/_sim/truth/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    for (const auto& f : families_) {
      if (f->name() == name) {
        res.status = 200;
        res.set_content(f->truth().dump(), "application/json");
        return;
      }
    }
    set_error(res, 404, "not_found", "no truth for stream '" + name + "'");
  });

  for (const auto& f : families_) {
    f->register_control_routes(control);
    f->register_api_routes(api);
  }

  // Anything else under /_sim/ or /api/v2/ gets a JSON 404 (API ones after auth etc.).
  const Handler control_not_found = [](const httplib::Request&, httplib::Response& res) {
    set_error(res, 404, "not_found", "unknown simulator endpoint");
  };
  add_control_route("GET", "/_sim/.*", control_not_found);
  add_control_route("POST", "/_sim/.*", control_not_found);
  const Handler api_not_found = [](const httplib::Request& req, httplib::Response& res) {
    set_error(res, 404, "not_found", "Unknown resource: " + req.path);
  };
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    add_api_route_regex(method, std::string(method) + " /api/v2/(unknown)", "/api/v2/.*",
                        api_not_found);
  }
}

void SimServer::handle_api(const std::string& route, const Handler& handler,
                           const httplib::Request& req, httplib::Response& res) {
  const std::int64_t now = now_ms();
  stats_.on_api_request(route, now);

  const RateDecision rd = limiter_.admit(route, now);
  apply_rate_headers(rd, res);
  if (!rd.allowed) {
    set_error(res, 429, "rate_limited", "Rate limit exceeded for " + route);
    stats_.on_status(429);
    return;
  }

  // The raw token, as the real API expects; "Bearer <token>" is rejected.
  if (!req.has_header("Authorization") || req.get_header_value("Authorization") != config_.token) {
    set_error(res, 401, "unauthorized", "Invalid account ID header");
    stats_.on_status(401);
    return;
  }

  const Fault fault = faults_.draw();
  if (fault.kind != FaultKind::kNone) stats_.on_fault(fault.kind);
  switch (fault.kind) {
    case FaultKind::kHttp500:
      set_error(res, 500, "internal_server_error", "simulated internal error");
      break;
    case FaultKind::kHttp502:
      set_error(res, 502, "bad_gateway", "simulated bad gateway");
      break;
    case FaultKind::kHttp503:
      set_error(res, 503, "service_unavailable", "simulated unavailability");
      break;
    case FaultKind::kSlow:
      interruptible_sleep(fault.delay);
      handler(req, res);
      break;
    case FaultKind::kDrop:
      if (!drop_connection(req, port_)) {
        // Fallback: the status line goes out, then the connection ends without a body.
        res.headers.clear();
        res.set_content_provider(1, "application/json",
                                 [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
      }
      res.status = 200;
      return;  // nothing was (completely) sent: no status to count
    case FaultKind::kTruncate:
      handler(req, res);
      if (res.status == -1) res.status = 200;
      truncate_response(res, fault.keep_fraction);
      break;
    case FaultKind::kNone:
      handler(req, res);
      break;
  }
  if (res.status == -1) res.status = 200;
  stats_.on_status(res.status);
}

void SimServer::interruptible_sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  stop_cv_.wait_for(lock, d, [this] { return stopping_; });
}

int SimServer::start() {
  if (started_) return port_;
  if (config_.port == 0) {
    port_ = http_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind 127.0.0.1 to a free port");
  } else {
    if (!http_.bind_to_port("127.0.0.1", config_.port)) {
      throw std::runtime_error("cannot bind 127.0.0.1:" + std::to_string(config_.port));
    }
    port_ = config_.port;
  }
  started_ = true;
  listener_ = std::thread([this] { http_.listen_after_bind(); });
  // Wait until the accept loop runs, so that stop() cannot miss it.
  for (int i = 0; i < 5000 && !http_.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (const auto& f : families_) f->start();
  return port_;
}

void SimServer::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  for (const auto& f : families_) f->stop();
  if (started_) {
    http_.stop();
    if (listener_.joinable()) listener_.join();
  }
}

}  // namespace ldsim
