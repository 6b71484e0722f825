// The archive's chain manifest, <path>/_chain/<stream>.jsonl (README "Retention and
// pruning"): where a stream's hash chain continues when its oldest files are gone.
//
// One event per line, each itself chained ("prev" = the previous line's "hash", 64
// zeros for the first; "hash" = SHA-256 of the line's canonical form without "hash"):
//   {"event":"start", "file":1, "prev_hash":H, ...}
//       the archive began in the middle of the stream's chain (the sink was added after
//       the stream was already being exported): its first record's prev_hash is H.
//   {"event":"prune", "first_file":A, "last_file":B, "records":N,
//    "first_prev_hash":P, "last_hash":H, "newest_observed_at":T, "retention":R, ...}
//       files A..B (N records, verified intact before removal) were removed by
//       retention; the first record of file B+1 carries prev_hash H.
// The file is small and replaced atomically (temp, fsync, rename), so it is never torn.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/hash_chain.h"
#include "core/status.h"

namespace ldx {

std::filesystem::path chain_manifest_path(const std::filesystem::path& archive_root, const std::string& stream);

// Where the stream's kept archive begins, as the manifest says.
struct ChainAnchor {
  uint64_t first_file = 1;                      // the oldest file the archive must hold
  std::string first_prev{kChainGenesis};        // prev_hash of that file's first record
  uint64_t pruned_records = 0;
  uint64_t pruned_files = 0;
  uint64_t events = 0;
  std::string last_event_hash{kChainGenesis};
};

// Reads and checks the manifest (its own chain and the order of its events). A missing
// manifest is the default anchor (file 1, genesis). A DataError names the line at fault.
Result<ChainAnchor> read_chain_manifest(const std::filesystem::path& path);

// Adds "schema", "prev" and "hash" to `event`, checks it against `anchor`, rewrites the
// manifest atomically with the event appended, and advances `anchor`.
Status append_chain_manifest_event(const std::filesystem::path& path, nlohmann::json event, ChainAnchor& anchor);

}  // namespace ldx
