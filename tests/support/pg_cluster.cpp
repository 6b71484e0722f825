#include "pg_cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace ldx::test_support {

namespace {

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string random_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 10; ++i) s.push_back(kChars[rng() % (sizeof kChars - 1)]);
  return s;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

// fork + (drop to postgres) + exec, output to `log_path`; returns the exit status.
int spawn_wait(const std::vector<std::string>& argv, bool as_postgres, unsigned uid, unsigned gid,
               const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    // Only async-signal-safe calls until exec. The server inherits these descriptors:
    // never the test runner's pipes, or ctest would wait for the server to exit. The
    // log is opened after dropping privileges: the server appends to it too.
    if (as_postgres) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(126);
    }
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::unique_ptr<PgCluster> PgCluster::create(const PgClusterOptions& options, std::string& error) {
  std::unique_ptr<PgCluster> c(new PgCluster());
  const char* env_bin = std::getenv("LDX_PG_BIN");
  c->bin_ = env_bin != nullptr ? env_bin : "/usr/lib/postgresql/15/bin";
  if (::access((c->bin_ + "/initdb").c_str(), X_OK) != 0 || ::access((c->bin_ + "/pg_ctl").c_str(), X_OK) != 0) {
    error = std::string(kNoBinaries) + " in " + c->bin_ + " (set LDX_PG_BIN)";
    return nullptr;
  }
  c->settings_ = options.settings;
  if (::geteuid() == 0) {
    passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      error = "running as root and there is no 'postgres' OS user to run the server as";
      return nullptr;
    }
    c->as_postgres_ = true;
    c->uid_ = pw->pw_uid;
    c->gid_ = pw->pw_gid;
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "ldx-pg-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    error = "mkdtemp failed";
    return nullptr;
  }
  c->dir_ = tmpl;
  c->data_ = c->dir_ + "/data";
  c->log_ = c->dir_ + "/server.log";
  if (c->as_postgres_ && ::chown(c->dir_.c_str(), c->uid_, c->gid_) != 0) {
    error = "cannot chown " + c->dir_ + " to postgres";
    return nullptr;
  }

  // The watchdog: a shell that blocks reading a pipe only we hold; when we exit (even by
  // SIGKILL) the pipe closes and it stops the server and removes the directory.
  {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      error = "pipe2 failed";
      return nullptr;
    }
    const std::string stop_cmd = shell_quote(c->bin_ + "/pg_ctl") + " stop -m immediate -D " + shell_quote(c->data_);
    const std::string as_pg = c->as_postgres_ ? "runuser -u postgres -- " : "";
    const std::string script = "cat >/dev/null; " + as_pg + stop_cmd + " >/dev/null 2>&1; rm -rf " + shell_quote(c->dir_);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[0], 0);
      int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
      }
      ::setsid();  // not in the test's process group: a group kill must not take it down
      ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[0]);
    c->watchdog_fd_ = fds[1];
    c->watchdog_pid_ = pid;
  }

  const std::string init_log = c->dir_ + "/initdb.log";
  if (c->run_pg({c->bin_ + "/initdb", "-D", c->data_, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C.UTF-8", "--no-sync"}) == false) {
    error = "initdb failed: " + read_file(c->log_);
    return nullptr;
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    c->port_ = free_loopback_port();
    if (c->start()) return c;
  }
  error = "pg_ctl start failed: " + read_file(c->log_);
  return nullptr;
}

bool PgCluster::run_pg(const std::vector<std::string>& argv, std::string* /*output*/) {
  return spawn_wait(argv, as_postgres_, uid_, gid_, log_) == 0;
}

bool PgCluster::start() {
  std::string opts = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_;
  for (const auto& s : settings_) opts += " -c " + s;
  running_ = run_pg({bin_ + "/pg_ctl", "start", "-w", "-t", "60", "-D", data_, "-l", log_, "-o", opts});
  return running_;
}

bool PgCluster::stop(const std::string& mode) {
  if (!running_) return true;
  const bool ok = run_pg({bin_ + "/pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", data_});
  if (ok) running_ = false;
  return ok;
}

std::string PgCluster::dsn(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + dbname + " user=postgres";
}

std::string PgCluster::create_database(const std::string& prefix) {
  const std::string name = prefix + "_" + random_suffix();
  pqxx::connection conn(dsn("postgres"));
  pqxx::nontransaction tx(conn);
  tx.exec("CREATE DATABASE " + tx.quote_name(name));
  return name;
}

PgCluster::~PgCluster() {
  if (running_) stop("immediate");
  if (watchdog_fd_ >= 0) {
    ::close(watchdog_fd_);  // the watchdog wakes, finds the server stopped, removes dir_
    int status = 0;
    ::waitpid(watchdog_pid_, &status, 0);
  } else if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace ldx::test_support
