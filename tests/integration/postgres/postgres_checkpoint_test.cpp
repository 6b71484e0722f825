// checkpoint: { type: postgres } against a real server.
#include "checkpoint/postgres/postgres_checkpoint_store.h"

#include <gtest/gtest.h>

#include "pg_test_util.h"
#include "sinks/postgres/pg_migrations.h"
#include "sinks/postgres/postgres_sink.h"

namespace ldx::pgtest {
namespace {

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new test_support::PgClusterEnvironment);

class PostgresCheckpointTest : public PgTest {
 protected:
  std::unique_ptr<PostgresCheckpointStore> open_store() {
    pg::DsnSource d;
    d.dsn = dsn_;
    auto s = std::make_unique<PostgresCheckpointStore>(d, schema_);
    Status st = s->open();
    EXPECT_TRUE(st.is_ok()) << st.describe();
    return s;
  }
  static Checkpoint cp(int page, int64_t at) {
    Checkpoint c;
    c.source_cursor = {{"page", page}, {"ids", {"x", "y"}}, {"big", 9007199254740993LL}};
    c.sink_positions = {{"warehouse", {{"batches", page}}}, {"archive", {{"file", 1}, {"offset", 4096}}}};
    c.committed_at_ms = at;
    return c;
  }
};

TEST_F(PostgresCheckpointTest, CommitLoadListAndResetRoundTripEveryField) {
  auto store = open_store();
  auto none = store->load("audit_log");
  ASSERT_TRUE(none.is_ok()) << none.status().describe();
  EXPECT_FALSE(none.value().has_value());

  ASSERT_TRUE(store->commit("audit_log", cp(1, 1'700'000'000'001)).is_ok());
  ASSERT_TRUE(store->commit("audit_log", cp(2, 1'700'000'000'002)).is_ok());
  ASSERT_TRUE(store->commit("flags", cp(7, 1'700'000'000'003)).is_ok());

  // A fresh store (a restarted daemon) reads back the latest commit, exactly.
  store = open_store();
  auto got = store->load("audit_log");
  ASSERT_TRUE(got.is_ok() && got.value().has_value());
  EXPECT_EQ(got.value()->source_cursor, cp(2, 0).source_cursor);
  EXPECT_EQ(got.value()->sink_positions, cp(2, 0).sink_positions);
  EXPECT_EQ(got.value()->committed_at_ms, 1'700'000'000'002);

  auto streams = store->list_streams();
  ASSERT_TRUE(streams.is_ok());
  EXPECT_EQ(streams.value(), (std::vector<std::string>{"audit_log", "flags"}));
  ASSERT_TRUE(store->reset("audit_log").is_ok());
  EXPECT_FALSE(store->load("audit_log").value().has_value());
  EXPECT_EQ(store->list_streams().value(), (std::vector<std::string>{"flags"}));
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".ldexport_checkpoints"), 1);
}

TEST_F(PostgresCheckpointTest, ListingBeforeTheFirstRunFindsNoCheckpointAndCreatesNothing) {
  // What `checkpoints list` does: no open(), so no migration.
  pg::DsnSource d;
  d.dsn = dsn_;
  PostgresCheckpointStore store(d, schema_);
  auto streams = store.list_streams();
  ASSERT_TRUE(streams.is_ok()) << streams.status().describe();
  EXPECT_TRUE(streams.value().empty());
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema_ + "'"), 0)
      << "a read-only listing created the schema";
}

TEST_F(PostgresCheckpointTest, SharesOneMigratedSchemaWithTheSink) {
  StopSignal stop;
  PostgresSinkOptions o;
  o.name = "warehouse";
  o.dsn.dsn = dsn_;
  o.schema = schema_;
  PostgresSink sink(o, stop);
  ASSERT_TRUE(sink.open().is_ok());
  auto store = open_store();
  // Each migration applied once, whichever of the two opened the schema first.
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".ldexport_migrations"), pg::latest_schema_version());
  EXPECT_TRUE(store->commit("audit_log", cp(1, 1)).is_ok());
}

TEST_F(PostgresCheckpointTest, AServerRestartIsRetryableAndTheStoreReconnects) {
  auto store = open_store();
  ASSERT_TRUE(store->commit("audit_log", cp(1, 10)).is_ok());
  ASSERT_TRUE(cluster_->stop("fast"));
  Status down = store->commit("audit_log", cp(2, 20));
  EXPECT_TRUE(down.is_retryable()) << down.describe();
  ASSERT_TRUE(cluster_->start());
  Status up = store->commit("audit_log", cp(2, 20));
  ASSERT_TRUE(up.is_ok()) << up.describe();
  EXPECT_EQ(store->load("audit_log").value()->committed_at_ms, 20);
}

TEST_F(PostgresCheckpointTest, ACheckpointOfAnUnknownFormatIsFatal) {
  auto store = open_store();
  ASSERT_TRUE(store->commit("audit_log", cp(1, 10)).is_ok());
  query("UPDATE \"" + schema_ + "\".ldexport_checkpoints SET format = 2");
  auto r = store->load("audit_log");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_fatal());
  EXPECT_NE(r.status().message().find("format 2"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace ldx::pgtest
