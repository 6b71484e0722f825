#include "sinks/kafka/kafka_replay_guard.h"

#include <fmt/format.h>

#include <cstdlib>

namespace ldx {

namespace {
constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

nlohmann::json entries_to_json(const std::set<ReplayEntry>& entries) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : entries) out.push_back({e.id, fmt::format("{:016x}", e.digest)});
  return out;
}

std::set<ReplayEntry> entries_from_json(const nlohmann::json& j) {
  std::set<ReplayEntry> out;
  for (const auto& pair : j) {
    const std::string hex = pair.at(1).get<std::string>();
    char* end = nullptr;
    const uint64_t digest = std::strtoull(hex.c_str(), &end, 16);
    if (hex.empty() || end == nullptr || *end != '\0') throw std::invalid_argument("bad digest '" + hex + "'");
    out.insert({pair.at(0).get<std::string>(), digest});
  }
  return out;
}
}  // namespace

uint64_t record_digest(const Record& r) {
  uint64_t h = fnv1a(kFnvOffset, op_name(r.op));
  h = fnv1a(h, "\n");
  return fnv1a(h, r.data);
}

std::string CheckpointRecord::to_json() const {
  nlohmann::json j{{"v", 1},
                   {"transactional_id", transactional_id},
                   {"stream", stream},
                   {"txn", txn},
                   {"records", records},
                   {"cursor", cursor},
                   {"batch_sequence", batch_sequence},
                   {"produced_at_ms", produced_at_ms},
                   {"written", entries_to_json(written)},
                   {"pending", entries_to_json(pending)}};
  if (seen) j["seen"] = *seen;
  return j.dump();
}

Result<CheckpointRecord> CheckpointRecord::from_json(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_object() || j.value("v", 0) != 1) {
      return Status::fatal("unknown checkpoint record version (this ldexport reads version 1)");
    }
    CheckpointRecord r;
    r.transactional_id = j.at("transactional_id").get<std::string>();
    r.stream = j.at("stream").get<std::string>();
    r.txn = j.at("txn").get<uint64_t>();
    r.records = j.at("records").get<uint64_t>();
    r.cursor = j.at("cursor");
    r.batch_sequence = j.value("batch_sequence", uint64_t{0});
    r.produced_at_ms = j.value("produced_at_ms", int64_t{0});
    r.written = entries_from_json(j.at("written"));
    r.pending = entries_from_json(j.at("pending"));
    if (auto it = j.find("seen"); it != j.end()) r.seen = it->get<uint64_t>();
    return r;
  } catch (const std::exception& e) {
    return Status::fatal(std::string("checkpoint record is malformed: ") + e.what());
  }
}

std::optional<std::string> ReplayGuard::restore(const std::optional<CheckpointRecord>& latest,
                                                const nlohmann::json& committed_position) {
  uint64_t acked_txn = 0;
  uint64_t acked_records = 0;
  std::optional<uint64_t> acked_seen;
  if (committed_position.is_object()) {
    acked_txn = committed_position.value("txn", uint64_t{0});
    acked_records = committed_position.value("records", uint64_t{0});
    if (auto it = committed_position.find("seen"); it != committed_position.end() && it->is_number_unsigned()) {
      acked_seen = it->get<uint64_t>();
    }
  }
  pending_.clear();
  pending_until_.reset();
  last_.clear();
  seen_ = acked_seen.value_or(0);
  if (!latest || latest->txn < acked_txn) {
    txn_ = acked_txn;
    records_ = acked_records;
    if (acked_txn == 0) return std::nullopt;
    return fmt::format(
        "the checkpoint topic {} transaction {} but the pipeline committed transaction {}: the topic was "
        "deleted or this is another cluster; continuing without replay protection for the last batch",
        latest ? "holds" : "holds no record for this stream, not even", latest ? latest->txn : 0, acked_txn);
  }
  txn_ = latest->txn;
  records_ = latest->records;
  if (latest->txn > acked_txn) {
    // Kafka committed transactions the pipeline did not: their records come again.
    for (const auto& e : latest->pending) pending_.emplace(e, 0);
    for (const auto& e : latest->written) pending_.emplace(e, 0);
    if (latest->seen && acked_seen && *latest->seen >= *acked_seen) {
      pending_until_ = *latest->seen + (*latest->seen - *acked_seen);
    }
  }
  return std::nullopt;
}

ReplayGuard::Plan ReplayGuard::plan(const std::vector<Record>& records) {
  Plan p;
  p.write.reserve(records.size());
  const uint64_t covered_at = seen_ + records.size();  // the position after this batch
  for (size_t i = 0; i < records.size(); ++i) {
    if (!pending_.empty() || !last_.empty()) {
      ReplayEntry e{records[i].id, record_digest(records[i])};
      auto it = pending_.find(e);
      if (it != pending_.end()) {
        if (it->second == 0) it->second = covered_at;
        ++p.skipped;
        continue;
      }
      if (last_.count(e)) {
        ++p.skipped;
        continue;
      }
    }
    p.write.push_back(i);
  }
  return p;
}

void ReplayGuard::pipeline_committed(const nlohmann::json& position) {
  if (pending_.empty() || !position.is_object()) return;
  auto it = position.find("seen");
  if (it == position.end() || !it->is_number_unsigned()) return;
  const uint64_t durable = it->get<uint64_t>();
  if (pending_until_ && durable >= *pending_until_) {
    pending_.clear();
    pending_until_.reset();
    return;
  }
  std::erase_if(pending_, [&](const auto& kv) { return kv.second != 0 && kv.second <= durable; });
}

CheckpointRecord ReplayGuard::next_record(const Plan& plan, const Batch& batch, const std::string& txn_id,
                                          int64_t now_ms) const {
  CheckpointRecord r;
  r.transactional_id = txn_id;
  r.stream = batch.stream;
  r.txn = txn_ + 1;
  r.records = records_ + plan.write.size();
  r.seen = seen_ + batch.records.size();
  r.cursor = batch.cursor;
  r.batch_sequence = batch.sequence;
  r.produced_at_ms = now_ms;
  for (size_t i : plan.write) r.written.insert({batch.records[i].id, record_digest(batch.records[i])});
  // The previous transaction may still be uncommitted in the pipeline (the process can
  // die before the pipeline's checkpoint commit), and so may what restore() found.
  for (const auto& [e, covered] : pending_) r.pending.insert(e);
  r.pending.insert(last_.begin(), last_.end());
  return r;
}

void ReplayGuard::committed(CheckpointRecord rec) {
  txn_ = rec.txn;
  records_ = rec.records;
  if (rec.seen) seen_ = *rec.seen;
  last_ = std::move(rec.written);
}

}  // namespace ldx
