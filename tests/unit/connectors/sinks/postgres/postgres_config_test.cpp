#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "checkpoint/postgres/postgres_checkpoint_store.h"
#include "registry.h"
#include "sinks/postgres/pg_migrations.h"
#include "sinks/postgres/postgres_sink.h"

namespace ldx {
namespace {

std::string config_with(const std::string& sink, const std::string& checkpoint = "{ type: file, path: /tmp/x }") {
  return "launchdarkly: { base_url: http://127.0.0.1:1, token: t }\n"
         "streams:\n  audit_log: { interval: 5s }\n"
         "sinks:\n  - " +
         sink + "\ncheckpoint: " + checkpoint + "\n";
}

LoadResult load(const std::string& yaml) { return load_config_string(yaml, "test.yaml", builtin_catalog()); }

std::string all_errors(const LoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e + "\n";
  return s;
}

TEST(PostgresSinkConfig, DefaultsAndInterpolatedDsn) {
  ::setenv("LDX_TEST_PG_DSN", "host=db user=ldexport password=s3cret", 1);
  auto r = load(config_with("{ name: warehouse, type: postgres, dsn: \"${LDX_TEST_PG_DSN}\" }"));
  ASSERT_TRUE(r.config) << all_errors(r);
  auto* sc = dynamic_cast<PostgresSinkConfig*>(r.config->sinks.at(0).get());
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->name, "warehouse");
  EXPECT_EQ(sc->dsn.dsn, "host=db user=ldexport password=s3cret");
  EXPECT_EQ(sc->schema, "launchdarkly");
  EXPECT_EQ(sc->standby_retry, Millis(5000));
}

TEST(PostgresSinkConfig, DsnFileIsReadAtConnectTime) {
  auto path = std::filesystem::temp_directory_path() / ("ldx-dsn-" + std::to_string(::getpid()));
  {
    std::ofstream(path) << "host=db dbname=one\n";
  }
  auto r = load(config_with("{ type: postgres, dsn_file: " + path.string() + ", schema: Ld_Export, standby_retry: 2s }"));
  ASSERT_TRUE(r.config) << all_errors(r);
  auto* sc = dynamic_cast<PostgresSinkConfig*>(r.config->sinks.at(0).get());
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->schema, "Ld_Export");
  EXPECT_EQ(sc->standby_retry, Millis(2000));
  EXPECT_EQ(sc->dsn.resolve().value(), "host=db dbname=one");
  {
    std::ofstream(path) << "host=db dbname=rotated\n";  // a rotated secret
  }
  EXPECT_EQ(sc->dsn.resolve().value(), "host=db dbname=rotated");
  std::filesystem::remove(path);
}

TEST(PostgresSinkConfig, MistakesAreReportedWithTheirLocation) {
  auto both = load(config_with("{ type: postgres, dsn: x, dsn_file: /etc/hostname }"));
  EXPECT_FALSE(both.config);
  EXPECT_NE(all_errors(both).find("either dsn or dsn_file"), std::string::npos) << all_errors(both);

  auto none = load(config_with("{ type: postgres }"));
  EXPECT_FALSE(none.config);
  EXPECT_NE(all_errors(none).find("missing dsn"), std::string::npos) << all_errors(none);

  auto missing_file = load(config_with("{ type: postgres, dsn_file: /nonexistent/ldx-dsn }"));
  EXPECT_FALSE(missing_file.config);
  EXPECT_NE(all_errors(missing_file).find("cannot read dsn_file"), std::string::npos);

  auto injected = load(config_with("{ type: postgres, dsn: x, schema: 'ld\"; DROP SCHEMA public; --' }"));
  EXPECT_FALSE(injected.config);
  EXPECT_NE(all_errors(injected).find("test.yaml:"), std::string::npos);
  EXPECT_NE(all_errors(injected).find("schema"), std::string::npos);

  auto unknown = load(config_with("{ type: postgres, dsn: x, table: t }"));
  EXPECT_FALSE(unknown.config);
  EXPECT_NE(all_errors(unknown).find("table"), std::string::npos);
}

TEST(PostgresSinkConfig, AMalformedDsnIsAConfigErrorThatShowsNoPassword) {
  auto r = load(config_with("{ type: postgres, dsn: \"postgresql://u:SECRET%ZZPW@db/x\" }",
                            "{ type: postgres, dsn: \"host=db password=my secret\" }"));
  EXPECT_FALSE(r.config);
  const std::string errors = all_errors(r);
  EXPECT_NE(errors.find("test.yaml:"), std::string::npos) << errors;
  EXPECT_NE(errors.find("password of the URI"), std::string::npos) << errors;
  EXPECT_NE(errors.find("after the value of option 'password'"), std::string::npos) << errors;
  for (const char* secret : {"SECRET", "ZZPW", "secret"}) EXPECT_EQ(errors.find(secret), std::string::npos) << errors;
}

TEST(PostgresCheckpointConfig, SameKeysAsTheSink) {
  auto r = load(config_with("{ type: file, path: /tmp/a }", "{ type: postgres, dsn: \"host=db\", schema: ops }"));
  ASSERT_TRUE(r.config) << all_errors(r);
  auto* cc = dynamic_cast<PostgresCheckpointConfig*>(r.config->checkpoint.get());
  ASSERT_NE(cc, nullptr);
  EXPECT_EQ(cc->dsn.dsn, "host=db");
  EXPECT_EQ(cc->schema, "ops");

  auto bad = load(config_with("{ type: file, path: /tmp/a }", "{ type: postgres }"));
  EXPECT_FALSE(bad.config);
}

TEST(PgMigrations, ANewerSchemaIsRefusedWithAClearMessage) {
  EXPECT_TRUE(pg::check_schema_version(0, pg::latest_schema_version(), "launchdarkly").is_ok());
  EXPECT_TRUE(pg::check_schema_version(pg::latest_schema_version(), pg::latest_schema_version(), "ld").is_ok());
  Status st = pg::check_schema_version(pg::latest_schema_version() + 1, pg::latest_schema_version(), "launchdarkly");
  EXPECT_TRUE(st.is_fatal());
  EXPECT_NE(st.message().find("newer ldexport"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("launchdarkly"), std::string::npos);
}

TEST(PgMigrations, VersionsAreNumberedInOrderFromOne) {
  int expect = 1;
  for (const auto& m : pg::migrations()) EXPECT_EQ(m.version, expect++);
  EXPECT_EQ(pg::latest_schema_version(), expect - 1);
}

}  // namespace
}  // namespace ldx
