// Exactly-once bookkeeping of the Kafka sink, kept apart from librdkafka so it can be
// tested on its own.
//
// Every Kafka transaction of a stream is numbered (txn = 1, 2, ...) and writes, in the
// same transaction as the records, one CheckpointRecord to the compacted checkpoint
// topic (key = stream). The sink's position in the pipeline's checkpoint is
// {"txn": M, "records": N}. The pipeline commits its checkpoint only after every sink
// acked, so Kafka can be ahead of it: a crash between the Kafka commit and the
// checkpoint commit makes the source replay batches whose records are already
// committed in Kafka. ReplayGuard recognises those records by (id, digest of op and
// data) and skips them, so a read_committed consumer sees each record once.
#pragma once

#include <nlohmann/json.hpp>

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/record.h"
#include "core/status.h"

namespace ldx {

// One exported record as the guard knows it: its id and a digest of what was sent.
struct ReplayEntry {
  std::string id;
  uint64_t digest = 0;
  auto operator<=>(const ReplayEntry&) const = default;
};
// FNV-1a 64 over op and data: a replay of the same content has the same digest, a
// real change (new data, or a delete) does not.
uint64_t record_digest(const Record& r);

struct CheckpointRecord {
  std::string transactional_id;
  std::string stream;
  uint64_t txn = 0;       // transactions committed for this stream, this one included
  uint64_t records = 0;   // records committed for this stream, this transaction's included
  // Records of the stream that went through the sink (written or skipped), this
  // transaction's batch included; absent in records written by older versions.
  std::optional<uint64_t> seen;
  nlohmann::json cursor;  // the source cursor of the batch this transaction carried
  uint64_t batch_sequence = 0;
  int64_t produced_at_ms = 0;
  std::set<ReplayEntry> written;  // records of this transaction
  // Records of earlier transactions that the pipeline may not have committed yet:
  // a replay after a crash must skip them too.
  std::set<ReplayEntry> pending;

  [[nodiscard]] std::string to_json() const;
  static Result<CheckpointRecord> from_json(std::string_view text);
};

class ReplayGuard {
 public:
  // Restores from the latest committed CheckpointRecord (none: nothing was ever
  // committed) and the position the pipeline committed for this sink (null: none).
  // Returns a warning for the log when the two disagree in an unexpected way.
  std::optional<std::string> restore(const std::optional<CheckpointRecord>& latest,
                                     const nlohmann::json& committed_position);

  struct Plan {
    std::vector<size_t> write;  // indices of the records to produce
    size_t skipped = 0;         // already committed in Kafka by an earlier transaction
  };
  // Not const: a replayed record that matches is marked with the position that covers it.
  [[nodiscard]] Plan plan(const std::vector<Record>& records);
  // A batch went through without a transaction (every record was a replay).
  void passed_without_transaction(size_t records) { seen_ += records; }
  // The checkpoint record of the transaction that will carry `plan`.
  [[nodiscard]] CheckpointRecord next_record(const Plan& plan, const Batch& batch, const std::string& txn_id,
                                             int64_t now_ms) const;
  // The transaction carrying `rec` committed.
  void committed(CheckpointRecord rec);
  // The pipeline made `position` (one this guard returned) durable in its checkpoint:
  // replayed records it covers are no longer expected, and once the replay is surely
  // over, the rest of what restore() found is dropped too. Until then a record equal to
  // one of them (same id, op and data) is skipped; after, such a record is a real change
  // (an entity deleted, created again, deleted again) and is written.
  void pipeline_committed(const nlohmann::json& position);

  [[nodiscard]] nlohmann::json position() const {
    return {{"txn", txn_}, {"records", records_}, {"seen", seen_}};
  }
  [[nodiscard]] uint64_t txn() const { return txn_; }
  [[nodiscard]] size_t pending_size() const { return pending_.size(); }

 private:
  uint64_t txn_ = 0;
  uint64_t records_ = 0;
  uint64_t seen_ = 0;
  // From restore(): committed in Kafka, maybe not in the pipeline. The value is the
  // `seen` of the position that covers the replay that matched it (0: not matched yet).
  std::map<ReplayEntry, uint64_t> pending_;
  // When the pipeline's committed `seen` reaches this, the replay of what Kafka held
  // ahead is over (with as much slack again, for records the source added meanwhile):
  // unmatched entries go too. Unknown for positions from older versions: kept.
  std::optional<uint64_t> pending_until_;
  std::set<ReplayEntry> last_;     // the last transaction this process committed
};

}  // namespace ldx
