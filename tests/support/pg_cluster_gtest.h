// The gtest side of pg_cluster.h: one throw-away cluster per test process.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "pg_cluster.h"

namespace ldx::test_support {

// One cluster per test process, started on first use and shared by every test in it
// (each test makes its own database). Register it with
// ::testing::AddGlobalTestEnvironment so it stops at the end; tests call
// LDX_REQUIRE_PG_CLUSTER below.
class PgClusterEnvironment : public ::testing::Environment {
 public:
  void TearDown() override;
  // Starts the cluster on first use; nullptr (with skip_reason()) if it cannot.
  static PgCluster* cluster();
  static const std::string& skip_reason();
};

// In a test's SetUp: skips when Postgres is not installed, fails when it is installed
// but the cluster could not start, else sets `out_cluster`.
#define LDX_REQUIRE_PG_CLUSTER(out_cluster)                                                         \
  do {                                                                                            \
    (out_cluster) = ::ldx::test_support::PgClusterEnvironment::cluster();                         \
    if ((out_cluster) == nullptr) {                                                               \
      const std::string& why = ::ldx::test_support::PgClusterEnvironment::skip_reason();          \
      if (why.rfind(::ldx::test_support::kNoBinaries, 0) == 0) GTEST_SKIP() << why;               \
      FAIL() << "cannot start the throw-away Postgres cluster: " << why;                          \
    }                                                                                             \
  } while (false)

}  // namespace ldx::test_support
