// The DSN may hold a password; README promises it is never logged. libpq quotes parts
// of a malformed connection string in its errors, so every error that comes from a
// connection attempt must be scrubbed, and a malformed DSN must stop with a message that
// says which part is wrong without showing it. No server is needed: a malformed DSN
// fails before any connection is tried.
#include <gtest/gtest.h>

#include <pqxx/except>

#include <algorithm>
#include <string>
#include <vector>

#include "checkpoint/postgres/postgres_checkpoint_store.h"
#include "core/stop_signal.h"
#include "sinks/postgres/pg_connection.h"
#include "sinks/postgres/pg_errors.h"
#include "sinks/postgres/postgres_sink.h"

namespace ldx {
namespace {

struct BadDsn {
  std::string dsn;
  std::vector<std::string> hidden;  // must appear nowhere in the message
  std::string names;                // the part the message must name
};

// The three reported in review, and a few more of libpq's syntax errors.
std::vector<BadDsn> bad_dsns() {
  return {
      {"postgresql://u:SECRET%ZZPW@127.0.0.1:1/db", {"SECRET", "ZZPW"}, "password"},
      {"host=127.0.0.1 port=1 dbname=db user=u password=my secret", {"secret"}, "password"},
      {"postgresql://u:ABCD%00EFGH@127.0.0.1:1/db", {"ABCD", "EFGH"}, "password"},
      {"postgresql://u:hunter2hunter@127.0.0.1:1/db?password=q%GGuery&sslmode=disable", {"hunter2hunter", "q%GGuery", "GGuery"},
       "password"},
      {"host=127.0.0.1 password='never closed", {"never closed", "closed"}, "unterminated"},
      {"postgresql://u:s3cr3tpw@[::1/db", {"s3cr3tpw"}, "IPv6"},
  };
}

TEST(PgDsn, ScrubHidesEverySecretLongestFirstAndLeavesShortOnesAlone) {
  EXPECT_EQ(pg::scrub("bad \"SECRET%ZZPW\" and SECRET%ZZPW again", {"SECRET", "SECRET%ZZPW"}),
            "bad \"***\" and *** again");
  EXPECT_EQ(pg::scrub("a message", {"", "a", "me"}), "a message");  // hiding these would garble it
  EXPECT_EQ(pg::scrub("xSECRETSECRETx", {"SECRET"}), "x******x");
}

TEST(PgDsn, SecretsAreThePasswordAsWrittenAndDecodedAndTheWholeDsn) {
  const std::string uri = "postgresql://ldx:p%40ss%2Fw0rd@db.internal:5432/warehouse";
  auto s = pg::dsn_secrets(uri);
  for (const char* want : {"p%40ss%2Fw0rd", "p@ss/w0rd", uri.c_str()}) {
    EXPECT_NE(std::find(s.begin(), s.end(), want), s.end()) << want;
  }
  s = pg::dsn_secrets("host=db password='it\\'s quoted' user=u");
  EXPECT_NE(std::find(s.begin(), s.end(), "it's quoted"), s.end());
  s = pg::dsn_secrets("host=db user=u password='my secret pw'");
  EXPECT_NE(std::find(s.begin(), s.end(), "my secret pw"), s.end());
  s = pg::dsn_secrets("postgresql://u@db/x?password=q%20w&sslmode=disable");
  EXPECT_NE(std::find(s.begin(), s.end(), "q w"), s.end());
}

TEST(PgDsn, AMalformedDsnIsFatalNamesThePartAndShowsNoValue) {
  for (const auto& bad : bad_dsns()) {
    Status st = pg::validate_dsn(bad.dsn);
    ASSERT_TRUE(st.is_fatal()) << bad.dsn << ": " << st.describe();
    for (const auto& h : bad.hidden) EXPECT_EQ(st.message().find(h), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(bad.names), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("invalid dsn"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(pg::validate_dsn("postgresql://u:p%40ss@db/x?sslmode=disable").is_ok());
  EXPECT_TRUE(pg::validate_dsn("host=db user=u password='my secret'").is_ok());
}

TEST(PgDsn, SinkOpenOnAMalformedDsnIsFatalWithoutThePassword) {
  for (const auto& bad : bad_dsns()) {
    StopSignal stop;
    PostgresSinkOptions o;
    o.name = "warehouse";
    o.dsn.dsn = bad.dsn;
    PostgresSink sink(std::move(o), stop);
    Status st = sink.open();
    ASSERT_TRUE(st.is_fatal()) << bad.dsn << ": " << st.describe();  // not retried forever by `run`
    for (const auto& h : bad.hidden) EXPECT_EQ(st.describe().find(h), std::string::npos) << st.describe();
    EXPECT_NE(st.message().find("postgres sink warehouse"), std::string::npos) << st.message();
    st = sink.health();
    EXPECT_FALSE(st.is_ok());
    for (const auto& h : bad.hidden) EXPECT_EQ(st.describe().find(h), std::string::npos) << st.describe();
  }
}

TEST(PgDsn, CheckpointStoreOpenOnAMalformedDsnIsFatalWithoutThePassword) {
  for (const auto& bad : bad_dsns()) {
    pg::DsnSource src;
    src.dsn = bad.dsn;
    PostgresCheckpointStore store(src, "launchdarkly");
    Status st = store.open();
    ASSERT_TRUE(st.is_fatal()) << bad.dsn << ": " << st.describe();
    for (const auto& h : bad.hidden) EXPECT_EQ(st.describe().find(h), std::string::npos) << st.describe();
  }
}

TEST(PgDsn, ConnectionErrorsAreScrubbedOfEveryRegisteredDsnsPassword) {
  // libpqxx re-opens a broken connection by itself, outside pg::connect; its error is
  // libpq's text again, so status_from_exception scrubs it too.
  (void)pg::dsn_secrets("");  // no secrets from an empty DSN
  pg::remember_secrets(pg::dsn_secrets("postgresql://u:Xy7%25secretpw@db/x"));
  try {
    throw pqxx::broken_connection("could not connect: invalid thing \"Xy7%25secretpw\" (Xy7%secretpw)");
  } catch (const std::exception& e) {
    Status st = pg::status_from_exception(e, "postgres sink w: ");
    EXPECT_EQ(st.message().find("secretpw"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("postgres sink w: connection: could not connect"), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace ldx
