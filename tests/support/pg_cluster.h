// A throw-away Postgres cluster for tests and benchmarks: initdb into a temp
// directory, pg_ctl start on a free loopback port (unix socket in the same directory),
// stop and remove at the end. Postgres refuses to run as root, so when the tests run
// as root the cluster runs as the `postgres` OS user (the directory is chowned to it).
//
// A watchdog process stops the cluster and removes its directory if the test process
// dies without cleaning up (kill -9, ctest timeout), so no postmaster outlives a run.
//
// The binaries come from $LDX_PG_BIN, else /usr/lib/postgresql/15/bin.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace ldx::test_support {

// The start of the error when the server binaries are not installed: tests skip then,
// and fail on any other error (a broken setup must not pass as "skipped").
inline constexpr const char* kNoBinaries = "no Postgres server binaries";

struct PgClusterOptions {
  // Extra server settings, "name=value" (passed as -c name=value).
  std::vector<std::string> settings;
};

class PgCluster {
 public:
  // Returns nullptr and sets `error` when the cluster cannot be created or started.
  static std::unique_ptr<PgCluster> create(const PgClusterOptions& options, std::string& error);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] const std::string& bin_dir() const { return bin_; }
  // A libpq key/value DSN for `dbname` over TCP on 127.0.0.1, user postgres (trust).
  [[nodiscard]] std::string dsn(const std::string& dbname = "postgres") const;
  // Creates a database with a random name and returns the name.
  std::string create_database(const std::string& prefix = "ldx_test");

  // mode: "fast" (clean) or "immediate" (crash-like; WAL recovery at the next start).
  bool stop(const std::string& mode = "fast");
  bool start();
  [[nodiscard]] bool running() const { return running_; }

 private:
  PgCluster() = default;
  bool run_pg(const std::vector<std::string>& argv, std::string* output = nullptr);

  std::string bin_;
  std::string dir_;
  std::string data_;
  std::string log_;
  int port_ = 0;
  bool as_postgres_ = false;
  unsigned uid_ = 0;
  unsigned gid_ = 0;
  bool running_ = false;
  std::vector<std::string> settings_;
  int watchdog_fd_ = -1;
  int watchdog_pid_ = -1;
};

}  // namespace ldx::test_support
