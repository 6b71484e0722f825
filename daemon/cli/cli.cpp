#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <set>
#include <thread>

#include "cli/verify_command.h"
#include "ldexport_version.h"
#include "pipeline/exporter.h"
#include "registry.h"
#include "telemetry/log_fields.h"
#include "telemetry/logging.h"

namespace ldx {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitInvalid = 2;

std::unique_ptr<Config> load_or_report(const std::string& path) {
  auto res = load_config_file(path, builtin_catalog());
  for (const auto& e : res.errors) std::cerr << e << "\n";
  if (!res.config) std::cerr << "ldexport: " << res.errors.size() << " problem(s) in " << path << "\n";
  return std::move(res.config);
}

// SIGINT/SIGTERM are blocked in every thread and taken by one watcher thread: the
// first asks for a graceful stop (finish in-flight batches, commit, exit 0); a second,
// or the shutdown timeout running out, ends the process at once. That is safe: sinks
// truncate or upsert past the committed checkpoint on the next start.
class SignalWatcher {
 public:
  SignalWatcher(StopSignal& stop, Millis timeout) : stop_(stop), timeout_(timeout) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] { watch(); });
  }
  ~SignalWatcher() {
    done_.request_stop();
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

 private:
  void watch() {
    int sig = 0;
    sigwait(&set_, &sig);
    if (done_.stop_requested()) return;
    spdlog::info("received {}: stopping polling, finishing in-flight batches", sig == SIGINT ? "SIGINT" : "SIGTERM");
    stop_.request_stop();
    std::thread([this] {
      if (done_.sleep_for(timeout_)) {
        spdlog::error("shutdown_timeout ({} ms) passed; exiting now", timeout_.count());
        std::_Exit(kExitFailed);
      }
    }).detach();
    sigwait(&set_, &sig);
    if (done_.stop_requested()) return;
    spdlog::warn("second signal: exiting at once");
    std::_Exit(128 + sig);
  }
  StopSignal& stop_;
  StopSignal done_;
  Millis timeout_;
  sigset_t set_{};
  std::thread thread_;
};

int export_command(const std::string& config_path, bool once) {
  auto cfg = load_or_report(config_path);
  if (!cfg) return kExitInvalid;
  if (std::none_of(cfg->streams.begin(), cfg->streams.end(), [](const auto& s) { return s->enabled; })) {
    std::cerr << "ldexport: " << config_path << ": no stream is enabled under 'streams'\n";
    return kExitInvalid;
  }
  setup_logging(cfg->log, LogOutput::kStdout);
  StopSignal stop;
  SignalWatcher signals(stop, cfg->shutdown_timeout);
  Exporter exporter(*cfg, stop);
  // `run` waits out a sink or checkpoint store that is down at start (Kafka or Postgres
  // restarting beside it); `once` reports it, for its scheduler to run again.
  if (auto st = exporter.open(!once); !st.is_ok()) {
    if (!once && stop.stop_requested()) {
      spdlog::info("stopped before the export started: {}", st.message());
      return 0;
    }
    // The config was valid (exit 2 is for that): whatever stops the start now (the
    // archive locked by another process, a file changed outside ldexport, a port in
    // use, a destination down) is an export that failed.
    // Its line carries the stream and the sink the exporter names (README "Logs").
    LogScope about(st);
    spdlog::error("cannot start: {}", st.message());
    return kExitFailed;
  }
  spdlog::info("ldexport {} {}: {} stream(s), {} sink(s), from {}", LDEXPORT_VERSION, once ? "once" : "run",
               cfg->streams.size(), cfg->sinks.size(), cfg->launchdarkly.base_url);
  int rc = once ? exporter.run_once() : exporter.run_forever();
  std::cout << exporter.summary() << std::flush;
  if (rc != 0) std::cerr << "ldexport: export failed; see the errors above. Committed work is kept.\n";
  return rc;
}

int validate_command(const std::string& config_path) {
  auto cfg = load_or_report(config_path);
  if (!cfg) return kExitInvalid;
  std::cout << config_path << ": valid (" << cfg->streams.size() << " stream(s), " << cfg->sinks.size()
            << " sink(s), checkpoint " << cfg->checkpoint->type << ")\n";
  return kExitOk;
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

// Reads only: the store is not opened, so this takes no lock (it runs beside a running
// ldexport), needs no token and creates nothing. Exit 1 when a checkpoint cannot be read.
int checkpoints_list(const std::string& config_path) {
  auto cfg = load_config_without_token(config_path);
  if (!cfg) return kExitInvalid;
  auto store = build_store_for_reading(*cfg);
  if (!store.is_ok()) {
    std::cerr << "ldexport checkpoints list: cannot read the checkpoints: " << store.status().message() << "\n";
    return kExitFailed;
  }
  auto streams = list_checkpointed_streams(*cfg, *store.value());
  if (!streams.is_ok()) {
    std::cerr << "ldexport checkpoints list: cannot read the checkpoints: " << streams.status().message() << "\n";
    return kExitFailed;
  }
  if (streams->empty()) std::cout << "no checkpoints yet\n";
  int unreadable = 0;
  for (const auto& s : streams.value()) {
    auto cp = store.value()->load(s);
    if (!cp.is_ok()) {
      std::cout << s << ": unreadable: " << cp.status().message() << "\n";
      ++unreadable;
      continue;
    }
    if (!cp.value()) {
      std::cout << s << ": no checkpoint (removed while listing)\n";
      continue;
    }
    std::cout << s << "\tcommitted_at=" << format_rfc3339_ms(cp.value()->committed_at_ms)
              << "\tcursor=" << cp.value()->source_cursor.dump().substr(0, 200) << "\n";
  }
  if (unreadable > 0) {
    std::cerr << "ldexport checkpoints list: " << unreadable << " checkpoint(s) cannot be read (see above)\n";
    return kExitFailed;
  }
  return kExitOk;
}

// Only a stream ldexport knows is reset: one the config lists, or one with a checkpoint
// in the store (a stream since removed from the config). Anything else, a path above
// all, is a usage error. The store is opened (its writer's lock taken) for the reset.
int checkpoints_reset(const std::string& config_path, const std::string& stream) {
  auto cfg = load_config_without_token(config_path);
  if (!cfg) return kExitInvalid;
  std::set<std::string> configured;
  for (const auto& sc : cfg->streams) configured.insert(sc->stream);
  auto built = build_store_for_reading(*cfg);
  if (!built.is_ok()) {
    std::cerr << "ldexport checkpoints reset: " << built.status().message() << "\n";
    return kExitFailed;
  }
  auto& store = *built.value();
  if (!configured.contains(stream)) {
    auto listed = list_checkpointed_streams(*cfg, store);
    if (!listed.is_ok()) {
      std::cerr << "ldexport checkpoints reset: cannot read the checkpoints: " << listed.status().message() << "\n";
      return kExitFailed;
    }
    std::set<std::string> known = configured;
    known.insert(listed->begin(), listed->end());
    if (!known.contains(stream)) {
      std::cerr << "ldexport checkpoints reset: unknown stream '" << stream << "': it is not in " << config_path
                << " and has no checkpoint; known streams: " << joined(known) << "\n";
      return kExitInvalid;
    }
  }
  if (auto st = store.open(); !st.is_ok()) {
    std::cerr << "ldexport checkpoints reset: " << st.message() << "\n";
    return kExitFailed;
  }
  if (auto st = store.reset(stream); !st.is_ok()) {
    std::cerr << "ldexport checkpoints reset: " << st.message() << "\n";
    return kExitFailed;
  }
  std::cout << "checkpoint of " << stream
            << " removed: the next run exports it again from its configured start, and sinks rewrite "
               "that stream (the file archive starts the stream's files anew)\n";
  return kExitOk;
}

}  // namespace

int cli_main(int argc, char** argv) {
  setup_default_logging();
  CLI::App app{"ldexport: exports LaunchDarkly data (audit log, flags, contexts, ...) to an archive, Kafka and Postgres"};
  app.set_version_flag("--version", std::string("ldexport ") + LDEXPORT_VERSION);
  app.require_subcommand(1);
  std::string config_path = "ldexport.yaml";
  app.add_option("-c,--config", config_path, "config file (YAML)")->capture_default_str();
  auto* run = app.add_subcommand("run", "run as a daemon until SIGTERM or SIGINT");
  auto* once = app.add_subcommand("once", "catch every configured stream up to now, commit, exit");
  auto* validate = app.add_subcommand("validate", "check the config; print every problem with file:line:column");
  auto* cps = app.add_subcommand("checkpoints", "inspect or reset committed cursors");
  cps->require_subcommand(1);
  auto* cps_list = cps->add_subcommand("list", "show every stream's committed checkpoint");
  std::string reset_stream;
  auto* cps_reset = cps->add_subcommand("reset", "forget a stream's checkpoint so it is exported again");
  cps_reset->add_option("STREAM", reset_stream, "stream name, e.g. audit_log")->required();
  std::string verify_archive;
  auto* verify = app.add_subcommand("verify", "check the archive's hash chain; exit 0 only when intact");
  verify->add_option("--archive", verify_archive, "archive directory to verify (instead of the config's file sinks)");
  for (auto* sub : {run, once, validate, cps_list, cps_reset, verify}) {
    sub->add_option("-c,--config", config_path, "config file (YAML)");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitInvalid;
  }
  if (*run) return export_command(config_path, false);
  if (*once) return export_command(config_path, true);
  if (*validate) return validate_command(config_path);
  if (*cps_list) return checkpoints_list(config_path);
  if (*cps_reset) return checkpoints_reset(config_path, reset_stream);
  if (*verify) return verify_command(config_path, verify_archive);
  return kExitInvalid;
}

}  // namespace ldx
