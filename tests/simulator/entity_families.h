// The entity endpoint families: one EndpointFamily per exported stream, all serving the
// same EntityWorld (entity_world.h).
//
//   projects      GET /api/v2/projects, GET /api/v2/projects/{projectKey}
//   environments  GET /api/v2/projects/{projectKey}/environments[/{environmentKey}]
//   flags         GET /api/v2/flags/{projectKey}, GET /api/v2/flags/{projectKey}/{featureFlagKey}
//   segments      GET /api/v2/segments/{projectKey}/{environmentKey}[/{segmentKey}]
//   contexts      POST /api/v2/projects/{projectKey}/environments/{environmentKey}/contexts/search
//   members       GET /api/v2/members[/{id}]
//   teams         GET /api/v2/teams[/{teamKey}]
//   metrics       GET /api/v2/metrics/{projectKey}[/{metricKey}]
//   experiments   GET /api/v2/projects/{projectKey}/environments/{environmentKey}/experiments[/{experimentKey}] (beta)
//
// Every stream whose exporter confirms a disappearance with a GET of that one entity has
// that GET here: 200 while the entity lives, 404 once it (or its project or environment)
// is deleted.
//
// Exactly one of them (families.cpp makes it the projects family) owns the world's
// lifecycle: the background mutator (--mutate-every) and the control routes
// POST /_sim/mutate and POST /_sim/mutate-every. Each family's truth is
// EntityWorld::truth(name()).
#pragma once

#include <memory>
#include <vector>

#include "endpoint_family.h"
#include "entity_world.h"
#include "sim_config.h"

namespace ldsim {

class EntityFamily : public EndpointFamily {
 public:
  EntityFamily(std::shared_ptr<EntityWorld> world, bool owns_world)
      : world_(std::move(world)), owns_world_(owns_world) {}

  nlohmann::json truth() const override { return world_->truth(name()); }
  void register_control_routes(ControlRouter& control) override;
  void start() override;
  void stop() override;

 protected:
  std::shared_ptr<EntityWorld> world_;

 private:
  void mutate(const httplib::Request& req, httplib::Response& res);
  void set_mutate_every(const httplib::Request& req, httplib::Response& res);

  bool owns_world_;
};

// The environment a `/{projectKey}/{environmentKey}` route names, or nullptr after
// answering 404 (as LaunchDarkly does for an unknown or deleted project or environment).
const EnvironmentRecord* environment_or_404(const WorldData& w, const std::string& project_key,
                                            const std::string& env_key, httplib::Response& res);

class ProjectsFamily final : public EntityFamily {
 public:
  using EntityFamily::EntityFamily;
  std::string name() const override { return "projects"; }
  void register_api_routes(ApiRouter& api) override;
};

class EnvironmentsFamily final : public EntityFamily {
 public:
  using EntityFamily::EntityFamily;
  std::string name() const override { return "environments"; }
  void register_api_routes(ApiRouter& api) override;
};

class FlagsFamily final : public EntityFamily {
 public:
  using EntityFamily::EntityFamily;
  std::string name() const override { return "flags"; }
  void register_api_routes(ApiRouter& api) override;
};

class SegmentsFamily final : public EntityFamily {
 public:
  using EntityFamily::EntityFamily;
  std::string name() const override { return "segments"; }
  void register_api_routes(ApiRouter& api) override;
};

class ContextsFamily final : public EntityFamily {
 public:
  using EntityFamily::EntityFamily;
  std::string name() const override { return "contexts"; }
  void register_api_routes(ApiRouter& api) override;
};

class MembersFamily final : public EntityFamily {
 public:
  using EntityFamily::EntityFamily;
  std::string name() const override { return "members"; }
  void register_api_routes(ApiRouter& api) override;
};

class TeamsFamily final : public EntityFamily {
 public:
  using EntityFamily::EntityFamily;
  std::string name() const override { return "teams"; }
  void register_api_routes(ApiRouter& api) override;
};

class MetricsFamily final : public EntityFamily {
 public:
  using EntityFamily::EntityFamily;
  std::string name() const override { return "metrics"; }
  void register_api_routes(ApiRouter& api) override;
};

class ExperimentsFamily final : public EntityFamily {
 public:
  using EntityFamily::EntityFamily;
  std::string name() const override { return "experiments"; }
  void register_api_routes(ApiRouter& api) override;
};

}  // namespace ldsim
