#include "sinks/postgres/pg_connection.h"

#include <pqxx/nontransaction>

#include <fstream>
#include <sstream>

#include "sinks/postgres/pg_errors.h"

namespace ldx::pg {

namespace {
std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t lead = 0;
  while (lead < s.size() && (s[lead] == ' ' || s[lead] == '\t')) ++lead;
  return s.substr(lead);
}
}  // namespace

Result<std::string> DsnSource::resolve() const {
  if (dsn_file.empty()) return dsn;
  std::ifstream in(dsn_file);
  if (!in) return Status::fatal("cannot read dsn_file '" + dsn_file + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = trim(ss.str());
  if (s.empty()) return Status::fatal("dsn_file '" + dsn_file + "' is empty");
  return s;
}

DsnSource parse_dsn_keys(ConfigNode& node) {
  DsnSource out;
  auto dsn = node.opt_str("dsn");
  auto file = node.opt_str("dsn_file");
  if (dsn && file) {
    node.error_at("dsn_file", "set either dsn or dsn_file, not both");
  } else if (!dsn && !file) {
    node.error("missing dsn: set dsn (e.g. \"postgresql://ldexport@db/warehouse\" or \"${PG_DSN}\") or dsn_file");
  } else if (dsn) {
    out.dsn = trim(*dsn);
    if (out.dsn.empty()) node.error_at("dsn", "the dsn is empty");
  } else {
    out.dsn_file = *file;
    auto resolved = out.resolve();
    if (!resolved.is_ok()) node.error_at("dsn_file", resolved.status().message());
  }
  return out;
}

Result<std::unique_ptr<pqxx::connection>> connect(const DsnSource& source, const std::string& application_name,
                                                   const std::string& context) {
  auto dsn = source.resolve();
  if (!dsn.is_ok()) return dsn.status().with_context(context);
  try {
    auto conn = std::make_unique<pqxx::connection>(dsn.value());
    pqxx::nontransaction tx(*conn);
    tx.exec_params("SELECT set_config('application_name', $1, false)", application_name);
    return conn;
  } catch (const std::exception& e) {
    return status_from_exception(e, context);
  }
}

std::string describe(pqxx::connection& conn) {
  auto s = [](const char* p) { return std::string(p != nullptr ? p : ""); };
  return s(conn.username()) + "@" + s(conn.hostname()) + ":" + s(conn.port()) + "/" + s(conn.dbname());
}

}  // namespace ldx::pg
