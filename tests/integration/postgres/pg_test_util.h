// Shared helpers of the Postgres integration tests: a fresh database and schema per
// test on the process's throw-away cluster, record and batch builders, and queries.
#pragma once

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <random>
#include <string>
#include <vector>

#include "core/record.h"
#include "pg_cluster_gtest.h"

namespace ldx::pgtest {

inline std::string random_name(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  return prefix + std::to_string(rng() % 1'000'000'000);
}

inline Record audit_record(const std::string& id, int64_t occurred_ms, const std::string& data = "") {
  Record r;
  r.stream = "audit_log";
  r.id = id;
  r.project = "default";
  r.environment = "production";
  r.kind = "flag";
  r.occurred_at_ms = occurred_ms;
  r.observed_at_ms = occurred_ms + 500;
  r.data = data.empty() ? nlohmann::json{{"_id", id}, {"kind", "flag"}}.dump() : data;
  r.finish();
  return r;
}

inline Record entity_record(const std::string& stream, const std::string& id, Op op, std::optional<int64_t> version,
                            std::optional<int64_t> occurred_ms, const std::string& data, int64_t observed_ms = 0) {
  Record r;
  r.stream = stream;
  r.id = id;
  r.op = op;
  r.project = "default";
  r.kind = "flag";
  r.version = version;
  r.occurred_at_ms = occurred_ms;
  r.observed_at_ms = observed_ms != 0 ? observed_ms : occurred_ms.value_or(0) + 60'000;
  r.data = data;
  r.finish();
  return r;
}

inline Batch make_batch(const std::string& stream, std::vector<Record> records, int cursor) {
  Batch b;
  b.stream = stream;
  b.records = std::move(records);
  b.cursor = {{"page", cursor}};
  return b;
}

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LDX_REQUIRE_PG_CLUSTER(cluster_);
    db_ = cluster_->create_database();
    schema_ = random_name("ld_");
    dsn_ = cluster_->dsn(db_);
  }

  pqxx::result query(const std::string& sql) {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    auto r = tx.exec(sql);
    tx.commit();
    return r;
  }
  int64_t scalar(const std::string& sql) { return query(sql)[0][0].as<int64_t>(); }
  std::string table(const std::string& name) const { return "\"" + schema_ + "\".\"" + name + "\""; }

  test_support::PgCluster* cluster_ = nullptr;
  std::string db_;
  std::string schema_;
  std::string dsn_;
};

}  // namespace ldx::pgtest
