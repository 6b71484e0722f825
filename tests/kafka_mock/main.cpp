// kafka-mock: librdkafka's mock Kafka cluster on 127.0.0.1 for end-to-end tests and for
// trying the Kafka sink by hand (kcat -b ADDRESS -C -t ldexport.audit_log).
// First stdout line: "bootstrap 127.0.0.1:PORT[,...]". Then it runs until SIGTERM or
// SIGINT, reading control lines on stdin (see README.md); each gets "ok" or "error: ...".
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <iostream>
#include <string>
#include <vector>

#include "mock_cluster.h"

namespace {
int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  const int saved = errno;
  const char b = static_cast<char>(sig);
  (void)!write(g_stop_pipe[1], &b, 1);
  errno = saved;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kafka-mock: librdkafka's mock Kafka cluster on 127.0.0.1"};
  int brokers = 1;
  std::vector<std::string> topics;
  app.add_option("--brokers", brokers, "Number of brokers (ids 1..N)")->capture_default_str()->check(CLI::Range(1, 9));
  app.add_option("--topic", topics, "Create NAME[:PARTITIONS] up front (default 4 partitions)");
  CLI11_PARSE(app, argc, argv);

  if (pipe(g_stop_pipe) != 0) return 1;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string error;
  auto cluster = ldx::testing::MockCluster::start(brokers, &error);
  if (!cluster) {
    std::cerr << "kafka-mock: cannot start the mock cluster: " << error << "\n";
    return 1;
  }
  for (const auto& t : topics) {
    std::string name = t;
    int parts = 4;
    if (auto colon = t.rfind(':'); colon != std::string::npos) {
      name = t.substr(0, colon);
      parts = std::atoi(t.c_str() + colon + 1);
    }
    if (name.empty() || parts < 1 || !cluster->create_topic(name, parts)) {
      std::cerr << "kafka-mock: cannot create topic '" << t << "'\n";
      return 2;
    }
  }
  std::cout << "bootstrap " << cluster->bootstrap() << std::endl;

  bool stdin_open = true;
  std::string pending;
  for (;;) {
    pollfd fds[2] = {{g_stop_pipe[0], POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    const int n = poll(fds, stdin_open ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & POLLIN) break;
    if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP))) {
      char buf[4096];
      const ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
      if (r <= 0) {
        stdin_open = false;  // no controller: keep serving until a signal
        continue;
      }
      pending.append(buf, static_cast<size_t>(r));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::cout << ldx::testing::apply_control_command(*cluster, line) << std::endl;
      }
    }
  }
  cluster.reset();
  return 0;
}
