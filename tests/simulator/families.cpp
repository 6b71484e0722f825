#include "families.h"

#include "audit_log_family.h"

namespace ldsim {

std::vector<std::unique_ptr<EndpointFamily>> make_endpoint_families(const SimConfig& config) {
  std::vector<std::unique_ptr<EndpointFamily>> families;
  families.push_back(std::make_unique<AuditLogFamily>(config.audit_log, config.seed));
  // Add further families here, one line each, e.g.:
  //   families.push_back(std::make_unique<ProjectsFamily>(config.projects, config.seed));
  // (projects, environments, flags, segments, contexts, members, teams, metrics)
  return families;
}

}  // namespace ldsim
