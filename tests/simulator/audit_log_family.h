// The audit log endpoint family:
//   GET /api/v2/auditlog        (AuditLogEntryListingRepCollection, paged newest-first)
//   GET /api/v2/auditlog/{id}   (AuditLogEntryRep)
//   POST /_sim/append?n=K[&date=MS]   (control: append entries now)
//   POST /_sim/hide?id=ID[&id=ID...]  (control: leave entries out of one listing page)
//   GET /_sim/truth/audit_log   (every _id, newest first)
// plus the optional background appender (--append-every, --late-rate).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "audit_log_data.h"
#include "endpoint_family.h"
#include "sim_config.h"

namespace ldsim {

class AuditLogFamily final : public EndpointFamily {
 public:
  AuditLogFamily(const AuditLogConfig& config, std::uint64_t seed);
  ~AuditLogFamily() override;

  std::string name() const override { return "audit_log"; }
  void register_api_routes(ApiRouter& api) override;
  void register_control_routes(ControlRouter& control) override;
  nlohmann::json truth() const override;
  void start() override;
  void stop() override;

  AuditLogStore& store() { return store_; }

 private:
  void list(const httplib::Request& req, httplib::Response& res) const;
  void get_one(const httplib::Request& req, httplib::Response& res) const;
  void append(const httplib::Request& req, httplib::Response& res);
  void hide(const httplib::Request& req, httplib::Response& res);
  void appender_loop();

  const AuditLogConfig config_;
  AuditLogStore store_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread appender_;

  // Entries left out of the next listing page that would show them (each once), as if
  // LaunchDarkly listed them late: what the exporter's completeness check must catch.
  mutable std::mutex hidden_mu_;
  mutable std::unordered_set<std::string> hidden_once_;
};

}  // namespace ldsim
