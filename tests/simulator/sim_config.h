// Configuration of the simulator, filled from the command line by main.cpp.
//
// Common settings (port, auth, rate limits, faults) live in SimConfig itself; each
// endpoint family has its own struct (AuditLogConfig, ...) so that adding a family
// means adding one struct and its flags, not touching the others.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ldsim {

struct AuditLogConfig {
  // Size of the deterministic data set generated at start-up.
  std::int64_t entries = 1000;
  // Date (epoch ms) of the newest generated entry; older ones go backwards from it.
  std::int64_t end_ms = 1764000000000;
  // Background appends: one batch (1 entry, sometimes 2-3 sharing a ms) per period.
  // Zero means off.
  std::chrono::milliseconds append_every{0};
  // Fraction of appended entries dated 1-20 s in the past ("late" entries).
  double late_rate = 0.0;
};

struct SimConfig {
  int port = 0;                 // 0 = pick a free port
  std::string token;            // expected raw value of the Authorization header
  std::uint64_t seed = 1;
  std::int64_t rate_limit = 0;  // requests per 10 s window, global and per route; 0 = unlimited
  double fault_rate = 0.0;      // probability of a fault per /api/v2 request
  std::chrono::milliseconds fault_delay_max{1500};
  std::size_t threads = 32;     // HTTP worker threads

  AuditLogConfig audit_log;
  // Later families (projects, environments, flags, segments, contexts, members, teams,
  // metrics) add their own config struct here.
};

// Parses "500ms", "2s", "1m", "1500" (ms) or "off"/"0". Returns nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

}  // namespace ldsim
