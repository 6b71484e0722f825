#include <algorithm>

#include "entity_families.h"
#include "http_util.h"

namespace ldsim {

const EnvironmentRecord* environment_or_404(const WorldData& w, const std::string& project_key,
                                            const std::string& env_key, httplib::Response& res) {
  const ProjectRecord* p = w.project(project_key);
  const EnvironmentRecord* e = p == nullptr ? nullptr : p->environment(env_key);
  if (e == nullptr) set_error(res, 404, "not_found", "Unknown project or environment: " + project_key + "/" + env_key);
  return e;
}

void EntityFamily::register_control_routes(ControlRouter& control) {
  if (!owns_world_) return;
  control.post("/_sim/mutate", [this](const httplib::Request& req, httplib::Response& res) {
    mutate(req, res);
  });
  control.post("/_sim/mutate-every", [this](const httplib::Request& req, httplib::Response& res) {
    set_mutate_every(req, res);
  });
}

void EntityFamily::start() {
  if (owns_world_) world_->start();
}

void EntityFamily::stop() {
  if (owns_world_) world_->stop();
}

void EntityFamily::mutate(const httplib::Request& req, httplib::Response& res) {
  std::int64_t n = 1;
  if (req.has_param("n")) {
    const auto v = parse_int64(req.get_param_value("n"));
    if (!v || *v < 1 || *v > 100000) {
      set_error(res, 400, "invalid_request", "n must be an integer between 1 and 100000");
      return;
    }
    n = *v;
  }
  std::optional<std::string> kind;
  if (req.has_param("kind")) {
    kind = req.get_param_value("kind");
    const auto& kinds = mutation_kinds();
    if (std::find(kinds.begin(), kinds.end(), *kind) == kinds.end()) {
      std::string known;
      for (const auto& k : kinds) known += (known.empty() ? "" : ", ") + k;
      set_error(res, 400, "invalid_request", "unknown kind '" + *kind + "' (known: " + known + ")");
      return;
    }
  }
  const auto done = world_->mutate(static_cast<std::size_t>(n), kind, now_ms());
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& m : done) {
    nlohmann::ordered_json j;
    j["stream"] = m.stream;
    j["id"] = m.id;
    j["op"] = m.op;
    j["kind"] = m.kind;
    if (!m.audit_id.empty()) j["audit_id"] = m.audit_id;
    list.push_back(std::move(j));
  }
  nlohmann::ordered_json body;
  body["mutations"] = std::move(list);
  set_json(res, 200, body);
}

void EntityFamily::set_mutate_every(const httplib::Request& req, httplib::Response& res) {
  const auto every = parse_duration(req.get_param_value("every"));
  if (!req.has_param("every") || !every) {
    set_error(res, 400, "invalid_request", "every must be a duration (500ms, 2s, 1m) or off");
    return;
  }
  world_->set_mutate_every(*every);
  set_json(res, 200, {{"mutate_every_ms", every->count()}});
}

}  // namespace ldsim
