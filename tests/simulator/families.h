#pragma once

#include <memory>
#include <vector>

#include "endpoint_family.h"
#include "sim_config.h"

namespace ldsim {

// The one place that lists the simulator's endpoint families.
std::vector<std::unique_ptr<EndpointFamily>> make_endpoint_families(const SimConfig& config);

}  // namespace ldsim
