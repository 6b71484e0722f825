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

// The entity families (projects, environments, flags, segments, contexts, members, teams,
// metrics, experiments): sizes of the generated data set and the background mutator.
struct EntityConfig {
  std::int64_t projects = 2;      // keys default, mobile-app, then project-3, ...
  std::int64_t environments = 2;  // per project: production, test, then env-3, ...
  std::int64_t flags = 30;        // per project
  std::int64_t segments = 10;     // per project and environment
  std::int64_t contexts = 200;    // per project and environment
  std::int64_t members = 15;
  std::int64_t teams = 5;
  std::int64_t metrics = 8;       // per project
  std::int64_t experiments = 3;   // per project and environment (beta endpoint)
  // "Now" of the generated data set: every generated date lies before it, so the same
  // seed gives the same data after a restart. Mutations use the wall clock.
  std::int64_t end_ms = 1764000000000;
  // Background mutations: one random mutation per period. Zero means off.
  std::chrono::milliseconds mutate_every{0};
  // contexts/search pages give no body `continuationToken`: the token is only in
  // `_links.next.href` (the form the spec prefers), and a last page has none at all.
  bool contexts_next_link_only = false;
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
  EntityConfig entities;
};

// Parses "500ms", "2s", "1m", "1500" (ms) or "off"/"0". Returns nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

}  // namespace ldsim
