// The record envelope (ARCHITECTURE §4, public contract "ldexport.v1") and the batch
// that travels from a Source through every Sink to the CheckpointStore.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ldx {

inline constexpr const char* kSchemaV1 = "ldexport.v1";

enum class Op { kUpsert, kDelete };
const char* op_name(Op op);

struct Record {
  std::string stream;
  std::string id;  // stable and unique within the stream (ARCHITECTURE §4)
  Op op = Op::kUpsert;
  std::string project;       // empty = null
  std::string environment;   // empty = null
  std::string kind;          // empty = null
  std::optional<int64_t> version;
  std::optional<int64_t> occurred_at_ms;
  int64_t observed_at_ms = 0;
  std::string data;  // the LaunchDarkly object as received (minified, secrets redacted), or "null"
  // Additive envelope fields (README "Tamper evidence", "Field-level changes"); each is
  // written only when set, so envelopes without them are unchanged.
  std::string changes;     // audit log with details: JSON array of {path, change, before, after}
  std::string chain_prev;  // hash-chained streams: SHA-256 hex of the stream's previous record
  std::string chain_hash;  // ... and of this record (common/hash_chain.h); set by the pipeline
  // True when `data` is already in canonical form (common/canonical_json.h): members
  // sorted by key. The audit log's normalizer writes it so, and the hash chain then
  // hashes `data` as it is instead of parsing it again.
  bool data_is_canonical = false;

  // The finished envelope, one JSON object without a trailing newline. Built once by
  // the normalizer (finish()) and written unchanged by every sink.
  std::string envelope;
  void finish();
  // After finish() with chain_prev and chain_hash empty, then setting both: appends
  // them to the envelope, giving what finish() would write, without writing it again.
  void finish_chain();

 private:
  void append_chain_members_and_close();
};

// A record the normalizer could not read: kept with its reason and raw bytes.
struct DeadLetter {
  std::string stream;
  std::string reason;
  std::string raw;
  int64_t observed_at_ms = 0;
  [[nodiscard]] std::string to_json() const;
};

struct Batch {
  std::string stream;
  uint64_t sequence = 0;  // per stream, per process run; for logs
  std::vector<Record> records;
  std::vector<DeadLetter> dead_letters;
  // The source cursor that is safe to commit once every record above is durable in
  // every sink. Opaque to everything but the source.
  nlohmann::json cursor;
  uint64_t pages = 0;  // API pages this batch consumed, for progress
  // Hash-chained streams: the chain head after this batch, committed with it (set by
  // the pipeline, common/hash_chain.h).
  nlohmann::json chain_position;
};

}  // namespace ldx
