// The operations listener (http.listen, default 0.0.0.0:9464): /metrics (Prometheus
// text format), /healthz (the process is alive) and /readyz (config loaded, every sink
// healthy, no stream in a fatal state). Runs on its own thread; every handler only
// reads atomics and snapshots, never blocks the pipeline.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"

namespace httplib {
class Server;
}

namespace ldx {

class StatusServer {
 public:
  struct Handlers {
    std::function<std::string()> metrics;
    // Returns ok when ready, else the reason (shown in the /readyz body).
    std::function<Status()> ready;
  };
  StatusServer(std::string listen, Handlers handlers);
  ~StatusServer();
  // Binds (port 0 picks a free port) and starts serving; returns the bound port once
  // the listener thread accepts connections.
  Result<int> start();
  // Safe at any moment after start(), even at once: returns when the listener has ended.
  void stop();

 private:
  std::string listen_;
  Handlers handlers_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listener_done_{false};  // the listener thread has returned
  void wait_until_listening();
};

}  // namespace ldx
