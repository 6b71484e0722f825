// ld-simulator: a LaunchDarkly REST API stand-in for tests. See README.md.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "sim_config.h"
#include "sim_server.h"

namespace {

// Self-pipe: the signal handler only writes one byte; main() waits on the read end.
int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  const int saved_errno = errno;
  const char byte = static_cast<char>(sig);
  const ssize_t n = write(g_stop_pipe[1], &byte, 1);
  (void)n;
  errno = saved_errno;
}

bool install_stop_handlers() {
  if (pipe2(g_stop_pipe, O_CLOEXEC) != 0) return false;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: read() must return EINTR (TSan runs handlers late)
  return sigaction(SIGTERM, &sa, nullptr) == 0 && sigaction(SIGINT, &sa, nullptr) == 0;
}

int wait_for_stop_signal() {
  char byte = 0;
  for (;;) {
    const ssize_t n = read(g_stop_pipe[0], &byte, 1);
    if (n == 1) return static_cast<unsigned char>(byte);
    if (n < 0 && errno == EINTR) continue;
    return 0;
  }
}

std::chrono::milliseconds duration_or_exit(const std::string& flag, const std::string& text) {
  const auto d = ldsim::parse_duration(text);
  if (!d) {
    std::cerr << "ld-simulator: " << flag << ": invalid duration '" << text
              << "' (use e.g. 500ms, 2s, 1m or off)\n";
    std::exit(2);
  }
  return *d;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ld-simulator: a LaunchDarkly REST API stand-in for tests"};
  ldsim::SimConfig cfg;
  std::string append_every = "off";
  std::string fault_delay_max = "1500ms";

  app.add_option("--port", cfg.port, "TCP port on 127.0.0.1 (0 = pick a free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--token", cfg.token,
                 "Access token: /api/v2 requests must send 'Authorization: <token>'")
      ->required();
  app.add_option("--seed", cfg.seed, "Seed for all generated data")->capture_default_str();
  app.add_option("--rate-limit", cfg.rate_limit,
                 "Requests per 10 s window, global and per route (0 = unlimited, no headers)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--fault-rate", cfg.fault_rate,
                 "Probability of a fault (5xx, slow, drop, truncate) per /api/v2 request")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--fault-delay-max", fault_delay_max,
                 "Longest delay of a slow-response fault (e.g. 1500ms, 2s)")
      ->capture_default_str();
  // Audit log family.
  app.add_option("--audit-entries", cfg.audit_log.entries, "Audit log entries generated at start")
      ->capture_default_str()
      ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(10000000)));
  app.add_option("--audit-end-ms", cfg.audit_log.end_ms,
                 "Date (epoch ms) of the newest generated entry; older ones go backwards")
      ->capture_default_str();
  app.add_option("--append-every", append_every,
                 "Append new audit entries dated now every DURATION (e.g. 500ms, 2s; off)")
      ->capture_default_str();
  app.add_option("--late-rate", cfg.audit_log.late_rate,
                 "Fraction of appended entries dated 1-20 s in the past")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  // Entity families (projects, environments, flags, segments, contexts, members, teams,
  // metrics, experiments).
  ldsim::EntityConfig& ent = cfg.entities;
  std::string mutate_every = "off";
  const auto count = [&](const char* name, std::int64_t& field, const char* what, std::int64_t max) {
    app.add_option(name, field, what)->capture_default_str()->check(
        CLI::Range(static_cast<std::int64_t>(0), max));
  };
  count("--projects", ent.projects, "Projects (keys default, mobile-app, project-3, ...)", 1000);
  count("--environments", ent.environments,
        "Environments per project (production, test, env-3, ...)", 1000);
  count("--flags", ent.flags, "Flags per project", 1000000);
  count("--segments", ent.segments, "Segments per project and environment", 1000000);
  count("--contexts", ent.contexts, "Contexts per project and environment", 10000000);
  count("--members", ent.members, "Account members", 1000000);
  count("--teams", ent.teams, "Teams", 100000);
  count("--metrics", ent.metrics, "Metrics per project", 1000000);
  count("--experiments", ent.experiments, "Experiments per project and environment (beta)", 100000);
  app.add_flag("--contexts-next-link-only", ent.contexts_next_link_only,
               "contexts/search pages omit the body continuationToken; the token is only in "
               "_links.next.href (the form the spec prefers)");
  app.add_option("--mutate-every", mutate_every,
                 "Apply one random entity mutation every DURATION (e.g. 200ms, 1s; off)")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  cfg.audit_log.append_every = duration_or_exit("--append-every", append_every);
  cfg.entities.mutate_every = duration_or_exit("--mutate-every", mutate_every);
  // The generated entities end where the generated audit log ends.
  cfg.entities.end_ms = cfg.audit_log.end_ms;
  cfg.fault_delay_max = duration_or_exit("--fault-delay-max", fault_delay_max);
  if (cfg.token.empty()) {
    std::cerr << "ld-simulator: --token must not be empty\n";
    return 2;
  }

  // A peer that goes away must not kill us.
  signal(SIGPIPE, SIG_IGN);
  if (!install_stop_handlers()) {
    std::cerr << "ld-simulator: cannot install signal handlers\n";
    return 1;
  }

  try {
    ldsim::SimServer server(cfg);
    // Server threads inherit a mask that blocks the stop signals, so they are delivered to
    // this thread, which waits in read() below (also under TSan, which defers signals
    // that land on a thread blocked in a condition wait).
    sigset_t stop_signals;
    sigset_t old_mask;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    const int port = server.start();
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    std::cout << "listening on 127.0.0.1:" << port << std::endl;

    const int sig = wait_for_stop_signal();
    std::cerr << "ld-simulator: stopping on signal " << sig << std::endl;
    server.stop();
  } catch (const std::exception& e) {
    std::cerr << "ld-simulator: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
