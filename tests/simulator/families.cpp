#include "families.h"

#include "audit_log_family.h"
#include "entity_families.h"

namespace ldsim {

std::vector<std::unique_ptr<EndpointFamily>> make_endpoint_families(const SimConfig& config) {
  std::vector<std::unique_ptr<EndpointFamily>> families;
  auto audit_log = std::make_unique<AuditLogFamily>(config.audit_log, config.seed);
  // Flag and segment mutations append audit entries that name them.
  auto world = std::make_shared<EntityWorld>(config.entities, config.seed, &audit_log->store());
  families.push_back(std::move(audit_log));
  // The projects family owns the world's mutator and /_sim/mutate (owns_world = true).
  families.push_back(std::make_unique<ProjectsFamily>(world, true));
  families.push_back(std::make_unique<EnvironmentsFamily>(world, false));
  families.push_back(std::make_unique<FlagsFamily>(world, false));
  families.push_back(std::make_unique<SegmentsFamily>(world, false));
  families.push_back(std::make_unique<ContextsFamily>(world, false));
  families.push_back(std::make_unique<MembersFamily>(world, false));
  families.push_back(std::make_unique<TeamsFamily>(world, false));
  families.push_back(std::make_unique<MetricsFamily>(world, false));
  families.push_back(std::make_unique<ExperimentsFamily>(world, false));
  return families;
}

}  // namespace ldsim
