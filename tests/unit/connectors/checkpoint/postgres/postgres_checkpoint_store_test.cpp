#include "checkpoint/postgres/postgres_checkpoint_store.h"

#include <gtest/gtest.h>

namespace ldx {
namespace {

// The Postgres store refuses a stream name that is not a plain identifier before it
// touches the database (defence in depth beside the CLI's own check).
TEST(PostgresCheckpointStore, ResetRefusesANameThatIsNotAPlainIdentifier) {
  pg::DsnSource src;
  src.dsn = "postgresql://ldx@127.0.0.1:1/none?connect_timeout=1";
  PostgresCheckpointStore store(src, "launchdarkly");
  for (const std::string bad : {"../x", "", "a;b", "a b", "-x"}) {
    Status st = store.reset(bad);
    ASSERT_TRUE(st.is_fatal()) << "'" << bad << "': " << st.describe();
    EXPECT_NE(st.message().find("not a stream name"), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace ldx
