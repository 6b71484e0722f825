// The hash chain of a stream's records (README "Tamper evidence: the hash chain").
//
// Each record of a chained stream carries `prev_hash` (the `hash` of the stream's
// previous record; 64 zeros for the first) and `hash` = SHA-256 (lowercase hex) of the
// canonical form (common/canonical_json.h) of its envelope without `observed_at` and
// `hash`. `observed_at` is left out because a record fetched again after a crash gets a
// new one: the same entry after the same predecessor must hash the same in every sink
// (Postgres keeps the first copy of a replayed record, the archive the second).
//
// The pipeline chains records just before delivery, starting from the head committed
// with the stream's checkpoint (Checkpoint::sink_positions["_chain"] = {"head": hex};
// names starting with "_" are reserved, so no sink can collide with it). A replay after
// a crash therefore starts from the same head and reproduces the same hashes.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "core/record.h"
#include "core/status.h"

namespace ldx {

inline constexpr std::string_view kChainGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";
inline constexpr const char* kChainPositionKey = "_chain";

// Streams whose records are chained. Only the audit log (the change history compliance
// keeps) needs it; the mechanism is per stream, so others can join this list.
bool stream_is_chained(std::string_view stream);

std::string sha256_hex(std::string_view data);
bool is_sha256_hex(std::string_view s);

// What one archive line says about the chain, and the hash recomputed from its content.
struct ChainedLine {
  std::string id;
  std::string prev_hash;    // as stored ("" when absent)
  std::string hash;         // as stored ("" when absent)
  std::string observed_at;  // as stored ("" when absent)
  std::string computed;     // SHA-256 of the canonical form
};

// Parses one envelope (one archive line, without its newline) in a single pass.
// `scratch` is reused between calls to avoid allocations. False (with the reason) when
// the line is not valid JSON or repeats a key.
bool read_chained_line(std::string_view envelope, ChainedLine& out, std::string& scratch, std::string* error);

// The hash a record's envelope must carry.
Result<std::string> record_hash(std::string_view envelope);

// The same hash computed from the record's fields (with chain_prev set, chain_hash
// ignored) instead of its finished envelope: only `changes` is parsed, and `data` too
// unless the normalizer wrote it in canonical form (data_is_canonical).
// Equal to record_hash(r.envelope) for the envelope r.finish() writes.
Result<std::string> record_hash(const Record& r);

// Chains `batch.records` (for chained streams; others are left alone) from the head in
// `sink_positions[kChainPositionKey]` (the genesis when absent), re-finishing each
// envelope with `prev_hash` and `hash`, and stores the new head there.
Status apply_hash_chain(Batch& batch, nlohmann::json& sink_positions);

}  // namespace ldx
