#include "sinks/postgres/pg_identifiers.h"

#include <gtest/gtest.h>

#include "sinks/postgres/pg_stream_tables.h"

namespace ldx::pg {
namespace {

TEST(PgIdentifiers, AcceptsPlainSchemaAndStreamNames) {
  EXPECT_TRUE(validate_identifier("launchdarkly", "schema").is_ok());
  EXPECT_TRUE(validate_identifier("LD_Export_2", "schema").is_ok());
  EXPECT_TRUE(validate_identifier("_private", "schema").is_ok());
  EXPECT_TRUE(validate_stream_name("audit_log").is_ok());
  EXPECT_TRUE(validate_stream_name("flags").is_ok());
}

TEST(PgIdentifiers, RejectsAnythingThatCouldEscapeQuotingOrBeTruncated) {
  for (const char* bad : {"", "bad\"name", "a;drop table x", "white space", "1starts_with_digit", "dash-ed",
                          "pg_catalog", "PG_temp", "caf\xc3\xa9"}) {
    Status st = validate_identifier(bad, "schema");
    EXPECT_TRUE(st.is_fatal()) << bad;
  }
  EXPECT_TRUE(validate_identifier(std::string(63, 'a'), "schema").is_ok());
  EXPECT_TRUE(validate_identifier(std::string(64, 'a'), "schema").is_fatal());
  // Stream names feed "<stream>_history_project_env_idx": capped lower.
  EXPECT_TRUE(validate_stream_name(std::string(40, 's')).is_ok());
  EXPECT_TRUE(validate_stream_name(std::string(41, 's')).is_fatal());
}

TEST(PgIdentifiers, ErrorNamesTheOffendingValue) {
  Status st = validate_identifier("bad\"name", "schema");
  EXPECT_NE(st.message().find("schema 'bad\"name'"), std::string::npos) << st.message();
}

TEST(PgIdentifiers, QuotingDoublesEmbeddedQuotes) {
  EXPECT_EQ(quote_identifier("launchdarkly"), "\"launchdarkly\"");
  EXPECT_EQ(quote_identifier("Mixed"), "\"Mixed\"");
  EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(qualified("s", "t"), "\"s\".\"t\"");
}

TEST(PgIdentifiers, WriterLockKeyIsStableAndDistinguishesSchemaAndStream) {
  // Pinned: daemons of different versions must compute the same key for one table.
  EXPECT_EQ(writer_lock_key("launchdarkly", "audit_log"), -8352300973298268615LL);
  EXPECT_NE(writer_lock_key("launchdarkly", "audit_log"), writer_lock_key("launchdarkly", "flags"));
  EXPECT_NE(writer_lock_key("a", "b_c"), writer_lock_key("a_b", "c"));
}

TEST(PgStreamTables, AuditLogIsAppendOnlyEverythingElseKeepsHistory) {
  EXPECT_EQ(layout_for_stream("audit_log"), TableLayout::kAppendOnly);
  EXPECT_EQ(layout_for_stream("flags"), TableLayout::kEntity);
  EXPECT_EQ(layout_for_stream("contexts"), TableLayout::kEntity);
}

TEST(PgStreamTables, StatementsUseQuotedIdentifiersAndBindEveryValue) {
  const StreamSql a = build_stream_sql("Warehouse", "audit_log", TableLayout::kAppendOnly);
  EXPECT_EQ(a.table, "\"Warehouse\".\"audit_log\"");
  EXPECT_NE(a.insert_append.find("ON CONFLICT (id) DO NOTHING"), std::string::npos);
  EXPECT_NE(a.upsert_cursor.find("$2::jsonb"), std::string::npos);
  EXPECT_NE(a.insert_dead_letter.find("VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream, record_key) DO NOTHING"),
            std::string::npos);
  EXPECT_TRUE(a.history.empty());

  const StreamSql e = build_stream_sql("Warehouse", "flags", TableLayout::kEntity);
  EXPECT_EQ(e.history, "\"Warehouse\".\"flags_history\"");
  for (const auto& ddl : e.create_tables) {
    EXPECT_EQ(ddl.find("Warehouse."), std::string::npos) << "unquoted schema in: " << ddl;
  }
  EXPECT_NE(e.upsert_current.find("ON CONFLICT (id) DO UPDATE"), std::string::npos);
  EXPECT_NE(e.insert_history.find("ON CONFLICT (id, revision) DO NOTHING"), std::string::npos);
}

}  // namespace
}  // namespace ldx::pg
