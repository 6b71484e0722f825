// The extension point of the simulator: one EndpointFamily per LaunchDarkly endpoint
// family (audit log, projects, environments, flags, ...). Each family owns its data and
// its truth, and registers its routes through the routers below. Families are listed in
// exactly one place, make_endpoint_families() in families.cpp; there is no static
// self-registration.
#pragma once

#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace ldsim {

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// Registers LaunchDarkly API routes (under /api/v2). The server wraps each handler with
// rate limiting, authentication, fault injection and statistics, so a handler only
// produces the correct answer.
//
// `pattern` is the route as the spec writes it, with {name} placeholders, e.g.
// "/api/v2/auditlog/{id}"; each placeholder matches one path segment and arrives in
// req.matches[1], req.matches[2], ... The method plus pattern ("GET /api/v2/auditlog/{id}")
// is the rate-limit route.
class ApiRouter {
 public:
  virtual ~ApiRouter() = default;
  virtual void get(const std::string& pattern, Handler handler) = 0;
  virtual void post(const std::string& pattern, Handler handler) = 0;
};

// Registers simulator control routes (under /_sim/): no auth, no rate limit, no faults.
class ControlRouter {
 public:
  virtual ~ControlRouter() = default;
  virtual void get(const std::string& path, Handler handler) = 0;
  virtual void post(const std::string& path, Handler handler) = 0;
};

class EndpointFamily {
 public:
  virtual ~EndpointFamily() = default;

  // The stream name (as in ARCHITECTURE.md): "audit_log", "flags", ... It names the
  // truth endpoint GET /_sim/truth/<name>.
  virtual std::string name() const = 0;

  virtual void register_api_routes(ApiRouter& api) = 0;
  virtual void register_control_routes(ControlRouter& /*control*/) {}

  // Ground truth: what a complete export of this family must contain (for the audit
  // log, every _id). Must be thread-safe.
  virtual nlohmann::json truth() const = 0;

  // Background work (e.g. appending entries). start() is called after the server is
  // bound, stop() before it is torn down.
  virtual void start() {}
  virtual void stop() {}
};

}  // namespace ldsim
