// The Postgres sink against a real server (tests/support/pg_cluster.h): what a user of
// the tables relies on — each record once, typed columns, history that answers "what
// did X look like at T", refused records kept with their reason, one writer per
// stream, and no loss across a server restart.
#include "sinks/postgres/postgres_sink.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "pg_test_util.h"

namespace ldx::pgtest {
namespace {

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new test_support::PgClusterEnvironment);

constexpr int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

class PostgresSinkTest : public PgTest {
 protected:
  std::unique_ptr<PostgresSink> make_sink(StopSignal& stop, const std::string& name = "warehouse") {
    PostgresSinkOptions o;
    o.name = name;
    o.dsn.dsn = dsn_;
    o.schema = schema_;
    o.standby_retry = Millis(100);
    return std::make_unique<PostgresSink>(std::move(o), stop);
  }
  std::unique_ptr<PostgresSink> open_sink(const std::string& stream, const nlohmann::json& pos = nullptr) {
    auto s = make_sink(stop_);
    Status st = s->open();
    EXPECT_TRUE(st.is_ok()) << st.describe();
    st = s->recover(stream, pos);
    EXPECT_TRUE(st.is_ok()) << st.describe();
    return s;
  }
  nlohmann::json write_ok(Sink& s, const Batch& b) {
    auto r = s.write(b);
    EXPECT_TRUE(r.is_ok()) << r.status().describe();
    return r.is_ok() ? r.value() : nlohmann::json();
  }
  std::set<std::string> ids(const std::string& tbl) {
    std::set<std::string> out;
    for (const auto& row : query("SELECT id FROM " + table(tbl))) out.insert(row[0].as<std::string>());
    return out;
  }
  // Waits (bounded) until `n` sessions of this sink's stream are connected.
  bool wait_for_sessions(const std::string& app, int n) {
    for (int i = 0; i < 300; ++i) {
      if (scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app + "'") >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  StopSignal stop_;
};

TEST_F(PostgresSinkTest, AuditLogKeepsEachRecordOnceWithTypedColumnsAndTheCursor) {
  auto sink = open_sink("audit_log");
  auto p1 = write_ok(*sink, make_batch("audit_log", {audit_record("a1", kT0 + 123), audit_record("a2", kT0),
                                                     audit_record("a3", kT0)}, 1));
  EXPECT_EQ(p1, (nlohmann::json{{"batches", 1}}));
  const Batch b2 = make_batch("audit_log", {audit_record("a3", kT0), audit_record("a4", kT0 + 1)}, 2);
  write_ok(*sink, b2);
  ASSERT_TRUE(sink->close().is_ok());

  // Restart with the checkpoint of batch 1: batch 2 is replayed, then new data follows.
  sink = open_sink("audit_log", p1);
  write_ok(*sink, b2);
  auto p4 = write_ok(*sink, make_batch("audit_log", {audit_record("a5", kT0 + 2)}, 3));
  EXPECT_EQ(p4, (nlohmann::json{{"batches", 4}}));

  EXPECT_EQ(ids("audit_log"), (std::set<std::string>{"a1", "a2", "a3", "a4", "a5"}));
  EXPECT_EQ(scalar("SELECT count(*) FROM " + table("audit_log")), 5);

  auto row = query("SELECT op, project, environment, kind, version IS NULL, "
                   "(extract(epoch FROM occurred_at) * 1000)::bigint, (extract(epoch FROM observed_at) * 1000)::bigint, "
                   "data->>'_id' FROM " + table("audit_log") + " WHERE id = 'a1'")[0];
  EXPECT_EQ(row[0].as<std::string>(), "upsert");
  EXPECT_EQ(row[1].as<std::string>(), "default");
  EXPECT_EQ(row[2].as<std::string>(), "production");
  EXPECT_EQ(row[3].as<std::string>(), "flag");
  EXPECT_TRUE(row[4].as<bool>());
  EXPECT_EQ(row[5].as<int64_t>(), kT0 + 123);
  EXPECT_EQ(row[6].as<int64_t>(), kT0 + 623);
  EXPECT_EQ(row[7].as<std::string>(), "a1");

  // A replay is absorbed by the upsert, not refused and dead-lettered.
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter"), 0);

  auto cur = query("SELECT cursor::text, batches FROM \"" + schema_ + "\".ldexport_cursors WHERE stream = 'audit_log'");
  ASSERT_EQ(cur.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(cur[0][0].as<std::string>()), (nlohmann::json{{"page", 3}}));
  EXPECT_EQ(cur[0][1].as<int64_t>(), 4);
}

TEST_F(PostgresSinkTest, IdsWithQuotesBackslashesAndCommasAreStoredOnceLikeAnyOther) {
  auto sink = open_sink("audit_log");
  const std::vector<std::string> odd{"we\"ird", "back\\slash", "comma,{brace}", "tab\there", "ünï"};
  std::vector<Record> recs;
  for (const auto& id : odd) recs.push_back(audit_record(id, kT0));
  write_ok(*sink, make_batch("audit_log", recs, 1));
  write_ok(*sink, make_batch("audit_log", recs, 2));  // a replay of the same ids
  EXPECT_EQ(ids("audit_log"), std::set<std::string>(odd.begin(), odd.end()));
  EXPECT_EQ(scalar("SELECT count(*) FROM " + table("audit_log")), 5);
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter"), 0);
}

TEST_F(PostgresSinkTest, ADatabaseBehindItsCheckpointIsFatalNotASilentGap) {
  auto sink = open_sink("audit_log");
  write_ok(*sink, make_batch("audit_log", {audit_record("a1", kT0)}, 1));
  ASSERT_TRUE(sink->close().is_ok());
  auto again = make_sink(stop_);
  ASSERT_TRUE(again->open().is_ok());
  Status st = again->recover("audit_log", nlohmann::json{{"batches", 7}});
  EXPECT_TRUE(st.is_fatal()) << st.describe();
  EXPECT_NE(st.message().find("lost committed rows"), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, EntityHistoryFollowsVersionsDeletesRecreatesAndIgnoresReplays) {
  const std::string s = "flags";
  auto sink = open_sink(s);
  const Batch b1 = make_batch(s, {entity_record(s, "f1", Op::kUpsert, 1, kT0 + 1000, R"({"on":false})"),
                                  entity_record(s, "f2", Op::kUpsert, 1, kT0 + 1000, R"({"x":1})")}, 1);
  const Batch b2 = make_batch(s, {entity_record(s, "f1", Op::kUpsert, 2, kT0 + 2000, R"({"on":true})"),
                                  entity_record(s, "f1", Op::kUpsert, 3, kT0 + 3000, R"({"on":true,"rules":[1]})")},
                              2);
  const Batch b3 = make_batch(s, {entity_record(s, "f2", Op::kDelete, std::nullopt, kT0 + 4000, "null")}, 3);
  const Batch b4 = make_batch(s, {entity_record(s, "f2", Op::kUpsert, 1, kT0 + 5000, R"({"x":2})")}, 4);
  write_ok(*sink, b1);
  write_ok(*sink, b2);
  write_ok(*sink, b3);

  // A delete keeps the row, with its last known state, and marks it.
  auto deleted = query("SELECT op, (extract(epoch FROM deleted_at) * 1000)::bigint, data::text, version FROM " +
                       table(s) + " WHERE id = 'f2'")[0];
  EXPECT_EQ(deleted[0].as<std::string>(), "delete");
  EXPECT_EQ(deleted[1].as<int64_t>(), kT0 + 4000);
  EXPECT_EQ(deleted[2].as<std::string>(), R"({"x": 1})");
  EXPECT_EQ(deleted[3].as<int64_t>(), 1);

  write_ok(*sink, b4);
  ASSERT_TRUE(sink->close().is_ok());
  // A restart from an old checkpoint (or a standby taking over) replays everything.
  sink = open_sink(s, nlohmann::json{{"batches", 1}});
  for (const Batch* b : {&b1, &b2, &b3, &b4}) write_ok(*sink, *b);

  auto history = query("SELECT id, revision, op, version, (extract(epoch FROM valid_from) * 1000)::bigint - " +
                       std::to_string(kT0) + ", coalesce((extract(epoch FROM valid_to) * 1000)::bigint - " +
                       std::to_string(kT0) + ", -1), coalesce(data::text, '') FROM " + table("flags_history") +
                       " ORDER BY id, revision");
  std::vector<std::string> got;
  for (const auto& r : history) {
    got.push_back(r[0].as<std::string>() + " r" + r[1].as<std::string>() + " " + r[2].as<std::string>() + " v" +
                  (r[3].is_null() ? "-" : r[3].as<std::string>()) + " [" + r[4].as<std::string>() + "," +
                  r[5].as<std::string>() + ") " + r[6].as<std::string>());
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     R"(f1 r1 upsert v1 [1000,2000) {"on": false})",
                     R"(f1 r2 upsert v2 [2000,3000) {"on": true})",
                     R"(f1 r3 upsert v3 [3000,-1) {"on": true, "rules": [1]})",
                     R"(f2 r1 upsert v1 [1000,4000) {"x": 1})",
                     R"(f2 r2 delete v- [4000,5000) )",
                     R"(f2 r3 upsert v1 [5000,-1) {"x": 2})",
                 }));

  auto current = query("SELECT id, revision, version, deleted_at IS NULL, data::text FROM " + table(s) + " ORDER BY id");
  ASSERT_EQ(current.size(), 2u);
  EXPECT_EQ(current[0][1].as<int64_t>(), 3);
  EXPECT_EQ(current[0][2].as<int64_t>(), 3);
  EXPECT_TRUE(current[0][3].as<bool>());
  EXPECT_EQ(current[1][1].as<int64_t>(), 3);
  EXPECT_TRUE(current[1][3].as<bool>()) << "re-created after the delete";
  EXPECT_EQ(current[1][4].as<std::string>(), R"({"x": 2})");

  // The cookbook's time-travel query: one row, the version valid at that instant.
  auto at = [&](const std::string& id, int64_t t) {
    auto r = query("SELECT data::text FROM " + table("flags_history") + " WHERE id = '" + id +
                   "' AND op = 'upsert' AND valid_from <= timestamptz 'epoch' + " + std::to_string(kT0 + t) +
                   " * interval '1 millisecond' AND (valid_to IS NULL OR valid_to > timestamptz 'epoch' + " +
                   std::to_string(kT0 + t) + " * interval '1 millisecond')");
    return r.empty() ? std::string("(none)") : r[0][0].as<std::string>();
  };
  EXPECT_EQ(at("f1", 2500), R"({"on": true})");
  EXPECT_EQ(at("f1", 999), "(none)");
  EXPECT_EQ(at("f2", 4500), "(none)");
  EXPECT_EQ(at("f2", 6000), R"({"x": 2})");
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter"), 0);
}

TEST_F(PostgresSinkTest, AnUnversionedSnapshotReplayedLaterAddsNoHistory) {
  // Snapshot streams (projects, members) may carry neither version nor change time:
  // each pass observes them anew, and only a change of content is a new revision.
  const std::string s = "projects";
  auto sink = open_sink(s);
  auto snapshot = [&](const std::string& name, int64_t observed, int cursor) {
    return make_batch(s, {entity_record(s, "p1", Op::kUpsert, std::nullopt, std::nullopt,
                                        R"({"name":")" + name + R"("})", observed)},
                      cursor);
  };
  write_ok(*sink, snapshot("Web", kT0 + 1000, 1));
  write_ok(*sink, snapshot("Web", kT0 + 2000, 2));  // the next pass: unchanged
  write_ok(*sink, snapshot("Web app", kT0 + 3000, 3));
  write_ok(*sink, snapshot("Web app", kT0 + 4000, 4));
  auto rows = query("SELECT revision, (extract(epoch FROM valid_from) * 1000)::bigint - " + std::to_string(kT0) +
                    ", data->>'name' FROM " + table("projects_history") + " ORDER BY revision");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1].as<int64_t>(), 1000);
  EXPECT_EQ(rows[0][2].as<std::string>(), "Web");
  EXPECT_EQ(rows[1][1].as<int64_t>(), 3000);
  EXPECT_EQ(rows[1][2].as<std::string>(), "Web app");
}

TEST_F(PostgresSinkTest, RefusedRecordsAreDeadLetteredWithTheirReasonAndTheRestIsWritten) {
  auto sink = open_sink("audit_log");
  auto pos = write_ok(*sink, make_batch("audit_log",
                                        {audit_record("good1", kT0), audit_record("nul", kT0, R"({"x":"\u0000"})"),
                                         audit_record("notjson", kT0, "{not json"), audit_record("good2", kT0)},
                                        1));
  EXPECT_EQ(pos, (nlohmann::json{{"batches", 1}}));
  EXPECT_EQ(ids("audit_log"), (std::set<std::string>{"good1", "good2"}));
  auto dead = query("SELECT stream, record_id, reason, envelope FROM \"" + schema_ +
                    "\".dead_letter ORDER BY record_id");
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0][0].as<std::string>(), "audit_log");
  EXPECT_EQ(dead[0][1].as<std::string>(), "notjson");
  EXPECT_NE(dead[0][2].as<std::string>().find("22P02"), std::string::npos) << dead[0][2].as<std::string>();
  EXPECT_NE(dead[0][3].as<std::string>().find("{not json"), std::string::npos);
  EXPECT_EQ(dead[1][1].as<std::string>(), "nul");
  EXPECT_NE(dead[1][2].as<std::string>().find("22P05"), std::string::npos) << dead[1][2].as<std::string>();

  // The same holds for an entity stream; its good records still get history rows.
  auto flags = open_sink("flags");
  write_ok(*flags, make_batch("flags", {entity_record("flags", "ok", Op::kUpsert, 1, kT0, "{}"),
                                        entity_record("flags", "bad", Op::kUpsert, 1, kT0, "[unclosed")},
                              1));
  EXPECT_EQ(ids("flags"), (std::set<std::string>{"ok"}));
  EXPECT_EQ(scalar("SELECT count(*) FROM " + table("flags_history")), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter WHERE stream = 'flags'"), 1);
}

TEST_F(PostgresSinkTest, AReplayedBatchAddsNoSecondDeadLetter) {
  // A batch committed here whose checkpoint was lost (kill -9 during the checkpoint
  // commit, or another sink failed) is written again: README promises exactly once.
  auto batch = [](int64_t observed_shift) {
    auto bad = audit_record("notjson", kT0, "{not json");
    bad.observed_at_ms += observed_shift;  // fetched again after a restart
    bad.envelope.clear();
    bad.finish();
    return make_batch("audit_log", {audit_record("good1", kT0), bad}, 1);
  };
  auto sink = open_sink("audit_log");
  write_ok(*sink, batch(0));
  write_ok(*sink, batch(0));
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter"), 1);
  ASSERT_TRUE(sink->close().is_ok());
  auto restarted = open_sink("audit_log");  // the checkpoint never saw the batch
  write_ok(*restarted, batch(60'000));
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter"), 1);
  EXPECT_EQ(ids("audit_log"), (std::set<std::string>{"good1"}));

  auto flags = open_sink("flags");
  auto fb = make_batch("flags", {entity_record("flags", "ok", Op::kUpsert, 1, kT0, "{}"),
                                 entity_record("flags", "bad", Op::kUpsert, 1, kT0, "[unclosed")},
                       1);
  write_ok(*flags, fb);
  write_ok(*flags, fb);
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter WHERE stream = 'flags'"), 1);
  // Another refused version of the same id is another dead letter.
  write_ok(*flags, make_batch("flags", {entity_record("flags", "bad", Op::kUpsert, 2, kT0 + 1, "[unclosed2")}, 2));
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter WHERE stream = 'flags'"), 2);
}

TEST_F(PostgresSinkTest, TheDeadLetterKeyMigrationKeepsExistingRows) {
  auto sink = open_sink("audit_log");
  ASSERT_TRUE(sink->close().is_ok());
  // Back to the version 1 table, holding rows a version 1 daemon wrote (replays included).
  query("ALTER TABLE \"" + schema_ + "\".dead_letter DROP COLUMN record_key");
  query("DELETE FROM \"" + schema_ + "\".ldexport_migrations WHERE version >= 2");
  for (int i = 0; i < 2; ++i) {
    query("INSERT INTO \"" + schema_ +
          "\".dead_letter (stream, record_id, reason, envelope) VALUES ('audit_log', 'old', 'r', '{x')");
  }
  auto upgraded = open_sink("audit_log");
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter WHERE record_id = 'old'"), 2);
  EXPECT_EQ(scalar("SELECT max(version) FROM \"" + schema_ + "\".ldexport_migrations"), 2);
  auto b = make_batch("audit_log", {audit_record("new", kT0, "{not json")}, 1);
  write_ok(*upgraded, b);
  write_ok(*upgraded, b);
  EXPECT_EQ(scalar("SELECT count(*) FROM \"" + schema_ + "\".dead_letter WHERE record_id = 'new'"), 1);
}

TEST_F(PostgresSinkTest, HealthAfterCloseSaysClosedAndOpensNoConnection) {
  // The status thread may call health() after the sink was closed at shutdown.
  auto sink = open_sink("audit_log");
  ASSERT_TRUE(sink->health().is_ok());
  const std::string app = "ldexport health warehouse";
  ASSERT_TRUE(wait_for_sessions(app, 1));
  ASSERT_TRUE(sink->close().is_ok());
  Status st = sink->health();
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("closed"), std::string::npos) << st.describe();
  for (int i = 0; i < 50 && scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app + "'") > 0;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app + "'"), 0);
}

TEST_F(PostgresSinkTest, ASchemaMigratedByANewerDaemonIsRefused) {
  auto sink = open_sink("audit_log");
  ASSERT_TRUE(sink->close().is_ok());
  query("INSERT INTO \"" + schema_ +
        "\".ldexport_migrations (version, description, applied_by) VALUES (99, 'from the future', 'ldexport 9.9')");
  auto older = make_sink(stop_);
  Status st = older->open();
  EXPECT_TRUE(st.is_fatal()) << st.describe();
  EXPECT_NE(st.message().find("version 99"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("newer ldexport"), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, ASecondWriterStandsByUntilTheFirstLetsGoThenTakesOver) {
  auto first = open_sink("audit_log");
  write_ok(*first, make_batch("audit_log", {audit_record("a1", kT0)}, 1));

  StopSignal second_stop;
  auto second = make_sink(second_stop);
  ASSERT_TRUE(second->open().is_ok());
  std::atomic<bool> returned{false};
  Status second_status;
  std::thread standby([&] {
    second_status = second->recover("audit_log", nullptr);
    returned = true;
  });
  ASSERT_TRUE(wait_for_sessions("ldexport sink warehouse audit_log", 2));
  // Exactly one session holds the stream's lock, and the second has not got past it.
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"), 1);
  EXPECT_FALSE(returned.load());

  ASSERT_TRUE(first->close().is_ok());  // the daemon dies: its session and lock go
  standby.join();
  ASSERT_TRUE(second_status.is_ok()) << second_status.describe();
  write_ok(*second, make_batch("audit_log", {audit_record("a1", kT0), audit_record("a2", kT0)}, 2));
  EXPECT_EQ(ids("audit_log"), (std::set<std::string>{"a1", "a2"}));
  EXPECT_EQ(scalar("SELECT count(*) FROM " + table("audit_log")), 2);
}

TEST_F(PostgresSinkTest, StopEndsAStandbyPromptly) {
  auto first = open_sink("audit_log");
  StopSignal standby_stop;
  auto second = make_sink(standby_stop);
  ASSERT_TRUE(second->open().is_ok());
  Status st;
  std::thread standby([&] { st = second->recover("audit_log", nullptr); });
  ASSERT_TRUE(wait_for_sessions("ldexport sink warehouse audit_log", 2));
  standby_stop.request_stop();
  standby.join();
  EXPECT_TRUE(st.is_retryable()) << st.describe();
  EXPECT_NE(st.message().find("standing by"), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, TwoSinksOfOneDaemonCannotShareASchema) {
  auto first = open_sink("audit_log");
  auto other = make_sink(stop_, "archive_db");
  ASSERT_TRUE(other->open().is_ok());
  Status st = other->recover("audit_log", nullptr);
  EXPECT_TRUE(st.is_fatal()) << st.describe();
  EXPECT_NE(st.message().find("its own schema"), std::string::npos) << st.message();
}

TEST_F(PostgresSinkTest, AServerRestartIsRetryableAndLosesNothing) {
  auto sink = open_sink("audit_log");
  write_ok(*sink, make_batch("audit_log", {audit_record("a1", kT0)}, 1));
  const Batch b2 = make_batch("audit_log", {audit_record("a2", kT0), audit_record("a3", kT0)}, 2);

  EXPECT_TRUE(sink->health().is_ok());
  ASSERT_TRUE(cluster_->stop("immediate"));
  EXPECT_TRUE(sink->health().is_retryable()) << "/readyz must report the database down";
  auto down = sink->write(b2);
  EXPECT_TRUE(!down.is_ok() && down.status().is_retryable()) << down.status().describe();
  auto still_down = sink->write(b2);
  EXPECT_TRUE(!still_down.is_ok() && still_down.status().is_retryable()) << still_down.status().describe();
  ASSERT_TRUE(cluster_->start());

  EXPECT_TRUE(sink->health().is_ok());
  write_ok(*sink, b2);  // reconnects and takes its lock again
  write_ok(*sink, make_batch("audit_log", {audit_record("a4", kT0)}, 3));
  EXPECT_EQ(ids("audit_log"), (std::set<std::string>{"a1", "a2", "a3", "a4"}));
  EXPECT_EQ(scalar("SELECT count(*) FROM " + table("audit_log")), 4);
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"), 1);
}

TEST_F(PostgresSinkTest, IdentifiersFromConfigAreQuotedNotInterpreted) {
  // A mixed-case schema is created as written (quoted), not folded to lower case.
  schema_ = "Ld_Export_" + random_name("");
  auto sink = open_sink("audit_log");
  write_ok(*sink, make_batch("audit_log", {audit_record("a1", kT0)}, 1));
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema_ + "'"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM " + table("audit_log")), 1);

  PostgresSinkOptions o;
  o.name = "bad";
  o.dsn.dsn = dsn_;
  o.schema = "x\"; DROP SCHEMA public; --";
  PostgresSink bad(o, stop_);
  EXPECT_TRUE(bad.open().is_fatal());
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"), 1);
}

}  // namespace
}  // namespace ldx::pgtest
