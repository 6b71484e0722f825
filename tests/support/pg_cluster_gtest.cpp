#include "pg_cluster_gtest.h"

namespace ldx::test_support {

namespace {
std::unique_ptr<PgCluster>& shared_cluster() {
  static std::unique_ptr<PgCluster> c;
  return c;
}
std::string& shared_reason() {
  static std::string r;
  return r;
}
}  // namespace

PgCluster* PgClusterEnvironment::cluster() {
  auto& c = shared_cluster();
  if (!c && shared_reason().empty()) {
    PgClusterOptions o;
    // Tests kill clients and restart the server, never the machine: the OS keeps what
    // fsync would force, and runs stay fast.
    o.settings = {"fsync=off", "full_page_writes=off"};
    c = PgCluster::create(o, shared_reason());
  }
  return c.get();
}

const std::string& PgClusterEnvironment::skip_reason() { return shared_reason(); }

void PgClusterEnvironment::TearDown() { shared_cluster().reset(); }

}  // namespace ldx::test_support
