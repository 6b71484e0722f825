// Fault injection for /api/v2 requests: 5xx errors, slow answers, dropped connections
// and truncated bodies, drawn deterministically from the seed (given the same request
// order).
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "rng.h"

namespace ldsim {

enum class FaultKind { kNone, kHttp500, kHttp502, kHttp503, kSlow, kDrop, kTruncate };

// Stable name used in /_sim/stats: "http_500", "slow", "drop", "truncate", ...
const char* fault_name(FaultKind kind);

struct Fault {
  FaultKind kind = FaultKind::kNone;
  std::chrono::milliseconds delay{0};  // kSlow: how long to wait before answering
  double keep_fraction = 0.5;          // kTruncate: part of the body that is sent
};

class FaultInjector {
 public:
  FaultInjector(double rate, std::chrono::milliseconds delay_max, std::uint64_t seed);

  void set_rate(double rate);
  double rate() const;

  // One draw per request: kNone with probability 1 - rate, else one fault, uniformly.
  Fault draw();

 private:
  mutable std::mutex mu_;
  double rate_;
  const std::chrono::milliseconds delay_max_;
  Rng rng_;
};

// Makes the connection that carries `req` end without any response: finds the socket
// by its address pair and shuts it down. Returns false if it could not be found (the
// caller then falls back to an empty, aborted body). Must be called on the thread that
// is handling `req` (the socket stays open until the handler returns).
bool drop_connection(const httplib::Request& req, int server_port);

// Turns a complete response into one that announces the full Content-Length but sends
// only the first `keep_fraction` of the body, then ends the connection.
void truncate_response(httplib::Response& res, double keep_fraction);

}  // namespace ldsim
